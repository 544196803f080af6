//! vaultd: a key-management and secrets daemon that mimics AWS KMS over gRPC, with real encryption
//! and persistent state.
//!
//! # Layout
//!
//! Layers only point downward; the crypto layer and the domain know nothing of tonic or SQLite.
//!
//! - [`crypto`] — pure functions and key types: the ciphertext blob, encryption contexts, the
//!   storage barrier, asymmetric (RSA, P-256) and HMAC keys (crypto.md).
//! - [`store`] — the [`store::Store`] trait and its SQLite and PostgreSQL implementations, with
//!   migrations, the change feed between replicas and the fleet's lead.
//! - [`model`] — the vocabulary shared by domain and store (key specs, states, records).
//! - [`kms`], [`iam`] — the domain: rules, limits and state machines over crypto and store;
//!   [`audit`] — the hash-chained audit trail; [`paging`] — AWS-style markers.
//! - [`auth`] — request signatures, authentication and authorization, for every front end.
//! - [`api`] — thin gRPC services and the one error table; [`pb`] holds the generated wire types.
//! - [`aws`] — the AWS front end: awsJson and awsQuery over HTTP/1.1 with SigV4, translated into
//!   `vault.v1` messages and served through the same gRPC stack in process.
//! - [`server`] — assembles services, health, reflection and layers; `run(listener, …, shutdown)`.
//! - [`vault`] — opens a data directory into ready domain services.
//! - [`client`] — a typed client with signing, deadlines and retries (vaultctl, tests, benchmarks);
//!   [`client::envelope`] encrypts files and streams through it, with a data-key cache.
//! - [`clock`], [`arn`], [`error`] — time as a dependency, ARNs, the domain error.
//!
//! Binaries: `src/bin/vaultd/` (the daemon) and `src/bin/vaultctl/` (the CLI).

#![forbid(unsafe_code)]

pub mod api;
pub mod arn;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod client;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod iam;
pub mod kms;
pub mod metrics;
pub mod model;
pub mod paging;
pub mod params;
pub mod pb;
pub mod secrets;
pub mod seed;
pub mod server;
pub mod store;
pub mod vault;
