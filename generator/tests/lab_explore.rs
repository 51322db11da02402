//! `hearth lab up` is explorable (issue 18): the bastion's sshd runs, `wg`
//! in a node's namespace sees only that node's interface, ping is there, and
//! `lab list` names the lab.

mod lab_common;

use std::path::Path;

fn hearth_out(root: &Path, args: &[&str]) -> (bool, String) {
    let out = assert_cmd::Command::cargo_bin("hearth")
        .unwrap()
        .arg("--inventory")
        .arg(root.join("inventory.toml"))
        .arg("--identity")
        .arg(lab_common::identity())
        .args(args)
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Takes the lab down however the test ends.
struct Down<'a>(&'a Path, String);
impl Drop for Down<'_> {
    fn drop(&mut self) {
        let (ok, out) = hearth_out(self.0, &["lab", "down", &self.1]);
        assert!(ok || std::thread::panicking(), "lab down: {out}");
    }
}

#[test]
fn lab_up_runs_the_bastion_and_scopes_wg_to_the_node() {
    skip_unless_lab!();
    let dir = lab_common::rendered(None);
    let root = dir.path();
    let (ok, out) = hearth_out(root, &["lab", "up"]);
    assert!(ok, "{out}");
    let prefix = out.lines().next().and_then(|l| l.strip_prefix("lab ")).and_then(|l| l.split_whitespace().next()).expect("lab PREFIX is up").to_string();
    let _down = Down(root, prefix.clone());
    assert!(out.contains("bastion extgw01: sshd listens on 10.69.13.20:22"), "{out}");
    let exec = |node: &str, cmd: &[&str]| {
        let mut a = vec!["lab", "exec", "--lab", &prefix, node, "--"];
        a.extend_from_slice(cmd);
        hearth_out(root, &a)
    };
    // `lab list` names it.
    let (ok, list) = hearth_out(root, &["lab", "list"]);
    assert!(ok && list.contains(&prefix), "{list}");
    // wg in the phone's namespace: the phone's interface, nobody else's.
    let (ok, ifaces) = exec("phone", &["wg", "show", "interfaces"]);
    assert!(ok, "{ifaces}");
    assert_eq!(ifaces.split_whitespace().count(), 1, "one interface in the phone's view: {ifaces}");
    let (ok, gw) = exec("extgw01", &["wg", "show", "interfaces"]);
    assert!(ok && gw.split_whitespace().collect::<Vec<_>>() == ["hearth0"], "{gw}");
    // sshd answers on the bastion from a VPN client (confirmed: 3 tries).
    let banner = (0..3).map(|_| exec("laptop", &["bash", "-c", "exec 3<>/dev/tcp/10.69.13.20/22 && head -c 8 <&3"])).find(|(ok, o)| *ok && o.starts_with("SSH-2.0"));
    assert!(banner.is_some(), "no SSH banner from the lab bastion");
    // ping is installed and reaches the hub over the tunnel (3 tries).
    let ping = (0..3).map(|_| exec("laptop", &["ping", "-c", "1", "-W", "3", "10.69.222.4"])).find(|(ok, _)| *ok);
    assert!(ping.is_some(), "ping from the laptop to the hub failed 3 times");
}
