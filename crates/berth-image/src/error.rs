//! The image store's error type; `kind()` tells the engine which HTTP status
//! family an error belongs to.

use std::io;

/// What kind of failure an [`Error`] is (the engine maps this to HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    InvalidArgument,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Holds the reference as docker prints it: `No such image: busybox:latest`.
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// A layer tar that is malformed or hostile.
    #[error("invalid layer: {0}")]
    InvalidLayer(String),
    #[error(transparent)]
    Store(#[from] berth_store::Error),
    /// Where blobs come from failed (a registry's answer, its connection).
    #[error("{0}")]
    Source(Box<dyn std::error::Error + Send + Sync>),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::InvalidArgument(_) | Error::InvalidLayer(_) => ErrorKind::InvalidArgument,
            Error::Store(_) | Error::Io { .. } | Error::Source(_) => ErrorKind::Other,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }

    pub(crate) fn layer(msg: impl Into<String>) -> Error {
        Error::InvalidLayer(msg.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `map_err` helper: wraps an I/O error with what was being done.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
