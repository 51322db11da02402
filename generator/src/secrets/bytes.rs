//! `SecretBytes`: the only type that holds plaintext, zeroized on drop.

use std::fmt;
use std::io::{self, Read};

use zeroize::Zeroizing;

/// A plaintext secret in memory. Zeroized (whole capacity) when dropped;
/// `Debug` prints no contents and there is no `Display`. Not `Clone`, so a
/// copy is always explicit ([`SecretBytes::from_slice`]).
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `v` (which is zeroized when this is dropped).
    pub fn new(v: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(v))
    }

    pub fn from_slice(s: &[u8]) -> Self {
        SecretBytes::new(s.to_vec())
    }

    /// The plaintext. Keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality (time depends on the lengths only).
    pub fn ct_eq(&self, other: &SecretBytes) -> bool {
        let (a, b) = (self.expose(), other.expose());
        if a.len() != b.len() {
            return false;
        }
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(diff) == 0
    }

    /// Reads `r` to its end. Growing never leaves an un-zeroized copy behind
    /// (unlike `read_to_end` on a plain `Vec`): a full buffer is copied into a
    /// bigger zeroizing one, and the old one is wiped.
    pub fn read_from<R: Read>(mut r: R) -> io::Result<Self> {
        Self::read_with_capacity(&mut r, 4096)
    }

    pub(crate) fn read_with_capacity<R: Read>(r: &mut R, capacity: usize) -> io::Result<Self> {
        let mut buf = Zeroizing::new(vec![0u8; capacity.max(64)]);
        let mut len = 0;
        loop {
            if len == buf.len() {
                let mut bigger = Zeroizing::new(vec![0u8; buf.len() * 2]);
                bigger[..len].copy_from_slice(&buf[..len]);
                buf = bigger; // the old buffer is zeroized on drop
            }
            match r.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        // truncate keeps the allocation; Zeroizing wipes the whole capacity on drop.
        buf.truncate(len);
        Ok(SecretBytes(buf))
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_leak_contents() {
        let s = SecretBytes::from_slice(b"hunter2-very-secret");
        let d = format!("{s:?} {s:#?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(!d.contains("104"), "bytes as numbers: {d}"); // 'h' = 104
        assert_eq!(d, "SecretBytes(<redacted>) SecretBytes(<redacted>)");
    }

    #[test]
    fn read_from_grows_past_initial_capacity() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let s = SecretBytes::read_with_capacity(&mut &data[..], 64).unwrap();
        assert_eq!(s.expose(), &data[..]);
    }

    #[test]
    fn ct_eq_compares_contents() {
        let a = SecretBytes::from_slice(b"abc");
        assert!(a.ct_eq(&SecretBytes::from_slice(b"abc")));
        assert!(!a.ct_eq(&SecretBytes::from_slice(b"abd")));
        assert!(!a.ct_eq(&SecretBytes::from_slice(b"abcd")));
    }
}
