//! The lab on the example inventory: every ACL test, the full port matrix
//! and the bastion checks pass on real packets, through the `hearth lab run`
//! binary.

mod lab_common;

use assert_cmd::Command;

#[test]
fn example_inventory_passes_the_whole_lab() {
    skip_unless_lab!();
    let dir = lab_common::rendered(None);
    let out = Command::cargo_bin("hearth")
        .unwrap()
        .args(["lab", "run", "--json", "--inventory"])
        .arg(dir.path().join("inventory.toml"))
        .arg("--identity")
        .arg(lab_common::identity())
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["problems"], serde_json::json!([]), "{stdout}");
    assert!(out.status.success());
    assert!(report["ok"].as_bool().unwrap());
    // Every client handshook, every ACL test and bastion check ran.
    assert_eq!(report["clients"].as_array().unwrap().len(), 2);
    assert!(report["acl_tests"].as_array().unwrap().len() >= 10);
    assert!(report["bastion"].as_array().unwrap().len() >= 5, "{stdout}");
    eprintln!("timings: {}", report["timings"]);
}
