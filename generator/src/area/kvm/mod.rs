//! The kvm area: a PiKVM behind a TESmart KVM switch (`[kvm]`,
//! `hearth.kvm` on the bastion host, `modules/lib/kvm.nix`, `modules/kvm.nix`).
//!
//! The inventory says where the PiKVM and the switch are and which host is
//! cabled to which switch port (1-based, as printed on the switch). hearth
//! renders kvmd's `override.yaml` (GPIO driver, scheme and a view labelled
//! with host names) with the pure renderer, pushes it to the PiKVM through
//! the bastion, lets admins (only) reach the PiKVM's web UI and the switch's
//! control port, and switches the console by host name: `hearth kvm switch`
//! on a laptop and `hearth-kvm switch` on the bastion run the same protocol
//! code ([`tesmart`]).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory as _, FromArgMatches as _, Parser};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Area, CliCx, CmdError, HostCx, LabCx, Preview};
use crate::inventory::{Inventory, PortSpec, Proto, Role, Service};
use crate::nix::{Attrs, Value};
use crate::validate::Sink;

pub mod lab;
pub mod push;
pub mod tesmart;

/// `[kvm]`: the PiKVM, its switch, and which host is on which switch port.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The PiKVM's LAN address (a LAN device, not a NixOS host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub pikvm: Option<Ipv4Addr>,
    /// TCP port of the PiKVM's web UI.
    #[serde(default = "default_web_port")]
    pub web_port: u16,
    /// Groups and peers that may reach the PiKVM's web UI and the switch's control port over the VPN.
    #[serde(default = "default_allow")]
    pub allow: Vec<String>,
    /// The KVM switch in front of the PiKVM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<SwitchSettings>,
    /// Hosts cabled to the switch, by host name: `[kvm.hosts.jelly01] port = 3`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, Cabled>,
}

fn default_web_port() -> u16 {
    443
}
fn default_allow() -> Vec<String> {
    vec!["admins".into()]
}

impl Default for Section {
    fn default() -> Self {
        Section { pikvm: None, web_port: default_web_port(), allow: default_allow(), switch: None, hosts: BTreeMap::new() }
    }
}

impl Section {
    /// Whether the inventory uses this area at all.
    pub fn is_used(&self) -> bool {
        self.pikvm.is_some() || self.switch.is_some() || !self.hosts.is_empty()
    }
}

/// Kinds of KVM switch hearth speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SwitchKind {
    /// TESmart (kvmd's `tesmart` GPIO driver), controlled over TCP.
    #[default]
    Tesmart,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SwitchSettings {
    /// The switch's make: `tesmart`.
    #[serde(default)]
    pub kind: SwitchKind,
    /// The switch's LAN address.
    #[schemars(with = "String")]
    pub address: Ipv4Addr,
    /// TCP port of its control protocol.
    #[serde(default = "default_switch_port")]
    pub port: u16,
    /// How many ports the switch has (1-16), as printed on it.
    pub ports: u16,
    /// Seconds to wait for the switch to connect and answer (kvmd's `timeout`).
    #[serde(default = "default_timeout")]
    pub timeout: u16,
    /// Seconds the switch needs after switching before it is asked again (kvmd's `switch_delay`).
    #[serde(default = "default_switch_delay")]
    pub switch_delay: u16,
    /// Seconds between kvmd's polls of the active port (kvmd's `state_poll`).
    #[serde(default = "default_state_poll")]
    pub state_poll: u16,
}

fn default_switch_port() -> u16 {
    5000
}
fn default_timeout() -> u16 {
    5
}
fn default_switch_delay() -> u16 {
    1
}
fn default_state_poll() -> u16 {
    10
}

/// One host's cable.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Cabled {
    /// The switch port the host is cabled to, 1-based as printed on the switch.
    pub port: u16,
}

/// The services this area implies (admins only by default).
pub const WEB_SERVICE: &str = "kvm-web";
pub const SWITCH_SERVICE: &str = "kvm-switch";
/// `hearth preview kvm PART`: the name that stands for the KVM.
pub const PREVIEW_NAME: &str = "kvm";
/// The lab node standing in for the switch (a dot: never a host's name).
pub const LAB_SWITCH_NODE: &str = "kvm.switch";
/// The lab node standing in for the PiKVM (its web UI's port answers).
pub const LAB_PIKVM_NODE: &str = "kvm.pikvm";

pub struct Kvm;

fn usable(net: &ipnet::Ipv4Net, a: Ipv4Addr) -> bool {
    net.contains(&a) && (net.prefix_len() >= 31 || (a != net.network() && a != net.broadcast()))
}

impl Area for Kvm {
    fn name(&self) -> &'static str {
        "kvm"
    }

    fn validate(&self, inv: &Inventory, s: &mut Sink) {
        let k = &inv.kvm;
        if !k.is_used() {
            return;
        }
        let lan = inv.network.lan;
        let host_at = |a: Ipv4Addr| inv.hosts.iter().find(|(_, h)| h.address == Some(a)).map(|(n, _)| n.clone());
        match k.pikvm {
            None => s.err(&["kvm"], "the KVM has no `pikvm` address", "add pikvm = \"10.x.y.z\" (the PiKVM's LAN address) to [kvm]"),
            Some(a) if !usable(&lan, a) => {
                s.err(&["kvm", "pikvm"], format!("{a} is not a usable address of the LAN {lan}"), "the PiKVM sits in the LAN: use an address inside network.lan")
            }
            Some(a) => {
                if let Some(h) = host_at(a) {
                    s.err(&["kvm", "pikvm"], format!("{a} is also the address of host `{h}`"), "give the PiKVM its own address");
                }
            }
        }
        if k.web_port == 0 {
            s.err(&["kvm", "web_port"], "port 0 is not a port", "the PiKVM's web UI listens on 443");
        }
        let groups = inv.groups();
        let clients: Vec<&str> = inv.clients().iter().map(|c| c.name).collect();
        if k.allow.is_empty() {
            s.err(&["kvm", "allow"], "nobody may reach the PiKVM over the VPN", "allow = [\"admins\"]");
        }
        for (i, a) in k.allow.iter().enumerate() {
            if !groups.contains_key(a.as_str()) && !clients.contains(&a.as_str()) {
                let mut known: Vec<&str> = groups.keys().copied().chain(clients.iter().copied()).collect();
                known.sort();
                s.err(&["kvm", "allow", &i.to_string()], format!("`{}` is neither a group nor a peer", a.escape_debug()), format!("known groups and peers: {}", known.join(", ")));
            }
        }
        let ports = match &k.switch {
            None => {
                s.err(&["kvm"], "the KVM has no `switch`", "add [kvm.switch] with kind = \"tesmart\", address and ports");
                None
            }
            Some(sw) => {
                if !usable(&lan, sw.address) {
                    s.err(
                        &["kvm", "switch", "address"],
                        format!("{} is not a usable address of the LAN {lan}", sw.address),
                        "the switch sits in the LAN: use an address inside network.lan",
                    );
                } else if let Some(h) = host_at(sw.address) {
                    s.err(&["kvm", "switch", "address"], format!("{} is also the address of host `{h}`", sw.address), "give the switch its own address");
                } else if k.pikvm == Some(sw.address) {
                    s.err(&["kvm", "switch", "address"], format!("{} is also the PiKVM's address", sw.address), "the switch and the PiKVM are two devices with two addresses");
                }
                if sw.port == 0 {
                    s.err(&["kvm", "switch", "port"], "port 0 is not a port", "TESmart switches listen on 5000");
                }
                if !(1..=u16::from(tesmart::MAX_PORTS)).contains(&sw.ports) {
                    s.err(&["kvm", "switch", "ports"], format!("a TESmart switch has 1 to 16 ports, not {}", sw.ports), "ports = 8 for the 8-port model");
                }
                if !(1..=60).contains(&sw.timeout) {
                    s.err(&["kvm", "switch", "timeout"], format!("timeout {} s is outside 1-60", sw.timeout), "kvmd's default is 5");
                }
                if sw.switch_delay > 30 {
                    s.err(&["kvm", "switch", "switch_delay"], format!("switch_delay {} s is over 30", sw.switch_delay), "kvmd's default is 1");
                }
                if !(1..=3600).contains(&sw.state_poll) {
                    s.err(&["kvm", "switch", "state_poll"], format!("state_poll {} s is outside 1-3600", sw.state_poll), "kvmd's default is 10");
                }
                Some(sw.ports)
            }
        };
        let mut taken: BTreeMap<u16, &str> = BTreeMap::new();
        for (name, c) in &k.hosts {
            // A label of kvmd's view and a key of the YAML: only DNS labels.
            if let Some(m) = crate::validate::name_problem("host", name) {
                s.err(&["kvm", "hosts", name], format!("{m}; it would break the PiKVM's override.yaml"), "cable a host of [hosts] by its name");
            } else {
                match inv.hosts.get(name) {
                    None => {
                        s.err(&["kvm", "hosts", name], format!("unknown host `{name}`"), format!("known hosts: {}", inv.hosts.keys().cloned().collect::<Vec<_>>().join(", ")));
                    }
                    Some(h) if h.has(Role::WIREGUARD_HUB) => {
                        s.err(&["kvm", "hosts", name], format!("`{name}` is the hub, outside the LAN: it cannot be cabled to the switch"), "remove it from [kvm.hosts]")
                    }
                    Some(_) => {}
                }
            }
            if let Some(n) = ports {
                if c.port == 0 || c.port > n {
                    s.err(
                        &["kvm", "hosts", name, "port"],
                        format!("port {} is beyond the switch's ports 1-{n}", c.port),
                        "use the number printed on the switch port the host is cabled to",
                    );
                    continue;
                }
            }
            if let Some(other) = taken.insert(c.port, name) {
                s.err(&["kvm", "hosts", name, "port"], format!("switch port {} is also the port of `{other}`", c.port), "one host per switch port: fix one of the two cables");
            }
        }
        if inv.bastion().is_none() {
            s.err(&["kvm"], "the switch command and `hearth kvm push` live on the bastion, but no host has role `bastion`", "add \"bastion\" to the roles of the gateway");
        }
        for svc in [WEB_SERVICE, SWITCH_SERVICE] {
            if inv.services.contains_key(svc) {
                s.err(&["services", svc], format!("`{svc}` is the name of the service [kvm] implies"), "rename your service");
            }
        }
    }

    fn services(&self, inv: &Inventory) -> Vec<(String, Service)> {
        let k = &inv.kvm;
        let svc = |addr: Ipv4Addr, port: u16, what: &str| Service {
            // An address: the PiKVM and the switch are LAN devices, not hosts.
            host: addr.to_string(),
            port: PortSpec::One(port),
            proto: Proto::Tcp,
            allow: k.allow.clone(),
            description: Some(what.into()),
            web: false,
            subdomain: None,
            scheme: None,
            auth: None,
            auth_users: vec![],
        };
        let mut out = vec![];
        if let Some(a) = k.pikvm {
            out.push((WEB_SERVICE.to_string(), svc(a, k.web_port, "the PiKVM's web UI")));
        }
        if let Some(sw) = &k.switch {
            out.push((SWITCH_SERVICE.to_string(), svc(sw.address, sw.port, "the KVM switch's control port")));
        }
        out
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        let k = &cx.inv.kvm;
        let (Some(pikvm), Some(sw)) = (k.pikvm, &k.switch) else { return None };
        if cx.inv.bastion().map(|(n, _)| n) != Some(cx.name) {
            return None;
        }
        let mut hosts: Vec<(&String, u16)> = k.hosts.iter().map(|(n, c)| (n, c.port)).collect();
        hosts.sort_by_key(|(_, p)| *p);
        Some(
            Attrs::new()
                .set("enable", true)
                .set("pikvm", Attrs::new().set("address", pikvm.to_string()).set("webPort", k.web_port))
                .set(
                    "switch",
                    Attrs::new()
                        .set("kind", "tesmart")
                        .set("address", sw.address.to_string())
                        .set("port", sw.port)
                        .set("ports", sw.ports)
                        .set("timeout", sw.timeout)
                        .set("switchDelay", sw.switch_delay)
                        .set("statePoll", sw.state_poll),
                )
                .set("hosts", Value::List(hosts.into_iter().map(|(n, p)| Attrs::new().set("name", n.clone()).set("port", p).into()).collect()))
                .into(),
        )
    }

    fn previews(&self) -> &'static [Preview] {
        &[
            Preview { part: "override", needs: "a [kvm] section (its data is on the bastion)", expr: "lib.kvm.override host.hearth.kvm", when: "true" },
            Preview { part: "kvm-map", needs: "a [kvm] section (its data is on the bastion)", expr: "lib.kvm.switchMap host.hearth.kvm", when: "true" },
        ]
    }

    fn preview_host(&self, inv: &Inventory, name: &str) -> Option<String> {
        (name == PREVIEW_NAME && inv.kvm.is_used()).then(|| inv.bastion().map(|(n, _)| n.to_string())).flatten()
    }

    fn lab_devices(&self, inv: &Inventory) -> Vec<super::LabDevice> {
        let k = &inv.kvm;
        let mut out = vec![];
        if let Some(a) = k.pikvm {
            // The PiKVM's web UI: a responder on its port only.
            out.push(super::LabDevice {
                name: LAB_PIKVM_NODE.into(),
                address: a,
                daemon: vec!["lab".into(), "responder".into(), "--port".into(), k.web_port.to_string()],
                ready_port: Some(k.web_port),
            });
        }
        if let Some(sw) = &k.switch {
            let start = lab::start_port(inv);
            out.push(super::LabDevice {
                name: LAB_SWITCH_NODE.into(),
                address: sw.address,
                daemon: vec![
                    "kvm".into(),
                    "simulate".into(),
                    "--listen".into(),
                    format!("{}:{}", sw.address, sw.port),
                    "--ports".into(),
                    sw.ports.to_string(),
                    "--active".into(),
                    start.to_string(),
                ],
                ready_port: Some(sw.port),
            });
        }
        out
    }

    fn command(&self) -> Option<clap::Command> {
        Some(KvmCli::command().name("kvm"))
    }

    fn run(&self, m: &clap::ArgMatches, cx: &CliCx) -> Result<i32, CmdError> {
        let cli = KvmCli::from_arg_matches(m)?;
        run(cli, cx)
    }

    fn lab(&self, cx: &LabCx) -> Option<Result<Vec<crate::lab::bastion::Check>, crate::lab::LabError>> {
        if !cx.inv.kvm.is_used() {
            return None;
        }
        Some(lab::stage(cx))
    }
}

/// A PiKVM behind a TESmart KVM switch: which host is on which switch port,
/// switching the console by host name, and kvmd's override.yaml.
///
/// Examples:
///   hearth kvm list                 # host -> switch port (1-based, as printed)
///   hearth kvm switch jelly01       # put jelly01 on the PiKVM's screen
///   hearth kvm status               # which host is on screen now
///   hearth kvm push                 # override.yaml -> PiKVM, through the bastion
///   hearth preview kvm override     # the override.yaml push would write
///
/// On the bastion, `hearth-kvm switch jelly01` does the same from an SSH
/// session (the kvm NixOS module installs it with `--map /etc/hearth/kvm.json`).
#[derive(Debug, Parser)]
#[command(verbatim_doc_comment)]
pub struct KvmCli {
    /// Read the switch and the cabling from this file (JSON written by the
    /// kvm NixOS module, `lib.kvm.switchMap`) instead of the inventory.
    #[arg(long, global = true, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Seconds to wait for the switch (default: the inventory's timeout).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<u16>,
    #[command(subcommand)]
    pub cmd: KvmCmd,
}

#[derive(Debug, clap::Subcommand)]
pub enum KvmCmd {
    /// Hosts cabled to the switch and their ports (1-based, as printed on the switch).
    List {
        /// JSON: [{"host": ..., "port": ...}], sorted by port.
        #[arg(long)]
        json: bool,
    },
    /// Switch the PiKVM's console to a host (by name), and confirm.
    Switch {
        /// A host from [kvm.hosts].
        host: String,
    },
    /// Which host is on the PiKVM's screen now.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Copy kvmd's override.yaml to the PiKVM over SSH through the bastion
    /// (`rw`, write, `ro`, restart kvmd).
    Push(push::PushArgs),
    /// (testing) A TESmart switch simulator on ADDR:PORT.
    #[command(hide = true)]
    Simulate {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long, default_value_t = 8)]
        ports: u8,
        /// The port active at start, 1-based.
        #[arg(long, default_value_t = 1)]
        active: u8,
        /// Milliseconds before every reply (a slow switch).
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        #[arg(long, value_enum, default_value_t = tesmart::Fault::None)]
        fault: tesmart::Fault,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum KvmError {
    #[error("the inventory has no [kvm] section\nhint: add [kvm] with pikvm, [kvm.switch] and [kvm.hosts.NAME] port = N")]
    NotConfigured,
    #[error("`{0}` is not cabled to the KVM switch; cabled hosts: {1}\nhint: add [kvm.hosts.{0}] port = N to the inventory")]
    NotCabled(String, String),
    #[error("cannot read the KVM map {path}: {msg}\nhint: on the bastion, the kvm NixOS module writes it (hearth.kvm.enable)")]
    Map { path: PathBuf, msg: String },
    #[error(transparent)]
    Switch(#[from] tesmart::Error),
}

/// The switch and the cabling, from the inventory or a map file.
#[derive(Debug, Clone)]
pub struct Setup {
    pub switch: tesmart::Switch,
    /// (host, 1-based port), sorted by port.
    pub hosts: Vec<(String, u8)>,
}

impl Setup {
    pub fn from_inventory(inv: &Inventory) -> Result<Setup, KvmError> {
        let sw = inv.kvm.switch.as_ref().ok_or(KvmError::NotConfigured)?;
        // Validation ran: ports fit the switch (1-16).
        let mut hosts: Vec<(String, u8)> = inv.kvm.hosts.iter().filter_map(|(n, c)| Some((n.clone(), u8::try_from(c.port).ok()?))).collect();
        hosts.sort_by_key(|(_, p)| *p);
        Ok(Setup {
            switch: tesmart::Switch {
                addr: SocketAddr::V4(SocketAddrV4::new(sw.address, sw.port)),
                ports: u8::try_from(sw.ports).unwrap_or(tesmart::MAX_PORTS),
                timeout: Duration::from_secs(sw.timeout.into()),
                switch_delay: Duration::from_secs(sw.switch_delay.into()),
            },
            hosts,
        })
    }

    /// Reads `lib.kvm.switchMap`'s JSON, checking it as the inventory is checked.
    pub fn from_map(path: &Path) -> Result<Setup, KvmError> {
        let bad = |msg: String| KvmError::Map { path: path.into(), msg };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let m: MapFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if !(1..=tesmart::MAX_PORTS).contains(&m.ports) {
            return Err(bad(format!("ports = {} is outside 1-16", m.ports)));
        }
        let mut hosts = vec![];
        for h in m.hosts {
            if h.port == 0 || h.port > m.ports || !crate::validate::is_dns_label(&h.name) {
                return Err(bad(format!("host `{}` on port {} does not fit a {}-port switch", h.name.escape_debug(), h.port, m.ports)));
            }
            hosts.push((h.name, h.port));
        }
        hosts.sort_by_key(|(_, p)| *p);
        Ok(Setup {
            switch: tesmart::Switch {
                addr: SocketAddr::V4(SocketAddrV4::new(m.address, m.port)),
                ports: m.ports,
                timeout: Duration::from_secs(m.timeout.max(1).into()),
                switch_delay: Duration::from_secs(m.switch_delay.into()),
            },
            hosts,
        })
    }

    pub fn port_of(&self, host: &str) -> Result<u8, KvmError> {
        self.hosts
            .iter()
            .find(|(n, _)| n == host)
            .map(|(_, p)| *p)
            .ok_or_else(|| KvmError::NotCabled(host.into(), self.hosts.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")))
    }

    pub fn host_on(&self, port: u8) -> Option<&str> {
        self.hosts.iter().find(|(_, p)| *p == port).map(|(n, _)| n.as_str())
    }
}

/// `lib.kvm.switchMap`'s output.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MapFile {
    address: Ipv4Addr,
    port: u16,
    ports: u8,
    timeout: u16,
    switch_delay: u16,
    hosts: Vec<MapHost>,
}

#[derive(Debug, Deserialize)]
struct MapHost {
    name: String,
    port: u8,
}

fn setup(cli: &KvmCli, cx: &CliCx) -> Result<Setup, CmdError> {
    let mut s = match &cli.map {
        Some(p) => Setup::from_map(p)?,
        None => {
            let loaded = crate::inventory::Loaded::read(&cx.inventory)?;
            crate::validate::check(&loaded)?;
            Setup::from_inventory(&loaded.inv)?
        }
    };
    if let Some(t) = cli.timeout {
        s.switch.timeout = Duration::from_secs(t.max(1).into());
    }
    Ok(s)
}

fn run(cli: KvmCli, cx: &CliCx) -> Result<i32, CmdError> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match &cli.cmd {
        KvmCmd::List { json } => {
            let s = setup(&cli, cx)?;
            if *json {
                let v: Vec<serde_json::Value> = s.hosts.iter().map(|(n, p)| serde_json::json!({ "host": n, "port": p })).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            } else {
                writeln!(out, "PORT  HOST")?;
                for (n, p) in &s.hosts {
                    writeln!(out, "{p:>4}  {n}")?;
                }
            }
        }
        KvmCmd::Switch { host } => {
            let s = setup(&cli, cx)?;
            let port = s.port_of(host)?;
            s.switch.switch(port).map_err(KvmError::from)?;
            writeln!(out, "switched to {host} (port {port})")?;
        }
        KvmCmd::Status { json } => {
            let s = setup(&cli, cx)?;
            let port = s.switch.active().map_err(KvmError::from)?;
            let host = s.host_on(port);
            if *json {
                writeln!(out, "{}", serde_json::json!({ "port": port, "host": host }))?;
            } else {
                match host {
                    Some(h) => writeln!(out, "{h} (port {port})")?,
                    None => writeln!(out, "port {port} (no host cabled in the inventory)")?,
                }
            }
        }
        KvmCmd::Push(a) => return push::run(a, cx),
        KvmCmd::Simulate { listen, ports, active, delay_ms, fault } => {
            let mut sim = tesmart::Simulator::new(*ports, *active);
            sim.delay = Duration::from_millis(*delay_ms);
            sim.fault = *fault;
            sim.log = true;
            let l = std::net::TcpListener::bind(listen)?;
            writeln!(out, "TESmart simulator on {listen}: {ports} ports, port {active} active")?;
            drop(out);
            sim.serve(l, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)))?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Loaded;

    const BASE: &str = r#"
[network]
domain = "home.example.net"
lan = "10.0.0.0/24"
vpn = "10.1.0.0/24"

[hosts.gw]
roles = ["wireguard-gateway", "bastion"]
address = "10.0.0.2"
endpoint = "home.example.net:51820"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv"

[hosts.nas]
address = "10.0.0.10"

[hosts.media]
address = "10.0.0.11"

[peers.laptop]
groups = ["admins"]

[users.me]
ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p me"]

[kvm]
pikvm = "10.0.0.30"

[kvm.switch]
kind = "tesmart"
address = "10.0.0.31"
ports = 8
"#;

    fn problems_of(extra: &str) -> Vec<String> {
        let l = Loaded::parse(Path::new("inventory.toml"), format!("{BASE}{extra}")).unwrap();
        match crate::validate::check(&l) {
            Ok(()) => vec![],
            Err(p) => p.located.iter().map(|(pos, p)| format!("{}: {}: {} (hint: {})", pos.line, p.keys.join("."), p.message, p.hint)).collect(),
        }
    }

    fn has(ps: &[String], needle: &str) -> bool {
        ps.iter().any(|p| p.contains(needle))
    }

    #[test]
    fn a_cabled_inventory_is_valid_and_defaults_follow_kvmd() {
        assert_eq!(problems_of("[kvm.hosts.nas]\nport = 1\n[kvm.hosts.media]\nport = 8\n"), Vec::<String>::new());
        let l = Loaded::parse(Path::new("i.toml"), BASE.into()).unwrap();
        let sw = l.inv.kvm.switch.unwrap();
        assert_eq!((sw.port, sw.timeout, sw.switch_delay, sw.state_poll), (5000, 5, 1, 10));
        assert_eq!((l.inv.kvm.web_port, l.inv.kvm.allow.clone()), (443, vec!["admins".to_string()]));
    }

    #[test]
    fn two_hosts_on_one_port_are_located_at_the_second() {
        let ps = problems_of("[kvm.hosts.nas]\nport = 3\n[kvm.hosts.media]\nport = 3\n");
        assert!(has(&ps, "kvm.hosts.nas.port: switch port 3 is also the port of `media`"), "{ps:?}");
        assert_eq!(ps.len(), 1, "{ps:?}");
    }

    #[test]
    fn a_port_beyond_the_switch_is_rejected() {
        let ps = problems_of("[kvm.hosts.nas]\nport = 9\n[kvm.hosts.media]\nport = 0\n");
        assert!(has(&ps, "kvm.hosts.nas.port: port 9 is beyond the switch's ports 1-8"), "{ps:?}");
        assert!(has(&ps, "kvm.hosts.media.port: port 0 is beyond"), "{ps:?}");
        let ps = problems_of_replacing("ports = 8", "ports = 17");
        assert!(has(&ps, "kvm.switch.ports: a TESmart switch has 1 to 16 ports, not 17"), "{ps:?}");
    }

    fn problems_of_replacing(from: &str, to: &str) -> Vec<String> {
        let l = Loaded::parse(Path::new("inventory.toml"), BASE.replace(from, to)).unwrap();
        match crate::validate::check(&l) {
            Ok(()) => vec![],
            Err(p) => p.located.iter().map(|(_, p)| format!("{}: {}", p.keys.join("."), p.message)).collect(),
        }
    }

    #[test]
    fn kvm_addresses_outside_the_lan_or_taken_are_rejected() {
        let ps = problems_of_replacing("pikvm = \"10.0.0.30\"", "pikvm = \"192.168.1.30\"");
        assert!(has(&ps, "kvm.pikvm: 192.168.1.30 is not a usable address of the LAN 10.0.0.0/24"), "{ps:?}");
        let ps = problems_of_replacing("address = \"10.0.0.31\"", "address = \"10.0.0.255\"");
        assert!(has(&ps, "kvm.switch.address: 10.0.0.255 is not a usable address"), "{ps:?}");
        let ps = problems_of_replacing("address = \"10.0.0.31\"", "address = \"10.0.0.10\"");
        assert!(has(&ps, "kvm.switch.address: 10.0.0.10 is also the address of host `nas`"), "{ps:?}");
        let ps = problems_of_replacing("address = \"10.0.0.31\"", "address = \"10.0.0.30\"");
        assert!(has(&ps, "is also the PiKVM's address"), "{ps:?}");
    }

    #[test]
    fn a_name_that_would_break_the_yaml_is_rejected() {
        let ps = problems_of("[kvm.hosts.\"a: b\"]\nport = 2\n[kvm.hosts.\"x#y\"]\nport = 3\n");
        assert!(has(&ps, "kvm.hosts.a: b: host name `a: b` is not a DNS label"), "{ps:?}");
        assert!(has(&ps, "it would break the PiKVM's override.yaml"), "{ps:?}");
        assert!(has(&ps, "kvm.hosts.x#y: host name `x#y` is not a DNS label"), "{ps:?}");
        let ps = problems_of("[kvm.hosts.ghost]\nport = 2\n");
        assert!(has(&ps, "kvm.hosts.ghost: unknown host `ghost`"), "{ps:?}");
    }

    #[test]
    fn errors_are_located_at_their_line() {
        let extra = "[kvm.hosts.nas]\nport = 12\n";
        let ps = problems_of(extra);
        let line = format!("{BASE}[kvm.hosts.nas]\n").lines().count() + 1;
        assert!(ps[0].starts_with(&format!("{line}: kvm.hosts.nas.port")), "{ps:?}");
    }

    #[test]
    fn a_kvm_without_switch_pikvm_or_bastion_is_rejected() {
        let text = BASE.split("[kvm]").next().unwrap().replace("roles = [\"wireguard-gateway\", \"bastion\"]", "roles = [\"wireguard-gateway\"]");
        let l = Loaded::parse(Path::new("i.toml"), format!("{text}[kvm.hosts.nas]\nport = 1\n")).unwrap();
        let ps: Vec<String> = crate::validate::check(&l).unwrap_err().located.iter().map(|(_, p)| format!("{}: {}", p.keys.join("."), p.message)).collect();
        assert!(has(&ps, "kvm: the KVM has no `pikvm` address"), "{ps:?}");
        assert!(has(&ps, "kvm: the KVM has no `switch`"), "{ps:?}");
        assert!(has(&ps, "no host has role `bastion`"), "{ps:?}");
    }

    #[test]
    fn allow_must_name_groups_or_peers_and_services_are_implied_for_them() {
        let ps = problems_of_replacing("pikvm = \"10.0.0.30\"", "pikvm = \"10.0.0.30\"\nallow = [\"family\"]");
        assert!(has(&ps, "kvm.allow.0: `family` is neither a group nor a peer"), "{ps:?}");
        let l = Loaded::parse(Path::new("i.toml"), BASE.into()).unwrap();
        let svcs = Kvm.services(&l.inv);
        let names: Vec<(&str, &str, String)> = svcs.iter().map(|(n, s)| (n.as_str(), s.host.as_str(), s.port.to_string())).collect();
        assert_eq!(names, vec![("kvm-web", "10.0.0.30", "443".to_string()), ("kvm-switch", "10.0.0.31", "5000".to_string())]);
        assert!(svcs.iter().all(|(_, s)| s.allow == vec!["admins".to_string()]));
    }

    #[test]
    fn only_the_allowed_group_reaches_the_pikvm_and_the_switch() {
        let text = BASE.replace(
            "[peers.laptop]\ngroups = [\"admins\"]",
            "[peers.laptop]\ngroups = [\"admins\"]\naddress = \"10.1.0.5\"\n[peers.phone]\ngroups = [\"mobile\"]\naddress = \"10.1.0.6\"",
        );
        let l = Loaded::parse(Path::new("i.toml"), text).unwrap();
        let al = crate::policy::allowlist(&l.inv);
        let reach = |src: &str| -> Vec<(String, u16)> { crate::policy::reachable(&al, src.parse().unwrap()).iter().map(|(a, _, r, _)| (a.to_string(), r.start)).collect() };
        assert_eq!(reach("10.1.0.5"), vec![("10.0.0.31".to_string(), 5000), ("10.0.0.30".to_string(), 443)]);
        assert_eq!(reach("10.1.0.6"), vec![]);
        let t = crate::inventory::AclTest { src: "mobile".into(), accept: vec![], deny: vec!["kvm-web".into(), "kvm-switch".into()] };
        let mut inv = l.inv.clone();
        inv.acl_tests = vec![t.clone()];
        assert!(crate::policy::evaluate_tests(&inv, &al).is_empty());
        inv.acl_tests = vec![crate::inventory::AclTest { src: "admins".into(), ..t }];
        assert_eq!(crate::policy::evaluate_tests(&inv, &al).len(), 2, "admins reaching them fails a deny test");
    }

    #[test]
    fn a_service_named_like_an_implied_one_is_rejected() {
        let ps = problems_of("[services.kvm-web]\nhost = \"nas\"\nport = 80\n");
        assert!(has(&ps, "services.kvm-web: `kvm-web` is the name of the service [kvm] implies"), "{ps:?}");
    }

    #[test]
    fn the_map_file_is_checked_like_the_inventory() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("kvm.json");
        let good = r#"{"address":"10.0.0.31","port":5000,"ports":8,"timeout":5,"switchDelay":1,"statePoll":10,"hosts":[{"name":"media","port":8},{"name":"nas","port":1}]}"#;
        std::fs::write(&p, good).unwrap();
        let s = Setup::from_map(&p).unwrap();
        assert_eq!(s.hosts, vec![("nas".to_string(), 1), ("media".to_string(), 8)]);
        assert_eq!(s.port_of("media").unwrap(), 8);
        assert!(s.port_of("ghost").unwrap_err().to_string().contains("cabled hosts: nas, media"));
        std::fs::write(&p, good.replace("\"port\":8}", "\"port\":9}")).unwrap();
        assert!(Setup::from_map(&p).unwrap_err().to_string().contains("does not fit a 8-port switch"));
        std::fs::write(&p, "{").unwrap();
        assert!(matches!(Setup::from_map(&p).unwrap_err(), KvmError::Map { .. }));
    }
}
