//! `vault.v1.Identity`: users, access keys, inline policies and policy simulation, each RPC
//! authorized on the user it names (`arn:aws:iam::ACCOUNT:user/NAME`; the caller's own user when
//! the name is left empty, as IAM).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{
    call::{Caller, caller},
    convert::{FromWire, timestamp},
    status,
};
use crate::{
    auth::{
        Action, UNRESTRICTED_ACTIONS, evaluate_user,
        policy::{ConditionContext, Decision, Request as PolicyRequest},
    },
    error::{Error, Result},
    iam::{Iam, User, parse_policy},
    model::{AccessKeyRecord, AccessKeyStatus},
    paging::Page,
    pb::{self, identity_server::Identity},
    vault::Vault,
};

type RpcResult<T> = std::result::Result<Response<T>, Status>;

/// Bounds on one SimulatePrincipalPolicy call (it answers in one page).
const MAX_SIMULATIONS: usize = 1_000;
const MAX_INPUT_POLICIES: usize = 10;

/// The Identity service over a vault.
#[derive(Debug, Clone)]
pub struct IamApi {
    vault: Arc<Vault>,
}

impl IamApi {
    pub fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
    }

    /// Authorizes `action` on user `name` (the caller's own when empty) and returns the name as
    /// stored. IAM user names compare regardless of case, policies' resources do not: the ARN
    /// authorized is built from the stored spelling, so `ROOT` is checked as `user/root`.
    async fn authorize_on_user(
        &self,
        who: &Caller,
        action: &str,
        name: &str,
    ) -> std::result::Result<String, Status> {
        let name = if name.is_empty() {
            who.principal.user_name().to_string()
        } else {
            let requested = name.to_string();
            self.blocking(move |iam| iam.stored_user_name(&requested))
                .await?
                .unwrap_or_else(|| name.to_string())
        };
        let arn = self.vault.arns.user(&name);
        self.authorize(who, action, &arn)?;
        Ok(name)
    }

    /// [`IamApi::authorize_on_user`] for the actions whose UserName is required (no default to
    /// the caller, as in IAM).
    async fn authorize_on_named_user(
        &self,
        who: &Caller,
        action: &str,
        name: &str,
    ) -> std::result::Result<String, Status> {
        if name.is_empty() {
            return Err(status(Error::validation("UserName is required.")));
        }
        self.authorize_on_user(who, action, name).await
    }

    fn authorize(
        &self,
        who: &Caller,
        action: &str,
        resource: &str,
    ) -> std::result::Result<(), Status> {
        who.authorize(
            &self.vault.authorizer,
            &Action {
                name: action,
                resources: &[resource],
                encryption_context: None,
            },
        )
    }

    /// Runs an IAM call (it reads and writes the store) on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Iam) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, Status> {
        let vault = self.vault.clone();
        super::blocking(move || f(&vault.iam)).await.map_err(status)
    }
}

/// Every user's IAM path: vaultd has no paths.
const USER_PATH: &str = "/";

fn user(user: &User) -> pb::User {
    pb::User {
        user_name: user.record.name.clone(),
        user_id: user.record.id.clone(),
        arn: user.arn.clone(),
        create_date: Some(timestamp(user.record.created_at)),
        sessions_valid_after: user.record.sessions_valid_after.map(timestamp),
        path: USER_PATH.into(),
    }
}

fn access_key_metadata(user_name: &str, key: &AccessKeyRecord) -> pb::AccessKeyMetadata {
    pb::AccessKeyMetadata {
        user_name: user_name.to_string(),
        access_key_id: key.id.clone(),
        status: pb::StatusType::from(key.status) as i32,
        create_date: Some(timestamp(key.created_at)),
    }
}

fn decision(decision: Decision) -> pb::PolicyEvaluationDecisionType {
    match decision {
        Decision::Allowed => pb::PolicyEvaluationDecisionType::Allowed,
        Decision::ExplicitDeny => pb::PolicyEvaluationDecisionType::ExplicitDeny,
        Decision::ImplicitDeny => pb::PolicyEvaluationDecisionType::ImplicitDeny,
    }
}

/// The name under which a simulation's own policies are reported (as IAM).
fn input_policy_name(index: usize) -> String {
    format!("PolicyInputList.{}", index + 1)
}

#[tonic::async_trait]
impl Identity for IamApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> RpcResult<pb::CreateUserResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_named_user(&who, "iam:CreateUser", &req.user_name)
            .await?;
        let created = self.blocking(move |iam| iam.create_user(&name)).await?;
        Ok(Response::new(pb::CreateUserResponse {
            user: Some(user(&created)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> RpcResult<pb::GetUserResponse> {
        let who = caller(&request)?;
        let name = self
            .authorize_on_user(&who, "iam:GetUser", &request.get_ref().user_name)
            .await?;
        let found = self.blocking(move |iam| iam.user(&name)).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user(&found)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> RpcResult<pb::ListUsersResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize(&who, "iam:ListUsers", "*")?;
        let page = Page::new(req.max_items, &req.marker);
        let arns = self.vault.arns.clone();
        let listed = self.blocking(move |iam| iam.list_users(&page)).await?;
        Ok(Response::new(pb::ListUsersResponse {
            is_truncated: listed.truncated(),
            marker: listed.next_marker.unwrap_or_default(),
            users: listed
                .items
                .into_iter()
                .map(|record| pb::User {
                    arn: arns.user(&record.name),
                    user_name: record.name,
                    user_id: record.id,
                    create_date: Some(timestamp(record.created_at)),
                    sessions_valid_after: record.sessions_valid_after.map(timestamp),
                    path: USER_PATH.into(),
                })
                .collect(),
        }))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> RpcResult<pb::DeleteUserResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_named_user(&who, "iam:DeleteUser", &req.user_name)
            .await?;
        self.blocking(move |iam| iam.delete_user(&name)).await?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn revoke_user_sessions(
        &self,
        request: Request<pb::RevokeUserSessionsRequest>,
    ) -> RpcResult<pb::RevokeUserSessionsResponse> {
        let who = caller(&request)?;
        let name = self
            .authorize_on_user(&who, "iam:RevokeUserSessions", &request.get_ref().user_name)
            .await?;
        let at = self
            .blocking(move |iam| iam.revoke_user_sessions(&name))
            .await?;
        Ok(Response::new(pb::RevokeUserSessionsResponse {
            sessions_valid_after: Some(timestamp(at)),
        }))
    }

    async fn create_access_key(
        &self,
        request: Request<pb::CreateAccessKeyRequest>,
    ) -> RpcResult<pb::CreateAccessKeyResponse> {
        let who = caller(&request)?;
        let name = self
            .authorize_on_user(&who, "iam:CreateAccessKey", &request.get_ref().user_name)
            .await?;
        let created = self
            .blocking(move |iam| iam.create_access_key(&name))
            .await?;
        Ok(Response::new(pb::CreateAccessKeyResponse {
            access_key: Some(pb::AccessKey {
                user_name: created.user_name,
                access_key_id: created.record.id,
                status: pb::StatusType::from(created.record.status) as i32,
                secret_access_key: created.credentials.secret_access_key.to_string(),
                create_date: Some(timestamp(created.record.created_at)),
            }),
        }))
    }

    async fn list_access_keys(
        &self,
        request: Request<pb::ListAccessKeysRequest>,
    ) -> RpcResult<pb::ListAccessKeysResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_user(&who, "iam:ListAccessKeys", &req.user_name)
            .await?;
        let page = Page::new(req.max_items, &req.marker);
        let (owner, listed) = self
            .blocking(move |iam| iam.list_access_keys(&name, &page))
            .await?;
        Ok(Response::new(pb::ListAccessKeysResponse {
            is_truncated: listed.truncated(),
            marker: listed.next_marker.unwrap_or_default(),
            access_key_metadata: listed
                .items
                .iter()
                .map(|k| access_key_metadata(&owner.record.name, k))
                .collect(),
        }))
    }

    async fn update_access_key(
        &self,
        request: Request<pb::UpdateAccessKeyRequest>,
    ) -> RpcResult<pb::UpdateAccessKeyResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_user(&who, "iam:UpdateAccessKey", &req.user_name)
            .await?;
        let new_status = AccessKeyStatus::from_wire(req.status, "status")
            .map_err(status)?
            .ok_or_else(|| {
                status(Error::validation(
                    "Status is required (Active or Inactive).",
                ))
            })?;
        self.blocking(move |iam| iam.update_access_key(&name, &req.access_key_id, new_status))
            .await?;
        Ok(Response::new(pb::UpdateAccessKeyResponse {}))
    }

    async fn delete_access_key(
        &self,
        request: Request<pb::DeleteAccessKeyRequest>,
    ) -> RpcResult<pb::DeleteAccessKeyResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_user(&who, "iam:DeleteAccessKey", &req.user_name)
            .await?;
        self.blocking(move |iam| iam.delete_access_key(&name, &req.access_key_id))
            .await?;
        Ok(Response::new(pb::DeleteAccessKeyResponse {}))
    }

    async fn put_user_policy(
        &self,
        request: Request<pb::PutUserPolicyRequest>,
    ) -> RpcResult<pb::PutUserPolicyResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_named_user(&who, "iam:PutUserPolicy", &req.user_name)
            .await?;
        self.blocking(move |iam| {
            iam.put_user_policy(&name, &req.policy_name, &req.policy_document)
        })
        .await?;
        Ok(Response::new(pb::PutUserPolicyResponse {}))
    }

    async fn get_user_policy(
        &self,
        request: Request<pb::GetUserPolicyRequest>,
    ) -> RpcResult<pb::GetUserPolicyResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_named_user(&who, "iam:GetUserPolicy", &req.user_name)
            .await?;
        let policy_name = req.policy_name.clone();
        let (user_name, document) = self
            .blocking(move |iam| iam.get_user_policy(&name, &policy_name))
            .await?;
        Ok(Response::new(pb::GetUserPolicyResponse {
            user_name,
            policy_name: req.policy_name,
            policy_document: document,
        }))
    }

    async fn list_user_policies(
        &self,
        request: Request<pb::ListUserPoliciesRequest>,
    ) -> RpcResult<pb::ListUserPoliciesResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_named_user(&who, "iam:ListUserPolicies", &req.user_name)
            .await?;
        let page = Page::new(req.max_items, &req.marker);
        let listed = self
            .blocking(move |iam| iam.list_user_policies(&name, &page))
            .await?;
        Ok(Response::new(pb::ListUserPoliciesResponse {
            is_truncated: listed.truncated(),
            marker: listed.next_marker.unwrap_or_default(),
            policy_names: listed.items,
        }))
    }

    async fn delete_user_policy(
        &self,
        request: Request<pb::DeleteUserPolicyRequest>,
    ) -> RpcResult<pb::DeleteUserPolicyResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .authorize_on_named_user(&who, "iam:DeleteUserPolicy", &req.user_name)
            .await?;
        self.blocking(move |iam| iam.delete_user_policy(&name, &req.policy_name))
            .await?;
        Ok(Response::new(pb::DeleteUserPolicyResponse {}))
    }

    async fn simulate_principal_policy(
        &self,
        request: Request<pb::SimulatePrincipalPolicyRequest>,
    ) -> RpcResult<pb::SimulatePrincipalPolicyResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let name = self
            .vault
            .arns
            .parse_user(&req.policy_source_arn)
            .ok_or_else(|| {
                status(Error::validation(format!(
                    "PolicySourceArn {} is not the ARN of a user of this account.",
                    req.policy_source_arn
                )))
            })?
            .to_string();
        // Authorized on the user's ARN as stored (user names compare regardless of case).
        let name = self
            .authorize_on_user(&who, "iam:SimulatePrincipalPolicy", &name)
            .await?;
        if req.action_names.is_empty() {
            return Err(status(Error::validation(
                "ActionNames must name at least one action.",
            )));
        }
        let pairs = req.action_names.len() * req.resource_arns.len().max(1);
        if pairs > MAX_SIMULATIONS || req.policy_input_list.len() > MAX_INPUT_POLICIES {
            return Err(status(Error::validation(format!(
                "A simulation evaluates at most {MAX_SIMULATIONS} action and resource pairs, with at \
                 most {MAX_INPUT_POLICIES} policies in PolicyInputList."
            ))));
        }
        let extra = req
            .policy_input_list
            .iter()
            .enumerate()
            .map(|(i, doc)| parse_policy(doc).map(|p| (input_policy_name(i), p)))
            .collect::<Result<Vec<_>>>()
            .map_err(status)?;
        let subject = self.blocking(move |iam| iam.user(&name)).await?;
        let is_root = self.vault.iam.is_root_user(&subject.record.id);
        let mut context =
            ConditionContext::for_user(&subject.record.name, &subject.record.id, &subject.arn);
        for entry in &req.context_entries {
            for value in &entry.context_key_values {
                context.insert(&entry.context_key_name, value);
            }
        }
        let resources = if req.resource_arns.is_empty() {
            vec!["*".to_string()]
        } else {
            req.resource_arns
        };
        let mut results = Vec::new();
        for action in &req.action_names {
            for resource in &resources {
                let evaluation = evaluate_user(
                    &subject,
                    &extra,
                    &PolicyRequest {
                        action,
                        resource,
                        context: &context,
                    },
                );
                // As enforced: root is allowed everything, and anyone the actions that need no
                // permission, whatever any policy says.
                let unrestricted = UNRESTRICTED_ACTIONS
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(action));
                let decided = if is_root || unrestricted {
                    Decision::Allowed
                } else {
                    evaluation.decision
                };
                results.push(pb::EvaluationResult {
                    eval_action_name: action.clone(),
                    eval_resource_name: resource.clone(),
                    eval_decision: decision(decided) as i32,
                    matched_statements: evaluation
                        .matched
                        .into_iter()
                        .map(|m| pb::Statement {
                            source_policy_type: if m.policy.starts_with("PolicyInputList.") {
                                "none".into()
                            } else {
                                "IAM Policy".into()
                            },
                            source_policy_id: m.policy,
                            statement_index: m.index as i32,
                            sid: m.sid.unwrap_or_default(),
                        })
                        .collect(),
                });
            }
        }
        Ok(Response::new(pb::SimulatePrincipalPolicyResponse {
            evaluation_results: results,
            is_truncated: false,
        }))
    }
}
