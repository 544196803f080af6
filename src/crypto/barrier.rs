//! The storage barrier (crypto.md §2): everything secret that vaultd writes to disk is sealed here.
//!
//! - The [`RootKey`] (32 bytes, supplied by the operator) wraps the [`Keyring`].
//! - The keyring holds random 256-bit barrier keys, one per *term*; rotating the root key re-wraps
//!   only the keyring, and a new term can be added without re-encrypting old rows.
//! - Each purpose (`key-material`, `access-key`, …) gets its own subkey
//!   `HKDF-SHA256(barrier key, salt = database id, info = "vaultd/v1/" || purpose)`.
//! - A sealed column is `version || term || iv || ciphertext || tag`, with
//!   AAD = `"vaultd/v1" || table || column || stable id || immutable attributes`, so a sealed value
//!   cannot be moved to another row, column or table, or keep decrypting after its row's immutable
//!   attributes change.
//!
//! The keyring's own envelope is not fixed by crypto.md; it is
//! `0x01 || iv (12) || AES-256-GCM(root key, keyring, AAD = "vaultd/v1" || "keyring" || database id)`
//! and the keyring plaintext is `active term u32 || count u16 || (term u32 || created u64 || key 32)*`.

use std::{collections::BTreeMap, fmt};

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use zeroize::Zeroizing;

use super::{Error, secret::Key256};

const AAD_PREFIX: &[u8] = b"vaultd/v1";
const SEALED_VERSION: u8 = 0x01;
const KEYRING_VERSION: u8 = 0x01;
const SEALED_HEADER_LEN: usize = 1 + 4 + 12;

/// What a subkey protects. One subkey per purpose and term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    KeyMaterial,
    Secret,
    Parameter,
    SessionToken,
    Audit,
    AccessKey,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [
        Purpose::KeyMaterial,
        Purpose::Secret,
        Purpose::Parameter,
        Purpose::SessionToken,
        Purpose::Audit,
        Purpose::AccessKey,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Purpose::KeyMaterial => "key-material",
            Purpose::Secret => "secret",
            Purpose::Parameter => "parameter",
            Purpose::SessionToken => "session-token",
            Purpose::Audit => "audit",
            Purpose::AccessKey => "access-key",
        }
    }
}

/// The operator's root key. Holds secret bytes: zeroized on drop, `Debug` redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootKey(Key256);

impl RootKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Key256::from_bytes(bytes))
    }

    pub fn generate() -> Result<Self, Error> {
        Ok(Self(Key256::generate()?))
    }

    /// Parses the base64 form (standard alphabet, padding optional, surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        use base64::Engine;
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim().trim_end_matches('='))
                .or_else(|_| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(text.trim().trim_end_matches('='))
                })
                .map_err(|_| Error::Malformed("the root key is not valid base64"))?,
        );
        Key256::from_slice(&decoded)
            .map(Self)
            .map_err(|_| Error::Malformed("the root key must decode to exactly 32 bytes"))
    }

    /// The base64 form, for writing a generated key to its file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        use base64::Engine;
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.expose()))
    }
}

/// One barrier key and the time it was created (unix seconds).
#[derive(Clone, Debug)]
struct Term {
    created: u64,
    key: Key256,
}

/// The keyring of barrier keys, one per term. Holds secret bytes.
#[derive(Clone, Debug)]
pub struct Keyring {
    active: u32,
    terms: BTreeMap<u32, Term>,
}

impl Keyring {
    /// A keyring with one fresh barrier key, term 1.
    pub fn generate(created: u64) -> Result<Self, Error> {
        let mut terms = BTreeMap::new();
        terms.insert(
            1,
            Term {
                created,
                key: Key256::generate()?,
            },
        );
        Ok(Self { active: 1, terms })
    }

    pub fn active_term(&self) -> u32 {
        self.active
    }

    /// Adds a new barrier key and makes it the active term; older terms stay for reading.
    pub fn rotate(&mut self, created: u64) -> Result<u32, Error> {
        let term = self.active + 1;
        self.terms.insert(
            term,
            Term {
                created,
                key: Key256::generate()?,
            },
        );
        self.active = term;
        Ok(term)
    }

    /// Seals the keyring under the root key for storage.
    pub fn seal(&self, root: &RootKey, database_id: &[u8]) -> Result<Vec<u8>, Error> {
        let mut plain = Zeroizing::new(Vec::with_capacity(6 + self.terms.len() * 44));
        plain.extend_from_slice(&self.active.to_be_bytes());
        let count =
            u16::try_from(self.terms.len()).map_err(|_| Error::InvalidInput("too many terms"))?;
        plain.extend_from_slice(&count.to_be_bytes());
        for (term, entry) in &self.terms {
            plain.extend_from_slice(&term.to_be_bytes());
            plain.extend_from_slice(&entry.created.to_be_bytes());
            plain.extend_from_slice(entry.key.expose());
        }
        let iv = super::random_array::<12>()?;
        let aad = keyring_aad(database_id);
        let cipher = Aes256Gcm::new(root.0.expose().into());
        let sealed = cipher
            .encrypt(
                &Nonce::from(iv),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::InvalidInput("keyring too large"))?;
        let mut out = Vec::with_capacity(1 + 12 + sealed.len());
        out.push(KEYRING_VERSION);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed keyring. A wrong root key (or any damage) is [`Error::WrongRootKey`].
    pub fn open(root: &RootKey, database_id: &[u8], sealed: &[u8]) -> Result<Self, Error> {
        if sealed.len() < 1 + 12 + 16 || sealed[0] != KEYRING_VERSION {
            return Err(Error::WrongRootKey);
        }
        let iv: [u8; 12] = sealed[1..13].try_into().expect("12 bytes");
        let aad = keyring_aad(database_id);
        let cipher = Aes256Gcm::new(root.0.expose().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &Nonce::from(iv),
                    Payload {
                        msg: &sealed[13..],
                        aad: &aad,
                    },
                )
                .map_err(|_| Error::WrongRootKey)?,
        );
        let malformed = Error::Malformed("the keyring is malformed");
        if plain.len() < 6 {
            return Err(malformed);
        }
        let active = u32::from_be_bytes(plain[0..4].try_into().expect("4 bytes"));
        let count = u16::from_be_bytes(plain[4..6].try_into().expect("2 bytes")) as usize;
        if plain.len() != 6 + count * 44 {
            return Err(malformed);
        }
        let mut terms = BTreeMap::new();
        for chunk in plain[6..].chunks_exact(44) {
            let term = u32::from_be_bytes(chunk[0..4].try_into().expect("4 bytes"));
            let created = u64::from_be_bytes(chunk[4..12].try_into().expect("8 bytes"));
            let key = Key256::from_slice(&chunk[12..44])?;
            terms.insert(term, Term { created, key });
        }
        if !terms.contains_key(&active) {
            return Err(malformed);
        }
        Ok(Self { active, terms })
    }
}

fn keyring_aad(database_id: &[u8]) -> Vec<u8> {
    [AAD_PREFIX, b"keyring", database_id].concat()
}

/// Where a sealed value lives, bound into its AAD: table, column, the row's stable id and its
/// immutable attributes. Never a SQLite rowid, never a mutable field.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub stable_id: &'a [u8],
    pub immutable: &'a [u8],
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        [
            AAD_PREFIX,
            self.table.as_bytes(),
            self.column.as_bytes(),
            self.stable_id,
            self.immutable,
        ]
        .concat()
    }
}

/// The unlocked barrier: per-purpose subkeys for every term, derived once at unlock.
pub struct Barrier {
    active: u32,
    ciphers: BTreeMap<(u32, Purpose), Aes256Gcm>,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("active_term", &self.active)
            .finish_non_exhaustive()
    }
}

impl Barrier {
    pub fn new(keyring: &Keyring, database_id: &[u8]) -> Self {
        let mut ciphers = BTreeMap::new();
        for (term, entry) in &keyring.terms {
            for purpose in Purpose::ALL {
                let info = [b"vaultd/v1/".as_slice(), purpose.label().as_bytes()];
                let subkey = super::hkdf_sha256(entry.key.expose(), database_id, &info);
                ciphers.insert((*term, purpose), Aes256Gcm::new((&*subkey).into()));
            }
        }
        Self {
            active: keyring.active,
            ciphers,
        }
    }

    /// Seals `plaintext` under the active term's subkey for `purpose`.
    pub fn seal(
        &self,
        purpose: Purpose,
        binding: &Binding<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let cipher = &self.ciphers[&(self.active, purpose)];
        let iv = super::random_array::<12>()?;
        let sealed = cipher
            .encrypt(
                &Nonce::from(iv),
                Payload {
                    msg: plaintext,
                    aad: &binding.aad(),
                },
            )
            .map_err(|_| Error::InvalidInput("value too large to seal"))?;
        let mut out = Vec::with_capacity(SEALED_HEADER_LEN + sealed.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&self.active.to_be_bytes());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed value; any mismatch of key, binding or bytes is [`Error::InvalidCiphertext`].
    pub fn open(
        &self,
        purpose: Purpose,
        binding: &Binding<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        if sealed.len() < SEALED_HEADER_LEN + 16 || sealed[0] != SEALED_VERSION {
            return Err(Error::InvalidCiphertext);
        }
        let term = u32::from_be_bytes(sealed[1..5].try_into().expect("4 bytes"));
        let cipher = self
            .ciphers
            .get(&(term, purpose))
            .ok_or(Error::InvalidCiphertext)?;
        let iv: [u8; 12] = sealed[5..17].try_into().expect("12 bytes");
        cipher
            .decrypt(
                &Nonce::from(iv),
                Payload {
                    msg: &sealed[SEALED_HEADER_LEN..],
                    aad: &binding.aad(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::InvalidCiphertext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &[u8] = b"0123456789abcdef";

    fn binding<'a>(id: &'a [u8]) -> Binding<'a> {
        Binding {
            table: "key_materials",
            column: "material",
            stable_id: id,
            immutable: b"SYMMETRIC_DEFAULT",
        }
    }

    #[test]
    fn keyring_round_trips_and_refuses_a_wrong_root_key() {
        let root = RootKey::generate().unwrap();
        let keyring = Keyring::generate(1).unwrap();
        let sealed = keyring.seal(&root, DB).unwrap();
        let opened = Keyring::open(&root, DB, &sealed).unwrap();
        assert_eq!(opened.active_term(), 1);
        assert_eq!(opened.terms[&1].key, keyring.terms[&1].key);

        let wrong = RootKey::generate().unwrap();
        assert_eq!(
            Keyring::open(&wrong, DB, &sealed).unwrap_err(),
            Error::WrongRootKey
        );
        // Bound to its database: a keyring copied into another database does not open.
        assert_eq!(
            Keyring::open(&root, b"another-database", &sealed).unwrap_err(),
            Error::WrongRootKey
        );
    }

    #[test]
    fn sealed_values_are_bound_to_their_place() {
        let keyring = Keyring::generate(1).unwrap();
        let barrier = Barrier::new(&keyring, DB);
        let sealed = barrier
            .seal(Purpose::KeyMaterial, &binding(b"key-1"), b"material")
            .unwrap();
        assert_eq!(
            barrier
                .open(Purpose::KeyMaterial, &binding(b"key-1"), &sealed)
                .unwrap()
                .as_slice(),
            b"material"
        );
        assert!(!sealed.windows(8).any(|w| w == b"material"));
        let err = Err(Error::InvalidCiphertext);
        assert_eq!(
            barrier.open(Purpose::KeyMaterial, &binding(b"key-2"), &sealed),
            err
        );
        assert_eq!(
            barrier.open(Purpose::AccessKey, &binding(b"key-1"), &sealed),
            err
        );
        let mut other = binding(b"key-1");
        other.immutable = b"HMAC_256";
        assert_eq!(barrier.open(Purpose::KeyMaterial, &other, &sealed), err);
        // Another database id derives other subkeys.
        let elsewhere = Barrier::new(&keyring, b"fedcba9876543210");
        assert_eq!(
            elsewhere.open(Purpose::KeyMaterial, &binding(b"key-1"), &sealed),
            err
        );
    }

    #[test]
    fn old_terms_keep_opening_after_rotation() {
        let mut keyring = Keyring::generate(1).unwrap();
        let old = Barrier::new(&keyring, DB)
            .seal(Purpose::Secret, &binding(b"x"), b"v1")
            .unwrap();
        assert_eq!(keyring.rotate(2).unwrap(), 2);
        let barrier = Barrier::new(&keyring, DB);
        let new = barrier
            .seal(Purpose::Secret, &binding(b"x"), b"v2")
            .unwrap();
        assert_eq!(u32::from_be_bytes(new[1..5].try_into().unwrap()), 2);
        assert_eq!(
            barrier
                .open(Purpose::Secret, &binding(b"x"), &old)
                .unwrap()
                .as_slice(),
            b"v1"
        );
        assert_eq!(
            barrier
                .open(Purpose::Secret, &binding(b"x"), &new)
                .unwrap()
                .as_slice(),
            b"v2"
        );
    }

    #[test]
    fn root_key_base64() {
        let root = RootKey::from_bytes([7; 32]);
        let text = root.to_base64();
        assert_eq!(
            RootKey::from_base64(&format!("  {}\n", text.as_str())).unwrap(),
            root
        );
        assert!(RootKey::from_base64("not base64!").is_err());
        assert!(RootKey::from_base64("AAAA").is_err());
        assert_eq!(format!("{root:?}"), "RootKey(Key256([REDACTED]))");
    }
}
