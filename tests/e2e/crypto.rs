//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext), GenerateRandom and rotation, as
//! a user of AWS KMS would notice them.

use tonic::Code;
use vaultd::{clock::DAY, pb};

use crate::common::*;

fn material_version(blob: &[u8]) -> u32 {
    u32::from_be_bytes(blob[18..22].try_into().unwrap())
}

#[tokio::test]
async fn encrypt_and_decrypt_round_trip_with_context() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    client
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/app".into(),
            target_key_id: id.clone(),
        })
        .await
        .unwrap();
    let context = [("tenant", "42"), ("app", "billing")];
    let response = client
        .encrypt(pb::EncryptRequest {
            key_id: "alias/app".into(),
            plaintext: b"card 4111".to_vec(),
            encryption_context: ctx(&context),
            ..Default::default()
        })
        .await
        .unwrap();
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{id}");
    assert_eq!(response.key_id, arn);
    assert_eq!(
        response.encryption_algorithm(),
        pb::EncryptionAlgorithmSpec::SymmetricDefault
    );
    let blob = response.ciphertext_blob;
    // crypto.md §1: version, suite, key id, material version, salt, iv, ciphertext, tag.
    assert_eq!(blob.len(), 9 + 66);
    assert_eq!(&blob[..2], &[1, 1]);
    assert_eq!(&blob[2..18], uuid::Uuid::parse_str(&id).unwrap().as_bytes());
    assert_eq!(material_version(&blob), 1);

    let decrypted = client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob.clone(),
            // Context order does not matter.
            encryption_context: ctx(&[("app", "billing"), ("tenant", "42")]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext, b"card 4111");
    assert_eq!(decrypted.key_id, arn);
    assert_eq!(decrypted.key_material_id, "1");

    // Passing the right KeyId in any form is accepted.
    for key_id in [id.clone(), arn.clone(), "alias/app".to_string()] {
        client
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: blob.clone(),
                encryption_context: ctx(&context),
                key_id,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    // Two encryptions of the same plaintext differ.
    assert_ne!(
        encrypt(&client, &id, b"same", &[]).await,
        encrypt(&client, &id, b"same", &[]).await
    );
}

#[tokio::test]
async fn plaintext_and_ciphertext_limits() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    let blob = encrypt(&client, &id, &[7u8; 4096], &[]).await;
    assert_eq!(decrypt(&client, &blob, &[]).await.unwrap(), vec![7u8; 4096]);
    for size in [0, 4097] {
        assert_error(
            client
                .encrypt(pb::EncryptRequest {
                    key_id: id.clone(),
                    plaintext: vec![1; size],
                    ..Default::default()
                })
                .await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    for size in [0, 6145] {
        assert_error(
            decrypt(&client, &vec![1; size], &[]).await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    assert_error(
        client
            .encrypt(pb::EncryptRequest {
                key_id: id.clone(),
                plaintext: b"x".to_vec(),
                encryption_algorithm: pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidKeyUsageException",
    );
    let huge_context = [("k", &*"v".repeat(9000))];
    assert_error(
        client
            .encrypt(pb::EncryptRequest {
                key_id: id,
                plaintext: b"x".to_vec(),
                encryption_context: ctx(&huge_context),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
}

#[tokio::test]
async fn every_decrypt_failure_looks_the_same() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    let other = create_key(&client).await;
    let context = [("purpose", "test")];
    let blob = encrypt(&client, &id, b"secret value", &context).await;

    type Case<'a> = (String, Vec<u8>, Vec<(&'a str, &'a str)>);
    let mut bad_blobs: Vec<Case> = Vec::new();
    for (name, offset) in [
        ("version", 0),
        ("suite", 1),
        ("key id", 5),
        ("material version", 20),
        ("salt", 30),
        ("iv", 40),
        ("ciphertext", 52),
        ("tag", blob.len() - 1),
    ] {
        let mut b = blob.clone();
        b[offset] ^= 0x01;
        bad_blobs.push((format!("tampered {name}"), b, context.to_vec()));
    }
    let mut wrong_key = blob.clone();
    wrong_key[2..18].copy_from_slice(uuid::Uuid::parse_str(&other).unwrap().as_bytes());
    bad_blobs.push(("names another key".into(), wrong_key, context.to_vec()));
    bad_blobs.push((
        "wrong context".into(),
        blob.clone(),
        vec![("purpose", "other")],
    ));
    bad_blobs.push(("missing context".into(), blob.clone(), vec![]));
    bad_blobs.push((
        "extra context".into(),
        blob.clone(),
        vec![("purpose", "test"), ("x", "y")],
    ));
    bad_blobs.push((
        "truncated".into(),
        blob[..blob.len() - 1].to_vec(),
        context.to_vec(),
    ));
    bad_blobs.push(("header only".into(), blob[..50].to_vec(), context.to_vec()));
    bad_blobs.push((
        "appended".into(),
        [blob.clone(), vec![0]].concat(),
        context.to_vec(),
    ));
    bad_blobs.push(("garbage".into(), vec![0x42; 80], context.to_vec()));

    let mut messages = std::collections::HashSet::new();
    for (name, bad, context) in bad_blobs {
        let err = decrypt(&client, &bad, &context).await.expect_err(&name);
        assert_eq!(
            (err.code, err.reason()),
            (Code::InvalidArgument, "InvalidCiphertextException"),
            "{name}: {err}"
        );
        messages.insert(err.message);
    }
    assert_eq!(
        messages.len(),
        1,
        "one message for every failure: {messages:?}"
    );
    assert!(!messages.iter().next().unwrap().contains("secret"));
    assert_eq!(
        decrypt(&client, &blob, &context).await.unwrap(),
        b"secret value"
    );
}

#[tokio::test]
async fn decrypt_with_the_wrong_key_id_is_incorrect_key() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    let other = create_key(&client).await;
    let blob = encrypt(&client, &id, b"x", &[]).await;
    let request = |key_id: String| pb::DecryptRequest {
        ciphertext_blob: blob.clone(),
        key_id,
        ..Default::default()
    };
    assert_error(
        client.decrypt(request(other)).await,
        Code::InvalidArgument,
        "IncorrectKeyException",
    );
    assert_error(
        client
            .decrypt(request(uuid::Uuid::new_v4().to_string()))
            .await,
        Code::NotFound,
        "NotFoundException",
    );
    client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_error(
        client.decrypt(request(id)).await,
        Code::FailedPrecondition,
        "DisabledException",
    );
}

#[tokio::test]
async fn re_encrypt_moves_a_ciphertext_between_keys_and_contexts() {
    let server = TestServer::start().await;
    let client = server.client();
    let source = create_key(&client).await;
    let destination = create_key(&client).await;
    let blob = encrypt(&client, &source, b"migrate me", &[("v", "1")]).await;
    let re = client
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: blob.clone(),
            source_encryption_context: ctx(&[("v", "1")]),
            destination_key_id: destination.clone(),
            destination_encryption_context: ctx(&[("v", "2")]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(re.source_key_id.ends_with(&source));
    assert!(re.key_id.ends_with(&destination));
    assert_eq!(
        &re.ciphertext_blob[2..18],
        uuid::Uuid::parse_str(&destination).unwrap().as_bytes()
    );
    assert_eq!(
        decrypt(&client, &re.ciphertext_blob, &[("v", "2")])
            .await
            .unwrap(),
        b"migrate me"
    );
    assert_error(
        decrypt(&client, &re.ciphertext_blob, &[("v", "1")]).await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );

    let base = pb::ReEncryptRequest {
        ciphertext_blob: blob,
        source_encryption_context: ctx(&[("v", "1")]),
        destination_key_id: destination.clone(),
        ..Default::default()
    };
    assert_error(
        client
            .re_encrypt(pb::ReEncryptRequest {
                source_key_id: destination.clone(),
                ..base.clone()
            })
            .await,
        Code::InvalidArgument,
        "IncorrectKeyException",
    );
    assert_error(
        client
            .re_encrypt(pb::ReEncryptRequest {
                source_encryption_context: ctx(&[("v", "9")]),
                ..base.clone()
            })
            .await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    assert_error(
        client
            .re_encrypt(pb::ReEncryptRequest {
                destination_key_id: String::new(),
                ..base.clone()
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    client
        .disable_key(pb::DisableKeyRequest {
            key_id: destination,
        })
        .await
        .unwrap();
    assert_error(
        client.re_encrypt(base).await,
        Code::FailedPrecondition,
        "DisabledException",
    );
}

#[tokio::test]
async fn generate_data_key_for_envelope_encryption() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    let context = [("file", "backup.tar")];
    for (spec, bytes, expected) in [
        (pb::DataKeySpec::Aes256 as i32, None, 32),
        (pb::DataKeySpec::Aes128 as i32, None, 16),
        (0, Some(1), 1),
        (0, Some(64), 64),
        (0, Some(1024), 1024),
    ] {
        let dk = client
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: id.clone(),
                encryption_context: ctx(&context),
                key_spec: spec,
                number_of_bytes: bytes,
            })
            .await
            .unwrap();
        assert_eq!(dk.plaintext.len(), expected);
        assert!(dk.key_id.ends_with(&id));
        assert_eq!(
            decrypt(&client, &dk.ciphertext_blob, &context)
                .await
                .unwrap(),
            dk.plaintext
        );
    }
    let a = client
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: id.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let b = client
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: id.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_ne!(a.plaintext, b.plaintext);

    for (spec, bytes) in [
        (0, None),
        (0, Some(0)),
        (0, Some(1025)),
        (pb::DataKeySpec::Aes256 as i32, Some(32)),
        (7, None),
    ] {
        assert_error(
            client
                .generate_data_key(pb::GenerateDataKeyRequest {
                    key_id: id.clone(),
                    key_spec: spec,
                    number_of_bytes: bytes,
                    ..Default::default()
                })
                .await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }

    let without = client
        .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
            key_id: id.clone(),
            encryption_context: ctx(&context),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        decrypt(&client, &without.ciphertext_blob, &context)
            .await
            .unwrap()
            .len(),
        32
    );
    client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_error(
        client
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: id,
                key_spec: pb::DataKeySpec::Aes256 as i32,
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        "DisabledException",
    );
}

#[tokio::test]
async fn generate_random_bounds() {
    let server = TestServer::start().await;
    let client = server.client();
    for n in [1, 32, 1024] {
        let bytes = client
            .generate_random(pb::GenerateRandomRequest {
                number_of_bytes: Some(n),
            })
            .await
            .unwrap()
            .plaintext;
        assert_eq!(bytes.len(), n as usize);
    }
    let a = client
        .generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(32),
        })
        .await
        .unwrap();
    let b = client
        .generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(32),
        })
        .await
        .unwrap();
    assert_ne!(a.plaintext, b.plaintext);
    for n in [None, Some(0), Some(1025), Some(-1)] {
        assert_error(
            client
                .generate_random(pb::GenerateRandomRequest { number_of_bytes: n })
                .await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
}

#[tokio::test]
async fn on_demand_rotation_keeps_old_ciphertexts_readable() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    let old = encrypt(&client, &id, b"before", &[]).await;
    assert_eq!(material_version(&old), 1);
    let rotated = client
        .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_eq!(rotated.key_id, id);
    let new = encrypt(&client, &id, b"after", &[]).await;
    assert_eq!(material_version(&new), 2);
    assert_eq!(decrypt(&client, &old, &[]).await.unwrap(), b"before");
    assert_eq!(decrypt(&client, &new, &[]).await.unwrap(), b"after");
    let meta = client
        .describe_key(pb::DescribeKeyRequest { key_id: id.clone() })
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.current_key_material_id, "2");

    let rotations = client
        .list_key_rotations(pb::ListKeyRotationsRequest {
            key_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rotations.rotations.len(), 1);
    assert_eq!(
        rotations.rotations[0].rotation_type(),
        pb::RotationType::OnDemand
    );
    assert_eq!(rotations.rotations[0].key_material_id, "2");

    // AWS allows ten on-demand rotations per key.
    for _ in 1..10 {
        client
            .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: id.clone() })
            .await
            .unwrap();
    }
    assert_error(
        client
            .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: id.clone() })
            .await,
        Code::FailedPrecondition,
        "LimitExceededException",
    );
    assert_eq!(decrypt(&client, &old, &[]).await.unwrap(), b"before");

    // Paging through rotations.
    let first = client
        .list_key_rotations(pb::ListKeyRotationsRequest {
            key_id: id.clone(),
            limit: Some(4),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(first.truncated);
    let rest = client
        .list_key_rotations(pb::ListKeyRotationsRequest {
            key_id: id.clone(),
            limit: Some(100),
            marker: first.next_marker,
        })
        .await
        .unwrap();
    assert!(!rest.truncated);
    let versions: Vec<String> = first
        .rotations
        .iter()
        .chain(&rest.rotations)
        .map(|r| r.key_material_id.clone())
        .collect();
    assert_eq!(
        versions,
        (2..=11).map(|v| v.to_string()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn automatic_rotation_happens_when_due() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    let status = client
        .get_key_rotation_status(pb::GetKeyRotationStatusRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert!(!status.key_rotation_enabled);
    assert_eq!(
        (status.rotation_period_in_days, status.next_rotation_date),
        (None, None)
    );

    for days in [89, 2561] {
        assert_error(
            client
                .enable_key_rotation(pb::EnableKeyRotationRequest {
                    key_id: id.clone(),
                    rotation_period_in_days: Some(days),
                })
                .await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    client
        .enable_key_rotation(pb::EnableKeyRotationRequest {
            key_id: id.clone(),
            rotation_period_in_days: None,
        })
        .await
        .unwrap();
    let status = client
        .get_key_rotation_status(pb::GetKeyRotationStatusRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(365));
    assert_eq!(
        status.next_rotation_date.unwrap().seconds,
        server.clock.now_secs() + 365 * 86_400
    );

    client
        .enable_key_rotation(pb::EnableKeyRotationRequest {
            key_id: id.clone(),
            rotation_period_in_days: Some(90),
        })
        .await
        .unwrap();
    let old = encrypt(&client, &id, b"v1", &[]).await;
    server.clock.advance(DAY * 89);
    assert_eq!(material_version(&encrypt(&client, &id, b"x", &[]).await), 1);
    server.clock.advance(DAY);
    let new = encrypt(&client, &id, b"v2", &[]).await;
    assert_eq!(material_version(&new), 2);
    assert_eq!(decrypt(&client, &old, &[]).await.unwrap(), b"v1");
    let status = client
        .get_key_rotation_status(pb::GetKeyRotationStatusRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_eq!(
        status.next_rotation_date.unwrap().seconds,
        server.clock.now_secs() + 90 * 86_400
    );
    let rotations = client
        .list_key_rotations(pb::ListKeyRotationsRequest {
            key_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rotations.rotations.len(), 1);
    assert_eq!(
        rotations.rotations[0].rotation_type(),
        pb::RotationType::Automatic
    );

    // A disabled key does not rotate; once re-enabled and past due, it rotates once.
    client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    server.clock.advance(DAY * 400);
    assert_eq!(server.vault.kms.run_maintenance().unwrap().rotated, 0);
    client
        .enable_key(pb::EnableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_eq!(material_version(&encrypt(&client, &id, b"x", &[]).await), 3);
    assert_eq!(material_version(&encrypt(&client, &id, b"x", &[]).await), 3);

    // The background pass rotates keys nobody uses.
    server.clock.advance(DAY * 90);
    assert_eq!(server.vault.kms.run_maintenance().unwrap().rotated, 1);
    assert_eq!(material_version(&encrypt(&client, &id, b"x", &[]).await), 4);

    client
        .disable_key_rotation(pb::DisableKeyRotationRequest { key_id: id.clone() })
        .await
        .unwrap();
    server.clock.advance(DAY * 1000);
    assert_eq!(material_version(&encrypt(&client, &id, b"x", &[]).await), 4);
    let status = client
        .get_key_rotation_status(pb::GetKeyRotationStatusRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert!(!status.key_rotation_enabled);

    // Everything survives a restart: every version still decrypts.
    let server = server.restart().await;
    let client = server.client();
    assert_eq!(decrypt(&client, &old, &[]).await.unwrap(), b"v1");
    assert_eq!(decrypt(&client, &new, &[]).await.unwrap(), b"v2");
    assert_eq!(material_version(&encrypt(&client, &id, b"x", &[]).await), 4);
}

#[tokio::test]
async fn rotation_key_state_rules() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = create_key(&client).await;
    client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_error(
        client
            .enable_key_rotation(pb::EnableKeyRotationRequest {
                key_id: id.clone(),
                rotation_period_in_days: None,
            })
            .await,
        Code::FailedPrecondition,
        "DisabledException",
    );
    assert_error(
        client
            .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: id.clone() })
            .await,
        Code::FailedPrecondition,
        "DisabledException",
    );
    schedule_deletion(&client, &id, 7).await;
    assert_error(
        client
            .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: id.clone() })
            .await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    assert_error(
        client
            .disable_key_rotation(pb::DisableKeyRotationRequest { key_id: id.clone() })
            .await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    // Reading the status is allowed in any state.
    client
        .get_key_rotation_status(pb::GetKeyRotationStatusRequest { key_id: id.clone() })
        .await
        .unwrap();
}
