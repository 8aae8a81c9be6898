//! Volumes of the local driver: named and anonymous directories under the
//! daemon's root, optionally backed by a tmpfs or a bind of a host path
//! that is mounted at first use.
//!
//! ```text
//! <root>/volumes/
//!   <name>/
//!     volume.json     the record: name, labels, driver options, CreatedAt
//!     _data/          the data (Mountpoint); a mount point while a tmpfs
//!                     or bind volume is in use
//!   .new-*/ .gone-*/  a create or a removal under way
//! ```
//!
//! The record lives beside the data rather than in a separate store, so
//! the two cannot disagree: a volume is its directory. Which containers
//! use a volume is the engine's to know (it has their records); this crate
//! only counts the active mounts it made.

pub mod error;
pub mod mount;
pub mod name;
pub mod options;
pub mod record;
mod root;

pub use error::{Error, Result};
pub use mount::{Kernel, Mounter};
pub use record::VolumeRecord;
pub use root::VolumeRoot;

/// The only driver.
pub const DRIVER: &str = "local";

/// The data directory inside a volume's directory.
pub const DATA: &str = "_data";

#[cfg(test)]
mod tests;
