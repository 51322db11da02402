//! The lab on the example inventory: every ACL test, the full port matrix
//! and the bastion checks pass on real packets, through the `hearth lab run`
//! binary.

mod lab_common;

#[test]
fn example_inventory_passes_the_whole_lab() {
    skip_unless_lab!();
    let dir = lab_common::rendered(None);
    let (code, report) = lab_common::lab_run_json(dir.path(), &[]);
    assert_eq!(report["problems"], serde_json::json!([]), "{}", lab_common::problems(&report));
    assert_eq!(code, 0);
    assert_eq!(report["ok"], true);
    // Every client handshook; every ACL test and bastion check ran.
    let clients = report["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    assert!(clients.iter().all(|c| c["handshake"] == true && c["targets"].as_array().unwrap().len() == 8));
    assert_eq!(report["acl_tests"].as_array().unwrap().len(), 17);
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
    assert_eq!(report["timings"]["syn_sent"], 2 * 8 * 65535);
    assert_eq!(lab_common::leftovers(report["lab"].as_str().unwrap()), Vec::<String>::new(), "a passing run leaves nothing behind");
}
