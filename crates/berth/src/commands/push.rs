//! `push`: an image to a registry, through the daemon.

use anyhow::{anyhow, Result};
use clap::{ArgAction, Args};

use super::distribution::{check_content_trust, post_with_login, show_progress, Progress};
use super::pull::resolve;
use super::{print_out, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::reference::Reference;

/// `push` flags.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Push a platform-specific manifest (not supported: berth pushes the image as stored)
    #[arg(long = "platform", default_value = "")]
    pub platform: String,
    /// Skip image signing (default true)
    #[arg(long = "disable-content-trust", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parsers::go_bool)]
    pub disable_content_trust: Option<bool>,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG]")]
    pub args: Vec<String>,
}

/// The reference to push with docker's default tag added (and whether it
/// was), or docker's refusal.
pub fn push_reference(name: &str, all_tags: bool) -> Result<(Reference, bool), String> {
    let (r, defaulted) = resolve(name, all_tags)?;
    if r.digest().is_some() {
        return Err("cannot push a digest reference".into());
    }
    Ok((r, defaulted))
}

/// `POST /images/<name>/push?tag=<tag>`: the name unescaped, as docker
/// sends it; no `tag` pushes every tag.
pub fn push_path(r: &Reference) -> String {
    format!("/images/{}/push", r.name())
}

/// `push`: the progress on stdout; with `-q` only the reference pushed.
pub async fn push(ctx: &Ctx, args: PushArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.args.len())?;
    check_content_trust(args.disable_content_trust)?;
    if !args.platform.is_empty() {
        return Err(anyhow!(
            "--platform is not supported: berth pushes an image whole, as it is stored"
        ));
    }
    let (r, defaulted) = push_reference(&args.args[0], args.all_tags).map_err(|e| anyhow!(e))?;
    if defaulted && !args.quiet {
        print_out(&format!(
            "Using default tag: {}\n",
            berth_reference::DEFAULT_TAG
        ));
    }
    let mut query = Query::new();
    if let (false, Some(t)) = (args.all_tags, r.tag()) {
        query = query.set("tag", t);
    }
    let resp = post_with_login(&ctx.client, &push_path(&r), &query, &r, Some("push")).await?;
    if args.quiet {
        show_progress(resp, Progress::Quiet).await?;
        print_out(&format!("{r}\n"));
        return Ok(());
    }
    show_progress(resp, Progress::Stdout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_pushed() {
        let (r, defaulted) = push_reference("busybox", false).unwrap();
        assert!(defaulted);
        assert_eq!(push_path(&r), "/images/docker.io/library/busybox/push");
        assert_eq!(r.tag(), Some("latest"));
        let (r, _) = push_reference("127.0.0.1:5000/apitrace/built:v1", false).unwrap();
        assert_eq!(push_path(&r), "/images/127.0.0.1:5000/apitrace/built/push");
        let (r, defaulted) = push_reference("127.0.0.1:5000/x", true).unwrap();
        assert!(!defaulted);
        assert_eq!(r.tag(), None);
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(
            push_reference(&d, false).unwrap_err(),
            "cannot push a digest reference"
        );
        assert_eq!(
            push_reference(&d, true).unwrap_err(),
            "tag can't be used with --all-tags/-a"
        );
    }
}
