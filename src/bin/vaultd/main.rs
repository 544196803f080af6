//! `vaultd`: the daemon. Opens the data directory, unlocks it with the root key and serves gRPC
//! until SIGTERM or SIGINT, then drains in-flight requests and exits.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
};

use clap::{CommandFactory, FromArgMatches};
use tokio::net::TcpListener;
use vaultd::{
    arn::{Arns, DEFAULT_ACCOUNT, DEFAULT_REGION},
    audit::AuditConfig,
    auth::throttle::ThrottleConfig,
    clock::SystemClock,
    crypto::barrier::RootKey,
    iam::{Credentials, RootCredentials},
    server::{self, ServerOptions},
    vault::{self, Storage, Vault, VaultConfig},
};
use zeroize::Zeroizing;

mod commands;
mod config;
mod root;
mod serve;

use commands::{healthcheck, restore, rotate_root_key};
use root::{announce_root_credentials, read_root_key, root_credentials_from_env, root_key};
use serve::{client_endpoint, start};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7730";
const DEV_ROOT_KEY_FILE: &str = "root.key";

/// A key-management and secrets daemon that speaks AWS KMS semantics over gRPC.
///
/// Every flag can also be set through the environment variable shown, or in the configuration
/// file (--config) under its name in snake_case; flags win over the environment, which wins over
/// the file.
#[derive(clap::Parser, Debug)]
#[command(name = "vaultd", version, about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// A TOML configuration file whose settings are these flags' names in snake_case
    /// (listen = "0.0.0.0:7730", data_dir = "/var/lib/vaultd", …).
    #[arg(long, env = "VAULTD_CONFIG")]
    config: Option<PathBuf>,

    /// Address to serve gRPC on.
    #[arg(long, env = "VAULTD_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// Directory holding the database (created 0700 if missing).
    #[arg(long, env = "VAULTD_DATA_DIR", default_value = "./vaultd-data")]
    data_dir: PathBuf,

    /// Where the vault's state lives: unset (or "sqlite") for vault.db in the data directory,
    /// or a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE) that several vaultd
    /// replicas share. The data directory still holds this replica's lock and credentials file.
    #[arg(long, env = "VAULTD_DATABASE_URL", hide_env_values = true)]
    storage: Option<DatabaseUrl>,

    /// Connections to PostgreSQL each replica keeps open.
    #[arg(long, env = "VAULTD_DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    database_pool_size: u16,

    /// Seconds between background passes (deletions after their window, automatic rotations,
    /// secret rotations). With replicas, only the one holding the lead runs them; the others
    /// ask at this interval whether the lead is free.
    #[arg(long, env = "VAULTD_MAINTENANCE_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    maintenance_interval: u64,

    /// File holding the base64 root key (32 bytes). Or set VAULTD_ROOT_KEY to the base64 key itself.
    #[arg(long, env = "VAULTD_ROOT_KEY_FILE")]
    root_key_file: Option<PathBuf>,

    /// Development mode: create a root key file and root credentials in the data directory when
    /// they are absent. Never use it for data you care about.
    #[arg(long, env = "VAULTD_DEV", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0, default_missing_value = "true")]
    dev: bool,

    /// Region in the ARNs vaultd issues.
    #[arg(long, env = "VAULTD_REGION", default_value = DEFAULT_REGION)]
    region: String,

    /// Account id (12 digits) in the ARNs vaultd issues.
    #[arg(long, env = "VAULTD_ACCOUNT_ID", default_value = DEFAULT_ACCOUNT)]
    account_id: String,

    /// Request rates per access key: "default" (AWS-like: symmetric=10000, asymmetric=1000,
    /// read=1000, write=100 requests/s), "off", or class=rate overrides such as
    /// "symmetric=500,write=10". Default: "default", or "off" with --dev.
    #[arg(long, env = "VAULTD_THROTTLE")]
    throttle: Option<String>,

    /// The directory whose executables may serve as secret-rotation hooks
    /// (RotationLambdaARN "command:<path>" must name a file in it). Without it, only HTTP hooks.
    #[arg(long, env = "VAULTD_ROTATION_HOOK_DIR")]
    rotation_hook_dir: Option<PathBuf>,

    /// A host:port that HTTP secret-rotation hooks may be on (repeatable, or comma-separated in
    /// the environment). Without it, no HTTP hooks.
    #[arg(long, env = "VAULTD_ROTATION_HOOK_HOSTS", value_delimiter = ',')]
    rotation_hook_host: Vec<String>,

    /// A seed file (YAML: vaultd's format or local-kms's seed.yaml) applied at every start:
    /// what it names and the vault lacks is created; nothing that exists is changed.
    #[arg(long, env = "VAULTD_SEED")]
    seed: Option<PathBuf>,

    /// Log level: error, warn, info, debug or trace.
    #[arg(long, env = "VAULTD_LOG", default_value = "info")]
    log: tracing::Level,

    /// Log format: "pretty" (a line of text per event) or "json" (a JSON object per line).
    /// Every line a request causes carries its request id.
    #[arg(long, env = "VAULTD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,

    /// TLS: the server's certificate chain (PEM). With --tls-key-file, --listen serves TLS
    /// only. Certificate, key and client CA are read again on SIGHUP.
    #[arg(long, env = "VAULTD_TLS_CERT_FILE")]
    tls_cert_file: Option<PathBuf>,

    /// TLS: the private key of --tls-cert-file (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "VAULTD_TLS_KEY_FILE")]
    tls_key_file: Option<PathBuf>,

    /// Mutual TLS: clients must present a certificate issued by this CA (PEM).
    #[arg(long, env = "VAULTD_TLS_CLIENT_CA_FILE")]
    tls_client_ca_file: Option<PathBuf>,

    /// Also serve gRPC on this Unix socket (created 0600: only vaultd's user may connect).
    #[arg(long, env = "VAULTD_UNIX_SOCKET")]
    unix_socket: Option<PathBuf>,

    /// Address to serve AWS's own protocols on (HTTP/1.1: awsJson for KMS, SSM and Secrets
    /// Manager, awsQuery for STS and IAM, signed with SigV4), such as 127.0.0.1:4566, so that AWS
    /// SDKs and the AWS CLI work with --endpoint-url / AWS_ENDPOINT_URL. Off unless set.
    #[arg(long, env = "VAULTD_AWS_LISTEN")]
    aws_listen: Option<SocketAddr>,

    /// Address to serve Prometheus metrics on (GET /metrics over HTTP, no credentials), such as
    /// 127.0.0.1:9730. Off unless set.
    #[arg(long, env = "VAULTD_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

/// `--storage`: a database URL, which may hold a password (`Debug` shows none of it).
#[derive(Clone)]
struct DatabaseUrl(Zeroizing<String>);

impl From<String> for DatabaseUrl {
    fn from(text: String) -> Self {
        DatabaseUrl(Zeroizing::new(text))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(..)")
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Restore a backup (from `vaultctl admin backup`) into the data directory, with vaultd
    /// stopped. The database there is moved into before-restore-<time>/ beside it, never
    /// deleted. The backup must open with the root key (--root-key-file, VAULTD_ROOT_KEY or the
    /// dev key), or with --backup-root-key-file, whose key it is then re-sealed from.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The root key the backup was made under, when the vault's root key was rotated since.
        #[arg(long, value_name = "FILE")]
        backup_root_key_file: Option<PathBuf>,
    },
    /// Rotate the root key, with vaultd stopped: the keyring is re-sealed under the new key
    /// (nothing else is re-encrypted). Afterwards only the new key opens the vault; backups
    /// made before still need the old one (see restore --backup-root-key-file).
    RotateRootKey {
        /// A file holding the new root key (base64 of 32 random bytes:
        /// `head -c32 /dev/urandom | base64`).
        #[arg(long, value_name = "FILE")]
        new_root_key_file: PathBuf,
    },
    /// Ask a running vaultd whether it serves (gRPC health, grpc.health.v1 Check) and exit 0 if it
    /// does, 1 if not: a container HEALTHCHECK for images with no shell.
    Healthcheck {
        /// The vaultd to ask: http://HOST:PORT, https://HOST:PORT or unix:///PATH. Default: the
        /// --unix-socket if there is one, else the --listen address (VAULTD_LISTEN; an
        /// unspecified address, 0.0.0.0 or ::, asked on loopback), over TLS if vaultd serves TLS.
        #[arg(long)]
        endpoint: Option<String>,
        /// For https: the CA (PEM) that issued vaultd's certificate. Default: the system's.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// For https with mutual TLS: a client certificate (PEM) to present, with --client-key.
        #[arg(long, requires = "client_key")]
        client_cert: Option<PathBuf>,
        /// The private key (PEM) of --client-cert.
        #[arg(long, requires = "client_cert")]
        client_key: Option<PathBuf>,
        /// For https: the name vaultd's certificate must carry, when it is not the endpoint's
        /// host (the default endpoint is an address on loopback).
        #[arg(long)]
        server_name: Option<String>,
        /// Seconds to wait for the answer, connecting included.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
        timeout: u64,
    },
}

/// The arguments: the configuration file's settings under the environment and flags.
fn parse_args() -> Result<Args, String> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut command = Args::command();
    if let Some(path) = config::config_path(&argv) {
        command = config::apply_file(command, &path)?;
    }
    // Bad flags and --help exit here, as clap does.
    let matches = command.get_matches_from(argv);
    let mut args = Args::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    // The environment wins over the file: VAULTD_ROOT_KEY over the file's root_key_file.
    let from_file =
        matches.value_source("root_key_file") == Some(clap::parser::ValueSource::DefaultValue);
    if from_file && std::env::var_os("VAULTD_ROOT_KEY").is_some() {
        args.root_key_file = None;
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("vaultd: error: {message}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Healthcheck {
        endpoint,
        ca_file,
        client_cert,
        client_key,
        server_name,
        timeout,
    }) = &args.command
    {
        let endpoint = endpoint.clone().unwrap_or_else(|| match &args.unix_socket {
            Some(path) => format!("unix://{}", path.display()),
            None => client_endpoint(args.listen, args.tls_cert_file.is_some()),
        });
        let tls = commands::HealthcheckTls {
            ca_file: ca_file.clone(),
            identity: client_cert.clone().zip(client_key.clone()),
            server_name: server_name.clone(),
        };
        return healthcheck(&endpoint, &tls, std::time::Duration::from_secs(*timeout));
    }
    init_logging(args.log, args.log_format);
    let format = args.log_format;
    let offline = match &args.command {
        Some(Command::Restore {
            from,
            backup_root_key_file,
        }) => Some(restore(&args, from, backup_root_key_file.as_deref())),
        Some(Command::RotateRootKey { new_root_key_file }) => {
            Some(rotate_root_key(&args, new_root_key_file))
        }
        _ => None,
    };
    if let Some(result) = offline {
        return match result {
            Ok(message) => {
                println!("{message}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("vaultd: error: {message}");
                ExitCode::FAILURE
            }
        };
    }
    match start(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) if format == LogFormat::Json => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("vaultd: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr: vaultd's own events at `level`; the libraries' (h2, hyper, tonic) at warn at
/// most, since at debug they describe frames and headers.
fn init_logging(level: tracing::Level, format: LogFormat) {
    use tracing_subscriber::{filter::Targets, fmt, prelude::*};
    let filter = Targets::new()
        .with_target("vaultd", level)
        .with_default(level.min(tracing::Level::WARN));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}
