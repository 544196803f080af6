//! `vault.v1.ParameterStore`: each RPC authorizes `ssm:<Action>` on the parameter ARNs it names
//! (GetParametersByPath on the path's ARN, DescribeParameters on `*`), calls the Parameter Store
//! domain on the blocking pool (every call reads the store) and encodes the answer.
//!
//! SecureString values under a customer-managed key also need the caller's `kms:Decrypt` (to
//! read them decrypted) or `kms:Encrypt` (to write them) on that key, with the encryption context
//! `{"PARAMETER_ARN": …}` for policy conditions, as AWS checks through the key policy; values
//! under the AWS-managed `alias/aws/ssm` need only the ssm permission, as in AWS.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{
    call::{Caller, caller},
    convert::{self, FromWire, optional, timestamp},
    status,
};
use crate::{
    auth::Action,
    error::Result,
    model::{ParameterTier, ParameterType, ParameterVersionRecord},
    paging::{Page, Paged},
    params::{ParameterFilter, ParameterView, Params, PutParameterInput, Selector},
    pb::{self, parameter_store_server::ParameterStore},
    vault::Vault,
};

type RpcResult<T> = std::result::Result<Response<T>, Status>;

/// GetParameter of `/aws/reference/secretsmanager/<secret>` reads a Secrets Manager secret.
const SECRET_REFERENCE: &str = "/aws/reference/secretsmanager/";

/// The ParameterStore service over a vault.
#[derive(Debug, Clone)]
pub struct SsmApi {
    vault: Arc<Vault>,
}

impl SsmApi {
    pub fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
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

    /// `action` on each named parameter (their ARNs; names that are not even valid are checked
    /// as given, so a bad name is still an authorized request that fails validation).
    fn authorize_names(&self, who: &Caller, action: &str, names: &[String]) -> Result<(), Status> {
        // The same parse the domain reads with, so the ARN authorized is the one read.
        let arns: Vec<String> = names
            .iter()
            .map(|n| match Selector::parse(n, &self.vault.arns) {
                Ok(selector) => self.vault.params.arn(&selector.name),
                Err(_) => n.clone(),
            })
            .collect();
        let arns: Vec<&str> = arns.iter().map(String::as_str).collect();
        self.authorize(who, action, &arns)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Params) -> Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        let vault = self.vault.clone();
        super::blocking(move || f(&vault.params))
            .await
            .map_err(status)
    }

    /// Reads versions (`fetch`) and opens them for the caller. With decryption, SecureStrings
    /// under customer-managed keys first need `kms:Decrypt` on their key; when none does, it all
    /// happens in one trip to the blocking pool.
    async fn fetch_and_open(
        &self,
        who: &Caller,
        with_decryption: bool,
        fetch: impl FnOnce(&Params) -> Result<Vec<(ParameterVersionRecord, String)>> + Send + 'static,
    ) -> Result<Vec<pb::Parameter>, Status> {
        let first = self
            .blocking(move |params| {
                let found = fetch(params)?;
                let mut checks = Vec::new();
                if with_decryption {
                    for (record, _) in &found {
                        if let Some((key, false)) = params.value_key(record)? {
                            checks.push((record.name.clone(), key));
                        }
                    }
                }
                if checks.is_empty() {
                    let views = found
                        .into_iter()
                        .map(|(r, s)| params.open(r, s, with_decryption))
                        .collect::<Result<Vec<_>>>()?;
                    return Ok(Ok(views));
                }
                Ok(Err((found, checks)))
            })
            .await?;
        let (found, checks) = match first {
            Ok(views) => return Ok(views.into_iter().map(parameter).collect()),
            Err(pending) => pending,
        };
        for (name, key) in checks {
            let context = self.vault.params.encryption_context(&name);
            who.authorize_on_key(&self.vault.authorizer, "kms:Decrypt", &key.arn, &context)?;
        }
        let views = self
            .blocking(move |params| {
                found
                    .into_iter()
                    .map(|(record, selector)| params.open(record, selector, with_decryption))
                    .collect::<Result<Vec<_>>>()
            })
            .await?;
        Ok(views.into_iter().map(parameter).collect())
    }
}

impl SsmApi {
    /// GetParameter of `/aws/reference/secretsmanager/<secret>`, as AWS: WithDecryption is
    /// required, and the caller needs ssm:GetParameter on that name, secretsmanager:GetSecretValue
    /// on the secret and, for a customer-managed key, kms:Decrypt. The value is the secret's
    /// AWSCURRENT version (a binary one as base64).
    async fn secret_reference(
        &self,
        who: &Caller,
        name: &str,
        secret_id: &str,
        with_decryption: bool,
    ) -> Result<pb::Parameter, Status> {
        let parameter_arn = self.vault.params.arn(name);
        self.authorize(who, "ssm:GetParameter", &[&parameter_arn])?;
        if !with_decryption {
            return Err(status(crate::error::Error::validation(
                "WithDecryption flag must be True for retrieving a Secret Manager secret.",
            )));
        }
        // As GetSecretValue: found, then authorized (a name that exists nowhere as such), then
        // refused if scheduled for deletion, so nothing leaks before the permission check.
        let secrets = super::secrets_api::SecretsApi::new(self.vault.clone());
        let secret = secrets
            .secret(who, "secretsmanager:GetSecretValue", secret_id, true)
            .await
            .map_err(|refused| {
                use tonic_types::StatusExt;
                let not_found = refused
                    .get_error_details()
                    .error_info()
                    .is_some_and(|i| i.reason == "ResourceNotFoundException");
                match not_found {
                    true => status(crate::error::Error::new(
                        crate::error::ErrorKind::ParameterNotFound,
                        format!("Parameter {name} not found."),
                    )),
                    false => refused,
                }
            })?;
        let opened = secrets.open(who, secret.clone(), None, None).await?;
        let value = match opened.value {
            crate::secrets::SecretValue::String(s) => s.to_string(),
            crate::secrets::SecretValue::Binary(b) => {
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &*b)
            }
        };
        let mut out = pb::Parameter {
            name: name.to_string(),
            value,
            version: 0,
            source_result: serde_json::json!({
                "ARN": secret.arn,
                "Name": secret.name,
                "VersionId": opened.version.version_id,
                "VersionStages": opened.version.stages,
            })
            .to_string(),
            last_modified_date: Some(timestamp(opened.version.created_at)),
            arn: parameter_arn,
            data_type: "text".into(),
            ..Default::default()
        };
        out.set_type(pb::ParameterType::SecureString);
        Ok(out)
    }
}

fn parameter(view: ParameterView) -> pb::Parameter {
    let r = &view.record;
    let mut out = pb::Parameter {
        name: r.name.clone(),
        // prost owns plain Strings: this copy of a decrypted value is not zeroized (the domain's
        // is), and lives only until the response is encoded.
        value: view.value.to_string(),
        version: r.version as i64,
        selector: view.selector.clone(),
        last_modified_date: Some(timestamp(r.modified_at)),
        arn: view.arn.clone(),
        data_type: r.data_type.clone(),
        ..Default::default()
    };
    out.set_type(r.parameter_type.into());
    out
}

fn metadata(params: &Params, r: &ParameterVersionRecord) -> pb::ParameterMetadata {
    let mut out = pb::ParameterMetadata {
        name: r.name.clone(),
        arn: params.arn(&r.name),
        key_id: r.key_id.clone().unwrap_or_default(),
        last_modified_date: Some(timestamp(r.modified_at)),
        last_modified_user: r.modified_by.clone(),
        description: r.description.clone(),
        allowed_pattern: r.allowed_pattern.clone(),
        version: r.version as i64,
        data_type: r.data_type.clone(),
        ..Default::default()
    };
    out.set_type(r.parameter_type.into());
    out.set_tier(r.tier.into());
    out
}

fn filters(filters: Vec<pb::ParameterStringFilter>) -> Vec<ParameterFilter> {
    filters
        .into_iter()
        .map(|f| ParameterFilter {
            key: f.key,
            option: f.option,
            values: f.values,
        })
        .collect()
}

fn too_many_names(names: &[String]) -> Result<(), Status> {
    if names.is_empty() || names.len() > crate::params::MAX_NAMES_PER_CALL {
        return Err(status(crate::error::Error::validation(format!(
            "1 validation error detected: Value at 'names' failed to satisfy constraint: Member \
             must have length between 1 and {}",
            crate::params::MAX_NAMES_PER_CALL
        ))));
    }
    Ok(())
}

#[tonic::async_trait]
impl ParameterStore for SsmApi {
    async fn put_parameter(
        &self,
        request: Request<pb::PutParameterRequest>,
    ) -> RpcResult<pb::PutParameterResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize_names(&who, "ssm:PutParameter", std::slice::from_ref(&req.name))?;
        let parameter_type = ParameterType::from_wire(req.r#type, "type").map_err(status)?;
        let tier = ParameterTier::from_wire(req.tier, "tier").map_err(status)?;
        let key_id = optional(&req.key_id).map(str::to_string);
        // A customer-managed key also needs kms:Encrypt, as AWS's key policy would ask; the key
        // checked is the key used (an alias re-pointed meanwhile changes nothing).
        let mut resolved_key = None;
        if let Some(key_id) = key_id.clone() {
            let (key, aws_managed) = self
                .blocking(move |params| params.put_key(Some(&key_id)))
                .await?;
            resolved_key = Some(key.clone());
            if !aws_managed {
                let context = self.vault.params.encryption_context(&req.name);
                who.authorize_on_key(&self.vault.authorizer, "kms:Encrypt", &key.arn, &context)?;
            }
        }
        let input = PutParameterInput {
            name: req.name,
            description: optional(&req.description).map(str::to_string),
            value: zeroize::Zeroizing::new(req.value),
            parameter_type,
            key_id,
            overwrite: req.overwrite,
            allowed_pattern: optional(&req.allowed_pattern).map(str::to_string),
            tags: convert::resource_tags_from_wire(req.tags),
            tier,
            data_type: optional(&req.data_type).map(str::to_string),
            resolved_key,
        };
        let user = who.principal.user_arn().to_string();
        let (version, tier) = self
            .blocking(move |params| params.put_parameter(input, &user))
            .await?;
        let mut response = pb::PutParameterResponse {
            version: version as i64,
            ..Default::default()
        };
        response.set_tier(tier.into());
        Ok(Response::new(response))
    }

    async fn get_parameter(
        &self,
        request: Request<pb::GetParameterRequest>,
    ) -> RpcResult<pb::GetParameterResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        if let Some(secret_id) = req.name.strip_prefix(SECRET_REFERENCE) {
            let parameter = self
                .secret_reference(&who, &req.name, secret_id, req.with_decryption)
                .await?;
            return Ok(Response::new(pb::GetParameterResponse {
                parameter: Some(parameter),
            }));
        }
        self.authorize_names(&who, "ssm:GetParameter", std::slice::from_ref(&req.name))?;
        let name = req.name;
        let mut opened = self
            .fetch_and_open(&who, req.with_decryption, move |params| {
                Ok(vec![params.find(&name)?])
            })
            .await?;
        Ok(Response::new(pb::GetParameterResponse {
            parameter: opened.pop(),
        }))
    }

    async fn get_parameters(
        &self,
        request: Request<pb::GetParametersRequest>,
    ) -> RpcResult<pb::GetParametersResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        too_many_names(&req.names)?;
        self.authorize_names(&who, "ssm:GetParameters", &req.names)?;
        let names = req.names;
        let (found, invalid) = self
            .blocking(move |params| {
                let mut found = Vec::new();
                let mut invalid = Vec::new();
                for name in names {
                    match params.find(&name) {
                        Ok(hit) => found.push(hit),
                        // AWS lists names that name nothing instead of failing the call.
                        Err(e)
                            if matches!(
                                e.kind,
                                crate::error::ErrorKind::ParameterNotFound
                                    | crate::error::ErrorKind::ParameterVersionNotFound
                                    | crate::error::ErrorKind::Validation
                            ) =>
                        {
                            invalid.push(name)
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok((found, invalid))
            })
            .await?;
        let parameters = self
            .fetch_and_open(&who, req.with_decryption, move |_| Ok(found))
            .await?;
        Ok(Response::new(pb::GetParametersResponse {
            parameters,
            invalid_parameters: invalid,
        }))
    }

    async fn get_parameters_by_path(
        &self,
        request: Request<pb::GetParametersByPathRequest>,
    ) -> RpcResult<pb::GetParametersByPathResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize(
            &who,
            "ssm:GetParametersByPath",
            &[&self.vault.params.arn(&req.path)],
        )?;
        let page = Page::new(req.max_results, &req.next_token);
        let filters = filters(req.parameter_filters);
        let path = req.path;
        let recursive = req.recursive;
        let listed: Paged<ParameterVersionRecord> = self
            .blocking(move |params| {
                params.get_parameters_by_path(&path, recursive, &filters, &page)
            })
            .await?;
        let found = listed
            .items
            .into_iter()
            .map(|r| (r, String::new()))
            .collect();
        let parameters = self
            .fetch_and_open(&who, req.with_decryption, move |_| Ok(found))
            .await?;
        Ok(Response::new(pb::GetParametersByPathResponse {
            parameters,
            next_token: listed.next_marker.unwrap_or_default(),
        }))
    }

    async fn get_parameter_history(
        &self,
        request: Request<pb::GetParameterHistoryRequest>,
    ) -> RpcResult<pb::GetParameterHistoryResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize_names(
            &who,
            "ssm:GetParameterHistory",
            std::slice::from_ref(&req.name),
        )?;
        let page = Page::new(req.max_results, &req.next_token);
        let name = req.name;
        let listed = self
            .blocking(move |params| params.get_parameter_history(&name, &page))
            .await?;
        let found: Vec<(ParameterVersionRecord, String)> = listed
            .items
            .iter()
            .map(|r| (r.clone(), String::new()))
            .collect();
        let opened = self
            .fetch_and_open(&who, req.with_decryption, move |_| Ok(found))
            .await?;
        let parameters = listed
            .items
            .into_iter()
            .zip(opened)
            .map(|(r, p)| {
                let mut out = pb::ParameterHistory {
                    name: r.name,
                    key_id: r.key_id.unwrap_or_default(),
                    last_modified_date: Some(timestamp(r.modified_at)),
                    last_modified_user: r.modified_by,
                    description: r.description,
                    value: p.value,
                    allowed_pattern: r.allowed_pattern,
                    version: r.version as i64,
                    labels: r.labels,
                    data_type: r.data_type,
                    ..Default::default()
                };
                out.set_type(r.parameter_type.into());
                out.set_tier(r.tier.into());
                out
            })
            .collect();
        Ok(Response::new(pb::GetParameterHistoryResponse {
            parameters,
            next_token: listed.next_marker.unwrap_or_default(),
        }))
    }

    async fn describe_parameters(
        &self,
        request: Request<pb::DescribeParametersRequest>,
    ) -> RpcResult<pb::DescribeParametersResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize(&who, "ssm:DescribeParameters", &["*"])?;
        let page = Page::new(req.max_results, &req.next_token);
        let filters = filters(req.parameter_filters);
        let listed = self
            .blocking(move |params| params.describe_parameters(&filters, &page))
            .await?;
        Ok(Response::new(pb::DescribeParametersResponse {
            parameters: listed
                .items
                .iter()
                .map(|r| metadata(&self.vault.params, r))
                .collect(),
            next_token: listed.next_marker.unwrap_or_default(),
        }))
    }

    async fn delete_parameter(
        &self,
        request: Request<pb::DeleteParameterRequest>,
    ) -> RpcResult<pb::DeleteParameterResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize_names(&who, "ssm:DeleteParameter", std::slice::from_ref(&req.name))?;
        self.blocking(move |params| params.delete_parameter(&req.name))
            .await?;
        Ok(Response::new(pb::DeleteParameterResponse {}))
    }

    async fn delete_parameters(
        &self,
        request: Request<pb::DeleteParametersRequest>,
    ) -> RpcResult<pb::DeleteParametersResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        too_many_names(&req.names)?;
        self.authorize_names(&who, "ssm:DeleteParameters", &req.names)?;
        let names = req.names;
        let (deleted, invalid) = self
            .blocking(move |params| {
                let mut deleted = Vec::new();
                let mut invalid = Vec::new();
                for name in names {
                    match params.delete_parameter(&name) {
                        Ok(()) => deleted.push(name),
                        Err(e)
                            if matches!(
                                e.kind,
                                crate::error::ErrorKind::ParameterNotFound
                                    | crate::error::ErrorKind::Validation
                            ) =>
                        {
                            invalid.push(name)
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok((deleted, invalid))
            })
            .await?;
        Ok(Response::new(pb::DeleteParametersResponse {
            deleted_parameters: deleted,
            invalid_parameters: invalid,
        }))
    }

    async fn label_parameter_version(
        &self,
        request: Request<pb::LabelParameterVersionRequest>,
    ) -> RpcResult<pb::LabelParameterVersionResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize_names(
            &who,
            "ssm:LabelParameterVersion",
            std::slice::from_ref(&req.name),
        )?;
        let version = match req.parameter_version {
            Some(v) if v < 1 => {
                return Err(status(crate::error::Error::validation(
                    "The parameter version must be 1 or more.",
                )));
            }
            v => v.map(|v| v as u64),
        };
        let (version, invalid) = self
            .blocking(move |params| params.label_parameter_version(&req.name, version, &req.labels))
            .await?;
        Ok(Response::new(pb::LabelParameterVersionResponse {
            invalid_labels: invalid,
            parameter_version: version as i64,
        }))
    }

    async fn unlabel_parameter_version(
        &self,
        request: Request<pb::UnlabelParameterVersionRequest>,
    ) -> RpcResult<pb::UnlabelParameterVersionResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize_names(
            &who,
            "ssm:UnlabelParameterVersion",
            std::slice::from_ref(&req.name),
        )?;
        if req.parameter_version < 1 {
            return Err(status(crate::error::Error::validation(
                "The parameter version must be 1 or more.",
            )));
        }
        let version = req.parameter_version as u64;
        let (removed, invalid) = self
            .blocking(move |params| {
                params.unlabel_parameter_version(&req.name, version, &req.labels)
            })
            .await?;
        Ok(Response::new(pb::UnlabelParameterVersionResponse {
            removed_labels: removed,
            invalid_labels: invalid,
        }))
    }

    async fn add_tags_to_resource(
        &self,
        request: Request<pb::AddTagsToResourceRequest>,
    ) -> RpcResult<pb::AddTagsToResourceResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize_names(
            &who,
            "ssm:AddTagsToResource",
            std::slice::from_ref(&req.resource_id),
        )?;
        let tags = convert::resource_tags_from_wire(req.tags);
        self.blocking(move |params| params.add_tags(&req.resource_type, &req.resource_id, &tags))
            .await?;
        Ok(Response::new(pb::AddTagsToResourceResponse {}))
    }

    async fn remove_tags_from_resource(
        &self,
        request: Request<pb::RemoveTagsFromResourceRequest>,
    ) -> RpcResult<pb::RemoveTagsFromResourceResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize_names(
            &who,
            "ssm:RemoveTagsFromResource",
            std::slice::from_ref(&req.resource_id),
        )?;
        self.blocking(move |params| {
            params.remove_tags(&req.resource_type, &req.resource_id, &req.tag_keys)
        })
        .await?;
        Ok(Response::new(pb::RemoveTagsFromResourceResponse {}))
    }

    async fn list_tags_for_resource(
        &self,
        request: Request<pb::ListTagsForResourceRequest>,
    ) -> RpcResult<pb::ListTagsForResourceResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize_names(
            &who,
            "ssm:ListTagsForResource",
            std::slice::from_ref(&req.resource_id),
        )?;
        let tags = self
            .blocking(move |params| params.list_tags(&req.resource_type, &req.resource_id))
            .await?;
        Ok(Response::new(pb::ListTagsForResourceResponse {
            tag_list: convert::resource_tags_to_wire(tags),
        }))
    }
}
