//! `stop`.

use anyhow::Result;
use clap::Args;

use super::{container_path, for_each_name, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::error;

/// `stop`/`restart` flags.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", default_value = "")]
    pub signal: String,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "timeout", alias = "time", value_parser = parsers::int64, allow_hyphen_values = true)]
    pub timeout: Option<i64>,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `stop`.
pub async fn stop(ctx: &Ctx, args: StopArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = stop_query(&args);
    let errors = for_each_name(&args.names, |name| {
        let query = query.clone();
        async move {
            ctx.client
                .post(&container_path(&name, "stop"), &query)
                .await?;
            Ok(())
        }
    })
    .await;
    error::join(errors)
}

/// The query `stop` and `restart` send: the signal and the timeout.
pub fn stop_query(args: &StopArgs) -> Query {
    let mut q = Query::new().set_nonempty("signal", &args.signal);
    if let Some(t) = args.timeout {
        q = q.set("t", t.to_string());
    }
    q
}
