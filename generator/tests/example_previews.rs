//! The generated example goes through every renderer: for every host in
//! hosts/ and every `hearth preview` part of every area, the part renders
//! when the host has the area's data and is refused by name when it does
//! not. No list of hosts, areas or parts is kept here.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn every_part_of_every_example_host_renders_or_is_refused_by_name() {
    let root = repo_root();
    let mut hosts: Vec<String> = std::fs::read_dir(root.join("hosts"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("hearth.nix").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    hosts.sort();
    assert!(hosts.len() >= 3, "the example has generated hosts: {hosts:?}");
    let parts: Vec<_> = hearth::preview::parts().collect();
    assert!(parts.len() >= 7, "every area's parts are listed: {}", parts.len());
    let mut rendered = 0;
    for host in &hosts {
        let text = std::fs::read_to_string(root.join("hosts").join(host).join("hearth.nix")).unwrap();
        // Every area whose data the host has renders at least one part (a
        // part may also not apply: the Loki config off the Loki host).
        let mut areas_rendered = std::collections::BTreeSet::new();
        for (area, p) in &parts {
            match hearth::preview::preview(&root, host, p.part) {
                Ok(out) => {
                    assert!(!out.trim().is_empty() || p.part == "nat", "{host} {}: empty", p.part);
                    areas_rendered.insert(*area);
                    rendered += 1;
                }
                Err(hearth::preview::PreviewError::NotApplicable { .. }) => {}
                Err(e) => panic!("{host} {}: {e}", p.part),
            }
        }
        for (area, _) in &parts {
            let has = text.contains(&format!("hearth.{area} = ")) || text.contains(&format!("  {area} = {{"));
            assert!(!has || areas_rendered.contains(area), "{host} has hearth.{area} but none of its parts rendered");
        }
    }
    assert!(rendered >= 7, "only {rendered} parts rendered");
}
