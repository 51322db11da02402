//! The lab can fail: the gateway's generated allowlist edited behind
//! hearth's back (one rule removed, one rule widened) must make `hearth lab
//! run` exit non-zero and name both the missing and the unexpected flows.

mod lab_common;

/// Removes the `{ ... }` block of rule `name` from a generated hearth.nix.
fn remove_rule(text: &str, name: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.trim() == format!("name = \"{name}\";")).expect("rule present");
    let start = at - 1;
    assert_eq!(lines[start].trim(), "{");
    let end = at + lines[at..].iter().position(|l| l.trim() == "}").unwrap();
    let mut out: Vec<&str> = lines[..start].to_vec();
    out.extend(&lines[end + 1..]);
    out.join("\n") + "\n"
}

#[test]
fn allowlist_edited_behind_hearths_back_fails_the_lab() {
    skip_unless_lab!();
    let dir = lab_common::rendered(None);
    let gw = dir.path().join("hosts/extgw01/hearth.nix");
    let text = std::fs::read_to_string(&gw).unwrap();
    // Jellyfin's rule removed: the policy says open, the data plane says closed.
    let mut broken = remove_rule(&text, "jellyfin");
    // The PiKVM's web port widened to the phone's group: the data plane opens
    // what the policy denies. (Not a web service behind auth: those have no
    // rule on the gateway at all.)
    let kvm = broken.find("name = \"kvm-web\";").unwrap();
    let from = kvm + broken[kvm..].find("from = [ \"admins\" ];").unwrap();
    broken.replace_range(from..from + "from = [ \"admins\" ];".len(), "from = [ \"admins\" \"mobile\" ];");
    assert_ne!(broken, text);
    std::fs::write(&gw, broken).unwrap();

    let (code, report) = lab_common::lab_run_json(dir.path(), &[]);
    let p = lab_common::problems(&report);
    assert_eq!(code, 1, "{p}");
    assert_eq!(report["ok"], false);
    assert!(p.contains("laptop -> jelly01: allowed but closed: tcp 8096"), "{p}");
    assert!(p.contains("phone -> jelly01: allowed but closed: tcp 8096"), "{p}");
    // The ACL tests notice it too, on their own probes.
    assert!(p.contains("phone -> jellyfin (10.69.13.12:8096/tcp) should be accepted, but it is closed"), "{p}");
    // The PiKVM is no lab host of the port matrix; its ACL test probes it.
    assert!(p.contains("phone -> kvm-web (10.69.13.30:443/tcp) should be denied, but it is open"), "{p}");
    // Everything else still matched.
    assert_eq!(p.lines().count(), 5, "{p}");
    assert_eq!(lab_common::leftovers(report["lab"].as_str().unwrap()), Vec::<String>::new(), "a failing run leaves nothing behind");
}
