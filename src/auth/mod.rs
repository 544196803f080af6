//! Who is calling, and may they do this? One path for every front end.
//!
//! - [`Authenticator`] checks a signed request (auth.md) and yields the [`Principal`].
//! - [`Authorizer`] decides whether a principal may perform an action on resources, by the user's
//!   inline policies and the session's policy ([`policy`]); the root user may do everything.
//! - [`throttle`] holds the token buckets the front ends consult per request.
//!
//! The gRPC layer calls the first for every request but health and reflection, and each service
//! calls the second once it knows the resource. A future AWS-protocol front end calls the same two.

pub mod policy;
pub mod signature;
pub mod sigv4;
pub mod throttle;

use std::{collections::HashMap, sync::Arc};

use crate::{
    clock::{Clock, format_basic_iso8601, parse_basic_iso8601},
    error::{Error, ErrorKind, Result},
    iam::{Iam, Session, User, credentials::TEMPORARY_PREFIX},
    model::AccessKeyStatus,
};
use policy::{ConditionContext, Decision, Evaluation, Policy, Request};

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The user with its inline policies, as of authentication.
    pub user: Arc<User>,
    pub access_key_id: String,
    /// The root user, identified by its id (not its name) when it was authenticated.
    pub is_root: bool,
    /// Set when the request was signed with session credentials.
    pub session: Option<Arc<Session>>,
}

impl Principal {
    pub fn user_id(&self) -> &str {
        &self.user.record.id
    }

    pub fn user_name(&self) -> &str {
        &self.user.record.name
    }

    pub fn user_arn(&self) -> &str {
        &self.user.arn
    }

    /// The long-term access key behind the request (the minting key for a session): throttling
    /// counts per this key, so minting sessions does not buy a caller more capacity.
    pub fn throttle_key(&self) -> &str {
        match &self.session {
            Some(session) => &session.minted_by,
            None => &self.access_key_id,
        }
    }
}

/// The signature-relevant parts of a request, as a front end extracted them.
#[derive(Clone, Debug, Default)]
pub struct SignedRequest {
    /// The gRPC method path, e.g. `/vault.v1.KeyManagement/Encrypt`.
    pub method_path: String,
    pub date: Option<String>,
    pub security_token: Option<String>,
    pub authorization: Option<String>,
}

/// The credential claims of a signed request, whatever its signature scheme. Its `Debug` leaves
/// the session token out.
#[derive(Clone, Copy)]
pub struct Claim<'a> {
    pub access_key_id: &'a str,
    /// When the request says it was signed.
    pub date: std::time::SystemTime,
    /// The session token, for temporary credentials.
    pub security_token: Option<&'a str>,
}

impl std::fmt::Debug for Claim<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("security_token", &self.security_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// Checks request signatures and sessions.
#[derive(Debug)]
pub struct Authenticator {
    iam: Arc<Iam>,
    clock: Arc<dyn Clock>,
}

/// Why a check did not answer: a refusal, or (from memory only) "not without blocking".
enum Miss {
    Refused(Error),
    WouldBlock,
}

impl From<Error> for Miss {
    fn from(err: Error) -> Self {
        Miss::Refused(err)
    }
}

fn refuse(kind: ErrorKind, message: &str) -> Miss {
    Miss::Refused(Error::new(kind, message))
}

fn invalid_token() -> Miss {
    refuse(
        ErrorKind::UnrecognizedClient,
        "The security token included in the request is invalid.",
    )
}

impl Authenticator {
    pub fn new(iam: Arc<Iam>, clock: Arc<dyn Clock>) -> Self {
        Self { iam, clock }
    }

    /// Authenticates a request, reading the store if what it needs is not cached yet.
    pub fn authenticate(&self, request: &SignedRequest) -> Result<Principal> {
        match self.check(request, true) {
            Ok(principal) => Ok(principal),
            Err(Miss::Refused(err)) => Err(err),
            Err(Miss::WouldBlock) => Err(Error::internal("Authentication could not complete.")),
        }
    }

    /// [`Authenticator::authenticate`] from memory only: `None` when something it needs is not
    /// cached (a front end then authenticates on a thread that may block).
    pub fn authenticate_hot(&self, request: &SignedRequest) -> Option<Result<Principal>> {
        match self.check(request, false) {
            Ok(principal) => Some(Ok(principal)),
            Err(Miss::Refused(err)) => Some(Err(err)),
            Err(Miss::WouldBlock) => None,
        }
    }

    fn access_key(
        &self,
        id: &str,
        may_block: bool,
    ) -> std::result::Result<Option<Arc<crate::iam::AccessKey>>, Miss> {
        match self.iam.cached_access_key(id) {
            Some(key) => Ok(Some(key)),
            None if self.iam.is_unknown_access_key(id) => Ok(None),
            None if may_block => Ok(self.iam.access_key(id)?),
            None => Err(Miss::WouldBlock),
        }
    }

    fn user(&self, id: &str, may_block: bool) -> std::result::Result<Option<Arc<User>>, Miss> {
        match self.iam.cached_user(id) {
            Some(user) => Ok(Some(user)),
            None if may_block => Ok(self.iam.user_by_id(id)?),
            None => Err(Miss::WouldBlock),
        }
    }

    /// Authenticates a request signed by another scheme (AWS SigV4 on the AWS front end): the
    /// same credential, session and clock checks as [`Authenticator::authenticate`], with
    /// `verify` judging the signature given the secret it must have been made with.
    pub fn authenticate_claim(
        &self,
        claim: &Claim<'_>,
        verify: &dyn Fn(&str) -> bool,
    ) -> Result<Principal> {
        match self.check_claim(claim, verify, true) {
            Ok(principal) => Ok(principal),
            Err(Miss::Refused(err)) => Err(err),
            Err(Miss::WouldBlock) => Err(Error::internal("Authentication could not complete.")),
        }
    }

    /// [`Authenticator::authenticate_claim`] from memory only: `None` when something it needs is
    /// not cached.
    pub fn authenticate_claim_hot(
        &self,
        claim: &Claim<'_>,
        verify: &dyn Fn(&str) -> bool,
    ) -> Option<Result<Principal>> {
        match self.check_claim(claim, verify, false) {
            Ok(principal) => Some(Ok(principal)),
            Err(Miss::Refused(err)) => Some(Err(err)),
            Err(Miss::WouldBlock) => None,
        }
    }

    /// The checks of auth.md for vaultd's own signature scheme.
    fn check(
        &self,
        request: &SignedRequest,
        may_block: bool,
    ) -> std::result::Result<Principal, Miss> {
        let missing = || {
            refuse(
                ErrorKind::MissingAuthenticationToken,
                "Missing or malformed authentication: sign the request with VAULT-HMAC-SHA256 \
                 (headers authorization and x-vault-date).",
            )
        };
        let authorization = request
            .authorization
            .as_deref()
            .and_then(signature::parse_authorization)
            .ok_or_else(missing)?;
        let date_text = request.date.as_deref().ok_or_else(missing)?;
        let claim = Claim {
            access_key_id: &authorization.access_key_id,
            date: parse_basic_iso8601(date_text).ok_or_else(missing)?,
            security_token: request.security_token.as_deref(),
        };
        let verify = |secret: &str| {
            signature::verify(
                secret,
                date_text,
                &request.method_path,
                request.security_token.as_deref(),
                &authorization.signature,
            )
        };
        self.check_claim(&claim, &verify, may_block)
    }

    /// The checks of auth.md, in order, whatever the signature scheme.
    fn check_claim(
        &self,
        claim: &Claim<'_>,
        verify: &dyn Fn(&str) -> bool,
        may_block: bool,
    ) -> std::result::Result<Principal, Miss> {
        let key_id = claim.access_key_id;
        let date = claim.date;

        // Long-term key, or a session: the secret to check the signature with, its owner and
        // the long-term key that must still be active.
        let session = match claim.security_token {
            Some(token) => {
                if !key_id.starts_with(TEMPORARY_PREFIX) {
                    return Err(invalid_token());
                }
                Some(self.iam.session(token, key_id).ok_or_else(invalid_token)?)
            }
            None if key_id.starts_with(TEMPORARY_PREFIX) => {
                return Err(refuse(
                    ErrorKind::UnrecognizedClient,
                    "Temporary credentials need their session token.",
                ));
            }
            None => None,
        };
        let long_term_id = session.as_ref().map_or(key_id, |s| s.minted_by.as_str());
        let unrecognized = || {
            refuse(
                ErrorKind::UnrecognizedClient,
                "The security token included in the request is invalid.",
            )
        };
        let key = self
            .access_key(long_term_id, may_block)?
            .filter(|k| k.status == AccessKeyStatus::Active)
            .filter(|k| {
                session
                    .as_ref()
                    .is_none_or(|s| s.user_id == k.user_id && k.honours_session(s.issued_at))
            })
            .ok_or_else(unrecognized)?;
        let user = self
            .user(&key.user_id, may_block)?
            .ok_or_else(unrecognized)?;
        let secret = match &session {
            Some(session) => session.secret(),
            None => key.secret(),
        };

        let now = self.clock.now();
        // AWS's words: a request from the future is "not yet current", one from the past
        // "expired".
        if date > now + signature::MAX_CLOCK_SKEW {
            return Err(Miss::Refused(Error::new(
                ErrorKind::InvalidSignature,
                format!(
                    "Signature not yet current: {} is still later than {} ({} + 5 min.)",
                    format_basic_iso8601(date),
                    format_basic_iso8601(now + signature::MAX_CLOCK_SKEW),
                    format_basic_iso8601(now)
                ),
            )));
        }
        if date + signature::MAX_CLOCK_SKEW < now {
            return Err(Miss::Refused(Error::new(
                ErrorKind::InvalidSignature,
                format!(
                    "Signature expired: {} is now earlier than {} ({} - 5 min.)",
                    format_basic_iso8601(date),
                    format_basic_iso8601(now - signature::MAX_CLOCK_SKEW),
                    format_basic_iso8601(now)
                ),
            )));
        }
        if !verify(secret) {
            return Err(refuse(
                ErrorKind::InvalidSignature,
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        if let Some(session) = &session {
            if now >= session.expiration {
                return Err(refuse(
                    ErrorKind::ExpiredToken,
                    "The security token included in the request is expired.",
                ));
            }
            if user
                .record
                .sessions_valid_after
                .is_some_and(|after| session.issued_at <= after)
            {
                return Err(refuse(
                    ErrorKind::ExpiredToken,
                    "The security token included in the request has been revoked.",
                ));
            }
        }
        Ok(Principal {
            is_root: self.iam.is_root_user(&user.record.id),
            user,
            access_key_id: key_id.to_string(),
            session,
        })
    }
}

/// What a request wants to do, for authorization.
#[derive(Clone, Debug)]
pub struct Action<'a> {
    /// `service:Operation`, e.g. `kms:Encrypt`.
    pub name: &'a str,
    /// ARNs of the resources acted on; `*` for requests on no single resource. Each must be
    /// allowed.
    pub resources: &'a [&'a str],
    /// The request's encryption context, for `kms:EncryptionContext:<key>` conditions.
    pub encryption_context: Option<&'a HashMap<String, String>>,
}

/// The action a gRPC method performs: `/vault.v1.KeyManagement/Encrypt` → `kms:Encrypt`. `None`
/// for a method of no known service.
pub fn action_for_method(path: &str) -> Option<String> {
    let (service, method) = path.strip_prefix("/vault.v1.")?.split_once('/')?;
    let prefix = match service {
        "KeyManagement" => "kms",
        "Identity" => "iam",
        "SecurityToken" => "sts",
        "Audit" => "cloudtrail",
        "ParameterStore" => "ssm",
        "SecretsManager" => "secretsmanager",
        // vaultd's own, with no AWS counterpart.
        "Admin" => "vaultd",
        _ => return None,
    };
    (!method.is_empty() && !method.contains('/')).then(|| format!("{prefix}:{method}"))
}

/// Actions any authenticated caller may perform whatever the policies say (as AWS: "no
/// permissions are required", and an explicit deny does not apply).
pub const UNRESTRICTED_ACTIONS: &[&str] = &["sts:GetCallerIdentity", "sts:GetSessionToken"];

/// Decides whether a principal may perform an action. Fails closed: anything not explicitly
/// allowed is denied.
#[derive(Debug, Default)]
pub struct Authorizer;

impl Authorizer {
    pub fn authorize(&self, principal: &Principal, action: &Action<'_>) -> Result<()> {
        if principal.session.is_some() {
            // As STS: credentials from GetSessionToken cannot make more sessions nor call IAM.
            if action.name == "sts:GetSessionToken" {
                return Err(Error::new(
                    ErrorKind::AccessDenied,
                    "Cannot call GetSessionToken with session credentials.",
                ));
            }
            if action.name.starts_with("iam:") {
                let resource = action.resources.first().copied().unwrap_or("*");
                return Err(denied(
                    principal,
                    action,
                    resource,
                    "because session credentials cannot call IAM",
                ));
            }
        }
        if UNRESTRICTED_ACTIONS.contains(&action.name) {
            return Ok(());
        }
        if action.resources.is_empty() {
            // A service bug, never a caller's: fail closed.
            return Err(Error::internal(format!(
                "{} was authorized on no resource.",
                action.name
            )));
        }
        let session_policy = principal.session.as_ref().and_then(|s| s.policy.as_ref());
        if principal.is_root && session_policy.is_none() {
            return Ok(());
        }
        let context = self.context(principal, action.encryption_context);
        for resource in action.resources {
            let request = Request {
                action: action.name,
                resource,
                context: &context,
            };
            // Effective rights: the user's (root: everything) ∩ the session policy's.
            let user = (!principal.is_root).then(|| evaluate_user(&principal.user, &[], &request));
            let session =
                session_policy.map(|p| policy::evaluate(&[("session policy", p)], &request));
            for (evaluation, article, source) in [
                (user, "an", "identity-based policy"),
                (session, "a", "session policy"),
            ] {
                let why = match evaluation.map(|e| e.decision) {
                    None | Some(Decision::Allowed) => continue,
                    Some(Decision::ExplicitDeny) => {
                        format!("with an explicit deny in {article} {source}")
                    }
                    Some(Decision::ImplicitDeny) => {
                        format!("because no {source} allows the {} action", action.name)
                    }
                };
                return Err(denied(principal, action, resource, &why));
            }
        }
        Ok(())
    }

    /// The condition keys of a request.
    pub fn context(
        &self,
        principal: &Principal,
        encryption_context: Option<&HashMap<String, String>>,
    ) -> ConditionContext {
        let context = ConditionContext::for_user(
            principal.user_name(),
            principal.user_id(),
            principal.user_arn(),
        );
        match encryption_context {
            Some(pairs) => {
                context.with_encryption_context(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            }
            None => context,
        }
    }
}

/// AccessDeniedException naming the action and the resource (never the policy text).
fn denied(principal: &Principal, action: &Action<'_>, resource: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::AccessDenied,
        format!(
            "User: {} is not authorized to perform: {} on resource: {resource} {why}",
            principal.user_arn(),
            action.name,
        ),
    )
}

/// Evaluates a user's inline policies, plus `extra` ones (a simulation's drafts), for a request.
pub fn evaluate_user(user: &User, extra: &[(String, Policy)], request: &Request<'_>) -> Evaluation {
    let mut policies: Vec<(&str, &Policy)> = user
        .policies
        .iter()
        .map(|(name, p)| (name.as_str(), p.as_ref()))
        .collect();
    policies.extend(extra.iter().map(|(name, p)| (name.as_str(), p)));
    policy::evaluate(&policies, request)
}
