//! `run` and `create`: create (pulling a missing image), then for `run`
//! attach, wait, start, stream and exit with the container's status.

use std::io::IsTerminal;

use anyhow::{anyhow, Result};
use clap::{ArgAction, Args};
use serde::Deserialize;

use super::attach_io::{self, AttachOptions, StreamEnd};
use super::create_opts::{current_dir, BuildEnv, ContainerOpts, CreateRequest};
use super::{print_err, print_out, signals, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{body_reader, path_segment, read_body, Client, Query};
use crate::error::{is_not_found, StatusError};
use crate::reference::{self, Reference};
use crate::stream::jsonmessage::{display_stream, DisplayError};
use crate::stream::terminal;

/// `run` flags.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = parsers::go_bool)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", default_value = "")]
    pub detach_keys: String,
    #[command(flatten)]
    pub opts: ContainerOpts,
}

/// `create` flags.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: ContainerOpts,
}

/// The exit code docker gives a failed create/start: 127 for a missing
/// command, 126 for one that cannot be executed, else 125.
pub fn start_exit_code(msg: &str) -> i32 {
    let m = msg
        .strip_prefix("Error response from daemon: ")
        .unwrap_or(msg);
    if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("system cannot find the file specified")
    {
        127
    } else if m.contains("permission denied") || m.contains("is a directory") {
        126
    } else {
        125
    }
}

/// `berth: <msg>\n\nRun 'berth <cmd> --help' for more information`.
fn with_help(cmd: &str, msg: &str) -> String {
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

fn build_request(opts: &ContainerOpts) -> Result<CreateRequest, String> {
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

/// `run`.
pub async fn run(ctx: &Ctx, args: RunArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.opts.args.len())?;
    let mut req =
        build_request(&args.opts).map_err(|e| StatusError::exit(125, with_help("run", &e)))?;
    let body = &mut req.body;
    if !args.detach {
        if body.attach_stdin && body.tty && !terminal::stdin_is_tty() {
            return Err(anyhow!("the input device is not a TTY"));
        }
    } else {
        if !args.opts.attach.is_empty() {
            return Err(anyhow!(
                "conflicting options: cannot specify both --attach and --detach"
            ));
        }
        body.attach_stdin = false;
        body.attach_stdout = false;
        body.attach_stderr = false;
        body.stdin_once = false;
    }
    let client = &ctx.client;
    let id = match create_container(client, &req, &args.opts).await {
        Ok(id) => id,
        Err(e) => {
            let msg = crate::error::message(&e);
            return Err(StatusError::exit(
                start_exit_code(&msg),
                with_help("run", &msg),
            ));
        }
    };
    let body = &req.body;
    if !args.detach {
        if args.sig_proxy {
            signals::spawn_proxy(client.clone(), id.clone());
        } else {
            signals::spawn_ignore_termination();
        }
    }
    let attached = body.attach_stdin || body.attach_stdout || body.attach_stderr;
    if !attached {
        print_out(&format!("{id}\n"));
    }
    let stream = if attached {
        let opts = AttachOptions {
            stdin: body.attach_stdin,
            stdout: body.attach_stdout,
            stderr: body.attach_stderr,
            tty: body.tty,
            detach_keys: args.detach_keys.clone(),
        };
        let conn = attach_io::open(client, &id, &opts).await?;
        Some(attach_io::spawn(conn, opts))
    } else {
        None
    };
    let waiter = Waiter::open(client, &id, body.host_config.auto_remove).await;

    if let Err(e) = client
        .post(
            &format!("/containers/{}/start", path_segment(&id)),
            &Query::new(),
        )
        .await
    {
        if let Some(s) = stream {
            s.abort();
        }
        let msg = crate::error::message(&e);
        if body.host_config.auto_remove {
            let _ = waiter.status().await;
        }
        return Err(StatusError::exit(
            start_exit_code(&msg),
            with_help("run", &msg),
        ));
    }
    if attached && body.tty && terminal::stdout_is_tty() {
        signals::spawn_tty_monitor(client.clone(), id.clone());
    }
    if let Some(s) = stream {
        match s.await {
            Ok(Ok(StreamEnd::Detached)) => return Ok(()),
            Ok(Ok(StreamEnd::Eof)) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(anyhow!(e)),
        }
    }
    if !attached {
        return Ok(());
    }
    match waiter.status().await {
        0 => Ok(()),
        code => Err(StatusError::exit(code as i32, "")),
    }
}

/// Creates the container, pulling the image when it is missing (unless
/// `--pull never`), and prints the daemon's warnings.
pub async fn create_container(
    client: &Client,
    req: &CreateRequest,
    opts: &ContainerOpts,
) -> Result<String> {
    let image = &req.body.image;
    let named = named_reference(image)?;
    let cid = CidFile::open(&req.body.host_config.container_id_file)?;
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
    for dns in &req.body.host_config.dns {
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

/// `POST /images/create?fromImage=..&tag=..`, progress on stderr.
pub async fn pull_image(client: &Client, r: &Reference, platform: &str, quiet: bool) -> Result<()> {
    let query = Query::new()
        .set("fromImage", r.name())
        .set("tag", reference::api_tag(r))
        .set_nonempty("platform", &platform.to_lowercase());
    let resp = client
        .request(
            hyper::Method::POST,
            "/images/create",
            &query,
            crate::client::empty(),
            &[("X-Registry-Auth", "e30=".to_string())],
        )
        .await?;
    let is_tty = std::io::stderr().is_terminal();
    let mut sink: Box<dyn std::io::Write> = if quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    };
    match display_stream(body_reader(resp), &mut sink, is_tty && !quiet, |_| {}).await {
        Ok(()) => Ok(()),
        Err(DisplayError::Message(e)) => Err(anyhow!(e.message)),
        Err(e) => Err(anyhow!(e.to_string())),
    }
}

/// The `wait` request opened before start; its headers arrive at once and
/// the body when the container exits (or is removed).
pub struct Waiter {
    resp: Result<hyper::Response<hyper::body::Incoming>>,
}

impl Waiter {
    /// `POST /containers/{id}/wait?condition=next-exit|removed`.
    pub async fn open(client: &Client, id: &str, removed: bool) -> Waiter {
        let condition = if removed { "removed" } else { "next-exit" };
        let resp = client
            .post(
                &format!("/containers/{}/wait", path_segment(id)),
                &Query::new().set("condition", condition),
            )
            .await;
        Waiter { resp }
    }

    /// The exit status, or 125 (with docker's log line) if waiting failed.
    pub async fn status(self) -> i64 {
        let body = match self.resp {
            Ok(r) => read_body(r).await,
            Err(e) => Err(e),
        };
        match body.map(|b| parse_wait_body(&b)) {
            Ok(Ok(code)) => code,
            Ok(Err(msg)) => {
                log_error(&format!("Error waiting for container: {msg}"));
                125
            }
            Err(e) => {
                log_error(&format!(
                    "error waiting for container: {}",
                    crate::error::message(&e)
                ));
                125
            }
        }
    }
}

/// Parses `{"Error":null,"StatusCode":N}`; `Err` carries `Error.Message`.
pub fn parse_wait_body(body: &[u8]) -> Result<i64, String> {
    #[derive(Deserialize)]
    struct WaitError {
        #[serde(rename = "Message", default)]
        message: String,
    }
    #[derive(Deserialize)]
    struct WaitBody {
        #[serde(rename = "StatusCode", default)]
        status_code: i64,
        #[serde(rename = "Error", default)]
        error: Option<WaitError>,
    }
    let w: WaitBody = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    match w.error {
        Some(e) if !e.message.is_empty() => Err(e.message),
        _ => Ok(w.status_code),
    }
}

/// An error line in logrus' text format, as the docker CLI logs it.
pub fn log_error(msg: &str) {
    let now = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    print_err(&format!(
        "time=\"{now}\" level=error msg={}\n",
        crate::format::text::go_quote(msg)
    ));
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
    fn exit_codes_for_start_failures() {
        assert_eq!(
            start_exit_code("Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"nonexistentcmd\": executable file not found in $PATH: unknown"),
            127
        );
        assert_eq!(
            start_exit_code("exec: \"/x\": no such file or directory"),
            127
        );
        assert_eq!(
            start_exit_code("exec: \"/etc\": permission denied: unknown"),
            126
        );
        assert_eq!(start_exit_code("read /etc: is a directory"), 126);
        assert_eq!(
            start_exit_code("Error response from daemon: No such image: x"),
            125
        );
    }

    #[test]
    fn wait_bodies() {
        assert_eq!(parse_wait_body(br#"{"Error":null,"StatusCode":3}"#), Ok(3));
        assert_eq!(parse_wait_body(br#"{"StatusCode":0}"#), Ok(0));
        assert_eq!(
            parse_wait_body(br#"{"Error":{"Message":"boom"},"StatusCode":0}"#),
            Err("boom".to_string())
        );
    }

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
