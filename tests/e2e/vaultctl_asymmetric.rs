//! vaultctl's asymmetric, HMAC and imported-material actions end to end: the real binary as a
//! child process against an in-process server, checking what a user sees (stdout, stderr, exit
//! status) and that what it prints works with other tools (the typed client, the crate's own
//! crypto, and `openssl` when it is on PATH). Each run gets a temporary HOME and only the VAULTD_*
//! variables the test gives it.

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vaultd::{
    crypto::asymmetric::{AsymmetricSpec, PrivateKey, PublicKey},
    model::EncryptionAlgorithm,
    pb,
};

use crate::common::*;

/// What one vaultctl run left behind.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn success(self) -> Self {
        assert_eq!(self.code, 0, "vaultctl failed: {}", self.stderr);
        self
    }

    #[track_caller]
    fn json(self) -> Value {
        let run = self.success();
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", run.stdout))
    }

    /// A failure reported after a blank line, as the AWS CLI prints its errors, with nothing on
    /// stdout.
    #[track_caller]
    fn assert_error(&self, code: i32, stderr_start: &str) {
        assert_eq!(self.code, code, "{self:?}");
        assert!(
            self.stderr
                .strip_prefix('\n')
                .is_some_and(|m| m.starts_with(stderr_start)),
            "{:?}",
            self.stderr
        );
        assert_eq!(self.stdout, "");
    }
}

/// A place to run vaultctl from: a temporary HOME (which also holds the test's files), and the
/// endpoint of a server.
struct Sandbox {
    endpoint: String,
    home: tempfile::TempDir,
}

impl Sandbox {
    fn new(server: &TestServer) -> Self {
        Self {
            endpoint: server.endpoint(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes a file under the temporary HOME; returns its path.
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    /// `fileb://` + a file holding `contents`.
    fn fileb(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        format!("fileb://{}", self.write(name, contents))
    }

    /// Runs vaultctl as root with the words of `line`, then `tail` (values that vary), and `stdin`.
    fn run_with(&self, line: &str, tail: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut cmd = vaultctl_command();
        cmd.env("HOME", self.home.path())
            .env("VAULTD_ENDPOINT", &self.endpoint)
            .env("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
            .env("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET)
            .args(line.split_whitespace())
            .args(tail)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("vaultctl starts");
        if let Some(bytes) = stdin {
            child.stdin.take().unwrap().write_all(bytes).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().expect("vaultctl exited, not killed"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn root(&self, line: &str, tail: &[&str]) -> Run {
        self.run_with(line, tail, None)
    }

    /// `create-key` with the flags of `line`; returns the key's metadata.
    fn create_key(&self, line: &str) -> Value {
        let created = self.root(&format!("kms create-key {line}"), &[]).json();
        created["KeyMetadata"].clone()
    }

    fn describe_key(&self, key_id: &str) -> Value {
        let described = self.root("kms describe-key --key-id", &[key_id]).json();
        described["KeyMetadata"].clone()
    }

    /// Decrypts and returns the plaintext bytes.
    #[track_caller]
    fn decrypt(&self, tail: &[&str]) -> Vec<u8> {
        let run = self.root("kms decrypt --output text --query Plaintext", tail);
        base64(run.success().stdout.trim_end())
    }
}

#[track_caller]
fn base64(text: &str) -> Vec<u8> {
    STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("not base64 ({e}): {text}"))
}

/// A base64 field of a JSON answer, decoded.
#[track_caller]
fn blob(value: &Value, field: &str) -> Vec<u8> {
    let text = value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"));
    base64(text)
}

fn key_arn(key_id: &str) -> String {
    format!("arn:aws:kms:us-east-1:000000000000:key/{key_id}")
}

/// The DER inside a `PUBLIC KEY` PEM block, checking the shape: the armor lines, and base64 in
/// lines of 64 characters but the last.
#[track_caller]
fn pem_der(pem: &str) -> Vec<u8> {
    let lines: Vec<&str> = pem.lines().collect();
    assert!(pem.ends_with('\n'), "{pem}");
    assert_eq!(lines.first(), Some(&"-----BEGIN PUBLIC KEY-----"), "{pem}");
    assert_eq!(lines.last(), Some(&"-----END PUBLIC KEY-----"), "{pem}");
    let body = &lines[1..lines.len() - 1];
    let (last, full) = body.split_last().expect("a body");
    assert!(full.iter().all(|line| line.len() == 64), "{pem}");
    assert!((1..=64).contains(&last.len()), "{pem}");
    base64(&body.concat())
}

/// `openssl` with `args`, when it is on PATH: whether it succeeded, and its stdout and stderr.
fn openssl(args: &[&str]) -> Option<(bool, Vec<u8>, String)> {
    let output = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some((
        output.status.success(),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

fn openssl_on_path() -> bool {
    openssl(&["version"]).is_some_and(|(ok, _, _)| ok)
}

#[tokio::test(flavor = "multi_thread")]
async fn rsa_keys_sign_verify_and_show_their_public_key_as_der_and_pem() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let metadata = sandbox.create_key("--key-usage SIGN_VERIFY --key-spec RSA_2048");
    let key_id = metadata["KeyId"].as_str().unwrap().to_string();
    assert_eq!(metadata["KeyUsage"], "SIGN_VERIFY");
    assert_eq!(metadata["KeySpec"], "RSA_2048");
    let signing = json!([
        "RSASSA_PSS_SHA_256",
        "RSASSA_PSS_SHA_384",
        "RSASSA_PSS_SHA_512",
        "RSASSA_PKCS1_V1_5_SHA_256",
        "RSASSA_PKCS1_V1_5_SHA_384",
        "RSASSA_PKCS1_V1_5_SHA_512"
    ]);
    assert_eq!(metadata["SigningAlgorithms"], signing, "{metadata}");
    for absent in [
        "EncryptionAlgorithms",
        "MacAlgorithms",
        "KeyAgreementAlgorithms",
    ] {
        assert!(metadata.get(absent).is_none(), "{absent}: {metadata}");
    }
    assert_eq!(sandbox.describe_key(&key_id)["SigningAlgorithms"], signing);

    // Sign a file; the raw signature saved and verified back from fileb:// and as base64.
    let message = b"pay 100 to alice\n".repeat(20);
    let msg = sandbox.fileb("msg", &message);
    let line = "kms sign --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 --key-id";
    let signed = sandbox.root(line, &[&key_id, "--message", &msg]).json();
    assert_eq!(signed["KeyId"], key_arn(&key_id));
    assert_eq!(signed["SigningAlgorithm"], "RSASSA_PKCS1_V1_5_SHA_256");
    let signature = blob(&signed, "Signature");
    assert_eq!(signature.len(), 256);
    let sig = sandbox.fileb("sig", &signature);

    let line = "kms verify --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 --key-id";
    let verified = sandbox.root(line, &[&key_id, "--message", &msg, "--signature", &sig]);
    assert_eq!(
        verified.json(),
        json!({
            "KeyId": key_arn(&key_id),
            "SignatureValid": true,
            "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256"
        })
    );
    let signature_b64 = signed["Signature"].as_str().unwrap();
    let tail = [&key_id, "--message", &msg, "--signature", signature_b64];
    sandbox.root(line, &tail).success();

    // A tampered message does not verify: the service's error, exit 254, as the AWS CLI.
    let mut tampered = message.clone();
    tampered[0] ^= 1;
    let tampered_msg = sandbox.fileb("tampered", &tampered);
    let tail = [&key_id, "--message", &tampered_msg, "--signature", &sig];
    sandbox.root(line, &tail).assert_error(
        254,
        "An error occurred (KMSInvalidSignatureException) when calling the Verify operation",
    );

    // PKCS#1 v1.5 is deterministic: signing the digest gives the same signature; the message
    // may come on stdin.
    let digest = Sha256::digest(&message);
    let digest_file = sandbox.fileb("digest", digest);
    let line = "kms sign --message-type DIGEST --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 \
                --query Signature --output text --key-id";
    let by_digest = sandbox.root(line, &[&key_id, "--message", &digest_file]);
    assert_eq!(base64(by_digest.success().stdout.trim_end()), signature);
    let line = "kms verify --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 --message - \
                --query SignatureValid --output text --key-id";
    let piped = sandbox.run_with(line, &[&key_id, "--signature", &sig], Some(&message));
    assert_eq!(piped.success().stdout, "True\n");

    // GetPublicKey: the DER in base64, as the typed client gets it.
    let der = server
        .client()
        .get_public_key(pb::GetPublicKeyRequest {
            key_id: key_id.clone(),
        })
        .await
        .unwrap()
        .public_key;
    let public = sandbox
        .root("kms get-public-key --key-id", &[&key_id])
        .json();
    assert_eq!(blob(&public, "PublicKey"), der);
    assert_eq!(public["KeyId"], key_arn(&key_id));
    assert_eq!(public["KeySpec"], "RSA_2048");
    assert_eq!(public["KeyUsage"], "SIGN_VERIFY");
    assert_eq!(public["SigningAlgorithms"], signing);
    assert!(public.get("EncryptionAlgorithms").is_none(), "{public}");

    // --output pem: to stdout, or to --outfile (then nothing is printed).
    let line = "kms get-public-key --output pem --key-id";
    let pem = sandbox.root(line, &[&key_id]).success().stdout;
    assert_eq!(pem_der(&pem), der);
    let pem_path = sandbox.home.path().join("key.pem");
    let tail = [&key_id, "--outfile", pem_path.to_str().unwrap()];
    let written = sandbox.root(line, &tail).success();
    assert_eq!(written.stdout, "");
    assert_eq!(std::fs::read_to_string(&pem_path).unwrap(), pem);

    if openssl_on_path() {
        check_with_openssl(&pem_path, &der, &message, &digest, &signature, &tampered);
    } else {
        eprintln!("openssl is not on PATH: the PEM was checked against the DER only");
    }

    // pem is for get-public-key only, and --outfile needs it: usage errors, nothing sent.
    sandbox
        .root("kms describe-key --output pem --key-id", &[&key_id])
        .assert_error(
            252,
            "vaultctl: error: --output pem is only for kms get-public-key",
        );
    sandbox
        .root("kms get-public-key --outfile x.pem --key-id", &[&key_id])
        .assert_error(
            252,
            "vaultctl: error: --outfile writes the public key as PEM",
        );
}

/// The PEM is a public key OpenSSL reads, and the signatures verify (or not) under OpenSSL.
fn check_with_openssl(
    pem_path: &Path,
    der: &[u8],
    message: &[u8],
    digest: &[u8],
    signature: &[u8],
    tampered: &[u8],
) {
    let dir = pem_path.parent().unwrap();
    let file = |name: &str, contents: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    };
    let pem = pem_path.to_str().unwrap();
    let (ok, _, stderr) = openssl(&["pkey", "-pubin", "-in", pem, "-noout"]).unwrap();
    assert!(ok, "openssl pkey: {stderr}");
    let (ok, openssl_der, stderr) =
        openssl(&["pkey", "-pubin", "-in", pem, "-outform", "DER"]).unwrap();
    assert!(ok, "openssl pkey -outform DER: {stderr}");
    assert_eq!(openssl_der, der);

    // pkeyutl signs and verifies a digest: -in is the SHA-256 of the message.
    let (sig, digest) = (file("ossl.sig", signature), file("ossl.digest", digest));
    let verify = |input: &str| {
        openssl(&[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            pem,
            "-sigfile",
            &sig,
            "-in",
            input,
            "-pkeyopt",
            "digest:sha256",
        ])
        .unwrap()
    };
    let (ok, stdout, stderr) = verify(&digest);
    assert!(ok, "openssl pkeyutl -verify: {stderr}");
    assert!(
        String::from_utf8_lossy(&stdout).contains("Signature Verified Successfully"),
        "{}",
        String::from_utf8_lossy(&stdout)
    );
    let tampered_digest = file("ossl.tampered", &Sha256::digest(tampered));
    assert!(!verify(&tampered_digest).0, "a tampered digest verifies");

    // dgst hashes the message itself.
    let msg = file("ossl.msg", message);
    let dgst = ["dgst", "-sha256", "-verify", pem, "-signature", &sig, &msg];
    let (ok, stdout, stderr) = openssl(&dgst).unwrap();
    assert!(ok, "openssl dgst -verify: {stderr}");
    assert_eq!(String::from_utf8_lossy(&stdout), "Verified OK\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn hmac_keys_generate_and_verify_macs() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let metadata = sandbox.create_key("--key-usage GENERATE_VERIFY_MAC --key-spec HMAC_256");
    let key_id = metadata["KeyId"].as_str().unwrap().to_string();
    assert_eq!(
        metadata["MacAlgorithms"],
        json!(["HMAC_SHA_256"]),
        "{metadata}"
    );
    assert!(metadata.get("EncryptionAlgorithms").is_none(), "{metadata}");
    assert!(metadata.get("SigningAlgorithms").is_none(), "{metadata}");
    assert_eq!(
        sandbox.describe_key(&key_id)["MacAlgorithms"],
        json!(["HMAC_SHA_256"])
    );

    let line = "kms generate-mac --mac-algorithm HMAC_SHA_256 --message hello --key-id";
    let generated = sandbox.root(line, &[&key_id]).json();
    assert_eq!(generated["MacAlgorithm"], "HMAC_SHA_256");
    assert_eq!(generated["KeyId"], key_arn(&key_id));
    let mac = blob(&generated, "Mac");
    assert_eq!(mac.len(), 32);

    // The same message from a file and from stdin has the same MAC (HMAC is deterministic).
    let msg = sandbox.fileb("msg", b"hello");
    let line = "kms generate-mac --mac-algorithm HMAC_SHA_256 --query Mac --output text --key-id";
    let from_file = sandbox.root(line, &[&key_id, "--message", &msg]);
    assert_eq!(base64(from_file.success().stdout.trim_end()), mac);
    let from_stdin = sandbox.run_with(line, &[&key_id, "--message", "-"], Some(b"hello"));
    assert_eq!(base64(from_stdin.success().stdout.trim_end()), mac);

    let line = "kms verify-mac --mac-algorithm HMAC_SHA_256 --key-id";
    let mac_b64 = generated["Mac"].as_str().unwrap();
    let tail = [&key_id, "--message", "hello", "--mac", mac_b64];
    assert_eq!(
        sandbox.root(line, &tail).json(),
        json!({"KeyId": key_arn(&key_id), "MacValid": true, "MacAlgorithm": "HMAC_SHA_256"})
    );
    let mac_file = sandbox.fileb("mac", &mac);
    sandbox
        .root(line, &[&key_id, "--message", &msg, "--mac", &mac_file])
        .success();

    // Another message, or a changed MAC: the service's error, exit 254.
    let invalid = "An error occurred (KMSInvalidMacException) when calling the VerifyMac operation";
    let tail = [&key_id, "--message", "hellO", "--mac", mac_b64];
    sandbox.root(line, &tail).assert_error(254, invalid);
    let mut changed = mac.clone();
    changed[31] ^= 0x80;
    let changed = STANDARD.encode(changed);
    let tail = [&key_id, "--message", "hello", "--mac", &changed];
    sandbox.root(line, &tail).assert_error(254, invalid);
}

#[tokio::test(flavor = "multi_thread")]
async fn data_key_pairs_decrypt_to_their_private_key() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key("")["KeyId"]
        .as_str()
        .unwrap()
        .to_string();

    let line = "kms generate-data-key-pair --key-pair-spec ECC_NIST_P256 \
                --encryption-context purpose=signing --key-id";
    let pair = sandbox.root(line, &[&key_id]).json();
    assert_eq!(pair["KeyId"], key_arn(&key_id));
    assert_eq!(pair["KeyPairSpec"], "ECC_NIST_P256");
    let private = blob(&pair, "PrivateKeyPlaintext");
    let public = blob(&pair, "PublicKey");
    let key = PrivateKey::from_pkcs8_der(AsymmetricSpec::EccNistP256, &private).unwrap();
    assert_eq!(key.public_key_der(), public, "the two halves of one pair");

    // The encrypted private key decrypts, under its context, to the plaintext one.
    let encrypted = pair["PrivateKeyCiphertextBlob"].as_str().unwrap();
    let tail = [
        "--ciphertext-blob",
        encrypted,
        "--encryption-context",
        "purpose=signing",
    ];
    assert_eq!(sandbox.decrypt(&tail), private);
    sandbox
        .root("kms decrypt --ciphertext-blob", &[encrypted])
        .assert_error(
            254,
            "An error occurred (InvalidCiphertextException) when calling the Decrypt operation",
        );

    let line = "kms generate-data-key-pair-without-plaintext --key-pair-spec RSA_2048 --key-id";
    let pair = sandbox.root(line, &[&key_id]).json();
    assert!(pair.get("PrivateKeyPlaintext").is_none(), "{pair}");
    assert_eq!(pair["KeyPairSpec"], "RSA_2048");
    let encrypted = sandbox.fileb("private.enc", blob(&pair, "PrivateKeyCiphertextBlob"));
    let private = sandbox.decrypt(&["--ciphertext-blob", &encrypted]);
    let key = PrivateKey::from_pkcs8_der(AsymmetricSpec::Rsa2048, &private).unwrap();
    assert_eq!(key.public_key_der(), blob(&pair, "PublicKey"));
}

#[tokio::test(flavor = "multi_thread")]
async fn derive_shared_secret_agrees_with_the_peer() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let metadata = sandbox.create_key("--key-usage KEY_AGREEMENT --key-spec ECC_NIST_P256");
    let key_id = metadata["KeyId"].as_str().unwrap().to_string();
    assert_eq!(
        metadata["KeyAgreementAlgorithms"],
        json!(["ECDH"]),
        "{metadata}"
    );
    assert!(metadata.get("SigningAlgorithms").is_none(), "{metadata}");

    let public = sandbox
        .root("kms get-public-key --key-id", &[&key_id])
        .json();
    assert_eq!(public["KeyUsage"], "KEY_AGREEMENT");
    assert_eq!(public["KeyAgreementAlgorithms"], json!(["ECDH"]));
    let kms_public = blob(&public, "PublicKey");

    let peer = PrivateKey::generate(AsymmetricSpec::EccNistP256).unwrap();
    let expected = peer.derive_shared_secret(&kms_public).unwrap();
    let peer_der = sandbox.fileb("peer.der", peer.public_key_der());
    let line = "kms derive-shared-secret --key-agreement-algorithm ECDH --key-id";
    let derived = sandbox
        .root(line, &[&key_id, "--public-key", &peer_der])
        .json();
    assert_eq!(blob(&derived, "SharedSecret"), *expected);
    assert_eq!(derived["KeyId"], key_arn(&key_id));
    assert_eq!(derived["KeyAgreementAlgorithm"], "ECDH");
    assert_eq!(derived["KeyOrigin"], "AWS_KMS");

    // The peer's key as base64 on the command line, and as PEM in a file.
    let line = "kms derive-shared-secret --key-agreement-algorithm ECDH \
                --query SharedSecret --output text --key-id";
    let peer_b64 = STANDARD.encode(peer.public_key_der());
    let run = sandbox.root(line, &[&key_id, "--public-key", &peer_b64]);
    assert_eq!(base64(run.success().stdout.trim_end()), *expected);
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{peer_b64}\n-----END PUBLIC KEY-----\n");
    let peer_pem = format!("file://{}", sandbox.write("peer.pem", pem));
    let run = sandbox.root(line, &[&key_id, "--public-key", &peer_pem]);
    assert_eq!(base64(run.success().stdout.trim_end()), *expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_key_material_encrypts_expires_in_metadata_and_can_be_deleted() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let metadata = sandbox.create_key("--origin EXTERNAL");
    let key_id = metadata["KeyId"].as_str().unwrap().to_string();
    assert_eq!(metadata["Origin"], "EXTERNAL");
    assert_eq!(metadata["KeyState"], "PendingImport");

    let line = "kms get-parameters-for-import --wrapping-algorithm RSAES_OAEP_SHA_256 \
                --wrapping-key-spec RSA_2048 --key-id";
    let parameters = sandbox.root(line, &[&key_id]).json();
    assert_eq!(parameters["KeyId"], key_arn(&key_id));
    assert!(parameters["ParametersValidTo"].is_string(), "{parameters}");
    let wrapping = PublicKey::from_der(AsymmetricSpec::Rsa2048, &blob(&parameters, "PublicKey"))
        .expect("an RSA 2048 SubjectPublicKeyInfo");
    let material = [0x5a_u8; 32];
    let wrapped = wrapping
        .encrypt(EncryptionAlgorithm::RsaesOaepSha256, &material)
        .unwrap();
    let token = sandbox.fileb("token", blob(&parameters, "ImportToken"));
    let wrapped = sandbox.fileb("material.enc", wrapped);

    // As AWS, ValidTo is at most 365 days away: 30 days from the server's clock, in Unix seconds.
    let valid_to = (server.clock.now_secs() / 86_400 + 30) * 86_400;
    let line = "kms import-key-material --expiration-model KEY_MATERIAL_EXPIRES --key-id";
    let tail = [
        &key_id,
        "--import-token",
        &token,
        "--encrypted-key-material",
        &wrapped,
        "--valid-to",
        &valid_to.to_string(),
    ];
    let imported = sandbox.root(line, &tail).json();
    assert_eq!(imported["KeyId"], key_arn(&key_id));
    assert!(imported["KeyMaterialId"].is_string(), "{imported}");

    let metadata = sandbox.describe_key(&key_id);
    assert_eq!(metadata["KeyState"], "Enabled", "{metadata}");
    assert_eq!(metadata["ExpirationModel"], "KEY_MATERIAL_EXPIRES");
    let shown = metadata["ValidTo"].as_str().unwrap();
    assert!(shown.ends_with("T00:00:00+00:00"), "{shown}");
    let described = server
        .client()
        .describe_key(pb::DescribeKeyRequest {
            key_id: key_id.clone(),
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(described.valid_to.map(|t| t.seconds), Some(valid_to));
    let line = "kms encrypt --plaintext imported --query CiphertextBlob --output text --key-id";
    let ciphertext = sandbox.root(line, &[&key_id]).success().stdout;
    let ciphertext = ciphertext.trim_end();
    assert_eq!(
        sandbox.decrypt(&["--ciphertext-blob", ciphertext]),
        b"imported"
    );

    let deleted = sandbox.root("kms delete-imported-key-material --key-id", &[&key_id]);
    assert_eq!(deleted.json()["KeyId"], key_arn(&key_id));
    let metadata = sandbox.describe_key(&key_id);
    assert_eq!(metadata["KeyState"], "PendingImport", "{metadata}");
}
