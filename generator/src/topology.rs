//! The VPN topology, decided once: which peers each node has, their
//! AllowedIPs, endpoints and keepalives, and which secrets exist. The NixOS
//! side renders this data (`hearth.wireguard`), phones and laptops get it as a
//! wg-quick file ([`client_config`]).
//!
//! Paths: clients -> hub -> gateway -> LAN. Without a hub, clients dial the
//! gateway, which then listens on its public endpoint.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::inventory::{Inventory, PeerKind, Role};
use crate::types::{Endpoint, WgKey};

/// The node every client dials: the hub, or the gateway when there is none.
pub fn listener(inv: &Inventory) -> Option<&str> {
    inv.hub().or_else(|| inv.gateway()).map(|(n, _)| n)
}

/// A secret hearth generates or holds, with where it lives and who may read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretSpec {
    /// Path below `secrets/`, e.g. `extgw01/wireguard-key.age`.
    pub rel: String,
    pub kind: SecretKind,
    /// Hosts whose SSH host key may decrypt it (admins always may).
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SecretKind {
    /// A node's WireGuard private key (host or peer).
    WireguardKey { node: String },
    /// The preshared key of the listener/peer pair.
    Psk { listener: String, peer: String },
    /// A bastion user's TOTP seed (base32).
    Totp { user: String },
    /// The SSH user CA's private key.
    SshCa,
    /// A value the user set with `hearth secret set`.
    External { host: String, name: String },
    /// A random value an area generates once (a restic repository password):
    /// `bytes` random bytes, written as unpadded base64url text. Declared on
    /// its hosts as `age.secrets.<name>`.
    Generated { name: String, bytes: usize },
}

/// A fresh value for a secret hearth makes, and the public half the
/// inventory must then name (`hosts.<n>.public_key`, `bastion.ca_public_key`).
pub struct Fresh {
    pub value: crate::secrets::SecretBytes,
    pub public: Option<PublicHalf>,
}

/// Where a public half goes: `section.entry.key` (`entry` None: `section.key`).
pub struct PublicHalf {
    pub section: &'static str,
    pub entry: Option<String>,
    pub key: &'static str,
    pub value: String,
}

impl PublicHalf {
    /// Writes it into the inventory being edited.
    pub fn apply(&self, ed: &mut crate::edit::Editor) {
        let t = match &self.entry {
            Some(entry) => ed.entry_table(self.section, entry),
            None => ed.section(self.section),
        };
        t[self.key] = toml_edit::value(self.value.clone());
    }
}

impl SecretKind {
    /// What the secret is, for messages ("the WireGuard key of `phone`").
    pub fn what(&self) -> String {
        match self {
            SecretKind::WireguardKey { node } => format!("the WireGuard key of `{node}`"),
            SecretKind::Psk { listener, peer } => format!("the preshared key of `{listener}` and `{peer}`"),
            SecretKind::Totp { user } => format!("the TOTP seed of user `{user}`"),
            SecretKind::SshCa => "the SSH user CA".into(),
            SecretKind::External { name, .. } | SecretKind::Generated { name, .. } => format!("`{name}`"),
        }
    }

    /// What to do once it has a new value.
    pub fn after_new(&self) -> String {
        match self {
            SecretKind::WireguardKey { .. } => "run `hearth render` and redeploy its peers".into(),
            SecretKind::Psk { .. } => "redeploy both ends".into(),
            SecretKind::Totp { user } => format!("show it once with `hearth user add {user} --show-totp` and redeploy the bastion"),
            SecretKind::SshCa => "certificates it signed before are no longer trusted once the bastion is redeployed".into(),
            SecretKind::External { .. } | SecretKind::Generated { .. } => "redeploy the hosts that use it".into(),
        }
    }

    /// A new value, made here: the one place that knows how each kind is
    /// generated (`render` for missing secrets, `secret rotate`). `None` for
    /// a value only the user has (`External`: `hearth secret set`).
    pub fn fresh(&self, inv: &Inventory) -> Result<Option<Fresh>, crate::secrets::SecretsError> {
        use crate::secrets::SecretBytes;
        Ok(Some(match self {
            SecretKind::WireguardKey { node } => {
                let kp = crate::keys::generate_keypair();
                let section = if inv.hosts.contains_key(node) { "hosts" } else { "peers" };
                Fresh {
                    value: SecretBytes::from_slice(kp.private.as_bytes()),
                    public: Some(PublicHalf { section, entry: Some(node.clone()), key: "public_key", value: kp.public }),
                }
            }
            SecretKind::Psk { .. } => Fresh { value: SecretBytes::from_slice(crate::keys::generate_psk().as_bytes()), public: None },
            SecretKind::Totp { .. } => Fresh { value: crate::bastion::generate_totp_seed(), public: None },
            SecretKind::SshCa => {
                let (value, public) = crate::bastion::generate_ca()?;
                Fresh { value, public: Some(PublicHalf { section: "bastion", entry: None, key: "ca_public_key", value: public }) }
            }
            SecretKind::Generated { bytes, .. } => Fresh { value: crate::keys::generate_random_text(*bytes), public: None },
            SecretKind::External { .. } => return Ok(None),
        }))
    }
}

impl SecretSpec {
    /// The agenix attribute name a host declares it under.
    pub fn age_name(&self, host: &str) -> String {
        match &self.kind {
            SecretKind::WireguardKey { .. } => "hearth-wireguard-key".into(),
            SecretKind::Psk { listener, peer } => {
                let other = if host == listener { peer } else { listener };
                format!("hearth-wireguard-psk-{other}")
            }
            SecretKind::Totp { user } => format!("hearth-totp-{user}"),
            SecretKind::SshCa => "hearth-ssh-user-ca".into(),
            SecretKind::External { name, .. } | SecretKind::Generated { name, .. } => name.clone(),
        }
    }
}

/// Every secret the inventory implies, in a deterministic order: each
/// area's, then those set with `hearth secret set`.
pub fn secrets(inv: &Inventory) -> Vec<SecretSpec> {
    let mut v = Vec::new();
    for a in crate::area::AREAS {
        a.secrets(inv, &mut v);
    }
    for (n, h) in &inv.hosts {
        for s in &h.secrets {
            v.push(SecretSpec { rel: format!("{n}/{s}.age"), kind: SecretKind::External { host: n.clone(), name: s.clone() }, hosts: vec![n.clone()] });
        }
    }
    v
}

/// The WireGuard area's secrets: every node's private key, the preshared
/// keys of the listener's pairs.
pub fn wireguard_secrets(inv: &Inventory) -> Vec<SecretSpec> {
    let mut v = Vec::new();
    for (n, h) in &inv.hosts {
        if h.wireguard_role().is_some() {
            v.push(SecretSpec { rel: format!("{n}/wireguard-key.age"), kind: SecretKind::WireguardKey { node: n.clone() }, hosts: vec![n.clone()] });
        }
    }
    for n in inv.peers.keys() {
        v.push(SecretSpec { rel: format!("peers/{n}/wireguard-key.age"), kind: SecretKind::WireguardKey { node: n.clone() }, hosts: vec![] });
    }
    if inv.wireguard.preshared_keys {
        if let Some(l) = listener(inv) {
            for other in dialers(inv) {
                let mut hosts = vec![l.to_owned()];
                if inv.hosts.contains_key(&other) {
                    hosts.push(other.clone());
                }
                v.push(SecretSpec { rel: format!("{l}/psk-{other}.age"), kind: SecretKind::Psk { listener: l.into(), peer: other }, hosts });
            }
        }
    }
    v
}

/// The bastion area's secrets: TOTP seeds, the SSH user CA.
pub fn bastion_secrets(inv: &Inventory) -> Vec<SecretSpec> {
    let mut v = Vec::new();
    if let Some((b, _)) = inv.bastion() {
        for (u, user) in &inv.users {
            if user.totp {
                v.push(SecretSpec { rel: format!("{b}/totp-{u}.age"), kind: SecretKind::Totp { user: u.clone() }, hosts: vec![b.into()] });
            }
        }
        if inv.bastion.ca {
            v.push(SecretSpec { rel: "admin/ssh-user-ca.age".into(), kind: SecretKind::SshCa, hosts: vec![] });
        }
    }
    v
}

/// Everything that dials the listener: the gateway (when a hub listens) and
/// every client, sorted by name.
pub fn dialers(inv: &Inventory) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if inv.hub().is_some() {
        if let Some((g, _)) = inv.gateway() {
            v.push(g.into());
        }
    }
    v.extend(inv.clients().iter().map(|c| c.name.to_owned()));
    v.sort();
    v
}

/// One WireGuard peer of a NixOS host (`hearth.wireguard.peers.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WgPeer {
    pub name: String,
    pub public_key: WgKey,
    pub allowed_ips: Vec<String>,
    pub endpoint: Option<Endpoint>,
    pub persistent_keepalive: Option<u16>,
    /// agenix name of the preshared key.
    pub psk_secret: Option<String>,
    /// Path of the preshared key below `secrets/`.
    pub psk_rel: Option<String>,
}

/// A NixOS host's `hearth.wireguard` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WgHost {
    pub role: &'static str,
    pub address: Ipv4Addr,
    pub listen_port: Option<u16>,
    pub forwarding: bool,
    /// (sources, destinations) to masquerade, when enabled.
    pub masquerade: Option<(Vec<String>, Vec<String>)>,
    /// LAN addresses never masqueraded towards ([`crate::area::Area::unmasqueraded`]:
    /// an ingress that enforces per-client policy must see the client's address).
    pub masquerade_except: Vec<String>,
    pub peers: Vec<WgPeer>,
}

fn psk_for(inv: &Inventory, listener: &str, other: &str, me: &str) -> (Option<String>, Option<String>) {
    if !inv.wireguard.preshared_keys {
        return (None, None);
    }
    let spec = SecretSpec { rel: format!("{listener}/psk-{other}.age"), kind: SecretKind::Psk { listener: listener.into(), peer: other.into() }, hosts: vec![] };
    (Some(spec.age_name(me)), Some(spec.rel))
}

/// What a client routes into the tunnel.
pub fn client_allowed_ips(inv: &Inventory, full_tunnel: bool) -> Vec<String> {
    if full_tunnel {
        vec!["0.0.0.0/0".into(), "::/0".into()]
    } else {
        vec![inv.network.vpn.to_string(), inv.network.lan.to_string()]
    }
}

/// The `hearth.wireguard` data of a host, or `None` for hosts without a
/// WireGuard role. Peers lacking a key or address (not rendered yet) are
/// skipped; render materializes them first.
pub fn host(inv: &Inventory, name: &str) -> Option<WgHost> {
    let h = inv.hosts.get(name)?;
    let role = h.wireguard_role()?;
    let address = h.vpn_address?;
    let net = &inv.network;
    let keepalive = Some(inv.wireguard.keepalive);
    let hub = inv.hub();
    let lis = listener(inv)?;
    let mut peers = Vec::new();
    let clients = inv.clients();
    let client_peers = |peers: &mut Vec<WgPeer>| {
        for c in clients.iter().filter(|c| c.name != name) {
            let (Some(pk), Some(a)) = (c.public_key, c.address) else { continue };
            let (psk_secret, psk_rel) = psk_for(inv, lis, c.name, name);
            peers.push(WgPeer {
                name: c.name.into(),
                public_key: pk.clone(),
                allowed_ips: vec![format!("{a}/32")],
                endpoint: None,
                persistent_keepalive: None,
                psk_secret,
                psk_rel,
            });
        }
    };
    let (role_s, listen_port, forwarding, masquerade) = match role {
        Role::WIREGUARD_HUB => {
            if let Some((g, gh)) = inv.gateway() {
                if let (Some(pk), Some(ga)) = (&gh.public_key, gh.vpn_address) {
                    let (psk_secret, psk_rel) = psk_for(inv, lis, g, name);
                    peers.push(WgPeer {
                        name: g.into(),
                        public_key: pk.clone(),
                        allowed_ips: vec![format!("{ga}/32"), net.lan.to_string()],
                        endpoint: None,
                        persistent_keepalive: None,
                        psk_secret,
                        psk_rel,
                    });
                }
            }
            client_peers(&mut peers);
            // Full-tunnel clients leave through the hub's uplink.
            let full = clients.iter().any(|c| c.full_tunnel);
            let masq = full.then(|| (vec![net.vpn.to_string()], vec!["0.0.0.0/0".to_string()]));
            ("hub", Some(inv.wireguard.port), true, masq)
        }
        Role::WIREGUARD_GATEWAY => {
            let masq = inv.wireguard.masquerade.then(|| (vec![net.vpn.to_string()], vec![net.lan.to_string()]));
            if let Some((hn, hh)) = hub {
                if let Some(pk) = &hh.public_key {
                    let (psk_secret, psk_rel) = psk_for(inv, lis, name, name);
                    peers.push(WgPeer {
                        name: hn.into(),
                        public_key: pk.clone(),
                        allowed_ips: vec![net.vpn.to_string()],
                        endpoint: hh.endpoint.clone(),
                        persistent_keepalive: keepalive,
                        psk_secret,
                        psk_rel,
                    });
                }
                ("gateway", None, true, masq)
            } else {
                client_peers(&mut peers);
                ("gateway", Some(inv.wireguard.port), true, masq)
            }
        }
        Role::WIREGUARD_CLIENT => {
            let (ln, lh) = inv.hosts.get_key_value(lis)?;
            if let Some(pk) = &lh.public_key {
                let (psk_secret, psk_rel) = psk_for(inv, lis, name, name);
                peers.push(WgPeer {
                    name: ln.clone(),
                    public_key: pk.clone(),
                    allowed_ips: client_allowed_ips(inv, false),
                    endpoint: lh.endpoint.clone(),
                    persistent_keepalive: keepalive,
                    psk_secret,
                    psk_rel,
                });
            }
            ("client", None, false, None)
        }
        _ => return None,
    };
    let masquerade_except = if masquerade.is_some() && role == Role::WIREGUARD_GATEWAY {
        let mut v: Vec<Ipv4Addr> = crate::area::AREAS.iter().flat_map(|a| a.unmasqueraded(inv)).collect();
        v.sort();
        v.dedup();
        v.into_iter().map(|a| a.to_string()).collect()
    } else {
        vec![]
    };
    Some(WgHost { role: role_s, address, listen_port, forwarding, masquerade, masquerade_except, peers })
}

/// A phone's or laptop's wg-quick configuration. `private_key` and `psk` are
/// decrypted by the caller; the text is only ever printed or encoded as a QR
/// code, never written by hearth except to a file the user names.
pub fn client_config(inv: &Inventory, peer: &str, private_key: &str, psk: Option<&str>) -> Result<String, String> {
    let p = inv.peers.get(peer).ok_or_else(|| format!("unknown peer `{peer}`"))?;
    let addr = p.address.ok_or_else(|| format!("peer `{peer}` has no address yet; run `hearth render`"))?;
    let lis = listener(inv).ok_or("the inventory has neither a hub nor a gateway to dial")?;
    let lh = &inv.hosts[lis];
    let lpk = lh.public_key.as_ref().ok_or_else(|| format!("`{lis}` has no WireGuard key yet; run `hearth render`"))?;
    let endpoint = lh.endpoint.as_ref().ok_or_else(|| format!("`{lis}` has no endpoint"))?;
    let mut s = String::new();
    s.push_str(&format!("# hearth: WireGuard config for peer `{peer}` ({}). Keep it private: it holds the private key.\n", p.kind));
    s.push_str("[Interface]\n");
    s.push_str(&format!("PrivateKey = {private_key}\n"));
    s.push_str(&format!("Address = {addr}/32\n"));
    s.push_str(&format!("MTU = {}\n", inv.wireguard.mtu));
    // With the ingress's resolver on, the gateway answers (the web services'
    // names itself, everything else through the LAN resolvers).
    let resolvers: Vec<String> = match crate::area::ingress::resolver_address(inv) {
        Some(gw) => vec![gw.to_string()],
        None => inv.network.resolvers.iter().map(|r| r.to_string()).collect(),
    };
    if !resolvers.is_empty() {
        match p.kind {
            // systemd-resolved: the LAN resolvers answer only for the home
            // domain (a routing domain), everything else stays local.
            PeerKind::Laptop => {
                // The ingress's name spaces too, when the gateway serves them
                // and they are not under the home domain.
                let mut domains = vec![inv.network.domain.clone()];
                if crate::area::ingress::resolver_address(inv).is_some() {
                    for d in [crate::area::ingress::vpn_domain(inv), crate::area::ingress::lan_domain(inv)] {
                        if !domains.iter().any(|x| d == *x || d.ends_with(&format!(".{x}"))) {
                            domains.push(d);
                        }
                    }
                }
                let routing: Vec<String> = domains.iter().map(|d| format!("~{d}")).collect();
                s.push_str(&format!("PostUp = resolvectl dns %i {}; resolvectl domain %i {}\n", resolvers.join(" "), routing.join(" ")));
                s.push_str("PostDown = resolvectl revert %i\n");
            }
            // Phones use the LAN resolvers for every query.
            PeerKind::Phone | PeerKind::Server => s.push_str(&format!("DNS = {}, {}\n", resolvers.join(", "), inv.network.domain)),
        }
    }
    s.push_str("\n[Peer]\n");
    s.push_str(&format!("# {lis}\n"));
    s.push_str(&format!("PublicKey = {lpk}\n"));
    if let Some(psk) = psk {
        s.push_str(&format!("PresharedKey = {psk}\n"));
    }
    s.push_str(&format!("AllowedIPs = {}\n", client_allowed_ips(inv, p.full_tunnel).join(", ")));
    s.push_str(&format!("Endpoint = {endpoint}\n"));
    s.push_str(&format!("PersistentKeepalive = {}\n", inv.wireguard.keepalive));
    Ok(s)
}
