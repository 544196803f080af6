//! `vault.v1.SecurityToken`: session credentials (GetSessionToken) and "who am I"
//! (GetCallerIdentity). Neither needs a policy to allow it (as STS), but both go through the
//! authorizer, which refuses GetSessionToken to session credentials.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{
    call::{Caller, caller},
    convert::timestamp,
    status,
};
use crate::{
    auth::Action,
    pb::{self, security_token_server::SecurityToken},
    vault::Vault,
};

type RpcResult<T> = std::result::Result<Response<T>, Status>;

/// The SecurityToken service over a vault.
#[derive(Debug, Clone)]
pub struct StsApi {
    vault: Arc<Vault>,
}

impl StsApi {
    pub fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
    }

    fn authorize(&self, who: &Caller, action: &str) -> Result<(), Status> {
        who.authorize(
            &self.vault.authorizer,
            &Action {
                name: action,
                resources: &["*"],
                encryption_context: None,
            },
        )
    }
}

#[tonic::async_trait]
impl SecurityToken for StsApi {
    async fn get_session_token(
        &self,
        request: Request<pb::GetSessionTokenRequest>,
    ) -> RpcResult<pb::GetSessionTokenResponse> {
        let who = caller(&request)?;
        self.authorize(&who, "sts:GetSessionToken")?;
        let req = request.into_inner();
        let policy = (!req.policy.is_empty()).then_some(req.policy.as_str());
        // Sealing is a few microseconds of AES-GCM and touches no store: no need to block.
        let minted = self
            .vault
            .iam
            .get_session_token(
                who.principal.user_id(),
                &who.principal.access_key_id,
                req.duration_seconds,
                policy,
            )
            .map_err(status)?;
        Ok(Response::new(pb::GetSessionTokenResponse {
            credentials: Some(pb::Credentials {
                access_key_id: minted.credentials.access_key_id.clone(),
                secret_access_key: minted.credentials.secret_access_key.to_string(),
                session_token: minted.session_token.to_string(),
                expiration: Some(timestamp(minted.expiration)),
            }),
        }))
    }

    async fn get_caller_identity(
        &self,
        request: Request<pb::GetCallerIdentityRequest>,
    ) -> RpcResult<pb::GetCallerIdentityResponse> {
        let who = caller(&request)?;
        self.authorize(&who, "sts:GetCallerIdentity")?;
        Ok(Response::new(pb::GetCallerIdentityResponse {
            user_id: who.principal.user_id().to_string(),
            account: self.vault.arns.account().to_string(),
            arn: who.principal.user_arn().to_string(),
        }))
    }
}
