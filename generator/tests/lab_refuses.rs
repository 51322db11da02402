//! `hearth lab` refuses to run where it cannot (not root, tools missing) and
//! says what to do, before it creates anything.

mod lab_common;

use std::process::Command;

#[test]
fn refuses_without_root_and_says_what_to_do() {
    let bin = env!("CARGO_BIN_EXE_hearth");
    // As root, drop to nobody for this one command; otherwise we already are not root.
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        if Command::new("setpriv").arg("--version").output().is_err() {
            println!("SKIPPED: setpriv (util-linux) is missing");
            return;
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(["lab", "run", "--inventory"])
        .arg(lab_common::repo().join("inventory.toml"))
        .arg("--identity")
        .arg(lab_common::identity())
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("hearth lab cannot run here; missing:"), "{err}");
    assert!(err.contains("root: the lab creates network namespaces and users (run it with sudo)"), "{err}");
}
