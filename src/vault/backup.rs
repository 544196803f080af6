//! Backups, restores and root key rotation: the vault as a whole.
//!
//! - A backup is a consistent copy of the store taken while vaultd serves. Everything secret in
//!   it stays sealed under the barrier, whose keyring the root key seals: a backup is only as
//!   readable as that root key.
//! - Before a backup is used it is checked: a sound database of a schema this vaultd knows, whose
//!   keyring the root key opens. Nothing changes until it passes.
//! - Restoring moves the database in use into `before-restore-<time>/` in the data directory
//!   (never deleting it) and puts the backup in its place, with the data directory locked.
//! - Rotating the root key re-seals the keyring under the new key (crypto.md §2): nothing else
//!   is re-encrypted, so it is quick and every value stays readable.

use std::{
    fs,
    io::{Read, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use sha2::{Digest, Sha256};

use super::{DATABASE_FILE, OpenError, Vault, lock_data_dir};
use crate::{
    crypto::barrier::{Keyring, RootKey},
    store::{SqliteStore, Store},
};

/// Temporary files of backups being made or received; what a crash leaves of them is removed at
/// the next start.
const BACKUP_PREFIX: &str = "backup-";
const RESTORE_PREFIX: &str = "restore-";
const PARTIAL_SUFFIX: &str = ".partial";

/// A backup's facts, as its summary shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    pub created: SystemTime,
    pub size: u64,
    pub sha256: [u8; 32],
    pub database_id: Vec<u8>,
    pub keys: u64,
    pub secrets: u64,
    pub parameters: u64,
    pub users: u64,
}

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreOutcome {
    pub summary: BackupSummary,
    /// Where the database in use before was moved (`None` if there was none).
    pub previous: Option<PathBuf>,
}

/// What the vault keeps for backups. Holds the root key (zeroized on drop, `Debug` redacted).
pub(super) struct Backups {
    store: Arc<dyn Store>,
    root_key: RootKey,
}

impl std::fmt::Debug for Backups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backups").finish_non_exhaustive()
    }
}

impl Backups {
    pub(super) fn new(store: Arc<dyn Store>, root_key: RootKey) -> Self {
        Self { store, root_key }
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> OpenError + '_ {
    move |e| OpenError::DataDir {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}{PARTIAL_SUFFIX}", uuid::Uuid::new_v4())
}

/// Removes what interrupted backups and restores left in the data directory.
pub(super) fn remove_leftovers(data_dir: &Path) {
    let Ok(entries) = fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if (name.starts_with(BACKUP_PREFIX) || name.starts_with(RESTORE_PREFIX))
            && name.ends_with(PARTIAL_SUFFIX)
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// SHA-256 and size of a file.
fn digest_file(path: &Path) -> Result<([u8; 32], u64), OpenError> {
    let mut file = fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// Checks the backup at `path` (see the module doc) and returns its summary. The error says what
/// is wrong; a backup sealed under another root key is [`OpenError::WrongRootKey`].
pub fn check_backup(path: &Path, root_key: &RootKey) -> Result<BackupSummary, OpenError> {
    let info = SqliteStore::inspect_snapshot(path)?;
    Keyring::open(root_key, &info.database_id, &info.sealed_keyring)
        .map_err(|_| OpenError::WrongRootKey(path.to_path_buf()))?;
    let (sha256, size) = digest_file(path)?;
    let created = fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now());
    Ok(BackupSummary {
        created,
        size,
        sha256,
        database_id: info.database_id,
        keys: info.keys,
        secrets: info.secrets,
        parameters: info.parameters,
        users: info.users,
    })
}

impl Vault {
    /// Writes a consistent copy of the vault to a new private file in the data directory and
    /// returns its path with its summary. The caller sends it on and removes it.
    pub fn create_backup(&self) -> Result<(PathBuf, BackupSummary), OpenError> {
        self.require_sqlite()?;
        let path = self.data_dir.join(unique_name(BACKUP_PREFIX));
        let made = self
            .backups
            .store
            .snapshot_to(&path)
            .map_err(OpenError::from)
            .and_then(|()| check_backup(&path, &self.backups.root_key));
        match made {
            Ok(summary) => Ok((path, summary)),
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// A new private file in the data directory to receive a backup into.
    pub fn receive_backup_file(&self) -> Result<(PathBuf, fs::File), OpenError> {
        self.require_sqlite()?;
        let path = self.data_dir.join(unique_name(RESTORE_PREFIX));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_error(&path))?;
        Ok((path, file))
    }

    fn require_sqlite(&self) -> Result<(), OpenError> {
        match self.engine() {
            crate::store::Engine::Sqlite => Ok(()),
            _ => Err(OpenError::SharedStore),
        }
    }

    /// Checks a received backup against this vault's root key.
    pub fn check_backup(&self, path: &Path) -> Result<BackupSummary, OpenError> {
        check_backup(path, &self.backups.root_key)
    }
}

/// Replaces the database of `data_dir` with the backup at `backup` (checked against `root_key`
/// first; with `backup_root_key`, the backup's keyring is opened with that key and sealed under
/// `root_key`, for backups made before a root key rotation). The data directory must not be in
/// use: its lock is taken for the duration. The backup file itself is never changed.
pub fn install_backup(
    data_dir: &Path,
    backup: &Path,
    root_key: &RootKey,
    backup_root_key: Option<&RootKey>,
) -> Result<RestoreOutcome, OpenError> {
    super::prepare_data_dir(data_dir)?;
    let _lock = lock_data_dir(data_dir)?;
    // Work on a private copy in the data directory, which then takes the database's place.
    let staged = data_dir.join(unique_name(RESTORE_PREFIX));
    let result = copy_private(backup, &staged)
        .and_then(|()| match backup_root_key {
            Some(old) => reseal(&staged, old, root_key).map_err(|e| match e {
                OpenError::WrongRootKey(_) => OpenError::WrongRootKey(backup.to_path_buf()),
                other => other,
            }),
            None => Ok(()),
        })
        .and_then(|()| swap_in(data_dir, &staged, root_key));
    let _ = fs::remove_file(&staged);
    result
}

/// [`install_backup`] of a backup already received into the data directory (by RestoreBackup)
/// and checked: it is moved into place, not copied. The data directory must not be in use. If
/// this fails, the file is left for the caller (to try again, or to remove).
pub fn install_received_backup(
    data_dir: &Path,
    received: &Path,
    root_key: &RootKey,
) -> Result<RestoreOutcome, OpenError> {
    let _lock = lock_data_dir(data_dir)?;
    swap_in(data_dir, received, root_key)
}

/// Opens a staged backup's keyring with `old` and seals it under `new`.
fn reseal(staged: &Path, old: &RootKey, new: &RootKey) -> Result<(), OpenError> {
    let info = SqliteStore::inspect_snapshot(staged)?;
    let keyring = Keyring::open(old, &info.database_id, &info.sealed_keyring)
        .map_err(|_| OpenError::WrongRootKey(staged.to_path_buf()))?;
    let resealed = keyring.seal(new, &info.database_id)?;
    let store = SqliteStore::open(staged)?;
    store.replace_keyring(&resealed)?;
    drop(store);
    fold_wal(staged)
}

/// Makes sure everything committed to the database at `path` is in the file itself: a WAL left
/// beside it (by a vaultd that was killed) is checkpointed into it by opening and closing it.
/// A WAL that stays means another connection still has the database open: an error, since
/// moving the file then would part it from its newest writes.
fn fold_wal(path: &Path) -> Result<(), OpenError> {
    let leftovers = || ["-wal", "-shm"].iter().any(|s| sibling(path, s).exists());
    if path.exists() && leftovers() {
        drop(SqliteStore::open(path)?);
    }
    if leftovers() {
        return Err(OpenError::InUse(path.to_path_buf()));
    }
    Ok(())
}

/// Checks `staged` (a private file in `data_dir`) and puts it in the database's place. The
/// database in use is hard-linked into `before-restore-<time>/` first, and the staged file then
/// renamed over it: at every moment there is a whole `vault.db`, the old one or the new one.
fn swap_in(
    data_dir: &Path,
    staged: &Path,
    root_key: &RootKey,
) -> Result<RestoreOutcome, OpenError> {
    let summary = check_backup(staged, root_key)?;
    let database = data_dir.join(DATABASE_FILE);
    fold_wal(&database)?;
    let mut previous = None;
    if database.exists() {
        let stamp = crate::clock::format_basic_iso8601(SystemTime::now());
        let dir = data_dir.join(format!(
            "before-restore-{stamp}-{}",
            &uuid::Uuid::new_v4().to_string()[..8]
        ));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io_error(&dir))?;
        fs::hard_link(&database, dir.join(DATABASE_FILE)).map_err(io_error(&dir))?;
        previous = Some(dir);
    }
    fs::rename(staged, &database).map_err(io_error(&database))?;
    fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(data_dir))?;
    Ok(RestoreOutcome { summary, previous })
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{name}{suffix}"))
}

/// Copies `from` to a new 0600 file `to`, synced to disk.
fn copy_private(from: &Path, to: &Path) -> Result<(), OpenError> {
    let mut source = fs::File::open(from).map_err(io_error(from))?;
    let mut target = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(io_error(to))?;
    std::io::copy(&mut source, &mut target).map_err(io_error(to))?;
    target.flush().map_err(io_error(to))?;
    target.sync_all().map_err(io_error(to))
}

/// Re-seals the keyring of the vault in `data_dir` (or in the PostgreSQL database of `storage`)
/// under `new_root_key` (crypto.md §2). A SQLite vault must not be in use; replicas on PostgreSQL
/// may go on serving (they hold the keyring already) and need the new key when they restart.
/// After it, only `new_root_key` opens the vault.
pub fn rotate_root_key(
    data_dir: &Path,
    storage: &super::Storage,
    root_key: &RootKey,
    new_root_key: &RootKey,
) -> Result<(), OpenError> {
    let (store, _lock): (Arc<dyn Store>, _) = match storage {
        super::Storage::Sqlite => {
            let lock = lock_data_dir(data_dir)?;
            let database = data_dir.join(DATABASE_FILE);
            if !database.exists() {
                return Err(OpenError::DataDir {
                    path: data_dir.to_path_buf(),
                    reason: "there is no vault in it".into(),
                });
            }
            (Arc::new(SqliteStore::open(&database)?), Some(lock))
        }
        other => (other.open(data_dir)?, None),
    };
    let database_id = store.database_id()?;
    let sealed = store.sealed_keyring()?.ok_or_else(|| OpenError::DataDir {
        path: data_dir.to_path_buf(),
        reason: "the vault has no keyring yet".into(),
    })?;
    let keyring = Keyring::open(root_key, &database_id, &sealed)
        .map_err(|_| OpenError::WrongRootKey(data_dir.to_path_buf()))?;
    store.replace_keyring(&keyring.seal(new_root_key, &database_id)?)?;
    Ok(())
}
