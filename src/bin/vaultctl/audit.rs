//! `vaultctl audit tail` and `vaultctl audit verify`: reading the audit trail through
//! `vault.v1.Audit/LookupEvents`, which has no AWS CLI command of its own (CloudTrail's
//! `lookup-events` is the nearest).
//!
//! `tail` prints the newest matching events oldest first, one line each (or CloudTrail-shaped
//! JSON), and with `--follow` polls for newer ones. `verify` reads the whole trail oldest first and
//! checks its hash chain with [`vaultd::audit::verify`], page after page as one chain; a broken
//! chain is exit status 1 ([`CliError::BrokenTrail`]).

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use vaultd::{client::Client, pb};

use crate::{CliError, Context, aws_json::ToAwsJson, aws_json::iso8601, calls, input};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Show the newest audit events, oldest first, one line each (time, user, access key,
    /// action, resources, outcome), and with --follow the new ones as they come (LookupEvents).
    Tail(TailArgs),
    /// Check that the audit trail is whole and unedited: every event's hash and its link to the
    /// previous one, from the first event to the last (LookupEvents).
    #[command(
        after_help = "Exit status: 0 when the trail verifies; 1 when it is broken (the \
                            first broken event and why are printed on stderr); otherwise as for \
                            any command (253 configuration, 254 service error, 255 vaultd \
                            unreachable)."
    )]
    Verify,
}

#[derive(Args)]
pub struct TailArgs {
    /// How many of the newest matching events to show.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    max_items: u32,
    /// Only the events of this user (its name).
    #[arg(long)]
    user_name: Option<String>,
    /// Only the events on this key: its id, key ARN, alias name or alias ARN (all but a key ARN
    /// are resolved with DescribeKey).
    #[arg(long)]
    key_id: Option<String>,
    /// Only the events of this action, e.g. Encrypt.
    #[arg(long)]
    event_name: Option<String>,
    /// Only the events of requests signed with this access key id. With this action, vaultctl's
    /// own credentials come from the environment or a profile, not from flags.
    #[arg(long)]
    access_key_id: Option<String>,
    /// Only the events at or after this time: RFC 3339 (2024-05-01T12:00:00Z) or Unix seconds.
    #[arg(long, value_parser = input::timestamp)]
    start_time: Option<prost_types::Timestamp>,
    /// Only the events at or before this time: RFC 3339 or Unix seconds.
    #[arg(long, value_parser = input::timestamp)]
    end_time: Option<prost_types::Timestamp>,
    /// Keep polling every second for newer events and print them as they come, until
    /// interrupted. The LookupEvents calls of the polling itself are not shown. With --output
    /// json, each batch is one {"Events": [...]} document.
    #[arg(long)]
    follow: bool,
}

/// An audit command ready to run.
pub enum AuditJob {
    Tail(Tail),
    Verify,
}

/// `audit tail`, its filters read.
pub struct Tail {
    request: pb::LookupEventsRequest,
    /// The key to filter on, before it is resolved to its ARN.
    key_id: Option<String>,
    max_items: usize,
    follow: bool,
}

impl AuditCommand {
    /// The action's name when it has an `--access-key-id` of its own (a filter).
    pub fn own_access_key_id_flag(&self) -> Option<&'static str> {
        matches!(self, Self::Tail(_)).then_some("audit tail")
    }

    /// What this command will do; sends nothing.
    pub fn job(self) -> AuditJob {
        match self {
            Self::Tail(a) => {
                use pb::LookupAttributeKey as Key;
                let lookup_attributes = [
                    (Key::Username, a.user_name),
                    (Key::EventName, a.event_name),
                    (Key::AccessKeyId, a.access_key_id),
                ]
                .into_iter()
                .filter_map(|(key, value)| Some(attribute(key, value?)))
                .collect();
                AuditJob::Tail(Tail {
                    request: pb::LookupEventsRequest {
                        lookup_attributes,
                        start_time: a.start_time,
                        end_time: a.end_time,
                        ..Default::default()
                    },
                    key_id: a.key_id,
                    max_items: a.max_items as usize,
                    follow: a.follow,
                })
            }
            Self::Verify => AuditJob::Verify,
        }
    }
}

fn attribute(key: pb::LookupAttributeKey, value: String) -> pb::LookupAttribute {
    pb::LookupAttribute {
        attribute_key: key.into(),
        attribute_value: value,
    }
}

impl AuditJob {
    /// Reads the trail and prints what the command shows.
    pub async fn run(self, context: &Context) -> Result<(), CliError> {
        match self {
            Self::Tail(tail) => tail.run(context).await,
            Self::Verify => verify(context).await,
        }
    }
}

/// How many events one poll of `tail --follow` asks for at a time.
const FOLLOW_PAGE: usize = 100;
/// The most events vaultd returns in one page.
const MAX_PAGE: usize = 1000;

impl Tail {
    async fn run(mut self, context: &Context) -> Result<(), CliError> {
        let client = &context.client;
        if let Some(key_id) = self.key_id.take() {
            let arn = key_arn(client, key_id).await?;
            let key = pb::LookupAttributeKey::ResourceName;
            self.request.lookup_attributes.push(attribute(key, arn));
        }
        let mut events = newest(client, &self.request, self.max_items, 0).await?;
        events.reverse();
        let mut last_seen = events.last().map_or(0, |event| event.sequence);
        if !show(context, &events)? || !self.follow {
            return Ok(());
        }
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut fresh = newest(client, &self.request, usize::MAX, last_seen).await?;
            let Some(newest) = fresh.first() else {
                continue;
            };
            last_seen = newest.sequence;
            fresh.retain(|event| {
                event.event_name != "LookupEvents" || event.access_key_id != context.access_key_id
            });
            fresh.reverse();
            if !fresh.is_empty() && !show(context, &fresh)? {
                return Ok(());
            }
        }
    }
}

/// The newest events `request` matches, newest first: at most `limit`, and only those after the
/// sequence number `after`.
async fn newest(
    client: &Client,
    request: &pb::LookupEventsRequest,
    limit: usize,
    after: u64,
) -> Result<Vec<pb::Event>, CliError> {
    let mut request = pb::LookupEventsRequest {
        ascending: false,
        ..request.clone()
    };
    let page_size = if after == 0 { MAX_PAGE } else { FOLLOW_PAGE };
    let mut events = Vec::new();
    loop {
        let wanted = (limit - events.len()).min(page_size);
        request.max_results = Some(wanted as i32);
        let page = lookup(client, request.clone()).await?;
        let reached_seen = page.events.iter().any(|event| event.sequence <= after);
        let new = page.events.into_iter().take_while(|e| e.sequence > after);
        events.extend(new.take(limit - events.len()));
        if reached_seen || page.next_token.is_empty() || events.len() >= limit {
            return Ok(events);
        }
        request.next_token = page.next_token;
    }
}

async fn lookup(
    client: &Client,
    request: pb::LookupEventsRequest,
) -> Result<pb::LookupEventsResponse, CliError> {
    calls::answer("LookupEvents", client.lookup_events(request)).await
}

/// Events name keys by ARN: a key id, alias name or alias ARN is looked up.
async fn key_arn(client: &Client, key_id: String) -> Result<String, CliError> {
    if key_id.starts_with("arn:") && key_id.contains(":key/") {
        return Ok(key_id);
    }
    let described = client.describe_key(pb::DescribeKeyRequest { key_id });
    let metadata = calls::answer("DescribeKey", described).await?.key_metadata;
    Ok(metadata.map(|metadata| metadata.arn).unwrap_or_default())
}

/// Prints events: one line each, or as {"Events": [...]} with `--output json` or `--query`.
/// Returns whether stdout is still open.
fn show(context: &Context, events: &[pb::Event]) -> Result<bool, CliError> {
    if !context.out.wants_lines() {
        let events: Vec<Value> = events.iter().map(ToAwsJson::to_aws_json).collect();
        return context.out.value(&json!({ "Events": events }));
    }
    let lines: String = events.iter().map(line).collect();
    context.out.write(&lines)
}

/// `TIME USER ACCESS_KEY SERVICE:ACTION RESOURCES OUTCOME`, with `-` for what is empty, resources
/// joined by commas and the outcome `ok` or the error's name. No field holds a space.
fn line(event: &pb::Event) -> String {
    let or_dash = |text: &str| {
        if text.is_empty() {
            "-".to_string()
        } else {
            text.to_string()
        }
    };
    let time = event
        .event_time
        .as_ref()
        .map_or_else(|| "-".into(), iso8601);
    // "kms.amazonaws.com" → "kms:Encrypt", as policies name actions.
    let action = match event.event_source.split_once('.') {
        Some((service, _)) => format!("{service}:{}", event.event_name),
        None => event.event_name.clone(),
    };
    let resources: Vec<&str> = event
        .resources
        .iter()
        .map(|resource| resource.resource_name.as_str())
        .collect();
    let outcome = if event.error_code.is_empty() {
        "ok"
    } else {
        &event.error_code
    };
    format!(
        "{time} {} {} {action} {} {outcome}\n",
        or_dash(&event.username),
        or_dash(&event.access_key_id),
        or_dash(&resources.join(",")),
    )
}

/// The sequence number of the trail's first event.
const FIRST_SEQUENCE: u64 = 1;

/// Where the verification of the trail stands after the pages read so far.
struct Chain {
    events: u64,
    next_sequence: u64,
    previous: [u8; 32],
}

impl Chain {
    /// The chain's start: the first event links to 32 zero bytes.
    fn new() -> Self {
        Self {
            events: 0,
            next_sequence: FIRST_SEQUENCE,
            previous: [0; 32],
        }
    }

    /// Checks the next page of events, oldest first, as the continuation of what came before.
    fn extend(&mut self, events: &[pb::Event]) -> Result<(), CliError> {
        if events.is_empty() {
            return Ok(());
        }
        // Hex that does not decode leaves a hash that cannot match: verify reports that event.
        let hashes: Vec<Vec<u8>> = events
            .iter()
            .map(|event| hex::decode(&event.hash).unwrap_or_default())
            .collect();
        let links = events
            .iter()
            .zip(&hashes)
            .map(|(event, hash)| vaultd::audit::ChainLink {
                sequence: event.sequence,
                body: &event.cloud_trail_event,
                hash,
            });
        let head = vaultd::audit::verify(links, self.next_sequence, self.previous)
            .map_err(|broken| CliError::BrokenTrail(broken.to_string()))?;
        self.events += head.events;
        self.next_sequence = head.last_sequence + 1;
        self.previous = head.last_hash;
        Ok(())
    }
}

/// `audit verify`: the whole trail, oldest first, as one chain.
async fn verify(context: &Context) -> Result<(), CliError> {
    let mut request = pb::LookupEventsRequest {
        ascending: true,
        max_results: Some(MAX_PAGE as i32),
        ..Default::default()
    };
    let mut chain = Chain::new();
    loop {
        let page = lookup(&context.client, request.clone()).await?;
        chain.extend(&page.events)?;
        if page.next_token.is_empty() {
            break;
        }
        request.next_token = page.next_token;
    }
    let head = hex::encode(chain.previous);
    let last_sequence = chain.next_sequence - 1;
    if context.out.wants_lines() {
        let range = if chain.events == 0 {
            "the trail is empty".to_string()
        } else {
            format!("{FIRST_SEQUENCE}..{last_sequence}")
        };
        let plural = if chain.events == 1 { "" } else { "s" };
        let text = format!(
            "Verified {} event{plural} ({range}); head sha256 {head}\n",
            chain.events
        );
        return context.out.write(&text).map(drop);
    }
    let report = json!({
        "Verified": true,
        "Events": chain.events,
        "LastSequence": last_sequence,
        "Head": head,
    });
    context.out.value(&report).map(drop)
}
