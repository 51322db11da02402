//! `hearth graph`: the homelab as a diagram (hub, gateway, LAN hosts, VPN
//! client groups and the services each group may reach), as mermaid (the
//! default; GitHub renders it in Markdown), Graphviz dot, or SVG through
//! Graphviz's `dot`. One model ([`Graph`], built from the resolved policy
//! the gateway enforces) and one printer per format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use crate::area::{CliCx, CmdError};
use crate::inventory::{Inventory, Role};
use crate::policy;

/// Draw the homelab: hub, gateway, LAN hosts, VPN client groups and which
/// services each group reaches (the allowlist the gateway enforces).
///
/// Examples:
///   hearth graph                       # mermaid, paste into Markdown
///   hearth graph --format dot | dot -Tpng > lab.png
///   hearth graph --format svg > lab.svg   # needs Graphviz (apt install graphviz)
#[derive(Debug, clap::Parser)]
#[command(name = "graph", verbatim_doc_comment)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
    Svg,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("Graphviz's `dot` is not installed; install it (Debian: apt-get install graphviz) or use --format mermaid|dot")]
    NoDot,
    #[error("`dot -Tsvg` failed: {0}")]
    Dot(String),
    #[error("cannot run `dot`: {0}")]
    Spawn(String),
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hub,
    Gateway,
    Lan,
    Clients,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    /// Lines of the label; the first is the name.
    pub label: Vec<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A WireGuard link.
    Tunnel,
    /// Services allowed through the gateway.
    Allowed,
    /// SSH to the bastion.
    Ssh,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
    pub style: Style,
}

/// The diagram, independent of the output format.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub title: String,
    pub clients: Vec<Node>,
    pub hub: Option<Node>,
    pub lan_name: String,
    pub lan: Vec<Node>,
    pub edges: Vec<Edge>,
}

fn host_id(n: &str) -> String {
    format!("h-{n}")
}
fn group_id(n: &str) -> String {
    format!("g-{n}")
}

/// Builds the diagram of `inv`.
pub fn build(inv: &Inventory) -> Graph {
    let mut g = Graph { title: inv.network.domain.clone(), lan_name: format!("LAN {}", inv.network.lan), ..Default::default() };
    let al = policy::allowlist(inv);

    // Client sets: every group, and every client in no group.
    let groups = inv.groups();
    let mut sets: Vec<(String, String, Vec<&str>)> = groups.iter().map(|(gname, members)| (group_id(gname), gname.to_string(), members.clone())).collect();
    for c in inv.clients() {
        if c.groups.is_empty() {
            sets.push((group_id(c.name), c.name.to_string(), vec![c.name]));
        }
    }
    for (id, name, members) in &sets {
        let mut label = vec![name.clone()];
        if members.len() != 1 || members[0] != name {
            label.push(members.join(", "));
        }
        g.clients.push(Node { id: id.clone(), label, kind: Kind::Clients });
    }

    let gateway = inv.gateway().map(|(n, _)| n);
    if let Some((hn, h)) = inv.hub() {
        let mut label = vec![hn.to_owned(), "WireGuard hub".into()];
        label.extend(h.endpoint.as_ref().map(|e| e.to_string()));
        g.hub = Some(Node { id: host_id(hn), label, kind: Kind::Hub });
    }
    for (n, h) in &inv.hosts {
        if h.has(Role::WIREGUARD_HUB) || h.has(Role::WIREGUARD_CLIENT) || (h.address.is_none() && Some(n.as_str()) != gateway) {
            continue;
        }
        let mut label = vec![n.clone()];
        let roles: Vec<&str> = h.roles.iter().map(|r| r.as_str().trim_start_matches("wireguard-")).collect();
        if !roles.is_empty() {
            label.push(roles.join(" + "));
        }
        label.extend(h.address.map(|a| a.to_string()));
        let kind = if Some(n.as_str()) == gateway { Kind::Gateway } else { Kind::Lan };
        g.lan.push(Node { id: host_id(n), label, kind });
    }

    // Tunnels: clients dial the hub (or the gateway without one); the
    // gateway dials the hub.
    let entry = inv.hub().map(|(n, _)| n).or(gateway);
    if let Some(e) = entry {
        for (id, ..) in &sets {
            g.edges.push(Edge { from: id.clone(), to: host_id(e), label: "WireGuard".into(), style: Style::Tunnel });
        }
    }
    if let (Some((hub, _)), Some(gw)) = (inv.hub(), gateway) {
        g.edges.push(Edge { from: host_id(hub), to: host_id(gw), label: "tunnel".into(), style: Style::Tunnel });
    }

    // What each client set may reach, per host: the gateway's flows (a web
    // service behind auth is reached through the ingress's edge only).
    let by_addr: BTreeMap<std::net::Ipv4Addr, &str> = inv.hosts.iter().filter_map(|(n, h)| Some((h.address?, n.as_str()))).collect();
    for (id, name, members) in &sets {
        // A rule's sources: "*", group names, and `peer_source` of single peers.
        let singles: std::collections::HashSet<String> = members.iter().map(|m| policy::peer_source(m)).collect();
        let mut per_host: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in al.flows() {
            let applies = r.from.iter().any(|f| f == policy::ALL_CLIENTS || f == name || singles.contains(f));
            if !applies {
                continue;
            }
            let ports: Vec<String> = r.ports.iter().map(|p| p.to_string()).collect();
            let what = format!("{} {}/{}", r.name, ports.join(","), r.proto.join("+"));
            for to in &r.to {
                if let Some(h) = by_addr.get(to) {
                    let v = per_host.entry(h).or_default();
                    if !v.contains(&what) {
                        v.push(what.clone());
                    }
                }
            }
        }
        for (h, what) in per_host {
            g.edges.push(Edge { from: id.clone(), to: host_id(h), label: what.join(", "), style: Style::Allowed });
        }
    }
    if let Some((b, _)) = inv.bastion() {
        for (id, ..) in &sets {
            g.edges.push(Edge { from: id.clone(), to: host_id(b), label: format!("ssh {} key + TOTP", inv.bastion.port), style: Style::Ssh });
        }
    }
    g
}

/// Mermaid text can hold anything but `"` inside a quoted label.
fn mm(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// The diagram as a mermaid flowchart.
pub fn mermaid(g: &Graph) -> String {
    let mut s = String::from("flowchart LR\n");
    let _ = writeln!(s, "  %% Generated by `hearth graph` from inventory.toml ({}).", mm(&g.title));
    let node = |s: &mut String, n: &Node| {
        let label = mm(&n.label.join("<br/>"));
        let _ = match n.kind {
            Kind::Hub => writeln!(s, "    {}{{{{\"{label}\"}}}}", n.id),
            Kind::Gateway => writeln!(s, "    {}[[\"{label}\"]]", n.id),
            Kind::Lan => writeln!(s, "    {}[\"{label}\"]", n.id),
            Kind::Clients => writeln!(s, "    {}([\"{label}\"])", n.id),
        };
    };
    if !g.clients.is_empty() {
        s.push_str("  subgraph clients[\"VPN clients\"]\n");
        g.clients.iter().for_each(|n| node(&mut s, n));
        s.push_str("  end\n");
    }
    if let Some(h) = &g.hub {
        s.push_str("  subgraph internet[\"Internet\"]\n");
        node(&mut s, h);
        s.push_str("  end\n");
    }
    if !g.lan.is_empty() {
        let _ = writeln!(s, "  subgraph lan[\"{}\"]", mm(&g.lan_name));
        g.lan.iter().for_each(|n| node(&mut s, n));
        s.push_str("  end\n");
    }
    for e in &g.edges {
        let arrow = match e.style {
            Style::Tunnel => "==>",
            Style::Allowed => "-->",
            Style::Ssh => "-.->",
        };
        let _ = writeln!(s, "  {} {arrow}|\"{}\"| {}", e.from, mm(&e.label), e.to);
    }
    s
}

/// A double-quoted dot string.
fn dq(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The diagram in Graphviz's dot language.
pub fn dot(g: &Graph) -> String {
    let mut s = String::from("// Generated by `hearth graph --format dot` from inventory.toml.\ndigraph hearth {\n");
    let _ = writeln!(
        s,
        "  label={};\n  labelloc=t;\n  rankdir=LR;\n  fontname=\"Helvetica\";\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];",
        dq(&g.title)
    );
    let node = |s: &mut String, n: &Node| {
        let shape = match n.kind {
            Kind::Hub => "hexagon",
            Kind::Gateway => "box, peripheries=2",
            Kind::Lan => "box",
            Kind::Clients => "box, style=rounded",
        };
        let _ = writeln!(s, "    {} [label={}, shape={shape}];", dq(&n.id), dq(&n.label.join("\n")).replace("\n", "\\n"));
    };
    let cluster = |s: &mut String, name: &str, label: &str, nodes: &[Node]| {
        if nodes.is_empty() {
            return;
        }
        let _ = writeln!(s, "  subgraph cluster_{name} {{\n    label={};", dq(label));
        nodes.iter().for_each(|n| node(s, n));
        s.push_str("  }\n");
    };
    cluster(&mut s, "clients", "VPN clients", &g.clients);
    cluster(&mut s, "internet", "Internet", g.hub.as_slice());
    cluster(&mut s, "lan", &g.lan_name, &g.lan);
    for e in &g.edges {
        let style = match e.style {
            Style::Tunnel => "bold",
            Style::Allowed => "solid",
            Style::Ssh => "dashed",
        };
        let _ = writeln!(s, "  {} -> {} [label={}, style={style}];", dq(&e.from), dq(&e.to), dq(&e.label));
    }
    s.push_str("}\n");
    s
}

/// Renders dot text to SVG with Graphviz's `dot` (or the program
/// `HEARTH_DOT` names).
pub fn svg(dot_text: &str) -> Result<Vec<u8>, GraphError> {
    let dot = match std::env::var_os("HEARTH_DOT") {
        Some(p) => Some(std::path::PathBuf::from(p)).filter(|p| p.is_file()),
        None => crate::lab::which("dot"),
    };
    let Some(dot) = dot else { return Err(GraphError::NoDot) };
    let mut child = std::process::Command::new(dot)
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| GraphError::Spawn(e.to_string()))?;
    // A `dot` that exits early closes its input: its exit status says
    // why, not our write's broken pipe (which the binary would take for a
    // closed stdout and exit 0).
    let wrote = child.stdin.take().map(|mut i| i.write_all(dot_text.as_bytes()));
    let out = child.wait_with_output().map_err(|e| GraphError::Dot(e.to_string()))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(GraphError::Dot(if why.is_empty() { out.status.to_string() } else { why }));
    }
    if let Some(Err(e)) = wrote {
        return Err(GraphError::Dot(format!("writing its input: {e}")));
    }
    Ok(out.stdout)
}

/// `hearth graph`.
pub fn run(args: &GraphArgs, cx: &CliCx) -> Result<i32, CmdError> {
    let loaded = crate::inventory::Loaded::read(&cx.inventory)?;
    crate::validate::check(&loaded)?;
    let g = build(&loaded.inv);
    let bytes = match args.format {
        Format::Mermaid => mermaid(&g).into_bytes(),
        Format::Dot => dot(&g).into_bytes(),
        Format::Svg => svg(&dot(&g))?,
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(&bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        r => r.map(|_| 0).map_err(Into::into),
    }
}
