//! Helpers the CLI test files share: where the repository is, and copying
//! a directory of the example into a test's temp copy.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root (the example lives there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Copies `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// The example's test admin identity (named as a test key).
pub fn admin_identity() -> PathBuf {
    repo_root().join("test-keys/admin-TEST-ONLY.agekey")
}

/// Copies the example (inventory.toml, hosts/, secrets/, modules/) into `dir`.
pub fn example_in(dir: &Path) {
    let root = repo_root();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(root.join("inventory.toml"), dir.join("inventory.toml")).unwrap();
    for d in ["hosts", "secrets", "modules"] {
        copy_dir(&root.join(d), &dir.join(d));
    }
}

/// A temp copy of the example.
pub fn example() -> tempfile::TempDir {
    let t = tempfile::TempDir::new().unwrap();
    example_in(t.path());
    t
}

/// `hearth` run in `dir` as the example's admin, with `dir` as HOME (so
/// nothing of the real user's ~/.ssh or ~/.cache is read or written).
pub fn hearth(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("hearth").unwrap();
    c.current_dir(dir).env_remove("HEARTH_INVENTORY").env_remove("HEARTH_LIB").env("HEARTH_IDENTITY", admin_identity()).env("HOME", dir);
    c
}

/// Every file of the repository copy in `dir` with its bytes, sorted: what
/// "changes nothing" compares. Lock files and `~/.cache` are left out (HOME
/// is the test's directory; hearth's stat cache lives there, outside any
/// real repository, and may be refreshed by a command that writes nothing).
pub fn repo_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p != dir.join(".cache") {
                    v.push((p.clone(), vec![]));
                    stack.push(p);
                }
            } else if !p.file_name().unwrap().to_string_lossy().ends_with(".lock") {
                v.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    v.sort();
    v
}

/// A program on PATH.
pub fn which(p: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(p)).find(|f| f.is_file())
}
