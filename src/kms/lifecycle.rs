//! Keys and their life cycle: creation, description, enable/disable, scheduled deletion and
//! rotation, with AWS's key-state rules.

use std::time::SystemTime;

use uuid::Uuid;

use super::{KeyView, Kms, Page, Paged, auto_rotatable, material::Material, tags::validate_tags};
use crate::paging::Cursor;
use crate::{
    clock::DAY,
    error::{Error, ErrorKind, Result},
    model::{
        KeyManager, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialVersion, Origin,
        RotationSchedule, RotationType, Tag,
    },
};

pub const MAX_DESCRIPTION_CHARS: usize = 8192;
pub const DEFAULT_PENDING_WINDOW_DAYS: i32 = 30;
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<i32> = 7..=30;
pub const DEFAULT_ROTATION_PERIOD_DAYS: i32 = 365;
pub const ROTATION_PERIOD_DAYS: std::ops::RangeInclusive<i32> = 90..=2560;
/// AWS allows ten on-demand rotations per key.
pub const MAX_ON_DEMAND_ROTATIONS: usize = 10;

/// CreateKey's parameters; `None` means the AWS default.
#[derive(Clone, Debug, Default)]
pub struct CreateKeyInput {
    pub description: String,
    pub key_spec: Option<KeySpec>,
    pub key_usage: Option<KeyUsage>,
    pub origin: Option<Origin>,
    pub tags: Vec<Tag>,
    pub multi_region: bool,
}

/// GetKeyRotationStatus's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationStatus {
    pub key_arn: String,
    pub enabled: bool,
    pub period_days: Option<u32>,
    pub next_rotation: Option<SystemTime>,
}

/// One rotation of a key, as ListKeyRotations shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    pub key_id: Uuid,
    pub version: u32,
    pub rotation_date: SystemTime,
    pub rotation_type: RotationType,
}

pub(super) fn validate_description(description: &str) -> Result<()> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_DESCRIPTION_CHARS}"
        )));
    }
    Ok(())
}

impl Kms {
    pub(super) fn require_not_pending_deletion(&self, record: &KeyRecord) -> Result<()> {
        match record.state {
            KeyState::PendingDeletion => Err(Error::invalid_state(format!(
                "{} is pending deletion.",
                self.arns.key(record.id)
            ))),
            _ => Ok(()),
        }
    }

    /// The state rule of operations that need a usable key: Disabled → DisabledException, any other
    /// non-Enabled state → KMSInvalidStateException.
    pub(super) fn require_enabled(&self, record: &KeyRecord) -> Result<()> {
        let arn = self.arns.key(record.id);
        match record.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(Error::disabled(format!("{arn} is disabled."))),
            KeyState::PendingDeletion => {
                Err(Error::invalid_state(format!("{arn} is pending deletion.")))
            }
            other => Err(Error::invalid_state(format!("{arn} is {other}."))),
        }
    }

    /// AWS-managed keys (those services create, such as `alias/aws/ssm`) are managed by their
    /// service: callers can use them but not change them.
    pub(super) fn require_customer_managed(&self, record: &KeyRecord) -> Result<()> {
        match record.key_manager {
            KeyManager::Customer => Ok(()),
            KeyManager::Aws => Err(self.aws_managed_refusal(record)),
        }
    }

    fn aws_managed_refusal(&self, record: &KeyRecord) -> Error {
        Error::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "{} is an AWS managed key: its service manages it, and this operation is not \
                 allowed on it.",
                self.arns.key(record.id)
            ),
        )
    }

    /// Automatic rotation: symmetric keys whose material vaultd generated, as AWS.
    fn require_auto_rotatable(&self, record: &KeyRecord) -> Result<()> {
        self.require_symmetric_for_rotation(record)?;
        if auto_rotatable(record) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "{} has imported key material: it does not rotate automatically. Import new \
                 material (ImportType NEW_KEY_MATERIAL) and call RotateKeyOnDemand.",
                self.arns.key(record.id)
            ),
        ))
    }

    /// Rotation of any kind: symmetric encryption keys only, as AWS.
    fn require_symmetric_for_rotation(&self, record: &KeyRecord) -> Result<()> {
        if record.key_spec == KeySpec::SymmetricDefault {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "{} is a {} key: only symmetric encryption keys rotate.",
                self.arns.key(record.id),
                record.key_spec
            ),
        ))
    }

    pub fn create_key(&self, input: CreateKeyInput) -> Result<KeyView> {
        validate_description(&input.description)?;
        validate_tags(&input.tags)?;
        let key_spec = input.key_spec.unwrap_or(KeySpec::SymmetricDefault);
        let key_usage = input.key_usage.unwrap_or(KeyUsage::EncryptDecrypt);
        let origin = input.origin.unwrap_or(Origin::AwsKms);
        if !usages_of(key_spec).contains(&key_usage) {
            return Err(Error::validation(format!(
                "KeyUsage {key_usage} is not compatible with KeySpec {key_spec}: use {}.",
                usages_of(key_spec)
                    .iter()
                    .map(|u| u.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        if input.multi_region {
            return Err(Error::new(
                ErrorKind::UnsupportedOperation,
                "Multi-Region keys are not supported.",
            ));
        }
        let now = self.now();
        let imported = origin == Origin::External;
        let record = KeyRecord {
            id: Uuid::new_v4(),
            created_at: now,
            description: input.description,
            key_spec,
            key_usage,
            origin,
            key_manager: KeyManager::Customer,
            // A key for imported material waits for it.
            state: match imported {
                true => KeyState::PendingImport,
                false => KeyState::Enabled,
            },
            deletion_date: None,
            pending_window_days: None,
            rotation: None,
            current_version: 1,
            expiration_model: None,
            valid_to: None,
        };
        let material = match imported {
            true => None,
            false => {
                let material = Material::generate(key_spec)?;
                let stored = MaterialVersion {
                    key_id: record.id,
                    version: 1,
                    created_at: now,
                    rotation_type: None,
                    sealed: Some(self.seal_material(&record, 1, &material)?),
                    fingerprint: None,
                };
                Some((stored, material))
            }
        };
        let _guard = self.write_lock()?;
        self.store
            .insert_key(&record, material.as_ref().map(|m| &m.0), &input.tags)?;
        let key = std::sync::Arc::new(super::CachedKey {
            record: record.clone(),
            materials: material
                .map(|(_, m)| (1, std::sync::Arc::new(m)))
                .into_iter()
                .collect(),
        });
        self.keys.write().expect("key cache").insert(record.id, key);
        Ok(self.view(&record))
    }

    /// How many keys are in each state (for metrics).
    pub fn keys_by_state(&self) -> Result<Vec<(KeyState, u64)>> {
        Ok(self.store.count_keys_by_state()?)
    }

    pub fn describe_key(&self, id: Uuid) -> Result<KeyView> {
        Ok(self.view(&self.key(id)?.record))
    }

    /// ListKeys: every key, ordered by id (AWS: limit 1–1000, default 100).
    pub fn list_keys(&self, page: &Page) -> Result<Paged<KeyView>> {
        let cursor = Cursor::parse(page, 1000, 100)?;
        self.purge_due_deletions()?;
        let after =
            match &cursor.after {
                None => None,
                Some(a) => Some(Uuid::try_parse(a).map_err(|_| {
                    Error::new(ErrorKind::InvalidMarker, "The marker is not valid.")
                })?),
            };
        let records = self.store.list_keys(after, cursor.limit + 1)?;
        let views = records.iter().map(|r| self.view(r)).collect();
        Ok(cursor.finish(views, |v: &KeyView| v.record.id.to_string()))
    }

    pub fn update_key_description(&self, id: Uuid, description: String) -> Result<()> {
        validate_description(&description)?;
        self.update_key(id, |current, _| {
            self.require_customer_managed(current)?;
            self.require_not_pending_deletion(current)?;
            Ok(Some(KeyRecord {
                description,
                ..current.clone()
            }))
        })?;
        Ok(())
    }

    pub fn enable_key(&self, id: Uuid) -> Result<()> {
        self.set_enabled(id, KeyState::Enabled)
    }

    pub fn disable_key(&self, id: Uuid) -> Result<()> {
        self.set_enabled(id, KeyState::Disabled)
    }

    fn set_enabled(&self, id: Uuid, state: KeyState) -> Result<()> {
        self.update_key(id, |current, _| match current.state {
            _ if current.key_manager == KeyManager::Aws => Err(self.aws_managed_refusal(current)),
            KeyState::Enabled | KeyState::Disabled => Ok(Some(KeyRecord {
                state,
                ..current.clone()
            })),
            other => Err(Error::invalid_state(format!(
                "{} is {other}.",
                self.arns.key(current.id)
            ))),
        })?;
        Ok(())
    }

    /// ScheduleKeyDeletion: 7–30 days, default 30. The key is deleted when the window ends.
    pub fn schedule_key_deletion(
        &self,
        id: Uuid,
        pending_window_days: Option<i32>,
    ) -> Result<KeyView> {
        let days = pending_window_days.unwrap_or(DEFAULT_PENDING_WINDOW_DAYS);
        if !PENDING_WINDOW_DAYS.contains(&days) {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy \
                 constraint: Member must have value between 7 and 30"
            )));
        }
        let key = self.update_key(id, |current, now| {
            self.require_customer_managed(current)?;
            self.require_not_pending_deletion(current)?;
            Ok(Some(KeyRecord {
                state: KeyState::PendingDeletion,
                deletion_date: Some(now + DAY * days as u32),
                pending_window_days: Some(days as u32),
                ..current.clone()
            }))
        })?;
        Ok(self.view(&key.record))
    }

    /// CancelKeyDeletion: the key comes back Disabled, as in AWS (PendingImport if it has no
    /// material).
    pub fn cancel_key_deletion(&self, id: Uuid) -> Result<KeyView> {
        self.key(id)?;
        let _guard = self.write_lock()?;
        let current = self.current(id)?;
        self.require_customer_managed(&current.record)?;
        if current.record.state != KeyState::PendingDeletion {
            return Err(Error::invalid_state(format!(
                "{} is not pending deletion.",
                self.arns.key(id)
            )));
        }
        let has_material = current.has_all_material();
        let record = KeyRecord {
            state: match has_material {
                true => KeyState::Disabled,
                false => KeyState::PendingImport,
            },
            deletion_date: None,
            pending_window_days: None,
            ..current.record.clone()
        };
        let key = self.put_record(&current, record)?;
        Ok(self.view(&key.record))
    }

    /// EnableKeyRotation: period 90–2,560 days, default 365; the first rotation is one period from now.
    pub fn enable_key_rotation(&self, id: Uuid, period_days: Option<i32>) -> Result<()> {
        if let Some(days) = period_days
            && !ROTATION_PERIOD_DAYS.contains(&days)
        {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy \
                 constraint: Member must have value between 90 and 2560"
            )));
        }
        self.update_key(id, |current, now| {
            self.require_customer_managed(current)?;
            self.require_auto_rotatable(current)?;
            self.require_enabled(current)?;
            let rotation = match (current.rotation, period_days) {
                // Already on and no new period: nothing changes.
                (Some(schedule), None) => schedule,
                (_, period) => {
                    let days = period.unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS) as u32;
                    RotationSchedule {
                        period_days: days,
                        next_rotation: now + DAY * days,
                    }
                }
            };
            Ok(Some(KeyRecord {
                rotation: Some(rotation),
                ..current.clone()
            }))
        })?;
        Ok(())
    }

    pub fn disable_key_rotation(&self, id: Uuid) -> Result<()> {
        self.update_key(id, |current, _| {
            self.require_customer_managed(current)?;
            self.require_auto_rotatable(current)?;
            self.require_enabled(current)?;
            Ok(Some(KeyRecord {
                rotation: None,
                ..current.clone()
            }))
        })?;
        Ok(())
    }

    pub fn get_key_rotation_status(&self, id: Uuid) -> Result<RotationStatus> {
        let key = self.key(id)?;
        self.require_symmetric_for_rotation(&key.record)?;
        Ok(RotationStatus {
            key_arn: self.arns.key(id),
            enabled: key.record.rotation.is_some(),
            period_days: key.record.rotation.map(|r| r.period_days),
            next_rotation: key.record.rotation.map(|r| r.next_rotation),
        })
    }

    /// RotateKeyOnDemand: new material now, at most ten times per key; the automatic schedule is
    /// not changed. A key with imported material rotates to the material imported for it
    /// (ImportType NEW_KEY_MATERIAL).
    pub fn rotate_key_on_demand(&self, id: Uuid) -> Result<KeyView> {
        self.key(id)?;
        let _guard = self.write_lock()?;
        let current = self.current(id)?;
        self.require_customer_managed(&current.record)?;
        self.require_symmetric_for_rotation(&current.record)?;
        self.require_enabled(&current.record)?;
        let materials = self.store.materials(id)?;
        let on_demand = materials
            .iter()
            // Imported material waiting for this rotation is not a rotation yet.
            .filter(|m| m.version <= current.record.current_version)
            .filter(|m| m.rotation_type == Some(RotationType::OnDemand))
            .count();
        if on_demand >= MAX_ON_DEMAND_ROTATIONS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "{} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                    self.arns.key(id)
                ),
            ));
        }
        let mut record = current.record.clone();
        record.current_version += 1;
        if record.origin == Origin::External {
            let (Some(pending), Some(material)) = (
                materials
                    .iter()
                    .find(|m| m.version == record.current_version && m.sealed.is_some()),
                current.materials.get(&record.current_version),
            ) else {
                return Err(Error::invalid_state(format!(
                    "{} has no new key material to rotate to: import it with ImportType \
                     NEW_KEY_MATERIAL first.",
                    self.arns.key(id)
                )));
            };
            // The rotation happens now: its date is today, not the import's.
            let stored = MaterialVersion {
                created_at: self.now(),
                ..pending.clone()
            };
            let material = material.clone();
            let key = self.put_material(&current, record, stored, material)?;
            return Ok(self.view(&key.record));
        }
        let key = self.add_material(&current, record, RotationType::OnDemand)?;
        Ok(self.view(&key.record))
    }

    /// ListKeyRotations: every rotation of a key, oldest first (limit 1–1000, default 100).
    pub fn list_key_rotations(&self, id: Uuid, page: &Page) -> Result<Paged<Rotation>> {
        let cursor = Cursor::parse(page, 1000, 100)?;
        let key = self.key(id)?;
        self.require_symmetric_for_rotation(&key.record)?;
        let rotations: Vec<Rotation> = self
            .store
            .materials(id)?
            .into_iter()
            // Imported material waiting for RotateKeyOnDemand is not a rotation yet.
            .filter(|m| m.version <= key.record.current_version)
            .filter_map(|m| {
                Some(Rotation {
                    key_id: id,
                    version: m.version,
                    rotation_date: m.created_at,
                    rotation_type: m.rotation_type?,
                })
            })
            .collect();
        // Versions sort as zero-padded strings so the marker order matches numeric order.
        Ok(cursor.slice(rotations, |r| format!("{:010}", r.version)))
    }
}

/// The key usages a key spec allows, as AWS.
pub(super) fn usages_of(spec: KeySpec) -> &'static [KeyUsage] {
    match spec {
        KeySpec::SymmetricDefault => &[KeyUsage::EncryptDecrypt],
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
            &[KeyUsage::EncryptDecrypt, KeyUsage::SignVerify]
        }
        KeySpec::EccNistP256 => &[KeyUsage::SignVerify, KeyUsage::KeyAgreement],
        KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
            &[KeyUsage::GenerateVerifyMac]
        }
    }
}
