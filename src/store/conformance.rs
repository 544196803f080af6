//! The behaviour every engine must have, method by method, run against each: SQLite always,
//! PostgreSQL when `VAULTD_TEST_DATABASE_URL` names a server (see `postgres/testing.rs`).
//! Engine-specific behaviour (files, pragmas, concurrency between processes) is tested beside
//! each engine.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use super::{Error, SqliteStore, Store, TABLES, Value, copy_store};
use crate::{
    clock::{DAY, from_millis},
    model::*,
};

/// Opens stores on one database (the same one each time).
pub(crate) trait Harness {
    fn open(&self) -> Box<dyn Store>;
}

/// A SQLite database in a temporary directory.
pub(crate) struct SqliteHarness(tempfile::TempDir);

impl SqliteHarness {
    pub(crate) fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
}

impl Harness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(&self.0.path().join("vault.db")).unwrap())
    }
}

impl Harness for super::postgres::testing::TestDb {
    fn open(&self) -> Box<dyn Store> {
        Box::new(super::postgres::testing::TestDb::open(self))
    }
}

/// Each function named runs as `store::conformance::sqlite::NAME` and
/// `store::conformance::postgres::NAME`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::SqliteHarness::new());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = crate::store::postgres::testing::TestDb::create() {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}

conformance!(
    the_keyring_is_stored_once,
    database_id_is_stable_across_opens,
    keys_round_trip_and_delete_cascades,
    list_keys_pages_by_id,
    alias_names_are_unique,
    aliases_list_by_key_and_page_by_name,
    imported_material_is_deleted_but_its_row_and_fingerprint_remain,
    due_keys_and_counts_by_state,
    tags_are_overwritten_and_removed,
    user_names_are_unique_whatever_their_case,
    a_user_with_keys_or_policies_is_not_deleted,
    access_keys_stop_at_the_maximum_per_user,
    parameters_keep_versions_labels_and_tags,
    a_stale_parameter_version_is_refused,
    parameters_page_by_prefix_in_byte_order,
    secrets_keep_versions_and_move_stages,
    appended_events_round_trip_and_the_last_is_the_head,
    a_duplicate_sequence_is_refused_and_the_batch_is_not_written,
    events_come_newest_first_unless_ascending,
    the_time_range_is_inclusive,
    user_and_access_key_filters_match_exactly,
    the_event_name_matches_the_action_or_its_operation,
    the_resource_filter_finds_events_naming_the_arn,
    filters_are_anded,
    pages_continue_after_a_sequence_in_either_order,
    a_copy_holds_every_row,
    a_copy_needs_an_empty_target,
    unknown_tables_and_columns_are_refused,
);

pub(crate) fn key(id: Uuid, now: SystemTime) -> KeyRecord {
    KeyRecord {
        id,
        created_at: now,
        description: "test".into(),
        key_spec: KeySpec::SymmetricDefault,
        key_usage: KeyUsage::EncryptDecrypt,
        origin: Origin::AwsKms,
        key_manager: KeyManager::Customer,
        state: KeyState::Enabled,
        deletion_date: None,
        pending_window_days: None,
        rotation: None,
        current_version: 1,
        expiration_model: None,
        valid_to: None,
    }
}

pub(crate) fn material(id: Uuid, version: u32, now: SystemTime) -> MaterialVersion {
    MaterialVersion {
        key_id: id,
        version,
        created_at: now,
        rotation_type: (version > 1).then_some(RotationType::OnDemand),
        sealed: Some(vec![version as u8; 40]),
        fingerprint: None,
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

fn alias(name: &str, key_id: Uuid, now: SystemTime) -> AliasRecord {
    AliasRecord {
        name: name.into(),
        key_id,
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn user(id: &str, name: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        name: name.into(),
        created_at: from_millis(1_700_000_000_000),
        sessions_valid_after: None,
    }
}

pub(crate) fn access_key(id: &str, user_id: &str, at_ms: i64) -> AccessKeyRecord {
    AccessKeyRecord {
        id: id.into(),
        user_id: user_id.into(),
        status: AccessKeyStatus::Active,
        created_at: from_millis(at_ms),
        sealed_secret: id.as_bytes().to_vec(),
        sessions_valid_after: None,
    }
}

fn policy(user_id: &str, name: &str, document: &str) -> UserPolicyRecord {
    UserPolicyRecord {
        user_id: user_id.into(),
        name: name.into(),
        document: document.into(),
    }
}

fn parameter(name: &str, version: u64) -> ParameterVersionRecord {
    ParameterVersionRecord {
        name: name.into(),
        version,
        parameter_type: ParameterType::String,
        key_id: None,
        description: format!("v{version}"),
        allowed_pattern: String::new(),
        tier: ParameterTier::Standard,
        data_type: "text".into(),
        modified_at: from_millis(1_700_000_000_000 + version as i64),
        modified_by: "arn:aws:iam::111122223333:user/alice".into(),
        value: vec![version as u8; 8],
        labels: Vec::new(),
    }
}

pub(crate) fn secret(arn: &str, name: &str) -> SecretRecord {
    SecretRecord {
        arn: arn.into(),
        name: name.into(),
        description: "db password".into(),
        kms_key_id: None,
        created_at: from_millis(1_700_000_000_000),
        last_changed_at: from_millis(1_700_000_000_000),
        last_accessed_at: None,
        deleted_at: None,
        rotation: SecretRotation::default(),
    }
}

pub(crate) fn secret_version(id: &str, at_ms: i64) -> SecretVersionRecord {
    SecretVersionRecord {
        version_id: id.into(),
        created_at: from_millis(at_ms),
        value: Some(id.as_bytes().to_vec()),
        stages: Vec::new(),
    }
}

fn stage(name: &str, version: Option<&str>) -> (String, Option<String>) {
    (name.into(), version.map(String::from))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn the_keyring_is_stored_once(h: &dyn Harness) {
    let store = h.open();
    assert_eq!(store.sealed_keyring().unwrap(), None);
    store.init_keyring(b"sealed").unwrap();
    assert!(matches!(
        store.init_keyring(b"again"),
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.sealed_keyring().unwrap().unwrap(), b"sealed");
    store.replace_keyring(b"resealed").unwrap();
    assert_eq!(store.sealed_keyring().unwrap().unwrap(), b"resealed");
}

fn database_id_is_stable_across_opens(h: &dyn Harness) {
    let first = h.open().database_id().unwrap();
    assert_eq!(first.len(), 16);
    assert_eq!(h.open().database_id().unwrap(), first);
}

fn keys_round_trip_and_delete_cascades(h: &dyn Harness) {
    let store = h.open();
    let now = from_millis(1_700_000_000_000);
    let id = Uuid::new_v4();
    let mut record = key(id, now);
    store
        .insert_key(&record, Some(&material(id, 1, now)), &[tag("team", "a")])
        .unwrap();
    assert_eq!(store.key(id).unwrap().unwrap(), record);
    assert_eq!(store.key(Uuid::new_v4()).unwrap(), None);

    record.current_version = 2;
    record.rotation = Some(RotationSchedule {
        period_days: 90,
        next_rotation: now + DAY * 90,
    });
    record.description = "rotated".into();
    store.add_material(&record, &material(id, 2, now)).unwrap();
    assert_eq!(store.key(id).unwrap().unwrap(), record);
    assert_eq!(
        store.materials(id).unwrap(),
        [material(id, 1, now), material(id, 2, now)]
    );
    // A version that exists already is refused, and the key is left as it was.
    let mut again = record.clone();
    again.current_version = 3;
    assert!(matches!(
        store.add_material(&again, &material(id, 2, now)),
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.key(id).unwrap().unwrap(), record);
    assert!(
        store
            .keys_due_for_rotation(now + DAY * 89)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.keys_due_for_rotation(now + DAY * 90).unwrap(), [id]);
    // An update of a key that does not exist fails.
    assert!(store.update_key(&key(Uuid::new_v4(), now)).is_err());

    store.insert_alias(&alias("alias/a", id, now)).unwrap();
    store.delete_key(id).unwrap();
    assert!(store.key(id).unwrap().is_none());
    assert!(store.materials(id).unwrap().is_empty());
    assert!(store.tags(id).unwrap().is_empty());
    assert!(store.alias("alias/a").unwrap().is_none());
}

fn list_keys_pages_by_id(h: &dyn Harness) {
    let store = h.open();
    let now = SystemTime::now();
    let mut ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        store
            .insert_key(&key(*id, now), Some(&material(*id, 1, now)), &[])
            .unwrap();
    }
    ids.sort();
    let first = store.list_keys(None, 3).unwrap();
    assert_eq!(first.iter().map(|k| k.id).collect::<Vec<_>>(), ids[..3]);
    let rest = store.list_keys(Some(ids[2]), 3).unwrap();
    assert_eq!(rest.iter().map(|k| k.id).collect::<Vec<_>>(), ids[3..]);
    assert_eq!(store.list_keys(None, usize::MAX).unwrap().len(), 5);
}

fn alias_names_are_unique(h: &dyn Harness) {
    let store = h.open();
    let now = SystemTime::now();
    let id = Uuid::new_v4();
    store
        .insert_key(&key(id, now), Some(&material(id, 1, now)), &[])
        .unwrap();
    let alias = alias("alias/x", id, now);
    store.insert_alias(&alias).unwrap();
    assert!(matches!(
        store.insert_alias(&alias),
        Err(Error::Conflict(_))
    ));
    // An alias cannot point at a key that does not exist.
    let dangling = AliasRecord {
        name: "alias/y".into(),
        key_id: Uuid::new_v4(),
        ..alias
    };
    assert!(matches!(
        store.insert_alias(&dangling),
        Err(Error::Conflict(_))
    ));
}

fn aliases_list_by_key_and_page_by_name(h: &dyn Harness) {
    let store = h.open();
    let now = from_millis(1_700_000_000_000);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [a, b] {
        store.insert_key(&key(id, now), None, &[]).unwrap();
    }
    // Byte order: upper case before lower case, '-' before letters.
    for (name, id) in [
        ("alias/b", a),
        ("alias/B", b),
        ("alias/a-1", a),
        ("alias/a", b),
    ] {
        store.insert_alias(&alias(name, id, now)).unwrap();
    }
    let names = |aliases: Vec<AliasRecord>| -> Vec<String> {
        aliases.into_iter().map(|a| a.name).collect()
    };
    assert_eq!(
        names(store.list_aliases(None, None, 10).unwrap()),
        ["alias/B", "alias/a", "alias/a-1", "alias/b"]
    );
    assert_eq!(
        names(store.list_aliases(None, Some("alias/a"), 2).unwrap()),
        ["alias/a-1", "alias/b"]
    );
    assert_eq!(
        names(store.list_aliases(Some(a), None, 10).unwrap()),
        ["alias/a-1", "alias/b"]
    );
    assert_eq!(
        names(store.list_aliases(Some(b), Some("alias/B"), 10).unwrap()),
        ["alias/a"]
    );

    let later = now + Duration::from_secs(60);
    let moved = AliasRecord {
        key_id: a,
        updated_at: later,
        ..alias("alias/B", b, now)
    };
    store.update_alias(&moved).unwrap();
    assert_eq!(store.alias("alias/B").unwrap().unwrap(), moved);
    assert!(store.update_alias(&alias("alias/none", a, now)).is_err());
    assert!(store.delete_alias("alias/B").unwrap());
    assert!(!store.delete_alias("alias/B").unwrap());
    assert_eq!(store.alias("alias/B").unwrap(), None);
}

fn imported_material_is_deleted_but_its_row_and_fingerprint_remain(h: &dyn Harness) {
    let store = h.open();
    let now = from_millis(1_700_000_000_000);
    let id = Uuid::new_v4();
    let mut record = KeyRecord {
        origin: Origin::External,
        state: KeyState::PendingImport,
        ..key(id, now)
    };
    store.insert_key(&record, None, &[]).unwrap();
    assert!(store.materials(id).unwrap().is_empty());

    record.state = KeyState::Enabled;
    record.expiration_model = Some(ExpirationModel::KeyMaterialExpires);
    record.valid_to = Some(now + DAY);
    let imported = MaterialVersion {
        fingerprint: Some(vec![9; 32]),
        ..material(id, 1, now)
    };
    store.import_material(&record, &imported).unwrap();
    assert_eq!(store.key(id).unwrap().unwrap(), record);
    // Live material is never overwritten by other material.
    let other = MaterialVersion {
        fingerprint: Some(vec![8; 32]),
        sealed: Some(vec![8; 40]),
        ..imported.clone()
    };
    assert!(store.import_material(&record, &other).is_err());
    assert!(store.add_material(&record, &imported).is_err());
    assert_eq!(store.materials(id).unwrap(), vec![imported.clone()]);
    assert!(store.keys_due_for_material_expiry(now).unwrap().is_empty());
    assert_eq!(
        store.keys_due_for_material_expiry(now + DAY).unwrap(),
        vec![id]
    );

    record.state = KeyState::PendingImport;
    record.expiration_model = None;
    record.valid_to = None;
    store.delete_materials(&record).unwrap();
    let rows = store.materials(id).unwrap();
    assert_eq!(rows[0].sealed, None);
    assert_eq!(rows[0].fingerprint, Some(vec![9; 32]));
    assert_eq!(store.key(id).unwrap().unwrap(), record);

    // Re-importing writes the same version's row again; once deleted, any material may (the
    // domain checks the fingerprint).
    store.import_material(&record, &imported).unwrap();
    assert_eq!(store.materials(id).unwrap(), vec![imported.clone()]);
    store.delete_materials(&record).unwrap();
    store.import_material(&record, &other).unwrap();
    // A version above the current one (waiting for rotation) may be replaced.
    let pending = MaterialVersion {
        version: 2,
        ..imported.clone()
    };
    store.import_material(&record, &pending).unwrap();
    store
        .import_material(
            &record,
            &MaterialVersion {
                version: 2,
                ..other.clone()
            },
        )
        .unwrap();
    assert_eq!(
        store.materials(id).unwrap()[1].fingerprint,
        Some(vec![8; 32])
    );
}

fn due_keys_and_counts_by_state(h: &dyn Harness) {
    let store = h.open();
    let now = from_millis(1_700_000_000_000);
    let pending = Uuid::new_v4();
    let disabled = Uuid::new_v4();
    let enabled = Uuid::new_v4();
    store
        .insert_key(
            &KeyRecord {
                state: KeyState::PendingDeletion,
                deletion_date: Some(now + DAY * 7),
                pending_window_days: Some(7),
                ..key(pending, now)
            },
            None,
            &[],
        )
        .unwrap();
    // A disabled key due for rotation is not rotated.
    let schedule = Some(RotationSchedule {
        period_days: 30,
        next_rotation: now,
    });
    store
        .insert_key(
            &KeyRecord {
                state: KeyState::Disabled,
                rotation: schedule,
                ..key(disabled, now)
            },
            None,
            &[],
        )
        .unwrap();
    store
        .insert_key(
            &KeyRecord {
                rotation: schedule,
                ..key(enabled, now)
            },
            None,
            &[],
        )
        .unwrap();
    assert!(
        store
            .keys_due_for_deletion(now + DAY * 7 - Duration::from_millis(1))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.keys_due_for_deletion(now + DAY * 7).unwrap(),
        [pending]
    );
    assert_eq!(store.keys_due_for_rotation(now).unwrap(), [enabled]);
    let mut counts = store.count_keys_by_state().unwrap();
    counts.sort_by_key(|(state, _)| state.as_str());
    assert_eq!(
        counts,
        [
            (KeyState::Disabled, 1),
            (KeyState::Enabled, 1),
            (KeyState::PendingDeletion, 1)
        ]
    );
}

fn tags_are_overwritten_and_removed(h: &dyn Harness) {
    let store = h.open();
    let now = from_millis(1_700_000_000_000);
    let id = Uuid::new_v4();
    store
        .insert_key(&key(id, now), None, &[tag("b", "1"), tag("a", "2")])
        .unwrap();
    assert_eq!(store.tags(id).unwrap(), [tag("a", "2"), tag("b", "1")]);
    store
        .put_tags(id, &[tag("b", "changed"), tag("C", "3")])
        .unwrap();
    assert_eq!(
        store.tags(id).unwrap(),
        [tag("C", "3"), tag("a", "2"), tag("b", "changed")]
    );
    store.remove_tags(id, &strings(&["a", "none"])).unwrap();
    assert_eq!(
        store.tags(id).unwrap(),
        [tag("C", "3"), tag("b", "changed")]
    );
    // Tags of a key that does not exist are refused.
    assert!(matches!(
        store.put_tags(Uuid::new_v4(), &[tag("a", "1")]),
        Err(Error::Conflict(_))
    ));
}

fn user_names_are_unique_whatever_their_case(h: &dyn Harness) {
    let store = h.open();
    let alice = user("AIDAALICE", "Alice");
    store.insert_user(&alice).unwrap();
    assert!(matches!(
        store.insert_user(&user("AIDAOTHER", "aLICE")),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.insert_user(&user("AIDAALICE", "alice2")),
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.user_by_name("alice").unwrap().unwrap(), alice);
    assert_eq!(store.user_by_name("ALICE").unwrap().unwrap(), alice);
    assert_eq!(store.user_by_name("alic").unwrap(), None);
    // Only ASCII letters are folded (IAM names are ASCII; both engines agree on the rest).
    store.insert_user(&user("AIDAEMILE", "Émile")).unwrap();
    assert_eq!(store.user_by_name("émile").unwrap(), None);
    store.insert_user(&user("AIDAEMILE2", "émile")).unwrap();
    assert_eq!(
        store.user_by_name("éMILE").unwrap().unwrap().id,
        "AIDAEMILE2"
    );
    assert_eq!(store.user("AIDAALICE").unwrap().unwrap(), alice);
    assert_eq!(store.user("aidaalice").unwrap(), None);

    for (id, name) in [
        ("AIDABOB", "bob"),
        ("AIDACAROL", "Carol"),
        ("AIDADAN", "dan"),
    ] {
        store.insert_user(&user(id, name)).unwrap();
    }
    let names =
        |users: Vec<UserRecord>| -> Vec<String> { users.into_iter().map(|u| u.name).collect() };
    // Byte order, as stored.
    assert_eq!(
        names(store.list_users(None, 10).unwrap()),
        ["Alice", "Carol", "bob", "dan", "Émile", "émile"]
    );
    assert_eq!(names(store.list_users(Some("Carol"), 1).unwrap()), ["bob"]);

    let at = from_millis(1_800_000_000_000);
    assert!(store.set_sessions_valid_after("AIDABOB", at).unwrap());
    assert!(!store.set_sessions_valid_after("AIDANONE", at).unwrap());
    assert_eq!(
        store.user("AIDABOB").unwrap().unwrap().sessions_valid_after,
        Some(at)
    );
}

fn a_user_with_keys_or_policies_is_not_deleted(h: &dyn Harness) {
    let store = h.open();
    store.insert_user(&user("AIDAALICE", "alice")).unwrap();
    store
        .put_user_policy(&policy("AIDAALICE", "read", "{\"v\":1}"))
        .unwrap();
    store
        .put_user_policy(&policy("AIDAALICE", "admin", "{}"))
        .unwrap();
    store
        .put_user_policy(&policy("AIDAALICE", "read", "{\"v\":2}"))
        .unwrap();
    assert_eq!(
        store.user_policies("AIDAALICE").unwrap(),
        [
            policy("AIDAALICE", "admin", "{}"),
            policy("AIDAALICE", "read", "{\"v\":2}")
        ]
    );
    assert!(
        store
            .insert_access_key(&access_key("AKIA1", "AIDAALICE", 5), 2)
            .unwrap()
    );
    assert!(matches!(
        store.delete_user("AIDAALICE"),
        Err(Error::Conflict(_))
    ));
    assert!(store.delete_access_key("AKIA1").unwrap());
    assert!(!store.delete_access_key("AKIA1").unwrap());
    assert!(matches!(
        store.delete_user("AIDAALICE"),
        Err(Error::Conflict(_))
    ));
    assert!(store.delete_user_policy("AIDAALICE", "read").unwrap());
    assert!(!store.delete_user_policy("AIDAALICE", "read").unwrap());
    assert!(store.delete_user_policy("AIDAALICE", "admin").unwrap());
    assert!(store.delete_user("AIDAALICE").unwrap());
    assert!(!store.delete_user("AIDAALICE").unwrap());
    assert_eq!(store.user_by_name("alice").unwrap(), None);
    // A policy of a user that does not exist is refused.
    assert!(matches!(
        store.put_user_policy(&policy("AIDANONE", "p", "{}")),
        Err(Error::Conflict(_))
    ));
}

fn access_keys_stop_at_the_maximum_per_user(h: &dyn Harness) {
    let store = h.open();
    store.insert_user(&user("AIDAALICE", "alice")).unwrap();
    store.insert_user(&user("AIDABOB", "bob")).unwrap();
    let second = access_key("AKIA2", "AIDAALICE", 10);
    assert!(store.insert_access_key(&second, 2).unwrap());
    let first = access_key("AKIA1", "AIDAALICE", 10);
    assert!(store.insert_access_key(&first, 2).unwrap());
    assert!(
        !store
            .insert_access_key(&access_key("AKIA3", "AIDAALICE", 1), 2)
            .unwrap()
    );
    assert_eq!(store.access_key("AKIA3").unwrap(), None);
    // Another user's keys do not count.
    assert!(
        store
            .insert_access_key(&access_key("AKIA4", "AIDABOB", 1), 2)
            .unwrap()
    );
    // Oldest first, then by id.
    assert_eq!(
        store.access_keys_of("AIDAALICE").unwrap(),
        [first.clone(), second]
    );
    // A key of a user that does not exist, or an id taken, is refused.
    assert!(matches!(
        store.insert_access_key(&access_key("AKIA5", "AIDANONE", 1), 2),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.insert_access_key(&access_key("AKIA1", "AIDABOB", 1), 2),
        Err(Error::Conflict(_))
    ));

    let changed = AccessKeyRecord {
        status: AccessKeyStatus::Inactive,
        sessions_valid_after: Some(from_millis(99)),
        ..first
    };
    assert!(store.update_access_key(&changed).unwrap());
    assert_eq!(store.access_key("AKIA1").unwrap().unwrap(), changed);
    assert!(
        !store
            .update_access_key(&access_key("AKIA9", "AIDAALICE", 1))
            .unwrap()
    );
}

fn parameters_keep_versions_labels_and_tags(h: &dyn Harness) {
    let store = h.open();
    assert_eq!(store.parameter_latest_version("/app/db").unwrap(), None);
    assert_eq!(store.parameter_version("/app/db", None).unwrap(), None);
    store
        .add_parameter_version(&parameter("/app/db", 1), &[tag("env", "prod")], None)
        .unwrap();
    // Tags given with later versions are added too.
    store
        .add_parameter_version(&parameter("/app/db", 2), &[tag("team", "a")], None)
        .unwrap();
    store
        .add_parameter_version(&parameter("/app/db", 3), &[], Some(1))
        .unwrap();
    assert_eq!(store.parameter_latest_version("/app/db").unwrap(), Some(3));
    assert_eq!(
        store.parameter_version("/app/db", None).unwrap().unwrap(),
        parameter("/app/db", 3)
    );
    assert_eq!(store.parameter_version("/app/db", Some(1)).unwrap(), None);
    assert_eq!(
        store.parameter_tags("/app/db").unwrap(),
        [tag("env", "prod"), tag("team", "a")]
    );

    store
        .label_parameter_version("/app/db", 2, &strings(&["stable", "Blue"]))
        .unwrap();
    store
        .label_parameter_version("/app/db", 3, &strings(&["stable"]))
        .unwrap();
    assert_eq!(store.parameter_label("/app/db", "stable").unwrap(), Some(3));
    assert_eq!(store.parameter_label("/app/db", "Blue").unwrap(), Some(2));
    assert_eq!(store.parameter_label("/app/db", "none").unwrap(), None);
    let versions = store.parameter_versions("/app/db").unwrap();
    assert_eq!(
        versions,
        [
            ParameterVersionRecord {
                labels: strings(&["Blue"]),
                ..parameter("/app/db", 2)
            },
            ParameterVersionRecord {
                labels: strings(&["stable"]),
                ..parameter("/app/db", 3)
            },
        ]
    );
    // Only labels on that version are removed.
    assert_eq!(
        store
            .unlabel_parameter_version("/app/db", 2, &strings(&["stable", "Blue", "x"]))
            .unwrap(),
        ["Blue"]
    );
    assert_eq!(
        store
            .parameter_version("/app/db", Some(3))
            .unwrap()
            .unwrap()
            .labels,
        ["stable"]
    );
    // Pruning a labelled version takes its labels.
    store
        .add_parameter_version(&parameter("/app/db", 4), &[], Some(3))
        .unwrap();
    assert_eq!(store.parameter_label("/app/db", "stable").unwrap(), None);
    // A label on a version that does not exist is refused.
    assert!(
        store
            .label_parameter_version("/app/db", 9, &strings(&["x"]))
            .is_err()
    );

    store
        .put_parameter_tags("/app/db", &[tag("env", "dev")])
        .unwrap();
    store
        .remove_parameter_tags("/app/db", &strings(&["team"]))
        .unwrap();
    assert_eq!(
        store.parameter_tags("/app/db").unwrap(),
        [tag("env", "dev")]
    );

    assert!(store.delete_parameter("/app/db").unwrap());
    assert!(!store.delete_parameter("/app/db").unwrap());
    assert!(store.parameter_versions("/app/db").unwrap().is_empty());
    assert!(store.parameter_tags("/app/db").unwrap().is_empty());
    assert_eq!(store.parameter_label("/app/db", "stable").unwrap(), None);
}

fn a_stale_parameter_version_is_refused(h: &dyn Harness) {
    let store = h.open();
    store
        .add_parameter_version(&parameter("p", 1), &[], None)
        .unwrap();
    // Version 1 again, or a gap: neither is the next number.
    assert!(
        store
            .add_parameter_version(&parameter("p", 1), &[], None)
            .is_err()
    );
    assert!(
        store
            .add_parameter_version(&parameter("p", 3), &[], None)
            .is_err()
    );
    assert_eq!(store.parameter_latest_version("p").unwrap(), Some(1));
    assert_eq!(store.parameter_versions("p").unwrap().len(), 1);
}

fn parameters_page_by_prefix_in_byte_order(h: &dyn Harness) {
    let store = h.open();
    for name in ["/a/x", "/a/B", "/a/b/c", "/a/b", "/a-", "/b/x", "/a/é"] {
        store
            .add_parameter_version(&parameter(name, 1), &[], None)
            .unwrap();
        store
            .add_parameter_version(&parameter(name, 2), &[], None)
            .unwrap();
    }
    let names = |prefix: &str, one_level: bool, after: Option<&str>, limit: usize| -> Vec<String> {
        let page = store
            .parameters_with_prefix(prefix, one_level, after, limit)
            .unwrap();
        // Each is the latest version.
        assert!(page.iter().all(|p| p.version == 2), "{page:?}");
        page.into_iter().map(|p| p.name).collect()
    };
    assert_eq!(
        names("/a/", false, None, 10),
        ["/a/B", "/a/b", "/a/b/c", "/a/x", "/a/é"]
    );
    assert_eq!(
        names("/a/", true, None, 10),
        ["/a/B", "/a/b", "/a/x", "/a/é"]
    );
    assert_eq!(names("/a/", false, Some("/a/b"), 2), ["/a/b/c", "/a/x"]);
    assert_eq!(names("/a/", true, Some("/a/b"), 10), ["/a/x", "/a/é"]);
    // A page token before the prefix starts at the prefix.
    assert_eq!(names("/a/", false, Some("/"), 1), ["/a/B"]);
    assert_eq!(names("/a", true, None, 10), ["/a-"]);
    assert_eq!(
        names("", false, None, 100),
        ["/a-", "/a/B", "/a/b", "/a/b/c", "/a/x", "/a/é", "/b/x"]
    );
    assert!(names("/c", false, None, 10).is_empty());
    assert_eq!(
        store
            .parameter_version("/a/b", None)
            .unwrap()
            .unwrap()
            .labels,
        Vec::<String>::new()
    );
}

fn secrets_keep_versions_and_move_stages(h: &dyn Harness) {
    let store = h.open();
    const ARN: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
    let mut record = secret(ARN, "db");
    store
        .write_secret(
            &record,
            Some(&secret_version("v1", 1_000)),
            &[stage("AWSCURRENT", Some("v1"))],
            &[],
            &[tag("env", "prod")],
        )
        .unwrap();
    assert_eq!(store.secret(ARN).unwrap().unwrap(), record);
    assert_eq!(store.secret_by_name("db").unwrap().unwrap(), record);
    assert_eq!(store.secret_by_name("DB").unwrap(), None);
    assert_eq!(store.secret_tags(ARN).unwrap(), [tag("env", "prod")]);

    // A new version takes AWSCURRENT; the old one becomes AWSPREVIOUS.
    record.last_changed_at = from_millis(1_700_000_100_000);
    record.rotation = SecretRotation {
        enabled: Some(true),
        hook: Some("arn:aws:lambda:us-east-1:111122223333:function:rotate".into()),
        automatically_after_days: Some(30),
        schedule_expression: Some("rate(30 days)".into()),
        duration: Some("2h".into()),
        last_rotated_at: Some(from_millis(1_700_000_100_000)),
        next_rotation_at: Some(from_millis(1_702_592_100_000)),
        failure: None,
    };
    store
        .write_secret(
            &record,
            Some(&secret_version("v2", 2_000)),
            &[
                stage("AWSCURRENT", Some("v2")),
                stage("AWSPREVIOUS", Some("v1")),
                stage("AWSPENDING", None),
            ],
            &[],
            &[],
        )
        .unwrap();
    assert_eq!(store.secret(ARN).unwrap().unwrap(), record);
    let versions = store.secret_versions(ARN).unwrap();
    assert_eq!(
        versions,
        [
            SecretVersionRecord {
                stages: strings(&["AWSPREVIOUS"]),
                ..secret_version("v1", 1_000)
            },
            SecretVersionRecord {
                stages: strings(&["AWSCURRENT"]),
                ..secret_version("v2", 2_000)
            },
        ]
    );
    // Two labels on one version, a version without any, and a value replaced.
    store
        .write_secret(
            &record,
            Some(&SecretVersionRecord {
                value: None,
                ..secret_version("v3", 2_000)
            }),
            &[stage("custom", Some("v2"))],
            &[],
            &[],
        )
        .unwrap();
    let versions = store.secret_versions(ARN).unwrap();
    assert_eq!(versions[1].stages, ["AWSCURRENT", "custom"]);
    assert_eq!(versions[2].version_id, "v3");
    assert_eq!(versions[2].value, None);
    assert!(versions[2].stages.is_empty());
    // Pruning a version takes its stages.
    store
        .write_secret(&record, None, &[], &strings(&["v1"]), &[])
        .unwrap();
    let ids: Vec<String> = store
        .secret_versions(ARN)
        .unwrap()
        .into_iter()
        .map(|v| v.version_id)
        .collect();
    assert_eq!(ids, ["v2", "v3"]);
    // A stage on a version that does not exist is refused, and nothing of the write is kept.
    let mut changed = record.clone();
    changed.description = "changed".into();
    assert!(matches!(
        store.write_secret(&changed, None, &[stage("AWSCURRENT", Some("v9"))], &[], &[]),
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        store.secret(ARN).unwrap().unwrap().description,
        "db password"
    );
    // Another secret of the same name is refused.
    assert!(matches!(
        store.write_secret(&secret("arn:other", "db"), None, &[], &[], &[]),
        Err(Error::Conflict(_))
    ));

    // Listing, and what is due.
    let mut deleted = secret("arn:b", "B");
    deleted.deleted_at = Some(from_millis(5_000));
    store.write_secret(&deleted, None, &[], &[], &[]).unwrap();
    let names: Vec<String> = store
        .list_secrets()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["B", "db"]);
    assert!(
        store
            .secrets_due_for_deletion(from_millis(4_999))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.secrets_due_for_deletion(from_millis(5_000)).unwrap(),
        ["arn:b"]
    );
    assert!(
        store
            .secrets_due_for_rotation(from_millis(1_702_592_099_999))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .secrets_due_for_rotation(from_millis(1_702_592_100_000))
            .unwrap(),
        [ARN]
    );

    store.put_secret_tags(ARN, &[tag("a", "1")]).unwrap();
    store.remove_secret_tags(ARN, &strings(&["env"])).unwrap();
    assert_eq!(store.secret_tags(ARN).unwrap(), [tag("a", "1")]);
    assert!(store.delete_secret(ARN).unwrap());
    assert!(!store.delete_secret(ARN).unwrap());
    assert!(store.secret_versions(ARN).unwrap().is_empty());
    assert!(store.secret_tags(ARN).unwrap().is_empty());
}

// --- The audit trail ---------------------------------------------------------------------------

const KEY_A: &str = "arn:aws:kms:us-east-1:111122223333:key/a";
const KEY_B: &str = "arn:aws:kms:us-east-1:111122223333:key/b";

/// Event `sequence` at second `sequence` past the epoch; the store does not look inside the
/// body or check the hash, so they only need to be recognizable.
pub(crate) fn record(sequence: u64, user: &str, action: &str, resources: &[&str]) -> AuditRecord {
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

fn filled(h: &dyn Harness) -> Box<dyn Store> {
    let store = h.open();
    let events = sample();
    store.append_audit_events(&events[..2]).unwrap();
    store.append_audit_events(&events[2..]).unwrap();
    store
}

fn sequences(store: &dyn Store, query: AuditQuery) -> Vec<u64> {
    store
        .audit_events(&query)
        .unwrap()
        .iter()
        .map(|r| r.sequence)
        .collect()
}

fn appended_events_round_trip_and_the_last_is_the_head(h: &dyn Harness) {
    let store = h.open();
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

fn a_duplicate_sequence_is_refused_and_the_batch_is_not_written(h: &dyn Harness) {
    let store = filled(h);
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
    assert_eq!(sequences(&*store, key_b), [4, 2]);
}

fn events_come_newest_first_unless_ascending(h: &dyn Harness) {
    let store = filled(h);
    assert_eq!(
        sequences(&*store, AuditQuery::default()),
        [6, 5, 4, 3, 2, 1]
    );
    let ascending = AuditQuery {
        ascending: true,
        ..Default::default()
    };
    assert_eq!(sequences(&*store, ascending), [1, 2, 3, 4, 5, 6]);
}

fn the_time_range_is_inclusive(h: &dyn Harness) {
    let store = filled(h);
    let events = sample();
    let query = AuditQuery {
        start: Some(events[1].time),
        end: Some(events[3].time),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, query), [4, 3, 2]);
    let from = AuditQuery {
        start: Some(events[4].time),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, from), [6, 5]);
    let until = AuditQuery {
        end: Some(events[0].time + Duration::from_millis(999)),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, until), [1]);
}

fn user_and_access_key_filters_match_exactly(h: &dyn Harness) {
    let store = filled(h);
    let alice = AuditQuery {
        user_name: Some("alice".into()),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, alice), [6, 5, 3, 1]);
    let not_a_prefix = AuditQuery {
        user_name: Some("ali".into()),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, not_a_prefix), [0u64; 0]);
    let bobs_key = AuditQuery {
        access_key_id: Some("AKIABOB".into()),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, bobs_key), [4, 2]);
    let other_case = AuditQuery {
        access_key_id: Some("akiabob".into()),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, other_case), [0u64; 0]);
}

fn the_event_name_matches_the_action_or_its_operation(h: &dyn Harness) {
    let store = filled(h);
    let by = |name: &str| AuditQuery {
        event_name: Some(name.into()),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, by("kms:Encrypt")), [6, 4, 1]);
    assert_eq!(sequences(&*store, by("Encrypt")), [6, 4, 1]);
    assert_eq!(sequences(&*store, by("CreateUser")), [3]);
    assert_eq!(sequences(&*store, by("iam:Encrypt")), [0u64; 0]);
    assert_eq!(sequences(&*store, by("kms")), [0u64; 0]);
    assert_eq!(sequences(&*store, by("crypt")), [0u64; 0]);
}

fn the_resource_filter_finds_events_naming_the_arn(h: &dyn Harness) {
    let store = filled(h);
    let by = |arn: &str| AuditQuery {
        resource: Some(arn.into()),
        ..Default::default()
    };
    // Event 6 names key A twice and comes once.
    assert_eq!(sequences(&*store, by(KEY_A)), [6, 2, 1]);
    assert_eq!(sequences(&*store, by(KEY_B)), [4, 2]);
    assert_eq!(sequences(&*store, by("*")), [3]);
    assert_eq!(
        sequences(&*store, by("arn:aws:kms:us-east-1:111122223333:key/")),
        [0u64; 0]
    );
}

fn filters_are_anded(h: &dyn Harness) {
    let store = filled(h);
    let query = AuditQuery {
        user_name: Some("alice".into()),
        event_name: Some("Encrypt".into()),
        resource: Some(KEY_A.into()),
        start: Some(sample()[1].time),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, query), [6]);
    let nothing = AuditQuery {
        user_name: Some("bob".into()),
        access_key_id: Some("AKIAALICE".into()),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, nothing), [0u64; 0]);
}

fn pages_continue_after_a_sequence_in_either_order(h: &dyn Harness) {
    let store = filled(h);
    let page = |ascending, after_sequence| AuditQuery {
        ascending,
        after_sequence,
        limit: 2,
        ..Default::default()
    };
    assert_eq!(sequences(&*store, page(true, None)), [1, 2]);
    assert_eq!(sequences(&*store, page(true, Some(2))), [3, 4]);
    assert_eq!(sequences(&*store, page(true, Some(4))), [5, 6]);
    assert_eq!(sequences(&*store, page(true, Some(6))), [0u64; 0]);
    assert_eq!(sequences(&*store, page(false, None)), [6, 5]);
    assert_eq!(sequences(&*store, page(false, Some(5))), [4, 3]);
    assert_eq!(sequences(&*store, page(false, Some(2))), [1]);
    assert_eq!(sequences(&*store, page(false, Some(u64::MAX))), [6, 5]);
    // Paging combines with a filter.
    let alice_after_5 = AuditQuery {
        user_name: Some("alice".into()),
        after_sequence: Some(5),
        ..Default::default()
    };
    assert_eq!(sequences(&*store, alice_after_5), [3, 1]);
}

// --- Copying between stores --------------------------------------------------------------------

/// A vault with a row in every table.
pub(crate) fn fill(store: &dyn Store) {
    let now = from_millis(1_700_000_000_000);
    store.init_keyring(b"sealed keyring").unwrap();
    for n in 0..3u8 {
        let id = Uuid::from_bytes([n + 1; 16]);
        let record = KeyRecord {
            rotation: Some(RotationSchedule {
                period_days: 90,
                next_rotation: now + DAY * 90,
            }),
            ..key(id, now)
        };
        store
            .insert_key(
                &record,
                Some(&material(id, 1, now)),
                &[tag("n", &n.to_string())],
            )
            .unwrap();
        store
            .insert_alias(&alias(&format!("alias/k{n}"), id, now))
            .unwrap();
    }
    store.insert_user(&user("AIDAALICE", "alice")).unwrap();
    store
        .insert_access_key(&access_key("AKIAALICE", "AIDAALICE", 7), 2)
        .unwrap();
    store
        .put_user_policy(&policy("AIDAALICE", "all", "{\"Statement\":[]}"))
        .unwrap();
    store.append_audit_events(&sample()).unwrap();
    for v in 1..=2 {
        store
            .add_parameter_version(&parameter("/app/p", v), &[tag("t", "v")], None)
            .unwrap();
    }
    store
        .label_parameter_version("/app/p", 1, &strings(&["old"]))
        .unwrap();
    store
        .write_secret(
            &secret("arn:s", "s"),
            Some(&secret_version("v1", 1)),
            &[stage("AWSCURRENT", Some("v1"))],
            &[],
            &[tag("t", "s")],
        )
        .unwrap();
}

/// Every table's columns and rows, each table's rows sorted (engines need not agree on row
/// order where their primary keys do not fix one).
pub(crate) fn dump(store: &dyn Store) -> Vec<(String, Vec<String>, Vec<Vec<Value>>)> {
    TABLES
        .iter()
        .map(|table| {
            let mut columns = Vec::new();
            let mut rows = Vec::new();
            store
                .dump_table(
                    table,
                    &mut |names| {
                        columns = names.to_vec();
                        Ok(())
                    },
                    &mut |row| {
                        rows.push(row);
                        Ok(())
                    },
                )
                .unwrap();
            rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            (table.to_string(), columns, rows)
        })
        .collect()
}

fn a_copy_holds_every_row(h: &dyn Harness) {
    let from = h.open();
    fill(&*from);
    let into = SqliteHarness::new();
    let to = into.open();
    let (report, keyring) = copy_store(&*from, &*to).unwrap();
    for table in TABLES {
        assert!(report.rows(table) > 0, "{table} copied no rows");
    }
    // The keyring comes last, from the caller, once the copy is checked.
    assert_eq!(to.sealed_keyring().unwrap(), None);
    assert_eq!(Some(keyring.clone()), from.sealed_keyring().unwrap());
    to.init_keyring(&keyring).unwrap();
    assert_eq!(dump(&*to), dump(&*from));
    assert_eq!(to.database_id().unwrap(), from.database_id().unwrap());
    assert_eq!(
        to.key(Uuid::from_bytes([1; 16])).unwrap(),
        from.key(Uuid::from_bytes([1; 16])).unwrap()
    );
}

fn a_copy_needs_an_empty_target(h: &dyn Harness) {
    let source = SqliteHarness::new();
    let from = source.open();
    fill(&*from);
    let to = h.open();
    to.insert_user(&user("AIDABOB", "bob")).unwrap();
    assert!(matches!(copy_store(&*from, &*to), Err(Error::Conflict(_))));
    let to = h.open();
    to.init_keyring(b"another vault").unwrap();
    assert!(matches!(copy_store(&*from, &*to), Err(Error::Conflict(_))));
}

fn unknown_tables_and_columns_are_refused(h: &dyn Harness) {
    let store = h.open();
    let refused = store.dump_table("vaultd_schema", &mut |_| Ok(()), &mut |_| Ok(()));
    assert!(refused.is_err());
    assert!(store.load_rows("sqlite_master", &[], &[]).is_err());
    let columns = strings(&["name", "nonsense"]);
    let row = vec![Value::Text("x".into()), Value::Integer(1)];
    assert!(store.load_rows("meta", &columns, &[row]).is_err());
    // A row of the wrong width.
    let columns = strings(&["name", "value"]);
    assert!(
        store
            .load_rows("meta", &columns, &[vec![Value::Text("x".into())]])
            .is_err()
    );
}
