//! Identities: the private keys used to decrypt (an age identity file or an
//! unencrypted OpenSSH private key), found the way agenix finds them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{Recipient, SecretsError};

type BoxedIdentity = Box<dyn age::Identity + Send + Sync>;

/// A set of decryption keys and the files they came from (for messages).
#[derive(Default)]
pub struct Identities {
    keys: Vec<BoxedIdentity>,
    sources: Vec<PathBuf>,
    recipients: Vec<Recipient>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities").field("sources", &self.sources).finish_non_exhaustive()
    }
}

impl Identities {
    /// Reads one file: an age identity file (`AGE-SECRET-KEY-...` lines,
    /// `#` comments) or an unencrypted OpenSSH private key.
    pub fn from_file(path: &Path) -> Result<Self, SecretsError> {
        let bytes = Zeroizing::new(fs::read(path).map_err(|source| SecretsError::ReadIdentity { path: path.into(), source })?);
        let invalid = |reason: &str| SecretsError::InvalidIdentity { path: path.into(), reason: reason.into() };
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid("it is not UTF-8 text"))?;
        let mut ids = Identities { sources: vec![path.to_path_buf()], ..Default::default() };

        if text.trim_start().starts_with("-----BEGIN AGE ENCRYPTED FILE-----") {
            return Err(invalid(
                "it is a passphrase-encrypted age identity, which hearth cannot unlock; \
                 decrypt it first (`age -d -o KEYFILE FILE`) or use an unencrypted key",
            ));
        }
        if text.trim_start().starts_with("-----BEGIN") {
            let id = age::ssh::Identity::from_buffer(text.as_bytes(), Some(path.display().to_string())).map_err(|_| invalid("the PEM/OpenSSH key could not be parsed"))?;
            match &id {
                age::ssh::Identity::Unencrypted(_) => {}
                age::ssh::Identity::Encrypted(_) => return Err(SecretsError::EncryptedIdentity { path: path.into() }),
                age::ssh::Identity::Unsupported(k) => {
                    let why = match k {
                        age::ssh::UnsupportedKey::EncryptedPem => return Err(SecretsError::EncryptedIdentity { path: path.into() }),
                        age::ssh::UnsupportedKey::EncryptedSsh(_) => return Err(SecretsError::EncryptedIdentity { path: path.into() }),
                        age::ssh::UnsupportedKey::Hardware(t) => {
                            format!("{t} is a hardware-backed key, which age cannot use")
                        }
                        age::ssh::UnsupportedKey::Type(t) => format!("{t} keys are not supported"),
                    };
                    return Err(invalid(&why));
                }
            }
            if let Ok(r) = age::ssh::Recipient::try_from(id.clone()) {
                if let Some(r) = Recipient::from_ssh(&r) {
                    ids.recipients.push(r);
                }
            }
            ids.keys.push(Box::new(id));
            return Ok(ids);
        }

        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with("ssh-") || line.starts_with("age1") {
                return Err(invalid(&format!("line {} is a public key; pass the private key (for SSH, the file without .pub)", n + 1)));
            }
            if line.starts_with("AGE-PLUGIN-") {
                return Err(invalid(&format!("line {}: plugin identities are not supported", n + 1)));
            }
            // The line is never echoed: it may be a mangled secret key.
            let id: age::x25519::Identity = line.parse().map_err(|_| invalid(&format!("line {} is neither a comment nor an age secret key line (AGE-SECRET-KEY-...)", n + 1)))?;
            ids.recipients.push(Recipient::from_x25519(id.to_public()));
            ids.keys.push(Box::new(id));
        }
        if ids.keys.is_empty() {
            return Err(invalid("it contains no keys"));
        }
        Ok(ids)
    }

    /// Adds the keys of `other`.
    pub fn extend(&mut self, other: Identities) {
        self.keys.extend(other.keys);
        self.sources.extend(other.sources);
        self.recipients.extend(other.recipients);
    }

    /// The files the keys were read from.
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    /// The public keys of the identities (ssh-rsa keys are left out).
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k.as_ref() as &dyn age::Identity)
    }
}

/// The files tried when no identity is given, like agenix: `~/.ssh/id_ed25519`.
pub fn default_identity_paths(home: &Path) -> Vec<PathBuf> {
    vec![home.join(".ssh").join("id_ed25519")]
}

/// Loads the identity to decrypt with. `explicit` is `--identity FILE` or
/// `HEARTH_IDENTITY` (resolved by the caller); without it the first existing
/// [`default_identity_paths`] under `$HOME` is used.
pub fn load_identities(explicit: Option<&Path>) -> Result<Identities, SecretsError> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    load_identities_with_home(explicit, home.as_deref())
}

/// [`load_identities`] with an explicit home directory (for tests).
pub fn load_identities_with_home(explicit: Option<&Path>, home: Option<&Path>) -> Result<Identities, SecretsError> {
    if let Some(p) = explicit {
        return Identities::from_file(p);
    }
    let tried = home.map(default_identity_paths).unwrap_or_default();
    for p in &tried {
        match fs::metadata(p) {
            Ok(_) => return Identities::from_file(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(SecretsError::ReadIdentity { path: p.clone(), source }),
        }
    }
    Err(SecretsError::NoIdentity { tried })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-keys")
    }

    #[test]
    fn age_identity_file_yields_its_public_key() {
        let ids = Identities::from_file(&keys().join("admin-TEST-ONLY.agekey")).unwrap();
        assert_eq!(ids.recipients().len(), 1);
        let want = fs::read_to_string(keys().join("admin-TEST-ONLY.agekey.pub")).unwrap();
        assert_eq!(ids.recipients()[0].as_str(), want.trim());
    }

    #[test]
    fn ssh_private_key_yields_its_public_key() {
        let ids = Identities::from_file(&keys().join("hosts/vps_ed25519_TEST_ONLY")).unwrap();
        let pubkey: Recipient = fs::read_to_string(keys().join("hosts/vps_ed25519_TEST_ONLY.pub")).unwrap().parse().unwrap();
        assert_eq!(ids.recipients(), &[pubkey]);
    }

    #[test]
    fn missing_default_identity_names_what_was_tried() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_identities_with_home(None, Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains(".ssh/id_ed25519") && e.contains("--identity"), "{e}");
    }

    #[test]
    fn default_identity_is_home_ssh_id_ed25519() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".ssh")).unwrap();
        fs::copy(keys().join("admin-ssh_ed25519_TEST_ONLY"), dir.path().join(".ssh/id_ed25519")).unwrap();
        let ids = load_identities_with_home(None, Some(dir.path())).unwrap();
        assert_eq!(ids.sources(), &[dir.path().join(".ssh/id_ed25519")]);
    }

    #[test]
    fn garbage_identity_file_is_named_and_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id");
        fs::write(&p, "AGE-SECRET-KEY-NOTREALLYAKEY\n").unwrap();
        let e = Identities::from_file(&p).unwrap_err().to_string();
        assert!(e.contains(&p.display().to_string()) && e.contains("line 1"), "{e}");
        assert!(!e.contains("NOTREALLY"), "{e}");
    }

    #[test]
    fn public_key_given_as_identity_says_so() {
        let e = Identities::from_file(&keys().join("hosts/vps_ed25519_TEST_ONLY.pub")).unwrap_err().to_string();
        assert!(e.contains("is a public key") && e.contains("vps_ed25519_TEST_ONLY.pub"), "{e}");
    }

    #[test]
    fn missing_explicit_identity_names_the_file() {
        let e = load_identities(Some(Path::new("/nonexistent/hearth-id"))).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/hearth-id"), "{e}");
    }

    #[test]
    fn passphrase_protected_ssh_key_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id_ed25519");
        let st = std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "correct horse", "-f"]).arg(&p).status();
        if !matches!(st, Ok(s) if s.success()) {
            eprintln!("ssh-keygen not available; skipping");
            return;
        }
        let e = Identities::from_file(&p).unwrap_err();
        assert!(matches!(e, SecretsError::EncryptedIdentity { .. }), "{e}");
    }
}
