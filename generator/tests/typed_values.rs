//! Validated types (issue 11, `generator/src/types.rs`): a WireGuard key,
//! endpoint, SSH key or recipient is parsed where it enters hearth. In
//! inventory.toml a bad one stops the load with `inventory.toml:LINE:COL:
//! KEY.PATH: what` and a hint, and nothing is written; on the command line
//! it is a usage error (exit 2) that shows the value escaped, with the hint.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;

mod support;
use support::{example, hearth};

fn run(c: &mut Command) -> (Option<i32>, String) {
    let o = c.output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The inventory and every file below hosts/ and secrets/, with contents.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    for d in ["hosts", "secrets"] {
        walk(dir, &dir.join(d), &mut out);
    }
    out.insert("inventory.toml".into(), std::fs::read(dir.join("inventory.toml")).unwrap());
    out
}

/// Asserts that no file changed, naming those that did.
fn unchanged(before: &BTreeMap<String, Vec<u8>>, dir: &Path) {
    let after = files(dir);
    let changed: Vec<&String> = before.keys().chain(after.keys()).filter(|k| before.get(*k) != after.get(*k)).collect();
    assert!(changed.is_empty(), "files changed: {changed:?}");
}

/// Replaces the string value of the first `key = "..."` after `after` with
/// `value` (written as a TOML basic string); returns the 1-based line and
/// column of the new value's opening quote.
fn set_value(dir: &Path, after: &str, key: &str, value: &str) -> (usize, usize) {
    let p = dir.join("inventory.toml");
    let s = std::fs::read_to_string(&p).unwrap();
    let start = s.find(after).unwrap_or_else(|| panic!("the example has no `{after}`"));
    // An empty `key`: the next string after `after` (an array element).
    let q = if key.is_empty() {
        start + s[start..].find('"').unwrap()
    } else {
        start + s[start..].find(&format!("{key} = \"")).unwrap_or_else(|| panic!("no `{key}` after `{after}`")) + key.len() + 3
    };
    let end = q + 1 + s[q + 1..].find('"').unwrap() + 1;
    let new = format!("{}{}{}", &s[..q], toml_edit::Value::from(value), &s[end..]);
    std::fs::write(&p, new).unwrap();
    let before = &s[..q];
    (before.matches('\n').count() + 1, before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1)
}

/// `check` and `render` both refuse, with the located message and the hint
/// on its own line, and nothing changes on disk: `check` as a failed check
/// (exit 1), `render` as an error (exit 2).
fn refused_at(dir: &Path, line: usize, col: usize, keys: &str, what: &str, hint: &str) {
    let before = files(dir);
    for (cmd, want_code) in [("check", 1), ("render", 2)] {
        let (code, err) = run(hearth(dir).arg(cmd));
        assert_eq!(code, Some(want_code), "{cmd}: {err}");
        let want = format!("error: inventory.toml:{line}:{col}: {keys}: ");
        assert!(err.starts_with(&want), "{cmd}: expected `{want}` first in:\n{err}");
        assert!(err.contains(what), "{cmd}: expected `{what}` in:\n{err}");
        assert!(err.contains(&format!("\n  hint: {hint}")), "{cmd}: expected the hint `{hint}` in:\n{err}");
    }
    unchanged(&before, dir);
}

#[test]
fn a_bad_wireguard_key_in_the_inventory_is_located_with_its_fix() {
    let t = example();
    let (line, col) = set_value(t.path(), "[peers.laptop]", "public_key", "bm90IGEga2V5");
    refused_at(t.path(), line, col, "peers.laptop.public_key", "not a WireGuard key: decodes to 9 bytes", "a WireGuard public key is what `wg pubkey` prints");
}

#[test]
fn a_bad_endpoint_port_is_located_with_its_fix() {
    let t = example();
    let (line, col) = set_value(t.path(), "[hosts.vps]", "endpoint", "docker2.t-juice.club:99999");
    refused_at(t.path(), line, col, "hosts.vps.endpoint", "endpoint `docker2.t-juice.club:99999` has no valid port (1-65535)", "write HOST:PORT");
}

#[test]
fn a_bad_recipient_in_a_multi_line_array_is_located_at_its_own_line() {
    let t = example();
    let (line, col) = set_value(t.path(), "# TEST admin (age)", "", "ssh-rsa AAAAB3NzaC1yc2E");
    assert!(line > 27, "the second recipient is on its own line");
    refused_at(t.path(), line, col, "admin.recipients.1", "ssh-rsa keys are not supported", "generate one with `age-keygen`");
}

#[test]
fn an_age_key_as_host_key_and_a_broken_user_key_are_located() {
    let t = example();
    let (line, col) = set_value(t.path(), "[hosts.vps]", "ssh_key", "age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt");
    refused_at(t.path(), line, col, "hosts.vps.ssh_key", "is an age recipient; a host key is the host's `ssh-ed25519 AAAA...` key", "get it with `ssh-keyscan -t ed25519 HOST`");
    let t = example();
    let s = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    let i = s.find("[users.torjus]").unwrap();
    let line = s[..i].matches('\n').count() + 2;
    std::fs::write(t.path().join("inventory.toml"), s.replacen("ssh_keys = [\"ssh-ed25519 AAAAC3", "ssh_keys = [\"ssh-ed25519 AAAAC4", 1)).unwrap();
    refused_at(t.path(), line, 13, "users.torjus.ssh_keys.0", "is not an OpenSSH public key", "paste the one line of ~/.ssh/id_ed25519.pub");
}

#[test]
fn a_bad_port_in_a_list_is_located_at_the_item() {
    let t = example();
    let p = t.path().join("inventory.toml");
    let s = std::fs::read_to_string(&p).unwrap();
    let at = s.find("port = 3000\n").expect("the example has grafana on port 3000");
    std::fs::write(&p, s.replacen("port = 3000\n", "port = [3000, \"9-1\"]\n", 1)).unwrap();
    let line = s[..at].matches('\n').count() + 1;
    refused_at(t.path(), line, 15, "services.grafana.port.1", "`9-1` is not a port (1-65535) or a range like `8000-8100`", "e.g. port = 3000");
}

#[test]
fn a_bad_argument_is_a_usage_error_with_the_hint_and_changes_nothing() {
    let t = example();
    let before = files(t.path());
    let (code, err) = run(hearth(t.path()).args(["host", "set", "vps", "--endpoint", "vps.example.net:99999"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid value for '--endpoint <HOST:PORT>': endpoint `vps.example.net:99999` has no valid port") && err.contains("\n  hint: write HOST:PORT"), "{err}");
    // A private key given by mistake is refused without being echoed.
    let (code, err) = run(hearth(t.path()).args(["admin", "add", "AGE-SECRET-KEY-1QQQQQQSECRETQQQQ"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("PRIVATE key") && !err.contains("SECRETQQQQ"), "{err}");
    let (code, err) = run(hearth(t.path()).args(["host", "add", "nas02", "--address", "10.69.13.40", "--ssh-key", "ssh-ed25519 AAAA\u{1b}[31m"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("\\u{1b}[31m` holds a control character") && !err.contains('\u{1b}'), "{err:?}");
    let (code, err) = run(hearth(t.path()).args(["service", "add", "x", "--host", "nas01", "--port", "80,0"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid value for '--port <PORTS>': `0` is not a port") && err.contains("\n  hint: e.g. port = 3000"), "{err}");
    unchanged(&before, t.path());
}

#[test]
fn arguments_are_trimmed_and_recipients_compared_by_key_not_by_text() {
    let t = example();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv";
    let (code, err) =
        run(hearth(t.path()).args(["host", "add", "nas02", "--address", "10.69.13.99", "--endpoint", "nas.example.net:51820", "--ssh-key", &format!("  {key} root@nas02\n")]));
    assert_eq!(code, Some(0), "{err}");
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    assert!(inv.contains(&format!("ssh_key = \"{key} root@nas02\"\n")) && inv.contains("endpoint = \"nas.example.net:51820\"\n"), "{inv}");
    // The example's ssh admin has no comment; removing it with one matches.
    let admin = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p";
    let (code, err) = run(hearth(t.path()).args(["admin", "remove", &format!("{admin} lost-laptop")]));
    assert_eq!(code, Some(0), "{err}");
    let inv = hearth::inventory::Loaded::read(&t.path().join("inventory.toml")).unwrap().inv;
    let left: Vec<&str> = inv.admin.recipients.iter().map(|r| r.as_str()).collect();
    assert_eq!(left, ["age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt"]);
}
