//! `vaultctl secretsmanager <action>`: secrets with versions, staging labels and tags, one
//! subcommand per `vault.v1.SecretsManager` RPC, named and flagged as the AWS CLI's
//! `aws secretsmanager` names them (`create-secret --name app/db --secret-string file://db.json`).
//!
//! [`SecretsManagerCommand::request`] reads the flags and files into the request before anything
//! is sent; [`crate::calls`] sends it. list-secrets pages as the AWS CLI pages it, as the SSM lists
//! do ([`PaginationArgs`]); batch-get-secret-value and list-secret-version-ids, which the AWS CLI
//! does not page, return the page asked for (`--max-results`, `--next-token`).
//!
//! Secret values and passwords are secrets: vaultctl sends them and prints them only as the
//! answer (get-secret-value, batch-get-secret-value, get-random-password), and never puts them in
//! a message. `--secret-string` and `--secret-binary` take values that start with `-`, so that
//! such a value is not mistaken for a flag and echoed in a usage error.

use clap::{Args, Subcommand, ValueEnum};
use vaultd::pb;

use crate::{calls::SecretsRequest, input, ssm::PaginationArgs};

#[derive(Subcommand)]
pub enum SecretsManagerCommand {
    /// Create a secret, with a first version when given a value (CreateSecret).
    CreateSecret(CreateSecretArgs),
    /// Show a version of a secret and its value, by default the AWSCURRENT one (GetSecretValue).
    GetSecretValue(GetSecretValueArgs),
    /// Show the AWSCURRENT values of up to 20 secrets, named or filtered; those that cannot be read
    /// come back as Errors (BatchGetSecretValue).
    BatchGetSecretValue(BatchGetSecretValueArgs),
    /// Make a new version of a secret, by default AWSCURRENT (PutSecretValue).
    PutSecretValue(PutSecretValueArgs),
    /// Change a secret's description or key; a value makes a new AWSCURRENT version
    /// (UpdateSecret).
    UpdateSecret(UpdateSecretArgs),
    /// Move a staging label from one version to another, or remove it
    /// (UpdateSecretVersionStage).
    UpdateSecretVersionStage(UpdateSecretVersionStageArgs),
    /// Show a secret without its value: versions and their labels, tags, rotation, dates
    /// (DescribeSecret).
    DescribeSecret(SecretIdArgs),
    /// List secrets without their values (ListSecrets).
    ListSecrets(ListSecretsArgs),
    /// List the versions of a secret (ListSecretVersionIds).
    ListSecretVersionIds(ListSecretVersionIdsArgs),
    /// Schedule the deletion of a secret, 7 to 30 days ahead, or delete it at once
    /// (DeleteSecret).
    DeleteSecret(DeleteSecretArgs),
    /// Cancel the scheduled deletion of a secret (RestoreSecret).
    RestoreSecret(SecretIdArgs),
    /// Add or overwrite tags of a secret (TagResource).
    TagResource(TagResourceArgs),
    /// Remove tags from a secret (UntagResource).
    UntagResource(UntagResourceArgs),
    /// Generate a random password (GetRandomPassword).
    GetRandomPassword(GetRandomPasswordArgs),
    /// Configure the rotation of a secret and rotate it (RotateSecret).
    RotateSecret(RotateSecretArgs),
    /// Turn off the rotation of a secret and cancel one in progress (CancelRotateSecret).
    CancelRotateSecret(SecretIdArgs),
}

const SECRET_ID_HELP: &str = "The secret's name or ARN (complete, or without its random suffix).";

const SECRET_STRING_HELP: &str = "The value as text: the text itself, or file://PATH for a file's \
     text (exactly, final newline included). Prefer file://PATH: a value on the command line is \
     visible to other local users (ps).";

const SECRET_BINARY_HELP: &str = "The value as bytes: fileb://PATH (a file's bytes), - (stdin), \
     file://PATH (base64 text) or the bytes in base64.";

const TOKEN_HELP: &str = "The id of the new version, 32 to 64 characters (a UUID): a retry with the \
     same token and value changes nothing [default: a new UUID].";

const FILTERS_HELP: &str = "Filters: Key=KEY,Values=V1,V2 (several), or a JSON list of \
     {\"Key\",\"Values\"}. Keys: description, name, tag-key, tag-value, primary-region, \
     owning-service, all. A value matches as a prefix; !VALUE negates it.";

#[derive(Args)]
pub struct SecretIdArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
}

/// `--secret-string` / `--secret-binary`: a new version's value, at most one of them.
#[derive(Args)]
pub struct SecretValueArgs {
    #[arg(long, allow_hyphen_values = true, help = SECRET_STRING_HELP)]
    secret_string: Option<String>,
    #[arg(long, allow_hyphen_values = true, value_name = "BLOB", help = SECRET_BINARY_HELP)]
    secret_binary: Option<String>,
}

impl SecretValueArgs {
    /// The request's SecretString and SecretBinary, read from their files.
    fn read(self) -> Result<(Option<String>, Option<Vec<u8>>), String> {
        let string = self
            .secret_string
            .map(|value| input::text_value("--secret-string", &value))
            .transpose()?;
        let binary = self
            .secret_binary
            .map(|value| input::secret_binary("--secret-binary", &value))
            .transpose()?;
        Ok((string, binary))
    }
}

#[derive(Args)]
pub struct CreateSecretArgs {
    /// The secret's name: 1 to 512 letters, digits and /_+=.@- (e.g. prod/app/db).
    #[arg(long)]
    name: String,
    #[arg(long, value_name = "TOKEN", help = TOKEN_HELP)]
    client_request_token: Option<String>,
    /// A description of the secret.
    #[arg(long)]
    description: Option<String>,
    /// The KMS key to encrypt the values under (id, ARN, alias/NAME or alias ARN)
    /// [default: alias/aws/secretsmanager].
    #[arg(long)]
    kms_key_id: Option<String>,
    #[command(flatten)]
    value: SecretValueArgs,
    /// Tags: Key=KEY,Value=VALUE (several), or a JSON list of {"Key","Value"}.
    #[arg(long, num_args = 1.., value_name = "TAGS")]
    tags: Vec<String>,
}

#[derive(Args)]
pub struct GetSecretValueArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    /// The version's id.
    #[arg(long)]
    version_id: Option<String>,
    /// A staging label of the version, e.g. AWSPREVIOUS [default: AWSCURRENT, without
    /// --version-id].
    #[arg(long, value_name = "LABEL")]
    version_stage: Option<String>,
}

#[derive(Args)]
pub struct BatchGetSecretValueArgs {
    /// The secrets' names or ARNs, 1 to 20 (several, or a JSON list); not with --filters.
    #[arg(long, num_args = 1.., value_name = "SECRET_ID")]
    secret_id_list: Vec<String>,
    #[arg(long, num_args = 1.., value_name = "FILTER", help = FILTERS_HELP)]
    filters: Vec<String>,
    /// With --filters: at most this many secrets, 1 to 20, and a NextToken when more remain.
    #[arg(long)]
    max_results: Option<i32>,
    /// Start at this NextToken of an earlier page.
    #[arg(long, value_name = "TOKEN")]
    next_token: Option<String>,
}

#[derive(Args)]
pub struct PutSecretValueArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    #[arg(long, value_name = "TOKEN", help = TOKEN_HELP)]
    client_request_token: Option<String>,
    #[command(flatten)]
    value: SecretValueArgs,
    /// The staging labels of the new version (several, or a JSON list) [default: AWSCURRENT].
    #[arg(long, num_args = 1.., value_name = "LABEL")]
    version_stages: Vec<String>,
    /// The token of the rotation that writes this version (accepted; vaultd does not check it).
    #[arg(long, value_name = "TOKEN")]
    rotation_token: Option<String>,
}

#[derive(Args)]
pub struct UpdateSecretArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    #[arg(long, value_name = "TOKEN", help = TOKEN_HELP)]
    client_request_token: Option<String>,
    /// A new description [default: unchanged].
    #[arg(long)]
    description: Option<String>,
    /// A new KMS key for the values; the labelled versions are re-encrypted under it
    /// [default: unchanged].
    #[arg(long)]
    kms_key_id: Option<String>,
    #[command(flatten)]
    value: SecretValueArgs,
}

#[derive(Args)]
pub struct UpdateSecretVersionStageArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    /// The staging label to move, e.g. AWSCURRENT.
    #[arg(long, value_name = "LABEL")]
    version_stage: String,
    /// The version that has the label now (required when a version has it).
    #[arg(long, value_name = "VERSION_ID")]
    remove_from_version_id: Option<String>,
    /// The version to attach the label to; without it the label is only removed. Moving
    /// AWSCURRENT leaves AWSPREVIOUS on the version it left.
    #[arg(long, value_name = "VERSION_ID")]
    move_to_version_id: Option<String>,
}

/// `--sort-order`, as Secrets Manager spells it.
#[derive(Clone, Copy, ValueEnum)]
enum SortOrder {
    Asc,
    Desc,
}

impl From<SortOrder> for pb::SortOrderType {
    fn from(value: SortOrder) -> Self {
        match value {
            SortOrder::Asc => Self::Asc,
            SortOrder::Desc => Self::Desc,
        }
    }
}

/// `--sort-by`, as Secrets Manager spells it.
#[derive(Clone, Copy, ValueEnum)]
enum SortBy {
    CreatedDate,
    LastAccessedDate,
    LastChangedDate,
    Name,
}

impl From<SortBy> for pb::SortByType {
    fn from(value: SortBy) -> Self {
        match value {
            SortBy::CreatedDate => Self::CreatedDate,
            SortBy::LastAccessedDate => Self::LastAccessedDate,
            SortBy::LastChangedDate => Self::LastChangedDate,
            SortBy::Name => Self::Name,
        }
    }
}

#[derive(Args)]
pub struct ListSecretsArgs {
    /// Also list the secrets whose deletion is scheduled.
    #[arg(long, overrides_with = "no_include_planned_deletion")]
    include_planned_deletion: bool,
    /// Leave out the secrets whose deletion is scheduled [default].
    #[arg(long, overrides_with = "include_planned_deletion")]
    no_include_planned_deletion: bool,
    #[arg(long, num_args = 1.., value_name = "FILTER", help = FILTERS_HELP)]
    filters: Vec<String>,
    /// The order [default: asc].
    #[arg(long, value_enum)]
    sort_order: Option<SortOrder>,
    /// What to sort by [default: created-date].
    #[arg(long, value_enum)]
    sort_by: Option<SortBy>,
    #[command(flatten)]
    page: PaginationArgs,
}

#[derive(Args)]
pub struct ListSecretVersionIdsArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    /// At most this many versions, 1 to 100, and a NextToken when more remain.
    #[arg(long)]
    max_results: Option<i32>,
    /// Start at this NextToken of an earlier page.
    #[arg(long, value_name = "TOKEN")]
    next_token: Option<String>,
    /// Also list the versions without staging labels.
    #[arg(long, overrides_with = "no_include_deprecated")]
    include_deprecated: bool,
    /// Only the versions with staging labels [default].
    #[arg(long, overrides_with = "include_deprecated")]
    no_include_deprecated: bool,
}

#[derive(Args)]
pub struct DeleteSecretArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    /// Days before the secret is deleted for good, 7 to 30 [default: 30].
    #[arg(long, value_name = "DAYS")]
    recovery_window_in_days: Option<i64>,
    /// Delete the secret at once, without a recovery window (not with
    /// --recovery-window-in-days).
    #[arg(long, overrides_with = "no_force_delete_without_recovery")]
    force_delete_without_recovery: bool,
    /// Keep a recovery window [default].
    #[arg(long, overrides_with = "force_delete_without_recovery")]
    no_force_delete_without_recovery: bool,
}

#[derive(Args)]
pub struct TagResourceArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    /// Tags: Key=KEY,Value=VALUE (several), or a JSON list of {"Key","Value"}.
    #[arg(long, num_args = 1.., required = true, value_name = "TAGS")]
    tags: Vec<String>,
}

#[derive(Args)]
pub struct UntagResourceArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    /// The keys of the tags to remove (several, or a JSON list).
    #[arg(long, num_args = 1.., required = true, value_name = "TAG_KEY")]
    tag_keys: Vec<String>,
}

/// get-random-password's `--NAME` / `--no-NAME` pairs; of a pair, the last one given wins.
#[derive(Args)]
pub struct PasswordSwitches {
    /// Leave out the digits 0-9.
    #[arg(long, overrides_with = "no_exclude_numbers")]
    exclude_numbers: bool,
    /// Include digits [default].
    #[arg(long, overrides_with = "exclude_numbers")]
    no_exclude_numbers: bool,
    /// Leave out punctuation: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
    #[arg(long, overrides_with = "no_exclude_punctuation")]
    exclude_punctuation: bool,
    /// Include punctuation [default].
    #[arg(long, overrides_with = "exclude_punctuation")]
    no_exclude_punctuation: bool,
    /// Leave out the uppercase letters A-Z.
    #[arg(long, overrides_with = "no_exclude_uppercase")]
    exclude_uppercase: bool,
    /// Include uppercase letters [default].
    #[arg(long, overrides_with = "exclude_uppercase")]
    no_exclude_uppercase: bool,
    /// Leave out the lowercase letters a-z.
    #[arg(long, overrides_with = "no_exclude_lowercase")]
    exclude_lowercase: bool,
    /// Include lowercase letters [default].
    #[arg(long, overrides_with = "exclude_lowercase")]
    no_exclude_lowercase: bool,
    /// Include the space character.
    #[arg(long, overrides_with = "no_include_space")]
    include_space: bool,
    /// Leave out the space character [default].
    #[arg(long, overrides_with = "include_space")]
    no_include_space: bool,
    /// At least one character of every included type [default].
    #[arg(long, overrides_with = "no_require_each_included_type")]
    require_each_included_type: bool,
    /// Characters of the included types, not necessarily of each.
    #[arg(long, overrides_with = "require_each_included_type")]
    no_require_each_included_type: bool,
}

#[derive(Args)]
pub struct GetRandomPasswordArgs {
    /// The length, 1 to 4096 [default: 32].
    #[arg(long, value_name = "LENGTH")]
    password_length: Option<i64>,
    /// Characters the password must not contain.
    #[arg(long, allow_hyphen_values = true, value_name = "CHARACTERS")]
    exclude_characters: Option<String>,
    #[command(flatten)]
    switches: PasswordSwitches,
}

#[derive(Args)]
pub struct RotateSecretArgs {
    #[arg(long, help = SECRET_ID_HELP)]
    secret_id: String,
    #[arg(long, value_name = "TOKEN", help = TOKEN_HELP)]
    client_request_token: Option<String>,
    /// The rotation hook (vaultd has no Lambda): an http(s):// URL called with each rotation step
    /// as JSON, or command:PATH run by vaultd [default: the secret's current hook].
    #[arg(long, value_name = "HOOK")]
    rotation_lambda_arn: Option<String>,
    /// The schedule: AutomaticallyAfterDays=DAYS,Duration=WINDOW,ScheduleExpression=EXPRESSION
    /// (any of them; e.g. AutomaticallyAfterDays=30 or ScheduleExpression=rate(10 days)), a JSON
    /// object of those fields, or file://PATH [default: the secret's current rules].
    #[arg(long, value_name = "RULES")]
    rotation_rules: Option<String>,
    /// Rotate now as well as on the schedule [default].
    #[arg(long, overrides_with = "no_rotate_immediately")]
    rotate_immediately: bool,
    /// Only rotate on the schedule, starting from the next window.
    #[arg(long, overrides_with = "rotate_immediately")]
    no_rotate_immediately: bool,
}

/// A `--NAME` / `--no-NAME` pair whose absence means "the AWS default": `None` when neither was
/// given (of two, the last given is the one set).
fn either(yes: bool, no: bool) -> Option<bool> {
    match (yes, no) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// An optional enum flag as its wire value; absent is UNSPECIFIED, "the AWS default".
fn wire<E: Into<i32>>(value: Option<E>) -> i32 {
    value.map_or(0, Into::into)
}

impl SecretsManagerCommand {
    /// The request this command sends. Reads the files its flags name; sends nothing.
    pub fn request(self) -> Result<SecretsRequest, String> {
        use SecretsManagerCommand as C;
        use SecretsRequest as R;
        Ok(match self {
            C::CreateSecret(a) => {
                let (secret_string, secret_binary) = a.value.read()?;
                R::CreateSecret(pb::CreateSecretRequest {
                    tags: input::resource_tags("--tags", &a.tags)?,
                    name: a.name,
                    client_request_token: a.client_request_token.unwrap_or_default(),
                    description: a.description.unwrap_or_default(),
                    kms_key_id: a.kms_key_id.unwrap_or_default(),
                    secret_binary,
                    secret_string,
                })
            }
            C::GetSecretValue(a) => R::GetSecretValue(pb::GetSecretValueRequest {
                secret_id: a.secret_id,
                version_id: a.version_id.unwrap_or_default(),
                version_stage: a.version_stage.unwrap_or_default(),
            }),
            C::BatchGetSecretValue(a) => R::BatchGetSecretValue(pb::BatchGetSecretValueRequest {
                secret_id_list: input::string_list("--secret-id-list", &a.secret_id_list)?,
                filters: input::secret_filters("--filters", &a.filters)?,
                max_results: a.max_results,
                next_token: a.next_token.unwrap_or_default(),
            }),
            C::PutSecretValue(a) => {
                let (secret_string, secret_binary) = a.value.read()?;
                R::PutSecretValue(pb::PutSecretValueRequest {
                    version_stages: input::string_list("--version-stages", &a.version_stages)?,
                    secret_id: a.secret_id,
                    client_request_token: a.client_request_token.unwrap_or_default(),
                    secret_binary,
                    secret_string,
                    rotation_token: a.rotation_token.unwrap_or_default(),
                })
            }
            C::UpdateSecret(a) => {
                let (secret_string, secret_binary) = a.value.read()?;
                R::UpdateSecret(pb::UpdateSecretRequest {
                    secret_id: a.secret_id,
                    client_request_token: a.client_request_token.unwrap_or_default(),
                    description: a.description,
                    kms_key_id: a.kms_key_id,
                    secret_binary,
                    secret_string,
                })
            }
            C::UpdateSecretVersionStage(a) => {
                R::UpdateSecretVersionStage(pb::UpdateSecretVersionStageRequest {
                    secret_id: a.secret_id,
                    version_stage: a.version_stage,
                    remove_from_version_id: a.remove_from_version_id.unwrap_or_default(),
                    move_to_version_id: a.move_to_version_id.unwrap_or_default(),
                })
            }
            C::DescribeSecret(a) => R::DescribeSecret(pb::DescribeSecretRequest {
                secret_id: a.secret_id,
            }),
            C::ListSecrets(a) => {
                let (max_results, next_token, paging) = a.page.split();
                let request = pb::ListSecretsRequest {
                    include_planned_deletion: a.include_planned_deletion,
                    max_results,
                    next_token,
                    filters: input::secret_filters("--filters", &a.filters)?,
                    sort_order: wire(a.sort_order.map(pb::SortOrderType::from)),
                    sort_by: wire(a.sort_by.map(pb::SortByType::from)),
                };
                R::ListSecrets(request, paging)
            }
            C::ListSecretVersionIds(a) => {
                R::ListSecretVersionIds(pb::ListSecretVersionIdsRequest {
                    secret_id: a.secret_id,
                    max_results: a.max_results,
                    next_token: a.next_token.unwrap_or_default(),
                    include_deprecated: a.include_deprecated,
                })
            }
            C::DeleteSecret(a) => R::DeleteSecret(pb::DeleteSecretRequest {
                secret_id: a.secret_id,
                recovery_window_in_days: a.recovery_window_in_days,
                force_delete_without_recovery: a.force_delete_without_recovery,
            }),
            C::RestoreSecret(a) => R::RestoreSecret(pb::RestoreSecretRequest {
                secret_id: a.secret_id,
            }),
            C::TagResource(a) => R::TagResource(pb::SecretsManagerTagResourceRequest {
                tags: input::resource_tags("--tags", &a.tags)?,
                secret_id: a.secret_id,
            }),
            C::UntagResource(a) => R::UntagResource(pb::SecretsManagerUntagResourceRequest {
                tag_keys: input::tag_keys("--tag-keys", &a.tag_keys)?,
                secret_id: a.secret_id,
            }),
            C::GetRandomPassword(a) => {
                let s = a.switches;
                R::GetRandomPassword(pb::GetRandomPasswordRequest {
                    password_length: a.password_length,
                    exclude_characters: a.exclude_characters.unwrap_or_default(),
                    exclude_numbers: s.exclude_numbers,
                    exclude_punctuation: s.exclude_punctuation,
                    exclude_uppercase: s.exclude_uppercase,
                    exclude_lowercase: s.exclude_lowercase,
                    include_space: s.include_space,
                    require_each_included_type: either(
                        s.require_each_included_type,
                        s.no_require_each_included_type,
                    ),
                })
            }
            C::RotateSecret(a) => R::RotateSecret(pb::RotateSecretRequest {
                rotation_rules: a
                    .rotation_rules
                    .map(|rules| input::rotation_rules("--rotation-rules", &rules))
                    .transpose()?,
                secret_id: a.secret_id,
                client_request_token: a.client_request_token.unwrap_or_default(),
                rotation_lambda_arn: a.rotation_lambda_arn.unwrap_or_default(),
                rotate_immediately: either(a.rotate_immediately, a.no_rotate_immediately),
            }),
            C::CancelRotateSecret(a) => R::CancelRotateSecret(pb::CancelRotateSecretRequest {
                secret_id: a.secret_id,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::calls::{ItemPaging, TokenPaging};

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: SecretsManagerCommand,
    }

    fn request(line: &str) -> Result<SecretsRequest, String> {
        request_words(line.split_whitespace())
    }

    fn request_words<'a>(words: impl Iterator<Item = &'a str>) -> Result<SecretsRequest, String> {
        let words = std::iter::once("secretsmanager").chain(words);
        let cli = Cli::try_parse_from(words).map_err(|e| e.to_string())?;
        cli.command.request()
    }

    #[test]
    fn create_secret_flags_are_the_aws_cli_s() {
        let line = "create-secret --name app/db --secret-string s3cret --description d \
                    --kms-key-id alias/app --tags Key=team,Value=x Key=env,Value=prod";
        let Ok(SecretsRequest::CreateSecret(create)) = request(line) else {
            panic!("a CreateSecret request");
        };
        assert_eq!(create.name, "app/db");
        assert_eq!(create.secret_string.as_deref(), Some("s3cret"));
        assert_eq!(create.secret_binary, None);
        assert_eq!(
            (create.description.as_str(), create.kms_key_id.as_str()),
            ("d", "alias/app")
        );
        assert_eq!(create.tags.len(), 2);
        assert_eq!(create.client_request_token, "", "vaultd makes one up");

        // A value that starts with '-' is a value, not a flag (which clap would echo).
        let words = ["create-secret", "--name", "n", "--secret-string", "-x9!pw"];
        let Ok(SecretsRequest::CreateSecret(create)) = request_words(words.into_iter()) else {
            panic!("a CreateSecret request");
        };
        assert_eq!(create.secret_string.as_deref(), Some("-x9!pw"));

        let Ok(SecretsRequest::CreateSecret(binary)) =
            request("create-secret --name n --secret-binary AAEC")
        else {
            panic!("a CreateSecret request");
        };
        assert_eq!(binary.secret_binary.as_deref(), Some(&[0u8, 1, 2][..]));
        assert_eq!(binary.secret_string, None);
        let Err(error) = request("create-secret --name n --secret-binary hunter2!") else {
            panic!("a binary value must be base64 or fileb://");
        };
        assert!(!error.contains("hunter2"), "{error}");
        let Err(error) = request("create-secret --name n --secret-string file:///nonexistent/v")
        else {
            panic!("a missing file is refused before sending");
        };
        assert!(error.contains("--secret-string"), "{error}");
    }

    #[test]
    fn values_versions_and_stages() {
        let line = "put-secret-value --secret-id app/db --secret-string v2 \
                    --version-stages AWSCURRENT blue --client-request-token t";
        let Ok(SecretsRequest::PutSecretValue(put)) = request(line) else {
            panic!("a PutSecretValue request");
        };
        assert_eq!(put.version_stages, ["AWSCURRENT", "blue"]);
        assert_eq!(put.client_request_token, "t");

        let Ok(SecretsRequest::GetSecretValue(get)) =
            request("get-secret-value --secret-id app/db --version-stage AWSPREVIOUS")
        else {
            panic!("a GetSecretValue request");
        };
        assert_eq!(
            (get.version_id.as_str(), get.version_stage.as_str()),
            ("", "AWSPREVIOUS")
        );

        let line = "update-secret-version-stage --secret-id s --version-stage AWSCURRENT \
                    --remove-from-version-id a --move-to-version-id b";
        let Ok(SecretsRequest::UpdateSecretVersionStage(stage)) = request(line) else {
            panic!("an UpdateSecretVersionStage request");
        };
        assert_eq!(
            (
                stage.remove_from_version_id.as_str(),
                stage.move_to_version_id.as_str()
            ),
            ("a", "b")
        );

        // update-secret: absent is "unchanged", empty is a value.
        let Ok(SecretsRequest::UpdateSecret(update)) =
            request("update-secret --secret-id s --kms-key-id alias/new")
        else {
            panic!("an UpdateSecret request");
        };
        assert_eq!(update.description, None);
        assert_eq!(update.kms_key_id.as_deref(), Some("alias/new"));
        assert_eq!((update.secret_string, update.secret_binary), (None, None));

        let Ok(SecretsRequest::DeleteSecret(delete)) =
            request("delete-secret --secret-id s --recovery-window-in-days 7")
        else {
            panic!("a DeleteSecret request");
        };
        assert_eq!(delete.recovery_window_in_days, Some(7));
        assert!(!delete.force_delete_without_recovery);
        let line = "delete-secret --secret-id s --force-delete-without-recovery";
        let Ok(SecretsRequest::DeleteSecret(delete)) = request(line) else {
            panic!("a DeleteSecret request");
        };
        assert!(delete.force_delete_without_recovery);
    }

    #[test]
    fn list_secrets_pages_filters_and_sorts() {
        let list = |line: &str| match request(line) {
            Ok(SecretsRequest::ListSecrets(r, paging)) => (r, paging),
            _ => panic!("a ListSecrets request"),
        };
        let (r, all) = list("list-secrets");
        assert_eq!(all, TokenPaging::Items(ItemPaging::default()));
        assert_eq!(
            (r.sort_by, r.sort_order, r.include_planned_deletion),
            (0, 0, false)
        );
        let (r, items) = list(
            "list-secrets --filters Key=name,Values=app/ --sort-by last-changed-date \
             --sort-order desc --include-planned-deletion --max-items 5 --page-size 2",
        );
        assert_eq!(r.filters[0].key, pb::FilterNameStringType::Name as i32);
        assert_eq!(r.sort_by, pb::SortByType::LastChangedDate as i32);
        assert_eq!(r.sort_order, pb::SortOrderType::Desc as i32);
        assert!(r.include_planned_deletion);
        assert_eq!(
            items,
            TokenPaging::Items(ItemPaging {
                max_items: Some(5),
                starting_token: None,
                page_size: Some(2),
            })
        );
        let (r, one) = list("list-secrets --max-results 3 --next-token t");
        assert_eq!(one, TokenPaging::OnePage);
        assert_eq!((r.max_results, r.next_token.as_str()), (Some(3), "t"));
        assert!(request("list-secrets --sort-by Name").is_err());
        assert!(request("list-secrets --filters Key=colour,Values=x").is_err());
        assert!(request("list-secrets --max-results 3 --max-items 2").is_err());

        let line = "batch-get-secret-value --secret-id-list a [\"b\",\"c\"]";
        let Ok(SecretsRequest::BatchGetSecretValue(batch)) = request(line) else {
            panic!("a BatchGetSecretValue request");
        };
        assert_eq!(batch.secret_id_list, ["a", "b", "c"]);
        assert!(batch.filters.is_empty());
        let line = "list-secret-version-ids --secret-id s --include-deprecated --max-results 2";
        let Ok(SecretsRequest::ListSecretVersionIds(versions)) = request(line) else {
            panic!("a ListSecretVersionIds request");
        };
        assert!(versions.include_deprecated);
        assert_eq!(versions.max_results, Some(2));
    }

    #[test]
    fn get_random_password_takes_every_option() {
        let Ok(SecretsRequest::GetRandomPassword(defaults)) = request("get-random-password") else {
            panic!("a GetRandomPassword request");
        };
        assert_eq!(defaults, pb::GetRandomPasswordRequest::default());
        let words = [
            "get-random-password",
            "--password-length",
            "20",
            "--exclude-characters",
            "-/\\",
            "--exclude-numbers",
            "--exclude-punctuation",
            "--exclude-uppercase",
            "--exclude-lowercase",
            "--no-exclude-lowercase",
            "--include-space",
            "--no-require-each-included-type",
        ];
        let Ok(SecretsRequest::GetRandomPassword(r)) = request_words(words.into_iter()) else {
            panic!("a GetRandomPassword request");
        };
        assert_eq!(r.password_length, Some(20));
        assert_eq!(r.exclude_characters, "-/\\");
        assert!(r.exclude_numbers && r.exclude_punctuation && r.exclude_uppercase);
        assert!(!r.exclude_lowercase, "the last of a pair wins");
        assert!(r.include_space);
        assert_eq!(r.require_each_included_type, Some(false));
        let line = "get-random-password --no-require-each-included-type \
                    --require-each-included-type";
        let Ok(SecretsRequest::GetRandomPassword(r)) = request(line) else {
            panic!("a GetRandomPassword request");
        };
        assert_eq!(r.require_each_included_type, Some(true));
    }

    #[test]
    fn rotation_and_tags() {
        let line = "rotate-secret --secret-id s --rotation-lambda-arn command:/usr/bin/rotate \
                    --rotation-rules AutomaticallyAfterDays=30 --no-rotate-immediately";
        let Ok(SecretsRequest::RotateSecret(rotate)) = request(line) else {
            panic!("a RotateSecret request");
        };
        assert_eq!(rotate.rotation_lambda_arn, "command:/usr/bin/rotate");
        assert_eq!(
            rotate.rotation_rules.map(|r| r.automatically_after_days),
            Some(Some(30))
        );
        assert_eq!(rotate.rotate_immediately, Some(false));
        let Ok(SecretsRequest::RotateSecret(rotate)) = request("rotate-secret --secret-id s")
        else {
            panic!("a RotateSecret request");
        };
        assert_eq!(
            (rotate.rotation_rules, rotate.rotate_immediately),
            (None, None)
        );
        assert!(request("rotate-secret --secret-id s --rotation-rules Days=3").is_err());

        let Ok(SecretsRequest::UntagResource(untag)) =
            request("untag-resource --secret-id s --tag-keys team env")
        else {
            panic!("an UntagResource request");
        };
        assert_eq!(untag.tag_keys, ["team", "env"]);
        assert!(request("tag-resource --secret-id s --tags TagKey=k,TagValue=v").is_err());
        assert!(request("tag-resource --secret-id s").is_err());
    }
}
