//! The notify area: one hook every area's failures go through
//! (`hearth.notify`, `modules/lib/notify.nix`, `modules/notify.nix`).
//!
//! `[notify]` names one destination: a command, an ntfy topic URL or an
//! email address. Every host gets `hearth.notify` when it is set; the NixOS
//! module installs `hearth-notify TITLE` (message body on stdin) and the
//! template unit `hearth-notify@.service`, so any unit can say
//! `onFailure = [ "hearth-notify@%n.service" ]`. ZED (storage) and failed
//! backup runs (backup) use the same program.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Area, HostCx, Preview};
use crate::inventory::Inventory;
use crate::nix::{Attrs, Value};
use crate::validate::Sink;

/// Where failures are reported: set exactly one of `command`, `ntfy`, `email`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// A shell command run as root with the title as `$1` and the message on stdin,
    /// e.g. `logger -t hearth-alert` or `/usr/local/bin/page-me`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// An ntfy topic URL, e.g. `https://ntfy.sh/my-homelab-alerts` (the title goes in the `Title:` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntfy: Option<String>,
    /// An email address; the host needs a working `sendmail` (e.g. `programs.msmtp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The destination kind and its value, when one is configured.
pub fn target(inv: &Inventory) -> Option<(&'static str, &str)> {
    let n = &inv.notify;
    n.command.as_deref().map(|c| ("command", c)).or_else(|| n.ntfy.as_deref().map(|u| ("ntfy", u))).or_else(|| n.email.as_deref().map(|e| ("email", e)))
}

/// The template unit a failing unit starts: `onFailure = [ UNIT ]`.
pub const ON_FAILURE: &str = "hearth-notify@%n.service";

pub struct Notify;

impl Area for Notify {
    fn name(&self) -> &'static str {
        "notify"
    }

    fn validate(&self, inv: &Inventory, out: &mut Sink) {
        let n = &inv.notify;
        let set: Vec<&str> = [("command", &n.command), ("ntfy", &n.ntfy), ("email", &n.email)].iter().filter(|(_, v)| v.is_some()).map(|(k, _)| *k).collect();
        if set.len() > 1 {
            out.err(
                &["notify", set[1]],
                format!("[notify] names {} destinations ({}); hearth sends to one", set.len(), set.join(", ")),
                "keep one of `command`, `ntfy`, `email` (a command can fan out to several)",
            );
        }
        let single_line = |s: &str| !s.trim().is_empty() && !s.contains(['\n', '\r', '\0']);
        if let Some(c) = &n.command {
            if !single_line(c) {
                out.err(&["notify", "command"], "the notify command is empty or spans several lines", "write one shell command line, e.g. `logger -t hearth-alert`");
            }
        }
        if let Some(u) = &n.ntfy {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() > 8
                && !u.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\' || c == '$' || c == '`');
            if !ok {
                out.err(&["notify", "ntfy"], format!("`{}` is not an ntfy topic URL", u.escape_debug()), "write the topic's URL, e.g. `https://ntfy.sh/my-homelab-alerts`");
            }
        }
        if let Some(e) = &n.email {
            let ok = e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
                && !e.starts_with('-')
                && e.chars().all(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(c));
            if !ok {
                out.err(&["notify", "email"], format!("`{}` is not an email address", e.escape_debug()), "write one address, e.g. `admin@example.net`");
            }
        }
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        let (kind, target) = target(cx.inv)?;
        Some(Attrs::new().set("enable", true).set("kind", kind).set("target", target).into())
    }

    fn previews(&self) -> &'static [Preview] {
        &[Preview {
            part: "notify",
            needs: "a [notify] section in the inventory",
            expr: "lib.notify.script { cfg = host.hearth.notify; tools = { curl = \"curl\"; sendmail = \"sendmail\"; }; }",
            when: "true",
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Loaded;
    use std::path::Path;

    const BASE: &str = "[network]\ndomain = \"home.example.net\"\nlan = \"10.0.0.0/24\"\nvpn = \"10.1.0.0/24\"\n[hosts.nas01]\naddress = \"10.0.0.5\"\n";

    fn problems(extra: &str) -> Vec<String> {
        let l = Loaded::parse(Path::new("inventory.toml"), format!("{BASE}{extra}")).unwrap();
        match crate::validate::check(&l) {
            Ok(()) => vec![],
            Err(p) => p.to_string().lines().map(String::from).collect(),
        }
    }

    #[test]
    fn one_destination_is_accepted_and_rendered() {
        assert!(problems("[notify]\nntfy = \"https://ntfy.sh/hl\"\n").is_empty());
        let l = Loaded::parse(Path::new("i.toml"), format!("{BASE}[notify]\nemail = \"a@b.net\"\n")).unwrap();
        assert_eq!(target(&l.inv), Some(("email", "a@b.net")));
    }

    #[test]
    fn two_destinations_or_bad_values_are_located_errors() {
        let p = problems("[notify]\nntfy = \"https://ntfy.sh/hl\"\nemail = \"a@b.net\"\n");
        assert!(p.iter().any(|l| l.contains(":9:1: notify.email: [notify] names 2 destinations")), "{p:?}");
        let p = problems("[notify]\nntfy = \"ftp://x y\"\n");
        assert!(p.iter().any(|l| l.contains("notify.ntfy: `ftp://x y` is not an ntfy topic URL")), "{p:?}");
        let p = problems("[notify]\nemail = \"-oProxy@x\"\n");
        assert!(p.iter().any(|l| l.contains("is not an email address")), "{p:?}");
    }
}
