//! The typed client's retry rule: UNAVAILABLE and ThrottlingException are retried with backoff,
//! client errors never; with several endpoints, UNAVAILABLE moves to the next.

use std::time::Duration;

use tonic::Code;
use vaultd::{
    client::{Client, ClientConfig, RetryPolicy},
    pb,
};

use crate::common::*;

fn quick_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn unavailable_is_retried_then_reported() {
    // A port nobody listens on: every attempt is UNAVAILABLE.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ClientConfig::new(format!("http://127.0.0.1:{port}"), root_credentials());
    config.retry = quick_retries(3);
    let client = Client::connect(config).unwrap();
    let err = client
        .list_keys(pb::ListKeysRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert_eq!(err.attempts, 4);
}

#[tokio::test]
async fn a_retry_reaches_a_server_that_came_back() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let (dir, data, root, clock) = server.stop().await;
    let mut config = ClientConfig::new(format!("http://{addr}"), root_credentials());
    config.retry = RetryPolicy {
        max_retries: 8,
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
    };
    config.clock = clock.clone();
    let client = Client::connect(config).unwrap();
    // The server comes back on the same address while the client is backing off.
    let restart = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        TestServer::start_on(addr, &data, root, clock).await
    });
    let listed = client.list_keys(pb::ListKeysRequest::default()).await;
    let server = restart.await.unwrap();
    assert!(listed.is_ok(), "{listed:?}");
    drop((server, dir));
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn several_endpoints_fail_over_on_unavailable_and_stay_with_the_one_that_answered() {
    let a = TestServer::start().await;
    // Another vault, so that its answers show where a call went.
    let b = TestServer::start().await;
    let mut config = ClientConfig::new(
        format!(
            "http://127.0.0.1:{}, {}, {}",
            closed_port(),
            a.endpoint(),
            b.endpoint()
        ),
        root_credentials(),
    );
    // Moving on to the next endpoint is not a retry: none are allowed here.
    config.retry = quick_retries(0);
    config.clock = a.clock.clone();
    let client = Client::connect(config).unwrap();

    let key = client
        .create_key(pb::CreateKeyRequest::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let in_a = a
        .client()
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.key_id.clone(),
        })
        .await;
    assert!(in_a.is_ok(), "the first live endpoint served it: {in_a:?}");
    let listed = client.list_keys(Default::default()).await.unwrap();
    assert_eq!(
        listed.keys.len(),
        1,
        "it stays with the endpoint that answered"
    );

    let _ = a.stop().await;
    let listed = client.list_keys(Default::default()).await.unwrap();
    assert!(
        listed.keys.is_empty(),
        "the next endpoint (the other vault) answered"
    );

    let _ = b.stop().await;
    let err = client.list_keys(Default::default()).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert_eq!(err.attempts, 3, "each endpoint once");
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let server = TestServer::start().await;
    let mut config = ClientConfig::new(server.endpoint(), root_credentials());
    config.retry = quick_retries(5);
    config.clock = server.clock.clone();
    let client = Client::connect(config).unwrap();
    let err = client
        .describe_key(pb::DescribeKeyRequest {
            key_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!((err.code, err.attempts), (Code::NotFound, 1));
    let mut config = ClientConfig::new(
        server.endpoint(),
        vaultd::client::StaticCredentials::new(ROOT_ACCESS_KEY_ID, "wrong", None),
    );
    config.retry = quick_retries(5);
    let err = Client::connect(config)
        .unwrap()
        .list_keys(Default::default())
        .await
        .unwrap_err();
    assert_eq!((err.code, err.attempts), (Code::Unauthenticated, 1));
}

#[test]
fn endpoints_other_than_http_https_and_unix_are_refused() {
    for endpoint in ["127.0.0.1:7730", "grpc://x", "ftp://127.0.0.1:7730"] {
        let err = Client::connect(ClientConfig::new(endpoint, root_credentials())).unwrap_err();
        assert_eq!(err.code, Code::InvalidArgument, "{endpoint}");
        assert!(err.message.contains("https://"), "{err}");
    }
    // A CA or client certificate for a plaintext endpoint would promise what it cannot keep.
    let mut config = ClientConfig::new("http://127.0.0.1:7730", root_credentials());
    config.tls.ca_pem = Some(b"-----BEGIN CERTIFICATE-----".to_vec());
    let err = Client::connect(config).unwrap_err();
    assert!(err.message.contains("not https://"), "{err}");
    // Every endpoint of a list is checked; an empty list is no endpoint.
    let err = Client::connect(ClientConfig::new(
        "http://127.0.0.1:7730,ftp://x",
        root_credentials(),
    ))
    .unwrap_err();
    assert!(err.message.contains("ftp://x"), "{err}");
    let err = Client::connect(ClientConfig::new(" , ", root_credentials())).unwrap_err();
    assert!(err.message.contains("no endpoint"), "{err}");
}
