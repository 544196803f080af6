//! The tower layer that counts every gRPC request (health checks and refusals included) by RPC
//! and status code, and times it, for [`crate::metrics`]. It sees paths and status codes only.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{Request, Response};
use tower::{Layer, Service};

use crate::metrics::Metrics;

#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// Records the request when dropped: with the answer's code, or CANCELLED if the request went
/// away before it was answered.
struct Timing {
    metrics: Arc<Metrics>,
    path: String,
    started: Instant,
    code: i32,
}

impl Drop for Timing {
    fn drop(&mut self) {
        self.metrics
            .record(&self.path, self.code, self.started.elapsed());
    }
}

const CANCELLED: i32 = 1;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
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

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let mut timing = Timing {
            metrics: self.metrics.clone(),
            path: request.uri().path().to_string(),
            started: Instant::now(),
            code: CANCELLED,
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            // An error is answered in the headers (trailers-only); a success has no grpc-status
            // until its trailers, after the body.
            timing.code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            drop(timing);
            Ok(response)
        })
    }
}
