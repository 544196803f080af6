//! A quick load measurement of GenerateDataKey (and Decrypt) through a real vaultd: an in-process
//! server on 127.0.0.1:0 over a temporary SQLite database, driven by the typed client (signing
//! included) from `--concurrency` tasks for `--seconds` each. The requests come from an
//! application user (not root), so every one is authenticated, checked against an inline policy
//! with an encryption-context condition, and audited (throttling is off). Also measures the domain
//! call alone, so the overhead shows as a ratio in the same run.
//!
//! ```text
//! cargo run --release --example bench -- --seconds 5 --concurrency 1,16,64
//! ```

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use vaultd::{
    arn::Arns,
    audit::AuditConfig,
    auth::throttle::ThrottleConfig,
    client::{Client, ClientConfig, StaticCredentials},
    clock::SystemClock,
    crypto::{barrier::RootKey, context::EncryptionContext},
    iam::{Credentials, RootCredentials},
    model::DataKeySpec,
    pb,
    server::{self, ServerOptions},
    vault::{Vault, VaultConfig},
};
use zeroize::Zeroizing;

#[derive(Parser)]
struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent client tasks, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
}

const ID: &str = "AKIABENCHMARKKEY2345";
const SECRET: &str = "benchmarkbenchmarkbenchmarkbenchmark1234";

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let vault = Vault::open(VaultConfig {
        data_dir: dir.path().join("data"),
        root_key: RootKey::generate().unwrap(),
        arns: Arns::default(),
        clock: Arc::new(SystemClock),
        root_credentials: RootCredentials::Fixed(Credentials {
            access_key_id: ID.into(),
            secret_access_key: Zeroizing::new(SECRET.into()),
        }),
        throttle: ThrottleConfig::off(),
        audit: AuditConfig::default(),
    })
    .expect("vault opens");
    let vault = Arc::new(vault);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::run(
        listener,
        vault.clone(),
        ServerOptions::default(),
        std::future::pending(),
    ));

    let root = Client::connect(ClientConfig::new(
        endpoint.clone(),
        StaticCredentials::new(ID, SECRET, None),
    ))
    .unwrap();
    root.create_user(pb::CreateUserRequest {
        user_name: "bench".into(),
    })
    .await
    .unwrap();
    root.put_user_policy(pb::PutUserPolicyRequest {
        user_name: "bench".into(),
        policy_name: "envelope".into(),
        policy_document: r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["kms:GenerateDataKey*","kms:Encrypt","kms:Decrypt"],
             "Resource":"arn:aws:kms:*:*:key/*",
             "Condition":{"StringEquals":{"kms:EncryptionContext:app":"bench"}}},
            {"Effect":"Deny","Action":"kms:*","Resource":"*",
             "Condition":{"StringEquals":{"aws:username":"intruder"}}}]}"#
            .into(),
    })
    .await
    .unwrap();
    let app_key = root
        .create_access_key(pb::CreateAccessKeyRequest {
            user_name: "bench".into(),
        })
        .await
        .unwrap()
        .access_key
        .unwrap();
    let client = Client::connect(ClientConfig::new(
        endpoint,
        StaticCredentials::new(&app_key.access_key_id, &app_key.secret_access_key, None),
    ))
    .unwrap();
    let key_id = root
        .create_key(pb::CreateKeyRequest::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let context: std::collections::HashMap<String, String> =
        [("app".to_string(), "bench".to_string())].into();
    let blob = client
        .encrypt(pb::EncryptRequest {
            key_id: key_id.clone(),
            plaintext: vec![7; 32],
            encryption_context: context.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .ciphertext_blob;

    let seconds = Duration::from_secs(args.seconds);
    println!(
        "vaultd bench: {}s per row, one client connection (HTTP/2), SQLite in a temp dir; \
         auth, policy and audit on",
        args.seconds
    );
    println!(
        "{:<32} {:>11} {:>12} {:>10}",
        "operation", "concurrency", "requests/s", "mean ms"
    );

    // The domain call alone: the ceiling the gRPC layer is measured against.
    let kms = vault.kms.clone();
    let uuid = uuid::Uuid::parse_str(&key_id).unwrap();
    let ctx: EncryptionContext = context.clone().into();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < seconds {
        kms.generate_data_key(uuid, &ctx, Some(DataKeySpec::Aes256), None)
            .unwrap();
        n += 1;
    }
    let domain_rate = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "{:<32} {:>11} {:>12.0} {:>10.4}",
        "GenerateDataKey (domain only)",
        1,
        domain_rate,
        1000.0 / domain_rate
    );

    for &concurrency in &args.concurrency {
        let gdk = pb::GenerateDataKeyRequest {
            key_id: key_id.clone(),
            encryption_context: context.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        };
        let rate = measure(concurrency, seconds, {
            let client = client.clone();
            move || {
                let client = client.clone();
                let req = gdk.clone();
                async move {
                    client.generate_data_key(req).await.unwrap();
                }
            }
        })
        .await;
        println!(
            "{:<32} {:>11} {:>12.0} {:>10.3}   (domain/gRPC ratio {:.1}x)",
            "GenerateDataKey (gRPC, signed)",
            concurrency,
            rate,
            1000.0 * concurrency as f64 / rate,
            domain_rate / rate
        );
    }
    let concurrency = *args.concurrency.iter().max().unwrap_or(&16);
    let decrypt = pb::DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: context,
        ..Default::default()
    };
    let rate = measure(concurrency, seconds, {
        let client = client.clone();
        move || {
            let client = client.clone();
            let req = decrypt.clone();
            async move {
                client.decrypt(req).await.unwrap();
            }
        }
    })
    .await;
    println!(
        "{:<32} {:>11} {:>12.0} {:>10.3}",
        "Decrypt (gRPC, signed)",
        concurrency,
        rate,
        1000.0 * concurrency as f64 / rate
    );
    let drained = vault.audit.flush(Duration::from_secs(30));
    let events = vault
        .audit
        .lookup(&vaultd::model::AuditQuery {
            limit: 1,
            ..Default::default()
        })
        .unwrap();
    println!(
        "audit: {} events recorded (all written: {drained})",
        events.first().map_or(0, |e| e.sequence)
    );
}

/// Runs `op` from `concurrency` tasks for `duration`; returns completed operations per second.
async fn measure<F, Fut>(concurrency: usize, duration: Duration, op: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (done, stop, op) = (done.clone(), stop.clone(), op.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    op().await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}
