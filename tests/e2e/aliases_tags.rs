//! Aliases (CreateAlias, UpdateAlias, DeleteAlias, ListAliases) and tags (TagResource,
//! UntagResource, ListResourceTags), with AWS's naming rules and limits.

use tonic::Code;
use vaultd::{client::Client, pb};

use crate::common::*;

async fn alias(
    client: &Client,
    name: &str,
    target: &str,
) -> Result<pb::CreateAliasResponse, vaultd::client::ClientError> {
    client
        .create_alias(pb::CreateAliasRequest {
            alias_name: name.into(),
            target_key_id: target.into(),
        })
        .await
}

async fn key_of(client: &Client, key_id: &str) -> String {
    client
        .describe_key(pb::DescribeKeyRequest {
            key_id: key_id.into(),
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

#[tokio::test]
async fn aliases_point_at_keys_and_can_move() {
    let server = TestServer::start().await;
    let client = server.client();
    let a = create_key(&client).await;
    let b = create_key(&client).await;
    alias(&client, "alias/app/current", &a).await.unwrap();
    alias(
        &client,
        "alias/other",
        &format!("arn:aws:kms:us-east-1:000000000000:key/{a}"),
    )
    .await
    .unwrap();
    assert_eq!(key_of(&client, "alias/app/current").await, a);

    let listed = client
        .list_aliases(pb::ListAliasesRequest::default())
        .await
        .unwrap();
    let names: Vec<&str> = listed
        .aliases
        .iter()
        .map(|x| x.alias_name.as_str())
        .collect();
    assert_eq!(names, ["alias/app/current", "alias/other"]);
    assert_eq!(
        listed.aliases[0].alias_arn,
        "arn:aws:kms:us-east-1:000000000000:alias/app/current"
    );
    assert_eq!(listed.aliases[0].target_key_id, a);
    assert!(listed.aliases[0].creation_date.is_some());

    let blob = client
        .encrypt(pb::EncryptRequest {
            key_id: "alias/app/current".into(),
            plaintext: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .ciphertext_blob;
    client
        .update_alias(pb::UpdateAliasRequest {
            alias_name: "alias/app/current".into(),
            target_key_id: b.clone(),
        })
        .await
        .unwrap();
    assert_eq!(key_of(&client, "alias/app/current").await, b);
    // A blob made through the alias still names its key and decrypts.
    client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .unwrap();

    let of_b = client
        .list_aliases(pb::ListAliasesRequest {
            key_id: b.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(of_b.aliases.len(), 1);

    client
        .delete_alias(pb::DeleteAliasRequest {
            alias_name: "alias/app/current".into(),
        })
        .await
        .unwrap();
    assert_error(
        client
            .describe_key(pb::DescribeKeyRequest {
                key_id: "alias/app/current".into(),
            })
            .await,
        Code::NotFound,
        "NotFoundException",
    );
    assert_error(
        client
            .delete_alias(pb::DeleteAliasRequest {
                alias_name: "alias/app/current".into(),
            })
            .await,
        Code::NotFound,
        "NotFoundException",
    );
    // The name is free again.
    alias(&client, "alias/app/current", &a).await.unwrap();
}

#[tokio::test]
async fn alias_rules() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    alias(&client, "alias/taken", &key).await.unwrap();
    for name in [
        "app",
        "alias/",
        "alias/with space",
        "alias/aws/ssm",
        "alias/é",
    ] {
        assert_error(
            alias(&client, name, &key).await,
            Code::InvalidArgument,
            "InvalidAliasNameException",
        );
    }
    assert_error(
        alias(&client, "", &key).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        alias(&client, &format!("alias/{}", "a".repeat(251)), &key).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        alias(&client, "alias/taken", &key).await,
        Code::AlreadyExists,
        "AlreadyExistsException",
    );
    assert_error(
        alias(&client, "alias/x", "alias/taken").await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        alias(&client, "alias/x", &uuid::Uuid::new_v4().to_string()).await,
        Code::NotFound,
        "NotFoundException",
    );
    assert_error(
        client
            .update_alias(pb::UpdateAliasRequest {
                alias_name: "alias/missing".into(),
                target_key_id: key.clone(),
            })
            .await,
        Code::NotFound,
        "NotFoundException",
    );
    assert_error(
        client
            .delete_alias(pb::DeleteAliasRequest {
                alias_name: "alias/aws/kms".into(),
            })
            .await,
        Code::InvalidArgument,
        "InvalidAliasNameException",
    );

    schedule_deletion(&client, &key, 7).await;
    assert_error(
        alias(&client, "alias/late", &key).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    let other = create_key(&client).await;
    alias(&client, "alias/b", &other).await.unwrap();
    assert_error(
        client
            .update_alias(pb::UpdateAliasRequest {
                alias_name: "alias/b".into(),
                target_key_id: key.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    // Deleting an alias of a key pending deletion is allowed.
    client
        .delete_alias(pb::DeleteAliasRequest {
            alias_name: "alias/taken".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn list_aliases_pages() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    let mut names: Vec<String> = (0..7).map(|i| format!("alias/a{i}")).collect();
    for name in &names {
        alias(&client, name, &key).await.unwrap();
    }
    names.sort();
    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let page = client
            .list_aliases(pb::ListAliasesRequest {
                key_id: key.clone(),
                limit: Some(3),
                marker,
            })
            .await
            .unwrap();
        seen.extend(page.aliases.into_iter().map(|a| a.alias_name));
        if !page.truncated {
            break;
        }
        marker = page.next_marker;
    }
    assert_eq!(seen, names);
    assert_error(
        client
            .list_aliases(pb::ListAliasesRequest {
                limit: Some(101),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        client
            .list_aliases(pb::ListAliasesRequest {
                key_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
        "NotFoundException",
    );
}

fn tag(k: &str, v: &str) -> pb::Tag {
    pb::Tag {
        tag_key: k.into(),
        tag_value: v.into(),
    }
}

async fn tags(client: &Client, key: &str) -> Vec<pb::Tag> {
    client
        .list_resource_tags(pb::ListResourceTagsRequest {
            key_id: key.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .tags
}

#[tokio::test]
async fn tags_add_overwrite_remove_and_limits() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = create_key(&client).await;
    let tag_resource = |tags: Vec<pb::Tag>| {
        let client = client.clone();
        let key = key.clone();
        async move {
            client
                .tag_resource(pb::TagResourceRequest { key_id: key, tags })
                .await
        }
    };
    tag_resource(vec![tag("team", "a"), tag("env", "dev")])
        .await
        .unwrap();
    tag_resource(vec![tag("team", "b")]).await.unwrap();
    assert_eq!(
        tags(&client, &key).await,
        [tag("env", "dev"), tag("team", "b")]
    );
    client
        .untag_resource(pb::UntagResourceRequest {
            key_id: key.clone(),
            tag_keys: vec!["env".into(), "never-there".into()],
        })
        .await
        .unwrap();
    assert_eq!(tags(&client, &key).await, [tag("team", "b")]);

    for bad in [
        vec![tag("aws:x", "v")],
        vec![tag("", "v")],
        vec![tag(&"k".repeat(129), "v")],
        vec![tag("k", &"v".repeat(257))],
        vec![tag("dup", "1"), tag("dup", "2")],
    ] {
        assert_error(
            tag_resource(bad).await,
            Code::InvalidArgument,
            "TagException",
        );
    }
    assert_error(
        tag_resource(vec![]).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    // 50 tags per key: 49 more fit, the 51st does not.
    tag_resource((0..49).map(|i| tag(&format!("k{i:02}"), "v")).collect())
        .await
        .unwrap();
    assert_error(
        tag_resource(vec![tag("one-too-many", "v")]).await,
        Code::InvalidArgument,
        "TagException",
    );
    // Overwriting an existing tag at the limit is fine.
    tag_resource(vec![tag("team", "c")]).await.unwrap();

    let page = client
        .list_resource_tags(pb::ListResourceTagsRequest {
            key_id: key.clone(),
            limit: Some(20),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.tags.len(), 20);
    assert!(page.truncated);
    assert_error(
        client
            .list_resource_tags(pb::ListResourceTagsRequest {
                key_id: key.clone(),
                limit: Some(51),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );

    schedule_deletion(&client, &key, 7).await;
    assert_error(
        tag_resource(vec![tag("late", "v")]).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    assert_error(
        client
            .untag_resource(pb::UntagResourceRequest {
                key_id: key.clone(),
                tag_keys: vec!["team".into()],
            })
            .await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    assert_eq!(tags(&client, &key).await.len(), 50);
}
