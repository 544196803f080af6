//! Conversions between wire messages and domain types: enums (value 0 means "the AWS default"),
//! timestamps, tags and key metadata.

use std::time::SystemTime;

use crate::{
    clock::to_unix_parts,
    crypto::context::EncryptionContext,
    error::{Error, Result},
    kms::KeyView,
    model, pb,
};

/// A wire enum field decoded into its domain enum; `UNSPECIFIED` is `None`.
pub trait FromWire: Sized {
    fn from_wire(value: i32, field: &str) -> Result<Option<Self>>;
}

macro_rules! enum_bridge {
    ($model:ident <=> $pb:ident { $($v:ident),+ $(,)? }) => {
        impl From<model::$model> for pb::$pb {
            fn from(m: model::$model) -> Self {
                match m { $(model::$model::$v => pb::$pb::$v),+ }
            }
        }

        impl FromWire for model::$model {
            fn from_wire(value: i32, field: &str) -> Result<Option<Self>> {
                match pb::$pb::try_from(value) {
                    Ok(pb::$pb::Unspecified) => Ok(None),
                    $(Ok(pb::$pb::$v) => Ok(Some(model::$model::$v)),)+
                    Err(_) => Err(Error::validation(format!(
                        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy \
                         constraint: Member must be a {} value",
                        stringify!($pb)
                    ))),
                }
            }
        }
    };
}

enum_bridge!(KeySpec <=> KeySpec { SymmetricDefault, Rsa2048, Rsa3072, Rsa4096, EccNistP256, Hmac224, Hmac256, Hmac384, Hmac512 });
enum_bridge!(KeyUsage <=> KeyUsage { EncryptDecrypt, SignVerify, GenerateVerifyMac, KeyAgreement });
enum_bridge!(KeyState <=> KeyState { Creating, Enabled, Disabled, PendingDeletion, PendingImport, Unavailable });
enum_bridge!(Origin <=> OriginType { AwsKms, External });
enum_bridge!(KeyManager <=> KeyManagerType { Aws, Customer });
enum_bridge!(EncryptionAlgorithm <=> EncryptionAlgorithmSpec { SymmetricDefault, RsaesOaepSha1, RsaesOaepSha256 });
enum_bridge!(DataKeySpec <=> DataKeySpec { Aes256, Aes128 });
enum_bridge!(RotationType <=> RotationType { Automatic, OnDemand });
enum_bridge!(AccessKeyStatus <=> StatusType { Active, Inactive });
enum_bridge!(SigningAlgorithm <=> SigningAlgorithmSpec { RsassaPssSha256, RsassaPssSha384, RsassaPssSha512, RsassaPkcs1V15Sha256, RsassaPkcs1V15Sha384, RsassaPkcs1V15Sha512, EcdsaSha256 });
enum_bridge!(MessageType <=> MessageType { Raw, Digest });
enum_bridge!(MacAlgorithm <=> MacAlgorithmSpec { HmacSha224, HmacSha256, HmacSha384, HmacSha512 });
enum_bridge!(KeyAgreementAlgorithm <=> KeyAgreementAlgorithmSpec { Ecdh });
enum_bridge!(DataKeyPairSpec <=> DataKeyPairSpec { Rsa2048, Rsa3072, Rsa4096, EccNistP256 });
enum_bridge!(WrappingAlgorithm <=> AlgorithmSpec { RsaesPkcs1V15, RsaesOaepSha1, RsaesOaepSha256, RsaAesKeyWrapSha1, RsaAesKeyWrapSha256 });
enum_bridge!(WrappingKeySpec <=> WrappingKeySpec { Rsa2048, Rsa3072, Rsa4096 });
enum_bridge!(ExpirationModel <=> ExpirationModelType { KeyMaterialExpires, KeyMaterialDoesNotExpire });
enum_bridge!(ImportType <=> ImportType { ExistingKeyMaterial, NewKeyMaterial });
enum_bridge!(ParameterType <=> ParameterType { String, StringList, SecureString });
enum_bridge!(ParameterTier <=> ParameterTier { Standard, Advanced, IntelligentTiering });

pub fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    let (seconds, nanos) = to_unix_parts(t);
    prost_types::Timestamp { seconds, nanos }
}

/// A wire timestamp as a time; out-of-range values are a validation error naming the field.
pub fn system_time(t: &prost_types::Timestamp, field: &str) -> Result<SystemTime> {
    let invalid = || Error::validation(format!("The timestamp at '{field}' is out of range."));
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(invalid());
    }
    let since_epoch = |secs: u64| std::time::Duration::new(secs, t.nanos as u32);
    if t.seconds >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(since_epoch(t.seconds as u64))
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(std::time::Duration::from_secs(t.seconds.unsigned_abs()))
            .and_then(|s| s.checked_add(std::time::Duration::new(0, t.nanos as u32)))
    }
    .ok_or_else(invalid)
}

pub fn tags_from_wire(tags: Vec<pb::Tag>) -> Vec<model::Tag> {
    tags.into_iter()
        .map(|t| model::Tag {
            key: t.tag_key,
            value: t.tag_value,
        })
        .collect()
}

/// SSM's and Secrets Manager's tags (Key / Value).
pub fn resource_tags_from_wire(tags: Vec<pb::ResourceTag>) -> Vec<model::Tag> {
    tags.into_iter()
        .map(|t| model::Tag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

pub fn resource_tags_to_wire(tags: Vec<model::Tag>) -> Vec<pb::ResourceTag> {
    tags.into_iter()
        .map(|t| pb::ResourceTag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

pub fn tag_to_wire(tag: model::Tag) -> pb::Tag {
    pb::Tag {
        tag_key: tag.key,
        tag_value: tag.value,
    }
}

pub fn context(map: std::collections::HashMap<String, String>) -> EncryptionContext {
    EncryptionContext::from(map)
}

/// An optional KeyId field: empty means absent.
pub fn optional(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

pub fn key_metadata(view: &KeyView, account: &str) -> pb::KeyMetadata {
    let r = &view.record;
    let mut metadata = pb::KeyMetadata {
        aws_account_id: account.to_string(),
        key_id: r.id.to_string(),
        arn: view.arn.clone(),
        creation_date: Some(timestamp(r.created_at)),
        enabled: r.state == model::KeyState::Enabled,
        description: r.description.clone(),
        deletion_date: r.deletion_date.map(timestamp),
        multi_region: false,
        pending_deletion_window_in_days: r.pending_window_days.map(|d| d as i32),
        // A key waiting for imported material has none in use.
        current_key_material_id: match r.state {
            model::KeyState::PendingImport => String::new(),
            _ => r.current_version.to_string(),
        },
        ..Default::default()
    };
    metadata.set_key_usage(r.key_usage.into());
    metadata.set_key_state(r.state.into());
    metadata.set_origin(r.origin.into());
    metadata.set_key_manager(r.key_manager.into());
    metadata.set_key_spec(r.key_spec.into());
    metadata.set_customer_master_key_spec(r.key_spec.into());
    let algorithms = crate::kms::key_algorithms(r.key_spec, r.key_usage);
    for algorithm in algorithms.encryption {
        metadata.push_encryption_algorithms(algorithm.into());
    }
    for algorithm in algorithms.signing {
        metadata.push_signing_algorithms(algorithm.into());
    }
    for algorithm in algorithms.mac {
        metadata.push_mac_algorithms(algorithm.into());
    }
    for algorithm in algorithms.key_agreement {
        metadata.push_key_agreement_algorithms(algorithm.into());
    }
    if let Some(model) = r.expiration_model {
        metadata.set_expiration_model(model.into());
    }
    metadata.valid_to = r.valid_to.map(timestamp);
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_is_the_default_and_unknown_values_are_refused() {
        assert_eq!(model::KeySpec::from_wire(0, "keySpec").unwrap(), None);
        assert_eq!(
            model::KeySpec::from_wire(pb::KeySpec::SymmetricDefault as i32, "keySpec").unwrap(),
            Some(model::KeySpec::SymmetricDefault)
        );
        let err = model::KeySpec::from_wire(99, "keySpec").unwrap_err();
        assert!(err.is(crate::error::ErrorKind::Validation));
        assert!(err.message.contains("keySpec"));
    }

    #[test]
    fn every_domain_value_has_a_wire_value() {
        for spec in model::KeySpec::ALL {
            let wire = pb::KeySpec::from(*spec);
            assert_eq!(wire.as_str_name(), format!("KEY_SPEC_{}", spec.as_str()));
        }
        for state in model::KeyState::ALL {
            assert_ne!(pb::KeyState::from(*state), pb::KeyState::Unspecified);
        }
    }
}
