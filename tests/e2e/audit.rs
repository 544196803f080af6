//! The audit trail as a user sees it: one event per authenticated request (allowed or denied),
//! LookupEvents filters and paging, the hash chain (and tampering with the database detected),
//! fail-closed admission when the trail cannot be written, and no secrets in events or logs.

use std::{
    collections::HashSet,
    time::{Duration, Instant, SystemTime},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use tonic::Code;
use vaultd::{
    audit::{BrokenLink, ChainHead, ChainLink, verify},
    client::{Client, ClientConfig, StaticCredentials},
    clock::{Clock, ManualClock, format_basic_iso8601},
    pb,
};

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

fn attr(key: pb::LookupAttributeKey, value: &str) -> pb::LookupAttribute {
    pb::LookupAttribute {
        attribute_key: key as i32,
        attribute_value: value.into(),
    }
}

fn ts(t: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

/// One page of events.
async fn page(client: &Client, request: pb::LookupEventsRequest) -> pb::LookupEventsResponse {
    client.lookup_events(request).await.unwrap()
}

/// The sequences of one (unpaged) lookup.
async fn sequences(client: &Client, request: pb::LookupEventsRequest) -> Vec<u64> {
    let response = page(client, request).await;
    assert_eq!(response.next_token, "", "expected a single page");
    response.events.iter().map(|e| e.sequence).collect()
}

/// Every event, following next tokens, `max_results` per page; also returns the page sizes.
async fn paged(
    client: &Client,
    request: pb::LookupEventsRequest,
    max_results: i32,
) -> (Vec<pb::Event>, Vec<usize>) {
    let mut events = Vec::new();
    let mut sizes = Vec::new();
    let mut token = String::new();
    loop {
        let response = page(
            client,
            pb::LookupEventsRequest {
                max_results: Some(max_results),
                next_token: token.clone(),
                ..request.clone()
            },
        )
        .await;
        sizes.push(response.events.len());
        events.extend(response.events);
        if response.next_token.is_empty() {
            return (events, sizes);
        }
        assert!(sizes.len() < 1_000, "paging does not end");
        token = response.next_token;
    }
}

/// The whole trail as stored now, oldest first.
async fn all_events(client: &Client) -> Vec<pb::Event> {
    paged(
        client,
        pb::LookupEventsRequest {
            ascending: true,
            ..Default::default()
        },
        1_000,
    )
    .await
    .0
}

/// Verifies events (oldest first) from event 1, as `vaultctl audit verify` does.
fn verify_events(events: &[pb::Event]) -> Result<ChainHead, BrokenLink> {
    let hashes: Vec<Vec<u8>> = events
        .iter()
        .map(|e| hex::decode(&e.hash).expect("hex hash"))
        .collect();
    verify(
        events.iter().zip(&hashes).map(|(e, hash)| ChainLink {
            sequence: e.sequence,
            body: &e.cloud_trail_event,
            hash,
        }),
        1,
        [0; 32],
    )
}

fn body(event: &pb::Event) -> serde_json::Value {
    serde_json::from_str(&event.cloud_trail_event).expect("the body is JSON")
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn every_authenticated_request_leaves_one_event_and_lookups_filter_them() {
    use pb::LookupAttributeKey as K;
    let server = TestServer::start().await;
    let root = server.client();

    // t0: root creates a key and encrypts (events 1, 2).
    let t0 = server.clock.now();
    let key = root
        .create_key(pb::CreateKeyRequest::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let (key_id, key_arn) = (key.key_id, key.arn);
    let blob = encrypt(&root, &key_id, b"audited", &[]).await;

    // t1: root creates an app user allowed to encrypt only (events 3, 4, 5).
    server.clock.advance(MINUTE);
    let t1 = server.clock.now();
    let app = app_user(&server, "app", Some(&allow(&["kms:Encrypt"], &key_arn))).await;

    // t2: the app encrypts (allowed, event 6) and decrypts (denied, event 7).
    server.clock.advance(MINUTE);
    let t2 = server.clock.now();
    let app_client = server.client_with(app.clone());
    encrypt(&app_client, &key_id, b"app data", &[]).await;
    assert_error(
        decrypt(&app_client, &blob, &[]).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );

    // Requests that are not authenticated leave no event.
    let wrong_secret = StaticCredentials::new(
        &app.access_key_id,
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGSECRET",
        None,
    );
    assert_error(
        server
            .client_with(wrong_secret)
            .generate_random(pb::GenerateRandomRequest {
                number_of_bytes: Some(8),
            })
            .await,
        Code::Unauthenticated,
        "InvalidSignatureException",
    );
    let unknown = StaticCredentials::new("AKIAUNKNOWNKEY234567", ROOT_SECRET, None);
    assert_error(
        server
            .client_with(unknown)
            .encrypt(pb::EncryptRequest {
                key_id: key_id.clone(),
                plaintext: b"x".to_vec(),
                ..Default::default()
            })
            .await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );

    // t3: the lookups (each of which is audited too, from here on).
    server.clock.advance(MINUTE);
    let t3 = server.clock.now();
    let events = all_events(&root).await;
    let seen: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.sequence,
                e.event_name.as_str(),
                e.event_source.as_str(),
                e.username.as_str(),
                e.access_key_id.as_str(),
                e.error_code.as_str(),
            )
        })
        .collect();
    let (kms, iam) = ("kms.amazonaws.com", "iam.amazonaws.com");
    let (r, a) = (ROOT_ACCESS_KEY_ID, app.access_key_id.as_str());
    assert_eq!(
        seen,
        [
            (1, "CreateKey", kms, "root", r, ""),
            (2, "Encrypt", kms, "root", r, ""),
            (3, "CreateUser", iam, "root", r, ""),
            (4, "PutUserPolicy", iam, "root", r, ""),
            (5, "CreateAccessKey", iam, "root", r, ""),
            (6, "Encrypt", kms, "app", a, ""),
            (7, "Decrypt", kms, "app", a, "AccessDeniedException"),
        ]
    );
    // The key's ARN is among the resources of the requests on it, allowed or denied.
    for i in [1, 5, 6] {
        assert!(
            events[i]
                .resources
                .iter()
                .any(|r| r.resource_name == key_arn && r.resource_type == "AWS::KMS::Key"),
            "{:?}",
            events[i]
        );
    }
    // Times follow the server clock; ids are request ids, distinct.
    for (i, t) in [(0, t0), (1, t0), (2, t1), (4, t1), (5, t2), (6, t2)] {
        let time = events[i].event_time.unwrap().seconds;
        assert!((secs(t)..=secs(t) + 1).contains(&time), "event {i}");
    }
    let ids: HashSet<_> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), 7);
    assert!(!ids.contains(""));
    // The body says the same as the fields.
    for event in &events {
        let body = body(event);
        assert_eq!(body["sequence"], event.sequence);
        // The body's time is the event's, to the millisecond.
        let time = event.event_time.unwrap();
        assert_eq!(time.nanos % 1_000_000, 0);
        let millis = format!(".{:03}Z", time.nanos / 1_000_000);
        assert!(body["eventTime"].as_str().unwrap().ends_with(&millis));
        assert_eq!(body["eventId"], event.event_id.as_str());
        assert_eq!(body["eventName"], event.event_name.as_str());
        assert_eq!(body["eventSource"], event.event_source.as_str());
        assert_eq!(body["userIdentity"]["userName"], event.username.as_str());
        assert_eq!(
            body["userIdentity"]["accessKeyId"],
            event.access_key_id.as_str()
        );
        let names: Vec<_> = event.resources.iter().map(|r| &r.resource_name).collect();
        assert_eq!(body["resources"], serde_json::json!(names));
        match event.error_code.as_str() {
            "" => assert!(body["errorCode"].is_null()),
            code => assert_eq!(body["errorCode"], code),
        }
    }
    assert!(
        body(&events[5])["userIdentity"]["arn"]
            .as_str()
            .unwrap()
            .ends_with(":user/app")
    );

    // Filters (newest first by default), ANDed.
    let by = |attrs: Vec<pb::LookupAttribute>| pb::LookupEventsRequest {
        lookup_attributes: attrs,
        ..Default::default()
    };
    assert_eq!(
        sequences(&root, by(vec![attr(K::Username, "app")])).await,
        [7, 6]
    );
    assert_eq!(
        sequences(&root, by(vec![attr(K::AccessKeyId, &app.access_key_id)])).await,
        [7, 6]
    );
    assert_eq!(
        sequences(&root, by(vec![attr(K::ResourceName, &key_arn)])).await,
        [7, 6, 2]
    );
    assert_eq!(
        sequences(&root, by(vec![attr(K::EventName, "Encrypt")])).await,
        [6, 2]
    );
    assert_eq!(
        sequences(&root, by(vec![attr(K::EventName, "kms:Encrypt")])).await,
        [6, 2]
    );
    assert_eq!(
        sequences(
            &root,
            by(vec![
                attr(K::EventName, "Encrypt"),
                attr(K::Username, "root")
            ])
        )
        .await,
        [2]
    );
    assert_eq!(
        sequences(
            &root,
            by(vec![
                attr(K::ResourceName, &key_arn),
                attr(K::Username, "app")
            ])
        )
        .await,
        [7, 6]
    );
    assert_eq!(
        sequences(&root, by(vec![attr(K::Username, "nobody")])).await,
        Vec::<u64>::new()
    );
    // Time ranges (inclusive).
    let between = |start: SystemTime, end: SystemTime| pb::LookupEventsRequest {
        start_time: Some(ts(start)),
        end_time: Some(ts(end)),
        ..Default::default()
    };
    let second = Duration::from_secs(1);
    assert_eq!(sequences(&root, between(t0, t0 + second)).await, [2, 1]);
    assert_eq!(sequences(&root, between(t1, t1 + second)).await, [5, 4, 3]);
    assert_eq!(sequences(&root, between(t2, t3 - second)).await, [7, 6]);
    assert_eq!(sequences(&root, between(t0, t3 - second)).await.len(), 7);
    let from_t2 = pb::LookupEventsRequest {
        start_time: Some(ts(t2)),
        ascending: true,
        ..Default::default()
    };
    let later = sequences(&root, from_t2).await;
    assert_eq!(later[..2], [6, 7]);
    assert!(later.len() > 2, "the lookups at t3 are recorded too");

    // Paging: every event exactly once, in order, both ways.
    let before_t3 = pb::LookupEventsRequest {
        end_time: Some(ts(t3 - second)),
        ..Default::default()
    };
    let (newest_first, sizes) = paged(&root, before_t3.clone(), 3).await;
    assert_eq!(sizes, [3, 3, 1]);
    let newest_first: Vec<_> = newest_first.iter().map(|e| e.sequence).collect();
    assert_eq!(newest_first, [7, 6, 5, 4, 3, 2, 1]);
    let ascending = pb::LookupEventsRequest {
        ascending: true,
        ..before_t3.clone()
    };
    let (oldest_first, sizes) = paged(&root, ascending.clone(), 3).await;
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(oldest_first, events);
    // A last page that is exactly full has no next token.
    let (_, sizes) = paged(&root, ascending, 7).await;
    assert_eq!(sizes, [7]);
    // Paging a filtered lookup while events keep arriving (each page is one, from root): every
    // root event up to the first page's newest, exactly once, newest first.
    let (filtered, sizes) = paged(&root, by(vec![attr(K::Username, "root")]), 4).await;
    assert!(
        sizes.len() > 2 && sizes.iter().all(|&n| n <= 4),
        "{sizes:?}"
    );
    let filtered: Vec<_> = filtered.iter().map(|e| e.sequence).collect();
    let expected: Vec<_> = (1..=filtered[0])
        .rev()
        .filter(|s| ![6, 7].contains(s))
        .collect();
    assert_eq!(filtered, expected);
    // Out-of-range page sizes are refused.
    for bad in [0, 1_001] {
        assert_error(
            root.lookup_events(pb::LookupEventsRequest {
                max_results: Some(bad),
                ..Default::default()
            })
            .await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }

    // So are a token that is not one and an attribute that is not named.
    for request in [
        pb::LookupEventsRequest {
            next_token: "not a token".into(),
            ..Default::default()
        },
        by(vec![attr(K::Unspecified, "root")]),
    ] {
        assert_error(
            root.lookup_events(request).await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }

    // Every lookup was audited too, and the whole trail verifies.
    let events = all_events(&root).await;
    let lookups = events
        .iter()
        .filter(|e| e.event_name == "LookupEvents")
        .count();
    assert!(lookups >= 20, "{lookups}");
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e.event_name == "LookupEvents" && !e.error_code.is_empty())
        .map(|e| e.error_code.as_str())
        .collect();
    assert_eq!(refused, ["ValidationException"; 4]);
    let head = verify_events(&events).unwrap();
    assert_eq!(head.events, events.len() as u64);
}

/// Creates a key, makes `n - 1` more requests and returns the trail (n events, verified).
async fn server_with_events(n: u64) -> (TestServer, Vec<pb::Event>) {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    for i in 1..n {
        encrypt(&root, &key, format!("event {i}").as_bytes(), &[]).await;
    }
    let events = all_events(&root).await;
    assert_eq!(events.len() as u64, n);
    let head = verify_events(&events).unwrap();
    assert_eq!((head.events, head.last_sequence), (n, n));
    assert_eq!(hex::encode(head.last_hash), events.last().unwrap().hash);
    (server, events)
}

/// A second connection to the running server's database.
fn open_db(server: &TestServer) -> rusqlite::Connection {
    let conn =
        rusqlite::Connection::open(server.data_dir.join(vaultd::vault::DATABASE_FILE)).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

#[tokio::test]
async fn an_intact_trail_verifies_and_an_edited_event_is_found() {
    let (server, _) = server_with_events(6).await;
    let db = open_db(&server);
    let changed = db
        .execute(
            "UPDATE audit_events SET body = replace(body, '\"userName\":\"root\"', \
             '\"userName\":\"mallory\"') WHERE sequence = 3",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let events = all_events(&server.client()).await;
    assert!(events[2].cloud_trail_event.contains("mallory"));
    let broken = verify_events(&events).unwrap_err();
    assert_eq!(broken.sequence, 3, "{broken}");
    assert!(broken.reason.contains("altered"), "{broken}");
    // The events before the edit still verify on their own.
    assert_eq!(verify_events(&events[..2]).unwrap().events, 2);
}

#[tokio::test]
async fn a_deleted_event_is_found() {
    let (server, _) = server_with_events(6).await;
    let db = open_db(&server);
    db.execute("DELETE FROM audit_event_resources WHERE sequence = 3", [])
        .unwrap();
    assert_eq!(
        db.execute("DELETE FROM audit_events WHERE sequence = 3", [])
            .unwrap(),
        1
    );
    let events = all_events(&server.client()).await;
    assert_eq!(events[2].sequence, 4);
    let broken = verify_events(&events).unwrap_err();
    assert_eq!(broken.sequence, 4, "{broken}");
    assert!(broken.reason.contains("event 3 belongs"), "{broken}");
}

#[tokio::test]
async fn swapped_events_are_found() {
    let (server, _) = server_with_events(6).await;
    let mut db = open_db(&server);
    // Immediate: the write lock up front (waiting out the audit writer), not an upgrade of a
    // read snapshot that a concurrent audit write makes stale ("database is locked" at once).
    let tx = db
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let row = |sequence: i64| -> (String, Vec<u8>) {
        tx.query_row(
            "SELECT body, hash FROM audit_events WHERE sequence = ?1",
            [sequence],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (three, four) = (row(3), row(4));
    for (sequence, (body, hash)) in [(3, four), (4, three)] {
        tx.execute(
            "UPDATE audit_events SET body = ?1, hash = ?2 WHERE sequence = ?3",
            rusqlite::params![body, hash, sequence],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let events = all_events(&server.client()).await;
    let broken = verify_events(&events).unwrap_err();
    assert_eq!(broken.sequence, 3, "{broken}");
    assert!(broken.reason.contains("names sequence 4"), "{broken}");
}

/// How long to wait, at most, for the audit writer thread to notice a change, and how often to
/// look.
const POLL_LIMIT: Duration = Duration::from_secs(10);
const POLL_STEP: Duration = Duration::from_millis(10);

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_refused_while_the_trail_cannot_be_written_and_nothing_admitted_is_lost() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let random = || {
        root.generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(16),
        })
    };
    random().await.unwrap();
    assert_eq!(all_events(&root).await.len(), 2);
    // The lookup's own event is on disk too before the trail breaks.
    assert!(server.vault.audit.flush(POLL_LIMIT));

    let db = open_db(&server);
    db.execute_batch(
        "CREATE TRIGGER audit_block BEFORE INSERT ON audit_events \
         BEGIN SELECT RAISE(ABORT, 'blocked'); END;",
    )
    .unwrap();

    // Requests are admitted until the writer finds it cannot write; then they are refused.
    let deadline = Instant::now() + POLL_LIMIT;
    let mut admitted = 0;
    let refused = loop {
        match random().await {
            Ok(_) => admitted += 1,
            Err(err) => break err,
        }
        assert!(Instant::now() < deadline, "requests are never refused");
        tokio::time::sleep(POLL_STEP).await;
    };
    // The writer was idle when the trail broke, so the first request was admitted.
    assert!(admitted >= 1, "the first request was admitted");
    assert_eq!(
        (refused.code, refused.reason()),
        (Code::Unavailable, "ServiceUnavailableException"),
        "{refused}"
    );
    // A key-changing request is refused too, and does nothing.
    assert_error(
        root.create_key(pb::CreateKeyRequest {
            description: "must not exist".into(),
            ..Default::default()
        })
        .await,
        Code::Unavailable,
        "ServiceUnavailableException",
    );
    assert_error(
        root.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: key.clone(),
            pending_window_in_days: Some(7),
        })
        .await,
        Code::Unavailable,
        "ServiceUnavailableException",
    );
    // Reading the trail is refused as well (it would be an unrecorded request).
    assert_error(
        root.lookup_events(pb::LookupEventsRequest::default()).await,
        Code::Unavailable,
        "ServiceUnavailableException",
    );

    // Once the trail can be written again, requests are served again.
    db.execute_batch("DROP TRIGGER audit_block;").unwrap();
    let deadline = Instant::now() + POLL_LIMIT;
    while let Err(err) = random().await {
        assert_eq!(err.code, Code::Unavailable, "{err}");
        assert!(Instant::now() < deadline, "requests are never served again");
        tokio::time::sleep(POLL_STEP).await;
    }
    admitted += 1;

    // Nothing changed while refused.
    let keys = root
        .list_keys(pb::ListKeysRequest::default())
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 1);
    let metadata = root
        .describe_key(pb::DescribeKeyRequest { key_id: key })
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(metadata.key_state(), pb::KeyState::Enabled);

    // The whole chain verifies, with no gap, and holds every admitted request (and only those).
    let events = all_events(&root).await;
    let head = verify_events(&events).unwrap();
    assert_eq!(head.events, events.len() as u64);
    let names: Vec<_> = events.iter().map(|e| e.event_name.as_str()).collect();
    let count = |name: &str| names.iter().filter(|&&n| n == name).count();
    assert_eq!(count("GenerateRandom"), 1 + admitted, "{names:?}");
    assert_eq!(count("CreateKey"), 1, "{names:?}");
    assert_eq!(count("ScheduleKeyDeletion"), 0, "{names:?}");
    assert!(events.iter().all(|e| e.error_code.is_empty()), "{events:?}");
}

/// A signature an observer could replay if it leaked: the `Signature=` value of a request.
fn signature_of(creds: &StaticCredentials, date: &str, method: &str) -> String {
    let header = vaultd::auth::signature::authorization_header(
        &creds.access_key_id,
        &creds.secret_access_key,
        date,
        method,
        creds.session_token.as_deref(),
    );
    header.rsplit("Signature=").next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_audit_trail_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(
        &["--data-dir", data.to_str().unwrap(), "--dev"],
        &[
            ("VAULTD_ROOT_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
            ("VAULTD_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET),
            ("VAULTD_LOG", "debug"),
        ],
    )
    .unwrap();
    // Requests dated by a fixed clock (real time, so the daemon accepts them), so that their
    // signatures can be recomputed here.
    let clock = std::sync::Arc::new(ManualClock::starting_now());
    let date = format_basic_iso8601(clock.now());
    let client_for = |creds: StaticCredentials| {
        let mut config = ClientConfig::new(daemon.endpoint(), creds);
        config.clock = clock.clone();
        Client::connect(config).unwrap()
    };
    let root = client_for(root_credentials());
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, value: String| secrets.push((what.to_string(), value));

    let key = root
        .create_key(pb::CreateKeyRequest::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let plaintext = "Tr0ub4dor&3-correct-horse-battery-staple-7f3a9c";
    let blob = encrypt(&root, &key.key_id, plaintext.as_bytes(), &[("app", "x")]).await;
    keep("plaintext", plaintext.into());
    keep("plaintext (base64)", STANDARD.encode(plaintext));
    keep("plaintext (hex)", hex::encode(plaintext));
    assert_eq!(
        decrypt(&root, &blob, &[("app", "x")]).await.unwrap(),
        plaintext.as_bytes()
    );
    let data_key = root
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key.key_id.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .plaintext;
    keep("data key (base64)", STANDARD.encode(&data_key));
    keep("data key (hex)", hex::encode(&data_key));
    let random = root
        .generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(32),
        })
        .await
        .unwrap()
        .plaintext;
    keep("random (base64)", STANDARD.encode(&random));
    keep("random (hex)", hex::encode(&random));

    root.create_user(pb::CreateUserRequest {
        user_name: "app".into(),
    })
    .await
    .unwrap();
    root.put_user_policy(pb::PutUserPolicyRequest {
        user_name: "app".into(),
        policy_name: "app".into(),
        policy_document: allow(&["kms:Encrypt", "kms:GenerateRandom"], "*"),
    })
    .await
    .unwrap();
    let access_key = root
        .create_access_key(pb::CreateAccessKeyRequest {
            user_name: "app".into(),
        })
        .await
        .unwrap()
        .access_key
        .unwrap();
    keep("user secret", access_key.secret_access_key.clone());
    let user = StaticCredentials::new(
        &access_key.access_key_id,
        &access_key.secret_access_key,
        None,
    );
    let session = client_for(user.clone())
        .get_session_token(pb::GetSessionTokenRequest::default())
        .await
        .unwrap()
        .credentials
        .unwrap();
    keep("session secret", session.secret_access_key.clone());
    keep("session token", session.session_token.clone());
    let session_key_id = session.access_key_id.clone();
    assert!(session_key_id.starts_with("ASIA"));
    let session = StaticCredentials::new(
        &session.access_key_id,
        &session.secret_access_key,
        Some(&session.session_token),
    );
    let session_client = client_for(session.clone());
    encrypt(&session_client, &key.key_id, plaintext.as_bytes(), &[]).await;
    session_client
        .generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(16),
        })
        .await
        .unwrap();
    // A denied request and one with a bad signature are logged or audited too, without secrets.
    assert_error(
        session_client
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: key.key_id.clone(),
                key_spec: pb::DataKeySpec::Aes256 as i32,
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    let forged = StaticCredentials::new(
        &access_key.access_key_id,
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFORGEDKEY0",
        None,
    );
    assert_error(
        client_for(forged.clone())
            .generate_random(pb::GenerateRandomRequest::default())
            .await,
        Code::Unauthenticated,
        "InvalidSignatureException",
    );
    for (who, creds) in [
        ("root", root_credentials()),
        ("user", user),
        ("session", session),
    ] {
        keep(
            &format!("{who}'s Encrypt signature"),
            signature_of(&creds, &date, "/vault.v1.KeyManagement/Encrypt"),
        );
        keep(
            &format!("{who}'s GenerateRandom signature"),
            signature_of(&creds, &date, "/vault.v1.KeyManagement/GenerateRandom"),
        );
    }
    keep(
        "forged signature",
        signature_of(&forged, &date, "/vault.v1.KeyManagement/GenerateRandom"),
    );
    keep("root secret", ROOT_SECRET.into());

    let events = all_events(&root).await;
    assert!(events.len() >= 12, "{}", events.len());
    assert!(verify_events(&events).is_ok());
    // The session's requests are the user's, made with session credentials.
    let by_session: Vec<_> = events
        .iter()
        .filter(|e| e.access_key_id == session_key_id)
        .map(|e| {
            let body = body(e);
            assert_eq!(body["userIdentity"]["sessionCredentials"], true);
            (
                e.username.as_str(),
                e.event_name.as_str(),
                e.error_code.as_str(),
            )
        })
        .collect();
    assert_eq!(
        by_session,
        [
            ("app", "Encrypt", ""),
            ("app", "GenerateRandom", ""),
            ("app", "GenerateDataKey", "AccessDeniedException"),
        ]
    );
    let trail = format!("{events:?}");
    // Stop the daemon so that its log is complete.
    let mut daemon = daemon;
    assert!(daemon.signal("TERM").success());
    let deadline = Instant::now() + POLL_LIMIT;
    let log = loop {
        let log = daemon.log();
        if log.contains("vaultd stopped") {
            break log;
        }
        assert!(Instant::now() < deadline, "the log never ends:\n{log}");
        std::thread::sleep(POLL_STEP);
    };
    assert!(log.contains("DEBUG") || log.contains("debug"), "{log}");
    for (what, secret) in &secrets {
        assert!(secret.len() >= 16, "{what}");
        assert!(
            !trail.contains(secret.as_str()),
            "the {what} is in the trail"
        );
        assert!(
            !log.contains(secret.as_str()),
            "the {what} is in the log:\n{log}"
        );
    }
    for text in [&trail, &log] {
        assert!(!text.contains("Signature="), "{text}");
        assert!(!text.contains("VAULT-HMAC-SHA256"), "{text}");
    }
}
