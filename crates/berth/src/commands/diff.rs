//! `diff`: a container's filesystem changes since it was created.

use anyhow::Result;
use clap::Args;
use serde::Deserialize;

use super::{print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, Query};

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

#[derive(Deserialize)]
struct ChangeItem {
    #[serde(rename = "Path")]
    path: String,
    #[serde(rename = "Kind")]
    kind: u8,
}

pub async fn diff(ctx: &Ctx, args: DiffArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.names.len())?;
    let list: Option<Vec<ChangeItem>> = ctx
        .client
        .get_json(
            &format!("/containers/{}/changes", path_segment(&args.names[0])),
            &Query::new(),
        )
        .await?;
    let mut out = String::new();
    for c in list.unwrap_or_default() {
        let k = match c.kind {
            0 => "C",
            1 => "A",
            2 => "D",
            _ => "?",
        };
        out.push_str(&format!("{k} {}\n", c.path));
    }
    print_out(&out);
    Ok(())
}
