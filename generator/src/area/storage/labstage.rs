//! The storage lab stage: every storage host's pools on file vdevs in one
//! zfs-fuse of the lab's own ([`Zfs`]), then, with the renderers' output:
//!
//! 1. layout: each pool is built with its declared layout and `zpool
//!    status` shows it (the mirror check);
//! 2. datasets: `createScript` (the NixOS oneshot's script) creates them with
//!    their properties; a second run changes nothing; a property changed by
//!    hand is reported and left alone;
//! 3. retention: sanoid with the rendered `sanoid.conf` runs through 60
//!    simulated days (a run every 73 hours); after each run the snapshots
//!    kept must be exactly those sanoid's policy keeps ("keep N, never
//!    delete one younger than N periods", applied as sanoid 2.1 does to the
//!    snapshots that existed when the run started, so the one a run takes
//!    comes on top: N + 1 right after a run), simulated here from the
//!    snapshots each run took;
//! 4. replication: syncoid with the rendered command (target made local)
//!    sends shelf in full, and incrementally after more snapshots; files
//!    arrive with their checksums;
//! 5. bit-rot: a data block of a file is found on one side of a mirror and
//!    overwritten; a scrub reports and repairs it, the block on disk is the
//!    original again and every file's checksum is unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::lab::error::{Context, LabError, Result};
use sha2::{Digest, Sha256};

use super::lab::{StorageLabError, Zfs};
use crate::area::LabCx;
use crate::lab::bastion::Check;

const DAY: i64 = 86_400;
/// Simulated days and the step between sanoid runs (73 h: 20 runs; no
/// snapshot's age is ever within hours of a retention boundary of the
/// example's tiers, so the expected set is never ambiguous).
const DAYS: i64 = 60;
const STEP: i64 = 73 * 3600;
const VDEV_MB: u64 = 128;

fn check(out: &mut Vec<Check>, name: impl Into<String>, from: &str, expected: impl Into<String>, seen: impl Into<String>, ok: bool) {
    out.push(Check { name: name.into(), from: from.into(), expected: expected.into(), seen: seen.into(), ok });
}

/// Runs a command, returning (success, stdout, stderr).
fn output(cmd: &mut Command) -> Result<(bool, String, String)> {
    let o = cmd.output().map_err(|e| LabError::spawn(cmd, e))?;
    Ok((o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned()))
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn sha(p: &Path) -> Result<String> {
    let b = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(Sha256::digest(&b).iter().map(|x| format!("{x:02x}")).collect())
}

/// A dataset as the renderer's input has it.
#[derive(Debug, Clone, serde::Deserialize)]
struct Ds {
    name: String,
    tier: String,
    mountpoint: String,
    properties: BTreeMap<String, String>,
}

pub fn run(cx: &LabCx) -> Result<Vec<Check>> {
    cx.require(&[("zfs-fuse", "zfs-fuse"), ("sanoid", "sanoid"), ("syncoid", "sanoid"), ("faketime", "faketime"), ("nsenter", "util-linux"), ("unshare", "util-linux")])?;
    let inv = cx.inv;
    let hosts: Vec<&String> = inv.storage.hosts.iter().filter(|(_, h)| !h.pools.is_empty()).map(|(n, _)| n).collect();
    let mut seen_pools = BTreeMap::new();
    for h in &hosts {
        for p in inv.storage.hosts[*h].pools.keys() {
            if let Some(other) = seen_pools.insert(p.clone(), (*h).clone()) {
                return Err(StorageLabError::PoolNameTwice { pool: p.clone(), first: other, second: (*h).clone() }.into());
            }
        }
    }
    let t0 = Instant::now();
    let mut zfs = Zfs::start_faked(cx.lab, "zfs-storage")?;
    let mut out = vec![];
    let res = stage(cx, &mut zfs, &hosts, &mut out);
    let problems = zfs.stop();
    res?;
    check(
        &mut out,
        "zfs-fuse stopped, pools destroyed",
        "lab",
        "nothing left",
        if problems.is_empty() { "nothing left".to_string() } else { problems.join("; ") },
        problems.is_empty(),
    );
    if cx.verbose {
        eprintln!("hearth lab: storage stage took {:.1} s", t0.elapsed().as_secs_f64());
    }
    Ok(out)
}

fn stage(cx: &LabCx, zfs: &mut Zfs, hosts: &[&String], out: &mut Vec<Check>) -> Result<()> {
    let inv = cx.inv;
    let alt = zfs.root.join("alt");
    let mut vdevs: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    // 1. Pools with their declared layout.
    for h in hosts {
        for (pn, p) in &inv.storage.hosts[*h].pools {
            let files = zfs.create_pool(pn, p.layout.keyword(), p.disks.len(), VDEV_MB)?;
            let status = zfs.zpool(&["status", pn])?;
            let in_config = files.iter().filter(|f| status.contains(&f.display().to_string())).count();
            let kw_ok = p.layout.keyword().is_none_or(|k| status.lines().any(|l| l.trim_start().starts_with(k)));
            check(
                out,
                format!("pool {pn}: {} of {} disks", p.layout, p.disks.len()),
                h,
                format!("{} with {} vdevs", p.layout, p.disks.len()),
                format!("{}{in_config} vdevs in zpool status", if kw_ok { "" } else { "no layout line, " }),
                kw_ok && in_config == files.len(),
            );
            vdevs.insert(pn.clone(), files);
        }
    }
    let phase = |what: &str, t: &mut Instant| {
        if cx.verbose {
            eprintln!("hearth lab: storage: {what} {:.1} s", t.elapsed().as_secs_f64());
        }
        *t = Instant::now();
    };
    let mut tp = Instant::now();
    phase("pools", &mut tp);
    // 2. Datasets through the NixOS oneshot's script.
    let mut all: BTreeMap<String, Vec<Ds>> = BTreeMap::new();
    for h in hosts {
        let script = eval_str(cx, h, "lib.storage.createScript host.hearth.storage")?;
        let ds: Vec<Ds> = serde_json::from_value(cx.eval(h, "host.hearth.storage.datasets")?).context("host.hearth.storage.datasets")?;
        let (ok, so, se) = output(zfs.cmd("bash").args(["-c", &script]).env("HEARTH_ZFS_ALTROOT", &alt))?;
        let created = so.lines().filter(|l| l.contains(": created ")).count();
        let expected = ds.len() + receive_count(cx, h)?;
        check(
            out,
            "create script makes the datasets",
            h,
            format!("exit 0, {expected} created"),
            format!("exit {}, {created} created{}", if ok { 0 } else { 1 }, first_line(&se)),
            ok && created == expected,
        );
        for d in &ds {
            let mut bad = vec![];
            for (k, v) in d.properties.iter().chain([(&"mountpoint".to_string(), &format!("{}{}", alt.display(), d.mountpoint))]) {
                let have = zfs.zfs(&["get", "-H", "-o", "value", k, &d.name]).map(|s| s.trim().to_string()).unwrap_or_else(|e| format!("{e:#}"));
                if &have != v {
                    bad.push(format!("{k}={have}"));
                }
            }
            check(
                out,
                format!("{} has its properties", d.name),
                h,
                "as in the inventory",
                if bad.is_empty() { "as in the inventory".into() } else { bad.join(", ") },
                bad.is_empty(),
            );
        }
        let (ok2, so2, se2) = output(zfs.cmd("bash").args(["-c", &script]).env("HEARTH_ZFS_ALTROOT", &alt))?;
        check(
            out,
            "second run changes nothing",
            h,
            "exit 0, nothing created",
            format!("exit {}, {} created{}", if ok2 { 0 } else { 1 }, so2.matches(": created ").count(), first_line(&se2)),
            ok2 && !so2.contains(": created "),
        );
        if let Some(d) = ds.iter().find(|d| d.properties.contains_key("atime")) {
            let want = &d.properties["atime"];
            let other = if want == "off" { "on" } else { "off" };
            zfs.zfs(&["set", &format!("atime={other}"), &d.name])?;
            let (ok3, _, se3) = output(zfs.cmd("bash").args(["-c", &script]).env("HEARTH_ZFS_ALTROOT", &alt))?;
            let after = zfs.zfs(&["get", "-H", "-o", "value", "atime", &d.name])?.trim().to_string();
            let msg = format!("{}: atime is {other}, the inventory says {want} (not changed)", d.name);
            check(
                out,
                "a property changed by hand is reported, not reverted",
                h,
                format!("exit 1, \"{msg}\", atime still {other}"),
                format!("exit {}, {}, atime {after}", if ok3 { 0 } else { 1 }, first_line(&se3).trim_start_matches(", ")),
                !ok3 && se3.contains(&msg) && after == other,
            );
            zfs.zfs(&["set", &format!("atime={want}"), &d.name])?;
        }
        all.insert((*h).clone(), ds);
    }
    // Data to protect: 3 files of random bytes in each dataset.
    let mut sums: BTreeMap<PathBuf, String> = BTreeMap::new();
    for ds in all.values() {
        for d in ds {
            let dir = zfs.host_path(&alt.join(d.mountpoint.trim_start_matches('/')));
            for i in 0..3 {
                let p = dir.join(format!("file{i}.bin"));
                let data: Vec<u8> = (0..256 * 1024).map(|_| rand::random::<u8>()).collect();
                std::fs::write(&p, &data).with_context(|| format!("writing {}", p.display()))?;
                sums.insert(p, Sha256::digest(&data).iter().map(|x| format!("{x:02x}")).collect());
            }
        }
    }
    phase("datasets and data", &mut tp);
    // 3. Retention over simulated days, 4. replication in the middle and at the end.
    let repl = replication(cx, hosts)?;
    let mut model: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new(); // snapshot -> ctime, per dataset
    let mut taken: BTreeMap<(String, String), usize> = BTreeMap::new(); // (dataset, period) -> count
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut mismatch: Vec<String> = vec![];
    let steps = DAYS * DAY / STEP;
    let mut confs = vec![];
    for h in hosts {
        if all[*h].is_empty() {
            continue;
        }
        let dir = zfs.root.join(format!("sanoid-{h}"));
        for sub in ["", "cache", "run"] {
            std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {}", dir.join(sub).display()))?;
        }
        std::fs::write(dir.join("sanoid.conf"), eval_str(cx, h, "lib.storage.sanoidConf host.hearth.storage")?)
            .with_context(|| format!("writing {}", dir.join("sanoid.conf").display()))?;
        std::fs::copy("/usr/share/sanoid/sanoid.defaults.conf", dir.join("sanoid.defaults.conf")).context("sanoid.defaults.conf (Debian package sanoid)")?;
        confs.push(((*h).clone(), dir));
    }
    let tiers_of: BTreeMap<String, &super::Tier> = all.values().flatten().filter_map(|d| inv.storage.tiers.get(&d.tier).map(|t| (d.name.clone(), t))).collect();
    let mut repl_runs: Vec<(String, bool, String)> = vec![];
    let mut sanoid_log = String::new();
    let mut last: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for k in 1..=steps {
        let offset = k * STEP;
        zfs.set_offset(offset)?;
        let t_run = now() + offset;
        for (h, dir) in &confs {
            let d = dir.display().to_string();
            let (ok, so, se) =
                output(zfs.cmd("sanoid").args([format!("--configdir={d}"), format!("--cache-dir={d}/cache"), format!("--run-dir={d}/run"), "--cron".into(), "--verbose".into()]))?;
            if !ok {
                return Err(StorageLabError::Sanoid { host: h.clone(), day: offset / DAY, stderr: se.trim().into() }.into());
            }
            sanoid_log = format!("{so}{se}");
        }
        // What exists now, with creation times.
        let mut get = zfs.cmd("zfs");
        get.args(["get", "-Hrp", "-t", "snapshot", "creation"]);
        let list = get.output().map_err(|e| LabError::spawn(&get, e))?;
        let mut now_set: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for l in String::from_utf8_lossy(&list.stdout).lines() {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() < 3 || !f[0].contains("@autosnap_") {
                continue;
            }
            let (ds, snap) = f[0].split_once('@').unwrap_or((f[0], ""));
            if !tiers_of.contains_key(ds) {
                continue;
            }
            now_set.entry(ds.into()).or_default().insert(snap.into(), f[2].parse().unwrap_or(0));
        }
        // sanoid 2.1 prunes from the list it read when the run started
        // (`%snapsbytype` is not refreshed after taking snapshots): prune
        // what the previous run left, at this run's time, then add what this
        // run took.
        for (ds, snaps) in model.iter_mut() {
            prune(snaps, tiers_of[ds], t_run);
        }
        for (ds, snaps) in &now_set {
            for (s, c) in snaps {
                if seen.insert(format!("{ds}@{s}")) {
                    model.entry(ds.clone()).or_default().insert(s.clone(), *c);
                    *taken.entry((ds.clone(), period_of(s).to_string())).or_default() += 1;
                }
            }
        }
        for (ds, snaps) in &model {
            let have: BTreeSet<&String> = now_set.get(ds).map(|m| m.keys().collect()).unwrap_or_default();
            let want: BTreeSet<&String> = snaps.keys().collect();
            if have != want && mismatch.len() < 3 {
                let extra: Vec<&&String> = have.difference(&want).collect();
                let missing: Vec<&&String> = want.difference(&have).collect();
                let about: Vec<&str> = sanoid_log
                    .lines()
                    .filter(|l| l.contains("defer") || l.contains("lock") || l.contains("could not") || l.contains("cannot") || extra.iter().any(|e| l.contains(e.as_str())))
                    .take(4)
                    .collect();
                mismatch.push(format!("day {}: {ds} kept extra {extra:?}, pruned {missing:?} (sanoid: {})", offset / DAY, about.join(" / ")));
            }
        }
        last = now_set;
        // Replication: a full send after the first month, an incremental one at the end.
        if k == steps / 2 || k == steps {
            for (src, tgt, args) in &repl {
                let mut c = zfs.cmd("syncoid");
                c.args(args).arg(src).arg(tgt);
                let (ok, so, se) = output(&mut c)?;
                repl_runs.push((format!("{src} -> {tgt}"), ok, format!("{so}{se}")));
            }
            if k == steps / 2 {
                // New data on the source for the incremental run.
                for ds in all.values().flatten().filter(|d| repl.iter().any(|r| r.0 == d.name)) {
                    let p = zfs.host_path(&alt.join(ds.mountpoint.trim_start_matches('/'))).join("later.bin");
                    let data: Vec<u8> = (0..64 * 1024).map(|_| rand::random::<u8>()).collect();
                    std::fs::write(&p, &data).with_context(|| format!("writing {}", p.display()))?;
                    sums.insert(p, Sha256::digest(&data).iter().map(|x| format!("{x:02x}")).collect());
                }
            }
        }
    }
    // The target's sanoid: replicas are pruned by their tier, never snapshotted.
    for h in hosts {
        let recv: Vec<(String, String)> = serde_json::from_value::<Vec<serde_json::Value>>(cx.eval(h, "builtins.concatMap (r: r.datasets) host.hearth.storage.receive")?)
            .context("the received datasets")?
            .iter()
            .filter_map(|d| Some((d["name"].as_str()?.to_string(), d["tier"].as_str()?.to_string())))
            .collect();
        if recv.is_empty() {
            continue;
        }
        let dir = zfs.root.join(format!("sanoid-{h}"));
        for sub in ["", "cache", "run"] {
            std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {}", dir.join(sub).display()))?;
        }
        std::fs::write(dir.join("sanoid.conf"), eval_str(cx, h, "lib.storage.sanoidConf host.hearth.storage")?)
            .with_context(|| format!("writing {}", dir.join("sanoid.conf").display()))?;
        std::fs::copy("/usr/share/sanoid/sanoid.defaults.conf", dir.join("sanoid.defaults.conf")).context("copying /usr/share/sanoid/sanoid.defaults.conf")?;
        let snaps_of = |ds: &str| -> Result<BTreeMap<String, i64>> {
            let mut get = zfs.cmd("zfs");
            get.args(["get", "-Hrp", "-t", "snapshot", "creation", ds]);
            let o = get.output().map_err(|e| LabError::spawn(&get, e))?;
            Ok(String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    let (d, snap) = f.first()?.split_once('@')?;
                    (d == ds).then(|| (snap.to_string(), f.get(2).and_then(|c| c.parse().ok()).unwrap_or(0)))
                })
                .collect())
        };
        let before: Vec<BTreeMap<String, i64>> = recv.iter().map(|(d, _)| snaps_of(d)).collect::<Result<_>>()?;
        zfs.set_offset(steps * STEP + 3600)?;
        let t_run = now() + steps * STEP + 3600;
        let d = dir.display().to_string();
        let (ok, _, se) = output(zfs.cmd("sanoid").args([format!("--configdir={d}"), format!("--cache-dir={d}/cache"), format!("--run-dir={d}/run"), "--cron".into()]))?;
        for ((ds, tier), mut want) in recv.iter().zip(before) {
            let Some(t) = inv.storage.tiers.get(tier) else { continue };
            let n_before = want.len();
            prune(&mut want, t, t_run);
            let have = snaps_of(ds)?;
            let same = have.keys().eq(want.keys());
            check(
                out,
                format!("{ds} ({tier} replica): pruned by the tier, no snapshots of its own"),
                h,
                format!("sanoid ok, {n_before} -> {} snapshots", want.len()),
                format!("sanoid {}, {n_before} -> {} snapshots{}", if ok { "ok" } else { "failed" }, have.len(), first_line(&se)),
                ok && same && have.len() < n_before,
            );
        }
    }
    check(
        out,
        format!("sanoid over {DAYS} simulated days ({steps} runs): kept == policy after every run"),
        "lab",
        "no difference",
        if mismatch.is_empty() { "no difference".into() } else { mismatch.join("; ") },
        mismatch.is_empty(),
    );
    for (ds, snaps) in &last {
        let t = tiers_of[ds];
        let mut parts = vec![];
        let mut ok = true;
        for (key, sanoid) in super::PERIODS {
            let n = t.counts().iter().find(|c| c.0 == key).map(|c| c.1.get()).unwrap_or(0) as usize;
            let kept = snaps.keys().filter(|s| period_of(s) == sanoid).count();
            let took = taken.get(&(ds.clone(), sanoid.to_string())).copied().unwrap_or(0);
            // Every earlier daily is older than N days here (73 h steps), so
            // right after a run sanoid holds min(taken, N + 1) of them.
            if sanoid == "daily" && n > 0 && kept != took.min(n + 1) {
                ok = false;
            }
            if n > 0 || kept > 0 {
                parts.push(format!("{key} {kept} of {took} (N={n})"));
            }
        }
        let tier = all.values().flatten().find(|d| &d.name == ds).map(|d| d.tier.clone()).unwrap_or_default();
        check(out, format!("{ds} ({tier}): dailies kept after the last run = min(taken, N + 1)"), "lab", "kept of taken (N) per period", parts.join(", "), ok);
    }
    for (what, ok, log) in &repl_runs {
        let full = log.contains("full");
        let incr = log.contains("incremental");
        check(
            out,
            format!("syncoid {what}"),
            "lab",
            "succeeds (full, then incremental)",
            format!(
                "{}{}{}{}",
                if *ok { "ok" } else { "failed" },
                if full { ", full" } else { "" },
                if incr { ", incremental" } else { "" },
                if *ok { String::new() } else { last_lines(log, 3) }
            ),
            *ok && (full || incr),
        );
    }
    if let [(first, ..), .., (last, _, log2)] = repl_runs.as_slice() {
        let incr_only = log2.contains("incremental") && !log2.contains("full");
        check(
            out,
            "second syncoid run is incremental only",
            "lab",
            "incremental, no full send",
            if incr_only { "incremental, no full send" } else { "not incremental only" },
            first == last && incr_only,
        );
    }
    for (src, tgt, _) in &repl {
        let (Some(sd), Some(tm)) = (all.values().flatten().find(|d| &d.name == src), zfs.zfs(&["get", "-H", "-o", "value", "mountpoint", tgt]).ok()) else { continue };
        let sdir = zfs.host_path(&alt.join(sd.mountpoint.trim_start_matches('/')));
        let tdir = zfs.host_path(Path::new(tm.trim()));
        let mut bad = vec![];
        for (p, s) in sums.iter().filter(|(p, _)| p.starts_with(&sdir)) {
            let q = tdir.join(p.file_name().unwrap_or_default());
            if sha(&q).ok().as_ref() != Some(s) {
                bad.push(q.file_name().unwrap_or_default().to_string_lossy().into_owned());
            }
        }
        check(
            out,
            format!("replica {tgt} has {src}'s files"),
            "lab",
            "same checksums",
            if bad.is_empty() { "same checksums".into() } else { format!("differ: {}", bad.join(", ")) },
            bad.is_empty(),
        );
    }
    phase("retention and replication", &mut tp);
    // 5. Bit-rot on a mirror.
    let mirror = hosts.iter().flat_map(|h| inv.storage.hosts[*h].pools.iter()).find(|(_, p)| p.layout == super::Layout::Mirror).map(|(n, _)| n.clone());
    if let Some(pool) = mirror {
        bitrot(zfs, &pool, &vdevs[&pool], &sums, out)?;
    }
    phase("bit-rot", &mut tp);
    Ok(())
}

fn receive_count(cx: &LabCx, h: &str) -> Result<usize> {
    Ok(cx.eval(h, "builtins.length host.hearth.storage.receive")?.as_u64().unwrap_or(0) as usize)
}

/// The last `n` non-empty lines of a command's output, for a failed check.
fn last_lines(s: &str, n: usize) -> String {
    let v: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    format!(": {}", v[v.len().saturating_sub(n)..].join(" / "))
}

fn first_line(s: &str) -> String {
    s.lines().find(|l| !l.trim().is_empty()).map(|l| format!(", {}", l.trim())).unwrap_or_default()
}

fn eval_str(cx: &LabCx, host: &str, expr: &str) -> Result<String> {
    match cx.eval(host, expr)? {
        serde_json::Value::String(s) => Ok(s),
        v => Err(LabError::Rendered { expr: expr.into(), value: v.to_string(), expected: "text" }),
    }
}

/// (source, local target, syncoid args) for each rendered syncoid command.
fn replication(cx: &LabCx, hosts: &[&String]) -> Result<Vec<(String, String, Vec<String>)>> {
    let mut v = vec![];
    for h in hosts {
        let j =
            cx.eval(h, "let c = lib.storage.syncoidCommands host.hearth.storage; in map (r: { inherit (r) targetDataset; cmd = c.${r.name}; }) host.hearth.storage.replication")?;
        for r in j.as_array().into_iter().flatten() {
            let src = r["cmd"]["source"].as_str().unwrap_or_default().to_string();
            let tgt = r["targetDataset"].as_str().unwrap_or_default().to_string();
            let args = r["cmd"]["extraArgs"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(String::from)).collect();
            // The module's syncoid runs unprivileged with zfs allow; the lab is root.
            v.push((src, tgt, args));
        }
    }
    Ok(v)
}

/// `autosnap_2026-01-01_00:00:00_daily` -> `daily`.
fn period_of(snap: &str) -> &str {
    snap.rsplit('_').next().unwrap_or("")
}

/// sanoid's pruning rule (sanoid 2.1, prune_snapshots): per period, oldest
/// first, delete while more than N remain and the snapshot is older than N
/// periods.
fn prune(snaps: &mut BTreeMap<String, i64>, t: &super::Tier, now: i64) {
    for (key, sanoid) in super::PERIODS {
        let n = t.counts().iter().find(|c| c.0 == key).map(|c| c.1.get()).unwrap_or(0) as i64;
        let period: f64 = match sanoid {
            "frequently" => 15.0 * 60.0,
            "hourly" => 3600.0,
            "daily" => 86400.0,
            "weekly" => 7.0 * 86400.0,
            "monthly" => 31.0 * 86400.0,
            _ => 365.25 * 86400.0,
        };
        let maxage = now as f64 - n as f64 * period;
        let mut of: Vec<(i64, String)> = snaps.iter().filter(|(s, _)| period_of(s) == sanoid).map(|(s, c)| (*c, s.clone())).collect();
        of.sort();
        let mut count = of.len() as i64;
        for (c, s) in of {
            if (c as f64) < maxage && count > n {
                snaps.remove(&s);
                count -= 1;
            }
        }
    }
}

/// Finds `needle` in the file at `p`; returns its offset.
fn find_in(p: &Path, needle: &[u8]) -> Result<Option<u64>> {
    let hay = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(hay.windows(needle.len()).position(|w| w == needle).map(|o| o as u64))
}

fn bitrot(zfs: &Zfs, pool: &str, vdevs: &[PathBuf], sums: &BTreeMap<PathBuf, String>, out: &mut Vec<Check>) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    // Everything on disk, no warm cache.
    zfs.reimport(pool)?;
    // A file of this pool whose first 4 KiB are found on side 0.
    let alt = zfs.host_path(&zfs.root.join("alt"));
    let files: Vec<(&PathBuf, &String)> = sums.iter().filter(|(p, _)| p.starts_with(&alt)).collect();
    let mut target = None;
    for (p, _) in &files {
        let mut head = vec![0u8; 4096];
        std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?.read_exact(&mut head).with_context(|| format!("reading {}", p.display()))?;
        if let Some(off) = find_in(&vdevs[0], &head)? {
            target = Some((p.to_path_buf(), off, head));
            break;
        }
    }
    let Some((file, off, head)) = target else {
        check(out, format!("bit-rot on {pool}: a data block located on one side"), "lab", "found", "no file's block found on the vdev", false);
        return Ok(());
    };
    let mirror_same = {
        let mut b = vec![0u8; 4096];
        let mut f = std::fs::File::open(&vdevs[1]).with_context(|| format!("opening {}", vdevs[1].display()))?;
        f.seek(SeekFrom::Start(off)).and_then(|_| f.read_exact(&mut b)).with_context(|| format!("reading {} at {off}", vdevs[1].display()))?;
        b == head
    };
    // Rot: 64 KiB of that block's region on side 0 only.
    let junk: Vec<u8> = (0..64 * 1024).map(|_| rand::random::<u8>()).collect();
    {
        let rot = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().write(true).open(&vdevs[0])?;
            f.seek(SeekFrom::Start(off))?;
            f.write_all(&junk)?;
            f.sync_all()
        };
        rot().with_context(|| format!("overwriting {} at {off}", vdevs[0].display()))?;
    }
    zfs.zpool(&["scrub", pool])?;
    let t0 = Instant::now();
    let status = loop {
        let s = zfs.zpool(&["status", "-v", pool])?;
        if !s.contains("in progress") || t0.elapsed() > Duration::from_secs(120) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let rot_line = status.lines().find(|l| l.contains(&vdevs[0].display().to_string())).unwrap_or("").trim().to_string();
    let cksum: u64 = rot_line.split_whitespace().nth(4).and_then(|c| c.parse().ok()).unwrap_or(0);
    let repaired = rot_line.contains("repaired") || status.lines().any(|l| l.contains("repaired") && !l.contains(" 0 repaired") && !l.contains("repaired 0"));
    let scrub_line = status.lines().find(|l| l.contains("scrub")).unwrap_or("").trim().to_string();
    check(
        out,
        format!("bit-rot: {} bytes of {} overwritten on one side of {pool}", junk.len(), file.file_name().unwrap_or_default().to_string_lossy()),
        "lab",
        "the other side holds the block",
        if mirror_same { "the other side holds the block" } else { "the other side differs" },
        mirror_same,
    );
    check(
        out,
        "scrub reports and repairs it",
        "lab",
        "CKSUM > 0 on the rotten side, repaired",
        format!("{rot_line} | {scrub_line}"),
        cksum > 0 && repaired && status.contains("No known data errors"),
    );
    let mut back = vec![0u8; 4096];
    {
        let mut f = std::fs::File::open(&vdevs[0]).with_context(|| format!("opening {}", vdevs[0].display()))?;
        f.seek(SeekFrom::Start(off)).and_then(|_| f.read_exact(&mut back)).with_context(|| format!("reading {} at {off}", vdevs[0].display()))?;
    }
    check(out, "the rotten side holds the original block again", "lab", "repaired on disk", if back == head { "repaired on disk" } else { "still corrupt" }, back == head);
    zfs.reimport(pool)?;
    let bad: Vec<String> = files.iter().filter(|(p, s)| sha(p).ok().as_ref() != Some(*s)).map(|(p, _)| p.display().to_string()).collect();
    check(
        out,
        format!("every file's checksum is unchanged ({} files)", files.len()),
        "lab",
        "unchanged",
        if bad.is_empty() { "unchanged".into() } else { bad.join(", ") },
        bad.is_empty(),
    );
    let _ = zfs.zpool(&["clear", pool]);
    Ok(())
}
