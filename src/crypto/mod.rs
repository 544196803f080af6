//! Cryptography as pure functions and key types: no I/O, no clocks, no knowledge of gRPC or storage.
//!
//! - [`asymmetric`] — RSA and ECC NIST P-256 keys: sign, verify, RSAES-OAEP, ECDH (crypto.md §5).
//! - [`blob`] — the symmetric ciphertext blob of Encrypt and GenerateDataKey (crypto.md §1).
//! - [`context`] — the canonical encoding of an encryption context.
//! - [`mac`] — HMAC keys: GenerateMac and VerifyMac.
//! - [`barrier`] — the root key, the keyring of barrier keys and sealed columns (crypto.md §2).
//! - [`secret`] — types that hold key material; they zeroize on drop and redact their `Debug`.
//! - [`stream`] — envelope-encrypted files and streams (crypto.md §3), sealed in batches.
//! - [`fields`] — field-level encryption of JSON documents (crypto.md §4), with its strict JSON,
//!   RFC 8785 canonical JSON and JSON Pointers.
//!
//! Every failure to authenticate a ciphertext is one error, [`Error::InvalidCiphertext`], so that
//! callers cannot leak which check failed.

pub mod asymmetric;
pub mod barrier;
pub mod blob;
pub mod context;
pub mod fields;
pub mod mac;
pub mod secret;
pub mod stream;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Errors of the crypto layer.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The ciphertext is malformed, tampered, for another key or another context. Deliberately
    /// uninformative.
    #[error("the ciphertext is invalid or does not match its key or encryption context")]
    InvalidCiphertext,
    /// The keyring does not open under the root key: the root key is wrong or the data is damaged.
    #[error("the root key does not unlock this database (wrong root key, or a damaged keyring)")]
    WrongRootKey,
    /// Caller input the operation cannot take: more than the format can carry, a digest of the
    /// wrong length, a peer public key that does not parse. Reported to the caller as a
    /// validation error, with this message.
    #[error("{0}")]
    InvalidInput(&'static str),
    /// A malformed encoding of a key or keyring, or a key asked for an algorithm it does not have
    /// (which the domain checks first): an internal error.
    #[error("{0}")]
    Malformed(&'static str),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| Error::Rng)
}

/// `n` random bytes, zeroized on drop.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    fill_random(&mut buf)?;
    Ok(buf)
}

/// A random array (salts, IVs, ids).
pub fn random_array<const N: usize>() -> Result<[u8; N], Error> {
    let mut buf = [0u8; N];
    fill_random(&mut buf)?;
    Ok(buf)
}

/// HKDF-SHA256 into a 32-byte key.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand_multi_info(info, okm.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    okm
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}
