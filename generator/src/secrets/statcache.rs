//! Which ciphertext files are unchanged since hearth last verified them, by
//! their identity as the kernel reports it (size, mtime, ctime, inode,
//! device), the way git's index avoids re-reading unchanged files.
//!
//! A rewrite (agenix writes a new file and renames it over the old one; an
//! editor writes in place) changes the inode or ctime, and no user tool can
//! set ctime back, so a file whose identity matches is the file that was
//! verified. A file changed within two seconds of its verification is never
//! cached (timestamps of the same instant could hide a second write).
//!
//! The cache holds only public facts (a ciphertext's SHA-256 and the
//! recipients its header was checked against) and lives outside the
//! repository: `$XDG_CACHE_HOME/hearth/` (else `~/.cache/hearth/`), one file
//! per secrets directory. Losing it costs one full read.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A file's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileId {
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl FileId {
    pub fn of(m: &Metadata) -> Self {
        FileId {
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
        }
    }

    /// Changed so recently that a second write in the same instant could
    /// go unseen.
    fn racy(&self) -> bool {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
        now - self.mtime_ns.max(self.ctime_ns) < 2_000_000_000
    }
}

/// What was verified about one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verified {
    pub id: FileId,
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// The recorded recipients its age header matched, as a digest
    /// ([`recipients_digest`]: the cache stays small to read).
    pub header_for: String,
}

/// The cache of one secrets directory.
#[derive(Debug, Default)]
pub struct StatCache {
    path: Option<PathBuf>,
    entries: Mutex<HashMap<String, Verified>>,
    dirty: std::sync::atomic::AtomicBool,
}

impl StatCache {
    /// The cache of the secrets directory `root` (empty when there is none
    /// yet, or no home to keep it in).
    pub fn open(root: &Path) -> Self {
        let path = cache_dir().map(|d| {
            let abs = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            let key = super::store::sha256_hex(abs.as_os_str().as_encoded_bytes());
            d.join(format!("secrets-v2-{}.json", &key[..16]))
        });
        let entries = path.as_ref().and_then(|p| std::fs::read(p).ok()).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        StatCache { path, entries: Mutex::new(entries), dirty: Default::default() }
    }

    /// What was verified about `rel`, if the file is still that file.
    pub fn get(&self, rel: &str, id: &FileId) -> Option<Verified> {
        self.entries.lock().ok()?.get(rel).filter(|v| v.id == *id).cloned()
    }

    /// Records what was just verified about `rel` (unless it changed too
    /// recently to be sure).
    pub fn put(&self, rel: &str, v: Verified) {
        if v.id.racy() {
            return;
        }
        if let Ok(mut e) = self.entries.lock() {
            if e.get(rel) != Some(&v) {
                e.insert(rel.to_owned(), v);
                self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Writes the cache if anything was added (best effort: a cache that
    /// cannot be written only costs a full read next time).
    pub fn save(&self) {
        let (Some(path), true) = (&self.path, self.dirty.load(std::sync::atomic::Ordering::Relaxed)) else { return };
        let Ok(e) = self.entries.lock() else { return };
        let Ok(text) = serde_json::to_vec(&*e) else { return };
        if let Some(d) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            let _ = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(d);
        }
        let _ = crate::fsutil::write_atomic(path, &text);
    }
}

/// A short digest of recorded recipient strings (64-bit FNV-1a, hex): it
/// only tells whether `recipients.json` changed for this file since it was
/// verified (the file itself is bound by its identity and SHA-256).
pub fn recipients_digest(recipients: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for r in recipients {
        for b in r.bytes().chain(std::iter::once(b'\n')) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn cache_dir() -> Option<PathBuf> {
    if std::env::var_os("HEARTH_NO_STAT_CACHE").is_some() {
        return None;
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("hearth"))
}
