//! Parameter Store's tables (see the SQLite engine's `parameters.rs` for what each holds). Names
//! are compared as bytes (the "C" collation), so a path prefix is a range of names. A version is
//! read with its labels in the same statement, so the two are one moment.

use postgres::Row;

use super::{
    PostgresStore,
    rows::{PARAMETER_TAGS, col, corrupt, int, time_col, u64_col, upsert_tags},
    tx::Failure,
};
use crate::{
    clock::to_millis,
    model::{ParameterTier, ParameterType, ParameterVersionRecord, Tag},
    store::{Error, Result, prefix_end},
};

const COLUMNS: &str = "name, version, type, key_id, description, allowed_pattern, tier, data_type, \
     modified_at, modified_by, value";

/// [`COLUMNS`] of `parameter_versions v`, then the version's labels in order.
const SELECT: &str = "SELECT v.name, v.version, v.type, v.key_id, v.description, \
     v.allowed_pattern, v.tier, v.data_type, v.modified_at, v.modified_by, v.value, \
     ARRAY(SELECT l.label FROM parameter_labels l WHERE l.name = v.name AND l.version = v.version \
     ORDER BY l.label)";

fn version_row(row: &Row) -> Result<ParameterVersionRecord> {
    Ok(ParameterVersionRecord {
        name: col(row, 0)?,
        version: u64_col(row, 1)?,
        parameter_type: ParameterType::parse(&col::<String>(row, 2)?)
            .ok_or_else(|| corrupt("parameter type"))?,
        key_id: col(row, 3)?,
        description: col(row, 4)?,
        allowed_pattern: col(row, 5)?,
        tier: ParameterTier::parse(&col::<String>(row, 6)?)
            .ok_or_else(|| corrupt("parameter tier"))?,
        data_type: col(row, 7)?,
        modified_at: time_col(row, 8)?,
        modified_by: col(row, 9)?,
        value: col(row, 10)?,
        labels: col(row, 11)?,
    })
}

pub(super) fn latest_version(store: &PostgresStore, name: &str) -> Result<Option<u64>> {
    store.query_opt(
        "SELECT latest_version FROM parameters WHERE name = $1",
        &[&name],
        |r| u64_col(r, 0),
    )
}

pub(super) fn add_version(
    store: &PostgresStore,
    v: &ParameterVersionRecord,
    tags: &[Tag],
    prune: Option<u64>,
) -> Result<()> {
    store.write(|tx| {
        let created = tx.execute(
            "INSERT INTO parameters (name, latest_version, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET latest_version = excluded.latest_version \
             WHERE parameters.latest_version = excluded.latest_version - 1",
            &[&v.name, &int(v.version), &to_millis(v.modified_at)],
        )?;
        if created != 1 {
            // Another writer (here, possibly another process) added a version meanwhile: the
            // caller's number is stale.
            return Err(Failure::Store(Error::Conflict(
                "another version of the parameter was added meanwhile".into(),
            )));
        }
        tx.execute(
            &format!(
                "INSERT INTO parameter_versions ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ),
            &[
                &v.name,
                &int(v.version),
                &v.parameter_type.as_str(),
                &v.key_id,
                &v.description,
                &v.allowed_pattern,
                &v.tier.as_str(),
                &v.data_type,
                &to_millis(v.modified_at),
                &v.modified_by,
                &v.value,
            ],
        )?;
        if let Some(old) = prune {
            tx.execute(
                "DELETE FROM parameter_versions WHERE name = $1 AND version = $2",
                &[&v.name, &int(old)],
            )?;
        }
        upsert_tags(tx, PARAMETER_TAGS, &v.name, tags)
    })
}

pub(super) fn version(
    store: &PostgresStore,
    name: &str,
    version: Option<u64>,
) -> Result<Option<ParameterVersionRecord>> {
    match version {
        Some(version) => store.query_opt(
            &format!("{SELECT} FROM parameter_versions v WHERE v.name = $1 AND v.version = $2"),
            &[&name, &int(version)],
            version_row,
        ),
        None => store.query_opt(
            &format!(
                "{SELECT} FROM parameters p JOIN parameter_versions v \
                 ON v.name = p.name AND v.version = p.latest_version WHERE p.name = $1"
            ),
            &[&name],
            version_row,
        ),
    }
}

pub(super) fn label(store: &PostgresStore, name: &str, label: &str) -> Result<Option<u64>> {
    store.query_opt(
        "SELECT version FROM parameter_labels WHERE name = $1 AND label = $2",
        &[&name, &label],
        |r| u64_col(r, 0),
    )
}

pub(super) fn versions(store: &PostgresStore, name: &str) -> Result<Vec<ParameterVersionRecord>> {
    store.query(
        &format!("{SELECT} FROM parameter_versions v WHERE v.name = $1 ORDER BY v.version"),
        &[&name],
        version_row,
    )
}

pub(super) fn with_prefix(
    store: &PostgresStore,
    prefix: &str,
    one_level: bool,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<ParameterVersionRecord>> {
    // The same bounds as the SQLite engine's: the names from `prefix` up to (not including) the
    // prefix with its last byte incremented, after `after`; plain comparisons on the primary key.
    let end = prefix_end(prefix).map(|e| String::from_utf8_lossy(&e).into_owned());
    let lower = match after {
        Some(after) if after >= prefix => after,
        _ => "",
    };
    let upper = end.as_deref().unwrap_or("\u{10ffff}");
    store.query(
        &format!(
            "{SELECT} FROM parameters p JOIN parameter_versions v \
             ON v.name = p.name AND v.version = p.latest_version \
             WHERE p.name >= $1 AND p.name > $3 AND p.name < $2 \
             AND (NOT $4 OR strpos(substr(p.name, char_length($1) + 1), '/') = 0) \
             ORDER BY p.name LIMIT $5"
        ),
        &[&prefix, &upper, &lower, &one_level, &int(limit)],
        version_row,
    )
}

pub(super) fn delete(store: &PostgresStore, name: &str) -> Result<bool> {
    store.write(|tx| Ok(tx.execute("DELETE FROM parameters WHERE name = $1", &[&name])? == 1))
}

pub(super) fn add_labels(
    store: &PostgresStore,
    name: &str,
    version: u64,
    labels: &[String],
) -> Result<()> {
    store.write(|tx| {
        for label in labels {
            tx.execute(
                "INSERT INTO parameter_labels (name, label, version) VALUES ($1, $2, $3) \
                 ON CONFLICT (name, label) DO UPDATE SET version = excluded.version",
                &[&name, label, &int(version)],
            )?;
        }
        Ok(())
    })
}

pub(super) fn remove_labels(
    store: &PostgresStore,
    name: &str,
    version: u64,
    labels: &[String],
) -> Result<Vec<String>> {
    store.write(|tx| {
        let mut removed = Vec::new();
        for label in labels {
            if tx.execute(
                "DELETE FROM parameter_labels WHERE name = $1 AND label = $2 AND version = $3",
                &[&name, label, &int(version)],
            )? == 1
            {
                removed.push(label.clone());
            }
        }
        Ok(removed)
    })
}
