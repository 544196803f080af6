//! Opening a vault: the data directory, the store, the barrier (unlocked by the root key) and the
//! domain services over them. Everything that can be wrong with the operator's setup (a data
//! directory that cannot be used, a wrong root key) fails here, before any request is served.

use std::{
    fs,
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{
    arn::Arns,
    audit::{AuditConfig, AuditLog},
    auth::{
        Authenticator, Authorizer,
        throttle::{Throttle, ThrottleConfig},
    },
    clock::{Clock, to_millis},
    crypto::barrier::{Barrier, Keyring, RootKey},
    iam::{Credentials, Iam, RootCredentials},
    kms::Kms,
    params::Params,
    secrets::Secrets,
    store::{Change, Engine, SqliteStore, Store},
};

mod backup;
mod migrate;

pub use backup::{
    BackupSummary, RestoreOutcome, check_backup, install_backup, install_received_backup,
    rotate_root_key,
};
pub use migrate::{MigrationReport, Place, migrate};

pub const DATABASE_FILE: &str = "vault.db";
pub const ROOT_CREDENTIALS_FILE: &str = "root-credentials";
pub const LOCK_FILE: &str = "vaultd.lock";

/// Where a vault's state lives.
#[derive(Clone, Default)]
pub enum Storage {
    /// `vault.db` in the data directory (the embedded default; one process).
    #[default]
    Sqlite,
    /// A PostgreSQL database that replicas share.
    Postgres {
        /// `postgres://user:password@host:port/database` (holds a password: not shown).
        url: zeroize::Zeroizing<String>,
        /// Connections this process keeps open.
        pool_size: usize,
    },
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Sqlite => f.write_str("Sqlite"),
            Storage::Postgres { pool_size, .. } => f
                .debug_struct("Postgres")
                .field("pool_size", pool_size)
                .finish_non_exhaustive(),
        }
    }
}

/// Whether `text` names a PostgreSQL database: a `postgres://` or `postgresql://` URL (any case).
pub fn is_database_url(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

impl Storage {
    /// The engine's name, for logs (never the URL).
    pub fn name(&self) -> &'static str {
        match self {
            Storage::Sqlite => "sqlite",
            Storage::Postgres { .. } => "postgresql",
        }
    }

    /// Opens the store (the SQLite file in `data_dir`).
    pub fn open(&self, data_dir: &Path) -> Result<Arc<dyn Store>, crate::store::Error> {
        Ok(match self {
            Storage::Sqlite => Arc::new(SqliteStore::open(&data_dir.join(DATABASE_FILE))?),
            Storage::Postgres { url, pool_size } => {
                Arc::new(crate::store::PostgresStore::open(url, *pool_size)?)
            }
        })
    }
}

/// What opening a vault needs.
#[derive(Debug)]
pub struct VaultConfig {
    pub data_dir: PathBuf,
    pub storage: Storage,
    pub root_key: RootKey,
    pub arns: Arns,
    pub clock: Arc<dyn Clock>,
    pub root_credentials: RootCredentials,
    /// Request rates per access key and class.
    pub throttle: ThrottleConfig,
    pub audit: AuditConfig,
    /// What secret-rotation hooks may be: commands in a directory, HTTP endpoints on listed
    /// hosts. The default allows none.
    pub rotation_hooks: crate::secrets::rotation::HookPolicy,
}

/// Why a vault did not open. Each message tells the operator what to fix.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data directory {path}: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error(
        "the root key does not unlock the database in {0}: wrong root key, or the keyring is damaged"
    )]
    WrongRootKey(PathBuf),
    #[error("{0} is still in use (its write-ahead log stays open): try again once nothing uses it")]
    InUse(PathBuf),
    #[error("storage: {0}")]
    Storage(#[from] crate::store::Error),
    #[error(
        "backups and restores through vaultd are for the embedded SQLite store; back up \
         PostgreSQL with pg_dump (or your provider's snapshots), or copy the vault out with \
         `vaultctl admin migrate`"
    )]
    SharedStore,
    #[error("{0}")]
    Domain(#[from] crate::error::Error),
    #[error("{0}")]
    Crypto(#[from] crate::crypto::Error),
}

/// The opened vault: the domain services, ready to serve.
#[derive(Debug)]
pub struct Vault {
    pub kms: Arc<Kms>,
    pub params: Arc<Params>,
    pub secrets: Arc<Secrets>,
    pub iam: Arc<Iam>,
    pub authenticator: Arc<Authenticator>,
    pub authorizer: Arc<Authorizer>,
    pub throttle: Throttle,
    /// The audit trail; a vault that cannot record refuses requests.
    pub audit: AuditLog,
    pub clock: Arc<dyn Clock>,
    pub arns: Arns,
    pub data_dir: PathBuf,

    /// What backups need: the store, and the root key that must open a backup's keyring.
    backups: backup::Backups,
    /// Whether this process runs the fleet's background work.
    lead: Lead,
    /// Held for the vault's lifetime: one vaultd per data directory, or the caches would disagree.
    _lock: fs::File,
}

impl Vault {
    /// Opens (or on first start, creates) the vault in `config.data_dir`.
    pub fn open(config: VaultConfig) -> Result<Self, OpenError> {
        prepare_data_dir(&config.data_dir)?;
        let lock = lock_data_dir(&config.data_dir)?;
        let store = config.storage.open(&config.data_dir)?;
        let database_id = store.database_id()?;
        let wrong_key = || OpenError::WrongRootKey(config.data_dir.clone());
        let keyring = match store.sealed_keyring()? {
            Some(sealed) => {
                Keyring::open(&config.root_key, &database_id, &sealed).map_err(|_| wrong_key())?
            }
            None => {
                // Rows without a keyring: a copy (`vaultctl admin migrate`) that did not finish.
                // A new keyring would make them unreadable: refuse.
                if !store.list_keys(None, 1)?.is_empty() || !store.list_users(None, 1)?.is_empty() {
                    return Err(OpenError::Storage(crate::store::Error::Corrupt(
                        "the database holds keys or users but no keyring (an unfinished \
                         `vaultctl admin migrate`?): empty it and copy the vault again"
                            .into(),
                    )));
                }
                let created = to_millis(config.clock.now()).max(0) as u64 / 1000;
                let keyring = Keyring::generate(created)?;
                match store.init_keyring(&keyring.seal(&config.root_key, &database_id)?) {
                    Ok(()) => keyring,
                    // Another replica's first start won: use its keyring.
                    Err(crate::store::Error::Conflict(_)) => {
                        let sealed = store.sealed_keyring()?.ok_or_else(wrong_key)?;
                        Keyring::open(&config.root_key, &database_id, &sealed)
                            .map_err(|_| wrong_key())?
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        };
        let barrier = Arc::new(Barrier::new(&keyring, &database_id));
        drop(keyring);
        backup::remove_leftovers(&config.data_dir);
        let backups = backup::Backups::new(store.clone(), config.root_key.clone());

        let iam = Arc::new(Iam::new(
            store.clone(),
            barrier.clone(),
            config.clock.clone(),
            config.arns.clone(),
        ));
        iam.bootstrap_root(config.root_credentials)?;
        let audit = AuditLog::start(store.clone(), config.audit)?;
        let kms = Arc::new(Kms::new(
            store.clone(),
            barrier.clone(),
            config.clock.clone(),
            config.arns.clone(),
        ));
        let params = Arc::new(Params::new(
            store.clone(),
            barrier,
            kms.clone(),
            config.clock.clone(),
            config.arns.clone(),
        ));
        // What other replicas change reaches the caches (weakly held: the store outlives neither).
        let (kms_seen, iam_seen) = (Arc::downgrade(&kms), Arc::downgrade(&iam));
        store.watch_changes(Arc::new(move |change: &Change| {
            if let Some(kms) = kms_seen.upgrade() {
                kms.forget(change);
            }
            if let Some(iam) = iam_seen.upgrade() {
                iam.forget(change);
            }
        }))?;
        let lead = Lead {
            store: store.clone(),
            held: std::sync::atomic::AtomicBool::new(false),
        };
        let secrets = Arc::new(Secrets::new(
            store,
            kms.clone(),
            config.clock.clone(),
            config.arns.clone(),
            config.rotation_hooks.clone(),
        ));
        let vault = Vault {
            kms,
            params,
            secrets,
            authenticator: Arc::new(Authenticator::new(iam.clone(), config.clock.clone())),
            authorizer: Arc::new(Authorizer),
            throttle: Throttle::new(config.throttle, config.clock.clone()),
            audit,
            iam,
            clock: config.clock,
            arns: config.arns,
            data_dir: config.data_dir,
            backups,
            lead,
            _lock: lock,
        };
        Ok(vault)
    }
}

impl Vault {
    /// The metrics read when scraped: keys by state, the audit queue, the lead.
    pub fn gauges(&self) -> crate::metrics::Gauges {
        crate::metrics::Gauges {
            keys_by_state: self.kms.keys_by_state().ok(),
            audit_queue_depth: self.audit.queue_depth(),
            audit_healthy: self.audit.is_healthy(),
            fleet_lead: self.lead.held.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Which engine holds this vault's state.
    pub fn engine(&self) -> Engine {
        self.lead.store.engine()
    }

    /// Whether this process should run the fleet's background work now (taking the lead if it
    /// is free). Replicas sharing a store run it once between them: only the one that holds the
    /// lead does; when it dies, the next to ask takes over. Blocks on the store.
    pub fn hold_lead(&self) -> bool {
        let held = match self.lead.store.hold_lead() {
            Ok(held) => held,
            Err(err) => {
                tracing::warn!(error = %err, "cannot tell whether this replica leads; background work waits");
                false
            }
        };
        let was = self
            .lead
            .held
            .swap(held, std::sync::atomic::Ordering::Relaxed);
        if held != was && self.engine() != Engine::Sqlite {
            if held {
                tracing::info!("this replica now runs the fleet's background work");
            } else {
                tracing::info!("another replica runs the fleet's background work");
            }
        }
        held
    }
}

/// The fleet's lead as this process last saw it.
struct Lead {
    store: Arc<dyn Store>,
    held: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Lead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lead").field("held", &self.held).finish()
    }
}

/// Creates the data directory (0700) if needed and checks that it is a writable directory.
pub fn prepare_data_dir(dir: &Path) -> Result<(), OpenError> {
    let fail = |reason: String| OpenError::DataDir {
        path: dir.to_path_buf(),
        reason,
    };
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| fail(format!("cannot create it: {e}")))?;
    }
    let meta = fs::metadata(dir).map_err(|e| fail(format!("cannot read it: {e}")))?;
    if !meta.is_dir() {
        return Err(fail("it is not a directory".into()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            path = %dir.display(),
            "the data directory is accessible to other users; consider chmod 700"
        );
    }
    let probe = dir.join(".vaultd-write-check");
    fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|e| fail(format!("it is not writable: {e}")))?;
    Ok(())
}

/// Takes an exclusive lock on `<data dir>/vaultd.lock`, released when the process ends.
pub(crate) fn lock_data_dir(dir: &Path) -> Result<fs::File, OpenError> {
    let path = dir.join(LOCK_FILE);
    let fail = |reason: String| OpenError::DataDir {
        path: dir.to_path_buf(),
        reason,
    };
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| fail(format!("cannot open {LOCK_FILE}: {e}")))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(fail(
            "it is in use by another vaultd; stop that one first (one daemon per data directory)"
                .into(),
        )),
        Err(fs::TryLockError::Error(e)) => Err(fail(format!("cannot lock {LOCK_FILE}: {e}"))),
    }
}

/// Writes a file readable by its owner only, replacing any earlier one.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// The credentials-file form of root credentials (the same INI shape as `~/.vaultd/credentials`).
pub fn credentials_file_contents(
    creds: &Credentials,
    endpoint: &str,
) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(format!(
        "# vaultd root credentials, generated on first start. Keep this file secret.\n\
         [default]\nendpoint = {endpoint}\naccess_key_id = {}\nsecret_access_key = {}\n",
        creds.access_key_id,
        creds.secret_access_key.as_str()
    ))
}
