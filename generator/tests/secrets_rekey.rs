//! Rekey: revocation proven with the removed key, no churn, and a failure half
//! way that leaves every file either old or new.

mod secrets_support;

use hearth::secrets::{Recipient, SecretBytes, SecretStore, SecretsError, Status};
use secrets_support::*;

fn value(i: usize) -> Vec<u8> {
    format!("secret-value-{i}").into_bytes()
}

/// `n` secrets for vps, each encrypted to `rs`.
fn populate(store: &mut SecretStore, n: usize, rs: &[Recipient]) -> Vec<String> {
    (0..n)
        .map(|i| {
            let rel = format!("vps/s{i}.age");
            store.write(&rel, &SecretBytes::new(value(i)), rs).unwrap();
            rel
        })
        .collect()
}

#[test]
fn revoked_admin_can_decrypt_no_file_after_rekey() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    let rels = populate(&mut store, 12, &[admin(), admin2(), host("vps")]);
    let revoked = ids(&admin2_key());
    assert!(store.decrypt(&rels[0], &revoked).is_ok(), "precondition: admin2 can read before");

    let items: Vec<_> = rels.iter().map(|r| (r.clone(), vec![admin(), host("vps")])).collect();
    let report = store.rekey(&items, &ids(&admin_key()), false);
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.rekeyed, rels);

    for rel in store.scan().unwrap() {
        let e = store.decrypt(&rel, &revoked).unwrap_err();
        assert!(matches!(e, SecretsError::NoMatchingIdentity { .. }), "{rel}: {e}");
        // And the real age CLI agrees.
        let out = age_cli(&["-d", "-i", admin2_key().to_str().unwrap(), dir.join(&rel).to_str().unwrap()], b"");
        assert!(!out.status.success(), "age -d with the revoked key decrypted {rel}");
    }
    // The remaining keys still can.
    for (i, rel) in rels.iter().enumerate() {
        assert_eq!(store.decrypt(rel, &ids(&host_key("vps"))).unwrap().expose(), value(i));
        assert_eq!(store.status(rel, &[admin(), host("vps")]).unwrap(), Status::Current);
    }
}

#[test]
fn revoked_host_key_can_decrypt_no_file_after_rekey() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    // A preshared key shared by two hosts; extgw01 is decommissioned.
    store.write("vps/psk-extgw01.age", &SecretBytes::from_slice(b"psk"), &[admin(), host("vps"), host("extgw01")]).unwrap();
    assert!(store.decrypt("vps/psk-extgw01.age", &ids(&host_key("extgw01"))).is_ok());
    let report = store.rekey(&[("vps/psk-extgw01.age".into(), vec![admin(), host("vps")])], &ids(&host_key("vps")), false);
    assert_eq!(report.rekeyed, ["vps/psk-extgw01.age"], "{report:?}");
    let e = store.decrypt("vps/psk-extgw01.age", &ids(&host_key("extgw01"))).unwrap_err();
    assert!(matches!(e, SecretsError::NoMatchingIdentity { .. }), "{e}");
    let out = age_cli(&["-d", "-i", host_key("extgw01").to_str().unwrap(), dir.join("vps/psk-extgw01.age").to_str().unwrap()], b"");
    assert!(!out.status.success());
}

#[test]
fn rekey_of_current_items_leaves_every_byte_and_mtime_alone() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    let rs = vec![admin(), host("vps")];
    let rels = populate(&mut store, 10, &rs);
    let before = snapshot(&dir);
    let mtimes: Vec<_> = rels.iter().map(|r| std::fs::metadata(dir.join(r)).unwrap().modified().unwrap()).collect();
    // Same set, other order, duplicated: still current.
    let items: Vec<_> = rels.iter().map(|r| (r.clone(), vec![host("vps"), admin(), admin()])).collect();
    let report = store.rekey(&items, &ids(&admin_key()), false);
    assert!(report.is_success() && report.rekeyed.is_empty(), "{report:?}");
    assert_eq!(report.unchanged, rels);
    assert_eq!(snapshot(&dir), before);
    let after: Vec<_> = rels.iter().map(|r| std::fs::metadata(dir.join(r)).unwrap().modified().unwrap()).collect();
    assert_eq!(after, mtimes);
}

#[test]
fn rekey_failure_half_way_rekeys_the_others_and_keeps_the_bad_one() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    let rels = populate(&mut store, 6, &[admin(), host("vps")]);
    // s2: written by another tool for a key we do not hold; s4: truncated.
    let admin2_s = admin2().to_string();
    let s2 = dir.join(&rels[2]);
    let out = age_cli(&["-e", "-a", "-r", &admin2_s, "-o", s2.to_str().unwrap()], b"not ours");
    assert!(out.status.success());
    let s4 = dir.join(&rels[4]);
    let good = std::fs::read(&s4).unwrap();
    std::fs::write(&s4, &good[..good.len() - 100]).unwrap();
    let bad_before = [std::fs::read(&s2).unwrap(), std::fs::read(&s4).unwrap()];

    let items: Vec<_> = rels.iter().map(|r| (r.clone(), vec![admin(), admin_ssh(), host("vps")])).collect();
    let report = store.rekey(&items, &ids(&admin_key()), false);

    assert!(!report.is_success());
    assert_eq!(report.rekeyed, [rels[0].clone(), rels[1].clone(), rels[3].clone(), rels[5].clone()]);
    let failed: Vec<&str> = report.failed.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(failed, [rels[2].as_str(), rels[4].as_str()]);
    let msgs: Vec<String> = report.failed.iter().map(|(_, e)| e.to_string()).collect();
    assert!(msgs[0].contains("none of the identities") && msgs[0].contains("secrets/vps/s2.age"), "{}", msgs[0]);
    assert!(msgs[1].contains("secrets/vps/s4.age is not a valid age file"), "{}", msgs[1]);
    // The bad ones are untouched, the others are new and readable by the new recipient.
    assert_eq!([std::fs::read(&s2).unwrap(), std::fs::read(&s4).unwrap()], bad_before);
    for i in [0, 1, 3, 5] {
        assert_eq!(store.decrypt(&rels[i], &ids(&admin_ssh_key())).unwrap().expose(), value(i));
    }
    // No temp files left behind.
    let leftovers: Vec<_> = snapshot(&dir).into_iter().filter(|(p, _)| p.to_string_lossy().contains("hearth-tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The manifest was saved for the rekeyed ones: they are current after a reopen.
    let store = SecretStore::open(&dir).unwrap();
    assert_eq!(store.status(&rels[0], &[admin(), admin_ssh(), host("vps")]).unwrap(), Status::Current);
}

#[test]
fn rekey_repairs_a_file_rewritten_by_another_tool() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    let rs = vec![admin(), host("vps")];
    store.write("vps/k.age", &SecretBytes::from_slice(b"v"), &rs).unwrap();
    let admin_s = admin().to_string();
    let f = dir.join("vps/k.age");
    assert!(age_cli(&["-e", "-r", &admin_s, "-o", f.to_str().unwrap()], b"v").status.success());
    let report = store.rekey(&[("vps/k.age".into(), rs.clone())], &ids(&admin_key()), false);
    assert_eq!(report.rekeyed, ["vps/k.age"]);
    assert_eq!(store.status("vps/k.age", &rs).unwrap(), Status::Current);
    assert_eq!(store.decrypt("vps/k.age", &ids(&host_key("vps"))).unwrap().expose(), b"v");
}

#[test]
fn rekey_reports_missing_files_and_does_not_create_them() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("vps/a.age", &SecretBytes::from_slice(b"a"), &[admin()]).unwrap();
    let items = vec![("vps/a.age".to_string(), vec![admin(), admin2()]), ("vps/none.age".to_string(), vec![admin()])];
    let report = store.rekey(&items, &ids(&admin_key()), false);
    assert_eq!(report.missing, ["vps/none.age"]);
    assert_eq!(report.rekeyed, ["vps/a.age"]);
    assert!(!dir.join("vps/none.age").exists());
}

#[test]
fn rekey_refuses_an_item_listed_twice() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("vps/a.age", &SecretBytes::from_slice(b"a"), &[admin()]).unwrap();
    let items = vec![("vps/a.age".to_string(), vec![admin(), admin2()]), ("vps/a.age".to_string(), vec![admin()])];
    let report = store.rekey(&items, &ids(&admin_key()), false);
    assert_eq!(report.rekeyed, ["vps/a.age"]);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].1.to_string().contains("listed twice"));
}
