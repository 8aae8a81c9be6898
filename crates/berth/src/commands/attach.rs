//! `attach`: the local terminal to a running container's stdio.

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;

use super::attach_io::{self, AttachOptions, StreamEnd};
use super::run::Waiter;
use super::{container_path, signals, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::error::StatusError;
use crate::stream::terminal;

/// The parts of `GET /containers/{id}/json` that attaching needs.
#[derive(Debug, Deserialize)]
pub struct ContainerBrief {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Config", default)]
    pub config: BriefConfig,
    #[serde(rename = "HostConfig", default)]
    pub host_config: BriefHostConfig,
    #[serde(rename = "State", default)]
    pub state: BriefState,
}

#[derive(Debug, Default, Deserialize)]
pub struct BriefState {
    #[serde(rename = "Running", default)]
    pub running: bool,
    #[serde(rename = "Paused", default)]
    pub paused: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct BriefConfig {
    #[serde(rename = "Tty", default)]
    pub tty: bool,
    #[serde(rename = "OpenStdin", default)]
    pub open_stdin: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct BriefHostConfig {
    #[serde(rename = "AutoRemove", default)]
    pub auto_remove: bool,
}

/// `attach` flags.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", default_value = "")]
    pub detach_keys: String,
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = parsers::go_bool)]
    pub sig_proxy: bool,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `attach`: the running container's stdio to this terminal until it
/// exits (its exit status becomes ours) or the user detaches.
pub async fn attach(ctx: &Ctx, args: AttachArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(1), args.names.len())?;
    let client = &ctx.client;
    let c: ContainerBrief = client
        .get_json(&container_path(&args.names[0], "json"), &Query::new())
        .await?;
    if !c.state.running {
        return Err(anyhow!(
            "You cannot attach to a stopped container, start it first"
        ));
    }
    if c.state.paused {
        return Err(anyhow!(
            "You cannot attach to a paused container, unpause it first"
        ));
    }
    let opts = AttachOptions {
        stdin: !args.no_stdin && c.config.open_stdin,
        stdout: true,
        stderr: true,
        tty: c.config.tty,
        detach_keys: args.detach_keys.clone(),
    };
    if opts.stdin && opts.tty && !terminal::stdin_is_tty() {
        return Err(anyhow!("the input device is not a TTY"));
    }
    let waiter = Waiter::open(client, &c.id, false).await;
    let conn = attach_io::open(client, &c.id, &opts).await?;
    if args.sig_proxy && !c.config.tty {
        signals::spawn_proxy(client.clone(), c.id.clone());
    }
    let stream = attach_io::spawn(conn, opts);
    if c.config.tty && terminal::stdout_is_tty() {
        signals::spawn_tty_monitor(client.clone(), c.id.clone());
    }
    match stream.await {
        // As docker: detaching from `attach` ends with an error.
        Ok(Ok(StreamEnd::Detached)) => return Err(StatusError::exit(1, "read escape sequence")),
        Ok(Ok(StreamEnd::Eof)) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(anyhow!(e)),
    }
    match waiter.status().await {
        0 => Ok(()),
        code => Err(StatusError::exit(code as i32, "")),
    }
}
