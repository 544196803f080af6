//! Node.js scripts as tests: npm packages installed from a committed package-lock.json, and a
//! script run with them against a `vaultd` child process, failing with the script's output and
//! the daemon's log.
//!
//! The packages are installed with `npm ci --ignore-scripts` into a directory under
//! CARGO_TARGET_TMPDIR (never into the source tree), on first use, and reused while the
//! package-lock.json is unchanged and the smoke check still imports (see scripts.rs). A missing
//! node or npm, or a failed `npm ci`, fails the test: it never skips.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use tempfile::TempDir;

use crate::{
    common::Daemon,
    scripts::{MANIFEST_DIR, install_once, run, run_script_checked, succeeds, target_tmp},
};

/// npm packages the tests need: where their package.json and package-lock.json are and how to
/// tell an installation is usable.
pub struct NodePackages {
    /// Names the installation's directory under CARGO_TARGET_TMPDIR and its lock.
    pub name: &'static str,
    /// The directory holding package.json and package-lock.json, relative to the package root.
    pub dir: &'static str,
    /// An ES module, run in the installation's directory, that succeeds only when the scripts'
    /// imports resolve.
    pub smoke_check: &'static str,
}

impl NodePackages {
    /// Returns the directory with the installed `node_modules`, after running `npm ci` there
    /// unless a previous run did so with the same package-lock.json.
    pub fn install(&self) -> Result<PathBuf, String> {
        let source = Path::new(MANIFEST_DIR).join(self.dir);
        let lockfile = source.join("package-lock.json");
        let installed = target_tmp()?.join(self.name);
        let smoke_check = || {
            let mut node = Command::new("node");
            node.args(["--input-type=module", "--eval", self.smoke_check])
                .current_dir(&installed)
                .env_remove("NODE_OPTIONS")
                .env_remove("NODE_PATH");
            node
        };
        install_once(
            &installed,
            &lockfile,
            "vaultd-package-lock.json",
            || succeeds(&mut smoke_check()),
            || {
                fs::create_dir_all(&installed)
                    .map_err(|e| format!("{}: {e}", installed.display()))?;
                for file in ["package.json", "package-lock.json"] {
                    fs::copy(source.join(file), installed.join(file))
                        .map_err(|e| format!("copying {file} to {}: {e}", installed.display()))?;
                }
                run(
                    Command::new("npm")
                        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
                        .current_dir(&installed),
                    &format!(
                        "npm ci in {} (from {}; are node and npm installed?)",
                        installed.display(),
                        lockfile.display()
                    ),
                )?;
                run(
                    &mut smoke_check(),
                    &format!("the {} packages' smoke check", self.name),
                )
            },
        )?;
        Ok(installed)
    }
}

/// Runs `script` (relative to the package root) with node and the packages `installed` by
/// [`NodePackages::install`], its environment and arguments set by `configure`; panics with its
/// output and the daemon's log (if it runs against one) unless it exits 0 within `timeout`.
/// Prints the script's stdout (its list of checks) when it passes.
///
/// Node resolves an ES module's imports from the module's own directory (NODE_PATH plays no part),
/// so the script runs as a copy in a temporary directory whose `node_modules` links to the
/// installed one.
pub fn run_node_script(
    installed: &Path,
    script: &str,
    daemon: Option<&Daemon>,
    timeout: Duration,
    configure: impl FnOnce(&mut Command),
) {
    let script = Path::new(MANIFEST_DIR).join(script);
    let run_dir = TempDir::new().unwrap();
    std::os::unix::fs::symlink(
        installed.join("node_modules"),
        run_dir.path().join("node_modules"),
    )
    .unwrap();
    let copy = run_dir.path().join(script.file_name().unwrap());
    fs::copy(&script, &copy).unwrap_or_else(|e| panic!("copying {}: {e}", script.display()));
    let mut cmd = Command::new("node");
    cmd.arg(&copy)
        .current_dir(run_dir.path())
        .env_remove("NODE_OPTIONS")
        .env_remove("NODE_PATH");
    configure(&mut cmd);
    run_script_checked(&mut cmd, &script, daemon, timeout);
}
