//! Policy resolution: services and their `allow` lists become the gateway's
//! allowlist data (named source sets and rules, addresses resolved), and
//! `[[acl_tests]]` are decided against exactly that data. The nftables text
//! is rendered from the same data by `modules/lib/nftables.nix`; the lab
//! proves the two agree on real packets.
//!
//! A rule either opens a direct flow (`Via::Direct`: rendered into
//! nftables) or, for a web service behind the ingress's `basic` or `forward`
//! auth, admits its peers only by name through the ingress (`Via::Ingress`:
//! no flow to the backend's port, so no peer can walk around the auth; the
//! ingress enforces the same sources at L7). [`Allowlist::flows`] is the
//! one place that says which rules become packets.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::inventory::{Inventory, PortRange};

/// Name of the source set holding every VPN client.
pub const ALL_CLIENTS: &str = "*";

/// The source-set name of a single peer granted directly.
pub fn peer_source(name: &str) -> String {
    format!("peer:{name}")
}

/// How a rule's sources reach its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The gateway forwards packets to `to` on `proto`/`ports`.
    Direct,
    /// Only by name through the ingress: a web service whose `auth` is not
    /// `none`. The gateway forwards nothing to its backend port (a peer could
    /// otherwise skip the auth, or send its own `Remote-User` to a backend
    /// that trusts it); the ingress applies `from` as its allow list.
    Ingress,
}

/// One allowlist rule: sources may reach `to` on `proto` and `ports`
/// (directly, or by name through the ingress: `via`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub name: String,
    pub from: Vec<String>,
    pub to: Vec<Ipv4Addr>,
    pub proto: Vec<&'static str>,
    pub ports: Vec<PortRange>,
    pub via: Via,
}

/// The gateway's resolved allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Allowlist {
    /// Source-set name -> VPN addresses, sorted.
    pub sources: BTreeMap<String, Vec<Ipv4Addr>>,
    pub rules: Vec<Rule>,
}

impl Allowlist {
    /// The rules the gateway forwards packets for: what `hearth.allowlist`
    /// renders into nftables, what the lab's matrix expects open, what
    /// `hearth graph` draws and what a `host:port` ACL target is decided on.
    /// Rules reached only through the ingress are not among them.
    pub fn flows(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.via == Via::Direct)
    }
}

/// Whether a service is reached only by name through the ingress: a web
/// service with `auth` other than `none` (the rule `Via::Ingress` records).
pub fn by_name_only(svc: &crate::inventory::Service) -> bool {
    svc.web && svc.auth.is_some_and(|a| a != crate::area::ingress::Auth::None)
}

/// The inventory's `[services]` and those its areas imply (the PiKVM's web
/// UI, an ingress port), by name.
pub fn services(inv: &Inventory) -> std::borrow::Cow<'_, BTreeMap<String, crate::inventory::Service>> {
    let implied: Vec<(String, crate::inventory::Service)> = crate::area::AREAS.iter().flat_map(|a| a.services(inv)).collect();
    if implied.is_empty() {
        return std::borrow::Cow::Borrowed(&inv.services);
    }
    let mut all = inv.services.clone();
    all.extend(implied);
    std::borrow::Cow::Owned(all)
}

/// The LAN address of a service: its host's, or the address itself for a
/// service an area implies on a LAN device that is not a host (the PiKVM).
/// The inventory's own services name hosts (validation insists).
pub fn service_address(inv: &Inventory, svc: &crate::inventory::Service) -> Option<Ipv4Addr> {
    inv.hosts.get(&svc.host).and_then(|h| h.address).or_else(|| svc.host.parse().ok())
}

/// Resolves the inventory's services into the gateway's allowlist. Clients
/// without an allocated address are left out (render allocates first).
pub fn allowlist(inv: &Inventory) -> Allowlist {
    let mut sources: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
    let groups = inv.groups();
    let clients = inv.clients();
    let addrs: std::collections::HashMap<&str, Ipv4Addr> = clients.iter().filter_map(|c| Some((c.name, c.address?))).collect();
    let addr_of = |name: &str| addrs.get(name).copied();
    let mut rules = Vec::new();

    if inv.network.resolvers_open && !inv.network.resolvers.is_empty() {
        let all: Vec<Ipv4Addr> = clients.iter().filter_map(|c| c.address).collect();
        sources.insert(ALL_CLIENTS.into(), sorted(all));
        rules.push(Rule {
            name: "dns".into(),
            from: vec![ALL_CLIENTS.into()],
            to: inv.network.resolvers.clone(),
            proto: vec!["tcp", "udp"],
            ports: vec![PortRange { start: 53, end: 53 }],
            via: Via::Direct,
        });
    }
    for (name, svc) in services(inv).iter() {
        let Some(to) = service_address(inv, svc) else { continue };
        let ports = svc.port.ranges();
        let mut from = Vec::new();
        for a in &svc.allow {
            let key = if let Some(members) = groups.get(a.as_str()) {
                sources.entry(a.clone()).or_insert_with(|| sorted(members.iter().filter_map(|m| addr_of(m)).collect()));
                a.clone()
            } else {
                let key = peer_source(a);
                sources.entry(key.clone()).or_insert_with(|| addr_of(a).into_iter().collect());
                key
            };
            if !from.contains(&key) {
                from.push(key);
            }
        }
        if from.is_empty() {
            continue;
        }
        let via = if by_name_only(svc) { Via::Ingress } else { Via::Direct };
        rules.push(Rule { name: name.clone(), from, to: vec![to], proto: svc.proto.expand().to_vec(), ports, via });
    }
    Allowlist { sources, rules }
}

fn sorted(mut v: Vec<Ipv4Addr>) -> Vec<Ipv4Addr> {
    v.sort();
    v.dedup();
    v
}

/// A destination an ACL test names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub text: String,
    /// (address, proto, port) probes; a service name expands to all of its.
    pub probes: Vec<(Ipv4Addr, &'static str, u16)>,
    /// A service reached only by name through the ingress ([`by_name_only`]):
    /// the test asks who may reach the service, which its allow list decides
    /// ([`decide`]); its probes' direct packets are dropped for everyone. A
    /// `host:port` target always asks about the packet ([`forwards`]).
    pub by_name: bool,
}

/// Parses an ACL target: a service name, or `host:port` with an optional
/// `/udp` or `/tcp` suffix.
pub fn parse_target(inv: &Inventory, t: &str) -> Result<Target, String> {
    if let Some(svc) = services(inv).get(t) {
        let addr = service_address(inv, svc).ok_or_else(|| format!("service `{t}` is on a host without a LAN address"))?;
        let ranges = svc.port.ranges();
        let mut probes = Vec::new();
        for proto in svc.proto.expand() {
            for r in &ranges {
                // A range is tested at both ends: that is where off-by-ones hide.
                probes.push((addr, *proto, r.start));
                if r.end != r.start {
                    probes.push((addr, *proto, r.end));
                }
            }
        }
        return Ok(Target { text: t.into(), probes, by_name: by_name_only(svc) });
    }
    let (hostport, proto) = match t.rsplit_once('/') {
        Some((hp, "udp")) => (hp, "udp"),
        Some((hp, "tcp")) => (hp, "tcp"),
        Some((_, p)) => return Err(format!("`{}`: unknown protocol `{}`", t.escape_debug(), p.escape_debug())),
        None => (t, "tcp"),
    };
    let Some((host, port)) = hostport.rsplit_once(':') else {
        return Err(format!("`{}` is neither a service nor host:port", t.escape_debug()));
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(|| format!("`{}`: `{}` is not a port", t.escape_debug(), port.escape_debug()))?;
    let addr = match inv.hosts.get(host) {
        Some(h) => h.address.ok_or_else(|| format!("`{}`: host `{host}` has no LAN address", t.escape_debug()))?,
        None => host.parse::<Ipv4Addr>().map_err(|_| format!("`{}`: unknown host `{}`", t.escape_debug(), host.escape_debug()))?,
    };
    Ok(Target { text: t.into(), probes: vec![(addr, proto, port)], by_name: false })
}

/// Which rule of the policy admits `src` to the service at `(dst, proto,
/// port)`, if any, whichever way it is reached: by a direct flow, or by name
/// through the ingress (`Via::Ingress`, where the ingress's allow list
/// decides with the same sources). Whether the gateway forwards the packet
/// itself is [`forwards`].
pub fn decide<'a>(al: &'a Allowlist, src: Ipv4Addr, dst: Ipv4Addr, proto: &str, port: u16) -> Option<&'a Rule> {
    al.rules.iter().find(|r| matches(al, r, src, dst, proto, port))
}

/// Which rule makes the gateway forward a packet from `src` to `(dst, proto,
/// port)`, if any: the same semantics the rendered ruleset has (any
/// matching direct rule accepts).
pub fn forwards<'a>(al: &'a Allowlist, src: Ipv4Addr, dst: Ipv4Addr, proto: &str, port: u16) -> Option<&'a Rule> {
    al.flows().find(|r| matches(al, r, src, dst, proto, port))
}

fn matches(al: &Allowlist, r: &Rule, src: Ipv4Addr, dst: Ipv4Addr, proto: &str, port: u16) -> bool {
    r.to.contains(&dst) && r.proto.contains(&proto) && r.ports.iter().any(|p| p.contains(port)) && r.from.iter().any(|f| al.sources.get(f).is_some_and(|s| s.contains(&src)))
}

/// One failed expectation of an ACL test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclFailure {
    /// Index of the test in `[[acl_tests]]`.
    pub test: usize,
    pub src: String,
    pub client: String,
    pub target: String,
    pub probe: String,
    pub expected: &'static str,
    /// The rule that decided, or why nothing did.
    pub decided_by: String,
}

impl fmt::Display for AclFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "acl_tests[{}] (src = \"{}\"): {} -> {} ({}) should be {}, but {}", self.test, self.src, self.client, self.target, self.probe, self.expected, self.decided_by)
    }
}

/// Evaluates every ACL test against the resolved allowlist. A group as `src`
/// means every member is tested; a client without an address fails (run
/// `hearth render` first).
pub fn evaluate_tests(inv: &Inventory, al: &Allowlist) -> Vec<AclFailure> {
    let groups = inv.groups();
    let clients = inv.clients();
    let address: std::collections::HashMap<&str, Option<std::net::Ipv4Addr>> = clients.iter().map(|c| (c.name, c.address)).collect();
    let mut out = Vec::new();
    for (i, t) in inv.acl_tests.iter().enumerate() {
        // Each target parsed once for all members (validation reports those
        // that do not parse).
        let targets: Vec<(&String, Target, bool)> = [(&t.accept, true), (&t.deny, false)]
            .into_iter()
            .flat_map(|(list, expect)| list.iter().filter_map(move |text| Some((text, parse_target(inv, text).ok()?, expect))))
            .collect();
        let members: Vec<&str> = match groups.get(t.src.as_str()) {
            Some(m) => m.clone(),
            None => vec![t.src.as_str()],
        };
        for m in members {
            let Some(src) = address.get(m).copied().flatten() else {
                out.push(AclFailure {
                    test: i,
                    src: t.src.clone(),
                    client: m.into(),
                    target: "-".into(),
                    probe: "-".into(),
                    expected: "tested",
                    decided_by: format!("`{m}` has no VPN address yet (run `hearth render`)"),
                });
                continue;
            };
            for (text, target, expect) in &targets {
                for (addr, proto, port) in &target.probes {
                    // A service behind auth: who may reach it by name (its
                    // allow list); anything else: whether the packet passes.
                    let rule = if target.by_name { decide(al, src, *addr, proto, *port) } else { forwards(al, src, *addr, proto, *port) };
                    if rule.is_some() != *expect {
                        out.push(AclFailure {
                            test: i,
                            src: t.src.clone(),
                            client: m.into(),
                            target: (*text).clone(),
                            probe: format!("{addr}:{port}/{proto}"),
                            expected: if *expect { "accepted" } else { "denied" },
                            decided_by: match (rule, decide(al, src, *addr, proto, *port)) {
                                (Some(r), _) if r.via == Via::Ingress => format!("rule `{}` (from {}) accepts it by name through the ingress", r.name, r.from.join(", ")),
                                (Some(r), _) => format!("rule `{}` (from {}) accepts it", r.name, r.from.join(", ")),
                                (None, Some(r)) => format!(
                                    "rule `{}` admits it only by name through the ingress (a web service behind auth gets no direct flow, so its auth cannot be walked around): the port is dropped; test the service by its name `{}` instead",
                                    r.name, r.name
                                ),
                                (None, None) => "no rule allows it (dropped by the default policy)".into(),
                            },
                        });
                    }
                }
            }
        }
    }
    out
}

/// Every (address, proto, port range) the gateway forwards for a client, with
/// the rule: the expected matrix the lab compares against.
pub fn reachable(al: &Allowlist, src: Ipv4Addr) -> Vec<(Ipv4Addr, &'static str, PortRange, &str)> {
    let mut v = Vec::new();
    for r in al.flows() {
        if r.from.iter().any(|f| al.sources.get(f).is_some_and(|s| s.contains(&src))) {
            for to in &r.to {
                for proto in &r.proto {
                    for p in &r.ports {
                        v.push((*to, *proto, *p, r.name.as_str()));
                    }
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Loaded;
    use std::path::Path;

    const INV: &str = r#"
[network]
domain = "home.example.net"
lan = "10.0.0.0/24"
vpn = "10.1.0.0/24"
resolvers = ["10.0.0.53"]

[hosts.gw]
roles = ["wireguard-gateway"]
address = "10.0.0.2"
endpoint = "home.example.net:51820"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"
[hosts.nas]
address = "10.0.0.10"
[hosts.tv]
address = "10.0.0.11"

[peers.alice]
groups = ["admins"]
address = "10.1.0.10"
[peers.bob]
groups = ["family"]
address = "10.1.0.11"
[peers.guest]
address = "10.1.0.12"

[services.files]
host = "nas"
port = [445, "8000-8010"]
allow = ["admins"]
[services.media]
host = "tv"
port = 8096
proto = "both"
allow = ["family", "admins", "guest"]

[[acl_tests]]
src = "family"
accept = ["media"]
deny = ["files", "nas:22"]
"#;

    fn inv() -> Inventory {
        Loaded::parse(Path::new("inventory.toml"), INV.into()).unwrap().inv
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn groups_and_single_peers_become_source_sets() {
        let al = allowlist(&inv());
        assert_eq!(al.sources["admins"], vec![a("10.1.0.10")]);
        assert_eq!(al.sources["family"], vec![a("10.1.0.11")]);
        assert_eq!(al.sources["peer:guest"], vec![a("10.1.0.12")]);
        assert_eq!(al.sources[ALL_CLIENTS], vec![a("10.1.0.10"), a("10.1.0.11"), a("10.1.0.12")]);
        let media = al.rules.iter().find(|r| r.name == "media").unwrap();
        assert_eq!(media.from, ["family", "admins", "peer:guest"]);
        assert_eq!(media.proto, ["tcp", "udp"]);
    }

    #[test]
    fn resolvers_are_open_to_every_client_unless_closed() {
        let mut i = inv();
        let al = allowlist(&i);
        assert!(decide(&al, a("10.1.0.12"), a("10.0.0.53"), "udp", 53).is_some_and(|r| r.name == "dns"));
        i.network.resolvers_open = false;
        let al = allowlist(&i);
        assert!(decide(&al, a("10.1.0.12"), a("10.0.0.53"), "udp", 53).is_none());
    }

    #[test]
    fn decide_matches_ranges_protocols_and_sources_exactly() {
        let al = allowlist(&inv());
        let alice = a("10.1.0.10");
        let bob = a("10.1.0.11");
        let nas = a("10.0.0.10");
        assert!(decide(&al, alice, nas, "tcp", 445).is_some());
        assert!(decide(&al, alice, nas, "tcp", 8000).is_some());
        assert!(decide(&al, alice, nas, "tcp", 8010).is_some());
        assert!(decide(&al, alice, nas, "tcp", 8011).is_none());
        assert!(decide(&al, alice, nas, "tcp", 7999).is_none());
        assert!(decide(&al, alice, nas, "udp", 445).is_none(), "files is tcp only");
        assert!(decide(&al, bob, nas, "tcp", 445).is_none(), "bob is not an admin");
        assert!(decide(&al, alice, a("10.0.0.11"), "tcp", 445).is_none(), "right port, wrong host");
    }

    #[test]
    fn acl_tests_pass_and_a_broken_policy_names_the_deciding_rule() {
        let mut i = inv();
        assert_eq!(evaluate_tests(&i, &allowlist(&i)), vec![]);
        i.services.get_mut("files").unwrap().allow.push("family".into());
        let f = evaluate_tests(&i, &allowlist(&i));
        // files has two ranges probed at both ends: 445; 8000 and 8010.
        assert_eq!(f.len(), 3, "{f:#?}");
        assert!(f.iter().all(|x| x.client == "bob"));
        assert!(f.iter().all(|x| x.expected == "denied" && x.decided_by.contains("rule `files` (from admins, family)")));
        i.services.get_mut("media").unwrap().allow.clear();
        let f = evaluate_tests(&i, &allowlist(&i));
        assert!(f.iter().any(|x| x.expected == "accepted" && x.decided_by.contains("no rule allows it") && x.probe == "10.0.0.11:8096/udp"));
    }

    /// `media` made a web service with `auth` (None: no `auth` key).
    fn media_with(auth: Option<crate::area::ingress::Auth>) -> Inventory {
        let mut i = inv();
        let m = i.services.get_mut("media").unwrap();
        m.web = true;
        m.auth = auth;
        i
    }

    #[test]
    fn a_web_service_behind_auth_gets_no_direct_flow() {
        use crate::area::ingress::Auth;
        let (alice, tv) = (a("10.1.0.10"), a("10.0.0.11"));
        for auth in [Auth::Basic, Auth::Forward] {
            let al = allowlist(&media_with(Some(auth)));
            let media = al.rules.iter().find(|r| r.name == "media").unwrap();
            assert_eq!(media.via, Via::Ingress, "{auth:?}");
            assert!(al.flows().all(|r| r.name != "media"), "{auth:?}: no rendered flow");
            assert!(forwards(&al, alice, tv, "tcp", 8096).is_none(), "{auth:?}: the gateway drops the direct packet");
            assert!(reachable(&al, alice).iter().all(|(to, ..)| *to != tv), "{auth:?}: the lab expects it closed");
            // The other rules are untouched.
            assert!(forwards(&al, alice, a("10.0.0.10"), "tcp", 445).is_some_and(|r| r.name == "files"));
        }
    }

    #[test]
    fn a_web_service_behind_auth_keeps_its_sources_for_the_ingress() {
        let al = allowlist(&media_with(Some(crate::area::ingress::Auth::Forward)));
        let media = al.rules.iter().find(|r| r.name == "media").unwrap();
        assert_eq!(media.from, ["family", "admins", "peer:guest"]);
        assert_eq!(al.sources["peer:guest"], vec![a("10.1.0.12")]);
        // The policy still admits its peers (by name, at the ingress) and
        // still refuses the others.
        assert!(decide(&al, a("10.1.0.12"), a("10.0.0.11"), "tcp", 8096).is_some_and(|r| r.name == "media" && r.via == Via::Ingress));
        assert!(decide(&al, a("10.1.0.99"), a("10.0.0.11"), "tcp", 8096).is_none());
    }

    #[test]
    fn a_web_service_without_auth_keeps_its_direct_flow() {
        for auth in [None, Some(crate::area::ingress::Auth::None)] {
            let al = allowlist(&media_with(auth));
            assert!(forwards(&al, a("10.1.0.11"), a("10.0.0.11"), "tcp", 8096).is_some_and(|r| r.name == "media" && r.via == Via::Direct), "{auth:?}");
            assert!(al.flows().any(|r| r.name == "media"));
        }
        // `auth` only counts on a web service (validation refuses it elsewhere).
        let mut i = media_with(Some(crate::area::ingress::Auth::Forward));
        i.services.get_mut("media").unwrap().web = false;
        assert!(forwards(&allowlist(&i), a("10.1.0.11"), a("10.0.0.11"), "tcp", 8096).is_some());
    }

    #[test]
    fn an_acl_test_names_a_service_behind_auth_by_its_allow_list_and_its_port_as_closed() {
        let mut i = media_with(Some(crate::area::ingress::Auth::Forward));
        // family accepts `media`: its allow list admits family (by name).
        assert_eq!(evaluate_tests(&i, &allowlist(&i)), vec![]);
        assert!(parse_target(&i, "media").unwrap().by_name && !parse_target(&i, "tv:8096").unwrap().by_name);
        // Its port, named as host:port, is a packet: dropped for family too.
        i.acl_tests[0].deny.push("tv:8096".into());
        assert_eq!(evaluate_tests(&i, &allowlist(&i)), vec![]);
        i.acl_tests[0].accept.push("tv:8096".into());
        let f = evaluate_tests(&i, &allowlist(&i));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(f[0].decided_by.contains("rule `media` admits it only by name through the ingress") && f[0].decided_by.contains("test the service by its name `media`"), "{f:#?}");
        // Widening the allow list is still caught by a `deny` of the name.
        i.acl_tests[0].accept.pop();
        i.acl_tests[0].src = "guest".into();
        i.acl_tests[0].accept.clear();
        i.acl_tests[0].deny = vec!["media".into()];
        let f = evaluate_tests(&i, &allowlist(&i));
        assert!(
            !f.is_empty()
                && f.iter().all(|x| x.expected == "denied" && x.decided_by.contains("rule `media` (from family, admins, peer:guest) accepts it by name through the ingress")),
            "{f:#?}"
        );
    }

    #[test]
    fn targets_parse_services_hosts_and_protocols() {
        let i = inv();
        assert_eq!(parse_target(&i, "nas:22").unwrap().probes, vec![(a("10.0.0.10"), "tcp", 22)]);
        assert_eq!(parse_target(&i, "nas:53/udp").unwrap().probes, vec![(a("10.0.0.10"), "udp", 53)]);
        assert_eq!(parse_target(&i, "media").unwrap().probes.len(), 2);
        assert!(parse_target(&i, "nas:0").is_err());
        assert!(parse_target(&i, "nas:22/sctp").unwrap_err().contains("unknown protocol"));
        assert!(parse_target(&i, "printer:631").unwrap_err().contains("unknown host"));
    }
}
