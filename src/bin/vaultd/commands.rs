//! The subcommands that do one thing and exit: `healthcheck`, and with vaultd stopped,
//! `restore` and `rotate-root-key`.

use super::*;

/// `vaultd healthcheck`: one health check; SERVING exits 0, anything else (an error, no answer
/// in time, another status) exits 1 with the reason on stderr.
/// The TLS side of a health check over https.
pub(crate) struct HealthcheckTls {
    pub ca_file: Option<PathBuf>,
    pub identity: Option<(PathBuf, PathBuf)>,
    pub server_name: Option<String>,
}

pub(crate) fn healthcheck(
    endpoint: &str,
    options: &HealthcheckTls,
    timeout: std::time::Duration,
) -> ExitCode {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let check = async {
        let mut channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| format!("--endpoint {endpoint}: {e}"))?;
        if endpoint.starts_with("https://") {
            let read = |flag: &str, path: &Path| {
                std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
            };
            let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
            if let Some(path) = &options.ca_file {
                let pem = read("--ca-file", path)?;
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            if let Some((cert, key)) = &options.identity {
                let (cert, key) = (read("--client-cert", cert)?, read("--client-key", key)?);
                tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
            }
            if let Some(name) = &options.server_name {
                tls = tls.domain_name(name.clone());
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

/// `vaultd restore`: installs a backup into the (unused) data directory.
pub(crate) fn restore(
    args: &Args,
    from: &Path,
    backup_root_key_file: Option<&Path>,
) -> Result<String, String> {
    if !matches!(super::serve::storage(args)?, vault::Storage::Sqlite) {
        return Err(vault::OpenError::SharedStore.to_string());
    }
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
pub(crate) fn rotate_root_key(args: &Args, new_root_key_file: &Path) -> Result<String, String> {
    let old = root_key(args)?;
    let new = read_root_key(new_root_key_file)?;
    if new == old {
        return Err("the new root key is the current one".into());
    }
    let storage = super::serve::storage(args)?;
    vault::rotate_root_key(&args.data_dir, &storage, &old, &new).map_err(|e| e.to_string())?;
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
