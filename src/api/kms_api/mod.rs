//! `vault.v1.KeyManagement`: each RPC decodes its request, authorizes the caller on the key it
//! names, calls the KMS domain and encodes the answer. No business rules live here.
//!
//! Calls that write to the store run on the blocking pool (a durable commit waits for fsync);
//! cryptographic calls run inline, on cached material. The RPCs of asymmetric and HMAC keys and
//! of imported key material live in `asymmetric.rs`; the trait impl forwards to them.

mod asymmetric;
mod fields;
mod support;

use tonic::{Request, Response};

pub use support::KmsApi;
use support::{RpcResult, decode};

use super::{
    call::caller,
    convert::{self, FromWire, key_metadata, optional, timestamp},
};
use crate::{
    kms::{CreateKeyInput, Page},
    model::{EncryptionAlgorithm, KeySpec, KeyUsage, Origin},
    pb::{self, key_management_server::KeyManagement},
};

#[tonic::async_trait]
impl KeyManagement for KmsApi {
    async fn create_key(
        &self,
        request: Request<pb::CreateKeyRequest>,
    ) -> RpcResult<pb::CreateKeyResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize(&who, "kms:CreateKey", &["*"])?;
        let input = CreateKeyInput {
            description: req.description,
            key_spec: decode(KeySpec::from_wire(req.key_spec, "keySpec"))?,
            key_usage: decode(KeyUsage::from_wire(req.key_usage, "keyUsage"))?,
            origin: decode(Origin::from_wire(req.origin, "origin"))?,
            tags: convert::tags_from_wire(req.tags),
            multi_region: req.multi_region,
        };
        let view = self.blocking(move |kms| kms.create_key(input)).await?;
        Ok(Response::new(pb::CreateKeyResponse {
            key_metadata: Some(key_metadata(&view, self.vault.arns.account())),
        }))
    }

    async fn describe_key(
        &self,
        request: Request<pb::DescribeKeyRequest>,
    ) -> RpcResult<pb::DescribeKeyResponse> {
        let who = caller(&request)?;
        let key = self
            .key(&who, "kms:DescribeKey", &request.get_ref().key_id)
            .await?;
        let view = self
            .on_keys(&[key.id], move |kms| kms.describe_key(key.id))
            .await?;
        Ok(Response::new(pb::DescribeKeyResponse {
            key_metadata: Some(key_metadata(&view, self.vault.arns.account())),
        }))
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> RpcResult<pb::ListKeysResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        self.authorize(&who, "kms:ListKeys", &["*"])?;
        let page = Page::new(req.limit, &req.marker);
        let listed = self.blocking(move |kms| kms.list_keys(&page)).await?;
        Ok(Response::new(pb::ListKeysResponse {
            truncated: listed.truncated(),
            next_marker: listed.next_marker.unwrap_or_default(),
            keys: listed
                .items
                .into_iter()
                .map(|k| pb::KeyListEntry {
                    key_id: k.record.id.to_string(),
                    key_arn: k.arn,
                })
                .collect(),
        }))
    }

    async fn update_key_description(
        &self,
        request: Request<pb::UpdateKeyDescriptionRequest>,
    ) -> RpcResult<pb::UpdateKeyDescriptionResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = self
            .key(&who, "kms:UpdateKeyDescription", &req.key_id)
            .await?;
        self.blocking(move |kms| kms.update_key_description(key.id, req.description))
            .await?;
        Ok(Response::new(pb::UpdateKeyDescriptionResponse {}))
    }

    async fn enable_key(
        &self,
        request: Request<pb::EnableKeyRequest>,
    ) -> RpcResult<pb::EnableKeyResponse> {
        let who = caller(&request)?;
        let key = self
            .key(&who, "kms:EnableKey", &request.get_ref().key_id)
            .await?;
        self.blocking(move |kms| kms.enable_key(key.id)).await?;
        Ok(Response::new(pb::EnableKeyResponse {}))
    }

    async fn disable_key(
        &self,
        request: Request<pb::DisableKeyRequest>,
    ) -> RpcResult<pb::DisableKeyResponse> {
        let who = caller(&request)?;
        let key = self
            .key(&who, "kms:DisableKey", &request.get_ref().key_id)
            .await?;
        self.blocking(move |kms| kms.disable_key(key.id)).await?;
        Ok(Response::new(pb::DisableKeyResponse {}))
    }

    async fn schedule_key_deletion(
        &self,
        request: Request<pb::ScheduleKeyDeletionRequest>,
    ) -> RpcResult<pb::ScheduleKeyDeletionResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = self
            .key(&who, "kms:ScheduleKeyDeletion", &req.key_id)
            .await?;
        let view = self
            .blocking(move |kms| kms.schedule_key_deletion(key.id, req.pending_window_in_days))
            .await?;
        let mut response = pb::ScheduleKeyDeletionResponse {
            key_id: view.arn,
            deletion_date: view.record.deletion_date.map(timestamp),
            pending_window_in_days: view.record.pending_window_days.unwrap_or_default() as i32,
            ..Default::default()
        };
        response.set_key_state(view.record.state.into());
        Ok(Response::new(response))
    }

    async fn cancel_key_deletion(
        &self,
        request: Request<pb::CancelKeyDeletionRequest>,
    ) -> RpcResult<pb::CancelKeyDeletionResponse> {
        let who = caller(&request)?;
        let key = self
            .key(&who, "kms:CancelKeyDeletion", &request.get_ref().key_id)
            .await?;
        let view = self
            .blocking(move |kms| kms.cancel_key_deletion(key.id))
            .await?;
        Ok(Response::new(pb::CancelKeyDeletionResponse {
            key_id: view.arn,
        }))
    }

    async fn enable_key_rotation(
        &self,
        request: Request<pb::EnableKeyRotationRequest>,
    ) -> RpcResult<pb::EnableKeyRotationResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = self.key(&who, "kms:EnableKeyRotation", &req.key_id).await?;
        self.blocking(move |kms| kms.enable_key_rotation(key.id, req.rotation_period_in_days))
            .await?;
        Ok(Response::new(pb::EnableKeyRotationResponse {}))
    }

    async fn disable_key_rotation(
        &self,
        request: Request<pb::DisableKeyRotationRequest>,
    ) -> RpcResult<pb::DisableKeyRotationResponse> {
        let who = caller(&request)?;
        let key = self
            .key(&who, "kms:DisableKeyRotation", &request.get_ref().key_id)
            .await?;
        self.blocking(move |kms| kms.disable_key_rotation(key.id))
            .await?;
        Ok(Response::new(pb::DisableKeyRotationResponse {}))
    }

    async fn get_key_rotation_status(
        &self,
        request: Request<pb::GetKeyRotationStatusRequest>,
    ) -> RpcResult<pb::GetKeyRotationStatusResponse> {
        let who = caller(&request)?;
        let key = self
            .key(&who, "kms:GetKeyRotationStatus", &request.get_ref().key_id)
            .await?;
        let rotation = self
            .on_keys(&[key.id], move |kms| kms.get_key_rotation_status(key.id))
            .await?;
        Ok(Response::new(pb::GetKeyRotationStatusResponse {
            key_rotation_enabled: rotation.enabled,
            key_id: rotation.key_arn,
            rotation_period_in_days: rotation.period_days.map(|d| d as i32),
            next_rotation_date: rotation.next_rotation.map(timestamp),
            on_demand_rotation_start_date: None,
        }))
    }

    async fn rotate_key_on_demand(
        &self,
        request: Request<pb::RotateKeyOnDemandRequest>,
    ) -> RpcResult<pb::RotateKeyOnDemandResponse> {
        let who = caller(&request)?;
        let key = self
            .key(&who, "kms:RotateKeyOnDemand", &request.get_ref().key_id)
            .await?;
        let view = self
            .blocking(move |kms| kms.rotate_key_on_demand(key.id))
            .await?;
        Ok(Response::new(pb::RotateKeyOnDemandResponse {
            key_id: view.record.id.to_string(),
        }))
    }

    async fn list_key_rotations(
        &self,
        request: Request<pb::ListKeyRotationsRequest>,
    ) -> RpcResult<pb::ListKeyRotationsResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = self.key(&who, "kms:ListKeyRotations", &req.key_id).await?;
        let page = Page::new(req.limit, &req.marker);
        let listed = self
            .blocking(move |kms| kms.list_key_rotations(key.id, &page))
            .await?;
        Ok(Response::new(pb::ListKeyRotationsResponse {
            truncated: listed.truncated(),
            next_marker: listed.next_marker.unwrap_or_default(),
            rotations: listed
                .items
                .into_iter()
                .map(|r| {
                    let mut entry = pb::RotationsListEntry {
                        key_id: r.key_id.to_string(),
                        rotation_date: Some(timestamp(r.rotation_date)),
                        key_material_id: r.version.to_string(),
                        ..Default::default()
                    };
                    entry.set_rotation_type(r.rotation_type.into());
                    entry
                })
                .collect(),
        }))
    }

    async fn create_alias(
        &self,
        request: Request<pb::CreateAliasRequest>,
    ) -> RpcResult<pb::CreateAliasResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let target = self
            .alias_and_target(
                &who,
                "kms:CreateAlias",
                &req.alias_name,
                &req.target_key_id,
                false,
            )
            .await?;
        self.blocking(move |kms| kms.create_alias(&req.alias_name, target))
            .await?;
        Ok(Response::new(pb::CreateAliasResponse {}))
    }

    async fn update_alias(
        &self,
        request: Request<pb::UpdateAliasRequest>,
    ) -> RpcResult<pb::UpdateAliasResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let target = self
            .alias_and_target(
                &who,
                "kms:UpdateAlias",
                &req.alias_name,
                &req.target_key_id,
                true,
            )
            .await?;
        self.blocking(move |kms| kms.update_alias(&req.alias_name, target))
            .await?;
        Ok(Response::new(pb::UpdateAliasResponse {}))
    }

    async fn delete_alias(
        &self,
        request: Request<pb::DeleteAliasRequest>,
    ) -> RpcResult<pb::DeleteAliasResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        decode(crate::kms::validate_alias_name(&req.alias_name))?;
        // As AWS: the permission is needed on the alias and on the key it points to.
        let current = self.resolve(&req.alias_name).await?;
        let alias_arn = self.vault.arns.alias(&req.alias_name);
        self.authorize(&who, "kms:DeleteAlias", &[&alias_arn, &current.arn])?;
        self.blocking(move |kms| kms.delete_alias(&req.alias_name))
            .await?;
        Ok(Response::new(pb::DeleteAliasResponse {}))
    }

    async fn list_aliases(
        &self,
        request: Request<pb::ListAliasesRequest>,
    ) -> RpcResult<pb::ListAliasesResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = match optional(&req.key_id) {
            Some(key_id) => Some(self.key_reference(key_id, "KeyId").await?),
            None => None,
        };
        let resource = key.as_ref().map_or("*", |k| k.arn.as_str());
        self.authorize(&who, "kms:ListAliases", &[resource])?;
        let page = Page::new(req.limit, &req.marker);
        let key = key.map(|k| k.id);
        let listed = self
            .blocking(move |kms| kms.list_aliases(key, &page))
            .await?;
        Ok(Response::new(pb::ListAliasesResponse {
            truncated: listed.truncated(),
            next_marker: listed.next_marker.unwrap_or_default(),
            aliases: listed
                .items
                .into_iter()
                .map(|a| pb::AliasListEntry {
                    alias_name: a.name,
                    alias_arn: a.arn,
                    target_key_id: a.target_key_id.to_string(),
                    creation_date: Some(timestamp(a.created_at)),
                    last_updated_date: Some(timestamp(a.updated_at)),
                })
                .collect(),
        }))
    }

    async fn tag_resource(
        &self,
        request: Request<pb::TagResourceRequest>,
    ) -> RpcResult<pb::TagResourceResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = self.key(&who, "kms:TagResource", &req.key_id).await?;
        let tags = convert::tags_from_wire(req.tags);
        self.blocking(move |kms| kms.tag_resource(key.id, &tags))
            .await?;
        Ok(Response::new(pb::TagResourceResponse {}))
    }

    async fn untag_resource(
        &self,
        request: Request<pb::UntagResourceRequest>,
    ) -> RpcResult<pb::UntagResourceResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = self.key(&who, "kms:UntagResource", &req.key_id).await?;
        self.blocking(move |kms| kms.untag_resource(key.id, &req.tag_keys))
            .await?;
        Ok(Response::new(pb::UntagResourceResponse {}))
    }

    async fn list_resource_tags(
        &self,
        request: Request<pb::ListResourceTagsRequest>,
    ) -> RpcResult<pb::ListResourceTagsResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = self.key(&who, "kms:ListResourceTags", &req.key_id).await?;
        let page = Page::new(req.limit, &req.marker);
        let listed = self
            .blocking(move |kms| kms.list_resource_tags(key.id, &page))
            .await?;
        Ok(Response::new(pb::ListResourceTagsResponse {
            truncated: listed.truncated(),
            next_marker: listed.next_marker.unwrap_or_default(),
            tags: listed.items.into_iter().map(convert::tag_to_wire).collect(),
        }))
    }

    async fn encrypt(
        &self,
        request: Request<pb::EncryptRequest>,
    ) -> RpcResult<pb::EncryptResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let key = self
            .key_in_context(
                &who,
                "kms:Encrypt",
                &req.key_id,
                Some(&req.encryption_context),
            )
            .await?;
        let algorithm = decode(EncryptionAlgorithm::from_wire(
            req.encryption_algorithm,
            "encryptionAlgorithm",
        ))?;
        let context = convert::context(req.encryption_context);
        let plaintext = req.plaintext;
        let encrypted = self
            .on_keys(&[key.id], move |kms| {
                kms.encrypt(key.id, &plaintext, &context, algorithm)
            })
            .await?;
        let mut response = pb::EncryptResponse {
            ciphertext_blob: encrypted.ciphertext_blob,
            key_id: encrypted.key_arn,
            ..Default::default()
        };
        response.set_encryption_algorithm(encrypted.algorithm.into());
        Ok(Response::new(response))
    }

    async fn decrypt(
        &self,
        request: Request<pb::DecryptRequest>,
    ) -> RpcResult<pb::DecryptResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let algorithm = decode(EncryptionAlgorithm::from_wire(
            req.encryption_algorithm,
            "encryptionAlgorithm",
        ))?;
        let id = self
            .ciphertext_key(
                &who,
                "kms:Decrypt",
                &req.ciphertext_blob,
                &req.key_id,
                &req.encryption_context,
            )
            .await?;
        let context = convert::context(req.encryption_context);
        let blob = req.ciphertext_blob;
        let decrypted = self
            .on_private_keys(&[id], move |kms| {
                kms.decrypt(id, &blob, &context, algorithm)
            })
            .await?;
        // prost messages own plain `Vec`s: this copy of the plaintext is not zeroized (the domain's
        // is), and lives only until the response is encoded.
        let mut response = pb::DecryptResponse {
            key_id: decrypted.key_arn.clone(),
            plaintext: decrypted.plaintext.to_vec(),
            key_material_id: decrypted.material_version.to_string(),
            ..Default::default()
        };
        response.set_encryption_algorithm(decrypted.algorithm.into());
        Ok(Response::new(response))
    }

    async fn re_encrypt(
        &self,
        request: Request<pb::ReEncryptRequest>,
    ) -> RpcResult<pb::ReEncryptResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let source_algorithm = decode(EncryptionAlgorithm::from_wire(
            req.source_encryption_algorithm,
            "sourceEncryptionAlgorithm",
        ))?;
        let destination_algorithm = decode(EncryptionAlgorithm::from_wire(
            req.destination_encryption_algorithm,
            "destinationEncryptionAlgorithm",
        ))?;
        let source = self
            .ciphertext_key(
                &who,
                "kms:ReEncryptFrom",
                &req.ciphertext_blob,
                &req.source_key_id,
                &req.source_encryption_context,
            )
            .await?;
        let destination = self
            .key_in_context(
                &who,
                "kms:ReEncryptTo",
                &req.destination_key_id,
                Some(&req.destination_encryption_context),
            )
            .await?
            .id;
        let source_context = convert::context(req.source_encryption_context);
        let destination_context = convert::context(req.destination_encryption_context);
        let blob = req.ciphertext_blob;
        let re = self
            .on_private_keys(&[source, destination], move |kms| {
                kms.re_encrypt(
                    source,
                    &blob,
                    &source_context,
                    source_algorithm,
                    destination,
                    &destination_context,
                    destination_algorithm,
                )
            })
            .await?;
        let mut response = pb::ReEncryptResponse {
            ciphertext_blob: re.ciphertext_blob,
            source_key_id: re.source_key_arn,
            key_id: re.key_arn,
            source_key_material_id: re.source_material_version.to_string(),
            destination_key_material_id: re.material_version.to_string(),
            ..Default::default()
        };
        response.set_source_encryption_algorithm(re.source_algorithm.into());
        response.set_destination_encryption_algorithm(re.destination_algorithm.into());
        Ok(Response::new(response))
    }

    async fn generate_data_key(
        &self,
        request: Request<pb::GenerateDataKeyRequest>,
    ) -> RpcResult<pb::GenerateDataKeyResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let data_key = self
            .data_key(
                &who,
                "kms:GenerateDataKey",
                &req.key_id,
                req.encryption_context,
                req.key_spec,
                req.number_of_bytes,
            )
            .await?;
        Ok(Response::new(pb::GenerateDataKeyResponse {
            plaintext: data_key.plaintext.to_vec(),
            ciphertext_blob: data_key.ciphertext_blob,
            key_id: data_key.key_arn,
            key_material_id: data_key.material_version.to_string(),
        }))
    }

    async fn generate_data_key_without_plaintext(
        &self,
        request: Request<pb::GenerateDataKeyWithoutPlaintextRequest>,
    ) -> RpcResult<pb::GenerateDataKeyWithoutPlaintextResponse> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let data_key = self
            .data_key(
                &who,
                "kms:GenerateDataKeyWithoutPlaintext",
                &req.key_id,
                req.encryption_context,
                req.key_spec,
                req.number_of_bytes,
            )
            .await?;
        Ok(Response::new(pb::GenerateDataKeyWithoutPlaintextResponse {
            ciphertext_blob: data_key.ciphertext_blob,
            key_id: data_key.key_arn,
            key_material_id: data_key.material_version.to_string(),
        }))
    }

    async fn generate_random(
        &self,
        request: Request<pb::GenerateRandomRequest>,
    ) -> RpcResult<pb::GenerateRandomResponse> {
        let who = caller(&request)?;
        self.authorize(&who, "kms:GenerateRandom", &["*"])?;
        let bytes = decode(
            self.kms()
                .generate_random(request.get_ref().number_of_bytes),
        )?;
        Ok(Response::new(pb::GenerateRandomResponse {
            plaintext: bytes.to_vec(),
        }))
    }

    async fn sign(&self, request: Request<pb::SignRequest>) -> RpcResult<pb::SignResponse> {
        asymmetric::sign(self, request).await
    }

    async fn verify(&self, request: Request<pb::VerifyRequest>) -> RpcResult<pb::VerifyResponse> {
        asymmetric::verify(self, request).await
    }

    async fn get_public_key(
        &self,
        request: Request<pb::GetPublicKeyRequest>,
    ) -> RpcResult<pb::GetPublicKeyResponse> {
        asymmetric::get_public_key(self, request).await
    }

    async fn generate_mac(
        &self,
        request: Request<pb::GenerateMacRequest>,
    ) -> RpcResult<pb::GenerateMacResponse> {
        asymmetric::generate_mac(self, request).await
    }

    async fn verify_mac(
        &self,
        request: Request<pb::VerifyMacRequest>,
    ) -> RpcResult<pb::VerifyMacResponse> {
        asymmetric::verify_mac(self, request).await
    }

    async fn generate_data_key_pair(
        &self,
        request: Request<pb::GenerateDataKeyPairRequest>,
    ) -> RpcResult<pb::GenerateDataKeyPairResponse> {
        asymmetric::generate_data_key_pair(self, request).await
    }

    async fn generate_data_key_pair_without_plaintext(
        &self,
        request: Request<pb::GenerateDataKeyPairWithoutPlaintextRequest>,
    ) -> RpcResult<pb::GenerateDataKeyPairWithoutPlaintextResponse> {
        asymmetric::generate_data_key_pair_without_plaintext(self, request).await
    }

    async fn derive_shared_secret(
        &self,
        request: Request<pb::DeriveSharedSecretRequest>,
    ) -> RpcResult<pb::DeriveSharedSecretResponse> {
        asymmetric::derive_shared_secret(self, request).await
    }

    async fn encrypt_fields(
        &self,
        request: Request<pb::EncryptFieldsRequest>,
    ) -> RpcResult<pb::EncryptFieldsResponse> {
        fields::encrypt_fields(self, request).await
    }

    async fn decrypt_fields(
        &self,
        request: Request<pb::DecryptFieldsRequest>,
    ) -> RpcResult<pb::DecryptFieldsResponse> {
        fields::decrypt_fields(self, request).await
    }

    async fn get_parameters_for_import(
        &self,
        request: Request<pb::GetParametersForImportRequest>,
    ) -> RpcResult<pb::GetParametersForImportResponse> {
        asymmetric::get_parameters_for_import(self, request).await
    }

    async fn import_key_material(
        &self,
        request: Request<pb::ImportKeyMaterialRequest>,
    ) -> RpcResult<pb::ImportKeyMaterialResponse> {
        asymmetric::import_key_material(self, request).await
    }

    async fn delete_imported_key_material(
        &self,
        request: Request<pb::DeleteImportedKeyMaterialRequest>,
    ) -> RpcResult<pb::DeleteImportedKeyMaterialResponse> {
        asymmetric::delete_imported_key_material(self, request).await
    }
}
