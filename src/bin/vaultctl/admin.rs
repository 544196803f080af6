//! `vaultctl admin backup` and `vaultctl admin restore`: the vault as a whole, through
//! `vault.v1.Admin` (no AWS CLI counterpart). `vaultctl admin migrate` works offline, on the
//! stores themselves.
//!
//! `backup` writes the backup to a 0600 temporary file beside `--outfile`, checks its SHA-256
//! against the summary vaultd sends last, and only then renames it into place. `restore` reads the
//! file once for its SHA-256 (vaultd checks it before using the backup), then streams it.

use std::{
    io::{Read, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;
use vaultd::pb;

use crate::{CliError, Context, aws_json::iso8601, calls};

const CHUNK: usize = 1 << 20;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Take a consistent backup of the whole vault while it serves (CreateBackup). Everything
    /// secret in it stays sealed: only the vault's root key opens it. Keep it apart from that key.
    Backup(BackupArgs),
    /// Replace the vault's whole state with a backup while it serves (RestoreBackup). vaultd
    /// checks the backup first (SHA-256, integrity, its root key opens it); the state it replaces
    /// is kept in the data directory. With vaultd stopped, use `vaultd restore` instead.
    Restore(RestoreArgs),
    /// Copy a vault between stores, with its daemons stopped: a data directory (SQLite) into a
    /// PostgreSQL database, or back. The target must hold no vault. Afterwards every table is
    /// compared row for row, and every key's material, access key secret, parameter value and
    /// secret value is opened with the root key from the copy. Prints what was copied and checked.
    Migrate(MigrateArgs),
}

#[derive(Args)]
pub struct MigrateArgs {
    /// The vault to copy: a data directory, or postgres://USER:PASSWORD@HOST:PORT/DATABASE (a URL
    /// with a password is better in VAULTD_MIGRATE_FROM than on the command line).
    #[arg(
        long,
        value_name = "DIR|URL",
        env = "VAULTD_MIGRATE_FROM",
        hide_env_values = true
    )]
    from: String,
    /// Where to copy it: a new data directory, or an empty PostgreSQL database (URL as --from;
    /// or VAULTD_MIGRATE_TO).
    #[arg(
        long,
        value_name = "DIR|URL",
        env = "VAULTD_MIGRATE_TO",
        hide_env_values = true
    )]
    to: String,
    /// File holding the vault's base64 root key. Or set VAULTD_ROOT_KEY to the key itself.
    #[arg(long, env = "VAULTD_ROOT_KEY_FILE", value_name = "FILE")]
    root_key_file: Option<PathBuf>,
    /// The vault's region (vaultd's --region): SecureString values are bound to their ARN.
    #[arg(long, env = "VAULTD_REGION", default_value = vaultd::arn::DEFAULT_REGION)]
    region: String,
    /// The vault's account id (vaultd's --account-id).
    #[arg(long, env = "VAULTD_ACCOUNT_ID", default_value = vaultd::arn::DEFAULT_ACCOUNT)]
    account_id: String,
}

#[derive(Args)]
pub struct BackupArgs {
    /// Where to write the backup.
    #[arg(short = 'o', long, value_name = "PATH")]
    outfile: PathBuf,
    /// Replace --outfile if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file (from `vaultctl admin backup`).
    #[arg(long, value_name = "PATH")]
    infile: PathBuf,
}

impl AdminCommand {
    pub async fn run(self, context: &Context) -> Result<(), CliError> {
        let response = match self {
            Self::Backup(args) => backup(context, &args).await?,
            Self::Restore(args) => restore(context, &args.infile).await?,
            Self::Migrate(args) => migrate(args).await?,
        };
        context.out.value(&response).map(drop)
    }

    /// Whether the command works without vaultd (and so without credentials).
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Migrate(_))
    }

    /// Runs an offline command ([`AdminCommand::is_offline`]).
    pub async fn run_offline(self, out: &crate::output::Printer) -> Result<(), CliError> {
        let response = match self {
            Self::Migrate(args) => migrate(args).await?,
            _ => return Err(CliError::Other("this command needs vaultd".into())),
        };
        out.value(&response).map(drop)
    }
}

/// `admin migrate`: on a blocking thread (the stores' clients block).
async fn migrate(args: MigrateArgs) -> Result<Value, CliError> {
    let root_key = match (&args.root_key_file, std::env::var("VAULTD_ROOT_KEY").ok()) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("--root-key-file {}: {e}", path.display())))?;
            vaultd::crypto::barrier::RootKey::from_base64(text.trim())
                .map_err(|e| CliError::Usage(format!("--root-key-file {}: {e}", path.display())))?
        }
        (None, Some(text)) if !text.is_empty() => {
            vaultd::crypto::barrier::RootKey::from_base64(text.trim())
                .map_err(|e| CliError::Usage(format!("VAULTD_ROOT_KEY: {e}")))?
        }
        _ => {
            return Err(CliError::Usage(
                "the vault's root key is needed to check the copy: --root-key-file FILE or \
                 VAULTD_ROOT_KEY"
                    .into(),
            ));
        }
    };
    let arns = vaultd::arn::Arns::new(&args.region, &args.account_id).map_err(CliError::Usage)?;
    let (from, to) = (
        vaultd::vault::Place::parse(&args.from),
        vaultd::vault::Place::parse(&args.to),
    );
    let (source, target) = (from.to_string(), to.to_string());
    let report =
        tokio::task::spawn_blocking(move || vaultd::vault::migrate(&from, &to, &root_key, &arns))
            .await
            .map_err(|e| CliError::Other(format!("the migration stopped: {e}")))?
            .map_err(|e| CliError::Other(format!("migration failed: {e}")))?;
    let tables: serde_json::Map<String, Value> = report
        .copied
        .tables
        .iter()
        .map(|(table, rows)| (table.to_string(), json!(rows)))
        .collect();
    Ok(json!({
        "Source": source,
        "Target": target,
        "RowsCopied": tables,
        "Verified": {
            "Keys": report.keys,
            "KeyMaterialVersions": report.key_versions,
            "AccessKeys": report.access_keys,
            "ParameterVersions": report.parameter_versions,
            "ParameterVersionsSkipped": report.parameter_versions_skipped,
            "SecretVersions": report.secret_versions,
            "SecretVersionsSkipped": report.secret_versions_skipped,
        },
    }))
}

fn summary_json(summary: &pb::BackupSummary) -> Value {
    json!({
        "CreationTime": summary.creation_time.as_ref().map(iso8601),
        "SizeBytes": summary.size_bytes,
        "Sha256": hex::encode(&summary.sha256),
        "DatabaseId": summary.database_id,
        "Keys": summary.keys,
        "Secrets": summary.secrets,
        "Parameters": summary.parameters,
        "Users": summary.users,
    })
}

/// Removes a temporary file unless told to keep it.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn other(what: &str, path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Other(format!("{what} {}: {e}", path.display()))
}

async fn backup(context: &Context, args: &BackupArgs) -> Result<Value, CliError> {
    if args.outfile.exists() && !args.force {
        return Err(CliError::Usage(format!(
            "{} exists; pass --force to replace it",
            args.outfile.display()
        )));
    }
    let dir = match args.outfile.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = args
        .outfile
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let temporary = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", temporary.display())))?;
    let mut partial = Partial(Some(temporary.clone()));
    let mut stream = calls::answer("CreateBackup", context.client.create_backup()).await?;
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let mut summary = None;
    while let Some(message) = stream.next().await {
        let message = message.map_err(|status| CliError::Service {
            operation: "CreateBackup",
            error: status.into(),
        })?;
        hasher.update(&message.chunk);
        written += message.chunk.len() as u64;
        file.write_all(&message.chunk)
            .map_err(|e| other("cannot write", &temporary, e))?;
        if message.summary.is_some() {
            summary = message.summary;
        }
    }
    let summary = summary.ok_or_else(|| {
        CliError::Other("the backup ended without its summary: it is incomplete".into())
    })?;
    let digest = hasher.finalize();
    if digest.as_slice() != summary.sha256.as_slice() || written != summary.size_bytes {
        return Err(CliError::Other(
            "the backup received does not match its summary (SHA-256 or size): not kept".into(),
        ));
    }
    file.sync_all()
        .map_err(|e| other("cannot write", &temporary, e))?;
    std::fs::rename(&temporary, &args.outfile)
        .map_err(|e| other("cannot write", &args.outfile, e))?;
    partial.0 = None;
    Ok(json!({
        "BackupFile": args.outfile.display().to_string(),
        "Backup": summary_json(&summary),
    }))
}

async fn restore(context: &Context, path: &Path) -> Result<Value, CliError> {
    let unreadable = |e: std::io::Error| CliError::Usage(format!("{}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf).map_err(unreadable)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    let sha256 = hasher.finalize().to_vec();
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let reader = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut first = true;
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let mut filled = 0;
            while filled < CHUNK {
                match file.read(&mut chunk[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            chunk.truncate(filled);
            let message = pb::RestoreBackupRequest {
                chunk,
                sha256: if first { sha256.clone() } else { Vec::new() },
            };
            first = false;
            if tx.blocking_send(message).is_err() || filled < CHUNK {
                return Ok(());
            }
        }
    });
    let answer = calls::answer(
        "RestoreBackup",
        context
            .client
            .restore_backup(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
    .await;
    reader
        .await
        .map_err(|e| CliError::Other(e.to_string()))?
        .map_err(unreadable)?;
    let answer = answer?;
    Ok(json!({
        "Restored": path.display().to_string(),
        "Backup": answer.summary.as_ref().map(summary_json),
    }))
}
