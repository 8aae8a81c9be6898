//! berth-shim: the per-container supervisor.
//!
//! berthd spawns one shim per container start. The shim forks once and the
//! parent exits at once, so the worker is not berthd's child; it starts its own
//! session and becomes a child subreaper, so the container's init (re-parented
//! from runc) is reaped here and its exit status is ours to record. The shim is
//! single-threaded: one poll loop over a signalfd, its control socket, the
//! container's stdio pipes and its clients. It writes the json-file log whether
//! or not anybody listens, records the exit durably (temp file + rename), tells
//! every connected client, runs `runc delete` and exits.
//!
//! berthd can die and come back at any time: output keeps going to the log, and
//! a reconnecting client asks for STATUS and re-subscribes with ATTACH.

mod args;
mod exec;
mod fdio;
mod log;

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_shim::exec_request::ExecRequest;
use berth_shim::exit_record::ExitRecord;
use berth_shim::protocol::{self, frame, take_frame};

use args::Args;
use exec::ExecProc;
use fdio::{raw_or_neg, read_some, ChildStdio, Pipes, ReadOutcome, StdinPipe};
use log::{now_rfc3339, LogWriter, Stream};

/// Clients that stop reading are dropped once this much output is queued.
const MAX_CLIENT_BACKLOG: usize = 16 << 20;
/// Niceness of the runtime cleanup after an exit.
const CLEANUP_NICE: libc::c_int = 10;
/// After init exits, how long other holders of the stdio pipes may keep them open.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// Exit statuses kept for children reaped before their pid was known.
const MAX_EARLY_REAPED: usize = 4096;
/// Exit code reported for an exec process still there when the container ends
/// (the kernel kills it with the container's pid namespace).
const KILLED_WITH_CONTAINER: i32 = 137;
/// A shim that was never started and that no client reaches for this long
/// gives up: the berthd that spawned it died before it could connect.
const ORPHAN_GRACE: Duration = Duration::from_secs(10);

fn main() {
    let args = match Args::parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            println!("ERROR {e}");
            std::process::exit(2);
        }
    };
    // SAFETY: single-threaded at this point; the parent only exits.
    match unsafe { libc::fork() } {
        -1 => {
            println!("ERROR fork: {}", io::Error::last_os_error());
            std::process::exit(1);
        }
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain syscalls without pointers.
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let shim = match Shim::new(args) {
        Ok(s) => s,
        Err(e) => {
            println!("ERROR {e}");
            std::process::exit(1);
        }
    };
    // berthd may have died since it spawned us: a closed pipe is no reason
    // to stop (println! would panic). Unreached, we give up on our own.
    let mut out = io::stdout();
    let _ = writeln!(out, "READY");
    let _ = out.flush();
    detach_stdio();
    shim.run();
}

/// Points fds 0-2 at /dev/null so berthd's pipe closes and stray writes go nowhere.
fn detach_stdio() {
    if let Ok(null) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

enum State {
    Created,
    Running {
        pid: i32,
    },
    /// init was reaped; waiting for the pipes to drain before reporting.
    Exiting {
        code: i32,
        since: Instant,
    },
}

struct Client {
    /// Stable identity: indexes shift as clients come and go.
    token: u64,
    stream: UnixStream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    attached: bool,
    /// The exec process this connection started, if any.
    exec: Option<String>,
    dead: bool,
}

impl Client {
    fn send(&mut self, kind: u8, payload: &[u8]) {
        if self.wbuf.len() > MAX_CLIENT_BACKLOG {
            self.dead = true;
            return;
        }
        self.wbuf.extend_from_slice(&frame(kind, payload));
    }

    fn flush(&mut self) {
        while !self.wbuf.is_empty() {
            match self.stream.write(&self.wbuf) {
                Ok(0) => {
                    self.dead = true;
                    return;
                }
                Ok(n) => {
                    self.wbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
    }
}

/// What a polled descriptor belongs to.
#[derive(Clone, Copy)]
enum Target {
    Signals,
    Listener,
    Output(Stream),
    Stdin,
    Client(usize),
    ExecOutput(usize, Stream),
    ExecStdin(usize),
}

struct Shim {
    args: Args,
    listener: UnixListener,
    sigfd: OwnedFd,
    clients: Vec<Client>,
    next_token: u64,
    child_stdio: Option<ChildStdio>,
    stdout_r: Option<OwnedFd>,
    stderr_r: Option<OwnedFd>,
    stdin: StdinPipe,
    /// The pty master, with `--tty`: runc hands it over a console socket.
    pty: Option<OwnedFd>,
    console: Option<UnixListener>,
    log: LogWriter,
    state: State,
    execs: Vec<ExecProc>,
    /// Exit statuses of children reaped before we knew their pid (the init
    /// before START returns, an exec process before its runtime exits).
    early_reaped: HashMap<i32, i32>,
    /// When the shim began listening, and whether any client came since:
    /// a shim that was never started belongs to whoever spawned it, and
    /// exits when that client is gone (see `orphaned`).
    ready_at: Instant,
    had_client: bool,
}

impl Shim {
    fn new(args: Args) -> io::Result<Shim> {
        let sigfd = block_and_signalfd()?;
        let _ = fs::remove_file(&args.socket);
        let listener = UnixListener::bind(&args.socket)?;
        listener.set_nonblocking(true)?;
        let log = match &args.log_path {
            Some(path) => LogWriter::open(path, args.log_max_size, args.log_max_files)?,
            None => LogWriter::discard(),
        };
        let mut shim = Shim {
            listener,
            sigfd,
            clients: Vec::new(),
            next_token: 0,
            child_stdio: None,
            stdout_r: None,
            stderr_r: None,
            stdin: StdinPipe::default(),
            pty: None,
            console: None,
            log,
            state: State::Created,
            execs: Vec::new(),
            early_reaped: HashMap::new(),
            ready_at: Instant::now(),
            had_client: false,
            args,
        };
        if let Some(path) = &shim.args.console_socket {
            // The runtime connects here and sends the pty master; the
            // connection waits in the backlog until START has run it.
            let _ = fs::remove_file(path);
            let console = UnixListener::bind(path)?;
            console.set_nonblocking(true)?;
            shim.console = Some(console);
            return Ok(shim);
        }
        let pipes = Pipes::new(shim.args.stdin)?;
        shim.child_stdio = Some(pipes.child);
        shim.stdout_r = Some(pipes.stdout_r);
        shim.stderr_r = Some(pipes.stderr_r);
        shim.stdin = pipes.stdin;
        Ok(shim)
    }

    /// Every descriptor to poll this round, with what it belongs to.
    fn poll_set(&self) -> (Vec<libc::pollfd>, Vec<Target>) {
        let mut fds = Vec::with_capacity(6 + self.clients.len() + 3 * self.execs.len());
        let mut targets = Vec::with_capacity(fds.capacity());
        let mut add = |fd: RawFd, events: libc::c_short, t: Target| {
            if fd >= 0 && events != 0 {
                fds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                });
                targets.push(t);
            }
        };
        add(self.sigfd.as_raw_fd(), libc::POLLIN, Target::Signals);
        add(self.listener.as_raw_fd(), libc::POLLIN, Target::Listener);
        add(
            raw_or_neg(&self.stdout_r),
            libc::POLLIN,
            Target::Output(Stream::Stdout),
        );
        add(
            raw_or_neg(&self.stderr_r),
            libc::POLLIN,
            Target::Output(Stream::Stderr),
        );
        if self.stdin.wants_write() {
            add(raw_or_neg(&self.stdin.fd), libc::POLLOUT, Target::Stdin);
        }
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = libc::POLLIN;
            if !c.wbuf.is_empty() {
                ev |= libc::POLLOUT;
            }
            add(c.stream.as_raw_fd(), ev, Target::Client(i));
        }
        for (i, e) in self.execs.iter().enumerate() {
            // Output is read only once the runtime is done with the pipes.
            if e.pid.is_none() {
                continue;
            }
            add(
                raw_or_neg(&e.stdout_r),
                libc::POLLIN,
                Target::ExecOutput(i, Stream::Stdout),
            );
            add(
                raw_or_neg(&e.stderr_r),
                libc::POLLIN,
                Target::ExecOutput(i, Stream::Stderr),
            );
            if e.stdin.wants_write() {
                add(raw_or_neg(&e.stdin.fd), libc::POLLOUT, Target::ExecStdin(i));
            }
        }
        (fds, targets)
    }

    /// How long poll may sleep: until the next drain grace runs out.
    fn poll_timeout(&self) -> i32 {
        let mut deadlines: Vec<Instant> = self
            .execs
            .iter()
            .filter_map(|e| e.exited.map(|(_, since)| since))
            .collect();
        if let State::Exiting { since, .. } = self.state {
            deadlines.push(since);
        }
        let drain = deadlines
            .into_iter()
            .min()
            .map(|since| DRAIN_GRACE.saturating_sub(since.elapsed()));
        let orphan = (matches!(self.state, State::Created) && !self.had_client)
            .then(|| ORPHAN_GRACE.saturating_sub(self.ready_at.elapsed()));
        match drain.into_iter().chain(orphan).min() {
            Some(left) => left.as_millis() as i32 + 1,
            None => -1,
        }
    }

    fn run(mut self) -> ! {
        loop {
            let (mut fds, targets) = self.poll_set();
            let timeout = self.poll_timeout();
            // SAFETY: fds is a valid array of pollfd for its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    std::process::exit(3);
                }
                continue;
            }
            let mut readable = Vec::new();
            let mut accept = false;
            for (fd, target) in fds.iter().zip(&targets) {
                if fd.revents == 0 {
                    continue;
                }
                match *target {
                    Target::Signals => self.on_signal(),
                    Target::Listener => accept = true,
                    Target::Output(stream) => self.on_output(stream),
                    Target::Stdin => self.stdin.flush(),
                    Target::Client(i) => {
                        if fd.revents & libc::POLLOUT != 0 {
                            self.clients[i].flush();
                        }
                        if fd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                            readable.push(i);
                        }
                    }
                    Target::ExecOutput(i, stream) => self.on_exec_output(i, stream),
                    Target::ExecStdin(i) => self.execs[i].flush_stdin(),
                }
            }
            // Requests may add or remove execs: only now, after every index
            // of this round was used.
            for i in readable {
                self.on_client_readable(i);
            }
            if accept {
                self.accept_clients();
            }
            self.report_exec_exits();
            for c in &mut self.clients {
                c.flush();
            }
            self.drop_dead_clients();
            if self.orphaned() {
                self.abort_start();
            }
            if let State::Exiting { code, since } = self.state {
                let drained =
                    self.stdout_r.is_none() && self.stderr_r.is_none() && self.execs.is_empty();
                if drained || since.elapsed() >= DRAIN_GRACE {
                    self.finish(code);
                }
            }
        }
    }

    fn accept_clients(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_ok() {
                        self.next_token += 1;
                        self.had_client = true;
                        self.clients.push(Client {
                            token: self.next_token,
                            stream,
                            rbuf: Vec::new(),
                            wbuf: Vec::new(),
                            attached: false,
                            exec: None,
                            dead: false,
                        });
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// Never started, and its creator is gone: every client left before
    /// START, or none came in time. berthd died between spawning the shim
    /// and starting the container; the berthd that comes next finds no
    /// record of a start and must not find a waiting shim either.
    fn orphaned(&self) -> bool {
        matches!(self.state, State::Created)
            && self.clients.is_empty()
            && (self.had_client || self.ready_at.elapsed() >= ORPHAN_GRACE)
    }

    /// A client that started an exec and went away closes that exec's stdin;
    /// the process keeps running and its output is dropped.
    fn drop_dead_clients(&mut self) {
        for c in self.clients.iter().filter(|c| c.dead) {
            if let Some(id) = &c.exec {
                if let Some(e) = self.execs.iter_mut().find(|e| &e.req.id == id) {
                    e.close_stdin();
                }
            }
        }
        self.clients.retain(|c| !c.dead);
    }

    fn on_client_readable(&mut self, i: usize) {
        let mut buf = [0u8; 32 * 1024];
        loop {
            match self.clients[i].stream.read(&mut buf) {
                Ok(0) => {
                    self.clients[i].dead = true;
                    break;
                }
                Ok(n) => self.clients[i].rbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.clients[i].dead = true;
                    break;
                }
            }
        }
        loop {
            let next = take_frame(&mut self.clients[i].rbuf);
            match next {
                Ok(Some((kind, payload))) => self.on_request(i, kind, &payload),
                Ok(None) => break,
                Err(_) => {
                    self.clients[i].dead = true;
                    break;
                }
            }
        }
    }

    fn exec_index(&self, id: &str) -> Option<usize> {
        self.execs.iter().position(|e| e.req.id == id)
    }

    fn on_request(&mut self, i: usize, kind: u8, payload: &[u8]) {
        if let Some(id) = self.clients[i].exec.clone() {
            self.on_exec_request(&id, kind, payload);
            return;
        }
        match kind {
            protocol::ATTACH => self.clients[i].attached = true,
            protocol::STDIN => {
                self.stdin.queue(payload);
                self.stdin.flush();
            }
            protocol::CLOSE_STDIN => {
                self.stdin.close();
                self.stdin.flush();
            }
            protocol::KILL => {
                if let (State::Running { pid }, Ok(bytes)) = (&self.state, payload.try_into()) {
                    let sig = i32::from_be_bytes(bytes);
                    // SAFETY: the pid is our unreaped child, so it cannot have been reused.
                    unsafe { libc::kill(*pid, sig) };
                }
            }
            protocol::RESIZE => {
                if let Some(pty) = &self.pty {
                    fdio::set_winsize(pty, payload);
                }
            }
            protocol::STATUS_REQ => {
                let status = match self.state {
                    State::Created => "created".to_string(),
                    State::Running { pid } => format!("running {pid}"),
                    State::Exiting { .. } => "exiting".to_string(),
                };
                self.clients[i].send(protocol::STATUS, status.as_bytes());
            }
            protocol::START => match self.start() {
                Ok(pid) => self.clients[i].send(protocol::STARTED, pid.to_string().as_bytes()),
                Err(msg) => {
                    self.clients[i].send(protocol::START_FAILED, msg.as_bytes());
                    self.clients[i].flush();
                    self.abort_start();
                }
            },
            protocol::EXEC => self.exec(i, payload),
            _ => self.clients[i].dead = true,
        }
    }

    /// A frame from the connection bound to exec `id`.
    fn on_exec_request(&mut self, id: &str, kind: u8, payload: &[u8]) {
        let Some(e) = self.exec_index(id).map(|x| &mut self.execs[x]) else {
            return;
        };
        match kind {
            protocol::STDIN => e.write_stdin(payload),
            protocol::CLOSE_STDIN => e.close_stdin(),
            protocol::RESIZE => e.resize(payload),
            protocol::KILL => {
                if let Ok(bytes) = payload.try_into() {
                    e.kill(i32::from_be_bytes(bytes));
                }
            }
            _ => {}
        }
    }

    /// Starts an exec process; the answer (EXEC_STARTED or EXEC_FAILED)
    /// comes when the runtime has exited.
    fn exec(&mut self, i: usize, payload: &[u8]) {
        let fail = |c: &mut Client, msg: &str| c.send(protocol::EXEC_FAILED, msg.as_bytes());
        let Some(req) = ExecRequest::parse(payload) else {
            return fail(&mut self.clients[i], "malformed exec request");
        };
        if !matches!(self.state, State::Running { .. }) {
            return fail(&mut self.clients[i], "container is not running");
        }
        if self.exec_index(&req.id).is_some() {
            return fail(&mut self.clients[i], "exec id already in use");
        }
        let id = req.id.clone();
        match ExecProc::spawn(req, self.clients[i].token) {
            Ok(e) => {
                self.clients[i].exec = Some(id);
                self.execs.push(e);
            }
            Err(err) => fail(&mut self.clients[i], &format!("start the runtime: {err}")),
        }
    }

    fn exec_owner(&mut self, owner: u64) -> Option<&mut Client> {
        self.clients
            .iter_mut()
            .find(|c| c.token == owner && !c.dead)
    }

    fn on_exec_runtime_exit(&mut self, x: usize, status: i32) {
        match self.execs[x].on_runtime_exit(status) {
            Ok(pid) => {
                let owner = self.execs[x].owner;
                if let Some(c) = self.exec_owner(owner) {
                    c.send(protocol::EXEC_STARTED, pid.to_string().as_bytes());
                }
                if let Some(status) = self.early_reaped.remove(&pid) {
                    self.execs[x].exited = Some((fdio::exit_code(status), Instant::now()));
                }
            }
            Err(msg) => {
                let e = self.execs.remove(x);
                e.remove_console_socket();
                if let Some(c) = self.exec_owner(e.owner) {
                    c.send(protocol::EXEC_FAILED, msg.as_bytes());
                    c.exec = None;
                }
            }
        }
    }

    fn on_exec_output(&mut self, x: usize, stream: Stream) {
        let mut buf = [0u8; 32 * 1024];
        let e = &mut self.execs[x];
        let slot = match stream {
            Stream::Stdout => &mut e.stdout_r,
            Stream::Stderr => &mut e.stderr_r,
        };
        let Some(fd) = slot.as_ref() else { return };
        let n = match read_some(fd, &mut buf) {
            ReadOutcome::Data(n) => n,
            ReadOutcome::Again => return,
            ReadOutcome::Closed => {
                *slot = None;
                return;
            }
        };
        let kind = match stream {
            Stream::Stdout => protocol::STDOUT,
            Stream::Stderr => protocol::STDERR,
        };
        let owner = e.owner;
        if let Some(c) = self.exec_owner(owner) {
            c.send(kind, &buf[..n]);
        }
    }

    /// Exec processes that exited and whose output is drained (or whose
    /// grace ran out) are reported and forgotten.
    fn report_exec_exits(&mut self) {
        let mut x = 0;
        while x < self.execs.len() {
            let e = &self.execs[x];
            let done = match e.exited {
                Some((_, since)) => e.drained() || since.elapsed() >= DRAIN_GRACE,
                None => false,
            };
            if !done {
                x += 1;
                continue;
            }
            let e = self.execs.remove(x);
            let code = e.exited.map(|(c, _)| c).unwrap_or(KILLED_WITH_CONTAINER);
            self.report_exec_exit(&e, code);
        }
    }

    fn report_exec_exit(&mut self, e: &ExecProc, code: i32) {
        e.record_exit(code);
        e.remove_console_socket();
        if let Some(c) = self.exec_owner(e.owner) {
            c.send(protocol::EXEC_EXIT, code.to_string().as_bytes());
            c.exec = None;
        }
    }

    /// `runc run --detach` with the pipes as the container's stdio.
    fn start(&mut self) -> Result<i32, String> {
        if !matches!(self.state, State::Created) {
            return Err("container already started".into());
        }
        // With a terminal, runc gives the container the pty's slave side and
        // its own stdio is unused.
        let stdio = match self.child_stdio.take() {
            Some(s) => s,
            None => ChildStdio::null().map_err(|e| format!("open /dev/null: {e}"))?,
        };
        let argv = &self.args.start_argv;
        let mut cmd = fdio::runtime_command(argv, stdio);
        let status = cmd.status();
        // Dropping the command closes our copies of the container's pipe ends,
        // so the read ends see EOF once the container closes them.
        drop(cmd);
        let status = status.map_err(|e| format!("exec {}: {e}", argv[0].to_string_lossy()))?;
        if !status.success() {
            return Err(fdio::runtime_error(
                &self.args.runtime_log,
                format!("runtime exited with {status}"),
            ));
        }
        let pid = fdio::read_pid_file(&self.args.pid_file)?;
        if let Some(console) = self.console.take() {
            let master = fdio::receive_pty_master(&console)
                .map_err(|e| format!("receive the pty master from the runtime: {e}"))?;
            if let Some(path) = &self.args.console_socket {
                let _ = fs::remove_file(path);
            }
            self.adopt_pty(master).map_err(|e| format!("pty: {e}"))?;
        }
        self.state = State::Running { pid };
        if let Some(status) = self.early_reaped.remove(&pid) {
            self.on_init_exit(status);
        }
        Ok(pid)
    }

    /// The pty master is the container's output (one stream, logged as
    /// stdout, like docker) and, with `-i`, its input.
    fn adopt_pty(&mut self, master: OwnedFd) -> io::Result<()> {
        let (output, input) = fdio::pty_ends(&master, self.args.stdin)?;
        self.stdout_r = Some(output);
        self.stdin.fd = input;
        self.pty = Some(master);
        Ok(())
    }

    /// A failed start leaves nothing behind: runc state removed, shim gone.
    fn abort_start(&mut self) {
        self.runtime_delete();
        let _ = fs::remove_file(&self.args.socket);
        if let Some(path) = &self.args.console_socket {
            let _ = fs::remove_file(path);
        }
        std::process::exit(0);
    }

    fn on_signal(&mut self) {
        // SAFETY: reading whole signalfd_siginfo records from our signalfd.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        loop {
            let n = unsafe {
                libc::read(
                    self.sigfd.as_raw_fd(),
                    &mut info as *mut _ as *mut libc::c_void,
                    size,
                )
            };
            if n != size as isize {
                break;
            }
        }
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid out pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            self.on_reaped(pid, status);
        }
    }

    fn on_reaped(&mut self, pid: i32, status: i32) {
        if let State::Running { pid: init } = self.state {
            if init == pid {
                return self.on_init_exit(status);
            }
        }
        if let Some(x) = self.execs.iter().position(|e| e.runtime_pid == Some(pid)) {
            return self.on_exec_runtime_exit(x, status);
        }
        if let Some(e) = self.execs.iter_mut().find(|e| e.pid == Some(pid)) {
            e.exited = Some((fdio::exit_code(status), Instant::now()));
            return;
        }
        // A pid we may learn later: the init during START, or an exec
        // process whose runtime has not exited yet.
        let pending = matches!(self.state, State::Created)
            || self.execs.iter().any(|e| e.runtime_pid.is_some());
        if pending && self.early_reaped.len() < MAX_EARLY_REAPED {
            self.early_reaped.insert(pid, status);
        }
    }

    fn on_init_exit(&mut self, status: i32) {
        self.state = State::Exiting {
            code: fdio::exit_code(status),
            since: Instant::now(),
        };
    }

    fn on_output(&mut self, stream: Stream) {
        let slot = match stream {
            Stream::Stdout => &mut self.stdout_r,
            Stream::Stderr => &mut self.stderr_r,
        };
        let Some(fd) = slot.as_ref() else { return };
        let mut buf = [0u8; 32 * 1024];
        let n = match read_some(fd, &mut buf) {
            ReadOutcome::Data(n) => n,
            ReadOutcome::Again => return,
            ReadOutcome::Closed => {
                *slot = None;
                self.log.flush_partial(stream);
                return;
            }
        };
        let data = &buf[..n];
        self.log.write(stream, data);
        let kind = match stream {
            Stream::Stdout => protocol::STDOUT,
            Stream::Stderr => protocol::STDERR,
        };
        for c in self.clients.iter_mut().filter(|c| c.attached) {
            c.send(kind, data);
        }
    }

    /// Records the exit durably, tells every client, cleans the runtime up, exits.
    fn finish(&mut self, code: i32) -> ! {
        self.log.flush_partial(Stream::Stdout);
        self.log.flush_partial(Stream::Stderr);
        let record = ExitRecord {
            exit_code: code,
            oom_killed: self.oom_killed(),
            finished_at: now_rfc3339(),
        };
        let json = record.to_json();
        // Exec processes die with the container's pid namespace; any not
        // reported yet are reported now, before the container's exit.
        for e in std::mem::take(&mut self.execs) {
            let code = e.exited.map(|(c, _)| c).unwrap_or(KILLED_WITH_CONTAINER);
            self.report_exec_exit(&e, code);
        }
        fdio::write_atomic(&self.args.exit_file, &json);
        for c in &mut self.clients {
            c.send(protocol::EXIT, json.as_bytes());
            let _ = c.stream.set_nonblocking(false);
            let _ = c.stream.set_write_timeout(Some(Duration::from_secs(1)));
            c.flush();
        }
        self.runtime_delete();
        let _ = fs::remove_file(&self.args.socket);
        if let Some(path) = &self.args.console_socket {
            let _ = fs::remove_file(path);
        }
        std::process::exit(0);
    }

    fn oom_killed(&self) -> bool {
        let Some(path) = &self.args.oom_file else {
            return false;
        };
        let Ok(text) = fs::read_to_string(path) else {
            return false;
        };
        text.lines()
            .filter_map(|l| l.strip_prefix("oom_kill "))
            .any(|n| n.trim().parse::<u64>().map(|n| n > 0).unwrap_or(false))
    }

    /// Runs after the exit is reported, so nobody waits for it: at a lower
    /// priority it leaves the CPU to whoever acts on that exit (the client
    /// of `run --rm`, the next container's start).
    fn runtime_delete(&self) {
        let argv = &self.args.delete_argv;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setpriority is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpriority(libc::PRIO_PROCESS, 0, CLEANUP_NICE);
                Ok(())
            });
        }
        let _ = cmd.status();
    }
}

/// Blocks SIGCHLD/SIGTERM/SIGINT/SIGHUP and returns a signalfd for SIGCHLD.
/// Termination signals stay blocked: only the container's exit ends a shim.
fn block_and_signalfd() -> io::Result<OwnedFd> {
    // SAFETY: building and installing a signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        let fd = libc::signalfd(-1, &chld, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}
