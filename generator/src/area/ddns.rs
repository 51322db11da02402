//! The dynamic DNS area: one host (the gateway by default) keeps DNS records
//! pointing at the home network's public address with ddclient
//! (`hearth.ddns`, `modules/lib/ddns.nix`, `modules/ddns.nix`). Without a
//! hub, clients dial the home endpoint, whose address the ISP changes. The
//! provider credential is a host secret (`hearth secret set NAME --host H`),
//! handed to ddclient as an agenix path, never through the Nix store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Area, HostCx, Preview};
use crate::inventory::{Inventory, Role};
use crate::nix::{Attrs, Value};
use crate::topology::{SecretKind, SecretSpec};
use crate::validate::Sink;

pub struct Ddns;

/// `[ddns]`: which records to keep current, with which provider.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The host that runs ddclient (default: the host with role `wireguard-gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// ddclient protocol, e.g. `cloudflare`, `dyndns2`, `porkbun`, `namecheap`
    /// (https://ddclient.net/protocols.html).
    pub protocol: String,
    /// The records to keep current, e.g. `["home.example.net"]`.
    pub records: Vec<String>,
    /// The provider's zone, when the protocol needs one (cloudflare: the domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The provider's server, when not the protocol's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Login (cloudflare with an API token: `token`).
    #[serde(default)]
    pub username: String,
    /// Name of the host secret holding the password or API token; set it with
    /// `hearth secret set NAME --host HOST` (stdin).
    pub password_secret: String,
    /// How often to check and update, a systemd time span: `5min`, `1h`, `30s`.
    #[serde(default = "default_interval")]
    pub interval: String,
    /// How ddclient finds the IPv4 address (ddclient's `usev4`).
    #[serde(default = "default_usev4")]
    pub usev4: String,
}

fn default_interval() -> String {
    "10min".into()
}
fn default_usev4() -> String {
    "webv4, webv4=ipify-ipv4".into()
}

/// The host that runs ddclient, when `[ddns]` is set.
pub fn host(inv: &Inventory) -> Option<&str> {
    let sec = inv.ddns.as_ref()?;
    match &sec.host {
        Some(h) => Some(h.as_str()),
        None => inv.gateway().map(|(n, _)| n),
    }
}

/// A systemd time span hearth accepts: one or more `<number><unit>` parts.
pub fn interval_problem(s: &str) -> Option<String> {
    const UNITS: &[&str] = &["s", "sec", "m", "min", "h", "hr", "d"];
    // Parts separated by single spaces, as modules/lib/ddns.nix accepts.
    let parts: Vec<&str> = s.split(' ').collect();
    let ok = !parts.is_empty()
        && parts.iter().all(|p| {
            let i = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            i > 0 && p[..i].parse::<u32>().is_ok_and(|n| n > 0) && UNITS.contains(&&p[i..])
        });
    (!ok).then(|| format!("`{}` is not a time span like `5min`, `1h` or `30s`", s.escape_debug()))
}

fn domain_ok(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') && !l.starts_with('-') && !l.ends_with('-'))
}

/// ddclient.conf is `key=value` lines: no line breaks, and in values no `,`
/// or `#` that would start another entry or a comment.
fn conf_value_problem(s: &str) -> Option<String> {
    s.chars().any(|c| c.is_control() || c == '#' || c == '\\').then(|| format!("`{}` contains a control character, `#` or `\\`, which ddclient.conf cannot hold", s.escape_debug()))
}

impl Area for Ddns {
    fn name(&self) -> &'static str {
        "ddns"
    }

    fn validate(&self, inv: &Inventory, out: &mut Sink) {
        let Some(sec) = &inv.ddns else { return };
        let k = |key: &'static str| ["ddns", key];
        let Some(h) = host(inv) else {
            out.err(&k("host"), "no host runs ddclient: no `host` is set and no host has role `wireguard-gateway`", "set `host = \"NAME\"` under [ddns]");
            return;
        };
        match inv.hosts.get(h) {
            None => out.err(&k("host"), format!("`{h}` is not a host"), "use a name from [hosts]"),
            Some(hh) => {
                if !hh.has(Role::WIREGUARD_GATEWAY) && hh.address.is_none() {
                    out.err(
                        &k("host"),
                        format!("`{h}` is not in the LAN (no address)"),
                        "run ddclient on the gateway or another LAN host: the record must follow the home network's public address",
                    );
                }
            }
        }
        if sec.protocol.is_empty() || !sec.protocol.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_') {
            out.err(
                &k("protocol"),
                format!("`{}` is not a ddclient protocol name", sec.protocol.escape_debug()),
                "use a name from https://ddclient.net/protocols.html, e.g. `cloudflare` or `dyndns2`",
            );
        }
        if sec.records.is_empty() {
            out.err(&k("records"), "no record to update", "list the DNS names to keep current, e.g. records = [\"home.example.net\"]");
        }
        for (i, r) in sec.records.iter().enumerate() {
            if !domain_ok(r) {
                out.err(&["ddns", "records", &i.to_string()], format!("`{}` is not a DNS name", r.escape_debug()), "use a name like home.example.net");
            }
        }
        if let Some(z) = &sec.zone {
            if !domain_ok(z) {
                out.err(&k("zone"), format!("`{}` is not a DNS zone", z.escape_debug()), "use the domain the records live in, e.g. example.net");
            }
        }
        if let Some(s) = &sec.server {
            if !domain_ok(s) || s.starts_with("*.") {
                out.err(
                    &k("server"),
                    format!("`{}` is not a hostname or IP address", s.escape_debug()),
                    "give the provider's API host name or IPv4 address, or remove `server` to use the protocol's default",
                );
            }
        }
        for (key, v) in [("username", &sec.username), ("usev4", &sec.usev4)] {
            if let Some(p) = conf_value_problem(v) {
                out.err(&k(key), p, "remove the character; ddclient reads one `key=value` per line");
            }
        }
        if let Some(p) = crate::validate::name_problem("secret", &sec.password_secret) {
            out.err(&k("password_secret"), p, "use a name like `ddns-token`");
        }
        if let Some(p) = interval_problem(&sec.interval) {
            out.err(&k("interval"), p, "use e.g. interval = \"5min\"");
        }
    }

    /// The provider's credential, a value the user sets (`hearth secret set
    /// NAME --host HOST`); declared here so that `hearth render` names the
    /// missing file and the command to set it. Once set, the host's own
    /// `secrets` list holds it and it is declared there.
    fn secrets(&self, inv: &Inventory, out: &mut Vec<SecretSpec>) {
        let (Some(sec), Some(h)) = (&inv.ddns, host(inv)) else { return };
        match inv.hosts.get(h) {
            Some(hh) if !hh.secrets.contains(&sec.password_secret) => out.push(SecretSpec {
                rel: format!("{h}/{}.age", sec.password_secret),
                kind: SecretKind::External { host: h.to_owned(), name: sec.password_secret.clone() },
                hosts: vec![h.to_owned()],
            }),
            _ => {}
        }
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        let sec = cx.inv.ddns.as_ref()?;
        if host(cx.inv) != Some(cx.name) {
            return None;
        }
        Some(
            Attrs::new()
                .set("enable", true)
                .set("protocol", sec.protocol.clone())
                .set("server", sec.server.clone().unwrap_or_default())
                .set("zone", sec.zone.clone().unwrap_or_default())
                .set("username", sec.username.clone())
                .set("domains", Value::strs(sec.records.clone()))
                .set("interval", sec.interval.clone())
                .set("usev4", sec.usev4.clone())
                .set("ssl", true)
                .set("passwordSecret", sec.password_secret.clone())
                .into(),
        )
    }

    fn previews(&self) -> &'static [Preview] {
        &[Preview { part: "ddclient", needs: "[ddns] naming this host (or the gateway)", expr: "lib.ddns.settings host.hearth.ddns", when: "true" }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        for ok in ["5min", "1h", "30s", "1h 30min", "10m"] {
            assert!(interval_problem(ok).is_none(), "{ok}");
        }
        for bad in ["", "min", "0min", "5 min", "5years", "5min;reboot", "-5s", "1h  30min", "5min "] {
            assert!(interval_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn conf_values_cannot_break_lines() {
        assert!(conf_value_problem("token").is_none());
        assert!(conf_value_problem("webv4, webv4=ipify-ipv4").is_none());
        assert!(conf_value_problem("x\npassword=leak").is_some());
        assert!(conf_value_problem("x # comment").is_some());
    }

    #[test]
    fn domains() {
        assert!(domain_ok("home.2rjus.net") && domain_ok("*.home.example.net"));
        assert!(!domain_ok("") && !domain_ok("a..b") && !domain_ok("-a.b") && !domain_ok("a b.c") && !domain_ok("a-.b"));
    }
}
