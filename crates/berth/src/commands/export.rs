//! `export`: a container's filesystem as a tar archive.

use anyhow::{anyhow, Result};

use super::transfer::{copy_to_file, validate_output_path};
use super::Ctx;
use crate::cli::usage::{check_args, Arity};
use crate::client::{body_reader, Query};
use crate::stream::terminal;
use berth_api::framing;

/// `export` flags.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", default_value = "")]
    pub output: String,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `export`: `GET /containers/{id}/export` to stdout or `-o`.
pub async fn export(ctx: &Ctx, args: ExportArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.names.len())?;
    if args.output.is_empty() && terminal::stdout_is_tty() {
        return Err(anyhow!(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        ));
    }
    if !args.output.is_empty() {
        validate_output_path(&args.output)?;
    }
    let path = format!(
        "/containers/{}/export",
        crate::client::path_segment(&args.names[0])
    );
    let resp = ctx.client.get_stream(&path, &Query::new()).await?;
    let mut reader = body_reader(resp);
    if args.output.is_empty() {
        framing::raw_copy(reader, &mut std::io::stdout()).await?;
        return Ok(());
    }
    copy_to_file(&args.output, &mut reader).await
}
