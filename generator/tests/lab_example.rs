//! The lab on the example inventory: every ACL test, the full port matrix
//! and the bastion checks pass on real packets, through the `hearth lab run`
//! binary.

mod lab_common;

#[test]
fn example_inventory_passes_the_whole_lab() {
    skip_unless_lab!();
    let dir = lab_common::rendered(None);
    let (code, report) = lab_common::lab_run_json(dir.path(), &["--areas", "all"]);
    assert_eq!(report["problems"], serde_json::json!([]), "{}", lab_common::problems(&report));
    assert_eq!(code, 0);
    assert_eq!(report["ok"], true);
    // Every client handshook; every ACL test and bastion check ran.
    let clients = report["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    assert!(clients.iter().all(|c| c["handshake"] == true && c["targets"].as_array().unwrap().len() == 9));
    // Every area with something to prove ran its stage (and passed: no
    // problems above).
    let stages: Vec<&str> = report["areas"].as_array().unwrap().iter().map(|a| a[0].as_str().unwrap()).collect();
    for area in ["allowlist", "logs", "kvm", "ingress", "storage", "backup"] {
        assert!(stages.contains(&area), "the {area} stage did not run: {stages:?}");
    }
    // 17 before, the kvm tests (phone denied kvm-web and kvm-switch, the
    // laptop accepted) and the ingress tests (phone 80+443, admins 80+443
    // and http-proxy:443).
    assert_eq!(report["acl_tests"].as_array().unwrap().len(), 29);
    // The kvm stage: the simulator at the switch's address, switched from
    // the laptop and from the bastion's map, the phone dropped.
    let kvm = report["areas"].as_array().unwrap().iter().find(|a| a[0] == "kvm").expect("a kvm stage");
    let kvm: Vec<(&str, &str, bool)> = kvm[1].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap(), c["from"].as_str().unwrap(), c["ok"] == true)).collect();
    assert_eq!(
        kvm,
        [
            ("simulator answers at the switch's address", "kvm.switch", true),
            ("hearth kvm switch jelly01", "laptop", true),
            ("hearth kvm status", "laptop", true),
            ("hearth-kvm switch http-proxy (lib.kvm.switchMap)", "extgw01", true),
            ("hearth kvm switch monitoring01", "phone", true),
        ]
    );
    // The ingress's stage ran (areas: [[name, [checks]]]) and every check passed.
    let ingress = report["areas"].as_array().unwrap().iter().find(|a| a[0] == "ingress").expect("the ingress stage ran");
    let checks = ingress[1].as_array().unwrap();
    assert!(checks.len() >= 20 && checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    let bastion: Vec<&str> = report["bastion"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(
        bastion,
        [
            "key + current code",
            "the same code again",
            "key + wrong code",
            "code without key",
            "deploy: first connection (code), opens the master",
            "deploy: second connection through the master, no code",
            "deploy: second connection without the master, no code",
            "source outside VPN and LAN"
        ]
    );
    // Coverage: every probe SYN reached the gateway's filter.
    assert_eq!(report["timings"]["syn_sent"], report["timings"]["syn_reached_gateway"]);
    assert_eq!(report["timings"]["syn_sent"], 2 * 9 * 65535);
    assert_eq!(lab_common::leftovers(report["lab"].as_str().unwrap()), Vec::<String>::new(), "a passing run leaves nothing behind");
}
