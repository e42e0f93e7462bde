//! The one error type of every storage and database adapter.

/// What went wrong in a storage or database call. Messages never carry PHI: keys are object
/// keys and record ids, never emails or names.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object or record does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The object key is not acceptable (see [`crate::validate_key`]).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A conditional write lost: the record exists or changed since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A local file-system operation failed.
    #[error("I/O error ({context}): {source}")]
    Io {
        /// The operation and object it concerned.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A remote service or the embedded database failed.
    #[error("{context}: {message}")]
    Backend {
        /// The operation and object it concerned.
        context: String,
        /// The service's description of the failure.
        message: String,
        /// Whether retrying later may succeed (throttling, timeouts, 5xx).
        transient: bool,
    },
    /// A stored record could not be decoded, or its schema is newer than this code.
    #[error("corrupt or unsupported record: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// Whether the caller should retry later rather than treat the failure as permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::InvalidData
            ),
            StorageError::Backend { transient, .. } => *transient,
            _ => false,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StorageError::Io {
            context: context.into(),
            source,
        }
    }
}
