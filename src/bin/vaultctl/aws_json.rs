//! The AWS CLI's JSON shape of every `vault.v1` response vaultctl prints (KMS, IAM, STS, SSM
//! Parameter Store, Secrets Manager and the CloudTrail-like audit trail): PascalCase AWS field names, binary values in standard base64, enum
//! values in AWS spelling, timestamps in ISO 8601 (as AWS CLI v2 prints them, in UTC), and unset
//! optional fields left out.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Map, Value};
use vaultd::pb;

use crate::enums::AwsEnum;

/// A response (or part of one) as the AWS CLI prints it.
pub trait ToAwsJson {
    fn to_aws_json(&self) -> Value;
}

/// Builds one JSON object field by field, skipping absent optional values.
#[derive(Default)]
struct Object(Map<String, Value>);

impl Object {
    fn new() -> Self {
        Self::default()
    }

    fn value(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// A string AWS always returns, even empty (Description).
    fn string(self, name: &str, value: &str) -> Self {
        self.value(name, value)
    }

    /// A string that is absent when empty (ids, markers).
    fn opt_string(self, name: &str, value: &str) -> Self {
        if value.is_empty() {
            self
        } else {
            self.value(name, value)
        }
    }

    fn boolean(self, name: &str, value: bool) -> Self {
        self.value(name, value)
    }

    fn opt_int(self, name: &str, value: Option<i32>) -> Self {
        match value {
            Some(v) => self.value(name, v),
            None => self,
        }
    }

    fn int64(self, name: &str, value: i64) -> Self {
        self.value(name, value)
    }

    /// Parameter policies, which AWS always lists and vaultd does not have: an empty list.
    fn no_policies(self) -> Self {
        self.value("Policies", Vec::<Value>::new())
    }

    fn blob(self, name: &str, bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            self
        } else {
            self.value(name, STANDARD.encode(bytes))
        }
    }

    fn enumeration<E: AwsEnum>(self, name: &str, wire: i32) -> Self {
        match E::wire_to_aws(wire) {
            Some(aws) => self.value(name, aws),
            None => self,
        }
    }

    /// A list of enum values in AWS spelling; absent when empty (AWS leaves out the algorithm
    /// lists that do not apply to a key).
    fn enumerations<E: AwsEnum>(self, name: &str, wire: &[i32]) -> Self {
        let names: Vec<Value> = wire
            .iter()
            .filter_map(|v| E::wire_to_aws(*v))
            .map(Value::from)
            .collect();
        if names.is_empty() {
            self
        } else {
            self.value(name, names)
        }
    }

    fn time(self, name: &str, timestamp: Option<&prost_types::Timestamp>) -> Self {
        match timestamp {
            Some(t) => self.value(name, iso8601(t)),
            None => self,
        }
    }

    fn list<T: ToAwsJson>(self, name: &str, items: &[T]) -> Self {
        self.value(name, items.iter().map(T::to_aws_json).collect::<Vec<_>>())
    }

    fn nested<T: ToAwsJson>(self, name: &str, item: Option<&T>) -> Self {
        match item {
            Some(item) => self.value(name, item.to_aws_json()),
            None => self,
        }
    }

    fn strings(self, name: &str, values: &[String]) -> Self {
        self.value(name, values)
    }

    /// A list AWS leaves out when it is empty (a version's VersionStages).
    fn opt_strings(self, name: &str, values: &[String]) -> Self {
        if values.is_empty() {
            self
        } else {
            self.strings(name, values)
        }
    }

    /// A list of structures AWS leaves out when it is empty (a secret's Tags).
    fn opt_list<T: ToAwsJson>(self, name: &str, items: &[T]) -> Self {
        if items.is_empty() {
            self
        } else {
            self.list(name, items)
        }
    }

    fn opt_bool(self, name: &str, value: Option<bool>) -> Self {
        match value {
            Some(v) => self.value(name, v),
            None => self,
        }
    }

    fn opt_int64(self, name: &str, value: Option<i64>) -> Self {
        match value {
            Some(v) => self.value(name, v),
            None => self,
        }
    }

    /// A secret's value, SecretBinary (base64) or SecretString, whichever is set, in the AWS
    /// model's order.
    fn secret_value(self, binary: Option<&Vec<u8>>, string: Option<&String>) -> Self {
        let object = match binary {
            Some(bytes) => self.value("SecretBinary", STANDARD.encode(bytes)),
            None => self,
        };
        match string {
            Some(text) => object.value("SecretString", text.as_str()),
            None => object,
        }
    }

    /// Version id → staging labels, by version id (AWS answers them in no particular order);
    /// absent when the secret has no labelled version.
    fn version_stages(
        self,
        name: &str,
        map: &std::collections::HashMap<String, pb::VersionStages>,
    ) -> Self {
        if map.is_empty() {
            return self;
        }
        let mut versions: Vec<(&String, &pb::VersionStages)> = map.iter().collect();
        versions.sort_by(|a, b| a.0.cmp(b.0));
        let object: Map<String, Value> = versions
            .into_iter()
            .map(|(id, stages)| (id.clone(), Value::from(stages.stages.clone())))
            .collect();
        self.value(name, object)
    }

    /// The page fields of a KMS list response.
    fn page(self, next_marker: &str, truncated: bool) -> Self {
        self.opt_string("NextMarker", next_marker)
            .boolean("Truncated", truncated)
    }

    /// The page fields of an IAM list response.
    fn iam_page(self, is_truncated: bool, marker: &str) -> Self {
        self.boolean("IsTruncated", is_truncated)
            .opt_string("Marker", marker)
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Self {
        Value::Object(object.0)
    }
}

impl ToAwsJson for pb::KeyMetadata {
    /// The fields in the order of the AWS model, as the AWS CLI prints them; an algorithm list
    /// the key has none of is left out, as AWS leaves it out (no EncryptionAlgorithms for a
    /// signing key, no MacAlgorithms but for an HMAC key).
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("AWSAccountId", &self.aws_account_id)
            .string("KeyId", &self.key_id)
            .string("Arn", &self.arn)
            .time("CreationDate", self.creation_date.as_ref())
            .boolean("Enabled", self.enabled)
            .string("Description", &self.description)
            .enumeration::<pb::KeyUsage>("KeyUsage", self.key_usage)
            .enumeration::<pb::KeyState>("KeyState", self.key_state)
            .time("DeletionDate", self.deletion_date.as_ref())
            .time("ValidTo", self.valid_to.as_ref())
            .enumeration::<pb::OriginType>("Origin", self.origin)
            .enumeration::<pb::ExpirationModelType>("ExpirationModel", self.expiration_model)
            .enumeration::<pb::KeyManagerType>("KeyManager", self.key_manager)
            // AWS still returns the deprecated CustomerMasterKeySpec, equal to KeySpec.
            .enumeration::<pb::KeySpec>("CustomerMasterKeySpec", self.key_spec)
            .enumeration::<pb::KeySpec>("KeySpec", self.key_spec)
            .enumerations::<pb::EncryptionAlgorithmSpec>(
                "EncryptionAlgorithms",
                &self.encryption_algorithms,
            )
            .enumerations::<pb::SigningAlgorithmSpec>("SigningAlgorithms", &self.signing_algorithms)
            .enumerations::<pb::KeyAgreementAlgorithmSpec>(
                "KeyAgreementAlgorithms",
                &self.key_agreement_algorithms,
            )
            .boolean("MultiRegion", self.multi_region)
            .opt_int(
                "PendingDeletionWindowInDays",
                self.pending_deletion_window_in_days,
            )
            .enumerations::<pb::MacAlgorithmSpec>("MacAlgorithms", &self.mac_algorithms)
            .opt_string("CurrentKeyMaterialId", &self.current_key_material_id)
            .into()
    }
}

impl ToAwsJson for pb::Tag {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("TagKey", &self.tag_key)
            .string("TagValue", &self.tag_value)
            .into()
    }
}

impl ToAwsJson for pb::KeyListEntry {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("KeyId", &self.key_id)
            .string("KeyArn", &self.key_arn)
            .into()
    }
}

impl ToAwsJson for pb::AliasListEntry {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("AliasName", &self.alias_name)
            .string("AliasArn", &self.alias_arn)
            .opt_string("TargetKeyId", &self.target_key_id)
            .time("CreationDate", self.creation_date.as_ref())
            .time("LastUpdatedDate", self.last_updated_date.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::RotationsListEntry {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("KeyId", &self.key_id)
            .time("RotationDate", self.rotation_date.as_ref())
            .enumeration::<pb::RotationType>("RotationType", self.rotation_type)
            .opt_string("KeyMaterialId", &self.key_material_id)
            .into()
    }
}

/// Responses without fields print nothing, as with the AWS CLI.
macro_rules! empty_responses {
    ($($ty:ident),+) => {$(
        impl ToAwsJson for pb::$ty {
            fn to_aws_json(&self) -> Value {
                Object::new().into()
            }
        }
    )+};
}

empty_responses!(
    UpdateKeyDescriptionResponse,
    EnableKeyResponse,
    DisableKeyResponse,
    EnableKeyRotationResponse,
    DisableKeyRotationResponse,
    CreateAliasResponse,
    UpdateAliasResponse,
    DeleteAliasResponse,
    TagResourceResponse,
    UntagResourceResponse,
    DeleteUserResponse,
    UpdateAccessKeyResponse,
    DeleteAccessKeyResponse,
    PutUserPolicyResponse,
    DeleteUserPolicyResponse,
    DeleteParameterResponse,
    AddTagsToResourceResponse,
    RemoveTagsFromResourceResponse,
    SecretsManagerTagResourceResponse,
    SecretsManagerUntagResourceResponse
);

/// Responses that are one structure: `"Name" field: Response, Response;`.
macro_rules! nested_responses {
    ($($name:literal $field:ident: $($ty:ident),+;)+) => {$($(
        impl ToAwsJson for pb::$ty {
            fn to_aws_json(&self) -> Value {
                Object::new().nested($name, self.$field.as_ref()).into()
            }
        }
    )+)+};
}

nested_responses! {
    "KeyMetadata" key_metadata: CreateKeyResponse, DescribeKeyResponse;
    "User" user: CreateUserResponse, GetUserResponse;
    "AccessKey" access_key: CreateAccessKeyResponse;
    "Credentials" credentials: GetSessionTokenResponse;
    "Parameter" parameter: GetParameterResponse;
}

impl ToAwsJson for pb::ListKeysResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("Keys", &self.keys)
            .page(&self.next_marker, self.truncated)
            .into()
    }
}

impl ToAwsJson for pb::ScheduleKeyDeletionResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("KeyId", &self.key_id)
            .time("DeletionDate", self.deletion_date.as_ref())
            .enumeration::<pb::KeyState>("KeyState", self.key_state)
            .value("PendingWindowInDays", self.pending_window_in_days)
            .into()
    }
}

/// Responses that are one KeyId.
macro_rules! key_id_responses {
    ($($ty:ident),+) => {$(
        impl ToAwsJson for pb::$ty {
            fn to_aws_json(&self) -> Value {
                Object::new().string("KeyId", &self.key_id).into()
            }
        }
    )+};
}

key_id_responses!(CancelKeyDeletionResponse, RotateKeyOnDemandResponse);

impl ToAwsJson for pb::GetKeyRotationStatusResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .boolean("KeyRotationEnabled", self.key_rotation_enabled)
            .opt_string("KeyId", &self.key_id)
            .opt_int("RotationPeriodInDays", self.rotation_period_in_days)
            .time("NextRotationDate", self.next_rotation_date.as_ref())
            .time(
                "OnDemandRotationStartDate",
                self.on_demand_rotation_start_date.as_ref(),
            )
            .into()
    }
}

impl ToAwsJson for pb::ListKeyRotationsResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("Rotations", &self.rotations)
            .page(&self.next_marker, self.truncated)
            .into()
    }
}

impl ToAwsJson for pb::ListAliasesResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("Aliases", &self.aliases)
            .page(&self.next_marker, self.truncated)
            .into()
    }
}

impl ToAwsJson for pb::ListResourceTagsResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("Tags", &self.tags)
            .page(&self.next_marker, self.truncated)
            .into()
    }
}

impl ToAwsJson for pb::EncryptResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .blob("CiphertextBlob", &self.ciphertext_blob)
            .opt_string("KeyId", &self.key_id)
            .enumeration::<pb::EncryptionAlgorithmSpec>(
                "EncryptionAlgorithm",
                self.encryption_algorithm,
            )
            .into()
    }
}

impl ToAwsJson for pb::DecryptResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_string("KeyId", &self.key_id)
            .blob("Plaintext", &self.plaintext)
            .enumeration::<pb::EncryptionAlgorithmSpec>(
                "EncryptionAlgorithm",
                self.encryption_algorithm,
            )
            .opt_string("KeyMaterialId", &self.key_material_id)
            .into()
    }
}

impl ToAwsJson for pb::ReEncryptResponse {
    fn to_aws_json(&self) -> Value {
        type Algorithm = pb::EncryptionAlgorithmSpec;
        Object::new()
            .blob("CiphertextBlob", &self.ciphertext_blob)
            .opt_string("SourceKeyId", &self.source_key_id)
            .opt_string("KeyId", &self.key_id)
            .enumeration::<Algorithm>(
                "SourceEncryptionAlgorithm",
                self.source_encryption_algorithm,
            )
            .enumeration::<Algorithm>(
                "DestinationEncryptionAlgorithm",
                self.destination_encryption_algorithm,
            )
            .opt_string("SourceKeyMaterialId", &self.source_key_material_id)
            .opt_string(
                "DestinationKeyMaterialId",
                &self.destination_key_material_id,
            )
            .into()
    }
}

impl ToAwsJson for pb::GenerateDataKeyResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .blob("CiphertextBlob", &self.ciphertext_blob)
            .blob("Plaintext", &self.plaintext)
            .opt_string("KeyId", &self.key_id)
            .opt_string("KeyMaterialId", &self.key_material_id)
            .into()
    }
}

impl ToAwsJson for pb::GenerateDataKeyWithoutPlaintextResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .blob("CiphertextBlob", &self.ciphertext_blob)
            .opt_string("KeyId", &self.key_id)
            .opt_string("KeyMaterialId", &self.key_material_id)
            .into()
    }
}

impl ToAwsJson for pb::GenerateRandomResponse {
    fn to_aws_json(&self) -> Value {
        Object::new().blob("Plaintext", &self.plaintext).into()
    }
}

// Asymmetric and HMAC keys. Blobs are base64; secrets (PrivateKeyPlaintext, SharedSecret) appear
// only in the value printed for the user, which the printer zeroizes.

impl ToAwsJson for pb::SignResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_string("KeyId", &self.key_id)
            .blob("Signature", &self.signature)
            .enumeration::<pb::SigningAlgorithmSpec>("SigningAlgorithm", self.signing_algorithm)
            .into()
    }
}

impl ToAwsJson for pb::VerifyResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_string("KeyId", &self.key_id)
            .boolean("SignatureValid", self.signature_valid)
            .enumeration::<pb::SigningAlgorithmSpec>("SigningAlgorithm", self.signing_algorithm)
            .into()
    }
}

impl ToAwsJson for pb::GetPublicKeyResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_string("KeyId", &self.key_id)
            .blob("PublicKey", &self.public_key)
            // AWS still returns the deprecated CustomerMasterKeySpec, equal to KeySpec.
            .enumeration::<pb::KeySpec>("CustomerMasterKeySpec", self.key_spec)
            .enumeration::<pb::KeySpec>("KeySpec", self.key_spec)
            .enumeration::<pb::KeyUsage>("KeyUsage", self.key_usage)
            .enumerations::<pb::EncryptionAlgorithmSpec>(
                "EncryptionAlgorithms",
                &self.encryption_algorithms,
            )
            .enumerations::<pb::SigningAlgorithmSpec>("SigningAlgorithms", &self.signing_algorithms)
            .enumerations::<pb::KeyAgreementAlgorithmSpec>(
                "KeyAgreementAlgorithms",
                &self.key_agreement_algorithms,
            )
            .into()
    }
}

impl ToAwsJson for pb::GenerateMacResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .blob("Mac", &self.mac)
            .enumeration::<pb::MacAlgorithmSpec>("MacAlgorithm", self.mac_algorithm)
            .opt_string("KeyId", &self.key_id)
            .into()
    }
}

impl ToAwsJson for pb::VerifyMacResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_string("KeyId", &self.key_id)
            .boolean("MacValid", self.mac_valid)
            .enumeration::<pb::MacAlgorithmSpec>("MacAlgorithm", self.mac_algorithm)
            .into()
    }
}

impl ToAwsJson for pb::GenerateDataKeyPairResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .blob(
                "PrivateKeyCiphertextBlob",
                &self.private_key_ciphertext_blob,
            )
            .blob("PrivateKeyPlaintext", &self.private_key_plaintext)
            .blob("PublicKey", &self.public_key)
            .opt_string("KeyId", &self.key_id)
            .enumeration::<pb::DataKeyPairSpec>("KeyPairSpec", self.key_pair_spec)
            .opt_string("KeyMaterialId", &self.key_material_id)
            .into()
    }
}

impl ToAwsJson for pb::GenerateDataKeyPairWithoutPlaintextResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .blob(
                "PrivateKeyCiphertextBlob",
                &self.private_key_ciphertext_blob,
            )
            .blob("PublicKey", &self.public_key)
            .opt_string("KeyId", &self.key_id)
            .enumeration::<pb::DataKeyPairSpec>("KeyPairSpec", self.key_pair_spec)
            .opt_string("KeyMaterialId", &self.key_material_id)
            .into()
    }
}

impl ToAwsJson for pb::DeriveSharedSecretResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_string("KeyId", &self.key_id)
            .blob("SharedSecret", &self.shared_secret)
            .enumeration::<pb::KeyAgreementAlgorithmSpec>(
                "KeyAgreementAlgorithm",
                self.key_agreement_algorithm,
            )
            .enumeration::<pb::OriginType>("KeyOrigin", self.key_origin)
            .into()
    }
}

// Imported key material.

impl ToAwsJson for pb::GetParametersForImportResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_string("KeyId", &self.key_id)
            .blob("ImportToken", &self.import_token)
            .blob("PublicKey", &self.public_key)
            .time("ParametersValidTo", self.parameters_valid_to.as_ref())
            .into()
    }
}

/// Responses that are a KeyId and a KeyMaterialId.
macro_rules! key_material_responses {
    ($($ty:ident),+) => {$(
        impl ToAwsJson for pb::$ty {
            fn to_aws_json(&self) -> Value {
                Object::new()
                    .opt_string("KeyId", &self.key_id)
                    .opt_string("KeyMaterialId", &self.key_material_id)
                    .into()
            }
        }
    )+};
}

key_material_responses!(ImportKeyMaterialResponse, DeleteImportedKeyMaterialResponse);

// IAM.

impl ToAwsJson for pb::User {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_string("Path", &self.path)
            .string("UserName", &self.user_name)
            .string("UserId", &self.user_id)
            .string("Arn", &self.arn)
            .time("CreateDate", self.create_date.as_ref())
            .time("SessionsValidAfter", self.sessions_valid_after.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::ListUsersResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("Users", &self.users)
            .iam_page(self.is_truncated, &self.marker)
            .into()
    }
}

impl ToAwsJson for pb::RevokeUserSessionsResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .time("SessionsValidAfter", self.sessions_valid_after.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::AccessKey {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("UserName", &self.user_name)
            .string("AccessKeyId", &self.access_key_id)
            .enumeration::<pb::StatusType>("Status", self.status)
            .string("SecretAccessKey", &self.secret_access_key)
            .time("CreateDate", self.create_date.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::AccessKeyMetadata {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("UserName", &self.user_name)
            .string("AccessKeyId", &self.access_key_id)
            .enumeration::<pb::StatusType>("Status", self.status)
            .time("CreateDate", self.create_date.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::ListAccessKeysResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("AccessKeyMetadata", &self.access_key_metadata)
            .iam_page(self.is_truncated, &self.marker)
            .into()
    }
}

impl ToAwsJson for pb::GetUserPolicyResponse {
    /// IAM returns the document URL-encoded and the AWS CLI prints it decoded, as a JSON object;
    /// vaultd returns it as JSON text. Text that is not JSON is printed as it is.
    fn to_aws_json(&self) -> Value {
        let document = serde_json::from_str(&self.policy_document)
            .unwrap_or_else(|_| Value::from(self.policy_document.as_str()));
        Object::new()
            .string("UserName", &self.user_name)
            .string("PolicyName", &self.policy_name)
            .value("PolicyDocument", document)
            .into()
    }
}

impl ToAwsJson for pb::ListUserPoliciesResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .strings("PolicyNames", &self.policy_names)
            .iam_page(self.is_truncated, &self.marker)
            .into()
    }
}

impl ToAwsJson for pb::Statement {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("SourcePolicyId", &self.source_policy_id)
            .string("SourcePolicyType", &self.source_policy_type)
            .value("StatementIndex", self.statement_index)
            .opt_string("Sid", &self.sid)
            .into()
    }
}

impl ToAwsJson for pb::EvaluationResult {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("EvalActionName", &self.eval_action_name)
            .string("EvalResourceName", &self.eval_resource_name)
            .enumeration::<pb::PolicyEvaluationDecisionType>("EvalDecision", self.eval_decision)
            .list("MatchedStatements", &self.matched_statements)
            .into()
    }
}

impl ToAwsJson for pb::SimulatePrincipalPolicyResponse {
    /// Without IsTruncated: the AWS CLI pages this operation and leaves it out.
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("EvaluationResults", &self.evaluation_results)
            .into()
    }
}

// STS.

impl ToAwsJson for pb::Credentials {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("AccessKeyId", &self.access_key_id)
            .string("SecretAccessKey", &self.secret_access_key)
            .string("SessionToken", &self.session_token)
            .time("Expiration", self.expiration.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::GetCallerIdentityResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("UserId", &self.user_id)
            .string("Account", &self.account)
            .string("Arn", &self.arn)
            .into()
    }
}

// SSM Parameter Store. A SecureString's Value is a secret when decrypted: it appears only in the
// value printed for the user, which the printer zeroizes.

impl ToAwsJson for pb::Parameter {
    /// Selector only when the name carried one, as AWS returns it.
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("Name", &self.name)
            .enumeration::<pb::ParameterType>("Type", self.r#type)
            .string("Value", &self.value)
            .int64("Version", self.version)
            .opt_string("Selector", &self.selector)
            .opt_string("SourceResult", &self.source_result)
            .time("LastModifiedDate", self.last_modified_date.as_ref())
            .string("ARN", &self.arn)
            .opt_string("DataType", &self.data_type)
            .into()
    }
}

impl ToAwsJson for pb::ParameterHistory {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("Name", &self.name)
            .enumeration::<pb::ParameterType>("Type", self.r#type)
            .opt_string("KeyId", &self.key_id)
            .time("LastModifiedDate", self.last_modified_date.as_ref())
            .opt_string("LastModifiedUser", &self.last_modified_user)
            .opt_string("Description", &self.description)
            .string("Value", &self.value)
            .opt_string("AllowedPattern", &self.allowed_pattern)
            .int64("Version", self.version)
            .strings("Labels", &self.labels)
            .enumeration::<pb::ParameterTier>("Tier", self.tier)
            .no_policies()
            .opt_string("DataType", &self.data_type)
            .into()
    }
}

impl ToAwsJson for pb::ParameterMetadata {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("Name", &self.name)
            .opt_string("ARN", &self.arn)
            .enumeration::<pb::ParameterType>("Type", self.r#type)
            .opt_string("KeyId", &self.key_id)
            .time("LastModifiedDate", self.last_modified_date.as_ref())
            .opt_string("LastModifiedUser", &self.last_modified_user)
            .opt_string("Description", &self.description)
            .opt_string("AllowedPattern", &self.allowed_pattern)
            .int64("Version", self.version)
            .enumeration::<pb::ParameterTier>("Tier", self.tier)
            .no_policies()
            .opt_string("DataType", &self.data_type)
            .into()
    }
}

impl ToAwsJson for pb::ResourceTag {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("Key", &self.key)
            .string("Value", &self.value)
            .into()
    }
}

impl ToAwsJson for pb::PutParameterResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .int64("Version", self.version)
            .enumeration::<pb::ParameterTier>("Tier", self.tier)
            .into()
    }
}

impl ToAwsJson for pb::GetParametersResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("Parameters", &self.parameters)
            .strings("InvalidParameters", &self.invalid_parameters)
            .into()
    }
}

/// SSM list responses: `"Items" items: Response, ...;`, with NextToken when more remain.
macro_rules! token_list_responses {
    ($($name:literal $field:ident: $($ty:ident),+;)+) => {$($(
        impl ToAwsJson for pb::$ty {
            fn to_aws_json(&self) -> Value {
                Object::new()
                    .list($name, &self.$field)
                    .opt_string("NextToken", &self.next_token)
                    .into()
            }
        }
    )+)+};
}

token_list_responses! {
    "Parameters" parameters:
        GetParametersByPathResponse, GetParameterHistoryResponse, DescribeParametersResponse;
}

impl ToAwsJson for pb::DeleteParametersResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .strings("DeletedParameters", &self.deleted_parameters)
            .strings("InvalidParameters", &self.invalid_parameters)
            .into()
    }
}

impl ToAwsJson for pb::LabelParameterVersionResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .strings("InvalidLabels", &self.invalid_labels)
            .int64("ParameterVersion", self.parameter_version)
            .into()
    }
}

impl ToAwsJson for pb::UnlabelParameterVersionResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .strings("RemovedLabels", &self.removed_labels)
            .strings("InvalidLabels", &self.invalid_labels)
            .into()
    }
}

impl ToAwsJson for pb::ListTagsForResourceResponse {
    fn to_aws_json(&self) -> Value {
        Object::new().list("TagList", &self.tag_list).into()
    }
}

// Secrets Manager. Fields in the order of the AWS model, left out when unset, as the service
// leaves them out. A SecretString, a SecretBinary and a RandomPassword are secrets: they appear
// only in the value printed for the user, which the printer zeroizes.

/// Responses that are a secret's ARN and Name, and the VersionId when there is one.
macro_rules! secret_responses {
    ($($ty:ident $(.$version_id:ident)?),+) => {$(
        impl ToAwsJson for pb::$ty {
            fn to_aws_json(&self) -> Value {
                Object::new()
                    .string("ARN", &self.arn)
                    .string("Name", &self.name)
                    $(.opt_string("VersionId", &self.$version_id))?
                    .into()
            }
        }
    )+};
}

secret_responses!(
    CreateSecretResponse.version_id,
    UpdateSecretResponse.version_id,
    RotateSecretResponse.version_id,
    CancelRotateSecretResponse.version_id,
    UpdateSecretVersionStageResponse,
    RestoreSecretResponse
);

impl ToAwsJson for pb::GetSecretValueResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("ARN", &self.arn)
            .string("Name", &self.name)
            .string("VersionId", &self.version_id)
            .secret_value(self.secret_binary.as_ref(), self.secret_string.as_ref())
            .opt_strings("VersionStages", &self.version_stages)
            .time("CreatedDate", self.created_date.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::SecretValueEntry {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("ARN", &self.arn)
            .string("Name", &self.name)
            .string("VersionId", &self.version_id)
            .secret_value(self.secret_binary.as_ref(), self.secret_string.as_ref())
            .opt_strings("VersionStages", &self.version_stages)
            .time("CreatedDate", self.created_date.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::ApiErrorType {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("SecretId", &self.secret_id)
            .string("ErrorCode", &self.error_code)
            .string("Message", &self.message)
            .into()
    }
}

impl ToAwsJson for pb::BatchGetSecretValueResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("SecretValues", &self.secret_values)
            .opt_string("NextToken", &self.next_token)
            .list("Errors", &self.errors)
            .into()
    }
}

impl ToAwsJson for pb::PutSecretValueResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("ARN", &self.arn)
            .string("Name", &self.name)
            .string("VersionId", &self.version_id)
            .opt_strings("VersionStages", &self.version_stages)
            .into()
    }
}

impl ToAwsJson for pb::RotationRulesType {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .opt_int64("AutomaticallyAfterDays", self.automatically_after_days)
            .opt_string("Duration", &self.duration)
            .opt_string("ScheduleExpression", &self.schedule_expression)
            .into()
    }
}

impl ToAwsJson for pb::DescribeSecretResponse {
    /// RotationEnabled only once rotation was configured, as AWS. RotationFailure is vaultd's
    /// (why the last rotation failed), printed only when there is one.
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("ARN", &self.arn)
            .string("Name", &self.name)
            .opt_string("Description", &self.description)
            .opt_string("KmsKeyId", &self.kms_key_id)
            .opt_bool("RotationEnabled", self.rotation_enabled)
            .opt_string("RotationLambdaARN", &self.rotation_lambda_arn)
            .nested("RotationRules", self.rotation_rules.as_ref())
            .time("LastRotatedDate", self.last_rotated_date.as_ref())
            .time("LastChangedDate", self.last_changed_date.as_ref())
            .time("LastAccessedDate", self.last_accessed_date.as_ref())
            .time("DeletedDate", self.deleted_date.as_ref())
            .time("NextRotationDate", self.next_rotation_date.as_ref())
            .opt_list("Tags", &self.tags)
            .version_stages("VersionIdsToStages", &self.version_ids_to_stages)
            .opt_string("OwningService", &self.owning_service)
            .time("CreatedDate", self.created_date.as_ref())
            .opt_string("RotationFailure", &self.rotation_failure)
            .into()
    }
}

impl ToAwsJson for pb::SecretListEntry {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("ARN", &self.arn)
            .string("Name", &self.name)
            .opt_string("Description", &self.description)
            .opt_string("KmsKeyId", &self.kms_key_id)
            .opt_bool("RotationEnabled", self.rotation_enabled)
            .opt_string("RotationLambdaARN", &self.rotation_lambda_arn)
            .nested("RotationRules", self.rotation_rules.as_ref())
            .time("LastRotatedDate", self.last_rotated_date.as_ref())
            .time("LastChangedDate", self.last_changed_date.as_ref())
            .time("LastAccessedDate", self.last_accessed_date.as_ref())
            .time("DeletedDate", self.deleted_date.as_ref())
            .time("NextRotationDate", self.next_rotation_date.as_ref())
            .opt_list("Tags", &self.tags)
            .version_stages("SecretVersionsToStages", &self.secret_versions_to_stages)
            .opt_string("OwningService", &self.owning_service)
            .time("CreatedDate", self.created_date.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::ListSecretsResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("SecretList", &self.secret_list)
            .opt_string("NextToken", &self.next_token)
            .into()
    }
}

impl ToAwsJson for pb::SecretVersionsListEntry {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("VersionId", &self.version_id)
            .opt_strings("VersionStages", &self.version_stages)
            .time("LastAccessedDate", self.last_accessed_date.as_ref())
            .time("CreatedDate", self.created_date.as_ref())
            .opt_strings("KmsKeyIds", &self.kms_key_ids)
            .into()
    }
}

impl ToAwsJson for pb::ListSecretVersionIdsResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .list("Versions", &self.versions)
            .opt_string("NextToken", &self.next_token)
            .string("ARN", &self.arn)
            .string("Name", &self.name)
            .into()
    }
}

impl ToAwsJson for pb::DeleteSecretResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("ARN", &self.arn)
            .string("Name", &self.name)
            .time("DeletionDate", self.deletion_date.as_ref())
            .into()
    }
}

impl ToAwsJson for pb::GetRandomPasswordResponse {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("RandomPassword", &self.random_password)
            .into()
    }
}

// The audit trail, as CloudTrail's LookupEvents, with vaultd's chain fields.

impl ToAwsJson for pb::Resource {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("ResourceType", &self.resource_type)
            .string("ResourceName", &self.resource_name)
            .into()
    }
}

impl ToAwsJson for pb::Event {
    fn to_aws_json(&self) -> Value {
        Object::new()
            .string("EventId", &self.event_id)
            .string("EventName", &self.event_name)
            .time("EventTime", self.event_time.as_ref())
            .string("EventSource", &self.event_source)
            .string("Username", &self.username)
            .opt_string("AccessKeyId", &self.access_key_id)
            .list("Resources", &self.resources)
            .opt_string("ErrorCode", &self.error_code)
            .value("Sequence", self.sequence)
            .string("Hash", &self.hash)
            .string("CloudTrailEvent", &self.cloud_trail_event)
            .into()
    }
}

/// A timestamp as AWS CLI v2 prints one (Python's `isoformat`), in UTC:
/// `2024-05-01T12:34:56.789000+00:00`, without the fraction when it is zero.
pub fn iso8601(t: &prost_types::Timestamp) -> String {
    let (days, secs) = (t.seconds.div_euclid(86_400), t.seconds.rem_euclid(86_400));
    let (y, m, d) = vaultd::clock::civil_from_days(days);
    let (h, mi, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let micros = t.nanos.clamp(0, 999_999_999) / 1000;
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}+00:00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_like_aws_cli_v2() {
        let t = |seconds, nanos| iso8601(&prost_types::Timestamp { seconds, nanos });
        assert_eq!(t(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            t(1_709_210_096, 789_000_000),
            "2024-02-29T12:34:56.789000+00:00"
        );
        assert_eq!(t(-1, 0), "1969-12-31T23:59:59+00:00");
    }

    #[test]
    fn key_metadata_lists_only_the_algorithms_a_key_has_in_aws_order() {
        let signing = pb::KeyMetadata {
            key_id: "k".into(),
            key_usage: pb::KeyUsage::SignVerify as i32,
            key_spec: pb::KeySpec::Rsa2048 as i32,
            signing_algorithms: vec![
                pb::SigningAlgorithmSpec::RsassaPssSha256 as i32,
                pb::SigningAlgorithmSpec::RsassaPkcs1V15Sha256 as i32,
            ],
            ..Default::default()
        }
        .to_aws_json();
        assert_eq!(
            signing["SigningAlgorithms"],
            serde_json::json!(["RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256"])
        );
        for absent in [
            "EncryptionAlgorithms",
            "MacAlgorithms",
            "KeyAgreementAlgorithms",
            "ExpirationModel",
            "ValidTo",
        ] {
            assert!(signing.get(absent).is_none(), "{absent}: {signing}");
        }

        let imported = pb::KeyMetadata {
            key_id: "k".into(),
            origin: pb::OriginType::External as i32,
            key_spec: pb::KeySpec::Hmac256 as i32,
            mac_algorithms: vec![pb::MacAlgorithmSpec::HmacSha256 as i32],
            expiration_model: pb::ExpirationModelType::KeyMaterialExpires as i32,
            valid_to: Some(prost_types::Timestamp {
                seconds: 1_798_761_600,
                nanos: 0,
            }),
            ..Default::default()
        }
        .to_aws_json();
        assert_eq!(
            imported["MacAlgorithms"],
            serde_json::json!(["HMAC_SHA_256"])
        );
        assert_eq!(imported["ExpirationModel"], "KEY_MATERIAL_EXPIRES");
        assert_eq!(imported["ValidTo"], "2027-01-01T00:00:00+00:00");
        let keys: Vec<&str> = imported
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let position = |name| keys.iter().position(|k| *k == name).unwrap();
        assert!(position("ValidTo") < position("Origin"));
        assert!(position("Origin") < position("ExpirationModel"));
        assert!(position("MultiRegion") < position("MacAlgorithms"));
    }

    #[test]
    fn parameters_print_in_aws_order_with_a_selector_only_when_set() {
        let parameter = pb::Parameter {
            name: "/app/db".into(),
            r#type: pb::ParameterType::StringList as i32,
            value: "a,b".into(),
            version: 2,
            last_modified_date: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            arn: "arn:aws:ssm:us-east-1:000000000000:parameter/app/db".into(),
            data_type: "text".into(),
            ..Default::default()
        };
        let json = pb::GetParameterResponse {
            parameter: Some(parameter.clone()),
        }
        .to_aws_json();
        let fields: Vec<&str> = json["Parameter"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            [
                "Name",
                "Type",
                "Value",
                "Version",
                "LastModifiedDate",
                "ARN",
                "DataType"
            ]
        );
        assert_eq!(json["Parameter"]["Type"], "StringList");
        assert_eq!(json["Parameter"]["Version"], 2);
        let selected = pb::Parameter {
            selector: ":prod".into(),
            ..parameter
        }
        .to_aws_json();
        assert_eq!(selected["Selector"], ":prod");
        let put = pb::PutParameterResponse {
            version: 1,
            tier: pb::ParameterTier::Standard as i32,
        }
        .to_aws_json();
        assert_eq!(put, serde_json::json!({"Version": 1, "Tier": "Standard"}));
        let page = pb::GetParametersByPathResponse::default().to_aws_json();
        assert_eq!(page, serde_json::json!({"Parameters": []}));
    }

    #[test]
    fn secrets_print_in_aws_order_without_unset_fields() {
        let t = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let value = pb::GetSecretValueResponse {
            arn: "arn:s".into(),
            name: "s".into(),
            version_id: "v1".into(),
            secret_binary: Some(vec![0, 255]),
            secret_string: None,
            version_stages: vec!["AWSCURRENT".into()],
            created_date: t(0),
        }
        .to_aws_json();
        let fields: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            [
                "ARN",
                "Name",
                "VersionId",
                "SecretBinary",
                "VersionStages",
                "CreatedDate"
            ]
        );
        assert_eq!(value["SecretBinary"], "AP8=");

        let described = pb::DescribeSecretResponse {
            arn: "arn:s".into(),
            name: "s".into(),
            last_changed_date: t(86_400),
            created_date: t(0),
            version_ids_to_stages: [
                (
                    "b".to_string(),
                    pb::VersionStages {
                        stages: vec!["AWSCURRENT".into()],
                    },
                ),
                (
                    "a".to_string(),
                    pb::VersionStages {
                        stages: vec!["AWSPREVIOUS".into()],
                    },
                ),
            ]
            .into(),
            ..Default::default()
        }
        .to_aws_json();
        assert_eq!(
            described,
            serde_json::json!({
                "ARN": "arn:s",
                "Name": "s",
                "LastChangedDate": "1970-01-02T00:00:00+00:00",
                "VersionIdsToStages": {"a": ["AWSPREVIOUS"], "b": ["AWSCURRENT"]},
                "CreatedDate": "1970-01-01T00:00:00+00:00",
            })
        );
        let ids: Vec<&str> = described["VersionIdsToStages"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(ids, ["a", "b"]);

        let rotating = pb::DescribeSecretResponse {
            rotation_enabled: Some(false),
            rotation_rules: Some(pb::RotationRulesType {
                automatically_after_days: Some(30),
                ..Default::default()
            }),
            tags: vec![pb::ResourceTag {
                key: "k".into(),
                value: "v".into(),
            }],
            ..Default::default()
        }
        .to_aws_json();
        assert_eq!(rotating["RotationEnabled"], false);
        assert_eq!(
            rotating["RotationRules"],
            serde_json::json!({"AutomaticallyAfterDays": 30})
        );
        assert_eq!(
            rotating["Tags"],
            serde_json::json!([{"Key": "k", "Value": "v"}])
        );

        let created = pb::CreateSecretResponse {
            arn: "arn:s".into(),
            name: "s".into(),
            version_id: String::new(),
        }
        .to_aws_json();
        assert_eq!(created, serde_json::json!({"ARN": "arn:s", "Name": "s"}));
        let batch = pb::BatchGetSecretValueResponse::default().to_aws_json();
        assert_eq!(batch, serde_json::json!({"SecretValues": [], "Errors": []}));
    }

    #[test]
    fn unset_fields_are_left_out_and_enums_spelled_as_aws() {
        let json = pb::ScheduleKeyDeletionResponse {
            key_id: "k".into(),
            key_state: pb::KeyState::PendingDeletion as i32,
            pending_window_in_days: 7,
            deletion_date: None,
        }
        .to_aws_json();
        assert_eq!(
            json,
            serde_json::json!({"KeyId": "k", "KeyState": "PendingDeletion", "PendingWindowInDays": 7})
        );
    }
}
