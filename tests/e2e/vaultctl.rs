//! vaultctl end to end: the real binary as a child process against an in-process server, checking
//! what a user sees (stdout, stderr, exit status). Each run gets a temporary HOME and no VAULTD_*
//! variables but those the test sets, so a developer's own ~/.vaultd never leaks in.

use std::{io::Write, path::PathBuf, process::Stdio};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::common::*;

/// What one vaultctl run left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn success(self) -> Self {
        assert_eq!(self.code, 0, "vaultctl failed: {}", self.stderr);
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// The stdout of `--output text --query <blob field>`, decoded.
    #[track_caller]
    fn base64_bytes(&self) -> Vec<u8> {
        STANDARD
            .decode(self.stdout.trim_end())
            .unwrap_or_else(|e| panic!("stdout is not base64 ({e}): {}", self.stdout))
    }

    /// A failure reported by vaultctl: after a blank line, as the AWS CLI prints its errors.
    #[track_caller]
    fn assert_error(&self, code: i32, stderr_start: &str) {
        assert_eq!(self.code, code, "{}", self.stderr);
        let message = self.stderr.strip_prefix('\n');
        assert!(
            message.is_some_and(|m| m.starts_with(stderr_start)),
            "{:?}",
            self.stderr
        );
        assert_eq!(self.stdout, "");
    }

    /// A command line clap refuses: its own message, and AWS CLI v2's status for bad syntax.
    #[track_caller]
    fn assert_usage_error(&self, stderr_start: &str) {
        assert_eq!(self.code, 252, "{}", self.stderr);
        assert!(self.stderr.starts_with(stderr_start), "{:?}", self.stderr);
        assert_eq!(self.stdout, "");
    }
}

/// The arguments of a run: the words of `line`, then `tail` (values that hold spaces or vary).
fn args<'a>(line: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    line.split_whitespace()
        .chain(tail.iter().copied())
        .collect()
}

fn key_arn(key_id: &str) -> String {
    format!("arn:aws:kms:us-east-1:000000000000:key/{key_id}")
}

/// A place to run vaultctl from: a temporary HOME, and the endpoint of a server.
struct Sandbox {
    endpoint: String,
    home: tempfile::TempDir,
}

impl Sandbox {
    fn new(server: &TestServer) -> Self {
        Self::at(server.endpoint())
    }

    fn at(endpoint: String) -> Self {
        Self {
            endpoint,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Writes a file under the temporary HOME; returns its path.
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    /// Runs vaultctl with `args`, exactly the VAULTD_* variables in `env`, and `stdin` (else none).
    fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
        let mut cmd = vaultctl_command();
        let stdin_mode = if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        cmd.env("HOME", self.home.path())
            .envs(env.iter().copied())
            .args(args)
            .stdin(stdin_mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("vaultctl starts");
        if let Some(bytes) = stdin {
            child.stdin.take().unwrap().write_all(bytes).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().expect("vaultctl exited, not killed"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `line` + `tail` as root, with endpoint and credentials in the environment.
    fn root(&self, line: &str, tail: &[&str]) -> Run {
        self.run_with(&args(line, tail), &self.root_env(), None)
    }

    fn root_env(&self) -> [(&str, &str); 3] {
        [
            ("VAULTD_ENDPOINT", &self.endpoint),
            ("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
            ("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET),
        ]
    }

    fn create_key(&self) -> String {
        let run = self.root(
            "kms create-key --query KeyMetadata.KeyId --output text",
            &[],
        );
        run.success().stdout.trim_end().to_string()
    }

    /// Decrypts and returns the plaintext bytes, the way a shell user would:
    /// `--output text --query Plaintext | base64 -d`.
    #[track_caller]
    fn decrypt(&self, tail: &[&str]) -> Vec<u8> {
        let line = "kms decrypt --output text --query Plaintext";
        self.root(line, tail).success().base64_bytes()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_key_prints_aws_shaped_key_metadata() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let line = "kms create-key --key-spec SYMMETRIC_DEFAULT --tags TagKey=team,TagValue=billing";
    let run = sandbox.root(line, &["--description", "billing key"]);
    let metadata = &run.success().json()["KeyMetadata"];
    let key_id = metadata["KeyId"].as_str().unwrap();
    assert_eq!(metadata["Arn"], key_arn(key_id));
    assert_eq!(metadata["AWSAccountId"], "000000000000");
    assert_eq!(metadata["Description"], "billing key");
    assert_eq!(metadata["Enabled"], true);
    assert_eq!(metadata["KeyState"], "Enabled");
    assert_eq!(metadata["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(metadata["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(metadata["Origin"], "AWS_KMS");
    assert_eq!(metadata["KeyManager"], "CUSTOMER");
    assert_eq!(
        metadata["EncryptionAlgorithms"],
        json!(["SYMMETRIC_DEFAULT"])
    );
    let created = metadata["CreationDate"].as_str().unwrap();
    assert!(
        created.len() >= 25 && created.ends_with("+00:00") && created.as_bytes()[10] == b'T',
        "ISO 8601 as AWS CLI v2 prints it: {created}"
    );
    assert!(
        metadata.get("DeletionDate").is_none(),
        "unset fields are left out"
    );

    let tags = sandbox.root("kms list-resource-tags --output text --key-id", &[key_id]);
    assert_eq!(tags.success().stdout, "TAGS\tteam\tbilling\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypt_and_decrypt_round_trip_through_literals_files_and_stdin() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();

    // A literal plaintext; the blob saved raw, as `base64 -d` would, and read back with fileb://.
    let tail = ["--key-id", &key_id, "--plaintext", "hello world"];
    let encrypted = sandbox.root("kms encrypt", &tail).success().json();
    assert_eq!(encrypted["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert_eq!(encrypted["KeyId"], key_arn(&key_id));
    let blob = STANDARD
        .decode(encrypted["CiphertextBlob"].as_str().unwrap())
        .unwrap();
    let blob_file = format!("fileb://{}", sandbox.write("ciphertext.bin", &blob));
    assert_eq!(
        sandbox.decrypt(&["--ciphertext-blob", &blob_file]),
        b"hello world"
    );

    // Every byte value from a fileb:// file; the blob passed back as base64 on the command line,
    // with the global --output before the subcommand.
    let binary: Vec<u8> = (0..=255).collect();
    let plaintext = format!("fileb://{}", sandbox.write("binary.dat", &binary));
    let line = "--output text kms encrypt --query CiphertextBlob --key-id";
    let blob_base64 = sandbox.root(line, &[&key_id, "--plaintext", &plaintext]);
    let blob_base64 = blob_base64.success().stdout;
    assert_eq!(
        sandbox.decrypt(&["--ciphertext-blob", blob_base64.trim_end()]),
        binary
    );

    // Plaintext piped on stdin (no --plaintext), the raw blob piped back with `-`.
    let env = sandbox.root_env();
    let line = "kms encrypt --query CiphertextBlob --output text --key-id";
    let run = sandbox.run_with(&args(line, &[&key_id]), &env, Some(b"piped secret"));
    let raw_blob = run.success().base64_bytes();
    let line = "kms decrypt --ciphertext-blob - --query Plaintext --output text";
    let run = sandbox.run_with(&args(line, &[]), &env, Some(&raw_blob));
    assert_eq!(run.success().base64_bytes(), b"piped secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn encryption_context_in_shorthand_and_json_binds_the_ciphertext() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let other_key = sandbox.create_key();
    let line = "kms encrypt --plaintext bound --encryption-context app=billing,env=prod \
                --query CiphertextBlob --output text --key-id";
    let blob = sandbox.root(line, &[&key_id]).success().stdout;
    let blob = blob.trim_end();

    sandbox
        .root("kms decrypt --ciphertext-blob", &[blob])
        .assert_error(
            254,
            "An error occurred (InvalidCiphertextException) when calling the Decrypt operation: ",
        );
    let json_context = r#"{"env": "prod", "app": "billing"}"#;
    let tail = [
        "--ciphertext-blob",
        blob,
        "--encryption-context",
        json_context,
    ];
    assert_eq!(sandbox.decrypt(&tail), b"bound");

    // ReEncrypt moves it under another key and context without showing the plaintext.
    let line = "kms re-encrypt --source-encryption-context app=billing,env=prod \
                --destination-encryption-context app=ledger --ciphertext-blob";
    let tail = [blob, "--destination-key-id", &other_key];
    let reencrypted = sandbox.root(line, &tail).success().json();
    assert!(reencrypted.get("Plaintext").is_none());
    assert_eq!(reencrypted["SourceKeyId"], key_arn(&key_id));
    assert_eq!(reencrypted["KeyId"], key_arn(&other_key));
    let new_blob = reencrypted["CiphertextBlob"].as_str().unwrap();
    let tail = [
        "--encryption-context",
        "app=ledger",
        "--ciphertext-blob",
        new_blob,
    ];
    assert_eq!(sandbox.decrypt(&tail), b"bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn data_keys_and_random_bytes_have_the_asked_length() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();

    let data_key = sandbox.root(
        "kms generate-data-key --key-spec AES_256 --key-id",
        &[&key_id],
    );
    let data_key = data_key.success().json();
    let plaintext = STANDARD
        .decode(data_key["Plaintext"].as_str().unwrap())
        .unwrap();
    assert_eq!(plaintext.len(), 32);
    let blob = data_key["CiphertextBlob"].as_str().unwrap();
    assert_eq!(sandbox.decrypt(&["--ciphertext-blob", blob]), plaintext);

    let line = "kms generate-data-key-without-plaintext --number-of-bytes 16 --key-id";
    let without = sandbox.root(line, &[&key_id]).success().json();
    assert!(without.get("Plaintext").is_none(), "{without}");
    assert_eq!(without["KeyId"], key_arn(&key_id));
    assert_eq!(without["KeyMaterialId"], "1");
    let blob = without["CiphertextBlob"].as_str().unwrap();
    assert_eq!(sandbox.decrypt(&["--ciphertext-blob", blob]).len(), 16);

    let line = "kms generate-random --number-of-bytes 16 --query Plaintext --output text";
    let random = sandbox.root(line, &[]).success().base64_bytes();
    assert_eq!(random.len(), 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn key_lifecycle_actions_show_in_describe_key_with_aws_state_names() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let describe = |sandbox: &Sandbox| {
        let run = sandbox.root("kms describe-key --key-id", &[&key_id]);
        run.success().json()["KeyMetadata"].clone()
    };

    let line = "kms update-key-description --key-id";
    let updated = sandbox.root(line, &[&key_id, "--description", "new words"]);
    assert_eq!(
        updated.success().stdout,
        "",
        "UpdateKeyDescription prints nothing"
    );
    assert_eq!(describe(&sandbox)["Description"], "new words");

    // A disabled key refuses to encrypt; enabling it again brings it back.
    let disabled = sandbox.root("kms disable-key --key-id", &[&key_id]);
    assert_eq!(disabled.success().stdout, "");
    let metadata = describe(&sandbox);
    assert_eq!(
        (&metadata["KeyState"], &metadata["Enabled"]),
        (&json!("Disabled"), &json!(false))
    );
    let encrypt = "kms encrypt --plaintext x --key-id";
    sandbox.root(encrypt, &[&key_id]).assert_error(
        254,
        "An error occurred (DisabledException) when calling the Encrypt operation: ",
    );
    let enable = sandbox.root("kms enable-key --key-id", &[&key_id]);
    assert_eq!(
        enable.success().stdout,
        "",
        "operations without output print nothing"
    );
    assert_eq!(describe(&sandbox)["KeyState"], "Enabled");
    sandbox.root(encrypt, &[&key_id]).success();

    let line = "kms schedule-key-deletion --pending-window-in-days 7 --key-id";
    let scheduled = sandbox.root(line, &[&key_id]).success().json();
    assert_eq!(scheduled["KeyId"], key_arn(&key_id));
    assert_eq!(scheduled["KeyState"], "PendingDeletion");
    assert_eq!(scheduled["PendingWindowInDays"], 7);
    let metadata = describe(&sandbox);
    assert_eq!(metadata["KeyState"], "PendingDeletion");
    assert_eq!(metadata["Enabled"], false);
    assert_eq!(metadata["PendingDeletionWindowInDays"], 7);
    assert_eq!(metadata["DeletionDate"], scheduled["DeletionDate"]);

    // Cancelled, the key comes back Disabled, as in AWS.
    let cancelled = sandbox.root("kms cancel-key-deletion --key-id", &[&key_id]);
    assert_eq!(
        cancelled.success().json(),
        json!({"KeyId": key_arn(&key_id)})
    );
    let metadata = describe(&sandbox);
    assert_eq!(metadata["KeyState"], "Disabled");
    assert!(metadata.get("DeletionDate").is_none(), "{metadata}");
    sandbox
        .root("kms enable-key --key-id", &[&key_id])
        .success();
    let line = "kms describe-key --query KeyMetadata.KeyState --key-id";
    let state = sandbox.root(line, &[&key_id]);
    assert_eq!(state.success().stdout, "\"Enabled\"\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_actions_add_material_that_re_encrypt_moves_old_ciphertexts_to() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let status = |sandbox: &Sandbox| {
        let run = sandbox.root("kms get-key-rotation-status --key-id", &[&key_id]);
        run.success().json()
    };
    assert_eq!(status(&sandbox)["KeyRotationEnabled"], false);

    let line = "kms enable-key-rotation --rotation-period-in-days 90 --key-id";
    assert_eq!(sandbox.root(line, &[&key_id]).success().stdout, "");
    let enabled = status(&sandbox);
    assert_eq!(enabled["KeyRotationEnabled"], true);
    assert_eq!(enabled["KeyId"], key_arn(&key_id));
    assert_eq!(enabled["RotationPeriodInDays"], 90);
    assert!(enabled["NextRotationDate"].is_string(), "{enabled}");

    // A ciphertext made before the rotation...
    let line = "kms encrypt --plaintext before --query CiphertextBlob --output text --key-id";
    let old_blob = sandbox.root(line, &[&key_id]).success().stdout;
    let old_blob = old_blob.trim_end();

    let rotated = sandbox.root("kms rotate-key-on-demand --key-id", &[&key_id]);
    assert_eq!(rotated.success().json(), json!({"KeyId": key_id}));
    let rotations = sandbox.root("kms list-key-rotations --key-id", &[&key_id]);
    let rotations = rotations.success().json();
    assert_eq!(
        rotations["Rotations"].as_array().unwrap().len(),
        1,
        "{rotations}"
    );
    let rotation = &rotations["Rotations"][0];
    assert_eq!(rotation["KeyId"], key_id.as_str());
    assert_eq!(rotation["RotationType"], "ON_DEMAND");
    assert_eq!(rotation["KeyMaterialId"], "2");
    assert!(rotation["RotationDate"].is_string(), "{rotation}");
    let line = "kms describe-key --query KeyMetadata.CurrentKeyMaterialId --output text --key-id";
    assert_eq!(sandbox.root(line, &[&key_id]).success().stdout, "2\n");

    // ...still decrypts, and ReEncrypt moves it to the new material without showing it.
    assert_eq!(sandbox.decrypt(&["--ciphertext-blob", old_blob]), b"before");
    let line = "kms re-encrypt --ciphertext-blob";
    let moved = sandbox.root(line, &[old_blob, "--destination-key-id", &key_id]);
    let moved = moved.success().json();
    assert!(moved.get("Plaintext").is_none(), "{moved}");
    assert_eq!(moved["SourceKeyId"], key_arn(&key_id));
    assert_eq!(moved["KeyId"], key_arn(&key_id));
    assert_eq!(moved["SourceKeyMaterialId"], "1");
    assert_eq!(moved["DestinationKeyMaterialId"], "2");
    assert_eq!(moved["SourceEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert_eq!(moved["DestinationEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let new_blob = moved["CiphertextBlob"].as_str().unwrap();
    assert_ne!(new_blob, old_blob);
    let line = "kms decrypt --ciphertext-blob";
    let decrypted = sandbox.root(line, &[new_blob]).success().json();
    assert_eq!(decrypted["KeyMaterialId"], "2");
    assert_eq!(decrypted["Plaintext"], STANDARD.encode("before"));

    assert_eq!(
        sandbox
            .root("kms disable-key-rotation --key-id", &[&key_id])
            .success()
            .stdout,
        ""
    );
    let disabled = status(&sandbox);
    assert_eq!(disabled["KeyRotationEnabled"], false);
    assert!(disabled.get("RotationPeriodInDays").is_none(), "{disabled}");
    assert!(disabled.get("NextRotationDate").is_none(), "{disabled}");
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_are_listed_after_create_alias_and_name_their_key() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let line = "kms create-alias --alias-name alias/billing --target-key-id";
    let created = sandbox.root(line, &[&key_id]).success();
    assert_eq!(created.stdout, "");

    let listed = sandbox.root("kms list-aliases", &[]).success().json();
    let aliases = listed["Aliases"].as_array().unwrap();
    assert_eq!(aliases.len(), 1, "{listed}");
    assert_eq!(aliases[0]["AliasName"], "alias/billing");
    assert_eq!(aliases[0]["TargetKeyId"], key_id.as_str());
    assert_eq!(
        aliases[0]["AliasArn"],
        "arn:aws:kms:us-east-1:000000000000:alias/billing"
    );
    let names = sandbox.root(
        "kms list-aliases --query Aliases[].AliasName --output text",
        &[],
    );
    assert_eq!(names.success().stdout, "alias/billing\n");

    let line = "kms encrypt --key-id alias/billing --plaintext x";
    let via_alias = sandbox.root(line, &[]).success().json();
    assert_eq!(via_alias["KeyId"], key_arn(&key_id));

    // UpdateAlias points it at another key: it is listed there, and encrypting through it uses it.
    let other_key = sandbox.create_key();
    let line = "kms update-alias --alias-name alias/billing --target-key-id";
    assert_eq!(sandbox.root(line, &[&other_key]).success().stdout, "");
    let line = "kms list-aliases --query Aliases[].AliasName --output text --key-id";
    assert_eq!(
        sandbox.root(line, &[&other_key]).success().stdout,
        "alias/billing\n"
    );
    assert_eq!(sandbox.root(line, &[&key_id]).success().stdout, "");
    let line = "kms encrypt --key-id alias/billing --plaintext x";
    let via_alias = sandbox.root(line, &[]).success().json();
    assert_eq!(via_alias["KeyId"], key_arn(&other_key));

    // DeleteAlias: gone from the list, and no longer a way to name the key.
    let deleted = sandbox.root("kms delete-alias --alias-name alias/billing", &[]);
    assert_eq!(deleted.success().stdout, "");
    let listed = sandbox.root("kms list-aliases", &[]).success().json();
    assert_eq!(listed["Aliases"], json!([]));
    sandbox.root(line, &[]).assert_error(
        254,
        "An error occurred (NotFoundException) when calling the Encrypt operation: ",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_are_added_overwritten_and_removed() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let tags = |sandbox: &Sandbox| {
        let run = sandbox.root("kms list-resource-tags --key-id", &[&key_id]);
        run.success().json()["Tags"].clone()
    };
    assert_eq!(tags(&sandbox), json!([]));

    let json_tags =
        r#"[{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "cost", "TagValue": "42"}]"#;
    let line = "kms tag-resource --tags TagKey=team,TagValue=billing";
    let tagged = sandbox.root(line, &[json_tags, "--key-id", &key_id]);
    assert_eq!(tagged.success().stdout, "");
    let mut listed: Vec<(String, String)> = tags(&sandbox)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["TagKey"].as_str().unwrap().into(),
                t["TagValue"].as_str().unwrap().into(),
            )
        })
        .collect();
    listed.sort();
    let expected = [("cost", "42"), ("env", "prod"), ("team", "billing")];
    assert_eq!(
        listed,
        expected.map(|(k, v)| (k.to_string(), v.to_string()))
    );

    // The same key again overwrites its value; untag takes several keys.
    let line = "kms tag-resource --tags TagKey=team,TagValue=ledger --key-id";
    sandbox.root(line, &[&key_id]).success();
    let line = "kms untag-resource --tag-keys env cost --key-id";
    assert_eq!(sandbox.root(line, &[&key_id]).success().stdout, "");
    assert_eq!(
        tags(&sandbox),
        json!([{"TagKey": "team", "TagValue": "ledger"}])
    );
    let line = "kms untag-resource --tag-keys [\"team\"] --key-id";
    sandbox.root(line, &[&key_id]).success();
    assert_eq!(tags(&sandbox), json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_keys_prints_aws_text_and_follows_markers() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let client = server.client();
    let mut key_ids = Vec::new();
    // One more than a page (ListKeys returns 100 by default), so listing must follow NextMarker.
    for _ in 0..101 {
        key_ids.push(create_key(&client).await);
    }
    key_ids.sort();

    let text = sandbox.root("kms list-keys --output text", &[]).success();
    // As the AWS CLI's, the merged answer of all pages has no Truncated / NextMarker line.
    let mut listed: Vec<&str> = text
        .stdout
        .lines()
        .map(|line| match line.split('\t').collect::<Vec<_>>()[..] {
            ["KEYS", arn, id] if arn == key_arn(id) => id,
            _ => panic!("not a KEYS line: {line}"),
        })
        .collect();
    listed.sort();
    assert_eq!(listed, key_ids);

    let first = sandbox
        .root("kms list-keys --limit 1", &[])
        .success()
        .json();
    assert_eq!(first["Truncated"], true);
    assert_eq!(first["Keys"].as_array().unwrap().len(), 1);
    let marker = first["NextMarker"].as_str().unwrap();
    let second = sandbox.root("kms list-keys --limit 1 --marker", &[marker]);
    assert_ne!(
        second.success().json()["Keys"][0]["KeyId"],
        first["Keys"][0]["KeyId"]
    );
}

/// A credentials file: [default] and [ops] hold root's secret, [bad] a wrong one; [ops] names its
/// endpoint as a bare host:port.
fn credentials_file(endpoint: &str) -> String {
    format!(
        "# written by a test\n\
         [default]\n\
         endpoint = {endpoint}\n\
         access_key_id = {ROOT_ACCESS_KEY_ID}\n\
         secret_access_key = {ROOT_SECRET}\n\
         \n\
         ; a profile with a wrong secret\n\
         [bad]\n\
         endpoint={endpoint}\n\
         access_key_id={ROOT_ACCESS_KEY_ID}\n\
         secret_access_key=wrong-secret\n\
         \n\
         [ops]\n\
         endpoint = {}\n\
         access_key_id = {ROOT_ACCESS_KEY_ID}\n\
         secret_access_key = {ROOT_SECRET}\n",
        endpoint.trim_start_matches("http://")
    )
}

const SIGNATURE_REFUSED: &str =
    "An error occurred (InvalidSignatureException) when calling the ListKeys operation: ";

#[tokio::test(flavor = "multi_thread")]
async fn credentials_come_from_flags_then_environment_then_profile() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let file = sandbox.write("creds/credentials", credentials_file(&sandbox.endpoint));
    let file_env = ("VAULTD_SHARED_CREDENTIALS_FILE", file.as_str());
    let list = args("kms list-keys --no-retry", &[]);

    // The [default] profile alone gives both endpoint and credentials.
    sandbox.run_with(&list, &[file_env], None).success();

    // The environment beats the profile...
    let wrong_env = [
        file_env,
        ("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
        ("VAULTD_SECRET_ACCESS_KEY", "wrong-secret"),
    ];
    sandbox
        .run_with(&list, &wrong_env, None)
        .assert_error(254, SIGNATURE_REFUSED);

    // ...and flags beat the environment, either way round.
    let line = "kms list-keys --no-retry --access-key-id";
    let good_flags = args(
        line,
        &[ROOT_ACCESS_KEY_ID, "--secret-access-key", ROOT_SECRET],
    );
    sandbox.run_with(&good_flags, &wrong_env, None).success();
    let bad_flags = args(line, &[ROOT_ACCESS_KEY_ID, "--secret-access-key", "wrong"]);
    let good_env = [
        file_env,
        ("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
        ("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET),
    ];
    sandbox
        .run_with(&bad_flags, &good_env, None)
        .assert_error(254, SIGNATURE_REFUSED);

    // Without VAULTD_SHARED_CREDENTIALS_FILE the file is ~/.vaultd/credentials.
    sandbox.write(".vaultd/credentials", credentials_file(&sandbox.endpoint));
    sandbox.run_with(&list, &[], None).success();
}

#[tokio::test(flavor = "multi_thread")]
async fn named_profiles_are_chosen_by_flag_or_environment() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let file = sandbox.write("credentials", credentials_file(&sandbox.endpoint));
    let file_env = ("VAULTD_SHARED_CREDENTIALS_FILE", file.as_str());
    let list = |profile| args("kms list-keys --no-retry --profile", &[profile]);

    sandbox
        .run_with(&list("bad"), &[file_env], None)
        .assert_error(254, SIGNATURE_REFUSED);
    sandbox.run_with(&list("ops"), &[file_env], None).success();
    let by_env = [file_env, ("VAULTD_PROFILE", "bad")];
    sandbox
        .run_with(&args("kms list-keys", &[]), &by_env, None)
        .assert_error(254, SIGNATURE_REFUSED);
    // The flag beats VAULTD_PROFILE.
    sandbox.run_with(&list("ops"), &by_env, None).success();
    // As with the AWS CLI, an explicit --profile takes its credentials over the environment's.
    let wrong_env = [
        file_env,
        ("VAULTD_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG2"),
        ("VAULTD_SECRET_ACCESS_KEY", "wrong-secret"),
    ];
    sandbox.run_with(&list("ops"), &wrong_env, None).success();

    let missing = sandbox.run_with(&list("nope"), &[file_env], None);
    missing.assert_error(253, "vaultctl: error: the profile \"nope\" is not in");
    assert!(missing.stderr.contains(&file), "{}", missing.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_exit_253_and_name_the_three_ways() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let list = args("kms list-keys --endpoint", &[&sandbox.endpoint]);
    let run = sandbox.run_with(&list, &[], None);
    run.assert_error(253, "vaultctl: error: Unable to locate credentials.");
    for needle in [
        "--access-key-id",
        "--secret-access-key",
        "VAULTD_ACCESS_KEY_ID",
        "VAULTD_SECRET_ACCESS_KEY",
        ".vaultd/credentials",
        "VAULTD_SHARED_CREDENTIALS_FILE",
    ] {
        assert!(run.stderr.contains(needle), "{needle} in {}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_errors_print_like_the_aws_cli_and_exit_254() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let missing = uuid::Uuid::new_v4().to_string();
    let run = sandbox.root("kms describe-key --key-id", &[&missing]);
    run.assert_error(
        254,
        "An error occurred (NotFoundException) when calling the DescribeKey operation: ",
    );
    assert!(run.stderr.contains(&missing), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_before_anything_is_sent() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);

    let run = sandbox.root("kms create-key --key-spec AES_999", &[]);
    run.assert_usage_error("error: invalid value 'AES_999' for '--key-spec");
    assert!(run.stderr.contains("SYMMETRIC_DEFAULT"), "{}", run.stderr);
    // Whatever clap refuses exits 252, as AWS CLI v2's syntax errors, not clap's own 2.
    for (line, needle) in [
        ("kms list-keys --query a..b", "invalid query"),
        (
            "kms list-keys --no-such-flag",
            "unexpected argument '--no-such-flag'",
        ),
        (
            "kms no-such-action",
            "unrecognized subcommand 'no-such-action'",
        ),
        ("kms", "Usage: vaultctl kms"),
        ("kms list-keys --timeout-secs 0", "--timeout-secs"),
        (
            "kms list-keys --cli-binary-format hex",
            "'--cli-binary-format",
        ),
        ("kms list-keys --access-key-id AKIA1", "--secret-access-key"),
        ("kms list-keys --session-token t", "--access-key-id"),
    ] {
        let run = sandbox.root(line, &[]);
        run.assert_usage_error(if line == "kms" { "" } else { "error: " });
        assert!(run.stderr.contains(needle), "{line}: {}", run.stderr);
    }

    // Local input is checked before credentials, so these fail the same way without any.
    let empty = format!("fileb://{}", sandbox.write("empty.bin", b""));
    let missing = format!("fileb://{}", sandbox.path("missing.bin").display());
    let encrypt = "kms encrypt --key-id k";
    for (args, needle) in [
        (
            args(encrypt, &["--plaintext", &empty]),
            "the value is empty",
        ),
        (args(encrypt, &["--plaintext", &missing]), "cannot read"),
        (args(encrypt, &[]), "the value is empty"),
        (
            args("kms decrypt --ciphertext-blob !!", &[]),
            "not valid base64",
        ),
        (
            args(
                encrypt,
                &["--plaintext", "x", "--encryption-context", "novalue"],
            ),
            "expected KEY=VALUE pairs",
        ),
    ] {
        let run = sandbox.run_with(&args, &[], None);
        run.assert_error(252, "vaultctl: error: ");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn an_unreachable_endpoint_exits_255() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("127.0.0.1:{port}");
    let sandbox = Sandbox::at(endpoint.clone());
    let list = args("kms list-keys --no-retry", &[]);
    let run = sandbox.run_with(&list, &sandbox.root_env(), None);
    run.assert_error(
        255,
        &format!("Could not connect to the endpoint URL: \"http://{endpoint}\""),
    );
}

#[test]
fn a_vaultd_that_never_answers_is_a_read_timeout_exit_255() {
    // Accepts connections and keeps them open, but never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.extend(stream.ok());
        }
    });
    let sandbox = Sandbox::at(endpoint.clone());
    let line = "kms list-keys --timeout-secs 1 --no-retry";
    let started = std::time::Instant::now();
    let run = sandbox.run_with(&args(line, &[]), &sandbox.root_env(), None);
    run.assert_error(
        255,
        &format!("Read timeout on endpoint URL: \"{endpoint}\""),
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn help_and_version_print_to_stdout_and_exit_0() {
    let sandbox = Sandbox::at(String::new());
    for line in ["--help", "kms --help", "kms encrypt --help", "--version"] {
        let run = sandbox.run_with(&args(line, &[]), &[], None);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{line}");
        assert!(!run.stdout.is_empty(), "{line}");
    }
    let help = sandbox.run_with(&["--help"], &[], None).stdout;
    for needle in [
        "252",
        "253",
        "254",
        "255",
        "--endpoint-url",
        "--region",
        "--no-cli-pager",
    ] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
    let version = sandbox.run_with(&["--version"], &[], None).stdout;
    assert_eq!(version, format!("vaultctl {}\n", env!("CARGO_PKG_VERSION")));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aws_style_credentials_file_and_aws_cli_flags_work() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let file = sandbox.write(
        "aws-credentials",
        format!(
            "[default]\n\
             aws_access_key_id = {ROOT_ACCESS_KEY_ID}\n\
             aws_secret_access_key = {ROOT_SECRET}\n\
             region = eu-west-1\n"
        ),
    );
    let env = [("VAULTD_SHARED_CREDENTIALS_FILE", file.as_str())];
    // --endpoint-url, --region and --no-cli-pager as an AWS CLI user types them.
    let line = "kms create-key --no-cli-pager --region eu-west-1 --endpoint-url";
    let run = sandbox.run_with(&args(line, &[&sandbox.endpoint]), &env, None);
    let metadata = &run.success().json()["KeyMetadata"];
    // The region is the server's: --region changes nothing.
    let key_id = metadata["KeyId"].as_str().unwrap();
    assert_eq!(metadata["Arn"], key_arn(key_id));
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_problems_exit_253() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let malformed = sandbox.write("malformed", "[default]\naccess_key_id AKIA1\n");
    let half = sandbox.write("half", "[default]\naws_access_key_id = AKIA1\n");
    let endpoint_env = ("VAULTD_ENDPOINT", sandbox.endpoint.as_str());
    for (line, env, needle) in [
        (
            "kms list-keys",
            vec![endpoint_env, ("VAULTD_SHARED_CREDENTIALS_FILE", &malformed)],
            "line 2: expected `key = value`",
        ),
        (
            "kms list-keys",
            vec![endpoint_env, ("VAULTD_SHARED_CREDENTIALS_FILE", &half)],
            "needs both access_key_id and secret_access_key",
        ),
        (
            "kms list-keys --endpoint-url http://bad\u{7f}host",
            sandbox.root_env().to_vec(),
            "invalid endpoint",
        ),
        (
            "kms list-keys --endpoint-url grpc://127.0.0.1:1",
            sandbox.root_env().to_vec(),
            "unsupported endpoint",
        ),
        (
            "kms list-keys --ca-bundle /nonexistent/ca.pem",
            sandbox.root_env().to_vec(),
            "--ca-bundle /nonexistent/ca.pem",
        ),
        (
            "kms list-keys",
            vec![
                endpoint_env,
                ("VAULTD_ACCESS_KEY_ID", "AKIA 1"),
                ("VAULTD_SECRET_ACCESS_KEY", "secret"),
            ],
            "the access key id holds spaces",
        ),
    ] {
        let run = sandbox.run_with(&args(line, &[]), &env, None);
        run.assert_error(253, "vaultctl: error: ");
        assert!(run.stderr.contains(needle), "{line}: {}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_binary_format_base64_decodes_literal_and_file_plaintexts_only() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let encrypt = |format: &str, plaintext: &str, stdin: Option<&[u8]>| {
        let line = "kms encrypt --query CiphertextBlob --output text --cli-binary-format";
        let mut tail = vec![format, "--key-id", &key_id];
        if !plaintext.is_empty() {
            tail.extend(["--plaintext", plaintext]);
        }
        let run = sandbox.run_with(&args(line, &tail), &sandbox.root_env(), stdin);
        let blob = run.success().stdout;
        sandbox.decrypt(&["--ciphertext-blob", blob.trim_end()])
    };
    // "aGk=" is base64 for "hi".
    let text_file = format!("file://{}", sandbox.write("plaintext.txt", "aGk=\n"));
    let binary_file = format!("fileb://{}", sandbox.write("plaintext.bin", "aGk="));

    // The default, raw-in-base64-out: a literal or file:// value is its UTF-8 bytes.
    assert_eq!(encrypt("raw-in-base64-out", "aGk=", None), b"aGk=");
    assert_eq!(encrypt("raw-in-base64-out", &text_file, None), b"aGk=\n");
    let line = "kms encrypt --query CiphertextBlob --output text --plaintext aGk= --key-id";
    let blob = sandbox.root(line, &[&key_id]).success().stdout;
    assert_eq!(
        sandbox.decrypt(&["--ciphertext-blob", blob.trim_end()]),
        b"aGk="
    );

    // base64, as AWS CLI v2's default: literals and file:// are decoded; fileb:// and stdin not.
    assert_eq!(encrypt("base64", "aGk=", None), b"hi");
    assert_eq!(encrypt("base64", &text_file, None), b"hi");
    assert_eq!(encrypt("base64", &binary_file, None), b"aGk=");
    assert_eq!(encrypt("base64", "-", Some(b"aGk=")), b"aGk=");
    assert_eq!(encrypt("base64", "", Some(b"aGk=")), b"aGk=");

    let line = "kms encrypt --cli-binary-format base64 --plaintext not-base64! --key-id";
    let run = sandbox.root(line, &[&key_id]);
    run.assert_error(252, "vaultctl: error: --plaintext: not valid base64");
    assert!(run.stderr.contains("raw-in-base64-out"), "{}", run.stderr);
}

/// `--endpoint` takes replicas of one vault, comma-separated, bare host:port or URLs: an
/// unreachable one is skipped.
#[tokio::test(flavor = "multi_thread")]
async fn several_endpoints_skip_the_one_that_is_down() {
    let server = TestServer::start().await;
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let sandbox = Sandbox::at(format!("{down},{}", server.endpoint()));
    let run = sandbox.root("kms create-key --description replicated", &[]);
    let key_id = run.success().json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let described = server
        .client()
        .describe_key(vaultd::pb::DescribeKeyRequest { key_id })
        .await
        .unwrap();
    assert_eq!(described.key_metadata.unwrap().description, "replicated");
}
