//! `port`: a container's published ports, from its inspect
//! (`NetworkSettings.Ports`), in docker's format.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;

use super::{print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, Query};

#[derive(Debug, Args)]
pub struct PortArgs {
    /// CONTAINER [PRIVATE_PORT[/PROTO]]
    #[arg(value_name = "CONTAINER")]
    pub args: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Binding {
    #[serde(rename = "HostIp", default)]
    host_ip: String,
    #[serde(rename = "HostPort", default)]
    host_port: String,
}

#[derive(Debug, Default, Deserialize)]
struct Settings {
    #[serde(rename = "Ports", default)]
    ports: Option<BTreeMap<String, Option<Vec<Binding>>>>,
}

#[derive(Debug, Deserialize)]
struct Inspect {
    #[serde(rename = "NetworkSettings", default)]
    network_settings: Settings,
}

fn show(b: &Binding) -> String {
    if b.host_ip.contains(':') {
        format!("[{}]:{}", b.host_ip, b.host_port)
    } else {
        format!("{}:{}", b.host_ip, b.host_port)
    }
}

pub async fn port(ctx: &Ctx, args: PortArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.args.len())?;
    if args.args.len() > 2 {
        return Err(anyhow!("\"{}\" requires at most 2 arguments.", ctx.path));
    }
    let name = &args.args[0];
    let c: Inspect = ctx
        .client
        .get_json(
            &format!("/containers/{}/json", path_segment(name)),
            &Query::new(),
        )
        .await?;
    let ports = c.network_settings.ports.unwrap_or_default();
    let mut out = String::new();
    match args.args.get(1) {
        None => {
            for (port, bindings) in &ports {
                for b in bindings.iter().flatten() {
                    out.push_str(&format!("{port} -> {}\n", show(b)));
                }
            }
        }
        Some(want) => {
            let key = if want.contains('/') {
                want.clone()
            } else {
                format!("{want}/tcp")
            };
            let bindings: Vec<&Binding> = ports.get(&key).into_iter().flatten().flatten().collect();
            if bindings.is_empty() {
                return Err(anyhow!(
                    "Error: No public port '{want}' published for {name}"
                ));
            }
            for b in bindings {
                out.push_str(&format!("{}\n", show(b)));
            }
        }
    }
    print_out(&out);
    Ok(())
}
