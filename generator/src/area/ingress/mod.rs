//! The ingress area: web services by name over HTTPS (`hearth.ingress`,
//! `modules/lib/ingress.nix`, `modules/ingress.nix`).
//!
//! A host with role `ingress` runs Caddy (default) or Traefik. A service
//! with `web = true` is served at `https://<subdomain>.<vpn_domain>` to the
//! VPN peers its `allow` list names (the same resolution the gateway's
//! allowlist uses, [`crate::policy::allowlist`]) and at
//! `https://<subdomain>.<lan_domain>` to the LAN. The firewall lets a peer
//! reach the ingress's ports only when it may reach at least one web service
//! ([`Area::services`]). So that the ingress sees each client's own address,
//! the gateway does not masquerade towards it ([`Area::unmasqueraded`]) and
//! the ingress host gets a route back to the VPN through the gateway
//! (`routeBack`). TLS: one wildcard certificate per name space from ACME
//! DNS-01 (NixOS `security.acme`, lego), or Caddy's internal CA.
//!
//! Every string that reaches Caddy's or Traefik's configuration is
//! checked here with the character classes the renderer checks with
//! (`tests/nix_roundtrip.rs` proves the two agree on hostile strings).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Area, HostCx, LabCx, Preview};
use crate::inventory::{Inventory, PortSpec, Proto, Role, Service};
use crate::nix::{Attrs, Value};
use crate::validate::{is_dns_label, Sink};

mod lab;
mod lab_forward;

pub struct Ingress;

/// The role this area declares.
pub const ROLE: &str = "ingress";
/// The name of the firewall service this area implies (the ingress's ports).
pub const IMPLIED_SERVICE: &str = "ingress";
/// Let's Encrypt's production directory, `security.acme`'s default.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How the ingress speaks to a backend.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

/// Authentication at the ingress, in front of a web service.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// The allow list only.
    #[default]
    None,
    /// HTTP basic auth: users and bcrypt hashes in the ingress host's secret
    /// `ingress-basic-<service>` (lines `USER HASH`, from `caddy hash-password`).
    Basic,
    /// Ask `[ingress.forward_auth]` (Authelia, oauth2-proxy, ...) first.
    Forward,
}

impl Auth {
    fn as_str(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Basic => "basic",
            Auth::Forward => "forward",
        }
    }
}

/// The ingress program.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Caddy,
    Traefik,
}

/// Where certificates come from.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// ACME DNS-01 through NixOS `security.acme` (lego): one wildcard certificate per name space.
    #[default]
    Acme,
    /// Caddy's internal CA (Caddy only).
    Internal,
}

/// Who answers the ingress's names for VPN clients.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Resolver {
    /// Nobody from hearth: the user's DNS has the records (`hearth preview HOST dns`).
    #[default]
    None,
    /// An unbound on the wireguard-gateway, at its VPN address, for VPN clients
    /// only: every site's name -> the ingress; other names are forwarded to
    /// `network.resolvers` (refused when there are none). Client configs then
    /// name the gateway as their DNS server.
    Gateway,
}

impl Resolver {
    fn is_none(&self) -> bool {
        *self == Resolver::None
    }
}

/// The lowest TLS version offered.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "1.2")]
    V12,
    #[serde(rename = "1.3")]
    V13,
}

/// `[ingress]`: web services by name over HTTPS.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// VPN names are `<subdomain>.<vpn_domain>` (default: `network.domain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpn_domain: Option<String>,
    /// LAN names are `<subdomain>.<lan_domain>` (default: `lan.<network.domain>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lan_domain: Option<String>,
    /// Every LAN address may use the LAN names (default true); false: nobody.
    #[serde(default = "yes")]
    pub lan_open: bool,
    /// TLS settings.
    #[serde(default)]
    pub tls: Tls,
    /// ACME (with `tls.mode = "acme"`).
    #[serde(default)]
    pub acme: Acme,
    /// The authentication service `auth = "forward"` asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<ForwardAuth>,
    /// Per-host settings of ingress hosts, by host name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, IngressHost>,
    /// `"gateway"`: the gateway resolves the web services' names for VPN
    /// clients (unbound); `"none"` (default): the user's DNS does.
    #[serde(default, skip_serializing_if = "Resolver::is_none")]
    pub resolver: Resolver,
}

impl Default for Section {
    fn default() -> Self {
        Section {
            vpn_domain: None,
            lan_domain: None,
            lan_open: true,
            tls: Tls::default(),
            acme: Acme::default(),
            forward_auth: None,
            hosts: BTreeMap::new(),
            resolver: Resolver::None,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_hsts() -> u32 {
    31_536_000
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// `acme` (default) or `internal`.
    #[serde(default)]
    pub mode: TlsMode,
    /// `"1.2"` (default; 1.3 preferred) or `"1.3"`.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// HSTS max-age in seconds; 0 turns the header off (default one year).
    #[serde(default = "default_hsts")]
    pub hsts: u32,
}

impl Default for Tls {
    fn default() -> Self {
        Tls { mode: TlsMode::Acme, min_version: TlsVersion::V12, hsts: default_hsts() }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Acme {
    /// The ACME directory (default Let's Encrypt; an own CA such as step-ca).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The account's email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// lego's DNS provider code (`cloudflare`, `rfc2136`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_provider: Option<String>,
    /// A secret of the ingress host (`hearth secret set NAME --host HOST`)
    /// holding the provider's credentials as `KEY=value` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// Wait until the TXT record is visible on the authoritative servers (default true).
    #[serde(default = "yes")]
    pub propagation_check: bool,
    /// PEM root certificate of an own ACME CA, trusted by lego.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_root: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuth {
    /// `http://HOST:PORT` of the auth service, e.g. `http://10.69.13.30:9091`.
    pub upstream: String,
    /// The path asked, e.g. `/api/verify?rd=https://auth.home.example.net/`.
    pub uri: String,
    /// Response headers copied to the backend's request.
    #[serde(default = "default_copy_headers")]
    pub copy_headers: Vec<String>,
}

fn default_copy_headers() -> Vec<String> {
    ["Remote-User", "Remote-Groups", "Remote-Name", "Remote-Email"].map(String::from).to_vec()
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IngressHost {
    /// `caddy` (default) or `traefik`.
    #[serde(default)]
    pub backend: Backend,
}

// ---- the character classes modules/lib/ingress.nix checks with ------------

/// A DNS name of lowercase labels (`hostnameRe` in the renderer).
pub fn is_hostname(s: &str) -> bool {
    s.len() <= 253 && !s.is_empty() && s.split('.').all(is_dns_label)
}

fn url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._~:/?#@!$&'()*+,;=%-".contains(c)
}

/// `(http|https)://HOSTNAME-OR-IPV4:PORT` (`checkUpstream`).
pub fn is_upstream(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://")) else { return false };
    let Some((host, port)) = rest.rsplit_once(':') else { return false };
    let port_ok = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) && !port.starts_with('0');
    port_ok && is_hostname(host)
}

/// A path starting with `/` of URL characters (`checkUri`).
pub fn is_uri(s: &str) -> bool {
    s.starts_with('/') && s.chars().all(url_char)
}

/// `http(s)://` and at least one URL character (`checkUrl`).
pub fn is_url(s: &str) -> bool {
    let rest = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://"));
    rest.is_some_and(|r| !r.is_empty() && r.chars().all(url_char))
}

/// An HTTP header name (`checkHeader`).
pub fn is_header(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `LOCAL@HOSTNAME` (`legoArgs`' email check).
pub fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((l, d)) => !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b)) && is_hostname(d),
        None => false,
    }
}

/// lego's provider codes (`legoArgs`).
pub fn is_provider(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit()) && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
}

// ---- the inventory's view ---------------------------------------------------

/// The ingress host (the one host with role `ingress`).
pub fn ingress_host(inv: &Inventory) -> Option<(&str, &crate::inventory::Host)> {
    inv.hosts.iter().find(|(_, h)| h.roles.iter().any(|r| r.as_str() == ROLE)).map(|(n, h)| (n.as_str(), h))
}

fn is_ingress(h: &crate::inventory::Host) -> bool {
    h.roles.iter().any(|r| r.as_str() == ROLE)
}

/// The VPN name space.
pub fn vpn_domain(inv: &Inventory) -> String {
    inv.ingress.vpn_domain.clone().unwrap_or_else(|| inv.network.domain.clone())
}

/// The LAN name space.
pub fn lan_domain(inv: &Inventory) -> String {
    inv.ingress.lan_domain.clone().unwrap_or_else(|| format!("lan.{}", inv.network.domain))
}

/// The first label of a web service's names.
pub fn subdomain<'a>(name: &'a str, svc: &'a Service) -> &'a str {
    svc.subdomain.as_deref().unwrap_or(name)
}

/// `https://<sub>.<vpn_domain>` of a web service, when it is one.
pub fn url(inv: &Inventory, name: &str) -> Option<String> {
    let svc = inv.services.get(name)?;
    svc.web.then(|| format!("https://{}.{}", subdomain(name, svc), vpn_domain(inv)))
}

/// The name of the ingress host's secret holding a service's basic-auth users.
pub fn basic_secret(service: &str) -> String {
    format!("ingress-basic-{service}")
}

fn web_services(inv: &Inventory) -> impl Iterator<Item = (&String, &Service)> {
    inv.services.iter().filter(|(_, s)| s.web)
}

/// The one port of a web service (validation rejects any other shape).
fn web_port(svc: &Service) -> Option<u16> {
    match svc.port.ranges()[..] {
        [r] if r.start == r.end => Some(r.start),
        _ => None,
    }
}

/// The web services' names: (VPN name, LAN name) per web service.
fn site_names(inv: &Inventory) -> Vec<String> {
    let (vd, ld) = (vpn_domain(inv), lan_domain(inv));
    web_services(inv).flat_map(|(n, svc)| [format!("{}.{vd}", subdomain(n, svc)), format!("{}.{ld}", subdomain(n, svc))]).collect()
}

/// The gateway's VPN address when it runs the resolver (`resolver = "gateway"`):
/// the DNS server client configs name.
pub fn resolver_address(inv: &Inventory) -> Option<Ipv4Addr> {
    (inv.ingress.resolver == Resolver::Gateway).then(|| inv.gateway().and_then(|(_, g)| g.vpn_address)).flatten()
}

/// `hearth.ingress.resolver` on the gateway (None elsewhere, or when off).
fn resolver_data(inv: &Inventory, host: &str) -> Option<Value> {
    inv.gateway().filter(|(n, _)| *n == host)?;
    let listen = resolver_address(inv)?;
    let (_, ih) = ingress_host(inv)?;
    let target = ih.address?;
    let records = site_names(inv).into_iter().map(|n| Value::from(Attrs::new().set("name", n).set("address", target.to_string()))).collect();
    Some(
        Attrs::new()
            .set("address", listen.to_string())
            .set("port", 53u16)
            .set("interface", inv.wireguard.interface.clone())
            .set("allow", Value::strs([inv.network.vpn.to_string()]))
            .set("zones", Value::strs([vpn_domain(inv), lan_domain(inv)]))
            .set("records", Value::List(records))
            .set("forward", Value::strs(inv.network.resolvers.iter().map(|r| r.to_string())))
            .into(),
    )
}

impl Area for Ingress {
    fn name(&self) -> &'static str {
        "ingress"
    }

    fn roles(&self) -> &'static [(&'static str, &'static str)] {
        &[("ingress", "HTTPS reverse proxy (Caddy or Traefik) serving web services by name, with the same allow lists.")]
    }

    fn validate(&self, inv: &Inventory, s: &mut Sink) {
        let ing = &inv.ingress;
        let ingresses: Vec<&String> = inv.hosts.iter().filter(|(_, h)| is_ingress(h)).map(|(n, _)| n).collect();
        for extra in ingresses.iter().skip(1) {
            s.err(
                &["hosts", extra, "roles"],
                format!("`{extra}` is a second ingress (`{}` is one already)", ingresses[0]),
                "one host serves every web service: remove the `ingress` role from all but one",
            );
        }
        let web: Vec<(&String, &Service)> = web_services(inv).collect();
        if !web.is_empty() && ingresses.is_empty() {
            s.err(
                &["services", web[0].0, "web"],
                "a web service needs an ingress, but no host has the role `ingress`",
                "add roles = [\"ingress\"] to the host that runs the proxy (e.g. [hosts.http-proxy])",
            );
        }
        if let Some((n, h)) = ingress_host(inv) {
            match h.address {
                None => s.err(&["hosts", n], format!("ingress `{n}` has no LAN address"), format!("add `address` to [hosts.{n}]: VPN clients reach the ingress in the LAN")),
                Some(a) if !inv.network.lan.contains(&a) => s.err(
                    &["hosts", n, "address"],
                    format!(
                        "ingress `{n}` at {a} is outside the LAN {}: the gateway could not hand it clients' own addresses, so per-service allow lists could not be enforced",
                        inv.network.lan
                    ),
                    "give the ingress a LAN address",
                ),
                _ => {}
            }
            if h.has(Role::WIREGUARD_HUB) || h.has(Role::WIREGUARD_CLIENT) {
                s.err(
                    &["hosts", n, "roles"],
                    format!("ingress `{n}` is a WireGuard hub or client: its requests to the backends would reach the gateway's allowlist from its own VPN address, and per-service policy could not be enforced"),
                    "put the ingress on a LAN host (no masquerade towards it, a route back) or on the gateway",
                );
            }
            if inv.gateway().is_none() && !web.is_empty() {
                s.err(
                    &["hosts", n, "roles"],
                    "an ingress needs a wireguard-gateway: VPN clients reach it through the gateway",
                    "add roles = [\"wireguard-gateway\"] to the LAN host that forwards the VPN",
                );
            }
            if inv.services.contains_key(IMPLIED_SERVICE) {
                s.err(&["services", IMPLIED_SERVICE], format!("the service name `{IMPLIED_SERVICE}` is the ingress's own firewall rule"), "rename this service");
            }
            let secrets = &h.secrets;
            if ing.tls.mode == TlsMode::Acme {
                let a = &ing.acme;
                match &a.email {
                    None => s.err(&["ingress", "acme"], "ACME needs an account email", "set [ingress.acme] email = \"you@example.net\", or tls.mode = \"internal\""),
                    Some(e) if !is_email(e) => {
                        s.err(&["ingress", "acme", "email"], format!("`{}` is not an email address", e.escape_debug()), "e.g. email = \"admin@example.net\"")
                    }
                    _ => {}
                }
                match &a.dns_provider {
                    None => s.err(&["ingress", "acme"], "ACME DNS-01 needs a DNS provider", "set [ingress.acme] dns_provider = \"cloudflare\" (a lego provider code)"),
                    Some(p) if !is_provider(p) => {
                        s.err(&["ingress", "acme", "dns_provider"], format!("`{}` is not a lego DNS provider code", p.escape_debug()), "e.g. cloudflare, rfc2136, hetzner")
                    }
                    _ => {}
                }
                if let Some(u) = &a.server {
                    if !is_url(u) {
                        s.err(
                            &["ingress", "acme", "server"],
                            format!("`{}` is not an http(s) URL", u.escape_debug()),
                            "e.g. https://ca.home.example.net/acme/acme/directory (no spaces, quotes, braces or backslashes)",
                        );
                    }
                }
                if let Some(c) = &a.credentials {
                    if !secrets.contains(c) {
                        s.err(
                            &["ingress", "acme", "credentials"],
                            format!("`{}` is not a secret of the ingress host `{n}`", c.escape_debug()),
                            format!("run `hearth secret set {c} --host {n}` with the provider's KEY=value lines"),
                        );
                    }
                }
                if let Some(r) = &a.ca_root {
                    if !r.trim_start().starts_with("-----BEGIN CERTIFICATE-----") {
                        s.err(&["ingress", "acme", "ca_root"], "not a PEM certificate", "paste the CA's root certificate (-----BEGIN CERTIFICATE----- ...)");
                    }
                }
            }
            let backend = ing.hosts.get(n).map(|x| x.backend).unwrap_or_default();
            if ing.tls.mode == TlsMode::Internal && backend == Backend::Traefik {
                s.err(&["ingress", "tls", "mode"], "`internal` is Caddy's own CA; Traefik has none", "use tls.mode = \"acme\" (an own ACME CA via acme.server) with Traefik");
            }
        } else if !ing.hosts.is_empty() || ing.forward_auth.is_some() {
            // Settings without an ingress are harmless; only per-host ones are checked below.
        }
        for hn in ing.hosts.keys() {
            match inv.hosts.get(hn) {
                None => s.err(&["ingress", "hosts", hn], format!("unknown host `{hn}`"), "name a host from [hosts]"),
                Some(h) if !is_ingress(h) => {
                    s.err(&["ingress", "hosts", hn], format!("`{hn}` has no `ingress` role"), format!("add \"ingress\" to hosts.{hn}.roles, or remove [ingress.hosts.{hn}]"))
                }
                _ => {}
            }
        }
        let (vd, ld) = (vpn_domain(inv), lan_domain(inv));
        for (key, d) in [("vpn_domain", &vd), ("lan_domain", &ld)] {
            if !is_hostname(d) {
                s.err(&["ingress", key], format!("`{}` is not a DNS name", d.escape_debug()), "lowercase labels separated by dots, e.g. home.example.net");
            }
        }
        if vd == ld {
            s.err(&["ingress", "lan_domain"], "the VPN and LAN name spaces are the same", "e.g. lan_domain = \"lan.home.example.net\"");
        }
        if let Some(f) = &ing.forward_auth {
            if !is_upstream(&f.upstream) {
                s.err(
                    &["ingress", "forward_auth", "upstream"],
                    format!("`{}` is not an upstream like http://10.69.13.30:9091", f.upstream.escape_debug()),
                    "scheme, host and port only",
                );
            }
            if !is_uri(&f.uri) {
                s.err(
                    &["ingress", "forward_auth", "uri"],
                    format!("`{}` is not a path of URL characters", f.uri.escape_debug()),
                    "start with / and use no spaces, quotes, braces, backslashes or backticks",
                );
            }
            for (i, hd) in f.copy_headers.iter().enumerate() {
                if !is_header(hd) {
                    s.err(
                        &["ingress", "forward_auth", "copy_headers", &i.to_string()],
                        format!("`{}` is not an HTTP header name", hd.escape_debug()),
                        "letters, digits and -, e.g. Remote-User",
                    );
                }
            }
        }
        if ing.resolver == Resolver::Gateway {
            let k = &["ingress", "resolver"];
            if inv.gateway().is_none() {
                s.err(
                    k,
                    "`resolver = \"gateway\"` but no host has the role `wireguard-gateway`",
                    "add roles = [\"wireguard-gateway\"] to the LAN host that forwards the VPN, or remove `resolver`",
                );
            }
            match ingress_host(inv) {
                None => s.err(
                    k,
                    "`resolver = \"gateway\"` but no host has the role `ingress`: there are no names to serve",
                    "add roles = [\"ingress\"] to the host that runs the proxy, or remove `resolver`",
                ),
                Some((n, h)) if h.address.is_none() => s.err(
                    k,
                    format!("the name spaces have no address: the ingress `{n}` has no LAN address for the resolver to answer with"),
                    format!("add `address` to [hosts.{n}]"),
                ),
                _ => {}
            }
            if !web_services(inv).any(|_| true) {
                s.err(k, "`resolver = \"gateway\"` but no service has `web = true`: there are no names to serve", "add web = true to a service, or remove `resolver`");
            }
        }
        let mut subs: BTreeMap<&str, &str> = BTreeMap::new();
        for (n, svc) in inv.services.iter() {
            if !svc.web {
                let stray = [(svc.subdomain.is_some(), "subdomain"), (svc.scheme.is_some(), "scheme"), (svc.auth.is_some(), "auth"), (!svc.auth_users.is_empty(), "auth_users")];
                for (set, key) in stray {
                    if set {
                        s.err(
                            &["services", n, key],
                            format!("`{key}` is a web setting but `{n}` is not a web service"),
                            format!("add web = true to [services.{n}], or remove `{key}`"),
                        );
                    }
                }
                continue;
            }
            let sub = subdomain(n, svc);
            if !is_dns_label(sub) {
                s.err(
                    &["services", n, if svc.subdomain.is_some() { "subdomain" } else { "web" }],
                    format!("subdomain `{}` is not a DNS label", sub.escape_debug()),
                    "lowercase letters, digits and inner hyphens, e.g. subdomain = \"grafana\"",
                );
            } else if let Some(long) = [&vd, &ld].into_iter().map(|d| format!("{sub}.{d}")).find(|h| is_hostname(&vd) && is_hostname(&ld) && !is_hostname(h)) {
                // The renderers (Caddy, Traefik, the resolver's
                // local-data) take the whole name: at most 253 characters.
                s.err(
                    &["services", n, if svc.subdomain.is_some() { "subdomain" } else { "web" }],
                    format!("`{long}` is longer than a DNS name may be (253 characters)"),
                    "use a shorter subdomain or name space",
                );
            } else if let Some(other) = subs.insert(sub, n) {
                s.err(&["services", n], format!("`{sub}.{vd}` is already the name of web service `{other}`"), "give one of them another subdomain");
            }
            if !matches!(svc.proto, Proto::Tcp | Proto::Both) {
                s.err(&["services", n, "proto"], format!("web service `{n}` is UDP only; the ingress speaks HTTP over TCP"), "remove web = true, or set proto = \"tcp\"");
            }
            if web_port(svc).is_none() {
                s.err(
                    &["services", n, "port"],
                    format!("web service `{n}` has several ports ({}); the ingress proxies to one", svc.port),
                    "set the HTTP port alone, e.g. port = 3000 (a second service can hold the others)",
                );
            }
            let auth = svc.auth.unwrap_or_default();
            match auth {
                Auth::Basic => {
                    if svc.auth_users.is_empty() {
                        s.err(
                            &["services", n, "auth"],
                            format!("`auth = \"basic\"` on `{n}` names no users"),
                            format!("add auth_users = [\"alice\"] and store their hashes with `hearth secret set {} --host INGRESS`", basic_secret(n)),
                        );
                    }
                    if let Some((ih, h)) = ingress_host(inv) {
                        if !h.secrets.contains(&basic_secret(n)) {
                            s.err(
                                &["services", n, "auth"],
                                format!("the ingress host `{ih}` has no secret `{}` holding the users of `{n}`", basic_secret(n)),
                                format!("run `caddy hash-password` per user, then `printf 'alice HASH\\n' | hearth secret set {} --host {ih}`", basic_secret(n)),
                            );
                        }
                    }
                }
                Auth::Forward if ing.forward_auth.is_none() => {
                    s.err(
                        &["services", n, "auth"],
                        format!("`auth = \"forward\"` on `{n}` but [ingress.forward_auth] is not set"),
                        "add [ingress.forward_auth] upstream = \"http://HOST:PORT\", uri = \"/api/verify\"",
                    );
                }
                _ => {}
            }
            if auth != Auth::Basic && !svc.auth_users.is_empty() {
                s.err(&["services", n, "auth_users"], "users are for auth = \"basic\"", "set auth = \"basic\", or remove auth_users");
            }
            for (i, u) in svc.auth_users.iter().enumerate() {
                if u.is_empty() || !u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                    s.err(&["services", n, "auth_users", &i.to_string()], format!("`{}` is not a user name", u.escape_debug()), "letters, digits, . _ -");
                }
            }
        }
    }

    fn services(&self, inv: &Inventory) -> Vec<(String, Service)> {
        let Some((host, _)) = ingress_host(inv) else { return vec![] };
        let mut allow: Vec<String> = vec![];
        for (_, svc) in web_services(inv) {
            for a in &svc.allow {
                if !allow.contains(a) {
                    allow.push(a.clone());
                }
            }
        }
        if allow.is_empty() {
            return vec![];
        }
        let svc = Service {
            host: host.into(),
            port: PortSpec::List(vec![crate::inventory::PortItem::One(80), crate::inventory::PortItem::One(443)]),
            proto: Proto::Tcp,
            allow,
            description: Some("the ingress: peers that may reach at least one web service".into()),
            web: false,
            subdomain: None,
            scheme: None,
            auth: None,
            auth_users: vec![],
        };
        vec![(IMPLIED_SERVICE.into(), svc)]
    }

    fn unmasqueraded(&self, inv: &Inventory) -> Vec<Ipv4Addr> {
        match ingress_host(inv) {
            Some((_, h)) if !h.has(Role::WIREGUARD_GATEWAY) => h.address.into_iter().collect(),
            _ => vec![],
        }
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        let (inv, h) = (cx.inv, cx.host());
        let resolver = resolver_data(inv, cx.name);
        if !is_ingress(h) {
            // The gateway's resolver alone (the proxy's options stay unset).
            return resolver.map(|r| Attrs::new().set("enable", false).set("resolver", r).into());
        }
        let ing = &inv.ingress;
        let (vd, ld) = (vpn_domain(inv), lan_domain(inv));
        let addr_of = |sources: &[String]| -> Vec<String> {
            let mut v: Vec<Ipv4Addr> = sources.iter().flat_map(|k| cx.allowlist.sources.get(k).cloned().unwrap_or_default()).collect();
            v.sort();
            v.dedup();
            v.into_iter().map(|a| a.to_string()).collect()
        };
        let mut sites = vec![];
        for (n, svc) in web_services(inv) {
            let (Some(addr), Some(port)) = (inv.hosts.get(&svc.host).and_then(|h| h.address), web_port(svc)) else { continue };
            let scheme = match svc.scheme.unwrap_or_default() {
                Scheme::Http => "http",
                Scheme::Https => "https",
            };
            let upstream = format!("{scheme}://{addr}:{port}");
            let auth = svc.auth.unwrap_or_default();
            let auth_v = Attrs::new()
                .set("type", auth.as_str())
                .set("basicSecret", Value::opt_str((auth == Auth::Basic).then(|| basic_secret(n))))
                .set("users", Value::strs(if auth == Auth::Basic { svc.auth_users.clone() } else { vec![] }));
            let vpn_allow = cx.allowlist.rules.iter().find(|r| &r.name == n).map(|r| addr_of(&r.from)).unwrap_or_default();
            let lan_allow = if ing.lan_open { vec![inv.network.lan.to_string()] } else { vec![] };
            let sub = subdomain(n, svc);
            for (suffix, dom, allow) in [("", &vd, vpn_allow), ("_lan", &ld, lan_allow)] {
                sites.push(Value::from(
                    Attrs::new()
                        .set("name", format!("{n}{suffix}"))
                        .set("host", format!("{sub}.{dom}"))
                        .set("cert", dom.clone())
                        .set("upstream", upstream.clone())
                        .set("allow", Value::strs(allow))
                        .set("auth", auth_v.clone()),
                ));
            }
        }
        let certs =
            [&vd, &ld].into_iter().map(|d| Value::from(Attrs::new().set("name", d.clone()).set("domain", format!("*.{d}")).set("extraDomains", Value::List(vec![])))).collect();
        let a = &ing.acme;
        let acme = Attrs::new()
            .set("server", a.server.clone().unwrap_or_else(|| LETS_ENCRYPT.into()))
            .set("email", a.email.clone().unwrap_or_default())
            .set("dnsProvider", a.dns_provider.clone().unwrap_or_default())
            .set("propagationCheck", a.propagation_check)
            .set("credentialsSecret", Value::opt_str(a.credentials.clone()))
            .set("caRoot", Value::opt_str(a.ca_root.clone()));
        let fwd = match &ing.forward_auth {
            Some(f) => Attrs::new().set("upstream", f.upstream.clone()).set("uri", f.uri.clone()).set("copyHeaders", Value::strs(f.copy_headers.clone())).into(),
            None => Value::Null,
        };
        let route_back = match (h.has(Role::WIREGUARD_GATEWAY), inv.gateway().and_then(|(_, g)| g.address)) {
            (false, Some(gw)) => Attrs::new().set("destination", inv.network.vpn.to_string()).set("via", gw.to_string()).into(),
            _ => Value::Null,
        };
        let backend = match ing.hosts.get(cx.name).map(|x| x.backend).unwrap_or_default() {
            Backend::Caddy => "caddy",
            Backend::Traefik => "traefik",
        };
        Some(
            Attrs::new()
                .set("enable", true)
                .set("backend", backend)
                .set("address", Value::opt_str(h.address.map(|a| a.to_string())))
                .set("httpPort", 80u16)
                .set("httpsPort", 443u16)
                .set(
                    "tls",
                    Attrs::new()
                        .set("mode", if ing.tls.mode == TlsMode::Acme { "acme" } else { "internal" })
                        .set("minVersion", if ing.tls.min_version == TlsVersion::V12 { "1.2" } else { "1.3" })
                        .set("hsts", ing.tls.hsts),
                )
                .set("certificates", Value::List(certs))
                .set("acme", acme)
                .set("forwardAuth", fwd)
                .set("routeBack", route_back)
                .set("sites", Value::List(sites))
                .set("resolver", resolver.unwrap_or(Value::Null))
                .into(),
        )
    }

    fn lab(&self, cx: &LabCx) -> Option<Result<Vec<crate::lab::bastion::Check>, crate::lab::LabError>> {
        let (host, _) = ingress_host(cx.inv)?;
        if !web_services(cx.inv).any(|_| true) {
            return None;
        }
        Some(lab::run_stage(cx, host))
    }

    fn previews(&self) -> &'static [Preview] {
        &[
            Preview {
                part: "caddy",
                needs: "the ingress role",
                expr: "lib.ingress.caddyJson { cfg = host.hearth.ingress; certDir = n: \"/var/lib/acme/\" + n; }",
                when: "host.hearth.ingress.enable",
            },
            Preview {
                part: "traefik",
                needs: "the ingress role",
                expr: "lib.ingress.traefik { cfg = host.hearth.ingress; secretPath = n: \"/run/hearth-ingress/\" + n + \".htpasswd\"; certDir = n: \"/var/lib/acme/\" + n; }",
                when: "host.hearth.ingress.enable",
            },
            Preview {
                part: "acme",
                needs: "the ingress role",
                expr: "map (c: { name = c.name; lego = lib.ingress.legoArgs host.hearth.ingress c.name; }) host.hearth.ingress.certificates",
                when: "host.hearth.ingress.enable",
            },
            Preview { part: "dns", needs: "the ingress role", expr: "lib.ingress.dnsRecords host.hearth.ingress", when: "host.hearth.ingress.enable" },
            Preview {
                part: "resolver",
                needs: "the gateway with [ingress] resolver = \"gateway\"",
                expr: "lib.ingress.unboundConf (lib.ingress.unbound host.hearth.ingress.resolver)",
                when: "(host.hearth.ingress.resolver or null) != null",
            },
        ]
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

[hosts.proxy]
roles = ["ingress"]
address = "10.0.0.10"
ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIQGEaQDLcdQRvVzviIjZLcf8SVXAIqxeM+wOod3tcTh"
secrets = ["ingress-basic-grafana"]

[hosts.mon]
address = "10.0.0.11"

[peers.laptop]
kind = "laptop"
groups = ["admins"]

[peers.phone]
kind = "phone"
groups = ["family"]

[ingress.acme]
email = "acme@example.net"
dns_provider = "cloudflare"
"#;

    const GRAFANA: &str = "\n[services.grafana]\nhost = \"mon\"\nport = 3000\nallow = [\"admins\"]\nweb = true\n";

    fn problems_of(extra: &str) -> Vec<String> {
        problems_in(&format!("{BASE}{extra}"))
    }

    fn problems_in(text: &str) -> Vec<String> {
        let l = Loaded::parse(Path::new("inventory.toml"), text.to_string()).unwrap();
        match crate::validate::check(&l) {
            Ok(()) => vec![],
            Err(p) => p.located.iter().map(|(_, p)| format!("{}: {} (hint: {})", p.keys.join("."), p.message, p.hint)).collect(),
        }
    }

    fn has(ps: &[String], needle: &str) -> bool {
        ps.iter().any(|p| p.contains(needle))
    }

    #[test]
    fn a_web_service_on_an_ingress_is_valid() {
        assert_eq!(problems_of(GRAFANA), Vec::<String>::new());
    }

    #[test]
    fn two_services_with_the_same_name_are_a_located_parse_error() {
        let text = format!("{BASE}{GRAFANA}{GRAFANA}");
        let e = Loaded::parse(Path::new("inventory.toml"), text).unwrap_err().to_string();
        assert!(e.contains("inventory.toml:") && e.contains("grafana"), "{e}");
    }

    #[test]
    fn two_web_services_with_the_same_name_by_subdomain() {
        let ps = problems_of(&format!("{GRAFANA}\n[services.graf2]\nhost = \"mon\"\nport = 3001\nweb = true\nsubdomain = \"grafana\"\n"));
        assert!(has(&ps, "services.grafana: `grafana.home.example.net` is already the name of web service `graf2`"), "{ps:?}");
    }

    #[test]
    fn a_subdomain_that_is_not_a_dns_label() {
        for bad in ["Grafana", "a.b", "x y", "-x", "g{$HOME}", "a\\\"b"] {
            let ps = problems_of(&format!("{GRAFANA}subdomain = \"{bad}\"\n"));
            assert!(has(&ps, "services.grafana.subdomain: subdomain") && has(&ps, "is not a DNS label"), "{bad}: {ps:?}");
        }
        // The service name is the default subdomain, and names are labels already.
    }

    #[test]
    fn a_web_service_on_a_udp_only_port() {
        let ps = problems_of(&format!("{GRAFANA}proto = \"udp\"\n"));
        assert!(has(&ps, "services.grafana.proto: web service `grafana` is UDP only"), "{ps:?}");
    }

    #[test]
    fn a_web_service_with_several_ports() {
        let ps = problems_of(&GRAFANA.replace("port = 3000", "port = [3000, 3001]"));
        assert!(has(&ps, "services.grafana.port: web service `grafana` has several ports"), "{ps:?}");
    }

    #[test]
    fn basic_auth_without_users_or_without_the_secret() {
        let ps = problems_of(&format!("{GRAFANA}auth = \"basic\"\n"));
        assert!(has(&ps, "services.grafana.auth: `auth = \"basic\"` on `grafana` names no users"), "{ps:?}");
        let ps = problems_of(&format!("{GRAFANA}auth = \"basic\"\nauth_users = [\"alice\"]\n"));
        assert_eq!(ps, Vec::<String>::new());
        let ps = problems_of(&format!("{}auth = \"basic\"\nauth_users = [\"alice\"]\n", GRAFANA.replace("grafana", "sonarr")));
        assert!(has(&ps, "has no secret `ingress-basic-sonarr`") && has(&ps, "hearth secret set ingress-basic-sonarr --host proxy"), "{ps:?}");
    }

    #[test]
    fn forward_auth_needs_the_auth_service_and_its_strings_are_checked() {
        let ps = problems_of(&format!("{GRAFANA}auth = \"forward\"\n"));
        assert!(has(&ps, "[ingress.forward_auth] is not set"), "{ps:?}");
        let ps = problems_of(&format!(
            "{GRAFANA}auth = \"forward\"\n[ingress.forward_auth]\nupstream = \"http://10.0.0.30:9091\"\nuri = \"/api/verify?rd=https://auth.home.example.net/\"\n"
        ));
        assert_eq!(ps, Vec::<String>::new());
        let ps = problems_of(&format!(
            "{GRAFANA}auth = \"forward\"\n[ingress.forward_auth]\nupstream = \"http://{{env.X}}:1\"\nuri = \"/x\\\" }}\\nimport /etc/shadow\"\ncopy_headers = [\"A B\"]\n"
        ));
        assert!(has(&ps, "ingress.forward_auth.upstream") && has(&ps, "ingress.forward_auth.uri") && has(&ps, "ingress.forward_auth.copy_headers.0"), "{ps:?}");
    }

    #[test]
    fn an_ingress_role_on_a_host_without_an_address() {
        let ps = problems_in(&format!("{}{GRAFANA}", BASE.replace("address = \"10.0.0.10\"\n", "")));
        assert!(has(&ps, "hosts.proxy: ingress `proxy` has no LAN address"), "{ps:?}");
    }

    #[test]
    fn policy_that_could_not_be_enforced_is_refused_with_the_fix() {
        // An ingress on the hub: its requests would come from its VPN address.
        let inv = BASE
            .replace("roles = [\"ingress\"]\naddress = \"10.0.0.10\"", "roles = [\"ingress\", \"wireguard-hub\"]\nendpoint = \"vps.example.net:51820\"\naddress = \"10.0.0.10\"");
        let ps = problems_in(&format!("{inv}{GRAFANA}"));
        assert!(has(&ps, "per-service policy could not be enforced") && has(&ps, "put the ingress on a LAN host"), "{ps:?}");
        // Web services but no ingress at all.
        let ps = problems_in(&format!("{}{GRAFANA}", BASE.replace("roles = [\"ingress\"]\n", "")));
        assert!(has(&ps, "services.grafana.web: a web service needs an ingress") && has(&ps, "add roles = [\"ingress\"]"), "{ps:?}");
    }

    #[test]
    fn acme_settings_are_checked() {
        let ps =
            problems_in(&format!("{BASE}{GRAFANA}").replace("email = \"acme@example.net\"\n", "email = \"not an email\"\nserver = \"https://ca {x}\"\ncredentials = \"dns\"\n"));
        assert!(has(&ps, "ingress.acme.email") && has(&ps, "ingress.acme.server") && has(&ps, "ingress.acme.credentials: `dns` is not a secret"), "{ps:?}");
        let ps = problems_of(&format!("{GRAFANA}[ingress.hosts.proxy]\nbackend = \"traefik\"\n[ingress.tls]\nmode = \"internal\"\n"));
        assert!(has(&ps, "ingress.tls.mode: `internal` is Caddy's own CA"), "{ps:?}");
    }

    #[test]
    fn web_settings_on_a_service_that_is_not_web() {
        let ps = problems_of(&GRAFANA.replace("web = true\n", "auth = \"basic\"\n"));
        assert!(has(&ps, "services.grafana.auth: `auth` is a web setting"), "{ps:?}");
    }

    #[test]
    fn the_ingress_port_is_allowed_to_the_union_of_the_web_services_allow_lists() {
        let extra = format!("{GRAFANA}\n[services.jelly]\nhost = \"mon\"\nport = 8096\nallow = [\"family\", \"admins\"]\nweb = true\n[services.ssh]\nhost = \"mon\"\nport = 22\nallow = [\"phone\"]\n");
        let l = Loaded::parse(Path::new("inventory.toml"), format!("{BASE}{extra}")).unwrap();
        let implied = Ingress.services(&l.inv);
        assert_eq!(implied.len(), 1);
        assert_eq!(implied[0].0, "ingress");
        assert_eq!(implied[0].1.allow, ["admins", "family"]);
        assert_eq!(implied[0].1.port.to_string(), "80,443");
        assert_eq!(Ingress.unmasqueraded(&l.inv), [Ipv4Addr::new(10, 0, 0, 10)]);
        // No web service: no port, no exception.
        let l = Loaded::parse(Path::new("inventory.toml"), BASE.to_string()).unwrap();
        assert!(Ingress.services(&l.inv).is_empty());
    }

    #[test]
    fn urls_use_the_subdomain_and_the_vpn_name_space() {
        let l = Loaded::parse(
            Path::new("inventory.toml"),
            format!("{BASE}{GRAFANA}subdomain = \"g\"\n[ingress]\nvpn_domain = \"vpn.example.net\"\n").replace("[ingress.acme]", "[ingress.acme]"),
        )
        .unwrap();
        assert_eq!(url(&l.inv, "grafana").as_deref(), Some("https://g.vpn.example.net"));
        assert_eq!(lan_domain(&l.inv), "lan.home.example.net");
    }

    #[test]
    fn the_gateway_resolver_is_checked_and_named_in_client_configs() {
        let on = "\n[ingress]\nresolver = \"gateway\"\n";
        assert_eq!(problems_of(&format!("{GRAFANA}{on}")), Vec::<String>::new());
        // No gateway, no ingress, no web service, an ingress without an address.
        let ps = problems_in(&format!("{}{GRAFANA}{on}", BASE.replace("roles = [\"wireguard-gateway\"]\n", "")));
        assert!(has(&ps, "ingress.resolver: `resolver = \"gateway\"` but no host has the role `wireguard-gateway`"), "{ps:?}");
        let ps = problems_in(&format!("{}{on}", BASE.replace("roles = [\"ingress\"]\n", "")));
        assert!(has(&ps, "ingress.resolver: `resolver = \"gateway\"` but no host has the role `ingress`") && has(&ps, "no service has `web = true`"), "{ps:?}");
        let ps = problems_in(&format!("{}{GRAFANA}{on}", BASE.replace("address = \"10.0.0.10\"\n", "")));
        assert!(has(&ps, "ingress.resolver: the name spaces have no address") && has(&ps, "add `address` to [hosts.proxy]"), "{ps:?}");
        // A name the renderers would refuse (longer than 253) is refused first.
        let vd = format!("{}example", format!("{}.", "a".repeat(60)).repeat(4));
        assert!(is_hostname(&vd) && !is_hostname(&format!("grafana.{vd}")));
        let ps = problems_of(&format!("{GRAFANA}\n[ingress]\nvpn_domain = \"{vd}\"\nlan_domain = \"lan.example.net\"\n"));
        assert!(has(&ps, "services.grafana.web: `grafana.aaaa") && has(&ps, "longer than a DNS name may be"), "{ps:?}");
        // Bad input changes nothing: `resolver` takes two words.
        let e = Loaded::parse(Path::new("inventory.toml"), format!("{BASE}{GRAFANA}\n[ingress]\nresolver = \"lan\"\n")).unwrap_err().to_string();
        assert!(e.contains("inventory.toml:") && e.contains("resolver") && e.contains("gateway"), "{e}");
        // The gateway's VPN address is the clients' DNS server; off: the LAN resolvers.
        let with = |extra: &str| {
            let text = format!("{BASE}{GRAFANA}{extra}")
                .replace("[network]\n", "[network]\nresolvers = [\"10.0.0.5\"]\n")
                .replace("address = \"10.0.0.2\"\n", "address = \"10.0.0.2\"\nvpn_address = \"10.1.0.1\"\npublic_key = \"ks93gx5R7PjphephFK9VS2h5eukPQmMxQ/uIiX33AEc=\"\n");
            let mut inv = Loaded::parse(Path::new("inventory.toml"), text).unwrap().inv;
            inv.peers.get_mut("phone").unwrap().address = Some(Ipv4Addr::new(10, 1, 0, 9));
            inv.peers.get_mut("laptop").unwrap().address = Some(Ipv4Addr::new(10, 1, 0, 10));
            let phone = crate::topology::client_config(&inv, "phone", "TEST-KEY", None).unwrap();
            let laptop = crate::topology::client_config(&inv, "laptop", "TEST-KEY", None).unwrap();
            (resolver_address(&inv), phone, laptop)
        };
        let (addr, phone, laptop) = with(on);
        assert_eq!(addr, Some(Ipv4Addr::new(10, 1, 0, 1)));
        assert!(phone.contains("DNS = 10.1.0.1, home.example.net\n"), "{phone}");
        assert!(laptop.contains("resolvectl dns %i 10.1.0.1; resolvectl domain %i ~home.example.net\n"), "{laptop}");
        // A VPN name space outside the home domain is routed to the gateway too
        // (the LAN one, lan.home.example.net, is under the home domain).
        let (_, _, laptop) = with(&format!("{on}vpn_domain = \"vpn.example.org\"\n"));
        assert!(laptop.contains("resolvectl domain %i ~home.example.net ~vpn.example.org\n"), "{laptop}");
        let (addr, phone, _) = with("");
        assert_eq!(addr, None);
        assert!(phone.contains("DNS = 10.0.0.5, home.example.net\n"), "{phone}");
    }

    #[test]
    fn character_classes_match_the_renderer_on_edge_cases() {
        assert!(is_upstream("http://10.0.0.1:80") && is_upstream("https://auth.example.net:9091"));
        assert!(!is_upstream("http://10.0.0.1") && !is_upstream("http://a:0") && !is_upstream("ftp://a:1") && !is_upstream("http://a b:1"));
        assert!(is_uri("/") && is_uri("/api/verify?rd=https://x/") && !is_uri("x") && !is_uri("/{a}") && !is_uri("/\"") && !is_uri("/a b"));
        assert!(is_email("a.b+c@example.net") && !is_email("a@") && !is_email("a b@c.d"));
    }
}
