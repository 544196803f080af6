//! The KMS domain: keys, their material versions and life cycle, aliases, tags and the
//! cryptographic operations, with every AWS limit and key-state rule. It works over the crypto
//! layer and the [`Store`] trait and knows nothing of gRPC or SQLite.
//!
//! Key metadata and decrypted material are cached in memory after first use (material zeroized on
//! drop), so cryptographic requests never touch the disk. All writes go through one writer lock that
//! updates the store first and the cache second, so the cache never runs ahead of what is durable.
//!
//! Time-driven work (a deletion window ending, an automatic rotation falling due) happens both when
//! a key is next touched and in [`Kms::run_maintenance`], which the server runs periodically; either
//! way it is driven by the injected [`Clock`].

mod aliases;
mod asymmetric;
mod fields;
mod import;
mod lifecycle;
mod material;
mod ops;
mod seed;
mod services;
mod tags;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard, RwLock},
    time::SystemTime,
};

use uuid::Uuid;

use crate::{
    arn::{Arns, KmsResource},
    clock::Clock,
    crypto::barrier::{Barrier, Binding, Purpose},
    error::{Error, Result},
    model::{KeyRecord, KeySpec, KeyState, MaterialVersion, Origin, RotationType},
    store::{Change, Store},
};
use material::Material;

pub use crate::paging::{Page, Paged};
pub use aliases::{AliasView, validate_alias_name};
pub use asymmetric::{
    DataKeyPair, KeyAlgorithms, MacResult, PublicKeyView, SharedSecret, Signature, key_algorithms,
};
pub use fields::{EncryptedDocument, FieldsResult, MAX_DOCUMENT, MAX_ENCRYPTED_DOCUMENT};
pub use import::{ImportParameters, ImportedMaterial};
pub use lifecycle::{CreateKeyInput, DEFAULT_ROTATION_PERIOD_DAYS, Rotation, RotationStatus};
pub use ops::{DataKey, Decrypted, Encrypted, ReEncrypted};
pub use seed::{SeedKey, SeedMaterial, SeedRotation, Seeded};

/// A key's metadata with its ARN, as DescribeKey shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyView {
    pub record: KeyRecord,
    pub arn: String,
}

/// A key named by any of its identifiers, resolved to its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedKey {
    pub id: Uuid,
    pub arn: String,
}

/// A cached key: its metadata and every version of its material that is present, decrypted.
#[derive(Debug)]
struct CachedKey {
    record: KeyRecord,
    materials: BTreeMap<u32, Arc<Material>>,
}

/// Whether a key's deletion window has ended.
fn deletion_due(record: &KeyRecord, now: SystemTime) -> bool {
    record.state == KeyState::PendingDeletion && record.deletion_date.is_some_and(|d| d <= now)
}

impl CachedKey {
    fn deletion_due(&self, now: SystemTime) -> bool {
        deletion_due(&self.record, now)
    }

    fn rotation_due(&self, now: SystemTime) -> bool {
        self.record.state == KeyState::Enabled
            && self.record.rotation.is_some_and(|r| r.next_rotation <= now)
    }

    /// Whether imported material has reached its ValidTo.
    fn expiry_due(&self, now: SystemTime) -> bool {
        self.record.valid_to.is_some_and(|t| t <= now)
    }

    /// Whether every material version up to the current one is present: only then is a key with
    /// imported material usable (as AWS: all of its material must be imported).
    fn has_all_material(&self) -> bool {
        (1..=self.record.current_version).all(|v| self.materials.contains_key(&v))
    }

    /// The symmetric material of `version`, if it is in use (imported material waiting for a
    /// rotation is not): what a ciphertext naming that version opens with.
    fn symmetric_version(&self, version: u32) -> Option<&crate::crypto::secret::Key256> {
        if version > self.record.current_version {
            return None;
        }
        self.materials.get(&version)?.symmetric()
    }

    /// The material new ciphertexts, signatures and MACs use.
    fn current_material(&self) -> Result<&Material> {
        self.materials
            .get(&self.record.current_version)
            .map(|m| m.as_ref())
            .ok_or_else(|| Error::internal("The current key material is missing."))
    }
}

/// The KMS domain service.
pub struct Kms {
    store: Arc<dyn Store>,
    barrier: Arc<Barrier>,
    clock: Arc<dyn Clock>,
    arns: Arns,
    keys: RwLock<HashMap<Uuid, Arc<CachedKey>>>,
    aliases: RwLock<HashMap<String, Uuid>>,
    /// Serializes writes so that store and cache change together (and, with replicas, the
    /// store's write serialization: see [`Kms::write_lock`]).
    writer: Mutex<()>,
    /// Bumped (under the cache's write lock) by every [`Kms::forget`], so that a load that read the
    /// store before another replica's change does not put its older answer in the cache.
    generation: std::sync::atomic::AtomicU64,
    /// Whether other processes (replicas) write the same store: writes then start from the key
    /// as stored, not as cached.
    shared: bool,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("arns", &self.arns)
            .finish_non_exhaustive()
    }
}

/// What a maintenance pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub deleted: usize,
    pub rotated: usize,
    /// Keys whose imported material expired (and was deleted).
    pub expired: usize,
}

const MATERIAL_TABLE: &str = "key_materials";
const MATERIAL_COLUMN: &str = "material";

impl Kms {
    pub fn new(
        store: Arc<dyn Store>,
        barrier: Arc<Barrier>,
        clock: Arc<dyn Clock>,
        arns: Arns,
    ) -> Self {
        Self {
            barrier,
            clock,
            arns,
            keys: RwLock::new(HashMap::new()),
            aliases: RwLock::new(HashMap::new()),
            writer: Mutex::new(()),
            generation: std::sync::atomic::AtomicU64::new(0),
            shared: store.engine() != crate::store::Engine::Sqlite,
            store,
        }
    }

    /// Drops what the cache holds of something a replica changed. Never waits for a write in
    /// progress: it bumps the generation instead, so that a load that read the store before the
    /// change does not put its older answer back afterwards.
    pub fn forget(&self, change: &Change) {
        let mut keys = self.keys.write().expect("key cache");
        let mut aliases = self.aliases.write().expect("alias cache");
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        match change {
            Change::Key(id) => {
                keys.remove(id);
                aliases.retain(|_, target| target != id);
            }
            Change::Alias(name) => {
                aliases.remove(name);
            }
            Change::All => {
                keys.clear();
                aliases.clear();
            }
            Change::User(_) | Change::AccessKey(_) => {}
        }
    }

    pub fn arns(&self) -> &Arns {
        &self.arns
    }

    /// The current time at the precision the store keeps (milliseconds), so that what a caller
    /// sees before and after a restart is identical.
    fn now(&self) -> SystemTime {
        crate::clock::from_millis(crate::clock::to_millis(self.clock.now()))
    }

    /// The writer lock, for a read-check-write sequence: this process's, and with replicas the
    /// store's serialization of KMS writes across them (so what was read and checked is still
    /// so when it is written).
    fn write_lock(&self) -> Result<(MutexGuard<'_, ()>, crate::store::WriteGuard)> {
        let local = self.local_lock()?;
        let fleet = self.store.serialize_writes("kms")?;
        Ok((local, fleet))
    }

    /// This process's writer lock alone: for loads into the cache, which write nothing.
    fn local_lock(&self) -> Result<MutexGuard<'_, ()>> {
        self.writer
            .lock()
            .map_err(|_| Error::internal("An earlier write failed unexpectedly; restart vaultd."))
    }

    fn view(&self, record: &KeyRecord) -> KeyView {
        KeyView {
            arn: self.arns.key(record.id),
            record: record.clone(),
        }
    }

    fn not_found(&self, id: Uuid) -> Error {
        Error::not_found(format!("Key '{}' does not exist", self.arns.key(id)))
    }

    // --- Resolution ------------------------------------------------------------------------------

    /// Resolves a KeyId as AWS accepts it: key UUID, key ARN, alias name or alias ARN.
    pub fn resolve(&self, key_id: &str) -> Result<ResolvedKey> {
        let id = match self.parse_key_ref(key_id)? {
            KmsResource::Key(id) => id,
            KmsResource::Alias(name) => self.alias_target(&name)?,
        };
        // Existence (and any deletion that has come due) is checked here, once.
        let key = self.key(id)?;
        Ok(ResolvedKey {
            id,
            arn: self.arns.key(key.record.id),
        })
    }

    /// Whether key `id` is cached and has no time-driven work due: operations on it will not touch
    /// the store, so a front end may run them without a blocking thread.
    pub fn is_hot(&self, id: Uuid) -> bool {
        let now = self.now();
        self.cached(id)
            .is_some_and(|k| !k.deletion_due(now) && !k.rotation_due(now) && !k.expiry_due(now))
    }

    /// [`Kms::resolve`] from memory only: `None` when answering would need the store.
    pub fn resolve_hot(&self, key_id: &str) -> Option<Result<ResolvedKey>> {
        let id = match self.parse_key_ref(key_id) {
            Err(e) => return Some(Err(e)),
            Ok(KmsResource::Key(id)) => id,
            Ok(KmsResource::Alias(name)) => {
                *self.aliases.read().expect("alias cache").get(&name)?
            }
        };
        self.is_hot(id).then(|| {
            Ok(ResolvedKey {
                id,
                arn: self.arns.key(id),
            })
        })
    }

    /// Refuses an alias where AWS wants a key id or key ARN (CreateAlias's TargetKeyId,
    /// ListAliases's KeyId).
    pub fn require_key_reference(&self, key_id: &str, field: &str) -> Result<()> {
        match self.parse_key_ref(key_id)? {
            KmsResource::Key(_) => Ok(()),
            KmsResource::Alias(_) => Err(Error::validation(format!(
                "{field} must be a key ID or key ARN, not an alias."
            ))),
        }
    }

    fn parse_key_ref(&self, key_id: &str) -> Result<KmsResource> {
        if key_id.is_empty() {
            return Err(Error::validation(
                "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
            ));
        }
        if key_id.len() > 2048 {
            return Err(Error::validation(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048",
            ));
        }
        let invalid = || Error::not_found(format!("Invalid keyId '{}'", truncate(key_id, 300)));
        if key_id.starts_with("arn:") {
            return self.arns.parse_kms(key_id).ok_or_else(invalid);
        }
        if key_id.starts_with("alias/") {
            return Ok(KmsResource::Alias(key_id.to_string()));
        }
        Uuid::try_parse(key_id)
            .ok()
            .filter(|_| key_id.len() == 36)
            .map(KmsResource::Key)
            .ok_or_else(invalid)
    }

    fn alias_target(&self, name: &str) -> Result<Uuid> {
        if let Some(id) = self.aliases.read().expect("alias cache").get(name) {
            return Ok(*id);
        }
        // As in `load`: under the writer lock, so that an UpdateAlias or DeleteAlias committing
        // meanwhile cannot be overwritten in the cache by this older read (nor, by the
        // generation, one another replica made).
        let _guard = self.local_lock()?;
        if let Some(id) = self.aliases.read().expect("alias cache").get(name) {
            return Ok(*id);
        }
        let generation = self.generation();
        match self.store.alias(name)? {
            Some(alias) => {
                let mut aliases = self.aliases.write().expect("alias cache");
                if self.generation() == generation {
                    aliases.insert(alias.name, alias.key_id);
                }
                Ok(alias.key_id)
            }
            None => Err(Error::not_found(format!(
                "Alias {} is not found.",
                self.arns.alias(name)
            ))),
        }
    }

    // --- The key cache -------------------------------------------------------------------------

    /// The live key `id`: NotFound if it does not exist or its deletion window has ended (the key is
    /// then deleted on the spot); rotated first if an automatic rotation is due.
    fn key(&self, id: Uuid) -> Result<Arc<CachedKey>> {
        let now = self.now();
        let key = match self.cached(id) {
            Some(key) => key,
            None => self.load(id)?.ok_or_else(|| self.not_found(id))?,
        };
        if key.deletion_due(now) {
            self.purge_if_due(id)?;
            return Err(self.not_found(id));
        }
        if key.expiry_due(now) {
            self.expire_material_if_due(id)?;
            return self.cached_or_loaded(id);
        }
        if key.rotation_due(now) {
            self.rotate_if_due(id)?;
            return self.cached_or_loaded(id);
        }
        Ok(key)
    }

    /// The key from the cache, or the store when it was dropped meanwhile (a replica's change).
    fn cached_or_loaded(&self, id: Uuid) -> Result<Arc<CachedKey>> {
        match self.cached(id) {
            Some(key) => Ok(key),
            None => self.load(id)?.ok_or_else(|| self.not_found(id)),
        }
    }

    fn cached(&self, id: Uuid) -> Option<Arc<CachedKey>> {
        self.keys.read().expect("key cache").get(&id).cloned()
    }

    /// The key as it is now, for a write: call under the writer lock, after [`Kms::key`] put the
    /// key in the cache. Absence means it was deleted meanwhile.
    fn current(&self, id: Uuid) -> Result<Arc<CachedKey>> {
        self.fresh(id)?.ok_or_else(|| self.not_found(id))
    }

    /// The key a write starts from: call under the writer lock. The cached key, or with replicas
    /// the key as stored now (re-read, so that a change another replica made a moment ago, not
    /// yet reported, is not overwritten by a write based on the older copy).
    fn fresh(&self, id: Uuid) -> Result<Option<Arc<CachedKey>>> {
        if !self.shared {
            return Ok(self.cached(id));
        }
        self.keys.write().expect("key cache").remove(&id);
        self.load_locked(id)
    }

    /// Loads a key from the store into the cache. Runs under the writer lock so that a concurrent
    /// write cannot be overtaken by this (older) read.
    fn load(&self, id: Uuid) -> Result<Option<Arc<CachedKey>>> {
        let _guard = self.local_lock()?;
        if let Some(key) = self.cached(id) {
            return Ok(Some(key));
        }
        self.load_locked(id)
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// [`Kms::load`] under the writer lock, whatever the cache holds.
    fn load_locked(&self, id: Uuid) -> Result<Option<Arc<CachedKey>>> {
        let generation = self.generation();
        let Some(record) = self.store.key(id)? else {
            self.keys.write().expect("key cache").remove(&id);
            return Ok(None);
        };
        let mut materials = BTreeMap::new();
        for version in self.store.materials(id)? {
            // Deleted imported material leaves its row without a sealed value.
            let Some(sealed) = &version.sealed else {
                continue;
            };
            let material = with_material_binding(&record, version.version, |b| {
                self.barrier.open(Purpose::KeyMaterial, b, sealed)
            })
            .ok()
            .and_then(|plain| Material::from_stored(record.key_spec, &plain).ok())
            .ok_or_else(|| {
                tracing::error!(key_id = %id, version = version.version, "key material does not unseal");
                Error::internal("The key material of this key cannot be read.")
            })?;
            materials.insert(version.version, Arc::new(material));
        }
        let key = Arc::new(CachedKey { record, materials });
        let mut keys = self.keys.write().expect("key cache");
        if self.generation() == generation {
            keys.insert(id, key.clone());
        }
        Ok(Some(key))
    }

    /// Writes new metadata for a cached key (store first, then cache). Call under the writer lock.
    fn put_record(&self, current: &CachedKey, record: KeyRecord) -> Result<Arc<CachedKey>> {
        self.store.update_key(&record)?;
        let key = Arc::new(CachedKey {
            record,
            materials: current.materials.clone(),
        });
        self.keys
            .write()
            .expect("key cache")
            .insert(key.record.id, key.clone());
        Ok(key)
    }

    /// Applies `change` to the current record of key `id` under the writer lock. `change` checks the
    /// key state and returns the new record, or `None` (or an equal record) when nothing changes.
    fn update_key(
        &self,
        id: Uuid,
        change: impl FnOnce(&KeyRecord, SystemTime) -> Result<Option<KeyRecord>>,
    ) -> Result<Arc<CachedKey>> {
        self.key(id)?;
        let _guard = self.write_lock()?;
        let current = self.current(id)?;
        match change(&current.record, self.now())? {
            Some(record) if record != current.record => self.put_record(&current, record),
            _ => Ok(current),
        }
    }

    /// Seals material for `record` at `version`.
    fn seal_material(
        &self,
        record: &KeyRecord,
        version: u32,
        material: &Material,
    ) -> Result<Vec<u8>> {
        let bytes = material.to_bytes();
        Ok(with_material_binding(record, version, |b| {
            self.barrier.seal(Purpose::KeyMaterial, b, &bytes)
        })?)
    }

    /// Adds a material version (rotation) and makes it current.
    fn add_material(
        &self,
        current: &CachedKey,
        record: KeyRecord,
        rotation_type: RotationType,
    ) -> Result<Arc<CachedKey>> {
        let material = Material::generate(record.key_spec)?;
        let version = record.current_version;
        let stored = MaterialVersion {
            key_id: record.id,
            version,
            created_at: self.now(),
            rotation_type: Some(rotation_type),
            sealed: Some(self.seal_material(&record, version, &material)?),
            fingerprint: None,
        };
        self.put_material(current, record, stored, Arc::new(material))
    }

    /// Writes one material version (`stored`, sealing `material`) and the key's new record, store
    /// first, then cache. Call under the writer lock.
    fn put_material(
        &self,
        current: &CachedKey,
        record: KeyRecord,
        stored: MaterialVersion,
        material: Arc<Material>,
    ) -> Result<Arc<CachedKey>> {
        match stored.fingerprint {
            Some(_) => self.store.import_material(&record, &stored)?,
            None => self.store.add_material(&record, &stored)?,
        }
        let mut materials = current.materials.clone();
        materials.insert(stored.version, material);
        let key = Arc::new(CachedKey { record, materials });
        self.keys
            .write()
            .expect("key cache")
            .insert(key.record.id, key.clone());
        Ok(key)
    }

    // --- Time-driven work ----------------------------------------------------------------------

    fn purge_if_due(&self, id: Uuid) -> Result<bool> {
        let _guard = self.write_lock()?;
        let now = self.now();
        let due = match self.fresh(id)? {
            Some(key) => key.deletion_due(now),
            None => self.store.key(id)?.is_some_and(|r| {
                r.state == KeyState::PendingDeletion && r.deletion_date.is_some_and(|d| d <= now)
            }),
        };
        if !due {
            return Ok(false);
        }
        self.store.delete_key(id)?;
        self.keys.write().expect("key cache").remove(&id);
        self.aliases
            .write()
            .expect("alias cache")
            .retain(|_, target| *target != id);
        tracing::info!(key_id = %id, "deleted key at the end of its deletion window");
        Ok(true)
    }

    fn rotate_if_due(&self, id: Uuid) -> Result<bool> {
        let current = match self.cached(id) {
            Some(key) => key,
            None => match self.load(id)? {
                Some(key) => key,
                None => return Ok(false),
            },
        };
        drop(current);
        let _guard = self.write_lock()?;
        let Some(current) = self.fresh(id)? else {
            return Ok(false);
        };
        let now = self.now();
        if !current.rotation_due(now) {
            return Ok(false);
        }
        let mut record = current.record.clone();
        let schedule = record
            .rotation
            .as_mut()
            .expect("rotation due implies a schedule");
        // One rotation however long the key sat past its date, as AWS does.
        schedule.next_rotation = now + crate::clock::DAY * schedule.period_days;
        record.current_version += 1;
        let version = record.current_version;
        if let Err(err) = self.add_material(&current, record, RotationType::Automatic) {
            // Another replica may have rotated it first (the version was taken): then it is
            // done, as far as this one is concerned.
            if self.shared
                && self
                    .load_locked(id)?
                    .is_some_and(|k| k.record.current_version >= version)
            {
                return Ok(false);
            }
            return Err(err);
        }
        tracing::info!(key_id = %id, "rotated key material automatically");
        Ok(true)
    }

    /// Unseals the material of every key (a check after copying the vault: `vaultctl admin
    /// migrate`): returns how many keys and material versions opened. Changes nothing.
    pub fn verify_material(&self) -> Result<(usize, usize)> {
        let (mut keys, mut versions) = (0, 0);
        let mut after = None;
        loop {
            let page = self.store.list_keys(after, 100)?;
            let Some(last) = page.last() else {
                return Ok((keys, versions));
            };
            after = Some(last.id);
            for record in &page {
                let key = self
                    .load(record.id)?
                    .ok_or_else(|| self.not_found(record.id))?;
                keys += 1;
                versions += key.materials.len();
            }
        }
    }

    /// Deletes every key whose deletion window has ended.
    fn purge_due_deletions(&self) -> Result<usize> {
        let mut deleted = 0;
        for id in self.store.keys_due_for_deletion(self.now())? {
            deleted += usize::from(self.purge_if_due(id)?);
        }
        Ok(deleted)
    }

    /// Deletes keys whose deletion window has ended and rotates keys whose rotation is due.
    /// A key that fails is logged and skipped, so that it cannot hold up the others.
    pub fn run_maintenance(&self) -> Result<MaintenanceReport> {
        let mut report = MaintenanceReport::default();
        for id in self.store.keys_due_for_deletion(self.now())? {
            match self.purge_if_due(id) {
                Ok(done) => report.deleted += usize::from(done),
                Err(err) => {
                    tracing::warn!(key_id = %id, error = %err, "deleting a key failed; will retry")
                }
            }
        }
        for id in self.store.keys_due_for_material_expiry(self.now())? {
            match self.expire_material_if_due(id) {
                Ok(done) => report.expired += usize::from(done),
                Err(err) => {
                    tracing::warn!(key_id = %id, error = %err, "expiring imported key material failed; will retry")
                }
            }
        }
        for id in self.store.keys_due_for_rotation(self.now())? {
            match self.rotate_if_due(id) {
                Ok(done) => report.rotated += usize::from(done),
                Err(err) => {
                    tracing::warn!(key_id = %id, error = %err, "rotating a key failed; will retry")
                }
            }
        }
        Ok(report)
    }
}

/// Runs `f` with the binding of a key's sealed material: the key id and version, and the key's
/// immutable spec and usage (`SPEC/USAGE`).
fn with_material_binding<T>(
    record: &KeyRecord,
    version: u32,
    f: impl FnOnce(&Binding<'_>) -> T,
) -> T {
    let mut stable_id = [0u8; 20];
    stable_id[..16].copy_from_slice(record.id.as_bytes());
    stable_id[16..].copy_from_slice(&version.to_be_bytes());
    let immutable = format!("{}/{}", record.key_spec, record.key_usage);
    f(&Binding {
        table: MATERIAL_TABLE,
        column: MATERIAL_COLUMN,
        stable_id: &stable_id,
        immutable: immutable.as_bytes(),
    })
}

/// Automatic rotation applies to symmetric keys whose material vaultd generated.
fn auto_rotatable(record: &KeyRecord) -> bool {
    record.key_spec == KeySpec::SymmetricDefault && record.origin == Origin::AwsKms
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
