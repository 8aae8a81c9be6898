//! `kill`.

use anyhow::Result;
use clap::Args;

use super::{container_path, for_each_name, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::error;

/// `kill` flags.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", default_value = "")]
    pub signal: String,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `kill`.
pub async fn kill(ctx: &Ctx, args: KillArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = Query::new().set_nonempty("signal", &args.signal);
    let errors = for_each_name(&args.names, |name| {
        let query = query.clone();
        async move {
            ctx.client
                .post(&container_path(&name, "kill"), &query)
                .await?;
            Ok(())
        }
    })
    .await;
    error::join(errors)
}
