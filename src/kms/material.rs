//! A key's material in memory, by key spec: an AES-256 key, an RSA or P-256 private key (with its
//! public half, derived once), or HMAC key bytes. At rest each is sealed under the barrier in its
//! own encoding: the 32 raw bytes, PKCS#8 DER, or the raw HMAC key (crypto.md §2, §5).
//!
//! Imported material is also fingerprinted, so that after DeleteImportedKeyMaterial only the same
//! material can come back (AWS's rule): for an asymmetric key the SHA-256 of its public key, for
//! the others an HMAC under the material itself, which reveals nothing about it.

use std::fmt;

use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{
    crypto::{
        self,
        asymmetric::{AsymmetricSpec, PrivateKey, PublicKey},
        mac::{MacKey, MacKeySpec},
        secret::Key256,
    },
    error::{Error, ErrorKind, Result},
    model::KeySpec,
};

/// One version of a key's material, decrypted. Holds secret bytes: zeroized on drop, `Debug`
/// redacted.
pub(super) enum Material {
    Symmetric(Key256),
    Asymmetric {
        private: PrivateKey,
        public: PublicKey,
        /// The public key as DER SubjectPublicKeyInfo (GetPublicKey).
        public_der: Vec<u8>,
    },
    Hmac(MacKey),
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Material::Symmetric(_) => f.write_str("Material::Symmetric([REDACTED])"),
            Material::Asymmetric { private, .. } => write!(f, "Material::Asymmetric({private:?})"),
            Material::Hmac(_) => f.write_str("Material::Hmac([REDACTED])"),
        }
    }
}

/// The length range of imported HMAC key material, as AWS accepts it.
fn hmac_import_len(spec: MacKeySpec) -> std::ops::RangeInclusive<usize> {
    let min = spec.key_len();
    match spec {
        MacKeySpec::Hmac224 | MacKeySpec::Hmac256 => min..=64,
        MacKeySpec::Hmac384 | MacKeySpec::Hmac512 => min..=128,
    }
}

impl Material {
    /// Fresh material for a key of `spec` (RSA generation takes a while: call it off the runtime).
    pub(super) fn generate(spec: KeySpec) -> Result<Self> {
        if let Some(asymmetric) = AsymmetricSpec::from_key_spec(spec) {
            return Ok(Self::asymmetric(PrivateKey::generate(asymmetric)?));
        }
        if let Some(mac) = MacKeySpec::from_key_spec(spec) {
            return Ok(Material::Hmac(MacKey::generate(mac)?));
        }
        Ok(Material::Symmetric(Key256::generate()?))
    }

    pub(super) fn from_private(private: PrivateKey) -> Self {
        Self::asymmetric(private)
    }

    fn asymmetric(private: PrivateKey) -> Self {
        let public = private.public_key();
        let public_der = public.to_der();
        Material::Asymmetric {
            private,
            public,
            public_der,
        }
    }

    /// Material as stored (after unsealing) for a key of `spec`.
    pub(super) fn from_stored(spec: KeySpec, bytes: &[u8]) -> Result<Self, crypto::Error> {
        if let Some(asymmetric) = AsymmetricSpec::from_key_spec(spec) {
            return Ok(Self::asymmetric(PrivateKey::from_pkcs8_der(
                asymmetric, bytes,
            )?));
        }
        if MacKeySpec::from_key_spec(spec).is_some() {
            return Ok(Material::Hmac(MacKey::from_bytes(bytes)?));
        }
        Ok(Material::Symmetric(Key256::from_slice(bytes)?))
    }

    /// Material a caller imports for a key of `spec`: 32 bytes for a symmetric key, AWS's length
    /// range for an HMAC key, a PKCS#8 private key of the key's spec for an asymmetric one.
    /// Anything else is IncorrectKeyMaterialException.
    pub(super) fn from_import(spec: KeySpec, bytes: &[u8]) -> Result<Self> {
        let incorrect = |what: String| Error::new(ErrorKind::IncorrectKeyMaterial, what);
        if let Some(asymmetric) = AsymmetricSpec::from_key_spec(spec) {
            return PrivateKey::from_pkcs8_der(asymmetric, bytes)
                .map(Self::asymmetric)
                .map_err(|_| {
                    incorrect(format!(
                        "The key material must be a PKCS#8 DER private key of key spec {spec}."
                    ))
                });
        }
        if let Some(mac) = MacKeySpec::from_key_spec(spec) {
            let range = hmac_import_len(mac);
            if !range.contains(&bytes.len()) {
                return Err(incorrect(format!(
                    "Key material for an {spec} key must be {} to {} bytes long.",
                    range.start(),
                    range.end()
                )));
            }
            return Ok(Material::Hmac(MacKey::from_bytes(bytes)?));
        }
        if bytes.len() != 32 {
            return Err(incorrect(
                "Key material for a SYMMETRIC_DEFAULT key must be 256 bits (32 bytes) long.".into(),
            ));
        }
        Ok(Material::Symmetric(Key256::from_slice(bytes)?))
    }

    /// The encoding sealed at rest.
    pub(super) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        match self {
            Material::Symmetric(key) => Zeroizing::new(key.expose().to_vec()),
            Material::Asymmetric { private, .. } => private.to_pkcs8_der(),
            Material::Hmac(key) => Zeroizing::new(key.expose().to_vec()),
        }
    }

    /// What identifies imported material of key `key_id` without revealing it.
    pub(super) fn fingerprint(&self, key_id: Uuid) -> Vec<u8> {
        let mut label = b"vaultd/v1/imported-key-material/".to_vec();
        label.extend_from_slice(key_id.as_bytes());
        match self {
            Material::Asymmetric { public_der, .. } => {
                crypto::sha256(&[label.as_slice(), public_der].concat()).to_vec()
            }
            Material::Symmetric(key) => crypto::hmac_sha256(key.expose(), &label).to_vec(),
            Material::Hmac(key) => crypto::hmac_sha256(key.expose(), &label).to_vec(),
        }
    }

    pub(super) fn symmetric(&self) -> Option<&Key256> {
        match self {
            Material::Symmetric(key) => Some(key),
            _ => None,
        }
    }

    pub(super) fn private_key(&self) -> Option<&PrivateKey> {
        match self {
            Material::Asymmetric { private, .. } => Some(private),
            _ => None,
        }
    }

    pub(super) fn public_key(&self) -> Option<(&PublicKey, &[u8])> {
        match self {
            Material::Asymmetric {
                public, public_der, ..
            } => Some((public, public_der)),
            _ => None,
        }
    }

    pub(super) fn mac_key(&self) -> Option<&MacKey> {
        match self {
            Material::Hmac(key) => Some(key),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_material_must_fit_the_key_spec() {
        let incorrect = |r: Result<Material>| r.unwrap_err().is(ErrorKind::IncorrectKeyMaterial);
        assert!(Material::from_import(KeySpec::SymmetricDefault, &[7; 32]).is_ok());
        assert!(incorrect(Material::from_import(
            KeySpec::SymmetricDefault,
            &[7; 16]
        )));
        assert!(Material::from_import(KeySpec::Hmac256, &[7; 32]).is_ok());
        assert!(Material::from_import(KeySpec::Hmac256, &[7; 64]).is_ok());
        assert!(incorrect(Material::from_import(KeySpec::Hmac256, &[7; 31])));
        assert!(incorrect(Material::from_import(KeySpec::Hmac256, &[7; 65])));
        assert!(Material::from_import(KeySpec::Hmac512, &[7; 128]).is_ok());
        assert!(incorrect(Material::from_import(
            KeySpec::EccNistP256,
            &[7; 32]
        )));
        let p256 = PrivateKey::generate(AsymmetricSpec::EccNistP256).unwrap();
        let der = p256.to_pkcs8_der();
        assert!(Material::from_import(KeySpec::EccNistP256, &der).is_ok());
        // A P-256 key is not an RSA key.
        assert!(incorrect(Material::from_import(KeySpec::Rsa2048, &der)));
    }

    #[test]
    fn fingerprints_tell_material_apart_and_depend_on_the_key() {
        let a = Material::from_import(KeySpec::SymmetricDefault, &[1; 32]).unwrap();
        let b = Material::from_import(KeySpec::SymmetricDefault, &[2; 32]).unwrap();
        let (k1, k2) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(a.fingerprint(k1), a.fingerprint(k1));
        assert_ne!(a.fingerprint(k1), b.fingerprint(k1));
        assert_ne!(a.fingerprint(k1), a.fingerprint(k2));
        assert!(!format!("{a:?}").contains("1, 1"));
    }
}
