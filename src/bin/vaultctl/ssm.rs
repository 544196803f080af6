//! `vaultctl ssm <action>`: parameters with versions, labels and tags, one subcommand per
//! `vault.v1.ParameterStore` RPC, named and flagged as the AWS CLI's `aws ssm` names them
//! (`put-parameter --name /app/db --value file://db.txt --type SecureString --overwrite`).
//!
//! [`SsmCommand::request`] reads the flags and files into the request before anything is sent;
//! [`crate::calls`] sends it. The lists (get-parameters-by-path, get-parameter-history,
//! describe-parameters) page as the AWS CLI's do ([`PaginationArgs`]).
//!
//! A SecureString's value is a secret: vaultctl sends it and prints it as the answer (decrypted
//! only with `--with-decryption`), and never puts it in a message.

use clap::{Args, Subcommand, ValueEnum};
use vaultd::pb;

use crate::{
    calls::{ItemPaging, SsmRequest, TokenPaging},
    input,
};

#[derive(Subcommand)]
pub enum SsmCommand {
    /// Create a parameter, or with --overwrite a new version of one (PutParameter).
    PutParameter(PutParameterArgs),
    /// Show a parameter and its value; NAME:VERSION or NAME:LABEL picks a version (GetParameter).
    GetParameter(GetParameterArgs),
    /// Show up to 10 parameters; names that name nothing come back as InvalidParameters
    /// (GetParameters).
    GetParameters(GetParametersArgs),
    /// List the parameters under a path, with their values (GetParametersByPath).
    GetParametersByPath(GetParametersByPathArgs),
    /// List the versions of a parameter, oldest first (GetParameterHistory).
    GetParameterHistory(GetParameterHistoryArgs),
    /// List parameters without their values (DescribeParameters).
    DescribeParameters(DescribeParametersArgs),
    /// Delete a parameter and all its versions (DeleteParameter).
    DeleteParameter(NameArgs),
    /// Delete up to 10 parameters; names that name nothing come back as InvalidParameters
    /// (DeleteParameters).
    DeleteParameters(NamesArgs),
    /// Attach labels to a version of a parameter, by default the latest; a label on another
    /// version moves (LabelParameterVersion).
    LabelParameterVersion(LabelParameterVersionArgs),
    /// Remove labels from a version of a parameter (UnlabelParameterVersion).
    UnlabelParameterVersion(UnlabelParameterVersionArgs),
    /// Add or overwrite tags of a parameter (AddTagsToResource).
    AddTagsToResource(AddTagsToResourceArgs),
    /// Remove tags from a parameter (RemoveTagsFromResource).
    RemoveTagsFromResource(RemoveTagsFromResourceArgs),
    /// List the tags of a parameter (ListTagsForResource).
    ListTagsForResource(ResourceArgs),
}

const NAME_HELP: &str = "The parameter's name (/app/db/password) or ARN.";

/// A parameter's type, as SSM spells it.
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "PascalCase")]
enum ParameterType {
    String,
    StringList,
    SecureString,
}

impl From<ParameterType> for pb::ParameterType {
    fn from(value: ParameterType) -> Self {
        match value {
            ParameterType::String => Self::String,
            ParameterType::StringList => Self::StringList,
            ParameterType::SecureString => Self::SecureString,
        }
    }
}

/// A parameter's tier, as SSM spells it.
#[derive(Clone, Copy, ValueEnum)]
enum ParameterTier {
    #[value(name = "Standard")]
    Standard,
    #[value(name = "Advanced")]
    Advanced,
    #[value(name = "Intelligent-Tiering")]
    IntelligentTiering,
}

impl From<ParameterTier> for pb::ParameterTier {
    fn from(value: ParameterTier) -> Self {
        match value {
            ParameterTier::Standard => Self::Standard,
            ParameterTier::Advanced => Self::Advanced,
            ParameterTier::IntelligentTiering => Self::IntelligentTiering,
        }
    }
}

#[derive(Args)]
pub struct NameArgs {
    #[arg(long, help = NAME_HELP)]
    name: String,
}

#[derive(Args)]
pub struct NamesArgs {
    /// The parameters' names or ARNs, 1 to 10 (several, or a JSON list).
    #[arg(long, num_args = 1.., required = true, value_name = "NAME")]
    names: Vec<String>,
}

/// `--with-decryption` / `--no-with-decryption`; the last one given wins.
#[derive(Args)]
pub struct DecryptionArgs {
    /// Return SecureString values decrypted (else the base64 of their ciphertext).
    #[arg(long, overrides_with = "no_with_decryption")]
    with_decryption: bool,
    /// Return SecureString values encrypted: the base64 of their ciphertext [default].
    #[arg(long, overrides_with = "with_decryption")]
    no_with_decryption: bool,
}

/// The paging flags of an SSM list (and of `secretsmanager list-secrets`): the AWS CLI's own (--max-items, --starting-token,
/// --page-size), with which vaultctl follows NextToken from page to page, or the operation's
/// (--max-results, --next-token), with which it returns the one page asked for.
#[derive(Args)]
pub struct PaginationArgs {
    /// Return at most this many items, and a NextToken to continue from (--starting-token) when
    /// more remain [default: all].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_items: Option<u32>,
    /// Continue a listing from the NextToken an earlier --max-items listing printed.
    #[arg(long, value_name = "TOKEN")]
    starting_token: Option<String>,
    /// How many items to ask for in each call [default: the operation's].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    page_size: Option<i32>,
    /// The most items in one call; only that page is returned, with its NextToken.
    #[arg(long, conflicts_with_all = ["max_items", "starting_token", "page_size"])]
    max_results: Option<i32>,
    /// Start at this NextToken of an earlier page; only that page is returned.
    #[arg(long, value_name = "TOKEN", conflicts_with_all = ["max_items", "starting_token", "page_size"])]
    next_token: Option<String>,
    /// Return only the first page instead of following NextToken.
    #[arg(long, conflicts_with_all = ["max_items", "starting_token", "page_size"])]
    no_paginate: bool,
}

impl PaginationArgs {
    /// The request's MaxResults and NextToken, and how to page.
    pub fn split(self) -> (Option<i32>, String, TokenPaging) {
        let paging = if self.no_paginate || self.max_results.is_some() || self.next_token.is_some()
        {
            TokenPaging::OnePage
        } else {
            TokenPaging::Items(ItemPaging {
                max_items: self.max_items.map(|n| n as usize),
                starting_token: self.starting_token,
                page_size: self.page_size,
            })
        };
        (
            self.max_results,
            self.next_token.unwrap_or_default(),
            paging,
        )
    }
}

#[derive(Args)]
pub struct PutParameterArgs {
    #[arg(long, help = NAME_HELP)]
    name: String,
    /// The value: text, or file://PATH for a file's text. A StringList is comma-separated. For a
    /// SecureString prefer file://PATH: a value on the command line is visible to other local
    /// users (ps).
    #[arg(long)]
    value: String,
    /// The type; required for a new parameter [default when overwriting: the current one].
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    parameter_type: Option<ParameterType>,
    /// SecureString only: the KMS key to encrypt the value under (id, ARN, alias/NAME or alias
    /// ARN) [default: alias/aws/ssm].
    #[arg(long)]
    key_id: Option<String>,
    /// Make a new version of an existing parameter (without it, an existing name is the error
    /// ParameterAlreadyExists).
    #[arg(long, overrides_with = "no_overwrite")]
    overwrite: bool,
    /// Refuse to change an existing parameter [default].
    #[arg(long, overrides_with = "overwrite")]
    no_overwrite: bool,
    /// A description of the parameter [default when overwriting: the current one].
    #[arg(long)]
    description: Option<String>,
    /// A regular expression the value must match, e.g. ^\d+$.
    #[arg(long, value_name = "REGEX")]
    allowed_pattern: Option<String>,
    /// Tags of a new parameter: Key=KEY,Value=VALUE (several), or a JSON list of
    /// {"Key","Value"}. Not with --overwrite: use add-tags-to-resource.
    #[arg(long, num_args = 1.., value_name = "TAGS")]
    tags: Vec<String>,
    /// The tier [default: Standard, or the current one when overwriting].
    #[arg(long, value_enum)]
    tier: Option<ParameterTier>,
    /// The data type of the value [default: text].
    #[arg(long)]
    data_type: Option<String>,
}

#[derive(Args)]
pub struct GetParameterArgs {
    /// The parameter's name or ARN, optionally with :VERSION or :LABEL.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    decryption: DecryptionArgs,
}

#[derive(Args)]
pub struct GetParametersArgs {
    /// The parameters' names or ARNs, each optionally with :VERSION or :LABEL; 1 to 10
    /// (several, or a JSON list).
    #[arg(long, num_args = 1.., required = true, value_name = "NAME")]
    names: Vec<String>,
    #[command(flatten)]
    decryption: DecryptionArgs,
}

const FILTERS_HELP: &str = "Filters: Key=KEY,Option=OPTION,Values=V1,V2 (several), or a JSON list \
     of {\"Key\",\"Option\",\"Values\"}. Keys: Type, KeyId, Label; describe-parameters also Name, \
     Path, Tier, DataType. Options: Equals; BeginsWith for Name; OneLevel or Recursive for Path.";

#[derive(Args)]
pub struct GetParametersByPathArgs {
    /// The path: /, or a hierarchy such as /app/prod.
    #[arg(long)]
    path: String,
    /// Include parameters below the path's direct children.
    #[arg(long, overrides_with = "no_recursive")]
    recursive: bool,
    /// Only the path's direct children [default].
    #[arg(long, overrides_with = "recursive")]
    no_recursive: bool,
    #[arg(long, num_args = 1.., value_name = "FILTER", help = FILTERS_HELP)]
    parameter_filters: Vec<String>,
    #[command(flatten)]
    decryption: DecryptionArgs,
    #[command(flatten)]
    page: PaginationArgs,
}

#[derive(Args)]
pub struct GetParameterHistoryArgs {
    #[arg(long, help = NAME_HELP)]
    name: String,
    #[command(flatten)]
    decryption: DecryptionArgs,
    #[command(flatten)]
    page: PaginationArgs,
}

#[derive(Args)]
pub struct DescribeParametersArgs {
    #[arg(long, num_args = 1.., value_name = "FILTER", help = FILTERS_HELP)]
    parameter_filters: Vec<String>,
    #[command(flatten)]
    page: PaginationArgs,
}

#[derive(Args)]
pub struct LabelParameterVersionArgs {
    #[arg(long, help = NAME_HELP)]
    name: String,
    /// The version to label [default: the latest].
    #[arg(long)]
    parameter_version: Option<i64>,
    /// The labels, 1 to 10 (several, or a JSON list).
    #[arg(long, num_args = 1.., required = true, value_name = "LABEL")]
    labels: Vec<String>,
}

#[derive(Args)]
pub struct UnlabelParameterVersionArgs {
    #[arg(long, help = NAME_HELP)]
    name: String,
    /// The version to remove the labels from.
    #[arg(long)]
    parameter_version: i64,
    /// The labels, 1 to 10 (several, or a JSON list).
    #[arg(long, num_args = 1.., required = true, value_name = "LABEL")]
    labels: Vec<String>,
}

/// A resource to tag: vaultd tags parameters only.
#[derive(Args)]
pub struct ResourceArgs {
    /// The type of resource: Parameter.
    #[arg(long, value_name = "TYPE")]
    resource_type: String,
    /// The parameter's name.
    #[arg(long, value_name = "NAME")]
    resource_id: String,
}

#[derive(Args)]
pub struct AddTagsToResourceArgs {
    #[command(flatten)]
    resource: ResourceArgs,
    /// Tags: Key=KEY,Value=VALUE (several), or a JSON list of {"Key","Value"}.
    #[arg(long, num_args = 1.., required = true, value_name = "TAGS")]
    tags: Vec<String>,
}

#[derive(Args)]
pub struct RemoveTagsFromResourceArgs {
    #[command(flatten)]
    resource: ResourceArgs,
    /// The keys of the tags to remove (several, or a JSON list).
    #[arg(long, num_args = 1.., required = true, value_name = "TAG_KEY")]
    tag_keys: Vec<String>,
}

/// An optional enum flag as its wire value; absent is UNSPECIFIED, "the AWS default".
fn wire<E: Into<i32>>(value: Option<E>) -> i32 {
    value.map_or(0, Into::into)
}

impl SsmCommand {
    /// The request this command sends. Reads the files its flags name; sends nothing.
    pub fn request(self) -> Result<SsmRequest, String> {
        use SsmCommand as C;
        use SsmRequest as R;
        Ok(match self {
            C::PutParameter(a) => R::PutParameter(pb::PutParameterRequest {
                value: input::text_value("--value", &a.value)?,
                tags: input::resource_tags("--tags", &a.tags)?,
                name: a.name,
                description: a.description.unwrap_or_default(),
                r#type: wire(a.parameter_type.map(pb::ParameterType::from)),
                key_id: a.key_id.unwrap_or_default(),
                overwrite: a.overwrite,
                allowed_pattern: a.allowed_pattern.unwrap_or_default(),
                tier: wire(a.tier.map(pb::ParameterTier::from)),
                data_type: a.data_type.unwrap_or_default(),
            }),
            C::GetParameter(a) => R::GetParameter(pb::GetParameterRequest {
                name: a.name,
                with_decryption: a.decryption.with_decryption,
            }),
            C::GetParameters(a) => R::GetParameters(pb::GetParametersRequest {
                names: input::string_list("--names", &a.names)?,
                with_decryption: a.decryption.with_decryption,
            }),
            C::GetParametersByPath(a) => {
                let (max_results, next_token, paging) = a.page.split();
                let request = pb::GetParametersByPathRequest {
                    parameter_filters: input::parameter_filters(
                        "--parameter-filters",
                        &a.parameter_filters,
                    )?,
                    path: a.path,
                    recursive: a.recursive,
                    with_decryption: a.decryption.with_decryption,
                    max_results,
                    next_token,
                };
                R::GetParametersByPath(request, paging)
            }
            C::GetParameterHistory(a) => {
                let (max_results, next_token, paging) = a.page.split();
                let request = pb::GetParameterHistoryRequest {
                    name: a.name,
                    with_decryption: a.decryption.with_decryption,
                    max_results,
                    next_token,
                };
                R::GetParameterHistory(request, paging)
            }
            C::DescribeParameters(a) => {
                let (max_results, next_token, paging) = a.page.split();
                let request = pb::DescribeParametersRequest {
                    parameter_filters: input::parameter_filters(
                        "--parameter-filters",
                        &a.parameter_filters,
                    )?,
                    max_results,
                    next_token,
                };
                R::DescribeParameters(request, paging)
            }
            C::DeleteParameter(a) => {
                R::DeleteParameter(pb::DeleteParameterRequest { name: a.name })
            }
            C::DeleteParameters(a) => R::DeleteParameters(pb::DeleteParametersRequest {
                names: input::string_list("--names", &a.names)?,
            }),
            C::LabelParameterVersion(a) => {
                R::LabelParameterVersion(pb::LabelParameterVersionRequest {
                    labels: input::string_list("--labels", &a.labels)?,
                    name: a.name,
                    parameter_version: a.parameter_version,
                })
            }
            C::UnlabelParameterVersion(a) => {
                R::UnlabelParameterVersion(pb::UnlabelParameterVersionRequest {
                    labels: input::string_list("--labels", &a.labels)?,
                    name: a.name,
                    parameter_version: a.parameter_version,
                })
            }
            C::AddTagsToResource(a) => R::AddTagsToResource(pb::AddTagsToResourceRequest {
                tags: input::resource_tags("--tags", &a.tags)?,
                resource_type: a.resource.resource_type,
                resource_id: a.resource.resource_id,
            }),
            C::RemoveTagsFromResource(a) => {
                R::RemoveTagsFromResource(pb::RemoveTagsFromResourceRequest {
                    tag_keys: input::tag_keys("--tag-keys", &a.tag_keys)?,
                    resource_type: a.resource.resource_type,
                    resource_id: a.resource.resource_id,
                })
            }
            C::ListTagsForResource(a) => R::ListTagsForResource(pb::ListTagsForResourceRequest {
                resource_type: a.resource_type,
                resource_id: a.resource_id,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: SsmCommand,
    }

    fn request(line: &str) -> Result<SsmRequest, String> {
        let words = std::iter::once("ssm").chain(line.split_whitespace());
        let cli = Cli::try_parse_from(words).map_err(|e| e.to_string())?;
        cli.command.request()
    }

    #[test]
    fn put_parameter_flags_are_the_aws_cli_s() {
        let line = "put-parameter --name /app/db --value s3cret --type SecureString \
                    --key-id alias/app --overwrite --tier Intelligent-Tiering";
        let Ok(SsmRequest::PutParameter(put)) = request(line) else {
            panic!("a PutParameter request");
        };
        assert_eq!(put.r#type, pb::ParameterType::SecureString as i32);
        assert_eq!(put.tier, pb::ParameterTier::IntelligentTiering as i32);
        assert_eq!((put.key_id.as_str(), put.overwrite), ("alias/app", true));
        assert_eq!(put.data_type, "");

        let line = "put-parameter --name n --value a,b --type StringList --overwrite \
                    --no-overwrite --tags Key=team,Value=x Key=env,Value=prod";
        let Ok(SsmRequest::PutParameter(put)) = request(line) else {
            panic!("a PutParameter request");
        };
        assert!(
            !put.overwrite,
            "the last of --overwrite / --no-overwrite wins"
        );
        assert_eq!(put.r#type, pb::ParameterType::StringList as i32);
        assert_eq!(put.tags.len(), 2);

        assert!(request("put-parameter --name n --value v --type string").is_err());
        assert!(request("put-parameter --name n --value v --tier Cheap").is_err());
    }

    #[test]
    fn lists_follow_next_token_unless_a_page_is_asked_for() {
        let paging = |line: &str| match request(line) {
            Ok(SsmRequest::GetParametersByPath(r, paging)) => (r, paging),
            _ => panic!("a GetParametersByPath request"),
        };
        let (r, all) = paging("get-parameters-by-path --path /app --recursive");
        assert_eq!(all, TokenPaging::Items(ItemPaging::default()));
        assert!(r.recursive && !r.with_decryption);
        let (_, items) = paging("get-parameters-by-path --path / --max-items 3 --page-size 1");
        assert_eq!(
            items,
            TokenPaging::Items(ItemPaging {
                max_items: Some(3),
                starting_token: None,
                page_size: Some(1),
            })
        );
        let (r, one) = paging("get-parameters-by-path --path / --max-results 2 --next-token t");
        assert_eq!(one, TokenPaging::OnePage);
        assert_eq!((r.max_results, r.next_token.as_str()), (Some(2), "t"));
        assert!(request("get-parameters-by-path --path / --max-results 2 --max-items 3").is_err());
        assert!(request("get-parameters-by-path --path / --no-paginate --page-size 3").is_err());
        let (r, _) = paging(
            "get-parameters-by-path --path / --with-decryption \
             --parameter-filters Key=Type,Option=Equals,Values=SecureString",
        );
        assert!(r.with_decryption);
        assert_eq!(r.parameter_filters[0].values, ["SecureString"]);
    }

    #[test]
    fn labels_names_and_tags() {
        let Ok(SsmRequest::LabelParameterVersion(label)) =
            request("label-parameter-version --name n --labels prod blue")
        else {
            panic!("a LabelParameterVersion request");
        };
        assert_eq!(label.parameter_version, None);
        assert_eq!(label.labels, ["prod", "blue"]);
        assert!(request("unlabel-parameter-version --name n --labels prod").is_err());
        let Ok(SsmRequest::GetParameters(get)) =
            request(r#"get-parameters --names ["a","b"] c --with-decryption"#)
        else {
            panic!("a GetParameters request");
        };
        assert_eq!(get.names, ["a", "b", "c"]);
        assert!(get.with_decryption);
        let tags = "add-tags-to-resource --resource-type Parameter --resource-id n --tags Key=k";
        let Err(error) = request(tags) else {
            panic!("a tag without a Value is refused");
        };
        assert!(error.contains("Key=KEY,Value=VALUE"), "{error}");
    }
}
