//! Types that hold key material. They zeroize on drop, never print their contents, and compare in
//! constant time.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit symmetric key (KMS key material, barrier keys, the root key, derived subkeys).
///
/// Holds secret bytes: zeroized on drop, `Debug` is redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key256([u8; 32]);

impl Key256 {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Copies a 32-byte slice; any other length is an error.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, super::Error> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| super::Error::Malformed("a 256-bit key must be exactly 32 bytes"))?;
        Ok(Self(array))
    }

    /// A fresh random key from the OS CSPRNG.
    pub fn generate() -> Result<Self, super::Error> {
        let mut key = Self([0u8; 32]);
        super::fill_random(&mut key.0)?;
        Ok(key)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Key256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key256([REDACTED])")
    }
}

impl PartialEq for Key256 {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Key256 {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = Key256::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "Key256([REDACTED])");
    }
}
