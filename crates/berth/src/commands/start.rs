//! `start`: start containers, or start one attached (`-a`/`-i`).

use anyhow::{anyhow, Result};
use clap::Args;

use super::attach::ContainerBrief;
use super::attach_io::{self, AttachOptions, StreamEnd};
use super::run::Waiter;
use super::{container_path, print_err, print_out, signals, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::error::{self, StatusError};
use crate::stream::terminal;

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
    let conn = attach_io::open(client, &c.id, &opts).await?;
    let stream = attach_io::spawn(conn, opts);
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
