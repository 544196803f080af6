//! The KeyManagement service's plumbing: key resolution (from memory when it can), authorization,
//! and where a domain call runs (inline on cached keys, else on the blocking pool).

use std::{collections::HashMap, sync::Arc};

use tonic::{Response, Status};
use uuid::Uuid;

use crate::{
    api::{
        call::Caller,
        convert::{self, FromWire, optional},
        status,
    },
    auth::Action,
    error::Result,
    kms::{DataKey, DataKeyPair, Kms, ResolvedKey},
    model::{DataKeyPairSpec, DataKeySpec},
    vault::Vault,
};

pub(super) type RpcResult<T> = Result<Response<T>, Status>;

/// The KeyManagement service over a vault.
#[derive(Debug, Clone)]
pub struct KmsApi {
    pub(super) vault: Arc<Vault>,
}

impl KmsApi {
    pub fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
    }

    pub(super) fn kms(&self) -> &Kms {
        &self.vault.kms
    }

    pub(super) fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        resources: &[&str],
    ) -> Result<(), Status> {
        self.authorize_with_context(caller, action, resources, None)
    }

    /// [`KmsApi::authorize`] with the request's encryption context, for
    /// `kms:EncryptionContext:<key>` conditions.
    pub(super) fn authorize_with_context(
        &self,
        caller: &Caller,
        action: &str,
        resources: &[&str],
        encryption_context: Option<&HashMap<String, String>>,
    ) -> Result<(), Status> {
        caller.authorize(
            &self.vault.authorizer,
            &Action {
                name: action,
                resources,
                encryption_context,
            },
        )
    }

    /// Resolves a KeyId (UUID, key ARN, alias or alias ARN): from memory when it can, else on the
    /// blocking pool.
    pub(super) async fn resolve(&self, key_id: &str) -> Result<ResolvedKey, Status> {
        match self.kms().resolve_hot(key_id) {
            Some(resolved) => resolved.map_err(status),
            None => {
                let key_id = key_id.to_string();
                self.blocking(move |kms| kms.resolve(&key_id)).await
            }
        }
    }

    /// Resolves a key id or key ARN where AWS does not take an alias.
    pub(super) async fn key_reference(
        &self,
        key_id: &str,
        field: &str,
    ) -> Result<ResolvedKey, Status> {
        decode(self.kms().require_key_reference(key_id, field))?;
        self.resolve(key_id).await
    }

    /// CreateAlias and UpdateAlias: a valid alias name and a target key (id or ARN, not an
    /// alias), with `action` authorized on both, as AWS does. UpdateAlias (`existing`) also
    /// needs it on the key the alias points to now, so nobody can re-point an alias away from a
    /// key they have no rights on.
    pub(super) async fn alias_and_target(
        &self,
        caller: &Caller,
        action: &str,
        alias_name: &str,
        target_key_id: &str,
        existing: bool,
    ) -> Result<Uuid, Status> {
        decode(crate::kms::validate_alias_name(alias_name))?;
        let current = match existing {
            true => Some(self.resolve(alias_name).await?),
            false => None,
        };
        let target = self.key_reference(target_key_id, "TargetKeyId").await?;
        let alias_arn = self.vault.arns.alias(alias_name);
        let mut resources = vec![alias_arn.as_str()];
        if let Some(current) = &current {
            resources.push(&current.arn);
        }
        resources.push(&target.arn);
        self.authorize(caller, action, &resources)?;
        Ok(target.id)
    }

    /// Resolves a KeyId and authorizes `action` on the key.
    pub(super) async fn key(
        &self,
        caller: &Caller,
        action: &str,
        key_id: &str,
    ) -> Result<ResolvedKey, Status> {
        self.key_in_context(caller, action, key_id, None).await
    }

    /// [`KmsApi::key`] for a cryptographic operation, whose encryption context the policies'
    /// conditions may name.
    pub(super) async fn key_in_context(
        &self,
        caller: &Caller,
        action: &str,
        key_id: &str,
        encryption_context: Option<&HashMap<String, String>>,
    ) -> Result<ResolvedKey, Status> {
        let key = self.resolve(key_id).await?;
        self.authorize_with_context(caller, action, &[&key.arn], encryption_context)?;
        Ok(key)
    }

    /// The key a ciphertext names (checked against the optional KeyId the caller passed), with
    /// `action` authorized on it.
    pub(super) async fn ciphertext_key(
        &self,
        caller: &Caller,
        action: &str,
        ciphertext_blob: &[u8],
        key_id: &str,
        encryption_context: &HashMap<String, String>,
    ) -> Result<Uuid, Status> {
        let named = match optional(key_id) {
            Some(key_id) => Some(self.resolve(key_id).await?.id),
            None => None,
        };
        let id = decode(self.kms().decrypt_key(ciphertext_blob, named))?;
        self.authorize_with_context(
            caller,
            action,
            &[&self.vault.arns.key(id)],
            Some(encryption_context),
        )?;
        Ok(id)
    }

    /// Runs a domain call on `keys`: inline when they are all hot in the cache (no disk, no
    /// locks held long), else on the blocking pool.
    pub(super) async fn on_keys<T: Send + 'static>(
        &self,
        keys: &[Uuid],
        f: impl FnOnce(&Kms) -> Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        if keys.iter().all(|id| self.kms().is_hot(*id)) {
            f(self.kms()).map_err(status)
        } else {
            self.blocking(f).await
        }
    }

    /// [`KmsApi::on_keys`] for a private-key operation: RSA ones (a millisecond or more each) go
    /// to the blocking pool so they never stall the event loop; the others run as `on_keys` does.
    pub(super) async fn on_private_keys<T: Send + 'static>(
        &self,
        keys: &[Uuid],
        f: impl FnOnce(&Kms) -> Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        if keys.iter().any(|id| self.kms().is_costly(*id)) {
            self.blocking(f).await
        } else {
            self.on_keys(keys, f).await
        }
    }

    /// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext share everything but the
    /// answer. Key pair generation (RSA: up to seconds) runs on the blocking pool.
    pub(super) async fn data_key_pair(
        &self,
        caller: &Caller,
        action: &str,
        key_id: &str,
        context: HashMap<String, String>,
        key_pair_spec: i32,
    ) -> Result<DataKeyPair, Status> {
        let key = self
            .key_in_context(caller, action, key_id, Some(&context))
            .await?;
        let spec = decode(DataKeyPairSpec::from_wire(key_pair_spec, "keyPairSpec"))?;
        let context = convert::context(context);
        self.blocking(move |kms| kms.generate_data_key_pair(key.id, &context, spec))
            .await
    }

    /// GenerateDataKey and GenerateDataKeyWithoutPlaintext share everything but the answer.
    pub(super) async fn data_key(
        &self,
        caller: &Caller,
        action: &str,
        key_id: &str,
        context: std::collections::HashMap<String, String>,
        key_spec: i32,
        number_of_bytes: Option<i32>,
    ) -> Result<DataKey, Status> {
        let key = self
            .key_in_context(caller, action, key_id, Some(&context))
            .await?;
        let spec = decode(DataKeySpec::from_wire(key_spec, "keySpec"))?;
        let context = convert::context(context);
        self.on_keys(&[key.id], move |kms| {
            kms.generate_data_key(key.id, &context, spec, number_of_bytes)
        })
        .await
    }

    /// Runs a domain call that may touch the store (and wait for an fsync) on the blocking pool.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Kms) -> Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        let vault = self.vault.clone();
        crate::api::blocking(move || f(&vault.kms))
            .await
            .map_err(status)
    }
}

pub(super) fn decode<T>(r: Result<T>) -> Result<T, Status> {
    r.map_err(status)
}
