//! Key life cycle: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, Enable/DisableKey,
//! ScheduleKeyDeletion / CancelKeyDeletion, identifiers and key-state rules.

use std::time::Duration;

use tonic::Code;
use vaultd::{clock::DAY, pb};

use crate::common::*;

fn tag(k: &str, v: &str) -> pb::Tag {
    pb::Tag {
        tag_key: k.into(),
        tag_value: v.into(),
    }
}

async fn describe(
    client: &vaultd::client::Client,
    key_id: &str,
) -> Result<pb::KeyMetadata, vaultd::client::ClientError> {
    client
        .describe_key(pb::DescribeKeyRequest {
            key_id: key_id.into(),
        })
        .await
        .map(|r| r.key_metadata.unwrap())
}

#[tokio::test]
async fn create_key_has_aws_metadata_and_every_identifier_names_it() {
    let server = TestServer::start().await;
    let client = server.client();
    let created = client
        .create_key(pb::CreateKeyRequest {
            description: "billing data".into(),
            tags: vec![tag("team", "payments")],
            ..Default::default()
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let id = created.key_id.clone();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().to_string(), id);
    assert_eq!(
        created.arn,
        format!("arn:aws:kms:us-east-1:000000000000:key/{id}")
    );
    assert_eq!(created.aws_account_id, "000000000000");
    assert_eq!(created.description, "billing data");
    assert!(created.enabled);
    assert_eq!(created.key_state(), pb::KeyState::Enabled);
    assert_eq!(created.key_spec(), pb::KeySpec::SymmetricDefault);
    assert_eq!(created.key_usage(), pb::KeyUsage::EncryptDecrypt);
    assert_eq!(created.origin(), pb::OriginType::AwsKms);
    assert_eq!(created.key_manager(), pb::KeyManagerType::Customer);
    assert_eq!(
        created.encryption_algorithms().collect::<Vec<_>>(),
        [pb::EncryptionAlgorithmSpec::SymmetricDefault]
    );
    assert_eq!(created.deletion_date, None);
    assert_eq!(created.current_key_material_id, "1");
    let created_at = created.creation_date.unwrap().seconds;
    let now = server.clock.now_secs();
    assert!((now - 1..=now + 1).contains(&created_at));

    client
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/billing".into(),
            target_key_id: id.clone(),
        })
        .await
        .unwrap();
    for name in [
        id.clone(),
        created.arn.clone(),
        "alias/billing".into(),
        "arn:aws:kms:us-east-1:000000000000:alias/billing".into(),
    ] {
        assert_eq!(describe(&client, &name).await.unwrap(), created, "{name}");
    }
    let tags = client
        .list_resource_tags(pb::ListResourceTagsRequest {
            key_id: id,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tags.tags, [tag("team", "payments")]);
}

#[tokio::test]
async fn create_key_refuses_what_aws_refuses() {
    let server = TestServer::start().await;
    let client = server.client();
    let cases: Vec<(pb::CreateKeyRequest, Code, &str)> = vec![
        (
            pb::CreateKeyRequest {
                description: "d".repeat(8193),
                ..Default::default()
            },
            Code::InvalidArgument,
            "ValidationException",
        ),
        // Usage and spec must fit: HMAC keys are for GENERATE_VERIFY_MAC (the default usage is
        // ENCRYPT_DECRYPT), ECC keys never encrypt, RSA keys never agree keys.
        (
            pb::CreateKeyRequest {
                key_spec: pb::KeySpec::Hmac256 as i32,
                ..Default::default()
            },
            Code::InvalidArgument,
            "ValidationException",
        ),
        (
            pb::CreateKeyRequest {
                key_spec: pb::KeySpec::EccNistP256 as i32,
                key_usage: pb::KeyUsage::EncryptDecrypt as i32,
                ..Default::default()
            },
            Code::InvalidArgument,
            "ValidationException",
        ),
        (
            pb::CreateKeyRequest {
                key_spec: pb::KeySpec::Rsa2048 as i32,
                key_usage: pb::KeyUsage::KeyAgreement as i32,
                ..Default::default()
            },
            Code::InvalidArgument,
            "ValidationException",
        ),
        (
            pb::CreateKeyRequest {
                key_usage: pb::KeyUsage::SignVerify as i32,
                ..Default::default()
            },
            Code::InvalidArgument,
            "ValidationException",
        ),
        (
            pb::CreateKeyRequest {
                multi_region: true,
                ..Default::default()
            },
            Code::InvalidArgument,
            "UnsupportedOperationException",
        ),
        (
            pb::CreateKeyRequest {
                key_spec: 99,
                ..Default::default()
            },
            Code::InvalidArgument,
            "ValidationException",
        ),
        (
            pb::CreateKeyRequest {
                tags: vec![tag("aws:reserved", "x")],
                ..Default::default()
            },
            Code::InvalidArgument,
            "TagException",
        ),
        (
            pb::CreateKeyRequest {
                tags: (0..51).map(|i| tag(&format!("k{i}"), "v")).collect(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "TagException",
        ),
    ];
    for (request, code, reason) in cases {
        assert_error(client.create_key(request).await, code, reason);
    }
    // An 8,192-character description is fine.
    client
        .create_key(pb::CreateKeyRequest {
            description: "d".repeat(8192),
            ..Default::default()
        })
        .await
        .unwrap();
    // Nothing refused was created.
    let listed = client
        .list_keys(pb::ListKeysRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.keys.len(), 1);
}

#[tokio::test]
async fn unknown_and_malformed_key_ids() {
    let server = TestServer::start().await;
    let client = server.client();
    create_key(&client).await;
    let random = uuid::Uuid::new_v4();
    let err = assert_error(
        describe(&client, &random.to_string()).await,
        Code::NotFound,
        "NotFoundException",
    );
    assert!(err.message.contains(&random.to_string()), "{err}");
    for bad in [
        "not-a-key",
        "alias/missing",
        "arn:aws:kms:us-east-1:000000000000:alias/missing",
        &format!("arn:aws:kms:eu-west-1:000000000000:key/{random}"),
        &format!("arn:aws:kms:us-east-1:111111111111:key/{random}"),
        "arn:aws:kms:us-east-1:000000000000:key/nope",
    ] {
        assert_error(
            describe(&client, bad).await,
            Code::NotFound,
            "NotFoundException",
        );
    }
    assert_error(
        describe(&client, "").await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        describe(&client, &"k".repeat(2049)).await,
        Code::InvalidArgument,
        "ValidationException",
    );
}

#[tokio::test]
async fn list_keys_pages_with_markers() {
    let server = TestServer::start().await;
    let client = server.client();
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(create_key(&client).await);
    }
    created.sort();
    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let page = client
            .list_keys(pb::ListKeysRequest {
                limit: Some(2),
                marker: marker.clone(),
            })
            .await
            .unwrap();
        assert!(page.keys.len() <= 2);
        for key in &page.keys {
            assert_eq!(
                key.key_arn,
                format!("arn:aws:kms:us-east-1:000000000000:key/{}", key.key_id)
            );
        }
        seen.extend(page.keys.into_iter().map(|k| k.key_id));
        assert_eq!(page.truncated, !page.next_marker.is_empty());
        if !page.truncated {
            break;
        }
        marker = page.next_marker;
    }
    assert_eq!(seen, created);
    for limit in [0, 1001] {
        assert_error(
            client
                .list_keys(pb::ListKeysRequest {
                    limit: Some(limit),
                    ..Default::default()
                })
                .await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    assert_error(
        client
            .list_keys(pb::ListKeysRequest {
                marker: "%%%".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidMarkerException",
    );
}

#[tokio::test]
async fn update_description_enable_and_disable() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    client
        .update_key_description(pb::UpdateKeyDescriptionRequest {
            key_id: id.clone(),
            description: "new words".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        describe(&client, &id).await.unwrap().description,
        "new words"
    );
    assert_error(
        client
            .update_key_description(pb::UpdateKeyDescriptionRequest {
                key_id: id.clone(),
                description: "x".repeat(8193),
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );

    client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    let meta = describe(&client, &id).await.unwrap();
    assert_eq!(
        (meta.key_state(), meta.enabled),
        (pb::KeyState::Disabled, false)
    );
    let encrypt = pb::EncryptRequest {
        key_id: id.clone(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    };
    let err = assert_error(
        client.encrypt(encrypt.clone()).await,
        Code::FailedPrecondition,
        "DisabledException",
    );
    assert!(err.message.contains("is disabled"), "{err}");
    // Disabling twice is fine; a disabled key can still be described and re-described.
    client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    client
        .update_key_description(pb::UpdateKeyDescriptionRequest {
            key_id: id.clone(),
            description: "while disabled".into(),
        })
        .await
        .unwrap();

    client
        .enable_key(pb::EnableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert!(describe(&client, &id).await.unwrap().enabled);
    client.encrypt(encrypt).await.unwrap();
}

#[tokio::test]
async fn pending_deletion_rules_and_cancel() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    let blob = encrypt(&client, &id, b"keep", &[]).await;

    for days in [6, 31] {
        assert_error(
            client
                .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
                    key_id: id.clone(),
                    pending_window_in_days: Some(days),
                })
                .await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    let scheduled = client
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: id.clone(),
            pending_window_in_days: None,
        })
        .await
        .unwrap();
    assert_eq!(scheduled.key_state(), pb::KeyState::PendingDeletion);
    assert_eq!(scheduled.pending_window_in_days, 30);
    assert!(scheduled.key_id.ends_with(&id));
    assert_eq!(
        scheduled.deletion_date.unwrap().seconds,
        server.clock.now_secs() + 30 * 86_400
    );
    let meta = describe(&client, &id).await.unwrap();
    assert_eq!(meta.key_state(), pb::KeyState::PendingDeletion);
    assert_eq!(meta.pending_deletion_window_in_days, Some(30));
    assert!(meta.deletion_date.is_some());

    let invalid_state = |r: Result<_, _>| {
        assert_error(r, Code::FailedPrecondition, "KMSInvalidStateException");
    };
    invalid_state(
        client
            .encrypt(pb::EncryptRequest {
                key_id: id.clone(),
                plaintext: b"x".to_vec(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
    );
    invalid_state(
        client
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: blob.clone(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
    );
    invalid_state(
        client
            .enable_key(pb::EnableKeyRequest { key_id: id.clone() })
            .await
            .map(|_| ()),
    );
    invalid_state(
        client
            .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
            .await
            .map(|_| ()),
    );
    invalid_state(
        client
            .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
                key_id: id.clone(),
                pending_window_in_days: Some(7),
            })
            .await
            .map(|_| ()),
    );
    invalid_state(
        client
            .update_key_description(pb::UpdateKeyDescriptionRequest {
                key_id: id.clone(),
                description: "x".into(),
            })
            .await
            .map(|_| ()),
    );

    let cancelled = client
        .cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert!(cancelled.key_id.ends_with(&id));
    // As in AWS, a key whose deletion is cancelled comes back Disabled.
    let meta = describe(&client, &id).await.unwrap();
    assert_eq!(meta.key_state(), pb::KeyState::Disabled);
    assert_eq!(
        (meta.deletion_date, meta.pending_deletion_window_in_days),
        (None, None)
    );
    invalid_state(
        client
            .cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: id.clone() })
            .await
            .map(|_| ()),
    );
    client
        .enable_key(pb::EnableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    let plain = client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .unwrap()
        .plaintext;
    assert_eq!(plain, b"keep");
}

#[tokio::test]
async fn key_is_really_deleted_when_the_window_ends() {
    let server = TestServer::start().await;
    let client = server.client();
    let doomed = create_key(&client).await;
    let survivor = create_key(&client).await;
    client
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/doomed".into(),
            target_key_id: doomed.clone(),
        })
        .await
        .unwrap();
    let blob = encrypt(&client, &doomed, b"gone soon", &[]).await;
    schedule_deletion(&client, &doomed, 7).await;
    let db_path = server.data_dir.join("vault.db");
    let sealed: Vec<u8> = rusqlite::Connection::open(&db_path)
        .unwrap()
        .query_row(
            "SELECT sealed FROM key_materials WHERE key_id = ?1",
            [&doomed],
            |r| r.get(0),
        )
        .unwrap();

    server.clock.advance(DAY * 7 - Duration::from_secs(1));
    assert_eq!(
        describe(&client, &doomed).await.unwrap().key_state(),
        pb::KeyState::PendingDeletion
    );

    server.clock.advance(Duration::from_secs(1));
    assert_error(
        describe(&client, &doomed).await,
        Code::NotFound,
        "NotFoundException",
    );
    assert_error(
        describe(&client, "alias/doomed").await,
        Code::NotFound,
        "NotFoundException",
    );
    assert_error(
        client
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: blob,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    let listed: Vec<String> = client
        .list_keys(pb::ListKeysRequest::default())
        .await
        .unwrap()
        .keys
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&survivor));
    let aliases = client
        .list_aliases(pb::ListAliasesRequest::default())
        .await
        .unwrap();
    assert!(aliases.aliases.is_empty());

    // The rows and the sealed material are gone from the database, not just hidden.
    let db = rusqlite::Connection::open(server.data_dir.join("vault.db")).unwrap();
    let rows: i64 = db
        .query_row(
            "SELECT (SELECT count(*) FROM keys WHERE id = ?1) + (SELECT count(*) FROM key_materials WHERE key_id = ?1)",
            [&doomed],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
    // Not even the sealed bytes linger in free pages or in the WAL.
    let mut on_disk = Vec::new();
    for entry in std::fs::read_dir(&server.data_dir).unwrap() {
        on_disk.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(
        !on_disk
            .windows(sealed.len())
            .any(|w| w == sealed.as_slice())
    );
    // And they stay gone after a restart.
    let server = server.restart().await;
    assert_error(
        describe(&server.client(), &doomed).await,
        Code::NotFound,
        "NotFoundException",
    );
    describe(&server.client(), &survivor).await.unwrap();
}

#[tokio::test]
async fn background_maintenance_deletes_keys_nobody_touches() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    schedule_deletion(&client, &id, 7).await;
    assert_eq!(server.vault.kms.run_maintenance().unwrap().deleted, 0);
    server.clock.advance(DAY * 8);
    assert_eq!(server.vault.kms.run_maintenance().unwrap().deleted, 1);
    let db = rusqlite::Connection::open(server.data_dir.join("vault.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
}
