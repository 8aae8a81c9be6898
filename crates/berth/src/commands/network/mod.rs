//! `network`: create, list, inspect, connect, disconnect, remove and prune
//! networks through `/networks`, with the docker CLI's flags, output and
//! errors. The daemon's answers are printed as they come; the CLI checks only
//! what docker's own CLI checks (the IPAM flags pairing up by subnet).

mod cidr;
pub mod connect;
pub mod create;
pub mod inspect;
pub mod ls;
pub mod prune;
pub mod rm;

use anyhow::{anyhow, Result};

use crate::client::path_segment;

/// `/networks/{name}` or `/networks/{name}/{action}`.
fn network_path(name: &str, action: &str) -> String {
    let base = format!("/networks/{}", path_segment(name));
    if action.is_empty() {
        base
    } else {
        format!("{base}/{action}")
    }
}

/// A name or ID trimmed the way docker's client does; blank ones are refused
/// before any request.
fn trim_id(kind: &str, id: &str) -> Result<String> {
    let id = id.trim();
    if id.is_empty() {
        return Err(anyhow!("invalid {kind} name or ID: value is empty"));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_ids() {
        assert_eq!(network_path("a b", ""), "/networks/a%20b");
        assert_eq!(network_path("n", "connect"), "/networks/n/connect");
        assert_eq!(trim_id("network", " n ").unwrap(), "n");
        assert_eq!(
            trim_id("container", "  ").unwrap_err().to_string(),
            "invalid container name or ID: value is empty"
        );
    }
}
