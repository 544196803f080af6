//! The AWS front end's errors: what went wrong ([`Problem`]), and the one table that names it
//! in each protocol with the HTTP status AWS uses ([`AwsError::wire`]); the error answers.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::Full;
use serde_json::json;

use super::{AwsService, Protocol, query, response};
use crate::{
    api::auth_layer::next_request_id,
    error::{Error, ErrorKind},
};

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
pub(super) struct Failure {
    pub(super) service: Option<&'static AwsService>,
    pub(super) err: AwsError,
    pub(super) request_id: String,
}

impl Failure {
    pub(super) fn new(service: Option<&'static AwsService>, err: AwsError) -> Self {
        Self {
            service,
            err,
            request_id: next_request_id(),
        }
    }
}

pub(super) fn error_response(
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
