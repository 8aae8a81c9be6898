//! `system df`: disk usage by images, containers, volumes and build cache.

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::{json, Value};

use super::{print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::format::listing::{self, row};
use crate::format::units::human_size;

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
    let volumes: Vec<berth_api::models::Volume> =
        serde_json::from_value(v.get("Volumes").cloned().unwrap_or(json!([])))?;
    let volume_rows: Vec<_> = volumes.iter().map(super::volume::ls::volume_row).collect();
    let volumes_table = listing::render(
        "table {{.Name}}\\t{{.Links}}\\t{{.Size}}",
        super::volume::ls::VOLUME_HEADERS,
        &volume_rows,
    )
    .map_err(|e| anyhow!(e))?;
    Ok(format!(
        "Images space usage:\n\n{images_table}\nContainers space usage:\n\n{containers_table}\nLocal Volumes space usage:\n\n{volumes_table}\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"
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
    let volumes = v
        .get("Volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let usage = |vol: &Value, key: &str| vol.get("UsageData").map_or(0, |u| num(u, key));
    let v_size: i64 = volumes.iter().map(|x| usage(x, "Size").max(0)).sum();
    let v_reclaim: i64 = volumes
        .iter()
        .filter(|x| usage(x, "RefCount") == 0)
        .map(|x| usage(x, "Size").max(0))
        .sum();
    let active_volumes = volumes.iter().filter(|x| usage(x, "RefCount") > 0).count();
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
        r(
            "Local Volumes",
            volumes.len(),
            active_volumes,
            v_size,
            with_pct(v_reclaim, v_size),
        ),
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
