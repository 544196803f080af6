//! `--outfile` for the commands that write whole files of their own (`encrypt`, `decrypt`,
//! `fields`): the target is checked before anything is sent, the output goes to a temporary file
//! (mode 0600) beside it, which is synced and put in place only once complete, and removed on
//! failure or interruption.

use std::{
    ffi::OsString,
    fs::{self, File, OpenOptions},
    io,
    os::unix::{ffi::OsStrExt, fs::OpenOptionsExt},
    path::{Path, PathBuf},
};

/// Checks an `--outfile` target: it names a file, and does not exist unless `force` (and is then
/// a regular file).
pub fn check(path: &Path, force: bool) -> Result<(), String> {
    let name = path.display();
    if path.file_name().is_none() {
        return Err(format!("--outfile: {name} does not name a file"));
    }
    match fs::symlink_metadata(path) {
        Ok(_) if !force => {
            return Err(format!(
                "--outfile: {name} exists; give --force to replace it"
            ));
        }
        Ok(_) => {
            if let Ok(metadata) = fs::metadata(path)
                && !metadata.is_file()
            {
                return Err(format!(
                    "--outfile: {name} is not a regular file; --outfile writes regular files \
                         (redirect stdout to write elsewhere)"
                ));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("--outfile: cannot check {name}: {e}")),
    }
    Ok(())
}

/// A temporary file beside the target, removed on drop unless committed.
pub struct TempFile {
    path: PathBuf,
    target: PathBuf,
    dir: PathBuf,
    /// Whether the target may be replaced.
    force: bool,
    committed: bool,
}

impl TempFile {
    /// The file this one will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Creates `.NAME.vaultctl-<random>.tmp` with mode 0600 in the target's directory.
    pub fn create(target: PathBuf, force: bool) -> Result<(Self, File), String> {
        let dir = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().expect("checked by outfile::check");
        // Room for the prefix and suffix within the usual 255-byte limit of a file name.
        let name = &name.as_bytes()[..name.len().min(200)];
        for _ in 0..8 {
            let random = getrandom::u64().map_err(|e| format!("no randomness: {e}"))?;
            let mut temp_name = OsString::from(".");
            temp_name.push(std::ffi::OsStr::from_bytes(name));
            temp_name.push(format!(".vaultctl-{random:016x}.tmp"));
            let path = dir.join(temp_name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => {
                    remove_on_signal(path.clone());
                    let temp = Self {
                        path,
                        target,
                        dir,
                        force,
                        committed: false,
                    };
                    return Ok((temp, file));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(format!(
                        "--outfile: cannot create a file in {}: {e}",
                        dir.display()
                    ));
                }
            }
        }
        Err(format!(
            "--outfile: cannot create a temporary file in {}",
            dir.display()
        ))
    }

    /// Syncs the file and puts it in place of the target. Without `--force`, a target that
    /// appeared meanwhile is not replaced (a hard link cannot overwrite).
    pub fn commit(mut self, file: File) -> io::Result<()> {
        file.sync_all()?;
        drop(file);
        if self.force {
            fs::rename(&self.path, &self.target)?;
        } else {
            match fs::hard_link(&self.path, &self.target) {
                Ok(()) => {
                    let _ = fs::remove_file(&self.path);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(io::Error::new(
                        e.kind(),
                        "it was created meanwhile; give --force to replace it",
                    ));
                }
                // A file system without hard links: the check made before is what there is.
                Err(_) if fs::symlink_metadata(&self.target).is_err() => {
                    fs::rename(&self.path, &self.target)?;
                }
                Err(e) => return Err(e),
            }
        }
        self.committed = true;
        // Makes the rename itself durable; not all file systems allow syncing a directory.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Removes the temporary file at `path` and exits if vaultctl is interrupted (SIGINT, SIGTERM,
/// SIGHUP), with the shell's status for the signal: a drop guard does not run then. Watched from
/// a thread of its own, as the main thread may be blocked reading or writing.
fn remove_on_signal(path: PathBuf) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            let status = tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
                _ = hangup.recv() => 129,
            };
            // Gone already when the output was committed: then the target is complete.
            let _ = fs::remove_file(&path);
            std::process::exit(status);
        });
    });
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}
