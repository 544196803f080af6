//! Imported key material (bring your own key) through the real server: the PendingImport life
//! cycle, both wrapping methods, re-import of the same material only, expiry by the clock, rotation
//! to new imported material, and every error AWS gives on the way.

use std::time::Duration;

use aes_kw::{KeyInit, KwpAes256};
use tonic::Code;
use vaultd::{
    client::{Client, ClientError},
    crypto::{
        asymmetric::{AsymmetricSpec, PrivateKey, PublicKey},
        blob,
        context::EncryptionContext,
        secret::Key256,
    },
    model::{EncryptionAlgorithm, MessageType, SigningAlgorithm},
    pb,
};

use crate::{
    asymmetric::public_key,
    common::{TestServer, assert_error, create_key, ctx, decrypt, encrypt},
};

async fn external_key(client: &Client, spec: pb::KeySpec, usage: pb::KeyUsage) -> pb::KeyMetadata {
    client
        .create_key(pb::CreateKeyRequest {
            key_spec: spec as i32,
            key_usage: usage as i32,
            origin: pb::OriginType::External as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

async fn parameters(
    client: &Client,
    key_id: &str,
    algorithm: pb::AlgorithmSpec,
) -> Result<pb::GetParametersForImportResponse, ClientError> {
    client
        .get_parameters_for_import(pb::GetParametersForImportRequest {
            key_id: key_id.into(),
            wrapping_algorithm: algorithm as i32,
            wrapping_key_spec: pb::WrappingKeySpec::Rsa2048 as i32,
        })
        .await
}

/// Wraps material as the caller's side of AWS's import does.
fn wrap(
    parameters: &pb::GetParametersForImportResponse,
    algorithm: pb::AlgorithmSpec,
    material: &[u8],
) -> Vec<u8> {
    let public = PublicKey::from_der(AsymmetricSpec::Rsa2048, &parameters.public_key).unwrap();
    match algorithm {
        pb::AlgorithmSpec::RsaesOaepSha256 => public
            .encrypt(EncryptionAlgorithm::RsaesOaepSha256, material)
            .unwrap(),
        pb::AlgorithmSpec::RsaesOaepSha1 => public
            .encrypt(EncryptionAlgorithm::RsaesOaepSha1, material)
            .unwrap(),
        pb::AlgorithmSpec::RsaAesKeyWrapSha256 => {
            let aes_key = [0x5a; 32];
            let mut out = public
                .encrypt(EncryptionAlgorithm::RsaesOaepSha256, &aes_key)
                .unwrap();
            let mut buf = vec![0; material.len() + 16];
            let wrapped = KwpAes256::new_from_slice(&aes_key)
                .unwrap()
                .wrap_key(material, &mut buf)
                .unwrap();
            out.extend_from_slice(wrapped);
            out
        }
        other => panic!("{other:?}"),
    }
}

async fn import(
    client: &Client,
    key_id: &str,
    parameters: &pb::GetParametersForImportResponse,
    encrypted: Vec<u8>,
    valid_to: Option<prost_types::Timestamp>,
    import_type: pb::ImportType,
) -> Result<pb::ImportKeyMaterialResponse, ClientError> {
    client
        .import_key_material(pb::ImportKeyMaterialRequest {
            key_id: key_id.into(),
            import_token: parameters.import_token.clone(),
            encrypted_key_material: encrypted,
            valid_to,
            import_type: import_type as i32,
            ..Default::default()
        })
        .await
}

async fn state(client: &Client, key_id: &str) -> pb::KeyMetadata {
    client
        .describe_key(pb::DescribeKeyRequest {
            key_id: key_id.into(),
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

fn after(server: &TestServer, d: Duration) -> prost_types::Timestamp {
    let t = (server.clock.now_plus(d))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    prost_types::Timestamp {
        seconds: t.as_secs() as i64,
        nanos: 0,
    }
}

trait Plus {
    fn now_plus(&self, d: Duration) -> std::time::SystemTime;
}

impl Plus for vaultd::clock::ManualClock {
    fn now_plus(&self, d: Duration) -> std::time::SystemTime {
        use vaultd::clock::Clock;
        self.now() + d
    }
}

/// An EXTERNAL key with `material` imported (wrapped with RSAES_OAEP_SHA_256), and the import
/// parameters it used.
async fn imported_key(
    server: &TestServer,
    spec: pb::KeySpec,
    usage: pb::KeyUsage,
    material: &[u8],
    valid_to: Option<Duration>,
) -> (String, pb::GetParametersForImportResponse) {
    let client = server.client();
    let id = external_key(&client, spec, usage).await.key_id;
    let oaep = pb::AlgorithmSpec::RsaesOaepSha256;
    let p = parameters(&client, &id, oaep).await.unwrap();
    import(
        &client,
        &id,
        &p,
        wrap(&p, oaep, material),
        valid_to.map(|d| after(server, d)),
        pb::ImportType::Unspecified,
    )
    .await
    .unwrap();
    (id, p)
}

#[tokio::test]
async fn imported_symmetric_material_decrypts_what_the_original_encrypted() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = external_key(
        &client,
        pb::KeySpec::SymmetricDefault,
        pb::KeyUsage::EncryptDecrypt,
    )
    .await;
    assert_eq!(key.key_state(), pb::KeyState::PendingImport);
    assert!(!key.enabled);
    assert_eq!(key.current_key_material_id, "");
    let id = key.key_id;
    assert_error(
        client
            .encrypt(pb::EncryptRequest {
                key_id: id.clone(),
                plaintext: b"x".to_vec(),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );

    let material = [0x42u8; 32];
    // Encrypted offline with the original material, in vaultd's blob format (crypto.md §1).
    let context: EncryptionContext = ctx(&[("tenant", "7")]).into();
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let offline = blob::seal(
        &Key256::from_bytes(material),
        *uuid.as_bytes(),
        1,
        &context,
        b"made before import",
    )
    .unwrap();

    let p = parameters(&client, &id, pb::AlgorithmSpec::RsaesOaepSha256)
        .await
        .unwrap();
    assert!(p.key_id.ends_with(&id));
    let answer = import(
        &client,
        &id,
        &p,
        wrap(&p, pb::AlgorithmSpec::RsaesOaepSha256, &material),
        None,
        pb::ImportType::Unspecified,
    )
    .await
    .unwrap();
    assert_eq!(answer.key_material_id, "1");
    let metadata = state(&client, &id).await;
    assert_eq!(metadata.key_state(), pb::KeyState::Enabled);
    assert_eq!(metadata.origin(), pb::OriginType::External);
    assert_eq!(metadata.current_key_material_id, "1");
    assert_eq!(
        metadata.expiration_model(),
        pb::ExpirationModelType::KeyMaterialDoesNotExpire
    );
    assert_eq!(
        decrypt(&client, &offline, &[("tenant", "7")])
            .await
            .unwrap(),
        b"made before import"
    );
    let blob = encrypt(&client, &id, b"made by vaultd", &[]).await;
    let opened = blob::open(
        &Key256::from_bytes(material),
        &blob,
        &EncryptionContext::new(),
    )
    .unwrap();
    assert_eq!(&*opened, b"made by vaultd");

    // Deleted material: the key waits for an import; only the same material comes back.
    let deleted = client
        .delete_imported_key_material(pb::DeleteImportedKeyMaterialRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert!(deleted.key_id.ends_with(&id));
    assert_eq!(
        state(&client, &id).await.key_state(),
        pb::KeyState::PendingImport
    );
    assert_error(
        decrypt(&client, &blob, &[]).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    assert_error(
        client
            .delete_imported_key_material(pb::DeleteImportedKeyMaterialRequest {
                key_id: id.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    let p = parameters(&client, &id, pb::AlgorithmSpec::RsaAesKeyWrapSha256)
        .await
        .unwrap();
    assert_error(
        import(
            &client,
            &id,
            &p,
            wrap(&p, pb::AlgorithmSpec::RsaAesKeyWrapSha256, &[0x43; 32]),
            None,
            pb::ImportType::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "IncorrectKeyMaterialException",
    );
    import(
        &client,
        &id,
        &p,
        wrap(&p, pb::AlgorithmSpec::RsaAesKeyWrapSha256, &material),
        None,
        pb::ImportType::Unspecified,
    )
    .await
    .unwrap();
    assert_eq!(
        decrypt(&client, &blob, &[]).await.unwrap(),
        b"made by vaultd"
    );

    // It all survives a restart.
    let server = server.restart().await;
    let client = server.client();
    assert_eq!(
        decrypt(&client, &offline, &[("tenant", "7")])
            .await
            .unwrap(),
        b"made before import"
    );
}

#[tokio::test]
async fn import_refuses_what_aws_refuses() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = external_key(
        &client,
        pb::KeySpec::SymmetricDefault,
        pb::KeyUsage::EncryptDecrypt,
    )
    .await
    .key_id;
    let other = external_key(
        &client,
        pb::KeySpec::SymmetricDefault,
        pb::KeyUsage::EncryptDecrypt,
    )
    .await
    .key_id;
    let generated = create_key(&client).await;
    let oaep = pb::AlgorithmSpec::RsaesOaepSha256;

    // Only EXTERNAL keys; a wrapping algorithm and key spec are required; no PKCS#1 v1.5.
    assert_error(
        parameters(&client, &generated, oaep).await,
        Code::InvalidArgument,
        "UnsupportedOperationException",
    );
    assert_error(
        parameters(&client, &id, pb::AlgorithmSpec::RsaesPkcs1V15).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        parameters(&client, &id, pb::AlgorithmSpec::Unspecified).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        client
            .get_parameters_for_import(pb::GetParametersForImportRequest {
                key_id: id.clone(),
                wrapping_algorithm: oaep as i32,
                wrapping_key_spec: 0,
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );

    let p = parameters(&client, &id, oaep).await.unwrap();
    let p_other = parameters(&client, &other, oaep).await.unwrap();
    let material = [1u8; 32];
    // A token of another key, or a damaged one.
    assert_error(
        import(
            &client,
            &id,
            &p_other,
            wrap(&p_other, oaep, &material),
            None,
            pb::ImportType::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "InvalidImportTokenException",
    );
    let mut damaged = p.clone();
    damaged.import_token[20] ^= 1;
    assert_error(
        import(
            &client,
            &id,
            &damaged,
            wrap(&p, oaep, &material),
            None,
            pb::ImportType::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "InvalidImportTokenException",
    );
    // Material under another wrapping key, garbage, or of the wrong length.
    assert_error(
        import(
            &client,
            &id,
            &p,
            wrap(&p_other, oaep, &material),
            None,
            pb::ImportType::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    assert_error(
        import(
            &client,
            &id,
            &p,
            vec![7; 256],
            None,
            pb::ImportType::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    assert_error(
        import(
            &client,
            &id,
            &p,
            wrap(&p, oaep, &[1; 16]),
            None,
            pb::ImportType::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "IncorrectKeyMaterialException",
    );
    // ValidTo in the past, too far ahead, or with a model that does not expire.
    for valid_to in [
        after(&server, Duration::ZERO),
        after(&server, Duration::from_secs(366 * 86_400)),
    ] {
        assert_error(
            import(
                &client,
                &id,
                &p,
                wrap(&p, oaep, &material),
                Some(valid_to),
                pb::ImportType::Unspecified,
            )
            .await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    assert_error(
        client
            .import_key_material(pb::ImportKeyMaterialRequest {
                key_id: id.clone(),
                import_token: p.import_token.clone(),
                encrypted_key_material: wrap(&p, oaep, &material),
                valid_to: Some(after(&server, Duration::from_secs(3600))),
                expiration_model: pb::ExpirationModelType::KeyMaterialDoesNotExpire as i32,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    // Parameters are valid for 24 hours.
    server.clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert_error(
        import(
            &client,
            &id,
            &p,
            wrap(&p, oaep, &material),
            None,
            pb::ImportType::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "ExpiredImportTokenException",
    );
    // Imported keys do not rotate automatically.
    assert_error(
        client
            .enable_key_rotation(pb::EnableKeyRotationRequest {
                key_id: id,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "UnsupportedOperationException",
    );
}

#[tokio::test]
async fn imported_material_expires_at_valid_to() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = external_key(
        &client,
        pb::KeySpec::SymmetricDefault,
        pb::KeyUsage::EncryptDecrypt,
    )
    .await
    .key_id;
    let oaep = pb::AlgorithmSpec::RsaesOaepSha1;
    let p = parameters(&client, &id, oaep).await.unwrap();
    let valid_to = after(&server, Duration::from_secs(2 * 86_400));
    import(
        &client,
        &id,
        &p,
        wrap(&p, oaep, &[9; 32]),
        Some(valid_to),
        pb::ImportType::Unspecified,
    )
    .await
    .unwrap();
    let metadata = state(&client, &id).await;
    assert_eq!(
        metadata.expiration_model(),
        pb::ExpirationModelType::KeyMaterialExpires
    );
    assert_eq!(metadata.valid_to.unwrap().seconds, valid_to.seconds);
    let blob = encrypt(&client, &id, b"short-lived", &[]).await;

    server.clock.advance(Duration::from_secs(2 * 86_400 - 1));
    assert_eq!(decrypt(&client, &blob, &[]).await.unwrap(), b"short-lived");
    server.clock.advance(Duration::from_secs(1));
    // Gone at ValidTo, without anyone deleting it; the key waits for an import.
    assert_error(
        decrypt(&client, &blob, &[]).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    let metadata = state(&client, &id).await;
    assert_eq!(metadata.key_state(), pb::KeyState::PendingImport);
    assert!(metadata.valid_to.is_none());

    // Re-imported (without expiry this time), the old ciphertext decrypts again, also after a
    // restart.
    let p = parameters(&client, &id, oaep).await.unwrap();
    import(
        &client,
        &id,
        &p,
        wrap(&p, oaep, &[9; 32]),
        None,
        pb::ImportType::ExistingKeyMaterial,
    )
    .await
    .unwrap();
    let server = server.restart().await;
    let client = server.client();
    assert_eq!(decrypt(&client, &blob, &[]).await.unwrap(), b"short-lived");
}

#[tokio::test]
async fn maintenance_deletes_expired_material_of_keys_nobody_touches() {
    let server = TestServer::start().await;
    let client = server.client();
    let (id, _) = imported_key(
        &server,
        pb::KeySpec::Hmac256,
        pb::KeyUsage::GenerateVerifyMac,
        &[3; 48],
        Some(Duration::from_secs(86_400)),
    )
    .await;
    server.clock.advance(Duration::from_secs(86_400));
    let report = server.vault.kms.run_maintenance().unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(
        state(&client, &id).await.key_state(),
        pb::KeyState::PendingImport
    );
}

#[tokio::test]
async fn imported_symmetric_keys_rotate_on_demand_to_new_imported_material() {
    let server = TestServer::start().await;
    let client = server.client();
    let (id, p) = imported_key(
        &server,
        pb::KeySpec::SymmetricDefault,
        pb::KeyUsage::EncryptDecrypt,
        &[1; 32],
        None,
    )
    .await;
    let oaep = pb::AlgorithmSpec::RsaesOaepSha256;
    let rotate =
        || client.rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: id.clone() });
    // Nothing to rotate to yet.
    assert_error(
        rotate().await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    let old = encrypt(&client, &id, b"old", &[]).await;

    // The same material is not new material.
    assert_error(
        import(
            &client,
            &id,
            &p,
            wrap(&p, oaep, &[1; 32]),
            None,
            pb::ImportType::NewKeyMaterial,
        )
        .await,
        Code::InvalidArgument,
        "IncorrectKeyMaterialException",
    );
    let pending = import(
        &client,
        &id,
        &p,
        wrap(&p, oaep, &[2; 32]),
        None,
        pb::ImportType::NewKeyMaterial,
    )
    .await
    .unwrap();
    assert_eq!(pending.key_material_id, "2");
    // Imported, not yet current: new ciphertexts still use version 1.
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let blob = encrypt(&client, &id, b"still v1", &[]).await;
    assert_eq!(blob::parse_header(&blob).unwrap().material_version, 1);
    rotate().await.unwrap();
    let blob = encrypt(&client, &id, b"v2", &[]).await;
    assert_eq!(blob::parse_header(&blob).unwrap().material_version, 2);
    let opened = blob::open(
        &Key256::from_bytes([2; 32]),
        &blob,
        &EncryptionContext::new(),
    )
    .unwrap();
    assert_eq!(&*opened, b"v2");
    assert_eq!(blob::parse_header(&blob).unwrap().key_id, *uuid.as_bytes());
    assert_eq!(decrypt(&client, &old, &[]).await.unwrap(), b"old");
    let rotations = client
        .list_key_rotations(pb::ListKeyRotationsRequest {
            key_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .rotations;
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].rotation_type(), pb::RotationType::OnDemand);
    // New material for an HMAC key is refused (rotation is for symmetric keys only).
    let hmac = external_key(
        &client,
        pb::KeySpec::Hmac256,
        pb::KeyUsage::GenerateVerifyMac,
    )
    .await
    .key_id;
    let p = parameters(&client, &hmac, oaep).await.unwrap();
    assert_error(
        import(
            &client,
            &hmac,
            &p,
            wrap(&p, oaep, &[5; 32]),
            None,
            pb::ImportType::NewKeyMaterial,
        )
        .await,
        Code::InvalidArgument,
        "UnsupportedOperationException",
    );
}

#[tokio::test]
async fn imported_asymmetric_keys_sign_with_the_callers_key() {
    let server = TestServer::start().await;
    let client = server.client();
    let id = external_key(&client, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify)
        .await
        .key_id;
    // Asymmetric material is wrapped with RSA + AES key wrap, as AWS requires.
    assert_error(
        parameters(&client, &id, pb::AlgorithmSpec::RsaesOaepSha256).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    let ours = PrivateKey::generate(AsymmetricSpec::EccNistP256).unwrap();
    let kw = pb::AlgorithmSpec::RsaAesKeyWrapSha256;
    let p = parameters(&client, &id, kw).await.unwrap();
    // A key of another spec is not this key's material.
    let rsa = PrivateKey::generate(AsymmetricSpec::Rsa2048).unwrap();
    assert_error(
        import(
            &client,
            &id,
            &p,
            wrap(&p, kw, &rsa.to_pkcs8_der()),
            None,
            pb::ImportType::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "IncorrectKeyMaterialException",
    );
    import(
        &client,
        &id,
        &p,
        wrap(&p, kw, &ours.to_pkcs8_der()),
        None,
        pb::ImportType::Unspecified,
    )
    .await
    .unwrap();
    assert_eq!(
        public_key(&client, &id).await.public_key,
        ours.public_key_der()
    );
    // Signed offline with our own key, verified by vaultd; signed by vaultd, verified offline.
    let offline = ours
        .sign(SigningAlgorithm::EcdsaSha256, MessageType::Raw, b"m")
        .unwrap();
    client
        .verify(pb::VerifyRequest {
            key_id: id.clone(),
            message: b"m".to_vec(),
            signature: offline,
            signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let signed = client
        .sign(pb::SignRequest {
            key_id: id.clone(),
            message: b"n".to_vec(),
            signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        ours.public_key()
            .verify(
                SigningAlgorithm::EcdsaSha256,
                MessageType::Raw,
                b"n",
                &signed.signature
            )
            .unwrap()
    );
}

#[tokio::test]
async fn a_key_with_several_imported_versions_needs_all_of_them_back() {
    let server = TestServer::start().await;
    let client = server.client();
    let (v1, v2) = ([1u8; 32], [2u8; 32]);
    let (id, p) = imported_key(
        &server,
        pb::KeySpec::SymmetricDefault,
        pb::KeyUsage::EncryptDecrypt,
        &v1,
        Some(Duration::from_secs(10 * 86_400)),
    )
    .await;
    let valid_to = after(&server, Duration::from_secs(10 * 86_400));
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let oaep = pb::AlgorithmSpec::RsaesOaepSha256;
    let existing = pb::ImportType::ExistingKeyMaterial;
    let old = encrypt(&client, &id, b"under v1", &[]).await;

    // Expiry is the key's, set with its current material: new material cannot change it.
    assert_error(
        import(
            &client,
            &id,
            &p,
            wrap(&p, oaep, &v2),
            Some(after(&server, Duration::from_secs(86_400))),
            pb::ImportType::NewKeyMaterial,
        )
        .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    import(
        &client,
        &id,
        &p,
        wrap(&p, oaep, &v2),
        None,
        pb::ImportType::NewKeyMaterial,
    )
    .await
    .unwrap();
    assert_eq!(
        state(&client, &id).await.valid_to.unwrap().seconds,
        valid_to.seconds
    );
    // Material waiting for rotation is not in use: a blob naming it is refused.
    let context = EncryptionContext::new();
    let early = blob::seal(
        &Key256::from_bytes(v2),
        *uuid.as_bytes(),
        2,
        &context,
        b"early",
    )
    .unwrap();
    assert_error(
        decrypt(&client, &early, &[]).await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    client
        .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_eq!(decrypt(&client, &early, &[]).await.unwrap(), b"early");

    // Deleted, then only v2 (the current one) back: still waiting for v1.
    client
        .delete_imported_key_material(pb::DeleteImportedKeyMaterialRequest { key_id: id.clone() })
        .await
        .unwrap();
    let p = parameters(&client, &id, oaep).await.unwrap();
    import(&client, &id, &p, wrap(&p, oaep, &v2), None, existing)
        .await
        .unwrap();
    assert_eq!(
        state(&client, &id).await.key_state(),
        pb::KeyState::PendingImport
    );
    // What it holds can still be deleted.
    client
        .delete_imported_key_material(pb::DeleteImportedKeyMaterialRequest { key_id: id.clone() })
        .await
        .unwrap();
    for material in [v1, v2] {
        import(&client, &id, &p, wrap(&p, oaep, &material), None, existing)
            .await
            .unwrap();
    }
    assert_eq!(state(&client, &id).await.key_state(), pb::KeyState::Enabled);
    assert_eq!(decrypt(&client, &old, &[]).await.unwrap(), b"under v1");
    assert_eq!(decrypt(&client, &early, &[]).await.unwrap(), b"early");
}
