//! The symmetric ciphertext blob (crypto.md §1), returned by Encrypt and GenerateDataKey:
//!
//! ```text
//! off len  field
//! 0   1    version = 0x01
//! 1   1    suite   = 0x01  (AES-256-GCM, per-message key from HKDF-SHA256)
//! 2   16   key id (UUID bytes)
//! 18  4    key material version (u32)
//! 22  16   salt
//! 38  12   iv
//! 50  ..   ciphertext || 16-byte tag
//! ```
//!
//! Per-message key `K = HKDF-SHA256(material[version], salt, "vaultd/v1/encrypt" || bytes[0..22])`;
//! AAD = bytes[0..50] || canonical(encryption context).

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use zeroize::Zeroizing;

use super::{Error, context::EncryptionContext, secret::Key256};

pub const VERSION: u8 = 0x01;
pub const SUITE_AES256_GCM_HKDF: u8 = 0x01;
/// The same construction for the per-document data keys of field-level encryption (`_vfe.dk`,
/// crypto.md §4). A suite of its own so that no other operation opens or makes one: Decrypt and
/// ReEncrypt accept suite 0x01 only, and GenerateDataKey makes only those, so a caller can neither
/// learn a document's data key nor forge a `_vfe` (and its MAC) around a data key it knows. The
/// suite byte is in the HKDF info and the AAD, so one suite cannot pass for the other.
pub const SUITE_FIELD_DATA_KEY: u8 = 0x02;
pub const HEADER_LEN: usize = 50;
pub const TAG_LEN: usize = 16;
/// Bytes a blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
const INFO: &[u8] = b"vaultd/v1/encrypt";

/// What a blob says about itself before it is authenticated: which key and which material version
/// to try. Nothing here is trustworthy until [`open`] succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    pub key_id: [u8; 16],
    pub material_version: u32,
}

/// Reads the header of a blob. Any malformation is [`Error::InvalidCiphertext`].
pub fn parse_header(blob: &[u8]) -> Result<BlobHeader, Error> {
    parse_header_of(SUITE_AES256_GCM_HKDF, blob)
}

/// [`parse_header`] for a blob of `suite`.
pub fn parse_header_of(suite: u8, blob: &[u8]) -> Result<BlobHeader, Error> {
    if blob.len() < OVERHEAD || blob[0] != VERSION || blob[1] != suite {
        return Err(Error::InvalidCiphertext);
    }
    Ok(BlobHeader {
        key_id: blob[2..18].try_into().expect("16 bytes"),
        material_version: u32::from_be_bytes(blob[18..22].try_into().expect("4 bytes")),
    })
}

/// Encrypts `plaintext` under one version of a key's material, with a fresh random salt and iv.
pub fn seal(
    material: &Key256,
    key_id: [u8; 16],
    material_version: u32,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    seal_as(
        SUITE_AES256_GCM_HKDF,
        material,
        key_id,
        material_version,
        context,
        plaintext,
    )
}

/// [`seal`] as a blob of `suite` ([`SUITE_FIELD_DATA_KEY`] for field-level data keys).
pub fn seal_as(
    suite: u8,
    material: &Key256,
    key_id: [u8; 16],
    material_version: u32,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let salt = super::random_array::<16>()?;
    let iv = super::random_array::<12>()?;
    seal_suite_with(
        suite,
        material,
        key_id,
        material_version,
        salt,
        iv,
        context,
        plaintext,
    )
}

/// [`seal`] with a caller-chosen salt and iv: for test vectors only, never reuse them.
pub fn seal_with(
    material: &Key256,
    key_id: [u8; 16],
    material_version: u32,
    salt: [u8; 16],
    iv: [u8; 12],
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    seal_suite_with(
        SUITE_AES256_GCM_HKDF,
        material,
        key_id,
        material_version,
        salt,
        iv,
        context,
        plaintext,
    )
}

#[allow(clippy::too_many_arguments)]
fn seal_suite_with(
    suite: u8,
    material: &Key256,
    key_id: [u8; 16],
    material_version: u32,
    salt: [u8; 16],
    iv: [u8; 12],
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut blob = Vec::with_capacity(OVERHEAD + plaintext.len());
    blob.extend_from_slice(&[VERSION, suite]);
    blob.extend_from_slice(&key_id);
    blob.extend_from_slice(&material_version.to_be_bytes());
    blob.extend_from_slice(&salt);
    blob.extend_from_slice(&iv);
    let aad = aad(&blob[..HEADER_LEN], context)?;
    let cipher = message_cipher(material, &blob[..HEADER_LEN]);
    let ciphertext = cipher
        .encrypt(
            &Nonce::from(iv),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| Error::InvalidInput("the plaintext is too large for AES-GCM"))?;
    blob.extend_from_slice(&ciphertext);
    Ok(blob)
}

/// Authenticates and decrypts a blob with the material version its header names. Every failure is
/// [`Error::InvalidCiphertext`].
pub fn open(
    material: &Key256,
    blob: &[u8],
    context: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    open_as(SUITE_AES256_GCM_HKDF, material, blob, context)
}

/// [`open`] for a blob of `suite`; a blob of another suite is invalid.
pub fn open_as(
    suite: u8,
    material: &Key256,
    blob: &[u8],
    context: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    parse_header_of(suite, blob)?;
    let aad = aad(&blob[..HEADER_LEN], context).map_err(|_| Error::InvalidCiphertext)?;
    let iv: [u8; 12] = blob[38..HEADER_LEN].try_into().expect("12 bytes");
    let cipher = message_cipher(material, &blob[..HEADER_LEN]);
    cipher
        .decrypt(
            &Nonce::from(iv),
            Payload {
                msg: &blob[HEADER_LEN..],
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| Error::InvalidCiphertext)
}

fn message_key(material: &Key256, header: &[u8]) -> Zeroizing<[u8; 32]> {
    let salt = &header[22..38];
    super::hkdf_sha256(material.expose(), salt, &[INFO, &header[..22]])
}

fn message_cipher(material: &Key256, header: &[u8]) -> Aes256Gcm {
    let key = message_key(material, header);
    Aes256Gcm::new((&*key).into())
}

fn aad(header: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, Error> {
    let canonical = context.canonical()?;
    let mut aad = Vec::with_capacity(header.len() + canonical.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(&canonical);
    Ok(aad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq<const N: usize>(start: u8) -> [u8; N] {
        std::array::from_fn(|i| start + i as u8)
    }

    fn vector_context() -> EncryptionContext {
        [("tenant", "42"), ("app", "billing")].into_iter().collect()
    }

    const KEY_ID: [u8; 16] = [
        0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1,
        0xf0,
    ];
    const VECTOR_BLOB: &str = "01010f1e2d3c4b5a69788796a5b4c3d2e1f000000001a0a1a2a3a4a5a6a7a8a9aaabacadaeafc0c1c2c3c4c5c6c7c8c9cacbbc2b409c6f10e66bf402de49fbf30b97e5d185836e";

    #[test]
    fn field_data_key_blobs_and_ordinary_blobs_never_pass_for_each_other() {
        let material = Key256::from_bytes(seq(0));
        let ctx = vector_context();
        let field = seal_as(SUITE_FIELD_DATA_KEY, &material, KEY_ID, 1, &ctx, b"k").unwrap();
        let plain = seal(&material, KEY_ID, 1, &ctx, b"k").unwrap();
        assert_eq!(field[1], SUITE_FIELD_DATA_KEY);
        assert_eq!(
            &*open_as(SUITE_FIELD_DATA_KEY, &material, &field, &ctx).unwrap(),
            b"k"
        );
        assert_eq!(open(&material, &field, &ctx), Err(Error::InvalidCiphertext));
        assert_eq!(
            open_as(SUITE_FIELD_DATA_KEY, &material, &plain, &ctx),
            Err(Error::InvalidCiphertext)
        );
        // Relabelling the suite byte does not help: it is in the key derivation and the AAD.
        let mut relabelled = field.clone();
        relabelled[1] = SUITE_AES256_GCM_HKDF;
        assert_eq!(
            open(&material, &relabelled, &ctx),
            Err(Error::InvalidCiphertext)
        );
    }

    #[test]
    fn per_message_key_test_vector() {
        let material = Key256::from_bytes(seq(0));
        let blob = hex::decode(VECTOR_BLOB).unwrap();
        assert_eq!(
            hex::encode(message_key(&material, &blob[..HEADER_LEN]).as_ref()),
            "76fe6f8ed4db5d8a6bffa72e1434928d97406479b0aa013fda484994dfd81547"
        );
    }

    #[test]
    fn blob_test_vector() {
        let material = Key256::from_bytes(seq(0));
        let blob = seal_with(
            &material,
            KEY_ID,
            1,
            seq(0xa0),
            seq(0xc0),
            &vector_context(),
            b"hello",
        )
        .unwrap();
        assert_eq!(blob.len(), 71);
        assert_eq!(hex::encode(&blob), VECTOR_BLOB);
        assert_eq!(
            open(&material, &blob, &vector_context())
                .unwrap()
                .as_slice(),
            b"hello"
        );
    }

    #[test]
    fn header_names_key_and_version() {
        let blob = hex::decode(VECTOR_BLOB).unwrap();
        assert_eq!(
            parse_header(&blob).unwrap(),
            BlobHeader {
                key_id: KEY_ID,
                material_version: 1
            }
        );
    }

    #[test]
    fn every_tampering_is_the_same_error() {
        let material = Key256::from_bytes(seq(0));
        let blob = seal(&material, KEY_ID, 7, &vector_context(), b"attack at dawn").unwrap();
        assert_eq!(blob.len(), OVERHEAD + 14);
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                open(&material, &bad, &vector_context()),
                Err(Error::InvalidCiphertext),
                "flipped byte {i}"
            );
        }
        let other: EncryptionContext = [("tenant", "43"), ("app", "billing")].into_iter().collect();
        assert_eq!(
            open(&material, &blob, &other),
            Err(Error::InvalidCiphertext)
        );
        assert_eq!(
            open(&material, &blob, &EncryptionContext::new()),
            Err(Error::InvalidCiphertext)
        );
        let wrong = Key256::from_bytes([9; 32]);
        assert_eq!(
            open(&wrong, &blob, &vector_context()),
            Err(Error::InvalidCiphertext)
        );
        for len in [0, 1, 49, 50, 65, blob.len() - 1] {
            assert_eq!(
                open(&material, &blob[..len], &vector_context()),
                Err(Error::InvalidCiphertext),
                "truncated to {len}"
            );
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(
            open(&material, &longer, &vector_context()),
            Err(Error::InvalidCiphertext)
        );
    }

    #[test]
    fn fresh_salt_and_iv_every_time() {
        let material = Key256::from_bytes([1; 32]);
        let ctx = EncryptionContext::new();
        let a = seal(&material, KEY_ID, 1, &ctx, b"same").unwrap();
        let b = seal(&material, KEY_ID, 1, &ctx, b"same").unwrap();
        assert_ne!(a, b);
        assert_eq!(open(&material, &a, &ctx).unwrap().as_slice(), b"same");
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let material = Key256::from_bytes([1; 32]);
        let ctx = EncryptionContext::new();
        let blob = seal(&material, KEY_ID, 1, &ctx, b"").unwrap();
        assert_eq!(blob.len(), OVERHEAD);
        assert!(open(&material, &blob, &ctx).unwrap().is_empty());
    }
}
