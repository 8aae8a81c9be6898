//! Errors in the distribution spec's JSON form, with the spec's status codes.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The spec's error codes (only those this server answers with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unsupported,
    RangeInvalid,
    Unauthorized,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unsupported => "UNSUPPORTED",
            Code::RangeInvalid => "RANGE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A failed registry request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {message}", code.as_str())]
    Spec {
        code: Code,
        message: String,
        status: Option<StatusCode>,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] berth_store::Error),
    /// Settings the server cannot start with (an htpasswd file, a key).
    #[error("{0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn spec(code: Code, message: impl Into<String>) -> Error {
        Error::Spec {
            code,
            message: message.into(),
            status: None,
        }
    }

    /// A spec error answered with another status than the code's usual one
    /// (the spec's 413 for an oversized manifest, say).
    pub fn with_status(code: Code, status: StatusCode, message: impl Into<String>) -> Error {
        Error::Spec {
            code,
            message: message.into(),
            status: Some(status),
        }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    pub fn code(&self) -> Option<Code> {
        match self {
            Error::Spec { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            Error::Spec {
                code,
                message,
                status,
            } => (
                status.unwrap_or(code.status()),
                code.as_str(),
                message.clone(),
            ),
            other => {
                tracing::error!("registry request failed: {other}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "UNKNOWN",
                    other.to_string(),
                )
            }
        };
        let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}
