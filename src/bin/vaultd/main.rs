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
    vault::{self, Vault, VaultConfig},
};
use zeroize::Zeroizing;

mod config;

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

    /// Address to serve Prometheus metrics on (GET /metrics over HTTP, no credentials), such as
    /// 127.0.0.1:9730. Off unless set.
    #[arg(long, env = "VAULTD_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
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
    Args::from_arg_matches(&matches).map_err(|e| e.to_string())
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
        timeout,
    }) = &args.command
    {
        let endpoint = endpoint.clone().unwrap_or_else(|| match &args.unix_socket {
            Some(path) => format!("unix://{}", path.display()),
            None => client_endpoint(args.listen, args.tls_cert_file.is_some()),
        });
        return healthcheck(
            &endpoint,
            ca_file.as_deref(),
            std::time::Duration::from_secs(*timeout),
        );
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

/// `vaultd healthcheck`: one health check; SERVING exits 0, anything else (an error, no answer
/// in time, another status) exits 1 with the reason on stderr.
fn healthcheck(endpoint: &str, ca_file: Option<&Path>, timeout: std::time::Duration) -> ExitCode {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let check = async {
        let mut channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| format!("--endpoint {endpoint}: {e}"))?;
        if endpoint.starts_with("https://") {
            let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
            if let Some(path) = ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            channel = channel
                .tls_config(tls)
                .map_err(|e| format!("--endpoint {endpoint}: {e}"))?;
        }
        let channel = channel
            .connect()
            .await
            .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
        let response = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map_err(|status| {
                format!(
                    "{endpoint} answered {:?}: {}",
                    status.code(),
                    status.message()
                )
            })?;
        Ok::<_, String>(response.into_inner().status())
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("vaultd healthcheck: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime
        .block_on(async { tokio::time::timeout(timeout, check).await })
        .unwrap_or_else(|_| Err(format!("no answer from {endpoint} within {timeout:?}")));
    match result {
        Ok(ServingStatus::Serving) => {
            println!("vaultd at {endpoint}: SERVING");
            ExitCode::SUCCESS
        }
        Ok(status) => {
            eprintln!("vaultd healthcheck: {endpoint} is {}", status.as_str_name());
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("vaultd healthcheck: {message}");
            ExitCode::FAILURE
        }
    }
}

fn start(args: Args) -> Result<(), String> {
    let arns = Arns::new(&args.region, &args.account_id)?;
    let throttle = match (&args.throttle, args.dev) {
        (Some(text), _) => ThrottleConfig::parse(text).map_err(|e| format!("--throttle: {e}"))?,
        (None, true) => ThrottleConfig::off(),
        (None, false) => ThrottleConfig::aws_defaults(),
    };
    let throttle_text = throttle.to_string();
    let root_key = root_key(&args)?;
    // Read before anything is opened: a seed that does not parse stops the start at once.
    let seed = args
        .seed
        .as_deref()
        .map(vaultd::seed::Seed::read)
        .transpose()
        .map_err(|e| e.to_string())?;
    // Bind before opening the vault: a busy port stops us before anything is written, and the
    // credentials file can name the real address.
    let tls = match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(cert), Some(key)) => Some(
            server::TlsConfig::load(server::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca_file.clone(),
            })
            .map_err(|e| {
                format!("TLS (--tls-cert-file, --tls-key-file, --tls-client-ca-file): {e}")
            })?,
        ),
        (None, None) if args.tls_client_ca_file.is_some() => {
            return Err("--tls-client-ca-file needs --tls-cert-file and --tls-key-file".into());
        }
        (None, None) => None,
        _ => return Err("set both --tls-cert-file and --tls-key-file, or neither".into()),
    };
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    if tls.is_none() {
        warn_if_exposed(local);
    }
    let unix_listener = args
        .unix_socket
        .as_deref()
        .map(|path| {
            // Bound later, inside the runtime; checked now so a bad path stops the start early.
            match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(format!(
                    "--unix-socket {}: {} is not a directory",
                    path.display(),
                    dir.display()
                )),
                _ => Ok(path.to_path_buf()),
            }
        })
        .transpose()?;
    let metrics_listener = args
        .metrics_listen
        .map(|addr| {
            std::net::TcpListener::bind(addr)
                .map_err(|e| format!("--metrics-listen: cannot listen on {addr}: {e}"))
        })
        .transpose()?;
    let root_credentials_fixed = root_credentials_from_env()?;
    let generated_for = (args.data_dir.clone(), args.log_format, tls.is_some());
    let data_dir = args.data_dir.clone();
    let restore_key = root_key.clone();
    let (hook_dir, hook_hosts, seed_path) = (
        args.rotation_hook_dir.clone(),
        args.rotation_hook_host.clone(),
        args.seed.clone(),
    );
    let vault_dir = data_dir.clone();
    // A vault is opened at start, and again after an online restore.
    let open_vault = move || -> Result<Vault, String> {
        let root_credentials = match root_credentials_fixed.clone() {
            Some(creds) => RootCredentials::Fixed(creds),
            None => {
                let (data_dir, format, tls) = generated_for.clone();
                RootCredentials::Generate(Box::new(move |creds| {
                    announce_root_credentials(
                        &data_dir,
                        creds,
                        &client_endpoint(local, tls),
                        format,
                    )
                }))
            }
        };
        let vault = Vault::open(VaultConfig {
            data_dir: vault_dir.clone(),
            root_key: root_key.clone(),
            arns: arns.clone(),
            clock: Arc::new(SystemClock),
            root_credentials,
            throttle: throttle.clone(),
            audit: AuditConfig::default(),
            rotation_hooks: vaultd::secrets::rotation::HookPolicy {
                dir: hook_dir.clone(),
                hosts: hook_hosts.clone(),
            },
        })
        .map_err(|e| e.to_string())?;
        if let (Some(seed), Some(path)) = (&seed, &seed_path) {
            let report = seed
                .apply(&vault)
                .map_err(|e| format!("seed file {}: {e}", path.display()))?;
            for created in &report.created {
                tracing::debug!("seed: created {created}");
            }
            tracing::info!("seed file {}: {}", path.display(), report.summary());
        }
        Ok(vault)
    };
    let mut vault = open_vault()?;
    let throttle = throttle_text;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        // Signal handlers go in before anyone can learn the address, so that an early SIGTERM
        // still drains and exits 0 instead of killing the process.
        let signal = shutdown_signal()?;
        let (stop, stopping) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            signal.await;
            let _ = stop.send(true);
        });
        let shutdown = move || {
            let mut stopping = stopping.clone();
            async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            }
        };
        let listener = tokio_listener(listener)?;
        let mut listeners = vec![Arc::new(match &tls {
            Some(tls) => server::Listener::Tls(listener, tls.clone()),
            None => server::Listener::Tcp(listener),
        })];
        if let Some(path) = &unix_listener {
            let unix = server::bind_unix(path)
                .map_err(|e| format!("--unix-socket {}: {e}", path.display()))?;
            listeners.push(Arc::new(server::Listener::Unix(unix)));
            tracing::info!("vaultd listening on unix://{}", path.display());
        }
        if let Some(tls) = tls.clone() {
            reload_on_sighup(tls)?;
        }
        // The vault being served, for the metrics endpoint (none while a restore swaps it).
        let current: Arc<std::sync::RwLock<Option<Arc<Vault>>>> = Arc::default();
        if let Some(metrics_listener) = metrics_listener {
            let metrics_listener = tokio_listener(metrics_listener)?;
            let addr = metrics_listener.local_addr().map_err(|e| e.to_string())?;
            let current = current.clone();
            tokio::spawn(vaultd::metrics::serve(
                metrics_listener,
                move || {
                    let vault = current.read().ok().and_then(|v| v.clone());
                    vault.map_or_else(
                        || "# vaultd is switching to a restored backup\n".to_string(),
                        |v| v.render_metrics(),
                    )
                },
                shutdown(),
            ));
            tracing::info!("metrics on http://{addr}/metrics");
        }
        tracing::info!(
            data_dir = %args.data_dir.display(),
            throttle = %throttle,
            tls = match &tls {
                Some(tls) if tls.requires_client_certificates() => "mutual",
                Some(_) => "on",
                None => "off",
            },
            "vaultd listening on {local}"
        );
        loop {
            let served = Arc::new(vault);
            *current.write().unwrap_or_else(|e| e.into_inner()) = Some(served.clone());
            let (restore_tx, mut restore_rx) = tokio::sync::mpsc::channel(1);
            let restore = Arc::new(std::sync::Mutex::new(None));
            let until = {
                let restore = restore.clone();
                let stop = shutdown();
                async move {
                    tokio::select! {
                        _ = stop => {}
                        path = restore_rx.recv() => {
                            *restore.lock().unwrap_or_else(|e| e.into_inner()) = path;
                        }
                    }
                }
            };
            let options = ServerOptions {
                restore: Some(restore_tx),
                ..ServerOptions::default()
            };
            server::serve(listeners.clone(), served.clone(), options, until)
                .await
                .map_err(|e| format!("server failed: {e}"))?;
            let staged = restore.lock().unwrap_or_else(|e| e.into_inner()).take();
            let Some(staged) = staged else {
                break;
            };
            *current.write().unwrap_or_else(|e| e.into_inner()) = None;
            close_vault(served).await?;
            let (dir, key, backup) = (data_dir.clone(), restore_key.clone(), staged.clone());
            let installed = tokio::task::spawn_blocking(move || {
                vault::install_backup(&dir, &backup, &key, None)
            })
            .await
            .map_err(|e| e.to_string())?;
            let _ = std::fs::remove_file(&staged);
            match installed {
                Ok(outcome) => tracing::warn!(
                    keys = outcome.summary.keys,
                    secrets = outcome.summary.secrets,
                    parameters = outcome.summary.parameters,
                    "restored a backup; the previous database is kept in {}",
                    outcome
                        .previous
                        .map_or_else(|| "(none)".into(), |p| p.display().to_string())
                ),
                Err(e) => tracing::error!("the restore failed; serving the previous state: {e}"),
            }
            let reopen = open_vault.clone();
            vault = tokio::task::spawn_blocking(reopen)
                .await
                .map_err(|e| e.to_string())??;
        }
        if let Some(path) = &unix_listener {
            let _ = std::fs::remove_file(path);
        }
        tracing::info!("vaultd stopped");
        Ok(())
    })
}

/// `vaultd restore`: installs a backup into the (unused) data directory.
fn restore(
    args: &Args,
    from: &Path,
    backup_root_key_file: Option<&Path>,
) -> Result<String, String> {
    let root_key = root_key(args)?;
    let backup_key = backup_root_key_file.map(read_root_key).transpose()?;
    let outcome = vault::install_backup(&args.data_dir, from, &root_key, backup_key.as_ref())
        .map_err(|e| match e {
            vault::OpenError::WrongRootKey(_) => format!(
                "{}: the backup does not open with {}; give the root key it was made under with \
                 --backup-root-key-file",
                from.display(),
                if backup_key.is_some() {
                    "--backup-root-key-file"
                } else {
                    "the root key"
                }
            ),
            other => format!("{}: {other}", from.display()),
        })?;
    let s = &outcome.summary;
    Ok(format!(
        "restored {} into {}: {} keys, {} secrets, {} parameters, {} users (database {}){}",
        from.display(),
        args.data_dir.display(),
        s.keys,
        s.secrets,
        s.parameters,
        s.users,
        hex::encode(&s.database_id),
        outcome.previous.map_or_else(String::new, |p| format!(
            "; the previous database is kept in {}",
            p.display()
        ))
    ))
}

/// `vaultd rotate-root-key`: re-seals the keyring under a new root key.
fn rotate_root_key(args: &Args, new_root_key_file: &Path) -> Result<String, String> {
    let old = root_key(args)?;
    let new = read_root_key(new_root_key_file)?;
    if new == old {
        return Err("the new root key is the current one".into());
    }
    vault::rotate_root_key(&args.data_dir, &old, &new).map_err(|e| e.to_string())?;
    // In dev mode the key lives in the data directory: it follows the rotation.
    let dev_file = args.data_dir.join(DEV_ROOT_KEY_FILE);
    let from_dev_file = args.dev
        && args.root_key_file.is_none()
        && std::env::var_os("VAULTD_ROOT_KEY").is_none()
        && dev_file.exists();
    if from_dev_file {
        let mut text = new.to_base64();
        text.push('\n');
        vault::write_private_file(&dev_file, text.as_bytes())
            .map_err(|e| format!("the keyring is sealed under the new key, but {} could not be updated: {e}; put the new key there", dev_file.display()))?;
    }
    Ok(format!(
        "the root key of {} is rotated: start vaultd with the new key{}",
        args.data_dir.display(),
        if from_dev_file {
            " (written to the dev key file)"
        } else {
            ""
        }
    ))
}

/// Closes a vault that stopped serving, once every request's work on it has let go, so that it
/// releases the data directory (and its audit trail is written out).
async fn close_vault(vault: Arc<Vault>) -> Result<(), String> {
    let mut vault = vault;
    for _ in 0..600 {
        match Arc::try_unwrap(vault) {
            Ok(vault) => {
                let _ = tokio::task::spawn_blocking(move || drop(vault)).await;
                return Ok(());
            }
            Err(shared) => {
                vault = shared;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    Err("a restore could not close the vault: requests still hold it after 30 s".into())
}

fn tokio_listener(listener: std::net::TcpListener) -> Result<TcpListener, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    TcpListener::from_std(listener).map_err(|e| e.to_string())
}

/// SIGHUP reads the TLS files again; a reload that fails keeps the certificate in use.
fn reload_on_sighup(tls: server::TlsConfig) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())
        .map_err(|e| format!("cannot install a signal handler: {e}"))?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate, key and client CA reloaded"),
                Err(e) => tracing::error!(
                    "SIGHUP: TLS reload failed, still serving the previous certificate: {e}"
                ),
            }
        }
    });
    Ok(())
}

/// Plaintext gRPC carries signed requests but not encrypted ones: say so when the address is
/// reachable from other machines.
fn warn_if_exposed(local: SocketAddr) {
    if !local.ip().is_loopback() {
        tracing::warn!(
            "vaultd serves plaintext gRPC on {local}, which other machines can reach: plaintexts, data \
             keys and signed requests cross the network in the clear. Serve TLS (--tls-cert-file, \
             --tls-key-file), listen on 127.0.0.1 or a Unix socket, or keep it on a private network."
        );
    }
}

/// The endpoint a local client uses to reach `local`: a wildcard address becomes loopback.
fn client_endpoint(local: SocketAddr, tls: bool) -> String {
    let ip = match local.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, local.port()))
}

/// The root key from VAULTD_ROOT_KEY, --root-key-file, or (in dev mode) the data directory.
fn root_key(args: &Args) -> Result<RootKey, String> {
    let from_env = std::env::var("VAULTD_ROOT_KEY").ok().map(Zeroizing::new);
    match (from_env, &args.root_key_file) {
        (Some(_), Some(_)) => Err("both VAULTD_ROOT_KEY and --root-key-file are set; use one".into()),
        (Some(text), None) => RootKey::from_base64(&text).map_err(|e| format!("VAULTD_ROOT_KEY: {e}")),
        (None, Some(path)) => read_root_key(path),
        (None, None) if args.dev => dev_root_key(&args.data_dir, args.log_format),
        (None, None) => Err(
            "no root key: pass --root-key-file FILE, set VAULTD_ROOT_KEY (base64 of 32 bytes), or use --dev \
             to have one generated in the data directory"
                .into(),
        ),
    }
}

fn read_root_key(path: &Path) -> Result<RootKey, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| format!("root key file {}: {e}", path.display()))?,
    );
    RootKey::from_base64(&text).map_err(|e| format!("root key file {}: {e}", path.display()))
}

fn dev_root_key(data_dir: &Path, format: LogFormat) -> Result<RootKey, String> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let path = data_dir.join(DEV_ROOT_KEY_FILE);
    if path.exists() {
        return read_root_key(&path);
    }
    vault::prepare_data_dir(data_dir).map_err(|e| e.to_string())?;
    let key = RootKey::generate().map_err(|e| e.to_string())?;
    let mut text = key.to_base64();
    text.push('\n');
    // Exclusive create: of two daemons starting at once on a fresh directory, one writes the key
    // and the other reads it, so the database can never be sealed under a key that was replaced.
    let write_error = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            file.write_all(text.as_bytes()).map_err(write_error)?;
            file.sync_all().map_err(write_error)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return read_root_key(&path),
        Err(e) => return Err(write_error(e)),
    }
    if format == LogFormat::Json {
        tracing::warn!(
            "DEV MODE: generated a root key in {}: anyone who can read that file can read every \
             secret in this vault; for real data, keep the root key apart from the data \
             (--root-key-file)",
            path.display()
        );
        return Ok(key);
    }
    eprintln!(
        "\n*** vaultd DEV MODE: generated a root key in {} ***\n\
         *** Anyone who can read that file can read every secret in this vault.  ***\n\
         *** For real data, keep the root key apart from the data (--root-key-file). ***\n",
        path.display()
    );
    Ok(key)
}

fn root_credentials_from_env() -> Result<Option<Credentials>, String> {
    let id = std::env::var("VAULTD_ROOT_ACCESS_KEY_ID").ok();
    let secret = std::env::var("VAULTD_ROOT_SECRET_ACCESS_KEY")
        .ok()
        .map(Zeroizing::new);
    match (id, secret) {
        (None, None) => Ok(None),
        (Some(access_key_id), Some(secret_access_key)) => {
            let creds = Credentials {
                access_key_id,
                secret_access_key,
            };
            creds.validate().map_err(|e| {
                format!("VAULTD_ROOT_ACCESS_KEY_ID / VAULTD_ROOT_SECRET_ACCESS_KEY: {e}")
            })?;
            Ok(Some(creds))
        }
        _ => Err(
            "set both VAULTD_ROOT_ACCESS_KEY_ID and VAULTD_ROOT_SECRET_ACCESS_KEY, or neither"
                .into(),
        ),
    }
}

fn announce_root_credentials(
    data_dir: &Path,
    creds: &Credentials,
    endpoint: &str,
    format: LogFormat,
) -> Result<(), String> {
    let path = data_dir.join(vault::ROOT_CREDENTIALS_FILE);
    vault::write_private_file(
        &path,
        vault::credentials_file_contents(creds, endpoint).as_bytes(),
    )
    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    // JSON lines go to a log collector: the secret stays in the file.
    if format == LogFormat::Json {
        tracing::warn!(
            access_key_id = %creds.access_key_id,
            "vaultd created the root user; its credentials are in {} (mode 0600). Use root only \
             to bootstrap; give applications narrow users.",
            path.display()
        );
        return Ok(());
    }
    eprintln!(
        "\n*** vaultd created the root user. Its credentials are shown once: ***\n\
         access_key_id     = {}\n\
         secret_access_key = {}\n\
         *** They are also in {} (mode 0600). ***\n\
         *** Use root only to bootstrap; give applications narrow users. ***\n",
        creds.access_key_id,
        creds.secret_access_key.as_str(),
        path.display()
    );
    Ok(())
}

/// Installs the SIGTERM and SIGINT handlers now and returns a future that completes on either.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let handler = |kind| signal(kind).map_err(|e| format!("cannot install a signal handler: {e}"));
    let mut term = handler(SignalKind::terminate())?;
    let mut int = handler(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining and stopping"),
            _ = int.recv() => tracing::info!("SIGINT: draining and stopping"),
        }
    })
}
