//! berth-store: the daemon's persistent stores.
//!
//! - [`Digest`]: validated `sha256:<hex>` content digests.
//! - [`ContentStore`]: blobs by digest, written temp -> verify -> fsync ->
//!   rename, so readers only ever see complete, verified blobs.
//! - [`MetaDb`]: metadata records (JSON) in redb tables, written in
//!   transactions.
//! - [`failpoint`]: named crash points for the crash tests.

mod content;
mod digest;
pub mod failpoint;
mod meta;

pub use content::{BlobWriter, ContentStore, VerifiedReader};
pub use digest::{is_hex64, Digest};
pub use meta::{MetaDb, Table, WriteTx};

/// Errors of the stores.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex>")]
    InvalidDigest(String),
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob {0} not found")]
    BlobNotFound(Digest),
    #[error("blob {digest} is too large ({size} bytes, at most {max} expected)")]
    TooLarge { digest: Digest, size: u64, max: u64 },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("metadata database opened read-only")]
    ReadOnly,
    #[error("metadata database: {0}")]
    Db(#[source] Box<redb::Error>),
    #[error("metadata record {table}/{key}: {source}")]
    Record {
        table: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `map_err` helper: wraps an I/O error with what was being done.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
