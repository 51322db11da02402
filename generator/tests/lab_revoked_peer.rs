//! A removed peer: its old wg-quick config (kept by the device) gets no
//! handshake, and its address reaches nothing, while the remaining peers
//! still reach what they may.

mod lab_common;

#[test]
fn removed_peer_cannot_handshake_and_reaches_nothing() {
    skip_unless_lab!();
    let dir = lab_common::rendered(Some(lab_common::SMALL_HUB));
    // The config the tablet has, then the tablet is removed and re-rendered.
    let config = lab_common::hearth(dir.path(), &["peer", "config", "tablet"]);
    assert!(config.contains("[Interface]"), "{config}");
    let conf = dir.path().join("tablet-TEST-ONLY.conf");
    std::fs::write(&conf, &config).unwrap();
    lab_common::hearth(dir.path(), &["peer", "remove", "tablet"]);
    lab_common::hearth(dir.path(), &["render"]);
    assert!(!std::fs::read_to_string(dir.path().join("hosts/hub/hearth.nix")).unwrap().contains("tablet"));

    let revoked = format!("tablet={}", conf.display());
    let (code, report) = lab_common::lab_run_json(dir.path(), &["--revoked", &revoked]);
    assert_eq!(report["problems"], serde_json::json!([]), "{}", lab_common::problems(&report));
    assert_eq!(code, 0);
    let clients = report["clients"].as_array().unwrap();
    let tablet = clients.iter().find(|c| c["name"] == "tablet").expect("the revoked client was in the lab");
    assert_eq!(tablet["handshake"], false);
    assert!(tablet["targets"].as_array().unwrap().iter().all(|t| t["seen"] == "-"), "{tablet}");
    for name in ["laptop", "phone"] {
        let c = clients.iter().find(|c| c["name"] == name).unwrap();
        assert_eq!(c["handshake"], true);
        assert_eq!(c["targets"][0]["seen"], "tcp 80,443");
    }
}
