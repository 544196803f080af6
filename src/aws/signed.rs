//! SigV4 on the AWS front end: what the signature covers, owned so that a check that must read
//! the store can finish on the blocking pool, and the checks AWS makes around the signature
//! itself (each deciding header once and signed, the scope's region and service, the payload
//! hash) before [`crate::auth::Authenticator`] checks the credentials and the signature.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{AwsError, AwsService, Problem};
use crate::{
    auth::{Claim, Principal, sigv4},
    clock::parse_basic_iso8601,
    error::{Error, ErrorKind},
    vault::Vault,
};

/// The region IAM, a global service, is signed for whatever the configured region.
const GLOBAL_REGION: &str = "us-east-1";

/// Checks the request's SigV4 signature and scope, and yields its caller.
pub(super) async fn authenticate(
    vault: &Arc<Vault>,
    parts: &http::request::Parts,
    body: &Bytes,
    service: &'static AwsService,
) -> Result<Principal, AwsError> {
    let signed = SignedHttp::new(parts, body);
    let region = vault.arns.region();
    if let Some(outcome) = signed.check(vault, region, service, false) {
        return outcome;
    }
    // Something the check needs is not in memory: look it up where blocking is allowed.
    let vault = vault.clone();
    let outcome = crate::api::blocking(move || {
        let region = vault.arns.region();
        Ok(signed
            .check(&vault, region, service, true)
            .unwrap_or_else(|| Err(AwsError::internal("Authentication could not complete."))))
    })
    .await;
    outcome.map_err(AwsError::domain)?
}

/// What the SigV4 check covers, owned, so that it can finish on the blocking pool.
struct SignedHttp {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    payload_hash: String,
}

impl SignedHttp {
    fn new(parts: &http::request::Parts, body: &Bytes) -> Self {
        Self {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
                .collect(),
            payload_hash: hex::encode(Sha256::digest(body)),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }

    /// The checks, in AWS's order: a well-formed signature header and date, each given once, the
    /// headers that choose what the request does signed, a scope of this region and the
    /// action's service, the payload hash, then the credentials and signature
    /// ([`Authenticator`](crate::auth::Authenticator)). From memory only unless `may_block`:
    /// `None` when the store must be read.
    fn check(
        &self,
        vault: &Vault,
        region: &str,
        service: &AwsService,
        may_block: bool,
    ) -> Option<Result<Principal, AwsError>> {
        let refuse = |kind, message: String| Some(Err(AwsError::domain(Error::new(kind, message))));
        let incomplete =
            |message: String| Some(Err(AwsError::new(Problem::IncompleteSignature, message)));
        for name in SINGLE_HEADERS {
            if self.count(name) > 1 {
                return incomplete(format!("The header {name} is given more than once."));
            }
        }
        let Some(authorization) = self.header("authorization") else {
            return refuse(
                ErrorKind::MissingAuthenticationToken,
                "Request is missing Authentication Token".into(),
            );
        };
        let auth = match sigv4::parse_authorization(authorization) {
            Ok(auth) => auth,
            Err(e) => return incomplete(e.to_string()),
        };
        let Some(amz_date) = self.header("x-amz-date") else {
            return incomplete(
                "Authorization header requires existence of a 'X-Amz-Date' header.".into(),
            );
        };
        // What picks the action, the caller's session and the payload is covered by the
        // signature, or a captured request could be replayed as another action.
        for name in MUST_BE_SIGNED {
            if self.count(name) > 0 && !auth.signed_headers.iter().any(|h| h == name) {
                return incomplete(format!("The header {name} must be signed."));
            }
        }
        let Some(date) = parse_basic_iso8601(amz_date) else {
            return incomplete(
                "The X-Amz-Date header is not a date of the form YYYYMMDDTHHMMSSZ.".into(),
            );
        };
        if !amz_date.starts_with(&auth.date) {
            return refuse(
                ErrorKind::InvalidSignature,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP."
                    .into(),
            );
        }
        if auth.region != region && !(service.signing_name == "iam" && auth.region == GLOBAL_REGION)
        {
            return refuse(
                ErrorKind::InvalidSignature,
                format!(
                    "Credential should be scoped to a valid region: this vaultd serves '{region}'."
                ),
            );
        }
        if auth.service != service.signing_name {
            return refuse(
                ErrorKind::InvalidSignature,
                format!(
                    "Credential should be scoped to correct service: '{}'.",
                    service.signing_name
                ),
            );
        }
        if self
            .header("x-amz-content-sha256")
            .is_some_and(|claimed| claimed != self.payload_hash)
        {
            return refuse(
                ErrorKind::InvalidSignature,
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .into(),
            );
        }
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let input = sigv4::CanonicalInput {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            payload_sha256_hex: &self.payload_hash,
        };
        let claim = Claim {
            access_key_id: &auth.access_key_id,
            date,
            security_token: self.header("x-amz-security-token"),
        };
        let verify =
            |secret: &str| matches!(sigv4::verify(secret, &auth, amz_date, &input), Ok(true));
        let outcome = if may_block {
            Some(vault.authenticator.authenticate_claim(&claim, &verify))
        } else {
            vault.authenticator.authenticate_claim_hot(&claim, &verify)
        };
        outcome.map(|r| r.map_err(AwsError::domain))
    }
}

/// Headers a request may carry once at most.
const SINGLE_HEADERS: [&str; 5] = [
    "authorization",
    "x-amz-date",
    "x-amz-target",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Headers that must be signed when present.
const MUST_BE_SIGNED: [&str; 3] = [
    "x-amz-target",
    "x-amz-security-token",
    "x-amz-content-sha256",
];
