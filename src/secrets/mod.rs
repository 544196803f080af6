//! The Secrets Manager domain: the rules of AWS Secrets Manager over crypto and store.
//!
//! - [`password`] — GetRandomPassword, a pure function of its options and the OS CSPRNG.

pub mod password;
