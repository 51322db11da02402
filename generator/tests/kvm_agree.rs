//! Rust validation and the Nix renderer agree on the KVM: for 300 random
//! `[kvm]` sections (ports, cabling, names, timings around every bound),
//! `hearth check` accepts the inventory exactly when `lib.kvm.override` and
//! `lib.kvm.switchMap` render the `hearth.kvm` data the area writes without
//! throwing. One nix-instantiate call evaluates every case.

use std::path::Path;

use hearth::area::Area as _;
use rand::{rngs::StdRng, Rng, SeedableRng};

const BASE: &str = r#"
[network]
domain = "home.example.net"
lan = "10.0.0.0/24"
vpn = "10.1.0.0/24"

[hosts.gw]
roles = ["wireguard-gateway", "bastion"]
address = "10.0.0.2"
endpoint = "home.example.net:51820"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"

[hosts.nas]
address = "10.0.0.10"
[hosts.media]
address = "10.0.0.11"
[hosts.web]
address = "10.0.0.12"
[hosts.db]
address = "10.0.0.13"

[peers.laptop]
groups = ["admins"]

[users.me]
ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p me"]
"#;

fn pick<T: Copy>(r: &mut StdRng, xs: &[T]) -> T {
    xs[r.gen_range(0..xs.len())]
}

#[test]
fn validation_and_renderer_agree_on_random_kvm_sections() {
    if std::process::Command::new("nix-instantiate").arg("--version").output().is_err() {
        panic!("nix-instantiate is needed (apt-get install nix-bin)");
    }
    let mut r = StdRng::seed_from_u64(16);
    let mut cases = vec![];
    for _ in 0..300 {
        let mut t = String::from("[kvm]\npikvm = \"10.0.0.30\"\n[kvm.switch]\naddress = \"10.0.0.31\"\n");
        // Mostly good values, each bound crossed now and then.
        let good = |r: &mut StdRng| r.gen_range(0..12) != 0;
        let port = if good(&mut r) { 5000 } else { 0 };
        let ports = if good(&mut r) { pick(&mut r, &[4, 8, 8, 8, 16]) } else { pick(&mut r, &[0, 17]) };
        let timeout = if good(&mut r) { pick(&mut r, &[1, 5, 60]) } else { pick(&mut r, &[0, 61]) };
        let delay = if good(&mut r) { pick(&mut r, &[0, 1, 30]) } else { 31 };
        let poll = if good(&mut r) { pick(&mut r, &[1, 10, 3600]) } else { pick(&mut r, &[0, 3601]) };
        t += &format!("port = {port}\nports = {ports}\ntimeout = {timeout}\nswitch_delay = {delay}\nstate_poll = {poll}\n");
        let (mut names, mut bad) = (vec!["nas", "media", "web", "db"], vec!["x_y", "Nas"]);
        for _ in 0..r.gen_range(0..4) {
            let i = r.gen_range(0..names.len());
            // Each name once (a TOML key twice does not parse).
            let n = if good(&mut r) || bad.is_empty() { names.remove(i) } else { bad.remove(0) };
            // Collisions come from the small range; 0 and beyond-the-switch now and then.
            let p = if good(&mut r) { r.gen_range(1..=4) } else { pick(&mut r, &[0, 9, 17]) };
            t += &format!("[kvm.hosts.{n}]\nport = {p}\n");
        }
        let loaded = hearth::inventory::Loaded::parse(Path::new("inventory.toml"), format!("{BASE}{t}")).expect("parses");
        let valid = hearth::validate::check(&loaded).is_ok();
        let inv = &loaded.inv;
        let specs = hearth::topology::secrets(inv);
        let al = hearth::policy::allowlist(inv);
        let cx = hearth::area::HostCx { inv, specs: &specs, allowlist: &al, name: "gw" };
        let data = hearth::area::kvm::Kvm.host_data(&cx).expect("the bastion carries hearth.kvm");
        cases.push((t, valid, hearth::nix::print(&data)));
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/lib").canonicalize().unwrap();
    let list: String = cases.iter().map(|(_, _, d)| format!("({d})\n")).collect();
    let expr = format!(
        "let lib = import {}; ok = c: (builtins.tryEval (builtins.deepSeq [ (lib.kvm.override c) (lib.kvm.switchMap c) ] true)).success; in map ok [\n{list}]",
        lib.display()
    );
    let got = hearth::preview::nix_eval(&expr, &[]).expect("evaluates");
    let got: Vec<bool> = serde_json::from_value(got).unwrap();
    assert_eq!(got.len(), cases.len());
    let mut disagree = vec![];
    for ((t, valid, _), renders) in cases.iter().zip(&got) {
        if valid != renders {
            disagree.push(format!("check {} but the renderer {}:\n{t}", if *valid { "accepts" } else { "rejects" }, if *renders { "renders" } else { "throws" }));
        }
    }
    assert!(disagree.is_empty(), "{} disagreements, first:\n{}", disagree.len(), disagree[0]);
    let n_valid = cases.iter().filter(|c| c.1).count();
    assert!(n_valid > 30 && n_valid < 270, "both outcomes are exercised: {n_valid} of 300 valid");
}
