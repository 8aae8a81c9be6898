//! Port publishing and bridge isolation as one nftables table per daemon.
//!
//! The engine describes the whole desired state in a [`Ruleset`]; [`apply`]
//! replaces the table with it in one `nft` transaction (`add table`,
//! `delete table`, `add table`, chains, rules), so a failed apply leaves the
//! previous table untouched, repeated applies never pile up rules, and
//! nothing stale survives. Nothing outside that table is read or written:
//! not iptables, not other nft tables.
//!
//! ```text
//! table inet <name>
//!   nat-prerouting  (nat, prerouting, dstnat)  fib daddr type local -> jump ports
//!   nat-output      (nat, output, dstnat)      fib daddr type local -> jump ports
//!   ports           one DNAT per published port
//!   nat-postrouting (nat, postrouting, srcnat) masquerade: subnet leaving its
//!                   bridge, host -> bridge (127.0.0.1 DNAT), hairpin
//!   filter-forward  (filter, forward, filter)  internal, isolation, icc drops
//! ```
//!
//! A container reaching its own published port comes back in through the
//! bridge port it left by; br_netfilter bridges that DNAT, so the link
//! setup must put container ports in hairpin mode for it to arrive.
//!
//! Every base chain has policy accept: the table only ever drops what the
//! bridges' own settings forbid, never unrelated traffic of the host.
//!
//! Concurrency: each apply is atomic in the kernel, but two concurrent
//! applies race for the last word; the engine serializes them.

mod nft;
mod render;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Everything the daemon's table must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruleset {
    /// The nft table (family inet) owned by this daemon, e.g. "berth-bt3f2a1".
    pub table: String,
    pub networks: Vec<BridgeRules>,
    pub ports: Vec<PortRule>,
}

/// The settings of one bridge network that shape its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeRules {
    pub bridge: String,
    /// v4 and/or v6 subnets of the network.
    #[serde(with = "subnets")]
    pub subnets: Vec<IpNet>,
    /// No traffic leaves or enters the bridge from any other interface.
    pub internal: bool,
    /// Masquerade traffic of the subnets leaving through another interface.
    pub masquerade: bool,
    /// Forwarding between containers of this bridge is allowed.
    pub icc: bool,
}

impl BridgeRules {
    /// A bridge with docker's defaults: not internal, masquerade and icc on.
    pub fn new(bridge: impl Into<String>, subnets: Vec<IpNet>) -> BridgeRules {
        BridgeRules {
            bridge: bridge.into(),
            subnets,
            internal: false,
            masquerade: true,
            icc: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One published port: traffic to `host_ip:host_port` goes to the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRule {
    pub proto: Proto,
    /// None (or an unspecified address) = every local address of the
    /// container address's family.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
    /// The bridge the container is reached through; it labels the rule.
    pub bridge: String,
}

/// Replaces the table with what `rs` says, in one transaction.
pub fn apply(rs: &Ruleset) -> Result<()> {
    let doc = render::ruleset(rs)?;
    nft::Nft::system().apply(&doc)
}

/// Deletes the table; Ok when it does not exist.
pub fn remove(table: &str) -> Result<()> {
    let doc = render::removal(table)?;
    nft::Nft::system().apply(&doc)
}

/// `nft list table inet <table>` as text (tests and debugging); Ok("") when absent.
pub fn list(table: &str) -> Result<String> {
    render::check_table_name(table)?;
    nft::Nft::system().list_table(table)
}

/// Checks that `nft` runs and can talk to the kernel; returns its version
/// line. Meant for daemon start, so a missing nft is reported once, clearly.
pub fn check() -> Result<String> {
    nft::Nft::system().check()
}

/// IpNet has serde support only behind a feature; its text form is enough.
mod subnets {
    use ipnet::IpNet;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(|n| n.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| s.parse().map_err(D::Error::custom))
            .collect()
    }
}
