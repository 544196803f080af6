//! Tags on keys: TagResource, UntagResource, ListResourceTags, with AWS's limits.

use uuid::Uuid;

use super::{Kms, Page, Paged};
use crate::paging::Cursor;
use crate::{
    error::{Error, ErrorKind, Result},
    model::Tag,
};

pub const MAX_TAGS_PER_KEY: usize = 50;
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

fn tag_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Tag, message)
}

fn validate_tag_key(key: &str) -> Result<()> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_TAG_KEY_CHARS {
        return Err(tag_error(format!(
            "A tag key must be 1 to {MAX_TAG_KEY_CHARS} characters long."
        )));
    }
    if key.starts_with("aws:") {
        return Err(tag_error("Tag keys beginning with 'aws:' are reserved."));
    }
    Ok(())
}

/// Validates tags as a request carries them: lengths, the reserved `aws:` prefix, no key twice.
pub(super) fn validate_tags(tags: &[Tag]) -> Result<()> {
    for (i, tag) in tags.iter().enumerate() {
        validate_tag_key(&tag.key)?;
        if tag.value.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(tag_error(format!(
                "A tag value must be at most {MAX_TAG_VALUE_CHARS} characters long."
            )));
        }
        if tags[..i].iter().any(|t| t.key == tag.key) {
            return Err(tag_error(format!(
                "The tag key '{}' appears more than once.",
                tag.key
            )));
        }
    }
    if tags.len() > MAX_TAGS_PER_KEY {
        return Err(tag_error(format!(
            "A key can have at most {MAX_TAGS_PER_KEY} tags."
        )));
    }
    Ok(())
}

impl Kms {
    pub fn tag_resource(&self, id: Uuid, tags: &[Tag]) -> Result<()> {
        if tags.is_empty() {
            return Err(Error::validation("At least one tag is required."));
        }
        validate_tags(tags)?;
        self.key(id)?;
        let _guard = self.write_lock()?;
        let current = self.current(id)?;
        self.require_customer_managed(&current.record)?;
        self.require_not_pending_deletion(&current.record)?;
        let existing = self.store.tags(id)?;
        let added = tags
            .iter()
            .filter(|t| !existing.iter().any(|e| e.key == t.key))
            .count();
        if existing.len() + added > MAX_TAGS_PER_KEY {
            return Err(tag_error(format!(
                "A key can have at most {MAX_TAGS_PER_KEY} tags."
            )));
        }
        Ok(self.store.put_tags(id, tags)?)
    }

    pub fn untag_resource(&self, id: Uuid, tag_keys: &[String]) -> Result<()> {
        if tag_keys.is_empty() || tag_keys.len() > MAX_TAGS_PER_KEY {
            return Err(Error::validation(format!(
                "Specify 1 to {MAX_TAGS_PER_KEY} tag keys."
            )));
        }
        for key in tag_keys {
            validate_tag_key(key)?;
        }
        self.key(id)?;
        let _guard = self.write_lock()?;
        self.require_not_pending_deletion(&self.current(id)?.record)?;
        Ok(self.store.remove_tags(id, tag_keys)?)
    }

    /// ListResourceTags: ordered by tag key (limit 1–50, default 50).
    pub fn list_resource_tags(&self, id: Uuid, page: &Page) -> Result<Paged<Tag>> {
        let cursor = Cursor::parse(page, 50, 50)?;
        self.key(id)?;
        Ok(cursor.slice(self.store.tags(id)?, |t| t.key.clone()))
    }
}
