//! Python scripts as tests: virtualenvs built from a pinned requirements file, and a script run in
//! one against a `vaultd` child process, failing with the script's output and the daemon's log.
//!
//! Each venv lives under CARGO_TARGET_TMPDIR, is created on first use and reused while its
//! requirements file is unchanged and its smoke check still imports (see scripts.rs). A missing
//! python3 or a failed `pip install` fails the test: it never skips.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::{
    common::Daemon,
    scripts::{MANIFEST_DIR, install_once, run, run_script_checked, succeeds, target_tmp},
};

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
        let venv = target_tmp()?.join(format!("{}-venv", self.name));
        let python = venv.join("bin").join("python");
        install_once(
            &venv,
            &requirements_path,
            &format!("vaultd-{}-requirements.txt", self.name),
            || succeeds(Command::new(&python).args(["-c", self.smoke_check])),
            || {
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
                )
            },
        )?;
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
    run_script_checked(&mut cmd, &script, daemon, timeout);
}
