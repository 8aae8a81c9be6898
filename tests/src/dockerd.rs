//! A private dockerd (Debian's docker.io, API 1.41) to compare berthd with.
//!
//! Everything it owns lives under one temp dir: data root, exec root, socket,
//! pid file, and a containerd that we start ourselves, so that a system
//! containerd (whose socket dockerd would otherwise pick up) is never used.
//! Namespaces and the cgroup parent carry a random suffix. On drop, even when
//! the test failed: containers are removed, dockerd and containerd killed,
//! leftover shims and container processes killed, mounts under the dir
//! unmounted, cgroups and the dir removed. A system dockerd is never touched:
//! we signal only processes we started or whose command line names our dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{
    busybox_tar, cgroup_dirs, eventually, http_unix, mounts_under, remove_cgroup_tree,
    try_http_unix,
};

/// Where Debian's docker.io installs the daemon; `BERTH_DOCKERD` overrides.
const DOCKERD: &str = "/usr/sbin/dockerd";
const CONTAINERD: &str = "containerd";

pub struct Dockerd {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub cgroup_parent: String,
    containerd: Option<Child>,
    dockerd: Option<Child>,
}

fn dockerd_path() -> PathBuf {
    std::env::var_os("BERTH_DOCKERD")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DOCKERD))
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("dockerd log file")
}

fn wait_for(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Dockerd {
    /// Starts containerd and dockerd and loads the busybox test image.
    /// Panics with a clear message when dockerd is not installed.
    pub fn start() -> Dockerd {
        let bin = dockerd_path();
        assert!(
            bin.exists(),
            "{} not found: the differential tests need Debian's docker.io \
             (apt-get install docker.io; .ci/run installs it)",
            bin.display()
        );
        // Short paths: containerd's and the shims' sockets must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("bd")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let tag = format!("{:08x}", rand::random::<u32>());
        let mut d = Dockerd {
            socket: dir.path().join("docker.sock"),
            cgroup_parent: format!("berth-diff-{tag}"),
            dir,
            containerd: None,
            dockerd: None,
        };
        d.spawn_containerd();
        d.spawn_dockerd(&bin, &tag);
        d.load_busybox();
        d
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spawn_containerd(&mut self) {
        let ctd = self.path("containerd");
        std::fs::create_dir_all(&ctd).expect("mkdir containerd");
        let sock = ctd.join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{sock}"

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
            root = ctd.join("root").display(),
            state = ctd.join("state").display(),
            sock = sock.display(),
            opt = ctd.join("opt").display(),
        );
        let config_path = ctd.join("config.toml");
        std::fs::write(&config_path, config).expect("write containerd config");
        let log = log_file(&self.path("containerd.log"));
        let child = Command::new(CONTAINERD)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn containerd (docker.io's dependency): {e}"));
        self.containerd = Some(child);
        wait_for(
            "containerd",
            Duration::from_secs(30),
            || sock.exists(),
            || self.containerd_log(),
        );
    }

    fn spawn_dockerd(&mut self, bin: &Path, tag: &str) {
        // An empty config file, so that the host's /etc/docker/daemon.json
        // cannot change what we compare against.
        let config = self.path("daemon.json");
        std::fs::write(&config, "{}").expect("write daemon.json");
        let log = log_file(&self.path("dockerd.log"));
        let child = Command::new(bin)
            .arg("--config-file")
            .arg(&config)
            .arg("--data-root")
            .arg(self.path("root"))
            .arg("--exec-root")
            .arg(self.path("run"))
            .arg("--pidfile")
            .arg(self.path("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .arg("--containerd")
            .arg(self.path("containerd/containerd.sock"))
            .arg("--containerd-namespace")
            .arg(format!("berth-diff-{tag}"))
            .arg("--containerd-plugins-namespace")
            .arg(format!("berth-diff-{tag}-plugins"))
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .args(["--bridge", "none", "--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        self.dockerd = Some(child);
        wait_for(
            "dockerd",
            Duration::from_secs(60),
            || self.socket.exists() && self.ping(),
            || self.log(),
        );
    }

    fn ping(&self) -> bool {
        std::os::unix::net::UnixStream::connect(&self.socket).is_ok()
            && http_unix(&self.socket, "GET", "/_ping", None).0 == 200
    }

    fn load_busybox(&self) {
        let tar = std::fs::read(busybox_tar()).expect("read busybox.tar");
        let (status, _, body) = self.http("POST", "/v1.41/images/load?quiet=1", Some(&tar));
        let body = String::from_utf8_lossy(&body);
        assert!(
            status == 200 && !body.contains("errorDetail"),
            "dockerd could not load busybox ({status}): {body}"
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("dockerd.log")).unwrap_or_default()
    }

    fn containerd_log(&self) -> String {
        std::fs::read_to_string(self.path("containerd.log")).unwrap_or_default()
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Raw HTTP over dockerd's socket: (status, headers, body).
    pub fn http(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String, Vec<u8>) {
        http_unix(&self.socket, method, path, body)
    }

    /// Best effort: dockerd may already be gone.
    fn remove_containers(&self) {
        let Ok((200, _, body)) =
            try_http_unix(&self.socket, "GET", "/v1.41/containers/json?all=1", None)
        else {
            return;
        };
        let list: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        for c in list.as_array().into_iter().flatten() {
            if let Some(id) = c["Id"].as_str() {
                self.http(
                    "DELETE",
                    &format!("/v1.41/containers/{id}?force=1&v=1"),
                    None,
                );
            }
        }
    }

    fn cleanup(&mut self) {
        self.remove_containers();
        // dockerd first (it unmounts its layers on a clean exit), then the
        // containerd under it.
        if let Some(child) = self.dockerd.take() {
            stop(child, Duration::from_secs(20));
        }
        if let Some(child) = self.containerd.take() {
            stop(child, Duration::from_secs(10));
        }
        // What a failed run may leave: containers through runc, then shims.
        let runc_roots = self.path("run/runtime-runc");
        for ns in read_dir_paths(&runc_roots) {
            for id in read_dir_paths(&ns) {
                let _ = Command::new("runc")
                    .arg("--root")
                    .arg(&ns)
                    .args(["delete", "--force"])
                    .arg(id.file_name().unwrap_or_default())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // With the slash: only paths under our dir, never a sibling named alike.
        kill_cmdlines_containing(&format!("{}/", self.dir.path().display()));
        let cgroups = cgroup_dirs(&self.cgroup_parent);
        for dir in &cgroups {
            kill_cgroup_procs(dir);
        }
        for mnt in mounts_under(self.dir.path()) {
            if let Ok(c) = std::ffi::CString::new(mnt) {
                // SAFETY: unmounting a path under our own temp dir.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        // Killed processes leave their cgroups a moment later.
        eventually(Duration::from_secs(5), || {
            cgroups.iter().for_each(|d| remove_cgroup_tree(d));
            cgroups.iter().all(|d| !d.exists())
        });
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.cleanup();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "---- dockerd log (last lines) ----\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// SIGTERM, then SIGKILL after `grace`.
fn stop(mut child: Child, grace: Duration) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: signalling a process we started and have not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn read_dir_paths(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn kill_cmdlines_containing(marker: &str) {
    for p in read_dir_paths(Path::new("/proc")) {
        let Some(pid) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(p.join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            // SAFETY: the command line names our private dir, so we started it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn kill_cgroup_procs(dir: &Path) {
    for sub in read_dir_paths(dir).into_iter().filter(|p| p.is_dir()) {
        kill_cgroup_procs(&sub);
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: the process sits in our private cgroup parent.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
