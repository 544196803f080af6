//! `vault.v1.Identity`: users, access keys and inline policies with IAM's names, limits and
//! errors; policy simulation.

use tonic::Code;
use vaultd::{client::StaticCredentials, pb};

use crate::common::*;

fn user(name: &str) -> pb::CreateUserRequest {
    pb::CreateUserRequest {
        user_name: name.into(),
    }
}

#[tokio::test]
async fn users_are_created_listed_and_deleted_as_iam_does() {
    let server = TestServer::start().await;
    let root = server.client();
    let created = root.create_user(user("Alice")).await.unwrap().user.unwrap();
    assert_eq!(created.user_name, "Alice");
    assert_eq!(created.arn, "arn:aws:iam::000000000000:user/Alice");
    assert!(created.user_id.starts_with("AIDA") && created.user_id.len() == 20);
    assert!(created.create_date.is_some());

    // IAM user names are unique regardless of case, and looked up regardless of case.
    let dup = root.create_user(user("alice")).await;
    assert_error(dup, Code::AlreadyExists, "EntityAlreadyExists");
    let got = root
        .get_user(pb::GetUserRequest {
            user_name: "ALICE".into(),
        })
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(got.user_id, created.user_id);

    for bad in ["", "has space", "slash/name", &"x".repeat(65)] {
        let result = root.create_user(user(bad)).await;
        assert_error(result, Code::InvalidArgument, "ValidationException");
    }
    assert_error(
        root.get_user(pb::GetUserRequest {
            user_name: "nobody".into(),
        })
        .await,
        Code::NotFound,
        "NoSuchEntity",
    );

    // GetUser without a name is the caller.
    let me = root
        .get_user(Default::default())
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(me.user_name, "root");

    for name in ["bob", "carol", "dave"] {
        root.create_user(user(name)).await.unwrap();
    }
    let mut names = Vec::new();
    let mut marker = String::new();
    loop {
        let page = root
            .list_users(pb::ListUsersRequest {
                marker: marker.clone(),
                max_items: Some(2),
            })
            .await
            .unwrap();
        assert!(page.users.len() <= 2);
        names.extend(page.users.into_iter().map(|u| u.user_name));
        if !page.is_truncated {
            break;
        }
        marker = page.marker;
    }
    assert_eq!(names, ["Alice", "bob", "carol", "dave", "root"]);
    assert_error(
        root.list_users(pb::ListUsersRequest {
            max_items: Some(0),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "ValidationException",
    );

    root.delete_user(pb::DeleteUserRequest {
        user_name: "bob".into(),
    })
    .await
    .unwrap();
    assert_error(
        root.get_user(pb::GetUserRequest {
            user_name: "bob".into(),
        })
        .await,
        Code::NotFound,
        "NoSuchEntity",
    );
    assert_error(
        root.delete_user(pb::DeleteUserRequest {
            user_name: "root".into(),
        })
        .await,
        Code::FailedPrecondition,
        "DeleteConflict",
    );
}

#[tokio::test]
async fn a_user_with_keys_or_policies_cannot_be_deleted() {
    let server = TestServer::start().await;
    let root = server.client();
    let creds = app_user(&server, "app", Some(&allow(&["kms:ListKeys"], "*"))).await;
    let delete = || {
        root.delete_user(pb::DeleteUserRequest {
            user_name: "app".into(),
        })
    };
    assert_error(delete().await, Code::FailedPrecondition, "DeleteConflict");
    root.delete_access_key(pb::DeleteAccessKeyRequest {
        user_name: "app".into(),
        access_key_id: creds.access_key_id.clone(),
    })
    .await
    .unwrap();
    assert_error(delete().await, Code::FailedPrecondition, "DeleteConflict");
    root.delete_user_policy(pb::DeleteUserPolicyRequest {
        user_name: "app".into(),
        policy_name: "app".into(),
    })
    .await
    .unwrap();
    delete().await.unwrap();
    // The deleted key no longer authenticates.
    let gone = server
        .client_with(creds)
        .list_keys(Default::default())
        .await;
    assert_error(gone, Code::Unauthenticated, "UnrecognizedClientException");
}

#[tokio::test]
async fn access_keys_are_shown_once_limited_to_two_and_can_be_deactivated() {
    let server = TestServer::start().await;
    let root = server.client();
    root.create_user(user("app")).await.unwrap();
    root.put_user_policy(pb::PutUserPolicyRequest {
        user_name: "app".into(),
        policy_name: "list".into(),
        policy_document: allow(&["kms:ListKeys"], "*"),
    })
    .await
    .unwrap();
    let create = || {
        root.create_access_key(pb::CreateAccessKeyRequest {
            user_name: "app".into(),
        })
    };
    let first = create().await.unwrap().access_key.unwrap();
    assert!(first.access_key_id.starts_with("AKIA") && first.access_key_id.len() == 20);
    assert_eq!(first.secret_access_key.len(), 40);
    assert_eq!(first.status, pb::StatusType::Active as i32);
    assert!(
        !format!("{first:?}").contains(&first.secret_access_key),
        "Debug output must not show the secret"
    );
    let second = create().await.unwrap().access_key.unwrap();
    assert_error(
        create().await,
        Code::FailedPrecondition,
        "LimitExceededException",
    );

    let listed = root
        .list_access_keys(pb::ListAccessKeysRequest {
            user_name: "app".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .access_key_metadata;
    let ids: Vec<_> = listed.iter().map(|k| k.access_key_id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.access_key_id.as_str()));
    assert!(ids.contains(&second.access_key_id.as_str()));

    let app = server.client_with(StaticCredentials::new(
        &first.access_key_id,
        &first.secret_access_key,
        None,
    ));
    app.list_keys(Default::default()).await.unwrap();
    let set_status = |status: pb::StatusType| {
        root.update_access_key(pb::UpdateAccessKeyRequest {
            user_name: "app".into(),
            access_key_id: first.access_key_id.clone(),
            status: status as i32,
        })
    };
    set_status(pb::StatusType::Inactive).await.unwrap();
    assert_error(
        app.list_keys(Default::default()).await,
        Code::Unauthenticated,
        "UnrecognizedClientException",
    );
    set_status(pb::StatusType::Active).await.unwrap();
    app.list_keys(Default::default()).await.unwrap();

    // Another user's key id is not this user's.
    root.create_user(user("other")).await.unwrap();
    assert_error(
        root.delete_access_key(pb::DeleteAccessKeyRequest {
            user_name: "other".into(),
            access_key_id: first.access_key_id.clone(),
        })
        .await,
        Code::NotFound,
        "NoSuchEntity",
    );
    assert_error(
        root.update_access_key(pb::UpdateAccessKeyRequest {
            user_name: "app".into(),
            access_key_id: first.access_key_id.clone(),
            status: 0,
        })
        .await,
        Code::InvalidArgument,
        "ValidationException",
    );
}

#[tokio::test]
async fn inline_policies_are_validated_sized_listed_and_removed() {
    let server = TestServer::start().await;
    let root = server.client();
    root.create_user(user("app")).await.unwrap();
    let put = |name: &str, document: &str| {
        root.put_user_policy(pb::PutUserPolicyRequest {
            user_name: "app".into(),
            policy_name: name.into(),
            policy_document: document.into(),
        })
    };
    for malformed in [
        "not json",
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        r#"{"Statement":{"Effect":"Maybe","Action":"kms:*","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Action":"Encrypt","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringSorta":{"aws:username":"x"}}}}"#,
    ] {
        assert_error(
            put("bad", malformed).await,
            Code::InvalidArgument,
            "MalformedPolicyDocument",
        );
    }
    put("kms", &allow(&["kms:Encrypt"], "*")).await.unwrap();
    put("iam", &allow(&["iam:GetUser"], "*")).await.unwrap();
    // Replacing a policy is allowed.
    put("kms", &allow(&["kms:Encrypt", "kms:Decrypt"], "*"))
        .await
        .unwrap();
    let got = root
        .get_user_policy(pb::GetUserPolicyRequest {
            user_name: "app".into(),
            policy_name: "kms".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        got.policy_document,
        allow(&["kms:Encrypt", "kms:Decrypt"], "*")
    );
    let names = root
        .list_user_policies(pb::ListUserPoliciesRequest {
            user_name: "app".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .policy_names;
    assert_eq!(names, ["iam", "kms"]);

    // The aggregate size of a user's policies is capped at 2,048 characters, as IAM.
    let resources: Vec<String> = (0..40)
        .map(|i| format!("arn:aws:kms:us-east-1:000000000000:key/{i:036}"))
        .collect();
    let big = serde_json::json!({"Statement": {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": resources}})
        .to_string();
    assert!(big.len() > 2048);
    assert_error(
        put("big", &big).await,
        Code::FailedPrecondition,
        "LimitExceededException",
    );

    root.delete_user_policy(pb::DeleteUserPolicyRequest {
        user_name: "app".into(),
        policy_name: "iam".into(),
    })
    .await
    .unwrap();
    assert_error(
        root.get_user_policy(pb::GetUserPolicyRequest {
            user_name: "app".into(),
            policy_name: "iam".into(),
        })
        .await,
        Code::NotFound,
        "NoSuchEntity",
    );
    assert_error(
        root.delete_user_policy(pb::DeleteUserPolicyRequest {
            user_name: "app".into(),
            policy_name: "iam".into(),
        })
        .await,
        Code::NotFound,
        "NoSuchEntity",
    );
}

#[tokio::test]
async fn simulation_answers_which_statement_decided() {
    let server = TestServer::start().await;
    let root = server.client();
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"UseKeys","Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:*:*:key/*",
         "Condition":{"StringEquals":{"kms:EncryptionContext:app":"billing"}}},
        {"Sid":"NoProd","Effect":"Deny","Action":"ssm:*","Resource":"arn:aws:ssm:*:*:parameter/prod/*"},
        {"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}]}"#;
    app_user(&server, "app", Some(policy)).await;
    let key_arn = "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    let simulate = |actions: &[&str], resource: &str, context: Vec<pb::ContextEntry>| {
        root.simulate_principal_policy(pb::SimulatePrincipalPolicyRequest {
            policy_source_arn: "arn:aws:iam::000000000000:user/app".into(),
            action_names: actions.iter().map(|a| a.to_string()).collect(),
            resource_arns: vec![resource.into()],
            context_entries: context,
            ..Default::default()
        })
    };
    let billing = || {
        vec![pb::ContextEntry {
            context_key_name: "kms:EncryptionContext:app".into(),
            context_key_values: vec!["billing".into()],
            context_key_type: "string".into(),
        }]
    };
    let results = simulate(
        &["kms:Encrypt", "kms:Decrypt", "kms:CreateKey"],
        key_arn,
        billing(),
    )
    .await
    .unwrap()
    .evaluation_results;
    assert_eq!(results.len(), 3);
    for allowed in &results[..2] {
        assert_eq!(
            allowed.eval_decision,
            pb::PolicyEvaluationDecisionType::Allowed as i32
        );
        assert_eq!(allowed.matched_statements.len(), 1);
        let statement = &allowed.matched_statements[0];
        assert_eq!(statement.source_policy_id, "app");
        assert_eq!(statement.sid, "UseKeys");
        assert_eq!(statement.statement_index, 0);
    }
    assert_eq!(
        results[2].eval_decision,
        pb::PolicyEvaluationDecisionType::ImplicitDeny as i32
    );
    assert!(results[2].matched_statements.is_empty());

    // What needs no permission is reported allowed, as it is enforced.
    let results = simulate(
        &["sts:GetSessionToken", "sts:GetCallerIdentity"],
        "*",
        vec![],
    )
    .await
    .unwrap()
    .evaluation_results;
    for result in &results {
        assert_eq!(
            result.eval_decision,
            pb::PolicyEvaluationDecisionType::Allowed as i32,
            "{}",
            result.eval_action_name
        );
    }

    // Without the context the condition fails.
    let results = simulate(&["kms:Encrypt"], key_arn, vec![])
        .await
        .unwrap()
        .evaluation_results;
    assert_eq!(
        results[0].eval_decision,
        pb::PolicyEvaluationDecisionType::ImplicitDeny as i32
    );

    // Deny beats the broad Allow, and says which statement denied.
    let results = simulate(
        &["ssm:GetParameter"],
        "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db",
        vec![],
    )
    .await
    .unwrap()
    .evaluation_results;
    assert_eq!(
        results[0].eval_decision,
        pb::PolicyEvaluationDecisionType::ExplicitDeny as i32
    );
    assert_eq!(results[0].matched_statements[0].sid, "NoProd");
    assert_eq!(results[0].matched_statements[0].statement_index, 1);

    // A draft policy from the request joins the user's.
    let results = root
        .simulate_principal_policy(pb::SimulatePrincipalPolicyRequest {
            policy_source_arn: "arn:aws:iam::000000000000:user/app".into(),
            action_names: vec!["kms:CreateKey".into()],
            policy_input_list: vec![allow(&["kms:CreateKey"], "*")],
            ..Default::default()
        })
        .await
        .unwrap()
        .evaluation_results;
    assert_eq!(
        results[0].eval_decision,
        pb::PolicyEvaluationDecisionType::Allowed as i32
    );
    assert_eq!(
        results[0].matched_statements[0].source_policy_id,
        "PolicyInputList.1"
    );
    assert_eq!(results[0].eval_resource_name, "*");

    assert_error(
        root.simulate_principal_policy(pb::SimulatePrincipalPolicyRequest {
            policy_source_arn: "arn:aws:iam::000000000000:user/app".into(),
            action_names: vec!["kms:CreateKey".into()],
            policy_input_list: vec!["{".into()],
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "MalformedPolicyDocument",
    );
    assert_error(
        root.simulate_principal_policy(pb::SimulatePrincipalPolicyRequest {
            policy_source_arn: "arn:aws:iam::000000000000:user/ghost".into(),
            action_names: vec!["kms:CreateKey".into()],
            ..Default::default()
        })
        .await,
        Code::NotFound,
        "NoSuchEntity",
    );
}
