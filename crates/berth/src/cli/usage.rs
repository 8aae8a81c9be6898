//! docker's usage lines and argument/flag error messages, with `berth` as the
//! program name.

use super::table;
use crate::error::StatusError;

/// `berth ps [OPTIONS]`: the usage line of a canonical path, from the table.
pub fn usage_line(path: &str) -> String {
    let args = match table::leaf(path) {
        Some(leaf) => leaf.usage,
        None if table::is_group(path) => "COMMAND",
        None => "",
    };
    if args.is_empty() {
        format!("berth {path}")
    } else {
        format!("berth {path} {args}")
    }
}

/// How many positional arguments a command takes.
#[derive(Debug, Clone, Copy)]
pub enum Arity {
    None,
    Exact(usize),
    Min(usize),
    Max(usize),
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "argument"
    } else {
        "arguments"
    }
}

/// Checks the positional argument count, failing with docker's message.
pub fn check_args(path: &str, arity: Arity, n: usize) -> anyhow::Result<()> {
    let usage = usage_line(path);
    let msg = match arity {
        Arity::None if n > 0 => format!(
            "berth: 'berth {path}' accepts no arguments\n\nUsage:  {usage}\n\nRun 'berth {path} --help' for more information"
        ),
        Arity::Exact(k) if n != k => format!(
            "berth: 'berth {path}' requires {k} {}\n\nUsage:  {usage}\n\nRun 'berth {path} --help' for more information",
            plural(k)
        ),
        Arity::Min(k) if n < k => format!(
            "berth: 'berth {path}' requires at least {k} {}\n\nUsage:  {usage}\n\nSee 'berth {path} --help' for more information",
            plural(k)
        ),
        Arity::Max(k) if n > k => format!(
            "berth: 'berth {path}' requires at most {k} {}\n\nUsage:  {usage}\n\nSRun 'berth {path} --help' for more information",
            plural(k)
        ),
        _ => return Ok(()),
    };
    Err(StatusError::exit(1, msg))
}

/// A flag parsing error (exit 125), e.g. `unknown flag: --foo`.
pub fn flag_error(path: &str, msg: &str) -> anyhow::Error {
    StatusError::exit(
        125,
        format!(
            "{msg}\n\nUsage:  {}\n\nRun 'berth {path} --help' for more information",
            usage_line(path)
        ),
    )
}

/// `invalid argument "x" for "-m, --memory" flag: <reason>`.
pub fn invalid_flag_value(flag: &str, value: &str, reason: &str) -> String {
    format!("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")
}

/// Global flags that take a value (`-H host`).
const GLOBAL_VALUE_FLAGS: &[&str] = &[
    "-H",
    "--host",
    "--log-level",
    "-l",
    "--config",
    "-c",
    "--context",
];

/// The index of the command word in raw arguments, skipping global flags.
pub fn command_index(args: &[String]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if GLOBAL_VALUE_FLAGS.contains(&a.as_str()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

/// Finds the command path (`ps`, `container ls`) in raw arguments, skipping
/// global flags; `None` when no command was given.
pub fn command_path(args: &[String]) -> Option<String> {
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if GLOBAL_VALUE_FLAGS.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        if table::is_group(a) {
            let sub = args[i + 1..].iter().find(|s| !s.starts_with('-'));
            return Some(match sub {
                Some(s) => format!("{a} {}", table::canonical_name(Some(a), s).unwrap_or(s)),
                None => a.clone(),
            });
        }
        return Some(a.clone());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn finds_command_paths() {
        assert_eq!(command_path(&args("berth ps -a")), Some("ps".into()));
        assert_eq!(
            command_path(&args("berth -H unix:///x container ps --foo")),
            Some("container ls".into())
        );
        assert_eq!(
            command_path(&args("berth image rmi x")),
            Some("image rm".into())
        );
        assert_eq!(command_path(&args("berth -D")), None);
        assert_eq!(command_index(&args("berth -H x -D ps -a")), Some(4));
    }

    #[test]
    fn argument_count_messages() {
        let e = check_args("stop", Arity::Min(1), 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "berth: 'berth stop' requires at least 1 argument\n\nUsage:  berth stop [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'berth stop --help' for more information"
        );
        let e = check_args("rename", Arity::Exact(2), 1).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("berth: 'berth rename' requires 2 arguments\n"));
        let e = check_args("container ls", Arity::None, 1).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("berth: 'berth container ls' accepts no arguments\n"));
        assert!(check_args("logs", Arity::Exact(1), 1).is_ok());
        assert!(check_args("images", Arity::Max(1), 2).is_err());
    }

    #[test]
    fn flag_errors() {
        let e = flag_error("ps", "unknown flag: --foo");
        assert_eq!(
            e.to_string(),
            "unknown flag: --foo\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information"
        );
        assert_eq!(
            invalid_flag_value("-m, --memory", "12x", "invalid suffix: 'x'"),
            "invalid argument \"12x\" for \"-m, --memory\" flag: invalid suffix: 'x'"
        );
    }
}
