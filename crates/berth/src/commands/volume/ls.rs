//! `volume ls`: `GET /volumes` as docker's table, in docker's natural
//! order of names.

use anyhow::{anyhow, Result};
use berth_api::models::{Volume, VolumeListResponse};
use clap::Args;

use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::commands::network::ls::natural_cmp;
use crate::commands::ps::{filter_value, filters_json};
use crate::commands::{print_out, Ctx};
use crate::format::json_value::Json;
use crate::format::listing::{self, row};
use crate::format::units::human_size;

/// `volume ls` flags.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Format output using a custom template
    #[arg(long = "format", default_value = "")]
    pub format: String,
    /// Only display volume names
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

pub const VOLUME_HEADERS: &[(&str, &str)] = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
];

/// `-q` replaces only the default table; an explicit template wins.
pub fn template(format: &str, quiet: bool) -> String {
    match (format, quiet) {
        ("" | "table", true) => "{{.Name}}".to_string(),
        ("" | "table", false) => "table {{.Driver}}\\t{{.Name}}".to_string(),
        (f, _) => f.to_string(),
    }
}

/// The fields docker's volume formatter offers.
pub fn volume_row(v: &Volume) -> Json {
    let mut labels: Vec<String> = v
        .labels
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    labels.sort();
    let (links, size) = match &v.usage_data {
        Some(u) => (
            u.ref_count.to_string(),
            if u.size < 0 {
                "N/A".to_string()
            } else {
                human_size(u.size as f64)
            },
        ),
        None => ("N/A".to_string(), "N/A".to_string()),
    };
    row(vec![
        ("Name", v.name.clone()),
        ("Driver", v.driver.clone()),
        ("Scope", v.scope.map(|s| s.to_string()).unwrap_or_default()),
        ("Mountpoint", v.mountpoint.clone()),
        ("Labels", labels.join(",")),
        ("Links", links),
        ("Size", size),
    ])
}

/// The rendered listing.
pub fn render(mut list: Vec<Volume>, format: &str, quiet: bool) -> Result<String> {
    list.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let rows: Vec<Json> = list.iter().map(volume_row).collect();
    listing::render(&template(format, quiet), VOLUME_HEADERS, &rows).map_err(|e| anyhow!(e))
}

/// `volume ls`.
pub async fn ls(ctx: &Ctx, args: LsArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    let mut query = Query::new();
    if !args.filter.is_empty() {
        query = query.set("filters", filters_json(&args.filter));
    }
    let list: VolumeListResponse = ctx.client.get_json("/volumes", &query).await?;
    print_out(&render(
        list.volumes.unwrap_or_default(),
        &args.format,
        args.quiet,
    )?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Volume> {
        let v: VolumeListResponse = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/volume-samples/volumes-list.response.json"
        )))
        .unwrap();
        v.volumes.unwrap()
    }

    #[test]
    fn default_table_matches_docker() {
        assert_eq!(
            render(sample(), "", false).unwrap(),
            "DRIVER    VOLUME NAME\nlocal     vol1\nlocal     vol2\n"
        );
        assert_eq!(render(sample(), "", true).unwrap(), "vol1\nvol2\n");
    }

    #[test]
    fn templates() {
        let out = render(sample(), "{{.Name}} {{.Labels}} {{.Links}} {{.Size}}", true).unwrap();
        assert_eq!(out, "vol1  N/A N/A\nvol2 apitrace=1 N/A N/A\n");
        let out = render(sample(), "table {{.Name}}\\t{{.Mountpoint}}", false).unwrap();
        assert!(
            out.starts_with(
                "VOLUME NAME   MOUNTPOINT\nvol1          /var/lib/docker/volumes/vol1/_data\n"
            ),
            "{out}"
        );
    }
}
