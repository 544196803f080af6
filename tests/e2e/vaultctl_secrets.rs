//! `vaultctl secretsmanager` end to end: the real binary against an in-process server, as root,
//! checking what a user sees (stdout, stderr, exit status): values and their versions, staging
//! labels, listing, scheduled deletion and restore, tags, random passwords and binary secrets.
//! Each run gets a temporary HOME and only the VAULTD_* variables the test gives it.

use std::{
    process::Stdio,
    time::{Duration, SystemTime},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use vaultd::clock::Clock;

use crate::common::*;

const ARN_PREFIX: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:";

/// What one vaultctl run left behind.
#[derive(Debug)]
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "vaultctl failed: {}", self.stderr);
        self
    }

    #[track_caller]
    fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", out.stdout))
    }

    /// Success that prints nothing, as the AWS CLI prints an empty response.
    #[track_caller]
    fn silent(self) {
        let out = self.ok();
        assert_eq!(out.stdout, "", "an empty response prints nothing");
    }

    /// A service error: exit 254, and the AWS CLI's message after a blank line.
    #[track_caller]
    fn service_error(&self, reason: &str, operation: &str) {
        assert_eq!(self.code, 254, "{self:?}");
        let start =
            format!("\nAn error occurred ({reason}) when calling the {operation} operation");
        assert!(self.stderr.starts_with(&start), "{:?}", self.stderr);
        assert_eq!(self.stdout, "");
    }

    /// A usage error: exit 252, nothing sent.
    #[track_caller]
    fn usage_error(&self, needle: &str) {
        assert_eq!(self.code, 252, "{self:?}");
        assert!(self.stderr.contains(needle), "{self:?}");
        assert_eq!(self.stdout, "");
    }
}

/// vaultctl pointed at one server as root, run from a temporary HOME.
struct Vaultctl {
    endpoint: String,
    home: tempfile::TempDir,
}

impl Vaultctl {
    fn new(server: &TestServer) -> Self {
        Self {
            endpoint: server.endpoint(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes a file under the temporary HOME; returns its path.
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    /// Runs `vaultctl --no-retry secretsmanager` with `line` (split at spaces) then `tail` (values
    /// that hold spaces or vary).
    fn run(&self, line: &str, tail: &[&str]) -> Output {
        let mut cmd = vaultctl_command();
        let output = cmd
            .env("HOME", self.home.path())
            .env("VAULTD_ENDPOINT", &self.endpoint)
            .env("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
            .env("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET)
            .args(["--no-retry", "secretsmanager"])
            .args(line.split_whitespace())
            .args(tail)
            .stdin(Stdio::null())
            .output()
            .expect("vaultctl runs");
        Output {
            code: output.status.code().expect("vaultctl exited, not killed"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `create-secret` with a string value; returns the answer.
    #[track_caller]
    fn create(&self, name: &str, value: &str) -> Value {
        let line = format!("create-secret --name {name} --secret-string");
        self.run(&line, &[value]).json()
    }

    /// The names of a list-secrets answer.
    fn names(answer: &Value) -> Vec<String> {
        answer["SecretList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The field names of a JSON object, in order.
fn fields(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn values_versions_and_staging_labels() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);

    // Created with a value: ARN, Name, VersionId, and never the value.
    let line = "create-secret --name prod/db --description the-database \
                --tags Key=team,Value=payments --secret-string";
    let created = cli.run(line, &["correct horse 1"]).ok();
    assert!(!created.stdout.contains("correct horse"), "{created:?}");
    let created: Value = serde_json::from_str(&created.stdout).unwrap();
    assert_eq!(fields(&created), ["ARN", "Name", "VersionId"]);
    let arn = created["ARN"].as_str().unwrap().to_string();
    assert!(arn.starts_with(&format!("{ARN_PREFIX}prod/db-")), "{arn}");
    assert_eq!(arn.len(), format!("{ARN_PREFIX}prod/db-").len() + 6);
    assert_eq!(created["Name"], "prod/db");
    let v1 = created["VersionId"].as_str().unwrap().to_string();

    // Read back, as the AWS CLI prints it.
    let got = cli.run("get-secret-value --secret-id prod/db", &[]).json();
    assert_eq!(
        fields(&got),
        [
            "ARN",
            "Name",
            "VersionId",
            "SecretString",
            "VersionStages",
            "CreatedDate"
        ]
    );
    assert_eq!(got["ARN"], arn.as_str());
    assert_eq!(got["VersionId"], v1.as_str());
    assert_eq!(got["SecretString"], "correct horse 1");
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));
    assert!(got["CreatedDate"].as_str().unwrap().ends_with("+00:00"));
    // By ARN, and as text for scripts.
    let line = "get-secret-value --query SecretString --output text --secret-id";
    assert_eq!(cli.run(line, &[&arn]).ok().stdout, "correct horse 1\n");

    // A new version from a file: AWSCURRENT moves, the old one is AWSPREVIOUS.
    let file = cli.write("v2.json", "{\"password\": \"correct horse 2\"}\n");
    let line = "put-secret-value --secret-id prod/db --secret-string";
    let put = cli.run(line, &[&format!("file://{file}")]).json();
    assert_eq!(fields(&put), ["ARN", "Name", "VersionId", "VersionStages"]);
    assert_eq!(put["VersionStages"], json!(["AWSCURRENT"]));
    let v2 = put["VersionId"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    let current = cli.run("get-secret-value --secret-id prod/db", &[]).json();
    assert_eq!(
        current["SecretString"],
        "{\"password\": \"correct horse 2\"}\n"
    );
    assert_eq!(current["VersionId"], v2.as_str());
    let line = "get-secret-value --secret-id prod/db --version-stage AWSPREVIOUS";
    let previous = cli.run(line, &[]).json();
    assert_eq!(previous["SecretString"], "correct horse 1");
    assert_eq!(previous["VersionId"], v1.as_str());
    assert_eq!(previous["VersionStages"], json!(["AWSPREVIOUS"]));
    let line = "get-secret-value --secret-id prod/db --version-id";
    assert_eq!(cli.run(line, &[&v1]).json(), previous);

    // describe-secret: no value, the versions and their labels, in the AWS model's order.
    let described = cli.run("describe-secret --secret-id prod/db", &[]).json();
    assert!(!described.to_string().contains("correct horse"));
    assert_eq!(
        fields(&described),
        [
            "ARN",
            "Name",
            "Description",
            "LastChangedDate",
            "LastAccessedDate",
            "Tags",
            "VersionIdsToStages",
            "CreatedDate"
        ],
        "no KmsKeyId (the default key), no RotationEnabled (never configured): {described}"
    );
    assert_eq!(described["Description"], "the-database");
    assert_eq!(
        described["Tags"],
        json!([{"Key": "team", "Value": "payments"}])
    );
    let mut stages = json!({});
    stages[&v1] = json!(["AWSPREVIOUS"]);
    stages[&v2] = json!(["AWSCURRENT"]);
    assert_eq!(described["VersionIdsToStages"], stages);
    // Last access is kept a day at a time, as AWS keeps it.
    let accessed = described["LastAccessedDate"].as_str().unwrap();
    assert!(accessed.ends_with("T00:00:00+00:00"), "{accessed}");

    // Roll back: AWSCURRENT to v1 (v2 becomes AWSPREVIOUS); a custom label on v2.
    let line = format!(
        "update-secret-version-stage --secret-id prod/db --version-stage AWSCURRENT \
         --remove-from-version-id {v2} --move-to-version-id {v1}"
    );
    assert_eq!(
        cli.run(&line, &[]).json(),
        json!({"ARN": arn, "Name": "prod/db"})
    );
    let line = format!(
        "update-secret-version-stage --secret-id prod/db --version-stage blue \
         --move-to-version-id {v2}"
    );
    cli.run(&line, &[]).ok();
    let line = "get-secret-value --secret-id prod/db --query SecretString --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, "correct horse 1\n");
    let line = "get-secret-value --secret-id prod/db --version-stage blue";
    let blue = cli.run(line, &[]).json();
    assert_eq!(blue["VersionId"], v2.as_str());
    assert_eq!(blue["VersionStages"], json!(["AWSPREVIOUS", "blue"]));
    let described = cli.run("describe-secret --secret-id prod/db", &[]).json();
    stages[&v1] = json!(["AWSCURRENT"]);
    stages[&v2] = json!(["AWSPREVIOUS", "blue"]);
    assert_eq!(described["VersionIdsToStages"], stages);
    // A label held elsewhere must be named where it is.
    let line = format!(
        "update-secret-version-stage --secret-id prod/db --version-stage AWSCURRENT \
         --move-to-version-id {v2}"
    );
    cli.run(&line, &[])
        .service_error("InvalidParameterException", "UpdateSecretVersionStage");

    // The versions, and update-secret with a value (a new AWSCURRENT version).
    let versions = cli
        .run("list-secret-version-ids --secret-id prod/db", &[])
        .json();
    assert_eq!(fields(&versions), ["Versions", "ARN", "Name"]);
    assert_eq!(versions["Versions"].as_array().unwrap().len(), 2);
    assert_eq!(
        fields(&versions["Versions"][0]),
        ["VersionId", "VersionStages", "CreatedDate"]
    );
    let line = "update-secret --secret-id prod/db --description renamed --secret-string v3";
    let updated = cli.run(line, &[]).json();
    assert_eq!(fields(&updated), ["ARN", "Name", "VersionId"]);
    let line = "update-secret --secret-id prod/db --description again";
    assert_eq!(
        cli.run(line, &[]).json(),
        json!({"ARN": arn, "Name": "prod/db"}),
        "no VersionId without a new value"
    );
    let line = "get-secret-value --secret-id prod/db --query SecretString --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, "v3\n");
    let line = "list-secret-version-ids --secret-id prod/db --query Versions[].VersionId";
    assert_eq!(
        cli.run(line, &[]).json().as_array().unwrap().len(),
        3,
        "v1 (AWSPREVIOUS), v2 (blue), v3 (AWSCURRENT)"
    );

    cli.run("get-secret-value --secret-id prod/missing", &[])
        .service_error("ResourceNotFoundException", "GetSecretValue");
    cli.run("create-secret --name prod/db --secret-string again", &[])
        .service_error("ResourceExistsException", "CreateSecret");
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_deletion_restore_and_tags() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);
    for name in ["svc/a", "svc/b", "svc/c", "other/x"] {
        cli.create(name, &format!("value of {name}"));
    }

    // A name filter (a prefix), in creation order; sorted by name, descending.
    let listed = cli
        .run("list-secrets --filters Key=name,Values=svc/", &[])
        .json();
    assert_eq!(Vaultctl::names(&listed), ["svc/a", "svc/b", "svc/c"]);
    assert_eq!(fields(&listed), ["SecretList"]);
    let entry = &listed["SecretList"][0];
    assert!(!entry.to_string().contains("value of"), "{entry}");
    assert_eq!(
        fields(entry),
        [
            "ARN",
            "Name",
            "LastChangedDate",
            "SecretVersionsToStages",
            "CreatedDate"
        ]
    );
    let line = "list-secrets --filters Key=name,Values=svc/ --sort-by name --sort-order desc \
                --query SecretList[].Name --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, "svc/c\tsvc/b\tsvc/a\n");
    let line = "list-secrets --filters Key=name,Values=!svc/ --query SecretList[].Name";
    assert_eq!(cli.run(line, &[]).json(), json!(["other/x"]));

    // Pages: followed and merged, or a head and a NextToken to go on from.
    let line = "list-secrets --filters Key=name,Values=svc/ --page-size 1";
    assert_eq!(cli.run(line, &[]).json(), listed);
    let line = "list-secrets --filters Key=name,Values=svc/ --max-items 2";
    let head = cli.run(line, &[]).json();
    assert_eq!(Vaultctl::names(&head), ["svc/a", "svc/b"]);
    let token = head["NextToken"].as_str().expect("a NextToken").to_string();
    let line = "list-secrets --filters Key=name,Values=svc/ --starting-token";
    let rest = cli.run(line, &[&token]).json();
    assert_eq!(Vaultctl::names(&rest), ["svc/c"]);
    assert!(rest.get("NextToken").is_none());
    let line = "list-secrets --max-results 1";
    let page = cli.run(line, &[]).json();
    assert_eq!(Vaultctl::names(&page).len(), 1);
    assert!(page["NextToken"].is_string(), "{page}");
    cli.run("list-secrets --filters Key=colour,Values=blue", &[])
        .usage_error("unknown filter key");

    // Deletion in 7 days: unreadable meanwhile, hidden from lists unless asked for.
    let deleted = cli
        .run(
            "delete-secret --secret-id svc/b --recovery-window-in-days 7",
            &[],
        )
        .json();
    assert_eq!(fields(&deleted), ["ARN", "Name", "DeletionDate"]);
    let in_a_week = aws_date_to_the_second(server.clock.now() + Duration::from_secs(7 * 86_400));
    let deletion_date = deleted["DeletionDate"].as_str().unwrap();
    assert!(
        deletion_date.starts_with(&in_a_week),
        "{deletion_date} vs {in_a_week}"
    );
    assert!(deletion_date.ends_with("+00:00"), "{deletion_date}");
    let refused = cli.run("get-secret-value --secret-id svc/b", &[]);
    refused.service_error("InvalidRequestException", "GetSecretValue");
    assert!(
        refused.stderr.contains("marked for deletion"),
        "{refused:?}"
    );
    let line = "put-secret-value --secret-id svc/b --secret-string new";
    cli.run(line, &[])
        .service_error("InvalidRequestException", "PutSecretValue");
    let line = "list-secrets --filters Key=name,Values=svc/ --query SecretList[].Name";
    assert_eq!(cli.run(line, &[]).json(), json!(["svc/a", "svc/c"]));
    let line = "list-secrets --filters Key=name,Values=svc/b --include-planned-deletion";
    let planned = cli.run(line, &[]).json();
    assert_eq!(Vaultctl::names(&planned), ["svc/b"]);
    assert!(planned["SecretList"][0]["DeletedDate"].is_string());
    let described = cli.run("describe-secret --secret-id svc/b", &[]).json();
    assert!(described["DeletedDate"].is_string(), "{described}");

    // Restored: readable again, and no DeletedDate.
    let restored = cli.run("restore-secret --secret-id svc/b", &[]).json();
    assert_eq!(fields(&restored), ["ARN", "Name"]);
    let line = "get-secret-value --secret-id svc/b --query SecretString --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, "value of svc/b\n");
    let described = cli.run("describe-secret --secret-id svc/b", &[]).json();
    assert!(described.get("DeletedDate").is_none(), "{described}");

    // Tags.
    let line = "tag-resource --secret-id svc/a --tags Key=env,Value=prod Key=team,Value=x";
    cli.run(line, &[]).silent();
    let line = "untag-resource --secret-id svc/a --tag-keys team";
    cli.run(line, &[]).silent();
    let line = "describe-secret --secret-id svc/a --query Tags";
    assert_eq!(
        cli.run(line, &[]).json(),
        json!([{"Key": "env", "Value": "prod"}])
    );
    let line = "list-secrets --filters Key=tag-key,Values=env --query SecretList[].Name";
    assert_eq!(cli.run(line, &[]).json(), json!(["svc/a"]));
    let line = "tag-resource --secret-id svc/missing --tags Key=env,Value=prod";
    cli.run(line, &[])
        .service_error("ResourceNotFoundException", "TagResource");

    // At once: gone.
    let line = "delete-secret --secret-id svc/c --force-delete-without-recovery";
    cli.run(line, &[]).ok();
    cli.run("describe-secret --secret-id svc/c", &[])
        .service_error("ResourceNotFoundException", "DescribeSecret");
    let line = "delete-secret --secret-id svc/a --recovery-window-in-days 7 \
                --force-delete-without-recovery";
    cli.run(line, &[])
        .service_error("InvalidParameterException", "DeleteSecret");
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_binary_secrets_batches_and_input_errors() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);

    // Passwords: 20 letters and digits.
    let line = "get-random-password --password-length 20 --exclude-punctuation";
    let answer = cli.run(line, &[]).json();
    assert_eq!(fields(&answer), ["RandomPassword"]);
    let password = answer["RandomPassword"].as_str().unwrap();
    assert_eq!(password.len(), 20, "{password}");
    assert!(
        password.bytes().all(|c| c.is_ascii_alphanumeric()),
        "{password}"
    );
    let line = "get-random-password --password-length 64 --exclude-numbers --exclude-uppercase \
                --exclude-lowercase --query RandomPassword --output text --exclude-characters";
    let punctuation = cli.run(line, &["-!\"#"]).ok().stdout;
    let punctuation = punctuation.strip_suffix('\n').unwrap();
    assert_eq!(punctuation.len(), 64);
    assert!(
        punctuation
            .bytes()
            .all(|c| c.is_ascii_punctuation() && !b"-!\"#".contains(&c)),
        "{punctuation}"
    );
    cli.run("get-random-password --password-length 0", &[])
        .service_error("InvalidParameterException", "GetRandomPassword");

    // A binary secret from fileb://: printed back in base64; a base64 literal is the same bytes.
    let bytes: Vec<u8> = (0..=255).rev().collect();
    let file = cli.write("key.bin", &bytes);
    let line = "create-secret --name tls/key --secret-binary";
    cli.run(line, &[&format!("fileb://{file}")]).ok();
    let got = cli.run("get-secret-value --secret-id tls/key", &[]).json();
    assert_eq!(
        fields(&got),
        [
            "ARN",
            "Name",
            "VersionId",
            "SecretBinary",
            "VersionStages",
            "CreatedDate"
        ]
    );
    assert_eq!(
        STANDARD
            .decode(got["SecretBinary"].as_str().unwrap())
            .unwrap(),
        bytes
    );
    let line = "put-secret-value --secret-id tls/key --secret-binary AAEC";
    cli.run(line, &[]).ok();
    let line = "get-secret-value --secret-id tls/key --query SecretBinary --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, "AAEC\n");

    // Several at once: the unreadable ones come back as Errors.
    cli.create("batch/one", "first value");
    let line = "batch-get-secret-value --secret-id-list batch/one tls/key batch/missing";
    let batch = cli.run(line, &[]).json();
    assert_eq!(fields(&batch), ["SecretValues", "Errors"]);
    let values = batch["SecretValues"].as_array().unwrap();
    assert_eq!(values.len(), 2, "{batch}");
    assert_eq!(values[0]["Name"], "batch/one");
    assert_eq!(values[0]["SecretString"], "first value");
    assert_eq!(values[1]["SecretBinary"], "AAEC");
    assert_eq!(batch["Errors"][0]["SecretId"], "batch/missing");
    assert_eq!(batch["Errors"][0]["ErrorCode"], "ResourceNotFoundException");
    let line = "batch-get-secret-value --filters Key=name,Values=batch/ \
                --query SecretValues[].SecretString --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, "first value\n");

    // Bad input is refused before anything is sent, without quoting the secret.
    let refused = cli.run(
        "create-secret --name bad --secret-binary",
        &["hunter2-secret!"],
    );
    refused.usage_error("--secret-binary");
    assert!(!refused.stderr.contains("hunter2"), "{refused:?}");
    let line = "create-secret --name bad --secret-string";
    cli.run(line, &["file:///nonexistent/secret.txt"])
        .usage_error("--secret-string");
    // A value that starts with '-' is a value, not an option clap would echo in its error.
    let created = cli.run("create-secret --name dash --secret-string", &["-hunter2"]);
    assert!(!created.ok().stdout.contains("hunter2"));
    let line = "get-secret-value --secret-id dash --query SecretString --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, "-hunter2\n");
    // Both kinds of value: the service refuses, and says nothing of them.
    let line = "put-secret-value --secret-id dash --secret-binary AAEC --secret-string";
    let refused = cli.run(line, &["hunter3"]);
    refused.service_error("InvalidParameterException", "PutSecretValue");
    assert!(!refused.stderr.contains("hunter3"), "{refused:?}");
}

/// The seconds of `t` as vaultctl prints a date (`2024-05-01T12:00:00`), without the fraction
/// and zone that follow.
fn aws_date_to_the_second(t: SystemTime) -> String {
    let b = vaultd::clock::format_basic_iso8601(t);
    format!(
        "{}-{}-{}T{}:{}:{}",
        &b[0..4],
        &b[4..6],
        &b[6..8],
        &b[9..11],
        &b[11..13],
        &b[13..15]
    )
}
