//! Staging labels as AWS moves them, and which deprecated versions go.

use std::time::SystemTime;

use super::{AWSCURRENT, AWSPREVIOUS, MAX_STAGES_PER_VERSION, MAX_VERSIONS};
use crate::{
    clock::DAY,
    error::{Error, ErrorKind, Result},
    model::SecretVersionRecord,
};

/// Staging labels: 1–256 characters each, at most 20 on a version.
pub(super) fn validate_stages(stages: &[String]) -> Result<()> {
    if stages.len() > MAX_STAGES_PER_VERSION || stages.iter().any(|s| !(1..=256).contains(&s.len()))
    {
        return Err(Error::new(
            ErrorKind::InvalidParameter,
            format!(
                "A version takes 1 to {MAX_STAGES_PER_VERSION} staging labels of 1 to 256 characters."
            ),
        ));
    }
    Ok(())
}

/// The stage changes that put `stages` on `target`: each label leaves the version holding it,
/// and a version losing AWSCURRENT gets AWSPREVIOUS.
pub(super) fn stage_moves(
    versions: &[SecretVersionRecord],
    target: &str,
    stages: &[String],
) -> Vec<(String, Option<String>)> {
    let mut moves: Vec<(String, Option<String>)> = stages
        .iter()
        .map(|s| (s.clone(), Some(target.to_string())))
        .collect();
    if stages.iter().any(|s| s == AWSCURRENT)
        && let Some(previous) = versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == AWSCURRENT))
        && previous.version_id != target
    {
        moves.push((AWSPREVIOUS.to_string(), Some(previous.version_id.clone())));
    }
    moves
}

/// Deprecated versions to delete after `moves`: once there are more than 100 versions, those
/// without a label and over a day old, oldest first.
pub(super) fn prunable(
    versions: &[SecretVersionRecord],
    moves: &[(String, Option<String>)],
    now: SystemTime,
) -> Vec<String> {
    let mut staged: Vec<(String, String)> = versions
        .iter()
        .flat_map(|v| v.stages.iter().map(|s| (s.clone(), v.version_id.clone())))
        .filter(|(s, _)| !moves.iter().any(|(m, _)| m == s))
        .collect();
    staged.extend(
        moves
            .iter()
            .filter_map(|(s, v)| v.clone().map(|v| (s.clone(), v))),
    );
    // The new version (if any) counts too.
    let total = versions.len()
        + usize::from(
            moves
                .iter()
                .filter_map(|(_, v)| v.as_ref())
                .any(|v| !versions.iter().any(|x| &x.version_id == v)),
        );
    let mut excess = total.saturating_sub(MAX_VERSIONS);
    let mut prune = Vec::new();
    for version in versions {
        if excess == 0 {
            break;
        }
        let labelled = staged.iter().any(|(_, v)| *v == version.version_id);
        let old_enough = now
            .duration_since(version.created_at)
            .is_ok_and(|age| age >= DAY);
        if !labelled && old_enough {
            prune.push(version.version_id.clone());
            excess -= 1;
        }
    }
    prune
}
