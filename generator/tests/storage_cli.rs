//! `hearth storage add|list` and `hearth preview HOST sanoid|zfs` on a copy
//! of the example inventory.

use predicates::prelude::*;

mod support;
use support::{example, hearth, repo_root, which};

#[test]
fn list_shows_tiers_snapshots_backup_and_replicas() {
    let t = example();
    hearth(t.path())
        .args(["storage", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("HOST   DATASET      TIER    SNAPSHOTS  BACKUP  REPLICATED TO"))
        .stdout(predicate::str::contains("nas01  tank/shelf   shelf   49         yes     desk01"))
        .stdout(predicate::str::contains("nas01  tank/garage  garage  9          no      -"));
    let out = hearth(t.path()).args(["storage", "list", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let attic = v.as_array().unwrap().iter().find(|r| r["dataset"] == "tank/attic").unwrap();
    assert_eq!(attic["snapshots_kept_at_most"], 52);
    assert_eq!(attic["backup"], true);
    assert_eq!(attic["mountpoint"], "/share/attic");
}

#[test]
fn add_writes_the_dataset_and_a_host_id_once() {
    let t = example();
    std::fs::write(
        t.path().join("inventory.toml"),
        std::fs::read_to_string(t.path().join("inventory.toml")).unwrap()
            + "\n[hosts.nas02]\naddress = \"10.69.13.42\"\n\n[hosts.nas03]\naddress = \"10.69.13.41\"\n\n[storage.hosts.nas02.pools.tank]\nlayout = \"mirror\"\ndisks = [\"/dev/a\", \"/dev/b\"]\n\n[backup.hosts.nas02.repositories.local]\nurl = \"/srv/restic\"\n",
    )
    .unwrap();
    // The hand-written host has no host_id yet: check says what to add.
    let derived = hearth::area::storage::derive_host_id("nas02");
    hearth(t.path())
        .arg("check")
        .assert()
        .failure()
        .stderr(predicate::str::contains("nas02 has no host_id"))
        .stderr(predicate::str::contains(format!("add `host_id = \"{derived}\"`")));
    // A file without host_id cannot be edited; add it the way the hint says.
    let id = {
        let text = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
        let text = text.replace("[storage.hosts.nas02.pools.tank]", "[storage.hosts.nas02]\nhost_id = \"0a0b0c0d\"\n\n[storage.hosts.nas02.pools.tank]");
        std::fs::write(t.path().join("inventory.toml"), text).unwrap();
        "0a0b0c0d"
    };
    hearth(t.path())
        .args(["storage", "add", "nas02", "tank/photos", "--tier", "attic", "--mountpoint", "/share/photos", "--property", "compression=on"])
        .assert()
        .success()
        .stdout(predicate::str::contains("added tank/photos on nas02 (tier attic, mountpoint /share/photos)"));
    let text = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    assert!(text.contains("[storage.hosts.nas02.datasets.\"tank/photos\"]\ntier = \"attic\"\nmountpoint = \"/share/photos\"\nproperties = { compression = \"on\" }"), "{text}");
    assert_eq!(text.matches(&format!("host_id = \"{id}\"")).count(), 1, "host_id kept, not regenerated");
    // A host without pools: nothing is written.
    let before = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    let err = hearth(t.path()).args(["storage", "add", "nas03", "tank/x", "--tier", "garage"]).assert().failure();
    err.stderr(predicate::str::contains("dataset `tank/x` is on pool `tank`, which nas03 does not declare"));
    assert_eq!(std::fs::read_to_string(t.path().join("inventory.toml")).unwrap(), before);
}

#[test]
fn bad_input_changes_nothing() {
    let t = example();
    let before = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    hearth(t.path())
        .args(["storage", "add", "nas01", "tank/new", "--tier", "cellar"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("tier `cellar` does not exist"))
        .stderr(predicate::str::contains("hint: use one of: attic, garage, shelf"))
        .stderr(predicate::str::contains("nothing was written"));
    hearth(t.path())
        .args(["storage", "add", "nas01", "tank/new", "--tier", "attic", "--mountpoint", "/share/attic"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("mountpoint /share/attic is also tank/attic's"));
    hearth(t.path()).args(["storage", "add", "nas01", "tank/attic", "--tier", "attic"]).assert().failure().stderr(predicate::str::contains("already exists"));
    hearth(t.path())
        .args(["storage", "add", "nas01", "tank/p", "--tier", "attic", "--property", "novalue"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("is not NAME=VALUE"));
    assert_eq!(std::fs::read_to_string(t.path().join("inventory.toml")).unwrap(), before);
}

#[test]
fn preview_prints_sanoid_conf_and_the_create_script() {
    if which("nix-instantiate").is_none() {
        println!("SKIPPED: nix-instantiate not found");
        return;
    }
    let root = repo_root();
    hearth(&root).args(["preview", "nas01", "sanoid"]).assert().success().stdout(predicate::str::starts_with("[tank/attic]\nuse_template=attic\n\n[tank/garage]"));
    hearth(&root)
        .args(["preview", "nas01", "zfs"])
        .assert()
        .success()
        .stdout(predicate::str::contains("zfs create -p -o mountpoint='/share/shelf' -o atime='off' -o compression='on' 'tank/shelf'"));
    hearth(&root).args(["preview", "vps", "sanoid"]).assert().failure().stderr(predicate::str::contains("has no storage configuration"));
}
