//! The OCI runtime behind a trait: the engine pauses, kills, deletes and
//! inspects containers through [`OciRuntime`], and hands the shim the argv
//! that starts a container and the one that deletes it (the shim must be the
//! runtime's parent). Nothing outside this module spells a runtime's flags.

// Test double only: release builds do not carry it.
#[cfg(any(test, feature = "test-support"))]
mod fake;
mod runc;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;

#[cfg(any(test, feature = "test-support"))]
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
    /// The ids of every container the runtime has state for, in any status.
    fn list(&self) -> Result<Vec<String>>;
    /// Host pids of all the container's processes.
    fn pids(&self, id: &str) -> Result<Vec<i32>>;
    /// Changes a running container's resources; `resources` is an OCI
    /// `linux.resources` object (only the limits it names change).
    fn update(&self, id: &str, resources: &serde_json::Value) -> Result<()>;
    /// The argv (argv\[0\] is the binary) that creates and starts a container
    /// detached, writing its init pid to `pid_file`; with `console_socket` the
    /// runtime sends the pty master there.
    fn run_detached_argv(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString>;
    /// The argv that starts `process_json` (an OCI `process` object) in the
    /// running container, detached, writing its pid to `pid_file` and the
    /// runtime's JSON log to `log`; with `console_socket` the runtime sends
    /// the pty master there.
    fn exec_argv(
        &self,
        id: &str,
        process_json: &Path,
        pid_file: &Path,
        log: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString>;
    /// The argv that removes a container's runtime state, killing what is left.
    fn delete_argv(&self, id: &str) -> Vec<OsString>;
    /// Where the run argv makes the runtime write its (JSON lines) log.
    fn log_file(&self, bundle: &Path) -> PathBuf;
}
