//! The gRPC front end: thin services that convert wire messages into domain calls, authorize, and
//! map domain errors to statuses through one table ([`status`]).
//!
//! - [`auth_layer`] — the tower layer around every request but health and reflection:
//!   authentication, throttling and the audit event.
//! - [`call`] — the [`call::Caller`] a service authorizes through.
//! - [`kms_api`] — `vault.v1.KeyManagement`; [`iam_api`] — `vault.v1.Identity`; [`sts_api`] —
//!   `vault.v1.SecurityToken`; [`audit_api`] — `vault.v1.Audit`.
//! - [`convert`] — enums, timestamps and records between wire and domain.

pub mod admin_api;
pub mod audit_api;
pub mod auth_layer;
pub mod call;
pub mod convert;
pub mod iam_api;
pub mod kms_api;
pub mod metrics_layer;
pub mod secrets_api;
pub mod ssm_api;
pub mod sts_api;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{Error, ErrorKind};

/// The `ErrorInfo.domain` of every error vaultd returns.
pub const ERROR_DOMAIN: &str = "vault.v1";

/// The gRPC code of each error kind (api.md's table).
pub fn code(kind: ErrorKind) -> Code {
    use ErrorKind::*;
    match kind {
        NotFound
        | NoSuchEntity
        | ParameterNotFound
        | ParameterVersionNotFound
        | ResourceNotFound => Code::NotFound,
        AlreadyExists | EntityAlreadyExists | ParameterAlreadyExists | ResourceExists => {
            Code::AlreadyExists
        }
        Validation
        | InvalidAliasName
        | InvalidKeyUsage
        | InvalidCiphertext
        | IncorrectKey
        | InvalidMarker
        | Tag
        | UnsupportedOperation
        | MalformedPolicyDocument
        | KmsInvalidSignature
        | KmsInvalidMac
        | InvalidImportToken
        | ExpiredImportToken
        | IncorrectKeyMaterial
        | ParameterVersionLabelLimitExceeded
        | ParameterPatternMismatch
        | HierarchyLevelLimitExceeded
        | InvalidKeyId
        | InvalidFilterKey
        | InvalidFilterValue
        | InvalidNextToken
        | ParameterLimitExceeded
        | InvalidResourceId
        | InvalidResourceType
        | InvalidParameter
        | InvalidRequest => Code::InvalidArgument,
        Disabled
        | KmsInvalidState
        | LimitExceeded
        | DeleteConflict
        | ParameterMaxVersionLimitExceeded
        | DecryptionFailure
        | EncryptionFailure => Code::FailedPrecondition,
        AccessDenied => Code::PermissionDenied,
        UnrecognizedClient | InvalidSignature | ExpiredToken | MissingAuthenticationToken => {
            Code::Unauthenticated
        }
        Throttling => Code::ResourceExhausted,
        KmsInternal => Code::Internal,
        Unavailable => Code::Unavailable,
    }
}

/// Runs a domain call that may block (a store read, an fsync'd write) on the blocking pool. A call
/// that panics or is lost answers as an internal error.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    // The request's span (its request id) follows the work onto the blocking pool.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .unwrap_or_else(|_| Err(Error::internal("The request was interrupted.")))
}

/// A domain error as a gRPC status with its `ErrorInfo` (reason = the AWS exception name).
pub fn status(err: Error) -> Status {
    Status::with_error_details(
        code(err.kind),
        err.message,
        ErrorDetails::with_error_info(
            err.kind.aws_name(),
            ERROR_DOMAIN,
            std::collections::HashMap::new(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_carries_its_aws_name() {
        for kind in ErrorKind::ALL {
            let st = status(Error::new(kind, "message"));
            let info = st.get_details_error_info().expect("ErrorInfo");
            assert_eq!(info.reason, kind.aws_name());
            assert_eq!(info.domain, ERROR_DOMAIN);
            assert_eq!(st.code(), code(kind));
            assert_eq!(st.message(), "message");
        }
    }

    #[test]
    fn error_table_matches_api_md() {
        use ErrorKind::*;
        let expected = [
            (NotFound, Code::NotFound),
            (AlreadyExists, Code::AlreadyExists),
            (Validation, Code::InvalidArgument),
            (InvalidAliasName, Code::InvalidArgument),
            (InvalidKeyUsage, Code::InvalidArgument),
            (InvalidCiphertext, Code::InvalidArgument),
            (IncorrectKey, Code::InvalidArgument),
            (InvalidMarker, Code::InvalidArgument),
            (Tag, Code::InvalidArgument),
            (UnsupportedOperation, Code::InvalidArgument),
            (Disabled, Code::FailedPrecondition),
            (KmsInvalidState, Code::FailedPrecondition),
            (LimitExceeded, Code::FailedPrecondition),
            (AccessDenied, Code::PermissionDenied),
            (UnrecognizedClient, Code::Unauthenticated),
            (InvalidSignature, Code::Unauthenticated),
            (ExpiredToken, Code::Unauthenticated),
            (MissingAuthenticationToken, Code::Unauthenticated),
            (Throttling, Code::ResourceExhausted),
            (KmsInternal, Code::Internal),
            (Unavailable, Code::Unavailable),
            (NoSuchEntity, Code::NotFound),
            (EntityAlreadyExists, Code::AlreadyExists),
            (DeleteConflict, Code::FailedPrecondition),
            (MalformedPolicyDocument, Code::InvalidArgument),
            (KmsInvalidSignature, Code::InvalidArgument),
            (KmsInvalidMac, Code::InvalidArgument),
            (InvalidImportToken, Code::InvalidArgument),
            (ExpiredImportToken, Code::InvalidArgument),
            (IncorrectKeyMaterial, Code::InvalidArgument),
            (ParameterNotFound, Code::NotFound),
            (ParameterVersionNotFound, Code::NotFound),
            (ParameterAlreadyExists, Code::AlreadyExists),
            (ParameterMaxVersionLimitExceeded, Code::FailedPrecondition),
            (ParameterVersionLabelLimitExceeded, Code::InvalidArgument),
            (ParameterPatternMismatch, Code::InvalidArgument),
            (HierarchyLevelLimitExceeded, Code::InvalidArgument),
            (InvalidKeyId, Code::InvalidArgument),
            (InvalidFilterKey, Code::InvalidArgument),
            (InvalidFilterValue, Code::InvalidArgument),
            (InvalidNextToken, Code::InvalidArgument),
            (ParameterLimitExceeded, Code::InvalidArgument),
            (InvalidResourceId, Code::InvalidArgument),
            (InvalidResourceType, Code::InvalidArgument),
            (ResourceNotFound, Code::NotFound),
            (ResourceExists, Code::AlreadyExists),
            (InvalidParameter, Code::InvalidArgument),
            (InvalidRequest, Code::InvalidArgument),
            (DecryptionFailure, Code::FailedPrecondition),
            (EncryptionFailure, Code::FailedPrecondition),
        ];
        assert_eq!(
            expected.len(),
            ErrorKind::ALL.len(),
            "every kind is in the table"
        );
        for (kind, code) in expected {
            assert_eq!(super::code(kind), code, "{kind:?}");
        }
    }
}
