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
//! Here: the services spoken, routing and the HTTP/1.1 server. [`shape`] maps AWS members onto
//! messages, [`query`] reads forms and writes XML, `signed` holds the SigV4 checks around the
//! signature, `grpc` the in-process call, `error` the one table of AWS error names and statuses.
//!
//! This module knows HTTP and AWS's protocols; it knows no action's rules.

mod error;
mod grpc;
pub mod query;
pub mod shape;
mod signed;

use std::{convert::Infallible, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::json;
use tokio::net::TcpListener;

use crate::{
    auth::sigv4,
    error::{Error, ErrorKind},
    server::{Conn, TlsConfig},
    vault::Vault,
};
pub use error::{AwsError, Problem};
use error::{Failure, error_response};
pub use grpc::GrpcStack;
use shape::{Scalars, Timestamps};

/// The largest body: the largest message's ([`grpc::MAX_MESSAGE`]) blobs in base64 are a third
/// larger, and JSON adds names.
const MAX_BODY: usize = 6 * 1024 * 1024;
/// How long a request's body may take to arrive once its headers have.
const BODY_DEADLINE: Duration = Duration::from_secs(60);
/// Connections served at once; more wait in the listen backlog. With the body limit, this
/// bounds the memory unauthenticated clients can hold.
const MAX_CONNECTIONS: usize = 1024;
/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

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

/// Where the AWS front end listens: plain HTTP, or HTTPS with the gRPC listener's certificate
/// (reloaded with it on SIGHUP; with its client CA, mutual TLS).
#[derive(Clone, Debug)]
pub struct AwsListener {
    pub tcp: Arc<TcpListener>,
    pub tls: Option<TlsConfig>,
}

/// The AWS front end of one vault.
pub struct AwsFrontEnd {
    vault: Arc<Vault>,
    stack: GrpcStack,
}

impl AwsFrontEnd {
    pub fn new(vault: Arc<Vault>, stack: GrpcStack) -> Self {
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
        let body = read_body(parts, body).await.map_err(fail)?;
        let principal = signed::authenticate(&self.vault, parts, &body, service)
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
        let (output, request_id) = grpc::call(&self.stack, &method, input, principal)
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
}

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

/// Reads a body within [`MAX_BODY`] bytes and [`BODY_DEADLINE`]. A body that says it is larger
/// is refused before any of it is read.
async fn read_body(parts: &http::request::Parts, body: Incoming) -> Result<Bytes, AwsError> {
    let too_large = || {
        AwsError::new(
            Problem::TooLarge,
            format!("The request body is larger than the {MAX_BODY} bytes vaultd takes."),
        )
    };
    let declared =
        header_text(&parts.headers, "content-length").and_then(|n| n.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(BODY_DEADLINE, Limited::new(body, MAX_BODY).collect()).await {
        Err(_) => Err(AwsError::new(
            Problem::RequestTimeout,
            "The request body did not arrive in time.",
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
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
