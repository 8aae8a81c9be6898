//! `volume`: create, list, inspect, remove and prune volumes through
//! `/volumes`, with the docker CLI's flags, output and errors.

pub mod create;
pub mod inspect;
pub mod ls;
pub mod prune;
pub mod rm;

use crate::client::path_segment;

/// `/volumes/{name}`.
fn volume_path(name: &str) -> String {
    format!("/volumes/{}", path_segment(name))
}
