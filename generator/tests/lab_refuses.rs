//! `hearth lab` refuses to run where it cannot (not root, tools missing) and
//! says what to do, before it creates anything.

mod lab_common;

use std::process::Command;

#[test]
fn refuses_without_root_and_says_what_to_do() {
    let bin = env!("CARGO_BIN_EXE_hearth");
    // As root, the command runs as nobody (std drops the supplementary
    // groups when it sets the uid); otherwise we already are not root.
    let mut cmd = Command::new(bin);
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::process::CommandExt as _;
        cmd.uid(65534).gid(65534);
    }
    let out = cmd
        .args(["lab", "run", "--inventory"])
        .arg(lab_common::repo().join("inventory.toml"))
        .arg("--identity")
        .arg(lab_common::identity())
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("hearth lab cannot run here; missing:"), "{err}");
    assert!(err.contains("root: the lab creates network namespaces and users (run it with sudo)"), "{err}");
}
