//! Writes a synthetic inventory for benchmarks (docs/performance.md):
//!
//!   cargo run --release --example synth -- --peers 5000 --services 500 --hosts 50 --out /tmp/synth
//!
//! One hub, one gateway+bastion, the rest LAN servers; peers spread over
//! groups; every service allows a few groups and one single peer. Keys are
//! the repo's TEST keys. Derived state (addresses, WireGuard keys, secrets)
//! is left for `hearth render` to create.

use std::fmt::Write as _;
use std::path::PathBuf;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(|v| v.parse().expect("a number")).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let peers = arg(&args, "--peers", 5000);
    let services = arg(&args, "--services", 500);
    let hosts = arg(&args, "--hosts", 50).max(3);
    let groups = arg(&args, "--groups", 20).max(1);
    let out: PathBuf = args.iter().position(|a| a == "--out").and_then(|i| args.get(i + 1)).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("synth"));
    let keys = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-keys");
    let read = |p: &str| std::fs::read_to_string(keys.join(p)).expect("test key").split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let admin = std::fs::read_to_string(keys.join("admin-TEST-ONLY.agekey.pub")).unwrap().trim().to_owned();
    // /16 pools so that 5,000 peers fit.
    let mut s = String::new();
    writeln!(s, "# Synthetic inventory: {peers} peers, {services} services, {hosts} hosts (TEST keys only).").unwrap();
    writeln!(s, "[network]\ndomain = \"synth.example.net\"\nlan = \"10.10.0.0/16\"\nvpn = \"10.20.0.0/16\"\nresolvers = [\"10.10.0.5\"]\n").unwrap();
    writeln!(s, "[wireguard]\npreshared_keys = true\n").unwrap();
    writeln!(s, "[admin]\nrecipients = [\"{admin}\"]\n").unwrap();
    writeln!(s, "[hosts.hub]\nroles = [\"wireguard-hub\"]\nendpoint = \"hub.synth.example.net:51820\"\nssh_key = \"{}\"\n", read("hosts/vps_ed25519_TEST_ONLY.pub")).unwrap();
    writeln!(s, "[hosts.gw]\nroles = [\"wireguard-gateway\", \"bastion\"]\naddress = \"10.10.0.2\"\nssh_key = \"{}\"\n", read("hosts/extgw01_ed25519_TEST_ONLY.pub")).unwrap();
    for h in 0..hosts - 2 {
        writeln!(s, "[hosts.lan{h}]\naddress = \"10.10.{}.{}\"\n", 1 + h / 250, 1 + h % 250).unwrap();
    }
    for p in 0..peers {
        writeln!(s, "[peers.peer{p}]\nkind = \"{}\"\ngroups = [\"g{}\", \"g{}\"]\n", if p % 2 == 0 { "phone" } else { "laptop" }, p % groups, (p / groups) % groups).unwrap();
    }
    for v in 0..services {
        let host = v % (hosts - 2);
        writeln!(
            s,
            "[services.svc{v}]\nhost = \"lan{host}\"\nport = {}\nproto = \"{}\"\nallow = [\"g{}\", \"g{}\", \"peer{}\"]\n",
            1000 + v / (hosts - 2),
            if v % 3 == 0 { "both" } else { "tcp" },
            v % groups,
            (v * 7) % groups,
            (v * 13) % peers.max(1)
        )
        .unwrap();
    }
    writeln!(s, "[users.admin]\nssh_keys = [\"{}\"]\n", read("admin-ssh_ed25519_TEST_ONLY.pub")).unwrap();
    writeln!(s, "[[acl_tests]]\nsrc = \"g0\"\naccept = [\"svc0\"]\n").unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("inventory.toml"), s).unwrap();
    eprintln!("wrote {}", out.join("inventory.toml").display());
}
