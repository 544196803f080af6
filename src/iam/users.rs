//! Users: IAM's name rules (case-insensitive uniqueness), listing, deletion only once nothing is
//! attached, and revoking a user's sessions.

use std::{
    sync::{Arc, atomic::Ordering},
    time::SystemTime,
};

use super::{Iam, User, credentials, validate_name};
use crate::{
    error::{Error, ErrorKind, Result},
    model::UserRecord,
    paging::{Cursor, Page, Paged},
};

impl Iam {
    /// How the user named `name` (compared case-insensitively, as IAM) spells its name, if it
    /// exists: ARNs, and so authorization, use the stored spelling.
    pub fn stored_user_name(&self, name: &str) -> Result<Option<String>> {
        validate_name(name, "userName", 64)?;
        Ok(self.store.user_by_name(name)?.map(|u| u.name))
    }

    /// The user named `name` (case-insensitively, as IAM), or NoSuchEntity.
    pub fn user(&self, name: &str) -> Result<Arc<User>> {
        validate_name(name, "userName", 64)?;
        let generation = self.generation.load(Ordering::Acquire);
        let record = self.store.user_by_name(name)?.ok_or_else(|| {
            Error::new(
                ErrorKind::NoSuchEntity,
                format!("The user with name {name} cannot be found."),
            )
        })?;
        match self.cached_user(&record.id) {
            Some(user) if user.record == record => Ok(user),
            _ => self.load_user(record, generation),
        }
    }

    pub fn create_user(&self, name: &str) -> Result<Arc<User>> {
        validate_name(name, "userName", 64)?;
        let _guard = self.lock()?;
        if self.store.user_by_name(name)?.is_some() {
            return Err(Error::new(
                ErrorKind::EntityAlreadyExists,
                format!("User with name {name} already exists."),
            ));
        }
        let record = UserRecord {
            id: credentials::random_id("AIDA")?,
            name: name.to_string(),
            created_at: self.clock.now(),
            sessions_valid_after: None,
        };
        let generation = self.generation.load(Ordering::Acquire);
        self.store.insert_user(&record)?;
        self.load_user(record, generation)
    }

    /// Users in name order, 1–1000 a page (100 by default).
    pub fn list_users(&self, page: &Page) -> Result<Paged<UserRecord>> {
        let cursor = Cursor::parse_field(page, "maxItems", 1000, 100)?;
        let users = self
            .store
            .list_users(cursor.after.as_deref(), cursor.limit + 1)?;
        Ok(cursor.finish(users, |u| u.name.clone()))
    }

    /// Deletes a user that has no access keys and no inline policies left (DeleteConflict
    /// otherwise, as IAM). Root cannot be deleted.
    pub fn delete_user(&self, name: &str) -> Result<()> {
        let user = self.user(name)?;
        if self.is_root_user(&user.record.id) {
            return Err(Error::new(
                ErrorKind::DeleteConflict,
                "The root user cannot be deleted.",
            ));
        }
        let _guard = self.lock()?;
        let keys = self.store.access_keys_of(&user.record.id)?.len();
        let policies = self.store.user_policies(&user.record.id)?.len();
        if keys + policies > 0 {
            return Err(Error::new(
                ErrorKind::DeleteConflict,
                format!(
                    "Cannot delete entity, must delete access keys ({keys}) and policies ({policies}) first."
                ),
            ));
        }
        let deleted = self.store.delete_user(&user.record.id);
        self.forget_user(&user.record.id);
        match deleted {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::new(
                ErrorKind::NoSuchEntity,
                format!("The user with name {name} cannot be found."),
            )),
            Err(crate::store::Error::Conflict(_)) => Err(Error::new(
                ErrorKind::DeleteConflict,
                "Cannot delete entity, must delete access keys and policies first.",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends every session the user holds now: sessions issued at or before this instant are
    /// refused from the next request on.
    pub fn revoke_user_sessions(&self, name: &str) -> Result<SystemTime> {
        let user = self.user(name)?;
        let _guard = self.lock()?;
        let now = self.clock.now();
        if !self.store.set_sessions_valid_after(&user.record.id, now)? {
            return Err(Error::new(
                ErrorKind::NoSuchEntity,
                format!("The user with name {name} cannot be found."),
            ));
        }
        self.forget_user(&user.record.id);
        Ok(now)
    }
}
