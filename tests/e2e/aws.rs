//! The AWS wire protocols (awsJson1_1 for KMS, SSM and Secrets Manager; awsQuery for STS and IAM;
//! SigV4) spoken by `vaultd --aws-listen`, proved with the real AWS clients from PyPI: boto3, the
//! AWS CLI v1 and the AWS Encryption SDK, which assert what they return against real AWS. One test
//! and one fresh `vaultd --dev --aws-listen 127.0.0.1:0` per script of tests/aws/:
//! - boto3_kms.py: keys, aliases, encryption, data keys, signing, MACs, rotation, life cycle;
//! - boto3_ssm.py: Parameter Store, SecureString, paths, history, labels;
//! - boto3_secrets.py: Secrets Manager, versions and stages, deletion and restore;
//! - boto3_sts_iam.py: STS, IAM users / policies / access keys, session credentials, and SigV4
//!   failures (wrong secret, unknown key, unsigned, clock skew);
//! - aws_cli.py: the `aws` command line, its JSON output and exit codes;
//! - encryption_sdk.py: the AWS Encryption SDK's KMS master key providers.
//!
//! The clients live in a virtualenv under CARGO_TARGET_TMPDIR built from tests/aws/requirements.txt
//! (see python.rs).
//!
//! A second, independent SDK proves the same front end with another SigV4 signer and other
//! serializers: the AWS SDK for JavaScript v3 (Smithy TypeScript), whose tests/aws-js/sdk_v3.mjs
//! covers KMS, SSM, Secrets Manager, STS and SigV4 failures. Its npm packages are installed from
//! tests/aws-js/package-lock.json under CARGO_TARGET_TMPDIR (see node.rs).
//!
//! Each script gets only the standard AWS environment for the daemon's root credentials: none of
//! the developer's own AWS_* variables, config or credentials files.

use std::{path::Path, process::Command, time::Duration};

use tempfile::TempDir;

use crate::{
    common::{
        AWS_LISTENING, Daemon, FIXED_CREDS, GRPC_LISTENING, ROOT_ACCESS_KEY_ID, ROOT_SECRET,
        address_after,
    },
    node::{NodePackages, run_node_script},
    python::{Venv, run_script},
};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

/// boto3 / botocore, the AWS CLI v1 (with its `aws` entry point), the AWS Encryption SDK and
/// pyca/cryptography.
const AWS_VENV: Venv = Venv {
    name: "aws",
    requirements: "tests/aws/requirements.txt",
    smoke_check: "import os, sys, boto3, botocore.auth, awscli.clidriver, aws_encryption_sdk, \
                  cryptography.hazmat.primitives.asymmetric.ec; \
                  from aws_encryption_sdk import StrictAwsKmsMasterKeyProvider; \
                  assert os.access(os.path.join(sys.prefix, 'bin', 'aws'), os.X_OK), 'no aws entry point'",
};

/// The AWS SDK for JavaScript v3's KMS, STS, SSM and Secrets Manager clients.
const AWS_JS: NodePackages = NodePackages {
    name: "aws-js",
    dir: "tests/aws-js",
    smoke_check: "await import('@aws-sdk/client-kms'); await import('@aws-sdk/client-sts'); \
                  await import('@aws-sdk/client-ssm'); await import('@aws-sdk/client-secrets-manager');",
};

#[test]
fn aws_boto3_kms() {
    run_aws_script("boto3_kms.py");
}

#[test]
fn aws_boto3_ssm() {
    run_aws_script("boto3_ssm.py");
}

#[test]
fn aws_boto3_secrets_manager() {
    run_aws_script("boto3_secrets.py");
}

#[test]
fn aws_boto3_sts_iam_and_sigv4() {
    run_aws_script("boto3_sts_iam.py");
}

#[test]
fn aws_cli_v1() {
    run_aws_script("aws_cli.py");
}

#[test]
fn aws_encryption_sdk() {
    run_aws_script("encryption_sdk.py");
}

/// The AWS SDK for JavaScript v3 (another SigV4 signer, Smithy TypeScript's serializers) against a
/// fresh `vaultd --dev --aws-listen 127.0.0.1:0`, as root.
#[test]
fn aws_sdk_for_javascript_v3() {
    let installed = AWS_JS
        .install()
        .unwrap_or_else(|e| panic!("aws-js packages: {e}"));
    let dir = TempDir::new().unwrap();
    let daemon = start_aws_daemon(&dir.path().join("data"));
    let home = TempDir::new().unwrap();
    run_node_script(
        &installed,
        "tests/aws-js/sdk_v3.mjs",
        Some(&daemon),
        SCRIPT_TIMEOUT,
        |cmd| aws_environment(cmd, &daemon.aws_endpoint(), home.path()),
    );
}

/// Every action the AWS front end offers, with its members, their types and enum values, is as
/// AWS's own service models (botocore's) describe it; what is vaultd's own is listed in the
/// checker with its reason.
#[test]
fn aws_actions_match_the_aws_service_models() {
    let python = AWS_VENV
        .python()
        .unwrap_or_else(|e| panic!("aws venv: {e}"));
    let dir = TempDir::new().unwrap();
    let model = dir.path().join("vaultd-aws-model.json");
    std::fs::write(&model, vaultd::aws::model().to_string()).unwrap();
    run_script(
        &python,
        "tests/aws/model_check.py",
        None,
        SCRIPT_TIMEOUT,
        |cmd| {
            cmd.arg(&model);
        },
    );
}

/// The harness finds the AWS endpoint in vaultd's log, text or JSON, and never mistakes one
/// listener's line for the other's.
#[test]
fn aws_endpoint_is_read_from_the_log() {
    let text = "2026-11-27T03:16:18Z  INFO vaultd AWS endpoint listening on http://127.0.0.1:4599";
    let json = r#"{"level":"INFO","fields":{"message":"vaultd AWS endpoint listening on http://[::1]:4600"}}"#;
    assert_eq!(
        address_after(text, AWS_LISTENING),
        Some("127.0.0.1:4599".parse().unwrap())
    );
    assert_eq!(
        address_after(json, AWS_LISTENING),
        Some("[::1]:4600".parse().unwrap())
    );
    assert_eq!(address_after(text, GRPC_LISTENING), None);
    assert_eq!(
        address_after("INFO vaultd listening on 127.0.0.1:7730", AWS_LISTENING),
        None
    );
    assert_eq!(
        address_after("INFO vaultd listening on 127.0.0.1:7730", GRPC_LISTENING),
        Some("127.0.0.1:7730".parse().unwrap())
    );
}

/// Runs tests/aws/`name` in the AWS venv against a fresh `vaultd --dev --aws-listen 127.0.0.1:0`,
/// with root's credentials; panics with its output and the daemon's log unless it exits 0.
fn run_aws_script(name: &str) {
    let dir = TempDir::new().unwrap();
    let daemon = start_aws_daemon(&dir.path().join("data"));
    run_aws_script_on(name, &daemon, &daemon.aws_endpoint(), &[]);
}

/// A fresh `vaultd --dev --aws-listen 127.0.0.1:0` on `data`, with the fixed root credentials.
fn start_aws_daemon(data: &Path) -> Daemon {
    Daemon::start(
        &[
            "--dev",
            "--data-dir",
            data.to_str().unwrap(),
            "--aws-listen",
            "127.0.0.1:0",
        ],
        &FIXED_CREDS,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs tests/aws/`name` in the AWS venv against `endpoint` of `daemon`, with root's credentials
/// and `extra` variables; panics with its output and the daemon's log unless it exits 0.
pub fn run_aws_script_on(name: &str, daemon: &Daemon, endpoint: &str, extra: &[(&str, &str)]) {
    let python = AWS_VENV
        .python()
        .unwrap_or_else(|e| panic!("aws venv: {e}"));
    let home = TempDir::new().unwrap();
    run_script(
        &python,
        &format!("tests/aws/{name}"),
        Some(daemon),
        SCRIPT_TIMEOUT,
        |cmd| {
            aws_environment(cmd, endpoint, home.path());
            for (name, value) in extra {
                cmd.env(name, value);
            }
        },
    );
}

/// The standard AWS environment for root's credentials against `endpoint`, and only that: the
/// developer's own AWS settings (profiles, regions, endpoints, credentials) never reach the
/// clients. The region is in both variables: botocore reads AWS_DEFAULT_REGION, the JavaScript SDK
/// AWS_REGION.
fn aws_environment(cmd: &mut Command, endpoint: &str, home: &Path) {
    for (var, _) in std::env::vars_os() {
        let var_name = var.to_string_lossy();
        if var_name.starts_with("AWS_") || var_name == "AWSCHECK_CONTINUE" {
            cmd.env_remove(&var);
        }
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("HOME", home);
}
