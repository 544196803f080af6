//! Tests of what is the SQLite store's own (files, pragmas, statement caching); the behaviour
//! both engines share is tested in `store::conformance`.

use super::*;

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
fn cached_statements_are_not_planned_again_at_each_execution() {
    use rusqlite::StatementStatus;
    // A join on a bound key with an ORDER BY: without the planner stability guarantee SQLite
    // re-prepares it whenever a value is bound (the statement cache clears bindings each time).
    const SQL: &str = "SELECT v.version_id, s.stage FROM secret_versions v \
         LEFT JOIN secret_stages s ON s.arn = v.arn AND s.version_id = v.version_id \
         WHERE v.arn = ?1 ORDER BY v.created_at";
    let reprepares = |conn: &Connection| {
        for arn in ["arn:a", "arn:b", "arn:c"] {
            let mut stmt = conn.prepare_cached(SQL).unwrap();
            assert_eq!(stmt.query_map([arn], |_| Ok(())).unwrap().count(), 0);
        }
        let stmt = conn.prepare_cached(SQL).unwrap();
        stmt.get_status(StatementStatus::RePrepare)
    };
    let (dir, store) = open();
    assert_eq!(reprepares(&store.conn.lock().unwrap()), 0, "the writer");
    for reader in &store.readers {
        assert_eq!(reprepares(&reader.lock().unwrap()), 0, "a reader");
    }
    // The same query on a connection opened without it is planned again each time.
    let plain = Connection::open(dir.path().join("vault.db")).unwrap();
    assert!(reprepares(&plain) >= 2);
}
