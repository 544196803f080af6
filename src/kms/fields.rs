//! EncryptFields and DecryptFields: field-level encryption of JSON documents (crypto.md §4) under
//! a KMS key. A symmetric key wraps a fresh per-document data key as a §1 blob of suite 0x02
//! ([`blob::SUITE_FIELD_DATA_KEY`]) and lends its material (never leaving the daemon) to
//! deterministic mode; an RSA ENCRYPT_DECRYPT key wraps it with RSAES-OAEP-SHA-256 labelled with
//! the encryption context (public-key mode, which clients can also produce offline from the public
//! key alone). The document work itself is [`crate::crypto::fields`].
//!
//! Why not plain GenerateDataKey blobs: Decrypt would then hand a document's data key to anyone
//! allowed to Decrypt under its context, and anyone allowed GenerateDataKey could build a `_vfe`
//! (and its MAC) around a data key of their own, into which they copy deterministic values from
//! documents of other contexts, which DecryptFields would then decrypt under the forger's context.
//! A suite only this module makes and opens (and an OAEP label that plain RSA Decrypt lacks) keeps
//! data keys inside vaultd, so only vaultd can make a MAC DecryptFields accepts.

use serde_json::Value;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{CachedKey, Kms};
use crate::{
    crypto::{
        blob,
        context::EncryptionContext,
        fields::{self, FieldError, FieldSpec, Metadata, Wrap},
    },
    error::{Error, ErrorKind, Result},
    model::{KeySpec, KeyUsage},
};

/// The largest document EncryptFields takes, in bytes of JSON text.
pub const MAX_DOCUMENT: usize = 1 << 20;
/// The largest document DecryptFields takes: room for what EncryptFields makes of the largest
/// document (base64 adds a third, plus `_vfe`).
pub const MAX_ENCRYPTED_DOCUMENT: usize = 2 << 20;

/// A document that went through EncryptFields or DecryptFields. Holds plaintext (the decrypted
/// fields, or the document's other members): zeroized on drop, not `Debug`.
pub struct FieldsResult {
    pub document: Zeroizing<String>,
    pub key_arn: String,
}

/// A field-encrypted document, parsed, with its `_vfe` metadata read (not yet authenticated).
pub struct EncryptedDocument {
    document: Value,
    pub metadata: Metadata,
}

impl From<FieldError> for Error {
    fn from(err: FieldError) -> Self {
        match err {
            FieldError::Invalid(message) => Error::validation(message),
            FieldError::InvalidCiphertext => Error::invalid_ciphertext(),
            FieldError::Rng => crate::crypto::Error::Rng.into(),
        }
    }
}

fn parse(document: &str, limit: usize) -> Result<Value> {
    if document.len() > limit {
        return Err(Error::validation(format!(
            "The document is {} bytes; the limit is {limit}.",
            document.len()
        )));
    }
    Ok(fields::parse_document(document)?)
}

fn serialize(document: &Value) -> Zeroizing<String> {
    Zeroizing::new(serde_json::to_string(document).expect("a JSON value serializes"))
}

/// How a key wraps a document's data key, by its spec: symmetric keys as a §1 blob, RSA keys with
/// OAEP-SHA-256. Other keys, and keys not for ENCRYPT_DECRYPT, cannot.
fn wrap_for(key: &CachedKey, arn: &str) -> Result<Wrap> {
    let spec = key.record.key_spec;
    match (key.record.key_usage, spec) {
        (KeyUsage::EncryptDecrypt, KeySpec::SymmetricDefault) => Ok(Wrap::Kms),
        (KeyUsage::EncryptDecrypt, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096) => {
            Ok(Wrap::RsaOaepSha256)
        }
        (usage, _) => Err(Error::new(
            ErrorKind::InvalidKeyUsage,
            format!(
                "{arn} (key spec {spec}, key usage {usage}) cannot encrypt fields: use a symmetric or \
                 RSA key with key usage ENCRYPT_DECRYPT."
            ),
        )),
    }
}

fn symmetric(key: &CachedKey) -> Result<&crate::crypto::secret::Key256> {
    key.current_material()?
        .symmetric()
        .ok_or_else(|| Error::internal("The key material is not a symmetric key."))
}

fn rsa_public(key: &CachedKey) -> Result<&crate::crypto::asymmetric::PublicKey> {
    key.current_material()?
        .public_key()
        .map(|(public, _)| public)
        .ok_or_else(|| Error::internal("The key material is not an RSA key."))
}

/// The symmetric material of `version` of `key`, for deterministic mode.
fn deterministic_material(key: &CachedKey, version: u32) -> Option<Zeroizing<[u8; 32]>> {
    let material = key.symmetric_version(version)?;
    Some(Zeroizing::new(*material.expose()))
}

impl Kms {
    /// EncryptFields: encrypts the values at `fields` of `document` under key `id` (authorized by
    /// the caller for kms:GenerateDataKey).
    pub fn encrypt_fields(
        &self,
        id: Uuid,
        document: &str,
        fields: &[FieldSpec],
        context: &EncryptionContext,
    ) -> Result<FieldsResult> {
        let document = parse(document, MAX_DOCUMENT)?;
        let key = self.key(id)?;
        let arn = self.arns.key(id);
        self.require_enabled(&key.record)?;
        let wrap = wrap_for(&key, &arn)?;
        let data_key = crate::crypto::random_bytes(32)?;
        let dk = match wrap {
            Wrap::Kms => blob::seal_as(
                blob::SUITE_FIELD_DATA_KEY,
                symmetric(&key)?,
                *id.as_bytes(),
                key.record.current_version,
                context,
                &data_key,
            )?,
            Wrap::RsaOaepSha256 => rsa_public(&key)?
                .encrypt_oaep_sha256_labelled(&fields::oaep_label(context)?, &data_key)?,
        };
        let data_key: &[u8; 32] = data_key.as_slice().try_into().expect("32-byte data key");
        let current = key.record.current_version;
        let deterministic = || {
            deterministic_material(&key, current)
                .map(|material| (current, material))
                .ok_or_else(|| {
                    FieldError::Invalid("deterministic mode needs a symmetric key".into())
                })
        };
        let encrypted = fields::encrypt_document(
            document,
            fields,
            data_key,
            &arn,
            wrap,
            &dk,
            context,
            &deterministic,
        )?;
        Ok(FieldsResult {
            document: serialize(&encrypted),
            key_arn: arn,
        })
    }

    /// Parses a field-encrypted document and reads its `_vfe` metadata, whose key the caller
    /// resolves and authorizes before [`Kms::decrypt_fields`].
    pub fn read_encrypted_document(&self, document: &str) -> Result<EncryptedDocument> {
        let document = parse(document, MAX_ENCRYPTED_DOCUMENT)?;
        let metadata = fields::read_metadata(&document)?;
        Ok(EncryptedDocument { document, metadata })
    }

    /// DecryptFields: `id` is the key `_vfe` names, resolved (and authorized for kms:Decrypt) by
    /// the caller. The document's MAC is checked before any field is decrypted.
    pub fn decrypt_fields(&self, id: Uuid, encrypted: EncryptedDocument) -> Result<FieldsResult> {
        let EncryptedDocument { document, metadata } = encrypted;
        let key = match self.key(id) {
            Ok(key) => key,
            Err(e) if e.is(ErrorKind::NotFound) => return Err(Error::invalid_ciphertext()),
            Err(e) => return Err(e),
        };
        let arn = self.arns.key(id);
        self.require_enabled(&key.record)?;
        if wrap_for(&key, &arn)? != metadata.wrap {
            return Err(Error::invalid_ciphertext());
        }
        let data_key = match metadata.wrap {
            Wrap::Kms => {
                let header = blob::parse_header_of(blob::SUITE_FIELD_DATA_KEY, &metadata.dk)
                    .map_err(|_| Error::invalid_ciphertext())?;
                if Uuid::from_bytes(header.key_id) != id {
                    return Err(Error::invalid_ciphertext());
                }
                let material = key
                    .symmetric_version(header.material_version)
                    .ok_or_else(Error::invalid_ciphertext)?;
                blob::open_as(
                    blob::SUITE_FIELD_DATA_KEY,
                    material,
                    &metadata.dk,
                    &metadata.context,
                )?
            }
            Wrap::RsaOaepSha256 => key
                .current_material()?
                .private_key()
                .ok_or_else(|| Error::internal("The key material is not an RSA key."))?
                .decrypt_oaep_sha256_labelled(
                    &fields::oaep_label(&metadata.context)?,
                    &metadata.dk,
                )?,
        };
        let data_key: &[u8; 32] = data_key
            .as_slice()
            .try_into()
            .map_err(|_| Error::invalid_ciphertext())?;
        let deterministic =
            |version| deterministic_material(&key, version).ok_or(FieldError::InvalidCiphertext);
        let decrypted = fields::decrypt_document(document, &metadata, data_key, &deterministic)?;
        Ok(FieldsResult {
            document: serialize(&decrypted),
            key_arn: arn,
        })
    }
}
