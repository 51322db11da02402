//! The deploy area: the fleet handed to deploy-rs and colmena. `hearth
//! render` writes `hosts/deploy.nix` (plain data: per host the SSH target,
//! user, port, the bastion to jump through, magic rollback and tags), which
//! `modules/lib/deploy.nix` turns into deploy-rs's `deploy.nodes` and a
//! colmena hive for the flake. The SSH target comes from what the inventory
//! already says (address, else the endpoint's host, else the VPN address),
//! overridable under `[deploy.hosts.<host>]`. Also `hearth graph` (see
//! [`graph`]).

pub mod graph;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Area, CliCx, CmdError, File};
use crate::inventory::{Host, Inventory, Role};
use crate::nix::{self, Attrs, Value};
use crate::validate::Sink;

pub struct Deploy;

/// The repo-relative path of the generated deploy data.
pub const DEPLOY_NIX: &str = "hosts/deploy.nix";

/// `[deploy]`: how deploy-rs and colmena reach the hosts.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The user deploy-rs and colmena log in as on every host (`sshUser`,
    /// `deployment.targetUser`). Default `root`.
    #[serde(default = "default_user")]
    pub ssh_user: String,
    /// Whether LAN hosts (other than the bastion and the gateway) are reached
    /// through the bastion (`ssh -J <bastion>`, using the bastion's entry in
    /// your `~/.ssh/config` from `hearth ssh-config`). Default true; turn it
    /// off when you deploy from inside the LAN.
    #[serde(default = "default_true")]
    pub via_bastion: bool,
    /// deploy-rs magic rollback for hosts without the `wireguard-gateway` or
    /// `bastion` role (those always default to on). Default false.
    #[serde(default)]
    pub magic_rollback: bool,
    /// Per-host overrides, keyed by host name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, HostOverride>,
}

fn default_user() -> String {
    "root".into()
}
fn default_true() -> bool {
    true
}

impl Default for Section {
    fn default() -> Self {
        Self { ssh_user: default_user(), via_bastion: true, magic_rollback: false, hosts: BTreeMap::new() }
    }
}

/// `[deploy.hosts.<host>]`: overrides for one host.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostOverride {
    /// The SSH target (hostname or IP) instead of the inventory's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_host: Option<String>,
    /// SSH user for this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    /// SSH port of the host (default 22; the bastion's `[bastion] port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Jump through the bastion (true) or connect directly (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_bastion: Option<bool>,
    /// deploy-rs magic rollback for this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magic_rollback: Option<bool>,
    /// Extra colmena tags (lowercase letters, digits, `-`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Leave this host out of deploy-rs and colmena.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip: bool,
}

/// One deploy target, as written to `hosts/deploy.nix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub hostname: String,
    pub ssh_user: String,
    pub port: u16,
    /// The bastion's host name (its `Host` alias in `~/.ssh/config`) when
    /// this host is reached through it.
    pub jump_host: Option<String>,
    pub magic_rollback: bool,
    pub tags: Vec<String>,
}

/// Where deploy tools reach host `name` by default: its LAN address, else
/// its endpoint's host, else its VPN address, else its name (colmena's own
/// default; resolved by DNS or your ssh config, through the bastion when
/// there is one). `(target, in_the_lan)`.
fn default_target(name: &str, h: &Host) -> (String, bool) {
    if let Some(a) = h.address {
        return (a.to_string(), true);
    }
    if let Some(e) = &h.endpoint {
        return (e.host().to_string(), false);
    }
    match h.vpn_address {
        Some(a) => (a.to_string(), false),
        None => (name.to_owned(), true),
    }
}

/// Every deploy target (every host not skipped), by host name.
pub fn nodes(inv: &Inventory) -> Vec<Node> {
    let sec = &inv.deploy;
    let bastion = inv.bastion().map(|(b, _)| b);
    let mut out = Vec::with_capacity(inv.hosts.len());
    for (name, h) in &inv.hosts {
        let o = sec.hosts.get(name).cloned().unwrap_or_default();
        if o.skip {
            continue;
        }
        let (default, lan) = default_target(name, h);
        let hostname = o.target_host.clone().unwrap_or(default);
        let is_bastion = Some(name.as_str()) == bastion;
        let behind = lan && !is_bastion && !h.has(Role::WIREGUARD_GATEWAY) && !h.has(Role::WIREGUARD_HUB);
        let jump = match bastion {
            Some(b) if !is_bastion && o.via_bastion.unwrap_or(sec.via_bastion && behind) => Some(b.to_owned()),
            _ => None,
        };
        let guarded = h.has(Role::WIREGUARD_GATEWAY) || h.has(Role::BASTION);
        let port = o.port.unwrap_or(if is_bastion { inv.bastion.port } else { 22 });
        let mut tags: Vec<String> = h.roles.iter().map(|r| r.to_string()).collect();
        if h.roles.is_empty() {
            tags.push("lan".into());
        }
        if jump.is_some() {
            tags.push("via-bastion".into());
        }
        for t in &o.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        out.push(Node {
            name: name.clone(),
            hostname,
            ssh_user: o.ssh_user.unwrap_or_else(|| sec.ssh_user.clone()),
            port,
            jump_host: jump,
            magic_rollback: o.magic_rollback.unwrap_or(guarded || sec.magic_rollback),
            tags,
        });
    }
    out
}

/// The text of `hosts/deploy.nix`.
pub fn deploy_nix(inv: &Inventory) -> String {
    let mut ns = Attrs::new();
    for n in nodes(inv) {
        ns.push(
            n.name.clone(),
            Attrs::new()
                .set("hostname", n.hostname)
                .set("sshUser", n.ssh_user)
                .set("port", n.port)
                .set("jumpHost", Value::opt_str(n.jump_host))
                .set("magicRollback", n.magic_rollback)
                .set("tags", Value::strs(n.tags)),
        );
    }
    let mut out = String::from(crate::render::GENERATED_HEADER);
    out.push_str("# Deploy targets for deploy-rs (`deploy.nodes`) and colmena, read by flake.nix\n# through `hearth.lib.deploy`. jumpHost: the bastion's alias in ~/.ssh/config\n# (`hearth ssh-config`); null: connect directly.\n");
    out.push_str(&nix::print(&Attrs::new().set("nodes", ns).into()));
    out.push('\n');
    out
}

/// A hostname or IP literal an SSH command line can take safely.
fn target_problem(s: &str) -> Option<String> {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let ok =
        !s.is_empty() && s.len() <= 253 && !s.starts_with('-') && s.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    (!ok).then(|| format!("`{}` is not a hostname or IP address", s.escape_debug()))
}

/// A POSIX user name (what `useradd` accepts by default).
pub fn user_problem(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let ok =
        !b.is_empty() && b.len() <= 32 && (b[0].is_ascii_lowercase() || b[0] == b'_') && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-');
    (!ok).then(|| format!("`{}` is not a user name (lowercase letters, digits, `_`, `-`; at most 32)", s.escape_debug()))
}

impl Area for Deploy {
    fn name(&self) -> &'static str {
        "deploy"
    }

    fn validate(&self, inv: &Inventory, out: &mut Sink) {
        let sec = &inv.deploy;
        if let Some(p) = user_problem(&sec.ssh_user) {
            out.err(&["deploy", "ssh_user"], p, "use the login name deploy-rs and colmena should use, e.g. `root`");
        }
        for (name, o) in &sec.hosts {
            if !inv.hosts.contains_key(name) {
                out.err(&["deploy", "hosts", name], format!("`{name}` is not a host"), "use a name from [hosts], or remove this table");
                continue;
            }
            if let Some(t) = &o.target_host {
                if let Some(p) = target_problem(t) {
                    out.err(&["deploy", "hosts", name, "target_host"], p, "give the host's DNS name or IP address, without user or port");
                }
            }
            if let Some(u) = &o.ssh_user {
                if let Some(p) = user_problem(u) {
                    out.err(&["deploy", "hosts", name, "ssh_user"], p, "use a login name such as `root` or `deploy`");
                }
            }
            if o.port == Some(0) {
                out.err(&["deploy", "hosts", name, "port"], "port 0 is not a port", "use the host's SSH port, 1-65535");
            }
            for (i, t) in o.tags.iter().enumerate() {
                if !crate::validate::is_dns_label(t) {
                    out.err(
                        &["deploy", "hosts", name, "tags", &i.to_string()],
                        format!("tag `{}` is not lowercase letters, digits and inner `-`", t.escape_debug()),
                        "colmena selects tags with `--on @TAG`: use e.g. `media`",
                    );
                }
            }
            if o.via_bastion == Some(true) && inv.bastion().is_none_or(|(b, _)| b == name) {
                out.err(
                    &["deploy", "hosts", name, "via_bastion"],
                    "there is no other host with role `bastion` to jump through",
                    "remove via_bastion, or give a host the `bastion` role",
                );
            }
        }
        for name in inv.hosts.keys() {
            let o = sec.hosts.get(name);
            if o.is_none_or(|o| !o.skip) && (name == "meta" || name == "defaults" || !name.bytes().any(|c| c.is_ascii_lowercase())) {
                out.err(
                    &["hosts", name],
                    format!("host name `{name}` cannot be a deploy target: colmena reserves `meta` and `defaults`, and deploy-rs node names need a letter"),
                    format!("rename the host, or set [deploy.hosts.{name}] skip = true"),
                );
            }
        }
    }

    /// Always written (with no nodes when there are no hosts), so a removed
    /// host never lingers in the flake's deploy outputs.
    fn files(&self, inv: &Inventory) -> Vec<File> {
        vec![(DEPLOY_NIX.into(), deploy_nix(inv).into_bytes())]
    }

    fn command(&self) -> Option<clap::Command> {
        use clap::CommandFactory as _;
        Some(graph::GraphArgs::command())
    }

    fn run(&self, m: &clap::ArgMatches, cx: &CliCx) -> Result<i32, CmdError> {
        use clap::FromArgMatches as _;
        let args = graph::GraphArgs::from_arg_matches(m)?;
        graph::run(&args, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Loaded;
    use std::path::Path;

    fn example() -> Inventory {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../inventory.toml")).unwrap();
        Loaded::parse(Path::new("inventory.toml"), text).unwrap().inv
    }

    /// This area's problems (the core's are not its business).
    fn mine(inv: &Inventory) -> Vec<crate::validate::Problem> {
        crate::validate::problems(inv).into_iter().filter(|p| p.keys[0] == "deploy" || p.message.contains("deploy target")).collect()
    }

    fn node<'a>(ns: &'a [Node], n: &str) -> &'a Node {
        ns.iter().find(|x| x.name == n).unwrap()
    }

    #[test]
    fn example_targets_come_from_address_and_endpoint() {
        let ns = nodes(&example());
        let gw = node(&ns, "extgw01");
        assert_eq!((gw.hostname.as_str(), gw.jump_host.as_deref(), gw.magic_rollback), ("10.69.13.20", None, true));
        assert_eq!(gw.tags, vec!["wireguard-gateway", "bastion"]);
        let vps = node(&ns, "vps");
        // The example turns magic rollback on for the hub by override.
        assert_eq!((vps.hostname.as_str(), vps.jump_host.as_deref(), vps.magic_rollback), ("docker2.t-juice.club", None, true));
        let mut inv = example();
        inv.deploy.hosts.clear();
        assert!(!node(&nodes(&inv), "vps").magic_rollback, "off by default for a host that is neither gateway nor bastion");
        let m = node(&ns, "monitoring01");
        assert_eq!((m.hostname.as_str(), m.jump_host.as_deref(), m.magic_rollback), ("10.69.13.11", Some("extgw01"), false));
        assert_eq!(m.tags, vec!["lan", "via-bastion"]);
        assert_eq!(ns.len(), example().hosts.len());
    }

    #[test]
    fn overrides_win_and_skip_removes() {
        let mut inv = example();
        inv.deploy.hosts.insert(
            "monitoring01".into(),
            HostOverride {
                target_host: Some("mon.lan".into()),
                via_bastion: Some(false),
                magic_rollback: Some(true),
                ssh_user: Some("deploy".into()),
                port: Some(2222),
                tags: vec!["metrics".into()],
                skip: false,
            },
        );
        inv.deploy.hosts.insert("ns2".into(), HostOverride { skip: true, ..Default::default() });
        let ns = nodes(&inv);
        let m = node(&ns, "monitoring01");
        assert_eq!(
            m,
            &Node {
                name: "monitoring01".into(),
                hostname: "mon.lan".into(),
                ssh_user: "deploy".into(),
                port: 2222,
                jump_host: None,
                magic_rollback: true,
                tags: vec!["lan".into(), "metrics".into()]
            }
        );
        assert!(ns.iter().all(|n| n.name != "ns2"));
    }

    #[test]
    fn validation_locates_bad_overrides() {
        let mut inv = example();
        inv.deploy.ssh_user = "Root Me".into();
        inv.deploy.hosts.insert("nope".into(), HostOverride::default());
        inv.deploy.hosts.insert("jelly01".into(), HostOverride { target_host: Some("-oProxyCommand=x".into()), tags: vec!["Bad Tag".into()], port: Some(0), ..Default::default() });
        inv.deploy.hosts.insert("extgw01".into(), HostOverride { via_bastion: Some(true), ..Default::default() });
        let ps = mine(&inv);
        let keys: Vec<String> = ps.iter().map(|p| p.keys.join(".")).collect();
        assert_eq!(
            keys,
            vec![
                "deploy.ssh_user",
                "deploy.hosts.extgw01.via_bastion",
                "deploy.hosts.jelly01.target_host",
                "deploy.hosts.jelly01.port",
                "deploy.hosts.jelly01.tags.0",
                "deploy.hosts.nope"
            ]
        );
        assert!(ps.iter().all(|p| !p.hint.is_empty()));
    }

    #[test]
    fn host_without_any_address_is_reached_by_name_through_the_bastion() {
        let mut inv = example();
        inv.hosts.get_mut("ns2").unwrap().address = None;
        assert!(mine(&inv).is_empty());
        let n = node(&nodes(&inv), "ns2").clone();
        assert_eq!((n.hostname.as_str(), n.jump_host.as_deref()), ("ns2", Some("extgw01")));
        inv.deploy.hosts.insert("ns2".into(), HostOverride { target_host: Some("ns2.example.net".into()), via_bastion: Some(false), ..Default::default() });
        let n = node(&nodes(&inv), "ns2").clone();
        assert_eq!((n.hostname.as_str(), n.jump_host.as_deref()), ("ns2.example.net", None));
    }
}
