//! `update`: new resource limits or restart policy for running containers.

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::{json, Value};

use super::create_settings::parse_restart;
use super::resource_opts::ResourceOpts;
use super::{for_each_name, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, Query};
use crate::error;

/// `update` flags; docker words `--memory-swap`'s help here without quotes.
#[derive(Debug, Args)]
#[command(mut_arg("memory_swap", |a| a.help("Swap limit equal to memory plus swap: -1 to enable unlimited swap")))]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", default_value = "0")]
    pub blkio_weight: u16,
    #[command(flatten)]
    pub resources: ResourceOpts,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", default_value = "")]
    pub restart: String,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

pub async fn update(ctx: &Ctx, args: UpdateArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let restart = if args.restart.is_empty() {
        Value::Null
    } else {
        let p = parse_restart(&args.restart).map_err(|e| anyhow!(e))?;
        json!({"Name": p.name, "MaximumRetryCount": p.maximum_retry_count})
    };
    let body = json!({
        "BlkioWeight": args.blkio_weight,
        "CpuPeriod": args.resources.cpu_period,
        "CpuQuota": args.resources.cpu_quota,
        "CpuShares": args.resources.cpu_shares,
        "NanoCpus": args.resources.cpus,
        "CpusetCpus": args.resources.cpuset_cpus,
        "CpusetMems": args.resources.cpuset_mems,
        "Memory": args.resources.memory,
        "MemoryReservation": args.resources.memory_reservation,
        "MemorySwap": args.resources.memory_swap,
        "PidsLimit": if args.resources.pids_limit == 0 { Value::Null } else { json!(args.resources.pids_limit) },
        "RestartPolicy": restart,
    });
    let errors = for_each_name(&args.names, |name| {
        let body = body.clone();
        async move {
            ctx.client
                .post_json(
                    &format!("/containers/{}/update", path_segment(&name)),
                    &Query::new(),
                    &body,
                )
                .await?;
            Ok(())
        }
    })
    .await;
    error::join(errors)
}
