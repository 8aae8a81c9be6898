//! `pause`, and the state change `unpause` shares with it.

use anyhow::Result;

use super::{container_path, for_each_name, Ctx, NamesArgs};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::error;

/// `pause`.
pub async fn pause(ctx: &Ctx, args: NamesArgs) -> Result<()> {
    set_paused(ctx, args, true).await
}

/// Pauses (or unpauses) every container named, reporting each.
pub async fn set_paused(ctx: &Ctx, args: NamesArgs, pause: bool) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let action = if pause { "pause" } else { "unpause" };
    let errors = for_each_name(&args.names, |name| async move {
        ctx.client
            .post(&container_path(&name, action), &Query::new())
            .await?;
        Ok(())
    })
    .await;
    error::join(errors)
}
