//! The bastion area: SSH with a second factor (`hearth.bastion`,
//! `modules/lib/bastion.nix`, `modules/bastion.nix`). TOTP seeds and the
//! user CA are in [`crate::bastion`].

use super::{Area, HostCx, Preview};
use crate::inventory::{Inventory, Role};
use crate::nix::{Attrs, Value};
use crate::topology::{self, SecretKind, SecretSpec};
use crate::validate::Sink;

pub struct Bastion;

impl Area for Bastion {
    fn name(&self) -> &'static str {
        "bastion"
    }

    fn roles(&self) -> &'static [(&'static str, &'static str)] {
        &[("bastion", "SSH bastion with a second factor.")]
    }

    fn validate(&self, inv: &Inventory, s: &mut Sink) {
        for (n, u) in &inv.users {
            if let Some(m) = crate::rules::rule("userName").problem(n) {
                s.err(&["users", n], format!("user name {m}"), "use a Unix user name such as `alice`");
            }
            if u.deploy && !u.totp {
                s.err(
                    &["users", n, "deploy"],
                    "a deploy user gets root through sudo, so it needs the second factor too",
                    format!("set totp = true for `{n}` (`hearth user add {n} --totp --deploy` for a new user)"),
                );
            }
        }
        if inv.bastion.port == 0 {
            s.err(&["bastion", "port"], "port 0 is not a port", "use 22, or the port sshd listens on");
        }
        for (i, src) in inv.bastion.allowed_sources.iter().flatten().enumerate() {
            if *src != src.trunc() {
                s.err(&["bastion", "allowed_sources", &i.to_string()], format!("{src} has host bits set"), format!("write the network address: \"{}\"", src.trunc()));
            }
        }
        for (n, u) in &inv.users {
            if u.ssh_keys.is_empty() && !inv.bastion.ca {
                s.err(
                    &["users", n],
                    "a user needs at least one SSH key (or bastion.ca = true and a certificate)",
                    format!("hearth user add {n} --ssh-key \"ssh-ed25519 AAAA...\""),
                );
            }
        }
        if let Some(k) = &inv.bastion.ca_public_key {
            // Parsed on load (`types::SshPublicKey`); hearth's CA is ed25519.
            if k.key().algorithm() != ssh_key::Algorithm::Ed25519 {
                s.err(
                    &["bastion", "ca_public_key"],
                    format!("is a {} key; hearth's user CA is ssh-ed25519", k.key().algorithm()),
                    "remove it and run `hearth render` to generate a new CA",
                );
            }
        }
        if let Some(srcs) = &inv.bastion.allowed_sources {
            if srcs.is_empty() {
                s.err(&["bastion", "allowed_sources"], "an empty list locks everyone out", "remove the key to allow the VPN pool and the LAN");
            }
        }
    }

    fn secrets(&self, inv: &Inventory, out: &mut Vec<SecretSpec>) {
        out.extend(topology::bastion_secrets(inv));
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        let (inv, name) = (cx.inv, cx.name);
        if !cx.host().has(Role::BASTION) {
            return None;
        }
        let users = inv
            .users
            .iter()
            .map(|(u, user)| {
                let totp = cx.specs.iter().find(|s| matches!(&s.kind, SecretKind::Totp { user: x } if x == u));
                Value::from(
                    Attrs::new()
                        .set("name", u.clone())
                        .set("sshKeys", Value::strs(user.ssh_keys.iter().map(|k| k.to_string()).collect::<Vec<String>>()))
                        .set("totp", user.totp)
                        .set("deploy", user.deploy)
                        .set("totpSecret", Value::opt_str(totp.map(|t| t.age_name(name)))),
                )
            })
            .collect();
        let ca = match (&inv.bastion.ca, &inv.bastion.ca_public_key) {
            (true, Some(k)) => Attrs::new().set("publicKey", k.to_string()).into(),
            _ => Value::Null,
        };
        let sources: Vec<String> = inv.bastion_sources().iter().map(|n| n.to_string()).collect();
        Some(
            Attrs::new()
                .set("enable", true)
                .set("port", inv.bastion.port)
                .set("allowedSources", Value::strs(sources))
                .set("users", Value::List(users))
                .set("userCA", ca)
                .set("totp", Attrs::new().set("window", 3u16).set("rateLimit", Attrs::new().set("attempts", 3u16).set("seconds", 30u16)).set("stateDir", "/var/lib/hearth/totp"))
                .set("maxAuthTries", 3u16)
                .set("loginGraceTime", 30u16)
                .into(),
        )
    }

    fn previews(&self) -> &'static [Preview] {
        &[
            Preview { part: "sshd", needs: "the bastion role", expr: "lib.bastion.configText host.hearth.bastion", when: "true" },
            Preview {
                part: "pam",
                needs: "the bastion role",
                expr: "lib.bastion.sshdStack { cfg = host.hearth.bastion; modules = { googleAuthenticator = \"pam_google_authenticator.so\"; unix = \"pam_unix.so\"; deny = \"pam_deny.so\"; succeedIf = \"pam_succeed_if.so\"; limits = \"pam_limits.so\"; }; }", when: "true" },
            Preview { part: "totp-header", needs: "the bastion role", expr: "lib.bastion.totpHeader host.hearth.bastion", when: "true" },
        ]
    }
}
