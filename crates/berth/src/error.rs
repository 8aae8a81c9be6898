//! Error kinds the CLI reports the way docker does.

use std::fmt;

/// An error with a fixed exit code, like docker's `cli.StatusError`. An empty
/// message prints nothing (e.g. `run` passing on the container's exit code).
#[derive(Debug)]
pub struct StatusError {
    pub message: String,
    pub code: i32,
}

impl StatusError {
    /// An error that exits with `code` after printing `message`.
    pub fn exit(code: i32, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(StatusError {
            message: message.into(),
            code,
        })
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StatusError {}

/// A non-2xx answer from the daemon: `Error response from daemon: <message>`.
#[derive(Debug, Clone)]
pub struct DaemonError {
    pub status: u16,
    pub message: String,
    /// Print the message without the `Error response from daemon:` prefix
    /// (used when the daemon sent no body and the text is our own).
    pub plain: bool,
}

impl DaemonError {
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.plain {
            f.write_str(&self.message)
        } else {
            write!(f, "Error response from daemon: {}", self.message)
        }
    }
}

impl std::error::Error for DaemonError {}

/// True if `err` is a daemon 404.
pub fn is_not_found(err: &anyhow::Error) -> bool {
    err.downcast_ref::<DaemonError>()
        .is_some_and(DaemonError::is_not_found)
}

/// The user-facing text of an error, the way docker prints it.
pub fn message(err: &anyhow::Error) -> String {
    format!("{err:#}")
}

/// Several per-argument failures joined like Go's `errors.Join`, exit code 1.
pub fn join(errors: Vec<String>) -> anyhow::Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StatusError::exit(1, errors.join("\n")))
    }
}
