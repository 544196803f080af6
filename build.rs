//! Compiles `proto/` into Rust without `protoc` (protox is a pure-Rust protobuf compiler) and writes
//! the encoded descriptor set that the reflection service serves.

use std::{env, fs, path::PathBuf};

/// Messages that carry plaintext, key material or secrets: their derived `Debug` is skipped and
/// `src/pb.rs` implements a redacting one instead.
const REDACTED: &[&str] = &[
    ".vault.v1.EncryptRequest",
    ".vault.v1.DecryptResponse",
    ".vault.v1.GenerateDataKeyResponse",
    ".vault.v1.GenerateRandomResponse",
    ".vault.v1.SignRequest",
    ".vault.v1.VerifyRequest",
    ".vault.v1.GenerateMacRequest",
    ".vault.v1.VerifyMacRequest",
    ".vault.v1.GenerateDataKeyPairResponse",
    ".vault.v1.DeriveSharedSecretResponse",
    ".vault.v1.PutParameterRequest",
    ".vault.v1.Parameter",
    ".vault.v1.ParameterHistory",
    ".vault.v1.AccessKey",
    ".vault.v1.Credentials",
    ".vault.v1.CreateSecretRequest",
    ".vault.v1.PutSecretValueRequest",
    ".vault.v1.UpdateSecretRequest",
    ".vault.v1.GetSecretValueResponse",
    ".vault.v1.SecretValueEntry",
    ".vault.v1.GetRandomPasswordResponse",
    ".vault.v1.EncryptFieldsRequest",
    ".vault.v1.EncryptFieldsResponse",
    ".vault.v1.DecryptFieldsRequest",
    ".vault.v1.DecryptFieldsResponse",
    // Not secret (a backup stays sealed), but megabytes of it are no log line.
    ".vault.v1.CreateBackupResponse",
    ".vault.v1.RestoreBackupRequest",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/vault/v1/key_management.proto",
        "proto/vault/v1/identity.proto",
        "proto/vault/v1/security_token.proto",
        "proto/vault/v1/audit.proto",
        "proto/vault/v1/parameter_store.proto",
        "proto/vault/v1/secrets_manager.proto",
        "proto/vault/v1/admin.proto",
    ];
    println!("cargo:rerun-if-changed=proto");

    let fds = protox::compile(protos, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out.join("vault_v1_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;

    tonic_prost_build::configure()
        .skip_debug(REDACTED.iter().copied())
        .compile_fds(fds)?;
    Ok(())
}
