//! Sending a built request: [`KmsRequest`] has one variant per `vault.v1.KeyManagement` RPC, named
//! after it (the name the AWS CLI puts in "when calling the X operation"); [`KmsRequest::send`]
//! calls it through [`vaultd::client::Client`] and returns the answer as AWS-shaped JSON
//! ([`crate::aws_json`]). List operations follow NextMarker to the last page when asked to.

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

macro_rules! kms_requests {
    (
        calls { $($call:ident($call_req:ident) => $call_method:ident;)+ }
        lists { $($list:ident($list_req:ident) => $list_method:ident;)+ }
    ) => {
        /// A request ready to send, named after its RPC.
        pub enum KmsRequest {
            $($call(pb::$call_req),)+
            $($list(pb::$list_req, Paging),)+
        }

        impl KmsRequest {
            /// Sends the request; the response as the AWS CLI shapes it.
            pub async fn send(self, client: &Client) -> Result<Value, CliError> {
                match self {
                    $(Self::$call(request) => {
                        call(stringify!($call), client.$call_method(request)).await
                    })+
                    $(Self::$list(request, paging) => {
                        let fetch = |r| client.$list_method(r);
                        paginate(stringify!($list), paging, request, fetch).await
                    })+
                }
            }
        }
    };
}

kms_requests! {
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
    }
    lists {
        ListKeys(ListKeysRequest) => list_keys;
        ListKeyRotations(ListKeyRotationsRequest) => list_key_rotations;
        ListAliases(ListAliasesRequest) => list_aliases;
        ListResourceTags(ListResourceTagsRequest) => list_resource_tags;
    }
}

/// Awaits one call of `operation` and shapes its answer.
async fn call<R: ToAwsJson>(
    operation: &'static str,
    response: impl Future<Output = Result<R, ClientError>>,
) -> Result<Value, CliError> {
    match response.await {
        Ok(response) => Ok(response.to_aws_json()),
        Err(error) => Err(CliError::Service { operation, error }),
    }
}

/// A page of a KMS list response.
trait Page: ToAwsJson + Sized {
    type Request: Clone;
    fn set_marker(request: &mut Self::Request, marker: String);
    fn next_marker(&self) -> &str;
    fn truncated(&self) -> bool;
    /// Appends the next page's items and takes its marker.
    fn absorb(&mut self, next: Self);
}

macro_rules! pages {
    ($($response:ident($request:ident).$items:ident;)+) => {$(
        impl Page for pb::$response {
            type Request = pb::$request;
            fn set_marker(request: &mut pb::$request, marker: String) {
                request.marker = marker;
            }
            fn next_marker(&self) -> &str {
                &self.next_marker
            }
            fn truncated(&self) -> bool {
                self.truncated
            }
            fn absorb(&mut self, next: Self) {
                self.$items.extend(next.$items);
                self.next_marker = next.next_marker;
                self.truncated = next.truncated;
            }
        }
    )+};
}

pages! {
    ListKeysResponse(ListKeysRequest).keys;
    ListKeyRotationsResponse(ListKeyRotationsRequest).rotations;
    ListAliasesResponse(ListAliasesRequest).aliases;
    ListResourceTagsResponse(ListResourceTagsRequest).tags;
}

/// Calls a list operation; with [`Paging::AllPages`] follows NextMarker to the last page, and the
/// merged answer has every item and neither NextMarker nor Truncated, like the AWS CLI's.
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
    let failed = |error| CliError::Service { operation, error };
    let mut result = fetch(request.clone()).await.map_err(failed)?;
    let mut previous = String::new();
    while paging == Paging::AllPages && result.truncated() && !result.next_marker().is_empty() {
        let marker = result.next_marker().to_string();
        if marker == previous {
            // A marker that does not move would loop forever: keep what we have.
            break;
        }
        P::set_marker(&mut request, marker.clone());
        previous = marker;
        let page = fetch(request.clone()).await.map_err(failed)?;
        result.absorb(page);
    }
    let mut json = result.to_aws_json();
    if paging == Paging::AllPages
        && let Some(fields) = json.as_object_mut()
    {
        // The AWS CLI's merged answer has neither the marker nor the truncation flag.
        fields.remove("Truncated");
        fields.remove("NextMarker");
    }
    Ok(json)
}
