//! Benchmark of `SecretStore::rekey` (issue 3, "Performance"): N secrets, each
//! encrypted to one admin age key and one ssh-ed25519 host key (the checked-in
//! TEST keys), rekeyed to a changed recipient set (the admin key replaced by
//! a second admin key, so every file keeps one age and one ssh-ed25519
//! recipient). Reports wall time and peak RSS (VmHWM) of the rekey process.
//!
//! ```text
//! cargo run --release --example rekey_bench -- --secrets 1000
//! cargo run --release --example rekey_bench -- --secrets 1000 --setup-only DIR   # for hyperfine/ragenix
//! cargo run --release --example rekey_bench -- --rekey-only DIR
//! ```
//!
//! `--setup-only DIR` also writes `DIR/secrets/secrets.nix` with the *new*
//! recipient set, so `ragenix --rekey -i test-keys/admin-TEST-ONLY.agekey
//! --rules DIR/secrets/secrets.nix` does exactly the same work.
//! The default mode runs the setup in a child process, so that the reported
//! peak RSS is that of the rekey alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use hearth::secrets::{agenix_rules, Identities, Recipient, SecretBytes, SecretStore};

const HOSTS: [&str; 8] = ["vps", "extgw01", "http-proxy", "monitoring01", "jelly01", "sonarr-jail", "radarr-jail", "nzbget-jail"];

fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-keys")
}

fn recipient(file: &str) -> Recipient {
    std::fs::read_to_string(keys().join(file)).unwrap().parse().unwrap()
}

fn items(n: usize, admin: &Recipient) -> Vec<(String, Vec<Recipient>)> {
    let hosts: Vec<Recipient> = HOSTS.iter().map(|h| recipient(&format!("hosts/{h}_ed25519_TEST_ONLY.pub"))).collect();
    (0..n)
        .map(|i| {
            let h = i % HOSTS.len();
            (format!("{}/secret-{i:05}.age", HOSTS[h]), vec![admin.clone(), hosts[h].clone()])
        })
        .collect()
}

fn setup(dir: &Path, n: usize) {
    let secrets = dir.join("secrets");
    let mut store = SecretStore::open(&secrets).unwrap();
    let old = items(n, &recipient("admin-TEST-ONLY.agekey.pub"));
    let batch: Vec<(String, SecretBytes, Vec<Recipient>)> = old
        .into_iter()
        .enumerate()
        .map(|(i, (rel, rs))| {
            // 44 bytes, like a base64 WireGuard private key.
            let value = format!("{:0>43}=", format!("benchmark-secret-{i}"));
            (rel, SecretBytes::new(value.into_bytes()), rs)
        })
        .collect();
    let report = store.write_many(&batch);
    if let Some((rel, e)) = report.failed.first() {
        eprintln!("setup failed for {} files; first: {rel}: {e}", report.failed.len());
        std::process::exit(1);
    }
    let new = items(n, &recipient("admin2-TEST-ONLY.agekey.pub"));
    let rules = agenix_rules(new.iter().map(|(rel, rs)| (rel.as_str(), rs.as_slice())), &[]);
    std::fs::write(secrets.join("secrets.nix"), rules).unwrap();
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

fn rekey(dir: &Path, n: usize) {
    let t0 = Instant::now();
    let ids = Identities::from_file(&keys().join("admin-TEST-ONLY.agekey")).unwrap();
    let mut store = SecretStore::open(dir.join("secrets")).unwrap();
    let n = if n == 0 { store.entries().count() } else { n };
    let new = items(n, &recipient("admin2-TEST-ONLY.agekey.pub"));
    let t1 = Instant::now();
    let report = store.rekey(&new, &ids, true);
    let t2 = Instant::now();
    if let Some((rel, e)) = report.failed.first() {
        eprintln!("rekey failed for {} of {} files; first: {rel}: {e}", report.failed.len(), n);
        std::process::exit(1);
    }
    println!(
        "rekey: {} rekeyed, {} unchanged, {} missing in {:.3} s (whole run incl. loading keys and manifest: {:.3} s); \
         peak RSS {:.1} MB; threads {}",
        report.rekeyed.len(),
        report.unchanged.len(),
        report.missing.len(),
        (t2 - t1).as_secs_f64(),
        (t2 - t0).as_secs_f64(),
        vm_hwm_kib() as f64 / 1024.0,
        rayon::current_num_threads(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut n = 1000;
    let mut mode = "all";
    let mut dir: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--secrets" => {
                n = args[i + 1].parse().expect("--secrets N");
                i += 1;
            }
            "--setup-only" | "--rekey-only" => {
                mode = if args[i] == "--setup-only" { "setup" } else { "rekey" };
                dir = Some(PathBuf::from(&args[i + 1]));
                i += 1;
            }
            "-h" | "--help" => {
                println!("rekey_bench [--secrets N] [--setup-only DIR | --rekey-only DIR]");
                return;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 1;
    }
    match mode {
        "setup" => setup(dir.as_deref().unwrap(), n),
        "rekey" => rekey(dir.as_deref().unwrap(), 0),
        _ => {
            let tmp = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
            let st = Command::new(std::env::current_exe().unwrap()).args(["--secrets", &n.to_string(), "--setup-only"]).arg(tmp.path()).status().unwrap();
            assert!(st.success());
            println!("{n} secrets in {}", tmp.path().display());
            rekey(tmp.path(), n);
            // Second run: everything is current, nothing is rewritten.
            rekey(tmp.path(), n);
        }
    }
}
