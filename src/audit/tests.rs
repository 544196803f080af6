//! Tests of the audit log against a real SQLite store and its real writer thread.

use std::{
    path::{Path, PathBuf},
    thread,
    time::UNIX_EPOCH,
};

use super::*;
use crate::{crypto::sha256, error::ErrorKind, store::SqliteStore};

// The gRPC layer shares the log between tasks and moves slots into them.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<AuditLog>();
    send::<AuditSlot>();
};

const WAIT: Duration = Duration::from_secs(5);
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: Arc<SqliteStore>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    Fixture {
        _dir: dir,
        path,
        store,
    }
}

impl Fixture {
    fn start(&self, config: AuditConfig) -> AuditLog {
        AuditLog::start(self.store.clone(), config).unwrap()
    }

    /// Every stored event, oldest first, read from the store directly.
    fn stored(&self) -> Vec<AuditRecord> {
        let query = AuditQuery {
            ascending: true,
            ..Default::default()
        };
        self.store.audit_events(&query).unwrap()
    }

    /// Makes every audit write fail, through a second connection as another process would.
    fn block_writes(&self) {
        second_connection(&self.path)
            .execute_batch(
                "CREATE TRIGGER audit_block BEFORE INSERT ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'blocked'); END;",
            )
            .unwrap();
    }

    fn unblock_writes(&self) {
        second_connection(&self.path)
            .execute_batch("DROP TRIGGER audit_block;")
            .unwrap();
    }
}

fn second_connection(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(WAIT).unwrap();
    conn
}

fn event(n: u64) -> AuditEvent {
    AuditEvent {
        time: UNIX_EPOCH + Duration::from_micros(1_795_662_978_123_456 + n * 1000),
        request_id: format!("req-{n}"),
        user_name: "alice".into(),
        user_id: "AIDAEXAMPLEALICE".into(),
        user_arn: "arn:aws:iam::111122223333:user/alice".into(),
        access_key_id: "AKIAEXAMPLEALICE".into(),
        session: false,
        action: "kms:Encrypt".into(),
    }
}

fn record_ok(log: &AuditLog, n: u64) {
    log.admit(event(n))
        .unwrap()
        .finish(vec![KEY.to_string()], None);
}

fn verify_all(records: &[AuditRecord]) -> Result<ChainHead, BrokenLink> {
    verify(
        records.iter().map(|r| ChainLink {
            sequence: r.sequence,
            body: &r.body,
            hash: &r.hash,
        }),
        1,
        [0; 32],
    )
}

fn body(record: &AuditRecord) -> serde_json::Value {
    serde_json::from_str(&record.body).unwrap()
}

/// Polls `condition` for up to five seconds: the writer is a real thread.
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn assert_unavailable(result: Result<AuditSlot>) {
    match result {
        Err(err) => assert_eq!(err.kind, ErrorKind::Unavailable, "{err:?}"),
        Ok(slot) => {
            // Finish it so the log's shutdown does not wait for it.
            slot.finish(vec![], None);
            panic!("admission was not refused");
        }
    }
}

#[test]
fn finished_events_are_stored_with_their_outcome_and_chained() {
    let f = fixture();
    let log = f.start(AuditConfig::default());
    let allowed = log.admit(event(1)).unwrap();
    let denied = log.admit(event(2)).unwrap();
    let mut iam = event(3);
    iam.action = "iam:CreateUser".into();
    iam.session = true;
    let created = log.admit(iam).unwrap();
    assert_eq!(log.queue_depth(), 3);
    allowed.finish(vec![KEY.to_string()], None);
    denied.finish(vec![KEY.to_string()], Some("AccessDeniedException"));
    created.finish(vec!["*".into()], None);
    assert!(log.flush(WAIT));
    assert_eq!(log.queue_depth(), 0);
    assert!(log.is_healthy());

    let query = AuditQuery {
        ascending: true,
        ..Default::default()
    };
    let records = log.lookup(&query).unwrap();
    assert_eq!(records.len(), 3);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.sequence, i as u64 + 1);
        assert_eq!(record.hash, sha256(record.body.as_bytes()));
        assert_eq!(record.user_name, "alice");
        assert_eq!(record.access_key_id, "AKIAEXAMPLEALICE");
        // Stored to the millisecond.
        assert_eq!(
            record.time,
            UNIX_EPOCH + Duration::from_millis(1_795_662_978_123 + (i as u64 + 1))
        );
        assert_eq!(body(record)["eventId"], format!("req-{}", i + 1));
    }
    assert_eq!(records[0].event_name, "kms:Encrypt");
    assert_eq!(records[2].event_name, "iam:CreateUser");
    assert_eq!(records[1].resources, [KEY]);
    assert_eq!(records[2].resources, ["*"]);
    assert_eq!(body(&records[0])["errorCode"], serde_json::Value::Null);
    assert_eq!(body(&records[1])["errorCode"], "AccessDeniedException");
    assert_eq!(body(&records[0])["eventTime"], "2026-11-26T03:16:18.124Z");
    assert_eq!(body(&records[2])["eventSource"], "iam.amazonaws.com");
    assert_eq!(
        body(&records[2])["userIdentity"]["sessionCredentials"],
        true
    );
    // The writer builds exactly the canonical body.
    assert_eq!(
        records[1].body,
        event_body(
            2,
            &records[0].hash,
            &event(2),
            &[KEY.to_string()],
            Some("AccessDeniedException")
        )
    );
    assert_eq!(
        verify_all(&records).unwrap(),
        ChainHead {
            events: 3,
            last_sequence: 3,
            last_hash: records[2].hash
        }
    );
}

#[test]
fn events_from_many_threads_form_one_gapless_chain() {
    let f = fixture();
    let log = Arc::new(f.start(AuditConfig {
        queue_capacity: 10_000,
        max_batch: 16,
        ..AuditConfig::default()
    }));
    record_from_threads(std::slice::from_ref(&log), 250);
    assert!(log.flush(WAIT));
    let records = f.stored();
    assert_eq!(verify_all(&records).unwrap().events, 1000);
    assert_eq!(distinct_events(&records), 1000);
}

/// Four threads record `each` events apiece, through the logs in turn.
fn record_from_threads(logs: &[Arc<AuditLog>], each: u64) {
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let log = Arc::clone(&logs[t as usize % logs.len()]);
            thread::spawn(move || {
                for i in 0..each {
                    record_ok(&log, t * 1000 + i);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// How many different events (by id) the records hold.
fn distinct_events(records: &[AuditRecord]) -> usize {
    let mut ids: Vec<String> = records
        .iter()
        .map(|r| body(r)["eventId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

#[test]
fn two_logs_on_one_store_write_one_gapless_chain() {
    // Two replicas' logs: each knows only its own head, so most batches collide with the other's
    // and must be chained again after it.
    let f = fixture();
    let config = AuditConfig {
        queue_capacity: 10_000,
        max_batch: 8,
        ..AuditConfig::default()
    };
    let logs = [Arc::new(f.start(config.clone())), Arc::new(f.start(config))];
    record_from_threads(&logs, 200);
    for log in &logs {
        assert!(log.flush(WAIT));
        assert!(log.is_healthy());
    }
    let records = f.stored();
    assert_eq!(verify_all(&records).unwrap().events, 800);
    assert_eq!(
        distinct_events(&records),
        800,
        "no event written twice or lost"
    );
}

#[test]
fn the_chain_continues_across_a_restart() {
    let f = fixture();
    let first = f.start(AuditConfig::default());
    for n in 1..=3 {
        record_ok(&first, n);
    }
    first.shutdown(WAIT);
    // Shutdown wrote everything without a flush, and is idempotent.
    assert_eq!(f.stored().len(), 3);
    first.shutdown(WAIT);
    drop(first);

    let second = f.start(AuditConfig::default());
    for n in 4..=5 {
        record_ok(&second, n);
    }
    assert!(second.flush(WAIT));
    let records = f.stored();
    let sequences: Vec<u64> = records.iter().map(|r| r.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
    assert_eq!(
        body(&records[3])["previousHash"],
        hex::encode(records[2].hash)
    );
    assert_eq!(verify_all(&records).unwrap().last_sequence, 5);
}

#[test]
fn a_slot_dropped_unfinished_is_recorded_as_cancelled() {
    let f = fixture();
    let log = f.start(AuditConfig::default());
    let slot = log.admit(event(1)).unwrap();
    // As when a request future is dropped on another thread.
    thread::spawn(move || drop(slot)).join().unwrap();
    record_ok(&log, 2);
    assert!(log.flush(WAIT));
    let records = f.stored();
    assert_eq!(records.len(), 2);
    assert_eq!(body(&records[0])["eventId"], "req-1");
    assert_eq!(body(&records[0])["errorCode"], REQUEST_CANCELLED);
    assert!(records[0].resources.is_empty());
    assert_eq!(body(&records[1])["errorCode"], serde_json::Value::Null);
    verify_all(&records).unwrap();
}

#[test]
fn a_full_queue_refuses_admission_until_events_are_written() {
    let f = fixture();
    let log = f.start(AuditConfig {
        queue_capacity: 2,
        max_batch: 8,
        ..AuditConfig::default()
    });
    // Two requests being served hold the whole queue.
    let a = log.admit(event(1)).unwrap();
    let b = log.admit(event(2)).unwrap();
    assert_unavailable(log.admit(event(3)));
    assert_eq!(log.queue_depth(), 2);
    assert!(log.is_healthy());

    a.finish(vec![], None);
    eventually("event 1 is written", || log.queue_depth() == 1);
    let c = log.admit(event(3)).unwrap();
    assert_unavailable(log.admit(event(4)));
    b.finish(vec![], None);
    c.finish(vec![], None);
    assert!(log.flush(WAIT));
    assert_eq!(log.queue_depth(), 0);
    let ids: Vec<_> = f
        .stored()
        .iter()
        .map(|r| body(r)["eventId"].clone())
        .collect();
    assert_eq!(ids, ["req-1", "req-2", "req-3"]);
}

#[test]
fn a_store_that_cannot_be_written_closes_admission_until_it_recovers() {
    let f = fixture();
    let log = f.start(AuditConfig::default());
    record_ok(&log, 1);
    assert!(log.flush(WAIT));

    f.block_writes();
    record_ok(&log, 2);
    eventually("the log is unhealthy", || !log.is_healthy());
    assert_unavailable(log.admit(event(3)));
    // The refused batch is held, not dropped, and not yet stored.
    assert_eq!(log.queue_depth(), 1);
    assert!(!log.flush(Duration::from_millis(100)));
    assert_eq!(f.stored().len(), 1);

    f.unblock_writes();
    eventually("the log is healthy again", || log.is_healthy());
    assert!(log.flush(WAIT));
    assert_eq!(log.queue_depth(), 0);
    record_ok(&log, 4);
    assert!(log.flush(WAIT));
    let records = f.stored();
    let ids: Vec<_> = records.iter().map(|r| body(r)["eventId"].clone()).collect();
    assert_eq!(ids, ["req-1", "req-2", "req-4"]);
    assert_eq!(verify_all(&records).unwrap().events, 3);
}

#[test]
fn shutdown_waits_for_requests_in_flight_then_refuses_admission() {
    let f = fixture();
    let log = f.start(AuditConfig::default());
    let slot = log.admit(event(1)).unwrap();
    let serving = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        slot.finish(vec![KEY.to_string()], None);
    });
    log.shutdown(WAIT);
    serving.join().unwrap();
    assert_eq!(f.stored().len(), 1);
    assert!(!log.is_healthy());
    assert_unavailable(log.admit(event(2)));
    assert!(log.flush(Duration::from_millis(10)));
    assert_eq!(log.queue_depth(), 0);
}

#[test]
fn the_chain_continues_from_a_head_written_by_someone_else() {
    // A chain whose head is not event 1: the log must continue it, not restart at 1.
    let f = fixture();
    let previous = [7u8; 32];
    let body = event_body(41, &previous, &event(41), &[], None);
    let head = AuditRecord {
        sequence: 41,
        time: event(41).time,
        user_name: "alice".into(),
        access_key_id: "AKIAEXAMPLEALICE".into(),
        event_name: "kms:Encrypt".into(),
        resources: vec![],
        hash: sha256(body.as_bytes()),
        body,
    };
    f.store
        .append_audit_events(std::slice::from_ref(&head))
        .unwrap();
    let log = f.start(AuditConfig::default());
    record_ok(&log, 42);
    assert!(log.flush(WAIT));
    let records = f.stored();
    assert_eq!(records.len(), 2);
    let links = records.iter().map(|r| ChainLink {
        sequence: r.sequence,
        body: &r.body,
        hash: &r.hash,
    });
    assert_eq!(verify(links, 41, previous).unwrap().last_sequence, 42);
}

#[test]
fn busy_writes_wait_for_the_commit_interval_and_a_flush_or_shutdown_cuts_it_short() {
    let f = fixture();
    let log = f.start(AuditConfig {
        commit_interval: Duration::from_secs(3600),
        ..AuditConfig::default()
    });
    // The first event after a quiet spell is written at once.
    record_ok(&log, 1);
    eventually("event 1 is written", || log.queue_depth() == 0);
    assert_eq!(f.stored().len(), 1);
    // The next ones wait for the interval (an hour here), in one transaction later...
    record_ok(&log, 2);
    record_ok(&log, 3);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        log.queue_depth(),
        2,
        "written before the commit interval was up"
    );
    // ...unless someone flushes.
    let began = Instant::now();
    assert!(log.flush(WAIT));
    assert!(began.elapsed() < WAIT);
    assert_eq!(f.stored().len(), 3);
    // Shutdown does not wait out the interval either, and loses nothing.
    record_ok(&log, 4);
    let began = Instant::now();
    log.shutdown(WAIT);
    assert!(began.elapsed() < WAIT);
    let records = f.stored();
    assert_eq!(verify_all(&records).unwrap().events, 4);
}
