//! What the benchmarks share: an in-process vaultd on 127.0.0.1:0 over a temporary SQLite
//! database, with fixed root credentials and throttling off.

use std::{path::Path, sync::Arc};

use vaultd::{
    arn::Arns,
    audit::AuditConfig,
    auth::throttle::ThrottleConfig,
    clock::SystemClock,
    crypto::barrier::RootKey,
    iam::{Credentials, RootCredentials},
    server::{self, ServerOptions},
    vault::{Vault, VaultConfig},
};
use zeroize::Zeroizing;

/// Root's access key id and secret.
pub const ID: &str = "AKIABENCHMARKKEY2345";
pub const SECRET: &str = "benchmarkbenchmarkbenchmarkbenchmark1234";

/// Opens a vault in `data_dir` and serves it on free loopback ports: the vault (for in-process
/// comparisons), the gRPC endpoint and the AWS endpoint's address.
pub async fn start_server(data_dir: &Path) -> (Arc<Vault>, String, std::net::SocketAddr) {
    let vault = Arc::new(
        Vault::open(VaultConfig {
            storage: Default::default(),
            data_dir: data_dir.to_path_buf(),
            root_key: RootKey::generate().unwrap(),
            arns: Arns::default(),
            clock: Arc::new(SystemClock),
            root_credentials: RootCredentials::Fixed(Credentials {
                access_key_id: ID.into(),
                secret_access_key: Zeroizing::new(SECRET.into()),
            }),
            throttle: ThrottleConfig::off(),
            audit: AuditConfig::default(),
            rotation_hooks: Default::default(),
        })
        .expect("vault opens"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let aws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let aws_addr = aws.local_addr().unwrap();
    tokio::spawn(server::run(
        listener,
        vault.clone(),
        ServerOptions {
            aws_listener: Some(vaultd::aws::AwsListener {
                tcp: Arc::new(aws),
                tls: None,
            }),
            ..ServerOptions::default()
        },
        std::future::pending(),
    ));
    (vault, endpoint, aws_addr)
}
