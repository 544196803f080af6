//! Copying a vault from one store to another (`vaultctl admin migrate`: a SQLite data directory
//! into PostgreSQL, and back), then checking the copy: every table row for row, and every key's
//! material, access key secret, parameter value and secret value opened with the root key from
//! the copy. Offline: the daemons using the source must be stopped.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Arc,
    time::UNIX_EPOCH,
};

use zeroize::Zeroizing;

use super::{DATABASE_FILE, OpenError, Storage, lock_data_dir, prepare_data_dir};
use crate::{
    arn::Arns,
    clock::{Clock, ManualClock},
    crypto::{
        barrier::{Barrier, Keyring, RootKey},
        sha256,
    },
    iam::Iam,
    kms::Kms,
    params::Params,
    secrets::Secrets,
    store::{CopyReport, Error as StoreError, Store, TABLES, Value, copy_store, is_keyring_row},
};

/// One end of a migration: a data directory (SQLite) or a PostgreSQL database.
pub enum Place {
    Directory(PathBuf),
    /// A `postgres://` URL (it may hold a password: never shown).
    Postgres(Zeroizing<String>),
}

impl Place {
    /// `postgres://…` or `postgresql://…` (any case), or a `key=value` connection string naming
    /// a host, database or password, is a database; anything else a data directory.
    pub fn parse(text: &str) -> Self {
        let lower = text.to_ascii_lowercase();
        let keywords = ["host=", "dbname=", "password=", "user="];
        if super::is_database_url(text) || keywords.iter().any(|k| lower.contains(k)) {
            Place::Postgres(Zeroizing::new(text.to_string()))
        } else {
            Place::Directory(PathBuf::from(text))
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Directory(dir) => write!(f, "{}", dir.display()),
            Place::Postgres(_) => f.write_str("the PostgreSQL database"),
        }
    }
}

/// What a migration copied and checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub copied: CopyReport,
    pub keys: usize,
    pub key_versions: usize,
    pub access_keys: usize,
    pub parameter_versions: usize,
    /// SecureString versions whose key cannot decrypt now (disabled, pending deletion): copied
    /// and compared row for row, but not opened.
    pub parameter_versions_skipped: usize,
    pub secret_versions: usize,
    /// As `parameter_versions_skipped`, for secret versions.
    pub secret_versions_skipped: usize,
}

/// An opened end, with the lock of its data directory held.
struct Opened {
    store: Arc<dyn Store>,
    _lock: Option<std::fs::File>,
}

fn open(place: &Place, target: bool) -> Result<Opened, OpenError> {
    match place {
        Place::Directory(dir) => {
            let database = dir.join(DATABASE_FILE);
            if target {
                prepare_data_dir(dir)?;
                if database.exists() {
                    return Err(OpenError::DataDir {
                        path: dir.clone(),
                        reason: format!(
                            "it holds a {DATABASE_FILE} already; migrate into a new directory"
                        ),
                    });
                }
            } else if !database.is_file() {
                return Err(OpenError::DataDir {
                    path: dir.clone(),
                    reason: format!("there is no {DATABASE_FILE} in it"),
                });
            }
            // A running vaultd holds it: refused, so the copy is of one moment.
            let lock = lock_data_dir(dir)?;
            Ok(Opened {
                store: Storage::Sqlite.open(dir)?,
                _lock: Some(lock),
            })
        }
        Place::Postgres(url) => Ok(Opened {
            store: Storage::Postgres {
                url: url.clone(),
                pool_size: 2,
            }
            .open(Path::new("."))?,
            _lock: None,
        }),
    }
}

/// Copies the vault at `from` into `to` (which must hold none) and checks the copy with
/// `root_key`, the vault's root key, and `arns`, its region and account (SecureString values are
/// bound to their parameter's ARN).
pub fn migrate(
    from: &Place,
    to: &Place,
    root_key: &RootKey,
    arns: &Arns,
) -> Result<MigrationReport, OpenError> {
    let source = open(from, false)?;
    // The root key must open the source before anything is written anywhere.
    let sealed = source
        .store
        .sealed_keyring()?
        .ok_or_else(|| OpenError::Storage(StoreError::Corrupt(format!("{from} holds no vault"))))?;
    Keyring::open(root_key, &source.store.database_id()?, &sealed)
        .map_err(|_| OpenError::WrongRootKey(PathBuf::from(from.to_string())))?;
    let target = open(to, true)?;
    let copied = match copy_and_check(source.store.as_ref(), &target, root_key, arns, to) {
        Ok(copied) => copied,
        Err(err) => {
            // A half copy holds no keyring, so nothing opens it as a vault; a new data
            // directory's database is removed too.
            drop(target);
            if let Place::Directory(dir) = to {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(dir.join(format!("{DATABASE_FILE}{suffix}")));
                }
            }
            return Err(err);
        }
    };
    Ok(copied)
}

/// The copy, its comparison with the original and the check of everything sealed in it; the
/// keyring is installed last, only once all of it holds.
fn copy_and_check(
    source: &dyn Store,
    target: &Opened,
    root_key: &RootKey,
    arns: &Arns,
    to: &Place,
) -> Result<MigrationReport, OpenError> {
    let (copied, keyring) = copy_store(source, target.store.as_ref())?;
    for table in TABLES {
        if digest(source, table)? != digest(target.store.as_ref(), table)? {
            return Err(OpenError::Storage(StoreError::Corrupt(format!(
                "the copy of table {table} differs from the original (was it in use?)"
            ))));
        }
    }
    let mut report = verify(target.store.clone(), &keyring, root_key, arns, to)?;
    target.store.init_keyring(&keyring)?;
    report.copied = copied;
    Ok(report)
}

/// The rows of a table, as a count and a digest independent of their order; the sealed keyring
/// left out (it is installed in the copy last, and checked by opening it).
fn digest(store: &dyn Store, table: &str) -> Result<(usize, [u8; 32]), StoreError> {
    let mut rows = BTreeSet::new();
    let mut count = 0;
    store.dump_table(table, &mut |_| Ok(()), &mut |row| {
        if is_keyring_row(table, &row) {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for value in &row {
            match value {
                Value::Null => bytes.push(0),
                Value::Integer(i) => {
                    bytes.push(1);
                    bytes.extend_from_slice(&i.to_be_bytes());
                }
                Value::Text(t) => {
                    bytes.push(2);
                    bytes.extend_from_slice(&(t.len() as u64).to_be_bytes());
                    bytes.extend_from_slice(t.as_bytes());
                }
                Value::Blob(b) => {
                    bytes.push(3);
                    bytes.extend_from_slice(&(b.len() as u64).to_be_bytes());
                    bytes.extend_from_slice(b);
                }
            }
        }
        rows.insert(sha256(&bytes));
        count += 1;
        Ok(())
    })?;
    let all: Vec<u8> = rows.into_iter().flatten().collect();
    Ok((count, sha256(&all)))
}

/// Opens everything sealed in `store` with `root_key`, through the domain services (with a clock
/// at the epoch, so that no deletion or rotation comes due while checking).
fn verify(
    store: Arc<dyn Store>,
    sealed: &[u8],
    root_key: &RootKey,
    arns: &Arns,
    place: &Place,
) -> Result<MigrationReport, OpenError> {
    let wrong_key = || OpenError::WrongRootKey(PathBuf::from(place.to_string()));
    let database_id = store.database_id()?;
    let keyring = Keyring::open(root_key, &database_id, sealed).map_err(|_| wrong_key())?;
    let barrier = Arc::new(Barrier::new(&keyring, &database_id));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(UNIX_EPOCH));
    let arns = arns.clone();
    let kms = Arc::new(Kms::new(
        store.clone(),
        barrier.clone(),
        clock.clone(),
        arns.clone(),
    ));
    let iam = Iam::new(store.clone(), barrier.clone(), clock.clone(), arns.clone());
    let params = Params::new(
        store.clone(),
        barrier,
        kms.clone(),
        clock.clone(),
        arns.clone(),
    );
    let secrets = Secrets::new(store, kms.clone(), clock, arns, Default::default());
    let (keys, key_versions) = kms.verify_material()?;
    let access_keys = iam.verify_secrets()?;
    let (parameter_versions, parameter_versions_skipped) = params.verify_values()?;
    let (secret_versions, secret_versions_skipped) = secrets.verify_values()?;
    Ok(MigrationReport {
        copied: CopyReport::default(),
        keys,
        key_versions,
        access_keys,
        parameter_versions,
        parameter_versions_skipped,
        secret_versions,
        secret_versions_skipped,
    })
}
