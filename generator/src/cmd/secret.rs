//! `hearth secret ...`, `hearth secrets rekey`, `hearth peer rotate|config`:
//! everything that decrypts or replaces a secret.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use hearth::edit::{array_add, Editor};
use hearth::render::recipients;
use hearth::secrets::{self, SecretBytes, SecretStore, Status};
use hearth::topology::{self, SecretKind, SecretSpec};
use serde::Serialize;

use super::core::load_valid;
use super::inventory_cmds::table;
use super::Global;

#[derive(Debug, clap::Subcommand)]
pub enum SecretCommand {
    /// Store a value (read from stdin, never argv) as secret NAME of HOST;
    /// the host reads it at `config.age.secrets.NAME.path`.
    ///
    /// Example:
    ///   printf %s "$RESTIC_PASSWORD" | hearth secret set restic-password --host nas
    #[command(verbatim_doc_comment)]
    Set {
        name: String,
        #[arg(long)]
        host: String,
    },
    /// Decrypt a secret to stdout with the admin identity.
    ///
    /// Examples:
    ///   hearth secret show wireguard-key --host extgw01
    ///   hearth secret show wireguard-key --peer phone
    #[command(verbatim_doc_comment)]
    Show {
        name: String,
        #[arg(long, conflicts_with = "peer", required_unless_present = "peer")]
        host: Option<String>,
        #[arg(long)]
        peer: Option<String>,
    },
    /// List every secret, its recipients, and whether it is current.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Replace a secret's value: a new WireGuard key, preshared key, TOTP
    /// seed or SSH CA for secrets hearth generates; a value from stdin for
    /// secrets set with `secret set`. Old ciphertexts in git history keep the
    /// old value, so rotating is how a leaked or revoked secret is retired.
    ///
    /// Examples:
    ///   hearth secret rotate wireguard-key --host extgw01
    ///   hearth secret rotate wireguard-key --peer phone
    ///   printf %s "$NEW" | hearth secret rotate restic-password --host nas
    #[command(verbatim_doc_comment)]
    Rotate {
        name: String,
        #[arg(long, conflicts_with = "peer", required_unless_present = "peer")]
        host: Option<String>,
        #[arg(long)]
        peer: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every secret whose recipients changed (all cores, each file
    /// atomically). A failure leaves each file either old or new, says which,
    /// and exits 1.
    ///
    /// Examples:
    ///   hearth secrets rekey
    ///   hearth secrets rekey --host extgw01
    #[command(verbatim_doc_comment)]
    Rekey {
        /// Only this host's secrets; repeatable.
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
}

fn rel_of(host: Option<&str>, peer: Option<&str>, name: &str) -> String {
    match (host, peer) {
        (_, Some(p)) => format!("peers/{p}/{name}.age"),
        (Some(h), None) => format!("{h}/{name}.age"),
        (None, None) => unreachable!("clap requires --host or --peer"),
    }
}

fn identities(global: &Global) -> anyhow::Result<secrets::Identities> {
    Ok(secrets::load_identities(global.identity.as_deref())?)
}

fn store(global: &Global) -> anyhow::Result<SecretStore> {
    Ok(SecretStore::open(global.root().join("secrets"))?)
}

pub fn secret(cmd: SecretCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        SecretCommand::Set { name, host } => {
            let mut ed = Editor::open(&global.inventory)?;
            let Some(h) = ed.before.inv.hosts.get(&host) else {
                bail!("unknown host `{host}`");
            };
            // The host decrypts its secrets with its SSH host key: without
            // one it could never read this value.
            if h.ssh_key.is_none() {
                bail!("host `{host}` has no `ssh_key`, so it could never decrypt `{name}`; nothing was stored\nhint: hearth host set {host} --ssh-key \"$(ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-)\", then run this again");
            }
            if std::io::stdin().is_terminal() {
                eprintln!("enter the value of `{name}` for `{host}`, then Ctrl-D:");
            }
            let value = SecretBytes::read_from(std::io::stdin().lock()).context("reading the secret from stdin")?;
            if value.is_empty() {
                bail!("empty input: nothing stored (pipe the value into `hearth secret set`)");
            }
            array_add(ed.entry_table("hosts", &host), "secrets", &name);
            let after = ed.preview()?;
            let spec = topology::secrets(&after.inv).into_iter().find(|s| s.rel == format!("{host}/{name}.age")).expect("just added");
            let mut st = store(global)?;
            st.write(&spec.rel, &value, &recipients(&after.inv, &spec))?;
            ed.commit()?;
            super::core::refresh_rules(global)?;
            println!("stored secrets/{} for `{host}` (age.secrets.{name}); run `hearth render`", spec.rel);
            Ok(0)
        }
        SecretCommand::Show { name, host, peer } => {
            load_valid(global)?;
            let rel = rel_of(host.as_deref(), peer.as_deref(), &name);
            let st = store(global)?;
            let ids = identities(global)?;
            let value = st.decrypt(&rel, &ids)?;
            let mut out = std::io::stdout().lock();
            out.write_all(value.expose())?;
            if std::io::stdout().is_terminal() && !value.expose().ends_with(b"\n") {
                out.write_all(b"\n")?;
            }
            Ok(0)
        }
        SecretCommand::List { json } => {
            let inv = load_valid(global)?.inv;
            let st = store(global)?;
            #[derive(Serialize)]
            struct Row {
                file: String,
                kind: SecretKind,
                status: String,
                recipients: Vec<String>,
            }
            let specs = topology::secrets(&inv);
            let mut rows = Vec::new();
            for s in &specs {
                let r = recipients(&inv, s);
                rows.push(Row {
                    file: format!("secrets/{}", s.rel),
                    kind: s.kind.clone(),
                    status: st.status(&s.rel, &r)?.to_string(),
                    recipients: r.iter().map(|r| r.to_string()).collect(),
                });
            }
            // With an identity at hand, the generated values themselves: key
            // format, and each private key against the inventory's public key.
            let mut bad = Vec::new();
            let ids = identities(global).ok();
            let v = hearth::render::verify_values(&inv, &st, ids.as_ref());
            for b in v.bad {
                if let Some(r) = rows.iter_mut().find(|r| r.file == b.file) {
                    r.status = format!("bad value: {}", b.problem);
                }
                bad.push(b.to_string());
            }
            if let Some(first) = v.unverified.first() {
                eprintln!("note: {} generated value(s) not verified (no identity that can decrypt them); first: {first}", v.unverified.len());
            }
            let known: std::collections::BTreeSet<&str> = specs.iter().map(|s| s.rel.as_str()).collect();
            // Files with a rule of the user's own in secrets.nix (made with
            // `agenix -e`) are theirs, not left over.
            let own: std::collections::BTreeSet<String> = std::fs::read_to_string(global.root().join("secrets/secrets.nix"))
                .ok()
                .and_then(|t| secrets::read_rules(&t).ok())
                .map(|rs| rs.into_iter().map(|r| r.rel).collect())
                .unwrap_or_default();
            let (yours, orphans): (Vec<String>, Vec<String>) = st.scan()?.into_iter().filter(|r| !known.contains(r.as_str())).partition(|r| own.contains(r));
            let stale = rows.iter().filter(|r| r.status != "current").count();
            if json {
                #[derive(Serialize)]
                struct Out {
                    secrets: Vec<Row>,
                    orphans: Vec<String>,
                    /// Files with a rule of the user's own in secrets.nix.
                    own_rules: Vec<String>,
                }
                println!("{}", serde_json::to_string_pretty(&Out { secrets: rows, orphans, own_rules: yours })?);
            } else {
                table(
                    &["FILE", "STATUS", "RECIPIENTS"],
                    rows.iter().map(|r| vec![r.file.clone(), r.status.clone(), r.recipients.iter().map(|x| short(x)).collect::<Vec<_>>().join(" ")]).collect(),
                );
                for o in &yours {
                    println!("secrets/{o}: yours (a rule of your own in secrets/secrets.nix; agenix manages it)");
                }
                for o in &orphans {
                    println!("secrets/{o}: not named by the inventory (left over; delete it if unused)");
                }
                for b in &bad {
                    eprintln!("{b}");
                }
            }
            Ok(if stale == 0 { 0 } else { 1 })
        }
        SecretCommand::Rotate { name, host, peer } => rotate(global, &rel_of(host.as_deref(), peer.as_deref(), &name)),
    }
}

fn short(r: &str) -> String {
    let s: String = r.chars().take(20).collect();
    if r.len() > 20 {
        format!("{s}…")
    } else {
        s
    }
}

/// Replaces one secret with a fresh value (and the inventory's public half).
pub fn rotate(global: &Global, rel: &str) -> anyhow::Result<i32> {
    let mut ed = Editor::open(&global.inventory)?;
    let inv = ed.before.inv.clone();
    let Some(spec) = topology::secrets(&inv).into_iter().find(|s| s.rel == rel) else {
        bail!("the inventory names no secret secrets/{rel}; see `hearth secret list`");
    };
    let rcpt = recipients(&inv, &spec);
    let mut st = store(global)?;
    let said = match spec.kind.fresh(&inv)? {
        Some(fresh) => {
            st.write(rel, &fresh.value, &rcpt)?;
            let mut said = format!("new value for {}", spec.kind.what());
            if let Some(h) = fresh.public {
                h.apply(&mut ed);
                if h.key == "public_key" {
                    said += &format!(": {}", h.value);
                }
            }
            said
        }
        None => {
            let value = SecretBytes::read_from(std::io::stdin().lock())?;
            if value.is_empty() {
                bail!("pipe the new value of {} into this command", spec.kind.what());
            }
            st.write(rel, &value, &rcpt)?;
            format!("stored a new value for {}", spec.kind.what())
        }
    };
    let said = format!("{said}; {}", spec.kind.after_new());
    ed.commit()?;
    println!("{said}");
    Ok(0)
}

pub fn secrets_cmd(cmd: SecretsCommand, global: &Global) -> anyhow::Result<i32> {
    let SecretsCommand::Rekey { hosts } = cmd;
    let inv = load_valid(global)?.inv;
    for h in &hosts {
        if !inv.hosts.contains_key(h) {
            bail!("unknown host `{h}`");
        }
    }
    let specs: Vec<SecretSpec> = topology::secrets(&inv).into_iter().filter(|s| hosts.is_empty() || s.hosts.iter().any(|h| hosts.contains(h))).collect();
    // A writer: under the inventory lock, temps a killed run left go first,
    // and agenix's rules follow the inventory.
    let _lock = hearth::fsutil::InventoryLock::acquire(&global.inventory)?;
    for p in hearth::fsutil::remove_stale_temps(&global.root()) {
        println!("removed {} (a temp file a killed hearth left)", hearth::fsutil::shown(&p));
    }
    if hearth::render::write_rules(&global.root(), &inv)? {
        println!("wrote secrets/secrets.nix");
    }
    let mut st = store(global)?;
    let mut items = Vec::new();
    let mut damaged = 0;
    for s in &specs {
        let r = recipients(&inv, s);
        match st.status(&s.rel, &r)? {
            Status::Stale { .. } => items.push((s.rel.clone(), r)),
            Status::Damaged { reason } => {
                damaged += 1;
                eprintln!(
                    "secrets/{}: damaged: {reason}; no rekey can read it: restore it from git, or replace it with `hearth secret rotate` (see `hearth render --check`)",
                    s.rel
                );
            }
            _ => {}
        }
    }
    if items.is_empty() {
        if damaged > 0 {
            return Ok(1);
        }
        println!("every secret is encrypted to its current recipients; nothing to do");
        return Ok(0);
    }
    let ids = identities(global)?;
    let report = st.rekey(&items, &ids, std::io::stderr().is_terminal());
    for r in &report.rekeyed {
        println!("rekeyed secrets/{r}");
    }
    for (r, e) in &report.failed {
        eprintln!("FAILED secrets/{r}: {e} (the file is unchanged)");
    }
    println!("{} rekeyed, {} failed", report.rekeyed.len(), report.failed.len() + damaged);
    Ok(if report.failed.is_empty() && damaged == 0 { 0 } else { 1 })
}

/// `hearth peer config NAME [--qr] [--output FILE]`.
#[derive(Debug, clap::Args)]
pub struct PeerConfigArgs {
    pub name: String,
    /// Draw a QR code in the terminal for the phone's WireGuard app.
    #[arg(long)]
    pub qr: bool,
    /// Write to FILE: `.png` or `.svg` writes a QR code image, anything else the config text.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn peer_config(args: PeerConfigArgs, global: &Global) -> anyhow::Result<i32> {
    let inv = load_valid(global)?.inv;
    if !inv.peers.contains_key(&args.name) {
        bail!("no peer `{}`; known peers: {}", args.name, inv.peers.keys().cloned().collect::<Vec<_>>().join(", "));
    }
    let st = store(global)?;
    let ids = identities(global)?;
    let key = st.decrypt(&format!("peers/{}/wireguard-key.age", args.name), &ids)?;
    let key = std::str::from_utf8(key.expose()).context("the private key is not text")?.trim().to_owned();
    let key = zeroize::Zeroizing::new(key);
    // A config that cannot connect is worse than none: the key must be the
    // one whose public half the peers know.
    let want = inv.peers[&args.name].public_key.as_ref().map(|k| k.to_string()).unwrap_or_default();
    match hearth::keys::public_from_private(&key) {
        Ok(p) if p == want => {}
        Ok(p) => bail!("secrets/peers/{}/wireguard-key.age holds the private key of {p}, but the inventory (and every peer) knows {want}: run `hearth render` to take the new public key (then redeploy), or `hearth peer rotate {}` for a new pair", args.name, args.name),
        Err(e) => bail!("secrets/peers/{}/wireguard-key.age is not a WireGuard private key ({e}); run `hearth peer rotate {}`", args.name, args.name),
    }
    let psk = match topology::listener(&inv) {
        Some(l) if inv.wireguard.preshared_keys => {
            let p = st.decrypt(&format!("{l}/psk-{}.age", args.name), &ids)?;
            let p = zeroize::Zeroizing::new(String::from_utf8_lossy(p.expose()).trim().to_owned());
            if let Err(e) = hearth::keys::check_key(&p) {
                bail!("secrets/{l}/psk-{}.age is not a preshared key ({e}); run `hearth peer rotate {}`", args.name, args.name);
            }
            Some(p)
        }
        _ => None,
    };
    let text = zeroize::Zeroizing::new(topology::client_config(&inv, &args.name, &key, psk.as_deref().map(|s| s.as_str())).map_err(anyhow::Error::msg)?);
    if inv.network.resolvers.is_empty() {
        eprintln!("warning: network.resolvers is empty, so this config sets no DNS server: the peer resolves LAN names nowhere\nhint: `hearth resolver add IP` (your LAN's DNS server), then fetch the config again");
    }
    match &args.output {
        Some(p) => {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            let bytes = match ext.as_str() {
                "png" => hearth::qr::png(&text)?,
                "svg" => hearth::qr::svg(&text)?.into_bytes(),
                _ => text.as_bytes().to_vec(),
            };
            let bytes = zeroize::Zeroizing::new(bytes);
            write_private(p, &bytes)?;
            eprintln!("wrote {} (mode 0600: it holds the private key)", p.display());
        }
        None if args.qr => print!("{}", hearth::qr::terminal(&text)?),
        None => print!("{}", text.as_str()),
    }
    Ok(0)
}

/// Writes a file only its owner can read, atomically.
fn write_private(p: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(".{}.hearth-tmp.{}", p.file_name().and_then(|n| n.to_str()).unwrap_or("out"), std::process::id()));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let res = f.write_all(bytes).and_then(|_| f.sync_all()).and_then(|_| std::fs::rename(&tmp, p));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.with_context(|| format!("writing {}", p.display()))
}

/// `hearth peer rotate NAME`: a new keypair (and preshared key) for a peer.
pub fn peer_rotate(name: &str, global: &Global) -> anyhow::Result<i32> {
    let inv = load_valid(global)?.inv;
    if !inv.peers.contains_key(name) {
        bail!("no peer `{name}`");
    }
    rotate(global, &format!("peers/{name}/wireguard-key.age"))?;
    if let Some(l) = topology::listener(&inv).filter(|_| inv.wireguard.preshared_keys) {
        rotate(global, &format!("{l}/psk-{name}.age"))?;
    }
    println!("next: `hearth render`, deploy `{}`, and load the new config on the device: `hearth peer config {name} --qr`", topology::listener(&inv).unwrap_or("the gateway"));
    Ok(0)
}
