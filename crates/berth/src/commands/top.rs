//! `top`: `GET /containers/{id}/top` as a table.

use anyhow::Result;
use clap::Args;
use serde::Deserialize;

use super::{print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, Query};
use crate::format::tabwriter::{table_with, TabWriter};

/// `top CONTAINER [ps OPTIONS]`.
#[derive(Debug, Args)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER", trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// The `top` answer.
#[derive(Debug, Default, Deserialize)]
pub struct TopResponse {
    #[serde(rename = "Titles", default)]
    pub titles: Vec<String>,
    #[serde(rename = "Processes", default)]
    pub processes: Option<Vec<Vec<String>>>,
}

/// docker's `tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)` layout.
pub fn render(top: &TopResponse) -> String {
    let mut rows = vec![top.titles.clone()];
    rows.extend(top.processes.clone().unwrap_or_default());
    table_with(
        TabWriter {
            minwidth: 20,
            padding: 3,
        },
        &rows,
    )
}

/// `top`.
pub async fn top(ctx: &Ctx, args: TopArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.args.len())?;
    let query = if args.args.len() > 1 {
        Query::new().set("ps_args", args.args[1..].join(" "))
    } else {
        Query::new()
    };
    let resp: TopResponse = ctx
        .client
        .get_json(
            &format!("/containers/{}/top", path_segment(&args.args[0])),
            &query,
        )
        .await?;
    print_out(&render(&resp));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_docker() {
        let top = TopResponse {
            titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
                .map(String::from)
                .to_vec(),
            processes: Some(vec![[
                "root",
                "9193",
                "9172",
                "4",
                "21:26",
                "?",
                "00:00:00",
                "sleep 300",
            ]
            .map(String::from)
            .to_vec()]),
        };
        assert_eq!(
            render(&top),
            "UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD\n\
             root                9193                9172                4                   21:26               ?                   00:00:00            sleep 300\n"
        );
    }
}
