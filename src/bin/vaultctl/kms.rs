//! `vaultctl kms <action>`: one subcommand per `vault.v1.KeyManagement` RPC, named and flagged as
//! the AWS CLI names them (`encrypt --key-id K --plaintext fileb://F`).
//!
//! Each action is a thin argument struct; [`KmsCommand::request`] turns it into the request,
//! reading files and stdin through [`crate::input`], before anything is sent ([`crate::calls`]
//! sends it). This module does no network I/O.

use std::collections::HashMap;

use clap::{Args, Subcommand};
use vaultd::pb;

use crate::{
    calls::{KmsRequest, Paging},
    enums,
    input::{self, BinaryFormat},
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

/// An optional enum flag as its wire value; absent is UNSPECIFIED, "the AWS default".
fn wire<E: Into<i32>>(value: Option<E>) -> i32 {
    value.map_or(0, Into::into)
}

fn context(flag: &str, value: Option<String>) -> Result<HashMap<String, String>, String> {
    input::encryption_context(flag, value.as_deref())
}

impl KmsCommand {
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
                ciphertext_blob: input::ciphertext("--ciphertext-blob", &a.ciphertext_blob)?,
                encryption_context: context("--encryption-context", a.encryption_context)?,
                key_id: a.key_id.unwrap_or_default(),
                encryption_algorithm: wire(a.encryption_algorithm),
            }),
            C::ReEncrypt(a) => R::ReEncrypt(pb::ReEncryptRequest {
                ciphertext_blob: input::ciphertext("--ciphertext-blob", &a.ciphertext_blob)?,
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
        })
    }
}
