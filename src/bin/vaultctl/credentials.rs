//! Where vaultctl finds its endpoint and credentials, in the AWS CLI's order: command-line flags,
//! then the environment, then a profile of the shared credentials file.
//!
//! The credentials file is `~/.vaultd/credentials`, or the file VAULTD_SHARED_CREDENTIALS_FILE
//! names: INI with `[default]` and named sections (`[profile NAME]` is accepted too), `key = value`
//! lines with the keys `endpoint`, `access_key_id`, `secret_access_key` and `session_token`, and
//! comment lines starting with `#` or `;`. vaultd writes its root credentials in this shape. The
//! AWS CLI's names `endpoint_url`, `aws_access_key_id`, `aws_secret_access_key` and
//! `aws_session_token` are synonyms (vaultd's name wins when a section has both), so an AWS-style
//! file can be reused; other keys (`region`, `output`...) are ignored.
//!
//! The key id, secret and session token always come together from one source. As with the AWS
//! CLI, an explicit `--profile` flag means that profile's credentials even when the environment
//! holds others; VAULTD_PROFILE only chooses the profile the file is read for. The endpoint is
//! resolved on its own: `--endpoint`, VAULTD_ENDPOINT, the profile's `endpoint`, the default.
//!
//! This module owns no I/O but reading the credentials file; secrets are never put in a message.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use clap::Args;
use vaultd::client::{DEFAULT_ENDPOINT, StaticCredentials};
use zeroize::Zeroizing;

pub const ENV_ENDPOINT: &str = "VAULTD_ENDPOINT";
pub const ENV_PROFILE: &str = "VAULTD_PROFILE";
pub const ENV_ACCESS_KEY_ID: &str = "VAULTD_ACCESS_KEY_ID";
pub const ENV_SECRET_ACCESS_KEY: &str = "VAULTD_SECRET_ACCESS_KEY";
pub const ENV_SESSION_TOKEN: &str = "VAULTD_SESSION_TOKEN";
pub const ENV_CREDENTIALS_FILE: &str = "VAULTD_SHARED_CREDENTIALS_FILE";
const DEFAULT_PROFILE: &str = "default";

/// The connection flags, accepted anywhere on the command line.
#[derive(Args, Default)]
#[command(next_help_heading = "Global options")]
pub struct CredentialFlags {
    /// vaultd's URL, or host:port [env: VAULTD_ENDPOINT] [default: the profile's endpoint, else
    /// http://127.0.0.1:7730]; several, comma-separated, for replicas of one vault (tried in
    /// order; an unavailable one is skipped). --endpoint-url is the AWS CLI's name for it.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        visible_alias = "endpoint-url"
    )]
    pub endpoint: Option<String>,

    /// The profile of the credentials file to use [env: VAULTD_PROFILE] [default: default].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Access key id; needs --secret-access-key [env: VAULTD_ACCESS_KEY_ID].
    #[arg(long, global = true, value_name = "ID", requires = "secret_access_key")]
    pub access_key_id: Option<String>,

    /// Secret access key; needs --access-key-id [env: VAULTD_SECRET_ACCESS_KEY]. Warning: a value
    /// on the command line is visible to other local users (ps, /proc); prefer the environment or
    /// a profile of the credentials file.
    #[arg(long, global = true, value_name = "SECRET", requires = "access_key_id")]
    pub secret_access_key: Option<String>,

    /// Session token of temporary credentials, with --access-key-id [env: VAULTD_SESSION_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN", requires = "access_key_id")]
    pub session_token: Option<String>,
}

impl CredentialFlags {
    /// The flags of an action that has an `--access-key-id` of its own (`iam update-access-key`
    /// names the key to update with it, as the AWS CLI does): that flag is not a credential, so
    /// the credentials must come from the environment or a profile.
    pub fn shadowed_access_key_id(self, action: &str) -> Result<Self, String> {
        if self.secret_access_key.is_some() || self.session_token.is_some() {
            return Err(format!(
                "{action} takes --access-key-id as the access key it acts on, not as a credential: \
                 give the credentials in the environment ({ENV_ACCESS_KEY_ID}...) or a profile"
            ));
        }
        Ok(Self {
            access_key_id: None,
            ..self
        })
    }
}

/// Where to connect and what to sign with.
pub struct Settings {
    pub endpoint: String,
    pub credentials: StaticCredentials,
}

/// One section of the credentials file. Holds secrets: they are zeroized on drop.
struct Profile {
    name: String,
    path: PathBuf,
    values: HashMap<String, Zeroizing<String>>,
}

/// The names of a setting in a profile: vaultd's, then the AWS CLI's.
const ENDPOINT_KEYS: [&str; 2] = ["endpoint", "endpoint_url"];
const ACCESS_KEY_ID_KEYS: [&str; 2] = ["access_key_id", "aws_access_key_id"];
const SECRET_ACCESS_KEY_KEYS: [&str; 2] = ["secret_access_key", "aws_secret_access_key"];
const SESSION_TOKEN_KEYS: [&str; 2] = ["session_token", "aws_session_token"];

impl Profile {
    /// The value of the first of `names` the section sets (empty is unset).
    fn get(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| {
            self.values
                .get(*name)
                .map(|v| v.as_str())
                .filter(|v| !v.is_empty())
        })
    }
}

/// Resolves the endpoint and credentials. `env` looks up an environment variable (unset and empty
/// are both `None`).
pub fn resolve(
    flags: &CredentialFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, String> {
    let (profile_name, named) = match (&flags.profile, env(ENV_PROFILE)) {
        (Some(name), _) => (name.clone(), true),
        (None, Some(name)) => (name, true),
        (None, None) => (DEFAULT_PROFILE.to_string(), false),
    };
    let path = credentials_file(env);
    let profile = match &path {
        Some(path) => load_profile(path, &profile_name)?,
        None => None,
    };
    if named && profile.is_none() {
        return Err(match &path {
            Some(path) => format!(
                "the profile {profile_name:?} is not in the credentials file {}",
                path.display()
            ),
            None => format!(
                "the profile {profile_name:?} cannot be read: set HOME or {ENV_CREDENTIALS_FILE}"
            ),
        });
    }

    // An explicit --profile skips the environment's credentials, as with the AWS CLI.
    let credentials = match from_flags(flags)? {
        None if flags.profile.is_none() => from_env(env)?,
        found => found,
    };
    let credentials = match credentials {
        Some(credentials) => credentials,
        None => profile
            .as_ref()
            .map(from_profile)
            .transpose()?
            .flatten()
            .ok_or_else(|| missing_credentials(&profile_name, path.as_deref()))?,
    };

    let endpoint = flags
        .endpoint
        .clone()
        .or_else(|| env(ENV_ENDPOINT))
        .or_else(|| profile.as_ref()?.get(&ENDPOINT_KEYS).map(str::to_string))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    check_sendable(&credentials)?;
    Ok(Settings {
        endpoint: normalize_endpoint(&endpoint)?,
        credentials,
    })
}

/// The key id and session token travel in request headers: refuse what cannot be sent, here
/// rather than as a puzzling error from the first call. Names no value: they may be secrets.
fn check_sendable(credentials: &StaticCredentials) -> Result<(), String> {
    let sendable = |value: &str| value.bytes().all(|b| b.is_ascii_graphic());
    if !sendable(&credentials.access_key_id) {
        return Err(
            "the access key id holds spaces or characters other than printable ASCII".into(),
        );
    }
    if !credentials.session_token.as_deref().is_none_or(sendable) {
        return Err(
            "the session token holds spaces or characters other than printable ASCII".into(),
        );
    }
    Ok(())
}

fn from_flags(flags: &CredentialFlags) -> Result<Option<StaticCredentials>, String> {
    match (&flags.access_key_id, &flags.secret_access_key) {
        (Some(id), Some(secret)) => Ok(Some(StaticCredentials::new(
            id,
            secret,
            flags.session_token.as_deref(),
        ))),
        (None, None) if flags.session_token.is_some() => {
            Err("--session-token needs --access-key-id and --secret-access-key".into())
        }
        (None, None) => Ok(None),
        _ => Err("--access-key-id and --secret-access-key go together: give both".into()),
    }
}

fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<StaticCredentials>, String> {
    let secret = env(ENV_SECRET_ACCESS_KEY).map(Zeroizing::new);
    match (env(ENV_ACCESS_KEY_ID), secret) {
        (Some(id), Some(secret)) => Ok(Some(StaticCredentials::new(
            &id,
            &secret,
            env(ENV_SESSION_TOKEN).as_deref(),
        ))),
        (None, None) => Ok(None),
        _ => Err(format!(
            "{ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY} go together: set both or neither"
        )),
    }
}

fn from_profile(profile: &Profile) -> Result<Option<StaticCredentials>, String> {
    match (
        profile.get(&ACCESS_KEY_ID_KEYS),
        profile.get(&SECRET_ACCESS_KEY_KEYS),
    ) {
        (Some(id), Some(secret)) => Ok(Some(StaticCredentials::new(
            id,
            secret,
            profile.get(&SESSION_TOKEN_KEYS),
        ))),
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => Err(format!(
            "the profile {:?} in {} needs both access_key_id and secret_access_key (or \
             aws_access_key_id and aws_secret_access_key)",
            profile.name,
            profile.path.display()
        )),
    }
}

fn missing_credentials(profile: &str, path: Option<&Path>) -> String {
    let file = path.map_or_else(
        || "~/.vaultd/credentials".to_string(),
        |p| p.display().to_string(),
    );
    format!(
        "Unable to locate credentials. Provide them in one of three ways:\n  \
         1. flags: --access-key-id ID --secret-access-key SECRET [--session-token TOKEN]\n  \
         2. environment: {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY} [and {ENV_SESSION_TOKEN}]\n  \
         3. the credentials file {file} ({ENV_CREDENTIALS_FILE} names another): a [{profile}] \
         section with access_key_id and secret_access_key, or the AWS names aws_access_key_id and \
         aws_secret_access_key (choose a section with --profile or {ENV_PROFILE}).\n\
         vaultd --dev writes its root credentials in that shape to <data-dir>/root-credentials."
    )
}

/// The credentials file: VAULTD_SHARED_CREDENTIALS_FILE (`~/` expanded), else
/// `$HOME/.vaultd/credentials`; `None` without either.
fn credentials_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let home = env("HOME").map(PathBuf::from);
    match env(ENV_CREDENTIALS_FILE) {
        Some(file) => match (file.strip_prefix("~/"), &home) {
            (Some(rest), Some(home)) => Some(home.join(rest)),
            _ => Some(PathBuf::from(file)),
        },
        None => Some(home?.join(".vaultd").join("credentials")),
    }
}

/// Reads the section `name` of the credentials file; a missing file has no sections.
fn load_profile(path: &Path, name: &str) -> Result<Option<Profile>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot read the credentials file {}: {e}",
                path.display()
            ));
        }
    };
    let values = parse_section(&text, name)
        .map_err(|e| format!("the credentials file {}: {e}", path.display()))?;
    Ok(values.map(|values| Profile {
        name: name.to_string(),
        path: path.to_path_buf(),
        values,
    }))
}

/// Parses INI text and returns the keys of section `wanted` (`None` when it is absent). Every line
/// is checked, so a typo anywhere is reported; only the wanted section's values are kept.
fn parse_section(
    text: &str,
    wanted: &str,
) -> Result<Option<HashMap<String, Zeroizing<String>>>, String> {
    let mut current: Option<String> = None;
    let mut found: Option<HashMap<String, Zeroizing<String>>> = None;
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let section = section
                .strip_suffix(']')
                .ok_or_else(|| format!("line {number}: a section header must end with ']'"))?
                .trim();
            let section = section.strip_prefix("profile ").unwrap_or(section).trim();
            if section == wanted {
                found.get_or_insert_with(HashMap::new);
            }
            current = Some(section.to_string());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "line {number}: expected `key = value`, a [section] or a comment"
            ));
        };
        let section = current
            .as_deref()
            .ok_or_else(|| format!("line {number}: a key outside any [section]"))?;
        if section == wanted
            && let Some(values) = found.as_mut()
        {
            values.insert(key.trim().to_string(), Zeroizing::new(value.trim().into()));
        }
    }
    Ok(found)
}

/// Adds `http://` to each bare `host:port` of a comma-separated list of endpoints (replicas of
/// one vault, tried in order).
fn normalize_endpoint(endpoints: &str) -> Result<String, String> {
    let normalized = endpoints
        .split(',')
        .map(|endpoint| {
            let endpoint = endpoint.trim();
            if endpoint.is_empty() {
                return Err("the endpoint is empty".to_string());
            }
            Ok(if endpoint.contains("://") {
                endpoint.to_string()
            } else {
                format!("http://{endpoint}")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(normalized.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_comments_parse_like_the_aws_files() {
        let text = "# comment\n; another\n[default]\naccess_key_id=AKIA1\n\n\
                    [profile ops]\n  access_key_id = AKIA2  \nsecret_access_key = a/b+c==\n";
        let ops = parse_section(text, "ops").unwrap().unwrap();
        assert_eq!(ops["access_key_id"].as_str(), "AKIA2");
        assert_eq!(ops["secret_access_key"].as_str(), "a/b+c==");
        assert!(parse_section(text, "missing").unwrap().is_none());
        let err = parse_section("[default]\nnot a pair\n", "default").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(parse_section("key = v\n[default]\n", "default").is_err());
    }

    #[test]
    fn the_aws_key_names_are_synonyms() {
        let profile = |text: &str| Profile {
            name: "default".into(),
            path: PathBuf::from("credentials"),
            values: parse_section(text, "default").unwrap().unwrap(),
        };
        let aws = profile(
            "[default]\nregion = us-east-1\naws_access_key_id = AKIA1\n\
             aws_secret_access_key = s\naws_session_token = t\nendpoint_url = h:1\n",
        );
        let credentials = from_profile(&aws).unwrap().unwrap();
        assert_eq!(credentials.access_key_id, "AKIA1");
        assert_eq!(credentials.secret_access_key.as_str(), "s");
        assert_eq!(credentials.session_token.as_deref(), Some("t"));
        assert_eq!(aws.get(&ENDPOINT_KEYS), Some("h:1"));
        let both = profile("[default]\naws_access_key_id = AKIA1\naccess_key_id = AKIA2\n");
        assert_eq!(
            both.get(&ACCESS_KEY_ID_KEYS),
            Some("AKIA2"),
            "vaultd's name wins"
        );
        let half = profile("[default]\naws_access_key_id = AKIA1\n");
        assert!(from_profile(&half).is_err());
    }

    #[test]
    fn credentials_that_cannot_be_sent_are_refused() {
        assert!(check_sendable(&StaticCredentials::new("AKIA1", "any secret", None)).is_ok());
        assert!(check_sendable(&StaticCredentials::new("AKIA 1", "s", None)).is_err());
        assert!(check_sendable(&StaticCredentials::new("AKIA1", "s", Some("t\u{e9}"))).is_err());
    }

    #[test]
    fn a_bare_host_and_port_gets_http() {
        assert_eq!(
            normalize_endpoint("127.0.0.1:7730").unwrap(),
            "http://127.0.0.1:7730"
        );
        assert_eq!(
            normalize_endpoint("https://vault:443").unwrap(),
            "https://vault:443"
        );
    }

    #[test]
    fn key_id_and_secret_come_from_one_source() {
        let env = |name: &str| (name == ENV_ACCESS_KEY_ID).then(|| "AKIA".to_string());
        assert!(resolve(&CredentialFlags::default(), &env).is_err());
        let flags = CredentialFlags {
            access_key_id: Some("AKIA".into()),
            ..Default::default()
        };
        assert!(resolve(&flags, &|_| None).is_err());
    }
}
