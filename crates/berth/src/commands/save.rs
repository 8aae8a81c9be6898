//! `save`: images to a tar archive on stdout or `-o`.

use anyhow::{anyhow, Result};
use clap::Args;

use super::transfer::{copy_to_file, validate_output_path};
use super::Ctx;
use crate::cli::usage::{check_args, Arity};
use crate::client::{body_reader, Query};
use crate::stream::terminal;
use berth_api::framing;

/// `save` flags.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", default_value = "")]
    pub output: String,
    #[arg(value_name = "IMAGE")]
    pub names: Vec<String>,
}

/// `save`: `GET /images/get?names=…` to `-o FILE` (written to a temporary file
/// then renamed) or to stdout, which must not be a terminal.
pub async fn save(ctx: &Ctx, args: SaveArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    if args.output.is_empty() && terminal::stdout_is_tty() {
        return Err(anyhow!(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        ));
    }
    if !args.output.is_empty() {
        validate_output_path(&args.output)?;
    }
    let mut query = Query::new();
    for n in &args.names {
        query = query.set("names", n.clone());
    }
    let resp = ctx.client.get_stream("/images/get", &query).await?;
    let mut reader = body_reader(resp);
    if args.output.is_empty() {
        framing::raw_copy(reader, &mut std::io::stdout()).await?;
        return Ok(());
    }
    copy_to_file(&args.output, &mut reader).await
}
