//! Who is calling, and may they do this? One path for every front end.
//!
//! - [`Authenticator`] checks a signed request (auth.md) and yields the [`Principal`].
//! - [`Authorizer`] decides whether a principal may perform an action on resources. Today the root
//!   user may do everything and nobody else exists; IAM-style policies and sessions plug in here.
//!
//! The gRPC layer calls the first for every request but health and reflection, and each service
//! calls the second once it knows the resource. A future AWS-protocol front end calls the same two.

pub mod signature;

use std::sync::Arc;

use crate::{
    clock::{Clock, parse_basic_iso8601},
    error::{Error, ErrorKind, Result},
    iam::{AccessKey, Iam},
    model::AccessKeyStatus,
};

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub user_name: String,
    pub user_arn: String,
    pub access_key_id: String,
    /// The root user, identified by its id (not its name) when it was authenticated.
    pub is_root: bool,
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

/// Checks request signatures.
#[derive(Debug)]
pub struct Authenticator {
    iam: Arc<Iam>,
    clock: Arc<dyn Clock>,
}

/// A refusal, in the error shape of [`Authenticator::check_inner`].
fn refuse(kind: ErrorKind, message: &str) -> Option<Error> {
    Some(Error::new(kind, message))
}

impl Authenticator {
    pub fn new(iam: Arc<Iam>, clock: Arc<dyn Clock>) -> Self {
        Self { iam, clock }
    }

    /// Authenticates a request, reading the store if its access key is not cached yet.
    pub fn authenticate(&self, request: &SignedRequest) -> Result<Principal> {
        self.check(request, |id| self.iam.access_key(id).map_err(Some))
            .expect("a lookup that reads the store always answers")
    }

    /// [`Authenticator::authenticate`] from memory only: `None` when the access key is not cached
    /// (a front end then authenticates on a thread that may block).
    pub fn authenticate_hot(&self, request: &SignedRequest) -> Option<Result<Principal>> {
        self.check(request, |id| match self.iam.cached_access_key(id) {
            Some(key) => Ok(Some(key)),
            None => Err(None),
        })
    }

    /// The checks of auth.md, in order. `lookup` finds an access key; its `Err(None)` means "not
    /// without blocking", which makes the whole answer `None`.
    fn check(
        &self,
        request: &SignedRequest,
        lookup: impl Fn(&str) -> std::result::Result<Option<Arc<AccessKey>>, Option<Error>>,
    ) -> Option<Result<Principal>> {
        match self.check_inner(request, lookup) {
            Ok(principal) => Some(Ok(principal)),
            Err(Some(err)) => Some(Err(err)),
            Err(None) => None,
        }
    }

    fn check_inner(
        &self,
        request: &SignedRequest,
        lookup: impl Fn(&str) -> std::result::Result<Option<Arc<AccessKey>>, Option<Error>>,
    ) -> std::result::Result<Principal, Option<Error>> {
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
        let date = parse_basic_iso8601(date_text).ok_or_else(missing)?;

        let unrecognized = || {
            refuse(
                ErrorKind::UnrecognizedClient,
                "The security token included in the request is invalid.",
            )
        };
        if request.security_token.is_some() {
            // Sessions come with the Identity work; until then a token names nothing.
            return Err(unrecognized());
        }
        let key = lookup(&authorization.access_key_id)?
            .filter(|k| k.status == AccessKeyStatus::Active)
            .ok_or_else(unrecognized)?;

        let now = self.clock.now();
        let skew = match now.duration_since(date) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if skew > signature::MAX_CLOCK_SKEW {
            return Err(refuse(
                ErrorKind::InvalidSignature,
                "Signature expired: the request date is more than 5 minutes from the server time.",
            ));
        }
        if !signature::verify(
            key.secret(),
            date_text,
            &request.method_path,
            request.security_token.as_deref(),
            &authorization.signature,
        ) {
            return Err(refuse(
                ErrorKind::InvalidSignature,
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        Ok(Principal {
            user_id: key.user.id.clone(),
            user_name: key.user.name.clone(),
            user_arn: key.user_arn.clone(),
            access_key_id: key.id.clone(),
            is_root: self.iam.is_root_user(&key.user.id),
        })
    }
}

/// What a request wants to do, for authorization.
#[derive(Clone, Debug)]
pub struct Action<'a> {
    /// `service:Operation`, e.g. `kms:Encrypt`.
    pub name: &'a str,
    /// ARNs of the resources acted on; `*` for requests on no single resource.
    pub resources: &'a [&'a str],
}

/// Decides whether a principal may perform an action. Fails closed: anything not explicitly
/// allowed is denied.
#[derive(Debug, Default)]
pub struct Authorizer;

impl Authorizer {
    pub fn authorize(&self, principal: &Principal, action: &Action<'_>) -> Result<()> {
        if principal.is_root {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::AccessDenied,
            format!(
                "User: {} is not authorized to perform: {} on resource: {}",
                principal.user_arn,
                action.name,
                action.resources.join(", ")
            ),
        ))
    }
}
