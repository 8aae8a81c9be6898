//! Image listing and naming: `images`, `tag`, `rmi`, `history`.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use clap::{ArgAction, Args};
use serde::Deserialize;

use super::ps::{filter_value, filters_json};
use super::{now_unix, print_err, print_out, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, read_body, Query};
use crate::error;
use crate::format::json_value::Json;
use crate::format::listing::{self, row};
use crate::format::text::{ellipsis, truncate_id};
use crate::format::units::{human_size, human_size_with_precision, since_unix};
use crate::reference::{self, Reference};

/// `images` flags.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Show digests
    #[arg(long = "digests")]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_parser = filter_value)]
    pub filter: Vec<(String, String)>,
    /// Format output using a custom template
    #[arg(long = "format", default_value = "")]
    pub format: String,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub args: Vec<String>,
}

/// One entry of `GET /images/json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImageSummary {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Option<Vec<String>>,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "SharedSize")]
    pub shared_size: i64,
    #[serde(rename = "Containers")]
    pub containers: i64,
}

pub const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "SIZE"),
];

/// `images`.
pub async fn images(ctx: &Ctx, args: ImagesArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Max(1), args.args.len())?;
    let mut filters = args.filter.clone();
    if let Some(r) = args.args.first() {
        filters.push(("reference".to_string(), r.clone()));
    }
    let mut query = Query::new().flag("all", args.all);
    if !filters.is_empty() {
        query = query.set("filters", filters_json(&filters));
    }
    let list: Vec<ImageSummary> = ctx.client.get_json("/images/json", &query).await?;
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else if !args.format.is_empty() {
        args.format.clone()
    } else if args.digests {
        "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}"
            .to_string()
    } else {
        "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}".to_string()
    };
    let now = now_unix();
    let rows: Vec<Json> = list
        .iter()
        .flat_map(|img| image_rows(img, !args.no_trunc, args.digests, now))
        .collect();
    print_out(&listing::render(&format, IMAGE_HEADERS, &rows).map_err(|e| anyhow!(e))?);
    Ok(())
}

fn is_dangling(img: &ImageSummary) -> bool {
    let tags = img.repo_tags.as_deref().unwrap_or(&[]);
    let digests = img.repo_digests.as_deref().unwrap_or(&[]);
    (tags.is_empty() && digests.is_empty())
        || (tags == ["<none>:<none>"] && digests == ["<none>@<none>"])
}

/// (repository, tag, digest) rows for one image, like docker's `imageFormat`.
pub fn repo_tag_rows(img: &ImageSummary, show_digests: bool) -> Vec<(String, String, String)> {
    let none = || "<none>".to_string();
    if is_dangling(img) {
        return vec![(none(), none(), none())];
    }
    let mut repo_tags: Vec<(String, Vec<String>)> = Vec::new();
    for t in img.repo_tags.as_deref().unwrap_or(&[]) {
        let Ok(r) = Reference::parse(t) else {
            continue;
        };
        let Some(tag) = r.tag().map(str::to_string) else {
            continue;
        };
        let repo = r.familiar_name();
        match repo_tags.iter_mut().find(|(n, _)| *n == repo) {
            Some((_, tags)) => tags.push(tag),
            None => repo_tags.push((repo, vec![tag])),
        }
    }
    let mut repo_digests: Vec<(String, Vec<String>)> = Vec::new();
    for d in img.repo_digests.as_deref().unwrap_or(&[]) {
        let Ok(r) = Reference::parse(d) else {
            continue;
        };
        let Some(digest) = r.digest().map(str::to_string) else {
            continue;
        };
        let repo = r.familiar_name();
        match repo_digests.iter_mut().find(|(n, _)| *n == repo) {
            Some((_, ds)) => ds.push(digest),
            None => repo_digests.push((repo, vec![digest])),
        }
    }
    let mut rows = Vec::new();
    for (repo, tags) in &repo_tags {
        let digests = match repo_digests.iter().position(|(n, _)| n == repo) {
            Some(i) => repo_digests.remove(i).1,
            None => Vec::new(),
        };
        for tag in tags {
            if !show_digests || digests.is_empty() {
                rows.push((repo.clone(), tag.clone(), none()));
            } else {
                for d in &digests {
                    rows.push((repo.clone(), tag.clone(), d.clone()));
                }
            }
        }
    }
    for (repo, digests) in repo_digests {
        if show_digests {
            for d in digests {
                rows.push((repo.clone(), none(), d));
            }
        } else {
            rows.push((repo, none(), String::new()));
        }
    }
    rows
}

pub fn image_rows(img: &ImageSummary, trunc: bool, digests: bool, now: i64) -> Vec<Json> {
    let id = if trunc {
        truncate_id(&img.id)
    } else {
        img.id.clone()
    };
    let created_since = if img.created == 0 {
        "N/A".to_string()
    } else {
        since_unix(img.created, now)
    };
    let created_at = crate::format::text::go_time_string(img.created);
    let size = human_size_with_precision(img.size as f64, 3);
    // docker prints these two with HumanSize's four digits, the size with three.
    let shared = if img.shared_size == -1 {
        "N/A".to_string()
    } else {
        human_size(img.shared_size as f64)
    };
    let unique = if img.shared_size == -1 {
        "N/A".to_string()
    } else {
        human_size((img.size - img.shared_size).max(0) as f64)
    };
    let containers = if img.containers == -1 {
        "N/A".to_string()
    } else {
        img.containers.to_string()
    };
    repo_tag_rows(img, digests)
        .into_iter()
        .map(|(repo, tag, digest)| {
            row(vec![
                ("ID", id.clone()),
                ("Repository", repo),
                ("Tag", tag),
                ("Digest", digest),
                ("CreatedSince", created_since.clone()),
                ("CreatedAt", created_at.clone()),
                ("Size", size.clone()),
                ("Containers", containers.clone()),
                ("SharedSize", shared.clone()),
                ("UniqueSize", unique.clone()),
                ("VirtualSize", human_size(img.size as f64)),
            ])
        })
        .collect()
}

/// `tag SOURCE TARGET`.
#[derive(Debug, Args)]
pub struct TagArgs {
    #[arg(value_name = "IMAGE")]
    pub names: Vec<String>,
}

/// `tag`: `POST /images/{source}/tag?repo=<normalized name>&tag=<tag>`.
pub async fn tag(ctx: &Ctx, args: TagArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(2), args.names.len())?;
    let (source, target) = (&args.names[0], &args.names[1]);
    let query = tag_query(source, target).map_err(|e| anyhow!(e))?;
    ctx.client
        .post(&format!("/images/{}/tag", path_segment(source)), &query)
        .await?;
    Ok(())
}

/// Validates both references like docker's client and builds the tag query.
pub fn tag_query(source: &str, target: &str) -> Result<Query, String> {
    let is_id = source.strip_prefix("sha256:").unwrap_or(source).len() == 64
        && reference::is_hex_id(source);
    if !is_id {
        Reference::parse(source).map_err(|e| {
            format!("Error parsing reference: \"{source}\" is not a valid repository/tag: {e}")
        })?;
    }
    let r = Reference::parse(target).map_err(|e| {
        format!("Error parsing reference: \"{target}\" is not a valid repository/tag: {e}")
    })?;
    if r.digest().is_some() {
        return Err("refusing to create a tag with a digest reference".to_string());
    }
    let r = r.with_default_tag();
    Ok(Query::new()
        .set("repo", r.name())
        .set("tag", r.tag().unwrap_or_default().to_string()))
}

/// `rmi` flags.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    #[arg(value_name = "IMAGE")]
    pub names: Vec<String>,
}

/// `rmi`: prints `Untagged:`/`Deleted:` lines; with `-f`, missing images are
/// reported without failing.
pub async fn rmi(ctx: &Ctx, args: RmiArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = Query::new()
        .flag("force", args.force)
        .flag("noprune", args.no_prune);
    let mut errors = Vec::new();
    let mut fatal = false;
    for name in &args.names {
        let result = async {
            let resp = ctx
                .client
                .delete(&format!("/images/{}", path_segment(name)), &query)
                .await?;
            let items: Vec<BTreeMap<String, String>> =
                serde_json::from_slice(&read_body(resp).await?)?;
            Ok::<_, anyhow::Error>(items)
        }
        .await;
        match result {
            Ok(items) => {
                let mut out = String::new();
                for item in items {
                    match item.get("Deleted").filter(|d| !d.is_empty()) {
                        Some(d) => out.push_str(&format!("Deleted: {d}\n")),
                        None => out.push_str(&format!(
                            "Untagged: {}\n",
                            item.get("Untagged").cloned().unwrap_or_default()
                        )),
                    }
                }
                print_out(&out);
            }
            Err(e) => {
                fatal |= !error::is_not_found(&e);
                errors.push(error::message(&e));
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    if !args.force || fatal {
        return error::join(errors);
    }
    print_err(&format!("{}\n", errors.join("\n")));
    Ok(())
}

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

    fn img(tags: &[&str], digests: &[&str]) -> ImageSummary {
        ImageSummary {
            id: "sha256:ddbe27c5ebdae02563f66d1171d37c92d9c1c3969c6197bcf3edfcbf978ad262".into(),
            repo_tags: Some(tags.iter().map(|s| s.to_string()).collect()),
            repo_digests: Some(digests.iter().map(|s| s.to_string()).collect()),
            created: 1_700_000_000,
            size: 1_982_957,
            shared_size: -1,
            containers: -1,
        }
    }

    #[test]
    fn image_table_matches_docker() {
        let now = 1_700_000_000 + 3 * 365 * 24 * 3600;
        let rows = image_rows(&img(&["busybox:latest"], &[]), true, false, now);
        let out = listing::render(
            "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}",
            IMAGE_HEADERS,
            &rows,
        )
        .unwrap();
        assert_eq!(
            out,
            "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n\
             busybox      latest    ddbe27c5ebda   3 years ago   1.98MB\n"
        );
    }

    #[test]
    fn repo_tags_and_digests() {
        let none = "<none>".to_string();
        assert_eq!(
            repo_tag_rows(&img(&[], &[]), false),
            vec![(none.clone(), none.clone(), none.clone())]
        );
        let d = format!("sha256:{}", "b".repeat(64));
        let i = img(&["a:1", "a:2", "localhost:5000/b:x"], &[&format!("c@{d}")]);
        assert_eq!(
            repo_tag_rows(&i, false),
            vec![
                ("a".into(), "1".into(), none.clone()),
                ("a".into(), "2".into(), none.clone()),
                ("localhost:5000/b".into(), "x".into(), none.clone()),
                ("c".into(), none.clone(), String::new()),
            ]
        );
        assert_eq!(repo_tag_rows(&i, true)[3], ("c".into(), none.clone(), d));
    }

    #[test]
    fn tag_queries() {
        let q = tag_query("busybox", "mybox:v1").unwrap();
        assert_eq!(q.encode(), "?repo=docker.io%2Flibrary%2Fmybox&tag=v1");
        let q = tag_query("busybox", "127.0.0.1:5000/busybox").unwrap();
        assert_eq!(q.encode(), "?repo=127.0.0.1%3A5000%2Fbusybox&tag=latest");
        assert_eq!(
            tag_query("busybox", "Bad").unwrap_err(),
            "Error parsing reference: \"Bad\" is not a valid repository/tag: invalid reference format: repository name (library/Bad) must be lowercase"
        );
    }

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
