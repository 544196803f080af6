//! Throttling as a client sees it: refusals with ThrottlingException, recovery through the
//! client's backoff, no retry of client errors, buckets per access key and class (sessions count
//! against the key that minted them), and the daemon's --throttle setting.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tonic::Code;
use vaultd::{
    auth::throttle::ThrottleConfig,
    client::{Client, ClientConfig, ClientError, RetryPolicy, StaticCredentials},
    clock::Clock,
    pb,
};

use crate::common::*;

fn random(
    client: &Client,
) -> impl Future<Output = Result<pb::GenerateRandomResponse, ClientError>> {
    client.generate_random(pb::GenerateRandomRequest {
        number_of_bytes: Some(8),
    })
}

fn list(client: &Client) -> impl Future<Output = Result<pb::ListKeysResponse, ClientError>> {
    client.list_keys(pb::ListKeysRequest::default())
}

#[track_caller]
fn assert_throttled<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ClientError {
    assert_error(result, Code::ResourceExhausted, "ThrottlingException")
}

/// A server throttling symmetric requests at 2/s (burst 2), other classes at the defaults.
async fn throttled_server() -> TestServer {
    TestServer::start_throttled(ThrottleConfig::parse("symmetric=2").unwrap()).await
}

/// A client dated by the server's manual clock that retries like a real one, quickly.
fn retrying_client(server: &TestServer, credentials: StaticCredentials) -> Client {
    let mut config = ClientConfig::new(server.endpoint(), credentials);
    config.clock = server.clock.clone() as Arc<dyn Clock>;
    config.retry = RetryPolicy {
        max_retries: 10,
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
    };
    Client::connect(config).unwrap()
}

/// The events of `user_name`, oldest first (one page: tests make few requests).
async fn events_of(server: &TestServer, user_name: &str) -> Vec<pb::Event> {
    let response = server
        .client()
        .lookup_events(pb::LookupEventsRequest {
            lookup_attributes: vec![pb::LookupAttribute {
                attribute_key: pb::LookupAttributeKey::Username as i32,
                attribute_value: user_name.into(),
            }],
            max_results: Some(1_000),
            ascending: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(response.next_token, "");
    response.events
}

/// (event name, error code) of each event.
fn outcomes(events: &[pb::Event]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|e| (e.event_name.as_str(), e.error_code.as_str()))
        .collect()
}

#[tokio::test]
async fn a_client_that_does_not_retry_is_refused_with_throttling_exception() {
    let server = throttled_server().await;
    let creds = app_user(&server, "app", Some(&allow(&["kms:GenerateRandom"], "*"))).await;
    let app = server.client_with(creds);
    // The burst is one second of the rate; the clock does not move, so nothing refills.
    random(&app).await.unwrap();
    random(&app).await.unwrap();
    let err = assert_throttled(random(&app).await);
    assert_eq!(err.attempts, 1);
    assert!(err.message.contains("GenerateRandom"), "{err}");
    assert_throttled(random(&app).await);

    // Half a second at 2/s is one token; a second refills the burst, and no more.
    server.clock.advance(Duration::from_millis(500));
    random(&app).await.unwrap();
    assert_throttled(random(&app).await);
    server.clock.advance(Duration::from_secs(60));
    random(&app).await.unwrap();
    random(&app).await.unwrap();
    assert_throttled(random(&app).await);

    // Each refusal was audited as such.
    let events = events_of(&server, "app").await;
    let ok = ("GenerateRandom", "");
    let throttled = ("GenerateRandom", "ThrottlingException");
    assert_eq!(
        outcomes(&events),
        [
            ok, ok, throttled, throttled, ok, throttled, ok, ok, throttled
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retrying_client_gets_through_by_backing_off() {
    let server = throttled_server().await;
    let creds = app_user(&server, "app", Some(&allow(&["kms:GenerateRandom"], "*"))).await;
    let app = retrying_client(&server, creds);

    // Time passes 20 times faster than real time while the client works.
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn({
        let (clock, stop) = (server.clock.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                clock.advance(Duration::from_millis(100));
            }
        }
    });
    for i in 0..10 {
        random(&app)
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
    }
    stop.store(true, Ordering::SeqCst);
    ticker.await.unwrap();

    // The trail shows the refused attempts that were retried.
    let events = events_of(&server, "app").await;
    let count = |code: &str| events.iter().filter(|e| e.error_code == code).count();
    assert_eq!(count(""), 10);
    assert!(count("ThrottlingException") >= 1, "{:?}", outcomes(&events));
    assert_eq!(count("") + count("ThrottlingException"), events.len());
    assert!(events.iter().all(|e| e.event_name == "GenerateRandom"));
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let server = throttled_server().await;
    let creds = app_user(
        &server,
        "app",
        Some(&allow(&["kms:Decrypt", "kms:DescribeKey"], "*")),
    )
    .await;
    let app = retrying_client(&server, creds);

    let err = assert_error(
        decrypt(&app, b"not a ciphertext at all, just garbage", &[]).await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    assert_eq!(err.attempts, 1);
    let err = assert_error(
        app.create_key(pb::CreateKeyRequest::default()).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_eq!(err.attempts, 1);
    let err = assert_error(
        app.describe_key(pb::DescribeKeyRequest {
            key_id: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
        })
        .await,
        Code::NotFound,
        "NotFoundException",
    );
    assert_eq!(err.attempts, 1);
    // A bad signature is a client error too.
    let forged = StaticCredentials::new(ROOT_ACCESS_KEY_ID, "not the root secret", None);
    let err = assert_error(
        retrying_client(&server, forged)
            .generate_random(pb::GenerateRandomRequest::default())
            .await,
        Code::Unauthenticated,
        "InvalidSignatureException",
    );
    assert_eq!(err.attempts, 1);

    // One event per request: none was sent twice.
    let events = events_of(&server, "app").await;
    assert_eq!(
        outcomes(&events),
        [
            ("Decrypt", "InvalidCiphertextException"),
            ("CreateKey", "AccessDeniedException"),
            ("DescribeKey", "NotFoundException"),
        ]
    );
}

#[tokio::test]
async fn buckets_are_per_access_key_and_class_and_sessions_share_their_minting_key() {
    let server = throttled_server().await;
    let policy = allow(&["kms:GenerateRandom", "kms:ListKeys"], "*");
    let alice_creds = app_user(&server, "alice", Some(&policy)).await;
    let alice = server.client_with(alice_creds.clone());
    let bob = server.client_with(app_user(&server, "bob", Some(&policy)).await);

    random(&alice).await.unwrap();
    random(&alice).await.unwrap();
    assert_throttled(random(&alice).await);
    // Another user's bucket is untouched, and so are alice's other classes.
    random(&bob).await.unwrap();
    random(&bob).await.unwrap();
    assert_throttled(random(&bob).await);
    for _ in 0..5 {
        list(&alice).await.unwrap();
    }
    // Root is not throttled by them either.
    random(&server.client()).await.unwrap();

    // A second access key of alice's has its own bucket (as the design says: per access key).
    let second = server
        .client()
        .create_access_key(pb::CreateAccessKeyRequest {
            user_name: "alice".into(),
        })
        .await
        .unwrap()
        .access_key
        .unwrap();
    let alice2 = server.client_with(StaticCredentials::new(
        &second.access_key_id,
        &second.secret_access_key,
        None,
    ));
    random(&alice2).await.unwrap();

    // A session minted by alice's exhausted key is throttled too: minting sessions does not
    // escape the bucket.
    let session = alice
        .get_session_token(pb::GetSessionTokenRequest::default())
        .await
        .unwrap()
        .credentials
        .unwrap();
    assert!(session.access_key_id.starts_with("ASIA"));
    let session = server.client_with(StaticCredentials::new(
        &session.access_key_id,
        &session.secret_access_key,
        Some(&session.session_token),
    ));
    assert_throttled(random(&session).await);
    // Its other classes are not.
    list(&session).await.unwrap();

    // And the other way round: once refilled, what the session takes, the key no longer has.
    server.clock.advance(Duration::from_secs(1));
    random(&session).await.unwrap();
    random(&session).await.unwrap();
    assert_throttled(random(&alice).await);
    assert_throttled(random(&session).await);
    // A second session of the same key shares the same bucket.
    let another = alice
        .get_session_token(pb::GetSessionTokenRequest::default())
        .await
        .unwrap()
        .credentials
        .unwrap();
    let another = server.client_with(StaticCredentials::new(
        &another.access_key_id,
        &another.secret_access_key,
        Some(&another.session_token),
    ));
    assert_throttled(random(&another).await);
}

#[test]
fn the_daemon_refuses_a_bad_throttle_setting() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    for (args, env) in [
        (
            vec!["--data-dir", data, "--dev", "--throttle", "bogus"],
            vec![],
        ),
        (
            vec!["--data-dir", data, "--dev"],
            vec![("VAULTD_THROTTLE", "bogus")],
        ),
        (
            vec!["--data-dir", data, "--dev", "--throttle", "write=0"],
            vec![],
        ),
    ] {
        let err = match Daemon::start(&args, &env) {
            Ok(_) => panic!("vaultd started with {args:?} {env:?}"),
            Err(err) => err,
        };
        assert!(err.contains("exited (exit status: 1)"), "{err}");
        assert!(err.contains("--throttle"), "{err}");
        let bad = if args.contains(&"write=0") {
            "\"0\""
        } else {
            "bogus"
        };
        assert!(err.contains(bad), "{err}");
    }
}

/// A client of a daemon that does not retry, so that throttling shows.
fn no_retry_client(daemon: &Daemon) -> Client {
    let mut config = ClientConfig::new(daemon.endpoint(), root_credentials());
    config.retry.max_retries = 0;
    Client::connect(config).unwrap()
}

/// Sends `n` write-class requests at once (DeleteAlias of an alias that does not exist: cheap,
/// and refused with NotFoundException when served); returns how many were throttled.
async fn write_burst(client: &Client, n: usize) -> usize {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        requests.spawn(async move {
            client
                .delete_alias(pb::DeleteAliasRequest {
                    alias_name: "alias/does-not-exist".into(),
                })
                .await
        });
    }
    let mut throttled = 0;
    while let Some(result) = requests.join_next().await {
        let err = result.unwrap().expect_err("the alias does not exist");
        match err.reason() {
            "ThrottlingException" => throttled += 1,
            "NotFoundException" => {}
            _ => panic!("{err}"),
        }
    }
    throttled
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_throttles_as_configured_and_not_in_dev_mode_by_default() {
    let fixed = [
        ("VAULTD_ROOT_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
        ("VAULTD_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET),
    ];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let listening_line = |daemon: &Daemon| {
        daemon
            .log()
            .lines()
            .find(|l| l.contains("vaultd listening on"))
            .unwrap()
            .to_string()
    };

    // --dev alone: no throttling, and the start-up line says so. A burst of 300 write-class
    // requests (the default would allow 100 at once) goes through.
    let mut daemon = Daemon::start(&["--data-dir", data, "--dev"], &fixed).unwrap();
    let line = listening_line(&daemon);
    assert!(line.contains("throttle=off"), "{line}");
    assert_eq!(write_burst(&no_retry_client(&daemon), 300).await, 0);
    assert!(daemon.signal("TERM").success());

    // An explicit setting wins over dev mode; unnamed classes keep the defaults. Real time
    // refills slowly enough that quick bursts are throttled.
    let mut daemon = Daemon::start(
        &["--data-dir", data, "--dev", "--throttle", "symmetric=2"],
        &fixed,
    )
    .unwrap();
    let line = listening_line(&daemon);
    assert!(
        line.contains("throttle=symmetric=2,asymmetric=1000,read=1000,write=100"),
        "{line}"
    );
    let root = no_retry_client(&daemon);
    assert!(write_burst(&root, 300).await >= 100);
    let mut throttled = 0;
    for _ in 0..20 {
        match random(&root).await {
            Ok(_) => {}
            Err(err) => {
                assert_eq!(
                    (err.code, err.reason()),
                    (Code::ResourceExhausted, "ThrottlingException"),
                    "{err}"
                );
                throttled += 1;
            }
        }
    }
    assert!(throttled >= 10, "{throttled} of 20 throttled");
    assert!(daemon.signal("TERM").success());
}
