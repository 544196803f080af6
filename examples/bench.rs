//! A quick load measurement of vaultd's hot KMS calls through a real vaultd, next to the same work
//! done in-process with this crate, so the server's overhead shows as a ratio in the same run.
//!
//! The server is in-process on 127.0.0.1:0 (a plain listener, as `vaultd` binds it) over a
//! temporary SQLite database, driven by the typed client (signing included, one HTTP/2 connection)
//! from `--concurrency` tasks for `--seconds` each. The requests come from an application user (not
//! root), so every one is authenticated, checked against an inline policy and audited (throttling
//! is off). Rows, each selectable with `--only`:
//!
//! - `health`: `grpc.health.v1.Health/Check` over its own HTTP/2 connection: no signature, policy,
//!   audit or crypto, so the floor of what any request costs here (the gRPC stack, the kernel's
//!   loopback and the client on the same cores).
//! - `gdk`: GenerateDataKey (AES_256, with an encryption-context condition in the policy), and the
//!   domain call (`vault.kms.generate_data_key`) alone on one thread.
//! - `aws-gdk`: the same GenerateDataKey through the AWS endpoint (awsJson over HTTP/1.1, signed
//!   with SigV4 per request; one connection per task, as SDKs hold a pool), with its ratio to the
//!   gRPC rate at the same concurrency.
//! - `get-secret-value`: Secrets Manager GetSecretValue of a string secret under the AWS-managed
//!   default key (the user needs only `secretsmanager:GetSecretValue`), with its ratio to
//!   GenerateDataKey's rate at the same concurrency.
//! - `get-parameter`: Parameter Store GetParameter of a String parameter, and GetParameter
//!   WithDecryption of a SecureString one (under the AWS-managed `alias/aws/ssm`, so the policy
//!   needs only `ssm:GetParameter`), ~64-byte values put by root; each printed with its ratio to
//!   GenerateDataKey's rate at the same concurrency in this run ("-" when `gdk` did not run).
//! - `decrypt`: Decrypt of a symmetric ciphertext, at the largest concurrency.
//! - `rsa-sign`: RSA_2048 Sign, RSASSA_PSS_SHA_256 over a RAW 32-byte message.
//! - `rsa-decrypt`: RSA_2048 Decrypt, RSAES_OAEP_SHA_256, of a 32-byte plaintext encrypted once.
//! - `p256-sign`: ECC_NIST_P256 Sign, ECDSA_SHA_256 over a RAW 32-byte message.
//!
//! The asymmetric rows also measure `vaultd::crypto::asymmetric::PrivateKey` in-process (a key of
//! the same spec), on one thread and on `available_parallelism()` threads, and print the ratio of
//! vaultd's rate to the all-threads in-process rate: the fair ceiling for a daemon with those cores.
//! Built with `--features aws-lc` (where `PrivateKey` signs and decrypts with AWS-LC), they also
//! measure the pure-Rust crates of the default build on the same key, on one thread, and print
//! AWS-LC's rate as a multiple of theirs.
//!
//! ```text
//! cargo run --release --example bench -- --seconds 5 --concurrency 1,16,64
//! cargo run --release --example bench -- --seconds 5 --concurrency 1,64 --only rsa-sign,p256-sign
//! cargo run --release --example bench -- --seconds 5 --concurrency 1,64 --only gdk,get-parameter,get-secret-value
//! cargo run --release --example bench -- --seconds 5 --concurrency 1,16,64 --only health,gdk,aws-gdk
//! cargo run --release --features aws-lc --example bench -- --seconds 5 --concurrency 1,64 --only rsa-sign,rsa-decrypt,p256-sign
//! ```

mod common;

use std::{
    collections::HashMap,
    num::NonZeroUsize,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};
use vaultd::{
    client::{Client, ClientConfig, StaticCredentials},
    crypto::{
        asymmetric::{AsymmetricSpec, PrivateKey},
        context::EncryptionContext,
    },
    model::{DataKeySpec, EncryptionAlgorithm, MessageType, SigningAlgorithm},
    pb,
};

use common::{ID, SECRET};

#[derive(Parser)]
struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent client tasks, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// The rows to run, comma separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "health,gdk,aws-gdk,get-parameter,get-secret-value,decrypt,rsa-sign,rsa-decrypt,p256-sign"
    )]
    only: Vec<Op>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Op {
    #[value(name = "health")]
    Health,
    #[value(name = "gdk")]
    Gdk,
    #[value(name = "aws-gdk")]
    AwsGdk,
    #[value(name = "get-parameter")]
    GetParameter,
    #[value(name = "get-secret-value")]
    GetSecretValue,
    #[value(name = "decrypt")]
    Decrypt,
    #[value(name = "rsa-sign")]
    RsaSign,
    #[value(name = "rsa-decrypt")]
    RsaDecrypt,
    #[value(name = "p256-sign")]
    P256Sign,
}

/// A closure that sends `request` with `client.method` each time it is called, for `measure`.
macro_rules! driver {
    ($client:ident, $method:ident, $request:expr) => {{
        let client = $client.clone();
        let request = $request.clone();
        move || {
            let client = client.clone();
            let request = request.clone();
            async move {
                client.$method(request).await.unwrap();
            }
        }
    }};
}

/// The message signed, and the plaintext RSA-encrypted, by the asymmetric rows.
const MESSAGE: [u8; 32] = [7; 32];
/// The value of both parameters of the `get-parameter` row: 64 bytes.
const PARAMETER_VALUE: &str = "postgres://bench:benchmark-password@db.internal:5432/bench?ssl=1";

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let wants = |op| args.only.contains(&op);
    let dir = tempfile::tempdir().expect("temp dir");
    let (vault, endpoint, aws_addr) = common::start_server(&dir.path().join("data")).await;

    let root = Client::connect(ClientConfig::new(
        endpoint.clone(),
        StaticCredentials::new(ID, SECRET, None),
    ))
    .unwrap();

    // The keys, created by root: asymmetric ones only for the rows that use them.
    let key_id = root
        .create_key(pb::CreateKeyRequest::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let rsa_sign_key = if wants(Op::RsaSign) {
        Some(create_asymmetric(&root, pb::KeySpec::Rsa2048, pb::KeyUsage::SignVerify).await)
    } else {
        None
    };
    let rsa_decrypt_key = if wants(Op::RsaDecrypt) {
        Some(create_asymmetric(&root, pb::KeySpec::Rsa2048, pb::KeyUsage::EncryptDecrypt).await)
    } else {
        None
    };
    let p256_sign_key = if wants(Op::P256Sign) {
        Some(create_asymmetric(&root, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await)
    } else {
        None
    };

    // The application user. Its envelope statement has an encryption-context condition, which an
    // RSA Decrypt (no context) never meets; the asymmetric keys get their own statement, by ARN.
    // The parameters under /bench need only ssm:GetParameter: the SecureString one is under the
    // AWS-managed alias/aws/ssm, which needs no kms permission.
    let mut statements = vec![
        serde_json::json!({
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey*", "kms:Encrypt", "kms:Decrypt"],
            "Resource": "arn:aws:kms:*:*:key/*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:app": "bench"}},
        }),
        serde_json::json!({
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": "arn:aws:ssm:*:*:parameter/bench/*",
        }),
        serde_json::json!({
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "arn:aws:secretsmanager:*:*:secret:bench/*",
        }),
        serde_json::json!({
            "Effect": "Deny",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:username": "intruder"}},
        }),
    ];
    let asymmetric_arns: Vec<&str> = [&rsa_sign_key, &rsa_decrypt_key, &p256_sign_key]
        .into_iter()
        .flatten()
        .map(|key| key.arn.as_str())
        .collect();
    if !asymmetric_arns.is_empty() {
        statements.push(serde_json::json!({
            "Effect": "Allow",
            "Action": ["kms:Sign", "kms:Decrypt"],
            "Resource": asymmetric_arns,
        }));
    }
    root.create_user(pb::CreateUserRequest {
        user_name: "bench".into(),
    })
    .await
    .unwrap();
    root.put_user_policy(pb::PutUserPolicyRequest {
        user_name: "bench".into(),
        policy_name: "envelope".into(),
        policy_document: serde_json::json!({"Version": "2012-10-17", "Statement": statements})
            .to_string(),
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
        endpoint.clone(),
        StaticCredentials::new(&app_key.access_key_id, &app_key.secret_access_key, None),
    ))
    .unwrap();
    let context: HashMap<String, String> = [("app".to_string(), "bench".to_string())].into();

    let seconds = Duration::from_secs(args.seconds);
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    println!(
        "vaultd bench: {}s per row, one client connection (HTTP/2), SQLite in a temp dir; \
         auth, policy and audit on; {threads} CPU threads available",
        args.seconds
    );
    println!(
        "{:<40} {:>11} {:>12} {:>10}",
        "operation", "concurrency", "requests/s", "mean ms"
    );

    if wants(Op::Health) {
        let channel = tonic::transport::Endpoint::from_shared(endpoint.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let health = tonic_health::pb::health_client::HealthClient::new(channel);
        for &concurrency in &args.concurrency {
            let rate = measure(concurrency, seconds, {
                let health = health.clone();
                move || {
                    let mut health = health.clone();
                    async move {
                        health
                            .check(tonic_health::pb::HealthCheckRequest::default())
                            .await
                            .unwrap();
                    }
                }
            })
            .await;
            row("Health/Check (gRPC, unsigned)", concurrency, rate, "");
        }
    }

    // GenerateDataKey's gRPC rate by concurrency, for the get-parameter rows' ratio.
    let mut gdk_rates: HashMap<usize, f64> = HashMap::new();
    if wants(Op::Gdk) {
        // The domain call alone: the ceiling the gRPC layer is measured against.
        let kms = vault.kms.clone();
        let uuid = uuid::Uuid::parse_str(&key_id).unwrap();
        let ctx: EncryptionContext = context.clone().into();
        let domain_rate = in_process(1, seconds, || {
            kms.generate_data_key(uuid, &ctx, Some(DataKeySpec::Aes256), None)
                .unwrap();
        });
        row("GenerateDataKey (domain only)", 1, domain_rate, "");

        for &concurrency in &args.concurrency {
            let gdk = pb::GenerateDataKeyRequest {
                key_id: key_id.clone(),
                encryption_context: context.clone(),
                key_spec: pb::DataKeySpec::Aes256 as i32,
                ..Default::default()
            };
            let rate = measure(
                concurrency,
                seconds,
                driver!(client, generate_data_key, gdk),
            )
            .await;
            gdk_rates.insert(concurrency, rate);
            row(
                "GenerateDataKey (gRPC, signed)",
                concurrency,
                rate,
                &format!("(domain/gRPC ratio {:.1}x)", domain_rate / rate),
            );
        }
    }

    if wants(Op::AwsGdk) {
        let body = serde_json::json!({
            "KeyId": key_id,
            "KeySpec": "AES_256",
            "EncryptionContext": context,
        })
        .to_string();
        let credentials = (
            app_key.access_key_id.clone(),
            app_key.secret_access_key.clone(),
        );
        for &concurrency in &args.concurrency {
            let rate = measure_aws(concurrency, seconds, aws_addr, &credentials, &body).await;
            let note = gdk_rates
                .get(&concurrency)
                .map(|grpc| format!("(AWS/gRPC ratio {:.2})", rate / grpc))
                .unwrap_or_default();
            row(
                "GenerateDataKey (AWS JSON, SigV4)",
                concurrency,
                rate,
                &note,
            );
        }
    }

    if wants(Op::GetParameter) {
        let mut rows = Vec::new();
        for (name, kind, label) in [
            (
                "/bench/plain",
                pb::ParameterType::String,
                "GetParameter String (gRPC, signed)",
            ),
            (
                "/bench/secret",
                pb::ParameterType::SecureString,
                "GetParameter SecureString (gRPC, signed)",
            ),
        ] {
            let secure = kind == pb::ParameterType::SecureString;
            let req = pb::GetParameterRequest {
                name: name.into(),
                with_decryption: secure,
            };
            // Put as root (SecureString under the default alias/aws/ssm), then one read as the
            // app user: on an error the row is skipped and the error printed instead.
            let put = root
                .put_parameter(pb::PutParameterRequest {
                    name: name.into(),
                    value: PARAMETER_VALUE.into(),
                    r#type: kind as i32,
                    overwrite: true,
                    ..Default::default()
                })
                .await;
            let check = match put {
                Err(err) => Err(format!("PutParameter {name} as root: {err}")),
                Ok(_) => match client.get_parameter(req.clone()).await {
                    Ok(got)
                        if got.parameter.as_ref().map(|p| p.value.as_str())
                            == Some(PARAMETER_VALUE) =>
                    {
                        Ok(())
                    }
                    Ok(got) => Err(format!("unexpected parameter: {:?}", got.parameter)),
                    Err(err) => Err(format!("GetParameter {name}: {err}")),
                },
            };
            match check {
                Ok(()) => rows.push((label, req)),
                Err(err) => println!("{label}: the call through vaultd failed: {err}"),
            }
        }
        for &concurrency in &args.concurrency {
            for (label, req) in &rows {
                let rate = measure(concurrency, seconds, driver!(client, get_parameter, req)).await;
                let ratio = gdk_rates
                    .get(&concurrency)
                    .map_or("-".to_string(), |gdk| format!("{:.2}x", rate / gdk));
                row(
                    label,
                    concurrency,
                    rate,
                    &format!("(GetParameter/GenerateDataKey ratio {ratio})"),
                );
            }
        }
    }

    if wants(Op::GetSecretValue) {
        // A string secret under the default alias/aws/secretsmanager, made by root.
        let created = root
            .create_secret(pb::CreateSecretRequest {
                name: "bench/db".into(),
                secret_string: Some(PARAMETER_VALUE.into()),
                ..Default::default()
            })
            .await;
        let req = pb::GetSecretValueRequest {
            secret_id: "bench/db".into(),
            ..Default::default()
        };
        let check = match created {
            Err(err) => Err(format!("CreateSecret as root: {err}")),
            Ok(_) => match client.get_secret_value(req.clone()).await {
                Ok(got) if got.secret_string.as_deref() == Some(PARAMETER_VALUE) => Ok(()),
                Ok(_) => Err("unexpected secret value".to_string()),
                Err(err) => Err(format!("GetSecretValue: {err}")),
            },
        };
        match check {
            Err(err) => println!("GetSecretValue: the call through vaultd failed: {err}"),
            Ok(()) => {
                for &concurrency in &args.concurrency {
                    let rate =
                        measure(concurrency, seconds, driver!(client, get_secret_value, req)).await;
                    let ratio = gdk_rates
                        .get(&concurrency)
                        .map_or("-".to_string(), |gdk| format!("{:.2}x", rate / gdk));
                    row(
                        "GetSecretValue (gRPC, signed)",
                        concurrency,
                        rate,
                        &format!("(GetSecretValue/GenerateDataKey ratio {ratio})"),
                    );
                }
            }
        }
    }

    if wants(Op::Decrypt) {
        let blob = client
            .encrypt(pb::EncryptRequest {
                key_id: key_id.clone(),
                plaintext: MESSAGE.to_vec(),
                encryption_context: context.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .ciphertext_blob;
        let concurrency = *args.concurrency.iter().max().unwrap_or(&16);
        let decrypt = pb::DecryptRequest {
            ciphertext_blob: blob,
            encryption_context: context.clone(),
            ..Default::default()
        };
        let rate = measure(concurrency, seconds, driver!(client, decrypt, decrypt)).await;
        row("Decrypt (gRPC, signed)", concurrency, rate, "");
    }

    for (key, label, spec, algorithm, wire) in [
        (
            &rsa_sign_key,
            "RSA-2048 Sign",
            AsymmetricSpec::Rsa2048,
            SigningAlgorithm::RsassaPssSha256,
            pb::SigningAlgorithmSpec::RsassaPssSha256,
        ),
        (
            &p256_sign_key,
            "P-256 Sign",
            AsymmetricSpec::EccNistP256,
            SigningAlgorithm::EcdsaSha256,
            pb::SigningAlgorithmSpec::EcdsaSha256,
        ),
    ] {
        let Some(key) = key else { continue };
        let local = PrivateKey::generate(spec).unwrap();
        let req = pb::SignRequest {
            key_id: key.key_id.clone(),
            message: MESSAGE.to_vec(),
            message_type: pb::MessageType::Raw as i32,
            signing_algorithm: wire as i32,
        };
        let check = client
            .sign(req.clone())
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        compare(
            label,
            &args.concurrency,
            seconds,
            threads,
            || {
                local.sign(algorithm, MessageType::Raw, &MESSAGE).unwrap();
            },
            check,
            driver!(client, sign, req),
        )
        .await;
        #[cfg(feature = "aws-lc")]
        pure_rust::compare(label, &local, seconds, || {
            local.sign(algorithm, MessageType::Raw, &MESSAGE).unwrap();
        });
    }

    if let Some(key) = &rsa_decrypt_key {
        let local = PrivateKey::generate(AsymmetricSpec::Rsa2048).unwrap();
        let local_ciphertext = local
            .public_key()
            .encrypt(EncryptionAlgorithm::RsaesOaepSha256, &MESSAGE)
            .unwrap();
        let algorithm = pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32;
        // Encrypt as root: the app user may only Sign and Decrypt with the asymmetric keys.
        let encrypted = root
            .encrypt(pb::EncryptRequest {
                key_id: key.key_id.clone(),
                plaintext: MESSAGE.to_vec(),
                encryption_algorithm: algorithm,
                ..Default::default()
            })
            .await;
        let (check, req) = match encrypted {
            Ok(encrypted) => {
                let req = pb::DecryptRequest {
                    ciphertext_blob: encrypted.ciphertext_blob,
                    key_id: key.key_id.clone(),
                    encryption_algorithm: algorithm,
                    ..Default::default()
                };
                let check = match client.decrypt(req.clone()).await {
                    Ok(decrypted) if decrypted.plaintext == MESSAGE => Ok(()),
                    Ok(_) => Err("the plaintext differs".to_string()),
                    Err(err) => Err(err.to_string()),
                };
                (check, req)
            }
            Err(err) => (Err(err.to_string()), pb::DecryptRequest::default()),
        };
        compare(
            "RSA-2048 Decrypt",
            &args.concurrency,
            seconds,
            threads,
            || {
                local
                    .decrypt(EncryptionAlgorithm::RsaesOaepSha256, &local_ciphertext)
                    .unwrap();
            },
            check,
            driver!(client, decrypt, req),
        )
        .await;
        #[cfg(feature = "aws-lc")]
        pure_rust::compare_decrypt(&local, &local_ciphertext, seconds, || {
            local
                .decrypt(EncryptionAlgorithm::RsaesOaepSha256, &local_ciphertext)
                .unwrap();
        });
    }

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

/// An asymmetric KMS key created through vaultd.
struct AsymmetricKey {
    key_id: String,
    arn: String,
}

async fn create_asymmetric(
    root: &Client,
    key_spec: pb::KeySpec,
    key_usage: pb::KeyUsage,
) -> AsymmetricKey {
    let metadata = root
        .create_key(pb::CreateKeyRequest {
            key_spec: key_spec as i32,
            key_usage: key_usage as i32,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("CreateKey {key_spec:?} {key_usage:?}: {status}"))
        .key_metadata
        .unwrap();
    AsymmetricKey {
        key_id: metadata.key_id,
        arn: metadata.arn,
    }
}

/// Prints one table row; `note` follows the columns.
fn row(operation: &str, concurrency: usize, rate: f64, note: &str) {
    println!(
        "{operation:<40} {concurrency:>11} {rate:>12.0} {:>10.3}   {note}",
        1000.0 * concurrency as f64 / rate
    );
}

/// Measures one operation in-process (`local`, on one thread and on `threads` threads) and through
/// vaultd (`remote`, at each concurrency), printing the ratio vaultd / in-process on all threads.
/// `check` is the outcome of one call through vaultd made beforehand: on an error the vaultd rows
/// are skipped and the error is printed instead.
async fn compare<L, F, Fut>(
    name: &str,
    concurrencies: &[usize],
    seconds: Duration,
    threads: usize,
    local: L,
    check: Result<(), String>,
    remote: F,
) where
    L: Fn() + Sync,
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let single = in_process(1, seconds, &local);
    row(&format!("{name} (in-process, threads)"), 1, single, "");
    let all = match threads {
        1 => single,
        _ => {
            let rate = in_process(threads, seconds, &local);
            row(&format!("{name} (in-process, threads)"), threads, rate, "");
            rate
        }
    };
    if let Err(err) = check {
        println!("{name} (gRPC, signed): the call through vaultd failed: {err}");
        return;
    }
    for &concurrency in concurrencies {
        let rate = measure(concurrency, seconds, remote.clone()).await;
        row(
            &format!("{name} (gRPC, signed)"),
            concurrency,
            rate,
            &format!(
                "(vaultd/in-process on {threads} threads: {:.2})",
                rate / all
            ),
        );
    }
}

/// Under the `aws-lc` feature: the default build's pure-Rust private-key operations (the `rsa` and
/// `p256` crates, as `PrivateKey` calls them without the feature) on the same key, one thread,
/// measured right after the AWS-LC path for a ratio within the run.
#[cfg(feature = "aws-lc")]
mod pure_rust {
    use std::time::Duration;

    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};
    use vaultd::crypto::asymmetric::{AsymmetricSpec, PrivateKey};

    use super::{MESSAGE, in_process, row};

    /// Sign: RSASSA-PSS-SHA-256 for an RSA key, ECDSA-SHA-256 for a P-256 one, over `MESSAGE`.
    pub fn compare(label: &str, key: &PrivateKey, seconds: Duration, aws_lc: impl Fn() + Sync) {
        let der = key.to_pkcs8_der();
        let pure = match key.spec() {
            AsymmetricSpec::EccNistP256 => {
                let key = p256::ecdsa::SigningKey::from_pkcs8_der(&der).unwrap();
                in_process(1, seconds, || {
                    let digest = Sha256::digest(MESSAGE);
                    let _: p256::ecdsa::DerSignature = key.sign_prehash(&digest).unwrap();
                })
            }
            _ => {
                let key = rsa::PrivateKey::from_pkcs8_der(&der).unwrap();
                in_process(1, seconds, || {
                    let digest = Sha256::digest(MESSAGE);
                    key.pss_sign_prehash::<Sha256>(&digest).unwrap();
                })
            }
        };
        report(label, pure, in_process(1, seconds, aws_lc));
    }

    /// Decrypt: RSAES-OAEP-SHA-256 of `ciphertext`.
    pub fn compare_decrypt(
        key: &PrivateKey,
        ciphertext: &[u8],
        seconds: Duration,
        aws_lc: impl Fn() + Sync,
    ) {
        let key = rsa::PrivateKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap();
        let pure = in_process(1, seconds, || {
            key.oaep_decrypt::<Sha256>(ciphertext).unwrap();
        });
        report("RSA-2048 Decrypt", pure, in_process(1, seconds, aws_lc));
    }

    fn report(label: &str, pure: f64, aws_lc: f64) {
        row(&format!("{label} (in-process, pure Rust)"), 1, pure, "");
        row(
            &format!("{label} (in-process, AWS-LC)"),
            1,
            aws_lc,
            &format!("(AWS-LC/pure Rust: {:.2})", aws_lc / pure),
        );
    }
}

/// Runs `op` on `threads` OS threads for `duration`; returns completed operations per second.
fn in_process(threads: usize, duration: Duration, op: impl Fn() + Sync) -> f64 {
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut n = 0;
                while start.elapsed() < duration {
                    op();
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Sends the awsJson GenerateDataKey `body` to the AWS endpoint from `concurrency` tasks, each
/// on its own HTTP/1.1 connection and signing each request with SigV4, for `duration`; returns
/// completed requests per second.
async fn measure_aws(
    concurrency: usize,
    duration: Duration,
    addr: std::net::SocketAddr,
    (key_id, secret): &(String, String),
    body: &str,
) -> f64 {
    use http_body_util::{BodyExt, Full};
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let payload_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes()));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (done, stop) = (done.clone(), stop.clone());
            let (key_id, secret, body, payload_hash) = (
                key_id.clone(),
                secret.clone(),
                body.to_string(),
                payload_hash.clone(),
            );
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake::<_, Full<bytes::Bytes>>(
                        hyper_util::rt::TokioIo::new(stream),
                    )
                    .await
                    .unwrap();
                tokio::spawn(connection);
                let host = addr.to_string();
                while !stop.load(Ordering::Relaxed) {
                    let amz_date =
                        vaultd::clock::format_basic_iso8601(std::time::SystemTime::now());
                    let headers: [(&str, &[u8]); 4] = [
                        ("content-type", b"application/x-amz-json-1.1"),
                        ("host", host.as_bytes()),
                        ("x-amz-date", amz_date.as_bytes()),
                        ("x-amz-target", b"TrentService.GenerateDataKey"),
                    ];
                    let input = vaultd::auth::sigv4::CanonicalInput {
                        method: "POST",
                        path: "/",
                        query: "",
                        headers: &headers,
                        payload_sha256_hex: &payload_hash,
                    };
                    let authorization = vaultd::auth::sigv4::sign(
                        &key_id,
                        &secret,
                        &amz_date,
                        "us-east-1",
                        "kms",
                        &["content-type", "host", "x-amz-date", "x-amz-target"],
                        &input,
                    )
                    .unwrap();
                    let mut request = http::Request::post("/");
                    for (name, value) in headers {
                        request = request.header(name, value);
                    }
                    let request = request
                        .header("authorization", authorization)
                        .body(Full::new(bytes::Bytes::from(body.clone())))
                        .unwrap();
                    sender.ready().await.unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    let status = response.status();
                    let answer = response.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
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
