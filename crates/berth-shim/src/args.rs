//! Command line of the shim. berthd is the only caller, so the parser is
//! strict and small rather than user-friendly.

use std::ffi::OsString;
use std::path::PathBuf;

pub struct Args {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime: PathBuf,
    pub runtime_root: PathBuf,
    pub socket: PathBuf,
    pub log_path: PathBuf,
    /// 0 = no rotation.
    pub log_max_size: u64,
    pub log_max_files: u32,
    pub exit_file: PathBuf,
    /// cgroup file with an `oom_kill N` line (memory.oom_control or memory.events).
    pub oom_file: Option<PathBuf>,
    pub stdin: bool,
    /// The container gets a pseudo-terminal (`docker run -t`).
    pub tty: bool,
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = OsString>) -> Result<Args, String> {
        let mut id = None;
        let mut bundle = None;
        let mut runtime = None;
        let mut runtime_root = None;
        let mut socket = None;
        let mut log_path = None;
        let mut exit_file = None;
        let mut oom_file = None;
        let mut log_max_size = 0;
        let mut log_max_files = 1;
        let mut stdin = false;
        let mut tty = false;
        while let Some(flag) = it.next() {
            let flag = flag.to_string_lossy().into_owned();
            match flag.as_str() {
                "--stdin" => {
                    stdin = true;
                    continue;
                }
                "--tty" => {
                    tty = true;
                    continue;
                }
                _ => {}
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
                "--id" => id = Some(value.to_string_lossy().into_owned()),
                "--bundle" => bundle = Some(path),
                "--runtime" => runtime = Some(path),
                "--runtime-root" => runtime_root = Some(path),
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
        Ok(Args {
            id: id.ok_or("missing --id")?,
            bundle: need(bundle, "bundle")?,
            runtime: need(runtime, "runtime")?,
            runtime_root: need(runtime_root, "runtime-root")?,
            socket: need(socket, "socket")?,
            log_path: need(log_path, "log-path")?,
            exit_file: need(exit_file, "exit-file")?,
            oom_file,
            log_max_size,
            log_max_files,
            stdin,
            tty,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse(s.split_whitespace().map(OsString::from))
    }

    #[test]
    fn parses_all_flags() {
        let a = parse("--id c1 --bundle /b --runtime runc --runtime-root /r --socket /s --log-path /l --exit-file /e --stdin --log-max-size 100 --log-max-files 3").unwrap();
        assert_eq!(a.id, "c1");
        assert!(a.stdin);
        assert_eq!(a.log_max_size, 100);
        assert_eq!(a.log_max_files, 3);
        assert!(a.oom_file.is_none());
    }

    #[test]
    fn rejects_missing_and_unknown() {
        assert!(parse("--id c1").is_err());
        assert!(parse("--bogus x").is_err());
        assert!(parse("--id").is_err());
        assert!(parse("--log-max-size x").is_err());
    }
}
