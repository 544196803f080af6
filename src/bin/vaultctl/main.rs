//! `vaultctl`: the command-line client of vaultd, shaped like the AWS CLI.
//!
//! `vaultctl kms <action> [--flags]` calls one RPC of `vault.v1.KeyManagement` through
//! [`vaultd::client::Client`] and prints the answer as the AWS CLI would: JSON with AWS field names
//! by default, or tab-separated text, optionally narrowed by `--query`.
//!
//! The layers: clap argument structs and request builders ([`kms`], reading inputs through
//! [`input`] and [`enums`]) → the call ([`calls`]) → an AWS-shaped `serde_json::Value`
//! ([`aws_json`]) → one formatter ([`output`]). Endpoint and credentials are resolved by
//! [`credentials`]. Everything local (flags, files, stdin, credentials) is checked before the
//! first byte is sent.
//!
//! Exit status: 0 on success; 1 for bad input or configuration found by vaultctl (clap's own usage
//! errors exit 2); 254 when the service answered with an error; 255 when vaultd could not be
//! reached or did not answer in time.

#![forbid(unsafe_code)]

mod aws_json;
mod calls;
mod credentials;
mod enums;
mod input;
mod kms;
mod output;

use std::{fmt, io::Write, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand};
use tonic::Code;
use vaultd::client::{Client, ClientConfig, ClientError, RetryPolicy};
use zeroize::Zeroizing;

use crate::{
    credentials::CredentialFlags,
    output::{Format, Query},
};

/// The command-line client of vaultd, a key-management daemon that speaks AWS KMS.
///
/// Credentials come from the flags, else VAULTD_ACCESS_KEY_ID / VAULTD_SECRET_ACCESS_KEY /
/// VAULTD_SESSION_TOKEN, else a profile of ~/.vaultd/credentials (VAULTD_SHARED_CREDENTIALS_FILE
/// names another file): an INI file with [default] and named sections holding endpoint,
/// access_key_id, secret_access_key and session_token.
#[derive(Parser)]
#[command(
    name = "vaultctl",
    version,
    about,
    long_about,
    after_help = "Exit status: 0 success; 1 bad input or configuration; 2 bad usage; \
                  254 the service answered with an error; 255 vaultd unreachable or too slow."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

/// Options accepted anywhere on the command line.
#[derive(Args)]
#[command(next_help_heading = "Global options")]
struct GlobalArgs {
    #[command(flatten)]
    credentials: CredentialFlags,

    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Json)]
    output: Format,

    /// Print only this part of the output: a field or a dotted path such as KeyMetadata.KeyId,
    /// Keys[0].KeyId or Aliases[].AliasName (a subset of JMESPath).
    #[arg(long, global = true, value_parser = Query::parse)]
    query: Option<Query>,

    /// The deadline of each attempt, in seconds.
    #[arg(long, global = true, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_secs: u64,

    /// Do not retry when vaultd is unavailable or throttles.
    #[arg(long, global = true)]
    no_retry: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Key management: keys, aliases, tags, rotation and cryptographic operations (AWS KMS).
    #[command(subcommand)]
    Kms(kms::KmsCommand),
}

/// Why a command failed; each variant has its exit status.
#[derive(Debug)]
pub enum CliError {
    /// Bad input or configuration, found before or without calling vaultd.
    Usage(String),
    /// The service answered the named operation with an error.
    Service {
        operation: &'static str,
        error: ClientError,
    },
    /// vaultd could not be reached, or did not answer in time.
    Connection {
        endpoint: String,
        message: String,
        timed_out: bool,
    },
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::from(1),
            Self::Service { .. } => ExitCode::from(254),
            Self::Connection { .. } => ExitCode::from(255),
        }
    }

    /// Tells a failure to reach vaultd (no AWS error name, transport-level code) from a service
    /// error, for the message and the exit status.
    fn with_endpoint(self, endpoint: &str) -> Self {
        match self {
            Self::Service { error, .. }
                if error.reason.is_none()
                    && matches!(error.code, Code::Unavailable | Code::DeadlineExceeded) =>
            {
                Self::Connection {
                    endpoint: endpoint.to_string(),
                    timed_out: error.code == Code::DeadlineExceeded,
                    message: error.message,
                }
            }
            other => other,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => write!(f, "vaultctl: error: {message}"),
            Self::Service { operation, error } => {
                let reason = match &error.reason {
                    Some(reason) => reason.clone(),
                    None => format!("{:?}", error.code),
                };
                write!(
                    f,
                    "An error occurred ({reason}) when calling the {operation} operation: {}",
                    error.message
                )
            }
            Self::Connection {
                endpoint,
                message,
                timed_out,
            } => {
                let what = if *timed_out {
                    "Read timeout on endpoint URL"
                } else {
                    "Could not connect to the endpoint URL"
                };
                write!(f, "{what}: \"{endpoint}\" ({message})")
            }
        }
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        Self::Usage(message)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("vaultctl: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            error.exit_code()
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let request = match cli.command {
        Command::Kms(command) => command.request()?,
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let settings = credentials::resolve(&cli.global.credentials, &env)?;
    let endpoint = settings.endpoint.clone();

    let mut config = ClientConfig::new(settings.endpoint, settings.credentials);
    config.timeout = Duration::from_secs(cli.global.timeout_secs);
    if cli.global.no_retry {
        config.retry = RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        };
    }
    let client = Client::connect(config).map_err(|e| CliError::Usage(e.message))?;

    let response = request
        .send(&client)
        .await
        .map_err(|e| e.with_endpoint(&endpoint))?;

    let rendered = output::render(&response, cli.global.query.as_ref(), cli.global.output);
    print(&rendered)
}

/// Writes the output; a closed pipe (`| head`) is not an error.
fn print(rendered: &Zeroizing<String>) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(rendered.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Usage(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}
