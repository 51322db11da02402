//! Shared helpers of the lab integration tests: a rendered copy of the
//! example repository in a temp dir, and the skip rule (root and tools).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The admin TEST identity the example's secrets are encrypted to.
pub fn identity() -> PathBuf {
    repo().join("test-keys/admin-TEST-ONLY.agekey")
}

/// `Some(reason)` when the lab cannot run here (not root, tools missing):
/// the test prints one `SKIPPED: reason` line and passes.
pub fn skip() -> Option<String> {
    let missing = hearth::lab::preflight();
    if missing.is_empty() {
        None
    } else {
        Some(missing.join("; "))
    }
}

#[macro_export]
macro_rules! skip_unless_lab {
    () => {
        if let Some(why) = lab_common::skip() {
            println!("SKIPPED: {why}");
            return;
        }
    };
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// A temp copy of the example repository with `inventory` (default: the
/// example's own) and the NixOS renderers, rendered with `hearth render`'s
/// library entry point.
pub fn rendered(inventory: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let inv = match inventory {
        Some(t) => t.to_string(),
        None => std::fs::read_to_string(repo().join("inventory.toml")).unwrap(),
    };
    std::fs::write(dir.path().join("inventory.toml"), inv).unwrap();
    copy_dir(&repo().join("modules"), &dir.path().join("modules"));
    if inventory.is_none() {
        // The example as committed: its keys, secrets and generated files.
        copy_dir(&repo().join("hosts"), &dir.path().join("hosts"));
        copy_dir(&repo().join("secrets"), &dir.path().join("secrets"));
    }
    render(dir.path());
    dir
}

pub fn render(root: &Path) {
    let id = identity();
    hearth::render::render(&root.join("inventory.toml"), || hearth::secrets::load_identities(Some(&id))).expect("render");
}

/// The lab's options for a repository: the test identity, the hearth binary
/// for the LAN hosts' responders, and the core checks only (each area's
/// stage has its own test).
pub fn run_opts(root: &Path, revoked: Vec<hearth::lab::build::Revoked>) -> hearth::lab::RunOpts {
    hearth::lab::RunOpts {
        inventory: root.join("inventory.toml"),
        identity: Some(identity()),
        revoked,
        exe: Some(PathBuf::from(env!("CARGO_BIN_EXE_hearth"))),
        scan: Default::default(),
        verbose: true,
        areas: Some(vec![]),
    }
}

/// Runs the lab on a repository with the library entry point (the hearth
/// binary runs the LAN hosts' responders).
pub fn run_lab(root: &Path, revoked: Vec<hearth::lab::build::Revoked>) -> hearth::lab::report::Report {
    hearth::lab::probe::raise_nofile(1 << 20);
    let opts = run_opts(root, revoked);
    let r = hearth::lab::run(&opts).expect("the lab could not be built");
    println!("{}", r.table());
    r
}

/// Runs `hearth lab run --json` on a repository; returns (exit code, report).
/// Only the core checks run unless `extra` names `--areas` (each area's
/// stage has its own test; `lab_example` runs them all).
pub fn lab_run_json(root: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let areas: &[&str] = if extra.contains(&"--areas") { &[] } else { &["--areas", "none"] };
    let out = assert_cmd::Command::cargo_bin("hearth")
        .unwrap()
        .args(["lab", "run", "--json", "--verbose", "--inventory"])
        .arg(root.join("inventory.toml"))
        .arg("--identity")
        .arg(identity())
        .args(extra)
        .args(areas)
        // Every area's stage on a loaded CI machine takes minutes.
        .timeout(std::time::Duration::from_secs(1800))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("no JSON report ({e}): {stdout}"));
    println!("{}", serde_json::to_string_pretty(&report["problems"]).unwrap());
    println!("timings: {}", report["timings"]);
    (out.status.code().unwrap_or(-1), report)
}

/// Runs the hearth binary with the repository's inventory and the TEST identity.
pub fn hearth(root: &Path, args: &[&str]) -> String {
    let out = assert_cmd::Command::cargo_bin("hearth").unwrap().args(args).arg("--inventory").arg(root.join("inventory.toml")).arg("--identity").arg(identity()).output().unwrap();
    assert!(out.status.success(), "hearth {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The problems of a report as one string, for assertions.
pub fn problems(report: &serde_json::Value) -> String {
    report["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect::<Vec<_>>().join("\n")
}

/// A small generated inventory: a gateway that is its own listener (no
/// hub), two LAN hosts, two peers, services by group and by single peer.
pub const NO_HUB: &str = r#"
[network]
domain = "home.example.net"
lan = "10.70.1.0/24"
vpn = "10.70.200.0/24"
resolvers = ["10.70.1.53"]

[wireguard]
interface = "hearth-gw"
port = 51820

[admin]
recipients = ["age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt"]

[hosts.gw]
roles = ["wireguard-gateway"]
address = "10.70.1.2"
endpoint = "home.example.net:51820"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"

[hosts.dns]
address = "10.70.1.53"

[hosts.nas]
address = "10.70.1.20"

[peers.laptop]
kind = "laptop"
groups = ["admins"]

[peers.phone]
kind = "phone"
groups = ["family"]

[services.files]
host = "nas"
port = "8000-8003"
allow = ["admins"]

[services.media]
host = "nas"
port = 8096
allow = ["admins", "family"]

[services.sync]
host = "nas"
port = 22000
proto = "both"
allow = ["phone"]

[[acl_tests]]
src = "family"
accept = ["media", "dns:53/udp", "sync"]
deny = ["files", "nas:22"]
"#;

/// A small generated inventory with a hub and three peers.
pub const SMALL_HUB: &str = r#"
[network]
domain = "home.example.net"
lan = "10.71.1.0/24"
vpn = "10.71.200.0/24"

[wireguard]
port = 51821

[admin]
recipients = ["age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt"]

[hosts.hub]
roles = ["wireguard-hub"]
endpoint = "vpn.example.net:51821"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID2SDbi/4YEFJnNlYbAjoYu6XTVgSxo4gHdwuPkRL3Ra"

[hosts.gw]
roles = ["wireguard-gateway"]
address = "10.71.1.2"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"

[hosts.web]
address = "10.71.1.80"

[peers.laptop]
kind = "laptop"
groups = ["admins"]

[peers.phone]
kind = "phone"
groups = ["admins"]

[peers.tablet]
kind = "phone"
groups = ["admins"]

[services.web]
host = "web"
port = [80, 443]
allow = ["admins"]
"#;

/// A small generated inventory whose gateway is also the bastion, trusting
/// an SSH user CA (certificates + TOTP), with one LAN host.
pub const BASTION_CA: &str = r#"
[network]
domain = "home.example.net"
lan = "10.72.1.0/24"
vpn = "10.72.200.0/24"

[wireguard]
port = 51821

[admin]
recipients = ["age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt"]

[bastion]
port = 22
ca = true

[hosts.hub]
roles = ["wireguard-hub"]
endpoint = "vpn.example.net:51821"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID2SDbi/4YEFJnNlYbAjoYu6XTVgSxo4gHdwuPkRL3Ra"

[hosts.bastion]
roles = ["wireguard-gateway", "bastion"]
address = "10.72.1.2"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"

[hosts.app]
address = "10.72.1.10"

[peers.laptop]
kind = "laptop"
groups = ["admins"]

[services.app]
host = "app"
port = 8080
allow = ["admins"]

[users.alice]
ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p alice-TEST"]
totp = true
"#;

/// What a lab with this prefix left behind: namespaces, wireguard-go
/// sockets, its directory, processes naming it, lab users. Empty when clean.
pub fn leftovers(prefix: &str) -> Vec<String> {
    let mut v = vec![];
    if let Ok(d) = std::fs::read_dir("/run/netns") {
        v.extend(d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with(prefix)));
    }
    if let Ok(d) = std::fs::read_dir("/var/run/wireguard") {
        v.extend(d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with(prefix)));
    }
    if Path::new("/run/hearth-lab").join(prefix).exists() {
        v.push(format!("/run/hearth-lab/{prefix}"));
    }
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(prefix) && !c.contains("lab_cleanup") && !c.contains("lab_example") && !c.contains("lab_broken") {
                v.push(format!("process {}: {c}", e.file_name().to_string_lossy()));
            }
        }
    }
    for u in ["a", "b", "c"] {
        if std::process::Command::new("id").arg(format!("{prefix}{u}")).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status().unwrap().success() {
            v.push(format!("user {prefix}{u}"));
        }
    }
    v
}

/// A generated inventory with ten peers in three groups (one of them also
/// granted a service directly) and one LAN host.
pub const MANY_PEERS: &str = r#"
[network]
domain = "home.example.net"
lan = "10.73.1.0/24"
vpn = "10.73.200.0/24"

[wireguard]
port = 51821

[admin]
recipients = ["age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt"]

[hosts.hub]
roles = ["wireguard-hub"]
endpoint = "vpn.example.net:51821"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID2SDbi/4YEFJnNlYbAjoYu6XTVgSxo4gHdwuPkRL3Ra"

[hosts.gw]
roles = ["wireguard-gateway"]
address = "10.73.1.2"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"

[hosts.srv]
address = "10.73.1.10"

[peers.p00]
kind = "phone"
groups = ["red"]

[peers.p01]
kind = "phone"
groups = ["green"]

[peers.p02]
kind = "phone"
groups = ["blue"]

[peers.p03]
kind = "phone"
groups = ["red"]

[peers.p04]
kind = "phone"
groups = ["green"]

[peers.p05]
kind = "phone"
groups = ["blue"]

[peers.p06]
kind = "phone"
groups = ["red"]

[peers.p07]
kind = "phone"
groups = ["green"]

[peers.p08]
kind = "phone"
groups = ["blue"]

[peers.p09]
kind = "phone"
groups = ["red"]

[services.red]
host = "srv"
port = 1000
allow = ["red"]

[services.green]
host = "srv"
port = "2000-2009"
allow = ["green"]

[services.blue]
host = "srv"
port = 3000
proto = "both"
allow = ["blue", "p00"]

[[acl_tests]]
src = "p03"
accept = ["red"]
deny = ["green", "srv:3000/udp"]

[[acl_tests]]
src = "p00"
accept = ["red", "blue"]
"#;

/// The example rendered for the ingress stage: None (after one `SKIPPED:`
/// line) when a program it runs is missing; else the directory, with the
/// TEST password behind nzbget's bcrypt hash where the lab looks for it.
pub fn ingress_ready() -> Option<tempfile::TempDir> {
    for (tool, pkg) in [("caddy", "caddy"), ("pebble", "pebble"), ("lego", "lego"), ("curl", "curl"), ("openssl", "openssl"), ("unbound", "unbound"), ("dig", "dnsutils")] {
        if hearth::lab::which(tool).is_none() {
            println!("SKIPPED: {tool} missing (Debian: {pkg})");
            return None;
        }
    }
    let dir = rendered(None);
    std::fs::create_dir_all(dir.path().join("test-keys")).unwrap();
    let key = "test-keys/ingress-basic-nzbget-TEST-ONLY.txt";
    std::fs::copy(repo().join(key), dir.path().join(key)).unwrap();
    Some(dir)
}
