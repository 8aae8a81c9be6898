//! `events`: the daemon's event stream, in docker's line format or a
//! `--format` template, with `--since`/`--until` like docker's.

use anyhow::{anyhow, Result};
use clap::Args;
use tokio::io::AsyncBufReadExt;

use super::print_out;
use super::ps::{filter_value, filters_json};
use super::Ctx;
use crate::client::{body_reader, Query};
use crate::format::json_value::Json;
use crate::format::template::Template;
use crate::format::timestamp::get_timestamp;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Format output using a custom template
    #[arg(long = "format", default_value = "")]
    pub format: String,
    /// Show all events created since timestamp
    #[arg(long = "since", default_value = "")]
    pub since: String,
    /// Stream events until this timestamp
    #[arg(long = "until", default_value = "")]
    pub until: String,
}

/// docker's default line: `<time> <type> <action> <id> (k=v, ...)`, the
/// time in local time with nanoseconds, attributes sorted by key.
pub fn default_line(event: &serde_json::Value) -> String {
    let nanos = event.get("timeNano").and_then(|v| v.as_i64()).unwrap_or(0);
    let time = chrono::DateTime::from_timestamp(
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000) as u32,
    )
    .map(|t| {
        t.with_timezone(&chrono::Local)
            .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
            .to_string()
            .replace("+00:00", "Z")
    })
    .unwrap_or_default();
    let s = |k: &str| event.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let actor = event.get("Actor");
    let id = actor
        .and_then(|a| a.get("ID"))
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let mut line = format!("{time} {} {} {id}", s("Type"), s("Action"));
    if let Some(attrs) = actor
        .and_then(|a| a.get("Attributes"))
        .and_then(|v| v.as_object())
        .filter(|a| !a.is_empty())
    {
        let mut pairs: Vec<String> = attrs
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        pairs.sort();
        line.push_str(&format!(" ({})", pairs.join(", ")));
    }
    line.push('\n');
    line
}

pub async fn events(ctx: &Ctx, args: EventsArgs) -> Result<()> {
    let now = chrono::Local::now();
    let mut query = Query::new();
    for (key, value) in [("since", &args.since), ("until", &args.until)] {
        if !value.is_empty() {
            let ts = get_timestamp(value, now)
                .map_err(|e| anyhow!("invalid value for \"{key}\": {e}"))?;
            query = query.set(key, ts);
        }
    }
    if !args.filter.is_empty() {
        query = query.set("filters", filters_json(&args.filter));
    }
    let template = match args.format.as_str() {
        "" | "json" => None,
        f => Some((
            f.to_string(),
            Template::parse(f).map_err(|e| anyhow!("template parsing error: {e}"))?,
        )),
    };
    let resp = ctx.client.get_stream("/events", &query).await?;
    let mut lines = tokio::io::BufReader::new(body_reader(resp)).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let out = match (&template, args.format.as_str()) {
            (_, "json") => format!("{line}\n"),
            (Some((src, t)), _) => {
                let value = Json::parse(&line).map_err(|e| anyhow!(e))?;
                format!("{}\n", t.execute(src, &value).map_err(|e| anyhow!(e))?)
            }
            (None, _) => default_line(&serde_json::from_str(&line)?),
        };
        print_out(&out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_like_docker() {
        std::env::set_var("TZ", "UTC");
        let e = serde_json::json!({
            "Type": "container", "Action": "die",
            "Actor": {"ID": "abc", "Attributes": {"name": "x", "exitCode": "3", "image": "busybox"}},
            "timeNano": 1_796_164_191_783_975_858i64
        });
        assert_eq!(
            default_line(&e),
            "2026-12-01T22:29:51.783975858Z container die abc (exitCode=3, image=busybox, name=x)\n"
        );
    }
}
