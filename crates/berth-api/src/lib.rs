//! berth-api: the Docker Engine API surface shared by berthd's routes:
//! version negotiation, the one error -> HTTP mapping, stream framing,
//! query and body parsing. No engine logic lives here.

pub mod body;
pub mod create;
pub mod error;
pub mod framing;
pub mod query;
pub mod version;

pub use error::ApiError;
pub use version::ApiVersion;
