//! CLI behaviour on copies of the example repository: render, check, edits,
//! validation errors, locking, and interop with `wg`.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

mod support;
use support::{admin_identity, example, hearth, repo_root};

/// Every file below `dir` with its bytes and mtime.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                // ~/.cache (HOME is the test directory): see support::repo_files.
                if p != dir.join(".cache") {
                    stack.push(p);
                }
            } else if !p.file_name().unwrap().to_string_lossy().ends_with(".lock") {
                let m = std::fs::metadata(&p).unwrap().modified().unwrap();
                v.push((p.clone(), std::fs::read(&p).unwrap(), m));
            }
        }
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn render_of_the_example_writes_nothing_and_check_passes() {
    let t = example();
    let before = snapshot(t.path());
    hearth(t.path()).arg("render").assert().success().stdout(predicate::str::contains("nothing to do"));
    assert_eq!(before, snapshot(t.path()), "a no-change render must not rewrite any file (bytes and mtimes)");
    hearth(t.path()).args(["render", "--check"]).assert().success();
    hearth(t.path()).arg("check").assert().success().stdout(predicate::str::contains("6 ACL test(s)"));
}

#[test]
fn render_check_names_stale_and_missing_files_and_writes_nothing() {
    let t = example();
    std::fs::write(t.path().join("hosts/vps/hearth.nix"), "{ }\n").unwrap();
    std::fs::remove_file(t.path().join("hosts/jelly01/hearth.nix")).unwrap();
    let before = snapshot(t.path());
    hearth(t.path())
        .args(["render", "--check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("hosts/vps/hearth.nix: stale").and(predicate::str::contains("hosts/jelly01/hearth.nix: missing")));
    assert_eq!(before, snapshot(t.path()));
    hearth(t.path()).arg("render").assert().success();
    hearth(t.path()).args(["render", "--check"]).assert().success();
}

#[test]
fn invalid_inventory_reports_every_problem_with_position_and_writes_nothing() {
    let t = example();
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    let bad = inv
        .replace("address = \"10.69.13.12\"", "address = \"10.69.14.12\"")
        .replace("host = \"sonarr-jail\"", "host = \"sonar-jail\"")
        .replace("allow = [\"admins\"]\nweb = true\nauth = \"forward\"\n\n[services.radarr]", "allow = [\"admns\"]\nweb = true\nauth = \"forward\"\n\n[services.radarr]");
    std::fs::write(t.path().join("inventory.toml"), &bad).unwrap();
    let before = snapshot(t.path());
    let out = hearth(t.path()).arg("render").assert().code(2).get_output().stderr.clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("inventory.toml:") && err.contains("hosts.jelly01.address: 10.69.14.12 is not a usable address of the LAN 10.69.13.0/24"), "{err}");
    assert!(err.contains("services.sonarr.host: unknown host `sonar-jail`") && err.contains("hint: known hosts:"), "{err}");
    assert!(err.contains("services.sonarr.allow.0: `admns` is neither a group nor a peer"), "{err}");
    assert!(err.contains("3 problem(s)"), "{err}");
    // The jelly01 error points at its line.
    let line = bad.lines().position(|l| l.contains("10.69.14.12")).unwrap() + 1;
    assert!(err.contains(&format!("inventory.toml:{line}:1: hosts.jelly01.address")), "{err}");
    assert_eq!(before, snapshot(t.path()), "an invalid inventory must change nothing");
}

#[test]
fn truncated_inventory_is_a_clear_parse_error() {
    let t = example();
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    std::fs::write(t.path().join("inventory.toml"), &inv[..inv.find("[hosts.extgw01]").unwrap() + 9]).unwrap();
    hearth(t.path()).arg("check").assert().code(1).stderr(predicate::str::starts_with("error: inventory.toml:").and(predicate::str::contains("panicked").not()));
}

#[test]
fn exit_status_tells_a_failed_check_from_an_error() {
    let t = example();
    // 1: the check ran and failed (an ACL expectation the policy breaks).
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    let broken = inv.replacen("[[acl_tests]]\n", "[[acl_tests]]\nsrc = \"phone\"\naccept = [\"10.69.13.40:22\"]\n\n[[acl_tests]]\n", 1);
    assert_ne!(broken, inv);
    std::fs::write(t.path().join("inventory.toml"), broken).unwrap();
    hearth(t.path()).arg("check").assert().code(1);
    // 2: it could not run (no inventory there).
    hearth(t.path()).args(["check", "--inventory", "missing.toml"]).assert().code(2).stderr(predicate::str::contains("cannot read missing.toml"));
    // 2: bad arguments; and --help says which is which.
    hearth(t.path()).args(["peer", "add"]).assert().code(2);
    hearth(t.path()).arg("--help").assert().success().stdout(predicate::str::contains("Exit status:").and(predicate::str::contains("2  an error")));
}

#[test]
fn peer_add_allocates_keys_keeps_comments_and_never_renumbers() {
    let t = example();
    let inv_before = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    hearth(t.path())
        .args(["peer", "add", "tablet", "--kind", "phone", "--group", "mobile"])
        .assert()
        .success()
        .stdout(predicate::str::contains("allocated 10.69.222.7 to peer `tablet`").and(predicate::str::contains("generated the WireGuard key of `tablet`")));
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    // Every line of the old file is still there, comments included.
    for l in inv_before.lines() {
        assert!(inv.contains(l), "line lost: {l}");
    }
    assert!(inv.contains("[peers.tablet]"));
    assert!(t.path().join("secrets/peers/tablet/wireguard-key.age").is_file());
    assert!(t.path().join("secrets/vps/psk-tablet.age").is_file());
    hearth(t.path()).arg("render").assert().success().stdout(predicate::str::contains("wrote hosts/vps/hearth.nix"));
    let vps = std::fs::read_to_string(t.path().join("hosts/vps/hearth.nix")).unwrap();
    assert!(vps.contains("\"10.69.222.7/32\""));
    let gw = std::fs::read_to_string(t.path().join("hosts/extgw01/hearth.nix")).unwrap();
    assert!(gw.contains("mobile = [ \"10.69.222.6\" \"10.69.222.7\" ];"), "{gw}");
}

#[test]
fn removed_peer_address_is_retired_until_reuse_is_asked_for() {
    let t = example();
    hearth(t.path()).args(["peer", "add", "tablet", "--group", "mobile"]).assert().success().stdout(predicate::str::contains("allocated 10.69.222.7"));
    hearth(t.path()).args(["peer", "remove", "tablet"]).assert().success().stdout(predicate::str::contains("retired its address 10.69.222.7"));
    assert!(!t.path().join("secrets/peers/tablet/wireguard-key.age").exists());
    assert!(!t.path().join("secrets/vps/psk-tablet.age").exists());
    hearth(t.path()).args(["peer", "add", "tablet2", "--group", "mobile"]).assert().success().stdout(predicate::str::contains("allocated 10.69.222.8"));
    hearth(t.path()).args(["peer", "add", "tablet3", "--group", "mobile", "--reuse-address"]).assert().success().stdout(predicate::str::contains("allocated 10.69.222.7"));
    // A peer that policy tests name cannot silently disappear.
    hearth(t.path())
        .args(["peer", "remove", "phone"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("peer `phone` is still named in 3 place(s)").and(predicate::str::contains("hearth acl-test remove 0")));
}

#[test]
fn edit_that_breaks_an_acl_test_is_refused_unless_forced() {
    let t = example();
    let before = snapshot(t.path());
    hearth(t.path()).args(["deny", "jellyfin", "mobile"]).assert().code(2).stderr(
        predicate::str::contains("makes 1 ACL test(s) fail").and(predicate::str::contains("phone -> jellyfin (10.69.13.12:8096/tcp) should be accepted, but no rule allows it")),
    );
    assert_eq!(before, snapshot(t.path()));
    hearth(t.path()).args(["deny", "jellyfin", "mobile", "--force"]).assert().success();
    hearth(t.path()).arg("check").assert().code(1).stdout(predicate::str::contains("acl_tests[0] (src = \"phone\")"));
}

#[test]
fn check_names_the_rule_that_accepts_a_denied_target() {
    let t = example();
    hearth(t.path()).args(["allow", "sonarr", "mobile", "--force"]).assert().success();
    hearth(t.path())
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("phone -> sonarr (10.69.13.13:8989/tcp) should be denied, but rule `sonarr` (from admins, mobile) accepts it"));
}

#[test]
fn service_add_with_range_and_list_round_trips() {
    let t = example();
    hearth(t.path()).args(["service", "add", "games", "--host", "jelly01", "--port", "27015-27030,27036", "--proto", "both", "--allow", "laptop"]).assert().success();
    let out = hearth(t.path()).args(["service", "list", "--json"]).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let games = v.as_array().unwrap().iter().find(|s| s["name"] == "games").unwrap();
    assert_eq!(games["port"], "27015-27030,27036");
    assert_eq!(games["proto"], "both");
    hearth(t.path())
        .args(["service", "add", "clash", "--host", "jelly01", "--port", "27020", "--allow", "laptop"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tcp port 27015-27030 on `jelly01` is also used by service `clash`"));
}

#[test]
fn concurrent_host_adds_both_land() {
    let t = example();
    let bin = assert_cmd::cargo::cargo_bin("hearth");
    let spawn = |name: &str, addr: &str| StdCommand::new(&bin).current_dir(t.path()).env("HOME", t.path()).args(["host", "add", name, "--address", addr]).spawn().unwrap();
    let mut kids: Vec<_> = (0..6).map(|i| spawn(&format!("lan{i}"), &format!("10.69.13.{}", 100 + i))).collect();
    for k in &mut kids {
        assert!(k.wait().unwrap().success());
    }
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    for i in 0..6 {
        assert!(inv.contains(&format!("[hosts.lan{i}]")), "lan{i} lost");
    }
    hearth(t.path()).arg("check").assert().success();
}

#[test]
fn host_add_rejects_bad_names_and_duplicates() {
    let t = example();
    hearth(t.path()).args(["host", "add", "Bad_Name"]).assert().code(2).stderr(predicate::str::contains("not a DNS label"));
    hearth(t.path()).args(["host", "add", "vps"]).assert().code(2).stderr(predicate::str::contains("already exists"));
    hearth(t.path()).args(["host", "add", "x", "--role", "hub"]).assert().code(2).stderr(predicate::str::contains("wireguard-hub"));
}

#[test]
fn host_list_json_lists_every_host() {
    let t = example();
    let out = hearth(t.path()).args(["host", "list", "--json"]).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["desk01", "extgw01", "http-proxy", "jelly01", "monitoring01", "nas01", "ns1", "ns2", "nzbget-jail", "radarr-jail", "sonarr-jail", "vps"]);
}

#[test]
fn committed_schema_is_current() {
    let committed = std::fs::read_to_string(repo_root().join("inventory.schema.json")).unwrap();
    let out = Command::cargo_bin("hearth").unwrap().arg("schema").assert().success().get_output().stdout.clone();
    assert_eq!(String::from_utf8(out).unwrap().trim_end(), committed.trim_end(), "run `hearth schema > inventory.schema.json`");
}

/// A tool the test needs; `checks/run` installs its package. Missing, the
/// test fails saying so: a test that could not run is not a pass.
fn require(tool: &str, package: &str) {
    let ok = StdCommand::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "{tool} is not installed: apt-get install {package} (checks/run installs it)");
}

#[test]
fn peer_private_key_is_byte_compatible_with_wg_pubkey() {
    require("wg", "wireguard-tools");
    let t = example();
    for peer in ["phone", "laptop"] {
        let key = hearth(t.path()).args(["secret", "show", "wireguard-key", "--peer", peer]).assert().success().get_output().stdout.clone();
        let mut wg = StdCommand::new("wg").arg("pubkey").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
        use std::io::Write;
        wg.stdin.take().unwrap().write_all(&key).unwrap();
        let out = wg.wait_with_output().unwrap();
        let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
        let pubkey = String::from_utf8(out.stdout).unwrap();
        assert!(inv.contains(&format!("public_key = \"{}\"", pubkey.trim())), "wg pubkey of {peer}'s key is not in the inventory");
    }
}

#[test]
fn peer_config_is_a_valid_wg_quick_file_for_wg() {
    require("wg-quick", "wireguard-tools");
    let t = example();
    for peer in ["phone", "laptop"] {
        let out = t.path().join(format!("{peer}.conf"));
        hearth(t.path()).args(["peer", "config", peer, "--output"]).arg(&out).assert().success();
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        // `wg-quick strip` parses the file the way wg-quick up does and
        // prints what `wg setconf` gets.
        let strip = StdCommand::new("wg-quick").arg("strip").arg(&out).output().unwrap();
        assert!(strip.status.success(), "{}", String::from_utf8_lossy(&strip.stderr));
        let s = String::from_utf8(strip.stdout).unwrap();
        assert!(s.contains("PrivateKey = ") && s.contains("PresharedKey = ") && s.contains("Endpoint = docker2.t-juice.club:51821"), "{s}");
        assert!(s.contains("AllowedIPs = 10.69.222.0/24, 10.69.13.0/24"), "{s}");
    }
    let phone = hearth(t.path()).args(["peer", "config", "phone"]).assert().success().get_output().stdout.clone();
    // The example has `[ingress] resolver = "gateway"`: extgw01's VPN address
    // (its unbound forwards other names to network.resolvers).
    assert!(String::from_utf8(phone).unwrap().contains("DNS = 10.69.222.3, home.2rjus.net"));
    let laptop = hearth(t.path()).args(["peer", "config", "laptop"]).assert().success().get_output().stdout.clone();
    assert!(String::from_utf8(laptop).unwrap().contains("resolvectl dns %i 10.69.222.3; resolvectl domain %i ~home.2rjus.net\n"));
}

#[test]
fn peer_config_qr_png_is_an_image() {
    let t = example();
    let out = t.path().join("phone.png");
    hearth(t.path()).args(["peer", "config", "phone", "--output"]).arg(&out).assert().success();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn peer_config_without_identity_fails_naming_the_file() {
    let t = example();
    let mut c = Command::cargo_bin("hearth").unwrap();
    c.current_dir(t.path()).env("HOME", t.path()).env_remove("HEARTH_IDENTITY");
    c.args(["peer", "config", "phone"]).assert().code(2).stderr(predicate::str::contains("id_ed25519"));
}

#[test]
fn preview_prints_the_gateway_ruleset_through_nix() {
    require("nix-instantiate", "nix-bin");
    let t = example();
    hearth(t.path())
        .args(["preview", "extgw01", "nftables"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("table inet hearth {").and(predicate::str::contains("10.69.13.12 . tcp . 8096")));
    hearth(t.path()).args(["preview", "vps", "nftables"]).assert().code(2).stderr(predicate::str::contains("needs the wireguard-gateway role"));
}

/// A web service behind auth gets no element in the gateway's ruleset (by
/// name through the ingress only); jellyfin (no auth) keeps its own, and
/// taking grafana's `auth` away brings its flow back.
#[test]
fn a_web_service_behind_auth_gets_no_flow_in_the_gateway_ruleset() {
    require("nix-instantiate", "nix-bin");
    let t = example();
    let ruleset = |t: &TempDir| String::from_utf8(hearth(t.path()).args(["preview", "extgw01", "nftables"]).assert().success().get_output().stdout.clone()).unwrap();
    let r = ruleset(&t);
    assert!(r.contains("10.69.13.12 . tcp . 8096"), "{r}");
    for (addr, port) in [("10.69.13.11", 3000), ("10.69.13.13", 8989), ("10.69.13.14", 7878), ("10.69.13.15", 6789)] {
        assert!(!r.contains(&format!("{addr} . tcp . {port}")), "{addr}:{port} is behind auth: {r}");
    }
    let p = t.path().join("inventory.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    let grafana = "web = true\nauth = \"forward\"\n";
    assert!(text.contains(grafana));
    std::fs::write(&p, text.replacen(grafana, "web = true\n", 1)).unwrap();
    hearth(t.path()).arg("render").assert().success();
    assert!(ruleset(&t).contains("10.69.13.11 . tcp . 3000"), "no auth: the direct flow is back");
}

#[test]
fn init_creates_a_valid_repository_and_refuses_to_overwrite() {
    let t = TempDir::new().unwrap();
    let admin = std::fs::read_to_string(repo_root().join("test-keys/admin-TEST-ONLY.agekey.pub")).unwrap();
    hearth(t.path()).args(["init", "--domain", "lab.example.org", "--admin", admin.trim()]).assert().success();
    for f in ["inventory.toml", "flake.nix", "inventory.schema.json", "hosts", "secrets"] {
        assert!(t.path().join(f).exists(), "{f} missing");
    }
    hearth(t.path()).arg("check").assert().success();
    hearth(t.path())
        .args([
            "host",
            "add",
            "gw",
            "--role",
            "wireguard-gateway",
            "--address",
            "192.168.1.2",
            "--endpoint",
            "home.example.org:51820",
            "--ssh-key",
            &std::fs::read_to_string(repo_root().join("test-keys/hosts/extgw01_ed25519_TEST_ONLY.pub")).unwrap(),
        ])
        .assert()
        .success();
    hearth(t.path()).args(["peer", "add", "phone"]).assert().success();
    hearth(t.path()).arg("render").assert().success();
    hearth(t.path()).args(["render", "--check"]).assert().success();
    // Without a hub, the phone dials the gateway directly.
    let conf = hearth(t.path()).args(["peer", "config", "phone"]).assert().success().get_output().stdout.clone();
    assert!(String::from_utf8(conf).unwrap().contains("Endpoint = home.example.org:51820"));
    hearth(t.path()).arg("init").assert().code(2).stderr(predicate::str::contains("never overwrites"));
}

#[test]
fn ssh_config_reaches_lan_hosts_through_the_bastion() {
    let t = example();
    hearth(t.path()).args(["ssh-config", "--user", "torjus"]).assert().success().stdout(
        predicate::str::contains("Host extgw01\n  HostName 10.69.13.20")
            .and(predicate::str::contains("Host jelly01 jelly01.home.2rjus.net\n  HostName 10.69.13.12\n  ProxyJump extgw01")),
    );
}

#[test]
fn user_add_with_totp_shows_the_uri_once_and_remove_deletes_the_seed() {
    let t = example();
    let key = std::fs::read_to_string(repo_root().join("test-keys/admin-ssh_ed25519_TEST_ONLY.pub")).unwrap();
    let out = hearth(t.path()).args(["user", "add", "alice", "--ssh-key", key.trim(), "--totp"]).assert().success().get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    let uri = out.lines().find(|l| l.starts_with("otpauth://totp/hearth:alice@extgw01?secret=")).expect("URI printed");
    assert!(t.path().join("secrets/extgw01/totp-alice.age").is_file());
    let again = hearth(t.path()).args(["user", "add", "alice", "--show-totp"]).assert().success().get_output().stdout.clone();
    assert!(String::from_utf8(again).unwrap().contains(uri));
    hearth(t.path()).arg("render").assert().success();
    assert!(std::fs::read_to_string(t.path().join("hosts/extgw01/hearth.nix")).unwrap().contains("hearth-totp-alice"));
    hearth(t.path()).args(["user", "remove", "alice"]).assert().success();
    assert!(!t.path().join("secrets/extgw01/totp-alice.age").exists());
}

#[test]
fn user_sign_issues_a_certificate_from_the_ca() {
    let t = example();
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    std::fs::write(t.path().join("inventory.toml"), inv.replace("[bastion]\nport = 22", "[bastion]\nport = 22\nca = true")).unwrap();
    hearth(t.path()).arg("render").assert().success().stdout(predicate::str::contains("generated the SSH user CA"));
    let cert = hearth(t.path()).args(["user", "sign", "torjus", "--validity", "1h"]).assert().success().get_output().stdout.clone();
    let cert = String::from_utf8(cert).unwrap();
    assert!(cert.starts_with("ssh-ed25519-cert-v01@openssh.com "), "{cert}");
    require("ssh-keygen", "openssh-client");
    let f = t.path().join("cert.pub");
    std::fs::write(&f, &cert).unwrap();
    let out = StdCommand::new("ssh-keygen").arg("-L").arg("-f").arg(&f).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Type: ssh-ed25519-cert-v01@openssh.com user certificate") && text.contains("torjus"), "{text}");
}

#[test]
fn secret_set_reads_stdin_and_host_declares_it() {
    let t = example();
    // A host decrypts with its SSH host key (issue 18: refused without one).
    hearth(t.path()).args(["host", "set", "jelly01", "--ssh-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"]).assert().success();
    hearth(t.path()).args(["secret", "set", "restic-password", "--host", "jelly01"]).write_stdin("correct horse").assert().success();
    hearth(t.path()).args(["secret", "show", "restic-password", "--host", "jelly01"]).assert().success().stdout("correct horse");
    hearth(t.path()).arg("render").assert().success();
    let nix = std::fs::read_to_string(t.path().join("hosts/jelly01/hearth.nix")).unwrap();
    assert!(nix.contains("restic-password = {") && !nix.contains("correct horse"));
    hearth(t.path()).args(["secret", "set", "x", "--host", "jelly01"]).write_stdin("").assert().code(2).stderr(predicate::str::contains("empty input"));
}

#[test]
fn removing_an_admin_makes_secrets_stale_until_rekey() {
    let t = example();
    let ssh_admin = std::fs::read_to_string(repo_root().join("test-keys/admin-ssh_ed25519_TEST_ONLY.pub")).unwrap();
    let removed_key = repo_root().join("test-keys/admin-ssh_ed25519_TEST_ONLY");
    let probe = t.path().join("secrets/vps/wireguard-key.age");
    let age_decrypts = |key: &Path| StdCommand::new("age").arg("-d").arg("-i").arg(key).arg(&probe).output().is_ok_and(|o| o.status.success());
    require("age", "age");
    assert!(age_decrypts(&removed_key), "before: the ssh admin can decrypt");
    // The rules follow at once (agenix must not keep encrypting to it).
    hearth(t.path()).args(["admin", "remove", ssh_admin.trim()]).assert().success().stdout(predicate::str::contains("wrote secrets/secrets.nix"));
    assert!(!std::fs::read_to_string(t.path().join("secrets/secrets.nix")).unwrap().contains(ssh_admin.split_whitespace().nth(1).unwrap()));
    hearth(t.path()).args(["render", "--check"]).assert().code(1).stdout(predicate::str::contains("recipients changed"));
    hearth(t.path()).args(["secret", "list"]).assert().code(1);
    hearth(t.path()).args(["secrets", "rekey"]).assert().success().stdout(predicate::str::contains("0 failed"));
    hearth(t.path()).arg("render").assert().success().stdout(predicate::str::contains("nothing to do"));
    hearth(t.path()).args(["render", "--check"]).assert().success();
    assert!(!age_decrypts(&removed_key), "after rekey the removed admin's key must not decrypt");
    assert!(age_decrypts(&admin_identity()), "the remaining admin still decrypts");
}

#[test]
fn help_shows_examples() {
    Command::cargo_bin("hearth").unwrap().args(["peer", "add", "--help"]).assert().success().stdout(predicate::str::contains("hearth peer add phone --kind phone --group family"));
    Command::cargo_bin("hearth").unwrap().args(["completions", "bash"]).assert().success().stdout(predicate::str::contains("_hearth"));
}

#[test]
fn kill_9_mid_edit_leaves_old_or_new_state_never_torn() {
    let t = example();
    let bin = assert_cmd::cargo::cargo_bin("hearth");
    let (mut landed_mid, mut completed) = (0, 0);
    for i in 0..20u64 {
        let name = format!("k{i}");
        let mut child = StdCommand::new(&bin)
            .current_dir(t.path())
            .env("HOME", t.path())
            .args(["peer", "add", &name, "--group", "mobile"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill the moment the edit has begun writing (its secrets directory
        // appears), which is before the inventory names the new peer: at
        // any load, the kill lands inside the edit, not before or after it.
        let dir = t.path().join(format!("secrets/peers/{name}"));
        let start = std::time::Instant::now();
        while !dir.exists() && start.elapsed() < std::time::Duration::from_secs(20) && child.try_wait().unwrap().is_none() {
            std::hint::spin_loop();
        }
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        completed += usize::from(status.success());
        let loaded = hearth::inventory::Loaded::read(&t.path().join("inventory.toml")).expect("inventory parses after kill -9");
        hearth::validate::check(&loaded).expect("inventory valid after kill -9");
        let named = loaded.inv.peers.contains_key(&name);
        if !status.success() && dir.exists() && !named {
            landed_mid += 1;
        }
        // Every public key the inventory names has its private key on disk.
        for (n, p) in &loaded.inv.peers {
            if p.public_key.is_some() {
                assert!(t.path().join(format!("secrets/peers/{n}/wireguard-key.age")).is_file(), "{n}: public key without its secret");
            }
        }
    }
    assert!(landed_mid > 0, "no kill landed between the secret and the inventory ({completed} of 20 completed)");
    // Whatever was killed: render cleans up (temps, unused secrets are
    // rekeyed or left for the next add) and then --check passes.
    hearth(t.path()).arg("check").assert().success();
    hearth(t.path()).arg("render").assert().success();
    hearth(t.path()).args(["render", "--check"]).assert().success();
    eprintln!("{landed_mid} of 20 kills landed mid-edit, {completed} edits completed first");
}

#[test]
fn service_web_on_off_and_add_with_web_show_in_the_list_and_caddys_config() {
    let t = example();
    let list = |t: &TempDir| -> serde_json::Value { serde_json::from_slice(&hearth(t.path()).args(["service", "list", "--json"]).assert().success().get_output().stdout).unwrap() };
    let url_of = |v: &serde_json::Value, n: &str| v.as_array().unwrap().iter().find(|r| r["name"] == n).unwrap()["url"].clone();
    assert_eq!(url_of(&list(&t), "grafana"), "https://grafana.home.2rjus.net");
    hearth(t.path()).args(["service", "web", "grafana", "off"]).assert().success().stdout(predicate::str::contains("no longer served"));
    assert_eq!(url_of(&list(&t), "grafana"), serde_json::Value::Null);
    hearth(t.path()).arg("render").assert().success();
    let caddy = hearth(t.path()).args(["preview", "http-proxy", "caddy"]).assert().success().get_output().stdout.clone();
    let caddy = String::from_utf8(caddy).unwrap();
    assert!(!caddy.contains("grafana.home.2rjus.net") && caddy.contains("jellyfin.home.2rjus.net"), "{caddy}");
    // Turning off nzbget drops its basic-auth settings too, so the inventory stays valid.
    hearth(t.path()).args(["service", "web", "nzbget", "off"]).assert().success();
    hearth(t.path()).arg("check").assert().success();
    hearth(t.path()).args(["service", "web", "grafana", "on"]).assert().success();
    hearth(t.path())
        .args(["service", "add", "prometheus", "--host", "monitoring01", "--port", "9090", "--web", "--subdomain", "prom", "--allow", "admins"])
        .assert()
        .success()
        .stdout(predicate::str::contains("https://prom.home.2rjus.net"));
    assert_eq!(url_of(&list(&t), "prometheus"), "https://prom.home.2rjus.net");
    // A bad subdomain is refused and changes nothing.
    let before = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    hearth(t.path())
        .args(["service", "add", "bad", "--host", "monitoring01", "--port", "9091", "--web", "--subdomain", "Not_A_Label"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("is not a DNS label"));
    assert_eq!(before, std::fs::read_to_string(t.path().join("inventory.toml")).unwrap());
}
