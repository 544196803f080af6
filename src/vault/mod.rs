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
    store::{SqliteStore, Store},
};

mod backup;

pub use backup::{
    BackupSummary, RestoreOutcome, check_backup, install_backup, install_received_backup,
    rotate_root_key,
};

pub const DATABASE_FILE: &str = "vault.db";
pub const ROOT_CREDENTIALS_FILE: &str = "root-credentials";
pub const LOCK_FILE: &str = "vaultd.lock";

/// What opening a vault needs.
#[derive(Debug)]
pub struct VaultConfig {
    pub data_dir: PathBuf,
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
    /// Held for the vault's lifetime: one vaultd per data directory, or the caches would disagree.
    _lock: fs::File,
}

impl Vault {
    /// Opens (or on first start, creates) the vault in `config.data_dir`.
    pub fn open(config: VaultConfig) -> Result<Self, OpenError> {
        prepare_data_dir(&config.data_dir)?;
        let lock = lock_data_dir(&config.data_dir)?;
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&config.data_dir.join(DATABASE_FILE))?);
        let database_id = store.database_id()?;
        let keyring = match store.sealed_keyring()? {
            Some(sealed) => Keyring::open(&config.root_key, &database_id, &sealed)
                .map_err(|_| OpenError::WrongRootKey(config.data_dir.clone()))?,
            None => {
                let created = to_millis(config.clock.now()).max(0) as u64 / 1000;
                let keyring = Keyring::generate(created)?;
                store.init_keyring(&keyring.seal(&config.root_key, &database_id)?)?;
                keyring
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
            _lock: lock,
        };
        Ok(vault)
    }
}

impl Vault {
    /// The metrics read when scraped: keys by state, the audit queue.
    pub fn gauges(&self) -> crate::metrics::Gauges {
        crate::metrics::Gauges {
            keys_by_state: self.kms.keys_by_state().ok(),
            audit_queue_depth: self.audit.queue_depth(),
            audit_healthy: self.audit.is_healthy(),
        }
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
