//! Tests of the SQLite store against real files.

use super::*;
use crate::clock::{DAY, from_millis};

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
        expiration_model: None,
        valid_to: None,
    }
}

fn material(id: Uuid, version: u32, now: SystemTime) -> MaterialVersion {
    MaterialVersion {
        key_id: id,
        version,
        created_at: now,
        rotation_type: (version > 1).then_some(RotationType::OnDemand),
        sealed: Some(vec![version as u8; 40]),
        fingerprint: None,
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
            Some(&material(id, 1, now)),
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
            .insert_key(&key(*id, now), Some(&material(*id, 1, now)), &[])
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
        .insert_key(&key(id, now), Some(&material(id, 1, now)), &[])
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

#[test]
fn imported_material_is_deleted_but_its_row_and_fingerprint_remain() {
    let (_dir, store) = open();
    let now = from_millis(1_700_000_000_000);
    let id = Uuid::new_v4();
    let mut record = KeyRecord {
        origin: Origin::External,
        state: KeyState::PendingImport,
        ..key(id, now)
    };
    store.insert_key(&record, None, &[]).unwrap();
    assert!(store.materials(id).unwrap().is_empty());

    record.state = KeyState::Enabled;
    record.expiration_model = Some(ExpirationModel::KeyMaterialExpires);
    record.valid_to = Some(now + DAY);
    let imported = MaterialVersion {
        fingerprint: Some(vec![9; 32]),
        ..material(id, 1, now)
    };
    store.import_material(&record, &imported).unwrap();
    assert_eq!(store.key(id).unwrap().unwrap(), record);
    // Live material is never overwritten by other material.
    let other = MaterialVersion {
        fingerprint: Some(vec![8; 32]),
        sealed: Some(vec![8; 40]),
        ..imported.clone()
    };
    assert!(store.import_material(&record, &other).is_err());
    assert!(store.add_material(&record, &imported).is_err());
    assert_eq!(store.materials(id).unwrap(), vec![imported.clone()]);
    assert!(store.keys_due_for_material_expiry(now).unwrap().is_empty());
    assert_eq!(
        store.keys_due_for_material_expiry(now + DAY).unwrap(),
        vec![id]
    );

    record.state = KeyState::PendingImport;
    record.expiration_model = None;
    record.valid_to = None;
    store.delete_materials(&record).unwrap();
    let rows = store.materials(id).unwrap();
    assert_eq!(rows[0].sealed, None);
    assert_eq!(rows[0].fingerprint, Some(vec![9; 32]));
    assert_eq!(store.key(id).unwrap().unwrap(), record);

    // Re-importing writes the same version's row again; once deleted, any material may (the
    // domain checks the fingerprint).
    store.import_material(&record, &imported).unwrap();
    assert_eq!(store.materials(id).unwrap(), vec![imported.clone()]);
    store.delete_materials(&record).unwrap();
    store.import_material(&record, &other).unwrap();
    // A version above the current one (waiting for rotation) may be replaced.
    let pending = MaterialVersion {
        version: 2,
        ..imported.clone()
    };
    store.import_material(&record, &pending).unwrap();
    store
        .import_material(
            &record,
            &MaterialVersion {
                version: 2,
                ..other.clone()
            },
        )
        .unwrap();
    assert_eq!(
        store.materials(id).unwrap()[1].fingerprint,
        Some(vec![8; 32])
    );
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
