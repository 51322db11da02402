//! WireGuard keys: X25519 keypairs and preshared keys, byte-compatible with
//! `wg genkey`, `wg pubkey` and `wg genpsk` (base64 of 32 bytes, private keys
//! clamped as `wg genkey` clamps them).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// A freshly generated keypair. The private half is zeroized on drop.
pub struct Keypair {
    pub private: Zeroizing<String>,
    pub public: String,
}

/// Generates a keypair like `wg genkey | tee priv | wg pubkey`.
pub fn generate_keypair() -> Keypair {
    let mut raw = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(raw.as_mut());
    // Clamp like wg genkey (curve25519_clamp_secret).
    raw[0] &= 248;
    raw[31] = (raw[31] & 127) | 64;
    let secret = StaticSecret::from(*raw);
    let public = PublicKey::from(&secret);
    Keypair { private: Zeroizing::new(B64.encode(raw.as_ref())), public: B64.encode(public.as_bytes()) }
}

/// Generates a preshared key like `wg genpsk`.
pub fn generate_psk() -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(raw.as_mut());
    Zeroizing::new(B64.encode(raw.as_ref()))
}

/// `bytes` random bytes as unpadded base64url text (a generated password).
pub fn generate_random_text(bytes: usize) -> crate::secrets::SecretBytes {
    let mut raw = Zeroizing::new(vec![0u8; bytes]);
    OsRng.fill_bytes(raw.as_mut());
    let text = Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_slice()));
    crate::secrets::SecretBytes::from_slice(text.as_bytes())
}

/// The public key of a base64 private key, like `wg pubkey`.
pub fn public_from_private(private_b64: &str) -> Result<String, KeyError> {
    let raw = Zeroizing::new(decode32(private_b64.trim())?);
    let secret = StaticSecret::from(*raw);
    Ok(B64.encode(PublicKey::from(&secret).as_bytes()))
}

/// Checks that a string is a WireGuard key: base64 of exactly 32 bytes.
pub fn check_key(k: &str) -> Result<(), KeyError> {
    decode32(k).map(|_| ())
}

fn decode32(k: &str) -> Result<[u8; 32], KeyError> {
    let bytes = B64.decode(k).map_err(|_| KeyError::NotBase64)?;
    bytes.try_into().map_err(|b: Vec<u8>| KeyError::WrongLength(b.len()))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not base64; a WireGuard key looks like the output of `wg genkey | wg pubkey` (44 characters ending in `=`)")]
    NotBase64,
    #[error("decodes to {0} bytes, a WireGuard key has 32")]
    WrongLength(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_public_key_matches_private() {
        let kp = generate_keypair();
        assert_eq!(public_from_private(&kp.private).unwrap(), kp.public);
        assert_eq!(kp.public.len(), 44);
        check_key(&kp.public).unwrap();
    }

    #[test]
    fn known_vector_matches_wg_pubkey() {
        // RFC 7748 section 6.1 Alice's key; `wg pubkey` gives the same.
        let private = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
        assert_eq!(public_from_private(private).unwrap(), "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
    }

    #[test]
    fn rejects_malformed_keys() {
        assert_eq!(check_key("abc"), Err(KeyError::NotBase64));
        assert_eq!(check_key("YWJj"), Err(KeyError::WrongLength(3)));
    }
}
