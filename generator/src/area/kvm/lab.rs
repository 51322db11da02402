//! The kvm area's lab stage. The TESmart simulator (`hearth kvm simulate`)
//! runs in the lab node standing in for the switch, at the switch's LAN
//! address, and a responder on the PiKVM's web port in the PiKVM's node
//! (`Device` nodes, see `Area::lab_devices`; the lab starts both at
//! bring-up, so the example's ACL tests of `kvm-web` and `kvm-switch` meet
//! something listening). Then, on real packets through the tunnel and the
//! gateway's allowlist:
//!
//! - an allowed client (the laptop) runs `hearth kvm switch HOST` and
//!   `hearth kvm status` with the inventory, as a user would; the
//!   simulator's state confirms the switch;
//! - the bastion runs `hearth kvm --map FILE switch HOST` with the map the
//!   renderer (`lib.kvm.switchMap`) makes from its `hearth.kvm`: what the
//!   module's `hearth-kvm` command runs;
//! - a client the policy does not allow (the phone) is refused by the
//!   firewall: every one of three attempts times out (a drop, not a
//!   refusal by the switch) and the switch's port is unchanged.
//!
//! The lab started the simulator with `Lab::spawn`, so teardown stops it;
//! the map file lives in the lab's directory, which teardown removes.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::{tesmart, KvmError, LabCx, Setup, LAB_SWITCH_NODE};
use crate::lab::bastion::Check;
use crate::lab::error::{chain, Context, LabError};
use crate::lab::exec::in_ns;

/// What the kvm stage itself finds wrong (besides the lab's own errors);
/// it reaches the report as a [`LabError::Area`] of `kvm`.
#[derive(Debug, thiserror::Error)]
pub enum KvmLabError {
    #[error(transparent)]
    Setup(#[from] KvmError),
    #[error("the switch's address {addr} is not IPv4; the lab is IPv4 only")]
    NotIpv4 { addr: SocketAddr },
    #[error("no host is cabled to the KVM switch ([kvm.hosts]): nothing to switch to")]
    NoHost,
    #[error("the switch at {addr}")]
    Switch { addr: SocketAddr, source: tesmart::Error },
}

impl From<KvmLabError> for LabError {
    fn from(e: KvmLabError) -> LabError {
        LabError::area("kvm", e)
    }
}

/// Runs `hearth ARGS` in a namespace: (success, stdout + stderr).
fn hearth_in(cx: &LabCx, ns: &str, args: &[&str]) -> Result<(bool, String), LabError> {
    let mut c = in_ns(ns, &cx.lab.exe.to_string_lossy());
    c.args(args).env_remove("HEARTH_INVENTORY");
    let out = c.output().map_err(|e| LabError::spawn(&c, e))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text.trim().to_string()))
}

/// The active port, asked from inside the switch's own namespace.
fn active_in(ns: &str, sw: &tesmart::Switch) -> Result<u8, LabError> {
    let sw = sw.clone();
    crate::lab::probe::in_netns(ns, move || sw.active().map_err(|source| KvmLabError::Switch { addr: sw.addr, source }.into()))
}

fn check(name: &str, from: &str, expected: &str, seen: String, ok: bool) -> Check {
    Check { name: name.into(), from: from.into(), expected: expected.into(), seen, ok }
}

/// The laptop switches to this host, the bastion to `hosts[1]`, the phone
/// tries one that is not on screen (three ports when three are cabled).
fn laptop_target(s: &Setup) -> Option<(String, u8)> {
    s.hosts.get(2.min(s.hosts.len().saturating_sub(1))).cloned()
}

/// The port the simulator starts on: not the laptop's target, so that its
/// switch shows.
pub fn start_port(inv: &crate::inventory::Inventory) -> u8 {
    match Setup::from_inventory(inv).ok().as_ref().and_then(laptop_target) {
        Some((_, 1)) => 2,
        _ => 1,
    }
}

pub fn stage(cx: &LabCx) -> Result<Vec<Check>, LabError> {
    let inv = cx.inv;
    let setup = Setup::from_inventory(inv).map_err(KvmLabError::from)?;
    let sw = setup.switch.clone();
    let SocketAddr::V4(addr) = sw.addr else { return Err(KvmLabError::NotIpv4 { addr: sw.addr }.into()) };
    let ns_sw = cx.lab.ns(LAB_SWITCH_NODE)?;
    let inventory = cx.root.canonicalize().with_context(|| format!("repository {}", cx.root.display()))?.join("inventory.toml");
    let inv_arg = inventory.to_string_lossy().into_owned();
    let n = setup.hosts.len();
    if n == 0 {
        return Err(KvmLabError::NoHost.into());
    }
    // The laptop switches to `a`, the bastion to `b`, the phone tries `c`
    // (three different ports when three hosts are cabled).
    let Some((a_host, a_port)) = laptop_target(&setup) else { return Err(KvmLabError::NoHost.into()) };
    let (b_host, b_port) = setup.hosts[1.min(n - 1)].clone();
    let start = start_port(inv);
    let mut out = vec![];

    // The simulator (started by the lab at bring-up) answers at the
    // switch's address with its start port.
    let t0 = Instant::now();
    let first = loop {
        match active_in(&ns_sw, &tesmart::Switch { timeout: Duration::from_secs(1), ..sw.clone() }) {
            Ok(p) => break Ok(p),
            Err(e) if t0.elapsed() > Duration::from_secs(10) => break Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let first = first.map_err(|e| chain(&e));
    let up = first.as_ref().map(|p| *p == start).unwrap_or(false);
    out.push(check("simulator answers at the switch's address", LAB_SWITCH_NODE, &format!("port {start} active"), format!("{first:?}"), up));
    if !up {
        return Ok(out);
    }

    // Who the policy lets reach the switch's port, and who not.
    let al = crate::policy::allowlist(inv);
    let may = |a: Ipv4Addr| crate::policy::reachable(&al, a).iter().any(|(to, proto, r, _)| *to == *addr.ip() && *proto == "tcp" && r.contains(addr.port()));
    let allowed = cx.plan.clients.iter().find(|c| c.connects && may(c.address));
    let denied = cx.plan.clients.iter().find(|c| c.connects && !may(c.address));

    if let Some(c) = allowed {
        let ns = cx.lab.ns(&c.name)?;
        // A packet lost in the tunnel is not a refusal: up to three tries.
        let mut last = (false, String::new());
        let mut took = Duration::ZERO;
        for _ in 0..3 {
            let t = Instant::now();
            last = hearth_in(cx, &ns, &["--inventory", &inv_arg, "kvm", "switch", &a_host])?;
            took = t.elapsed();
            if last.0 {
                break;
            }
        }
        let now = active_in(&ns_sw, &sw).map_err(|e| chain(&e));
        let ok = last.0 && now == Ok(a_port);
        out.push(check(
            &format!("hearth kvm switch {a_host}"),
            &c.name,
            &format!("switched, port {a_port} active"),
            format!("{} in {:.2} s; switch reports {now:?}", last.1, took.as_secs_f64()),
            ok,
        ));
        let (ok, text) = hearth_in(cx, &ns, &["--inventory", &inv_arg, "kvm", "status", "--json"])?;
        let want = serde_json::json!({ "host": a_host, "port": a_port }).to_string();
        out.push(check("hearth kvm status", &c.name, &want, text.clone(), ok && text == want));
    } else {
        out.push(check("hearth kvm switch", "-", "a VPN client allowed to reach the switch", "none in this inventory".into(), false));
    }

    // The bastion's command: `hearth kvm --map` with the renderer's map.
    if let Some((bastion, _)) = inv.bastion() {
        let map = cx.eval(bastion, "lib.kvm.switchMap host.hearth.kvm")?;
        let file = cx.lab.dir.join("kvm.json");
        crate::fsutil::write_atomic(&file, map.to_string().as_bytes()).with_context(|| format!("writing {}", file.display()))?;
        let ns = cx.lab.ns(bastion)?;
        let t = Instant::now();
        let (ok, text) = hearth_in(cx, &ns, &["kvm", "--map", &file.to_string_lossy(), "switch", &b_host])?;
        let took = t.elapsed();
        let now = active_in(&ns_sw, &sw).map_err(|e| chain(&e));
        out.push(check(
            &format!("hearth-kvm switch {b_host} (lib.kvm.switchMap)"),
            bastion,
            &format!("switched, port {b_port} active"),
            format!("{text} in {:.2} s; switch reports {now:?}", took.as_secs_f64()),
            ok && now == Ok(b_port),
        ));
    }

    // A client the policy does not allow: the firewall drops it, every time.
    if let Some(c) = denied {
        let ns = cx.lab.ns(&c.name)?;
        let before = active_in(&ns_sw, &sw).map_err(|e| chain(&e));
        // A host that is not on screen now, so that a switch would show.
        let now = before.as_ref().ok().copied();
        let target = setup.hosts.iter().find(|(_, p)| Some(*p) != now).map(|(h, _)| h.clone()).unwrap_or_else(|| a_host.clone());
        let mut seen = vec![];
        let mut all_dropped = true;
        for _ in 0..3 {
            let (ok, text) = hearth_in(cx, &ns, &["--inventory", &inv_arg, "kvm", "--timeout", "2", "switch", &target])?;
            let dropped = !ok && text.contains("did not answer within");
            all_dropped &= dropped;
            seen.push(if dropped { "timed out".to_string() } else { text });
        }
        let after = active_in(&ns_sw, &sw).map_err(|e| chain(&e));
        let ok = all_dropped && before.is_ok() && before == after;
        out.push(check(
            &format!("hearth kvm switch {target}"),
            &c.name,
            "dropped by the firewall 3 of 3 times, switch unchanged",
            format!("{}; switch {before:?} -> {after:?}", seen.join(", ")),
            ok,
        ));
    } else {
        out.push(check("refused", "-", "a VPN client not allowed to reach the switch", "none in this inventory".into(), false));
    }
    Ok(out)
}
