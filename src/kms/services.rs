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

    /// Whether key `id` is another service's AWS-managed key: AWS-managed, but not the one
    /// behind `own_alias`. Services refuse those (as AWS: Secrets Manager can't use aws/ssm).
    pub fn is_other_services_key(&self, id: Uuid, own_alias: &str) -> Result<bool> {
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
