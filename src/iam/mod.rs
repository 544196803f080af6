//! Principals: users and their access keys. For now the root user only, created on first start;
//! users, inline policies and sessions build on this (issue "Identity").
//!
//! Access key secrets are sealed under the barrier (the server needs them to check signatures, as
//! AWS does) and cached in memory after first use, zeroized on drop.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
};

use base64::Engine;
use zeroize::Zeroizing;

use crate::{
    arn::Arns,
    clock::Clock,
    crypto::{
        barrier::{Barrier, Binding, Purpose},
        random_array,
    },
    error::{Error, Result},
    model::{AccessKeyRecord, AccessKeyStatus, UserRecord},
    store::Store,
};

pub const ROOT_USER: &str = "root";
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

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
        let id_bytes = random_array::<10>()?;
        let secret_bytes = Zeroizing::new(random_array::<30>()?);
        Ok(Self {
            access_key_id: format!("AKIA{}", base32(&id_bytes)),
            secret_access_key: Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(secret_bytes.as_slice()),
            ),
        })
    }

    /// Checks the shapes of auth.md (operator-supplied credentials must look like generated ones).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let id_ok = self.access_key_id.len() == 20
            && self.access_key_id.starts_with("AKIA")
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

fn base32(bytes: &[u8; 10]) -> String {
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

/// A usable access key: its owner and its secret. Holds a secret: `Debug` is redacted.
pub struct AccessKey {
    pub id: String,
    pub user: UserRecord,
    pub user_arn: String,
    pub status: AccessKeyStatus,
    secret: Zeroizing<String>,
}

impl AccessKey {
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("user", &self.user.name)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The IAM domain service.
pub struct Iam {
    store: Arc<dyn Store>,
    barrier: Arc<Barrier>,
    clock: Arc<dyn Clock>,
    arns: Arns,
    access_keys: RwLock<HashMap<String, Arc<AccessKey>>>,
    /// Set by [`Iam::bootstrap_root`].
    root_user_id: RwLock<Option<String>>,
}

impl fmt::Debug for Iam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iam").finish_non_exhaustive()
    }
}

fn secret_binding<'a>(key_id: &'a str, user_id: &'a str) -> Binding<'a> {
    Binding {
        table: "access_keys",
        column: "sealed_secret",
        stable_id: key_id.as_bytes(),
        immutable: user_id.as_bytes(),
    }
}

impl Iam {
    pub fn new(
        store: Arc<dyn Store>,
        barrier: Arc<Barrier>,
        clock: Arc<dyn Clock>,
        arns: Arns,
    ) -> Self {
        Self {
            store,
            barrier,
            clock,
            arns,
            access_keys: RwLock::new(HashMap::new()),
            root_user_id: RwLock::new(None),
        }
    }

    /// Makes sure the root user exists with credentials. With [`RootCredentials::Fixed`] they
    /// become root's only access key. With [`RootCredentials::Generate`] root keeps the keys it
    /// has, or on first start gets a generated one, which is handed to the announcer *before* it
    /// is stored: if it cannot be shown or saved, nothing is stored and the next start tries again.
    pub fn bootstrap_root(&self, credentials: RootCredentials) -> Result<()> {
        let root = match self.store.user_by_name(ROOT_USER)? {
            Some(user) => user,
            None => {
                let user = UserRecord {
                    id: format!("AIDA{}", base32(&random_array::<10>()?)),
                    name: ROOT_USER.into(),
                    created_at: self.clock.now(),
                };
                self.store.insert_user(&user)?;
                user
            }
        };
        *self.root_user_id.write().expect("root user id") = Some(root.id.clone());
        let existing = self.store.access_keys_of(&root.id)?;
        match credentials {
            RootCredentials::Fixed(creds) => {
                let matches = existing
                    .iter()
                    .find(|k| k.id == creds.access_key_id)
                    .is_some_and(|k| {
                        self.open_secret(k).is_ok_and(|s| {
                            subtle::ConstantTimeEq::ct_eq(
                                s.as_bytes(),
                                creds.secret_access_key.as_bytes(),
                            )
                            .into()
                        })
                    });
                for key in existing
                    .iter()
                    .filter(|k| !(matches && k.id == creds.access_key_id))
                {
                    self.store.delete_access_key(&key.id)?;
                }
                if !matches {
                    self.insert_access_key(&root, &creds)?;
                }
                self.access_keys.write().expect("access key cache").clear();
                Ok(())
            }
            RootCredentials::Generate(_) if !existing.is_empty() => Ok(()),
            RootCredentials::Generate(announce) => {
                let creds = Credentials::generate()?;
                announce(&creds).map_err(|e| {
                    Error::internal(format!(
                        "the generated root credentials could not be saved: {e}"
                    ))
                })?;
                self.insert_access_key(&root, &creds)
            }
        }
    }

    fn insert_access_key(&self, user: &UserRecord, creds: &Credentials) -> Result<()> {
        let sealed = self.barrier.seal(
            Purpose::AccessKey,
            &secret_binding(&creds.access_key_id, &user.id),
            creds.secret_access_key.as_bytes(),
        )?;
        self.store.insert_access_key(&AccessKeyRecord {
            id: creds.access_key_id.clone(),
            user_id: user.id.clone(),
            status: AccessKeyStatus::Active,
            created_at: self.clock.now(),
            sealed_secret: sealed,
        })?;
        Ok(())
    }

    fn open_secret(&self, record: &AccessKeyRecord) -> Result<Zeroizing<String>> {
        let plain = self.barrier.open(
            Purpose::AccessKey,
            &secret_binding(&record.id, &record.user_id),
            &record.sealed_secret,
        )?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| Error::internal("An access key secret is damaged."))
    }

    /// The access key `id` if it is in memory.
    pub fn cached_access_key(&self, id: &str) -> Option<Arc<AccessKey>> {
        self.access_keys
            .read()
            .expect("access key cache")
            .get(id)
            .cloned()
    }

    /// Whether `user_id` is the root user's.
    pub fn is_root_user(&self, user_id: &str) -> bool {
        self.root_user_id.read().expect("root user id").as_deref() == Some(user_id)
    }

    /// The access key `id` with its owner and secret, from memory after first use.
    pub fn access_key(&self, id: &str) -> Result<Option<Arc<AccessKey>>> {
        if let Some(key) = self.access_keys.read().expect("access key cache").get(id) {
            return Ok(Some(key.clone()));
        }
        let Some(record) = self.store.access_key(id)? else {
            return Ok(None);
        };
        let Some(user) = self.store.user(&record.user_id)? else {
            return Ok(None);
        };
        let key = Arc::new(AccessKey {
            secret: self.open_secret(&record)?,
            id: record.id,
            user_arn: self.arns.user(&user.name),
            user,
            status: record.status,
        });
        self.access_keys
            .write()
            .expect("access key cache")
            .insert(key.id.clone(), key.clone());
        Ok(Some(key))
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
