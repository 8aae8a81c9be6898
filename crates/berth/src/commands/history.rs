//! `history`: an image's layers.

use anyhow::{anyhow, Result};
use clap::{ArgAction, Args};
use serde::Deserialize;

use super::{now_unix, print_out, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, Query};
use crate::format::json_value::Json;
use crate::format::listing::{self, row};
use crate::format::text::{ellipsis, truncate_id};
use crate::format::units::{human_size_with_precision, since_unix};

/// `history` flags.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Format output using a custom template
    #[arg(long = "format", default_value = "")]
    pub format: String,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long = "human", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = parsers::go_bool)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "IMAGE")]
    pub names: Vec<String>,
}

/// One layer of `GET /images/{name}/history`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HistoryItem {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "Comment")]
    pub comment: String,
}

const HISTORY_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

/// Images created before 2000 have no meaningful date.
const EPOCH_2000: i64 = 946_684_800;

/// The row fields docker's history formatter offers.
pub fn history_row(h: &HistoryItem, trunc: bool, human: bool, now: i64) -> Json {
    let created_at = chrono::DateTime::from_timestamp(h.created, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_default();
    let created_since = if !human {
        created_at.clone()
    } else if h.created <= EPOCH_2000 {
        String::new()
    } else {
        since_unix(h.created, now)
    };
    let created_by = h.created_by.replace('\t', " ");
    row(vec![
        (
            "ID",
            if trunc {
                truncate_id(&h.id)
            } else {
                h.id.clone()
            },
        ),
        ("CreatedSince", created_since),
        ("CreatedAt", created_at),
        (
            "CreatedBy",
            if trunc {
                ellipsis(&created_by, 45)
            } else {
                created_by
            },
        ),
        (
            "Size",
            if human {
                human_size_with_precision(h.size as f64, 3)
            } else {
                h.size.to_string()
            },
        ),
        ("Comment", h.comment.clone()),
    ])
}

/// `history`.
pub async fn history(ctx: &Ctx, args: HistoryArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.names.len())?;
    let items: Vec<HistoryItem> = ctx
        .client
        .get_json(
            &format!("/images/{}/history", path_segment(&args.names[0])),
            &Query::new(),
        )
        .await?;
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else if !args.format.is_empty() {
        args.format.clone()
    } else if args.human {
        "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}".to_string()
    } else {
        "table {{.ID}}\\t{{.CreatedAt}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}".to_string()
    };
    let now = now_unix();
    let rows: Vec<Json> = items
        .iter()
        .map(|h| history_row(h, !args.no_trunc, args.human, now))
        .collect();
    print_out(&listing::render(&format, HISTORY_HEADERS, &rows).map_err(|e| anyhow!(e))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_rows() {
        let h = HistoryItem {
            id: "<missing>".into(),
            created: 1_700_000_000,
            created_by: "mkbusybox.py:\tbusybox-static rootfs".into(),
            size: 1_982_957,
            ..Default::default()
        };
        let now = 1_700_000_000 + 3 * 365 * 24 * 3600;
        let r = history_row(&h, true, true, now);
        assert_eq!(r.get("ID"), Some(&Json::String("<missing>".into())));
        assert_eq!(
            r.get("CreatedBy"),
            Some(&Json::String("mkbusybox.py: busybox-static rootfs".into()))
        );
        assert_eq!(r.get("Size"), Some(&Json::String("1.98MB".into())));
        assert_eq!(
            r.get("CreatedSince"),
            Some(&Json::String("3 years ago".into()))
        );
        let r = history_row(&h, true, false, now);
        assert_eq!(r.get("Size"), Some(&Json::String("1982957".into())));
        let old = HistoryItem {
            created: 100,
            ..Default::default()
        };
        assert_eq!(
            history_row(&old, true, true, now).get("CreatedSince"),
            Some(&Json::String(String::new()))
        );
    }
}
