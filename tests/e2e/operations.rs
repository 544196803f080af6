//! Running vaultd for real: Prometheus metrics, structured logs with request ids, and a graceful
//! stop under load, against the real binary.

use std::{
    io::{Read, Write},
    net::SocketAddr,
    time::{Duration, Instant},
};

use vaultd::pb;

use crate::common::*;

/// The metrics address vaultd announced.
fn metrics_addr(daemon: &Daemon) -> SocketAddr {
    let log = daemon.log();
    log.split("metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no metrics address in\n{log}"))
}

/// GET `path` over plain HTTP/1.1; returns the status line and the body.
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: vaultd\r\nAccept: */*\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metrics_scrape_shows_a_request_just_made() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--dev",
        "--metrics-listen",
        "127.0.0.1:0",
    ];
    let daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    let addr = metrics_addr(&daemon);
    let (status, before) = http_get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        before.contains("vaultd_keys{state=\"Enabled\"} 0"),
        "{before}"
    );
    assert!(!before.contains("grpc_method=\"CreateKey\""), "{before}");

    let client = daemon.client(root_credentials());
    create_key(&client).await;
    assert_error(
        client
            .describe_key(pb::DescribeKeyRequest {
                key_id: "alias/none".into(),
            })
            .await,
        tonic::Code::NotFound,
        "NotFoundException",
    );
    let (_, page) = http_get(addr, "/metrics");
    let service = "grpc_service=\"vault.v1.KeyManagement\"";
    for line in [
        format!(
            "vaultd_grpc_requests_total{{{service},grpc_method=\"CreateKey\",grpc_code=\"OK\"}} 1"
        ),
        format!(
            "vaultd_grpc_requests_total{{{service},grpc_method=\"DescribeKey\",grpc_code=\"NOT_FOUND\"}} 1"
        ),
        format!(
            "vaultd_grpc_request_duration_seconds_count{{{service},grpc_method=\"CreateKey\"}} 1"
        ),
        format!(
            "vaultd_grpc_request_duration_seconds_bucket{{{service},grpc_method=\"CreateKey\",le=\"+Inf\"}} 1"
        ),
        "vaultd_keys{state=\"Enabled\"} 1".to_string(),
        "vaultd_audit_healthy 1".to_string(),
    ] {
        assert!(
            page.lines().any(|l| l == line),
            "missing {line:?} in\n{page}"
        );
    }
    assert!(page.contains("# TYPE vaultd_grpc_request_duration_seconds histogram"));
    assert_eq!(http_get(addr, "/other").0, "HTTP/1.1 404 Not Found");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_each_requests_id_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--dev",
        "--log-format",
        "json",
        "--log",
        "trace",
    ];
    let daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    let client = daemon.client(root_credentials());
    let key = create_key(&client).await;
    let blob = encrypt(&client, &key, b"needle-plaintext-4711", &[("tenant", "a")]).await;
    assert!(decrypt(&client, &blob, &[("tenant", "b")]).await.is_err());
    client
        .put_parameter(pb::PutParameterRequest {
            name: "/needle".into(),
            value: "needle-parameter-4711".into(),
            r#type: pb::ParameterType::SecureString as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .create_secret(pb::CreateSecretRequest {
            name: "needle".into(),
            secret_string: Some("needle-secret-4711".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let events = client
        .lookup_events(pb::LookupEventsRequest::default())
        .await
        .unwrap()
        .events;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = daemon.log();
    let mut served = Vec::new();
    for line in log.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if entry["message"] == "request served" {
            let id = entry["span"]["request_id"].as_str().expect("a request id");
            served.push(id.to_string());
        }
    }
    assert!(events.len() >= 5, "{events:?}");
    for event in &events {
        assert!(
            served.contains(&event.event_id),
            "event {} not in the log:\n{log}",
            event.event_id
        );
    }
    for needle in [
        "needle-plaintext-4711",
        "needle-parameter-4711",
        "needle-secret-4711",
        ROOT_SECRET,
    ] {
        assert!(!log.contains(needle), "{needle} in the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_finishes_the_requests_in_flight_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--data-dir", data.to_str().unwrap(), "--dev"];
    let mut daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    let client = daemon.client(root_credentials());
    // RSA-4096 key generation takes long enough for the signal to find these in flight.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let result = client
                    .create_key(pb::CreateKeyRequest {
                        key_spec: pb::KeySpec::Rsa4096 as i32,
                        key_usage: pb::KeyUsage::SignVerify as i32,
                        ..Default::default()
                    })
                    .await;
                (result, Instant::now())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let signalled = Instant::now();
    let pid = daemon.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut ids = Vec::new();
    let mut after_signal = 0;
    for call in calls {
        let (result, done) = call.await.unwrap();
        let meta = result
            .expect("a request in flight is answered")
            .key_metadata
            .unwrap();
        ids.push(meta.key_id);
        after_signal += usize::from(done > signalled);
    }
    assert!(
        after_signal > 0,
        "no request was still in flight at SIGTERM"
    );
    assert!(daemon.child.wait().unwrap().success(), "{}", daemon.log());
    assert!(
        daemon.log().contains("SIGTERM: draining"),
        "{}",
        daemon.log()
    );

    // What was answered is there after a restart, audit events included.
    let daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    let client = daemon.client(root_credentials());
    for id in &ids {
        client
            .describe_key(pb::DescribeKeyRequest { key_id: id.clone() })
            .await
            .unwrap();
    }
    let created = client
        .lookup_events(pb::LookupEventsRequest {
            lookup_attributes: vec![pb::LookupAttribute {
                attribute_key: pb::LookupAttributeKey::EventName as i32,
                attribute_value: "CreateKey".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert_eq!(created.len(), 4, "{created:?}");
}
