//! Exec processes: `docker exec` runs the runtime's exec command as a child
//! of the shim, so the process is re-parented here like the container's init
//! and its exit is the shim's to record. The runtime runs asynchronously: the
//! poll loop keeps serving the container while it works. The process's
//! output is read only once the runtime has exited successfully, so what the
//! runtime itself prints on a failure never reaches the client as output.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use berth_shim::exec_request::ExecRequest;

use crate::fdio::{self, pipe, set_nonblocking, StdinPipe};

pub struct ExecProc {
    pub req: ExecRequest,
    /// The client connection that started it (see `Client::token`).
    pub owner: u64,
    /// The runtime's exec command, while it runs.
    pub runtime_pid: Option<i32>,
    /// The process itself, once the runtime has reported it.
    pub pid: Option<i32>,
    pub stdout_r: Option<OwnedFd>,
    pub stderr_r: Option<OwnedFd>,
    pub stdin: StdinPipe,
    pub pty: Option<OwnedFd>,
    console: Option<UnixListener>,
    /// A RESIZE that came before the pty existed.
    pending_size: Option<Vec<u8>>,
    /// Exit code and when the process was reaped.
    pub exited: Option<(i32, Instant)>,
}

impl ExecProc {
    /// Spawns the runtime's exec command with fresh pipes (or a console
    /// socket) as the process's stdio.
    pub fn spawn(req: ExecRequest, owner: u64) -> io::Result<ExecProc> {
        let mut proc = ExecProc {
            owner,
            runtime_pid: None,
            pid: None,
            stdout_r: None,
            stderr_r: None,
            stdin: StdinPipe::default(),
            pty: None,
            console: None,
            pending_size: None,
            exited: None,
            req,
        };
        let _ = fs::remove_file(&proc.req.pid_file);
        let null = || {
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
        };
        let (stdin, stdout, stderr): (OwnedFd, OwnedFd, OwnedFd) =
            if let Some(path) = &proc.req.console_socket {
                let _ = fs::remove_file(path);
                let console = UnixListener::bind(path)?;
                proc.console = Some(console);
                (null()?.into(), null()?.into(), null()?.into())
            } else {
                let (out_r, out_w) = pipe()?;
                let (err_r, err_w) = pipe()?;
                set_nonblocking(out_r.as_raw_fd())?;
                set_nonblocking(err_r.as_raw_fd())?;
                proc.stdout_r = Some(out_r);
                proc.stderr_r = Some(err_r);
                let stdin: OwnedFd = if proc.req.stdin {
                    let (r, w) = pipe()?;
                    set_nonblocking(w.as_raw_fd())?;
                    proc.stdin = StdinPipe::new(Some(w));
                    r
                } else {
                    null()?.into()
                };
                (stdin, out_w, err_w)
            };
        let argv = &proc.req.argv;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr));
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
        // The child is reaped by the shim's waitpid loop, not through `Child`.
        let child = cmd.spawn()?;
        proc.runtime_pid = Some(child.id() as i32);
        Ok(proc)
    }

    /// The runtime exited with `status`. Returns the process's pid, or the
    /// runtime's error.
    pub fn on_runtime_exit(&mut self, status: i32) -> Result<i32, String> {
        self.runtime_pid = None;
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            return Err(fdio::runtime_error(
                &self.req.runtime_log,
                format!("runtime exited with status {}", fdio::exit_code(status)),
            ));
        }
        let pid: i32 = fs::read_to_string(&self.req.pid_file)
            .map_err(|e| format!("read pid file: {e}"))?
            .trim()
            .parse()
            .map_err(|e| format!("bad pid file: {e}"))?;
        if let Some(console) = self.console.take() {
            let master = fdio::receive_pty_master(&console)
                .map_err(|e| format!("receive the pty master from the runtime: {e}"))?;
            set_nonblocking(master.as_raw_fd()).map_err(|e| format!("pty: {e}"))?;
            let clone = || master.try_clone().map_err(|e| format!("pty: {e}"));
            self.stdout_r = Some(clone()?);
            if self.req.stdin {
                self.stdin = StdinPipe::new(Some(clone()?));
            }
            if let Some(size) = self.pending_size.take() {
                fdio::set_winsize(&master, &size);
            }
            self.pty = Some(master);
            self.remove_console_socket();
        }
        self.pid = Some(pid);
        self.flush_stdin();
        Ok(pid)
    }

    pub fn resize(&mut self, payload: &[u8]) {
        match &self.pty {
            Some(pty) => fdio::set_winsize(pty, payload),
            None => self.pending_size = Some(payload.to_vec()),
        }
    }

    pub fn write_stdin(&mut self, data: &[u8]) {
        self.stdin.queue(data);
        self.flush_stdin();
    }

    pub fn close_stdin(&mut self) {
        self.stdin.close();
        self.flush_stdin();
    }

    /// Delivers pending stdin once the process exists.
    pub fn flush_stdin(&mut self) {
        if self.pid.is_some() {
            self.stdin.flush();
        }
    }

    pub fn kill(&self, sig: i32) {
        if let (Some(pid), None) = (self.pid, self.exited) {
            // SAFETY: the pid is our unreaped child, so it cannot have been reused.
            unsafe { libc::kill(pid, sig) };
        }
    }

    pub fn drained(&self) -> bool {
        self.stdout_r.is_none() && self.stderr_r.is_none()
    }

    /// Records the exit code for readers that come after the shim is gone.
    pub fn record_exit(&self, code: i32) {
        fdio::write_atomic(&self.req.exit_file, &code.to_string());
    }

    pub fn remove_console_socket(&self) {
        if let Some(path) = &self.req.console_socket {
            let _ = fs::remove_file(path);
        }
    }
}
