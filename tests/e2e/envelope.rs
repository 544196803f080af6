//! Envelope encryption of streams through a real vaultd (crypto.md §3): round trips across frame
//! boundaries, several wrapping keys, key and context checks on decryption, tampered headers, and
//! the data key cache, asserted through the calls the audit trail shows the server received.

use std::{
    io::{Read, Write},
    sync::Arc,
    time::Duration,
};

use tonic::Code;
use vaultd::{
    client::{
        Client, ClientError,
        envelope::{CacheLimits, DecryptRequest, EncryptRequest, Envelope, EnvelopeError},
    },
    clock::{Clock, ManualClock},
    crypto::{
        context::EncryptionContext,
        stream::{Header, StreamError},
    },
    pb,
};

use crate::common::*;

/// Small frames keep multi-frame messages small.
const FRAME: u32 = 64;
const MINUTE: Duration = Duration::from_secs(60);

fn key_arn(id: &str) -> String {
    format!("arn:aws:kms:us-east-1:000000000000:key/{id}")
}

fn context(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs.iter().copied().collect()
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn request(key_ids: &[&str], pairs: &[(&str, &str)]) -> EncryptRequest {
    EncryptRequest {
        frame_len: Some(FRAME),
        ..EncryptRequest::new(key_ids.iter().copied(), context(pairs))
    }
}

fn allowing(key_ids: &[&str]) -> DecryptRequest {
    DecryptRequest {
        key_ids: key_ids.iter().map(|k| k.to_string()).collect(),
        ..DecryptRequest::default()
    }
}

fn header(message: &[u8]) -> Header {
    Header::read(&mut &message[..]).unwrap().0
}

/// How many `operation` requests the server has recorded (allowed or refused).
async fn calls(client: &Client, operation: &str) -> usize {
    let mut count = 0;
    let mut next_token = String::new();
    loop {
        let response = client
            .lookup_events(pb::LookupEventsRequest {
                lookup_attributes: vec![pb::LookupAttribute {
                    attribute_key: pb::LookupAttributeKey::EventName as i32,
                    attribute_value: operation.into(),
                }],
                max_results: Some(1000),
                next_token,
                ..Default::default()
            })
            .await
            .unwrap();
        count += response.events.len();
        if response.next_token.is_empty() {
            return count;
        }
        next_token = response.next_token;
    }
}

/// Asserts that `operation` was refused with `reason`; returns the error.
#[track_caller]
fn assert_service(
    result: Result<impl std::fmt::Debug, EnvelopeError>,
    operation: &str,
    reason: &str,
) -> ClientError {
    match result {
        Err(EnvelopeError::Service {
            operation: op,
            error,
        }) => {
            assert_eq!((op, error.reason()), (operation, reason), "{error}");
            error
        }
        other => panic!("expected {operation} to fail with {reason}, got {other:?}"),
    }
}

#[tokio::test]
async fn messages_round_trip_at_every_frame_boundary() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let envelope = Envelope::new(root.clone());
    let pairs = [("app", "backup"), ("tenant", "42")];
    let f = FRAME as usize;
    for len in [0, 1, f - 1, f, f + 1, 5 * f, 5 * f + 7] {
        let plaintext = data(len);
        let sealed = envelope
            .encrypt(&plaintext, &request(&[&key], &pairs))
            .await
            .unwrap();
        let header = header(&sealed);
        assert_eq!(header.frame_len, FRAME);
        assert_eq!(header.context, context(&pairs));
        assert_eq!(header.wrapped_keys.len(), 1);
        assert_eq!(header.wrapped_keys[0].key_arn, key_arn(&key));
        // The header, then frames of FRAME bytes and a last one that is shorter, full, or
        // empty only when the whole message is; each with its tag.
        let mut rest = sealed.as_slice();
        Header::read(&mut rest).unwrap();
        assert_eq!(rest.len(), len + 16 * len.div_ceil(f).max(1), "{len}");
        let opened = envelope
            .decrypt(&sealed, &DecryptRequest::default())
            .await
            .unwrap();
        assert_eq!(*opened, plaintext, "{len}");
    }
    assert_eq!(calls(&root, "GenerateDataKey").await, 7);
    assert_eq!(calls(&root, "Decrypt").await, 7);
}

#[tokio::test]
async fn the_streaming_api_round_trips_in_odd_sized_pieces() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let envelope = Envelope::new(root);
    let plaintext = data(10 * FRAME as usize + 13);
    let mut encryptor = envelope
        .encryptor(Vec::new(), &request(&[&key], &[("app", "stream")]))
        .await
        .unwrap();
    for piece in plaintext.chunks(37) {
        encryptor.write_all(piece).unwrap();
    }
    let sealed = encryptor.finish().unwrap();

    let (header, mut decryptor) = envelope
        .decryptor(sealed.as_slice(), &DecryptRequest::default())
        .await
        .unwrap();
    assert_eq!(header.context.get("app"), Some("stream"));
    let mut opened = Vec::new();
    let mut buf = [0u8; 29];
    loop {
        match decryptor.read(&mut buf).unwrap() {
            0 => break,
            n => opened.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(opened, plaintext);

    // Each message has its own message id, even under the same key and context.
    let again = envelope
        .encrypt(&plaintext, &request(&[&key], &[("app", "stream")]))
        .await
        .unwrap();
    assert_ne!(header.message_id, self::header(&again).message_id);
    assert_ne!(sealed, again);
}

#[tokio::test]
async fn a_truncated_or_extended_message_returns_nothing() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let envelope = Envelope::new(root);
    let sealed = envelope
        .encrypt(&data(3 * FRAME as usize), &request(&[&key], &[]))
        .await
        .unwrap();
    for broken in [
        sealed[..sealed.len() - 1].to_vec(),
        sealed[..sealed.len() - (FRAME as usize + 16)].to_vec(),
        [sealed.as_slice(), b"more"].concat(),
    ] {
        let result = envelope.decrypt(&broken, &DecryptRequest::default()).await;
        assert!(
            matches!(result, Err(EnvelopeError::Stream(StreamError::Tampered))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn either_of_two_keys_decrypts() {
    let server = TestServer::start().await;
    let root = server.client();
    let (first, second) = (create_key(&root).await, create_key(&root).await);
    let sealed = Envelope::new(root.clone())
        .encrypt(
            b"shared by two keys",
            &request(&[&first, &second], &[("app", "x")]),
        )
        .await
        .unwrap();
    let header = header(&sealed);
    let arns: Vec<_> = header
        .wrapped_keys
        .iter()
        .map(|w| w.key_arn.clone())
        .collect();
    assert_eq!(arns, [key_arn(&first), key_arn(&second)]);
    // One data key made, and wrapped once more.
    assert_eq!(calls(&root, "GenerateDataKey").await, 1);
    assert_eq!(calls(&root, "Encrypt").await, 1);

    // A user allowed only on the second key: the first is refused to it, the second opens.
    let only_second = app_user(
        &server,
        "second",
        Some(&allow(&["kms:Decrypt"], &key_arn(&second))),
    )
    .await;
    let user = Envelope::new(server.client_with(only_second));
    let opened = user
        .decrypt(&sealed, &DecryptRequest::default())
        .await
        .unwrap();
    assert_eq!(*opened, b"shared by two keys");
    let opened = user.decrypt(&sealed, &allowing(&[&second])).await.unwrap();
    assert_eq!(*opened, b"shared by two keys");
    // Asked to use only the first key, the user is refused.
    assert_service(
        user.decrypt(&sealed, &allowing(&[&first])).await,
        "Decrypt",
        "AccessDeniedException",
    );

    // Either key alone, named by the caller, opens it for root; and with the first disabled
    // the second still does.
    let envelope = Envelope::new(root.clone());
    for key in [&first, &second] {
        let opened = envelope.decrypt(&sealed, &allowing(&[key])).await.unwrap();
        assert_eq!(*opened, b"shared by two keys");
    }
    root.disable_key(pb::DisableKeyRequest {
        key_id: first.clone(),
    })
    .await
    .unwrap();
    let opened = envelope
        .decrypt(&sealed, &DecryptRequest::default())
        .await
        .unwrap();
    assert_eq!(*opened, b"shared by two keys");
}

#[tokio::test]
async fn keys_that_do_not_wrap_the_data_key_are_the_wrong_key() {
    let server = TestServer::start().await;
    let root = server.client();
    let (key, other) = (create_key(&root).await, create_key(&root).await);
    root.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/other".into(),
        target_key_id: other.clone(),
    })
    .await
    .unwrap();
    let envelope = Envelope::new(root.clone());
    let sealed = envelope
        .encrypt(b"for one key only", &request(&[&key], &[]))
        .await
        .unwrap();
    // By key id and ARN (ruled out without asking vaultd), and by alias (vaultd says
    // IncorrectKeyException).
    for given in [other.clone(), key_arn(&other), "alias/other".into()] {
        match envelope.decrypt(&sealed, &allowing(&[&given])).await {
            Err(EnvelopeError::WrongKey(arns)) => assert_eq!(arns, key_arn(&key)),
            other => panic!("{given}: expected WrongKey, got {other:?}"),
        }
    }
    // The right key among wrong ones still opens it.
    let opened = envelope
        .decrypt(&sealed, &allowing(&["alias/other", &key]))
        .await
        .unwrap();
    assert_eq!(*opened, b"for one key only");
}

#[tokio::test]
async fn an_alias_names_the_key_to_encrypt_and_decrypt_with() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    root.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/backup".into(),
        target_key_id: key.clone(),
    })
    .await
    .unwrap();
    let envelope = Envelope::new(root);
    let sealed = envelope
        .encrypt(b"aliased", &request(&["alias/backup"], &[]))
        .await
        .unwrap();
    // The header names the key itself, so that the message outlives the alias.
    assert_eq!(header(&sealed).wrapped_keys[0].key_arn, key_arn(&key));
    for given in [
        "alias/backup",
        "arn:aws:kms:us-east-1:000000000000:alias/backup",
    ] {
        let opened = envelope
            .decrypt(&sealed, &allowing(&[given]))
            .await
            .unwrap();
        assert_eq!(*opened, b"aliased", "{given}");
    }
}

#[tokio::test]
async fn a_required_context_is_checked_before_any_call() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let envelope = Envelope::new(root.clone());
    let sealed = envelope
        .encrypt(
            b"tenant data",
            &request(&[&key], &[("app", "billing"), ("tenant", "42")]),
        )
        .await
        .unwrap();
    let requiring = |pairs: &[(&str, &str)]| DecryptRequest {
        required_context: context(pairs),
        ..DecryptRequest::default()
    };
    let opened = envelope
        .decrypt(&sealed, &requiring(&[("tenant", "42")]))
        .await
        .unwrap();
    assert_eq!(*opened, b"tenant data");

    match envelope
        .decrypt(&sealed, &requiring(&[("region", "eu")]))
        .await
    {
        Err(EnvelopeError::ContextMismatch(message)) => {
            assert!(message.contains("\"region\" is missing"), "{message}");
        }
        other => panic!("expected a context mismatch, got {other:?}"),
    }
    match envelope
        .decrypt(&sealed, &requiring(&[("tenant", "42"), ("app", "payroll")]))
        .await
    {
        Err(EnvelopeError::ContextMismatch(message)) => {
            assert!(message.contains("\"app\" has another value"), "{message}");
            assert!(
                !message.contains("payroll") && !message.contains("billing"),
                "{message}"
            );
        }
        other => panic!("expected a context mismatch, got {other:?}"),
    }
    // Only the accepted decryption reached vaultd.
    assert_eq!(calls(&root, "Decrypt").await, 1);
}

#[tokio::test]
async fn an_altered_header_is_tampered() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let envelope = Envelope::new(root);
    let sealed = envelope
        .encrypt(
            b"bound to tenant 42",
            &request(&[&key], &[("tenant", "42")]),
        )
        .await
        .unwrap();
    // The context's value, same length: the header still reads, but the wrapped key does not
    // authenticate under the altered context.
    let at = sealed.windows(6).position(|w| w == b"tenant").unwrap() + 6 + 2;
    assert_eq!(&sealed[at..at + 2], b"42");
    let mut altered = sealed.clone();
    altered[at..at + 2].copy_from_slice(b"43");
    assert_eq!(header(&altered).context.get("tenant"), Some("43"));
    let result = envelope.decrypt(&altered, &DecryptRequest::default()).await;
    assert!(
        matches!(result, Err(EnvelopeError::Stream(StreamError::Tampered))),
        "{result:?}"
    );

    // A flipped bit in the wrapped blob's ciphertext.
    let blob = &header(&sealed).wrapped_keys[0].blob;
    let at = sealed.windows(blob.len()).position(|w| w == blob).unwrap() + blob.len() - 1;
    let mut altered = sealed.clone();
    altered[at] ^= 1;
    let result = envelope.decrypt(&altered, &DecryptRequest::default()).await;
    assert!(
        matches!(result, Err(EnvelopeError::Stream(StreamError::Tampered))),
        "{result:?}"
    );
}

#[tokio::test]
async fn what_is_not_a_stream_is_said_so() {
    let server = TestServer::start().await;
    let root = server.client();
    let envelope = Envelope::new(root.clone());
    for input in [&b""[..], b"hello, world", b"VLTE"] {
        let result = envelope.decrypt(input, &DecryptRequest::default()).await;
        assert!(
            matches!(result, Err(EnvelopeError::Stream(StreamError::NotAStream))),
            "{result:?}"
        );
    }
    assert_eq!(calls(&root, "Decrypt").await, 0);
}

#[tokio::test]
async fn refusals_name_the_operation_that_was_refused() {
    let server = TestServer::start().await;
    let root = server.client();
    let (first, second) = (create_key(&root).await, create_key(&root).await);
    let sealed = Envelope::new(root.clone())
        .encrypt(b"secret", &request(&[&first], &[]))
        .await
        .unwrap();

    let nobody = Envelope::new(server.client_with(app_user(&server, "nobody", None).await));
    assert_service(
        nobody.encrypt(b"x", &request(&[&first], &[])).await,
        "GenerateDataKey",
        "AccessDeniedException",
    );
    assert_service(
        nobody.decrypt(&sealed, &DecryptRequest::default()).await,
        "Decrypt",
        "AccessDeniedException",
    );

    // Allowed to make the data key under the first key but not to wrap it under the second.
    let half = app_user(
        &server,
        "half",
        Some(&allow(&["kms:GenerateDataKey"], &key_arn(&first))),
    )
    .await;
    let half = Envelope::new(server.client_with(half));
    let error = assert_service(
        half.encrypt(b"x", &request(&[&first, &second], &[])).await,
        "Encrypt",
        "AccessDeniedException",
    );
    assert_eq!(error.code, Code::PermissionDenied);
}

#[tokio::test]
async fn impossible_requests_are_refused_before_any_call() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let envelope = Envelope::new(root.clone());
    let seventeen: Vec<&str> = std::iter::repeat_n(key.as_str(), 17).collect();
    for bad in [
        request(&[], &[]),
        request(&seventeen, &[]),
        EncryptRequest {
            frame_len: Some(15),
            ..request(&[&key], &[])
        },
        EncryptRequest {
            frame_len: Some((16 << 20) + 1),
            ..request(&[&key], &[])
        },
        EncryptRequest {
            plaintext_len: Some(2),
            ..request(&[&key], &[])
        },
    ] {
        let result = envelope.encrypt(b"x", &bad).await;
        assert!(
            matches!(result, Err(EnvelopeError::Invalid(_))),
            "{result:?}"
        );
    }
    assert_eq!(calls(&root, "GenerateDataKey").await, 0);
}

// --- The data key cache ------------------------------------------------------------------------

fn limits() -> CacheLimits {
    CacheLimits {
        max_age: MINUTE,
        max_messages: 100,
        max_bytes: 1 << 20,
        capacity: 10,
    }
}

/// An envelope caching within `limits`, with a clock of its own.
fn cached(client: &Client, limits: CacheLimits) -> (Envelope, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let envelope = Envelope::new(client.clone())
        .with_cache(limits, clock.clone() as Arc<dyn Clock>)
        .unwrap();
    (envelope, clock)
}

/// Encrypts `plaintext` and checks that an uncached envelope decrypts it back; returns the
/// message's first wrapped blob (which tells its data key apart).
async fn seal(
    envelope: &Envelope,
    plain: &Envelope,
    plaintext: &[u8],
    request: &EncryptRequest,
) -> Vec<u8> {
    let sealed = envelope.encrypt(plaintext, request).await.unwrap();
    let opened = plain
        .decrypt(&sealed, &DecryptRequest::default())
        .await
        .unwrap();
    assert_eq!(*opened, plaintext);
    header(&sealed).wrapped_keys[0].blob.clone()
}

#[tokio::test]
async fn a_cached_data_key_serves_messages_within_its_limits() {
    let server = TestServer::start().await;
    let root = server.client();
    let (first, second) = (create_key(&root).await, create_key(&root).await);
    let plain = Envelope::new(root.clone());
    let (envelope, _) = cached(&root, limits());
    let request = request(&[&first, &second], &[("app", "x")]);
    let mut blobs = Vec::new();
    for i in 0..5 {
        blobs.push(seal(&envelope, &plain, &data(100 + i), &request).await);
    }
    assert!(blobs.iter().all(|b| *b == blobs[0]));
    assert_eq!(calls(&root, "GenerateDataKey").await, 1);
    assert_eq!(calls(&root, "Encrypt").await, 1);
}

#[tokio::test]
async fn a_data_key_serves_max_messages_messages() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let plain = Envelope::new(root.clone());
    let (envelope, _) = cached(
        &root,
        CacheLimits {
            max_messages: 3,
            ..limits()
        },
    );
    let request = request(&[&key], &[]);
    let mut blobs = Vec::new();
    for _ in 0..3 {
        blobs.push(seal(&envelope, &plain, b"message", &request).await);
    }
    assert_eq!(calls(&root, "GenerateDataKey").await, 1);
    blobs.push(seal(&envelope, &plain, b"message", &request).await);
    assert_eq!(calls(&root, "GenerateDataKey").await, 2);
    assert!(blobs[..3].iter().all(|b| *b == blobs[0]));
    assert_ne!(blobs[3], blobs[0]);
}

#[tokio::test]
async fn a_data_key_serves_max_bytes_bytes() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let plain = Envelope::new(root.clone());
    let (envelope, _) = cached(
        &root,
        CacheLimits {
            max_bytes: 100,
            ..limits()
        },
    );
    let request = request(&[&key], &[]);
    let a = seal(&envelope, &plain, &data(40), &request).await;
    let b = seal(&envelope, &plain, &data(40), &request).await;
    assert_eq!((a == b, calls(&root, "GenerateDataKey").await), (true, 1));
    // 80 + 30 > 100: a new data key, which has 70 bytes left.
    let c = seal(&envelope, &plain, &data(30), &request).await;
    assert_eq!((c != a, calls(&root, "GenerateDataKey").await), (true, 2));
    let d = seal(&envelope, &plain, &data(70), &request).await;
    assert_eq!((d == c, calls(&root, "GenerateDataKey").await), (true, 2));

    // A message longer than max_bytes gets a key of its own, which is not cached.
    let (envelope, _) = cached(
        &root,
        CacheLimits {
            max_bytes: 100,
            ..limits()
        },
    );
    let big = seal(&envelope, &plain, &data(101), &request).await;
    let e = seal(&envelope, &plain, &data(10), &request).await;
    let f = seal(&envelope, &plain, &data(10), &request).await;
    assert_eq!(calls(&root, "GenerateDataKey").await, 4);
    assert!(big != e && e == f);
}

#[tokio::test]
async fn a_data_key_is_not_used_past_max_age() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let plain = Envelope::new(root.clone());
    let (envelope, clock) = cached(&root, limits());
    let request = request(&[&key], &[]);
    let a = seal(&envelope, &plain, b"at 0 s", &request).await;
    clock.advance(MINUTE - Duration::from_secs(1));
    let b = seal(&envelope, &plain, b"at 59 s", &request).await;
    assert_eq!((a == b, calls(&root, "GenerateDataKey").await), (true, 1));
    clock.advance(Duration::from_secs(1));
    let c = seal(&envelope, &plain, b"at 60 s", &request).await;
    assert_eq!((c != a, calls(&root, "GenerateDataKey").await), (true, 2));
}

#[tokio::test]
async fn a_message_of_unknown_length_is_not_cached() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let plain = Envelope::new(root.clone());
    let (envelope, _) = cached(&root, limits());
    let request = request(&[&key], &[]);
    assert_eq!(request.plaintext_len, None);
    for _ in 0..2 {
        let mut encryptor = envelope.encryptor(Vec::new(), &request).await.unwrap();
        encryptor.write_all(b"streamed").unwrap();
        let sealed = encryptor.finish().unwrap();
        let opened = plain
            .decrypt(&sealed, &DecryptRequest::default())
            .await
            .unwrap();
        assert_eq!(*opened, b"streamed");
    }
    assert_eq!(calls(&root, "GenerateDataKey").await, 2);
    // Nothing was cached for it: the first message of known length makes a key, the next reuses it.
    for _ in 0..2 {
        let known = EncryptRequest {
            plaintext_len: Some(8),
            ..request.clone()
        };
        let mut encryptor = envelope.encryptor(Vec::new(), &known).await.unwrap();
        encryptor.write_all(b"declared").unwrap();
        let sealed = encryptor.finish().unwrap();
        let opened = plain
            .decrypt(&sealed, &DecryptRequest::default())
            .await
            .unwrap();
        assert_eq!(*opened, b"declared");
    }
    assert_eq!(calls(&root, "GenerateDataKey").await, 3);
}

#[tokio::test]
async fn other_contexts_and_key_lists_get_other_data_keys() {
    let server = TestServer::start().await;
    let root = server.client();
    let (first, second) = (create_key(&root).await, create_key(&root).await);
    let plain = Envelope::new(root.clone());
    let (envelope, _) = cached(&root, limits());
    let red = request(&[&first], &[("color", "red")]);
    let blue = request(&[&first], &[("color", "blue")]);
    let both = request(&[&first, &second], &[("color", "red")]);
    let mut blobs = Vec::new();
    for request in [&red, &blue, &both, &red, &blue, &both] {
        blobs.push(seal(&envelope, &plain, b"colored", request).await);
    }
    assert_eq!(calls(&root, "GenerateDataKey").await, 3);
    assert_eq!(blobs[..3], blobs[3..]);
    assert!(blobs[0] != blobs[1] && blobs[1] != blobs[2] && blobs[0] != blobs[2]);
}

#[tokio::test]
async fn a_full_cache_evicts_the_least_recently_used_key() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let plain = Envelope::new(root.clone());
    let (envelope, _) = cached(
        &root,
        CacheLimits {
            capacity: 1,
            ..limits()
        },
    );
    let red = request(&[&key], &[("color", "red")]);
    let blue = request(&[&key], &[("color", "blue")]);
    let a = seal(&envelope, &plain, b"red", &red).await;
    let b = seal(&envelope, &plain, b"red", &red).await;
    assert_eq!((a == b, calls(&root, "GenerateDataKey").await), (true, 1));
    seal(&envelope, &plain, b"blue", &blue).await;
    let c = seal(&envelope, &plain, b"red", &red).await;
    assert_eq!((c != a, calls(&root, "GenerateDataKey").await), (true, 3));
}

#[tokio::test]
async fn a_cached_decryption_key_saves_calls_but_not_key_checks() {
    let server = TestServer::start().await;
    let root = server.client();
    let (key, other) = (create_key(&root).await, create_key(&root).await);
    root.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/other".into(),
        target_key_id: other.clone(),
    })
    .await
    .unwrap();
    let (envelope, clock) = cached(&root, limits());
    let request = request(&[&key], &[("app", "x")]);
    // Two messages under one cached data key share their wrapped keys, hence a decryption entry.
    let first = envelope.encrypt(b"first", &request).await.unwrap();
    let second = envelope.encrypt(b"second", &request).await.unwrap();
    assert_eq!(calls(&root, "GenerateDataKey").await, 1);

    let any = DecryptRequest::default();
    assert_eq!(*envelope.decrypt(&first, &any).await.unwrap(), b"first");
    assert_eq!(calls(&root, "Decrypt").await, 1);
    assert_eq!(*envelope.decrypt(&first, &any).await.unwrap(), b"first");
    assert_eq!(*envelope.decrypt(&second, &any).await.unwrap(), b"second");
    assert_eq!(calls(&root, "Decrypt").await, 1);

    // Other allowed keys: the cached data key is not handed out, vaultd decides again.
    match envelope.decrypt(&first, &allowing(&["alias/other"])).await {
        Err(EnvelopeError::WrongKey(arns)) => assert_eq!(arns, key_arn(&key)),
        other => panic!("expected WrongKey, got {other:?}"),
    }
    assert_eq!(calls(&root, "Decrypt").await, 2);
    let only_key = allowing(&[&key]);
    assert_eq!(
        *envelope.decrypt(&first, &only_key).await.unwrap(),
        b"first"
    );
    assert_eq!(calls(&root, "Decrypt").await, 3);
    assert_eq!(
        *envelope.decrypt(&second, &only_key).await.unwrap(),
        b"second"
    );
    assert_eq!(calls(&root, "Decrypt").await, 3);

    // Decryption entries age out too (and only age limits them).
    clock.advance(MINUTE);
    assert_eq!(*envelope.decrypt(&first, &any).await.unwrap(), b"first");
    assert_eq!(calls(&root, "Decrypt").await, 4);
    assert_eq!(*envelope.decrypt(&first, &any).await.unwrap(), b"first");
    assert_eq!(calls(&root, "Decrypt").await, 4);

    // A tampered message is refused even though its data key is cached.
    let mut tampered = first.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let result = envelope.decrypt(&tampered, &any).await;
    assert!(
        matches!(result, Err(EnvelopeError::Stream(StreamError::Tampered))),
        "{result:?}"
    );
}

#[tokio::test]
async fn cache_limits_outside_the_sdk_ranges_are_refused() {
    let server = TestServer::start().await;
    let clock = Arc::new(ManualClock::starting_now()) as Arc<dyn Clock>;
    for bad in [
        CacheLimits {
            max_age: Duration::ZERO,
            ..limits()
        },
        CacheLimits {
            max_messages: 0,
            ..limits()
        },
        CacheLimits {
            max_messages: (1 << 32) + 1,
            ..limits()
        },
        CacheLimits {
            max_bytes: 0,
            ..limits()
        },
        CacheLimits {
            capacity: 0,
            ..limits()
        },
    ] {
        let result = Envelope::new(server.client()).with_cache(bad, clock.clone());
        assert!(matches!(result, Err(EnvelopeError::Invalid(_))), "{bad:?}");
    }
}
