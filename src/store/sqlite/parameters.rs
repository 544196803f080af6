//! Parameter Store's tables: `parameters` (one row per name, with its latest version number),
//! `parameter_versions` (every kept version; `value` is sealed or a KMS blob, never plaintext),
//! `parameter_labels` (a label is on one version of a name at a time) and `parameter_tags`.
//! Names are case-sensitive and compared as bytes (SQLite's BINARY collation), so a path prefix is
//! a range of names. This module stores what it is given: naming rules, limits and encryption
//! belong to `crate::params`.

use rusqlite::{Row, params};

use super::{
    SqliteStore, corrupt,
    rows::{not_updated, time_col, upsert_tags_on},
};
use crate::{
    clock::to_millis,
    model::{ParameterTier, ParameterType, ParameterVersionRecord, Tag},
    store::{Result, prefix_end},
};

const COLUMNS: &str = "v.name, v.version, v.type, v.key_id, v.description, v.allowed_pattern, \
     v.tier, v.data_type, v.modified_at, v.modified_by, v.value";

fn version_row(row: &Row<'_>) -> rusqlite::Result<ParameterVersionRecord> {
    let text = |idx: usize| row.get::<_, String>(idx);
    Ok(ParameterVersionRecord {
        name: text(0)?,
        version: row.get::<_, i64>(1)? as u64,
        parameter_type: ParameterType::parse(&text(2)?).ok_or_else(|| corrupt("parameter type"))?,
        key_id: row.get(3)?,
        description: text(4)?,
        allowed_pattern: text(5)?,
        tier: ParameterTier::parse(&text(6)?).ok_or_else(|| corrupt("parameter tier"))?,
        data_type: text(7)?,
        modified_at: time_col(row, 8)?,
        modified_by: text(9)?,
        value: row.get(10)?,
        labels: Vec::new(),
    })
}

/// Fills in the labels of each record (one query per record: pages are at most 50).
fn with_labels(
    store: &SqliteStore,
    mut records: Vec<ParameterVersionRecord>,
) -> Result<Vec<ParameterVersionRecord>> {
    for record in &mut records {
        record.labels = store.query_long(
            "SELECT label FROM parameter_labels WHERE name = ?1 AND version = ?2 ORDER BY label",
            params![record.name, record.version as i64],
            |r| r.get(0),
        )?;
    }
    Ok(records)
}

pub(super) fn latest_version(store: &SqliteStore, name: &str) -> Result<Option<u64>> {
    store.query_one_long(
        "SELECT latest_version FROM parameters WHERE name = ?1",
        params![name],
        |r| Ok(r.get::<_, i64>(0)? as u64),
    )
}

pub(super) fn add_version(
    store: &SqliteStore,
    v: &ParameterVersionRecord,
    tags: &[Tag],
    prune: Option<u64>,
) -> Result<()> {
    store.write(|tx| {
        let created = tx.execute(
            "INSERT INTO parameters (name, latest_version, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET latest_version = excluded.latest_version \
             WHERE parameters.latest_version = excluded.latest_version - 1",
            params![v.name, v.version as i64, to_millis(v.modified_at)],
        )?;
        if created != 1 {
            // Someone else wrote a version meanwhile: the caller's number is stale.
            return Err(not_updated("parameter"));
        }
        tx.execute(
            &format!(
                "INSERT INTO parameter_versions ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                COLUMNS.replace("v.", "")
            ),
            params![
                v.name,
                v.version as i64,
                v.parameter_type.as_str(),
                v.key_id,
                v.description,
                v.allowed_pattern,
                v.tier.as_str(),
                v.data_type,
                to_millis(v.modified_at),
                v.modified_by,
                v.value,
            ],
        )?;
        if let Some(old) = prune {
            tx.execute(
                "DELETE FROM parameter_versions WHERE name = ?1 AND version = ?2",
                params![v.name, old as i64],
            )?;
        }
        upsert_tags_on(tx, "parameter_tags", "name", &v.name, tags)
    })
}

pub(super) fn version(
    store: &SqliteStore,
    name: &str,
    version: Option<u64>,
) -> Result<Option<ParameterVersionRecord>> {
    let found = match version {
        Some(version) => store.query_one_long(
            &format!(
                "SELECT {COLUMNS} FROM parameter_versions v WHERE v.name = ?1 AND v.version = ?2"
            ),
            params![name, version as i64],
            version_row,
        )?,
        None => store.query_one_long(
            &format!(
                "SELECT {COLUMNS} FROM parameters p JOIN parameter_versions v \
                 ON v.name = p.name AND v.version = p.latest_version WHERE p.name = ?1"
            ),
            params![name],
            version_row,
        )?,
    };
    Ok(with_labels(store, found.into_iter().collect())?.pop())
}

pub(super) fn label(store: &SqliteStore, name: &str, label: &str) -> Result<Option<u64>> {
    store.query_one_long(
        "SELECT version FROM parameter_labels WHERE name = ?1 AND label = ?2",
        params![name, label],
        |r| Ok(r.get::<_, i64>(0)? as u64),
    )
}

pub(super) fn versions(store: &SqliteStore, name: &str) -> Result<Vec<ParameterVersionRecord>> {
    let records = store.query_long(
        &format!("SELECT {COLUMNS} FROM parameter_versions v WHERE v.name = ?1 ORDER BY v.version"),
        params![name],
        version_row,
    )?;
    with_labels(store, records)
}

pub(super) fn with_prefix(
    store: &SqliteStore,
    prefix: &str,
    one_level: bool,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<ParameterVersionRecord>> {
    // Names are TEXT; comparing with a BLOB bound would order differently, so the end bound is
    // text too (names are ASCII, so the incremented prefix is valid UTF-8). Both bounds are plain
    // comparisons on the primary key, so SQLite seeks to the page instead of rescanning the prefix.
    let end = prefix_end(prefix).map(|e| String::from_utf8_lossy(&e).into_owned());
    let lower = match after {
        Some(after) if after >= prefix => after,
        _ => "",
    };
    let upper = end.as_deref().unwrap_or("\u{10ffff}");
    let records = store.query_long(
        &format!(
            "SELECT {COLUMNS} FROM parameters p JOIN parameter_versions v \
             ON v.name = p.name AND v.version = p.latest_version \
             WHERE p.name >= ?1 AND p.name > ?3 AND p.name < ?2 \
             AND (?4 = 0 OR instr(substr(p.name, length(?1) + 1), '/') = 0) \
             ORDER BY p.name LIMIT ?5"
        ),
        params![prefix, upper, lower, one_level as i64, limit as i64],
        version_row,
    )?;
    with_labels(store, records)
}

pub(super) fn delete(store: &SqliteStore, name: &str) -> Result<bool> {
    store.write(|tx| Ok(tx.execute("DELETE FROM parameters WHERE name = ?1", params![name])? == 1))
}

pub(super) fn add_labels(
    store: &SqliteStore,
    name: &str,
    version: u64,
    labels: &[String],
) -> Result<()> {
    store.write(|tx| {
        for label in labels {
            tx.execute(
                "INSERT INTO parameter_labels (name, label, version) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name, label) DO UPDATE SET version = excluded.version",
                params![name, label, version as i64],
            )?;
        }
        Ok(())
    })
}

pub(super) fn remove_labels(
    store: &SqliteStore,
    name: &str,
    version: u64,
    labels: &[String],
) -> Result<Vec<String>> {
    store.write(|tx| {
        let mut removed = Vec::new();
        for label in labels {
            if tx.execute(
                "DELETE FROM parameter_labels WHERE name = ?1 AND label = ?2 AND version = ?3",
                params![name, label, version as i64],
            )? == 1
            {
                removed.push(label.clone());
            }
        }
        Ok(removed)
    })
}
