//! Container state changes: `start`, `stop`, `kill`, `restart`, `rm`,
//! `wait`, `pause`/`unpause` and `rename`.

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Deserialize;

use super::attach::{self, AttachOptions, StreamEnd};
use super::run::Waiter;
use super::{for_each_name, print_err, print_out, signals, Ctx};
use crate::cli::parsers;
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, read_body, Query};
use crate::error::{self, is_not_found, StatusError};
use crate::stream::terminal;

/// Container names or IDs.
#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `start` flags.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long = "attach")]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", default_value = "")]
    pub detach_keys: String,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `stop`/`restart` flags.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", default_value = "")]
    pub signal: String,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "timeout", alias = "time", value_parser = parsers::int64, allow_hyphen_values = true)]
    pub timeout: Option<i64>,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `kill` flags.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", default_value = "")]
    pub signal: String,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `rm` flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Remove the specified link
    #[arg(short = 'l', long = "link")]
    pub link: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

fn container_path(name: &str, action: &str) -> String {
    format!("/containers/{}/{action}", path_segment(name))
}

/// `start`: start containers, or start one attached (`-a`/`-i`).
pub async fn start(ctx: &Ctx, args: StartArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    if args.attach || args.interactive {
        if args.names.len() > 1 {
            return Err(anyhow!(
                "you cannot start and attach multiple containers at once"
            ));
        }
        return start_attached(ctx, &args).await;
    }
    let mut failed = Vec::new();
    for name in &args.names {
        match ctx
            .client
            .post(&container_path(name, "start"), &Query::new())
            .await
        {
            Ok(_) => print_out(&format!("{name}\n")),
            Err(e) => {
                print_err(&format!("{}\n", error::message(&e)));
                failed.push(name.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        ))
    }
}

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

async fn start_attached(ctx: &Ctx, args: &StartArgs) -> Result<()> {
    let client = &ctx.client;
    let c: ContainerBrief = client
        .get_json(&container_path(&args.names[0], "json"), &Query::new())
        .await?;
    if !c.config.tty {
        signals::spawn_proxy(client.clone(), c.id.clone());
    }
    let opts = AttachOptions {
        stdin: args.interactive && c.config.open_stdin,
        stdout: true,
        stderr: true,
        tty: c.config.tty,
        detach_keys: args.detach_keys.clone(),
    };
    let conn = attach::open(client, &c.id, &opts).await?;
    let stream = attach::spawn(conn, opts);
    let waiter = Waiter::open(client, &c.id, c.host_config.auto_remove).await;
    if let Err(e) = client
        .post(&container_path(&c.id, "start"), &Query::new())
        .await
    {
        stream.abort();
        if c.host_config.auto_remove {
            let _ = waiter.status().await;
        }
        return Err(e);
    }
    if c.config.tty && terminal::stdout_is_tty() {
        signals::spawn_tty_monitor(client.clone(), c.id.clone());
    }
    match stream.await {
        Ok(Ok(StreamEnd::Detached)) => return Ok(()),
        Ok(Ok(StreamEnd::Eof)) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(anyhow!(e)),
    }
    match waiter.status().await {
        0 => Ok(()),
        code => Err(StatusError::exit(code as i32, "")),
    }
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
    let conn = attach::open(client, &c.id, &opts).await?;
    if args.sig_proxy && !c.config.tty {
        signals::spawn_proxy(client.clone(), c.id.clone());
    }
    let stream = attach::spawn(conn, opts);
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

/// `stop`.
pub async fn stop(ctx: &Ctx, args: StopArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = stop_query(&args);
    let errors = for_each_name(&args.names, |name| {
        let query = query.clone();
        async move {
            ctx.client
                .post(&container_path(&name, "stop"), &query)
                .await?;
            Ok(())
        }
    })
    .await;
    error::join(errors)
}

fn stop_query(args: &StopArgs) -> Query {
    let mut q = Query::new().set_nonempty("signal", &args.signal);
    if let Some(t) = args.timeout {
        q = q.set("t", t.to_string());
    }
    q
}

/// `restart` (one container after the other, like docker).
pub async fn restart(ctx: &Ctx, args: StopArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = stop_query(&args);
    let mut errors = Vec::new();
    for name in &args.names {
        match ctx
            .client
            .post(&container_path(name, "restart"), &query)
            .await
        {
            Ok(_) => print_out(&format!("{name}\n")),
            Err(e) => errors.push(error::message(&e)),
        }
    }
    error::join(errors)
}

/// `kill`.
pub async fn kill(ctx: &Ctx, args: KillArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = Query::new().set_nonempty("signal", &args.signal);
    let errors = for_each_name(&args.names, |name| {
        let query = query.clone();
        async move {
            ctx.client
                .post(&container_path(&name, "kill"), &query)
                .await?;
            Ok(())
        }
    })
    .await;
    error::join(errors)
}

/// `rm`; with `-f`, missing containers are reported but do not fail.
pub async fn rm(ctx: &Ctx, args: RmArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = Query::new()
        .flag("force", args.force)
        .flag("link", args.link)
        .flag("v", args.volumes);
    let results = futures_util::future::join_all(args.names.iter().map(|name| {
        let query = query.clone();
        async move {
            let trimmed = name.trim_matches('/');
            if trimmed.is_empty() {
                return Err(anyhow!("container name cannot be empty"));
            }
            ctx.client
                .delete(&format!("/containers/{}", path_segment(trimmed)), &query)
                .await
                .map(|_| ())
        }
    }))
    .await;
    let mut errors = Vec::new();
    for (name, result) in args.names.iter().zip(results) {
        match result {
            Ok(()) => print_out(&format!("{name}\n")),
            Err(e) if args.force && is_not_found(&e) => {
                print_err(&format!("{}\n", error::message(&e)));
            }
            Err(e) => errors.push(error::message(&e)),
        }
    }
    error::join(errors)
}

/// `wait`: prints each container's exit code.
pub async fn wait(ctx: &Ctx, args: NamesArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let mut errors = Vec::new();
    for name in &args.names {
        let result = async {
            let resp = ctx
                .client
                .post(&container_path(name, "wait"), &Query::new())
                .await?;
            let body = read_body(resp).await?;
            super::run::parse_wait_body(&body).map_err(|m| anyhow!(m))
        }
        .await;
        match result {
            Ok(code) => print_out(&format!("{code}\n")),
            Err(e) => errors.push(error::message(&e)),
        }
    }
    error::join(errors)
}

/// `pause` / `unpause`.
pub async fn pause(ctx: &Ctx, args: NamesArgs, pause: bool) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let action = if pause { "pause" } else { "unpause" };
    let errors = for_each_name(&args.names, |name| async move {
        ctx.client
            .post(&container_path(&name, action), &Query::new())
            .await?;
        Ok(())
    })
    .await;
    error::join(errors)
}

/// `rename OLD NEW`.
pub async fn rename(ctx: &Ctx, args: NamesArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(2), args.names.len())?;
    let old = args.names[0].trim();
    let new = args.names[1].trim();
    if old.is_empty() || new.is_empty() {
        return Err(anyhow!("Error: Neither old nor new names may be empty"));
    }
    let query = Query::new().set("name", new);
    if let Err(e) = ctx
        .client
        .post(&container_path(old, "rename"), &query)
        .await
    {
        print_err(&format!("{}\n", error::message(&e)));
        return Err(anyhow!("Error: failed to rename container named {old}"));
    }
    Ok(())
}
