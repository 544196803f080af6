//! Bring your own key: GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial,
//! for keys created with origin EXTERNAL, as AWS does them.
//!
//! - GetParametersForImport makes a fresh RSA wrapping key pair and returns its public half with
//!   an import token valid for 24 hours. The token is self-contained: the wrapping private key, the
//!   wrapping algorithm and the expiry, sealed under the barrier and bound to the key (no state is
//!   stored; a token for one key does not open for another).
//! - ImportKeyMaterial unwraps the material (RSAES-OAEP, or RSA-OAEP of an AES key followed by AES
//!   key wrap with padding, RFC 5649, for material too long for OAEP), checks it fits the key spec,
//!   and stores it sealed like generated material. Once a key has had material, only that same
//!   material re-imports (it is fingerprinted); new material for a symmetric key comes with
//!   ImportType NEW_KEY_MATERIAL and becomes current at RotateKeyOnDemand.
//! - Material may expire (ValidTo): at that instant it is deleted, as by DeleteImportedKeyMaterial,
//!   and the key waits for an import again (PendingImport).

use std::time::{Duration, SystemTime};

use std::sync::Arc;

use aes_kw::{KeyInit, KwpAes256};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Kms, material::Material};
use crate::{
    clock::{DAY, from_millis, to_millis},
    crypto::{
        asymmetric::{AsymmetricSpec, PrivateKey},
        barrier::{Binding, Purpose},
    },
    error::{Error, ErrorKind, Result},
    model::{
        EncryptionAlgorithm, ExpirationModel, ImportType, KeyRecord, KeySpec, KeyState,
        MaterialVersion, Origin, RotationType, WrappingAlgorithm, WrappingKeySpec,
    },
};

/// How long GetParametersForImport's public key and token stay valid, as AWS.
pub const IMPORT_PARAMETERS_VALID_FOR: Duration = DAY;
/// The furthest ValidTo that ImportKeyMaterial accepts, as AWS.
pub const MAX_VALID_TO: Duration = Duration::from_secs(365 * 86_400);

const TOKEN_VERSION: u8 = 1;

/// GetParametersForImport's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportParameters {
    pub key_arn: String,
    pub import_token: Vec<u8>,
    /// The wrapping key, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    pub valid_to: SystemTime,
}

/// ImportKeyMaterial's and DeleteImportedKeyMaterial's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedMaterial {
    pub key_arn: String,
    /// The material version imported (or the current one, for a deletion).
    pub material_version: u32,
}

/// What the import token carries.
struct ImportToken {
    algorithm: WrappingAlgorithm,
    wrapping_key: PrivateKey,
    valid_to: SystemTime,
}

fn wrapping_spec(spec: WrappingKeySpec) -> AsymmetricSpec {
    match spec {
        WrappingKeySpec::Rsa2048 => AsymmetricSpec::Rsa2048,
        WrappingKeySpec::Rsa3072 => AsymmetricSpec::Rsa3072,
        WrappingKeySpec::Rsa4096 => AsymmetricSpec::Rsa4096,
    }
}

fn token_binding<T>(record: &KeyRecord, f: impl FnOnce(&Binding<'_>) -> T) -> T {
    let immutable = format!("{}/{}", record.key_spec, record.key_usage);
    f(&Binding {
        table: "import_tokens",
        column: "token",
        stable_id: record.id.as_bytes(),
        immutable: immutable.as_bytes(),
    })
}

fn index_of<T: PartialEq>(all: &[T], value: &T) -> u8 {
    all.iter().position(|v| v == value).expect("a listed value") as u8
}

impl Kms {
    fn require_external(&self, record: &KeyRecord) -> Result<()> {
        if record.origin == Origin::External {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "{} has origin {}: only keys created with origin EXTERNAL take imported material.",
                self.arns.key(record.id),
                record.origin
            ),
        ))
    }

    /// GetParametersForImport. RSA wrapping key generation takes a while: call this off the
    /// event loop.
    pub fn get_parameters_for_import(
        &self,
        id: Uuid,
        algorithm: Option<WrappingAlgorithm>,
        wrapping_key_spec: Option<WrappingKeySpec>,
    ) -> Result<ImportParameters> {
        let algorithm = algorithm.ok_or_else(|| {
            Error::validation("WrappingAlgorithm is required: use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.")
        })?;
        let wrapping_key_spec = wrapping_key_spec.ok_or_else(|| {
            Error::validation("WrappingKeySpec is required: use RSA_2048, RSA_3072 or RSA_4096.")
        })?;
        if algorithm == WrappingAlgorithm::RsaesPkcs1V15 {
            return Err(Error::validation(
                "The RSAES_PKCS1_V1_5 wrapping algorithm is not supported (it is open to padding \
                 oracle attacks): use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.",
            ));
        }
        let key = self.key(id)?;
        let record = &key.record;
        self.require_external(record)?;
        self.require_not_pending_deletion(record)?;
        if AsymmetricSpec::from_key_spec(record.key_spec).is_some()
            && !matches!(
                algorithm,
                WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256
            )
        {
            return Err(Error::validation(format!(
                "Asymmetric key material is too long for {algorithm}: use RSA_AES_KEY_WRAP_SHA_256 \
                 or RSA_AES_KEY_WRAP_SHA_1."
            )));
        }
        let wrapping_key = PrivateKey::generate(wrapping_spec(wrapping_key_spec))?;
        let valid_to = self.now() + IMPORT_PARAMETERS_VALID_FOR;
        let mut plain = Zeroizing::new(vec![
            TOKEN_VERSION,
            index_of(WrappingAlgorithm::ALL, &algorithm),
            index_of(WrappingKeySpec::ALL, &wrapping_key_spec),
        ]);
        plain.extend_from_slice(&to_millis(valid_to).to_be_bytes());
        plain.extend_from_slice(&wrapping_key.to_pkcs8_der());
        let import_token = token_binding(record, |b| {
            self.barrier.seal(Purpose::KeyMaterial, b, &plain)
        })?;
        Ok(ImportParameters {
            key_arn: self.arns.key(id),
            import_token,
            public_key: wrapping_key.public_key_der(),
            valid_to,
        })
    }

    fn open_import_token(&self, record: &KeyRecord, token: &[u8]) -> Result<ImportToken> {
        let invalid = || {
            Error::new(
                ErrorKind::InvalidImportToken,
                format!(
                    "The import token is not valid for {}: use the token GetParametersForImport \
                     returned for this key, with its public key.",
                    self.arns.key(record.id)
                ),
            )
        };
        let plain = token_binding(record, |b| {
            self.barrier.open(Purpose::KeyMaterial, b, token)
        })
        .map_err(|_| invalid())?;
        if plain.len() < 11 || plain[0] != TOKEN_VERSION {
            return Err(invalid());
        }
        let algorithm = *WrappingAlgorithm::ALL
            .get(plain[1] as usize)
            .ok_or_else(invalid)?;
        let spec = *WrappingKeySpec::ALL
            .get(plain[2] as usize)
            .ok_or_else(invalid)?;
        let millis = i64::from_be_bytes(plain[3..11].try_into().expect("8 bytes"));
        let wrapping_key =
            PrivateKey::from_pkcs8_der(wrapping_spec(spec), &plain[11..]).map_err(|_| invalid())?;
        Ok(ImportToken {
            algorithm,
            wrapping_key,
            valid_to: from_millis(millis),
        })
    }

    /// ImportKeyMaterial. `valid_to` with `expiration_model` as AWS: KEY_MATERIAL_EXPIRES needs
    /// a ValidTo (in the future, at most 365 days away), KEY_MATERIAL_DOES_NOT_EXPIRE refuses one;
    /// without a model, a ValidTo means it expires.
    pub fn import_key_material(
        &self,
        id: Uuid,
        import_token: &[u8],
        encrypted_key_material: &[u8],
        valid_to: Option<SystemTime>,
        expiration_model: Option<ExpirationModel>,
        import_type: Option<ImportType>,
    ) -> Result<ImportedMaterial> {
        let now = self.now();
        let expiry_given = valid_to.is_some() || expiration_model.is_some();
        let (expiration_model, valid_to) = expiration(now, valid_to, expiration_model)?;
        if encrypted_key_material.is_empty() || encrypted_key_material.len() > 6144 {
            return Err(Error::validation(
                "1 validation error detected: Value at 'encryptedKeyMaterial' failed to satisfy \
                 constraint: Member must have length between 1 and 6144",
            ));
        }
        let import_type = import_type.unwrap_or(ImportType::ExistingKeyMaterial);
        let key = self.key(id)?;
        self.require_external(&key.record)?;
        self.require_not_pending_deletion(&key.record)?;
        let token = self.open_import_token(&key.record, import_token)?;
        if token.valid_to <= now {
            return Err(Error::new(
                ErrorKind::ExpiredImportToken,
                "The import token has expired: call GetParametersForImport again.",
            ));
        }
        let plain = unwrap_material(&token, encrypted_key_material)?;
        let material = Material::from_import(key.record.key_spec, &plain)?;
        let fingerprint = material.fingerprint(id);

        let _guard = self.write_lock()?;
        let mut current = self.current(id)?;
        self.require_not_pending_deletion(&current.record)?;
        // An expiry that came due meanwhile happens first: an import never cancels it.
        if current.expiry_due(self.now()) {
            current = self.drop_material(&current)?;
        }
        let versions = self.store.materials(id)?;
        let matching = versions.iter().find(|v| {
            v.fingerprint
                .as_deref()
                .is_some_and(|f| bool::from(f.ct_eq(&fingerprint)))
        });
        let mut record = current.record.clone();
        let stored = match import_type {
            ImportType::ExistingKeyMaterial => match (versions.is_empty(), matching) {
                (true, _) => new_version(&record, record.current_version, None, now),
                (false, Some(existing)) => existing.clone(),
                (false, None) => {
                    return Err(Error::new(
                        ErrorKind::IncorrectKeyMaterial,
                        format!(
                            "This is not the key material previously imported into {}; import \
                             that material again, or new material with ImportType \
                             NEW_KEY_MATERIAL (symmetric keys).",
                            self.arns.key(id)
                        ),
                    ));
                }
            },
            ImportType::NewKeyMaterial => {
                if record.key_spec != KeySpec::SymmetricDefault {
                    return Err(Error::new(
                        ErrorKind::UnsupportedOperation,
                        format!(
                            "{} is a {} key: only symmetric keys take new key material (for a \
                             rotation).",
                            self.arns.key(id),
                            record.key_spec
                        ),
                    ));
                }
                if matching.is_some() {
                    return Err(Error::new(
                        ErrorKind::IncorrectKeyMaterial,
                        "This key material was imported into this key before: new key material \
                         must differ.",
                    ));
                }
                match versions.is_empty() {
                    true => new_version(&record, record.current_version, None, now),
                    // Waits for RotateKeyOnDemand (a pending version not yet rotated to is
                    // replaced).
                    false => new_version(
                        &record,
                        record.current_version + 1,
                        Some(RotationType::OnDemand),
                        now,
                    ),
                }
            }
        };
        let version = stored.version;
        // Expiry is the key's: it applies to all of its material, and is set with its current
        // material.
        if version == record.current_version {
            record.expiration_model = Some(expiration_model);
            record.valid_to = valid_to;
        } else if expiry_given {
            return Err(Error::validation(format!(
                "ValidTo and ExpirationModel apply to all of a key's material: give them when \
                 importing its current material (version {}).",
                record.current_version
            )));
        }
        // Usable once all of its material is back (as AWS), not just the current version.
        let complete = (1..=record.current_version)
            .all(|v| v == version || current.materials.contains_key(&v));
        if record.state == KeyState::PendingImport && complete {
            record.state = KeyState::Enabled;
        }
        let stored = MaterialVersion {
            sealed: Some(self.seal_material(&record, version, &material)?),
            fingerprint: Some(fingerprint),
            ..stored
        };
        self.put_material(&current, record, stored, Arc::new(material))?;
        Ok(ImportedMaterial {
            key_arn: self.arns.key(id),
            material_version: version,
        })
    }

    /// DeleteImportedKeyMaterial: every version's material is deleted at once and the key waits
    /// for an import (PendingImport; a key pending deletion stays so).
    pub fn delete_imported_key_material(&self, id: Uuid) -> Result<ImportedMaterial> {
        self.key(id)?;
        let _guard = self.write_lock()?;
        let current = self.current(id)?;
        self.require_external(&current.record)?;
        // Decided by what is stored, not the state: a key waiting for some of its material may
        // hold the rest.
        if current.materials.is_empty() {
            return Err(Error::invalid_state(format!(
                "{} has no key material to delete.",
                self.arns.key(id)
            )));
        }
        self.drop_material(&current)?;
        Ok(ImportedMaterial {
            key_arn: self.arns.key(id),
            material_version: current.record.current_version,
        })
    }

    /// Deletes a key's imported material, store first, then cache. Call under the writer lock.
    fn drop_material(&self, current: &super::CachedKey) -> Result<Arc<super::CachedKey>> {
        let record = KeyRecord {
            state: match current.record.state {
                KeyState::PendingDeletion => KeyState::PendingDeletion,
                _ => KeyState::PendingImport,
            },
            expiration_model: None,
            valid_to: None,
            ..current.record.clone()
        };
        self.store.delete_materials(&record)?;
        let key = Arc::new(super::CachedKey {
            record,
            materials: Default::default(),
        });
        self.keys
            .write()
            .expect("key cache")
            .insert(key.record.id, key.clone());
        Ok(key)
    }

    /// Deletes imported material whose ValidTo has come.
    pub(super) fn expire_material_if_due(&self, id: Uuid) -> Result<bool> {
        if self.cached(id).is_none() && self.load(id)?.is_none() {
            return Ok(false);
        }
        let _guard = self.write_lock()?;
        let Some(current) = self.fresh(id)? else {
            return Ok(false);
        };
        if !current.expiry_due(self.now()) {
            return Ok(false);
        }
        self.drop_material(&current)?;
        tracing::info!(key_id = %id, "deleted imported key material at its expiry");
        Ok(true)
    }
}

fn new_version(
    record: &KeyRecord,
    version: u32,
    rotation_type: Option<RotationType>,
    now: SystemTime,
) -> MaterialVersion {
    MaterialVersion {
        key_id: record.id,
        version,
        created_at: now,
        rotation_type,
        sealed: None,
        fingerprint: None,
    }
}

fn expiration(
    now: SystemTime,
    valid_to: Option<SystemTime>,
    model: Option<ExpirationModel>,
) -> Result<(ExpirationModel, Option<SystemTime>)> {
    match (model, valid_to) {
        (Some(ExpirationModel::KeyMaterialDoesNotExpire), Some(_)) => Err(Error::validation(
            "ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.",
        )),
        (Some(ExpirationModel::KeyMaterialExpires), None) => Err(Error::validation(
            "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.",
        )),
        (_, None) => Ok((ExpirationModel::KeyMaterialDoesNotExpire, None)),
        (_, Some(t)) => {
            if t <= now || t > now + MAX_VALID_TO {
                return Err(Error::validation(
                    "ValidTo must be in the future and at most 365 days from now.",
                ));
            }
            Ok((ExpirationModel::KeyMaterialExpires, Some(t)))
        }
    }
}

/// Unwraps imported material with the token's wrapping key. Any failure is
/// InvalidCiphertextException (one message, so it tells nothing).
fn unwrap_material(token: &ImportToken, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let oaep = |hash: EncryptionAlgorithm, ciphertext: &[u8]| {
        token
            .wrapping_key
            .decrypt(hash, ciphertext)
            .map_err(|_| Error::invalid_ciphertext())
    };
    match token.algorithm {
        WrappingAlgorithm::RsaesOaepSha1 => oaep(EncryptionAlgorithm::RsaesOaepSha1, wrapped),
        WrappingAlgorithm::RsaesOaepSha256 => oaep(EncryptionAlgorithm::RsaesOaepSha256, wrapped),
        WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            let hash = match token.algorithm {
                WrappingAlgorithm::RsaAesKeyWrapSha1 => EncryptionAlgorithm::RsaesOaepSha1,
                _ => EncryptionAlgorithm::RsaesOaepSha256,
            };
            let modulus_len = token.wrapping_key.spec().rsa_bits().unwrap_or(0) / 8;
            // RSA-OAEP(AES key) || AES-KWP(AES key, material); KWP output is at least 16 bytes.
            if wrapped.len() < modulus_len + 16 {
                return Err(Error::invalid_ciphertext());
            }
            let (rsa_part, kwp_part) = wrapped.split_at(modulus_len);
            let aes_key = oaep(hash, rsa_part)?;
            let kw =
                KwpAes256::new_from_slice(&aes_key).map_err(|_| Error::invalid_ciphertext())?;
            let mut buf = Zeroizing::new(vec![0u8; kwp_part.len() - 8]);
            let len = kw
                .unwrap_key(kwp_part, &mut buf)
                .map_err(|_| Error::invalid_ciphertext())?
                .len();
            buf.truncate(len);
            Ok(buf)
        }
        WrappingAlgorithm::RsaesPkcs1V15 => Err(Error::invalid_ciphertext()),
    }
}
