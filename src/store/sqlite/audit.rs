//! The audit trail's tables: appends in batches, the chain's head, and lookups.
//!
//! `audit_events` holds one row per event keyed by its sequence number, so a second event with
//! the same sequence is refused (`Conflict`), never overwritten. The resources an event names are
//! kept twice: in order as a JSON array in `audit_events.resources` (what a record reads back) and
//! one row per distinct ARN in `audit_event_resources` (what a lookup by resource searches). This
//! module stores what it is given: chaining and hashing belong to `crate::audit`.

use rusqlite::{Row, params, params_from_iter, types::Value};

use super::{SqliteStore, corrupt, rows::time_col};
use crate::{
    clock::to_millis,
    model::{AuditQuery, AuditRecord},
    store::Result,
};

const COLUMNS: &str = "sequence, time, user_name, access_key_id, event_name, resources, body, hash";

/// Inserts every record in one transaction: all of them or none.
pub(super) fn append(store: &SqliteStore, events: &[AuditRecord]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    store.write(|tx| {
        let mut event = tx.prepare_cached(&format!(
            "INSERT INTO audit_events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))?;
        // An event naming the same ARN twice is found once.
        let mut resource = tx.prepare_cached(
            "INSERT OR IGNORE INTO audit_event_resources (arn, sequence) VALUES (?1, ?2)",
        )?;
        for record in events {
            let sequence = i64::try_from(record.sequence)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            let resources = serde_json::to_string(&record.resources)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            event.execute(params![
                sequence,
                to_millis(record.time),
                record.user_name,
                record.access_key_id,
                record.event_name,
                resources,
                record.body,
                record.hash.as_slice(),
            ])?;
            for arn in &record.resources {
                resource.execute(params![arn, sequence])?;
            }
        }
        Ok(())
    })
}

/// The event with the highest sequence number.
pub(super) fn last(store: &SqliteStore) -> Result<Option<AuditRecord>> {
    store.query_one(
        &format!("SELECT {COLUMNS} FROM audit_events ORDER BY sequence DESC LIMIT 1"),
        [],
        record_row,
    )
}

/// The events matching every filter of `query`, in sequence order (ascending or descending). A
/// `limit` of 0 means no limit.
pub(super) fn query(store: &SqliteStore, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
    // Each condition comes with the values of its `?` placeholders, in order.
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let text = |s: &String| Value::Text(s.clone());
    if let Some(start) = query.start {
        conditions.push("time >= ?");
        values.push(Value::Integer(to_millis(start)));
    }
    if let Some(end) = query.end {
        conditions.push("time <= ?");
        values.push(Value::Integer(to_millis(end)));
    }
    if let Some(user_name) = &query.user_name {
        conditions.push("user_name = ?");
        values.push(text(user_name));
    }
    if let Some(access_key_id) = &query.access_key_id {
        conditions.push("access_key_id = ?");
        values.push(text(access_key_id));
    }
    if let Some(event_name) = &query.event_name {
        // `kms:Encrypt` matches itself; `Encrypt` matches that operation of any service.
        conditions.push("(event_name = ? OR substr(event_name, instr(event_name, ':') + 1) = ?)");
        values.extend([text(event_name), text(event_name)]);
    }
    if let Some(arn) = &query.resource {
        conditions.push("sequence IN (SELECT sequence FROM audit_event_resources WHERE arn = ?)");
        values.push(text(arn));
    }
    if let Some(after) = query.after_sequence {
        conditions.push(if query.ascending {
            "sequence > ?"
        } else {
            "sequence < ?"
        });
        values.push(Value::Integer(i64::try_from(after).unwrap_or(i64::MAX)));
    }
    let order = if query.ascending { "ASC" } else { "DESC" };
    let mut sql = format!("SELECT {COLUMNS} FROM audit_events");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY sequence {order}"));
    if query.limit > 0 {
        sql.push_str(" LIMIT ?");
        values.push(Value::Integer(
            i64::try_from(query.limit).unwrap_or(i64::MAX),
        ));
    }
    store.query_long(&sql, params_from_iter(values), record_row)
}

fn record_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let resources: String = row.get(5)?;
    let hash: Vec<u8> = row.get(7)?;
    Ok(AuditRecord {
        sequence: u64::try_from(row.get::<_, i64>(0)?).map_err(|_| corrupt("audit sequence"))?,
        time: time_col(row, 1)?,
        user_name: row.get(2)?,
        access_key_id: row.get(3)?,
        event_name: row.get(4)?,
        resources: serde_json::from_str(&resources).map_err(|_| corrupt("audit resources"))?,
        body: row.get(6)?,
        hash: hash.try_into().map_err(|_| corrupt("audit hash"))?,
    })
}
