//! Secrets Manager's tables: `secrets` (metadata, keyed by ARN, unique names), `secret_versions`
//! (values are KMS ciphertext blobs, never plaintext), `secret_stages` (a staging label is on one
//! version at a time) and `secret_tags`. This module stores what it is given: stage rules,
//! pruning and encryption belong to `crate::secrets`.

use rusqlite::{Row, params};

use super::{
    SqliteStore,
    rows::{opt_time_col, time_col, upsert_tags_on},
};
use crate::{
    clock::to_millis,
    model::{SecretRecord, SecretRotation, SecretVersionRecord, Tag},
    store::Result,
};

const COLUMNS: &str = "arn, name, description, kms_key_id, created_at, last_changed_at, \
     last_accessed_at, deleted_at, rotation_enabled, rotation_hook, rotation_days, rotation_schedule, \
     rotation_duration, last_rotated_at, next_rotation_at, rotation_failure";

fn secret_row(row: &Row<'_>) -> rusqlite::Result<SecretRecord> {
    Ok(SecretRecord {
        arn: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        kms_key_id: row.get(3)?,
        created_at: time_col(row, 4)?,
        last_changed_at: time_col(row, 5)?,
        last_accessed_at: opt_time_col(row, 6)?,
        deleted_at: opt_time_col(row, 7)?,
        rotation: SecretRotation {
            enabled: row.get::<_, Option<i64>>(8)?.map(|v| v != 0),
            hook: row.get(9)?,
            automatically_after_days: row.get(10)?,
            schedule_expression: row.get(11)?,
            duration: row.get(12)?,
            last_rotated_at: opt_time_col(row, 13)?,
            next_rotation_at: opt_time_col(row, 14)?,
            failure: row.get(15)?,
        },
    })
}

fn write_secret(tx: &rusqlite::Transaction<'_>, s: &SecretRecord) -> rusqlite::Result<()> {
    let r = &s.rotation;
    tx.execute(
        &format!(
            "INSERT INTO secrets ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
             ?12, ?13, ?14, ?15, ?16) ON CONFLICT (arn) DO UPDATE SET description = excluded.description, \
             kms_key_id = excluded.kms_key_id, last_changed_at = excluded.last_changed_at, \
             last_accessed_at = excluded.last_accessed_at, deleted_at = excluded.deleted_at, \
             rotation_enabled = excluded.rotation_enabled, rotation_hook = excluded.rotation_hook, \
             rotation_days = excluded.rotation_days, rotation_schedule = excluded.rotation_schedule, \
             rotation_duration = excluded.rotation_duration, last_rotated_at = excluded.last_rotated_at, \
             next_rotation_at = excluded.next_rotation_at, rotation_failure = excluded.rotation_failure"
        ),
        params![
            s.arn,
            s.name,
            s.description,
            s.kms_key_id,
            to_millis(s.created_at),
            to_millis(s.last_changed_at),
            s.last_accessed_at.map(to_millis),
            s.deleted_at.map(to_millis),
            r.enabled.map(i64::from),
            r.hook,
            r.automatically_after_days,
            r.schedule_expression,
            r.duration,
            r.last_rotated_at.map(to_millis),
            r.next_rotation_at.map(to_millis),
            r.failure,
        ],
    )?;
    Ok(())
}

pub(super) fn secret(store: &SqliteStore, arn: &str) -> Result<Option<SecretRecord>> {
    store.query_one_long(
        &format!("SELECT {COLUMNS} FROM secrets WHERE arn = ?1"),
        params![arn],
        secret_row,
    )
}

pub(super) fn secret_by_name(store: &SqliteStore, name: &str) -> Result<Option<SecretRecord>> {
    store.query_one_long(
        &format!("SELECT {COLUMNS} FROM secrets WHERE name = ?1"),
        params![name],
        secret_row,
    )
}

pub(super) fn list(store: &SqliteStore) -> Result<Vec<SecretRecord>> {
    store.query_long(
        &format!("SELECT {COLUMNS} FROM secrets ORDER BY name"),
        [],
        secret_row,
    )
}

pub(super) fn due_for_deletion(store: &SqliteStore, now: i64) -> Result<Vec<String>> {
    store.query_long(
        "SELECT arn FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at <= ?1",
        params![now],
        |r| r.get(0),
    )
}

pub(super) fn due_for_rotation(store: &SqliteStore, now: i64) -> Result<Vec<String>> {
    store.query_long(
        "SELECT arn FROM secrets WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= ?1 \
         AND deleted_at IS NULL AND rotation_enabled = 1",
        params![now],
        |r| r.get(0),
    )
}

/// Writes a secret's metadata, optionally a version (new, or its value replaced), stage changes
/// (`None` removes the stage), and prunes versions, in one transaction. New secrets get `tags`.
pub(super) fn write(
    store: &SqliteStore,
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
                "INSERT INTO secret_versions (arn, version_id, created_at, value) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (arn, version_id) DO UPDATE SET value = excluded.value",
                params![secret.arn, v.version_id, to_millis(v.created_at), v.value],
            )?;
        }
        for (stage, target) in stages {
            match target {
                Some(version_id) => tx.execute(
                    "INSERT INTO secret_stages (arn, stage, version_id) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (arn, stage) DO UPDATE SET version_id = excluded.version_id",
                    params![secret.arn, stage, version_id],
                )?,
                None => tx.execute(
                    "DELETE FROM secret_stages WHERE arn = ?1 AND stage = ?2",
                    params![secret.arn, stage],
                )?,
            };
        }
        for version_id in prune {
            tx.execute(
                "DELETE FROM secret_versions WHERE arn = ?1 AND version_id = ?2",
                params![secret.arn, version_id],
            )?;
        }
        upsert_tags_on(tx, "secret_tags", "arn", &secret.arn, tags)
    })
}

/// One query, so the versions and their stages are one snapshot (a write between two reads
/// could otherwise show a stage on a version not in the list).
pub(super) fn versions(store: &SqliteStore, arn: &str) -> Result<Vec<SecretVersionRecord>> {
    let rows: Vec<(SecretVersionRecord, Option<String>)> = store.query_long(
        "SELECT v.version_id, v.created_at, v.value, s.stage FROM secret_versions v \
         LEFT JOIN secret_stages s ON s.arn = v.arn AND s.version_id = v.version_id \
         WHERE v.arn = ?1 ORDER BY v.created_at, v.version_id, s.stage",
        params![arn],
        |r| {
            Ok((
                SecretVersionRecord {
                    version_id: r.get(0)?,
                    created_at: time_col(r, 1)?,
                    value: r.get(2)?,
                    stages: Vec::new(),
                },
                r.get(3)?,
            ))
        },
    )?;
    let mut versions: Vec<SecretVersionRecord> = Vec::new();
    for (version, stage) in rows {
        if versions.last().map(|v| &v.version_id) != Some(&version.version_id) {
            versions.push(version);
        }
        if let Some(stage) = stage {
            versions
                .last_mut()
                .expect("pushed above")
                .stages
                .push(stage);
        }
    }
    Ok(versions)
}

pub(super) fn delete(store: &SqliteStore, arn: &str) -> Result<bool> {
    store.write(|tx| Ok(tx.execute("DELETE FROM secrets WHERE arn = ?1", params![arn])? == 1))
}
