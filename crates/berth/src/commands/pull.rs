//! `pull`: an image from a registry, through the daemon.

use anyhow::{anyhow, Result};
use clap::{ArgAction, Args};

use super::distribution::{check_content_trust, post_with_login, show_progress, Progress};
use super::{print_out, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{Client, Query};
use crate::reference::{self, Reference};

/// `pull` flags.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", default_value = "")]
    pub platform: String,
    /// Skip image verification (default true)
    #[arg(long = "disable-content-trust", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parsers::go_bool)]
    pub disable_content_trust: Option<bool>,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub args: Vec<String>,
}

/// The reference to pull, with docker's default tag added when it names
/// neither a tag nor a digest (and whether it was), or docker's refusal of
/// a tag given with `-a`.
pub fn resolve(name: &str, all_tags: bool) -> Result<(Reference, bool), String> {
    let r = Reference::parse(name)?;
    match (all_tags, r.is_name_only()) {
        (true, false) => Err("tag can't be used with --all-tags/-a".into()),
        (false, true) => Ok((r.with_default_tag(), true)),
        _ => Ok((r, false)),
    }
}

/// `pull`: `POST /images/create`, the progress on stdout, then the
/// reference pulled (also with `-q`, as docker prints it).
pub async fn pull(ctx: &Ctx, args: PullArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.args.len())?;
    check_content_trust(args.disable_content_trust)?;
    let (r, defaulted) = resolve(&args.args[0], args.all_tags).map_err(|e| anyhow!(e))?;
    if defaulted && !args.quiet {
        print_out(&format!(
            "Using default tag: {}\n",
            berth_reference::DEFAULT_TAG
        ));
    }
    let to = if args.quiet {
        Progress::Quiet
    } else {
        Progress::Stdout
    };
    let tag = (!args.all_tags).then(|| reference::api_tag(&r));
    pull_image(&ctx.client, &r, tag, &args.platform, to, Some("pull")).await?;
    print_out(&format!("{r}\n"));
    Ok(())
}

/// `POST /images/create?fromImage=<name>&tag=<tag or digest>[&platform=]`
/// with the registry's stored login; no `tag` pulls every tag. `action`
/// names the command when a refused login may be asked for again.
pub async fn pull_image(
    client: &Client,
    r: &Reference,
    tag: Option<String>,
    platform: &str,
    to: Progress,
    action: Option<&str>,
) -> Result<()> {
    let mut query = Query::new().set("fromImage", r.name());
    if let Some(t) = tag {
        query = query.set("tag", t);
    }
    let query = query.set_nonempty("platform", &platform.to_lowercase());
    let resp = post_with_login(client, "/images/create", &query, r, action).await?;
    show_progress(resp, to).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_the_default_tag() {
        let (r, defaulted) = resolve("busybox", false).unwrap();
        assert!(defaulted);
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        let (r, defaulted) = resolve("127.0.0.1:5000/a/b:v1", false).unwrap();
        assert!(!defaulted);
        assert_eq!(r.to_string(), "127.0.0.1:5000/a/b:v1");
        let d = format!("sha256:{}", "a".repeat(64));
        let (r, defaulted) = resolve(&format!("busybox@{d}"), false).unwrap();
        assert!(!defaulted);
        assert_eq!(reference::api_tag(&r), d);
        let (r, defaulted) = resolve("busybox", true).unwrap();
        assert!(!defaulted);
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        assert_eq!(
            resolve("busybox:1", true).unwrap_err(),
            "tag can't be used with --all-tags/-a"
        );
        assert_eq!(
            resolve("Bad", false).unwrap_err(),
            "invalid reference format: repository name (library/Bad) must be lowercase"
        );
    }
}
