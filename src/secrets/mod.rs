//! The Secrets Manager domain: secrets with versions and staging labels, idempotent writes,
//! scheduled deletion and restore, tags, and GetRandomPassword, with AWS's names, limits and
//! errors. It works over the [`Store`] trait and the KMS domain and knows nothing of gRPC or
//! SQLite; authorization is the front end's (it looks a secret up, authorizes, then asks for the
//! value).
//!
//! - Values are KMS ciphertext blobs (crypto.md §1) under the secret's key (or the AWS-managed
//!   `alias/aws/secretsmanager`, created on first use) with the encryption context
//!   `{"SecretARN": <arn>, "SecretVersionId": <version>}`; the plaintext is one byte (0 = string,
//!   1 = binary) then the value. A key that can't decrypt gives DecryptionFailure, as AWS.
//! - Staging labels as AWS: AWSCURRENT on exactly one version; when it moves, the version it left
//!   gets AWSPREVIOUS. Versions without a label are deprecated and pruned once a secret has more
//!   than 100 versions and they are over a day old.
//! - A deletion is scheduled 7–30 days ahead (or immediate with ForceDeleteWithoutRecovery);
//!   meanwhile the secret is readable only by DescribeSecret and RestoreSecret. Deletion happens
//!   when the secret is next touched or in [`Secrets::run_maintenance`], by the injected clock.
//!
//! [`password`] is GetRandomPassword, a pure function of its options and the OS CSPRNG.

mod orchestration;
pub mod password;
pub mod rotation;
mod stages;

pub use orchestration::RotationRules;
use stages::{prunable, stage_moves, validate_stages};

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::SystemTime,
};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{
    arn::Arns,
    clock::{Clock, DAY},
    crypto::context::EncryptionContext,
    error::{Error, ErrorKind, Result},
    kms::{Kms, ResolvedKey},
    model::{SecretRecord, SecretRotation, SecretVersionRecord, Tag},
    store::Store,
};

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
pub const AWSPENDING: &str = "AWSPENDING";
/// The key secrets use when none is given.
pub const DEFAULT_KEY_ALIAS: &str = "alias/aws/secretsmanager";
const DEFAULT_KEY_DESCRIPTION: &str =
    "Default key that protects my Secrets Manager data when no other key is defined";
pub const MAX_VALUE_LEN: usize = 65_536;
pub const MAX_NAME_LEN: usize = 512;
pub const MAX_DESCRIPTION_LEN: usize = 2048;
pub const MAX_TAGS: usize = 50;
pub const MAX_STAGES_PER_VERSION: usize = 20;
/// Past this many versions, deprecated ones over a day old are pruned.
pub const MAX_VERSIONS: usize = 100;
pub const RECOVERY_WINDOW_DAYS: std::ops::RangeInclusive<i64> = 7..=30;
pub const DEFAULT_RECOVERY_WINDOW_DAYS: i64 = 30;

/// A secret value. Holds secret bytes: zeroized on drop, not `Debug`.
#[derive(Clone)]
pub enum SecretValue {
    String(Zeroizing<String>),
    Binary(Zeroizing<Vec<u8>>),
}

impl SecretValue {
    /// At most one of the two AWS members; neither is `None`.
    pub fn from_members(
        string: Option<String>,
        binary: Option<Vec<u8>>,
    ) -> Result<Option<SecretValue>> {
        let value = match (string, binary) {
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    ErrorKind::InvalidParameter,
                    "You can't specify both a binary secret value and a string secret value in \
                     the same secret.",
                ));
            }
            (Some(s), None) => SecretValue::String(Zeroizing::new(s)),
            (None, Some(b)) => SecretValue::Binary(Zeroizing::new(b)),
            (None, None) => return Ok(None),
        };
        let len = match &value {
            SecretValue::String(s) => s.len(),
            SecretValue::Binary(b) => b.len(),
        };
        if len == 0 || len > MAX_VALUE_LEN {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("A secret value must be 1 to {MAX_VALUE_LEN} bytes long."),
            ));
        }
        Ok(Some(value))
    }

    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let (tag, bytes) = match self {
            SecretValue::String(s) => (0u8, s.as_bytes()),
            SecretValue::Binary(b) => (1u8, b.as_slice()),
        };
        let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() + 1));
        out.push(tag);
        out.extend_from_slice(bytes);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        match bytes.split_first() {
            Some((0, rest)) => String::from_utf8(rest.to_vec())
                .map(|s| SecretValue::String(Zeroizing::new(s)))
                .map_err(|_| Error::internal("A stored secret value is not valid.")),
            Some((1, rest)) => Ok(SecretValue::Binary(Zeroizing::new(rest.to_vec()))),
            _ => Err(Error::internal("A stored secret value is not valid.")),
        }
    }

    fn same_as(&self, other: &SecretValue) -> bool {
        bool::from(self.encode().ct_eq(&other.encode()))
    }
}

/// A version's value as GetSecretValue returns it.
pub struct OpenedVersion {
    pub version: SecretVersionRecord,
    pub value: SecretValue,
}

/// CreateSecret's input.
#[derive(Clone, Default)]
pub struct CreateSecretInput {
    pub name: String,
    pub client_request_token: Option<String>,
    pub description: String,
    pub kms_key_id: Option<String>,
    pub value: Option<SecretValue>,
    pub tags: Vec<Tag>,
}

/// The outcome of a write that may create a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub arn: String,
    pub name: String,
    pub version_id: Option<String>,
    pub stages: Vec<String>,
}

pub struct Secrets {
    store: Arc<dyn Store>,
    kms: Arc<Kms>,
    clock: Arc<dyn Clock>,
    arns: Arns,
    /// What rotation hooks may be (the operator's choice).
    hooks: rotation::HookPolicy,
    /// Secrets (ARNs) with a rotation running in this process: one at a time per secret.
    rotating: Mutex<std::collections::HashSet<String>>,
    writer: Mutex<()>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").finish_non_exhaustive()
    }
}

fn not_found() -> Error {
    Error::new(
        ErrorKind::ResourceNotFound,
        "Secrets Manager can't find the specified secret.",
    )
}

fn marked_for_deletion() -> Error {
    Error::new(
        ErrorKind::InvalidRequest,
        "You can't perform this operation on the secret because it was marked for deletion.",
    )
}

/// AWS's secret name rules: 1–512 of ASCII letters, digits and `/_+=.@-`.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"/_+=.@-".contains(&c));
    if !ok {
        return Err(Error::new(
            ErrorKind::InvalidParameter,
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the \
             following: -/_+=.@!",
        ));
    }
    Ok(())
}

fn validate_token(token: &str) -> Result<()> {
    if !(32..=64).contains(&token.len()) {
        return Err(Error::new(
            ErrorKind::InvalidParameter,
            "ClientRequestToken must be 32 to 64 characters long.",
        ));
    }
    Ok(())
}

fn validate_tags(tags: &[Tag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::new(
            ErrorKind::InvalidParameter,
            format!("A secret can have at most {MAX_TAGS} tags."),
        ));
    }
    for tag in tags {
        if !(1..=128).contains(&tag.key.chars().count())
            || tag.value.chars().count() > 256
            || tag.key.to_ascii_lowercase().starts_with("aws:")
        {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!(
                    "The tag {:?} is not valid: keys are 1–128 characters and may not start with \
                     \"aws:\", values at most 256 characters.",
                    tag.key
                ),
            ));
        }
    }
    Ok(())
}

fn random_suffix() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let options = password::PasswordOptions {
        password_length: Some(6),
        exclude_punctuation: true,
        require_each_included_type: Some(false),
        ..Default::default()
    };
    let suffix = password::get_random_password(&options)?;
    debug_assert!(suffix.bytes().all(|c| ALPHABET.contains(&c)));
    Ok(suffix.to_string())
}

impl Secrets {
    pub fn new(
        store: Arc<dyn Store>,
        kms: Arc<Kms>,
        clock: Arc<dyn Clock>,
        arns: Arns,
        hooks: rotation::HookPolicy,
    ) -> Self {
        Self {
            store,
            kms,
            clock,
            arns,
            hooks,
            rotating: Mutex::new(Default::default()),
            writer: Mutex::new(()),
        }
    }

    fn now(&self) -> SystemTime {
        crate::clock::from_millis(crate::clock::to_millis(self.clock.now()))
    }

    /// The writer lock: this process's, and with replicas the store's serialization of Secrets
    /// Manager writes across them (what a write read is still so when it writes).
    fn lock(&self) -> Result<(MutexGuard<'_, ()>, crate::store::WriteGuard)> {
        Ok(crate::store::serialize(
            &self.writer,
            self.store.as_ref(),
            "secretsmanager",
        )?)
    }

    /// The encryption context of a version's value (also for the front end's policy conditions).
    pub fn encryption_context(
        &self,
        arn: &str,
        version_id: &str,
    ) -> std::collections::HashMap<String, String> {
        [
            ("SecretARN".to_string(), arn.to_string()),
            ("SecretVersionId".to_string(), version_id.to_string()),
        ]
        .into()
    }

    /// The key a secret's new values are encrypted under, and whether it is AWS-managed (so the
    /// front end knows whether the caller needs KMS permissions on it, as in AWS).
    pub fn write_key(&self, kms_key_id: Option<&str>) -> Result<(ResolvedKey, bool)> {
        self.kms
            .service_key(kms_key_id, DEFAULT_KEY_ALIAS, DEFAULT_KEY_DESCRIPTION)?
            .map_err(|message| Error::new(ErrorKind::InvalidParameter, message))
    }

    fn encrypt(
        &self,
        secret: &SecretRecord,
        version_id: &str,
        value: &SecretValue,
    ) -> Result<Vec<u8>> {
        let (key, _) = self.write_key(secret.kms_key_id.as_deref())?;
        let context: EncryptionContext = self.encryption_context(&secret.arn, version_id).into();
        self.kms
            .encrypt_for_service(key.id, &context, &value.encode())
            .map_err(|e| match e.kind {
                ErrorKind::Disabled | ErrorKind::KmsInvalidState | ErrorKind::InvalidKeyUsage => {
                    Error::new(
                        ErrorKind::EncryptionFailure,
                        format!(
                            "Secrets Manager can't encrypt the secret value: {}",
                            e.message
                        ),
                    )
                }
                _ => e,
            })
    }

    /// Decrypts every version of every secret (a check after copying the vault: `vaultctl admin
    /// migrate`): `(opened, skipped)`, skipped being versions whose key cannot decrypt now
    /// (disabled, pending deletion). Changes nothing (not even the last-accessed date).
    pub fn verify_values(&self) -> Result<(usize, usize)> {
        let (mut opened, mut skipped) = (0, 0);
        for secret in self.store.list_secrets()? {
            for version in self.store.secret_versions(&secret.arn)? {
                if version.value.is_none() {
                    continue;
                }
                match self.decrypt(&secret, &version) {
                    Ok(_) => opened += 1,
                    Err(e) if e.is(ErrorKind::DecryptionFailure) && self.key_unusable(&version) => {
                        skipped += 1
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((opened, skipped))
    }

    /// Whether the key of a version's value is disabled or pending deletion (so that its value
    /// cannot be decrypted now, though nothing is wrong with it).
    fn key_unusable(&self, version: &SecretVersionRecord) -> bool {
        self.value_key(version)
            .ok()
            .flatten()
            .is_some_and(|(key, _)| {
                self.kms
                    .describe_key(key.id)
                    .is_ok_and(|k| k.record.state != crate::model::KeyState::Enabled)
            })
    }

    fn decrypt(&self, secret: &SecretRecord, version: &SecretVersionRecord) -> Result<SecretValue> {
        let Some(blob) = &version.value else {
            return Err(Error::new(
                ErrorKind::ResourceNotFound,
                "Secrets Manager can't find the specified secret value for this version.",
            ));
        };
        let context: EncryptionContext = self
            .encryption_context(&secret.arn, &version.version_id)
            .into();
        let plain = self
            .kms
            .decrypt_for_service(blob, &context)
            .map_err(|e| match e.kind {
                ErrorKind::KmsInternal => e,
                _ => Error::new(
                    ErrorKind::DecryptionFailure,
                    format!("Secrets Manager can't decrypt the protected secret text using the provided KMS key: {}", e.message),
                ),
            })?;
        SecretValue::decode(&plain.plaintext)
    }

    /// The key a version's value is encrypted under (for the front end's kms:Decrypt check), and
    /// whether it is AWS-managed.
    pub fn value_key(&self, version: &SecretVersionRecord) -> Result<Option<(ResolvedKey, bool)>> {
        version
            .value
            .as_ref()
            .map(|blob| self.kms.value_key(blob))
            .transpose()
    }

    /// The secret a SecretId names (name, full ARN or partial ARN), with a scheduled deletion
    /// that came due carried out first.
    pub fn find(&self, secret_id: &str) -> Result<SecretRecord> {
        if secret_id.is_empty() || secret_id.len() > 2048 {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                "SecretId must be 1 to 2048 characters long.",
            ));
        }
        let found = match self.arns.parse_secret(secret_id) {
            Some(_) if secret_id.starts_with("arn:") => match self.store.secret(secret_id)? {
                Some(secret) => Some(secret),
                // A partial ARN: the name without the random suffix.
                None => self
                    .store
                    .secret_by_name(self.arns.parse_secret(secret_id).unwrap_or_default())?,
            },
            _ => self.store.secret_by_name(secret_id)?,
        };
        let secret = found.ok_or_else(not_found)?;
        if secret.deleted_at.is_some_and(|d| d <= self.now()) {
            self.purge_if_due(&secret.arn)?;
            return Err(not_found());
        }
        Ok(secret)
    }

    /// [`Secrets::find`], refusing a secret scheduled for deletion (every operation but
    /// DescribeSecret, RestoreSecret, DeleteSecret and the tags).
    pub fn find_live(&self, secret_id: &str) -> Result<SecretRecord> {
        let secret = self.find(secret_id)?;
        if secret.deleted_at.is_some() {
            return Err(marked_for_deletion());
        }
        Ok(secret)
    }

    /// The ARN a new secret of `name` will have, so the front end can authorize CreateSecret on
    /// it. A name in use is ResourceExistsException.
    pub fn new_arn(&self, name: &str) -> Result<String> {
        validate_name(name)?;
        Ok(self.arns.secret(name, &random_suffix()?))
    }

    /// CreateSecret at `arn` (from [`Secrets::new_arn`]). Retried with the same token and value it
    /// answers as the first time.
    pub fn create_secret(&self, arn: String, input: CreateSecretInput) -> Result<Written> {
        validate_name(&input.name)?;
        validate_tags(&input.tags)?;
        if input.description.chars().count() > MAX_DESCRIPTION_LEN {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("The description can be at most {MAX_DESCRIPTION_LEN} characters."),
            ));
        }
        let token = match input.client_request_token {
            Some(token) => token,
            None => uuid::Uuid::new_v4().to_string(),
        };
        validate_token(&token)?;
        let _guard = self.lock()?;
        if let Some(existing) = self.store.secret_by_name(&input.name)?
            && existing.deleted_at.is_some_and(|d| d <= self.now())
        {
            self.purge_if_due(&existing.arn)?;
        }
        if let Some(existing) = self.store.secret_by_name(&input.name)? {
            if existing.deleted_at.is_some() {
                return Err(Error::new(
                    ErrorKind::InvalidRequest,
                    "You can't create this secret because a secret with this name is already \
                     scheduled for deletion.",
                ));
            }
            // An idempotent retry: same token and same value.
            let versions = self.store.secret_versions(&existing.arn)?;
            if let Some(version) = versions.iter().find(|v| v.version_id == token) {
                let same = match (&input.value, version.value.is_some()) {
                    (Some(value), true) => self.decrypt(&existing, version)?.same_as(value),
                    (None, false) => true,
                    _ => false,
                };
                if same {
                    return Ok(Written {
                        arn: existing.arn,
                        name: existing.name,
                        version_id: Some(token),
                        stages: version.stages.clone(),
                    });
                }
            }
            return Err(Error::new(
                ErrorKind::ResourceExists,
                format!(
                    "The operation failed because the secret {} already exists.",
                    input.name
                ),
            ));
        }
        if let Some(key_id) = &input.kms_key_id {
            self.write_key(Some(key_id))?;
        }
        let now = self.now();
        let secret = SecretRecord {
            arn,
            name: input.name,
            description: input.description,
            kms_key_id: input.kms_key_id,
            created_at: now,
            last_changed_at: now,
            last_accessed_at: None,
            deleted_at: None,
            rotation: SecretRotation::default(),
        };
        let (version, stages) = match &input.value {
            Some(value) => (
                Some(SecretVersionRecord {
                    version_id: token.clone(),
                    created_at: now,
                    value: Some(self.encrypt(&secret, &token, value)?),
                    stages: vec![AWSCURRENT.into()],
                }),
                vec![(AWSCURRENT.to_string(), Some(token.clone()))],
            ),
            None => (None, vec![]),
        };
        self.store
            .write_secret(&secret, version.as_ref(), &stages, &[], &input.tags)?;
        Ok(Written {
            arn: secret.arn,
            name: secret.name,
            version_id: version.as_ref().map(|v| v.version_id.clone()),
            stages: version.map(|v| v.stages).unwrap_or_default(),
        })
    }

    /// The version GetSecretValue names: by id, by stage (AWSCURRENT by default), or both (they
    /// must agree).
    pub fn version(
        &self,
        secret: &SecretRecord,
        version_id: Option<&str>,
        version_stage: Option<&str>,
    ) -> Result<SecretVersionRecord> {
        let versions = self.store.secret_versions(&secret.arn)?;
        let stage = match (version_id, version_stage) {
            (None, None) => Some(AWSCURRENT),
            (_, stage) => stage,
        };
        let found = versions.into_iter().find(|v| {
            version_id.is_none_or(|id| v.version_id == id)
                && stage.is_none_or(|s| v.stages.iter().any(|x| x == s))
        });
        found.ok_or_else(|| {
            Error::new(
                ErrorKind::ResourceNotFound,
                match (version_id, stage) {
                    (Some(_), Some(stage)) => format!(
                        "Secrets Manager can't find the specified secret value for VersionId and \
                         staging label: {stage}"
                    ),
                    (Some(_), None) => {
                        "Secrets Manager can't find the specified secret value for VersionId".into()
                    }
                    (None, stage) => format!(
                        "Secrets Manager can't find the specified secret value for staging label: {}",
                        stage.unwrap_or(AWSCURRENT)
                    ),
                },
            )
        })
    }

    /// Decrypts a version and records the access (a day at a time, as AWS keeps it).
    pub fn open(
        &self,
        secret: &SecretRecord,
        version: SecretVersionRecord,
    ) -> Result<OpenedVersion> {
        let value = self.decrypt(secret, &version)?;
        let today = crate::clock::from_millis(
            crate::clock::to_millis(self.now()) / 86_400_000 * 86_400_000,
        );
        if secret.last_accessed_at != Some(today) {
            let _guard = self.lock()?;
            if let Some(mut current) = self.store.secret(&secret.arn)? {
                current.last_accessed_at = Some(today);
                self.store.write_secret(&current, None, &[], &[], &[])?;
            }
        }
        Ok(OpenedVersion { version, value })
    }

    /// PutSecretValue (and UpdateSecret with a value): a new version with `stages` (default
    /// AWSCURRENT). Retried with the same token and value it answers as the first time; the same
    /// token with another value is refused.
    pub fn put_secret_value(
        &self,
        secret_id: &str,
        token: Option<String>,
        value: SecretValue,
        stages: Vec<String>,
    ) -> Result<Written> {
        let token = token.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        validate_token(&token)?;
        let stages = match stages.is_empty() {
            true => vec![AWSCURRENT.to_string()],
            false => stages,
        };
        validate_stages(&stages)?;
        let _guard = self.lock()?;
        let secret = self.find_live(secret_id)?;
        self.put_value_locked(secret, token, value, stages)
    }

    /// PutSecretValue's work, under the writer lock: writes `secret` (as the caller updated it)
    /// with the new version in one transaction.
    fn put_value_locked(
        &self,
        secret: SecretRecord,
        token: String,
        value: SecretValue,
        stages: Vec<String>,
    ) -> Result<Written> {
        let versions = self.store.secret_versions(&secret.arn)?;
        let existing = versions.iter().find(|v| v.version_id == token);
        // A rotation's AWSPENDING version waits for its value: this is it (createSecret).
        let filling = existing.filter(|v| v.value.is_none());
        if let Some(existing) = existing.filter(|v| v.value.is_some()) {
            if self.decrypt(&secret, existing)?.same_as(&value) {
                return Ok(Written {
                    arn: secret.arn,
                    name: secret.name,
                    version_id: Some(token),
                    stages: existing.stages.clone(),
                });
            }
            return Err(Error::new(
                ErrorKind::ResourceExists,
                "You can't modify an existing version, you can only create new versions.",
            ));
        }
        let now = self.now();
        let version = SecretVersionRecord {
            version_id: token.clone(),
            created_at: filling.map_or(now, |v| v.created_at),
            value: Some(self.encrypt(&secret, &token, &value)?),
            stages: stages.clone(),
        };
        // A secret always has an AWSCURRENT version once it has one at all (as AWS).
        let mut stages = stages;
        if !versions
            .iter()
            .any(|v| v.stages.iter().any(|s| s == AWSCURRENT))
            && !stages.iter().any(|s| s == AWSCURRENT)
        {
            stages.push(AWSCURRENT.into());
        }
        let version = SecretVersionRecord {
            stages: stages.clone(),
            ..version
        };
        let moves = stage_moves(&versions, &token, &stages);
        let prune = prunable(&versions, &moves, now);
        let secret = SecretRecord {
            last_changed_at: now,
            ..secret
        };
        self.store
            .write_secret(&secret, Some(&version), &moves, &prune, &[])?;
        Ok(Written {
            arn: secret.arn,
            name: secret.name,
            version_id: Some(token),
            stages,
        })
    }

    /// UpdateSecret: description and key; a value makes a new AWSCURRENT version. A new key
    /// re-encrypts the labelled versions, so they stay readable under the key the secret names.
    pub fn update_secret(
        &self,
        secret_id: &str,
        token: Option<String>,
        description: Option<String>,
        kms_key_id: Option<String>,
        value: Option<SecretValue>,
    ) -> Result<Written> {
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
        {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("The description can be at most {MAX_DESCRIPTION_LEN} characters."),
            ));
        }
        let token = token.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        validate_token(&token)?;
        // One lock for all of it, and the token checked before anything is written, so a refused
        // value leaves the description and key as they were.
        let _guard = self.lock()?;
        let mut secret = self.find_live(secret_id)?;
        if let Some(value) = &value
            && let Some(existing) = self
                .store
                .secret_versions(&secret.arn)?
                .into_iter()
                .find(|v| v.version_id == token && v.value.is_some())
            && !self.decrypt(&secret, &existing)?.same_as(value)
        {
            return Err(Error::new(
                ErrorKind::ResourceExists,
                "You can't modify an existing version, you can only create new versions.",
            ));
        }
        {
            if let Some(description) = description {
                secret.description = description;
            }
            if let Some(key_id) = kms_key_id {
                let key_id = (!key_id.is_empty()).then_some(key_id);
                if key_id != secret.kms_key_id {
                    self.write_key(key_id.as_deref())?;
                    let versions = self.store.secret_versions(&secret.arn)?;
                    let old = secret.clone();
                    secret.kms_key_id = key_id;
                    for version in versions
                        .iter()
                        .filter(|v| !v.stages.is_empty() && v.value.is_some())
                    {
                        let value = self.decrypt(&old, version)?;
                        let reencrypted = SecretVersionRecord {
                            value: Some(self.encrypt(&secret, &version.version_id, &value)?),
                            ..version.clone()
                        };
                        self.store
                            .write_secret(&secret, Some(&reencrypted), &[], &[], &[])?;
                    }
                }
            }
            secret.last_changed_at = self.now();
        }
        match value {
            Some(value) => self.put_value_locked(secret, token, value, vec![AWSCURRENT.into()]),
            None => {
                self.store.write_secret(&secret, None, &[], &[], &[])?;
                Ok(Written {
                    arn: secret.arn,
                    name: secret.name,
                    version_id: None,
                    stages: vec![],
                })
            }
        }
    }

    /// UpdateSecretVersionStage: moves (or removes) one label. Moving AWSCURRENT leaves
    /// AWSPREVIOUS on the version it left.
    pub fn update_secret_version_stage(
        &self,
        secret_id: &str,
        stage: &str,
        remove_from: Option<&str>,
        move_to: Option<&str>,
    ) -> Result<SecretRecord> {
        validate_stages(&[stage.to_string()])?;
        let _guard = self.lock()?;
        let secret = self.find_live(secret_id)?;
        let versions = self.store.secret_versions(&secret.arn)?;
        let holder = versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
            .map(|v| v.version_id.clone());
        for id in [remove_from, move_to].into_iter().flatten() {
            if !versions.iter().any(|v| v.version_id == id) {
                return Err(Error::new(
                    ErrorKind::ResourceNotFound,
                    format!("Secrets Manager can't find version {id} of the secret."),
                ));
            }
        }
        if let Some(holder) = &holder
            && remove_from != Some(holder.as_str())
            && move_to != Some(holder.as_str())
        {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!(
                    "The staging label {stage} is currently attached to version {holder}, so you \
                     must explicitly reference that version in RemoveFromVersionId."
                ),
            ));
        }
        if let Some(from) = remove_from
            && holder.as_deref() != Some(from)
        {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("The staging label {stage} is not attached to version {from}."),
            ));
        }
        if let Some(to) = move_to
            && stage != AWSPENDING
            && versions
                .iter()
                .any(|v| v.version_id == to && v.value.is_none())
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("Version {to} has no value yet: only AWSPENDING can be on it."),
            ));
        }
        if let Some(to) = move_to
            && versions.iter().any(|v| {
                v.version_id == to
                    && v.stages.len() >= MAX_STAGES_PER_VERSION
                    && !v.stages.iter().any(|s| s == stage)
            })
        {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("A version can have at most {MAX_STAGES_PER_VERSION} staging labels."),
            ));
        }
        let moves = match move_to {
            Some(to) => stage_moves(&versions, to, &[stage.to_string()]),
            None => {
                if stage == AWSCURRENT {
                    return Err(Error::new(
                        ErrorKind::InvalidParameter,
                        "You can't remove the AWSCURRENT staging label from a version without \
                         moving it to another.",
                    ));
                }
                vec![(stage.to_string(), None)]
            }
        };
        let now = self.now();
        let prune = prunable(&versions, &moves, now);
        let secret = SecretRecord {
            last_changed_at: now,
            ..secret
        };
        self.store
            .write_secret(&secret, None, &moves, &prune, &[])?;
        Ok(secret)
    }

    /// A secret's versions (with stages; deprecated ones too on request).
    pub fn versions(
        &self,
        secret: &SecretRecord,
        include_deprecated: bool,
    ) -> Result<Vec<SecretVersionRecord>> {
        Ok(self
            .store
            .secret_versions(&secret.arn)?
            .into_iter()
            .filter(|v| include_deprecated || !v.stages.is_empty())
            .collect())
    }

    pub fn tags(&self, secret: &SecretRecord) -> Result<Vec<Tag>> {
        Ok(self.store.secret_tags(&secret.arn)?)
    }

    /// Every secret (scheduled deletions that came due are carried out first).
    pub fn list(&self) -> Result<Vec<SecretRecord>> {
        self.purge_due()?;
        Ok(self.store.list_secrets()?)
    }

    /// DeleteSecret: scheduled 7–30 days ahead (default 30), or at once with
    /// `force_delete_without_recovery`; never both. Returns the secret and the deletion date.
    pub fn delete_secret(
        &self,
        secret_id: &str,
        recovery_window_in_days: Option<i64>,
        force: bool,
    ) -> Result<(SecretRecord, SystemTime)> {
        if force && recovery_window_in_days.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ));
        }
        let days = recovery_window_in_days.unwrap_or(DEFAULT_RECOVERY_WINDOW_DAYS);
        if !RECOVERY_WINDOW_DAYS.contains(&days) {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                "The recovery window must be between 7 and 30 days.",
            ));
        }
        let _guard = self.lock()?;
        let secret = self.find(secret_id)?;
        let now = self.now();
        if force {
            self.store.delete_secret(&secret.arn)?;
            return Ok((secret, now));
        }
        if secret.deleted_at.is_some() {
            return Err(marked_for_deletion());
        }
        let date = now + DAY * days as u32;
        let secret = SecretRecord {
            deleted_at: Some(date),
            ..secret
        };
        self.store.write_secret(&secret, None, &[], &[], &[])?;
        Ok((secret, date))
    }

    /// RestoreSecret: cancels a scheduled deletion.
    pub fn restore_secret(&self, secret_id: &str) -> Result<SecretRecord> {
        let _guard = self.lock()?;
        let secret = SecretRecord {
            deleted_at: None,
            ..self.find(secret_id)?
        };
        self.store.write_secret(&secret, None, &[], &[], &[])?;
        Ok(secret)
    }

    pub fn tag_resource(&self, secret_id: &str, tags: &[Tag]) -> Result<()> {
        validate_tags(tags)?;
        let _guard = self.lock()?;
        let secret = self.find(secret_id)?;
        let mut keys: Vec<String> = self
            .store
            .secret_tags(&secret.arn)?
            .into_iter()
            .map(|t| t.key)
            .chain(tags.iter().map(|t| t.key.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        if keys.len() > MAX_TAGS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("A secret can have at most {MAX_TAGS} tags."),
            ));
        }
        Ok(self.store.put_secret_tags(&secret.arn, tags)?)
    }

    pub fn untag_resource(&self, secret_id: &str, keys: &[String]) -> Result<()> {
        let _guard = self.lock()?;
        let secret = self.find(secret_id)?;
        Ok(self.store.remove_secret_tags(&secret.arn, keys)?)
    }

    fn purge_if_due(&self, arn: &str) -> Result<bool> {
        match self.store.secret(arn)? {
            Some(secret) if secret.deleted_at.is_some_and(|d| d <= self.now()) => {
                self.store.delete_secret(arn)?;
                tracing::info!(secret = %arn, "deleted a secret at the end of its recovery window");
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn purge_due(&self) -> Result<usize> {
        let mut deleted = 0;
        for arn in self.store.secrets_due_for_deletion(self.now())? {
            deleted += usize::from(self.purge_if_due(&arn)?);
        }
        Ok(deleted)
    }

    /// Deletes secrets whose recovery window has ended; returns how many.
    pub fn run_maintenance(&self) -> Result<usize> {
        let _guard = self.lock()?;
        self.purge_due()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, stages: &[&str], created: SystemTime) -> SecretVersionRecord {
        SecretVersionRecord {
            version_id: id.into(),
            created_at: created,
            value: Some(vec![1]),
            stages: stages.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn awscurrent_moving_leaves_awsprevious_behind() {
        let t = SystemTime::UNIX_EPOCH;
        let versions = [
            version("a", &["AWSPREVIOUS"], t),
            version("b", &["AWSCURRENT"], t),
        ];
        let moves = stage_moves(&versions, "c", &["AWSCURRENT".into()]);
        assert_eq!(
            moves,
            [
                ("AWSCURRENT".to_string(), Some("c".to_string())),
                ("AWSPREVIOUS".to_string(), Some("b".to_string()))
            ]
        );
        // A custom label moves alone.
        assert_eq!(
            stage_moves(&versions, "a", &["blue".into()]),
            [("blue".to_string(), Some("a".to_string()))]
        );
    }

    #[test]
    fn only_old_unlabelled_versions_past_a_hundred_are_pruned() {
        let old = SystemTime::UNIX_EPOCH;
        let now = old + DAY * 2;
        let mut versions: Vec<_> = (0..100)
            .map(|i| version(&format!("v{i:03}"), &[], old))
            .collect();
        versions[99].stages = vec!["AWSCURRENT".into()];
        versions[0].stages = vec!["keep".into()];
        let moves = stage_moves(&versions, "new", &["AWSCURRENT".into()]);
        // 101 versions: one goes, the oldest unlabelled one (v000 is labelled).
        assert_eq!(prunable(&versions, &moves, now), ["v001"]);
        // Too young: nothing goes.
        assert!(prunable(&versions, &moves, old).is_empty());
    }

    #[test]
    fn values_are_one_of_string_or_binary_within_limits() {
        assert!(SecretValue::from_members(Some("a".into()), Some(vec![1])).is_err());
        assert!(SecretValue::from_members(Some(String::new()), None).is_err());
        assert!(SecretValue::from_members(None, Some(vec![0; MAX_VALUE_LEN + 1])).is_err());
        assert!(SecretValue::from_members(None, None).unwrap().is_none());
        let value = SecretValue::from_members(None, Some(vec![0; MAX_VALUE_LEN]))
            .unwrap()
            .unwrap();
        assert!(
            SecretValue::decode(&value.encode())
                .unwrap()
                .same_as(&value)
        );
    }
}
