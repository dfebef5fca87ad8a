//! The errors of data-subject requests.

use covenant_connectors::ConnectorError;
use covenant_store::StoreError;

/// Why a request could not be planned or run.
#[derive(Debug, thiserror::Error)]
pub enum DsrError {
    /// The configuration file is wrong; nothing was done.
    #[error("{0}")]
    Config(String),
    /// The request itself is wrong (an identity that does not parse, a correction that names
    /// nothing); nothing was done.
    #[error("{0}")]
    Invalid(String),
    /// An application database failed.
    #[error("database `{dataset}`: {source}")]
    Database {
        dataset: String,
        #[source]
        source: ConnectorError,
    },
    /// Covenant's own store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A journaled run cannot be resumed as it is.
    #[error("{0}")]
    Resume(String),
    /// Writing an export failed.
    #[error("cannot write `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Something that cannot happen with a consistent journal or template did.
    #[error("{0}")]
    Internal(String),
}

impl DsrError {
    /// Whether the request was refused before anything was done (bad arguments).
    pub fn is_invalid_request(&self) -> bool {
        matches!(self, DsrError::Invalid(_) | DsrError::Config(_))
    }

    pub(crate) fn db(dataset: &str) -> impl FnOnce(ConnectorError) -> DsrError + '_ {
        move |source| DsrError::Database { dataset: dataset.to_owned(), source }
    }
}
