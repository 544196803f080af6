//! `vaultctl ssm` end to end: the real binary against an in-process server, as root, checking what
//! a user sees (stdout, stderr, exit status) of every Parameter Store action. Each run gets a
//! temporary HOME and only the VAULTD_* variables the test gives it.

use std::process::Stdio;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::common::*;

const ARN_PREFIX: &str = "arn:aws:ssm:us-east-1:000000000000:parameter/";

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
    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    /// Runs `vaultctl --no-retry` with `line` (split at spaces) then `tail` (values that hold
    /// spaces or vary).
    fn run(&self, line: &str, tail: &[&str]) -> Output {
        let mut cmd = vaultctl_command();
        let output = cmd
            .env("HOME", self.home.path())
            .env("VAULTD_ENDPOINT", &self.endpoint)
            .env("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
            .env("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET)
            .arg("--no-retry")
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

    /// `ssm put-parameter` of a new parameter; returns its version.
    #[track_caller]
    fn put(&self, name: &str, kind: &str, value: &str) -> i64 {
        let line = format!("ssm put-parameter --type {kind} --name {name} --value");
        self.run(&line, &[value]).json()["Version"]
            .as_i64()
            .unwrap()
    }

    /// The names of a list answer's Parameters.
    fn names(answer: &Value) -> Vec<String> {
        answer["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_string())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parameters_put_get_overwrite_label_and_history() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);

    let put = cli.run(
        "ssm put-parameter --name /app/greeting --value hello --type String",
        &["--description", "a greeting"],
    );
    assert_eq!(put.json(), json!({"Version": 1, "Tier": "Standard"}));
    assert_eq!(
        cli.put("/app/hosts", "StringList", "a.example,b.example"),
        1
    );
    // The value from a file, as the AWS CLI reads file://: its text exactly.
    let secret_file = cli.write("password.txt", "correct horse\n");
    let line = "ssm put-parameter --name /app/db/password --type SecureString --value";
    let put = cli.run(line, &[&format!("file://{secret_file}")]).ok();
    assert!(!put.stdout.contains("correct horse"), "{}", put.stdout);

    // A String parameter, as the AWS CLI prints it: no Selector without one.
    let got = cli
        .run("ssm get-parameter --name /app/greeting", &[])
        .json();
    let parameter = &got["Parameter"];
    let fields: Vec<&str> = parameter
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "Name",
            "Type",
            "Value",
            "Version",
            "LastModifiedDate",
            "ARN",
            "DataType"
        ]
    );
    assert_eq!(parameter["Name"], "/app/greeting");
    assert_eq!(parameter["Type"], "String");
    assert_eq!(parameter["Value"], "hello");
    assert_eq!(parameter["Version"], 1);
    assert_eq!(parameter["ARN"], format!("{ARN_PREFIX}app/greeting"));
    assert_eq!(parameter["DataType"], "text");
    let modified = parameter["LastModifiedDate"].as_str().unwrap();
    assert!(modified.ends_with("+00:00"), "{modified}");
    let hosts = cli.run("ssm get-parameter --name /app/hosts", &[]).json();
    assert_eq!(hosts["Parameter"]["Type"], "StringList");
    assert_eq!(hosts["Parameter"]["Value"], "a.example,b.example");

    // A SecureString: without --with-decryption its value is the ciphertext's base64.
    let sealed = cli
        .run("ssm get-parameter --name /app/db/password", &[])
        .json();
    assert_eq!(sealed["Parameter"]["Type"], "SecureString");
    let sealed_value = sealed["Parameter"]["Value"].as_str().unwrap();
    assert_ne!(sealed_value, "correct horse\n");
    let blob = STANDARD
        .decode(sealed_value)
        .expect("base64 of a ciphertext");
    assert!(!String::from_utf8_lossy(&blob).contains("correct horse"));
    let line = "ssm get-parameter --name /app/db/password --no-with-decryption --with-decryption \
                --query Parameter.Value --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, "correct horse\n\n");
    let line = "ssm get-parameter --name /app/db/password --with-decryption --no-with-decryption";
    assert_eq!(cli.run(line, &[]).json(), sealed, "the last flag wins");

    // An existing name needs --overwrite; with it, a new version (the description kept).
    let again = cli.run(
        "ssm put-parameter --name /app/greeting --value bonjour --type String",
        &[],
    );
    again.service_error("ParameterAlreadyExists", "PutParameter");
    let line = "ssm put-parameter --name /app/greeting --value bonjour --overwrite";
    assert_eq!(
        cli.run(line, &[]).json(),
        json!({"Version": 2, "Tier": "Standard"})
    );

    // Labels select a version: NAME:LABEL, echoed as the Selector.
    let label = cli.run(
        "ssm label-parameter-version --name /app/greeting --parameter-version 1 --labels prod",
        &[],
    );
    assert_eq!(
        label.json(),
        json!({"InvalidLabels": [], "ParameterVersion": 1})
    );
    let line = "ssm label-parameter-version --name /app/greeting --labels latest 9bad";
    assert_eq!(
        cli.run(line, &[]).json(),
        json!({"InvalidLabels": ["9bad"], "ParameterVersion": 2})
    );
    let prod = cli
        .run("ssm get-parameter --name /app/greeting:prod", &[])
        .json();
    assert_eq!(prod["Parameter"]["Value"], "hello");
    assert_eq!(prod["Parameter"]["Version"], 1);
    assert_eq!(prod["Parameter"]["Selector"], ":prod");
    let latest = cli
        .run("ssm get-parameter --name /app/greeting", &[])
        .json();
    assert_eq!(latest["Parameter"]["Value"], "bonjour");
    assert_eq!(latest["Parameter"]["Version"], 2);
    assert!(latest["Parameter"].get("Selector").is_none());
    cli.run("ssm get-parameter --name /app/greeting:staging", &[])
        .service_error("ParameterVersionNotFound", "GetParameter");

    // The history, oldest first, with labels, tier and the writer.
    let history = cli
        .run("ssm get-parameter-history --name /app/greeting", &[])
        .json();
    let versions = history["Parameters"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{history}");
    assert!(history.get("NextToken").is_none());
    assert_eq!(versions[0]["Version"], 1);
    assert_eq!(versions[0]["Value"], "hello");
    assert_eq!(versions[0]["Labels"], json!(["prod"]));
    assert_eq!(versions[0]["Description"], "a greeting");
    assert_eq!(versions[0]["Tier"], "Standard");
    assert_eq!(versions[0]["Policies"], json!([]));
    assert_eq!(versions[1]["Value"], "bonjour");
    assert_eq!(versions[1]["Labels"], json!(["latest"]));
    assert_eq!(versions[1]["Description"], "a greeting");
    let user = versions[1]["LastModifiedUser"].as_str().unwrap();
    assert!(user.starts_with("arn:aws:iam::000000000000:"), "{user}");
    // Paged one version at a time, the CLI follows NextToken; --max-results returns one page.
    let line = "ssm get-parameter-history --name /app/greeting --page-size 1";
    assert_eq!(cli.run(line, &[]).json(), history);
    let line = "ssm get-parameter-history --name /app/greeting --max-results 1";
    let first = cli.run(line, &[]).json();
    assert_eq!(first["Parameters"].as_array().unwrap().len(), 1);
    assert!(first["NextToken"].is_string(), "{first}");
    let secret_history = cli
        .run(
            "ssm get-parameter-history --name /app/db/password --with-decryption",
            &[],
        )
        .json();
    assert_eq!(secret_history["Parameters"][0]["Value"], "correct horse\n");
    assert_eq!(secret_history["Parameters"][0]["KeyId"], "alias/aws/ssm");

    let line = "ssm unlabel-parameter-version --name /app/greeting --parameter-version 1 \
                --labels prod nope";
    assert_eq!(
        cli.run(line, &[]).json(),
        json!({"RemovedLabels": ["prod"], "InvalidLabels": ["nope"]})
    );

    // Several at once: the missing ones are listed, not an error.
    let line = "ssm get-parameters --names /app/greeting /app/missing /app/db/password \
                --with-decryption";
    let several = cli.run(line, &[]).json();
    assert_eq!(
        Vaultctl::names(&several),
        ["/app/greeting", "/app/db/password"]
    );
    assert_eq!(several["Parameters"][1]["Value"], "correct horse\n");
    assert_eq!(several["InvalidParameters"], json!(["/app/missing"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_pages_and_filters() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);
    for (name, kind, value) in [
        ("/svc/a", "String", "1"),
        ("/svc/b", "StringList", "x,y"),
        ("/svc/deep/c", "String", "3"),
        ("/svc/deep/d", "SecureString", "four"),
        ("/svc/deep/e", "String", "5"),
        ("/other/x", "String", "elsewhere"),
    ] {
        assert_eq!(cli.put(name, kind, value), 1);
    }
    let under_svc = [
        "/svc/a",
        "/svc/b",
        "/svc/deep/c",
        "/svc/deep/d",
        "/svc/deep/e",
    ];

    // One level, or all of them.
    let direct = cli
        .run("ssm get-parameters-by-path --path /svc", &[])
        .json();
    assert_eq!(Vaultctl::names(&direct), ["/svc/a", "/svc/b"]);
    let all = cli
        .run("ssm get-parameters-by-path --path /svc --recursive", &[])
        .json();
    assert_eq!(Vaultctl::names(&all), under_svc);
    assert!(all.get("NextToken").is_none());
    let sealed = &all["Parameters"][3];
    assert_eq!(sealed["Type"], "SecureString");
    assert_ne!(sealed["Value"], "four");

    // Pages of one: the CLI follows NextToken to the last page and merges them.
    let line = "ssm get-parameters-by-path --path /svc --recursive --page-size 1";
    assert_eq!(cli.run(line, &[]).json(), all);
    let line = "ssm get-parameters-by-path --path /svc/ --recursive --page-size 1 \
                --query Parameters[].Name --output text";
    assert_eq!(cli.run(line, &[]).ok().stdout, under_svc.join("\t") + "\n");

    // --max-results: one page and its NextToken, as the AWS CLI does; --next-token goes on.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let line = "ssm get-parameters-by-path --path /svc --recursive --max-results 2";
        let tail: Vec<&str> = token.iter().flat_map(|t| ["--next-token", t]).collect();
        let page = cli.run(line, &tail).json();
        let names = Vaultctl::names(&page);
        assert!(names.len() <= 2, "{page}");
        seen.extend(names);
        token = page
            .get("NextToken")
            .map(|t| t.as_str().unwrap().to_string());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, under_svc);

    // --max-items: that many, and a NextToken for --starting-token.
    let line = "ssm get-parameters-by-path --path /svc --recursive --max-items 3";
    let head = cli.run(line, &[]).json();
    assert_eq!(Vaultctl::names(&head), &under_svc[..3]);
    let next = head["NextToken"].as_str().expect("a NextToken").to_string();
    let line = "ssm get-parameters-by-path --path /svc --recursive --page-size 1 --starting-token";
    let rest = cli.run(line, &[&next]).json();
    assert_eq!(Vaultctl::names(&rest), &under_svc[3..]);
    assert!(rest.get("NextToken").is_none());
    let both = "ssm get-parameters-by-path --path /svc --max-results 1 --max-items 2";
    let refused = cli.run(both, &[]);
    assert_eq!(refused.code, 252, "{refused:?}");
    assert!(
        refused.stderr.contains("cannot be used with"),
        "{refused:?}"
    );

    // A Type filter, decrypted.
    let line = "ssm get-parameters-by-path --path /svc --recursive --with-decryption \
                --parameter-filters Key=Type,Option=Equals,Values=SecureString";
    let secure = cli.run(line, &[]).json();
    assert_eq!(Vaultctl::names(&secure), ["/svc/deep/d"]);
    assert_eq!(secure["Parameters"][0]["Value"], "four");

    // describe-parameters: metadata without values.
    let line = "ssm describe-parameters --parameter-filters Key=Type,Values=SecureString";
    let described = cli.run(line, &[]).json();
    assert_eq!(Vaultctl::names(&described), ["/svc/deep/d"]);
    let metadata = &described["Parameters"][0];
    assert!(metadata.get("Value").is_none(), "{metadata}");
    assert_eq!(metadata["ARN"], format!("{ARN_PREFIX}svc/deep/d"));
    assert_eq!(metadata["Type"], "SecureString");
    assert_eq!(metadata["KeyId"], "alias/aws/ssm");
    assert_eq!(metadata["Version"], 1);
    assert_eq!(metadata["Tier"], "Standard");
    assert_eq!(metadata["DataType"], "text");
    let line = "ssm describe-parameters --page-size 2 --query Parameters[].Name --output text \
                --parameter-filters";
    let filter = r#"[{"Key": "Name", "Option": "BeginsWith", "Values": ["/svc/deep"]}]"#;
    assert_eq!(
        cli.run(line, &[filter]).ok().stdout,
        "/svc/deep/c\t/svc/deep/d\t/svc/deep/e\n"
    );
    let line = "ssm describe-parameters --parameter-filters Key=Colour,Values=blue";
    cli.run(line, &[])
        .service_error("InvalidFilterKey", "DescribeParameters");
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_deletion_and_errors() {
    let server = TestServer::start().await;
    let cli = Vaultctl::new(&server);
    let line = "ssm put-parameter --name billing.rate --type String --value 42 \
                --tags Key=team,Value=payments";
    cli.run(line, &[]).ok();

    let list = "ssm list-tags-for-resource --resource-type Parameter --resource-id billing.rate";
    assert_eq!(
        cli.run(list, &[]).json(),
        json!({"TagList": [{"Key": "team", "Value": "payments"}]})
    );
    let line = "ssm add-tags-to-resource --resource-type Parameter --resource-id billing.rate \
                --tags Key=env,Value=prod Key=team,Value=billing";
    cli.run(line, &[]).silent();
    let listed = cli.run(list, &[]).json();
    let mut tags: Vec<(&str, &str)> = listed["TagList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["Key"].as_str().unwrap(), t["Value"].as_str().unwrap()))
        .collect();
    tags.sort();
    assert_eq!(tags, [("env", "prod"), ("team", "billing")]);
    let line = "ssm remove-tags-from-resource --resource-type Parameter --resource-id billing.rate \
                --tag-keys team";
    cli.run(line, &[]).silent();
    assert_eq!(
        cli.run(&format!("{list} --output text"), &[]).ok().stdout,
        "TAGLIST\tenv\tprod\n"
    );
    let line = "ssm list-tags-for-resource --resource-type Document --resource-id billing.rate";
    cli.run(line, &[])
        .service_error("InvalidResourceType", "ListTagsForResource");

    // A value that breaks the allowed pattern: refused, and the secret is not in the message.
    let line = "ssm put-parameter --name pin --type SecureString --allowed-pattern ^[0-9]+$ \
                --value hunter2-secret";
    let refused = cli.run(line, &[]);
    refused.service_error("ParameterPatternMismatchException", "PutParameter");
    assert!(!refused.stderr.contains("hunter2-secret"), "{refused:?}");

    // Bad flag values are usage errors, before anything is sent.
    let bad_type = cli.run("ssm put-parameter --name n --value v --type Secure", &[]);
    assert_eq!(bad_type.code, 252, "{bad_type:?}");
    let line = "ssm put-parameter --name n --type String --value";
    let missing_file = cli.run(line, &["file:///nonexistent/value.txt"]);
    assert_eq!(missing_file.code, 252, "{missing_file:?}");
    assert!(missing_file.stderr.contains("--value"), "{missing_file:?}");

    // Deletion: the parameter is gone.
    cli.run("ssm delete-parameter --name billing.rate", &[])
        .silent();
    cli.run("ssm get-parameter --name billing.rate", &[])
        .service_error("ParameterNotFound", "GetParameter");
    cli.run("ssm delete-parameter --name billing.rate", &[])
        .service_error("ParameterNotFound", "DeleteParameter");

    assert_eq!(cli.put("a", "String", "1"), 1);
    assert_eq!(cli.put("b", "String", "2"), 1);
    assert_eq!(
        cli.run("ssm delete-parameters --names a b missing", &[])
            .json(),
        json!({"DeletedParameters": ["a", "b"], "InvalidParameters": ["missing"]})
    );
    let described = cli.run("ssm describe-parameters", &[]).json();
    assert_eq!(described, json!({"Parameters": []}));
}
