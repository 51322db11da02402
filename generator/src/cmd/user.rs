//! `hearth user ...` and `hearth ssh-config`: bastion users, their TOTP
//! seeds and SSH certificates.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use hearth::edit::str_array;
use hearth::render::recipients;
use hearth::secrets::SecretStore;
use hearth::topology::{self, SecretKind};
use serde::Serialize;

use super::core::{edit, load_valid, EditOpts};
use super::inventory_cmds::list_output;
use super::Global;

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a bastion user. With --totp, creates the TOTP seed and prints its
    /// otpauth:// URI, plus a QR code when stdout is a terminal (piped, only
    /// the URI: `| qrencode -t ansiutf8` draws one).
    ///
    /// Examples:
    ///   hearth user add torjus --ssh-key "$(cat ~/.ssh/id_ed25519.pub)" --totp
    ///   hearth user add ops --ssh-key "$(cat ~/.ssh/id_ed25519.pub)" --totp --deploy
    ///   hearth user add torjus --show-totp        # print the URI again (needs the admin identity)
    #[command(verbatim_doc_comment)]
    Add {
        name: String,
        /// SSH public key; repeatable.
        #[arg(long = "ssh-key", value_name = "KEY", value_parser = hearth::types::arg::<hearth::types::SshPublicKey>())]
        ssh_keys: Vec<hearth::types::SshPublicKey>,
        /// Require a TOTP code after the key.
        #[arg(long)]
        totp: bool,
        /// Let the user deploy to the bastion host (wheel, sudo, trusted Nix
        /// user; needs --totp): `nixos-rebuild switch --target-host USER@HOST --sudo`.
        #[arg(long, requires = "totp")]
        deploy: bool,
        /// Print the existing user's otpauth:// URI (and QR code on a terminal) again.
        #[arg(long)]
        show_totp: bool,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove a bastion user and their TOTP seed.
    Remove {
        name: String,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// List bastion users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Sign a user's SSH key with the bastion's user CA (bastion.ca = true).
    ///
    /// Example:
    ///   hearth user sign torjus --validity 8h --key ~/.ssh/id_ed25519.pub > ~/.ssh/id_ed25519-cert.pub
    #[command(verbatim_doc_comment)]
    Sign {
        name: String,
        /// How long the certificate is valid: 30m, 8h, 7d.
        #[arg(long, default_value = "8h")]
        validity: String,
        /// The public key file to sign (default: the user's first key in the inventory).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
}

fn show_totp(global: &Global, user: &str, seed: &[u8], again: bool) -> anyhow::Result<()> {
    let inv = load_valid(global)?.inv;
    let bastion = inv.bastion().map(|(b, _)| b).unwrap_or("bastion");
    let uri = hearth::bastion::otpauth_uri(user, bastion, std::str::from_utf8(seed)?);
    println!("{uri}");
    if std::io::stdout().is_terminal() {
        print!("{}", hearth::qr::terminal(&uri)?);
    } else {
        eprintln!("stdout is not a terminal, so no QR code (pipe the URI into `qrencode -t ansiutf8` for one)");
    }
    if !again {
        eprintln!("add it to your authenticator app now; `hearth user add {user} --show-totp` prints it again (needs the admin identity)");
    }
    Ok(())
}

pub fn user(cmd: UserCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        UserCommand::Add { name, show_totp: true, .. } => {
            let inv = load_valid(global)?.inv;
            let Some(spec) = topology::secrets(&inv).into_iter().find(|s| matches!(&s.kind, SecretKind::Totp { user } if *user == name)) else {
                bail!("user `{name}` has no TOTP seed (add the user with --totp)");
            };
            let st = SecretStore::open(global.root().join("secrets"))?;
            let ids = hearth::secrets::load_identities(global.identity.as_deref())?;
            let seed = st.decrypt(&spec.rel, &ids)?;
            show_totp(global, &name, seed.expose(), true)?;
            Ok(0)
        }
        UserCommand::Add { name, ssh_keys, totp, deploy, opts, .. } => {
            let before = load_valid(global)?.inv;
            // Checked before the seed is written: a rejected name leaves
            // nothing behind (issue 19: `user add 'x/y' --totp` left a
            // directory).
            if let Some(m) = hearth::validate::name_problem("user", &name) {
                bail!("{m}");
            }
            if before.users.contains_key(&name) {
                bail!("user `{name}` already exists");
            }
            let Some((bastion, _)) = before.bastion() else {
                let hint = match before.gateway() {
                    Some((g, h)) => format!("`hearth host set {g} {} --role bastion`", h.roles.iter().map(|r| format!("--role {}", r.as_str())).collect::<Vec<_>>().join(" ")),
                    None => "`hearth host set HOST --role bastion` for an existing host, or `hearth host add HOST --role bastion --address IP --ssh-key KEY`".into(),
                };
                bail!("no host has role `bastion`; give one the role first: {hint}");
            };
            // Create the seed here (not in render) so it can be shown once
            // without decrypting it again.
            let seed = totp.then(hearth::bastion::generate_totp_seed);
            let rel = format!("{bastion}/totp-{name}.age");
            let mut st = SecretStore::open(global.root().join("secrets"))?;
            if let Some(seed) = &seed {
                let spec = topology::SecretSpec { rel: rel.clone(), kind: SecretKind::Totp { user: name.clone() }, hosts: vec![bastion.to_owned()] };
                st.write(&rel, seed, &recipients(&before, &spec))?;
            }
            let res = edit(global, &opts, |ed| {
                let t = ed.entry_table("users", &name);
                t["ssh_keys"] = str_array(ssh_keys.iter().map(|k| k.as_str()));
                t["totp"] = toml_edit::value(totp);
                if deploy {
                    t["deploy"] = toml_edit::value(true);
                }
                Ok(vec![format!("added bastion user `{name}`{}", if totp { " with TOTP" } else { "" })])
            });
            match res {
                Ok(code) => {
                    if let Some(seed) = &seed {
                        show_totp(global, &name, seed.expose(), false)?;
                    }
                    Ok(code)
                }
                Err(e) => {
                    if seed.is_some() {
                        let _ = st.remove(&rel);
                    }
                    Err(e)
                }
            }
        }
        UserCommand::Remove { name, opts } => {
            let inv = load_valid(global)?.inv;
            let code = edit(global, &opts, |ed| {
                if !ed.remove_entry("users", &name) {
                    bail!("no user `{name}`");
                }
                Ok(vec![format!("removed bastion user `{name}`")])
            })?;
            if let Some((b, _)) = inv.bastion() {
                let mut st = SecretStore::open(global.root().join("secrets"))?;
                if st.remove(&format!("{b}/totp-{name}.age"))? {
                    println!("removed secrets/{b}/totp-{name}.age");
                }
            }
            Ok(code)
        }
        UserCommand::List { json } => {
            let inv = load_valid(global)?.inv;
            #[derive(Serialize)]
            struct Row<'a> {
                name: &'a str,
                keys: usize,
                totp: bool,
            }
            let rows: Vec<Row> = inv.users.iter().map(|(n, u)| Row { name: n, keys: u.ssh_keys.len(), totp: u.totp }).collect();
            list_output(json, &rows, &["USER", "SSH KEYS", "TOTP"], |r| vec![r.name.into(), r.keys.to_string(), if r.totp { "yes" } else { "no" }.into()])
        }
        UserCommand::Sign { name, validity, key } => {
            let inv = load_valid(global)?.inv;
            let Some(u) = inv.users.get(&name) else { bail!("no user `{name}`") };
            if !inv.bastion.ca {
                bail!("the bastion trusts no user CA; set `ca = true` under [bastion] and run `hearth render`");
            }
            let pubkey = match &key {
                Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", hearth::fsutil::shown(p)))?,
                None => u.ssh_keys.first().map(|k| k.to_string()).with_context(|| format!("user `{name}` has no key in the inventory; pass --key FILE"))?,
            };
            let secs = hearth::bastion::parse_validity(&validity)?;
            let st = SecretStore::open(global.root().join("secrets"))?;
            let ids = hearth::secrets::load_identities(global.identity.as_deref())?;
            let ca = st.decrypt("admin/ssh-user-ca.age", &ids)?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            println!("{}", hearth::bastion::sign_user(&ca, &pubkey, &name, secs, now)?);
            eprintln!("certificate for `{name}` valid for {validity}; save it next to the key as <key>-cert.pub");
            Ok(0)
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct SshConfigArgs {
    /// The bastion user to log in as.
    #[arg(long)]
    pub user: Option<String>,
}

pub fn ssh_config(args: SshConfigArgs, global: &Global) -> anyhow::Result<i32> {
    let inv = load_valid(global)?.inv;
    if let Some(u) = &args.user {
        // The value lands in ~/.ssh/config: a newline would add directives
        // (issue 19: `--user $'x\n  ProxyCommand ...'`).
        if let Some(m) = hearth::validate::name_problem("user", u) {
            bail!("--user: {m}");
        }
        if !inv.users.contains_key(u) {
            bail!("--user: no bastion user `{u}`; known users: {} (add one with `hearth user add`)", inv.users.keys().cloned().collect::<Vec<_>>().join(", "));
        }
    }
    match hearth::bastion::ssh_config(&inv, args.user.as_deref()) {
        Some(s) => {
            print!("{s}");
            Ok(0)
        }
        None => bail!("no host has role `bastion` with a LAN address"),
    }
}
