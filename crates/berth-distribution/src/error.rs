//! The registry client's error type. Messages follow dockerd's where the
//! user sees them (a schema 1 image, no manifest for the platform).

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An insecure-registry entry that is neither `host[:port]` nor a CIDR.
    #[error("invalid insecure registry entry {0:?}")]
    InvalidInsecureEntry(String),
    #[error("manifest too large: {size} bytes, the limit is {limit}")]
    ManifestTooLarge { size: usize, limit: usize },
    /// Holds the reference once the caller knows it, for dockerd's
    /// suggestion to the image's author.
    #[error("{}", schema1_message(.reference.as_deref()))]
    Schema1 { reference: Option<String> },
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingManifest(String),
    #[error("manifest digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("unsupported layer media type {0:?}")]
    UnsupportedLayer(String),
    #[error("invalid WWW-Authenticate header {header:?}: {reason}")]
    InvalidChallenge { header: String, reason: String },
    #[error("invalid token response: {0}")]
    InvalidToken(String),
    #[error("invalid docker config {path}: {reason}")]
    InvalidConfig { path: String, reason: String },
    /// This slice of the client speaks plain http only.
    #[error("{0}: https registries are not supported yet")]
    HttpsUnsupported(String),
    #[error("{0}")]
    Http(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("{0}: not found")]
    NotFound(String),
    #[error("{url}: unexpected status {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("blob {digest}: {reason}")]
    BadBlob { digest: String, reason: String },
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Names the reference in a schema 1 refusal, as dockerd does.
    pub fn with_reference(self, reference: &str) -> Error {
        match self {
            Error::Schema1 { .. } => Error::Schema1 {
                reference: Some(reference.to_string()),
            },
            other => other,
        }
    }
}

fn schema1_message(reference: Option<&str>) -> String {
    let mut msg = String::from(
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed.",
    );
    if let Some(r) = reference {
        msg.push_str(&format!(
            " Suggest the author of {r} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2."
        ));
    }
    msg.push_str(" More information at https://docs.docker.com/go/deprecated-image-specs/");
    msg
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
