//! Parameter names, paths, selectors and labels, with AWS's rules.

use crate::{
    arn::Arns,
    error::{Error, ErrorKind, Result},
};

/// AWS: a name (with the ARN around it) fits in 1,011 characters; the name alone is checked.
pub const MAX_NAME_LEN: usize = 1011;
/// AWS: a hierarchy has at most 15 levels.
pub const MAX_LEVELS: usize = 15;
pub const MAX_LABEL_LEN: usize = 100;

fn valid_chars(name: &str) -> bool {
    name.bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/'))
}

fn reserved(first_segment: &str) -> bool {
    let lower = first_segment.to_ascii_lowercase();
    lower.starts_with("aws") || lower.starts_with("ssm")
}

fn check_levels(name: &str) -> Result<()> {
    if name.matches('/').count() > MAX_LEVELS {
        return Err(Error::new(
            ErrorKind::HierarchyLevelLimitExceeded,
            format!(
                "A hierarchy can have a maximum of {MAX_LEVELS} levels. For more information, see \
                 Requirements and constraints for parameter names."
            ),
        ));
    }
    Ok(())
}

/// AWS's parameter name rules: 1–1,011 of `a-zA-Z0-9_.-/`; a name with a '/' is a path that
/// starts with '/', with no empty level and no trailing '/'; at most 15 levels; not beginning
/// with `aws` or `ssm` (any case).
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |why: &str| Error::validation(format!("Parameter name: {why}"));
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(invalid(&format!(
            "must be 1 to {MAX_NAME_LEN} characters long."
        )));
    }
    if !valid_chars(name) {
        return Err(invalid(
            "can contain only letters, digits and the symbols . - _ /",
        ));
    }
    if name.contains('/') && (!name.starts_with('/') || name.ends_with('/') || name.contains("//"))
    {
        return Err(invalid(
            "a name with a '/' is a hierarchy: it must begin with '/' and have no empty level \
             and no trailing '/'.",
        ));
    }
    check_levels(name)?;
    let first = name.trim_start_matches('/').split('/').next().unwrap_or("");
    if reserved(first) {
        return Err(invalid(
            "can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).",
        ));
    }
    Ok(())
}

/// A path of GetParametersByPath: begins with '/', valid characters, at most 15 levels.
pub fn validate_path(path: &str) -> Result<()> {
    if !path.starts_with('/')
        || !valid_chars(path)
        || path.contains("//")
        || path.len() > MAX_NAME_LEN
    {
        return Err(Error::validation(
            "The parameter path must begin with '/' and contain only letters, digits and the \
             symbols . - _ /",
        ));
    }
    check_levels(path.trim_end_matches('/'))
}

/// AWS's label rules: 1–100 of letters, digits, '.', '-', '_'; not beginning with a digit,
/// `aws` or `ssm`.
pub fn valid_label(label: &str) -> bool {
    (1..=MAX_LABEL_LEN).contains(&label.len())
        && label
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        && !label.as_bytes()[0].is_ascii_digit()
        && !reserved(label)
}

/// Which version a selector names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    Number(u64),
    Label(String),
}

/// A name as GetParameter takes it: the name (or its ARN), optionally `:version` or `:label`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub version: Option<Version>,
    /// `:3` or `:prod` as given, empty without a selector (GetParameter echoes it).
    pub suffix: String,
}

impl Selector {
    pub fn parse(input: &str, arns: &Arns) -> Result<Self> {
        // An ARN has ':' of its own; the selector is what follows the resource.
        let (head, resource) = match input.find("parameter/") {
            Some(at) if input.starts_with("arn:") => input.split_at(at),
            _ => ("", input),
        };
        let (resource, suffix) = match resource.rsplit_once(':') {
            Some((resource, selector)) => (resource, Some(selector)),
            None => (resource, None),
        };
        let name = match head.is_empty() {
            true => resource.to_string(),
            false => arns
                .parse_parameter(&format!("{head}{resource}"))
                .ok_or_else(|| Error::validation("The parameter ARN is not valid here."))?,
        };
        validate_name(&name)?;
        let version = match suffix {
            None => None,
            Some(s) if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) => {
                Some(Version::Number(s.parse().map_err(|_| {
                    Error::validation("The parameter version is out of range.")
                })?))
            }
            Some(s) if valid_label(s) => Some(Version::Label(s.to_string())),
            Some(_) => {
                return Err(Error::validation(
                    "A selector is ':' and a version number or a label.",
                ));
            }
        };
        Ok(Self {
            name,
            version,
            suffix: suffix.map(|s| format!(":{s}")).unwrap_or_default(),
        })
    }

    /// A name (or ARN) where no selector is allowed.
    pub fn plain_name(input: &str, arns: &Arns) -> Result<String> {
        let selector = Self::parse(input, arns)?;
        if selector.version.is_some() {
            return Err(Error::validation(
                "This operation takes a parameter name without a version or label.",
            ));
        }
        Ok(selector.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_rules() {
        for ok in ["db-url", "/app/prod/db.url", "/a", "A_b.c-d", "/x/awsome"] {
            validate_name(ok).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
        for bad in [
            "",
            "a b",
            "a/b",
            "/a/",
            "/a//b",
            "awsKey",
            "/SSM/x",
            "/aws/reference/x",
            "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        let deep = "/l".repeat(15);
        validate_name(&deep).unwrap();
        assert!(
            validate_name(&format!("{deep}/x"))
                .unwrap_err()
                .is(ErrorKind::HierarchyLevelLimitExceeded)
        );
        assert!(validate_name(&"a".repeat(1012)).is_err());
    }

    #[test]
    fn selectors_name_a_version_or_a_label() {
        let arns = Arns::default();
        let s = Selector::parse("/app/db:3", &arns).unwrap();
        assert_eq!(
            (s.name.as_str(), s.version, s.suffix.as_str()),
            ("/app/db", Some(Version::Number(3)), ":3")
        );
        let s = Selector::parse("/app/db:prod", &arns).unwrap();
        assert_eq!(s.version, Some(Version::Label("prod".into())));
        let s = Selector::parse(
            "arn:aws:ssm:us-east-1:000000000000:parameter/app/db:2",
            &arns,
        )
        .unwrap();
        assert_eq!(
            (s.name.as_str(), s.version),
            ("/app/db", Some(Version::Number(2)))
        );
        let s =
            Selector::parse("arn:aws:ssm:us-east-1:000000000000:parameter/plain", &arns).unwrap();
        assert_eq!((s.name.as_str(), s.version), ("plain", None));
        for bad in [
            "/app/db:",
            "/app/db:1a?",
            "arn:aws:ssm:eu-west-1:000000000000:parameter/x",
        ] {
            assert!(Selector::parse(bad, &arns).is_err(), "{bad}");
        }
        assert!(Selector::plain_name("/app/db:3", &arns).is_err());
    }

    #[test]
    fn labels_follow_aws_rules() {
        for ok in ["prod", "Release-1.2_x", "v1"] {
            assert!(valid_label(ok), "{ok}");
        }
        for bad in ["", "1st", "aws-x", "SSMx", "a b", "x:y", &"l".repeat(101)] {
            assert!(!valid_label(bad), "{bad}");
        }
    }
}
