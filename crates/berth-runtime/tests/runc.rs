//! The real thing: generated specs run by the installed runc on a busybox
//! rootfs. Needs root, runc and Debian's busybox-static; skipped (with a
//! message) without them. Every container has its own id, runc root and
//! cgroup, and is cleaned up by a Drop guard even when an assertion fails.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_runtime::cgroups::{self, CgroupVersion};
use berth_runtime::runtime::{last_error_from_log, OciRuntime, Runc, RuntimeStatus};
use berth_runtime::spec::{self, BindMount, ContainerSpec, Propagation};

const RUNC: &str = "/usr/sbin/runc";
const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "id", "hostname", "sleep", "tail", "touch", "grep",
];

fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root");
        return false;
    }
    for p in [RUNC, BUSYBOX] {
        if !Path::new(p).exists() {
            eprintln!("skipping: {p} not found");
            return false;
        }
    }
    true
}

/// A container's files and runtime state; Drop removes everything.
struct Fixture {
    dir: tempfile::TempDir,
    runc: Runc,
    id: String,
    cgroups_path: String,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        static N: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "berth-rt-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let dir = tempfile::tempdir().unwrap();
        let runc = Runc::new(RUNC.into(), dir.path().join("runc-root"));
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "data"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\ntester:x:1234:1234::/tmp:/bin/sh\n",
        )
        .unwrap();
        fs::write(
            rootfs.join("etc/group"),
            "root:x:0:root\ntesters:x:1234:\nextra:x:4321:tester\n",
        )
        .unwrap();
        let files = dir.path().join("files");
        fs::create_dir_all(&files).unwrap();
        fs::write(files.join("hostname"), "berthtest\n").unwrap();
        fs::write(files.join("hosts"), "127.0.0.1\tlocalhost\n").unwrap();
        fs::write(files.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        Fixture {
            cgroups_path: format!("/{id}"),
            id,
            dir,
            runc,
        }
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    /// `docker run` defaults for this fixture, running `args` as `user`.
    fn spec(&self, args: &[&str], user: &str) -> ContainerSpec {
        let files = self.dir.path().join("files");
        ContainerSpec {
            id: self.id.clone(),
            rootfs: self.rootfs(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: spec::docker_env(&[], "berthtest", false),
            cwd: "/".into(),
            user: spec::resolve_user(&self.rootfs(), user).unwrap(),
            hostname: "berthtest".into(),
            hosts_path: files.join("hosts"),
            hostname_path: files.join("hostname"),
            resolv_conf_path: files.join("resolv.conf"),
            cgroups_path: self.cgroups_path.clone(),
            ..Default::default()
        }
    }

    fn write(&self, input: &ContainerSpec) {
        let spec = spec::generate(input).unwrap();
        spec::write_bundle(&self.bundle(), &spec).unwrap();
    }

    /// The shim's argv, as given by the driver.
    fn detached_args(&self) -> Vec<OsString> {
        self.runc.run_detached_argv(
            &self.id,
            &self.bundle(),
            &self.bundle().join("init.pid"),
            None,
        )
    }

    /// `runc run` in the foreground: the shim's argv without `--detach`.
    fn run_foreground(&self) -> Output {
        let argv: Vec<OsString> = self
            .detached_args()
            .into_iter()
            .filter(|a| a != "--detach")
            .collect();
        Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn run_detached(&self) {
        let argv = self.detached_args();
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "runc run --detach: {status}: {:?}",
            last_error_from_log(&Runc::bundle_log(&self.bundle()))
        );
    }

    fn wait_status(&self, want: RuntimeStatus) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.runc.state(&self.id).unwrap();
            if s.status == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still {:?}, want {want:?}",
                s.status
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.runc.delete(&self.id, true);
        if let Ok(m) = cgroups::open(&self.cgroups_path) {
            if let Err(e) = m.remove() {
                eprintln!("cleanup of cgroup {}: {e}", self.cgroups_path);
            }
        }
    }
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn foreground_pid1_hostname_uid() {
    if !can_run() {
        return;
    }
    let f = Fixture::new("fg");
    f.write(&f.spec(
        &[
            "sh",
            "-c",
            "echo $$; hostname; id -u; id -G; cat /etc/hostname",
        ],
        "tester",
    ));
    let out = f.run_foreground();
    assert!(
        out.status.success(),
        "runc run: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // tester: uid 1234, primary group 1234, supplementary 4321.
    assert_eq!(
        stdout_lines(&out),
        ["1", "berthtest", "1234", "1234 4321", "berthtest"]
    );
}

#[test]
fn default_security_is_applied() {
    if !can_run() {
        return;
    }
    let f = Fixture::new("sec");
    let input = ContainerSpec {
        readonly_rootfs: true,
        tmpfs: HashMap::from([("/scratch".to_string(), "size=1m".to_string())]),
        binds: vec![BindMount {
            source: f.dir.path().join("files"),
            destination: "/data".into(),
            readonly: true,
            propagation: Propagation::Rprivate,
            non_recursive: false,
        }],
        ..f.spec(
            &[
                "sh",
                "-c",
                "grep CapEff /proc/self/status; grep Seccomp: /proc/self/status; \
                 touch /x 2>/dev/null && echo rootfs-rw || echo rootfs-ro; \
                 touch /scratch/x && echo tmpfs-rw; \
                 touch /data/x 2>/dev/null && echo bind-rw || echo bind-ro; \
                 cat /data/hostname",
            ],
            "",
        )
    };
    f.write(&input);
    let out = f.run_foreground();
    assert!(
        out.status.success(),
        "runc run: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout_lines(&out),
        [
            // Docker's 14 default capabilities.
            "CapEff:\t00000000a80425fb",
            // Mode 2: a seccomp filter is installed.
            "Seccomp:\t2",
            "rootfs-ro",
            "tmpfs-rw",
            "bind-ro",
            "berthtest"
        ]
    );
}

#[test]
fn detached_lifecycle_and_cgroup_limits() {
    if !can_run() {
        return;
    }
    let f = Fixture::new("life");
    let input = ContainerSpec {
        memory: Some(32 << 20),
        pids_limit: Some(50),
        ..f.spec(&["sleep", "300"], "")
    };
    f.write(&input);
    f.run_detached();

    let state = f.runc.state(&f.id).unwrap();
    assert_eq!(state.status, RuntimeStatus::Running);
    assert!(state.pid > 0);
    assert_eq!(state.bundle, f.bundle());
    let pid_file = fs::read_to_string(f.bundle().join("init.pid")).unwrap();
    assert_eq!(pid_file.trim().parse::<i32>().unwrap(), state.pid);
    assert_eq!(f.runc.pids(&f.id).unwrap(), vec![state.pid]);

    // The limits landed in the container's cgroup.
    let cg = cgroups::open(&f.cgroups_path).unwrap();
    assert_eq!(cg.procs().unwrap(), vec![state.pid]);
    let stats = cg.stats().unwrap();
    assert_eq!(stats.memory.limit, Some(32 << 20));
    assert_eq!(stats.pids.limit, Some(50));
    assert_eq!(stats.pids.current, 1);
    assert!(stats.memory.usage > 0);
    assert!(!cg.oom_killed().unwrap());
    let limit_file = match cgroups::detect(Path::new(cgroups::DEFAULT_ROOT)) {
        CgroupVersion::V1 => format!(
            "/sys/fs/cgroup/memory{}/memory.limit_in_bytes",
            f.cgroups_path
        ),
        CgroupVersion::V2 => format!("/sys/fs/cgroup{}/memory.max", f.cgroups_path),
    };
    assert_eq!(
        fs::read_to_string(&limit_file).unwrap().trim(),
        (32u64 << 20).to_string()
    );

    f.runc.pause(&f.id).unwrap();
    assert_eq!(f.runc.state(&f.id).unwrap().status, RuntimeStatus::Paused);
    f.runc.resume(&f.id).unwrap();
    assert_eq!(f.runc.state(&f.id).unwrap().status, RuntimeStatus::Running);

    // A running container cannot be deleted without force.
    assert!(f.runc.delete(&f.id, false).is_err());
    f.runc.kill(&f.id, libc::SIGKILL, false).unwrap();
    f.wait_status(RuntimeStatus::Stopped);
    // Killing a stopped container is an error carrying runc's message.
    let e = f.runc.kill(&f.id, libc::SIGKILL, false).unwrap_err();
    assert!(e.to_string().contains("not running"), "{e}");
    f.runc.delete(&f.id, false).unwrap();
    assert!(f.runc.state(&f.id).unwrap_err().is_not_found());
    assert!(f.runc.delete(&f.id, false).unwrap_err().is_not_found());
    // With force, deleting what is already gone succeeds (idempotent).
    f.runc.delete(&f.id, true).unwrap();
    cg.remove().unwrap();
    assert!(!Path::new(&limit_file).exists());
    assert!(cg.procs().unwrap().is_empty());
}

#[test]
fn oom_kill_is_seen_in_the_cgroup() {
    if !can_run() {
        return;
    }
    let f = Fixture::new("oom");
    // `tail` keeps the current line in memory; /dev/zero never ends one.
    let input = ContainerSpec {
        memory: Some(16 << 20),
        memory_swap: Some(16 << 20),
        ..f.spec(&["tail", "/dev/zero"], "")
    };
    f.write(&input);
    f.run_detached();
    f.wait_status(RuntimeStatus::Stopped);
    let cg = cgroups::open(&f.cgroups_path).unwrap();
    assert!(cg.oom_killed().unwrap());
}

#[test]
fn runc_errors_carry_its_message() {
    if !can_run() {
        return;
    }
    let f = Fixture::new("err");
    // A command that does not exist in the rootfs.
    f.write(&f.spec(&["/no/such/binary"], ""));
    let argv = f.detached_args();
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
    let msg = last_error_from_log(&Runc::bundle_log(&f.bundle())).unwrap();
    assert!(
        msg.contains("/no/such/binary") && msg.contains("no such file or directory"),
        "{msg}"
    );
}

/// `--privileged` asks for every capability the daemon holds. On a host
/// whose root lacks some (this project's VMs miss CAP_SYS_RESOURCE) dockerd
/// asks for all and runc refuses with "unable to apply caps"; berth runs.
#[test]
fn privileged_gets_every_capability_the_daemon_holds() {
    if !can_run() {
        return;
    }
    let f = Fixture::new("priv");
    f.write(&ContainerSpec {
        privileged: true,
        ..f.spec(&["sh", "-c", "grep CapEff /proc/self/status"], "")
    });
    let out = f.run_foreground();
    assert!(
        out.status.success(),
        "{:?}",
        last_error_from_log(&Runc::bundle_log(&f.bundle()))
    );
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = own
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap();
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap();
    let kernel = (1u64 << (last.trim().parse::<u32>().unwrap() + 1)) - 1;
    let want = format!("CapEff:\t{:016x}", bnd & kernel);
    assert_eq!(stdout_lines(&out), [want]);
}
