//! One source per rule: `hearth check` and the Nix renderers decide names
//! and values from the same definitions (modules/lib/util/rules.json), and
//! what `check` accepts the renderers render.

use std::path::Path;
use std::process::Command as StdCommand;

use proptest::prelude::*;
use proptest::strategy::ValueTree;

mod support;
use support::{example, hearth, repo_root};

fn nix_instantiate() -> bool {
    StdCommand::new("nix-instantiate").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// For each string, whether Nix's `builtins.match` accepts it under `rule`.
fn nix_matches(rule: &str, inputs: &[String]) -> Vec<bool> {
    let expr = "{ rule, inputs }: let r = (import (ROOT + \"/modules/lib/util/ipv4.nix\")).rules.${rule}.re; in map (s: builtins.match r s != null) (builtins.fromJSON inputs)";
    let out = StdCommand::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "-E"])
        .arg(expr.replace("ROOT", &format!("/. + \"{}\"", repo_root().display())))
        .arg("--argstr")
        .arg("rule")
        .arg(rule)
        .arg("--argstr")
        .arg("inputs")
        .arg(serde_json::to_string(inputs).unwrap())
        .env("NIX_REMOTE", "")
        .output()
        .expect("nix-instantiate runs");
    assert!(out.status.success(), "nix-instantiate failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Strings near the rules' edges: their characters, brackets, colons,
/// signs, dots, digits, whitespace and control characters.
fn candidate() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a", "z", "A", "Z", "0", "9", "1", "_", "-", ".", "=", "+", "/", ":", "[", "]", " ", "\n", "\t", "\"", "$", "{", "é", "x", "AAAA", "51820", "::1", "w",
        ]),
        0..20,
    )
    .prop_map(|parts| parts.concat())
}

#[test]
fn rust_and_nix_decide_every_rule_alike_on_random_strings() {
    assert!(nix_instantiate(), "nix-instantiate is needed (apt-get install nix-bin); checks/run installs it");
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config { cases: 1, ..Default::default() });
    let mut inputs: Vec<String> = (0..400).map(|_| candidate().new_tree(&mut runner).unwrap().current()).collect();
    // Known edges from past disagreements, and a real key.
    inputs.extend(
        ["1alice", "0", "_svc", ".hearth", "hearth0", "h:+51821", "[h:51821", "[::1]:51820", "vps.example.net:51821", "10/minute", "zxfp8tWAQauDIsSM+QGmCI7QqJKcXanzdF903FjT5Dg="]
            .map(String::from),
    );
    for rule in hearth::rules::all() {
        let nix = nix_matches(rule.name, &inputs);
        let mut disagreements = vec![];
        for (s, n) in inputs.iter().zip(nix) {
            if rule.matches(s) != n {
                disagreements.push(format!("{s:?}: rust {} nix {n}", rule.matches(s)));
            }
        }
        assert!(disagreements.is_empty(), "rule {} ({}): {}", rule.name, rule.pattern, disagreements.join("; "));
    }
}

/// Replaces `from` with `to` in the copy's inventory (the edit must apply).
fn edit(dir: &Path, from: &str, to: &str) {
    let p = dir.join("inventory.toml");
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "the example has no `{from}`");
    std::fs::write(p, s.replacen(from, to, 1)).unwrap();
}

#[test]
fn values_a_renderer_would_throw_on_are_rejected_by_check_with_their_line() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("[users.torjus]", "[users.1alice]", "users.1alice", "is not a Unix user name"),
        ("[users.torjus]", "[users.0]", "users.0", "is not a Unix user name"),
        ("interface = \"hearth0\"", "interface = \".hearth\"", "wireguard.interface", "is not an interface name"),
        ("endpoint = \"docker2.t-juice.club:51821\"", "endpoint = \"h:+51821\"", "hosts.vps.endpoint", "is not an endpoint"),
        ("endpoint = \"docker2.t-juice.club:51821\"", "endpoint = \"[h:51821\"", "hosts.vps.endpoint", "is not an endpoint"),
        ("[bastion]\nport = 22", "[bastion]\nport = 0", "bastion.port", "port 0 is not a port"),
        ("keepalive = 25", "keepalive = 0", "wireguard.keepalive", "keepalive of 0"),
        ("lan = \"10.69.13.0/24\"", "lan = \"10.69.13.1/24\"", "network.lan", "host bits set"),
        ("vpn = \"10.69.222.0/24\"", "vpn = \"10.69.222.7/24\"", "network.vpn", "host bits set"),
        ("[bastion]\nport = 22", "[bastion]\nport = 22\nallowed_sources = [\"10.69.13.5/24\"]", "bastion.allowed_sources.0", "host bits set"),
    ];
    for (from, to, key, message) in cases {
        let t = example();
        edit(t.path(), from, to);
        let out = hearth(t.path()).arg("check").assert().failure();
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains(key) && err.contains(message), "{to}: expected `{key}` and `{message}` in:\n{err}");
        assert!(err.contains("inventory.toml:"), "{to}: the error is not located:\n{err}");
    }
}

#[test]
fn a_multi_line_ssh_key_is_rejected() {
    let t = example();
    let s = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    let i = s.find("[users.torjus]").unwrap();
    let j = s[i..].find("ssh_keys = [\"").unwrap() + i + "ssh_keys = [\"".len();
    let mut s2 = s.clone();
    s2.insert_str(j, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p x\\nPermitRootLogin yes\", \"");
    std::fs::write(t.path().join("inventory.toml"), s2).unwrap();
    let out = hearth(t.path()).arg("check").assert().failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("users.torjus.ssh_keys.0") && err.contains("control character"), "{err}");
}

#[test]
fn unusual_but_valid_values_pass_check_and_render_through_the_renderers() {
    assert!(nix_instantiate(), "nix-instantiate is needed (apt-get install nix-bin)");
    let t = example();
    // `_svc` is a Unix user name but not a DNS label; `wg=0` an interface name.
    edit(t.path(), "[users.torjus]", "[users._svc]");
    edit(t.path(), "interface = \"hearth0\"", "interface = \"wg=0\"");
    hearth(t.path()).arg("check").assert().success();
    hearth(t.path()).arg("render").assert().success();
    for part in ["sshd", "pam", "nftables", "wireguard"] {
        let out = hearth(t.path()).args(["preview", "extgw01", part]).assert().success();
        assert!(!out.get_output().stdout.is_empty(), "preview extgw01 {part} is empty");
    }
    let sshd = hearth(t.path()).args(["preview", "extgw01", "sshd"]).assert().success();
    assert!(String::from_utf8_lossy(&sshd.get_output().stdout).contains("AllowUsers _svc@"));
}
