//! Issue 12, "one allow list, enforced twice", on packets: a web service
//! behind auth (`auth = "basic" | "forward"`) is reached only by name
//! through the ingress. The example brought up in namespaces; the allowlist
//! stage opens real connections from each allowed peer to the backend's
//! port (closed, confirmed three times, with a forwarded port as control),
//! and the ingress stage (Caddy on the rendered Caddyfile, the forward-auth
//! stand-in) gives the same peer the service by name. A second lab whose
//! gateway still forwards grafana's port makes the check fail.

mod lab_common;

use hearth::lab::bastion::Check;

/// Brings up the lab of `root`, runs the named stages with `inv` as the
/// inventory they judge by, tears down; the checks of each stage.
fn stages(root: &std::path::Path, inv: &hearth::inventory::Inventory, names: &[&str]) -> Vec<Vec<Check>> {
    hearth::lab::probe::raise_nofile(1 << 20);
    let o = lab_common::run_opts(root, vec![]);
    let (lab, plan, decrypt) = hearth::lab::bring_up(&o).expect("the lab could not be built");
    let prefix = lab.prefix.clone();
    let cx = hearth::area::LabCx { root, inv, lab: &lab, plan: &plan, decrypt: &*decrypt, verbose: true };
    let res: Vec<_> = names.iter().map(|n| hearth::area::find(n).unwrap().lab(&cx).unwrap_or_else(|| panic!("{n}: no stage for this inventory"))).collect();
    let problems = lab.teardown();
    let out: Vec<Vec<Check>> = res.into_iter().map(|r| r.expect("the stage ran")).collect();
    for (n, checks) in names.iter().zip(&out) {
        for c in checks {
            println!("[{n}] {:<80} from {:<8} expected {:<10} seen {} {}", c.name, c.from, c.expected, c.seen, if c.ok { "ok" } else { "FAIL" });
        }
    }
    assert!(problems.is_empty(), "teardown: {problems:?}");
    assert_eq!(lab_common::leftovers(&prefix), Vec::<String>::new());
    out
}

#[test]
fn an_allowed_peer_of_grafana_cannot_open_its_port_but_gets_it_by_name() {
    skip_unless_lab!();
    let Some(dir) = lab_common::ingress_ready() else { return };
    let inv = hearth::inventory::Loaded::read(&dir.path().join("inventory.toml")).unwrap().inv;
    let out = stages(dir.path(), &inv, &["allowlist", "ingress"]);
    let (port, by_name) = (&out[0], &out[1]);
    let failed: Vec<_> = port.iter().chain(by_name).filter(|c| !c.ok).collect();
    assert!(failed.is_empty(), "failed: {failed:#?}");
    let seen = |checks: &[Check], f: &dyn Fn(&Check) -> bool| checks.iter().filter(|c| f(c)).count();
    // phone (mobile) may reach grafana; the laptop (admins) grafana, sonarr,
    // radarr (forward auth) and nzbget (basic auth): each port closed.
    assert_eq!(seen(port, &|c| c.from == "phone" && c.name.starts_with("grafana directly at 10.69.13.11:3000") && c.seen == "closed"), 1);
    for (svc, a) in [("grafana", "10.69.13.11:3000"), ("sonarr", "10.69.13.13:8989"), ("radarr", "10.69.13.14:7878"), ("nzbget", "10.69.13.15:6789")] {
        assert_eq!(seen(port, &|c| c.from == "laptop" && c.name.starts_with(&format!("{svc} directly at {a}")) && c.seen == "closed"), 1, "{svc}");
    }
    // The controls: the ingress's port, open for both.
    assert_eq!(seen(port, &|c| c.name.starts_with("control: ingress at 10.69.13.10:") && c.seen == "open"), 2);
    // Jellyfin (no auth) keeps its direct flow: not in this stage at all.
    assert_eq!(seen(port, &|c| c.name.starts_with("jellyfin")), 0);
    // The same peers get it by name, after the auth (the ingress stage).
    assert_eq!(seen(by_name, &|c| c.from == "phone" && c.name.contains("(forward auth") && c.seen == "200 hearth-lab backend monitoring01:3000 (Remote-User torjus)"), 1);
    assert!(seen(by_name, &|c| c.from == "laptop" && c.name.contains("(forward auth") && c.seen.starts_with("200 hearth-lab backend monitoring01:3000")) >= 1);
}

#[test]
fn a_gateway_that_forwards_a_port_behind_auth_fails_the_check() {
    skip_unless_lab!();
    // The lab of an inventory where grafana has no `auth` (so the gateway
    // forwards its port), judged by the example's, where it has.
    let example = std::fs::read_to_string(lab_common::repo().join("inventory.toml")).unwrap();
    let grafana = "allow = [\"admins\", \"mobile\"]\nweb = true\nauth = \"forward\"\n";
    assert!(example.contains(grafana), "the example puts grafana behind forward auth");
    let dir = lab_common::rendered(None);
    std::fs::write(dir.path().join("inventory.toml"), example.replacen(grafana, "allow = [\"admins\", \"mobile\"]\nweb = true\n", 1)).unwrap();
    lab_common::render(dir.path());
    let gw = std::fs::read_to_string(dir.path().join("hosts/extgw01/hearth.nix")).unwrap();
    assert!(gw.contains("name = \"grafana\";"), "the mutated gateway forwards grafana's port");
    let judge = hearth::inventory::Loaded::parse(&lab_common::repo().join("inventory.toml"), example).unwrap().inv;
    let out = stages(dir.path(), &judge, &["allowlist"]);
    let port = &out[0];
    let grafana_open: Vec<_> = port.iter().filter(|c| c.name.starts_with("grafana directly at 10.69.13.11:3000")).collect();
    assert_eq!(grafana_open.len(), 2, "phone and laptop: {port:#?}");
    assert!(grafana_open.iter().all(|c| !c.ok && c.seen.starts_with("open")), "{grafana_open:#?}");
    // sonarr's port is still closed there: the check tells them apart.
    assert!(port.iter().any(|c| c.name.starts_with("sonarr directly at") && c.ok), "{port:#?}");
}
