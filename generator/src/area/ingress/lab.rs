//! The ingress's lab stage: Debian's real programs in the lab's namespaces.
//!
//! With `[ingress] resolver = "gateway"`, first the gateway's resolver
//! ([`resolver_checks`]): unbound on the rendered config, behind the
//! rendered firewall input rule, asked by every client through the tunnel.
//!
//! In the ingress host's namespace, on its loopback: pebble-challtestsrv
//! (the DNS the CA asks) and pebble (the ACME CA). lego obtains one wildcard
//! certificate per name space by DNS-01, with the arguments
//! `lib.ingress.legoArgs` gives (those NixOS's acme module passes), pointed
//! at pebble and at lego's `exec` provider, which sets the TXT record through
//! challtestsrv's `/set-txt`. Caddy then runs the JSON config
//! `lib.ingress.caddyJson` renders, with those certificates and the
//! basic-auth hashes that `lib.ingress.caddyBasicEnv`'s script takes out of
//! the decrypted age secret into Caddy's environment; the host gets the route
//! back to the VPN its `routeBack` names, as the NixOS module adds it; the
//! gateway's masquerade exception is already in the lab's gateway (it loads
//! `wireguard.natTable`). Each backend answers the ingress with its own name
//! over HTTP.
//!
//! Then every lab client asks every web service by name with
//! `curl --resolve NAME:443:INGRESS`, verifying TLS against pebble's root:
//! what it gets must be what the policy decides for the backend's direct
//! path ([`crate::policy::decide`]): the backend's answer when allowed, 403
//! when not, 401 without the password where basic auth is on. LAN hosts get
//! the `.lan.` names and 403 on the VPN names; plain HTTP redirects.
//!
//! Forward auth (`auth = "forward"`): a Caddy STAND-IN for Authelia answers
//! at `[ingress] forward_auth`'s address, and every lab backend echoes the
//! `Remote-User` it was sent; what each client must get with and without
//! the lab's session is in [`forward_checks`] and `lab_forward.rs`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::area::LabCx;
use crate::lab::bastion::Check;
use crate::lab::error::{Context, LabError};
use crate::lab::exec::{in_ns, run, run_input};
use crate::lab::plan::{NodeKind, Secret};

use super::lab_forward::{self as fwd, Forward};

/// Loopback ports inside the ingress host's namespace.
const ACME_PORT: u16 = 14000;
const ACME_MGMT_PORT: u16 = 15000;
const DNS_PORT: u16 = 8053;
const DNS_MGMT_PORT: u16 = 8055;
/// The port each backend's stand-in listens on (the ingress's requests to
/// the service port are redirected to it).
const BACKEND_PORT: u16 = 18080;

pub(super) const TOOLS: &[(&str, &str)] =
    &[("caddy", "caddy"), ("pebble", "pebble"), ("pebble-challtestsrv", "pebble"), ("lego", "lego"), ("curl", "curl"), ("openssl", "openssl")];

pub(super) type Res<T> = Result<T, LabError>;

fn check(name: impl Into<String>, from: impl Into<String>, expected: impl Into<String>, seen: impl Into<String>) -> Check {
    let (expected, seen) = (expected.into(), seen.into());
    Check { name: name.into(), from: from.into(), ok: expected == seen, expected, seen }
}

/// Waits until `ok()` or `secs` pass.
fn wait(secs: u64, mut ok: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn tcp_up(ns: &str, port: u16) -> bool {
    in_ns(ns, "ss").args(["-Htln", &format!("sport = :{port}")]).output().map(|o| !o.stdout.is_empty()).unwrap_or(false)
}

pub(super) fn write_private(p: &Path, data: &[u8]) -> Res<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(p).with_context(|| format!("creating {}", p.display()))?;
    f.write_all(data).with_context(|| format!("writing {}", p.display()))?;
    Ok(())
}

pub(super) fn s(v: &Json, k: &str) -> String {
    v.get(k).and_then(Json::as_str).unwrap_or_default().to_string()
}

/// One curl through the tunnel: (status, body), basic-auth credentials (if
/// any) on stdin ([`fwd::fetch_url`]).
fn curl(ns: &str, url: &str, name: &str, port: u16, ip: Ipv4Addr, ca: &Path, user: Option<&str>) -> (String, String) {
    let conf = user.map(|u| format!("user = \"{u}\"\n")).unwrap_or_default();
    let r = fwd::fetch_url(ns, url, name, port, ip, ca, &conf);
    (r.code, r.body)
}

pub(super) fn run_stage(cx: &LabCx, host: &str) -> Res<Vec<Check>> {
    cx.require(TOOLS)?;
    // The gateway's resolver first: it needs no certificate.
    let mut dns = resolver_checks(cx)?;
    let mut rest = proxy_checks(cx, host)?;
    dns.append(&mut rest);
    Ok(dns)
}

/// One DNS answer as dig reports it: the status (`NOERROR`, `REFUSED`, ...,
/// or `TIMEOUT` when nothing came back) and the A records.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: String,
    a: Vec<String>,
}

impl Answer {
    fn show(&self) -> String {
        if self.a.is_empty() {
            format!("{} (no A record)", self.status)
        } else {
            format!("{} {}", self.status, self.a.join(" "))
        }
    }
}

/// `dig @server name A` from a namespace. A lost UDP packet is a TIMEOUT:
/// asked again (three times in all) before it is reported.
fn dig(ns: &str, server: Ipv4Addr, port: u16, name: &str, tcp: bool, secs: u32) -> Answer {
    let mut last = Answer { status: "TIMEOUT".into(), a: vec![] };
    for _ in 0..3 {
        let mut c = in_ns(ns, "dig");
        c.args([
            format!("@{server}"),
            "-p".into(),
            port.to_string(),
            name.to_string(),
            "A".into(),
            format!("+time={secs}"),
            "+tries=1".into(),
            "+noall".into(),
            "+comments".into(),
            "+answer".into(),
        ]);
        if tcp {
            c.arg("+tcp");
        }
        let out = c.output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        let status = out.lines().find_map(|l| l.split("status: ").nth(1)).and_then(|r| r.split(',').next()).map(|s| s.trim().to_string());
        let a = out
            .lines()
            .filter(|l| !l.starts_with(';'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 5 && f[2] == "IN" && f[3] == "A").then(|| f[4].to_string())
            })
            .collect();
        last = Answer { status: status.unwrap_or_else(|| "TIMEOUT".into()), a };
        if last.status != "TIMEOUT" {
            break;
        }
    }
    last
}

/// `[ingress] resolver = "gateway"`: Debian's unbound in the gateway's
/// namespace on the config `lib.ingress.unboundConf (lib.ingress.unbound
/// ...)` renders (plus the server keys NixOS's unbound module adds for a
/// process in the foreground, and lab paths), behind the input rule
/// `lib.allowlist.inputRules` renders for NixOS's firewall. The lab has no
/// NixOS firewall, so a stand-in drops what reaches 53 on the WireGuard
/// interface unless that rule accepts it. Then every client resolves one
/// name per name space (the ingress's address), over UDP and once over TCP;
/// a name outside the name spaces and an unserved name inside one get no A
/// record; a LAN host outside the VPN is REFUSED by access-control; without
/// the input rule a client gets nothing. Last, the names-only variant (no
/// `network.resolvers`) on a second port: NXDOMAIN inside, REFUSED outside.
fn resolver_checks(cx: &LabCx) -> Res<Vec<Check>> {
    let Some((gw, gh)) = cx.inv.gateway() else { return Ok(vec![]) };
    let res = cx.eval(gw, "(host.hearth.ingress or { }).resolver or null")?;
    if res.is_null() {
        return Ok(vec![]);
    }
    cx.require(&[("unbound", "unbound"), ("unbound-checkconf", "unbound"), ("dig", "dnsutils")])?;
    let mut checks = vec![];
    let rendered = |k: &'static str| LabError::Rendered { expr: format!("host.hearth.ingress.resolver.{k}"), value: res[k].to_string(), expected: "an IPv4 address" };
    let listen: Ipv4Addr = s(&res, "address").parse().map_err(|_| rendered("address"))?;
    let records: Vec<Json> = res.get("records").and_then(Json::as_array).cloned().unwrap_or_default();
    let zones: Vec<String> = res.get("zones").and_then(Json::as_array).map(|z| z.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default();
    let dir = cx.lab.dir.join("ingress-resolver");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let d = dir.to_string_lossy();
    // The keys nixpkgs' unbound module sets besides ours (username, chroot,
    // pidfile "" and do-daemonize no: it runs in the foreground), with the
    // lab's directory and log instead of /var/lib/unbound and syslog.
    let write_conf = |res_expr: &str, file: &str| -> Res<std::path::PathBuf> {
        let conf = cx.eval(
            gw,
            &format!(
                "let s = lib.ingress.unbound ({res_expr}); in lib.ingress.unboundConf (s // {{ server = s.server // {{ directory = \"\\\"{d}\\\"\"; username = \"\\\"\\\"\"; chroot = \"\\\"\\\"\"; pidfile = \"\\\"\\\"\"; do-daemonize = false; use-syslog = false; logfile = \"\\\"{d}/{file}.log\\\"\"; ip-freebind = true; }}; }})"
            ),
        )?;
        let conf = conf.as_str().ok_or_else(|| LabError::Rendered { expr: "lib.ingress.unboundConf".into(), value: conf.to_string(), expected: "text" })?;
        let path = dir.join(format!("{file}.conf"));
        std::fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let conf_path = write_conf("host.hearth.ingress.resolver", "unbound")?;
    let ok = Command::new("unbound-checkconf").arg(&conf_path).output().map(|o| o.status.success()).unwrap_or(false);
    checks.push(check("unbound-checkconf accepts the rendered unbound.conf", gw, "ok", if ok { "ok" } else { "rejected" }));
    if !ok {
        return Ok(checks);
    }

    // NixOS's firewall, as far as 53 goes: the rendered input rule, then a
    // drop for the WireGuard interface (the LAN side is left to unbound's
    // access-control).
    let gns = cx.lab.ns(gw)?;
    let input = cx.eval(gw, "lib.allowlist.inputRules (host.hearth.allowlist // { input = [ (lib.ingress.resolverInput host.hearth.ingress.resolver) ]; })")?;
    let input = input.as_str().ok_or_else(|| LabError::Rendered { expr: "lib.allowlist.inputRules".into(), value: input.to_string(), expected: "text" })?;
    let iface = s(&res, "interface");
    let fw = format!(
        "table inet hearth-lab-firewall {{\n  chain nixos_fw {{\n{}    iifname \"{iface}\" counter drop\n  }}\n  chain input {{\n    type filter hook input priority filter; policy accept;\n    meta l4proto {{ tcp, udp }} th dport {} jump nixos_fw\n  }}\n}}\n",
        input.lines().map(|l| format!("    {l}\n")).collect::<String>(),
        res["port"]
    );
    run_input(in_ns(&gns, "nft").args(["-f", "-"]), Some(fw.as_bytes())).with_context(|| format!("nft on {gw} (the rendered input rule)"))?;

    let mut u = in_ns(&gns, "unbound");
    u.args(["-d", "-c"]).arg(&conf_path);
    cx.lab.spawn("ingress-unbound", u)?;
    let port: u16 = res["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(53);
    let up = wait(20, || tcp_up(&gns, port));
    checks.push(check(format!("unbound listens on {listen}:{port}"), gw, "up", if up { "up" } else { "down (see ingress-unbound.log)" }));
    if !up {
        return Ok(checks);
    }

    // One name per name space, from every client through the tunnel.
    let ingress = records.first().map(|r| s(r, "address")).unwrap_or_default();
    let per_zone: Vec<String> = zones
        .iter()
        .filter_map(|z| records.iter().map(|r| s(r, "name")).find(|n| n.strip_suffix(z.as_str()).is_some_and(|p| p.ends_with('.') && !p[..p.len() - 1].contains('.'))))
        .collect();
    checks.push(check("a name in every name space", gw, zones.len().to_string(), per_zone.len().to_string()));
    let outside = "hearth-lab-outside.example.org";
    for (i, c) in cx.plan.clients.iter().filter(|c| c.connects).enumerate() {
        let cns = cx.lab.ns(&c.name)?;
        for name in &per_zone {
            checks.push(check(format!("dig @{listen} {name}"), &c.name, format!("NOERROR {ingress}"), dig(&cns, listen, port, name, false, 3).show()));
        }
        if i == 0 {
            if let Some(name) = per_zone.first() {
                checks.push(check(format!("dig +tcp @{listen} {name}"), &c.name, format!("NOERROR {ingress}"), dig(&cns, listen, port, name, true, 3).show()));
            }
            // Not answered with an address: outside every name space, and a
            // name of a space that no site serves (a host record the
            // LAN resolvers hold is not shadowed by the ingress's address).
            let unserved = zones.first().map(|z| format!("hearth-lab-unserved.{z}"));
            for name in [Some(outside.to_string()), unserved].into_iter().flatten() {
                let got = dig(&cns, listen, port, &name, false, 6);
                let seen = if got.a.is_empty() && ["REFUSED", "NXDOMAIN", "SERVFAIL"].contains(&got.status.as_str()) { "no A record".to_string() } else { got.show() };
                checks.push(check(format!("dig @{listen} {name}"), &c.name, "no A record", seen));
            }
        }
    }
    // A LAN host (not the gateway, not the ingress) is refused: the
    // resolver is for the VPN only. The route to the gateway's VPN address
    // goes with the namespace.
    let lan =
        cx.plan.nodes.iter().find(|n| n.kind == NodeKind::LanHost && n.name != gw && n.lan_address.is_some() && n.lan_address.map(|a| a.to_string()) != Some(ingress.clone()));
    if let (Some(lan), Some(gaddr), Some(name)) = (lan, gh.address, per_zone.first()) {
        let lns = cx.lab.ns(&lan.name)?;
        run(in_ns(&lns, "ip").args(["route", "replace", &format!("{listen}/32"), "via", &gaddr.to_string()])).with_context(|| format!("route to {listen} on {}", lan.name))?;
        let got = dig(&lns, listen, port, name, false, 3);
        checks.push(check(format!("dig @{listen} {name} from the LAN (access-control)"), &lan.name, "REFUSED (no A record)", got.show()));
    }
    // The rendered input rule is what lets the clients in: without it (the
    // firewall's drop alone) the same query gets nothing.
    if let (Some(c), Some(name)) = (cx.plan.clients.iter().find(|c| c.connects), per_zone.first()) {
        let rule = format!("iifname \"{iface}\" counter drop");
        run(in_ns(&gns, "nft").args(["flush", "chain", "inet", "hearth-lab-firewall", "nixos_fw"])).context("removing the input rule")?;
        run(in_ns(&gns, "nft").args(["add", "rule", "inet", "hearth-lab-firewall", "nixos_fw"]).args(rule.split(' '))).context("removing the input rule")?;
        let got = dig(&cx.lab.ns(&c.name)?, listen, port, name, false, 1);
        checks.push(check(format!("dig @{listen} {name} without the input rule"), &c.name, "TIMEOUT (no A record)", got.show()));
    }
    // The names-only variant (what an inventory without network.resolvers
    // renders), on a second port past the firewall stand-in: an unserved
    // name of a name space is NXDOMAIN, any other name REFUSED.
    if let (Some(c), Some(name), Some(zone)) = (cx.plan.clients.iter().find(|c| c.connects), per_zone.first(), zones.first()) {
        const ONLY_PORT: u16 = 5353;
        let only = write_conf(&format!("host.hearth.ingress.resolver // {{ forward = [ ]; port = {ONLY_PORT}; }}"), "unbound-names-only")?;
        let mut u = in_ns(&gns, "unbound");
        u.args(["-d", "-c"]).arg(&only);
        cx.lab.spawn("ingress-unbound-names-only", u)?;
        let up = wait(20, || tcp_up(&gns, ONLY_PORT));
        checks.push(check(format!("unbound (names only) listens on {listen}:{ONLY_PORT}"), gw, "up", if up { "up" } else { "down (see ingress-unbound-names-only.log)" }));
        if up {
            let cns = cx.lab.ns(&c.name)?;
            for (q, expected) in [
                (name.clone(), format!("NOERROR {ingress}")),
                (format!("hearth-lab-unserved.{zone}"), "NXDOMAIN (no A record)".into()),
                (outside.to_string(), "REFUSED (no A record)".into()),
            ] {
                checks.push(check(format!("dig -p {ONLY_PORT} @{listen} {q} (names only)"), &c.name, expected, dig(&cns, listen, ONLY_PORT, &q, false, 3).show()));
            }
        }
    }
    Ok(checks)
}

fn proxy_checks(cx: &LabCx, host: &str) -> Res<Vec<Check>> {
    let cfg = cx.eval(host, "host.hearth.ingress")?;
    if s(&cfg, "backend") != "caddy" {
        return Ok(vec![check("backend", host, "caddy (Traefik has no Debian package: renderer tests and checks/vm/ingress.nix)", format!("SKIPPED: {}", s(&cfg, "backend")))]);
    }
    let ns = cx.lab.ns(host)?;
    let dir = cx.lab.dir.join("ingress");
    std::fs::create_dir_all(dir.join("secrets")).with_context(|| format!("creating {}", dir.join("secrets").display()))?;
    for d in ["certs", "lego", "caddy-home"] {
        std::fs::create_dir_all(dir.join(d)).with_context(|| format!("creating {}", dir.join(d).display()))?;
    }
    let mut checks = vec![];
    let addr: Ipv4Addr = s(&cfg, "address").parse().map_err(|_| LabError::Rendered {
        expr: "host.hearth.ingress.address".into(),
        value: cfg["address"].to_string(),
        expected: "an IPv4 address",
    })?;

    // 1. The CA's own TLS certificate (pebble serves ACME over HTTPS only).
    let (ca_cert, ca_key) = (dir.join("pebble-tls.pem"), dir.join("pebble-tls.key"));
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=hearth-lab pebble",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
        ])
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca_cert))
    .context("the test CA's own TLS certificate (openssl)")?;
    let pebble_cfg = serde_json::json!({ "pebble": {
        "listenAddress": format!("127.0.0.1:{ACME_PORT}"),
        "managementListenAddress": format!("127.0.0.1:{ACME_MGMT_PORT}"),
        "certificate": ca_cert, "privateKey": ca_key,
        "httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false
    }});
    std::fs::write(dir.join("pebble.json"), pebble_cfg.to_string()).with_context(|| format!("writing {}", dir.join("pebble.json").display()))?;

    // 2. challtestsrv (DNS + its management API) and pebble, on loopback.
    let mut dns = in_ns(&ns, "pebble-challtestsrv");
    dns.args([
        "-dns01",
        &format!("127.0.0.1:{DNS_PORT}"),
        "-management",
        &format!("127.0.0.1:{DNS_MGMT_PORT}"),
        "-http01",
        "",
        "-https01",
        "",
        "-tlsalpn01",
        "",
        "-defaultIPv4",
        &addr.to_string(),
    ]);
    cx.lab.spawn("ingress-challtestsrv", dns)?;
    let mut ca = in_ns(&ns, "pebble");
    ca.args(["-config"]).arg(dir.join("pebble.json")).args(["-dnsserver", &format!("127.0.0.1:{DNS_PORT}")]);
    ca.env("PEBBLE_VA_NOSLEEP", "1").env("PEBBLE_WFE_NONCEREJECT", "0");
    cx.lab.spawn("ingress-pebble", ca)?;
    let up = wait(20, || tcp_up(&ns, ACME_PORT) && tcp_up(&ns, DNS_MGMT_PORT));
    checks.push(check("pebble and challtestsrv listen", host, "up", if up { "up" } else { "down" }));
    if !up {
        return Ok(checks);
    }

    // 3. lego, DNS-01 through the exec provider, one wildcard per name space.
    let hook = dir.join("lego-exec.sh");
    let script = format!(
        "#!/bin/sh\n# lego exec provider: present|cleanup FQDN VALUE -> pebble-challtestsrv\ncase \"$1\" in\n  present) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{DNS_MGMT_PORT}/set-txt ;;\n  cleanup) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\"}}\" http://127.0.0.1:{DNS_MGMT_PORT}/clear-txt ;;\nesac\n"
    );
    std::fs::write(&hook, script).with_context(|| format!("writing {}", hook.display()))?;
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o700)).with_context(|| format!("chmod 700 {}", hook.display()))?;
    let certs: Vec<Json> = cfg.get("certificates").and_then(Json::as_array).cloned().unwrap_or_default();
    for c in &certs {
        let name = s(c, "name");
        let args = cx.eval(host, &format!("lib.ingress.legoArgs host.hearth.ingress {}", crate::nix::print(&crate::nix::Value::str(name.clone())).trim()))?;
        let mut args: Vec<String> = args.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default();
        // The lab's differences, all in the option values NixOS exposes:
        // server (security.acme.certs.<n>.server), provider and its
        // environment (dnsProvider, environmentFile), resolver
        // (dnsResolver), propagation check off (dnsPropagationCheck; Debian's
        // lego 4.9 spells the flag --dns.disable-cp), --path (the unit's
        // working directory).
        let mut i = 0;
        while i + 1 < args.len() {
            match args[i].as_str() {
                "--server" => args[i + 1] = format!("https://127.0.0.1:{ACME_PORT}/dir"),
                "--dns" => args[i + 1] = "exec".into(),
                "--path" => args[i + 1] = dir.join("lego").join(&name).to_string_lossy().into_owned(),
                _ => {}
            }
            i += 1;
        }
        args.retain(|a| a != "--dns.propagation-disable-ans");
        let run_at = args.iter().position(|a| a == "run").unwrap_or(args.len());
        args.splice(run_at..run_at, ["--dns.disable-cp".to_string(), "--dns.resolvers".into(), format!("127.0.0.1:{DNS_PORT}")]);
        let mut lego = in_ns(&ns, "lego");
        lego.args(&args).env("LEGO_CA_CERTIFICATES", &ca_cert).env("EXEC_PATH", &hook).env("EXEC_POLLING_INTERVAL", "1").env("EXEC_PROPAGATION_TIMEOUT", "10");
        let out = lego.output().map_err(|e| LabError::spawn(&lego, e))?;
        let keyname = s(c, "domain").replace('*', "_");
        let crt = dir.join("lego").join(&name).join("certificates").join(format!("{keyname}.crt"));
        let key = dir.join("lego").join(&name).join("certificates").join(format!("{keyname}.key"));
        let ok = out.status.success() && crt.exists() && key.exists();
        if !ok && cx.verbose {
            eprintln!("lego for {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        checks.push(check(
            format!("lego DNS-01 issues {}", s(c, "domain")),
            host,
            "issued",
            if ok { "issued".to_string() } else { format!("failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")) },
        ));
        if !ok {
            return Ok(checks);
        }
        // As the acme module installs them: cert.pem (full chain) and key.pem.
        let cd = dir.join("certs").join(&name);
        std::fs::create_dir_all(&cd).with_context(|| format!("creating {}", cd.display()))?;
        std::fs::copy(&crt, cd.join("cert.pem")).with_context(|| format!("copying {}", crt.display()))?;
        std::fs::copy(&key, cd.join("key.pem")).with_context(|| format!("copying {}", key.display()))?;
    }
    // pebble's issuing root: what clients verify against.
    let root_pem = dir.join("pebble-root.pem");
    let got = Command::new("ip")
        .args(["netns", "exec", &ns, "curl", "-sf", "--cacert"])
        .arg(&ca_cert)
        .arg(format!("https://127.0.0.1:{ACME_MGMT_PORT}/roots/0"))
        .arg("-o")
        .arg(&root_pem)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    checks.push(check("pebble's root fetched", host, "yes", if got { "yes" } else { "no" }));
    if !got {
        return Ok(checks);
    }

    // 4. Secrets (basic-auth users: bcrypt hashes) into the lab's private directory.
    let sites: Vec<Json> = cfg.get("sites").and_then(Json::as_array).cloned().unwrap_or_default();
    for site in &sites {
        if let Some(name) = site.pointer("/auth/basicSecret").and_then(Json::as_str) {
            let p = dir.join("secrets").join(name);
            if p.exists() {
                continue;
            }
            let v = (cx.decrypt)(&Secret::AgeFile(Path::new(host).join(format!("{name}.age")))).with_context(|| format!("secret {name}"))?;
            write_private(&p, v.as_bytes())?;
        }
    }

    // 5. The route back the module adds (no masquerade towards the ingress).
    if let Some(rb) = cfg.get("routeBack").filter(|v| !v.is_null()) {
        run(in_ns(&ns, "ip").args(["route", "replace", &s(rb, "destination"), "via", &s(rb, "via")])).context("route back")?;
    }
    // The lab's LAN hosts send every incoming TCP port to the core
    // responder; an earlier NAT chain keeps 80/443 for Caddy (a NAT binding
    // made there ends the NAT hook's walk).
    let keep = format!(
        "table ip hearth-lab-ingress {{\n  chain prerouting {{\n    type nat hook prerouting priority dstnat - 10; policy accept;\n    tcp dport {{ {}, {} }} redirect\n  }}\n}}\n",
        cfg["httpPort"], cfg["httpsPort"]
    );
    run_input(in_ns(&ns, "nft").args(["-f", "-"]), Some(keep.as_bytes())).with_context(|| format!("nft on {host}"))?;

    // 6. Backends: each answers the ingress with its own name and echoes
    // the Remote-User it was sent. The forward-auth service's address gets
    // the Authelia stand-in (lab_forward.rs), which also serves the portal's
    // own site, if any.
    let forward = Forward::of(cx, &cfg, &sites);
    let mut upstreams: Vec<String> = sites.iter().map(|x| s(x, "upstream")).collect();
    upstreams.extend(forward.as_ref().map(|f| f.upstream.clone()));
    let mut seen_backends = std::collections::BTreeSet::new();
    for up in upstreams {
        let Some((bhost, bport)) = up.split("://").nth(1).and_then(|r| r.rsplit_once(':')) else { continue };
        if !seen_backends.insert(up.clone()) {
            continue;
        }
        let Some(node) = cx.plan.nodes.iter().find(|n| n.lan_address.map(|a| a.to_string()) == Some(bhost.to_string())) else {
            if forward.as_ref().is_some_and(|f| f.upstream == up) {
                checks.push(check("forward-auth stand-in placed", host, format!("on the lab host at {bhost}"), "no lab host has that address"));
                return Ok(checks);
            }
            continue;
        };
        let bns = cx.lab.ns(&node.name)?;
        let port: u16 = bport.parse().unwrap_or(0);
        let local = BACKEND_PORT + (seen_backends.len() as u16);
        let rules = format!(
            "table ip hearth-lab-ingress-{port} {{\n  chain prerouting {{\n    type nat hook prerouting priority dstnat - 10; policy accept;\n    ip saddr {addr} tcp dport {port} redirect to :{local}\n  }}\n}}\n"
        );
        run_input(in_ns(&bns, "nft").args(["-f", "-"]), Some(rules.as_bytes())).with_context(|| format!("nft on {}", node.name))?;
        let body = format!("hearth-lab backend {}:{port}", node.name);
        let is_auth = forward.as_ref().filter(|f| f.upstream == up);
        if let Some(f) = is_auth {
            f.start(cx, &dir, &bns, local, &body)?;
        } else {
            let mut b = in_ns(&bns, "caddy");
            b.args(["respond", "--listen", &format!(":{local}"), "--body", &body, "--header", &format!("{}: {{http.request.header.Remote-User}}", fwd::ECHO)]);
            b.env("HOME", dir.join("caddy-home")).env("XDG_DATA_HOME", dir.join("caddy-home")).env("XDG_CONFIG_HOME", dir.join("caddy-home"));
            cx.lab.spawn(&format!("ingress-backend-{}-{port}", node.name), b)?;
        }
        if !wait(10, || tcp_up(&bns, local)) {
            let what = if is_auth.is_some() { "forward-auth stand-in (Caddy as Authelia) listens" } else { "backend stand-in listens" };
            checks.push(check(what, &node.name, "up", "down"));
            return Ok(checks);
        }
    }

    // 7. Caddy with the rendered JSON config, its basic-auth hashes in its
    // environment from the file the rendered script writes (as the NixOS
    // module's ExecStartPre and EnvironmentFile do).
    let d = dir.to_string_lossy();
    let config = cx.eval(host, &format!("lib.ingress.caddyJson {{ cfg = host.hearth.ingress; certDir = n: \"{d}/certs/\" + n; }}"))?;
    let config = config.as_str().ok_or_else(|| LabError::Rendered { expr: "lib.ingress.caddyJson".into(), value: config.to_string(), expected: "text" })?;
    let config_path = dir.join("caddy.json");
    std::fs::write(&config_path, config).with_context(|| format!("writing {}", config_path.display()))?;
    let env_path = dir.join("secrets").join("caddy.env");
    let script = cx.eval(host, &format!("lib.ingress.caddyBasicEnv {{ cfg = host.hearth.ingress; secretPath = n: \"{d}/secrets/\" + n; out = \"{}\"; }}", env_path.display()))?;
    let script = script.as_str().ok_or_else(|| LabError::Rendered { expr: "lib.ingress.caddyBasicEnv".into(), value: script.to_string(), expected: "text" })?;
    let written = match run_input(std::process::Command::new("bash").arg("-s"), Some(script.as_bytes())) {
        Ok(_) if env_path.exists() => "written".to_string(),
        Ok(_) => "the script wrote nothing".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    checks.push(check("the basic-auth environment is written from the secrets", host, "written", &written));
    if written != "written" {
        return Ok(checks);
    }
    let mut caddy = in_ns(&ns, "bash");
    caddy.args(["-c", "set -a; . \"$0\"; set +a; exec caddy run --config \"$1\""]).arg(&env_path).arg(&config_path);
    caddy.env("HOME", dir.join("caddy-home")).env("XDG_DATA_HOME", dir.join("caddy-home")).env("XDG_CONFIG_HOME", dir.join("caddy-home"));
    cx.lab.spawn("ingress-caddy", caddy)?;
    let up = wait(20, || tcp_up(&ns, 443) && tcp_up(&ns, 80));
    checks.push(check("caddy runs the rendered JSON config", host, "listening on 80 and 443", if up { "listening on 80 and 443" } else { "not listening (see caddy log)" }));
    if !up {
        return Ok(checks);
    }

    // 8. Every client, every web service, by name through the tunnel.
    let al = crate::policy::allowlist(cx.inv);
    let password = std::fs::read_to_string(cx.root.join("test-keys").join("ingress-basic-nzbget-TEST-ONLY.txt")).ok().map(|p| p.trim().to_string());
    let vpn_sites: Vec<&Json> = sites.iter().filter(|x| !s(x, "name").ends_with("_lan")).collect();
    let mut spoof_tried = false;
    for c in &cx.plan.clients {
        if !c.connects {
            continue;
        }
        let cns = cx.lab.ns(&c.name)?;
        for site in &vpn_sites {
            let svc = s(site, "name");
            let Some(def) = cx.inv.services.get(&svc) else { continue };
            let baddr = cx.inv.hosts.get(&def.host).and_then(|h| h.address);
            let bport = super::web_port(def);
            let allowed = match (baddr, bport) {
                (Some(a), Some(p)) => crate::policy::decide(&al, c.address, a, "tcp", p).is_some(),
                _ => false,
            };
            let ingress_ok = crate::policy::decide(&al, c.address, addr, "tcp", 443).is_some();
            let name = s(site, "host");
            let basic = site.pointer("/auth/type").and_then(Json::as_str) == Some("basic");
            let backend = format!("hearth-lab backend {}:{}", def.host, bport.unwrap_or(0));
            let denied = if !ingress_ok {
                Some("000 (no connection)".to_string())
            } else if !allowed {
                Some("403".to_string())
            } else {
                None
            };
            if let (true, Some(f)) = (fwd::is_forward(site), &forward) {
                checks.extend(forward_checks(&cns, &c.name, &name, addr, &root_pem, f, &backend, denied.clone(), &mut spoof_tried));
                continue;
            }
            let (code, body) = curl(&cns, &format!("https://{name}/"), &name, 443, addr, &root_pem, None);
            let expected = if let Some(d) = denied {
                d
            } else if basic {
                "401".to_string()
            } else {
                format!("200 {backend}")
            };
            let seen = match code.as_str() {
                "000" => "000 (no connection)".to_string(),
                "200" => format!("200 {}", body.trim()),
                other => other.to_string(),
            };
            checks.push(check(format!("https://{name}/ (TLS verified against pebble's root)"), &c.name, expected, seen));
            if basic && allowed {
                if let (Some(pw), Some(user)) = (&password, def.auth_users.first()) {
                    let (code, body) = curl(&cns, &format!("https://{name}/"), &name, 443, addr, &root_pem, Some(&format!("{user}:{pw}")));
                    checks.push(check(format!("https://{name}/ with {user}'s password"), &c.name, format!("200 {backend}"), format!("{code} {}", body.trim())));
                    let (code, _) = curl(&cns, &format!("https://{name}/"), &name, 443, addr, &root_pem, Some(&format!("{user}:wrong")));
                    checks.push(check(format!("https://{name}/ with a wrong password"), &c.name, "401", code));
                }
            }
        }
        // A name under the wildcard that no site serves: the connection is closed.
        if let Some(site) = vpn_sites.first() {
            if crate::policy::decide(&al, c.address, addr, "tcp", 443).is_some() {
                let base = s(site, "host").split_once('.').map(|(_, b)| b.to_string()).unwrap_or_default();
                let name = format!("hearth-lab-unknown.{base}");
                let (code, _) = curl(&cns, &format!("https://{name}/"), &name, 443, addr, &root_pem, None);
                checks.push(check(format!("https://{name}/ (no such site)"), &c.name, "000 (no answer)", if code == "000" { "000 (no answer)".to_string() } else { code }));
                // A served name sent in capitals in the Host header: the
                // class map compares exactly, so no class and no backend
                // (the connection is closed), never another site's answer.
                let name = s(site, "host");
                let shout = name.split_once('.').map(|(a, b)| format!("{}.{b}", a.to_uppercase())).unwrap_or_default();
                let r = fwd::fetch_url(&cns, &format!("https://{name}/"), &name, 443, addr, &root_pem, &format!("header = \"Host: {shout}\"\n"));
                checks.push(check(
                    format!("https://{name}/ with Host: {shout}"),
                    &c.name,
                    "000 (no answer)",
                    if r.code == "000" { "000 (no answer)".to_string() } else { r.show() },
                ));
            }
        }
        // Plain HTTP redirects to HTTPS.
        if let Some(site) = vpn_sites.first() {
            if crate::policy::decide(&al, c.address, addr, "tcp", 80).is_some() {
                let name = s(site, "host");
                let out = in_ns(&cns, "curl")
                    .args([
                        "-s",
                        "-o",
                        "/dev/null",
                        "--connect-timeout",
                        "4",
                        "--max-time",
                        "10",
                        "-w",
                        "%{http_code} %{redirect_url}",
                        "--resolve",
                        &format!("{name}:80:{addr}"),
                        &format!("http://{name}/"),
                    ])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                checks.push(check(format!("http://{name}/ redirects"), &c.name, format!("308 https://{name}/"), out.trim()));
            }
        }
    }
    // LAN hosts: the .lan. names are open to the LAN; the VPN names are not.
    if let Some(lan) = cx.plan.nodes.iter().find(|n| n.kind == NodeKind::LanHost && n.name != host && n.lan_address.is_some()) {
        let lns = cx.lab.ns(&lan.name)?;
        let lan_open = cx.inv.ingress.lan_open;
        // The first two LAN sites, and the first forward-auth one if neither is.
        let lan_sites: Vec<&Json> = sites.iter().filter(|x| s(x, "name").ends_with("_lan")).collect();
        let mut pick: Vec<&Json> = lan_sites.iter().take(2).copied().collect();
        if !pick.iter().any(|x| fwd::is_forward(x)) {
            pick.extend(lan_sites.iter().find(|x| fwd::is_forward(x)).copied());
        }
        for site in pick {
            let name = s(site, "host");
            let svc = s(site, "name").trim_end_matches("_lan").to_string();
            let basic = site.pointer("/auth/type").and_then(Json::as_str) == Some("basic");
            let def = &cx.inv.services[&svc];
            if let (true, Some(f)) = (fwd::is_forward(site), &forward) {
                // Without a session: the LAN name space's portal (or 403 where the LAN is closed).
                let got = fwd::fetch(&lns, &name, addr, &root_pem, "");
                let expected = if lan_open { f.login(&name) } else { "403".into() };
                checks.push(check(format!("https://{name}/ from the LAN without a session (forward auth)"), &lan.name, expected, got.show()));
                continue;
            }
            let expected = if !lan_open {
                "403".into()
            } else if basic {
                "401".into()
            } else {
                format!("200 hearth-lab backend {}:{}", def.host, super::web_port(def).unwrap_or(0))
            };
            let (code, body) = curl(&lns, &format!("https://{name}/"), &name, 443, addr, &root_pem, None);
            checks.push(check(format!("https://{name}/ from the LAN"), &lan.name, expected, if code == "200" { format!("200 {}", body.trim()) } else { code }));
        }
        if let Some(site) = vpn_sites.first() {
            let name = s(site, "host");
            let (code, _) = curl(&lns, &format!("https://{name}/"), &name, 443, addr, &root_pem, None);
            checks.push(check(format!("https://{name}/ (a VPN name) from the LAN"), &lan.name, "403", code));
        }
    }
    Ok(checks)
}

/// One forward-auth site from one client: without a session the auth
/// service's answer (a 302 to the portal) and never the backend's body; with
/// the lab's session the backend's body, and the backend saw the session's
/// `Remote-User`; a wrong session is a stranger; a peer the allow list
/// denies gets 403 (or no connection) with the session too: the allow list
/// is enforced before anyone is asked. Once per run, a client's own
/// `Remote-User` header is replaced by the auth service's.
#[allow(clippy::too_many_arguments)]
fn forward_checks(cns: &str, client: &str, name: &str, addr: Ipv4Addr, ca: &Path, f: &Forward, backend: &str, denied: Option<String>, spoof_tried: &mut bool) -> Vec<Check> {
    let mut out = vec![];
    let anon = fwd::fetch(cns, name, addr, ca, "");
    let session = fwd::fetch(cns, name, addr, ca, &fwd::with_session(f, None));
    let ok = format!("200 {backend} (Remote-User {})", f.user);
    match denied {
        Some(d) => {
            out.push(check(format!("https://{name}/ without a session (forward auth; allow list first)"), client, d.clone(), anon.show()));
            out.push(check(format!("https://{name}/ with the session (forward auth; allow list first)"), client, d, session.show()));
        }
        None => {
            out.push(check(format!("https://{name}/ without a session (forward auth)"), client, f.login(name), anon.show()));
            out.push(check(format!("https://{name}/ with the session (forward auth, Remote-User copied)"), client, ok.clone(), session.show()));
            let wrong = fwd::fetch(cns, name, addr, ca, &format!("cookie = \"{}=hearth-lab-wrong\"\n", fwd::COOKIE));
            out.push(check(format!("https://{name}/ with a wrong session (forward auth)"), client, f.login(name), wrong.show()));
            if !*spoof_tried {
                *spoof_tried = true;
                let spoof = fwd::fetch(cns, name, addr, ca, &fwd::with_session(f, Some("hearth-lab-mallory")));
                out.push(check(format!("https://{name}/ with the session and its own Remote-User (forward auth)"), client, ok, spoof.show()));
            }
        }
    }
    out
}
