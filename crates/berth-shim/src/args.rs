//! Command line of the shim. berthd is the only caller, so the parser is
//! strict and small rather than user-friendly. The runtime's own command
//! lines arrive whole (`--start-arg`, `--delete-arg`, one word each): the
//! shim runs them, it does not know a runtime's flags.

use std::ffi::OsString;
use std::path::PathBuf;

pub struct Args {
    /// Creates and starts the container, detached; argv\[0\] is the binary.
    pub start_argv: Vec<OsString>,
    /// Removes the runtime's state after the exit.
    pub delete_argv: Vec<OsString>,
    /// Where the start argv makes the runtime write the init pid.
    pub pid_file: PathBuf,
    /// The runtime's JSON log, read for its error when a start fails.
    pub runtime_log: PathBuf,
    pub socket: PathBuf,
    /// The json-file log; none means the container keeps no log.
    pub log_path: Option<PathBuf>,
    /// 0 = no rotation.
    pub log_max_size: u64,
    pub log_max_files: u32,
    pub exit_file: PathBuf,
    /// cgroup file with an `oom_kill N` line (memory.oom_control or memory.events).
    pub oom_file: Option<PathBuf>,
    pub stdin: bool,
    /// With a pseudo-terminal (`docker run -t`): where the runtime sends the
    /// pty master, as named in the start argv.
    pub console_socket: Option<PathBuf>,
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = OsString>) -> Result<Args, String> {
        let mut start_argv = Vec::new();
        let mut delete_argv = Vec::new();
        let mut pid_file = None;
        let mut runtime_log = None;
        let mut console_socket = None;
        let mut socket = None;
        let mut log_path = None;
        let mut exit_file = None;
        let mut oom_file = None;
        let mut log_max_size = 0;
        let mut log_max_files = 1;
        let mut stdin = false;
        while let Some(flag) = it.next() {
            let flag = flag.to_string_lossy().into_owned();
            if flag == "--stdin" {
                stdin = true;
                continue;
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let path = PathBuf::from(&value);
            let number = || -> Result<u64, String> {
                value
                    .to_string_lossy()
                    .parse()
                    .map_err(|_| format!("{flag}: not a number"))
            };
            match flag.as_str() {
                "--start-arg" => start_argv.push(value),
                "--delete-arg" => delete_argv.push(value),
                "--pid-file" => pid_file = Some(path),
                "--runtime-log" => runtime_log = Some(path),
                "--console-socket" => console_socket = Some(path),
                "--socket" => socket = Some(path),
                "--log-path" => log_path = Some(path),
                "--exit-file" => exit_file = Some(path),
                "--oom-file" => oom_file = Some(path),
                "--log-max-size" => log_max_size = number()?,
                "--log-max-files" => log_max_files = number()?.max(1) as u32,
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        let need = |v: Option<PathBuf>, name: &str| v.ok_or_else(|| format!("missing --{name}"));
        if start_argv.is_empty() || delete_argv.is_empty() {
            return Err("missing --start-arg or --delete-arg".into());
        }
        Ok(Args {
            start_argv,
            delete_argv,
            pid_file: need(pid_file, "pid-file")?,
            runtime_log: need(runtime_log, "runtime-log")?,
            socket: need(socket, "socket")?,
            log_path,
            exit_file: need(exit_file, "exit-file")?,
            oom_file,
            log_max_size,
            log_max_files,
            stdin,
            console_socket,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse(s.split_whitespace().map(OsString::from))
    }

    const REQUIRED: &str =
        "--start-arg runc --start-arg run --delete-arg runc --delete-arg delete \
        --pid-file /b/init.pid --runtime-log /b/log.json --socket /s --log-path /l --exit-file /e";

    #[test]
    fn parses_all_flags() {
        let a = parse(&format!(
            "{REQUIRED} --stdin --log-max-size 100 --log-max-files 3 --console-socket /s.tty"
        ))
        .unwrap();
        assert_eq!(a.start_argv, ["runc", "run"]);
        assert_eq!(a.delete_argv, ["runc", "delete"]);
        assert!(a.stdin);
        assert_eq!(a.log_max_size, 100);
        assert_eq!(a.log_max_files, 3);
        assert_eq!(
            a.console_socket.as_deref(),
            Some(std::path::Path::new("/s.tty"))
        );
        assert!(a.oom_file.is_none());
        let a = parse(REQUIRED).unwrap();
        assert!(!a.stdin && a.console_socket.is_none() && a.log_max_size == 0);
        let a = parse(&REQUIRED.replace("--log-path /l", "")).unwrap();
        assert!(a.log_path.is_none());
    }

    #[test]
    fn rejects_missing_and_unknown() {
        assert!(parse("--socket /s").is_err());
        assert!(parse(&format!("{REQUIRED} --bogus x")).is_err());
        assert!(parse("--socket").is_err());
        assert!(parse(&format!("{REQUIRED} --log-max-size x")).is_err());
        let no_delete = REQUIRED.replace("--delete-arg runc --delete-arg delete", "");
        assert!(parse(&no_delete).is_err());
    }
}
