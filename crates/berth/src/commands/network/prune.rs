//! `network prune`, with docker's prompt and report.

use anyhow::Result;
use berth_api::models::NetworkPruneResponse;
use clap::Args;

use crate::cli::usage::{check_args, Arity};
use crate::client::read_body;
use crate::commands::prune::{confirm, prune_query, section};
use crate::commands::ps::filter_value;
use crate::commands::{print_out, Ctx};

/// `network prune` flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

const WARNING: &str =
    "WARNING! This will remove all custom networks not used by at least one container.";

/// docker's report: the removed names under a title and a blank line;
/// nothing at all when none was removed.
pub fn report(r: &NetworkPruneResponse) -> String {
    section(
        "Deleted Networks:",
        r.networks_deleted.as_deref().unwrap_or(&[]),
    )
}

/// `POST /networks/prune`: the report.
pub async fn prune_networks(ctx: &Ctx, filters: &[(String, String)]) -> Result<String> {
    let resp = ctx
        .client
        .post("/networks/prune", &prune_query(filters, None))
        .await?;
    let r: NetworkPruneResponse = serde_json::from_slice(&read_body(resp).await?)?;
    Ok(report(&r))
}

/// `network prune`.
pub async fn prune(ctx: &Ctx, args: PruneArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    if !args.force && !confirm(WARNING) {
        return Ok(());
    }
    print_out(&prune_networks(ctx, &args.filter).await?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports() {
        let r: NetworkPruneResponse =
            serde_json::from_str(r#"{"NetworksDeleted":["prunenet","b"]}"#).unwrap();
        assert_eq!(report(&r), "Deleted Networks:\nprunenet\nb\n\n");
        let none: NetworkPruneResponse =
            serde_json::from_str(r#"{"NetworksDeleted":null}"#).unwrap();
        assert_eq!(report(&none), "");
    }
}
