//! The logs area: every host's systemd journal shipped to Loki with Grafana
//! Alloy (or promtail where a host's nixpkgs still has it), firewall drops
//! labelled (`hearth.logs`, `modules/lib/logs.nix`, `modules/logs.nix`).
//!
//! The inventory's `[logs]` names the Loki host (a hearth host, which then
//! runs `services.loki`) or an external push URL, which hosts ship, extra
//! labels and the retention. Everything the renderer would throw on is
//! rejected here first; strings that reach the Alloy text (label values, the
//! URL, the tenant) are escaped by the renderer (`tests/nix_roundtrip.rs`
//! feeds hostile ones through it).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Area, HostCx, LabCx, Preview};
use crate::inventory::Inventory;
use crate::lab::bastion::Check;
use crate::lab::error::{Context, LabError};
use crate::nix::{Attrs, Value};
use crate::validate::{name_problem, Sink};

/// Loki's gRPC port on the Loki host (fixed; only Loki itself uses it).
pub const GRPC_PORT: u16 = 9096;
/// How far back an agent reads the journal on its first start.
pub const JOURNAL_MAX_AGE: &str = "12h";
/// Labels hearth sets itself; extra labels may not reuse them.
pub const RESERVED_LABELS: &[&str] = &["host", "unit", "priority", "job", "transport", "hearth_drop", "src", "dst"];

/// Which program ships the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    /// Grafana Alloy (`services.alloy`), the default.
    #[default]
    Alloy,
    /// promtail (`services.promtail`): only on a nixpkgs that still has it
    /// (removed by nixpkgs PR 505055; evaluation stops with an assertion otherwise).
    Promtail,
}

impl Agent {
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Alloy => "alloy",
            Agent::Promtail => "promtail",
        }
    }
}

/// `[logs]`: journals to Loki.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The hearth host that runs Loki (a name from `[hosts]` with a LAN address). Set this or `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loki: Option<String>,
    /// An external Loki's push URL, e.g. `https://logs.example.net/loki/api/v1/push`. Set this or `loki`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Hosts that ship their journal (names from `[hosts]`). Default: every host
    /// with a LAN address when `loki` is a hearth host, every host with `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship: Option<Vec<String>>,
    /// The agent on every shipping host (per host: `[logs.hosts.NAME] agent`).
    #[serde(default)]
    pub agent: Agent,
    /// Extra labels on every line, e.g. `{ site = "home" }`. Names are Prometheus label names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// How long the Loki host keeps logs (a multiple of 24h: `31d`, `744h`, `4w`).
    #[serde(default = "default_retention")]
    pub retention: String,
    /// Loki's HTTP (push and query) port on the Loki host.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Basic-auth user for an external Loki (`url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The host secret holding the basic-auth password: listed in every shipping
    /// host's `secrets` and set with `hearth secret set NAME --host HOST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<String>,
    /// The tenant (`X-Scope-OrgID`) for an external multi-tenant Loki.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Per-host settings, by host name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, HostSettings>,
}

/// `[logs.hosts.NAME]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostSettings {
    /// This host's agent, instead of `logs.agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    /// Extra labels on this host's lines (added to, and overriding, `logs.labels`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn default_retention() -> String {
    "744h".into()
}
fn default_port() -> u16 {
    3100
}

/// Seconds in a Prometheus/Loki duration (`1y2w3d4h5m6s7ms`, units in this
/// order, each at most once), or why it is not one.
pub fn duration_secs(s: &str) -> Result<u64, String> {
    const UNITS: &[(&str, u64)] = &[("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1), ("ms", 0)];
    let bad = || format!("`{}` is not a duration (e.g. 31d, 744h, 4w)", s.escape_debug());
    if s.is_empty() {
        return Err(bad());
    }
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = if rest.starts_with("ms") { "ms" } else { rest.get(..1).ok_or_else(bad)? };
        let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if idx < next_unit {
            return Err(bad());
        }
        next_unit = idx + 1;
        total = total.saturating_add(n.saturating_mul(UNITS[idx].1));
        rest = &rest[unit.len()..];
    }
    Ok(total)
}

/// Is `s` a Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`)?
pub fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_') && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Loki tenant ID: 1 to 150 of `[A-Za-z0-9!-_.*'()]`, not `.` or `..`.
fn tenant_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 150 && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c))
}

fn url_problem(u: &str) -> Option<String> {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    match rest {
        None => Some(format!("`{}` is not an http:// or https:// URL", u.escape_debug())),
        Some(r) if r.is_empty() || r.starts_with('/') => Some(format!("`{}` names no host", u.escape_debug())),
        Some(_) if u.chars().any(|c| c.is_whitespace() || c.is_control()) => Some(format!("`{}` contains whitespace or control characters", u.escape_debug())),
        _ => None,
    }
}

impl Section {
    /// The hosts that ship, in name order.
    pub fn shippers<'a>(&'a self, inv: &'a Inventory) -> Vec<&'a str> {
        match &self.ship {
            Some(v) => {
                let set: BTreeSet<&str> = v.iter().map(String::as_str).collect();
                set.into_iter().collect()
            }
            // hearth's own Loki is on the LAN: hosts without a LAN address
            // (the hub) would need the VPN, which no service opens for it.
            None if self.loki.is_some() => inv.hosts.iter().filter(|(_, h)| h.address.is_some()).map(|(n, _)| n.as_str()).collect(),
            None => inv.hosts.keys().map(String::as_str).collect(),
        }
    }

    fn agent_of(&self, host: &str) -> Agent {
        self.hosts.get(host).and_then(|h| h.agent).unwrap_or(self.agent)
    }

    fn labels_of(&self, host: &str) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        if let Some(h) = self.hosts.get(host) {
            l.extend(h.labels.clone());
        }
        l
    }
}

fn check_labels(s: &mut Sink, base: &[&str], labels: &BTreeMap<String, String>) {
    for (k, v) in labels {
        let mut keys = base.to_vec();
        keys.push(k);
        if !is_label_name(k) || k.starts_with("__") {
            s.err(&keys, format!("`{}` is not a Prometheus label name", k.escape_debug()), "use letters, digits and underscores, not starting with a digit or `__`, e.g. `site`");
        } else if RESERVED_LABELS.contains(&k.as_str()) {
            s.err(&keys, format!("label `{k}` is set by hearth itself"), format!("choose another name; hearth sets {}", RESERVED_LABELS.join(", ")));
        }
        if v.is_empty() {
            s.err(&keys, "an empty label value is no label in Loki", "give it a value or remove it");
        }
    }
}

pub struct Logs;

impl Area for Logs {
    fn name(&self) -> &'static str {
        "logs"
    }

    fn validate(&self, inv: &Inventory, s: &mut Sink) {
        let Some(l) = &inv.logs else { return };
        match (&l.loki, &l.url) {
            (None, None) => s.err(&["logs"], "no Loki to ship to", "set loki = \"HOST\" (a host that runs Loki) or url = \"https://.../loki/api/v1/push\""),
            (Some(_), Some(_)) => s.err(&["logs", "url"], "both `loki` and `url` are set", "keep one: `loki` for a hearth host running Loki, `url` for an external Loki"),
            _ => {}
        }
        if let Some(h) = &l.loki {
            match inv.hosts.get(h) {
                None => s.err(
                    &["logs", "loki"],
                    format!("`{}` is not a host", h.escape_debug()),
                    format!("use one of [hosts]: {}", inv.hosts.keys().cloned().collect::<Vec<_>>().join(", ")),
                ),
                Some(host) if host.address.is_none() => {
                    s.err(&["logs", "loki"], format!("`{h}` has no LAN address, so the shipping hosts cannot reach its Loki"), "pick a LAN host, or give this one an `address`")
                }
                _ => {}
            }
            for k in ["username", "password_secret", "tenant"] {
                let set = match k {
                    "username" => l.username.is_some(),
                    "password_secret" => l.password_secret.is_some(),
                    _ => l.tenant.is_some(),
                };
                if set {
                    s.err(&["logs", k], format!("`{k}` is for an external Loki (`url`); hearth's own Loki is reached on the LAN without it"), format!("remove `{k}`"));
                }
            }
        }
        if let Some(u) = &l.url {
            if let Some(m) = url_problem(u) {
                s.err(&["logs", "url"], m, "e.g. url = \"https://logs.example.net/loki/api/v1/push\"");
            }
        }
        match (&l.username, &l.password_secret) {
            (Some(_), None) => s.err(
                &["logs", "username"],
                "a basic-auth user without `password_secret`",
                "add password_secret = \"loki-password\" and set it with `hearth secret set loki-password --host HOST`",
            ),
            (None, Some(_)) => s.err(&["logs", "password_secret"], "a basic-auth password without `username`", "add username = \"...\""),
            _ => {}
        }
        if let Some(u) = &l.username {
            if u.is_empty() || u.contains(':') || u.chars().any(char::is_control) {
                s.err(&["logs", "username"], format!("`{}` is not a basic-auth user name", u.escape_debug()), "use a non-empty name without `:` or control characters");
            }
        }
        if let Some(t) = &l.tenant {
            if !tenant_ok(t) {
                s.err(&["logs", "tenant"], format!("`{}` is not a Loki tenant ID", t.escape_debug()), "use 1 to 150 letters, digits or !-_.*'()");
            }
        }
        let shippers = l.shippers(inv);
        if let Some(ship) = &l.ship {
            let mut seen = BTreeSet::new();
            for (i, h) in ship.iter().enumerate() {
                let idx = i.to_string();
                if !seen.insert(h) {
                    s.err(&["logs", "ship", &idx], format!("`{}` is listed twice", h.escape_debug()), "remove one");
                }
                match inv.hosts.get(h) {
                    None => s.err(&["logs", "ship", &idx], format!("`{}` is not a host", h.escape_debug()), "list names from [hosts]"),
                    Some(host) if host.address.is_none() && l.loki.is_some() => s.err(
                        &["logs", "ship", &idx],
                        format!("`{h}` has no LAN address: its logs would cross the VPN, which the gateway's allowlist does not open for Loki"),
                        "ship from LAN hosts only, or use an external Loki (`url`)",
                    ),
                    _ => {}
                }
            }
        }
        if let Some(sec) = &l.password_secret {
            if let Some(m) = name_problem("secret", sec) {
                s.err(&["logs", "password_secret"], m, "use a DNS label like `loki-password`");
            } else {
                for h in &shippers {
                    if inv.hosts.get(*h).is_some_and(|x| !x.secrets.contains(sec)) {
                        s.err(
                            &["logs", "password_secret"],
                            format!("shipping host `{h}` does not list `{sec}` in its secrets"),
                            format!("add secrets = [\"{sec}\"] to [hosts.{h}] and run `hearth secret set {sec} --host {h}`"),
                        );
                    }
                }
            }
        }
        check_labels(s, &["logs", "labels"], &l.labels);
        for (h, hs) in &l.hosts {
            if !inv.hosts.contains_key(h) {
                s.err(&["logs", "hosts", h], format!("`{}` is not a host", h.escape_debug()), "use a name from [hosts]");
            } else if !shippers.contains(&h.as_str()) {
                s.err(&["logs", "hosts", h], format!("`{h}` does not ship logs, so its settings are unused"), "add it to logs.ship, or remove this table");
            }
            check_labels(s, &["logs", "hosts", h, "labels"], &hs.labels);
        }
        match duration_secs(&l.retention) {
            Err(m) => s.err(&["logs", "retention"], m, "e.g. retention = \"31d\""),
            Ok(n) if n == 0 || n % 86400 != 0 => s.err(
                &["logs", "retention"],
                format!("`{}` is not a whole number of days", l.retention.escape_debug()),
                "Loki's retention is a multiple of its 24h index period, e.g. \"744h\" or \"31d\"",
            ),
            _ => {}
        }
        if l.port == 0 || l.port == GRPC_PORT {
            s.err(&["logs", "port"], format!("port {} is not available for Loki's HTTP", l.port), format!("use e.g. 3100 (0 is no port, {GRPC_PORT} is Loki's gRPC port)"));
        }
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        let l = cx.inv.logs.as_ref()?;
        let name = cx.name;
        let shippers = l.shippers(cx.inv);
        let ships = shippers.contains(&name);
        let is_loki = l.loki.as_deref() == Some(name);
        if !ships && !is_loki {
            return None;
        }
        let url = match (&l.loki, &l.url) {
            (Some(h), _) => format!("http://{}:{}/loki/api/v1/push", cx.inv.hosts.get(h)?.address?, l.port),
            (None, Some(u)) => u.clone(),
            (None, None) => return None,
        };
        let labels = Value::Attrs(l.labels_of(name).into_iter().map(|(k, v)| (k, Value::Str(v))).collect());
        let loki = if is_loki {
            let allow: Vec<String> = shippers.iter().filter_map(|h| cx.inv.hosts.get(*h)?.address.map(|a| a.to_string())).collect();
            Attrs::new()
                .set("enable", true)
                .set("port", l.port)
                .set("grpcPort", GRPC_PORT)
                .set("retention", l.retention.clone())
                .set("dataDir", "/var/lib/loki")
                .set("allowFrom", Value::strs(allow))
                .into()
        } else {
            Value::Null
        };
        Some(
            Attrs::new()
                .set("enable", true)
                .set("host", name)
                .set("ship", ships)
                .set("agent", l.agent_of(name).as_str())
                .set(
                    "push",
                    Attrs::new()
                        .set("url", url)
                        .set("username", Value::opt_str(l.username.clone()))
                        .set("passwordSecret", Value::opt_str(l.password_secret.clone()))
                        .set("tenant", Value::opt_str(l.tenant.clone())),
                )
                .set("labels", labels)
                .set("journalMaxAge", JOURNAL_MAX_AGE)
                .set("loki", loki)
                .into(),
        )
    }

    fn previews(&self) -> &'static [Preview] {
        &[
            Preview {
                part: "alloy",
                needs: "to ship logs (logs.ship)",
                expr: "lib.logs.alloyConfig host.hearth.logs",
                when: "host.hearth.logs.ship && host.hearth.logs.agent == \"alloy\"",
            },
            Preview {
                part: "promtail",
                needs: "to ship logs (logs.ship)",
                expr: "lib.logs.promtailConfig host.hearth.logs",
                when: "host.hearth.logs.ship && host.hearth.logs.agent == \"promtail\"",
            },
            Preview { part: "loki", needs: "to be the Loki host (logs.loki)", expr: "lib.logs.lokiConfig host.hearth.logs", when: "host.hearth.logs.loki != null" },
        ]
    }

    fn lab(&self, cx: &LabCx) -> Option<Result<Vec<Check>, crate::lab::LabError>> {
        let l = cx.inv.logs.as_ref()?;
        // One shipping host's config stands for all (they differ only in
        // label values); the gateway's if it ships, as it has the drops.
        let alloy_hosts: Vec<&str> = l.shippers(cx.inv).into_iter().filter(|h| l.agent_of(h) == Agent::Alloy).collect();
        let gw = cx.inv.gateway().map(|(n, _)| n).filter(|g| alloy_hosts.contains(g));
        let host = gw.or(alloy_hosts.first().copied())?.to_string();
        Some(lab_stage(cx, &host))
    }
}

/// The lab stage: the rendered Alloy config, checked by `alloy fmt` and
/// `alloy validate` where Alloy is installed. No Debian package has it, so
/// on most machines this is one check marked skipped (not passed).
fn lab_stage(cx: &LabCx, host: &str) -> Result<Vec<Check>, LabError> {
    let alloy = crate::lab::which("alloy");
    let render = || -> Result<String, LabError> {
        let expr = "lib.logs.alloyConfig host.hearth.logs";
        match cx.eval(host, expr)? {
            serde_json::Value::String(s) => Ok(s),
            v => Err(LabError::Rendered { expr: expr.into(), value: v.to_string(), expected: "text" }),
        }
    };
    alloy_checks(alloy.as_deref(), host, render, &cx.lab.dir.join("logs"))
}

/// `alloy fmt FILE` and `alloy validate FILE` on the text `render` makes,
/// written under `dir` (removed afterwards); one skipped check without
/// `alloy`.
fn alloy_checks(alloy: Option<&std::path::Path>, host: &str, render: impl FnOnce() -> Result<String, LabError>, dir: &std::path::Path) -> Result<Vec<Check>, LabError> {
    let Some(alloy) = alloy else {
        return Ok(vec![Check::skipped("alloy fmt + alloy validate", host, "alloy not installed")]);
    };
    let text = render()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = dir.join("config.alloy");
    let res = (|| -> Result<Vec<Check>, LabError> {
        std::fs::write(&file, &text).with_context(|| format!("writing {}", file.display()))?;
        let mut checks = vec![];
        for sub in ["fmt", "validate"] {
            let mut c = std::process::Command::new(alloy);
            c.arg(sub).arg(&file);
            let out = c.output().map_err(|e| LabError::spawn(&c, e))?;
            let seen = if out.status.success() {
                "accepted".to_string()
            } else {
                let err = String::from_utf8_lossy(&out.stderr);
                format!("rejected: {}", err.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim())
            };
            checks.push(Check { name: format!("alloy {sub} (rendered config)"), from: host.to_string(), expected: "accepted".into(), ok: out.status.success(), seen });
        }
        Ok(checks)
    })();
    let _ = std::fs::remove_dir_all(dir);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn problems(extra: &str) -> Vec<String> {
        let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../inventory.toml")).unwrap();
        // Replace the example's [logs] with the case's.
        let cut = base.find("# --- logs ---").unwrap_or(base.len());
        // ... up to the next section's header, which stays.
        let end = base[cut + 1..].find("\n# --- ").map_or(base.len(), |i| cut + 1 + i + 1);
        let text = format!("{}# --- logs ---\n{extra}\n{}", &base[..cut], &base[end..]);
        let loaded = crate::inventory::Loaded::parse(Path::new("inventory.toml"), text).unwrap();
        match crate::validate::check(&loaded) {
            Ok(()) => vec![],
            Err(p) => p.to_string().lines().map(String::from).collect(),
        }
    }

    #[test]
    fn without_alloy_the_stage_is_one_skipped_check_not_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        let c = alloy_checks(None, "gw", || panic!("nothing is rendered without alloy"), &dir.path().join("logs")).unwrap();
        assert_eq!(c.len(), 1);
        assert!(!c[0].ok && c[0].is_skipped(), "{c:?}");
        assert_eq!(c[0].seen, "SKIPPED: alloy not installed");
    }

    #[test]
    fn an_alloy_that_rejects_the_config_fails_the_check() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A stand-in `alloy`: fmt accepts, validate rejects with a message.
        let fake = dir.path().join("alloy");
        std::fs::write(&fake, "#!/bin/sh\n[ \"$1\" = fmt ] && grep -q loki.write \"$2\" && exit 0\necho \"$2: component loki.write: bad\" >&2\nexit 1\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let work = dir.path().join("logs");
        let c = alloy_checks(Some(&fake), "gw", || Ok("loki.write \"hearth\" {}\n".into()), &work).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c[0].ok, "{c:?}");
        assert!(!c[1].ok && !c[1].is_skipped(), "{c:?}");
        assert!(c[1].seen.starts_with("rejected: ") && c[1].seen.contains("component loki.write: bad"), "{c:?}");
        assert!(!work.exists(), "the rendered file is removed");
    }

    fn host_nix(extra: &str, host: &str) -> String {
        let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../inventory.toml")).unwrap();
        let cut = base.find("# --- logs ---").unwrap();
        let inv = crate::inventory::Loaded::parse(Path::new("inventory.toml"), format!("{}{extra}", &base[..cut])).unwrap().inv;
        let specs = crate::topology::secrets(&inv);
        crate::render::host_nix(&inv, &specs, &crate::policy::allowlist(&inv), host)
    }

    #[test]
    fn who_ships_by_default() {
        // hearth's own Loki: LAN hosts only (the hub has no way in).
        let own = "[logs]\nloki = \"monitoring01\"\n";
        assert!(!host_nix(own, "vps").contains("hearth.logs"));
        assert!(host_nix(own, "jelly01").contains("url = \"http://10.69.13.11:3100/loki/api/v1/push\";"));
        // An external Loki: every host, the hub included.
        let ext = "[logs]\nurl = \"https://logs.example.net/loki/api/v1/push\"\ntenant = \"home\"\n";
        let vps = host_nix(ext, "vps");
        assert!(vps.contains("url = \"https://logs.example.net/loki/api/v1/push\";") && vps.contains("tenant = \"home\";"), "{vps}");
        // An explicit list decides.
        let list = "[logs]\nloki = \"monitoring01\"\nship = [\"jelly01\"]\n";
        assert!(!host_nix(list, "ns1").contains("hearth.logs"));
        let m = host_nix(list, "monitoring01");
        assert!(m.contains("ship = false;") && m.contains("allowFrom = [ \"10.69.13.12\" ];"), "{m}");
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(duration_secs("744h"), Ok(744 * 3600));
        assert_eq!(duration_secs("31d"), Ok(31 * 86400));
        assert_eq!(duration_secs("1w2d"), Ok(9 * 86400));
        assert_eq!(duration_secs("1h30m"), Ok(5400));
        assert!(duration_secs("").is_err());
        assert!(duration_secs("31").is_err());
        assert!(duration_secs("2d1w").is_err(), "units out of order");
        assert!(duration_secs("1d1d").is_err(), "unit twice");
        assert!(duration_secs("1 d").is_err());
        assert!(duration_secs("forever").is_err());
    }

    #[test]
    fn label_names_are_prometheus_names() {
        assert!(is_label_name("site"));
        assert!(is_label_name("_x9"));
        assert!(!is_label_name("9x"));
        assert!(!is_label_name("a-b"));
        assert!(!is_label_name(""));
        assert!(!is_label_name("é"));
    }

    #[test]
    fn example_logs_section_is_valid() {
        assert_eq!(problems("[logs]\nloki = \"monitoring01\"\nlabels = { site = \"home\" }\n"), Vec::<String>::new());
    }

    #[test]
    fn rejects_loki_host_that_is_not_a_host() {
        let p = problems("[logs]\nloki = \"monitoring02\"\n").join("\n");
        assert!(p.contains("logs.loki: `monitoring02` is not a host"), "{p}");
        assert!(p.contains("hint: use one of [hosts]"), "{p}");
        assert!(p.contains("inventory.toml:"), "located: {p}");
    }

    #[test]
    fn rejects_bad_label_names_with_location() {
        let p = problems("[logs]\nloki = \"monitoring01\"\nlabels = { \"a-b\" = \"x\", host = \"y\", \"__x\" = \"z\" }\n").join("\n");
        assert!(p.contains("logs.labels.a-b: `a-b` is not a Prometheus label name"), "{p}");
        assert!(p.contains("logs.labels.__x: `__x` is not a Prometheus label name"), "{p}");
        assert!(p.contains("logs.labels.host: label `host` is set by hearth itself"), "{p}");
    }

    #[test]
    fn rejects_retention_that_is_not_a_duration() {
        let p = problems("[logs]\nloki = \"monitoring01\"\nretention = \"a month\"\n").join("\n");
        assert!(p.contains("logs.retention: `a month` is not a duration"), "{p}");
        let p = problems("[logs]\nloki = \"monitoring01\"\nretention = \"36h\"\n").join("\n");
        assert!(p.contains("is not a whole number of days"), "{p}");
    }

    #[test]
    fn external_loki_needs_the_password_on_every_shipper() {
        let p = problems("[logs]\nurl = \"https://logs.example.net/loki/api/v1/push\"\nusername = \"u\"\npassword_secret = \"loki-password\"\nship = [\"jelly01\"]\n").join("\n");
        assert!(p.contains("shipping host `jelly01` does not list `loki-password`"), "{p}");
        assert!(p.contains("hearth secret set loki-password --host jelly01"), "{p}");
    }

    #[test]
    fn rejects_neither_or_both_targets_and_auth_for_own_loki() {
        assert!(problems("[logs]\n").join("\n").contains("no Loki to ship to"));
        let p = problems("[logs]\nloki = \"monitoring01\"\nurl = \"https://x/loki/api/v1/push\"\ntenant = \"t\"\n").join("\n");
        assert!(p.contains("both `loki` and `url` are set"), "{p}");
        assert!(p.contains("`tenant` is for an external Loki"), "{p}");
    }

    #[test]
    fn rejects_shippers_that_are_not_lan_hosts() {
        let p = problems("[logs]\nloki = \"monitoring01\"\nship = [\"vps\", \"nope\", \"jelly01\", \"jelly01\"]\n").join("\n");
        assert!(p.contains("`vps` has no LAN address"), "{p}");
        assert!(p.contains("`nope` is not a host"), "{p}");
        assert!(p.contains("`jelly01` is listed twice"), "{p}");
    }
}
