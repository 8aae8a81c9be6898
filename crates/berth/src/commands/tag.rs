//! `tag`: a new name for an image.

use anyhow::{anyhow, Result};
use clap::Args;

use super::Ctx;
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, Query};
use crate::reference::{self, Reference};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
