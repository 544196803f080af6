//! Sending a built request: [`KmsRequest`], [`IamRequest`], [`StsRequest`], [`SsmRequest`] and
//! [`SecretsRequest`] have one variant per RPC of their service, named after it (the name the AWS CLI puts in "when
//! calling the X operation"); `send` calls it through [`vaultd::client::Client`] and returns the
//! answer as AWS-shaped JSON ([`crate::aws_json`]). List operations page as the AWS CLI pages
//! them: KMS lists follow NextMarker to the last page when asked to ([`Paging`]), IAM lists take
//! `--max-items` and `--starting-token` ([`ItemPaging`]), and SSM lists and Secrets Manager's
//! ListSecrets do the same unless given their own MaxResults or NextToken, which ask for one page
//! ([`TokenPaging`]).

use std::future::Future;

use serde_json::Value;
use vaultd::{
    client::{Client, ClientError},
    pb,
};

use crate::{CliError, aws_json::ToAwsJson};

/// Whether a list operation returns one page or follows NextMarker to the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    OnePage,
    AllPages,
}

/// The AWS CLI's own pagination of a list: start at `starting_token` (a NextToken it printed),
/// fetch pages of at most `page_size` items, stop after `max_items` items (all when `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemPaging {
    pub max_items: Option<usize>,
    pub starting_token: Option<String>,
    pub page_size: Option<i32>,
}

/// How an SSM list (or ListSecrets) pages, as the AWS CLI pages it: given the operation's own `--max-results` or
/// `--next-token` (or `--no-paginate`), the one page asked for, NextToken included; otherwise
/// page after page as [`ItemPaging`] says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenPaging {
    OnePage,
    Items(ItemPaging),
}

/// One enum per service: `Name { calls { Rpc(Request) => method; } lists(PagingType, paginator)
/// { Rpc(Request) => method; } }`. A list variant carries how to page as well.
macro_rules! requests {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            calls { $($call:ident($call_req:ident) => $call_method:ident;)+ }
            $(lists($paging:ty, $paginate:ident) {
                $($list:ident($list_req:ident) => $list_method:ident;)+
            })?
        }
    )+) => {$(
        $(#[$doc])*
        pub enum $name {
            $($call(pb::$call_req),)+
            $($($list(pb::$list_req, $paging),)+)?
        }

        impl $name {
            /// Sends the request; the response as the AWS CLI shapes it.
            pub async fn send(self, client: &Client) -> Result<Value, CliError> {
                match self {
                    $(Self::$call(request) => {
                        call(stringify!($call), client.$call_method(request)).await
                    })+
                    $($(Self::$list(request, paging) => {
                        let fetch = |r| client.$list_method(r);
                        $paginate(stringify!($list), paging, request, fetch).await
                    })+)?
                }
            }
        }
    )+};
}

requests! {
    /// A `vault.v1.KeyManagement` request ready to send, named after its RPC.
    KmsRequest {
        calls {
            CreateKey(CreateKeyRequest) => create_key;
            DescribeKey(DescribeKeyRequest) => describe_key;
            UpdateKeyDescription(UpdateKeyDescriptionRequest) => update_key_description;
            EnableKey(EnableKeyRequest) => enable_key;
            DisableKey(DisableKeyRequest) => disable_key;
            ScheduleKeyDeletion(ScheduleKeyDeletionRequest) => schedule_key_deletion;
            CancelKeyDeletion(CancelKeyDeletionRequest) => cancel_key_deletion;
            EnableKeyRotation(EnableKeyRotationRequest) => enable_key_rotation;
            DisableKeyRotation(DisableKeyRotationRequest) => disable_key_rotation;
            GetKeyRotationStatus(GetKeyRotationStatusRequest) => get_key_rotation_status;
            RotateKeyOnDemand(RotateKeyOnDemandRequest) => rotate_key_on_demand;
            CreateAlias(CreateAliasRequest) => create_alias;
            UpdateAlias(UpdateAliasRequest) => update_alias;
            DeleteAlias(DeleteAliasRequest) => delete_alias;
            TagResource(TagResourceRequest) => tag_resource;
            UntagResource(UntagResourceRequest) => untag_resource;
            Encrypt(EncryptRequest) => encrypt;
            Decrypt(DecryptRequest) => decrypt;
            ReEncrypt(ReEncryptRequest) => re_encrypt;
            GenerateDataKey(GenerateDataKeyRequest) => generate_data_key;
            GenerateDataKeyWithoutPlaintext(GenerateDataKeyWithoutPlaintextRequest)
                => generate_data_key_without_plaintext;
            GenerateRandom(GenerateRandomRequest) => generate_random;
            Sign(SignRequest) => sign;
            Verify(VerifyRequest) => verify;
            GetPublicKey(GetPublicKeyRequest) => get_public_key;
            GenerateMac(GenerateMacRequest) => generate_mac;
            VerifyMac(VerifyMacRequest) => verify_mac;
            GenerateDataKeyPair(GenerateDataKeyPairRequest) => generate_data_key_pair;
            GenerateDataKeyPairWithoutPlaintext(GenerateDataKeyPairWithoutPlaintextRequest)
                => generate_data_key_pair_without_plaintext;
            DeriveSharedSecret(DeriveSharedSecretRequest) => derive_shared_secret;
            GetParametersForImport(GetParametersForImportRequest) => get_parameters_for_import;
            ImportKeyMaterial(ImportKeyMaterialRequest) => import_key_material;
            DeleteImportedKeyMaterial(DeleteImportedKeyMaterialRequest)
                => delete_imported_key_material;
        }
        lists(Paging, paginate) {
            ListKeys(ListKeysRequest) => list_keys;
            ListKeyRotations(ListKeyRotationsRequest) => list_key_rotations;
            ListAliases(ListAliasesRequest) => list_aliases;
            ListResourceTags(ListResourceTagsRequest) => list_resource_tags;
        }
    }

    /// A `vault.v1.Identity` (IAM) request ready to send, named after its RPC.
    IamRequest {
        calls {
            CreateUser(CreateUserRequest) => create_user;
            GetUser(GetUserRequest) => get_user;
            DeleteUser(DeleteUserRequest) => delete_user;
            RevokeUserSessions(RevokeUserSessionsRequest) => revoke_user_sessions;
            CreateAccessKey(CreateAccessKeyRequest) => create_access_key;
            UpdateAccessKey(UpdateAccessKeyRequest) => update_access_key;
            DeleteAccessKey(DeleteAccessKeyRequest) => delete_access_key;
            PutUserPolicy(PutUserPolicyRequest) => put_user_policy;
            GetUserPolicy(GetUserPolicyRequest) => get_user_policy;
            DeleteUserPolicy(DeleteUserPolicyRequest) => delete_user_policy;
            SimulatePrincipalPolicy(SimulatePrincipalPolicyRequest) => simulate_principal_policy;
        }
        lists(ItemPaging, paginate_items) {
            ListUsers(ListUsersRequest) => list_users;
            ListAccessKeys(ListAccessKeysRequest) => list_access_keys;
            ListUserPolicies(ListUserPoliciesRequest) => list_user_policies;
        }
    }

    /// A `vault.v1.SecurityToken` (STS) request ready to send, named after its RPC.
    StsRequest {
        calls {
            GetSessionToken(GetSessionTokenRequest) => get_session_token;
            GetCallerIdentity(GetCallerIdentityRequest) => get_caller_identity;
        }
    }

    /// A `vault.v1.ParameterStore` (SSM Parameter Store) request ready to send, named after its
    /// RPC.
    SsmRequest {
        calls {
            PutParameter(PutParameterRequest) => put_parameter;
            GetParameter(GetParameterRequest) => get_parameter;
            GetParameters(GetParametersRequest) => get_parameters;
            DeleteParameter(DeleteParameterRequest) => delete_parameter;
            DeleteParameters(DeleteParametersRequest) => delete_parameters;
            LabelParameterVersion(LabelParameterVersionRequest) => label_parameter_version;
            UnlabelParameterVersion(UnlabelParameterVersionRequest) => unlabel_parameter_version;
            AddTagsToResource(AddTagsToResourceRequest) => add_tags_to_resource;
            RemoveTagsFromResource(RemoveTagsFromResourceRequest) => remove_tags_from_resource;
            ListTagsForResource(ListTagsForResourceRequest) => list_tags_for_resource;
        }
        lists(TokenPaging, paginate_tokens) {
            GetParametersByPath(GetParametersByPathRequest) => get_parameters_by_path;
            GetParameterHistory(GetParameterHistoryRequest) => get_parameter_history;
            DescribeParameters(DescribeParametersRequest) => describe_parameters;
        }
    }

    /// A `vault.v1.SecretsManager` request ready to send, named after its RPC. The AWS CLI pages
    /// ListSecrets only; BatchGetSecretValue and ListSecretVersionIds return the page asked for.
    SecretsRequest {
        calls {
            CreateSecret(CreateSecretRequest) => create_secret;
            GetSecretValue(GetSecretValueRequest) => get_secret_value;
            BatchGetSecretValue(BatchGetSecretValueRequest) => batch_get_secret_value;
            PutSecretValue(PutSecretValueRequest) => put_secret_value;
            UpdateSecret(UpdateSecretRequest) => update_secret;
            UpdateSecretVersionStage(UpdateSecretVersionStageRequest)
                => update_secret_version_stage;
            DescribeSecret(DescribeSecretRequest) => describe_secret;
            ListSecretVersionIds(ListSecretVersionIdsRequest) => list_secret_version_ids;
            DeleteSecret(DeleteSecretRequest) => delete_secret;
            RestoreSecret(RestoreSecretRequest) => restore_secret;
            TagResource(SecretsManagerTagResourceRequest) => tag_secret;
            UntagResource(SecretsManagerUntagResourceRequest) => untag_secret;
            GetRandomPassword(GetRandomPasswordRequest) => get_random_password;
            RotateSecret(RotateSecretRequest) => rotate_secret;
            CancelRotateSecret(CancelRotateSecretRequest) => cancel_rotate_secret;
        }
        lists(TokenPaging, paginate_tokens) {
            ListSecrets(ListSecretsRequest) => list_secrets;
        }
    }
}

/// Awaits one call of `operation` and shapes its answer.
async fn call<R: ToAwsJson>(
    operation: &'static str,
    response: impl Future<Output = Result<R, ClientError>>,
) -> Result<Value, CliError> {
    Ok(answer(operation, response).await?.to_aws_json())
}

/// Awaits one call of `operation`, for a command that reads the answer itself (a step of a
/// longer command, or an answer printed in another shape).
pub async fn answer<R>(
    operation: &'static str,
    response: impl Future<Output = Result<R, ClientError>>,
) -> Result<R, CliError> {
    response
        .await
        .map_err(|error| CliError::Service { operation, error })
}

/// A page of a list response.
trait Page: ToAwsJson + Sized {
    type Request: Clone;
    /// The JSON fields of the response that say where the next page starts: the AWS CLI leaves
    /// them out of a merged answer.
    const PAGE_FIELDS: &'static [&'static str];
    /// The most items the operation returns in one page (its limit's maximum).
    const MAX_PAGE: usize = 1000;
    fn set_marker(request: &mut Self::Request, marker: String);
    fn set_limit(request: &mut Self::Request, limit: Option<i32>);
    fn next_marker(&self) -> &str;
    fn truncated(&self) -> bool;
    fn len(&self) -> usize;
    /// Appends the next page's items and takes its marker.
    fn absorb(&mut self, next: Self);
}

macro_rules! pages {
    ($(
        $response:ident($request:ident { $limit:ident, $marker:ident })
            .$items:ident { $next_marker:ident: $next_json:literal, $truncated:ident: $truncated_json:literal };
    )+) => {$(
        impl Page for pb::$response {
            type Request = pb::$request;
            const PAGE_FIELDS: &'static [&'static str] = &[$next_json, $truncated_json];
            fn set_marker(request: &mut pb::$request, marker: String) {
                request.$marker = marker;
            }
            fn set_limit(request: &mut pb::$request, limit: Option<i32>) {
                request.$limit = limit;
            }
            fn next_marker(&self) -> &str {
                &self.$next_marker
            }
            fn truncated(&self) -> bool {
                self.$truncated
            }
            fn len(&self) -> usize {
                self.$items.len()
            }
            fn absorb(&mut self, next: Self) {
                self.$items.extend(next.$items);
                self.$next_marker = next.$next_marker;
                self.$truncated = next.$truncated;
            }
        }
    )+};
}

pages! {
    ListKeysResponse(ListKeysRequest { limit, marker })
        .keys { next_marker: "NextMarker", truncated: "Truncated" };
    ListKeyRotationsResponse(ListKeyRotationsRequest { limit, marker })
        .rotations { next_marker: "NextMarker", truncated: "Truncated" };
    ListAliasesResponse(ListAliasesRequest { limit, marker })
        .aliases { next_marker: "NextMarker", truncated: "Truncated" };
    ListResourceTagsResponse(ListResourceTagsRequest { limit, marker })
        .tags { next_marker: "NextMarker", truncated: "Truncated" };
    ListUsersResponse(ListUsersRequest { max_items, marker })
        .users { marker: "Marker", is_truncated: "IsTruncated" };
    ListAccessKeysResponse(ListAccessKeysRequest { max_items, marker })
        .access_key_metadata { marker: "Marker", is_truncated: "IsTruncated" };
    ListUserPoliciesResponse(ListUserPoliciesRequest { max_items, marker })
        .policy_names { marker: "Marker", is_truncated: "IsTruncated" };
}

/// SSM lists and ListSecrets: one NextToken, no truncation flag; `MaxResults` up to `max`.
macro_rules! token_pages {
    ($($response:ident($request:ident, max $max:literal).$items:ident;)+) => {$(
        impl Page for pb::$response {
            type Request = pb::$request;
            const PAGE_FIELDS: &'static [&'static str] = &["NextToken"];
            const MAX_PAGE: usize = $max;
            fn set_marker(request: &mut pb::$request, marker: String) {
                request.next_token = marker;
            }
            fn set_limit(request: &mut pb::$request, limit: Option<i32>) {
                request.max_results = limit;
            }
            fn next_marker(&self) -> &str {
                &self.next_token
            }
            fn truncated(&self) -> bool {
                !self.next_token.is_empty()
            }
            fn len(&self) -> usize {
                self.$items.len()
            }
            fn absorb(&mut self, next: Self) {
                self.$items.extend(next.$items);
                self.next_token = next.next_token;
            }
        }
    )+};
}

token_pages! {
    GetParametersByPathResponse(GetParametersByPathRequest, max 10).parameters;
    GetParameterHistoryResponse(GetParameterHistoryRequest, max 50).parameters;
    DescribeParametersResponse(DescribeParametersRequest, max 50).parameters;
    ListSecretsResponse(ListSecretsRequest, max 100).secret_list;
}

/// Where the page after `page` starts, if there is one.
fn next_page<P: Page>(page: &P) -> Option<String> {
    (page.truncated() && !page.next_marker().is_empty()).then(|| page.next_marker().to_string())
}

/// The merged answer of several pages, without the page fields, as the AWS CLI prints it.
fn merged<P: Page>(result: &P) -> Value {
    let mut json = result.to_aws_json();
    if let Some(fields) = json.as_object_mut() {
        for field in P::PAGE_FIELDS {
            fields.remove(*field);
        }
    }
    json
}

/// Calls a KMS list operation; with [`Paging::AllPages`] follows NextMarker to the last page, and
/// the merged answer has every item and neither NextMarker nor Truncated, like the AWS CLI's.
async fn paginate<P, F, Fut>(
    operation: &'static str,
    paging: Paging,
    mut request: P::Request,
    fetch: F,
) -> Result<Value, CliError>
where
    P: Page,
    F: Fn(P::Request) -> Fut,
    Fut: Future<Output = Result<P, ClientError>>,
{
    let mut result = answer(operation, fetch(request.clone())).await?;
    if paging == Paging::OnePage {
        return Ok(result.to_aws_json());
    }
    let mut previous = String::new();
    while let Some(marker) = next_page(&result) {
        if marker == previous {
            // A marker that does not move would loop forever: keep what we have.
            break;
        }
        P::set_marker(&mut request, marker.clone());
        previous = marker;
        result.absorb(answer(operation, fetch(request.clone())).await?);
    }
    Ok(merged(&result))
}

/// Calls an IAM or SSM list operation as the AWS CLI pages it: from the starting token, page after
/// page until the last or until `max_items` items, each page at most `page_size` (and never more
/// than the items still wanted, so the answer ends on a page boundary). The merged answer has no
/// page fields of the operation (Marker and IsTruncated, or NextToken); it has NextToken, to pass
/// as `--starting-token`, when items remain.
async fn paginate_items<P, F, Fut>(
    operation: &'static str,
    paging: ItemPaging,
    mut request: P::Request,
    fetch: F,
) -> Result<Value, CliError>
where
    P: Page,
    F: Fn(P::Request) -> Fut,
    Fut: Future<Output = Result<P, ClientError>>,
{
    let mut previous = paging.starting_token.clone();
    if let Some(token) = paging.starting_token {
        P::set_marker(&mut request, token);
    }
    let page_limit = |have: usize| {
        let remaining = paging
            .max_items
            .map(|max| max.saturating_sub(have).min(P::MAX_PAGE));
        let page_size = paging.page_size.and_then(|size| usize::try_from(size).ok());
        let limit = match (page_size, remaining) {
            (Some(size), Some(remaining)) => Some(size.min(remaining)),
            (size, remaining) => size.or(remaining),
        };
        limit.map(|limit| i32::try_from(limit).unwrap_or(i32::MAX))
    };
    P::set_limit(&mut request, page_limit(0));
    let mut result = answer(operation, fetch(request.clone())).await?;
    let mut next_token = None;
    while let Some(marker) = next_page(&result) {
        if paging.max_items.is_some_and(|max| result.len() >= max) {
            next_token = Some(marker);
            break;
        }
        if previous.as_ref() == Some(&marker) {
            break;
        }
        P::set_marker(&mut request, marker.clone());
        P::set_limit(&mut request, page_limit(result.len()));
        previous = Some(marker);
        result.absorb(answer(operation, fetch(request.clone())).await?);
    }
    let mut json = merged(&result);
    if let (Some(token), Some(fields)) = (next_token, json.as_object_mut()) {
        fields.insert("NextToken".into(), token.into());
    }
    Ok(json)
}

/// Calls an SSM list operation or ListSecrets: the one page asked for, as it comes (NextToken included), or as
/// [`paginate_items`] pages it.
async fn paginate_tokens<P, F, Fut>(
    operation: &'static str,
    paging: TokenPaging,
    request: P::Request,
    fetch: F,
) -> Result<Value, CliError>
where
    P: Page,
    F: Fn(P::Request) -> Fut,
    Fut: Future<Output = Result<P, ClientError>>,
{
    match paging {
        TokenPaging::OnePage => call(operation, fetch(request)).await,
        TokenPaging::Items(paging) => paginate_items(operation, paging, request, fetch).await,
    }
}
