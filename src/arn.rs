//! Amazon Resource Names in the AWS shapes (api.md), with the daemon's configured region and
//! account, so that AWS tooling recognises them.

use uuid::Uuid;

pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT: &str = "000000000000";

/// The region and account that every ARN this daemon issues carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arns {
    region: String,
    account: String,
}

impl Default for Arns {
    fn default() -> Self {
        Self {
            region: DEFAULT_REGION.into(),
            account: DEFAULT_ACCOUNT.into(),
        }
    }
}

/// What a KMS ARN names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KmsResource {
    Key(Uuid),
    /// The alias name including its `alias/` prefix.
    Alias(String),
}

impl Arns {
    /// Region: lowercase letters, digits and dashes (`us-east-1`); account: 12 digits.
    pub fn new(region: &str, account: &str) -> Result<Self, String> {
        let region_ok = !region.is_empty()
            && region.len() <= 32
            && region
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        if !region_ok {
            return Err(format!(
                "invalid region {region:?}: use lowercase letters, digits and dashes, like us-east-1"
            ));
        }
        if account.len() != 12 || !account.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "invalid account id {account:?}: it must be 12 digits"
            ));
        }
        Ok(Self {
            region: region.into(),
            account: account.into(),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn key(&self, id: Uuid) -> String {
        format!("arn:aws:kms:{}:{}:key/{id}", self.region, self.account)
    }

    /// `name` includes the `alias/` prefix.
    pub fn alias(&self, name: &str) -> String {
        format!("arn:aws:kms:{}:{}:{name}", self.region, self.account)
    }

    /// An SSM parameter (or path): `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`, NAME without its
    /// leading '/'.
    pub fn parameter(&self, name: &str) -> String {
        format!(
            "arn:aws:ssm:{}:{}:parameter/{}",
            self.region,
            self.account,
            name.strip_prefix('/').unwrap_or(name)
        )
    }

    /// The parameter name an SSM parameter ARN of this region and account names: `/NAME` when
    /// NAME has a '/' (a path), else NAME. `None` for anything else.
    pub fn parse_parameter(&self, arn: &str) -> Option<String> {
        let rest = arn.strip_prefix("arn:aws:ssm:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, resource) = rest.split_once(':')?;
        let name = resource.strip_prefix("parameter/")?;
        if region != self.region || account != self.account || name.is_empty() {
            return None;
        }
        Some(match name.contains('/') {
            true => format!("/{name}"),
            false => name.to_string(),
        })
    }

    /// A secret: `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX` (SUFFIX: 6 random
    /// characters that tell apart secrets of the same name over time).
    pub fn secret(&self, name: &str, suffix: &str) -> String {
        format!(
            "arn:aws:secretsmanager:{}:{}:secret:{name}-{suffix}",
            self.region, self.account
        )
    }

    /// The part after `secret:` of a Secrets Manager ARN of this region and account (the name with
    /// or without its suffix, as a caller may give a partial ARN). `None` for anything else.
    pub fn parse_secret<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let rest = arn.strip_prefix("arn:aws:secretsmanager:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, resource) = rest.split_once(':')?;
        let name = resource.strip_prefix("secret:")?;
        (region == self.region && account == self.account && !name.is_empty()).then_some(name)
    }

    pub fn user(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:user/{name}", self.account)
    }

    /// The user name of an IAM user ARN of this account; `None` for anything else.
    pub fn parse_user<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let rest = arn.strip_prefix("arn:aws:iam::")?;
        let (account, resource) = rest.split_once(':')?;
        let name = resource.strip_prefix("user/")?;
        (account == self.account && !name.is_empty() && !name.contains('/')).then_some(name)
    }

    /// Parses a KMS key or alias ARN of this region and account. `None` for anything else, including
    /// well-formed ARNs of another region or account (which name nothing here).
    pub fn parse_kms(&self, arn: &str) -> Option<KmsResource> {
        let rest = arn.strip_prefix("arn:aws:kms:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, resource) = rest.split_once(':')?;
        if region != self.region || account != self.account {
            return None;
        }
        if let Some(id) = resource.strip_prefix("key/") {
            return Uuid::try_parse(id).ok().map(KmsResource::Key);
        }
        resource
            .starts_with("alias/")
            .then(|| KmsResource::Alias(resource.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let arns = Arns::default();
        let id = Uuid::parse_str("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").unwrap();
        assert_eq!(
            arns.key(id),
            "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        );
        assert_eq!(
            arns.alias("alias/app"),
            "arn:aws:kms:us-east-1:000000000000:alias/app"
        );
        assert_eq!(arns.user("root"), "arn:aws:iam::000000000000:user/root");
        assert_eq!(arns.parse_user(&arns.user("app")), Some("app"));
        assert_eq!(arns.parse_user("arn:aws:iam::111111111111:user/app"), None);
        assert_eq!(arns.parse_user("arn:aws:iam::000000000000:role/app"), None);
        assert_eq!(arns.parse_kms(&arns.key(id)), Some(KmsResource::Key(id)));
        assert_eq!(
            arns.parse_kms(&arns.alias("alias/app")),
            Some(KmsResource::Alias("alias/app".into()))
        );
    }

    #[test]
    fn foreign_or_malformed_arns_name_nothing() {
        let arns = Arns::new("eu-west-3", "123456789012").unwrap();
        let id = Uuid::new_v4();
        assert_eq!(arns.parse_kms(&Arns::default().key(id)), None);
        for bad in [
            "arn:aws:kms:eu-west-3:123456789012:key/not-a-uuid",
            "arn:aws:kms:eu-west-3:123456789012:secret/x",
            "arn:aws:s3:eu-west-3:123456789012:key/x",
            "arn:aws:kms:eu-west-3",
        ] {
            assert_eq!(arns.parse_kms(bad), None, "{bad}");
        }
    }

    #[test]
    fn region_and_account_are_validated() {
        assert!(Arns::new("US-EAST-1", "000000000000").is_err());
        assert!(Arns::new("us-east-1", "0000").is_err());
        assert!(Arns::new("", "000000000000").is_err());
    }
}
