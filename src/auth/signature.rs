//! The request signature of auth.md: an HMAC-SHA256 over the date, the gRPC method path and the
//! hash of the session token, sent in gRPC metadata. No body hashing, so a client in any language
//! can sign in a small interceptor.
//!
//! ```text
//! x-vault-date:           20261126T031618Z
//! x-vault-security-token: <session token>          (temporary credentials only)
//! authorization:          VAULT-HMAC-SHA256 Credential=<access key id>, Signature=<64 lowercase hex>
//! ```

use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::crypto::{hmac_sha256, sha256};

pub const ALGORITHM: &str = "VAULT-HMAC-SHA256";
pub const DATE_HEADER: &str = "x-vault-date";
pub const SECURITY_TOKEN_HEADER: &str = "x-vault-security-token";
pub const AUTHORIZATION_HEADER: &str = "authorization";
/// How far a request's date may be from the server clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The string to sign: algorithm, date, method path and the hex SHA-256 of the session token (or
/// of the empty string), joined with `\n`.
pub fn string_to_sign(date: &str, method_path: &str, session_token: Option<&str>) -> String {
    let token_hash = hex::encode(sha256(session_token.unwrap_or("").as_bytes()));
    format!("{ALGORITHM}\n{date}\n{method_path}\n{token_hash}")
}

/// The signature bytes for a request.
pub fn signature(
    secret_access_key: &str,
    date: &str,
    method_path: &str,
    session_token: Option<&str>,
) -> [u8; 32] {
    hmac_sha256(
        secret_access_key.as_bytes(),
        string_to_sign(date, method_path, session_token).as_bytes(),
    )
}

/// The `authorization` header value for a request.
pub fn authorization_header(
    access_key_id: &str,
    secret_access_key: &str,
    date: &str,
    method_path: &str,
    session_token: Option<&str>,
) -> String {
    let sig = signature(secret_access_key, date, method_path, session_token);
    format!(
        "{ALGORITHM} Credential={access_key_id}, Signature={}",
        hex::encode(sig)
    )
}

/// A parsed `authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub signature: [u8; 32],
}

/// Parses `VAULT-HMAC-SHA256 Credential=<id>, Signature=<64 lowercase hex>`; `None` if malformed.
pub fn parse_authorization(value: &str) -> Option<Authorization> {
    let rest = value.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (credential, signature) = rest.split_once(',')?;
    let access_key_id = credential.trim().strip_prefix("Credential=")?;
    let signature = signature.trim().strip_prefix("Signature=")?;
    let valid_id = !access_key_id.is_empty()
        && access_key_id.len() <= 128
        && access_key_id.bytes().all(|c| c.is_ascii_alphanumeric());
    let valid_sig = signature.len() == 64
        && signature
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if !valid_id || !valid_sig {
        return None;
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(signature, &mut bytes).ok()?;
    Some(Authorization {
        access_key_id: access_key_id.to_string(),
        signature: bytes,
    })
}

/// Checks a signature in constant time.
pub fn verify(
    secret_access_key: &str,
    date: &str,
    method_path: &str,
    session_token: Option<&str>,
    claimed: &[u8; 32],
) -> bool {
    signature(secret_access_key, date, method_path, session_token)
        .ct_eq(claimed)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ID: &str = "AKIAEXAMPLEKEY234567";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20261126T031618Z";
    const METHOD: &str = "/vault.v1.KeyManagement/Encrypt";

    #[test]
    fn auth_md_test_vectors() {
        assert_eq!(
            hex::encode(signature(SECRET, DATE, METHOD, None)),
            "793a5d4ca6c877f4ee43cdc306e54042e4187f92d5d91a60bcf02d86a25d2459"
        );
        assert_eq!(
            hex::encode(signature(
                SECRET,
                DATE,
                METHOD,
                Some("example-session-token")
            )),
            "50f2494179bb6ce7e5f12b3a2e7bd0225e51f8def40f56ae10f2adb254e34dba"
        );
    }

    #[test]
    fn header_round_trip() {
        let header = authorization_header(KEY_ID, SECRET, DATE, METHOD, None);
        assert_eq!(
            header,
            "VAULT-HMAC-SHA256 Credential=AKIAEXAMPLEKEY234567, \
             Signature=793a5d4ca6c877f4ee43cdc306e54042e4187f92d5d91a60bcf02d86a25d2459"
        );
        let parsed = parse_authorization(&header).unwrap();
        assert_eq!(parsed.access_key_id, KEY_ID);
        assert!(verify(SECRET, DATE, METHOD, None, &parsed.signature));
        assert!(!verify(
            SECRET,
            DATE,
            "/vault.v1.KeyManagement/Decrypt",
            None,
            &parsed.signature
        ));
        assert!(!verify(
            SECRET,
            "20261126T031619Z",
            METHOD,
            None,
            &parsed.signature
        ));
        assert!(!verify(
            SECRET,
            DATE,
            METHOD,
            Some("token"),
            &parsed.signature
        ));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let sig = "793a5d4ca6c877f4ee43cdc306e54042e4187f92d5d91a60bcf02d86a25d2459";
        for bad in [
            String::new(),
            format!("AWS4-HMAC-SHA256 Credential={KEY_ID}, Signature={sig}"),
            format!("VAULT-HMAC-SHA256 Credential={KEY_ID} Signature={sig}"),
            format!("VAULT-HMAC-SHA256 Credential=, Signature={sig}"),
            format!(
                "VAULT-HMAC-SHA256 Credential={KEY_ID}, Signature={}",
                sig.to_uppercase()
            ),
            format!(
                "VAULT-HMAC-SHA256 Credential={KEY_ID}, Signature={}",
                &sig[..62]
            ),
            format!("VAULT-HMAC-SHA256 Signature={sig}, Credential={KEY_ID}"),
        ] {
            assert_eq!(parse_authorization(&bad), None, "{bad}");
        }
    }
}
