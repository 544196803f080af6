//! The root key (a file, the environment, or in dev mode one generated in the data directory)
//! and root's credentials (fixed from the environment, or generated and shown once).

use super::*;

/// The root key from VAULTD_ROOT_KEY, --root-key-file, or (in dev mode) the data directory.
pub(crate) fn root_key(args: &Args) -> Result<RootKey, String> {
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

pub(crate) fn read_root_key(path: &Path) -> Result<RootKey, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| format!("root key file {}: {e}", path.display()))?,
    );
    RootKey::from_base64(&text).map_err(|e| format!("root key file {}: {e}", path.display()))
}

pub(crate) fn dev_root_key(data_dir: &Path, format: LogFormat) -> Result<RootKey, String> {
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

pub(crate) fn root_credentials_from_env() -> Result<Option<Credentials>, String> {
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

pub(crate) fn announce_root_credentials(
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
