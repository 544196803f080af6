//! RotateSecret, CancelRotateSecret and scheduled rotations: the AWSPENDING version, the steps
//! run by the hook on a thread of their own (see [`super::rotation`] for the hook contract), and
//! the outcome recorded on the secret. One rotation at a time per secret.

use std::sync::Arc;

use super::{AWSCURRENT, AWSPENDING, Secrets, prunable, rotation, stage_moves, validate_token};
use crate::{
    error::{Error, ErrorKind, Result},
    model::{SecretRecord, SecretRotation, SecretVersionRecord},
};

/// RotateSecret's rules: `(automatically_after_days, duration, schedule_expression)`.
pub type RotationRules = (Option<i64>, String, String);

impl Secrets {
    /// RotateSecret: sets the hook and rules (those given), turns rotation on and, unless
    /// `rotate_immediately` is false, starts a rotation now in the background. Returns the
    /// secret and the version the rotation creates.
    pub fn rotate_secret(
        self: &Arc<Self>,
        secret_id: &str,
        token: Option<String>,
        hook: Option<String>,
        rules: Option<RotationRules>,
        rotate_immediately: bool,
    ) -> Result<(SecretRecord, Option<String>)> {
        let token = token.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        validate_token(&token)?;
        let started = {
            let _guard = self.lock()?;
            let mut secret = self.find_live(secret_id)?;
            let hook = match hook.or_else(|| secret.rotation.hook.clone()) {
                Some(hook) => hook,
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidRequest,
                        "No rotation hook is associated with this secret: give RotationLambdaARN.",
                    ));
                }
            };
            let parsed = rotation::Hook::parse(&hook)?;
            parsed.resolve(&self.hooks)?;
            let now = self.now();
            if let Some((days, duration, schedule)) = rules {
                rotation::next_rotation(days, &schedule, now)?;
                secret.rotation.automatically_after_days = days.map(|d| d as u32);
                secret.rotation.schedule_expression = (!schedule.is_empty()).then_some(schedule);
                secret.rotation.duration = (!duration.is_empty()).then_some(duration);
            }
            secret.rotation.enabled = Some(true);
            secret.rotation.hook = Some(hook);
            secret.rotation.next_rotation_at = rotation::next_rotation(
                secret.rotation.automatically_after_days.map(i64::from),
                secret.rotation.schedule_expression.as_deref().unwrap_or(""),
                now,
            )?;
            match rotate_immediately {
                true => {
                    let mut rotating = self.rotating.lock().unwrap_or_else(|e| e.into_inner());
                    if rotating.contains(&secret.arn) {
                        return Err(Error::new(
                            ErrorKind::InvalidRequest,
                            "A previous rotation isn't complete. That rotation must finish before \
                             another starts.",
                        ));
                    }
                    let begun = self.begin_rotation(secret.clone(), &token)?;
                    rotating.insert(begun.arn.clone());
                    Some((begun, parsed))
                }
                false => {
                    self.store.write_secret(&secret, None, &[], &[], &[])?;
                    None
                }
            }
            .map(|(secret, hook)| (secret, hook, token.clone()))
        };
        let Some((secret, hook, token)) = started else {
            let secret = self.find(secret_id)?;
            return Ok((secret, None));
        };
        let this = self.clone();
        let arn = secret.arn.clone();
        let version = token.clone();
        std::thread::Builder::new()
            .name("secret-rotation".into())
            .spawn(move || this.run_rotation(&arn, &token, &hook))
            .map_err(|e| {
                self.rotating
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&secret.arn);
                Error::internal(format!("A rotation could not be started: {e}"))
            })?;
        Ok((secret, Some(version)))
    }

    /// Creates the AWSPENDING version (no value yet) for a rotation and writes `secret`. Call
    /// under the writer lock.
    fn begin_rotation(&self, secret: SecretRecord, token: &str) -> Result<SecretRecord> {
        let versions = self.store.secret_versions(&secret.arn)?;
        let existing = versions.iter().find(|v| v.version_id == token);
        if existing.is_some_and(|v| !v.stages.iter().any(|s| s == AWSPENDING)) {
            return Err(Error::new(
                ErrorKind::ResourceExists,
                "A version with this ClientRequestToken already exists.",
            ));
        }
        let now = self.now();
        // A pending version left by a failed rotation is superseded: its label moves here.
        let version = SecretVersionRecord {
            version_id: token.to_string(),
            created_at: now,
            value: existing.and_then(|v| v.value.clone()),
            stages: vec![AWSPENDING.into()],
        };
        let moves = vec![(AWSPENDING.to_string(), Some(token.to_string()))];
        let prune = prunable(&versions, &moves, now);
        let secret = SecretRecord {
            rotation: SecretRotation {
                failure: None,
                ..secret.rotation
            },
            ..secret
        };
        self.store
            .write_secret(&secret, Some(&version), &moves, &prune, &[])?;
        Ok(secret)
    }

    /// Runs the four steps; records the outcome on the secret.
    fn run_rotation(&self, arn: &str, token: &str, hook: &rotation::Hook) {
        for step in rotation::STEPS {
            if let Err(failure) = hook.run(&self.hooks, step, arn, token) {
                self.record_rotation(arn, token, Some(failure));
                return;
            }
            if step == "createSecret" {
                let has_value = self.store.secret_versions(arn).map(|vs| {
                    vs.iter()
                        .any(|v| v.version_id == token && v.value.is_some())
                });
                if !matches!(has_value, Ok(true)) {
                    self.record_rotation(
                        arn,
                        token,
                        Some(
                            "createSecret: the hook put no value on the AWSPENDING version".into(),
                        ),
                    );
                    return;
                }
            }
        }
        self.record_rotation(arn, token, None);
    }

    /// The end of a rotation: on success AWSCURRENT is on the new version (vaultd moves it if the
    /// hook didn't) and AWSPENDING is gone; on failure the reason is kept and nothing else moves.
    fn record_rotation(&self, arn: &str, token: &str, failure: Option<String>) {
        let outcome = (|| -> Result<()> {
            let _guard = self.lock()?;
            let Some(mut secret) = self.store.secret(arn)? else {
                return Ok(());
            };
            // Cancelled meanwhile (CancelRotateSecret), or superseded: nothing moves.
            let still_pending = self
                .store
                .secret_versions(arn)?
                .iter()
                .any(|v| v.version_id == token && v.stages.iter().any(|s| s == AWSPENDING));
            if secret.rotation.enabled == Some(false) || !still_pending {
                tracing::info!(secret = %arn, "a rotation ended after it was cancelled or superseded; nothing moved");
                return Ok(());
            }
            let now = self.now();
            let mut moves = Vec::new();
            match &failure {
                Some(reason) => {
                    tracing::warn!(secret = %arn, reason = %reason, "secret rotation failed");
                    secret.rotation.failure = Some(reason.clone());
                }
                None => {
                    let versions = self.store.secret_versions(arn)?;
                    let current_here = versions
                        .iter()
                        .any(|v| v.version_id == token && v.stages.iter().any(|s| s == AWSCURRENT));
                    if !current_here {
                        moves = stage_moves(&versions, token, &[AWSCURRENT.to_string()]);
                    }
                    moves.push((AWSPENDING.to_string(), None));
                    secret.rotation.failure = None;
                    secret.rotation.last_rotated_at = Some(now);
                    secret.last_changed_at = now;
                    tracing::info!(secret = %arn, "rotated a secret");
                }
            }
            self.store.write_secret(&secret, None, &moves, &[], &[])?;
            Ok(())
        })();
        if let Err(err) = outcome {
            tracing::error!(secret = %arn, error = %err, "recording a rotation's outcome failed");
        }
        self.rotating
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(arn);
    }

    /// CancelRotateSecret: turns rotation off; a rotation in progress is left as it is (as AWS).
    /// Returns the secret and the pending version, if any.
    pub fn cancel_rotate_secret(&self, secret_id: &str) -> Result<(SecretRecord, Option<String>)> {
        let _guard = self.lock()?;
        let mut secret = self.find_live(secret_id)?;
        secret.rotation.enabled = Some(false);
        secret.rotation.next_rotation_at = None;
        self.store.write_secret(&secret, None, &[], &[], &[])?;
        let pending = self
            .store
            .secret_versions(&secret.arn)?
            .into_iter()
            .find(|v| v.stages.iter().any(|s| s == AWSPENDING))
            .map(|v| v.version_id);
        Ok((secret, pending))
    }

    /// Starts the rotations that are due (by the clock); returns how many.
    pub fn rotate_due(self: &Arc<Self>) -> Result<usize> {
        let mut started = 0;
        for arn in self.store.secrets_due_for_rotation(self.now())? {
            match self.rotate_secret(&arn, None, None, None, true) {
                Ok(_) => started += 1,
                Err(err) => {
                    tracing::warn!(secret = %arn, error = %err, "starting a scheduled rotation failed");
                    // Not again every pass: the next attempt is one interval away.
                    let _guard = self.lock()?;
                    if let Some(mut secret) = self.store.secret(&arn)? {
                        secret.rotation.next_rotation_at = rotation::next_rotation(
                            secret.rotation.automatically_after_days.map(i64::from),
                            secret.rotation.schedule_expression.as_deref().unwrap_or(""),
                            self.now(),
                        )
                        .ok()
                        .flatten();
                        secret.rotation.failure = Some(err.message);
                        self.store.write_secret(&secret, None, &[], &[], &[])?;
                    }
                }
            }
        }
        Ok(started)
    }
}
