//! `vaultctl kms <action>`: one subcommand per `vault.v1.KeyManagement` RPC, named and flagged as
//! the AWS CLI names them (`encrypt --key-id K --plaintext fileb://F`).
//!
//! Each action is a thin argument struct; [`KmsCommand::request`] turns it into the request,
//! reading files and stdin through [`crate::input`], before anything is sent ([`crate::calls`]
//! sends it). The one action with an output of its own is `get-public-key --output pem`, which
//! [`KmsJob::run`] prints as a PEM block, to stdout or to `--outfile`.

use std::{collections::HashMap, path::PathBuf};

use clap::{Args, Subcommand};
use vaultd::pb;

use crate::{
    CliError, Context,
    calls::{self, KmsRequest, Paging},
    enums, input,
    input::BinaryFormat,
    output,
};

#[derive(Subcommand)]
pub enum KmsCommand {
    /// Create a KMS key (CreateKey).
    CreateKey(CreateKeyArgs),
    /// Show a key's metadata (DescribeKey).
    DescribeKey(KeyIdArgs),
    /// List the keys (ListKeys).
    ListKeys(PageArgs),
    /// Set a key's description (UpdateKeyDescription).
    UpdateKeyDescription(UpdateKeyDescriptionArgs),
    /// Enable a key (EnableKey).
    EnableKey(KeyIdArgs),
    /// Disable a key (DisableKey).
    DisableKey(KeyIdArgs),
    /// Schedule a key's deletion after a waiting period (ScheduleKeyDeletion).
    ScheduleKeyDeletion(ScheduleKeyDeletionArgs),
    /// Cancel a scheduled deletion; the key stays disabled (CancelKeyDeletion).
    CancelKeyDeletion(KeyIdArgs),
    /// Turn on automatic rotation of a key's material (EnableKeyRotation).
    EnableKeyRotation(EnableKeyRotationArgs),
    /// Turn off automatic rotation (DisableKeyRotation).
    DisableKeyRotation(KeyIdArgs),
    /// Show whether and when a key rotates (GetKeyRotationStatus).
    GetKeyRotationStatus(KeyIdArgs),
    /// Rotate a key's material now (RotateKeyOnDemand).
    RotateKeyOnDemand(KeyIdArgs),
    /// List the rotations of a key (ListKeyRotations).
    ListKeyRotations(KeyPageArgs),
    /// Create an alias for a key (CreateAlias).
    CreateAlias(AliasTargetArgs),
    /// Point an alias at another key (UpdateAlias).
    UpdateAlias(AliasTargetArgs),
    /// Delete an alias (DeleteAlias).
    DeleteAlias(AliasNameArgs),
    /// List the aliases, or those of one key (ListAliases).
    ListAliases(ListAliasesArgs),
    /// Add or overwrite tags of a key (TagResource).
    TagResource(TagResourceArgs),
    /// Remove tags from a key (UntagResource).
    UntagResource(UntagResourceArgs),
    /// List the tags of a key (ListResourceTags).
    ListResourceTags(KeyPageArgs),
    /// Encrypt up to 4 KiB of data (Encrypt).
    Encrypt(EncryptArgs),
    /// Decrypt a ciphertext blob (Decrypt).
    Decrypt(DecryptArgs),
    /// Decrypt and encrypt again under another key or context, without exposing the plaintext
    /// (ReEncrypt).
    ReEncrypt(ReEncryptArgs),
    /// Generate a data key: its plaintext and its ciphertext under a KMS key (GenerateDataKey).
    GenerateDataKey(DataKeyArgs),
    /// Generate a data key, returning only its ciphertext (GenerateDataKeyWithoutPlaintext).
    GenerateDataKeyWithoutPlaintext(DataKeyArgs),
    /// Random bytes (GenerateRandom).
    GenerateRandom(GenerateRandomArgs),
    /// Sign a message or its digest with an asymmetric SIGN_VERIFY key (Sign).
    Sign(SignArgs),
    /// Verify a signature made with an asymmetric SIGN_VERIFY key; a signature that does not
    /// verify is the error KMSInvalidSignatureException (Verify).
    Verify(VerifyArgs),
    /// Show the public key of an asymmetric key, DER in base64, or as PEM with --output pem
    /// (GetPublicKey).
    GetPublicKey(GetPublicKeyArgs),
    /// Compute the HMAC of a message with a GENERATE_VERIFY_MAC key (GenerateMac).
    GenerateMac(GenerateMacArgs),
    /// Verify an HMAC; one that does not verify is the error KMSInvalidMacException (VerifyMac).
    VerifyMac(VerifyMacArgs),
    /// Generate an asymmetric data key pair: its public key, its private key, and the private key
    /// encrypted under a symmetric KMS key (GenerateDataKeyPair).
    GenerateDataKeyPair(DataKeyPairArgs),
    /// Generate an asymmetric data key pair, returning only its public key and the encrypted
    /// private key (GenerateDataKeyPairWithoutPlaintext).
    GenerateDataKeyPairWithoutPlaintext(DataKeyPairArgs),
    /// Derive a shared secret from a KEY_AGREEMENT key and a peer's public key
    /// (DeriveSharedSecret).
    DeriveSharedSecret(DeriveSharedSecretArgs),
    /// Get the public key and the import token to wrap key material for a key with origin
    /// EXTERNAL (GetParametersForImport).
    GetParametersForImport(GetParametersForImportArgs),
    /// Import wrapped key material into a key with origin EXTERNAL (ImportKeyMaterial).
    ImportKeyMaterial(ImportKeyMaterialArgs),
    /// Delete a key's imported key material; the key waits for an import again
    /// (DeleteImportedKeyMaterial).
    DeleteImportedKeyMaterial(KeyIdArgs),
}

const KEY_ID_HELP: &str = "The key: its id, key ARN, alias name (alias/NAME) or alias ARN.";

#[derive(Args)]
pub struct KeyIdArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
}

/// The page flags of a list action.
#[derive(Args)]
pub struct PageArgs {
    /// The most items in one page; only that page is returned.
    #[arg(long)]
    limit: Option<i32>,
    /// Start after an earlier page: its NextMarker. Only that page is returned.
    #[arg(long)]
    marker: Option<String>,
    /// Return only the first page instead of following NextMarker.
    #[arg(long)]
    no_paginate: bool,
}

impl PageArgs {
    /// The request's limit and marker, and whether to follow NextMarker to the last page (as the
    /// AWS CLI paginates) or return one page, when a page was asked for.
    fn split(self) -> (Option<i32>, String, Paging) {
        let paging = if self.no_paginate || self.limit.is_some() || self.marker.is_some() {
            Paging::OnePage
        } else {
            Paging::AllPages
        };
        (self.limit, self.marker.unwrap_or_default(), paging)
    }
}

#[derive(Args)]
pub struct KeyPageArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    #[command(flatten)]
    page: PageArgs,
}

#[derive(Args)]
pub struct CreateKeyArgs {
    /// A description of the key.
    #[arg(long)]
    description: Option<String>,
    /// What the key is for [default: ENCRYPT_DECRYPT].
    #[arg(long, value_parser = enums::parser::<pb::KeyUsage>())]
    key_usage: Option<pb::KeyUsage>,
    /// The type of key [default: SYMMETRIC_DEFAULT].
    #[arg(long, value_parser = enums::parser::<pb::KeySpec>())]
    key_spec: Option<pb::KeySpec>,
    /// Where the key material comes from [default: AWS_KMS].
    #[arg(long, value_parser = enums::parser::<pb::OriginType>())]
    origin: Option<pb::OriginType>,
    /// Tags: TagKey=KEY,TagValue=VALUE (repeatable), or a JSON list of {"TagKey","TagValue"}.
    #[arg(long, num_args = 1.., value_name = "TAGS")]
    tags: Vec<String>,
    /// Create a multi-Region primary key.
    #[arg(long)]
    multi_region: bool,
}

#[derive(Args)]
pub struct UpdateKeyDescriptionArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// The new description.
    #[arg(long)]
    description: String,
}

#[derive(Args)]
pub struct ScheduleKeyDeletionArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// Days to wait before deleting, 7 to 30 [default: 30].
    #[arg(long)]
    pending_window_in_days: Option<i32>,
}

#[derive(Args)]
pub struct EnableKeyRotationArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// Days between rotations, 90 to 2560 [default: 365].
    #[arg(long)]
    rotation_period_in_days: Option<i32>,
}

#[derive(Args)]
pub struct AliasTargetArgs {
    /// The alias: alias/NAME.
    #[arg(long)]
    alias_name: String,
    /// The key the alias points at: its id or key ARN.
    #[arg(long)]
    target_key_id: String,
}

#[derive(Args)]
pub struct AliasNameArgs {
    /// The alias: alias/NAME.
    #[arg(long)]
    alias_name: String,
}

#[derive(Args)]
pub struct ListAliasesArgs {
    /// Only the aliases of this key (its id or key ARN).
    #[arg(long)]
    key_id: Option<String>,
    #[command(flatten)]
    page: PageArgs,
}

#[derive(Args)]
pub struct TagResourceArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// Tags: TagKey=KEY,TagValue=VALUE (repeatable), or a JSON list of {"TagKey","TagValue"}.
    #[arg(long, num_args = 1.., required = true, value_name = "TAGS")]
    tags: Vec<String>,
}

#[derive(Args)]
pub struct UntagResourceArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// The keys of the tags to remove (several, or a JSON list).
    #[arg(long, num_args = 1.., required = true, value_name = "TAG_KEY")]
    tag_keys: Vec<String>,
}

#[derive(Args)]
pub struct EncryptArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// The data: fileb://PATH (raw bytes), - (raw bytes on stdin), file://PATH or a literal. A
    /// literal or file:// value is taken as its UTF-8 bytes (AWS CLI v1 behaviour; AWS CLI v2
    /// expects base64 unless --cli-binary-format raw-in-base64-out); with --cli-binary-format
    /// base64 it is decoded from base64 first. Read from stdin when absent.
    #[arg(long)]
    plaintext: Option<String>,
    /// Encryption context: KEY=VALUE,KEY=VALUE or a JSON object.
    #[arg(long)]
    encryption_context: Option<String>,
    /// The encryption algorithm [default: SYMMETRIC_DEFAULT].
    #[arg(long, value_parser = enums::parser::<pb::EncryptionAlgorithmSpec>())]
    encryption_algorithm: Option<pb::EncryptionAlgorithmSpec>,
}

#[derive(Args)]
pub struct DecryptArgs {
    /// The ciphertext: fileb://PATH (raw bytes), - (raw bytes on stdin), or base64.
    #[arg(long)]
    ciphertext_blob: String,
    /// The encryption context it was encrypted with: KEY=VALUE,KEY=VALUE or a JSON object.
    #[arg(long)]
    encryption_context: Option<String>,
    /// Insist on this key (optional: the blob names its key).
    #[arg(long)]
    key_id: Option<String>,
    /// The encryption algorithm [default: SYMMETRIC_DEFAULT].
    #[arg(long, value_parser = enums::parser::<pb::EncryptionAlgorithmSpec>())]
    encryption_algorithm: Option<pb::EncryptionAlgorithmSpec>,
}

#[derive(Args)]
pub struct ReEncryptArgs {
    /// The ciphertext: fileb://PATH (raw bytes), - (raw bytes on stdin), or base64.
    #[arg(long)]
    ciphertext_blob: String,
    /// The encryption context it was encrypted with.
    #[arg(long)]
    source_encryption_context: Option<String>,
    /// Insist on this source key (optional: the blob names its key).
    #[arg(long)]
    source_key_id: Option<String>,
    /// The key to encrypt under.
    #[arg(long)]
    destination_key_id: String,
    /// The encryption context of the new ciphertext.
    #[arg(long)]
    destination_encryption_context: Option<String>,
    /// The algorithm the ciphertext was encrypted with [default: SYMMETRIC_DEFAULT].
    #[arg(long, value_parser = enums::parser::<pb::EncryptionAlgorithmSpec>())]
    source_encryption_algorithm: Option<pb::EncryptionAlgorithmSpec>,
    /// The algorithm to encrypt with [default: SYMMETRIC_DEFAULT].
    #[arg(long, value_parser = enums::parser::<pb::EncryptionAlgorithmSpec>())]
    destination_encryption_algorithm: Option<pb::EncryptionAlgorithmSpec>,
}

#[derive(Args)]
pub struct DataKeyArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// Encryption context: KEY=VALUE,KEY=VALUE or a JSON object.
    #[arg(long)]
    encryption_context: Option<String>,
    /// The data key's length in bytes (or give --key-spec).
    #[arg(long)]
    number_of_bytes: Option<i32>,
    /// The data key's type (or give --number-of-bytes).
    #[arg(long, value_parser = enums::parser::<pb::DataKeySpec>())]
    key_spec: Option<pb::DataKeySpec>,
}

#[derive(Args)]
pub struct GenerateRandomArgs {
    /// How many bytes, 1 to 1024.
    #[arg(long)]
    number_of_bytes: Option<i32>,
}

const MESSAGE_HELP: &str = "The message, or its digest with --message-type DIGEST: fileb://PATH \
     (raw bytes), - (raw bytes on stdin), file://PATH or a literal. A literal or file:// value is \
     taken as its UTF-8 bytes; with --cli-binary-format base64 it is decoded from base64 first.";

const MAC_MESSAGE_HELP: &str = "The message: fileb://PATH (raw bytes), - (raw bytes on stdin), \
     file://PATH or a literal. A literal or file:// value is taken as its UTF-8 bytes; with \
     --cli-binary-format base64 it is decoded from base64 first.";

#[derive(Args)]
pub struct SignArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    #[arg(long, help = MESSAGE_HELP)]
    message: String,
    /// Whether --message is the message (RAW) or its digest (DIGEST) [default: RAW].
    #[arg(long, value_parser = enums::parser::<pb::MessageType>())]
    message_type: Option<pb::MessageType>,
    /// The signing algorithm; it must be one of the key's SigningAlgorithms.
    #[arg(long, value_parser = enums::parser::<pb::SigningAlgorithmSpec>())]
    signing_algorithm: pb::SigningAlgorithmSpec,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    #[arg(long, help = MESSAGE_HELP)]
    message: String,
    /// Whether --message is the message (RAW) or its digest (DIGEST) [default: RAW].
    #[arg(long, value_parser = enums::parser::<pb::MessageType>())]
    message_type: Option<pb::MessageType>,
    /// The signature: fileb://PATH (raw bytes), - (raw bytes on stdin), or base64, as
    /// `sign --query Signature --output text` prints it.
    #[arg(long)]
    signature: String,
    /// The signing algorithm the signature was made with.
    #[arg(long, value_parser = enums::parser::<pb::SigningAlgorithmSpec>())]
    signing_algorithm: pb::SigningAlgorithmSpec,
}

#[derive(Args)]
pub struct GetPublicKeyArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// With --output pem: write the PEM to this file instead of stdout.
    #[arg(long, value_name = "PATH")]
    outfile: Option<PathBuf>,
}

#[derive(Args)]
pub struct GenerateMacArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    #[arg(long, help = MAC_MESSAGE_HELP)]
    message: String,
    /// The MAC algorithm; it must be the key's.
    #[arg(long, value_parser = enums::parser::<pb::MacAlgorithmSpec>())]
    mac_algorithm: pb::MacAlgorithmSpec,
}

#[derive(Args)]
pub struct VerifyMacArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    #[arg(long, help = MAC_MESSAGE_HELP)]
    message: String,
    /// The MAC algorithm the MAC was computed with.
    #[arg(long, value_parser = enums::parser::<pb::MacAlgorithmSpec>())]
    mac_algorithm: pb::MacAlgorithmSpec,
    /// The MAC: fileb://PATH (raw bytes), - (raw bytes on stdin), or base64, as
    /// `generate-mac --query Mac --output text` prints it.
    #[arg(long)]
    mac: String,
}

#[derive(Args)]
pub struct DataKeyPairArgs {
    /// The symmetric encryption key that encrypts the private key: its id, key ARN, alias name
    /// (alias/NAME) or alias ARN.
    #[arg(long)]
    key_id: String,
    /// Encryption context: KEY=VALUE,KEY=VALUE or a JSON object.
    #[arg(long)]
    encryption_context: Option<String>,
    /// The type of key pair.
    #[arg(long, value_parser = enums::parser::<pb::DataKeyPairSpec>())]
    key_pair_spec: pb::DataKeyPairSpec,
}

#[derive(Args)]
pub struct DeriveSharedSecretArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// The key agreement algorithm.
    #[arg(long, value_parser = enums::parser::<pb::KeyAgreementAlgorithmSpec>())]
    key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec,
    /// The peer's public key, a DER SubjectPublicKeyInfo on the key's curve: fileb://PATH (DER),
    /// - (DER on stdin), or base64; or PEM (-----BEGIN PUBLIC KEY-----) from a file or literal.
    #[arg(long)]
    public_key: String,
}

#[derive(Args)]
pub struct GetParametersForImportArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// How the key material will be wrapped with the public key.
    #[arg(long, value_parser = enums::parser::<pb::AlgorithmSpec>())]
    wrapping_algorithm: pb::AlgorithmSpec,
    /// The type of the wrapping public key.
    #[arg(long, value_parser = enums::parser::<pb::WrappingKeySpec>())]
    wrapping_key_spec: pb::WrappingKeySpec,
}

#[derive(Args)]
pub struct ImportKeyMaterialArgs {
    #[arg(long, help = KEY_ID_HELP)]
    key_id: String,
    /// The ImportToken of get-parameters-for-import: fileb://PATH (raw bytes), - (raw bytes on
    /// stdin), or base64.
    #[arg(long)]
    import_token: String,
    /// The key material wrapped with the public key of get-parameters-for-import: fileb://PATH
    /// (raw bytes), - (raw bytes on stdin), or base64.
    #[arg(long)]
    encrypted_key_material: String,
    /// When the key material expires: RFC 3339 (2027-01-01T00:00:00Z) or Unix seconds. Needs
    /// KEY_MATERIAL_EXPIRES.
    #[arg(long, value_parser = input::timestamp, value_name = "TIME")]
    valid_to: Option<prost_types::Timestamp>,
    /// Whether the key material expires [default: KEY_MATERIAL_EXPIRES with --valid-to, else
    /// KEY_MATERIAL_DOES_NOT_EXPIRE].
    #[arg(long, value_parser = enums::parser::<pb::ExpirationModelType>())]
    expiration_model: Option<pb::ExpirationModelType>,
    /// Re-import the key's material, or import new material for an on-demand rotation [default:
    /// EXISTING_KEY_MATERIAL].
    #[arg(long, value_parser = enums::parser::<pb::ImportType>())]
    import_type: Option<pb::ImportType>,
}

/// A KMS command ready to run.
pub enum KmsJob {
    Call(KmsRequest),
    /// GetPublicKey, printed as PEM: to this file, else stdout.
    PublicKeyPem(pb::GetPublicKeyRequest, Option<PathBuf>),
}

impl KmsJob {
    /// Sends the request and prints the answer.
    pub async fn run(self, context: &Context) -> Result<(), CliError> {
        match self {
            Self::Call(request) => context
                .out
                .value(&request.send(&context.client).await?)
                .map(drop),
            Self::PublicKeyPem(request, outfile) => {
                let response = context.client.get_public_key(request);
                let response = calls::answer("GetPublicKey", response).await?;
                if response.public_key.is_empty() {
                    return Err(CliError::Other(
                        "GetPublicKey answered without a public key".into(),
                    ));
                }
                let pem = output::pem("PUBLIC KEY", &response.public_key);
                match outfile {
                    Some(path) => std::fs::write(&path, pem).map_err(|e| {
                        CliError::Other(format!("cannot write {}: {e}", path.display()))
                    }),
                    None => context.out.write(&pem).map(drop),
                }
            }
        }
    }
}

/// An optional enum flag as its wire value; absent is UNSPECIFIED, "the AWS default".
fn wire<E: Into<i32>>(value: Option<E>) -> i32 {
    value.map_or(0, Into::into)
}

/// Stdin holds one value: `--message -` and `{flag} -` cannot both read it.
fn not_both_stdin(flag: &str, message: &str, value: &str) -> Result<(), String> {
    if message == "-" && value == "-" {
        return Err(format!(
            "--message and {flag} cannot both be - (stdin): give one of them as a file"
        ));
    }
    Ok(())
}

fn context(flag: &str, value: Option<String>) -> Result<HashMap<String, String>, String> {
    input::encryption_context(flag, value.as_deref())
}

impl KmsCommand {
    /// Whether the command takes `--output pem`: only get-public-key does.
    pub fn takes_pem(&self) -> bool {
        matches!(self, Self::GetPublicKey(_))
    }

    /// What this command will do; `pem` when `--output pem` was given. Reads the files and stdin
    /// its flags name; sends nothing.
    pub fn job(self, binary_format: BinaryFormat, pem: bool) -> Result<KmsJob, String> {
        match self {
            Self::GetPublicKey(a) if pem => Ok(KmsJob::PublicKeyPem(
                pb::GetPublicKeyRequest { key_id: a.key_id },
                a.outfile,
            )),
            Self::GetPublicKey(GetPublicKeyArgs {
                outfile: Some(_), ..
            }) => Err("--outfile writes the public key as PEM: give --output pem as well".into()),
            command => command.request(binary_format).map(KmsJob::Call),
        }
    }

    /// The request this command sends. Reads the files and stdin its flags name; sends nothing.
    /// `binary_format` says how a literal or file:// plaintext is read.
    pub fn request(self, binary_format: BinaryFormat) -> Result<KmsRequest, String> {
        use KmsCommand as C;
        use KmsRequest as R;
        Ok(match self {
            C::CreateKey(a) => R::CreateKey(pb::CreateKeyRequest {
                description: a.description.unwrap_or_default(),
                key_usage: wire(a.key_usage),
                key_spec: wire(a.key_spec),
                origin: wire(a.origin),
                tags: input::tags("--tags", &a.tags)?,
                multi_region: a.multi_region,
            }),
            C::DescribeKey(a) => R::DescribeKey(pb::DescribeKeyRequest { key_id: a.key_id }),
            C::ListKeys(page) => {
                let (limit, marker, paging) = page.split();
                R::ListKeys(pb::ListKeysRequest { limit, marker }, paging)
            }
            C::UpdateKeyDescription(a) => {
                R::UpdateKeyDescription(pb::UpdateKeyDescriptionRequest {
                    key_id: a.key_id,
                    description: a.description,
                })
            }
            C::EnableKey(a) => R::EnableKey(pb::EnableKeyRequest { key_id: a.key_id }),
            C::DisableKey(a) => R::DisableKey(pb::DisableKeyRequest { key_id: a.key_id }),
            C::ScheduleKeyDeletion(a) => R::ScheduleKeyDeletion(pb::ScheduleKeyDeletionRequest {
                key_id: a.key_id,
                pending_window_in_days: a.pending_window_in_days,
            }),
            C::CancelKeyDeletion(a) => {
                R::CancelKeyDeletion(pb::CancelKeyDeletionRequest { key_id: a.key_id })
            }
            C::EnableKeyRotation(a) => R::EnableKeyRotation(pb::EnableKeyRotationRequest {
                key_id: a.key_id,
                rotation_period_in_days: a.rotation_period_in_days,
            }),
            C::DisableKeyRotation(a) => {
                R::DisableKeyRotation(pb::DisableKeyRotationRequest { key_id: a.key_id })
            }
            C::GetKeyRotationStatus(a) => {
                R::GetKeyRotationStatus(pb::GetKeyRotationStatusRequest { key_id: a.key_id })
            }
            C::RotateKeyOnDemand(a) => {
                R::RotateKeyOnDemand(pb::RotateKeyOnDemandRequest { key_id: a.key_id })
            }
            C::ListKeyRotations(a) => {
                let (limit, marker, paging) = a.page.split();
                let request = pb::ListKeyRotationsRequest {
                    key_id: a.key_id,
                    limit,
                    marker,
                };
                R::ListKeyRotations(request, paging)
            }
            C::CreateAlias(a) => R::CreateAlias(pb::CreateAliasRequest {
                alias_name: a.alias_name,
                target_key_id: a.target_key_id,
            }),
            C::UpdateAlias(a) => R::UpdateAlias(pb::UpdateAliasRequest {
                alias_name: a.alias_name,
                target_key_id: a.target_key_id,
            }),
            C::DeleteAlias(a) => R::DeleteAlias(pb::DeleteAliasRequest {
                alias_name: a.alias_name,
            }),
            C::ListAliases(a) => {
                let (limit, marker, paging) = a.page.split();
                let request = pb::ListAliasesRequest {
                    key_id: a.key_id.unwrap_or_default(),
                    limit,
                    marker,
                };
                R::ListAliases(request, paging)
            }
            C::TagResource(a) => R::TagResource(pb::TagResourceRequest {
                key_id: a.key_id,
                tags: input::tags("--tags", &a.tags)?,
            }),
            C::UntagResource(a) => R::UntagResource(pb::UntagResourceRequest {
                key_id: a.key_id,
                tag_keys: input::tag_keys("--tag-keys", &a.tag_keys)?,
            }),
            C::ListResourceTags(a) => {
                let (limit, marker, paging) = a.page.split();
                let request = pb::ListResourceTagsRequest {
                    key_id: a.key_id,
                    limit,
                    marker,
                };
                R::ListResourceTags(request, paging)
            }
            C::Encrypt(a) => R::Encrypt(pb::EncryptRequest {
                key_id: a.key_id,
                plaintext: input::plaintext("--plaintext", a.plaintext.as_deref(), binary_format)?,
                encryption_context: context("--encryption-context", a.encryption_context)?,
                encryption_algorithm: wire(a.encryption_algorithm),
            }),
            C::Decrypt(a) => R::Decrypt(pb::DecryptRequest {
                ciphertext_blob: input::blob("--ciphertext-blob", &a.ciphertext_blob)?,
                encryption_context: context("--encryption-context", a.encryption_context)?,
                key_id: a.key_id.unwrap_or_default(),
                encryption_algorithm: wire(a.encryption_algorithm),
            }),
            C::ReEncrypt(a) => R::ReEncrypt(pb::ReEncryptRequest {
                ciphertext_blob: input::blob("--ciphertext-blob", &a.ciphertext_blob)?,
                source_encryption_context: context(
                    "--source-encryption-context",
                    a.source_encryption_context,
                )?,
                source_key_id: a.source_key_id.unwrap_or_default(),
                destination_key_id: a.destination_key_id,
                destination_encryption_context: context(
                    "--destination-encryption-context",
                    a.destination_encryption_context,
                )?,
                source_encryption_algorithm: wire(a.source_encryption_algorithm),
                destination_encryption_algorithm: wire(a.destination_encryption_algorithm),
            }),
            C::GenerateDataKey(a) => R::GenerateDataKey(pb::GenerateDataKeyRequest {
                key_id: a.key_id,
                encryption_context: context("--encryption-context", a.encryption_context)?,
                number_of_bytes: a.number_of_bytes,
                key_spec: wire(a.key_spec),
            }),
            C::GenerateDataKeyWithoutPlaintext(a) => {
                R::GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                    key_id: a.key_id,
                    encryption_context: context("--encryption-context", a.encryption_context)?,
                    number_of_bytes: a.number_of_bytes,
                    key_spec: wire(a.key_spec),
                })
            }
            C::GenerateRandom(a) => R::GenerateRandom(pb::GenerateRandomRequest {
                number_of_bytes: a.number_of_bytes,
            }),
            C::Sign(a) => R::Sign(pb::SignRequest {
                key_id: a.key_id,
                message: input::plaintext("--message", Some(&a.message), binary_format)?,
                message_type: wire(a.message_type),
                signing_algorithm: a.signing_algorithm.into(),
            }),
            C::Verify(a) => {
                not_both_stdin("--signature", &a.message, &a.signature)?;
                R::Verify(pb::VerifyRequest {
                    key_id: a.key_id,
                    message: input::plaintext("--message", Some(&a.message), binary_format)?,
                    message_type: wire(a.message_type),
                    signature: input::blob("--signature", &a.signature)?,
                    signing_algorithm: a.signing_algorithm.into(),
                })
            }
            C::GetPublicKey(a) => R::GetPublicKey(pb::GetPublicKeyRequest { key_id: a.key_id }),
            C::GenerateMac(a) => R::GenerateMac(pb::GenerateMacRequest {
                message: input::plaintext("--message", Some(&a.message), binary_format)?,
                key_id: a.key_id,
                mac_algorithm: a.mac_algorithm.into(),
            }),
            C::VerifyMac(a) => {
                not_both_stdin("--mac", &a.message, &a.mac)?;
                R::VerifyMac(pb::VerifyMacRequest {
                    message: input::plaintext("--message", Some(&a.message), binary_format)?,
                    key_id: a.key_id,
                    mac_algorithm: a.mac_algorithm.into(),
                    mac: input::blob("--mac", &a.mac)?,
                })
            }
            C::GenerateDataKeyPair(a) => R::GenerateDataKeyPair(pb::GenerateDataKeyPairRequest {
                encryption_context: context("--encryption-context", a.encryption_context)?,
                key_id: a.key_id,
                key_pair_spec: a.key_pair_spec.into(),
            }),
            C::GenerateDataKeyPairWithoutPlaintext(a) => R::GenerateDataKeyPairWithoutPlaintext(
                pb::GenerateDataKeyPairWithoutPlaintextRequest {
                    encryption_context: context("--encryption-context", a.encryption_context)?,
                    key_id: a.key_id,
                    key_pair_spec: a.key_pair_spec.into(),
                },
            ),
            C::DeriveSharedSecret(a) => R::DeriveSharedSecret(pb::DeriveSharedSecretRequest {
                key_id: a.key_id,
                key_agreement_algorithm: a.key_agreement_algorithm.into(),
                public_key: input::public_key("--public-key", &a.public_key)?,
            }),
            C::GetParametersForImport(a) => {
                R::GetParametersForImport(pb::GetParametersForImportRequest {
                    key_id: a.key_id,
                    wrapping_algorithm: a.wrapping_algorithm.into(),
                    wrapping_key_spec: a.wrapping_key_spec.into(),
                })
            }
            C::ImportKeyMaterial(a) => R::ImportKeyMaterial(pb::ImportKeyMaterialRequest {
                key_id: a.key_id,
                import_token: input::blob("--import-token", &a.import_token)?,
                encrypted_key_material: input::blob(
                    "--encrypted-key-material",
                    &a.encrypted_key_material,
                )?,
                valid_to: a.valid_to,
                expiration_model: wire(a.expiration_model),
                import_type: wire(a.import_type),
            }),
            C::DeleteImportedKeyMaterial(a) => {
                R::DeleteImportedKeyMaterial(pb::DeleteImportedKeyMaterialRequest {
                    key_id: a.key_id,
                })
            }
        })
    }
}
