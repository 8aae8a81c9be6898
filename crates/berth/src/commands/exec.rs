//! `exec`: run a command in a running container, like `docker exec`. The
//! calls are the docker CLI's: inspect the container, create the exec, start
//! it (hijacked unless `-d`), then read its exit code from the exec's inspect.

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;
use serde_json::json;

use super::attach_io::{self, AttachOptions, StreamEnd};
use super::{kv_file, signals, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, read_body, Query};
use crate::error::StatusError;
use crate::stream::terminal;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", default_value = "")]
    pub detach_keys: String,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_parser = parsers::env)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long = "privileged")]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long = "user", default_value = "")]
    pub user: String,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", default_value = "")]
    pub workdir: String,
    /// CONTAINER COMMAND [ARG...]
    #[arg(value_name = "CONTAINER", trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "Id")]
    id: String,
}

#[derive(Deserialize)]
struct ExecInspect {
    #[serde(rename = "ExitCode")]
    exit_code: Option<i64>,
}

pub async fn exec(ctx: &Ctx, args: ExecArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(2), args.args.len())?;
    let client = &ctx.client;
    let container = &args.args[0];
    let mut env = Vec::new();
    for f in &args.env_file {
        env.extend(kv_file::read_env_file(f).map_err(|e| anyhow!(e))?);
    }
    env.extend(args.env.iter().cloned());
    if !args.detach && args.tty && args.interactive && !terminal::stdin_is_tty() {
        return Err(anyhow!("the input device is not a TTY"));
    }
    // docker checks that the container exists first, for its message.
    client
        .get_bytes(
            &format!("/containers/{}/json", path_segment(container)),
            &Query::new(),
        )
        .await?;
    let console_size = (args.tty && terminal::stdout_is_tty())
        .then(terminal::tty_size)
        .flatten()
        .map(|(h, w)| vec![h, w]);
    let body = json!({
        "User": args.user,
        "Privileged": args.privileged,
        "Tty": args.tty,
        "ConsoleSize": console_size,
        "AttachStdin": args.interactive && !args.detach,
        "AttachStderr": !args.detach,
        "AttachStdout": !args.detach,
        "Detach": args.detach,
        "DetachKeys": args.detach_keys,
        "Env": if env.is_empty() { None } else { Some(env) },
        "WorkingDir": args.workdir,
        "Cmd": &args.args[1..],
    });
    let resp = client
        .post_json(
            &format!("/containers/{}/exec", path_segment(container)),
            &Query::new(),
            &body,
        )
        .await?;
    let created: Created = serde_json::from_slice(&read_body(resp).await?)?;
    let start_path = format!("/exec/{}/start", path_segment(&created.id));
    let start = json!({"Detach": args.detach, "Tty": args.tty, "ConsoleSize": body["ConsoleSize"]});
    if args.detach {
        client.post_json(&start_path, &Query::new(), &start).await?;
        return Ok(());
    }
    let conn = client
        .hijack_json(&start_path, &Query::new(), &start)
        .await?;
    if args.tty && terminal::stdout_is_tty() {
        signals::spawn_exec_tty_monitor(client.clone(), created.id.clone());
    }
    let opts = AttachOptions {
        stdin: args.interactive,
        stdout: true,
        stderr: true,
        tty: args.tty,
        detach_keys: args.detach_keys.clone(),
    };
    match attach_io::spawn(conn, opts).await {
        // docker reports a detach from exec as an error.
        Ok(Ok(StreamEnd::Detached)) => return Err(StatusError::exit(1, "read escape sequence")),
        Ok(Ok(StreamEnd::Eof)) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(anyhow!(e)),
    }
    let inspect: ExecInspect = client
        .get_json(
            &format!("/exec/{}/json", path_segment(&created.id)),
            &Query::new(),
        )
        .await?;
    match inspect.exit_code.unwrap_or(0) {
        0 => Ok(()),
        code => Err(StatusError::exit(code as i32, "")),
    }
}
