//! The storage area: ZFS pools, datasets in named tiers (shelf, attic,
//! garage), sanoid snapshots, weekly scrubs and syncoid replication
//! (`hearth.storage`, `modules/lib/storage.nix`, `modules/storage.nix`).
//!
//! A tier is a named policy: how many snapshots of each period sanoid keeps,
//! whether the backup area backs it up, and which hosts get a replica.
//! Datasets name their tier; [`datasets`] is the list other areas (backup)
//! read. The lab stage ([`lab`]) proves the policy on a real zfs-fuse pool.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Area, CliCx, CmdError, HostCx, LabCx, Preview};
use crate::inventory::Inventory;
use crate::nix::{Attrs, Value};
use crate::validate::Sink;

pub mod cli;
pub mod lab;
mod labstage;

/// `[storage]`: tiers and each host's pools and datasets.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Named storage policies. A new inventory gets `shelf`, `attic` and
    /// `garage`; rename, change or add your own.
    #[serde(default = "default_tiers")]
    pub tiers: BTreeMap<String, Tier>,
    /// ZFS hosts by name (a host from `[hosts]`).
    #[serde(default)]
    pub hosts: BTreeMap<String, HostStorage>,
}

impl Default for Section {
    fn default() -> Self {
        Self { tiers: default_tiers(), hosts: BTreeMap::new() }
    }
}

/// A snapshot count: a whole number, 0 or more. Anything else is kept as
/// written so that validation can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count(pub Result<u32, String>);

impl Default for Count {
    fn default() -> Self {
        Count(Ok(0))
    }
}

impl Count {
    pub fn get(&self) -> u32 {
        *self.0.as_ref().unwrap_or(&0)
    }
}

impl From<u32> for Count {
    fn from(n: u32) -> Self {
        Count(Ok(n))
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        Ok(Count(match &v {
            toml::Value::Integer(i) => u32::try_from(*i).map_err(|_| i.to_string()),
            toml::Value::String(s) => Err(format!("\"{}\"", s.escape_debug())),
            other => Err(other.to_string()),
        }))
    }
}

impl Serialize for Count {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Ok(n) => s.serialize_u32(*n),
            Err(raw) => s.serialize_str(raw),
        }
    }
}

impl JsonSchema for Count {
    fn schema_name() -> String {
        "SnapshotCount".into()
    }
    fn json_schema(g: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        u32::json_schema(g)
    }
}

/// A storage tier: snapshot retention and protection.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Snapshots every 15 minutes to keep (sanoid `frequently`).
    #[serde(default)]
    pub frequent: Count,
    /// Hourly snapshots to keep.
    #[serde(default)]
    pub hourly: Count,
    /// Daily snapshots to keep.
    #[serde(default)]
    pub daily: Count,
    /// Weekly snapshots to keep.
    #[serde(default)]
    pub weekly: Count,
    /// Monthly snapshots to keep.
    #[serde(default)]
    pub monthly: Count,
    /// Yearly snapshots to keep.
    #[serde(default)]
    pub yearly: Count,
    /// Whether the backup area backs up this tier's datasets.
    #[serde(default)]
    pub backup: bool,
    /// Hosts (with `[storage.hosts.<host>]` pools) that get a replica of this tier's datasets through syncoid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicate_to: Vec<String>,
}

/// The retention periods, as the inventory and sanoid name them.
pub const PERIODS: [(&str, &str); 6] = [("frequent", "frequently"), ("hourly", "hourly"), ("daily", "daily"), ("weekly", "weekly"), ("monthly", "monthly"), ("yearly", "yearly")];

impl Tier {
    /// (inventory key, count) for each period.
    pub fn counts(&self) -> [(&'static str, &Count); 6] {
        [("frequent", &self.frequent), ("hourly", &self.hourly), ("daily", &self.daily), ("weekly", &self.weekly), ("monthly", &self.monthly), ("yearly", &self.yearly)]
    }
    /// The most snapshots of one dataset this tier keeps.
    pub fn kept_at_most(&self) -> u32 {
        self.counts().iter().map(|(_, c)| c.get()).sum()
    }
}

fn tier(desc: &str, c: [u32; 6], backup: bool) -> Tier {
    Tier {
        description: Some(desc.into()),
        frequent: c[0].into(),
        hourly: c[1].into(),
        daily: c[2].into(),
        weekly: c[3].into(),
        monthly: c[4].into(),
        yearly: c[5].into(),
        backup,
        replicate_to: vec![],
    }
}

/// shelf, attic and garage: the tiers a new inventory starts with.
pub fn default_tiers() -> BTreeMap<String, Tier> {
    BTreeMap::from([
        ("shelf".into(), tier("In daily use: snapshotted, backed up, replicated to working machines.", [4, 24, 14, 4, 3, 0], true)),
        ("attic".into(), tier("Kept safe: photos, archives. Snapshotted and backed up.", [0, 0, 30, 8, 12, 2], true)),
        ("garage".into(), tier("The long tail: snapshotted, not backed up.", [0, 0, 7, 2, 0, 0], false)),
    ])
}

/// One host's ZFS setup.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostStorage {
    /// `networking.hostId` (8 hex digits), required by ZFS on NixOS. Set
    /// once by `hearth storage add` (derived from the host name) and never
    /// regenerated: changing it makes the pools look foreign at import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Pools by ZFS name.
    #[serde(default)]
    pub pools: BTreeMap<String, Pool>,
    /// Datasets by full ZFS name (`tank/attic`).
    #[serde(default)]
    pub datasets: BTreeMap<String, Dataset>,
    /// The public half of this host's `syncoid-ssh-key` secret
    /// (`ssh-ed25519 AAAA...`): the replication targets authorize it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncoid_public_key: Option<String>,
    /// Where replicas from other hosts land: `<parent>/<source host>/<dataset>`
    /// (default: `<first pool>/replicas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_into: Option<String>,
}

/// The vdev layout of a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Every disk holds all data.
    #[default]
    Mirror,
    /// Single parity.
    Raidz1,
    /// Double parity.
    Raidz2,
    /// Triple parity.
    Raidz3,
    /// No redundancy: one disk or a stripe.
    Stripe,
}

impl Layout {
    /// The `zpool create` vdev keyword (none for a stripe).
    pub fn keyword(self) -> Option<&'static str> {
        match self {
            Layout::Mirror => Some("mirror"),
            Layout::Raidz1 => Some("raidz1"),
            Layout::Raidz2 => Some("raidz2"),
            Layout::Raidz3 => Some("raidz3"),
            Layout::Stripe => None,
        }
    }
    pub fn min_disks(self) -> usize {
        match self {
            Layout::Mirror => 2,
            Layout::Raidz1 => 3,
            Layout::Raidz2 => 4,
            Layout::Raidz3 => 5,
            Layout::Stripe => 1,
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword().unwrap_or("stripe"))
    }
}

/// A pool: how it is built (for documentation, the lab and the mirror check).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    #[serde(default)]
    pub layout: Layout,
    /// The disks, preferably `/dev/disk/by-id/...` paths.
    pub disks: Vec<String>,
    /// Free text (sizes, models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A dataset: its tier, mountpoint and ZFS properties.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// A tier from `[storage.tiers]`.
    pub tier: String,
    /// Absolute mountpoint (default: `/<dataset name>`, as ZFS does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mountpoint: Option<String>,
    /// ZFS properties set at creation (`compression`, `recordsize`, `atime`,
    /// `quota`, ...). hearth never changes them afterwards: a differing value
    /// is reported.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// One dataset as other areas see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetRef {
    pub host: String,
    pub pool: String,
    /// The full ZFS name, `pool/a/b`.
    pub name: String,
    pub mountpoint: String,
    pub tier: String,
    pub backup: bool,
}

/// The mountpoint of dataset `name`: the declared one or ZFS's default.
pub fn mountpoint(name: &str, d: &Dataset) -> String {
    d.mountpoint.clone().unwrap_or_else(|| format!("/{name}"))
}

/// Every dataset of every host, sorted by host then name. A dataset whose
/// tier does not exist counts as not backed up (validation rejects it).
pub fn datasets(inv: &Inventory) -> Vec<DatasetRef> {
    let s = &inv.storage;
    s.hosts
        .iter()
        .flat_map(|(host, h)| {
            h.datasets.iter().map(move |(name, d)| DatasetRef {
                host: host.clone(),
                pool: name.split('/').next().unwrap_or(name).to_string(),
                name: name.clone(),
                mountpoint: mountpoint(name, d),
                tier: d.tier.clone(),
                backup: s.tiers.get(&d.tier).is_some_and(|t| t.backup),
            })
        })
        .collect()
}

/// The stable `networking.hostId` hearth proposes for a host: the first 8
/// hex digits of SHA-256("hearth-hostid:" + name). Written to the inventory
/// once; a stored value always wins.
pub fn derive_host_id(host: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("hearth-hostid:{host}").as_bytes());
    d.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// Where host `target` receives replicas.
pub fn receive_parent(h: &HostStorage) -> Option<String> {
    h.receive_into.clone().or_else(|| h.pools.keys().next().map(|p| format!("{p}/replicas")))
}

/// Characters ZFS allows in a name component.
fn zfs_component_ok(c: &str) -> bool {
    !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
}

/// What is wrong with a pool name, if anything (zpool(8) naming rules).
pub fn pool_name_problem(s: &str) -> Option<String> {
    let e = |why: &str| Some(format!("pool name `{}` {why}", s.escape_debug()));
    if !zfs_component_ok(s) {
        return e("is not a ZFS name (letters, digits, `_`, `-`, `.`, `:`)");
    }
    if !s.as_bytes()[0].is_ascii_alphabetic() {
        return e("must begin with a letter");
    }
    if ["mirror", "raidz", "draid", "spare", "log"].iter().any(|r| s.starts_with(r)) {
        return e("begins with a name ZFS reserves (mirror, raidz, draid, spare, log)");
    }
    if s.len() >= 2 && s.as_bytes()[0] == b'c' && s.as_bytes()[1].is_ascii_digit() {
        return e("looks like a device name (c[0-9]...), which ZFS refuses");
    }
    None
}

/// What is wrong with a dataset name (`pool/a/b`), if anything.
pub fn dataset_name_problem(s: &str) -> Option<String> {
    if s.len() > 255 {
        return Some(format!("dataset name `{}` is longer than 255 characters", s.escape_debug()));
    }
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() < 2 || !parts.iter().all(|p| zfs_component_ok(p) && *p != "." && *p != "..") {
        return Some(format!("`{}` is not a ZFS dataset name `POOL/NAME[/...]` (letters, digits, `_`, `-`, `.`, `:`)", s.escape_debug()));
    }
    None
}

fn path_problem(p: &str) -> Option<String> {
    let ok = p.starts_with('/')
        && p.len() > 1
        && !p.ends_with('/')
        && !p.split('/').skip(1).any(|c| c.is_empty() || c == "." || c == "..")
        && !p.contains(|c: char| c.is_whitespace() || c.is_control() || "\"'\\$`".contains(c));
    (!ok).then(|| format!("mountpoint `{}` is not an absolute path without spaces, `..` or quotes", p.escape_debug()))
}

fn property_problem(k: &str, v: &str) -> Option<String> {
    if k == "mountpoint" {
        return Some("`mountpoint` is set by the dataset's `mountpoint` key, not as a property".into());
    }
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_:.".contains(&b)) {
        return Some(format!("`{}` is not a ZFS property name", k.escape_debug()));
    }
    if v.is_empty() || v.contains(|c: char| c.is_control() || "\"'\\$`".contains(c)) {
        return Some(format!("property `{k}` has an empty value or one with quotes or control characters"));
    }
    None
}

/// The age name of the syncoid SSH key a replicating host needs.
pub const SYNCOID_KEY: &str = "syncoid-ssh-key";

pub struct Storage;

/// A replica a host receives: (source host, parent dataset, [(dataset,
/// tier)], the source's public key).
type Replica = (String, String, Vec<(String, String)>, Option<String>);

impl Area for Storage {
    fn name(&self) -> &'static str {
        "storage"
    }

    fn validate(&self, inv: &Inventory, out: &mut Sink) {
        let s = &inv.storage;
        let known_tiers = || s.tiers.keys().cloned().collect::<Vec<_>>().join(", ");
        for (tn, t) in &s.tiers {
            if tn.is_empty() || !tn.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
                out.err(&["storage", "tiers", tn], format!("tier name `{}` must be lowercase letters, digits, `-` and `_`", tn.escape_debug()), "rename the tier, e.g. `attic`");
            }
            for (k, c) in t.counts() {
                if let Err(raw) = &c.0 {
                    out.err(
                        &["storage", "tiers", tn, k],
                        format!("{k} = {raw} is not a snapshot count"),
                        format!("write a whole number of snapshots to keep, 0 or more, e.g. `{k} = 7`"),
                    );
                }
            }
            for (i, r) in t.replicate_to.iter().enumerate() {
                let idx = i.to_string();
                let keys = ["storage", "tiers", tn, "replicate_to", &idx];
                if !inv.hosts.contains_key(r) {
                    out.err(&keys, format!("replicate_to names `{r}`, which is not a host"), "name a host from [hosts] that has ZFS pools in [storage.hosts]");
                } else if s.hosts.get(r).is_none_or(|h| h.pools.is_empty()) {
                    out.err(
                        &keys,
                        format!("replicate_to names `{r}`, which has no ZFS pool"),
                        format!("declare a pool for it: [storage.hosts.{r}.pools.NAME], or drop it from replicate_to"),
                    );
                }
            }
        }
        let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
        for (hn, h) in &s.hosts {
            let hk = ["storage", "hosts", hn.as_str()];
            if !inv.hosts.contains_key(hn) {
                out.err(&hk, format!("`{hn}` is not a host"), format!("add it first: `hearth host add {hn}`"));
            }
            match &h.host_id {
                None => out.err(
                    &hk,
                    format!("{hn} has no host_id (ZFS on NixOS needs networking.hostId)"),
                    format!("add `host_id = \"{}\"` (derived from the host name) to [storage.hosts.{hn}]; never change it later", derive_host_id(hn)),
                ),
                Some(id) if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => out.err(
                    &[&hk[..], &["host_id"]].concat(),
                    format!("host_id `{}` is not 8 lowercase hex digits", id.escape_debug()),
                    format!("write e.g. `host_id = \"{}\"`", derive_host_id(hn)),
                ),
                Some(id) => {
                    if let Some(other) = ids.insert(id, hn) {
                        out.err(
                            &[&hk[..], &["host_id"]].concat(),
                            format!("host_id `{id}` is also {other}'s"),
                            format!("give each host its own, e.g. `host_id = \"{}\"`", derive_host_id(hn)),
                        );
                    }
                }
            }
            for (pn, p) in &h.pools {
                let pk = [&hk[..], &["pools", pn.as_str()]].concat();
                if let Some(m) = pool_name_problem(pn) {
                    out.err(&pk, m, "rename the pool: a letter, then letters, digits, `_`, `-`, `.`, e.g. `tank`");
                }
                if p.disks.len() < p.layout.min_disks() {
                    out.err(
                        &[&pk[..], &["disks"]].concat(),
                        format!("a {} needs at least {} disks, {} are listed", p.layout, p.layout.min_disks(), p.disks.len()),
                        "list every disk (`/dev/disk/by-id/...`) or choose another layout",
                    );
                }
                let dup: BTreeSet<&String> = p.disks.iter().filter(|d| p.disks.iter().filter(|x| x == d).count() > 1).collect();
                for d in &p.disks {
                    if !d.starts_with('/') || d.contains(|c: char| c.is_whitespace() || "\"'\\$`".contains(c)) {
                        out.err(&[&pk[..], &["disks"]].concat(), format!("disk `{}` is not an absolute device path", d.escape_debug()), "use /dev/disk/by-id/... paths");
                    }
                }
                for d in dup {
                    out.err(&[&pk[..], &["disks"]].concat(), format!("disk `{d}` is listed twice"), "list each disk once");
                }
            }
            if let Some(k) = &h.syncoid_public_key {
                let ok = k.starts_with("ssh-ed25519 ") && crate::validate::ssh_key_problem(k).is_none();
                if !ok {
                    out.err(
                        &[&hk[..], &["syncoid_public_key"]].concat(),
                        "syncoid_public_key is not an `ssh-ed25519 AAAA...` public key",
                        "paste the .pub of the key stored as syncoid-ssh-key (`ssh-keygen -y -f KEY`)",
                    );
                }
            }
            if let Some(r) = &h.receive_into {
                if let Some(m) = dataset_name_problem(r) {
                    out.err(&[&hk[..], &["receive_into"]].concat(), m, "name a dataset under one of this host's pools, e.g. `tank/replicas`");
                } else if !h.pools.contains_key(r.split('/').next().unwrap_or("")) {
                    out.err(&[&hk[..], &["receive_into"]].concat(), format!("`{r}` is not on a pool of {hn}"), "start it with one of the host's pools");
                }
            }
            let mut mounts: BTreeMap<String, &str> = BTreeMap::new();
            for (dn, d) in &h.datasets {
                let dk = [&hk[..], &["datasets", dn.as_str()]].concat();
                if let Some(m) = dataset_name_problem(dn) {
                    out.err(&dk, m, "name it POOL/NAME, e.g. `tank/attic`");
                } else {
                    let pool = dn.split('/').next().unwrap_or("");
                    if !h.pools.contains_key(pool) {
                        out.err(
                            &dk,
                            format!("dataset `{dn}` is on pool `{pool}`, which {hn} does not declare"),
                            format!("declare [storage.hosts.{hn}.pools.{pool}] or put the dataset on one of: {}", h.pools.keys().cloned().collect::<Vec<_>>().join(", ")),
                        );
                    }
                }
                match s.tiers.get(&d.tier) {
                    None => out.err(
                        &[&dk[..], &["tier"]].concat(),
                        format!("tier `{}` does not exist", d.tier.escape_debug()),
                        format!("use one of: {} (or declare [storage.tiers.{}])", known_tiers(), d.tier),
                    ),
                    Some(t) => {
                        if t.replicate_to.iter().any(|r| r == hn) {
                            out.err(
                                &[&dk[..], &["tier"]].concat(),
                                format!("tier `{}` replicates to {hn} itself", d.tier),
                                "replicate to another host, or put the dataset in another tier",
                            );
                        }
                        if !t.replicate_to.is_empty() && h.syncoid_public_key.is_none() {
                            out.err(
                                &[&dk[..], &["tier"]].concat(),
                                format!("tier `{}` replicates, and [storage.hosts.{hn}] has no syncoid_public_key for the targets to authorize", d.tier),
                                format!("add `syncoid_public_key = \"ssh-ed25519 AAAA...\"` to [storage.hosts.{hn}]: the .pub of its {SYNCOID_KEY}"),
                            );
                        }
                        if !t.replicate_to.is_empty() && !inv.hosts.get(hn).is_some_and(|x| x.secrets.iter().any(|n| n == SYNCOID_KEY)) {
                            out.err(
                                &[&dk[..], &["tier"]].concat(),
                                format!("tier `{}` replicates, and {hn} has no `{SYNCOID_KEY}` secret for syncoid's SSH key", d.tier),
                                format!("ssh-keygen -t ed25519 -N '' -f k && hearth secret set {SYNCOID_KEY} --host {hn} < k (k.pub goes into the targets' hearth.storage.replicaAuthorizedKeys)"),
                            );
                        }
                    }
                }
                let mp = mountpoint(dn, d);
                if let Some(m) = path_problem(&mp) {
                    out.err(&[&dk[..], &["mountpoint"]].concat(), m, "write an absolute path, e.g. `/share/attic`");
                } else if let Some(other) = mounts.insert(mp.clone(), dn) {
                    out.err(&[&dk[..], &["mountpoint"]].concat(), format!("mountpoint {mp} is also {other}'s"), "give each dataset its own mountpoint");
                }
                for (k, v) in &d.properties {
                    if let Some(m) = property_problem(k, v) {
                        out.err(&[&dk[..], &["properties", k.as_str()]].concat(), m, "set ZFS properties as `name = \"value\"`, e.g. `compression = \"lz4\"`");
                    }
                }
            }
        }
    }

    fn host_data(&self, cx: &HostCx) -> Option<Value> {
        host_data(cx.inv, cx.name)
    }

    fn previews(&self) -> &'static [Preview] {
        &[
            Preview { part: "sanoid", needs: "datasets in [storage.hosts.HOST]", expr: "lib.storage.sanoidConf host.hearth.storage", when: "true" },
            Preview { part: "zfs", needs: "pools in [storage.hosts.HOST]", expr: "lib.storage.createScript host.hearth.storage", when: "true" },
            Preview { part: "syncoid", needs: "datasets in a replicating tier", expr: "lib.storage.syncoidCommands host.hearth.storage", when: "true" },
        ]
    }

    fn command(&self) -> Option<clap::Command> {
        Some(cli::command())
    }

    fn run(&self, m: &clap::ArgMatches, cx: &CliCx) -> Result<i32, CmdError> {
        cli::run(m, cx)
    }

    fn lab(&self, cx: &LabCx) -> Option<Result<Vec<crate::lab::bastion::Check>, crate::lab::LabError>> {
        lab::stage(cx)
    }
}

/// `hearth.storage` for host `name` (None: no pools there).
pub fn host_data(inv: &Inventory, name: &str) -> Option<Value> {
    let s = &inv.storage;
    let h = s.hosts.get(name)?;
    let pools =
        h.pools.iter().map(|(pn, p)| Value::from(Attrs::new().set("name", pn.clone()).set("layout", p.layout.to_string()).set("disks", Value::strs(p.disks.clone())))).collect();
    // Replicas this host receives: (source host, parent, [(dataset, tier)], key).
    let mut receive: Vec<Replica> = vec![];
    if let Some(parent) = receive_parent(h) {
        for (src, sh) in s.hosts.iter().filter(|(n, _)| *n != name) {
            let got: Vec<(String, String)> = sh
                .datasets
                .iter()
                .filter(|(_, d)| s.tiers.get(&d.tier).is_some_and(|t| t.replicate_to.iter().any(|r| r == name)))
                .map(|(dn, d)| (format!("{parent}/{src}/{}", dn.split_once('/').map(|x| x.1).unwrap_or(dn)), d.tier.clone()))
                .collect();
            if !got.is_empty() {
                receive.push((src.clone(), format!("{parent}/{src}"), got, sh.syncoid_public_key.clone()));
            }
        }
    }
    let used: BTreeSet<&str> = h.datasets.values().map(|d| d.tier.as_str()).chain(receive.iter().flat_map(|r| r.2.iter().map(|d| d.1.as_str()))).collect();
    let tiers = s
        .tiers
        .iter()
        .filter(|(n, _)| used.contains(n.as_str()))
        .map(|(n, t)| {
            let mut a = Attrs::new();
            for (k, c) in t.counts() {
                a = a.set(k, c.get());
            }
            (n.clone(), Value::from(a.set("backup", t.backup).set("replicateTo", Value::strs(t.replicate_to.clone()))))
        })
        .collect();
    let datasets = h
        .datasets
        .iter()
        .map(|(dn, d)| {
            let props = d.properties.iter().map(|(k, v)| (k.clone(), Value::str(v.clone()))).collect();
            Value::from(
                Attrs::new()
                    .set("name", dn.clone())
                    .set("pool", dn.split('/').next().unwrap_or(dn).to_string())
                    .set("tier", d.tier.clone())
                    .set("mountpoint", mountpoint(dn, d))
                    .set("properties", Value::Attrs(props)),
            )
        })
        .collect();
    let target_addr = |t: &str| inv.hosts.get(t).and_then(|x| x.address).map(|a| a.to_string()).unwrap_or_else(|| format!("{t}.{}", inv.network.domain));
    let mut replication = vec![];
    for (dn, d) in &h.datasets {
        let Some(t) = s.tiers.get(&d.tier) else { continue };
        for r in &t.replicate_to {
            let Some(parent) = s.hosts.get(r).and_then(receive_parent) else { continue };
            let rest = dn.split_once('/').map(|x| x.1).unwrap_or(dn);
            replication.push(Value::from(
                Attrs::new()
                    .set("name", format!("{}-to-{r}", dn.replace('/', "-")))
                    .set("source", dn.clone())
                    .set("host", r.clone())
                    .set("address", target_addr(r))
                    .set("targetDataset", format!("{parent}/{name}/{rest}")),
            ));
        }
    }
    let receive = receive
        .into_iter()
        .map(|(from, parent, ds, key)| {
            let ds = ds.into_iter().map(|(n, t)| Value::from(Attrs::new().set("name", n).set("tier", t))).collect();
            Value::from(Attrs::new().set("from", from).set("parent", parent).set("datasets", Value::List(ds)).set("authorizedKey", Value::opt_str(key)))
        })
        .collect();
    let key = (!replication.is_empty() && inv.hosts.get(name).is_some_and(|x| x.secrets.iter().any(|n| n == SYNCOID_KEY))).then(|| SYNCOID_KEY.to_string());
    Some(
        Attrs::new()
            .set("enable", true)
            .set("hostId", h.host_id.clone().unwrap_or_else(|| derive_host_id(name)))
            .set("pools", Value::List(pools))
            .set("scrub", Attrs::new().set("enable", true).set("interval", "weekly"))
            .set("tiers", Value::Attrs(tiers))
            .set("datasets", Value::List(datasets))
            .set("replication", Value::List(replication))
            .set("replicationKeySecret", Value::opt_str(key))
            .set("receive", Value::List(receive))
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Loaded;
    use std::path::Path;

    const BASE: &str = r#"[network]
domain = "home.example.net"
lan = "10.0.0.0/24"
vpn = "10.1.0.0/24"

[hosts.nas01]
address = "10.0.0.5"

[hosts.desk01]
address = "10.0.0.6"

[storage.hosts.nas01]
host_id = "be1e2f86"

[storage.hosts.nas01.pools.tank]
layout = "mirror"
disks = ["/dev/disk/by-id/a", "/dev/disk/by-id/b"]

[storage.hosts.nas01.datasets."tank/attic"]
tier = "attic"
mountpoint = "/share/attic"
"#;

    /// The backed-up tiers need a repository (the backup area checks it); the
    /// tests' own lines come first, so their line numbers stay those of BASE.
    const REPO: &str = "\n[backup.hosts.nas01.repositories.local]\nurl = \"/srv/restic\"\n";

    fn problems(extra: &str) -> Vec<String> {
        let l = Loaded::parse(Path::new("inventory.toml"), format!("{BASE}{extra}{REPO}")).unwrap();
        match crate::validate::check(&l) {
            Ok(()) => vec![],
            Err(p) => p.to_string().lines().map(String::from).collect(),
        }
    }

    fn has(p: &[String], needle: &str) -> bool {
        p.iter().any(|l| l.contains(needle))
    }

    #[test]
    fn the_base_is_valid_with_the_default_tiers() {
        assert_eq!(problems(""), Vec::<String>::new());
        let l = Loaded::parse(Path::new("i.toml"), BASE.into()).unwrap();
        assert_eq!(l.inv.storage.tiers.keys().collect::<Vec<_>>(), ["attic", "garage", "shelf"]);
        assert_eq!(
            datasets(&l.inv),
            vec![DatasetRef { host: "nas01".into(), pool: "tank".into(), name: "tank/attic".into(), mountpoint: "/share/attic".into(), tier: "attic".into(), backup: true }]
        );
    }

    #[test]
    fn a_dataset_whose_tier_does_not_exist_is_located() {
        let p = problems("\n[storage.hosts.nas01.datasets.\"tank/x\"]\ntier = \"cellar\"\n");
        assert!(has(&p, "inventory.toml:24:1: storage.hosts.nas01.datasets.tank/x.tier: tier `cellar` does not exist"), "{p:?}");
        assert!(has(&p, "hint: use one of: attic, garage, shelf"), "{p:?}");
    }

    #[test]
    fn two_datasets_with_one_mountpoint_are_rejected() {
        let p = problems("\n[storage.hosts.nas01.datasets.\"tank/y\"]\ntier = \"garage\"\nmountpoint = \"/share/attic\"\n");
        assert!(has(&p, ":25:1: storage.hosts.nas01.datasets.tank/y.mountpoint: mountpoint /share/attic is also tank/attic's"), "{p:?}");
    }

    #[test]
    fn replicate_to_a_host_without_zfs_is_rejected() {
        let p = problems("\n[storage.tiers.attic]\ndaily = 3\nreplicate_to = [\"desk01\", \"ghost\"]\n");
        assert!(has(&p, "storage.tiers.attic.replicate_to.0: replicate_to names `desk01`, which has no ZFS pool"), "{p:?}");
        assert!(has(&p, "storage.tiers.attic.replicate_to.1: replicate_to names `ghost`, which is not a host"), "{p:?}");
    }

    #[test]
    fn retention_counts_that_are_negative_or_not_numbers_are_located() {
        let p = problems("\n[storage.tiers.attic]\ndaily = -1\nweekly = \"four\"\nmonthly = 1.5\n");
        assert!(has(&p, ":24:1: storage.tiers.attic.daily: daily = -1 is not a snapshot count"), "{p:?}");
        assert!(has(&p, ":25:1: storage.tiers.attic.weekly: weekly = \"four\" is not a snapshot count"), "{p:?}");
        assert!(has(&p, "storage.tiers.attic.monthly: monthly = 1.5 is not a snapshot count"), "{p:?}");
        assert!(has(&p, "hint: write a whole number of snapshots to keep, 0 or more"), "{p:?}");
    }

    #[test]
    fn pool_names_that_are_not_zfs_names_are_rejected() {
        for bad in ["mirror0", "1tank", "c0d1", "ta nk"] {
            let p = problems(&format!("\n[storage.hosts.nas01.pools.\"{bad}\"]\ndisks = [\"/dev/x\", \"/dev/y\"]\n"));
            assert!(has(&p, &format!("pool name `{bad}`")), "{bad}: {p:?}");
        }
        assert!(pool_name_problem("tank").is_none() && pool_name_problem("rpool_2").is_none());
    }

    #[test]
    fn host_ids_layouts_and_properties_are_checked() {
        let text = BASE.replace("host_id = \"be1e2f86\"\n", "");
        let l = Loaded::parse(Path::new("inventory.toml"), text).unwrap();
        let p = crate::validate::check(&l).unwrap_err().to_string();
        assert!(p.contains(&format!("add `host_id = \"{}\"`", derive_host_id("nas01"))), "{p}");
        assert_eq!(derive_host_id("nas01"), "be1e2f86");
        let p = problems("\n[storage.hosts.nas01.pools.solo]\nlayout = \"mirror\"\ndisks = [\"/dev/x\"]\n");
        assert!(has(&p, "a mirror needs at least 2 disks, 1 are listed"), "{p:?}");
        let p = problems("\n[storage.hosts.nas01.datasets.\"tank/z\"]\ntier = \"garage\"\nproperties = { mountpoint = \"/x\", \"bad key\" = \"1\" }\n");
        assert!(has(&p, "`mountpoint` is set by the dataset's `mountpoint` key"), "{p:?}");
        assert!(has(&p, "`bad key` is not a ZFS property name"), "{p:?}");
    }

    #[test]
    fn replication_needs_the_key_and_reaches_the_target() {
        let extra = "\n[storage.tiers.attic]\ndaily = 3\n[storage.tiers.shelf]\ndaily = 3\nreplicate_to = [\"desk01\"]\n[storage.hosts.nas01.datasets.\"tank/shelf\"]\ntier = \"shelf\"\n[storage.hosts.desk01]\nhost_id = \"6b35299c\"\n[storage.hosts.desk01.pools.rpool]\nlayout = \"stripe\"\ndisks = [\"/dev/n\"]\n";
        let p = problems(extra);
        assert!(has(&p, "no syncoid_public_key") && has(&p, "no `syncoid-ssh-key` secret"), "{p:?}");
        let text = format!("{BASE}{extra}").replace("address = \"10.0.0.5\"\n", "address = \"10.0.0.5\"\nsecrets = [\"syncoid-ssh-key\"]\n").replace(
            "host_id = \"be1e2f86\"\n",
            "host_id = \"be1e2f86\"\nsyncoid_public_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDscuVJzmkL+/uWmnrnoUwnsTM0bOzgT7ZSr3CYhH2tu\"\n",
        );
        let l = Loaded::parse(Path::new("inventory.toml"), text).unwrap();
        crate::validate::check(&l).unwrap();
        let nas = crate::nix::print(&host_data(&l.inv, "nas01").unwrap());
        assert!(nas.contains("targetDataset = \"rpool/replicas/nas01/shelf\";") && nas.contains("address = \"10.0.0.6\";"), "{nas}");
        let desk = crate::nix::print(&host_data(&l.inv, "desk01").unwrap());
        assert!(desk.contains("parent = \"rpool/replicas/nas01\";") && desk.contains("authorizedKey = \"ssh-ed25519 AAAA"), "{desk}");
    }
}
