//! The test harness: a real vaultd on 127.0.0.1:0 (in-process, with a manual clock) or the real
//! `vaultd` binary as a child process, over temporary data directories.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use vaultd::{
    arn::Arns,
    audit::AuditConfig,
    auth::throttle::ThrottleConfig,
    client::{Client, ClientConfig, ClientError, RetryPolicy, StaticCredentials},
    clock::{Clock, ManualClock},
    crypto::barrier::RootKey,
    iam::{Credentials, RootCredentials},
    pb,
    server::{self, ServerOptions},
    vault::{Storage, Vault, VaultConfig},
};
use zeroize::Zeroizing;

pub const ROOT_ACCESS_KEY_ID: &str = "AKIAEXAMPLEKEY234567";
pub const ROOT_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// The environment that gives the vaultd binary the fixed root credentials above.
pub const FIXED_CREDS: [(&str, &str); 2] = [
    ("VAULTD_ROOT_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
    ("VAULTD_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET),
];

/// vaultctl signing as root against `endpoint`, without the tests' own VAULTD_* environment.
pub fn root_vaultctl(endpoint: &str) -> Command {
    let mut command = vaultctl_command();
    command
        .env("VAULTD_ENDPOINT", endpoint)
        .env("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
        .env("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET);
    command
}

/// Asserts that a command exited 0 (showing its stderr if not) and returns its stdout.
#[track_caller]
pub fn succeeded(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn root_credentials() -> StaticCredentials {
    StaticCredentials::new(ROOT_ACCESS_KEY_ID, ROOT_SECRET, None)
}

/// An in-process vaultd serving on a real socket, with a clock the test moves.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The AWS front end (awsJson, awsQuery), on its own port.
    pub aws_addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub vault: Arc<Vault>,
    pub data_dir: PathBuf,
    pub root_key: RootKey,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let clock = Arc::new(ManualClock::starting_now());
        let mut server = Self::start_in(&data_dir, RootKey::generate().unwrap(), clock).await;
        server._dir = Some(dir);
        server
    }

    pub async fn start_in(data_dir: &Path, root_key: RootKey, clock: Arc<ManualClock>) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), data_dir, root_key, clock).await
    }

    /// Starts on a given address (to come back where a previous server was).
    pub async fn start_on(
        addr: SocketAddr,
        data_dir: &Path,
        root_key: RootKey,
        clock: Arc<ManualClock>,
    ) -> Self {
        Self::start_full(addr, data_dir, root_key, clock, ThrottleConfig::off()).await
    }

    /// A fresh server that throttles as `throttle` says.
    pub async fn start_throttled(throttle: ThrottleConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let clock = Arc::new(ManualClock::starting_now());
        let mut server = Self::start_full(
            "127.0.0.1:0".parse().unwrap(),
            &data_dir,
            RootKey::generate().unwrap(),
            clock,
            throttle,
        )
        .await;
        server._dir = Some(dir);
        server
    }

    async fn start_full(
        addr: SocketAddr,
        data_dir: &Path,
        root_key: RootKey,
        clock: Arc<ManualClock>,
        throttle: ThrottleConfig,
    ) -> Self {
        Self::start_stored(Storage::Sqlite, addr, data_dir, root_key, clock, throttle).await
    }

    /// A server on `storage` (a replica, when it is a shared database).
    pub async fn start_stored(
        storage: Storage,
        addr: SocketAddr,
        data_dir: &Path,
        root_key: RootKey,
        clock: Arc<ManualClock>,
        throttle: ThrottleConfig,
    ) -> Self {
        let config = VaultConfig {
            storage,
            data_dir: data_dir.to_path_buf(),
            root_key: root_key.clone(),
            arns: Arns::default(),
            clock: clock.clone(),
            root_credentials: RootCredentials::Fixed(Credentials {
                access_key_id: ROOT_ACCESS_KEY_ID.into(),
                secret_access_key: Zeroizing::new(ROOT_SECRET.into()),
            }),
            throttle,
            audit: AuditConfig::default(),
            rotation_hooks: vaultd::secrets::rotation::HookPolicy {
                dir: Some(data_dir.with_file_name("hooks")),
                hosts: vec![],
            },
        };
        // On a blocking thread: a store's client may block (PostgreSQL's does).
        let vault = tokio::task::spawn_blocking(move || Vault::open(config))
            .await
            .unwrap()
            .expect("vault opens");
        let vault = Arc::new(vault);
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let aws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let aws_addr = aws_listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(
            listener,
            vault.clone(),
            // Tests drive time-based work themselves (through the clock or run_maintenance), so
            // the background pass never runs behind their back.
            ServerOptions {
                maintenance_interval: Duration::from_secs(365 * 86_400),
                aws_listener: Some(vaultd::aws::AwsListener {
                    tcp: Arc::new(aws_listener),
                    tls: None,
                }),
                ..ServerOptions::default()
            },
            async {
                let _ = rx.await;
            },
        ));
        let task = tokio::spawn(async move {
            task.await.unwrap().unwrap();
        });
        Self {
            addr,
            aws_addr,
            clock,
            vault,
            data_dir: data_dir.to_path_buf(),
            root_key,
            _dir: None,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A root client whose requests are dated by the server's manual clock.
    pub fn client(&self) -> Client {
        self.client_with(root_credentials())
    }

    pub fn client_with(&self, credentials: StaticCredentials) -> Client {
        let mut config = ClientConfig::new(self.endpoint(), credentials);
        config.clock = self.clock.clone() as Arc<dyn Clock>;
        config.retry = RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        };
        Client::connect(config).unwrap()
    }

    /// Stops the server gracefully and waits for it, and for the vault to close (on a blocking
    /// thread: a store's client may block as it closes).
    pub async fn stop(
        mut self,
    ) -> (
        Option<tempfile::TempDir>,
        PathBuf,
        RootKey,
        Arc<ManualClock>,
    ) {
        self.shutdown.take().unwrap().send(()).ok();
        self.task.take().unwrap().await.unwrap();
        let Self {
            vault,
            _dir: dir,
            data_dir,
            root_key,
            clock,
            ..
        } = self;
        let mut vault = vault;
        for _ in 0..500 {
            match Arc::try_unwrap(vault) {
                Ok(closed) => {
                    tokio::task::spawn_blocking(move || drop(closed))
                        .await
                        .unwrap();
                    break;
                }
                Err(shared) => {
                    vault = shared;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        (dir, data_dir, root_key, clock)
    }

    /// Stops and starts again on the same data directory, root key and clock.
    pub async fn restart(self) -> Self {
        let (dir, data_dir, root_key, clock) = self.stop().await;
        let mut server = Self::start_in(&data_dir, root_key, clock).await;
        server._dir = dir;
        server
    }
}

/// Seconds since the epoch on a clock.
pub trait NowSecs {
    fn now_secs(&self) -> i64;
}

impl NowSecs for ManualClock {
    fn now_secs(&self) -> i64 {
        self.now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }
}

/// Creates a symmetric key and returns its id.
pub async fn create_key(client: &Client) -> String {
    client
        .create_key(pb::CreateKeyRequest::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// An encryption context from pairs.
pub fn ctx(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Encrypts and returns the ciphertext blob.
pub async fn encrypt(
    client: &Client,
    key_id: &str,
    plaintext: &[u8],
    context: &[(&str, &str)],
) -> Vec<u8> {
    client
        .encrypt(pb::EncryptRequest {
            key_id: key_id.into(),
            plaintext: plaintext.to_vec(),
            encryption_context: ctx(context),
            ..Default::default()
        })
        .await
        .unwrap()
        .ciphertext_blob
}

/// Decrypts a blob.
pub async fn decrypt(
    client: &Client,
    blob: &[u8],
    context: &[(&str, &str)],
) -> Result<Vec<u8>, vaultd::client::ClientError> {
    client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob.to_vec(),
            encryption_context: ctx(context),
            ..Default::default()
        })
        .await
        .map(|r| r.plaintext)
}

/// Schedules a key's deletion.
pub async fn schedule_deletion(client: &Client, key_id: &str, days: i32) {
    client
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: key_id.into(),
            pending_window_in_days: Some(days),
        })
        .await
        .unwrap();
}

/// Asserts an error's gRPC code and AWS reason.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    code: tonic::Code,
    reason: &str,
) -> ClientError {
    let err = result.expect_err("expected an error");
    assert_eq!((err.code, err.reason()), (code, reason), "{err}");
    err
}

/// The real `vaultd` binary as a child process. Its stderr is read to the end in the background
/// (so it never blocks on a full pipe) and kept for assertions and failure messages.
pub struct Daemon {
    pub child: Child,
    /// The gRPC listener.
    pub addr: SocketAddr,
    /// The AWS-protocol listener, when started with `--aws-listen`.
    pub aws_addr: Option<SocketAddr>,
    log: Arc<Mutex<Vec<String>>>,
}

/// What vaultd logs once a listener is bound: the gRPC one, and the AWS-protocol one.
pub const GRPC_LISTENING: &str = "vaultd listening on ";
pub const AWS_LISTENING: &str = "vaultd AWS endpoint listening on ";

enum Listening {
    Grpc(SocketAddr),
    Aws(SocketAddr),
}

/// The socket address that follows `marker` in a log line (after an optional `http://`). Text or
/// JSON lines: the address ends at the first character that cannot be part of one.
pub fn address_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = line.split(marker).nth(1)?;
    let rest = rest
        .strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))
        .unwrap_or(rest);
    rest.split(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
        .next()?
        .parse()
        .ok()
}

pub fn vaultd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vaultd")
}

pub fn vaultctl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vaultctl")
}

/// The vaultctl binary as a command without any VAULTD_* variable of the environment the tests
/// run in, so that a developer's own settings never leak in: a test sets those it wants.
pub fn vaultctl_command() -> Command {
    scrubbed_command(vaultctl_bin())
}

/// `program` as a command without any VAULTD_* variable of the tests' environment.
pub fn scrubbed_command(program: &str) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VAULTD_") {
            command.env_remove(name);
        }
    }
    command
}

impl Daemon {
    /// Starts `vaultd` with `args` and `env` on 127.0.0.1:0 and waits until it listens (on its
    /// AWS-protocol endpoint too when `args` has `--aws-listen`). Returns its stderr as the error
    /// if it exits (or stays silent for 30 s) first.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Result<Self, String> {
        let wants_aws = args
            .iter()
            .any(|a| *a == "--aws-listen" || a.starts_with("--aws-listen="));
        let mut cmd = Command::new(vaultd_bin());
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(args)
            .env_remove("VAULTD_ROOT_KEY")
            .env_remove("VAULTD_ROOT_KEY_FILE")
            .env_remove("VAULTD_ROOT_ACCESS_KEY_ID")
            .env_remove("VAULTD_ROOT_SECRET_ACCESS_KEY")
            .env("VAULTD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start vaultd: {e}"))?;
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn({
            let log = log.clone();
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let listening = address_after(&line, GRPC_LISTENING)
                        .map(Listening::Grpc)
                        .or_else(|| address_after(&line, AWS_LISTENING).map(Listening::Aws));
                    log.lock().unwrap().push(line);
                    if let Some(listening) = listening {
                        let _ = tx.send(listening);
                    }
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let (mut addr, mut aws_addr) = (None, None);
        while addr.is_none() || (wants_aws && aws_addr.is_none()) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                // The first line of each kind names the listener (later ones may be other
                // listeners, such as a Unix socket's, or none at all).
                Ok(Listening::Grpc(a)) => addr = addr.or(Some(a)),
                Ok(Listening::Aws(a)) => aws_addr = aws_addr.or(Some(a)),
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().map_err(|e| e.to_string())?;
                    // The reader thread ends with the process; give it a moment to store the last lines.
                    std::thread::sleep(Duration::from_millis(50));
                    let waiting_for = if addr.is_none() {
                        "listening"
                    } else {
                        "its AWS endpoint listened"
                    };
                    return Err(format!(
                        "vaultd exited ({status}) before {waiting_for}:\n{}",
                        log.lock().unwrap().join("\n")
                    ));
                }
            }
        }
        Ok(Self {
            child,
            addr: addr.unwrap(),
            aws_addr,
            log,
        })
    }

    /// Everything vaultd wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The AWS-protocol endpoint's URL; panics unless started with `--aws-listen`.
    pub fn aws_endpoint(&self) -> String {
        let addr = self
            .aws_addr
            .expect("vaultd was started without --aws-listen");
        format!("http://{addr}")
    }

    pub fn client(&self, credentials: StaticCredentials) -> Client {
        let mut config = ClientConfig::new(self.endpoint(), credentials);
        config.timeout = Duration::from_secs(10);
        Client::connect(config).unwrap()
    }

    /// Sends `signal` and waits for the exit status.
    pub fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates user `name` with the inline policy `policy` (if any) and an access key; returns the
/// user's credentials.
pub async fn app_user(server: &TestServer, name: &str, policy: Option<&str>) -> StaticCredentials {
    let root = server.client();
    root.create_user(pb::CreateUserRequest {
        user_name: name.into(),
    })
    .await
    .unwrap();
    if let Some(policy) = policy {
        root.put_user_policy(pb::PutUserPolicyRequest {
            user_name: name.into(),
            policy_name: "app".into(),
            policy_document: policy.into(),
        })
        .await
        .unwrap();
    }
    let key = root
        .create_access_key(pb::CreateAccessKeyRequest {
            user_name: name.into(),
        })
        .await
        .unwrap()
        .access_key
        .unwrap();
    StaticCredentials::new(&key.access_key_id, &key.secret_access_key, None)
}

/// A policy document allowing `actions` on `resource`.
pub fn allow(actions: &[&str], resource: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]
    })
    .to_string()
}
