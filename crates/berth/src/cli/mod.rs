//! The command line: global options, the command tree (docker's top-level
//! commands plus the `container`/`image`/`system` management forms), and
//! docker-style reporting of parse errors.

pub mod parsers;
pub mod usage;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, Subcommand};

use crate::commands::{
    commit, cp, events, exec, images, inspect, lifecycle, logs, port, prune, ps, run, stats,
    system, top, transfer,
};
use crate::error::StatusError;

/// A self-sufficient runtime for containers.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    disable_version_flag = true,
    disable_help_subcommand = true,
    subcommand_required = false,
    arg_required_else_help = false
)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host")]
    pub host: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a new container from an image
    Run(run::RunArgs),
    /// Create a new container
    Create(run::CreateArgs),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Restart one or more containers
    Restart(lifecycle::StopArgs),
    /// Remove one or more containers
    Rm(lifecycle::RmArgs),
    /// List containers
    Ps(ps::PsArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::NamesArgs),
    /// Pause all processes within one or more containers
    Pause(lifecycle::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::NamesArgs),
    /// Rename a container
    Rename(lifecycle::NamesArgs),
    /// Display the running processes of a container
    Top(top::TopArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(lifecycle::AttachArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(transfer::ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(commit::DiffArgs),
    /// Update configuration of one or more containers
    Update(prune::UpdateArgs),
    /// List port mappings or a specific mapping for the container
    Port(port::PortArgs),
    /// Create a new image from a container's changes
    Commit(commit::CommitArgs),
    /// Return low-level information on objects
    Inspect(inspect::InspectArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Load an image from a tar archive or STDIN
    Load(transfer::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(transfer::SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(transfer::ImportArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Show the version information
    Version(system::VersionArgs),
    /// Display system-wide information
    Info(system::InfoArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage the daemon
    #[command(subcommand)]
    System(SystemCommand),
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(run::RunArgs),
    /// Create a new container
    Create(run::CreateArgs),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Restart one or more containers
    Restart(lifecycle::StopArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(lifecycle::RmArgs),
    /// List containers
    #[command(aliases = ["ps", "list"])]
    Ls(ps::PsArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::NamesArgs),
    /// Pause all processes within one or more containers
    Pause(lifecycle::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::NamesArgs),
    /// Rename a container
    Rename(lifecycle::NamesArgs),
    /// Display the running processes of a container
    Top(top::TopArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(lifecycle::AttachArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(transfer::ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(commit::DiffArgs),
    /// Update configuration of one or more containers
    Update(prune::UpdateArgs),
    /// List port mappings or a specific mapping for the container
    Port(port::PortArgs),
    /// Create a new image from a container's changes
    Commit(commit::CommitArgs),
    /// Display detailed information on one or more containers
    Inspect(inspect::TypedInspectArgs),
    /// Remove all stopped containers
    Prune(prune::PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(images::ImagesArgs),
    /// Remove one or more images
    #[command(aliases = ["remove", "rmi"])]
    Rm(images::RmiArgs),
    /// Load an image from a tar archive or STDIN
    Load(transfer::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(transfer::SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(transfer::ImportArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(inspect::TypedInspectArgs),
    /// Remove unused images
    Prune(prune::PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Display system-wide information
    Info(system::InfoArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// Show docker disk usage
    Df(prune::DfArgs),
    /// Remove unused data
    Prune(prune::SystemPruneArgs),
}

/// The command tree; like pflag, a repeated single-value flag replaces the
/// earlier value instead of being an error.
pub fn command() -> clap::Command {
    fn adjust(cmd: clap::Command, parent: &str) -> clap::Command {
        let path = if parent.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{parent} {}", cmd.get_name())
        };
        let cmd = match usage::spec(&path) {
            Some(_) => cmd.override_usage(usage::usage_line(&path)),
            None => cmd,
        };
        cmd.args_override_self(true)
            .mut_subcommands(|sub| adjust(sub, &path))
    }
    let root = <Cli as clap::CommandFactory>::command()
        .override_usage("berth [OPTIONS] COMMAND [ARG...]")
        .args_override_self(true);
    root.mut_subcommands(|sub| adjust(sub, ""))
}

/// Turns a clap error into docker's wording and exit code; help and version
/// output pass through unchanged.
pub fn parse_error(err: clap::Error, argv: &[String]) -> anyhow::Error {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            StatusError::exit(0, "")
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            StatusError::exit(0, "")
        }
        ErrorKind::InvalidSubcommand => {
            let path = usage::command_path(argv).unwrap_or_default();
            let given = context_str(&err, ContextKind::InvalidSubcommand).unwrap_or_default();
            match path.split_once(' ') {
                Some((group, _)) => StatusError::exit(
                    1,
                    format!(
                        "berth: unknown command: berth {group} {given}\n\nUsage:  berth {group}\n\nRun 'berth {group} --help' for more information"
                    ),
                ),
                None => StatusError::exit(
                    1,
                    format!(
                        "berth: unknown command: berth {given}\n\nRun 'berth --help' for more information"
                    ),
                ),
            }
        }
        ErrorKind::MissingSubcommand => {
            let _ = err.print();
            StatusError::exit(0, "")
        }
        ErrorKind::UnknownArgument => {
            let arg = context_str(&err, ContextKind::InvalidArg).unwrap_or_default();
            // a bad global flag (before the command word) is the top level's
            let before_command = match usage::command_index(argv) {
                Some(ci) => argv[1..ci].iter().any(|a| a.starts_with(arg.as_str())),
                None => true,
            };
            let path = if before_command {
                String::new()
            } else {
                usage::command_path(argv).unwrap_or_default()
            };
            let arg = arg.split('=').next().unwrap_or_default().to_string();
            let msg = if let Some(long) = arg.strip_prefix("--") {
                format!("unknown flag: --{long}")
            } else {
                let flag = arg.trim_start_matches('-');
                let rest = argv
                    .iter()
                    .filter(|a| a.starts_with('-') && !a.starts_with("--"))
                    .find_map(|a| a.find(flag).map(|i| a[i..].to_string()))
                    .unwrap_or_else(|| flag.to_string());
                format!("unknown shorthand flag: '{flag}' in -{rest}")
            };
            top_level_or(&path, &msg)
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let path = usage::command_path(argv).unwrap_or_default();
            let flag = context_str(&err, ContextKind::InvalidArg).unwrap_or_default();
            let flag = flag.split(" <").next().unwrap_or_default().to_string();
            let flag = flag.split('=').next().unwrap_or_default().to_string();
            let value = context_str(&err, ContextKind::InvalidValue).unwrap_or_default();
            if value.is_empty() && std::error::Error::source(&err).is_none() {
                return top_level_or(&path, &needs_argument(&path, &flag, argv));
            }
            let flag = flag_display(&path, &flag);
            let reason = std::error::Error::source(&err)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "invalid value".to_string());
            top_level_or(&path, &usage::invalid_flag_value(&flag, &value, &reason))
        }
        ErrorKind::NoEquals | ErrorKind::TooManyValues | ErrorKind::InvalidUtf8 => {
            let path = usage::command_path(argv).unwrap_or_default();
            top_level_or(&path, &first_line(&err))
        }
        _ => {
            let path = usage::command_path(argv).unwrap_or_default();
            let flag = context_str(&err, ContextKind::InvalidArg).unwrap_or_default();
            if err.kind() == ErrorKind::InvalidValue || !flag.is_empty() {
                let flag = flag.split(" <").next().unwrap_or_default();
                return top_level_or(&path, &format!("flag needs an argument: {flag}"));
            }
            top_level_or(&path, &first_line(&err))
        }
    }
}

/// pflag's `flag needs an argument` for the form the user typed.
fn needs_argument(path: &str, flag: &str, argv: &[String]) -> String {
    let display = flag_display(path, flag);
    if let Some((short, _)) = display.split_once(", ") {
        let c = short.trim_start_matches('-');
        let typed_short = argv
            .iter()
            .rev()
            .find(|a| a.starts_with('-') && !a.starts_with("--") && a.ends_with(c));
        if let Some(tok) = typed_short {
            let rest = &tok[tok.rfind(c).unwrap_or(1)..];
            return format!("flag needs an argument: '{c}' in -{rest}");
        }
    }
    format!("flag needs an argument: {flag}")
}

/// `--memory` as docker names it in messages: `-m, --memory`.
fn flag_display(path: &str, flag: &str) -> String {
    let Some(long) = flag.strip_prefix("--") else {
        return flag.to_string();
    };
    let mut cmd = command();
    for part in path.split(' ').filter(|p| !p.is_empty()) {
        match cmd.find_subcommand(part) {
            Some(sub) => cmd = sub.clone(),
            None => return flag.to_string(),
        }
    }
    let short = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_short());
    match short {
        Some(c) => format!("-{c}, --{long}"),
        None => flag.to_string(),
    }
}

fn first_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string()
}

fn top_level_or(path: &str, msg: &str) -> anyhow::Error {
    if path.is_empty() {
        StatusError::exit(
            125,
            format!("{msg}\n\nUsage:  berth [OPTIONS] COMMAND [ARG...]\n\nRun 'berth --help' for more information"),
        )
    } else {
        usage::flag_error(path, msg)
    }
}

fn context_str(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        other => Some(other.to_string()),
    }
}
