//! `network ls`: `GET /networks` as docker's table, sorted by name the way
//! docker sorts (numbers in names compare as numbers).

use std::cmp::Ordering;

use anyhow::{anyhow, Result};
use berth_api::models::Network;
use clap::Args;

use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::commands::ps::{filter_value, filters_json};
use crate::commands::{print_out, Ctx};
use crate::format::json_value::Json;
use crate::format::listing::{self, row};
use crate::format::text::truncate_id;

/// `network ls` flags.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Format output using a custom template
    #[arg(long = "format", default_value = "")]
    pub format: String,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display network IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

pub const NETWORK_HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv4", "IPV4"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

const TABLE: &str = "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}";

/// The template for `--format` and `-q`: `-q` only replaces the default
/// table; an explicit template wins over it, as in docker.
pub fn template(format: &str, quiet: bool) -> String {
    match (format, quiet) {
        ("" | "table", true) => "{{.ID}}".to_string(),
        ("" | "table", false) => TABLE.to_string(),
        ("raw", true) => "network_id: {{.ID}}".to_string(),
        ("raw", false) => {
            "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n"
                .to_string()
        }
        (f, _) => f.to_string(),
    }
}

/// Go's `time.Time.String()` of an RFC 3339 timestamp; the zero time when
/// there is none.
pub fn go_time(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return "0001-01-01 00:00:00 +0000 UTC".to_string();
    };
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    let offset = t.format("%z").to_string();
    if t.offset().local_minus_utc() == 0 {
        format!("{out} {offset} UTC")
    } else {
        format!("{out} {offset} {offset}")
    }
}

/// The fields docker's network formatter offers.
pub fn network_row(n: &Network, trunc: bool) -> Json {
    let id = n.id.clone().unwrap_or_default();
    let mut labels: Vec<String> = n
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    labels.sort();
    row(vec![
        ("ID", if trunc { truncate_id(&id) } else { id }),
        ("Name", n.name.clone().unwrap_or_default()),
        ("Driver", n.driver.clone().unwrap_or_default()),
        ("Scope", n.scope.clone().unwrap_or_default()),
        ("IPv4", n.enable_ipv4.unwrap_or(false).to_string()),
        ("IPv6", n.enable_ipv6.unwrap_or(false).to_string()),
        ("Internal", n.internal.unwrap_or(false).to_string()),
        ("Labels", labels.join(",")),
        ("CreatedAt", go_time(n.created.as_deref().unwrap_or(""))),
    ])
}

/// Natural order: runs of digits compare by value, everything else by
/// bytes, digits before other characters; with equal values fewer leading
/// zeros first, and a prefix before the longer name.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !da {
            match a[i].cmp(&b[j]) {
                Ordering::Equal => {
                    i += 1;
                    j += 1;
                    continue;
                }
                other => return other,
            }
        }
        let run = |s: &[u8], mut k: usize| {
            let start = k;
            while k < s.len() && s[k] == b'0' {
                k += 1;
            }
            let digits = k;
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            (digits - start, digits, k)
        };
        let (za, sa, ea) = run(a, i);
        let (zb, sb, eb) = run(b, j);
        let order = (ea - sa)
            .cmp(&(eb - sb))
            .then_with(|| a[sa..ea].cmp(&b[sb..eb]))
            .then_with(|| za.cmp(&zb));
        if order != Ordering::Equal {
            return order;
        }
        i = ea;
        j = eb;
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// The rendered listing.
pub fn render(mut list: Vec<Network>, format: &str, quiet: bool, trunc: bool) -> Result<String> {
    list.sort_by(|x, y| {
        natural_cmp(
            x.name.as_deref().unwrap_or(""),
            y.name.as_deref().unwrap_or(""),
        )
    });
    let rows: Vec<Json> = list.iter().map(|n| network_row(n, trunc)).collect();
    listing::render(&template(format, quiet), NETWORK_HEADERS, &rows).map_err(|e| anyhow!(e))
}

/// `network ls`.
pub async fn ls(ctx: &Ctx, args: LsArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    let mut query = Query::new();
    if !args.filter.is_empty() {
        query = query.set("filters", filters_json(&args.filter));
    }
    let list: Vec<Network> = ctx.client.get_json("/networks", &query).await?;
    print_out(&render(list, &args.format, args.quiet, !args.no_trunc)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Network> {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/network-samples/networks-list.response.json"
        )))
        .unwrap()
    }

    #[test]
    fn default_table_matches_docker() {
        assert_eq!(
            render(sample(), "", false, true).unwrap(),
            "NETWORK ID     NAME      DRIVER    SCOPE\n\
             be687c36a11e   bridge    bridge    local\n\
             9546f02e7e40   host      host      local\n\
             be7f1140c998   mynet     bridge    local\n\
             1622b0861165   mynet2    bridge    local\n\
             86d491a51dc1   none      null      local\n"
        );
    }

    #[test]
    fn quiet_no_trunc_and_templates() {
        let out = render(sample(), "", true, false).unwrap();
        assert_eq!(out.lines().count(), 5);
        assert_eq!(
            out.lines().next(),
            Some("be687c36a11ecf70288a3d0b5b81e82dd82024be8075d9b159b8fb0ed364b8ef")
        );
        // an explicit template wins over -q
        let out = render(sample(), "{{.Name}} {{.Labels}} {{.IPv6}}", true, true).unwrap();
        assert!(out.contains("mynet2 apitrace=1 false\n"), "{out}");
        let out = render(sample(), "table {{.Name}}\\t{{.CreatedAt}}", false, true).unwrap();
        assert!(
            out.contains("mynet     2026-11-22 14:13:27.111269775 +0000 UTC\n"),
            "{out}"
        );
        assert!(out.starts_with("NAME      CREATED AT\n"), "{out}");
        let out = render(sample(), "raw", false, true).unwrap();
        assert!(out.starts_with(
            "network_id: be687c36a11e\nname: bridge\ndriver: bridge\nscope: local\n\n"
        ));
        let json = render(sample(), "json", false, true).unwrap();
        assert!(json.starts_with("{\"CreatedAt\":\"2026-11-22 14:05:43.868087912 +0000 UTC\",\"Driver\":\"bridge\",\"ID\":\"be687c36a11e\""), "{json}");
    }

    #[test]
    fn go_time_strings() {
        assert_eq!(
            go_time("2026-11-22T14:05:43Z"),
            "2026-11-22 14:05:43 +0000 UTC"
        );
        assert_eq!(
            go_time("2026-11-22T14:05:43.5+01:00"),
            "2026-11-22 14:05:43.5 +0100 +0100"
        );
        assert_eq!(go_time(""), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn natural_order() {
        let mut names = vec!["net10", "net2", "net02", "Net", "net", "n1a", "n1", "a"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec!["Net", "a", "n1", "n1a", "net", "net2", "net02", "net10"]
        );
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
        assert_eq!(natural_cmp("1", "a"), Ordering::Less);
    }
}
