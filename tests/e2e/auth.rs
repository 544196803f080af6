//! Authentication (auth.md): unsigned, badly signed, stale and replayed requests are refused;
//! health and reflection stay open.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};
use tonic_types::StatusExt;
use vaultd::{
    auth::signature,
    client::{Client, ClientConfig, RetryPolicy},
    clock::{Clock, ManualClock, format_basic_iso8601},
    pb::{self, key_management_client::KeyManagementClient},
};

use crate::common::*;

async fn raw(server: &TestServer) -> KeyManagementClient<Channel> {
    KeyManagementClient::connect(server.endpoint())
        .await
        .unwrap()
}

fn random_request() -> Request<pb::GenerateRandomRequest> {
    Request::new(pb::GenerateRandomRequest {
        number_of_bytes: Some(8),
    })
}

const RANDOM: &str = "/vault.v1.KeyManagement/GenerateRandom";

/// A GenerateRandom request signed with `key_id` / `secret` for `date` and `method`.
fn signed(
    key_id: &str,
    secret: &str,
    date: &str,
    method: &str,
) -> Request<pb::GenerateRandomRequest> {
    let mut request = random_request();
    let header = signature::authorization_header(key_id, secret, date, method, None);
    let metadata = request.metadata_mut();
    metadata.insert("x-vault-date", MetadataValue::try_from(date).unwrap());
    metadata.insert(
        "authorization",
        MetadataValue::try_from(header.as_str()).unwrap(),
    );
    request
}

#[track_caller]
fn assert_unauthenticated<T: std::fmt::Debug>(result: Result<T, tonic::Status>, reason: &str) {
    let status = result.expect_err("must be refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        reason,
        "{status:?}"
    );
}

#[tokio::test]
async fn signed_requests_pass_and_everything_else_is_refused() {
    let server = TestServer::start().await;
    let mut kms = raw(&server).await;
    let now = format_basic_iso8601(server.clock.now());

    let ok = signed(ROOT_ACCESS_KEY_ID, ROOT_SECRET, &now, RANDOM);
    assert_eq!(
        kms.generate_random(ok)
            .await
            .unwrap()
            .into_inner()
            .plaintext
            .len(),
        8
    );

    assert_unauthenticated(
        kms.generate_random(random_request()).await,
        "MissingAuthenticationTokenException",
    );

    let mut no_date = signed(ROOT_ACCESS_KEY_ID, ROOT_SECRET, &now, RANDOM);
    no_date.metadata_mut().remove("x-vault-date");
    assert_unauthenticated(
        kms.generate_random(no_date).await,
        "MissingAuthenticationTokenException",
    );

    let bad_date = signed(
        ROOT_ACCESS_KEY_ID,
        ROOT_SECRET,
        "2026-11-26T03:16:18Z",
        RANDOM,
    );
    assert_unauthenticated(
        kms.generate_random(bad_date).await,
        "MissingAuthenticationTokenException",
    );

    let mut malformed = random_request();
    malformed
        .metadata_mut()
        .insert("authorization", MetadataValue::from_static("Bearer abc"));
    malformed.metadata_mut().insert(
        "x-vault-date",
        MetadataValue::try_from(now.as_str()).unwrap(),
    );
    assert_unauthenticated(
        kms.generate_random(malformed).await,
        "MissingAuthenticationTokenException",
    );

    let wrong_secret = signed(
        ROOT_ACCESS_KEY_ID,
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGSECRET",
        &now,
        RANDOM,
    );
    assert_unauthenticated(
        kms.generate_random(wrong_secret).await,
        "InvalidSignatureException",
    );

    let unknown = signed("AKIAUNKNOWNKEY234567", ROOT_SECRET, &now, RANDOM);
    assert_unauthenticated(
        kms.generate_random(unknown).await,
        "UnrecognizedClientException",
    );

    // A signature is valid for one method only.
    let replayed = signed(
        ROOT_ACCESS_KEY_ID,
        ROOT_SECRET,
        &now,
        "/vault.v1.KeyManagement/ListKeys",
    );
    assert_unauthenticated(
        kms.generate_random(replayed).await,
        "InvalidSignatureException",
    );

    // Sessions do not exist yet: a security token names nothing.
    let mut with_token = signed(ROOT_ACCESS_KEY_ID, ROOT_SECRET, &now, RANDOM);
    with_token.metadata_mut().insert(
        "x-vault-security-token",
        MetadataValue::from_static("forged"),
    );
    assert_unauthenticated(
        kms.generate_random(with_token).await,
        "UnrecognizedClientException",
    );
}

#[tokio::test]
async fn signatures_are_valid_for_five_minutes() {
    let server = TestServer::start().await;
    let mut kms = raw(&server).await;
    let at = |offset: i64| {
        let now = server.clock.now();
        let t = if offset >= 0 {
            now + Duration::from_secs(offset as u64)
        } else {
            now - Duration::from_secs(offset.unsigned_abs())
        };
        format_basic_iso8601(t)
    };
    for offset in [-299, 0, 299] {
        let request = signed(ROOT_ACCESS_KEY_ID, ROOT_SECRET, &at(offset), RANDOM);
        kms.generate_random(request)
            .await
            .unwrap_or_else(|e| panic!("offset {offset}: {e:?}"));
    }
    for offset in [-301, 301, -86_400] {
        let request = signed(ROOT_ACCESS_KEY_ID, ROOT_SECRET, &at(offset), RANDOM);
        assert_unauthenticated(
            kms.generate_random(request).await,
            "InvalidSignatureException",
        );
    }

    // The typed client signs with its own clock: one six minutes slow is refused.
    let slow = std::sync::Arc::new(ManualClock::new(
        server.clock.now() - Duration::from_secs(360),
    ));
    let mut config = ClientConfig::new(server.endpoint(), root_credentials());
    config.clock = slow;
    config.retry = RetryPolicy {
        max_retries: 0,
        ..Default::default()
    };
    let client = Client::connect(config).unwrap();
    assert_error(
        create_key_result(&client).await,
        Code::Unauthenticated,
        "InvalidSignatureException",
    );
}

async fn create_key_result(
    client: &Client,
) -> Result<pb::CreateKeyResponse, vaultd::client::ClientError> {
    client.create_key(pb::CreateKeyRequest::default()).await
}

/// Every method of every `vault.v1` service, from the descriptor set the server embeds: services
/// added later are covered without touching this list.
pub(crate) fn vault_methods() -> Vec<String> {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(vaultd::pb::FILE_DESCRIPTOR_SET).unwrap();
    set.file
        .iter()
        .filter(|f| f.package() == "vault.v1")
        .flat_map(|f| &f.service)
        .flat_map(|s| {
            s.method
                .iter()
                .map(move |m| format!("/vault.v1.{}/{}", s.name(), m.name()))
        })
        .collect()
}

/// Calls `path` with an empty message and the given metadata; returns the status.
pub(crate) async fn call_raw(
    channel: &Channel,
    path: &str,
    metadata: &[(&'static str, String)],
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let mut request = Request::new(());
    for (name, value) in metadata {
        request
            .metadata_mut()
            .insert(*name, MetadataValue::try_from(value.as_str()).unwrap());
    }
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match grpc
        .unary(
            request,
            http::uri::PathAndQuery::try_from(path).unwrap(),
            codec,
        )
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

#[tokio::test]
async fn every_rpc_requires_a_fresh_signature_for_itself() {
    let server = TestServer::start().await;
    let channel = Channel::from_shared(server.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let methods = vault_methods();
    // KeyManagement 39, Identity 14, SecurityToken 2, Audit 1, ParameterStore 13, SecretsManager
    // 16, Admin 2.
    assert_eq!(methods.len(), 87, "{methods:?}");
    let now = server.clock.now();
    let signed = |path: &str, date: std::time::SystemTime| {
        let date = format_basic_iso8601(date);
        let header =
            signature::authorization_header(ROOT_ACCESS_KEY_ID, ROOT_SECRET, &date, path, None);
        vec![("x-vault-date", date), ("authorization", header)]
    };
    for path in &methods {
        let unsigned = call_raw(&channel, path, &[]).await;
        assert_eq!(
            unsigned.code(),
            Code::Unauthenticated,
            "{path}: {unsigned:?}"
        );
        assert_eq!(
            unsigned.get_details_error_info().unwrap().reason,
            "MissingAuthenticationTokenException"
        );

        let stale = call_raw(
            &channel,
            path,
            &signed(path, now - Duration::from_secs(301)),
        )
        .await;
        assert_eq!(
            stale.get_details_error_info().unwrap().reason,
            "InvalidSignatureException",
            "{path}"
        );

        let other = call_raw(
            &channel,
            path,
            &signed("/vault.v1.KeyManagement/Other", now),
        )
        .await;
        assert_eq!(
            other.get_details_error_info().unwrap().reason,
            "InvalidSignatureException",
            "{path}"
        );

        // Signed right, the request gets past authentication (to a validation error, or success).
        let fresh = call_raw(&channel, path, &signed(path, now)).await;
        assert_ne!(fresh.code(), Code::Unauthenticated, "{path}: {fresh:?}");
    }
    // Refused requests changed nothing: only the signed CreateKey made a key.
    assert_eq!(
        server
            .client()
            .list_keys(Default::default())
            .await
            .unwrap()
            .keys
            .len(),
        1
    );
}

#[tokio::test]
async fn health_and_reflection_need_no_credentials() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let server = TestServer::start().await;
    let channel = Channel::from_shared(server.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "vault.v1.KeyManagement"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }

    // grpcurl speaks v1 or the older v1alpha; both list the services.
    macro_rules! list_services {
        ($version:ident) => {{
            use tonic_reflection::pb::$version::{
                ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
                server_reflection_request::MessageRequest,
                server_reflection_response::MessageResponse,
            };
            let mut reflection = ServerReflectionClient::new(channel.clone());
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut responses = reflection
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .unwrap()
                .into_inner();
            let response = responses.next().await.unwrap().unwrap();
            let Some(MessageResponse::ListServicesResponse(list)) = response.message_response
            else {
                panic!("unexpected reflection answer");
            };
            list.service
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<String>>()
        }};
    }
    for names in [list_services!(v1), list_services!(v1alpha)] {
        assert!(
            names.contains(&"vault.v1.KeyManagement".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"grpc.health.v1.Health".to_string()),
            "{names:?}"
        );
    }
}
