//! Shared helpers for the secrets integration tests: the checked-in TEST keys
//! and a scratch secrets directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hearth::secrets::{Identities, Recipient};

pub const HOSTS: [&str; 8] = ["vps", "extgw01", "http-proxy", "monitoring01", "jelly01", "sonarr-jail", "radarr-jail", "nzbget-jail"];

pub fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-keys")
}

pub fn admin_key() -> PathBuf {
    keys().join("admin-TEST-ONLY.agekey")
}
pub fn admin2_key() -> PathBuf {
    keys().join("admin2-TEST-ONLY.agekey")
}
pub fn admin_ssh_key() -> PathBuf {
    keys().join("admin-ssh_ed25519_TEST_ONLY")
}
pub fn host_key(host: &str) -> PathBuf {
    keys().join(format!("hosts/{host}_ed25519_TEST_ONLY"))
}

fn pubkey(path: PathBuf) -> Recipient {
    std::fs::read_to_string(&path).unwrap().parse().unwrap()
}
pub fn admin() -> Recipient {
    pubkey(keys().join("admin-TEST-ONLY.agekey.pub"))
}
pub fn admin2() -> Recipient {
    pubkey(keys().join("admin2-TEST-ONLY.agekey.pub"))
}
pub fn admin_ssh() -> Recipient {
    pubkey(keys().join("admin-ssh_ed25519_TEST_ONLY.pub"))
}
pub fn host(h: &str) -> Recipient {
    pubkey(keys().join(format!("hosts/{h}_ed25519_TEST_ONLY.pub")))
}

pub fn ids(path: &Path) -> Identities {
    Identities::from_file(path).unwrap()
}

/// A temp dir with an (empty, not yet created) `secrets/` inside.
pub fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    (dir, secrets)
}

/// Runs the real `age` CLI (Debian package `age`).
pub fn age_cli(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("age")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the `age` CLI is needed for the interop tests: apt-get install age");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Every regular file under `dir` (recursively), with its bytes.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Asserts `needle` occurs in no file under `dir` (agenix's "no plaintext left behind").
pub fn assert_nowhere(dir: &Path, needle: &[u8]) {
    for (p, bytes) in snapshot(dir) {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "plaintext found in {}", p.display());
    }
}
