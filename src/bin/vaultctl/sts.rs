//! `vaultctl sts <action>`: session credentials and "who am I", one subcommand per
//! `vault.v1.SecurityToken` RPC, named and flagged as the AWS CLI names them.
//!
//! Beyond the AWS CLI, `get-session-token --export` prints the session as `export` lines for a
//! POSIX shell's `eval`, in the variables vaultctl itself reads ([`crate::credentials`]), so that
//! the next commands of that shell use the session.

use clap::{Args, Subcommand};
use vaultd::pb;
use zeroize::Zeroizing;

use crate::{
    CliError, Context,
    aws_json::iso8601,
    calls::{self, StsRequest},
    credentials::{ENV_ACCESS_KEY_ID, ENV_SECRET_ACCESS_KEY, ENV_SESSION_TOKEN},
    input,
};

#[derive(Subcommand)]
pub enum StsCommand {
    /// Get temporary credentials for the caller's user; --export prints them for a shell's eval
    /// (GetSessionToken).
    GetSessionToken(GetSessionTokenArgs),
    /// Show the user, account and ARN the credentials belong to (GetCallerIdentity).
    GetCallerIdentity,
}

#[derive(Args)]
pub struct GetSessionTokenArgs {
    /// How long the credentials last, 900 to 129600 seconds (at most 3600 for root) [default:
    /// 43200].
    #[arg(long, value_name = "SECONDS")]
    duration_seconds: Option<i32>,
    /// A policy that narrows the session (it may do what both it and the user's policies allow):
    /// JSON text or file://PATH.
    #[arg(long, value_name = "DOCUMENT")]
    policy: Option<String>,
    /// Print the credentials as `export VAULTD_...=...` lines instead of JSON, for
    /// `eval "$(vaultctl sts get-session-token --export)"`: the shell's next vaultctl commands
    /// then use the session. --output and --query do not apply.
    #[arg(long)]
    export: bool,
}

/// An STS command ready to run.
pub enum StsJob {
    Call(StsRequest),
    /// GetSessionToken, printed as shell lines.
    Export(pb::GetSessionTokenRequest),
}

impl StsCommand {
    /// The request this command sends. Reads the file its flags name; sends nothing.
    pub fn job(self) -> Result<StsJob, String> {
        Ok(match self {
            Self::GetSessionToken(a) => {
                let policy = a.policy.as_deref();
                let request = pb::GetSessionTokenRequest {
                    duration_seconds: a.duration_seconds,
                    policy: policy
                        .map(|policy| input::json_document("--policy", policy))
                        .transpose()?
                        .unwrap_or_default(),
                };
                if a.export {
                    StsJob::Export(request)
                } else {
                    StsJob::Call(StsRequest::GetSessionToken(request))
                }
            }
            Self::GetCallerIdentity => StsJob::Call(StsRequest::GetCallerIdentity(
                pb::GetCallerIdentityRequest {},
            )),
        })
    }
}

impl StsJob {
    /// Sends the request and prints the answer.
    pub async fn run(self, context: &Context) -> Result<(), CliError> {
        match self {
            Self::Call(request) => context.out.value(&request.send(&context.client).await?),
            Self::Export(request) => {
                let session = context.client.get_session_token(request);
                let session = calls::answer("GetSessionToken", session).await?;
                let credentials = session.credentials.unwrap_or_default();
                context.out.write(&export_lines(&credentials))
            }
        }
        .map(drop)
    }
}

/// The session as POSIX shell lines: a comment with the expiration, then one `export` a variable.
/// Holds the secret: zeroized on drop.
fn export_lines(credentials: &pb::Credentials) -> Zeroizing<String> {
    // Room enough that the secret is not left behind in a reallocated buffer.
    let mut lines = Zeroizing::new(String::with_capacity(4096));
    if let Some(expiration) = &credentials.expiration {
        lines.push_str(&format!(
            "# vaultd session credentials, expiring {}\n",
            iso8601(expiration)
        ));
    }
    for (name, value) in [
        (ENV_ACCESS_KEY_ID, &credentials.access_key_id),
        (ENV_SECRET_ACCESS_KEY, &credentials.secret_access_key),
        (ENV_SESSION_TOKEN, &credentials.session_token),
    ] {
        lines.push_str("export ");
        lines.push_str(name);
        lines.push('=');
        push_single_quoted(&mut lines, value);
        lines.push('\n');
    }
    lines
}

/// Appends a word the shell reads back as exactly `value`: inside single quotes nothing is special
/// but the single quote itself, written `'\''`.
fn push_single_quoted(out: &mut String, value: &str) {
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str(r"'\''"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_lines_quote_every_value_for_the_shell() {
        let credentials = pb::Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "a/b+c'd".into(),
            session_token: "t$(x)`y`".into(),
            expiration: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
        };
        assert_eq!(
            *export_lines(&credentials),
            "# vaultd session credentials, expiring 1970-01-01T00:00:00+00:00\n\
             export VAULTD_ACCESS_KEY_ID='ASIAEXAMPLE'\n\
             export VAULTD_SECRET_ACCESS_KEY='a/b+c'\\''d'\n\
             export VAULTD_SESSION_TOKEN='t$(x)`y`'\n"
        );
    }
}
