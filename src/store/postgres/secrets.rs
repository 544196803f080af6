//! Secrets Manager's tables (see the SQLite engine's `secrets.rs` for what each holds). A write
//! (metadata, version, stage moves, pruning) is one serializable transaction, so concurrent
//! writers in several processes leave each stage on exactly one version.

use postgres::Row;

use super::{
    PostgresStore,
    rows::{SECRET_TAGS, col, opt_millis, opt_time_col, opt_u32_col, time_col, upsert_tags},
    tx::{Tx, TxResult},
};
use crate::{
    clock::to_millis,
    model::{SecretRecord, SecretRotation, SecretVersionRecord, Tag},
    store::Result,
};

const COLUMNS: &str = "arn, name, description, kms_key_id, created_at, last_changed_at, \
     last_accessed_at, deleted_at, rotation_enabled, rotation_hook, rotation_days, rotation_schedule, \
     rotation_duration, last_rotated_at, next_rotation_at, rotation_failure";

fn secret_row(row: &Row) -> Result<SecretRecord> {
    Ok(SecretRecord {
        arn: col(row, 0)?,
        name: col(row, 1)?,
        description: col(row, 2)?,
        kms_key_id: col(row, 3)?,
        created_at: time_col(row, 4)?,
        last_changed_at: time_col(row, 5)?,
        last_accessed_at: opt_time_col(row, 6)?,
        deleted_at: opt_time_col(row, 7)?,
        rotation: SecretRotation {
            enabled: col::<Option<i64>>(row, 8)?.map(|v| v != 0),
            hook: col(row, 9)?,
            automatically_after_days: opt_u32_col(row, 10)?,
            schedule_expression: col(row, 11)?,
            duration: col(row, 12)?,
            last_rotated_at: opt_time_col(row, 13)?,
            next_rotation_at: opt_time_col(row, 14)?,
            failure: col(row, 15)?,
        },
    })
}

fn write_secret(tx: &mut Tx<'_>, s: &SecretRecord) -> TxResult<()> {
    let r = &s.rotation;
    tx.execute(
        &format!(
            "INSERT INTO secrets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16) ON CONFLICT (arn) DO UPDATE SET description = excluded.description, \
             kms_key_id = excluded.kms_key_id, last_changed_at = excluded.last_changed_at, \
             last_accessed_at = excluded.last_accessed_at, deleted_at = excluded.deleted_at, \
             rotation_enabled = excluded.rotation_enabled, rotation_hook = excluded.rotation_hook, \
             rotation_days = excluded.rotation_days, rotation_schedule = excluded.rotation_schedule, \
             rotation_duration = excluded.rotation_duration, last_rotated_at = excluded.last_rotated_at, \
             next_rotation_at = excluded.next_rotation_at, rotation_failure = excluded.rotation_failure"
        ),
        &[
            &s.arn,
            &s.name,
            &s.description,
            &s.kms_key_id,
            &to_millis(s.created_at),
            &to_millis(s.last_changed_at),
            &opt_millis(s.last_accessed_at),
            &opt_millis(s.deleted_at),
            &r.enabled.map(i64::from),
            &r.hook,
            &r.automatically_after_days.map(i64::from),
            &r.schedule_expression,
            &r.duration,
            &opt_millis(r.last_rotated_at),
            &opt_millis(r.next_rotation_at),
            &r.failure,
        ],
    )?;
    Ok(())
}

pub(super) fn secret(store: &PostgresStore, arn: &str) -> Result<Option<SecretRecord>> {
    store.query_opt(
        &format!("SELECT {COLUMNS} FROM secrets WHERE arn = $1"),
        &[&arn],
        secret_row,
    )
}

pub(super) fn secret_by_name(store: &PostgresStore, name: &str) -> Result<Option<SecretRecord>> {
    store.query_opt(
        &format!("SELECT {COLUMNS} FROM secrets WHERE name = $1"),
        &[&name],
        secret_row,
    )
}

pub(super) fn list(store: &PostgresStore) -> Result<Vec<SecretRecord>> {
    store.query(
        &format!("SELECT {COLUMNS} FROM secrets ORDER BY name"),
        &[],
        secret_row,
    )
}

pub(super) fn due_for_deletion(store: &PostgresStore, now: i64) -> Result<Vec<String>> {
    store.query(
        "SELECT arn FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at <= $1",
        &[&now],
        |r| col(r, 0),
    )
}

pub(super) fn due_for_rotation(store: &PostgresStore, now: i64) -> Result<Vec<String>> {
    store.query(
        "SELECT arn FROM secrets WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= $1 \
         AND deleted_at IS NULL AND rotation_enabled = 1",
        &[&now],
        |r| col(r, 0),
    )
}

/// Writes a secret's metadata, optionally a version (new, or its value replaced), stage changes
/// (`None` removes the stage), and prunes versions, in one transaction. New secrets get `tags`.
pub(super) fn write(
    store: &PostgresStore,
    secret: &SecretRecord,
    version: Option<&SecretVersionRecord>,
    stages: &[(String, Option<String>)],
    prune: &[String],
    tags: &[Tag],
) -> Result<()> {
    store.write(|tx| {
        write_secret(tx, secret)?;
        if let Some(v) = version {
            tx.execute(
                "INSERT INTO secret_versions (arn, version_id, created_at, value) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (arn, version_id) DO UPDATE SET value = excluded.value",
                &[
                    &secret.arn,
                    &v.version_id,
                    &to_millis(v.created_at),
                    &v.value,
                ],
            )?;
        }
        for (stage, target) in stages {
            match target {
                Some(version_id) => tx.execute(
                    "INSERT INTO secret_stages (arn, stage, version_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (arn, stage) DO UPDATE SET version_id = excluded.version_id",
                    &[&secret.arn, stage, version_id],
                )?,
                None => tx.execute(
                    "DELETE FROM secret_stages WHERE arn = $1 AND stage = $2",
                    &[&secret.arn, stage],
                )?,
            };
        }
        for version_id in prune {
            tx.execute(
                "DELETE FROM secret_versions WHERE arn = $1 AND version_id = $2",
                &[&secret.arn, version_id],
            )?;
        }
        upsert_tags(tx, SECRET_TAGS, &secret.arn, tags)
    })
}

/// One query, so the versions and their stages are one moment.
pub(super) fn versions(store: &PostgresStore, arn: &str) -> Result<Vec<SecretVersionRecord>> {
    store.query(
        "SELECT v.version_id, v.created_at, v.value, \
         ARRAY(SELECT s.stage FROM secret_stages s \
               WHERE s.arn = v.arn AND s.version_id = v.version_id ORDER BY s.stage) \
         FROM secret_versions v WHERE v.arn = $1 ORDER BY v.created_at, v.version_id",
        &[&arn],
        |r| {
            Ok(SecretVersionRecord {
                version_id: col(r, 0)?,
                created_at: time_col(r, 1)?,
                value: col(r, 2)?,
                stages: col(r, 3)?,
            })
        },
    )
}

pub(super) fn delete(store: &PostgresStore, arn: &str) -> Result<bool> {
    store.write(|tx| Ok(tx.execute("DELETE FROM secrets WHERE arn = $1", &[&arn])? == 1))
}
