//! Secrets: age encryption of every private value hearth keeps in the repo,
//! agenix-compatible, without churn, with rekey and revocation.
//!
//! The library is inventory-agnostic: callers (render, `hearth secret ...`,
//! `hearth secrets rekey`) decide which file goes to which recipients and pass
//! paths *relative to the secrets directory* (`"extgw01/wireguard-key.age"`,
//! the same keys `secrets/secrets.nix` uses) plus [`Recipient`]s.
//!
//! # API
//!
//! - [`Recipient`]: an age X25519 (`age1...`) or `ssh-ed25519 AAAA... [comment]`
//!   public key; `FromStr`, canonical [`Display`](std::fmt::Display) without
//!   the comment, ordered and compared by that canonical form.
//! - [`SecretBytes`]: a plaintext buffer, zeroized on drop, whose `Debug`
//!   never shows the contents. [`SecretBytes::read_from`] reads stdin without
//!   leaving un-zeroized copies behind when the buffer grows.
//! - [`load_identities`]`(explicit: Option<&Path>) -> Result<Identities>`: the
//!   caller resolves `--identity FILE` / `HEARTH_IDENTITY`; without one, the
//!   agenix default `~/.ssh/id_ed25519` is used. A file is an age identity file
//!   (`AGE-SECRET-KEY-...` lines) or an unencrypted OpenSSH private key.
//! - [`SecretStore::open`]`(secrets_dir)` reads `recipients.json`, the
//!   manifest: for each file, the canonical recipients it was last encrypted
//!   to (sorted) and the SHA-256 of its *ciphertext*. No hash of any plaintext
//!   is ever stored.
//! - [`SecretStore::status`]`(rel, &[Recipient]) -> Status`: `Missing`,
//!   `Current`, or `Stale(RecipientsChanged { added, removed })` /
//!   `Stale(UnknownRecipients(cause))` when the file is not in the manifest,
//!   its ciphertext hash differs (rewritten by agenix/ragenix) or its age
//!   header's stanzas (count of X25519 stanzas, the tags of ssh-ed25519
//!   stanzas) disagree with the manifest. Cheap: no decryption.
//! - [`SecretStore::write`] encrypts (always ASCII-armored) and replaces the
//!   file atomically, then the manifest (also atomically).
//! - [`SecretStore::decrypt`]`(rel, &Identities) -> SecretBytes`.
//! - [`SecretStore::rekey`]`(&[(rel, Vec<Recipient>)], &Identities, progress)
//!   -> RekeyReport`: decrypts and re-encrypts every stale item on all cores;
//!   current items are left alone (byte-identical), and every file ends up
//!   either old or new. See [`SecretStore::rekey`] for the durability scheme.
//! - [`agenix_rules`] renders `secrets.nix` in agenix's format, Nix-escaped.
//!
//! # Guarantees
//!
//! Plaintext never touches the disk (encryption happens in memory; only
//! ciphertext is written to temp files), never appears in an error message or
//! a log, and lives only in [`SecretBytes`]. Errors name the file with the
//! store's label (`secrets/<host>/<name>.age`).
//!
//! Revocation: after a recipient is removed and the files are rekeyed, the
//! current files are no longer readable with its key, but every ciphertext in
//! git history still is: the secret itself must be rotated.

mod agenix;
mod bytes;
mod header;
mod identity;
mod recipient;
mod statcache;
mod store;

use std::fmt;
use std::io;
use std::path::PathBuf;

pub use agenix::{agenix_rules, nix_string, read_rules, Rule, USER_RULES_MARKER};
pub use bytes::SecretBytes;
pub use identity::{default_identity_paths, load_identities, load_identities_with_home, Identities};
pub use recipient::{Recipient, RecipientKind};
pub use store::{ManifestEntry, RekeyReport, SecretStore, StaleReason, Status, UnknownCause, WriteManyReport, MANIFEST_FILE};

/// What a valid recipient looks like; appended to recipient parse errors.
pub const RECIPIENT_HELP: &str = "a recipient is an age X25519 public key (\"age1...\", \
     printed by `age-keygen -y KEYFILE`) or an OpenSSH ed25519 public key \
     (\"ssh-ed25519 AAAA... [comment]\", e.g. the contents of /etc/ssh/ssh_host_ed25519_key.pub)";

/// Every error of the secrets library. None of them ever carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{shown} is not a valid recipient: {reason}; {RECIPIENT_HELP}")]
    InvalidRecipient { shown: String, reason: String },

    #[error("{rel:?} is not a valid secret path: {reason} (expected a relative path like \"<host>/<name>.age\")")]
    InvalidPath { rel: String, reason: String },

    #[error("refusing to encrypt {file}: no recipients (it would be unreadable)")]
    NoRecipients { file: PathBuf },

    #[error(
        "no identity to decrypt with: pass --identity FILE or set HEARTH_IDENTITY to an age identity \
         file or an unencrypted OpenSSH private key (tried {})",
        PathList(.tried)
    )]
    NoIdentity { tried: Vec<PathBuf> },

    #[error("cannot read identity file {}: {source}", crate::fsutil::shown(path))]
    ReadIdentity { path: PathBuf, source: io::Error },

    #[error("{} is not an age identity file or an unencrypted OpenSSH private key: {reason}", crate::fsutil::shown(path))]
    InvalidIdentity { path: PathBuf, reason: String },

    #[error(
        "{path} is a passphrase-protected SSH key, which hearth cannot use: pass an age identity \
         file or an unencrypted key with --identity"
    )]
    EncryptedIdentity { path: PathBuf },

    #[error(
        "none of the identities in {} can decrypt {file}: it is encrypted to other keys \
         (pass the right key with --identity or HEARTH_IDENTITY)",
        PathList(.identities)
    )]
    NoMatchingIdentity { file: PathBuf, identities: Vec<PathBuf> },

    #[error("{file} is not a valid age file: {reason}")]
    NotAgeFile { file: PathBuf, reason: String },

    #[error("cannot encrypt {file}: {reason}")]
    Encrypt { file: PathBuf, reason: String },

    #[error("{}: {source}", crate::fsutil::shown(path))]
    Io { path: PathBuf, source: io::Error },

    #[error(
        "{path} is not a valid hearth recipients manifest: {reason} (delete it and run \
         `hearth secrets rekey` to rebuild it)"
    )]
    Manifest { path: PathBuf, reason: String },
}

impl SecretsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        SecretsError::Io { path: path.into(), source }
    }
}

/// Displays a list of paths as `a, b, c`.
struct PathList<'a>(&'a [PathBuf]);

impl fmt::Display for PathList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(none)");
        }
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", crate::fsutil::shown(p))?;
        }
        Ok(())
    }
}
