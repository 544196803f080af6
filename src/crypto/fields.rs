//! Field-level encryption of JSON documents (crypto.md §4): values at RFC 6901 JSON Pointer paths
//! become `"vfe1:" + base64url(body)` strings, in random mode (a per-document data key) or
//! deterministic mode (a per-path key derived from the KMS key's material, for equality search),
//! and the document gains a `_vfe` member naming the key, the wrapped data key, the encryption
//! context, the encrypted paths and a MAC over all of them, checked before anything is decrypted.
//!
//! Pure: the data key, its wrapping and the key material come from the caller (the KMS domain, or
//! vaultctl offline with an RSA public key).

use serde_json::Value;
use zeroize::Zeroizing;

use super::context::EncryptionContext;

/// The prefix of an encrypted value.
pub const PREFIX: &str = "vfe1:";
/// The reserved member that carries the metadata.
pub const META: &str = "_vfe";
/// The most paths one call encrypts.
pub const MAX_PATHS: usize = 256;

/// Why a document does not encrypt or decrypt. Messages name paths, never values.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    /// The request or the document's structure is invalid (reported as a validation error).
    #[error("{0}")]
    Invalid(String),
    /// A MAC, a value or a data key does not authenticate, or a value is not where the MAC says.
    /// Deliberately uninformative.
    #[error("the document's encrypted fields do not verify")]
    InvalidCiphertext,
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

/// How the per-document data key is wrapped (`_vfe.wrap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrap {
    /// `"kms"`: a §1 ciphertext blob under a symmetric key, bound to the context.
    Kms,
    /// `"rsa-oaep-sha256"`: RSAES-OAEP-SHA-256 under an RSA key's public key (public-key mode).
    RsaOaepSha256,
}

/// One path to encrypt and its mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub path: String,
    pub deterministic: bool,
}

/// The `_vfe` member of an encrypted document, parsed and checked for shape (not yet
/// authenticated: its MAC is checked by [`decrypt_document`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The key ARN that wraps the data key.
    pub key: String,
    pub wrap: Wrap,
    /// The wrapped data key.
    pub dk: Vec<u8>,
    pub context: EncryptionContext,
    /// The encrypted paths, sorted by their UTF-8 bytes.
    pub paths: Vec<String>,
    pub mac: [u8; 32],
}

/// The material of one version of the KMS key, for deterministic mode: `(version, material)`.
pub type Material = (u32, Zeroizing<[u8; 32]>);

/// Parses a document as strict JSON: duplicate member names (at any depth) are refused, and the
/// top level must be an object.
pub fn parse_document(text: &str) -> Result<Value, FieldError> {
    let _ = text;
    todo!()
}

/// RFC 8785 (JCS) canonical JSON text of `value`.
pub fn canonical_json(value: &Value) -> String {
    let _ = value;
    todo!()
}

/// Encrypts the values at `fields` in `document` under `data_key` (random mode) or the current
/// key material `deterministic` returns (deterministic mode, asked for only when a field needs
/// it), and adds `_vfe`. `dk` is `data_key` wrapped as `wrap` says, by the caller.
#[allow(clippy::too_many_arguments)]
pub fn encrypt_document(
    document: Value,
    fields: &[FieldSpec],
    data_key: &[u8; 32],
    key_arn: &str,
    wrap: Wrap,
    dk: &[u8],
    context: &EncryptionContext,
    deterministic: &dyn Fn() -> Result<Material, FieldError>,
) -> Result<Value, FieldError> {
    let _ = (
        document,
        fields,
        data_key,
        key_arn,
        wrap,
        dk,
        context,
        deterministic,
    );
    todo!()
}

/// Reads and checks the shape of `document`'s `_vfe` member.
pub fn read_metadata(document: &Value) -> Result<Metadata, FieldError> {
    let _ = document;
    todo!()
}

/// Checks the MAC, then decrypts every path `metadata` lists and removes `_vfe`. `data_key` is the
/// unwrapped `metadata.dk`; `deterministic` returns the key material of a version.
pub fn decrypt_document(
    document: Value,
    metadata: &Metadata,
    data_key: &[u8; 32],
    deterministic: &dyn Fn(u32) -> Result<Zeroizing<[u8; 32]>, FieldError>,
) -> Result<Value, FieldError> {
    let _ = (document, metadata, data_key, deterministic);
    todo!()
}
