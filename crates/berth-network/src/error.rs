//! One error type for the crate; the engine maps it to API errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A netlink request the kernel refused (`op` says which).
    #[error("{op}: {message}")]
    Netlink { op: String, message: String },
    /// `nft` refused the ruleset or could not be run.
    #[error("nftables: {0}")]
    Firewall(String),
    #[error("dns: {0}")]
    Dns(String),
    /// Bad input from the caller (an address outside its subnet, ...).
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for is taken (an address, a host port).
    #[error("{0}")]
    Conflict(String),
    /// No free address is left in a pool.
    #[error("{0}")]
    Exhausted(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn netlink(op: impl Into<String>, e: impl std::fmt::Display) -> Error {
        Error::Netlink {
            op: op.into(),
            message: e.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
