//! The KeyManagement RPCs of asymmetric and HMAC keys (Sign, Verify, GetPublicKey, GenerateMac,
//! VerifyMac, DeriveSharedSecret, GenerateDataKeyPair with and without plaintext) and of imported
//! key material (GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial). The
//! service's trait impl in `mod.rs` forwards to them.
//!
//! RSA private-key operations and key generation run on the blocking pool; the rest runs as the
//! other cryptographic calls do.

use tonic::{Request, Response};

use super::support::{KmsApi, RpcResult, decode};
use crate::{
    api::{
        call::caller,
        convert::{self, FromWire, timestamp},
    },
    model::{
        ExpirationModel, ImportType, KeyAgreementAlgorithm, MacAlgorithm, MessageType,
        SigningAlgorithm, WrappingAlgorithm, WrappingKeySpec,
    },
    pb,
};

pub(super) async fn sign(
    api: &KmsApi,
    request: Request<pb::SignRequest>,
) -> RpcResult<pb::SignResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let key = api.key(&who, "kms:Sign", &req.key_id).await?;
    let (message_type, algorithm) = signing_options(req.message_type, req.signing_algorithm)?;
    let message = req.message;
    let signed = api
        .on_private_keys(&[key.id], move |kms| {
            kms.sign(key.id, &message, message_type, algorithm)
        })
        .await?;
    let mut response = pb::SignResponse {
        key_id: signed.key_arn,
        signature: signed.signature,
        ..Default::default()
    };
    response.set_signing_algorithm(signed.algorithm.into());
    Ok(Response::new(response))
}

pub(super) async fn verify(
    api: &KmsApi,
    request: Request<pb::VerifyRequest>,
) -> RpcResult<pb::VerifyResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let key = api.key(&who, "kms:Verify", &req.key_id).await?;
    let (message_type, algorithm) = signing_options(req.message_type, req.signing_algorithm)?;
    let (message, signature) = (req.message, req.signature);
    let verified = api
        .on_keys(&[key.id], move |kms| {
            kms.verify(key.id, &message, message_type, &signature, algorithm)
        })
        .await?;
    let mut response = pb::VerifyResponse {
        key_id: verified.key_arn,
        signature_valid: true,
        ..Default::default()
    };
    response.set_signing_algorithm(verified.algorithm.into());
    Ok(Response::new(response))
}

pub(super) async fn get_public_key(
    api: &KmsApi,
    request: Request<pb::GetPublicKeyRequest>,
) -> RpcResult<pb::GetPublicKeyResponse> {
    let who = caller(&request)?;
    let key = api
        .key(&who, "kms:GetPublicKey", &request.get_ref().key_id)
        .await?;
    let view = api
        .on_keys(&[key.id], move |kms| kms.get_public_key(key.id))
        .await?;
    let mut response = pb::GetPublicKeyResponse {
        key_id: view.key_arn,
        public_key: view.public_key,
        ..Default::default()
    };
    response.set_key_spec(view.key_spec.into());
    response.set_key_usage(view.key_usage.into());
    for algorithm in view.algorithms.encryption {
        response.push_encryption_algorithms(algorithm.into());
    }
    for algorithm in view.algorithms.signing {
        response.push_signing_algorithms(algorithm.into());
    }
    for algorithm in view.algorithms.key_agreement {
        response.push_key_agreement_algorithms(algorithm.into());
    }
    Ok(Response::new(response))
}

pub(super) async fn generate_mac(
    api: &KmsApi,
    request: Request<pb::GenerateMacRequest>,
) -> RpcResult<pb::GenerateMacResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let key = api.key(&who, "kms:GenerateMac", &req.key_id).await?;
    let algorithm = decode(MacAlgorithm::from_wire(req.mac_algorithm, "macAlgorithm"))?;
    let message = req.message;
    let mac = api
        .on_keys(&[key.id], move |kms| {
            kms.generate_mac(key.id, &message, algorithm)
        })
        .await?;
    let mut response = pb::GenerateMacResponse {
        mac: mac.mac,
        key_id: mac.key_arn,
        ..Default::default()
    };
    response.set_mac_algorithm(mac.algorithm.into());
    Ok(Response::new(response))
}

pub(super) async fn verify_mac(
    api: &KmsApi,
    request: Request<pb::VerifyMacRequest>,
) -> RpcResult<pb::VerifyMacResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let key = api.key(&who, "kms:VerifyMac", &req.key_id).await?;
    let algorithm = decode(MacAlgorithm::from_wire(req.mac_algorithm, "macAlgorithm"))?;
    let (message, mac) = (req.message, req.mac);
    let verified = api
        .on_keys(&[key.id], move |kms| {
            kms.verify_mac(key.id, &message, &mac, algorithm)
        })
        .await?;
    let mut response = pb::VerifyMacResponse {
        key_id: verified.key_arn,
        mac_valid: true,
        ..Default::default()
    };
    response.set_mac_algorithm(verified.algorithm.into());
    Ok(Response::new(response))
}

pub(super) async fn generate_data_key_pair(
    api: &KmsApi,
    request: Request<pb::GenerateDataKeyPairRequest>,
) -> RpcResult<pb::GenerateDataKeyPairResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let pair = api
        .data_key_pair(
            &who,
            "kms:GenerateDataKeyPair",
            &req.key_id,
            req.encryption_context,
            req.key_pair_spec,
        )
        .await?;
    let mut response = pb::GenerateDataKeyPairResponse {
        private_key_ciphertext_blob: pair.private_key_ciphertext_blob,
        private_key_plaintext: pair.private_key_plaintext.to_vec(),
        public_key: pair.public_key,
        key_id: pair.key_arn,
        key_material_id: pair.material_version.to_string(),
        ..Default::default()
    };
    response.set_key_pair_spec(pair.spec.into());
    Ok(Response::new(response))
}

pub(super) async fn generate_data_key_pair_without_plaintext(
    api: &KmsApi,
    request: Request<pb::GenerateDataKeyPairWithoutPlaintextRequest>,
) -> RpcResult<pb::GenerateDataKeyPairWithoutPlaintextResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let pair = api
        .data_key_pair(
            &who,
            "kms:GenerateDataKeyPairWithoutPlaintext",
            &req.key_id,
            req.encryption_context,
            req.key_pair_spec,
        )
        .await?;
    let mut response = pb::GenerateDataKeyPairWithoutPlaintextResponse {
        private_key_ciphertext_blob: pair.private_key_ciphertext_blob,
        public_key: pair.public_key,
        key_id: pair.key_arn,
        key_material_id: pair.material_version.to_string(),
        ..Default::default()
    };
    response.set_key_pair_spec(pair.spec.into());
    Ok(Response::new(response))
}

pub(super) async fn derive_shared_secret(
    api: &KmsApi,
    request: Request<pb::DeriveSharedSecretRequest>,
) -> RpcResult<pb::DeriveSharedSecretResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let key = api.key(&who, "kms:DeriveSharedSecret", &req.key_id).await?;
    let algorithm = decode(KeyAgreementAlgorithm::from_wire(
        req.key_agreement_algorithm,
        "keyAgreementAlgorithm",
    ))?;
    let peer = req.public_key;
    let shared = api
        .on_keys(&[key.id], move |kms| {
            kms.derive_shared_secret(key.id, algorithm, &peer)
        })
        .await?;
    let mut response = pb::DeriveSharedSecretResponse {
        key_id: shared.key_arn,
        shared_secret: shared.secret.to_vec(),
        ..Default::default()
    };
    response.set_key_agreement_algorithm(pb::KeyAgreementAlgorithmSpec::Ecdh);
    response.set_key_origin(shared.origin.into());
    Ok(Response::new(response))
}

pub(super) async fn get_parameters_for_import(
    api: &KmsApi,
    request: Request<pb::GetParametersForImportRequest>,
) -> RpcResult<pb::GetParametersForImportResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let key = api
        .key(&who, "kms:GetParametersForImport", &req.key_id)
        .await?;
    let algorithm = decode(WrappingAlgorithm::from_wire(
        req.wrapping_algorithm,
        "wrappingAlgorithm",
    ))?;
    let spec = decode(WrappingKeySpec::from_wire(
        req.wrapping_key_spec,
        "wrappingKeySpec",
    ))?;
    let parameters = api
        .blocking(move |kms| kms.get_parameters_for_import(key.id, algorithm, spec))
        .await?;
    Ok(Response::new(pb::GetParametersForImportResponse {
        key_id: parameters.key_arn,
        import_token: parameters.import_token,
        public_key: parameters.public_key,
        parameters_valid_to: Some(timestamp(parameters.valid_to)),
    }))
}

pub(super) async fn import_key_material(
    api: &KmsApi,
    request: Request<pb::ImportKeyMaterialRequest>,
) -> RpcResult<pb::ImportKeyMaterialResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let key = api.key(&who, "kms:ImportKeyMaterial", &req.key_id).await?;
    let valid_to = match &req.valid_to {
        Some(t) => Some(decode(convert::system_time(t, "validTo"))?),
        None => None,
    };
    let model = decode(ExpirationModel::from_wire(
        req.expiration_model,
        "expirationModel",
    ))?;
    let import_type = decode(ImportType::from_wire(req.import_type, "importType"))?;
    let imported = api
        .blocking(move |kms| {
            kms.import_key_material(
                key.id,
                &req.import_token,
                &req.encrypted_key_material,
                valid_to,
                model,
                import_type,
            )
        })
        .await?;
    Ok(Response::new(pb::ImportKeyMaterialResponse {
        key_id: imported.key_arn,
        key_material_id: imported.material_version.to_string(),
    }))
}

pub(super) async fn delete_imported_key_material(
    api: &KmsApi,
    request: Request<pb::DeleteImportedKeyMaterialRequest>,
) -> RpcResult<pb::DeleteImportedKeyMaterialResponse> {
    let who = caller(&request)?;
    let key = api
        .key(
            &who,
            "kms:DeleteImportedKeyMaterial",
            &request.get_ref().key_id,
        )
        .await?;
    let deleted = api
        .blocking(move |kms| kms.delete_imported_key_material(key.id))
        .await?;
    Ok(Response::new(pb::DeleteImportedKeyMaterialResponse {
        key_id: deleted.key_arn,
        key_material_id: deleted.material_version.to_string(),
    }))
}

/// Sign's and Verify's MessageType and SigningAlgorithm, decoded.
fn signing_options(
    message_type: i32,
    algorithm: i32,
) -> Result<(Option<MessageType>, Option<SigningAlgorithm>), tonic::Status> {
    Ok((
        decode(MessageType::from_wire(message_type, "messageType"))?,
        decode(SigningAlgorithm::from_wire(algorithm, "signingAlgorithm"))?,
    ))
}
