//! HMAC KMS keys (GenerateMac and VerifyMac): HMAC_224/256/384/512 keys, each with the one MAC
//! algorithm of its size, as AWS KMS has them (RFC 2104).
//!
//! A key's material is as long as its spec says (HMAC_256: 32 bytes); MAC computation itself takes
//! a key of any length, as HMAC does, so imported or test keys of other lengths work too.
//! Verification compares in constant time. Which algorithm a key accepts is the domain's check
//! ([`MacKeySpec::algorithm`]); messages are at most [`MAX_MESSAGE_LEN`] bytes.
//!
//! [`MacAlgorithm`] carries AWS names like those of `model.rs`, where it may move.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha224, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::Error;
use crate::model::KeySpec;
pub use crate::model::MacAlgorithm;

pub use super::asymmetric::MAX_MESSAGE_LEN;

impl MacAlgorithm {
    /// The length of the MAC (the hash's output).
    pub fn mac_len(self) -> usize {
        match self {
            Self::HmacSha224 => 28,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }
}

/// The HMAC subset of AWS `KeySpec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacKeySpec {
    Hmac224,
    Hmac256,
    Hmac384,
    Hmac512,
}

impl MacKeySpec {
    pub const ALL: &'static [MacKeySpec] = &[
        MacKeySpec::Hmac224,
        MacKeySpec::Hmac256,
        MacKeySpec::Hmac384,
        MacKeySpec::Hmac512,
    ];

    /// `None` for the symmetric and asymmetric specs.
    pub fn from_key_spec(spec: KeySpec) -> Option<Self> {
        match spec {
            KeySpec::Hmac224 => Some(Self::Hmac224),
            KeySpec::Hmac256 => Some(Self::Hmac256),
            KeySpec::Hmac384 => Some(Self::Hmac384),
            KeySpec::Hmac512 => Some(Self::Hmac512),
            KeySpec::SymmetricDefault
            | KeySpec::Rsa2048
            | KeySpec::Rsa3072
            | KeySpec::Rsa4096
            | KeySpec::EccNistP256 => None,
        }
    }

    pub fn key_spec(self) -> KeySpec {
        match self {
            Self::Hmac224 => KeySpec::Hmac224,
            Self::Hmac256 => KeySpec::Hmac256,
            Self::Hmac384 => KeySpec::Hmac384,
            Self::Hmac512 => KeySpec::Hmac512,
        }
    }

    /// The length of generated key material: 224, 256, 384 or 512 bits, as KMS.
    pub fn key_len(self) -> usize {
        self.algorithm().mac_len()
    }

    /// The one MAC algorithm a key of this spec accepts (GetPublicKey's and DescribeKey's
    /// MacAlgorithms).
    pub fn algorithm(self) -> MacAlgorithm {
        match self {
            Self::Hmac224 => MacAlgorithm::HmacSha224,
            Self::Hmac256 => MacAlgorithm::HmacSha256,
            Self::Hmac384 => MacAlgorithm::HmacSha384,
            Self::Hmac512 => MacAlgorithm::HmacSha512,
        }
    }
}

impl From<MacKeySpec> for KeySpec {
    fn from(spec: MacKeySpec) -> Self {
        spec.key_spec()
    }
}

/// HMAC key material.
///
/// Holds secret bytes: zeroized on drop, `Debug` is redacted.
#[derive(Clone)]
pub struct MacKey(Zeroizing<Vec<u8>>);

impl MacKey {
    /// Fresh key material of the spec's length from the OS CSPRNG.
    pub fn generate(spec: MacKeySpec) -> Result<Self, Error> {
        super::random_bytes(spec.key_len()).map(Self)
    }

    /// Key material as stored. HMAC takes keys of any length; an empty one is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.is_empty() {
            return Err(Error::Malformed("HMAC key material is empty"));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// GenerateMac: the full-length HMAC of `message`.
    pub fn generate_mac(&self, algorithm: MacAlgorithm, message: &[u8]) -> Result<Vec<u8>, Error> {
        if message.len() > MAX_MESSAGE_LEN {
            return Err(Error::InvalidInput(
                "a message to MAC must be at most 4096 bytes",
            ));
        }
        Ok(match algorithm {
            MacAlgorithm::HmacSha224 => compute_mac::<Hmac<Sha224>>(&self.0, message),
            MacAlgorithm::HmacSha256 => compute_mac::<Hmac<Sha256>>(&self.0, message),
            MacAlgorithm::HmacSha384 => compute_mac::<Hmac<Sha384>>(&self.0, message),
            MacAlgorithm::HmacSha512 => compute_mac::<Hmac<Sha512>>(&self.0, message),
        })
    }

    /// VerifyMac: whether `mac` is the full-length HMAC of `message`, compared in constant time.
    /// A MAC of another length is simply not valid.
    pub fn verify_mac(
        &self,
        algorithm: MacAlgorithm,
        message: &[u8],
        mac: &[u8],
    ) -> Result<bool, Error> {
        let expected = self.generate_mac(algorithm, message)?;
        // `ct_eq` on slices of different lengths is false without looking at the bytes; the
        // length of a MAC is public.
        Ok(expected.ct_eq(mac).into())
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey([REDACTED])")
    }
}

fn compute_mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test cases 1, 2 and 6 (key, data, then HMAC-SHA-224/256/384/512), as printed in
    /// the RFC; Python's `hmac` (OpenSSL) gives the same.
    const RFC_4231: [(&[u8], &[u8], [&str; 4]); 3] = [
        (
            &[0x0b; 20],
            b"Hi There",
            [
                "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ],
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            [
                "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ],
        ),
        (
            // A key longer than the hash's block: hashed first.
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            [
                "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ],
        ),
    ];

    #[test]
    fn rfc_4231_test_vectors() {
        for (key, data, macs) in RFC_4231 {
            let key = MacKey::from_bytes(key).unwrap();
            for (algorithm, expected) in MacAlgorithm::ALL.iter().zip(macs) {
                let mac = key.generate_mac(*algorithm, data).unwrap();
                assert_eq!(hex::encode(&mac), expected, "{algorithm}");
                assert_eq!(mac.len(), algorithm.mac_len());
                assert!(key.verify_mac(*algorithm, data, &mac).unwrap());
            }
        }
    }

    #[test]
    fn a_wrong_mac_does_not_verify() {
        let key = MacKey::generate(MacKeySpec::Hmac256).unwrap();
        let algorithm = MacAlgorithm::HmacSha256;
        let mac = key.generate_mac(algorithm, b"message").unwrap();
        let mut flipped = mac.clone();
        flipped[0] ^= 0x01;
        let other_key = MacKey::generate(MacKeySpec::Hmac256).unwrap();
        let verify = |key: &MacKey, algorithm, message: &[u8], mac: &[u8]| {
            key.verify_mac(algorithm, message, mac).unwrap()
        };
        assert!(verify(&key, algorithm, b"message", &mac));
        assert!(!verify(&key, algorithm, b"message", &flipped));
        assert!(
            !verify(&key, algorithm, b"message", &mac[..16]),
            "truncated"
        );
        assert!(!verify(
            &key,
            algorithm,
            b"message",
            &[mac.as_slice(), &[0]].concat()
        ));
        assert!(!verify(&key, algorithm, b"message", &[]));
        assert!(!verify(&key, algorithm, b"messagf", &mac));
        assert!(!verify(&other_key, algorithm, b"message", &mac));
        assert!(!verify(&key, MacAlgorithm::HmacSha512, b"message", &mac));
    }

    #[test]
    fn generated_keys_have_the_lengths_of_kms() {
        let lengths: Vec<usize> = MacKeySpec::ALL
            .iter()
            .map(|spec| MacKey::generate(*spec).unwrap().expose().len())
            .collect();
        assert_eq!(lengths, [28, 32, 48, 64]);
        let a = MacKey::generate(MacKeySpec::Hmac256).unwrap();
        let b = MacKey::generate(MacKeySpec::Hmac256).unwrap();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn each_spec_has_its_one_algorithm_and_aws_names() {
        let pairs: Vec<_> = MacKeySpec::ALL
            .iter()
            .map(|spec| (spec.key_spec().as_str(), spec.algorithm().as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("HMAC_224", "HMAC_SHA_224"),
                ("HMAC_256", "HMAC_SHA_256"),
                ("HMAC_384", "HMAC_SHA_384"),
                ("HMAC_512", "HMAC_SHA_512"),
            ]
        );
        for &spec in MacKeySpec::ALL {
            assert_eq!(MacKeySpec::from_key_spec(spec.key_spec()), Some(spec));
            assert_eq!(
                MacAlgorithm::parse(spec.algorithm().as_str()),
                Some(spec.algorithm())
            );
        }
        assert_eq!(MacKeySpec::from_key_spec(KeySpec::Rsa2048), None);
        assert_eq!(MacAlgorithm::parse("HMAC_SHA256"), None);
    }

    #[test]
    fn messages_are_at_most_4096_bytes() {
        let key = MacKey::generate(MacKeySpec::Hmac384).unwrap();
        let algorithm = MacAlgorithm::HmacSha384;
        let longest = vec![1u8; MAX_MESSAGE_LEN];
        let mac = key.generate_mac(algorithm, &longest).unwrap();
        assert!(key.verify_mac(algorithm, &longest, &mac).unwrap());
        let too_long = vec![1u8; MAX_MESSAGE_LEN + 1];
        assert!(matches!(
            key.generate_mac(algorithm, &too_long),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            key.verify_mac(algorithm, &too_long, &mac),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn empty_key_material_is_refused_and_debug_is_redacted() {
        assert!(matches!(MacKey::from_bytes(&[]), Err(Error::Malformed(_))));
        let key = MacKey::from_bytes(&[0xab; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "MacKey([REDACTED])");
    }
}
