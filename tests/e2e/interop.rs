//! Interop: Python clients generated from `proto/` alone, signing with the rule of auth.md, against
//! the real `vaultd` binary:
//! - tests/interop/kms_client.py: CreateKey / Encrypt / Decrypt / GenerateDataKey, then an
//!   application user with a narrow policy working on its session credentials;
//! - tests/interop/asymmetric.py: RSA, ECC and HMAC keys and imported key material, checked against
//!   an independent implementation (pyca/cryptography).
//!
//! The Python packages live in a virtualenv under CARGO_TARGET_TMPDIR, created on first use and
//! reused while tests/interop/requirements.txt is unchanged. A missing python3 or a failed
//! `pip install` fails the test: it never skips.

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::common::{Daemon, ROOT_ACCESS_KEY_ID, ROOT_SECRET};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

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
    let python = prepare_venv().unwrap_or_else(|e| panic!("interop venv: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(
        &["--dev", "--data-dir", data.to_str().unwrap()],
        &[
            ("VAULTD_ROOT_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
            ("VAULTD_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let script = Path::new(MANIFEST_DIR).join("tests/interop").join(name);
    let mut cmd = Command::new(&python);
    cmd.arg("-I") // isolated: no PYTHON* variables, no user site-packages, no script dir on sys.path
        .arg("-B") // no __pycache__
        .arg(&script)
        .env("VAULTD_ENDPOINT", daemon.addr.to_string())
        .env("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
        .env("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET);
    let started = Instant::now();
    let out = run_with_timeout(&mut cmd, SCRIPT_TIMEOUT)
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.success,
        "{} failed ({}) after {:.1?}\n--- stdout\n{}\n--- stderr\n{}\n--- vaultd log\n{}",
        script.display(),
        out.status,
        started.elapsed(),
        out.stdout,
        out.stderr,
        daemon.log(),
    );
    print!("{}", out.stdout);
}

/// Returns the venv's python, after creating the venv and installing requirements.txt into it
/// unless a previous run did so with the same requirements.
fn prepare_venv() -> Result<PathBuf, String> {
    let requirements_path = Path::new(MANIFEST_DIR).join("tests/interop/requirements.txt");
    let requirements = fs::read_to_string(&requirements_path)
        .map_err(|e| format!("{}: {e}", requirements_path.display()))?;
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let venv = tmp.join("interop-venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join("vaultd-interop-requirements.txt");

    // Serialise with any other test process setting up the same venv.
    let lock_path = tmp.join("interop-venv.lock");
    let lock = fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;

    let cached = fs::read_to_string(&marker).is_ok_and(|m| m == requirements)
        && Command::new(&python)
            .args([
                "-c",
                "import grpc, grpc_tools.protoc, grpc_status, google.rpc.status_pb2, \
                 cryptography.hazmat.primitives.keywrap",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if cached {
        return Ok(python);
    }

    let _ = fs::remove_file(&marker);
    run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "python3 -m venv (is python3 with the venv module installed?)",
    )?;
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&requirements_path),
        &format!("pip install -r {}", requirements_path.display()),
    )?;
    run(
        Command::new(&python).args(["-m", "pip", "check"]),
        "pip check",
    )?;
    fs::write(&marker, &requirements).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(python)
}

/// Runs `cmd` to completion; an error (with its output) unless it exits 0.
fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out =
        run_with_timeout(cmd, Duration::from_secs(600)).map_err(|e| format!("{what}: {e}"))?;
    if out.success {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status, out.stdout, out.stderr
    ))
}

struct Finished {
    success: bool,
    status: String,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with piped output, killing it after `timeout`.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Finished, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let (success, status) = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break (status.success(), status.to_string()),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break (false, format!("killed after {timeout:?}"));
            }
            None => thread::sleep(Duration::from_millis(20)),
        }
    };
    Ok(Finished {
        success,
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
