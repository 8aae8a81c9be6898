//! `network rm`: one network at a time, each failure reported as it
//! happens and the exit status 1 kept for the end, like docker.

use anyhow::Result;
use clap::Args;
use serde::Deserialize;

use super::{network_path, trim_id};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::commands::prune::confirm;
use crate::commands::{print_err, print_out, Ctx};
use crate::error::{self, is_not_found, StatusError};

/// `network rm` flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(value_name = "NETWORK")]
    pub names: Vec<String>,
}

const INGRESS_WARNING: &str = "WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.";

#[derive(Deserialize)]
struct Ingress {
    #[serde(rename = "Ingress", default)]
    ingress: bool,
}

/// What became of one name.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Removed,
    Skipped,
    Failed(String),
}

/// docker's per-name rule: with `-f` a missing network is no failure.
pub fn outcome(result: Result<()>, force: bool) -> Outcome {
    match result {
        Ok(()) => Outcome::Removed,
        Err(e) if force && is_not_found(&e) => Outcome::Skipped,
        Err(e) => Outcome::Failed(error::message(&e)),
    }
}

async fn remove_one(ctx: &Ctx, name: &str) -> Result<bool> {
    let id = trim_id("network", name)?;
    let path = network_path(&id, "");
    // docker looks first, to ask before removing a routing-mesh network
    if let Ok(n) = ctx.client.get_json::<Ingress>(&path, &Query::new()).await {
        if n.ingress && !confirm(INGRESS_WARNING) {
            return Ok(false);
        }
    }
    ctx.client.delete(&path, &Query::new()).await?;
    Ok(true)
}

/// `network rm`.
pub async fn rm(ctx: &Ctx, args: RmArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let mut failed = false;
    for name in &args.names {
        let result = remove_one(ctx, name).await;
        if matches!(result, Ok(false)) {
            continue;
        }
        match outcome(result.map(|_| ()), args.force) {
            Outcome::Removed => print_out(&format!("{name}\n")),
            Outcome::Skipped => {}
            Outcome::Failed(msg) => {
                print_err(&format!("{msg}\n"));
                failed = true;
            }
        }
    }
    if failed {
        // docker ends with its status as text after the per-name errors
        return Err(StatusError::exit(1, "exit status 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DaemonError;

    fn daemon(status: u16, message: &str) -> anyhow::Error {
        anyhow::Error::new(DaemonError {
            status,
            message: message.into(),
            plain: false,
        })
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome(Ok(()), false), Outcome::Removed);
        assert_eq!(
            outcome(Err(daemon(404, "network x not found")), false),
            Outcome::Failed("Error response from daemon: network x not found".into())
        );
        assert_eq!(
            outcome(Err(daemon(404, "network x not found")), true),
            Outcome::Skipped
        );
        assert_eq!(
            outcome(
                Err(daemon(
                    403,
                    "bridge is a pre-defined network and cannot be removed"
                )),
                true
            ),
            Outcome::Failed(
                "Error response from daemon: bridge is a pre-defined network and cannot be removed"
                    .into()
            )
        );
    }
}
