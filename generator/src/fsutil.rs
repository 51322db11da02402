//! Filesystem helpers every writer in hearth uses: atomic replace and the
//! inventory lock.

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
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!(".{name}.lock")))?;
        file.lock_exclusive()?;
        Ok(Self { _file: file })
    }
}

/// The repository root: the directory holding the inventory.
pub fn repo_root(inventory: &Path) -> std::path::PathBuf {
    match inventory.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}
