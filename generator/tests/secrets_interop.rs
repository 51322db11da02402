//! Interop with the real `age` CLI and with Nix: hearth's files are plain age
//! files, and its secrets.nix is what agenix/ragenix read.

mod secrets_support;

use hearth::secrets::{agenix_rules, SecretBytes, SecretStore, StaleReason, Status, UnknownCause};
use secrets_support::*;

const PLAIN: &[u8] = b"wg-private-key-plaintext-0123456789\n";

#[test]
fn age_cli_decrypts_hearth_files_with_admin_identity_and_host_key() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    store.write("vps/wireguard-key.age", &SecretBytes::from_slice(PLAIN), &[admin(), host("vps")]).unwrap();
    let file = dir.join("vps/wireguard-key.age");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"), "armored: {text}");

    for key in [admin_key(), host_key("vps")] {
        let out = age_cli(&["-d", "-i", key.to_str().unwrap(), file.to_str().unwrap()], b"");
        assert!(out.status.success(), "age -d -i {}: {}", key.display(), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, PLAIN);
    }
    // And a key it was not encrypted to cannot.
    let out = age_cli(&["-d", "-i", host_key("extgw01").to_str().unwrap(), file.to_str().unwrap()], b"");
    assert!(!out.status.success());
}

#[test]
fn hearth_decrypts_files_written_by_age_cli_armored_and_binary() {
    let (_t, dir) = scratch();
    std::fs::create_dir_all(dir.join("vps")).unwrap();
    let host_pub = keys().join("hosts/vps_ed25519_TEST_ONLY.pub");
    for (name, armor) in [("vps/armored.age", true), ("vps/binary.age", false)] {
        let out_path = dir.join(name);
        let admin_s = admin().to_string();
        let mut args = vec!["-e", "-r", &admin_s, "-R", host_pub.to_str().unwrap(), "-o", out_path.to_str().unwrap()];
        if armor {
            args.insert(1, "-a");
        }
        let out = age_cli(&args, PLAIN);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let store = SecretStore::open(&dir).unwrap();
    for name in ["vps/armored.age", "vps/binary.age"] {
        for key in [admin_key(), host_key("vps")] {
            let got = store.decrypt(name, &ids(&key)).unwrap();
            assert_eq!(got.expose(), PLAIN, "{name} with {}", key.display());
        }
        // Not written by hearth: recipients unknown until rekeyed.
        assert_eq!(store.status(name, &[admin(), host("vps")]).unwrap(), Status::Stale { reason: StaleReason::UnknownRecipients { cause: UnknownCause::NotInManifest } });
    }
}

#[test]
fn file_rewritten_by_another_tool_counts_as_unknown_recipients() {
    let (_t, dir) = scratch();
    let mut store = SecretStore::open(&dir).unwrap();
    let rs = [admin(), host("vps")];
    store.write("vps/k.age", &SecretBytes::from_slice(PLAIN), &rs).unwrap();
    assert_eq!(store.status("vps/k.age", &rs).unwrap(), Status::Current);
    // What `agenix -e` / `ragenix --rekey` do: re-encrypt the same plaintext in place.
    let file = dir.join("vps/k.age");
    let admin_s = admin().to_string();
    let out = age_cli(&["-e", "-a", "-r", &admin_s, "-o", file.to_str().unwrap()], PLAIN);
    assert!(out.status.success());
    assert_eq!(store.status("vps/k.age", &rs).unwrap(), Status::Stale { reason: StaleReason::UnknownRecipients { cause: UnknownCause::CiphertextChanged } });
}

#[test]
fn agenix_rules_evaluate_in_nix_to_the_same_strings() {
    let Ok(out) = std::process::Command::new("nix-instantiate").arg("--version").output() else {
        panic!("nix-instantiate is needed: apt-get install nix-bin");
    };
    assert!(out.status.success());
    let tricky = "weird/a\"b\\c${builtins.abort \"x\"}.age";
    let rs = [host("vps"), admin()];
    let text = agenix_rules([("vps/wireguard-key.age", &rs[..]), (tricky, &rs[..1])], &[]);
    let (_t, dir) = scratch();
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("secrets.nix");
    std::fs::write(&f, &text).unwrap();
    let out = std::process::Command::new("nix-instantiate").args(["--eval", "--strict", "--json"]).arg(&f).output().unwrap();
    assert!(out.status.success(), "{}\n{text}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut sorted = vec![admin().to_string(), host("vps").to_string()];
    sorted.sort();
    assert_eq!(
        v,
        serde_json::json!({
            "vps/wireguard-key.age": { "publicKeys": sorted, "armor": true },
            tricky: { "publicKeys": [host("vps").to_string()], "armor": true },
        })
    );
}
