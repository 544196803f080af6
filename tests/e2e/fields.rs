//! EncryptFields and DecryptFields (crypto.md §4) through a real server: round trips, random and
//! deterministic modes, the MAC over the paths, contexts, policies, and public-key mode (the data
//! key wrapped offline under an RSA key's public key, read back through DecryptFields).

use serde_json::{Value, json};
use tonic::Code;
use vaultd::{
    crypto::{
        asymmetric::{AsymmetricSpec, PublicKey},
        context::EncryptionContext,
        fields::{self, FieldSpec, Wrap},
    },
    pb,
};

use crate::common::*;

fn person() -> Value {
    json!({
        "name": "Ada",
        "ssn": "123-45-6789",
        "email": "ada@example.com",
        "card": {"number": 4111111111111111u64, "cvc": "123"},
        "tags": ["a", 1, null, true],
        "age": 36.5
    })
}

async fn encrypt_fields(
    client: &vaultd::client::Client,
    key_id: &str,
    document: &Value,
    paths: &[&str],
    deterministic: &[&str],
    context: &[(&str, &str)],
) -> Result<Value, vaultd::client::ClientError> {
    client
        .encrypt_fields(pb::EncryptFieldsRequest {
            key_id: key_id.into(),
            document: document.to_string(),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            deterministic_paths: deterministic.iter().map(|p| p.to_string()).collect(),
            encryption_context: ctx(context),
        })
        .await
        .map(|r| serde_json::from_str(&r.document).unwrap())
}

async fn decrypt_fields(
    client: &vaultd::client::Client,
    document: &Value,
) -> Result<Value, vaultd::client::ClientError> {
    client
        .decrypt_fields(pb::DecryptFieldsRequest {
            document: document.to_string(),
            ..Default::default()
        })
        .await
        .map(|r| serde_json::from_str(&r.document).unwrap())
}

fn is_encrypted(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.starts_with("vfe1:"))
}

#[tokio::test]
async fn fields_round_trip_in_both_modes_and_the_rest_stays_readable() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    let original = person();
    let encrypted = encrypt_fields(
        &client,
        &key,
        &original,
        &["/ssn", "/card", "/tags", "/age"],
        &["/email"],
        &[("tenant", "42")],
    )
    .await
    .unwrap();
    for path in ["/ssn", "/card", "/tags", "/age", "/email"] {
        assert!(is_encrypted(encrypted.pointer(path).unwrap()), "{path}");
    }
    assert_eq!(encrypted["name"], "Ada");
    let meta = &encrypted["_vfe"];
    assert_eq!(meta["v"], 1);
    assert_eq!(meta["wrap"], "kms");
    assert_eq!(
        meta["key"],
        format!("arn:aws:kms:us-east-1:000000000000:key/{key}")
    );
    assert_eq!(meta["ctx"], json!({"tenant": "42"}));
    assert_eq!(
        meta["paths"],
        json!(["/age", "/card", "/email", "/ssn", "/tags"])
    );
    // Nothing of the plaintext shows in the encrypted document.
    let text = encrypted.to_string();
    for secret in ["123-45-6789", "ada@example.com", "4111111111111111"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    let decrypted = decrypt_fields(&client, &encrypted).await.unwrap();
    assert_eq!(decrypted, original);
}

#[tokio::test]
async fn deterministic_values_match_across_documents_but_not_across_paths_or_versions() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    let doc = json!({"email": "ada@example.com", "backup_email": "ada@example.com", "ssn": "1"});
    let det = ["/email", "/backup_email"];
    let first = encrypt_fields(&client, &key, &doc, &["/ssn"], &det, &[("a", "1")])
        .await
        .unwrap();
    let second = encrypt_fields(&client, &key, &doc, &["/ssn"], &det, &[("a", "2")])
        .await
        .unwrap();
    // Equal across documents (whatever their context), so a database can search by equality...
    assert_eq!(first["email"], second["email"]);
    // ...while random mode differs every time, and the same value differs across paths.
    assert_ne!(first["ssn"], second["ssn"]);
    assert_ne!(first["email"], first["backup_email"]);

    // After a rotation new documents use the new material, and old ones still decrypt.
    client
        .rotate_key_on_demand(pb::RotateKeyOnDemandRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap();
    let rotated = encrypt_fields(&client, &key, &doc, &["/ssn"], &det, &[("a", "1")])
        .await
        .unwrap();
    assert_ne!(rotated["email"], first["email"]);
    assert_eq!(decrypt_fields(&client, &first).await.unwrap(), doc);
    assert_eq!(decrypt_fields(&client, &rotated).await.unwrap(), doc);
}

#[tokio::test]
async fn the_mac_catches_moved_deleted_duplicated_and_rolled_back_fields() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    let doc = json!({"a": "alpha", "b": "beta", "c": "plain"});
    let encrypted = encrypt_fields(&client, &key, &doc, &["/a", "/b"], &[], &[])
        .await
        .unwrap();
    let invalid = |result| {
        assert_error(result, Code::InvalidArgument, "InvalidCiphertextException");
    };

    let mut swapped = encrypted.clone();
    swapped["a"] = encrypted["b"].clone();
    swapped["b"] = encrypted["a"].clone();
    invalid(decrypt_fields(&client, &swapped).await);

    let mut deleted = encrypted.clone();
    deleted.as_object_mut().unwrap().remove("b");
    invalid(decrypt_fields(&client, &deleted).await);

    let mut duplicated = encrypted.clone();
    duplicated["c"] = encrypted["a"].clone();
    invalid(decrypt_fields(&client, &duplicated).await);

    // A value from an earlier encryption of the same document: its own data key differs.
    let older = encrypt_fields(&client, &key, &doc, &["/a", "/b"], &[], &[])
        .await
        .unwrap();
    let mut rolled_back = encrypted.clone();
    rolled_back["a"] = older["a"].clone();
    invalid(decrypt_fields(&client, &rolled_back).await);

    // The whole metadata of another document with the same paths does not fit these values.
    let mut other_meta = encrypted.clone();
    other_meta["_vfe"] = older["_vfe"].clone();
    invalid(decrypt_fields(&client, &other_meta).await);

    // A changed context: the data key no longer opens.
    let mut context = encrypted.clone();
    context["_vfe"]["ctx"] = json!({"tenant": "evil"});
    invalid(decrypt_fields(&client, &context).await);

    // An unchanged plain member may change (it is not encrypted, and not covered).
    let mut plain = encrypted.clone();
    plain["c"] = json!("edited");
    let decrypted = decrypt_fields(&client, &plain).await.unwrap();
    assert_eq!(decrypted["a"], "alpha");
    assert_eq!(decrypted["c"], "edited");
}

#[tokio::test]
async fn decrypt_fields_checks_the_key_and_context_the_caller_expects() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    let other = create_key(&client).await;
    let encrypted = encrypt_fields(&client, &key, &person(), &["/ssn"], &[], &[("app", "crm")])
        .await
        .unwrap();
    let request = |key_id: &str, context: &[(&str, &str)]| pb::DecryptFieldsRequest {
        document: encrypted.to_string(),
        key_id: key_id.into(),
        encryption_context: ctx(context),
    };
    assert!(
        client
            .decrypt_fields(request(&key, &[("app", "crm")]))
            .await
            .is_ok()
    );
    assert_error(
        client.decrypt_fields(request(&other, &[])).await,
        Code::InvalidArgument,
        "IncorrectKeyException",
    );
    assert_error(
        client
            .decrypt_fields(request("", &[("app", "billing")]))
            .await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
}

#[tokio::test]
async fn policies_apply_generate_data_key_to_encrypt_and_decrypt_to_decrypt() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{key}");
    let writer = server.client_with(
        app_user(
            &server,
            "writer",
            Some(&allow(&["kms:GenerateDataKey"], &arn)),
        )
        .await,
    );
    let reader = server.client_with(
        app_user(
            &server,
            "reader",
            Some(
                &json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow", "Action": "kms:Decrypt", "Resource": arn,
                        "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "42"}}
                    }]
                })
                .to_string(),
            ),
        )
        .await,
    );
    let doc = person();
    let for_42 = encrypt_fields(&writer, &key, &doc, &["/ssn"], &[], &[("tenant", "42")])
        .await
        .unwrap();
    let for_7 = encrypt_fields(&writer, &key, &doc, &["/ssn"], &[], &[("tenant", "7")])
        .await
        .unwrap();
    assert_error(
        decrypt_fields(&writer, &for_42).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_eq!(decrypt_fields(&reader, &for_42).await.unwrap(), doc);
    // The condition reads the document's own context.
    assert_error(
        decrypt_fields(&reader, &for_7).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_error(
        encrypt_fields(&reader, &key, &doc, &["/ssn"], &[], &[("tenant", "42")]).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    let doc = person();
    let validation = |result: Result<Value, _>, words: &str| {
        let err = assert_error(result, Code::InvalidArgument, "ValidationException");
        assert!(err.message.contains(words), "{}", err.message);
        assert!(!err.message.contains("123-45-6789"), "{}", err.message);
    };
    validation(
        encrypt_fields(&client, &key, &doc, &["/missing"], &[], &[]).await,
        "/missing",
    );
    validation(
        encrypt_fields(&client, &key, &doc, &["ssn"], &[], &[]).await,
        "ssn",
    );
    validation(
        encrypt_fields(&client, &key, &doc, &["/card", "/card/cvc"], &[], &[]).await,
        "/card",
    );
    let not_json = client
        .encrypt_fields(pb::EncryptFieldsRequest {
            key_id: key.clone(),
            document: "{\"ssn\": \"123-45-6789\",".into(),
            paths: vec!["/ssn".into()],
            ..Default::default()
        })
        .await;
    let err = assert_error(not_json, Code::InvalidArgument, "ValidationException");
    assert!(!err.message.contains("123-45-6789"), "{}", err.message);
    let not_encrypted = decrypt_fields(&client, &doc).await;
    assert_error(not_encrypted, Code::InvalidArgument, "ValidationException");

    // Keys that cannot: an HMAC key, a disabled key.
    let hmac = client
        .create_key(pb::CreateKeyRequest {
            key_spec: pb::KeySpec::Hmac256.into(),
            key_usage: pb::KeyUsage::GenerateVerifyMac.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    assert_error(
        encrypt_fields(&client, &hmac, &doc, &["/ssn"], &[], &[]).await,
        Code::InvalidArgument,
        "InvalidKeyUsageException",
    );
    let encrypted = encrypt_fields(&client, &key, &doc, &["/ssn"], &[], &[])
        .await
        .unwrap();
    client
        .disable_key(pb::DisableKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap();
    assert_error(
        decrypt_fields(&client, &encrypted).await,
        Code::FailedPrecondition,
        "DisabledException",
    );
}

#[tokio::test]
async fn public_key_mode_encrypts_offline_and_decrypts_through_the_daemon() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = client
        .create_key(pb::CreateKeyRequest {
            key_spec: pb::KeySpec::Rsa2048.into(),
            key_usage: pb::KeyUsage::EncryptDecrypt.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let public_der = client
        .get_public_key(pb::GetPublicKeyRequest {
            key_id: key.key_id.clone(),
        })
        .await
        .unwrap()
        .public_key;

    // Offline, as an edge proxy would: only the public key.
    let public = PublicKey::from_der(AsymmetricSpec::Rsa2048, &public_der).unwrap();
    let data_key = [0x42u8; 32];
    let context: EncryptionContext = [("edge", "cdn")].into_iter().collect();
    let wrapped = public
        .encrypt_oaep_sha256_labelled(&fields::oaep_label(&context).unwrap(), &data_key)
        .unwrap();
    let doc = person();
    let no_material = || Err(fields::FieldError::Invalid("offline".into()));
    let encrypted = fields::encrypt_document(
        doc.clone(),
        &[FieldSpec {
            path: "/card".into(),
            deterministic: false,
        }],
        &data_key,
        &key.arn,
        Wrap::RsaOaepSha256,
        &wrapped,
        &context,
        &no_material,
    )
    .unwrap();
    assert_eq!(encrypted["_vfe"]["wrap"], "rsa-oaep-sha256");
    assert_eq!(decrypt_fields(&client, &encrypted).await.unwrap(), doc);

    // Through the daemon with the RSA key: the same mode; deterministic paths are refused.
    let via_daemon = encrypt_fields(&client, &key.key_id, &doc, &["/ssn"], &[], &[])
        .await
        .unwrap();
    assert_eq!(via_daemon["_vfe"]["wrap"], "rsa-oaep-sha256");
    assert_eq!(decrypt_fields(&client, &via_daemon).await.unwrap(), doc);
    assert_error(
        encrypt_fields(&client, &key.key_id, &doc, &[], &["/ssn"], &[]).await,
        Code::InvalidArgument,
        "ValidationException",
    );

    // The wrapped data key does not open through plain Decrypt (it is labelled with the
    // context), so a Deny on DecryptFields for a context cannot be sidestepped that way.
    let dk = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        encrypted["_vfe"]["dk"].as_str().unwrap(),
    )
    .unwrap();
    assert_error(
        client
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: dk,
                key_id: key.key_id.clone(),
                encryption_algorithm: pb::EncryptionAlgorithmSpec::RsaesOaepSha256.into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    // Nor under another context: the label binds it.
    let mut moved = encrypted.clone();
    moved["_vfe"]["ctx"] = json!({"edge": "other"});
    assert_error(
        decrypt_fields(&client, &moved).await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );

    // A user who may not Decrypt with the RSA key cannot read the fields back.
    let outsider = server.client_with(app_user(&server, "edge", None).await);
    assert_error(
        decrypt_fields(&outsider, &encrypted).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
}

/// The MAC of a `_vfe` (without its "mac") and the values at its paths, as crypto.md §4 defines
/// it: what a forger who knows a data key could compute.
fn forged_mac(data_key: &[u8], meta: &Value, values: &[(&str, &str)]) -> String {
    let mut message = fields::canonical_json(meta).into_bytes();
    for (path, value) in values {
        for part in [path.as_bytes(), value.as_bytes()] {
            message.extend_from_slice(&(part.len() as u32).to_be_bytes());
            message.extend_from_slice(part);
        }
    }
    let key = vaultd::crypto::hkdf_sha256(data_key, &[], &[b"vaultd/v1/fle/mac"]);
    base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        vaultd::crypto::hmac_sha256(key.as_slice(), &message),
    )
}

#[tokio::test]
async fn a_data_key_from_generate_data_key_cannot_forge_a_document_or_open_one() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{key}");
    // Tenant B's record, with a deterministic (searchable) field.
    let victim = encrypt_fields(
        &root,
        &key,
        &json!({"email": "secret@tenant-b.example"}),
        &[],
        &["/email"],
        &[("tenant", "B")],
    )
    .await
    .unwrap();
    // A user of tenant A, with every kms right under its own context.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": arn,
            "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "A"}}
        }]
    });
    let attacker =
        server.client_with(app_user(&server, "tenant-a", Some(&policy.to_string())).await);
    assert_error(
        decrypt_fields(&attacker, &victim).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );

    // Forge a document of tenant A around a data key the attacker knows, carrying B's value.
    let data_key = attacker
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key.clone(),
            key_spec: pb::DataKeySpec::Aes256.into(),
            encryption_context: ctx(&[("tenant", "A")]),
            ..Default::default()
        })
        .await
        .unwrap();
    let stolen = victim["email"].as_str().unwrap();
    let mut meta = json!({
        "v": 1,
        "key": arn,
        "wrap": "kms",
        "dk": base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            &data_key.ciphertext_blob,
        ),
        "ctx": {"tenant": "A"},
        "paths": ["/email"],
    });
    meta["mac"] = json!(forged_mac(
        &data_key.plaintext,
        &meta,
        &[("/email", stolen)]
    ));
    let forged = json!({"email": stolen, "_vfe": meta});
    // The forger's MAC is computed right (checked on a document made offline with a known data
    // key), so the refusal below is not a MAC slip.
    let known = [7u8; 32];
    let offline = fields::encrypt_document(
        json!({"x": "y"}),
        &[FieldSpec {
            path: "/x".into(),
            deterministic: false,
        }],
        &known,
        &arn,
        Wrap::Kms,
        b"dk",
        &EncryptionContext::new(),
        &|| Err(fields::FieldError::Invalid("none".into())),
    )
    .unwrap();
    let mut offline_meta = offline["_vfe"].clone();
    let mac = offline_meta.as_object_mut().unwrap().remove("mac").unwrap();
    assert_eq!(
        forged_mac(
            &known,
            &offline_meta,
            &[("/x", offline["x"].as_str().unwrap())]
        ),
        mac
    );
    assert_error(
        decrypt_fields(&attacker, &forged).await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );

    // Nor does a real document's wrapped data key open through Decrypt, even for its own tenant.
    let own = encrypt_fields(
        &attacker,
        &key,
        &json!({"x": "y"}),
        &["/x"],
        &[],
        &[("tenant", "A")],
    )
    .await
    .unwrap();
    let dk = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        own["_vfe"]["dk"].as_str().unwrap(),
    )
    .unwrap();
    assert_error(
        decrypt(&attacker, &dk, &[("tenant", "A")]).await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    assert_eq!(
        decrypt_fields(&attacker, &own).await.unwrap(),
        json!({"x": "y"})
    );
}

#[tokio::test]
async fn large_documents_round_trip_and_wide_integers_are_refused() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    // Close to the 1 MiB limit: the encrypted document is larger, and still decrypts.
    let big = "x".repeat(900_000);
    let doc = json!({"blob": big, "id": 18446744073709551615u64, "n": -1.5e-7});
    let encrypted = encrypt_fields(&client, &key, &doc, &["/blob"], &[], &[])
        .await
        .unwrap();
    assert!(encrypted.to_string().len() > 1 << 20);
    assert_eq!(decrypt_fields(&client, &encrypted).await.unwrap(), doc);

    let wide = client
        .encrypt_fields(pb::EncryptFieldsRequest {
            key_id: key.clone(),
            document: r#"{"id": 123456789012345678901234567890, "ssn": "1"}"#.into(),
            paths: vec!["/ssn".into()],
            ..Default::default()
        })
        .await;
    let err = assert_error(wide, Code::InvalidArgument, "ValidationException");
    assert!(err.message.contains("64-bit"), "{}", err.message);
}

#[tokio::test]
async fn the_key_a_document_names_must_be_a_usable_key_arn() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    client
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/pii".into(),
            target_key_id: key.clone(),
        })
        .await
        .unwrap();
    let encrypted = encrypt_fields(&client, &key, &person(), &["/ssn"], &[], &[])
        .await
        .unwrap();
    let mut by_alias = encrypted.clone();
    by_alias["_vfe"]["key"] = json!("alias/pii");
    assert_error(
        decrypt_fields(&client, &by_alias).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    let mut unknown = encrypted.clone();
    unknown["_vfe"]["key"] =
        json!("arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-000000000000");
    assert_error(
        decrypt_fields(&client, &unknown).await,
        Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    schedule_deletion(&client, &key, 7).await;
    assert_error(
        decrypt_fields(&client, &encrypted).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    assert_error(
        encrypt_fields(&client, &key, &person(), &["/ssn"], &[], &[]).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
}
