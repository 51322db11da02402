//! Building a [`LabPlan`] from a hearth repository: the inventory (hosts,
//! clients, ACL tests; expectations from the policy resolver), and for every
//! host the output of the same pure renderers in `modules/lib/` that the
//! NixOS modules use, evaluated with `nix-instantiate` on the generated
//! `hosts/<host>/hearth.nix`. Nothing of the renderers' logic is repeated
//! here: this file only lays out the lab's own wiring (namespaces, links,
//! lab addresses for the public endpoints) around their output.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::error::{Context, PlanError, Result};
use ipnet::Ipv4Net;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::plan::*;
use crate::inventory::{Inventory, Loaded};
use crate::secrets::{Identities, SecretStore};

/// Inputs the lab needs besides the repository.
pub struct BuildOpts<'a> {
    pub inventory: &'a Path,
    pub identities: &'a Identities,
    /// The lab's prefix and private directory (bastion paths point there).
    pub prefix: &'a str,
    pub dir: &'a Path,
}

/// Where Debian keeps PAM modules.
pub fn pam_dir() -> Option<PathBuf> {
    [
        "/lib/x86_64-linux-gnu/security",
        "/usr/lib/x86_64-linux-gnu/security",
        "/lib/aarch64-linux-gnu/security",
        "/usr/lib/aarch64-linux-gnu/security",
        "/lib/security",
        "/usr/lib/security",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|d| d.join("pam_unix.so").exists())
}

#[derive(Debug, Deserialize)]
struct HostEval {
    secrets: BTreeMap<String, String>,
    wg: Option<WgEval>,
    allowlist: Option<String>,
    bastion: Option<BastionEval>,
}

#[derive(Debug, Deserialize)]
struct WgEval {
    setconf: String,
    nat: String,
    iface: WgIface,
    raw: WgRaw,
}

#[derive(Debug, Deserialize)]
struct WgIface {
    ips: Vec<String>,
    mtu: Option<u16>,
    peers: Vec<WgIfacePeer>,
}

#[derive(Debug, Deserialize)]
struct WgIfacePeer {
    #[serde(rename = "allowedIPs")]
    allowed_ips: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WgRaw {
    interface: String,
    role: String,
    forwarding: bool,
    private_key_secret: String,
    listen_port: Option<u16>,
    peers: Vec<WgRawPeer>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WgRawPeer {
    public_key: String,
    preshared_key_secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BastionEval {
    sshd: String,
    pam: String,
    totp_header: String,
    port: u16,
    totp_secret: Option<String>,
    #[serde(rename = "userCA")]
    user_ca: Option<String>,
}

/// The lab users of the bastion checks: one per check group, so that the
/// TOTP module's rate limit and reuse state of one check cannot affect another.
pub fn lab_users(prefix: &str) -> [String; 4] {
    [format!("{prefix}a"), format!("{prefix}b"), format!("{prefix}c"), format!("{prefix}d")]
}

const EVAL: &str = r#"
{ root, lib, overrides }:
let
  o = builtins.fromJSON overrides;
  l = import (/. + lib);
  one = name:
    let
      h = import (/. + root + "/hosts/${name}/hearth.nix");
      hw = h.hearth.wireguard or { enable = false; };
      ha = h.hearth.allowlist or { enable = false; };
      hb = h.hearth.bastion or { enable = false; };
      # The bastion, rendered for the lab's users, TOTP directory and CA file
      # (inputs of the same renderers; see lab/bastion.rs).
      totpUsers = builtins.filter (u: u.totp) hb.users;
      labCfg = hb // {
        users = map (n: { name = n; sshKeys = [ ]; totp = true; totpSecret = null; }) o.labUsers;
        totp = hb.totp // { stateDir = o.totpDir; };
      } // (if hb.userCA == null then { } else { userCA = hb.userCA // { keyFile = o.caFile; }; });
    in {
      secrets = builtins.mapAttrs (n: s: toString s.file) (h.age.secrets or { });
      wg = if hw.enable then {
        setconf = l.wireguard.setconf hw;
        nat = l.wireguard.natTable hw;
        iface = l.wireguard.interface hw;
        raw = { inherit (hw) interface role forwarding privateKeySecret listenPort; peers = map (p: { inherit (p) publicKey presharedKeySecret; }) hw.peers; };
      } else null;
      allowlist = if ha.enable then l.allowlist.allowlistRuleset ha else null;
      bastion = if hb.enable then {
        sshd = l.bastion.configText labCfg;
        pam = l.bastion.sshdStack { cfg = labCfg; modules = o.pamModules; };
        totpHeader = l.bastion.totpHeader labCfg;
        port = hb.port;
        totpSecret = if totpUsers == [ ] then null else (builtins.head totpUsers).totpSecret;
        userCA = if hb.userCA == null then null else hb.userCA.publicKey;
      } else null;
    };
in builtins.listToAttrs (map (name: { inherit name; value = one name; }) o.hosts)
"#;

fn eval_hosts(root: &Path, hosts: &[String], overrides: serde_json::Value) -> Result<BTreeMap<String, HostEval>> {
    let mut o = overrides;
    o["hosts"] = serde_json::json!(hosts);
    let root_s = root.canonicalize().with_context(|| format!("repository {}", root.display()))?;
    // The renderers are found as `hearth preview` finds them: HEARTH_LIB, the
    // repo's modules/lib, or the ones installed with hearth.
    let lib = crate::preview::lib_dir(&root_s)?;
    let overrides = o.to_string();
    let v = crate::preview::nix_eval(EVAL, &[("root", root_s.as_os_str()), ("lib", lib.as_os_str()), ("overrides", overrides.as_ref())])
        .context("evaluating modules/lib on hosts/*/hearth.nix")?;
    serde_json::from_value(v).context("nix-instantiate output")
}

fn net(s: &str) -> Result<Ipv4Net> {
    s.parse::<Ipv4Net>().or_else(|_| s.parse::<Ipv4Addr>().map(|a| Ipv4Net::new(a, 32).unwrap())).map_err(|_| PlanError::NotIpv4 { value: s.into() }.into())
}

/// Replaces every `Endpoint = HOST:PORT` with the lab address standing in
/// for that public endpoint. An endpoint the lab does not know is an error:
/// the lab never resolves or dials a real name.
pub fn map_endpoints(text: &str, map: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if let Some((k, v)) = t.split_once('=') {
            if k.trim().eq_ignore_ascii_case("endpoint") {
                let v = v.trim();
                let lab = map.get(v).ok_or_else(|| PlanError::UnknownEndpoint { endpoint: v.into() })?;
                out.push_str(&format!("Endpoint = {lab}\n"));
                continue;
            }
        }
        out.push_str(line);
    }
    Ok(out)
}

/// The interface part of a wg-quick config that wg-quick itself applies
/// (Address, MTU) and the peers' AllowedIPs it turns into routes.
pub fn wg_quick_interface(text: &str) -> Result<(Vec<Ipv4Net>, Option<u16>, Vec<Ipv4Net>)> {
    let (mut addrs, mut mtu, mut routes) = (vec![], None, vec![]);
    let mut section = String::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            section = line.to_ascii_lowercase();
            continue;
        }
        let Some((k, v)) = line.split_once('=') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        let list = || v.split(',').map(str::trim).filter(|x| !x.is_empty() && !x.contains(':'));
        match (section.as_str(), k.as_str()) {
            ("[interface]", "address") => addrs.extend(list().map(net).collect::<Result<Vec<_>>>()?),
            ("[interface]", "mtu") => mtu = Some(v.parse().map_err(|source| PlanError::Mtu { value: v.into(), source })?),
            ("[peer]", "allowedips") => routes.extend(list().map(net).collect::<Result<Vec<_>>>()?),
            _ => {}
        }
    }
    Ok((addrs, mtu, routes))
}

/// The lab's address of a LAN host: `addr` in a network of the LAN's prefix length.
fn lan_net(addr: Ipv4Addr, len: u8) -> Result<Ipv4Net> {
    Ipv4Net::new(addr, len).map_err(|_| PlanError::PrefixLen { addr, len }.into())
}

fn rel_secret(root: &Path, file: &str) -> Result<String> {
    let secrets = root.canonicalize().with_context(|| format!("repository {}", root.display()))?.join("secrets");
    let p = Path::new(file);
    let p = p.canonicalize().with_context(|| format!("secret {file}"))?;
    Ok(p.strip_prefix(&secrets).map_err(|_| PlanError::SecretOutside { file: file.into(), dir: secrets.clone() })?.to_string_lossy().into_owned())
}

/// An extra client that the inventory no longer has (a removed peer), with
/// the wg-quick config it had: the lab expects no handshake and no reach.
pub struct Revoked {
    pub name: String,
    pub config: Zeroizing<String>,
}

/// Builds the plan for the repository holding `opts.inventory`.
pub fn build(opts: &BuildOpts, revoked: Vec<Revoked>) -> Result<LabPlan> {
    let loaded = Loaded::read(opts.inventory)?;
    let inv: &Inventory = &loaded.inv;
    let root = crate::fsutil::repo_root(opts.inventory);
    let store = SecretStore::open(root.join("secrets")).context("opening secrets/")?;
    let internet: Ipv4Net = INTERNET.parse().unwrap();
    let uplink: Ipv4Net = HOME_UPLINK.parse().unwrap();
    for n in [internet, uplink] {
        if n.contains(&inv.network.lan.network()) || inv.network.lan.contains(&n.network()) || n.contains(&inv.network.vpn.network()) || inv.network.vpn.contains(&n.network()) {
            return Err(PlanError::Overlap { segment: n }.into());
        }
    }
    let hub = inv.hub().map(|(n, _)| n.to_string());
    let (gw_name, gw) = inv.gateway().ok_or(PlanError::NoGateway)?;
    let gw_addr = gw.address.ok_or_else(|| PlanError::NoAddress { role: "gateway", host: gw_name.into() })?;
    let bastion_host = inv.bastion().map(|(n, _)| n.to_string());

    // Evaluate every host that has something to render.
    let wg_hosts: Vec<String> = inv.hosts.iter().filter(|(n, h)| h.wireguard_role().is_some() || bastion_host.as_deref() == Some(n.as_str())).map(|(n, _)| n.clone()).collect();
    for h in &wg_hosts {
        let p = root.join("hosts").join(h).join("hearth.nix");
        if !p.exists() {
            return Err(PlanError::NotRendered { path: p }.into());
        }
    }
    let pam = pam_dir().ok_or(PlanError::NoPam)?;
    let pm = |m: &str| pam.join(m).to_string_lossy().into_owned();
    let users = lab_users(opts.prefix);
    let overrides = serde_json::json!({
        "labUsers": users,
        "totpDir": opts.dir.join("totp").to_string_lossy(),
        "caFile": opts.dir.join("ssh").join("user-ca.pub").to_string_lossy(),
        "pamModules": {
            "googleAuthenticator": pm("pam_google_authenticator.so"),
            "unix": pm("pam_unix.so"),
            "succeedIf": pm("pam_succeed_if.so"),
            "deny": pm("pam_deny.so"),
            "limits": pm("pam_limits.so"),
        },
    });
    let evals = eval_hosts(&root, &wg_hosts, overrides)?;

    let mut plan = LabPlan {
        nodes: vec![Node::new("internet", NodeKind::Switch), Node::new("lan", NodeKind::Switch)],
        links: vec![],
        lan: inv.network.lan,
        vpn: inv.network.vpn,
        targets: vec![],
        udp_ports: BTreeSet::new(),
        clients: vec![],
        acl_checks: vec![],
        bastion: None,
        notes: vec![],
    };
    let (sw_inet, sw_lan) = (0usize, 1usize);
    let mut inet_host = 10u32; // clients from .10
    let add_link = |plan: &mut LabPlan, a: usize, aif: &str, aaddr: Option<Ipv4Net>, b: usize, bif: &str, baddr: Option<Ipv4Net>| {
        plan.links.push(Link { a, a_port: Port { ifname: aif.into(), address: aaddr }, b, b_port: Port { ifname: bif.into(), address: baddr } });
    };
    let inet_addr = |host: u32| Ipv4Net::new(Ipv4Addr::from(u32::from(internet.network()) + host), internet.prefix_len()).unwrap();
    let up_addr = |host: u32| Ipv4Net::new(Ipv4Addr::from(u32::from(uplink.network()) + host), uplink.prefix_len()).unwrap();
    let lan_len = inv.network.lan.prefix_len();

    // Public endpoints -> lab addresses.
    let mut endpoints: BTreeMap<String, String> = BTreeMap::new();

    // The NAT router: the gateway's home router (masquerade; port forward
    // when the gateway is the listener).
    let nat = plan.nodes.len();
    plan.nodes.push(Node::new("home-router", NodeKind::NatRouter));
    let wan = inet_addr(2);
    add_link(&mut plan, nat, "wan0", Some(wan), sw_inet, &format!("p{nat}"), None);
    plan.nodes[nat].sysctls.push(("net.ipv4.ip_forward".into(), "1".into()));
    let mut nat_rules = String::from(
        "table ip hearth-lab-home-router {\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n    oifname \"wan0\" masquerade\n  }\n",
    );

    // The hub.
    let hub_idx = if let Some(h) = &hub {
        let i = plan.nodes.len();
        plan.nodes.push(Node::new(h, NodeKind::Hub));
        let a = inet_addr(1);
        add_link(&mut plan, i, "up0", Some(a), sw_inet, &format!("p{i}"), None);
        if let Some(ep) = &inv.hosts[h].endpoint {
            endpoints.insert(ep.to_string(), format!("{}:{}", a.addr(), ep.port()));
        }
        Some(i)
    } else {
        None
    };

    // The gateway: uplink behind the home router, LAN side on the LAN switch.
    let gwi = plan.nodes.len();
    plan.nodes.push(Node::new(gw_name, NodeKind::Gateway));
    add_link(&mut plan, gwi, "up0", Some(up_addr(2)), nat, "lan0", Some(up_addr(1)));
    add_link(&mut plan, gwi, "lan0", Some(lan_net(gw_addr, lan_len)?), sw_lan, &format!("p{gwi}"), None);
    plan.nodes[gwi].routes.push(Route { dest: internet, via: up_addr(1).addr() });
    if let Some(ep) = &gw.endpoint {
        if hub.is_none() {
            let port = ep.port();
            let listen = evals.get(gw_name).and_then(|e| e.wg.as_ref()).and_then(|w| w.raw.listen_port).ok_or_else(|| PlanError::NoListenPort { host: gw_name.into() })?;
            nat_rules.push_str(&format!(
                "  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n    iifname \"wan0\" udp dport {port} dnat to {}:{listen}\n  }}\n",
                up_addr(2).addr()
            ));
            endpoints.insert(ep.to_string(), format!("{}:{port}", wan.addr()));
        }
    }
    nat_rules.push_str("}\n");
    plan.nodes[nat].nft.push(("the home router's masquerade (lab)".into(), nat_rules));

    // Hosts running hearth's WireGuard: the renderers' output.
    let masquerading = evals.get(gw_name).and_then(|e| e.wg.as_ref()).is_some_and(|w| !w.nat.trim().is_empty());
    for (name, idx) in [(hub.clone(), hub_idx), (Some(gw_name.to_string()), Some(gwi))] {
        let (Some(name), Some(idx)) = (name, idx) else { continue };
        let ev = evals.get(&name).ok_or_else(|| PlanError::NoEvaluation { host: name.clone() })?;
        let w = ev.wg.as_ref().ok_or_else(|| PlanError::NoWireguard { host: name.clone() })?;
        let secret = |n: &str| -> Result<Secret> {
            let f = ev.secrets.get(n).ok_or_else(|| PlanError::NoAgeSecret { host: name.clone(), name: n.into() })?;
            Ok(Secret::AgeFile(PathBuf::from(rel_secret(&root, f)?)))
        };
        let psks =
            w.raw.peers.iter().filter_map(|p| p.preshared_key_secret.as_ref().map(|s| (p, s))).map(|(p, s)| Ok((p.public_key.clone(), secret(s)?))).collect::<Result<Vec<_>>>()?;
        let routes = w.iface.peers.iter().flat_map(|p| p.allowed_ips.iter()).filter(|a| !a.contains(':')).map(|a| net(a)).collect::<Result<Vec<_>>>()?;
        let node = &mut plan.nodes[idx];
        node.wg = Some(WgPlan {
            name: w.raw.interface.clone(),
            addresses: w.iface.ips.iter().map(|a| net(a)).collect::<Result<_>>()?,
            mtu: w.iface.mtu,
            source: WgSource::Setconf { text: map_endpoints(&w.setconf, &endpoints)?, private_key: secret(&w.raw.private_key_secret)?, psks },
            routes,
        });
        if w.raw.forwarding {
            // What the module sets (boot.kernel.sysctl net.ipv4.conf.all.forwarding).
            node.sysctls.push(("net.ipv4.conf.all.forwarding".into(), "1".into()));
        }
        if !w.nat.trim().is_empty() {
            node.nft.push(("table ip hearth-nat (wireguard.natTable)".into(), format!("table ip hearth-nat {{\n{}}}\n", w.nat)));
        }
        if let Some(rs) = &ev.allowlist {
            node.nft.push(("table inet hearth (nftables.allowlistRuleset)".into(), rs.clone()));
        }
        plan.notes.push(format!("{name}: WireGuard role {} from modules/lib/wireguard.nix on hosts/{name}/hearth.nix", w.raw.role));
    }

    // LAN hosts: every host with a LAN address except the gateway.
    let unmasqueraded: Vec<Ipv4Addr> = crate::area::AREAS.iter().flat_map(|a| a.unmasqueraded(inv)).collect();
    for (name, h) in &inv.hosts {
        if name == gw_name || h.wireguard_role().is_some() {
            continue;
        }
        let Some(addr) = h.address else { continue };
        let i = plan.nodes.len();
        let mut n = Node::new(name, NodeKind::LanHost);
        n.lan_address = Some(addr);
        if !masquerading || unmasqueraded.contains(&addr) {
            // Without masquerade the LAN needs a route back to the VPN pool
            // (the trade-off the wireguard module documents; an area renders
            // it on the hosts it exempts from masquerade).
            n.routes.push(Route { dest: inv.network.vpn, via: gw_addr });
        }
        plan.nodes.push(n);
        add_link(&mut plan, i, "lan0", Some(lan_net(addr, lan_len)?), sw_lan, &format!("p{i}"), None);
        plan.targets.push(Target { name: name.clone(), addr });
    }

    // LAN devices the areas name (a PiKVM, a KVM switch), each with the
    // hearth process standing in for it; not probed by the matrix.
    for area in crate::area::AREAS {
        for d in area.lab_devices(inv) {
            let (name, addr) = (d.name, d.address);
            if plan.node(&name).is_some() {
                return Err(PlanError::DuplicateNode { node: name, area: area.name() }.into());
            }
            let i = plan.nodes.len();
            let mut n = Node::new(&name, NodeKind::Device);
            n.lan_address = Some(addr);
            n.daemon = d.daemon;
            n.ready_port = d.ready_port;
            if !masquerading {
                n.routes.push(Route { dest: inv.network.vpn, via: gw_addr });
            }
            plan.nodes.push(n);
            add_link(&mut plan, i, "lan0", Some(lan_net(addr, lan_len)?), sw_lan, &format!("p{i}"), None);
        }
    }

    // Expectations: the policy resolver, the source of hearth.allowlist.
    let al = crate::policy::allowlist(inv);
    plan.udp_ports = udp_ports(&al);

    // Clients: peers get the wg-quick config `hearth peer config` prints;
    // wireguard-client hosts get their rendered setconf.
    let specs = crate::topology::secrets(inv);
    let decrypt_rel = |rel: &str| -> Result<Zeroizing<String>> {
        let b = store.decrypt(rel, opts.identities).with_context(|| format!("decrypting secrets/{rel}"))?;
        Ok(Zeroizing::new(String::from_utf8_lossy(b.expose()).trim().to_string()))
    };
    let mut add_client = |plan: &mut LabPlan, name: &str, config: Zeroizing<String>, connects: bool, addr_hint: Option<Ipv4Addr>| -> Result<()> {
        let i = plan.nodes.len();
        let config = Zeroizing::new(map_endpoints(&config, &endpoints)?);
        let (addresses, mtu, routes) = wg_quick_interface(&config)?;
        let address = addr_hint.or_else(|| addresses.first().map(|a| a.addr())).ok_or_else(|| PlanError::NoClientAddress { client: name.into() })?;
        let mut n = Node::new(name, NodeKind::Client);
        n.wg = Some(WgPlan { name: format!("{}w{i}", opts.prefix), addresses, mtu, source: WgSource::WgQuick { config }, routes });
        plan.nodes.push(n);
        let a = inet_addr(inet_host);
        inet_host += 1;
        if inet_host >= 250 {
            return Err(PlanError::TooManyClients.into());
        }
        add_link(plan, i, "up0", Some(a), sw_inet, &format!("p{i}"), None);
        let allowed = if connects { expected_flows(&al, address, &plan.targets, &plan.udp_ports) } else { BTreeSet::new() };
        let services = if connects { services_for(&al, address) } else { Default::default() };
        plan.clients.push(ClientExpect { node: i, name: name.into(), address, allowed, connects, services });
        Ok(())
    };
    for c in inv.clients() {
        let Some(addr) = c.address else {
            plan.notes.push(format!("client {} has no address yet (run `hearth render`): left out", c.name));
            continue;
        };
        if c.is_host {
            plan.notes.push(format!("client host {}: wireguard-client hosts are not in the lab yet", c.name));
            continue;
        }
        let key_rel = specs
            .iter()
            .find(|s| matches!(&s.kind, crate::topology::SecretKind::WireguardKey { node } if node == c.name))
            .map(|s| s.rel.clone())
            .ok_or_else(|| PlanError::NoKeySecret { client: c.name.into() })?;
        let psk_rel = specs.iter().find(|s| matches!(&s.kind, crate::topology::SecretKind::Psk { peer, .. } if peer == c.name)).map(|s| s.rel.clone());
        let key = decrypt_rel(&key_rel)?;
        let psk = psk_rel.as_deref().map(decrypt_rel).transpose()?;
        let config = Zeroizing::new(
            crate::topology::client_config(inv, c.name, &key, psk.as_deref().map(|s| s.as_str())).map_err(|reason| PlanError::ClientConfig { client: c.name.into(), reason })?,
        );
        add_client(&mut plan, c.name, config, true, Some(addr))?;
    }
    for r in revoked {
        add_client(&mut plan, &r.name, r.config, false, None)?;
    }

    // Lab-only, on the gateway: one counter per client and DSCP tag of the probe SYNs that
    // reach the forward hook (the scan's coverage, see probe::syn_scan). A
    // counter and no verdict, at a priority before hearth's table: it
    // changes nothing about what is forwarded.
    if let Some(w) = plan.nodes[gwi].wg.as_ref() {
        let mut t = String::from("table inet hearth-lab-count {\n");
        for i in 0..plan.clients.len() {
            for tag in 1..=super::probe::TAGS {
                t.push_str(&format!("  counter c{i}t{tag} {{\n  }}\n"));
            }
        }
        t.push_str("  chain forward {\n    type filter hook forward priority -10; policy accept;\n");
        for (i, c) in plan.clients.iter().enumerate() {
            for tag in 1..=super::probe::TAGS {
                t.push_str(&format!("    iifname \"{}\" ip saddr {} ip dscp {tag} tcp flags & (syn | ack) == syn counter name \"c{i}t{tag}\"\n", w.name, c.address));
            }
        }
        t.push_str("  }\n}\n");
        plan.nodes[gwi].nft.push(("lab SYN counters".into(), t));
    }

    // ACL tests, one check per client and probe.
    let groups = inv.groups();
    for (ti, t) in inv.acl_tests.iter().enumerate() {
        let members: Vec<String> = match groups.get(t.src.as_str()) {
            Some(m) => m.iter().map(|s| s.to_string()).collect(),
            None => vec![t.src.clone()],
        };
        for m in members {
            if !plan.clients.iter().any(|c| c.name == m) {
                plan.notes.push(format!("acl_tests[{ti}]: {m} is not a client in the lab; skipped"));
                continue;
            }
            for (targets, accept) in [(&t.accept, true), (&t.deny, false)] {
                for target in targets {
                    let tg = crate::policy::parse_target(inv, target).map_err(|reason| PlanError::AclTarget { test: ti, reason })?;
                    // A service behind auth is reached by name only: its
                    // allow list is proven at the ingress (the ingress
                    // stage); here its port must be closed, accept or deny.
                    let (text, accept) = if tg.by_name { (format!("{target} (by name only: its port)"), false) } else { (target.clone(), accept) };
                    for (addr, proto, port) in tg.probes {
                        let proto = if proto == "udp" { Proto::Udp } else { Proto::Tcp };
                        plan.acl_checks.push(AclCheck { test: ti, src: t.src.clone(), client: m.clone(), target: text.clone(), flow: Flow { addr, proto, port }, accept });
                    }
                }
            }
        }
    }
    // UDP ports named only by ACL tests are answered too.
    let extra: Vec<u16> = plan.acl_checks.iter().filter(|c| c.flow.proto == Proto::Udp).map(|c| c.flow.port).collect();
    plan.udp_ports.extend(extra);

    // The bastion.
    if let Some(b) = &bastion_host {
        let ev = evals.get(b).and_then(|e| e.bastion.as_ref().map(|x| (e, x)));
        if let Some((hev, bev)) = ev {
            let node = plan.node(b).ok_or_else(|| PlanError::BastionNotGateway { host: b.clone() })?;
            let addr = inv.hosts[b].address.ok_or_else(|| PlanError::NoAddress { role: "bastion", host: b.clone() })?;
            let totp_seed = match &bev.totp_secret {
                Some(n) => {
                    let f = hev.secrets.get(n).ok_or_else(|| PlanError::NoAgeSecret { host: b.clone(), name: n.clone() })?;
                    Secret::AgeFile(PathBuf::from(rel_secret(&root, f)?))
                }
                None => return Err(PlanError::NoTotpUser.into()),
            };
            let ca_key = if bev.user_ca.is_some() {
                specs.iter().find(|s| matches!(s.kind, crate::topology::SecretKind::SshCa)).map(|s| Secret::AgeFile(PathBuf::from(&s.rel)))
            } else {
                None
            };
            plan.bastion = Some(BastionPlan {
                node,
                host: b.clone(),
                addr,
                port: bev.port,
                users: users.to_vec(),
                sshd_config: bev.sshd.clone(),
                pam_stack: bev.pam.clone(),
                totp_header: bev.totp_header.clone(),
                totp_dir: opts.dir.join("totp"),
                totp_seed,
                user_ca: bev.user_ca.clone(),
                ca_key,
                vpn_client: plan.clients.iter().find(|c| c.connects).map(|c| c.node),
                outsider: nat,
                outsider_target: up_addr(2).addr(),
            });
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::LabError;

    #[test]
    fn endpoints_are_mapped_and_unknown_ones_refused() {
        let m = BTreeMap::from([("vps.example.net:51821".to_string(), "198.18.0.1:51821".to_string())]);
        let t = "[Peer]\nPublicKey = x\nEndpoint = vps.example.net:51821\n";
        assert_eq!(map_endpoints(t, &m).unwrap(), "[Peer]\nPublicKey = x\nEndpoint = 198.18.0.1:51821\n");
        let err = map_endpoints("Endpoint = evil.example.com:1\n", &m).unwrap_err();
        assert!(matches!(&err, LabError::Plan(PlanError::UnknownEndpoint { endpoint }) if endpoint == "evil.example.com:1"), "{err:?}");
        assert!(err.to_string().contains("the lab only dials its own namespaces"), "{err}");
    }

    #[test]
    fn a_bad_client_config_is_a_located_plan_error() {
        let err = wg_quick_interface("[Interface]\nMTU = big\n").unwrap_err();
        assert!(matches!(&err, LabError::Plan(PlanError::Mtu { value, .. }) if value == "big"), "{err:?}");
        assert_eq!(err.to_string(), "MTU `big` is not a number: invalid digit found in string");
        let err = wg_quick_interface("[Interface]\nAddress = 10.1.2.300/32\n").unwrap_err();
        assert!(matches!(&err, LabError::Plan(PlanError::NotIpv4 { value }) if value == "10.1.2.300/32"), "{err:?}");
    }

    #[test]
    fn wg_quick_interface_takes_addresses_mtu_and_routes() {
        let t = "[Interface]\nPrivateKey = k\nAddress = 10.69.222.10/32\nMTU = 1420\nDNS = 10.69.13.5\n\n[Peer]\n# vps\nPublicKey = p\nAllowedIPs = 10.69.222.0/24, 10.69.13.0/24, ::/0\n";
        let (a, mtu, r) = wg_quick_interface(t).unwrap();
        assert_eq!(a, vec!["10.69.222.10/32".parse::<Ipv4Net>().unwrap()]);
        assert_eq!(mtu, Some(1420));
        assert_eq!(r.len(), 2, "IPv6 is left out of an IPv4 lab: {r:?}");
    }
}
