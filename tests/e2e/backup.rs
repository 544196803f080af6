//! Backups and restores, online (`vaultctl admin backup|restore`) and offline (`vaultd restore`),
//! and root key rotation (`vaultd rotate-root-key`), against the real binaries.

use std::{path::PathBuf, process::Output};

use tonic::Code;
use vaultd::{client::Client, crypto::barrier::RootKey, pb};

use crate::common::*;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let setup = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        setup.write_key("root.key", &RootKey::generate().unwrap());
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_key(&self, name: &str, key: &RootKey) -> String {
        std::fs::write(self.path(name), key.to_base64().as_bytes()).unwrap();
        self.path(name).to_str().unwrap().to_string()
    }

    fn data(&self) -> String {
        self.path("data").to_str().unwrap().to_string()
    }

    fn args(&self, key_file: &str) -> Vec<String> {
        vec![
            "--data-dir".into(),
            self.data(),
            "--root-key-file".into(),
            self.path(key_file).to_str().unwrap().to_string(),
        ]
    }

    fn start(&self, key_file: &str) -> Daemon {
        let args = self.args(key_file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Daemon::start(&args, &FIXED_CREDS).unwrap()
    }

    /// `vaultd <subcommand>` with this data directory and root key file.
    fn vaultd(&self, key_file: &str, extra: &[&str]) -> Output {
        scrubbed_command(vaultd_bin())
            .args(self.args(key_file))
            .args(extra)
            .output()
            .unwrap()
    }
}

fn vaultctl(daemon: &Daemon, args: &[&str]) -> Output {
    root_vaultctl(&daemon.endpoint())
        .args(args)
        .output()
        .unwrap()
}

/// What a vault holds for these tests, and how to check it is all there and readable.
struct Contents {
    key_id: String,
    blob: Vec<u8>,
    signing_key: String,
    signature: Vec<u8>,
}

const PLAINTEXT: &[u8] = b"needle-backup-plaintext";
const SECRET: &str = "needle-backup-secret";
const PARAMETER: &str = "needle-backup-parameter";

async fn fill(client: &Client) -> Contents {
    let key_id = create_key(client).await;
    let blob = encrypt(client, &key_id, PLAINTEXT, &[("app", "billing")]).await;
    let signing_key = client
        .create_key(pb::CreateKeyRequest {
            key_spec: pb::KeySpec::EccNistP256 as i32,
            key_usage: pb::KeyUsage::SignVerify as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let signature = client
        .sign(pb::SignRequest {
            key_id: signing_key.clone(),
            message: b"release".to_vec(),
            signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .signature;
    client
        .put_parameter(pb::PutParameterRequest {
            name: "/app/password".into(),
            value: PARAMETER.into(),
            r#type: pb::ParameterType::SecureString as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .create_secret(pb::CreateSecretRequest {
            name: "app/db".into(),
            secret_string: Some(SECRET.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    Contents {
        key_id,
        blob,
        signing_key,
        signature,
    }
}

async fn assert_readable(client: &Client, contents: &Contents) {
    assert_eq!(
        decrypt(client, &contents.blob, &[("app", "billing")])
            .await
            .unwrap(),
        PLAINTEXT
    );
    let verified = client
        .verify(pb::VerifyRequest {
            key_id: contents.signing_key.clone(),
            message: b"release".to_vec(),
            signature: contents.signature.clone(),
            signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(verified.signature_valid);
    let parameter = client
        .get_parameter(pb::GetParameterRequest {
            name: "/app/password".into(),
            with_decryption: true,
        })
        .await
        .unwrap()
        .parameter
        .unwrap();
    assert_eq!(parameter.value, PARAMETER);
    let secret = client
        .get_secret_value(pb::GetSecretValueRequest {
            secret_id: "app/db".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(secret.secret_string.as_deref(), Some(SECRET));
    client
        .describe_key(pb::DescribeKeyRequest {
            key_id: contents.key_id.clone(),
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_then_wipe_then_restore_keeps_every_key_secret_and_parameter() {
    let setup = Setup::new();
    let mut daemon = setup.start("root.key");
    let contents = fill(&daemon.client(root_credentials())).await;
    let backup = setup.path("vault.backup");
    let out = succeeded(&vaultctl(
        &daemon,
        &["admin", "backup", "--outfile", backup.to_str().unwrap()],
    ));
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Two keys of ours, and the AWS-managed keys of SSM and Secrets Manager.
    assert_eq!(summary["Backup"]["Keys"], 4, "{out}");
    assert_eq!(summary["Backup"]["Secrets"], 1, "{out}");
    assert_eq!(summary["Backup"]["Parameters"], 1, "{out}");
    let bytes = std::fs::read(&backup).unwrap();
    assert_eq!(
        summary["Backup"]["SizeBytes"].as_u64(),
        Some(bytes.len() as u64)
    );
    for needle in [
        PLAINTEXT,
        SECRET.as_bytes(),
        PARAMETER.as_bytes(),
        ROOT_SECRET.as_bytes(),
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "a secret in the clear in the backup"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // An existing file is not replaced without --force.
    let again = vaultctl(
        &daemon,
        &["admin", "backup", "--outfile", backup.to_str().unwrap()],
    );
    assert_eq!(again.status.code(), Some(252));
    assert!(daemon.signal("TERM").success());

    std::fs::remove_dir_all(setup.data()).unwrap();
    let restored =
        succeeded(&setup.vaultd("root.key", &["restore", "--from", backup.to_str().unwrap()]));
    assert!(
        restored.contains("4 keys, 1 secrets, 1 parameters"),
        "{restored}"
    );
    let daemon = setup.start("root.key");
    let client = daemon.client(root_credentials());
    assert_readable(&client, &contents).await;
    // The restored audit trail still verifies.
    succeeded(&vaultctl(&daemon, &["audit", "verify"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_online_restore_brings_back_the_backup_and_keeps_what_it_replaced() {
    let setup = Setup::new();
    let daemon = setup.start("root.key");
    let client = daemon.client(root_credentials());
    let contents = fill(&client).await;
    let backup = setup.path("vault.backup");
    succeeded(&vaultctl(
        &daemon,
        &["admin", "backup", "--outfile", backup.to_str().unwrap()],
    ));

    // Changes after the backup: a new key, the secret deleted.
    let later = create_key(&client).await;
    client
        .delete_secret(pb::DeleteSecretRequest {
            secret_id: "app/db".into(),
            force_delete_without_recovery: true,
            ..Default::default()
        })
        .await
        .unwrap();

    let out = succeeded(&vaultctl(
        &daemon,
        &["admin", "restore", "--infile", backup.to_str().unwrap()],
    ));
    assert!(out.contains("\"Keys\": 4"), "{out}");
    // The same daemon, the same address: the backup's state.
    let client = daemon.client(root_credentials());
    assert_readable(&client, &contents).await;
    assert_error(
        client
            .describe_key(pb::DescribeKeyRequest { key_id: later })
            .await,
        Code::NotFound,
        "NotFoundException",
    );
    assert!(
        daemon.log().contains("restored a backup"),
        "{}",
        daemon.log()
    );
    let kept: Vec<_> = std::fs::read_dir(setup.data())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("before-restore-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "the replaced state is kept");
    assert!(kept[0].path().join("vault.db").exists());

    // A damaged backup, or one of another vault's root key, changes nothing.
    let damaged = setup.path("damaged.backup");
    let bytes = std::fs::read(&backup).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    let refused = vaultctl(
        &daemon,
        &["admin", "restore", "--infile", damaged.to_str().unwrap()],
    );
    assert_eq!(
        refused.status.code(),
        Some(254),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let other = Setup::new();
    let other_daemon = other.start("root.key");
    create_key(&other_daemon.client(root_credentials())).await;
    let foreign = setup.path("foreign.backup");
    succeeded(&vaultctl(
        &other_daemon,
        &["admin", "backup", "--outfile", foreign.to_str().unwrap()],
    ));
    let refused = vaultctl(
        &daemon,
        &["admin", "restore", "--infile", foreign.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(254), "{stderr}");
    assert!(stderr.contains("root key"), "{stderr}");
    assert_readable(&daemon.client(root_credentials()), &contents).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn root_key_rotation_keeps_everything_readable_under_the_new_key_only() {
    let setup = Setup::new();
    let mut daemon = setup.start("root.key");
    let contents = fill(&daemon.client(root_credentials())).await;
    let backup = setup.path("vault.backup");
    succeeded(&vaultctl(
        &daemon,
        &["admin", "backup", "--outfile", backup.to_str().unwrap()],
    ));
    // Not while vaultd runs.
    setup.write_key("new.key", &RootKey::generate().unwrap());
    let busy = setup.vaultd(
        "root.key",
        &[
            "rotate-root-key",
            "--new-root-key-file",
            setup.path("new.key").to_str().unwrap(),
        ],
    );
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    assert!(daemon.signal("TERM").success());

    succeeded(&setup.vaultd(
        "root.key",
        &[
            "rotate-root-key",
            "--new-root-key-file",
            setup.path("new.key").to_str().unwrap(),
        ],
    ));
    let old_args = setup.args("root.key");
    let old_args: Vec<&str> = old_args.iter().map(String::as_str).collect();
    let refused = Daemon::start(&old_args, &FIXED_CREDS)
        .err()
        .expect("the old key is refused");
    assert!(refused.contains("does not unlock"), "{refused}");
    let daemon = setup.start("new.key");
    assert_readable(&daemon.client(root_credentials()), &contents).await;
    drop(daemon);

    // The backup from before the rotation needs its own key to come back.
    std::fs::remove_dir_all(setup.data()).unwrap();
    let from = ["restore", "--from", backup.to_str().unwrap()];
    let refused = setup.vaultd("new.key", &from);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--backup-root-key-file"));
    let old_key = setup.path("root.key");
    let with_old = [
        &from[..],
        &["--backup-root-key-file", old_key.to_str().unwrap()],
    ]
    .concat();
    succeeded(&setup.vaultd("new.key", &with_old));
    let daemon = setup.start("new.key");
    assert_readable(&daemon.client(root_credentials()), &contents).await;
    // Nothing of the restore's staging is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(setup.path("data"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
