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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::store::{Error, Store};

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("vault.db")).unwrap();
        (dir, store)
    }

    const KEY_A: &str = "arn:aws:kms:us-east-1:111122223333:key/a";
    const KEY_B: &str = "arn:aws:kms:us-east-1:111122223333:key/b";

    /// Event `sequence` at second `sequence` past the epoch; the store does not look inside the
    /// body or check the hash, so they only need to be recognizable.
    fn record(sequence: u64, user: &str, action: &str, resources: &[&str]) -> AuditRecord {
        AuditRecord {
            sequence,
            time: UNIX_EPOCH + Duration::from_millis(1_795_662_978_000 + sequence * 1000),
            user_name: user.into(),
            access_key_id: format!("AKIA{}", user.to_uppercase()),
            event_name: action.into(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            body: format!("{{\"sequence\":{sequence}}}"),
            hash: [sequence as u8; 32],
        }
    }

    /// Six events: alice and bob, KMS and IAM actions, keys A and B.
    fn sample() -> Vec<AuditRecord> {
        vec![
            record(1, "alice", "kms:Encrypt", &[KEY_A]),
            record(2, "bob", "kms:Decrypt", &[KEY_B, KEY_A]),
            record(3, "alice", "iam:CreateUser", &["*"]),
            record(4, "bob", "kms:Encrypt", &[KEY_B]),
            record(5, "alice", "kms:Decrypt", &[]),
            record(6, "alice", "kms:Encrypt", &[KEY_A, KEY_A]),
        ]
    }

    fn filled() -> (tempfile::TempDir, SqliteStore) {
        let (dir, store) = open();
        let events = sample();
        store.append_audit_events(&events[..2]).unwrap();
        store.append_audit_events(&events[2..]).unwrap();
        (dir, store)
    }

    fn sequences(store: &SqliteStore, query: AuditQuery) -> Vec<u64> {
        store
            .audit_events(&query)
            .unwrap()
            .iter()
            .map(|r| r.sequence)
            .collect()
    }

    #[test]
    fn appended_events_round_trip_and_the_last_is_the_head() {
        let (_dir, store) = open();
        assert_eq!(store.last_audit_event().unwrap(), None);
        assert!(
            store
                .audit_events(&AuditQuery::default())
                .unwrap()
                .is_empty()
        );
        store.append_audit_events(&[]).unwrap();

        let events = sample();
        store.append_audit_events(&events[..3]).unwrap();
        assert_eq!(store.last_audit_event().unwrap().as_ref(), Some(&events[2]));
        store.append_audit_events(&events[3..]).unwrap();
        assert_eq!(store.last_audit_event().unwrap().as_ref(), Some(&events[5]));

        let query = AuditQuery {
            ascending: true,
            ..Default::default()
        };
        // Every field, resources in their order and with repeats, comes back as written.
        assert_eq!(store.audit_events(&query).unwrap(), events);
    }

    #[test]
    fn a_duplicate_sequence_is_refused_and_the_batch_is_not_written() {
        let (_dir, store) = filled();
        let mut again = record(3, "mallory", "kms:Encrypt", &[KEY_B]);
        again.body = "forged".into();
        let batch = [record(7, "mallory", "kms:Decrypt", &[KEY_B]), again];
        assert!(matches!(
            store.append_audit_events(&batch),
            Err(Error::Conflict(_))
        ));
        // Neither the original event 3 nor the head changed, and event 7 was rolled back.
        assert_eq!(store.last_audit_event().unwrap().unwrap().sequence, 6);
        let mallorys = AuditQuery {
            user_name: Some("mallory".into()),
            ..Default::default()
        };
        assert!(store.audit_events(&mallorys).unwrap().is_empty());
        let all = store.audit_events(&AuditQuery::default()).unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(all[3], sample()[2]);
        // Nor did the resource index keep event 7's rows.
        let key_b = AuditQuery {
            resource: Some(KEY_B.into()),
            ..Default::default()
        };
        assert_eq!(sequences(&store, key_b), [4, 2]);
    }

    #[test]
    fn events_come_newest_first_unless_ascending() {
        let (_dir, store) = filled();
        assert_eq!(sequences(&store, AuditQuery::default()), [6, 5, 4, 3, 2, 1]);
        let ascending = AuditQuery {
            ascending: true,
            ..Default::default()
        };
        assert_eq!(sequences(&store, ascending), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn the_time_range_is_inclusive() {
        let (_dir, store) = filled();
        let events = sample();
        let query = AuditQuery {
            start: Some(events[1].time),
            end: Some(events[3].time),
            ..Default::default()
        };
        assert_eq!(sequences(&store, query), [4, 3, 2]);
        let from = AuditQuery {
            start: Some(events[4].time),
            ..Default::default()
        };
        assert_eq!(sequences(&store, from), [6, 5]);
        let until = AuditQuery {
            end: Some(events[0].time + Duration::from_millis(999)),
            ..Default::default()
        };
        assert_eq!(sequences(&store, until), [1]);
    }

    #[test]
    fn user_and_access_key_filters_match_exactly() {
        let (_dir, store) = filled();
        let alice = AuditQuery {
            user_name: Some("alice".into()),
            ..Default::default()
        };
        assert_eq!(sequences(&store, alice), [6, 5, 3, 1]);
        let not_a_prefix = AuditQuery {
            user_name: Some("ali".into()),
            ..Default::default()
        };
        assert_eq!(sequences(&store, not_a_prefix), [0u64; 0]);
        let bobs_key = AuditQuery {
            access_key_id: Some("AKIABOB".into()),
            ..Default::default()
        };
        assert_eq!(sequences(&store, bobs_key), [4, 2]);
        let other_case = AuditQuery {
            access_key_id: Some("akiabob".into()),
            ..Default::default()
        };
        assert_eq!(sequences(&store, other_case), [0u64; 0]);
    }

    #[test]
    fn the_event_name_matches_the_action_or_its_operation() {
        let (_dir, store) = filled();
        let by = |name: &str| AuditQuery {
            event_name: Some(name.into()),
            ..Default::default()
        };
        assert_eq!(sequences(&store, by("kms:Encrypt")), [6, 4, 1]);
        assert_eq!(sequences(&store, by("Encrypt")), [6, 4, 1]);
        assert_eq!(sequences(&store, by("CreateUser")), [3]);
        assert_eq!(sequences(&store, by("iam:Encrypt")), [0u64; 0]);
        assert_eq!(sequences(&store, by("kms")), [0u64; 0]);
        assert_eq!(sequences(&store, by("crypt")), [0u64; 0]);
    }

    #[test]
    fn the_resource_filter_finds_events_naming_the_arn() {
        let (_dir, store) = filled();
        let by = |arn: &str| AuditQuery {
            resource: Some(arn.into()),
            ..Default::default()
        };
        // Event 6 names key A twice and comes once.
        assert_eq!(sequences(&store, by(KEY_A)), [6, 2, 1]);
        assert_eq!(sequences(&store, by(KEY_B)), [4, 2]);
        assert_eq!(sequences(&store, by("*")), [3]);
        assert_eq!(
            sequences(&store, by("arn:aws:kms:us-east-1:111122223333:key/")),
            [0u64; 0]
        );
    }

    #[test]
    fn filters_are_anded() {
        let (_dir, store) = filled();
        let query = AuditQuery {
            user_name: Some("alice".into()),
            event_name: Some("Encrypt".into()),
            resource: Some(KEY_A.into()),
            start: Some(sample()[1].time),
            ..Default::default()
        };
        assert_eq!(sequences(&store, query), [6]);
        let nothing = AuditQuery {
            user_name: Some("bob".into()),
            access_key_id: Some("AKIAALICE".into()),
            ..Default::default()
        };
        assert_eq!(sequences(&store, nothing), [0u64; 0]);
    }

    #[test]
    fn pages_continue_after_a_sequence_in_either_order() {
        let (_dir, store) = filled();
        let page = |ascending, after_sequence| AuditQuery {
            ascending,
            after_sequence,
            limit: 2,
            ..Default::default()
        };
        assert_eq!(sequences(&store, page(true, None)), [1, 2]);
        assert_eq!(sequences(&store, page(true, Some(2))), [3, 4]);
        assert_eq!(sequences(&store, page(true, Some(4))), [5, 6]);
        assert_eq!(sequences(&store, page(true, Some(6))), [0u64; 0]);
        assert_eq!(sequences(&store, page(false, None)), [6, 5]);
        assert_eq!(sequences(&store, page(false, Some(5))), [4, 3]);
        assert_eq!(sequences(&store, page(false, Some(2))), [1]);
        assert_eq!(sequences(&store, page(false, Some(u64::MAX))), [6, 5]);
        // Paging combines with a filter.
        let alice_after_5 = AuditQuery {
            user_name: Some("alice".into()),
            after_sequence: Some(5),
            ..Default::default()
        };
        assert_eq!(sequences(&store, alice_after_5), [3, 1]);
    }
}
