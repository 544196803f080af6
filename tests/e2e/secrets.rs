//! Secrets Manager through the real server: create and read, versions and staging labels,
//! idempotency tokens, deletion windows under the manual clock, restore, a disabled key, tags,
//! listing, policies, GetRandomPassword, and values never on disk in the clear.

use std::time::Duration;

use tonic::Code;
use vaultd::{
    client::{Client, ClientError},
    pb,
};

use crate::common::{NowSecs, TestServer, allow, app_user, assert_error, create_key};

async fn create(client: &Client, name: &str, value: &str) -> pb::CreateSecretResponse {
    client
        .create_secret(pb::CreateSecretRequest {
            name: name.into(),
            secret_string: Some(value.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn get(client: &Client, id: &str) -> Result<pb::GetSecretValueResponse, ClientError> {
    client
        .get_secret_value(pb::GetSecretValueRequest {
            secret_id: id.into(),
            ..Default::default()
        })
        .await
}

async fn get_stage(
    client: &Client,
    id: &str,
    stage: &str,
) -> Result<pb::GetSecretValueResponse, ClientError> {
    client
        .get_secret_value(pb::GetSecretValueRequest {
            secret_id: id.into(),
            version_stage: stage.into(),
            ..Default::default()
        })
        .await
}

async fn put(client: &Client, id: &str, value: &str, token: &str) -> pb::PutSecretValueResponse {
    client
        .put_secret_value(pb::PutSecretValueRequest {
            secret_id: id.into(),
            secret_string: Some(value.into()),
            client_request_token: token.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn describe(client: &Client, id: &str) -> pb::DescribeSecretResponse {
    client
        .describe_secret(pb::DescribeSecretRequest {
            secret_id: id.into(),
        })
        .await
        .unwrap()
}

fn token(n: u8) -> String {
    format!("{:0>32}", n)
}

#[tokio::test]
async fn create_read_and_version_stages() {
    let server = TestServer::start().await;
    let client = server.client();
    let created = create(&client, "prod/db", r#"{"user":"app","password":"s3cr3t"}"#).await;
    assert!(
        created
            .arn
            .starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-")
    );
    assert_eq!(
        created.arn.len(),
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-".len() + 6
    );
    // By name, full ARN and partial ARN (without the random suffix).
    for id in [
        "prod/db".to_string(),
        created.arn.clone(),
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db".to_string(),
    ] {
        let value = get(&client, &id).await.unwrap();
        assert_eq!(
            value.secret_string.as_deref(),
            Some(r#"{"user":"app","password":"s3cr3t"}"#)
        );
        assert_eq!(value.version_stages, ["AWSCURRENT"]);
        assert_eq!(value.version_id, created.version_id);
    }

    // PutSecretValue: AWSCURRENT moves, the old version becomes AWSPREVIOUS.
    let second = put(&client, "prod/db", "v2", &token(2)).await;
    assert_eq!(second.version_stages, ["AWSCURRENT"]);
    assert_eq!(
        get(&client, "prod/db")
            .await
            .unwrap()
            .secret_string
            .as_deref(),
        Some("v2")
    );
    let previous = get_stage(&client, "prod/db", "AWSPREVIOUS").await.unwrap();
    assert_eq!(previous.version_id, created.version_id);
    put(&client, "prod/db", "v3", &token(3)).await;
    let stages = describe(&client, "prod/db").await.version_ids_to_stages;
    assert_eq!(
        stages.len(),
        2,
        "the first version lost its label: {stages:?}"
    );
    assert_eq!(stages[&token(3)].stages, ["AWSCURRENT"]);
    assert_eq!(stages[&token(2)].stages, ["AWSPREVIOUS"]);
    // Still there, deprecated, for ListSecretVersionIds with IncludeDeprecated.
    let all = client
        .list_secret_version_ids(pb::ListSecretVersionIdsRequest {
            secret_id: "prod/db".into(),
            include_deprecated: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.versions.len(), 3);

    // A custom label, and moving AWSCURRENT back by hand.
    client
        .update_secret_version_stage(pb::UpdateSecretVersionStageRequest {
            secret_id: "prod/db".into(),
            version_stage: "AWSCURRENT".into(),
            remove_from_version_id: token(3),
            move_to_version_id: token(2),
        })
        .await
        .unwrap();
    assert_eq!(
        get(&client, "prod/db")
            .await
            .unwrap()
            .secret_string
            .as_deref(),
        Some("v2")
    );
    assert_eq!(
        get_stage(&client, "prod/db", "AWSPREVIOUS")
            .await
            .unwrap()
            .version_id,
        token(3)
    );
    // Moving a label without naming where it is now is refused.
    assert_error(
        client
            .update_secret_version_stage(pb::UpdateSecretVersionStageRequest {
                secret_id: "prod/db".into(),
                version_stage: "AWSCURRENT".into(),
                move_to_version_id: token(3),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidParameterException",
    );
    // By version id and stage together they must agree.
    assert_error(
        client
            .get_secret_value(pb::GetSecretValueRequest {
                secret_id: "prod/db".into(),
                version_id: token(3),
                version_stage: "AWSCURRENT".into(),
            })
            .await,
        Code::NotFound,
        "ResourceNotFoundException",
    );

    // Survives a restart.
    let server = server.restart().await;
    let client = server.client();
    assert_eq!(
        get(&client, "prod/db")
            .await
            .unwrap()
            .secret_string
            .as_deref(),
        Some("v2")
    );
}

#[tokio::test]
async fn idempotency_tokens_and_create_rules() {
    let server = TestServer::start().await;
    let client = server.client();
    let request = |value: &str| pb::CreateSecretRequest {
        name: "api-key".into(),
        client_request_token: token(1),
        secret_string: Some(value.into()),
        ..Default::default()
    };
    let first = client.create_secret(request("k1")).await.unwrap();
    // The same token and value: the same answer, nothing new.
    let again = client.create_secret(request("k1")).await.unwrap();
    assert_eq!(
        (again.arn.as_str(), again.version_id.as_str()),
        (first.arn.as_str(), first.version_id.as_str())
    );
    // The same token with another value, or the name again: refused.
    assert_error(
        client.create_secret(request("k2")).await,
        Code::AlreadyExists,
        "ResourceExistsException",
    );
    assert_error(
        client
            .create_secret(pb::CreateSecretRequest {
                name: "api-key".into(),
                secret_string: Some("k3".into()),
                ..Default::default()
            })
            .await,
        Code::AlreadyExists,
        "ResourceExistsException",
    );
    // PutSecretValue retried with its token is a no-op; another value with it is refused.
    put(&client, "api-key", "k4", &token(4)).await;
    put(&client, "api-key", "k4", &token(4)).await;
    assert_eq!(
        client
            .list_secret_version_ids(pb::ListSecretVersionIdsRequest {
                secret_id: "api-key".into(),
                include_deprecated: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .versions
            .len(),
        2
    );
    assert_error(
        client
            .put_secret_value(pb::PutSecretValueRequest {
                secret_id: "api-key".into(),
                secret_string: Some("other".into()),
                client_request_token: token(4),
                ..Default::default()
            })
            .await,
        Code::AlreadyExists,
        "ResourceExistsException",
    );
    // Values: string or binary, never both, at most 64 KiB; names as AWS.
    let both = pb::CreateSecretRequest {
        name: "both".into(),
        secret_string: Some("a".into()),
        secret_binary: Some(vec![1]),
        ..Default::default()
    };
    assert_error(
        client.create_secret(both).await,
        Code::InvalidArgument,
        "InvalidParameterException",
    );
    let big = pb::CreateSecretRequest {
        name: "big".into(),
        secret_binary: Some(vec![7; 65_537]),
        ..Default::default()
    };
    assert_error(
        client.create_secret(big).await,
        Code::InvalidArgument,
        "InvalidParameterException",
    );
    let binary = client
        .create_secret(pb::CreateSecretRequest {
            name: "cert".into(),
            secret_binary: Some(vec![0, 1, 2, 255]),
            ..Default::default()
        })
        .await
        .unwrap();
    let value = get(&client, &binary.arn).await.unwrap();
    assert_eq!(
        (value.secret_binary, value.secret_string),
        (Some(vec![0, 1, 2, 255]), None)
    );
    for bad in ["", "bad name", "a*b"] {
        assert_error(
            client
                .create_secret(pb::CreateSecretRequest {
                    name: bad.into(),
                    secret_string: Some("v".into()),
                    ..Default::default()
                })
                .await,
            Code::InvalidArgument,
            "InvalidParameterException",
        );
    }
    // A secret without a value has no AWSCURRENT to read.
    client
        .create_secret(pb::CreateSecretRequest {
            name: "empty".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_error(
        get(&client, "empty").await,
        Code::NotFound,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn deletion_windows_restore_and_force_delete() {
    let server = TestServer::start().await;
    let client = server.client();
    create(&client, "old", "v").await;
    let delete = |id: &str, days: Option<i64>, force: bool| {
        client.delete_secret(pb::DeleteSecretRequest {
            secret_id: id.into(),
            recovery_window_in_days: days,
            force_delete_without_recovery: force,
        })
    };
    for bad in [Some(6), Some(31)] {
        assert_error(
            delete("old", bad, false).await,
            Code::InvalidArgument,
            "InvalidParameterException",
        );
    }
    assert_error(
        delete("old", Some(7), true).await,
        Code::InvalidArgument,
        "InvalidParameterException",
    );
    let scheduled = delete("old", Some(7), false).await.unwrap();
    let now = server.clock.now_secs();
    assert_eq!(scheduled.deletion_date.unwrap().seconds, now + 7 * 86_400);
    // Meanwhile: no reads or writes, but DescribeSecret and RestoreSecret work.
    assert_error(
        get(&client, "old").await,
        Code::InvalidArgument,
        "InvalidRequestException",
    );
    assert!(describe(&client, "old").await.deleted_date.is_some());
    let listed = |planned: bool| {
        client.list_secrets(pb::ListSecretsRequest {
            include_planned_deletion: planned,
            ..Default::default()
        })
    };
    assert!(listed(false).await.unwrap().secret_list.is_empty());
    assert_eq!(listed(true).await.unwrap().secret_list.len(), 1);
    // The name is not free while the deletion is pending.
    assert_error(
        client
            .create_secret(pb::CreateSecretRequest {
                name: "old".into(),
                secret_string: Some("new".into()),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidRequestException",
    );
    client
        .restore_secret(pb::RestoreSecretRequest {
            secret_id: "old".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        get(&client, "old").await.unwrap().secret_string.as_deref(),
        Some("v")
    );

    // Scheduled again, the window ends under the clock: gone, and the name is free.
    delete("old", None, false).await.unwrap();
    server.clock.advance(Duration::from_secs(30 * 86_400 - 1));
    assert_error(
        get(&client, "old").await,
        Code::InvalidArgument,
        "InvalidRequestException",
    );
    server.clock.advance(Duration::from_secs(1));
    assert_error(
        get(&client, "old").await,
        Code::NotFound,
        "ResourceNotFoundException",
    );
    create(&client, "old", "reborn").await;

    // Force: at once.
    delete("old", None, true).await.unwrap();
    assert_error(
        get(&client, "old").await,
        Code::NotFound,
        "ResourceNotFoundException",
    );
    // Maintenance deletes secrets nobody touches.
    create(&client, "idle", "v").await;
    delete("idle", Some(7), false).await.unwrap();
    server.clock.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(server.vault.secrets.run_maintenance().unwrap(), 1);
}

#[tokio::test]
async fn a_disabled_key_is_a_decryption_failure() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    client
        .create_secret(pb::CreateSecretRequest {
            name: "guarded".into(),
            kms_key_id: key.clone(),
            secret_string: Some("v".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(describe(&client, "guarded").await.kms_key_id, key);
    client
        .disable_key(pb::DisableKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap();
    assert_error(
        get(&client, "guarded").await,
        Code::FailedPrecondition,
        "DecryptionFailure",
    );
    assert_error(
        client
            .put_secret_value(pb::PutSecretValueRequest {
                secret_id: "guarded".into(),
                secret_string: Some("v2".into()),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        "EncryptionFailure",
    );
    client
        .enable_key(pb::EnableKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        get(&client, "guarded")
            .await
            .unwrap()
            .secret_string
            .as_deref(),
        Some("v")
    );
    // Moving the secret to the default key re-encrypts what it holds.
    client
        .update_secret(pb::UpdateSecretRequest {
            secret_id: "guarded".into(),
            kms_key_id: Some(String::new()),
            description: Some("moved".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .disable_key(pb::DisableKeyRequest { key_id: key })
        .await
        .unwrap();
    assert_eq!(
        get(&client, "guarded")
            .await
            .unwrap()
            .secret_string
            .as_deref(),
        Some("v")
    );
    assert_eq!(describe(&client, "guarded").await.description, "moved");
}

#[tokio::test]
async fn listing_batches_tags_and_passwords() {
    let server = TestServer::start().await;
    let client = server.client();
    for name in ["app/a", "app/b", "other/c"] {
        create(&client, name, &format!("value-of-{name}")).await;
    }
    client
        .tag_secret(pb::SecretsManagerTagResourceRequest {
            secret_id: "app/a".into(),
            tags: vec![pb::ResourceTag {
                key: "team".into(),
                value: "pay".into(),
            }],
        })
        .await
        .unwrap();
    let filter = |key: pb::FilterNameStringType, values: &[&str]| pb::Filter {
        key: key as i32,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    let names = |list: pb::ListSecretsResponse| -> Vec<String> {
        list.secret_list.into_iter().map(|s| s.name).collect()
    };
    let by_name = client
        .list_secrets(pb::ListSecretsRequest {
            filters: vec![filter(pb::FilterNameStringType::Name, &["app/"])],
            sort_by: pb::SortByType::Name as i32,
            sort_order: pb::SortOrderType::Asc as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(names(by_name), ["app/a", "app/b"]);
    let by_tag = client
        .list_secrets(pb::ListSecretsRequest {
            filters: vec![filter(pb::FilterNameStringType::TagKey, &["team"])],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(names(by_tag), ["app/a"]);
    // Pages of one.
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let page = client
            .list_secrets(pb::ListSecretsRequest {
                max_results: Some(1),
                next_token: next.clone(),
                sort_by: pb::SortByType::Name as i32,
                sort_order: pb::SortOrderType::Asc as i32,
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(names(page.clone()));
        if page.next_token.is_empty() {
            break;
        }
        next = page.next_token;
    }
    assert_eq!(seen, ["app/a", "app/b", "other/c"]);

    let batch = client
        .batch_get_secret_value(pb::BatchGetSecretValueRequest {
            secret_id_list: vec!["app/a".into(), "missing".into(), "other/c".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let values: Vec<_> = batch
        .secret_values
        .iter()
        .map(|v| v.secret_string.clone().unwrap())
        .collect();
    assert_eq!(values, ["value-of-app/a", "value-of-other/c"]);
    assert_eq!(batch.errors.len(), 1);
    assert_eq!(
        (
            batch.errors[0].secret_id.as_str(),
            batch.errors[0].error_code.as_str()
        ),
        ("missing", "ResourceNotFoundException")
    );
    let filtered = client
        .batch_get_secret_value(pb::BatchGetSecretValueRequest {
            filters: vec![filter(pb::FilterNameStringType::Name, &["app/"])],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(filtered.secret_values.len(), 2);

    let tags = describe(&client, "app/a").await.tags;
    assert_eq!(
        tags,
        [pb::ResourceTag {
            key: "team".into(),
            value: "pay".into()
        }]
    );
    client
        .untag_secret(pb::SecretsManagerUntagResourceRequest {
            secret_id: "app/a".into(),
            tag_keys: vec!["team".into()],
        })
        .await
        .unwrap();
    assert!(describe(&client, "app/a").await.tags.is_empty());

    let password = client
        .get_random_password(pb::GetRandomPasswordRequest {
            password_length: Some(24),
            exclude_punctuation: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .random_password;
    assert_eq!(password.len(), 24);
    assert!(password.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_error(
        client
            .get_random_password(pb::GetRandomPasswordRequest {
                password_length: Some(4097),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidParameterException",
    );
}

#[tokio::test]
async fn policies_govern_secrets_and_their_keys() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    create(&root, "app/managed", "m").await;
    root.create_secret(pb::CreateSecretRequest {
        name: "app/custom".into(),
        kms_key_id: key.clone(),
        secret_string: Some("c".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    create(&root, "ops/x", "x").await;
    let reader = app_user(
        &server,
        "reader",
        Some(&allow(
            &["secretsmanager:GetSecretValue"],
            "arn:aws:secretsmanager:*:*:secret:app/*",
        )),
    )
    .await;
    let reader = server.client_with(reader);
    assert_eq!(
        get(&reader, "app/managed")
            .await
            .unwrap()
            .secret_string
            .as_deref(),
        Some("m")
    );
    // A customer key also needs kms:Decrypt.
    assert_error(
        get(&reader, "app/custom").await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_error(
        get(&reader, "ops/x").await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    // A name that exists nowhere: refused where the policy doesn't reach, not found where it does.
    assert_error(
        get(&reader, "ops/none").await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_error(
        get(&reader, "app/none").await,
        Code::NotFound,
        "ResourceNotFoundException",
    );
    assert_error(
        reader
            .put_secret_value(pb::PutSecretValueRequest {
                secret_id: "app/managed".into(),
                secret_string: Some("w".into()),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
}

#[tokio::test]
async fn no_secret_value_sits_on_disk_in_the_clear() {
    let server = TestServer::start().await;
    let client = server.client();
    create(&client, "disk/one", "needle-secret-string-0001").await;
    client
        .create_secret(pb::CreateSecretRequest {
            name: "disk/two".into(),
            secret_binary: Some(b"needle-secret-binary-0002".to_vec()),
            ..Default::default()
        })
        .await
        .unwrap();
    put(&client, "disk/one", "needle-secret-string-0003", &token(9)).await;
    let (_keep, dir, _, _) = server.stop().await;
    let mut on_disk = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            on_disk.extend(std::fs::read(path).unwrap());
        }
    }
    assert!(
        on_disk.windows(8).any(|w| w == b"disk/one"),
        "names are stored (sanity)"
    );
    for needle in [
        "needle-secret-string-0001",
        "needle-secret-binary-0002",
        "needle-secret-string-0003",
    ] {
        assert!(
            !on_disk
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "{needle} found on disk"
        );
    }
}

#[tokio::test]
async fn parameter_store_reads_secrets_through_the_reference_path() {
    let server = TestServer::start().await;
    let client = server.client();
    create(&client, "shared/db", "from-secrets-manager").await;
    let get = |name: &str, with_decryption: bool| {
        client.get_parameter(pb::GetParameterRequest {
            name: name.into(),
            with_decryption,
        })
    };
    let parameter = get("/aws/reference/secretsmanager/shared/db", true)
        .await
        .unwrap()
        .parameter
        .unwrap();
    assert_eq!(parameter.value, "from-secrets-manager");
    assert_eq!(parameter.r#type(), pb::ParameterType::SecureString);
    assert!(
        parameter.source_result.contains("AWSCURRENT"),
        "{}",
        parameter.source_result
    );
    assert_error(
        get("/aws/reference/secretsmanager/shared/db", false).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        get("/aws/reference/secretsmanager/none", true).await,
        Code::NotFound,
        "ParameterNotFound",
    );
    // Both permissions are needed.
    let only_ssm = app_user(
        &server,
        "only-ssm",
        Some(&allow(&["ssm:GetParameter"], "*")),
    )
    .await;
    let only_ssm = server.client_with(only_ssm);
    assert_error(
        only_ssm
            .get_parameter(pb::GetParameterRequest {
                name: "/aws/reference/secretsmanager/shared/db".into(),
                with_decryption: true,
            })
            .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
}

#[tokio::test]
async fn refusals_name_what_was_asked_and_key_moves_need_decrypt() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    root.create_secret(pb::CreateSecretRequest {
        name: "guarded/db".into(),
        kms_key_id: key.clone(),
        secret_string: Some("under-k1".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow",
            "Action": ["secretsmanager:UpdateSecret", "secretsmanager:GetSecretValue",
                       "secretsmanager:BatchGetSecretValue"],
            "Resource": "*"}]
    })
    .to_string();
    let user = server.client_with(app_user(&server, "mover", Some(&policy)).await);
    // Moving the secret off a key the caller can't decrypt with is refused (it would re-encrypt,
    // that is read, the value through vaultd's rights).
    assert_error(
        user.update_secret(pb::UpdateSecretRequest {
            secret_id: "guarded/db".into(),
            kms_key_id: Some(String::new()),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_error(
        get(&user, "guarded/db").await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    // Filters list secrets: that needs ListSecrets.
    assert_error(
        user.batch_get_secret_value(pb::BatchGetSecretValueRequest {
            filters: vec![pb::Filter {
                key: pb::FilterNameStringType::Name as i32,
                values: vec![String::new()],
            }],
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    // A refusal names the secret as asked, never its ARN's random suffix.
    let nobody = server.client_with(app_user(&server, "nobody", None).await);
    let arn = describe(&root, "guarded/db").await.arn;
    let err = assert_error(
        get(&nobody, "guarded/db").await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert!(!err.to_string().contains(&arn), "{err}");
    // Through the reference path, existing or not, the same refusal.
    let only_ssm = server.client_with(
        app_user(
            &server,
            "ssm-only",
            Some(&allow(&["ssm:GetParameter"], "*")),
        )
        .await,
    );
    for name in ["guarded/db", "nothing/here"] {
        assert_error(
            only_ssm
                .get_parameter(pb::GetParameterRequest {
                    name: format!("/aws/reference/secretsmanager/{name}"),
                    with_decryption: true,
                })
                .await,
            Code::PermissionDenied,
            "AccessDeniedException",
        );
    }

    // The first version of a secret is AWSCURRENT whatever labels it was given.
    root.create_secret(pb::CreateSecretRequest {
        name: "later".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let first = root
        .put_secret_value(pb::PutSecretValueRequest {
            secret_id: "later".into(),
            secret_string: Some("v1".into()),
            version_stages: vec!["blue".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        get(&root, "later").await.unwrap().secret_string.as_deref(),
        Some("v1")
    );
    assert!(
        first.version_stages.contains(&"AWSCURRENT".to_string()),
        "{:?}",
        first.version_stages
    );
}

#[tokio::test]
async fn a_service_never_uses_another_services_managed_key() {
    let server = TestServer::start().await;
    let client = server.client();
    // Both AWS-managed keys exist once each service has been used.
    create(&client, "first", "v").await;
    client
        .put_parameter(pb::PutParameterRequest {
            name: "/first".into(),
            value: "v".into(),
            r#type: pb::ParameterType::SecureString as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_error(
        client
            .create_secret(pb::CreateSecretRequest {
                name: "borrowing".into(),
                kms_key_id: "alias/aws/ssm".into(),
                secret_string: Some("v".into()),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidParameterException",
    );
    assert_error(
        client
            .put_parameter(pb::PutParameterRequest {
                name: "/borrowing".into(),
                value: "v".into(),
                r#type: pb::ParameterType::SecureString as i32,
                key_id: "alias/aws/secretsmanager".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidKeyId",
    );
}
