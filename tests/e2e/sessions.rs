//! STS sessions (auth.md, Sessions): GetSessionToken's durations, session policies that narrow,
//! expiry by the clock, and every way a session ends — revocation, deactivating or deleting the
//! minting key — plus tampered and misused tokens.

use std::time::Duration;

use tonic::Code;
use vaultd::{client::StaticCredentials, clock::Clock, pb};

use crate::common::*;

fn session_credentials(credentials: &pb::Credentials) -> StaticCredentials {
    StaticCredentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(&credentials.session_token),
    )
}

async fn session(
    server: &TestServer,
    long_term: StaticCredentials,
    duration_seconds: Option<i32>,
    policy: &str,
) -> pb::Credentials {
    server
        .client_with(long_term)
        .get_session_token(pb::GetSessionTokenRequest {
            duration_seconds,
            policy: policy.into(),
        })
        .await
        .unwrap()
        .credentials
        .unwrap()
}

fn secs_from_now(server: &TestServer, t: &prost_types::Timestamp) -> i64 {
    let now = server
        .clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    t.seconds - now
}

#[tokio::test]
async fn session_credentials_act_as_their_user_until_they_expire() {
    let server = TestServer::start().await;
    let key = create_key(&server.client()).await;
    let user = app_user(&server, "app", Some(&allow(&["kms:Encrypt"], "*"))).await;
    let creds = session(&server, user.clone(), None, "").await;
    assert!(creds.access_key_id.starts_with("ASIA") && creds.access_key_id.len() == 20);
    assert_eq!(creds.secret_access_key.len(), 40);
    assert!(!creds.session_token.is_empty());
    assert!(!format!("{creds:?}").contains(&creds.secret_access_key));
    assert!(!format!("{creds:?}").contains(&creds.session_token));
    // The default duration is 12 hours.
    assert_eq!(
        secs_from_now(&server, creds.expiration.as_ref().unwrap()),
        43_200
    );

    let app = server.client_with(session_credentials(&creds));
    let me = app.get_caller_identity(Default::default()).await.unwrap();
    assert_eq!(me.arn, "arn:aws:iam::000000000000:user/app");
    encrypt(&app, &key, b"hello", &[]).await;
    // Its rights are the user's: no more.
    assert_error(
        app.create_key(Default::default()).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );

    server.clock.advance(Duration::from_secs(43_199));
    encrypt(&app, &key, b"hello", &[]).await;
    server.clock.advance(Duration::from_secs(1));
    assert_error(
        app.encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"late".to_vec(),
            ..Default::default()
        })
        .await,
        Code::Unauthenticated,
        "ExpiredTokenException",
    );
    // The long-term key still works and can make a new session.
    let fresh = session(&server, user, Some(900), "").await;
    assert_eq!(
        secs_from_now(&server, fresh.expiration.as_ref().unwrap()),
        900
    );
    encrypt(
        &server.client_with(session_credentials(&fresh)),
        &key,
        b"again",
        &[],
    )
    .await;
}

#[tokio::test]
async fn durations_are_bounded_and_root_gets_at_most_an_hour() {
    let server = TestServer::start().await;
    let user = app_user(&server, "app", None).await;
    let app = server.client_with(user);
    for bad in [899, 129_601, 0, -5] {
        let result = app
            .get_session_token(pb::GetSessionTokenRequest {
                duration_seconds: Some(bad),
                ..Default::default()
            })
            .await;
        assert_error(result, Code::InvalidArgument, "ValidationException");
    }
    let longest = session(
        &server,
        app_user(&server, "other", None).await,
        Some(129_600),
        "",
    )
    .await;
    assert_eq!(
        secs_from_now(&server, longest.expiration.as_ref().unwrap()),
        129_600
    );

    let root = session(&server, root_credentials(), Some(7_200), "").await;
    assert_eq!(
        secs_from_now(&server, root.expiration.as_ref().unwrap()),
        3_600
    );
    let root_default = session(&server, root_credentials(), None, "").await;
    assert_eq!(
        secs_from_now(&server, root_default.expiration.as_ref().unwrap()),
        3_600
    );
    let root_short = session(&server, root_credentials(), Some(1_000), "").await;
    assert_eq!(
        secs_from_now(&server, root_short.expiration.as_ref().unwrap()),
        1_000
    );
}

#[tokio::test]
async fn a_session_policy_narrows_but_never_widens() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let user = app_user(
        &server,
        "app",
        Some(&allow(&["kms:Encrypt", "kms:Decrypt", "kms:ListKeys"], "*")),
    )
    .await;
    let creds = session(
        &server,
        user.clone(),
        None,
        &allow(&["kms:Encrypt", "kms:CreateKey"], "*"),
    )
    .await;
    let app = server.client_with(session_credentials(&creds));
    let blob = encrypt(&app, &key, b"data", &[]).await;
    // The user may decrypt and list, the session may not.
    let denied = assert_error(
        app.decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert!(
        denied.message.contains("session policy"),
        "{}",
        denied.message
    );
    assert_error(
        app.list_keys(Default::default()).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    // The session policy allows CreateKey, the user's does not.
    assert_error(
        app.create_key(Default::default()).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    // Root's session is bounded by its session policy too.
    let root_session = session(
        &server,
        root_credentials(),
        None,
        &allow(&["kms:ListKeys"], "*"),
    )
    .await;
    let narrowed_root = server.client_with(session_credentials(&root_session));
    narrowed_root.list_keys(Default::default()).await.unwrap();
    assert_error(
        narrowed_root.create_key(Default::default()).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    // A malformed session policy is refused up front.
    let result = server
        .client_with(user)
        .get_session_token(pb::GetSessionTokenRequest {
            policy: "{".into(),
            ..Default::default()
        })
        .await;
    assert_error(result, Code::InvalidArgument, "MalformedPolicyDocument");
}

#[tokio::test]
async fn session_credentials_cannot_mint_sessions_nor_call_iam() {
    let server = TestServer::start().await;
    let creds = session(&server, root_credentials(), None, "").await;
    let app = server.client_with(session_credentials(&creds));
    let err = assert_error(
        app.get_session_token(Default::default()).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert!(err.message.contains("GetSessionToken"), "{}", err.message);
    assert_error(
        app.create_user(pb::CreateUserRequest {
            user_name: "sneaky".into(),
        })
        .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    // But the rest of root's rights remain.
    app.create_key(Default::default()).await.unwrap();
}

#[tokio::test]
async fn revoking_deactivating_or_deleting_the_minting_key_ends_sessions() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let user = app_user(&server, "app", Some(&allow(&["kms:Encrypt"], "*"))).await;
    let works = |creds: &pb::Credentials| {
        let client = server.client_with(session_credentials(creds));
        let key = key.clone();
        async move {
            client
                .encrypt(pb::EncryptRequest {
                    key_id: key,
                    plaintext: b"x".to_vec(),
                    ..Default::default()
                })
                .await
        }
    };

    // Revocation: sessions issued before it end; later ones work.
    let before = session(&server, user.clone(), None, "").await;
    works(&before).await.unwrap();
    server.clock.advance(Duration::from_secs(1));
    let revoked = root
        .revoke_user_sessions(pb::RevokeUserSessionsRequest {
            user_name: "app".into(),
        })
        .await
        .unwrap();
    assert!(revoked.sessions_valid_after.is_some());
    assert_error(
        works(&before).await,
        Code::Unauthenticated,
        "ExpiredTokenException",
    );
    server.clock.advance(Duration::from_secs(1));
    let after = session(&server, user.clone(), None, "").await;
    works(&after).await.unwrap();

    // Deactivating the minting key ends its sessions, for good: reactivating the key does not
    // revive them, though it can mint new ones.
    let set_status = |status: pb::StatusType| {
        root.update_access_key(pb::UpdateAccessKeyRequest {
            user_name: "app".into(),
            access_key_id: user.access_key_id.clone(),
            status: status as i32,
        })
    };
    set_status(pb::StatusType::Inactive).await.unwrap();
    assert_error(
        works(&after).await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
    server.clock.advance(Duration::from_secs(1));
    set_status(pb::StatusType::Active).await.unwrap();
    assert_error(
        works(&after).await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
    let after = session(&server, user.clone(), None, "").await;
    works(&after).await.unwrap();

    // Deleting it ends them for good.
    root.delete_access_key(pb::DeleteAccessKeyRequest {
        user_name: "app".into(),
        access_key_id: user.access_key_id.clone(),
    })
    .await
    .unwrap();
    assert_error(
        works(&after).await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
}

#[tokio::test]
async fn tampered_or_misused_tokens_are_refused() {
    let server = TestServer::start().await;
    let user = app_user(&server, "app", Some(&allow(&["kms:ListKeys"], "*"))).await;
    let creds = session(&server, user.clone(), None, "").await;
    let call = |access_key_id: &str, secret: &str, token: Option<&str>| {
        let client = server.client_with(StaticCredentials::new(access_key_id, secret, token));
        async move { client.list_keys(Default::default()).await }
    };
    call(
        &creds.access_key_id,
        &creds.secret_access_key,
        Some(&creds.session_token),
    )
    .await
    .unwrap();

    // One character changed anywhere in the token.
    for position in [
        0,
        creds.session_token.len() / 2,
        creds.session_token.len() - 1,
    ] {
        let mut tampered: Vec<char> = creds.session_token.chars().collect();
        tampered[position] = if tampered[position] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        assert_error(
            call(
                &creds.access_key_id,
                &creds.secret_access_key,
                Some(&tampered),
            )
            .await,
            Code::Unauthenticated,
            "UnrecognizedClientException",
        );
    }
    // The token of one session with the key id of another.
    let other = session(&server, user.clone(), None, "").await;
    assert_error(
        call(
            &other.access_key_id,
            &other.secret_access_key,
            Some(&creds.session_token),
        )
        .await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
    // The temporary key without its token, and a token with a long-term key.
    assert_error(
        call(&creds.access_key_id, &creds.secret_access_key, None).await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
    assert_error(
        call(
            &user.access_key_id,
            &user.secret_access_key,
            Some(&creds.session_token),
        )
        .await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
    // The right token signed with the wrong secret.
    assert_error(
        call(
            &creds.access_key_id,
            &other.secret_access_key,
            Some(&creds.session_token),
        )
        .await,
        Code::Unauthenticated,
        "InvalidSignatureException",
    );
    // A token from another vault (another barrier) names nothing here.
    let elsewhere = TestServer::start().await;
    let foreign = session(&elsewhere, root_credentials(), None, "").await;
    assert_error(
        call(
            &foreign.access_key_id,
            &foreign.secret_access_key,
            Some(&foreign.session_token),
        )
        .await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
}

#[tokio::test]
async fn sessions_survive_a_restart_without_being_stored() {
    let server = TestServer::start().await;
    let user = app_user(&server, "app", Some(&allow(&["kms:ListKeys"], "*"))).await;
    let creds = session(&server, user, None, "").await;
    let server = server.restart().await;
    server
        .client_with(session_credentials(&creds))
        .list_keys(Default::default())
        .await
        .unwrap();
}
