//! The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`, so a committed
//! transaction is on disk before the caller hears `Ok`. The database and its `-wal`/`-shm`
//! companions are created 0600 (SQLite gives the companions the database file's mode).
//!
//! Schema changes are numbered migrations applied at open, tracked in `PRAGMA user_version`.

mod audit;
mod copy;
mod migrations;
mod parameters;
mod rows;
mod secrets;
#[cfg(test)]
mod tests;

use std::{
    fs::OpenOptions,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
    sync::{Mutex, MutexGuard},
    time::SystemTime,
};

use rusqlite::{Connection, ErrorCode, OptionalExtension, Params, Row, params};
use uuid::Uuid;

use self::{migrations::*, rows::*};
use super::{Error, Result, Store};
use crate::{clock::to_millis, model::*};

/// What [`SqliteStore::inspect_snapshot`] found in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub database_id: Vec<u8>,
    pub sealed_keyring: Vec<u8>,
    pub keys: u64,
    pub secrets: u64,
    pub parameters: u64,
    pub users: u64,
}

/// The SQLite store. One read-write connection behind a mutex (SQLite has one writer anyway), and
/// a few read-only ones for reads that must not wait behind a write's fsync (see
/// [`SqliteStore::open`]).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
}

/// A tag table: its name and the column naming what the tags are on (constants of this crate,
/// so they may be formatted into SQL).
#[derive(Clone, Copy)]
struct TagTable {
    name: &'static str,
    owner: &'static str,
}

const KEY_TAGS: TagTable = TagTable {
    name: "key_tags",
    owner: "key_id",
};
const PARAMETER_TAGS: TagTable = TagTable {
    name: "parameter_tags",
    owner: "name",
};
const SECRET_TAGS: TagTable = TagTable {
    name: "secret_tags",
    owner: "arn",
};

/// Read-only connections: enough that requests on 2–4 cores rarely wait for one.
const READERS: usize = 4;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn storage_error(err: rusqlite::Error) -> Error {
    match err.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => Error::Conflict(err.to_string()),
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::OutOfMemory
            | ErrorCode::PermissionDenied,
        ) => Error::Unavailable(err.to_string()),
        _ => Error::Corrupt(err.to_string()),
    }
}

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnName(format!("undecodable {what}"))
}

/// Turns on SQLite's query planner stability guarantee: a statement's plan does not depend on the
/// values bound to it. Without it, a cached statement whose plan looked at a bound value (a join
/// on a bound key, an ORDER BY after an equality) is parsed and planned again at every execution,
/// because the statement cache clears its bindings: GetSecretValue spent a fifth of vaultd's CPU
/// there (BENCHMARKS.md). Every query here is written for its index anyway.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map(drop)
    .map_err(storage_error)
}

impl SqliteStore {
    /// After deleting key material: the WAL still holds earlier images of the changed pages, so
    /// fold it into the database (where secure_delete zeroed them) and truncate it, so the material
    /// is gone from disk.
    ///
    /// Best effort: the deletion itself is committed, so a checkpoint that fails or is held up by
    /// a reader is logged (the pages are zeroed at the next checkpoint), never reported as a
    /// failed deletion.
    fn checkpoint(&self) {
        let outcome = self.conn().and_then(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(storage_error)
        });
        match outcome {
            Ok(0) => {}
            Ok(_) => tracing::warn!(
                "the WAL checkpoint after deleting key material was held up by a reader; \
                 the next checkpoint completes it"
            ),
            Err(err) => {
                tracing::warn!(error = %err, "the WAL checkpoint after deleting key material failed")
            }
        }
    }

    /// Opens (creating if needed) the database at `path`, applies pending migrations and makes sure
    /// the file is readable by its owner only.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |e: std::io::Error| Error::Unavailable(format!("{}: {e}", path.display()));
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = path.with_file_name(format!(
                "{}{suffix}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
            ));
            if let Ok(meta) = std::fs::metadata(&file)
                && meta.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
        let mut conn = Connection::open(path).map_err(storage_error)?;
        stable_plans(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage_error)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(storage_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(storage_error)?;
        // Deleted rows (a deleted key's sealed material) are overwritten, not left in free pages.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(storage_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage_error)?;
        migrate(&mut conn)?;
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| Error::Unavailable(format!("random: {e}")))?;
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('database_id', ?1)",
            params![id.as_slice()],
        )
        .map_err(storage_error)?;
        // Long reads (audit lookups that scan) go through a second, read-only connection: in WAL
        // mode they then never hold up a write, so a slow lookup cannot stall the audit writer
        // (and with it, fail closed, every request).
        // The same connections serve the reads of parameters and secrets, so that they don't
        // wait behind the audit writer's fsync'd batches on the writer connection.
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(storage_error)?;
                stable_plans(&reader)?;
                reader
                    .busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(storage_error)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conn: Mutex::new(conn),
            readers,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Checks a snapshot file ([`Store::snapshot_to`]) without changing it: a sound SQLite
    /// database of a schema this code knows, with a database id and a keyring.
    pub fn inspect_snapshot(path: &Path) -> Result<SnapshotInfo> {
        let corrupt = |what: String| Error::Corrupt(format!("{}: {what}", path.display()));
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| corrupt(e.to_string()))?;
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|_| corrupt("not a vaultd database".into()))?;
        if check != "ok" {
            return Err(corrupt(format!("the database is damaged ({check})")));
        }
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(storage_error)?;
        if version < 1 || version as usize > MIGRATIONS.len() {
            return Err(corrupt(format!(
                "schema version {version}; this vaultd knows 1 to {}",
                MIGRATIONS.len()
            )));
        }
        let meta = |name: &str| -> Result<Vec<u8>> {
            conn.query_row(
                "SELECT value FROM meta WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage_error)?
            .ok_or_else(|| corrupt(format!("no {name}")))
        };
        let count = |table: &str| -> Result<u64> {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(storage_error)
        };
        Ok(SnapshotInfo {
            database_id: meta("database_id")?,
            sealed_keyring: meta("keyring")?,
            keys: count("keys")?,
            secrets: count("secrets")?,
            parameters: count("parameters")?,
            users: count("users")?,
        })
    }

    /// The schema version the code knows.
    pub fn schema_version() -> usize {
        MIGRATIONS.len()
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::Unavailable("a previous storage operation panicked".into()))
    }

    /// Runs a read query and collects its rows.
    fn query<T>(
        &self,
        sql: &str,
        params: impl Params,
        row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(sql).map_err(storage_error)?;
        stmt.query_map(params, row)
            .and_then(|rows| rows.collect())
            .map_err(storage_error)
    }

    /// [`SqliteStore::query`] on the read-only connection, for reads that may scan: they see the
    /// last committed state and never wait for, nor hold up, a write.
    fn query_long<T>(
        &self,
        sql: &str,
        params: impl Params,
        row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(sql).map_err(storage_error)?;
        stmt.query_map(params, row)
            .and_then(|rows| rows.collect())
            .map_err(storage_error)
    }

    /// [`SqliteStore::query_one`] on a read-only connection.
    fn query_one_long<T>(
        &self,
        sql: &str,
        params: impl Params,
        row: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(sql).map_err(storage_error)?;
        stmt.query_row(params, row)
            .optional()
            .map_err(storage_error)
    }

    /// The tags of `owner` in a tag table, ordered by key.
    fn tags_in(&self, table: TagTable, owner: &str) -> Result<Vec<Tag>> {
        self.query_long(
            &format!(
                "SELECT tag_key, tag_value FROM {} WHERE {} = ?1 ORDER BY tag_key",
                table.name, table.owner
            ),
            params![owner],
            |r| {
                Ok(Tag {
                    key: r.get(0)?,
                    value: r.get(1)?,
                })
            },
        )
    }

    fn put_tags_in(&self, table: TagTable, owner: &str, tags: &[Tag]) -> Result<()> {
        self.write(|tx| upsert_tags_on(tx, table.name, table.owner, owner, tags))
    }

    fn remove_tags_in(&self, table: TagTable, owner: &str, keys: &[String]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "DELETE FROM {} WHERE {} = ?1 AND tag_key = ?2",
                table.name, table.owner
            ))?;
            for key in keys {
                stmt.execute(params![owner, key])?;
            }
            Ok(())
        })
    }

    /// A read-only connection: the next one in turn, or any that is free.
    fn reader(&self) -> Result<MutexGuard<'_, Connection>> {
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return Ok(conn);
            }
        }
        self.readers[start % self.readers.len()]
            .lock()
            .map_err(|_| Error::Unavailable("a previous storage operation panicked".into()))
    }

    /// Runs a read query expected to return at most one row.
    fn query_one<T>(
        &self,
        sql: &str,
        params: impl Params,
        row: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(sql).map_err(storage_error)?;
        stmt.query_row(params, row)
            .optional()
            .map_err(storage_error)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(storage_error)?;
        let out = f(&tx).map_err(storage_error)?;
        tx.commit().map_err(storage_error)?;
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn database_id(&self) -> Result<Vec<u8>> {
        self.query_one(
            "SELECT value FROM meta WHERE name = 'database_id'",
            [],
            |r| r.get(0),
        )?
        .ok_or_else(|| Error::Corrupt("the database has no id".into()))
    }

    fn sealed_keyring(&self) -> Result<Option<Vec<u8>>> {
        self.query_one("SELECT value FROM meta WHERE name = 'keyring'", [], |r| {
            r.get(0)
        })
    }

    fn init_keyring(&self, sealed: &[u8]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('keyring', ?1)",
                params![sealed],
            )?;
            Ok(())
        })
    }

    fn replace_keyring(&self, sealed: &[u8]) -> Result<()> {
        self.write(|tx| {
            match tx.execute(
                "UPDATE meta SET value = ?1 WHERE name = 'keyring'",
                params![sealed],
            )? {
                1 => Ok(()),
                _ => Err(not_updated("keyring")),
            }
        })
    }

    fn snapshot_to(&self, path: &Path) -> Result<()> {
        let target = path
            .to_str()
            .ok_or_else(|| Error::Unavailable(format!("{}: not UTF-8", path.display())))?;
        // Made 0600 before anything is written into it (VACUUM INTO takes an empty file).
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::Unavailable(format!("{}: {e}", path.display())))?;
        // VACUUM INTO reads in one transaction: a consistent copy, compacted, written beside
        // the live database without blocking its writer.
        let reader = self.reader()?;
        reader
            .execute("VACUUM INTO ?1", params![target])
            .map_err(storage_error)?;
        Ok(())
    }

    fn insert_key(
        &self,
        key: &KeyRecord,
        material: Option<&MaterialVersion>,
        tags: &[Tag],
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
                params![
                    key.id.to_string(),
                    to_millis(key.created_at),
                    key.description,
                    key.key_spec.as_str(),
                    key.key_usage.as_str(),
                    key.origin.as_str(),
                    key.key_manager.as_str(),
                    key.state.as_str(),
                    key.deletion_date.map(to_millis),
                    key.pending_window_days,
                    key.rotation.map(|r| r.period_days),
                    key.rotation.map(|r| to_millis(r.next_rotation)),
                    key.current_version,
                    key.expiration_model.map(ExpirationModel::as_str),
                    key.valid_to.map(to_millis),
                ],
            )?;
            if let Some(material) = material {
                insert_material(tx, material)?;
            }
            upsert_tags_on(tx, KEY_TAGS.name, KEY_TAGS.owner, &key.id.to_string(), tags)
        })
    }

    fn key(&self, id: Uuid) -> Result<Option<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1");
        self.query_one(&sql, params![id.to_string()], key_row)
    }

    fn list_keys(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE id > ?1 ORDER BY id LIMIT ?2");
        let after = after.map(|u| u.to_string()).unwrap_or_default();
        self.query(&sql, params![after, limit as i64], key_row)
    }

    fn count_keys_by_state(&self) -> Result<Vec<(KeyState, u64)>> {
        self.query_long(
            "SELECT state, COUNT(*) FROM keys GROUP BY state",
            [],
            |row| {
                let state: String = row.get(0)?;
                let count: i64 = row.get(1)?;
                Ok((state, count))
            },
        )?
        .into_iter()
        .map(|(state, count)| {
            KeyState::parse(&state)
                .map(|s| (s, count.max(0) as u64))
                .ok_or_else(|| Error::Corrupt(format!("unknown key state {state:?}")))
        })
        .collect()
    }

    fn update_key(&self, key: &KeyRecord) -> Result<()> {
        self.write(|tx| match write_key_metadata(tx, key)? {
            1 => Ok(()),
            _ => Err(not_updated("key")),
        })
    }

    fn add_material(&self, key: &KeyRecord, material: &MaterialVersion) -> Result<()> {
        self.write(|tx| {
            insert_material(tx, material)?;
            match write_key_metadata(tx, key)? {
                1 => Ok(()),
                _ => Err(not_updated("key")),
            }
        })
    }

    fn import_material(&self, key: &KeyRecord, material: &MaterialVersion) -> Result<()> {
        self.write(|tx| {
            match upsert_imported_material(tx, material)? {
                1 => {}
                _ => return Err(not_updated("key material")),
            }
            match write_key_metadata(tx, key)? {
                1 => Ok(()),
                _ => Err(not_updated("key")),
            }
        })
    }

    fn delete_materials(&self, key: &KeyRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE key_materials SET sealed = NULL WHERE key_id = ?1",
                params![key.id.to_string()],
            )?;
            match write_key_metadata(tx, key)? {
                1 => Ok(()),
                _ => Err(not_updated("key")),
            }
        })?;
        self.checkpoint();
        Ok(())
    }

    fn keys_due_for_material_expiry(&self, now: SystemTime) -> Result<Vec<Uuid>> {
        self.query(
            "SELECT id FROM keys WHERE valid_to IS NOT NULL AND valid_to <= ?1",
            params![to_millis(now)],
            |r| uuid_col(r, 0),
        )
    }

    fn materials(&self, key_id: Uuid) -> Result<Vec<MaterialVersion>> {
        self.query(
            "SELECT key_id, version, created_at, rotation_type, sealed, fingerprint FROM key_materials \
             WHERE key_id = ?1 ORDER BY version",
            params![key_id.to_string()],
            material_row,
        )
    }

    fn delete_key(&self, id: Uuid) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM keys WHERE id = ?1", params![id.to_string()])?;
            Ok(())
        })?;
        self.checkpoint();
        Ok(())
    }

    fn keys_due_for_deletion(&self, now: SystemTime) -> Result<Vec<Uuid>> {
        self.query(
            "SELECT id FROM keys WHERE deletion_date IS NOT NULL AND deletion_date <= ?1 \
             AND state = 'PendingDeletion'",
            params![to_millis(now)],
            |r| uuid_col(r, 0),
        )
    }

    fn keys_due_for_rotation(&self, now: SystemTime) -> Result<Vec<Uuid>> {
        self.query(
            "SELECT id FROM keys WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= ?1 \
             AND state = 'Enabled'",
            params![to_millis(now)],
            |r| uuid_col(r, 0),
        )
    }

    fn tags(&self, key_id: Uuid) -> Result<Vec<Tag>> {
        self.tags_in(KEY_TAGS, &key_id.to_string())
    }

    fn put_tags(&self, key_id: Uuid, tags: &[Tag]) -> Result<()> {
        self.put_tags_in(KEY_TAGS, &key_id.to_string(), tags)
    }

    fn remove_tags(&self, key_id: Uuid, tag_keys: &[String]) -> Result<()> {
        self.remove_tags_in(KEY_TAGS, &key_id.to_string(), tag_keys)
    }

    fn alias(&self, name: &str) -> Result<Option<AliasRecord>> {
        self.query_one(
            "SELECT name, key_id, created_at, updated_at FROM aliases WHERE name = ?1",
            params![name],
            alias_row,
        )
    }

    fn insert_alias(&self, alias: &AliasRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO aliases (name, key_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    alias.name,
                    alias.key_id.to_string(),
                    to_millis(alias.created_at),
                    to_millis(alias.updated_at)
                ],
            )?;
            Ok(())
        })
    }

    fn update_alias(&self, alias: &AliasRecord) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE aliases SET key_id = ?2, updated_at = ?3 WHERE name = ?1",
                params![
                    alias.name,
                    alias.key_id.to_string(),
                    to_millis(alias.updated_at)
                ],
            )?;
            if n == 1 {
                Ok(())
            } else {
                Err(not_updated("alias"))
            }
        })
    }

    fn delete_alias(&self, name: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM aliases WHERE name = ?1", params![name])? == 1))
    }

    fn list_aliases(
        &self,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AliasRecord>> {
        self.query(
            "SELECT name, key_id, created_at, updated_at FROM aliases \
             WHERE (?1 IS NULL OR key_id = ?1) AND name > ?2 ORDER BY name LIMIT ?3",
            params![
                key_id.map(|k| k.to_string()),
                after.unwrap_or(""),
                limit as i64
            ],
            alias_row,
        )
    }

    fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        self.query_one(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1 COLLATE NOCASE"),
            params![name],
            user_row,
        )
    }

    fn user(&self, id: &str) -> Result<Option<UserRecord>> {
        self.query_one(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
            params![id],
            user_row,
        )
    }

    fn insert_user(&self, user: &UserRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4)"),
                params![
                    user.id,
                    user.name,
                    to_millis(user.created_at),
                    user.sessions_valid_after.map(to_millis)
                ],
            )?;
            Ok(())
        })
    }

    fn list_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<UserRecord>> {
        self.query(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE name > ?1 ORDER BY name LIMIT ?2"),
            params![after.unwrap_or(""), limit as i64],
            user_row,
        )
    }

    fn delete_user(&self, id: &str) -> Result<bool> {
        self.write(|tx| {
            let attached: i64 = tx.query_row(
                "SELECT (SELECT count(*) FROM access_keys WHERE user_id = ?1) \
                      + (SELECT count(*) FROM user_policies WHERE user_id = ?1)",
                params![id],
                |r| r.get(0),
            )?;
            if attached > 0 {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
                    Some("the user still has access keys or policies".into()),
                ));
            }
            Ok(tx.execute("DELETE FROM users WHERE id = ?1", params![id])? == 1)
        })
    }

    fn set_sessions_valid_after(&self, user_id: &str, at: SystemTime) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE users SET sessions_valid_after = ?2 WHERE id = ?1",
                params![user_id, to_millis(at)],
            )? == 1)
        })
    }

    fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>> {
        self.query_one(
            &format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE id = ?1"),
            params![id],
            access_key_row,
        )
    }

    fn access_keys_of(&self, user_id: &str) -> Result<Vec<AccessKeyRecord>> {
        self.query(
            &format!(
                "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE user_id = ?1 ORDER BY created_at, id"
            ),
            params![user_id],
            access_key_row,
        )
    }

    fn insert_access_key(&self, key: &AccessKeyRecord, max_per_user: usize) -> Result<bool> {
        self.write(|tx| {
            let count: i64 = tx.query_row(
                "SELECT count(*) FROM access_keys WHERE user_id = ?1",
                params![key.user_id],
                |r| r.get(0),
            )?;
            if count as usize >= max_per_user {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    key.id,
                    key.user_id,
                    key.status.as_str(),
                    to_millis(key.created_at),
                    key.sealed_secret,
                    key.sessions_valid_after.map(to_millis)
                ],
            )?;
            Ok(true)
        })
    }

    fn update_access_key(&self, key: &AccessKeyRecord) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE access_keys SET status = ?2, sessions_valid_after = ?3 WHERE id = ?1",
                params![
                    key.id,
                    key.status.as_str(),
                    key.sessions_valid_after.map(to_millis)
                ],
            )? == 1)
        })
    }

    fn delete_access_key(&self, id: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM access_keys WHERE id = ?1", params![id])? == 1))
    }

    fn user_policies(&self, user_id: &str) -> Result<Vec<UserPolicyRecord>> {
        self.query(
            "SELECT user_id, name, document FROM user_policies WHERE user_id = ?1 ORDER BY name",
            params![user_id],
            |r| {
                Ok(UserPolicyRecord {
                    user_id: r.get(0)?,
                    name: r.get(1)?,
                    document: r.get(2)?,
                })
            },
        )
    }

    fn put_user_policy(&self, policy: &UserPolicyRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO user_policies (user_id, name, document) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (user_id, name) DO UPDATE SET document = excluded.document",
                params![policy.user_id, policy.name, policy.document],
            )?;
            Ok(())
        })
    }

    fn delete_user_policy(&self, user_id: &str, name: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM user_policies WHERE user_id = ?1 AND name = ?2",
                params![user_id, name],
            )? == 1)
        })
    }

    fn parameter_latest_version(&self, name: &str) -> Result<Option<u64>> {
        parameters::latest_version(self, name)
    }

    fn add_parameter_version(
        &self,
        version: &ParameterVersionRecord,
        tags: &[Tag],
        prune: Option<u64>,
    ) -> Result<()> {
        parameters::add_version(self, version, tags, prune)
    }

    fn parameter_version(
        &self,
        name: &str,
        version: Option<u64>,
    ) -> Result<Option<ParameterVersionRecord>> {
        parameters::version(self, name, version)
    }

    fn parameter_label(&self, name: &str, label: &str) -> Result<Option<u64>> {
        parameters::label(self, name, label)
    }

    fn parameter_versions(&self, name: &str) -> Result<Vec<ParameterVersionRecord>> {
        parameters::versions(self, name)
    }

    fn parameters_with_prefix(
        &self,
        prefix: &str,
        one_level: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ParameterVersionRecord>> {
        parameters::with_prefix(self, prefix, one_level, after, limit)
    }

    fn delete_parameter(&self, name: &str) -> Result<bool> {
        parameters::delete(self, name)
    }

    fn label_parameter_version(&self, name: &str, version: u64, labels: &[String]) -> Result<()> {
        parameters::add_labels(self, name, version, labels)
    }

    fn unlabel_parameter_version(
        &self,
        name: &str,
        version: u64,
        labels: &[String],
    ) -> Result<Vec<String>> {
        parameters::remove_labels(self, name, version, labels)
    }

    fn parameter_tags(&self, name: &str) -> Result<Vec<Tag>> {
        self.tags_in(PARAMETER_TAGS, name)
    }

    fn put_parameter_tags(&self, name: &str, tags: &[Tag]) -> Result<()> {
        self.put_tags_in(PARAMETER_TAGS, name, tags)
    }

    fn remove_parameter_tags(&self, name: &str, keys: &[String]) -> Result<()> {
        self.remove_tags_in(PARAMETER_TAGS, name, keys)
    }

    fn secret(&self, arn: &str) -> Result<Option<SecretRecord>> {
        secrets::secret(self, arn)
    }

    fn secret_by_name(&self, name: &str) -> Result<Option<SecretRecord>> {
        secrets::secret_by_name(self, name)
    }

    fn list_secrets(&self) -> Result<Vec<SecretRecord>> {
        secrets::list(self)
    }

    fn secrets_due_for_deletion(&self, now: SystemTime) -> Result<Vec<String>> {
        secrets::due_for_deletion(self, to_millis(now))
    }

    fn secrets_due_for_rotation(&self, now: SystemTime) -> Result<Vec<String>> {
        secrets::due_for_rotation(self, to_millis(now))
    }

    fn write_secret(
        &self,
        secret: &SecretRecord,
        version: Option<&SecretVersionRecord>,
        stages: &[(String, Option<String>)],
        prune: &[String],
        tags: &[Tag],
    ) -> Result<()> {
        secrets::write(self, secret, version, stages, prune, tags)
    }

    fn secret_versions(&self, arn: &str) -> Result<Vec<SecretVersionRecord>> {
        secrets::versions(self, arn)
    }

    fn delete_secret(&self, arn: &str) -> Result<bool> {
        let deleted = secrets::delete(self, arn)?;
        self.checkpoint();
        Ok(deleted)
    }

    fn secret_tags(&self, arn: &str) -> Result<Vec<Tag>> {
        self.tags_in(SECRET_TAGS, arn)
    }

    fn put_secret_tags(&self, arn: &str, tags: &[Tag]) -> Result<()> {
        self.put_tags_in(SECRET_TAGS, arn, tags)
    }

    fn remove_secret_tags(&self, arn: &str, keys: &[String]) -> Result<()> {
        self.remove_tags_in(SECRET_TAGS, arn, keys)
    }

    fn append_audit_events(&self, events: &[AuditRecord]) -> Result<()> {
        audit::append(self, events)
    }

    fn last_audit_event(&self) -> Result<Option<AuditRecord>> {
        audit::last(self)
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        audit::query(self, query)
    }

    fn engine(&self) -> super::Engine {
        super::Engine::Sqlite
    }

    fn dump_table(
        &self,
        table: &str,
        columns: &mut dyn FnMut(&[String]) -> Result<()>,
        row: &mut dyn FnMut(Vec<super::Value>) -> Result<()>,
    ) -> Result<()> {
        copy::dump(self, table, columns, row)
    }

    fn load_rows(&self, table: &str, columns: &[String], rows: &[Vec<super::Value>]) -> Result<()> {
        copy::load(self, table, columns, rows)
    }
}
