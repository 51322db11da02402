//! The storage lab stage alone, on the example inventory: a real zfs-fuse
//! pool (mirror of two file vdevs), the rendered create script, sanoid over
//! 60 simulated days, syncoid full + incremental, a scrub repairing bit-rot.
//! And nothing left behind: no zfs-fuse, no lab directory.

use std::path::Path;

use hearth::area::{storage::Storage, Area, LabCx};
use hearth::inventory::Loaded;
use hearth::lab::exec::Lab;
use hearth::lab::plan::LabPlan;

fn missing() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    let absent: Vec<&str> = ["zfs-fuse", "sanoid", "syncoid", "faketime", "nix-instantiate"].into_iter().filter(|t| hearth::lab::which(t).is_none()).collect();
    (!absent.is_empty()).then(|| format!("missing {}", absent.join(", ")))
}

#[test]
fn storage_stage_on_the_example_passes_and_leaves_nothing() {
    if let Some(why) = missing() {
        println!("SKIPPED: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let loaded = Loaded::read(&root.join("inventory.toml")).unwrap();
    let inv = &loaded.inv;
    let prefix = hearth::lab::exec::new_prefix();
    let lab = Lab::create(&prefix).unwrap();
    let plan = LabPlan {
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
    };
    // The storage stage decrypts nothing: any call fails.
    let decrypt =
        |_: &hearth::lab::plan::Secret| -> Result<zeroize::Zeroizing<String>, hearth::lab::LabError> { Err(hearth::secrets::SecretsError::NoIdentity { tried: vec![] }.into()) };
    let cx = LabCx { root: &root, inv, lab: &lab, plan: &plan, decrypt: &decrypt, verbose: true };
    let t0 = std::time::Instant::now();
    let res = Storage.lab(&cx).expect("the example has storage hosts");
    let secs = t0.elapsed().as_secs_f64();
    let daemons: Vec<u32> = lab.state().processes.iter().map(|p| p.pid).filter(|p| Lab::alive(*p)).collect();
    let problems = lab.teardown();
    let checks = res.unwrap();
    for c in &checks {
        println!("{} {} [{}]: expected {}, saw {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.from, c.expected, c.seen);
    }
    println!("storage stage: {secs:.1} s, {} checks", checks.len());
    assert!(checks.len() >= 15, "too few checks: {}", checks.len());
    assert!(checks.iter().all(|c| c.ok), "a storage check failed");
    assert_eq!(daemons, Vec::<u32>::new(), "zfs-fuse still running after the stage");
    assert!(problems.is_empty(), "{problems:?}");
    assert!(!Path::new("/run/hearth-lab").join(&prefix).exists());
}

/// The helper other stages reuse: a pool in a private zfs-fuse is invisible
/// to the machine, and dropping the helper on an error path (no `stop`)
/// still destroys the pool and stops the daemon.
#[test]
fn zfs_helper_is_private_and_cleans_up_when_dropped() {
    if let Some(why) = missing() {
        println!("SKIPPED: {why}");
        return;
    }
    use hearth::area::storage::lab::Zfs;
    let prefix = hearth::lab::exec::new_prefix();
    let lab = Lab::create(&prefix).unwrap();
    let pool = format!("{prefix}t");
    let pid;
    {
        let mut z = Zfs::start(&lab, "zfs-test").unwrap();
        pid = z.pid();
        z.create_pool(&pool, Some("mirror"), 2, 128).unwrap();
        z.zfs(&["create", "-o", "mountpoint=/data", &format!("{pool}/d")]).unwrap();
        std::fs::write(z.host_path(&z.path("/data")).join("f"), b"hello").unwrap();
        assert!(z.zpool(&["list", "-H", "-o", "name"]).unwrap().contains(&pool));
        // The machine's own namespace sees neither the pool nor the mount.
        let outside = std::process::Command::new("zpool").args(["list", "-H", "-o", "name"]).output().unwrap();
        assert!(!String::from_utf8_lossy(&outside.stdout).contains(&pool));
        assert!(!std::fs::read_to_string("/proc/self/mounts").unwrap().contains(&pool));
        // sanoid and syncoid find a dataset's `zfs send`/`receive` in `ps`:
        // inside, `ps` lists the namespace's own processes only (PID 1, its
        // zfs-fuse, the ps), not this test nor another lab's syncoid.
        let ps = z.cmd("ps").args(["-Ao", "pid=,args="]).output().unwrap();
        let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
        assert!(ps.lines().any(|l| l.trim_start().starts_with("1 ")), "no PID 1 in the namespace's ps:\n{ps}");
        assert!(ps.contains("zfs-fuse"), "{ps}");
        let me = std::env::current_exe().unwrap();
        let me = me.file_name().unwrap().to_string_lossy();
        assert!(!ps.contains(me.as_ref()), "the namespace's ps sees the machine's processes:\n{ps}");
        assert!(ps.lines().count() <= 4, "{ps}");
        // Dropped here without stop(), as on an error path.
    }
    assert!(!Lab::alive(pid), "zfs-fuse {pid} still running");
    assert!(!lab.dir.join("zfs-test").exists(), "vdev files left behind");
    assert!(lab.teardown().is_empty());
}
