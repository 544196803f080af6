//! The encryption context (a map of strings bound to a ciphertext as AAD) and its canonical,
//! length-prefixed encoding (crypto.md §1): u16 pair count, then pairs sorted by key bytes, each as
//! u16 len || key || u16 len || value. Length prefixes keep two different contexts from ever
//! encoding alike.

use std::collections::BTreeMap;

use super::Error;

/// An encryption context. Keys are ordered by their UTF-8 bytes (`String`'s `Ord`), as the canonical
/// encoding requires.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// The largest canonical encoding accepted (AWS limits a context to 8 KiB as well).
    pub const MAX_ENCODED_LEN: usize = 8192;

    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The pairs in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The pairs as the wire's `map<string, string>`.
    pub fn to_map(&self) -> std::collections::HashMap<String, String> {
        self.0.clone().into_iter().collect()
    }

    /// The canonical encoding; fails when the context is too large to encode.
    pub fn canonical(&self) -> Result<Vec<u8>, Error> {
        let too_large = Error::InvalidInput("the encryption context is larger than 8192 bytes");
        let count = u16::try_from(self.0.len()).map_err(|_| too_large.clone())?;
        let mut out = Vec::with_capacity(2 + self.0.len() * 8);
        out.extend_from_slice(&count.to_be_bytes());
        for (key, value) in &self.0 {
            for part in [key.as_bytes(), value.as_bytes()] {
                let len = u16::try_from(part.len()).map_err(|_| too_large.clone())?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(part);
            }
            if out.len() > Self::MAX_ENCODED_LEN {
                return Err(too_large);
            }
        }
        Ok(out)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl From<std::collections::HashMap<String, String>> for EncryptionContext {
    fn from(map: std::collections::HashMap<String, String>) -> Self {
        map.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_test_vector() {
        let ctx: EncryptionContext = [("tenant", "42"), ("app", "billing")].into_iter().collect();
        assert_eq!(
            hex::encode(ctx.canonical().unwrap()),
            "00020003617070000762696c6c696e67000674656e616e7400023432"
        );
    }

    #[test]
    fn empty_context_is_two_zero_bytes() {
        assert_eq!(EncryptionContext::new().canonical().unwrap(), vec![0, 0]);
    }

    #[test]
    fn length_prefixes_keep_contexts_apart() {
        let a: EncryptionContext = [("ab", "c")].into_iter().collect();
        let b: EncryptionContext = [("a", "bc")].into_iter().collect();
        assert_ne!(a.canonical().unwrap(), b.canonical().unwrap());
    }

    #[test]
    fn sorted_by_key_bytes_not_insertion_order() {
        let a: EncryptionContext = [("b", "1"), ("a", "2"), ("B", "3")].into_iter().collect();
        let b: EncryptionContext = [("B", "3"), ("a", "2"), ("b", "1")].into_iter().collect();
        let enc = a.canonical().unwrap();
        assert_eq!(enc, b.canonical().unwrap());
        // "B" (0x42) sorts before "a" (0x61).
        assert_eq!(&enc[2..5], &[0, 1, b'B']);
    }

    #[test]
    fn oversized_context_is_refused() {
        let big = "x".repeat(9000);
        let ctx: EncryptionContext = [("k", big.as_str())].into_iter().collect();
        assert!(matches!(ctx.canonical(), Err(Error::InvalidInput(_))));
    }
}
