//! `vaultctl`: the command-line client of vaultd, shaped like the AWS CLI.
//!
//! `vaultctl <service> <action> [--flags]` calls an RPC of vaultd through
//! [`vaultd::client::Client`] and prints the answer as the AWS CLI would: JSON with AWS field names
//! by default, or tab-separated text, optionally narrowed by `--query`. The services: `kms`
//! (`vault.v1.KeyManagement`), `iam` (`vault.v1.Identity`), `sts` (`vault.v1.SecurityToken`),
//! `ssm` (`vault.v1.ParameterStore`), `secretsmanager` (`vault.v1.SecretsManager`) and `audit`
//! (`vault.v1.Audit`: reading and verifying the audit trail, which the AWS CLI has no counterpart
//! of). Two top-level commands have no AWS CLI counterpart either: `encrypt` and `decrypt`
//! ([`envelope`]) envelope-encrypt files and streams of any size (crypto.md §3) in constant
//! memory, with one GenerateDataKey or Decrypt call, and write raw bytes rather than JSON.
//!
//! The layers: clap argument structs and request builders ([`kms`], [`iam`], [`sts`], [`ssm`],
//! [`secretsmanager`], [`audit`], reading inputs through [`input`] and [`enums`]) → the call ([`calls`]) → an AWS-shaped
//! `serde_json::Value` ([`aws_json`]) → one formatter ([`output`]). A few actions take more than
//! one call or print in a shape of their own (`iam simulate-policy --user-name`,
//! `sts get-session-token --export`, `audit tail` and `audit verify`): their modules run them.
//! Endpoint and credentials are resolved by [`credentials`]. Everything local (flags, files,
//! stdin, credentials) is checked before the first byte is sent.
//!
//! Exit status, as AWS CLI v2's: 0 on success; 252 for a bad command line or bad input (clap's usage
//! errors included); 253 for bad configuration (credentials, profile, endpoint); 254 when the
//! service answered with an error; 255 when vaultd could not be reached or did not answer in time,
//! or for any other failure (reading the input or writing the output of `encrypt`/`decrypt`
//! included). Beyond the AWS CLI: 1 when `audit verify` finds the trail broken, or when `decrypt`
//! finds the stream does not verify (altered, truncated, reordered, extended, its header altered);
//! 3 when none of `decrypt`'s `--key-id` wraps the data key; 4 when the stream's encryption context
//! lacks a `--context` pair of `decrypt`; 5 when `decrypt`'s input is not a vaultd encrypted
//! stream, or of an unknown format version or suite. Every error but clap's is printed after a
//! blank line, as the AWS CLI prints them.

#![forbid(unsafe_code)]

mod admin;
mod audit;
mod aws_json;
mod bench;
mod calls;
mod credentials;
mod enums;
mod envelope;
mod fields;
mod iam;
mod input;
mod kms;
mod outfile;
mod output;
mod progress;
mod secretsmanager;
mod ssm;
mod sts;

use std::{fmt, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand};
use tonic::Code;
use vaultd::client::{Client, ClientConfig, ClientError, RetryPolicy};

use crate::{
    credentials::CredentialFlags,
    input::BinaryFormat,
    output::{OutputFormat, Printer, Query},
};

/// The command-line client of vaultd, a key-management daemon that speaks AWS KMS, IAM, STS, SSM
/// Parameter Store and Secrets Manager.
///
/// Credentials come from the flags, else VAULTD_ACCESS_KEY_ID / VAULTD_SECRET_ACCESS_KEY /
/// VAULTD_SESSION_TOKEN, else a profile of ~/.vaultd/credentials (VAULTD_SHARED_CREDENTIALS_FILE
/// names another file): an INI file with `[default]` and named sections holding endpoint,
/// access_key_id, secret_access_key and session_token (or the AWS CLI's names endpoint_url,
/// aws_access_key_id, aws_secret_access_key and aws_session_token).
#[derive(Parser)]
#[command(
    name = "vaultctl",
    version,
    about,
    long_about,
    after_help = "Exit status (as AWS CLI v2's): 0 success; 252 bad command line or input (unknown \
                  option, bad value, unreadable or invalid file or stdin); 253 bad configuration \
                  (no credentials, unknown profile, malformed credentials file, invalid endpoint); \
                  254 the service answered with an error; 255 vaultd unreachable or too slow, or \
                  another failure (reading the input or writing the output included). Beyond the \
                  AWS CLI: 1 `audit verify` found the audit trail broken, or `decrypt` found the \
                  stream altered, truncated or extended; 3 `decrypt`: none of the given --key-id \
                  wraps the data key; 4 `decrypt`: the encryption context lacks a --context pair; \
                  5 `decrypt`: not a vaultd encrypted stream, or an unknown format version."
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

    /// Output format [default: json; the audit commands print lines of text unless --output json].
    /// pem is for `kms get-public-key` only: the public key as a PEM block.
    #[arg(long, global = true, value_enum)]
    output: Option<OutputFormat>,

    /// Print only this part of the output: a field or a dotted path such as KeyMetadata.KeyId,
    /// `Keys[0].KeyId` or `Aliases[].AliasName` (a subset of JMESPath).
    #[arg(long, global = true, value_parser = Query::parse)]
    query: Option<Query>,

    /// The deadline of each attempt, in seconds.
    #[arg(long, global = true, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_secs: u64,

    /// For https:// endpoints: the CA certificates (PEM) to trust instead of the system's, as
    /// AWS CLI's --ca-bundle. Also VAULTD_CA_BUNDLE.
    #[arg(long, global = true, env = "VAULTD_CA_BUNDLE", value_name = "FILE")]
    ca_bundle: Option<std::path::PathBuf>,

    /// Mutual TLS: this client certificate (PEM) with --client-key. Also VAULTD_CLIENT_CERT.
    #[arg(
        long,
        global = true,
        env = "VAULTD_CLIENT_CERT",
        value_name = "FILE",
        requires = "client_key"
    )]
    client_cert: Option<std::path::PathBuf>,

    /// Mutual TLS: the private key (PEM) of --client-cert. Also VAULTD_CLIENT_KEY.
    #[arg(
        long,
        global = true,
        env = "VAULTD_CLIENT_KEY",
        value_name = "FILE",
        requires = "client_cert"
    )]
    client_key: Option<std::path::PathBuf>,

    /// Do not retry when vaultd is unavailable or throttles.
    #[arg(long, global = true)]
    no_retry: bool,

    /// How --plaintext reads a literal or file:// value: raw-in-base64-out takes its UTF-8 bytes
    /// (AWS CLI v1 behaviour); base64 decodes it from base64 first (AWS CLI v2's default).
    /// fileb:// and stdin are always raw bytes.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        default_value_t = BinaryFormat::RawInBase64Out
    )]
    cli_binary_format: BinaryFormat,

    /// Accepted for AWS CLI compatibility; ARNs carry the region vaultd was started with.
    #[arg(long, global = true, value_name = "REGION")]
    region: Option<String>,

    /// Accepted for AWS CLI compatibility; vaultctl never pages its output.
    #[arg(long, global = true)]
    no_cli_pager: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Key management: keys, aliases, tags, rotation and cryptographic operations (AWS KMS).
    #[command(subcommand)]
    Kms(kms::KmsCommand),
    /// Identities: users, their access keys and inline policies, policy simulation (AWS IAM).
    #[command(subcommand)]
    Iam(iam::IamCommand),
    /// Temporary session credentials and "who am I" (AWS STS).
    #[command(subcommand)]
    Sts(sts::StsCommand),
    /// Parameters: configuration values and secrets, with versions, labels and tags (AWS SSM
    /// Parameter Store).
    #[command(subcommand)]
    Ssm(ssm::SsmCommand),
    /// Secrets: values with versions and staging labels, scheduled deletion, tags, random
    /// passwords (AWS Secrets Manager).
    #[command(subcommand, name = "secretsmanager")]
    SecretsManager(secretsmanager::SecretsManagerCommand),
    /// Measure a running vaultd: requests/s and p50/p99/p99.9 latency of the hot operations at
    /// each concurrency, against the Health/Check baseline and the same crypto in-process.
    /// Makes its own keys, secret and parameter, and schedules them for deletion at the end.
    Bench(bench::BenchArgs),
    /// Backups of the whole vault, and restoring one, while vaultd serves.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Read and verify the audit trail of every authenticated request (like AWS CloudTrail).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Encrypt a file or stdin of any size under one or more KMS keys (envelope encryption).
    ///
    /// One GenerateDataKey call under the first --key-id makes a data key (each further --key-id
    /// wraps it as well, with Encrypt); the data is then encrypted locally, frame by frame with
    /// AES-256-GCM, in constant memory. The output starts with a header holding the wrapped data
    /// keys and the encryption context (in clear): `vaultctl decrypt` reads it back with one
    /// Decrypt call.
    #[command(after_help = envelope::ENCRYPT_AFTER_HELP)]
    Encrypt(envelope::EncryptArgs),
    /// Decrypt a file or stdin written by `vaultctl encrypt`, checking every frame.
    ///
    /// The data key is opened with one Decrypt call (under one of the keys the header names, or
    /// of the given --key-id), then every frame is checked as it is decrypted, and the end of the
    /// stream too: truncation, reordering, appended data and any altered byte are detected. With
    /// --outfile the file appears only once all of it verified. To stdout, the plaintext goes out
    /// as the frames verify and is not verified as a whole until vaultctl exits 0: on failure,
    /// discard it.
    #[command(after_help = envelope::DECRYPT_AFTER_HELP)]
    Decrypt(envelope::DecryptArgs),
    /// Field-level encryption of JSON documents: values at JSON Pointer paths encrypted in place
    /// (EncryptFields / DecryptFields), or offline with an RSA public key.
    #[command(subcommand)]
    Fields(fields::FieldsCommand),
}

impl Command {
    /// The name of the action when it has an `--access-key-id` of its own (the key it acts on,
    /// as the AWS CLI names it), which shadows the credentials flag of that name.
    fn own_access_key_id_flag(&self) -> Option<&'static str> {
        match self {
            Self::Iam(command) => command.own_access_key_id_flag(),
            Self::Audit(command) => command.own_access_key_id_flag(),
            Self::Kms(_)
            | Self::Admin(_)
            | Self::Bench(_)
            | Self::Sts(_)
            | Self::Ssm(_)
            | Self::SecretsManager(_)
            | Self::Encrypt(_)
            | Self::Decrypt(_)
            | Self::Fields(_) => None,
        }
    }

    /// Whether the command writes raw bytes (`encrypt`, `decrypt`), which `--output` and
    /// `--query` do not shape.
    fn writes_raw_bytes(&self) -> bool {
        matches!(self, Self::Encrypt(_) | Self::Decrypt(_))
    }

    /// What the command will do, its flags checked and its files and stdin read (for `decrypt`,
    /// the header of its input); sends nothing. `pem`: `--output pem` was given, which only
    /// `kms get-public-key` takes.
    fn job(self, binary_format: BinaryFormat, pem: bool) -> Result<Job, CliError> {
        if pem && !matches!(&self, Self::Kms(command) if command.takes_pem()) {
            return Err(CliError::Usage(
                "--output pem is only for kms get-public-key; use json or text".to_string(),
            ));
        }
        Ok(match self {
            Self::Kms(command) => {
                Job::Kms(command.job(binary_format, pem).map_err(CliError::Usage)?)
            }
            Self::Iam(command) => Job::Iam(command.job().map_err(CliError::Usage)?),
            Self::Sts(command) => Job::Sts(command.job().map_err(CliError::Usage)?),
            Self::Ssm(command) => Job::Ssm(command.request().map_err(CliError::Usage)?),
            Self::SecretsManager(command) => {
                Job::SecretsManager(command.request().map_err(CliError::Usage)?)
            }
            Self::Audit(command) => Job::Audit(command.job()),
            Self::Admin(command) => Job::Admin(command),
            Self::Bench(args) => Job::Bench(args),
            Self::Encrypt(args) => Job::Envelope(Box::new(args.job()?)),
            Self::Decrypt(args) => Job::Envelope(Box::new(args.job()?)),
            Self::Fields(command) => Job::Fields(command.job().map_err(CliError::Usage)?),
        })
    }
}

/// A command ready to run.
enum Job {
    Kms(kms::KmsJob),
    Iam(iam::IamJob),
    Sts(sts::StsJob),
    Ssm(calls::SsmRequest),
    SecretsManager(calls::SecretsRequest),
    Audit(audit::AuditJob),
    Admin(admin::AdminCommand),
    Bench(bench::BenchArgs),
    /// `encrypt` or `decrypt` (boxed: it holds its input and output, and a header).
    Envelope(Box<envelope::EnvelopeJob>),
    Fields(fields::FieldsJob),
}

impl Job {
    async fn run(self, context: &Context) -> Result<(), CliError> {
        let response = match self {
            Self::Kms(job) => return job.run(context).await,
            Self::Iam(job) => job.run(&context.client).await?,
            Self::Sts(job) => return job.run(context).await,
            Self::Ssm(request) => request.send(&context.client).await?,
            Self::SecretsManager(request) => request.send(&context.client).await?,
            Self::Audit(job) => return job.run(context).await,
            Self::Admin(command) => return command.run(context).await,
            Self::Bench(args) => return bench::run(args, context).await,
            Self::Envelope(job) => return job.run(context).await,
            Self::Fields(job) => return job.run(context).await,
        };
        context.out.value(&response).map(drop)
    }
}

/// What a command runs with: the connection, who signs, and where the answer goes.
pub struct Context {
    pub client: Client,
    /// What `client` was made from, for commands that open more connections (bench).
    pub config: ClientConfig,
    /// The access key id the requests are signed with.
    pub access_key_id: String,
    pub out: Printer,
}

/// Why a command failed; each variant has its exit status, as AWS CLI v2 chooses them.
#[derive(Debug)]
pub enum CliError {
    /// The command line or its input is invalid: a bad value, an unreadable or invalid file or
    /// stdin. Found before anything is sent. Exit 252.
    Usage(String),
    /// The configuration is invalid: no credentials, an unknown profile, a malformed credentials
    /// file, an invalid endpoint. Found before anything is sent. Exit 253.
    Config(String),
    /// The service answered the named operation with an error. Exit 254.
    Service {
        operation: &'static str,
        error: ClientError,
    },
    /// vaultd could not be reached. Exit 255.
    Unreachable { endpoint: String, message: String },
    /// vaultd accepted the request but did not answer within the timeout. Exit 255.
    TimedOut { endpoint: String },
    /// Any other failure at run time (the output cannot be written...). Exit 255.
    Other(String),
    /// `audit verify` found the trail broken: the first broken event and why. Exit 1.
    BrokenTrail(String),
    /// `decrypt`: the stream does not verify (altered, truncated, reordered, extended, its header
    /// altered); says what became of the output. Exit 1.
    Unverified(String),
    /// `decrypt`: none of the given `--key-id` wraps the data key; names the keys that do.
    /// Exit 3.
    WrongKey(String),
    /// `decrypt`: the stream's encryption context lacks a `--context` pair. Exit 4.
    WrongContext(String),
    /// `decrypt`: the input is not a vaultd encrypted stream, or of an unknown format version or
    /// suite. Found before anything is sent. Exit 5.
    NotEncrypted(String),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Self::BrokenTrail(_) | Self::Unverified(_) => 1,
            Self::WrongKey(_) => 3,
            Self::WrongContext(_) => 4,
            Self::NotEncrypted(_) => 5,
            Self::Usage(_) => 252,
            Self::Config(_) => 253,
            Self::Service { .. } => 254,
            Self::Unreachable { .. } | Self::TimedOut { .. } | Self::Other(_) => 255,
        })
    }

    /// Tells a failure to reach vaultd from a service error, for the message and the exit status:
    /// vaultd puts an ErrorInfo reason on every error it returns, so a transport-level code without
    /// one comes from the client side. tonic reports its own per-request timeout as CANCELLED
    /// ("Timeout expired"), a deadline enforced elsewhere as DEADLINE_EXCEEDED.
    fn with_endpoint(self, endpoint: &str) -> Self {
        match self {
            Self::Service { error, .. }
                if error.reason.is_none() && error.code == Code::Unavailable =>
            {
                Self::Unreachable {
                    endpoint: endpoint.to_string(),
                    message: error.message,
                }
            }
            Self::Service { error, .. }
                if error.reason.is_none()
                    && matches!(error.code, Code::Cancelled | Code::DeadlineExceeded) =>
            {
                Self::TimedOut {
                    endpoint: endpoint.to_string(),
                }
            }
            other => other,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message)
            | Self::Config(message)
            | Self::Other(message)
            | Self::Unverified(message)
            | Self::WrongKey(message)
            | Self::WrongContext(message)
            | Self::NotEncrypted(message) => write!(f, "vaultctl: error: {message}"),
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
            Self::Unreachable { endpoint, message } => write!(
                f,
                "Could not connect to the endpoint URL: \"{endpoint}\" ({message})"
            ),
            Self::TimedOut { endpoint } => {
                write!(f, "Read timeout on endpoint URL: \"{endpoint}\"")
            }
            Self::BrokenTrail(first_broken) => {
                write!(f, "Audit trail broken at {first_broken}")
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(&CliError::Other(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// Prints clap's message: `--help` and `--version` to stdout with status 0, a usage error to
/// stderr with status 252 (clap's own default is 2; AWS CLI v2 uses 252).
fn clap_exit(error: &clap::Error) -> ExitCode {
    // A closed stdout (`vaultctl --help | head -1`) is not worth reporting.
    let _ = error.print();
    ExitCode::from(if error.use_stderr() { 252 } else { 0 })
}

/// Prints the error after a blank line, as the AWS CLI does, and returns its exit status.
fn fail(error: &CliError) -> ExitCode {
    eprintln!("\n{error}");
    error.exit_code()
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let mut global = cli.global;
    if let Some(action) = cli.command.own_access_key_id_flag() {
        // clap hands the action's --access-key-id to the global flag of that name as well.
        global.credentials = global
            .credentials
            .shadowed_access_key_id(action)
            .map_err(CliError::Config)?;
    }
    if matches!(cli.command, Command::Fields(_))
        && (global.output.is_some() || global.query.is_some())
    {
        return Err(CliError::Usage(
            "--output and --query do not apply to fields, which prints the JSON document: pipe \
             it to jq to pick a part"
                .to_string(),
        ));
    }
    if cli.command.writes_raw_bytes() && (global.output.is_some() || global.query.is_some()) {
        return Err(CliError::Usage(
            "--output and --query do not apply to encrypt and decrypt, which write raw bytes: \
             use --outfile PATH or redirect stdout"
                .to_string(),
        ));
    }
    let pem = global.output == Some(OutputFormat::Pem);
    if pem && global.query.is_some() {
        return Err(CliError::Usage(
            "--query does not apply to --output pem".to_string(),
        ));
    }
    let job = cli.command.job(global.cli_binary_format, pem)?;
    // Public-key field encryption needs neither vaultd nor credentials.
    if let Job::Fields(fields) = &job
        && fields.is_offline()
        && let Job::Fields(fields) = job
    {
        return fields.run_offline();
    }
    if let Job::Admin(admin) = &job
        && admin.is_offline()
        && let Job::Admin(admin) = job
    {
        let out = Printer::new(global.query, global.output.and_then(OutputFormat::format));
        return admin.run_offline(&out).await;
    }
    let tls = client_tls(&global)?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let settings = credentials::resolve(&global.credentials, &env).map_err(CliError::Config)?;
    let endpoint = settings.endpoint.clone();
    let access_key_id = settings.credentials.access_key_id.clone();

    let mut config = ClientConfig::new(settings.endpoint, settings.credentials);
    config.timeout = Duration::from_secs(global.timeout_secs);
    if global.no_retry {
        config.retry = RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        };
    }
    config.tls = tls;
    let client = Client::connect(config.clone()).map_err(|e| CliError::Config(e.message))?;
    let context = Context {
        client,
        config,
        access_key_id,
        out: Printer::new(global.query, global.output.and_then(OutputFormat::format)),
    };
    job.run(&context)
        .await
        .map_err(|e| e.with_endpoint(&endpoint))
}

/// The TLS files of the command line, read.
fn client_tls(global: &GlobalArgs) -> Result<vaultd::client::ClientTls, CliError> {
    let read = |flag: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| CliError::Config(format!("{flag} {}: {e}", path.display())))
    };
    let ca_pem = match &global.ca_bundle {
        Some(path) => Some(read("--ca-bundle", path)?),
        None => None,
    };
    let identity = match (&global.client_cert, &global.client_key) {
        (Some(cert), Some(key)) => Some((
            read("--client-cert", cert)?,
            zeroize::Zeroizing::new(read("--client-key", key)?),
        )),
        _ => None,
    };
    Ok(vaultd::client::ClientTls {
        ca_pem,
        identity,
        server_name: None,
    })
}
