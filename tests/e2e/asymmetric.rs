//! Asymmetric and HMAC keys through the real server: every signing algorithm with RAW and DIGEST
//! messages, RSA encryption, MACs, ECDH, data key pairs, and AWS's key-usage, algorithm, size and
//! key-state rules. The independent-implementation checks are in tests/interop/asymmetric.py.

use sha2::{Digest, Sha256, Sha384, Sha512};
use tonic::Code;
use vaultd::{
    client::{Client, ClientError},
    crypto::asymmetric::{AsymmetricSpec, PrivateKey, PublicKey},
    model::{EncryptionAlgorithm, MessageType as Mt, SigningAlgorithm as Alg},
    pb,
};

use crate::common::{TestServer, assert_error, create_key, ctx, schedule_deletion};

pub(crate) async fn create(client: &Client, spec: pb::KeySpec, usage: pb::KeyUsage) -> String {
    client
        .create_key(pb::CreateKeyRequest {
            key_spec: spec as i32,
            key_usage: usage as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

async fn sign(
    client: &Client,
    key_id: &str,
    message: &[u8],
    message_type: pb::MessageType,
    algorithm: pb::SigningAlgorithmSpec,
) -> Result<pb::SignResponse, ClientError> {
    client
        .sign(pb::SignRequest {
            key_id: key_id.into(),
            message: message.to_vec(),
            message_type: message_type as i32,
            signing_algorithm: algorithm as i32,
        })
        .await
}

async fn verify(
    client: &Client,
    key_id: &str,
    message: &[u8],
    message_type: pb::MessageType,
    signature: &[u8],
    algorithm: pb::SigningAlgorithmSpec,
) -> Result<pb::VerifyResponse, ClientError> {
    client
        .verify(pb::VerifyRequest {
            key_id: key_id.into(),
            message: message.to_vec(),
            message_type: message_type as i32,
            signature: signature.to_vec(),
            signing_algorithm: algorithm as i32,
        })
        .await
}

pub(crate) async fn public_key(client: &Client, key_id: &str) -> pb::GetPublicKeyResponse {
    client
        .get_public_key(pb::GetPublicKeyRequest {
            key_id: key_id.into(),
        })
        .await
        .unwrap()
}

fn digest(algorithm: Alg, message: &[u8]) -> Vec<u8> {
    match algorithm.digest_len() {
        32 => Sha256::digest(message).to_vec(),
        48 => Sha384::digest(message).to_vec(),
        _ => Sha512::digest(message).to_vec(),
    }
}

fn wire(algorithm: Alg) -> pb::SigningAlgorithmSpec {
    pb::SigningAlgorithmSpec::from_str_name(&format!("SIGNING_ALGORITHM_SPEC_{algorithm}")).unwrap()
}

#[tokio::test]
async fn every_signing_algorithm_signs_raw_and_digest_alike_and_verifies() {
    let server = TestServer::start().await;
    let client = server.client();
    let rsa = create(&client, pb::KeySpec::Rsa2048, pb::KeyUsage::SignVerify).await;
    let ecc = create(&client, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await;
    let message = b"release v1.2.3 sha256:abcdef";
    for (key_id, spec) in [
        (&rsa, AsymmetricSpec::Rsa2048),
        (&ecc, AsymmetricSpec::EccNistP256),
    ] {
        let exported = public_key(&client, key_id).await;
        let public = PublicKey::from_der(spec, &exported.public_key).unwrap();
        let listed: Vec<_> = exported
            .signing_algorithms()
            .map(|a| a.as_str_name().to_string())
            .collect();
        assert_eq!(listed.len(), spec.signing_algorithms().len(), "{listed:?}");
        for &algorithm in spec.signing_algorithms() {
            let raw = sign(
                &client,
                key_id,
                message,
                pb::MessageType::Raw,
                wire(algorithm),
            )
            .await
            .unwrap();
            assert_eq!(raw.signing_algorithm(), wire(algorithm));
            assert!(raw.key_id.ends_with(key_id.as_str()));
            let hashed = digest(algorithm, message);
            let by_digest = sign(
                &client,
                key_id,
                &hashed,
                pb::MessageType::Digest,
                wire(algorithm),
            )
            .await
            .unwrap();
            for signature in [&raw.signature, &by_digest.signature] {
                // Offline with the exported public key, both ways round.
                assert!(
                    public
                        .verify(algorithm, Mt::Raw, message, signature)
                        .unwrap()
                );
                assert!(
                    public
                        .verify(algorithm, Mt::Digest, &hashed, signature)
                        .unwrap()
                );
                // And through vaultd.
                let ok = verify(
                    &client,
                    key_id,
                    message,
                    pb::MessageType::Raw,
                    signature,
                    wire(algorithm),
                )
                .await
                .unwrap();
                assert!(ok.signature_valid);
                verify(
                    &client,
                    key_id,
                    &hashed,
                    pb::MessageType::Digest,
                    signature,
                    wire(algorithm),
                )
                .await
                .unwrap();
            }
            // A DIGEST message is never hashed again: signing the digest as RAW is different.
            assert!(
                !public
                    .verify(algorithm, Mt::Raw, &hashed, &by_digest.signature)
                    .unwrap()
            );
            let mut tampered = raw.signature.clone();
            let last = tampered.len() - 2;
            tampered[last] ^= 1;
            assert_error(
                verify(
                    &client,
                    key_id,
                    message,
                    pb::MessageType::Raw,
                    &tampered,
                    wire(algorithm),
                )
                .await,
                Code::InvalidArgument,
                "KMSInvalidSignatureException",
            );
            assert_error(
                verify(
                    &client,
                    key_id,
                    b"another message",
                    pb::MessageType::Raw,
                    &raw.signature,
                    wire(algorithm),
                )
                .await,
                Code::InvalidArgument,
                "KMSInvalidSignatureException",
            );
        }
    }
}

#[tokio::test]
async fn sign_and_verify_refuse_what_aws_refuses() {
    let server = TestServer::start().await;
    let client = server.client();
    let rsa = create(&client, pb::KeySpec::Rsa2048, pb::KeyUsage::SignVerify).await;
    let rsa_encrypt = create(&client, pb::KeySpec::Rsa2048, pb::KeyUsage::EncryptDecrypt).await;
    let ecc = create(&client, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await;
    let symmetric = create_key(&client).await;
    let pss = pb::SigningAlgorithmSpec::RsassaPssSha256;
    let raw = pb::MessageType::Raw;

    // Key usage and algorithm must fit the key.
    for (key_id, algorithm) in [
        (&rsa_encrypt, pss),
        (&symmetric, pss),
        (&rsa, pb::SigningAlgorithmSpec::EcdsaSha256),
        (&ecc, pss),
    ] {
        assert_error(
            sign(&client, key_id, b"m", raw, algorithm).await,
            Code::InvalidArgument,
            "InvalidKeyUsageException",
        );
        assert_error(
            verify(&client, key_id, b"m", raw, &[1; 256], algorithm).await,
            Code::InvalidArgument,
            "InvalidKeyUsageException",
        );
    }
    // Sizes: RAW 1–4,096 bytes; DIGEST exactly the hash; an algorithm is required.
    sign(&client, &rsa, &[7; 4096], raw, pss).await.unwrap();
    for message in [vec![], vec![7; 4097]] {
        assert_error(
            sign(&client, &rsa, &message, raw, pss).await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    for len in [31, 33, 48] {
        assert_error(
            sign(&client, &rsa, &vec![7; len], pb::MessageType::Digest, pss).await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    assert_error(
        sign(
            &client,
            &rsa,
            b"m",
            raw,
            pb::SigningAlgorithmSpec::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    assert_error(
        verify(&client, &rsa, b"m", raw, &[], pss).await,
        Code::InvalidArgument,
        "ValidationException",
    );
    // GetPublicKey is for asymmetric keys only.
    let hmac = create(
        &client,
        pb::KeySpec::Hmac256,
        pb::KeyUsage::GenerateVerifyMac,
    )
    .await;
    for key_id in [&symmetric, &hmac] {
        assert_error(
            client
                .get_public_key(pb::GetPublicKeyRequest {
                    key_id: key_id.clone(),
                })
                .await,
            Code::InvalidArgument,
            "UnsupportedOperationException",
        );
    }
    // Asymmetric keys do not rotate.
    assert_error(
        client
            .enable_key_rotation(pb::EnableKeyRotationRequest {
                key_id: rsa.clone(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "UnsupportedOperationException",
    );
    assert_error(
        client
            .rotate_key_on_demand(pb::RotateKeyOnDemandRequest {
                key_id: hmac.clone(),
            })
            .await,
        Code::InvalidArgument,
        "UnsupportedOperationException",
    );
}

#[tokio::test]
async fn key_states_apply_to_asymmetric_keys() {
    let server = TestServer::start().await;
    let client = server.client();
    let ecc = create(&client, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await;
    let alg = pb::SigningAlgorithmSpec::EcdsaSha256;
    let signature = sign(&client, &ecc, b"m", pb::MessageType::Raw, alg)
        .await
        .unwrap()
        .signature;
    client
        .disable_key(pb::DisableKeyRequest {
            key_id: ecc.clone(),
        })
        .await
        .unwrap();
    assert_error(
        sign(&client, &ecc, b"m", pb::MessageType::Raw, alg).await,
        Code::FailedPrecondition,
        "DisabledException",
    );
    assert_error(
        verify(&client, &ecc, b"m", pb::MessageType::Raw, &signature, alg).await,
        Code::FailedPrecondition,
        "DisabledException",
    );
    assert_error(
        client
            .get_public_key(pb::GetPublicKeyRequest {
                key_id: ecc.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "DisabledException",
    );
    schedule_deletion(&client, &ecc, 7).await;
    assert_error(
        sign(&client, &ecc, b"m", pb::MessageType::Raw, alg).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    client
        .cancel_key_deletion(pb::CancelKeyDeletionRequest {
            key_id: ecc.clone(),
        })
        .await
        .unwrap();
    client
        .enable_key(pb::EnableKeyRequest {
            key_id: ecc.clone(),
        })
        .await
        .unwrap();
    verify(&client, &ecc, b"m", pb::MessageType::Raw, &signature, alg)
        .await
        .unwrap();
}

#[tokio::test]
async fn asymmetric_keys_survive_a_restart() {
    let server = TestServer::start().await;
    let client = server.client();
    let rsa = create(&client, pb::KeySpec::Rsa2048, pb::KeyUsage::SignVerify).await;
    let hmac = create(
        &client,
        pb::KeySpec::Hmac384,
        pb::KeyUsage::GenerateVerifyMac,
    )
    .await;
    let before = public_key(&client, &rsa).await.public_key;
    let alg = pb::SigningAlgorithmSpec::RsassaPkcs1V15Sha512;
    let signature = sign(&client, &rsa, b"m", pb::MessageType::Raw, alg)
        .await
        .unwrap()
        .signature;
    let mac = client
        .generate_mac(pb::GenerateMacRequest {
            key_id: hmac.clone(),
            message: b"m".to_vec(),
            mac_algorithm: pb::MacAlgorithmSpec::HmacSha384 as i32,
        })
        .await
        .unwrap()
        .mac;

    let server = server.restart().await;
    let client = server.client();
    assert_eq!(public_key(&client, &rsa).await.public_key, before);
    verify(&client, &rsa, b"m", pb::MessageType::Raw, &signature, alg)
        .await
        .unwrap();
    client
        .verify_mac(pb::VerifyMacRequest {
            key_id: hmac,
            message: b"m".to_vec(),
            mac_algorithm: pb::MacAlgorithmSpec::HmacSha384 as i32,
            mac,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn describe_key_lists_each_keys_algorithms() {
    let server = TestServer::start().await;
    let client = server.client();
    let names = |m: &pb::KeyMetadata| {
        let mut all: Vec<String> = m
            .encryption_algorithms()
            .map(|a| a.as_str_name().into())
            .collect();
        all.extend(m.signing_algorithms().map(|a| a.as_str_name().into()));
        all.extend(m.mac_algorithms().map(|a| a.as_str_name().into()));
        all.extend(m.key_agreement_algorithms().map(|a| a.as_str_name().into()));
        all
    };
    for (spec, usage, expected) in [
        (
            pb::KeySpec::Rsa3072,
            pb::KeyUsage::EncryptDecrypt,
            vec![
                "ENCRYPTION_ALGORITHM_SPEC_RSAES_OAEP_SHA_1",
                "ENCRYPTION_ALGORITHM_SPEC_RSAES_OAEP_SHA_256",
            ],
        ),
        (
            pb::KeySpec::EccNistP256,
            pb::KeyUsage::SignVerify,
            vec!["SIGNING_ALGORITHM_SPEC_ECDSA_SHA_256"],
        ),
        (
            pb::KeySpec::EccNistP256,
            pb::KeyUsage::KeyAgreement,
            vec!["KEY_AGREEMENT_ALGORITHM_SPEC_ECDH"],
        ),
        (
            pb::KeySpec::Hmac224,
            pb::KeyUsage::GenerateVerifyMac,
            vec!["MAC_ALGORITHM_SPEC_HMAC_SHA_224"],
        ),
    ] {
        let metadata = client
            .create_key(pb::CreateKeyRequest {
                key_spec: spec as i32,
                key_usage: usage as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(names(&metadata), expected, "{spec:?}");
        assert_eq!(metadata.key_spec(), spec);
        assert_eq!(metadata.key_state(), pb::KeyState::Enabled);
    }
}

#[tokio::test]
async fn rsa_encryption_with_oaep_and_its_limits() {
    let server = TestServer::start().await;
    let client = server.client();
    let rsa = create(&client, pb::KeySpec::Rsa2048, pb::KeyUsage::EncryptDecrypt).await;
    let public = PublicKey::from_der(
        AsymmetricSpec::Rsa2048,
        &public_key(&client, &rsa).await.public_key,
    )
    .unwrap();
    let encrypt = |plaintext: Vec<u8>, algorithm: pb::EncryptionAlgorithmSpec| {
        let client = client.clone();
        let rsa = rsa.clone();
        async move {
            client
                .encrypt(pb::EncryptRequest {
                    key_id: rsa,
                    plaintext,
                    encryption_algorithm: algorithm as i32,
                    ..Default::default()
                })
                .await
        }
    };
    let decrypt = |blob: Vec<u8>, algorithm: pb::EncryptionAlgorithmSpec, key_id: &str| {
        let client = client.clone();
        let key_id = key_id.to_string();
        async move {
            client
                .decrypt(pb::DecryptRequest {
                    ciphertext_blob: blob,
                    key_id,
                    encryption_algorithm: algorithm as i32,
                    ..Default::default()
                })
                .await
        }
    };
    use pb::EncryptionAlgorithmSpec as E;
    for (algorithm, wire_alg, max) in [
        (EncryptionAlgorithm::RsaesOaepSha1, E::RsaesOaepSha1, 214),
        (
            EncryptionAlgorithm::RsaesOaepSha256,
            E::RsaesOaepSha256,
            190,
        ),
    ] {
        // vaultd's ciphertext is a bare 256-byte RSA ciphertext; it decrypts back.
        let answer = encrypt(vec![9; max], wire_alg).await.unwrap();
        assert_eq!(answer.ciphertext_blob.len(), 256);
        assert_eq!(answer.encryption_algorithm(), wire_alg);
        let back = decrypt(answer.ciphertext_blob, wire_alg, &rsa)
            .await
            .unwrap();
        assert_eq!(back.encryption_algorithm(), wire_alg);
        assert_eq!(back.plaintext, vec![9; max]);
        assert_error(
            encrypt(vec![9; max + 1], wire_alg).await,
            Code::InvalidArgument,
            "ValidationException",
        );
        // A ciphertext made offline with the exported public key decrypts through vaultd.
        let offline = public.encrypt(algorithm, b"made offline").unwrap();
        let back = decrypt(offline.clone(), wire_alg, &rsa).await.unwrap();
        assert_eq!(back.plaintext, b"made offline");
        // The wrong OAEP hash, a tampered ciphertext, or no KeyId: one uninformative error.
        let other = if wire_alg == E::RsaesOaepSha1 {
            E::RsaesOaepSha256
        } else {
            E::RsaesOaepSha1
        };
        let mut tampered = offline.clone();
        tampered[100] ^= 1;
        for (blob, alg, key) in [
            (offline.clone(), other, rsa.as_str()),
            (tampered, wire_alg, rsa.as_str()),
            (offline, wire_alg, ""),
        ] {
            assert_error(
                decrypt(blob, alg, key).await,
                Code::InvalidArgument,
                "InvalidCiphertextException",
            );
        }
    }
    // The algorithm must be given (SYMMETRIC_DEFAULT does not fit an RSA key), and no context.
    assert_error(
        encrypt(b"x".to_vec(), E::Unspecified).await,
        Code::InvalidArgument,
        "InvalidKeyUsageException",
    );
    assert_error(
        client
            .encrypt(pb::EncryptRequest {
                key_id: rsa.clone(),
                plaintext: b"x".to_vec(),
                encryption_algorithm: E::RsaesOaepSha256 as i32,
                encryption_context: ctx(&[("a", "b")]),
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    // A SIGN_VERIFY RSA key does not encrypt.
    let signing = create(&client, pb::KeySpec::Rsa2048, pb::KeyUsage::SignVerify).await;
    assert_error(
        client
            .encrypt(pb::EncryptRequest {
                key_id: signing,
                plaintext: b"x".to_vec(),
                encryption_algorithm: E::RsaesOaepSha256 as i32,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidKeyUsageException",
    );

    // ReEncrypt between a symmetric key and the RSA key, both ways.
    let symmetric = create_key(&client).await;
    let to_rsa = client
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: crate::common::encrypt(&client, &symmetric, b"moved", &[]).await,
            destination_key_id: rsa.clone(),
            destination_encryption_algorithm: E::RsaesOaepSha256 as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        to_rsa.destination_encryption_algorithm(),
        E::RsaesOaepSha256
    );
    let back = client
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: to_rsa.ciphertext_blob,
            source_key_id: rsa.clone(),
            source_encryption_algorithm: E::RsaesOaepSha256 as i32,
            destination_key_id: symmetric.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(back.source_encryption_algorithm(), E::RsaesOaepSha256);
    assert_eq!(
        crate::common::decrypt(&client, &back.ciphertext_blob, &[])
            .await
            .unwrap(),
        b"moved"
    );
    // A plaintext too long for RSA does not ReEncrypt to it.
    assert_error(
        client
            .re_encrypt(pb::ReEncryptRequest {
                ciphertext_blob: crate::common::encrypt(&client, &symmetric, &[1; 191], &[]).await,
                destination_key_id: rsa,
                destination_encryption_algorithm: E::RsaesOaepSha256 as i32,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
}

#[tokio::test]
async fn hmac_keys_generate_and_verify_macs() {
    let server = TestServer::start().await;
    let client = server.client();
    use pb::MacAlgorithmSpec as M;
    for (spec, algorithm, len) in [
        (pb::KeySpec::Hmac224, M::HmacSha224, 28),
        (pb::KeySpec::Hmac256, M::HmacSha256, 32),
        (pb::KeySpec::Hmac384, M::HmacSha384, 48),
        (pb::KeySpec::Hmac512, M::HmacSha512, 64),
    ] {
        let key_id = create(&client, spec, pb::KeyUsage::GenerateVerifyMac).await;
        let generate = |message: Vec<u8>, algorithm: M| {
            client.generate_mac(pb::GenerateMacRequest {
                key_id: key_id.clone(),
                message,
                mac_algorithm: algorithm as i32,
            })
        };
        let mac = generate(b"token".to_vec(), algorithm).await.unwrap();
        assert_eq!(mac.mac.len(), len);
        assert_eq!(mac.mac_algorithm(), algorithm);
        // Deterministic: the same message gives the same MAC.
        assert_eq!(
            generate(b"token".to_vec(), algorithm).await.unwrap().mac,
            mac.mac
        );
        let verify = |message: &[u8], mac: Vec<u8>| {
            client.verify_mac(pb::VerifyMacRequest {
                key_id: key_id.clone(),
                message: message.to_vec(),
                mac_algorithm: algorithm as i32,
                mac,
            })
        };
        assert!(verify(b"token", mac.mac.clone()).await.unwrap().mac_valid);
        let mut wrong = mac.mac.clone();
        wrong[0] ^= 1;
        for (message, mac) in [
            (&b"token"[..], wrong),
            (b"other", mac.mac.clone()),
            (b"token", mac.mac[..len - 1].to_vec()),
        ] {
            assert_error(
                verify(message, mac).await,
                Code::InvalidArgument,
                "KMSInvalidMacException",
            );
        }
        // Another size's algorithm, and the sizes AWS refuses.
        let other = if algorithm == M::HmacSha256 {
            M::HmacSha512
        } else {
            M::HmacSha256
        };
        assert_error(
            generate(b"m".to_vec(), other).await,
            Code::InvalidArgument,
            "InvalidKeyUsageException",
        );
        generate(vec![1; 4096], algorithm).await.unwrap();
        for message in [vec![], vec![1; 4097]] {
            assert_error(
                generate(message, algorithm).await,
                Code::InvalidArgument,
                "ValidationException",
            );
        }
        assert_error(
            generate(b"m".to_vec(), M::Unspecified).await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    // A symmetric encryption key has no MAC.
    let symmetric = create_key(&client).await;
    assert_error(
        client
            .generate_mac(pb::GenerateMacRequest {
                key_id: symmetric,
                message: b"m".to_vec(),
                mac_algorithm: M::HmacSha256 as i32,
            })
            .await,
        Code::InvalidArgument,
        "InvalidKeyUsageException",
    );
}

#[tokio::test]
async fn derive_shared_secret_agrees_with_the_peer() {
    let server = TestServer::start().await;
    let client = server.client();
    let agreement = create(
        &client,
        pb::KeySpec::EccNistP256,
        pb::KeyUsage::KeyAgreement,
    )
    .await;
    let ours = public_key(&client, &agreement).await;
    assert_eq!(
        ours.key_agreement_algorithms().collect::<Vec<_>>(),
        [pb::KeyAgreementAlgorithmSpec::Ecdh]
    );
    let peer = PrivateKey::generate(AsymmetricSpec::EccNistP256).unwrap();
    let derive = |key_id: String, public_key: Vec<u8>, algorithm: pb::KeyAgreementAlgorithmSpec| {
        client.derive_shared_secret(pb::DeriveSharedSecretRequest {
            key_id,
            key_agreement_algorithm: algorithm as i32,
            public_key,
        })
    };
    let ecdh = pb::KeyAgreementAlgorithmSpec::Ecdh;
    let shared = derive(agreement.clone(), peer.public_key_der(), ecdh)
        .await
        .unwrap();
    assert_eq!(shared.shared_secret.len(), 32);
    assert_eq!(shared.key_origin(), pb::OriginType::AwsKms);
    assert_eq!(
        shared.shared_secret,
        *peer.derive_shared_secret(&ours.public_key).unwrap()
    );
    // A peer key that is not a P-256 SubjectPublicKeyInfo, no algorithm, or a signing key.
    let rsa_peer = PrivateKey::generate(AsymmetricSpec::Rsa2048).unwrap();
    for bad in [rsa_peer.public_key_der(), vec![], b"not a key".to_vec()] {
        assert_error(
            derive(agreement.clone(), bad, ecdh).await,
            Code::InvalidArgument,
            "ValidationException",
        );
    }
    assert_error(
        derive(
            agreement,
            peer.public_key_der(),
            pb::KeyAgreementAlgorithmSpec::Unspecified,
        )
        .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    let signing = create(&client, pb::KeySpec::EccNistP256, pb::KeyUsage::SignVerify).await;
    assert_error(
        derive(signing, peer.public_key_der(), ecdh).await,
        Code::InvalidArgument,
        "InvalidKeyUsageException",
    );
}

#[tokio::test]
async fn data_key_pairs_are_wrapped_by_a_symmetric_key() {
    let server = TestServer::start().await;
    let client = server.client();
    let symmetric = create_key(&client).await;
    for (wire_spec, spec) in [
        (
            pb::DataKeyPairSpec::EccNistP256,
            AsymmetricSpec::EccNistP256,
        ),
        (pb::DataKeyPairSpec::Rsa2048, AsymmetricSpec::Rsa2048),
    ] {
        let pair = client
            .generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                key_id: symmetric.clone(),
                key_pair_spec: wire_spec as i32,
                encryption_context: ctx(&[("purpose", "jwt")]),
            })
            .await
            .unwrap();
        assert_eq!(pair.key_pair_spec(), wire_spec);
        assert_eq!(pair.key_material_id, "1");
        let private = PrivateKey::from_pkcs8_der(spec, &pair.private_key_plaintext).unwrap();
        assert_eq!(private.public_key_der(), pair.public_key);
        let opened = crate::common::decrypt(
            &client,
            &pair.private_key_ciphertext_blob,
            &[("purpose", "jwt")],
        )
        .await
        .unwrap();
        assert_eq!(opened, pair.private_key_plaintext);
        assert_error(
            crate::common::decrypt(&client, &pair.private_key_ciphertext_blob, &[]).await,
            Code::InvalidArgument,
            "InvalidCiphertextException",
        );

        let without = client
            .generate_data_key_pair_without_plaintext(
                pb::GenerateDataKeyPairWithoutPlaintextRequest {
                    key_id: symmetric.clone(),
                    key_pair_spec: wire_spec as i32,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let opened = crate::common::decrypt(&client, &without.private_key_ciphertext_blob, &[])
            .await
            .unwrap();
        let private = PrivateKey::from_pkcs8_der(spec, &opened).unwrap();
        assert_eq!(private.public_key_der(), without.public_key);
    }
    // A spec is required; an asymmetric key does not wrap data key pairs.
    assert_error(
        client
            .generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                key_id: symmetric,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "ValidationException",
    );
    let rsa = create(&client, pb::KeySpec::Rsa2048, pb::KeyUsage::EncryptDecrypt).await;
    assert_error(
        client
            .generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                key_id: rsa,
                key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidKeyUsageException",
    );
}

#[tokio::test]
async fn policies_govern_sign_and_verify_separately() {
    let server = TestServer::start().await;
    let client = server.client();
    let rsa = create(&client, pb::KeySpec::Rsa2048, pb::KeyUsage::SignVerify).await;
    let arn = format!("arn:aws:kms:*:*:key/{rsa}");
    let verifier = crate::common::app_user(
        &server,
        "verifier",
        Some(&crate::common::allow(
            &["kms:Verify", "kms:GetPublicKey"],
            &arn,
        )),
    )
    .await;
    let verifier = server.client_with(verifier);
    let alg = pb::SigningAlgorithmSpec::RsassaPssSha384;
    let signature = sign(&client, &rsa, b"m", pb::MessageType::Raw, alg)
        .await
        .unwrap()
        .signature;
    verify(&verifier, &rsa, b"m", pb::MessageType::Raw, &signature, alg)
        .await
        .unwrap();
    public_key(&verifier, &rsa).await;
    assert_error(
        sign(&verifier, &rsa, b"m", pb::MessageType::Raw, alg).await,
        Code::PermissionDenied,
        "AccessDeniedException",
    );
}

/// The operations of the asymmetric and HMAC keys, each with arguments that are valid for the key
/// kind it is meant for, so that only the key decides the outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Sign,
    Verify,
    GetPublicKey,
    GenerateMac,
    VerifyMac,
    DeriveSharedSecret,
    RsaEncrypt,
    GenerateDataKeyPair,
}

const OPS: [Op; 8] = [
    Op::Sign,
    Op::Verify,
    Op::GetPublicKey,
    Op::GenerateMac,
    Op::VerifyMac,
    Op::DeriveSharedSecret,
    Op::RsaEncrypt,
    Op::GenerateDataKeyPair,
];

/// Calls `op` on `key_id`; `Ok` means vaultd accepted it. Verify/VerifyMac get a wrong signature
/// or MAC, so on a fitting, usable key their answer is the "invalid" exception.
async fn call(client: &Client, op: Op, key_id: &str, peer: &[u8]) -> Result<(), ClientError> {
    let key_id = key_id.to_string();
    match op {
        Op::Sign => client
            .sign(pb::SignRequest {
                key_id,
                message: b"m".to_vec(),
                signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        Op::Verify => client
            .verify(pb::VerifyRequest {
                key_id,
                message: b"m".to_vec(),
                signature: vec![0x30, 0x06, 2, 1, 1, 2, 1, 1],
                signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        Op::GetPublicKey => client
            .get_public_key(pb::GetPublicKeyRequest { key_id })
            .await
            .map(drop),
        Op::GenerateMac => client
            .generate_mac(pb::GenerateMacRequest {
                key_id,
                message: b"m".to_vec(),
                mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
            })
            .await
            .map(drop),
        Op::VerifyMac => client
            .verify_mac(pb::VerifyMacRequest {
                key_id,
                message: b"m".to_vec(),
                mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                mac: vec![0; 32],
            })
            .await
            .map(drop),
        Op::DeriveSharedSecret => client
            .derive_shared_secret(pb::DeriveSharedSecretRequest {
                key_id,
                key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec::Ecdh as i32,
                public_key: peer.to_vec(),
            })
            .await
            .map(drop),
        Op::RsaEncrypt => client
            .encrypt(pb::EncryptRequest {
                key_id,
                plaintext: b"m".to_vec(),
                encryption_algorithm: pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        Op::GenerateDataKeyPair => client
            .generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                key_id,
                key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
                ..Default::default()
            })
            .await
            .map(drop),
    }
}

/// What `op` answers on a usable key of each kind: `None` is success, else the AWS exception.
fn expected(op: Op, kind: &str) -> Option<&'static str> {
    let fits = matches!(
        (op, kind),
        (Op::Sign | Op::Verify | Op::GetPublicKey, "ecc-sign")
            | (Op::GetPublicKey, "ecc-agree" | "rsa-encrypt" | "rsa-sign")
            | (Op::GenerateMac | Op::VerifyMac, "hmac-256")
            | (Op::DeriveSharedSecret, "ecc-agree")
            | (Op::RsaEncrypt, "rsa-encrypt")
            | (Op::GenerateDataKeyPair, "symmetric")
    );
    match (fits, op) {
        (true, Op::Verify) => Some("KMSInvalidSignatureException"),
        (true, Op::VerifyMac) => Some("KMSInvalidMacException"),
        (true, _) => None,
        // A key without a public key: not a usage question.
        (false, Op::GetPublicKey) => Some("UnsupportedOperationException"),
        (false, _) => Some("InvalidKeyUsageException"),
    }
}

#[tokio::test]
async fn every_operation_against_every_key_kind_and_state() {
    let server = TestServer::start().await;
    let client = server.client();
    let peer = PrivateKey::generate(AsymmetricSpec::EccNistP256)
        .unwrap()
        .public_key_der();
    let kinds = [
        (
            "symmetric",
            pb::KeySpec::SymmetricDefault,
            pb::KeyUsage::EncryptDecrypt,
        ),
        (
            "rsa-encrypt",
            pb::KeySpec::Rsa2048,
            pb::KeyUsage::EncryptDecrypt,
        ),
        ("rsa-sign", pb::KeySpec::Rsa2048, pb::KeyUsage::SignVerify),
        (
            "ecc-sign",
            pb::KeySpec::EccNistP256,
            pb::KeyUsage::SignVerify,
        ),
        (
            "ecc-agree",
            pb::KeySpec::EccNistP256,
            pb::KeyUsage::KeyAgreement,
        ),
        (
            "hmac-256",
            pb::KeySpec::Hmac256,
            pb::KeyUsage::GenerateVerifyMac,
        ),
    ];
    let mut keys = Vec::new();
    for (kind, spec, usage) in kinds {
        keys.push((kind, create(&client, spec, usage).await));
    }
    // Usable keys: each operation works on the kind it is for, and is refused on the others with
    // the exception AWS gives.
    for (kind, key_id) in &keys {
        for op in OPS {
            let result = call(&client, op, key_id, &peer).await;
            match expected(op, kind) {
                None => assert!(result.is_ok(), "{op:?} on {kind}: {result:?}"),
                Some(reason) => {
                    let err = result.expect_err(&format!("{op:?} on {kind} should fail"));
                    assert_eq!(err.reason(), reason, "{op:?} on {kind}: {err}");
                }
            }
        }
    }
    // Unusable keys: whatever the operation, the state answers first where AWS says so.
    for (_, key_id) in &keys {
        client
            .disable_key(pb::DisableKeyRequest {
                key_id: key_id.clone(),
            })
            .await
            .unwrap();
    }
    for (label, reason, code) in [
        ("Disabled", "DisabledException", Code::FailedPrecondition),
        (
            "PendingDeletion",
            "KMSInvalidStateException",
            Code::FailedPrecondition,
        ),
    ] {
        if label == "PendingDeletion" {
            for (_, key_id) in &keys {
                schedule_deletion(&client, key_id, 7).await;
            }
        }
        for (kind, key_id) in &keys {
            for op in OPS {
                // A key that could never do the operation says so whatever its state (except
                // GetPublicKey, which checks the spec first).
                let fits = !matches!(
                    expected(op, kind),
                    Some("InvalidKeyUsageException" | "UnsupportedOperationException")
                );
                let err = call(&client, op, key_id, &peer)
                    .await
                    .expect_err(&format!("{op:?} on {label} {kind} should fail"));
                if fits {
                    assert_eq!(
                        (err.code, err.reason()),
                        (code, reason),
                        "{op:?} on {label} {kind}: {err}"
                    );
                } else {
                    assert_ne!(err.code, Code::Ok);
                }
            }
        }
    }
    // PendingImport: keys waiting for their material.
    for (kind, spec, usage) in kinds {
        let key_id = client
            .create_key(pb::CreateKeyRequest {
                key_spec: spec as i32,
                key_usage: usage as i32,
                origin: pb::OriginType::External as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        for op in OPS {
            if matches!(
                expected(op, kind),
                Some("InvalidKeyUsageException" | "UnsupportedOperationException")
            ) {
                continue;
            }
            assert_error(
                call(&client, op, &key_id, &peer).await,
                Code::FailedPrecondition,
                "KMSInvalidStateException",
            );
        }
    }
}
