//! The generated protobuf types and gRPC stubs of `vault.v1`, and the encoded descriptor set for
//! reflection.
//!
//! Messages that carry plaintext or key material have their derived `Debug` skipped (see
//! `build.rs`); the impls below print every other field and redact the secret ones, so a stray
//! `{:?}` in a log never leaks.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("vault.v1");

/// The encoded `FileDescriptorSet` of `proto/` (with imports), served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("vault_v1_descriptor");

/// Implements `Debug` for a message, printing `shown` fields and `[REDACTED]` (with the length) for
/// `redacted` ones, and for the proto3 `optional` fields in `redacted_opt` either `None` or
/// `Some([REDACTED])` (with the length).
macro_rules! redacted_debug {
    ($($msg:ident {
        shown: [$($shown:ident),*],
        redacted: [$($redacted:ident),*]
        $(, redacted_opt: [$($redacted_opt:ident),*])?
    })+) => {$(
        impl std::fmt::Debug for $msg {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($msg))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($redacted), &format_args!("[REDACTED {} bytes]", self.$redacted.len())))*
                    $($(.field(
                        stringify!($redacted_opt),
                        &RedactedOpt(self.$redacted_opt.as_ref().map(|v| v.len())),
                    ))*)?
                    .finish()
            }
        }
    )+};
}

/// The `Debug` of a redacted `optional` field: whether it is set, and its length.
struct RedactedOpt(Option<usize>);

impl std::fmt::Debug for RedactedOpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(len) => write!(f, "Some([REDACTED {len} bytes])"),
            None => f.write_str("None"),
        }
    }
}

redacted_debug! {
    CreateBackupResponse { shown: [summary], redacted: [chunk] }
    RestoreBackupRequest { shown: [sha256], redacted: [chunk] }
    EncryptRequest { shown: [key_id, encryption_context, encryption_algorithm], redacted: [plaintext] }
    DecryptResponse { shown: [key_id, encryption_algorithm, key_material_id], redacted: [plaintext] }
    GenerateDataKeyResponse { shown: [key_id, ciphertext_blob, key_material_id], redacted: [plaintext] }
    GenerateRandomResponse { shown: [], redacted: [plaintext] }
    SignRequest { shown: [key_id, message_type, signing_algorithm], redacted: [message] }
    VerifyRequest { shown: [key_id, message_type, signature, signing_algorithm], redacted: [message] }
    GenerateMacRequest { shown: [key_id, mac_algorithm], redacted: [message] }
    VerifyMacRequest { shown: [key_id, mac_algorithm, mac], redacted: [message] }
    GenerateDataKeyPairResponse { shown: [key_id, private_key_ciphertext_blob, public_key, key_pair_spec, key_material_id], redacted: [private_key_plaintext] }
    DeriveSharedSecretResponse { shown: [key_id, key_agreement_algorithm, key_origin], redacted: [shared_secret] }
    PutParameterRequest { shown: [name, description, r#type, key_id, overwrite, allowed_pattern, tags, tier, data_type], redacted: [value] }
    Parameter { shown: [name, r#type, version, selector, source_result, last_modified_date, arn, data_type], redacted: [value] }
    ParameterHistory { shown: [name, r#type, key_id, last_modified_date, last_modified_user, description, allowed_pattern, version, labels, tier, data_type], redacted: [value] }
    AccessKey { shown: [user_name, access_key_id, status, create_date], redacted: [secret_access_key] }
    Credentials { shown: [access_key_id, expiration], redacted: [secret_access_key, session_token] }
    CreateSecretRequest { shown: [name, client_request_token, description, kms_key_id, tags], redacted: [], redacted_opt: [secret_binary, secret_string] }
    PutSecretValueRequest { shown: [secret_id, client_request_token, version_stages], redacted: [rotation_token], redacted_opt: [secret_binary, secret_string] }
    UpdateSecretRequest { shown: [secret_id, client_request_token, description, kms_key_id], redacted: [], redacted_opt: [secret_binary, secret_string] }
    GetSecretValueResponse { shown: [arn, name, version_id, version_stages, created_date], redacted: [], redacted_opt: [secret_binary, secret_string] }
    SecretValueEntry { shown: [arn, name, version_id, version_stages, created_date], redacted: [], redacted_opt: [secret_binary, secret_string] }
    GetRandomPasswordResponse { shown: [], redacted: [random_password] }
    EncryptFieldsRequest { shown: [key_id, paths, deterministic_paths, encryption_context], redacted: [document] }
    EncryptFieldsResponse { shown: [key_id], redacted: [document] }
    DecryptFieldsRequest { shown: [key_id, encryption_context], redacted: [document] }
    DecryptFieldsResponse { shown: [key_id], redacted: [document] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_never_reaches_debug_output() {
        let secret = b"correct horse battery staple".to_vec();
        let shown = [
            format!(
                "{:?}",
                EncryptRequest {
                    key_id: "k".into(),
                    plaintext: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                DecryptResponse {
                    plaintext: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                GenerateDataKeyResponse {
                    plaintext: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                SignRequest {
                    message: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                VerifyRequest {
                    message: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                GenerateMacRequest {
                    message: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                VerifyMacRequest {
                    message: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                GenerateDataKeyPairResponse {
                    private_key_plaintext: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                DeriveSharedSecretResponse {
                    shared_secret: secret.clone(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                GenerateRandomResponse {
                    plaintext: secret.clone()
                }
            ),
        ];
        let as_debug_bytes = format!("{secret:?}");
        let text_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let credentials = [
            format!(
                "{:?}",
                CreateAccessKeyResponse {
                    access_key: Some(AccessKey {
                        access_key_id: "AKIAEXAMPLEKEY234567".into(),
                        secret_access_key: text_secret.into(),
                        ..Default::default()
                    }),
                }
            ),
            format!(
                "{:?}",
                GetSessionTokenResponse {
                    credentials: Some(Credentials {
                        access_key_id: "ASIAEXAMPLEKEY234567".into(),
                        secret_access_key: text_secret.into(),
                        session_token: "session-token-text".into(),
                        expiration: None,
                    }),
                }
            ),
        ];
        let secret_text = "correct horse battery staple";
        let secrets = [
            format!(
                "{:?}",
                CreateSecretRequest {
                    name: "db/password".into(),
                    secret_string: Some(secret_text.into()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                CreateSecretRequest {
                    name: "db/password".into(),
                    secret_binary: Some(secret.clone()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                PutSecretValueRequest {
                    secret_id: "db/password".into(),
                    secret_string: Some(secret_text.into()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                PutSecretValueRequest {
                    secret_id: "db/password".into(),
                    secret_binary: Some(secret.clone()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                UpdateSecretRequest {
                    secret_id: "db/password".into(),
                    secret_string: Some(secret_text.into()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                UpdateSecretRequest {
                    secret_id: "db/password".into(),
                    secret_binary: Some(secret.clone()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                GetSecretValueResponse {
                    name: "db/password".into(),
                    secret_string: Some(secret_text.into()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                GetSecretValueResponse {
                    name: "db/password".into(),
                    secret_binary: Some(secret.clone()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                BatchGetSecretValueResponse {
                    secret_values: vec![
                        SecretValueEntry {
                            name: "db/password".into(),
                            secret_string: Some(secret_text.into()),
                            ..Default::default()
                        },
                        SecretValueEntry {
                            name: "db/password".into(),
                            secret_binary: Some(secret.clone()),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }
            ),
        ];
        for s in secrets {
            assert!(s.contains("db/password"), "names stay visible: {s}");
            assert!(s.contains("Some([REDACTED 28 bytes])"), "{s}");
            assert!(
                !s.contains("correct horse") && !s.contains(&as_debug_bytes[1..20]),
                "{s}"
            );
        }
        let password = format!(
            "{:?}",
            GetRandomPasswordResponse {
                random_password: secret_text.into()
            }
        );
        assert!(password.contains("[REDACTED 28 bytes]"), "{password}");
        assert!(!password.contains("correct horse"), "{password}");
        let document = r#"{"ssn":"correct horse battery staple"}"#;
        for s in [
            format!(
                "{:?}",
                EncryptFieldsRequest {
                    key_id: "alias/pii".into(),
                    document: document.into(),
                    paths: vec!["/ssn".into()],
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                DecryptFieldsResponse {
                    key_id: "alias/pii".into(),
                    document: document.into(),
                }
            ),
        ] {
            assert!(s.contains("alias/pii"), "{s}");
            assert!(s.contains("[REDACTED 38 bytes]"), "{s}");
            assert!(!s.contains("correct horse"), "{s}");
        }
        let unset = format!("{:?}", GetSecretValueResponse::default());
        assert!(unset.contains("secret_binary: None"), "{unset}");

        for s in credentials {
            assert!(s.contains("EXAMPLEKEY234567"), "ids stay visible: {s}");
            assert!(
                !s.contains(text_secret) && !s.contains("session-token-text"),
                "{s}"
            );
        }
        for s in shown {
            assert!(s.contains("[REDACTED 28 bytes]"), "{s}");
            assert!(
                !s.contains("correct horse") && !s.contains(&as_debug_bytes[1..20]),
                "{s}"
            );
        }
    }
}
