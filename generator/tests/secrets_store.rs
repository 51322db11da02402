//! The secrets store: which key decrypts what, status without churn, clear
//! errors on corrupt files and wrong identities, no plaintext on disk.

mod secrets_support;

use hearth::secrets::{SecretBytes, SecretStore, SecretsError, StaleReason, Status, UnknownCause};
use secrets_support::*;

const PLAIN: &[u8] = b"TOTP-SEED-JBSWY3DPEHPK3PXP-plaintext";

#[test]
fn host_key_decrypts_its_own_secrets_and_no_other_hosts() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    for h in HOSTS {
        let value = format!("{h}-wireguard-private-key");
        store.write(&format!("{h}/wireguard-key.age"), &SecretBytes::from_slice(value.as_bytes()), &[admin(), host(h)]).unwrap();
    }
    for h in HOSTS {
        let mine = ids(&host_key(h));
        for other in HOSTS {
            let rel = format!("{other}/wireguard-key.age");
            let got = store.decrypt(&rel, &mine);
            if other == h {
                assert_eq!(got.unwrap().expose(), format!("{h}-wireguard-private-key").as_bytes());
            } else {
                let e = got.unwrap_err();
                assert!(matches!(e, SecretsError::NoMatchingIdentity { .. }), "{h} on {other}: {e}");
                let msg = e.to_string();
                assert!(msg.contains("none of the identities") && msg.contains(&format!("secrets/{rel}")), "{msg}");
                assert!(msg.contains(&host_key(h).display().to_string()), "names the identity file: {msg}");
            }
        }
    }
    // Every admin can read every host's secret.
    let admin_ids = ids(&admin_key());
    for h in HOSTS {
        assert!(store.decrypt(&format!("{h}/wireguard-key.age"), &admin_ids).is_ok());
    }
}

#[test]
fn status_is_current_for_the_same_recipient_set_in_any_order() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    assert_eq!(store.status("vps/k.age", &[admin()]).unwrap(), Status::Missing);
    store.write("vps/k.age", &SecretBytes::from_slice(PLAIN), &[host("vps"), admin(), admin()]).unwrap();
    assert_eq!(store.status("vps/k.age", &[admin(), host("vps")]).unwrap(), Status::Current);
    let with_comment: hearth::secrets::Recipient = format!("{} a comment", host("vps")).parse().unwrap();
    assert_eq!(store.status("vps/k.age", &[with_comment, admin()]).unwrap(), Status::Current);
    // The manifest survives a reopen.
    let store = SecretStore::open(&dir).unwrap();
    assert_eq!(store.status("vps/k.age", &[admin(), host("vps")]).unwrap(), Status::Current);
}

#[test]
fn status_reports_added_and_removed_recipients() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("vps/k.age", &SecretBytes::from_slice(PLAIN), &[admin(), host("vps")]).unwrap();
    assert_eq!(
        store.status("vps/k.age", &[admin2(), host("vps")]).unwrap(),
        Status::Stale { reason: StaleReason::RecipientsChanged { added: vec![admin2()], removed: vec![admin().to_string()] } }
    );
}

#[test]
fn edited_manifest_is_caught_by_the_age_header_check() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("vps/k.age", &SecretBytes::from_slice(PLAIN), &[admin(), host("vps")]).unwrap();
    // Someone claims in recipients.json that extgw01's key is the recipient.
    let m = dir.join("recipients.json");
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, text.replace(&host("vps").to_string(), &host("extgw01").to_string())).unwrap();
    let store = SecretStore::open(&dir).unwrap();
    assert_eq!(store.status("vps/k.age", &[admin(), host("extgw01")]).unwrap(), Status::Stale { reason: StaleReason::UnknownRecipients { cause: UnknownCause::HeaderMismatch } });
    // Same for an extra admin that is not in the header.
    std::fs::write(&m, text.replace(&format!("\"{}\"", admin()), &format!("\"{}\", \"{}\"", admin(), admin2()))).unwrap();
    let store = SecretStore::open(&dir).unwrap();
    assert_eq!(
        store.status("vps/k.age", &[admin(), admin2(), host("vps")]).unwrap(),
        Status::Stale { reason: StaleReason::UnknownRecipients { cause: UnknownCause::HeaderMismatch } }
    );
}

#[test]
fn manifest_holds_the_ciphertext_hash_and_nothing_derived_from_plaintext() {
    use sha2::{Digest, Sha256};
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("vps/k.age", &SecretBytes::from_slice(PLAIN), &[admin(), host("vps")]).unwrap();
    let manifest = std::fs::read_to_string(dir.join("recipients.json")).unwrap();
    let hex = |b: &[u8]| Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>();
    let ct = std::fs::read(dir.join("vps/k.age")).unwrap();
    assert!(manifest.contains(&hex(&ct)), "{manifest}");
    assert!(!manifest.contains(&hex(PLAIN)), "plaintext hash in manifest");
    assert!(!manifest.contains("TOTP-SEED"), "plaintext in manifest");
    let v: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let mut want = vec![admin().to_string(), host("vps").to_string()];
    want.sort();
    assert_eq!(v["files"]["vps/k.age"]["recipients"], serde_json::json!(want));
}

fn corruptions(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut flipped = good.to_vec();
    let n = flipped.len();
    flipped[n - 60] ^= 0x01; // inside the base64 of the payload
    vec![
        ("truncated to half", good[..good.len() / 2].to_vec()),
        ("truncated by one line", {
            let s = std::str::from_utf8(good).unwrap();
            let mut lines: Vec<&str> = s.lines().collect();
            lines.remove(lines.len() - 2);
            (lines.join("\n") + "\n").into_bytes()
        }),
        ("one bit flipped", flipped),
        ("empty", Vec::new()),
        ("not age at all", b"hello, world\n".to_vec()),
    ]
}

#[test]
fn corrupt_or_truncated_file_gives_an_error_naming_it_and_nothing_is_overwritten() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    let rs = [admin(), host("vps")];
    store.write("vps/k.age", &SecretBytes::from_slice(PLAIN), &rs).unwrap();
    let good = std::fs::read(dir.join("vps/k.age")).unwrap();
    let admin_ids = ids(&admin_key());
    for (what, bad) in corruptions(&good) {
        std::fs::write(dir.join("vps/k.age"), &bad).unwrap();
        let before = snapshot(&dir);
        let e = store.decrypt("vps/k.age", &admin_ids).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SecretsError::NotAgeFile { .. }), "{what}: {msg}");
        assert!(msg.starts_with("secrets/vps/k.age is not a valid age file: "), "{what}: {msg}");
        assert!(!msg.contains("TOTP-SEED"), "{what}: plaintext in error: {msg}");
        // A rekey to a new recipient set must fail for it and leave it alone.
        let report = store.rekey(&[("vps/k.age".into(), vec![admin(), admin2(), host("vps")])], &admin_ids, false);
        assert_eq!(report.failed.len(), 1, "{what}");
        assert!(report.rekeyed.is_empty());
        assert_eq!(snapshot(&dir), before, "{what}: something was overwritten");
    }
}

#[test]
fn wrong_or_missing_identity_names_the_file() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("peers/phone/wireguard-key.age", &SecretBytes::from_slice(PLAIN), &[admin()]).unwrap();
    let msg = store.decrypt("peers/phone/wireguard-key.age", &ids(&admin2_key())).unwrap_err().to_string();
    assert!(msg.starts_with("none of the identities in ") && msg.contains("can decrypt secrets/peers/phone/wireguard-key.age"), "{msg}");
    let empty = tempfile::tempdir().unwrap();
    let msg = hearth::secrets::load_identities_with_home(None, Some(empty.path())).unwrap_err().to_string();
    assert!(msg.contains("--identity") && msg.contains("HEARTH_IDENTITY"), "{msg}");
    let msg = store.decrypt("vps/absent.age", &ids(&admin_key())).unwrap_err().to_string();
    assert!(msg.contains("secrets/vps/absent.age"), "{msg}");
}

#[test]
fn ssh_admin_identity_decrypts_like_an_age_one() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("vps/k.age", &SecretBytes::from_slice(PLAIN), &[admin_ssh(), host("vps")]).unwrap();
    assert_eq!(store.decrypt("vps/k.age", &ids(&admin_ssh_key())).unwrap().expose(), PLAIN);
    assert_eq!(store.status("vps/k.age", &[admin_ssh(), host("vps")]).unwrap(), Status::Current);
}

#[test]
fn no_plaintext_reaches_the_disk_on_write_and_rekey() {
    let (t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    for i in 0..20 {
        store.write(&format!("vps/s{i}.age"), &SecretBytes::from_slice(PLAIN), &[admin(), host("vps")]).unwrap();
    }
    let items: Vec<_> = (0..20).map(|i| (format!("vps/s{i}.age"), vec![admin(), admin2()])).collect();
    let report = store.rekey(&items, &ids(&admin_key()), false);
    assert!(report.is_success() && report.rekeyed.len() == 20, "{report:?}");
    assert_nowhere(t.path(), b"TOTP-SEED");
}

#[test]
fn scan_lists_age_files_and_remove_forgets_them() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("vps/a.age", &SecretBytes::from_slice(PLAIN), &[admin()]).unwrap();
    store.write("peers/phone/b.age", &SecretBytes::from_slice(PLAIN), &[admin()]).unwrap();
    assert_eq!(store.scan().unwrap(), vec!["peers/phone/b.age".to_string(), "vps/a.age".to_string()]);
    assert!(store.remove("vps/a.age").unwrap());
    assert_eq!(store.entries().map(|(k, _)| k.to_string()).collect::<Vec<_>>(), vec!["peers/phone/b.age"]);
    assert_eq!(store.scan().unwrap(), vec!["peers/phone/b.age".to_string()]);
}

#[test]
fn invalid_secret_paths_are_refused() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    for bad in ["../escape.age", "/abs.age", "vps/x.txt", "vps/.hidden.age"] {
        let e = store.write(bad, &SecretBytes::from_slice(PLAIN), &[admin()]).unwrap_err();
        assert!(matches!(e, SecretsError::InvalidPath { .. }), "{bad}: {e}");
    }
    let e = store.write("vps/x.age", &SecretBytes::from_slice(PLAIN), &[]).unwrap_err();
    assert!(matches!(e, SecretsError::NoRecipients { .. }), "{e}");
    assert!(!dir.join("vps/x.age").exists());
}

#[test]
fn write_many_writes_every_file_current_and_refuses_duplicates() {
    let (t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    let mut items: Vec<(String, SecretBytes, Vec<hearth::secrets::Recipient>)> =
        HOSTS.iter().map(|h| (format!("{h}/wireguard-key.age"), SecretBytes::new(format!("{h}-TOTP-SEED").into_bytes()), vec![admin(), host(h)])).collect();
    items.push(("vps/wireguard-key.age".into(), SecretBytes::from_slice(b"dup"), vec![admin()]));
    let report = store.write_many(&items);
    assert_eq!(report.written.len(), HOSTS.len(), "{report:?}");
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].1.to_string().contains("listed twice"));
    let store = SecretStore::open(&dir).unwrap();
    for h in HOSTS {
        let rel = format!("{h}/wireguard-key.age");
        assert_eq!(store.status(&rel, &[admin(), host(h)]).unwrap(), Status::Current);
        assert_eq!(store.decrypt(&rel, &ids(&host_key(h))).unwrap().expose(), format!("{h}-TOTP-SEED").as_bytes());
    }
    assert_nowhere(t.path(), b"TOTP-SEED");
}

#[test]
fn status_serializes_for_json_listings() {
    let st = Status::Stale { reason: StaleReason::RecipientsChanged { added: vec![admin2()], removed: vec![admin().to_string()] } };
    assert_eq!(
        serde_json::to_value(&st).unwrap(),
        serde_json::json!({
            "status": "stale",
            "reason": { "kind": "recipients-changed", "added": [admin2().to_string()], "removed": [admin().to_string()] }
        })
    );
    assert_eq!(serde_json::to_value(Status::Current).unwrap(), serde_json::json!({ "status": "current" }));
}

/// The writer's marks at the top of the store (`.writer.hearth-tmp.<pid>.<n>`).
fn marks(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with(".writer.hearth-tmp.")).collect()
}

#[test]
fn a_writers_mark_lasts_only_while_it_writes_unless_a_temp_may_be_left() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    let items: Vec<_> = HOSTS.iter().map(|h| (format!("{h}/k.age"), SecretBytes::from_slice(PLAIN), vec![admin(), host(h)])).collect();
    assert!(store.write_many(&items).is_success());
    store.write("vps/one.age", &SecretBytes::from_slice(PLAIN), &[admin()]).unwrap();
    let report = store.rekey(&[("vps/k.age".to_string(), vec![admin()])], &ids(&admin_key()), false);
    assert_eq!(report.rekeyed, ["vps/k.age"]);
    assert_eq!(marks(&dir), Vec::<String>::new(), "every write is over: no mark");
    // A directory where no temp file can be made (immutable): the write fails
    // and the mark stays, so that a sweep after this process looks below.
    let sub = dir.join(HOSTS[0]);
    if !std::process::Command::new("chattr").arg("+i").arg(&sub).status().is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: chattr +i not supported here; the failing write is not exercised");
        return;
    }
    let report = store.write_many(&[(format!("{}/new.age", HOSTS[0]), SecretBytes::from_slice(PLAIN), vec![admin()])]);
    let _ = std::process::Command::new("chattr").arg("-i").arg(&sub).status();
    assert!(!report.is_success());
    let left = marks(&dir);
    assert!(left.len() == 1 && left[0].starts_with(&format!(".writer.hearth-tmp.{}.", std::process::id())), "{left:?}");
}
