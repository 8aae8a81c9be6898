//! `rename`.

use anyhow::{anyhow, Result};

use super::{container_path, print_err, Ctx, NamesArgs};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::error;

/// `rename OLD NEW`.
pub async fn rename(ctx: &Ctx, args: NamesArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(2), args.names.len())?;
    let old = args.names[0].trim();
    let new = args.names[1].trim();
    if old.is_empty() || new.is_empty() {
        return Err(anyhow!("Error: Neither old nor new names may be empty"));
    }
    let query = Query::new().set("name", new);
    if let Err(e) = ctx
        .client
        .post(&container_path(old, "rename"), &query)
        .await
    {
        print_err(&format!("{}\n", error::message(&e)));
        return Err(anyhow!("Error: failed to rename container named {old}"));
    }
    Ok(())
}
