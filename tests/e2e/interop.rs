//! Interop: Python clients generated from `proto/` alone, signing with the rule of auth.md, against
//! the real `vaultd` binary:
//! - tests/interop/kms_client.py: CreateKey / Encrypt / Decrypt / GenerateDataKey, then an
//!   application user with a narrow policy working on its session credentials;
//! - tests/interop/asymmetric.py: RSA, ECC and HMAC keys and imported key material, checked against
//!   an independent implementation (pyca/cryptography).
//!
//! The Python packages live in a virtualenv under CARGO_TARGET_TMPDIR, created on first use and
//! reused while tests/interop/requirements.txt is unchanged (see python.rs). A missing python3 or
//! a failed `pip install` fails the test: it never skips.

use std::time::Duration;

use crate::{
    common::{Daemon, FIXED_CREDS, ROOT_ACCESS_KEY_ID, ROOT_SECRET},
    python::{Venv, run_script},
};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// grpcio and its tools for the stubs, grpc-status for the error details, pyca/cryptography.
const INTEROP_VENV: Venv = Venv {
    name: "interop",
    requirements: "tests/interop/requirements.txt",
    smoke_check: "import grpc, grpc_tools.protoc, grpc_status, google.rpc.status_pb2, \
                  cryptography.hazmat.primitives.keywrap",
};

#[test]
fn python_client_from_proto_alone() {
    run_interop_script("kms_client.py");
}

#[test]
fn python_asymmetric_keys_and_import() {
    run_interop_script("asymmetric.py");
}

/// Runs tests/interop/`name` in the interop venv against a fresh `vaultd --dev`, as root; panics
/// with its output and the daemon's log unless it exits 0.
fn run_interop_script(name: &str) {
    let python = INTEROP_VENV
        .python()
        .unwrap_or_else(|e| panic!("interop venv: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(
        &["--dev", "--data-dir", data.to_str().unwrap()],
        &FIXED_CREDS,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    run_script(
        &python,
        &format!("tests/interop/{name}"),
        Some(&daemon),
        SCRIPT_TIMEOUT,
        |cmd| {
            cmd.env("VAULTD_ENDPOINT", daemon.addr.to_string())
                .env("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
                .env("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET);
        },
    );
}
