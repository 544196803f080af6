//! Request throttling (auth.md, Throttling): token buckets per access key and AWS-like request
//! class. Excess requests are refused with how long to wait; the front end turns that into
//! RESOURCE_EXHAUSTED / ThrottlingException.
//!
//! - Each (caller, class) bucket holds up to one second of the class's rate (the burst) and refills
//!   continuously. Accounting is exact integer arithmetic: a token is [`NANOS_PER_SEC`] units and a
//!   bucket gains `rate` units per nanosecond, so no precision is lost at any rate.
//! - Time comes from the injected [`Clock`]. A clock going backwards never mints tokens: the
//!   bucket keeps what it has and counts refill from the new, earlier time.
//! - Buckets live in a sharded map looked up by `&str`; only a new caller allocates. Memory stays
//!   bounded although callers are not (every session has its own access key id): when a shard grows
//!   past [`SHARD_LIMIT`] entries, callers whose buckets are all full are dropped. A full bucket
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
mod tests {
    use std::{sync::Barrier, thread};

    use super::*;
    use crate::clock::ManualClock;

    const KEY: &str = "AKIAEXAMPLEKEY234567";

    fn throttle(config: &str) -> (Throttle, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::starting_now());
        let config = ThrottleConfig::parse(config).unwrap();
        (Throttle::new(config, clock.clone()), clock)
    }

    /// Checks until refused; the number of successes and the refusal's retry-after.
    fn drain(t: &Throttle, caller: &str, class: RequestClass) -> (u32, Duration) {
        let mut allowed = 0;
        loop {
            match t.check(caller, class) {
                Ok(()) => allowed += 1,
                Err(retry_after) => return (allowed, retry_after),
            }
            assert!(allowed <= 1_000_000, "never throttled");
        }
    }

    #[test]
    fn defaults_and_off() {
        let d = ThrottleConfig::aws_defaults();
        assert_eq!(d.rate(RequestClass::Symmetric), Some(10_000));
        assert_eq!(d.rate(RequestClass::Asymmetric), Some(1_000));
        assert_eq!(d.rate(RequestClass::Read), Some(1_000));
        assert_eq!(d.rate(RequestClass::Write), Some(100));
        assert!(!d.is_off());
        let off = ThrottleConfig::off();
        assert!(off.is_off());
        assert!(RequestClass::ALL.iter().all(|&c| off.rate(c).is_none()));
        assert_eq!(
            RequestClass::ALL.map(RequestClass::name),
            ["symmetric", "asymmetric", "read", "write"]
        );
        for (i, class) in RequestClass::ALL.into_iter().enumerate() {
            assert_eq!(class.index(), i);
        }
    }

    #[test]
    fn parse_accepts_keywords_and_overrides() {
        assert_eq!(ThrottleConfig::parse("off"), Ok(ThrottleConfig::off()));
        assert_eq!(ThrottleConfig::parse(" OFF "), Ok(ThrottleConfig::off()));
        assert_eq!(
            ThrottleConfig::parse("default"),
            Ok(ThrottleConfig::aws_defaults())
        );
        assert_eq!(
            ThrottleConfig::parse("symmetric=500,write=10"),
            Ok(ThrottleConfig {
                rates: [Some(500), Some(1_000), Some(1_000), Some(10)]
            })
        );
        assert_eq!(
            ThrottleConfig::parse(" write = off , Read=4294967295 "),
            Ok(ThrottleConfig {
                rates: [Some(10_000), Some(1_000), Some(u32::MAX), None]
            })
        );
        let all_off = ThrottleConfig::parse("symmetric=off,asymmetric=off,read=off,write=off");
        assert!(all_off.unwrap().is_off());
    }

    #[test]
    fn display_round_trips_through_parse() {
        for config in [
            ThrottleConfig::off(),
            ThrottleConfig::aws_defaults(),
            ThrottleConfig::parse("asymmetric=7,write=off").unwrap(),
        ] {
            let text = config.to_string();
            assert_eq!(ThrottleConfig::parse(&text), Ok(config), "{text}");
        }
        assert_eq!(
            ThrottleConfig::aws_defaults().to_string(),
            "symmetric=10000,asymmetric=1000,read=1000,write=100"
        );
    }

    #[test]
    fn parse_errors_name_the_bad_part() {
        for (input, expected) in [
            ("", "empty throttle setting"),
            ("   ", "empty throttle setting"),
            ("fast=10", "unknown request class \"fast\""),
            ("symmetric=500,crypto=1", "unknown request class \"crypto\""),
            ("write=0", "bad rate \"0\" for request class write"),
            ("write=-5", "bad rate \"-5\" for request class write"),
            ("write=+5", "bad rate \"+5\" for request class write"),
            ("read=1.5", "bad rate \"1.5\" for request class read"),
            ("read=", "bad rate \"\" for request class read"),
            ("read=4294967296", "bad rate \"4294967296\""),
            ("read=lots", "bad rate \"lots\""),
            ("write", "bad throttle entry \"write\""),
            ("off,write=10", "bad throttle entry \"off\""),
            ("default,write=10", "bad throttle entry \"default\""),
            ("write=10,,read=5", "empty entry"),
            ("write=10,", "empty entry"),
            ("write=10,write=20", "write is given more than once"),
            ("=10", "unknown request class \"\""),
        ] {
            let err = ThrottleConfig::parse(input).expect_err(input);
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }

    #[test]
    fn classification() {
        use RequestClass::*;
        for (action, class) in [
            ("kms:Encrypt", Symmetric),
            ("kms:Decrypt", Symmetric),
            ("kms:ReEncrypt", Symmetric),
            ("kms:GenerateDataKey", Symmetric),
            ("kms:GenerateDataKeyWithoutPlaintext", Symmetric),
            ("kms:GenerateRandom", Symmetric),
            ("kms:GenerateMac", Symmetric),
            ("kms:VerifyMac", Symmetric),
            ("kms:Sign", Asymmetric),
            ("kms:Verify", Asymmetric),
            ("kms:GetPublicKey", Asymmetric),
            ("kms:GenerateDataKeyPair", Asymmetric),
            ("kms:GenerateDataKeyPairWithoutPlaintext", Asymmetric),
            ("kms:DeriveSharedSecret", Asymmetric),
            ("kms:DescribeKey", Read),
            ("kms:ListKeys", Read),
            ("kms:ListAliases", Read),
            ("kms:GetKeyPolicy", Read),
            ("kms:GetKeyRotationStatus", Read),
            ("sts:GetCallerIdentity", Read),
            ("ssm:GetParameter", Read),
            ("ssm:GetParameters", Read),
            ("ssm:GetParametersByPath", Read),
            ("ssm:GetParameterHistory", Read),
            ("ssm:DescribeParameters", Read),
            ("secretsmanager:GetSecretValue", Read),
            ("secretsmanager:DescribeSecret", Read),
            ("secretsmanager:ListSecrets", Read),
            ("cloudtrail:LookupEvents", Read),
            ("iam:SimulatePrincipalPolicy", Read),
            ("iam:GetUser", Read),
            ("iam:CreateUser", Write),
            ("iam:DeleteAccessKey", Write),
            ("iam:PutUserPolicy", Write),
            ("kms:CreateKey", Write),
            ("kms:ScheduleKeyDeletion", Write),
            ("kms:CancelKeyDeletion", Write),
            ("kms:EnableKeyRotation", Write),
            ("kms:DisableKey", Write),
            ("kms:RotateKeyOnDemand", Write),
            ("kms:TagResource", Write),
            ("kms:UntagResource", Write),
            ("kms:ImportKeyMaterial", Write),
            ("kms:GetParametersForImport", Write),
            ("kms:UpdateAlias", Write),
            ("ssm:PutParameter", Write),
            ("secretsmanager:UpdateSecret", Write),
            ("sts:GetSessionToken", Write),
            ("sts:GetFederationToken", Write),
            ("sts:AssumeRole", Write),
            ("kms:Frobnicate", Write),
            ("", Write),
            ("kms:", Write),
            ("Encrypt", Symmetric),
            ("kms:encrypt", Write),
        ] {
            assert_eq!(RequestClass::of_action(action), class, "{action}");
        }
    }

    #[test]
    fn burst_up_to_capacity_then_throttled() {
        let (t, _clock) = throttle("default");
        let (allowed, retry_after) = drain(&t, KEY, RequestClass::Write);
        assert_eq!(allowed, 100);
        // One token at 100/s takes 10 ms.
        assert_eq!(retry_after, Duration::from_millis(10));

        let (allowed, retry_after) = drain(&t, KEY, RequestClass::Symmetric);
        assert_eq!(allowed, 10_000);
        assert_eq!(retry_after, Duration::from_micros(100));
    }

    #[test]
    fn refill_is_continuous_and_capped() {
        let (t, clock) = throttle("write=10");
        assert_eq!(drain(&t, KEY, RequestClass::Write).0, 10);

        // Half a token's worth of time: still throttled, and the wait shrinks accordingly.
        clock.advance(Duration::from_millis(50));
        assert_eq!(
            t.check(KEY, RequestClass::Write),
            Err(Duration::from_millis(50))
        );
        clock.advance(Duration::from_millis(50));
        assert_eq!(t.check(KEY, RequestClass::Write), Ok(()));
        assert_eq!(
            t.check(KEY, RequestClass::Write),
            Err(Duration::from_millis(100))
        );

        // Partial: 0.35 s at 10/s is 3.5 tokens.
        clock.advance(Duration::from_millis(350));
        let (allowed, retry_after) = drain(&t, KEY, RequestClass::Write);
        assert_eq!(allowed, 3);
        assert_eq!(retry_after, Duration::from_millis(50));

        // Full, and no more than full however long the wait.
        clock.advance(Duration::from_secs(3_600));
        assert_eq!(drain(&t, KEY, RequestClass::Write).0, 10);
    }

    #[test]
    fn refill_is_exact_at_high_rates() {
        let (t, clock) = throttle("default");
        assert_eq!(drain(&t, KEY, RequestClass::Symmetric).0, 10_000);
        // 10,000/s is one token per 100 µs; 1,000 steps of 100 µs give exactly 1,000 tokens.
        let mut allowed = 0;
        for _ in 0..1_000 {
            clock.advance(Duration::from_micros(100));
            allowed += drain(&t, KEY, RequestClass::Symmetric).0;
        }
        assert_eq!(allowed, 1_000);
        // One nanosecond short of a token is still refused, with exactly that long to wait.
        clock.advance(Duration::from_nanos(99_999));
        assert_eq!(
            t.check(KEY, RequestClass::Symmetric),
            Err(Duration::from_nanos(1))
        );
        clock.advance(Duration::from_nanos(1));
        assert_eq!(t.check(KEY, RequestClass::Symmetric), Ok(()));

        // A rate that does not divide a second: 3/s, a token every 333,333,333.3 ns.
        let (t, clock) = throttle("read=3");
        assert_eq!(drain(&t, KEY, RequestClass::Read).0, 3);
        clock.advance(Duration::from_nanos(333_333_333));
        assert_eq!(
            t.check(KEY, RequestClass::Read),
            Err(Duration::from_nanos(1))
        );
        clock.advance(Duration::from_nanos(1));
        assert_eq!(t.check(KEY, RequestClass::Read), Ok(()));
    }

    #[test]
    fn callers_and_classes_have_separate_buckets() {
        let (t, _clock) = throttle("write=5,read=3");
        assert_eq!(drain(&t, KEY, RequestClass::Write).0, 5);
        assert_eq!(drain(&t, "AKIAOTHERKEY23456789", RequestClass::Write).0, 5);
        assert_eq!(drain(&t, KEY, RequestClass::Read).0, 3);
        assert_eq!(drain(&t, "AKIAOTHERKEY23456789", RequestClass::Read).0, 3);
        assert_eq!(drain(&t, KEY, RequestClass::Asymmetric).0, 1_000);
        assert!(t.check(KEY, RequestClass::Write).is_err());
    }

    #[test]
    fn unlimited_classes_never_throttle_nor_store() {
        let (t, _clock) = throttle("off");
        for class in RequestClass::ALL {
            for _ in 0..20_000 {
                assert_eq!(t.check(KEY, class), Ok(()));
            }
        }
        let (t, _clock) = throttle("write=off");
        for _ in 0..20_000 {
            assert_eq!(t.check(KEY, RequestClass::Write), Ok(()));
        }
        assert_eq!(t.shard_sizes().iter().sum::<usize>(), 0);
        assert_eq!(drain(&t, KEY, RequestClass::Read).0, 1_000);
    }

    #[test]
    fn clock_going_backwards_neither_panics_nor_refills() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_662_978);
        let clock = Arc::new(ManualClock::new(start));
        let t = Throttle::new(ThrottleConfig::parse("write=10").unwrap(), clock.clone());
        assert_eq!(drain(&t, KEY, RequestClass::Write).0, 10);

        // Back an hour: nothing refilled, no panic, a sensible wait.
        let clock = Arc::new(ManualClock::new(start - Duration::from_secs(3_600)));
        let t = Throttle {
            clock: clock.clone(),
            ..t
        };
        assert_eq!(
            t.check(KEY, RequestClass::Write),
            Err(Duration::from_millis(100))
        );
        // Time then passes normally from the earlier reading.
        clock.advance(Duration::from_millis(250));
        assert_eq!(drain(&t, KEY, RequestClass::Write).0, 2);

        // Before the epoch altogether: still no panic and no refill.
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH - Duration::from_secs(10)));
        let t = Throttle { clock, ..t };
        assert!(t.check(KEY, RequestClass::Write).is_err());
        assert_eq!(drain(&t, "AKIANEWKEY2345678901", RequestClass::Write).0, 10);
    }

    #[test]
    fn eviction_keeps_the_map_bounded() {
        let (t, clock) = throttle("default");
        let callers = 20 * SHARD_LIMIT * SHARDS / 16;
        for n in 0..callers {
            assert_eq!(t.check(&format!("ASIA{n:016}"), RequestClass::Read), Ok(()));
            if n % 1_000 == 999 {
                // Older callers' buckets become full again, hence evictable.
                clock.advance(Duration::from_secs(1));
            }
        }
        let sizes = t.shard_sizes();
        assert!(sizes.iter().all(|&s| s <= SHARD_LIMIT), "{sizes:?}");
        assert!(sizes.iter().sum::<usize>() < callers / 2, "{sizes:?}");

        // Eviction changes no answer: a caller still active keeps its partly refilled bucket while
        // idle ones around it are dropped.
        let (t, clock) = throttle("write=2");
        assert_eq!(drain(&t, KEY, RequestClass::Write).0, 2);
        let batch = SHARD_LIMIT * SHARDS;
        for n in 0..batch {
            t.check(&format!("ASIA{n:016}"), RequestClass::Write)
                .unwrap();
        }
        // These callers used 1 token of 2 and are full again; KEY used 2 and has 1.2.
        clock.advance(Duration::from_millis(600));
        for n in 0..2 * batch {
            t.check(&format!("ASIAX{n:015}"), RequestClass::Write)
                .unwrap();
        }
        assert!(t.shard_sizes().iter().sum::<usize>() < 3 * batch);
        assert!(t.check(KEY, RequestClass::Write).is_ok());
        assert!(t.check(KEY, RequestClass::Write).is_err());
    }

    #[test]
    fn all_active_callers_are_kept_and_sweeps_back_off() {
        let (t, clock) = throttle("write=1");
        // Frozen clock: every caller is active, nothing may be dropped.
        let callers = 2 * SHARD_LIMIT * SHARDS;
        for n in 0..callers {
            t.check(&format!("ASIA{n:016}"), RequestClass::Write)
                .unwrap();
        }
        assert_eq!(t.shard_sizes().iter().sum::<usize>(), callers);
        for n in (0..callers).step_by(997) {
            assert!(
                t.check(&format!("ASIA{n:016}"), RequestClass::Write)
                    .is_err()
            );
        }
        // Once idle, the next sweep brings each shard back under the limit.
        clock.advance(Duration::from_secs(1));
        for n in 0..SHARD_LIMIT * SHARDS {
            t.check(&format!("AKIA{n:016}"), RequestClass::Write)
                .unwrap();
        }
        clock.advance(Duration::from_secs(1));
        for n in 0..4 * SHARD_LIMIT * SHARDS {
            t.check(&format!("ASIAX{n:015}"), RequestClass::Write)
                .unwrap();
            if n % 1_000 == 999 {
                clock.advance(Duration::from_secs(1));
            }
        }
        let sizes = t.shard_sizes();
        assert!(sizes.iter().all(|&s| s <= SHARD_LIMIT), "{sizes:?}");
    }

    #[test]
    fn concurrent_callers_get_at_most_capacity() {
        let (t, clock) = throttle("write=100");
        let t = Arc::new(t);
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (t, barrier) = (t.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    (0..1_000)
                        .filter(|_| t.check(KEY, RequestClass::Write).is_ok())
                        .count()
                })
            })
            .collect();
        let allowed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(allowed, 100);

        clock.advance(Duration::from_millis(100));
        assert_eq!(drain(&t, KEY, RequestClass::Write).0, 10);
    }

    #[test]
    fn debug_shows_config() {
        let (t, _clock) = throttle("write=7");
        let text = format!("{t:?}");
        assert!(text.starts_with("Throttle {"), "{text}");
        assert!(text.contains("Some(7)"), "{text}");
    }
}
