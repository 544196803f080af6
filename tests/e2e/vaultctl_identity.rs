//! `vaultctl iam`, `sts` and `audit` end to end: the real binary against an in-process server, as
//! root and as a user it creates, checking what a user sees (stdout, stderr, exit status). Each
//! run gets a temporary HOME and only the VAULTD_* variables the test gives it.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::{Value, json};

use crate::common::*;

const USER_ARN: &str = "arn:aws:iam::000000000000:user/app";

/// The user's policy: reads and Encrypt under a condition allowed, key deletion denied.
const POLICY: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["kms:ListKeys", "kms:DescribeKey"],
         "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "kms:ScheduleKeyDeletion",
         "Resource": "*"},
        {"Sid": "Billing", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}}
    ]
}"#;

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

    /// A failure reported after a blank line, with this status and first words.
    #[track_caller]
    fn fails(&self, code: i32, message_start: &str) {
        assert_eq!(
            self.code, code,
            "stdout {:?}, stderr {:?}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr
                .strip_prefix('\n')
                .is_some_and(|m| m.starts_with(message_start)),
            "{:?}",
            self.stderr
        );
    }
}

/// Who a run signs as: VAULTD_* credential variables.
type Env = Vec<(&'static str, String)>;

fn long_term(access_key_id: &str, secret: &str) -> Env {
    vec![
        ("VAULTD_ACCESS_KEY_ID", access_key_id.into()),
        ("VAULTD_SECRET_ACCESS_KEY", secret.into()),
    ]
}

fn root() -> Env {
    long_term(ROOT_ACCESS_KEY_ID, ROOT_SECRET)
}

/// vaultctl pointed at one server, run from a temporary HOME.
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

    /// `vaultctl --no-retry ARGS`, signing as `env` says.
    fn command(&self, env: &Env, args: &[&str]) -> Command {
        let mut cmd = self.program(vaultctl_bin(), env);
        cmd.arg("--no-retry").args(args);
        cmd
    }

    /// `program` with HOME, the endpoint and `env` for its VAULTD_* variables.
    fn program(&self, program: &str, env: &Env) -> Command {
        let mut cmd = scrubbed_command(program);
        cmd.env("HOME", self.home.path())
            .env("VAULTD_ENDPOINT", &self.endpoint)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `line` (split at spaces) then `tail` (values that hold spaces or vary).
    fn run(&self, env: &Env, line: &str, tail: &[&str]) -> Output {
        let args: Vec<&str> = line
            .split_whitespace()
            .chain(tail.iter().copied())
            .collect();
        let output = self.command(env, &args).output().expect("vaultctl runs");
        Output {
            code: output.status.code().expect("vaultctl exited, not killed"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn root(&self, line: &str, tail: &[&str]) -> Output {
        self.run(&root(), line, tail)
    }

    /// Writes a file under HOME; returns its `file://` URL.
    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, contents).unwrap();
        format!("file://{}", path.display())
    }

    /// Creates user `app` with [`POLICY`] put from a file and an access key; returns its
    /// credentials and the key id.
    fn app_user(&self) -> (Env, String) {
        let created = self.root("iam create-user --user-name app", &[]).json();
        assert_eq!(created["User"]["UserName"], "app");
        let document = self.file("policy.json", POLICY);
        let put = "iam put-user-policy --user-name app --policy-name app --policy-document";
        assert_eq!(self.root(put, &[&document]).ok().stdout, "");
        let key = self
            .root("iam create-access-key --user-name app", &[])
            .json();
        let key = &key["AccessKey"];
        let id = key["AccessKeyId"].as_str().unwrap();
        let secret = key["SecretAccessKey"].as_str().unwrap();
        (long_term(id, secret), id.to_string())
    }
}

/// A fresh server, vaultctl pointed at it, and the user `app` with its credentials and key id
/// ([`Vaultctl::app_user`]).
async fn with_app_user() -> (TestServer, Vaultctl, Env, String) {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);
    let (app, key_id) = cli.app_user();
    (server, cli, app, key_id)
}

/// The environment `sts get-session-token --export` sets, read as a POSIX shell would read its
/// `export NAME='value'` lines (a quote inside is written '\'').
fn exported(lines: &str) -> Env {
    let mut env = Env::new();
    for line in lines.lines().filter(|l| !l.starts_with('#')) {
        let (name, quoted) = line
            .strip_prefix("export ")
            .and_then(|rest| rest.split_once('='))
            .unwrap_or_else(|| panic!("not an export line: {line:?}"));
        let inner = quoted.strip_prefix('\'').and_then(|q| q.strip_suffix('\''));
        let value = inner.unwrap_or_else(|| panic!("not single-quoted: {line:?}"));
        let name = match name {
            "VAULTD_ACCESS_KEY_ID" => "VAULTD_ACCESS_KEY_ID",
            "VAULTD_SECRET_ACCESS_KEY" => "VAULTD_SECRET_ACCESS_KEY",
            "VAULTD_SESSION_TOKEN" => "VAULTD_SESSION_TOKEN",
            other => panic!("unexpected variable {other}"),
        };
        env.push((name, value.replace(r"'\''", "'")));
    }
    env
}

#[tokio::test(flavor = "multi_thread")]
async fn users_keys_and_policies_print_as_the_aws_cli_prints_them() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);

    let user = cli.root("iam create-user --user-name app", &[]).json();
    let user = &user["User"];
    assert_eq!(user["UserName"], "app");
    assert_eq!(user["Path"], "/", "as the AWS CLI prints IAM users");
    assert_eq!(user["Arn"], USER_ARN);
    assert!(!user["UserId"].as_str().unwrap().is_empty());
    let created = user["CreateDate"].as_str().unwrap();
    assert!(
        created.ends_with("+00:00") && created.as_bytes()[10] == b'T',
        "{created}"
    );
    assert!(
        user.get("SessionsValidAfter").is_none(),
        "left out when unset"
    );
    let again = cli.root("iam get-user --user-name app", &[]).json();
    assert_eq!(&again["User"], user);

    let document = cli.file("policy.json", POLICY);
    let put = "iam put-user-policy --user-name app --policy-name app --policy-document";
    assert_eq!(cli.root(put, &[&document]).ok().stdout, "");
    let policy = cli.root("iam get-user-policy --user-name app --policy-name app", &[]);
    let expected: Value = serde_json::from_str(POLICY).unwrap();
    assert_eq!(
        policy.json(),
        json!({"UserName": "app", "PolicyName": "app", "PolicyDocument": expected}),
        "the document is printed as a JSON object, as the AWS CLI decodes it"
    );
    let names = cli
        .root("iam list-user-policies --user-name app", &[])
        .json();
    assert_eq!(names, json!({"PolicyNames": ["app"]}));

    let key = cli
        .root("iam create-access-key --user-name app", &[])
        .json();
    let key = &key["AccessKey"];
    let key_id = key["AccessKeyId"].as_str().unwrap();
    assert!(key_id.starts_with("AKIA") && key_id.len() == 20, "{key_id}");
    assert_eq!(key["UserName"], "app");
    assert_eq!(key["Status"], "Active");
    assert_eq!(key["SecretAccessKey"].as_str().unwrap().len(), 40);
    let keys = cli.root("iam list-access-keys --user-name app", &[]).json();
    assert_eq!(keys["AccessKeyMetadata"][0]["AccessKeyId"], key_id);
    assert_eq!(keys["AccessKeyMetadata"][0]["Status"], "Active");
    assert!(
        keys["AccessKeyMetadata"][0]
            .get("SecretAccessKey")
            .is_none()
    );
    assert!(keys.get("IsTruncated").is_none() && keys.get("Marker").is_none());

    assert_eq!(
        cli.root(
            "iam delete-user-policy --user-name app --policy-name app",
            &[]
        )
        .ok()
        .stdout,
        ""
    );
    let names = cli
        .root("iam list-user-policies --user-name app", &[])
        .json();
    assert_eq!(names, json!({"PolicyNames": []}));
    let missing = cli.root("iam get-user --user-name nobody", &[]);
    missing.fails(
        254,
        "An error occurred (NoSuchEntity) when calling the GetUser operation",
    );

    cli.root("iam create-user --user-name temp", &[]).ok();
    assert_eq!(
        cli.root("iam delete-user --user-name temp", &[])
            .ok()
            .stdout,
        ""
    );
    let gone = cli.root("iam get-user --user-name temp", &[]);
    gone.fails(254, "An error occurred (NoSuchEntity)");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_users_pages_with_max_items_and_starting_token() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        cli.root("iam create-user --user-name", &[name]).ok();
    }
    let all = cli.root("iam list-users --page-size 2", &[]).json();
    let names = |page: &Value| -> Vec<String> {
        let users = page["Users"].as_array().unwrap();
        users
            .iter()
            .map(|u| u["UserName"].as_str().unwrap().to_string())
            .collect()
    };
    let everyone = names(&all);
    assert_eq!(everyone.len(), 6, "root and five users: {everyone:?}");
    assert!(all.get("NextToken").is_none() && all.get("IsTruncated").is_none());

    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..3 {
        let mut tail = vec!["--max-items", "2"];
        if let Some(token) = &token {
            tail.extend(["--starting-token", token.as_str()]);
        }
        let page = cli.root("iam list-users", &tail).json();
        assert_eq!(names(&page).len(), 2);
        paged.extend(names(&page));
        token = page["NextToken"].as_str().map(str::to_string);
    }
    assert_eq!(paged, everyone);
    assert_eq!(token, None, "no NextToken once the last item is printed");

    let text = cli.root("iam list-users --output text --query Users[].UserName", &[]);
    assert_eq!(text.ok().stdout, format!("{}\n", everyone.join("\t")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_acts_within_its_policy_with_its_key_and_its_sessions() {
    let (_server, cli, app, _) = with_app_user().await;

    let me = cli.run(&app, "sts get-caller-identity", &[]).json();
    assert_eq!(me["Arn"], USER_ARN);
    assert_eq!(me["Account"], "000000000000");
    let user = cli.root("iam get-user --user-name app", &[]).json();
    assert_eq!(me["UserId"], user["User"]["UserId"]);

    cli.run(&app, "kms list-keys", &[]).ok();
    let denied = cli.run(&app, "kms create-key", &[]);
    denied.fails(
        254,
        "An error occurred (AccessDeniedException) when calling the CreateKey operation",
    );
    assert_eq!(denied.stdout, "");

    let session = cli
        .run(&app, "sts get-session-token --duration-seconds 900", &[])
        .json();
    let credentials = &session["Credentials"];
    assert!(
        credentials["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
    assert!(!credentials["SessionToken"].as_str().unwrap().is_empty());
    assert!(
        credentials["Expiration"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );

    let export = cli
        .run(&app, "sts get-session-token --export", &[])
        .ok()
        .stdout;
    assert!(
        export.starts_with("# "),
        "a comment with the expiration first: {export}"
    );
    let session = exported(&export);
    assert_eq!(session.len(), 3, "{export}");
    assert!(session[0].1.starts_with("ASIA"));
    let me = cli.run(&session, "sts get-caller-identity", &[]).json();
    assert_eq!(me["Arn"], USER_ARN);
    let denied = cli.run(&session, "kms create-key", &[]);
    denied.fails(254, "An error occurred (AccessDeniedException)");

    // What a shell makes of the same lines.
    let script = format!(
        "eval \"$('{}' --no-retry sts get-session-token --export)\" && \
         '{0}' --no-retry sts get-caller-identity --query Arn --output text",
        vaultctl_bin()
    );
    let sh = cli
        .program("sh", &app)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        sh.status.success(),
        "{}",
        String::from_utf8_lossy(&sh.stderr)
    );
    assert_eq!(
        String::from_utf8(sh.stdout).unwrap(),
        format!("{USER_ARN}\n")
    );

    let revoked = cli
        .root("iam revoke-user-sessions --user-name app", &[])
        .json();
    let after = revoked["SessionsValidAfter"].as_str().unwrap();
    let user = cli.root("iam get-user --user-name app", &[]).json();
    assert_eq!(user["User"]["SessionsValidAfter"], after);
    assert_eq!(cli.run(&session, "sts get-caller-identity", &[]).code, 254);
    cli.run(&app, "sts get-caller-identity", &[]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inactive_key_is_refused_until_it_is_active_again() {
    let (_server, cli, app, key_id) = with_app_user().await;
    let session = exported(
        &cli.run(&app, "sts get-session-token --export", &[])
            .ok()
            .stdout,
    );

    let update = "iam update-access-key --user-name app --status Inactive --access-key-id";
    assert_eq!(cli.root(update, &[&key_id]).ok().stdout, "");
    let keys = cli.root("iam list-access-keys --user-name app", &[]).json();
    assert_eq!(keys["AccessKeyMetadata"][0]["Status"], "Inactive");
    let refused = cli.run(&app, "sts get-caller-identity", &[]);
    refused.fails(
        254,
        "An error occurred (UnrecognizedClientException) when calling the GetCallerIdentity",
    );
    let refused = cli.run(&session, "sts get-caller-identity", &[]);
    assert_eq!(
        refused.code, 254,
        "its sessions end too: {}",
        refused.stderr
    );

    let update = "iam update-access-key --user-name app --status Active --access-key-id";
    cli.root(update, &[&key_id]).ok();
    cli.run(&app, "sts get-caller-identity", &[]).ok();

    let delete = "iam delete-access-key --user-name app --access-key-id";
    assert_eq!(cli.root(delete, &[&key_id]).ok().stdout, "");
    let keys = cli.root("iam list-access-keys --user-name app", &[]).json();
    assert_eq!(keys, json!({"AccessKeyMetadata": []}));
    let refused = cli.run(&app, "sts get-caller-identity", &[]);
    refused.fails(254, "An error occurred (UnrecognizedClientException)");

    // --access-key-id names the key to act on here: credentials in flags are refused.
    let flags = format!("--access-key-id {key_id} --secret-access-key {ROOT_SECRET}");
    let line = format!("iam delete-access-key --user-name app {flags}");
    let confused = cli.run(&Env::new(), &line, &[]);
    confused.fails(
        253,
        "vaultctl: error: iam delete-access-key takes --access-key-id",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn simulate_policy_tells_allowed_explicit_and_implicit_denials() {
    let (_server, cli, _, _) = with_app_user().await;

    let line = "iam simulate-policy --user-name app --action-names kms:ListKeys \
                kms:ScheduleKeyDeletion kms:CreateKey kms:Encrypt";
    let results = cli.root(line, &[]).json();
    let results = results["EvaluationResults"].as_array().unwrap().clone();
    let decisions: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["EvalActionName"].as_str().unwrap(),
                r["EvalDecision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("kms:ListKeys", "allowed"),
            ("kms:ScheduleKeyDeletion", "explicitDeny"),
            ("kms:CreateKey", "implicitDeny"),
            ("kms:Encrypt", "implicitDeny"),
        ]
    );
    assert_eq!(results[0]["EvalResourceName"], "*");
    let matched = &results[0]["MatchedStatements"][0];
    assert_eq!(matched["SourcePolicyId"], "app");
    assert_eq!(matched["SourcePolicyType"], "IAM Policy");
    assert_eq!(matched["StatementIndex"], 0);
    assert_eq!(matched["Sid"], "Read");
    assert_eq!(results[1]["MatchedStatements"][0]["Sid"], "NoDeletes");
    assert_eq!(results[2]["MatchedStatements"], json!([]));

    // By ARN, with a draft policy and condition values.
    let draft = cli.file(
        "draft.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*"}]}"#,
    );
    let line = "iam simulate-principal-policy --action-names kms:CreateKey kms:Encrypt \
                --context-entries \
                ContextKeyName=kms:EncryptionContext:app,ContextKeyValues=billing,ContextKeyType=string";
    let tail = [
        "--policy-source-arn",
        USER_ARN,
        "--policy-input-list",
        &draft,
    ];
    let results = cli.root(line, &tail).json();
    let results = &results["EvaluationResults"];
    assert_eq!(results[0]["EvalDecision"], "allowed", "{results}");
    let source = results[0]["MatchedStatements"][0]["SourcePolicyId"]
        .as_str()
        .unwrap();
    assert!(source.starts_with("PolicyInputList."), "{source}");
    assert_eq!(results[1]["EvalDecision"], "allowed", "{results}");
    assert_eq!(results[1]["MatchedStatements"][0]["Sid"], "Billing");

    let text = cli.root(
        "iam simulate-policy --user-name app --action-names kms:ListKeys --output text \
         --query EvaluationResults[].EvalDecision",
        &[],
    );
    assert_eq!(text.ok().stdout, "allowed\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_tail_shows_the_users_calls_and_verify_checks_the_chain() {
    let (_server, cli, app, key_id) = with_app_user().await;
    cli.run(&app, "sts get-caller-identity", &[]).ok();
    cli.run(&app, "kms list-keys", &[]).ok();
    assert_eq!(cli.run(&app, "kms create-key", &[]).code, 254);

    let tail = cli
        .root("audit tail --user-name app --output json", &[])
        .json();
    let events = tail["Events"].as_array().unwrap();
    let seen: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e["EventName"].as_str().unwrap(), e["ErrorCode"].as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("GetCallerIdentity", None),
            ("ListKeys", None),
            ("CreateKey", Some("AccessDeniedException")),
        ],
        "oldest first"
    );
    for event in events {
        assert_eq!(event["Username"], "app");
        assert_eq!(event["AccessKeyId"], key_id.as_str());
        assert!(event["EventTime"].as_str().unwrap().ends_with("+00:00"));
        assert_eq!(event["Hash"].as_str().unwrap().len(), 64);
        let body: Value = serde_json::from_str(event["CloudTrailEvent"].as_str().unwrap()).unwrap();
        assert!(body.is_object());
    }
    assert_eq!(events[1]["EventSource"], "kms.amazonaws.com");
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["Sequence"].as_u64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");

    let lines = cli
        .root("audit tail --max-items 2 --access-key-id", &[&key_id])
        .ok()
        .stdout;
    // TIME USER ACCESS_KEY ACTION RESOURCES OUTCOME
    let lines: Vec<Vec<&str>> = lines.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let fields = |line: &[&str]| [line[1], line[2], line[3], line[5]].map(str::to_string);
    assert_eq!(fields(&lines[0]), ["app", &key_id, "kms:ListKeys", "ok"]);
    assert_eq!(
        fields(&lines[1]),
        ["app", &key_id, "kms:CreateKey", "AccessDeniedException"]
    );
    assert!(lines[0][0].ends_with("+00:00"), "{lines:?}");
    let denied = cli
        .root("audit tail --output json --event-name CreateKey", &[])
        .json();
    assert_eq!(denied["Events"].as_array().unwrap().len(), 1);
    let later = cli.root(
        "audit tail --output json --start-time",
        &["2999-01-01T00:00:00Z"],
    );
    assert_eq!(later.json(), json!({"Events": []}));

    // --key-id takes an alias: events name the key's ARN.
    let created = cli.root("kms create-key", &[]).json();
    let key_arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let target = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    cli.root(
        "kms create-alias --alias-name alias/billing --target-key-id",
        &[&target],
    )
    .ok();
    let encrypt =
        "kms encrypt --key-id alias/billing --plaintext hi --encryption-context app=billing";
    cli.run(&app, encrypt, &[]).ok();
    let on_key = cli
        .root("audit tail --output json --key-id alias/billing", &[])
        .json();
    let on_key = on_key["Events"].as_array().unwrap();
    let encrypted = on_key
        .iter()
        .find(|e| e["EventName"] == "Encrypt")
        .expect("Encrypt");
    assert_eq!(encrypted["Username"], "app");
    assert_eq!(encrypted["Resources"][0]["ResourceName"], key_arn.as_str());
    assert_eq!(encrypted["Resources"][0]["ResourceType"], "AWS::KMS::Key");

    let verified = cli.root("audit verify", &[]).ok().stdout;
    assert!(verified.starts_with("Verified "), "{verified}");
    assert!(verified.contains("; head sha256 "), "{verified}");
    let report = cli.root("audit verify --output json", &[]).json();
    assert_eq!(report["Verified"], true);
    let count = report["Events"].as_u64().unwrap();
    assert!(count > 10, "{report}");
    assert_eq!(report["LastSequence"], count);
    assert_eq!(report["Head"].as_str().unwrap().len(), 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_exits_1_and_names_the_first_edited_event() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);
    for _ in 0..3 {
        cli.root("sts get-caller-identity", &[]).ok();
    }
    cli.root("audit verify", &[]).ok();

    let db =
        rusqlite::Connection::open(server.data_dir.join(vaultd::vault::DATABASE_FILE)).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let edited = db
        .execute(
            "UPDATE audit_events SET body = body || ' ' WHERE sequence = 2",
            [],
        )
        .unwrap();
    assert_eq!(edited, 1);

    let broken = cli.root("audit verify", &[]);
    broken.fails(1, "Audit trail broken at event 2: ");
    assert_eq!(broken.stdout, "");
    let help = cli.root("audit verify --help", &[]).ok().stdout;
    assert!(help.contains("1 when it is broken"), "{help}");
}

/// Reads a child's stdout lines as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_tail_follow_prints_new_events_as_they_come() {
    let (_server, cli, app, _) = with_app_user().await;
    cli.run(&app, "kms list-keys", &[]).ok();

    let mut follow = cli
        .command(&root(), &["audit", "tail", "--follow", "--max-items", "1"])
        .spawn()
        .unwrap();
    let lines = lines_of(&mut follow);
    let wait = Duration::from_secs(20);
    let first = lines.recv_timeout(wait).expect("the newest event at once");
    assert!(first.contains(" kms:ListKeys "), "{first}");

    cli.run(&app, "kms describe-key --key-id", &["alias/none"])
        .fails(254, "An error");
    let next = lines
        .recv_timeout(wait)
        .expect("the new event within seconds");
    assert!(
        next.contains(" app ") && next.contains(" kms:DescribeKey "),
        "{next}"
    );
    assert!(next.ends_with(" NotFoundException"), "{next}");
    // Two more polls: the follower's own lookups are never printed.
    std::thread::sleep(Duration::from_millis(2500));
    follow.kill().unwrap();
    follow.wait().unwrap();
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(rest.iter().all(|l| !l.contains("LookupEvents")), "{rest:?}");
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let server_less = Vaultctl {
        endpoint: "http://127.0.0.1:1".into(),
        home: tempfile::tempdir().unwrap(),
    };
    let run = |line: &str, tail: &[&str]| server_less.root(line, tail);
    let put = "iam put-user-policy --user-name a --policy-name p --policy-document";
    run(put, &["{not json"]).fails(252, "vaultctl: error: --policy-document: invalid JSON");
    let missing = format!("file://{}/missing.json", server_less.home.path().display());
    run(put, &[&missing]).fails(252, "vaultctl: error: --policy-document: cannot read");
    let simulate = run("iam simulate-policy --action-names kms:Encrypt", &[]);
    assert_eq!(
        simulate.code, 252,
        "a user or an ARN is needed: {}",
        simulate.stderr
    );
    let status = run(
        "iam update-access-key --access-key-id AKIA --status Disabled",
        &[],
    );
    assert_eq!(status.code, 252, "{}", status.stderr);
    let time = run("audit tail --start-time yesterday", &[]);
    assert_eq!(time.code, 252, "{}", time.stderr);
    run("sts get-session-token --policy", &["[]"])
        .fails(252, "vaultctl: error: --policy: expected a JSON object");
    let entries = "iam simulate-policy --user-name a --action-names x --context-entries Name=k";
    run(entries, &[]).fails(252, "vaultctl: error: --context-entries");
}

#[test]
fn every_action_has_a_one_line_description() {
    let cli = Vaultctl {
        endpoint: "http://127.0.0.1:1".into(),
        home: tempfile::tempdir().unwrap(),
    };
    for (group, actions) in [
        (
            "iam",
            &[
                "create-user",
                "get-user",
                "list-users",
                "delete-user",
                "revoke-user-sessions",
                "create-access-key",
                "list-access-keys",
                "update-access-key",
                "delete-access-key",
                "put-user-policy",
                "get-user-policy",
                "list-user-policies",
                "delete-user-policy",
                "simulate-principal-policy",
            ][..],
        ),
        ("sts", &["get-session-token", "get-caller-identity"][..]),
        ("audit", &["tail", "verify"][..]),
    ] {
        let listing = cli.run(&Env::new(), group, &["--help"]).ok().stdout;
        for action in actions {
            let row = listing
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{action} ")))
                .unwrap_or_else(|| panic!("{group} {action} is not listed:\n{listing}"));
            let description = row.trim_start().strip_prefix(action).unwrap().trim();
            assert!(description.len() > 20, "{group} {action}: {row}");
            let help = cli.run(&Env::new(), group, &[action, "--help"]).ok().stdout;
            assert!(!help.lines().next().unwrap().is_empty());
        }
    }
    let alias = cli.run(&Env::new(), "iam simulate-policy --help", &[]).ok();
    assert!(alias.stdout.contains("--user-name"));
}
