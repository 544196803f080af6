//! EncryptFields and DecryptFields: field-level encryption of JSON documents (crypto.md §4),
//! beyond the AWS API. EncryptFields needs kms:GenerateDataKey on the key, DecryptFields
//! kms:Decrypt on the key the document names, both with the document's encryption context for
//! policy conditions. Large documents, and RSA keys, are handled on the blocking pool.

use tonic::{Request, Response};
use uuid::Uuid;

use super::support::{KmsApi, RpcResult, decode};
use crate::{
    api::{
        call::caller,
        convert::{self, optional},
        status,
    },
    crypto::{context::EncryptionContext, fields::FieldSpec},
    error::{Error, ErrorKind, Result},
    kms::{FieldsResult, Kms},
    pb,
};

/// Documents up to this size are handled inline when their key is hot.
const INLINE_DOCUMENT: usize = 16 << 10;

impl KmsApi {
    async fn on_document<T: Send + 'static>(
        &self,
        id: Uuid,
        document_len: usize,
        f: impl FnOnce(&Kms) -> Result<T> + Send + 'static,
    ) -> Result<T, tonic::Status> {
        if document_len > INLINE_DOCUMENT {
            self.blocking(f).await
        } else {
            self.on_private_keys(&[id], f).await
        }
    }
}

fn response(result: FieldsResult) -> (String, String) {
    // prost messages own plain `String`s: this copy is not zeroized (the domain's is), and lives
    // only until the response is encoded.
    (result.document.to_string(), result.key_arn)
}

pub(super) async fn encrypt_fields(
    api: &KmsApi,
    request: Request<pb::EncryptFieldsRequest>,
) -> RpcResult<pb::EncryptFieldsResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let key = api
        .key_in_context(
            &who,
            "kms:GenerateDataKey",
            &req.key_id,
            Some(&req.encryption_context),
        )
        .await?;
    let fields: Vec<FieldSpec> = req
        .paths
        .into_iter()
        .map(|path| FieldSpec {
            path,
            deterministic: false,
        })
        .chain(req.deterministic_paths.into_iter().map(|path| FieldSpec {
            path,
            deterministic: true,
        }))
        .collect();
    let context = convert::context(req.encryption_context);
    let document = req.document;
    let (document, key_id) = api
        .on_document(key.id, document.len(), move |kms| {
            kms.encrypt_fields(key.id, &document, &fields, &context)
        })
        .await
        .map(response)?;
    Ok(Response::new(pb::EncryptFieldsResponse {
        document,
        key_id,
    }))
}

pub(super) async fn decrypt_fields(
    api: &KmsApi,
    request: Request<pb::DecryptFieldsRequest>,
) -> RpcResult<pb::DecryptFieldsResponse> {
    let who = caller(&request)?;
    let req = request.into_inner();
    let document = req.document;
    let document_len = document.len();
    let encrypted = if document_len > INLINE_DOCUMENT {
        api.blocking(move |kms| kms.read_encrypted_document(&document))
            .await?
    } else {
        decode(api.kms().read_encrypted_document(&document))?
    };
    let metadata = &encrypted.metadata;
    // The document names its key by ARN (EncryptFields writes it so); an alias there would let
    // anyone probe aliases. A key that does not exist here is an invalid document, as a
    // ciphertext blob naming one is.
    let key = match api.key_reference(&metadata.key, "_vfe.key").await {
        Ok(key) => key,
        Err(err) if err.code() == tonic::Code::NotFound => {
            return Err(status(Error::invalid_ciphertext()));
        }
        Err(err) => return Err(err),
    };
    if let Some(key_id) = optional(&req.key_id)
        && api.resolve(key_id).await?.id != key.id
    {
        return Err(status(Error::new(
            ErrorKind::IncorrectKey,
            "The key ID in the request does not identify the KMS key that encrypted the document.",
        )));
    }
    if !req.encryption_context.is_empty()
        && EncryptionContext::from(req.encryption_context.clone()) != metadata.context
    {
        return Err(status(Error::invalid_ciphertext()));
    }
    api.authorize_with_context(
        &who,
        "kms:Decrypt",
        &[&key.arn],
        Some(&metadata.context.to_map()),
    )?;
    let (document, key_id) = api
        .on_document(key.id, document_len, move |kms| {
            kms.decrypt_fields(key.id, encrypted)
        })
        .await
        .map(response)?;
    Ok(Response::new(pb::DecryptFieldsResponse {
        document,
        key_id,
    }))
}
