//! Faults, hostile input and agenix beside hearth (issue 19): generated
//! values verified against the inventory, one verdict between `render` and
//! `render --check`, leftovers of killed runs swept, the user's own agenix
//! rules kept, and paths, names and flags that try to inject something.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

mod support;
use support::{example, example_in, hearth, repo_files, repo_root};

fn out(c: &mut Command) -> (Option<i32>, String, String) {
    let o = c.output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A tool the test needs; `checks/run` installs its package. Missing, the
/// test fails saying so (a test that cannot run is not a pass).
fn require(tool: &str, package: &str) {
    let ok = StdCommand::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "{tool} is not installed: apt-get install {package} (checks/run installs it)");
}

/// Every file below `dir` with a hash of its bytes (a failed comparison
/// names paths, not megabytes).
fn files(dir: &Path) -> Vec<(PathBuf, u64)> {
    use std::hash::{Hash, Hasher};
    repo_files(dir)
        .into_iter()
        .map(|(p, b)| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            b.hash(&mut h);
            (p, h.finish())
        })
        .collect()
}

fn public_key_of(dir: &Path, section: &str, name: &str) -> String {
    let inv = hearth::inventory::Loaded::read(&dir.join("inventory.toml")).unwrap().inv;
    match section {
        "peers" => inv.peers[name].public_key.clone().unwrap().to_string(),
        _ => inv.hosts[name].public_key.clone().unwrap().to_string(),
    }
}

/// The public key of the private key `hearth secret show` decrypts.
fn shown_public(dir: &Path, args: &[&str]) -> String {
    let key = hearth(dir).args(["secret", "show"]).args(args).assert().success().get_output().stdout.clone();
    hearth::keys::public_from_private(String::from_utf8(key).unwrap().trim()).unwrap()
}

/// Encrypts `plain` to `rel` like `agenix -e` would (the age CLI, armored,
/// to the example's admin), behind hearth's back.
fn agenix_write(dir: &Path, rel: &str, plain: &str) {
    require("age", "age");
    let mut c = StdCommand::new("age")
        .args(["-a", "-r", "age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt", "-o"])
        .arg(dir.join("secrets").join(rel))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(plain.as_bytes()).unwrap();
    assert!(c.wait().unwrap().success());
}

#[test]
fn rotate_killed_between_key_and_inventory_is_reported_and_repaired() {
    // The state `peer rotate` leaves when killed after writing the new
    // private key and before the inventory names its public key.
    let t = example();
    let inv = hearth::inventory::Loaded::read(&t.path().join("inventory.toml")).unwrap().inv;
    let spec = hearth::topology::secrets(&inv).into_iter().find(|s| s.rel == "peers/phone/wireguard-key.age").unwrap();
    let kp = hearth::keys::generate_keypair();
    let mut store = hearth::secrets::SecretStore::open(t.path().join("secrets")).unwrap();
    store.write(&spec.rel, &hearth::secrets::SecretBytes::from_slice(kp.private.as_bytes()), &hearth::render::recipients(&inv, &spec)).unwrap();
    let old = public_key_of(t.path(), "peers", "phone");

    let (code, stdout, _) = out(hearth(t.path()).args(["render", "--check"]));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains(&format!("secrets/peers/phone/wireguard-key.age: holds the private key of public key {}, but peers.phone.public_key is {old}", kp.public)), "{stdout}");
    assert!(stdout.contains("`hearth peer rotate phone`"), "{stdout}");
    hearth(t.path()).args(["secret", "list"]).assert().code(1).stdout(predicate::str::contains("bad value"));
    hearth(t.path()).args(["peer", "config", "phone"]).assert().code(2).stderr(predicate::str::contains("run `hearth render` to take the new public key"));
    // Without an identity, --check says what it could not verify.
    let mut c = Command::cargo_bin("hearth").unwrap();
    c.current_dir(t.path()).env("HOME", t.path()).env_remove("HEARTH_IDENTITY").args(["render", "--check"]);
    c.assert().stderr(predicate::str::contains("1 generated value(s) not verified (WireGuard key pairs, preshared keys): no identity"));

    hearth(t.path()).arg("render").assert().success().stdout(predicate::str::contains("set peers.phone.public_key to it".to_string()));
    assert_eq!(public_key_of(t.path(), "peers", "phone"), kp.public);
    assert_eq!(shown_public(t.path(), &["wireguard-key", "--peer", "phone"]), kp.public);
    assert!(std::fs::read_to_string(t.path().join("hosts/vps/hearth.nix")).unwrap().contains(&kp.public), "the hub's peer entry follows");
    hearth(t.path()).args(["render", "--check"]).assert().success();
    hearth(t.path()).args(["peer", "config", "phone"]).assert().success();
}

#[test]
fn agenix_edits_of_generated_values_are_caught() {
    let t = example();
    // A new WireGuard key put in with agenix: caught, and render takes its
    // public key (rekeying the file back to its recipients).
    let kp = hearth::keys::generate_keypair();
    agenix_write(t.path(), "extgw01/wireguard-key.age", &kp.private);
    let (code, stdout, _) = out(hearth(t.path()).args(["render", "--check"]));
    assert_eq!(code, Some(1));
    assert!(stdout.contains("secrets/extgw01/wireguard-key.age: holds the private key of public key") && stdout.contains("hosts.extgw01.public_key is"), "{stdout}");
    assert!(stdout.contains("secrets/extgw01/wireguard-key.age: stale: recipients unknown (rewritten by another tool, e.g. agenix or ragenix); run `hearth render`"), "{stdout}");
    hearth(t.path())
        .arg("render")
        .assert()
        .success()
        .stdout(predicate::str::contains("set hosts.extgw01.public_key to it").and(predicate::str::contains("re-encrypted secrets/extgw01/wireguard-key.age")));
    assert_eq!(public_key_of(t.path(), "hosts", "extgw01"), kp.public);
    hearth(t.path()).args(["render", "--check"]).assert().success();

    // A preshared key replaced by text: refused, naming the fix, which works.
    agenix_write(t.path(), "vps/psk-phone.age", "hunter2");
    hearth(t.path()).args(["render", "--check"]).assert().code(1).stdout(predicate::str::contains("secrets/vps/psk-phone.age: is not a preshared key"));
    hearth(t.path()).args(["secret", "list"]).assert().code(1);
    let before = files(t.path());
    hearth(t.path())
        .arg("render")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("secrets/vps/psk-phone.age: is not a preshared key").and(predicate::str::contains("run `hearth peer rotate phone`")));
    assert_eq!(before, files(t.path()), "a refused render writes nothing");
    hearth(t.path()).args(["peer", "config", "phone"]).assert().code(2).stderr(predicate::str::contains("is not a preshared key"));
    hearth(t.path()).args(["peer", "rotate", "phone"]).assert().success();
    hearth(t.path()).arg("render").assert().success();
    hearth(t.path()).args(["render", "--check"]).assert().success();
}

#[test]
fn damaged_and_foreign_secrets_get_one_verdict_and_a_repair_that_works() {
    let t = example();
    // Empty file: both say damaged and name the same repair; rekey cannot.
    std::fs::write(t.path().join("secrets/vps/psk-laptop.age"), "").unwrap();
    let line = "secrets/vps/psk-laptop.age: damaged: the file is empty; restore it from git (`git checkout -- secrets/vps/psk-laptop.age`), or replace it with `hearth peer rotate laptop`";
    hearth(t.path()).args(["render", "--check"]).assert().code(1).stdout(predicate::str::contains(line));
    hearth(t.path()).arg("render").assert().code(2).stderr(predicate::str::contains(line));
    hearth(t.path()).args(["secrets", "rekey"]).assert().code(1).stderr(predicate::str::contains("secrets/vps/psk-laptop.age: damaged"));
    hearth(t.path()).args(["peer", "rotate", "laptop"]).assert().success();
    hearth(t.path()).arg("render").assert().success();
    hearth(t.path()).args(["render", "--check"]).assert().success();

    // Garbage: damaged too.
    std::fs::write(t.path().join("secrets/extgw01/totp-torjus.age"), "not age at all\n").unwrap();
    hearth(t.path()).args(["render", "--check"]).assert().code(1).stdout(predicate::str::contains("secrets/extgw01/totp-torjus.age: damaged: not an age file"));

    // A crash between a secret and recipients.json (its entry missing), and
    // a foreign re-encryption of the same value: `render` does what
    // `--check` says, and then both agree.
    let t = example();
    let m = t.path().join("secrets/recipients.json");
    let mut j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    j["files"].as_object_mut().unwrap().remove("vps/wireguard-key.age").unwrap();
    std::fs::write(&m, serde_json::to_string_pretty(&j).unwrap()).unwrap();
    let psk = hearth(t.path()).args(["secret", "show", "psk-laptop", "--host", "vps"]).assert().success().get_output().stdout.clone();
    agenix_write(t.path(), "vps/psk-laptop.age", &String::from_utf8(psk).unwrap());
    let (code, stdout, _) = out(hearth(t.path()).args(["render", "--check"]));
    assert_eq!(code, Some(1));
    assert!(stdout.contains("secrets/vps/wireguard-key.age: stale: recipients unknown (not in recipients.json); run `hearth render`"), "{stdout}");
    assert!(stdout.contains("secrets/vps/psk-laptop.age: stale: recipients unknown (rewritten by another tool"), "{stdout}");
    hearth(t.path())
        .arg("render")
        .assert()
        .success()
        .stdout(predicate::str::contains("re-encrypted secrets/vps/wireguard-key.age").and(predicate::str::contains("re-encrypted secrets/vps/psk-laptop.age")));
    hearth(t.path()).args(["render", "--check"]).assert().success();
}

#[test]
fn stale_temps_are_reported_and_swept_by_writers_only_when_their_process_is_gone() {
    let t = example();
    let gone = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse::<u32>().unwrap() + 1;
    // What a hearth killed while writing ciphertext leaves: its temp, and its
    // writer's mark at the top of secrets/ (made before the first temp).
    let mark = t.path().join(format!("secrets/.writer.hearth-tmp.{gone}.0"));
    let stale = [
        t.path().join(format!("secrets/vps/.wireguard-key.age.hearth-tmp.{gone}.3")),
        t.path().join(format!(".inventory.toml.hearth-tmp.{gone}.0")),
        t.path().join(format!("hosts/vps/.hearth.nix.hearth-tmp.{gone}.0")),
        mark.clone(),
    ];
    let live = t.path().join(format!("secrets/vps/.psk-phone.age.hearth-tmp.{}.0", std::process::id()));
    let unrelated = t.path().join(format!("secrets/vps/.notes.tmp.{gone}.0"));
    for p in stale.iter().chain([&live, &unrelated]) {
        std::fs::copy(t.path().join("secrets/vps/wireguard-key.age"), p).unwrap();
    }
    let (code, stdout, _) = out(hearth(t.path()).args(["render", "--check"]));
    assert_eq!(code, Some(1));
    assert!(stdout.contains(&format!("secrets/vps/.wireguard-key.age.hearth-tmp.{gone}.3: temp file left by a killed hearth; `hearth render` removes it")), "{stdout}");
    assert_eq!(stdout.matches("temp file left by a killed hearth").count(), 4, "{stdout}");
    hearth(t.path()).arg("render").assert().success().stdout(predicate::str::contains(format!("removed secrets/vps/.wireguard-key.age.hearth-tmp.{gone}.3")));
    assert!(stale.iter().all(|p| !p.exists()), "stale temps removed");
    assert!(live.exists() && unrelated.exists(), "a live process's temp and other files are not hearth's to remove");
    std::fs::remove_file(&live).unwrap();
    hearth(t.path()).args(["render", "--check"]).assert().success();
    // Every writer sweeps: an edit, and `secrets rekey`.
    for args in [&["service", "add", "x", "--host", "jelly01", "--port", "1234"][..], &["secrets", "rekey"]] {
        std::fs::copy(t.path().join("secrets/vps/wireguard-key.age"), &stale[0]).unwrap();
        std::fs::write(&mark, "").unwrap();
        hearth(t.path()).args(args).assert().success();
        assert!(!stale[0].exists() && !mark.exists(), "{args:?}");
    }
    // Without a dead writer's mark, nothing below secrets/ is a killed hearth's
    // temp (every writer there makes one first), and the thousands of
    // directories of a large lab are not walked on every command.
    std::fs::copy(t.path().join("secrets/vps/wireguard-key.age"), &stale[0]).unwrap();
    hearth(t.path()).args(["render", "--check"]).assert().success();
}

#[test]
fn init_keeps_the_lock_and_temp_files_out_of_git() {
    let t = TempDir::new().unwrap();
    hearth(t.path()).arg("init").assert().success();
    let gi = std::fs::read_to_string(t.path().join(".gitignore")).unwrap();
    assert!(gi.lines().any(|l| l == ".inventory.toml.lock") && gi.lines().any(|l| l == ".*.hearth-tmp.*"), "{gi}");
    if StdCommand::new("git").arg("--version").output().is_ok() {
        let git = |args: &[&str]| StdCommand::new("git").current_dir(t.path()).args(args).output().unwrap();
        git(&["init", "-q"]);
        std::fs::write(t.path().join("secrets/.x.age.hearth-tmp.1.0"), "x").unwrap();
        std::fs::write(t.path().join(".inventory.toml.lock"), "").unwrap();
        let ignored = String::from_utf8(git(&["status", "--porcelain", "--ignored"]).stdout).unwrap();
        assert!(ignored.contains("!! .inventory.toml.lock") && ignored.contains("!! secrets/.x.age.hearth-tmp.1.0"), "{ignored}");
    }
}

#[test]
fn rejected_user_add_with_totp_leaves_nothing() {
    let t = example();
    let before = files(t.path());
    hearth(t.path())
        .args(["user", "add", "x/y", "--totp", "--ssh-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("user name `x/y` is not a DNS label"));
    assert_eq!(before, files(t.path()), "nothing written, no directory left");
}

#[test]
fn host_remove_removes_the_hubs_psk_and_retires_its_address() {
    let t = example();
    let key = std::fs::read_to_string(repo_root().join("test-keys/hosts/jelly01_ed25519_TEST_ONLY.pub")).unwrap();
    hearth(t.path()).args(["host", "add", "roam", "--role", "wireguard-client", "--ssh-key", key.trim()]).assert().success();
    let inv = hearth::inventory::Loaded::read(&t.path().join("inventory.toml")).unwrap().inv;
    let addr = inv.hosts["roam"].vpn_address.unwrap();
    assert!(t.path().join("secrets/vps/psk-roam.age").is_file());
    hearth(t.path())
        .args(["host", "remove", "roam"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("retired its VPN address {addr}")).and(predicate::str::contains("removed secrets/vps/psk-roam.age")));
    assert!(!t.path().join("secrets/vps/psk-roam.age").exists() && !t.path().join("secrets/roam").exists());
    let inv = hearth::inventory::Loaded::read(&t.path().join("inventory.toml")).unwrap().inv;
    assert!(inv.network.retired.contains(&addr));
    // The next host gets another address, and the rules no longer name it.
    hearth(t.path()).args(["host", "add", "roam2", "--role", "wireguard-client", "--ssh-key", key.trim()]).assert().success();
    let inv = hearth::inventory::Loaded::read(&t.path().join("inventory.toml")).unwrap().inv;
    assert_ne!(inv.hosts["roam2"].vpn_address.unwrap(), addr);
    assert!(!std::fs::read_to_string(t.path().join("secrets/secrets.nix")).unwrap().contains("roam.age"));
}

#[test]
fn rules_of_the_users_own_in_secrets_nix_are_kept() {
    let t = example();
    let sn = t.path().join("secrets/secrets.nix");
    // One below hearth's marker, one typed in among hearth's rules.
    let text = std::fs::read_to_string(&sn).unwrap();
    let mine = "\"mine/restic.age\".publicKeys = [ \"age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt\" ];";
    let among = "  \"among.age\" = { publicKeys = [ \"age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt\" ]; armor = true; };\n";
    let text = text.replacen("{\n", &format!("{{\n{among}"), 1).replace("}\n", &format!("  {mine}\n}}\n"));
    std::fs::write(&sn, &text).unwrap();
    std::fs::create_dir_all(t.path().join("secrets/mine")).unwrap();
    agenix_write(t.path(), "mine/restic.age", "pw");
    agenix_write(t.path(), "among.age", "pw2");
    hearth(t.path()).arg("render").assert().success();
    hearth(t.path()).args(["peer", "add", "tablet", "--group", "mobile"]).assert().success();
    hearth(t.path()).arg("render").assert().success();
    let after = std::fs::read_to_string(&sn).unwrap();
    assert!(after.contains(&format!("  {mine}\n")) && after.contains(among.trim()), "{after}");
    assert!(after.contains("\"peers/tablet/wireguard-key.age\""));
    hearth(t.path()).args(["render", "--check"]).assert().success();
    hearth(t.path())
        .args(["secret", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("secrets/mine/restic.age: yours").and(predicate::str::contains("left over").not()));
    require("nix-instantiate", "nix-bin");
    let eval = StdCommand::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "-E"])
        .arg(format!("builtins.attrNames (import {})", sn.display()))
        .env("NIX_REMOTE", "")
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&eval.stdout);
    assert!(names.contains("mine/restic.age") && names.contains("among.age"), "{names} {}", String::from_utf8_lossy(&eval.stderr));
    // A rule of the user's for a file hearth manages is refused, not dropped.
    std::fs::write(&sn, after.replace("}\n", "  \"vps/psk-phone.age\".publicKeys = [ ];\n}\n")).unwrap();
    hearth(t.path()).arg("render").assert().code(2).stderr(predicate::str::contains("your rule for `vps/psk-phone.age` names a file hearth manages"));
    // A file that does not parse is refused too.
    std::fs::write(&sn, "{ \"a.age\".publicKeys = [ ").unwrap();
    hearth(t.path()).arg("render").assert().code(2).stderr(predicate::str::contains("secrets/secrets.nix: it does not parse"));
}

#[test]
fn lab_down_accepts_only_lab_prefixes() {
    // A directory holding a state.json outside the lab's run directory.
    let t = TempDir::new().unwrap();
    let victim = t.path().join("x");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("state.json"), r#"{"prefix":"x","owner_pid":1,"nodes":{},"namespaces":[],"processes":[],"sockets":[],"users":[]}"#).unwrap();
    let hostile = format!("../..{}", victim.display());
    hearth(t.path()).args(["lab", "down", "--all", &hostile]).assert().code(2).stderr(predicate::str::contains("is not a lab prefix"));
    hearth(t.path()).args(["lab", "exec", "--lab", &hostile, "x", "--", "true"]).assert().code(2).stderr(predicate::str::contains("is not a lab prefix"));
    assert!(victim.join("state.json").exists(), "nothing outside the lab's run directory is removed");
}

#[test]
fn preview_passes_the_repository_path_as_an_argument_not_as_nix_code() {
    require("nix-instantiate", "nix-bin");
    let t = TempDir::new().unwrap();
    // A space, '' and a newline: before, the first broke preview and the
    // others let the directory name become Nix code.
    let dir = t.path().join("my repo").join("x''\n${builtins.throw \"pwned\"}");
    example_in(&dir);
    hearth(&dir)
        .args(["preview", "extgw01", "nftables"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("table inet hearth {").and(predicate::str::contains("10.69.13.12 . tcp . 8096")));
}

#[test]
fn ssh_config_user_must_be_a_known_user_name() {
    let t = example();
    hearth(t.path())
        .args(["ssh-config", "--user", "x\n  ProxyCommand touch /tmp/pwn"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("--user: user name").and(predicate::str::contains("is not a DNS label")));
    hearth(t.path()).args(["ssh-config", "--user", "mallory"]).assert().code(2).stderr(predicate::str::contains("no bastion user `mallory`; known users: torjus"));
    hearth(t.path()).args(["ssh-config", "--user", "torjus"]).assert().success().stdout(predicate::str::contains("  User torjus\n"));
}

#[test]
fn user_sign_rejects_a_validity_that_overflows() {
    let t = example();
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    std::fs::write(t.path().join("inventory.toml"), inv.replace("[bastion]\nport = 22", "[bastion]\nport = 22\nca = true")).unwrap();
    hearth(t.path()).arg("render").assert().success();
    hearth(t.path())
        .args(["user", "sign", "torjus", "--validity", "18446744073709551615s"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("is not a duration like 30m, 8h or 7d (at most 3660d)"));
}

#[test]
fn control_characters_in_values_are_rejected_with_their_location() {
    let t = example();
    let key = std::fs::read_to_string(repo_root().join("test-keys/admin-ssh_ed25519_TEST_ONLY.pub")).unwrap();
    let before = files(t.path());
    // The argument is parsed as an SSH key (`types::SshPublicKey`) before
    // anything runs: a usage error (2), the value shown escaped.
    let (code, _, err) = out(hearth(t.path()).args(["user", "add", "alice", "--ssh-key", &format!("{} a\u{1b}b", key.trim())]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid value for '--ssh-key <KEY>': value `ssh-ed25519") && err.contains("a\\u{1b}b` holds a control character"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert_eq!(before, files(t.path()));
    // A NUL (argv cannot carry one; a hand edit can) never reaches hearth.nix.
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    let edited = inv.replacen("# TEST admin (ssh)", "", 1).replacen("BfM0p\",", "BfM0p a\\u0000b\",", 1);
    assert_ne!(inv, edited);
    std::fs::write(t.path().join("inventory.toml"), edited).unwrap();
    hearth(t.path()).arg("render").assert().code(2).stderr(predicate::str::contains("admin.recipients.1: value").and(predicate::str::contains("a\\0b` holds a control character")));
}

#[test]
fn errors_show_paths_escaped_and_the_os_error_once() {
    let t = example();
    let (code, _, err) = out(hearth(t.path()).env("HEARTH_IDENTITY", t.path().join("no\u{1b}[31mkey")).args(["secret", "show", "wireguard-key", "--host", "vps"]));
    assert_eq!(code, Some(2));
    assert!(!err.contains('\u{1b}') && err.contains("no\\u{1b}[31mkey"), "{err:?}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn admin_add_keeps_the_previous_keys_comment_with_that_key() {
    let t = example();
    hearth(t.path())
        .args(["admin", "add", "age1g0eul9ht2ywsp9kva2rcjkalh6e69m7xxz520ddr4ty33cnaesdsv922gs"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote secrets/secrets.nix"));
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    assert!(
        inv.contains("  \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p\", # TEST admin (ssh)\n  \"age1g0eul9ht2ywsp9kva2rcjkalh6e69m7xxz520ddr4ty33cnaesdsv922gs\",\n]"),
        "{inv}"
    );
    // The rules name the new admin at once: an agenix run now includes it.
    assert!(std::fs::read_to_string(t.path().join("secrets/secrets.nix")).unwrap().contains("age1g0eul9ht2ywsp9kva2rcjkalh6e69m7xxz520ddr4ty33cnaesdsv922gs"));
}
