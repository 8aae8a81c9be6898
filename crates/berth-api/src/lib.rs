//! berth-api: the wire both ends speak, the daemon serving it and the CLI
//! calling it: the models (bollard's, re-exported), the API version, query
//! and filter encodings, stream framing and the error body. It knows nothing
//! of the engine; the daemon maps engine errors to statuses itself.

pub mod create;
pub mod error;
pub mod filters;
pub mod framing;
pub mod progress;
pub mod query;
pub mod version;

pub use bollard_stubs::models;
pub use error::{Error, ErrorBody};
pub use version::ApiVersion;
