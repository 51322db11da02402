//! Areas: the units hearth is made of.
//!
//! An area (wireguard, allowlist, bastion, storage, ...) is one Rust module
//! here, one pure renderer `modules/lib/<area>.nix` and one NixOS module
//! `modules/<area>.nix`. The Rust module owns everything of its area that the
//! CLI side decides: the roles it declares, its inventory section's
//! validation, the secrets it needs, the data it writes under
//! `hearth.<area>` into `hosts/<host>/hearth.nix`, its `hearth preview`
//! parts, its own subcommand and its lab stage.
//!
//! Central code (validation, render, preview, the CLI, the lab) loops over
//! [`AREAS`]; none of it names an area. Adding an area is: a file here, one
//! line in [`AREAS`], and (if it has an inventory section) one field in
//! [`crate::inventory::Inventory`]. The Nix side finds `modules/<area>.nix`
//! and `modules/lib/<area>.nix` by reading the directory. See
//! `docs/design.md`, "How to add an area".

use std::path::{Path, PathBuf};

use crate::inventory::Inventory;
use crate::nix::Value;
use crate::policy;
use crate::topology::SecretSpec;
use crate::validate::Sink;

pub mod allowlist;
pub mod backup;
pub mod bastion;
pub mod ddns;
pub mod deploy;
pub mod ingress;
pub mod kvm;
pub mod logs;
pub mod notify;
pub mod storage;
pub mod wireguard;

/// Every area, in the order their data appears in `hosts/<host>/hearth.nix`.
pub static AREAS: &[&dyn Area] = &[
    &wireguard::Wireguard,
    &allowlist::Allowlist,
    &bastion::Bastion,
    &logs::Logs,
    &kvm::Kvm,
    &ingress::Ingress,
    &notify::Notify,
    &storage::Storage,
    &backup::Backup,
    &deploy::Deploy,
    &ddns::Ddns,
];

/// The area called `name`.
pub fn find(name: &str) -> Option<&'static dyn Area> {
    AREAS.iter().copied().find(|a| a.name() == name)
}

/// What an area sees when it renders one host.
pub struct HostCx<'a> {
    pub inv: &'a Inventory,
    /// `topology::secrets(inv)`, computed once per render.
    pub specs: &'a [SecretSpec],
    /// The resolved policy, computed once per render.
    pub allowlist: &'a policy::Allowlist,
    /// The host being rendered.
    pub name: &'a str,
}

impl HostCx<'_> {
    pub fn host(&self) -> &crate::inventory::Host {
        &self.inv.hosts[self.name]
    }
    /// The agenix attribute name under which this host declares the secret
    /// whose path below `secrets/` is `rel`.
    pub fn age_name(&self, rel: &str) -> Option<String> {
        self.specs.iter().find(|s| s.rel == rel).map(|s| s.age_name(self.name))
    }
}

/// One `hearth preview HOST PART`: a Nix expression over `lib` (the
/// renderers, `modules/lib/default.nix`) and `host` (the host's generated
/// `hearth.nix`), evaluated as the NixOS module evaluates it. Text comes back
/// as text, anything else as JSON.
#[derive(Debug, Clone, Copy)]
pub struct Preview {
    pub part: &'static str,
    /// Shown when the host has no `hearth.<area>`: what it needs.
    pub needs: &'static str,
    pub expr: &'static str,
    /// A Nix boolean over `host`: whether this part applies to a host that
    /// has the area's data at all (`"true"` for most parts; the Loki config
    /// only on the Loki host).
    pub when: &'static str,
}

/// A generated file that is not a host's `hearth.nix` (repo-relative path,
/// content). Written, checked and cleaned like every generated file.
pub type File = (String, Vec<u8>);

/// What an area's own subcommand gets: the global options.
#[derive(Debug, Clone)]
pub struct CliCx {
    pub inventory: PathBuf,
    pub identity: Option<PathBuf>,
}

impl CliCx {
    /// The repository root: the directory holding the inventory.
    pub fn root(&self) -> PathBuf {
        crate::fsutil::repo_root(&self.inventory)
    }
}

/// An area's command failed. Areas wrap their own `thiserror` enums.
pub type CmdError = Box<dyn std::error::Error + Send + Sync>;

/// An area.
pub trait Area: Sync {
    /// `wireguard`, `storage`, ...: the key under `hearth.` in a host's
    /// data, the file name of its renderer and NixOS module.
    fn name(&self) -> &'static str;

    /// Host roles this area declares: (role, one line of documentation).
    fn roles(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Problems in this area's part of the inventory. Core validation
    /// (names, addresses, references between hosts, peers and services) has
    /// run before; it may have found problems too.
    fn validate(&self, _inv: &Inventory, _out: &mut Sink) {}

    /// The secrets this area needs, in a deterministic order.
    fn secrets(&self, _inv: &Inventory, _out: &mut Vec<SecretSpec>) {}

    /// Services this area implies (the PiKVM's web UI, the ingress port): they
    /// join the inventory's own `[services]` in the allowlist and the policy.
    fn services(&self, _inv: &Inventory) -> Vec<(String, crate::inventory::Service)> {
        vec![]
    }

    /// LAN addresses the gateway must not masquerade VPN traffic towards (an
    /// ingress enforcing per-client policy must see the client's address;
    /// the area then renders a route back on that host).
    fn unmasqueraded(&self, _inv: &Inventory) -> Vec<std::net::Ipv4Addr> {
        vec![]
    }

    /// The value of `hearth.<name>` in the host's `hearth.nix`, or `None`
    /// when the host has no part in this area. Every field the renderer reads
    /// is written (no reliance on module defaults).
    fn host_data(&self, _cx: &HostCx) -> Option<Value> {
        None
    }

    /// Generated files beside the hosts' `hearth.nix`.
    fn files(&self, _inv: &Inventory) -> Vec<File> {
        vec![]
    }

    /// `hearth preview HOST PART` parts.
    fn previews(&self) -> &'static [Preview] {
        &[]
    }

    /// `hearth preview NAME PART` where NAME is not a host but a device this
    /// area renders for (`kvm`): the host whose `hearth.nix` carries its data.
    fn preview_host(&self, _inv: &Inventory, _name: &str) -> Option<String> {
        None
    }

    /// LAN devices that are not hosts (a PiKVM, a KVM switch): the lab
    /// gives each a namespace on the LAN at its address, running the
    /// `hearth` subcommand the device names from bring-up on (so the ACL
    /// tests and the area's lab stage find it answering).
    fn lab_devices(&self, _inv: &Inventory) -> Vec<LabDevice> {
        vec![]
    }

    /// This area's own subcommand (`hearth storage ...`), if any.
    fn command(&self) -> Option<clap::Command> {
        None
    }

    /// Runs this area's subcommand; returns the exit code.
    fn run(&self, _m: &clap::ArgMatches, _cx: &CliCx) -> Result<i32, CmdError> {
        Ok(2)
    }

    /// This area's lab stage, run after the core checks with the lab up.
    /// `None`: this area has nothing to prove in this inventory's lab.
    fn lab(&self, _cx: &LabCx) -> Option<Result<Vec<crate::lab::bastion::Check>, crate::lab::LabError>> {
        None
    }
}

/// A LAN device in the lab (see [`Area::lab_devices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabDevice {
    /// The lab node's name; not a DNS label, so it never clashes with a host.
    pub name: String,
    pub address: std::net::Ipv4Addr,
    /// Arguments of the `hearth` process that stands in for the device
    /// (e.g. `kvm simulate ...`); empty: nothing runs.
    pub daemon: Vec<String>,
    /// The TCP port the daemon accepts on once it is up: the lab waits for
    /// it before any probe.
    pub ready_port: Option<u16>,
}

/// What an area's lab stage gets.
pub struct LabCx<'a> {
    pub root: &'a Path,
    pub inv: &'a Inventory,
    pub lab: &'a crate::lab::exec::Lab,
    pub plan: &'a crate::lab::plan::LabPlan,
    pub decrypt: &'a dyn Fn(&crate::lab::plan::Secret) -> Result<zeroize::Zeroizing<String>, crate::lab::LabError>,
    pub verbose: bool,
}

impl LabCx<'_> {
    /// Fails naming the Debian packages when any of `tools` (program,
    /// package) is not on PATH. A stage calls this first.
    pub fn require(&self, tools: &[(&str, &str)]) -> Result<(), crate::lab::LabError> {
        let absent: Vec<(String, String)> = tools.iter().filter(|(t, _)| crate::lab::which(t).is_none()).map(|(t, p)| (t.to_string(), p.to_string())).collect();
        match absent.is_empty() {
            true => Ok(()),
            false => Err(crate::lab::LabError::MissingTools { absent }),
        }
    }

    /// Evaluates `expr` over `lib` and the host's `hearth.nix`, as preview does.
    pub fn eval(&self, host: &str, expr: &str) -> Result<serde_json::Value, crate::preview::PreviewError> {
        let lib = crate::preview::lib_dir(self.root)?;
        crate::preview::eval_json(&lib, &self.root.join("hosts").join(host).join("hearth.nix"), expr)
    }
}
