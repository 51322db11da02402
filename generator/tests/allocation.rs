//! Address allocation is stable: over any sequence of peer adds and removes,
//! no existing peer is ever renumbered, no address is handed out twice, and
//! a removed peer's address is not reused unless asked for.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use hearth::inventory::{Loaded, Peer};
use hearth::render::allocate;
use proptest::prelude::*;

const BASE: &str = r#"
[network]
domain = "home.example.net"
lan = "10.0.0.0/24"
vpn = "10.1.0.0/27"
reserved = ["10.1.0.1"]

[hosts.gw]
roles = ["wireguard-gateway"]
address = "10.0.0.2"
endpoint = "home.example.net:51820"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"
vpn_address = "10.1.0.2"
"#;

#[derive(Debug, Clone)]
enum Op {
    Add { reuse: bool },
    Remove(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => Just(Op::Add { reuse: false }), 1 => Just(Op::Add { reuse: true }), 2 => (0usize..64).prop_map(Op::Remove)]
}

proptest! {
    #[test]
    fn adds_and_removes_never_renumber_or_reuse(ops in prop::collection::vec(op(), 1..60)) {
        let mut inv = Loaded::parse(Path::new("inventory.toml"), BASE.into()).unwrap().inv;
        let mut assigned: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
        let mut ever_given: Vec<Ipv4Addr> = vec![];
        let mut n = 0;
        for op in ops {
            match op {
                Op::Add { reuse } => {
                    if reuse {
                        if let Some(a) = inv.network.retired.iter().min().copied() {
                            inv.network.retired.retain(|x| *x != a);
                        }
                    }
                    let Some(a) = allocate(&inv) else { continue }; // pool full
                    prop_assert!(inv.network.vpn.contains(&a));
                    prop_assert!(a != inv.network.vpn.network() && a != inv.network.vpn.broadcast());
                    prop_assert!(!inv.network.reserved.contains(&a));
                    prop_assert!(!inv.network.retired.contains(&a), "retired address {} reused without --reuse-address", a);
                    prop_assert!(!inv.vpn_addresses().iter().any(|(x, _)| *x == a), "{} handed out twice", a);
                    if !reuse {
                        prop_assert!(!ever_given.contains(&a), "{} reused without being asked", a);
                    }
                    ever_given.push(a);
                    let name = format!("p{n}");
                    n += 1;
                    inv.peers.insert(name.clone(), Peer { address: Some(a), ..Peer::default() });
                    assigned.insert(name, a);
                }
                Op::Remove(i) => {
                    if assigned.is_empty() { continue }
                    let name = assigned.keys().nth(i % assigned.len()).unwrap().clone();
                    let a = assigned.remove(&name).unwrap();
                    inv.peers.remove(&name);
                    inv.network.retired.push(a);
                }
            }
            // Nobody was renumbered.
            for (name, a) in &assigned {
                prop_assert_eq!(inv.peers[name].address, Some(*a));
            }
        }
    }
}
