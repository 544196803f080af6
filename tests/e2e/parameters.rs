//! Parameter Store through the real server: types, versions, selectors, labels, tiers, paths and
//! filters with pagination, history limits, tags, policies (ssm and, for SecureString, kms), and
//! values never on disk in the clear.

use base64::{Engine, engine::general_purpose::STANDARD};
use tonic::Code;
use vaultd::{
    client::{Client, ClientError},
    pb,
};

use crate::common::{TestServer, allow, app_user, assert_error, create_key, ctx};

async fn put(
    client: &Client,
    name: &str,
    value: &str,
    parameter_type: pb::ParameterType,
) -> Result<pb::PutParameterResponse, ClientError> {
    client
        .put_parameter(pb::PutParameterRequest {
            name: name.into(),
            value: value.into(),
            r#type: parameter_type as i32,
            ..Default::default()
        })
        .await
}

async fn overwrite(client: &Client, name: &str, value: &str) -> pb::PutParameterResponse {
    client
        .put_parameter(pb::PutParameterRequest {
            name: name.into(),
            value: value.into(),
            overwrite: true,
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn get(
    client: &Client,
    name: &str,
    with_decryption: bool,
) -> Result<pb::Parameter, ClientError> {
    client
        .get_parameter(pb::GetParameterRequest {
            name: name.into(),
            with_decryption,
        })
        .await
        .map(|r| r.parameter.unwrap())
}

async fn by_path(
    client: &Client,
    path: &str,
    recursive: bool,
    filters: Vec<pb::ParameterStringFilter>,
    max_results: Option<i32>,
    next_token: &str,
) -> Result<pb::GetParametersByPathResponse, ClientError> {
    client
        .get_parameters_by_path(pb::GetParametersByPathRequest {
            path: path.into(),
            recursive,
            parameter_filters: filters,
            max_results,
            next_token: next_token.into(),
            ..Default::default()
        })
        .await
}

/// Every name under `path`, following NextToken with `page` results a call.
async fn all_by_path(client: &Client, path: &str, recursive: bool, page: i32) -> Vec<String> {
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let answer = by_path(client, path, recursive, vec![], Some(page), &token)
            .await
            .unwrap();
        assert!(answer.parameters.len() <= page as usize);
        names.extend(answer.parameters.into_iter().map(|p| p.name));
        if answer.next_token.is_empty() {
            return names;
        }
        token = answer.next_token;
    }
}

fn filter(key: &str, values: &[&str]) -> pb::ParameterStringFilter {
    pb::ParameterStringFilter {
        key: key.into(),
        option: "Equals".into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

#[tokio::test]
async fn string_string_list_and_secure_string_parameters() {
    let server = TestServer::start().await;
    let client = server.client();
    use pb::ParameterType as T;
    let answer = put(&client, "/app/db/host", "db.internal", T::String)
        .await
        .unwrap();
    assert_eq!(
        (answer.version, answer.tier()),
        (1, pb::ParameterTier::Standard)
    );
    put(&client, "/app/hosts", "a,b,c", T::StringList)
        .await
        .unwrap();
    put(
        &client,
        "/app/db/password",
        "hunter2-secret",
        T::SecureString,
    )
    .await
    .unwrap();

    let host = get(&client, "/app/db/host", false).await.unwrap();
    assert_eq!(
        (
            host.value.as_str(),
            host.r#type(),
            host.version,
            host.data_type.as_str()
        ),
        ("db.internal", T::String, 1, "text")
    );
    assert_eq!(
        host.arn,
        "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host"
    );
    assert_eq!(
        get(&client, "/app/hosts", false).await.unwrap().value,
        "a,b,c"
    );

    // SecureString: decrypted on request; otherwise the base64 of a KMS ciphertext that KMS
    // Decrypt opens with the parameter's ARN as encryption context.
    let secret = get(&client, "/app/db/password", true).await.unwrap();
    assert_eq!(secret.value, "hunter2-secret");
    let sealed = get(&client, "/app/db/password", false).await.unwrap();
    assert_ne!(sealed.value, "hunter2-secret");
    let blob = STANDARD.decode(&sealed.value).unwrap();
    let opened = client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob.clone(),
            encryption_context: ctx(&[("PARAMETER_ARN", &sealed.arn)]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(opened.plaintext, b"hunter2-secret");
    // The key is the AWS-managed alias/aws/ssm, created on first use.
    let key = client
        .describe_key(pb::DescribeKeyRequest {
            key_id: "alias/aws/ssm".into(),
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(key.key_manager(), pb::KeyManagerType::Aws);
    assert!(opened.key_id.ends_with(&key.key_id));

    // A SecureString under a key of the caller's choosing.
    let own = create_key(&client).await;
    client
        .put_parameter(pb::PutParameterRequest {
            name: "/app/api-token".into(),
            value: "tok-123".into(),
            r#type: T::SecureString as i32,
            key_id: own.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        get(&client, "/app/api-token", true).await.unwrap().value,
        "tok-123"
    );
    // Its key disabled: the value can't be read.
    client
        .disable_key(pb::DisableKeyRequest {
            key_id: own.clone(),
        })
        .await
        .unwrap();
    assert_error(
        get(&client, "/app/api-token", true).await,
        Code::FailedPrecondition,
        "DisabledException",
    );
    // An unknown key is InvalidKeyId; a key for a String is refused.
    let put_with_key = |name: &str, t: T, key_id: &str| {
        client.put_parameter(pb::PutParameterRequest {
            name: name.into(),
            value: "v".into(),
            r#type: t as i32,
            key_id: key_id.into(),
            ..Default::default()
        })
    };
    assert_error(
        put_with_key("/x/s", T::SecureString, "alias/nope").await,
        Code::InvalidArgument,
        "InvalidKeyId",
    );
    assert_error(
        put_with_key("/x/t", T::String, &own).await,
        Code::InvalidArgument,
        "ValidationException",
    );

    // Everything survives a restart.
    let server = server.restart().await;
    let client = server.client();
    assert_eq!(
        get(&client, "/app/db/password", true).await.unwrap().value,
        "hunter2-secret"
    );
    assert_eq!(
        get(&client, "/app/db/host", false).await.unwrap().value,
        "db.internal"
    );
}

#[tokio::test]
async fn versions_selectors_labels_and_history() {
    let server = TestServer::start().await;
    let client = server.client();
    let name = "/svc/feature";
    put(&client, name, "off", pb::ParameterType::String)
        .await
        .unwrap();
    assert_error(
        put(&client, name, "on", pb::ParameterType::String).await,
        Code::AlreadyExists,
        "ParameterAlreadyExists",
    );
    assert_eq!(overwrite(&client, name, "on").await.version, 2);
    assert_eq!(get(&client, name, false).await.unwrap().value, "on");
    let v1 = get(&client, &format!("{name}:1"), false).await.unwrap();
    assert_eq!((v1.value.as_str(), v1.selector.as_str()), ("off", ":1"));

    let labelled = client
        .label_parameter_version(pb::LabelParameterVersionRequest {
            name: name.into(),
            parameter_version: Some(1),
            labels: vec!["stable".into(), "1bad".into(), "aws-nope".into()],
        })
        .await
        .unwrap();
    assert_eq!(labelled.parameter_version, 1);
    assert_eq!(labelled.invalid_labels, ["1bad", "aws-nope"]);
    let stable = get(&client, &format!("{name}:stable"), false)
        .await
        .unwrap();
    assert_eq!((stable.value.as_str(), stable.version), ("off", 1));
    // A label moves: now on the latest version.
    client
        .label_parameter_version(pb::LabelParameterVersionRequest {
            name: name.into(),
            labels: vec!["stable".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        get(&client, &format!("{name}:stable"), false)
            .await
            .unwrap()
            .version,
        2
    );
    for missing in [":9", ":nolabel"] {
        assert_error(
            get(&client, &format!("{name}{missing}"), false).await,
            Code::NotFound,
            "ParameterVersionNotFound",
        );
    }
    assert_error(
        get(&client, "/svc/none", false).await,
        Code::NotFound,
        "ParameterNotFound",
    );

    // At most ten labels a version.
    let many: Vec<String> = (0..10).map(|i| format!("l{i}")).collect();
    assert_error(
        client
            .label_parameter_version(pb::LabelParameterVersionRequest {
                name: name.into(),
                labels: many,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ParameterVersionLabelLimitExceeded",
    );
    let unlabelled = client
        .unlabel_parameter_version(pb::UnlabelParameterVersionRequest {
            name: name.into(),
            parameter_version: 2,
            labels: vec!["stable".into(), "never".into()],
        })
        .await
        .unwrap();
    assert_eq!(
        (unlabelled.removed_labels, unlabelled.invalid_labels),
        (vec!["stable".to_string()], vec!["never".to_string()])
    );

    let history = client
        .get_parameter_history(pb::GetParameterHistoryRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .parameters;
    let values: Vec<_> = history
        .iter()
        .map(|h| (h.version, h.value.as_str()))
        .collect();
    assert_eq!(values, [(1, "off"), (2, "on")]);
    assert!(
        history[0].last_modified_user.ends_with(":user/root"),
        "{}",
        history[0].last_modified_user
    );
}

#[tokio::test]
async fn history_keeps_a_hundred_versions_unless_the_oldest_is_labelled() {
    let server = TestServer::start().await;
    let client = server.client();
    let name = "/busy";
    put(&client, name, "v1", pb::ParameterType::String)
        .await
        .unwrap();
    for i in 2..=100 {
        overwrite(&client, name, &format!("v{i}")).await;
    }
    // The 101st version pushes out the first.
    assert_eq!(overwrite(&client, name, "v101").await.version, 101);
    assert_error(
        get(&client, &format!("{name}:1"), false).await,
        Code::NotFound,
        "ParameterVersionNotFound",
    );
    assert_eq!(
        get(&client, &format!("{name}:2"), false)
            .await
            .unwrap()
            .value,
        "v2"
    );
    // Unless a label holds the oldest.
    client
        .label_parameter_version(pb::LabelParameterVersionRequest {
            name: name.into(),
            parameter_version: Some(2),
            labels: vec!["pinned".into()],
        })
        .await
        .unwrap();
    assert_error(
        client
            .put_parameter(pb::PutParameterRequest {
                name: name.into(),
                value: "v102".into(),
                overwrite: true,
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
        "ParameterMaxVersionLimitExceeded",
    );
    let mut token = String::new();
    let mut versions = Vec::new();
    loop {
        let page = client
            .get_parameter_history(pb::GetParameterHistoryRequest {
                name: name.into(),
                max_results: Some(50),
                next_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        versions.extend(page.parameters.iter().map(|p| p.version));
        if page.next_token.is_empty() {
            break;
        }
        token = page.next_token;
    }
    assert_eq!(versions, (2..=101).collect::<Vec<_>>());
}

#[tokio::test]
async fn names_tiers_and_patterns_as_aws() {
    let server = TestServer::start().await;
    let client = server.client();
    use pb::ParameterType as T;
    for bad in [
        "a b",
        "no/leading",
        "/trailing/",
        "awsParam",
        "/ssm/x",
        "/a//b",
    ] {
        assert_error(
            put(&client, bad, "v", T::String).await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    let deep = "/l".repeat(16);
    assert_error(
        put(&client, &deep, "v", T::String).await,
        Code::InvalidArgument,
        "HierarchyLevelLimitExceededException",
    );
    // Standard holds 4 KB, Advanced 8 KB; Intelligent-Tiering picks; no way back to Standard.
    put(&client, "/t/std", &"x".repeat(4096), T::String)
        .await
        .unwrap();
    assert_error(
        put(&client, "/t/big", &"x".repeat(4097), T::String).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    let tiered = |name: &str, len: usize, tier: pb::ParameterTier| {
        client.put_parameter(pb::PutParameterRequest {
            name: name.into(),
            value: "x".repeat(len),
            r#type: T::String as i32,
            tier: tier as i32,
            overwrite: true,
            ..Default::default()
        })
    };
    let auto = tiered("/t/auto", 5000, pb::ParameterTier::IntelligentTiering)
        .await
        .unwrap();
    assert_eq!(auto.tier(), pb::ParameterTier::Advanced);
    tiered("/t/adv", 8192, pb::ParameterTier::Advanced)
        .await
        .unwrap();
    assert_error(
        tiered("/t/adv", 8193, pb::ParameterTier::Advanced).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        tiered("/t/adv", 10, pb::ParameterTier::Standard).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    // AllowedPattern: checked on every version, and the value never appears in the error.
    client
        .put_parameter(pb::PutParameterRequest {
            name: "/t/port".into(),
            value: "8080".into(),
            r#type: T::String as i32,
            allowed_pattern: "^\\d+$".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = assert_error(
        client
            .put_parameter(pb::PutParameterRequest {
                name: "/t/port".into(),
                value: "eighty-secret".into(),
                overwrite: true,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ParameterPatternMismatchException",
    );
    assert!(!err.to_string().contains("eighty-secret"), "{err}");
    // A type is needed to create; tags and overwrite don't mix.
    assert_error(
        put(&client, "/t/untyped", "v", T::Unspecified).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        client
            .put_parameter(pb::PutParameterRequest {
                name: "/t/port".into(),
                value: "1".into(),
                overwrite: true,
                tags: vec![pb::ResourceTag {
                    key: "k".into(),
                    value: "v".into(),
                }],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
}

#[tokio::test]
async fn get_parameters_lists_what_does_not_exist() {
    let server = TestServer::start().await;
    let client = server.client();
    put(&client, "/p/a", "1", pb::ParameterType::String)
        .await
        .unwrap();
    put(&client, "/p/b", "2", pb::ParameterType::SecureString)
        .await
        .unwrap();
    let answer = client
        .get_parameters(pb::GetParametersRequest {
            names: vec![
                "/p/a".into(),
                "/p/b".into(),
                "/p/missing".into(),
                "/p/a:7".into(),
            ],
            with_decryption: true,
        })
        .await
        .unwrap();
    let values: Vec<_> = answer
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(values, [("/p/a", "1"), ("/p/b", "2")]);
    assert_eq!(answer.invalid_parameters, ["/p/missing", "/p/a:7"]);
    assert_error(
        client
            .get_parameters(pb::GetParametersRequest {
                names: (0..11).map(|i| format!("/p/{i}")).collect(),
                with_decryption: false,
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    let deleted = client
        .delete_parameters(pb::DeleteParametersRequest {
            names: vec!["/p/a".into(), "/p/missing".into()],
        })
        .await
        .unwrap();
    assert_eq!(
        (deleted.deleted_parameters, deleted.invalid_parameters),
        (vec!["/p/a".to_string()], vec!["/p/missing".to_string()])
    );
    assert_error(
        client
            .delete_parameter(pb::DeleteParameterRequest {
                name: "/p/a".into(),
            })
            .await,
        Code::NotFound,
        "ParameterNotFound",
    );
}

#[tokio::test]
async fn paths_filters_and_pagination() {
    let server = TestServer::start().await;
    let client = server.client();
    use pb::ParameterType as T;
    for (name, t) in [
        ("/app/a", T::String),
        ("/app/b", T::SecureString),
        ("/app/db/url", T::String),
        ("/app/db/pw", T::SecureString),
        ("/app/db/deep/x", T::String),
        ("/apples", T::String),
        ("/other/c", T::String),
        ("top", T::String),
    ] {
        put(&client, name, "v", t).await.unwrap();
    }
    assert_eq!(
        all_by_path(&client, "/app", false, 10).await,
        ["/app/a", "/app/b"]
    );
    assert_eq!(
        all_by_path(&client, "/app", true, 1).await,
        [
            "/app/a",
            "/app/b",
            "/app/db/deep/x",
            "/app/db/pw",
            "/app/db/url"
        ]
    );
    assert_eq!(
        all_by_path(&client, "/app/db/", false, 2).await,
        ["/app/db/pw", "/app/db/url"]
    );
    assert_eq!(all_by_path(&client, "/", false, 10).await, ["/apples"]);
    let secure = by_path(
        &client,
        "/app",
        true,
        vec![filter("Type", &["SecureString"])],
        None,
        "",
    )
    .await
    .unwrap();
    let names: Vec<_> = secure.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["/app/b", "/app/db/pw"]);
    let by_key = by_path(
        &client,
        "/",
        true,
        vec![filter("KeyId", &["alias/aws/ssm"])],
        None,
        "",
    )
    .await
    .unwrap();
    assert_eq!(by_key.parameters.len(), 2);
    client
        .label_parameter_version(pb::LabelParameterVersionRequest {
            name: "/app/db/url".into(),
            labels: vec!["live".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let live = by_path(
        &client,
        "/app",
        true,
        vec![filter("Label", &["live"])],
        None,
        "",
    )
    .await
    .unwrap();
    assert_eq!(live.parameters.len(), 1);
    // Bad input: page sizes, tokens, filter keys, paths.
    for max in [0, 11] {
        assert_error(
            by_path(&client, "/app", true, vec![], Some(max), "").await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    assert_error(
        by_path(&client, "/app", true, vec![], None, "%%%").await,
        Code::InvalidArgument,
        "InvalidNextToken",
    );
    assert_error(
        by_path(
            &client,
            "/app",
            true,
            vec![filter("Name", &["x"])],
            None,
            "",
        )
        .await,
        Code::InvalidArgument,
        "InvalidFilterKey",
    );
    assert_error(
        by_path(&client, "app", true, vec![], None, "").await,
        Code::InvalidArgument,
        "ValidationException",
    );

    // DescribeParameters: metadata only, with its own filters.
    let described = client
        .describe_parameters(pb::DescribeParametersRequest {
            parameter_filters: vec![
                pb::ParameterStringFilter {
                    key: "Name".into(),
                    option: "BeginsWith".into(),
                    values: vec!["/app/db".into()],
                },
                filter("Type", &["String"]),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = described
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["/app/db/deep/x", "/app/db/url"]);
    let all = client
        .describe_parameters(pb::DescribeParametersRequest::default())
        .await
        .unwrap();
    assert_eq!(all.parameters.len(), 8);
}

#[tokio::test]
async fn ten_thousand_parameters_under_one_path_page_through() {
    let server = TestServer::start().await;
    let client = server.client();
    // Written straight through the domain (as the server would, without the RPC round trips), in
    // a few parallel writers, so the test stays quick.
    let params = server.vault.params.clone();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let params = params.clone();
            tokio::task::spawn_blocking(move || {
                for i in (w..10_000).step_by(4) {
                    params
                        .put_parameter(
                            vaultd::params::PutParameterInput {
                                name: format!("/fleet/host-{i:05}"),
                                value: zeroize::Zeroizing::new(format!(
                                    "10.0.{}.{}",
                                    i / 256,
                                    i % 256
                                )),
                                parameter_type: Some(vaultd::model::ParameterType::String),
                                ..Default::default()
                            },
                            "arn:aws:iam::000000000000:user/root",
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    put(&client, "/fleet/nested/x", "v", pb::ParameterType::String)
        .await
        .unwrap();
    let names = all_by_path(&client, "/fleet", false, 10).await;
    assert_eq!(names.len(), 10_000);
    assert!(names.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(names[4321], "/fleet/host-04321");
    // One page deep in the middle answers from where the token points.
    let first = by_path(&client, "/fleet", true, vec![], Some(10), "")
        .await
        .unwrap();
    assert_eq!(first.parameters.len(), 10);
    assert!(!first.next_token.is_empty());
}

#[tokio::test]
async fn tags_on_parameters() {
    let server = TestServer::start().await;
    let client = server.client();
    client
        .put_parameter(pb::PutParameterRequest {
            name: "/tagged".into(),
            value: "v".into(),
            r#type: pb::ParameterType::String as i32,
            tags: vec![pb::ResourceTag {
                key: "team".into(),
                value: "a".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let list = || {
        client.list_tags_for_resource(pb::ListTagsForResourceRequest {
            resource_type: "Parameter".into(),
            resource_id: "/tagged".into(),
        })
    };
    assert_eq!(
        list().await.unwrap().tag_list,
        [pb::ResourceTag {
            key: "team".into(),
            value: "a".into()
        }]
    );
    client
        .add_tags_to_resource(pb::AddTagsToResourceRequest {
            resource_type: "Parameter".into(),
            resource_id: "/tagged".into(),
            tags: vec![pb::ResourceTag {
                key: "env".into(),
                value: "prod".into(),
            }],
        })
        .await
        .unwrap();
    client
        .remove_tags_from_resource(pb::RemoveTagsFromResourceRequest {
            resource_type: "Parameter".into(),
            resource_id: "/tagged".into(),
            tag_keys: vec!["team".into()],
        })
        .await
        .unwrap();
    assert_eq!(
        list().await.unwrap().tag_list,
        [pb::ResourceTag {
            key: "env".into(),
            value: "prod".into()
        }]
    );
    assert_error(
        client
            .list_tags_for_resource(pb::ListTagsForResourceRequest {
                resource_type: "Document".into(),
                resource_id: "/tagged".into(),
            })
            .await,
        Code::InvalidArgument,
        "InvalidResourceType",
    );
    assert_error(
        client
            .list_tags_for_resource(pb::ListTagsForResourceRequest {
                resource_type: "Parameter".into(),
                resource_id: "/nothing".into(),
            })
            .await,
        Code::InvalidArgument,
        "InvalidResourceId",
    );
}

#[tokio::test]
async fn policies_govern_parameters_and_their_keys() {
    let server = TestServer::start().await;
    let root = server.client();
    use pb::ParameterType as T;
    let own = create_key(&root).await;
    put(&root, "/app/plain", "p", T::String).await.unwrap();
    put(&root, "/app/managed", "m", T::SecureString)
        .await
        .unwrap();
    root.put_parameter(pb::PutParameterRequest {
        name: "/app/custom".into(),
        value: "c".into(),
        r#type: T::SecureString as i32,
        key_id: own.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    put(&root, "/other/x", "x", T::String).await.unwrap();

    let reader = app_user(
        &server,
        "reader",
        Some(&allow(
            &["ssm:GetParameter*"],
            "arn:aws:ssm:*:*:parameter/app/*",
        )),
    )
    .await;
    let reader = server.client_with(reader);
    assert_eq!(get(&reader, "/app/plain", false).await.unwrap().value, "p");
    // The AWS-managed key needs no KMS permission; a customer key needs kms:Decrypt.
    assert_eq!(get(&reader, "/app/managed", true).await.unwrap().value, "m");
    get(&reader, "/app/custom", false).await.unwrap();
    assert_error(
        get(&reader, "/app/custom", true).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_error(
        get(&reader, "/other/x", false).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_error(
        put(&reader, "/app/new", "v", T::String).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    // GetParametersByPath is checked on the path.
    by_path(&reader, "/app", true, vec![], None, "")
        .await
        .unwrap_err();

    let decryptor = app_user(
        &server,
        "decryptor",
        Some(
            &serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "arn:aws:ssm:*:*:parameter/app/*"},
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": format!("arn:aws:kms:*:*:key/{own}"),
                     "Condition": {"StringEquals": {"kms:EncryptionContext:PARAMETER_ARN": "arn:aws:ssm:us-east-1:000000000000:parameter/app/custom"}}}
                ]
            })
            .to_string(),
        ),
    )
    .await;
    let decryptor = server.client_with(decryptor);
    assert_eq!(
        get(&decryptor, "/app/custom", true).await.unwrap().value,
        "c"
    );
}

#[tokio::test]
async fn no_parameter_value_sits_on_disk_in_the_clear() {
    let server = TestServer::start().await;
    let client = server.client();
    put(
        &client,
        "/disk/plain",
        "needle-plain-value-0001",
        pb::ParameterType::String,
    )
    .await
    .unwrap();
    put(
        &client,
        "/disk/secret",
        "needle-secure-value-0002",
        pb::ParameterType::SecureString,
    )
    .await
    .unwrap();
    put(
        &client,
        "/disk/list",
        "needle-list-a,needle-list-b",
        pb::ParameterType::StringList,
    )
    .await
    .unwrap();
    let (_keep, dir, _, _) = server.stop().await;
    let mut on_disk = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            on_disk.extend(std::fs::read(path).unwrap());
        }
    }
    assert!(
        on_disk.windows(11).any(|w| w == b"/disk/plain"),
        "the names are stored (sanity)"
    );
    for needle in [
        "needle-plain-value-0001",
        "needle-secure-value-0002",
        "needle-list-a",
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
async fn names_given_as_arns_are_authorized_as_the_parameter_they_name() {
    let server = TestServer::start().await;
    let root = server.client();
    put(
        &root,
        "/prod/db",
        "prod-secret-value",
        pb::ParameterType::SecureString,
    )
    .await
    .unwrap();
    put(&root, "/dev/db", "dev-value", pb::ParameterType::String)
        .await
        .unwrap();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ssm:*", "Resource": "arn:aws:ssm:*:*:parameter/prod/*"}
        ]
    })
    .to_string();
    let user = server.client_with(app_user(&server, "dev", Some(&policy)).await);
    let arn = "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db";
    for name in [arn.to_string(), format!("{arn}:1"), "/prod/db".into()] {
        assert_error(
            get(&user, &name, true).await,
            Code::PermissionDenied,
            "AccessDeniedException",
        );
    }
    assert_error(
        user.get_parameter_history(pb::GetParameterHistoryRequest {
            name: arn.into(),
            with_decryption: true,
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    assert_error(
        user.delete_parameter(pb::DeleteParameterRequest { name: arn.into() })
            .await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
    let dev = get(
        &user,
        "arn:aws:ssm:us-east-1:000000000000:parameter/dev/db",
        false,
    )
    .await
    .unwrap();
    assert_eq!(dev.value, "dev-value");

    // `x` and `/x` share an ARN, so only one of them may exist; the ARN finds it.
    put(&root, "/solo", "s", pb::ParameterType::String)
        .await
        .unwrap();
    assert_error(
        put(&root, "solo", "t", pb::ParameterType::String).await,
        Code::AlreadyExists,
        "ParameterAlreadyExists",
    );
    let solo = get(
        &root,
        "arn:aws:ssm:us-east-1:000000000000:parameter/solo",
        false,
    )
    .await
    .unwrap();
    assert_eq!(solo.name, "/solo");
}

#[tokio::test]
async fn the_aws_managed_key_is_used_but_not_managed_by_callers() {
    let server = TestServer::start().await;
    let client = server.client();
    put(&client, "/s", "v", pb::ParameterType::SecureString)
        .await
        .unwrap();
    // Naming the default key explicitly works too.
    client
        .put_parameter(pb::PutParameterRequest {
            name: "/t".into(),
            value: "v".into(),
            r#type: pb::ParameterType::SecureString as i32,
            key_id: "alias/aws/ssm".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let key = "alias/aws/ssm".to_string();
    assert_error(
        client
            .disable_key(pb::DisableKeyRequest {
                key_id: key.clone(),
            })
            .await,
        Code::InvalidArgument,
        "UnsupportedOperationException",
    );
    assert_error(
        client
            .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
                key_id: key.clone(),
                pending_window_in_days: Some(7),
            })
            .await,
        Code::InvalidArgument,
        "UnsupportedOperationException",
    );
    assert_eq!(get(&client, "/s", true).await.unwrap().value, "v");
}
