//! Request throttling (auth.md, Throttling): token buckets per access key and AWS-like request
//! class. Excess requests are refused with how long to wait; the front end turns that into
//! RESOURCE_EXHAUSTED / ThrottlingException.
//!
//! - Each (caller, class) bucket holds up to one second of the class's rate (the burst) and refills
//!   continuously. Accounting is exact integer arithmetic: a token is `NANOS_PER_SEC` units and a
//!   bucket gains `rate` units per nanosecond, so no precision is lost at any rate.
//! - Time comes from the injected [`Clock`]. A clock going backwards never mints tokens: the
//!   bucket keeps what it has and counts refill from the new, earlier time.
//! - Buckets live in a sharded map looked up by `&str`; only a new caller allocates. Memory stays
//!   bounded although callers are not (every session has its own access key id): when a shard grows
//!   past `SHARD_LIMIT` entries, callers whose buckets are all full are dropped. A full bucket
//!   behaves exactly like a fresh one, so eviction never changes an answer; a bucket that is not
//!   full was used within the last second, so what remains is bounded by the request rate.

use std::{
    collections::HashMap,
    fmt,
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::clock::Clock;

/// AWS-like request classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestClass {
    Symmetric,
    Asymmetric,
    Read,
    Write,
}

/// Operations on symmetric keys (AWS: "cryptographic operations (symmetric)").
const SYMMETRIC_OPERATIONS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GenerateMac",
    "VerifyMac",
    // vaultd's field-level encryption: a data key's encryption and decryption, done inside.
    "EncryptFields",
    "DecryptFields",
];

/// Operations with asymmetric keys (AWS: "cryptographic operations (RSA/ECC)").
const ASYMMETRIC_OPERATIONS: &[&str] = &[
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "DeriveSharedSecret",
];

/// Operations that look like reads by name but mint credentials or key material.
const WRITES_NAMED_LIKE_READS: &[&str] = &[
    "GetSessionToken",
    "GetFederationToken",
    "GetParametersForImport",
];

const READ_PREFIXES: &[&str] = &["Describe", "Get", "List", "Lookup", "Simulate"];

impl RequestClass {
    pub const ALL: [RequestClass; 4] = [
        RequestClass::Symmetric,
        RequestClass::Asymmetric,
        RequestClass::Read,
        RequestClass::Write,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RequestClass::Symmetric => "symmetric",
            RequestClass::Asymmetric => "asymmetric",
            RequestClass::Read => "read",
            RequestClass::Write => "write",
        }
    }

    /// The class of an action such as "kms:Encrypt", "kms:Sign", "kms:DescribeKey", "iam:CreateUser",
    /// "sts:GetCallerIdentity", "ssm:GetParameter", "secretsmanager:GetSecretValue", "cloudtrail:LookupEvents".
    ///
    /// Only the operation (after the first `:`) counts. Anything not recognised is a write, the
    /// most conservative class.
    pub fn of_action(action: &str) -> RequestClass {
        let operation = action.split_once(':').map_or(action, |(_, op)| op);
        if SYMMETRIC_OPERATIONS.contains(&operation) {
            RequestClass::Symmetric
        } else if ASYMMETRIC_OPERATIONS.contains(&operation) {
            RequestClass::Asymmetric
        } else if WRITES_NAMED_LIKE_READS.contains(&operation) {
            RequestClass::Write
        } else if READ_PREFIXES.iter().any(|p| operation.starts_with(p)) {
            RequestClass::Read
        } else {
            RequestClass::Write
        }
    }

    /// The position in [`RequestClass::ALL`] and [`ThrottleConfig::rates`].
    fn index(self) -> usize {
        self as usize
    }

    fn from_name(name: &str) -> Option<RequestClass> {
        RequestClass::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for RequestClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Requests per second per class; `None` = unlimited.
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottleConfig {
    /// Indexed like [`RequestClass::ALL`].
    pub rates: [Option<u32>; 4],
}

impl ThrottleConfig {
    /// AWS-like defaults: symmetric 10,000/s, asymmetric 1,000/s, read 1,000/s, write 100/s.
    pub fn aws_defaults() -> Self {
        Self {
            rates: [Some(10_000), Some(1_000), Some(1_000), Some(100)],
        }
    }

    /// No throttling at all (dev mode).
    pub fn off() -> Self {
        Self { rates: [None; 4] }
    }

    pub fn is_off(&self) -> bool {
        self.rates.iter().all(Option::is_none)
    }

    pub fn rate(&self, class: RequestClass) -> Option<u32> {
        self.rates[class.index()]
    }

    /// Parses the operator's setting: "off", "default", or comma-separated `class=rate` overrides on
    /// top of the defaults, e.g. "symmetric=500,write=10" ("write=off" makes one class unlimited).
    /// Errors name the bad part: unknown class, rate not a positive integer, etc.
    ///
    /// Whitespace around parts is ignored; keywords and class names are case-insensitive.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self::off());
        }
        if text.eq_ignore_ascii_case("default") {
            return Ok(Self::aws_defaults());
        }
        if text.is_empty() {
            return Err(
                "empty throttle setting: expected \"off\", \"default\", or class=rate \
                        overrides such as \"symmetric=500,write=10\""
                    .to_owned(),
            );
        }
        let mut config = Self::aws_defaults();
        let mut seen = [false; 4];
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "empty entry in throttle setting {text:?}: expected class=rate, separated by commas"
                ));
            }
            let Some((name, rate)) = part.split_once('=') else {
                return Err(format!(
                    "bad throttle entry {part:?}: expected class=rate, e.g. \"write=10\" \
                     (\"off\" and \"default\" stand alone)"
                ));
            };
            let (name, rate) = (name.trim(), rate.trim());
            let class = RequestClass::from_name(name).ok_or_else(|| {
                format!(
                    "unknown request class {name:?} in throttle entry {part:?}: expected one of \
                     symmetric, asymmetric, read, write"
                )
            })?;
            if std::mem::replace(&mut seen[class.index()], true) {
                return Err(format!(
                    "request class {class} is given more than once in throttle setting {text:?}"
                ));
            }
            config.rates[class.index()] = parse_rate(rate).ok_or_else(|| {
                format!(
                    "bad rate {rate:?} for request class {class}: expected a whole number of \
                     requests per second from 1 to {}, or \"off\" for unlimited",
                    u32::MAX
                )
            })?;
        }
        Ok(config)
    }
}

/// `Some(None)` for "off", `Some(Some(n))` for a positive integer, `None` for anything else.
fn parse_rate(text: &str) -> Option<Option<u32>> {
    if text.eq_ignore_ascii_case("off") {
        return Some(None);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|&n| n > 0).map(Some)
}

/// The form [`ThrottleConfig::parse`] reads back: "off", or every class as `class=rate`.
impl fmt::Display for ThrottleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            return f.write_str("off");
        }
        for (i, class) in RequestClass::ALL.into_iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match self.rate(class) {
                Some(rate) => write!(f, "{class}={rate}")?,
                None => write!(f, "{class}=off")?,
            }
        }
        Ok(())
    }
}

const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Units per token: a bucket at `rate` tokens per second gains `rate` units per nanosecond.
const UNITS_PER_TOKEN: u64 = NANOS_PER_SEC;
/// Number of map shards (a power of two).
const SHARDS: usize = 16;
/// Entries a shard may hold before idle callers are swept out.
const SHARD_LIMIT: usize = 4_096;

/// One (caller, class) bucket. Tokens are in units of `1 / UNITS_PER_TOKEN` token; capacity is
/// `rate * UNITS_PER_TOKEN` (≤ 4.3e18, so sums of two stay within u64).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    units: u64,
    /// Clock reading of the last refill, in nanoseconds since the Unix epoch.
    last: u64,
}

impl Bucket {
    fn full(rate: u32, now: u64) -> Self {
        Self {
            units: capacity(rate),
            last: now,
        }
    }

    /// The units held at `now`, without changing the bucket. Refill is capped at one second of
    /// elapsed time (a bucket refills completely in one second), which also bounds the product.
    fn units_at(&self, rate: u32, now: u64) -> u64 {
        let elapsed = now.saturating_sub(self.last).min(NANOS_PER_SEC);
        self.units
            .saturating_add(elapsed * u64::from(rate))
            .min(capacity(rate))
    }

    /// Brings the bucket to `now`. A clock that went backwards refills nothing; refill counts from
    /// the new reading.
    fn refill(&mut self, rate: u32, now: u64) {
        self.units = self.units_at(rate, now);
        self.last = now;
    }

    fn is_full_at(&self, rate: u32, now: u64) -> bool {
        self.units_at(rate, now) >= capacity(rate)
    }

    /// Takes one token, or says how long until one is available.
    fn take(&mut self, rate: u32, now: u64) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.units >= UNITS_PER_TOKEN {
            self.units -= UNITS_PER_TOKEN;
            Ok(())
        } else {
            let missing = UNITS_PER_TOKEN - self.units;
            Err(Duration::from_nanos(missing.div_ceil(u64::from(rate))))
        }
    }
}

fn capacity(rate: u32) -> u64 {
    u64::from(rate) * UNITS_PER_TOKEN
}

/// A caller's buckets, indexed like [`RequestClass::ALL`]; those of unlimited classes are unused.
type Buckets = [Bucket; 4];

#[derive(Debug)]
struct Shard {
    buckets: HashMap<Box<str>, Buckets>,
    /// Sweep for idle callers when inserting at this size. Normally [`SHARD_LIMIT`]; raised when a
    /// sweep frees little (every caller active), so sweeps stay amortised O(1) per insert.
    sweep_at: usize,
}

impl Shard {
    fn new() -> Self {
        Self {
            buckets: HashMap::new(),
            sweep_at: SHARD_LIMIT,
        }
    }

    /// Drops callers whose buckets are all full at `now`.
    fn sweep(&mut self, config: &ThrottleConfig, now: u64) {
        self.buckets.retain(|_, buckets| {
            !RequestClass::ALL.into_iter().all(|class| {
                config
                    .rate(class)
                    .is_none_or(|rate| buckets[class.index()].is_full_at(rate, now))
            })
        });
        let len = self.buckets.len();
        self.sweep_at = SHARD_LIMIT.max(len.saturating_mul(2));
        if self.buckets.capacity() > 4 * self.sweep_at {
            self.buckets.shrink_to(self.sweep_at);
        }
    }
}

/// A shard on its own cache lines, so that cores working on different shards do not contend.
#[repr(align(128))]
struct PaddedShard(Mutex<Shard>);

/// Token buckets per (caller key, class). Capacity = one second of the class's rate (burst), refill
/// continuous. Time comes from the injected clock (tests use ManualClock; never sleep). A clock going
/// backwards must not mint tokens or panic.
pub struct Throttle {
    config: ThrottleConfig,
    clock: Arc<dyn Clock>,
    hasher: RandomState,
    shards: Box<[PaddedShard]>,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    pub fn new(config: ThrottleConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| PaddedShard(Mutex::new(Shard::new())))
                .collect(),
        }
    }

    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// Takes one token for `caller` (an access key id) in `class`. Ok(()) when allowed, or
    /// Err(retry_after) with how long until a token is available.
    pub fn check(&self, caller: &str, class: RequestClass) -> Result<(), Duration> {
        let Some(rate) = self.config.rate(class) else {
            return Ok(());
        };
        let i = class.index();
        let mut shard = self.shard(caller);
        // Read the clock under the lock, so that requests of one caller see time in order.
        let now = nanos_since_epoch(self.clock.now());
        if let Some(buckets) = shard.buckets.get_mut(caller) {
            return buckets[i].take(rate, now);
        }
        if shard.buckets.len() >= shard.sweep_at {
            shard.sweep(&self.config, now);
        }
        let mut buckets: Buckets =
            std::array::from_fn(|c| Bucket::full(self.config.rates[c].unwrap_or(0), now));
        let answer = buckets[i].take(rate, now);
        shard.buckets.insert(caller.into(), buckets);
        answer
    }

    fn shard(&self, caller: &str) -> std::sync::MutexGuard<'_, Shard> {
        let index = self.hasher.hash_one(caller) as usize % SHARDS;
        // Nothing in a critical section can leave a shard inconsistent, so a poisoned lock is fine.
        self.shards[index]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Entries per shard, for tests of the memory bound.
    #[cfg(test)]
    fn shard_sizes(&self) -> Vec<usize> {
        (0..SHARDS)
            .map(|i| {
                self.shards[i]
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .buckets
                    .len()
            })
            .collect()
    }
}

/// Nanoseconds since the Unix epoch; 0 before it, saturating far in the future (year 2554).
fn nanos_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
