//! `network create`: the flags become one `POST /networks/create` body. The
//! IPAM flags are grouped by subnet first, as the docker CLI does: every
//! range, gateway and auxiliary address joins the subnet that holds it.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, Result};
use clap::{ArgAction, Args};
use serde::Deserialize;

use super::cidr::subnet_matches;
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{read_body, Query};
use crate::commands::create_settings::kv_map;
use crate::commands::{print_out, Ctx};
use berth_api::models::{ConfigReference, Ipam, IpamConfig, NetworkCreateRequest};

/// `network create` flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Enable manual container attachment
    #[arg(long = "attachable")]
    pub attachable: bool,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address")]
    pub aux_address: Vec<String>,
    /// The network from which to copy the configuration
    #[arg(long = "config-from", default_value = "")]
    pub config_from: String,
    /// Create a configuration only network
    #[arg(long = "config-only")]
    pub config_only: bool,
    /// Driver to manage the Network
    #[arg(short = 'd', long = "driver", default_value = "bridge")]
    pub driver: String,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway", value_delimiter = ',')]
    pub gateway: Vec<String>,
    /// Create swarm routing-mesh network
    #[arg(long = "ingress")]
    pub ingress: bool,
    /// Restrict external access to the network
    #[arg(long = "internal")]
    pub internal: bool,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_delimiter = ',')]
    pub ip_range: Vec<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt")]
    pub ipam_opt: Vec<String>,
    /// Enable or disable IPv4 address assignment
    #[arg(long = "ipv4", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parsers::go_bool)]
    pub ipv4: Option<bool>,
    /// Enable or disable IPv6 address assignment
    #[arg(long = "ipv6", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parsers::go_bool)]
    pub ipv6: Option<bool>,
    /// Set metadata on a network
    #[arg(long = "label", value_parser = parsers::label)]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Control the network's scope
    #[arg(long = "scope", default_value = "")]
    pub scope: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet", value_delimiter = ',')]
    pub subnet: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub names: Vec<String>,
}

/// The IPAM flags as typed.
#[derive(Debug, Default)]
pub struct IpamFlags<'a> {
    pub subnets: &'a [String],
    pub ranges: &'a [String],
    pub gateways: &'a [String],
    pub aux: BTreeMap<String, String>,
}

/// One subnet's share of the IPAM flags.
#[derive(Debug, Default)]
struct Pool {
    subnet: String,
    range: Option<String>,
    gateway: Option<String>,
    aux: BTreeMap<String, String>,
}

/// The index of every subnet holding `data`.
fn holders(subnets: &[String], data: &str) -> Result<Vec<usize>, String> {
    let mut found = Vec::new();
    for (i, s) in subnets.iter().enumerate() {
        if subnet_matches(s, data)? {
            found.push(i);
        }
    }
    Ok(found)
}

/// docker's `createIPAMConfig`: one pool per subnet, in the order given.
pub fn ipam_pools(f: &IpamFlags) -> Result<Vec<IpamConfig>, String> {
    if f.subnets.len() < f.ranges.len() || f.subnets.len() < f.gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".to_string());
    }
    let mut pools: Vec<Pool> = Vec::new();
    for s in f.subnets {
        for p in &pools {
            if subnet_matches(s, &p.subnet)? || subnet_matches(&p.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        pools.push(Pool {
            subnet: s.clone(),
            ..Pool::default()
        });
    }
    for r in f.ranges {
        let found = holders(f.subnets, r)?;
        if found.is_empty() {
            return Err(format!("no matching subnet for range {r}"));
        }
        for i in found {
            let p = &mut pools[i];
            if let Some(old) = &p.range {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {old}) on the same subnet ({})",
                    p.subnet
                ));
            }
            p.range = Some(r.clone());
        }
    }
    for g in f.gateways {
        let found = holders(f.subnets, g)?;
        if found.is_empty() {
            return Err(format!("no matching subnet for gateway {g}"));
        }
        for i in found {
            let p = &mut pools[i];
            if let Some(old) = &p.gateway {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {old}) for the same subnet ({})",
                    p.subnet
                ));
            }
            p.gateway = Some(g.clone());
        }
    }
    for (key, addr) in &f.aux {
        let found = holders(f.subnets, addr)?;
        if found.is_empty() {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
        for i in found {
            pools[i].aux.insert(key.clone(), addr.clone());
        }
    }
    Ok(pools
        .into_iter()
        .map(|p| IpamConfig {
            subnet: Some(p.subnet),
            ip_range: p.range,
            gateway: p.gateway,
            auxiliary_addresses: (!p.aux.is_empty()).then(|| p.aux.into_iter().collect()),
        })
        .collect())
}

fn map(items: &[String]) -> HashMap<String, String> {
    kv_map(items).into_iter().collect()
}

/// The request body, with the zero values docker's CLI sends for flags not
/// given (`EnableIPv4`/`EnableIPv6` only when set, as docker does).
pub fn create_body(name: &str, a: &CreateArgs) -> Result<NetworkCreateRequest, String> {
    let pools = ipam_pools(&IpamFlags {
        subnets: &a.subnet,
        ranges: &a.ip_range,
        gateways: &a.gateway,
        aux: kv_map(&a.aux_address),
    })?;
    Ok(NetworkCreateRequest {
        name: name.to_string(),
        driver: Some(a.driver.clone()),
        scope: Some(a.scope.clone()),
        internal: Some(a.internal),
        attachable: Some(a.attachable),
        ingress: Some(a.ingress),
        config_only: Some(a.config_only),
        config_from: (!a.config_from.is_empty()).then(|| ConfigReference {
            network: Some(a.config_from.clone()),
        }),
        ipam: Some(Ipam {
            driver: Some(a.ipam_driver.clone()),
            config: Some(pools),
            options: Some(map(&a.ipam_opt)),
        }),
        enable_ipv4: a.ipv4,
        enable_ipv6: a.ipv6,
        options: Some(map(&a.opt)),
        labels: Some(map(&a.label)),
    })
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "Id", default)]
    id: String,
}

/// `network create`: prints the new network's ID.
pub async fn create(ctx: &Ctx, args: CreateArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.names.len())?;
    let body = create_body(&args.names[0], &args).map_err(|e| anyhow!(e))?;
    let resp = ctx
        .client
        .post_json("/networks/create", &Query::new(), &body)
        .await?;
    let created: Created = serde_json::from_slice(&read_body(resp).await?)?;
    print_out(&format!("{}\n", created.id));
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
        args: CreateArgs,
    }

    fn parse(line: &str) -> CreateArgs {
        let argv = std::iter::once("create").chain(line.split_whitespace());
        let m = <Wrap as clap::CommandFactory>::command()
            .try_get_matches_from(argv)
            .unwrap();
        Wrap::from_arg_matches(&m).unwrap().args
    }

    fn body(line: &str) -> Result<Value, String> {
        let a = parse(line);
        create_body(&a.names[0], &a).map(|b| serde_json::to_value(b).unwrap())
    }

    #[test]
    fn plain_create_is_dockers_body() {
        let sample: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/network-samples/networks-create.request.json"
        )))
        .unwrap();
        let ours = body("mynet").unwrap();
        // API 1.44 and later send no CheckDuplicate; a null ConfigFrom is
        // left out, which the daemon reads the same way.
        let mut expected = sample.clone();
        let obj = expected.as_object_mut().unwrap();
        obj.remove("CheckDuplicate");
        obj.remove("ConfigFrom");
        assert_eq!(ours, expected);
        assert!(ours.get("EnableIPv6").is_none());
    }

    #[test]
    fn flags_fill_the_body() {
        let b = body(
            "-d macvlan --internal --attachable --ipv6 --ipv4=false --scope local \
             --label apitrace=1 --label k -o com.docker.network.bridge.name=bt0 \
             --ipam-driver default --ipam-opt x=y --config-from base --subnet 10.231.0.0/24 n",
        )
        .unwrap();
        assert_eq!(b["Driver"], "macvlan");
        assert_eq!(b["Internal"], true);
        assert_eq!(b["Attachable"], true);
        assert_eq!(b["EnableIPv6"], true);
        assert_eq!(b["EnableIPv4"], false);
        assert_eq!(b["Scope"], "local");
        assert_eq!(b["Labels"], json!({"apitrace": "1", "k": ""}));
        assert_eq!(
            b["Options"],
            json!({"com.docker.network.bridge.name": "bt0"})
        );
        assert_eq!(b["ConfigFrom"], json!({"Network": "base"}));
        assert_eq!(
            b["IPAM"],
            json!({"Driver": "default", "Options": {"x": "y"},
                   "Config": [{"Subnet": "10.231.0.0/24"}]})
        );
        assert_eq!(b["Name"], "n");
    }

    #[test]
    fn ipam_flags_pair_by_subnet() {
        let b = body(
            "--subnet 10.1.0.0/16,fd00:1::/64 --gateway fd00:1::1 --gateway 10.1.0.1 \
             --ip-range 10.1.2.0/24 --aux-address host1=10.1.0.5 --aux-address h6=fd00:1::5 n",
        )
        .unwrap();
        assert_eq!(
            b["IPAM"]["Config"],
            json!([
                {"Subnet": "10.1.0.0/16", "IPRange": "10.1.2.0/24", "Gateway": "10.1.0.1",
                 "AuxiliaryAddresses": {"host1": "10.1.0.5"}},
                {"Subnet": "fd00:1::/64", "Gateway": "fd00:1::1",
                 "AuxiliaryAddresses": {"h6": "fd00:1::5"}}
            ])
        );
    }

    #[test]
    fn ipam_errors_are_dockers() {
        let err = |line: &str| body(line).unwrap_err();
        assert_eq!(
            err("--gateway 10.0.0.1 n"),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            err("--subnet 10.0.0.0/24 --ip-range 10.0.0.0/25,10.0.0.128/25 n"),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            err("--subnet 10.0.0.0/16 --subnet 10.0.1.0/24 n"),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            err("--subnet 10.0.0.0/24 --gateway 10.9.0.1 n"),
            "no matching subnet for gateway 10.9.0.1"
        );
        assert_eq!(
            err("--subnet 10.0.0.0/24 --ip-range 10.9.0.0/28 n"),
            "no matching subnet for range 10.9.0.0/28"
        );
        assert_eq!(
            err("--subnet 10.0.0.0/24 --aux-address a=10.9.0.1 n"),
            "no matching subnet for aux-address 10.9.0.1"
        );
        assert_eq!(
            err("--subnet 10.0.0.0/24,10.1.0.0/24 --gateway 10.0.0.1,10.0.0.2 n"),
            "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/24)"
        );
        assert_eq!(
            err("--subnet 10.0.0.0/24,10.1.0.0/24 --ip-range 10.0.0.0/26,10.0.0.64/26 n"),
            "cannot configure multiple ranges (10.0.0.64/26, 10.0.0.0/26) on the same subnet (10.0.0.0/24)"
        );
        assert_eq!(
            err("--subnet bad --gateway 10.0.0.1 n"),
            "invalid subnet: invalid CIDR address: bad"
        );
    }
}
