//! The operations of asymmetric and HMAC keys: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac,
//! DeriveSharedSecret, and GenerateDataKeyPair (a key pair whose private half a symmetric key
//! wraps). Every key-usage, algorithm and size rule is checked here, as AWS checks it, before the
//! crypto layer is called.

use uuid::Uuid;
use zeroize::Zeroizing;

use super::{CachedKey, Kms};
use crate::{
    crypto::{
        asymmetric::{AsymmetricSpec, MAX_MESSAGE_LEN, PrivateKey},
        context::EncryptionContext,
        mac::MacKeySpec,
    },
    error::{Error, ErrorKind, Result},
    model::{
        DataKeyPairSpec, EncryptionAlgorithm, KeyAgreementAlgorithm, KeySpec, KeyUsage,
        MacAlgorithm, MessageType, Origin, SigningAlgorithm,
    },
};

/// The algorithms a key allows, as DescribeKey and GetPublicKey list them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyAlgorithms {
    pub encryption: Vec<EncryptionAlgorithm>,
    pub signing: Vec<SigningAlgorithm>,
    pub mac: Vec<MacAlgorithm>,
    pub key_agreement: Vec<KeyAgreementAlgorithm>,
}

/// The algorithms of a key of `spec` and `usage`.
pub fn key_algorithms(spec: KeySpec, usage: KeyUsage) -> KeyAlgorithms {
    let mut algorithms = KeyAlgorithms::default();
    if let Some(mac) = MacKeySpec::from_key_spec(spec) {
        algorithms.mac.push(mac.algorithm());
        return algorithms;
    }
    let Some(asymmetric) = AsymmetricSpec::from_key_spec(spec) else {
        algorithms
            .encryption
            .push(EncryptionAlgorithm::SymmetricDefault);
        return algorithms;
    };
    match usage {
        KeyUsage::EncryptDecrypt => {
            algorithms.encryption = asymmetric.encryption_algorithms().to_vec()
        }
        KeyUsage::SignVerify => algorithms.signing = asymmetric.signing_algorithms().to_vec(),
        KeyUsage::KeyAgreement => {
            algorithms.key_agreement = asymmetric.key_agreement_algorithms().to_vec()
        }
        KeyUsage::GenerateVerifyMac => {}
    }
    algorithms
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub signature: Vec<u8>,
    pub key_arn: String,
    pub algorithm: SigningAlgorithm,
}

/// GetPublicKey's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyView {
    pub key_arn: String,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    pub algorithms: KeyAlgorithms,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacResult {
    pub mac: Vec<u8>,
    pub key_arn: String,
    pub algorithm: MacAlgorithm,
}

/// A data key pair. The PKCS#8 private key is secret (zeroized on drop; not `Debug`).
pub struct DataKeyPair {
    pub private_key_plaintext: Zeroizing<Vec<u8>>,
    pub private_key_ciphertext_blob: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    pub key_arn: String,
    pub material_version: u32,
    pub spec: DataKeyPairSpec,
}

/// DeriveSharedSecret's answer. The secret is zeroized on drop; not `Debug`.
pub struct SharedSecret {
    pub secret: Zeroizing<Vec<u8>>,
    pub key_arn: String,
    pub origin: Origin,
}

fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| {
        Error::validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: \
             Member must not be null"
        ))
    })
}

fn check_len(value: &[u8], field: &str, max: usize) -> Result<()> {
    if value.is_empty() || value.len() > max {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member \
             must have length between 1 and {max}"
        )));
    }
    Ok(())
}

fn incompatible(algorithm: impl std::fmt::Display, spec: KeySpec) -> Error {
    Error::new(
        ErrorKind::InvalidKeyUsage,
        format!("Algorithm {algorithm} is incompatible with key spec {spec}."),
    )
}

impl Kms {
    /// A usable key of `usage`: Enabled (DisabledException / KMSInvalidStateException otherwise)
    /// and for that usage (InvalidKeyUsageException otherwise).
    fn key_for(&self, id: Uuid, usage: KeyUsage) -> Result<std::sync::Arc<CachedKey>> {
        let key = self.key(id)?;
        self.require_enabled(&key.record)?;
        if key.record.key_usage != usage {
            return Err(Error::new(
                ErrorKind::InvalidKeyUsage,
                format!(
                    "{} key usage is {} which is not valid for this operation: it needs {usage}.",
                    self.arns.key(id),
                    key.record.key_usage
                ),
            ));
        }
        Ok(key)
    }

    /// A SIGN_VERIFY key that has `algorithm`, and the message checked for `message_type`.
    fn signing_key(
        &self,
        id: Uuid,
        message: &[u8],
        message_type: Option<MessageType>,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<(std::sync::Arc<CachedKey>, MessageType, SigningAlgorithm)> {
        check_len(message, "message", MAX_MESSAGE_LEN)?;
        let algorithm = required(algorithm, "signingAlgorithm")?;
        let message_type = message_type.unwrap_or(MessageType::Raw);
        let key = self.key_for(id, KeyUsage::SignVerify)?;
        let allowed = AsymmetricSpec::from_key_spec(key.record.key_spec)
            .is_some_and(|spec| spec.signing_algorithms().contains(&algorithm));
        if !allowed {
            return Err(incompatible(algorithm, key.record.key_spec));
        }
        if message_type == MessageType::Digest && message.len() != algorithm.digest_len() {
            return Err(Error::validation(format!(
                "Digest is invalid length for algorithm {algorithm}: a {}-byte digest is needed, \
                 {} bytes were given.",
                algorithm.digest_len(),
                message.len()
            )));
        }
        Ok((key, message_type, algorithm))
    }

    /// Sign: RAW messages are hashed with the algorithm's hash; DIGEST messages are signed as
    /// given.
    pub fn sign(
        &self,
        id: Uuid,
        message: &[u8],
        message_type: Option<MessageType>,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Signature> {
        let (key, message_type, algorithm) =
            self.signing_key(id, message, message_type, algorithm)?;
        let private = asymmetric_private(&key)?;
        Ok(Signature {
            signature: private.sign(algorithm, message_type, message)?,
            key_arn: self.arns.key(id),
            algorithm,
        })
    }

    /// Verify: a signature that does not verify is KMSInvalidSignatureException, as AWS.
    pub fn verify(
        &self,
        id: Uuid,
        message: &[u8],
        message_type: Option<MessageType>,
        signature: &[u8],
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Signature> {
        check_len(signature, "signature", 6144)?;
        let (key, message_type, algorithm) =
            self.signing_key(id, message, message_type, algorithm)?;
        let (public, _) = key
            .current_material()?
            .public_key()
            .ok_or_else(|| Error::internal("The key material is not an asymmetric key."))?;
        if !public.verify(algorithm, message_type, message, signature)? {
            return Err(Error::new(
                ErrorKind::KmsInvalidSignature,
                "The signature is not valid for this message, key and signing algorithm.",
            ));
        }
        Ok(Signature {
            signature: signature.to_vec(),
            key_arn: self.arns.key(id),
            algorithm,
        })
    }

    /// GetPublicKey: asymmetric keys only (UnsupportedOperationException for the others).
    pub fn get_public_key(&self, id: Uuid) -> Result<PublicKeyView> {
        let key = self.key(id)?;
        if AsymmetricSpec::from_key_spec(key.record.key_spec).is_none() {
            return Err(Error::new(
                ErrorKind::UnsupportedOperation,
                format!(
                    "{} is a {} key: only asymmetric keys have a public key.",
                    self.arns.key(id),
                    key.record.key_spec
                ),
            ));
        }
        self.require_enabled(&key.record)?;
        let (_, der) = key
            .current_material()?
            .public_key()
            .ok_or_else(|| Error::internal("The key material is not an asymmetric key."))?;
        Ok(PublicKeyView {
            key_arn: self.arns.key(id),
            public_key: der.to_vec(),
            key_spec: key.record.key_spec,
            key_usage: key.record.key_usage,
            algorithms: key_algorithms(key.record.key_spec, key.record.key_usage),
        })
    }

    /// A GENERATE_VERIFY_MAC key whose spec has `algorithm`.
    fn mac_key(
        &self,
        id: Uuid,
        message: &[u8],
        algorithm: Option<MacAlgorithm>,
    ) -> Result<(std::sync::Arc<CachedKey>, MacAlgorithm)> {
        check_len(message, "message", MAX_MESSAGE_LEN)?;
        let algorithm = required(algorithm, "macAlgorithm")?;
        let key = self.key_for(id, KeyUsage::GenerateVerifyMac)?;
        if MacKeySpec::from_key_spec(key.record.key_spec).map(MacKeySpec::algorithm)
            != Some(algorithm)
        {
            return Err(incompatible(algorithm, key.record.key_spec));
        }
        Ok((key, algorithm))
    }

    pub fn generate_mac(
        &self,
        id: Uuid,
        message: &[u8],
        algorithm: Option<MacAlgorithm>,
    ) -> Result<MacResult> {
        let (key, algorithm) = self.mac_key(id, message, algorithm)?;
        Ok(MacResult {
            mac: mac_material(&key)?.generate_mac(algorithm, message)?,
            key_arn: self.arns.key(id),
            algorithm,
        })
    }

    /// VerifyMac: a MAC that does not verify is KMSInvalidMacException, as AWS.
    pub fn verify_mac(
        &self,
        id: Uuid,
        message: &[u8],
        mac: &[u8],
        algorithm: Option<MacAlgorithm>,
    ) -> Result<MacResult> {
        check_len(mac, "mac", 6144)?;
        let (key, algorithm) = self.mac_key(id, message, algorithm)?;
        if !mac_material(&key)?.verify_mac(algorithm, message, mac)? {
            return Err(Error::new(
                ErrorKind::KmsInvalidMac,
                "The MAC is not valid for this message, key and MAC algorithm.",
            ));
        }
        Ok(MacResult {
            mac: mac.to_vec(),
            key_arn: self.arns.key(id),
            algorithm,
        })
    }

    /// DeriveSharedSecret: ECDH between a KEY_AGREEMENT key and the peer's public key (DER
    /// SubjectPublicKeyInfo), the raw shared secret as AWS returns it.
    pub fn derive_shared_secret(
        &self,
        id: Uuid,
        algorithm: Option<KeyAgreementAlgorithm>,
        peer_public_key: &[u8],
    ) -> Result<SharedSecret> {
        let algorithm = required(algorithm, "keyAgreementAlgorithm")?;
        check_len(peer_public_key, "publicKey", 8192)?;
        let key = self.key_for(id, KeyUsage::KeyAgreement)?;
        let allowed = AsymmetricSpec::from_key_spec(key.record.key_spec)
            .is_some_and(|spec| spec.key_agreement_algorithms().contains(&algorithm));
        if !allowed {
            return Err(incompatible(algorithm, key.record.key_spec));
        }
        Ok(SharedSecret {
            secret: asymmetric_private(&key)?.derive_shared_secret(peer_public_key)?,
            key_arn: self.arns.key(id),
            origin: key.record.origin,
        })
    }

    /// GenerateDataKeyPair: a fresh key pair; the PKCS#8 private key is sealed under symmetric
    /// key `id` exactly as Encrypt would (so Decrypt opens it). RSA generation takes a while:
    /// call this off the event loop.
    pub fn generate_data_key_pair(
        &self,
        id: Uuid,
        context: &EncryptionContext,
        spec: Option<DataKeyPairSpec>,
    ) -> Result<DataKeyPair> {
        let spec = required(spec, "keyPairSpec")?;
        self.symmetric_key(id)?;
        let asymmetric = match spec {
            DataKeyPairSpec::Rsa2048 => AsymmetricSpec::Rsa2048,
            DataKeyPairSpec::Rsa3072 => AsymmetricSpec::Rsa3072,
            DataKeyPairSpec::Rsa4096 => AsymmetricSpec::Rsa4096,
            DataKeyPairSpec::EccNistP256 => AsymmetricSpec::EccNistP256,
        };
        let pair = PrivateKey::generate(asymmetric)?;
        let private_key_plaintext = pair.to_pkcs8_der();
        // Checked again after the (slow) generation: the key may have been disabled meanwhile.
        let key = self.symmetric_key(id)?;
        Ok(DataKeyPair {
            private_key_ciphertext_blob: self.seal_under(&key, context, &private_key_plaintext)?,
            private_key_plaintext,
            public_key: pair.public_key_der(),
            key_arn: self.arns.key(id),
            material_version: key.record.current_version,
            spec,
        })
    }
}

fn asymmetric_private(key: &CachedKey) -> Result<&PrivateKey> {
    key.current_material()?
        .private_key()
        .ok_or_else(|| Error::internal("The key material is not an asymmetric key."))
}

fn mac_material(key: &CachedKey) -> Result<&crate::crypto::mac::MacKey> {
    key.current_material()?
        .mac_key()
        .ok_or_else(|| Error::internal("The key material is not an HMAC key."))
}
