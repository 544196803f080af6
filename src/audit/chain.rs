//! The hash chain: the canonical JSON body of an event (what its hash covers) and the check of a
//! stored chain. Pure functions, no store: vaultctl runs [`verify`] on events fetched over gRPC.
//!
//! Each body names the SHA-256 of the previous body (64 zeros for event 1), so editing,
//! deleting, inserting or reordering stored events breaks a link that [`verify`] reports. The
//! chain alone cannot tell that the newest events were cut off, nor that the newest event was
//! rewritten together with its hash: compare the head with one seen earlier for that.

use std::{fmt::Write as _, time::SystemTime};

use super::AuditEvent;
use crate::{
    clock::{format_basic_iso8601, to_unix_parts},
    crypto::sha256,
};

/// The canonical JSON body of an event, the bytes its hash covers. Deterministic: the same
/// arguments always give the same bytes. Members, in this order:
///
/// ```text
/// {"eventVersion":"1.0","sequence":N,"eventTime":"2026-11-26T03:16:18.123Z","eventId":"<request id>",
///  "eventSource":"kms.amazonaws.com","eventName":"Encrypt",
///  "userIdentity":{"type":"IAMUser","principalId":"<user id>","arn":"<user arn>","userName":"<name>",
///                  "accessKeyId":"<id>","sessionCredentials":false},
///  "resources":["arn:…"],"errorCode":null,"previousHash":"<64 lowercase hex>"}
/// ```
///
/// `eventSource` is the action's service prefix + `.amazonaws.com` (`unknown.amazonaws.com` for an
/// action without a prefix) and `eventName` the part after the `:`.
pub fn event_body(
    sequence: u64,
    previous_hash: &[u8; 32],
    event: &AuditEvent,
    resources: &[String],
    error_code: Option<&str>,
) -> String {
    let (service, operation) = event
        .action
        .split_once(':')
        .unwrap_or(("unknown", event.action.as_str()));
    let mut out = String::with_capacity(
        400 + event.request_id.len()
            + event.user_arn.len()
            + resources.iter().map(|r| r.len() + 3).sum::<usize>(),
    );
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        r#"{{"eventVersion":"1.0","sequence":{sequence},"eventTime":""#
    );
    push_time(&mut out, event.time);
    out.push_str(r#"","eventId":"#);
    push_string(&mut out, &event.request_id);
    out.push_str(r#","eventSource":"#);
    push_string(&mut out, &format!("{service}.amazonaws.com"));
    out.push_str(r#","eventName":"#);
    push_string(&mut out, operation);
    out.push_str(r#","userIdentity":{"type":"IAMUser","principalId":"#);
    push_string(&mut out, &event.user_id);
    out.push_str(r#","arn":"#);
    push_string(&mut out, &event.user_arn);
    out.push_str(r#","userName":"#);
    push_string(&mut out, &event.user_name);
    out.push_str(r#","accessKeyId":"#);
    push_string(&mut out, &event.access_key_id);
    let _ = write!(
        out,
        r#","sessionCredentials":{}}},"resources":["#,
        event.session
    );
    for (i, resource) in resources.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, resource);
    }
    out.push_str(r#"],"errorCode":"#);
    match error_code {
        Some(code) => push_string(&mut out, code),
        None => out.push_str("null"),
    }
    out.push_str(r#","previousHash":""#);
    out.push_str(&hex::encode(previous_hash));
    out.push_str("\"}");
    out
}

/// `2026-11-26T03:16:18.123Z`: UTC with milliseconds.
fn push_time(out: &mut String, time: SystemTime) {
    // `YYYYMMDDTHHMMSSZ`; the year may be longer than four digits, the rest is fixed.
    let basic = format_basic_iso8601(time);
    let n = basic.len();
    let millis = to_unix_parts(time).1 / 1_000_000;
    let _ = write!(
        out,
        "{}-{}-{}T{}:{}:{}.{millis:03}Z",
        &basic[..n - 12],
        &basic[n - 12..n - 10],
        &basic[n - 10..n - 8],
        &basic[n - 7..n - 5],
        &basic[n - 5..n - 3],
        &basic[n - 3..n - 1],
    );
}

/// Appends `s` as a JSON string, escaping as serde_json does.
fn push_string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // ASCII bytes are always character boundaries.
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// One stored event as [`verify`] needs it.
#[derive(Clone, Copy, Debug)]
pub struct ChainLink<'a> {
    pub sequence: u64,
    pub body: &'a str,
    pub hash: &'a [u8],
}

/// The end of a verified run of events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// How many events were checked.
    pub events: u64,
    /// The sequence of the last event checked (`first_sequence - 1` when none were given).
    pub last_sequence: u64,
    /// Its hash: what the next event must name (`previous` when none were given).
    pub last_hash: [u8; 32],
}

/// The first event at which the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event {sequence}: {reason}")]
pub struct BrokenLink {
    /// The sequence number the offending event is stored under.
    pub sequence: u64,
    pub reason: String,
}

/// Checks consecutive stored events, in ascending order. The first must be `first_sequence` and
/// name `previous` (all zeros when starting at event 1); each next one must be the following
/// sequence number and name the hash of the one before; every hash must be the SHA-256 of its
/// body. Returns the first broken link.
pub fn verify<'a>(
    records: impl IntoIterator<Item = ChainLink<'a>>,
    first_sequence: u64,
    previous: [u8; 32],
) -> Result<ChainHead, BrokenLink> {
    let mut head = ChainHead {
        events: 0,
        last_sequence: first_sequence.saturating_sub(1),
        last_hash: previous,
    };
    for link in records {
        let broken = |reason: String| BrokenLink {
            sequence: link.sequence,
            reason,
        };
        let expected = first_sequence.checked_add(head.events);
        if expected != Some(link.sequence) {
            return Err(broken(match expected {
                Some(expected) => format!(
                    "found where event {expected} belongs: an event is missing, inserted or out of order"
                ),
                None => "the sequence overflows".into(),
            }));
        }
        let hash: [u8; 32] = link.hash.try_into().map_err(|_| {
            broken(format!(
                "the stored hash has {} bytes, not 32",
                link.hash.len()
            ))
        })?;
        if sha256(link.body.as_bytes()) != hash {
            return Err(broken(
                "the stored hash is not the SHA-256 of the body: the event was altered".into(),
            ));
        }
        let body: serde_json::Value =
            serde_json::from_str(link.body).map_err(|_| broken("the body is not JSON".into()))?;
        match body.get("sequence").and_then(serde_json::Value::as_u64) {
            Some(named) if named == link.sequence => {}
            Some(named) => {
                return Err(broken(format!(
                    "the body names sequence {named}: the event was moved"
                )));
            }
            None => return Err(broken("the body has no sequence number".into())),
        }
        match body.get("previousHash").and_then(serde_json::Value::as_str) {
            Some(named) if named == hex::encode(head.last_hash) => {}
            Some(_) => {
                return Err(broken(
                    "the body does not name the previous event's hash: an event before it is \
                     missing or was altered"
                        .into(),
                ));
            }
            None => return Err(broken("the body names no previous hash".into())),
        }
        head.events += 1;
        head.last_sequence = link.sequence;
        head.last_hash = hash;
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// 2026-11-26T03:16:18.123Z, the date of auth.md's test vectors.
    fn event(n: u64) -> AuditEvent {
        AuditEvent {
            time: UNIX_EPOCH + Duration::from_millis(1_795_662_978_123 + n),
            request_id: format!("req-{n}"),
            user_name: "alice".into(),
            user_id: "AIDAEXAMPLEALICE".into(),
            user_arn: "arn:aws:iam::111122223333:user/alice".into(),
            access_key_id: "AKIAEXAMPLEALICE".into(),
            session: false,
            action: "kms:Encrypt".into(),
        }
    }

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn the_body_of_a_fixed_event_is_the_test_vector() {
        let body = event_body(1, &[0; 32], &event(0), &[KEY.to_string()], None);
        assert_eq!(
            body,
            concat!(
                r#"{"eventVersion":"1.0","sequence":1,"eventTime":"2026-11-26T03:16:18.123Z","#,
                r#""eventId":"req-0","eventSource":"kms.amazonaws.com","eventName":"Encrypt","#,
                r#""userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEALICE","#,
                r#""arn":"arn:aws:iam::111122223333:user/alice","userName":"alice","#,
                r#""accessKeyId":"AKIAEXAMPLEALICE","sessionCredentials":false},"#,
                r#""resources":["arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"],"#,
                r#""errorCode":null,"#,
                r#""previousHash":"0000000000000000000000000000000000000000000000000000000000000000"}"#,
            )
        );

        let mut denied = event(0);
        denied.session = true;
        denied.action = "iam:CreateUser".into();
        denied.time = UNIX_EPOCH + Duration::from_secs(1_795_662_978);
        let previous = sha256(body.as_bytes());
        let body = event_body(
            42,
            &previous,
            &denied,
            &["*".to_string(), KEY.to_string()],
            Some("AccessDeniedException"),
        );
        assert_eq!(
            body,
            concat!(
                r#"{"eventVersion":"1.0","sequence":42,"eventTime":"2026-11-26T03:16:18.000Z","#,
                r#""eventId":"req-0","eventSource":"iam.amazonaws.com","eventName":"CreateUser","#,
                r#""userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEALICE","#,
                r#""arn":"arn:aws:iam::111122223333:user/alice","userName":"alice","#,
                r#""accessKeyId":"AKIAEXAMPLEALICE","sessionCredentials":true},"#,
                r#""resources":["*","arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"],"#,
                r#""errorCode":"AccessDeniedException","previousHash":""#,
            )
            .to_string()
                + &hex::encode(previous)
                + "\"}"
        );
    }

    #[test]
    fn the_body_has_exactly_the_listed_members() {
        let body = event_body(7, &[0xab; 32], &event(1), &[], Some("NotFoundException"));
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        let members = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(
            members(&parsed),
            [
                "eventVersion",
                "sequence",
                "eventTime",
                "eventId",
                "eventSource",
                "eventName",
                "userIdentity",
                "resources",
                "errorCode",
                "previousHash"
            ]
        );
        assert_eq!(
            members(&parsed["userIdentity"]),
            [
                "type",
                "principalId",
                "arn",
                "userName",
                "accessKeyId",
                "sessionCredentials"
            ]
        );
        assert_eq!(parsed["resources"], serde_json::json!([]));
        assert_eq!(parsed["previousHash"], "ab".repeat(32));
    }

    #[test]
    fn strings_are_escaped_into_valid_json() {
        let mut odd = event(2);
        odd.request_id =
            "quote\" backslash\\ newline\n tab\t nul\0 unit\u{1f} del\u{7f} é ✓ 𝄞".into();
        odd.user_name = "\u{8}\u{c}\r".into();
        odd.action = "NoPrefix".into();
        let resources = vec!["arn:\"x\"".to_string()];
        let body = event_body(3, &[1; 32], &odd, &resources, Some("Code\"X"));
        assert!(body.contains(r#"nul\u0000 unit\u001f"#), "{body}");
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["eventId"], odd.request_id.as_str());
        assert_eq!(parsed["userIdentity"]["userName"], odd.user_name.as_str());
        assert_eq!(parsed["resources"][0], resources[0].as_str());
        assert_eq!(parsed["errorCode"], "Code\"X");
        assert_eq!(parsed["eventSource"], "unknown.amazonaws.com");
        assert_eq!(parsed["eventName"], "NoPrefix");
        // serde_json writes the same bytes for the same string.
        assert!(body.contains(&serde_json::to_string(&odd.request_id).unwrap()));
    }

    /// A valid chain of `n` events, as stored: (sequence, body, hash).
    fn chain(n: u64) -> Vec<(u64, String, Vec<u8>)> {
        let mut previous = [0; 32];
        (1..=n)
            .map(|sequence| {
                let body = event_body(sequence, &previous, &event(sequence), &[], None);
                previous = sha256(body.as_bytes());
                (sequence, body, previous.to_vec())
            })
            .collect()
    }

    fn check(
        events: &[(u64, String, Vec<u8>)],
        first_sequence: u64,
        previous: [u8; 32],
    ) -> Result<ChainHead, BrokenLink> {
        verify(
            events.iter().map(|(sequence, body, hash)| ChainLink {
                sequence: *sequence,
                body,
                hash,
            }),
            first_sequence,
            previous,
        )
    }

    fn broken_at(events: &[(u64, String, Vec<u8>)]) -> u64 {
        check(events, 1, [0; 32]).unwrap_err().sequence
    }

    #[test]
    fn an_intact_chain_verifies_whole_or_from_the_middle() {
        let events = chain(5);
        let head = check(&events, 1, [0; 32]).unwrap();
        assert_eq!(
            head,
            ChainHead {
                events: 5,
                last_sequence: 5,
                last_hash: events[4].2.clone().try_into().unwrap(),
            }
        );
        let previous = events[1].2.clone().try_into().unwrap();
        assert_eq!(check(&events[2..], 3, previous).unwrap().events, 3);
        // Starting from the wrong place or hash is a broken link.
        assert_eq!(check(&events[2..], 1, previous).unwrap_err().sequence, 3);
        assert_eq!(check(&events[2..], 3, [0; 32]).unwrap_err().sequence, 3);
        assert_eq!(
            check(&[], 4, previous).unwrap(),
            ChainHead {
                events: 0,
                last_sequence: 3,
                last_hash: previous
            }
        );
    }

    #[test]
    fn an_edited_body_breaks_its_link() {
        let mut events = chain(5);
        events[2].1 = events[2].1.replace("alice", "mallory");
        let err = check(&events, 1, [0; 32]).unwrap_err();
        assert_eq!(err.sequence, 3);
        assert!(err.reason.contains("altered"), "{err}");
        assert_eq!(err.to_string(), format!("event 3: {}", err.reason));
    }

    #[test]
    fn an_edited_body_with_a_recomputed_hash_breaks_the_next_link() {
        let mut events = chain(5);
        events[2].1 = events[2].1.replace("alice", "mallory");
        events[2].2 = sha256(events[2].1.as_bytes()).to_vec();
        let err = check(&events, 1, [0; 32]).unwrap_err();
        assert_eq!(err.sequence, 4);
        assert!(err.reason.contains("previous"), "{err}");
    }

    #[test]
    fn an_edited_or_truncated_hash_breaks_its_link() {
        let mut events = chain(5);
        events[1].2[0] ^= 1;
        assert_eq!(broken_at(&events), 2);
        let mut events = chain(5);
        events[3].2.pop();
        let err = check(&events, 1, [0; 32]).unwrap_err();
        assert_eq!((err.sequence, err.reason.contains("31 bytes")), (4, true));
    }

    #[test]
    fn a_deleted_event_is_detected() {
        let mut events = chain(5);
        events.remove(2);
        let err = check(&events, 1, [0; 32]).unwrap_err();
        assert_eq!(err.sequence, 4);
        assert!(err.reason.contains("event 3 belongs"), "{err}");
        // Renumbering the rest to hide the gap does not help: event 4 names event 3's hash.
        for (i, event) in events.iter_mut().enumerate() {
            event.0 = i as u64 + 1;
        }
        assert_eq!(broken_at(&events), 3);
        // Nor does deleting the first event.
        assert_eq!(broken_at(&chain(3)[1..]), 2);
    }

    #[test]
    fn swapped_events_are_detected() {
        let mut events = chain(5);
        events.swap(2, 3);
        assert_eq!(broken_at(&events), 4);
        // With their sequence numbers swapped back, the bodies still name their real place.
        events[2].0 = 3;
        events[3].0 = 4;
        let err = check(&events, 1, [0; 32]).unwrap_err();
        assert_eq!(err.sequence, 3);
        assert!(err.reason.contains("names sequence 4"), "{err}");
    }

    #[test]
    fn the_first_broken_link_is_reported() {
        let mut events = chain(6);
        events[4].1.push(' ');
        events[1].1.push(' ');
        assert_eq!(broken_at(&events), 2);
    }

    #[test]
    fn a_body_that_is_not_a_canonical_event_is_refused() {
        let mut events = chain(3);
        let rehash = |events: &mut Vec<(u64, String, Vec<u8>)>, i: usize, body: String| {
            events[i].2 = sha256(body.as_bytes()).to_vec();
            events[i].1 = body;
        };
        rehash(&mut events, 1, "not json".into());
        let err = check(&events, 1, [0; 32]).unwrap_err();
        assert_eq!((err.sequence, err.reason.contains("JSON")), (2, true));

        let previous = hex::encode(&chain(3)[0].2);
        rehash(
            &mut events,
            1,
            format!(r#"{{"previousHash":"{previous}"}}"#),
        );
        assert!(
            check(&events, 1, [0; 32])
                .unwrap_err()
                .reason
                .contains("no sequence")
        );
        rehash(&mut events, 1, r#"{"sequence":2}"#.into());
        assert!(
            check(&events, 1, [0; 32])
                .unwrap_err()
                .reason
                .contains("no previous")
        );
        rehash(
            &mut events,
            1,
            format!(
                r#"{{"sequence":2,"previousHash":"{}"}}"#,
                previous.to_uppercase()
            ),
        );
        assert_eq!(broken_at(&events), 2);
    }
}
