//! Scripts in other languages as tests, whatever the language: their pinned packages installed
//! once under CARGO_TARGET_TMPDIR and reused while the pinning file is unchanged, child processes
//! run with a timeout, and a script's failure reported with its output and the daemon's log.
//! python.rs (virtualenvs) and node.rs (npm packages) build on these.

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::common::Daemon;

pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// CARGO_TARGET_TMPDIR, created if missing.
pub fn target_tmp() -> Result<PathBuf, String> {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    Ok(tmp)
}

/// Makes `dir` (under CARGO_TARGET_TMPDIR) with `install` unless a previous run did so from the
/// same `pinned` file (its content is kept in `dir`/`marker_name`) and `usable` still says yes.
/// Serialised with any other test process setting up the same `dir` by a lock beside it.
pub fn install_once(
    dir: &Path,
    pinned: &Path,
    marker_name: &str,
    usable: impl FnOnce() -> bool,
    install: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let pinned_content =
        fs::read_to_string(pinned).map_err(|e| format!("{}: {e}", pinned.display()))?;
    let marker = dir.join(marker_name);

    let lock_path = dir.with_extension("lock");
    let lock = fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;

    if fs::read_to_string(&marker).is_ok_and(|m| m == pinned_content) && usable() {
        return Ok(());
    }
    let _ = fs::remove_file(&marker);
    install()?;
    fs::write(&marker, &pinned_content).map_err(|e| format!("{}: {e}", marker.display()))
}

/// Runs `cmd` (a script's interpreter, with `script` and its environment set) and panics with
/// its output and the daemon's log (if it runs against one) unless it exits 0 within `timeout`.
/// Prints the script's stdout (its list of checks) when it passes.
pub fn run_script_checked(
    cmd: &mut Command,
    script: &Path,
    daemon: Option<&Daemon>,
    timeout: Duration,
) {
    let started = Instant::now();
    let out = run_with_timeout(cmd, timeout)
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.success,
        "{} failed ({}) after {:.1?}\n--- stdout\n{}\n--- stderr\n{}\n--- vaultd log\n{}",
        script.display(),
        out.status,
        started.elapsed(),
        out.stdout,
        out.stderr,
        daemon.map(Daemon::log).unwrap_or_default(),
    );
    print!("{}", out.stdout);
}

/// Runs `cmd` to completion; an error (with its output) unless it exits 0.
pub fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
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

/// Whether `cmd` exits 0, its output discarded.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
