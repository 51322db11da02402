//! The kvm area through the binary, on copies of the example: the golden
//! override.yaml (parsed as YAML), `hearth kvm list/switch/status` against
//! the TESmart simulator (`hearth kvm simulate`), `hearth kvm push` with a
//! stand-in ssh, and bad input that changes nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};

use predicates::prelude::*;
use tempfile::TempDir;

mod support;
use support::{example, hearth};

/// `hearth kvm simulate` on a free loopback port; killed when dropped.
struct Sim {
    child: Child,
    port: u16,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn simulate(args: &[&str]) -> Sim {
    // Bind port 0 is not possible through the CLI: pick a free port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("hearth"))
        .args(["kvm", "simulate", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("TESmart simulator on"), "{line}");
    Sim { child, port }
}

/// A switch map as the kvm NixOS module writes it, pointing at `port`.
fn map_file(dir: &Path, port: u16) -> PathBuf {
    let p = dir.join("kvm.json");
    let m = serde_json::json!({
        "address": "127.0.0.1", "port": port, "ports": 8, "timeout": 2, "switchDelay": 0, "statePoll": 10,
        "hosts": [{ "name": "monitoring01", "port": 1 }, { "name": "jelly01", "port": 3 }],
    });
    std::fs::write(&p, m.to_string()).unwrap();
    p
}

fn yaml_to_json(text: &str) -> serde_json::Value {
    let mut c = StdCommand::new("python3")
        .args(["-c", "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed to parse YAML (apt-get install python3 python3-yaml)");
    use std::io::Write as _;
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "not YAML (or python3-yaml missing: apt-get install python3-yaml): {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Golden test on the example: the override parses as YAML and has exactly
/// the driver, scheme and view of the six cabled hosts.
#[test]
fn the_example_override_parses_as_yaml_with_exactly_the_cabled_hosts() {
    let t = example();
    let out = hearth(t.path()).args(["preview", "kvm", "override"]).assert().success().get_output().stdout.clone();
    let v = yaml_to_json(&String::from_utf8(out).unwrap());
    let cabled = [("monitoring01", 1), ("http-proxy", 2), ("jelly01", 3), ("ns1", 4), ("ns2", 5), ("extgw01", 6)];
    let mut scheme = serde_json::Map::new();
    let mut table = vec![serde_json::json!(["#TESmart KVM switch at 10.69.13.31"]), serde_json::json!([])];
    for (host, port) in cabled {
        scheme.insert(format!("port{port}_led"), serde_json::json!({ "driver": "tesmart", "pin": port - 1, "mode": "input" }));
        scheme.insert(format!("port{port}_switch"), serde_json::json!({ "driver": "tesmart", "pin": port - 1, "mode": "output", "switch": false }));
        table.push(serde_json::json!([format!("#{host}"), format!("port{port}_led"), format!("port{port}_switch")]));
    }
    let expected = serde_json::json!({
        "kvmd": { "gpio": {
            "drivers": { "tesmart": { "type": "tesmart", "host": "10.69.13.31", "port": 5000, "timeout": 5, "switch_delay": 1, "state_poll": 10 } },
            "scheme": scheme,
            "view": { "header": { "title": "KVM switch" }, "table": table },
        } }
    });
    assert_eq!(v, expected);
}

#[test]
fn preview_kvm_needs_a_kvm_and_other_hosts_stay_hosts() {
    let t = example();
    hearth(t.path()).args(["preview", "kvm", "kvm-map"]).assert().success().stdout(predicate::str::contains("\"address\": \"10.69.13.31\""));
    hearth(t.path()).args(["preview", "jelly01", "override"]).assert().failure().stderr(predicate::str::contains("host `jelly01` has no kvm configuration"));
    hearth(t.path()).args(["preview", "nope", "override"]).assert().failure().stderr(predicate::str::contains("unknown host `nope`"));
    // `kvm` stands for the bastion only for the kvm area's own parts.
    hearth(t.path()).args(["preview", "kvm", "nftables"]).assert().failure().stderr(predicate::str::contains("unknown host `kvm`"));
}

#[test]
fn list_reports_1_based_ports_as_json() {
    let t = example();
    let out = hearth(t.path()).args(["kvm", "list", "--json"]).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[0], serde_json::json!({ "host": "monitoring01", "port": 1 }));
    assert_eq!(v[2], serde_json::json!({ "host": "jelly01", "port": 3 }));
    assert_eq!(v.as_array().unwrap().len(), 6);
}

#[test]
fn switch_and_status_by_host_name_against_the_simulator() {
    let t = TempDir::new().unwrap();
    let sim = simulate(&["--active", "1"]);
    let map = map_file(t.path(), sim.port);
    let m = map.to_str().unwrap();
    hearth(t.path()).args(["kvm", "--map", m, "status"]).assert().success().stdout("monitoring01 (port 1)\n");
    hearth(t.path()).args(["kvm", "--map", m, "switch", "jelly01"]).assert().success().stdout("switched to jelly01 (port 3)\n");
    hearth(t.path()).args(["kvm", "--map", m, "status", "--json"]).assert().success().stdout("{\"host\":\"jelly01\",\"port\":3}\n");
    hearth(t.path())
        .args(["kvm", "--map", m, "switch", "ghost"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("`ghost` is not cabled to the KVM switch; cabled hosts: monitoring01, jelly01"));
}

#[test]
fn a_slow_switch_times_out_clearly() {
    let t = TempDir::new().unwrap();
    let sim = simulate(&["--delay-ms", "3000"]);
    let map = map_file(t.path(), sim.port);
    let t0 = std::time::Instant::now();
    hearth(t.path())
        .args(["kvm", "--map", map.to_str().unwrap(), "--timeout", "1", "status"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("did not answer within 1s (waiting for the reply)"));
    assert!(t0.elapsed() < std::time::Duration::from_millis(2900), "{:?}", t0.elapsed());
}

#[test]
fn a_dropping_or_malformed_switch_is_reported_not_trusted() {
    let t = TempDir::new().unwrap();
    let sim = simulate(&["--fault", "drop"]);
    let map = map_file(t.path(), sim.port);
    hearth(t.path())
        .args(["kvm", "--map", map.to_str().unwrap(), "switch", "jelly01"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("closed the connection after 0 of 6 reply bytes"));
    let sim = simulate(&["--fault", "malformed"]);
    let map = map_file(t.path(), sim.port);
    hearth(t.path()).args(["kvm", "--map", map.to_str().unwrap(), "status"]).assert().failure().stderr(predicate::str::contains("malformed reply: AA BB 03 11 00 00"));
}

#[test]
fn an_unreachable_switch_is_reported() {
    let t = TempDir::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let map = map_file(t.path(), port);
    hearth(t.path()).args(["kvm", "--map", map.to_str().unwrap(), "status"]).assert().failure().stderr(predicate::str::contains("is unreachable"));
}

#[test]
fn push_jumps_through_the_bastion_and_sends_the_rendered_override() {
    let t = example();
    let log = t.path().join("ssh.log");
    let fake = t.path().join("fake-ssh");
    std::fs::write(&fake, format!("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> {0}; done\necho --- >> {0}\ncat >> {0}\n", log.display())).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    hearth(t.path())
        .args(["kvm", "push", "--user", "torjus", "--ssh", fake.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("pushed /etc/kvmd/override.yaml to the PiKVM at 10.69.13.30 (through extgw01)"));
    let got = std::fs::read_to_string(&log).unwrap();
    let (args, stdin) = got.split_once("---\n").unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args[..3], ["-o", "ProxyJump=torjus@10.69.13.20:22", "root@10.69.13.30"]);
    assert!(args[3].starts_with("set -e; rw; trap ro EXIT; cat > /etc/kvmd/override.yaml.hearth-new;"), "{}", args[3]);
    let preview = hearth(t.path()).args(["preview", "kvm", "override"]).assert().success().get_output().stdout.clone();
    assert_eq!(stdin.as_bytes(), &preview[..], "ssh gets exactly the rendered override on stdin");
    hearth(t.path()).args(["kvm", "push", "--dry-run"]).assert().success().stdout(predicate::str::contains("ssh -o ProxyJump=10.69.13.20:22 root@10.69.13.30 'set -e; rw;"));
}

#[test]
fn push_refuses_a_stale_render() {
    let t = example();
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap().replace("[kvm.hosts.ns2]\nport = 5", "[kvm.hosts.ns2]\nport = 7");
    std::fs::write(t.path().join("inventory.toml"), inv).unwrap();
    hearth(t.path()).args(["kvm", "push", "--dry-run"]).assert().failure().stderr(predicate::str::contains("hosts/extgw01/hearth.nix is not current"));
}

/// Every bad input of the issue: located errors, nothing written.
#[test]
fn bad_kvm_input_is_located_and_changes_nothing() {
    let cases = [
        ("[kvm.hosts.ns2]\nport = 5", "[kvm.hosts.ns2]\nport = 3", "kvm.hosts.ns2.port: switch port 3 is also the port of `jelly01`"),
        ("[kvm.hosts.ns2]\nport = 5", "[kvm.hosts.ns2]\nport = 9", "kvm.hosts.ns2.port: port 9 is beyond the switch's ports 1-8"),
        ("pikvm = \"10.69.13.30\"", "pikvm = \"192.168.0.30\"", "kvm.pikvm: 192.168.0.30 is not a usable address of the LAN 10.69.13.0/24"),
        ("address = \"10.69.13.31\"", "address = \"10.69.14.31\"", "kvm.switch.address: 10.69.14.31 is not a usable address"),
        ("[kvm.hosts.ns2]\nport = 5", "[kvm.hosts.\"ns2: {evil}\"]\nport = 5", "it would break the PiKVM's override.yaml"),
    ];
    for (from, to, want) in cases {
        let t = example();
        let text = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
        assert!(text.contains(from), "{from}");
        std::fs::write(t.path().join("inventory.toml"), text.replacen(from, to, 1)).unwrap();
        let before = std::fs::read(t.path().join("hosts/extgw01/hearth.nix")).unwrap();
        let out = hearth(t.path()).arg("render").assert().failure().get_output().stderr.clone();
        let err = String::from_utf8_lossy(&out);
        assert!(err.contains(want), "{to}: {err}");
        assert!(err.contains("inventory.toml:") && err.contains("nothing was written"), "{err}");
        assert_eq!(before, std::fs::read(t.path().join("hosts/extgw01/hearth.nix")).unwrap());
        hearth(t.path()).args(["preview", "kvm", "override"]).assert().failure();
    }
}
