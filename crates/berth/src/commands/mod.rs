//! One module per command; `dispatch` runs the one a command line selected
//! (the table in `cli::table` says which).

pub mod attach;
pub mod attach_io;
pub mod commit;
pub mod cp;
pub mod create;
pub mod create_body;
pub mod create_opts;
pub mod create_settings;
pub mod df;
pub mod diff;
pub mod distribution;
pub mod events;
pub mod exec;
pub mod export;
pub mod history;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod kill;
pub mod kv_file;
pub mod load;
pub mod login;
pub mod logout;
pub mod logs;
pub mod mounts;
pub mod network;
pub mod pause;
pub mod port;
pub mod ports;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod push;
pub mod rename;
pub mod resource_opts;
pub mod restart;
pub mod rm;
pub mod rmi;
pub mod run;
pub mod save;
pub mod signals;
pub mod start;
pub mod stats;
pub mod stop;
pub mod tag;
pub mod top;
pub mod transfer;
pub mod unpause;
pub mod update;
pub mod version;
pub mod volume;
pub mod wait;

use std::io::Write;

use anyhow::Result;

use clap::ArgMatches;

use crate::cli::table::Leaf;
use crate::client::Client;

/// What every command gets: the daemon client and its own path (`ps`,
/// `container ls`) for messages.
pub struct Ctx {
    pub client: Client,
    pub path: String,
}

impl Ctx {
    pub fn new(client: Client, path: &str) -> Ctx {
        Ctx {
            client,
            path: path.to_string(),
        }
    }
}

/// Runs the leaf command a parsed command line selected.
pub async fn dispatch(client: Client, leaf: &Leaf, path: &str, matches: &ArgMatches) -> Result<()> {
    (leaf.run)(&Ctx::new(client, path), matches).await
}

/// Container names or IDs (`wait`, `pause`, `rename`, ...).
#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `/containers/{name}/{action}`.
pub fn container_path(name: &str, action: &str) -> String {
    format!("/containers/{}/{action}", crate::client::path_segment(name))
}

/// Writes to stdout and flushes; a closed pipe is not an error worth a message.
pub fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes to stderr.
pub fn print_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// The reason part of an OS error the way Go prints it (`no such file or
/// directory`), without Rust's ` (os error N)` suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(code) => {
            let s = std::io::Error::from_raw_os_error(code).to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
        None => e.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

/// Current unix time in seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `op` for every name concurrently (like docker's parallel operations),
/// printing each name on success in argument order and collecting the errors.
pub async fn for_each_name<F, Fut>(names: &[String], op: F) -> Vec<String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let results = futures_util::future::join_all(names.iter().map(|n| op(n.clone()))).await;
    let mut errors = Vec::new();
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(()) => print_out(&format!("{name}\n")),
            Err(e) => errors.push(crate::error::message(&e)),
        }
    }
    errors
}
