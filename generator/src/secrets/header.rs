//! Reading an age header without decrypting: which stanzas a file carries, so
//! `status` can check the manifest against the file itself.

use std::collections::BTreeSet;
use std::io::BufRead;

/// What an age v1 header says about its recipients.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderInfo {
    /// Number of `X25519` stanzas (anonymous: one per age1 recipient).
    pub x25519: usize,
    /// Tags of the `ssh-ed25519` stanzas.
    pub ssh_ed25519_tags: BTreeSet<String>,
    /// Any other stanza types (ssh-rsa, scrypt, plugins), grease excluded.
    pub other: Vec<String>,
}

const MAX_HEADER: usize = 64 * 1024;

/// Parses the header of an armored or binary age file.
pub(crate) fn read_header(file: &[u8]) -> Result<HeaderInfo, String> {
    let trimmed = file.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &file[i..]).unwrap_or(&[]);
    if trimmed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----") {
        let mut r = age::armor::ArmoredReader::new(file);
        parse(&mut r)
    } else {
        let mut r = file;
        parse(&mut r)
    }
}

fn parse<R: BufRead>(r: &mut R) -> Result<HeaderInfo, String> {
    let mut info = HeaderInfo::default();
    let mut line = Vec::new();
    let mut total = 0;
    let mut next = |r: &mut R, line: &mut Vec<u8>| -> Result<bool, String> {
        line.clear();
        let n = r.read_until(b'\n', line).map_err(|e| format!("bad armor or header ({e})"))?;
        total += n;
        if total > MAX_HEADER {
            return Err("header too long".into());
        }
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(false);
        }
        line.pop();
        Ok(true)
    };
    if !next(r, &mut line)? || line != b"age-encryption.org/v1" {
        return Err("missing the age-encryption.org/v1 header line".into());
    }
    let mut in_body = false;
    loop {
        if !next(r, &mut line)? {
            return Err("truncated header".into());
        }
        if in_body {
            // Body lines are 64 columns, the last one shorter (maybe empty).
            if line.len() < 64 {
                in_body = false;
            }
            continue;
        }
        if line.starts_with(b"--- ") {
            return Ok(info);
        }
        let Some(rest) = line.strip_prefix(b"-> ") else {
            return Err("malformed header line".into());
        };
        let rest = std::str::from_utf8(rest).map_err(|_| "non-text header".to_string())?;
        let args: Vec<&str> = rest.split(' ').collect();
        match args[0] {
            "X25519" => info.x25519 += 1,
            "ssh-ed25519" => {
                info.ssh_ed25519_tags.insert(args.get(1).copied().unwrap_or_default().to_string());
            }
            t if t.ends_with("-grease") => {}
            t => info.other.push(t.to_string()),
        }
        in_body = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_stanzas_of_a_binary_header() {
        let h = b"age-encryption.org/v1\n-> X25519 abc\nAAAA\n-> ssh-ed25519 TAGtag def\nBBBB\n-> x-grease 1 2\n\n--- mac\npayload";
        let info = read_header(h).unwrap();
        assert_eq!(info.x25519, 1);
        assert_eq!(info.ssh_ed25519_tags.iter().collect::<Vec<_>>(), vec!["TAGtag"]);
        assert!(info.other.is_empty());
    }

    #[test]
    fn truncated_header_is_an_error() {
        assert!(read_header(b"age-encryption.org/v1\n-> X25519 abc\n").is_err());
        assert!(read_header(b"not age").is_err());
    }
}
