//! `vault.v1.Admin`: backups of the whole vault and restoring one, authorized as
//! `vaultd:CreateBackup` and `vaultd:RestoreBackup` on `*` (root, or a user whose policy allows
//! them). The work is the vault's ([`Vault::create_backup`], [`Vault::check_backup`]); switching
//! to a restored backup is the daemon's, which is handed the checked file through a
//! [`RestoreRequests`] channel and swaps it in once the answer has gone out.

use std::{
    io::{Read, Write},
    path::PathBuf,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status, Streaming};

use super::{blocking, call::caller, convert::timestamp, status};
use crate::{
    auth::Action,
    error::{Error, ErrorKind},
    pb::{self, admin_server::Admin},
    vault::{BackupSummary, OpenError, Vault},
};

type RpcResult<T> = std::result::Result<Response<T>, Status>;

/// The chunk size of backups on the wire (gRPC's default message limit is 4 MiB).
const CHUNK: usize = 1 << 20;

/// Where checked backups go to be restored: the daemon's restart loop. Without one (a server
/// embedded in tests, say), RestoreBackup is refused.
pub type RestoreRequests = tokio::sync::mpsc::Sender<PathBuf>;

#[derive(Debug, Clone)]
pub struct AdminApi {
    vault: Arc<Vault>,
    restore: Option<RestoreRequests>,
    /// Set while a restore is received, checked and handed over: one at a time.
    restoring: Arc<AtomicBool>,
}

impl AdminApi {
    pub fn new(vault: Arc<Vault>, restore: Option<RestoreRequests>) -> Self {
        Self {
            vault,
            restore,
            restoring: Arc::default(),
        }
    }
}

/// Clears the restore flag when dropped, unless the restore was handed over.
struct Restoring(Option<Arc<AtomicBool>>);

impl Drop for Restoring {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(false, Ordering::Release);
        }
    }
}

fn summary(s: &BackupSummary) -> pb::BackupSummary {
    pb::BackupSummary {
        creation_time: Some(timestamp(s.created)),
        size_bytes: s.size,
        sha256: s.sha256.to_vec(),
        database_id: hex::encode(&s.database_id),
        keys: s.keys,
        secrets: s.secrets,
        parameters: s.parameters,
        users: s.users,
    }
}

/// A backup that cannot be used is the caller's problem (INVALID_ARGUMENT); anything else is
/// the server's.
fn backup_error(err: OpenError) -> Error {
    match err {
        OpenError::WrongRootKey(_) => Error::validation(
            "The backup's keyring does not open with this vault's root key: it was made under \
             another root key. Restore it offline with `vaultd restore --backup-root-key-file`.",
        ),
        OpenError::Storage(crate::store::Error::Corrupt(reason)) => {
            Error::validation(format!("The backup is not usable: {reason}"))
        }
        OpenError::SharedStore => Error::invalid_state(OpenError::SharedStore.to_string()),
        other => Error::internal(format!("The backup could not be processed: {other}")),
    }
}

fn authorize<T>(vault: &Vault, request: &Request<T>, action: &str) -> Result<(), Status> {
    caller(request)?.authorize(
        &vault.authorizer,
        &Action {
            name: action,
            resources: &["*"],
            encryption_context: None,
        },
    )
}

/// Removes a file when dropped (a backup sent, or one that failed).
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tonic::async_trait]
impl Admin for AdminApi {
    type CreateBackupStream =
        Pin<Box<dyn Stream<Item = Result<pb::CreateBackupResponse, Status>> + Send>>;

    async fn create_backup(
        &self,
        request: Request<pb::CreateBackupRequest>,
    ) -> RpcResult<Self::CreateBackupStream> {
        authorize(&self.vault, &request, "vaultd:CreateBackup")?;
        let vault = self.vault.clone();
        let (path, made) = blocking(move || vault.create_backup().map_err(backup_error))
            .await
            .map_err(status)?;
        tracing::info!(size = made.size, "backup made");
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let _remove = Remove(path.clone());
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) => {
                    let err = Error::internal(format!("The backup could not be read: {e}"));
                    let _ = tx.blocking_send(Err(status(err)));
                    return;
                }
            };
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match read_full(&mut file, &mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let err = Error::internal(format!("The backup could not be read: {e}"));
                        let _ = tx.blocking_send(Err(status(err)));
                        return;
                    }
                };
                if n == 0 {
                    break;
                }
                let chunk = pb::CreateBackupResponse {
                    chunk: buf[..n].to_vec(),
                    summary: None,
                };
                if tx.blocking_send(Ok(chunk)).is_err() {
                    return;
                }
            }
            let _ = tx.blocking_send(Ok(pb::CreateBackupResponse {
                chunk: Vec::new(),
                summary: Some(summary(&made)),
            }));
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn restore_backup(
        &self,
        request: Request<Streaming<pb::RestoreBackupRequest>>,
    ) -> RpcResult<pb::RestoreBackupResponse> {
        authorize(&self.vault, &request, "vaultd:RestoreBackup")?;
        let Some(restore) = self.restore.clone() else {
            return Err(status(Error::new(
                ErrorKind::UnsupportedOperation,
                "This vaultd cannot restore while it serves; stop it and use `vaultd restore`.",
            )));
        };
        if self
            .restoring
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(status(Error::new(
                ErrorKind::LimitExceeded,
                "A restore is already under way: one at a time.",
            )));
        }
        let mut restoring = Restoring(Some(self.restoring.clone()));
        let vault = self.vault.clone();
        let (path, file) = blocking(move || vault.receive_backup_file().map_err(backup_error))
            .await
            .map_err(status)?;
        let remove = Remove(path.clone());
        let mut file = std::io::BufWriter::with_capacity(CHUNK, file);
        let mut hasher = Sha256::new();
        let mut expected: Option<Vec<u8>> = None;
        let mut stream = request.into_inner();
        while let Some(message) = stream.next().await {
            let message = message?;
            if !message.sha256.is_empty() {
                expected = Some(message.sha256);
            }
            hasher.update(&message.chunk);
            // Chunks are at most a few MiB: writing them inline costs less than a hop.
            file.write_all(&message.chunk).map_err(|e| {
                status(Error::internal(format!(
                    "The backup could not be stored: {e}"
                )))
            })?;
        }
        file.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .map_err(|e| {
                status(Error::internal(format!(
                    "The backup could not be stored: {e}"
                )))
            })?;
        let digest: [u8; 32] = hasher.finalize().into();
        if let Some(expected) = expected
            && !bool::from(digest.as_slice().ct_eq(&expected))
        {
            return Err(status(Error::validation(
                "The backup's SHA-256 is not the one given: it was damaged on the way.",
            )));
        }
        let vault = self.vault.clone();
        let checked_path = path.clone();
        let checked = blocking(move || vault.check_backup(&checked_path).map_err(backup_error))
            .await
            .map_err(status)?;
        // From here the daemon owns the file, and no other restore may start.
        std::mem::forget(remove);
        restoring.0 = None;
        if restore.send(path.clone()).await.is_err() {
            let _ = std::fs::remove_file(&path);
            return Err(status(Error::unavailable("vaultd is stopping.")));
        }
        tracing::warn!(
            keys = checked.keys,
            secrets = checked.secrets,
            parameters = checked.parameters,
            "restoring a backup: the vault's state is replaced once in-flight requests finish"
        );
        Ok(Response::new(pb::RestoreBackupResponse {
            summary: Some(summary(&checked)),
        }))
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
