//! Container networking: network namespaces made before the runtime runs,
//! bridges and veth pairs over netlink, address management, port
//! publishing and isolation as one nftables table per daemon, and the
//! embedded DNS server of user-defined networks.
//!
//! Nothing here knows about containers or the API: the engine says what
//! it wants (a namespace at a path, a veth on a bridge, a ruleset) and
//! this crate makes the kernel agree.

pub mod dns;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod netns;

pub use error::{Error, Result};
