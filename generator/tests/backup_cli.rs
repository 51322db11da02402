//! `hearth backup` and the backup area's validation on copies of the
//! example: every bad input of issue 12 is a located error and changes
//! nothing; `backup list` and `preview HOST restic` show what the example
//! backs up.

mod support;
use support::{example, hearth, repo_files, which};

#[test]
fn bad_backup_inputs_are_located_errors_and_write_nothing() {
    let t = example();
    let inv = std::fs::read_to_string(t.path().join("inventory.toml")).unwrap();
    let bad = inv
        // A retention that keeps nothing.
        .replace("[backup.retention.attic]\ndaily = 7\nweekly = 4\nmonthly = 24\nyearly = 5", "[backup.retention.attic]\ndaily = 0")
        // The repository moves to desk01: nas01's backed-up tiers have none,
        // and desk01 has no secret `restic-b2-env`.
        .replace("[backup.hosts.nas01.repositories.b2]", "[backup.hosts.desk01.repositories.b2]")
        // A URL of an unknown scheme.
        .replace("url = \"b2:hearth-example-nas01:restic\"", "url = \"ftp://backup.example.net/nas01\"");
    assert_ne!(bad, inv, "the example changed: update this test");
    std::fs::write(t.path().join("inventory.toml"), &bad).unwrap();
    let before = repo_files(t.path());
    let out = hearth(t.path()).arg("render").assert().code(2).get_output().stderr.clone();
    let err = String::from_utf8(out).unwrap();
    for want in [
        "backup.retention.attic: the retention of tier `attic` keeps nothing",
        "backup.hosts.desk01.repositories.b2.url: `ftp://backup.example.net/nas01` is not a repository hearth knows",
        "backup.hosts.desk01.repositories.b2.credentials: no secret `restic-b2-env` on host `desk01`",
        "storage.hosts.nas01: host `nas01` has datasets of tier `attic`, which is backed up, but no backup repository",
        "nothing was written",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    let line = bad.lines().position(|l| l.contains("ftp://")).unwrap() + 1;
    assert!(err.contains(&format!("inventory.toml:{line}:")), "the URL error points at its line {line}:\n{err}");
    assert_eq!(before, repo_files(t.path()), "an invalid inventory must change nothing");
    // `backup list` refuses too.
    hearth(t.path()).args(["backup", "list"]).assert().failure();
}

#[test]
fn backup_list_json_shows_backed_up_tiers_only_and_their_bound() {
    let t = example();
    let out = hearth(t.path()).args(["backup", "list", "--json"]).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let rows = v["backups"].as_array().unwrap();
    let tiers: Vec<&str> = rows.iter().map(|r| r["tier"].as_str().unwrap()).collect();
    assert_eq!(tiers, ["attic", "shelf"]);
    let shelf = &rows[1];
    assert_eq!(shelf["host"], "nas01");
    assert_eq!(shelf["paths"], serde_json::json!(["/share/shelf"]));
    assert_eq!(shelf["max_snapshots"], 25);
    assert_eq!(shelf["url"], "b2:hearth-example-nas01:restic");
    assert!(!String::from_utf8_lossy(&out).contains("garage"));
}

#[test]
fn preview_restic_shows_the_jobs_with_agenix_paths() {
    if which("nix-instantiate").is_none() {
        println!("SKIPPED: nix-instantiate not installed");
        return;
    }
    let t = example();
    let out = hearth(t.path()).args(["preview", "nas01", "restic"]).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["b2-shelf"]["passwordFile"], "/run/agenix/hearth-restic-b2");
    assert_eq!(v["b2-shelf"]["environmentFile"], "/run/agenix/restic-b2-env");
    assert_eq!(v["b2-shelf"]["paths"], serde_json::json!(["/run/hearth-backup/b2-shelf/tank/shelf"]));
    assert_eq!(
        v["b2-shelf-prune"]["pruneOpts"],
        serde_json::json!([
            "--tag hearth-tier-shelf",
            "--group-by host,tags",
            "--keep-daily 7",
            "--keep-weekly 4",
            "--keep-monthly 12",
            "--keep-yearly 2",
            "--repack-cacheable-only"
        ])
    );
    assert_eq!(v["b2-check"]["checkOpts"], serde_json::json!(["--read-data-subset=5%"]));
    assert!(v.get("b2-garage").is_none());
}
