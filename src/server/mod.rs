//! Assembles the gRPC server: the services behind the metrics and authentication layers, health
//! (per service) and reflection (v1 and v1alpha, so grpcurl works), plus the periodic maintenance
//! task (deletion windows, automatic rotation). [`run`] takes any listener and a shutdown future, so
//! tests start a real server on `127.0.0.1:0`.

use std::{future::Future, sync::Arc, time::Duration};

mod listen;

pub use listen::{Conn, ConnInfo, Listener, TlsConfig, TlsFiles, bind_unix};
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use tonic::{service::Routes, transport::Server};
use tower::Layer;

use crate::{
    api::{
        admin_api::{AdminApi, RestoreRequests},
        audit_api::AuditApi,
        auth_layer::AuthLayer,
        iam_api::IamApi,
        kms_api::KmsApi,
        metrics_layer::MetricsLayer,
        secrets_api::SecretsApi,
        ssm_api::SsmApi,
        sts_api::StsApi,
    },
    aws::{AwsFrontEnd, AwsListener},
    pb::{
        FILE_DESCRIPTOR_SET, admin_server::AdminServer, audit_server::AuditServer,
        identity_server::IdentityServer, key_management_server::KeyManagementServer,
        parameter_store_server::ParameterStoreServer, secrets_manager_server::SecretsManagerServer,
        security_token_server::SecurityTokenServer,
    },
    vault::Vault,
};

/// How long shutdown waits for the audit trail to reach the store.
const AUDIT_DRAIN: Duration = Duration::from_secs(10);

/// Server options.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// How often time-driven work (deletions, rotations) is looked for. Keys also catch up on it
    /// whenever they are used.
    pub maintenance_interval: Duration,
    /// Where RestoreBackup hands a checked backup for the daemon to swap in. `None`: online
    /// restores are refused.
    pub restore: Option<RestoreRequests>,
    /// Request counts and latencies. The daemon keeps one across the vaults it serves in turn.
    pub metrics: Arc<Metrics>,
    /// Where to serve AWS's own protocols ([`crate::aws`]) too, over HTTP/1.1. `None`: not at all.
    pub aws_listener: Option<AwsListener>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            maintenance_interval: Duration::from_secs(60),
            restore: None,
            metrics: Arc::default(),
            aws_listener: None,
        }
    }
}

/// Serves `vault` on `listener` (plain TCP) until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish and returns.
pub async fn run(
    listener: TcpListener,
    vault: Arc<Vault>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve(
        vec![Arc::new(Listener::Tcp(listener))],
        vault,
        options,
        shutdown,
    )
    .await
}

/// [`run`] on several listeners at once (TCP, TLS, a Unix socket), one server for all.
pub async fn serve(
    listeners: Vec<Arc<Listener>>,
    vault: Arc<Vault>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<KeyManagementServer<KmsApi>>()
        .await;
    health_reporter
        .set_serving::<IdentityServer<IamApi>>()
        .await;
    health_reporter
        .set_serving::<SecurityTokenServer<StsApi>>()
        .await;
    health_reporter.set_serving::<AuditServer<AuditApi>>().await;
    health_reporter.set_serving::<AdminServer<AdminApi>>().await;
    health_reporter
        .set_serving::<ParameterStoreServer<SsmApi>>()
        .await;
    health_reporter
        .set_serving::<SecretsManagerServer<SecretsApi>>()
        .await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor set is valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the embedded descriptor set is valid");

    let (stop_maintenance, stopped) = tokio::sync::oneshot::channel();
    let maintenance = tokio::spawn(maintenance_loop(
        vault.clone(),
        options.maintenance_interval,
        stopped,
    ));

    let mut routes = Routes::builder();
    routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(KeyManagementServer::new(KmsApi::new(vault.clone())))
        .add_service(IdentityServer::new(IamApi::new(vault.clone())))
        .add_service(SecurityTokenServer::new(StsApi::new(vault.clone())))
        .add_service(AuditServer::new(AuditApi::new(vault.clone())))
        .add_service(ParameterStoreServer::new(SsmApi::new(vault.clone())))
        .add_service(SecretsManagerServer::new(SecretsApi::new(vault.clone())))
        .add_service(AdminServer::new(AdminApi::new(
            vault.clone(),
            options.restore.clone(),
        )));
    let routes = routes.routes();

    // The AWS front end hands its requests to the same services behind the same layers.
    let (aws_stop, aws_stopping) = tokio::sync::watch::channel(false);
    let aws = options.aws_listener.clone().map(|listener| {
        let stack = MetricsLayer::new(options.metrics.clone())
            .layer(AuthLayer::new(vault.clone(), options.metrics.clone()).layer(routes.clone()));
        let front = Arc::new(AwsFrontEnd::new(vault.clone(), stack));
        let mut stopping = aws_stopping.clone();
        tokio::spawn(front.serve(listener, async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }))
    });

    let result = Server::builder()
        .layer(MetricsLayer::new(options.metrics.clone()))
        .layer(AuthLayer::new(vault.clone(), options.metrics.clone()))
        .add_routes(routes)
        .serve_with_incoming_shutdown(listen::incoming(listeners), async {
            shutdown.await;
            let _ = aws_stop.send(true);
            health_reporter
                .set_not_serving::<KeyManagementServer<KmsApi>>()
                .await;
            health_reporter
                .set_not_serving::<IdentityServer<IamApi>>()
                .await;
            health_reporter
                .set_not_serving::<SecurityTokenServer<StsApi>>()
                .await;
            health_reporter
                .set_not_serving::<AuditServer<AuditApi>>()
                .await;
            health_reporter
                .set_not_serving::<ParameterStoreServer<SsmApi>>()
                .await;
            health_reporter
                .set_not_serving::<SecretsManagerServer<SecretsApi>>()
                .await;
        })
        .await;
    let _ = aws_stop.send(true);
    if let Some(aws) = aws {
        let _ = aws.await;
    }
    // Stop between passes (a pass in progress finishes its writes) and wait, so that nothing
    // of this vault outlives `run`.
    let _ = stop_maintenance.send(());
    let _ = maintenance.await;
    // Every request served has its event queued: see them stored before returning.
    let audit_vault = vault.clone();
    let drained = tokio::task::spawn_blocking(move || audit_vault.audit.flush(AUDIT_DRAIN)).await;
    if !matches!(drained, Ok(true)) {
        tracing::error!("the audit trail could not be fully written before shutdown");
    }
    result
}

async fn maintenance_loop(
    vault: Arc<Vault>,
    every: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    // The first pass comes one interval after start; keys due earlier catch up when used.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop => return,
        }
        // Replicas sharing a store: only the one that holds the lead works (once per fleet).
        let lead = vault.clone();
        if !matches!(
            tokio::task::spawn_blocking(move || lead.hold_lead()).await,
            Ok(true)
        ) {
            continue;
        }
        let kms = vault.kms.clone();
        match tokio::task::spawn_blocking(move || kms.run_maintenance()).await {
            Ok(Ok(report)) if report != Default::default() => {
                tracing::info!(
                    deleted = report.deleted,
                    rotated = report.rotated,
                    expired = report.expired,
                    "maintenance"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "maintenance failed; will retry"),
            Err(_) => tracing::warn!("maintenance task panicked; will retry"),
        }
        let secrets = vault.secrets.clone();
        let pass = move || -> crate::error::Result<(usize, usize)> {
            Ok((secrets.run_maintenance()?, secrets.rotate_due()?))
        };
        match tokio::task::spawn_blocking(pass).await {
            Ok(Ok((0, 0))) => {}
            Ok(Ok((deleted, rotations))) => tracing::info!(
                deleted_secrets = deleted,
                rotations_started = rotations,
                "maintenance"
            ),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "secrets maintenance failed; will retry")
            }
            Err(_) => tracing::warn!("secrets maintenance task panicked; will retry"),
        }
    }
}
