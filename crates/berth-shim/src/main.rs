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
mod log;

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_shim::exit_record::ExitRecord;
use berth_shim::protocol::{self, frame, take_frame};

use args::Args;
use log::{now_rfc3339, LogWriter, Stream};

/// Clients that stop reading are dropped once this much output is queued.
const MAX_CLIENT_BACKLOG: usize = 16 << 20;
/// Niceness of the runtime cleanup after an exit.
const CLEANUP_NICE: libc::c_int = 10;
/// After init exits, how long other holders of the stdio pipes may keep them open.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

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
    println!("READY");
    let _ = io::stdout().flush();
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

/// The container's ends of its stdio, handed to runc at START.
struct ChildStdio {
    stdin: OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

impl ChildStdio {
    fn null() -> io::Result<ChildStdio> {
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

struct Client {
    stream: UnixStream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    attached: bool,
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

struct Shim {
    args: Args,
    listener: UnixListener,
    sigfd: OwnedFd,
    clients: Vec<Client>,
    child_stdio: Option<ChildStdio>,
    stdout_r: Option<OwnedFd>,
    stderr_r: Option<OwnedFd>,
    stdin_w: Option<OwnedFd>,
    stdin_pending: Vec<u8>,
    stdin_close: bool,
    /// The pty master, with `--tty`: runc hands it over a console socket.
    pty: Option<OwnedFd>,
    console: Option<UnixListener>,
    log: LogWriter,
    state: State,
    /// Exit statuses of children reaped before we knew the init pid.
    early_reaped: HashMap<i32, i32>,
}

impl Shim {
    fn new(args: Args) -> io::Result<Shim> {
        let sigfd = block_and_signalfd()?;
        let _ = fs::remove_file(&args.socket);
        let listener = UnixListener::bind(&args.socket)?;
        listener.set_nonblocking(true)?;
        let log = LogWriter::open(&args.log_path, args.log_max_size, args.log_max_files)?;
        let mut shim = Shim {
            listener,
            sigfd,
            clients: Vec::new(),
            child_stdio: None,
            stdout_r: None,
            stderr_r: None,
            stdin_w: None,
            stdin_pending: Vec::new(),
            stdin_close: false,
            pty: None,
            console: None,
            log,
            state: State::Created,
            early_reaped: HashMap::new(),
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
        let (stdout_r, stdout_w) = pipe()?;
        let (stderr_r, stderr_w) = pipe()?;
        let (stdin_child, stdin_w) = if shim.args.stdin {
            let (r, w) = pipe()?;
            set_nonblocking(w.as_raw_fd())?;
            (r, Some(w))
        } else {
            (OwnedFd::from(fs::File::open("/dev/null")?), None)
        };
        set_nonblocking(stdout_r.as_raw_fd())?;
        set_nonblocking(stderr_r.as_raw_fd())?;
        shim.child_stdio = Some(ChildStdio {
            stdin: stdin_child,
            stdout: stdout_w,
            stderr: stderr_w,
        });
        shim.stdout_r = Some(stdout_r);
        shim.stderr_r = Some(stderr_r);
        shim.stdin_w = stdin_w;
        Ok(shim)
    }

    fn run(mut self) -> ! {
        loop {
            let mut fds: Vec<libc::pollfd> = Vec::with_capacity(6 + self.clients.len());
            let poll = |fd: RawFd, events: libc::c_short| libc::pollfd {
                fd,
                events,
                revents: 0,
            };
            fds.push(poll(self.sigfd.as_raw_fd(), libc::POLLIN));
            fds.push(poll(self.listener.as_raw_fd(), libc::POLLIN));
            fds.push(poll(raw_or_neg(&self.stdout_r), libc::POLLIN));
            fds.push(poll(raw_or_neg(&self.stderr_r), libc::POLLIN));
            let stdin_events = if self.stdin_pending.is_empty() {
                0
            } else {
                libc::POLLOUT
            };
            fds.push(poll(raw_or_neg(&self.stdin_w), stdin_events));
            for c in &self.clients {
                let mut ev = libc::POLLIN;
                if !c.wbuf.is_empty() {
                    ev |= libc::POLLOUT;
                }
                fds.push(poll(c.stream.as_raw_fd(), ev));
            }
            let timeout = match self.state {
                State::Exiting { since, .. } => {
                    DRAIN_GRACE.saturating_sub(since.elapsed()).as_millis() as i32
                }
                _ => -1,
            };
            // SAFETY: fds is a valid array of pollfd for its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    std::process::exit(3);
                }
                continue;
            }
            let ready = |i: usize| fds[i].revents != 0;
            if ready(0) {
                self.on_signal();
            }
            if ready(2) {
                self.on_output(Stream::Stdout);
            }
            if ready(3) {
                self.on_output(Stream::Stderr);
            }
            if ready(4) {
                self.flush_stdin();
            }
            for (i, c) in self.clients.iter_mut().enumerate() {
                if fds[5 + i].revents & libc::POLLOUT != 0 {
                    c.flush();
                }
            }
            let readable: Vec<usize> = (0..self.clients.len())
                .filter(|&i| {
                    fds[5 + i].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
                })
                .collect();
            for i in readable {
                self.on_client_readable(i);
            }
            if ready(1) {
                self.accept_clients();
            }
            for c in &mut self.clients {
                c.flush();
            }
            self.clients.retain(|c| !c.dead);
            if let State::Exiting { code, since } = self.state {
                let drained = self.stdout_r.is_none() && self.stderr_r.is_none();
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
                        self.clients.push(Client {
                            stream,
                            rbuf: Vec::new(),
                            wbuf: Vec::new(),
                            attached: false,
                            dead: false,
                        });
                    }
                }
                Err(_) => return,
            }
        }
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

    fn on_request(&mut self, i: usize, kind: u8, payload: &[u8]) {
        match kind {
            protocol::ATTACH => self.clients[i].attached = true,
            protocol::STDIN => {
                if self.stdin_w.is_some() && !self.stdin_close {
                    self.stdin_pending.extend_from_slice(payload);
                    self.flush_stdin();
                }
            }
            protocol::CLOSE_STDIN => {
                self.stdin_close = true;
                self.flush_stdin();
            }
            protocol::KILL => {
                if let (State::Running { pid }, Ok(bytes)) = (&self.state, payload.try_into()) {
                    let sig = i32::from_be_bytes(bytes);
                    // SAFETY: the pid is our unreaped child, so it cannot have been reused.
                    unsafe { libc::kill(*pid, sig) };
                }
            }
            protocol::RESIZE => self.resize(payload),
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
            _ => self.clients[i].dead = true,
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
        let status = cmd.status();
        // Dropping the command closes our copies of the container's pipe ends,
        // so the read ends see EOF once the container closes them.
        drop(cmd);
        let status = status.map_err(|e| format!("exec {}: {e}", argv[0].to_string_lossy()))?;
        if !status.success() {
            let log = fs::read_to_string(&self.args.runtime_log).unwrap_or_default();
            let last_error = log
                .lines()
                .rev()
                .find(|l| l.contains("\"level\":\"error\""))
                .map(str::to_string);
            return Err(last_error.unwrap_or_else(|| format!("runtime exited with {status}")));
        }
        let pid: i32 = fs::read_to_string(&self.args.pid_file)
            .map_err(|e| format!("read pid file: {e}"))?
            .trim()
            .parse()
            .map_err(|e| format!("bad pid file: {e}"))?;
        if let Some(console) = self.console.take() {
            let master = receive_pty_master(&console)
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
        set_nonblocking(master.as_raw_fd())?;
        self.stdout_r = Some(master.try_clone()?);
        if self.args.stdin {
            self.stdin_w = Some(master.try_clone()?);
        }
        self.pty = Some(master);
        Ok(())
    }

    fn resize(&self, payload: &[u8]) {
        let (Some(pty), [r0, r1, c0, c1]) = (&self.pty, payload) else {
            return;
        };
        let size = libc::winsize {
            ws_row: u16::from_be_bytes([*r0, *r1]),
            ws_col: u16::from_be_bytes([*c0, *c1]),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer.
        unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &size) };
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
            match self.state {
                State::Running { pid: init } if init == pid => self.on_init_exit(status),
                State::Created => {
                    self.early_reaped.insert(pid, status);
                }
                _ => {}
            }
        }
    }

    fn on_init_exit(&mut self, status: i32) {
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            255
        };
        self.state = State::Exiting {
            code,
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
        // SAFETY: reading into a stack buffer of the given size.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n == 0 || (n < 0 && !would_block()) {
            *slot = None;
            self.log.flush_partial(stream);
            return;
        }
        if n < 0 {
            return;
        }
        let data = &buf[..n as usize];
        self.log.write(stream, data);
        let kind = match stream {
            Stream::Stdout => protocol::STDOUT,
            Stream::Stderr => protocol::STDERR,
        };
        for c in self.clients.iter_mut().filter(|c| c.attached) {
            c.send(kind, data);
        }
    }

    fn flush_stdin(&mut self) {
        let Some(fd) = self.stdin_w.as_ref() else {
            self.stdin_pending.clear();
            return;
        };
        while !self.stdin_pending.is_empty() {
            // SAFETY: writing from a live buffer.
            let n = unsafe {
                libc::write(
                    fd.as_raw_fd(),
                    self.stdin_pending.as_ptr() as *const libc::c_void,
                    self.stdin_pending.len(),
                )
            };
            if n > 0 {
                self.stdin_pending.drain(..n as usize);
            } else if n < 0 && would_block() {
                return;
            } else {
                // The reader is gone: nothing more can be delivered.
                self.stdin_pending.clear();
                self.stdin_w = None;
                return;
            }
        }
        if self.stdin_close {
            self.stdin_w = None;
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
        let tmp = self.args.exit_file.with_extension("tmp");
        if fs::write(&tmp, &json).is_ok() {
            let _ = fs::rename(&tmp, &self.args.exit_file);
        }
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

/// Accepts runc's connection on the console socket and takes the pty
/// master it sends as SCM_RIGHTS. runc has exited by now, so the
/// connection is already waiting.
fn receive_pty_master(console: &UnixListener) -> io::Result<OwnedFd> {
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

fn raw_or_neg(fd: &Option<OwnedFd>) -> RawFd {
    fd.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1)
}

fn would_block() -> bool {
    io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
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
