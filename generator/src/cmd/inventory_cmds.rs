//! Commands that edit the inventory: `host`, `peer`, `service`, `allow`,
//! `deny`, `admin`. Each goes through [`super::core::edit`].

use std::net::Ipv4Addr;

use anyhow::bail;
use hearth::edit::{array_add, array_remove, str_array};
use hearth::inventory::{PeerKind, PortItem, PortSpec, Proto, Role};
use hearth::types::{arg, AgeRecipient, Endpoint, SshHostKey};
use serde::Serialize;

use super::core::{edit, load_valid, EditOpts};
use super::Global;

#[derive(Debug, clap::Subcommand)]
pub enum HostCommand {
    /// Add a host.
    ///
    /// Examples:
    ///   KEY="$(ssh-keyscan -t ed25519 extgw01 | cut -d' ' -f2-)"
    ///   hearth host add extgw01 --role wireguard-gateway --role bastion \
    ///       --address 10.69.13.20 --ssh-key "$KEY"
    ///   hearth host add vps --role wireguard-hub \
    ///       --endpoint vps.example.net:51820 --ssh-key "$VPS_KEY"
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
        #[arg(long, value_name = "HOST:PORT", value_parser = arg::<Endpoint>())]
        endpoint: Option<Endpoint>,
        /// SSH host public key (`ssh-keyscan -t ed25519 HOST`); its secrets are encrypted to it.
        #[arg(long, value_name = "KEY", value_parser = arg::<SshHostKey>())]
        ssh_key: Option<SshHostKey>,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Change an existing host: its SSH host key, roles, LAN address or
    /// endpoint. Options not given stay as they are; `--role` replaces the
    /// whole list.
    ///
    /// Examples:
    ///   hearth host set jelly01 --ssh-key "$(ssh-keyscan -t ed25519 jelly01 | cut -d' ' -f2-)"
    ///   hearth host set extgw01 --role wireguard-gateway --role bastion
    ///   hearth host set monitoring01 --address 10.69.13.21
    #[command(verbatim_doc_comment)]
    Set {
        name: String,
        /// The new roles (replaces the list); repeatable.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<Role>,
        /// Remove every role (the host becomes a plain LAN server).
        #[arg(long, conflicts_with = "roles")]
        no_roles: bool,
        /// New LAN address.
        #[arg(long)]
        address: Option<Ipv4Addr>,
        /// New public HOST:PORT.
        #[arg(long, value_name = "HOST:PORT", value_parser = arg::<Endpoint>())]
        endpoint: Option<Endpoint>,
        /// New SSH host public key; run `hearth secrets rekey` after, so the host can read its secrets.
        #[arg(long, value_name = "KEY", value_parser = arg::<SshHostKey>())]
        ssh_key: Option<SshHostKey>,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove a host (its user-owned hosts/NAME/default.nix stays).
    ///
    /// Example:
    ///   hearth host remove nzbget-jail
    #[command(verbatim_doc_comment)]
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
                t["endpoint"] = toml_edit::value(e.as_str());
            }
            if let Some(k) = ssh_key {
                t["ssh_key"] = toml_edit::value(k.as_str());
            }
            Ok(vec![format!("added host `{name}`")])
        }),
        HostCommand::Set { name, roles, no_roles, address, endpoint, ssh_key, opts } => edit(global, &opts, |ed| {
            if !ed.before.inv.hosts.contains_key(&name) {
                bail!("no host `{name}`; add it with `hearth host add {name} ...`");
            }
            if roles.is_empty() && !no_roles && address.is_none() && endpoint.is_none() && ssh_key.is_none() {
                bail!("nothing to change; give --ssh-key, --role, --no-roles, --address or --endpoint");
            }
            let old_key = ed.before.inv.hosts[&name].ssh_key.clone();
            let t = ed.entry_table("hosts", &name);
            let mut said = vec![];
            if no_roles {
                t.remove("roles");
                said.push(format!("host `{name}`: no roles"));
            } else if !roles.is_empty() {
                t["roles"] = str_array(roles.iter().map(|r| r.as_str()));
                said.push(format!("host `{name}`: roles {}", roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")));
            }
            if let Some(a) = address {
                t["address"] = toml_edit::value(a.to_string());
                said.push(format!("host `{name}`: address {a}"));
            }
            if let Some(e) = endpoint {
                said.push(format!("host `{name}`: endpoint {e}"));
                t["endpoint"] = toml_edit::value(e.as_str());
            }
            if let Some(k) = ssh_key {
                t["ssh_key"] = toml_edit::value(k.as_str());
                said.push(format!("host `{name}`: new SSH host key"));
                if old_key.is_some() {
                    said.push("next: `hearth secrets rekey` so the host's secrets are encrypted to its new key".into());
                }
            }
            Ok(said)
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
                .map(|(n, h)| Row {
                    name: n,
                    roles: h.roles.iter().map(|r| r.as_str()).collect(),
                    address: h.address,
                    vpn_address: h.vpn_address,
                    endpoint: h.endpoint.as_ref().map(|e| e.as_str()),
                })
                .collect();
            list_output(json, &rows, &["HOST", "ROLES", "LAN", "VPN", "ENDPOINT"], |r| {
                vec![r.name.into(), r.roles.join(","), opt(r.address), opt(r.vpn_address), r.endpoint.unwrap_or("-").into()]
            })
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
    /// A peer named in `allow` lists or `[[acl_tests]]` (directly, or as the
    /// last member of a group) is only removed with --cascade, which removes
    /// those mentions too and says which.
    ///
    /// Examples:
    ///   hearth peer remove old-phone
    ///   hearth peer remove phone --cascade
    #[command(verbatim_doc_comment)]
    Remove {
        name: String,
        /// Also remove the peer (and groups only it was in) from every
        /// service's `allow` and every `[[acl_tests]]` entry with it as `src`.
        #[arg(long)]
        cascade: bool,
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
        PeerCommand::Remove { name, cascade, opts } => {
            let root = global.root();
            let code = edit(global, &opts, |ed| {
                let Some(p) = ed.before.inv.peers.get(&name).cloned() else { bail!("no peer `{name}`") };
                let refs = peer_references(&ed.before.inv, &name);
                if !refs.is_empty() && !cascade {
                    let cmds: Vec<String> = refs.iter().map(|r| format!("  {}", r.command)).collect();
                    bail!(
                        "peer `{name}` is still named in {} place(s); nothing was written\nhint: `hearth peer remove {name} --cascade` removes them too, or run:\n{}",
                        refs.len(),
                        cmds.join("\n")
                    );
                }
                let mut said = vec![];
                // Tests from the highest index down, so indexes stay valid.
                let mut tests: Vec<usize> = refs.iter().filter_map(|r| r.test).collect();
                tests.sort_unstable();
                tests.dedup();
                for i in tests.into_iter().rev() {
                    if let Some(a) = ed.doc_mut().get_mut("acl_tests").and_then(|t| t.as_array_of_tables_mut()) {
                        a.remove(i);
                    }
                }
                for r in &refs {
                    if let Some((svc, who)) = &r.allow {
                        array_remove(ed.entry_table("services", svc), "allow", who);
                    }
                    said.push(format!("removed {}", r.what));
                }
                ed.remove_entry("peers", &name);
                said.insert(0, format!("removed peer `{name}`"));
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
                .map(|(n, p)| Row {
                    name: n,
                    kind: p.kind.to_string(),
                    groups: &p.groups,
                    address: p.address,
                    full_tunnel: p.full_tunnel,
                    public_key: p.public_key.as_ref().map(|k| k.as_str()),
                })
                .collect();
            list_output(json, &rows, &["PEER", "KIND", "GROUPS", "ADDRESS", "TUNNEL", "PUBLIC KEY"], |r| {
                vec![r.name.into(), r.kind.clone(), r.groups.join(","), opt(r.address), if r.full_tunnel { "full" } else { "split" }.into(), r.public_key.unwrap_or("-").into()]
            })
        }
    }
}

/// A mention of a peer that would dangle once it is gone.
struct PeerRef {
    what: String,
    command: String,
    /// (service, name in its allow list)
    allow: Option<(String, String)>,
    /// index into `[[acl_tests]]`
    test: Option<usize>,
}

/// Where the inventory names peer `name`: directly, or through a group it is
/// the only member of.
fn peer_references(inv: &hearth::inventory::Inventory, name: &str) -> Vec<PeerRef> {
    let groups = inv.groups();
    let mut gone: Vec<&str> = vec![name];
    gone.extend(groups.iter().filter(|(_, m)| m.len() == 1 && m[0] == name).map(|(g, _)| *g));
    let mut out = vec![];
    for (svc, s) in &inv.services {
        for who in s.allow.iter().filter(|w| gone.contains(&w.as_str())) {
            out.push(PeerRef {
                what: format!("`{who}` from the allow list of `{svc}`"),
                command: format!("hearth deny {svc} {who}"),
                allow: Some((svc.clone(), who.clone())),
                test: None,
            });
        }
    }
    // Highest index first: each `acl-test remove` keeps the next index valid.
    for (i, t) in inv.acl_tests.iter().enumerate().rev() {
        if gone.contains(&t.src.as_str()) {
            out.push(PeerRef { what: format!("[[acl_tests]] entry {i} (src = \"{}\")", t.src), command: format!("hearth acl-test remove {i}"), allow: None, test: Some(i) });
        }
    }
    out
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
        #[arg(long, value_name = "PORTS", value_parser = arg::<PortSpec>())]
        port: PortSpec,
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
    /// List services and who may reach them. REACH is `direct` (the
    /// gateway forwards to HOST:PORT) or `ingress` (a web service with
    /// `auth` basic or forward: reached only by name at its URL, no direct
    /// flow to its port, so the auth cannot be walked around).
    ///
    /// Example:
    ///   hearth service list --json
    #[command(verbatim_doc_comment)]
    List {
        #[arg(long)]
        json: bool,
    },
}

/// A port spec as the inventory writes it: `3000`, `"8000-8100"`, `[80, "8000-8100"]`.
fn port_value(p: &PortSpec) -> toml_edit::Value {
    fn item(i: &PortItem) -> toml_edit::Value {
        match i {
            PortItem::One(p) => i64::from(*p).into(),
            PortItem::Range(r) => r.to_string().into(),
        }
    }
    match p {
        PortSpec::One(p) => item(&PortItem::One(*p)),
        PortSpec::Range(r) => item(&PortItem::Range(*r)),
        PortSpec::List(l) => toml_edit::Value::Array(l.iter().map(item).collect()),
    }
}

pub fn service(cmd: ServiceCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        ServiceCommand::Add { name, host, port, proto, allow, web, subdomain, opts } => edit(global, &opts, |ed| {
            if ed.before.inv.services.contains_key(&name) {
                bail!("service `{name}` already exists; use `hearth allow {name} GROUP` to widen it");
            }
            let t = ed.entry_table("services", &name);
            t["host"] = toml_edit::value(host.clone());
            t["port"] = toml_edit::Item::Value(port_value(&port));
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
                /// `direct` (the gateway forwards to host:port) or `ingress`
                /// (a web service behind auth: by name only, no direct flow).
                reach: &'static str,
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
                    reach: if hearth::policy::by_name_only(s) { "ingress" } else { "direct" },
                })
                .collect();
            list_output(json, &rows, &["SERVICE", "HOST", "ADDRESS", "PORT", "PROTO", "ALLOW", "URL", "REACH"], |r| {
                vec![r.name.into(), r.host.into(), opt(r.address), r.port.clone(), r.proto.clone(), r.allow.join(","), r.url.clone().unwrap_or_else(|| "-".into()), r.reach.into()]
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
    ///
    /// Example:
    ///   hearth admin add "$(cat ~/.ssh/id_ed25519.pub)" && hearth secrets rekey
    #[command(verbatim_doc_comment)]
    Add {
        #[arg(value_parser = arg::<AgeRecipient>())]
        recipient: AgeRecipient,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove an admin recipient. Run `hearth secrets rekey` after, and rotate
    /// the secrets it could read. The last admin cannot be removed.
    ///
    /// Example:
    ///   hearth admin remove "ssh-ed25519 AAAA... lost-laptop" && hearth secrets rekey
    #[command(verbatim_doc_comment)]
    Remove {
        #[arg(value_parser = arg::<AgeRecipient>())]
        recipient: AgeRecipient,
        #[command(flatten)]
        opts: EditOpts,
    },
}

pub fn admin(cmd: AdminCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        AdminCommand::Add { recipient, opts } => edit(global, &opts, |ed| {
            let r = recipient.as_str();
            if !array_add(ed.section("admin"), "recipients", r) {
                bail!("`{r}` is already an admin recipient");
            }
            Ok(vec![format!("added admin recipient `{r}`"), "next: `hearth secrets rekey` so the new admin can read every secret".into()])
        }),
        AdminCommand::Remove { recipient, opts } => edit(global, &opts, |ed| {
            let want = recipient.recipient();
            let current: Vec<AgeRecipient> = ed.before.inv.admin.recipients.clone();
            let Some(exact) = current.iter().find(|r| r.recipient() == want) else {
                bail!("`{recipient}` is not an admin recipient");
            };
            // Not even --force: with no admin left, `secrets rekey` encrypts
            // every secret to host keys only and nobody can edit them again.
            if current.len() == 1 {
                bail!("`{want}` is the last admin recipient: without one nobody could ever decrypt or edit the secrets again, so this is refused (also with --force)\nhint: add the new admin first (`hearth admin add RECIPIENT`), then remove this one");
            }
            array_remove(ed.section("admin"), "recipients", exact.as_str());
            Ok(vec![
                format!("removed admin recipient `{want}`"),
                "next: `hearth secrets rekey` so that no current file is readable with the removed key; its holder can still read old ciphertexts in git history, so rotate the secrets (`hearth secret rotate`)".into(),
            ])
        }),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum AclTestCommand {
    /// Add an `[[acl_tests]]` entry: what SRC (a group or peer) must and must
    /// not reach. `hearth check` decides it; `hearth lab run` proves it on packets.
    /// A web service behind auth (`auth = "basic" | "forward"`) is reached by
    /// name through the ingress only: its name asks its allow list, its
    /// HOST:PORT the packet, which the gateway drops for everyone.
    ///
    /// Examples:
    ///   hearth acl-test add mobile --accept jellyfin --accept grafana --deny sonarr
    ///   hearth acl-test add phone --accept ns1:53/udp --deny monitoring01:22
    ///   hearth acl-test add mobile --deny monitoring01:3000   # grafana's port, behind auth
    #[command(verbatim_doc_comment)]
    Add {
        /// A group or a peer.
        src: String,
        /// A service name or HOST:PORT[/udp] that must be reachable; repeatable.
        #[arg(long, value_name = "TARGET")]
        accept: Vec<String>,
        /// A service name or HOST:PORT[/udp] that must not be reachable; repeatable.
        #[arg(long, value_name = "TARGET")]
        deny: Vec<String>,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove the `[[acl_tests]]` entry at INDEX (see `hearth acl-test list`).
    ///
    /// Example:
    ///   hearth acl-test remove 1
    #[command(verbatim_doc_comment)]
    Remove {
        index: usize,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// List the `[[acl_tests]]` entries with their index.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn acl_test(cmd: AclTestCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        AclTestCommand::Add { src, accept, deny, opts } => edit(global, &opts, |ed| {
            if accept.is_empty() && deny.is_empty() {
                bail!("a test needs at least one --accept or --deny target");
            }
            let mut t = toml_edit::Table::new();
            t["src"] = toml_edit::value(src.clone());
            if !accept.is_empty() {
                t["accept"] = str_array(&accept);
            }
            if !deny.is_empty() {
                t["deny"] = str_array(&deny);
            }
            let n = ed.before.inv.acl_tests.len();
            let root = ed.doc_mut().as_table_mut();
            if !root.contains_key("acl_tests") {
                root.insert("acl_tests", toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()));
            }
            let Some(a) = root["acl_tests"].as_array_of_tables_mut() else { bail!("`acl_tests` in the inventory is not an array of tables ([[acl_tests]])") };
            a.push(t);
            Ok(vec![format!("added [[acl_tests]] entry {n} for `{src}`")])
        }),
        AclTestCommand::Remove { index, opts } => edit(global, &opts, |ed| {
            let n = ed.before.inv.acl_tests.len();
            let Some(t) = ed.before.inv.acl_tests.get(index).cloned() else {
                bail!("no [[acl_tests]] entry {index}; there are {n} (indexes 0 to {}); see `hearth acl-test list`", n.saturating_sub(1));
            };
            if let Some(a) = ed.doc_mut().get_mut("acl_tests").and_then(|i| i.as_array_of_tables_mut()) {
                a.remove(index);
            }
            Ok(vec![format!("removed [[acl_tests]] entry {index} (src = \"{}\")", t.src)])
        }),
        AclTestCommand::List { json } => {
            let inv = load_valid(global)?.inv;
            #[derive(Serialize)]
            struct Row<'a> {
                index: usize,
                src: &'a str,
                accept: &'a [String],
                deny: &'a [String],
            }
            let rows: Vec<Row> = inv.acl_tests.iter().enumerate().map(|(i, t)| Row { index: i, src: &t.src, accept: &t.accept, deny: &t.deny }).collect();
            list_output(json, &rows, &["INDEX", "SRC", "ACCEPT", "DENY"], |r| vec![r.index.to_string(), r.src.into(), r.accept.join(","), r.deny.join(",")])
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ResolverCommand {
    /// Add a LAN DNS resolver (`network.resolvers`): peers' configs use it,
    /// and every peer may reach it on port 53 (unless resolvers_open = false).
    ///
    /// Example:
    ///   hearth resolver add 192.168.1.1
    #[command(verbatim_doc_comment)]
    Add {
        address: Ipv4Addr,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// Remove a LAN DNS resolver.
    ///
    /// Example:
    ///   hearth resolver remove 192.168.1.1
    #[command(verbatim_doc_comment)]
    Remove {
        address: Ipv4Addr,
        #[command(flatten)]
        opts: EditOpts,
    },
    /// List the LAN DNS resolvers.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn resolver(cmd: ResolverCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        ResolverCommand::Add { address, opts } => edit(global, &opts, |ed| {
            if !array_add(ed.section("network"), "resolvers", &address.to_string()) {
                bail!("{address} is already a resolver");
            }
            Ok(vec![format!("added resolver {address}; fetch peers' configs again (`hearth peer config NAME`) so they use it")])
        }),
        ResolverCommand::Remove { address, opts } => edit(global, &opts, |ed| {
            if !array_remove(ed.section("network"), "resolvers", &address.to_string()) {
                bail!("{address} is not a resolver");
            }
            Ok(vec![format!("removed resolver {address}")])
        }),
        ResolverCommand::List { json } => {
            let inv = load_valid(global)?.inv;
            #[derive(Serialize)]
            struct Row {
                address: Ipv4Addr,
            }
            let rows: Vec<Row> = inv.network.resolvers.iter().map(|a| Row { address: *a }).collect();
            list_output(json, &rows, &["RESOLVER"], |r| vec![r.address.to_string()])
        }
    }
}
