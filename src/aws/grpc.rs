//! The in-process call: an authenticated request's `vault.v1` message, framed as gRPC and served
//! by the same tower stack the gRPC listener serves (metrics; admission, throttling and audit;
//! the service, which authorizes), with its caller already authenticated.

use bytes::Bytes;
use http::{Method, header};
use http_body_util::{BodyExt, Full};
use prost::Message;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tower::Service;

use super::header_text;
use crate::{
    api::{
        auth_layer::{AuthService, Authenticated, REQUEST_ID_HEADER, next_request_id},
        metrics_layer::MetricsService,
    },
    auth::Principal,
    error::{Error, ErrorKind},
};

/// The largest request message the services take (tonic's decoding limit).
pub(super) const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The gRPC stack, as the server assembles it.
pub type GrpcStack = MetricsService<AuthService<tonic::service::Routes>>;

/// Serves `input` through the gRPC stack as the method's request, for `principal`. Returns
/// the response message, or the domain error, with the request id the stack gave.
pub(super) async fn call(
    stack: &GrpcStack,
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

    let mut stack = stack.clone();
    let Ok(()) = std::future::poll_fn(|cx| {
        Service::<http::Request<tonic::body::Body>>::poll_ready(&mut stack, cx)
    })
    .await;
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
