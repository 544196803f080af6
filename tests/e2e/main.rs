//! End-to-end tests: every request goes through a real gRPC server on a real socket, real SQLite
//! files and real crypto.

mod common;
mod smoke;
mod interop;
mod vaultctl;
