//! The inventory: one TOML file describing a homelab. Typed with serde
//! (unknown keys rejected) and schemars (`hearth schema`), loaded together
//! with the source text so that every validation error can point at
//! `inventory.toml:LINE:COL`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ipnet::Ipv4Net;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::types::{AgeRecipient, Endpoint, SshHostKey, SshPublicKey, WgKey};

/// Port specs are validated types too; re-exported where they always were.
pub use crate::types::{PortItem, PortRange, PortSpec};

/// The whole inventory.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hearth inventory", description = "One description of a homelab: network, hosts, VPN peers, services and who may reach them.")]
pub struct Inventory {
    /// The home network and the VPN address pool.
    pub network: Network,
    /// WireGuard settings shared by every hearth tunnel.
    #[serde(default)]
    pub wireguard: WireguardSettings,
    /// Who may decrypt every secret: the people running hearth.
    #[serde(default)]
    pub admin: Admin,
    /// The SSH bastion (hosts with role `bastion`).
    #[serde(default)]
    pub bastion: BastionSettings,
    /// Machines hearth renders a NixOS configuration for, by name (a DNS label).
    #[serde(default)]
    pub hosts: BTreeMap<String, Host>,
    /// VPN clients that are not NixOS hosts: phones, laptops, other servers.
    #[serde(default)]
    pub peers: BTreeMap<String, Peer>,
    /// LAN services VPN clients may reach, and who may.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Bastion users.
    #[serde(default)]
    pub users: BTreeMap<String, User>,
    /// Policy tests: what a peer or group must and must not reach.
    #[serde(default)]
    pub acl_tests: Vec<AclTest>,
    /// Every host's journal to Loki (Grafana Alloy), firewall drops labelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<crate::area::logs::Section>,
    /// A PiKVM behind a KVM switch, and which host is on which switch port.
    #[serde(default)]
    pub kvm: crate::area::kvm::Section,
    /// The ingress: web services by name over HTTPS (hosts with role `ingress`).
    #[serde(default)]
    pub ingress: crate::area::ingress::Section,
    /// Where failures (ZFS, snapshots, backups) are reported.
    #[serde(default)]
    pub notify: crate::area::notify::Section,
    /// ZFS storage: tiers, pools, datasets.
    #[serde(default)]
    pub storage: crate::area::storage::Section,
    /// deploy-rs and colmena: SSH targets, users, magic rollback (`hosts/deploy.nix`).
    #[serde(default)]
    pub deploy: crate::area::deploy::Section,
    /// Dynamic DNS: a host (the gateway) keeps DNS records pointing at the home address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ddns: Option<crate::area::ddns::Section>,
    /// Off-site restic backups of the datasets whose tier has `backup = true`.
    #[serde(default)]
    pub backup: crate::area::backup::Section,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The home domain, e.g. `home.example.net`. Laptops get it as a split-DNS routing domain.
    pub domain: String,
    /// The LAN, e.g. `10.69.13.0/24`.
    #[schemars(with = "String")]
    pub lan: Ipv4Net,
    /// The pool VPN addresses are allocated from, e.g. `10.69.222.0/24`.
    #[schemars(with = "String")]
    pub vpn: Ipv4Net,
    /// Addresses in the VPN pool that hearth must never allocate (e.g. used by another tunnel).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub reserved: Vec<Ipv4Addr>,
    /// Addresses of removed peers: not reused until `--reuse-address`. Managed by hearth.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub retired: Vec<Ipv4Addr>,
    /// LAN DNS resolvers that VPN clients use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub resolvers: Vec<Ipv4Addr>,
    /// Whether every VPN client may reach the resolvers on 53/tcp+udp.
    #[serde(default = "default_true")]
    pub resolvers_open: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WireguardSettings {
    /// hearth's own interface name (at most 15 characters), separate from any existing tunnel.
    #[serde(default = "default_interface")]
    pub interface: String,
    /// UDP port the listening end (hub, or the gateway without a hub) uses.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Interface MTU.
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// PersistentKeepalive in seconds for ends behind NAT (gateway, clients).
    #[serde(default = "default_keepalive")]
    pub keepalive: u16,
    /// Whether each hub/peer pair gets a preshared key.
    #[serde(default = "default_true")]
    pub preshared_keys: bool,
    /// Whether the gateway masquerades VPN traffic into the LAN (LAN hosts then need no route back).
    #[serde(default = "default_true")]
    pub masquerade: bool,
}

fn default_interface() -> String {
    "hearth0".into()
}
fn default_port() -> u16 {
    51820
}
fn default_mtu() -> u16 {
    1420
}
fn default_keepalive() -> u16 {
    25
}

impl Default for WireguardSettings {
    fn default() -> Self {
        Self { interface: default_interface(), port: default_port(), mtu: default_mtu(), keepalive: default_keepalive(), preshared_keys: true, masquerade: true }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Age X25519 (`age1...`) or `ssh-ed25519 AAAA...` public keys. Every secret is encrypted to all of them.
    #[serde(default)]
    pub recipients: Vec<AgeRecipient>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BastionSettings {
    /// SSH port of the bastion.
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// Source networks allowed to connect (default: the VPN pool and the LAN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub allowed_sources: Option<Vec<Ipv4Net>>,
    /// Trust an SSH user CA (short-lived certificates from `hearth user sign`) instead of listing keys.
    #[serde(default)]
    pub ca: bool,
    /// The CA's public key. Managed by hearth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_public_key: Option<SshPublicKey>,
}

fn default_ssh_port() -> u16 {
    22
}

impl Default for BastionSettings {
    fn default() -> Self {
        Self { port: 22, allowed_sources: None, ca: false, ca_public_key: None }
    }
}

/// What a host does. A LAN server needs no role. Roles are declared by the
/// areas that own them ([`crate::area::Area::roles`]); this type accepts any
/// declared role and nothing else, so a new area adds roles without touching
/// this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Role(&'static str);

impl Role {
    pub const WIREGUARD_HUB: Role = Role("wireguard-hub");
    pub const WIREGUARD_GATEWAY: Role = Role("wireguard-gateway");
    pub const WIREGUARD_CLIENT: Role = Role("wireguard-client");
    pub const BASTION: Role = Role("bastion");

    /// Every role some area declares, in registry order.
    pub fn all() -> impl Iterator<Item = (Role, &'static str)> {
        crate::area::AREAS.iter().flat_map(|a| a.roles().iter().map(|(r, doc)| (Role(r), *doc)))
    }
    pub fn as_str(self) -> &'static str {
        self.0
    }
    pub fn is_wireguard(self) -> bool {
        self.0.starts_with("wireguard-")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::all().map(|(r, _)| r).find(|r| r.0 == s).ok_or_else(|| {
            let known: Vec<&str> = Role::all().map(|(r, _)| r.0).collect();
            format!("unknown role `{s}`; expected one of: {}", known.join(", "))
        })
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Role {
    fn schema_name() -> String {
        "Role".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{InstanceType, Metadata, SchemaObject};
        let one_of = Role::all()
            .map(|(r, doc)| {
                schemars::schema::Schema::Object(SchemaObject {
                    instance_type: Some(InstanceType::String.into()),
                    enum_values: Some(vec![r.0.into()]),
                    metadata: Some(Box::new(Metadata { description: Some(doc.into()), ..Default::default() })),
                    ..Default::default()
                })
            })
            .collect();
        schemars::schema::Schema::Object(SchemaObject {
            metadata: Some(Box::new(Metadata { description: Some("What a host does. A LAN server needs no role.".into()), ..Default::default() })),
            subschemas: Some(Box::new(schemars::schema::SubschemaValidation { one_of: Some(one_of), ..Default::default() })),
            ..Default::default()
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// What the host does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// LAN address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub address: Option<Ipv4Addr>,
    /// Public `HOST:PORT` where the host can be reached from the internet (the hub; the gateway without a hub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// The host's SSH host public key (`ssh-ed25519 AAAA...`); its secrets are encrypted to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<SshHostKey>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// VPN address. Allocated by hearth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub vpn_address: Option<Ipv4Addr>,
    /// WireGuard public key. Generated by hearth; the private key is a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<WgKey>,
    /// Groups (for a `wireguard-client` host), used by service `allow` lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Secrets set with `hearth secret set NAME --host HOST` (restic passwords,
    /// API tokens): each becomes `age.secrets.NAME` on the host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

impl Host {
    pub fn has(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
    pub fn wireguard_role(&self) -> Option<Role> {
        [Role::WIREGUARD_HUB, Role::WIREGUARD_GATEWAY, Role::WIREGUARD_CLIENT].into_iter().find(|r| self.has(*r))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    /// Uses the LAN resolvers for everything (`network.resolvers`; no DNS
    /// server at all while that list is empty).
    #[default]
    Phone,
    /// Linux laptop: split DNS for the home domain (systemd-resolved routing domain).
    Laptop,
    /// Any other machine.
    Server,
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerKind::Phone => "phone",
            PeerKind::Laptop => "laptop",
            PeerKind::Server => "server",
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    #[serde(default)]
    pub kind: PeerKind,
    /// Groups, used by service `allow` lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Route everything through the VPN (0.0.0.0/0, ::/0) instead of only the VPN pool and the LAN.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_tunnel: bool,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// VPN address. Allocated by hearth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub address: Option<Ipv4Addr>,
    /// WireGuard public key. Generated by hearth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<WgKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
    Both,
}

impl Proto {
    pub fn expand(self) -> &'static [&'static str] {
        match self {
            Proto::Tcp => &["tcp"],
            Proto::Udp => &["udp"],
            Proto::Both => &["tcp", "udp"],
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Both => "both",
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The host that runs it (a name from `[hosts]`).
    pub host: String,
    /// Port, range, or list.
    pub port: PortSpec,
    #[serde(default)]
    pub proto: Proto,
    /// Groups and single peers that may reach it.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Served by the ingress (a host with role `ingress`) at
    /// `https://<subdomain>.<domain>` for the VPN and
    /// `https://<subdomain>.lan.<domain>` for the LAN, proxied to `host:port`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub web: bool,
    /// The first label of its names (default: the service name). A DNS label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    /// How the ingress speaks to the backend (default `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<crate::area::ingress::Scheme>,
    /// Authentication in front of it at the ingress (default `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<crate::area::ingress::Auth>,
    /// With `auth = "basic"`: the users whose bcrypt hashes the ingress
    /// host's secret `ingress-basic-<service>` holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_users: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// SSH public keys (not needed in CA mode, where certificates replace them).
    #[serde(default)]
    pub ssh_keys: Vec<SshPublicKey>,
    /// Require a TOTP code after the key (the seed is a hearth secret).
    #[serde(default = "default_true")]
    pub totp: bool,
    /// May deploy to the bastion host (`nixos-rebuild --target-host
    /// USER@HOST --sudo`): in `wheel`, sudo without a password (the login
    /// already took key + TOTP code), a trusted Nix user. Needs `totp`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deploy: bool,
}

/// A policy test in the spirit of Tailscale's: what `src` must and must not reach.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AclTest {
    /// A peer or a group (every member is tested).
    pub src: String,
    /// Targets that must be reachable: a service name, or `host:port[/udp]`.
    #[serde(default)]
    pub accept: Vec<String>,
    /// Targets that must not be reachable.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// An inventory together with where it came from, for located errors.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub text: String,
    pub inv: Inventory,
    /// The span-keeping parse, made on first use of [`Loaded::locate`].
    spans: std::sync::OnceLock<Option<toml_edit::ImDocument<String>>>,
}

/// A position in the inventory file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Errors reading or parsing the inventory file (not validation: see [`crate::validate`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}\nhint: run `hearth init` to create one, or pass --inventory PATH")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{col}: {message}")]
    Parse { path: PathBuf, line: usize, col: usize, message: String },
}

impl Loaded {
    pub fn read(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.into(), source })?;
        Self::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Self, LoadError> {
        match toml::from_str::<Inventory>(&text) {
            Ok(inv) => Ok(Self { path: path.into(), text, inv, spans: std::sync::OnceLock::new() }),
            Err(e) => {
                let (line, col) = match e.span() {
                    Some(s) => {
                        let p = offset_to_pos(&text, s.start);
                        (p.line, p.col)
                    }
                    None => (1, 1),
                };
                // A value a type rejected (`crate::types`) is named by its
                // key path, as `hearth check` names its problems.
                let message = match e.span().and_then(|s| key_path_at(&text, s)) {
                    Some(keys) => format!("{keys}: {}", e.message()),
                    None => e.message().to_owned(),
                };
                Err(LoadError::Parse { path: path.into(), line, col, message })
            }
        }
    }

    /// The position of a key path like `["peers", "phone", "address"]`, falling
    /// back to the nearest ancestor that exists (then to the top of the file).
    /// Numeric segments index arrays (`["acl_tests", "0", "src"]`).
    pub fn locate(&self, keys: &[&str]) -> Pos {
        use toml_edit::{Item, Value as V};
        enum Node<'a> {
            Item(&'a Item),
            Table(&'a toml_edit::Table),
            Value(&'a V),
        }
        let Some(doc) = self.spans.get_or_init(|| toml_edit::ImDocument::parse(self.text.clone()).ok()) else { return Pos { line: 1, col: 1 } };
        let mut best: Option<std::ops::Range<usize>> = None;
        let mut node = Node::Item(doc.as_item());
        for k in keys {
            let idx = k.parse::<usize>().ok();
            let next = match node {
                Node::Item(Item::Table(t)) | Node::Table(t) => t.get_key_value(k).map(|(key, it)| (key.span().or_else(|| it.span()), Node::Item(it))),
                Node::Item(Item::ArrayOfTables(a)) => idx.and_then(|i| a.get(i)).map(|t| (t.span(), Node::Table(t))),
                Node::Item(Item::Value(v)) | Node::Value(v) => match v {
                    V::InlineTable(t) => t.get_key_value(k).map(|(key, v)| (key.span().or_else(|| v.span()), Node::Item(v))),
                    V::Array(a) => idx.and_then(|i| a.get(i)).map(|v| (v.span(), Node::Value(v))),
                    _ => None,
                },
                Node::Item(Item::None) => None,
            };
            match next {
                Some((span, n)) => {
                    best = span.or(best);
                    node = n;
                }
                None => break,
            }
        }
        best.map(|r| offset_to_pos(&self.text, r.start)).unwrap_or(Pos { line: 1, col: 1 })
    }
}

/// The key path (`hosts.vps.endpoint`, `admin.recipients.1`) of the value
/// whose text is exactly `span`, if the text parses as TOML.
fn key_path_at(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    use toml_edit::{Item, Value as V};
    fn value(v: &V, span: &std::ops::Range<usize>, path: &mut Vec<String>) -> bool {
        if v.span().as_ref() == Some(span) {
            return true;
        }
        match v {
            V::Array(a) => a.iter().enumerate().any(|(i, x)| {
                path.push(i.to_string());
                value(x, span, path) || {
                    path.pop();
                    false
                }
            }),
            V::InlineTable(t) => t.iter().any(|(k, x)| {
                path.push(k.to_owned());
                value(x, span, path) || {
                    path.pop();
                    false
                }
            }),
            _ => false,
        }
    }
    fn item(it: &Item, span: &std::ops::Range<usize>, path: &mut Vec<String>) -> bool {
        match it {
            Item::Value(v) => value(v, span, path),
            Item::Table(t) => t.iter().any(|(k, x)| {
                path.push(k.to_owned());
                item(x, span, path) || {
                    path.pop();
                    false
                }
            }),
            Item::ArrayOfTables(a) => a.iter().enumerate().any(|(i, t)| {
                path.push(i.to_string());
                t.iter().any(|(k, x)| {
                    path.push(k.to_owned());
                    item(x, span, path) || {
                        path.pop();
                        false
                    }
                }) || {
                    path.pop();
                    false
                }
            }),
            Item::None => false,
        }
    }
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut path = Vec::new();
    // Escaped as `hearth check` escapes keys: nothing reaches the terminal raw.
    item(doc.as_item(), &span, &mut path).then(|| path.join(".").chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect())
}

/// 1-based line and column (in characters) of a byte offset.
pub fn offset_to_pos(text: &str, offset: usize) -> Pos {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    Pos { line, col }
}

impl Inventory {
    /// Every VPN client: peers and hosts with role `wireguard-client`, by
    /// name, with their groups and address (if allocated).
    pub fn clients(&self) -> Vec<Client<'_>> {
        let mut out: Vec<Client<'_>> = self
            .peers
            .iter()
            .map(|(n, p)| Client { name: n, groups: &p.groups, address: p.address, public_key: p.public_key.as_ref(), full_tunnel: p.full_tunnel, is_host: false })
            .collect();
        out.extend(self.hosts.iter().filter(|(_, h)| h.has(Role::WIREGUARD_CLIENT)).map(|(n, h)| Client {
            name: n,
            groups: &h.groups,
            address: h.vpn_address,
            public_key: h.public_key.as_ref(),
            full_tunnel: false,
            is_host: true,
        }));
        out.sort_by(|a, b| a.name.cmp(b.name));
        out
    }

    /// Every group name mentioned by a client.
    pub fn groups(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut g: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in self.clients() {
            for grp in c.groups {
                g.entry(grp.as_str()).or_default().push(c.name);
            }
        }
        g
    }

    pub fn hub(&self) -> Option<(&str, &Host)> {
        self.hosts.iter().find(|(_, h)| h.has(Role::WIREGUARD_HUB)).map(|(n, h)| (n.as_str(), h))
    }

    pub fn gateway(&self) -> Option<(&str, &Host)> {
        self.hosts.iter().find(|(_, h)| h.has(Role::WIREGUARD_GATEWAY)).map(|(n, h)| (n.as_str(), h))
    }

    pub fn bastion(&self) -> Option<(&str, &Host)> {
        self.hosts.iter().find(|(_, h)| h.has(Role::BASTION)).map(|(n, h)| (n.as_str(), h))
    }

    /// Every VPN address in use (hosts and peers), with its owner.
    pub fn vpn_addresses(&self) -> Vec<(Ipv4Addr, &str)> {
        let mut v: Vec<(Ipv4Addr, &str)> = self.hosts.iter().filter_map(|(n, h)| h.vpn_address.map(|a| (a, n.as_str()))).collect();
        v.extend(self.peers.iter().filter_map(|(n, p)| p.address.map(|a| (a, n.as_str()))));
        v
    }

    /// The source networks allowed to reach the bastion.
    pub fn bastion_sources(&self) -> Vec<Ipv4Net> {
        self.bastion.allowed_sources.clone().unwrap_or_else(|| vec![self.network.vpn, self.network.lan])
    }
}

/// A VPN client, whether a peer device or a NixOS host.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub name: &'a str,
    pub groups: &'a [String],
    pub address: Option<Ipv4Addr>,
    pub public_key: Option<&'a WgKey>,
    pub full_tunnel: bool,
    pub is_host: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[network]
domain = "home.example.net"
lan = "10.0.0.0/24"
vpn = "10.1.0.0/24"

[hosts.gw]
roles = ["wireguard-gateway"]
address = "10.0.0.2"

[[acl_tests]]
src = "phone"
accept = ["gw:22"]
"#;

    #[test]
    fn parses_minimal_inventory_with_defaults() {
        let l = Loaded::parse(Path::new("inventory.toml"), MINIMAL.into()).unwrap();
        assert_eq!(l.inv.wireguard.interface, "hearth0");
        assert_eq!(l.inv.hosts["gw"].roles, vec![Role::WIREGUARD_GATEWAY]);
        assert!(l.inv.network.resolvers_open);
    }

    #[test]
    fn rejects_unknown_keys_with_position() {
        let text = MINIMAL.replace("address = \"10.0.0.2\"", "adress = \"10.0.0.2\"");
        let err = Loaded::parse(Path::new("inventory.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("inventory.toml:9:1: unknown field `adress`"), "{err}");
    }

    #[test]
    fn truncated_file_is_a_parse_error_not_a_panic() {
        let text = &MINIMAL[..MINIMAL.find("[hosts.gw]").unwrap() + 6];
        let err = Loaded::parse(Path::new("inventory.toml"), text.into()).unwrap_err();
        assert!(matches!(err, LoadError::Parse { .. }), "{err}");
    }

    #[test]
    fn locates_nested_keys_and_array_of_tables() {
        let l = Loaded::parse(Path::new("inventory.toml"), MINIMAL.into()).unwrap();
        assert_eq!(l.locate(&["hosts", "gw", "address"]), Pos { line: 9, col: 1 });
        assert_eq!(l.locate(&["acl_tests", "0", "src"]), Pos { line: 12, col: 1 });
        // Missing keys fall back to the nearest ancestor.
        assert_eq!(l.locate(&["hosts", "gw", "nope"]).line, 7);
    }
}
