//! `volume prune`, with docker's prompt and report.

use anyhow::{anyhow, Result};
use berth_api::models::VolumePruneResponse;
use clap::Args;

use crate::cli::usage::{check_args, Arity};
use crate::client::read_body;
use crate::commands::prune::{confirm, prune_query, section};
use crate::commands::ps::filter_value;
use crate::commands::{print_out, Ctx};
use crate::format::units::human_size;

/// `volume prune` flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// `POST /volumes/prune`: the names removed and the bytes reclaimed.
pub async fn prune_volumes(
    ctx: &Ctx,
    filters: &[(String, String)],
    all: bool,
) -> Result<(Vec<String>, u64)> {
    let extra = all.then_some(("all", "true"));
    let resp = ctx
        .client
        .post("/volumes/prune", &prune_query(filters, extra))
        .await?;
    let r: VolumePruneResponse = serde_json::from_slice(&read_body(resp).await?)?;
    Ok((
        r.volumes_deleted.unwrap_or_default(),
        r.space_reclaimed.unwrap_or(0).max(0) as u64,
    ))
}

/// `volume prune`.
pub async fn prune(ctx: &Ctx, args: PruneArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    if args.all && args.filter.iter().any(|(k, _)| k == "all") {
        return Err(anyhow!(
            "conflicting options: cannot specify both --all and --filter all=1"
        ));
    }
    let warning = if args.all || args.filter.iter().any(|(k, _)| k == "all") {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !args.force && !confirm(warning) {
        return Ok(());
    }
    let (names, space) = prune_volumes(ctx, &args.filter, args.all).await?;
    print_out(&format!(
        "{}Total reclaimed space: {}\n",
        section("Deleted Volumes:", &names),
        human_size(space as f64)
    ));
    Ok(())
}
