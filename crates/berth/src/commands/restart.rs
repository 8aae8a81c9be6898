//! `restart`.

use anyhow::Result;

use super::stop::{stop_query, StopArgs};
use super::{container_path, print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::error;

/// `restart` (one container after the other, like docker).
pub async fn restart(ctx: &Ctx, args: StopArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = stop_query(&args);
    let mut errors = Vec::new();
    for name in &args.names {
        match ctx
            .client
            .post(&container_path(name, "restart"), &query)
            .await
        {
            Ok(_) => print_out(&format!("{name}\n")),
            Err(e) => errors.push(error::message(&e)),
        }
    }
    error::join(errors)
}
