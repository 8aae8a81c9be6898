//! The runc driver: `runc --root R --log-format json <command>`, blocking.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::{OciRuntime, RuntimeState, RuntimeStatus};
use crate::error::{Error, Result};

/// Drives the runc binary (crun takes the same arguments).
#[derive(Debug, Clone)]
pub struct Runc {
    binary: PathBuf,
    root: PathBuf,
}

/// One line of runc's `--log-format json` output.
#[derive(Deserialize)]
struct LogLine {
    #[serde(default)]
    level: String,
    #[serde(default)]
    msg: String,
}

/// runc's last error message in `text` (its json log, or its stderr, which
/// holds json lines and/or the plain message). Falls back to the last
/// non-empty line.
fn last_error(text: &str) -> Option<String> {
    let mut last_err = None;
    let mut last_line = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<LogLine>(line) {
            Ok(l)
                if matches!(l.level.as_str(), "error" | "fatal" | "panic") && !l.msg.is_empty() =>
            {
                last_err = Some(l.msg);
            }
            Ok(_) => {}
            Err(_) => last_line = Some(line.to_string()),
        }
    }
    last_err.or(last_line)
}

/// The last error runc wrote to a `--log` file (for the shim, after a
/// failed `run`/`create`/`exec`). `None` if the file is missing or holds no
/// error.
pub fn last_error_from_log(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    // A runaway log: only its tail matters.
    let tail = &text[text.len().saturating_sub(64 << 10)..];
    last_error(&String::from_utf8_lossy(tail))
}

/// runc's rule for container ids (`^[\w+-\.]+$`), and never a flag.
fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid container id {id:?}")))
    }
}

impl Runc {
    /// `binary`: the runc executable; `root`: its `--root` state directory.
    pub fn new(binary: PathBuf, root: PathBuf) -> Self {
        Runc { binary, root }
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `binary --root R [--log L] --log-format json`.
    fn global_args(&self, log: Option<&Path>) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            self.binary.clone().into(),
            "--root".into(),
            self.root.clone().into(),
        ];
        if let Some(l) = log {
            v.push("--log".into());
            v.push(l.into());
        }
        v.push("--log-format".into());
        v.push("json".into());
        v
    }

    /// The log file the shim-run commands write to (containerd's layout).
    pub fn bundle_log(bundle: &Path) -> PathBuf {
        bundle.join("log.json")
    }

    /// Runs `runc --root R --log-format json <args>`; stdout on success,
    /// runc's last error message otherwise.
    fn run(&self, id: &str, args: &[&OsStr]) -> Result<Vec<u8>> {
        self.run_with_input(id, args, b"")
    }

    /// Runs runc with `input` on its stdin.
    fn run_with_input(&self, id: &str, args: &[&OsStr], input: &[u8]) -> Result<Vec<u8>> {
        validate_id(id)?;
        let argv = self.global_args(None);
        let command = args
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        let exec_err = |source| Error::RuntimeExec {
            binary: self.binary.clone(),
            source,
        };
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .args(args)
            .stdin(if input.is_empty() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(exec_err)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A runtime that exits without reading gets EPIPE here; its
            // exit status says what went wrong.
            let _ = std::io::Write::write_all(&mut stdin, input);
        }
        let out = child.wait_with_output().map_err(exec_err)?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = last_error(&stderr).unwrap_or_else(|| format!("exited with {}", out.status));
        tracing::debug!(command, id, %message, "runc failed");
        if message.contains("container does not exist") {
            return Err(Error::NotFound(id.to_string()));
        }
        Err(Error::Runtime { command, message })
    }
}

#[derive(Deserialize)]
struct StateJson {
    status: String,
    #[serde(default)]
    pid: i32,
    #[serde(default)]
    bundle: PathBuf,
}

fn parse_state(command: &str, out: &[u8]) -> Result<RuntimeState> {
    let s: StateJson = serde_json::from_slice(out).map_err(|e| Error::RuntimeOutput {
        command: command.into(),
        detail: e.to_string(),
    })?;
    let status = serde_json::from_value(serde_json::Value::String(s.status.clone()))
        .unwrap_or(RuntimeStatus::Unknown(s.status));
    Ok(RuntimeState {
        status,
        pid: s.pid,
        bundle: s.bundle,
    })
}

/// A fresh file for a runtime input, next to the runtime's state.
fn parse_pids(command: &str, out: &[u8]) -> Result<Vec<i32>> {
    let pids: Option<Vec<i32>> = serde_json::from_slice(out).map_err(|e| Error::RuntimeOutput {
        command: command.into(),
        detail: e.to_string(),
    })?;
    Ok(pids.unwrap_or_default())
}

impl OciRuntime for Runc {
    fn pause(&self, id: &str) -> Result<()> {
        self.run(id, &["pause".as_ref(), id.as_ref()]).map(drop)
    }

    fn resume(&self, id: &str) -> Result<()> {
        self.run(id, &["resume".as_ref(), id.as_ref()]).map(drop)
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let sig = signal.to_string();
        let mut args: Vec<&OsStr> = vec!["kill".as_ref()];
        if all {
            args.push("--all".as_ref());
        }
        args.push(id.as_ref());
        args.push(sig.as_ref());
        self.run(id, &args).map(drop)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut args: Vec<&OsStr> = vec!["delete".as_ref()];
        if force {
            args.push("--force".as_ref());
        }
        args.push(id.as_ref());
        self.run(id, &args).map(drop)
    }

    /// `runc list`, without running it: runc keeps one directory per
    /// container under its root, and the root also holds our own update
    /// files (dot files), which are not containers.
    fn list(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Runtime {
                    command: "list".into(),
                    message: e.to_string(),
                })
            }
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| validate_id(n).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// `runc update --resources <file> ID`.
    fn update(&self, id: &str, resources: &serde_json::Value) -> Result<()> {
        // On stdin, not in a file: a daemon killed mid-update leaves no
        // scratch file behind.
        self.run_with_input(
            id,
            &[
                "update".as_ref(),
                "--resources".as_ref(),
                "-".as_ref(),
                id.as_ref(),
            ],
            resources.to_string().as_bytes(),
        )
        .map(drop)
    }

    fn state(&self, id: &str) -> Result<RuntimeState> {
        let out = self.run(id, &["state".as_ref(), id.as_ref()])?;
        parse_state("state", &out)
    }

    fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let out = self.run(
            id,
            &[
                "ps".as_ref(),
                "--format".as_ref(),
                "json".as_ref(),
                id.as_ref(),
            ],
        )?;
        parse_pids("ps", &out)
    }

    /// `runc --root R --log B/log.json --log-format json run --detach
    /// --pid-file P [--console-socket S] --bundle B ID`.
    fn run_detached_argv(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        let mut v = self.global_args(Some(&Self::bundle_log(bundle)));
        v.extend([
            "run".into(),
            "--detach".into(),
            "--pid-file".into(),
            pid_file.into(),
        ]);
        if let Some(s) = console_socket {
            v.extend(["--console-socket".into(), s.into()]);
        }
        v.extend(["--bundle".into(), bundle.into(), id.into()]);
        v
    }

    /// `runc --root R --log L --log-format json exec --process P --detach
    /// --pid-file F [--console-socket S] ID`.
    fn exec_argv(
        &self,
        id: &str,
        process_json: &Path,
        pid_file: &Path,
        log: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        let mut v = self.global_args(Some(log));
        v.extend([
            "exec".into(),
            "--process".into(),
            process_json.into(),
            "--detach".into(),
            "--pid-file".into(),
            pid_file.into(),
        ]);
        if let Some(s) = console_socket {
            v.extend(["--console-socket".into(), s.into()]);
        }
        v.push(id.into());
        v
    }

    fn delete_argv(&self, id: &str) -> Vec<OsString> {
        let mut v = self.global_args(None);
        v.extend(["delete".into(), "--force".into(), id.into()]);
        v
    }

    fn log_file(&self, bundle: &Path) -> PathBuf {
        Self::bundle_log(bundle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn run_detached_argv() {
        let r = Runc::new("/usr/sbin/runc".into(), "/run/berth/runc".into());
        let b = Path::new("/run/berth/c/abc");
        assert_eq!(
            strs(&r.run_detached_argv("abc", b, &b.join("init.pid"), None)),
            [
                "/usr/sbin/runc",
                "--root",
                "/run/berth/runc",
                "--log",
                "/run/berth/c/abc/log.json",
                "--log-format",
                "json",
                "run",
                "--detach",
                "--pid-file",
                "/run/berth/c/abc/init.pid",
                "--bundle",
                "/run/berth/c/abc",
                "abc"
            ]
        );
        let v = strs(&r.run_detached_argv(
            "abc",
            b,
            &b.join("init.pid"),
            Some(Path::new("/tmp/s.sock")),
        ));
        assert_eq!(
            &v[11..],
            [
                "--console-socket",
                "/tmp/s.sock",
                "--bundle",
                "/run/berth/c/abc",
                "abc"
            ]
        );
    }

    #[test]
    fn delete_argv_forces() {
        let r = Runc::new("runc".into(), "/r".into());
        assert_eq!(
            strs(&r.delete_argv("abc")),
            [
                "runc",
                "--root",
                "/r",
                "--log-format",
                "json",
                "delete",
                "--force",
                "abc"
            ]
        );
        assert_eq!(r.log_file(Path::new("/b")), Path::new("/b/log.json"));
    }

    #[test]
    fn exec_argv() {
        let r = Runc::new("runc".into(), "/r".into());
        assert_eq!(
            strs(&r.exec_argv(
                "c1",
                Path::new("/b/p.json"),
                Path::new("/b/e1.pid"),
                Path::new("/b/e1.log"),
                Some(Path::new("/s"))
            )),
            [
                "runc",
                "--root",
                "/r",
                "--log",
                "/b/e1.log",
                "--log-format",
                "json",
                "exec",
                "--process",
                "/b/p.json",
                "--detach",
                "--pid-file",
                "/b/e1.pid",
                "--console-socket",
                "/s",
                "c1"
            ]
        );
    }

    #[test]
    fn error_parsing() {
        let json = "{\"level\":\"warning\",\"msg\":\"meh\",\"time\":\"x\"}\n{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"x\"}\n";
        assert_eq!(
            last_error(json).as_deref(),
            Some("container does not exist")
        );
        assert_eq!(
            last_error("container not running\n").as_deref(),
            Some("container not running")
        );
        assert_eq!(
            last_error("time=\"x\" level=error msg=\"boom\"\nplain final\n").as_deref(),
            Some("plain final")
        );
        assert_eq!(last_error("\n\n"), None);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log.json");
        std::fs::write(&log, json).unwrap();
        assert_eq!(
            last_error_from_log(&log).as_deref(),
            Some("container does not exist")
        );
        assert_eq!(last_error_from_log(&dir.path().join("nope")), None);
    }

    #[test]
    fn ids_are_validated() {
        for bad in ["", ".", "..", "-rf", "--help", "a/b", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        for good in ["abc", "a.b-c_d+e", "9fbf3c1224e3"] {
            assert!(validate_id(good).is_ok());
        }
        let r = Runc::new("/bin/false".into(), "/nonexistent".into());
        assert!(matches!(
            r.kill("--all", 9, false),
            Err(Error::InvalidSpec(_))
        ));
    }

    #[test]
    fn state_and_ps_output() {
        let s = parse_state(
            "state",
            br#"{"ociVersion":"1.0.2-dev","id":"x","pid":42,"status":"running","bundle":"/b","rootfs":"/r","created":"t","owner":""}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            RuntimeState {
                status: RuntimeStatus::Running,
                pid: 42,
                bundle: "/b".into()
            }
        );
        let s = parse_state("state", br#"{"status":"weird","pid":0}"#).unwrap();
        assert_eq!(s.status, RuntimeStatus::Unknown("weird".into()));
        assert!(parse_state("state", b"not json").is_err());
        assert_eq!(parse_pids("ps", b"null").unwrap(), Vec::<i32>::new());
        assert_eq!(parse_pids("ps", b"[1,2]").unwrap(), vec![1, 2]);
        assert!(parse_pids("ps", b"[\"x\"]").is_err());
    }

    #[test]
    fn missing_binary_and_failing_binary() {
        let r = Runc::new("/nonexistent/runc".into(), "/tmp".into());
        assert!(matches!(r.pause("abc"), Err(Error::RuntimeExec { .. })));
        // `false` fails without output: the exit status is the message.
        let r = Runc::new("/bin/false".into(), "/tmp".into());
        match r.resume("abc") {
            Err(Error::Runtime { command, message }) => {
                assert_eq!(command, "resume");
                assert!(message.contains("exit"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
