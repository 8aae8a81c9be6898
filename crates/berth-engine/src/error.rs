//! The engine's one error type. Every failure carries a kind; the HTTP layer
//! maps kinds to status codes in one place (berthd), never handlers.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404: no such container, image, exec, ...
    NotFound,
    /// 409: name in use, container running, image in use, ...
    Conflict,
    /// 400: the request itself is wrong.
    InvalidParameter,
    /// 304: already in the requested state (start when running, stop when stopped).
    NotModified,
    /// 500: the engine or the system failed.
    System,
    /// 501: a feature berth does not have yet, or that the configuration
    /// lacks (logs under the `none` driver); dockerd's NotImplemented.
    NotImplemented,
    /// 401: a registry refused the credentials (dockerd's Unauthorized).
    Unauthorized,
    /// 403: an operation the object never allows (removing a built-in
    /// network, an address or port already taken).
    Forbidden,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidParameter, message)
    }
    pub fn not_modified() -> Error {
        Error::new(ErrorKind::NotModified, "")
    }
    pub fn system(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::System, message)
    }
    pub fn not_implemented(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotImplemented, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Forbidden, message)
    }
    pub fn no_such_container(name: &str) -> Error {
        Error::not_found(format!("No such container: {name}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::system(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::system(e.to_string())
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Error {
        Error::system(format!("task failed: {e}"))
    }
}
