//! Bastion users: TOTP seeds and the SSH user CA (work in progress).

use crate::secrets::SecretBytes;

/// A new TOTP seed: 20 random bytes, base32 (RFC 4648, no padding), as
/// google-authenticator writes it.
pub fn generate_totp_seed() -> SecretBytes {
    use rand::RngCore;
    let mut raw = zeroize::Zeroizing::new([0u8; 20]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    SecretBytes::new(data_encoding::BASE32_NOPAD.encode(raw.as_ref()).into_bytes())
}

/// A new SSH user CA keypair: (OpenSSH private key, public key line).
pub fn generate_ca() -> Result<(SecretBytes, String), crate::secrets::SecretsError> {
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519).expect("ed25519 key generation cannot fail");
    let private = key.to_openssh(ssh_key::LineEnding::LF).expect("ed25519 keys encode");
    let mut public = key.public_key().to_openssh().expect("ed25519 keys encode");
    public.push_str(" hearth-user-ca");
    Ok((SecretBytes::new(private.as_bytes().to_vec()), public))
}
