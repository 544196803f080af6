//! `vaultctl bench`: a load generator against a running vaultd. For each operation and
//! concurrency it keeps that many requests in flight, spread over `--connections` HTTP/2
//! connections, for `--seconds`, and reports requests/s and the p50 / p99 / p99.9 latency. In the
//! same run it measures the no-op baseline (`grpc.health.v1.Health/Check`, unsigned) at each
//! concurrency and the in-process rate of the same crypto with this crate on this machine's
//! threads, and prints vaultd's rate as a ratio of both.
//!
//! It makes what it needs (keys, a secret, a parameter, named `vaultctl-bench-…`) with the
//! caller's credentials, and schedules them for deletion afterwards (keys: the 7-day minimum).

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use vaultd::{
    client::Client,
    crypto::{
        asymmetric::{AsymmetricSpec, PrivateKey},
        blob,
        context::EncryptionContext,
        mac::{MacKey, MacKeySpec},
        secret::Key256,
    },
    model::{MacAlgorithm, MessageType, SigningAlgorithm},
    pb,
};

use crate::{CliError, Context, calls};

#[derive(Args)]
pub struct BenchArgs {
    /// Operations to measure, comma-separated [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    operations: Vec<Operation>,
    /// Requests in flight at once, comma-separated for several rows.
    #[arg(long, value_delimiter = ',', default_value = "1,64", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: Vec<u32>,
    /// HTTP/2 connections the requests are spread over.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    connections: u32,
    /// Seconds per row.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// After the rows, create this many more symmetric keys, then measure every row again and
    /// print it as a fraction of the first measurement. The keys are left behind: use a
    /// throwaway vault.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    fill_keys: u32,
    /// The same with this many more secrets (left behind too).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=10_000_000))]
    fill_secrets: u32,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    GenerateDataKey,
    Encrypt,
    Decrypt,
    SignRsa2048,
    SignP256,
    GenerateMac,
    GetSecretValue,
    GetParameter,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::GenerateDataKey => "GenerateDataKey",
            Operation::Encrypt => "Encrypt",
            Operation::Decrypt => "Decrypt",
            Operation::SignRsa2048 => "Sign RSA_2048",
            Operation::SignP256 => "Sign ECC_NIST_P256",
            Operation::GenerateMac => "GenerateMac",
            Operation::GetSecretValue => "GetSecretValue",
            Operation::GetParameter => "GetParameter",
        }
    }
}

const MESSAGE: &[u8] = b"vaultctl bench: 32 bytes of data";
const VALUE: &str = "vaultctl bench value, 64 bytes long: 0123456789abcdefghijklmno";

/// One measured row.
struct Row {
    operation: String,
    concurrency: u32,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    /// Sorted, in microseconds.
    latencies: Vec<u32>,
}

impl Row {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let rank =
            ((p * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        Some(f64::from(self.latencies[rank - 1]) / 1000.0)
    }
}

type Call =
    Arc<dyn Fn(Client) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Keeps `concurrency` calls in flight over `clients` for `duration`.
async fn measure(
    operation: &str,
    clients: &[Client],
    concurrency: u32,
    duration: Duration,
    call: Call,
) -> Row {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency as usize)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let (stop, call) = (stop.clone(), call.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(4096);
                let (mut errors, mut first_error) = (0u64, None);
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    match call(client.clone()).await {
                        Ok(()) => latencies
                            .push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX)),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut row = Row {
        operation: operation.to_string(),
        concurrency,
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        if let Ok((latencies, errors, first_error)) = task.await {
            row.latencies.extend(latencies);
            row.errors += errors;
            if row.first_error.is_none() {
                row.first_error = first_error;
            }
        }
    }
    row.elapsed = start.elapsed();
    row.requests = row.latencies.len() as u64;
    row.latencies.sort_unstable();
    row
}

/// Runs `op` on `threads` OS threads for `duration`; returns operations per second.
fn in_process(threads: usize, duration: Duration, op: &(dyn Fn() + Sync)) -> f64 {
    let done = std::sync::atomic::AtomicU64::new(0);
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

fn failed(operation: &'static str) -> impl Fn(vaultd::client::ClientError) -> CliError {
    move |error| CliError::Service { operation, error }
}

/// What the run made, to remove afterwards.
#[derive(Default)]
struct Made {
    keys: Vec<String>,
    secret: Option<String>,
    parameter: Option<String>,
}

async fn create_key(
    client: &Client,
    spec: pb::KeySpec,
    usage: pb::KeyUsage,
    made: &mut Made,
) -> Result<String, CliError> {
    let id = client
        .create_key(pb::CreateKeyRequest {
            description: "vaultctl bench (scheduled for deletion when the run ends)".into(),
            key_spec: spec as i32,
            key_usage: usage as i32,
            ..Default::default()
        })
        .await
        .map_err(failed("CreateKey"))?
        .key_metadata
        .unwrap_or_default()
        .key_id;
    made.keys.push(id.clone());
    Ok(id)
}

/// The vaultd call of an operation, with what it needs made first, and the same crypto done
/// in-process (`None` for reads whose work is mostly not crypto).
async fn prepare(
    operation: Operation,
    client: &Client,
    made: &mut Made,
    run: &str,
) -> Result<(Call, Option<Box<dyn Fn() + Sync + Send>>), CliError> {
    use pb::{KeySpec, KeyUsage};
    let context = || [("purpose".to_string(), "bench".to_string())].into();
    Ok(match operation {
        Operation::GenerateDataKey | Operation::Encrypt | Operation::Decrypt => {
            let key = create_key(
                client,
                KeySpec::SymmetricDefault,
                KeyUsage::EncryptDecrypt,
                made,
            )
            .await?;
            let material = Key256::generate().map_err(|e| CliError::Other(e.to_string()))?;
            let ctx: EncryptionContext = [("purpose", "bench")].into_iter().collect();
            let id = [7u8; 16];
            let local: Box<dyn Fn() + Sync + Send> = match operation {
                Operation::GenerateDataKey => Box::new(move || {
                    let data_key = Key256::generate().expect("random");
                    let _ = blob::seal(&material, id, 1, &ctx, data_key.expose());
                }),
                Operation::Encrypt => Box::new(move || {
                    let _ = blob::seal(&material, id, 1, &ctx, MESSAGE);
                }),
                _ => {
                    let sealed = blob::seal(&material, id, 1, &ctx, MESSAGE).expect("seal");
                    Box::new(move || {
                        let _ = blob::open(&material, &sealed, &ctx);
                    })
                }
            };
            let call: Call = match operation {
                Operation::GenerateDataKey => Arc::new(move |c: Client| {
                    let key = key.clone();
                    Box::pin(async move {
                        c.generate_data_key(pb::GenerateDataKeyRequest {
                            key_id: key,
                            key_spec: pb::DataKeySpec::Aes256 as i32,
                            encryption_context: context(),
                            ..Default::default()
                        })
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                    })
                }),
                Operation::Encrypt => Arc::new(move |c: Client| {
                    let key = key.clone();
                    Box::pin(async move {
                        c.encrypt(pb::EncryptRequest {
                            key_id: key,
                            plaintext: MESSAGE.to_vec(),
                            encryption_context: context(),
                            ..Default::default()
                        })
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                    })
                }),
                _ => {
                    let blob = client
                        .encrypt(pb::EncryptRequest {
                            key_id: key,
                            plaintext: MESSAGE.to_vec(),
                            encryption_context: context(),
                            ..Default::default()
                        })
                        .await
                        .map_err(failed("Encrypt"))?
                        .ciphertext_blob;
                    Arc::new(move |c: Client| {
                        let blob = blob.clone();
                        Box::pin(async move {
                            c.decrypt(pb::DecryptRequest {
                                ciphertext_blob: blob,
                                encryption_context: context(),
                                ..Default::default()
                            })
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                        })
                    })
                }
            };
            (call, Some(local))
        }
        Operation::SignRsa2048 | Operation::SignP256 => {
            let (spec, local_spec, algorithm, pb_algorithm) = match operation {
                Operation::SignRsa2048 => (
                    KeySpec::Rsa2048,
                    AsymmetricSpec::Rsa2048,
                    SigningAlgorithm::RsassaPssSha256,
                    pb::SigningAlgorithmSpec::RsassaPssSha256,
                ),
                _ => (
                    KeySpec::EccNistP256,
                    AsymmetricSpec::EccNistP256,
                    SigningAlgorithm::EcdsaSha256,
                    pb::SigningAlgorithmSpec::EcdsaSha256,
                ),
            };
            let key = create_key(client, spec, KeyUsage::SignVerify, made).await?;
            let private =
                PrivateKey::generate(local_spec).map_err(|e| CliError::Other(e.to_string()))?;
            let local: Box<dyn Fn() + Sync + Send> = Box::new(move || {
                let _ = private.sign(algorithm, MessageType::Raw, MESSAGE);
            });
            let call: Call = Arc::new(move |c: Client| {
                let key = key.clone();
                Box::pin(async move {
                    c.sign(pb::SignRequest {
                        key_id: key,
                        message: MESSAGE.to_vec(),
                        message_type: pb::MessageType::Raw as i32,
                        signing_algorithm: pb_algorithm as i32,
                    })
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
                })
            });
            (call, Some(local))
        }
        Operation::GenerateMac => {
            let key =
                create_key(client, KeySpec::Hmac256, KeyUsage::GenerateVerifyMac, made).await?;
            let mac = MacKey::generate(MacKeySpec::Hmac256)
                .map_err(|e| CliError::Other(e.to_string()))?;
            let local: Box<dyn Fn() + Sync + Send> = Box::new(move || {
                let _ = mac.generate_mac(MacAlgorithm::HmacSha256, MESSAGE);
            });
            let call: Call = Arc::new(move |c: Client| {
                let key = key.clone();
                Box::pin(async move {
                    c.generate_mac(pb::GenerateMacRequest {
                        key_id: key,
                        message: MESSAGE.to_vec(),
                        mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                    })
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
                })
            });
            (call, Some(local))
        }
        Operation::GetSecretValue => {
            let name = format!("vaultctl-bench-{run}");
            client
                .create_secret(pb::CreateSecretRequest {
                    name: name.clone(),
                    secret_string: Some(VALUE.into()),
                    description: "vaultctl bench (deleted when the run ends)".into(),
                    ..Default::default()
                })
                .await
                .map_err(failed("CreateSecret"))?;
            made.secret = Some(name.clone());
            let call: Call = Arc::new(move |c: Client| {
                let name = name.clone();
                Box::pin(async move {
                    c.get_secret_value(pb::GetSecretValueRequest {
                        secret_id: name,
                        ..Default::default()
                    })
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
                })
            });
            (call, None)
        }
        Operation::GetParameter => {
            let name = format!("/vaultctl-bench/{run}");
            client
                .put_parameter(pb::PutParameterRequest {
                    name: name.clone(),
                    value: VALUE.into(),
                    r#type: pb::ParameterType::SecureString as i32,
                    ..Default::default()
                })
                .await
                .map_err(failed("PutParameter"))?;
            made.parameter = Some(name.clone());
            let call: Call = Arc::new(move |c: Client| {
                let name = name.clone();
                Box::pin(async move {
                    c.get_parameter(pb::GetParameterRequest {
                        name,
                        with_decryption: true,
                    })
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
                })
            });
            (call, None)
        }
    })
}

/// Creates `keys` symmetric keys and `secrets` secrets, 64 requests in flight over `clients`,
/// with progress on stderr. Stops at the first error.
async fn fill(clients: &[Client], keys: u32, secrets: u32, run: &str) -> Result<(), CliError> {
    use std::sync::atomic::AtomicU64;
    let total = u64::from(keys) + u64::from(secrets);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let failed_once = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let tasks: Vec<_> = (0..64usize)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let (next, done, failed_once) = (next.clone(), done.clone(), failed_once.clone());
            let run = run.to_string();
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total || failed_once.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let result = if n < u64::from(keys) {
                        client
                            .create_key(pb::CreateKeyRequest {
                                description: "vaultctl bench fill".into(),
                                ..Default::default()
                            })
                            .await
                            .map(drop)
                            .map_err(failed("CreateKey"))
                    } else {
                        client
                            .create_secret(pb::CreateSecretRequest {
                                name: format!("vaultctl-bench-fill-{run}-{n}"),
                                secret_string: Some(VALUE.into()),
                                description: "vaultctl bench fill".into(),
                                ..Default::default()
                            })
                            .await
                            .map(drop)
                            .map_err(failed("CreateSecret"))
                    };
                    if let Err(e) = result {
                        failed_once.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if finished % 10_000 == 0 || finished == total {
                        eprintln!(
                            "vaultctl bench: filled {finished} of {total} ({:.0}/s)",
                            finished as f64 / began.elapsed().as_secs_f64()
                        );
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| CliError::Other(format!("a fill task failed: {e}")))??;
    }
    Ok(())
}

/// Removes what the run made; what cannot be removed is named on stderr.
async fn clean_up(client: &Client, made: Made) {
    for key in made.keys {
        let scheduled = client
            .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
                key_id: key.clone(),
                pending_window_in_days: Some(7),
            })
            .await;
        if let Err(e) = scheduled {
            eprintln!("vaultctl bench: key {key} is left: {e}");
        }
    }
    if let Some(name) = made.secret
        && let Err(e) = client
            .delete_secret(pb::DeleteSecretRequest {
                secret_id: name.clone(),
                force_delete_without_recovery: true,
                ..Default::default()
            })
            .await
    {
        eprintln!("vaultctl bench: secret {name} is left: {e}");
    }
    if let Some(name) = made.parameter
        && let Err(e) = client
            .delete_parameter(pb::DeleteParameterRequest { name: name.clone() })
            .await
    {
        eprintln!("vaultctl bench: parameter {name} is left: {e}");
    }
}

fn row_json(row: &Row, health: Option<f64>, local: Option<(usize, f64)>) -> Value {
    let rate = row.rate();
    json!({
        "Operation": row.operation,
        "Concurrency": row.concurrency,
        "Requests": row.requests,
        "Errors": row.errors,
        "FirstError": row.first_error,
        "RequestsPerSecond": (rate * 10.0).round() / 10.0,
        "P50Ms": row.percentile(0.50),
        "P99Ms": row.percentile(0.99),
        "P999Ms": row.percentile(0.999),
        "OfHealthCheck": health.map(|h| (rate / h * 1000.0).round() / 1000.0),
        "InProcessThreads": local.map(|(t, _)| t),
        "InProcessPerSecond": local.map(|(_, r)| r.round()),
        "OfInProcess": local.map(|(_, r)| (rate / r * 1000.0).round() / 1000.0),
    })
}

fn row_line(value: &Value) -> String {
    let ms = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.3}"));
    let ratio = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    let mut line = format!(
        "{:<22} {:>9} {:>11.0} {:>9} {:>9} {:>9} {:>9} {:>10}",
        value["Operation"].as_str().unwrap_or_default(),
        value["Concurrency"],
        value["RequestsPerSecond"].as_f64().unwrap_or_default(),
        ms(&value["P50Ms"]),
        ms(&value["P99Ms"]),
        ms(&value["P999Ms"]),
        ratio(&value["OfHealthCheck"]),
        ratio(&value["OfInProcess"]),
    );
    if let Some(errors) = value["Errors"].as_u64().filter(|e| *e > 0) {
        line += &format!(
            "  {errors} errors, first: {}",
            value["FirstError"].as_str().unwrap_or_default()
        );
    }
    line + "\n"
}

/// One row of vaultd's rate for an operation, with its ratios to the baselines.
async fn vaultd_row(
    operation: Operation,
    clients: &[Client],
    concurrency: u32,
    duration: Duration,
    call: &Call,
    health: &HashMap<u32, f64>,
    local_rate: Option<(usize, f64)>,
) -> (Row, Value) {
    let row = measure(
        operation.name(),
        clients,
        concurrency,
        duration,
        call.clone(),
    )
    .await;
    let value = row_json(&row, health.get(&concurrency).copied(), local_rate);
    (row, value)
}

pub async fn run(args: BenchArgs, context: &Context) -> Result<(), CliError> {
    let operations = match args.operations.is_empty() {
        true => Operation::value_variants().to_vec(),
        false => args.operations.clone(),
    };
    let clients = (0..args.connections)
        .map(|_| Client::connect(context.config.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Config(e.message))?;
    let duration = Duration::from_secs(args.seconds);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let lines = context.out.wants_lines();
    if lines {
        context.out.write(&format!(
            "vaultctl bench: {}s a row, {} HTTP/2 connection(s), {threads} threads for the in-process rows\n\
             {:<22} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>10}\n",
            args.seconds, args.connections, "operation", "in flight", "requests/s", "p50 ms", "p99 ms",
            "p99.9 ms", "/health", "/in-proc"
        ))?;
    }
    calls::answer("Health/Check", context.client.health_check()).await?;
    let mut rows = Vec::new();
    let mut health = HashMap::new();
    let health_call: Call = Arc::new(|c: Client| {
        Box::pin(async move { c.health_check().await.map(drop).map_err(|e| e.to_string()) })
    });
    for &concurrency in &args.concurrency {
        let row = measure(
            "Health/Check",
            &clients,
            concurrency,
            duration,
            health_call.clone(),
        )
        .await;
        health.insert(concurrency, row.rate());
        let value = row_json(&row, None, None);
        if lines {
            context.out.write(&row_line(&value))?;
        }
        rows.push(value);
    }
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let mut made = Made::default();
    let mut outcome = Ok(());
    // Each operation's call and in-process rate, kept to measure again after a fill.
    let mut measured = Vec::new();
    for operation in operations {
        let (call, local) = match prepare(operation, &context.client, &mut made, &run).await {
            Ok(prepared) => prepared,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        let local_rate = local.map(|op| {
            let op = Arc::new(op);
            let rate = in_process(threads, duration, &*op);
            (threads, rate)
        });
        for &concurrency in &args.concurrency {
            let (_, value) = vaultd_row(
                operation,
                &clients,
                concurrency,
                duration,
                &call,
                &health,
                local_rate,
            )
            .await;
            if lines {
                context.out.write(&row_line(&value))?;
            }
            rows.push(value);
        }
        measured.push((operation, call, local_rate));
    }
    if outcome.is_ok() && (args.fill_keys > 0 || args.fill_secrets > 0) {
        outcome = fill(&clients, args.fill_keys, args.fill_secrets, &run).await;
        if outcome.is_ok() && lines {
            context.out.write(&format!(
                "after creating {} keys and {} secrets (the last column: the rate as a fraction of the same row before)\n",
                args.fill_keys, args.fill_secrets
            ))?;
        }
        let again = if outcome.is_ok() { &measured[..] } else { &[] };
        for (operation, call, local_rate) in again {
            for &concurrency in &args.concurrency {
                let (row, mut value) = vaultd_row(
                    *operation,
                    &clients,
                    concurrency,
                    duration,
                    call,
                    &health,
                    *local_rate,
                )
                .await;
                let before = rows.iter().find(|r| {
                    r["Operation"] == operation.name() && r["Concurrency"] == concurrency
                });
                let of_before = before
                    .and_then(|r| r["RequestsPerSecond"].as_f64())
                    .map(|b| (row.rate() / b * 1000.0).round() / 1000.0);
                value["AfterFill"] = json!({
                    "Keys": args.fill_keys,
                    "Secrets": args.fill_secrets,
                    "OfBeforeFill": of_before,
                });
                if lines {
                    let mut line = value.clone();
                    line["OfInProcess"] = json!(of_before);
                    context.out.write(&row_line(&line))?;
                }
                rows.push(value);
            }
        }
    }
    clean_up(&context.client, made).await;
    outcome?;
    if !lines {
        context.out.value(&json!({ "Rows": rows }))?;
    }
    Ok(())
}
