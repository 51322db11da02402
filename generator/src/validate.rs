//! Validation of a parsed inventory: every problem at once, each located at
//! `inventory.toml:LINE:COL` with a hint how to fix it. Run before every
//! render and every edit; nothing is written while a problem remains.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::inventory::{Inventory, Loaded, Role};

/// One problem, located by a key path into the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub keys: Vec<String>,
    pub message: String,
    pub hint: String,
}

/// All problems of one inventory, printable as located diagnostics.
#[derive(Debug, Clone)]
pub struct Problems {
    pub file: String,
    pub located: Vec<(crate::inventory::Pos, Problem)>,
    /// What the problems are about, for the wording of the report.
    pub mode: Mode,
}

/// Where the validated text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The inventory on disk, read by a command that would write (render, an edit).
    #[default]
    Write,
    /// The inventory on disk, read by `hearth check`, which never writes.
    Check,
    /// The text an edit would write: its positions are in the candidate,
    /// not in the file on disk (issue 18).
    AfterChange,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = match self.mode {
            Mode::AfterChange => format!("{} (after your change)", self.file),
            _ => self.file.clone(),
        };
        for (i, (pos, p)) in self.located.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            // A key may hold anything a TOML quoted key can: escaped here so
            // nothing reaches the terminal raw.
            let keys: String = p.keys.join(".").chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect();
            write!(f, "{file}:{}:{}: {keys}: {}", pos.line, pos.col, p.message)?;
            if !p.hint.is_empty() {
                write!(f, "\n  hint: {}", p.hint)?;
            }
        }
        match self.mode {
            Mode::Write => write!(f, "\n{} problem(s) in {}; nothing was written", self.located.len(), self.file),
            Mode::Check => write!(f, "\n{} problem(s) in {}", self.located.len(), self.file),
            Mode::AfterChange => write!(f, "\nthe change would leave {} problem(s) in {} (lines as they would be after it); nothing was written", self.located.len(), self.file),
        }
    }
}

impl std::error::Error for Problems {}

impl Problems {
    pub fn len(&self) -> usize {
        self.located.len()
    }
    pub fn is_empty(&self) -> bool {
        self.located.is_empty()
    }
    /// The same problems, reported for `mode`.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

/// Validates and returns every problem, located and sorted by position.
pub fn check(loaded: &Loaded) -> Result<(), Problems> {
    let problems = problems(&loaded.inv);
    if problems.is_empty() {
        return Ok(());
    }
    let mut located: Vec<_> = problems
        .into_iter()
        .map(|p| {
            let keys: Vec<&str> = p.keys.iter().map(String::as_str).collect();
            (loaded.locate(&keys), p)
        })
        .collect();
    located.sort_by_key(|a| a.0);
    Err(Problems { file: loaded.path.display().to_string(), located, mode: Mode::Write })
}

/// Where validation collects problems; areas add theirs here.
#[derive(Default)]
pub struct Sink(Vec<Problem>);

impl Sink {
    /// An empty sink (area tests validate with it).
    pub fn new() -> Self {
        Self::default()
    }
    /// The problems collected.
    pub fn into_problems(self) -> Vec<Problem> {
        self.0
    }
    /// A problem at the inventory keys `keys` (located later), with a hint
    /// that says the fix.
    pub fn err(&mut self, keys: &[&str], message: impl Into<String>, hint: impl Into<String>) {
        self.0.push(Problem { keys: keys.iter().map(|s| s.to_string()).collect(), message: message.into(), hint: hint.into() });
    }
}

/// Is `s` a DNS label hearth accepts as a name: lowercase letters, digits and
/// inner hyphens, 1 to 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= 63 && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-') && b[0] != b'-' && b[b.len() - 1] != b'-'
}

/// Checks a name and says what is wrong with it.
pub fn name_problem(kind: &str, s: &str) -> Option<String> {
    if is_dns_label(s) {
        return None;
    }
    Some(format!("{kind} name `{}` is not a DNS label (lowercase letters, digits and inner hyphens, at most 63 characters)", s.escape_debug()))
}

/// Checks a Linux interface name (the shared `interface` rule).
pub fn interface_problem(s: &str) -> Option<String> {
    crate::rules::rule("interface").problem(s).map(|m| format!("interface name {m}"))
}

/// Checks a host's SSH host key (for keys outside the typed inventory
/// fields, e.g. an area's): what [`crate::types::SshHostKey`] rejects.
pub fn ssh_key_problem(s: &str) -> Option<String> {
    s.parse::<crate::types::SshHostKey>().err().map(|e| e.message())
}

fn usable(net: &Ipv4Net, a: Ipv4Addr) -> bool {
    net.contains(&a) && (net.prefix_len() >= 31 || (a != net.network() && a != net.broadcast()))
}

/// Reports every string (and every name) below `v` holding a control
/// character, at its key path.
fn control_chars(v: &serde_json::Value, path: &mut Vec<String>, s: &mut Sink) {
    let bad = |t: &str| t.chars().any(char::is_control);
    let report = |s: &mut Sink, path: &[String], t: &str, what: &str| {
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        s.err(
            &keys,
            format!("{what} `{}` holds a control character (a newline, tab, NUL or escape)", t.escape_debug()),
            "every value is one line of printable text: remove the character",
        );
    };
    match v {
        serde_json::Value::String(t) if bad(t) => report(s, path, t, "value"),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(i.to_string());
                control_chars(x, path, s);
                path.pop();
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                path.push(k.clone());
                if bad(k) {
                    report(s, path, k, "name");
                }
                control_chars(x, path, s);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Whether JSON text (as serde_json writes it) holds a control character:
/// an escape other than `\\`, `\"` and `\/`, or a raw one (DEL, C1).
fn json_has_control(j: &str) -> bool {
    let mut chars = j.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\' | '"' | '/') => {}
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if u32::from_str_radix(&hex, 16).map_or(true, |n| char::from_u32(n).is_none_or(char::is_control)) {
                        return true;
                    }
                }
                _ => return true,
            },
            c if c.is_control() => return true,
            _ => {}
        }
    }
    false
}

/// Every problem in the inventory, unlocated.
pub fn problems(inv: &Inventory) -> Vec<Problem> {
    let mut s = Sink(Vec::new());
    let net = &inv.network;

    // Every value is a single line: a control character (a NUL cuts a Nix
    // string short, a newline adds a line to an ssh or WireGuard config) is
    // rejected wherever it is, in any section, an area's included.
    // The JSON text first (one pass, no tree): serde_json writes every
    // character below U+0020 as an escape, the others raw; only when one
    // shows is the tree walked to locate it.
    if serde_json::to_string(inv).map_or(true, |j| json_has_control(&j)) {
        if let Ok(v) = serde_json::to_value(inv) {
            control_chars(&v, &mut Vec::new(), &mut s);
        }
    }

    // Network.
    if net.domain.is_empty() || !net.domain.split('.').all(is_dns_label) {
        s.err(&["network", "domain"], format!("`{}` is not a domain name", net.domain.escape_debug()), "use lowercase DNS labels separated by dots, e.g. home.example.net");
    }
    if net.lan.contains(&net.vpn.network()) || net.vpn.contains(&net.lan.network()) {
        s.err(&["network", "vpn"], format!("the VPN pool {} overlaps the LAN {}", net.vpn, net.lan), "pick a VPN pool outside the LAN, e.g. 10.69.222.0/24");
    }
    for (key, cidr) in [("lan", net.lan), ("vpn", net.vpn)] {
        if cidr != cidr.trunc() {
            s.err(&["network", key], format!("{cidr} has host bits set"), format!("write the network address: {key} = \"{}\"", cidr.trunc()));
        }
    }
    if net.vpn.prefix_len() > 30 {
        s.err(&["network", "vpn"], format!("the VPN pool {} is too small", net.vpn), "use a /30 or larger, e.g. /24");
    }
    for (i, a) in net.resolvers.iter().enumerate() {
        if !net.lan.contains(a) {
            s.err(
                &["network", "resolvers", &i.to_string()],
                format!("resolver {a} is not in the LAN {}", net.lan),
                "VPN clients reach resolvers through the gateway, so they must be LAN addresses",
            );
        }
    }
    for (i, a) in net.reserved.iter().enumerate() {
        if !net.vpn.contains(a) {
            s.err(
                &["network", "reserved", &i.to_string()],
                format!("reserved address {a} is not in the VPN pool {}", net.vpn),
                "list only addresses of the VPN pool that something else uses",
            );
        }
    }

    // Admins (each parsed on load: `types::AgeRecipient`).
    let dup_admins = duplicates(inv.admin.recipients.iter().map(|r| r.recipient().to_string()));
    for d in dup_admins {
        s.err(&["admin", "recipients"], format!("recipient `{}` is listed twice", short(&d)), "remove one of them");
    }

    // Names: hosts and peers share one namespace (both are VPN clients or nodes).
    for n in inv.hosts.keys() {
        if let Some(m) = name_problem("host", n) {
            s.err(&["hosts", n], m, "rename the host, e.g. `monitoring01`");
        }
        if n == "peers" || n == "admin" {
            s.err(&["hosts", n], format!("`{n}` is reserved (secrets/{n}/ holds hearth's own secrets)"), "choose another host name");
        }
    }
    for n in inv.peers.keys() {
        if let Some(m) = name_problem("peer", n) {
            s.err(&["peers", n], m, "rename the peer, e.g. `phone`");
        }
        if inv.hosts.contains_key(n) {
            s.err(&["peers", n], format!("`{n}` is both a host and a peer"), "give the peer another name, e.g. `{n}-phone`");
        }
    }
    for n in inv.services.keys() {
        if let Some(m) = name_problem("service", n) {
            s.err(&["services", n], m, "rename the service, e.g. `grafana`");
        }
    }

    // Groups.
    let clients: BTreeSet<&str> = inv.clients().iter().map(|c| c.name).collect();
    for (kind, name, groups) in inv.peers.iter().map(|(n, p)| ("peers", n, &p.groups)).chain(inv.hosts.iter().map(|(n, h)| ("hosts", n, &h.groups))) {
        for (i, g) in groups.iter().enumerate() {
            if let Some(m) = name_problem("group", g) {
                s.err(&[kind, name, "groups", &i.to_string()], m, "use a DNS label like `admins`");
            } else if clients.contains(g.as_str()) || inv.hosts.contains_key(g) {
                s.err(
                    &[kind, name, "groups", &i.to_string()],
                    format!("group `{g}` has the name of a host or peer, so `allow = [\"{g}\"]` would be ambiguous"),
                    "rename the group",
                );
            }
        }
        if kind == "hosts" && !groups.is_empty() && !inv.hosts[name].has(Role::WIREGUARD_CLIENT) {
            s.err(&[kind, name, "groups"], "only hosts with role `wireguard-client` are in groups", "remove `groups` or add the role");
        }
    }
    let groups = inv.groups();

    // Hosts: roles, addresses, endpoints, keys.
    let mut lan_seen: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
    let mut vpn_seen: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
    let hubs: Vec<&String> = inv.hosts.iter().filter(|(_, h)| h.has(Role::WIREGUARD_HUB)).map(|(n, _)| n).collect();
    let gws: Vec<&String> = inv.hosts.iter().filter(|(_, h)| h.has(Role::WIREGUARD_GATEWAY)).map(|(n, _)| n).collect();
    for extra in hubs.iter().skip(1) {
        s.err(&["hosts", extra, "roles"], format!("a second wireguard-hub (`{}` is one already)", hubs[0]), "keep one hub");
    }
    for extra in gws.iter().skip(1) {
        s.err(&["hosts", extra, "roles"], format!("a second wireguard-gateway (`{}` is one already)", gws[0]), "keep one gateway");
    }
    let bastions: Vec<&String> = inv.hosts.iter().filter(|(_, h)| h.has(Role::BASTION)).map(|(n, _)| n).collect();
    for extra in bastions.iter().skip(1) {
        s.err(&["hosts", extra, "roles"], format!("a second bastion (`{}` is one already)", bastions[0]), "keep one bastion");
    }
    for (n, h) in &inv.hosts {
        let dup_roles = duplicates(h.roles.iter().map(|r| r.as_str().to_owned()));
        for d in dup_roles {
            s.err(&["hosts", n, "roles"], format!("role `{d}` is listed twice"), "remove one");
        }
        let wg_roles = h.roles.iter().filter(|r| r.is_wireguard()).count();
        if wg_roles > 1 {
            s.err(&["hosts", n, "roles"], "a host has at most one of wireguard-hub, wireguard-gateway, wireguard-client", "split the roles over hosts");
        }
        if let Some(a) = h.address {
            if h.has(Role::WIREGUARD_HUB) {
                // The hub is outside the LAN; its `address` is not used.
                s.err(&["hosts", n, "address"], "the hub is outside the LAN and has no LAN address", "remove `address`; the hub is reached at its `endpoint`");
            } else if !usable(&net.lan, a) {
                s.err(&["hosts", n, "address"], format!("{a} is not a usable address of the LAN {}", net.lan), "use an address inside network.lan");
            } else if let Some(other) = lan_seen.insert(a, n) {
                s.err(&["hosts", n, "address"], format!("{a} is also the address of `{other}`"), "give each host its own LAN address");
            }
        } else if h.has(Role::WIREGUARD_GATEWAY) || h.has(Role::BASTION) {
            s.err(&["hosts", n], "the gateway and the bastion need a LAN `address`", "add address = \"10.x.y.z\" inside network.lan");
        }
        if h.has(Role::WIREGUARD_HUB) && h.endpoint.is_none() {
            s.err(&["hosts", n], "the hub needs a public `endpoint` for clients and the gateway to dial", "add endpoint = \"vps.example.net:51820\"");
        }
        if h.has(Role::WIREGUARD_GATEWAY) && hubs.is_empty() && h.endpoint.is_none() && !clients.is_empty() {
            s.err(
                &["hosts", n],
                "without a hub, clients dial the gateway directly, so it needs a public `endpoint` (your router's forwarded UDP port)",
                "add endpoint = \"home.example.net:51820\", or add a host with role wireguard-hub",
            );
        }
        if h.ssh_key.is_none() && h.roles.iter().any(|r| r.is_wireguard() || *r == Role::BASTION) {
            s.err(
                &["hosts", n],
                "this host gets secrets, which are encrypted to its SSH host key, but `ssh_key` is missing",
                "add ssh_key = \"ssh-ed25519 AAAA...\" from `ssh-keyscan -t ed25519 HOST`",
            );
        }
        if let Some(a) = h.vpn_address {
            vpn_address(&mut s, inv, &["hosts", n, "vpn_address"], a, n, &mut vpn_seen);
            if h.wireguard_role().is_none() {
                s.err(&["hosts", n, "vpn_address"], "only WireGuard hosts have a VPN address", "remove it, or add a wireguard role");
            }
        }
        for (i, sec) in h.secrets.iter().enumerate() {
            if let Some(m) = name_problem("secret", sec) {
                s.err(&["hosts", n, "secrets", &i.to_string()], m, "use a DNS label like `restic-password`");
            } else if sec.starts_with("hearth-") || sec == "wireguard-key" || sec.starts_with("psk-") || sec.starts_with("totp-") {
                s.err(&["hosts", n, "secrets", &i.to_string()], format!("`{sec}` is a name hearth uses for its own secrets"), "choose another name");
            }
        }
    }
    if (!bastions.is_empty() || !inv.users.is_empty()) && bastions.is_empty() {
        let hint = match gws.first() {
            Some(g) => format!("give the gateway the role too: `hearth host set {g} --role wireguard-gateway --role bastion`"),
            None => "give a host the role: `hearth host set HOST --role bastion` (an existing host) or `hearth host add HOST --role bastion --address IP --ssh-key KEY`".into(),
        };
        s.err(&["users"], "bastion users are listed but no host has role `bastion`", hint);
    }
    if !clients.is_empty() && gws.is_empty() {
        s.err(&["peers"], "VPN clients are listed but no host has role `wireguard-gateway`", "add one: `hearth host add extgw01 --role wireguard-gateway --address 10.x.y.z`");
    }

    // Peers.
    for (n, p) in &inv.peers {
        if let Some(a) = p.address {
            vpn_address(&mut s, inv, &["peers", n, "address"], a, n, &mut vpn_seen);
        }
    }

    // Services.
    let mut ports_seen: BTreeMap<(&str, &str), Vec<(crate::inventory::PortRange, &str)>> = BTreeMap::new();
    for (n, svc) in &inv.services {
        match inv.hosts.get(&svc.host) {
            None => s.err(&["services", n, "host"], format!("unknown host `{}`", svc.host.escape_debug()), hint_known("hosts", inv.hosts.keys())),
            Some(h) if h.address.is_none() => s.err(&["services", n, "host"], format!("host `{}` has no LAN address", svc.host), format!("add `address` to [hosts.{}]", svc.host)),
            _ => {}
        }
        // The port spec itself was parsed on load (`types::PortSpec`).
        let ranges = svc.port.ranges();
        for proto in svc.proto.expand() {
            let seen = ports_seen.entry((svc.host.as_str(), proto)).or_default();
            for r in &ranges {
                if let Some((_, other)) = seen.iter().find(|(o, _)| o.overlaps(r)) {
                    s.err(
                        &["services", n, "port"],
                        format!("{proto} port {r} on `{}` is also used by service `{other}`", svc.host),
                        "a port serves one service; merge them or fix the port",
                    );
                }
            }
            seen.extend(ranges.iter().map(|r| (*r, n.as_str())));
        }
        for (i, a) in svc.allow.iter().enumerate() {
            if !groups.contains_key(a.as_str()) && !clients.contains(a.as_str()) {
                s.err(
                    &["services", n, "allow", &i.to_string()],
                    format!("`{}` is neither a group nor a peer", a.escape_debug()),
                    hint_known("groups and peers", groups.keys().copied().chain(clients.iter().copied())),
                );
            }
        }
    }

    // ACL tests (structure only: their outcome is `hearth check`'s policy step).
    for (i, t) in inv.acl_tests.iter().enumerate() {
        let idx = i.to_string();
        if !groups.contains_key(t.src.as_str()) && !clients.contains(t.src.as_str()) {
            s.err(
                &["acl_tests", &idx, "src"],
                format!("`{}` is neither a group nor a peer", t.src.escape_debug()),
                hint_known("groups and peers", groups.keys().copied().chain(clients.iter().copied())),
            );
        }
        if t.accept.is_empty() && t.deny.is_empty() {
            s.err(&["acl_tests", &idx], "the test has neither `accept` nor `deny`, so it tests nothing", "add accept = [\"service\"] or deny = [\"host:port\"]");
        }
        for (field, list) in [("accept", &t.accept), ("deny", &t.deny)] {
            for (j, target) in list.iter().enumerate() {
                // A service's own problems are reported at the service.
                if inv.services.contains_key(target) {
                    continue;
                }
                if let Err(m) = crate::policy::parse_target(inv, target) {
                    s.err(&["acl_tests", &idx, field, &j.to_string()], m, "a target is a service name or `host:port` (append `/udp` for UDP)");
                }
            }
        }
    }

    for area in crate::area::AREAS {
        area.validate(inv, &mut s);
    }
    s.0
}

/// Things that are valid but probably not what was meant (issue 18): a
/// group nothing uses (a typo such as `mobil` for `mobile`), VPN clients
/// without a DNS resolver. `hearth check` and every edit print them; they
/// never block anything.
pub fn warnings(inv: &Inventory) -> Vec<Problem> {
    let mut s = Sink(Vec::new());
    let services = crate::policy::services(inv);
    let used: BTreeSet<&str> = services.values().flat_map(|svc| svc.allow.iter().map(String::as_str)).chain(inv.acl_tests.iter().map(|t| t.src.as_str())).collect();
    let groups = inv.groups();
    for (kind, name, list) in inv.peers.iter().map(|(n, p)| ("peers", n, &p.groups)).chain(inv.hosts.iter().map(|(n, h)| ("hosts", n, &h.groups))) {
        for (i, g) in list.iter().enumerate() {
            if used.contains(g.as_str()) {
                continue;
            }
            let near = groups.keys().chain(used.iter()).filter(|o| **o != g.as_str() && edit_distance(o, g) <= 2).min_by_key(|o| edit_distance(o, g));
            let hint = match near {
                Some(o) => format!("did you mean `{o}`? Otherwise let the group reach a service: `hearth allow SERVICE {g}`"),
                None => format!("let the group reach a service: `hearth allow SERVICE {g}`"),
            };
            s.err(&[kind, name, "groups", &i.to_string()], format!("group `{g}` is in no service's `allow` and no `[[acl_tests]]` src, so it grants nothing"), hint);
        }
    }
    if inv.network.resolvers.is_empty() && !inv.peers.is_empty() {
        s.err(
            &["network", "resolvers"],
            "no LAN resolvers: phones and laptops get no DNS server from their WireGuard config",
            "add your LAN's DNS server: `hearth resolver add 192.168.1.1` (it becomes reachable by every peer on port 53)",
        );
    }
    s.0
}

/// The warnings of a loaded inventory as located lines (`FILE:L:C: warning: ...`),
/// leaving out those in `known` (the warnings before an edit).
pub fn warning_lines(loaded: &Loaded, known: &[Problem]) -> Vec<String> {
    let mut w: Vec<_> = warnings(&loaded.inv)
        .into_iter()
        .filter(|p| !known.contains(p))
        .map(|p| {
            let keys: Vec<&str> = p.keys.iter().map(String::as_str).collect();
            (loaded.locate(&keys), p)
        })
        .collect();
    w.sort_by_key(|a| a.0);
    w.into_iter().map(|(pos, p)| format!("{}:{}:{}: warning: {}: {}\n  hint: {}", loaded.path.display(), pos.line, pos.col, p.keys.join("."), p.message, p.hint)).collect()
}

/// Levenshtein distance, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = if ca == b[j] { prev } else { 1 + prev.min(row[j]).min(row[j + 1]) };
            prev = cur;
        }
    }
    row[b.len()]
}

fn vpn_address<'a>(s: &mut Sink, inv: &Inventory, keys: &[&str], a: Ipv4Addr, owner: &'a str, seen: &mut BTreeMap<Ipv4Addr, &'a str>) {
    let net = &inv.network;
    if !usable(&net.vpn, a) {
        s.err(keys, format!("{a} is not a usable address of the VPN pool {}", net.vpn), "remove it and let hearth allocate one (`hearth render`)");
    } else if net.reserved.contains(&a) {
        s.err(keys, format!("{a} is reserved (network.reserved)"), "remove it and let hearth allocate one");
    } else if let Some(other) = seen.insert(a, owner) {
        s.err(keys, format!("{a} is also the VPN address of `{other}`"), "remove one of them and let hearth allocate a new one");
    }
}

fn hint_known<S: AsRef<str>>(what: &str, names: impl IntoIterator<Item = S>) -> String {
    let mut names: Vec<String> = names.into_iter().map(|s| s.as_ref().to_owned()).collect();
    if names.is_empty() {
        format!("there are no {what} yet")
    } else {
        names.sort();
        names.dedup();
        format!("known {what}: {}", names.join(", "))
    }
}

fn duplicates<I: IntoIterator<Item = String>>(items: I) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut dups = BTreeSet::new();
    for i in items {
        if !seen.insert(i.clone()) {
            dups.insert(i);
        }
    }
    dups.into_iter().collect()
}

/// A recipient in canonical form (no comment), so that the same key with
/// two comments counts once; unparsable input is returned trimmed.
fn short(s: &str) -> String {
    let s: String = s.chars().take(40).collect();
    s.escape_debug().to_string()
}

#[cfg(test)]
mod json_control_tests {
    use super::json_has_control;

    #[test]
    fn json_text_shows_every_control_character_and_nothing_else() {
        for c in (0u32..0x110000).filter_map(char::from_u32).filter(|c| c.is_control()) {
            let j = serde_json::to_string(&format!("a{c}b")).unwrap();
            assert!(json_has_control(&j), "{c:?} -> {j}");
        }
        for t in ["plain", "back\\slash", "quote\"", "slash/", "ünïcode ✓", "\u{1F600}"] {
            let j = serde_json::to_string(t).unwrap();
            assert!(!json_has_control(&j), "{t:?} -> {j}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Loaded;
    use std::path::Path;

    const BASE: &str = r#"
[network]
domain = "home.example.net"
lan = "10.0.0.0/24"
vpn = "10.1.0.0/24"

[hosts.gw]
roles = ["wireguard-gateway"]
address = "10.0.0.2"
endpoint = "home.example.net:51820"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"
"#;

    fn problems_of(extra: &str) -> Vec<String> {
        let l = Loaded::parse(Path::new("inventory.toml"), format!("{BASE}{extra}")).unwrap();
        match check(&l) {
            Ok(()) => vec![],
            Err(p) => p.located.iter().map(|(_, p)| format!("{}: {}", p.keys.join("."), p.message)).collect(),
        }
    }

    fn has(ps: &[String], needle: &str) -> bool {
        ps.iter().any(|p| p.contains(needle))
    }

    #[test]
    fn base_inventory_is_valid() {
        assert_eq!(problems_of(""), Vec::<String>::new());
    }

    #[test]
    fn overlapping_lan_and_vpn_are_rejected() {
        let l = Loaded::parse(Path::new("i.toml"), BASE.replace("10.1.0.0/24", "10.0.0.128/25")).unwrap();
        let e = check(&l).unwrap_err().to_string();
        assert!(e.contains("network.vpn: the VPN pool 10.0.0.128/25 overlaps the LAN 10.0.0.0/24"), "{e}");
    }

    #[test]
    fn addresses_outside_their_cidr_or_taken_twice_are_rejected() {
        let ps = problems_of("[hosts.a]\naddress = \"10.0.0.2\"\n[hosts.b]\naddress = \"10.0.1.5\"\n[hosts.c]\naddress = \"10.0.0.255\"\n[peers.p]\naddress = \"10.0.0.9\"\n");
        assert!(has(&ps, "hosts.a.address: 10.0.0.2 is also the address of `gw`") || has(&ps, "hosts.gw.address: 10.0.0.2 is also the address of `a`"), "{ps:?}");
        assert!(has(&ps, "hosts.b.address: 10.0.1.5 is not a usable address of the LAN"), "{ps:?}");
        assert!(has(&ps, "hosts.c.address: 10.0.0.255 is not a usable address"), "broadcast: {ps:?}");
        assert!(has(&ps, "peers.p.address: 10.0.0.9 is not a usable address of the VPN pool"), "{ps:?}");
    }

    #[test]
    fn names_must_be_dns_labels_and_interface_names_short() {
        let ps = problems_of("[hosts.Web_1]\naddress = \"10.0.0.3\"\n[wireguard]\ninterface = \"a-very-long-interface\"\n");
        assert!(has(&ps, "not a DNS label"), "{ps:?}");
        assert!(has(&ps, "wireguard.interface: interface name `a-very-long-interface` is not an interface name (1-15 characters"), "{ps:?}");
    }

    #[test]
    fn a_port_used_twice_on_a_host_is_rejected_unless_protocols_differ() {
        let svc = "[hosts.nas]\naddress = \"10.0.0.10\"\n[services.a]\nhost = \"nas\"\nport = \"8000-8010\"\n[services.b]\nhost = \"nas\"\nport = 8005\n[services.c]\nhost = \"nas\"\nport = 8005\nproto = \"udp\"\n";
        let ps = problems_of(svc);
        assert!(has(&ps, "tcp port 8005 on `nas` is also used by service `a`"), "{ps:?}");
        assert!(!has(&ps, "udp port"), "udp does not clash with tcp: {ps:?}");
    }

    #[test]
    fn references_to_unknown_hosts_groups_and_peers_are_rejected_all_at_once() {
        let ps = problems_of("[services.s]\nhost = \"ghost\"\nport = 1\nallow = [\"nobody\"]\n[[acl_tests]]\nsrc = \"nobody\"\ndeny = [\"ghost:22\"]\n");
        assert!(has(&ps, "services.s.host: unknown host `ghost`"), "{ps:?}");
        assert!(has(&ps, "services.s.allow.0: `nobody` is neither a group nor a peer"), "{ps:?}");
        assert!(has(&ps, "acl_tests.0.src"), "{ps:?}");
        assert!(has(&ps, "acl_tests.0.deny.0"), "{ps:?}");
    }

    /// The load error of `BASE` plus `extra` (a typed value `crate::types`
    /// rejects stops the load, located at the value).
    fn load_error_of(extra: &str) -> String {
        match Loaded::parse(Path::new("inventory.toml"), format!("{BASE}{extra}")) {
            Ok(_) => panic!("{extra:?} loaded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn malformed_keys_and_endpoints_are_rejected() {
        // Line of the first line of `extra`.
        let l = BASE.lines().count() + 1;
        let hub = "[hosts.hub]\nroles = [\"wireguard-hub\"]\n";
        for (extra, line, col, says) in [
            (format!("{hub}endpoint = \"vps.example.net\"\n"), l + 2, 12, "hosts.hub.endpoint: `vps.example.net` is not an endpoint HOST:PORT"),
            (format!("{hub}ssh_key = \"ssh-rsa AAAA\"\n"), l + 2, 11, "hosts.hub.ssh_key: \"ssh-rsa AAAA\" is not a valid recipient"),
            (format!("{hub}public_key = \"short\"\n"), l + 2, 14, "hosts.hub.public_key: not a WireGuard key"),
            ("[admin]\nrecipients = [\n  \"age1nope\",\n]\n".into(), l + 2, 3, "admin.recipients.0: \"age1nope\" is not a valid recipient"),
        ] {
            let e = load_error_of(&extra);
            assert!(e.starts_with(&format!("inventory.toml:{line}:{col}: {says}")) && e.contains("\n  hint: "), "{extra:?}: {e}");
        }
    }

    #[test]
    fn unused_group_warns_with_the_nearest_used_name() {
        let l = Loaded::parse(Path::new("inventory.toml"), format!("{BASE}[hosts.nas]\naddress = \"10.0.0.9\"\n[services.s]\nhost = \"nas\"\nport = 1\nallow = [\"mobile\"]\n[peers.a]\ngroups = [\"mobile\"]\n[peers.b]\ngroups = [\"mobil\"]\n")).unwrap();
        let w = warning_lines(&l, &[]).join("\n");
        assert!(w.contains("peers.b.groups.0: group `mobil` is in no service's `allow`") && w.contains("did you mean `mobile`?"), "{w}");
        assert!(!w.contains("peers.a.groups"), "{w}");
        assert!(w.contains("network.resolvers: no LAN resolvers"), "{w}");
        assert_eq!(edit_distance("mobil", "mobile"), 1);
    }

    #[test]
    fn problems_are_located_at_their_line() {
        let l = Loaded::parse(Path::new("inventory.toml"), format!("{BASE}[hosts.x]\naddress = \"10.9.9.9\"\n")).unwrap();
        let e = check(&l).unwrap_err();
        let line = format!("{BASE}[hosts.x]\n").lines().count() + 1;
        assert_eq!(e.located[0].0.line, line);
        assert!(e.to_string().starts_with(&format!("inventory.toml:{line}:1: hosts.x.address:")));
    }

    #[test]
    fn control_characters_are_rejected_in_every_value() {
        // issue 19: a NUL in a key comment reached hearth.nix raw.
        // In a typed value (`crate::types`) the load stops at it.
        let e = load_error_of("\n[users.torjus]\nssh_keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv a\\u0000b\"]\n");
        assert!(
            e.contains("users.torjus.ssh_keys.0: value `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv a\\0b` holds a control character"),
            "{e}"
        );
        let e = load_error_of("\n[admin]\nrecipients = [\"age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt\\n\"]\n");
        assert!(e.contains("admin.recipients.0: value"), "{e}");
        // Anywhere else validation finds it.
        let ps = problems_of("\n[hosts.gw2]\ndescription = \"a\\tb\"\n");
        assert!(has(&ps, "hosts.gw2.description: value `a\\tb` holds a control character"), "{ps:?}");
        let ps = problems_of("\n[peers.\"a\\u001bb\"]\nkind = \"phone\"\n");
        assert!(has(&ps, "name `a\\u{1b}b` holds a control character"), "{ps:?}");
    }
}
