//! `run`: create (as `create` does), then attach, wait, start, stream
//! and exit with the container's status.

use anyhow::{anyhow, Result};
use clap::{ArgAction, Args};
use serde::Deserialize;

use super::attach_io::{self, AttachOptions, StreamEnd};
use super::create::{build_request, create_container, with_help};
use super::create_body::BodyFlags;
use super::create_opts::ContainerOpts;
use super::{print_err, print_out, signals, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, read_body, Client, Query};
use crate::error::StatusError;
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

/// `run`.
pub async fn run(ctx: &Ctx, args: RunArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.opts.args.len())?;
    let mut req =
        build_request(&args.opts).map_err(|e| StatusError::exit(125, with_help("run", &e)))?;
    let body = &mut req.body;
    if !args.detach {
        if body.attach_stdin() && body.tty() && !terminal::stdin_is_tty() {
            return Err(anyhow!("the input device is not a TTY"));
        }
    } else {
        if !args.opts.attach.is_empty() {
            return Err(anyhow!(
                "conflicting options: cannot specify both --attach and --detach"
            ));
        }
        body.detach();
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
    let attached = body.attach_stdin() || body.attach_stdout() || body.attach_stderr();
    if !attached {
        print_out(&format!("{id}\n"));
    }
    let stream = if attached {
        let opts = AttachOptions {
            stdin: body.attach_stdin(),
            stdout: body.attach_stdout(),
            stderr: body.attach_stderr(),
            tty: body.tty(),
            detach_keys: args.detach_keys.clone(),
        };
        let conn = attach_io::open(client, &id, &opts).await?;
        Some(attach_io::spawn(conn, opts))
    } else {
        None
    };
    let waiter = Waiter::open(client, &id, body.auto_remove()).await;

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
        if body.auto_remove() {
            let _ = waiter.status().await;
        }
        return Err(StatusError::exit(
            start_exit_code(&msg),
            with_help("run", &msg),
        ));
    }
    if attached && body.tty() && terminal::stdout_is_tty() {
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
}
