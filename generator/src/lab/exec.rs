//! Bringing a [`LabPlan`] up and down: network namespaces, veth links,
//! addresses and routes (`ip -n`), wireguard-go + `wg`, `nft -f`, sysctls,
//! the LAN hosts' responders. Everything created is first written to a state
//! file under `/run/hearth-lab/<prefix>/`, so that teardown (normal, on error,
//! on Ctrl-C, or `hearth lab down` after a killed run) removes exactly what
//! this run made and nothing else.
//!
//! Hard rule: nothing here touches the root network namespace. Links are
//! created directly inside the lab's namespaces (`ip -n A link add ... peer
//! ... netns B`), every command runs with `ip -n` / `ip netns exec`, and no
//! namespace gets a link to the machine's own network.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::{Cause, Context, LabError, Result};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::plan::{LabPlan, NodeKind, Secret, WgSource};

/// Where every lab's state lives (tmpfs on systemd machines).
pub const RUN_DIR: &str = "/run/hearth-lab";
/// The port each LAN host's responder listens on; nftables redirects every
/// TCP port and the inventory's UDP ports to it.
pub const RESPONDER_PORT: u16 = 7;
const WG_SOCK_DIR: &str = "/var/run/wireguard";

/// A process the lab started, identified by pid and start time so that a
/// recycled pid is never signalled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proc {
    pub pid: u32,
    pub start: u64,
    pub what: String,
}

/// What one lab run created. Written before each thing is created.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub prefix: String,
    pub owner_pid: u32,
    /// node name -> namespace name
    pub nodes: BTreeMap<String, String>,
    pub namespaces: Vec<String>,
    pub processes: Vec<Proc>,
    /// wireguard-go control sockets (removed if a killed daemon left them).
    pub sockets: Vec<PathBuf>,
    /// Lab-only system users (the bastion's), removed at teardown.
    pub users: Vec<String>,
    /// node name -> (its wireguard-go control socket, its interface name,
    /// the daemon's pid), so `hearth lab exec NODE -- wg show` sees that
    /// node's interface only.
    #[serde(default)]
    pub wg: BTreeMap<String, (PathBuf, String, u32)>,
}

/// A running lab: its prefix, private directory and state.
#[derive(Clone)]
pub struct Lab {
    pub prefix: String,
    pub dir: PathBuf,
    state: Arc<Mutex<State>>,
    pub exe: PathBuf,
}

/// `hl` + 4 hex digits: unique per run, short enough for interface names.
pub fn new_prefix() -> String {
    loop {
        let p = format!("hl{:04x}", rand::random::<u16>());
        if !Path::new(RUN_DIR).join(&p).exists() {
            return p;
        }
    }
}

/// Whether `p` is a prefix [`new_prefix`] makes (`hl` + 4 lower-case hex
/// digits): the only names `lab down`, `exec` and `open` accept, so a
/// prefix can never point outside [`RUN_DIR`].
pub fn is_prefix(p: &str) -> bool {
    p.len() == 6 && p.starts_with("hl") && p[2..].bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

fn proc_start(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime), counted after the parenthesised comm.
    let rest = &s[s.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Runs a command, failing with its stderr.
pub fn run(cmd: &mut Command) -> Result<String> {
    run_input(cmd, None)
}

/// Runs a command with `input` on stdin (secrets go this way, never to disk).
pub fn run_input(cmd: &mut Command, input: Option<&[u8]>) -> Result<String> {
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| LabError::spawn(cmd, e))?;
    if let Some(input) = input {
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input).with_context(|| format!("writing to {cmd:?}"))?;
        }
    }
    let out = child.wait_with_output().with_context(|| format!("waiting for {cmd:?}"))?;
    if !out.status.success() {
        return Err(LabError::command(cmd, out.status, &out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ip(ns: &str) -> Command {
    let mut c = Command::new("ip");
    c.arg("-n").arg(ns);
    c
}

/// A command run inside a namespace with `ip netns exec`.
pub fn in_ns(ns: &str, prog: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, prog]);
    c
}

impl Lab {
    /// Creates the lab's private directory (0700) and state file.
    pub fn create(prefix: &str) -> Result<Lab> {
        if !is_prefix(prefix) {
            return Err(LabError::NotAPrefix { prefix: prefix.into() });
        }
        fs::DirBuilder::new().recursive(true).mode(0o755).create(RUN_DIR).with_context(|| format!("creating {RUN_DIR}"))?;
        let dir = Path::new(RUN_DIR).join(prefix);
        fs::DirBuilder::new().mode(0o700).create(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let lab = Lab {
            prefix: prefix.into(),
            dir,
            state: Arc::new(Mutex::new(State { prefix: prefix.into(), owner_pid: std::process::id(), ..Default::default() })),
            exe: std::env::current_exe().context("finding the hearth binary (it runs the lab's responders)")?,
        };
        lab.save()?;
        Ok(lab)
    }

    /// Opens the state of an existing lab (for `down` and `exec`).
    pub fn open(prefix: &str) -> Result<Lab> {
        if !is_prefix(prefix) {
            return Err(LabError::NotAPrefix { prefix: prefix.into() });
        }
        let dir = Path::new(RUN_DIR).join(prefix);
        let state_file = dir.join("state.json");
        let text = fs::read_to_string(&state_file).map_err(|source| LabError::NoLab { prefix: prefix.into(), state: state_file.clone(), source })?;
        let state: State = serde_json::from_str(&text).with_context(|| format!("{} is not a lab state file", state_file.display()))?;
        Ok(Lab { prefix: prefix.into(), dir, state: Arc::new(Mutex::new(state)), exe: std::env::current_exe().context("finding the hearth binary")? })
    }

    /// Every lab with a state file.
    pub fn list() -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(RUN_DIR)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_str().is_some_and(is_prefix) && e.path().join("state.json").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn state(&self) -> State {
        self.state.lock().unwrap().clone()
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(&*self.state.lock().unwrap()).context("serializing the lab state")?;
        let file = self.dir.join("state.json");
        crate::fsutil::write_atomic(&file, text.as_bytes()).with_context(|| format!("writing {}", file.display()))?;
        Ok(())
    }

    fn record(&self, f: impl FnOnce(&mut State)) -> Result<()> {
        f(&mut self.state.lock().unwrap());
        self.save()
    }

    /// The namespace of a node.
    pub fn ns(&self, node: &str) -> Result<String> {
        let st = self.state.lock().unwrap();
        st.nodes.get(node).cloned().ok_or_else(|| LabError::NoNode { node: node.into(), prefix: self.prefix.clone(), nodes: st.nodes.keys().cloned().collect() })
    }

    /// Starts a long-running process (in its own session, output to a log in
    /// the lab directory) and records it.
    pub fn spawn(&self, what: &str, mut cmd: Command) -> Result<u32> {
        let log_path = self.dir.join(format!("{what}.log"));
        let log = fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        cmd.stdin(Stdio::null()).stdout(log.try_clone().with_context(|| format!("duplicating {}", log_path.display()))?).stderr(log);
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| LabError::spawn(&cmd, e).within(format!("starting {what}")))?;
        let pid = child.id();
        // The child is reaped by teardown (waitpid) or, after `lab up`, by init.
        std::mem::forget(child);
        let start = proc_start(pid).unwrap_or(0);
        self.record(|s| s.processes.push(Proc { pid, start, what: what.into() }))?;
        Ok(pid)
    }

    pub fn alive(pid: u32) -> bool {
        let mut status = 0;
        let r = unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
        if r == pid as i32 {
            return false;
        }
        Path::new(&format!("/proc/{pid}")).exists() && !fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
    }

    pub fn add_user_record(&self, user: &str) -> Result<()> {
        self.record(|s| s.users.push(user.into()))
    }

    /// Brings the plan up. On error the caller tears down.
    pub fn up(&self, plan: &LabPlan, decrypt: &dyn Fn(&Secret) -> Result<Zeroizing<String>>) -> Result<()> {
        // Namespaces.
        for (i, n) in plan.nodes.iter().enumerate() {
            let ns = format!("{}-{i}", self.prefix);
            self.record(|s| {
                s.nodes.insert(n.name.clone(), ns.clone());
                s.namespaces.push(ns.clone());
            })?;
            run(Command::new("ip").args(["netns", "add", &ns]))?;
            run(ip(&ns).args(["link", "set", "lo", "up"]))?;
            if n.kind == NodeKind::Switch {
                run(ip(&ns).args(["link", "add", "br0", "type", "bridge"]))?;
                run(ip(&ns).args(["link", "set", "br0", "up"]))?;
            }
        }
        let nsof = |i: usize| format!("{}-{i}", self.prefix);
        // Links, created inside the namespaces (never in the root one).
        for l in &plan.links {
            let (a, b) = (nsof(l.a), nsof(l.b));
            run(ip(&a).args(["link", "add", &l.a_port.ifname, "type", "veth", "peer", "name", &l.b_port.ifname, "netns", &b]))?;
            for (node, ns, port) in [(l.a, &a, &l.a_port), (l.b, &b, &l.b_port)] {
                if plan.nodes[node].kind == NodeKind::Switch {
                    run(ip(ns).args(["link", "set", &port.ifname, "master", "br0"]))?;
                }
                if let Some(addr) = port.address {
                    run(ip(ns).args(["addr", "add", &addr.to_string(), "dev", &port.ifname]))?;
                }
                run(ip(ns).args(["link", "set", &port.ifname, "up"]))?;
            }
        }
        for (i, n) in plan.nodes.iter().enumerate() {
            let ns = nsof(i);
            for r in &n.routes {
                run(ip(&ns).args(["route", "replace", &r.dest.to_string(), "via", &r.via.to_string()]))?;
            }
            for (k, v) in &n.sysctls {
                run(in_ns(&ns, "sysctl").args(["-qw", &format!("{k}={v}")]))?;
            }
        }
        // Rulesets before the tunnels, as at boot: the home router already
        // masquerades the gateway's first handshake.
        for (i, n) in plan.nodes.iter().enumerate() {
            for (label, ruleset) in &n.nft {
                run_input(in_ns(&nsof(i), "nft").args(["-f", "-"]), Some(ruleset.as_bytes())).with_context(|| format!("loading {label} on {}", n.name))?;
            }
        }
        // WireGuard: listeners first (hub, or the gateway without a hub), so
        // that the first handshake of a dialler is answered.
        let mut order: Vec<usize> = (0..plan.nodes.len()).filter(|&i| plan.nodes[i].wg.is_some()).collect();
        order.sort_by_key(|&i| match plan.nodes[i].kind {
            NodeKind::Hub => 0,
            NodeKind::Gateway => 1,
            _ => 2,
        });
        for i in order {
            self.wireguard(i, &nsof(i), plan, decrypt).with_context(|| format!("WireGuard on {}", plan.nodes[i].name))?;
        }
        // LAN hosts answer on every TCP port and the inventory's UDP ports.
        for (i, n) in plan.nodes.iter().enumerate().filter(|(_, n)| n.kind == NodeKind::LanHost) {
            let ns = nsof(i);
            run(in_ns(&ns, "sysctl").args(["-qw", "net.core.somaxconn=65535", "net.ipv4.tcp_max_syn_backlog=65535"]))?;
            let udp = if plan.udp_ports.is_empty() {
                String::new()
            } else {
                format!("    udp dport {{ {} }} redirect to :{RESPONDER_PORT}\n", plan.udp_ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "))
            };
            let rules = format!(
                "table ip hearth-lab-responder {{\n  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n    tcp dport 1-65535 redirect to :{RESPONDER_PORT}\n{udp}  }}\n}}\n"
            );
            run_input(in_ns(&ns, "nft").args(["-f", "-"]), Some(rules.as_bytes())).with_context(|| format!("responder redirect on {}", n.name))?;
            let mut cmd = in_ns(&ns, &self.exe.to_string_lossy());
            cmd.args(["lab", "responder", "--port", &RESPONDER_PORT.to_string(), "--lab", &self.prefix]);
            self.spawn(&format!("responder-{}", n.name), cmd)?;
        }
        // LAN devices: the hearth process their area names.
        for (i, n) in plan.nodes.iter().enumerate().filter(|(_, n)| n.kind == NodeKind::Device && !n.daemon.is_empty()) {
            let mut cmd = in_ns(&nsof(i), &self.exe.to_string_lossy());
            cmd.args(&n.daemon);
            self.spawn(&format!("device-{}", n.name), cmd)?;
        }
        self.wait_listening(plan)
    }

    /// Waits until every LAN host's responder and every device's daemon
    /// accepts TCP connections: a process started on a loaded machine can
    /// take seconds to bind, and a probe before that sees a closed port
    /// (a refused connect returns at once, so retries do not cover it).
    fn wait_listening(&self, plan: &LabPlan) -> Result<()> {
        let t0 = Instant::now();
        for (i, n) in plan.nodes.iter().enumerate() {
            let port = match n.kind {
                NodeKind::LanHost => Some(RESPONDER_PORT),
                NodeKind::Device => n.ready_port,
                _ => None,
            };
            let (Some(port), Some(addr)) = (port, n.lan_address) else { continue };
            let ns = format!("{}-{i}", self.prefix);
            loop {
                let sa = std::net::SocketAddr::from((addr, port));
                let up = super::probe::in_netns(&ns, move || Ok(std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(1)).is_ok()))?;
                if up {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(30) {
                    return Err(LabError::NotListening { node: n.name.clone(), addr: std::net::SocketAddrV4::new(addr, port), secs: 30, dir: self.dir.clone() });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    fn wireguard(&self, i: usize, ns: &str, plan: &LabPlan, decrypt: &dyn Fn(&Secret) -> Result<Zeroizing<String>>) -> Result<()> {
        let wg = plan.nodes[i].wg.as_ref().unwrap();
        // wireguard-go's control socket is named after the interface and
        // shared by all namespaces: a per-run unique name, renamed to the
        // configured one (the rulesets match on it) once the socket exists.
        let uniq = format!("{}w{i}", self.prefix);
        let sock = Path::new(WG_SOCK_DIR).join(format!("{uniq}.sock"));
        self.record(|s| s.sockets.push(sock.clone()))?;
        let mut cmd = in_ns(ns, "wireguard-go");
        cmd.args(["-f", &uniq]).env("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1").env("LOG_LEVEL", "error");
        let pid = self.spawn(&format!("wireguard-go-{}", plan.nodes[i].name), cmd)?;
        let t0 = Instant::now();
        while !sock.exists() {
            if !Self::alive(pid) || t0.elapsed() > Duration::from_secs(5) {
                return Err(LabError::DidNotStart { daemon: format!("wireguard-go {uniq}"), log: self.dir.join(format!("wireguard-go-{}.log", plan.nodes[i].name)) });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let dev = wg.name.clone();
        let node = plan.nodes[i].name.clone();
        self.record(|s| {
            s.wg.insert(node, (sock.clone(), dev.clone(), pid));
        })?;
        if dev != uniq {
            run(ip(ns).args(["link", "set", &uniq, "name", &dev]))?;
        }
        match &wg.source {
            WgSource::Setconf { text, private_key, psks } => {
                run_input(in_ns(ns, "wg").args(["setconf", &uniq, "/dev/stdin"]), Some(text.as_bytes())).context("wg setconf (rendered by wireguard.setconf)")?;
                let key = decrypt(private_key).context("private key")?;
                run_input(in_ns(ns, "wg").args(["set", &uniq, "private-key", "/dev/stdin"]), Some(key.trim().as_bytes()))?;
                for (peer, psk) in psks {
                    let psk = decrypt(psk).with_context(|| format!("preshared key for peer {peer}"))?;
                    run_input(in_ns(ns, "wg").args(["set", &uniq, "peer", peer, "preshared-key", "/dev/stdin"]), Some(psk.trim().as_bytes()))?;
                }
            }
            WgSource::WgQuick { config } => {
                let stripped = self.wg_quick_strip(&uniq, config)?;
                run_input(in_ns(ns, "wg").args(["setconf", &uniq, "/dev/stdin"]), Some(stripped.as_bytes())).context("wg setconf of the client's wg-quick config")?;
            }
        }
        for a in &wg.addresses {
            run(ip(ns).args(["addr", "add", &a.to_string(), "dev", &dev]))?;
        }
        // Lab-only: a longer queue on the tun device, so that a daemon
        // descheduled for a moment (two cores, many processes) does not
        // drop the probes queued for it. Buffering only; no policy.
        run(ip(ns).args(["link", "set", &dev, "txqueuelen", "10000"]))?;
        if let Some(mtu) = wg.mtu {
            run(ip(ns).args(["link", "set", &dev, "mtu", &mtu.to_string()]))?;
        }
        run(ip(ns).args(["link", "set", &dev, "up"]))?;
        grow_udp_buffers(pid);
        for r in &wg.routes {
            run(ip(ns).args(["route", "replace", &r.to_string(), "dev", &dev]))?;
        }
        Ok(())
    }

    /// `wg-quick strip` reads a file whose name ends in `.conf`: give it a FIFO
    /// in the lab's 0700 directory, so the config (private key included) only
    /// ever exists in memory and in the pipe.
    fn wg_quick_strip(&self, name: &str, config: &Zeroizing<String>) -> Result<Zeroizing<String>> {
        let fifo = self.dir.join(format!("{name}.conf"));
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes())
            .map_err(|e| LabError::Io { what: format!("mkfifo {}", fifo.display()), source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e) })?;
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return Err(LabError::os(format!("mkfifo {}", fifo.display())));
        }
        let data = Zeroizing::new(config.as_bytes().to_vec());
        let f2 = fifo.clone();
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new().write(true).open(&f2)?;
            f.write_all(&data)
        });
        let mut strip = Command::new("wg-quick");
        strip.arg("strip").arg(&fifo).stdin(Stdio::null()).stderr(Stdio::piped()).stdout(Stdio::piped());
        let out = strip.output();
        if !writer.is_finished() {
            // wg-quick never opened it: unblock the writer.
            let _ = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&fifo).map(|mut f| {
                let mut sink = Vec::new();
                std::thread::sleep(Duration::from_millis(20));
                let _ = f.read_to_end(&mut sink);
            });
        }
        let _ = writer.join();
        let _ = fs::remove_file(&fifo);
        let out = out.map_err(|e| LabError::spawn(&strip, e))?;
        if !out.status.success() {
            return Err(LabError::command(&strip, out.status, &out.stderr).within("wg-quick strip rejected the client config".into()));
        }
        let text = Zeroizing::new(String::from_utf8_lossy(&out.stdout).into_owned());
        let mut stdout = out.stdout;
        zeroize::Zeroize::zeroize(&mut stdout);
        Ok(text)
    }

    /// Removes everything the state file lists: processes, users, namespaces,
    /// stale sockets, then the lab directory. Tolerates half-made labs.
    pub fn teardown(&self) -> Vec<String> {
        let st = self.state();
        let mut problems = vec![];
        let mine: Vec<&Proc> = st.processes.iter().filter(|p| p.start != 0 && proc_start(p.pid) == Some(p.start)).collect();
        for p in &mine {
            unsafe { libc::kill(p.pid as i32, libc::SIGTERM) };
        }
        let t0 = Instant::now();
        while mine.iter().any(|p| Self::alive(p.pid) && proc_start(p.pid) == Some(p.start)) && t0.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(10));
        }
        for p in &mine {
            if Self::alive(p.pid) && proc_start(p.pid) == Some(p.start) {
                unsafe { libc::kill(p.pid as i32, libc::SIGKILL) };
                unsafe { libc::waitpid(p.pid as i32, std::ptr::null_mut(), 0) };
            }
        }
        for u in &st.users {
            if let Err(e) = super::bastion::remove_user(u) {
                problems.push(format!("user {u}: {}", super::error::chain(&e)));
            }
        }
        for ns in st.namespaces.iter().rev() {
            if Path::new("/run/netns").join(ns).exists() {
                if let Err(e) = run(Command::new("ip").args(["netns", "del", ns])) {
                    problems.push(super::error::chain(&e));
                }
            }
        }
        for s in &st.sockets {
            let _ = fs::remove_file(s);
        }
        // Only ever a directory of the lab's own under RUN_DIR.
        if !is_prefix(&self.prefix) || self.dir != Path::new(RUN_DIR).join(&self.prefix) {
            problems.push(format!("refusing to remove {}: not a lab directory", self.dir.display().to_string().escape_debug()));
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                problems.push(format!("{}: {e}", self.dir.display()));
            }
        }
        problems
    }
}

/// Lab-only: gives a wireguard-go daemon's UDP sockets 8 MiB buffers, as
/// newer wireguard-go releases set for themselves (7 MiB); Debian's 2022
/// build keeps the 208 KiB default, which overflows whenever the daemon is
/// descheduled for a few milliseconds under the scan. The sockets are
/// borrowed with pidfd_getfd (root), resized, and the copies closed.
/// Best effort: buffering only, nothing about what is forwarded.
pub fn grow_udp_buffers(pid: u32) {
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) as libc::c_int;
        if pidfd < 0 {
            return;
        }
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            libc::close(pidfd);
            return;
        };
        for e in fds.flatten() {
            let is_socket = fs::read_link(e.path()).map(|l| l.to_string_lossy().starts_with("socket:")).unwrap_or(false);
            let Some(n) = e.file_name().to_str().and_then(|n| n.parse::<libc::c_int>().ok()) else { continue };
            if !is_socket {
                continue;
            }
            let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd, n, 0) as libc::c_int;
            if fd < 0 {
                continue;
            }
            let mut v: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_DOMAIN, &mut v as *mut _ as *mut libc::c_void, &mut len);
            let domain = v;
            libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, &mut v as *mut _ as *mut libc::c_void, &mut len);
            if (domain == libc::AF_INET || domain == libc::AF_INET6) && v == libc::SOCK_DGRAM {
                let size: libc::c_int = 8 << 20;
                for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
                    libc::setsockopt(fd, libc::SOL_SOCKET, opt, &size as *const _ as *const libc::c_void, std::mem::size_of::<libc::c_int>() as libc::socklen_t);
                }
            }
            libc::close(fd);
        }
        libc::close(pidfd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_is_reported_with_its_status_and_stderr() {
        let err = run(Command::new("sh").args(["-c", "echo out; echo boom >&2; exit 4"])).unwrap_err();
        match &err {
            LabError::Command { program, args, status, stderr } => {
                assert_eq!((program.as_str(), args.len(), status.code(), stderr.as_str()), ("sh", 2, Some(4), "boom"));
            }
            e => panic!("not a Command error: {e:?}"),
        }
        assert!(run(Command::new("sh").args(["-c", "exit 0"])).is_ok());
    }

    #[test]
    fn a_program_that_cannot_start_is_named() {
        let err = run_input(&mut Command::new("/nonexistent/hearth-lab-test"), Some(b"x")).unwrap_err();
        assert!(
            matches!(&err, LabError::Io { what, source } if what == "cannot start \"/nonexistent/hearth-lab-test\"" && source.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
    }

    #[test]
    fn open_refuses_what_is_not_a_lab() {
        assert!(matches!(Lab::open("../etc"), Err(LabError::NotAPrefix { prefix }) if prefix == "../etc"));
        // hl and 4 hex digits that no run made (new_prefix never reuses one that exists).
        let p = new_prefix();
        match Lab::open(&p) {
            Err(LabError::NoLab { prefix, state, .. }) => assert_eq!((prefix.as_str(), state), (p.as_str(), Path::new(RUN_DIR).join(&p).join("state.json"))),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("lab {p} exists"),
        }
    }
}
