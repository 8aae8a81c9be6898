//! `ps` / `container ls`: `GET /containers/json` rendered like docker's table.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;

use super::{now_unix, print_out, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::format::json_value::Json;
use crate::format::listing::{self, row};
use crate::format::text::{ellipsis, go_quote, go_time_string, truncate_id};
use crate::format::units::{human_size_with_precision, since_unix};
use crate::reference::Reference;

/// `ps` flags.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Format output using a custom template
    #[arg(long = "format", default_value = "")]
    pub format: String,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_parser = parsers::int64, default_value = "-1", allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long = "latest")]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display container IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short = 's', long = "size")]
    pub size: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// A `--filter name=value` flag value.
pub fn filter_value(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((k, v)) => Ok((k.trim().to_lowercase(), v.trim().to_string())),
        None => Err("bad format of filter (expected name=value)".to_string()),
    }
}

/// `{"name":{"value":true}}`, URL-encoded by the caller.
pub use berth_api::filters::encode as filters_json;

/// One entry of `GET /containers/json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerSummary {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Names")]
    pub names: Option<Vec<String>>,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    #[serde(rename = "Command")]
    pub command: String,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "Ports")]
    pub ports: Option<Vec<Port>>,
    #[serde(rename = "SizeRw")]
    pub size_rw: i64,
    #[serde(rename = "SizeRootFs")]
    pub size_root_fs: i64,
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "State")]
    pub state: String,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Mounts")]
    pub mounts: Option<Vec<serde_json::Value>>,
    #[serde(rename = "NetworkSettings")]
    pub network_settings: Option<serde_json::Value>,
}

/// A port of a container summary.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Port {
    #[serde(rename = "IP")]
    pub ip: String,
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    #[serde(rename = "PublicPort")]
    pub public_port: u16,
    #[serde(rename = "Type")]
    pub kind: String,
}

/// `ps`.
pub async fn ps(ctx: &Ctx, args: PsArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    let mut last = args.last;
    if args.latest && last == -1 {
        last = 1;
    }
    let mut query = Query::new().flag("all", args.all).flag("size", args.size);
    if last > 0 {
        query = query.set("limit", last.to_string());
    }
    if !args.filter.is_empty() {
        query = query.set("filters", filters_json(&args.filter));
    }
    let list: Vec<ContainerSummary> = ctx.client.get_json("/containers/json", &query).await?;
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else if !args.format.is_empty() {
        args.format.clone()
    } else if args.size {
        format!("{DEFAULT_FORMAT}\\t{{{{.Size}}}}")
    } else {
        DEFAULT_FORMAT.to_string()
    };
    let now = now_unix();
    let rows: Vec<Json> = list
        .iter()
        .map(|c| ps_row(c, !args.no_trunc, now))
        .collect();
    let out = listing::render(&format, HEADERS, &rows).map_err(|e| anyhow!(e))?;
    print_out(&out);
    Ok(())
}

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}";

pub const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// The row fields docker's container formatter offers.
pub fn ps_row(c: &ContainerSummary, trunc: bool, now: i64) -> Json {
    let id = if trunc {
        truncate_id(&c.id)
    } else {
        c.id.clone()
    };
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    let size = {
        let rw = human_size_with_precision(c.size_rw as f64, 3);
        if c.size_root_fs > 0 {
            format!(
                "{rw} (virtual {})",
                human_size_with_precision(c.size_root_fs as f64, 3)
            )
        } else {
            rw
        }
    };
    let labels = c
        .labels
        .as_ref()
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let networks = c
        .network_settings
        .as_ref()
        .and_then(|n| n.get("Networks"))
        .and_then(|n| n.as_object())
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let mounts = c
        .mounts
        .as_ref()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| {
                    let name = m.get("Name").and_then(|v| v.as_str()).unwrap_or("");
                    let src = m.get("Source").and_then(|v| v.as_str()).unwrap_or("");
                    let n = if name.is_empty() { src } else { name };
                    (!n.is_empty()).then(|| {
                        if trunc {
                            ellipsis(n, 15)
                        } else {
                            n.to_string()
                        }
                    })
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let local_volumes = c
        .mounts
        .as_ref()
        .map(|ms| {
            ms.iter()
                .filter(|m| m.get("Driver").and_then(|v| v.as_str()) == Some("local"))
                .count()
        })
        .unwrap_or(0);
    let mut r = row(vec![
        ("ID", id),
        ("Image", display_image(c, trunc)),
        ("Command", go_quote(&command)),
        ("CreatedAt", created_at(c.created)),
        ("RunningFor", since_unix(c.created, now)),
        (
            "Ports",
            displayable_ports(c.ports.as_deref().unwrap_or(&[])),
        ),
        ("State", c.state.clone()),
        ("Status", c.status.clone()),
        ("Size", size),
        (
            "Names",
            display_names(c.names.as_deref().unwrap_or(&[]), trunc),
        ),
        ("Labels", labels),
        ("Mounts", mounts),
        ("Networks", networks),
        ("LocalVolumes", local_volumes.to_string()),
    ]);
    if let Json::Object(fields) = &mut r {
        fields.push(("Platform".to_string(), Json::Null));
    }
    r
}

fn created_at(created: i64) -> String {
    go_time_string(created)
}

/// docker's `ContainerContext.Image`: digests stripped, IDs shortened.
pub fn display_image(c: &ContainerSummary, trunc: bool) -> String {
    if c.image.is_empty() {
        return "<no image>".to_string();
    }
    if trunc {
        let short = truncate_id(&c.image_id);
        if !short.is_empty() && short == truncate_id(&c.image) {
            return short;
        }
        if let Ok(r) = Reference::parse(&c.image) {
            return r.without_digest().familiar();
        }
    }
    c.image.clone()
}

/// Names without the leading `/`; truncated output keeps only the primary
/// name (links have a `/` inside).
pub fn display_names(names: &[String], trunc: bool) -> String {
    let stripped: Vec<String> = names
        .iter()
        .map(|n| n.strip_prefix('/').unwrap_or(n).to_string())
        .collect();
    if trunc {
        if let Some(primary) = stripped.iter().find(|n| !n.contains('/')) {
            return primary.clone();
        }
    }
    stripped.join(",")
}

fn join_host_port(ip: &str, port: &str) -> String {
    if ip.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6()) {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// docker's `DisplayablePorts`: consecutive ports grouped into ranges.
pub fn displayable_ports(ports: &[Port]) -> String {
    let mut sorted = ports.to_vec();
    sorted.sort_by(|a, b| {
        (a.private_port, &a.ip, a.public_port, &a.kind).cmp(&(
            b.private_port,
            &b.ip,
            b.public_port,
            &b.kind,
        ))
    });
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for p in &sorted {
        let current = p.private_port;
        let mut key = p.kind.clone();
        if !p.ip.is_empty() {
            if p.public_port != current {
                host_mappings.push(format!(
                    "{}->{}/{}",
                    join_host_port(&p.ip, &p.public_port.to_string()),
                    p.private_port,
                    p.kind
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.kind);
        }
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, current, current)),
            Some(g) if current == g.2.wrapping_add(1) => g.2 = current,
            Some(g) => {
                result.push(form_group(&g.0, g.1, g.2));
                g.1 = current;
                g.2 = current;
            }
        }
    }
    for (key, first, last) in &groups {
        result.push(form_group(key, *first, *last));
    }
    result.extend(host_mappings);
    result.join(", ")
}

fn form_group(key: &str, first: u16, last: u16) -> String {
    let (ip, kind) = match key.rsplit_once('/') {
        Some((ip, kind)) => (ip, kind),
        None => ("", key),
    };
    let mut group = first.to_string();
    if first != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{}->{group}", join_host_port(ip, &group));
    }
    format!("{group}/{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(ip: &str, private: u16, public: u16, kind: &str) -> Port {
        Port {
            ip: ip.into(),
            private_port: private,
            public_port: public,
            kind: kind.into(),
        }
    }

    #[test]
    fn ports_like_docker() {
        assert_eq!(displayable_ports(&[]), "");
        assert_eq!(
            displayable_ports(&[port("127.0.0.1", 80, 8080, "tcp")]),
            "127.0.0.1:8080->80/tcp"
        );
        assert_eq!(
            displayable_ports(&[
                port("", 80, 0, "tcp"),
                port("", 81, 0, "tcp"),
                port("", 82, 0, "tcp")
            ]),
            "80-82/tcp"
        );
        assert_eq!(
            displayable_ports(&[
                port("0.0.0.0", 9988, 9988, "tcp"),
                port("0.0.0.0", 9989, 9989, "tcp")
            ]),
            "0.0.0.0:9988-9989->9988-9989/tcp"
        );
        assert_eq!(
            displayable_ports(&[port("::", 80, 32768, "tcp"), port("", 53, 0, "udp")]),
            "53/udp, [::]:32768->80/tcp"
        );
    }

    #[test]
    fn names() {
        let n = vec!["/web".to_string(), "/other/alias".to_string()];
        assert_eq!(display_names(&n, true), "web");
        assert_eq!(display_names(&n, false), "web,other/alias");
    }

    #[test]
    fn images() {
        let mut c = ContainerSummary {
            image: "busybox".into(),
            image_id: "sha256:ddbe27c5ebdae02563f66d1171d37c92d9c1c3969c6197bcf3edfcbf978ad262"
                .into(),
            ..Default::default()
        };
        assert_eq!(display_image(&c, true), "busybox");
        c.image = c.image_id.clone();
        assert_eq!(display_image(&c, true), "ddbe27c5ebda");
        c.image = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(display_image(&c, true), "busybox");
        assert_eq!(display_image(&c, false), c.image);
        c.image = String::new();
        assert_eq!(display_image(&c, true), "<no image>");
    }

    #[test]
    fn table_rows() {
        let c = ContainerSummary {
            id: "729afe5e03a73f5e767b60552c9ffd13e24005bb63a479d309bd783a1c3d946e".into(),
            names: Some(vec!["/created".into()]),
            image: "busybox".into(),
            command: "echo a very long command line here to truncate".into(),
            created: 1000,
            status: "Created".into(),
            ..Default::default()
        };
        let rows = vec![ps_row(&c, true, 1000)];
        let out = listing::render(DEFAULT_FORMAT, HEADERS, &rows).unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   IMAGE     COMMAND                  CREATED                  STATUS    PORTS     NAMES\n\
             729afe5e03a7   busybox   \"echo a very long co…\"   Less than a second ago   Created             created\n"
        );
        let out = listing::render("{{.ID}}", HEADERS, &rows).unwrap();
        assert_eq!(out, "729afe5e03a7\n");
    }

    #[test]
    fn filters() {
        assert_eq!(
            filter_value("status=exited"),
            Ok(("status".to_string(), "exited".to_string()))
        );
        assert!(filter_value("nope").is_err());
        let f = vec![
            ("status".to_string(), "running".to_string()),
            ("name".to_string(), "xx".to_string()),
            ("status".to_string(), "exited".to_string()),
        ];
        assert_eq!(
            filters_json(&f),
            r#"{"name":{"xx":true},"status":{"exited":true,"running":true}}"#
        );
    }
}
