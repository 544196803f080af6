//! The AWS front end: AWS's own wire protocols over HTTP/1.1, so that AWS SDKs, the AWS CLI and
//! the AWS Encryption SDK work against vaultd unchanged.
//!
//! - awsJson1_1 for KMS (`X-Amz-Target: TrentService.<Action>`), SSM (`AmazonSSM.<Action>`) and
//!   Secrets Manager (`secretsmanager.<Action>`); awsQuery (a form POST, an XML answer) for STS
//!   and IAM ([`query`]), whose awsJson targets are accepted too; CloudTrail's LookupEvents reads
//!   the audit trail (awsJson).
//! - Requests are signed with AWS Signature Version 4 ([`crate::auth::sigv4`]) by vaultd's own
//!   access keys; the scope must name the configured region and the action's service.
//! - An authenticated request becomes the `vault.v1` request message of its action
//!   ([`shape`]) and goes through the very gRPC stack the gRPC listener serves — the
//!   authentication layer's admission, throttling and audit, and the service's authorization —
//!   in process, with the caller already authenticated. So both front ends share one
//!   authorization path, and a key made over one is used over the other.
//! - Errors take AWS's shapes: `{"__type", "message"}` or `<ErrorResponse>`, with the HTTP status
//!   AWS uses, so SDKs retry throttling and 5xx answers and nothing else.
//!
//! This module knows HTTP and AWS's protocols; it knows no action's rules.

pub mod query;
pub mod shape;

use std::{convert::Infallible, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use prost::Message;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tower::Service;

use crate::{
    api::auth_layer::{Authenticated, REQUEST_ID_HEADER, next_request_id},
    auth::{Claim, Principal, sigv4},
    clock::parse_basic_iso8601,
    error::{Error, ErrorKind},
    server::{Conn, TlsConfig},
    vault::Vault,
};
use shape::{Scalars, Timestamps};

/// The largest request message the services take (tonic's decoding limit), and the largest
/// body: the message's blobs in base64 are a third larger, and JSON adds names.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;
const MAX_BODY: usize = 6 * 1024 * 1024;
/// How long a request's body may take to arrive once its headers have.
const BODY_DEADLINE: Duration = Duration::from_secs(60);
/// Connections served at once; more wait in the listen backlog. With the body limit, this
/// bounds the memory unauthenticated clients can hold.
const MAX_CONNECTIONS: usize = 1024;
/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);
/// The region IAM, a global service, is signed for whatever the configured region.
const GLOBAL_REGION: &str = "us-east-1";

/// An AWS service vaultd speaks for.
#[derive(Debug)]
pub struct AwsService {
    /// The name in SigV4 credential scopes, and the IAM action prefix.
    pub signing_name: &'static str,
    /// The `vault.v1` gRPC service behind it.
    grpc_service: &'static str,
    /// The `X-Amz-Target` prefix of its awsJson actions.
    json_target: &'static str,
    /// The awsQuery API version and XML namespace, for the services that speak it.
    query: Option<(&'static str, &'static str)>,
    /// The service's name for an internal error.
    internal_error: &'static str,
}

const SERVICES: &[AwsService] = &[
    AwsService {
        signing_name: "kms",
        grpc_service: "vault.v1.KeyManagement",
        json_target: "TrentService",
        query: None,
        internal_error: "KMSInternalException",
    },
    AwsService {
        signing_name: "ssm",
        grpc_service: "vault.v1.ParameterStore",
        json_target: "AmazonSSM",
        query: None,
        internal_error: "InternalServerError",
    },
    AwsService {
        signing_name: "secretsmanager",
        grpc_service: "vault.v1.SecretsManager",
        json_target: "secretsmanager",
        query: None,
        internal_error: "InternalServiceError",
    },
    AwsService {
        signing_name: "cloudtrail",
        grpc_service: "vault.v1.Audit",
        json_target: "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
        query: None,
        internal_error: "InternalFailure",
    },
    AwsService {
        signing_name: "sts",
        grpc_service: "vault.v1.SecurityToken",
        json_target: "AWSSecurityTokenServiceV20110615",
        query: Some(("2011-06-15", "https://sts.amazonaws.com/doc/2011-06-15/")),
        internal_error: "InternalFailure",
    },
    AwsService {
        signing_name: "iam",
        grpc_service: "vault.v1.Identity",
        json_target: "AWSIdentityManagementV20100508",
        query: Some(("2010-05-08", "https://iam.amazonaws.com/doc/2010-05-08/")),
        internal_error: "ServiceFailure",
    },
];

/// Which wire protocol a request came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Query,
}

/// What went wrong with a request, before it takes a protocol's shape ([`AwsError::wire`], the
/// front end's one table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A domain error (api.md's table), as the services and the authenticator answer.
    Domain(ErrorKind),
    /// A body that is not JSON, or a member of the wrong type.
    Serialization,
    /// An action or target vaultd does not have (or a query API version it does not speak).
    UnknownOperation,
    /// A query form that cannot be read.
    MalformedQueryString,
    /// A query form without `Action` or `Version`.
    MissingParameter,
    /// A malformed or incomplete `Authorization` header.
    IncompleteSignature,
    /// A body larger than vaultd takes.
    TooLarge,
    /// A body that did not arrive in time.
    RequestTimeout,
}

/// An error as the AWS front end answers it.
#[derive(Debug)]
pub struct AwsError {
    pub problem: Problem,
    /// A human sentence: never a value from the request but names, and those shortened.
    pub message: String,
}

impl AwsError {
    pub fn new(problem: Problem, message: impl Into<String>) -> Self {
        Self {
            problem,
            message: message.into(),
        }
    }

    pub fn domain(err: Error) -> Self {
        Self::new(Problem::Domain(err.kind), err.message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(Problem::Domain(ErrorKind::Validation), message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(Problem::Serialization, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Problem::Domain(ErrorKind::KmsInternal), message)
    }

    /// The HTTP status and AWS error code of this error in `protocol`, from `service`: 5xx for
    /// internal errors and unavailability (SDKs retry those), 4xx for everything else
    /// (throttling is a 400 that SDKs know by its code).
    pub fn wire(
        &self,
        protocol: Protocol,
        service: Option<&AwsService>,
    ) -> (StatusCode, &'static str) {
        use ErrorKind::*;
        let internal = service.map_or("InternalFailure", |s| s.internal_error);
        let (status, code): (u16, &'static str) = match (protocol, self.problem) {
            (_, Problem::Domain(KmsInternal)) => (500, internal),
            (_, Problem::TooLarge) => (413, "RequestEntityTooLarge"),
            (_, Problem::RequestTimeout) => (408, "RequestTimeout"),
            (Protocol::Json, Problem::Domain(Unavailable)) => (503, "ServiceUnavailableException"),
            (Protocol::Json, Problem::Domain(MissingAuthenticationToken)) => {
                (403, MissingAuthenticationToken.aws_name())
            }
            (Protocol::Json, Problem::Domain(kind)) => (400, kind.aws_name()),
            (Protocol::Json, Problem::Serialization | Problem::MalformedQueryString) => {
                (400, "SerializationException")
            }
            (Protocol::Json, Problem::UnknownOperation) => (400, "UnknownOperationException"),
            (Protocol::Json, Problem::MissingParameter) => (400, "ValidationException"),
            (Protocol::Json, Problem::IncompleteSignature) => (400, "IncompleteSignatureException"),
            // awsQuery services (STS, IAM) name and number errors their own way.
            (Protocol::Query, Problem::Domain(kind)) => match kind {
                Unavailable => (503, "ServiceUnavailable"),
                UnrecognizedClient => (403, "InvalidClientTokenId"),
                InvalidSignature => (403, "SignatureDoesNotMatch"),
                MissingAuthenticationToken => (403, "MissingAuthenticationToken"),
                ExpiredToken => (400, "ExpiredToken"),
                AccessDenied => (403, "AccessDenied"),
                Throttling => (400, "Throttling"),
                Validation | InvalidParameter | InvalidRequest => (400, "ValidationError"),
                NoSuchEntity => (404, "NoSuchEntity"),
                EntityAlreadyExists | DeleteConflict => (409, kind.aws_name()),
                LimitExceeded => (409, "LimitExceeded"),
                _ => (400, kind.aws_name()),
            },
            (Protocol::Query, Problem::Serialization) => (400, "ValidationError"),
            (Protocol::Query, Problem::UnknownOperation) => (400, "InvalidAction"),
            (Protocol::Query, Problem::MalformedQueryString) => (400, "MalformedQueryString"),
            (Protocol::Query, Problem::MissingParameter) => (400, "MissingParameter"),
            (Protocol::Query, Problem::IncompleteSignature) => (400, "IncompleteSignature"),
        };
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
        )
    }
}

/// A failed request: its error, the service it was for (once known) and its request id.
struct Failure {
    service: Option<&'static AwsService>,
    err: AwsError,
    request_id: String,
}

impl Failure {
    fn new(service: Option<&'static AwsService>, err: AwsError) -> Self {
        Self {
            service,
            err,
            request_id: next_request_id(),
        }
    }
}

/// The in-process gRPC stack the front end hands authenticated requests to.
pub trait GrpcStack:
    Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcStack for S where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Where the AWS front end listens: plain HTTP, or HTTPS with the gRPC listener's certificate
/// (reloaded with it on SIGHUP; with its client CA, mutual TLS).
#[derive(Clone, Debug)]
pub struct AwsListener {
    pub tcp: Arc<TcpListener>,
    pub tls: Option<TlsConfig>,
}

/// The AWS front end of one vault.
pub struct AwsFrontEnd<S> {
    vault: Arc<Vault>,
    stack: S,
}

impl<S: GrpcStack> AwsFrontEnd<S> {
    pub fn new(vault: Arc<Vault>, stack: S) -> Self {
        Self { vault, stack }
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown` completes, then lets requests in flight
    /// finish (up to 10 s) and returns.
    pub async fn serve(
        self: Arc<Self>,
        listener: AwsListener,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                _ = &mut shutdown => break,
            };
            let (stream, _) = tokio::select! {
                accepted = listener.tcp.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("AWS endpoint: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let front = self.clone();
            let mut stopping = stopping.clone();
            let tls = listener.tls.clone();
            connections.spawn(async move {
                let _slot = slot;
                let io = match tls {
                    // Each handshake in the connection's own task, with a deadline.
                    Some(tls) => match tls.accept_http1(stream).await {
                        Ok(stream) => Conn::Tls(Box::new(stream)),
                        Err(e) => {
                            tracing::debug!("AWS endpoint: TLS handshake failed: {e}");
                            return;
                        }
                    },
                    None => Conn::Tcp(stream),
                };
                let service = hyper::service::service_fn(move |request| {
                    let front = front.clone();
                    async move { Ok::<_, Infallible>(front.handle(request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(hyper_util::rt::TokioIo::new(io), service);
                tokio::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    _ = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            });
            // Reap finished connections as we go.
            while connections.try_join_next().is_some() {}
        }
        let _ = stop.send(true);
        let _ = tokio::time::timeout(DRAIN, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
    }

    /// Answers one HTTP request.
    pub async fn handle(&self, request: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let protocol = if parts.headers.contains_key("x-amz-target") {
            Protocol::Json
        } else {
            Protocol::Query
        };
        match self.serve_request(&parts, body, protocol).await {
            Ok(response) => response,
            Err(failure) => {
                error_response(protocol, failure.service, &failure.err, &failure.request_id)
            }
        }
    }

    /// Nothing of the body is parsed before the signature over it is checked: an unsigned
    /// request costs its headers, and a signed one is read within the size and time limits.
    async fn serve_request(
        &self,
        parts: &http::request::Parts,
        body: Incoming,
        protocol: Protocol,
    ) -> Result<http::Response<Full<Bytes>>, Failure> {
        let (service, target_action) = route(parts, protocol)?;
        let fail = |err| Failure::new(Some(service), err);
        let body = read_body(body).await.map_err(fail)?;
        let principal = self
            .authenticate(parts, &body, service)
            .await
            .map_err(fail)?;

        // The action and the request's members as a JSON tree.
        let (action, members) = match protocol {
            Protocol::Json => {
                let members = if body.iter().all(u8::is_ascii_whitespace) {
                    serde_json::Value::Null
                } else {
                    serde_json::from_slice(&body).map_err(|_| {
                        fail(AwsError::serialization(
                            "The request body is not valid JSON.",
                        ))
                    })?
                };
                (target_action, members)
            }
            Protocol::Query => {
                // A form body is form-encoded (`+` is a space); a query string is as signed
                // (`+` is itself).
                let form = match parts.method {
                    Method::POST => query::read_form(&body, true),
                    _ => query::read_form(parts.uri.query().unwrap_or_default().as_bytes(), false),
                }
                .map_err(fail)?;
                let version = service.query.map_or("", |q| q.0);
                match form.version.as_deref() {
                    None => {
                        return Err(fail(AwsError::new(
                            Problem::MissingParameter,
                            "The request must contain the parameter Version.",
                        )));
                    }
                    Some(v) if v != version => {
                        return Err(fail(AwsError::new(
                            Problem::UnknownOperation,
                            format!(
                                "Could not find operation {} for version {}.",
                                shorten(&form.action),
                                shorten(v)
                            ),
                        )));
                    }
                    Some(_) => {}
                }
                (form.action, form.members)
            }
        };
        let method = shape::pool()
            .get_service_by_name(service.grpc_service)
            .and_then(|s| s.methods().find(|m| m.name() == action))
            .ok_or_else(|| {
                fail(AwsError::new(
                    Problem::UnknownOperation,
                    match protocol {
                        Protocol::Json => format!(
                            "vaultd's {} has no operation {}.",
                            service.signing_name,
                            shorten(&action)
                        ),
                        Protocol::Query => format!(
                            "Could not find operation {} for version {}.",
                            shorten(&action),
                            service.query.map_or("", |q| q.0)
                        ),
                    },
                ))
            })?;
        let scalars = match protocol {
            Protocol::Json => Scalars::Typed,
            Protocol::Query => Scalars::Text,
        };
        let input = shape::decode(&method.input(), &members, scalars).map_err(fail)?;
        let (output, request_id) =
            self.call(&method, input, principal)
                .await
                .map_err(|(err, request_id)| Failure {
                    service: Some(service),
                    err: AwsError::domain(err),
                    request_id,
                })?;
        Ok(match protocol {
            Protocol::Json => {
                let body = serde_json::to_vec(&shape::encode(&output, Timestamps::EpochSeconds))
                    .unwrap_or_default();
                response(
                    StatusCode::OK,
                    "application/x-amz-json-1.1",
                    body,
                    &request_id,
                )
            }
            Protocol::Query => {
                let tree = shape::encode(&output, Timestamps::Iso8601);
                let namespace = service.query.map_or("", |q| q.1);
                let body = query::write_response(
                    &action,
                    namespace,
                    service.signing_name,
                    &tree,
                    &request_id,
                );
                response(StatusCode::OK, "text/xml", body.into_bytes(), &request_id)
            }
        })
    }

    /// Checks the request's SigV4 signature and scope, and yields its caller.
    async fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        service: &'static AwsService,
    ) -> Result<Principal, AwsError> {
        let signed = SignedHttp::new(parts, body);
        let region = self.vault.arns.region();
        if let Some(outcome) = signed.check(&self.vault, region, service, false) {
            return outcome;
        }
        // Something the check needs is not in memory: look it up where blocking is allowed.
        let vault = self.vault.clone();
        let outcome = crate::api::blocking(move || {
            let region = vault.arns.region();
            Ok(signed
                .check(&vault, region, service, true)
                .unwrap_or_else(|| Err(AwsError::internal("Authentication could not complete."))))
        })
        .await;
        outcome.map_err(AwsError::domain)?
    }

    /// Serves `input` through the gRPC stack as the method's request, for `principal`. Returns
    /// the response message, or the domain error, with the request id the stack gave.
    async fn call(
        &self,
        method: &MethodDescriptor,
        input: DynamicMessage,
        principal: Principal,
    ) -> Result<(DynamicMessage, String), (Error, String)> {
        let encoded = input.encode_to_vec();
        if encoded.len() > MAX_MESSAGE {
            return Err((
                Error::new(
                    ErrorKind::Validation,
                    format!("The request is larger than the {MAX_MESSAGE} bytes vaultd takes."),
                ),
                next_request_id(),
            ));
        }
        let mut frame = Vec::with_capacity(encoded.len() + 5);
        frame.push(0);
        frame.extend_from_slice(
            &u32::try_from(encoded.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        frame.extend_from_slice(&encoded);
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let mut request = http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .version(http::Version::HTTP_2)
            .header(header::CONTENT_TYPE, "application/grpc")
            .header("te", "trailers")
            .body(tonic::body::Body::new(Full::new(Bytes::from(frame))))
            .map_err(|_| {
                (
                    Error::internal("The request could not be built."),
                    next_request_id(),
                )
            })?;
        request
            .extensions_mut()
            .insert(Authenticated::new(principal));

        let mut stack = self.stack.clone();
        let Ok(()) = std::future::poll_fn(|cx| stack.poll_ready(cx)).await;
        let Ok(response) = stack.call(request).await;
        let (parts, body) = response.into_parts();
        let request_id = header_text(&parts.headers, REQUEST_ID_HEADER)
            .unwrap_or_default()
            .to_string();
        let fail = |err| (err, request_id.clone());
        // An error answer is trailers-only: its status is in the headers.
        if let Some(status) =
            tonic::Status::from_header_map(&parts.headers).filter(|s| s.code() != tonic::Code::Ok)
        {
            return Err(fail(domain_error(&status)));
        }
        let collected = body
            .collect()
            .await
            .map_err(|_| fail(Error::internal("The response could not be read.")))?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        if let Some(status) =
            tonic::Status::from_header_map(&trailers).filter(|s| s.code() != tonic::Code::Ok)
        {
            return Err(fail(domain_error(&status)));
        }
        let bytes = collected.to_bytes();
        if bytes.len() < 5 || bytes[0] != 0 {
            return Err(fail(Error::internal("The response was not a message.")));
        }
        let output = DynamicMessage::decode(method.output(), &bytes[5..])
            .map_err(|_| fail(Error::internal("The response could not be decoded.")))?;
        Ok((output, request_id))
    }
}

/// A gRPC status from the stack as the domain error it was (its `ErrorInfo` reason is the AWS
/// name); a status without one is an internal error.
fn domain_error(status: &tonic::Status) -> Error {
    let reason = tonic_types::StatusExt::get_details_error_info(status).map(|info| info.reason);
    let kind = reason
        .and_then(|reason| ErrorKind::ALL.into_iter().find(|k| k.aws_name() == reason))
        .unwrap_or(match status.code() {
            // tonic's own refusals (a message over its limit, say) are the client's doing.
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange => ErrorKind::Validation,
            tonic::Code::Unavailable => ErrorKind::Unavailable,
            _ => ErrorKind::KmsInternal,
        });
    Error::new(kind, status.message().to_string())
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

/// The service a request is for, from what its signature covers: the `X-Amz-Target` (awsJson,
/// with the action) or the credential scope (awsQuery, whose action is in the signed form).
/// Known before the body is read; a request without a signature ends here.
fn route(
    parts: &http::request::Parts,
    protocol: Protocol,
) -> Result<(&'static AwsService, String), Failure> {
    let authorization = header_text(&parts.headers, "authorization");
    match protocol {
        Protocol::Json => {
            let target = header_text(&parts.headers, "x-amz-target").unwrap_or_default();
            let (prefix, action) = target.rsplit_once('.').unwrap_or((target, ""));
            let service = SERVICES
                .iter()
                .find(|s| s.json_target == prefix)
                .ok_or_else(|| {
                    Failure::new(
                        None,
                        AwsError::new(
                            Problem::UnknownOperation,
                            "The X-Amz-Target names no service of vaultd.",
                        ),
                    )
                })?;
            if parts.method != Method::POST {
                return Err(Failure::new(
                    Some(service),
                    AwsError::new(Problem::UnknownOperation, "awsJson requests are POSTs."),
                ));
            }
            if authorization.is_none() {
                return Err(Failure::new(Some(service), missing_signature()));
            }
            Ok((service, action.to_string()))
        }
        Protocol::Query => {
            let Some(authorization) = authorization else {
                return Err(Failure::new(None, missing_signature()));
            };
            let scope = sigv4::parse_authorization(authorization).map_err(|e| {
                Failure::new(
                    None,
                    AwsError::new(Problem::IncompleteSignature, e.to_string()),
                )
            })?;
            let service = SERVICES
                .iter()
                .find(|s| s.signing_name == scope.service && s.query.is_some())
                .ok_or_else(|| {
                    Failure::new(
                        None,
                        AwsError::new(
                            Problem::UnknownOperation,
                            "The request is signed for a service that does not speak the query \
                             protocol here.",
                        ),
                    )
                })?;
            if !matches!(parts.method, Method::POST | Method::GET) {
                return Err(Failure::new(
                    Some(service),
                    AwsError::new(Problem::UnknownOperation, "Use POST or GET."),
                ));
            }
            Ok((service, String::new()))
        }
    }
}

fn missing_signature() -> AwsError {
    AwsError::domain(Error::new(
        ErrorKind::MissingAuthenticationToken,
        "Request is missing Authentication Token",
    ))
}

/// Reads a body within [`MAX_BODY`] bytes and [`BODY_DEADLINE`].
async fn read_body(body: Incoming) -> Result<Bytes, AwsError> {
    match tokio::time::timeout(BODY_DEADLINE, Limited::new(body, MAX_BODY).collect()).await {
        Err(_) => Err(AwsError::new(
            Problem::RequestTimeout,
            "The request body did not arrive in time.",
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(AwsError::new(
            Problem::TooLarge,
            format!("The request body is larger than the {MAX_BODY} bytes vaultd takes."),
        )),
        Ok(Err(_)) => Err(AwsError::serialization(
            "The request body could not be read.",
        )),
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An action name echoed in an error, never at length.
fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

fn response(
    status: StatusCode,
    content_type: &str,
    body: Vec<u8>,
    request_id: &str,
) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

fn error_response(
    protocol: Protocol,
    service: Option<&AwsService>,
    err: &AwsError,
    request_id: &str,
) -> http::Response<Full<Bytes>> {
    let (status, code) = err.wire(protocol, service);
    match protocol {
        Protocol::Json => {
            let body = json!({ "__type": code, "message": err.message });
            let mut response = response(
                status,
                "application/x-amz-json-1.1",
                serde_json::to_vec(&body).unwrap_or_default(),
                request_id,
            );
            response
                .headers_mut()
                .insert("x-amzn-errortype", HeaderValue::from_static(code));
            response
        }
        Protocol::Query => {
            let namespace = service.and_then(|s| s.query).map(|q| q.1);
            let body = query::write_error(namespace, status, code, &err.message, request_id);
            response(status, "text/xml", body.into_bytes(), request_id)
        }
    }
}
/// What the AWS front end offers, in AWS's terms: for each service (by signing name) its
/// actions, each with the members of its input and output and their AWS types (`string`,
/// `blob`, `boolean`, `integer`, `long`, `double`, `timestamp`, `enum` with its values, `list`,
/// `map`, `structure`). Tests compare it with AWS's own service models.
pub fn model() -> serde_json::Value {
    let services = SERVICES.iter().map(|service| {
        let grpc = shape::pool().get_service_by_name(service.grpc_service);
        let actions = grpc
            .iter()
            .flat_map(|s| s.methods())
            .map(|m| {
                (
                    m.name().to_string(),
                    json!({"input": shape::describe(&m.input()), "output": shape::describe(&m.output())}),
                )
            })
            .collect::<serde_json::Map<_, _>>();
        (service.signing_name.to_string(), serde_json::Value::Object(actions))
    });
    serde_json::Value::Object(services.collect())
}
