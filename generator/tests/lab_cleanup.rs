//! Nothing is left behind: `hearth lab up` + `hearth lab down`, and a run
//! interrupted with SIGINT, remove every namespace, process, socket, user and
//! file they made.

mod lab_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn lab_of(pid: u32) -> Option<String> {
    for e in std::fs::read_dir("/run/hearth-lab").ok()?.filter_map(|e| e.ok()) {
        let st = std::fs::read_to_string(e.path().join("state.json")).unwrap_or_default();
        if st.contains(&format!("\"owner_pid\": {pid}")) {
            return Some(e.file_name().to_string_lossy().into_owned());
        }
    }
    None
}

#[test]
fn up_exec_down_leaves_nothing_behind() {
    skip_unless_lab!();
    let dir = lab_common::rendered(None);
    let out = lab_common::hearth(dir.path(), &["lab", "up"]);
    let prefix = out.split_whitespace().nth(1).unwrap().to_string();
    assert!(prefix.starts_with("hl"), "{out}");
    assert!(!lab_common::leftovers(&prefix).is_empty());
    // exec runs in the node's namespace: the laptop's tunnel is there.
    let exec = assert_cmd::Command::cargo_bin("hearth").unwrap().args(["lab", "exec", "--lab", &prefix, "laptop", "--", "ip", "-o", "addr"]).output().unwrap();
    let text = String::from_utf8_lossy(&exec.stdout);
    assert!(exec.status.success() && text.contains("10.69.222."), "{text}");
    let down = assert_cmd::Command::cargo_bin("hearth").unwrap().args(["lab", "down", &prefix]).output().unwrap();
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stdout));
    assert_eq!(lab_common::leftovers(&prefix), Vec::<String>::new());
}

#[test]
fn sigint_during_a_run_tears_everything_down() {
    skip_unless_lab!();
    let dir = lab_common::rendered(None);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["lab", "run", "--inventory"])
        .arg(dir.path().join("inventory.toml"))
        .arg("--identity")
        .arg(lab_common::identity())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the lab is up (the gateway's WireGuard daemon runs).
    let t0 = Instant::now();
    let prefix = loop {
        if let Some(p) = lab_of(child.id()) {
            if lab_common::leftovers(&p).iter().filter(|l| l.contains("wireguard-go")).count() >= 3 {
                break p;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the lab did not come up");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_secs(2));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(lab_common::leftovers(&prefix), Vec::<String>::new());
}
