//! docker's usage lines and argument/flag error messages, with `berth` as the
//! program name.

use crate::error::StatusError;

/// A command's path (`ps`, `container ls`) and its usage arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub path: &'static str,
    pub args: &'static str,
}

#[rustfmt::skip]
const SPECS: &[Spec] = &[
    Spec { path: "run", args: "[OPTIONS] IMAGE [COMMAND] [ARG...]" },
    Spec { path: "create", args: "[OPTIONS] IMAGE [COMMAND] [ARG...]" },
    Spec { path: "start", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "stop", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "kill", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "restart", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "rm", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "ps", args: "[OPTIONS]" },
    Spec { path: "logs", args: "[OPTIONS] CONTAINER" },
    Spec { path: "wait", args: "CONTAINER [CONTAINER...]" },
    Spec { path: "pause", args: "CONTAINER [CONTAINER...]" },
    Spec { path: "unpause", args: "CONTAINER [CONTAINER...]" },
    Spec { path: "rename", args: "CONTAINER NEW_NAME" },
    Spec { path: "top", args: "CONTAINER [ps OPTIONS]" },
    Spec { path: "exec", args: "[OPTIONS] CONTAINER COMMAND [ARG...]" },
    Spec { path: "attach", args: "[OPTIONS] CONTAINER" },
    Spec { path: "stats", args: "[OPTIONS] [CONTAINER...]" },
    Spec { path: "events", args: "[OPTIONS]" },
    Spec { path: "cp", args: "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-" },
    Spec { path: "export", args: "[OPTIONS] CONTAINER" },
    Spec { path: "diff", args: "CONTAINER" },
    Spec { path: "update", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "system df", args: "[OPTIONS]" },
    Spec { path: "port", args: "CONTAINER [PRIVATE_PORT[/PROTO]]" },
    Spec { path: "commit", args: "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]" },
    Spec { path: "inspect", args: "[OPTIONS] NAME|ID [NAME|ID...]" },
    Spec { path: "images", args: "[OPTIONS] [REPOSITORY[:TAG]]" },
    Spec { path: "load", args: "[OPTIONS]" },
    Spec { path: "save", args: "[OPTIONS] IMAGE [IMAGE...]" },
    Spec { path: "import", args: "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]" },
    Spec { path: "tag", args: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]" },
    Spec { path: "rmi", args: "[OPTIONS] IMAGE [IMAGE...]" },
    Spec { path: "history", args: "[OPTIONS] IMAGE" },
    Spec { path: "version", args: "[OPTIONS]" },
    Spec { path: "info", args: "[OPTIONS]" },
    Spec { path: "container", args: "COMMAND" },
    Spec { path: "container run", args: "[OPTIONS] IMAGE [COMMAND] [ARG...]" },
    Spec { path: "container create", args: "[OPTIONS] IMAGE [COMMAND] [ARG...]" },
    Spec { path: "container start", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "container stop", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "container kill", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "container restart", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "container rm", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "container ls", args: "[OPTIONS]" },
    Spec { path: "container logs", args: "[OPTIONS] CONTAINER" },
    Spec { path: "container wait", args: "CONTAINER [CONTAINER...]" },
    Spec { path: "container pause", args: "CONTAINER [CONTAINER...]" },
    Spec { path: "container unpause", args: "CONTAINER [CONTAINER...]" },
    Spec { path: "container rename", args: "CONTAINER NEW_NAME" },
    Spec { path: "container top", args: "CONTAINER [ps OPTIONS]" },
    Spec { path: "container exec", args: "[OPTIONS] CONTAINER COMMAND [ARG...]" },
    Spec { path: "container attach", args: "[OPTIONS] CONTAINER" },
    Spec { path: "container inspect", args: "[OPTIONS] CONTAINER [CONTAINER...]" },
    Spec { path: "image", args: "COMMAND" },
    Spec { path: "image ls", args: "[OPTIONS] [REPOSITORY[:TAG]]" },
    Spec { path: "image rm", args: "[OPTIONS] IMAGE [IMAGE...]" },
    Spec { path: "image load", args: "[OPTIONS]" },
    Spec { path: "image save", args: "[OPTIONS] IMAGE [IMAGE...]" },
    Spec { path: "image import", args: "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]" },
    Spec { path: "image tag", args: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]" },
    Spec { path: "image history", args: "[OPTIONS] IMAGE" },
    Spec { path: "image inspect", args: "[OPTIONS] IMAGE [IMAGE...]" },
    Spec { path: "system", args: "COMMAND" },
    Spec { path: "system info", args: "[OPTIONS]" },
];

/// Management command aliases mapped to their canonical names.
fn canonical(group: &str, name: &str) -> String {
    let name = match (group, name) {
        ("container", "ps" | "list") => "ls",
        ("container", "remove") => "rm",
        ("image", "list") => "ls",
        ("image", "remove" | "rmi") => "rm",
        (_, n) => n,
    };
    name.to_string()
}

/// The spec for a command path, if known.
pub fn spec(path: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.path == path)
}

/// `berth ps [OPTIONS]`.
pub fn usage_line(path: &str) -> String {
    match spec(path) {
        Some(s) if !s.args.is_empty() => format!("berth {} {}", s.path, s.args),
        _ => format!("berth {path}"),
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
        if matches!(a.as_str(), "container" | "image" | "system") {
            let sub = args[i + 1..].iter().find(|s| !s.starts_with('-'));
            return Some(match sub {
                Some(s) => format!("{a} {}", canonical(a, s)),
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
