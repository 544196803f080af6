//! The Parameter Store domain (SSM): parameters with versions, labels, tiers, tags and paths, with
//! AWS's names, limits and errors. It works over the [`Store`] trait, the barrier and the KMS
//! domain, and knows nothing of gRPC or SQLite; authorization is the front end's (it looks a
//! parameter up first, authorizes, then asks for the value).
//!
//! At rest no value is in the clear: String and StringList values are sealed under the barrier
//! (purpose `parameter`, bound to the name and version); SecureString values are KMS ciphertext
//! blobs (crypto.md §1) under the parameter's key, with the encryption context
//! `{"PARAMETER_ARN": <arn>}`, exactly what GetParameter without decryption returns (base64).
//!
//! Writes to one vaultd are serialized by a writer lock, so a version number is read and used
//! under it; the store also refuses a stale number.

mod filters;
mod names;
#[cfg(test)]
mod tests;

use std::{
    sync::{Arc, Mutex},
    time::SystemTime,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use zeroize::Zeroizing;

use crate::{
    arn::Arns,
    clock::Clock,
    crypto::{
        barrier::{Barrier, Binding, Purpose},
        context::EncryptionContext,
    },
    error::{Error, ErrorKind, Result},
    kms::Kms,
    model::{ParameterTier, ParameterType, ParameterVersionRecord, Tag},
    paging::{Cursor, Page, Paged},
    store::Store,
};

use filters::{FilterUse, Filters};
pub use names::{Selector, validate_name, validate_path};

/// The key SecureString parameters use when none is given.
pub const DEFAULT_KEY_ALIAS: &str = "alias/aws/ssm";
const DEFAULT_KEY_DESCRIPTION: &str =
    "Default key that protects my SSM parameters when no other key is defined";
/// AWS keeps the last 100 versions of a parameter.
pub const MAX_VERSIONS: usize = 100;
pub const MAX_LABELS_PER_VERSION: usize = 10;
pub const STANDARD_MAX_VALUE: usize = 4096;
pub const ADVANCED_MAX_VALUE: usize = 8192;
pub const MAX_DESCRIPTION: usize = 1024;
pub const MAX_ALLOWED_PATTERN: usize = 1024;
/// GetParameters and DeleteParameters take at most 10 names.
pub const MAX_NAMES_PER_CALL: usize = 10;
pub const MAX_TAGS: usize = 50;

/// PutParameter's input; `None` means the AWS default (or, overwriting, the current version's).
#[derive(Clone, Default)]
pub struct PutParameterInput {
    pub name: String,
    pub description: Option<String>,
    /// Secret for SecureString; zeroized on drop.
    pub value: Zeroizing<String>,
    pub parameter_type: Option<ParameterType>,
    pub key_id: Option<String>,
    pub overwrite: bool,
    pub allowed_pattern: Option<String>,
    pub tags: Vec<Tag>,
    pub tier: Option<ParameterTier>,
    pub data_type: Option<String>,
    /// The key `key_id` resolved to when the caller was authorized on it; used as is.
    pub resolved_key: Option<crate::kms::ResolvedKey>,
}

/// A parameter version with its value opened as the caller asked. Holds a secret when decrypted:
/// the value is zeroized on drop and not `Debug`.
pub struct ParameterView {
    pub record: ParameterVersionRecord,
    pub arn: String,
    /// The value, or for SecureString without decryption the base64 of its ciphertext.
    pub value: Zeroizing<String>,
    /// `:version` or `:label` when the caller selected one.
    pub selector: String,
}

/// A filter of GetParametersByPath and DescribeParameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParameterFilter {
    pub key: String,
    pub option: String,
    pub values: Vec<String>,
}

pub struct Params {
    store: Arc<dyn Store>,
    barrier: Arc<Barrier>,
    kms: Arc<Kms>,
    clock: Arc<dyn Clock>,
    arns: Arns,
    writer: Mutex<()>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params").finish_non_exhaustive()
    }
}

fn not_found(name: &str) -> Error {
    Error::new(
        ErrorKind::ParameterNotFound,
        format!("Parameter {name} not found."),
    )
}

impl Params {
    pub fn new(
        store: Arc<dyn Store>,
        barrier: Arc<Barrier>,
        kms: Arc<Kms>,
        clock: Arc<dyn Clock>,
        arns: Arns,
    ) -> Self {
        Self {
            store,
            barrier,
            kms,
            clock,
            arns,
            writer: Mutex::new(()),
        }
    }

    /// The writer lock: one write at a time (across replicas too), so a version number read is
    /// the one written. It guards no data, so a panic under it leaves nothing half-done to
    /// protect.
    fn lock(&self) -> Result<(std::sync::MutexGuard<'_, ()>, crate::store::WriteGuard)> {
        Ok(crate::store::serialize(
            &self.writer,
            self.store.as_ref(),
            "ssm",
        )?)
    }

    pub fn arn(&self, name: &str) -> String {
        self.arns.parameter(name)
    }

    fn now(&self) -> SystemTime {
        crate::clock::from_millis(crate::clock::to_millis(self.clock.now()))
    }

    fn context(&self, name: &str) -> EncryptionContext {
        [("PARAMETER_ARN", self.arn(name))].into_iter().collect()
    }

    /// The key a SecureString put will use: the caller's (id, ARN, alias), or the AWS-managed
    /// default, created on first use; and whether it is AWS-managed. An unknown key is
    /// InvalidKeyId, as SSM says.
    pub fn put_key(&self, key_id: Option<&str>) -> Result<(crate::kms::ResolvedKey, bool)> {
        self.kms
            .service_key(key_id, DEFAULT_KEY_ALIAS, DEFAULT_KEY_DESCRIPTION)?
            .map_err(|message| Error::new(ErrorKind::InvalidKeyId, message))
    }

    /// The encryption context SecureString values of `name` are bound to (for the front end's
    /// `kms:EncryptionContext:PARAMETER_ARN` conditions).
    pub fn encryption_context(&self, name: &str) -> std::collections::HashMap<String, String> {
        [("PARAMETER_ARN".to_string(), self.arn(name))].into()
    }

    fn binding<T>(name: &str, version: u64, f: impl FnOnce(&Binding<'_>) -> T) -> T {
        // Names never hold a NUL, so name || 0 || version is unambiguous.
        let mut stable_id = name.as_bytes().to_vec();
        stable_id.push(0);
        stable_id.extend_from_slice(&version.to_be_bytes());
        f(&Binding {
            table: "parameter_versions",
            column: "value",
            stable_id: &stable_id,
            immutable: b"",
        })
    }

    /// PutParameter: a new parameter, or (with `overwrite`) a new version of one. Returns the
    /// version and tier.
    pub fn put_parameter(
        &self,
        input: PutParameterInput,
        user_arn: &str,
    ) -> Result<(u64, ParameterTier)> {
        validate_name(&input.name)?;
        if input.overwrite && !input.tags.is_empty() {
            return Err(Error::validation(
                "Invalid request: tags and overwrite can't be used together. To create a parameter \
                 with tags, please remove overwrite flag. To update tags for an existing parameter, \
                 please use AddTagsToResource or RemoveTagsFromResource.",
            ));
        }
        validate_tags(&input.tags)?;
        let data_type = input.data_type.clone().unwrap_or_else(|| "text".into());
        if data_type != "text" {
            return Err(Error::validation(format!(
                "The data type {data_type:?} is not supported: use \"text\"."
            )));
        }
        if input.value.is_empty() {
            return Err(Error::validation(
                "1 validation error detected: Value at 'value' failed to satisfy constraint: \
                 Member must have length greater than or equal to 1",
            ));
        }
        let _guard = self.lock()?;
        let latest = match self.store.parameter_latest_version(&input.name)? {
            Some(version) => self.store.parameter_version(&input.name, Some(version))?,
            None => None,
        };
        if latest.is_none()
            && let Some(sibling) = Self::sibling(&input.name)
            && self.store.parameter_latest_version(&sibling)?.is_some()
        {
            return Err(Error::new(
                ErrorKind::ParameterAlreadyExists,
                format!(
                    "The parameter {sibling} already exists, and has the same ARN as {}: use that \
                     name.",
                    input.name
                ),
            ));
        }
        if latest.is_some() && !input.overwrite {
            return Err(Error::new(
                ErrorKind::ParameterAlreadyExists,
                "The parameter already exists. To overwrite this value, set the overwrite option \
                 in the request to true.",
            ));
        }
        let parameter_type = match (input.parameter_type, &latest) {
            (Some(t), _) => t,
            (None, Some(latest)) => latest.parameter_type,
            (None, None) => {
                return Err(Error::validation(
                    "A parameter type is required when you create a parameter.",
                ));
            }
        };
        if parameter_type != ParameterType::SecureString && input.key_id.is_some() {
            return Err(Error::validation(
                "KeyId is required for SecureString type parameter only.",
            ));
        }
        let description = input
            .description
            .or_else(|| latest.as_ref().map(|l| l.description.clone()))
            .unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(Error::validation(format!(
                "The description can be at most {MAX_DESCRIPTION} characters."
            )));
        }
        let allowed_pattern = input
            .allowed_pattern
            .or_else(|| latest.as_ref().map(|l| l.allowed_pattern.clone()))
            .unwrap_or_default();
        check_allowed_pattern(&allowed_pattern, &input.value)?;
        let tier = resolve_tier(
            input.tier,
            latest.as_ref().map(|l| l.tier),
            input.value.len(),
        )?;
        if parameter_type == ParameterType::StringList && input.value.split(',').any(str::is_empty)
        {
            return Err(Error::validation(
                "A StringList value is a comma-separated list of non-empty strings.",
            ));
        }

        let version = latest.as_ref().map_or(1, |l| l.version + 1);
        let (key_id, value) = match parameter_type {
            ParameterType::SecureString => {
                let key = match input.resolved_key.clone() {
                    Some(key) => key,
                    None => self.put_key(input.key_id.as_deref())?.0,
                };
                let blob = self.kms.encrypt_for_service(
                    key.id,
                    &self.context(&input.name),
                    input.value.as_bytes(),
                )?;
                (
                    Some(
                        input
                            .key_id
                            .clone()
                            .unwrap_or_else(|| DEFAULT_KEY_ALIAS.into()),
                    ),
                    blob,
                )
            }
            _ => (
                None,
                Self::binding(&input.name, version, |b| {
                    self.barrier
                        .seal(Purpose::Parameter, b, input.value.as_bytes())
                })?,
            ),
        };
        // At the history limit the oldest version goes, unless a label holds it. Only pruning
        // removes single versions, so the kept ones are the last 100 numbers: the oldest is
        // known without reading them all.
        let oldest = match latest.as_ref() {
            Some(latest) if latest.version >= MAX_VERSIONS as u64 => self
                .store
                .parameter_version(&input.name, Some(latest.version + 1 - MAX_VERSIONS as u64))?,
            _ => None,
        };
        let prune = match oldest {
            Some(oldest) => {
                if !oldest.labels.is_empty() {
                    return Err(Error::new(
                        ErrorKind::ParameterMaxVersionLimitExceeded,
                        format!(
                            "You attempted to create a new version of {} by calling the \
                             PutParameter API with the overwrite flag. Version {}, the oldest \
                             version, can't be deleted because it has a label associated with it. \
                             Move the label to another version of the parameter, and try again.",
                            input.name, oldest.version
                        ),
                    ));
                }
                Some(oldest.version)
            }
            None => None,
        };
        let record = ParameterVersionRecord {
            name: input.name,
            version,
            parameter_type,
            key_id,
            description,
            allowed_pattern,
            tier,
            data_type,
            modified_at: self.now(),
            modified_by: user_arn.to_string(),
            value,
            labels: Vec::new(),
        };
        self.store
            .add_parameter_version(&record, &input.tags, prune)?;
        Ok((version, tier))
    }

    /// The version a name with an optional `:version` / `:label` selector names (GetParameter,
    /// GetParameters, and names given as ARNs).
    pub fn find(&self, name: &str) -> Result<(ParameterVersionRecord, String)> {
        let mut selector = Selector::parse(name, &self.arns)?;
        selector.name = self.spelling(name, selector.name)?;
        let record = match &selector.version {
            None => self.store.parameter_version(&selector.name, None)?,
            Some(names::Version::Number(v)) => {
                if self
                    .store
                    .parameter_latest_version(&selector.name)?
                    .is_none()
                {
                    return Err(not_found(&selector.name));
                }
                Some(
                    self.store
                        .parameter_version(&selector.name, Some(*v))?
                        .ok_or_else(|| version_not_found(&selector.name, &selector.suffix))?,
                )
            }
            Some(names::Version::Label(label)) => {
                if self
                    .store
                    .parameter_latest_version(&selector.name)?
                    .is_none()
                {
                    return Err(not_found(&selector.name));
                }
                let version = self
                    .store
                    .parameter_label(&selector.name, label)?
                    .ok_or_else(|| version_not_found(&selector.name, &selector.suffix))?;
                self.store
                    .parameter_version(&selector.name, Some(version))?
            }
        };
        let record = record.ok_or_else(|| not_found(&selector.name))?;
        Ok((record, selector.suffix))
    }

    /// Opens the value of every version of every parameter (a check after copying the vault:
    /// `vaultctl admin migrate`): `(opened, skipped)`, skipped being SecureStrings whose key
    /// cannot decrypt now (disabled, pending deletion). Changes nothing.
    pub fn verify_values(&self) -> Result<(usize, usize)> {
        let (mut opened, mut skipped) = (0, 0);
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .parameters_with_prefix("", false, after.as_deref(), 100)?;
            let Some(last) = page.last() else {
                return Ok((opened, skipped));
            };
            after = Some(last.name.clone());
            for latest in &page {
                for version in self.store.parameter_versions(&latest.name)? {
                    match self.open(version, String::new(), true) {
                        Ok(_) => opened += 1,
                        Err(e) if e.is(ErrorKind::Disabled) || e.is(ErrorKind::KmsInvalidState) => {
                            skipped += 1
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// The value of a version, opened as asked: decrypted (SecureString with `with_decryption`),
    /// the ciphertext's base64 (SecureString without), or unsealed.
    pub fn open(
        &self,
        record: ParameterVersionRecord,
        selector: String,
        with_decryption: bool,
    ) -> Result<ParameterView> {
        let value = match record.parameter_type {
            ParameterType::SecureString if with_decryption => {
                let plain = self
                    .kms
                    .decrypt_for_service(&record.value, &self.context(&record.name))?
                    .plaintext;
                utf8(plain)?
            }
            ParameterType::SecureString => Zeroizing::new(STANDARD.encode(&record.value)),
            _ => {
                let plain = Self::binding(&record.name, record.version, |b| {
                    self.barrier.open(Purpose::Parameter, b, &record.value)
                })
                .map_err(|_| {
                    tracing::error!(name = %record.name, version = record.version, "a parameter value does not unseal");
                    Error::internal("The value of this parameter cannot be read.")
                })?;
                utf8(plain)?
            }
        };
        Ok(ParameterView {
            arn: self.arn(&record.name),
            record,
            value,
            selector,
        })
    }

    /// The KMS key a SecureString version is encrypted under (for the front end's kms:Decrypt
    /// check), and whether it is AWS-managed (which needs no such check, as in AWS).
    pub fn value_key(
        &self,
        record: &ParameterVersionRecord,
    ) -> Result<Option<(crate::kms::ResolvedKey, bool)>> {
        match record.parameter_type {
            ParameterType::SecureString => Ok(Some(self.kms.value_key(&record.value)?)),
            _ => Ok(None),
        }
    }

    /// GetParametersByPath: the latest versions under `path` (one level, or all with
    /// `recursive`), filtered, a page at a time (MaxResults 1–10, default 10).
    pub fn get_parameters_by_path(
        &self,
        path: &str,
        recursive: bool,
        filters: &[ParameterFilter],
        page: &Page,
    ) -> Result<Paged<ParameterVersionRecord>> {
        validate_path(path)?;
        let filters = Filters::parse(filters, FilterUse::ByPath)?;
        let cursor = next_token(Cursor::parse_field(page, "maxResults", 10, 10))?;
        let prefix = match path.ends_with('/') {
            true => path.to_string(),
            false => format!("{path}/"),
        };
        self.scan(&prefix, !recursive, &filters, cursor)
    }

    /// DescribeParameters: metadata of the latest versions, filtered (MaxResults 1–50, default 50).
    pub fn describe_parameters(
        &self,
        filters: &[ParameterFilter],
        page: &Page,
    ) -> Result<Paged<ParameterVersionRecord>> {
        let filters = Filters::parse(filters, FilterUse::Describe)?;
        let cursor = next_token(Cursor::parse_field(page, "maxResults", 50, 50))?;
        let (prefix, one_level) = filters.path.clone().unwrap_or_default();
        self.scan(&prefix, one_level, &filters, cursor)
    }

    /// Reads names in order from `cursor.after`, keeping those the filters pass, until a page is
    /// full; the token is the last name read.
    fn scan(
        &self,
        prefix: &str,
        one_level: bool,
        filters: &Filters,
        cursor: Cursor,
    ) -> Result<Paged<ParameterVersionRecord>> {
        const BATCH: usize = 200;
        let mut after = cursor.after.clone();
        let mut kept = Vec::new();
        loop {
            let batch =
                self.store
                    .parameters_with_prefix(prefix, one_level, after.as_deref(), BATCH)?;
            let exhausted = batch.len() < BATCH;
            for record in batch {
                after = Some(record.name.clone());
                if filters.admit(&record) {
                    kept.push(record);
                    if kept.len() > cursor.limit {
                        return Ok(cursor.finish(kept, |r| r.name.clone()));
                    }
                }
            }
            if exhausted {
                return Ok(cursor.finish(kept, |r| r.name.clone()));
            }
        }
    }

    /// GetParameterHistory: every kept version, oldest first (MaxResults 1–50, default 50).
    pub fn get_parameter_history(
        &self,
        name: &str,
        page: &Page,
    ) -> Result<Paged<ParameterVersionRecord>> {
        let name = self.plain(name)?;
        let cursor = next_token(Cursor::parse_field(page, "maxResults", 50, 50))?;
        let versions = self.store.parameter_versions(&name)?;
        if versions.is_empty() {
            return Err(not_found(&name));
        }
        Ok(cursor.slice(versions, |v| format!("{:020}", v.version)))
    }

    pub fn delete_parameter(&self, name: &str) -> Result<()> {
        let name = self.plain(name)?;
        let _guard = self.lock()?;
        match self.store.delete_parameter(&name)? {
            true => Ok(()),
            false => Err(not_found(&name)),
        }
    }

    /// LabelParameterVersion: labels that break the rules come back as invalid; the others move
    /// to the version (the latest by default). At most 10 labels a version.
    pub fn label_parameter_version(
        &self,
        name: &str,
        version: Option<u64>,
        labels: &[String],
    ) -> Result<(u64, Vec<String>)> {
        let name = self.plain(name)?;
        if labels.is_empty() || labels.len() > MAX_LABELS_PER_VERSION {
            return Err(Error::validation(
                "1 validation error detected: Value at 'labels' failed to satisfy constraint: \
                 Member must have length between 1 and 10",
            ));
        }
        let _guard = self.lock()?;
        let latest = self
            .store
            .parameter_latest_version(&name)?
            .ok_or_else(|| not_found(&name))?;
        let version = version.unwrap_or(latest);
        let record = self
            .store
            .parameter_version(&name, Some(version))?
            .ok_or_else(|| version_not_found(&name, &format!(":{version}")))?;
        let (valid, invalid): (Vec<String>, Vec<String>) =
            labels.iter().cloned().partition(|l| names::valid_label(l));
        let mut after: Vec<&String> = record.labels.iter().collect();
        for label in &valid {
            if !after.contains(&label) {
                after.push(label);
            }
        }
        if after.len() > MAX_LABELS_PER_VERSION {
            return Err(Error::new(
                ErrorKind::ParameterVersionLabelLimitExceeded,
                format!(
                    "A parameter version can have maximum {MAX_LABELS_PER_VERSION} labels. Move one \
                     or more labels to another version and try again."
                ),
            ));
        }
        self.store.label_parameter_version(&name, version, &valid)?;
        Ok((version, invalid))
    }

    /// UnlabelParameterVersion: returns (removed, invalid: not on that version).
    pub fn unlabel_parameter_version(
        &self,
        name: &str,
        version: u64,
        labels: &[String],
    ) -> Result<(Vec<String>, Vec<String>)> {
        let name = self.plain(name)?;
        if labels.is_empty() || labels.len() > MAX_LABELS_PER_VERSION {
            return Err(Error::validation(
                "1 validation error detected: Value at 'labels' failed to satisfy constraint: \
                 Member must have length between 1 and 10",
            ));
        }
        let _guard = self.lock()?;
        if self.store.parameter_latest_version(&name)?.is_none() {
            return Err(not_found(&name));
        }
        if self
            .store
            .parameter_version(&name, Some(version))?
            .is_none()
        {
            return Err(version_not_found(&name, &format!(":{version}")));
        }
        let removed = self
            .store
            .unlabel_parameter_version(&name, version, labels)?;
        let invalid = labels
            .iter()
            .filter(|l| !removed.contains(l))
            .cloned()
            .collect();
        Ok((removed, invalid))
    }

    /// A name (or ARN) without selector, as stored.
    fn plain(&self, input: &str) -> Result<String> {
        let name = Selector::plain_name(input, &self.arns)?;
        self.spelling(input, name)
    }

    /// An ARN names `x` and `/x` alike (`…:parameter/x`), and only one of them can exist: given
    /// an ARN, the one that does.
    fn spelling(&self, input: &str, name: String) -> Result<String> {
        if !input.starts_with("arn:") || name.contains('/') {
            return Ok(name);
        }
        let rooted = format!("/{name}");
        match self.store.parameter_latest_version(&name)? {
            None if self.store.parameter_latest_version(&rooted)?.is_some() => Ok(rooted),
            _ => Ok(name),
        }
    }

    /// `x` and `/x` share an ARN, so policies could not tell them apart: only one may exist.
    fn sibling(name: &str) -> Option<String> {
        match name.strip_prefix('/') {
            Some(rest) if !rest.contains('/') => Some(rest.to_string()),
            Some(_) => None,
            None => Some(format!("/{name}")),
        }
    }

    fn require_parameter(&self, resource_type: &str, name: &str) -> Result<String> {
        if resource_type != "Parameter" {
            return Err(Error::new(
                ErrorKind::InvalidResourceType,
                format!("The resource type {resource_type:?} is not supported: use \"Parameter\"."),
            ));
        }
        let name = self.plain(name)?;
        if self.store.parameter_latest_version(&name)?.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidResourceId,
                format!("The parameter {name} does not exist."),
            ));
        }
        Ok(name)
    }

    pub fn add_tags(&self, resource_type: &str, name: &str, tags: &[Tag]) -> Result<()> {
        let name = self.require_parameter(resource_type, name)?;
        validate_tags(tags)?;
        let _guard = self.lock()?;
        let mut keys: Vec<String> = self
            .store
            .parameter_tags(&name)?
            .into_iter()
            .map(|t| t.key)
            .collect();
        keys.extend(tags.iter().map(|t| t.key.clone()));
        keys.sort();
        keys.dedup();
        if keys.len() > MAX_TAGS {
            return Err(Error::validation(format!(
                "A parameter can have at most {MAX_TAGS} tags."
            )));
        }
        Ok(self.store.put_parameter_tags(&name, tags)?)
    }

    pub fn remove_tags(&self, resource_type: &str, name: &str, keys: &[String]) -> Result<()> {
        let name = self.require_parameter(resource_type, name)?;
        Ok(self.store.remove_parameter_tags(&name, keys)?)
    }

    pub fn list_tags(&self, resource_type: &str, name: &str) -> Result<Vec<Tag>> {
        let name = self.require_parameter(resource_type, name)?;
        Ok(self.store.parameter_tags(&name)?)
    }
}

fn version_not_found(name: &str, suffix: &str) -> Error {
    Error::new(
        ErrorKind::ParameterVersionNotFound,
        format!(
            "Systems Manager could not find version {suffix} of {name}. Verify the version and try again."
        ),
    )
}

fn next_token(cursor: Result<Cursor>) -> Result<Cursor> {
    cursor.map_err(|e| match e.kind {
        ErrorKind::InvalidMarker => Error::new(
            ErrorKind::InvalidNextToken,
            "The specified token is not valid.",
        ),
        _ => e,
    })
}

fn utf8(bytes: Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>> {
    String::from_utf8(bytes.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| Error::internal("A parameter value is not UTF-8."))
}

/// The tier a new version gets: Standard (default) holds 4 KB, Advanced 8 KB;
/// Intelligent-Tiering picks the smallest that fits; an Advanced parameter never goes back.
fn resolve_tier(
    asked: Option<ParameterTier>,
    current: Option<ParameterTier>,
    len: usize,
) -> Result<ParameterTier> {
    let tier = match asked {
        Some(ParameterTier::IntelligentTiering) => {
            match len > STANDARD_MAX_VALUE || current == Some(ParameterTier::Advanced) {
                true => ParameterTier::Advanced,
                false => ParameterTier::Standard,
            }
        }
        Some(tier) => tier,
        None => current.unwrap_or(ParameterTier::Standard),
    };
    if tier == ParameterTier::Standard && current == Some(ParameterTier::Advanced) {
        return Err(Error::validation(
            "This parameter uses the advanced-parameter tier. You can't downgrade a parameter \
             from the advanced-parameter tier to the standard-parameter tier.",
        ));
    }
    let max = match tier {
        ParameterTier::Standard => STANDARD_MAX_VALUE,
        _ => ADVANCED_MAX_VALUE,
    };
    if len > max {
        return Err(Error::validation(format!(
            "{} tier parameters support a maximum parameter value of {max} characters.",
            match tier {
                ParameterTier::Standard => "Standard",
                _ => "Advanced",
            }
        )));
    }
    Ok(tier)
}

fn check_allowed_pattern(pattern: &str, value: &str) -> Result<()> {
    if pattern.is_empty() {
        return Ok(());
    }
    if pattern.chars().count() > MAX_ALLOWED_PATTERN {
        return Err(Error::validation(format!(
            "An allowed pattern can be at most {MAX_ALLOWED_PATTERN} characters."
        )));
    }
    let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|_| Error::validation("The allowed pattern is not a valid regular expression."))?;
    if !regex.is_match(value) {
        // The value may be secret: the message never includes it.
        return Err(Error::new(
            ErrorKind::ParameterPatternMismatch,
            format!("Parameter value, cannot be validated against allowedPattern: {pattern}"),
        ));
    }
    Ok(())
}

fn validate_tags(tags: &[Tag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::validation(format!(
            "A parameter can have at most {MAX_TAGS} tags."
        )));
    }
    for tag in tags {
        let key_ok = (1..=128).contains(&tag.key.chars().count())
            && !tag.key.to_ascii_lowercase().starts_with("aws:");
        if !key_ok || tag.value.chars().count() > 256 {
            return Err(Error::validation(format!(
                "The tag {:?} is not valid: keys are 1–128 characters and may not start with \
                 \"aws:\", values at most 256 characters.",
                tag.key
            )));
        }
    }
    Ok(())
}
