//! Recipients: the public keys a secret is encrypted to (age X25519 or
//! OpenSSH ed25519), parsed strictly and kept in a canonical string form.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::SecretsError;

/// The two kinds of recipient hearth encrypts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipientKind {
    /// An age X25519 public key, `age1...`.
    X25519,
    /// An OpenSSH ed25519 public key (as agenix uses for host keys).
    SshEd25519,
}

#[derive(Clone)]
enum Inner {
    X25519(age::x25519::Recipient),
    SshEd25519(age::ssh::Recipient),
}

/// An age X25519 or ssh-ed25519 public key. Equality, ordering and hashing use
/// the canonical form ([`Recipient::as_str`]): `age1...` in lower case, or
/// `ssh-ed25519 <base64>` without the comment.
/// Shared, so a clone (one per secret and command) is two counter bumps.
#[derive(Clone)]
pub struct Recipient {
    inner: std::sync::Arc<Inner>,
    canonical: std::sync::Arc<str>,
}

impl Recipient {
    /// The canonical string form (no comment).
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    pub fn kind(&self) -> RecipientKind {
        match *self.inner {
            Inner::X25519(_) => RecipientKind::X25519,
            Inner::SshEd25519(_) => RecipientKind::SshEd25519,
        }
    }

    /// The tag an ssh-ed25519 stanza in an age header carries for this key
    /// (base64 of the first 4 bytes of SHA-256 of the SSH wire-format key);
    /// `None` for X25519, whose stanzas are anonymous.
    pub(crate) fn ssh_stanza_tag(&self) -> Option<String> {
        match *self.inner {
            Inner::X25519(_) => None,
            Inner::SshEd25519(_) => {
                let b64 = self.canonical.split(' ').nth(1)?;
                let blob = STANDARD.decode(b64).ok()?;
                Some(STANDARD_NO_PAD.encode(&Sha256::digest(&blob)[..4]))
            }
        }
    }

    pub(crate) fn as_age(&self) -> &dyn age::Recipient {
        match &*self.inner {
            Inner::X25519(r) => r,
            Inner::SshEd25519(r) => r,
        }
    }

    pub(crate) fn from_ssh(r: &age::ssh::Recipient) -> Option<Recipient> {
        match r {
            age::ssh::Recipient::SshEd25519(..) => Some(Recipient { canonical: r.to_string().into(), inner: Inner::SshEd25519(r.clone()).into() }),
            age::ssh::Recipient::SshRsa(..) => None,
        }
    }

    pub(crate) fn from_x25519(r: age::x25519::Recipient) -> Recipient {
        Recipient { canonical: r.to_string().into(), inner: Inner::X25519(r).into() }
    }
}

fn invalid(shown: &str, reason: impl Into<String>) -> SecretsError {
    SecretsError::InvalidRecipient { shown: shown.to_string(), reason: reason.into() }
}

impl FromStr for Recipient {
    type Err = SecretsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        // Never echo something that looks like a private key into an error.
        let upper = t.to_ascii_uppercase();
        if upper.starts_with("AGE-SECRET-KEY-") || upper.contains("PRIVATE KEY") {
            return Err(invalid("the value given", "it looks like a PRIVATE key; give the public key instead (`age-keygen -y KEYFILE`, or the .pub file)"));
        }
        let shown = {
            let mut v: String = t.chars().take(80).collect();
            if t.chars().count() > 80 {
                v.push_str("...");
            }
            format!("{v:?}")
        };
        if t.is_empty() {
            return Err(invalid(&shown, "it is empty"));
        }
        if t.starts_with("age1") || t.starts_with("AGE1") {
            if t.contains(char::is_whitespace) {
                return Err(invalid(&shown, "an age recipient has no spaces"));
            }
            let r: age::x25519::Recipient = t.parse().map_err(|e: &str| invalid(&shown, format!("bad age1 key ({e})")))?;
            return Ok(Recipient::from_x25519(r));
        }
        let mut parts = t.split_whitespace();
        let kind = parts.next().unwrap_or_default();
        match kind {
            "ssh-ed25519" => {
                let Some(b64) = parts.next() else {
                    return Err(invalid(&shown, "the base64 key after \"ssh-ed25519\" is missing"));
                };
                // The rest, if anything, is the comment and is dropped.
                let blob = STANDARD.decode(b64).map_err(|e| invalid(&shown, format!("the key is not valid base64 ({e})")))?;
                let canonical = format!("ssh-ed25519 {}", STANDARD.encode(&blob));
                let r: age::ssh::Recipient = canonical.parse().map_err(|_| invalid(&shown, "the base64 part is not an ed25519 public key"))?;
                match r {
                    age::ssh::Recipient::SshEd25519(..) if r.to_string() == canonical => Ok(Recipient { inner: Inner::SshEd25519(r).into(), canonical: canonical.into() }),
                    _ => Err(invalid(&shown, "the base64 part is not an ed25519 public key")),
                }
            }
            "ssh-rsa" | "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" | "sk-ssh-ed25519@openssh.com" | "sk-ecdsa-sha2-nistp256@openssh.com" => {
                Err(invalid(&shown, format!("{kind} keys are not supported (use the host's ssh-ed25519 key)")))
            }
            _ => Err(invalid(&shown, "unknown key type")),
        }
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.canonical)
    }
}

impl PartialEq for Recipient {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}
impl Eq for Recipient {}
impl PartialOrd for Recipient {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Recipient {
    fn cmp(&self, other: &Self) -> Ordering {
        self.canonical.cmp(&other.canonical)
    }
}
impl Hash for Recipient {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical.hash(state)
    }
}

impl serde::Serialize for Recipient {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.canonical)
    }
}

impl<'de> serde::Deserialize<'de> for Recipient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGE: &str = "age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt";
    const SSH: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID2SDbi/4YEFJnNlYbAjoYu6XTVgSxo4gHdwuPkRL3Ra";

    #[test]
    fn ssh_comment_is_dropped_from_canonical_form() {
        let r: Recipient = format!("  {SSH} root@vps-TEST-ONLY  ").parse().unwrap();
        assert_eq!(r.as_str(), SSH);
        assert_eq!(r.kind(), RecipientKind::SshEd25519);
        assert_eq!(r, SSH.parse().unwrap());
    }

    #[test]
    fn age_recipient_canonical_is_lower_case() {
        let r: Recipient = AGE.to_uppercase().parse().unwrap();
        assert_eq!(r.as_str(), AGE);
        assert_eq!(r.kind(), RecipientKind::X25519);
        assert!(r.ssh_stanza_tag().is_none());
    }

    #[test]
    fn invalid_recipients_say_what_a_valid_one_looks_like() {
        for bad in ["", "age1xyz", "ssh-ed25519", "ssh-ed25519 !!!", "ssh-rsa AAAAB3Nza", "hello", "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ"] {
            let e = bad.parse::<Recipient>().unwrap_err().to_string();
            assert!(e.contains("age1...") && e.contains("ssh-ed25519 AAAA"), "{bad}: {e}");
        }
    }

    #[test]
    fn private_key_given_as_recipient_is_not_echoed() {
        // A fresh key, made here: no private key is written into the source.
        use age::secrecy::ExposeSecret;
        let sk = age::x25519::Identity::generate().to_string();
        let sk = sk.expose_secret();
        let e = sk.parse::<Recipient>().unwrap_err().to_string();
        // Nothing of the key body (after the Bech32 prefix and separator) is echoed.
        let body = &sk[sk.rfind('-').unwrap() + 2..];
        assert!(!e.contains(&body[..12]), "{e}");
        assert!(e.contains("PRIVATE"), "{e}");
    }

    #[test]
    fn ssh_stanza_tag_matches_age_spec() {
        // Tag = first 4 bytes of SHA-256 of the wire-format key, unpadded base64: 6 chars.
        let r: Recipient = SSH.parse().unwrap();
        assert_eq!(r.ssh_stanza_tag().unwrap().len(), 6);
    }
}
