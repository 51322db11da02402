//! Building the lab plan from the example repository (no root needed, only
//! nix-instantiate): the topology, the renderers' output with public
//! endpoints mapped into the lab, and the expectations from the policy.

mod lab_common;

use hearth::lab::build::{build, BuildOpts};
use hearth::lab::plan::{Flow, NodeKind, Proto, WgSource};

fn plan() -> Option<hearth::lab::plan::LabPlan> {
    if std::process::Command::new("nix-instantiate").arg("--version").output().is_err() {
        println!("SKIPPED: nix-instantiate is missing (apt-get install nix-bin)");
        return None;
    }
    let ids = hearth::secrets::load_identities(Some(&lab_common::identity())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inv = lab_common::repo().join("inventory.toml");
    let p = build(&BuildOpts { inventory: &inv, identities: &ids, prefix: "hltest", dir: dir.path() }, vec![]).unwrap();
    Some(p)
}

#[test]
fn example_plan_has_one_namespace_per_host_and_client() {
    let Some(p) = plan() else { return };
    let kinds = |k: NodeKind| p.nodes.iter().filter(|n| n.kind == k).map(|n| n.name.clone()).collect::<Vec<_>>();
    assert_eq!(kinds(NodeKind::Hub), ["vps"]);
    assert_eq!(kinds(NodeKind::Gateway), ["extgw01"]);
    assert_eq!(kinds(NodeKind::Client), ["laptop", "phone"]);
    assert_eq!(kinds(NodeKind::NatRouter), ["home-router"]);
    assert_eq!(kinds(NodeKind::LanHost).len(), 9, "nine LAN hosts with an address (nas01 included)");
    // The PiKVM and the KVM switch (LAN devices, not hosts): a node at each
    // address, running what stands in for the device.
    assert_eq!(kinds(NodeKind::Device), ["kvm.pikvm", "kvm.switch"]);
    let sw = p.nodes.iter().find(|n| n.name == "kvm.switch").unwrap();
    assert_eq!(sw.lan_address, Some("10.69.13.31".parse().unwrap()));
    assert_eq!(sw.daemon, ["kvm", "simulate", "--listen", "10.69.13.31:5000", "--ports", "8", "--active", "1"]);
    let pk = p.nodes.iter().find(|n| n.name == "kvm.pikvm").unwrap();
    assert_eq!((pk.lan_address, pk.daemon.join(" ")), (Some("10.69.13.30".parse().unwrap()), "lab responder --port 443".to_string()));
    assert!(p.targets.iter().all(|t| t.name != "kvm.switch"), "the matrix does not probe a device");
    // Interface names inside namespaces stay short.
    assert!(p.links.iter().all(|l| l.a_port.ifname.len() <= 15 && l.b_port.ifname.len() <= 15));
}

#[test]
fn public_endpoints_point_into_the_lab_and_keys_stay_out_of_the_plan_text() {
    let Some(p) = plan() else { return };
    let gw = p.nodes.iter().find(|n| n.name == "extgw01").unwrap();
    let wg = gw.wg.as_ref().unwrap();
    assert_eq!(wg.name, "hearth0", "the rulesets match on the configured name");
    let WgSource::Setconf { text, psks, .. } = &wg.source else { panic!("a host uses setconf") };
    assert!(text.contains("Endpoint = 198.18.0.1:51821"), "{text}");
    assert!(!text.contains("t-juice.club"), "{text}");
    assert!(!text.contains("PrivateKey") && !text.contains("PresharedKey"));
    assert_eq!(psks.len(), 1);
    // The gateway loads the renderers' tables.
    let labels: Vec<&str> = gw.nft.iter().map(|(l, _)| l.as_str()).collect();
    assert!(labels.iter().any(|l| l.contains("allowlistRuleset")) && labels.iter().any(|l| l.contains("natTable")), "{labels:?}");
    // Clients get the generator's wg-quick config, endpoint mapped too.
    let phone = p.nodes.iter().find(|n| n.name == "phone").unwrap().wg.as_ref().unwrap();
    let WgSource::WgQuick { config } = &phone.source else { panic!("clients use wg-quick configs") };
    assert!(config.contains("Endpoint = 198.18.0.1:51821"));
}

#[test]
fn expectations_come_from_the_policy_resolver() {
    let Some(p) = plan() else { return };
    let phone = p.clients.iter().find(|c| c.name == "phone").unwrap();
    let f = |a: &str, proto, port| Flow { addr: a.parse().unwrap(), proto, port };
    let expect: std::collections::BTreeSet<Flow> = [
        f("10.69.13.5", Proto::Tcp, 53),
        f("10.69.13.5", Proto::Udp, 53),
        f("10.69.13.6", Proto::Tcp, 53),
        f("10.69.13.6", Proto::Udp, 53),
        // The ingress (http-proxy): phone may reach a web service, so its ports.
        f("10.69.13.10", Proto::Tcp, 80),
        f("10.69.13.10", Proto::Tcp, 443),
        // Jellyfin has no `auth`: its direct flow stays. Grafana (forward
        // auth) is in phone's allow list but reached by name only: its port
        // 3000 must be found closed.
        f("10.69.13.12", Proto::Tcp, 8096),
        // The forward-auth portal (Authelia on nas01), a web service of its own.
        f("10.69.13.40", Proto::Tcp, 9091),
    ]
    .into();
    assert_eq!(phone.allowed, expect);
    let laptop = p.clients.iter().find(|c| c.name == "laptop").unwrap();
    // The admins' sonarr, radarr (forward auth) and nzbget (basic auth) are
    // by name only too: the laptop's direct flows are the phone's.
    assert_eq!(laptop.allowed, expect);
    assert_eq!(p.udp_ports, [53].into());
    assert_eq!(p.acl_checks.len(), 29, "17 before, the kvm tests (phone denied kvm-web and kvm-switch, the laptop accepted) and the ingress tests (phone 80+443, admins 80+443 and http-proxy:443, the LAN-side checks)");
    // Every probe of a port behind auth expects it closed, accept or deny:
    // `accept = ["grafana"]` names a service whose allow list the ingress
    // enforces (the ingress stage proves it); its port is a DENIED probe.
    let behind_auth = ["10.69.13.11", "10.69.13.13", "10.69.13.14", "10.69.13.15"].map(|a| a.parse::<std::net::Ipv4Addr>().unwrap());
    let probes: Vec<_> = p.acl_checks.iter().filter(|a| behind_auth.contains(&a.flow.addr) && [3000, 8989, 7878, 6789].contains(&a.flow.port)).collect();
    assert_eq!(probes.len(), 4 + 4, "phone: grafana accepted, sonarr radarr nzbget denied; laptop: all four accepted: {probes:#?}");
    assert!(probes.iter().all(|a| !a.accept), "{probes:#?}");
    assert!(probes.iter().any(|a| a.client == "phone" && a.target == "grafana (by name only: its port)"), "{probes:#?}");
    assert!(p.acl_checks.iter().any(|a| a.client == "phone" && a.target == "jellyfin" && a.accept), "a service without auth is still an open probe");
    assert_eq!(p.probe_count(), 9 * (65535 + 1));
}

#[test]
fn bastion_is_rendered_for_lab_users_with_debian_pam_paths() {
    let Some(p) = plan() else { return };
    let b = p.bastion.as_ref().expect("extgw01 is a bastion");
    assert_eq!(b.users, ["hltesta", "hltestb", "hltestc", "hltestd"]);
    assert!(b.pam_stack.contains("security/pam_limits.so"), "pam_limits in the lab's stack too: {}", b.pam_stack);
    assert!(b.sshd_config.contains("AuthenticationMethods publickey,keyboard-interactive"), "{}", b.sshd_config);
    assert!(b.sshd_config.contains("hltesta@10.69.222.0/24"), "{}", b.sshd_config);
    assert!(!b.sshd_config.contains("torjus"), "the lab's users replace the inventory's");
    assert!(b.pam_stack.contains("security/pam_google_authenticator.so secret="), "{}", b.pam_stack);
    assert!(b.pam_stack.contains(&format!("{}/${{USER}}", b.totp_dir.display())), "{}", b.pam_stack);
    assert!(b.totp_header.contains("DISALLOW_REUSE"));
    assert_eq!(p.nodes[b.outsider].name, "home-router");
}
