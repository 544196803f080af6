//! `vault.v1.Audit`: reads the audit trail (CloudTrail's LookupEvents, plus the chain fields that
//! `vaultctl audit verify` checks). Events of requests that finished before the lookup are
//! flushed to the store first, so a caller reads its own history.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use tonic::{Request, Response, Status};

use super::{
    call::caller,
    convert::{system_time, timestamp},
    status,
};
use crate::{
    auth::Action,
    error::Error,
    model::{AuditQuery, AuditRecord},
    pb::{self, audit_server::Audit},
    vault::Vault,
};

type RpcResult<T> = std::result::Result<Response<T>, Status>;

/// How long a lookup waits for earlier events to reach the store.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// The Audit service over a vault.
#[derive(Debug, Clone)]
pub struct AuditApi {
    vault: Arc<Vault>,
}

impl AuditApi {
    pub fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
    }
}

fn next_token(sequence: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq:{sequence}"))
}

fn parse_next_token(token: &str) -> Result<Option<u64>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("seq:").and_then(|n| n.parse().ok()))
        .map(Some)
        .ok_or_else(|| Error::validation("The next token is not valid."))
}

/// A stored event on the wire. The body is the canonical JSON the chain covers; the few members
/// the record has no column for are read from it.
fn event(record: AuditRecord) -> pb::Event {
    let body: serde_json::Value = serde_json::from_str(&record.body).unwrap_or_default();
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_string();
    pb::Event {
        event_id: text("eventId"),
        event_name: text("eventName"),
        event_time: Some(timestamp(record.time)),
        event_source: text("eventSource"),
        username: record.user_name,
        access_key_id: record.access_key_id,
        resources: record
            .resources
            .into_iter()
            .map(|arn| pb::Resource {
                resource_type: resource_type(&arn).to_string(),
                resource_name: arn,
            })
            .collect(),
        error_code: text("errorCode"),
        sequence: record.sequence,
        hash: hex::encode(record.hash),
        cloud_trail_event: record.body,
    }
}

/// CloudTrail's resource type names for the ARNs vaultd records.
fn resource_type(arn: &str) -> &'static str {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2).unwrap_or_default();
    let resource = parts.nth(2).unwrap_or_default();
    match (service, resource.split('/').next().unwrap_or_default()) {
        ("kms", "key") => "AWS::KMS::Key",
        ("kms", "alias") => "AWS::KMS::Alias",
        ("iam", "user") => "AWS::IAM::User",
        ("ssm", "parameter") => "AWS::SSM::Parameter",
        ("secretsmanager", _) => "AWS::SecretsManager::Secret",
        _ => "",
    }
}

#[tonic::async_trait]
impl Audit for AuditApi {
    async fn lookup_events(
        &self,
        request: Request<pb::LookupEventsRequest>,
    ) -> RpcResult<pb::LookupEventsResponse> {
        let who = caller(&request)?;
        who.authorize(
            &self.vault.authorizer,
            &Action {
                name: "cloudtrail:LookupEvents",
                resources: &["*"],
                encryption_context: None,
            },
        )?;
        let req = request.into_inner();
        let limit = req.max_results.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            return Err(status(Error::validation(format!(
                "1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy \
                 constraint: Member must have value between 1 and 1000"
            ))));
        }
        let mut query = AuditQuery {
            start: req
                .start_time
                .as_ref()
                .map(|t| system_time(t, "startTime"))
                .transpose()
                .map_err(status)?,
            end: req
                .end_time
                .as_ref()
                .map(|t| system_time(t, "endTime"))
                .transpose()
                .map_err(status)?,
            ascending: req.ascending,
            after_sequence: parse_next_token(&req.next_token).map_err(status)?,
            // One more than asked, to know whether another page follows.
            limit: limit as usize + 1,
            ..AuditQuery::default()
        };
        for attribute in req.lookup_attributes {
            let value = Some(attribute.attribute_value);
            match pb::LookupAttributeKey::try_from(attribute.attribute_key) {
                Ok(pb::LookupAttributeKey::EventName) => query.event_name = value,
                Ok(pb::LookupAttributeKey::Username) => query.user_name = value,
                Ok(pb::LookupAttributeKey::ResourceName) => query.resource = value,
                Ok(pb::LookupAttributeKey::AccessKeyId) => query.access_key_id = value,
                _ => {
                    return Err(status(Error::validation(
                        "AttributeKey must be EVENT_NAME, USERNAME, RESOURCE_NAME or ACCESS_KEY_ID.",
                    )));
                }
            }
        }
        let vault = self.vault.clone();
        let mut records = super::blocking(move || {
            vault.audit.flush(FLUSH_WAIT);
            vault.audit.lookup(&query)
        })
        .await
        .map_err(status)?;
        let more = records.len() > limit as usize;
        records.truncate(limit as usize);
        let token = match (more, records.last()) {
            (true, Some(last)) => next_token(last.sequence),
            _ => String::new(),
        };
        Ok(Response::new(pb::LookupEventsResponse {
            events: records.into_iter().map(event).collect(),
            next_token: token,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(parse_next_token(&next_token(42)).unwrap(), Some(42));
        assert_eq!(parse_next_token("").unwrap(), None);
        assert!(parse_next_token("!!").is_err());
        assert!(parse_next_token(&URL_SAFE_NO_PAD.encode("seq:x")).is_err());
    }

    #[test]
    fn resource_types_follow_cloudtrail() {
        assert_eq!(
            resource_type(
                "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
            ),
            "AWS::KMS::Key"
        );
        assert_eq!(
            resource_type("arn:aws:kms:us-east-1:000000000000:alias/app"),
            "AWS::KMS::Alias"
        );
        assert_eq!(
            resource_type("arn:aws:iam::000000000000:user/app"),
            "AWS::IAM::User"
        );
        assert_eq!(resource_type("*"), "");
    }
}
