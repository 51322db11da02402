//! The storage lab stage, and [`Zfs`]: a zfs-fuse daemon of the lab's own.
//!
//! zfs-fuse is one daemon per machine by default: its socket
//! (`/var/run/zfs/zfs_socket`) and pool cache (`/etc/zfs/zpool.cache`) are
//! global. [`Zfs::start`] runs it in a private mount and PID namespace
//! (`unshare -m -p`) with tmpfs on `/run/zfs` and `/etc/zfs`, so any number
//! of labs (and a machine's own zfs-fuse) coexist; every `zpool`/`zfs`/
//! `sanoid` call enters both with `nsenter -t PID -m -p`. The PID namespace
//! matters because sanoid and syncoid look for a `zfs send`/`zfs receive`
//! of a dataset in `ps`: two labs both have `tank/shelf`, and each deferred
//! its pruning and refused its replication while the other one's syncoid
//! ran. Pools are created with an
//! altroot below the lab's directory, so datasets mount at
//! `<root>/alt/<mountpoint>`, visible only inside the namespace (and from
//! outside through `/proc/PID/root`, [`Zfs::host_path`]). The daemon is
//! recorded with [`Lab::spawn`] (teardown kills it); [`Zfs::stop`] (also run
//! on drop) destroys the pools first.
//!
//! Simulated time: [`Zfs::start_faked`] runs the daemon under libfaketime
//! with a clock file, so [`Zfs::set_offset`] moves the clock of the daemon
//! (snapshot `creation`) and of every command run through [`Zfs::cmd`]
//! (sanoid) together. Days of snapshot retention run in seconds.
//!
//! zfs-fuse's `zfs get` has no `-t TYPE`, which sanoid and syncoid pass:
//! commands run through [`Zfs::cmd`] find a small shim first on PATH that
//! drops the flag and keeps the lines of that type (ZFS_SHIM below).
//!
//! Another area's stage (backup) gets a pool with a snapshot like this:
//!
//! ```ignore
//! let mut z = Zfs::start(cx.lab, "zfs-backup")?;         // its own daemon
//! z.create_pool("tank", Some("mirror"), 2, 128)?;         // two 128 MB files
//! z.zfs(&["create", "-o", "mountpoint=/share/attic", "tank/attic"])?;
//! let dir = z.host_path(&z.path("/share/attic"));         // readable from outside
//! std::fs::write(dir.join("photo.jpg"), b"...")?;
//! z.zfs(&["snapshot", "tank/attic@before"])?;             // to read it: zfs clone it
//! // ... restic backup dir ...
//! for p in z.stop() { eprintln!("{p}"); }                 // also on drop and lab teardown
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::lab::error::{Context, LabError, Result};
use crate::lab::exec::{run, Lab};

/// What the storage stage itself finds wrong (besides the lab's own
/// errors); it reaches the report as a [`LabError::Area`] of `storage`.
#[derive(Debug, thiserror::Error)]
pub enum StorageLabError {
    #[error("pool `{pool}` is on {first} and {second}: the lab runs every storage host's pools in one zfs-fuse, so pool names must differ")]
    PoolNameTwice { pool: String, first: String, second: String },
    #[error("sanoid on {host} failed at simulated day {day}: {stderr}")]
    Sanoid { host: String, day: i64, stderr: String },
    #[error("this zfs-fuse runs on the real clock (use Zfs::start_faked)")]
    RealClock,
    #[error("libfaketimeMT.so.1 not found (Debian: apt-get install faketime)")]
    NoFaketime,
}

impl From<StorageLabError> for LabError {
    fn from(e: StorageLabError) -> LabError {
        LabError::area("storage", e)
    }
}

/// A zfs-fuse daemon in a private mount namespace.
pub struct Zfs {
    /// PID 1 of the daemon's namespaces (a shell, zfs-fuse's parent), as
    /// the machine sees it.
    pid: u32,
    /// `unshare`, its parent, recorded with the lab (killing it kills zfs-fuse).
    unshare: u32,
    /// libfaketime's clock file, when the daemon runs on a simulated clock.
    clock: Option<PathBuf>,
    /// Directory for vdev files and the altroot (`<root>/alt`).
    pub root: PathBuf,
    pools: Vec<String>,
    stopped: bool,
}

impl Zfs {
    /// Starts zfs-fuse for the lab under the name `what` (its log is
    /// `<lab dir>/<what>.log`), with vdev files and mounts below
    /// `<lab dir>/<what>/`. Waits until `zpool list` answers.
    pub fn start(lab: &Lab, what: &str) -> Result<Zfs> {
        Self::start_inner(lab, what, false)
    }

    /// As [`Zfs::start`], on a clock [`Zfs::set_offset`] moves (libfaketime).
    pub fn start_faked(lab: &Lab, what: &str) -> Result<Zfs> {
        Self::start_inner(lab, what, true)
    }

    fn start_inner(lab: &Lab, what: &str, faked: bool) -> Result<Zfs> {
        let root = lab.dir.join(what);
        std::fs::create_dir_all(root.join("alt")).with_context(|| format!("creating {}", root.join("alt").display()))?;
        // The mount points of the private tmpfs mounts must exist on the
        // machine; creating an empty directory changes nothing for others.
        // zfs-fuse also takes a global lock, /var/lock/zfs/zfs_lock (/var/lock is /run/lock).
        for d in ["/run/zfs", "/etc/zfs", "/run/lock/zfs"] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {d}"))?;
        }
        let mut cmd = Command::new("unshare");
        // --kill-child: zfs-fuse dies with unshare (the lab's teardown
        // kills the pid it recorded, unshare's).
        cmd.args(["-m", "-p", "--kill-child", "--mount-proc", "--propagation", "private", "sh", "-c"]).arg(
            // PID 1 of the namespace is this shell, not zfs-fuse: it reaps
            // the orphans (a restic killed with its nsenter would otherwise
            // stay a zombie, and its lock would never look stale), and its
            // trap passes SIGTERM on.
            "mount -t tmpfs hearth-zfs /run/zfs && mount -t tmpfs hearth-zfs /etc/zfs && mount -t tmpfs hearth-zfs /run/lock/zfs && \
             { zfs-fuse --no-daemon --no-kstat-mount & z=$!; trap 'kill $z' TERM; while kill -0 $z 2>/dev/null; do wait; done; }",
        );
        std::fs::create_dir_all(root.join("bin")).with_context(|| format!("creating {}", root.join("bin").display()))?;
        let shim = root.join("bin/zfs");
        std::fs::write(&shim, ZFS_SHIM).with_context(|| format!("writing {}", shim.display()))?;
        std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).with_context(|| format!("chmod 755 {}", shim.display()))?;
        let clock = if faked {
            let c = root.join("clock");
            std::fs::write(&c, "+0s\n").with_context(|| format!("writing {}", c.display()))?;
            Some(c)
        } else {
            None
        };
        if let Some(c) = &clock {
            faketime_env(&mut cmd, c)?;
        }
        let unshare = lab.spawn(what, cmd)?;
        let mut z = Zfs { pid: 0, unshare, clock, root, pools: vec![], stopped: false };
        let t0 = Instant::now();
        loop {
            if z.pid == 0 {
                z.pid = child_of(unshare).unwrap_or(0);
            }
            if z.pid != 0 && z.zpool(&["list"]).is_ok() {
                return Ok(z);
            }
            if !Lab::alive(unshare) || t0.elapsed() > Duration::from_secs(20) {
                z.stopped = true;
                return Err(LabError::DidNotStart { daemon: "zfs-fuse".into(), log: lab.dir.join(format!("{what}.log")) });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// PID 1 of the daemon's namespaces (its mount namespace is
    /// `/proc/PID/ns/mnt`, its files `/proc/PID/root`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `nsenter` into the daemon's mount and PID namespaces; append more
    /// namespaces (`--net=...`), then `--` and the program.
    pub fn nsenter(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-m", "-p"]);
        c
    }

    /// `prog` run inside the daemon's mount namespace (on its clock, with
    /// the `zfs` shim first on PATH).
    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = self.nsenter();
        c.arg("--").arg(prog);
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
        c.env("PATH", format!("{}:/usr/sbin:/sbin:{path}", self.root.join("bin").display())).env("TZ", "UTC");
        if let Some(clock) = &self.clock {
            // The file exists: start_faked wrote it.
            let _ = faketime_env(&mut c, clock);
        }
        c
    }

    /// Moves the simulated clock to real time + `secs` (daemon and commands).
    pub fn set_offset(&self, secs: i64) -> Result<()> {
        let Some(c) = &self.clock else { return Err(StorageLabError::RealClock.into()) };
        std::fs::write(c, format!("{secs:+}s\n")).with_context(|| format!("moving the simulated clock ({})", c.display()))?;
        Ok(())
    }

    /// The path, as seen from outside, of `path` inside the namespace.
    pub fn host_path(&self, path: &Path) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.pid)).join(path.strip_prefix("/").unwrap_or(path))
    }

    pub fn zpool(&self, args: &[&str]) -> Result<String> {
        run(self.cmd("zpool").args(args))
    }

    pub fn zfs(&self, args: &[&str]) -> Result<String> {
        run(self.cmd("zfs").args(args))
    }

    /// Creates `size_mb` MB files `<root>/<pool>-<i>.img` for each disk and
    /// the pool on them (`layout` is `mirror`, `raidz1`, ... or None for a
    /// stripe), mounted under the altroot. Returns the vdev files.
    pub fn create_pool(&mut self, pool: &str, layout: Option<&str>, disks: usize, size_mb: u64) -> Result<Vec<PathBuf>> {
        let files: Vec<PathBuf> = (0..disks).map(|i| self.root.join(format!("{pool}-{i}.img"))).collect();
        for f in &files {
            let file = std::fs::File::create(f).with_context(|| format!("creating {}", f.display()))?;
            file.set_len(size_mb << 20).with_context(|| format!("sizing {} to {size_mb} MB", f.display()))?;
        }
        let alt = self.root.join("alt");
        // -m: zfs-fuse mounts a pool's root at the altroot itself otherwise,
        // and two pools would stack there.
        let mut args: Vec<String> = vec!["create".into(), "-f".into(), "-R".into(), alt.display().to_string(), "-m".into(), format!("/{pool}"), pool.into()];
        args.extend(layout.map(String::from));
        args.extend(files.iter().map(|f| f.display().to_string()));
        self.pools.push(pool.into());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.zpool(&a)?;
        Ok(files)
    }

    /// Exports and re-imports `pool` (from this helper's vdev files, same
    /// altroot): everything is on disk afterwards and no cache is warm.
    pub fn reimport(&self, pool: &str) -> Result<()> {
        self.zpool(&["export", pool])?;
        let (dir, alt) = (self.root.display().to_string(), self.root.join("alt").display().to_string());
        self.zpool(&["import", "-d", &dir, "-R", &alt, pool])?;
        Ok(())
    }

    /// Where `mountpoint` of a dataset appears in the daemon's namespace
    /// (under the altroot); [`Zfs::host_path`] of it reads it from outside.
    pub fn path(&self, mountpoint: &str) -> PathBuf {
        self.root.join("alt").join(mountpoint.trim_start_matches('/'))
    }

    /// Destroys every pool this helper created and stops the daemon.
    /// Returns what could not be cleaned.
    pub fn stop(mut self) -> Vec<String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Vec<String> {
        if self.stopped {
            return vec![];
        }
        self.stopped = true;
        let mut problems = vec![];
        for p in self.pools.iter().rev() {
            if self.zpool(&["list", p]).is_ok() {
                // zfs-fuse reports a pool just used (a clone unmounted, a
                // restic that was killed) as busy for a while, longer on a
                // loaded machine: retry before reporting.
                let mut last = None;
                for attempt in 0..15 {
                    match self.zpool(&["destroy", "-f", p]) {
                        Ok(_) => {
                            last = None;
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                    std::thread::sleep(Duration::from_millis(500 + 250 * attempt));
                }
                if let Some(e) = last {
                    problems.push(format!("zpool destroy {p}: {}", crate::lab::error::chain(&e)));
                }
            }
        }
        // SIGTERM to PID 1 of the namespace (its trap passes it on to
        // zfs-fuse); unshare ignores it while its child lives, and exits
        // with it.
        if self.pid != 0 {
            unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        }
        let t0 = Instant::now();
        while Lab::alive(self.unshare) && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if Lab::alive(self.unshare) {
            if self.pid != 0 {
                unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
            }
            unsafe { libc::kill(self.unshare as i32, libc::SIGKILL) };
            unsafe { libc::waitpid(self.unshare as i32, std::ptr::null_mut(), 0) };
        }
        let _ = std::fs::remove_dir_all(&self.root);
        problems
    }
}

/// The first child of `parent` (the kernel here has no
/// `/proc/PID/task/PID/children`: scan `/proc/*/stat`).
pub(crate) fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// libfaketime's multithreaded library (Debian's `faketime` package).
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// Puts `cmd` on the clock in file `clock` (re-read on every call).
/// Monotonic clocks and file times stay real, so the daemon's timeouts
/// keep working.
fn faketime_env(cmd: &mut Command, clock: &Path) -> Result<()> {
    let lib = [LIBFAKETIME, "/usr/lib/faketime/libfaketimeMT.so.1"].into_iter().find(|l| Path::new(l).is_file());
    let Some(lib) = lib else { return Err(StorageLabError::NoFaketime.into()) };
    cmd.env("LD_PRELOAD", lib)
        .env("FAKETIME_TIMESTAMP_FILE", clock)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("DONT_FAKE_MONOTONIC", "1")
        // File times stay real: sanoid's snapshot cache (900 s TTL, judged
        // by the cache file's mtime) expires between runs as it does when
        // runs are hours apart, instead of looking seconds old forever.
        .env("NO_FAKE_STAT", "1");
    Ok(())
}

/// `zfs` for commands in the namespace: zfs-fuse's `zfs get` lacks `-t TYPE`
/// (sanoid: `get -Hrpt snapshot creation`; syncoid: `get -Hpd 1 -t snapshot
/// guid,creation`). Drops it and keeps the lines of that type.
pub const ZFS_SHIM: &str = r##"#!/bin/bash
# hearth lab: zfs-fuse's `zfs get` has no `-t TYPE`; drop it, filter lines.
if [ "${1:-}" != get ]; then exec /usr/sbin/zfs "$@"; fi
out=(get); shift; type=
while [ $# -gt 0 ]; do
  a=$1; shift
  if [[ $a == -t ]]; then type=$1; shift; continue; fi
  if [[ $a == -[A-Za-z]*t ]]; then a=${a%t}; type=$1; shift; fi
  out+=("$a")
done
[ -z "$type" ] && exec /usr/sbin/zfs "${out[@]}"
/usr/sbin/zfs "${out[@]}" | awk -F'	' -v t="$type" '
  { s = index($1, "@") > 0; b = index($1, "#") > 0 }
  (t ~ /snapshot/ && s) || (t ~ /bookmark/ && b) || ((t ~ /filesystem|volume/) && !s && !b)'
exit "${PIPESTATUS[0]}"
"##;

impl Drop for Zfs {
    fn drop(&mut self) {
        for p in self.stop_inner() {
            eprintln!("hearth lab: storage cleanup: {p}");
        }
    }
}

/// The storage stage: see the module docs. `None` when no host has pools.
pub fn stage(cx: &crate::area::LabCx) -> Option<Result<Vec<crate::lab::bastion::Check>, LabError>> {
    if cx.inv.storage.hosts.values().all(|h| h.pools.is_empty()) {
        return None;
    }
    Some(super::labstage::run(cx))
}
