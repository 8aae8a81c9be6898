//! `network connect` and `network disconnect`.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Serialize;

use super::{network_path, trim_id};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::commands::create_body::{zero_endpoint, EndpointSettings};
use crate::commands::Ctx;
use berth_api::models::{EndpointIpamConfig, NetworkDisconnectRequest};

/// `network connect` flags.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_delimiter = ',')]
    pub alias: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_delimiter = ',')]
    pub driver_opt: Vec<String>,
    /// Highest gw-priority provides the default gateway. Accepts positive and negative values.
    #[arg(long = "gw-priority", value_parser = parsers::int64, default_value = "0", allow_hyphen_values = true)]
    pub gw_priority: i64,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long = "ip", default_value = "")]
    pub ip: String,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long = "ip6", default_value = "")]
    pub ip6: String,
    /// Add link to another container
    #[arg(long = "link")]
    pub link: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_delimiter = ',')]
    pub link_local_ip: Vec<String>,
    #[arg(value_name = "NETWORK CONTAINER")]
    pub args: Vec<String>,
}

/// The endpoint docker sends: the model plus `GwPriority`, which the model
/// predates.
#[derive(Debug, Serialize)]
pub struct Endpoint {
    #[serde(flatten)]
    pub settings: EndpointSettings,
    #[serde(rename = "GwPriority")]
    pub gw_priority: i64,
}

/// `POST /networks/{id}/connect` body.
#[derive(Debug, Serialize)]
pub struct ConnectBody {
    #[serde(rename = "Container")]
    pub container: String,
    #[serde(rename = "EndpointConfig")]
    pub endpoint_config: Endpoint,
}

/// docker's `--driver-opt` check: `key=value` with a key.
fn driver_opts(items: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => return Err("invalid key/value pair format in driver options".to_string()),
        }
    }
    Ok(out)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The body, with docker's zero values for what was not given.
pub fn connect_body(container: &str, a: &ConnectArgs) -> Result<ConnectBody, String> {
    let settings = EndpointSettings {
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: non_empty(&a.ip),
            ipv6_address: non_empty(&a.ip6),
            link_local_ips: (!a.link_local_ip.is_empty()).then(|| a.link_local_ip.clone()),
        }),
        links: (!a.link.is_empty()).then(|| a.link.clone()),
        aliases: Some(a.alias.clone()),
        driver_opts: Some(driver_opts(&a.driver_opt)?),
        ..zero_endpoint()
    };
    Ok(ConnectBody {
        container: container.to_string(),
        endpoint_config: Endpoint {
            settings,
            gw_priority: a.gw_priority,
        },
    })
}

/// `network connect`.
pub async fn connect(ctx: &Ctx, args: ConnectArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(2), args.args.len())?;
    let network = trim_id("network", &args.args[0])?;
    let container = trim_id("container", &args.args[1])?;
    let body = connect_body(&container, &args).map_err(|e| anyhow!(e))?;
    ctx.client
        .post_json(&network_path(&network, "connect"), &Query::new(), &body)
        .await?;
    Ok(())
}

/// `network disconnect` flags.
#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(value_name = "NETWORK CONTAINER")]
    pub args: Vec<String>,
}

pub fn disconnect_body(container: &str, force: bool) -> NetworkDisconnectRequest {
    NetworkDisconnectRequest {
        container: Some(container.to_string()),
        force: Some(force),
    }
}

/// `network disconnect`.
pub async fn disconnect(ctx: &Ctx, args: DisconnectArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(2), args.args.len())?;
    let network = trim_id("network", &args.args[0])?;
    let container = trim_id("container", &args.args[1])?;
    ctx.client
        .post_json(
            &network_path(&network, "disconnect"),
            &Query::new(),
            &disconnect_body(&container, args.force),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{FromArgMatches, Parser};
    use serde_json::{json, Value};

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ConnectArgs,
    }

    fn body(line: &str) -> Result<Value, String> {
        let argv = std::iter::once("connect").chain(line.split_whitespace());
        let m = <Wrap as clap::CommandFactory>::command()
            .try_get_matches_from(argv)
            .unwrap();
        let a = Wrap::from_arg_matches(&m).unwrap().args;
        connect_body(&a.args[1], &a).map(|b| serde_json::to_value(b).unwrap())
    }

    fn sample(name: &str) -> Value {
        let path = format!(
            "{}/testdata/network-samples/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn connect_body_is_dockers() {
        let mut expected = sample("networks-connect.request.json");
        // null lists are left out, which the daemon reads the same way; the
        // model has no DNSNames (the daemon computes them)
        let ep = expected["EndpointConfig"].as_object_mut().unwrap();
        ep.retain(|_, v| !v.is_null());
        assert_eq!(body("--alias xxalias mynet xx").unwrap(), expected);
    }

    #[test]
    fn connect_flags() {
        let b = body(
            "--ip 10.1.0.9 --ip6 fd00::9 --link-local-ip 169.254.1.1 --link web:w \
             --alias a,b --driver-opt k=v --gw-priority -5 n c",
        )
        .unwrap();
        let ep = &b["EndpointConfig"];
        assert_eq!(
            ep["IPAMConfig"],
            json!({"IPv4Address": "10.1.0.9", "IPv6Address": "fd00::9", "LinkLocalIPs": ["169.254.1.1"]})
        );
        assert_eq!(ep["Links"], json!(["web:w"]));
        assert_eq!(ep["Aliases"], json!(["a", "b"]));
        assert_eq!(ep["DriverOpts"], json!({"k": "v"}));
        assert_eq!(ep["GwPriority"], -5);
        assert_eq!(b["Container"], "c");
        assert_eq!(
            body("--driver-opt novalue n c").unwrap_err(),
            "invalid key/value pair format in driver options"
        );
    }

    #[test]
    fn disconnect_body_is_dockers() {
        assert_eq!(
            serde_json::to_value(disconnect_body("xx", false)).unwrap(),
            sample("networks-disconnect.request.json")
        );
    }
}
