//! Python scripts as tests: virtualenvs built from a pinned requirements file, and a script run in
//! one against a `vaultd` child process, failing with the script's output and the daemon's log.
//!
//! Each venv lives under CARGO_TARGET_TMPDIR, is created on first use and reused while its
//! requirements file is unchanged and its smoke check still imports. A missing python3 or a failed
//! `pip install` fails the test: it never skips.

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

/// A virtualenv the tests need: where its requirements are and how to tell it is usable.
pub struct Venv {
    /// Names the venv's directory (`<name>-venv`), its lock and its marker file.
    pub name: &'static str,
    /// The requirements file, relative to the package root.
    pub requirements: &'static str,
    /// Python source that succeeds only when the venv has what the scripts import.
    pub smoke_check: &'static str,
}

impl Venv {
    /// Returns the venv's python, after creating the venv and installing the requirements into
    /// it unless a previous run did so with the same requirements.
    pub fn python(&self) -> Result<PathBuf, String> {
        let requirements_path = Path::new(MANIFEST_DIR).join(self.requirements);
        let requirements = fs::read_to_string(&requirements_path)
            .map_err(|e| format!("{}: {e}", requirements_path.display()))?;
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        fs::create_dir_all(tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let venv = tmp.join(format!("{}-venv", self.name));
        let python = venv.join("bin").join("python");
        let marker = venv.join(format!("vaultd-{}-requirements.txt", self.name));

        // Serialise with any other test process setting up the same venv.
        let lock_path = tmp.join(format!("{}-venv.lock", self.name));
        let lock =
            fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
        lock.lock()
            .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;

        let cached = fs::read_to_string(&marker).is_ok_and(|m| m == requirements)
            && Command::new(&python)
                .args(["-c", self.smoke_check])
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
        run(
            Command::new(&python).args(["-c", self.smoke_check]),
            &format!("the {} venv's smoke check", self.name),
        )?;
        fs::write(&marker, &requirements).map_err(|e| format!("{}: {e}", marker.display()))?;
        Ok(python)
    }
}

/// Runs `script` (relative to the package root) with `python` in isolated mode, its environment
/// and arguments set by `configure`; panics with its output and the daemon's log (if it runs
/// against one) unless it exits 0 within `timeout`. Prints the script's stdout (its list of
/// checks) when it passes.
pub fn run_script(
    python: &Path,
    script: &str,
    daemon: Option<&Daemon>,
    timeout: Duration,
    configure: impl FnOnce(&mut Command),
) {
    let script = Path::new(MANIFEST_DIR).join(script);
    let mut cmd = Command::new(python);
    cmd.arg("-I") // isolated: no PYTHON* variables, no user site-packages, no script dir on sys.path
        .arg("-B") // no __pycache__
        .arg(&script);
    configure(&mut cmd);
    let started = Instant::now();
    let out = run_with_timeout(&mut cmd, timeout)
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
