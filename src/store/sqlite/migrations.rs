//! The schema, as numbered migrations applied at open and tracked in `PRAGMA user_version`. A
//! database newer than the code is refused rather than misread.

use rusqlite::Connection;

use super::storage_error;
use crate::store::{Error, Result};

/// Numbered migrations; index + 1 is the schema version they bring the database to.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 2: identity (case-insensitive user names as IAM, session revocation, inline policies) and
    // the hash-chained audit trail.
    r#"
    ALTER TABLE users ADD COLUMN sessions_valid_after INTEGER;
    ALTER TABLE access_keys ADD COLUMN sessions_valid_after INTEGER;
    CREATE UNIQUE INDEX users_by_name_nocase ON users(name COLLATE NOCASE);
    CREATE TABLE user_policies (
        user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name     TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (user_id, name)
    ) STRICT;
    CREATE TABLE audit_events (
        sequence      INTEGER PRIMARY KEY,
        time          INTEGER NOT NULL,
        user_name     TEXT NOT NULL,
        access_key_id TEXT NOT NULL,
        event_name    TEXT NOT NULL,
        resources     TEXT NOT NULL,
        body          TEXT NOT NULL,
        hash          BLOB NOT NULL
    ) STRICT;
    CREATE INDEX audit_events_by_time ON audit_events(time);
    -- The resources an event names (also in `audit_events.resources`, in order), for lookups by
    -- ARN; the primary key is the index.
    CREATE TABLE audit_event_resources (
        arn      TEXT NOT NULL,
        sequence INTEGER NOT NULL REFERENCES audit_events(sequence),
        PRIMARY KEY (arn, sequence)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 3: imported key material: its expiry on the key, and material rows that outlive deletion
    // of their material (sealed NULL) with a fingerprint, so that only the same material returns.
    r#"
    ALTER TABLE keys ADD COLUMN expiration_model TEXT;
    ALTER TABLE keys ADD COLUMN valid_to INTEGER;
    CREATE INDEX keys_by_valid_to ON keys(valid_to) WHERE valid_to IS NOT NULL;
    CREATE TABLE key_materials_v3 (
        key_id        TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        version       INTEGER NOT NULL,
        created_at    INTEGER NOT NULL,
        rotation_type TEXT,
        sealed        BLOB,
        fingerprint   BLOB,
        PRIMARY KEY (key_id, version)
    ) STRICT;
    INSERT INTO key_materials_v3 (key_id, version, created_at, rotation_type, sealed)
        SELECT key_id, version, created_at, rotation_type, sealed FROM key_materials;
    DROP TABLE key_materials;
    ALTER TABLE key_materials_v3 RENAME TO key_materials;
    "#,
    // 4: Parameter Store: parameters, their versions (values sealed or KMS-encrypted), labels
    // and tags.
    r#"
    CREATE TABLE parameters (
        name           TEXT PRIMARY KEY,
        latest_version INTEGER NOT NULL,
        created_at     INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE parameter_versions (
        name            TEXT NOT NULL REFERENCES parameters(name) ON DELETE CASCADE,
        version         INTEGER NOT NULL,
        type            TEXT NOT NULL,
        key_id          TEXT,
        description     TEXT NOT NULL,
        allowed_pattern TEXT NOT NULL,
        tier            TEXT NOT NULL,
        data_type       TEXT NOT NULL,
        modified_at     INTEGER NOT NULL,
        modified_by     TEXT NOT NULL,
        value           BLOB NOT NULL,
        PRIMARY KEY (name, version)
    ) STRICT;
    CREATE TABLE parameter_labels (
        name    TEXT NOT NULL,
        label   TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, label),
        FOREIGN KEY (name, version) REFERENCES parameter_versions(name, version) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX parameter_labels_by_version ON parameter_labels(name, version);
    CREATE TABLE parameter_tags (
        name      TEXT NOT NULL REFERENCES parameters(name) ON DELETE CASCADE,
        tag_key   TEXT NOT NULL,
        tag_value TEXT NOT NULL,
        PRIMARY KEY (name, tag_key)
    ) STRICT;
    "#,
    // 5: Secrets Manager: secrets, their versions (values KMS-encrypted), staging labels and tags.
    r#"
    CREATE TABLE secrets (
        arn                  TEXT PRIMARY KEY,
        name                 TEXT NOT NULL UNIQUE,
        description          TEXT NOT NULL,
        kms_key_id           TEXT,
        created_at           INTEGER NOT NULL,
        last_changed_at      INTEGER NOT NULL,
        last_accessed_at     INTEGER,
        deleted_at           INTEGER,
        rotation_enabled     INTEGER,
        rotation_hook        TEXT,
        rotation_days        INTEGER,
        rotation_schedule    TEXT,
        rotation_duration    TEXT,
        last_rotated_at      INTEGER,
        next_rotation_at     INTEGER,
        rotation_failure     TEXT
    ) STRICT;
    CREATE INDEX secrets_by_deletion ON secrets(deleted_at) WHERE deleted_at IS NOT NULL;
    CREATE INDEX secrets_by_rotation ON secrets(next_rotation_at) WHERE next_rotation_at IS NOT NULL;
    CREATE TABLE secret_versions (
        arn        TEXT NOT NULL REFERENCES secrets(arn) ON DELETE CASCADE,
        version_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        value      BLOB,
        PRIMARY KEY (arn, version_id)
    ) STRICT;
    CREATE TABLE secret_stages (
        arn        TEXT NOT NULL,
        stage      TEXT NOT NULL,
        version_id TEXT NOT NULL,
        PRIMARY KEY (arn, stage),
        FOREIGN KEY (arn, version_id) REFERENCES secret_versions(arn, version_id) ON DELETE CASCADE
    ) STRICT;
    CREATE TABLE secret_tags (
        arn       TEXT NOT NULL REFERENCES secrets(arn) ON DELETE CASCADE,
        tag_key   TEXT NOT NULL,
        tag_value TEXT NOT NULL,
        PRIMARY KEY (arn, tag_key)
    ) STRICT;
    "#,
];

/// Applies the migrations the database has not seen yet, in one exclusive transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_3_keeps_the_material_of_a_version_2_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO keys (id, created_at, description, key_spec, key_usage, origin, \
             key_manager, state, current_version) VALUES ('k', 1, '', 'SYMMETRIC_DEFAULT', \
             'ENCRYPT_DECRYPT', 'AWS_KMS', 'CUSTOMER', 'Enabled', 2);
             INSERT INTO key_materials VALUES ('k', 1, 1, NULL, x'0102');
             INSERT INTO key_materials VALUES ('k', 2, 5, 'ON_DEMAND', x'0304');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        type Row = (u32, Option<String>, Vec<u8>, Option<Vec<u8>>);
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT version, rotation_type, sealed, fingerprint FROM key_materials \
                 WHERE key_id = 'k' ORDER BY version",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, None, vec![1, 2], None),
                (2, Some("ON_DEMAND".into()), vec![3, 4], None)
            ]
        );
        // The foreign key still cascades.
        conn.execute("DELETE FROM keys WHERE id = 'k'", []).unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM key_materials", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
