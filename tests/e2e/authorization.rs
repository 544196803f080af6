//! Authorization (auth.md): every RPC is refused unless a policy allows it; wildcards, conditions
//! on the encryption context and the user name, explicit Deny winning; AccessDenied naming the
//! action and the resource.

use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;
use vaultd::{
    auth::signature,
    client::{Client, ClientError},
    clock::{Clock, format_basic_iso8601},
    pb,
};

use crate::{
    auth::{call_raw, vault_methods},
    common::*,
};

fn key_arn(id: &str) -> String {
    format!("arn:aws:kms:us-east-1:000000000000:key/{id}")
}

#[track_caller]
fn assert_denied<T: std::fmt::Debug>(result: Result<T, ClientError>, action: &str, resource: &str) {
    let err = assert_error(result, Code::PermissionDenied, "AccessDeniedException");
    assert!(
        err.message.contains(action) && err.message.contains(resource),
        "the refusal names the action and the resource: {}",
        err.message
    );
    assert!(
        !err.message.contains("Statement") && !err.message.contains('{'),
        "the refusal never shows policy text: {}",
        err.message
    );
}

async fn encrypt_with(
    client: &Client,
    key_id: &str,
    context: &[(&str, &str)],
) -> Result<Vec<u8>, ClientError> {
    client
        .encrypt(pb::EncryptRequest {
            key_id: key_id.into(),
            plaintext: b"payload".to_vec(),
            encryption_context: ctx(context),
            ..Default::default()
        })
        .await
        .map(|r| r.ciphertext_blob)
}

#[tokio::test]
async fn a_user_without_policies_can_do_nothing_but_ask_who_it_is() {
    let server = TestServer::start().await;
    let creds = app_user(&server, "nobody", None).await;
    let channel = Channel::from_shared(server.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let now = format_basic_iso8601(server.clock.now());
    let mut denied = 0;
    for path in vault_methods() {
        let header = signature::authorization_header(
            &creds.access_key_id,
            &creds.secret_access_key,
            &now,
            &path,
            None,
        );
        let status = call_raw(
            &channel,
            &path,
            &[("x-vault-date", now.clone()), ("authorization", header)],
        )
        .await;
        let unrestricted =
            path.ends_with("/GetCallerIdentity") || path.ends_with("/GetSessionToken");
        if unrestricted {
            assert_eq!(status.code(), Code::Ok, "{path}: {status:?}");
            continue;
        }
        // An empty request may fail validation or name nothing, but it never succeeds.
        assert_ne!(status.code(), Code::Ok, "{path} must be refused");
        assert_ne!(status.code(), Code::Internal, "{path}: {status:?}");
        if status.code() == Code::PermissionDenied {
            assert_eq!(
                status.get_details_error_info().unwrap().reason,
                "AccessDeniedException"
            );
            denied += 1;
        }
    }
    // Everything that needs no valid input to act (lists, creates, the caller's own user…).
    assert!(denied >= 12, "only {denied} methods answered AccessDenied");

    // And with real inputs, the key operations are refused too.
    let root = server.client();
    let key = create_key(&root).await;
    let app = server.client_with(creds);
    assert_denied(
        encrypt_with(&app, &key, &[]).await,
        "kms:Encrypt",
        &key_arn(&key),
    );
    assert_denied(
        app.describe_key(pb::DescribeKeyRequest {
            key_id: key.clone(),
        })
        .await,
        "kms:DescribeKey",
        &key_arn(&key),
    );
    assert_denied(
        app.create_key(Default::default()).await,
        "kms:CreateKey",
        "*",
    );
    assert_denied(
        app.get_user(Default::default()).await,
        "iam:GetUser",
        "arn:aws:iam::000000000000:user/nobody",
    );
    assert_denied(
        app.lookup_events(Default::default()).await,
        "cloudtrail:LookupEvents",
        "*",
    );
    // Nothing was created by the refused calls.
    assert_eq!(
        root.list_keys(Default::default()).await.unwrap().keys.len(),
        1
    );
    let me = app.get_caller_identity(Default::default()).await.unwrap();
    assert_eq!(me.arn, "arn:aws:iam::000000000000:user/nobody");
    assert_eq!(me.account, "000000000000");
}

#[tokio::test]
async fn policies_allow_and_deny_in_every_service_family() {
    let server = TestServer::start().await;
    let root = server.client();
    let mine = create_key(&root).await;
    let other = create_key(&root).await;
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": key_arn(&mine)},
        {"Effect": "Allow", "Action": ["iam:GetUser", "iam:ListAccessKeys"], "Resource": "arn:aws:iam::*:user/${aws:username}"},
        {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"},
    ]})
    .to_string();
    let app = server.client_with(app_user(&server, "app", Some(&policy)).await);

    // kms: allowed on its key, refused on another.
    let blob = encrypt_with(&app, &mine, &[]).await.unwrap();
    app.decrypt(pb::DecryptRequest {
        ciphertext_blob: blob,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_denied(
        encrypt_with(&app, &other, &[]).await,
        "kms:Encrypt",
        &key_arn(&other),
    );
    let other_blob = encrypt_with(&root, &other, &[]).await.unwrap();
    assert_denied(
        app.decrypt(pb::DecryptRequest {
            ciphertext_blob: other_blob,
            ..Default::default()
        })
        .await,
        "kms:Decrypt",
        &key_arn(&other),
    );
    assert_denied(
        app.disable_key(pb::DisableKeyRequest {
            key_id: mine.clone(),
        })
        .await,
        "kms:DisableKey",
        &key_arn(&mine),
    );

    // iam: its own user (through ${aws:username}), not another's.
    app.get_user(Default::default()).await.unwrap();
    app.list_access_keys(Default::default()).await.unwrap();
    assert_denied(
        app.get_user(pb::GetUserRequest {
            user_name: "root".into(),
        })
        .await,
        "iam:GetUser",
        "arn:aws:iam::000000000000:user/root",
    );
    assert_denied(
        app.create_access_key(Default::default()).await,
        "iam:CreateAccessKey",
        "arn:aws:iam::000000000000:user/app",
    );

    // cloudtrail: allowed; sts: needs nothing.
    app.lookup_events(Default::default()).await.unwrap();
    app.get_caller_identity(Default::default()).await.unwrap();

    // A key named by alias is checked as the key's ARN.
    root.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/mine".into(),
        target_key_id: mine.clone(),
    })
    .await
    .unwrap();
    encrypt_with(&app, "alias/mine", &[]).await.unwrap();

    // Policy changes apply from the next request on.
    root.delete_user_policy(pb::DeleteUserPolicyRequest {
        user_name: "app".into(),
        policy_name: "app".into(),
    })
    .await
    .unwrap();
    assert_denied(
        encrypt_with(&app, &mine, &[]).await,
        "kms:Encrypt",
        &key_arn(&mine),
    );
}

#[tokio::test]
async fn wildcards_match_actions_and_resources() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let policy = serde_json::json!({"Statement": [
        {"Effect": "Allow", "Action": "kms:GenerateDataKey*", "Resource": "arn:aws:kms:*:*:key/*"},
        {"Effect": "Allow", "Action": "KMS:Describe?ey", "Resource": "arn:aws:kms:us-east-?:*:key/*"},
        {"Effect": "Allow", "Action": "kms:List*", "Resource": "*"},
    ]})
    .to_string();
    let app = server.client_with(app_user(&server, "app", Some(&policy)).await);
    let gdk = pb::GenerateDataKeyRequest {
        key_id: key.clone(),
        key_spec: pb::DataKeySpec::Aes256 as i32,
        ..Default::default()
    };
    app.generate_data_key(gdk).await.unwrap();
    app.generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
        key_id: key.clone(),
        key_spec: pb::DataKeySpec::Aes256 as i32,
        ..Default::default()
    })
    .await
    .unwrap();
    app.describe_key(pb::DescribeKeyRequest {
        key_id: key.clone(),
    })
    .await
    .unwrap();
    app.list_keys(Default::default()).await.unwrap();
    app.list_aliases(Default::default()).await.unwrap();
    assert_denied(
        encrypt_with(&app, &key, &[]).await,
        "kms:Encrypt",
        &key_arn(&key),
    );
    assert_denied(
        app.generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(8),
        })
        .await,
        "kms:GenerateRandom",
        "*",
    );
}

#[tokio::test]
async fn conditions_on_encryption_context_and_user_name() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}},
        {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:tenant": "tenant-*"}}},
        {"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*",
         "Condition": {"StringEquals": {"aws:username": "someone-else"}}},
    ]})
    .to_string();
    let app = server.client_with(app_user(&server, "app", Some(&policy)).await);

    let blob = encrypt_with(&app, &key, &[("app", "billing"), ("extra", "x")])
        .await
        .unwrap();
    assert_denied(
        encrypt_with(&app, &key, &[("app", "payroll")]).await,
        "kms:Encrypt",
        &key_arn(&key),
    );
    assert_denied(
        encrypt_with(&app, &key, &[]).await,
        "kms:Encrypt",
        &key_arn(&key),
    );
    // Context values are case-sensitive.
    assert_denied(
        encrypt_with(&app, &key, &[("app", "Billing")]).await,
        "kms:Encrypt",
        &key_arn(&key),
    );
    app.decrypt(pb::DecryptRequest {
        ciphertext_blob: blob.clone(),
        encryption_context: ctx(&[("app", "billing"), ("extra", "x")]),
        ..Default::default()
    })
    .await
    .unwrap();
    let payroll = encrypt_with(&root, &key, &[("app", "payroll")])
        .await
        .unwrap();
    assert_denied(
        app.decrypt(pb::DecryptRequest {
            ciphertext_blob: payroll,
            encryption_context: ctx(&[("app", "payroll")]),
            ..Default::default()
        })
        .await,
        "kms:Decrypt",
        &key_arn(&key),
    );

    let gdk = |tenant: &str| pb::GenerateDataKeyRequest {
        key_id: key.clone(),
        key_spec: pb::DataKeySpec::Aes256 as i32,
        encryption_context: ctx(&[("tenant", tenant)]),
        ..Default::default()
    };
    app.generate_data_key(gdk("tenant-42")).await.unwrap();
    assert_denied(
        app.generate_data_key(gdk("other-42")).await,
        "kms:GenerateDataKey",
        &key_arn(&key),
    );

    // aws:username is the caller's name: the ListKeys statement is for someone else.
    assert_denied(app.list_keys(Default::default()).await, "kms:ListKeys", "*");
}

#[tokio::test]
async fn an_explicit_deny_beats_any_allow() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let protected = create_key(&root).await;
    root.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/protected".into(),
        target_key_id: protected.clone(),
    })
    .await
    .unwrap();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": key_arn(&protected)},
    ]})
    .to_string();
    let app = server.client_with(app_user(&server, "app", Some(&policy)).await);
    let blob = encrypt_with(&app, &key, &[]).await.unwrap();
    let err = app
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await;
    let err = assert_error(err, Code::PermissionDenied, "AccessDeniedException");
    assert!(err.message.contains("explicit deny"), "{}", err.message);
    // Named by alias, the key is still the protected one.
    assert_denied(
        encrypt_with(&app, "alias/protected", &[]).await,
        "kms:Encrypt",
        &key_arn(&protected),
    );
    // A deny in a second policy counts as much as one in the first.
    root.put_user_policy(pb::PutUserPolicyRequest {
        user_name: "app".into(),
        policy_name: "no-create".into(),
        policy_document: r#"{"Statement":{"Effect":"Deny","Action":"kms:Create*","Resource":"*"}}"#
            .into(),
    })
    .await
    .unwrap();
    assert_denied(
        app.create_key(Default::default()).await,
        "kms:CreateKey",
        "*",
    );
    app.list_keys(Default::default()).await.unwrap();
}

#[tokio::test]
async fn creating_an_alias_needs_permission_on_the_alias_and_the_key() {
    let server = TestServer::start().await;
    let root = server.client();
    let key = create_key(&root).await;
    let policy = allow(&["kms:CreateAlias"], "arn:aws:kms:*:*:alias/app-*");
    let app = server.client_with(app_user(&server, "app", Some(&policy)).await);
    let create = |name: &str| {
        app.create_alias(pb::CreateAliasRequest {
            alias_name: name.into(),
            target_key_id: key.clone(),
        })
    };
    // Allowed on the alias but not on the key.
    assert_denied(
        create("alias/app-one").await,
        "kms:CreateAlias",
        &key_arn(&key),
    );
    root.put_user_policy(pb::PutUserPolicyRequest {
        user_name: "app".into(),
        policy_name: "keys".into(),
        policy_document: allow(&["kms:CreateAlias"], "arn:aws:kms:*:*:key/*"),
    })
    .await
    .unwrap();
    create("alias/app-one").await.unwrap();
    assert_denied(
        create("alias/other").await,
        "kms:CreateAlias",
        "arn:aws:kms:us-east-1:000000000000:alias/other",
    );
}

#[tokio::test]
async fn user_names_in_another_case_are_checked_as_the_stored_user() {
    let server = TestServer::start().await;
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::*:user/root"},
    ]})
    .to_string();
    let admin = server.client_with(app_user(&server, "admin", Some(&policy)).await);
    for spelling in ["root", "ROOT", "Root"] {
        assert_denied(
            admin
                .create_access_key(pb::CreateAccessKeyRequest {
                    user_name: spelling.into(),
                })
                .await,
            "iam:CreateAccessKey",
            "arn:aws:iam::000000000000:user/root",
        );
        assert_denied(
            admin
                .simulate_principal_policy(pb::SimulatePrincipalPolicyRequest {
                    policy_source_arn: format!("arn:aws:iam::000000000000:user/{spelling}"),
                    action_names: vec!["kms:CreateKey".into()],
                    ..Default::default()
                })
                .await,
            "iam:SimulatePrincipalPolicy",
            "arn:aws:iam::000000000000:user/root",
        );
    }
    // Other users remain manageable, whatever the spelling.
    admin
        .create_user(pb::CreateUserRequest {
            user_name: "worker".into(),
        })
        .await
        .unwrap();
    admin
        .get_user(pb::GetUserRequest {
            user_name: "WORKER".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn re_pointing_or_deleting_an_alias_needs_rights_on_the_key_it_names() {
    let server = TestServer::start().await;
    let root = server.client();
    let theirs = create_key(&root).await;
    let mine = create_key(&root).await;
    root.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/prod-billing".into(),
        target_key_id: theirs.clone(),
    })
    .await
    .unwrap();
    let policy = serde_json::json!({"Statement": [
        {"Effect": "Allow", "Action": ["kms:UpdateAlias", "kms:DeleteAlias"], "Resource": "arn:aws:kms:*:*:alias/*"},
        {"Effect": "Allow", "Action": ["kms:UpdateAlias", "kms:DeleteAlias"], "Resource": key_arn(&mine)},
    ]})
    .to_string();
    let app = server.client_with(app_user(&server, "app", Some(&policy)).await);
    assert_denied(
        app.update_alias(pb::UpdateAliasRequest {
            alias_name: "alias/prod-billing".into(),
            target_key_id: mine.clone(),
        })
        .await,
        "kms:UpdateAlias",
        &key_arn(&theirs),
    );
    assert_denied(
        app.delete_alias(pb::DeleteAliasRequest {
            alias_name: "alias/prod-billing".into(),
        })
        .await,
        "kms:DeleteAlias",
        &key_arn(&theirs),
    );
    // The alias still names their key.
    let described = root
        .describe_key(pb::DescribeKeyRequest {
            key_id: "alias/prod-billing".into(),
        })
        .await
        .unwrap();
    assert_eq!(described.key_metadata.unwrap().key_id, theirs);
    // On an alias of its own key, the same rights suffice.
    root.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/mine".into(),
        target_key_id: mine.clone(),
    })
    .await
    .unwrap();
    app.delete_alias(pb::DeleteAliasRequest {
        alias_name: "alias/mine".into(),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_simulation_is_bounded() {
    let server = TestServer::start().await;
    app_user(&server, "app", None).await;
    let result = server
        .client()
        .simulate_principal_policy(pb::SimulatePrincipalPolicyRequest {
            policy_source_arn: "arn:aws:iam::000000000000:user/app".into(),
            action_names: (0..100).map(|i| format!("kms:Action{i}")).collect(),
            resource_arns: (0..11)
                .map(|i| format!("arn:aws:kms:us-east-1:000000000000:key/{i}"))
                .collect(),
            ..Default::default()
        })
        .await;
    assert_error(result, Code::InvalidArgument, "ValidationException");
}
