//! The domain's vocabulary: key specs, usages, states and the records the store persists. Plain
//! data with AWS names, shared by the domain (`kms`, `iam`) and the store; no rules live here.

use std::time::SystemTime;

use uuid::Uuid;

macro_rules! aws_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $aws:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The AWS spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $aws),+ }
            }

            /// Parses the AWS spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($aws => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_enum!(
    /// AWS `KeySpec`.
    KeySpec {
        SymmetricDefault => "SYMMETRIC_DEFAULT",
        Rsa2048 => "RSA_2048",
        Rsa3072 => "RSA_3072",
        Rsa4096 => "RSA_4096",
        EccNistP256 => "ECC_NIST_P256",
        Hmac224 => "HMAC_224",
        Hmac256 => "HMAC_256",
        Hmac384 => "HMAC_384",
        Hmac512 => "HMAC_512",
    }
);

aws_enum!(
    /// AWS `KeyUsageType`.
    KeyUsage {
        EncryptDecrypt => "ENCRYPT_DECRYPT",
        SignVerify => "SIGN_VERIFY",
        GenerateVerifyMac => "GENERATE_VERIFY_MAC",
        KeyAgreement => "KEY_AGREEMENT",
    }
);

aws_enum!(
    /// AWS `KeyState`.
    KeyState {
        Creating => "Creating",
        Enabled => "Enabled",
        Disabled => "Disabled",
        PendingDeletion => "PendingDeletion",
        PendingImport => "PendingImport",
        Unavailable => "Unavailable",
    }
);

aws_enum!(
    /// AWS `OriginType`.
    Origin {
        AwsKms => "AWS_KMS",
        External => "EXTERNAL",
    }
);

aws_enum!(
    /// AWS `KeyManagerType`.
    KeyManager {
        Aws => "AWS",
        Customer => "CUSTOMER",
    }
);

aws_enum!(
    /// AWS `RotationType`; the initial material of a key has none.
    RotationType {
        Automatic => "AUTOMATIC",
        OnDemand => "ON_DEMAND",
    }
);

aws_enum!(
    /// AWS `EncryptionAlgorithmSpec`.
    EncryptionAlgorithm {
        SymmetricDefault => "SYMMETRIC_DEFAULT",
        RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
    }
);

aws_enum!(
    /// AWS `SigningAlgorithmSpec`, for the key specs vaultd has.
    SigningAlgorithm {
        RsassaPssSha256 => "RSASSA_PSS_SHA_256",
        RsassaPssSha384 => "RSASSA_PSS_SHA_384",
        RsassaPssSha512 => "RSASSA_PSS_SHA_512",
        RsassaPkcs1V15Sha256 => "RSASSA_PKCS1_V1_5_SHA_256",
        RsassaPkcs1V15Sha384 => "RSASSA_PKCS1_V1_5_SHA_384",
        RsassaPkcs1V15Sha512 => "RSASSA_PKCS1_V1_5_SHA_512",
        EcdsaSha256 => "ECDSA_SHA_256",
    }
);

aws_enum!(
    /// AWS `MessageType`: whether Sign and Verify get the message or its digest.
    MessageType {
        Raw => "RAW",
        Digest => "DIGEST",
    }
);

aws_enum!(
    /// AWS `KeyAgreementAlgorithmSpec`.
    KeyAgreementAlgorithm {
        Ecdh => "ECDH",
    }
);

aws_enum!(
    /// AWS `MacAlgorithmSpec`.
    MacAlgorithm {
        HmacSha224 => "HMAC_SHA_224",
        HmacSha256 => "HMAC_SHA_256",
        HmacSha384 => "HMAC_SHA_384",
        HmacSha512 => "HMAC_SHA_512",
    }
);

aws_enum!(
    /// AWS `DataKeyPairSpec`, for the key pair specs vaultd has.
    DataKeyPairSpec {
        Rsa2048 => "RSA_2048",
        Rsa3072 => "RSA_3072",
        Rsa4096 => "RSA_4096",
        EccNistP256 => "ECC_NIST_P256",
    }
);

aws_enum!(
    /// AWS `AlgorithmSpec`: how key material to import is wrapped.
    WrappingAlgorithm {
        RsaesPkcs1V15 => "RSAES_PKCS1_V1_5",
        RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        RsaAesKeyWrapSha1 => "RSA_AES_KEY_WRAP_SHA_1",
        RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
    }
);

aws_enum!(
    /// AWS `WrappingKeySpec`: the RSA key that wraps key material to import.
    WrappingKeySpec {
        Rsa2048 => "RSA_2048",
        Rsa3072 => "RSA_3072",
        Rsa4096 => "RSA_4096",
    }
);

aws_enum!(
    /// AWS `ExpirationModelType`, for keys with imported material.
    ExpirationModel {
        KeyMaterialExpires => "KEY_MATERIAL_EXPIRES",
        KeyMaterialDoesNotExpire => "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
);

aws_enum!(
    /// AWS `ImportType`: material the key had before, or new material for a rotation.
    ImportType {
        ExistingKeyMaterial => "EXISTING_KEY_MATERIAL",
        NewKeyMaterial => "NEW_KEY_MATERIAL",
    }
);

aws_enum!(
    /// Whether an access key can sign requests.
    AccessKeyStatus {
        Active => "Active",
        Inactive => "Inactive",
    }
);

/// A KMS key's metadata as stored. Its material lives in [`MaterialVersion`] rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: Uuid,
    pub created_at: SystemTime,
    pub description: String,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    pub origin: Origin,
    pub key_manager: KeyManager,
    pub state: KeyState,
    /// Set while the key is pending deletion.
    pub deletion_date: Option<SystemTime>,
    pub pending_window_days: Option<u32>,
    /// `Some` while automatic rotation is enabled.
    pub rotation: Option<RotationSchedule>,
    /// The material version new ciphertexts use.
    pub current_version: u32,
    /// Keys with imported material: whether it expires, and when (`valid_to`).
    pub expiration_model: Option<ExpirationModel>,
    pub valid_to: Option<SystemTime>,
}

/// Automatic rotation settings of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationSchedule {
    pub period_days: u32,
    pub next_rotation: SystemTime,
}

/// One version of a key's material, sealed under the barrier. A version above the key's current
/// one is imported material waiting for RotateKeyOnDemand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialVersion {
    pub key_id: Uuid,
    pub version: u32,
    pub created_at: SystemTime,
    /// How this version came to be; `None` for the key's initial material.
    pub rotation_type: Option<RotationType>,
    /// `None` once imported material was deleted (DeleteImportedKeyMaterial, or it expired).
    pub sealed: Option<Vec<u8>>,
    /// Imported material only: what identifies it, so that only the same material re-imports.
    pub fingerprint: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An alias (`alias/NAME`) pointing at a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasRecord {
    pub name: String,
    pub key_id: Uuid,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

/// A user (IAM-style principal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub name: String,
    pub created_at: SystemTime,
    /// Sessions issued at or before this instant are revoked.
    pub sessions_valid_after: Option<SystemTime>,
}

/// An inline policy attached to a user: its name and JSON document (validated before storing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPolicyRecord {
    pub user_id: String,
    pub name: String,
    pub document: String,
}

/// One stored audit event: the canonical JSON body the hash chain covers, plus columns copied out
/// of it for lookups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// 1, 2, 3, … without gaps.
    pub sequence: u64,
    pub time: SystemTime,
    pub user_name: String,
    pub access_key_id: String,
    /// `service:Operation`, e.g. `kms:Encrypt`.
    pub event_name: String,
    pub resources: Vec<String>,
    /// The canonical JSON of the event (it names the previous event's hash).
    pub body: String,
    /// SHA-256 of `body`.
    pub hash: [u8; 32],
}

/// Which audit events to read. All filters are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events at or after this time.
    pub start: Option<SystemTime>,
    /// Events at or before this time.
    pub end: Option<SystemTime>,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    pub event_name: Option<String>,
    /// Events that name this resource ARN.
    pub resource: Option<String>,
    /// Oldest first (for verification and tailing) instead of newest first.
    pub ascending: bool,
    /// Continue after this sequence number (in the order chosen by `ascending`).
    pub after_sequence: Option<u64>,
    pub limit: usize,
}

/// A long-term access key. The secret is sealed under the barrier (the server needs it to check
/// signatures, as AWS does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub id: String,
    pub user_id: String,
    pub status: AccessKeyStatus,
    pub created_at: SystemTime,
    pub sealed_secret: Vec<u8>,
    /// Sessions this key minted at or before this instant are void (set when it is deactivated).
    pub sessions_valid_after: Option<SystemTime>,
}

aws_enum!(
    /// AWS `DataKeySpec`.
    DataKeySpec {
        Aes256 => "AES_256",
        Aes128 => "AES_128",
    }
);

impl DataKeySpec {
    /// The data key length in bytes.
    pub fn byte_len(self) -> usize {
        match self {
            DataKeySpec::Aes256 => 32,
            DataKeySpec::Aes128 => 16,
        }
    }
}

aws_enum!(
    /// AWS SSM `ParameterType`.
    ParameterType {
        String => "String",
        StringList => "StringList",
        SecureString => "SecureString",
    }
);

aws_enum!(
    /// AWS SSM `ParameterTier`. A stored version is Standard or Advanced; Intelligent-Tiering is a
    /// request that picks one of them.
    ParameterTier {
        Standard => "Standard",
        Advanced => "Advanced",
        IntelligentTiering => "Intelligent-Tiering",
    }
);

/// One version of an SSM parameter, as stored. `value` is sealed under the barrier (String,
/// StringList) or a KMS ciphertext blob (SecureString): never the plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterVersionRecord {
    pub name: String,
    pub version: u64,
    pub parameter_type: ParameterType,
    /// SecureString only: the KMS key as the caller named it (or `alias/aws/ssm`).
    pub key_id: Option<String>,
    pub description: String,
    pub allowed_pattern: String,
    pub tier: ParameterTier,
    pub data_type: String,
    pub modified_at: SystemTime,
    /// The ARN of the user who wrote this version.
    pub modified_by: String,
    pub value: Vec<u8>,
    /// Filled in by reads; ignored by writes (labels have their own calls).
    pub labels: Vec<String>,
}

/// A Secrets Manager secret's metadata, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRecord {
    /// `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`: the identity of the secret.
    pub arn: String,
    pub name: String,
    pub description: String,
    /// The KMS key as the caller named it; `None` for the AWS-managed default.
    pub kms_key_id: Option<String>,
    pub created_at: SystemTime,
    pub last_changed_at: SystemTime,
    /// Day granularity, as AWS.
    pub last_accessed_at: Option<SystemTime>,
    /// Set while a deletion is scheduled: when it happens.
    pub deleted_at: Option<SystemTime>,
    pub rotation: SecretRotation,
}

/// A secret's rotation settings and state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretRotation {
    /// `None` until rotation was ever configured (AWS returns no RotationEnabled then).
    pub enabled: Option<bool>,
    /// vaultd's rotation hook (`http(s)://…` or `command:…`), in AWS's RotationLambdaARN.
    pub hook: Option<String>,
    pub automatically_after_days: Option<u32>,
    pub schedule_expression: Option<String>,
    pub duration: Option<String>,
    pub last_rotated_at: Option<SystemTime>,
    pub next_rotation_at: Option<SystemTime>,
    /// Why the last rotation failed; `None` after a success.
    pub failure: Option<String>,
}

/// One version of a secret. `value` is a KMS ciphertext blob of the encoded value, never the
/// plaintext; `None` for an AWSPENDING version created by a rotation before its value is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretVersionRecord {
    pub version_id: String,
    pub created_at: SystemTime,
    pub value: Option<Vec<u8>>,
    /// Filled in by reads.
    pub stages: Vec<String>,
}
