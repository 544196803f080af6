//! `vaultctl fields encrypt|decrypt`: field-level encryption of JSON documents (crypto.md §4)
//! through `KeyManagement.EncryptFields` / `DecryptFields`, and offline in public-key mode:
//! `fields encrypt --public-key key.pem` encrypts with an RSA key's public key alone (as
//! CloudFront field-level encryption does), and only callers allowed to Decrypt with that key read
//! the fields back, through the daemon.
//!
//! The document comes from a file or stdin and goes to stdout or `--outfile` (mode 0600, written
//! whole or not at all).

use std::{
    io::{IsTerminal, Read, Write},
    path::{Path, PathBuf},
};

use clap::{Args, Subcommand};
use vaultd::{
    crypto::{
        asymmetric::{AsymmetricSpec, PublicKey},
        context::EncryptionContext,
        fields::{self, FieldSpec, Wrap},
    },
    pb,
};
use zeroize::Zeroizing;

use crate::{
    CliError, Context, input,
    outfile::{self, TempFile},
};

#[derive(Subcommand)]
pub enum FieldsCommand {
    /// Encrypt values of a JSON document at JSON Pointer paths (EncryptFields), or offline with
    /// --public-key.
    Encrypt(EncryptArgs),
    /// Decrypt a field-encrypted JSON document (DecryptFields); its MAC is checked before any
    /// field is decrypted.
    Decrypt(DecryptArgs),
}

/// Where the document comes from and goes.
#[derive(Args)]
pub struct DocumentArgs {
    /// The JSON document (an object): a file, or `-` or nothing for stdin.
    #[arg(value_name = "INPUT")]
    input: Option<PathBuf>,
    /// Write the result to this file (mode 0600) instead of stdout.
    #[arg(short = 'o', long, value_name = "PATH")]
    outfile: Option<PathBuf>,
    /// Replace --outfile if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct EncryptArgs {
    #[command(flatten)]
    document: DocumentArgs,
    /// The key: a symmetric or RSA ENCRYPT_DECRYPT key (id, ARN, alias or alias ARN); with
    /// --public-key, the key's ARN (`vaultctl kms describe-key --query KeyMetadata.Arn`).
    #[arg(long, value_name = "KEY")]
    key_id: String,
    /// A path to encrypt in random mode (RFC 6901 JSON Pointer: /ssn, /cards/0/number, /a~1b for
    /// the member "a/b"). Repeatable.
    #[arg(long = "path", value_name = "POINTER")]
    paths: Vec<String>,
    /// A path to encrypt in deterministic mode: equal values at this path encrypt equally (under
    /// the same key material version), so they can be searched by equality. Symmetric keys only.
    /// Repeatable.
    #[arg(long = "deterministic-path", value_name = "POINTER")]
    deterministic_paths: Vec<String>,
    /// An encryption context pair, stored in the document and bound to its fields. Repeatable.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Encrypt offline with this RSA public key (PEM or DER SubjectPublicKeyInfo, as
    /// `vaultctl kms get-public-key --output pem` writes it): no call to vaultd, no credentials;
    /// random mode only.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
}

#[derive(Args)]
pub struct DecryptArgs {
    #[command(flatten)]
    document: DocumentArgs,
    /// The key the document must be encrypted under (optional; any KeyId form).
    #[arg(long, value_name = "KEY")]
    key_id: Option<String>,
    /// An encryption context pair the document's context must have. Repeatable; when given, the
    /// pairs must be the document's whole context.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
}

/// A `fields` command with its local inputs read and checked.
pub enum FieldsJob {
    Encrypt {
        request: pb::EncryptFieldsRequest,
        output: Output,
    },
    /// Public-key mode: needs no daemon.
    EncryptOffline {
        request: pb::EncryptFieldsRequest,
        public_key: PublicKey,
        output: Output,
    },
    Decrypt {
        request: pb::DecryptFieldsRequest,
        output: Output,
    },
}

/// Where a document goes.
pub struct Output {
    outfile: Option<PathBuf>,
    force: bool,
}

impl FieldsCommand {
    /// Reads the document and the public key, and checks the flags; sends nothing.
    pub fn job(self) -> Result<FieldsJob, String> {
        Ok(match self {
            Self::Encrypt(args) => {
                let output = args.document.output()?;
                let request = pb::EncryptFieldsRequest {
                    key_id: args.key_id,
                    document: args.document.read()?,
                    paths: args.paths,
                    deterministic_paths: args.deterministic_paths,
                    encryption_context: input::context_pairs("--context", &args.context)?.to_map(),
                };
                if request.paths.is_empty() && request.deterministic_paths.is_empty() {
                    return Err(
                        "give at least one --path or --deterministic-path to encrypt".to_string(),
                    );
                }
                match args.public_key {
                    Some(path) => FieldsJob::EncryptOffline {
                        public_key: read_public_key(&path)?,
                        request,
                        output,
                    },
                    None => FieldsJob::Encrypt { request, output },
                }
            }
            Self::Decrypt(args) => FieldsJob::Decrypt {
                output: args.document.output()?,
                request: pb::DecryptFieldsRequest {
                    document: args.document.read()?,
                    key_id: args.key_id.unwrap_or_default(),
                    encryption_context: input::context_pairs("--context", &args.context)?.to_map(),
                },
            },
        })
    }
}

impl FieldsJob {
    /// Whether the job needs vaultd (and so credentials).
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::EncryptOffline { .. })
    }

    /// Runs a job that needs no daemon.
    pub fn run_offline(self) -> Result<(), CliError> {
        let Self::EncryptOffline {
            request,
            public_key,
            output,
        } = self
        else {
            unreachable!("only offline jobs run offline");
        };
        let document = encrypt_offline(&request, &public_key).map_err(CliError::Usage)?;
        output.write(&document)
    }

    pub async fn run(self, context: &Context) -> Result<(), CliError> {
        match self {
            Self::Encrypt { request, output } => {
                let response = context
                    .client
                    .encrypt_fields(request)
                    .await
                    .map_err(|error| CliError::Service {
                        operation: "EncryptFields",
                        error,
                    })?;
                output.write(&Zeroizing::new(response.document))
            }
            Self::Decrypt { request, output } => {
                let response = context
                    .client
                    .decrypt_fields(request)
                    .await
                    .map_err(|error| CliError::Service {
                        operation: "DecryptFields",
                        error,
                    })?;
                output.write(&Zeroizing::new(response.document))
            }
            offline @ Self::EncryptOffline { .. } => offline.run_offline(),
        }
    }
}

/// Public-key mode: a fresh data key wrapped with RSAES-OAEP-SHA-256 under the public key.
fn encrypt_offline(
    request: &pb::EncryptFieldsRequest,
    public_key: &PublicKey,
) -> Result<Zeroizing<String>, String> {
    if !is_key_arn(&request.key_id) {
        return Err(format!(
            "--key-id: with --public-key, give the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), \
             not {:?}: DecryptFields finds the key by it. `vaultctl kms describe-key --key-id KEY \
             --query KeyMetadata.Arn --output text` prints it.",
            request.key_id
        ));
    }
    if !request.deterministic_paths.is_empty() {
        return Err(
            "--deterministic-path needs the key's material inside vaultd; \
                    --public-key encrypts in random mode only"
                .to_string(),
        );
    }
    let document = fields::parse_document(&request.document).map_err(|e| e.to_string())?;
    let data_key =
        Zeroizing::new(vaultd::crypto::random_array::<32>().map_err(|e| format!("{e}"))?);
    let context: EncryptionContext = request.encryption_context.clone().into();
    let label = fields::oaep_label(&context).map_err(|e| e.to_string())?;
    let wrapped = public_key
        .encrypt_oaep_sha256_labelled(&label, data_key.as_slice())
        .map_err(|e| format!("--public-key: {e}"))?;
    let specs: Vec<FieldSpec> = request
        .paths
        .iter()
        .map(|path| FieldSpec {
            path: path.clone(),
            deterministic: false,
        })
        .collect();
    let no_material = || {
        Err(fields::FieldError::Invalid(
            "deterministic mode is not available offline".into(),
        ))
    };
    let encrypted = fields::encrypt_document(
        document,
        &specs,
        &data_key,
        &request.key_id,
        Wrap::RsaOaepSha256,
        &wrapped,
        &context,
        &no_material,
    )
    .map_err(|e| e.to_string())?;
    Ok(Zeroizing::new(
        serde_json::to_string(&encrypted).expect("a JSON value serializes"),
    ))
}

/// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
fn is_key_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "kms"
        && parts[5]
            .strip_prefix("key/")
            .is_some_and(|id| !id.is_empty())
}

/// An RSA public key from a PEM or DER file.
fn read_public_key(path: &Path) -> Result<PublicKey, String> {
    let flag = "--public-key";
    let der = input::public_key(flag, &format!("fileb://{}", path.display()))?;
    [
        AsymmetricSpec::Rsa2048,
        AsymmetricSpec::Rsa3072,
        AsymmetricSpec::Rsa4096,
    ]
    .into_iter()
    .find_map(|spec| PublicKey::from_der(spec, &der).ok())
    .ok_or_else(|| {
        format!(
            "{flag}: {} is not an RSA 2048, 3072 or 4096 public key (SubjectPublicKeyInfo)",
            path.display()
        )
    })
}

impl DocumentArgs {
    fn read(&self) -> Result<String, String> {
        let mut bytes = Vec::new();
        match self.input.as_deref() {
            Some(path) if path != Path::new("-") => {
                bytes = std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            }
            _ => {
                if std::io::stdin().is_terminal() {
                    return Err(
                        "no document: give a file, or pipe the JSON document on stdin".into(),
                    );
                }
                std::io::stdin()
                    .lock()
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("cannot read stdin: {e}"))?;
            }
        }
        String::from_utf8(bytes).map_err(|_| "the document is not UTF-8 text".to_string())
    }

    fn output(&self) -> Result<Output, String> {
        let outfile = self.outfile.clone().filter(|p| p != Path::new("-"));
        if let Some(path) = &outfile {
            outfile::check(path, self.force)?;
        }
        Ok(Output {
            outfile,
            force: self.force,
        })
    }
}

impl Output {
    /// Writes the document and a newline: to stdout, or to a temporary file (0600) renamed over
    /// the target once complete.
    fn write(&self, document: &str) -> Result<(), CliError> {
        let Some(path) = &self.outfile else {
            let mut stdout = std::io::stdout().lock();
            return writeln!(stdout, "{document}")
                .and_then(|()| stdout.flush())
                .map_err(|e| CliError::Other(format!("cannot write the document: {e}")));
        };
        let fail =
            |e: std::io::Error| CliError::Other(format!("cannot write {}: {e}", path.display()));
        let (temp, mut file) =
            TempFile::create(path.clone(), self.force).map_err(CliError::Usage)?;
        writeln!(file, "{document}").map_err(fail)?;
        temp.commit(file).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_are_told_from_other_key_ids() {
        assert!(is_key_arn(
            "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        ));
        for other in [
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "alias/pii",
            "arn:aws:kms:us-east-1:000000000000:alias/pii",
            "arn:aws:kms:us-east-1:000000000000:key/",
        ] {
            assert!(!is_key_arn(other), "{other}");
        }
    }

    #[test]
    fn context_pairs_are_checked() {
        let context_pairs = |values: &[String]| input::context_pairs("--context", values);
        let ctx = context_pairs(&["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(ctx.get("b"), Some("x=y"));
        assert!(context_pairs(&["a".into()]).is_err());
        assert!(context_pairs(&["=1".into()]).is_err());
        assert!(context_pairs(&["a=1".into(), "a=2".into()]).is_err());
    }
}
