//! What goes wrong on the wire: a request the daemon cannot read, and the
//! `{"message": ...}` body docker sends with every error status.

use serde::{Deserialize, Serialize};

/// A request that does not decode: a bad version prefix, query value or
/// body. Always the client's fault, so the daemon answers it with a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub message: String,
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }
}

/// The body of every error answer. Clients read it leniently: a missing
/// `message` is an empty one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
}

impl ErrorBody {
    /// The body as dockerd writes it, with its trailing newline.
    pub fn encode(message: &str) -> Vec<u8> {
        let mut body = serde_json::to_vec(&ErrorBody {
            message: message.to_string(),
        })
        .unwrap_or_default();
        body.push(b'\n');
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_round_trips() {
        assert_eq!(
            ErrorBody::encode("No such container: x"),
            b"{\"message\":\"No such container: x\"}\n"
        );
        let b: ErrorBody = serde_json::from_slice(b"{}").unwrap();
        assert_eq!(b.message, "");
    }
}
