//! The stat cache (secrets::statcache): a file unchanged since it was
//! verified is not read again, and any rewrite of it, in place or by
//! rename, is still noticed by `render --check` and `render`.

use std::path::Path;

use assert_cmd::Command;
use tempfile::TempDir;

mod support;
use support::{copy_dir, repo_root};

fn example() -> TempDir {
    let t = TempDir::new().unwrap();
    std::fs::copy(repo_root().join("inventory.toml"), t.path().join("inventory.toml")).unwrap();
    copy_dir(&repo_root().join("hosts"), &t.path().join("hosts"));
    copy_dir(&repo_root().join("secrets"), &t.path().join("secrets"));
    t
}

fn hearth(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("hearth").unwrap();
    c.current_dir(dir)
        .env_remove("HEARTH_INVENTORY")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("HEARTH_NO_STAT_CACHE")
        .env("HEARTH_IDENTITY", repo_root().join("test-keys/admin-TEST-ONLY.agekey"))
        .env("HOME", dir);
    c
}

/// The entry count in a cache file's header (secrets/statcache.rs: 16 bytes
/// of magic, then a little-endian u32).
fn entry_count(bytes: &[u8]) -> usize {
    assert!(bytes.starts_with(b"hearth-statc-v3\n"), "a cache file of the current format");
    u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize
}

fn cached_entries(home: &Path) -> usize {
    let dir = home.join(".cache/hearth");
    std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok()).map(|e| entry_count(&std::fs::read(e.path()).unwrap())).sum()).unwrap_or(0)
}

#[test]
fn a_rewritten_secret_is_noticed_with_the_cache_warm() {
    let t = example();
    // Files changed in the last two seconds are never cached.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    hearth(t.path()).args(["render", "--check"]).assert().success();
    let n = cached_entries(t.path());
    assert!(n > 5, "the verified files were cached ({n})");
    hearth(t.path()).args(["render", "--check"]).assert().success();

    // In place: same name, other valid age bytes (another secret's).
    let victim = t.path().join("secrets/vps/psk-extgw01.age");
    let other = std::fs::read(t.path().join("secrets/extgw01/wireguard-key.age")).unwrap();
    std::fs::write(&victim, &other).unwrap();
    let out = hearth(t.path()).args(["render", "--check"]).assert().failure().get_output().stdout.clone();
    assert!(String::from_utf8_lossy(&out).contains("secrets/vps/psk-extgw01.age"), "{}", String::from_utf8_lossy(&out));
}

#[test]
fn a_secret_replaced_by_rename_is_noticed_with_the_cache_warm() {
    let t = example();
    std::thread::sleep(std::time::Duration::from_millis(2200));
    hearth(t.path()).args(["render", "--check"]).assert().success();
    assert!(cached_entries(t.path()) > 5);
    // As agenix writes: a new file renamed over the old one.
    let victim = t.path().join("secrets/vps/psk-extgw01.age");
    let tmp = t.path().join("secrets/vps/new.tmp");
    std::fs::copy(t.path().join("secrets/extgw01/wireguard-key.age"), &tmp).unwrap();
    std::fs::rename(&tmp, &victim).unwrap();
    let out = hearth(t.path()).args(["render", "--check"]).assert().failure().get_output().stdout.clone();
    assert!(String::from_utf8_lossy(&out).contains("secrets/vps/psk-extgw01.age"), "{}", String::from_utf8_lossy(&out));
}
