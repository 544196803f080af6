//! Reading seed files: which of the two formats a file is (by its shape), the helpers both use,
//! and vaultd's own format (every section optional; AWS's member names):
//!
//! ```yaml
//! Keys:
//!   - KeyId: 6f7b3c1e-2a9d-4a55-9b7e-0c1d2e3f4a5b    # a UUID
//!     Description: billing data
//!     KeySpec: SYMMETRIC_DEFAULT                      # default; RSA_2048, ECC_NIST_P256, HMAC_256, …
//!     KeyUsage: ENCRYPT_DECRYPT                       # default: the spec's first usage
//!     Enabled: true                                   # default
//!     BackingKeys: [<64 hex digits>, …]               # symmetric and HMAC keys; oldest first
//!     PrivateKeyPem: |                                # RSA and ECC keys
//!       -----BEGIN PRIVATE KEY-----
//!     RotationPeriodInDays: 365                       # automatic rotation on
//!     NextRotationDate: 2027-01-01T00:00:00Z
//!     Tags: {team: payments}
//! Aliases:
//!   - {AliasName: alias/billing, TargetKeyId: 6f7b3c1e-…}
//! Users:
//!   - UserName: app
//!     AccessKeys: [{AccessKeyId: AKIA…, SecretAccessKey: …}]
//!     Policies: [{PolicyName: app, PolicyDocument: {Version: "2012-10-17", Statement: […]}}]
//! Parameters:
//!   - {Name: /app/db/host, Type: String, Value: db, KeyId: alias/billing, Description: …, Tier: Standard, Tags: {…}}
//! Secrets:
//!   - {Name: app/db, SecretString: … or a mapping (stored as its JSON), SecretBinary: <base64>, KmsKeyId: …, Description: …, Tags: {…}}
//! ```
//!
//! local-kms's format is in [`super::local_kms`]. Unknown members are refused in vaultd's format
//! (a typo must not silently drop a key) and ignored in local-kms's (as local-kms does).

use std::collections::BTreeMap;

use serde::Deserialize;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    Seed, SeedAlias, SeedError, SeedParameter, SeedSecret, SeedUser,
    local_kms::{LocalKms, LocalKmsLegacy},
    secret_value, tags,
};
use crate::{
    crypto::asymmetric::PrivateKey,
    iam::Credentials,
    kms::{SeedKey, SeedMaterial, SeedRotation},
    model::{KeySpec, KeyUsage, ParameterTier, ParameterType},
    params::PutParameterInput,
    secrets::CreateSecretInput,
};

/// The largest seed file read: a seed is configuration, not a database dump.
const MAX_SEED_BYTES: usize = 4 << 20;

pub(super) fn parse(text: &str) -> Result<Seed, SeedError> {
    if text.len() > MAX_SEED_BYTES {
        return Err(SeedError(format!(
            "the seed is {} bytes; at most {MAX_SEED_BYTES} are read",
            text.len()
        )));
    }
    // The shape tells the format: local-kms's Keys is a mapping (or, in its legacy form, a list
    // of entries with Metadata); vaultd's is a list of keys with KeyId.
    let shape: serde_json::Value = yaml(text)?;
    let keys = shape.get("Keys");
    if keys.is_some_and(|k| k.is_object()) {
        return yaml::<LocalKms>(text)?.into_seed();
    }
    let legacy = keys
        .and_then(|k| k.as_array())
        .is_some_and(|list| list.iter().any(|k| k.get("Metadata").is_some()));
    if legacy {
        return yaml::<LocalKmsLegacy>(text)?.into_seed();
    }
    yaml::<VaultdSeed>(text)?.into_seed()
}

fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, SeedError> {
    // An empty file is an empty seed.
    if text.trim().is_empty() {
        return yaml("{}");
    }
    // The parser's message quotes the offending line, which may hold a secret: keep only its
    // location and the reason.
    serde_saphyr::from_str(text).map_err(|e| SeedError(redacted_yaml_error(&e.to_string())))
}

/// The first line of a YAML error (what and where), without the source excerpt that follows.
fn redacted_yaml_error(message: &str) -> String {
    message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("not valid YAML")
        .trim()
        .to_string()
}

pub(super) fn entry<T>(
    section: &str,
    index: usize,
    name: &str,
    result: Result<T, String>,
) -> Result<T, SeedError> {
    result.map_err(|e| SeedError(format!("{section}[{index}] ({name}): {e}")))
}

pub(super) fn key_id(text: &str) -> Result<Uuid, String> {
    Uuid::try_parse(text)
        .ok()
        .filter(|_| text.len() == 36)
        .ok_or_else(|| {
            "KeyId must be a key id (a UUID such as 6f7b3c1e-2a9d-4a55-9b7e-0c1d2e3f4a5b)".into()
        })
}

pub(super) fn hex_material(index: usize, text: &str) -> Result<SeedMaterial, String> {
    hex::decode(text.trim())
        .map(|bytes| SeedMaterial::Bytes(Zeroizing::new(bytes)))
        .map_err(|_| format!("BackingKeys[{index}] is not hexadecimal"))
}

pub(super) fn pem_material(pem: &str) -> Result<SeedMaterial, String> {
    PrivateKey::from_pem(pem)
        .map(SeedMaterial::Private)
        .map_err(|e| format!("PrivateKeyPem: {e}"))
}

pub(super) fn parse_enum<T>(
    field: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
) -> Result<T, String>
where
    T: std::fmt::Display,
{
    parse(text).ok_or_else(|| {
        let names: Vec<String> = all.iter().map(|v| v.to_string()).collect();
        format!("{field} {text:?} is not one of {}", names.join(", "))
    })
}

pub(super) fn date(field: &str, text: &str) -> Result<std::time::SystemTime, String> {
    crate::clock::parse_rfc3339(text)
        .ok_or_else(|| format!("{field} {text:?} is not a date such as 2027-01-01T00:00:00Z"))
}

/// Rejects a second entry with the same identity.
pub(super) fn unique(section: &str, names: impl Iterator<Item = String>) -> Result<(), SeedError> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(SeedError(format!("{section}: {name} appears twice")));
        }
    }
    Ok(())
}

// --- vaultd's format -------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct VaultdSeed {
    #[serde(default)]
    keys: Vec<VaultdKey>,
    #[serde(default)]
    aliases: Vec<Alias>,
    #[serde(default)]
    users: Vec<VaultdUser>,
    #[serde(default)]
    parameters: Vec<VaultdParameter>,
    #[serde(default)]
    secrets: Vec<VaultdSecret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct VaultdKey {
    key_id: String,
    #[serde(default)]
    description: String,
    key_spec: Option<String>,
    key_usage: Option<String>,
    enabled: Option<bool>,
    #[serde(default)]
    backing_keys: Vec<String>,
    private_key_pem: Option<String>,
    rotation_period_in_days: Option<u32>,
    next_rotation_date: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Alias {
    pub(super) alias_name: String,
    pub(super) target_key_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct VaultdUser {
    user_name: String,
    #[serde(default)]
    access_keys: Vec<VaultdAccessKey>,
    #[serde(default)]
    policies: Vec<VaultdPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct VaultdAccessKey {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct VaultdPolicy {
    policy_name: String,
    /// A JSON string, or the document as YAML.
    policy_document: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct VaultdParameter {
    name: String,
    #[serde(rename = "Type")]
    parameter_type: Option<String>,
    /// A string, number or boolean (as written), or for StringList a list.
    value: serde_json::Value,
    key_id: Option<String>,
    description: Option<String>,
    tier: Option<String>,
    allowed_pattern: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct VaultdSecret {
    name: String,
    secret_string: Option<serde_json::Value>,
    /// Base64.
    secret_binary: Option<String>,
    kms_key_id: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl VaultdSeed {
    fn into_seed(self) -> Result<Seed, SeedError> {
        unique("Keys", self.keys.iter().map(|k| k.key_id.clone()))?;
        unique("Aliases", self.aliases.iter().map(|a| a.alias_name.clone()))?;
        unique("Users", self.users.iter().map(|u| u.user_name.clone()))?;
        unique("Parameters", self.parameters.iter().map(|p| p.name.clone()))?;
        unique("Secrets", self.secrets.iter().map(|s| s.name.clone()))?;
        let mut seed = Seed::default();
        for (i, key) in self.keys.into_iter().enumerate() {
            let name = key.key_id.clone();
            seed.keys
                .push(entry("Keys", i, &name, key.into_seed_key())?);
        }
        seed.aliases = aliases(self.aliases)?;
        for (i, user) in self.users.into_iter().enumerate() {
            let name = user.user_name.clone();
            seed.users
                .push(entry("Users", i, &name, user.into_seed_user())?);
        }
        for (i, parameter) in self.parameters.into_iter().enumerate() {
            let name = parameter.name.clone();
            seed.parameters.push(entry(
                "Parameters",
                i,
                &name,
                parameter.into_seed_parameter(),
            )?);
        }
        for (i, secret) in self.secrets.into_iter().enumerate() {
            let name = secret.name.clone();
            seed.secrets
                .push(entry("Secrets", i, &name, secret.into_seed_secret())?);
        }
        Ok(seed)
    }
}

impl VaultdKey {
    fn into_seed_key(self) -> Result<SeedKey, String> {
        let id = key_id(&self.key_id)?;
        let key_spec = match &self.key_spec {
            Some(text) => parse_enum("KeySpec", text, KeySpec::parse, KeySpec::ALL)?,
            None => KeySpec::SymmetricDefault,
        };
        let key_usage = match &self.key_usage {
            Some(text) => parse_enum("KeyUsage", text, KeyUsage::parse, KeyUsage::ALL)?,
            None => default_usage(key_spec),
        };
        let asymmetric =
            crate::crypto::asymmetric::AsymmetricSpec::from_key_spec(key_spec).is_some();
        let material = match (
            asymmetric,
            self.private_key_pem,
            self.backing_keys.is_empty(),
        ) {
            (true, Some(pem), true) => vec![pem_material(&pem)?],
            (true, None, true) => Vec::new(),
            (true, _, false) => {
                return Err(format!(
                    "a {key_spec} key takes PrivateKeyPem, not BackingKeys"
                ));
            }
            (false, Some(_), _) => {
                return Err(format!(
                    "a {key_spec} key takes BackingKeys, not PrivateKeyPem"
                ));
            }
            (false, None, _) => self
                .backing_keys
                .iter()
                .enumerate()
                .map(|(i, k)| hex_material(i, k))
                .collect::<Result<_, _>>()?,
        };
        let rotation = match (self.rotation_period_in_days, &self.next_rotation_date) {
            (None, None) => None,
            (period, next) => Some(SeedRotation {
                period_days: period.unwrap_or(crate::kms::DEFAULT_ROTATION_PERIOD_DAYS as u32),
                next_rotation: next
                    .as_deref()
                    .map(|t| date("NextRotationDate", t))
                    .transpose()?,
            }),
        };
        Ok(SeedKey {
            id,
            description: self.description,
            key_spec,
            key_usage,
            enabled: self.enabled.unwrap_or(true),
            material,
            rotation,
            tags: tags(self.tags),
        })
    }
}

/// CreateKey's default usage for a spec.
fn default_usage(spec: KeySpec) -> KeyUsage {
    match spec {
        KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
            KeyUsage::GenerateVerifyMac
        }
        _ => KeyUsage::EncryptDecrypt,
    }
}

pub(super) fn aliases(entries: Vec<Alias>) -> Result<Vec<SeedAlias>, SeedError> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, alias)| {
            let target = entry(
                "Aliases",
                i,
                &alias.alias_name,
                key_id(&alias.target_key_id).map_err(|e| format!("Target{e}")),
            )?;
            Ok(SeedAlias {
                name: alias.alias_name,
                target,
            })
        })
        .collect()
}

impl VaultdUser {
    fn into_seed_user(self) -> Result<SeedUser, String> {
        let access_keys = self
            .access_keys
            .into_iter()
            .map(|k| {
                let credentials = Credentials {
                    access_key_id: k.access_key_id,
                    secret_access_key: k.secret_access_key,
                };
                credentials.validate()?;
                Ok(credentials)
            })
            .collect::<Result<Vec<_>, String>>()?;
        let policies = self
            .policies
            .into_iter()
            .map(|p| {
                let document = match p.policy_document {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (p.policy_name, document)
            })
            .collect();
        Ok(SeedUser {
            name: self.user_name,
            access_keys,
            policies,
        })
    }
}

impl VaultdParameter {
    fn into_seed_parameter(self) -> Result<SeedParameter, String> {
        let parameter_type = match &self.parameter_type {
            Some(text) => parse_enum("Type", text, ParameterType::parse, ParameterType::ALL)?,
            None => ParameterType::String,
        };
        let value = match self.value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Array(items) if parameter_type == ParameterType::StringList => items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::String(text) => Ok(text),
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                        Ok(item.to_string())
                    }
                    _ => Err("Value: a StringList's items are strings".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                value.to_string()
            }
            _ => {
                return Err(
                    "Value must be a string (or, for a StringList, a list of strings)".into(),
                );
            }
        };
        let tier = self
            .tier
            .as_deref()
            .map(|t| parse_enum("Tier", t, ParameterTier::parse, ParameterTier::ALL))
            .transpose()?;
        Ok(SeedParameter(PutParameterInput {
            name: self.name,
            description: self.description,
            value: Zeroizing::new(value),
            parameter_type: Some(parameter_type),
            key_id: self.key_id,
            overwrite: false,
            allowed_pattern: self.allowed_pattern,
            tags: tags(self.tags),
            tier,
            data_type: None,
            resolved_key: None,
        }))
    }
}

impl VaultdSecret {
    fn into_seed_secret(self) -> Result<SeedSecret, String> {
        use base64::Engine;
        let binary = self
            .secret_binary
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .map_err(|_| "SecretBinary is not base64".to_string())
            })
            .transpose()?;
        let value = secret_value(self.secret_string, binary).map_err(|e| e.message)?;
        if value.is_none() {
            return Err("give the secret a SecretString or a SecretBinary".into());
        }
        Ok(SeedSecret(CreateSecretInput {
            name: self.name,
            client_request_token: None,
            description: self.description,
            kms_key_id: self.kms_key_id,
            value,
            tags: tags(self.tags),
        }))
    }
}
