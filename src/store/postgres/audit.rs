//! The audit trail's tables (see the SQLite engine's `audit.rs`): appends in batches, the
//! chain's head, and lookups.
//!
//! Several processes append to one chain, one append at a time (an advisory lock held by the
//! append's transaction). A batch whose first sequence number is taken fails at once with
//! `Conflict`, before its rows are sent (no retry here): the caller re-chains its events after the
//! new head.

use postgres::{Row, types::ToSql};

use super::{
    PostgresStore,
    rows::{col, corrupt, time_col},
    tx::{Failure, READ_COMMITTED},
};
use crate::{
    clock::to_millis,
    model::{AuditQuery, AuditRecord},
    store::{Error, Result},
};

const COLUMNS: &str = "sequence, time, user_name, access_key_id, event_name, resources, body, hash";

/// Inserts every record in one transaction, all of them or none, in two statements whatever
/// the batch size (arrays unnested into rows), after checking the chain's head under the lock.
/// Read committed: the head is read under the lock, and the primary key refuses a taken
/// sequence number whatever happens.
pub(super) fn append(store: &PostgresStore, events: &[AuditRecord]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut sequences = Vec::with_capacity(events.len());
    let mut times = Vec::with_capacity(events.len());
    let mut users = Vec::with_capacity(events.len());
    let mut access_keys = Vec::with_capacity(events.len());
    let mut names = Vec::with_capacity(events.len());
    let mut resources = Vec::with_capacity(events.len());
    let mut bodies = Vec::with_capacity(events.len());
    let mut hashes = Vec::with_capacity(events.len());
    let mut resource_arns = Vec::new();
    let mut resource_sequences = Vec::new();
    for record in events {
        let sequence = i64::try_from(record.sequence)
            .map_err(|_| Error::Corrupt("an audit sequence number beyond 2^63".into()))?;
        sequences.push(sequence);
        times.push(to_millis(record.time));
        users.push(record.user_name.as_str());
        access_keys.push(record.access_key_id.as_str());
        names.push(record.event_name.as_str());
        resources.push(
            serde_json::to_string(&record.resources)
                .map_err(|e| Error::Corrupt(format!("audit resources: {e}")))?,
        );
        bodies.push(record.body.as_str());
        hashes.push(record.hash.as_slice());
        for arn in &record.resources {
            resource_arns.push(arn.as_str());
            resource_sequences.push(sequence);
        }
    }
    let first = sequences[0];
    store.run_on(&store.audit_pool, READ_COMMITTED, |tx| {
        // Replicas append to one chain: one append at a time, and one chained after another
        // replica's head is refused before anything is sent (the writer chains it again).
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])?;
        let head: Option<i64> = tx
            .query_one("SELECT max(sequence) FROM audit_events", &[])?
            .get(0);
        if head.is_some_and(|head| head >= first) {
            return Err(Failure::Store(Error::Conflict(format!(
                "audit sequence {first} follows {}, not the chain's head",
                first - 1
            ))));
        }
        tx.execute(
            &format!(
                "INSERT INTO audit_events ({COLUMNS}) SELECT * FROM UNNEST($1::bigint[], \
                 $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[])"
            ),
            &[
                &sequences,
                &times,
                &users,
                &access_keys,
                &names,
                &resources,
                &bodies,
                &hashes,
            ],
        )?;
        if !resource_arns.is_empty() {
            // An event naming the same ARN twice is found once.
            tx.execute(
                "INSERT INTO audit_event_resources (arn, sequence) \
                 SELECT * FROM UNNEST($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING",
                &[&resource_arns, &resource_sequences],
            )?;
        }
        Ok(())
    })
}

/// The lock appends take: "vaultd:A" read as a big-endian integer.
const AUDIT_LOCK: i64 = i64::from_be_bytes(*b"vaultd:A");

/// The event with the highest sequence number.
pub(super) fn last(store: &PostgresStore) -> Result<Option<AuditRecord>> {
    store.query_opt(
        &format!("SELECT {COLUMNS} FROM audit_events ORDER BY sequence DESC LIMIT 1"),
        &[],
        record_row,
    )
}

/// The events matching every filter of `query`, in sequence order (ascending or descending). A
/// `limit` of 0 means no limit.
pub(super) fn query(store: &PostgresStore, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
    // Each condition with its values; `$` stands for the next placeholder number.
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut add = |condition: &str, new: Vec<Box<dyn ToSql + Sync>>| {
        let mut sql = String::new();
        let mut n = values.len();
        for part in condition.split('$').enumerate() {
            if part.0 > 0 {
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push_str(part.1);
        }
        conditions.push(sql);
        values.extend(new);
    };
    if let Some(start) = query.start {
        add("time >= $", vec![Box::new(to_millis(start))]);
    }
    if let Some(end) = query.end {
        add("time <= $", vec![Box::new(to_millis(end))]);
    }
    if let Some(user_name) = &query.user_name {
        add("user_name = $", vec![Box::new(user_name.clone())]);
    }
    if let Some(access_key_id) = &query.access_key_id {
        add("access_key_id = $", vec![Box::new(access_key_id.clone())]);
    }
    if let Some(event_name) = &query.event_name {
        // `kms:Encrypt` matches itself; `Encrypt` matches that operation of any service.
        add(
            "(event_name = $ OR substr(event_name, strpos(event_name, ':') + 1) = $)",
            vec![Box::new(event_name.clone()), Box::new(event_name.clone())],
        );
    }
    if let Some(arn) = &query.resource {
        add(
            "sequence IN (SELECT sequence FROM audit_event_resources WHERE arn = $)",
            vec![Box::new(arn.clone())],
        );
    }
    if let Some(after) = query.after_sequence {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let condition = if query.ascending {
            "sequence > $"
        } else {
            "sequence < $"
        };
        add(condition, vec![Box::new(after)]);
    }
    if query.limit > 0 {
        values.push(Box::new(i64::try_from(query.limit).unwrap_or(i64::MAX)));
    }
    let order = if query.ascending { "ASC" } else { "DESC" };
    let mut sql = format!("SELECT {COLUMNS} FROM audit_events");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY sequence {order}"));
    if query.limit > 0 {
        sql.push_str(&format!(" LIMIT ${}", values.len()));
    }
    let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
    store.query(&sql, &params, record_row)
}

fn record_row(row: &Row) -> Result<AuditRecord> {
    let resources: String = col(row, 5)?;
    let hash: Vec<u8> = col(row, 7)?;
    Ok(AuditRecord {
        sequence: u64::try_from(col::<i64>(row, 0)?).map_err(|_| corrupt("audit sequence"))?,
        time: time_col(row, 1)?,
        user_name: col(row, 2)?,
        access_key_id: col(row, 3)?,
        event_name: col(row, 4)?,
        resources: serde_json::from_str(&resources).map_err(|_| corrupt("audit resources"))?,
        body: col(row, 6)?,
        hash: hash.try_into().map_err(|_| corrupt("audit hash"))?,
    })
}
