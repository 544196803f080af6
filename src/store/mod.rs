//! Persistence behind one trait, [`Store`], with two engines the domain cannot tell apart:
//! [`SqliteStore`] (embedded, one process) and [`PostgresStore`] (several processes, replicas,
//! sharing one database). The store keeps what it is given: it never sees plaintext key
//! material or secrets (those arrive sealed by the barrier) and it enforces no business rules.
//!
//! Every method is one transaction: a method that returns `Ok` has committed durably (for SQLite:
//! WAL with `synchronous=FULL`, so an acknowledged write survives `kill -9` and power loss; for
//! PostgreSQL: as the server commits, durably unless it is configured otherwise).

#[cfg(test)]
mod conformance;
mod copy;
pub mod postgres;
pub mod sqlite;

use std::time::SystemTime;

use uuid::Uuid;

use crate::model::{
    AccessKeyRecord, AliasRecord, AuditQuery, AuditRecord, KeyRecord, MaterialVersion,
    ParameterVersionRecord, SecretRecord, SecretVersionRecord, Tag, UserPolicyRecord, UserRecord,
};

pub use copy::{CopyReport, copy_store, is_keyring_row};
pub use postgres::PostgresStore;
pub use sqlite::{SnapshotInfo, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend cannot be reached or written (disk full, locked, I/O error). Retryable.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or reference constraint refused the write.
    #[error("storage conflict: {0}")]
    Conflict(String),
    /// Stored data does not decode.
    #[error("corrupt storage: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which engine a store is, for what only one of them can do (file snapshots are SQLite's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A change made by another process sharing the store (a replica), so that caches drop what they
/// hold of it. Only what the domain caches is reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A key's metadata or material (including its deletion).
    Key(Uuid),
    /// An alias (created, moved or deleted).
    Alias(String),
    /// A user (by id): the user itself, its inline policies or its session revocation.
    User(String),
    /// An access key (by id): created, changed or deleted.
    AccessKey(String),
    /// Changes may have been missed (the feed was down or is behind): drop everything cached.
    All,
}

/// Where a store reports [`Change`]s; called from the store's own thread, so it must not block
/// for long.
pub type ChangeSink = std::sync::Arc<dyn Fn(&Change) + Send + Sync>;

/// Held while a read-check-write sequence runs; replicas sharing the store run the sequences of
/// one scope one at a time (see [`Store::serialize_writes`]). Dropping it lets the next one run.
pub struct WriteGuard(#[allow(dead_code)] Option<Box<dyn Send>>);

impl WriteGuard {
    /// A guard that holds nothing (a store only one process uses).
    pub fn none() -> Self {
        WriteGuard(None)
    }

    pub fn new(held: Box<dyn Send>) -> Self {
        WriteGuard(Some(held))
    }
}

impl std::fmt::Debug for WriteGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteGuard")
    }
}

/// A domain service's writer lock: its own mutex (one write at a time in this process), then the
/// store's [`Store::serialize_writes`] for `scope` (one at a time across replicas), so that what
/// a write read and checked is still so when it writes.
pub fn serialize<'a>(
    local: &'a std::sync::Mutex<()>,
    store: &dyn Store,
    scope: &'static str,
) -> Result<(std::sync::MutexGuard<'a, ()>, WriteGuard)> {
    let local = local.lock().unwrap_or_else(|e| e.into_inner());
    let fleet = store.serialize_writes(scope)?;
    Ok((local, fleet))
}

/// One stored value, engine-neutral (the schema uses integers, text and byte strings only): what
/// [`Store::dump_table`] reads and [`Store::load_rows`] writes, to copy a vault between engines.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl std::fmt::Debug for Value {
    /// Redacted: rows hold sealed material and ciphertext (never plaintext, but no need to show).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Integer(i) => write!(f, "Integer({i})"),
            Value::Text(t) => write!(f, "Text({} chars)", t.len()),
            Value::Blob(b) => write!(f, "Blob({} bytes)", b.len()),
        }
    }
}

/// Every table, in an order in which copying them one after another satisfies the foreign keys.
/// Both engines have exactly these tables with the same column names.
pub const TABLES: &[&str] = &[
    "meta",
    "keys",
    "key_materials",
    "key_tags",
    "aliases",
    "users",
    "access_keys",
    "user_policies",
    "audit_events",
    "audit_event_resources",
    "parameters",
    "parameter_versions",
    "parameter_labels",
    "parameter_tags",
    "secrets",
    "secret_versions",
    "secret_stages",
    "secret_tags",
];

/// The first string after every string that starts with `prefix` (its last byte incremented), or
/// `None` when there is none (an empty prefix, or one ending in 0xff bytes).
fn prefix_end(prefix: &str) -> Option<Vec<u8>> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The persistent state of vaultd.
pub trait Store: Send + Sync + 'static {
    // --- The barrier -------------------------------------------------------------------------
    /// This database's random id (salt of the barrier's subkeys), created with the database.
    fn database_id(&self) -> Result<Vec<u8>>;
    /// The keyring sealed under the root key; `None` before the first start completes.
    fn sealed_keyring(&self) -> Result<Option<Vec<u8>>>;
    /// Stores the sealed keyring on first start. Fails with `Conflict` if one exists.
    fn init_keyring(&self, sealed: &[u8]) -> Result<()>;
    /// Replaces the sealed keyring (root key rotation: the same keyring under another key).
    fn replace_keyring(&self, sealed: &[u8]) -> Result<()>;

    // --- Backups -------------------------------------------------------------------------------
    /// Writes a consistent copy of the whole store to `path` (a new file), as of one moment,
    /// while writes go on.
    fn snapshot_to(&self, path: &std::path::Path) -> Result<()>;

    // --- Keys ---------------------------------------------------------------------------------
    /// A new key with its first material (none for a key awaiting imported material) and tags.
    fn insert_key(
        &self,
        key: &KeyRecord,
        material: Option<&MaterialVersion>,
        tags: &[Tag],
    ) -> Result<()>;
    fn key(&self, id: Uuid) -> Result<Option<KeyRecord>>;
    /// Keys ordered by id, starting after `after`.
    fn list_keys(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<KeyRecord>>;
    /// Writes a key's mutable metadata (state, description, deletion, rotation schedule).
    fn update_key(&self, key: &KeyRecord) -> Result<()>;
    /// Adds a new material version and updates the key (its current version, next rotation)
    /// atomically.
    fn add_material(&self, key: &KeyRecord, material: &MaterialVersion) -> Result<()>;
    /// Writes imported material and updates the key atomically. It may replace the row of its
    /// version only when that loses nothing: the row's material was deleted, it is the same
    /// material (fingerprint), or the version is above the key's current one (waiting for
    /// rotation); otherwise it fails.
    fn import_material(&self, key: &KeyRecord, material: &MaterialVersion) -> Result<()>;
    /// Deletes the sealed material of every version of a key, keeping the rows (and their
    /// fingerprints), and updates the key, atomically; then tries to make sure the material is
    /// gone from disk too.
    fn delete_materials(&self, key: &KeyRecord) -> Result<()>;
    /// Keys whose imported material expires at or before `now`.
    fn keys_due_for_material_expiry(&self, now: SystemTime) -> Result<Vec<Uuid>>;
    /// All material versions of a key, oldest first.
    fn materials(&self, key_id: Uuid) -> Result<Vec<MaterialVersion>>;
    /// Deletes a key with its material, tags and aliases.
    fn delete_key(&self, id: Uuid) -> Result<()>;
    /// Keys pending deletion whose deletion date is at or before `now`.
    fn keys_due_for_deletion(&self, now: SystemTime) -> Result<Vec<Uuid>>;
    /// How many keys are in each state (states without keys are left out).
    fn count_keys_by_state(&self) -> Result<Vec<(crate::model::KeyState, u64)>>;
    /// Enabled keys whose automatic rotation is due at or before `now`.
    fn keys_due_for_rotation(&self, now: SystemTime) -> Result<Vec<Uuid>>;

    // --- Tags ---------------------------------------------------------------------------------
    /// Tags of a key ordered by tag key.
    fn tags(&self, key_id: Uuid) -> Result<Vec<Tag>>;
    /// Adds or overwrites tags.
    fn put_tags(&self, key_id: Uuid, tags: &[Tag]) -> Result<()>;
    fn remove_tags(&self, key_id: Uuid, tag_keys: &[String]) -> Result<()>;

    // --- Aliases ------------------------------------------------------------------------------
    fn alias(&self, name: &str) -> Result<Option<AliasRecord>>;
    /// Fails with `Conflict` if the name is taken.
    fn insert_alias(&self, alias: &AliasRecord) -> Result<()>;
    fn update_alias(&self, alias: &AliasRecord) -> Result<()>;
    fn delete_alias(&self, name: &str) -> Result<bool>;
    /// Aliases ordered by name, starting after `after`, optionally only those of one key.
    fn list_aliases(
        &self,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AliasRecord>>;

    // --- Users, access keys and inline policies ------------------------------------------------
    /// The user of that name, compared case-insensitively (IAM user names are).
    fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>>;
    fn user(&self, id: &str) -> Result<Option<UserRecord>>;
    /// Fails with `Conflict` if the name is taken (case-insensitively).
    fn insert_user(&self, user: &UserRecord) -> Result<()>;
    /// Users ordered by name, starting after `after`.
    fn list_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<UserRecord>>;
    /// Deletes a user that has no access keys and no policies left; `Conflict` if it has some.
    /// `false` if there was no such user.
    fn delete_user(&self, id: &str) -> Result<bool>;
    /// Sets a user's session revocation instant; `false` if there is no such user.
    fn set_sessions_valid_after(&self, user_id: &str, at: SystemTime) -> Result<bool>;
    fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>>;
    /// A user's access keys, oldest first.
    fn access_keys_of(&self, user_id: &str) -> Result<Vec<AccessKeyRecord>>;
    /// Adds an access key unless its user already has `max_per_user`; `false` if refused.
    fn insert_access_key(&self, key: &AccessKeyRecord, max_per_user: usize) -> Result<bool>;
    /// Writes an access key's status and session revocation instant.
    fn update_access_key(&self, key: &AccessKeyRecord) -> Result<bool>;
    fn delete_access_key(&self, id: &str) -> Result<bool>;
    /// A user's inline policies ordered by name.
    fn user_policies(&self, user_id: &str) -> Result<Vec<UserPolicyRecord>>;
    /// Adds or replaces an inline policy.
    fn put_user_policy(&self, policy: &UserPolicyRecord) -> Result<()>;
    fn delete_user_policy(&self, user_id: &str, name: &str) -> Result<bool>;

    // --- Parameter Store -------------------------------------------------------------------------
    /// The latest version number of a parameter, if it exists.
    fn parameter_latest_version(&self, name: &str) -> Result<Option<u64>>;
    /// Adds `version` (the next number) as the parameter's latest, creating the parameter with
    /// `tags` if it is new, and deleting version `prune` (the oldest, at the history limit), all
    /// atomically.
    fn add_parameter_version(
        &self,
        version: &ParameterVersionRecord,
        tags: &[Tag],
        prune: Option<u64>,
    ) -> Result<()>;
    /// One version (the latest when `version` is `None`), with its labels.
    fn parameter_version(
        &self,
        name: &str,
        version: Option<u64>,
    ) -> Result<Option<ParameterVersionRecord>>;
    /// The version a label is on.
    fn parameter_label(&self, name: &str, label: &str) -> Result<Option<u64>>;
    /// Every version of a parameter, oldest first, with their labels.
    fn parameter_versions(&self, name: &str) -> Result<Vec<ParameterVersionRecord>>;
    /// The latest versions (with labels) of parameters whose name starts with `prefix`, in name
    /// order after `after`; with `one_level`, only names without a further '/' after the prefix.
    fn parameters_with_prefix(
        &self,
        prefix: &str,
        one_level: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ParameterVersionRecord>>;
    /// Deletes a parameter with every version, label and tag; `false` if there was none.
    fn delete_parameter(&self, name: &str) -> Result<bool>;
    /// Puts `labels` on `version`, moving any of them from other versions.
    fn label_parameter_version(&self, name: &str, version: u64, labels: &[String]) -> Result<()>;
    /// Removes those of `labels` that are on `version`; returns the ones removed.
    fn unlabel_parameter_version(
        &self,
        name: &str,
        version: u64,
        labels: &[String],
    ) -> Result<Vec<String>>;
    fn parameter_tags(&self, name: &str) -> Result<Vec<Tag>>;
    fn put_parameter_tags(&self, name: &str, tags: &[Tag]) -> Result<()>;
    fn remove_parameter_tags(&self, name: &str, keys: &[String]) -> Result<()>;

    // --- Secrets Manager ---------------------------------------------------------------------------
    fn secret(&self, arn: &str) -> Result<Option<SecretRecord>>;
    fn secret_by_name(&self, name: &str) -> Result<Option<SecretRecord>>;
    /// Every secret, ordered by name.
    fn list_secrets(&self) -> Result<Vec<SecretRecord>>;
    /// Secrets whose scheduled deletion date is at or before `now`.
    fn secrets_due_for_deletion(&self, now: SystemTime) -> Result<Vec<String>>;
    /// Secrets with rotation on whose next rotation is at or before `now`.
    fn secrets_due_for_rotation(&self, now: SystemTime) -> Result<Vec<String>>;
    /// Writes a secret (new or changed), optionally one version (new, or with its value
    /// replaced), stage changes (`None` removes the stage) and pruned versions, atomically; tags
    /// are added (for a new secret).
    fn write_secret(
        &self,
        secret: &SecretRecord,
        version: Option<&SecretVersionRecord>,
        stages: &[(String, Option<String>)],
        prune: &[String],
        tags: &[Tag],
    ) -> Result<()>;
    /// A secret's versions, oldest first, with their stages.
    fn secret_versions(&self, arn: &str) -> Result<Vec<SecretVersionRecord>>;
    /// Deletes a secret with its versions and tags; `false` if there was none.
    fn delete_secret(&self, arn: &str) -> Result<bool>;
    fn secret_tags(&self, arn: &str) -> Result<Vec<Tag>>;
    fn put_secret_tags(&self, arn: &str, tags: &[Tag]) -> Result<()>;
    fn remove_secret_tags(&self, arn: &str, keys: &[String]) -> Result<()>;

    // --- Audit trail ----------------------------------------------------------------------------
    /// Appends events (already chained, consecutive sequence numbers) in one transaction.
    fn append_audit_events(&self, events: &[AuditRecord]) -> Result<()>;
    /// The newest event, to continue the chain after a restart.
    fn last_audit_event(&self) -> Result<Option<AuditRecord>>;
    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;

    // --- Replicas -------------------------------------------------------------------------------
    fn engine(&self) -> Engine;
    /// Starts reporting changes other processes make to `sink` (and [`Change::All`] whenever some
    /// may have been missed), until the store is dropped. A store only one process uses (SQLite)
    /// has nothing to report.
    fn watch_changes(&self, sink: ChangeSink) -> Result<()> {
        let _ = sink;
        Ok(())
    }
    /// Whether this process holds the fleet's lead, taking it if it is free: background work
    /// (deletions, rotations, audit maintenance) runs only in the process that holds it, so once
    /// across replicas. The lead is lost when the process dies or loses the database. A store only
    /// one process uses always holds it.
    fn hold_lead(&self) -> Result<bool> {
        Ok(true)
    }
    /// Serializes the domain's read-check-write sequences of `scope` (a service: "kms", "iam",
    /// …) across the processes sharing the store, until the guard is dropped: each method is a
    /// transaction, but a sequence of them (read a key, check its state, write it back) is not,
    /// and without this a replica could write back what another just changed. A store only one
    /// process uses has nothing to do (the domain's own mutex suffices).
    fn serialize_writes(&self, scope: &'static str) -> Result<WriteGuard> {
        let _ = scope;
        Ok(WriteGuard::none())
    }

    // --- Copying between engines ----------------------------------------------------------------
    /// The column names of `table` (one of [`TABLES`]) and every row, in primary-key order, given
    /// to `row` one at a time, as of one moment.
    fn dump_table(
        &self,
        table: &str,
        columns: &mut dyn FnMut(&[String]) -> Result<()>,
        row: &mut dyn FnMut(Vec<Value>) -> Result<()>,
    ) -> Result<()>;
    /// Inserts rows (values in the order of `columns`) into `table` in one transaction. Rows of
    /// `meta` replace those of the same name (a new store has its own database id already).
    fn load_rows(&self, table: &str, columns: &[String], rows: &[Vec<Value>]) -> Result<()>;
}
