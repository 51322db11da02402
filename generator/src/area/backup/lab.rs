//! The backup area's lab stage: the rendered backup settings run against a
//! real restic, on a real (zfs-fuse) pool, to a real REST repository
//! (`rclone serve restic`) in an "offsite" namespace behind a shaped link
//! (20 Mbit/s, 40 ms round trip: tc netem, or tc tbf plus a userspace delay
//! proxy on kernels without netem, see [`Link`]).
//!
//! For the first host with backups: its pools and datasets are created with
//! the storage area's [`Zfs`] helper; every job runs as NixOS runs it
//! (backupPrepareCommand, `cat config || init`, backup, cleanup, stamp),
//! with the renderer's scripts and arguments (`lib.backup.backups`). Then:
//! the repository holds exactly the snapshot's files (checksums of every
//! restored file against the snapshot, after changing and deleting live
//! files), no file of a dataset whose tier is not backed up, no snapshot or
//! clone is left; a backup killed with SIGKILL leaves a repository that
//! `restic check` passes and the next run succeeds; the prune and check
//! jobs run; the stale check fails for a stamp older than the limit.
//!
//! The repository's URL in the inventory (B2, S3, ...) is replaced by the
//! lab's REST server; the password is the generated secret, passed to
//! restic in its environment, never written to a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::lab::error::{Context, LabError, Result};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{jobs, Job};
use crate::area::storage::lab::Zfs;
use crate::area::LabCx;
use crate::lab::bastion::Check;
use crate::lab::exec::{in_ns, run, Lab};
use crate::lab::plan::Secret;

/// The shaped link to the offsite namespace.
pub const RATE: &str = "20mbit";
/// [`RATE`] in bits per second.
pub const RATE_BITS: u64 = 20_000_000;
/// One-way delay on each end: 40 ms round trip.
pub const DELAY: &str = "20ms";
const HOME_ADDR: &str = "10.203.0.1";
const OFF_ADDR: &str = "10.203.0.2";
const PORT: u16 = 8000;

/// What the backup stage itself finds wrong (besides the lab's own errors);
/// it reaches the report as a [`LabError::Area`] of `backup`.
#[derive(Debug, thiserror::Error)]
pub enum BackupLabError {
    #[error("the delay proxy thread in {ns} died before it listened")]
    ProxyDied { ns: String },
    /// The renderer's job lacks a field the nixpkgs module runs.
    #[error("the renderer's job {job} has no {field}")]
    NoCommand { job: String, field: &'static str },
    #[error("the renderer made no job {job}")]
    NoJob { job: String },
    #[error("job {job} has no dataset to back up")]
    NoDataset { job: String },
    #[error("restic {args} gave no list of snapshots: {output:?}")]
    NotAList { args: String, output: String },
}

impl From<BackupLabError> for LabError {
    fn from(e: BackupLabError) -> LabError {
        LabError::area("backup", e)
    }
}

pub fn stage(cx: &LabCx) -> Option<Result<Vec<Check>>> {
    let all = jobs(cx.inv);
    let host = all.first()?.host.clone();
    let jobs: Vec<Job> = all.into_iter().filter(|j| j.host == host).collect();
    Some(run_stage(cx, &host, &jobs))
}

/// The two namespaces of the offsite link; deleted on drop.
pub struct Link {
    pub home: String,
    pub off: String,
    /// How the link is shaped, for reports.
    pub shaping: String,
    proxy: Option<DelayProxy>,
}

impl Link {
    /// `<prefix>-bkh` (the backed-up host's side) and `<prefix>-bko` (the
    /// offsite repository), one veth between them shaped on both ends:
    /// `tc netem delay 20ms rate 20mbit`. Where the kernel has no netem
    /// (`Specified qdisc kind is unknown`), the rate comes from `tc tbf` and
    /// the delay from [`DelayProxy`] in front of the REST server.
    pub fn create(prefix: &str) -> Result<Link> {
        let mut l = Link { home: format!("{prefix}-bkh"), off: format!("{prefix}-bko"), shaping: String::new(), proxy: None };
        for ns in [&l.home, &l.off] {
            run(Command::new("ip").args(["netns", "add", ns]))?;
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]))?;
        }
        run(Command::new("ip").args(["-n", &l.home, "link", "add", "bk0", "type", "veth", "peer", "name", "bk1", "netns", &l.off]))?;
        let mut netem = true;
        for (ns, dev, addr) in [(&l.home, "bk0", HOME_ADDR), (&l.off, "bk1", OFF_ADDR)] {
            run(Command::new("ip").args(["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", dev]))?;
            run(Command::new("ip").args(["-n", ns, "link", "set", dev, "up"]))?;
            if netem {
                match run(in_ns(ns, "tc").args(["qdisc", "add", "dev", dev, "root", "netem", "delay", DELAY, "rate", RATE, "limit", "10000"])) {
                    Ok(_) => continue,
                    Err(LabError::Command { stderr, .. }) if stderr.contains("unknown") && dev == "bk0" => netem = false,
                    Err(e) => return Err(e),
                }
            }
            run(in_ns(ns, "tc").args(["qdisc", "add", "dev", dev, "root", "tbf", "rate", RATE, "burst", "32kb", "latency", "200ms"]))?;
        }
        l.shaping = if netem {
            format!("tc netem delay {DELAY} rate {RATE} on both ends")
        } else {
            format!("tc tbf rate {RATE} on both ends + {DELAY} per direction in a userspace delay proxy (this kernel has no netem)")
        };
        Ok(l)
    }

    /// Bytes the delay proxy forwarded from the server so far (None: no proxy).
    pub fn bytes_down(&self) -> Option<u64> {
        self.proxy.as_ref().map(|p| p.down.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The REST URL restic uses (through the delay proxy when there is one).
    pub fn url(&self) -> String {
        match &self.proxy {
            Some(p) => format!("rest:http://127.0.0.1:{}/", p.port),
            None => format!("rest:http://{OFF_ADDR}:{PORT}/"),
        }
    }

    /// `rclone serve restic` on the offsite side, serving `dir`; waits
    /// until it answers.
    pub fn serve(&mut self, lab: &Lab, what: &str, dir: &Path) -> Result<u32> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut cmd = in_ns(&self.off, "rclone");
        cmd.args(["serve", "restic", "--addr", &format!("{OFF_ADDR}:{PORT}")]).arg(dir).env("RCLONE_CONFIG", "/dev/null");
        let pid = lab.spawn(what, cmd)?;
        let t0 = Instant::now();
        loop {
            let ok = in_ns(&self.home, "bash").args(["-c", &format!("exec 3<>/dev/tcp/{OFF_ADDR}/{PORT}")]).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
            if ok {
                break;
            }
            if !Lab::alive(pid) || t0.elapsed() > Duration::from_secs(15) {
                return Err(LabError::DidNotStart { daemon: "rclone serve restic".into(), log: lab.dir.join(format!("{what}.log")) });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !self.shaping.starts_with("tc netem") {
            self.proxy = Some(DelayProxy::start(&self.home, &format!("{OFF_ADDR}:{PORT}"), Duration::from_millis(20))?);
        }
        Ok(pid)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.proxy.take();
        for ns in [&self.home, &self.off] {
            if Path::new("/run/netns").join(ns).exists() {
                if let Err(e) = run(Command::new("ip").args(["netns", "del", ns])) {
                    eprintln!("hearth lab: backup cleanup: {}", crate::lab::error::chain(&e));
                }
            }
        }
    }
}

/// A TCP forwarder inside a namespace (127.0.0.1:port -> `to`) that delays
/// every chunk by `delay` in each direction, keeping the pipe full: a long
/// link's latency where the kernel has no netem. Threads of this process,
/// entered into the namespace with setns(2); stopped on drop.
pub struct DelayProxy {
    pub port: u16,
    /// Bytes forwarded from the server to the client so far.
    pub down: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ns: String,
}

fn enter_netns(ns: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(Path::new("/run/netns").join(ns)).with_context(|| format!("namespace {ns}"))?;
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(LabError::os(format!("setns {ns}")));
    }
    Ok(())
}

fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream, delay: Duration, count: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>) {
    use std::io::{Read, Write};
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        for (due, buf) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if buf.is_empty() || to.write_all(&buf).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = tx.send((Instant::now() + delay, vec![]));
                break;
            }
            Ok(n) => {
                if let Some(c) = &count {
                    c.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                }
                if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    let _ = writer.join();
}

impl DelayProxy {
    pub fn start(ns: &str, to: &str, delay: Duration) -> Result<DelayProxy> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<u16>>();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (ns2, to, stop2, down2) = (ns.to_string(), to.to_string(), stop.clone(), down.clone());
        std::thread::spawn(move || {
            let listener = enter_netns(&ns2).and_then(|_| std::net::TcpListener::bind("127.0.0.1:0").with_context(|| format!("the delay proxy's socket in {ns2}")));
            let listener = match listener {
                Ok(l) => l,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(listener.local_addr().map(|a| a.port()).unwrap_or(0)));
            for c in listener.incoming() {
                if stop2.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(c) = c else { continue };
                // Connected from this thread: inside the namespace.
                let Ok(up) = std::net::TcpStream::connect(&to) else { continue };
                let _ = (c.set_nodelay(true), up.set_nodelay(true));
                let (c2, up2) = match (c.try_clone(), up.try_clone()) {
                    (Ok(a), Ok(b)) => (a, b),
                    _ => continue,
                };
                let d = down2.clone();
                std::thread::spawn(move || pump(c, up, delay, None));
                std::thread::spawn(move || pump(up2, c2, delay, Some(d)));
            }
        });
        let port = ready_rx.recv().map_err(|_| BackupLabError::ProxyDied { ns: ns.into() })??;
        Ok(DelayProxy { port, down, stop, ns: ns.to_string() })
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop from inside the namespace.
        let (ns, port) = (self.ns.clone(), self.port);
        let _ = std::thread::spawn(move || {
            if enter_netns(&ns).is_ok() {
                let _ = std::net::TcpStream::connect(("127.0.0.1", port));
            }
        })
        .join();
    }
}

/// A process started by this stage, killed (SIGTERM, then SIGKILL) on drop.
struct Owned(u32);

impl Drop for Owned {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0 as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        while Lab::alive(self.0) && t0.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if Lab::alive(self.0) {
            unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
            unsafe { libc::waitpid(self.0 as i32, std::ptr::null_mut(), 0) };
        }
    }
}

/// `services.restic.backups.<name>` as the renderer makes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rendered {
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    extra_backup_args: Vec<String>,
    #[serde(default)]
    prune_opts: Vec<String>,
    #[serde(default)]
    check_opts: Vec<String>,
    #[serde(default)]
    run_check: bool,
    #[serde(default)]
    backup_prepare_command: Option<String>,
    #[serde(default)]
    backup_cleanup_command: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Eval {
    backups: BTreeMap<String, Rendered>,
    stale: BTreeMap<String, String>,
    stamps: BTreeMap<String, String>,
}

/// Runs commands in the storage host's mount namespace (the zfs-fuse
/// daemon's) and the home side of the link, with restic's environment.
struct Host<'a> {
    zfs: &'a Zfs,
    net: String,
    env: Vec<(String, Zeroizing<String>)>,
}

impl Host<'_> {
    fn cmd(&self, prog: &str) -> Command {
        let mut c = self.zfs.nsenter();
        c.args([&format!("--net=/run/netns/{}", self.net), "--"]).arg(prog);
        for (k, v) in &self.env {
            c.env(k, v.as_str());
        }
        c
    }
    fn restic(&self, args: &[&str]) -> Result<String> {
        quiet_run(self.cmd("restic").args(args))
    }
    fn sh(&self, script: &str) -> Result<String> {
        quiet_run(self.cmd("sh").args(["-c", script]))
    }
    /// `sh -c script`, exit status and output.
    fn sh_status(&self, script: &str) -> Result<(i32, String)> {
        let mut c = self.cmd("sh");
        c.args(["-c", script]).stdin(Stdio::null());
        let out = c.output().map_err(|e| LabError::spawn(&c, e))?;
        Ok((out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
    }
}

/// Runs a command; an error names the program and its arguments, never its
/// environment (which holds the repository password).
fn quiet_run(cmd: &mut Command) -> Result<String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| LabError::spawn(cmd, e))?;
    if !out.status.success() {
        return Err(LabError::command(cmd, out.status, &out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// restic's arguments from the rendered `extraBackupArgs` (systemd splits
/// the ExecStart line on whitespace, so does this).
fn split(args: &[String]) -> Vec<String> {
    args.iter().flat_map(|a| a.split_whitespace().map(String::from)).collect()
}

/// The nixpkgs module's run of a backup job: preStart (prepare, then
/// `cat config || init`), ExecStart (backup), postStop (cleanup, also after
/// a failure), and hearth's ExecStartPost (the stamp). `between` runs after
/// the backup, before the cleanup (the lab's checksum of the snapshot).
fn run_job(h: &Host, job: &str, r: &Rendered, stamp: &str, between: impl FnOnce() -> Result<()>) -> Result<()> {
    let prepare = r.backup_prepare_command.as_deref().ok_or_else(|| BackupLabError::NoCommand { job: job.into(), field: "backupPrepareCommand" })?;
    let cleanup = r.backup_cleanup_command.as_deref().ok_or_else(|| BackupLabError::NoCommand { job: job.into(), field: "backupCleanupCommand" })?;
    let res = (|| {
        h.sh(prepare).context("backupPrepareCommand")?;
        h.sh("restic cat config >/dev/null || restic init").context("initialize")?;
        let mut args = vec!["backup".to_string(), "--quiet".into()];
        args.extend(split(&r.extra_backup_args));
        args.extend(r.paths.iter().cloned());
        quiet_run(h.cmd("restic").args(&args)).context("restic backup")?;
        between()
    })();
    let c = h.sh(cleanup).context("backupCleanupCommand");
    res?;
    c?;
    h.sh(&format!("mkdir -p \"$(dirname '{stamp}')\" && touch '{stamp}'"))?;
    Ok(())
}

/// A prune- or check-only job as the nixpkgs module runs it: preStart
/// (backupPrepareCommand), then `unlock` + `forget --prune OPTS`, then
/// `check OPTS` when `runCheck`.
fn run_maintenance(h: &Host, r: &Rendered) -> Result<()> {
    if let Some(p) = &r.backup_prepare_command {
        h.sh(p).context("backupPrepareCommand")?;
    }
    if !r.prune_opts.is_empty() {
        h.restic(&["unlock"])?;
        let mut a = vec!["forget".to_string(), "--prune".into()];
        a.extend(split(&r.prune_opts));
        quiet_run(h.cmd("restic").args(&a))?;
    }
    if r.run_check {
        let mut a = vec!["check".to_string()];
        a.extend(split(&r.check_opts));
        quiet_run(h.cmd("restic").args(&a))?;
    }
    Ok(())
}

fn check(name: &str, expected: &str, seen: String, ok: bool) -> Check {
    Check { name: name.into(), from: "backup".into(), expected: expected.into(), seen, ok }
}

/// `sha256sum` of every file below `dir`, relative paths, sorted.
fn manifest(h: &Host, dir: &str) -> Result<BTreeMap<String, String>> {
    let out = h.sh(&format!("cd '{dir}' && find . -type f -print0 | xargs -0 -r sha256sum"))?;
    Ok(out.lines().filter_map(|l| l.split_once("  ")).map(|(sum, p)| (p.trim_start_matches("./").to_string(), sum.to_string())).collect())
}

fn run_stage(cx: &LabCx, host: &str, jobs: &[Job]) -> Result<Vec<Check>> {
    cx.require(&[("restic", "restic"), ("rclone", "rclone"), ("tc", "iproute2"), ("zfs-fuse", "zfs-fuse"), ("nsenter", "util-linux"), ("sha256sum", "coreutils")])?;
    let lab = cx.lab;
    let mut out = vec![];

    // The pool and every dataset of the host (the not-backed-up ones too).
    let mut zfs = Zfs::start(lab, "backup-zfs")?;
    let ds_all: Vec<_> = super::datasets(cx.inv).into_iter().filter(|d| d.host == host).collect();
    let mut pools: Vec<&str> = ds_all.iter().map(|d| d.pool.as_str()).collect();
    pools.dedup();
    for p in &pools {
        zfs.create_pool(p, None, 1, 192)?;
    }
    let mut names: Vec<&str> = ds_all.iter().map(|d| d.name.as_str()).collect();
    names.sort_by_key(|n| n.matches('/').count());
    for d in names {
        let dr = ds_all.iter().find(|x| x.name == d).expect("listed");
        if d.contains('/') {
            zfs.zfs(&["create", "-p", "-o", &format!("mountpoint={}", dr.mountpoint), d])?;
        } else {
            zfs.zfs(&["set", &format!("mountpoint={}", dr.mountpoint), d])?;
        }
    }
    let alt = zfs.path("/");
    let alt = alt.to_string_lossy().trim_end_matches('/').to_string();

    // The offsite side.
    let mut link = Link::create(&lab.prefix)?;
    let repo_dir = lab.dir.join("backup-offsite");
    let _server = Owned(link.serve(lab, "backup-rclone", &repo_dir)?);
    out.push(check("offsite link", "shaped", link.shaping.clone(), true));

    // The rendered settings, with the lab's altroot and state directory.
    let state = lab.dir.join("backup-state");
    let expr = format!(
        "let c = host.hearth.backup; cfg = c // {{ stateDir = \"{state}\"; }}; in {{ \
           backups = lib.backup.backups {{ inherit cfg; secretPath = n: \"/nonexistent/${{n}}\"; zfs = \"zfs\"; restic = \"restic\"; }}; \
           stale = builtins.listToAttrs (map (j: {{ name = j.name; value = lib.backup.staleCheck {{ inherit cfg; job = j; }}; }}) cfg.jobs); \
           stamps = builtins.listToAttrs (map (j: {{ name = j.name; value = lib.backup.stampFile cfg j; }}) cfg.jobs); }}",
        state = state.display()
    );
    let mut ev: Eval = serde_json::from_value(cx.eval(host, &expr)?).context("the rendered backup settings")?;
    // The clones mount below the pool's altroot.
    for r in ev.backups.values_mut() {
        for p in r.paths.iter_mut() {
            *p = format!("{alt}{p}");
        }
    }

    // restic's environment: the lab's repository, the generated password.
    let repo_name = &jobs[0].repository;
    let pw = (cx.decrypt)(&Secret::AgeFile(PathBuf::from(format!("{host}/restic-{repo_name}.age")))).with_context(|| format!("the password of repository {repo_name}"))?;
    let env = vec![
        ("RESTIC_REPOSITORY".to_string(), Zeroizing::new(link.url())),
        ("RESTIC_PASSWORD".to_string(), pw),
        ("RESTIC_CACHE_DIR".to_string(), Zeroizing::new(lab.dir.join("backup-cache").display().to_string())),
    ];
    let h = Host { zfs: &zfs, net: link.home.clone(), env };
    let jobs: Vec<&Job> = jobs.iter().filter(|j| j.repository == *repo_name).collect();

    // Data: a few files in every dataset of the host.
    for d in &ds_all {
        let dir = format!("{alt}{}", d.mountpoint);
        h.sh(&format!(
            "set -e; cd '{dir}'; mkdir -p docs/a docs/b; for i in 1 2 3 4 5 6 7 8; do head -c $((i * 37000)) /dev/urandom > docs/a/f$i; done; \
             echo '{name}' > README; head -c 300000 /dev/urandom > docs/b/blob; ln -sf README link",
            name = d.name
        ))?;
    }

    if cx.verbose {
        eprintln!("hearth lab: backup: 1. Every job");
    }
    // 1. Every job, as NixOS runs it; the snapshot's checksums taken
    //    between backup and cleanup.
    // job -> path -> file -> sha256
    let mut manifests: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> = BTreeMap::new();
    for j in &jobs {
        let r = ev.backups.get(&j.name).ok_or_else(|| BackupLabError::NoJob { job: j.name.clone() })?;
        let mut m = BTreeMap::new();
        let t0 = Instant::now();
        let res = run_job(&h, &j.name, r, &ev.stamps[&j.name], || {
            for p in &r.paths {
                m.insert(p.clone(), manifest(&h, p)?);
            }
            Ok(())
        });
        out.push(check(
            &format!("{}: backup from a snapshot clone", j.name),
            "succeeds",
            match &res {
                Ok(()) => format!("ok in {:.1} s ({} files)", t0.elapsed().as_secs_f64(), m.values().map(|x| x.len()).sum::<usize>()),
                Err(e) => crate::lab::error::chain(e),
            },
            res.is_ok(),
        ));
        res?;
        manifests.insert(j.name.clone(), m);
    }

    if cx.verbose {
        eprintln!("hearth lab: backup: 2. Nothing left behind");
    }
    // 2. Nothing left behind: no snapshot, no clone of a run.
    let left = zfs.zfs(&["list", "-H", "-o", "name", "-t", "all"])?;
    let leftovers: Vec<&str> = left.lines().filter(|l| l.contains("hearth-backup-")).collect();
    out.push(check("snapshots and clones released", "none left", if leftovers.is_empty() { "none left".into() } else { leftovers.join(" ") }, leftovers.is_empty()));

    if cx.verbose {
        eprintln!("hearth lab: backup: 3. Change and delete");
    }
    // 3. Change and delete live files, then restore each job's newest
    //    snapshot into an empty directory and compare every file.
    for d in &ds_all {
        h.sh(&format!("set -e; cd '{alt}{}'; rm -f docs/a/f1 README; echo changed > docs/a/f2; head -c 1000 /dev/urandom > new", d.mountpoint))?;
    }
    for j in &jobs {
        let target = lab.dir.join(format!("backup-restore-{}", j.name));
        let t = target.display().to_string();
        let r = &ev.backups[&j.name];
        h.restic(&["restore", "latest", "--tag", &format!("hearth-tier-{}", j.tier), "--target", &t])?;
        let mut diffs = 0usize;
        let mut files = 0usize;
        for p in &r.paths {
            let restored = manifest(&h, &format!("{t}{p}"))?;
            let orig = &manifests[&j.name][p];
            files += restored.len();
            diffs += orig.iter().filter(|(k, v)| restored.get(*k) != Some(*v)).count() + restored.keys().filter(|k| !orig.contains_key(*k)).count();
        }
        let expected_files: usize = manifests[&j.name].values().map(|m| m.len()).sum();
        out.push(check(
            &format!("{}: restore = snapshot", j.name),
            "0 differences",
            format!("{diffs} differences, {files}/{expected_files} files"),
            diffs == 0 && files == expected_files && files > 0,
        ));
        let _ = std::fs::remove_dir_all(&target);
    }

    if cx.verbose {
        eprintln!("hearth lab: backup: 4. Only backed-up");
    }
    // 4. Only backed-up tiers are in the repository.
    let listing = h.restic(&["ls", "--json", "latest"])?;
    let mut all_paths = listing.clone();
    for j in &jobs {
        all_paths.push_str(&h.restic(&["ls", "latest", "--tag", &format!("hearth-tier-{}", j.tier)])?);
    }
    let unbacked: Vec<&super::DatasetRef> = ds_all.iter().filter(|d| !d.backup).collect();
    let found: Vec<String> = unbacked.iter().filter(|d| all_paths.contains(&format!("/{}/", d.name)) || all_paths.contains(&d.mountpoint)).map(|d| d.name.clone()).collect();
    out.push(check(
        "not-backed-up tiers stay out",
        "no file of them",
        if unbacked.is_empty() {
            "no such dataset on this host".into()
        } else if found.is_empty() {
            format!("none of {}", unbacked.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "))
        } else {
            format!("found {}", found.join(", "))
        },
        found.is_empty(),
    ));

    if cx.verbose {
        eprintln!("hearth lab: backup: 5. SIGKILL");
    }
    // 5. SIGKILL during a backup, then check and the next run.
    let j = jobs[0];
    let r = &ev.backups[&j.name];
    let first = ds_all.iter().find(|d| d.backup && d.tier == j.tier).ok_or_else(|| BackupLabError::NoDataset { job: j.name.clone() })?;
    h.sh(&format!("head -c 40000000 /dev/urandom > '{alt}{}/big'", first.mountpoint))?;
    h.sh(r.backup_prepare_command.as_deref().unwrap_or_default())?;
    let mut args = vec!["backup".to_string(), "--quiet".into()];
    args.extend(split(&r.extra_backup_args));
    args.extend(r.paths.iter().cloned());
    use std::os::unix::process::CommandExt;
    let mut restic = h.cmd("restic");
    restic.args(&args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
    let mut child = restic.spawn().map_err(|e| LabError::spawn(&restic, e))?;
    // Kill once data is on its way (the repository grows), at most 20 s.
    let size0 = dir_size(&repo_dir);
    let t0 = Instant::now();
    while dir_size(&repo_dir) < size0 + 2_000_000 && t0.elapsed() < Duration::from_secs(20) {
        if child.try_wait().context("waiting for restic backup")?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = child.try_wait().context("waiting for restic backup")?.is_none();
    // SIGKILL to restic alone: nsenter, its parent outside the namespace,
    // reaps it and exits. (Killed together, restic would be left a zombie
    // of the machine's init, its PID alive, its lock never stale.)
    match crate::area::storage::lab::child_of(child.id()) {
        Some(restic_pid) => unsafe { libc::kill(restic_pid as i32, libc::SIGKILL) },
        None => unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) },
    };
    let _ = child.wait();
    // As systemd would: postStop after the killed ExecStart.
    let _ = h.sh(r.backup_cleanup_command.as_deref().unwrap_or_default());
    out.push(check(
        "SIGKILL during a backup",
        "killed mid-upload",
        if killed { format!("killed after {:.1} s", t0.elapsed().as_secs_f64()) } else { "finished before the kill".into() },
        killed,
    ));
    let check_job = ev.backups.get(&format!("{}-check", j.repository)).ok_or_else(|| BackupLabError::NoJob { job: format!("{}-check", j.repository) })?;
    let chk = run_maintenance(&h, check_job).and_then(|_| h.restic(&["check"]));
    out.push(check(
        "check job, then a full restic check, after the kill",
        "both pass (stale lock removed)",
        match &chk {
            Ok(_) => "no errors".into(),
            Err(e) => crate::lab::error::chain(e),
        },
        chk.is_ok(),
    ));
    let next = run_job(&h, &j.name, r, &ev.stamps[&j.name], || Ok(()));
    out.push(check(
        "next scheduled run after the kill",
        "succeeds",
        match &next {
            Ok(()) => "ok".into(),
            Err(e) => crate::lab::error::chain(e),
        },
        next.is_ok(),
    ));

    if cx.verbose {
        eprintln!("hearth lab: backup: 6. The prune");
    }
    // 6. The prune and check jobs, as rendered.
    for (name, rj) in ev.backups.iter().filter(|(_, rj)| rj.paths.is_empty()) {
        let res = run_maintenance(&h, rj);
        out.push(check(
            &format!("{name}: maintenance job"),
            "succeeds",
            match &res {
                Ok(_) => "ok".into(),
                Err(e) => crate::lab::error::chain(e),
            },
            res.is_ok(),
        ));
    }

    if cx.verbose {
        eprintln!("hearth lab: backup: 7. The stale check");
    }
    // 7. The stale check: passes after a run, fails when the last success
    //    is older than the limit.
    let script = &ev.stale[&j.name];
    let (fresh, fresh_out) = h.sh_status(script)?;
    h.sh(&format!("touch -d '3 days ago' '{}'", ev.stamps[&j.name]))?;
    let (stale, stale_out) = h.sh_status(script)?;
    out.push(check("stale check", "exit 0 after a run, 1 after 3 days", format!("{fresh} ({}), {stale} ({})", fresh_out.trim(), stale_out.trim()), fresh == 0 && stale == 1));

    drop(h);
    // zfs-fuse reports a pool just used as busy for a moment.
    std::thread::sleep(Duration::from_secs(2));
    let problems = zfs.stop();
    drop(link);
    let _ = std::fs::remove_dir_all(&repo_dir);
    let _ = std::fs::remove_dir_all(lab.dir.join("backup-cache"));
    let _ = std::fs::remove_dir_all(&state);
    if !problems.is_empty() {
        out.push(check("cleanup", "pools destroyed", problems.join("; "), false));
    }
    Ok(out)
}

fn dir_size(p: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        std::fs::read_dir(p)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(p)
}
