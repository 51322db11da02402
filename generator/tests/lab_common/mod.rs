//! Shared helpers of the lab integration tests: a rendered copy of the
//! example repository in a temp dir, and the skip rule (root and tools).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The admin TEST identity the example's secrets are encrypted to.
pub fn identity() -> PathBuf {
    repo().join("test-keys/admin-TEST-ONLY.agekey")
}

/// `Some(reason)` when the lab cannot run here (not root, tools missing):
/// the test prints one `SKIPPED: reason` line and passes.
pub fn skip() -> Option<String> {
    let missing = hearth::lab::preflight();
    if missing.is_empty() {
        None
    } else {
        Some(missing.join("; "))
    }
}

#[macro_export]
macro_rules! skip_unless_lab {
    () => {
        if let Some(why) = lab_common::skip() {
            println!("SKIPPED: {why}");
            return;
        }
    };
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// A temp copy of the example repository with `inventory` (default: the
/// example's own) and the NixOS renderers, rendered with `hearth render`'s
/// library entry point.
pub fn rendered(inventory: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let inv = match inventory {
        Some(t) => t.to_string(),
        None => std::fs::read_to_string(repo().join("inventory.toml")).unwrap(),
    };
    std::fs::write(dir.path().join("inventory.toml"), inv).unwrap();
    copy_dir(&repo().join("modules"), &dir.path().join("modules"));
    if inventory.is_none() {
        // The example as committed: its keys, secrets and generated files.
        copy_dir(&repo().join("hosts"), &dir.path().join("hosts"));
        copy_dir(&repo().join("secrets"), &dir.path().join("secrets"));
    }
    render(dir.path());
    dir
}

pub fn render(root: &Path) {
    let id = identity();
    hearth::render::render(&root.join("inventory.toml"), || hearth::secrets::load_identities(Some(&id))).expect("render");
}

/// Runs the lab on a repository with the library entry point (the hearth
/// binary runs the LAN hosts' responders).
pub fn run_lab(root: &Path, revoked: Vec<hearth::lab::build::Revoked>) -> hearth::lab::report::Report {
    hearth::lab::probe::raise_nofile(1 << 20);
    let opts = hearth::lab::RunOpts {
        inventory: root.join("inventory.toml"),
        identity: Some(identity()),
        revoked,
        exe: Some(PathBuf::from(env!("CARGO_BIN_EXE_hearth"))),
        scan: Default::default(),
        verbose: true,
    };
    let r = hearth::lab::run(&opts).expect("the lab could not be built");
    println!("{}", r.table());
    r
}
