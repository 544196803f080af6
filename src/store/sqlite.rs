//! The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`, so a committed
//! transaction is on disk before the caller hears `Ok`. The database and its `-wal`/`-shm`
//! companions are created 0600 (SQLite gives the companions the database file's mode).
//!
//! Schema changes are numbered migrations applied at open, tracked in `PRAGMA user_version`.

use std::{
    fs::OpenOptions,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
    sync::{Mutex, MutexGuard},
    time::SystemTime,
};

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{Error, Result, Store};
use crate::{
    clock::{from_millis, to_millis},
    model::*,
};

/// Numbered migrations; index + 1 is the schema version they bring the database to.
const MIGRATIONS: &[&str] = &[
    // 1: keys, material versions, tags, aliases, users and access keys.
    r#"
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;
    CREATE TABLE keys (
        id                   TEXT PRIMARY KEY,
        created_at           INTEGER NOT NULL,
        description          TEXT NOT NULL,
        key_spec             TEXT NOT NULL,
        key_usage            TEXT NOT NULL,
        origin               TEXT NOT NULL,
        key_manager          TEXT NOT NULL,
        state                TEXT NOT NULL,
        deletion_date        INTEGER,
        pending_window_days  INTEGER,
        rotation_period_days INTEGER,
        next_rotation_at     INTEGER,
        current_version      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX keys_by_deletion_date ON keys(deletion_date) WHERE deletion_date IS NOT NULL;
    CREATE INDEX keys_by_next_rotation ON keys(next_rotation_at) WHERE next_rotation_at IS NOT NULL;
    CREATE TABLE key_materials (
        key_id        TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        version       INTEGER NOT NULL,
        created_at    INTEGER NOT NULL,
        rotation_type TEXT,
        sealed        BLOB NOT NULL,
        PRIMARY KEY (key_id, version)
    ) STRICT;
    CREATE TABLE key_tags (
        key_id    TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        tag_key   TEXT NOT NULL,
        tag_value TEXT NOT NULL,
        PRIMARY KEY (key_id, tag_key)
    ) STRICT;
    CREATE TABLE aliases (
        name       TEXT PRIMARY KEY,
        key_id     TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX aliases_by_key ON aliases(key_id, name);
    CREATE TABLE users (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE access_keys (
        id            TEXT PRIMARY KEY,
        user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        status        TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        sealed_secret BLOB NOT NULL
    ) STRICT;
    CREATE INDEX access_keys_by_user ON access_keys(user_id);
    "#,
];

/// The SQLite store. One connection behind a mutex: SQLite has one writer anyway, and reads on the
/// hot path are served from the domain's caches.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

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

impl SqliteStore {
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
        Ok(Self {
            conn: Mutex::new(conn),
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

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .map_err(storage_error)?;
    let current: usize = tx
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map_err(storage_error)? as usize;
    if current > MIGRATIONS.len() {
        return Err(Error::Corrupt(format!(
            "the database has schema version {current}, newer than this vaultd knows ({}); upgrade vaultd",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql).map_err(storage_error)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(storage_error)?;
    }
    tx.commit().map_err(storage_error)
}

fn parse<T>(text: String, parse: fn(&str) -> Option<T>, what: &str) -> rusqlite::Result<T> {
    parse(&text).ok_or_else(|| corrupt(what))
}

fn uuid_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(idx)?;
    Uuid::parse_str(&text).map_err(|_| corrupt("uuid"))
}

fn time_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<SystemTime> {
    Ok(from_millis(row.get(idx)?))
}

fn opt_time_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<SystemTime>> {
    Ok(row.get::<_, Option<i64>>(idx)?.map(from_millis))
}

const KEY_COLUMNS: &str = "id, created_at, description, key_spec, key_usage, origin, key_manager, \
     state, deletion_date, pending_window_days, rotation_period_days, next_rotation_at, current_version";

fn key_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let period: Option<u32> = row.get(10)?;
    let next = opt_time_col(row, 11)?;
    Ok(KeyRecord {
        id: uuid_col(row, 0)?,
        created_at: time_col(row, 1)?,
        description: row.get(2)?,
        key_spec: parse(row.get(3)?, KeySpec::parse, "key spec")?,
        key_usage: parse(row.get(4)?, KeyUsage::parse, "key usage")?,
        origin: parse(row.get(5)?, Origin::parse, "origin")?,
        key_manager: parse(row.get(6)?, KeyManager::parse, "key manager")?,
        state: parse(row.get(7)?, KeyState::parse, "key state")?,
        deletion_date: opt_time_col(row, 8)?,
        pending_window_days: row.get(9)?,
        rotation: match (period, next) {
            (Some(period_days), Some(next_rotation)) => Some(RotationSchedule {
                period_days,
                next_rotation,
            }),
            _ => None,
        },
        current_version: row.get(12)?,
    })
}

fn material_row(row: &Row<'_>) -> rusqlite::Result<MaterialVersion> {
    Ok(MaterialVersion {
        key_id: uuid_col(row, 0)?,
        version: row.get(1)?,
        created_at: time_col(row, 2)?,
        rotation_type: match row.get::<_, Option<String>>(3)? {
            Some(t) => Some(parse(t, RotationType::parse, "rotation type")?),
            None => None,
        },
        sealed: row.get(4)?,
    })
}

fn alias_row(row: &Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        name: row.get(0)?,
        key_id: uuid_col(row, 1)?,
        created_at: time_col(row, 2)?,
        updated_at: time_col(row, 3)?,
    })
}

fn user_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: time_col(row, 2)?,
    })
}

fn access_key_row(row: &Row<'_>) -> rusqlite::Result<AccessKeyRecord> {
    Ok(AccessKeyRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        status: parse(row.get(2)?, AccessKeyStatus::parse, "access key status")?,
        created_at: time_col(row, 3)?,
        sealed_secret: row.get(4)?,
    })
}

fn insert_material(tx: &rusqlite::Transaction<'_>, m: &MaterialVersion) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO key_materials (key_id, version, created_at, rotation_type, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            m.key_id.to_string(),
            m.version,
            to_millis(m.created_at),
            m.rotation_type.map(RotationType::as_str),
            m.sealed
        ],
    )?;
    Ok(())
}

fn write_key_metadata(tx: &rusqlite::Transaction<'_>, key: &KeyRecord) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE keys SET description = ?2, state = ?3, deletion_date = ?4, pending_window_days = ?5, \
         rotation_period_days = ?6, next_rotation_at = ?7, current_version = ?8 WHERE id = ?1",
        params![
            key.id.to_string(),
            key.description,
            key.state.as_str(),
            key.deletion_date.map(to_millis),
            key.pending_window_days,
            key.rotation.map(|r| r.period_days),
            key.rotation.map(|r| to_millis(r.next_rotation)),
            key.current_version,
        ],
    )
}

fn upsert_tags(tx: &rusqlite::Transaction<'_>, key_id: Uuid, tags: &[Tag]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO key_tags (key_id, tag_key, tag_value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
    )?;
    for tag in tags {
        stmt.execute(params![key_id.to_string(), tag.key, tag.value])?;
    }
    Ok(())
}

/// An update that matched no row: the row vanished under the caller, which the domain's write lock
/// rules out, so it is reported as corruption.
fn not_updated(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidParameterName(format!("no such {what} to update"))
}

impl Store for SqliteStore {
    fn database_id(&self) -> Result<Vec<u8>> {
        self.conn()?
            .query_row(
                "SELECT value FROM meta WHERE name = 'database_id'",
                [],
                |r| r.get(0),
            )
            .map_err(storage_error)
    }

    fn sealed_keyring(&self) -> Result<Option<Vec<u8>>> {
        self.conn()?
            .query_row("SELECT value FROM meta WHERE name = 'keyring'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(storage_error)
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

    fn insert_key(&self, key: &KeyRecord, material: &MaterialVersion, tags: &[Tag]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
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
                ],
            )?;
            insert_material(tx, material)?;
            upsert_tags(tx, key.id, tags)
        })
    }

    fn key(&self, id: Uuid) -> Result<Option<KeyRecord>> {
        self.conn()?
            .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"))
            .and_then(|mut s| s.query_row(params![id.to_string()], key_row).optional())
            .map_err(storage_error)
    }

    fn list_keys(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<KeyRecord>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM keys WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .map_err(storage_error)?;
        let after = after.map(|u| u.to_string()).unwrap_or_default();
        stmt.query_map(params![after, limit as i64], key_row)
            .and_then(|rows| rows.collect())
            .map_err(storage_error)
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

    fn materials(&self, key_id: Uuid) -> Result<Vec<MaterialVersion>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT key_id, version, created_at, rotation_type, sealed FROM key_materials \
                 WHERE key_id = ?1 ORDER BY version",
            )
            .map_err(storage_error)?;
        stmt.query_map(params![key_id.to_string()], material_row)
            .and_then(|rows| rows.collect())
            .map_err(storage_error)
    }

    fn delete_key(&self, id: Uuid) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM keys WHERE id = ?1", params![id.to_string()])?;
            Ok(())
        })?;
        // The WAL still holds earlier images of the deleted pages: fold it into the database
        // (where secure_delete zeroed them) and truncate it, so the material is gone from disk.
        self.conn()?
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(storage_error)
    }

    fn keys_due_for_deletion(&self, now: SystemTime) -> Result<Vec<Uuid>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM keys WHERE deletion_date IS NOT NULL AND deletion_date <= ?1 \
                 AND state = 'PendingDeletion'",
            )
            .map_err(storage_error)?;
        stmt.query_map(params![to_millis(now)], |r| uuid_col(r, 0))
            .and_then(|rows| rows.collect())
            .map_err(storage_error)
    }

    fn keys_due_for_rotation(&self, now: SystemTime) -> Result<Vec<Uuid>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM keys WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= ?1 \
                 AND state = 'Enabled'",
            )
            .map_err(storage_error)?;
        stmt.query_map(params![to_millis(now)], |r| uuid_col(r, 0))
            .and_then(|rows| rows.collect())
            .map_err(storage_error)
    }

    fn tags(&self, key_id: Uuid) -> Result<Vec<Tag>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT tag_key, tag_value FROM key_tags WHERE key_id = ?1 ORDER BY tag_key",
            )
            .map_err(storage_error)?;
        stmt.query_map(params![key_id.to_string()], |r| {
            Ok(Tag {
                key: r.get(0)?,
                value: r.get(1)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(storage_error)
    }

    fn put_tags(&self, key_id: Uuid, tags: &[Tag]) -> Result<()> {
        self.write(|tx| upsert_tags(tx, key_id, tags))
    }

    fn remove_tags(&self, key_id: Uuid, tag_keys: &[String]) -> Result<()> {
        self.write(|tx| {
            let mut stmt =
                tx.prepare_cached("DELETE FROM key_tags WHERE key_id = ?1 AND tag_key = ?2")?;
            for tag_key in tag_keys {
                stmt.execute(params![key_id.to_string(), tag_key])?;
            }
            Ok(())
        })
    }

    fn alias(&self, name: &str) -> Result<Option<AliasRecord>> {
        self.conn()?
            .prepare_cached(
                "SELECT name, key_id, created_at, updated_at FROM aliases WHERE name = ?1",
            )
            .and_then(|mut s| s.query_row(params![name], alias_row).optional())
            .map_err(storage_error)
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
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, key_id, created_at, updated_at FROM aliases \
                 WHERE (?1 IS NULL OR key_id = ?1) AND name > ?2 ORDER BY name LIMIT ?3",
            )
            .map_err(storage_error)?;
        stmt.query_map(
            params![
                key_id.map(|k| k.to_string()),
                after.unwrap_or(""),
                limit as i64
            ],
            alias_row,
        )
        .and_then(|rows| rows.collect())
        .map_err(storage_error)
    }

    fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        self.conn()?
            .prepare_cached("SELECT id, name, created_at FROM users WHERE name = ?1")
            .and_then(|mut s| s.query_row(params![name], user_row).optional())
            .map_err(storage_error)
    }

    fn user(&self, id: &str) -> Result<Option<UserRecord>> {
        self.conn()?
            .prepare_cached("SELECT id, name, created_at FROM users WHERE id = ?1")
            .and_then(|mut s| s.query_row(params![id], user_row).optional())
            .map_err(storage_error)
    }

    fn insert_user(&self, user: &UserRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![user.id, user.name, to_millis(user.created_at)],
            )?;
            Ok(())
        })
    }

    fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>> {
        self.conn()?
            .prepare_cached(
                "SELECT id, user_id, status, created_at, sealed_secret FROM access_keys WHERE id = ?1",
            )
            .and_then(|mut s| s.query_row(params![id], access_key_row).optional())
            .map_err(storage_error)
    }

    fn access_keys_of(&self, user_id: &str) -> Result<Vec<AccessKeyRecord>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, user_id, status, created_at, sealed_secret FROM access_keys \
                 WHERE user_id = ?1 ORDER BY created_at, id",
            )
            .map_err(storage_error)?;
        stmt.query_map(params![user_id], access_key_row)
            .and_then(|rows| rows.collect())
            .map_err(storage_error)
    }

    fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO access_keys (id, user_id, status, created_at, sealed_secret) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key.id,
                    key.user_id,
                    key.status.as_str(),
                    to_millis(key.created_at),
                    key.sealed_secret
                ],
            )?;
            Ok(())
        })
    }

    fn delete_access_key(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM access_keys WHERE id = ?1", params![id])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::DAY;

    fn key(id: Uuid, now: SystemTime) -> KeyRecord {
        KeyRecord {
            id,
            created_at: now,
            description: "test".into(),
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            key_manager: KeyManager::Customer,
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            rotation: None,
            current_version: 1,
        }
    }

    fn material(id: Uuid, version: u32, now: SystemTime) -> MaterialVersion {
        MaterialVersion {
            key_id: id,
            version,
            created_at: now,
            rotation_type: (version > 1).then_some(RotationType::OnDemand),
            sealed: vec![version as u8; 40],
        }
    }

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("vault.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn files_are_private_and_schema_is_current() {
        let (dir, store) = open();
        store.init_keyring(b"sealed").unwrap();
        for name in ["vault.db", "vault.db-wal", "vault.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let version: i64 = store
            .conn()
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, SqliteStore::schema_version());
        assert!(matches!(
            store.init_keyring(b"again"),
            Err(Error::Conflict(_))
        ));
        // Durability and deletion settings the rest of vaultd relies on.
        let conn = store.conn().unwrap();
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "FULL: every commit is fsync'd");
        assert_eq!(pragma("secure_delete"), "1");
        assert_eq!(pragma("foreign_keys"), "1");
    }

    #[test]
    fn database_id_is_stable_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.db");
        let first = SqliteStore::open(&path).unwrap().database_id().unwrap();
        assert_eq!(first.len(), 16);
        assert_eq!(
            SqliteStore::open(&path).unwrap().database_id().unwrap(),
            first
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.db");
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        assert!(matches!(SqliteStore::open(&path), Err(Error::Corrupt(_))));
    }

    #[test]
    fn keys_round_trip_and_delete_cascades() {
        let (_dir, store) = open();
        let now = from_millis(1_700_000_000_000);
        let id = Uuid::new_v4();
        let mut record = key(id, now);
        store
            .insert_key(
                &record,
                &material(id, 1, now),
                &[Tag {
                    key: "team".into(),
                    value: "a".into(),
                }],
            )
            .unwrap();
        assert_eq!(store.key(id).unwrap().unwrap(), record);

        record.current_version = 2;
        record.rotation = Some(RotationSchedule {
            period_days: 90,
            next_rotation: now + DAY * 90,
        });
        store.add_material(&record, &material(id, 2, now)).unwrap();
        assert_eq!(store.key(id).unwrap().unwrap(), record);
        let versions: Vec<u32> = store
            .materials(id)
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, [1, 2]);
        assert!(
            store
                .keys_due_for_rotation(now + DAY * 89)
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.keys_due_for_rotation(now + DAY * 90).unwrap(), [id]);

        store
            .insert_alias(&AliasRecord {
                name: "alias/a".into(),
                key_id: id,
                created_at: now,
                updated_at: now,
            })
            .unwrap();
        store.delete_key(id).unwrap();
        assert!(store.key(id).unwrap().is_none());
        assert!(store.materials(id).unwrap().is_empty());
        assert!(store.tags(id).unwrap().is_empty());
        assert!(store.alias("alias/a").unwrap().is_none());
    }

    #[test]
    fn list_keys_pages_by_id() {
        let (_dir, store) = open();
        let now = SystemTime::now();
        let mut ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            store
                .insert_key(&key(*id, now), &material(*id, 1, now), &[])
                .unwrap();
        }
        ids.sort();
        let first = store.list_keys(None, 3).unwrap();
        assert_eq!(first.iter().map(|k| k.id).collect::<Vec<_>>(), ids[..3]);
        let rest = store.list_keys(Some(ids[2]), 3).unwrap();
        assert_eq!(rest.iter().map(|k| k.id).collect::<Vec<_>>(), ids[3..]);
    }

    #[test]
    fn alias_names_are_unique() {
        let (_dir, store) = open();
        let now = SystemTime::now();
        let id = Uuid::new_v4();
        store
            .insert_key(&key(id, now), &material(id, 1, now), &[])
            .unwrap();
        let alias = AliasRecord {
            name: "alias/x".into(),
            key_id: id,
            created_at: now,
            updated_at: now,
        };
        store.insert_alias(&alias).unwrap();
        assert!(matches!(
            store.insert_alias(&alias),
            Err(Error::Conflict(_))
        ));
        // An alias cannot point at a key that does not exist.
        let dangling = AliasRecord {
            name: "alias/y".into(),
            key_id: Uuid::new_v4(),
            ..alias
        };
        assert!(matches!(
            store.insert_alias(&dangling),
            Err(Error::Conflict(_))
        ));
    }
}
