//! Edits work on any valid way of writing the inventory: inline tables,
//! standard tables, comments and odd spacing, without a panic and with the
//! user's comments kept.

use std::path::Path;

use proptest::prelude::*;
use tempfile::TempDir;

mod support;
use support::hearth;

const AGE1: &str = "age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt";
const SSH2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p";

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join("inventory.toml"), text).unwrap();
}

fn read(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("inventory.toml")).unwrap()
}

#[test]
fn admin_add_on_an_inline_admin_table_does_not_panic() {
    let t = TempDir::new().unwrap();
    write(
        t.path(),
        &format!("# who can decrypt\nadmin = {{ recipients = [\"{AGE1}\"] }}\n\n[network]\ndomain = \"home.example.net\"\nlan = \"192.168.1.0/24\"\nvpn = \"10.100.0.0/24\"\n"),
    );
    let out = hearth(t.path()).args(["admin", "add", SSH2]).assert();
    let o = out.get_output();
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = read(t.path());
    assert!(text.contains(AGE1) && text.contains(SSH2), "{text}");
    assert!(text.contains("# who can decrypt"), "comment lost: {text}");
    hearth(t.path()).arg("check").assert().success();
}

#[test]
fn render_with_an_inline_peer_table_does_not_panic() {
    let t = TempDir::new().unwrap();
    write(
        t.path(),
        &format!(
            "[network]\ndomain = \"home.example.net\"\nlan = \"192.168.1.0/24\"\nvpn = \"10.100.0.0/24\"\n\n[admin]\nrecipients = [\"{AGE1}\"]\n\n[hosts.gw]\nroles = [\"wireguard-gateway\"]\naddress = \"192.168.1.2\"\nendpoint = \"home.example.net:51820\"\nssh_key = \"{SSH2}\"\n\n[peers]\nx = {{ kind = \"phone\", groups = [\"family\"] }} # my phone\n"
        ),
    );
    let out = hearth(t.path()).arg("render").assert();
    let o = out.get_output();
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = read(t.path());
    assert!(text.contains("# my phone"), "comment lost: {text}");
    hearth(t.path()).args(["render", "--check"]).assert().success();
}

/// One way of writing a small valid inventory: each of its tables inline or
/// standard, with comments and spacing that vary.
fn inventory() -> impl Strategy<Value = (String, Vec<String>)> {
    (any::<[bool; 4]>(), 0usize..3, prop::collection::vec("[a-z]{3,8}", 4)).prop_map(|(inline, spaces, words)| {
        let sp = " ".repeat(spaces);
        let comments: Vec<String> = words.iter().map(|w| format!("# note {w}")).collect();
        let mut s = String::new();
        // Top-level inline tables come before the first `[table]`.
        if inline[0] {
            s.push_str(&format!("admin = {{ recipients = [\"{AGE1}\"] }} {}\n\n", comments[1]));
        }
        s.push_str(&format!("{}\n[network]\ndomain{sp}={sp}\"home.example.net\"\nlan = \"192.168.1.0/24\"\nvpn = \"10.100.0.0/24\"\n\n", comments[0]));
        if !inline[0] {
            s.push_str(&format!("[admin]\n{}\nrecipients = [\"{AGE1}\"]\n\n", comments[1]));
        }
        if inline[1] {
            s.push_str(&format!("[hosts]\nnas = {{ address = \"192.168.1.10\" }} {}\n", comments[2]));
        } else {
            s.push_str(&format!("[hosts.nas]\n{}\naddress{sp}={sp}\"192.168.1.10\"\n", comments[2]));
        }
        s.push_str(&format!("[hosts.gw]\nroles = [\"wireguard-gateway\"]\naddress = \"192.168.1.2\"\nendpoint = \"home.example.net:51820\"\nssh_key = \"{SSH2}\"\n\n"));
        if inline[2] {
            s.push_str(&format!("[services]\nweb = {{ host = \"nas\", port = 80, allow = [\"family\"] }} {}\n", comments[3]));
        } else {
            s.push_str(&format!("[services.web]\n{}\nhost = \"nas\"\nport = 80\nallow = [\"family\"]\n", comments[3]));
        }
        if inline[3] {
            s.push_str("[peers]\nold = { kind = \"laptop\", groups = [\"family\"] }\n");
        } else {
            s.push_str("[peers.old]\nkind = \"laptop\"\ngroups = [\"family\"]\n");
        }
        (s, comments)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn edits_on_any_table_shape_keep_comments_and_never_panic((text, comments) in inventory()) {
        let t = TempDir::new().unwrap();
        write(t.path(), &text);
        hearth(t.path()).arg("check").assert().success();
        let edits: [&[&str]; 5] = [
            &["peer", "add", "phone", "--kind", "phone", "--group", "family"],
            &["host", "add", "media", "--address", "192.168.1.11"],
            &["service", "add", "dns", "--host", "media", "--port", "53", "--allow", "family"],
            &["admin", "add", SSH2],
            &["allow", "web", "phone"],
        ];
        for args in edits {
            let out = hearth(t.path()).args(args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!err.contains("panicked"), "{:?} panicked on:\n{}\n{}", args, text, err);
            prop_assert!(out.status.success(), "{:?} failed on:\n{}\n{}", args, text, err);
        }
        let after = read(t.path());
        for c in &comments {
            prop_assert!(after.contains(c.as_str()), "comment `{}` lost:\n{}", c, after);
        }
        hearth(t.path()).arg("check").assert().success();
    }
}
