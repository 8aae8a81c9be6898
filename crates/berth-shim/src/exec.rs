//! Exec processes: `docker exec` runs the runtime's exec command as a child
//! of the shim, so the process is re-parented here like the container's init
//! and its exit is the shim's to record. The runtime runs asynchronously: the
//! poll loop keeps serving the container while it works. The process's
//! output is read only once the runtime has exited successfully, so what the
//! runtime itself prints on a failure never reaches the client as output.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::time::Instant;

use berth_shim::exec_request::ExecRequest;

use crate::fdio::{self, ChildStdio, Pipes, StdinPipe};

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
        let stdio = if let Some(path) = &proc.req.console_socket {
            let _ = fs::remove_file(path);
            proc.console = Some(UnixListener::bind(path)?);
            ChildStdio::null()?
        } else {
            let pipes = Pipes::new(proc.req.stdin)?;
            proc.stdout_r = Some(pipes.stdout_r);
            proc.stderr_r = Some(pipes.stderr_r);
            proc.stdin = pipes.stdin;
            pipes.child
        };
        let mut cmd = fdio::runtime_command(&proc.req.argv, stdio);
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
        let pid = fdio::read_pid_file(&self.req.pid_file)?;
        if let Some(console) = self.console.take() {
            let master = fdio::receive_pty_master(&console)
                .map_err(|e| format!("receive the pty master from the runtime: {e}"))?;
            let (output, input) =
                fdio::pty_ends(&master, self.req.stdin).map_err(|e| format!("pty: {e}"))?;
            self.stdout_r = Some(output);
            self.stdin = StdinPipe::new(input);
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
