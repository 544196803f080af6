use prost_reflect::ReflectMessage;

use super::*;
use crate::{aws::Problem, pb};

fn message(name: &str) -> MessageDescriptor {
    pool().get_message_by_name(name).unwrap()
}

fn read<T: prost::Message + Default>(json: Json) -> Result<T, AwsError> {
    let desc = message(&format!(
        "vault.v1.{}",
        std::any::type_name::<T>().rsplit("::").next().unwrap()
    ));
    Ok(decode(&desc, &json, Scalars::Typed)?
        .transcode_to()
        .unwrap())
}

#[test]
fn members_are_the_fields_in_pascal_case_or_the_aws_spelling_the_proto_gives() {
    let names = |m: &str| -> Vec<String> {
        message(m)
            .fields()
            .map(|f| member_name(&f).into_owned())
            .collect()
    };
    let key_metadata = names("vault.v1.KeyMetadata");
    assert!(key_metadata.contains(&"AWSAccountId".to_string()));
    assert!(key_metadata.contains(&"Arn".to_string()));
    assert!(key_metadata.contains(&"PendingDeletionWindowInDays".to_string()));
    let describe = names("vault.v1.DescribeSecretResponse");
    assert!(describe.contains(&"ARN".to_string()));
    assert!(describe.contains(&"RotationLambdaARN".to_string()));
    assert!(describe.contains(&"VersionIdsToStages".to_string()));
    assert_eq!(names("vault.v1.DecryptRequest")[0], "CiphertextBlob");
}

#[test]
fn enum_values_are_spelled_as_each_aws_type_spells_them() {
    let cases = [
        ("KeySpec", pb::KeySpec::Rsa2048 as i32, "RSA_2048"),
        ("KeySpec", pb::KeySpec::EccNistP256 as i32, "ECC_NIST_P256"),
        (
            "KeyState",
            pb::KeyState::PendingDeletion as i32,
            "PendingDeletion",
        ),
        (
            "ParameterType",
            pb::ParameterType::SecureString as i32,
            "SecureString",
        ),
        (
            "ParameterTier",
            pb::ParameterTier::IntelligentTiering as i32,
            "Intelligent-Tiering",
        ),
        (
            "PolicyEvaluationDecisionType",
            pb::PolicyEvaluationDecisionType::ExplicitDeny as i32,
            "explicitDeny",
        ),
        (
            "FilterNameStringType",
            pb::FilterNameStringType::TagKey as i32,
            "tag-key",
        ),
        (
            "SortByType",
            pb::SortByType::LastChangedDate as i32,
            "last-changed-date",
        ),
        ("StatusType", pb::StatusType::Inactive as i32, "Inactive"),
    ];
    for (enum_name, number, aws) in cases {
        let e = pool()
            .get_enum_by_name(&format!("vault.v1.{enum_name}"))
            .unwrap();
        assert_eq!(
            enum_value_name(&e, number).as_deref(),
            Some(aws),
            "{enum_name}"
        );
    }
    let e = pool().get_enum_by_name("vault.v1.KeySpec").unwrap();
    assert_eq!(enum_value_name(&e, 0), None, "unspecified is absent");
}

#[test]
fn a_json_request_becomes_the_typed_request_of_its_action() {
    let request: pb::GenerateDataKeyRequest = read(json!({
        "KeyId": "alias/app",
        "KeySpec": "AES_256",
        "EncryptionContext": {"tenant": "a", "purpose": "b"},
        "GrantTokens": ["ignored"],
    }))
    .unwrap();
    assert_eq!(request.key_id, "alias/app");
    assert_eq!(request.key_spec, pb::DataKeySpec::Aes256 as i32);
    assert_eq!(request.number_of_bytes, None);
    assert_eq!(request.encryption_context.len(), 2);
    assert_eq!(request.encryption_context["tenant"], "a");

    let request: pb::DecryptRequest = read(json!({"CiphertextBlob": "AAEC/w=="})).unwrap();
    assert_eq!(request.ciphertext_blob, [0, 1, 2, 255]);

    let request: pb::ListSecretsRequest = read(json!({
        "MaxResults": 2,
        "Filters": [{"Key": "tag-key", "Values": ["team"]}],
        "SortOrder": "desc",
    }))
    .unwrap();
    assert_eq!(request.max_results, Some(2));
    assert_eq!(
        request.filters[0].key,
        pb::FilterNameStringType::TagKey as i32
    );
    assert_eq!(request.filters[0].values, ["team"]);
    assert_eq!(request.sort_order, pb::SortOrderType::Desc as i32);
}

#[test]
fn bad_members_get_aws_errors_naming_them() {
    let err = read::<pb::GenerateDataKeyRequest>(json!({"KeyId": "k", "KeySpec": "AES_512"}))
        .unwrap_err();
    assert_eq!(
        err.problem,
        Problem::Domain(crate::error::ErrorKind::Validation)
    );
    assert!(
        err.message.contains("'KeySpec'") && err.message.contains("AES_256"),
        "{}",
        err.message
    );

    let err = read::<pb::GenerateDataKeyRequest>(json!({"KeyId": 7})).unwrap_err();
    assert_eq!(
        (err.problem, err.message.as_str()),
        (Problem::Serialization, "KeyId must be a string.")
    );

    let err = read::<pb::DecryptRequest>(json!({"CiphertextBlob": "not base64!"})).unwrap_err();
    assert_eq!(err.problem, Problem::Serialization);

    let err = read::<pb::GenerateDataKeyRequest>(json!({"KeyId": "k", "NumberOfBytes": 1.5}))
        .unwrap_err();
    assert_eq!(err.problem, Problem::Serialization);

    let err =
        read::<pb::GenerateDataKeyRequest>(json!({"KeyId": "k", "NumberOfBytes": 1_u64 << 40}))
            .unwrap_err();
    assert_eq!(
        err.problem,
        Problem::Domain(crate::error::ErrorKind::Validation)
    );

    // A member vaultd would drop could change what the caller believes happened.
    let err = read::<pb::CreateKeyRequest>(json!({"Policy": "{}"})).unwrap_err();
    assert_eq!(
        err.problem,
        Problem::Domain(crate::error::ErrorKind::Validation)
    );
    assert!(err.message.contains("Policy"), "{}", err.message);

    let err = read::<pb::CreateKeyRequest>(json!(["not", "an", "object"])).unwrap_err();
    assert_eq!(err.problem, Problem::Serialization);
}

#[test]
fn a_response_takes_aws_names_blobs_in_base64_and_times_in_epoch_seconds() {
    let response = pb::CreateKeyResponse {
        key_metadata: Some(pb::KeyMetadata {
            aws_account_id: "000000000000".into(),
            key_id: "k".into(),
            creation_date: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 250_000_000,
            }),
            enabled: false,
            key_state: pb::KeyState::PendingDeletion as i32,
            encryption_algorithms: vec![pb::EncryptionAlgorithmSpec::SymmetricDefault as i32],
            ..Default::default()
        }),
    };
    let mut dynamic = DynamicMessage::new(message("vault.v1.CreateKeyResponse"));
    dynamic.transcode_from(&response).unwrap();
    let json = encode(&dynamic, Timestamps::EpochSeconds);
    let metadata = &json["KeyMetadata"];
    assert_eq!(metadata["AWSAccountId"], "000000000000");
    assert_eq!(metadata["CreationDate"], 1_700_000_000.25);
    assert_eq!(metadata["Enabled"], false, "false is an answer");
    assert_eq!(metadata["KeyState"], "PendingDeletion");
    assert_eq!(
        metadata["EncryptionAlgorithms"],
        json!(["SYMMETRIC_DEFAULT"])
    );
    assert!(
        metadata.get("Description").is_none(),
        "empty strings are absent"
    );
    assert!(
        metadata.get("KeyUsage").is_none(),
        "unspecified enums are absent"
    );
    assert!(
        metadata.get("SigningAlgorithms").is_none(),
        "nested empty lists are absent"
    );
    assert!(
        metadata.get("PendingDeletionWindowInDays").is_none(),
        "unset optionals are absent"
    );

    let dynamic = DynamicMessage::new(message("vault.v1.ListKeysResponse"));
    assert_eq!(
        encode(&dynamic, Timestamps::EpochSeconds),
        json!({"Keys": [], "Truncated": false})
    );

    let mut dynamic = DynamicMessage::new(message("vault.v1.GenerateRandomResponse"));
    dynamic
        .transcode_from(&pb::GenerateRandomResponse {
            plaintext: vec![0, 1, 2, 255],
        })
        .unwrap();
    assert_eq!(
        encode(&dynamic, Timestamps::EpochSeconds),
        json!({"Plaintext": "AAEC/w=="})
    );
}

#[test]
fn a_map_of_lists_is_a_map_of_lists_on_the_wire() {
    let mut dynamic = DynamicMessage::new(message("vault.v1.DescribeSecretResponse"));
    dynamic
        .transcode_from(&pb::DescribeSecretResponse {
            version_ids_to_stages: [(
                "v1".to_string(),
                pb::VersionStages {
                    stages: vec!["AWSCURRENT".into(), "mine".into()],
                },
            )]
            .into(),
            ..Default::default()
        })
        .unwrap();
    let json = encode(&dynamic, Timestamps::EpochSeconds);
    assert_eq!(
        json["VersionIdsToStages"],
        json!({"v1": ["AWSCURRENT", "mine"]})
    );
    let back: pb::DescribeSecretResponse = decode(&dynamic.descriptor(), &json, Scalars::Typed)
        .unwrap()
        .transcode_to()
        .unwrap();
    assert_eq!(
        back.version_ids_to_stages["v1"].stages,
        ["AWSCURRENT", "mine"]
    );
}

#[test]
fn the_query_protocol_reads_text_scalars_and_writes_iso_8601_times() {
    let desc = message("vault.v1.GetSessionTokenRequest");
    let request: pb::GetSessionTokenRequest =
        decode(&desc, &json!({"DurationSeconds": "900"}), Scalars::Text)
            .unwrap()
            .transcode_to()
            .unwrap();
    assert_eq!(request.duration_seconds, Some(900));
    let err = decode(&desc, &json!({"DurationSeconds": "soon"}), Scalars::Text).unwrap_err();
    assert_eq!(err.problem, Problem::Serialization);

    let mut dynamic = DynamicMessage::new(message("vault.v1.Credentials"));
    dynamic
        .transcode_from(&pb::Credentials {
            expiration: Some(prost_types::Timestamp {
                seconds: 1_795_000_000,
                nanos: 7_000_000,
            }),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        encode(&dynamic, Timestamps::Iso8601)["Expiration"],
        "2026-11-18T11:06:40.007Z"
    );
    assert_eq!(dynamic.descriptor().full_name(), "vault.v1.Credentials");
}
