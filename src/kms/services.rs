//! What vaultd's other services (Parameter Store, Secrets Manager) use of KMS, as AWS's services
//! use KMS: their values encrypted under a symmetric key in the ciphertext blob format (crypto.md
//! §1), without Encrypt's 4 KiB API limit (a parameter may hold 8 KiB, a secret 64 KiB), and the
//! AWS-managed keys (`alias/aws/ssm`, `alias/aws/secretsmanager`) created on first use. Key states
//! apply exactly as to Encrypt and Decrypt.

use std::sync::Arc;

use uuid::Uuid;

use super::{CachedKey, Kms, ResolvedKey, material::Material};
use crate::{
    crypto::{blob, context::EncryptionContext},
    error::{Error, ErrorKind, Result},
    model::{
        AliasRecord, KeyManager, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialVersion, Origin,
        RotationSchedule,
    },
};

/// AWS rotates AWS-managed keys every year.
const AWS_MANAGED_ROTATION_DAYS: u32 = 365;

impl Kms {
    /// Encrypts a service's value under symmetric key `id` (Enabled, ENCRYPT_DECRYPT).
    pub fn encrypt_for_service(
        &self,
        id: Uuid,
        context: &EncryptionContext,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let key = self.symmetric_key(id)?;
        self.seal_under(&key, context, plaintext)
    }

    /// Decrypts a value [`Kms::encrypt_for_service`] made; the blob names its key.
    pub fn decrypt_for_service(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<super::Decrypted> {
        let header = blob::parse_header(blob).map_err(|_| Error::invalid_ciphertext())?;
        self.decrypt(Uuid::from_bytes(header.key_id), blob, context, None)
    }

    /// The key a ciphertext blob names, without checking it exists.
    pub fn blob_key(&self, blob: &[u8]) -> Result<Uuid> {
        let header = blob::parse_header(blob).map_err(|_| Error::invalid_ciphertext())?;
        Ok(Uuid::from_bytes(header.key_id))
    }

    /// The key a service encrypts a value under: the caller's (id, ARN, alias), or the service's
    /// AWS-managed `own_alias` (created on first use, with `description`); and whether it is
    /// AWS-managed (then callers need no KMS permission on it, as in AWS). An unknown key, or
    /// another service's AWS-managed key (AWS refuses those too), is `Err(message)` for the
    /// service to report in its own error.
    pub fn service_key(
        &self,
        key_id: Option<&str>,
        own_alias: &str,
        description: &str,
    ) -> Result<std::result::Result<(ResolvedKey, bool), String>> {
        let key = match key_id {
            None => self.aws_managed_key(own_alias, description)?,
            Some(id) if id == own_alias => self.aws_managed_key(own_alias, description)?,
            Some(id) => match self.resolve(id) {
                Ok(key) => key,
                Err(e) if e.is(ErrorKind::NotFound) || e.is(ErrorKind::Validation) => {
                    return Ok(Err(e.message));
                }
                Err(e) => return Err(e),
            },
        };
        if self.is_other_services_key(key.id, own_alias)? {
            return Ok(Err(format!(
                "That key is another service's AWS managed key: use a customer managed key or \
                 {own_alias}."
            )));
        }
        let aws_managed = self.is_aws_managed(key.id)?;
        Ok(Ok((key, aws_managed)))
    }

    /// The key a service value (a §1 blob) is encrypted under, and whether it is AWS-managed,
    /// for the front end's kms:Decrypt check. A key deleted since counts as customer-managed:
    /// decryption will fail anyway, and no permission is skipped.
    pub fn value_key(&self, blob: &[u8]) -> Result<(ResolvedKey, bool)> {
        let id = self.blob_key(blob)?;
        let aws_managed = self.is_aws_managed(id).unwrap_or(false);
        Ok((
            ResolvedKey {
                id,
                arn: self.arns.key(id),
            },
            aws_managed,
        ))
    }

    /// Whether key `id` is another service's AWS-managed key: AWS-managed, but not the one
    /// behind `own_alias`. Services refuse those (as AWS: Secrets Manager can't use aws/ssm).
    fn is_other_services_key(&self, id: Uuid, own_alias: &str) -> Result<bool> {
        if !self.is_aws_managed(id)? {
            return Ok(false);
        }
        Ok(match self.resolve(own_alias) {
            Ok(own) => own.id != id,
            Err(e) if e.is(ErrorKind::NotFound) => true,
            Err(e) => return Err(e),
        })
    }

    /// Whether key `id` is AWS-managed (created by a service, such as `alias/aws/ssm`).
    pub fn is_aws_managed(&self, id: Uuid) -> Result<bool> {
        Ok(self.key(id)?.record.key_manager == KeyManager::Aws)
    }

    /// The AWS-managed key behind `alias` (`alias/aws/…`), created on first use: a symmetric key
    /// whose material rotates every year, as AWS's do.
    pub fn aws_managed_key(&self, alias: &str, description: &str) -> Result<ResolvedKey> {
        debug_assert!(alias.starts_with("alias/aws/"));
        match self.resolve(alias) {
            Err(e) if e.is(ErrorKind::NotFound) => {}
            other => return other,
        }
        let _guard = self.write_lock()?;
        // Created by a concurrent first use meanwhile?
        if let Some(existing) = self.store.alias(alias)? {
            self.aliases
                .write()
                .expect("alias cache")
                .insert(existing.name, existing.key_id);
            drop(_guard);
            return self.resolve(alias);
        }
        let now = self.now();
        let record = KeyRecord {
            id: Uuid::new_v4(),
            created_at: now,
            description: description.to_string(),
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            key_manager: KeyManager::Aws,
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            rotation: Some(RotationSchedule {
                period_days: AWS_MANAGED_ROTATION_DAYS,
                next_rotation: now + crate::clock::DAY * AWS_MANAGED_ROTATION_DAYS,
            }),
            current_version: 1,
            expiration_model: None,
            valid_to: None,
        };
        let material = Material::generate(KeySpec::SymmetricDefault)?;
        let stored = MaterialVersion {
            key_id: record.id,
            version: 1,
            created_at: now,
            rotation_type: None,
            sealed: Some(self.seal_material(&record, 1, &material)?),
            fingerprint: None,
        };
        self.store.insert_key(&record, Some(&stored), &[])?;
        self.store.insert_alias(&AliasRecord {
            name: alias.to_string(),
            key_id: record.id,
            created_at: now,
            updated_at: now,
        })?;
        let id = record.id;
        self.keys.write().expect("key cache").insert(
            id,
            Arc::new(CachedKey {
                record,
                materials: [(1, Arc::new(material))].into_iter().collect(),
            }),
        );
        self.aliases
            .write()
            .expect("alias cache")
            .insert(alias.to_string(), id);
        tracing::info!(key_id = %id, alias, "created an AWS-managed key");
        Ok(ResolvedKey {
            id,
            arn: self.arns.key(id),
        })
    }
}
