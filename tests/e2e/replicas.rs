//! Replicas on PostgreSQL and copying a vault between stores (`vaultctl admin migrate`).
//!
//! The PostgreSQL tests need a server: set VAULTD_TEST_DATABASE_URL to a superuser's URL
//! (`.ci/run` starts a throwaway cluster). Each test makes its own database and drops it. Without
//! the variable they print a notice and pass; the SQLite migration test always runs.

use std::{path::Path, sync::Arc, time::Duration};

use tokio::time::Instant;
use vaultd::{
    auth::throttle::ThrottleConfig,
    client::{Client, StaticCredentials},
    clock::ManualClock,
    crypto::barrier::RootKey,
    pb,
    vault::Storage,
};

use crate::common::*;

/// What `fill` made, to be found again in a copy or on another replica.
pub struct Filled {
    key_id: String,
    ciphertext: Vec<u8>,
    secret_arn: String,
    user: StaticCredentials,
}

/// Puts one of everything in a vault: a key with an alias and a ciphertext, parameters (one a
/// SecureString), a secret with two versions, a user with a policy and an access key.
pub async fn fill(client: &Client) -> Filled {
    let key_id = create_key(client).await;
    client
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/copied".into(),
            target_key_id: key_id.clone(),
        })
        .await
        .unwrap();
    let ciphertext = client
        .encrypt(pb::EncryptRequest {
            key_id: "alias/copied".into(),
            plaintext: b"moved intact".to_vec(),
            encryption_context: ctx(&[("app", "copy")]),
            ..Default::default()
        })
        .await
        .unwrap()
        .ciphertext_blob;
    for (name, value, kind) in [
        ("/copy/plain", "visible", pb::ParameterType::String),
        ("/copy/secure", "hidden", pb::ParameterType::SecureString),
    ] {
        client
            .put_parameter(pb::PutParameterRequest {
                name: name.into(),
                value: value.into(),
                r#type: kind as i32,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let secret_arn = client
        .create_secret(pb::CreateSecretRequest {
            name: "copy/db".into(),
            secret_string: Some("first".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .arn;
    client
        .put_secret_value(pb::PutSecretValueRequest {
            secret_id: secret_arn.clone(),
            secret_string: Some("second".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .create_user(pb::CreateUserRequest {
            user_name: "mover".into(),
        })
        .await
        .unwrap();
    client
        .put_user_policy(pb::PutUserPolicyRequest {
            user_name: "mover".into(),
            policy_name: "all".into(),
            policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into(),
        })
        .await
        .unwrap();
    let key = client
        .create_access_key(pb::CreateAccessKeyRequest {
            user_name: "mover".into(),
        })
        .await
        .unwrap()
        .access_key
        .unwrap();
    Filled {
        key_id,
        ciphertext,
        secret_arn,
        user: StaticCredentials::new(&key.access_key_id, &key.secret_access_key, None),
    }
}

/// Asserts that everything `fill` made is there and opens, through `client`.
pub async fn check(client: &Client, filled: &Filled) {
    let plain = client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: filled.ciphertext.clone(),
            encryption_context: ctx(&[("app", "copy")]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(plain.plaintext, b"moved intact");
    assert!(plain.key_id.ends_with(&filled.key_id));
    let secure = client
        .get_parameter(pb::GetParameterRequest {
            name: "/copy/secure".into(),
            with_decryption: true,
        })
        .await
        .unwrap()
        .parameter
        .unwrap();
    assert_eq!(secure.value, "hidden");
    let secret = client
        .get_secret_value(pb::GetSecretValueRequest {
            secret_id: filled.secret_arn.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(secret.secret_string.as_deref(), Some("second"));
    let previous = client
        .get_secret_value(pb::GetSecretValueRequest {
            secret_id: filled.secret_arn.clone(),
            version_stage: "AWSPREVIOUS".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(previous.secret_string.as_deref(), Some("first"));
}

/// `vaultctl admin migrate` with the root key in the environment; its JSON, or its stderr.
fn migrate(from: &str, to: &str, root_key: &RootKey) -> Result<serde_json::Value, String> {
    let output = vaultctl_command()
        .args(["admin", "migrate", "--from", from, "--to", to])
        .env("VAULTD_ROOT_KEY", root_key.to_base64().as_str())
        .output()
        .unwrap();
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

async fn serve_dir(data_dir: &Path, root_key: RootKey) -> TestServer {
    TestServer::start_in(data_dir, root_key, Arc::new(ManualClock::starting_now())).await
}

#[tokio::test]
async fn migrate_copies_a_data_directory_and_the_copy_serves() {
    let server = TestServer::start().await;
    let filled = fill(&server.client()).await;
    let root_key = server.root_key.clone();
    let (dir, data_dir, _, _) = server.stop().await;
    let dir = dir.unwrap();
    let copy = dir.path().join("copy");

    // The wrong root key is refused before anything is written.
    let wrong = migrate(
        data_dir.to_str().unwrap(),
        copy.to_str().unwrap(),
        &RootKey::generate().unwrap(),
    )
    .unwrap_err();
    assert!(wrong.contains("root key"), "{wrong}");
    assert!(!copy.exists());

    let report = migrate(
        data_dir.to_str().unwrap(),
        copy.to_str().unwrap(),
        &root_key,
    )
    .unwrap();
    let verified = &report["Verified"];
    // The key, and the AWS-managed keys of SSM and Secrets Manager.
    assert_eq!(verified["Keys"], 3, "{report}");
    assert_eq!(verified["AccessKeys"], 2, "root's and mover's: {report}");
    assert_eq!(verified["ParameterVersions"], 2, "{report}");
    assert_eq!(verified["SecretVersions"], 2, "{report}");
    assert_eq!(report["RowsCopied"]["aliases"], 3, "{report}");
    assert!(
        report["RowsCopied"]["audit_events"].as_u64().unwrap() >= 10,
        "{report}"
    );

    // Not over a vault.
    let again = migrate(
        data_dir.to_str().unwrap(),
        copy.to_str().unwrap(),
        &root_key,
    )
    .unwrap_err();
    assert!(again.contains("already"), "{again}");

    let served = serve_dir(&copy, root_key).await;
    check(&served.client(), &filled).await;
    let user = served.client_with(filled.user.clone());
    user.get_caller_identity(pb::GetCallerIdentityRequest::default())
        .await
        .unwrap();
    served.stop().await;
}

#[tokio::test]
async fn migrate_refuses_a_directory_in_use() {
    let server = TestServer::start().await;
    let target = tempfile::tempdir().unwrap();
    let refused = migrate(
        server.data_dir.to_str().unwrap(),
        target.path().join("copy").to_str().unwrap(),
        &server.root_key,
    )
    .unwrap_err();
    assert!(refused.contains("in use"), "{refused}");
    server.stop().await;
}

#[tokio::test]
async fn rows_without_a_keyring_are_refused_not_sealed_under_a_new_one() {
    // What an unfinished copy leaves: rows, but no keyring (it is installed last).
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    {
        let store = vaultd::store::SqliteStore::open(&data_dir.join("vault.db")).unwrap();
        use vaultd::store::Store;
        store
            .insert_user(&vaultd::model::UserRecord {
                id: "AIDAEXAMPLEUSER00001".into(),
                name: "left-behind".into(),
                created_at: std::time::SystemTime::now(),
                sessions_valid_after: None,
            })
            .unwrap();
    }
    let daemon = Daemon::start(
        &["--data-dir", data_dir.to_str().unwrap()],
        &[(
            "VAULTD_ROOT_KEY",
            RootKey::generate().unwrap().to_base64().as_str(),
        )],
    );
    let refused = daemon.err().expect("vaultd refuses to start");
    assert!(refused.contains("no keyring"), "{refused}");
}

// --- PostgreSQL ------------------------------------------------------------------------------

/// A database of its own for one test, dropped at the end.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    /// `None` (with a notice) when VAULTD_TEST_DATABASE_URL is not set.
    pub fn create(test: &str) -> Option<Self> {
        let Some(admin_url) = std::env::var("VAULTD_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!("{test}: skipped: set VAULTD_TEST_DATABASE_URL to run the PostgreSQL tests");
            return None;
        };
        let name = format!("vaultd_e2e_{}", uuid::Uuid::new_v4().simple());
        admin_sql(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("VAULTD_TEST_DATABASE_URL must name a database"),
        };
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    pub fn storage(&self) -> Storage {
        Storage::Postgres {
            url: zeroize::Zeroizing::new(self.url.clone()),
            pool_size: 8,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        admin_sql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// On a thread of its own: the client blocks, and tests run in async contexts.
fn admin_sql(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client.batch_execute(&sql).unwrap();
    })
    .join()
    .unwrap();
}

/// `n` replicas on one database, sharing a clock, each with its own data directory.
async fn replicas(db: &TestDatabase, n: usize) -> (tempfile::TempDir, Vec<TestServer>) {
    let dir = tempfile::tempdir().unwrap();
    let root_key = RootKey::generate().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let mut servers = Vec::new();
    for i in 0..n {
        servers.push(
            TestServer::start_stored(
                db.storage(),
                "127.0.0.1:0".parse().unwrap(),
                &dir.path().join(format!("replica-{i}")),
                root_key.clone(),
                clock.clone(),
                ThrottleConfig::off(),
            )
            .await,
        );
    }
    (dir, servers)
}

async fn stop_all(servers: Vec<TestServer>) {
    for server in servers {
        server.stop().await;
    }
}

/// Polls until `f` holds, for at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn three_replicas_serve_one_vault() {
    let Some(db) = TestDatabase::create("three_replicas_serve_one_vault") else {
        return;
    };
    let (_dir, servers) = replicas(&db, 3).await;
    // Written on one, read on the others.
    let filled = fill(&servers[0].client()).await;
    for server in &servers[1..] {
        check(&server.client(), &filled).await;
    }
    // And the other way round: a key made on the third decrypts what the second encrypts.
    let key = create_key(&servers[2].client()).await;
    let blob = servers[1]
        .client()
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"across".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .ciphertext_blob;
    let plain = servers[0]
        .client()
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(plain.plaintext, b"across");
    stop_all(servers).await;
}

/// The PostgreSQL tests run one at a time: one of them restarts the server.
static POSTGRES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn encrypt_with(
    client: &Client,
    key_id: &str,
) -> Result<Vec<u8>, vaultd::client::ClientError> {
    client
        .encrypt(pb::EncryptRequest {
            key_id: key_id.into(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .map(|r| r.ciphertext_blob)
}

#[tokio::test]
async fn a_disabled_key_or_a_deleted_access_key_is_refused_by_every_replica_within_a_second() {
    let _one = POSTGRES.lock().await;
    let Some(db) = TestDatabase::create("refused_by_every_replica") else {
        return;
    };
    let (_dir, servers) = replicas(&db, 3).await;
    let key = create_key(&servers[0].client()).await;
    let user = app_user(&servers[0], "worker", Some(&allow(&["kms:*"], "*"))).await;
    // Every replica has the key and the access key cached: they have served them.
    for server in &servers {
        encrypt_with(&server.client(), &key).await.unwrap();
        encrypt_with(&server.client_with(user.clone()), &key)
            .await
            .unwrap();
    }

    servers[0]
        .client()
        .disable_key(pb::DisableKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap();
    for server in &servers[1..] {
        let client = server.client();
        let took = within(Duration::from_secs(1), || {
            let (client, key) = (client.clone(), key.clone());
            async move {
                matches!(encrypt_with(&client, &key).await,
                    Err(e) if e.reason() == "DisabledException")
            }
        })
        .await;
        eprintln!("disabled key refused by another replica after {took:?}");
    }

    let access_key_id = user.access_key_id.clone();
    servers[0]
        .client()
        .delete_access_key(pb::DeleteAccessKeyRequest {
            user_name: "worker".into(),
            access_key_id,
        })
        .await
        .unwrap();
    for server in &servers[1..] {
        let client = server.client_with(user.clone());
        let took = within(Duration::from_secs(1), || {
            let (client, key) = (client.clone(), key.clone());
            async move {
                matches!(encrypt_with(&client, &key).await,
                    Err(e) if e.code == tonic::Code::Unauthenticated)
            }
        })
        .await;
        eprintln!("deleted access key refused by another replica after {took:?}");
    }
    stop_all(servers).await;
}

#[tokio::test]
async fn background_work_runs_once_and_the_lead_moves_when_its_holder_stops() {
    let _one = POSTGRES.lock().await;
    let Some(db) = TestDatabase::create("background_work_runs_once") else {
        return;
    };
    let (_dir, mut servers) = replicas(&db, 3).await;
    let leads = |servers: &[TestServer]| {
        let vaults: Vec<_> = servers.iter().map(|s| s.vault.clone()).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                vaults.iter().map(|v| v.hold_lead()).collect::<Vec<bool>>()
            })
            .await
            .unwrap()
        }
    };
    let held = leads(&servers).await;
    assert_eq!(held.iter().filter(|h| **h).count(), 1, "{held:?}");
    // Asking again changes nothing.
    assert_eq!(leads(&servers).await, held);

    // A key past its deletion window: every replica runs a pass as the maintenance loop does,
    // and only the lead's deletes it.
    let key = create_key(&servers[0].client()).await;
    schedule_deletion(&servers[0].client(), &key, 7).await;
    servers[0].clock.advance(Duration::from_secs(8 * 86_400));
    let vaults: Vec<_> = servers.iter().map(|s| s.vault.clone()).collect();
    let deleted = tokio::task::spawn_blocking(move || {
        vaults
            .iter()
            .map(|v| match v.hold_lead() {
                true => v.kms.run_maintenance().unwrap().deleted,
                false => 0,
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(deleted.iter().sum::<usize>(), 1, "{deleted:?}");
    let leader = held.iter().position(|h| *h).unwrap();
    assert_eq!(deleted[leader], 1);

    // The lead's holder stops: another takes the lead at its next pass.
    servers.remove(leader).stop().await;
    let start = Instant::now();
    loop {
        let held = leads(&servers).await;
        if held.iter().filter(|h| **h).count() == 1 {
            eprintln!("lead taken over after {:?}", start.elapsed());
            break;
        }
        assert!(held.iter().all(|h| !h), "two leads: {held:?}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nobody took the lead"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_all(servers).await;
}

#[tokio::test]
async fn a_killed_lead_daemon_is_replaced_by_another() {
    let _one = POSTGRES.lock().await;
    let Some(db) = TestDatabase::create("killed_lead_daemon") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root_key = RootKey::generate().unwrap();
    let mut daemons: Vec<Daemon> = (0..3)
        .map(|i| {
            let data_dir = dir.path().join(format!("replica-{i}"));
            Daemon::start(
                &[
                    "--data-dir",
                    data_dir.to_str().unwrap(),
                    "--storage",
                    &db.url,
                    "--maintenance-interval",
                    "1",
                ],
                &[
                    FIXED_CREDS[0],
                    FIXED_CREDS[1],
                    ("VAULTD_ROOT_KEY", root_key.to_base64().as_str()),
                ],
            )
            .unwrap()
        })
        .collect();
    const LEADS: &str = "this replica now runs the fleet's background work";
    let leader = |daemons: &[Daemon]| -> Vec<usize> {
        (0..daemons.len())
            .filter(|i| daemons[*i].log().contains(LEADS))
            .collect()
    };
    let start = Instant::now();
    while leader(&daemons).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "no lead");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let first = leader(&daemons);
    assert_eq!(first.len(), 1, "one lead: {first:?}");
    let mut killed = daemons.remove(first[0]);
    killed.signal("KILL");
    let start = Instant::now();
    while leader(&daemons).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no replica took the lead:\n{}",
            daemons
                .iter()
                .map(|d| d.log())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("lead taken over {:?} after kill -9", start.elapsed());
    assert_eq!(leader(&daemons).len(), 1);
    // The survivors still serve.
    let client = daemons[0].client(root_credentials());
    create_key(&client).await;
}

/// Restarts the PostgreSQL server (VAULTD_TEST_PG_RESTART, as `.ci/run` sets it), or without it
/// ends every connection to the test's database, which the replicas see the same way.
fn restart_postgres(admin_url: &str, database: &str) {
    match std::env::var("VAULTD_TEST_PG_RESTART")
        .ok()
        .filter(|c| !c.is_empty())
    {
        Some(command) => {
            let status = std::process::Command::new("sh")
                .args(["-c", &command])
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "restarting PostgreSQL failed");
        }
        None => {
            eprintln!(
                "VAULTD_TEST_PG_RESTART is not set: ending the database's connections instead"
            );
            admin_sql(
                admin_url,
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{database}'"
                ),
            );
        }
    }
}

#[tokio::test]
async fn a_postgres_restart_under_load_loses_no_acknowledged_write() {
    let _one = POSTGRES.lock().await;
    let Some(db) = TestDatabase::create("postgres_restart_under_load") else {
        return;
    };
    let (_dir, servers) = replicas(&db, 2).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for task in 0..4 {
        let client = servers[task % 2].client();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let (mut acknowledged, mut failed) = (Vec::new(), 0);
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("/load/{task}/{i}");
                i += 1;
                match client
                    .put_parameter(pb::PutParameterRequest {
                        name: name.clone(),
                        value: format!("value {i}"),
                        r#type: pb::ParameterType::SecureString as i32,
                        ..Default::default()
                    })
                    .await
                {
                    Ok(_) => acknowledged.push(name),
                    Err(_) => {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (acknowledged, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (admin_url, database) = (db.admin_url.clone(), db.name.clone());
    tokio::task::spawn_blocking(move || restart_postgres(&admin_url, &database))
        .await
        .unwrap();
    // The replicas recover: writes are acknowledged again after the restart.
    let after = Instant::now();
    let client = servers[0].client();
    within(Duration::from_secs(15), || {
        let client = client.clone();
        async move {
            client
                .put_parameter(pb::PutParameterRequest {
                    name: "/load/after".into(),
                    value: "again".into(),
                    r#type: pb::ParameterType::String as i32,
                    overwrite: true,
                    ..Default::default()
                })
                .await
                .is_ok()
        }
    })
    .await;
    eprintln!(
        "writes acknowledged again {:?} after the restart",
        after.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut acknowledged, mut failed) = (Vec::new(), 0);
    for writer in writers {
        let (names, errors) = writer.await.unwrap();
        acknowledged.extend(names);
        failed += errors;
    }
    eprintln!(
        "{} writes acknowledged, {failed} refused during the restart",
        acknowledged.len()
    );
    assert!(acknowledged.len() > 20);
    // Every acknowledged write is there, on both replicas.
    for server in &servers {
        let client = server.client();
        for name in &acknowledged {
            let found = client
                .get_parameter(pb::GetParameterRequest {
                    name: name.clone(),
                    with_decryption: true,
                })
                .await
                .unwrap_or_else(|e| panic!("{name} was acknowledged but is gone: {e}"));
            assert!(found.parameter.unwrap().value.starts_with("value "));
        }
    }
    stop_all(servers).await;
}

#[tokio::test]
async fn concurrent_put_secret_value_on_two_replicas_leaves_consistent_stages() {
    let _one = POSTGRES.lock().await;
    let Some(db) = TestDatabase::create("concurrent_put_secret_value") else {
        return;
    };
    let (_dir, servers) = replicas(&db, 2).await;
    let arn = servers[0]
        .client()
        .create_secret(pb::CreateSecretRequest {
            name: "race/db".into(),
            secret_string: Some("v0".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .arn;
    let mut puts = Vec::new();
    for i in 0..20 {
        let client = servers[i % 2].client();
        let arn = arn.clone();
        puts.push(tokio::spawn(async move {
            client
                .put_secret_value(pb::PutSecretValueRequest {
                    secret_id: arn,
                    secret_string: Some(format!("v{}", i + 1)),
                    client_request_token: format!("{:032}", i + 1),
                    ..Default::default()
                })
                .await
        }));
    }
    let mut acknowledged = Vec::new();
    for put in puts {
        if let Ok(answer) = put.await.unwrap() {
            acknowledged.push(answer.version_id);
        }
    }
    assert!(!acknowledged.is_empty());
    for server in &servers {
        let versions = server
            .client()
            .list_secret_version_ids(pb::ListSecretVersionIdsRequest {
                secret_id: arn.clone(),
                include_deprecated: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .versions;
        let with = |stage: &str| {
            versions
                .iter()
                .filter(|v| v.version_stages.iter().any(|s| s == stage))
                .map(|v| v.version_id.clone())
                .collect::<Vec<_>>()
        };
        let current = with("AWSCURRENT");
        assert_eq!(current.len(), 1, "one AWSCURRENT: {versions:?}");
        assert_eq!(
            with("AWSPREVIOUS").len(),
            1,
            "one AWSPREVIOUS: {versions:?}"
        );
        assert!(
            acknowledged.contains(&current[0]),
            "AWSCURRENT is a version that was put"
        );
        for id in &acknowledged {
            assert!(
                versions.iter().any(|v| &v.version_id == id),
                "acknowledged version {id} is missing"
            );
        }
        let value = server
            .client()
            .get_secret_value(pb::GetSecretValueRequest {
                secret_id: arn.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(value.version_id, current[0]);
    }
    stop_all(servers).await;
}

#[tokio::test]
async fn replicas_write_one_verifiable_audit_chain() {
    let _one = POSTGRES.lock().await;
    let Some(db) = TestDatabase::create("one_audit_chain") else {
        return;
    };
    let (_dir, servers) = replicas(&db, 3).await;
    let mut work = Vec::new();
    for server in &servers {
        let client = server.client();
        work.push(tokio::spawn(async move {
            for _ in 0..30 {
                let key = create_key(&client).await;
                encrypt_with(&client, &key).await.unwrap();
            }
        }));
    }
    for w in work {
        w.await.unwrap();
    }
    for server in &servers {
        let vault = server.vault.clone();
        assert!(
            tokio::task::spawn_blocking(move || vault.audit.flush(Duration::from_secs(5)))
                .await
                .unwrap()
        );
    }
    // On a blocking thread: the servers run on this test's runtime.
    let mut verify = root_vaultctl(&servers[1].endpoint());
    verify.args(["audit", "verify", "--output", "json"]);
    let out = succeeded(
        &tokio::task::spawn_blocking(move || verify.output().unwrap())
            .await
            .unwrap(),
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["Verified"], true, "{report}");
    // 180 requests, each recorded once, whatever replica wrote it (and nothing else ran).
    assert_eq!(report["Events"], report["LastSequence"], "{report}");
    assert!(report["Events"].as_u64().unwrap() >= 180, "{report}");
    stop_all(servers).await;
}

#[tokio::test]
async fn migrate_round_trip_through_postgres() {
    let _one = POSTGRES.lock().await;
    let Some(db) = TestDatabase::create("migrate_round_trip") else {
        return;
    };
    let server = TestServer::start().await;
    let filled = fill(&server.client()).await;
    let root_key = server.root_key.clone();
    let (dir, data_dir, _, clock) = server.stop().await;
    let dir = dir.unwrap();

    let report = migrate(data_dir.to_str().unwrap(), &db.url, &root_key).unwrap();
    assert_eq!(report["Verified"]["SecretVersions"], 2, "{report}");
    assert_eq!(
        report["Target"], "the PostgreSQL database",
        "no URL (it may hold a password)"
    );
    // Not twice into the same database.
    let again = migrate(data_dir.to_str().unwrap(), &db.url, &root_key).unwrap_err();
    assert!(again.contains("already"), "{again}");

    // The database serves it.
    let on_postgres = TestServer::start_stored(
        db.storage(),
        "127.0.0.1:0".parse().unwrap(),
        &dir.path().join("replica"),
        root_key.clone(),
        clock,
        ThrottleConfig::off(),
    )
    .await;
    check(&on_postgres.client(), &filled).await;
    on_postgres.stop().await;

    // And back into a new data directory.
    let back = dir.path().join("back");
    let report = migrate(&db.url, back.to_str().unwrap(), &root_key).unwrap();
    assert_eq!(report["Verified"]["Keys"], 3, "{report}");
    let served = serve_dir(&back, root_key).await;
    check(&served.client(), &filled).await;
    served.stop().await;
}

/// Races between replicas that a process's own locks do not cover (found by review): writes are
/// serialized across replicas, and a replica's cache invalidation never waits for its writes.
mod races {
    use super::*;

    /// DeleteSecret on one replica while another replica runs PutSecretValue on the same secret:
    /// the put read the secret (deleted_at unset) before the delete, and writes the whole record
    /// after it, so the scheduled deletion is silently undone although DeleteSecret succeeded.
    #[tokio::test]
    async fn a_secret_deleted_on_one_replica_stays_deleted_while_another_puts_values() {
        let _one = POSTGRES.lock().await;
        let Some(db) = TestDatabase::create("review_secret_lost_delete") else {
            return;
        };
        let (_dir, servers) = replicas(&db, 2).await;
        let mut resurrected = Vec::new();
        for round in 0..15 {
            let arn = servers[0]
                .client()
                .create_secret(pb::CreateSecretRequest {
                    name: format!("race/{round}"),
                    secret_string: Some("v0".into()),
                    ..Default::default()
                })
                .await
                .unwrap()
                .arn;
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut putters = Vec::new();
            for p in 0..4 {
                let (client, arn, stop) = (servers[1].client(), arn.clone(), stop.clone());
                putters.push(tokio::spawn(async move {
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        i += 1;
                        let _ = client
                            .put_secret_value(pb::PutSecretValueRequest {
                                secret_id: arn.clone(),
                                secret_string: Some(format!("v{p}-{i}")),
                                ..Default::default()
                            })
                            .await;
                    }
                }));
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
            servers[0]
                .client()
                .delete_secret(pb::DeleteSecretRequest {
                    secret_id: arn.clone(),
                    recovery_window_in_days: Some(7),
                    ..Default::default()
                })
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for p in putters {
                p.await.unwrap();
            }
            let described = servers[0]
                .client()
                .describe_secret(pb::DescribeSecretRequest {
                    secret_id: arn.clone(),
                })
                .await
                .unwrap();
            if described.deleted_date.is_none() {
                resurrected.push(round);
            }
        }
        stop_all(servers).await;
        assert!(
            resurrected.is_empty(),
            "DeleteSecret succeeded but the secret is no longer scheduled for deletion in rounds \
             {resurrected:?}: a concurrent PutSecretValue on another replica wrote its stale copy"
        );
    }

    /// The first use of alias/aws/ssm on two replicas at once: each finds no alias, each creates
    /// a key, and the second alias insert fails: a PutParameter fails and an orphaned
    /// AWS-managed key stays behind.
    #[tokio::test]
    async fn first_use_of_an_aws_managed_key_on_two_replicas_at_once() {
        let _one = POSTGRES.lock().await;
        let mut failures = Vec::new();
        let mut orphans = 0;
        for round in 0..4 {
            let Some(db) = TestDatabase::create("review_aws_managed_race") else {
                return;
            };
            let (_dir, servers) = replicas(&db, 3).await;
            let mut puts = Vec::new();
            for (i, server) in servers.iter().enumerate() {
                for j in 0..3 {
                    let client = server.client();
                    puts.push(tokio::spawn(async move {
                        client
                            .put_parameter(pb::PutParameterRequest {
                                name: format!("/race/{i}/{j}"),
                                value: "s".into(),
                                r#type: pb::ParameterType::SecureString as i32,
                                ..Default::default()
                            })
                            .await
                    }));
                }
            }
            for put in puts {
                if let Err(e) = put.await.unwrap() {
                    failures.push(format!("round {round}: {:?} {}", e.code, e.message));
                }
            }
            let keys = servers[0]
                .client()
                .list_keys(pb::ListKeysRequest::default())
                .await
                .unwrap()
                .keys
                .len();
            orphans += keys.saturating_sub(1);
            stop_all(servers).await;
        }
        assert!(
            failures.is_empty() && orphans == 0,
            "concurrent first use of alias/aws/ssm: failures {failures:?}, orphaned AWS-managed \
             keys {orphans}"
        );
    }

    /// DisableKey on one replica while another replica updates the key's description: the
    /// update re-reads the key (Kms::fresh) and then writes the whole record, with no check that
    /// it is unchanged, so a DisableKey committed in between is overwritten and the key is
    /// Enabled again for good (every replica then serves it).
    #[tokio::test]
    async fn a_key_disabled_on_one_replica_stays_disabled_while_another_updates_it() {
        let _one = POSTGRES.lock().await;
        let Some(db) = TestDatabase::create("review_key_lost_disable") else {
            return;
        };
        let (_dir, servers) = replicas(&db, 2).await;
        let mut reenabled = Vec::new();
        for round in 0..15 {
            let key = create_key(&servers[0].client()).await;
            encrypt_with(&servers[1].client(), &key).await.unwrap();
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut writers = Vec::new();
            for w in 0..4 {
                let (client, key, stop) = (servers[1].client(), key.clone(), stop.clone());
                writers.push(tokio::spawn(async move {
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        i += 1;
                        let _ = client
                            .update_key_description(pb::UpdateKeyDescriptionRequest {
                                key_id: key.clone(),
                                description: format!("d{w}-{i}"),
                            })
                            .await;
                    }
                }));
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
            // Under this contention DisableKey itself may run out of serialization retries
            // (UNAVAILABLE): try until it is acknowledged.
            let mut tries = 0;
            while let Err(e) = servers[0]
                .client()
                .disable_key(pb::DisableKeyRequest {
                    key_id: key.clone(),
                })
                .await
            {
                tries += 1;
                assert!(tries < 50, "DisableKey never acknowledged: {e:?}");
                eprintln!("round {round}: DisableKey refused ({}), again", e.message);
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for w in writers {
                w.await.unwrap();
            }
            // Well past the feed's bound: every replica must refuse the key now.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let state = servers[0]
                .client()
                .describe_key(pb::DescribeKeyRequest {
                    key_id: key.clone(),
                })
                .await
                .unwrap()
                .key_metadata
                .unwrap()
                .key_state;
            let served = (
                encrypt_with(&servers[0].client(), &key).await.is_ok(),
                encrypt_with(&servers[1].client(), &key).await.is_ok(),
            );
            if served != (false, false) {
                reenabled.push((round, state, served));
            }
        }
        stop_all(servers).await;
        assert!(
            reenabled.is_empty(),
            "DisableKey succeeded but the key serves again (round, stored KeyState, served by replica 0/1): {reenabled:?}: a concurrent \
             write on another replica overwrote the state"
        );
    }

    /// The change feed calls Kms::forget inline, and Kms::forget takes the KMS writer mutex, which
    /// a key write holds across its store I/O. A key write stuck on the database (here: a row
    /// lock another session holds; also a full pool, a black-holed connection, a schema
    /// migration's lock) therefore stalls every invalidation of that replica, IAM's too (the sink
    /// calls kms.forget first, even for a user or access key change): an access key deleted on
    /// another replica keeps authenticating there.
    #[tokio::test]
    async fn a_stuck_key_write_does_not_stall_the_invalidation_of_access_keys() {
        let _one = POSTGRES.lock().await;
        let Some(db) = TestDatabase::create("review_feed_stall") else {
            return;
        };
        let (_dir, servers) = replicas(&db, 2).await;
        let key = create_key(&servers[0].client()).await;
        let user = app_user(&servers[0], "worker", Some(&allow(&["kms:*"], "*"))).await;
        for server in &servers {
            encrypt_with(&server.client_with(user.clone()), &key)
                .await
                .unwrap();
        }
        // Another session locks the key's row (as a long transaction or a migration would).
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (url, id) = (db.url.clone(), key.clone());
        let locker = std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let mut tx = client.transaction().unwrap();
            tx.execute("SELECT 1 FROM keys WHERE id = $1 FOR UPDATE", &[&id])
                .unwrap();
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
            tx.rollback().unwrap();
        });
        locked_rx.recv().unwrap();
        // Replica 1 starts a key write that waits on that lock, holding its writer mutex.
        let stuck = {
            let (client, key) = (servers[1].client(), key.clone());
            tokio::spawn(async move {
                client
                    .update_key_description(pb::UpdateKeyDescriptionRequest {
                        key_id: key,
                        description: "stuck".into(),
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        servers[0]
            .client()
            .delete_access_key(pb::DeleteAccessKeyRequest {
                user_name: "worker".into(),
                access_key_id: user.access_key_id.clone(),
            })
            .await
            .unwrap();
        let client = servers[1].client_with(user.clone());
        let start = Instant::now();
        let (mut refused, mut accepted) = (false, 0);
        while start.elapsed() < Duration::from_secs(3) {
            match encrypt_with(&client, &key).await {
                Err(e) if e.code == tonic::Code::Unauthenticated => {
                    refused = true;
                    break;
                }
                Ok(_) => accepted += 1,
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let took = start.elapsed();
        release_tx.send(()).unwrap();
        locker.join().unwrap();
        let _ = stuck.await;
        stop_all(servers).await;
        assert!(
            refused && took < Duration::from_secs(1),
            "an access key deleted on replica 0 was still accepted by replica 1 after {took:?} \
             (refused at all: {refused}; requests accepted after the delete: {accepted}) while a key write there waited on the database"
        );
    }
}
