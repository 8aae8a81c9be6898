//! The wire protocol between berthd and a container's `berth-shim`.
//!
//! One unix stream socket per shim. Both directions carry frames of
//! `[kind: u8][len: u32 big-endian][payload]`. The shim serves any number of
//! clients; berthd normally holds one control connection per container and
//! reconnects after a restart. The library half has no dependencies so that
//! the shim binary stays small and the daemon can share the constants.

pub mod protocol {
    /// Header size of every frame.
    pub const HEADER_LEN: usize = 5;
    /// Largest payload either side accepts; bigger frames are a protocol error.
    pub const MAX_PAYLOAD: usize = 1 << 20;

    // client -> shim
    /// Subscribe this connection to the container's output and exit.
    pub const ATTACH: u8 = 1;
    /// Bytes for the container's stdin.
    pub const STDIN: u8 = 2;
    /// Close the container's stdin once pending bytes are written.
    pub const CLOSE_STDIN: u8 = 3;
    /// Signal the init process; payload is the signal number as i32 BE.
    pub const KILL: u8 = 4;
    /// Terminal size; payload is rows u16 BE, cols u16 BE.
    pub const RESIZE: u8 = 5;
    /// Ask for a STATUS frame.
    pub const STATUS_REQ: u8 = 6;
    /// Create and start the container (`runc run --detach`).
    pub const START: u8 = 7;
    /// Start an exec process ([`crate::exec_request::ExecRequest`]). The
    /// connection that sends it is bound to that process from then on: its
    /// STDIN, CLOSE_STDIN, RESIZE and KILL frames go to the exec process, and
    /// it receives the process's output and EXEC_EXIT instead of the
    /// container's.
    pub const EXEC: u8 = 8;

    // shim -> client
    pub const STDOUT: u8 = 10;
    pub const STDERR: u8 = 11;
    /// The init process exited; payload is the exit record JSON.
    pub const EXIT: u8 = 12;
    /// Payload: `running <pid>`, `created` or `exited <exit record JSON>`.
    pub const STATUS: u8 = 13;
    /// START succeeded; payload is the init pid as decimal text.
    pub const STARTED: u8 = 14;
    /// START failed; payload is the runtime's error message.
    pub const START_FAILED: u8 = 15;
    /// EXEC succeeded; payload is the exec process's host pid as decimal text.
    pub const EXEC_STARTED: u8 = 16;
    /// EXEC failed; payload is the runtime's error message.
    pub const EXEC_FAILED: u8 = 17;
    /// The exec process exited and its output is drained; payload is the
    /// exit code as decimal text (128 + signal when killed).
    pub const EXEC_EXIT: u8 = 18;

    /// Encodes one frame.
    pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// Splits complete frames off the front of `buf`. Returns `Err` on a frame
    /// larger than [`MAX_PAYLOAD`] (the peer is broken or hostile).
    pub fn take_frame(buf: &mut Vec<u8>) -> Result<Option<(u8, Vec<u8>)>, usize> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(len);
        }
        if buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let kind = buf[0];
        let payload = buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        buf.drain(..HEADER_LEN + len);
        Ok(Some((kind, payload)))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn frames_round_trip_and_split() {
            let mut buf = frame(STDOUT, b"hello");
            buf.extend(frame(EXIT, b"{}"));
            buf.extend_from_slice(&[STDERR, 0, 0]);
            assert_eq!(
                take_frame(&mut buf).unwrap(),
                Some((STDOUT, b"hello".to_vec()))
            );
            assert_eq!(take_frame(&mut buf).unwrap(), Some((EXIT, b"{}".to_vec())));
            assert_eq!(take_frame(&mut buf).unwrap(), None);
            assert_eq!(buf.len(), 3);
        }

        #[test]
        fn oversized_frame_is_an_error() {
            let mut buf = vec![STDIN, 0xff, 0xff, 0xff, 0xff];
            assert!(take_frame(&mut buf).is_err());
        }
    }
}

pub mod exec_request {
    //! The payload of an EXEC frame: NUL-separated words, so paths and
    //! arguments travel as raw bytes without an encoding.

    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::PathBuf;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ExecRequest {
        pub id: String,
        pub tty: bool,
        /// Keep a pipe (or the pty) open for the process's stdin.
        pub stdin: bool,
        /// Where the argv makes the runtime write the process's pid.
        pub pid_file: PathBuf,
        /// The runtime's JSON log for this exec, read for its error.
        pub runtime_log: PathBuf,
        /// Where the shim records the exit code (text) once the process is gone.
        pub exit_file: PathBuf,
        /// With `tty`: where the runtime sends the pty master.
        pub console_socket: Option<PathBuf>,
        /// The runtime's exec command, detached; argv\[0\] is the binary.
        pub argv: Vec<OsString>,
    }

    impl ExecRequest {
        pub fn to_payload(&self) -> Vec<u8> {
            let flags = match (self.tty, self.stdin) {
                (true, true) => "ti",
                (true, false) => "t",
                (false, true) => "i",
                (false, false) => "-",
            };
            let console = self
                .console_socket
                .as_ref()
                .map(|p| p.as_os_str().as_bytes())
                .unwrap_or(b"");
            let mut words: Vec<&[u8]> = vec![
                self.id.as_bytes(),
                flags.as_bytes(),
                self.pid_file.as_os_str().as_bytes(),
                self.runtime_log.as_os_str().as_bytes(),
                self.exit_file.as_os_str().as_bytes(),
                console,
            ];
            words.extend(self.argv.iter().map(|a| a.as_bytes()));
            words.join(&0u8)
        }

        pub fn parse(payload: &[u8]) -> Option<ExecRequest> {
            let mut words = payload.split(|b| *b == 0);
            let id = std::str::from_utf8(words.next()?).ok()?.to_string();
            let flags = words.next()?;
            let path = |w: &[u8]| PathBuf::from(OsString::from_vec(w.to_vec()));
            let pid_file = path(words.next()?);
            let runtime_log = path(words.next()?);
            let exit_file = path(words.next()?);
            let console = words.next()?;
            let argv: Vec<OsString> = words.map(|w| OsString::from_vec(w.to_vec())).collect();
            if id.is_empty() || argv.is_empty() || pid_file.as_os_str().is_empty() {
                return None;
            }
            Some(ExecRequest {
                id,
                tty: flags.contains(&b't'),
                stdin: flags.contains(&b'i'),
                pid_file,
                runtime_log,
                exit_file,
                console_socket: (!console.is_empty()).then(|| path(console)),
                argv,
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trip() {
            let r = ExecRequest {
                id: "abc".into(),
                tty: true,
                stdin: false,
                pid_file: "/run/x/pid".into(),
                runtime_log: "/run/x/log.json".into(),
                exit_file: "/run/x/exit".into(),
                console_socket: Some("/run/x.tty".into()),
                argv: vec!["runc".into(), "exec".into(), "".into(), "a b".into()],
            };
            assert_eq!(ExecRequest::parse(&r.to_payload()), Some(r.clone()));
            let plain = ExecRequest {
                console_socket: None,
                tty: false,
                stdin: true,
                ..r
            };
            assert_eq!(ExecRequest::parse(&plain.to_payload()), Some(plain));
            assert_eq!(ExecRequest::parse(b"only\0two"), None);
        }
    }
}

pub mod exit_record {
    /// What the shim writes to the exit file and sends in EXIT frames. Kept as
    /// hand-written JSON so the shim needs no serde.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ExitRecord {
        pub exit_code: i32,
        pub oom_killed: bool,
        /// RFC 3339 with nanoseconds, UTC.
        pub finished_at: String,
    }

    impl ExitRecord {
        pub fn to_json(&self) -> String {
            format!(
                "{{\"exit_code\":{},\"oom_killed\":{},\"finished_at\":\"{}\"}}",
                self.exit_code, self.oom_killed, self.finished_at
            )
        }

        /// Parses what [`ExitRecord::to_json`] wrote; tolerant of whitespace.
        pub fn parse(text: &str) -> Option<ExitRecord> {
            let field = |name: &str| -> Option<&str> {
                let key = format!("\"{name}\":");
                let start = text.find(&key)? + key.len();
                let rest = text[start..].trim_start();
                let end = rest.find([',', '}']).unwrap_or(rest.len());
                Some(rest[..end].trim())
            };
            Some(ExitRecord {
                exit_code: field("exit_code")?.parse().ok()?,
                oom_killed: field("oom_killed")? == "true",
                finished_at: field("finished_at")?.trim_matches('"').to_string(),
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trip() {
            let r = ExitRecord {
                exit_code: 137,
                oom_killed: true,
                finished_at: "2026-11-22T18:51:09.877847377Z".into(),
            };
            assert_eq!(ExitRecord::parse(&r.to_json()), Some(r));
            assert_eq!(ExitRecord::parse("garbage"), None);
        }
    }
}

pub mod timefmt {
    /// Formats a unix time as RFC 3339 UTC with nanoseconds, trailing zeros
    /// trimmed like Go's `time.RFC3339Nano` (docker's json-file timestamps).
    pub fn rfc3339_nano(secs: i64, nanos: u32) -> String {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut s = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        s.push('Z');
        s
    }

    /// Howard Hinnant's days -> civil date algorithm.
    fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn formats_like_go() {
            assert_eq!(rfc3339_nano(0, 0), "1970-01-01T00:00:00Z");
            assert_eq!(
                rfc3339_nano(1_795_374_669, 877_847_377),
                "2026-11-22T19:11:09.877847377Z"
            );
            assert_eq!(
                rfc3339_nano(951_782_400, 500_000_000),
                "2000-02-29T00:00:00.5Z"
            );
        }
    }
}
