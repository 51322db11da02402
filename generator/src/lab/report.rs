//! The lab's report: a table a person reads (client x LAN host: expected /
//! seen, ACL tests, bastion checks) and the same data as JSON.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::bastion::Check;
use super::plan::{Flow, LabPlan, Proto, Target};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub up_s: f64,
    pub handshake_s: f64,
    pub scan_s: f64,
    pub bastion_s: f64,
    pub down_s: f64,
    pub total_s: f64,
    /// Flows probed by the matrix (all clients).
    pub probes: usize,
    /// TCP probes sent by clients that should get through the hub, and how
    /// many SYNs reached the gateway's forward hook (a lab-only counter):
    /// a probe lost on the way tests nothing, so this shows the coverage.
    pub syn_sent: usize,
    pub syn_reached_gateway: usize,
    /// Chunks of probes sent again because some SYNs were lost on the way.
    pub resent_chunks: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub name: String,
    pub addr: Ipv4Addr,
    /// The services this client may use on this host (policy rule names).
    pub services: Vec<String>,
    /// Compact port lists, e.g. `tcp 3000, 8000-8010; udp 53`.
    pub expected: String,
    pub seen: String,
    /// Open although the policy does not allow it.
    pub unexpected_open: Vec<Flow>,
    /// Allowed by the policy but closed on the wire.
    pub missing: Vec<Flow>,
    pub ok: bool,
}

fn ranges(ports: impl Iterator<Item = u16>) -> String {
    let mut v: Vec<u16> = ports.collect();
    v.sort();
    let mut out: Vec<String> = vec![];
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j { v[i].to_string() } else { format!("{}-{}", v[i], v[j]) });
        i = j + 1;
    }
    out.join(",")
}

/// `tcp 3000,8096; udp 53`, or `-` for nothing.
pub fn summarize(flows: &BTreeSet<Flow>) -> String {
    let mut parts = vec![];
    for proto in [Proto::Tcp, Proto::Udp] {
        let r = ranges(flows.iter().filter(|f| f.proto == proto).map(|f| f.port));
        if !r.is_empty() {
            parts.push(format!("{proto} {r}"));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

impl TargetReport {
    pub fn new(t: &Target, expected: BTreeSet<Flow>, seen: BTreeSet<Flow>) -> Self {
        let unexpected_open: Vec<Flow> = seen.difference(&expected).copied().collect();
        let missing: Vec<Flow> = expected.difference(&seen).copied().collect();
        TargetReport {
            name: t.name.clone(),
            addr: t.addr,
            services: vec![],
            expected: summarize(&expected),
            seen: summarize(&seen),
            ok: unexpected_open.is_empty() && missing.is_empty(),
            unexpected_open,
            missing,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientReport {
    pub name: String,
    pub address: Ipv4Addr,
    pub handshake_expected: bool,
    pub handshake: bool,
    /// Allowed flows that needed a second try (lost SYNs under load).
    pub retried: usize,
    pub targets: Vec<TargetReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AclResult {
    pub test: usize,
    pub src: String,
    pub client: String,
    pub target: String,
    pub flow: Flow,
    pub expected: &'static str,
    pub seen: &'static str,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub lab: String,
    pub ok: bool,
    pub clients: Vec<ClientReport>,
    pub acl_tests: Vec<AclResult>,
    pub bastion: Vec<Check>,
    /// Each area's lab stage: (area, its checks). A stage that could not run
    /// at all reports one failed check saying why.
    pub areas: Vec<(String, Vec<Check>)>,
    pub timings: Timings,
    pub notes: Vec<String>,
    pub problems: Vec<String>,
    /// Area checks that could not run here (`area: check`): neither passed
    /// nor failed.
    pub skipped: Vec<String>,
}

impl Report {
    pub fn new(lab: String, plan: &LabPlan, clients: Vec<ClientReport>, acl_tests: Vec<AclResult>, bastion: Vec<Check>) -> Self {
        let mut problems = vec![];
        for c in &clients {
            if c.handshake != c.handshake_expected {
                problems.push(format!("{}: handshake {} but expected {}", c.name, yes(c.handshake), yes(c.handshake_expected)));
            }
            for t in c.targets.iter().filter(|t| !t.ok) {
                if !t.unexpected_open.is_empty() {
                    problems.push(format!("{} -> {}: open but not allowed: {}", c.name, t.name, list(&t.unexpected_open)));
                }
                if !t.missing.is_empty() {
                    problems.push(format!("{} -> {}: allowed but closed: {}", c.name, t.name, list(&t.missing)));
                }
            }
        }
        for a in acl_tests.iter().filter(|a| !a.ok) {
            let want = if a.expected == "accept" { "accepted" } else { "denied" };
            problems.push(format!("acl_tests[{}] (src = \"{}\"): {} -> {} ({}) should be {want}, but it is {}", a.test, a.src, a.client, a.target, a.flow, a.seen));
        }
        for b in bastion.iter().filter(|b| !b.ok) {
            problems.push(format!("bastion: {} from {}: expected {}, saw {}", b.name, b.from, b.expected, b.seen));
        }
        Report { lab, ok: problems.is_empty(), clients, acl_tests, bastion, areas: vec![], timings: Timings::default(), notes: plan.notes.clone(), problems, skipped: vec![] }
    }

    /// Adds an area stage's checks; a failed check fails the report, a
    /// skipped one ([`Check::skipped`]) is counted as skipped.
    pub fn add_area(&mut self, area: &str, checks: Vec<Check>) {
        for c in checks.iter().filter(|c| c.is_skipped()) {
            self.skipped.push(format!("{area}: {}", c.name));
        }
        for c in checks.iter().filter(|c| !c.ok && !c.is_skipped()) {
            self.problems.push(format!("{area}: {} from {}: expected {}, saw {}", c.name, c.from, c.expected, c.seen));
            self.ok = false;
        }
        self.areas.push((area.to_owned(), checks));
    }

    /// The human-readable report.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "hearth lab {}: port matrix (every TCP port 1-65535 and the inventory's UDP ports)", self.lab);
        let rows: Vec<[String; 6]> = self
            .clients
            .iter()
            .flat_map(|c| {
                let hs = if c.handshake_expected { String::new() } else { format!(" (revoked, handshake: {})", yes(c.handshake)) };
                c.targets.iter().map(move |t| {
                    let svc = if t.services.is_empty() { "-".to_string() } else { t.services.join(",") };
                    [format!("{}{hs}", c.name), format!("{} {}", t.name, t.addr), svc, t.expected.clone(), t.seen.clone(), if t.ok { "ok".into() } else { "FAIL".into() }]
                })
            })
            .collect();
        let head = ["client", "LAN host", "services", "expected open", "seen open", ""].map(String::from);
        let mut w = [0usize; 6];
        for r in std::iter::once(&head).chain(rows.iter()) {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        for r in std::iter::once(&head).chain(rows.iter()) {
            let _ = writeln!(s, "  {:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}", r[0], r[1], r[2], r[3], r[4], r[5], w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4]);
        }
        if !self.acl_tests.is_empty() {
            let _ = writeln!(s, "\nACL tests (on real packets):");
            for a in &self.acl_tests {
                let _ = writeln!(
                    s,
                    "  [{}] {} ({}) -> {} {}: expected {}, seen {}  {}",
                    a.test,
                    a.client,
                    a.src,
                    a.target,
                    a.flow,
                    a.expected,
                    a.seen,
                    if a.ok { "ok" } else { "FAIL" }
                );
            }
        }
        if !self.bastion.is_empty() {
            let _ = writeln!(s, "\nBastion (sshd + PAM TOTP):");
            for b in &self.bastion {
                let _ = writeln!(s, "  {:<28} from {:<12} expected {:<13} seen {}  {}", b.name, b.from, b.expected, b.seen, if b.ok { "ok" } else { "FAIL" });
            }
        }
        for (area, checks) in &self.areas {
            let _ = writeln!(s, "\n{area}:");
            for b in checks {
                let verdict = if b.ok {
                    "ok"
                } else if b.is_skipped() {
                    "SKIP"
                } else {
                    "FAIL"
                };
                let _ = writeln!(s, "  {:<36} from {:<12} expected {:<13} seen {}  {verdict}", b.name, b.from, b.expected, b.seen);
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let t = &self.timings;
        let _ = writeln!(
            s,
            "\ntime: {:.1}s total (up {:.1}s, handshakes {:.1}s, scan {:.1}s for {} flows, bastion {:.1}s, down {:.1}s)",
            t.total_s, t.up_s, t.handshake_s, t.scan_s, t.probes, t.bastion_s, t.down_s
        );
        if t.syn_sent > 0 {
            let _ = writeln!(
                s,
                "coverage: {} of {} TCP probes reached the gateway's filter ({:.2}%; {} chunks re-sent after losses)",
                t.syn_reached_gateway,
                t.syn_sent,
                100.0 * t.syn_reached_gateway as f64 / t.syn_sent as f64,
                t.resent_chunks
            );
        }
        let skipped = if self.skipped.is_empty() { String::new() } else { format!(" ({} check(s) skipped, not passed: {})", self.skipped.len(), self.skipped.join(", ")) };
        if self.ok {
            let _ = writeln!(s, "result: ok, the data plane matches the policy{skipped}");
        } else {
            let _ = writeln!(s, "result: FAILED{skipped}");
            for p in &self.problems {
                let _ = writeln!(s, "  {p}");
            }
        }
        s
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn list(f: &[Flow]) -> String {
    let set: BTreeSet<Flow> = f.iter().copied().collect();
    summarize(&set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists_are_compressed_into_ranges() {
        let a: Ipv4Addr = "10.0.0.1".parse().unwrap();
        let f = |proto, port| Flow { addr: a, proto, port };
        let s: BTreeSet<Flow> = [f(Proto::Tcp, 1), f(Proto::Tcp, 2), f(Proto::Tcp, 3), f(Proto::Tcp, 80), f(Proto::Udp, 53)].into();
        assert_eq!(summarize(&s), "tcp 1-3,80; udp 53");
        assert_eq!(summarize(&BTreeSet::new()), "-");
    }

    #[test]
    fn a_skipped_area_check_neither_passes_nor_fails() {
        let plan = LabPlan {
            nodes: vec![],
            links: vec![],
            lan: "10.0.0.0/24".parse().unwrap(),
            vpn: "10.1.0.0/24".parse().unwrap(),
            targets: vec![],
            udp_ports: BTreeSet::new(),
            clients: vec![],
            acl_checks: vec![],
            bastion: None,
            notes: vec![],
        };
        let mut r = Report::new("hl0000".into(), &plan, vec![], vec![], vec![]);
        r.add_area("logs", vec![Check::skipped("alloy fmt + alloy validate", "gw", "alloy not installed")]);
        assert!(r.ok);
        assert_eq!(r.skipped, vec!["logs: alloy fmt + alloy validate".to_string()]);
        let t = r.table();
        assert_eq!(t.matches("SKIPPED: alloy not installed").count(), 1, "{t}");
        assert!(!t.lines().any(|l| l.starts_with("SKIPPED:")), "no line a layer runner would take for a skipped layer: {t}");
        assert!(t.contains("  SKIP\n") && t.contains("1 check(s) skipped, not passed"), "{t}");
        r.add_area("x", vec![Check { name: "n".into(), from: "f".into(), expected: "e".into(), seen: "s".into(), ok: false }]);
        assert!(!r.ok);
    }

    #[test]
    fn a_missing_or_extra_port_fails_the_target() {
        let t = Target { name: "h".into(), addr: "10.0.0.1".parse().unwrap() };
        let f = |port| Flow { addr: t.addr, proto: Proto::Tcp, port };
        assert!(TargetReport::new(&t, [f(1)].into(), [f(1)].into()).ok);
        let r = TargetReport::new(&t, [f(1)].into(), [f(2)].into());
        assert!(!r.ok);
        assert_eq!(r.missing, vec![f(1)]);
        assert_eq!(r.unexpected_open, vec![f(2)]);
    }
}
