//! `container prune`, `image prune` and `system prune`, with docker's
//! prompts and reports.

use std::io::{BufRead, Write};

use anyhow::Result;
use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use super::ps::{filter_value, filters_json};
use super::{print_out, Ctx};
use crate::client::{read_body, Query};
use crate::format::units::human_size;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long = "all", hide = true)]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

/// docker's `[y/N]` prompt; anything but y/yes declines.
pub fn confirm(warning: &str) -> bool {
    print_out(&format!(
        "{warning}\nAre you sure you want to continue? [y/N] "
    ));
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[derive(Deserialize)]
struct ContainersPruned {
    #[serde(rename = "ContainersDeleted")]
    deleted: Option<Vec<String>>,
    #[serde(rename = "SpaceReclaimed", default)]
    space: u64,
}

/// `filters` (plus `extra`) as a prune query; none at all when empty.
pub fn prune_query(filters: &[(String, String)], extra: Option<(&str, &str)>) -> Query {
    let mut f = filters.to_vec();
    if let Some((k, v)) = extra {
        f.push((k.into(), v.into()));
    }
    if f.is_empty() {
        Query::new()
    } else {
        Query::new().set("filters", filters_json(&f))
    }
}

/// `POST /containers/prune`: the removed ids and the space freed.
async fn prune_containers(ctx: &Ctx, q: &Query) -> Result<(Vec<String>, u64)> {
    let resp = ctx.client.post("/containers/prune", q).await?;
    let r: ContainersPruned = serde_json::from_slice(&read_body(resp).await?)?;
    Ok((r.deleted.unwrap_or_default(), r.space))
}

/// `POST /images/prune`: docker's `untagged:`/`deleted:` lines and the
/// space freed.
async fn prune_images(ctx: &Ctx, q: &Query) -> Result<(Vec<String>, u64)> {
    let resp = ctx.client.post("/images/prune", q).await?;
    let r: ImagesPruned = serde_json::from_slice(&read_body(resp).await?)?;
    let mut lines = Vec::new();
    for item in r.deleted.unwrap_or_default() {
        if let Some(u) = item.get("Untagged").and_then(Value::as_str) {
            lines.push(format!("untagged: {u}"));
        }
        if let Some(id) = item.get("Deleted").and_then(Value::as_str) {
            lines.push(format!("deleted: {id}"));
        }
    }
    Ok((lines, r.space))
}

/// One part of docker's prune report: the title and its lines, then a
/// blank line; nothing when nothing was removed.
pub fn section(title: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!("{title}\n");
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push('\n');
    out
}

fn total(space: u64) -> String {
    format!("Total reclaimed space: {}\n", human_size(space as f64))
}

pub async fn container_prune(ctx: &Ctx, args: PruneArgs) -> Result<()> {
    if !args.force && !confirm("WARNING! This will remove all stopped containers.") {
        return Ok(());
    }
    let (ids, space) = prune_containers(ctx, &prune_query(&args.filter, None)).await?;
    print_out(&(section("Deleted Containers:", &ids) + &total(space)));
    Ok(())
}

#[derive(Deserialize)]
struct ImagesPruned {
    #[serde(rename = "ImagesDeleted")]
    deleted: Option<Vec<Value>>,
    #[serde(rename = "SpaceReclaimed", default)]
    space: u64,
}

pub async fn image_prune(ctx: &Ctx, args: PruneArgs) -> Result<()> {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning) {
        return Ok(());
    }
    let dangling = if args.all { "false" } else { "true" };
    let q = prune_query(&args.filter, Some(("dangling", dangling)));
    let (lines, space) = prune_images(ctx, &q).await?;
    print_out(&(section("Deleted Images:", &lines) + &total(space)));
    Ok(())
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long = "volumes")]
    pub volumes: bool,
}

/// `system prune`: stopped containers, unused networks, dangling (or with
/// `-a` unused) images and the build cache, with docker's prompt.
pub async fn system_prune(ctx: &Ctx, args: SystemPruneArgs) -> Result<()> {
    let mut warning = String::from(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
    );
    if args.volumes {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if args.all {
        "  - all images without at least one container associated to them\n  - all build cache\n"
    } else {
        "  - all dangling images\n  - unused build cache\n"
    });
    if !args.force && !confirm(&warning) {
        return Ok(());
    }
    let (ids, c_space) = prune_containers(ctx, &prune_query(&args.filter, None)).await?;
    let networks = super::network::prune::prune_networks(ctx, &args.filter).await?;
    let (volumes, v_space) = if args.volumes {
        super::volume::prune::prune_volumes(ctx, &args.filter, false).await?
    } else {
        (Vec::new(), 0)
    };
    let dangling = if args.all { "false" } else { "true" };
    let q = prune_query(&args.filter, Some(("dangling", dangling)));
    let (lines, i_space) = prune_images(ctx, &q).await?;
    ctx.client.post("/build/prune", &Query::new()).await?;
    print_out(
        &(section("Deleted Containers:", &ids)
            + &networks
            + &section("Deleted Volumes:", &volumes)
            + &section("Deleted Images:", &lines)
            + &total(c_space + v_space + i_space)),
    );
    Ok(())
}
