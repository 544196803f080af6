//! What the PostgreSQL store adds to the shared behaviour (`store::conformance`): several stores
//! (standing in for replicas) on one database writing at once, the change feed, the fleet's
//! lead, migrations at concurrent starts, copying from and to SQLite, and what must never leak.
//! Each test has a database of its own; without `VAULTD_TEST_DATABASE_URL` they are skipped.

use std::{
    sync::{Arc, Barrier, Mutex},
    thread,
    time::{Duration, Instant},
};

use super::{feed::LISTEN_APPLICATION_NAME, testing::TestDb, *};
use crate::store::{
    Change, SqliteStore, conformance,
    conformance::{access_key, record, secret, secret_version, user},
    copy_store,
};

/// Polls `done` every 20 ms for up to `within`.
fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A sink that keeps what it is told.
fn recorder() -> (ChangeSink, Arc<Mutex<Vec<Change>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (
        Arc::new(move |change: &Change| sink.lock().unwrap().push(change.clone())),
        seen,
    )
}

fn heard(seen: &Mutex<Vec<Change>>, change: &Change) -> bool {
    seen.lock().unwrap().contains(change)
}

/// Writes on `writer` until `listener_saw` shows the feed delivers (a listener that has not
/// reached LISTEN yet misses what is sent before).
fn wait_for_feed(writer: &PostgresStore, seen: &Mutex<Vec<Change>>) {
    let probe = format!("AIDA{}", Uuid::new_v4().simple());
    writer.insert_user(&user(&probe, &probe)).unwrap();
    let at = SystemTime::now();
    assert!(
        eventually(Duration::from_secs(10), || {
            writer.set_sessions_valid_after(&probe, at).unwrap();
            heard(seen, &Change::User(probe.clone()))
        }),
        "the change feed never delivered"
    );
}

#[test]
fn concurrent_access_keys_never_exceed_the_maximum() {
    let Some(db) = TestDb::create() else { return };
    let stores = [db.open(), db.open()];
    stores[0].insert_user(&user("AIDAALICE", "alice")).unwrap();
    for round in 0..3 {
        let user_id = format!("AIDAU{round}");
        stores[0]
            .insert_user(&user(&user_id, &format!("u{round}")))
            .unwrap();
        let barrier = Barrier::new(8);
        let added: Vec<bool> = thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (store, barrier, user_id) = (&stores[i % 2], &barrier, &user_id);
                    s.spawn(move || {
                        barrier.wait();
                        let key = access_key(&format!("AKIA{round}X{i}"), user_id, i as i64);
                        store.insert_access_key(&key, 2).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(added.iter().filter(|a| **a).count(), 2, "{added:?}");
        assert_eq!(stores[1].access_keys_of(&user_id).unwrap().len(), 2);
    }
}

#[test]
fn concurrent_stage_moves_leave_exactly_one_current_version() {
    let Some(db) = TestDb::create() else { return };
    let stores = [db.open(), db.open()];
    const ARN: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:s-AbCdEf";
    let record = secret(ARN, "s");
    stores[0]
        .write_secret(
            &record,
            Some(&secret_version("v0", 0)),
            &[("AWSCURRENT".into(), Some("v0".into()))],
            &[],
            &[],
        )
        .unwrap();
    let barrier = Barrier::new(8);
    thread::scope(|s| {
        for i in 0..8 {
            let (store, barrier, record) = (&stores[i % 2], &barrier, &record);
            s.spawn(move || {
                barrier.wait();
                // What PutSecretValue does: the new version becomes current, the one that was
                // current becomes previous.
                let current = store
                    .secret_versions(ARN)
                    .unwrap()
                    .into_iter()
                    .find(|v| v.stages.iter().any(|s| s == "AWSCURRENT"))
                    .unwrap()
                    .version_id;
                let id = format!("v{}", i + 1);
                store
                    .write_secret(
                        record,
                        Some(&secret_version(&id, i as i64 + 1)),
                        &[
                            ("AWSCURRENT".into(), Some(id.clone())),
                            ("AWSPREVIOUS".into(), Some(current)),
                        ],
                        &[],
                        &[],
                    )
                    .unwrap();
            });
        }
    });
    let versions = stores[1].secret_versions(ARN).unwrap();
    assert_eq!(versions.len(), 9);
    for stage in ["AWSCURRENT", "AWSPREVIOUS"] {
        let on: Vec<_> = versions
            .iter()
            .filter(|v| v.stages.iter().any(|s| s == stage))
            .collect();
        assert_eq!(on.len(), 1, "{stage}: {versions:?}");
    }
}

#[test]
fn concurrent_appends_of_one_sequence_let_exactly_one_through() {
    let Some(db) = TestDb::create() else { return };
    let stores = [db.open(), db.open()];
    for sequence in 1..=5u64 {
        let barrier = Barrier::new(2);
        let outcomes: Vec<Result<()>> = thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (store, barrier) = (&stores[i], &barrier);
                    s.spawn(move || {
                        let batch = [record(sequence, &format!("writer{i}"), "kms:Encrypt", &[])];
                        barrier.wait();
                        store.append_audit_events(&batch)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Err(Error::Conflict(_)))),
            "{outcomes:?}"
        );
        assert_eq!(
            stores[0].last_audit_event().unwrap().unwrap().sequence,
            sequence
        );
    }
}

#[test]
fn changes_reach_the_other_stores_but_not_their_own() {
    let Some(db) = TestDb::create() else { return };
    let (a, b) = (db.open(), db.open());
    let (sink_a, seen_a) = recorder();
    let (sink_b, seen_b) = recorder();
    a.watch_changes(sink_a).unwrap();
    b.watch_changes(sink_b).unwrap();
    wait_for_feed(&a, &seen_b);
    wait_for_feed(&b, &seen_a);
    seen_a.lock().unwrap().clear();

    let now = SystemTime::now();
    let id = Uuid::new_v4();
    let mut expected = Vec::new();
    a.insert_key(&conformance::key(id, now), None, &[]).unwrap();
    expected.push(Change::Key(id));
    a.insert_alias(&AliasRecord {
        name: "alias/a".into(),
        key_id: id,
        created_at: now,
        updated_at: now,
    })
    .unwrap();
    expected.push(Change::Alias("alias/a".into()));
    a.insert_user(&user("AIDAALICE", "alice")).unwrap();
    expected.push(Change::User("AIDAALICE".into()));
    a.insert_access_key(&access_key("AKIAALICE", "AIDAALICE", 1), 2)
        .unwrap();
    expected.push(Change::AccessKey("AKIAALICE".into()));
    for change in &expected {
        let start = Instant::now();
        assert!(
            eventually(Duration::from_secs(1), || heard(&seen_b, change)),
            "{change:?} did not reach the other store within a second"
        );
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    // Deleting a key reports its aliases too.
    seen_b.lock().unwrap().clear();
    a.delete_key(id).unwrap();
    for change in [Change::Key(id), Change::Alias("alias/a".into())] {
        assert!(
            eventually(Duration::from_secs(1), || heard(&seen_b, &change)),
            "{change:?}"
        );
    }

    // A heard its own changes too (a commit reported failed may have landed: its writer's caches
    // must learn of it as well).
    for change in &expected {
        assert!(
            eventually(Duration::from_secs(1), || heard(&seen_a, change)),
            "own {change:?}"
        );
    }
}

#[test]
fn a_killed_listener_connection_reports_all_and_reconnects() {
    let Some(db) = TestDb::create() else { return };
    let (a, b) = (db.open(), db.open());
    let (sink, seen) = recorder();
    b.watch_changes(sink).unwrap();
    wait_for_feed(&a, &seen);
    // A healthy feed does not tell caches to drop everything.
    thread::sleep(Duration::from_millis(300));
    seen.lock().unwrap().clear();
    thread::sleep(Duration::from_millis(1200));
    assert!(!heard(&seen, &Change::All));

    let mut admin = db.admin();
    let listeners = |admin: &mut postgres::Client| -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
                &[&db.name, &LISTEN_APPLICATION_NAME],
            )
            .unwrap()
            .get(0)
    };
    let killed = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = $2",
            &[&db.name, &LISTEN_APPLICATION_NAME],
        )
        .unwrap();
    assert_eq!(killed, 1);
    assert!(
        eventually(Duration::from_secs(1), || heard(&seen, &Change::All)),
        "no Change::All within a second of losing the feed"
    );
    // It listens again: a later change arrives.
    seen.lock().unwrap().clear();
    wait_for_feed(&a, &seen);
    assert_eq!(listeners(&mut admin), 1);
    // The listener ends with its store.
    drop(b);
    assert!(eventually(Duration::from_secs(2), || listeners(&mut admin) == 0));
}

#[test]
fn the_lead_is_exclusive_and_moves_when_its_holder_goes() {
    let Some(db) = TestDb::create() else { return };
    let (a, b) = (db.open(), db.open());
    assert!(a.hold_lead().unwrap());
    assert!(!b.hold_lead().unwrap());
    assert!(a.hold_lead().unwrap());
    assert!(!b.hold_lead().unwrap());

    // A's lead connection is terminated: B takes the lead, and A no longer has it.
    let mut admin = db.admin();
    let killed = admin
        .execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d \
             ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted \
             AND d.datname = $1",
            &[&db.name],
        )
        .unwrap();
    assert_eq!(killed, 1);
    assert!(eventually(Duration::from_secs(5), || b
        .hold_lead()
        .unwrap()));
    assert!(!a.hold_lead().unwrap());
    assert!(b.hold_lead().unwrap());

    // B is dropped (its process ends): A takes the lead.
    drop(b);
    assert!(eventually(Duration::from_secs(5), || a
        .hold_lead()
        .unwrap()));
    assert!(a.hold_lead().unwrap());
}

#[test]
fn stores_opening_at_once_migrate_once() {
    let Some(db) = TestDb::create() else { return };
    let barrier = Barrier::new(4);
    let ids: Vec<Vec<u8>> = thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (db, barrier) = (&db, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    db.open().database_id().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0] && id.len() == 16));
    let rows = db
        .admin()
        .query("SELECT version FROM vaultd_schema", &[])
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].get::<_, i64>(0),
        PostgresStore::schema_version() as i64
    );
    // Opening again changes nothing.
    assert_eq!(db.open().database_id().unwrap(), ids[0]);
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(db) = TestDb::create() else { return };
    drop(db.open());
    db.admin()
        .execute("UPDATE vaultd_schema SET version = 99", &[])
        .unwrap();
    let mut config = db.config();
    config.connect_timeout(Duration::from_secs(5));
    assert!(matches!(
        PostgresStore::open_config(config, 1),
        Err(Error::Corrupt(_))
    ));
}

#[test]
fn a_vault_copies_from_sqlite_to_postgresql_and_back() {
    let Some(db) = TestDb::create() else { return };
    let dir = tempfile::tempdir().unwrap();
    let original = SqliteStore::open(&dir.path().join("original.db")).unwrap();
    conformance::fill(&original);
    let postgres = db.open();
    let (there, keyring) = copy_store(&original, &postgres).unwrap();
    postgres.init_keyring(&keyring).unwrap();
    let back_store = SqliteStore::open(&dir.path().join("back.db")).unwrap();
    let (back, keyring) = copy_store(&postgres, &back_store).unwrap();
    back_store.init_keyring(&keyring).unwrap();
    assert_eq!(there, back);
    let dump = conformance::dump(&original);
    assert_eq!(conformance::dump(&postgres), dump);
    assert_eq!(conformance::dump(&back_store), dump);
    assert_eq!(
        postgres.sealed_keyring().unwrap().unwrap(),
        b"sealed keyring"
    );
    assert_eq!(
        postgres.database_id().unwrap(),
        original.database_id().unwrap()
    );
    // The rows arrive in primary-key order.
    let mut sequences = Vec::new();
    postgres
        .dump_table("audit_events", &mut |_| Ok(()), &mut |row| {
            sequences.push(row[0].clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(sequences, (1..=6).map(Value::Integer).collect::<Vec<_>>());
}

#[test]
fn tls_is_refused_and_the_password_never_shows() {
    for url in [
        "postgres://vaultd:hunter2@127.0.0.1:1/vault?sslmode=require",
        "postgres://vaultd:hunter2@127.0.0.1:1/vault?sslmode=verify-full",
        "host=127.0.0.1 user=vaultd password=hunter2 sslmode=verify-ca",
    ] {
        match PostgresStore::open(url, 1) {
            Err(Error::Unavailable(text)) => {
                assert!(
                    text.contains("TLS to PostgreSQL is not supported yet"),
                    "{text}"
                );
                assert!(!text.contains("hunter2"));
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    // Nothing listens on port 1; the port does not parse.
    for url in [
        "postgres://vaultd:hunter2@127.0.0.1:1/vault?sslmode=disable&connect_timeout=2",
        "postgres://vaultd:hunter2@127.0.0.1:port/vault",
    ] {
        let err = PostgresStore::open(url, 1).unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }

    let Some(db) = TestDb::create() else { return };
    // The test server trusts every connection, so any password opens it.
    let mut config = db.config();
    config.password("hunter2");
    let store = PostgresStore::open_config(config, 1).unwrap();
    assert!(!format!("{store:?}").contains("hunter2"));
    assert_eq!(store.engine(), Engine::Postgres);
    assert!(matches!(
        store.snapshot_to(&std::env::temp_dir().join("never.db")),
        Err(Error::Unavailable(text)) if text.contains("pg_dump")
    ));
}

#[test]
fn connections_the_server_ended_are_replaced() {
    let Some(db) = TestDb::create() else { return };
    let store = db.open();
    store.insert_user(&user("AIDAALICE", "alice")).unwrap();
    assert!(store.user("AIDAALICE").unwrap().is_some());
    let mut admin = db.admin();
    let killed = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = $2",
            &[&db.name, &APPLICATION_NAME],
        )
        .unwrap();
    assert!(killed >= 1);
    thread::sleep(Duration::from_millis(100));
    // Reads and writes go on, on new connections.
    assert!(store.user("AIDAALICE").unwrap().is_some());
    assert!(
        store
            .set_sessions_valid_after("AIDAALICE", SystemTime::now())
            .unwrap()
    );
}

#[test]
fn a_checkout_waits_five_seconds_at_most() {
    let Some(db) = TestDb::create() else { return };
    let store = db.open_pool(1);
    store.database_id().unwrap();
    let held = store.pool.get().unwrap();
    let start = Instant::now();
    let outcome = thread::scope(|s| s.spawn(|| store.database_id()).join().unwrap());
    assert!(matches!(outcome, Err(Error::Unavailable(_))), "{outcome:?}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    drop(held);
    assert_eq!(store.database_id().unwrap().len(), 16);
}
