//! `hearth lab`: the inventory brought up as network namespaces on one Linux
//! machine, with the WireGuard, nftables and sshd configuration hearth
//! renders, and the policy proved on real packets.
//!
//! - [`plan`]: the plain-data description of a lab; [`build`] makes one from
//!   a repository by evaluating `modules/lib/` on `hosts/*/hearth.nix`.
//! - [`exec`]: brings a plan up and down (state under /run/hearth-lab/).
//! - [`probe`]: the port matrix and ACL tests, from inside the clients'
//!   namespaces; [`bastion`]: the SSH 2FA checks.
//! - [`report`]: the table and the JSON report.

pub mod bastion;
pub mod build;
pub mod error;
pub mod exec;
pub mod plan;
pub mod probe;
pub mod report;

use std::collections::BTreeSet;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use error::{Context, Result};
pub use error::{LabError, PlanError};
use exec::Lab;
use plan::{Flow, LabPlan, NodeKind, Proto, Secret};
use report::{AclResult, ClientReport, Report, TargetReport, Timings};

/// A tool the lab runs, and the Debian package that has it.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nft", "nftables"),
    ("wg", "wireguard-tools"),
    ("wg-quick", "wireguard-tools"),
    ("wireguard-go", "wireguard-go"),
    ("sshd", "openssh-server"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("oathtool", "oathtool"),
    ("nix-instantiate", "nix-bin"),
    ("unshare", "util-linux"),
    ("useradd", "passwd"),
    ("userdel", "passwd"),
    ("sysctl", "procps"),
];

pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from)).map(|d| d.join(prog)).find(|p| p.is_file())
}

/// What is missing to run a lab here: root, tools (with the apt packages
/// that provide them). Empty when the lab can run.
pub fn preflight() -> Vec<String> {
    let mut missing = vec![];
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root: the lab creates network namespaces and users (run it with sudo)".to_string());
    }
    let mut absent: Vec<(&str, &str)> = TOOLS.iter().filter(|(t, _)| which(t).is_none()).copied().collect();
    if build::pam_dir().map(|d| !d.join("pam_google_authenticator.so").exists()).unwrap_or(true) {
        absent.push(("pam_google_authenticator.so", "libpam-google-authenticator"));
    }
    missing.extend(tools_message(&absent));
    if !Path::new("/dev/net/tun").exists() {
        missing.push("/dev/net/tun (wireguard-go needs the tun device)".into());
    }
    missing
}

/// "tools: a, b (apt-get install pkg1 pkg2)" for missing (tool, package) pairs.
pub fn tools_message(absent: &[(&str, &str)]) -> Option<String> {
    if absent.is_empty() {
        return None;
    }
    let pkgs: BTreeSet<&str> = absent.iter().map(|(_, p)| *p).collect();
    let tools: Vec<&str> = absent.iter().map(|(t, _)| *t).collect();
    Some(format!("tools: {} (apt-get install {})", tools.join(", "), pkgs.into_iter().collect::<Vec<_>>().join(" ")))
}

/// Options of a lab run.
pub struct RunOpts {
    pub inventory: PathBuf,
    pub identity: Option<PathBuf>,
    /// Removed peers' old configs: must get no handshake and reach nothing.
    pub revoked: Vec<build::Revoked>,
    /// The hearth binary (runs the LAN hosts' responders).
    pub exe: Option<PathBuf>,
    pub scan: probe::SynOpts,
    /// Print progress to stderr.
    pub verbose: bool,
    /// The areas whose lab stages run after the core checks (None: all).
    pub areas: Option<Vec<String>>,
}

fn decryptor(root: PathBuf, ids: crate::secrets::Identities) -> impl Fn(&Secret) -> Result<Zeroizing<String>> {
    move |s: &Secret| match s {
        Secret::Inline(v) => Ok(v.clone()),
        Secret::AgeFile(rel) => {
            let store = crate::secrets::SecretStore::open(root.join("secrets")).context("opening secrets/")?;
            let b = store.decrypt(&rel.to_string_lossy(), &ids).with_context(|| format!("decrypting secrets/{}", rel.display()))?;
            Ok(Zeroizing::new(String::from_utf8_lossy(b.expose()).into_owned()))
        }
    }
}

fn root_of(inventory: &Path) -> PathBuf {
    crate::fsutil::repo_root(inventory)
}

/// Set when a signal started the teardown: the run's own thread then leaves
/// the exit to the signal thread (130), instead of failing (1) on the
/// namespaces the teardown is removing under it.
static SIGNALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn wait_if_signalled() {
    while SIGNALLED.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::park_timeout(Duration::from_secs(1));
    }
}

/// Tears the lab down on SIGINT/SIGTERM/SIGHUP, then exits 130.
fn install_signal_teardown(lab: &Lab) -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing the lab's signal handler")?;
    let lab = lab.clone();
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            SIGNALLED.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!("hearth lab: signal {sig}, tearing down lab {}", lab.prefix);
            for p in lab.teardown() {
                eprintln!("hearth lab: teardown: {p}");
            }
            std::process::exit(130);
        }
    });
    Ok(())
}

/// Decrypts a plan's secrets (the identity is captured inside).
pub type Decrypt = Box<dyn Fn(&Secret) -> Result<Zeroizing<String>>>;

/// Creates a lab, builds the plan and brings it up. On error everything made
/// so far is removed.
pub fn bring_up(opts: &RunOpts) -> Result<(Lab, LabPlan, Decrypt)> {
    let missing = preflight();
    if !missing.is_empty() {
        return Err(LabError::Preflight { missing });
    }
    let ids = crate::secrets::load_identities(opts.identity.as_deref()).context("loading the identity that decrypts the lab's secrets (--identity)")?;
    let prefix = exec::new_prefix();
    let mut lab = Lab::create(&prefix)?;
    if let Some(exe) = &opts.exe {
        lab.exe = exe.clone();
    }
    install_signal_teardown(&lab)?;
    let bo = build::BuildOpts { inventory: &opts.inventory, identities: &ids, prefix: &prefix, dir: &lab.dir };
    let revoked: Vec<build::Revoked> = opts.revoked.iter().map(|r| build::Revoked { name: r.name.clone(), config: r.config.clone() }).collect();
    let plan = match build::build(&bo, revoked) {
        Ok(p) => p,
        Err(e) => {
            lab.teardown();
            return Err(e);
        }
    };
    let decrypt: Decrypt = Box::new(decryptor(root_of(&opts.inventory), ids));
    if opts.verbose {
        eprintln!("hearth lab {prefix}: {} namespaces, {} clients, {} LAN hosts", plan.nodes.len(), plan.clients.len(), plan.targets.len());
    }
    if let Err(e) = lab.up(&plan, &*decrypt) {
        let teardown = lab.teardown();
        return Err(if teardown.is_empty() { e } else { LabError::BringUp { source: Box::new(e), teardown } });
    }
    Ok((lab, plan, decrypt))
}

/// Packets counted by the lab's SYN counter on the gateway (a lab-only
/// table with no verdicts, see build.rs).
fn syn_counter(ns: &str, name: &str) -> Result<u64> {
    let out = exec::run(exec::in_ns(ns, "nft").args(["list", "counter", "inet", "hearth-lab-count", name]))?;
    out.split_whitespace().skip_while(|w| *w != "packets").nth(1).and_then(|n| n.parse().ok()).ok_or(LabError::Unreadable { what: "the lab's SYN counter", output: out })
}

/// The latest handshake (unix seconds, 0 = never) of every peer of a client.
fn handshakes(ns: &str, dev: &str) -> Result<Vec<u64>> {
    let out = exec::run(exec::in_ns(ns, "wg").args(["show", dev, "latest-handshakes"]))?;
    Ok(out.lines().filter_map(|l| l.split_whitespace().nth(1)?.parse().ok()).collect())
}

/// Sends a datagram from every client towards the LAN so that WireGuard
/// handshakes, then waits until every client that should connect has one.
fn warm_up(lab: &Lab, plan: &LabPlan) -> Result<Vec<bool>> {
    let t0 = Instant::now();
    let first = plan.targets.first().map(|t| SocketAddrV4::new(t.addr, exec::RESPONDER_PORT));
    let mut done = vec![false; plan.clients.len()];
    loop {
        for (i, c) in plan.clients.iter().enumerate() {
            let ns = lab.ns(&c.name)?;
            let dev = plan.nodes[c.node].wg.as_ref().unwrap().name.clone();
            if !done[i] {
                if let Some(t) = first {
                    let _ = probe::in_netns(&ns, move || {
                        let s = std::net::UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket for the warm-up")?;
                        let _ = s.send_to(b"hearth-lab warm-up", t);
                        Ok(())
                    });
                }
                done[i] = handshakes(&ns, &dev)?.iter().any(|&h| h > 0);
            }
        }
        // The gateway's own tunnel (to the hub) must be up too.
        let gw_up = match plan.nodes.iter().position(|n| n.kind == NodeKind::Gateway) {
            Some(g) if plan.nodes.iter().any(|n| n.kind == NodeKind::Hub) => {
                let ns = lab.ns(&plan.nodes[g].name)?;
                handshakes(&ns, &format!("{}w{g}", lab.prefix))?.iter().any(|&h| h > 0)
            }
            _ => true,
        };
        let want_done = gw_up && plan.clients.iter().zip(&done).all(|(c, d)| !c.connects || *d);
        // Revoked clients get the same few seconds to (fail to) handshake.
        if want_done && t0.elapsed() > Duration::from_secs(if plan.clients.iter().any(|c| !c.connects) { 3 } else { 0 }) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(15) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(done)
}

fn flows_of(open: &BTreeSet<SocketAddrV4>, proto: Proto) -> BTreeSet<Flow> {
    open.iter().map(|a| Flow { addr: *a.ip(), proto, port: a.port() }).collect()
}

/// Scans from one client: every TCP port and the UDP ports on every target.
/// Flows expected open but not seen are retried with longer timeouts (a lost
/// SYN is not a closed port); an unexpected open is never retried away.
fn scan_client(
    ns: &str,
    src: std::net::Ipv4Addr,
    plan: &LabPlan,
    allowed: &BTreeSet<Flow>,
    opts: probe::SynOpts,
    counter: Option<(String, String)>,
) -> Result<(BTreeSet<Flow>, usize, probe::SynResult)> {
    let mut tcp: Vec<SocketAddrV4> = Vec::with_capacity(plan.targets.len() * 65535);
    // Interleave targets so that no host gets a burst.
    for port in 1..=65535u16 {
        for t in &plan.targets {
            tcp.push(SocketAddrV4::new(t.addr, port));
        }
    }
    let udp: Vec<SocketAddrV4> = plan.targets.iter().flat_map(|t| plan.udp_ports.iter().map(move |p| SocketAddrV4::new(t.addr, *p))).collect();
    let allowed_udp: Vec<SocketAddrV4> = allowed.iter().filter(|f| f.proto == Proto::Udp).map(|f| SocketAddrV4::new(f.addr, f.port)).collect();
    let (mut seen, syn) = probe::in_netns(ns, move || {
        let reached = counter.map(|(gw, name)| move |tag: u8| syn_counter(&gw, &format!("{name}t{tag}")));
        let syn = probe::syn_scan(src, &tcp, opts, reached.as_ref().map(|f| f as &dyn Fn(u8) -> Result<u64>))?;
        let expect_udp: BTreeSet<SocketAddrV4> = allowed_udp.iter().copied().collect();
        let open_udp = probe::udp_scan(&udp, &expect_udp, (Duration::from_millis(700), 3), probe::UDP_CONFIRM)?;
        let mut seen = flows_of(&syn.open, Proto::Tcp);
        seen.extend(flows_of(&open_udp, Proto::Udp));
        Ok((seen, syn))
    })?;
    // An allowed port that did not answer gets real connects, patiently (a
    // SYN lost in a busy tunnel, or a rekey under way, is not a closed port).
    // An unexpected open is never retried away.
    let missing: Vec<SocketAddrV4> = allowed.iter().filter(|f| f.proto == Proto::Tcp && !seen.contains(f)).map(|f| SocketAddrV4::new(f.addr, f.port)).collect();
    let n_missing = missing.len();
    if !missing.is_empty() {
        seen.extend(flows_of(&patient_connect(ns, missing, 6)?, Proto::Tcp));
    }
    Ok((seen, n_missing, syn))
}

/// Real TCP connects, retried for up to about 12 seconds.
fn patient_connect(ns: &str, targets: Vec<SocketAddrV4>, rounds: usize) -> Result<BTreeSet<SocketAddrV4>> {
    probe::in_netns(ns, move || {
        let mut open = BTreeSet::new();
        let mut todo = targets;
        for round in 0..rounds {
            // 2, 4, 8, then 10 s: a loaded machine may take seconds to
            // finish a WireGuard handshake before the SYN can get through.
            let timeout = Duration::from_secs((2u64 << round.min(3)).min(10));
            let o = probe::tcp_scan(&todo, probe::ScanOpts { window: 256, timeout })?;
            todo.retain(|t| !o.contains(t));
            open.extend(o);
            if todo.is_empty() {
                break;
            }
        }
        Ok(open)
    })
}

/// The ACL tests of one client, on real connections from its namespace.
fn probe_acl_client(lab: &Lab, plan: &LabPlan, c: &plan::ClientExpect) -> Result<Vec<AclResult>> {
    let mut out = vec![];
    let checks: Vec<&plan::AclCheck> = plan.acl_checks.iter().filter(|a| a.client == c.name).collect();
    if checks.is_empty() {
        return Ok(out);
    }
    let tcp: Vec<SocketAddrV4> = checks.iter().filter(|a| a.flow.proto == Proto::Tcp).map(|a| SocketAddrV4::new(a.flow.addr, a.flow.port)).collect();
    let udp: Vec<SocketAddrV4> = checks.iter().filter(|a| a.flow.proto == Proto::Udp).map(|a| SocketAddrV4::new(a.flow.addr, a.flow.port)).collect();
    let ns = lab.ns(&c.name)?;
    let expect_open: Vec<SocketAddrV4> = checks.iter().filter(|a| a.accept && a.flow.proto == Proto::Tcp).map(|a| SocketAddrV4::new(a.flow.addr, a.flow.port)).collect();
    let expect_udp: BTreeSet<SocketAddrV4> =
        if c.connects { checks.iter().filter(|a| a.accept && a.flow.proto == Proto::Udp).map(|a| SocketAddrV4::new(a.flow.addr, a.flow.port)).collect() } else { BTreeSet::new() };
    let (mut ot, ou) = probe::in_netns(&ns, move || {
        Ok((
            probe::tcp_scan(&tcp, probe::ScanOpts { window: 256, timeout: Duration::from_secs(2) })?,
            probe::udp_scan(&udp, &expect_udp, (Duration::from_millis(700), 5), probe::UDP_CONFIRM)?,
        ))
    })?;
    // A port that did not answer is asked again before it counts as closed:
    // patiently where it should be open, twice more where it should not
    // (a SYN lost on a loaded machine must not hide an opening either).
    let tcp_all: Vec<SocketAddrV4> = checks.iter().filter(|a| a.flow.proto == Proto::Tcp).map(|a| SocketAddrV4::new(a.flow.addr, a.flow.port)).collect();
    let unseen_denied: Vec<SocketAddrV4> = tcp_all.into_iter().filter(|a| !ot.contains(a) && !expect_open.contains(a)).collect();
    let again: Vec<SocketAddrV4> = expect_open.into_iter().filter(|a| !ot.contains(a)).collect();
    if !again.is_empty() && c.connects {
        ot.extend(patient_connect(&ns, again, 6)?);
    }
    if !unseen_denied.is_empty() && c.connects {
        ot.extend(patient_connect(&ns, unseen_denied, 2)?);
    }
    for a in checks {
        let sa = SocketAddrV4::new(a.flow.addr, a.flow.port);
        let open = match a.flow.proto {
            Proto::Tcp => ot.contains(&sa),
            Proto::Udp => ou.contains(&sa),
        };
        out.push(AclResult {
            test: a.test,
            src: a.src.clone(),
            client: a.client.clone(),
            target: a.target.clone(),
            flow: a.flow,
            expected: if a.accept { "accept" } else { "deny" },
            seen: if open { "open" } else { "closed" },
            ok: open == a.accept,
        });
    }
    Ok(out)
}

/// Every ACL test, all clients at once, results in the plan's order.
fn probe_acl(lab: &Lab, plan: &LabPlan) -> Result<Vec<AclResult>> {
    let per_client: Vec<Result<Vec<AclResult>>> = std::thread::scope(|sc| {
        let hs: Vec<_> = plan.clients.iter().map(|c| sc.spawn(move || probe_acl_client(lab, plan, c))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(LabError::Panicked { what: "ACL probe" }))).collect()
    });
    let mut out = vec![];
    for r in per_client {
        out.extend(r?);
    }
    Ok(out)
}

/// Runs every check on a lab that is up. Does not tear down.
pub fn check(lab: &Lab, plan: &LabPlan, decrypt: &dyn Fn(&Secret) -> Result<Zeroizing<String>>, opts: &RunOpts, t: &mut Timings) -> Result<Report> {
    let t0 = Instant::now();
    let hs = warm_up(lab, plan)?;
    t.handshake_s = t0.elapsed().as_secs_f64();
    // ACL tests first, on real connections, while the tunnels are fresh.
    let acl = probe_acl(lab, plan)?;
    let t1 = Instant::now();
    let mut clients = vec![];
    let gw_ns = plan.nodes.iter().find(|n| n.kind == NodeKind::Gateway).map(|n| lab.ns(&n.name)).transpose()?;
    if opts.verbose {
        eprintln!("hearth lab: scanning from {} clients at once ({} flows each)", plan.clients.len(), plan.probe_count());
    }
    // All clients at once: the WireGuard daemons are the bottleneck, and
    // this keeps both cores busy.
    let results: Vec<Result<(BTreeSet<Flow>, usize, probe::SynResult)>> = std::thread::scope(|sc| {
        let hs: Vec<_> = plan
            .clients
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let ns = lab.ns(&c.name);
                // A client that should not (or could not) get through has
                // nothing to count: its probes are sent once.
                let counter = gw_ns.clone().filter(|_| c.connects && hs[ci]).map(|g| (g, format!("c{ci}")));
                sc.spawn(move || scan_client(&ns?, c.address, plan, &c.allowed, opts.scan, counter))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(LabError::Panicked { what: "scan" }))).collect()
    });
    for ((ci, c), res) in plan.clients.iter().enumerate().zip(results) {
        let (seen, retried, syn) = res?;
        if c.connects && hs[ci] && gw_ns.is_some() {
            t.syn_sent += plan.targets.len() * 65535;
            t.syn_reached_gateway += syn.reached;
        }
        t.resent_chunks += syn.resent_chunks;
        if opts.verbose {
            eprintln!("hearth lab: {}: {} SYNs sent, {} chunks re-sent, final rate {}/s", c.name, syn.sent, syn.resent_chunks, syn.final_rate);
        }
        let mut targets = vec![];
        for tg in &plan.targets {
            let exp: BTreeSet<Flow> = c.allowed.iter().filter(|f| f.addr == tg.addr).copied().collect();
            let got: BTreeSet<Flow> = seen.iter().filter(|f| f.addr == tg.addr).copied().collect();
            let mut r = TargetReport::new(tg, exp, got);
            r.services = c.services.get(&tg.addr).map(|s| s.iter().cloned().collect()).unwrap_or_default();
            targets.push(r);
        }
        clients.push(ClientReport { name: c.name.clone(), address: c.address, handshake_expected: c.connects, handshake: hs[ci], retried, targets });
    }
    let probes = plan.clients.len() * plan.probe_count();
    t.scan_s = t1.elapsed().as_secs_f64();
    t.probes = probes;
    let t2 = Instant::now();
    let bastion = if plan.bastion.is_some() {
        if opts.verbose {
            eprintln!("hearth lab: bastion checks");
        }
        bastion::run_checks(lab, plan, decrypt)?
    } else {
        vec![]
    };
    t.bastion_s = t2.elapsed().as_secs_f64();
    let mut report = Report::new(lab.prefix.clone(), plan, clients, acl, bastion);
    // Each area's own stage, with the lab up (no list of areas here).
    let root = root_of(&opts.inventory);
    let inv = crate::inventory::Loaded::read(&opts.inventory)?.inv;
    let cx = crate::area::LabCx { root: &root, inv: &inv, lab, plan, decrypt, verbose: opts.verbose };
    for area in crate::area::AREAS {
        if opts.areas.as_ref().is_some_and(|only| !only.iter().any(|n| n == area.name())) {
            continue;
        }
        let Some(res) = area.lab(&cx) else { continue };
        if opts.verbose {
            eprintln!("hearth lab: {} stage", area.name());
        }
        let checks = res
            .unwrap_or_else(|e| vec![bastion::Check { name: "stage".into(), from: "-".into(), expected: "runs".into(), seen: format!("error: {}", error::chain(&e)), ok: false }]);
        report.add_area(area.name(), checks);
    }
    Ok(report)
}

/// `hearth lab run`: up, check, down. The report is complete even when a
/// check fails; errors (the lab could not be built) are returned.
pub fn run(opts: &RunOpts) -> Result<Report> {
    let t0 = Instant::now();
    let mut timings = Timings::default();
    let (lab, plan, decrypt) = bring_up(opts)?;
    timings.up_s = t0.elapsed().as_secs_f64();
    let res = check(&lab, &plan, &*decrypt, opts, &mut timings);
    wait_if_signalled();
    let t3 = Instant::now();
    let problems = lab.teardown();
    timings.down_s = t3.elapsed().as_secs_f64();
    timings.total_s = t0.elapsed().as_secs_f64();
    let mut report = res?;
    report.timings = timings;
    report.problems.extend(problems.iter().map(|p| format!("teardown: {p}")));
    if !problems.is_empty() {
        report.ok = false;
    }
    Ok(report)
}

/// `hearth lab down`: removes labs. With no prefix, every lab whose owning
/// process is gone (a killed run, or `lab up`).
pub fn down(prefix: Option<&str>, all: bool) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = vec![];
    let names: Vec<String> = match prefix {
        Some(p) => vec![p.to_string()],
        None => Lab::list(),
    };
    for n in names {
        let lab = Lab::open(&n)?;
        if prefix.is_none() && !all && in_progress(&lab) {
            continue;
        }
        out.push((n, lab.teardown()));
    }
    Ok(out)
}

/// A lab that a running `hearth lab run` (another process) owns: `down`
/// without a prefix leaves it alone and `exec` does not pick it.
fn in_progress(lab: &Lab) -> bool {
    let owner = lab.state().owner_pid;
    owner != std::process::id() && Path::new(&format!("/proc/{owner}")).exists() && is_hearth(owner)
}

fn is_hearth(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cmdline")).map(|c| c.contains("lab")).unwrap_or(false)
}

/// `hearth lab exec NODE -- CMD`.
pub fn exec_in(prefix: Option<&str>, node: &str, cmd: &[String]) -> Result<i32> {
    // Labs a `lab run` in progress owns are not the one meant.
    let labs: Vec<String> = Lab::list().into_iter().filter(|n| Lab::open(n).map(|l| !in_progress(&l)).unwrap_or(true)).collect();
    let p = match prefix {
        Some(p) => p.to_string(),
        None if labs.len() == 1 => labs[0].clone(),
        None if labs.is_empty() => return Err(LabError::NoLabUp),
        None => return Err(LabError::SeveralLabs { labs }),
    };
    let lab = Lab::open(&p)?;
    let ns = lab.ns(node)?;
    let (prog, args) = cmd.split_first().ok_or(LabError::NoCommand)?;
    // wireguard-go's control sockets all live in /var/run/wireguard, which
    // every namespace sees: `wg show` would list every node's interface. The
    // command gets its own view of that directory instead (inside the mount
    // namespace `ip netns exec` makes), holding only this node's socket
    // under its interface name.
    let view = lab.dir.join("wg-view").join(node);
    let _ = std::fs::remove_dir_all(&view);
    std::fs::create_dir_all(&view).with_context(|| format!("creating {}", view.display()))?;
    if let Some((sock, dev, pid)) = lab.state().wg.get(node) {
        // Through the daemon's own root (/proc/PID/root): a link into
        // /var/run/wireguard would point into the view once it is mounted
        // there, and a hard link makes wireguard-go shut down (it watches
        // its socket's attributes).
        // Canonical (/var/run is a link to /run, which would resolve back
        // into the view).
        let sock = std::fs::canonicalize(sock).with_context(|| format!("node {node}: its WireGuard socket {} is gone (is wireguard-go running?)", sock.display()))?;
        let target = Path::new("/proc").join(pid.to_string()).join("root").join(sock.strip_prefix("/").unwrap_or(&sock));
        std::os::unix::fs::symlink(&target, view.join(format!("{dev}.sock"))).with_context(|| format!("linking {}", target.display()))?;
    }
    let st = Command::new("ip")
        .args(["netns", "exec", &ns, "sh", "-c", "if [ -d /var/run/wireguard ]; then mount --bind \"$0\" /var/run/wireguard || exit 125; fi; exec \"$@\""])
        .arg(&view)
        .arg(prog)
        .args(args)
        .status()
        .with_context(|| format!("cannot run ip netns exec {ns} {prog}"))?;
    Ok(st.code().unwrap_or(1))
}

/// Kinds of nodes, for listings.
pub fn describe(plan: &LabPlan, lab: &Lab) -> Vec<(String, NodeKind, String)> {
    plan.nodes.iter().map(|n| (n.name.clone(), n.kind, lab.ns(&n.name).unwrap_or_default())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_are_named_with_their_debian_packages_once() {
        let m = tools_message(&[("nft", "nftables"), ("wg", "wireguard-tools"), ("wg-quick", "wireguard-tools")]).unwrap();
        assert_eq!(m, "tools: nft, wg, wg-quick (apt-get install nftables wireguard-tools)");
        assert_eq!(tools_message(&[]), None);
    }

    #[test]
    fn every_tool_package_is_installed_by_checks_run() {
        // CI starts from a fresh machine: checks/run must install the
        // package of every tool the lab needs (libpam-google-authenticator
        // for the PAM module preflight looks for).
        let run = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../checks/run")).unwrap();
        let list = &run[run.find("packages=(").expect("packages=( in checks/run")..];
        let list = &list[..list.find(')').unwrap()];
        let listed: BTreeSet<&str> = list["packages=(".len()..].split_whitespace().collect();
        // Installed everywhere Debian is: no need to list them.
        let essential = ["util-linux", "passwd", "procps", "iproute2"];
        let missing: Vec<&str> = TOOLS.iter().map(|(_, p)| *p).chain(["libpam-google-authenticator"]).filter(|p| !listed.contains(p) && !essential.contains(p)).collect();
        assert!(missing.is_empty(), "checks/run does not install {missing:?}");
    }
}
