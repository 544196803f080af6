//! `vaultctl fields` end to end: the real binary against an in-process server (and offline, with
//! no server and no credentials, in public-key mode), checking what a user sees.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Stdio};

use serde_json::{Value, json};

use crate::common::*;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs vaultctl in `home` with `env` as its only VAULTD_* variables.
fn vaultctl(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = vaultctl_command();
    let output = cmd
        .env("HOME", home)
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn root_env(endpoint: &str) -> Vec<(&str, &str)> {
    vec![
        ("VAULTD_ENDPOINT", endpoint),
        ("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
        ("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET),
    ]
}

#[track_caller]
fn ok(run: Run) -> String {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
}

fn record() -> Value {
    json!({"name": "Ada", "ssn": "123-45-6789", "email": "ada@example.com", "card": {"cvc": 123}})
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_encrypt_and_decrypt_through_files_and_stdout() {
    let server = TestServer::start().await;
    let key = create_key(&server.client()).await;
    let endpoint = server.endpoint();
    let env = root_env(&endpoint);
    let home = tempfile::tempdir().unwrap();
    let doc = home.path().join("person.json");
    std::fs::write(&doc, record().to_string()).unwrap();
    let enc = home.path().join("person.enc.json");
    let doc_arg = doc.to_str().unwrap();
    let enc_arg = enc.to_str().unwrap();

    let args = [
        "fields",
        "encrypt",
        "--key-id",
        &key,
        "--path",
        "/ssn",
        "--path",
        "/card",
        "--deterministic-path",
        "/email",
        "--context",
        "tenant=42",
        doc_arg,
        "-o",
        enc_arg,
    ];
    assert_eq!(ok(vaultctl(home.path(), &args, &env)), "");
    let mode = std::fs::metadata(&enc).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let encrypted: Value = serde_json::from_str(&std::fs::read_to_string(&enc).unwrap()).unwrap();
    assert!(encrypted["ssn"].as_str().unwrap().starts_with("vfe1:"));
    assert_eq!(encrypted["name"], "Ada");
    assert_eq!(encrypted["_vfe"]["ctx"], json!({"tenant": "42"}));

    // An existing output needs --force.
    let again = vaultctl(home.path(), &args, &env);
    assert_eq!(again.code, 252, "{}", again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    let decrypted = ok(vaultctl(home.path(), &["fields", "decrypt", enc_arg], &env));
    assert_eq!(serde_json::from_str::<Value>(&decrypted).unwrap(), record());
    let wrong_context = vaultctl(
        home.path(),
        &["fields", "decrypt", "--context", "tenant=43", enc_arg],
        &env,
    );
    assert_eq!(wrong_context.code, 254, "{}", wrong_context.stderr);
    assert!(
        wrong_context.stderr.contains("InvalidCiphertextException"),
        "{}",
        wrong_context.stderr
    );

    // A tampered document: the MAC fails before anything is decrypted.
    let mut tampered = encrypted.clone();
    tampered["email"] = encrypted["ssn"].clone();
    std::fs::write(&enc, tampered.to_string()).unwrap();
    let run = vaultctl(home.path(), &["fields", "decrypt", enc_arg], &env);
    assert_eq!(run.code, 254, "{}", run.stderr);
    assert!(
        run.stderr.contains("InvalidCiphertextException"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    assert!(!run.stderr.contains("123-45-6789"));

    let no_path = vaultctl(
        home.path(),
        &["fields", "encrypt", "--key-id", &key, doc_arg],
        &env,
    );
    assert_eq!(no_path.code, 252, "{}", no_path.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn public_key_mode_works_offline_and_decrypts_through_vaultd() {
    let server = TestServer::start().await;
    let client = server.client();
    let key = client
        .create_key(vaultd::pb::CreateKeyRequest {
            key_spec: vaultd::pb::KeySpec::Rsa3072.into(),
            key_usage: vaultd::pb::KeyUsage::EncryptDecrypt.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let endpoint = server.endpoint();
    let env = root_env(&endpoint);
    let home = tempfile::tempdir().unwrap();
    let pem = home.path().join("key.pem");
    let pem_arg = pem.to_str().unwrap();
    ok(vaultctl(
        home.path(),
        &[
            "kms",
            "get-public-key",
            "--key-id",
            &key.key_id,
            "--output",
            "pem",
            "--outfile",
            pem_arg,
        ],
        &env,
    ));
    let doc = home.path().join("person.json");
    std::fs::write(&doc, record().to_string()).unwrap();
    let doc_arg = doc.to_str().unwrap();

    // No endpoint, no credentials: nothing is sent.
    let offline = |extra: &[&str]| {
        let mut args = vec![
            "fields",
            "encrypt",
            "--public-key",
            pem_arg,
            "--path",
            "/ssn",
        ];
        args.extend_from_slice(extra);
        args.push(doc_arg);
        vaultctl(home.path(), &args, &[])
    };
    let encrypted = ok(offline(&["--key-id", &key.arn, "--context", "edge=cdn"]));
    let value: Value = serde_json::from_str(&encrypted).unwrap();
    assert_eq!(value["_vfe"]["wrap"], "rsa-oaep-sha256");
    assert_eq!(value["_vfe"]["key"], key.arn.as_str());

    let enc = home.path().join("edge.json");
    std::fs::write(&enc, &encrypted).unwrap();
    let decrypted = ok(vaultctl(
        home.path(),
        &["fields", "decrypt", enc.to_str().unwrap()],
        &env,
    ));
    assert_eq!(serde_json::from_str::<Value>(&decrypted).unwrap(), record());

    // Offline needs the key's ARN, and random mode only.
    let alias = offline(&["--key-id", &key.key_id]);
    assert_eq!(alias.code, 252, "{}", alias.stderr);
    assert!(alias.stderr.contains("ARN"), "{}", alias.stderr);
    let deterministic = offline(&["--key-id", &key.arn, "--deterministic-path", "/email"]);
    assert_eq!(deterministic.code, 252, "{}", deterministic.stderr);
}
