//! The allowlist area: the gateway's nftables filter between VPN clients and
//! the LAN (`hearth.allowlist`, `modules/lib/allowlist.nix`,
//! `modules/allowlist.nix`). Who may reach what is resolved in
//! [`crate::policy`].
//!
//! Its lab stage proves on packets that a web service behind auth keeps its
//! port closed to the very peers its allow list admits ([`auth_guards_the_port`]).

use std::collections::BTreeSet;
use std::net::SocketAddrV4;
use std::time::Duration;

use super::{Area, HostCx, LabCx, Preview};
use crate::inventory::Role;
use crate::lab::bastion::Check;
use crate::lab::probe;
use crate::nix::{Attrs, Value};
use crate::policy::Via;

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

    fn lab(&self, cx: &LabCx) -> Option<Result<Vec<Check>, crate::lab::LabError>> {
        let al = crate::policy::allowlist(cx.inv);
        if !al.rules.iter().any(|r| r.via == Via::Ingress) {
            return None;
        }
        Some(auth_guards_the_port(cx, &al))
    }
}

/// The lab stage: every connected client that the allow list admits to a
/// web service behind auth (`Via::Ingress`) opens real TCP connections to
/// that service's backend port, which must stay closed: asked three times,
/// so a lost SYN cannot hide an opening. Its control: the same client must
/// open a port the gateway does forward for it (the ingress's, when it has
/// it), so a closed port is the ruleset's doing, not a dead tunnel. That the
/// same client gets the service by name through the ingress, after the
/// auth, is the ingress stage's check (`area::ingress::lab`).
pub fn auth_guards_the_port(cx: &LabCx, al: &crate::policy::Allowlist) -> Result<Vec<Check>, crate::lab::LabError> {
    let mut checks = vec![];
    let lab_addrs: BTreeSet<std::net::Ipv4Addr> = cx.plan.targets.iter().map(|t| t.addr).collect();
    for c in cx.plan.clients.iter().filter(|c| c.connects) {
        let admitted = |r: &crate::policy::Rule| r.from.iter().any(|f| al.sources.get(f).is_some_and(|s| s.contains(&c.address)));
        // (service, backend) pairs this client may reach only by name.
        let mut closed: Vec<(String, SocketAddrV4)> = vec![];
        for r in al.rules.iter().filter(|r| r.via == Via::Ingress && r.proto.contains(&"tcp") && admitted(r)) {
            for to in r.to.iter().filter(|a| lab_addrs.contains(a)) {
                for p in &r.ports {
                    closed.extend([p.start, p.end].into_iter().collect::<BTreeSet<u16>>().into_iter().map(|port| (r.name.clone(), SocketAddrV4::new(*to, port))));
                }
            }
        }
        if closed.is_empty() {
            continue;
        }
        // The control: a forwarded TCP port of this client on a lab host,
        // the ingress's first.
        let mut open: Vec<_> = crate::policy::reachable(al, c.address).into_iter().filter(|(a, proto, ..)| *proto == "tcp" && lab_addrs.contains(a)).collect();
        open.sort_by_key(|(_, _, _, rule)| *rule != "ingress");
        let Some((caddr, _, crange, crule)) = open.first().copied() else {
            checks.push(Check::skipped("a forwarded port to compare with", &c.name, "the client may reach no TCP port on a lab host, so a closed port proves nothing"));
            continue;
        };
        let control = SocketAddrV4::new(caddr, crange.start);
        let ns = cx.lab.ns(&c.name)?;
        let targets: Vec<SocketAddrV4> = closed.iter().map(|(_, a)| *a).collect();
        let (control_open, seen_open) = probe::in_netns(&ns, move || {
            // The control, patiently: 2, 4, 8, then 10 s (a handshake may be
            // due first on a loaded machine).
            let mut control_open = false;
            for round in 0..6u32 {
                let timeout = Duration::from_secs((2u64 << round.min(3)).min(10));
                if !probe::tcp_scan(&[control], probe::ScanOpts { window: 1, timeout })?.is_empty() {
                    control_open = true;
                    break;
                }
            }
            // The ports behind auth, three times each: any opening counts.
            let mut seen = BTreeSet::new();
            for _ in 0..3 {
                seen.extend(probe::tcp_scan(&targets, probe::ScanOpts { window: 16, timeout: Duration::from_secs(3) })?);
            }
            Ok((control_open, seen))
        })?;
        let state = |open: bool| if open { "open" } else { "closed" };
        checks.push(Check {
            name: format!("control: {crule} at {control} (forwarded for this client)"),
            from: c.name.clone(),
            expected: "open".into(),
            seen: state(control_open).into(),
            ok: control_open,
        });
        for (svc, a) in &closed {
            let def = cx.inv.services.get(svc);
            let auth = match def.and_then(|d| d.auth) {
                Some(crate::area::ingress::Auth::Basic) => "basic",
                Some(crate::area::ingress::Auth::Forward) => "forward",
                _ => "none",
            };
            let by_name = crate::area::ingress::url(cx.inv, svc).unwrap_or_else(|| "its name".into());
            let was_open = seen_open.contains(a);
            checks.push(Check {
                name: format!("{svc} directly at {a} (auth = \"{auth}\"; allowed by name at {by_name})"),
                from: c.name.clone(),
                expected: "closed".into(),
                seen: if was_open { "open: the gateway forwards to a backend behind auth".into() } else { "closed".into() },
                // Closed counts only when the control shows the path works.
                ok: !was_open && control_open,
            });
        }
    }
    if checks.is_empty() {
        checks.push(Check::skipped("a web service behind auth, directly", "-", "no client in the lab is admitted to a web service behind auth"));
    }
    Ok(checks)
}
