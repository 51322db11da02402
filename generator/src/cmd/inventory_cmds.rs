//! Commands that edit the inventory: `host`, `peer`, `service`, `allow`,
//! `deny`, `admin`. Each goes through [`super::core::edit`].

use std::net::Ipv4Addr;

use anyhow::bail;
use hearth::edit::{array_add, array_remove, str_array};
use hearth::inventory::{PeerKind, Proto, Role};
use serde::Serialize;

use super::core::{edit, load_valid, EditOpts};
use super::Global;

#[derive(Debug, clap::Subcommand)]
pub enum HostCommand {
    /// Add a host.
    ///
    /// Examples:
    ///   hearth host add extgw01 --role wireguard-gateway --role bastion --address 10.69.13.20 --ssh-key "ssh-ed25519 AAAA..."
    ///   hearth host add vps --role wireguard-hub --endpoint vps.example.net:51820 --ssh-key "ssh-ed25519 AAAA..."
    ///   hearth host add jelly01 --address 10.69.13.12
    #[command(verbatim_doc_comment)]
    Add {
        name: String,
        /// wireguard-hub, wireguard-gateway, wireguard-client or bastion; repeatable. A LAN server needs none.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<Role>,
        /// LAN address.
        #[arg(long)]
        address: Option<Ipv4Addr>,
        /// Public HOST:PORT (the hub; the gateway when there is no hub).
        #[arg(long)]
        endpoint: Option<String>,
        /// SSH host public key (`ssh-keyscan -t ed25519 HOST`); its secrets are encrypted to it.
        #[arg(long, value_name = "KEY")]
        ssh_key: Option<String>,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove a host (its user-owned hosts/NAME/default.nix stays).
    Remove {
        name: String,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// List hosts.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

pub fn host(cmd: HostCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        HostCommand::Add { name, roles, address, endpoint, ssh_key, opts } => edit(global, &opts, |ed| {
            if ed.before.inv.hosts.contains_key(&name) {
                bail!("host `{name}` already exists; remove it first or edit inventory.toml");
            }
            if let Some(m) = hearth::validate::name_problem("host", &name) {
                bail!("{m}");
            }
            let t = ed.entry_table("hosts", &name);
            if !roles.is_empty() {
                t["roles"] = str_array(roles.iter().map(|r| r.as_str()));
            }
            if let Some(a) = address {
                t["address"] = toml_edit::value(a.to_string());
            }
            if let Some(e) = endpoint {
                t["endpoint"] = toml_edit::value(e);
            }
            if let Some(k) = ssh_key {
                t["ssh_key"] = toml_edit::value(k.trim());
            }
            Ok(vec![format!("added host `{name}`")])
        }),
        HostCommand::Remove { name, opts } => {
            let root = global.root();
            let code = edit(global, &opts, |ed| {
                let Some(h) = ed.before.inv.hosts.get(&name).cloned() else { bail!("no host `{name}`") };
                ed.remove_entry("hosts", &name);
                let mut said = vec![format!("removed host `{name}`")];
                // Like a removed peer's, its VPN address is not handed out
                // again while old configs may still name it.
                if let Some(a) = h.vpn_address {
                    array_add(ed.section("network"), "retired", &a.to_string());
                    said.push(format!("retired its VPN address {a} (reuse it with `hearth peer add NAME --reuse-address`)"));
                }
                Ok(said)
            })?;
            remove_secret_dir(&root, &name)?;
            Ok(code)
        }
        HostCommand::List { json } => {
            let inv = load_valid(global)?.inv;
            #[derive(Serialize)]
            struct Row<'a> {
                name: &'a str,
                roles: Vec<&'static str>,
                address: Option<Ipv4Addr>,
                vpn_address: Option<Ipv4Addr>,
                endpoint: Option<&'a str>,
            }
            let rows: Vec<Row> = inv
                .hosts
                .iter()
                .map(|(n, h)| Row { name: n, roles: h.roles.iter().map(|r| r.as_str()).collect(), address: h.address, vpn_address: h.vpn_address, endpoint: h.endpoint.as_deref() })
                .collect();
            list_output(json, &rows, &["HOST", "ROLES", "LAN", "VPN", "ENDPOINT"], |r| vec![r.name.into(), r.roles.join(","), opt(r.address), opt(r.vpn_address), r.endpoint.unwrap_or("-").into()])
        }
    }
}

/// Removes `secrets/<name>/` with everything in it, and the hub's
/// `psk-<name>.age` (after the inventory no longer names them): they were
/// encrypted to a key that is gone.
fn remove_secret_dir(root: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let mut store = hearth::secrets::SecretStore::open(root.join("secrets"))?;
    let prefix = format!("{name}/");
    // Its own directory, and the preshared key the hub keeps for it.
    let psk = format!("/psk-{name}.age");
    let rels: Vec<String> = store.scan()?.into_iter().filter(|r| r.starts_with(&prefix) || r.ends_with(&psk)).collect();
    for r in rels {
        store.remove(&r)?;
        println!("removed secrets/{r}");
    }
    Ok(())
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// Prints a list command's rows: pretty JSON with `--json`, an aligned
/// table otherwise.
pub fn list_output<R: Serialize>(json: bool, rows: &[R], head: &[&str], cells: impl Fn(&R) -> Vec<String>) -> anyhow::Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
    } else {
        table(head, rows.iter().map(cells).collect());
    }
    Ok(0)
}

/// Prints an aligned table.
pub fn table(head: &[&str], rows: Vec<Vec<String>>) {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = w[i])).collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(head.iter().map(|s| s.to_string()).collect());
    for r in rows {
        line(r);
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum PeerCommand {
    /// Add a VPN peer: allocates its address, generates its keypair (the
    /// private key is a secret for the admins), and prints what changed.
    ///
    /// Examples:
    ///   hearth peer add phone --kind phone --group family
    ///   hearth peer add laptop --kind laptop --group admins
    ///   hearth peer add travel --full-tunnel
    #[command(verbatim_doc_comment)]
    Add {
        name: String,
        #[arg(long, value_enum, default_value_t = PeerKind::Phone)]
        kind: PeerKind,
        /// A group for service `allow` lists; repeatable.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Route all traffic through the VPN instead of only the VPN pool and the LAN.
        #[arg(long)]
        full_tunnel: bool,
        /// Allow the lowest retired address (of a removed peer) to be reused.
        #[arg(long)]
        reuse_address: bool,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove a peer. Its address is retired (not reused without --reuse-address).
    Remove {
        name: String,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// List peers.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn peer(cmd: PeerCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        PeerCommand::Add { name, kind, groups, full_tunnel, reuse_address, opts } => edit(global, &opts, |ed| {
            if ed.before.inv.peers.contains_key(&name) {
                bail!("peer `{name}` already exists; `hearth peer rotate {name}` makes it a new key");
            }
            if let Some(m) = hearth::validate::name_problem("peer", &name) {
                bail!("{m}");
            }
            let mut said = Vec::new();
            if reuse_address {
                let retired = &ed.before.inv.network.retired;
                if let Some(a) = retired.iter().min().copied() {
                    let net = ed.section("network");
                    array_remove(net, "retired", &a.to_string());
                    if net.get("retired").and_then(|r| r.as_array()).is_some_and(|a| a.is_empty()) {
                        net.remove("retired");
                    }
                    said.push(format!("reusing retired address {a}"));
                }
            }
            let t = ed.entry_table("peers", &name);
            t["kind"] = toml_edit::value(kind.to_string());
            if !groups.is_empty() {
                t["groups"] = str_array(&groups);
            }
            if full_tunnel {
                t["full_tunnel"] = toml_edit::value(true);
            }
            said.insert(0, format!("added peer `{name}` ({kind}{})", if groups.is_empty() { String::new() } else { format!(", groups: {}", groups.join(", ")) }));
            Ok(said)
        }),
        PeerCommand::Remove { name, opts } => {
            let root = global.root();
            let code = edit(global, &opts, |ed| {
                let Some(p) = ed.before.inv.peers.get(&name).cloned() else { bail!("no peer `{name}`") };
                ed.remove_entry("peers", &name);
                let mut said = vec![format!("removed peer `{name}`")];
                if let Some(a) = p.address {
                    array_add(ed.section("network"), "retired", &a.to_string());
                    said.push(format!("retired its address {a} (reuse it with `hearth peer add NAME --reuse-address`)"));
                }
                Ok(said)
            })?;
            let mut store = hearth::secrets::SecretStore::open(root.join("secrets"))?;
            let prefix = format!("peers/{name}/");
            for r in store.scan()?.into_iter().filter(|r| r.starts_with(&prefix) || r.ends_with(&format!("/psk-{name}.age"))) {
                store.remove(&r)?;
                println!("removed secrets/{r}");
            }
            Ok(code)
        }
        PeerCommand::List { json } => {
            let inv = load_valid(global)?.inv;
            #[derive(Serialize)]
            struct Row<'a> {
                name: &'a str,
                kind: String,
                groups: &'a [String],
                address: Option<Ipv4Addr>,
                full_tunnel: bool,
                public_key: Option<&'a str>,
            }
            let rows: Vec<Row> = inv
                .peers
                .iter()
                .map(|(n, p)| Row { name: n, kind: p.kind.to_string(), groups: &p.groups, address: p.address, full_tunnel: p.full_tunnel, public_key: p.public_key.as_deref() })
                .collect();
            list_output(json, &rows, &["PEER", "KIND", "GROUPS", "ADDRESS", "TUNNEL", "PUBLIC KEY"], |r| vec![r.name.into(), r.kind.clone(), r.groups.join(","), opt(r.address), if r.full_tunnel { "full" } else { "split" }.into(), r.public_key.unwrap_or("-").into()])
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Add a LAN service VPN clients may reach.
    ///
    /// Examples:
    ///   hearth service add grafana --host monitoring01 --port 3000 --allow admins
    ///   hearth service add dns-over-tls --host ns1 --port 853 --allow family --allow laptop
    ///   hearth service add games --host nas --port 27015-27030 --proto both --allow friends
    ///   hearth service add grafana --host monitoring01 --port 3000 --web --allow admins
    ///     (also served by the ingress at https://grafana.<domain>, same allow list)
    #[command(verbatim_doc_comment)]
    Add {
        name: String,
        #[arg(long)]
        host: String,
        /// A port, a range like 8000-8100, or a comma-separated list.
        #[arg(long)]
        port: String,
        #[arg(long, value_enum, default_value_t = Proto::Tcp)]
        proto: Proto,
        /// A group or peer that may reach it; repeatable.
        #[arg(long = "allow", value_name = "GROUP|PEER")]
        allow: Vec<String>,
        /// Serve it by name through the ingress (a host with role `ingress`).
        #[arg(long)]
        web: bool,
        /// With --web: the first label of its names (default: NAME).
        #[arg(long, requires = "web")]
        subdomain: Option<String>,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Turn serving a service by name through the ingress on or off.
    ///
    /// Examples:
    ///   hearth service web grafana on
    ///   hearth service web nzbget off
    #[command(verbatim_doc_comment)]
    Web {
        name: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove a service.
    Remove {
        name: String,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// List services and who may reach them.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn port_item(s: &str) -> anyhow::Result<toml_edit::Value> {
    let r: hearth::inventory::PortRange = s.trim().parse().map_err(anyhow::Error::msg)?;
    Ok(if r.start == r.end { toml_edit::Value::from(i64::from(r.start)) } else { toml_edit::Value::from(r.to_string()) })
}

pub fn service(cmd: ServiceCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        ServiceCommand::Add { name, host, port, proto, allow, web, subdomain, opts } => edit(global, &opts, |ed| {
            if ed.before.inv.services.contains_key(&name) {
                bail!("service `{name}` already exists; use `hearth allow {name} GROUP` to widen it");
            }
            let items: Vec<&str> = port.split(',').collect();
            let port_value = if items.len() == 1 {
                port_item(items[0])?
            } else {
                let mut a = toml_edit::Array::new();
                for i in items {
                    a.push(port_item(i)?);
                }
                toml_edit::Value::Array(a)
            };
            let t = ed.entry_table("services", &name);
            t["host"] = toml_edit::value(host.clone());
            t["port"] = toml_edit::Item::Value(port_value);
            if proto != Proto::Tcp {
                t["proto"] = toml_edit::value(proto.to_string());
            }
            t["allow"] = str_array(&allow);
            if web {
                t["web"] = toml_edit::value(true);
            }
            if let Some(sub) = &subdomain {
                t["subdomain"] = toml_edit::value(sub.clone());
            }
            let mut out = vec![format!("added service `{name}` ({host}:{port}/{proto}) for {}", if allow.is_empty() { "nobody yet".into() } else { allow.join(", ") })];
            if web {
                out.push(format!("served by the ingress at https://{}.{}", subdomain.as_deref().unwrap_or(&name), hearth::area::ingress::vpn_domain(&ed.before.inv)));
            }
            Ok(out)
        }),
        ServiceCommand::Web { name, state, opts } => edit(global, &opts, |ed| {
            let Some(svc) = ed.before.inv.services.get(&name) else {
                bail!("no service `{name}`");
            };
            let on = state == "on";
            if svc.web == on {
                return Ok(vec![format!("`{name}` is already {}", if on { "a web service" } else { "not a web service" })]);
            }
            let t = ed.entry_table("services", &name);
            if on {
                t["web"] = toml_edit::value(true);
            } else {
                // Web settings go with it: validation refuses them on a non-web service.
                for k in ["web", "subdomain", "scheme", "auth", "auth_users"] {
                    t.remove(k);
                }
            }
            Ok(vec![if on { format!("`{name}` is now served by the ingress") } else { format!("`{name}` is no longer served by the ingress") }])
        }),
        ServiceCommand::Remove { name, opts } => edit(global, &opts, |ed| {
            if !ed.remove_entry("services", &name) {
                bail!("no service `{name}`");
            }
            Ok(vec![format!("removed service `{name}`")])
        }),
        ServiceCommand::List { json } => {
            let inv = load_valid(global)?.inv;
            #[derive(Serialize)]
            struct Row<'a> {
                name: &'a str,
                host: &'a str,
                address: Option<Ipv4Addr>,
                port: String,
                proto: String,
                allow: &'a [String],
                url: Option<String>,
            }
            let rows: Vec<Row> = inv
                .services
                .iter()
                .map(|(n, s)| Row {
                    name: n,
                    host: &s.host,
                    address: inv.hosts.get(&s.host).and_then(|h| h.address),
                    port: s.port.to_string(),
                    proto: s.proto.to_string(),
                    allow: &s.allow,
                    url: hearth::area::ingress::url(&inv, n),
                })
                .collect();
            list_output(json, &rows, &["SERVICE", "HOST", "ADDRESS", "PORT", "PROTO", "ALLOW", "URL"], |r| {
                vec![r.name.into(), r.host.into(), opt(r.address), r.port.clone(), r.proto.clone(), r.allow.join(","), r.url.clone().unwrap_or_else(|| "-".into())]
            })
        }
    }
}

/// `hearth allow SERVICE WHO` / `hearth deny SERVICE WHO`.
#[derive(Debug, clap::Args)]
pub struct AllowArgs {
    pub service: String,
    /// A group or a peer.
    pub who: String,
    #[command(flatten)]
    pub opts: EditOpts,
}

pub fn allow(args: AllowArgs, global: &Global, grant: bool) -> anyhow::Result<i32> {
    edit(global, &args.opts, |ed| {
        if !ed.before.inv.services.contains_key(&args.service) {
            bail!("no service `{}`", args.service);
        }
        let t = ed.entry_table("services", &args.service);
        let changed = if grant { array_add(t, "allow", &args.who) } else { array_remove(t, "allow", &args.who) };
        Ok(match (grant, changed) {
            (true, true) => vec![format!("`{}` may now reach `{}`", args.who, args.service)],
            (false, true) => vec![format!("`{}` may no longer reach `{}`", args.who, args.service)],
            (true, false) => vec![format!("`{}` could already reach `{}`", args.who, args.service)],
            (false, false) => vec![format!("`{}` was not in the allow list of `{}`", args.who, args.service)],
        })
    })
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Add an admin recipient (age1... or ssh-ed25519 ...). Run `hearth secrets rekey` after.
    Add {
        recipient: String,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove an admin recipient. Run `hearth secrets rekey` after, and rotate the secrets it could read.
    Remove {
        recipient: String,
        #[command(flatten)]
        opts: EditOpts,
    },
}

pub fn admin(cmd: AdminCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        AdminCommand::Add { recipient, opts } => edit(global, &opts, |ed| {
            let r = recipient.trim();
            if let Some(m) = hearth::validate::recipient_problem(r) {
                bail!("{m}");
            }
            if !array_add(ed.section("admin"), "recipients", r) {
                bail!("`{r}` is already an admin recipient");
            }
            Ok(vec![format!("added admin recipient `{r}`"), "next: `hearth secrets rekey` so the new admin can read every secret".into()])
        }),
        AdminCommand::Remove { recipient, opts } => edit(global, &opts, |ed| {
            let want = hearth::validate::canonical_recipient(recipient.trim());
            let current: Vec<String> = ed.before.inv.admin.recipients.clone();
            let Some(exact) = current.iter().find(|r| hearth::validate::canonical_recipient(r) == want) else {
                bail!("`{}` is not an admin recipient", recipient.trim());
            };
            array_remove(ed.section("admin"), "recipients", exact);
            Ok(vec![
                format!("removed admin recipient `{want}`"),
                "next: `hearth secrets rekey` so that no current file is readable with the removed key; its holder can still read old ciphertexts in git history, so rotate the secrets (`hearth secret rotate`)".into(),
            ])
        }),
    }
}
