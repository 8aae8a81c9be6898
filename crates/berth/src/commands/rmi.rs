//! `rmi` (`image rm`).

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;

use super::{print_err, print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, read_body, Query};
use crate::error;

/// `rmi` flags.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    #[arg(value_name = "IMAGE")]
    pub names: Vec<String>,
}

/// `rmi`: prints `Untagged:`/`Deleted:` lines; with `-f`, missing images are
/// reported without failing.
pub async fn rmi(ctx: &Ctx, args: RmiArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = Query::new()
        .flag("force", args.force)
        .flag("noprune", args.no_prune);
    let mut errors = Vec::new();
    let mut fatal = false;
    for name in &args.names {
        let result = async {
            let resp = ctx
                .client
                .delete(&format!("/images/{}", path_segment(name)), &query)
                .await?;
            let items: Vec<BTreeMap<String, String>> =
                serde_json::from_slice(&read_body(resp).await?)?;
            Ok::<_, anyhow::Error>(items)
        }
        .await;
        match result {
            Ok(items) => {
                let mut out = String::new();
                for item in items {
                    match item.get("Deleted").filter(|d| !d.is_empty()) {
                        Some(d) => out.push_str(&format!("Deleted: {d}\n")),
                        None => out.push_str(&format!(
                            "Untagged: {}\n",
                            item.get("Untagged").cloned().unwrap_or_default()
                        )),
                    }
                }
                print_out(&out);
            }
            Err(e) => {
                fatal |= !error::is_not_found(&e);
                errors.push(error::message(&e));
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    if !args.force || fatal {
        return error::join(errors);
    }
    print_err(&format!("{}\n", errors.join("\n")));
    Ok(())
}
