//! The private-key operations of the `aws-lc` feature: RSA signing (PSS, PKCS#1 v1.5), RSAES-OAEP
//! decryption and ECDSA P-256 signing through AWS-LC, with the same inputs and output formats as
//! the pure-Rust path in the parent module, which checks every argument before calling here.
//!
//! A key is loaded once, when its [`PrivateKey`](super::PrivateKey) is made; a key AWS-LC refuses
//! stays on the pure-Rust path. Public-key operations never come here.
//!
//! ECDSA nonces are random here (AWS-LC has no RFC 6979 signing): signatures are valid DER ECDSA
//! signatures that every verifier accepts, but two signatures of one message differ, where the
//! pure-Rust path's are byte-identical.
//!
//! AWS-LC keeps the key in C memory; it clears every allocation it frees (`OPENSSL_free`), so
//! dropping the key zeroizes it as the `rsa` and `p256` types do.

use aws_lc_rs::{
    digest,
    encoding::AsDer,
    rsa::{
        OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
    },
    signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair},
};
use zeroize::Zeroizing;

use super::{AsymmetricSpec, Error, SigningAlgorithm, WRONG_ALGORITHM};
use crate::model::EncryptionAlgorithm;

/// A private key as AWS-LC holds it.
pub(super) enum LoadedKey {
    /// RSA: AWS-LC has one type for signing and one for decrypting, and a key's usage is not
    /// known here, so both are loaded.
    Rsa {
        signing: RsaKeyPair,
        decrypting: OaepPrivateDecryptingKey,
    },
    P256(EcdsaKeyPair),
}

impl LoadedKey {
    /// Loads a PKCS#8 DER key of `spec` (as the pure-Rust key encodes it), or `None` if AWS-LC
    /// refuses it (it takes RSA moduli of 2048 to 8192 bits only) or reads another key from it.
    pub(super) fn load(spec: AsymmetricSpec, pkcs8: &[u8], public_der: &[u8]) -> Option<Self> {
        let loaded = match spec.rsa_bits() {
            Some(bits) => {
                let signing = RsaKeyPair::from_pkcs8(pkcs8).ok()?;
                let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8).ok()?;
                if signing.public_modulus_len() * 8 != bits || decrypting.key_size_bits() != bits {
                    return None;
                }
                LoadedKey::Rsa {
                    signing,
                    decrypting: OaepPrivateDecryptingKey::new(decrypting).ok()?,
                }
            }
            None => LoadedKey::P256(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8).ok()?,
            ),
        };
        // Both paths must hold one key: the public halves (which stay on the pure-Rust path)
        // must be those of the private key AWS-LC signs and decrypts with.
        let spki = match &loaded {
            LoadedKey::Rsa { signing, .. } => signing.public_key().as_der(),
            LoadedKey::P256(key) => key.public_key().as_der(),
        };
        spki.is_ok_and(|der| der.as_ref() == public_der)
            .then_some(loaded)
    }

    /// Signs a digest of the algorithm's hash (checked by the caller): a modulus-sized RSA
    /// signature, or a DER ECDSA signature with a random nonce.
    pub(super) fn sign(
        &self,
        algorithm: SigningAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, Error> {
        use SigningAlgorithm::*;
        const FAILED: Error = Error::Malformed("signing failed");
        let hash = match algorithm {
            RsassaPssSha256 | RsassaPkcs1V15Sha256 | EcdsaSha256 => &digest::SHA256,
            RsassaPssSha384 | RsassaPkcs1V15Sha384 => &digest::SHA384,
            RsassaPssSha512 | RsassaPkcs1V15Sha512 => &digest::SHA512,
        };
        let digest = digest::Digest::import_less_safe(digest, hash).map_err(|_| FAILED)?;
        match self {
            LoadedKey::Rsa { signing, .. } => {
                let encoding: &'static dyn signature::RsaEncoding = match algorithm {
                    RsassaPssSha256 => &signature::RSA_PSS_SHA256,
                    RsassaPssSha384 => &signature::RSA_PSS_SHA384,
                    RsassaPssSha512 => &signature::RSA_PSS_SHA512,
                    RsassaPkcs1V15Sha256 => &signature::RSA_PKCS1_SHA256,
                    RsassaPkcs1V15Sha384 => &signature::RSA_PKCS1_SHA384,
                    RsassaPkcs1V15Sha512 => &signature::RSA_PKCS1_SHA512,
                    EcdsaSha256 => return Err(WRONG_ALGORITHM),
                };
                let mut signature = vec![0; signing.public_modulus_len()];
                signing
                    .sign_digest(encoding, &digest, &mut signature)
                    .map_err(|_| FAILED)?;
                Ok(signature)
            }
            LoadedKey::P256(key) => {
                if algorithm != EcdsaSha256 {
                    return Err(WRONG_ALGORITHM);
                }
                let signature = key.sign_digest(&digest).map_err(|_| FAILED)?;
                Ok(signature.as_ref().to_vec())
            }
        }
    }

    /// RSAES-OAEP decryption with the algorithm's hash (SHA-256 with `label`). Every failure is
    /// the one [`Error::InvalidCiphertext`]; AWS-LC blinds the private-key operation.
    pub(super) fn decrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        label: Option<&[u8]>,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let LoadedKey::Rsa { decrypting, .. } = self else {
            return Err(WRONG_ALGORITHM);
        };
        let oaep = match algorithm {
            EncryptionAlgorithm::RsaesOaepSha1 => &OAEP_SHA1_MGF1SHA1,
            EncryptionAlgorithm::RsaesOaepSha256 => &OAEP_SHA256_MGF1SHA256,
            EncryptionAlgorithm::SymmetricDefault => return Err(WRONG_ALGORITHM),
        };
        if ciphertext.len() != decrypting.key_size_bytes() {
            return Err(Error::InvalidCiphertext);
        }
        let mut plaintext = Zeroizing::new(vec![0; decrypting.min_output_size()]);
        let len = decrypting
            .decrypt(oaep, ciphertext, &mut plaintext, label)
            .map_err(|_| Error::InvalidCiphertext)?
            .len();
        // Truncating leaves the rest of the buffer to the zeroizing drop of its whole capacity.
        plaintext.truncate(len);
        Ok(plaintext)
    }
}
