//! Session tokens (auth.md, Sessions): self-contained, sealed under the barrier's session-token
//! subkey, so no session is ever written to the store and any replica sharing the store can check
//! one. The barrier's term in the sealed header is the token key's version, so the key can rotate.
//!
//! A token is base64url (no padding) of the sealed bytes; the sealed plaintext is
//!
//! ```text
//! 0x01 (format) || u16 len || user id || u16 len || minting access key id
//!      || u16 len || temporary access key id || u16 len || temporary secret
//!      || i64 issued-at ms || i64 expiration ms || u32 len || session policy (JSON, may be empty)
//! ```
//!
//! (big-endian lengths), bound by AAD to the temporary access key id: a token presented with any
//! other key id does not open. Revocation is by state the token points at: the minting key must
//! still exist and be Active, and the user's `sessions_valid_after` must precede issue.
//!
//! Minting (GetSessionToken's rules: durations, root's ceiling, the session policy) is here too.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use super::{
    Credentials, Iam, MAX_SESSION_POLICY_BYTES, ROOT_SESSION_MAX, SESSION_DEFAULT, SESSION_MAX,
    SESSION_MIN, SessionCredentials, credentials, parse_policy,
};
use crate::{
    auth::policy::Policy,
    clock::{from_millis, to_millis},
    crypto::barrier::{Barrier, Binding, Purpose},
    error::Error,
};

const FORMAT: u8 = 1;
/// Longest token accepted (a maximal session policy seals to well under this).
const MAX_TOKEN_LEN: usize = 8 * 1024;

fn binding(access_key_id: &str) -> Binding<'_> {
    Binding {
        table: "sessions",
        column: "token",
        stable_id: access_key_id.as_bytes(),
        immutable: b"",
    }
}

/// What a session token carries. Holds the temporary secret: `Debug` is redacted.
pub struct Session {
    pub user_id: String,
    /// The long-term access key whose holder asked for the session.
    pub minted_by: String,
    pub access_key_id: String,
    secret: Zeroizing<String>,
    pub issued_at: SystemTime,
    pub expiration: SystemTime,
    /// The inline policy that narrows the session, if any.
    pub policy: Option<Arc<Policy>>,
}

impl Session {
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("minted_by", &self.minted_by)
            .field("access_key_id", &self.access_key_id)
            .field("issued_at", &self.issued_at)
            .field("expiration", &self.expiration)
            .field("policy", &self.policy.is_some())
            .finish_non_exhaustive()
    }
}

/// The claims to seal into a new token.
pub struct Claims<'a> {
    pub user_id: &'a str,
    pub minted_by: &'a str,
    pub access_key_id: &'a str,
    pub secret: &'a str,
    pub issued_at: SystemTime,
    pub expiration: SystemTime,
    pub policy: Option<&'a str>,
}

/// Seals claims into a token.
pub fn seal(barrier: &Barrier, claims: &Claims<'_>) -> crate::error::Result<String> {
    let mut plain = Zeroizing::new(Vec::with_capacity(128));
    plain.push(FORMAT);
    for field in [
        claims.user_id,
        claims.minted_by,
        claims.access_key_id,
        claims.secret,
    ] {
        let len = u16::try_from(field.len())
            .map_err(|_| crate::error::Error::internal("A session field is too long."))?;
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(field.as_bytes());
    }
    plain.extend_from_slice(&to_millis(claims.issued_at).to_be_bytes());
    plain.extend_from_slice(&to_millis(claims.expiration).to_be_bytes());
    let policy = claims.policy.unwrap_or("");
    plain.extend_from_slice(&(policy.len() as u32).to_be_bytes());
    plain.extend_from_slice(policy.as_bytes());
    let sealed = barrier.seal(
        Purpose::SessionToken,
        &binding(claims.access_key_id),
        &plain,
    )?;
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// Opens a token presented with `access_key_id`. `None` for anything that is not a token this
/// vault sealed for that key id (the caller answers "invalid token" without saying why).
pub fn open(barrier: &Barrier, token: &str, access_key_id: &str) -> Option<Session> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let sealed = URL_SAFE_NO_PAD.decode(token).ok()?;
    let plain = barrier
        .open(Purpose::SessionToken, &binding(access_key_id), &sealed)
        .ok()?;
    let mut reader = Reader(&plain);
    if reader.take(1)? != [FORMAT] {
        return None;
    }
    let user_id = reader.string16()?;
    let minted_by = reader.string16()?;
    let key_id = reader.string16()?;
    let secret = Zeroizing::new(reader.string16()?);
    let issued_at = from_millis(i64::from_be_bytes(reader.take(8)?.try_into().ok()?));
    let expiration = from_millis(i64::from_be_bytes(reader.take(8)?.try_into().ok()?));
    let policy_len = u32::from_be_bytes(reader.take(4)?.try_into().ok()?) as usize;
    let policy_text = std::str::from_utf8(reader.take(policy_len)?).ok()?;
    if !reader.0.is_empty() || key_id != access_key_id {
        return None;
    }
    let policy = if policy_text.is_empty() {
        None
    } else {
        // It was validated when the session was made; a failure here means a damaged token.
        Some(Arc::new(Policy::parse(policy_text).ok()?))
    };
    Some(Session {
        user_id,
        minted_by,
        access_key_id: key_id,
        secret,
        issued_at,
        expiration,
        policy,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn string16(&mut self) -> Option<String> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

impl Iam {
    /// Mints session credentials for the holder of long-term key `minted_by` (GetSessionToken).
    /// The caller has checked that the request was not itself made with session credentials.
    pub fn get_session_token(
        &self,
        user_id: &str,
        minted_by: &str,
        duration_seconds: Option<i32>,
        policy: Option<&str>,
    ) -> crate::error::Result<SessionCredentials> {
        let requested = match duration_seconds {
            None => SESSION_DEFAULT,
            Some(secs) => {
                let secs = u64::try_from(secs).unwrap_or(0);
                let d = Duration::from_secs(secs);
                if d < SESSION_MIN || d > SESSION_MAX {
                    return Err(Error::validation(format!(
                        "1 validation error detected: Value '{secs}' at 'durationSeconds' failed to satisfy \
                         constraint: Member must have value between {} and {}",
                        SESSION_MIN.as_secs(),
                        SESSION_MAX.as_secs()
                    )));
                }
                d
            }
        };
        let duration = if self.is_root_user(user_id) {
            requested.min(ROOT_SESSION_MAX)
        } else {
            requested
        };
        if let Some(policy) = policy {
            // Bytes, not characters: the token that carries the policy has a byte limit.
            if policy.len() > MAX_SESSION_POLICY_BYTES {
                return Err(Error::validation(format!(
                    "The session policy is longer than {MAX_SESSION_POLICY_BYTES} bytes."
                )));
            }
            parse_policy(policy)?;
        }
        let credentials = Credentials::generate_with_prefix(credentials::TEMPORARY_PREFIX)?;
        let issued_at = self.clock.now();
        let expiration = issued_at + duration;
        let token = seal(
            &self.barrier,
            &Claims {
                user_id,
                minted_by,
                access_key_id: &credentials.access_key_id,
                secret: &credentials.secret_access_key,
                issued_at,
                expiration,
                policy,
            },
        )?;
        Ok(SessionCredentials {
            credentials,
            session_token: Zeroizing::new(token),
            expiration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::barrier::Keyring;

    fn barrier() -> Barrier {
        Barrier::new(&Keyring::generate(0).unwrap(), b"database")
    }

    fn claims<'a>(policy: Option<&'a str>) -> Claims<'a> {
        Claims {
            user_id: "AIDAUSER",
            minted_by: "AKIAMINTER",
            access_key_id: "ASIATEMPORARY",
            secret: "temporary-secret",
            issued_at: from_millis(1_000),
            expiration: from_millis(2_000),
            policy,
        }
    }

    #[test]
    fn a_token_round_trips_its_claims() {
        let barrier = barrier();
        let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}"#;
        let token = seal(&barrier, &claims(Some(policy))).unwrap();
        let session = open(&barrier, &token, "ASIATEMPORARY").unwrap();
        assert_eq!(session.user_id, "AIDAUSER");
        assert_eq!(session.minted_by, "AKIAMINTER");
        assert_eq!(session.secret(), "temporary-secret");
        assert_eq!(session.issued_at, from_millis(1_000));
        assert_eq!(session.expiration, from_millis(2_000));
        assert!(session.policy.is_some());
        assert!(!format!("{session:?}").contains("temporary-secret"));
        assert!(!token.contains("temporary-secret"));
    }

    #[test]
    fn a_token_opens_only_for_its_key_id_and_vault_and_intact() {
        let barrier = barrier();
        let token = seal(&barrier, &claims(None)).unwrap();
        assert!(
            open(&barrier, &token, "ASIATEMPORARY")
                .unwrap()
                .policy
                .is_none()
        );
        assert!(open(&barrier, &token, "ASIAOTHER").is_none());
        assert!(open(&self::barrier(), &token, "ASIATEMPORARY").is_none());
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let last = bytes.len() - 20;
        bytes[last] ^= 1;
        assert!(open(&barrier, &URL_SAFE_NO_PAD.encode(bytes), "ASIATEMPORARY").is_none());
        assert!(open(&barrier, "not a token", "ASIATEMPORARY").is_none());
        assert!(open(&barrier, &"A".repeat(MAX_TOKEN_LEN + 1), "ASIATEMPORARY").is_none());
    }
}
