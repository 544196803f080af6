//! Access keys: at most two per user, shown once, Active or Inactive; deactivation voids the
//! sessions a key minted.

use std::sync::Arc;

use super::{Credentials, Iam, NewAccessKey, User};
use crate::{
    error::{Error, ErrorKind, Result},
    model::{AccessKeyRecord, AccessKeyStatus},
    paging::{Cursor, Page, Paged},
};

impl Iam {
    pub fn create_access_key(&self, user_name: &str) -> Result<NewAccessKey> {
        let user = self.user(user_name)?;
        let credentials = Credentials::generate()?;
        let _guard = self.lock()?;
        let record = self.insert_access_key(&user.record, &credentials)?;
        Ok(NewAccessKey {
            user_name: user.record.name.clone(),
            record,
            credentials,
        })
    }

    /// An access key with the id and secret a seed file gives it, for fixed dev credentials.
    /// Returns whether it was created; one of that id that is another user's or has another
    /// secret is an error, never overwritten.
    pub fn seed_access_key(&self, user_name: &str, credentials: &Credentials) -> Result<bool> {
        credentials.validate().map_err(Error::validation)?;
        let user = self.user(user_name)?;
        let _guard = self.lock()?;
        match self.store.access_key(&credentials.access_key_id)? {
            None => {
                self.insert_access_key(&user.record, credentials)?;
                Ok(true)
            }
            Some(existing) => {
                let same = existing.user_id == user.record.id
                    && self.open_secret(&existing).is_ok_and(|secret| {
                        subtle::ConstantTimeEq::ct_eq(
                            secret.as_bytes(),
                            credentials.secret_access_key.as_bytes(),
                        )
                        .into()
                    });
                match same {
                    true => Ok(false),
                    false => Err(Error::validation(format!(
                        "the access key {} exists with another user or another secret",
                        credentials.access_key_id
                    ))),
                }
            }
        }
    }

    /// A user's access keys, oldest first (IAM pages them; two fit on any page).
    pub fn list_access_keys(
        &self,
        user_name: &str,
        page: &Page,
    ) -> Result<(Arc<User>, Paged<AccessKeyRecord>)> {
        let cursor = Cursor::parse_field(page, "maxItems", 1000, 100)?;
        let user = self.user(user_name)?;
        let keys = self.store.access_keys_of(&user.record.id)?;
        Ok((user, cursor.slice(keys, |k| k.id.clone())))
    }

    /// The access key `id` of user `user_name`, or NoSuchEntity (also when it is another user's).
    fn key_of(&self, user: &User, id: &str) -> Result<AccessKeyRecord> {
        self.store
            .access_key(id)?
            .filter(|k| k.user_id == user.record.id)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NoSuchEntity,
                    format!(
                        "The Access Key with id {id} cannot be found for user {}.",
                        user.record.name
                    ),
                )
            })
    }

    pub fn update_access_key(
        &self,
        user_name: &str,
        id: &str,
        status: AccessKeyStatus,
    ) -> Result<()> {
        let user = self.user(user_name)?;
        let _guard = self.lock()?;
        let mut key = self.key_of(&user, id)?;
        if status == AccessKeyStatus::Inactive && key.status == AccessKeyStatus::Active {
            // Deactivation ends the key's sessions for good: reactivating it does not revive them.
            key.sessions_valid_after = Some(self.clock.now());
        }
        key.status = status;
        self.store.update_access_key(&key)?;
        self.forget_access_key(id);
        Ok(())
    }

    pub fn delete_access_key(&self, user_name: &str, id: &str) -> Result<()> {
        let user = self.user(user_name)?;
        let _guard = self.lock()?;
        self.key_of(&user, id)?;
        self.store.delete_access_key(id)?;
        self.forget_access_key(id);
        Ok(())
    }
}
