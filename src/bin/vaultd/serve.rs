//! Serving: listeners (TCP or TLS, a Unix socket, metrics), signals, and the loop that serves a
//! vault until SIGTERM, or until an online restore hands over a backup to swap in.

use super::*;

/// The store `--storage` names.
pub(crate) fn storage(args: &Args) -> Result<Storage, String> {
    match args.storage.as_ref().map(|url| url.0.trim()) {
        None | Some("" | "sqlite") => Ok(Storage::Sqlite),
        Some(url) if vault::is_database_url(url) => Ok(Storage::Postgres {
            url: zeroize::Zeroizing::new(url.to_string()),
            pool_size: usize::from(args.database_pool_size),
        }),
        // Not echoed: it may hold a password.
        Some(_) => {
            Err("--storage (VAULTD_DATABASE_URL): expected \"sqlite\" or a postgres:// URL".into())
        }
    }
}

pub(crate) fn start(args: Args) -> Result<(), String> {
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
    let aws_listener = args
        .aws_listen
        .map(|addr| {
            std::net::TcpListener::bind(addr)
                .map_err(|e| format!("--aws-listen: cannot listen on {addr}: {e}"))
        })
        .transpose()?;
    let storage = storage(&args)?;
    let engine = storage.name();
    let maintenance_interval = std::time::Duration::from_secs(args.maintenance_interval);
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
            storage: storage.clone(),
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
    let mut vault = Arc::new(open_vault()?);
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
        // One set of counters for every vault served in turn; the vault being served, for the
        // gauges (none while a restore swaps it).
        let metrics: Arc<vaultd::metrics::Metrics> = Arc::default();
        let current: Arc<std::sync::RwLock<Option<Arc<Vault>>>> = Arc::default();
        if let Some(metrics_listener) = metrics_listener {
            let metrics_listener = tokio_listener(metrics_listener)?;
            let addr = metrics_listener.local_addr().map_err(|e| e.to_string())?;
            let (current, metrics) = (current.clone(), metrics.clone());
            tokio::spawn(vaultd::metrics::serve(
                metrics_listener,
                move || {
                    let vault = current.read().ok().and_then(|v| v.clone());
                    metrics.render(&vault.map(|v| v.gauges()).unwrap_or_default())
                },
                shutdown(),
            ));
            tracing::info!("metrics on http://{addr}/metrics");
        }
        let aws_listener = match aws_listener {
            Some(listener) => {
                let listener = tokio_listener(listener)?;
                let addr = listener.local_addr().map_err(|e| e.to_string())?;
                let scheme = if tls.is_some() { "https" } else { "http" };
                if tls.is_none() && !addr.ip().is_loopback() {
                    tracing::warn!(
                        "the AWS endpoint on {addr} is plain HTTP, which other machines can reach: \
                         plaintexts, data keys and secret values cross the network in the clear \
                         (requests stay signed). Serve TLS (--tls-cert-file, --tls-key-file), \
                         listen on 127.0.0.1, or keep it on a private network."
                    );
                }
                tracing::info!("vaultd AWS endpoint listening on {scheme}://{addr}");
                Some(vaultd::aws::AwsListener {
                    tcp: Arc::new(listener),
                    tls: tls.clone(),
                })
            }
            None => None,
        };
        tracing::info!(
            data_dir = %args.data_dir.display(),
            storage = engine,
            throttle = %throttle,
            tls = match &tls {
                Some(tls) if tls.requires_client_certificates() => "mutual",
                Some(_) => "on",
                None => "off",
            },
            "vaultd listening on {local}"
        );
        loop {
            let served = vault;
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
                metrics: metrics.clone(),
                aws_listener: aws_listener.clone(),
                maintenance_interval,
            };
            server::serve(listeners.clone(), served.clone(), options, until)
                .await
                .map_err(|e| format!("server failed: {e}"))?;
            let staged = restore.lock().unwrap_or_else(|e| e.into_inner()).take();
            let Some(staged) = staged else {
                break;
            };
            *current.write().unwrap_or_else(|e| e.into_inner()) = None;
            vault = match close_vault(served).await {
                Ok(()) => {
                    restore_backup(&data_dir, &staged, &restore_key).await;
                    let reopen = open_vault.clone();
                    Arc::new(
                        tokio::task::spawn_blocking(reopen)
                            .await
                            .map_err(|e| e.to_string())??,
                    )
                }
                Err(served) => {
                    let _ = std::fs::remove_file(&staged);
                    tracing::error!(
                        "the restore is abandoned: requests still held the vault after 30 s; \
                         serving the state it had"
                    );
                    served
                }
            };
        }
        if let Some(path) = &unix_listener {
            let _ = std::fs::remove_file(path);
        }
        tracing::info!("vaultd stopped");
        Ok(())
    })
}

/// Closes a vault that stopped serving, once every request's work on it has let go, so that it
/// releases the data directory (and its audit trail is written out). After 30 s it gives the
/// vault back, still open.
pub(crate) async fn close_vault(vault: Arc<Vault>) -> Result<(), Arc<Vault>> {
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
    Err(vault)
}

/// Puts a received, checked backup in the closed vault's place. Work that outlived the requests
/// (a secret rotation's hook) may still have the database open for a few seconds: it is waited
/// for, and if it stays the restore is abandoned, the database untouched. Either way the outcome
/// is logged, and the vault then opens on whatever state is in place.
async fn restore_backup(data_dir: &Path, staged: &Path, root_key: &RootKey) {
    let mut attempts = 0;
    let outcome = loop {
        let (dir, key, backup) = (
            data_dir.to_path_buf(),
            root_key.clone(),
            staged.to_path_buf(),
        );
        let installed = tokio::task::spawn_blocking(move || {
            vault::install_received_backup(&dir, &backup, &key)
        })
        .await;
        match installed {
            Ok(Err(vault::OpenError::InUse(_))) if attempts < 20 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            other => break other,
        }
    };
    let _ = std::fs::remove_file(staged);
    match outcome {
        Ok(Ok(outcome)) => tracing::warn!(
            keys = outcome.summary.keys,
            secrets = outcome.summary.secrets,
            parameters = outcome.summary.parameters,
            "restored a backup; the previous database is kept in {}",
            outcome
                .previous
                .map_or_else(|| "(none)".into(), |p| p.display().to_string())
        ),
        Ok(Err(e)) => tracing::error!("the restore failed; serving the previous state: {e}"),
        Err(e) => tracing::error!("the restore failed; serving the previous state: {e}"),
    }
}

pub(crate) fn tokio_listener(listener: std::net::TcpListener) -> Result<TcpListener, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    TcpListener::from_std(listener).map_err(|e| e.to_string())
}

/// SIGHUP reads the TLS files again; a reload that fails keeps the certificate in use.
pub(crate) fn reload_on_sighup(tls: server::TlsConfig) -> Result<(), String> {
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
pub(crate) fn warn_if_exposed(local: SocketAddr) {
    if !local.ip().is_loopback() {
        tracing::warn!(
            "vaultd serves plaintext gRPC on {local}, which other machines can reach: plaintexts, data \
             keys and signed requests cross the network in the clear. Serve TLS (--tls-cert-file, \
             --tls-key-file), listen on 127.0.0.1 or a Unix socket, or keep it on a private network."
        );
    }
}

/// The endpoint a local client uses to reach `local`: a wildcard address becomes loopback.
pub(crate) fn client_endpoint(local: SocketAddr, tls: bool) -> String {
    let ip = match local.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, local.port()))
}

/// Installs the SIGTERM and SIGINT handlers now and returns a future that completes on either.
pub(crate) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
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
