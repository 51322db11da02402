//! The allowlist area: the gateway's nftables filter between VPN clients and
//! the LAN (`hearth.allowlist`, `modules/lib/allowlist.nix`,
//! `modules/allowlist.nix`). Who may reach what is resolved in
//! [`crate::policy`].

use super::{Area, HostCx, Preview};
use crate::inventory::Role;
use crate::nix::{Attrs, Value};

pub struct Allowlist;

impl Area for Allowlist {
    fn name(&self) -> &'static str {
        "allowlist"
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        let (inv, h, al) = (cx.inv, cx.host(), cx.allowlist);
        if !h.has(Role::WIREGUARD_GATEWAY) {
            return None;
        }
        let srcs = al.sources.iter().map(|(k, v)| (k.clone(), Value::strs(v.iter().map(|a| a.to_string())))).collect();
        // Only the rules the gateway forwards packets for: a web service
        // behind auth is reached by name through the ingress alone
        // (`policy::Via`, decided in `policy::allowlist`).
        let rules = al
            .flows()
            .map(|r| {
                Value::from(
                    Attrs::new()
                        .set("name", r.name.clone())
                        .set("from", Value::strs(r.from.clone()))
                        .set("to", Value::strs(r.to.iter().map(|a| a.to_string())))
                        .set("proto", Value::strs(r.proto.iter().copied()))
                        .set("ports", Value::strs(r.ports.iter().map(|p| p.to_string()))),
                )
            })
            .collect();
        let sources: Vec<String> = inv.bastion_sources().iter().map(|n| n.to_string()).collect();
        Some(
            Attrs::new()
                .set("enable", true)
                .set("interface", inv.wireguard.interface.clone())
                .set("sources", Value::Attrs(srcs))
                .set("rules", Value::List(rules))
                .set("log", Attrs::new().set("enable", true).set("rate", "10/minute"))
                .set(
                    "ssh",
                    Attrs::new().set("enable", h.has(Role::BASTION)).set("port", inv.bastion.port).set("sources", Value::strs(sources)).set("rate", "10/minute").set("burst", 5u16),
                )
                .into(),
        )
    }

    fn previews(&self) -> &'static [Preview] {
        &[Preview { part: "nftables", needs: "the wireguard-gateway role", expr: "lib.allowlist.allowlistRuleset host.hearth.allowlist", when: "true" }]
    }
}
