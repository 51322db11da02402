//! The ingress on real programs, without the full port scan: the example
//! brought up in namespaces, then only the ingress's lab stage (pebble +
//! pebble-challtestsrv as CA and DNS, lego DNS-01, caddy with the rendered
//! JSON config, curl by name from every client through the tunnel; the
//! gateway's unbound asked by every client with dig). Every
//! check must pass and nothing may be left behind.

mod lab_common;

#[test]
fn web_services_by_name_with_the_allow_lists_and_acme_certificates() {
    skip_unless_lab!();
    let Some(dir) = lab_common::ingress_ready() else { return };
    hearth::lab::probe::raise_nofile(1 << 20);
    let opts = lab_common::run_opts(dir.path(), vec![]);
    let (lab, plan, decrypt) = hearth::lab::bring_up(&opts).expect("the lab could not be built");
    let prefix = lab.prefix.clone();
    let inv = hearth::inventory::Loaded::read(&opts.inventory).unwrap().inv;
    let cx = hearth::area::LabCx { root: dir.path(), inv: &inv, lab: &lab, plan: &plan, decrypt: &*decrypt, verbose: true };
    let res = hearth::area::find("ingress").unwrap().lab(&cx).expect("the example has web services");
    let problems = lab.teardown();
    let checks = res.expect("the ingress stage ran");
    for c in &checks {
        println!("{:<70} from {:<12} expected {:<40} seen {} {}", c.name, c.from, c.expected, c.seen, if c.ok { "ok" } else { "FAIL" });
    }
    assert!(problems.is_empty(), "teardown: {problems:?}");
    assert_eq!(lab_common::leftovers(&prefix), Vec::<String>::new());
    let failed: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
    assert!(failed.is_empty(), "failed: {failed:#?}");
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    let seen = |f: &dyn Fn(&hearth::lab::bastion::Check) -> bool| checks.iter().filter(|c| f(c)).count();
    // Both wildcards issued, each client got answers, a 403 and a 401.
    assert_eq!(seen(&|c| c.name.starts_with("lego DNS-01 issues")), 2, "{names:?}");
    assert!(seen(&|c| c.from == "phone" && c.seen == "403") >= 3, "phone is refused sonarr, radarr, nzbget by name");
    assert!(seen(&|c| c.from == "phone" && c.seen.starts_with("200 hearth-lab backend")) >= 2, "phone gets grafana and jellyfin");
    assert!(seen(&|c| c.from == "laptop" && c.seen == "401") >= 1, "nzbget asks for a password");
    assert!(seen(&|c| c.from == "laptop" && c.seen.starts_with("200 hearth-lab backend nzbget-jail")) >= 1, "with the password it answers");
    assert!(seen(&|c| c.name.contains("from the LAN") && c.seen.starts_with("200")) >= 1);
    // Forward auth (grafana, sonarr, radarr ask the Authelia stand-in on
    // nas01): without a session a 302 to the portal, with it the backend
    // and the session's Remote-User; phone is refused sonarr and radarr
    // even with the session (the allow list comes first).
    let fwd = |c: &hearth::lab::bastion::Check| c.name.contains("(forward auth");
    assert_eq!(seen(&|c| fwd(c) && c.from == "laptop" && c.name.contains("without a session") && c.seen.starts_with("302 https://auth.home.2rjus.net/?rd=")), 3, "{names:?}");
    assert_eq!(seen(&|c| fwd(c) && c.from == "laptop" && c.name.contains("with the session") && c.seen.ends_with("(Remote-User torjus)")), 4, "{names:?}");
    assert_eq!(seen(&|c| fwd(c) && c.from == "phone" && c.name.contains("with the session") && c.seen == "403"), 2, "{names:?}");
    assert_eq!(seen(&|c| fwd(c) && c.from == "phone" && c.seen == "200 hearth-lab backend monitoring01:3000 (Remote-User torjus)"), 1, "{names:?}");
    assert_eq!(seen(&|c| c.name.contains("from the LAN without a session") && c.seen.starts_with("302 https://auth.lan.home.2rjus.net/")), 1, "{names:?}");
    // The gateway's resolver (`[ingress] resolver = "gateway"` in the example):
    // both clients resolve a name of each name space to the ingress, the LAN
    // is refused, and without the rendered input rule nothing gets through.
    for client in ["laptop", "phone"] {
        assert_eq!(seen(&|c| c.from == client && c.name.starts_with("dig @") && c.seen == "NOERROR 10.69.13.10"), 2, "{client}: {names:?}");
    }
    assert_eq!(seen(&|c| c.name.contains("(access-control)") && c.seen == "REFUSED (no A record)"), 1, "{names:?}");
    assert_eq!(seen(&|c| c.name.starts_with("dig @") && c.seen == "no A record"), 2, "{names:?}");
    assert_eq!(seen(&|c| c.name.ends_with("without the input rule") && c.seen.starts_with("TIMEOUT")), 1, "{names:?}");
    // The names-only variant (no network.resolvers): NXDOMAIN inside a name space, REFUSED outside.
    assert_eq!(seen(&|c| c.name.ends_with("(names only)") && c.ok), 3, "{names:?}");
    assert!(seen(&|c| c.name.ends_with("(names only)") && c.seen == "REFUSED (no A record)") == 1);
}
