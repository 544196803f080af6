//! Round trips, limits and fixed vectors from an independent implementation (Python `cryptography`).
use std::sync::OnceLock;

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};

use super::*;

const MESSAGE: &[u8] = b"vaultd asymmetric test vector";
const PLAINTEXT: &[u8] = b"vaultd OAEP test plaintext";
const RSA_SPECS: [AsymmetricSpec; 3] = [
    AsymmetricSpec::Rsa2048,
    AsymmetricSpec::Rsa3072,
    AsymmetricSpec::Rsa4096,
];

/// One generated key per spec, shared by the tests: RSA_4096 generation takes a while.
fn generated(spec: AsymmetricSpec) -> &'static PrivateKey {
    static KEYS: [OnceLock<PrivateKey>; 4] = [const { OnceLock::new() }; 4];
    let index = AsymmetricSpec::ALL.iter().position(|s| *s == spec).unwrap();
    KEYS[index].get_or_init(|| PrivateKey::generate(spec).unwrap())
}

/// A copy of `key` on the pure-Rust path, whatever the build: without its AWS-LC half under the
/// `aws-lc` feature, the key itself otherwise.
fn pure_rust(key: &PrivateKey) -> PrivateKey {
    #[cfg(feature = "aws-lc")]
    return PrivateKey {
        aws_lc: None,
        ..key.clone()
    };
    #[cfg(not(feature = "aws-lc"))]
    key.clone()
}

fn digest_of(algorithm: SigningAlgorithm, message: &[u8]) -> Vec<u8> {
    match algorithm.digest_len() {
        32 => Sha256::digest(message).to_vec(),
        48 => Sha384::digest(message).to_vec(),
        64 => Sha512::digest(message).to_vec(),
        other => panic!("no hash of {other} bytes"),
    }
}

fn flip_last_byte(bytes: &[u8]) -> Vec<u8> {
    let mut tampered = bytes.to_vec();
    *tampered.last_mut().unwrap() ^= 0x01;
    tampered
}

/// `signature` verifies over [`MESSAGE`] sent RAW and over its `digest` sent as DIGEST.
#[track_caller]
fn assert_verifies(
    public: &PublicKey,
    algorithm: SigningAlgorithm,
    digest: &[u8],
    signature: &[u8],
) {
    assert!(
        public
            .verify(algorithm, MessageType::Raw, MESSAGE, signature)
            .unwrap()
    );
    assert!(
        public
            .verify(algorithm, MessageType::Digest, digest, signature)
            .unwrap()
    );
}

fn b64(text: &str) -> Vec<u8> {
    BASE64.decode(text).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

#[test]
fn algorithm_lists_and_limits_are_those_of_kms() {
    use SigningAlgorithm::*;
    for spec in RSA_SPECS {
        assert_eq!(
            spec.signing_algorithms(),
            &[
                RsassaPssSha256,
                RsassaPssSha384,
                RsassaPssSha512,
                RsassaPkcs1V15Sha256,
                RsassaPkcs1V15Sha384,
                RsassaPkcs1V15Sha512
            ]
        );
        assert_eq!(
            spec.encryption_algorithms(),
            &[
                EncryptionAlgorithm::RsaesOaepSha1,
                EncryptionAlgorithm::RsaesOaepSha256
            ]
        );
        assert!(spec.key_agreement_algorithms().is_empty());
        assert_eq!(
            spec.max_plaintext_len(EncryptionAlgorithm::SymmetricDefault),
            None
        );
    }
    let p256 = AsymmetricSpec::EccNistP256;
    assert_eq!(p256.signing_algorithms(), &[EcdsaSha256]);
    assert!(p256.encryption_algorithms().is_empty());
    assert_eq!(
        p256.key_agreement_algorithms(),
        &[KeyAgreementAlgorithm::Ecdh]
    );
    assert_eq!(
        p256.max_plaintext_len(EncryptionAlgorithm::RsaesOaepSha256),
        None
    );

    let limits = RSA_SPECS.map(|spec| {
        (
            spec.max_plaintext_len(EncryptionAlgorithm::RsaesOaepSha1),
            spec.max_plaintext_len(EncryptionAlgorithm::RsaesOaepSha256),
        )
    });
    assert_eq!(
        limits,
        [
            (Some(214), Some(190)),
            (Some(342), Some(318)),
            (Some(470), Some(446))
        ]
    );
}

#[test]
fn aws_names_round_trip() {
    for algorithm in SigningAlgorithm::ALL {
        assert_eq!(
            SigningAlgorithm::parse(algorithm.as_str()),
            Some(*algorithm)
        );
    }
    assert_eq!(
        SigningAlgorithm::parse("RSASSA_PKCS1_V1_5_SHA_384"),
        Some(SigningAlgorithm::RsassaPkcs1V15Sha384)
    );
    assert_eq!(SigningAlgorithm::EcdsaSha256.to_string(), "ECDSA_SHA_256");
    assert_eq!(MessageType::parse("DIGEST"), Some(MessageType::Digest));
    assert_eq!(MessageType::parse("digest"), None);
    assert_eq!(KeyAgreementAlgorithm::Ecdh.as_str(), "ECDH");
    for spec in AsymmetricSpec::ALL {
        assert_eq!(AsymmetricSpec::from_key_spec(spec.key_spec()), Some(*spec));
    }
    assert_eq!(AsymmetricSpec::from_key_spec(KeySpec::Hmac256), None);
    assert_eq!(
        AsymmetricSpec::from_key_spec(KeySpec::SymmetricDefault),
        None
    );
}

#[test]
fn sign_and_verify_with_every_spec_and_algorithm() {
    for spec in AsymmetricSpec::ALL {
        let key = generated(*spec);
        // Through the DER a caller of GetPublicKey would hold.
        let public = PublicKey::from_der(*spec, &key.public_key_der()).unwrap();
        for algorithm in spec.signing_algorithms() {
            let algorithm = *algorithm;
            let digest = digest_of(algorithm, MESSAGE);
            let signature = key.sign(algorithm, MessageType::Raw, MESSAGE).unwrap();
            match spec.rsa_bits() {
                Some(bits) => assert_eq!(signature.len(), bits / 8),
                None => assert_eq!(signature[0], 0x30, "a DER SEQUENCE"),
            }
            let verify = |message_type, message: &[u8], signature: &[u8]| {
                public
                    .verify(algorithm, message_type, message, signature)
                    .unwrap()
            };
            assert!(verify(MessageType::Raw, MESSAGE, &signature), "{algorithm}");
            assert!(
                verify(MessageType::Digest, &digest, &signature),
                "{algorithm}"
            );
            // Signing the digest is signing the message.
            let from_digest = key.sign(algorithm, MessageType::Digest, &digest).unwrap();
            assert!(
                verify(MessageType::Raw, MESSAGE, &from_digest),
                "{algorithm}"
            );

            assert!(!verify(MessageType::Raw, b"another message", &signature));
            assert!(!verify(
                MessageType::Raw,
                MESSAGE,
                &flip_last_byte(&signature)
            ));
            assert!(!verify(MessageType::Raw, MESSAGE, &signature[1..]));
            assert!(!verify(MessageType::Raw, MESSAGE, &[]));
        }
    }
}

#[test]
fn a_digest_is_signed_as_given_never_hashed_again() {
    for spec in [AsymmetricSpec::Rsa2048, AsymmetricSpec::EccNistP256] {
        let key = generated(spec);
        let public = key.public_key();
        for algorithm in spec.signing_algorithms() {
            let digest = vec![0x5a; algorithm.digest_len()];
            let signature = key.sign(*algorithm, MessageType::Digest, &digest).unwrap();
            assert!(
                public
                    .verify(*algorithm, MessageType::Digest, &digest, &signature)
                    .unwrap()
            );
            assert!(
                !public
                    .verify(*algorithm, MessageType::Raw, &digest, &signature)
                    .unwrap(),
                "{algorithm}: the digest was hashed again"
            );
        }
    }
}

#[test]
fn a_digest_of_the_wrong_length_is_refused() {
    for spec in [AsymmetricSpec::Rsa2048, AsymmetricSpec::EccNistP256] {
        let key = generated(spec);
        for algorithm in spec.signing_algorithms() {
            let good = key
                .sign(
                    *algorithm,
                    MessageType::Digest,
                    &vec![1; algorithm.digest_len()],
                )
                .unwrap();
            for len in [0, algorithm.digest_len() - 1, algorithm.digest_len() + 1] {
                let digest = vec![1; len];
                assert!(matches!(
                    key.sign(*algorithm, MessageType::Digest, &digest),
                    Err(Error::InvalidInput(_))
                ));
                assert!(matches!(
                    key.public_key()
                        .verify(*algorithm, MessageType::Digest, &digest, &good),
                    Err(Error::InvalidInput(_))
                ));
            }
        }
    }
    // A SHA-256 digest is not a SHA-384 one.
    let key = generated(AsymmetricSpec::Rsa2048);
    assert!(matches!(
        key.sign(
            SigningAlgorithm::RsassaPssSha384,
            MessageType::Digest,
            &Sha256::digest(MESSAGE)
        ),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn raw_messages_are_at_most_4096_bytes() {
    for spec in [AsymmetricSpec::Rsa2048, AsymmetricSpec::EccNistP256] {
        let key = generated(spec);
        let algorithm = spec.signing_algorithms()[0];
        let longest = vec![7u8; MAX_MESSAGE_LEN];
        let signature = key.sign(algorithm, MessageType::Raw, &longest).unwrap();
        assert!(
            key.public_key()
                .verify(algorithm, MessageType::Raw, &longest, &signature)
                .unwrap()
        );
        let too_long = vec![7u8; MAX_MESSAGE_LEN + 1];
        assert!(matches!(
            key.sign(algorithm, MessageType::Raw, &too_long),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            key.public_key()
                .verify(algorithm, MessageType::Raw, &too_long, &signature),
            Err(Error::InvalidInput(_))
        ));
    }
}

#[test]
fn only_pss_signatures_are_randomized() {
    let rsa = generated(AsymmetricSpec::Rsa2048);
    let ecc = generated(AsymmetricSpec::EccNistP256);
    let sign =
        |key: &PrivateKey, algorithm| key.sign(algorithm, MessageType::Raw, MESSAGE).unwrap();
    let pss = SigningAlgorithm::RsassaPssSha256;
    let pkcs1 = SigningAlgorithm::RsassaPkcs1V15Sha256;
    let ecdsa = SigningAlgorithm::EcdsaSha256;
    assert_ne!(sign(rsa, pss), sign(rsa, pss));
    assert_eq!(sign(rsa, pkcs1), sign(rsa, pkcs1));
    // The pure-Rust path's ECDSA nonces are RFC 6979: its signatures repeat. AWS-LC's (under the
    // `aws-lc` feature) are random, so through `sign` only verification is promised.
    let pure = pure_rust(ecc);
    assert_eq!(sign(&pure, ecdsa), sign(&pure, ecdsa), "RFC 6979 nonces");
    let digest = digest_of(ecdsa, MESSAGE);
    for _ in 0..2 {
        assert_verifies(&ecc.public_key(), ecdsa, &digest, &sign(ecc, ecdsa));
    }
}

#[test]
fn oaep_round_trips_up_to_the_plaintext_limit() {
    for spec in RSA_SPECS {
        let key = generated(spec);
        let public = PublicKey::from_der(spec, &key.public_key_der()).unwrap();
        for algorithm in spec.encryption_algorithms() {
            let limit = spec.max_plaintext_len(*algorithm).unwrap();
            for len in [0, 1, limit] {
                let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let ciphertext = public.encrypt(*algorithm, &plaintext).unwrap();
                assert_eq!(ciphertext.len(), spec.rsa_bits().unwrap() / 8);
                assert_eq!(
                    key.decrypt(*algorithm, &ciphertext).unwrap().as_slice(),
                    plaintext,
                    "{spec:?} {algorithm} {len} bytes"
                );
            }
            assert!(matches!(
                public.encrypt(*algorithm, &vec![0; limit + 1]),
                Err(Error::InvalidInput(_))
            ));
            assert_ne!(
                public.encrypt(*algorithm, PLAINTEXT).unwrap(),
                public.encrypt(*algorithm, PLAINTEXT).unwrap(),
                "OAEP padding is random"
            );
        }
    }
}

#[test]
fn a_bad_ciphertext_is_one_uninformative_error() {
    let key = generated(AsymmetricSpec::Rsa2048);
    let sha256 = EncryptionAlgorithm::RsaesOaepSha256;
    let ciphertext = key.public_key().encrypt(sha256, PLAINTEXT).unwrap();
    let mut tampered = ciphertext.clone();
    tampered[100] ^= 0x80;
    let other_key = generated(AsymmetricSpec::Rsa3072);
    let other_ciphertext = other_key.public_key().encrypt(sha256, PLAINTEXT).unwrap();
    let cases = [
        ("tampered", key.decrypt(sha256, &tampered)),
        ("truncated", key.decrypt(sha256, &ciphertext[1..])),
        ("empty", key.decrypt(sha256, &[])),
        (
            "too long",
            key.decrypt(sha256, &[ciphertext.as_slice(), &[0]].concat()),
        ),
        (
            "other algorithm",
            key.decrypt(EncryptionAlgorithm::RsaesOaepSha1, &ciphertext),
        ),
        ("other key", key.decrypt(sha256, &other_ciphertext)),
    ];
    for (case, result) in cases {
        assert_eq!(result.map(drop), Err(Error::InvalidCiphertext), "{case}");
    }
}

#[test]
fn ecdh_agrees_both_ways_and_checks_the_peer_key() {
    let ours = generated(AsymmetricSpec::EccNistP256);
    let theirs = PrivateKey::generate(AsymmetricSpec::EccNistP256).unwrap();
    let secret = ours.derive_shared_secret(&theirs.public_key_der()).unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(
        secret,
        theirs.derive_shared_secret(&ours.public_key_der()).unwrap()
    );

    let spki = theirs.public_key_der();
    let mut off_curve = spki.clone();
    *off_curve.last_mut().unwrap() ^= 0x01;
    let rsa_spki = generated(AsymmetricSpec::Rsa2048).public_key_der();
    for (case, peer) in [
        ("off the curve", off_curve.as_slice()),
        ("an RSA key", &rsa_spki),
        ("a bare point, no SPKI", &spki[26..]),
        ("truncated", &spki[..spki.len() - 1]),
        ("empty", &[]),
    ] {
        assert!(
            matches!(ours.derive_shared_secret(peer), Err(Error::InvalidInput(_))),
            "{case}"
        );
    }
}

#[test]
fn an_algorithm_the_key_does_not_have_is_refused() {
    let rsa = generated(AsymmetricSpec::Rsa2048);
    let ecc = generated(AsymmetricSpec::EccNistP256);
    let digest = [0u8; 32];
    let malformed = |result: Result<_, Error>| matches!(result, Err(Error::Malformed(_)));
    assert!(malformed(
        rsa.sign(SigningAlgorithm::EcdsaSha256, MessageType::Digest, &digest)
            .map(drop)
    ));
    assert!(malformed(
        ecc.sign(
            SigningAlgorithm::RsassaPssSha256,
            MessageType::Digest,
            &digest
        )
        .map(drop)
    ));
    assert!(malformed(
        ecc.public_key()
            .verify(
                SigningAlgorithm::RsassaPkcs1V15Sha256,
                MessageType::Digest,
                &digest,
                &[]
            )
            .map(drop)
    ));
    assert!(malformed(
        ecc.public_key()
            .encrypt(EncryptionAlgorithm::RsaesOaepSha256, PLAINTEXT)
            .map(drop)
    ));
    assert!(malformed(
        ecc.decrypt(EncryptionAlgorithm::RsaesOaepSha256, &[0; 64])
            .map(drop)
    ));
    assert!(malformed(
        rsa.public_key()
            .encrypt(EncryptionAlgorithm::SymmetricDefault, PLAINTEXT)
            .map(drop)
    ));
    assert!(malformed(
        rsa.decrypt(EncryptionAlgorithm::SymmetricDefault, &[0; 256])
            .map(drop)
    ));
    assert!(malformed(
        rsa.derive_shared_secret(&ecc.public_key_der()).map(drop)
    ));
}

#[test]
fn pkcs8_round_trips_and_must_be_of_the_spec() {
    for spec in AsymmetricSpec::ALL {
        let key = generated(*spec);
        let der = key.to_pkcs8_der();
        let back = PrivateKey::from_pkcs8_der(*spec, &der).unwrap();
        assert_eq!(back.spec(), *spec);
        assert_eq!(back.public_key_der(), key.public_key_der());
        assert_eq!(back.to_pkcs8_der(), der);
        for other in AsymmetricSpec::ALL.iter().filter(|other| *other != spec) {
            assert!(
                matches!(
                    PrivateKey::from_pkcs8_der(*other, &der),
                    Err(Error::Malformed(_))
                ),
                "{spec:?} read as {other:?}"
            );
        }
        assert!(PrivateKey::from_pkcs8_der(*spec, &der[..der.len() - 1]).is_err());
        assert!(PrivateKey::from_pkcs8_der(*spec, &[]).is_err());
    }
}

#[test]
fn the_public_key_is_der_subject_public_key_info_of_its_spec() {
    const RSA_ENCRYPTION: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    const EC_PUBLIC_KEY_P256: &[u8] = &[
        0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
        0x3d, 0x03, 0x01, 0x07,
    ];
    for spec in AsymmetricSpec::ALL {
        let der = generated(*spec).public_key_der();
        // SEQUENCE { SEQUENCE { algorithm OID, parameters }, BIT STRING }
        assert_eq!(der[0], 0x30);
        let algorithm = if spec.rsa_bits().is_some() {
            RSA_ENCRYPTION
        } else {
            EC_PUBLIC_KEY_P256
        };
        assert!(
            der.windows(algorithm.len()).any(|w| w == algorithm),
            "{spec:?}"
        );
        let public = PublicKey::from_der(*spec, &der).unwrap();
        assert_eq!(public.spec(), *spec);
        assert_eq!(public.to_der(), der);
        for other in AsymmetricSpec::ALL.iter().filter(|other| *other != spec) {
            assert!(matches!(
                PublicKey::from_der(*other, &der),
                Err(Error::Malformed(_))
            ));
        }
    }
    assert_eq!(
        generated(AsymmetricSpec::EccNistP256)
            .public_key_der()
            .len(),
        91
    );
}

#[test]
fn debug_is_redacted() {
    let key = generated(AsymmetricSpec::EccNistP256);
    assert_eq!(format!("{key:?}"), "PrivateKey(EccNistP256, [REDACTED])");
    assert_eq!(format!("{:?}", key.public_key()), "PublicKey(EccNistP256)");
}

// Vectors from an independent implementation, Python `cryptography` 50.0.2 (OpenSSL), made
// once: `rsa.generate_private_key(65537, 2048)`, `ec.generate_private_key(SECP256R1())` twice
// (A and B), `private_bytes(DER, PKCS8, NoEncryption())`, `public_bytes(DER,
// SubjectPublicKeyInfo)`; signatures with `PKCS1v15()`, `PSS(MGF1(h), PSS.DIGEST_LENGTH)` and
// `ECDSA(SHA256())`; `OAEP(MGF1(h), h, None)` encryptions; `A.exchange(ECDH(), B.public_key())`.

fn python_rsa() -> PrivateKey {
    PrivateKey::from_pkcs8_der(AsymmetricSpec::Rsa2048, &b64(python::RSA_PKCS8)).unwrap()
}

fn python_ec(pkcs8: &str) -> PrivateKey {
    PrivateKey::from_pkcs8_der(AsymmetricSpec::EccNistP256, &hex(pkcs8)).unwrap()
}

#[test]
fn python_keys_import_and_encode_as_python_does() {
    let rsa = python_rsa();
    assert_eq!(rsa.to_pkcs8_der().as_slice(), b64(python::RSA_PKCS8));
    assert_eq!(rsa.public_key_der(), b64(python::RSA_SPKI));
    for (pkcs8, spki) in [
        (python::EC_A_PKCS8, python::EC_A_SPKI),
        (python::EC_B_PKCS8, python::EC_B_SPKI),
    ] {
        let key = python_ec(pkcs8);
        assert_eq!(key.to_pkcs8_der().as_slice(), hex(pkcs8));
        assert_eq!(key.public_key_der(), hex(spki));
    }
    let wrong_spec = [
        (AsymmetricSpec::Rsa3072, b64(python::RSA_PKCS8)),
        (AsymmetricSpec::EccNistP256, b64(python::RSA_PKCS8)),
        (AsymmetricSpec::Rsa2048, hex(python::EC_A_PKCS8)),
    ];
    for (spec, der) in wrong_spec {
        assert!(matches!(
            PrivateKey::from_pkcs8_der(spec, &der),
            Err(Error::Malformed(_))
        ));
    }
}

#[test]
fn python_pkcs1_v1_5_signatures_equal_ours_byte_for_byte() {
    let key = python_rsa();
    let public = PublicKey::from_der(AsymmetricSpec::Rsa2048, &b64(python::RSA_SPKI)).unwrap();
    for (algorithm, signature) in [
        (
            SigningAlgorithm::RsassaPkcs1V15Sha256,
            python::RSA_PKCS1_SHA256,
        ),
        (
            SigningAlgorithm::RsassaPkcs1V15Sha384,
            python::RSA_PKCS1_SHA384,
        ),
        (
            SigningAlgorithm::RsassaPkcs1V15Sha512,
            python::RSA_PKCS1_SHA512,
        ),
    ] {
        let signature = b64(signature);
        let digest = digest_of(algorithm, MESSAGE);
        // PKCS#1 v1.5 is deterministic: equal bytes mean Python verifies ours too.
        assert_eq!(
            key.sign(algorithm, MessageType::Raw, MESSAGE).unwrap(),
            signature
        );
        assert_eq!(
            key.sign(algorithm, MessageType::Digest, &digest).unwrap(),
            signature
        );
        assert_verifies(&public, algorithm, &digest, &signature);
    }
}

#[test]
fn python_pss_signatures_verify_and_python_verified_ours() {
    let public = PublicKey::from_der(AsymmetricSpec::Rsa2048, &b64(python::RSA_SPKI)).unwrap();
    for (algorithm, signature) in [
        (SigningAlgorithm::RsassaPssSha256, python::RSA_PSS_SHA256),
        (SigningAlgorithm::RsassaPssSha384, python::RSA_PSS_SHA384),
        (SigningAlgorithm::RsassaPssSha512, python::RSA_PSS_SHA512),
        (SigningAlgorithm::RsassaPssSha256, python::VAULTD_PSS_SHA256),
    ] {
        let signature = b64(signature);
        let digest = digest_of(algorithm, MESSAGE);
        assert_verifies(&public, algorithm, &digest, &signature);
        assert!(
            !public
                .verify(algorithm, MessageType::Raw, PLAINTEXT, &signature)
                .unwrap()
        );
    }
    // The salt is as long as the hash: a SHA-256 PSS signature is not a SHA-384 one.
    assert!(
        !public
            .verify(
                SigningAlgorithm::RsassaPssSha384,
                MessageType::Raw,
                MESSAGE,
                &b64(python::RSA_PSS_SHA256)
            )
            .unwrap()
    );
}

#[test]
fn python_ecdsa_signatures_verify_and_rfc6979_matches_byte_for_byte() {
    let key = python_ec(python::EC_A_PKCS8);
    let public = PublicKey::from_der(AsymmetricSpec::EccNistP256, &hex(python::EC_A_SPKI)).unwrap();
    let ecdsa = SigningAlgorithm::EcdsaSha256;
    let digest = Sha256::digest(MESSAGE);
    // The pure-Rust path signs with RFC 6979 nonces, as Python's deterministic signing does.
    let pure = pure_rust(&key);
    assert_eq!(
        pure.sign(ecdsa, MessageType::Raw, MESSAGE).unwrap(),
        hex(python::ECDSA_RFC6979)
    );
    assert_eq!(
        pure.sign(ecdsa, MessageType::Digest, &digest).unwrap(),
        hex(python::ECDSA_RFC6979)
    );
    // Whatever the build's nonces, `sign` makes signatures that verify.
    let ours = [
        key.sign(ecdsa, MessageType::Raw, MESSAGE).unwrap(),
        key.sign(ecdsa, MessageType::Digest, &digest).unwrap(),
    ];
    for signature in &ours {
        assert_verifies(&public, ecdsa, &digest, signature);
    }
    for signature in [python::ECDSA_RANDOM, python::ECDSA_RFC6979] {
        let signature = hex(signature);
        assert_verifies(&public, ecdsa, &digest, &signature);
        assert!(
            !public
                .verify(ecdsa, MessageType::Raw, PLAINTEXT, &signature)
                .unwrap()
        );
    }
}

#[test]
fn python_oaep_ciphertexts_decrypt_and_python_decrypted_ours() {
    let key = python_rsa();
    for (algorithm, ciphertext) in [
        (EncryptionAlgorithm::RsaesOaepSha1, python::RSA_OAEP_SHA1),
        (
            EncryptionAlgorithm::RsaesOaepSha256,
            python::RSA_OAEP_SHA256,
        ),
        (
            EncryptionAlgorithm::RsaesOaepSha256,
            python::VAULTD_OAEP_SHA256,
        ),
    ] {
        assert_eq!(
            key.decrypt(algorithm, &b64(ciphertext)).unwrap().as_slice(),
            PLAINTEXT
        );
    }
    assert_eq!(
        key.decrypt(
            EncryptionAlgorithm::RsaesOaepSha256,
            &b64(python::RSA_OAEP_SHA1)
        ),
        Err(Error::InvalidCiphertext)
    );
}

#[test]
fn python_ecdh_secret_is_reproduced() {
    let a = python_ec(python::EC_A_PKCS8);
    let b = python_ec(python::EC_B_PKCS8);
    let expected = hex(python::ECDH_AB);
    assert_eq!(
        a.derive_shared_secret(&hex(python::EC_B_SPKI))
            .unwrap()
            .as_slice(),
        expected
    );
    assert_eq!(
        b.derive_shared_secret(&hex(python::EC_A_SPKI))
            .unwrap()
            .as_slice(),
        expected
    );
}

/// The vectors, as described above `python_rsa`.
mod python {
    /// RSA_2048 private key, PKCS#8 DER, base64.
    pub const RSA_PKCS8: &str = concat!(
        "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDJWgKnV/uShmxcxYCDwTDPvYDijaE5aJIktFti",
        "l/SSkE2H+N+ayVMoU06gatKlfyjG/u6pixkYKNhafy1Zs1kdMzG9RWypJCQi/2hEzB6g8DLsO3P/cl+d6Kkmf6wT",
        "7WWjnEEfcu5BLFeYJzhnwDFMbt/aBc7pXGc2WtRX5a7zubu8Yc+5QHAtK1XtRkr2XzI4rVMzGhXf4zOdlfsiddsc",
        "sZMrZiHqo2aIyfQzZSAX3YqVPLHN4SKhXhacs2kRlhjsJJHpP5NFIYmsXrrvqe/v26cgPrtIhp4dSk0/hijsvsLr",
        "JPqqSbDePW1KZwYKRiydzfxjgsTKiyiOHNtd/v9rAgMBAAECggEACtNLjDq3PFf80HoP4EWNPcYG/Wc28VK1dMK7",
        "nQ/lZtHaUUKopvZHAcaE1iwYGiy9gQFozHW9iiZ8B1WKFyYE1wSPGol2f5uBU95eeUBuLyHq4veJU4UPLfq5yWeY",
        "1VNwoPzAJZQ0yg07wmLtbeqP2/ekEmE4kCRXKj106CrhnpnXzrMGhaAZRiEqf2lTAyPeasZlGjyrctszgy3Wi4+Q",
        "PjjuWoXmfHPnlzbLwYRtQsoP5URnmDQiBGvRQ+0fRGYIFFnesjDGIjn+6YJoOQWsKQgSuCQTwZZm2pYqTkpOzjL8",
        "8tTY1pj59jSa4dPwPgqzV1PHmBCGNooQKlC/++doTQKBgQDyQOMpYCUJbeCP/GPrdt65wuJf3YVVMj+npuxq0aUt",
        "dgAbWyhtSZ5kVBPVF4D+l7CGEekhhQxnEihSSBlOszbDEgpwK2AABL6/KLhpfxTbHGi35j7WLOkHmhi/per0Hv7r",
        "oAuRzP/si1MYD0RpMN+m3X1a4EfffIqTLA4p7LHiXQKBgQDUxvWInwdbGxiYfVbhhE5DAww9bs8UxktaYpouT7ep",
        "tP5eK2eXLZQiyHayI9Vl48MuoQVAZHWvDw797Z8jcvLKU5XAO/fkHdQ7WN52rjzdaWRZUtzGEnxji7qpNlCecZCt",
        "WSLzkR9w5xcnm8eI1Y3ND2Qk/kNEZ8+isA8I3yncZwKBgQCgeTVBUkwWe++20bUK5HpTyXIVmPNa5WdfUmbnt6pY",
        "fANEG9Wi15KR2VQt41zyyV8I4NJy/uShXljRcKs7A+JxxACgH0t/l6UXkgze7WzOXHpN37qeO6+99mkQgwMp5WJu",
        "iV1AnvClLAHGPU7O864jpjMEwO87bw+IwDU9tmp7jQKBgQC0lUsrsXRnwR5lxPKooUZen0aTGOlNg2HOiyK5rVR+",
        "BqtftszLRJaV0rbSR5FEUUKE34n6dYhfk5Mwtaw7RMKELt5IcVzY0OwfljPwW74yV9Ef8jCHNoc1YRCBriRL5Kxa",
        "Qu1j9EXP54ECT7bQDhaz850VvGnQs55IP83yxJvdfwKBgQDWl8EkCH5ZxrwuU7tFjg952uo7VON7FxVkRouoMM9d",
        "Ga5pMagtl7JZ5EKQuVcSMkMW2HtN0OWaREuTbmQRLFMv/EIyI9j3t0gVvBLLP2rP56I6s1viJEVR5mxQE1DKkFCh",
        "/gv/6oa/z+WX6PKmtuNeoFhgB4VbHcbb8WK4EaEGFg==",
    );
    /// Its public key, SubjectPublicKeyInfo DER, base64.
    pub const RSA_SPKI: &str = concat!(
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyVoCp1f7koZsXMWAg8Ewz72A4o2hOWiSJLRbYpf0kpBN",
        "h/jfmslTKFNOoGrSpX8oxv7uqYsZGCjYWn8tWbNZHTMxvUVsqSQkIv9oRMweoPAy7Dtz/3JfneipJn+sE+1lo5xB",
        "H3LuQSxXmCc4Z8AxTG7f2gXO6VxnNlrUV+Wu87m7vGHPuUBwLStV7UZK9l8yOK1TMxoV3+MznZX7InXbHLGTK2Yh",
        "6qNmiMn0M2UgF92KlTyxzeEioV4WnLNpEZYY7CSR6T+TRSGJrF6676nv79unID67SIaeHUpNP4Yo7L7C6yT6qkmw",
        "3j1tSmcGCkYsnc38Y4LEyosojhzbXf7/awIDAQAB",
    );
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `MESSAGE`, base64.
    pub const RSA_PKCS1_SHA256: &str = concat!(
        "lpbblYDYrbFfoK4foh9U/htNBR8rg/KvORa18ihpeKjDXk7vrwoMWw6LuTylKqGhwj+7vYA/GKUuKhoaq1F2Om8N",
        "qrZWusCMJjFf3/pJ0uWAnGDXHN7++HHkoLxHJcB9sYYRTwbLyjDqSLr5TtEnMnOHHS2GZKBGlusZCpUAvrgsrFQT",
        "+69ukRTx37mXry61RWWQ5MqkTta5QLkA1U+/YQqT/K1OpdJHnPDqxHBCdnlslYTzVscp3dakZwqTaHg8JBdNlpzz",
        "C0ANuqi204wh4AGynaGeuZe00w8SkYh6obwc6A4XCY8lC9NlAhphQPfW1GdpWhKq6Tm/YbeS/1X6XA==",
    );
    /// RSASSA-PKCS1-v1_5 with SHA-384 over `MESSAGE`, base64.
    pub const RSA_PKCS1_SHA384: &str = concat!(
        "P/tJxLw+dn2lPvEvhNgF56N0VC+2imYbSGWH6NGi/vzfIjb8Z9/J322SBqyYE+Lt507PEiWjlcU8i02yNpdjyLEF",
        "zCTCDy0KZBiX6WK2I5E2B7etJTimswjRmdFTSd9d6a44fNXuPyIWjMtuj/97z9jS6C8/e58njHGucmoPGSCUr9Yx",
        "RXT3Yb5M+mXakZCYNjcFXEwxgqSd5wLzd2SundxNjqCJ1odyTsYmg1cyjIbj3hAQXVRwEXzO20FMqNLMr+dk9PXV",
        "mi47epDtLOUD0C37sF4z+7hoPplG1jLIG6akmU6hU1WbyK3qLEaumonDAd+cPZgvy1kYJjeMfkEAJQ==",
    );
    /// RSASSA-PKCS1-v1_5 with SHA-512 over `MESSAGE`, base64.
    pub const RSA_PKCS1_SHA512: &str = concat!(
        "OI++JVbdGw8vgBgMu9s/bp7uFcVFZ+I5qtVQ9CPOgjWw4aQ4E7k3z/CxuvIZqhRyOvXO0nGV+NuHPpYsz1H+E7Ob",
        "4RV3v0HQ6KwLrVmifpLbdfKyD2k3hnp4qDseBhP/452VJ2YCRD4H+KstG5c5xZ0ojvewWLWzwOWqYyAFzMbdh5gP",
        "EoqLCtW4kGPMlbigIqZWzTmS783t4054aHSxixk8/+1K0aly70Y7AZO5ciWIj6iqy31BNyiqX28ipGFNS2TnV1IM",
        "J7GB746j2imQhExm/+c3lbp1uu1jYA+qjRkU6B3Nn7fUXiyyb9/iWEE3CI7nYHWWQ50zauE+gR2H8w==",
    );
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt as long as the hash, over `MESSAGE`, base64.
    pub const RSA_PSS_SHA256: &str = concat!(
        "mIMBq5rwITMbxIcZ7eRsGgB/XHlbtNsrx2Rl78GEVQVlGtVZjtIIrSHWVEPIts/4dN3vl4G0M5hJQyVuHrMLc3or",
        "RqGjFQfFgRMN3xoDenaFKFmawNJQNKEx6SRqNNLm7/IKhik2ZodyMFIkeSdHshPbuL591AszVfIat6E0H3dp+b+h",
        "MduzjNPuxT5AyiBAON5yxKCijV0bf6WIJtOH4/TEmzFO1BWn9uexOREKFoLjCgtltErmx0Y48L1XVVL+4pIK1XVK",
        "/LSmzj6IEf6LbZV4k6r2EgH5TdOEBlt48TsnTU0Jq7y+5oiHAbA6HIfQ3acwRTVOudj0PMGzhpDEmA==",
    );
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, salt as long as the hash, over `MESSAGE`, base64.
    pub const RSA_PSS_SHA384: &str = concat!(
        "SSA7fukIf0Xtux5dZrQFch7zyH7GO6Cqcpt1+BsV3+/HEgaYKENVtx4YWjhq1+XYQ0R8h2t5zUp5RHp3g+lZWBh0",
        "HmGFo7X6izfPBq51JvTdGrUcAlUN6pn4lkmCs5M0IXe7HsMkqG78iCgJ2HnFvAC61Er0kdWd220JT1flSqH06VbY",
        "PLr/lba70Hu0+VVcZmV15OKTfQGkEZ7p9kWoAfa7osCqcblXIiRzE547tAurIUKsMf2VzHiyaIBnG7jZ6nOZlNo2",
        "ZNol9HrpRA60WywCK9DA9WtO3T8U699amR52h0NSDZnEP2MsrM+OaoLvhH4l6W0QCt9R4fBI+CMhlA==",
    );
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, salt as long as the hash, over `MESSAGE`, base64.
    pub const RSA_PSS_SHA512: &str = concat!(
        "al9K11sZFxPOvPuc18pElJNyDmxxfPPpVM7jb/koSCLXODMiGfgm5KZ4Os8QNPjk/194cYI8OYSzMqEEXJtoRGXz",
        "Li2vrqvPeTnhqdXyfKZydrr69+KXHikZ1+nmnecuHH7rBz68i7022TJtXqGStGLDHiFS66jFqpGYQgiaY7Hlu3Wn",
        "BaBeRxO0atEleH0GYECp3IYQtXuBUv93im0IyxH7IfHsySiVby1zS9OHK7IWVnugMZABZDXriy68XnsWQqH54OKM",
        "+8wgFhvrrNxhHqT94Hqi7IZeO5UQLmK0xeDxccEILjmSH3AM7b4fFxpc0qMh2gYINRZH+06spkxfLQ==",
    );
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1 of `PLAINTEXT`, base64.
    pub const RSA_OAEP_SHA1: &str = concat!(
        "woRSP156yUJzGTpZ0UdZ1/3+zNGe4d3n+JOZam2M3vGXkDDceq8V9R3S837xVOsisxq3U5HXfbM21cz64P1FoEeO",
        "yBb0qWHB06d/CVecONje0ibQMKwMEr/js+omE987A+OY4JLSR6nWevnoXeyqjW3uuhywiUtHBCADovfA0D1qU1NZ",
        "lujggWLtPQls3apVto4wDN9p16hR1hiUvz8TnKf1/jrFgBpCYogWdhqkeQANh39rizEYHvKl3/VZsTLhnZDXH+Ik",
        "iaJb/dHbv9G/h+06QGhraMeMd8DyA13nds+zi75FM7QL2Uvjo4ZivW9kBPDhsscB2hJBam25RMWAnA==",
    );
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 of `PLAINTEXT`, base64.
    pub const RSA_OAEP_SHA256: &str = concat!(
        "xnZU3dk0gymZYg6II4DwuhEYPfANoGShekRNhDuK1SBMbeDvZRRpdOdO/YGKJSgBxNMVxP/KeDCOmfSkq9MwjR0V",
        "W0ZbaGUdIMoGlRoqRx1csQunJNn/31BCu8j5j6OMAIW/FmToTjtgppkrhUe6y6yS0R+NGJIkldpU8W8ZmRHW59ee",
        "nZHRk793frX4w1ENFe7T2IZMuOf2FUXBBOrTYzkdHwhUN/3k8fbT3GrpijE25NORZYRmh6szSH2nlAC75S2tO7/x",
        "6tTM6rCMla7dzWPyfNKePpgiIitCStc/7/vCi5eGXRuyTmRBkXnAY5yvQEaiFgt9ky5CnAFkl86hsA==",
    );
    /// P-256 key A, PKCS#8 DER, hex.
    pub const EC_A_PKCS8: &str = concat!(
        "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104202210e96beadee9e4",
        "571078b0e68fd87f191ba8ef2681521ecc7434373914642fa14403420004f4caf16de8411dd799938d8958bf",
        "1230928b5e69f36b00f01cc86d488aba8ef4605c9fd9a43389df7e3ab36a6d112f27c276f2d060211c5474c9",
        "fcc9df3694e4",
    );
    /// Its public key, SubjectPublicKeyInfo DER, hex.
    pub const EC_A_SPKI: &str = concat!(
        "3059301306072a8648ce3d020106082a8648ce3d03010703420004f4caf16de8411dd799938d8958bf123092",
        "8b5e69f36b00f01cc86d488aba8ef4605c9fd9a43389df7e3ab36a6d112f27c276f2d060211c5474c9fcc9df",
        "3694e4",
    );
    /// P-256 key B, PKCS#8 DER, hex.
    pub const EC_B_PKCS8: &str = concat!(
        "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420a8ffcd350811e806",
        "d7a56963136e4d286b64703111f6de2a80eeb88336750706a14403420004b0c4c0d7d0654b676f8c4274e93d",
        "2c06a0f29227296d788b6a23cba725f3b5b6750d138a166bd789d501ca31f7a80396e0deee276a084d2d5a82",
        "92e8868518e5",
    );
    /// Its public key, SubjectPublicKeyInfo DER, hex.
    pub const EC_B_SPKI: &str = concat!(
        "3059301306072a8648ce3d020106082a8648ce3d03010703420004b0c4c0d7d0654b676f8c4274e93d2c06a0",
        "f29227296d788b6a23cba725f3b5b6750d138a166bd789d501ca31f7a80396e0deee276a084d2d5a8292e886",
        "8518e5",
    );
    /// ECDSA-SHA-256 by key A over `MESSAGE` with a random nonce, DER, hex.
    pub const ECDSA_RANDOM: &str = concat!(
        "304402203634f772dd4ce348f311c0e5cc99b7d7ddb5d1c8e1a391c70af461b9ab1a452802200b002536e3d3",
        "bc24c9ec3a402ad422bc7cfb26ac9ae069070a61ab5a9d7da377",
    );
    /// The same with RFC 6979 nonces (`deterministic_signing=True`), DER, hex.
    pub const ECDSA_RFC6979: &str = concat!(
        "3045022100a496b70ee578f28f104fca11c2a21a8dd32354a291ab5d2b0e28708feae6ce7102200df93a538a",
        "16c22093fc91d85a1ca8c3bee4093107697b98cc65ca1b13c7852b",
    );
    /// ECDH shared secret of keys A and B (x-coordinate), hex.
    pub const ECDH_AB: &str = "dd8e97039657de504445187b19bff95d46e65fd028a24c65aae2e48c5283ebc3";
    /// Made by vaultd: RSASSA_PSS_SHA_256 by `RSA_PKCS8` over `MESSAGE`, base64. Python verified it:
    /// `public_key.verify(sig, MESSAGE, PSS(MGF1(SHA256()), salt_length=32), SHA256())`.
    pub const VAULTD_PSS_SHA256: &str = concat!(
        "Br6A4fadhWHuxg1v453bOMKUngL0NL8oLLfyYTzDSUzjjfMTEtbaznHgq5/W4Ol6yAu+e4dpXZOS0uCmGmzBw79r",
        "NBJzXqoEvnUepe4d4uvw8qw7B9howdwuvkLBMXko90G74IPaS05jJkjfC+O2d7H3hrMxTIvRF3JgYtGlKQL1VZhu",
        "naoYZTopAMRT+TDqknOwsR2tmOYIkK1RcK8/RHbWctWY8cl9WbJWqWk7oHYBEXvWIA4UmY2qgeke8qFrTQcdKOlw",
        "vnf+0Xr2o5VeUv1hpuCLBIHzM4p3uC3I7iMeCIWRaH5ocdgy7SsJdL3wkI9PricrVTjnDrpkcLJEwg==",
    );
    /// Made by vaultd: RSAES_OAEP_SHA_256 of `PLAINTEXT` to `RSA_SPKI`, base64. Python decrypted it:
    /// `private_key.decrypt(ct, OAEP(MGF1(SHA256()), SHA256(), None)) == PLAINTEXT`.
    pub const VAULTD_OAEP_SHA256: &str = concat!(
        "t8ND9c5670c6blkJptIVXDxYtW8YwI0rtWdO3WMneb08wobQZa74Ea2/jD3P+t7imSe0Bh1DSt3M8KhdN/az9G+m",
        "btP3J573ukRjVAgp/d1Pf6MFbIHThAyeoOl03JSEBlO27K2CHfBQ6D/8jZr3Xcoa60geY4DGVA1ozNeA0Vdbbbk2",
        "KhKmCbf3l+FR4hdG7p9MoJOKgMcirIImzcenTcDrvHmvhO9mcjHY0+tr4ZKxEa1WPNWLp0bnRllZ428GJXBLzyGV",
        "2oOP2LmiCaeP+GwWo+SAh/Nl6TQ3eHhOVASxORMxvtvK5PGYWLgHrlY5gaV7SK4LxUFUiIqK+QYmYg==",
    );
}

/// RSAES-OAEP-SHA-256 with a label (field-level encryption's public-key mode): a ciphertext made by
/// Python `cryptography` (`padding.OAEP(MGF1(SHA256), SHA256, label=b"vfe1" + canonical context)`)
/// under its own freshly generated key, of the bytes 0..31.
const LABELLED_OAEP_KEY: &[&str] = &[
    "308204bf020100300d06092a864886f70d0101010500048204a9308204a502010002820101008a8dc763a1c25965e15b",
    "16d8261d4233a88a600cb13a759af4f68664534db53111801423b0eb5fdcde7c753588e4f4c0435c7ef6b50568da1a53",
    "8f6ac4664c62191a53b010ebeb3afba0acbc41bfd40de8ec5919fd25051a97a9d1d1bbc883703b363997c84a6d5fbb97",
    "f2c7cb2c01eb6e69f1d0e9d28a717d05953fe7b398d603c6cb60d3d8590cf7a994915a023452b2a139b868df4deed880",
    "8c60c6326297c39a4be0f49890b98d051c64cbbe67d0c00ee3c9b330f742cd4c6b84d3ad3b5de7e9621d6b5b6766de7b",
    "ffd75e489d675026489c364bcca6bfd23d778e03600f3d96bfa468a7f574f33bbcb069ee187d0e51b0931469c98e0599",
    "6df5afde780b0203010001028201001169bd27dfe209933ccdd262aaf39d68d9a33e6c09f0136cbca1a9053dd4f3d32d",
    "645fe3966e1677af3c8c0c84de65862e511721d161532aaa095b6a6b318223080d9f7beebc7fad43878f7dff7368e6b0",
    "a1d796e5123c8079941dab12c32205be6353bca82ef66d042a16189707ba5c08dde6c6bf4437230937e4e889a9b028f2",
    "2b2dfebebdedffb7371cee072794af5e032aa63b64048902e132c256b4e4a70a25995f8140eb41801fde11a8d39d881a",
    "4d3228437e11620d254ab7abe55e2ca4b2000dfe350f900405fed3f07d0533b5bed39dd5ad8671bb391edbbdaeeff771",
    "a7901fc863d5bc88eed35ae59af3f8308718a8b2830aea1203c91e6e78222502818100bf55d1f5a91f5d3bdad74f9e92",
    "61d9fb88fbeab3b818e1cfe02e901b9833f00b209edce0efccbd156e1a7ea02959d05eecbcb02166041b878e13296def",
    "4e284c4e6570c6a22aba4d046ffe89180dca84f9d668f82a058a4d8225767af47a597a3ba134cac5849a941887a33cf6",
    "45daeb957b3b6a5633ccb15250216cfe57300d02818100b96159d5b0b148992ce549578ad407c26aea45d24a8a97e9d6",
    "e2cdc58bc23374e99426780cdd37620fbcc7f5beeeb483a7dc4003713c0f962e89b74c3157b8bb22cbe34a605a096cd9",
    "f011587d7e4b88b75c9f049f9e7ab0d68569144c3f1436ffb8995eae034a74bbb452d5df1c03f86dafad97ea3ed52704",
    "81814d93092a7702818100b6c974f09c66133ac8416395d8c0546fe198d0ca6a7892d97590e6290689afabe1b902c87d",
    "2e7a010c13919ece8237f74770a74ef0d7c1b90978b2de8c7c7d3110c006322ce066e486f5bb141b7fa956ca1b1462e8",
    "3a2cbb093762ede9bb2cda02376a68c0b382bd3285f9e3965e7bdb0e0e115ff004426bb0784ec68260a6cd0281810090",
    "1398555b813db246d1612217b4d8df026757a2abea714cfd84c276913b7af097855c2c9b9ae6ab611dd0af2f18a8d556",
    "05f8fe73e84118f0cc79d84ed525aed3c970ba628e379b10fae3104a6078e625d467869963fb692b20fedd16b143cdc7",
    "0bbaaf7a40f682294c69c0ed2901f0f796bd2d3f925be97a3808bdb8d43bdb02818100972f928c054f7986e4c41a77b8",
    "484abbfeee58a9dfc80799822eec1be0dcdd7c83d8b004781bb1d365acbf86b359a15914e7f4dbc8f6434d152e53ac6a",
    "4930bda332647c68a43a8a376db35e785214d3bd9b691de30b6cde4535aa1a18463e5ce590e0274d49adfb09a1936b11",
    "d4bd8bdb136a28732009402ce26c40042adaed",
];
const LABELLED_OAEP_CIPHERTEXT: &[&str] = &[
    "048e57fe5ef1020d875e8f562b13f321bac9d7d0ba5d2d30c35df5892e71e7fe1795fb28dab581444ce3202952300ca6",
    "0fdc7e65dc2da9ad5b5ba6884e313a3c01b78d614d35604ea0b9c33ccf898035dd809a180fd2eee679daa22a8bd8c732",
    "8141db9b39c330d0f8f3547e85f869c71396b7e928f56e67d80d98394d4f7eec9481ea1b629c9677919b739a6ab77a58",
    "1a07726960eadc399b4bc43256a0056d38bfd685746df84eabaa24319660880455b4d643d1fddeb429ef4e5bb5ddeaa1",
    "779c1b1efb32dc7f960105d56289919d166b9bed8f90be5704f883d5de9c6ed1dd1eeb0b3fad2aad43b3baa9db2b23fd",
    "aaf3d3d87bdb86cd52fd0068414a3c78",
];
const LABELLED_OAEP_LABEL: &str = "766665310001000674656e616e7400023432";

#[test]
fn labelled_oaep_matches_python_cryptography_and_needs_its_label() {
    let key = PrivateKey::from_pkcs8_der(
        AsymmetricSpec::Rsa2048,
        &hex::decode(LABELLED_OAEP_KEY.concat()).unwrap(),
    )
    .unwrap();
    let ciphertext = hex::decode(LABELLED_OAEP_CIPHERTEXT.concat()).unwrap();
    let label = hex::decode(LABELLED_OAEP_LABEL).unwrap();
    let expected: Vec<u8> = (0..32).collect();
    assert_eq!(
        key.decrypt_oaep_sha256_labelled(&label, &ciphertext)
            .unwrap()
            .as_slice(),
        expected.as_slice()
    );
    // Without the label (as plain Decrypt would try) or with another one, it does not open.
    assert_eq!(
        key.decrypt(EncryptionAlgorithm::RsaesOaepSha256, &ciphertext)
            .err(),
        Some(Error::InvalidCiphertext)
    );
    assert_eq!(
        key.decrypt_oaep_sha256_labelled(b"vfe1\x00\x00", &ciphertext)
            .err(),
        Some(Error::InvalidCiphertext)
    );
    // And a round trip through the public half.
    let sealed = key
        .public_key()
        .encrypt_oaep_sha256_labelled(&label, b"data key")
        .unwrap();
    assert_eq!(
        key.decrypt_oaep_sha256_labelled(&label, &sealed)
            .unwrap()
            .as_slice(),
        b"data key"
    );
}

/// The `aws-lc` feature's private-key operations against the pure-Rust path: the same formats,
/// each side reading what the other made.
#[cfg(feature = "aws-lc")]
mod aws_lc {
    use super::*;

    #[test]
    fn every_generated_read_and_python_key_is_loaded_into_aws_lc() {
        for spec in AsymmetricSpec::ALL {
            let key = generated(*spec);
            assert!(key.aws_lc.is_some(), "{spec:?} generated");
            let read = PrivateKey::from_pkcs8_der(*spec, &key.to_pkcs8_der()).unwrap();
            assert!(read.aws_lc.is_some(), "{spec:?} from PKCS#8");
        }
        assert!(python_rsa().aws_lc.is_some());
        assert!(python_ec(python::EC_A_PKCS8).aws_lc.is_some());
        assert!(pure_rust(&python_rsa()).aws_lc.is_none());
    }

    #[test]
    fn aws_lc_signatures_verify_with_the_pure_rust_verifier_and_pkcs1_ones_are_the_same_bytes() {
        for spec in AsymmetricSpec::ALL {
            let key = generated(*spec);
            let pure = pure_rust(key);
            let public = PublicKey::from_der(*spec, &key.public_key_der()).unwrap();
            for algorithm in spec.signing_algorithms() {
                let algorithm = *algorithm;
                let digest = digest_of(algorithm, MESSAGE);
                let ours = key.sign(algorithm, MessageType::Raw, MESSAGE).unwrap();
                let from_digest = key.sign(algorithm, MessageType::Digest, &digest).unwrap();
                let theirs = pure.sign(algorithm, MessageType::Raw, MESSAGE).unwrap();
                for signature in [&ours, &from_digest, &theirs] {
                    assert_verifies(&public, algorithm, &digest, signature);
                }
                match spec.rsa_bits() {
                    Some(bits) => assert_eq!(ours.len(), bits / 8),
                    None => {
                        // DER, as the pure path's, but with a random nonce each time.
                        assert_eq!(ours[0], 0x30, "a DER SEQUENCE");
                        assert!(p256::ecdsa::DerSignature::from_bytes(&ours).is_ok());
                        assert_ne!(ours, from_digest, "random ECDSA nonces");
                    }
                }
                if matches!(
                    algorithm,
                    SigningAlgorithm::RsassaPkcs1V15Sha256
                        | SigningAlgorithm::RsassaPkcs1V15Sha384
                        | SigningAlgorithm::RsassaPkcs1V15Sha512
                ) {
                    assert_eq!(ours, theirs, "{spec:?} {algorithm}");
                }
                assert!(
                    !public
                        .verify(algorithm, MessageType::Raw, PLAINTEXT, &ours)
                        .unwrap()
                );
            }
        }
    }

    #[test]
    fn a_key_aws_lc_refuses_stays_on_the_pure_rust_path() {
        // AWS-LC takes RSA moduli of 2048 bits and up. No spec of vaultd's is smaller, so a
        // 1024-bit key, put under a spec it does not have, stands for any key AWS-LC refuses.
        let small = rsa::PrivateKey::new(&mut SysRng, 1024).unwrap();
        let key = PrivateKey::new(PrivateInner::Rsa {
            spec: AsymmetricSpec::Rsa2048,
            key: Box::new(small),
        });
        assert!(key.aws_lc.is_none());
        let public = key.public_key();
        for algorithm in [
            SigningAlgorithm::RsassaPkcs1V15Sha256,
            SigningAlgorithm::RsassaPssSha256,
        ] {
            let signature = key.sign(algorithm, MessageType::Raw, MESSAGE).unwrap();
            assert_eq!(signature.len(), 128);
            assert_verifies(
                &public,
                algorithm,
                &digest_of(algorithm, MESSAGE),
                &signature,
            );
        }
        let sha256 = EncryptionAlgorithm::RsaesOaepSha256;
        let ciphertext = public.encrypt(sha256, PLAINTEXT).unwrap();
        assert_eq!(
            key.decrypt(sha256, &ciphertext).unwrap().as_slice(),
            PLAINTEXT
        );

        // Nor is a key loaded whose public half is not the one the pure-Rust side has.
        let rsa = generated(AsymmetricSpec::Rsa2048);
        let ecc = generated(AsymmetricSpec::EccNistP256);
        let other_rsa = python_rsa().public_key_der();
        let other_ecc = python_ec(python::EC_A_PKCS8).public_key_der();
        for (key, other) in [(rsa, &other_rsa), (ecc, &other_ecc)] {
            let der = key.to_pkcs8_der();
            assert!(super::super::aws_lc::LoadedKey::load(key.spec(), &der, other).is_none());
            assert!(
                super::super::aws_lc::LoadedKey::load(key.spec(), &der, &key.public_key_der())
                    .is_some()
            );
        }
    }

    #[test]
    fn oaep_ciphertexts_of_the_pure_rust_public_key_decrypt_with_aws_lc_and_back() {
        for spec in RSA_SPECS {
            let key = generated(spec);
            let pure = pure_rust(key);
            let public = PublicKey::from_der(spec, &key.public_key_der()).unwrap();
            for algorithm in spec.encryption_algorithms() {
                let limit = spec.max_plaintext_len(*algorithm).unwrap();
                for len in [0, 1, limit] {
                    let plaintext: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                    let ciphertext = public.encrypt(*algorithm, &plaintext).unwrap();
                    for decryptor in [key, &pure] {
                        assert_eq!(
                            decryptor
                                .decrypt(*algorithm, &ciphertext)
                                .unwrap()
                                .as_slice(),
                            plaintext,
                            "{spec:?} {algorithm} {len} bytes"
                        );
                    }
                }
            }
            let label = b"vfe1\x00\x01label";
            let ciphertext = public
                .encrypt_oaep_sha256_labelled(label, b"a data key")
                .unwrap();
            for decryptor in [key, &pure] {
                assert_eq!(
                    decryptor
                        .decrypt_oaep_sha256_labelled(label, &ciphertext)
                        .unwrap()
                        .as_slice(),
                    b"a data key"
                );
                assert_eq!(
                    decryptor
                        .decrypt_oaep_sha256_labelled(b"another", &ciphertext)
                        .err(),
                    Some(Error::InvalidCiphertext)
                );
            }
        }
    }
}
