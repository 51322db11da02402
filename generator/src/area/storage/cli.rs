//! `hearth storage add|list`: the storage area's own subcommand.

use clap::{CommandFactory as _, FromArgMatches as _, Parser};
use serde::Serialize;
use toml_edit::{Item, Table};

use super::{datasets, derive_host_id, Section};
use crate::area::{CliCx, CmdError};
use crate::edit::{EditError, Editor};
use crate::inventory::Loaded;

/// ZFS datasets in storage tiers (shelf, attic, garage): snapshots, scrubs, replication.
///
/// Examples:
///   hearth storage add nas01 tank/attic --tier attic --mountpoint /share/attic
///   hearth storage add nas01 tank/garage --tier garage --property compression=zstd
///   hearth storage list
///   hearth storage list --json
///   hearth preview nas01 sanoid
#[derive(Debug, Parser)]
#[command(name = "storage", verbatim_doc_comment)]
pub struct StorageCli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Add a dataset to a host (gives the host its ZFS host_id the first time).
    ///
    /// The dataset's pool must be declared in [storage.hosts.HOST.pools.POOL].
    ///
    /// Examples:
    ///   hearth storage add nas01 tank/shelf --tier shelf --mountpoint /share/shelf
    ///   hearth storage add nas01 tank/media --tier garage --property recordsize=1M
    #[command(verbatim_doc_comment)]
    Add {
        /// A host from [hosts].
        host: String,
        /// Full ZFS name, POOL/NAME.
        dataset: String,
        /// A tier from [storage.tiers].
        #[arg(long)]
        tier: String,
        /// Absolute mountpoint (default: /POOL/NAME).
        #[arg(long)]
        mountpoint: Option<String>,
        /// A ZFS property NAME=VALUE set at creation; repeatable.
        #[arg(long = "property", value_name = "NAME=VALUE")]
        properties: Vec<String>,
    },
    /// List datasets: host, dataset, tier, snapshots kept at most, backed up, replicated to.
    ///
    /// Examples:
    ///   hearth storage list
    ///   hearth storage list --json | jq '.[] | select(.backup)'
    #[command(verbatim_doc_comment)]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Load(#[from] crate::inventory::LoadError),
    #[error("{0}")]
    Invalid(crate::validate::Problems),
    #[error("`{0}` is not NAME=VALUE\nhint: write e.g. --property compression=lz4")]
    Property(String),
    #[error("dataset {dataset} already exists on {host}\nhint: edit [storage.hosts.{host}.datasets.\"{dataset}\"] in the inventory to change it")]
    Exists { host: String, dataset: String },
    #[error("cannot write: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot print JSON: {0}")]
    Json(#[from] serde_json::Error),
}

pub fn command() -> clap::Command {
    StorageCli::command()
}

pub fn run(m: &clap::ArgMatches, cx: &CliCx) -> Result<i32, CmdError> {
    let cli = StorageCli::from_arg_matches(m)?;
    Ok(match cli.cmd {
        Cmd::Add { host, dataset, tier, mountpoint, properties } => add(cx, &host, &dataset, &tier, mountpoint.as_deref(), &properties)?,
        Cmd::List { json } => list(cx, json)?,
    })
}

/// The table at `keys` below the document root, created (implicit) as needed.
fn table_at<'a>(root: &'a mut Table, keys: &[&str]) -> &'a mut Table {
    let mut t = root;
    for k in keys {
        if !t.contains_key(k) {
            let mut n = Table::new();
            n.set_implicit(true);
            t.insert(k, Item::Table(n));
        }
        // An existing non-table here fails validation when re-read; replace
        // nothing silently: insert a table only where none was.
        t = t[*k].as_table_mut().expect("storage keys are tables (the inventory validated)");
    }
    t
}

fn add(cx: &CliCx, host: &str, dataset: &str, tier: &str, mp: Option<&str>, props: &[String]) -> Result<i32, StorageError> {
    let mut parsed = vec![];
    for p in props {
        let (k, v) = p.split_once('=').ok_or_else(|| StorageError::Property(p.clone()))?;
        parsed.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut ed = Editor::open(&cx.inventory)?;
    let hs = ed.before.inv.storage.hosts.get(host);
    if hs.is_some_and(|h| h.datasets.contains_key(dataset)) {
        return Err(StorageError::Exists { host: host.into(), dataset: dataset.into() });
    }
    let needs_id = hs.is_none_or(|h| h.host_id.is_none());
    let root = ed.doc_mut().as_table_mut();
    let h = table_at(root, &["storage", "hosts", host]);
    if needs_id {
        h.insert("host_id", toml_edit::value(derive_host_id(host)));
    }
    let d = table_at(h, &["datasets", dataset]);
    d.set_implicit(false);
    d.insert("tier", toml_edit::value(tier));
    if let Some(m) = mp {
        d.insert("mountpoint", toml_edit::value(m));
    }
    if !parsed.is_empty() {
        let mut it = toml_edit::InlineTable::new();
        for (k, v) in &parsed {
            it.insert(k, v.as_str().into());
        }
        d.insert("properties", Item::Value(toml_edit::Value::InlineTable(it)));
    }
    let after = ed.commit()?;
    let r = datasets(&after.inv).into_iter().find(|r| r.host == host && r.name == dataset);
    if let Some(r) = r {
        println!("added {} on {} (tier {}, mountpoint {}); run `hearth render`", r.name, r.host, r.tier, r.mountpoint);
    }
    Ok(0)
}

#[derive(Debug, Serialize)]
struct Row {
    host: String,
    dataset: String,
    tier: String,
    mountpoint: String,
    snapshots_kept_at_most: u32,
    backup: bool,
    replicate_to: Vec<String>,
}

fn rows(s: &Section, inv: &crate::inventory::Inventory) -> Vec<Row> {
    datasets(inv)
        .into_iter()
        .map(|d| {
            let t = s.tiers.get(&d.tier);
            Row {
                snapshots_kept_at_most: t.map(|t| t.kept_at_most()).unwrap_or(0),
                replicate_to: t.map(|t| t.replicate_to.clone()).unwrap_or_default(),
                host: d.host,
                dataset: d.name,
                tier: d.tier,
                mountpoint: d.mountpoint,
                backup: d.backup,
            }
        })
        .collect()
}

fn list(cx: &CliCx, json: bool) -> Result<i32, StorageError> {
    let loaded = Loaded::read(&cx.inventory)?;
    crate::validate::check(&loaded).map_err(StorageError::Invalid)?;
    let rows = rows(&loaded.inv.storage, &loaded.inv);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(0);
    }
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.host.clone(),
                r.dataset.clone(),
                r.tier.clone(),
                r.snapshots_kept_at_most.to_string(),
                if r.backup { "yes" } else { "no" }.into(),
                if r.replicate_to.is_empty() { "-".into() } else { r.replicate_to.join(",") },
            ]
        })
        .collect();
    let head = ["HOST", "DATASET", "TIER", "SNAPSHOTS", "BACKUP", "REPLICATED TO"].map(String::from);
    let mut w = [0usize; 6];
    for r in std::iter::once(&head).chain(&table) {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    for r in std::iter::once(&head).chain(&table) {
        let line: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = w[i])).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(0)
}
