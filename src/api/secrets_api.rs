//! `vault.v1.SecretsManager`: each RPC authorizes `secretsmanager:<Action>` on the secret's ARN
//! (ListSecrets, GetRandomPassword and BatchGetSecretValue itself on `*`), calls the Secrets
//! Manager domain on the blocking pool and encodes the answer.
//!
//! A secret is looked up before it is authorized (its ARN has a random suffix); a SecretId that
//! names nothing is authorized as `…:secret:<name>-??????`, so a caller learns whether it exists
//! only where policies let it see that name. Values under a customer-managed key also need the
//! caller's `kms:Decrypt` (reads) or `kms:GenerateDataKey` (writes) on that key, with the
//! encryption context `{"SecretARN", "SecretVersionId"}`, as AWS checks through the key policy;
//! values under the AWS-managed `alias/aws/secretsmanager` need only the secretsmanager permission.

use std::{collections::HashMap, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use tonic::{Request, Response, Status};

use super::{
    call::{Caller, caller},
    convert::{self, optional, timestamp},
    status,
};
use crate::{
    auth::Action,
    error::{Error, ErrorKind, Result},
    model::{SecretRecord, SecretVersionRecord, Tag},
    pb::{self, secrets_manager_server::SecretsManager},
    secrets::{CreateSecretInput, SecretValue, Secrets, password},
    vault::Vault,
};

type RpcResult<T> = std::result::Result<Response<T>, Status>;

/// BatchGetSecretValue takes at most 20 secrets.
const MAX_BATCH: usize = 20;

/// The SecretsManager service over a vault.
#[derive(Debug, Clone)]
pub struct SecretsApi {
    vault: Arc<Vault>,
}

fn value_members(value: SecretValue) -> (Option<String>, Option<Vec<u8>>) {
    // prost owns plain Strings and Vecs: this copy of the value is not zeroized (the domain's
    // is), and lives only until the response is encoded.
    match value {
        SecretValue::String(s) => (Some(s.to_string()), None),
        SecretValue::Binary(b) => (None, Some(b.to_vec())),
    }
}

fn stages_map(versions: &[SecretVersionRecord]) -> HashMap<String, pb::VersionStages> {
    versions
        .iter()
        .filter(|v| !v.stages.is_empty())
        .map(|v| {
            (
                v.version_id.clone(),
                pb::VersionStages {
                    stages: v.stages.clone(),
                },
            )
        })
        .collect()
}

impl SecretsApi {
    pub fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
    }

    fn secrets(&self) -> &Secrets {
        &self.vault.secrets
    }

    fn authorize(&self, who: &Caller, action: &str, resources: &[&str]) -> Result<(), Status> {
        who.authorize(
            &self.vault.authorizer,
            &Action {
                name: action,
                resources,
                encryption_context: None,
            },
        )
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Secrets) -> Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        let vault = self.vault.clone();
        super::blocking(move || f(&vault.secrets))
            .await
            .map_err(status)
    }

    /// The secret `secret_id` names, with `action` authorized on it (see the module doc for a
    /// SecretId that names nothing). `live` refuses a secret scheduled for deletion.
    pub(crate) async fn secret(
        &self,
        who: &Caller,
        action: &str,
        secret_id: &str,
        live: bool,
    ) -> Result<SecretRecord, Status> {
        // A refusal names the secret as the caller gave it: the real ARN (with its random
        // suffix) would tell a caller with no rights that the secret exists.
        let as_given = |refused: Status| match refused.code() {
            tonic::Code::PermissionDenied => status(Error::new(
                ErrorKind::AccessDenied,
                format!(
                    "User: {} is not authorized to perform: {action} on resource: {secret_id}",
                    who.principal.user_arn()
                ),
            )),
            _ => refused,
        };
        let id = secret_id.to_string();
        let found = self
            .blocking(move |secrets| match secrets.find(&id) {
                Ok(secret) => Ok(Ok(secret)),
                Err(e)
                    if e.is(ErrorKind::ResourceNotFound) || e.is(ErrorKind::InvalidParameter) =>
                {
                    Ok(Err(e))
                }
                Err(e) => Err(e),
            })
            .await?;
        match found {
            Ok(secret) => {
                self.authorize(who, action, &[&secret.arn])
                    .map_err(as_given)?;
                if live && secret.deleted_at.is_some() {
                    return Err(status(Error::new(
                        ErrorKind::InvalidRequest,
                        "You can't perform this operation on the secret because it was marked for \
                         deletion.",
                    )));
                }
                Ok(secret)
            }
            Err(e) => {
                let resource = match secret_id.starts_with("arn:") {
                    true => secret_id.to_string(),
                    false => self.vault.arns.secret(secret_id, "??????"),
                };
                self.authorize(who, action, &[&resource])
                    .map_err(as_given)?;
                Err(status(e))
            }
        }
    }

    /// A write of a value under the secret's key: a customer-managed key needs
    /// kms:GenerateDataKey too.
    async fn authorize_write(
        &self,
        who: &Caller,
        kms_key_id: Option<String>,
        arn: &str,
        version_id: &str,
    ) -> Result<(), Status> {
        let (key, aws_managed) = self
            .blocking(move |secrets| secrets.write_key(kms_key_id.as_deref()))
            .await?;
        if !aws_managed {
            let context = self.secrets().encryption_context(arn, version_id);
            who.authorize_on_key(
                &self.vault.authorizer,
                "kms:GenerateDataKey",
                &key.arn,
                &context,
            )?;
        }
        Ok(())
    }

    /// Opens the version GetSecretValue names for the caller: a customer-managed key needs
    /// kms:Decrypt too. Under the AWS-managed key it is one trip to the blocking pool.
    pub(crate) async fn open(
        &self,
        who: &Caller,
        secret: SecretRecord,
        version_id: Option<String>,
        version_stage: Option<String>,
    ) -> Result<crate::secrets::OpenedVersion, Status> {
        let s = secret.clone();
        let first = self
            .blocking(move |secrets| {
                let version =
                    secrets.version(&s, version_id.as_deref(), version_stage.as_deref())?;
                match secrets.value_key(&version)? {
                    Some((key, false)) => Ok(Err((version, key))),
                    _ => Ok(Ok(secrets.open(&s, version)?)),
                }
            })
            .await?;
        let (version, key) = match first {
            Ok(opened) => return Ok(opened),
            Err(pending) => pending,
        };
        let context = self
            .secrets()
            .encryption_context(&secret.arn, &version.version_id);
        who.authorize_on_key(&self.vault.authorizer, "kms:Decrypt", &key.arn, &context)?;
        self.blocking(move |secrets| secrets.open(&secret, version))
            .await
    }
}

/// RotationRules as DescribeSecret and ListSecrets show them: absent until rules are set.
fn rotation_rules(r: &crate::model::SecretRotation) -> Option<pb::RotationRulesType> {
    (r.automatically_after_days.is_some() || r.schedule_expression.is_some()).then(|| {
        pb::RotationRulesType {
            automatically_after_days: r.automatically_after_days.map(i64::from),
            duration: r.duration.clone().unwrap_or_default(),
            schedule_expression: r.schedule_expression.clone().unwrap_or_default(),
        }
    })
}

fn new_token(token: &str) -> String {
    match optional(token) {
        Some(token) => token.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    }
}

/// ListSecrets' and BatchGetSecretValue's filters: prefix matches (a value starting with '!'
/// negates), ANDed across filters, ORed within one.
fn admit(filters: &[pb::Filter], secret: &SecretRecord, tags: &[Tag]) -> bool {
    filters.iter().all(|filter| {
        let key = pb::FilterNameStringType::try_from(filter.key)
            .unwrap_or(pb::FilterNameStringType::Unspecified);
        filter.values.iter().any(|value| {
            let (negate, prefix) = match value.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, value.as_str()),
            };
            let fields: Vec<&str> = match key {
                pb::FilterNameStringType::Name => vec![&secret.name],
                pb::FilterNameStringType::Description => vec![&secret.description],
                pb::FilterNameStringType::TagKey => tags.iter().map(|t| t.key.as_str()).collect(),
                pb::FilterNameStringType::TagValue => {
                    tags.iter().map(|t| t.value.as_str()).collect()
                }
                pb::FilterNameStringType::All => {
                    let mut all = vec![secret.name.as_str(), secret.description.as_str()];
                    all.extend(tags.iter().flat_map(|t| [t.key.as_str(), t.value.as_str()]));
                    all
                }
                _ => vec![],
            };
            fields.iter().any(|f| f.starts_with(prefix)) != negate
        })
    })
}

fn check_filters(filters: &[pb::Filter]) -> Result<()> {
    for filter in filters {
        let key = pb::FilterNameStringType::try_from(filter.key)
            .unwrap_or(pb::FilterNameStringType::Unspecified);
        let supported = matches!(
            key,
            pb::FilterNameStringType::Name
                | pb::FilterNameStringType::Description
                | pb::FilterNameStringType::TagKey
                | pb::FilterNameStringType::TagValue
                | pb::FilterNameStringType::All
                | pb::FilterNameStringType::PrimaryRegion
                | pb::FilterNameStringType::OwningService
        );
        if !supported || filter.values.is_empty() || filter.values.len() > 10 {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                "A filter needs a known key and 1 to 10 values.",
            ));
        }
    }
    Ok(())
}

/// A page of `items` after the offset in `token` (an opaque base64 offset).
fn page<T>(items: Vec<T>, max: Option<i32>, limit: i32, token: &str) -> Result<(Vec<T>, String)> {
    let max = max.unwrap_or(limit);
    if !(1..=limit).contains(&max) {
        return Err(Error::new(
            ErrorKind::InvalidParameter,
            format!("MaxResults must be between 1 and {limit}."),
        ));
    }
    let start = match optional(token) {
        None => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidNextToken,
                    "The NextToken value is not valid.",
                )
            })?,
    };
    let end = start.saturating_add(max as usize);
    let next = match end < items.len() {
        true => URL_SAFE_NO_PAD.encode(end.to_string()),
        false => String::new(),
    };
    Ok((
        items.into_iter().skip(start).take(max as usize).collect(),
        next,
    ))
}

#[tonic::async_trait]
impl SecretsManager for SecretsApi {
    async fn create_secret(
        &self,
        request: Request<pb::CreateSecretRequest>,
    ) -> RpcResult<pb::CreateSecretResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let arn = match self.secrets().new_arn(&req.name) {
            Ok(arn) => arn,
            Err(e) => {
                self.authorize(&who, "secretsmanager:CreateSecret", &["*"])?;
                return Err(status(e));
            }
        };
        self.authorize(&who, "secretsmanager:CreateSecret", &[&arn])?;
        let value =
            SecretValue::from_members(req.secret_string, req.secret_binary).map_err(status)?;
        let token = new_token(&req.client_request_token);
        let kms_key_id = optional(&req.kms_key_id).map(str::to_string);
        if value.is_some() {
            self.authorize_write(&who, kms_key_id.clone(), &arn, &token)
                .await?;
        }
        let input = CreateSecretInput {
            name: req.name,
            client_request_token: Some(token),
            description: req.description,
            kms_key_id,
            value,
            tags: convert::resource_tags_from_wire(req.tags),
        };
        let written = self
            .blocking(move |secrets| secrets.create_secret(arn, input))
            .await?;
        Ok(Response::new(pb::CreateSecretResponse {
            arn: written.arn,
            name: written.name,
            version_id: written.version_id.unwrap_or_default(),
        }))
    }

    async fn get_secret_value(
        &self,
        request: Request<pb::GetSecretValueRequest>,
    ) -> RpcResult<pb::GetSecretValueResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:GetSecretValue", &req.secret_id, true)
            .await?;
        let (id, stage) = (
            optional(&req.version_id).map(str::to_string),
            optional(&req.version_stage).map(str::to_string),
        );
        let opened = self.open(&who, secret.clone(), id, stage).await?;
        let (secret_string, secret_binary) = value_members(opened.value);
        Ok(Response::new(pb::GetSecretValueResponse {
            arn: secret.arn,
            name: secret.name,
            version_id: opened.version.version_id,
            secret_binary,
            secret_string,
            version_stages: opened.version.stages,
            created_date: Some(timestamp(opened.version.created_at)),
        }))
    }

    async fn batch_get_secret_value(
        &self,
        request: Request<pb::BatchGetSecretValueRequest>,
    ) -> RpcResult<pb::BatchGetSecretValueResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize(&who, "secretsmanager:BatchGetSecretValue", &["*"])?;
        let (ids, next_token) = match (req.secret_id_list.is_empty(), req.filters.is_empty()) {
            (false, false) => {
                return Err(status(Error::new(
                    ErrorKind::InvalidParameter,
                    "Specify either SecretIdList or Filters, not both.",
                )));
            }
            (true, true) => {
                return Err(status(Error::new(
                    ErrorKind::InvalidParameter,
                    "Specify SecretIdList or Filters.",
                )));
            }
            (false, true) => {
                if req.secret_id_list.len() > MAX_BATCH || req.max_results.is_some() {
                    return Err(status(Error::new(
                        ErrorKind::InvalidParameter,
                        format!("SecretIdList takes 1 to {MAX_BATCH} secrets, without MaxResults."),
                    )));
                }
                (req.secret_id_list, String::new())
            }
            (true, false) => {
                // Filtering lists secrets, so it needs ListSecrets too (as AWS).
                self.authorize(&who, "secretsmanager:ListSecrets", &["*"])?;
                check_filters(&req.filters).map_err(status)?;
                let filters = req.filters;
                let listed = self
                    .blocking(move |secrets| {
                        let mut arns = Vec::new();
                        for secret in secrets.list()? {
                            let tags = secrets.tags(&secret)?;
                            if secret.deleted_at.is_none() && admit(&filters, &secret, &tags) {
                                arns.push(secret.arn);
                            }
                        }
                        Ok(arns)
                    })
                    .await?;
                page(listed, req.max_results, MAX_BATCH as i32, &req.next_token).map_err(status)?
            }
        };
        let mut secret_values = Vec::new();
        let mut errors = Vec::new();
        for secret_id in ids {
            let outcome = async {
                let secret = self
                    .secret(&who, "secretsmanager:GetSecretValue", &secret_id, true)
                    .await?;
                let opened = self.open(&who, secret.clone(), None, None).await?;
                Ok::<_, Status>((secret, opened))
            }
            .await;
            match outcome {
                Ok((secret, opened)) => {
                    let (secret_string, secret_binary) = value_members(opened.value);
                    secret_values.push(pb::SecretValueEntry {
                        arn: secret.arn,
                        name: secret.name,
                        version_id: opened.version.version_id,
                        secret_binary,
                        secret_string,
                        version_stages: opened.version.stages,
                        created_date: Some(timestamp(opened.version.created_at)),
                    });
                }
                Err(status) => {
                    use tonic_types::StatusExt;
                    let code = status
                        .get_error_details()
                        .error_info()
                        .map(|i| i.reason.clone())
                        .unwrap_or_else(|| "InternalServiceError".into());
                    errors.push(pb::ApiErrorType {
                        secret_id,
                        error_code: code,
                        message: status.message().to_string(),
                    });
                }
            }
        }
        Ok(Response::new(pb::BatchGetSecretValueResponse {
            secret_values,
            next_token,
            errors,
        }))
    }

    async fn put_secret_value(
        &self,
        request: Request<pb::PutSecretValueRequest>,
    ) -> RpcResult<pb::PutSecretValueResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:PutSecretValue", &req.secret_id, true)
            .await?;
        let value = SecretValue::from_members(req.secret_string, req.secret_binary)
            .map_err(status)?
            .ok_or_else(|| {
                status(Error::new(
                    ErrorKind::InvalidParameter,
                    "You must provide either SecretString or SecretBinary.",
                ))
            })?;
        let token = new_token(&req.client_request_token);
        self.authorize_write(&who, secret.kms_key_id.clone(), &secret.arn, &token)
            .await?;
        let stages = req.version_stages;
        let arn = secret.arn;
        let written = self
            .blocking(move |secrets| secrets.put_secret_value(&arn, Some(token), value, stages))
            .await?;
        Ok(Response::new(pb::PutSecretValueResponse {
            arn: written.arn,
            name: written.name,
            version_id: written.version_id.unwrap_or_default(),
            version_stages: written.stages,
        }))
    }

    async fn update_secret(
        &self,
        request: Request<pb::UpdateSecretRequest>,
    ) -> RpcResult<pb::UpdateSecretResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:UpdateSecret", &req.secret_id, true)
            .await?;
        let value =
            SecretValue::from_members(req.secret_string, req.secret_binary).map_err(status)?;
        let token = new_token(&req.client_request_token);
        let key_after = match &req.kms_key_id {
            Some(k) => optional(k).map(str::to_string),
            None => secret.kms_key_id.clone(),
        };
        // A new key re-encrypts the labelled versions: the caller must be able to decrypt them
        // under the key they are under now, or this would read them through vaultd's rights.
        if key_after != secret.kms_key_id {
            let s = secret.clone();
            let keys = self
                .blocking(move |secrets| {
                    secrets
                        .versions(&s, false)?
                        .iter()
                        .map(|v| Ok((v.version_id.clone(), secrets.value_key(v)?)))
                        .collect::<Result<Vec<_>>>()
                })
                .await?;
            for (version_id, key) in keys {
                if let Some((key, false)) = key {
                    let context = self.secrets().encryption_context(&secret.arn, &version_id);
                    who.authorize_on_key(
                        &self.vault.authorizer,
                        "kms:Decrypt",
                        &key.arn,
                        &context,
                    )?;
                }
            }
        }
        if value.is_some() || req.kms_key_id.is_some() {
            self.authorize_write(&who, key_after, &secret.arn, &token)
                .await?;
        }
        let (description, kms_key_id, arn) = (req.description, req.kms_key_id, secret.arn);
        let written = self
            .blocking(move |secrets| {
                secrets.update_secret(&arn, Some(token), description, kms_key_id, value)
            })
            .await?;
        Ok(Response::new(pb::UpdateSecretResponse {
            arn: written.arn,
            name: written.name,
            version_id: written.version_id.unwrap_or_default(),
        }))
    }

    async fn update_secret_version_stage(
        &self,
        request: Request<pb::UpdateSecretVersionStageRequest>,
    ) -> RpcResult<pb::UpdateSecretVersionStageResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(
                &who,
                "secretsmanager:UpdateSecretVersionStage",
                &req.secret_id,
                true,
            )
            .await?;
        let arn = secret.arn;
        let updated = self
            .blocking(move |secrets| {
                secrets.update_secret_version_stage(
                    &arn,
                    &req.version_stage,
                    optional(&req.remove_from_version_id),
                    optional(&req.move_to_version_id),
                )
            })
            .await?;
        Ok(Response::new(pb::UpdateSecretVersionStageResponse {
            arn: updated.arn,
            name: updated.name,
        }))
    }

    async fn describe_secret(
        &self,
        request: Request<pb::DescribeSecretRequest>,
    ) -> RpcResult<pb::DescribeSecretResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:DescribeSecret", &req.secret_id, false)
            .await?;
        let s = secret.clone();
        let (versions, tags) = self
            .blocking(move |secrets| Ok((secrets.versions(&s, false)?, secrets.tags(&s)?)))
            .await?;
        let r = &secret.rotation;
        Ok(Response::new(pb::DescribeSecretResponse {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            description: secret.description.clone(),
            kms_key_id: secret.kms_key_id.clone().unwrap_or_default(),
            rotation_enabled: r.enabled,
            rotation_lambda_arn: r.hook.clone().unwrap_or_default(),
            rotation_rules: rotation_rules(r),
            last_rotated_date: r.last_rotated_at.map(timestamp),
            last_changed_date: Some(timestamp(secret.last_changed_at)),
            last_accessed_date: secret.last_accessed_at.map(timestamp),
            deleted_date: secret.deleted_at.map(timestamp),
            next_rotation_date: r.next_rotation_at.map(timestamp),
            tags: convert::resource_tags_to_wire(tags),
            version_ids_to_stages: stages_map(&versions),
            created_date: Some(timestamp(secret.created_at)),
            rotation_failure: r.failure.clone().unwrap_or_default(),
            ..Default::default()
        }))
    }

    async fn list_secrets(
        &self,
        request: Request<pb::ListSecretsRequest>,
    ) -> RpcResult<pb::ListSecretsResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize(&who, "secretsmanager:ListSecrets", &["*"])?;
        check_filters(&req.filters).map_err(status)?;
        let (filters, planned) = (req.filters.clone(), req.include_planned_deletion);
        let mut listed = self
            .blocking(move |secrets| {
                let mut out = Vec::new();
                for secret in secrets.list()? {
                    if secret.deleted_at.is_some() && !planned {
                        continue;
                    }
                    let tags = secrets.tags(&secret)?;
                    if !admit(&filters, &secret, &tags) {
                        continue;
                    }
                    let versions = secrets.versions(&secret, false)?;
                    out.push((secret, tags, versions));
                }
                Ok(out)
            })
            .await?;
        let by = pb::SortByType::try_from(req.sort_by).unwrap_or(pb::SortByType::Unspecified);
        listed.sort_by(|(a, _, _), (b, _, _)| match by {
            pb::SortByType::Name => a.name.cmp(&b.name),
            pb::SortByType::LastChangedDate => a.last_changed_at.cmp(&b.last_changed_at),
            pb::SortByType::LastAccessedDate => a.last_accessed_at.cmp(&b.last_accessed_at),
            _ => a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)),
        });
        if pb::SortOrderType::try_from(req.sort_order) == Ok(pb::SortOrderType::Desc) {
            listed.reverse();
        }
        let (items, next_token) =
            page(listed, req.max_results, 100, &req.next_token).map_err(status)?;
        let secret_list = items
            .into_iter()
            .map(|(s, tags, versions)| {
                let r = &s.rotation;
                pb::SecretListEntry {
                    arn: s.arn.clone(),
                    name: s.name.clone(),
                    description: s.description.clone(),
                    kms_key_id: s.kms_key_id.clone().unwrap_or_default(),
                    rotation_enabled: r.enabled,
                    rotation_lambda_arn: r.hook.clone().unwrap_or_default(),
                    rotation_rules: rotation_rules(r),
                    last_rotated_date: r.last_rotated_at.map(timestamp),
                    last_changed_date: Some(timestamp(s.last_changed_at)),
                    last_accessed_date: s.last_accessed_at.map(timestamp),
                    deleted_date: s.deleted_at.map(timestamp),
                    next_rotation_date: r.next_rotation_at.map(timestamp),
                    tags: convert::resource_tags_to_wire(tags),
                    secret_versions_to_stages: stages_map(&versions),
                    created_date: Some(timestamp(s.created_at)),
                    ..Default::default()
                }
            })
            .collect();
        Ok(Response::new(pb::ListSecretsResponse {
            secret_list,
            next_token,
        }))
    }

    async fn list_secret_version_ids(
        &self,
        request: Request<pb::ListSecretVersionIdsRequest>,
    ) -> RpcResult<pb::ListSecretVersionIdsResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(
                &who,
                "secretsmanager:ListSecretVersionIds",
                &req.secret_id,
                false,
            )
            .await?;
        let s = secret.clone();
        let include = req.include_deprecated;
        let versions = self
            .blocking(move |secrets| secrets.versions(&s, include))
            .await?;
        let (items, next_token) =
            page(versions, req.max_results, 100, &req.next_token).map_err(status)?;
        Ok(Response::new(pb::ListSecretVersionIdsResponse {
            versions: items
                .into_iter()
                .map(|v| pb::SecretVersionsListEntry {
                    version_id: v.version_id,
                    version_stages: v.stages,
                    created_date: Some(timestamp(v.created_at)),
                    ..Default::default()
                })
                .collect(),
            next_token,
            arn: secret.arn,
            name: secret.name,
        }))
    }

    async fn delete_secret(
        &self,
        request: Request<pb::DeleteSecretRequest>,
    ) -> RpcResult<pb::DeleteSecretResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:DeleteSecret", &req.secret_id, false)
            .await?;
        let arn = secret.arn;
        let (deleted, date) = self
            .blocking(move |secrets| {
                secrets.delete_secret(
                    &arn,
                    req.recovery_window_in_days,
                    req.force_delete_without_recovery,
                )
            })
            .await?;
        Ok(Response::new(pb::DeleteSecretResponse {
            arn: deleted.arn,
            name: deleted.name,
            deletion_date: Some(timestamp(date)),
        }))
    }

    async fn restore_secret(
        &self,
        request: Request<pb::RestoreSecretRequest>,
    ) -> RpcResult<pb::RestoreSecretResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:RestoreSecret", &req.secret_id, false)
            .await?;
        let arn = secret.arn;
        let restored = self
            .blocking(move |secrets| secrets.restore_secret(&arn))
            .await?;
        Ok(Response::new(pb::RestoreSecretResponse {
            arn: restored.arn,
            name: restored.name,
        }))
    }

    async fn tag_resource(
        &self,
        request: Request<pb::SecretsManagerTagResourceRequest>,
    ) -> RpcResult<pb::SecretsManagerTagResourceResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:TagResource", &req.secret_id, false)
            .await?;
        let (arn, tags) = (secret.arn, convert::resource_tags_from_wire(req.tags));
        self.blocking(move |secrets| secrets.tag_resource(&arn, &tags))
            .await?;
        Ok(Response::new(pb::SecretsManagerTagResourceResponse {}))
    }

    async fn untag_resource(
        &self,
        request: Request<pb::SecretsManagerUntagResourceRequest>,
    ) -> RpcResult<pb::SecretsManagerUntagResourceResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:UntagResource", &req.secret_id, false)
            .await?;
        let arn = secret.arn;
        self.blocking(move |secrets| secrets.untag_resource(&arn, &req.tag_keys))
            .await?;
        Ok(Response::new(pb::SecretsManagerUntagResourceResponse {}))
    }

    async fn get_random_password(
        &self,
        request: Request<pb::GetRandomPasswordRequest>,
    ) -> RpcResult<pb::GetRandomPasswordResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize(&who, "secretsmanager:GetRandomPassword", &["*"])?;
        let options = password::PasswordOptions {
            password_length: req.password_length,
            exclude_characters: req.exclude_characters,
            exclude_numbers: req.exclude_numbers,
            exclude_punctuation: req.exclude_punctuation,
            exclude_uppercase: req.exclude_uppercase,
            exclude_lowercase: req.exclude_lowercase,
            include_space: req.include_space,
            require_each_included_type: req.require_each_included_type,
        };
        let random = password::get_random_password(&options).map_err(|e| {
            status(match e.kind {
                ErrorKind::Validation => Error::new(ErrorKind::InvalidParameter, e.message),
                _ => e,
            })
        })?;
        Ok(Response::new(pb::GetRandomPasswordResponse {
            random_password: random.to_string(),
        }))
    }

    async fn rotate_secret(
        &self,
        request: Request<pb::RotateSecretRequest>,
    ) -> RpcResult<pb::RotateSecretResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(&who, "secretsmanager:RotateSecret", &req.secret_id, true)
            .await?;
        let token = optional(&req.client_request_token).map(str::to_string);
        let hook = optional(&req.rotation_lambda_arn).map(str::to_string);
        let rules = req.rotation_rules.map(|r| {
            (
                r.automatically_after_days,
                r.duration,
                r.schedule_expression,
            )
        });
        let immediately = req.rotate_immediately.unwrap_or(true);
        let secrets = self.vault.secrets.clone();
        let arn = secret.arn;
        let (secret, version) =
            super::blocking(move || secrets.rotate_secret(&arn, token, hook, rules, immediately))
                .await
                .map_err(status)?;
        Ok(Response::new(pb::RotateSecretResponse {
            arn: secret.arn,
            name: secret.name,
            version_id: version.unwrap_or_default(),
        }))
    }

    async fn cancel_rotate_secret(
        &self,
        request: Request<pb::CancelRotateSecretRequest>,
    ) -> RpcResult<pb::CancelRotateSecretResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let secret = self
            .secret(
                &who,
                "secretsmanager:CancelRotateSecret",
                &req.secret_id,
                true,
            )
            .await?;
        let arn = secret.arn;
        let (secret, pending) = self
            .blocking(move |secrets| secrets.cancel_rotate_secret(&arn))
            .await?;
        Ok(Response::new(pb::CancelRotateSecretResponse {
            arn: secret.arn,
            name: secret.name,
            version_id: pending.unwrap_or_default(),
        }))
    }
}
