//! Asymmetric KMS keys (crypto.md §5): RSA 2048/3072/4096 and ECC NIST P-256, for Sign and Verify,
//! Encrypt and Decrypt (RSAES-OAEP) and DeriveSharedSecret (ECDH), as AWS KMS does them.
//!
//! - A [`PrivateKey`] is stored as PKCS#8 DER (sealed under the barrier by the caller); its public
//!   half leaves as DER SubjectPublicKeyInfo, which OpenSSL and every language's standard library read.
//! - Signing hashes a RAW message (at most [`MAX_MESSAGE_LEN`] bytes) with the algorithm's hash and
//!   signs a DIGEST as given, never hashing it again: both paths sign a digest, so they agree.
//! - RSASSA-PSS salts are as long as the hash; OAEP uses MGF1 with the OAEP hash and no label; ECDSA
//!   nonces are RFC 6979 (deterministic) and signatures DER. PKCS#1 v1.5 is for signatures only:
//!   no v1.5 decryption, so no padding oracle.
//! - Under the `aws-lc` feature, AWS-LC does the private-key operations (RSA signing and OAEP
//!   decryption, ECDSA signing; `aws_lc.rs`) for every key it accepts, in the same formats. Its
//!   ECDSA nonces are random, not RFC 6979: signatures verify alike but are no longer repeatable.
//!   Generation, encoding, public-key operations and verification stay on the pure-Rust crates.
//! - Which key may do what is the domain's rule: it checks the key usage and the algorithm lists
//!   ([`AsymmetricSpec::signing_algorithms`] and its siblings) before calling. An algorithm that
//!   does not fit the key and still reaches this module is [`Error::Malformed`] (an internal error).
//!   Bad caller input (a message too long, a digest of the wrong length, a peer key that is not a
//!   P-256 SubjectPublicKeyInfo) is [`Error::InvalidInput`], which the API reports as a validation error.
//!
//! The algorithm enums ([`SigningAlgorithm`], [`MessageType`], [`KeyAgreementAlgorithm`]) live
//! with the rest of the AWS vocabulary in `model.rs`; this module gives them their cryptography.

use std::fmt;

use getrandom::SysRng;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::Error;
use crate::model::{EncryptionAlgorithm, KeySpec};
pub use crate::model::{KeyAgreementAlgorithm, MessageType, SigningAlgorithm};

/// The largest RAW message Sign and Verify accept (as KMS); GenerateMac and VerifyMac share it.
pub const MAX_MESSAGE_LEN: usize = 4096;

impl SigningAlgorithm {
    /// The length of the digest that MessageType DIGEST must give.
    pub fn digest_len(self) -> usize {
        self.hash().len()
    }

    fn hash(self) -> Hash {
        match self {
            Self::RsassaPssSha256 | Self::RsassaPkcs1V15Sha256 | Self::EcdsaSha256 => Hash::Sha256,
            Self::RsassaPssSha384 | Self::RsassaPkcs1V15Sha384 => Hash::Sha384,
            Self::RsassaPssSha512 | Self::RsassaPkcs1V15Sha512 => Hash::Sha512,
        }
    }
}

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// The digest that gets signed: a RAW message hashed with the algorithm's hash, or a DIGEST as given.
fn message_digest(
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
) -> Result<Vec<u8>, Error> {
    let hash = algorithm.hash();
    match message_type {
        MessageType::Raw if message.len() > MAX_MESSAGE_LEN => Err(Error::InvalidInput(
            "a RAW message to sign or verify must be at most 4096 bytes",
        )),
        MessageType::Raw => Ok(hash.digest(message)),
        MessageType::Digest if message.len() != hash.len() => Err(Error::InvalidInput(
            "the digest's length does not match the signing algorithm's hash",
        )),
        MessageType::Digest => Ok(message.to_vec()),
    }
}

/// The asymmetric subset of AWS `KeySpec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsymmetricSpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
}

impl AsymmetricSpec {
    pub const ALL: &'static [AsymmetricSpec] = &[
        AsymmetricSpec::Rsa2048,
        AsymmetricSpec::Rsa3072,
        AsymmetricSpec::Rsa4096,
        AsymmetricSpec::EccNistP256,
    ];

    /// `None` for the symmetric and HMAC specs.
    pub fn from_key_spec(spec: KeySpec) -> Option<Self> {
        match spec {
            KeySpec::Rsa2048 => Some(Self::Rsa2048),
            KeySpec::Rsa3072 => Some(Self::Rsa3072),
            KeySpec::Rsa4096 => Some(Self::Rsa4096),
            KeySpec::EccNistP256 => Some(Self::EccNistP256),
            KeySpec::SymmetricDefault
            | KeySpec::Hmac224
            | KeySpec::Hmac256
            | KeySpec::Hmac384
            | KeySpec::Hmac512 => None,
        }
    }

    pub fn key_spec(self) -> KeySpec {
        match self {
            Self::Rsa2048 => KeySpec::Rsa2048,
            Self::Rsa3072 => KeySpec::Rsa3072,
            Self::Rsa4096 => KeySpec::Rsa4096,
            Self::EccNistP256 => KeySpec::EccNistP256,
        }
    }

    /// The modulus size of an RSA spec.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            Self::EccNistP256 => None,
        }
    }

    /// The algorithms Sign and Verify accept for a SIGN_VERIFY key of this spec (GetPublicKey's
    /// SigningAlgorithms).
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm::*;
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[
                RsassaPssSha256,
                RsassaPssSha384,
                RsassaPssSha512,
                RsassaPkcs1V15Sha256,
                RsassaPkcs1V15Sha384,
                RsassaPkcs1V15Sha512,
            ],
            Self::EccNistP256 => &[EcdsaSha256],
        }
    }

    /// The algorithms Encrypt and Decrypt accept for an ENCRYPT_DECRYPT key of this spec
    /// (GetPublicKey's EncryptionAlgorithms); none for ECC.
    pub fn encryption_algorithms(self) -> &'static [EncryptionAlgorithm] {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[
                EncryptionAlgorithm::RsaesOaepSha1,
                EncryptionAlgorithm::RsaesOaepSha256,
            ],
            Self::EccNistP256 => &[],
        }
    }

    /// The algorithms DeriveSharedSecret accepts for a KEY_AGREEMENT key of this spec
    /// (GetPublicKey's KeyAgreementAlgorithms); none for RSA.
    pub fn key_agreement_algorithms(self) -> &'static [KeyAgreementAlgorithm] {
        match self {
            Self::EccNistP256 => &[KeyAgreementAlgorithm::Ecdh],
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[],
        }
    }

    /// The largest plaintext Encrypt takes with `algorithm`: k − 2·hLen − 2 bytes for a k-byte
    /// modulus (RSA_2048: 214 with SHA-1, 190 with SHA-256), `None` if the pair does not go together.
    pub fn max_plaintext_len(self, algorithm: EncryptionAlgorithm) -> Option<usize> {
        let modulus_len = self.rsa_bits()? / 8;
        let hash_len = match algorithm {
            EncryptionAlgorithm::RsaesOaepSha1 => 20,
            EncryptionAlgorithm::RsaesOaepSha256 => 32,
            EncryptionAlgorithm::SymmetricDefault => return None,
        };
        Some(modulus_len - 2 * hash_len - 2)
    }
}

impl From<AsymmetricSpec> for KeySpec {
    fn from(spec: AsymmetricSpec) -> Self {
        spec.key_spec()
    }
}

/// The private half of an asymmetric key.
///
/// Holds secret key material: zeroized on drop (by the `rsa` and `p256` key types, and by AWS-LC
/// under the `aws-lc` feature), `Debug` is redacted.
#[derive(Clone)]
pub struct PrivateKey {
    inner: PrivateInner,
    /// Under the `aws-lc` feature, the same key loaded into AWS-LC once, which then does the
    /// private-key operations (Sign, Decrypt); `None` for a key AWS-LC refuses, which stays on the
    /// pure-Rust path.
    #[cfg(feature = "aws-lc")]
    aws_lc: Option<std::sync::Arc<aws_lc::LoadedKey>>,
}

#[derive(Clone)]
enum PrivateInner {
    Rsa {
        spec: AsymmetricSpec,
        key: Box<rsa::PrivateKey>,
    },
    P256(p256::ecdsa::SigningKey),
}

impl PrivateKey {
    fn new(inner: PrivateInner) -> Self {
        #[cfg(feature = "aws-lc")]
        {
            let mut key = Self {
                inner,
                aws_lc: None,
            };
            // Loaded from the pure-Rust key's own encoding, whatever the key was read from: its
            // CRT parameters are the ones the `rsa` crate computed, so AWS-LC cannot read another
            // key from it (and `load` checks that the public halves agree).
            key.aws_lc =
                aws_lc::LoadedKey::load(key.spec(), &key.to_pkcs8_der(), &key.public_key_der())
                    .map(std::sync::Arc::new);
            key
        }
        #[cfg(not(feature = "aws-lc"))]
        Self { inner }
    }

    /// A fresh key pair from the OS CSPRNG. RSA uses the public exponent 65537, as KMS.
    pub fn generate(spec: AsymmetricSpec) -> Result<Self, Error> {
        use p256::elliptic_curve::Generate;
        let inner = match spec.rsa_bits() {
            Some(bits) => PrivateInner::Rsa {
                spec,
                key: Box::new(rsa::PrivateKey::new(&mut SysRng, bits).map_err(|_| Error::Rng)?),
            },
            None => PrivateInner::P256(
                p256::ecdsa::SigningKey::try_generate_from_rng(&mut SysRng)
                    .map_err(|_| Error::Rng)?,
            ),
        };
        Ok(Self::new(inner))
    }

    /// Reads a PKCS#8 DER private key, which must be of `spec` (modulus size or curve).
    pub fn from_pkcs8_der(spec: AsymmetricSpec, der: &[u8]) -> Result<Self, Error> {
        const WRONG: Error =
            Error::Malformed("the private key is not valid PKCS#8 for its key spec");
        let inner = match spec.rsa_bits() {
            Some(bits) => {
                let key = rsa::PrivateKey::from_pkcs8_der(der).map_err(|_| WRONG)?;
                if key.n().bit_width() as usize != bits {
                    return Err(WRONG);
                }
                PrivateInner::Rsa {
                    spec,
                    key: Box::new(key),
                }
            }
            None => {
                PrivateInner::P256(p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|_| WRONG)?)
            }
        };
        Ok(Self::new(inner))
    }

    /// Reads a PEM private key of any spec vaultd has, telling the spec from the key (RSA modulus
    /// size, or the P-256 curve): PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1
    /// (`EC PRIVATE KEY`), unencrypted. Seed files carry keys this way, as local-kms's do.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        const UNREADABLE: Error = Error::InvalidInput(
            "the PEM private key is not an unencrypted PKCS#8, PKCS#1 (RSA) or SEC1 (EC) key of \
             RSA 2048/3072/4096 or ECC NIST P-256",
        );
        let (label, der) =
            pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|_| UNREADABLE)?;
        let der = Zeroizing::new(der);
        let rsa = |key: rsa::PrivateKey| {
            let spec = match key.n().bit_width() {
                2048 => AsymmetricSpec::Rsa2048,
                3072 => AsymmetricSpec::Rsa3072,
                4096 => AsymmetricSpec::Rsa4096,
                _ => return Err(UNREADABLE),
            };
            Ok(Self::new(PrivateInner::Rsa {
                spec,
                key: Box::new(key),
            }))
        };
        match label {
            "PRIVATE KEY" => match rsa::PrivateKey::from_pkcs8_der(&der) {
                Ok(key) => rsa(key),
                Err(_) => p256::ecdsa::SigningKey::from_pkcs8_der(&der)
                    .map(|key| Self::new(PrivateInner::P256(key)))
                    .map_err(|_| UNREADABLE),
            },
            "RSA PRIVATE KEY" => {
                rsa(rsa::PrivateKey::from_pkcs1_der(&der).map_err(|_| UNREADABLE)?)
            }
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
                .map(|key| Self::new(PrivateInner::P256(key.into())))
                .map_err(|_| UNREADABLE),
            _ => Err(UNREADABLE),
        }
    }

    /// The PKCS#8 DER encoding, for sealing at rest.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let document = match &self.inner {
            PrivateInner::Rsa { key, .. } => key.to_pkcs8_der(),
            PrivateInner::P256(key) => key.to_pkcs8_der(),
        };
        // Only fails for multi-prime RSA keys, which neither generation nor import produce.
        document
            .expect("a two-prime RSA or a P-256 key encodes as PKCS#8")
            .to_bytes()
    }

    pub fn spec(&self) -> AsymmetricSpec {
        match &self.inner {
            PrivateInner::Rsa { spec, .. } => *spec,
            PrivateInner::P256(_) => AsymmetricSpec::EccNistP256,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(match &self.inner {
            PrivateInner::Rsa { spec, key } => PublicInner::Rsa {
                spec: *spec,
                key: key.to_public_key(),
            },
            PrivateInner::P256(key) => PublicInner::P256(*key.verifying_key()),
        })
    }

    /// The public key as DER SubjectPublicKeyInfo (GetPublicKey).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.public_key().to_der()
    }

    /// Sign: a DER signature for ECDSA, a modulus-sized one for RSA.
    pub fn sign(
        &self,
        algorithm: SigningAlgorithm,
        message_type: MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, Error> {
        check_signing_algorithm(self.spec(), algorithm)?;
        let digest = message_digest(algorithm, message_type, message)?;
        #[cfg(feature = "aws-lc")]
        if let Some(key) = &self.aws_lc {
            return key.sign(algorithm, &digest);
        }
        match &self.inner {
            PrivateInner::Rsa { key, .. } => {
                use SigningAlgorithm::*;
                let signed = match algorithm {
                    RsassaPssSha256 => key.pss_sign_prehash::<Sha256>(&digest),
                    RsassaPssSha384 => key.pss_sign_prehash::<Sha384>(&digest),
                    RsassaPssSha512 => key.pss_sign_prehash::<Sha512>(&digest),
                    RsassaPkcs1V15Sha256 => key.pkcs1v15_sign_prehash::<Sha256>(&digest),
                    RsassaPkcs1V15Sha384 => key.pkcs1v15_sign_prehash::<Sha384>(&digest),
                    RsassaPkcs1V15Sha512 => key.pkcs1v15_sign_prehash::<Sha512>(&digest),
                    EcdsaSha256 => return Err(WRONG_ALGORITHM),
                };
                signed.map_err(|err| match err {
                    rsa::Error::Rng => Error::Rng,
                    _ => Error::Malformed("RSA signing failed"),
                })
            }
            PrivateInner::P256(key) => {
                let signature: p256::ecdsa::DerSignature = key
                    .sign_prehash(&digest)
                    .map_err(|_| Error::Malformed("ECDSA signing failed"))?;
                Ok(signature.to_bytes().into_vec())
            }
        }
    }

    /// Decrypt with RSAES-OAEP. Every failure (wrong length, bad padding, another key) is the one
    /// [`Error::InvalidCiphertext`].
    pub fn decrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let PrivateInner::Rsa { spec, key } = &self.inner else {
            return Err(WRONG_ALGORITHM);
        };
        check_encryption_algorithm(*spec, algorithm)?;
        #[cfg(feature = "aws-lc")]
        if let Some(key) = &self.aws_lc {
            return key.decrypt(algorithm, None, ciphertext);
        }
        let decrypted = match algorithm {
            EncryptionAlgorithm::RsaesOaepSha1 => key.oaep_decrypt::<Sha1>(ciphertext),
            EncryptionAlgorithm::RsaesOaepSha256 => key.oaep_decrypt::<Sha256>(ciphertext),
            EncryptionAlgorithm::SymmetricDefault => return Err(WRONG_ALGORITHM),
        };
        match decrypted {
            Ok(plaintext) => Ok(Zeroizing::new(plaintext)),
            // A failing RNG (blinding) says nothing about the ciphertext.
            Err(rsa::Error::Rng) => Err(Error::Rng),
            Err(_) => Err(Error::InvalidCiphertext),
        }
    }

    /// RSAES-OAEP-SHA-256 decryption with an OAEP label (field-level encryption's public-key
    /// mode binds the encryption context this way, crypto.md §4), blinded as `decrypt` is.
    pub fn decrypt_oaep_sha256_labelled(
        &self,
        label: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let PrivateInner::Rsa { key, .. } = &self.inner else {
            return Err(WRONG_ALGORITHM);
        };
        #[cfg(feature = "aws-lc")]
        if let Some(key) = &self.aws_lc {
            return key.decrypt(
                EncryptionAlgorithm::RsaesOaepSha256,
                Some(label),
                ciphertext,
            );
        }
        let padding = rsa::Oaep::<Sha256>::new_with_label(label.to_vec());
        match key.decrypt_blinded(&mut SysRng, padding, ciphertext) {
            Ok(plaintext) => Ok(Zeroizing::new(plaintext)),
            Err(rsa::Error::Rng) => Err(Error::Rng),
            Err(_) => Err(Error::InvalidCiphertext),
        }
    }

    /// ECDH with a P-256 key (DeriveSharedSecret): the raw x-coordinate of the shared point, 32
    /// bytes, as KMS returns it. `peer_public_key_der` must be a DER SubjectPublicKeyInfo of a point
    /// on P-256.
    pub fn derive_shared_secret(
        &self,
        peer_public_key_der: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let PrivateInner::P256(key) = &self.inner else {
            return Err(WRONG_ALGORITHM);
        };
        // Decoding checks the algorithm and curve OIDs and that the point is on the curve and not
        // the identity.
        let peer = p256::PublicKey::from_public_key_der(peer_public_key_der).map_err(|_| {
            Error::InvalidInput("the public key is not an ECC_NIST_P256 DER SubjectPublicKeyInfo")
        })?;
        let shared = p256::ecdh::diffie_hellman(key.as_nonzero_scalar(), peer.as_affine());
        Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({:?}, [REDACTED])", self.spec())
    }
}

/// The public half of an asymmetric key: Verify, and Encrypt to an RSA key.
#[derive(Clone)]
pub struct PublicKey(PublicInner);

#[derive(Clone)]
enum PublicInner {
    Rsa {
        spec: AsymmetricSpec,
        key: rsa::PublicKey,
    },
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo, which must be of `spec` (modulus size or curve).
    pub fn from_der(spec: AsymmetricSpec, der: &[u8]) -> Result<Self, Error> {
        const WRONG: Error =
            Error::Malformed("the public key is not a SubjectPublicKeyInfo of its key spec");
        let inner = match spec.rsa_bits() {
            Some(bits) => {
                let key = rsa::PublicKey::from_public_key_der(der).map_err(|_| WRONG)?;
                if key.n().bit_width() as usize != bits {
                    return Err(WRONG);
                }
                PublicInner::Rsa { spec, key }
            }
            None => PublicInner::P256(
                p256::ecdsa::VerifyingKey::from_public_key_der(der).map_err(|_| WRONG)?,
            ),
        };
        Ok(Self(inner))
    }

    /// DER SubjectPublicKeyInfo.
    pub fn to_der(&self) -> Vec<u8> {
        let document = match &self.0 {
            PublicInner::Rsa { key, .. } => key.to_public_key_der(),
            PublicInner::P256(key) => key.to_public_key_der(),
        };
        document
            .expect("an RSA or P-256 public key encodes as SubjectPublicKeyInfo")
            .into_vec()
    }

    pub fn spec(&self) -> AsymmetricSpec {
        match &self.0 {
            PublicInner::Rsa { spec, .. } => *spec,
            PublicInner::P256(_) => AsymmetricSpec::EccNistP256,
        }
    }

    /// Verify: `Ok(false)` for any signature that does not verify (malformed ones included); an
    /// error only for bad input, such as a digest of the wrong length.
    pub fn verify(
        &self,
        algorithm: SigningAlgorithm,
        message_type: MessageType,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, Error> {
        check_signing_algorithm(self.spec(), algorithm)?;
        let digest = message_digest(algorithm, message_type, message)?;
        let valid = match &self.0 {
            PublicInner::Rsa { key, .. } => {
                use SigningAlgorithm::*;
                match algorithm {
                    RsassaPssSha256 => key.pss_verify_prehash::<Sha256>(&digest, signature),
                    RsassaPssSha384 => key.pss_verify_prehash::<Sha384>(&digest, signature),
                    RsassaPssSha512 => key.pss_verify_prehash::<Sha512>(&digest, signature),
                    RsassaPkcs1V15Sha256 => {
                        key.pkcs1v15_verify_prehash::<Sha256>(&digest, signature)
                    }
                    RsassaPkcs1V15Sha384 => {
                        key.pkcs1v15_verify_prehash::<Sha384>(&digest, signature)
                    }
                    RsassaPkcs1V15Sha512 => {
                        key.pkcs1v15_verify_prehash::<Sha512>(&digest, signature)
                    }
                    EcdsaSha256 => return Err(WRONG_ALGORITHM),
                }
                .is_ok()
            }
            PublicInner::P256(key) => p256::ecdsa::DerSignature::from_bytes(signature)
                .is_ok_and(|signature| key.verify_prehash(&digest, &signature).is_ok()),
        };
        Ok(valid)
    }

    /// Encrypt with RSAES-OAEP (random padding: two encryptions differ). The plaintext may be at
    /// most [`AsymmetricSpec::max_plaintext_len`] bytes.
    pub fn encrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let PublicInner::Rsa { spec, key } = &self.0 else {
            return Err(WRONG_ALGORITHM);
        };
        check_encryption_algorithm(*spec, algorithm)?;
        if Some(plaintext.len()) > spec.max_plaintext_len(algorithm) {
            return Err(Error::InvalidInput(
                "the plaintext is too long for this RSA key spec and encryption algorithm",
            ));
        }
        let encrypted = match algorithm {
            EncryptionAlgorithm::RsaesOaepSha1 => key.oaep_encrypt::<Sha1>(plaintext),
            EncryptionAlgorithm::RsaesOaepSha256 => key.oaep_encrypt::<Sha256>(plaintext),
            EncryptionAlgorithm::SymmetricDefault => return Err(WRONG_ALGORITHM),
        };
        encrypted.map_err(|err| match err {
            rsa::Error::Rng => Error::Rng,
            _ => Error::Malformed("RSA encryption failed"),
        })
    }
}

impl PublicKey {
    /// RSAES-OAEP-SHA-256 encryption with an OAEP label (see
    /// [`PrivateKey::decrypt_oaep_sha256_labelled`]).
    pub fn encrypt_oaep_sha256_labelled(
        &self,
        label: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let PublicInner::Rsa { spec, key } = &self.0 else {
            return Err(WRONG_ALGORITHM);
        };
        if Some(plaintext.len()) > spec.max_plaintext_len(EncryptionAlgorithm::RsaesOaepSha256) {
            return Err(Error::InvalidInput(
                "the plaintext is too long for this RSA key spec and encryption algorithm",
            ));
        }
        let padding = rsa::Oaep::<Sha256>::new_with_label(label.to_vec());
        key.encrypt(&mut SysRng, padding, plaintext)
            .map_err(|err| match err {
                rsa::Error::Rng => Error::Rng,
                _ => Error::Malformed("RSA encryption failed"),
            })
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?})", self.spec())
    }
}

/// An algorithm the key does not have: the domain checks this first, so it is an internal error.
const WRONG_ALGORITHM: Error = Error::Malformed("the algorithm does not fit the key spec");

fn check_signing_algorithm(spec: AsymmetricSpec, algorithm: SigningAlgorithm) -> Result<(), Error> {
    if spec.signing_algorithms().contains(&algorithm) {
        Ok(())
    } else {
        Err(WRONG_ALGORITHM)
    }
}

fn check_encryption_algorithm(
    spec: AsymmetricSpec,
    algorithm: EncryptionAlgorithm,
) -> Result<(), Error> {
    if spec.encryption_algorithms().contains(&algorithm) {
        Ok(())
    } else {
        Err(WRONG_ALGORITHM)
    }
}

#[cfg(feature = "aws-lc")]
mod aws_lc;
#[cfg(test)]
mod tests;
