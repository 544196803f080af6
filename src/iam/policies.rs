//! Inline user policies: validated before they are stored, and within IAM's aggregate size.

use super::{Iam, MAX_USER_POLICY_CHARS, User, validate_name};
use crate::{
    auth::policy::Policy,
    error::{Error, ErrorKind, Result},
    model::UserPolicyRecord,
    paging::{Cursor, Page, Paged},
};

/// Parses a policy document, naming the problem (MalformedPolicyDocument).
pub fn parse_policy(document: &str) -> Result<Policy> {
    Policy::parse(document).map_err(|e| {
        Error::new(
            ErrorKind::MalformedPolicyDocument,
            format!("The policy document is malformed: {e}"),
        )
    })
}

fn non_white_len(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

impl Iam {
    pub fn put_user_policy(
        &self,
        user_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        validate_name(policy_name, "policyName", 128)?;
        parse_policy(document)?;
        let user = self.user(user_name)?;
        let _guard = self.lock()?;
        let others: usize = self
            .store
            .user_policies(&user.record.id)?
            .iter()
            .filter(|p| p.name != policy_name)
            .map(|p| non_white_len(&p.document))
            .sum();
        if others + non_white_len(document) > MAX_USER_POLICY_CHARS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "Maximum policy size of {MAX_USER_POLICY_CHARS} bytes exceeded for user {}.",
                    user.record.name
                ),
            ));
        }
        self.store.put_user_policy(&UserPolicyRecord {
            user_id: user.record.id.clone(),
            name: policy_name.to_string(),
            document: document.to_string(),
        })?;
        self.forget_user(&user.record.id);
        Ok(())
    }

    fn no_such_policy(user: &User, policy_name: &str) -> Error {
        Error::new(
            ErrorKind::NoSuchEntity,
            format!(
                "The user policy with name {policy_name} cannot be found for user {}.",
                user.record.name
            ),
        )
    }

    /// A user's inline policy: (user name as stored, document).
    pub fn get_user_policy(&self, user_name: &str, policy_name: &str) -> Result<(String, String)> {
        validate_name(policy_name, "policyName", 128)?;
        let user = self.user(user_name)?;
        self.store
            .user_policies(&user.record.id)?
            .into_iter()
            .find(|p| p.name == policy_name)
            .map(|p| (user.record.name.clone(), p.document))
            .ok_or_else(|| Self::no_such_policy(&user, policy_name))
    }

    pub fn list_user_policies(&self, user_name: &str, page: &Page) -> Result<Paged<String>> {
        let cursor = Cursor::parse_field(page, "maxItems", 1000, 100)?;
        let user = self.user(user_name)?;
        let names = self
            .store
            .user_policies(&user.record.id)?
            .into_iter()
            .map(|p| p.name)
            .collect();
        Ok(cursor.slice(names, Clone::clone))
    }

    pub fn delete_user_policy(&self, user_name: &str, policy_name: &str) -> Result<()> {
        validate_name(policy_name, "policyName", 128)?;
        let user = self.user(user_name)?;
        let _guard = self.lock()?;
        if !self
            .store
            .delete_user_policy(&user.record.id, policy_name)?
        {
            return Err(Self::no_such_policy(&user, policy_name));
        }
        self.forget_user(&user.record.id);
        Ok(())
    }
}
