//! The tower layer that authenticates every gRPC request (auth.md) before it reaches a service.
//! Health checks and reflection stay open; everything else needs a valid signature, and the
//! resulting [`Principal`](crate::auth::Principal) rides in the request's extensions.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower::{Layer, Service};

use crate::auth::{
    Authenticator, Principal, SignedRequest,
    signature::{AUTHORIZATION_HEADER, DATE_HEADER, SECURITY_TOKEN_HEADER},
};
use crate::error::Error;

/// Method path prefixes that need no credentials.
const OPEN_PREFIXES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

#[derive(Clone, Debug)]
pub struct AuthLayer {
    authenticator: Arc<Authenticator>,
}

impl AuthLayer {
    pub fn new(authenticator: Arc<Authenticator>) -> Self {
        Self { authenticator }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Arc<Authenticator>,
}

impl<S, ReqBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
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
        if let Some(outcome) = self.authenticator.authenticate_hot(&signed) {
            return match refusal(&mut request, outcome) {
                None => Box::pin(self.inner.call(request)),
                Some(refused) => Box::pin(async move { Ok(refused) }),
            };
        }
        // The access key is not in memory yet: look it up where blocking is allowed. The inner
        // service was polled ready, so it is the one that must serve this request.
        let authenticator = self.authenticator.clone();
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let outcome = tokio::task::spawn_blocking(move || authenticator.authenticate(&signed))
                .await
                .unwrap_or_else(|_| Err(Error::internal("Authentication was interrupted.")));
            match refusal(&mut request, outcome) {
                None => inner.call(request).await,
                Some(refused) => Ok(refused),
            }
        })
    }
}

/// Attaches the principal to the request and returns `None`, or returns the refusal as a gRPC
/// error response.
fn refusal<B>(
    request: &mut Request<B>,
    outcome: Result<Principal, Error>,
) -> Option<Response<tonic::body::Body>> {
    match outcome {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            None
        }
        Err(err) => {
            tracing::debug!(
                reason = err.kind.aws_name(),
                path = request.uri().path(),
                "request not authenticated"
            );
            Some(super::status(err).into_http())
        }
    }
}
