//! The domain error: one kind per AWS exception, and the one place where the AWS exception names
//! live. The gRPC front end maps each kind to a status code (`api::status`); a future AWS JSON front
//! end maps the same kinds to HTTP statuses.
//!
//! Messages are human sentences meant for the caller. They never contain plaintext, key material
//! or secret values.

use std::fmt;

/// What went wrong, as AWS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    Validation,
    InvalidAliasName,
    InvalidKeyUsage,
    InvalidCiphertext,
    IncorrectKey,
    InvalidMarker,
    Tag,
    UnsupportedOperation,
    Disabled,
    KmsInvalidState,
    LimitExceeded,
    AccessDenied,
    UnrecognizedClient,
    InvalidSignature,
    ExpiredToken,
    MissingAuthenticationToken,
    Throttling,
    KmsInternal,
    Unavailable,
    NoSuchEntity,
    EntityAlreadyExists,
    DeleteConflict,
    MalformedPolicyDocument,
    KmsInvalidSignature,
    KmsInvalidMac,
    InvalidImportToken,
    ExpiredImportToken,
    IncorrectKeyMaterial,
    ParameterNotFound,
    ParameterVersionNotFound,
    ParameterAlreadyExists,
    ParameterMaxVersionLimitExceeded,
    ParameterVersionLabelLimitExceeded,
    ParameterPatternMismatch,
    HierarchyLevelLimitExceeded,
    InvalidKeyId,
    InvalidFilterKey,
    InvalidFilterValue,
    InvalidNextToken,
    ParameterLimitExceeded,
    InvalidResourceId,
    InvalidResourceType,
    ResourceNotFound,
    ResourceExists,
    InvalidParameter,
    InvalidRequest,
    DecryptionFailure,
    EncryptionFailure,
}

impl ErrorKind {
    /// The AWS exception name, used as the `ErrorInfo` reason.
    pub fn aws_name(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "NotFoundException",
            ErrorKind::AlreadyExists => "AlreadyExistsException",
            ErrorKind::Validation => "ValidationException",
            ErrorKind::InvalidAliasName => "InvalidAliasNameException",
            ErrorKind::InvalidKeyUsage => "InvalidKeyUsageException",
            ErrorKind::InvalidCiphertext => "InvalidCiphertextException",
            ErrorKind::IncorrectKey => "IncorrectKeyException",
            ErrorKind::InvalidMarker => "InvalidMarkerException",
            ErrorKind::Tag => "TagException",
            ErrorKind::UnsupportedOperation => "UnsupportedOperationException",
            ErrorKind::Disabled => "DisabledException",
            ErrorKind::KmsInvalidState => "KMSInvalidStateException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::ExpiredToken => "ExpiredTokenException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::Throttling => "ThrottlingException",
            ErrorKind::KmsInternal => "KMSInternalException",
            ErrorKind::Unavailable => "ServiceUnavailableException",
            // IAM's names carry no "Exception" suffix.
            ErrorKind::NoSuchEntity => "NoSuchEntity",
            ErrorKind::EntityAlreadyExists => "EntityAlreadyExists",
            ErrorKind::DeleteConflict => "DeleteConflict",
            ErrorKind::MalformedPolicyDocument => "MalformedPolicyDocument",
            ErrorKind::KmsInvalidSignature => "KMSInvalidSignatureException",
            ErrorKind::KmsInvalidMac => "KMSInvalidMacException",
            ErrorKind::InvalidImportToken => "InvalidImportTokenException",
            ErrorKind::ExpiredImportToken => "ExpiredImportTokenException",
            ErrorKind::IncorrectKeyMaterial => "IncorrectKeyMaterialException",
            ErrorKind::ParameterNotFound => "ParameterNotFound",
            ErrorKind::ParameterVersionNotFound => "ParameterVersionNotFound",
            ErrorKind::ParameterAlreadyExists => "ParameterAlreadyExists",
            ErrorKind::ParameterMaxVersionLimitExceeded => "ParameterMaxVersionLimitExceeded",
            ErrorKind::ParameterVersionLabelLimitExceeded => "ParameterVersionLabelLimitExceeded",
            ErrorKind::ParameterPatternMismatch => "ParameterPatternMismatchException",
            ErrorKind::HierarchyLevelLimitExceeded => "HierarchyLevelLimitExceededException",
            ErrorKind::InvalidKeyId => "InvalidKeyId",
            ErrorKind::InvalidFilterKey => "InvalidFilterKey",
            ErrorKind::InvalidFilterValue => "InvalidFilterValue",
            ErrorKind::InvalidNextToken => "InvalidNextToken",
            ErrorKind::ParameterLimitExceeded => "ParameterLimitExceeded",
            ErrorKind::InvalidResourceId => "InvalidResourceId",
            ErrorKind::InvalidResourceType => "InvalidResourceType",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceExists => "ResourceExistsException",
            ErrorKind::InvalidParameter => "InvalidParameterException",
            ErrorKind::InvalidRequest => "InvalidRequestException",
            ErrorKind::DecryptionFailure => "DecryptionFailure",
            ErrorKind::EncryptionFailure => "EncryptionFailure",
        }
    }

    /// Every kind, for exhaustive tests of the error table.
    pub const ALL: [ErrorKind; 50] = [
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Validation,
        ErrorKind::InvalidAliasName,
        ErrorKind::InvalidKeyUsage,
        ErrorKind::InvalidCiphertext,
        ErrorKind::IncorrectKey,
        ErrorKind::InvalidMarker,
        ErrorKind::Tag,
        ErrorKind::UnsupportedOperation,
        ErrorKind::Disabled,
        ErrorKind::KmsInvalidState,
        ErrorKind::LimitExceeded,
        ErrorKind::AccessDenied,
        ErrorKind::UnrecognizedClient,
        ErrorKind::InvalidSignature,
        ErrorKind::ExpiredToken,
        ErrorKind::MissingAuthenticationToken,
        ErrorKind::Throttling,
        ErrorKind::KmsInternal,
        ErrorKind::Unavailable,
        ErrorKind::NoSuchEntity,
        ErrorKind::EntityAlreadyExists,
        ErrorKind::DeleteConflict,
        ErrorKind::MalformedPolicyDocument,
        ErrorKind::KmsInvalidSignature,
        ErrorKind::KmsInvalidMac,
        ErrorKind::InvalidImportToken,
        ErrorKind::ExpiredImportToken,
        ErrorKind::IncorrectKeyMaterial,
        ErrorKind::ParameterNotFound,
        ErrorKind::ParameterVersionNotFound,
        ErrorKind::ParameterAlreadyExists,
        ErrorKind::ParameterMaxVersionLimitExceeded,
        ErrorKind::ParameterVersionLabelLimitExceeded,
        ErrorKind::ParameterPatternMismatch,
        ErrorKind::HierarchyLevelLimitExceeded,
        ErrorKind::InvalidKeyId,
        ErrorKind::InvalidFilterKey,
        ErrorKind::InvalidFilterValue,
        ErrorKind::InvalidNextToken,
        ErrorKind::ParameterLimitExceeded,
        ErrorKind::InvalidResourceId,
        ErrorKind::InvalidResourceType,
        ErrorKind::ResourceNotFound,
        ErrorKind::ResourceExists,
        ErrorKind::InvalidParameter,
        ErrorKind::InvalidRequest,
        ErrorKind::DecryptionFailure,
        ErrorKind::EncryptionFailure,
    ];
}

/// A domain error: a kind and a sentence for the caller.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.aws_name(), self.message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::KmsInvalidState, message)
    }

    pub fn disabled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Disabled, message)
    }

    /// The one message every decrypt failure shares.
    pub fn invalid_ciphertext() -> Self {
        Self::new(
            ErrorKind::InvalidCiphertext,
            "The ciphertext is invalid, or does not match its KMS key or encryption context.",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::KmsInternal, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }
}

impl From<crate::store::Error> for Error {
    fn from(err: crate::store::Error) -> Self {
        // The details may name files or SQL; they go to the log, not to the caller.
        tracing::error!(error = %err, "storage error");
        match err {
            crate::store::Error::Unavailable(_) => {
                Error::unavailable("The storage backend is unavailable; retry later.")
            }
            crate::store::Error::Conflict(_) | crate::store::Error::Corrupt(_) => {
                Error::internal("An internal storage error occurred.")
            }
        }
    }
}

impl From<crate::crypto::Error> for Error {
    fn from(err: crate::crypto::Error) -> Self {
        match err {
            crate::crypto::Error::InvalidCiphertext => Error::invalid_ciphertext(),
            crate::crypto::Error::InvalidInput(what) => Error::validation(what),
            crate::crypto::Error::WrongRootKey
            | crate::crypto::Error::Malformed(_)
            | crate::crypto::Error::Rng => {
                tracing::error!(error = %err, "crypto failure");
                Error::internal("An internal cryptographic error occurred.")
            }
        }
    }
}
