//! Test harness: a private berthd per test (own root, exec root, socket and
//! cgroup parent), the busybox test image, and helpers to run the docker CLI
//! and berth against it. Everything is torn down on drop, even when the test
//! failed: container processes, shims, mounts, cgroups and directories.

pub mod dockerd;
pub mod invariants;
pub mod net;
pub mod registry;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace's target directory (binaries are built before the tests).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // target/<profile>/deps/<test binary>
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds (once per machine, atomically) the busybox docker-save tar.
pub fn busybox_tar() -> PathBuf {
    let dir = workspace_root().join("target").join("test-images");
    let tar = dir.join("busybox.tar");
    if tar.exists() {
        return tar;
    }
    std::fs::create_dir_all(&dir).expect("mkdir test-images");
    let tmp = dir.join(format!("busybox.tar.{}", std::process::id()));
    let status = Command::new("python3")
        .arg(workspace_root().join("tests/images/mkbusybox.py"))
        .arg(&tmp)
        .stdout(Stdio::null())
        .status()
        .expect("run mkbusybox.py");
    assert!(status.success(), "mkbusybox.py failed");
    std::fs::rename(&tmp, &tar).expect("rename test image");
    tar
}

/// Writes the test image's only layer, a complete busybox rootfs tar, to
/// `dest` (input for `import`).
pub fn busybox_rootfs_tar(dest: &Path) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar xOf {} --wildcards '*/layer.tar' > {}",
            busybox_tar().display(),
            dest.display()
        ))
        .status()
        .expect("run tar");
    assert!(status.success(), "extracting the busybox layer failed");
}

/// The command's stdout, after asserting that it succeeded.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({:?}): stdout={} stderr={}",
        out.status.code(),
        stdout(out),
        text(&out.stderr)
    );
    stdout(out)
}

/// Asserts that the command's stderr contains `needle`.
pub fn assert_stderr_has(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub socket: PathBuf,
    pub cgroup_parent: String,
    child: Option<Child>,
    /// More berthd flags, kept across restarts.
    args: Vec<String>,
    /// Its own bridge and address space.
    pub net: net::TestNet,
}

impl Daemon {
    pub fn start() -> Daemon {
        Daemon::start_with_args(&[])
    }

    /// A daemon with more berthd flags (`--registry-mirror ...`).
    pub fn start_with_args(args: &[&str]) -> Daemon {
        // Short paths: the shim socket must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("bt")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let root = dir.path().join("root");
        let exec_root = dir.path().join("run");
        let socket = dir.path().join("berth.sock");
        let cgroup_parent = format!("berth-test-{:08x}", rand::random::<u32>());
        let net = net::TestNet::take();
        // A test that names its own bridge (`--bridge none`) keeps only
        // the address pool of the harness.
        let mut all_args = net.args();
        if args.contains(&"--bridge") {
            all_args.drain(..4);
        }
        all_args.extend(args.iter().map(|a| a.to_string()));
        let mut d = Daemon {
            dir,
            root,
            exec_root,
            socket,
            cgroup_parent,
            child: None,
            args: all_args,
            net,
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        self.spawn_with_env(&[]);
    }

    fn spawn_with_env(&mut self, env: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("berthd.log"))
            .expect("daemon log");
        let child = Command::new(bin_dir().join("berthd"))
            .arg("--host")
            .arg(format!("unix://{}", self.socket.display()))
            .arg("--root")
            .arg(&self.root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .arg("--log-level")
            .arg("debug")
            .args(&self.args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn berthd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        // Ready when it accepts a connection: the socket file appears at
        // bind, a moment before listen.
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "berthd did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Kills berthd with SIGKILL, leaving its containers to their shims.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Kills berthd and starts it again with `env` added to its environment
    /// (`FAILPOINTS` for the crash tests).
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) {
        self.kill9();
        self.spawn_with_env(env);
    }

    /// Waits up to `limit` for berthd to exit by itself; its status, or
    /// `None` if it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                let _ = std::fs::remove_file(&self.socket);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_stdin(args, None)
    }

    pub fn docker_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run_with(
            Command::new("/usr/local/bin/docker")
                .env("DOCKER_HOST", self.host())
                .args(args),
            stdin,
        )
    }

    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_stdin(args, None)
    }

    pub fn berth_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run_with(
            Command::new(bin_dir().join("berth"))
                .arg("-H")
                .arg(self.host())
                .args(args),
            stdin,
        )
    }

    pub fn load_busybox(&self) {
        let out = self.docker(&["load", "-i", busybox_tar().to_str().unwrap()]);
        assert!(out.status.success(), "load failed: {}", text(&out.stderr));
    }

    /// Raw HTTP over the daemon's socket: (status, headers, body).
    pub fn http(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String, Vec<u8>) {
        http_unix(&self.socket, method, path, body)
    }

    fn cleanup(&mut self) {
        self.kill9();
        // Container processes: kill through runc, then the shims.
        let runc_root = self.exec_root.join("runc");
        if let Ok(entries) = std::fs::read_dir(&runc_root) {
            for e in entries.flatten() {
                let id = e.file_name();
                let _ = Command::new("runc")
                    .arg("--root")
                    .arg(&runc_root)
                    .args(["delete", "--force"])
                    .arg(&id)
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let marker = self.exec_root.to_string_lossy().to_string();
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&marker) {
                    // SAFETY: signalling a process we started.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        for mnt in mounts_under(self.dir.path()) {
            let c = std::ffi::CString::new(mnt).unwrap();
            // SAFETY: unmounting a path under our own temp dir.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        for dir in cgroup_dirs(&self.cgroup_parent) {
            remove_cgroup_tree(&dir);
        }
        self.net.clean(&self.root.join("network"));
    }

    /// Cgroup directories of this daemon's parent that still exist.
    pub fn leftover_cgroups(&self) -> Vec<PathBuf> {
        cgroup_dirs(&self.cgroup_parent)
            .into_iter()
            .flat_map(|d| {
                std::fs::read_dir(&d)
                    .map(|r| {
                        r.flatten()
                            .filter(|e| e.path().is_dir())
                            .map(|e| e.path())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Mounts under the daemon's dirs, but for the directory of network
    /// namespaces: berthd makes it a shared mount of itself once (as
    /// iproute2 does for /run/netns) and keeps it.
    pub fn leftover_mounts(&self) -> Vec<String> {
        let netns = self.exec_root.join("netns").display().to_string();
        mounts_under(self.dir.path())
            .into_iter()
            .filter(|m| *m != netns)
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.cleanup();
        if std::thread::panicking() {
            eprintln!("---- berthd log ----\n{}", self.log());
        }
    }
}

/// One HTTP/1.1 request over a unix socket: (status, headers, body).
pub fn http_unix(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> (u16, String, Vec<u8>) {
    try_http_unix(socket, method, path, body).expect("request over the daemon's socket")
}

/// `http_unix` that reports a daemon that is gone instead of panicking (for
/// clean-up code that runs while a test is already panicking).
pub fn try_http_unix(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> std::io::Result<(u16, String, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let body = body.unwrap_or(b"");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    // A server that rejects a huge body may answer before reading it all.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(resp.len());
    let headers = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = resp.get(split + 4..).unwrap_or_default().to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, headers, body))
}

fn run_with(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn client");
    if let Some(data) = stdin {
        let mut s = child.stdin.take().unwrap();
        s.write_all(data).ok();
    }
    child.wait_with_output().expect("client output")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 || b.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&b[end + 2..end + 2 + size]);
        b = &b[(end + 4 + size).min(b.len())..];
    }
    out
}

pub(crate) fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().to_string();
    let mut found: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    // Deepest first.
    found.sort_by_key(|m| std::cmp::Reverse(m.len()));
    found
}

/// The cgroup directories named `parent` that exist: at each hierarchy's
/// root, and under this process's own cgroup, where a runtime puts a relative
/// parent for controllers in which we are not at the root.
pub(crate) fn cgroup_dirs(parent: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    // (controllers, path) per line of /proc/self/cgroup.
    let own: Vec<(Vec<String>, String)> = own
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let ctrls = ctrls
                .split(',')
                .map(|c| c.trim_start_matches("name=").to_string())
                .collect();
            Some((ctrls, path.trim_start_matches('/').to_string()))
        })
        .collect();
    let own_path = |hierarchy: &str| -> Option<&str> {
        own.iter()
            .find(|(ctrls, _)| {
                hierarchy.split(',').all(|h| ctrls.iter().any(|c| c == h))
                    || (hierarchy.is_empty() && ctrls.iter().all(String::is_empty))
            })
            .map(|(_, p)| p.as_str())
            .filter(|p| !p.is_empty())
    };
    let hierarchies: Vec<(PathBuf, String)> = if base.join("cgroup.controllers").exists() {
        vec![(base.to_path_buf(), String::new())]
    } else {
        std::fs::read_dir(base)
            .map(|r| {
                r.flatten()
                    .map(|e| (e.path(), e.file_name().to_string_lossy().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for (dir, name) in hierarchies {
        found.push(dir.join(parent));
        if let Some(own) = own_path(&name) {
            found.push(dir.join(own).join(parent));
        }
    }
    found.retain(|p| p.exists());
    found
}

pub(crate) fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Polls `f` until it returns true or `timeout` passes (test helper only).
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}
