//! The deploy and ddns areas through the CLI, on copies of the example:
//! `hosts/deploy.nix` follows the inventory with nothing new asked,
//! overrides are validated with located errors that change nothing, and the
//! dynamic DNS token must be set as a secret before render.

use std::path::Path;

use predicates::prelude::*;

mod support;
use support::{example, hearth, repo_root};

fn read(dir: &Path, p: &str) -> String {
    std::fs::read_to_string(dir.join(p)).unwrap()
}

#[test]
fn committed_deploy_nix_is_what_render_writes() {
    let t = example();
    std::fs::remove_file(t.path().join("hosts/deploy.nix")).unwrap();
    hearth(t.path()).arg("render").assert().success().stdout(predicate::str::contains("wrote hosts/deploy.nix"));
    assert_eq!(read(t.path(), "hosts/deploy.nix"), read(&repo_root(), "hosts/deploy.nix"));
}

#[test]
fn host_add_asks_nothing_new_and_the_host_is_deployed_through_the_bastion() {
    let t = example();
    hearth(t.path()).args(["host", "add", "nas02", "--address", "10.69.13.41"]).assert().success();
    hearth(t.path()).arg("render").assert().success();
    let d = read(t.path(), "hosts/deploy.nix");
    let want = "    nas02 = {\n      hostname = \"10.69.13.41\";\n      sshUser = \"root\";\n      port = 22;\n      jumpHost = \"extgw01\";\n      magicRollback = false;\n      tags = [ \"lan\" \"via-bastion\" ];\n    };\n";
    assert!(d.contains(want), "{d}");
}

#[test]
fn override_changes_the_target_and_jump() {
    let t = example();
    let mut inv = read(t.path(), "inventory.toml");
    inv.push_str("\n[deploy.hosts.jelly01]\ntarget_host = \"jelly01.home.2rjus.net\"\nvia_bastion = false\nmagic_rollback = true\ntags = [\"media\"]\n");
    std::fs::write(t.path().join("inventory.toml"), inv).unwrap();
    hearth(t.path()).arg("render").assert().success();
    let d = read(t.path(), "hosts/deploy.nix");
    let want = "    jelly01 = {\n      hostname = \"jelly01.home.2rjus.net\";\n      sshUser = \"root\";\n      port = 22;\n      jumpHost = null;\n      magicRollback = true;\n      tags = [ \"lan\" \"media\" ];\n    };\n";
    assert!(d.contains(want), "{d}");
}

#[test]
fn bad_deploy_overrides_are_located_and_change_nothing() {
    let t = example();
    let mut inv = read(t.path(), "inventory.toml");
    inv.push_str("\n[deploy.hosts.jelly01]\ntarget_host = \"-oProxyCommand=reboot\"\n\n[deploy.hosts.gone]\nskip = true\n");
    std::fs::write(t.path().join("inventory.toml"), &inv).unwrap();
    let before = read(t.path(), "hosts/deploy.nix");
    let lines: Vec<&str> = inv.lines().collect();
    let line_of = |needle: &str| lines.iter().position(|l| l.starts_with(needle)).unwrap() + 1;
    hearth(t.path())
        .arg("render")
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "inventory.toml:{}:1: deploy.hosts.jelly01.target_host: `-oProxyCommand=reboot` is not a hostname or IP address",
            line_of("target_host")
        )))
        .stderr(predicate::str::contains("hint: give the host's DNS name or IP address"))
        .stderr(predicate::str::contains("deploy.hosts.gone: `gone` is not a host"));
    assert_eq!(read(t.path(), "hosts/deploy.nix"), before);
}

#[test]
fn ddns_token_must_be_set_before_render_and_then_is_declared_on_the_gateway() {
    let t = example();
    // The example without its token: render names the command that sets it.
    let inv = read(t.path(), "inventory.toml").replace("secrets = [\"ddns-token\"]\n", "");
    std::fs::write(t.path().join("inventory.toml"), inv).unwrap();
    std::fs::remove_file(t.path().join("secrets/extgw01/ddns-token.age")).unwrap();
    let before = read(t.path(), "hosts/extgw01/hearth.nix");
    hearth(t.path())
        .arg("render")
        .assert()
        .failure()
        .stderr(predicate::str::contains("secrets/extgw01/ddns-token.age: missing; set it with `hearth secret set ddns-token --host extgw01`"));
    assert_eq!(read(t.path(), "hosts/extgw01/hearth.nix"), before);
    hearth(t.path()).args(["secret", "set", "ddns-token", "--host", "extgw01"]).write_stdin("TEST-ONLY-token").assert().success();
    hearth(t.path()).arg("render").assert().success();
    let h = read(t.path(), "hosts/extgw01/hearth.nix");
    assert!(h.contains("    ddns-token = {\n      file = ../../secrets/extgw01/ddns-token.age;") && h.contains("passwordSecret = \"ddns-token\";"), "{h}");
    assert!(!h.contains("TEST-ONLY-token"));
    hearth(t.path()).args(["secret", "show", "ddns-token", "--host", "extgw01"]).assert().success().stdout("TEST-ONLY-token");
}

#[test]
fn bad_ddns_settings_are_located() {
    let t = example();
    let inv = read(t.path(), "inventory.toml")
        .replace("interval = \"5min\"", "interval = \"often\"")
        .replace("records = [\"homelab.2rjus.net\"]", "records = [\"homelab.2rjus.net,evil.example\"]");
    std::fs::write(t.path().join("inventory.toml"), inv).unwrap();
    hearth(t.path())
        .arg("check")
        .assert()
        .failure()
        .stderr(predicate::str::contains("ddns.records.0: `homelab.2rjus.net,evil.example` is not a DNS name"))
        .stderr(predicate::str::contains("ddns.interval: `often` is not a time span"));
}
