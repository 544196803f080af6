//! The `vaultd` binary: start-up checks, dev mode, persistence across restarts and `kill -9`,
//! signals, and what lands on disk.

use std::{os::unix::fs::PermissionsExt, path::Path};

use tonic::Code;
use vaultd::{
    crypto::{
        barrier::{Barrier, Binding, Keyring, Purpose, RootKey},
        blob,
        context::EncryptionContext,
        secret::Key256,
    },
    pb,
    store::{SqliteStore, Store},
};

use crate::common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn write_root_key(dir: &Path, key: &RootKey) -> String {
    let path = dir.join("root.key");
    std::fs::write(&path, key.to_base64().as_bytes()).unwrap();
    path.to_str().unwrap().to_string()
}

/// A temporary data directory with a root key file beside it.
struct KeyedDataDir {
    _dir: tempfile::TempDir,
    root: RootKey,
    data: std::path::PathBuf,
    key_file: String,
}

impl KeyedDataDir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = RootKey::generate().unwrap();
        let key_file = write_root_key(dir.path(), &root);
        let data = dir.path().join("data");
        Self {
            _dir: dir,
            root,
            data,
            key_file,
        }
    }

    /// vaultd's arguments for this directory and key.
    fn args(&self) -> [&str; 4] {
        [
            "--data-dir",
            self.data.to_str().unwrap(),
            "--root-key-file",
            &self.key_file,
        ]
    }
}

/// Runs vaultd expecting it to refuse to start; returns its stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    match Daemon::start(args, env) {
        Ok(_) => panic!("vaultd started but should have refused: {args:?}"),
        Err(output) => {
            assert!(output.contains("exited (exit status: 1)"), "{output}");
            output
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_creates_private_key_and_credentials_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut daemon = Daemon::start(&["--data-dir", data_arg, "--dev"], &[]).unwrap();
    let banner = daemon.log();
    assert!(banner.contains("DEV MODE"), "{banner}");
    assert!(banner.contains("secret_access_key"), "{banner}");
    assert_eq!(mode(&data), 0o700);
    for file in ["root.key", "root-credentials", "vault.db", "vault.db-wal"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    // The credentials file works as a client profile.
    let text = std::fs::read_to_string(data.join("root-credentials")).unwrap();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|r| r.trim().strip_prefix('='))
                    .map(|v| v.trim().to_string())
            })
            .unwrap()
    };
    assert_eq!(value("endpoint"), daemon.endpoint());
    let creds = vaultd::client::StaticCredentials::new(
        &value("access_key_id"),
        &value("secret_access_key"),
        None,
    );
    let id = create_key(&daemon.client(creds.clone())).await;
    assert!(daemon.signal("TERM").success());

    // A second start (dev mode from the environment this time, as a compose file sets it)
    // reuses the key and the credentials, and announces nothing new.
    let daemon = Daemon::start(&["--data-dir", data_arg], &[("VAULTD_DEV", "1")]).unwrap();
    let banner = daemon.log();
    assert!(!banner.contains("secret_access_key"), "{banner}");
    daemon
        .client(creds)
        .describe_key(pb::DescribeKeyRequest { key_id: id })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn state_survives_a_clean_restart() {
    let vault_dir = KeyedDataDir::new();
    let args = vault_dir.args();
    let mut daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    let client = daemon.client(root_credentials());
    let id = create_key(&client).await;
    client
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/persist".into(),
            target_key_id: id.clone(),
        })
        .await
        .unwrap();
    let blob = client
        .encrypt(pb::EncryptRequest {
            key_id: "alias/persist".into(),
            plaintext: b"durable".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .ciphertext_blob;
    assert!(
        daemon.signal("TERM").success(),
        "SIGTERM stops vaultd cleanly"
    );

    let mut daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    let client = daemon.client(root_credentials());
    let plain = client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(plain.plaintext, b"durable");
    assert!(plain.key_id.ends_with(&id));
    assert!(
        daemon.signal("INT").success(),
        "SIGINT stops vaultd cleanly"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_right_after_acknowledged_writes_loses_nothing() {
    let vault_dir = KeyedDataDir::new();
    let args = vault_dir.args();
    let mut acknowledged = Vec::new();
    for round in 0..3 {
        let mut daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
        let client = daemon.client(root_credentials());
        for _ in 0..5 {
            acknowledged.push(create_key(&client).await);
        }
        let last = acknowledged.last().unwrap().clone();
        client
            .create_alias(pb::CreateAliasRequest {
                alias_name: format!("alias/round{round}"),
                target_key_id: last,
            })
            .await
            .unwrap();
        // SIGKILL the moment the last write was acknowledged: no chance to flush anything.
        assert!(!daemon.signal("KILL").success());
    }
    let daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    let client = daemon.client(root_credentials());
    for id in &acknowledged {
        client
            .encrypt(pb::EncryptRequest {
                key_id: id.clone(),
                plaintext: b"x".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("key {id} lost: {e}"));
    }
    let aliases = client
        .list_aliases(Default::default())
        .await
        .unwrap()
        .aliases;
    assert_eq!(aliases.len(), 3);
}

#[test]
fn generated_root_credentials_are_never_lost_to_a_failed_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let stderr = refused(
        &["--data-dir", data_arg, "--dev", "--listen", &busy_addr],
        &[],
    );
    assert!(stderr.contains("cannot listen"), "{stderr}");
    drop(busy);
    // The next start still creates root's credentials, shows them and saves them.
    let mut daemon = Daemon::start(&["--data-dir", data_arg, "--dev"], &[]).unwrap();
    assert!(
        daemon.log().contains("secret_access_key"),
        "{}",
        daemon.log()
    );
    assert!(data.join("root-credentials").exists());
    assert!(daemon.signal("TERM").success());
}

#[test]
fn one_daemon_per_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut first = Daemon::start(&["--data-dir", data_arg, "--dev"], &[]).unwrap();
    let stderr = refused(&["--data-dir", data_arg, "--dev"], &[]);
    assert!(stderr.contains("in use by another vaultd"), "{stderr}");
    assert!(first.signal("TERM").success());
    // Once the first is gone, the directory is free again.
    let mut second = Daemon::start(&["--data-dir", data_arg, "--dev"], &[]).unwrap();
    assert!(second.signal("TERM").success());
}

#[test]
fn a_wrong_root_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let right = write_root_key(dir.path(), &RootKey::generate().unwrap());
    let data_arg = data.to_str().unwrap();
    let mut daemon =
        Daemon::start(&["--data-dir", data_arg, "--root-key-file", &right], &[]).unwrap();
    assert!(daemon.signal("TERM").success());

    let wrong = RootKey::generate().unwrap();
    let stderr = refused(
        &["--data-dir", data_arg],
        &[("VAULTD_ROOT_KEY", wrong.to_base64().as_str())],
    );
    assert!(stderr.contains("root key does not unlock"), "{stderr}");
    let stderr = refused(
        &["--data-dir", data_arg],
        &[("VAULTD_ROOT_KEY", "not base64!")],
    );
    assert!(stderr.contains("VAULTD_ROOT_KEY"), "{stderr}");
    // The right key still works afterwards: nothing was damaged by the refused starts.
    let mut daemon =
        Daemon::start(&["--data-dir", data_arg, "--root-key-file", &right], &[]).unwrap();
    assert!(daemon.signal("TERM").success());
}

#[test]
fn unusable_setups_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let key = RootKey::generate().unwrap();
    let key_env = [("VAULTD_ROOT_KEY", key.to_base64().to_string())];
    let env: Vec<(&str, &str)> = key_env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let stderr = refused(&["--data-dir", file.to_str().unwrap()], &env);
    assert!(stderr.contains("not a directory"), "{stderr}");
    let under_file = file.join("data");
    let stderr = refused(&["--data-dir", under_file.to_str().unwrap()], &env);
    assert!(stderr.contains("data directory"), "{stderr}");

    let data = dir.path().join("data");
    let stderr = refused(&["--data-dir", data.to_str().unwrap()], &[]);
    assert!(stderr.contains("no root key"), "{stderr}");
    let key_file = write_root_key(dir.path(), &key);
    let stderr = refused(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--root-key-file",
            &key_file,
        ],
        &env,
    );
    assert!(stderr.contains("use one"), "{stderr}");
    let stderr = refused(
        &["--data-dir", data.to_str().unwrap(), "--account-id", "12"],
        &env,
    );
    assert!(stderr.contains("account id"), "{stderr}");
    let stderr = refused(
        &["--data-dir", data.to_str().unwrap()],
        &[env[0], ("VAULTD_ROOT_ACCESS_KEY_ID", "AKIA-short")],
    );
    assert!(stderr.contains("VAULTD_ROOT_SECRET_ACCESS_KEY"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn region_and_account_shape_the_arns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--dev",
            "--region",
            "eu-west-3",
            "--account-id",
            "123456789012",
        ],
        &FIXED_CREDS,
    )
    .unwrap();
    let client = daemon.client(root_credentials());
    let meta = client
        .create_key(Default::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.arn,
        format!("arn:aws:kms:eu-west-3:123456789012:key/{}", meta.key_id)
    );
    assert_eq!(meta.aws_account_id, "123456789012");
    assert_error(
        client
            .describe_key(pb::DescribeKeyRequest {
                key_id: format!("arn:aws:kms:us-east-1:000000000000:key/{}", meta.key_id),
            })
            .await,
        Code::NotFound,
        "NotFoundException",
    );
}

/// Opens every material version of `key_id` with the library, as an attacker holding the root
/// key could, to know exactly which bytes must never appear on disk.
fn materials_from_store(data: &Path, root: &RootKey, key_id: uuid::Uuid) -> Vec<Key256> {
    let store = SqliteStore::open(&data.join("vault.db")).unwrap();
    let db_id = store.database_id().unwrap();
    let keyring = Keyring::open(root, &db_id, &store.sealed_keyring().unwrap().unwrap()).unwrap();
    let barrier = Barrier::new(&keyring, &db_id);
    store
        .materials(key_id)
        .unwrap()
        .iter()
        .map(|m| {
            let mut stable_id = key_id.as_bytes().to_vec();
            stable_id.extend_from_slice(&m.version.to_be_bytes());
            let binding = Binding {
                table: "key_materials",
                column: "material",
                stable_id: &stable_id,
                immutable: b"SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT",
            };
            Key256::from_slice(
                &barrier
                    .open(Purpose::KeyMaterial, &binding, m.sealed.as_ref().unwrap())
                    .unwrap(),
            )
            .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn key_material_and_secrets_never_sit_on_disk_in_the_clear() {
    let vault_dir = KeyedDataDir::new();
    let args = vault_dir.args();
    let (data, root) = (&vault_dir.data, &vault_dir.root);
    let mut daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    let client = daemon.client(root_credentials());
    let id = create_key(&client).await;
    let first = encrypt(&client, &id, b"needle-plaintext-1", &[]).await;
    client
        .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: id.clone() })
        .await
        .unwrap();
    let second = encrypt(&client, &id, b"needle-plaintext-2", &[]).await;
    let data_key = client
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: id.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .plaintext;
    // Killed, not stopped: the WAL is still there, unfolded, as after a crash.
    assert!(!daemon.signal("KILL").success());
    let mut on_disk = Vec::new();
    for entry in std::fs::read_dir(data).unwrap() {
        on_disk.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(data.join("vault.db-wal").metadata().unwrap().len() > 0);

    let materials = materials_from_store(data, root, uuid::Uuid::parse_str(&id).unwrap());
    assert_eq!(materials.len(), 2);
    // They are the real materials: each opens the blob the server made with it.
    let ctx = EncryptionContext::new();
    assert_eq!(
        blob::open(&materials[0], &first, &ctx).unwrap().as_slice(),
        b"needle-plaintext-1"
    );
    assert_eq!(
        blob::open(&materials[1], &second, &ctx).unwrap().as_slice(),
        b"needle-plaintext-2"
    );

    let contains = |needle: &[u8]| on_disk.windows(needle.len()).any(|w| w == needle);
    for material in &materials {
        assert!(
            !contains(material.expose()),
            "key material found on disk in the clear"
        );
    }
    assert!(!contains(&data_key), "a data key found on disk");
    assert!(
        !contains(ROOT_SECRET.as_bytes()),
        "an access key secret found on disk in the clear"
    );
    assert!(
        !contains(root.to_base64().as_bytes()),
        "the root key found in the data directory"
    );
    assert!(!contains(b"needle-plaintext"));
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_exits_0_for_a_serving_vaultd_and_1_for_none() {
    let vault_dir = KeyedDataDir::new();
    let mut daemon = Daemon::start(&vault_dir.args(), &FIXED_CREDS).unwrap();
    let healthcheck = |args: &[&str], env: &[(&str, &str)]| {
        let output = std::process::Command::new(vaultd_bin())
            .arg("healthcheck")
            .args(args)
            .env_remove("VAULTD_LISTEN")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let endpoint = format!("http://{}", daemon.addr);
    let (code, stdout, _) = healthcheck(&["--endpoint", &endpoint], &[]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("SERVING"), "{stdout}");
    // The default is the --listen address (here from the environment, as in a container), an
    // unspecified one asked on loopback.
    let listen = format!("0.0.0.0:{}", daemon.addr.port());
    let (code, _, stderr) = healthcheck(&[], &[("VAULTD_LISTEN", &listen)]);
    assert_eq!(code, Some(0), "{stderr}");

    // Nobody there: a port that was just free.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, _, stderr) = healthcheck(&["--endpoint", &format!("http://{free}")], &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot connect"), "{stderr}");
    let (code, _, stderr) = healthcheck(&["--endpoint", "not a url"], &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("--endpoint"), "{stderr}");
    assert!(daemon.signal("TERM").success());
    let (code, _, _) = healthcheck(&["--endpoint", &endpoint], &[]);
    assert_eq!(code, Some(1), "a stopped vaultd is not healthy");
}

const SEED_KEY_ID: &str = "6f7b3c1e-2a9d-4a55-9b7e-0c1d2e3f4a5b";
const SEED_APP_KEY_ID: &str = "AKIASEEDEDAPPKEY2345";
const SEED_APP_SECRET: &str = "seededAppSecret/0123456789abcdefghijklmn";

fn seed_file(dir: &Path, backing_key: &str) -> String {
    let path = dir.join("seed.yaml");
    std::fs::write(
        &path,
        format!(
            r#"
Keys:
  - KeyId: {SEED_KEY_ID}
    Description: app data
    BackingKeys: [{backing_key}]
Aliases:
  - {{AliasName: alias/app, TargetKeyId: {SEED_KEY_ID}}}
Users:
  - UserName: app
    AccessKeys: [{{AccessKeyId: {SEED_APP_KEY_ID}, SecretAccessKey: {SEED_APP_SECRET}}}]
    Policies:
      - PolicyName: app
        PolicyDocument: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: ["kms:Encrypt", "kms:Decrypt", "ssm:GetParameter"], Resource: "*"}}]}}
Parameters:
  - {{Name: /app/greeting, Type: SecureString, Value: seeded hello, KeyId: alias/app}}
"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seed_file_is_applied_at_every_start_and_its_fixed_credentials_work() {
    let vault_dir = KeyedDataDir::new();
    let key = "5cdaead27fe7da2de47945d73cd6d79e36494e73802f3cd3869f1d2cb0b5d7a9";
    let seed = seed_file(vault_dir._dir.path(), key);
    let args = [&vault_dir.args()[..], &["--seed", &seed]].concat();
    let mut daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    assert!(daemon.log().contains("created 6,"), "{}", daemon.log());
    let app = daemon.client(vaultd::client::StaticCredentials::new(
        SEED_APP_KEY_ID,
        SEED_APP_SECRET,
        None,
    ));
    let blob = encrypt(&app, "alias/app", b"for the seeded key", &[]).await;
    let parameter = app
        .get_parameter(pb::GetParameterRequest {
            name: "/app/greeting".into(),
            with_decryption: true,
        })
        .await
        .unwrap()
        .parameter
        .unwrap();
    assert_eq!(parameter.value, "seeded hello");
    assert!(daemon.signal("TERM").success());

    // Again: nothing is created twice, and what the key sealed still opens.
    let mut daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    assert!(daemon.log().contains("created 0,"), "{}", daemon.log());
    let app = daemon.client(vaultd::client::StaticCredentials::new(
        SEED_APP_KEY_ID,
        SEED_APP_SECRET,
        None,
    ));
    assert_eq!(
        decrypt(&app, &blob, &[]).await.unwrap(),
        b"for the seeded key"
    );
    assert!(daemon.signal("TERM").success());

    // The same key id with other material stops the start, naming it and not the material.
    let other = "614e645267556b58703273357638792f423f4528472b4b6250655368566d5971";
    let seed = seed_file(vault_dir._dir.path(), other);
    let args = [&vault_dir.args()[..], &["--seed", &seed]].concat();
    let stderr = refused(&args, &FIXED_CREDS);
    assert!(
        stderr.contains(SEED_KEY_ID) && stderr.contains("other material"),
        "{stderr}"
    );
    assert!(!stderr.contains(&other[..16]), "{stderr}");
    // A seed that does not parse stops it before the vault is touched.
    std::fs::write(&seed, "Keys:\n  - KeyId: not-a-uuid\n").unwrap();
    let stderr = refused(&args, &FIXED_CREDS);
    assert!(stderr.contains("Keys[0] (not-a-uuid)"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_settings_yield_to_the_environment_and_to_flags() {
    let vault_dir = KeyedDataDir::new();
    let config = vault_dir._dir.path().join("vaultd.toml");
    std::fs::write(
        &config,
        format!(
            "# vaultd settings\ndata_dir = {:?}\nroot_key_file = {:?}\nregion = \"eu-west-1\"\n\
             account_id = \"111122223333\"\nthrottle = \"off\"\n",
            vault_dir.data.to_str().unwrap(),
            vault_dir.key_file
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let arn_prefix = |daemon: Daemon| async move {
        let meta = daemon
            .client(root_credentials())
            .create_key(Default::default())
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        meta.arn.split(":key/").next().unwrap().to_string()
    };
    // The file alone, through VAULTD_CONFIG.
    let env = [&FIXED_CREDS[..], &[("VAULTD_CONFIG", config)]].concat();
    let daemon = Daemon::start(&[], &env).unwrap();
    assert!(daemon.log().contains("throttle=off"), "{}", daemon.log());
    assert_eq!(
        arn_prefix(daemon).await,
        "arn:aws:kms:eu-west-1:111122223333"
    );
    // VAULTD_ROOT_KEY over the file's root_key_file (both set is no conflict then).
    let root_key = vault_dir.root.to_base64();
    let env = [
        &FIXED_CREDS[..],
        &[
            ("VAULTD_CONFIG", config),
            ("VAULTD_ROOT_KEY", root_key.as_str()),
        ],
    ]
    .concat();
    let daemon = Daemon::start(&[], &env).unwrap();
    assert_eq!(
        arn_prefix(daemon).await,
        "arn:aws:kms:eu-west-1:111122223333"
    );
    // The environment over the file, a flag over both.
    let env = [&FIXED_CREDS[..], &[("VAULTD_REGION", "eu-central-1")]].concat();
    let daemon = Daemon::start(&["--config", config], &env).unwrap();
    assert_eq!(
        arn_prefix(daemon).await,
        "arn:aws:kms:eu-central-1:111122223333"
    );
    let daemon = Daemon::start(
        &[
            "--config",
            config,
            "--region",
            "ap-south-1",
            "--account-id",
            "222233334444",
        ],
        &env,
    )
    .unwrap();
    assert_eq!(
        arn_prefix(daemon).await,
        "arn:aws:kms:ap-south-1:222233334444"
    );

    // Bad settings are refused at start, naming the file and the setting.
    let bad = vault_dir._dir.path().join("bad.toml");
    for (text, expected) in [
        ("listen = \"nowhere\"\n", "listen: invalid value 'nowhere'"),
        ("lissen = \"127.0.0.1:1\"\n", "unknown setting \"lissen\""),
        ("dev = \"maybe\"\n", "dev: invalid value 'maybe'"),
        ("region = [\"a\"]\n", "region: takes one value"),
        ("listen = \n", "TOML parse error at line 1"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let stderr = refused(&["--config", bad.to_str().unwrap()], &FIXED_CREDS);
        assert!(
            stderr.contains(&format!("config file {}", bad.display())),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{text}: {stderr}");
    }
    // Settings that only work together are checked together, wherever they come from.
    std::fs::write(&bad, "tls_cert_file = \"/etc/vaultd/server.pem\"\n").unwrap();
    let dev_data = vault_dir._dir.path().join("dev-data");
    let stderr = refused(
        &[
            "--config",
            bad.to_str().unwrap(),
            "--dev",
            "--data-dir",
            dev_data.to_str().unwrap(),
        ],
        &FIXED_CREDS,
    );
    assert!(
        stderr.contains("set both --tls-cert-file and --tls-key-file"),
        "{stderr}"
    );
    let stderr = refused(&["--config", "/nonexistent/vaultd.toml"], &FIXED_CREDS);
    assert!(
        stderr.contains("config file /nonexistent/vaultd.toml"),
        "{stderr}"
    );
}
