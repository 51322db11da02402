//! Filesystem helpers every writer in hearth uses: atomic replace, the
//! inventory lock, and the sweep of temp files a killed hearth left.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

/// Writes `bytes` to `path` atomically: a temp file in the same directory,
/// fsync, then rename over the target. A crash at any moment leaves either the
/// old or the new file, never a torn one. Parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = tempfile_in(dir, &name)?;
    let res = (|| {
        tmp.1.write_all(bytes)?;
        tmp.1.sync_all()?;
        // Keep the mode of an existing file (a user's chmod survives a rewrite).
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&tmp.0, meta.permissions())?;
        }
        fs::rename(&tmp.0, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp.0);
    }
    res
}

/// Writes `bytes` only when the file's current content differs. Returns
/// whether it wrote. Unchanged files keep their mtime.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    match fs::read(path) {
        Ok(old) if old == bytes => Ok(false),
        _ => write_atomic(path, bytes).map(|_| true),
    }
}

fn tempfile_in(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    for attempt in 0..100u32 {
        let p = dir.join(format!(".{name}.hearth-tmp.{}.{attempt}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "could not create a temp file"))
}

/// An exclusive advisory lock next to the inventory (`.inventory.toml.lock`).
/// Held for the whole read-modify-write of an edit, so two hearth processes
/// editing one inventory run one after the other and both land.
pub struct InventoryLock {
    _file: File,
}

impl InventoryLock {
    pub fn acquire(inventory: &Path) -> io::Result<Self> {
        let dir = inventory.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = inventory.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(format!(".{name}.lock")))?;
        file.lock_exclusive()?;
        Ok(Self { _file: file })
    }
}

/// The pid in a temp file name of hearth's own naming,
/// `.<target>.hearth-tmp.<pid>` or `.<target>.hearth-tmp.<pid>.<n>`.
pub fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".hearth-tmp.")?;
    let mut parts = tail.split('.');
    let pid: u32 = parts.next()?.parse().ok()?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(pid),
        (Some(n), None) if n.parse::<u64>().is_ok() => Some(pid),
        _ => None,
    }
}

/// Whether process `pid` is gone (a temp of a live hearth is its own business).
fn dead(pid: u32) -> bool {
    if pid == std::process::id() || pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // kill(pid, 0) only asks; ESRCH means no such process.
    unsafe { libc::kill(pid as libc::pid_t, 0) == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) }
}

/// Temp files of hearth's naming whose process is gone, in the repository
/// at `root`: beside the inventory and anywhere under `hosts/` and
/// `secrets/`. A killed hearth leaves them; those under `secrets/` hold
/// ciphertext readable by whoever was a recipient then, so they must not
/// outlive a revocation. Sorted.
pub fn stale_temps(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), false)];
    while let Some((dir, deep)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if deep || (dir == root && (name == "hosts" || name == "secrets")) {
                    stack.push((e.path(), true));
                }
            } else if ft.is_file() && temp_pid(name).is_some_and(dead) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Removes [`stale_temps`]; returns what it removed.
pub fn remove_stale_temps(root: &Path) -> Vec<PathBuf> {
    stale_temps(root).into_iter().filter(|p| fs::remove_file(p).is_ok()).collect()
}

/// A path for messages: control characters (an escape sequence, a newline)
/// shown escaped, never sent raw to the terminal.
pub fn shown(p: &Path) -> String {
    p.display().to_string().chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

/// The repository root: the directory holding the inventory.
pub fn repo_root(inventory: &Path) -> std::path::PathBuf {
    match inventory.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temps_of_our_naming_with_a_dead_pid_are_stale() {
        assert_eq!(temp_pid(".wireguard-key.age.hearth-tmp.123.4"), Some(123));
        assert_eq!(temp_pid(".inventory.toml.hearth-tmp.77"), Some(77));
        for not in ["wireguard-key.age.hearth-tmp.1.2", ".x.hearth-tmp.", ".x.hearth-tmp.a.1", ".x.hearth-tmp.1.2.3", ".x.tmp.1"] {
            assert_eq!(temp_pid(not), None, "{not}");
        }
        let t = tempfile::TempDir::new().unwrap();
        let root = t.path();
        // A pid that cannot be running: above the kernel's pid_max.
        let gone = std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse::<u32>().ok()).unwrap_or(4_194_304) + 1;
        let me = std::process::id();
        fs::create_dir_all(root.join("secrets/vps")).unwrap();
        fs::create_dir_all(root.join("other")).unwrap();
        let stale = [root.join(format!(".inventory.toml.hearth-tmp.{gone}.0")), root.join(format!("secrets/vps/.k.age.hearth-tmp.{gone}.3"))];
        let kept = [root.join(format!("secrets/vps/.k.age.hearth-tmp.{me}.1")), root.join(format!("other/.x.hearth-tmp.{gone}.0")), root.join("secrets/vps/k.age")];
        for p in stale.iter().chain(&kept) {
            fs::write(p, b"x").unwrap();
        }
        assert_eq!(stale_temps(root), stale.to_vec());
        assert_eq!(remove_stale_temps(root), stale.to_vec());
        assert!(stale.iter().all(|p| !p.exists()) && kept.iter().all(|p| p.exists()));
    }

    #[test]
    fn shown_paths_escape_control_characters() {
        assert_eq!(shown(Path::new("a\x1b[31mb\nc")), "a\\u{1b}[31mb\\nc");
    }
}
