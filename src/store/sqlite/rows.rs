//! Rows to records and records to rows: decoding with every stored enum checked, and the writes
//! shared by several store methods.

use std::time::SystemTime;

use rusqlite::{Row, params};
use uuid::Uuid;

use super::corrupt;
use crate::{
    clock::{from_millis, to_millis},
    model::*,
};

fn parse<T>(text: String, parse: fn(&str) -> Option<T>, what: &str) -> rusqlite::Result<T> {
    parse(&text).ok_or_else(|| corrupt(what))
}

pub(super) fn uuid_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(idx)?;
    Uuid::parse_str(&text).map_err(|_| corrupt("uuid"))
}

pub(super) fn time_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<SystemTime> {
    Ok(from_millis(row.get(idx)?))
}

pub(super) fn opt_time_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<SystemTime>> {
    Ok(row.get::<_, Option<i64>>(idx)?.map(from_millis))
}

pub(super) const KEY_COLUMNS: &str = "id, created_at, description, key_spec, key_usage, origin, key_manager, \
     state, deletion_date, pending_window_days, rotation_period_days, next_rotation_at, current_version, \
     expiration_model, valid_to";

pub(super) fn key_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
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
        expiration_model: match row.get::<_, Option<String>>(13)? {
            Some(m) => Some(parse(m, ExpirationModel::parse, "expiration model")?),
            None => None,
        },
        valid_to: opt_time_col(row, 14)?,
    })
}

pub(super) fn material_row(row: &Row<'_>) -> rusqlite::Result<MaterialVersion> {
    Ok(MaterialVersion {
        key_id: uuid_col(row, 0)?,
        version: row.get(1)?,
        created_at: time_col(row, 2)?,
        rotation_type: match row.get::<_, Option<String>>(3)? {
            Some(t) => Some(parse(t, RotationType::parse, "rotation type")?),
            None => None,
        },
        sealed: row.get(4)?,
        fingerprint: row.get(5)?,
    })
}

pub(super) fn alias_row(row: &Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        name: row.get(0)?,
        key_id: uuid_col(row, 1)?,
        created_at: time_col(row, 2)?,
        updated_at: time_col(row, 3)?,
    })
}

/// The columns [`user_row`] reads, in order.
pub(super) const USER_COLUMNS: &str = "id, name, created_at, sessions_valid_after";

pub(super) fn user_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: time_col(row, 2)?,
        sessions_valid_after: opt_time_col(row, 3)?,
    })
}

/// The columns [`access_key_row`] reads, in order.
pub(super) const ACCESS_KEY_COLUMNS: &str =
    "id, user_id, status, created_at, sealed_secret, sessions_valid_after";

pub(super) fn access_key_row(row: &Row<'_>) -> rusqlite::Result<AccessKeyRecord> {
    Ok(AccessKeyRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        status: parse(row.get(2)?, AccessKeyStatus::parse, "access key status")?,
        created_at: time_col(row, 3)?,
        sealed_secret: row.get(4)?,
        sessions_valid_after: opt_time_col(row, 5)?,
    })
}

pub(super) fn insert_material(
    tx: &rusqlite::Transaction<'_>,
    m: &MaterialVersion,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO key_materials (key_id, version, created_at, rotation_type, sealed, fingerprint) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            m.key_id.to_string(),
            m.version,
            to_millis(m.created_at),
            m.rotation_type.map(RotationType::as_str),
            m.sealed,
            m.fingerprint,
        ],
    )?;
    Ok(())
}

/// Writes imported material: a new version, or over an existing row only where that cannot lose
/// live material: a row whose material was deleted, the same material again (same fingerprint),
/// or a version above the key's current one (waiting for rotation). Returns the rows written
/// (0 when refused).
pub(super) fn upsert_imported_material(
    tx: &rusqlite::Transaction<'_>,
    m: &MaterialVersion,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO key_materials (key_id, version, created_at, rotation_type, sealed, fingerprint) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (key_id, version) DO UPDATE SET created_at = excluded.created_at, \
         rotation_type = excluded.rotation_type, sealed = excluded.sealed, fingerprint = excluded.fingerprint \
         WHERE key_materials.sealed IS NULL OR key_materials.fingerprint = excluded.fingerprint \
         OR key_materials.version > (SELECT current_version FROM keys WHERE id = excluded.key_id)",
        params![
            m.key_id.to_string(),
            m.version,
            to_millis(m.created_at),
            m.rotation_type.map(RotationType::as_str),
            m.sealed,
            m.fingerprint,
        ],
    )
}

pub(super) fn write_key_metadata(
    tx: &rusqlite::Transaction<'_>,
    key: &KeyRecord,
) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE keys SET description = ?2, state = ?3, deletion_date = ?4, pending_window_days = ?5, \
         rotation_period_days = ?6, next_rotation_at = ?7, current_version = ?8, expiration_model = ?9, \
         valid_to = ?10 WHERE id = ?1",
        params![
            key.id.to_string(),
            key.description,
            key.state.as_str(),
            key.deletion_date.map(to_millis),
            key.pending_window_days,
            key.rotation.map(|r| r.period_days),
            key.rotation.map(|r| to_millis(r.next_rotation)),
            key.current_version,
            key.expiration_model.map(ExpirationModel::as_str),
            key.valid_to.map(to_millis),
        ],
    )
}

/// Adds or overwrites tags in a tag table (`table` with columns `owner_column`, `tag_key`,
/// `tag_value`; both names are constants of this crate).
pub(super) fn upsert_tags_on(
    tx: &rusqlite::Transaction<'_>,
    table: &'static str,
    owner_column: &'static str,
    owner: &str,
    tags: &[Tag],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO {table} ({owner_column}, tag_key, tag_value) VALUES (?1, ?2, ?3) \
         ON CONFLICT ({owner_column}, tag_key) DO UPDATE SET tag_value = excluded.tag_value"
    ))?;
    for tag in tags {
        stmt.execute(params![owner, tag.key, tag.value])?;
    }
    Ok(())
}

/// An update that matched no row: the row vanished under the caller, which the domain's write lock
/// rules out, so it is reported as corruption.
pub(super) fn not_updated(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidParameterName(format!("no such {what} to update"))
}
