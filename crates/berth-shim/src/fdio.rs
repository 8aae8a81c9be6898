//! Descriptor plumbing shared by the container's and the exec processes'
//! stdio: pipes, non-blocking reads and writes, and the pty master that the
//! runtime hands over a console socket.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The ends of its stdio a process started by the runtime gets.
pub struct ChildStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

impl ChildStdio {
    /// All three on /dev/null: with a terminal the runtime gives the
    /// process the pty's slave side and its own stdio is unused.
    pub fn null() -> io::Result<ChildStdio> {
        let null = || {
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
        };
        Ok(ChildStdio {
            stdin: null()?.into(),
            stdout: null()?.into(),
            stderr: null()?.into(),
        })
    }
}

/// A process's stdio as pipes: the process's ends, and the shim's
/// (non-blocking) read ends of stdout and stderr and write end of stdin.
pub struct Pipes {
    pub child: ChildStdio,
    pub stdout_r: OwnedFd,
    pub stderr_r: OwnedFd,
    pub stdin: StdinPipe,
}

impl Pipes {
    /// Without `with_stdin` the process reads /dev/null.
    pub fn new(with_stdin: bool) -> io::Result<Pipes> {
        let (stdout_r, stdout) = pipe()?;
        let (stderr_r, stderr) = pipe()?;
        set_nonblocking(stdout_r.as_raw_fd())?;
        set_nonblocking(stderr_r.as_raw_fd())?;
        let (stdin, stdin_w) = if with_stdin {
            let (r, w) = pipe()?;
            set_nonblocking(w.as_raw_fd())?;
            (r, Some(w))
        } else {
            (OwnedFd::from(fs::File::open("/dev/null")?), None)
        };
        Ok(Pipes {
            child: ChildStdio {
                stdin,
                stdout,
                stderr,
            },
            stdout_r,
            stderr_r,
            stdin: StdinPipe::new(stdin_w),
        })
    }
}

/// The runtime's command (`argv[0]` is the binary) with `stdio`, and the
/// signal mask and SIGPIPE disposition a fresh process expects (the shim
/// blocks and ignores them for itself).
pub fn runtime_command(argv: &[OsString], stdio: ChildStdio) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::from(stdio.stdin))
        .stdout(Stdio::from(stdio.stdout))
        .stderr(Stdio::from(stdio.stderr));
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
    cmd
}

/// The pid the runtime wrote.
pub fn read_pid_file(path: &Path) -> Result<i32, String> {
    fs::read_to_string(path)
        .map_err(|e| format!("read pid file: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("bad pid file: {e}"))
}

/// The shim's ends of a pty master, made non-blocking: output, and with
/// `with_stdin` input (the same terminal, one stream, as docker logs it).
pub fn pty_ends(master: &OwnedFd, with_stdin: bool) -> io::Result<(OwnedFd, Option<OwnedFd>)> {
    set_nonblocking(master.as_raw_fd())?;
    let input = if with_stdin {
        Some(master.try_clone()?)
    } else {
        None
    };
    Ok((master.try_clone()?, input))
}

/// What a non-blocking read gave.
pub enum ReadOutcome {
    Data(usize),
    /// Nothing to read right now.
    Again,
    /// End of file or an error: the descriptor is done.
    Closed,
}

/// One non-blocking read into `buf`.
pub fn read_some(fd: &OwnedFd, buf: &mut [u8]) -> ReadOutcome {
    // SAFETY: reading into a live buffer of the given size.
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
        )
    };
    if n > 0 {
        ReadOutcome::Data(n as usize)
    } else if n < 0 && would_block() {
        ReadOutcome::Again
    } else {
        ReadOutcome::Closed
    }
}

/// Writes as much of `pending` as the descriptor takes without blocking.
/// Returns false when the reader is gone (nothing more can be delivered).
pub fn write_pending(fd: &OwnedFd, pending: &mut Vec<u8>) -> bool {
    while !pending.is_empty() {
        // SAFETY: writing from a live buffer.
        let n = unsafe {
            libc::write(
                fd.as_raw_fd(),
                pending.as_ptr() as *const libc::c_void,
                pending.len(),
            )
        };
        if n > 0 {
            pending.drain(..n as usize);
        } else if n < 0 && would_block() {
            return true;
        } else {
            pending.clear();
            return false;
        }
    }
    true
}

/// Accepts runc's connection on the console socket and takes the pty
/// master it sends as SCM_RIGHTS. runc has exited by now, so the
/// connection is already waiting.
pub fn receive_pty_master(console: &UnixListener) -> io::Result<OwnedFd> {
    console.set_nonblocking(false)?;
    let (conn, _) = console.accept()?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut name = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: name.as_mut_ptr() as *mut libc::c_void,
        iov_len: name.len(),
    };
    // Room for one fd's control message, aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: msghdr points at live buffers of the sizes given.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: recvmsg into the buffers described by msg.
    let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: walking the control messages the kernel wrote into `control`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
                return Ok(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no file descriptor in the message",
    ))
}

pub fn raw_or_neg(fd: &Option<OwnedFd>) -> RawFd {
    fd.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1)
}

pub fn would_block() -> bool {
    io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A process's stdin as the shim feeds it: bytes queue while the pipe is
/// full, and a close request waits until they are written.
#[derive(Default)]
pub struct StdinPipe {
    pub fd: Option<OwnedFd>,
    pending: Vec<u8>,
    closing: bool,
}

impl StdinPipe {
    pub fn new(fd: Option<OwnedFd>) -> StdinPipe {
        StdinPipe {
            fd,
            ..StdinPipe::default()
        }
    }

    /// Whether poll should wait for the pipe to take more.
    pub fn wants_write(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn queue(&mut self, data: &[u8]) {
        if self.fd.is_some() && !self.closing {
            self.pending.extend_from_slice(data);
        }
    }

    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Writes what the pipe takes; drops it once closed and drained, or
    /// when the reader is gone (nothing more can be delivered). With a pty
    /// the descriptor is a copy of the master, so only our input side goes.
    pub fn flush(&mut self) {
        let Some(fd) = self.fd.as_ref() else {
            self.pending.clear();
            return;
        };
        if !write_pending(fd, &mut self.pending) {
            self.fd = None;
            return;
        }
        if self.closing && self.pending.is_empty() {
            self.fd = None;
        }
    }
}

/// Sets a terminal's size from a RESIZE payload (rows, cols as u16 BE).
pub fn set_winsize(pty: &OwnedFd, payload: &[u8]) {
    let [r0, r1, c0, c1] = payload else { return };
    let size = libc::winsize {
        ws_row: u16::from_be_bytes([*r0, *r1]),
        ws_col: u16::from_be_bytes([*c0, *c1]),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer.
    unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &size) };
}

/// The last error line of a runtime's JSON log, or a fallback.
pub fn runtime_error(log: &std::path::Path, fallback: String) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| l.contains("\"level\":\"error\""))
        .map(str::to_string)
        .unwrap_or(fallback)
}

/// Writes `text` to `path` so that a reader sees all of it or nothing, and
/// durably (temp file, fsync, rename, fsync of the directory): berthd may
/// act on an exit record at once, and it must survive a power cut too.
pub fn write_atomic(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    if written.is_ok() && std::fs::rename(&tmp, path).is_ok() {
        if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
            let _ = dir.sync_all();
        }
    }
}

/// 128 + signal for a killed process, like a shell.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}
