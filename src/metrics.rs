//! Prometheus metrics: request counts by RPC and status code, latency histograms, throttled
//! requests, and (read when scraped) keys by state and the audit queue's depth. Served in the
//! Prometheus text format on a port of its own ([`serve`]), apart from gRPC, so that a scraper
//! needs no credentials and never reaches the API.
//!
//! Labels are bounded: RPCs are those of the services vaultd serves (read from their descriptors
//! when the registry is made; any other path counts under empty labels, so made-up paths cannot
//! grow anything), and codes are gRPC's 17.
//! Nothing here ever holds a request's content.

use std::{
    collections::HashMap,
    fmt::Write as _,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::{auth::throttle::RequestClass, model::KeyState};

/// Latency histogram bucket bounds, in seconds: from 50 µs (a hot symmetric request) to 10 s.
const BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// gRPC status code names, by number.
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// One RPC's counters.
#[derive(Default)]
struct RpcStats {
    by_code: [AtomicU64; 17],
    /// Cumulative counts are computed when rendering; these are per bucket (the last is +Inf).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// The registry. Its table of RPCs is fixed when it is made (every method of the services
/// vaultd serves), so updating it is a hash lookup and a few atomic adds, and no request can grow
/// it: requests to any other path count together under empty labels.
pub struct Metrics {
    rpcs: HashMap<String, RpcStats>,
    /// Requests to paths that are no RPC of vaultd's (answered UNIMPLEMENTED or refused first).
    other: [AtomicU64; 17],
    throttled: [AtomicU64; 4],
    started: Instant,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The method paths (`/package.Service/Method`) of the services in an encoded descriptor set.
fn method_paths(descriptor_set: &[u8]) -> Vec<String> {
    use prost::Message;
    let Ok(set) = prost_types::FileDescriptorSet::decode(descriptor_set) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                paths.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    paths
}

fn class_index(class: RequestClass) -> usize {
    match class {
        RequestClass::Symmetric => 0,
        RequestClass::Asymmetric => 1,
        RequestClass::Read => 2,
        RequestClass::Write => 3,
    }
}

impl Metrics {
    /// A registry for every RPC of `vault.v1`, health checks and reflection.
    pub fn new() -> Self {
        let mut paths = method_paths(crate::pb::FILE_DESCRIPTOR_SET);
        paths.extend(method_paths(tonic_health::pb::FILE_DESCRIPTOR_SET));
        for version in ["v1", "v1alpha"] {
            paths.push(format!(
                "/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo"
            ));
        }
        Self {
            rpcs: paths
                .into_iter()
                .map(|p| (p, RpcStats::default()))
                .collect(),
            other: Default::default(),
            throttled: Default::default(),
            started: Instant::now(),
        }
    }

    /// Records one answered request: its method path (`/package.Service/Method`), gRPC status
    /// code and how long it took.
    pub fn record(&self, path: &str, code: i32, elapsed: Duration) {
        let code = usize::try_from(code)
            .ok()
            .filter(|c| *c < CODES.len())
            .unwrap_or(2);
        let Some(stats) = self.rpcs.get(path) else {
            self.other[code].fetch_add(1, Relaxed);
            return;
        };
        stats.by_code[code].fetch_add(1, Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        stats.buckets[bucket].fetch_add(1, Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        stats.sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// Records a request refused by throttling.
    pub fn throttled(&self, class: RequestClass) {
        self.throttled[class_index(class)].fetch_add(1, Relaxed);
    }

    /// The metrics in the Prometheus text format (0.0.4), with the gauges read from `gauges`.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(8192);
        // Only RPCs that were called, in name order.
        let mut rpcs: Vec<(&String, &RpcStats)> = self
            .rpcs
            .iter()
            .filter(|(_, stats)| stats.by_code.iter().any(|c| c.load(Relaxed) > 0))
            .collect();
        rpcs.sort_by(|a, b| a.0.cmp(b.0));
        out.push_str(
            "# HELP vaultd_grpc_requests_total gRPC requests answered, by RPC and status code.\n",
        );
        out.push_str("# TYPE vaultd_grpc_requests_total counter\n");
        for (path, stats) in &rpcs {
            let (service, method) = split_path(path);
            for (code, count) in stats.by_code.iter().enumerate() {
                let count = count.load(Relaxed);
                if count > 0 {
                    let _ = writeln!(
                        out,
                        "vaultd_grpc_requests_total{{grpc_service=\"{service}\",grpc_method=\"{method}\",grpc_code=\"{}\"}} {count}",
                        CODES[code]
                    );
                }
            }
        }
        for (code, count) in self.other.iter().enumerate() {
            let count = count.load(Relaxed);
            if count > 0 {
                let _ = writeln!(
                    out,
                    "vaultd_grpc_requests_total{{grpc_service=\"\",grpc_method=\"\",grpc_code=\"{}\"}} {count}",
                    CODES[code]
                );
            }
        }
        out.push_str("# HELP vaultd_grpc_request_duration_seconds Time from a request's arrival to its answer, by RPC.\n");
        out.push_str("# TYPE vaultd_grpc_request_duration_seconds histogram\n");
        for (path, stats) in &rpcs {
            let (service, method) = split_path(path);
            let labels = format!("grpc_service=\"{service}\",grpc_method=\"{method}\"");
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += stats.buckets[i].load(Relaxed);
                let _ = writeln!(
                    out,
                    "vaultd_grpc_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += stats.buckets[BUCKETS.len()].load(Relaxed);
            let _ = writeln!(
                out,
                "vaultd_grpc_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            let sum = stats.sum_nanos.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "vaultd_grpc_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "vaultd_grpc_request_duration_seconds_count{{{labels}}} {cumulative}"
            );
        }
        out.push_str("# HELP vaultd_throttled_requests_total Requests refused by throttling, by request class.\n");
        out.push_str("# TYPE vaultd_throttled_requests_total counter\n");
        for class in RequestClass::ALL {
            let _ = writeln!(
                out,
                "vaultd_throttled_requests_total{{class=\"{}\"}} {}",
                class.name(),
                self.throttled[class_index(class)].load(Relaxed)
            );
        }
        out.push_str("# HELP vaultd_keys KMS keys, by key state.\n");
        out.push_str("# TYPE vaultd_keys gauge\n");
        match &gauges.keys_by_state {
            Some(counts) => {
                for state in KeyState::ALL {
                    let count = counts
                        .iter()
                        .find(|(s, _)| s == state)
                        .map_or(0, |(_, n)| *n);
                    let _ = writeln!(out, "vaultd_keys{{state=\"{state}\"}} {count}");
                }
            }
            None => out.push_str("# the key counts could not be read from storage\n"),
        }
        out.push_str("# HELP vaultd_audit_queue_depth Audit events waiting to be written.\n");
        out.push_str("# TYPE vaultd_audit_queue_depth gauge\n");
        let _ = writeln!(out, "vaultd_audit_queue_depth {}", gauges.audit_queue_depth);
        out.push_str("# HELP vaultd_audit_healthy Whether the audit trail can be written (requests are refused when not).\n");
        out.push_str("# TYPE vaultd_audit_healthy gauge\n");
        let _ = writeln!(
            out,
            "vaultd_audit_healthy {}",
            u8::from(gauges.audit_healthy)
        );
        out.push_str("# HELP vaultd_fleet_lead Whether this vaultd runs the background work (deletions, rotations) of the replicas sharing its store.\n");
        out.push_str("# TYPE vaultd_fleet_lead gauge\n");
        let _ = writeln!(out, "vaultd_fleet_lead {}", u8::from(gauges.fleet_lead));
        out.push_str("# HELP vaultd_uptime_seconds Seconds since this vaultd started.\n");
        out.push_str("# TYPE vaultd_uptime_seconds gauge\n");
        let uptime = self.started.elapsed().as_secs_f64();
        let _ = writeln!(out, "vaultd_uptime_seconds {uptime:.3}");
        out.push_str("# HELP vaultd_build_info The running vaultd's version.\n");
        out.push_str("# TYPE vaultd_build_info gauge\n");
        let _ = writeln!(
            out,
            "vaultd_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}

/// `/vault.v1.KeyManagement/Encrypt` → (`vault.v1.KeyManagement`, `Encrypt`); label-safe.
fn split_path(path: &str) -> (String, String) {
    let clean = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
            .collect::<String>()
    };
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    (clean(service), clean(method))
}

/// Values read when scraped.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// `None` when storage could not be read.
    pub keys_by_state: Option<Vec<(KeyState, u64)>>,
    pub audit_queue_depth: usize,
    pub audit_healthy: bool,
    /// Whether this process holds the fleet's lead (always, with an unshared store).
    pub fleet_lead: bool,
}

/// How many connections the metrics endpoint serves at once.
const MAX_CONNECTIONS: usize = 16;

/// The largest request head the metrics endpoint reads.
const MAX_REQUEST_HEAD: usize = 8192;

/// Serves `GET /metrics` over HTTP/1.1 on `listener` until `shutdown` completes. `scrape` renders
/// the page (it may block briefly: it runs on the blocking pool). One request per connection.
pub async fn serve<F>(listener: TcpListener, scrape: F, shutdown: impl Future<Output = ()> + Send)
where
    F: Fn() -> String + Send + Sync + 'static,
{
    let scrape = Arc::new(scrape);
    // A few connections at a time, and one scrape at a time: the endpoint needs no credentials,
    // so a flood of it must not take more than that.
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let scraping = Arc::new(tokio::sync::Mutex::new(()));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (mut socket, _) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("metrics endpoint: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (scrape, scraping) = (scrape.clone(), scraping.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let answer = tokio::time::timeout(Duration::from_secs(10), async {
                let head = read_head(&mut socket).await?;
                let response = match head.split_whitespace().take(2).collect::<Vec<_>>()[..] {
                    ["GET", "/metrics"] | ["GET", "/metrics/"] => {
                        let _one_at_a_time = scraping.lock().await;
                        let body = tokio::task::spawn_blocking(move || scrape())
                            .await
                            .unwrap_or_else(|_| String::from("# scrape failed\n"));
                        http_response("200 OK", "text/plain; version=0.0.4; charset=utf-8", &body)
                    }
                    ["GET", "/"] => http_response(
                        "200 OK",
                        "text/plain; charset=utf-8",
                        "vaultd metrics: GET /metrics\n",
                    ),
                    [_, _] => http_response("404 Not Found", "text/plain", "not found\n"),
                    _ => http_response("400 Bad Request", "text/plain", "bad request\n"),
                };
                socket.write_all(response.as_bytes()).await?;
                socket.shutdown().await
            })
            .await;
            if let Ok(Err(e)) = answer {
                tracing::debug!("metrics endpoint: {e}");
            }
        });
    }
}

async fn read_head(socket: &mut tokio::net::TcpStream) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() > MAX_REQUEST_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    Ok(String::from_utf8_lossy(&head[..line_end]).into_owned())
}

fn http_response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_rpc_and_code_with_cumulative_buckets() {
        let metrics = Metrics::new();
        let path = "/vault.v1.KeyManagement/Encrypt";
        metrics.record(path, 0, Duration::from_micros(80));
        metrics.record(path, 0, Duration::from_millis(3));
        metrics.record(path, 3, Duration::from_secs(20));
        metrics.record("/made.up/Path", 12, Duration::from_micros(1));
        metrics.record(
            "/vault.v1.KeyManagement/NoSuchThing",
            16,
            Duration::from_micros(1),
        );
        metrics.throttled(RequestClass::Write);
        let page = metrics.render(&Gauges {
            keys_by_state: Some(vec![(KeyState::Enabled, 4), (KeyState::Disabled, 1)]),
            audit_queue_depth: 7,
            audit_healthy: true,
            fleet_lead: true,
        });
        let labels = "grpc_service=\"vault.v1.KeyManagement\",grpc_method=\"Encrypt\"";
        for line in [
            format!("vaultd_grpc_requests_total{{{labels},grpc_code=\"OK\"}} 2"),
            format!("vaultd_grpc_requests_total{{{labels},grpc_code=\"INVALID_ARGUMENT\"}} 1"),
            "vaultd_grpc_requests_total{grpc_service=\"\",grpc_method=\"\",grpc_code=\"UNIMPLEMENTED\"} 1".into(),
            "vaultd_grpc_requests_total{grpc_service=\"\",grpc_method=\"\",grpc_code=\"UNAUTHENTICATED\"} 1".into(),
            format!("vaultd_grpc_request_duration_seconds_bucket{{{labels},le=\"0.00005\"}} 0"),
            format!("vaultd_grpc_request_duration_seconds_bucket{{{labels},le=\"0.0001\"}} 1"),
            format!("vaultd_grpc_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 2"),
            format!("vaultd_grpc_request_duration_seconds_bucket{{{labels},le=\"10\"}} 2"),
            format!("vaultd_grpc_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 3"),
            format!("vaultd_grpc_request_duration_seconds_count{{{labels}}} 3"),
            "vaultd_throttled_requests_total{class=\"write\"} 1".into(),
            "vaultd_keys{state=\"Enabled\"} 4".into(),
            "vaultd_keys{state=\"PendingDeletion\"} 0".into(),
            "vaultd_audit_queue_depth 7".into(),
        ] {
            assert!(page.lines().any(|l| l == line), "missing {line:?} in\n{page}");
        }
        assert!(
            !page.contains("made.up") && !page.contains("NoSuchThing"),
            "{page}"
        );
        // RPCs never called are left out.
        assert!(!page.contains("grpc_method=\"Decrypt\""), "{page}");
    }
}
