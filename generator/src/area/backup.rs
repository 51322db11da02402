//! The backup area: off-site restic backups of every dataset whose storage
//! tier says `backup = true`, read from a ZFS snapshot taken for the run,
//! with a retention per tier that bounds the number of snapshots, prune and
//! `check --read-data-subset` on a slower schedule, and a stale-backup watch
//! (`hearth.backup`, `modules/lib/backup.nix`, `modules/backup.nix`).
//!
//! Which datasets exist and which are backed up is the storage area's
//! decision ([`datasets`]); this file decides where they go, when, and how
//! long they are kept.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Area, CliCx, CmdError, HostCx, LabCx, Preview};
use crate::inventory::Inventory;
use crate::nix::{Attrs, Value};
use crate::topology::{SecretKind, SecretSpec};
use crate::validate::Sink;

pub mod bench;
pub mod lab;

/// The storage area's datasets: which exist, and whether their tier is
/// backed up.
pub use crate::area::storage::{datasets, DatasetRef};

/// The `[backup]` section.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// When backups run: a systemd `OnCalendar` expression.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// Random delay added to each backup's start (systemd `RandomizedDelaySec`), so hosts do not all start at once.
    #[serde(default = "default_delay")]
    pub randomized_delay: String,
    /// When `restic forget --prune` runs (per repository and tier, after the backups): `OnCalendar`.
    #[serde(default = "default_prune")]
    pub prune_schedule: String,
    /// When `restic check --read-data-subset` runs: `OnCalendar`.
    #[serde(default = "default_check")]
    pub check_schedule: String,
    /// How much of the pack data each check downloads and verifies: `N%` (1-100) or `n/t`.
    #[serde(default = "default_subset")]
    pub check_subset: String,
    /// A backup that has not succeeded for this many hours counts as failed (notifies).
    #[serde(default = "default_stale")]
    pub stale_after_hours: u32,
    /// Snapshots kept per storage tier (`[backup.retention.<tier>]`); tiers not named keep 7 daily, 4 weekly, 12 monthly and 2 yearly.
    #[serde(default)]
    pub retention: BTreeMap<String, Retention>,
    /// Where each host's backups go (`[backup.hosts.<host>.repositories.<name>]`).
    #[serde(default)]
    pub hosts: BTreeMap<String, HostBackup>,
}

impl Default for Section {
    fn default() -> Self {
        Self {
            schedule: default_schedule(),
            randomized_delay: default_delay(),
            prune_schedule: default_prune(),
            check_schedule: default_check(),
            check_subset: default_subset(),
            stale_after_hours: default_stale(),
            retention: BTreeMap::new(),
            hosts: BTreeMap::new(),
        }
    }
}

fn default_schedule() -> String {
    "*-*-* 01:00:00".into()
}
fn default_delay() -> String {
    "1h".into()
}
fn default_prune() -> String {
    "Sun *-*-* 05:00:00".into()
}
fn default_check() -> String {
    "*-*-01 06:00:00".into()
}
fn default_subset() -> String {
    "5%".into()
}
fn default_stale() -> u32 {
    48
}

/// How many snapshots of a tier `restic forget` keeps in each bucket.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[serde(default)]
    pub last: u32,
    #[serde(default)]
    pub hourly: u32,
    #[serde(default)]
    pub daily: u32,
    #[serde(default)]
    pub weekly: u32,
    #[serde(default)]
    pub monthly: u32,
    #[serde(default)]
    pub yearly: u32,
}

impl Default for Retention {
    /// At most 25 snapshots.
    fn default() -> Self {
        Retention { last: 0, hourly: 0, daily: 7, weekly: 4, monthly: 12, yearly: 2 }
    }
}

impl Retention {
    /// The most snapshots this policy keeps per group (each bucket keeps at
    /// most its count; a snapshot kept by two buckets counts once, so this
    /// is an upper bound).
    pub fn max_snapshots(&self) -> u32 {
        self.last + self.hourly + self.daily + self.weekly + self.monthly + self.yearly
    }
    fn buckets(&self) -> [(&'static str, u32); 6] {
        [("last", self.last), ("hourly", self.hourly), ("daily", self.daily), ("weekly", self.weekly), ("monthly", self.monthly), ("yearly", self.yearly)]
    }
}

/// One host's repositories.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostBackup {
    /// Repositories by name (a DNS label): every backed-up dataset of the host goes to each.
    #[serde(default)]
    pub repositories: BTreeMap<String, Repository>,
}

/// A restic repository.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// restic repository: `b2:BUCKET:PATH`, `s3:https://HOST/BUCKET/PATH` (Backblaze's S3 API too), `rest:https://HOST:PORT/PATH`, `sftp:USER@HOST:/PATH`, or an absolute local path.
    pub url: String,
    /// A host secret (`hearth secret set NAME --host HOST`) holding the provider's keys as an environment file: `B2_ACCOUNT_ID=`/`B2_ACCOUNT_KEY=`, `AWS_ACCESS_KEY_ID=`/`AWS_SECRET_ACCESS_KEY=`, or `RESTIC_REST_USERNAME=`/`RESTIC_REST_PASSWORD=`. Required for b2 and s3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

/// The kind of a repository URL; `None`: not one restic is configured for here.
pub fn scheme(url: &str) -> Option<&'static str> {
    let after = |p: &str| url.strip_prefix(p).filter(|r| !r.is_empty() && !r.contains(char::is_whitespace));
    if url.starts_with('/') && !url.contains(char::is_whitespace) && url.len() > 1 {
        return Some("local");
    }
    for (p, k) in [("b2:", "b2"), ("s3:", "s3"), ("rest:", "rest"), ("sftp:", "sftp")] {
        if after(p).is_some() {
            return Some(k);
        }
    }
    None
}

const SCHEMES: &str = "b2:BUCKET:PATH, s3:https://HOST/BUCKET, rest:https://HOST:PORT/, sftp:USER@HOST:/PATH, or an absolute path";

/// One backup job: a host's datasets of one tier into one repository.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Job {
    /// `services.restic.backups.<name>`: `<repository>-<tier>`.
    pub name: String,
    pub host: String,
    pub repository: String,
    pub url: String,
    pub tier: String,
    pub datasets: Vec<JobDataset>,
    pub retention: Retention,
    pub max_snapshots: u32,
    pub schedule: String,
}

/// A dataset in a job (serializable).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JobDataset {
    pub name: String,
    pub mountpoint: String,
}

/// The retention of a tier: its own, or the bounded default.
pub fn retention(inv: &Inventory, tier: &str) -> Retention {
    inv.backup.retention.get(tier).copied().unwrap_or_default()
}

/// The password secret of a host's repository.
fn password_secret(host: &str, repo: &str) -> SecretSpec {
    SecretSpec { rel: format!("{host}/restic-{repo}.age"), kind: SecretKind::Generated { name: format!("hearth-restic-{repo}"), bytes: 32 }, hosts: vec![host.into()] }
}

/// Every backup job the inventory implies, by host, repository, tier.
pub fn jobs(inv: &Inventory) -> Vec<Job> {
    jobs_of(inv, &datasets(inv))
}

fn jobs_of(inv: &Inventory, ds: &[DatasetRef]) -> Vec<Job> {
    let mut by: BTreeMap<(&str, &str), Vec<&DatasetRef>> = BTreeMap::new();
    for d in ds.iter().filter(|d| d.backup) {
        by.entry((&d.host, &d.tier)).or_default().push(d);
    }
    let mut out = vec![];
    for (host, hb) in &inv.backup.hosts {
        for (rname, r) in &hb.repositories {
            for ((h, tier), list) in &by {
                if h != host {
                    continue;
                }
                let ret = retention(inv, tier);
                let mut datasets: Vec<JobDataset> = list.iter().map(|d| JobDataset { name: d.name.clone(), mountpoint: d.mountpoint.clone() }).collect();
                datasets.sort_by(|a, b| a.name.cmp(&b.name));
                out.push(Job {
                    name: format!("{rname}-{tier}"),
                    host: host.clone(),
                    repository: rname.clone(),
                    url: r.url.clone(),
                    tier: tier.to_string(),
                    datasets,
                    retention: ret,
                    max_snapshots: ret.max_snapshots(),
                    schedule: inv.backup.schedule.clone(),
                });
            }
        }
    }
    out
}

fn calendar_problem(s: &str) -> Option<String> {
    if s.trim().is_empty() || s.contains(['\n', '\r', '"', '\\', '$', '`']) {
        Some(format!("`{}` is not a systemd OnCalendar expression", s.escape_debug()))
    } else {
        None
    }
}

fn timespan_problem(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.split_whitespace().all(|w| {
            let n = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let unit = &w[n.len()..];
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && ["", "s", "sec", "m", "min", "h", "hr", "d", "w"].contains(&unit)
        });
    if ok {
        None
    } else {
        Some(format!("`{}` is not a systemd time span", s.escape_debug()))
    }
}

fn subset_problem(s: &str) -> Option<String> {
    let ok = if let Some(p) = s.strip_suffix('%') {
        p.parse::<f64>().map(|v| v > 0.0 && v <= 100.0).unwrap_or(false)
    } else if let Some((n, t)) = s.split_once('/') {
        matches!((n.parse::<u32>(), t.parse::<u32>()), (Ok(n), Ok(t)) if n >= 1 && n <= t)
    } else {
        false
    };
    (!ok).then(|| format!("`{}` is not a restic --read-data-subset value", s.escape_debug()))
}

/// Every problem of the `[backup]` section, given the storage datasets.
fn validate_with(inv: &Inventory, ds: &[DatasetRef], s: &mut Sink) {
    let b = &inv.backup;
    for (key, v) in [("schedule", &b.schedule), ("prune_schedule", &b.prune_schedule), ("check_schedule", &b.check_schedule)] {
        if let Some(m) = calendar_problem(v) {
            s.err(&["backup", key], m, "use a systemd calendar expression, e.g. \"*-*-* 01:00:00\" or \"daily\" (see systemd.time(7))");
        }
    }
    if let Some(m) = timespan_problem(&b.randomized_delay) {
        s.err(&["backup", "randomized_delay"], m, "use a time span such as \"1h\", \"30min\" or \"0\"");
    }
    if let Some(m) = subset_problem(&b.check_subset) {
        s.err(&["backup", "check_subset"], m, "use a percentage such as \"5%\" or a fraction such as \"1/12\"");
    }
    if b.stale_after_hours == 0 {
        s.err(&["backup", "stale_after_hours"], "0 hours: every backup would count as stale", "use the hours after which a backup without success alerts, e.g. 48");
    }
    let tiers = &inv.storage.tiers;
    let backed: BTreeSet<&str> = tiers.iter().filter(|(_, t)| t.backup).map(|(n, _)| n.as_str()).collect();
    for (tier, r) in &b.retention {
        if r.max_snapshots() == 0 {
            s.err(
                &["backup", "retention", tier],
                format!("the retention of tier `{tier}` keeps nothing: every snapshot would be forgotten"),
                "keep at least one snapshot, e.g. daily = 7, weekly = 4, monthly = 12, yearly = 2",
            );
        }
        if !backed.contains(tier.as_str()) {
            let why = if tiers.contains_key(tier.as_str()) { "is not backed up (its `backup` is false)" } else { "is not a storage tier" };
            s.err(
                &["backup", "retention", tier],
                format!("tier `{tier}` {why}"),
                format!("name a tier with `backup = true`: {}", backed.iter().copied().collect::<Vec<_>>().join(", ")),
            );
        }
    }
    for (host, hb) in &b.hosts {
        let Some(h) = inv.hosts.get(host) else {
            s.err(&["backup", "hosts", host], format!("unknown host `{host}`"), "name a host of [hosts]");
            continue;
        };
        for (rname, r) in &hb.repositories {
            if let Some(m) = crate::validate::name_problem("repository", rname) {
                s.err(&["backup", "hosts", host, "repositories", rname], m, "rename the repository");
            }
            let kind = scheme(&r.url);
            if kind.is_none() {
                s.err(&["backup", "hosts", host, "repositories", rname, "url"], format!("`{}` is not a repository hearth knows", r.url.escape_debug()), format!("use {SCHEMES}"));
            }
            match &r.credentials {
                Some(c) if !h.secrets.contains(c) => s.err(
                    &["backup", "hosts", host, "repositories", rname, "credentials"],
                    format!("no secret `{c}` on host `{host}`"),
                    format!("add \"{c}\" to hosts.{host}.secrets, then store the provider's keys (an environment file) with `hearth secret set {c} --host {host}`"),
                ),
                None if matches!(kind, Some("b2" | "s3")) => s.err(
                    &["backup", "hosts", host, "repositories", rname],
                    format!("a {} repository needs credentials", kind.unwrap_or_default()),
                    format!("set `credentials = \"restic-{rname}-env\"`, add \"restic-{rname}-env\" to hosts.{host}.secrets, and store the keys with `hearth secret set restic-{rname}-env --host {host}`"),
                ),
                _ => {}
            }
        }
    }
    let mut hosts_with_backup: BTreeSet<&str> = BTreeSet::new();
    for d in ds.iter().filter(|d| d.backup) {
        if !hosts_with_backup.insert(&d.host) {
            continue;
        }
        if b.hosts.get(&d.host).map(|hb| hb.repositories.is_empty()).unwrap_or(true) {
            s.err(
                &["storage", "hosts", &d.host],
                format!("host `{}` has datasets of tier `{}`, which is backed up, but no backup repository", d.host, d.tier),
                format!("add [backup.hosts.{}.repositories.offsite] with a url, or set the tier's `backup = false`", d.host),
            );
        }
    }
}

/// `hearth backup ...`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "backup",
    about = "Off-site restic backups: what goes where, and how long it is kept",
    after_help = "Examples:\n  hearth backup list\n  hearth backup list --json"
)]
pub struct BackupCli {
    #[command(subcommand)]
    pub cmd: BackupCmd,
}

#[derive(Debug, clap::Subcommand)]
pub enum BackupCmd {
    /// Every backup job: host, paths, repository, schedule, and the most snapshots its retention keeps.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure restores over a shaped 20 Mbit/s, 40 ms link: DAYS simulated nightly backups kept
    /// in full vs with TIER's retention (root; restic, rclone, iproute2). Example: hearth backup bench --days 400 --tier shelf
    Bench {
        /// Nightly backups to simulate.
        #[arg(long, default_value_t = 400)]
        days: u32,
        /// The storage tier whose retention (its prune job's options) is applied.
        #[arg(long, default_value = "shelf")]
        tier: String,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Errors of `hearth backup`.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Load(#[from] crate::inventory::LoadError),
    #[error("{0}")]
    Invalid(#[from] crate::validate::Problems),
    #[error("writing the output: {0}")]
    Json(#[from] serde_json::Error),
    #[error("writing to stdout")]
    Stdout(#[source] std::io::Error),
    #[error("no backup job backs up tier `{0}`; see `hearth backup list`")]
    NoTier(String),
    #[error(transparent)]
    Preview(#[from] crate::preview::PreviewError),
    #[error("benchmark")]
    Bench(#[source] crate::lab::LabError),
}

pub struct Backup;

impl Area for Backup {
    fn name(&self) -> &'static str {
        "backup"
    }

    fn validate(&self, inv: &Inventory, out: &mut Sink) {
        validate_with(inv, &datasets(inv), out);
    }

    fn secrets(&self, inv: &Inventory, out: &mut Vec<SecretSpec>) {
        for (host, hb) in &inv.backup.hosts {
            for rname in hb.repositories.keys() {
                out.push(password_secret(host, rname));
            }
        }
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        host_data_of(cx, &datasets(cx.inv))
    }

    fn previews(&self) -> &'static [Preview] {
        &[Preview {
            part: "restic",
            needs: "a backed-up dataset and a [backup.hosts.HOST] repository",
            expr: "lib.backup.backups { cfg = host.hearth.backup; secretPath = n: \"/run/agenix/${n}\"; zfs = \"zfs\"; }",
            when: "true",
        }]
    }

    fn command(&self) -> Option<clap::Command> {
        Some(<BackupCli as clap::CommandFactory>::command())
    }

    fn run(&self, m: &clap::ArgMatches, cx: &CliCx) -> Result<i32, CmdError> {
        let cli = <BackupCli as clap::FromArgMatches>::from_arg_matches(m)?;
        Ok(run(cli, cx)?)
    }

    fn lab(&self, cx: &LabCx) -> Option<Result<Vec<crate::lab::bastion::Check>, crate::lab::LabError>> {
        lab::stage(cx)
    }
}

fn host_data_of(cx: &HostCx, ds: &[DatasetRef]) -> Option<Value> {
    let inv = cx.inv;
    let jobs: Vec<Job> = jobs_of(inv, ds).into_iter().filter(|j| j.host == cx.name).collect();
    if jobs.is_empty() {
        return None;
    }
    let repos = &inv.backup.hosts[cx.name].repositories;
    let rel = |r: &str| format!("{}/restic-{r}.age", cx.name);
    let secret_of = |r: &str| cx.age_name(&rel(r)).unwrap_or_else(|| format!("hearth-restic-{r}"));
    let job_values = jobs
        .iter()
        .map(|j| {
            let ds = j.datasets.iter().map(|d| Value::from(Attrs::new().set("name", d.name.clone()).set("mountpoint", d.mountpoint.clone()))).collect();
            let ret = j.retention.buckets().iter().fold(Attrs::new(), |a, (k, v)| a.set(*k, *v));
            Value::from(
                Attrs::new()
                    .set("name", j.name.clone())
                    .set("repository", j.repository.clone())
                    .set("url", j.url.clone())
                    .set("passwordSecret", secret_of(&j.repository))
                    .set("environmentSecret", Value::opt_str(repos[&j.repository].credentials.clone()))
                    .set("tier", j.tier.clone())
                    .set("snapshot", format!("hearth-backup-{}", j.name))
                    .set("datasets", Value::List(ds))
                    .set("retention", ret),
            )
        })
        .collect();
    let repo_values = repos
        .iter()
        .filter(|(r, _)| jobs.iter().any(|j| &j.repository == *r))
        .map(|(r, repo)| {
            Value::from(
                Attrs::new()
                    .set("name", r.clone())
                    .set("url", repo.url.clone())
                    .set("passwordSecret", secret_of(r))
                    .set("environmentSecret", Value::opt_str(repo.credentials.clone())),
            )
        })
        .collect();
    let b = &inv.backup;
    Some(
        Attrs::new()
            .set("enable", true)
            .set(
                "schedule",
                Attrs::new()
                    .set("backup", b.schedule.clone())
                    .set("randomizedDelay", b.randomized_delay.clone())
                    .set("prune", b.prune_schedule.clone())
                    .set("check", b.check_schedule.clone()),
            )
            .set("checkSubset", b.check_subset.clone())
            .set("staleAfterHours", b.stale_after_hours)
            .set("stateDir", "/var/lib/hearth/backup")
            .set("mountRoot", "/run/hearth-backup")
            .set("jobs", Value::List(job_values))
            .set("repositories", Value::List(repo_values))
            .into(),
    )
}

fn run(cli: BackupCli, cx: &CliCx) -> Result<i32, BackupError> {
    let loaded = crate::inventory::Loaded::read(&cx.inventory)?;
    crate::validate::check(&loaded)?;
    match cli.cmd {
        BackupCmd::List { json } => {
            let jobs = jobs(&loaded.inv);
            let mut text: String;
            if json {
                #[derive(Serialize)]
                struct Row<'a> {
                    host: &'a str,
                    job: &'a str,
                    tier: &'a str,
                    paths: Vec<String>,
                    repository: &'a str,
                    url: &'a str,
                    schedule: &'a str,
                    retention: Retention,
                    max_snapshots: u32,
                }
                let rows: Vec<Row> = jobs
                    .iter()
                    .map(|j| Row {
                        host: &j.host,
                        job: &j.name,
                        tier: &j.tier,
                        paths: j.datasets.iter().map(|d| d.mountpoint.clone()).collect(),
                        repository: &j.repository,
                        url: &j.url,
                        schedule: &j.schedule,
                        retention: j.retention,
                        max_snapshots: j.max_snapshots,
                    })
                    .collect();
                text = serde_json::to_string_pretty(&serde_json::json!({ "backups": rows }))? + "\n";
            } else if jobs.is_empty() {
                text = "no backups: no dataset of a tier with `backup = true` on a host with a [backup.hosts.HOST] repository\n".into();
            } else {
                text = format!("{:<8} {:<14} {:<8} {:<32} {:<16} {:>5}  PATHS\n", "HOST", "JOB", "TIER", "REPOSITORY", "SCHEDULE", "KEEPS");
                for j in &jobs {
                    let paths: Vec<&str> = j.datasets.iter().map(|d| d.mountpoint.as_str()).collect();
                    text += &format!("{:<8} {:<14} {:<8} {:<32} {:<16} {:>5}  {}\n", j.host, j.name, j.tier, j.url, j.schedule, j.max_snapshots, paths.join(" "));
                }
            }
            use std::io::Write;
            std::io::stdout().lock().write_all(text.as_bytes()).map_err(BackupError::Stdout)?;
            Ok(0)
        }
        BackupCmd::Bench { days, tier, json } => {
            let job = jobs(&loaded.inv).into_iter().find(|j| j.tier == tier).ok_or_else(|| BackupError::NoTier(tier.clone()))?;
            let root = cx.root();
            let lib = crate::preview::lib_dir(&root)?;
            let expr = format!("(lib.backup.backups {{ cfg = host.hearth.backup; secretPath = n: n; zfs = \"zfs\"; }}).\"{}-prune\".pruneOpts", job.name);
            let v = crate::preview::eval_json(&lib, &root.join("hosts").join(&job.host).join("hearth.nix"), &expr)?;
            let opts: Vec<String> = serde_json::from_value(v)?;
            let figs = bench::run(days, &tier, &opts, true).map_err(BackupError::Bench)?;
            let text = if json {
                serde_json::to_string_pretty(&serde_json::json!({ "days": days, "tier": tier, "prune_opts": opts, "results": figs }))? + "\n"
            } else {
                let mut t = format!("{days} nightly backups, tier `{tier}` ({}), link {} / 40 ms RTT, no cache\n", opts.join(" "), super::backup::lab::RATE);
                t += "| repository | snapshots | repo size | `restic snapshots` | restore (median; runs) | restored | over the link | floor | restore / floor |\n|---|---|---|---|---|---|---|---|---|\n";
                for f in &figs {
                    let runs: Vec<String> = f.restore_runs_s.iter().map(|r| format!("{r:.1}")).collect();
                    let link = f.restore_link_bytes.map(|b| format!("{:.1} MB", b as f64 / 1e6)).unwrap_or_else(|| "-".into());
                    t += &format!(
                        "| {} | {} | {:.1} MB | {:.2} s | {:.2} s ({}) | {:.1} MB | {} | {:.2} s | {:.2}x |\n",
                        f.repository,
                        f.snapshots,
                        f.repo_bytes as f64 / 1e6,
                        f.snapshots_s,
                        f.restore_s,
                        runs.join(", "),
                        f.restored_bytes as f64 / 1e6,
                        link,
                        f.floor_s,
                        f.ratio
                    );
                }
                t
            };
            use std::io::Write;
            std::io::stdout().lock().write_all(text.as_bytes()).map_err(BackupError::Stdout)?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(host: &str, name: &str, tier: &str, backup: bool) -> DatasetRef {
        DatasetRef { host: host.into(), pool: "tank".into(), name: format!("tank/{name}"), mountpoint: format!("/tank/{name}"), tier: tier.into(), backup }
    }

    fn inv(extra: &str) -> Inventory {
        let text = format!(
            "[network]\ndomain = \"home.example.net\"\nlan = \"10.0.0.0/24\"\nvpn = \"10.1.0.0/24\"\n[hosts.nas01]\naddress = \"10.0.0.2\"\nsecrets = [\"restic-b2-env\"]\n{extra}"
        );
        toml::from_str(&text).expect("test inventory parses")
    }

    fn problems(inv: &Inventory, d: &[DatasetRef]) -> Vec<(String, String)> {
        let mut s = Sink::new();
        validate_with(inv, d, &mut s);
        s.into_problems().into_iter().map(|p| (p.keys.join("."), p.message)).collect()
    }

    const REPO: &str = "[backup.hosts.nas01.repositories.offsite]\nurl = \"b2:hearth-nas01:restic\"\ncredentials = \"restic-b2-env\"\n";

    #[test]
    fn default_retention_is_bounded_by_25() {
        assert_eq!(Retention::default().max_snapshots(), 25);
    }

    #[test]
    fn schemes() {
        for (u, k) in
            [("b2:b:p", "b2"), ("s3:https://s3.us-west-000.backblazeb2.com/b", "s3"), ("rest:http://10.0.0.1:8000/", "rest"), ("sftp:u@h:/x", "sftp"), ("/mnt/backup", "local")]
        {
            assert_eq!(scheme(u), Some(k), "{u}");
        }
        for u in ["ftp://x", "b2:", "relative/path", "/", "gs:bucket:/"] {
            assert_eq!(scheme(u), None, "{u}");
        }
    }

    #[test]
    fn jobs_per_repository_and_tier_skip_unbacked_tiers() {
        let i = inv(REPO);
        let d = [ds("nas01", "media", "shelf", true), ds("nas01", "photos", "attic", true), ds("nas01", "garage", "garage", false)];
        let j = jobs_of(&i, &d);
        let names: Vec<&str> = j.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["offsite-attic", "offsite-shelf"]);
        assert!(j.iter().all(|j| j.datasets.iter().all(|d| d.name != "tank/garage")));
        assert!(j.iter().all(|j| j.max_snapshots == 25));
        assert!(problems(&i, &d).is_empty(), "{:?}", problems(&i, &d));
    }

    #[test]
    fn bad_inputs_are_located() {
        let i = inv(
            "[backup.retention.shelf]\ndaily = 0\n[backup.hosts.nas01.repositories.offsite]\nurl = \"ftp://example.net/x\"\ncredentials = \"nope\"\n[backup.hosts.nas01.repositories.s3]\nurl = \"s3:https://s3.example.net/b\"\n",
        );
        let d = [ds("nas01", "media", "shelf", true)];
        let p = problems(&i, &d);
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"backup.retention.shelf"), "{p:?}");
        assert!(keys.contains(&"backup.hosts.nas01.repositories.offsite.url"), "{p:?}");
        assert!(keys.contains(&"backup.hosts.nas01.repositories.offsite.credentials"), "{p:?}");
        assert!(keys.contains(&"backup.hosts.nas01.repositories.s3"), "{p:?}");
        assert!(p.iter().any(|(_, m)| m.contains("keeps nothing")), "{p:?}");
    }

    #[test]
    fn backed_up_tier_on_host_without_repository() {
        let i = inv("");
        let p = problems(&i, &[ds("nas01", "media", "shelf", true), ds("nas01", "garage", "garage", false)]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "storage.hosts.nas01");
        // Not backed up: no repository needed.
        assert!(problems(&i, &[ds("nas01", "garage", "garage", false)]).is_empty());
    }

    #[test]
    fn retention_of_unknown_or_unbacked_tier() {
        let i = inv(&format!("{REPO}[backup.retention.garage]\ndaily = 3\n[backup.retention.nosuch]\ndaily = 3\n"));
        let p = problems(&i, &[ds("nas01", "media", "shelf", true), ds("nas01", "garage", "garage", false)]);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].1.contains("not backed up") && p[1].1.contains("not a storage tier"), "{p:?}");
    }

    #[test]
    fn schedules_and_subset() {
        let i = inv(&format!("[backup]\nschedule = \"\"\nrandomized_delay = \"1 hour\"\ncheck_subset = \"150%\"\nstale_after_hours = 0\n{REPO}"));
        let p = problems(&i, &[ds("nas01", "media", "shelf", true)]);
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["backup.schedule", "backup.randomized_delay", "backup.check_subset", "backup.stale_after_hours"], "{p:?}");
    }
}
