//! `vaultctl iam <action>`: users, access keys, inline user policies and policy simulation, one
//! subcommand per `vault.v1.Identity` RPC, named and flagged as the AWS CLI names them
//! (`put-user-policy --user-name U --policy-name P --policy-document file://policy.json`).
//!
//! [`IamCommand::job`] reads the flags and files into requests before anything is sent;
//! [`IamJob::run`] sends them ([`crate::calls`]). The one action of more than one call is
//! `simulate-policy --user-name`, which asks GetUser for the user's ARN first.

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde_json::Value;
use vaultd::{client::Client, pb};

use crate::{
    CliError,
    calls::{self, IamRequest, ItemPaging},
    input,
};

#[derive(Subcommand)]
pub enum IamCommand {
    /// Create a user, who has no access key and no policy yet (CreateUser).
    CreateUser(UserNameArgs),
    /// Show a user, by default the caller (GetUser).
    GetUser(CallerOrUserArgs),
    /// List the users (ListUsers).
    ListUsers(PaginationArgs),
    /// Delete a user that has no access keys and no inline policies left (DeleteUser).
    DeleteUser(UserNameArgs),
    /// End every session a user holds, by default the caller's (RevokeUserSessions).
    RevokeUserSessions(CallerOrUserArgs),
    /// Create an access key for a user, by default the caller; its secret is shown only here
    /// (CreateAccessKey).
    CreateAccessKey(CallerOrUserArgs),
    /// List a user's access keys, by default the caller's (ListAccessKeys).
    ListAccessKeys(ListAccessKeysArgs),
    /// Make an access key Active or Inactive; an inactive key and its sessions are refused
    /// (UpdateAccessKey).
    UpdateAccessKey(UpdateAccessKeyArgs),
    /// Delete an access key (DeleteAccessKey).
    DeleteAccessKey(AccessKeyArgs),
    /// Add or replace an inline policy of a user (PutUserPolicy).
    PutUserPolicy(PutUserPolicyArgs),
    /// Show an inline policy of a user (GetUserPolicy).
    GetUserPolicy(PolicyArgs),
    /// List the names of a user's inline policies (ListUserPolicies).
    ListUserPolicies(ListUserPoliciesArgs),
    /// Delete an inline policy of a user (DeleteUserPolicy).
    DeleteUserPolicy(PolicyArgs),
    /// Tell what a user's policies decide for actions on resources: allowed, explicitDeny or
    /// implicitDeny, and which statements decided (SimulatePrincipalPolicy).
    #[command(visible_alias = "simulate-policy")]
    SimulatePrincipalPolicy(SimulateArgs),
}

#[derive(Args)]
pub struct UserNameArgs {
    /// The user's name.
    #[arg(long)]
    user_name: String,
}

#[derive(Args)]
pub struct CallerOrUserArgs {
    /// The user's name [default: the caller's user].
    #[arg(long)]
    user_name: Option<String>,
}

/// The AWS CLI's pagination flags of a list action.
#[derive(Args)]
pub struct PaginationArgs {
    /// Return at most this many items, and a NextToken to continue from when more remain
    /// [default: all].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_items: Option<u32>,
    /// Continue a listing from the NextToken an earlier --max-items listing printed.
    #[arg(long, value_name = "TOKEN")]
    starting_token: Option<String>,
    /// How many items to ask for in each call (1 to 1000) [default: vaultd's, 100].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=1000))]
    page_size: Option<i32>,
}

impl From<PaginationArgs> for ItemPaging {
    fn from(args: PaginationArgs) -> Self {
        Self {
            max_items: args.max_items.map(|n| n as usize),
            starting_token: args.starting_token,
            page_size: args.page_size,
        }
    }
}

#[derive(Args)]
pub struct ListAccessKeysArgs {
    /// The user's name [default: the caller's user].
    #[arg(long)]
    user_name: Option<String>,
    #[command(flatten)]
    page: PaginationArgs,
}

#[derive(Args)]
pub struct ListUserPoliciesArgs {
    /// The user's name.
    #[arg(long)]
    user_name: String,
    #[command(flatten)]
    page: PaginationArgs,
}

/// An access key's status, as IAM spells it.
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "PascalCase")]
enum AccessKeyStatus {
    Active,
    Inactive,
}

impl From<AccessKeyStatus> for pb::StatusType {
    fn from(status: AccessKeyStatus) -> Self {
        match status {
            AccessKeyStatus::Active => Self::Active,
            AccessKeyStatus::Inactive => Self::Inactive,
        }
    }
}

/// An access key to act on. Its `--access-key-id` shadows the credentials flag of that name: with
/// these actions credentials come from the environment or a profile.
#[derive(Args)]
pub struct AccessKeyArgs {
    /// The access key to act on (AKIA...). With this action, vaultctl's own credentials come from
    /// the environment or a profile, not from flags.
    #[arg(long)]
    access_key_id: String,
    /// The user the key belongs to [default: the caller's user].
    #[arg(long)]
    user_name: Option<String>,
}

#[derive(Args)]
pub struct UpdateAccessKeyArgs {
    #[command(flatten)]
    key: AccessKeyArgs,
    /// The new status.
    #[arg(long, value_enum)]
    status: AccessKeyStatus,
}

#[derive(Args)]
pub struct PolicyArgs {
    /// The user's name.
    #[arg(long)]
    user_name: String,
    /// The policy's name.
    #[arg(long)]
    policy_name: String,
}

#[derive(Args)]
pub struct PutUserPolicyArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// The policy: JSON text or file://PATH, e.g. {"Version": "2012-10-17", "Statement":
    /// [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}.
    #[arg(long, value_name = "DOCUMENT")]
    policy_document: String,
}

#[derive(Args)]
#[command(group(ArgGroup::new("principal").required(true).args(["policy_source_arn", "user_name"])))]
pub struct SimulateArgs {
    /// The user whose policies to simulate, by ARN (arn:aws:iam::ACCOUNT:user/NAME).
    #[arg(long, value_name = "ARN")]
    policy_source_arn: Option<String>,
    /// The user whose policies to simulate, by name (instead of --policy-source-arn).
    #[arg(long)]
    user_name: Option<String>,
    /// The actions to simulate, e.g. kms:Encrypt kms:Decrypt (several, or a JSON list).
    #[arg(long, num_args = 1.., required = true, value_name = "ACTION")]
    action_names: Vec<String>,
    /// The resources to simulate each action on (several, or a JSON list) [default: *].
    #[arg(long, num_args = 1.., value_name = "ARN")]
    resource_arns: Vec<String>,
    /// More policies to evaluate with the user's, such as a draft: JSON text or file://PATH
    /// (several).
    #[arg(long, num_args = 1.., value_name = "DOCUMENT")]
    policy_input_list: Vec<String>,
    /// Values of condition keys: ContextKeyName=KEY,ContextKeyValues=V1,V2,ContextKeyType=TYPE
    /// (several), or a JSON list of such objects.
    #[arg(long, num_args = 1.., value_name = "ENTRY")]
    context_entries: Vec<String>,
}

/// An IAM command ready to run.
pub enum IamJob {
    Call(IamRequest),
    /// A simulation for the user named here: GetUser gives its ARN first.
    SimulateForUser(String, pb::SimulatePrincipalPolicyRequest),
}

impl IamCommand {
    /// The action's name when it has an `--access-key-id` of its own ([`AccessKeyArgs`]).
    pub fn own_access_key_id_flag(&self) -> Option<&'static str> {
        match self {
            Self::UpdateAccessKey(_) => Some("iam update-access-key"),
            Self::DeleteAccessKey(_) => Some("iam delete-access-key"),
            _ => None,
        }
    }

    /// The requests this command sends. Reads the files its flags name; sends nothing.
    pub fn job(self) -> Result<IamJob, String> {
        use IamCommand as C;
        use IamRequest as R;
        let own = Option::unwrap_or_default;
        Ok(IamJob::Call(match self {
            C::CreateUser(a) => R::CreateUser(pb::CreateUserRequest {
                user_name: a.user_name,
            }),
            C::GetUser(a) => R::GetUser(pb::GetUserRequest {
                user_name: own(a.user_name),
            }),
            C::ListUsers(page) => R::ListUsers(pb::ListUsersRequest::default(), page.into()),
            C::DeleteUser(a) => R::DeleteUser(pb::DeleteUserRequest {
                user_name: a.user_name,
            }),
            C::RevokeUserSessions(a) => R::RevokeUserSessions(pb::RevokeUserSessionsRequest {
                user_name: own(a.user_name),
            }),
            C::CreateAccessKey(a) => R::CreateAccessKey(pb::CreateAccessKeyRequest {
                user_name: own(a.user_name),
            }),
            C::ListAccessKeys(a) => {
                let request = pb::ListAccessKeysRequest {
                    user_name: own(a.user_name),
                    ..Default::default()
                };
                R::ListAccessKeys(request, a.page.into())
            }
            C::UpdateAccessKey(a) => R::UpdateAccessKey(pb::UpdateAccessKeyRequest {
                user_name: own(a.key.user_name),
                access_key_id: a.key.access_key_id,
                status: pb::StatusType::from(a.status).into(),
            }),
            C::DeleteAccessKey(a) => R::DeleteAccessKey(pb::DeleteAccessKeyRequest {
                user_name: own(a.user_name),
                access_key_id: a.access_key_id,
            }),
            C::PutUserPolicy(a) => R::PutUserPolicy(pb::PutUserPolicyRequest {
                policy_document: input::json_document("--policy-document", &a.policy_document)?,
                user_name: a.policy.user_name,
                policy_name: a.policy.policy_name,
            }),
            C::GetUserPolicy(a) => R::GetUserPolicy(pb::GetUserPolicyRequest {
                user_name: a.user_name,
                policy_name: a.policy_name,
            }),
            C::ListUserPolicies(a) => {
                let request = pb::ListUserPoliciesRequest {
                    user_name: a.user_name,
                    ..Default::default()
                };
                R::ListUserPolicies(request, a.page.into())
            }
            C::DeleteUserPolicy(a) => R::DeleteUserPolicy(pb::DeleteUserPolicyRequest {
                user_name: a.user_name,
                policy_name: a.policy_name,
            }),
            C::SimulatePrincipalPolicy(a) => return a.job(),
        }))
    }
}

impl SimulateArgs {
    fn job(self) -> Result<IamJob, String> {
        let policy_input_list = self
            .policy_input_list
            .iter()
            .map(|document| input::json_document("--policy-input-list", document))
            .collect::<Result<_, _>>()?;
        let request = pb::SimulatePrincipalPolicyRequest {
            policy_source_arn: self.policy_source_arn.unwrap_or_default(),
            policy_input_list,
            action_names: input::string_list("--action-names", &self.action_names)?,
            resource_arns: input::string_list("--resource-arns", &self.resource_arns)?,
            context_entries: input::context_entries("--context-entries", &self.context_entries)?,
        };
        Ok(match self.user_name {
            Some(user_name) => IamJob::SimulateForUser(user_name, request),
            None => IamJob::Call(IamRequest::SimulatePrincipalPolicy(request)),
        })
    }
}

impl IamJob {
    /// Sends the request(s); the answer as the AWS CLI shapes it.
    pub async fn run(self, client: &Client) -> Result<Value, CliError> {
        match self {
            Self::Call(request) => request.send(client).await,
            Self::SimulateForUser(user_name, mut request) => {
                let found = client.get_user(pb::GetUserRequest { user_name });
                let user = calls::answer("GetUser", found).await?.user;
                request.policy_source_arn = user.map(|user| user.arn).unwrap_or_default();
                IamRequest::SimulatePrincipalPolicy(request)
                    .send(client)
                    .await
            }
        }
    }
}
