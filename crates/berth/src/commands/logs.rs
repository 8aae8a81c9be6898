//! `logs`: inspect for the TTY flag and full ID, then stream
//! `GET /containers/{id}/logs`, demultiplexed unless the container has a TTY.

use anyhow::{anyhow, Result};
use berth_api::framing;
use clap::Args;

use super::attach::ContainerBrief;
use super::Ctx;
use crate::cli::usage::{check_args, Arity};
use crate::client::{body_reader, path_segment, Query};
use crate::format::timestamp::get_timestamp;

/// `logs` flags.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Show extra details provided to logs
    #[arg(long = "details")]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long = "since", default_value = "")]
    pub since: String,
    /// Number of lines to show from the end of the logs
    #[arg(
        short = 'n',
        long = "tail",
        default_value = "all",
        allow_hyphen_values = true
    )]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long = "timestamps")]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long = "until", default_value = "")]
    pub until: String,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// The logs query, with `--since`/`--until` converted to unix timestamps.
pub fn logs_query(args: &LogsArgs, now: chrono::DateTime<chrono::Local>) -> Result<Query> {
    let mut q = Query::new().flag("stdout", true).flag("stderr", true);
    if !args.since.is_empty() {
        let ts = get_timestamp(&args.since, now)
            .map_err(|e| anyhow!("invalid value for \"since\": {e}"))?;
        q = q.set("since", ts);
    }
    if !args.until.is_empty() {
        let ts = get_timestamp(&args.until, now)
            .map_err(|e| anyhow!("invalid value for \"until\": {e}"))?;
        q = q.set("until", ts);
    }
    Ok(q.flag("timestamps", args.timestamps)
        .flag("follow", args.follow)
        .set("tail", args.tail.clone())
        .flag("details", args.details))
}

/// `logs`.
pub async fn logs(ctx: &Ctx, args: LogsArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.names.len())?;
    let c: ContainerBrief = ctx
        .client
        .get_json(
            &format!("/containers/{}/json", path_segment(&args.names[0])),
            &Query::new(),
        )
        .await?;
    let query = logs_query(&args, chrono::Local::now())?;
    let resp = ctx
        .client
        .get_stream(&format!("/containers/{}/logs", path_segment(&c.id)), &query)
        .await?;
    let reader = body_reader(resp);
    let mut stdout = std::io::stdout();
    if c.config.tty {
        framing::raw_copy(reader, &mut stdout).await?;
    } else {
        let mut stderr = std::io::stderr();
        framing::demux_copy(reader, &mut stdout, &mut stderr).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn args(since: &str, tail: &str, follow: bool) -> LogsArgs {
        LogsArgs {
            details: false,
            follow,
            since: since.into(),
            tail: tail.into(),
            timestamps: true,
            until: String::new(),
            names: vec!["x".into()],
        }
    }

    #[test]
    fn query_matches_docker() {
        let now = chrono::Local.timestamp_opt(1_700_000_000, 0).unwrap();
        let q = logs_query(&args("", "all", false), now).unwrap();
        assert_eq!(q.encode(), "?stderr=1&stdout=1&tail=all&timestamps=1");
        let q = logs_query(&args("10m", "2", true), now).unwrap();
        assert_eq!(
            q.encode(),
            "?follow=1&since=1699999400&stderr=1&stdout=1&tail=2&timestamps=1"
        );
        let e = logs_query(&args("yesterday", "all", false), now).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for \"since\": failed to parse value as time or duration: \"yesterday\""
        );
    }
}
