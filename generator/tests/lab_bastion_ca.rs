//! The bastion in SSH user CA mode, on real sshd and PAM: a certificate
//! signed by the inventory's CA (a hearth secret) plus the current code gets
//! a shell; an expired certificate does not; key + code, wrong code, code
//! without key, a reused code and a source outside VPN and LAN behave as
//! without a CA.

mod lab_common;

#[test]
fn ca_certificates_and_totp_on_a_gateway_bastion() {
    skip_unless_lab!();
    let dir = lab_common::rendered(Some(lab_common::BASTION_CA));
    let hn = std::fs::read_to_string(dir.path().join("hosts/bastion/hearth.nix")).unwrap();
    assert!(hn.contains("hearth-user-ca"), "the rendered bastion trusts the CA: {hn}");
    let (code, report) = lab_common::lab_run_json(dir.path(), &[]);
    assert_eq!(report["problems"], serde_json::json!([]), "{}", lab_common::problems(&report));
    assert_eq!(code, 0);
    let checks: Vec<(String, String)> =
        report["bastion"].as_array().unwrap().iter().map(|b| (b["name"].as_str().unwrap().to_string(), b["seen"].as_str().unwrap().to_string())).collect();
    let names: Vec<&str> = checks.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "key + current code",
            "the same code again",
            "key + wrong code",
            "code without key",
            "CA certificate + code",
            "expired certificate + code",
            "deploy: first connection (code), opens the master",
            "deploy: second connection through the master, no code",
            "deploy: second connection without the master, no code",
            "source outside VPN and LAN"
        ]
    );
    assert_eq!(checks[4].1, "shell");
    assert!(checks[5].1.starts_with("denied"), "{checks:?}");
}
