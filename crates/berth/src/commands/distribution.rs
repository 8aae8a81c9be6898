//! What `pull`, `push` and the pull of `create`/`run` share: the
//! `X-Registry-Auth` header for a reference's registry, and showing the
//! daemon's progress stream.

use std::io::{IsTerminal, Write};

use anyhow::{anyhow, Result};
use hyper::body::Incoming;
use hyper::Response;

use super::print_err;
use crate::auth::{self, config, config::ConfigFile};
use crate::client::body_reader;
use crate::reference::Reference;
use crate::stream::jsonmessage::{display_stream, DisplayError};

/// The stored login for `r`'s registry as the header value (`e30=` when
/// there is none). docker's warning for a config file it cannot use goes to
/// stderr and the request goes out anonymous, as docker's does; a
/// credential helper that fails is an error.
pub fn registry_auth(r: &Reference) -> Result<String> {
    let cfg = load_config();
    let key = auth::config_key(&auth::domain(r));
    Ok(cfg.get(&key).map_err(|e| anyhow!(e))?.header())
}

/// The user's config.json, its warning (if any) printed.
pub fn load_config() -> ConfigFile {
    let cfg = ConfigFile::load(config::path(|k| std::env::var(k).ok()));
    if let Some(w) = cfg.warning() {
        print_err(&format!("{w}\n"));
    }
    cfg
}

/// Where a progress stream is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Stdout,
    Stderr,
    /// `-q`: read to the end (an error in it still fails) but not shown.
    Quiet,
}

/// Shows a JSON message stream, as progress bars on a terminal and as
/// plain lines otherwise; an error message in it is the command's error.
pub async fn show_progress(resp: Response<Incoming>, to: Progress) -> Result<()> {
    let (mut out, tty): (Box<dyn Write>, bool) = match to {
        Progress::Stdout => (Box::new(std::io::stdout()), std::io::stdout().is_terminal()),
        Progress::Stderr => (Box::new(std::io::stderr()), std::io::stderr().is_terminal()),
        Progress::Quiet => (Box::new(std::io::sink()), false),
    };
    let result = display_stream(body_reader(resp), &mut out, tty, |_| {}).await;
    let _ = out.flush();
    match result {
        Ok(()) => Ok(()),
        Err(DisplayError::Message(e)) => Err(anyhow!(e.message)),
        Err(e) => Err(anyhow!(e.to_string())),
    }
}
