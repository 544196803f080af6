//! Keys from a seed file: fixed ids, material and rotation history, for dev stacks whose tests
//! need the same keys at every start.
//!
//! Seeding creates what is missing and never changes what exists, so what a stack did at run time
//! (a key disabled, rotated, tagged) survives a restart. What it cannot leave alone it refuses:
//! a key of the same id with another spec, usage or material is an error, never overwritten.

use std::{collections::BTreeMap, sync::Arc, time::SystemTime};

use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    CachedKey, Kms,
    lifecycle::{ROTATION_PERIOD_DAYS, usages_of, validate_description},
    material::Material,
    tags::validate_tags,
};
use crate::{
    clock::DAY,
    crypto::asymmetric::PrivateKey,
    error::{Error, Result},
    model::{
        KeyManager, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialVersion, Origin,
        RotationSchedule, RotationType, Tag,
    },
};

/// One version of a seeded key's material.
#[derive(Clone)]
pub enum SeedMaterial {
    /// A symmetric key (32 bytes) or an HMAC key. Zeroized on drop.
    Bytes(Zeroizing<Vec<u8>>),
    /// An RSA or P-256 private key.
    Private(PrivateKey),
}

impl std::fmt::Debug for SeedMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeedMaterial([REDACTED])")
    }
}

/// A key as a seed file describes it.
#[derive(Clone, Debug)]
pub struct SeedKey {
    pub id: Uuid,
    pub description: String,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    pub enabled: bool,
    /// Oldest first; the last is current, the others look like on-demand rotations. Empty: one
    /// version of fresh material, made when the key is created.
    pub material: Vec<SeedMaterial>,
    /// Automatic rotation: every `period_days`, next at `next_rotation` (default: a period after
    /// the key is created).
    pub rotation: Option<SeedRotation>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRotation {
    pub period_days: u32,
    pub next_rotation: Option<SystemTime>,
}

/// What seeding did to one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seeded {
    Created,
    /// The key existed with the seed's first versions; this many later ones were added.
    Extended(u32),
    Unchanged,
}

impl Kms {
    /// Makes sure key `seed.id` exists as the seed describes it (see the module doc).
    pub fn seed_key(&self, seed: &SeedKey) -> Result<Seeded> {
        let materials = self.seed_materials(seed)?;
        if self.load(seed.id)?.is_none() {
            return self.create_seeded(seed, materials);
        }
        let _guard = self.write_lock()?;
        let current = self.current(seed.id)?;
        let record = &current.record;
        if (record.key_spec, record.key_usage) != (seed.key_spec, seed.key_usage) {
            return Err(Error::validation(format!(
                "the vault's key {} is {} for {}, not {} for {} as the seed says",
                seed.id, record.key_spec, record.key_usage, seed.key_spec, seed.key_usage
            )));
        }
        let stored = record.current_version;
        for (version, material) in (1..).zip(&materials) {
            if version > stored {
                break;
            }
            let same = current.materials.get(&version).is_some_and(|m| {
                bool::from(m.fingerprint(seed.id).ct_eq(&material.fingerprint(seed.id)))
            });
            if !same {
                return Err(Error::validation(format!(
                    "the vault's key {} has other material in version {version} than the seed",
                    seed.id
                )));
            }
        }
        let missing = materials.len().saturating_sub(stored as usize);
        if missing == 0 {
            return Ok(Seeded::Unchanged);
        }
        // Later versions in the seed are rotations made since the key was first seeded. Material
        // imported and waiting above the current version would be overwritten: refuse instead.
        if current.materials.keys().any(|v| *v > stored) || record.origin != Origin::AwsKms {
            return Err(Error::validation(format!(
                "the vault's key {} cannot take the seed's later material versions: it has \
                 imported material",
                seed.id
            )));
        }
        let mut current = current;
        for material in materials.into_iter().skip(stored as usize) {
            current = self.put_seeded_version(&current, material)?;
        }
        Ok(Seeded::Extended(missing as u32))
    }

    fn seed_materials(&self, seed: &SeedKey) -> Result<Vec<Material>> {
        validate_description(&seed.description)?;
        validate_tags(&seed.tags)?;
        if !usages_of(seed.key_spec).contains(&seed.key_usage) {
            return Err(Error::validation(format!(
                "KeyUsage {} does not fit KeySpec {}",
                seed.key_usage, seed.key_spec
            )));
        }
        let symmetric = seed.key_spec == KeySpec::SymmetricDefault;
        if seed.material.len() > 1 && !symmetric {
            return Err(Error::validation(format!(
                "only symmetric encryption keys rotate: a {} key takes one version of material",
                seed.key_spec
            )));
        }
        if let Some(rotation) = seed.rotation {
            if !symmetric {
                return Err(Error::validation(format!(
                    "only symmetric encryption keys rotate, not {} keys",
                    seed.key_spec
                )));
            }
            if !ROTATION_PERIOD_DAYS.contains(&(rotation.period_days as i32)) {
                return Err(Error::validation(format!(
                    "the rotation period must be {} to {} days",
                    ROTATION_PERIOD_DAYS.start(),
                    ROTATION_PERIOD_DAYS.end()
                )));
            }
        }
        seed.material
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let material = match m {
                    SeedMaterial::Bytes(bytes) => Material::from_import(seed.key_spec, bytes),
                    SeedMaterial::Private(private)
                        if private.spec().key_spec() == seed.key_spec =>
                    {
                        Ok(Material::from_private(private.clone()))
                    }
                    SeedMaterial::Private(private) => Err(Error::validation(format!(
                        "the private key is {}, not {}",
                        private.spec().key_spec(),
                        seed.key_spec
                    ))),
                };
                material.map_err(|e| {
                    Error::validation(format!("material version {}: {}", i + 1, e.message))
                })
            })
            .collect()
    }

    fn create_seeded(&self, seed: &SeedKey, materials: Vec<Material>) -> Result<Seeded> {
        let now = self.now();
        let mut materials = materials.into_iter();
        let first = match materials.next() {
            Some(material) => material,
            None => Material::generate(seed.key_spec)?,
        };
        let record = KeyRecord {
            id: seed.id,
            created_at: now,
            description: seed.description.clone(),
            key_spec: seed.key_spec,
            key_usage: seed.key_usage,
            origin: Origin::AwsKms,
            key_manager: KeyManager::Customer,
            state: match seed.enabled {
                true => KeyState::Enabled,
                false => KeyState::Disabled,
            },
            deletion_date: None,
            pending_window_days: None,
            rotation: seed.rotation.map(|r| RotationSchedule {
                period_days: r.period_days,
                next_rotation: r.next_rotation.unwrap_or(now + DAY * r.period_days),
            }),
            current_version: 1,
            expiration_model: None,
            valid_to: None,
        };
        let stored = MaterialVersion {
            key_id: record.id,
            version: 1,
            created_at: now,
            rotation_type: None,
            sealed: Some(self.seal_material(&record, 1, &first)?),
            fingerprint: None,
        };
        let _guard = self.write_lock()?;
        self.store.insert_key(&record, Some(&stored), &seed.tags)?;
        let mut current = Arc::new(CachedKey {
            record,
            materials: BTreeMap::from([(1, Arc::new(first))]),
        });
        self.keys
            .write()
            .expect("key cache")
            .insert(seed.id, current.clone());
        // One version at a time, each committed with the key's current version: a start that
        // stops half-way leaves a key the next start extends.
        for material in materials {
            current = self.put_seeded_version(&current, material)?;
        }
        Ok(Seeded::Created)
    }

    /// Adds `material` as the key's next version, made current as an on-demand rotation would.
    /// Call under the writer lock.
    fn put_seeded_version(
        &self,
        current: &CachedKey,
        material: Material,
    ) -> Result<Arc<CachedKey>> {
        let mut record = current.record.clone();
        record.current_version += 1;
        let version = record.current_version;
        let stored = MaterialVersion {
            key_id: record.id,
            version,
            created_at: self.now(),
            rotation_type: Some(RotationType::OnDemand),
            sealed: Some(self.seal_material(&record, version, &material)?),
            fingerprint: None,
        };
        self.put_material(current, record, stored, Arc::new(material))
    }
}
