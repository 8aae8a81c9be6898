//! `wait`.

use anyhow::{anyhow, Result};

use super::{container_path, print_out, Ctx, NamesArgs};
use crate::cli::usage::{check_args, Arity};
use crate::client::{read_body, Query};
use crate::error;

/// `wait`: prints each container's exit code.
pub async fn wait(ctx: &Ctx, args: NamesArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let mut errors = Vec::new();
    for name in &args.names {
        let result = async {
            let resp = ctx
                .client
                .post(&container_path(name, "wait"), &Query::new())
                .await?;
            let body = read_body(resp).await?;
            super::run::parse_wait_body(&body).map_err(|m| anyhow!(m))
        }
        .await;
        match result {
            Ok(code) => print_out(&format!("{code}\n")),
            Err(e) => errors.push(error::message(&e)),
        }
    }
    error::join(errors)
}
