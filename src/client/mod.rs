//! A typed client for vaultd: endpoints, request signing (auth.md), deadlines, and retries with
//! exponential backoff and full jitter on UNAVAILABLE and ThrottlingException only (never on a
//! client error). Given several endpoints (replicas of one vault), it fails over to the next on
//! UNAVAILABLE and stays with the one that answered. Used by vaultctl, the tests and the
//! benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vaultd::client::ClientError> {
//! use vaultd::{client::{Client, ClientConfig, StaticCredentials}, pb};
//! let creds = StaticCredentials::new("AKIA...", "secret", None);
//! let client = Client::connect(ClientConfig::new("http://127.0.0.1:7730", creds))?;
//! let key = client.create_key(pb::CreateKeyRequest::default()).await?;
//! # Ok(()) }
//! ```

pub mod envelope;

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tonic::{
    Code, Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};
use tonic_types::StatusExt;
use zeroize::Zeroizing;

use crate::{
    auth::signature::{self, AUTHORIZATION_HEADER, DATE_HEADER, SECURITY_TOKEN_HEADER},
    clock::{Clock, SystemClock, format_basic_iso8601},
    pb::{
        self, admin_client::AdminClient, audit_client::AuditClient,
        identity_client::IdentityClient, key_management_client::KeyManagementClient,
        parameter_store_client::ParameterStoreClient, secrets_manager_client::SecretsManagerClient,
        security_token_client::SecurityTokenClient,
    },
};

pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:7730";

/// Credentials a client signs with. Holds secrets: `Debug` is redacted.
#[derive(Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<String>,
}

impl StaticCredentials {
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: session_token.map(Into::into),
        }
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// When and how often to retry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// The backoff ceiling of the first retry; it doubles per retry up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a uniformly random wait in `[0, min(max, base * 2^retry)]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base_backoff
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let nanos = ceiling.as_nanos() as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        let random = getrandom::u64().unwrap_or(nanos / 2);
        Duration::from_nanos(random % (nanos + 1))
    }
}

/// Whether an error is worth retrying: the service is unavailable, or the caller was throttled.
pub fn is_retryable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable => true,
        Code::ResourceExhausted => status
            .get_details_error_info()
            .is_some_and(|info| info.reason == "ThrottlingException"),
        _ => false,
    }
}

/// How to reach and sign for vaultd.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Where vaultd serves, in order of preference: one endpoint, or several replicas of one
    /// vault ([`ClientConfig::new`] takes them comma-separated).
    pub endpoints: Vec<String>,
    pub credentials: StaticCredentials,
    /// The deadline of each attempt.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// The clock requests are dated by.
    pub clock: Arc<dyn Clock>,
    /// For https:// endpoints: which CA to trust, and a client certificate for mutual TLS.
    pub tls: ClientTls,
}

/// TLS settings of a client. Without a CA, https:// endpoints are checked against the system's
/// trusted roots.
#[derive(Clone, Default)]
pub struct ClientTls {
    /// PEM certificates of the CAs to trust instead of the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate chain and its private key (PEM), for servers that require one. The
    /// key is zeroized on drop.
    pub identity: Option<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)>,
    /// The name to check the server's certificate against, when the endpoint's host is not it.
    pub server_name: Option<String>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "…"))
            .field("identity", &self.identity.as_ref().map(|_| "[REDACTED]"))
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl ClientConfig {
    /// `endpoints`: one endpoint, or several separated by commas.
    pub fn new(endpoints: impl Into<String>, credentials: StaticCredentials) -> Self {
        Self {
            endpoints: endpoints
                .into()
                .split(',')
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect(),
            credentials,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            tls: ClientTls::default(),
        }
    }
}

/// An error from a call: the gRPC code, the AWS exception name (ErrorInfo reason) when the server
/// gave one, and the message.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}: {message}", reason.as_deref().unwrap_or(code_name(*code)))]
pub struct ClientError {
    pub code: Code,
    pub reason: Option<String>,
    pub message: String,
    /// How many attempts were made (1 when the error was not retried).
    pub attempts: u32,
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Unavailable => "Unavailable",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::Unauthenticated => "Unauthenticated",
        Code::InvalidArgument => "InvalidArgument",
        Code::Internal => "Internal",
        _ => "Error",
    }
}

impl ClientError {
    pub fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or("")
    }

    fn config(message: impl Into<String>) -> Self {
        Self {
            code: Code::InvalidArgument,
            reason: Some("ClientConfigurationError".into()),
            message: message.into(),
            attempts: 0,
        }
    }
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        Self {
            code: status.code(),
            reason: status.get_details_error_info().map(|i| i.reason),
            message: status.message().to_string(),
            attempts: 1,
        }
    }
}

/// Signs each outgoing request for its method (the method path is part of the signature).
#[derive(Clone)]
pub struct Signer {
    credentials: Arc<StaticCredentials>,
    clock: Arc<dyn Clock>,
}

impl Interceptor for Signer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let method = request
            .extensions()
            .get::<tonic::GrpcMethod<'static>>()
            .map(|m| format!("/{}/{}", m.service(), m.method()))
            .ok_or_else(|| Status::internal("the client does not know which method it calls"))?;
        let date = format_basic_iso8601(self.clock.now());
        let creds = &self.credentials;
        let token = creds.session_token.as_deref();
        let authorization = signature::authorization_header(
            &creds.access_key_id,
            &creds.secret_access_key,
            &date,
            &method,
            token,
        );
        let invalid =
            |_| Status::invalid_argument("credentials contain characters not allowed in a header");
        let metadata = request.metadata_mut();
        metadata.insert(
            DATE_HEADER,
            MetadataValue::try_from(date.as_str()).map_err(invalid)?,
        );
        metadata.insert(
            AUTHORIZATION_HEADER,
            MetadataValue::try_from(authorization.as_str()).map_err(invalid)?,
        );
        if let Some(token) = token {
            metadata.insert(
                SECURITY_TOKEN_HEADER,
                MetadataValue::try_from(token).map_err(invalid)?,
            );
        }
        Ok(request)
    }
}

type Signed = InterceptedService<Channel, Signer>;

/// A connection to vaultd (to each of its endpoints, made on first use). Cheap to clone; clones
/// share the connections and the endpoint in use.
#[derive(Clone)]
pub struct Client {
    replicas: Arc<[Stubs]>,
    /// The endpoint that answered last: calls start there.
    current: Arc<AtomicUsize>,
    timeout: Duration,
    retry: RetryPolicy,
}

/// One endpoint's service clients, over one channel.
#[derive(Clone)]
struct Stubs {
    kms: KeyManagementClient<Signed>,
    iam: IdentityClient<Signed>,
    sts: SecurityTokenClient<Signed>,
    audit: AuditClient<Signed>,
    ssm: ParameterStoreClient<Signed>,
    secrets: SecretsManagerClient<Signed>,
    admin: AdminClient<Signed>,
    /// Unsigned, as vaultd serves it.
    health: tonic_health::pb::health_client::HealthClient<Channel>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// One endpoint, checked and configured (not connected).
fn endpoint(
    endpoint: &str,
    tls: &ClientTls,
    connect_timeout: Duration,
) -> Result<Endpoint, ClientError> {
    let https = endpoint.starts_with("https://");
    if !https && !endpoint.starts_with("http://") && !endpoint.starts_with("unix://") {
        return Err(ClientError::config(format!(
            "unsupported endpoint {endpoint:?}: use http://HOST:PORT, https://HOST:PORT or unix:///PATH"
        )));
    }
    if !https && (tls.ca_pem.is_some() || tls.identity.is_some()) {
        return Err(ClientError::config(format!(
            "a CA bundle or client certificate was given, but the endpoint {endpoint:?} is not https://"
        )));
    }
    let mut channel = Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| ClientError::config(format!("invalid endpoint {endpoint:?}: {e}")))?
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true);
    if https {
        channel = channel
            .tls_config(tls_config(tls))
            .map_err(|e| ClientError::config(format!("TLS for {endpoint:?}: {e}")))?;
    }
    Ok(channel)
}

fn tls_config(tls: &ClientTls) -> tonic::transport::ClientTlsConfig {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let mut config = match &tls.ca_pem {
        Some(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
        None => ClientTlsConfig::new().with_native_roots(),
    };
    if let Some((cert, key)) = &tls.identity {
        config = config.identity(Identity::from_pem(cert, key.as_slice()));
    }
    if let Some(name) = &tls.server_name {
        config = config.domain_name(name.clone());
    }
    config
}

impl Client {
    /// Prepares a client; each connection is made on first use (and re-made after failures).
    pub fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        if config.endpoints.is_empty() {
            return Err(ClientError::config("no endpoint given".to_string()));
        }
        let signer = Signer {
            credentials: Arc::new(config.credentials),
            clock: config.clock,
        };
        // Every endpoint is checked before any channel is made.
        let endpoints = config
            .endpoints
            .iter()
            .map(|e| endpoint(e, &config.tls, config.connect_timeout))
            .collect::<Result<Vec<_>, ClientError>>()?;
        let replicas = endpoints
            .into_iter()
            .map(|endpoint| {
                let channel = endpoint.connect_lazy();
                Stubs {
                    kms: KeyManagementClient::with_interceptor(channel.clone(), signer.clone()),
                    iam: IdentityClient::with_interceptor(channel.clone(), signer.clone()),
                    sts: SecurityTokenClient::with_interceptor(channel.clone(), signer.clone()),
                    audit: AuditClient::with_interceptor(channel.clone(), signer.clone()),
                    ssm: ParameterStoreClient::with_interceptor(channel.clone(), signer.clone()),
                    secrets: SecretsManagerClient::with_interceptor(
                        channel.clone(),
                        signer.clone(),
                    ),
                    admin: AdminClient::with_interceptor(channel.clone(), signer.clone()),
                    health: tonic_health::pb::health_client::HealthClient::new(channel),
                }
            })
            .collect::<Vec<_>>();
        Ok(Self {
            replicas: replicas.into(),
            current: Arc::default(),
            timeout: config.timeout,
            retry: config.retry,
        })
    }

    /// The service clients of the endpoint calls start at.
    fn stubs(&self) -> &Stubs {
        &self.replicas[self.current.load(Ordering::Relaxed) % self.replicas.len()]
    }

    /// Calls `rpc` on the endpoint in use. On UNAVAILABLE it moves to the next endpoint at once,
    /// until each has been tried; then, as on throttling, it backs off and tries again, within
    /// the retry policy. The endpoint that answers becomes the one in use.
    async fn call<Req, Resp, F, Fut>(&self, message: Req, rpc: F) -> Result<Resp, ClientError>
    where
        Req: Clone,
        F: Fn(&Stubs, Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let mut retry = 0;
        let mut attempts = 0;
        let mut index = self.current.load(Ordering::Relaxed) % self.replicas.len();
        // Endpoints tried since the last backoff.
        let mut tried = 1;
        loop {
            let mut request = Request::new(message.clone());
            request.set_timeout(self.timeout);
            attempts += 1;
            match rpc(&self.replicas[index], request).await {
                Ok(response) => {
                    self.current.store(index, Ordering::Relaxed);
                    return Ok(response.into_inner());
                }
                Err(status)
                    if status.code() == Code::Unavailable && tried < self.replicas.len() =>
                {
                    index = (index + 1) % self.replicas.len();
                    tried += 1;
                }
                Err(status) if retry < self.retry.max_retries && is_retryable(&status) => {
                    tokio::time::sleep(self.retry.backoff(retry)).await;
                    retry += 1;
                    tried = 1;
                    if status.code() == Code::Unavailable {
                        index = (index + 1) % self.replicas.len();
                    }
                }
                Err(status) => {
                    let mut err = ClientError::from(status);
                    err.attempts = attempts;
                    return Err(err);
                }
            }
        }
    }
}

impl Client {
    /// `grpc.health.v1.Health/Check` of the whole server (unsigned): whether it serves.
    pub async fn health_check(&self) -> Result<bool, ClientError> {
        use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
        self.call(HealthCheckRequest::default(), |stubs, r| {
            let mut health = stubs.health.clone();
            async move { health.check(r).await }
        })
        .await
        .map(|response| response.status() == ServingStatus::Serving)
    }

    /// `Admin/CreateBackup`: the backup's chunks, the summary last. Not retried, and without a
    /// deadline (a large vault takes a while): the caller reads the stream to its end.
    pub async fn create_backup(
        &self,
    ) -> Result<tonic::Streaming<pb::CreateBackupResponse>, ClientError> {
        let mut admin = self.stubs().admin.clone();
        admin
            .create_backup(Request::new(pb::CreateBackupRequest {}))
            .await
            .map(tonic::Response::into_inner)
            .map_err(ClientError::from)
    }

    /// `Admin/RestoreBackup` with the backup's chunks, in order. Not retried, without a deadline.
    pub async fn restore_backup(
        &self,
        chunks: impl tokio_stream::Stream<Item = pb::RestoreBackupRequest> + Send + 'static,
    ) -> Result<pb::RestoreBackupResponse, ClientError> {
        let mut admin = self.stubs().admin.clone();
        admin
            .restore_backup(Request::new(chunks))
            .await
            .map(tonic::Response::into_inner)
            .map_err(ClientError::from)
    }
}

/// One method per RPC of a service: `rpcs!(field, "Service"; method(Request) -> Response; ...)`.
/// `method = rpc(Request) -> Response` names the client method apart from the generated one, for
/// RPCs that two services share a name for (TagResource).
macro_rules! rpcs {
    ($field:ident, $service:literal; $($method:ident $(= $rpc:ident)? ($req:ident) -> $resp:ident;)+) => {
        impl Client {
            $(
                #[doc = concat!("`", $service, "/", stringify!($req), "` (without the Request suffix).")]
                pub async fn $method(&self, request: pb::$req) -> Result<pb::$resp, ClientError> {
                    self.call(request, |stubs, r| {
                        let mut service = stubs.$field.clone();
                        async move { rpcs!(@call service, $method $(, $rpc)?, r).await }
                    })
                    .await
                }
            )+
        }
    };
    (@call $service:ident, $method:ident, $rpc:ident, $r:ident) => { $service.$rpc($r) };
    (@call $service:ident, $method:ident, $r:ident) => { $service.$method($r) };
}

rpcs! { iam, "Identity";
    create_user(CreateUserRequest) -> CreateUserResponse;
    get_user(GetUserRequest) -> GetUserResponse;
    list_users(ListUsersRequest) -> ListUsersResponse;
    delete_user(DeleteUserRequest) -> DeleteUserResponse;
    revoke_user_sessions(RevokeUserSessionsRequest) -> RevokeUserSessionsResponse;
    create_access_key(CreateAccessKeyRequest) -> CreateAccessKeyResponse;
    list_access_keys(ListAccessKeysRequest) -> ListAccessKeysResponse;
    update_access_key(UpdateAccessKeyRequest) -> UpdateAccessKeyResponse;
    delete_access_key(DeleteAccessKeyRequest) -> DeleteAccessKeyResponse;
    put_user_policy(PutUserPolicyRequest) -> PutUserPolicyResponse;
    get_user_policy(GetUserPolicyRequest) -> GetUserPolicyResponse;
    list_user_policies(ListUserPoliciesRequest) -> ListUserPoliciesResponse;
    delete_user_policy(DeleteUserPolicyRequest) -> DeleteUserPolicyResponse;
    simulate_principal_policy(SimulatePrincipalPolicyRequest) -> SimulatePrincipalPolicyResponse;
}

rpcs! { sts, "SecurityToken";
    get_session_token(GetSessionTokenRequest) -> GetSessionTokenResponse;
    get_caller_identity(GetCallerIdentityRequest) -> GetCallerIdentityResponse;
}

rpcs! { audit, "Audit";
    lookup_events(LookupEventsRequest) -> LookupEventsResponse;
}

rpcs! { ssm, "ParameterStore";
    put_parameter(PutParameterRequest) -> PutParameterResponse;
    get_parameter(GetParameterRequest) -> GetParameterResponse;
    get_parameters(GetParametersRequest) -> GetParametersResponse;
    get_parameters_by_path(GetParametersByPathRequest) -> GetParametersByPathResponse;
    get_parameter_history(GetParameterHistoryRequest) -> GetParameterHistoryResponse;
    describe_parameters(DescribeParametersRequest) -> DescribeParametersResponse;
    delete_parameter(DeleteParameterRequest) -> DeleteParameterResponse;
    delete_parameters(DeleteParametersRequest) -> DeleteParametersResponse;
    label_parameter_version(LabelParameterVersionRequest) -> LabelParameterVersionResponse;
    unlabel_parameter_version(UnlabelParameterVersionRequest) -> UnlabelParameterVersionResponse;
    add_tags_to_resource(AddTagsToResourceRequest) -> AddTagsToResourceResponse;
    remove_tags_from_resource(RemoveTagsFromResourceRequest) -> RemoveTagsFromResourceResponse;
    list_tags_for_resource(ListTagsForResourceRequest) -> ListTagsForResourceResponse;
}

rpcs! { secrets, "SecretsManager";
    create_secret(CreateSecretRequest) -> CreateSecretResponse;
    get_secret_value(GetSecretValueRequest) -> GetSecretValueResponse;
    batch_get_secret_value(BatchGetSecretValueRequest) -> BatchGetSecretValueResponse;
    put_secret_value(PutSecretValueRequest) -> PutSecretValueResponse;
    update_secret(UpdateSecretRequest) -> UpdateSecretResponse;
    update_secret_version_stage(UpdateSecretVersionStageRequest) -> UpdateSecretVersionStageResponse;
    describe_secret(DescribeSecretRequest) -> DescribeSecretResponse;
    list_secrets(ListSecretsRequest) -> ListSecretsResponse;
    list_secret_version_ids(ListSecretVersionIdsRequest) -> ListSecretVersionIdsResponse;
    delete_secret(DeleteSecretRequest) -> DeleteSecretResponse;
    restore_secret(RestoreSecretRequest) -> RestoreSecretResponse;
    tag_secret = tag_resource(SecretsManagerTagResourceRequest) -> SecretsManagerTagResourceResponse;
    untag_secret = untag_resource(SecretsManagerUntagResourceRequest) -> SecretsManagerUntagResourceResponse;
    get_random_password(GetRandomPasswordRequest) -> GetRandomPasswordResponse;
    rotate_secret(RotateSecretRequest) -> RotateSecretResponse;
    cancel_rotate_secret(CancelRotateSecretRequest) -> CancelRotateSecretResponse;
}

rpcs! { kms, "KeyManagement";
    create_key(CreateKeyRequest) -> CreateKeyResponse;
    describe_key(DescribeKeyRequest) -> DescribeKeyResponse;
    list_keys(ListKeysRequest) -> ListKeysResponse;
    update_key_description(UpdateKeyDescriptionRequest) -> UpdateKeyDescriptionResponse;
    enable_key(EnableKeyRequest) -> EnableKeyResponse;
    disable_key(DisableKeyRequest) -> DisableKeyResponse;
    schedule_key_deletion(ScheduleKeyDeletionRequest) -> ScheduleKeyDeletionResponse;
    cancel_key_deletion(CancelKeyDeletionRequest) -> CancelKeyDeletionResponse;
    enable_key_rotation(EnableKeyRotationRequest) -> EnableKeyRotationResponse;
    disable_key_rotation(DisableKeyRotationRequest) -> DisableKeyRotationResponse;
    get_key_rotation_status(GetKeyRotationStatusRequest) -> GetKeyRotationStatusResponse;
    rotate_key_on_demand(RotateKeyOnDemandRequest) -> RotateKeyOnDemandResponse;
    list_key_rotations(ListKeyRotationsRequest) -> ListKeyRotationsResponse;
    create_alias(CreateAliasRequest) -> CreateAliasResponse;
    update_alias(UpdateAliasRequest) -> UpdateAliasResponse;
    delete_alias(DeleteAliasRequest) -> DeleteAliasResponse;
    list_aliases(ListAliasesRequest) -> ListAliasesResponse;
    tag_resource(TagResourceRequest) -> TagResourceResponse;
    untag_resource(UntagResourceRequest) -> UntagResourceResponse;
    list_resource_tags(ListResourceTagsRequest) -> ListResourceTagsResponse;
    encrypt(EncryptRequest) -> EncryptResponse;
    decrypt(DecryptRequest) -> DecryptResponse;
    re_encrypt(ReEncryptRequest) -> ReEncryptResponse;
    generate_data_key(GenerateDataKeyRequest) -> GenerateDataKeyResponse;
    generate_data_key_without_plaintext(GenerateDataKeyWithoutPlaintextRequest) -> GenerateDataKeyWithoutPlaintextResponse;
    generate_random(GenerateRandomRequest) -> GenerateRandomResponse;
    sign(SignRequest) -> SignResponse;
    verify(VerifyRequest) -> VerifyResponse;
    get_public_key(GetPublicKeyRequest) -> GetPublicKeyResponse;
    generate_mac(GenerateMacRequest) -> GenerateMacResponse;
    verify_mac(VerifyMacRequest) -> VerifyMacResponse;
    generate_data_key_pair(GenerateDataKeyPairRequest) -> GenerateDataKeyPairResponse;
    generate_data_key_pair_without_plaintext(GenerateDataKeyPairWithoutPlaintextRequest) -> GenerateDataKeyPairWithoutPlaintextResponse;
    derive_shared_secret(DeriveSharedSecretRequest) -> DeriveSharedSecretResponse;
    get_parameters_for_import(GetParametersForImportRequest) -> GetParametersForImportResponse;
    import_key_material(ImportKeyMaterialRequest) -> ImportKeyMaterialResponse;
    delete_imported_key_material(DeleteImportedKeyMaterialRequest) -> DeleteImportedKeyMaterialResponse;
    encrypt_fields(EncryptFieldsRequest) -> EncryptFieldsResponse;
    decrypt_fields(DecryptFieldsRequest) -> DecryptFieldsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_ceiling() {
        let policy = RetryPolicy {
            max_retries: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        for _ in 0..200 {
            assert!(policy.backoff(0) <= Duration::from_millis(100));
            assert!(policy.backoff(1) <= Duration::from_millis(200));
            assert!(policy.backoff(2) <= Duration::from_millis(350));
            assert!(policy.backoff(40) <= Duration::from_millis(350));
        }
        let distinct: std::collections::HashSet<_> = (0..20).map(|_| policy.backoff(3)).collect();
        assert!(distinct.len() > 1, "jitter must vary the wait");
    }

    #[test]
    fn only_unavailable_and_throttling_are_retried() {
        let with_reason = |code, reason: &str| {
            Status::with_error_details(
                code,
                "m",
                ErrorDetails::with_error_info(reason, "vault.v1", std::collections::HashMap::new()),
            )
        };
        assert!(is_retryable(&Status::unavailable("down")));
        assert!(is_retryable(&with_reason(
            Code::ResourceExhausted,
            "ThrottlingException"
        )));
        assert!(!is_retryable(&Status::resource_exhausted(
            "message too large"
        )));
        assert!(!is_retryable(&with_reason(
            Code::InvalidArgument,
            "ValidationException"
        )));
        assert!(!is_retryable(&with_reason(
            Code::Unauthenticated,
            "InvalidSignatureException"
        )));
        assert!(!is_retryable(&with_reason(
            Code::Internal,
            "KMSInternalException"
        )));
    }
}
