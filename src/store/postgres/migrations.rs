//! The schema, as numbered migrations applied at open and tracked in `vaultd_schema` (not one of
//! [`crate::store::TABLES`]: it describes the database, it is not part of the vault). A database
//! newer than the code is refused rather than misread.
//!
//! The tables, columns, keys and indexes are SQLite's (after all of its migrations), with
//! INTEGER as BIGINT and BLOB as BYTEA, so a vault copies between the engines column by column.
//! Every text column has the "C" collation: comparisons and ORDER BY are by bytes, as SQLite's
//! BINARY collation, whatever the database's locale (listings page identically on both engines,
//! and a parameter path prefix is a range of names). PostgreSQL's versions are numbered on their
//! own: version 1 is SQLite's version 5, as no PostgreSQL store existed before it.

use postgres::Client;

use super::tx::storage_error;
use crate::store::{Error, Result};

/// Held while migrating: several replicas starting at once migrate one after the other (the
/// later ones find nothing left to do).
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"vaultd:M");

/// Numbered migrations; index + 1 is the schema version they bring the database to.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite's migrations 1 to 5 made: keys, material, tags, aliases; users, access
    // keys and inline policies; the audit trail; Parameter Store; Secrets Manager.
    r#"
    CREATE TABLE meta (
        name  TEXT COLLATE "C" PRIMARY KEY,
        value BYTEA NOT NULL
    );
    CREATE TABLE keys (
        id                   TEXT COLLATE "C" PRIMARY KEY,
        created_at           BIGINT NOT NULL,
        description          TEXT COLLATE "C" NOT NULL,
        key_spec             TEXT COLLATE "C" NOT NULL,
        key_usage            TEXT COLLATE "C" NOT NULL,
        origin               TEXT COLLATE "C" NOT NULL,
        key_manager          TEXT COLLATE "C" NOT NULL,
        state                TEXT COLLATE "C" NOT NULL,
        deletion_date        BIGINT,
        pending_window_days  BIGINT,
        rotation_period_days BIGINT,
        next_rotation_at     BIGINT,
        current_version      BIGINT NOT NULL,
        expiration_model     TEXT COLLATE "C",
        valid_to             BIGINT
    );
    CREATE INDEX keys_by_deletion_date ON keys(deletion_date) WHERE deletion_date IS NOT NULL;
    CREATE INDEX keys_by_next_rotation ON keys(next_rotation_at) WHERE next_rotation_at IS NOT NULL;
    CREATE INDEX keys_by_valid_to ON keys(valid_to) WHERE valid_to IS NOT NULL;
    CREATE TABLE key_materials (
        key_id        TEXT COLLATE "C" NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        version       BIGINT NOT NULL,
        created_at    BIGINT NOT NULL,
        rotation_type TEXT COLLATE "C",
        sealed        BYTEA,
        fingerprint   BYTEA,
        PRIMARY KEY (key_id, version)
    );
    CREATE TABLE key_tags (
        key_id    TEXT COLLATE "C" NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        tag_key   TEXT COLLATE "C" NOT NULL,
        tag_value TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (key_id, tag_key)
    );
    CREATE TABLE aliases (
        name       TEXT COLLATE "C" PRIMARY KEY,
        key_id     TEXT COLLATE "C" NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX aliases_by_key ON aliases(key_id, name);
    CREATE TABLE users (
        id                   TEXT COLLATE "C" PRIMARY KEY,
        name                 TEXT COLLATE "C" NOT NULL UNIQUE,
        created_at           BIGINT NOT NULL,
        sessions_valid_after BIGINT
    );
    -- IAM user names are unique whatever their case (they are ASCII, which lower() folds).
    CREATE UNIQUE INDEX users_by_name_nocase ON users (lower(name));
    CREATE TABLE access_keys (
        id                   TEXT COLLATE "C" PRIMARY KEY,
        user_id              TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        status               TEXT COLLATE "C" NOT NULL,
        created_at           BIGINT NOT NULL,
        sealed_secret        BYTEA NOT NULL,
        sessions_valid_after BIGINT
    );
    CREATE INDEX access_keys_by_user ON access_keys(user_id);
    CREATE TABLE user_policies (
        user_id  TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name     TEXT COLLATE "C" NOT NULL,
        document TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (user_id, name)
    );
    CREATE TABLE audit_events (
        sequence      BIGINT PRIMARY KEY,
        time          BIGINT NOT NULL,
        user_name     TEXT COLLATE "C" NOT NULL,
        access_key_id TEXT COLLATE "C" NOT NULL,
        event_name    TEXT COLLATE "C" NOT NULL,
        resources     TEXT COLLATE "C" NOT NULL,
        body          TEXT COLLATE "C" NOT NULL,
        hash          BYTEA NOT NULL
    );
    CREATE INDEX audit_events_by_time ON audit_events(time);
    -- The resources an event names (also in `audit_events.resources`, in order), for lookups by
    -- ARN; the primary key is the index.
    CREATE TABLE audit_event_resources (
        arn      TEXT COLLATE "C" NOT NULL,
        sequence BIGINT NOT NULL REFERENCES audit_events(sequence),
        PRIMARY KEY (arn, sequence)
    );
    CREATE TABLE parameters (
        name           TEXT COLLATE "C" PRIMARY KEY,
        latest_version BIGINT NOT NULL,
        created_at     BIGINT NOT NULL
    );
    CREATE TABLE parameter_versions (
        name            TEXT COLLATE "C" NOT NULL REFERENCES parameters(name) ON DELETE CASCADE,
        version         BIGINT NOT NULL,
        type            TEXT COLLATE "C" NOT NULL,
        key_id          TEXT COLLATE "C",
        description     TEXT COLLATE "C" NOT NULL,
        allowed_pattern TEXT COLLATE "C" NOT NULL,
        tier            TEXT COLLATE "C" NOT NULL,
        data_type       TEXT COLLATE "C" NOT NULL,
        modified_at     BIGINT NOT NULL,
        modified_by     TEXT COLLATE "C" NOT NULL,
        value           BYTEA NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE parameter_labels (
        name    TEXT COLLATE "C" NOT NULL,
        label   TEXT COLLATE "C" NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (name, label),
        FOREIGN KEY (name, version) REFERENCES parameter_versions(name, version) ON DELETE CASCADE
    );
    CREATE INDEX parameter_labels_by_version ON parameter_labels(name, version);
    CREATE TABLE parameter_tags (
        name      TEXT COLLATE "C" NOT NULL REFERENCES parameters(name) ON DELETE CASCADE,
        tag_key   TEXT COLLATE "C" NOT NULL,
        tag_value TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (name, tag_key)
    );
    CREATE TABLE secrets (
        arn                  TEXT COLLATE "C" PRIMARY KEY,
        name                 TEXT COLLATE "C" NOT NULL UNIQUE,
        description          TEXT COLLATE "C" NOT NULL,
        kms_key_id           TEXT COLLATE "C",
        created_at           BIGINT NOT NULL,
        last_changed_at      BIGINT NOT NULL,
        last_accessed_at     BIGINT,
        deleted_at           BIGINT,
        rotation_enabled     BIGINT,
        rotation_hook        TEXT COLLATE "C",
        rotation_days        BIGINT,
        rotation_schedule    TEXT COLLATE "C",
        rotation_duration    TEXT COLLATE "C",
        last_rotated_at      BIGINT,
        next_rotation_at     BIGINT,
        rotation_failure     TEXT COLLATE "C"
    );
    CREATE INDEX secrets_by_deletion ON secrets(deleted_at) WHERE deleted_at IS NOT NULL;
    CREATE INDEX secrets_by_rotation ON secrets(next_rotation_at) WHERE next_rotation_at IS NOT NULL;
    CREATE TABLE secret_versions (
        arn        TEXT COLLATE "C" NOT NULL REFERENCES secrets(arn) ON DELETE CASCADE,
        version_id TEXT COLLATE "C" NOT NULL,
        created_at BIGINT NOT NULL,
        value      BYTEA,
        PRIMARY KEY (arn, version_id)
    );
    CREATE TABLE secret_stages (
        arn        TEXT COLLATE "C" NOT NULL,
        stage      TEXT COLLATE "C" NOT NULL,
        version_id TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (arn, stage),
        FOREIGN KEY (arn, version_id) REFERENCES secret_versions(arn, version_id) ON DELETE CASCADE
    );
    CREATE TABLE secret_tags (
        arn       TEXT COLLATE "C" NOT NULL REFERENCES secrets(arn) ON DELETE CASCADE,
        tag_key   TEXT COLLATE "C" NOT NULL,
        tag_value TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (arn, tag_key)
    );
    "#,
];

/// Applies the migrations the database has not seen yet and gives it its random id if it has
/// none, in one transaction under an advisory lock (several replicas may start at once).
///
/// Read committed on purpose: each statement after the lock sees what the previous holder
/// committed (a snapshot taken before waiting for the lock would not).
pub(super) fn migrate(client: &mut Client) -> Result<()> {
    let err = |e: postgres::Error| storage_error(&e);
    let mut tx = client.transaction().map_err(err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(err)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS vaultd_schema (version BIGINT NOT NULL)")
        .map_err(err)?;
    let current: Option<i64> = tx
        .query_one("SELECT max(version) FROM vaultd_schema", &[])
        .map_err(err)?
        .try_get(0)
        .map_err(err)?;
    let from = usize::try_from(current.unwrap_or(0)).unwrap_or(usize::MAX);
    if from > MIGRATIONS.len() {
        return Err(Error::Corrupt(format!(
            "the database has schema version {from}, newer than this vaultd knows ({}); upgrade vaultd",
            MIGRATIONS.len()
        )));
    }
    for sql in &MIGRATIONS[from..] {
        tx.batch_execute(sql).map_err(err)?;
    }
    if from < MIGRATIONS.len() {
        tx.execute("DELETE FROM vaultd_schema", &[]).map_err(err)?;
        tx.execute(
            "INSERT INTO vaultd_schema (version) VALUES ($1)",
            &[&(MIGRATIONS.len() as i64)],
        )
        .map_err(err)?;
    }
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Error::Unavailable(format!("random: {e}")))?;
    tx.execute(
        "INSERT INTO meta (name, value) VALUES ('database_id', $1) ON CONFLICT (name) DO NOTHING",
        &[&id.as_slice()],
    )
    .map_err(err)?;
    tx.commit().map_err(err)
}
