//! The tower layer around every gRPC request but health checks and reflection:
//!
//! 1. authenticate the signature (auth.md); a refusal ends the request here;
//! 2. reserve the request's place in the audit queue — if the trail cannot take it, refuse
//!    (fail closed) before doing anything;
//! 3. take a throttling token for the caller's access key and the action's class;
//! 4. serve it, with a [`Caller`] in the extensions for the service to authorize through;
//! 5. finish the audit event with the resources the service authorized and the outcome.
//!
//! A service that answers OK without having asked for an authorization decision is a bug; the
//! layer replaces such an answer with an internal error rather than let it through.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use super::call::{CallNote, Caller};
use crate::{
    audit::{AuditEvent, AuditSlot, REQUEST_CANCELLED},
    auth::{
        Principal, SignedRequest, action_for_method,
        signature::{AUTHORIZATION_HEADER, DATE_HEADER, SECURITY_TOKEN_HEADER},
        throttle::RequestClass,
    },
    error::{Error, ErrorKind},
    metrics::Metrics,
    vault::Vault,
};

/// Method path prefixes that need no credentials.
const OPEN_PREFIXES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The response header that carries the request id (also the audit event's id).
pub const REQUEST_ID_HEADER: &str = "x-vault-request-id";

#[derive(Clone, Debug)]
pub struct AuthLayer {
    vault: Arc<Vault>,
    metrics: Arc<Metrics>,
}

impl AuthLayer {
    pub fn new(vault: Arc<Vault>, metrics: Arc<Metrics>) -> Self {
        Self { vault, metrics }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            vault: self.vault.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    vault: Arc<Vault>,
    metrics: Arc<Metrics>,
}

type Body = tonic::body::Body;

impl<S, ReqBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        if OPEN_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return Box::pin(self.inner.call(request));
        }
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let signed = SignedRequest {
            method_path: path.to_string(),
            date: header(DATE_HEADER),
            security_token: header(SECURITY_TOKEN_HEADER),
            authorization: header(AUTHORIZATION_HEADER),
        };
        let vault = self.vault.clone();
        let metrics = self.metrics.clone();
        // The inner service was polled ready, so it is the one that must serve this request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        // Every log line of this request, here and in the services, carries its id.
        let request_id = next_request_id();
        let span = tracing::info_span!("request", request_id = %request_id, rpc = %path);
        let pre_authenticated = request
            .extensions_mut()
            .remove::<Authenticated>()
            .map(|a| a.0);
        let hot = match pre_authenticated {
            Some(principal) => Some(Ok(principal)),
            None => span.in_scope(|| vault.authenticator.authenticate_hot(&signed)),
        };
        let serve = async move {
            let authenticated = match hot {
                Some(outcome) => outcome,
                // Something the check needs is not in memory: look it up where blocking is
                // allowed.
                None => {
                    let vault = vault.clone();
                    super::blocking(move || vault.authenticator.authenticate(&signed)).await
                }
            };
            let principal = match authenticated {
                Ok(principal) => principal,
                Err(err) => {
                    tracing::debug!(
                        reason = err.kind.aws_name(),
                        path = request.uri().path(),
                        "request not authenticated"
                    );
                    return Ok(with_request_id(super::status(err).into_http(), &request_id));
                }
            };
            let action = action_for_method(request.uri().path())
                .unwrap_or_else(|| request.uri().path().to_string());
            let slot =
                match vault
                    .audit
                    .admit(audit_event(&vault, &principal, &action, &request_id))
                {
                    Ok(slot) => slot,
                    Err(err) => {
                        return Ok(with_request_id(super::status(err).into_http(), &request_id));
                    }
                };
            let class = RequestClass::of_action(&action);
            if let Err(retry_after) = vault.throttle.check(principal.throttle_key(), class) {
                metrics.throttled(class);
                let err = Error::new(
                    ErrorKind::Throttling,
                    format!(
                        "Rate exceeded for {action}; retry after {} ms.",
                        retry_after.as_millis().max(1)
                    ),
                );
                slot.finish(Vec::new(), Some(err.kind.aws_name()));
                return Ok(with_request_id(super::status(err).into_http(), &request_id));
            }
            let note = Arc::new(CallNote::default());
            request.extensions_mut().insert(Caller {
                principal,
                note: note.clone(),
            });
            // If the client goes away, this future is dropped mid-call, and the pending event
            // is recorded as cancelled with the resources authorized so far (a write already on
            // the blocking pool still completes).
            let mut pending = PendingEvent {
                slot: Some(slot),
                note,
            };
            let response = pending.finish(&action, inner.call(request).await?);
            tracing::debug!(
                action = %action,
                grpc_status = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0"),
                "request served"
            );
            Ok(with_request_id(response, &request_id))
        };
        Box::pin(tracing::Instrument::instrument(serve, span))
    }
}

/// A caller another front end has already authenticated (the AWS front end checks SigV4 with the
/// same [`Authenticator`](crate::auth::Authenticator)), handed to this layer in the request's
/// extensions so that admission, throttling, authorization and audit stay one path. Only this
/// crate can make one, and requests from the network arrive with empty extensions.
#[derive(Clone, Debug)]
pub struct Authenticated(Principal);

impl Authenticated {
    pub(crate) fn new(principal: Principal) -> Self {
        Self(principal)
    }
}

/// A fresh request id: a UUID (version 4 layout) made of a random per-process prefix and a
/// 56-bit counter. Ids only need to be unique, and this costs no system call per request.
pub(crate) fn next_request_id() -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| getrandom::u64().unwrap_or_default());
    let counter = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Bytes 6 and 8 take the version and variant bits; the counter sits in bytes 9–15.
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&prefix.to_be_bytes());
    bytes[8..].copy_from_slice(&(counter & 0x00ff_ffff_ffff_ffff).to_be_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn audit_event(vault: &Vault, principal: &Principal, action: &str, request_id: &str) -> AuditEvent {
    AuditEvent {
        time: vault.clock.now(),
        request_id: request_id.to_string(),
        user_name: principal.user_name().to_string(),
        user_id: principal.user_id().to_string(),
        user_arn: principal.user_arn().to_string(),
        access_key_id: principal.access_key_id.clone(),
        session: principal.session.is_some(),
        action: action.to_string(),
    }
}

/// A served request's audit event, finished when the answer is known, or as cancelled (with the
/// resources authorized so far) if the request is dropped first.
struct PendingEvent {
    slot: Option<AuditSlot>,
    note: Arc<CallNote>,
}

impl PendingEvent {
    /// Records the outcome in the audit event, replacing an OK answer that was never authorized.
    fn finish(&mut self, action: &str, response: Response<Body>) -> Response<Body> {
        let Some(slot) = self.slot.take() else {
            return response;
        };
        // An error answer carries its status in the headers (trailers-only); a success in
        // trailers.
        let error = tonic::Status::from_header_map(response.headers())
            .filter(|status| status.code() != tonic::Code::Ok);
        let resources = self.note.resources();
        match error {
            Some(status) => {
                let reason = tonic_types::StatusExt::get_details_error_info(&status)
                    .map(|info| info.reason)
                    .unwrap_or_else(|| format!("{:?}", status.code()));
                slot.finish(resources, Some(&reason));
                response
            }
            None if !self.note.authorized() => {
                tracing::error!(action, "a service answered without authorizing the request");
                let err = Error::internal("The request was not authorized by its service.");
                slot.finish(resources, Some(err.kind.aws_name()));
                super::status(err).into_http()
            }
            None => {
                slot.finish(resources, None);
                response
            }
        }
    }
}

impl Drop for PendingEvent {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.finish(self.note.resources(), Some(REQUEST_CANCELLED));
        }
    }
}

fn with_request_id(mut response: Response<Body>, request_id: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, future::Ready};

    use super::*;
    use crate::{
        arn::Arns,
        auth::signature,
        clock::{Clock, ManualClock, format_basic_iso8601},
        crypto::barrier::RootKey,
        iam::{Credentials, RootCredentials},
        model::AuditQuery,
        vault::VaultConfig,
    };

    const KEY_ID: &str = "AKIAEXAMPLEKEY234567";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const METHOD: &str = "/vault.v1.KeyManagement/ListKeys";

    /// A service that answers OK, authorizing first or not.
    #[derive(Clone)]
    struct Answer {
        authorize: bool,
        vault: Arc<Vault>,
    }

    impl Service<Request<()>> for Answer {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<()>) -> Self::Future {
            if self.authorize {
                let caller = request.extensions().get::<Caller>().unwrap();
                let action = crate::auth::Action {
                    name: "kms:ListKeys",
                    resources: &["*"],
                    encryption_context: None,
                };
                caller.authorize(&self.vault.authorizer, &action).unwrap();
            }
            std::future::ready(Ok(Response::new(Body::empty())))
        }
    }

    fn signed(clock: &ManualClock) -> Request<()> {
        let date = format_basic_iso8601(clock.now());
        Request::builder()
            .uri(METHOD)
            .header(DATE_HEADER, &date)
            .header(
                AUTHORIZATION_HEADER,
                signature::authorization_header(KEY_ID, SECRET, &date, METHOD, None),
            )
            .body(())
            .unwrap()
    }

    #[tokio::test]
    async fn an_ok_answer_its_service_never_authorized_becomes_an_internal_error() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let vault = Arc::new(
            Vault::open(VaultConfig {
                storage: Default::default(),
                data_dir: dir.path().join("data"),
                root_key: RootKey::generate().unwrap(),
                arns: Arns::default(),
                clock: clock.clone(),
                root_credentials: RootCredentials::Fixed(Credentials {
                    access_key_id: KEY_ID.into(),
                    secret_access_key: zeroize::Zeroizing::new(SECRET.into()),
                }),
                throttle: crate::auth::throttle::ThrottleConfig::off(),
                audit: crate::audit::AuditConfig::default(),
                rotation_hooks: Default::default(),
            })
            .unwrap(),
        );
        let code = |response: &Response<Body>| {
            tonic::Status::from_header_map(response.headers()).map(|s| s.code())
        };
        let layer = AuthLayer::new(vault.clone(), Arc::default());

        let mut careless = layer.layer(Answer {
            authorize: false,
            vault: vault.clone(),
        });
        let response = careless.call(signed(&clock)).await.unwrap();
        assert_eq!(code(&response), Some(tonic::Code::Internal));
        assert!(response.headers().contains_key(REQUEST_ID_HEADER));

        let mut careful = layer.layer(Answer {
            authorize: true,
            vault: vault.clone(),
        });
        let response = careful.call(signed(&clock)).await.unwrap();
        assert_eq!(code(&response), None, "an authorized OK passes untouched");

        assert!(vault.audit.flush(std::time::Duration::from_secs(5)));
        let events = vault
            .audit
            .lookup(&AuditQuery {
                ascending: true,
                ..Default::default()
            })
            .unwrap();
        let outcomes: Vec<_> = events
            .iter()
            .map(|e| {
                let body: serde_json::Value = serde_json::from_str(&e.body).unwrap();
                (
                    e.event_name.clone(),
                    body["errorCode"].as_str().map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                (
                    "kms:ListKeys".to_string(),
                    Some("KMSInternalException".to_string())
                ),
                ("kms:ListKeys".to_string(), None),
            ]
        );
    }
}
