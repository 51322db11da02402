//! A generated inventory without a hub: clients dial the gateway directly
//! (through the home router's port forward); group and single-peer services,
//! port ranges and a tcp+udp service all hold on real packets.

mod lab_common;

#[test]
fn clients_dial_the_gateway_directly_without_a_hub() {
    skip_unless_lab!();
    let dir = lab_common::rendered(Some(lab_common::NO_HUB));
    let (code, report) = lab_common::lab_run_json(dir.path(), &[]);
    assert_eq!(report["problems"], serde_json::json!([]), "{}", lab_common::problems(&report));
    assert_eq!(code, 0);
    let clients = report["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    assert!(clients.iter().all(|c| c["handshake"] == true));
    let nas = |c: &str| {
        let cl = clients.iter().find(|x| x["name"] == c).unwrap();
        cl["targets"].as_array().unwrap().iter().find(|t| t["name"] == "nas").unwrap()["seen"].as_str().unwrap().to_string()
    };
    assert_eq!(nas("laptop"), "tcp 8000-8003,8096");
    assert_eq!(nas("phone"), "tcp 8096,22000; udp 22000");
    assert_eq!(report["acl_tests"].as_array().unwrap().len(), 7);
}
