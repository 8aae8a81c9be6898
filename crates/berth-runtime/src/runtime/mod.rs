//! The OCI runtime behind a trait: the engine pauses, kills, deletes and
//! inspects containers through [`OciRuntime`]; the shim starts them with the
//! argv from [`Runc::run_detached_args`] (it must be runc's parent).

mod fake;
mod runc;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;

pub use fake::{FakeRuntime, RuntimeCall};
pub use runc::{last_error_from_log, Runc};

/// `runc state`'s status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeStatus {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
    /// Anything a future runtime may report.
    #[serde(untagged)]
    Unknown(String),
}

/// What the runtime knows of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeState {
    pub status: RuntimeStatus,
    /// The init process's pid on the host (0 once stopped).
    pub pid: i32,
    /// The bundle directory the container was created from.
    pub bundle: PathBuf,
}

/// An OCI runtime (runc, crun): blocking calls, run them off the async
/// executor (`spawn_blocking`).
pub trait OciRuntime: Send + Sync {
    /// Freezes every process of the container.
    fn pause(&self, id: &str) -> Result<()>;
    /// Thaws a paused container.
    fn resume(&self, id: &str) -> Result<()>;
    /// Sends `signal` to the init process, or to every process with `all`.
    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()>;
    /// Removes the runtime's state; `force` kills a running container first
    /// and succeeds if the container is already gone (runc's behaviour);
    /// without it a missing container is [`crate::Error::NotFound`].
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// [`crate::Error::NotFound`] if the runtime has no such container.
    fn state(&self, id: &str) -> Result<RuntimeState>;
    /// Host pids of all the container's processes.
    fn pids(&self, id: &str) -> Result<Vec<i32>>;
}
