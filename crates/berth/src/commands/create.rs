//! `create`, and the creation `run` shares: pulling a missing image,
//! `--cidfile`, the daemon's warnings.

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;

use super::create_body::BodyFlags;
use super::create_opts::{current_dir, BuildEnv, ContainerOpts, CreateRequest};
use super::distribution::Progress;
use super::pull;
use super::{print_err, print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{read_body, Client, Query};
use crate::error::{is_not_found, StatusError};
use crate::reference::{self, Reference};
use crate::stream::terminal;

/// `create` flags.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: ContainerOpts,
}

/// `berth: <msg>\n\nRun 'berth <cmd> --help' for more information`.
pub fn with_help(cmd: &str, msg: &str) -> String {
    format!("berth: {msg}\n\nRun 'berth {cmd} --help' for more information")
}

fn validate_pull(pull: &str) -> Result<(), String> {
    match pull {
        "always" | "missing" | "never" | "" => Ok(()),
        other => Err(format!(
            "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
        )),
    }
}

pub fn build_request(opts: &ContainerOpts) -> Result<CreateRequest, String> {
    validate_pull(&opts.pull)?;
    let env = BuildEnv {
        cwd: current_dir(),
        console_size: terminal::tty_size(),
    };
    opts.build(&env)
}

/// `create`: prints the new container's ID.
pub async fn create(ctx: &Ctx, args: CreateArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.opts.args.len())?;
    let req =
        build_request(&args.opts).map_err(|e| StatusError::exit(125, with_help("create", &e)))?;
    let id = create_container(&ctx.client, &req, &args.opts).await?;
    print_out(&format!("{id}\n"));
    Ok(())
}

/// Creates the container, pulling the image when it is missing (unless
/// `--pull never`), and prints the daemon's warnings.
pub async fn create_container(
    client: &Client,
    req: &CreateRequest,
    opts: &ContainerOpts,
) -> Result<String> {
    super::distribution::check_content_trust(opts.disable_content_trust)?;
    let image = req.body.image();
    let named = named_reference(image)?;
    let cid = CidFile::open(req.body.cid_file())?;
    if opts.pull == "always" {
        if let Some(r) = &named {
            pull_image(client, r, &req.platform, opts.quiet).await?;
        }
    }
    let query = Query::new()
        .set_nonempty("name", &req.name)
        .set_nonempty("platform", &req.platform);
    let resp = match client
        .post_json("/containers/create", &query, &req.body)
        .await
    {
        Ok(r) => r,
        Err(e) if is_not_found(&e) && named.is_some() && opts.pull == "missing" => {
            let r = named.as_ref().expect("checked above");
            if !opts.quiet {
                print_err(&format!(
                    "Unable to find image '{}' locally\n",
                    r.clone().with_default_tag().familiar()
                ));
            }
            pull_image(client, r, &req.platform, opts.quiet).await?;
            client
                .post_json("/containers/create", &query, &req.body)
                .await?
        }
        Err(e) => return Err(e),
    };
    #[derive(Deserialize)]
    struct Created {
        #[serde(rename = "Id")]
        id: String,
        #[serde(rename = "Warnings", default)]
        warnings: Option<Vec<String>>,
    }
    let created: Created = serde_json::from_slice(&read_body(resp).await?)?;
    let mut warnings = created.warnings.unwrap_or_default();
    for dns in req.body.dns() {
        if dns
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        {
            warnings.push(format!("Localhost DNS ({dns}) may fail in containers."));
            break;
        }
    }
    for w in warnings {
        print_err(&format!("WARNING: {w}\n"));
    }
    cid.write(&created.id)?;
    Ok(created.id)
}

/// The image as a named reference, or `None` for an image ID (never pulled).
fn named_reference(image: &str) -> Result<Option<Reference>> {
    let is_full_id = image.len() == 64 && reference::is_hex_id(image);
    let is_digest = image
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && reference::is_hex_id(h));
    if is_full_id || is_digest {
        return Ok(None);
    }
    Reference::parse(image)
        .map(|r| Some(r.with_default_tag()))
        .map_err(|e| anyhow!(e))
}

/// Pulls the image as `create` does: progress on stderr, nothing with `-q`.
async fn pull_image(client: &Client, r: &Reference, platform: &str, quiet: bool) -> Result<()> {
    let to = if quiet {
        Progress::Quiet
    } else {
        Progress::Stderr
    };
    pull::pull_image(client, r, Some(reference::api_tag(r)), platform, to, None).await
}

/// `--cidfile`: refuses an existing file, writes the ID, removes the file if
/// no ID was written.
struct CidFile {
    path: String,
    written: std::cell::Cell<bool>,
}

impl CidFile {
    fn open(path: &str) -> Result<CidFile> {
        if !path.is_empty() {
            if std::path::Path::new(path).exists() {
                return Err(anyhow!(
                    "container ID file found, make sure the other container isn't running or delete {path}"
                ));
            }
            std::fs::File::create(path)
                .map_err(|e| anyhow!("failed to create the container ID file: {e}"))?;
        }
        Ok(CidFile {
            path: path.to_string(),
            written: std::cell::Cell::new(false),
        })
    }

    fn write(&self, id: &str) -> Result<()> {
        if self.path.is_empty() {
            return Ok(());
        }
        std::fs::write(&self.path, id)
            .map_err(|e| anyhow!("failed to write the container ID to the file: {e}"))?;
        self.written.set(true);
        Ok(())
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if !self.path.is_empty() && !self.written.get() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_suffix() {
        assert_eq!(
            with_help("run", "Error response from daemon: x"),
            "berth: Error response from daemon: x\n\nRun 'berth run --help' for more information"
        );
    }

    #[test]
    fn pull_options() {
        assert!(validate_pull("never").is_ok());
        assert_eq!(
            validate_pull("sometimes").unwrap_err(),
            "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\""
        );
    }

    #[test]
    fn image_ids_are_not_pulled() {
        let id = "a".repeat(64);
        assert!(named_reference(&id).unwrap().is_none());
        assert!(named_reference(&format!("sha256:{id}")).unwrap().is_none());
        assert_eq!(
            named_reference("busybox").unwrap().unwrap().familiar(),
            "busybox:latest"
        );
        assert!(named_reference("Bad Name").is_err());
    }
}
