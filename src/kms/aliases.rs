//! Aliases: friendly names (`alias/NAME`) that point at a key and can be re-pointed.

use std::time::SystemTime;

use uuid::Uuid;

use super::{Kms, Page, Paged};
use crate::paging::Cursor;
use crate::{
    error::{Error, ErrorKind, Result},
    model::AliasRecord,
};

pub const MAX_ALIAS_NAME_LEN: usize = 256;
/// AWS's quota of aliases per key.
pub const MAX_ALIASES_PER_KEY: usize = 50;
const RESERVED_PREFIX: &str = "alias/aws/";

/// An alias as ListAliases shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasView {
    pub name: String,
    pub arn: String,
    pub target_key_id: Uuid,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

/// AWS's alias naming rules: `alias/` then 1–250 of `[a-zA-Z0-9/_-]`; `alias/aws/` is reserved for
/// AWS managed keys.
pub fn validate_alias_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::validation(
            "1 validation error detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null",
        ));
    }
    if name.len() > MAX_ALIAS_NAME_LEN {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must \
             have length less than or equal to {MAX_ALIAS_NAME_LEN}"
        )));
    }
    let invalid = |why: &str| Error::new(ErrorKind::InvalidAliasName, why.to_string());
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(invalid("An alias name must begin with 'alias/'."));
    };
    if rest.is_empty() {
        return Err(invalid(
            "An alias name must have at least one character after 'alias/'.",
        ));
    }
    if !rest
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'-'))
    {
        return Err(invalid(
            "An alias name may contain only letters, digits, '/', '_' and '-'.",
        ));
    }
    if name.starts_with(RESERVED_PREFIX) {
        return Err(invalid(
            "The alias name prefix 'alias/aws/' is reserved for AWS managed keys.",
        ));
    }
    Ok(())
}

impl Kms {
    fn alias_view(&self, alias: AliasRecord) -> AliasView {
        AliasView {
            arn: self.arns.alias(&alias.name),
            name: alias.name,
            target_key_id: alias.key_id,
            created_at: alias.created_at,
            updated_at: alias.updated_at,
        }
    }

    /// The target key as it is now, refused while pending deletion. Call under the writer lock,
    /// after [`Kms::key`] loaded it.
    fn alias_target_now(&self, target: Uuid) -> Result<std::sync::Arc<super::CachedKey>> {
        let key = self.current(target)?;
        self.require_not_pending_deletion(&key.record)?;
        Ok(key)
    }

    pub fn create_alias(&self, name: &str, target: Uuid) -> Result<()> {
        validate_alias_name(name)?;
        self.key(target)?;
        let _guard = self.write_lock()?;
        self.alias_target_now(target)?;
        if self.store.alias(name)?.is_some() {
            return Err(Error::already_exists(format!(
                "An alias with the name {} already exists",
                self.arns.alias(name)
            )));
        }
        if self
            .store
            .list_aliases(Some(target), None, MAX_ALIASES_PER_KEY)?
            .len()
            >= MAX_ALIASES_PER_KEY
        {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("A key can have at most {MAX_ALIASES_PER_KEY} aliases."),
            ));
        }
        let now = self.now();
        self.store.insert_alias(&AliasRecord {
            name: name.to_string(),
            key_id: target,
            created_at: now,
            updated_at: now,
        })?;
        self.aliases
            .write()
            .expect("alias cache")
            .insert(name.to_string(), target);
        Ok(())
    }

    /// UpdateAlias: re-points an alias to a key of the same spec and usage.
    pub fn update_alias(&self, name: &str, target: Uuid) -> Result<()> {
        validate_alias_name(name)?;
        self.key(target)?;
        let _guard = self.write_lock()?;
        let new_target = self.alias_target_now(target)?;
        let Some(mut alias) = self.store.alias(name)? else {
            return Err(Error::not_found(format!(
                "Alias {} is not found.",
                self.arns.alias(name)
            )));
        };
        if let Some(old) = self.store.key(alias.key_id)?
            && (old.key_spec != new_target.record.key_spec
                || old.key_usage != new_target.record.key_usage)
        {
            return Err(Error::validation(format!(
                "The new target key must have the same key spec ({}) and key usage ({}) as the current one.",
                old.key_spec, old.key_usage
            )));
        }
        alias.key_id = target;
        alias.updated_at = self.now();
        self.store.update_alias(&alias)?;
        self.aliases
            .write()
            .expect("alias cache")
            .insert(name.to_string(), target);
        Ok(())
    }

    pub fn delete_alias(&self, name: &str) -> Result<()> {
        validate_alias_name(name)?;
        let _guard = self.write_lock()?;
        // Drop the cache entry even if the store then fails: a miss only costs a read.
        self.aliases.write().expect("alias cache").remove(name);
        if !self.store.delete_alias(name)? {
            return Err(Error::not_found(format!(
                "Alias {} is not found.",
                self.arns.alias(name)
            )));
        }
        Ok(())
    }

    /// ListAliases, optionally of one key (limit 1–100, default 50), ordered by name.
    pub fn list_aliases(&self, key: Option<Uuid>, page: &Page) -> Result<Paged<AliasView>> {
        let cursor = Cursor::parse(page, 100, 50)?;
        self.purge_due_deletions()?;
        let aliases = self
            .store
            .list_aliases(key, cursor.after.as_deref(), cursor.limit + 1)?
            .into_iter()
            .map(|a| self.alias_view(a))
            .collect();
        Ok(cursor.finish(aliases, |a: &AliasView| a.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_naming_rules() {
        for ok in [
            "alias/app",
            "alias/team-a/billing_v2",
            "alias/A1",
            "alias/aws",
        ] {
            assert!(validate_alias_name(ok).is_ok(), "{ok}");
        }
        let kind = |n: &str| validate_alias_name(n).unwrap_err().kind;
        assert_eq!(kind(""), ErrorKind::Validation);
        assert_eq!(
            kind(&format!("alias/{}", "a".repeat(251))),
            ErrorKind::Validation
        );
        assert!(validate_alias_name(&format!("alias/{}", "a".repeat(250))).is_ok());
        for bad in [
            "app",
            "alias/",
            "alias/has space",
            "alias/semi;colon",
            "alias/ümlaut",
            "alias/aws/ssm",
            "Alias/x",
        ] {
            assert_eq!(kind(bad), ErrorKind::InvalidAliasName, "{bad}");
        }
    }
}
