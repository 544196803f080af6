//! Principals: users (`users.rs`), their access keys (`access_keys.rs`) and inline policies
//! (`policies.rs`), and session credentials ([`session`]) (auth.md). This file holds the service,
//! its caches and the lookups authentication makes.
//! IAM's rules live here: name shapes, at most two access keys per user, the aggregate policy size,
//! no deleting a user that still has keys or policies, session durations.
//!
//! Access key secrets are sealed under the barrier (the server needs them to check signatures, as
//! AWS does) and cached in memory after first use, zeroized on drop. Users are cached with their
//! parsed policies; every change goes to the store first, then replaces the cached entry, so a
//! deactivated key or a deleted policy takes effect on the next request.

mod access_keys;
pub mod credentials;
mod policies;
pub mod session;
mod users;

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use zeroize::Zeroizing;

pub use credentials::{Announce, Credentials, RootCredentials};
pub use policies::parse_policy;
pub use session::Session;

use crate::{
    arn::Arns,
    auth::policy::Policy,
    clock::Clock,
    crypto::barrier::{Barrier, Binding, Purpose},
    error::{Error, ErrorKind, Result},
    model::{AccessKeyRecord, AccessKeyStatus, UserRecord},
    store::{Change, Store},
};

pub const ROOT_USER: &str = "root";
/// Access keys a user may have at once (IAM's quota).
pub const MAX_ACCESS_KEYS: usize = 2;
/// The aggregate size of a user's inline policies, not counting white space (IAM's quota).
pub const MAX_USER_POLICY_CHARS: usize = 2_048;
/// The largest session policy, in bytes (as STS's packed-policy limit, roughly).
pub const MAX_SESSION_POLICY_BYTES: usize = 2_048;
/// GetSessionToken's duration bounds and default (STS's), and root's ceiling.
pub const SESSION_MIN: Duration = Duration::from_secs(900);
pub const SESSION_MAX: Duration = Duration::from_secs(129_600);
pub const SESSION_DEFAULT: Duration = Duration::from_secs(43_200);
pub const ROOT_SESSION_MAX: Duration = Duration::from_secs(3_600);
/// Opened session tokens kept in memory (a cache: a miss only costs one AEAD open).
const SESSION_CACHE: usize = 10_000;
/// Unknown access key ids remembered (a cache: a miss only costs one store read).
const UNKNOWN_KEY_CACHE: usize = 10_000;

/// A user with its ARN and parsed inline policies, as requests see it.
#[derive(Debug)]
pub struct User {
    pub record: UserRecord,
    pub arn: String,
    /// Inline policies by name, in name order.
    pub policies: Vec<(String, Arc<Policy>)>,
}

/// A usable access key with its secret. Holds a secret: `Debug` is redacted.
pub struct AccessKey {
    pub id: String,
    pub user_id: String,
    pub status: AccessKeyStatus,
    pub created_at: SystemTime,
    /// Sessions this key minted at or before this instant are void.
    pub sessions_valid_after: Option<SystemTime>,
    secret: Zeroizing<String>,
}

impl AccessKey {
    /// Whether a session this key minted at `issued_at` may still be used: not minted by an
    /// earlier key of the same id (root's key replaced at start), nor before a deactivation.
    pub fn honours_session(&self, issued_at: SystemTime) -> bool {
        issued_at >= self.created_at
            && self
                .sessions_valid_after
                .is_none_or(|after| issued_at > after)
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A freshly made access key, with the secret shown this once.
#[derive(Debug)]
pub struct NewAccessKey {
    pub user_name: String,
    pub record: AccessKeyRecord,
    pub credentials: Credentials,
}

/// Freshly minted session credentials. Holds secrets: `Debug` is redacted.
pub struct SessionCredentials {
    pub credentials: Credentials,
    /// The session token (holds the sealed secret: never log it).
    pub session_token: Zeroizing<String>,
    pub expiration: SystemTime,
}

/// A session token already opened: the token text and what it carries.
type OpenedSession = (Box<str>, Arc<Session>);

impl fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCredentials")
            .field("credentials", &self.credentials)
            .field("session_token", &"[REDACTED]")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The IAM domain service.
pub struct Iam {
    store: Arc<dyn Store>,
    barrier: Arc<Barrier>,
    clock: Arc<dyn Clock>,
    arns: Arns,
    access_keys: RwLock<HashMap<String, Arc<AccessKey>>>,
    /// Access key ids the store does not have: requests naming them are refused without a
    /// store read each (bounded; a miss costs one read).
    unknown_keys: RwLock<HashSet<String>>,
    users: RwLock<HashMap<String, Arc<User>>>,
    /// Opened session tokens by temporary access key id, with the token they came from.
    sessions: RwLock<HashMap<String, OpenedSession>>,
    /// Bumped (under the cache's write lock) whenever a cached entry is invalidated, so a lookup
    /// that read the store before an invalidation does not put its stale answer in the cache.
    generation: AtomicU64,
    /// Serializes read-check-write sequences (policy size, key limits, delete conflicts).
    writer: Mutex<()>,
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

/// IAM's name pattern `[\w+=,.@-]+` with a length limit; the error names the parameter as AWS does.
pub(crate) fn validate_name(value: &str, field: &str, max: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.chars().count() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
             Member must have length between 1 and {max} and match [\\w+=,.@-]+"
        )))
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
            unknown_keys: RwLock::new(HashSet::new()),
            users: RwLock::new(HashMap::new()),
            sessions: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            writer: Mutex::new(()),
            root_user_id: RwLock::new(None),
        }
    }

    /// The writer lock: this process's, and with replicas the store's serialization of IAM
    /// writes across them (policy sizes, key limits and delete conflicts are checked on what is
    /// still so when written).
    fn lock(&self) -> Result<(std::sync::MutexGuard<'_, ()>, crate::store::WriteGuard)> {
        Ok(crate::store::serialize(
            &self.writer,
            self.store.as_ref(),
            "iam",
        )?)
    }

    /// Makes sure the root user exists with credentials. With [`RootCredentials::Fixed`] they
    /// become root's only access key. With [`RootCredentials::Generate`] root keeps the keys it
    /// has, or on first start gets a generated one, which is handed to the announcer *before* it
    /// is stored: if it cannot be shown or saved, nothing is stored and the next start tries again.
    pub fn bootstrap_root(&self, credentials: RootCredentials) -> Result<()> {
        let _guard = self.lock()?;
        let root = match self.store.user_by_name(ROOT_USER)? {
            Some(user) => user,
            None => {
                let user = UserRecord {
                    id: credentials::random_id("AIDA")?,
                    name: ROOT_USER.into(),
                    created_at: self.clock.now(),
                    sessions_valid_after: None,
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
                let kept = existing
                    .iter()
                    .find(|k| matches && k.id == creds.access_key_id);
                if let Some(kept) = kept {
                    // A key deactivated in a previous run is what the operator asks to use (its
                    // old sessions stay void).
                    self.store.update_access_key(&AccessKeyRecord {
                        status: AccessKeyStatus::Active,
                        ..kept.clone()
                    })?;
                } else {
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
                self.insert_access_key(&root, &creds).map(|_| ())
            }
        }
    }

    fn insert_access_key(&self, user: &UserRecord, creds: &Credentials) -> Result<AccessKeyRecord> {
        let sealed = self.barrier.seal(
            Purpose::AccessKey,
            &secret_binding(&creds.access_key_id, &user.id),
            creds.secret_access_key.as_bytes(),
        )?;
        let record = AccessKeyRecord {
            id: creds.access_key_id.clone(),
            user_id: user.id.clone(),
            status: AccessKeyStatus::Active,
            created_at: self.clock.now(),
            sealed_secret: sealed,
            sessions_valid_after: None,
        };
        let inserted = self.store.insert_access_key(&record, MAX_ACCESS_KEYS)?;
        {
            let mut unknown = self.unknown_keys.write().expect("unknown key cache");
            unknown.remove(&record.id);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        if !inserted {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS} (user {}).",
                    user.name
                ),
            ));
        }
        Ok(record)
    }

    /// Opens the secret of every access key (a check after copying the vault: `vaultctl admin
    /// migrate`): returns how many opened. Changes nothing.
    pub fn verify_secrets(&self) -> Result<usize> {
        let mut opened = 0;
        let mut after: Option<String> = None;
        loop {
            let users = self.store.list_users(after.as_deref(), 100)?;
            let Some(last) = users.last() else {
                return Ok(opened);
            };
            after = Some(last.name.clone());
            for user in &users {
                for key in self.store.access_keys_of(&user.id)? {
                    self.open_secret(&key)?;
                    opened += 1;
                }
            }
        }
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

    /// Whether `user_id` is the root user's.
    pub fn is_root_user(&self, user_id: &str) -> bool {
        self.root_user_id.read().expect("root user id").as_deref() == Some(user_id)
    }

    pub fn arns(&self) -> &Arns {
        &self.arns
    }

    // --- Lookups for authentication (memory first) -----------------------------------------

    /// The access key `id` if it is in memory.
    pub fn cached_access_key(&self, id: &str) -> Option<Arc<AccessKey>> {
        self.access_keys
            .read()
            .expect("access key cache")
            .get(id)
            .cloned()
    }

    /// Whether the store was found not to have access key `id` (and nothing changed since).
    pub fn is_unknown_access_key(&self, id: &str) -> bool {
        self.unknown_keys
            .read()
            .expect("unknown key cache")
            .contains(id)
    }

    /// The access key `id` with its secret, from memory after first use.
    pub fn access_key(&self, id: &str) -> Result<Option<Arc<AccessKey>>> {
        if let Some(key) = self.cached_access_key(id) {
            return Ok(Some(key));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(record) = self.store.access_key(id)? else {
            let mut unknown = self.unknown_keys.write().expect("unknown key cache");
            if self.generation.load(Ordering::Acquire) == generation {
                if unknown.len() >= UNKNOWN_KEY_CACHE {
                    unknown.clear();
                }
                unknown.insert(id.to_string());
            }
            return Ok(None);
        };
        let key = Arc::new(AccessKey {
            secret: self.open_secret(&record)?,
            id: record.id,
            user_id: record.user_id,
            status: record.status,
            created_at: record.created_at,
            sessions_valid_after: record.sessions_valid_after,
        });
        let mut cache = self.access_keys.write().expect("access key cache");
        if self.generation.load(Ordering::Acquire) == generation {
            cache.insert(key.id.clone(), key.clone());
        }
        Ok(Some(key))
    }

    /// The user `id` if it is in memory.
    pub fn cached_user(&self, id: &str) -> Option<Arc<User>> {
        self.users.read().expect("user cache").get(id).cloned()
    }

    /// The user `id` with its policies, from memory after first use.
    pub fn user_by_id(&self, id: &str) -> Result<Option<Arc<User>>> {
        if let Some(user) = self.cached_user(id) {
            return Ok(Some(user));
        }
        let generation = self.generation.load(Ordering::Acquire);
        match self.store.user(id)? {
            Some(record) => self.load_user(record, generation).map(Some),
            None => Ok(None),
        }
    }

    /// Reads a user's policies and (re)places the user in the cache, unless an invalidation
    /// happened since `generation` was read (before `record` was).
    fn load_user(&self, record: UserRecord, generation: u64) -> Result<Arc<User>> {
        let mut policies = Vec::new();
        for stored in self.store.user_policies(&record.id)? {
            let policy = Policy::parse(&stored.document).map_err(|e| {
                tracing::error!(user = %record.name, policy = %stored.name, error = %e, "stored policy does not parse");
                Error::internal("A stored policy is damaged.")
            })?;
            policies.push((stored.name, Arc::new(policy)));
        }
        let user = Arc::new(User {
            arn: self.arns.user(&record.name),
            record,
            policies,
        });
        let mut cache = self.users.write().expect("user cache");
        if self.generation.load(Ordering::Acquire) == generation {
            cache.insert(user.record.id.clone(), user.clone());
        }
        Ok(user)
    }

    /// Drops what the caches hold of something another replica changed (an access key also
    /// leaves the unknown set: it may exist now).
    pub fn forget(&self, change: &Change) {
        match change {
            Change::User(id) => self.forget_user(id),
            Change::AccessKey(id) => {
                self.forget_access_key(id);
                let mut unknown = self.unknown_keys.write().expect("unknown key cache");
                unknown.remove(id);
                self.generation.fetch_add(1, Ordering::AcqRel);
            }
            Change::All => {
                let mut users = self.users.write().expect("user cache");
                let mut keys = self.access_keys.write().expect("access key cache");
                let mut unknown = self.unknown_keys.write().expect("unknown key cache");
                users.clear();
                keys.clear();
                unknown.clear();
                self.generation.fetch_add(1, Ordering::AcqRel);
            }
            Change::Key(_) | Change::Alias(_) => {}
        }
    }

    fn forget_user(&self, id: &str) {
        let mut cache = self.users.write().expect("user cache");
        cache.remove(id);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn forget_access_key(&self, id: &str) {
        let mut cache = self.access_keys.write().expect("access key cache");
        cache.remove(id);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Opens a session token presented with `access_key_id` (memory first). `None` when it is
    /// not a token of this vault for that key id.
    pub fn session(&self, token: &str, access_key_id: &str) -> Option<Arc<Session>> {
        if let Some((seen, session)) = self
            .sessions
            .read()
            .expect("session cache")
            .get(access_key_id)
            && subtle::ConstantTimeEq::ct_eq(seen.as_bytes(), token.as_bytes()).into()
        {
            return Some(session.clone());
        }
        let session = Arc::new(session::open(&self.barrier, token, access_key_id)?);
        let mut cache = self.sessions.write().expect("session cache");
        if cache.len() >= SESSION_CACHE {
            let now = self.clock.now();
            cache.retain(|_, (_, s)| s.expiration > now);
            if cache.len() >= SESSION_CACHE {
                cache.clear();
            }
        }
        cache.insert(access_key_id.to_string(), (token.into(), session.clone()));
        Some(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock::ManualClock, crypto::barrier::Keyring, store::SqliteStore};

    fn fixed(secret: &str) -> RootCredentials {
        RootCredentials::Fixed(Credentials {
            access_key_id: "AKIAEXAMPLEKEY234567".into(),
            secret_access_key: Zeroizing::new(secret.into()),
        })
    }

    #[test]
    fn replacing_roots_key_at_start_voids_the_sessions_the_old_one_minted() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("vault.db")).unwrap());
        let barrier = Arc::new(Barrier::new(&Keyring::generate(0).unwrap(), b"db"));
        let clock = Arc::new(ManualClock::starting_now());
        let iam = Iam::new(store, barrier, clock.clone(), Arns::default());
        let old_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        iam.bootstrap_root(fixed(old_secret)).unwrap();
        let root = iam.access_key("AKIAEXAMPLEKEY234567").unwrap().unwrap();
        let minted = iam
            .get_session_token(&root.user_id, &root.id, None, None)
            .unwrap();
        let session = iam
            .session(&minted.session_token, &minted.credentials.access_key_id)
            .unwrap();
        assert!(root.honours_session(session.issued_at));
        assert!(!format!("{minted:?}").contains(minted.session_token.as_str()));

        // The same start with the same secret keeps the key and its sessions.
        clock.advance(Duration::from_secs(1));
        iam.bootstrap_root(fixed(old_secret)).unwrap();
        let kept = iam.access_key("AKIAEXAMPLEKEY234567").unwrap().unwrap();
        assert!(kept.honours_session(session.issued_at));

        // A new secret under the same id is a new key: the old key's sessions are void.
        clock.advance(Duration::from_secs(1));
        iam.bootstrap_root(fixed("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
            .unwrap();
        let replaced = iam.access_key("AKIAEXAMPLEKEY234567").unwrap().unwrap();
        assert_eq!(
            replaced.secret(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
        assert!(!replaced.honours_session(session.issued_at));
    }
}
