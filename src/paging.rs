//! AWS-style pagination (KMS `limit` / `marker`, IAM `max_items` / `marker`, and the like): a limit
//! and a marker in, the next marker out. Markers are opaque
//! to callers (base64url of the last item's sort key); a marker that does not decode is
//! InvalidMarkerException.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{Error, ErrorKind, Result};

/// A page request as the caller sent it.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub limit: Option<i32>,
    pub marker: Option<String>,
}

impl Page {
    pub fn new(limit: Option<i32>, marker: &str) -> Self {
        Self {
            limit,
            marker: (!marker.is_empty()).then(|| marker.to_string()),
        }
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Set when more items follow; pass it back as the marker.
    pub next_marker: Option<String>,
}

impl<T> Paged<T> {
    pub fn truncated(&self) -> bool {
        self.next_marker.is_some()
    }
}

/// A validated page request: the limit within the API's bounds and the decoded marker.
#[derive(Clone, Debug)]
pub(crate) struct Cursor {
    pub limit: usize,
    pub after: Option<String>,
}

impl Cursor {
    /// Validates `page` against an API's maximum and default limit (AWS's, per action).
    pub fn parse(page: &Page, max: i32, default: i32) -> Result<Self> {
        Self::parse_field(page, "limit", max, default)
    }

    /// [`Cursor::parse`] for an API whose limit parameter has another name (`maxItems`).
    pub fn parse_field(page: &Page, field: &str, max: i32, default: i32) -> Result<Self> {
        let limit = page.limit.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{limit}' at '{field}' failed to satisfy constraint: \
                 Member must have value between 1 and {max}"
            )));
        }
        let after = match &page.marker {
            None => None,
            Some(marker) => Some(
                URL_SAFE_NO_PAD
                    .decode(marker)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        Error::new(ErrorKind::InvalidMarker, "The marker is not valid.")
                    })?,
            ),
        };
        Ok(Self {
            limit: limit as usize,
            after,
        })
    }

    /// Builds the page from up to `limit + 1` items fetched after the cursor.
    pub fn finish<T>(&self, mut items: Vec<T>, sort_key: impl Fn(&T) -> String) -> Paged<T> {
        let next_marker = if items.len() > self.limit {
            items.truncate(self.limit);
            items
                .last()
                .map(|last| URL_SAFE_NO_PAD.encode(sort_key(last)))
        } else {
            None
        };
        Paged { items, next_marker }
    }

    /// Pages through items already in memory, sorted by `sort_key`.
    pub fn slice<T>(&self, items: Vec<T>, sort_key: impl Fn(&T) -> String) -> Paged<T> {
        let rest: Vec<T> = match &self.after {
            None => items,
            Some(after) => items.into_iter().filter(|i| sort_key(i) > *after).collect(),
        };
        self.finish(rest.into_iter().take(self.limit + 1).collect(), sort_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through_sorted_items() {
        let items: Vec<String> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut page = Page::new(Some(2), "");
        let mut seen = Vec::new();
        loop {
            let cursor = Cursor::parse(&page, 10, 5).unwrap();
            let got = cursor.slice(items.clone(), |s| s.clone());
            seen.extend(got.items.clone());
            match got.next_marker {
                Some(m) => page = Page::new(Some(2), &m),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn limits_and_markers_are_validated() {
        assert!(
            Cursor::parse(&Page::new(Some(0), ""), 10, 5)
                .unwrap_err()
                .is(ErrorKind::Validation)
        );
        assert!(
            Cursor::parse(&Page::new(Some(11), ""), 10, 5)
                .unwrap_err()
                .is(ErrorKind::Validation)
        );
        assert_eq!(Cursor::parse(&Page::new(None, ""), 10, 5).unwrap().limit, 5);
        assert!(
            Cursor::parse(&Page::new(None, "!!"), 10, 5)
                .unwrap_err()
                .is(ErrorKind::InvalidMarker)
        );
    }
}
