//! The crate's one error type. Messages follow docker's wording where docker
//! has one, because the engine passes them through to API clients.

use std::io;
use std::path::PathBuf;

/// Errors of spec generation, the runtime driver and the cgroup readers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A container setting that cannot be turned into a valid OCI config
    /// (unknown capability, bad tmpfs option, out-of-range value, ...).
    #[error("{0}")]
    InvalidSpec(String),

    /// `--user NAME` with no such name in the image's `/etc/passwd`.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UserNotFound(String),

    /// `--user X:GROUP` with no such group in the image's `/etc/group`.
    #[error("unable to find group {0}: no matching entries in group file")]
    GroupNotFound(String),

    /// A numeric uid or gid outside `0..=2147483647`.
    #[error("uids and gids must be in range 0-2147483647")]
    IdRange,

    /// A file of the rootfs or the host could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The OCI runtime binary could not be executed at all.
    #[error("exec {}: {source}", binary.display())]
    RuntimeExec {
        binary: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The runtime knows no container with this id.
    #[error("container {0} does not exist in the runtime")]
    NotFound(String),

    /// The runtime ran and failed; `message` is its last error message.
    #[error("runc {command}: {message}")]
    Runtime { command: String, message: String },

    /// The runtime answered with output we could not understand.
    #[error("runc {command}: unexpected output: {detail}")]
    RuntimeOutput { command: String, detail: String },

    /// A cgroup path that is not absolute or tries to leave the hierarchy.
    #[error("invalid cgroup path {0:?}")]
    CgroupPath(String),

    /// A step of joining or building a mount namespace failed.
    #[error("{what}: {source}")]
    MountNamespace {
        what: String,
        #[source]
        source: nix::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidSpec(msg.into())
    }

    /// True for errors that mean "no such container in the runtime".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
