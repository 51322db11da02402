//! The backup area's lab stage on its own (without the core lab's scan):
//! the example's nas01 backups on a zfs-fuse pool, to `rclone serve restic`
//! behind a netem link. Every check must pass and nothing may be left:
//! no namespace, no process, no lab directory.

mod lab_common;

use std::path::PathBuf;

use hearth::lab::exec::{new_prefix, Lab};
use hearth::lab::plan::{LabPlan, Secret};

fn empty_plan(inv: &hearth::inventory::Inventory) -> LabPlan {
    LabPlan {
        nodes: vec![],
        links: vec![],
        lan: inv.network.lan,
        vpn: inv.network.vpn,
        targets: vec![],
        udp_ports: Default::default(),
        clients: vec![],
        acl_checks: vec![],
        bastion: None,
        notes: vec![],
    }
}

#[test]
fn backup_stage_proves_restore_kill_and_stale_and_cleans_up() {
    skip_unless_lab!();
    let missing: Vec<&str> = ["restic", "rclone", "zfs-fuse", "tc", "nsenter"].into_iter().filter(|t| hearth::lab::which(t).is_none()).collect();
    if !missing.is_empty() {
        println!("SKIPPED: missing {}", missing.join(", "));
        return;
    }
    let root = lab_common::repo();
    let inv = hearth::inventory::Loaded::read(&root.join("inventory.toml")).expect("example").inv;
    let prefix = new_prefix();
    let lab = Lab::create(&prefix).expect("lab dir");
    let ids = hearth::secrets::load_identities(Some(&lab_common::identity())).expect("identity");
    let store = hearth::secrets::SecretStore::open(root.join("secrets")).expect("store");
    let decrypt = move |s: &Secret| -> Result<zeroize::Zeroizing<String>, hearth::lab::LabError> {
        match s {
            Secret::Inline(v) => Ok(v.clone()),
            Secret::AgeFile(rel) => {
                let b = store.decrypt(&rel.to_string_lossy(), &ids)?;
                Ok(zeroize::Zeroizing::new(String::from_utf8_lossy(b.expose()).into_owned()))
            }
        }
    };
    let plan = empty_plan(&inv);
    let cx = hearth::area::LabCx { root: &root, inv: &inv, lab: &lab, plan: &plan, decrypt: &decrypt, verbose: true };
    let res = hearth::area::find("backup").expect("area").lab(&cx).expect("the example has backups");
    let problems = lab.teardown();
    let checks = res.expect("stage runs");
    for c in &checks {
        println!("{:<5} {:<45} expected {:<35} saw {}", if c.ok { "ok" } else { "FAIL" }, c.name, c.expected, c.seen);
    }
    assert!(problems.is_empty(), "teardown: {problems:?}");
    assert!(checks.len() >= 10, "too few checks: {}", checks.len());
    assert!(checks.iter().all(|c| c.ok), "failed checks above");
    let ns = std::process::Command::new("ip").args(["netns", "list"]).output().expect("ip");
    assert!(!String::from_utf8_lossy(&ns.stdout).contains(&prefix), "namespaces of {prefix} left");
    assert!(!PathBuf::from("/run/hearth-lab").join(&prefix).exists(), "lab directory left");
}
