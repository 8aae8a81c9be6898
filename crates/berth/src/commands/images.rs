//! `images` (`image ls`): the image table, and the rows `system df -v`
//! shares.

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;

use super::ps::{filter_value, filters_json};
use super::{now_unix, print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::format::json_value::Json;
use crate::format::listing::{self, row};
use crate::format::text::truncate_id;
use crate::format::units::{human_size, human_size_with_precision, since_unix};
use crate::reference::Reference;

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
}
