//! `stats`: docker's resource usage table. With `--no-stream` one table; otherwise
//! the table is redrawn every second. Each round asks the daemon for one
//! sample per container (`stream=0`), which berthd answers at once with
//! `precpu_stats` from its previous sample.

use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use super::{print_out, Ctx};
use crate::client::{path_segment, Client, Query};
use crate::format::json_value::Json;
use crate::format::listing::{self, row};
use crate::format::text::truncate_id;
use crate::format::units::{bytes_size, human_size_with_precision};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Format output using a custom template
    #[arg(long = "format", default_value = "")]
    pub format: String,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

const DEFAULT_FORMAT: &str = "table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}";

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// The numbers of one container, as docker's CLI derives them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Entry {
    pub container: String,
    pub id: String,
    pub name: String,
    pub cpu_percent: f64,
    pub memory: f64,
    pub memory_limit: f64,
    pub memory_percent: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub block_read: f64,
    pub block_write: f64,
    pub pids: u64,
}

fn num(v: &Value, path: &str) -> f64 {
    v.pointer(path).and_then(Value::as_f64).unwrap_or(0.0)
}

/// docker's `calculateCPUPercentUnix`, memory without the inactive file
/// cache, network and block I/O sums.
pub fn entry_from(container: &str, v: &Value) -> Entry {
    let cpu_delta =
        num(v, "/cpu_stats/cpu_usage/total_usage") - num(v, "/precpu_stats/cpu_usage/total_usage");
    let system_delta =
        num(v, "/cpu_stats/system_cpu_usage") - num(v, "/precpu_stats/system_cpu_usage");
    let mut online = num(v, "/cpu_stats/online_cpus");
    if online == 0.0 {
        online = v
            .pointer("/cpu_stats/cpu_usage/percpu_usage")
            .and_then(Value::as_array)
            .map_or(0, |a| a.len()) as f64;
    }
    let cpu_percent = if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    };
    let usage = num(v, "/memory_stats/usage");
    let inactive = [
        "/memory_stats/stats/total_inactive_file",
        "/memory_stats/stats/inactive_file",
    ]
    .iter()
    .find_map(|p| v.pointer(p).and_then(Value::as_f64))
    .unwrap_or(0.0);
    let memory = if inactive < usage {
        usage - inactive
    } else {
        usage
    };
    let memory_limit = num(v, "/memory_stats/limit");
    let memory_percent = if memory_limit != 0.0 {
        memory / memory_limit * 100.0
    } else {
        0.0
    };
    let (mut net_rx, mut net_tx) = (0.0, 0.0);
    if let Some(nets) = v.get("networks").and_then(Value::as_object) {
        for n in nets.values() {
            net_rx += num(n, "/rx_bytes");
            net_tx += num(n, "/tx_bytes");
        }
    }
    let (mut block_read, mut block_write) = (0.0, 0.0);
    if let Some(entries) = v
        .pointer("/blkio_stats/io_service_bytes_recursive")
        .and_then(Value::as_array)
    {
        for e in entries {
            let value = num(e, "/value");
            match e
                .get("op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
            {
                Some(op) if op == "read" => block_read += value,
                Some(op) if op == "write" => block_write += value,
                _ => {}
            }
        }
    }
    Entry {
        container: container.to_string(),
        id: v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        name: v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string(),
        cpu_percent,
        memory,
        memory_limit,
        memory_percent,
        net_rx,
        net_tx,
        block_read,
        block_write,
        pids: num(v, "/pids_stats/current") as u64,
    }
}

fn stats_row(e: &Entry, trunc: bool) -> Json {
    let id = if trunc {
        truncate_id(&e.id)
    } else {
        e.id.clone()
    };
    row(vec![
        ("Container", e.container.clone()),
        ("ID", id),
        ("Name", e.name.clone()),
        ("CPUPerc", format!("{:.2}%", e.cpu_percent)),
        (
            "MemUsage",
            format!("{} / {}", bytes_size(e.memory), bytes_size(e.memory_limit)),
        ),
        ("MemPerc", format!("{:.2}%", e.memory_percent)),
        (
            "NetIO",
            format!(
                "{} / {}",
                human_size_with_precision(e.net_rx, 3),
                human_size_with_precision(e.net_tx, 3)
            ),
        ),
        (
            "BlockIO",
            format!(
                "{} / {}",
                human_size_with_precision(e.block_read, 3),
                human_size_with_precision(e.block_write, 3)
            ),
        ),
        ("PIDs", e.pids.to_string()),
    ])
}

#[derive(Deserialize)]
struct Summary {
    #[serde(rename = "Id")]
    id: String,
}

/// Which containers to show: the named ones, or the running (or all) ones.
async fn targets(client: &Client, args: &StatsArgs) -> Result<Vec<String>> {
    if !args.names.is_empty() {
        return Ok(args.names.clone());
    }
    let list: Vec<Summary> = client
        .get_json("/containers/json", &Query::new().flag("all", args.all))
        .await?;
    Ok(list.into_iter().map(|s| truncate_id(&s.id)).collect())
}

async fn sample(client: &Client, names: &[String]) -> Vec<Result<Entry>> {
    let one = |name: String| async move {
        let v: Value = client
            .get_json(
                &format!("/containers/{}/stats", path_segment(&name)),
                &Query::new().set("stream", "0"),
            )
            .await?;
        Ok(entry_from(&name, &v))
    };
    futures_util::future::join_all(names.iter().cloned().map(one)).await
}

pub async fn stats(ctx: &Ctx, args: StatsArgs) -> Result<()> {
    let client = &ctx.client;
    let format = if args.format.is_empty() {
        DEFAULT_FORMAT.to_string()
    } else {
        args.format.clone()
    };
    loop {
        let names = targets(client, &args).await?;
        let mut rows = Vec::new();
        for r in sample(client, &names).await {
            match r {
                Ok(e) => rows.push(stats_row(&e, !args.no_trunc)),
                // A named container that does not exist is an error, as in docker.
                Err(e) if !args.names.is_empty() => return Err(e),
                Err(_) => {}
            }
        }
        let table = listing::render(&format, HEADERS, &rows).map_err(|e| anyhow!(e))?;
        if args.no_stream {
            print_out(&table);
            return Ok(());
        }
        // Clear the screen and redraw, like docker.
        print_out(&format!("\x1b[2J\x1b[H{table}"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_the_docker_cli() {
        let v: Value = serde_json::from_str(
            r#"{"id":"a38e1566be59bce9a53c","name":"/xx",
            "cpu_stats":{"cpu_usage":{"total_usage":300},"system_cpu_usage":2000,"online_cpus":2},
            "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":1000},
            "memory_stats":{"usage":3000000,"limit":10000000,"stats":{"total_inactive_file":1000000}},
            "blkio_stats":{"io_service_bytes_recursive":[{"op":"Read","value":4096},{"op":"Write","value":8192},{"op":"Total","value":12288}]},
            "networks":{"eth0":{"rx_bytes":586,"tx_bytes":10}},
            "pids_stats":{"current":3}}"#,
        )
        .unwrap();
        let e = entry_from("xx", &v);
        assert_eq!(e.cpu_percent, 40.0);
        assert_eq!(e.memory, 2_000_000.0);
        assert_eq!(e.memory_percent, 20.0);
        assert_eq!((e.block_read, e.block_write), (4096.0, 8192.0));
        let table = listing::render(DEFAULT_FORMAT, HEADERS, &[stats_row(&e, true)]).unwrap();
        assert_eq!(
            table,
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT     MEM %     NET I/O      BLOCK I/O        PIDS\n\
             a38e1566be59   xx        40.00%    1.907MiB / 9.537MiB   20.00%    586B / 10B   4.1kB / 8.19kB   3\n"
        );
    }

    #[test]
    fn empty_stats_are_zeros() {
        let e = entry_from("x", &serde_json::json!({"id": "abc", "name": "/x"}));
        assert_eq!(e.cpu_percent, 0.0);
        assert_eq!(e.memory_percent, 0.0);
    }
}
