//! The command line: global options, the clap tree built from the command
//! table (`table.rs`: docker's top-level commands plus the
//! `container`/`image`/`system` management forms), and docker-style
//! reporting of parse errors.

pub mod parsers;
pub mod table;
pub mod usage;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

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
}

/// The command tree, built from the table: top-level leaves in table order,
/// then each management group with its leaves.
pub fn command() -> clap::Command {
    let mut root = Cli::command().override_usage("berth [OPTIONS] COMMAND [ARG...]");
    for (leaf, path) in table::paths().filter(|(_, p)| p.group.is_none()) {
        root = root.subcommand(leaf_command(leaf, path));
    }
    for group in table::GROUPS {
        let mut cmd = clap::Command::new(group.name)
            .subcommand_required(true)
            .arg_required_else_help(true)
            .about(group.about)
            .long_about(None)
            .override_usage(usage::usage_line(group.name));
        for (leaf, path) in table::paths().filter(|(_, p)| p.group == Some(group.name)) {
            cmd = cmd.subcommand(leaf_command(leaf, path));
        }
        root = root.subcommand(cmd);
    }
    finish(root)
}

fn leaf_command(leaf: &table::Leaf, path: table::Path) -> clap::Command {
    (leaf.args)(clap::Command::new(path.name))
        .about(leaf.about)
        .long_about(None)
        .aliases(path.aliases())
        .override_usage(usage::usage_line(&path.canonical()))
}

/// Like pflag: a repeated single-value flag replaces the earlier value
/// instead of being an error, and help lists flags by name (`--help` last).
fn finish(cmd: clap::Command) -> clap::Command {
    let mut flags: Vec<(bool, String, String)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            Some((long == "help", long.to_string(), a.get_id().to_string()))
        })
        .collect();
    flags.sort();
    let mut cmd = cmd.args_override_self(true);
    for (rank, (_, _, id)) in flags.iter().enumerate() {
        cmd = cmd.mut_arg(id, |a| a.display_order(rank));
    }
    cmd.mut_subcommands(finish)
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
            // clap names a flag with an optional value `--ipv6[=<IPV6>]`
            let flag = flag
                .split([' ', '['])
                .next()
                .unwrap_or_default()
                .to_string();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_path_and_alias_reaches_its_leaf() {
        for (leaf, path) in table::paths() {
            for name in std::iter::once(path.name).chain(path.aliases()) {
                let mut argv = vec!["berth"];
                argv.extend(path.group);
                argv.push(name);
                let m = command().try_get_matches_from(&argv).unwrap();
                let (found, canonical, _) = table::selected(&m).unwrap();
                assert!(std::ptr::eq(found, leaf), "{argv:?}");
                assert_eq!(canonical, path.canonical(), "{argv:?}");
            }
        }
    }

    #[test]
    fn optional_value_flags_are_named_plainly() {
        let argv: Vec<String> = ["berth", "network", "create", "--ipv6=maybe", "n"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let err = command().try_get_matches_from(&argv).unwrap_err();
        let msg = parse_error(err, &argv).to_string();
        assert!(
            msg.starts_with("invalid argument \"maybe\" for \"--ipv6\" flag: strconv.ParseBool"),
            "{msg}"
        );
    }

    #[test]
    fn usage_lines_come_from_the_table() {
        let help = |argv: &[&str]| match command().try_get_matches_from(argv) {
            Err(e) => e.render().to_string(),
            Ok(_) => String::new(),
        };
        let h = help(&["berth", "container", "stats", "--help"]);
        assert!(
            h.contains("Usage: berth container stats [OPTIONS] [CONTAINER...]\n"),
            "{h}"
        );
        let h = help(&["berth", "image", "--help"]);
        assert!(h.contains("Usage: berth image COMMAND\n"), "{h}");
    }
}
