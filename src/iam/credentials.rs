//! Long-term and temporary credentials: their shapes (auth.md, Credentials), generation and
//! validation, and where the root user's come from.

use std::fmt;

use base64::Engine;
use zeroize::Zeroizing;

use crate::{crypto::random_array, error::Result};

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The prefix of long-term access key ids.
pub const LONG_TERM_PREFIX: &str = "AKIA";
/// The prefix of temporary (session) access key ids.
pub const TEMPORARY_PREFIX: &str = "ASIA";

/// `prefix` followed by 16 random characters of `[A-Z2-7]` (80 random bits).
pub fn random_id(prefix: &str) -> Result<String> {
    Ok(format!("{prefix}{}", base32(&random_array::<10>()?)))
}

/// 40 random base64 characters (240 bits).
pub fn random_secret() -> Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(random_array::<30>()?);
    Ok(Zeroizing::new(
        base64::engine::general_purpose::STANDARD.encode(bytes.as_slice()),
    ))
}

/// An access key id and its secret. Holds a secret: `Debug` is redacted, the secret is zeroized.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .finish()
    }
}

impl Credentials {
    /// Fresh long-term credentials: `AKIA` + 16 of `[A-Z2-7]`, and 40 base64 characters.
    pub fn generate() -> Result<Self> {
        Self::generate_with_prefix(LONG_TERM_PREFIX)
    }

    /// Fresh credentials whose id starts with `prefix` (`AKIA` or `ASIA`).
    pub fn generate_with_prefix(prefix: &str) -> Result<Self> {
        Ok(Self {
            access_key_id: random_id(prefix)?,
            secret_access_key: random_secret()?,
        })
    }

    /// Checks the shapes of auth.md (operator-supplied credentials must look like generated ones).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let id_ok = self.access_key_id.len() == 20
            && self.access_key_id.starts_with(LONG_TERM_PREFIX)
            && self.access_key_id[4..].bytes().all(|c| BASE32.contains(&c));
        if !id_ok {
            return Err("an access key id is AKIA followed by 16 characters of A-Z and 2-7".into());
        }
        let secret_ok = self.secret_access_key.len() == 40
            && self
                .secret_access_key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/');
        if !secret_ok {
            return Err("a secret access key is 40 characters of A-Z, a-z, 0-9, + and /".into());
        }
        Ok(())
    }
}

pub(crate) fn base32(bytes: &[u8; 10]) -> String {
    let mut out = String::with_capacity(16);
    // 80 bits → 16 symbols of 5 bits, taken in two 40-bit halves.
    for half in [&bytes[..5], &bytes[5..]] {
        let v = half.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        for i in (0..8).rev() {
            out.push(BASE32[((v >> (i * 5)) & 31) as usize] as char);
        }
    }
    out
}

/// Where root's credentials come from.
pub enum RootCredentials {
    /// Operator-supplied (e.g. from the environment): they become root's only access key.
    Fixed(Credentials),
    /// Generated on first start and handed to this function (to print and save) before they are
    /// stored; later starts keep root's existing keys.
    Generate(Announce),
}

/// Shows or saves freshly generated root credentials; an error stops the start.
pub type Announce = Box<dyn FnOnce(&Credentials) -> std::result::Result<(), String> + Send>;

impl fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootCredentials::Fixed(creds) => f.debug_tuple("Fixed").field(creds).finish(),
            RootCredentials::Generate(_) => f.write_str("Generate"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_have_the_documented_shape() {
        for _ in 0..50 {
            let creds = Credentials::generate().unwrap();
            creds.validate().unwrap();
        }
        let shown = format!("{:?}", Credentials::generate().unwrap());
        assert!(shown.contains("[REDACTED]"));
    }

    #[test]
    fn base32_encodes_80_bits_as_16_symbols() {
        assert_eq!(base32(&[0; 10]), "AAAAAAAAAAAAAAAA");
        assert_eq!(base32(&[0xff; 10]), "7777777777777777");
        assert_eq!(base32(&[0, 0, 0, 0, 1, 0, 0, 0, 0, 0]), "AAAAAAABAAAAAAAA");
    }

    #[test]
    fn operator_credentials_are_validated() {
        let ok = Credentials {
            access_key_id: "AKIAEXAMPLEKEY234567".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
        };
        ok.validate().unwrap();
        let bad_id = Credentials {
            access_key_id: "AKIAexample".into(),
            ..ok.clone()
        };
        assert!(bad_id.validate().is_err());
        let bad_secret = Credentials {
            secret_access_key: Zeroizing::new("short".into()),
            ..ok
        };
        assert!(bad_secret.validate().is_err());
    }
}
