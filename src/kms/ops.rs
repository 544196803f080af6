//! The encryption operations: Encrypt, Decrypt and ReEncrypt (symmetric keys, and RSA keys with
//! RSAES-OAEP), GenerateDataKey (with and without plaintext) and GenerateRandom. They run on cached
//! material only.

use uuid::Uuid;
use zeroize::Zeroizing;

use super::{CachedKey, Kms};
use crate::{
    crypto::{asymmetric::AsymmetricSpec, blob, context::EncryptionContext, secret::Key256},
    error::{Error, ErrorKind, Result},
    model::{DataKeySpec, EncryptionAlgorithm, KeySpec, KeyUsage},
};

/// Encrypt's plaintext limit, as KMS.
pub const MAX_PLAINTEXT: usize = 4096;
/// Decrypt's ciphertext limit, as KMS.
pub const MAX_CIPHERTEXT: usize = 6144;
/// GenerateDataKey's and GenerateRandom's byte limits.
pub const MAX_RANDOM_BYTES: i32 = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encrypted {
    pub ciphertext_blob: Vec<u8>,
    pub key_arn: String,
    pub material_version: u32,
    pub algorithm: EncryptionAlgorithm,
}

/// A decrypted plaintext. Holds secret bytes (zeroized on drop; not `Debug`).
pub struct Decrypted {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub key_arn: String,
    pub material_version: u32,
    pub algorithm: EncryptionAlgorithm,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReEncrypted {
    pub ciphertext_blob: Vec<u8>,
    pub source_key_arn: String,
    pub key_arn: String,
    pub source_material_version: u32,
    pub material_version: u32,
    pub source_algorithm: EncryptionAlgorithm,
    pub destination_algorithm: EncryptionAlgorithm,
}

/// A data key: its plaintext (zeroized on drop; not `Debug`) and the blob that wraps it.
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub ciphertext_blob: Vec<u8>,
    pub key_arn: String,
    pub material_version: u32,
}

impl Kms {
    /// A key usable for symmetric encryption right now (GenerateDataKey, GenerateDataKeyPair).
    pub(super) fn symmetric_key(&self, id: Uuid) -> Result<std::sync::Arc<CachedKey>> {
        let key = self.key(id)?;
        self.require_enabled(&key.record)?;
        check_encryption(&key, None, &self.arns.key(id))?;
        Ok(key)
    }

    /// Seals `plaintext` under a symmetric key's current material (crypto.md §1).
    pub(super) fn seal_under(
        &self,
        key: &CachedKey,
        context: &EncryptionContext,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let material = symmetric_material(key)?;
        Ok(blob::seal(
            material,
            *key.record.id.as_bytes(),
            key.record.current_version,
            context,
            plaintext,
        )?)
    }

    /// Encrypts under a key checked by [`check_encryption`]: a ciphertext blob for a symmetric
    /// key, a bare RSAES-OAEP ciphertext (as AWS returns it) for an RSA key.
    fn encrypt_under(
        &self,
        key: &CachedKey,
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        if algorithm == EncryptionAlgorithm::SymmetricDefault {
            return self.seal_under(key, context, plaintext);
        }
        require_no_context(context)?;
        let (public, _) = key
            .current_material()?
            .public_key()
            .ok_or_else(|| Error::internal("The key material is not an RSA key."))?;
        Ok(public.encrypt(algorithm, plaintext)?)
    }

    pub fn encrypt(
        &self,
        id: Uuid,
        plaintext: &[u8],
        context: &EncryptionContext,
        algorithm: Option<EncryptionAlgorithm>,
    ) -> Result<Encrypted> {
        if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member \
                 must have length between 1 and {MAX_PLAINTEXT}"
            )));
        }
        let key = self.key(id)?;
        self.require_enabled(&key.record)?;
        let algorithm = check_encryption(&key, algorithm, &self.arns.key(id))?;
        Ok(Encrypted {
            ciphertext_blob: self.encrypt_under(&key, algorithm, context, plaintext)?,
            key_arn: self.arns.key(id),
            material_version: key.record.current_version,
            algorithm,
        })
    }

    /// The key a ciphertext blob names, checked against the KeyId the caller passed (if any):
    /// a mismatch is IncorrectKeyException. An RSA ciphertext names no key: the caller's KeyId
    /// is the key. Callers authorize against this key before decrypting.
    pub fn decrypt_key(&self, ciphertext_blob: &[u8], key_id: Option<Uuid>) -> Result<Uuid> {
        if ciphertext_blob.is_empty() || ciphertext_blob.len() > MAX_CIPHERTEXT {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: \
                 Member must have length between 1 and {MAX_CIPHERTEXT}"
            )));
        }
        if let Some(expected) = key_id
            && self
                .cached(expected)
                .is_some_and(|k| k.record.key_spec != KeySpec::SymmetricDefault)
        {
            return Ok(expected);
        }
        let header =
            blob::parse_header(ciphertext_blob).map_err(|_| Error::invalid_ciphertext())?;
        let named = Uuid::from_bytes(header.key_id);
        if let Some(expected) = key_id
            && expected != named
        {
            return Err(Error::new(
                ErrorKind::IncorrectKey,
                "The key ID in the request does not identify the KMS key that encrypted the ciphertext.",
            ));
        }
        Ok(named)
    }

    /// Decrypt. `id` is what [`Kms::decrypt_key`] returned for this blob.
    pub fn decrypt(
        &self,
        id: Uuid,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        algorithm: Option<EncryptionAlgorithm>,
    ) -> Result<Decrypted> {
        // A blob naming a key that does not exist here is just an invalid ciphertext.
        let key = match self.key(id) {
            Ok(key) => key,
            Err(e) if e.is(ErrorKind::NotFound) => return Err(Error::invalid_ciphertext()),
            Err(e) => return Err(e),
        };
        if key.record.key_spec != KeySpec::SymmetricDefault {
            return self.decrypt_asymmetric(&key, ciphertext_blob, context, algorithm);
        }
        let header =
            blob::parse_header(ciphertext_blob).map_err(|_| Error::invalid_ciphertext())?;
        if Uuid::from_bytes(header.key_id) != id {
            return Err(Error::invalid_ciphertext());
        }
        self.require_enabled(&key.record)?;
        let algorithm = check_encryption(&key, algorithm, &self.arns.key(id))?;
        let material = key
            .symmetric_version(header.material_version)
            .ok_or_else(Error::invalid_ciphertext)?;
        let plaintext = blob::open(material, ciphertext_blob, context)?;
        Ok(Decrypted {
            plaintext,
            key_arn: self.arns.key(id),
            material_version: header.material_version,
            algorithm,
        })
    }

    /// Decrypt with an RSA key (RSAES-OAEP): the caller named the key and the algorithm.
    fn decrypt_asymmetric(
        &self,
        key: &CachedKey,
        ciphertext: &[u8],
        context: &EncryptionContext,
        algorithm: Option<EncryptionAlgorithm>,
    ) -> Result<Decrypted> {
        let id = key.record.id;
        self.require_enabled(&key.record)?;
        let algorithm = check_encryption(key, algorithm, &self.arns.key(id))?;
        require_no_context(context)?;
        let private = key
            .current_material()?
            .private_key()
            .ok_or_else(|| Error::internal("The key material is not an RSA key."))?;
        Ok(Decrypted {
            plaintext: private.decrypt(algorithm, ciphertext)?,
            key_arn: self.arns.key(id),
            material_version: key.record.current_version,
            algorithm,
        })
    }

    /// Whether private-key operations on key `id` take long enough (RSA: a millisecond or more)
    /// that a front end should run them off its event loop.
    pub fn is_costly(&self, id: Uuid) -> bool {
        self.cached(id).is_some_and(|k| {
            AsymmetricSpec::from_key_spec(k.record.key_spec).is_some_and(|s| s.rsa_bits().is_some())
        })
    }

    /// ReEncrypt: decrypts under the source key and encrypts under the destination key without the
    /// plaintext leaving the daemon.
    #[allow(clippy::too_many_arguments)]
    pub fn re_encrypt(
        &self,
        source: Uuid,
        ciphertext_blob: &[u8],
        source_context: &EncryptionContext,
        source_algorithm: Option<EncryptionAlgorithm>,
        destination: Uuid,
        destination_context: &EncryptionContext,
        destination_algorithm: Option<EncryptionAlgorithm>,
    ) -> Result<ReEncrypted> {
        let key = self.key(destination)?;
        self.require_enabled(&key.record)?;
        let destination_algorithm =
            check_encryption(&key, destination_algorithm, &self.arns.key(destination))?;
        let decrypted = self.decrypt(source, ciphertext_blob, source_context, source_algorithm)?;
        let max = key_max_plaintext(&key, destination_algorithm);
        if decrypted.plaintext.len() > max {
            return Err(Error::validation(format!(
                "The plaintext is {} bytes long: too long for {} with {destination_algorithm} (at most {max} bytes).",
                decrypted.plaintext.len(),
                key.record.key_spec
            )));
        }
        Ok(ReEncrypted {
            ciphertext_blob: self.encrypt_under(
                &key,
                destination_algorithm,
                destination_context,
                &decrypted.plaintext,
            )?,
            source_key_arn: decrypted.key_arn,
            key_arn: self.arns.key(destination),
            source_material_version: decrypted.material_version,
            material_version: key.record.current_version,
            source_algorithm: decrypted.algorithm,
            destination_algorithm,
        })
    }

    /// GenerateDataKey: `key_spec` (AES_256 / AES_128) or `number_of_bytes` (1–1,024), exactly one.
    pub fn generate_data_key(
        &self,
        id: Uuid,
        context: &EncryptionContext,
        key_spec: Option<DataKeySpec>,
        number_of_bytes: Option<i32>,
    ) -> Result<DataKey> {
        let len = data_key_len(key_spec, number_of_bytes)?;
        let key = self.symmetric_key(id)?;
        let plaintext = crate::crypto::random_bytes(len)?;
        Ok(DataKey {
            ciphertext_blob: self.seal_under(&key, context, &plaintext)?,
            plaintext,
            key_arn: self.arns.key(id),
            material_version: key.record.current_version,
        })
    }

    /// GenerateRandom: 1–1,024 bytes from the OS CSPRNG.
    pub fn generate_random(&self, number_of_bytes: Option<i32>) -> Result<Zeroizing<Vec<u8>>> {
        let n = number_of_bytes
            .ok_or_else(|| Error::validation("NumberOfBytes is required: specify 1 to 1024."))?;
        Ok(crate::crypto::random_bytes(random_len(
            n,
            "numberOfBytes",
        )?)?)
    }
}

fn random_len(n: i32, field: &str) -> Result<usize> {
    if !(1..=MAX_RANDOM_BYTES).contains(&n) {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{n}' at '{field}' failed to satisfy constraint: Member \
             must have value between 1 and {MAX_RANDOM_BYTES}"
        )));
    }
    Ok(n as usize)
}

fn data_key_len(key_spec: Option<DataKeySpec>, number_of_bytes: Option<i32>) -> Result<usize> {
    match (key_spec, number_of_bytes) {
        (Some(spec), None) => Ok(spec.byte_len()),
        (None, Some(n)) => random_len(n, "numberOfBytes"),
        (Some(_), Some(_)) => Err(Error::validation(
            "Specify either KeySpec or NumberOfBytes, not both.",
        )),
        (None, None) => Err(Error::validation(
            "Specify either KeySpec or NumberOfBytes.",
        )),
    }
}

/// The encryption algorithm an operation on `key` uses, checked as AWS does: the key must be
/// for ENCRYPT_DECRYPT, and the algorithm (SYMMETRIC_DEFAULT when not given) one of its spec's.
fn check_encryption(
    key: &CachedKey,
    algorithm: Option<EncryptionAlgorithm>,
    arn: &str,
) -> Result<EncryptionAlgorithm> {
    if key.record.key_usage != KeyUsage::EncryptDecrypt {
        return Err(Error::new(
            ErrorKind::InvalidKeyUsage,
            format!(
                "{arn} key usage is {} which is not valid for this operation.",
                key.record.key_usage
            ),
        ));
    }
    let algorithm = algorithm.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    let allowed = match AsymmetricSpec::from_key_spec(key.record.key_spec) {
        Some(spec) => spec.encryption_algorithms().contains(&algorithm),
        None => algorithm == EncryptionAlgorithm::SymmetricDefault,
    };
    if !allowed {
        return Err(Error::new(
            ErrorKind::InvalidKeyUsage,
            format!(
                "Algorithm {algorithm} is incompatible with key spec {}.",
                key.record.key_spec
            ),
        ));
    }
    Ok(algorithm)
}

/// The longest plaintext `key` encrypts with `algorithm`.
fn key_max_plaintext(key: &CachedKey, algorithm: EncryptionAlgorithm) -> usize {
    AsymmetricSpec::from_key_spec(key.record.key_spec)
        .and_then(|spec| spec.max_plaintext_len(algorithm))
        .unwrap_or(MAX_PLAINTEXT)
}

/// An encryption context binds symmetric ciphertexts only: with an RSA key it would silently
/// protect nothing, so it is refused.
fn require_no_context(context: &EncryptionContext) -> Result<()> {
    if context.is_empty() {
        return Ok(());
    }
    Err(Error::validation(
        "EncryptionContext is supported only with symmetric encryption keys; RSA encryption \
         cannot bind it.",
    ))
}

fn symmetric_material(key: &CachedKey) -> Result<&Key256> {
    key.current_material()?
        .symmetric()
        .ok_or_else(|| Error::internal("The key material is not a symmetric key."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_key_length_rules() {
        assert_eq!(data_key_len(Some(DataKeySpec::Aes256), None).unwrap(), 32);
        assert_eq!(data_key_len(Some(DataKeySpec::Aes128), None).unwrap(), 16);
        assert_eq!(data_key_len(None, Some(1)).unwrap(), 1);
        assert_eq!(data_key_len(None, Some(1024)).unwrap(), 1024);
        for bad in [
            (None, Some(0)),
            (None, Some(1025)),
            (None, None),
            (Some(DataKeySpec::Aes256), Some(32)),
        ] {
            assert!(
                data_key_len(bad.0, bad.1)
                    .unwrap_err()
                    .is(ErrorKind::Validation),
                "{bad:?}"
            );
        }
    }
}
