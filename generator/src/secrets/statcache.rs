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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub id: FileId,
    /// The SHA-256 of its bytes.
    pub sha256: [u8; 32],
    /// The recorded recipients its age header matched, as a digest
    /// ([`recipients_digest`]: the cache stays small to read).
    pub header_for: u64,
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
    /// yet, it cannot be read, or there is no home to keep it in).
    pub fn open(root: &Path) -> Self {
        let path = cache_dir().map(|d| {
            let abs = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            let key = super::store::sha256_hex(abs.as_os_str().as_encoded_bytes());
            d.join(format!("secrets-v3-{}.bin", &key[..16]))
        });
        let entries = path.as_ref().and_then(|p| std::fs::read(p).ok()).and_then(|b| decode(&b)).unwrap_or_default();
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
        let bytes = encode(&e);
        if let Some(d) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            let _ = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(d);
        }
        let _ = crate::fsutil::write_atomic(path, &bytes);
    }
}

/// The file's first bytes; a file that does not start with them (an older
/// format, another program's) is not read.
const MAGIC: &[u8; 16] = b"hearth-statc-v3\n";

/// The cache as bytes: [`MAGIC`], the number of entries (u32), then per
/// entry the path's length (u16) and bytes, the file identity (length u64,
/// mtime and ctime in ns i128, inode u64, device u64), the SHA-256 (32
/// bytes) and the recipients digest (u64), all little-endian; last, a
/// 64-bit FNV-1a of everything before it, so a damaged file reads as empty.
/// A binary file because reading it is on every command's path: for 10,000
/// secrets it is read in about a millisecond; the JSON it replaces took 20.
fn encode(entries: &HashMap<String, Verified>) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + entries.len() * 120);
    out.extend_from_slice(MAGIC);
    let mut keys: Vec<&String> = entries.keys().filter(|k| k.len() <= usize::from(u16::MAX)).collect();
    keys.sort();
    out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for k in keys {
        let v = &entries[k];
        out.extend_from_slice(&(k.len() as u16).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&v.id.len.to_le_bytes());
        out.extend_from_slice(&v.id.mtime_ns.to_le_bytes());
        out.extend_from_slice(&v.id.ctime_ns.to_le_bytes());
        out.extend_from_slice(&v.id.ino.to_le_bytes());
        out.extend_from_slice(&v.id.dev.to_le_bytes());
        out.extend_from_slice(&v.sha256);
        out.extend_from_slice(&v.header_for.to_le_bytes());
    }
    let sum = fnv1a(0xcbf2_9ce4_8422_2325, &out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// [`encode`]'s bytes read back; `None` for anything else.
fn decode(bytes: &[u8]) -> Option<HashMap<String, Verified>> {
    let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(8)?)?;
    if fnv1a(0xcbf2_9ce4_8422_2325, body).to_le_bytes() != sum {
        return None;
    }
    let mut r = Reader(body.strip_prefix(MAGIC.as_slice())?);
    let n = u32::from_le_bytes(r.take()?) as usize;
    let mut out = HashMap::with_capacity(n.min(body.len() / 100));
    for _ in 0..n {
        let klen = u16::from_le_bytes(r.take()?) as usize;
        let key = std::str::from_utf8(r.bytes(klen)?).ok()?.to_owned();
        let id = FileId {
            len: u64::from_le_bytes(r.take()?),
            mtime_ns: i128::from_le_bytes(r.take()?),
            ctime_ns: i128::from_le_bytes(r.take()?),
            ino: u64::from_le_bytes(r.take()?),
            dev: u64::from_le_bytes(r.take()?),
        };
        let v = Verified { id, sha256: r.take()?, header_for: u64::from_le_bytes(r.take()?) };
        out.insert(key, v);
    }
    r.0.is_empty().then_some(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A short digest of recorded recipient strings (64-bit FNV-1a): it only
/// tells whether `recipients.json` changed for this file since it was
/// verified (the file itself is bound by its identity and SHA-256).
pub fn recipients_digest(recipients: &[String]) -> u64 {
    recipients.iter().fold(0xcbf2_9ce4_8422_2325, |h, r| fnv1a(fnv1a(h, r.as_bytes()), b"\n"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> HashMap<String, Verified> {
        (0..n)
            .map(|i| {
                let id = FileId { len: i as u64, mtime_ns: -(i as i128) * 7, ctime_ns: i128::MAX - i as i128, ino: u64::MAX - i as u64, dev: 3 };
                (format!("peers/p{i}/wireguard-key.age"), Verified { id, sha256: [i as u8; 32], header_for: i as u64 * 31 })
            })
            .collect()
    }

    #[test]
    fn the_cache_reads_back_what_it_wrote() {
        for n in [0, 1, 300] {
            assert_eq!(decode(&encode(&sample(n))), Some(sample(n)), "{n} entries");
        }
    }

    #[test]
    fn a_damaged_or_foreign_cache_reads_as_nothing() {
        let good = encode(&sample(20));
        assert!(decode(&good).is_some());
        for cut in [0, 1, 8, MAGIC.len(), good.len() / 2, good.len() - 1] {
            assert_eq!(decode(&good[..cut]), None, "cut at {cut}");
        }
        for at in [0, MAGIC.len() + 1, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            assert_eq!(decode(&bad), None, "byte {at} flipped");
        }
        assert_eq!(decode(b"{\"secrets/x.age\": {}}"), None, "the old JSON cache");
    }
}
