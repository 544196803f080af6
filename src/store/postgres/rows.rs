//! Rows to records: decoding with every stored enum and integer range checked (as the SQLite
//! engine does), and the writes shared by several store methods.

use std::time::SystemTime;

use postgres::{Row, types::FromSql};
use uuid::Uuid;

use super::tx::{Failure, Tx, TxResult};
use crate::{
    clock::{from_millis, to_millis},
    model::*,
    store::{Error, Result},
};

pub(super) fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("undecodable {what}"))
}

/// Column `idx` as `T` (BIGINT as i64, TEXT as String, BYTEA as `Vec<u8>`, NULL as `None`).
pub(super) fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx)
        .map_err(|e| Error::Corrupt(format!("column {idx}: {e}")))
}

fn parse<T>(text: String, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(&text).ok_or_else(|| corrupt(what))
}

fn opt_parse<T>(text: Option<String>, p: fn(&str) -> Option<T>, what: &str) -> Result<Option<T>> {
    text.map(|t| parse(t, p, what)).transpose()
}

pub(super) fn uuid_col(row: &Row, idx: usize) -> Result<Uuid> {
    Uuid::parse_str(&col::<String>(row, idx)?).map_err(|_| corrupt("uuid"))
}

pub(super) fn time_col(row: &Row, idx: usize) -> Result<SystemTime> {
    Ok(from_millis(col(row, idx)?))
}

pub(super) fn opt_time_col(row: &Row, idx: usize) -> Result<Option<SystemTime>> {
    Ok(col::<Option<i64>>(row, idx)?.map(from_millis))
}

pub(super) fn u32_col(row: &Row, idx: usize) -> Result<u32> {
    u32::try_from(col::<i64>(row, idx)?).map_err(|_| corrupt("integer out of range"))
}

pub(super) fn opt_u32_col(row: &Row, idx: usize) -> Result<Option<u32>> {
    col::<Option<i64>>(row, idx)?
        .map(|v| u32::try_from(v).map_err(|_| corrupt("integer out of range")))
        .transpose()
}

pub(super) fn u64_col(row: &Row, idx: usize) -> Result<u64> {
    u64::try_from(col::<i64>(row, idx)?).map_err(|_| corrupt("integer out of range"))
}

/// An integer of the model as stored (every one fits: versions, days and sequences are far below
/// 2^63).
pub(super) fn int(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

pub(super) fn opt_millis(t: Option<SystemTime>) -> Option<i64> {
    t.map(to_millis)
}

pub(super) const KEY_COLUMNS: &str = "id, created_at, description, key_spec, key_usage, origin, key_manager, \
     state, deletion_date, pending_window_days, rotation_period_days, next_rotation_at, current_version, \
     expiration_model, valid_to";

pub(super) fn key_row(row: &Row) -> Result<KeyRecord> {
    let period = opt_u32_col(row, 10)?;
    let next = opt_time_col(row, 11)?;
    Ok(KeyRecord {
        id: uuid_col(row, 0)?,
        created_at: time_col(row, 1)?,
        description: col(row, 2)?,
        key_spec: parse(col(row, 3)?, KeySpec::parse, "key spec")?,
        key_usage: parse(col(row, 4)?, KeyUsage::parse, "key usage")?,
        origin: parse(col(row, 5)?, Origin::parse, "origin")?,
        key_manager: parse(col(row, 6)?, KeyManager::parse, "key manager")?,
        state: parse(col(row, 7)?, KeyState::parse, "key state")?,
        deletion_date: opt_time_col(row, 8)?,
        pending_window_days: opt_u32_col(row, 9)?,
        rotation: match (period, next) {
            (Some(period_days), Some(next_rotation)) => Some(RotationSchedule {
                period_days,
                next_rotation,
            }),
            _ => None,
        },
        current_version: u32_col(row, 12)?,
        expiration_model: opt_parse(col(row, 13)?, ExpirationModel::parse, "expiration model")?,
        valid_to: opt_time_col(row, 14)?,
    })
}

pub(super) const MATERIAL_COLUMNS: &str =
    "key_id, version, created_at, rotation_type, sealed, fingerprint";

pub(super) fn material_row(row: &Row) -> Result<MaterialVersion> {
    Ok(MaterialVersion {
        key_id: uuid_col(row, 0)?,
        version: u32_col(row, 1)?,
        created_at: time_col(row, 2)?,
        rotation_type: opt_parse(col(row, 3)?, RotationType::parse, "rotation type")?,
        sealed: col(row, 4)?,
        fingerprint: col(row, 5)?,
    })
}

pub(super) const ALIAS_COLUMNS: &str = "name, key_id, created_at, updated_at";

pub(super) fn alias_row(row: &Row) -> Result<AliasRecord> {
    Ok(AliasRecord {
        name: col(row, 0)?,
        key_id: uuid_col(row, 1)?,
        created_at: time_col(row, 2)?,
        updated_at: time_col(row, 3)?,
    })
}

/// The columns [`user_row`] reads, in order.
pub(super) const USER_COLUMNS: &str = "id, name, created_at, sessions_valid_after";

pub(super) fn user_row(row: &Row) -> Result<UserRecord> {
    Ok(UserRecord {
        id: col(row, 0)?,
        name: col(row, 1)?,
        created_at: time_col(row, 2)?,
        sessions_valid_after: opt_time_col(row, 3)?,
    })
}

/// The columns [`access_key_row`] reads, in order.
pub(super) const ACCESS_KEY_COLUMNS: &str =
    "id, user_id, status, created_at, sealed_secret, sessions_valid_after";

pub(super) fn access_key_row(row: &Row) -> Result<AccessKeyRecord> {
    Ok(AccessKeyRecord {
        id: col(row, 0)?,
        user_id: col(row, 1)?,
        status: parse(col(row, 2)?, AccessKeyStatus::parse, "access key status")?,
        created_at: time_col(row, 3)?,
        sealed_secret: col(row, 4)?,
        sessions_valid_after: opt_time_col(row, 5)?,
    })
}

pub(super) fn tag_row(row: &Row) -> Result<Tag> {
    Ok(Tag {
        key: col(row, 0)?,
        value: col(row, 1)?,
    })
}

pub(super) fn insert_material(tx: &mut Tx<'_>, m: &MaterialVersion) -> TxResult<()> {
    tx.execute(
        &format!("INSERT INTO key_materials ({MATERIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &m.key_id.to_string(),
            &i64::from(m.version),
            &to_millis(m.created_at),
            &m.rotation_type.map(RotationType::as_str),
            &m.sealed,
            &m.fingerprint,
        ],
    )?;
    Ok(())
}

/// Writes imported material: a new version, or over an existing row only where that cannot lose
/// live material: a row whose material was deleted, the same material again (same fingerprint),
/// or a version above the key's current one (waiting for rotation). Returns the rows written
/// (0 when refused).
pub(super) fn upsert_imported_material(tx: &mut Tx<'_>, m: &MaterialVersion) -> TxResult<u64> {
    Ok(tx.execute(
        &format!(
            "INSERT INTO key_materials ({MATERIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (key_id, version) DO UPDATE SET created_at = excluded.created_at, \
             rotation_type = excluded.rotation_type, sealed = excluded.sealed, \
             fingerprint = excluded.fingerprint \
             WHERE key_materials.sealed IS NULL OR key_materials.fingerprint = excluded.fingerprint \
             OR key_materials.version > (SELECT current_version FROM keys WHERE id = excluded.key_id)"
        ),
        &[
            &m.key_id.to_string(),
            &i64::from(m.version),
            &to_millis(m.created_at),
            &m.rotation_type.map(RotationType::as_str),
            &m.sealed,
            &m.fingerprint,
        ],
    )?)
}

pub(super) fn write_key_metadata(tx: &mut Tx<'_>, key: &KeyRecord) -> TxResult<u64> {
    Ok(tx.execute(
        "UPDATE keys SET description = $2, state = $3, deletion_date = $4, \
         pending_window_days = $5, rotation_period_days = $6, next_rotation_at = $7, \
         current_version = $8, expiration_model = $9, valid_to = $10 WHERE id = $1",
        &[
            &key.id.to_string(),
            &key.description,
            &key.state.as_str(),
            &opt_millis(key.deletion_date),
            &key.pending_window_days.map(i64::from),
            &key.rotation.map(|r| i64::from(r.period_days)),
            &key.rotation.map(|r| to_millis(r.next_rotation)),
            &i64::from(key.current_version),
            &key.expiration_model.map(ExpirationModel::as_str),
            &opt_millis(key.valid_to),
        ],
    )?)
}

/// A tag table: its name and the column naming what the tags are on (constants of this crate,
/// so they may be formatted into SQL).
#[derive(Clone, Copy)]
pub(super) struct TagTable {
    pub(super) name: &'static str,
    pub(super) owner: &'static str,
}

pub(super) const KEY_TAGS: TagTable = TagTable {
    name: "key_tags",
    owner: "key_id",
};
pub(super) const PARAMETER_TAGS: TagTable = TagTable {
    name: "parameter_tags",
    owner: "name",
};
pub(super) const SECRET_TAGS: TagTable = TagTable {
    name: "secret_tags",
    owner: "arn",
};

/// Adds or overwrites tags in a tag table.
pub(super) fn upsert_tags(
    tx: &mut Tx<'_>,
    table: TagTable,
    owner: &str,
    tags: &[Tag],
) -> TxResult<()> {
    let sql = format!(
        "INSERT INTO {} ({}, tag_key, tag_value) VALUES ($1, $2, $3) \
         ON CONFLICT ({}, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
        table.name, table.owner, table.owner
    );
    for tag in tags {
        tx.execute(&sql, &[&owner, &tag.key, &tag.value])?;
    }
    Ok(())
}

/// An update that matched no row: the row vanished under the caller, which the domain's write lock
/// rules out within one process, so it is reported as corruption (as the SQLite engine does).
pub(super) fn not_updated(what: &str) -> Failure {
    Failure::Store(Error::Corrupt(format!("no such {what} to update")))
}
