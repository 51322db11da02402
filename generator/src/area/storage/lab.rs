//! The storage lab stage, and [`Zfs`]: a zfs-fuse daemon of the lab's own.
//!
//! zfs-fuse is one daemon per machine by default: its socket
//! (`/var/run/zfs/zfs_socket`) and pool cache (`/etc/zfs/zpool.cache`) are
//! global. [`Zfs::start`] runs it in a private mount namespace (`unshare -m`)
//! with tmpfs on `/run/zfs` and `/etc/zfs`, so any number of labs (and a
//! machine's own zfs-fuse) coexist; every `zpool`/`zfs`/`sanoid` call enters
//! that namespace with `nsenter -t PID -m`. Pools are created with an
//! altroot below the lab's directory, so datasets mount at
//! `<root>/alt/<mountpoint>`, visible only inside the namespace. The daemon
//! is recorded with [`Lab::spawn`] (teardown kills it); [`Zfs::stop`] (also
//! run on drop) destroys the pools first.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::lab::exec::{run, Lab};

/// A zfs-fuse daemon in a private mount namespace.
pub struct Zfs {
    pid: u32,
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
        let root = lab.dir.join(what);
        std::fs::create_dir_all(root.join("alt"))?;
        // The mount points of the private tmpfs mounts must exist on the
        // machine; creating an empty directory changes nothing for others.
        // zfs-fuse also takes a global lock, /var/lock/zfs/zfs_lock (/var/lock is /run/lock).
        for d in ["/run/zfs", "/etc/zfs", "/run/lock/zfs"] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {d}"))?;
        }
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "sh", "-c"]).arg(
            "mount -t tmpfs hearth-zfs /run/zfs && mount -t tmpfs hearth-zfs /etc/zfs && mount -t tmpfs hearth-zfs /run/lock/zfs && exec zfs-fuse --no-daemon --no-kstat-mount",
        );
        let pid = lab.spawn(what, cmd)?;
        let mut z = Zfs { pid, root, pools: vec![], stopped: false };
        let t0 = Instant::now();
        loop {
            if z.zpool(&["list"]).is_ok() {
                return Ok(z);
            }
            if !Lab::alive(pid) || t0.elapsed() > Duration::from_secs(20) {
                z.stopped = true;
                bail!("zfs-fuse did not start (see {}/{what}.log)", lab.dir.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's pid (its mount namespace is `/proc/PID/ns/mnt`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `prog` run inside the daemon's mount namespace.
    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-m", "--"]).arg(prog);
        c
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
            let file = std::fs::File::create(f)?;
            file.set_len(size_mb << 20)?;
        }
        let alt = self.root.join("alt");
        let mut args: Vec<String> = vec!["create".into(), "-f".into(), "-R".into(), alt.display().to_string(), pool.into()];
        args.extend(layout.map(String::from));
        args.extend(files.iter().map(|f| f.display().to_string()));
        self.pools.push(pool.into());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.zpool(&a)?;
        Ok(files)
    }

    /// Where `mountpoint` of a dataset appears in the daemon's namespace.
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
                if let Err(e) = self.zpool(&["destroy", "-f", p]) {
                    problems.push(format!("zpool destroy {p}: {e:#}"));
                }
            }
        }
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        while Lab::alive(self.pid) && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if Lab::alive(self.pid) {
            unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
            unsafe { libc::waitpid(self.pid as i32, std::ptr::null_mut(), 0) };
        }
        let _ = std::fs::remove_dir_all(&self.root);
        problems
    }
}

impl Drop for Zfs {
    fn drop(&mut self) {
        for p in self.stop_inner() {
            eprintln!("hearth lab: storage cleanup: {p}");
        }
    }
}

/// The storage stage: see the module docs. `None` when no host has pools.
pub fn stage(cx: &crate::area::LabCx) -> Option<Result<Vec<crate::lab::bastion::Check>, crate::area::CmdError>> {
    if cx.inv.storage.hosts.values().all(|h| h.pools.is_empty()) {
        return None;
    }
    Some(super::labstage::run(cx).map_err(|e| format!("{e:#}").into()))
}
