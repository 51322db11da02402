//! Many peers: ten clients in three groups scan at once through the hub;
//! each sees exactly its group's services (and p00 also the service granted
//! to it by name).

mod lab_common;

#[test]
fn ten_peers_each_reach_exactly_their_groups_services() {
    skip_unless_lab!();
    let dir = lab_common::rendered(Some(lab_common::MANY_PEERS));
    let (code, report) = lab_common::lab_run_json(dir.path(), &[]);
    assert_eq!(report["problems"], serde_json::json!([]), "{}", lab_common::problems(&report));
    assert_eq!(code, 0);
    let clients = report["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 10);
    for c in clients {
        let i: usize = c["name"].as_str().unwrap()[1..].parse().unwrap();
        let want = match (i, i % 3) {
            (0, _) => "tcp 1000,3000; udp 3000",
            (_, 0) => "tcp 1000",
            (_, 1) => "tcp 2000-2009",
            _ => "tcp 3000; udp 3000",
        };
        assert_eq!(c["targets"][0]["seen"], want, "{}", c["name"]);
    }
    assert_eq!(lab_common::leftovers(report["lab"].as_str().unwrap()), Vec::<String>::new());
}
