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
    #[error("Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed.{suggestion} More information at https://docs.docker.com/go/deprecated-image-specs/")]
    Schema1 { suggestion: String },
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingManifest(String),
    #[error("unsupported layer media type {0:?}")]
    UnsupportedLayer(String),
    #[error("invalid WWW-Authenticate header {header:?}: {reason}")]
    InvalidChallenge { header: String, reason: String },
    #[error("invalid token response: {0}")]
    InvalidToken(String),
    #[error("invalid docker config {path}: {reason}")]
    InvalidConfig { path: String, reason: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
