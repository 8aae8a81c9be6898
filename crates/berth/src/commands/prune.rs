//! `update`, `container prune`, `image prune` and `system df`: the
//! maintenance commands, with docker's prompts and output.

use std::io::{BufRead, Write};

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};

use super::create_settings::parse_restart;
use super::ps::{filter_value, filters_json};
use super::resource_opts::ResourceOpts;
use super::{for_each_name, print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, read_body, Query};
use crate::error;
use crate::format::listing::{self, row};
use crate::format::units::human_size;

/// `update` flags; docker words `--memory-swap`'s help here without quotes.
#[derive(Debug, Args)]
#[command(mut_arg("memory_swap", |a| a.help("Swap limit equal to memory plus swap: -1 to enable unlimited swap")))]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", default_value = "0")]
    pub blkio_weight: u16,
    #[command(flatten)]
    pub resources: ResourceOpts,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", default_value = "")]
    pub restart: String,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

pub async fn update(ctx: &Ctx, args: UpdateArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let restart = if args.restart.is_empty() {
        Value::Null
    } else {
        let p = parse_restart(&args.restart).map_err(|e| anyhow!(e))?;
        json!({"Name": p.name, "MaximumRetryCount": p.maximum_retry_count})
    };
    let body = json!({
        "BlkioWeight": args.blkio_weight,
        "CpuPeriod": args.resources.cpu_period,
        "CpuQuota": args.resources.cpu_quota,
        "CpuShares": args.resources.cpu_shares,
        "NanoCpus": args.resources.cpus,
        "CpusetCpus": args.resources.cpuset_cpus,
        "CpusetMems": args.resources.cpuset_mems,
        "Memory": args.resources.memory,
        "MemoryReservation": args.resources.memory_reservation,
        "MemorySwap": args.resources.memory_swap,
        "PidsLimit": if args.resources.pids_limit == 0 { Value::Null } else { json!(args.resources.pids_limit) },
        "RestartPolicy": restart,
    });
    let errors = for_each_name(&args.names, |name| {
        let body = body.clone();
        async move {
            ctx.client
                .post_json(
                    &format!("/containers/{}/update", path_segment(&name)),
                    &Query::new(),
                    &body,
                )
                .await?;
            Ok(())
        }
    })
    .await;
    error::join(errors)
}

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
fn confirm(warning: &str) -> bool {
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
fn prune_query(filters: &[(String, String)], extra: Option<(&str, &str)>) -> Query {
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
fn section(title: &str, lines: &[String]) -> String {
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
    ctx.client
        .post("/networks/prune", &prune_query(&args.filter, None))
        .await?;
    let dangling = if args.all { "false" } else { "true" };
    let q = prune_query(&args.filter, Some(("dangling", dangling)));
    let (lines, i_space) = prune_images(ctx, &q).await?;
    ctx.client.post("/build/prune", &Query::new()).await?;
    print_out(
        &(section("Deleted Containers:", &ids)
            + &section("Deleted Images:", &lines)
            + &total(c_space + i_space)),
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Format output using a custom template
    #[arg(long = "format", default_value = "")]
    pub format: String,
    /// Show detailed information on space usage
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

fn num(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn with_pct(reclaimable: i64, total: i64) -> String {
    if total > 0 {
        format!(
            "{} ({}%)",
            human_size(reclaimable as f64),
            reclaimable * 100 / total
        )
    } else {
        human_size(reclaimable as f64)
    }
}

/// `system df -v`: the images, containers, volumes and build cache tables.
fn df_verbose(v: &Value) -> Result<String> {
    use super::images::{image_rows, ImageSummary, IMAGE_HEADERS};
    use super::ps::{ps_row, ContainerSummary, HEADERS};
    let now = super::now_unix();
    let images: Vec<ImageSummary> =
        serde_json::from_value(v.get("Images").cloned().unwrap_or(json!([])))?;
    let containers: Vec<ContainerSummary> =
        serde_json::from_value(v.get("Containers").cloned().unwrap_or(json!([])))?;
    let image_rows: Vec<_> = images
        .iter()
        .flat_map(|i| image_rows(i, true, false, now))
        .collect();
    let container_rows: Vec<_> = containers
        .iter()
        .map(|c| {
            let mut r = ps_row(c, true, now);
            if let crate::format::json_value::Json::Object(fields) = &mut r {
                for (k, val) in fields.iter_mut() {
                    if k == "Size" {
                        *val =
                            crate::format::json_value::Json::String(human_size(c.size_rw as f64));
                    }
                }
                fields.push((
                    "LocalVolumes".into(),
                    crate::format::json_value::Json::String("0".into()),
                ));
            }
            r
        })
        .collect();
    let mut container_headers = HEADERS.to_vec();
    container_headers.push(("LocalVolumes", "LOCAL VOLUMES"));
    let images_table = listing::render(
        "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}\\t{{.SharedSize}}\\t{{.UniqueSize}}\\t{{.Containers}}",
        IMAGE_HEADERS,
        &image_rows,
    )
    .map_err(|e| anyhow!(e))?;
    let containers_table = listing::render(
        "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.LocalVolumes}}\\t{{.Size}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Names}}",
        &container_headers,
        &container_rows,
    )
    .map_err(|e| anyhow!(e))?;
    Ok(format!(
        "Images space usage:\n\n{images_table}\nContainers space usage:\n\n{containers_table}\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"
    ))
}

/// docker's summary rows of `system df`.
pub fn df_rows(v: &Value) -> Vec<crate::format::json_value::Json> {
    let images = v
        .get("Images")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let containers = v
        .get("Containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let layers = num(v, "LayersSize");
    let used: i64 = images
        .iter()
        .filter(|i| num(i, "Containers") != 0)
        .map(|i| (num(i, "Size") - num(i, "SharedSize")).max(0))
        .sum();
    let active_images = images.iter().filter(|i| num(i, "Containers") != 0).count();
    let c_size: i64 = containers.iter().map(|c| num(c, "SizeRw")).sum();
    let c_reclaim: i64 = containers
        .iter()
        .filter(|c| c.get("State").and_then(Value::as_str) != Some("running"))
        .map(|c| num(c, "SizeRw"))
        .sum();
    let active_containers = containers
        .iter()
        .filter(|c| c.get("State").and_then(Value::as_str) == Some("running"))
        .count();
    let r = |t: &str, total: usize, active: usize, size: i64, reclaim: String| {
        row(vec![
            ("Type", t.to_string()),
            ("TotalCount", total.to_string()),
            ("Active", active.to_string()),
            ("Size", human_size(size as f64)),
            ("Reclaimable", reclaim),
        ])
    };
    vec![
        r(
            "Images",
            images.len(),
            active_images,
            layers,
            with_pct(layers - used, layers),
        ),
        r(
            "Containers",
            containers.len(),
            active_containers,
            c_size,
            with_pct(c_reclaim, c_size),
        ),
        r("Local Volumes", 0, 0, 0, human_size(0.0)),
        r("Build Cache", 0, 0, 0, human_size(0.0)),
    ]
}

pub async fn df(ctx: &Ctx, args: DfArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, 0)?;
    let v: Value = ctx.client.get_json("/system/df", &Query::new()).await?;
    if args.verbose && args.format.is_empty() {
        print_out(&df_verbose(&v)?);
        return Ok(());
    }
    let format = if args.format.is_empty() {
        "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}".to_string()
    } else {
        args.format.clone()
    };
    let headers = &[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ];
    let out = listing::render(&format, headers, &df_rows(&v)).map_err(|e| anyhow!(e))?;
    print_out(&out);
    Ok(())
}
