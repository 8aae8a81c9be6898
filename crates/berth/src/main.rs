//! `berth`: a docker-compatible command line client for berthd. It talks only
//! to the daemon's Docker Engine API and matches the docker CLI's commands,
//! output, messages and exit codes.

mod auth;
mod cli;
mod client;
mod commands;
mod error;
mod format;
mod reference;
mod stream;

use clap::{ArgMatches, FromArgMatches};

use crate::cli::Cli;
use crate::client::{host, Client};
use crate::error::StatusError;

fn main() {
    // Die quietly on a closed stdout pipe (`berth logs x | head`), like Go
    // programs writing to fd 1/2.
    // SAFETY: resetting a signal disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let parsed = cli::command()
        .try_get_matches_from(&argv)
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let code = match parsed {
        Err(e) => report(cli::parse_error(e, &argv)),
        Ok((cli, matches)) => run(cli, &matches),
    };
    std::process::exit(code);
}

fn run(cli: Cli, matches: &ArgMatches) -> i32 {
    if cli.version {
        println!("{}", commands::version::short_version());
        return 0;
    }
    let Some((leaf, path, leaf_matches)) = cli::table::selected(matches) else {
        let _ = cli::command().print_help();
        return 0;
    };
    let addr = host::select(cli.host.as_deref(), |v| std::env::var(v).ok());
    let client = match Client::new(&addr) {
        Ok(c) => c,
        Err(e) => return report(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(e.into()),
    };
    match runtime.block_on(commands::dispatch(client, leaf, &path, leaf_matches)) {
        Ok(()) => 0,
        Err(e) => report(e),
    }
}

/// Prints an error the way docker does and returns the exit code.
fn report(err: anyhow::Error) -> i32 {
    match err.downcast_ref::<StatusError>() {
        Some(s) => {
            if !s.message.is_empty() {
                commands::print_err(&format!("{}\n", s.message));
            }
            s.code
        }
        None => {
            commands::print_err(&format!("{}\n", error::message(&err)));
            1
        }
    }
}
