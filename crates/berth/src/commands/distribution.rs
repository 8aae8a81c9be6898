//! What `pull`, `push` and the pull of `create`/`run` share: the
//! `X-Registry-Auth` header for a reference's registry, and showing the
//! daemon's progress stream.

use std::io::{IsTerminal, Write};

use anyhow::{anyhow, Result};
use hyper::body::Incoming;
use hyper::{Method, Response};

use super::login::prompt;
use super::{print_err, print_out};
use crate::auth::{self, config, config::ConfigFile};
use crate::client::{body_reader, empty, Client, Query};
use crate::error::DaemonError;
use crate::reference::Reference;
use crate::stream::jsonmessage::{display_stream_on, DisplayError};
use crate::stream::terminal::{self, Term};

/// The stored login for `r`'s registry as the header value (`e30=` when
/// there is none). docker's warning for a config file it cannot use goes to
/// stderr and the request goes out anonymous, as docker's does; a
/// credential helper that fails is an error.
pub fn registry_auth(r: &Reference) -> Result<String> {
    let cfg = load_config();
    let key = auth::config_key(&auth::domain(r));
    Ok(cfg.get(&key).map_err(|e| anyhow!(e))?.header())
}

/// `POST path` with the registry's stored login. When the registry turns
/// that down (401), `pull` and `push` (`action`) on a terminal ask for a
/// login for this one request and try again, as docker's do; otherwise
/// (no terminal, or the pull of `create`) the 401 is the answer.
pub async fn post_with_login(
    client: &Client,
    path: &str,
    query: &Query,
    r: &Reference,
    action: Option<&str>,
) -> Result<Response<Incoming>> {
    match (send(client, path, query, registry_auth(r)?).await, action) {
        (Err(e), Some(action)) if is_unauthorized(&e) && terminal::stdin_is_tty() => {
            print_out(&format!("\nLogin prior to {action}:\n"));
            let key = auth::config_key(&auth::domain(r));
            let stored = load_config().get(&key).unwrap_or_default();
            let login = prompt("", "", &stored.username, &key)?;
            send(client, path, query, login.header()).await
        }
        (answer, _) => answer,
    }
}

async fn send(
    client: &Client,
    path: &str,
    query: &Query,
    auth: String,
) -> Result<Response<Incoming>> {
    let headers = [("X-Registry-Auth", auth)];
    client
        .request(Method::POST, path, query, empty(), &headers)
        .await
}

/// Whether the daemon answered 401 (the registry refused the login).
pub fn is_unauthorized(e: &anyhow::Error) -> bool {
    e.downcast_ref::<DaemonError>()
        .is_some_and(|d| d.status == 401)
}

/// The user's config.json, its warning (if any) printed.
pub fn load_config() -> ConfigFile {
    let cfg = ConfigFile::load(config::path(|k| std::env::var(k).ok()));
    if let Some(w) = cfg.warning() {
        print_err(&format!("{w}\n"));
    }
    cfg
}

/// Image signatures (docker's content trust) are not checked by berth, so
/// asking for them is refused: by `--disable-content-trust=false`, or,
/// without the flag, by `DOCKER_CONTENT_TRUST` read as docker reads it (any
/// value but an empty one or a false one).
pub fn refuse_content_trust(flag: Option<bool>, env: Option<&str>) -> Result<()> {
    let wanted = match flag {
        Some(disabled) => !disabled,
        None => env
            .filter(|v| !v.is_empty())
            .is_some_and(|v| crate::cli::parsers::go_bool(v).unwrap_or(true)),
    };
    if wanted {
        return Err(anyhow!(
            "content trust is not supported: use --disable-content-trust or unset DOCKER_CONTENT_TRUST"
        ));
    }
    Ok(())
}

/// [`refuse_content_trust`] with this process's environment.
pub fn check_content_trust(flag: Option<bool>) -> Result<()> {
    refuse_content_trust(flag, std::env::var("DOCKER_CONTENT_TRUST").ok().as_deref())
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
    let (mut out, term): (Box<dyn Write>, Option<Term>) = match to {
        Progress::Stdout => (
            Box::new(std::io::stdout()),
            std::io::stdout().is_terminal().then_some(Term::Stdout),
        ),
        Progress::Stderr => (
            Box::new(std::io::stderr()),
            std::io::stderr().is_terminal().then_some(Term::Stderr),
        ),
        Progress::Quiet => (Box::new(std::io::sink()), None),
    };
    let result = display_stream_on(body_reader(resp), &mut out, term, |_| {}).await;
    let _ = out.flush();
    match result {
        Ok(()) => Ok(()),
        Err(DisplayError::Message(e)) => Err(anyhow!(e.message)),
        Err(e) => Err(anyhow!(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_trust_is_refused_when_asked_for() {
        assert!(refuse_content_trust(None, None).is_ok());
        assert!(refuse_content_trust(None, Some("")).is_ok());
        assert!(refuse_content_trust(None, Some("0")).is_ok());
        assert!(refuse_content_trust(None, Some("false")).is_ok());
        assert!(refuse_content_trust(None, Some("1")).is_err());
        assert!(refuse_content_trust(None, Some("yes")).is_err());
        assert!(refuse_content_trust(Some(true), Some("1")).is_ok());
        assert!(refuse_content_trust(Some(false), None).is_err());
    }
}
