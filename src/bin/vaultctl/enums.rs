//! The AWS spelling of the `vault.v1` enums, both ways: `SYMMETRIC_DEFAULT` ⇄
//! `pb::KeySpec::SymmetricDefault`, `PendingDeletion` ⇄ `pb::KeyState::PendingDeletion`.
//!
//! A proto value is the type's SCREAMING_SNAKE prefix plus the AWS value (api.md); how each AWS
//! type spells its values (KeyState in PascalCase, ParameterTier as `Intelligent-Tiering`, …) is
//! the library's one table, [`vaultd::aws::shape::enum_value_name`], which the AWS front end
//! speaks too.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use vaultd::{aws::shape, pb};

/// A `vault.v1` enum whose values are AWS values.
pub trait AwsEnum: Copy + TryFrom<i32> + Into<i32> + Send + Sync + 'static {
    /// The prefix of every proto value name, e.g. `KEY_SPEC_`.
    const PREFIX: &'static str;
    /// The proto type's name, e.g. `KeySpec`.
    const TYPE: &'static str;

    fn proto_name(self) -> &'static str;

    /// The AWS value in SCREAMING_SNAKE_CASE; `None` for the UNSPECIFIED value.
    fn snake_name(self) -> Option<&'static str> {
        self.proto_name()
            .strip_prefix(Self::PREFIX)
            .filter(|name| *name != "UNSPECIFIED")
    }

    /// The AWS value as AWS spells it; `None` for the UNSPECIFIED value.
    fn aws_name(self) -> Option<String> {
        let descriptor = shape::pool().get_enum_by_name(&format!("vault.v1.{}", Self::TYPE))?;
        shape::enum_value_name(&descriptor, self.into())
    }

    /// Every specified value, in proto order.
    fn values() -> Vec<Self> {
        (1..).map_while(|n| Self::try_from(n).ok()).collect()
    }

    /// The value a flag names in AWS spelling.
    fn from_aws(name: &str) -> Option<Self> {
        Self::values()
            .into_iter()
            .find(|v| v.aws_name().as_deref() == Some(name))
    }

    /// The AWS name of a raw wire value; `None` when it is unspecified or unknown.
    fn wire_to_aws(value: i32) -> Option<String> {
        Self::try_from(value).ok()?.aws_name()
    }
}

macro_rules! aws_enums {
    ($($ty:ident: $prefix:literal;)+) => {$(
        impl AwsEnum for pb::$ty {
            const PREFIX: &'static str = $prefix;
            const TYPE: &'static str = stringify!($ty);
            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }
        }
    )+};
}

aws_enums! {
    KeySpec: "KEY_SPEC_";
    KeyUsage: "KEY_USAGE_";
    KeyState: "KEY_STATE_";
    OriginType: "ORIGIN_TYPE_";
    KeyManagerType: "KEY_MANAGER_TYPE_";
    EncryptionAlgorithmSpec: "ENCRYPTION_ALGORITHM_SPEC_";
    DataKeySpec: "DATA_KEY_SPEC_";
    RotationType: "ROTATION_TYPE_";
    SigningAlgorithmSpec: "SIGNING_ALGORITHM_SPEC_";
    MessageType: "MESSAGE_TYPE_";
    MacAlgorithmSpec: "MAC_ALGORITHM_SPEC_";
    KeyAgreementAlgorithmSpec: "KEY_AGREEMENT_ALGORITHM_SPEC_";
    DataKeyPairSpec: "DATA_KEY_PAIR_SPEC_";
    AlgorithmSpec: "ALGORITHM_SPEC_";
    WrappingKeySpec: "WRAPPING_KEY_SPEC_";
    ExpirationModelType: "EXPIRATION_MODEL_TYPE_";
    ImportType: "IMPORT_TYPE_";
    StatusType: "STATUS_TYPE_";
    PolicyEvaluationDecisionType: "POLICY_EVALUATION_DECISION_TYPE_";
    ParameterType: "PARAMETER_TYPE_";
    ParameterTier: "PARAMETER_TIER_";
    FilterNameStringType: "FILTER_NAME_STRING_TYPE_";
}

/// A clap parser for a flag taking an AWS enum value spelled in SCREAMING_SNAKE_CASE: an unknown
/// value is a usage error that lists the valid ones, and `--help` shows them. (Flags of other
/// spellings, such as `ssm put-parameter --type`, are clap `ValueEnum`s of their own.)
pub fn parser<E: AwsEnum>() -> impl TypedValueParser<Value = E> {
    PossibleValuesParser::new(E::values().into_iter().filter_map(E::snake_name))
        .map(|name| E::from_aws(&name).expect("clap accepts only the listed values"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_names_round_trip() {
        assert_eq!(
            pb::KeySpec::from_aws("SYMMETRIC_DEFAULT"),
            Some(pb::KeySpec::SymmetricDefault)
        );
        assert_eq!(
            pb::KeyState::PendingDeletion.aws_name().as_deref(),
            Some("PendingDeletion")
        );
        assert_eq!(
            pb::DataKeySpec::wire_to_aws(pb::DataKeySpec::Aes256 as i32).as_deref(),
            Some("AES_256")
        );
        assert_eq!(pb::KeySpec::wire_to_aws(0), None);
        assert_eq!(pb::KeySpec::from_aws("UNSPECIFIED"), None);
        assert_eq!(pb::KeySpec::values().len(), 9);
        assert_eq!(
            pb::StatusType::Inactive.aws_name().as_deref(),
            Some("Inactive")
        );
        assert_eq!(
            pb::PolicyEvaluationDecisionType::wire_to_aws(2).as_deref(),
            Some("explicitDeny")
        );
        assert_eq!(
            pb::PolicyEvaluationDecisionType::from_aws("implicitDeny"),
            Some(pb::PolicyEvaluationDecisionType::ImplicitDeny)
        );
    }

    #[test]
    fn asymmetric_hmac_and_import_enums_use_aws_names() {
        assert_eq!(
            pb::SigningAlgorithmSpec::from_aws("RSASSA_PKCS1_V1_5_SHA_256"),
            Some(pb::SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
        );
        assert_eq!(pb::SigningAlgorithmSpec::values().len(), 7);
        assert_eq!(
            pb::MessageType::from_aws("DIGEST"),
            Some(pb::MessageType::Digest)
        );
        assert_eq!(
            pb::MacAlgorithmSpec::wire_to_aws(pb::MacAlgorithmSpec::HmacSha256 as i32).as_deref(),
            Some("HMAC_SHA_256")
        );
        assert_eq!(
            pb::KeyAgreementAlgorithmSpec::from_aws("ECDH"),
            Some(pb::KeyAgreementAlgorithmSpec::Ecdh)
        );
        assert_eq!(
            pb::DataKeyPairSpec::from_aws("ECC_NIST_P256"),
            Some(pb::DataKeyPairSpec::EccNistP256)
        );
        assert_eq!(
            pb::AlgorithmSpec::from_aws("RSA_AES_KEY_WRAP_SHA_256"),
            Some(pb::AlgorithmSpec::RsaAesKeyWrapSha256)
        );
        assert_eq!(
            pb::WrappingKeySpec::from_aws("RSA_4096"),
            Some(pb::WrappingKeySpec::Rsa4096)
        );
        assert_eq!(
            pb::ExpirationModelType::from_aws("KEY_MATERIAL_DOES_NOT_EXPIRE"),
            Some(pb::ExpirationModelType::KeyMaterialDoesNotExpire)
        );
        assert_eq!(
            pb::ImportType::from_aws("NEW_KEY_MATERIAL"),
            Some(pb::ImportType::NewKeyMaterial)
        );
        assert_eq!(
            pb::KeyState::PendingImport.aws_name().as_deref(),
            Some("PendingImport")
        );
    }

    #[test]
    fn parameter_store_enums_use_aws_names() {
        let types: Vec<String> = pb::ParameterType::values()
            .into_iter()
            .filter_map(AwsEnum::aws_name)
            .collect();
        assert_eq!(types, ["String", "StringList", "SecureString"]);
        let tiers: Vec<String> = pb::ParameterTier::values()
            .into_iter()
            .filter_map(AwsEnum::aws_name)
            .collect();
        assert_eq!(tiers, ["Standard", "Advanced", "Intelligent-Tiering"]);
        assert_eq!(pb::ParameterTier::wire_to_aws(0), None);
    }

    #[test]
    fn secrets_manager_filter_keys_are_kebab_case() {
        let keys: Vec<String> = pb::FilterNameStringType::values()
            .into_iter()
            .filter_map(AwsEnum::aws_name)
            .collect();
        assert_eq!(
            keys,
            [
                "description",
                "name",
                "tag-key",
                "tag-value",
                "primary-region",
                "owning-service",
                "all"
            ]
        );
        assert_eq!(
            pb::FilterNameStringType::from_aws("tag-key"),
            Some(pb::FilterNameStringType::TagKey)
        );
        assert_eq!(pb::FilterNameStringType::from_aws("Name"), None);
    }
}
