//! One error type for the crate; the engine maps it to API errors and adds
//! dockerd's `<op> <name>: ` prefix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// dockerd's words for a volume the driver does not have.
    #[error("no such volume")]
    NotFound,
    /// A bad name or driver option (a 400).
    #[error("{0}")]
    Invalid(String),
    /// The volume is mounted for someone and cannot go.
    #[error("volume has active mounts")]
    Busy,
    /// A mount or unmount the kernel refused.
    #[error("{0}")]
    Mount(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
