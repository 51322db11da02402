//! The WireGuard area: hub, gateway and client tunnels (`hearth.wireguard`,
//! `modules/lib/wireguard.nix`, `modules/wireguard.nix`). The topology itself
//! (peers, AllowedIPs, endpoints, keys) is decided in [`crate::topology`].

use super::{Area, HostCx, Preview};
use crate::inventory::Inventory;
use crate::nix::{Attrs, Value};
use crate::topology::{self, SecretKind, SecretSpec};
use crate::validate::{self, Sink};

pub struct Wireguard;

impl Area for Wireguard {
    fn name(&self) -> &'static str {
        "wireguard"
    }

    fn roles(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("wireguard-hub", "Public WireGuard endpoint; forwards between its peers, no policy of its own."),
            ("wireguard-gateway", "Inside the LAN: dials the hub (or listens when there is none), filters and forwards into the LAN."),
            ("wireguard-client", "A NixOS machine that is a VPN client."),
        ]
    }

    fn validate(&self, inv: &Inventory, s: &mut Sink) {
        let wg = &inv.wireguard;
        if let Some(m) = validate::interface_problem(&wg.interface) {
            s.err(&["wireguard", "interface"], m, "e.g. interface = \"hearth0\"");
        }
        if wg.port == 0 {
            s.err(&["wireguard", "port"], "port 0 is not a port", "use e.g. 51820");
        }
        if wg.mtu < 1280 {
            s.err(&["wireguard", "mtu"], format!("MTU {} is below 1280", wg.mtu), "WireGuard needs at least 1280 (the IPv6 minimum); 1420 is the usual value");
        }
        if wg.keepalive == 0 {
            s.err(&["wireguard", "keepalive"], "a keepalive of 0 seconds is not a keepalive", "use e.g. 25 (seconds), the usual value behind NAT");
        }
    }

    fn secrets(&self, inv: &Inventory, out: &mut Vec<SecretSpec>) {
        out.extend(topology::wireguard_secrets(inv));
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        let (inv, name) = (cx.inv, cx.name);
        let wg = topology::host(inv, name)?;
        let key = cx.specs.iter().find(|s| matches!(&s.kind, SecretKind::WireguardKey { node } if node == name)).expect("wireguard hosts have a key spec");
        let peers = wg
            .peers
            .iter()
            .map(|p| {
                Value::from(
                    Attrs::new()
                        .set("name", p.name.clone())
                        .set("publicKey", p.public_key.to_string())
                        .set("allowedIPs", Value::strs(p.allowed_ips.clone()))
                        .set("endpoint", Value::opt_str(p.endpoint.as_ref().map(|e| e.to_string())))
                        .set("persistentKeepalive", p.persistent_keepalive)
                        .set("presharedKeySecret", Value::opt_str(p.psk_secret.clone())),
                )
            })
            .collect();
        let masq = match &wg.masquerade {
            Some((s, d)) => Attrs::new()
                .set("enable", true)
                .set("sources", Value::strs(s.clone()))
                .set("destinations", Value::strs(d.clone()))
                .set("except", Value::strs(wg.masquerade_except.clone())),
            None => Attrs::new().set("enable", false).set("sources", Value::List(vec![])).set("destinations", Value::List(vec![])).set("except", Value::List(vec![])),
        };
        Some(
            Attrs::new()
                .set("enable", true)
                .set("interface", inv.wireguard.interface.clone())
                .set("role", wg.role)
                .set("addresses", Value::strs([format!("{}/32", wg.address)]))
                .set("listenPort", wg.listen_port)
                .set("mtu", inv.wireguard.mtu)
                .set("privateKeySecret", key.age_name(name))
                .set("forwarding", wg.forwarding)
                .set("masquerade", masq)
                .set("peers", Value::List(peers))
                .into(),
        )
    }

    fn previews(&self) -> &'static [Preview] {
        &[
            Preview { part: "wireguard", needs: "a wireguard-* role", expr: "lib.wireguard.interface host.hearth.wireguard", when: "true" },
            Preview { part: "wg-setconf", needs: "a wireguard-* role", expr: "lib.wireguard.setconf host.hearth.wireguard", when: "true" },
            Preview { part: "nat", needs: "a wireguard-* role", expr: "lib.wireguard.natTable host.hearth.wireguard", when: "true" },
        ]
    }
}
