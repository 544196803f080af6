//! Seed files: what a dev stack's vault must hold at every start (keys with fixed ids and
//! material, aliases, users with fixed access keys and policies, parameters, secrets), so that its
//! tests are deterministic.
//!
//! Two formats, told apart by their shape: vaultd's own ([`formats`], documented in the README)
//! and local-kms's `seed.yaml` (`Keys.Symmetric.Aes`, `Keys.Symmetric.Hmac`,
//! `Keys.Asymmetric.Rsa`/`Ecc`, `Aliases`, and its older flat list of AES keys), so that a
//! local-kms user can switch by changing the image.
//!
//! Applying a seed creates what is missing and never changes or deletes what exists: applied
//! twice it changes nothing, and what the stack did at run time survives a restart. Things that
//! exist but cannot be what the seed says (a key with other material, an access key with another
//! secret) stop the start with an error naming them. Error messages never carry key material,
//! secrets or parameter values.

mod formats;
mod local_kms;
#[cfg(test)]
mod tests;

use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{
    error::{ErrorKind, Result as DomainResult},
    iam::Credentials,
    kms::{SeedKey, Seeded},
    model::Tag,
    params::PutParameterInput,
    secrets::{CreateSecretInput, SecretValue},
    vault::Vault,
};

/// A seed file's content, checked and decoded (key material parsed, PEM read).
#[derive(Clone, Debug, Default)]
pub struct Seed {
    pub keys: Vec<SeedKey>,
    pub aliases: Vec<SeedAlias>,
    pub users: Vec<SeedUser>,
    pub parameters: Vec<SeedParameter>,
    pub secrets: Vec<SeedSecret>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedAlias {
    pub name: String,
    pub target: Uuid,
}

#[derive(Clone, Debug)]
pub struct SeedUser {
    pub name: String,
    pub access_keys: Vec<Credentials>,
    /// Inline policies: name and JSON document.
    pub policies: Vec<(String, String)>,
}

/// A parameter; its value is a secret for SecureString: zeroized, never in `Debug`.
#[derive(Clone)]
pub struct SeedParameter(pub PutParameterInput);

impl std::fmt::Debug for SeedParameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedParameter")
            .field("name", &self.0.name)
            .finish_non_exhaustive()
    }
}

/// A secret; its value is zeroized and never in `Debug`.
#[derive(Clone)]
pub struct SeedSecret(pub CreateSecretInput);

impl std::fmt::Debug for SeedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedSecret")
            .field("name", &self.0.name)
            .finish_non_exhaustive()
    }
}

/// A seed that cannot be read or applied: the message names the file's entry and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SeedError(pub String);

/// What applying a seed did, by kind of thing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Things created now ("key 1234…", "alias alias/app", …).
    pub created: Vec<String>,
    /// Keys that got the seed's later material versions.
    pub extended: Vec<String>,
    /// Things that were there already and were left as they are.
    pub unchanged: usize,
}

impl SeedReport {
    /// One line for the log.
    pub fn summary(&self) -> String {
        format!(
            "created {}, extended {}, left {} as they were",
            self.created.len(),
            self.extended.len(),
            self.unchanged
        )
    }
}

impl Seed {
    /// Reads a seed file's text (YAML), in either format.
    pub fn parse(text: &str) -> Result<Seed, SeedError> {
        formats::parse(text)
    }

    /// Reads the seed file at `path`.
    pub fn read(path: &std::path::Path) -> Result<Seed, SeedError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| SeedError(format!("seed file {}: {e}", path.display())))?,
        );
        Seed::parse(&text).map_err(|e| SeedError(format!("seed file {}: {}", path.display(), e.0)))
    }

    /// Creates what the seed names and the vault lacks (see the module doc).
    pub fn apply(&self, vault: &Vault) -> Result<SeedReport, SeedError> {
        let mut report = SeedReport::default();
        let fail = |what: String| {
            move |e: crate::error::Error| SeedError(format!("{what}: {}", e.message))
        };
        for key in &self.keys {
            let what = format!("key {}", key.id);
            match vault.kms.seed_key(key).map_err(fail(what.clone()))? {
                Seeded::Created => report.created.push(what),
                Seeded::Extended(n) => report.extended.push(format!("{what} (+{n} versions)")),
                Seeded::Unchanged => report.unchanged += 1,
            }
        }
        for alias in &self.aliases {
            let what = format!("alias {}", alias.name);
            match vault.kms.resolve(&alias.name) {
                Ok(existing) if existing.id == alias.target => report.unchanged += 1,
                Ok(existing) => {
                    tracing::warn!(
                        "seed: {what} points at key {} in the vault, not at {} as the seed says; \
                         left as it is",
                        existing.id,
                        alias.target
                    );
                    report.unchanged += 1;
                }
                Err(e) if e.kind == ErrorKind::NotFound => {
                    vault
                        .kms
                        .create_alias(&alias.name, alias.target)
                        .map_err(fail(what.clone()))?;
                    report.created.push(what);
                }
                Err(e) => return Err(fail(what)(e)),
            }
        }
        for user in &self.users {
            apply_user(vault, user, &mut report)?;
        }
        let seeder = vault.arns.user(crate::iam::ROOT_USER);
        for parameter in &self.parameters {
            let input = &parameter.0;
            let what = format!("parameter {}", input.name);
            match vault.params.find(&input.name) {
                Ok(_) => report.unchanged += 1,
                Err(e) if e.kind == ErrorKind::ParameterNotFound => {
                    vault
                        .params
                        .put_parameter(input.clone(), &seeder)
                        .map_err(fail(what.clone()))?;
                    report.created.push(what);
                }
                Err(e) => return Err(fail(what)(e)),
            }
        }
        for secret in &self.secrets {
            let input = &secret.0;
            let what = format!("secret {}", input.name);
            match vault.secrets.find(&input.name) {
                Ok(_) => report.unchanged += 1,
                Err(e) if e.kind == ErrorKind::ResourceNotFound => {
                    let arn = vault
                        .secrets
                        .new_arn(&input.name)
                        .map_err(fail(what.clone()))?;
                    vault
                        .secrets
                        .create_secret(arn, input.clone())
                        .map_err(fail(what.clone()))?;
                    report.created.push(what);
                }
                Err(e) => return Err(fail(what)(e)),
            }
        }
        Ok(report)
    }
}

fn apply_user(vault: &Vault, user: &SeedUser, report: &mut SeedReport) -> Result<(), SeedError> {
    let what = format!("user {}", user.name);
    let fail = |what: &str, e: crate::error::Error| SeedError(format!("{what}: {}", e.message));
    let exists = vault
        .iam
        .stored_user_name(&user.name)
        .map_err(|e| fail(&what, e))?
        .is_some();
    match exists {
        true => report.unchanged += 1,
        false => {
            vault
                .iam
                .create_user(&user.name)
                .map_err(|e| fail(&what, e))?;
            report.created.push(what.clone());
        }
    }
    for credentials in &user.access_keys {
        let key = format!("{what}: access key {}", credentials.access_key_id);
        match vault
            .iam
            .seed_access_key(&user.name, credentials)
            .map_err(|e| fail(&key, e))?
        {
            true => report.created.push(key),
            false => report.unchanged += 1,
        }
    }
    for (name, document) in &user.policies {
        let policy = format!("{what}: policy {name}");
        match vault.iam.get_user_policy(&user.name, name) {
            Ok(_) => report.unchanged += 1,
            Err(e) if e.kind == ErrorKind::NoSuchEntity => {
                vault
                    .iam
                    .put_user_policy(&user.name, name, document)
                    .map_err(|e| fail(&policy, e))?;
                report.created.push(policy);
            }
            Err(e) => return Err(fail(&policy, e)),
        }
    }
    Ok(())
}

/// Tags from a seed's `Tags` mapping, in name order.
fn tags(map: std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect()
}

/// A secret's value from the seed: a string, or a mapping written as its JSON.
fn secret_value(
    string: Option<serde_json::Value>,
    binary: Option<Vec<u8>>,
) -> DomainResult<Option<SecretValue>> {
    let string = string.map(|value| match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    });
    SecretValue::from_members(string, binary)
}
