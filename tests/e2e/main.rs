//! End-to-end tests: every request goes through a real server (gRPC, or the AWS protocols) on a
//! real socket, real SQLite files and real crypto.

mod aliases_tags;
mod asymmetric;
mod audit;
mod auth;
mod authorization;
mod aws;
mod aws_front;
mod backup;
mod client;
mod common;
mod crypto;
mod daemon;
mod envelope;
mod fields;
mod identity;
mod import;
mod interop;
mod keys;
mod operations;
mod parameters;
mod python;
mod rotation;
mod scripts;
mod secrets;
mod sessions;
mod throttle;
mod tls;
mod vaultctl;
mod vaultctl_asymmetric;
mod vaultctl_bench;
mod vaultctl_envelope;
mod vaultctl_fields;
mod vaultctl_identity;
mod vaultctl_secrets;
mod vaultctl_ssm;
