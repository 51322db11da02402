//! `hearth backup bench`: does the tier's retention keep restores fast?
//!
//! Simulates `--days` nightly backups of a directory (30 MB, small daily
//! changes; restic's `--time` dates each snapshot one day later) into one
//! repository, copies it, and applies the tier's rendered `forget --prune`
//! options (the prune job's `pruneOpts`) to the copy. Both repositories are
//! then served by `rclone serve restic` behind the lab's shaped offsite link
//! (20 Mbit/s, 40 ms round trip) and measured in the same run, each from an
//! empty cache (a restore onto a new machine): `restic snapshots`, and the
//! restore of one 10 MB directory from the newest snapshot, reported against
//! the physical floor (bytes / link bandwidth).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::lab::{BackupLabError, Link, RATE_BITS};
use crate::lab::error::{Context, LabError, Result};
use crate::lab::exec::{new_prefix, Lab};

/// One repository's figures.
#[derive(Debug, serde::Serialize)]
pub struct Figures {
    pub repository: String,
    pub snapshots: usize,
    pub repo_bytes: u64,
    pub snapshots_s: f64,
    /// Median of the rounds.
    pub restore_s: f64,
    pub restore_runs_s: Vec<f64>,
    /// Bytes that crossed the link during one restore (None with netem: no proxy to count).
    pub restore_link_bytes: Option<u64>,
    pub restored_bytes: u64,
    pub floor_s: f64,
    pub ratio: f64,
}

fn restic(env: &[(&str, String)], ns: Option<&str>, args: &[&str]) -> Result<String> {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "restic"]);
            c
        }
        None => Command::new("restic"),
    };
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    // The error names the program and arguments, never the environment
    // (which holds the repository password).
    let out = c.output().map_err(|e| LabError::spawn(&c, e))?;
    if !out.status.success() {
        return Err(LabError::command(&c, out.status, &out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sh(script: &str) -> Result<()> {
    let mut c = Command::new("sh");
    c.args(["-c", script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = c.output().map_err(|e| LabError::spawn(&c, e))?;
    if !out.status.success() {
        return Err(LabError::command(&c, out.status, &out.stderr));
    }
    Ok(())
}

fn du(p: &Path) -> u64 {
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

/// Runs the benchmark; `prune_opts` are the tier's rendered options.
pub fn run(days: u32, tier: &str, prune_opts: &[String], verbose: bool) -> Result<Vec<Figures>> {
    let lab = Lab::create(&new_prefix())?;
    let res = run_in(&lab, days, tier, prune_opts, verbose);
    let problems = lab.teardown();
    if !problems.is_empty() {
        eprintln!("hearth backup bench: teardown: {}", problems.join("; "));
    }
    res
}

fn run_in(lab: &Lab, days: u32, tier: &str, prune_opts: &[String], verbose: bool) -> Result<Vec<Figures>> {
    let src = lab.dir.join("bench-src");
    let s = src.display();
    // 10 MB of documents (the directory restored), 20 MB of other files.
    sh(&format!(
        "set -e; mkdir -p {s}/docs {s}/other; for i in $(seq 1 100); do head -c 100000 /dev/urandom > {s}/docs/d$i; done; \
         for i in $(seq 1 40); do head -c 500000 /dev/urandom > {s}/other/o$i; done"
    ))?;
    let password = crate::keys::generate_random_text(24);
    let pw = String::from_utf8_lossy(password.expose()).into_owned();
    let all = lab.dir.join("bench-all");
    let env_local =
        |repo: &Path, cache: &Path| vec![("RESTIC_REPOSITORY", repo.display().to_string()), ("RESTIC_PASSWORD", pw.clone()), ("RESTIC_CACHE_DIR", cache.display().to_string())];
    let cache = lab.dir.join("bench-cache");
    let env = env_local(&all, &cache);
    restic(&env, None, &["init"])?;
    let start = 1_767_225_600i64 - i64::from(days) * 86_400; // days before 2026-01-01
    let t0 = Instant::now();
    for d in 0..days {
        // A small daily change: two files of `other` rewritten, one document edited, a log grows.
        sh(&format!(
            "set -e; head -c 100000 /dev/urandom > {s}/other/o$(( {d} % 40 + 1 )); head -c 50000 /dev/urandom > {s}/other/n{d}; \
             head -c 100000 /dev/urandom > {s}/docs/d$(( {d} % 100 + 1 )); rm -f {s}/other/n$(( {d} - 3 ))"
        ))?;
        let when = chrono_like(start + i64::from(d) * 86_400 + 3600);
        restic(&env, None, &["backup", "--quiet", "--host", "nas01", "--tag", &format!("hearth-tier-{tier}"), "--time", &when, &src.display().to_string()])?;
        if verbose && (d + 1) % 50 == 0 {
            eprintln!("hearth backup bench: {} of {days} backups ({:.0} s)", d + 1, t0.elapsed().as_secs_f64());
        }
    }
    // Copies with the tier's retention applied: hearth's rendered options,
    // and the same with restic's default repacking (without
    // `--repack-cacheable-only` / `--max-unused`).
    let opts: Vec<String> = prune_opts.iter().flat_map(|o| o.split_whitespace().map(String::from)).collect();
    let mut default_repack: Vec<String> = vec![];
    let mut it = opts.iter();
    while let Some(o) = it.next() {
        if o == "--max-unused" {
            it.next();
        } else if o != "--repack-cacheable-only" {
            default_repack.push(o.clone());
        }
    }
    let mut variants = vec![("kept", &opts)];
    if default_repack != opts {
        variants.push(("repacked", &default_repack));
    }
    let served: Vec<&str> = std::iter::once("all").chain(variants.iter().map(|(n, _)| *n)).collect();
    for (name, o) in variants.iter() {
        let dir = lab.dir.join(format!("bench-{name}"));
        sh(&format!("cp -a {} {}", all.display(), dir.display()))?;
        let mut args = vec!["forget".to_string(), "--prune".into(), "--quiet".into()];
        args.extend(o.iter().cloned());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        restic(&env_local(&dir, &cache), None, &a)?;
    }

    // Serve both behind the shaped link and measure, each from an empty cache.
    let mut link = Link::create(&lab.prefix)?;
    let root = lab.dir.join("bench-served");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    std::fs::rename(&all, root.join("all")).with_context(|| format!("renaming {}", all.display()))?;
    for n in served.iter().skip(1) {
        std::fs::rename(lab.dir.join(format!("bench-{n}")), root.join(n)).with_context(|| format!("renaming {}", lab.dir.join(format!("bench-{n}")).display()))?;
    }
    let _srv = link.serve(lab, "bench-rclone", &root)?;
    let mut out = vec![];
    let names = served.clone();
    let env_of = |name: &str| {
        let c = lab.dir.join(format!("bench-cache-{name}"));
        vec![("RESTIC_REPOSITORY", format!("{}{name}/", link.url())), ("RESTIC_PASSWORD", pw.clone()), ("RESTIC_CACHE_DIR", c.display().to_string())]
    };
    let mut listed = vec![];
    for name in names.iter().copied() {
        let env = env_of(name);
        let t = Instant::now();
        let list = restic(&env, Some(&link.home), &["snapshots", "--json", "--no-cache"])?;
        let s = t.elapsed().as_secs_f64();
        let not_a_list = || BackupLabError::NotAList { args: "snapshots --json".into(), output: list.clone() };
        let n: usize = serde_json::from_str::<serde_json::Value>(&list).map_err(|_| not_a_list())?.as_array().map(|a| a.len()).ok_or_else(not_a_list)?;
        listed.push((n, s));
    }
    // Restores alternate between the two repositories, ROUNDS times, so
    // that load from elsewhere hits both alike.
    const ROUNDS: usize = 3;
    let mut runs: Vec<Vec<f64>> = vec![vec![]; names.len()];
    let mut link_bytes: Vec<Option<u64>> = vec![None; names.len()];
    let mut restored = vec![0u64; names.len()];
    for round in 0..ROUNDS {
        for (i, name) in names.iter().enumerate() {
            let env = env_of(name);
            let target = lab.dir.join(format!("bench-restore-{name}"));
            let _ = std::fs::remove_dir_all(&target);
            let b0 = link.bytes_down();
            let t = Instant::now();
            restic(&env, Some(&link.home), &["restore", "latest", "--no-cache", "--include", &format!("{}/docs", src.display()), "--target", &target.display().to_string()])?;
            runs[i].push(t.elapsed().as_secs_f64());
            if round == 0 {
                link_bytes[i] = link.bytes_down().zip(b0).map(|(a, b)| a - b);
            }
            restored[i] = du(&target);
            let _ = std::fs::remove_dir_all(&target);
            if verbose {
                eprintln!("hearth backup bench: round {} {name}: {:.2} s", round + 1, runs[i].last().copied().unwrap_or_default());
            }
        }
    }
    for (i, name) in names.iter().enumerate() {
        let mut r = runs[i].clone();
        r.sort_by(|a, b| a.total_cmp(b));
        let median = r[r.len() / 2];
        let floor_s = restored[i] as f64 * 8.0 / RATE_BITS as f64;
        out.push(Figures {
            repository: match *name {
                "all" => "keep everything".into(),
                "kept" => "tier retention (hearth's prune options)".into(),
                _ => "tier retention, restic's default repack".into(),
            },
            snapshots: listed[i].0,
            repo_bytes: du(&root.join(name)),
            snapshots_s: listed[i].1,
            restore_s: median,
            restore_runs_s: runs[i].clone(),
            restore_link_bytes: link_bytes[i],
            restored_bytes: restored[i],
            floor_s,
            ratio: median / floor_s,
        });
    }
    drop(link);
    Ok(out)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a Unix time, for `restic backup --time`.
fn chrono_like(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_time() {
        assert_eq!(super::chrono_like(0), "1970-01-01 00:00:00");
        assert_eq!(super::chrono_like(1_767_225_600 + 3_661), "2026-01-01 01:01:01");
        assert_eq!(super::chrono_like(951_782_400), "2000-02-29 00:00:00");
    }
}
