//! `commit`: a new image from a container's changes.

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;

use super::{print_out, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{read_body, Query};

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long = "author", default_value = "")]
    pub author: String,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long = "message", default_value = "")]
    pub message: String,
    /// Pause container during commit
    #[arg(short = 'p', long = "pause", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = parsers::go_bool)]
    pub pause: bool,
    /// CONTAINER [REPOSITORY[:TAG]]
    #[arg(value_name = "CONTAINER")]
    pub args: Vec<String>,
}

#[derive(Deserialize)]
struct Committed {
    #[serde(rename = "Id")]
    id: String,
}

/// `repo[:tag]` split the way docker's reference parser does (a `:` after
/// the last `/` starts the tag), with `docker.io/` normalisation.
fn split_reference(r: &str) -> Result<(String, String)> {
    let parsed = berth_reference::Reference::parse(r).map_err(|e| anyhow!(e))?;
    if parsed.digest().is_some() {
        return Err(anyhow!("refusing to create a tag with a digest reference"));
    }
    Ok((parsed.name(), parsed.tag().unwrap_or("").to_string()))
}

pub async fn commit(ctx: &Ctx, args: CommitArgs) -> Result<()> {
    if args.args.is_empty() || args.args.len() > 2 {
        check_args(&ctx.path, Arity::Min(1), 0)?;
        return Err(anyhow!("\"{}\" requires at most 2 arguments.", ctx.path));
    }
    let (repo, tag) = match args.args.get(1) {
        Some(r) => split_reference(r)?,
        None => (String::new(), String::new()),
    };
    let mut q = Query::new()
        .set("container", args.args[0].clone())
        .set("repo", repo)
        .set("tag", tag)
        .set("comment", args.message.clone())
        .set("author", args.author.clone())
        .set("pause", if args.pause { "1" } else { "0" });
    for c in &args.change {
        q = q.set("changes", c.clone());
    }
    let resp = ctx.client.post("/commit", &q).await?;
    let c: Committed = serde_json::from_slice(&read_body(resp).await?)?;
    print_out(&format!("{}\n", c.id));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            split_reference("me/img:v1").unwrap(),
            ("docker.io/me/img".into(), "v1".into())
        );
        assert_eq!(
            split_reference("localhost:5000/img").unwrap(),
            ("localhost:5000/img".into(), String::new())
        );
        assert!(split_reference("Bad:Ref").is_err());
    }
}
