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
        ("kms:EncryptFields", Symmetric),
        ("kms:DecryptFields", Symmetric),
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
