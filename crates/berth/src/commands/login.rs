//! `login`: checks credentials with the registry (through the daemon's
//! `POST /auth`) and keeps them in docker's config.json.

use std::io::{BufRead, Read};

use anyhow::{anyhow, Result};
use berth_api::models;
use clap::Args;

use super::distribution::{is_unauthorized, load_config};
use super::{print_err, print_out, Ctx};
use crate::auth::config::ConfigFile;
use crate::auth::{convert_to_hostname, AuthConfig, INDEX_SERVER};
use crate::cli::usage::{check_args, Arity};

use crate::client::{read_body, Query};
use crate::stream::terminal;

/// `login` flags.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Password or Personal Access Token (PAT)
    #[arg(short = 'p', long = "password", default_value = "")]
    pub password: String,
    /// Take the Password or Personal Access Token (PAT) from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Username
    #[arg(short = 'u', long = "username", default_value = "")]
    pub username: String,
    #[arg(value_name = "SERVER")]
    pub args: Vec<String>,
}

/// The registry as `login` names it: Docker Hub's index URL by default
/// (also for `docker.io`), else the host[:port] of what was given.
pub fn server_address(arg: Option<&str>) -> String {
    match arg {
        Some(s) if !s.is_empty() && s != "docker.io" && s != INDEX_SERVER => convert_to_hostname(s),
        _ => INDEX_SERVER.to_string(),
    }
}

/// `--password-stdin`'s password: the input without one final newline.
pub fn password_from(input: &str) -> String {
    let p = input.strip_suffix('\n').unwrap_or(input);
    p.strip_suffix('\r').unwrap_or(p).to_string()
}

/// `login`.
pub async fn login(ctx: &Ctx, mut args: LoginArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Max(1), args.args.len())?;
    if !args.password.is_empty() && args.password_stdin {
        return Err(anyhow!(
            "conflicting options: cannot specify both --password and --password-stdin"
        ));
    }
    if !args.password.is_empty() {
        print_err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    }
    if args.password_stdin {
        if args.username.is_empty() {
            return Err(anyhow!(
                "the --password-stdin option requires --username to be set"
            ));
        }
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        args.password = password_from(&input);
    }
    let server = server_address(args.args.first().map(String::as_str));
    let mut cfg = load_config();

    let stored = if args.username.is_empty() && args.password.is_empty() {
        cfg.get(&server).unwrap_or_default()
    } else {
        AuthConfig::default()
    };
    if !stored.username.is_empty() && !stored.password.is_empty() {
        let attempt = AuthConfig {
            username: stored.username.clone(),
            password: stored.password.clone(),
            serveraddress: server.clone(),
            ..Default::default()
        };
        print_err(&format!(
            "Authenticating with existing credentials... [Username: {}]\n\n Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n\n",
            attempt.username
        ));
        match authenticate(ctx, &attempt).await {
            // What is stored already worked: the file is only rewritten
            // when the registry traded the password for a token.
            Ok((status, token)) if token.is_empty() => {
                print_out(&format!("{status}\n"));
                return Ok(());
            }
            Ok(answer) => return finish(&mut cfg, attempt, answer),
            Err(e) => {
                if is_unauthorized(&e) {
                    print_err("Stored credentials invalid or expired\n");
                } else {
                    print_err(&format!(
                        "Login did not succeed, error: {}\n",
                        crate::error::message(&e)
                    ));
                }
            }
        }
    }

    if (args.username.is_empty() || args.password.is_empty()) && !terminal::stdin_is_tty() {
        return Err(anyhow!(
            "Error: Cannot perform an interactive login from a non TTY device"
        ));
    }
    let attempt = prompt(&args.username, &args.password, &stored.username, &server)?;
    let status = authenticate(ctx, &attempt).await?;
    finish(&mut cfg, attempt, status)
}

/// `POST /auth`; the status line to print, and the identity token (if the
/// registry gave one) in place of the password.
async fn authenticate(ctx: &Ctx, attempt: &AuthConfig) -> Result<(String, String)> {
    let body = models::AuthConfig {
        username: Some(attempt.username.clone()),
        password: Some(attempt.password.clone()),
        email: None,
        serveraddress: Some(attempt.serveraddress.clone()),
    };
    let resp = ctx.client.post_json("/auth", &Query::new(), &body).await?;
    let bytes = read_body(resp).await?;
    let answer: models::SystemAuthResponse = if bytes.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("error decoding the daemon's answer: {e}"))?
    };
    Ok((answer.status, answer.identity_token.unwrap_or_default()))
}

/// Stores what worked and prints the daemon's status (`Login Succeeded`).
fn finish(
    cfg: &mut ConfigFile,
    mut a: AuthConfig,
    (status, token): (String, String),
) -> Result<()> {
    if !token.is_empty() {
        a.password.clear();
        a.identitytoken = token;
    }
    let in_file = cfg.helper(&a.serveraddress).is_none();
    cfg.store(&a)
        .map_err(|e| anyhow!("Error saving credentials: {e}"))?;
    cfg.save()?;
    if in_file && !a.password.is_empty() {
        print_err(&format!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n",
            cfg.path().display()
        ));
    }
    if !status.is_empty() {
        print_out(&format!("{status}\n"));
    }
    Ok(())
}

/// The credentials to try: the ones given, with what is missing asked for
/// on the terminal (the user name offering `default_user`).
pub fn prompt(
    username: &str,
    password: &str,
    default_user: &str,
    server: &str,
) -> Result<AuthConfig> {
    let mut username = username.trim().to_string();
    if username.is_empty() {
        let default_user = default_user.trim();
        let msg = if default_user.is_empty() {
            "Username: ".to_string()
        } else {
            format!("Username ({default_user}): ")
        };
        print_out(&msg);
        username = read_line()?.trim().to_string();
        if username.is_empty() {
            username = default_user.to_string();
        }
        if username.is_empty() {
            return Err(anyhow!("Error: Non-null Username Required"));
        }
    }
    let mut password = password.trim().to_string();
    if password.is_empty() {
        let quiet = terminal::NoEcho::enable().map_err(|e| anyhow!("{e}"))?;
        print_out("Password: ");
        let line = read_line();
        drop(quiet);
        print_out("\n");
        password = line?.trim().to_string();
        if password.is_empty() {
            return Err(anyhow!("Error: Password Required"));
        }
    }
    Ok(AuthConfig {
        username,
        password,
        serveraddress: server.to_string(),
        ..Default::default()
    })
}

fn read_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_as_login_names_them() {
        assert_eq!(server_address(None), INDEX_SERVER);
        assert_eq!(server_address(Some("docker.io")), INDEX_SERVER);
        assert_eq!(server_address(Some("127.0.0.1:5055")), "127.0.0.1:5055");
        assert_eq!(
            server_address(Some("http://127.0.0.1:5055/v2/")),
            "127.0.0.1:5055"
        );
        assert_eq!(server_address(Some(INDEX_SERVER)), INDEX_SERVER);
        assert_eq!(
            server_address(Some("https://index.docker.io/v2/")),
            "index.docker.io"
        );
    }

    #[test]
    fn password_from_stdin_loses_one_newline() {
        assert_eq!(password_from("pw\n"), "pw");
        assert_eq!(password_from("pw\r\n"), "pw");
        assert_eq!(password_from("pw\n\n"), "pw\n");
        assert_eq!(password_from(" pw "), " pw ");
    }
}
