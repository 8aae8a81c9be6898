//! End-to-end: the stock docker CLI (client only) against a private berthd.

use std::time::Duration;

use berth_tests::{assert_stderr_has, busybox_rootfs_tar, eventually, ok, stdout, text, Daemon};

#[test]
fn run_echo_and_exit_codes() {
    let d = Daemon::start();
    d.load_busybox();
    let out = d.docker(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(ok(&out), "hi\n");
    let out = d.docker(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    // --rm removed them all; mounts and cgroups follow right after.
    assert_eq!(ok(&d.docker(&["ps", "-aq"])), "");
    assert!(eventually(Duration::from_secs(5), || d
        .leftover_mounts()
        .is_empty()
        && d.leftover_cgroups().is_empty()));
    assert!(eventually(Duration::from_secs(5), || std::fs::read_dir(
        d.root.join("containers")
    )
    .map(|mut r| r.next().is_none())
    .unwrap_or(true)));
    let out = d.docker(&["run", "--rm", "busybox", "nonexistentcmd"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("executable file not found"));
}

#[test]
fn stdin_is_delivered_before_start() {
    let d = Daemon::start();
    d.load_busybox();
    let out = d.docker_stdin(
        &["run", "-i", "--rm", "busybox", "cat"],
        Some(b"line1\nline2\n"),
    );
    assert_eq!(ok(&out), "line1\nline2\n");
}

#[test]
fn detached_lifecycle() {
    let d = Daemon::start();
    d.load_busybox();
    let id = ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo started; while true; do sleep 0.1; done",
    ]));
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    let ps = ok(&d.docker(&["ps"]));
    assert!(ps.contains("web") && ps.contains("Up "), "{ps}");
    // The overlay dirs of its writable layer, as docker reports them.
    let gd = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{.GraphDriver.Name}} {{.GraphDriver.Data.MergedDir}} {{.GraphDriver.Data.UpperDir}}",
        "web",
    ]));
    let gd: Vec<&str> = gd.split_whitespace().collect();
    assert_eq!(gd[0], "overlay2");
    assert!(
        std::path::Path::new(gd[1]).join("bin/sh").exists(),
        "{gd:?}"
    );
    assert!(std::path::Path::new(gd[2]).is_dir(), "{gd:?}");
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"])).trim(),
        "{}"
    );
    assert!(eventually(Duration::from_secs(5), || stdout(
        &d.docker(&["logs", "web"])
    ) == "started\n"));
    ok(&d.docker(&["pause", "web"]));
    let state = ok(&d.docker(&["inspect", "-f", "{{.State.Status}}", "web"]));
    assert_eq!(state.trim(), "paused");
    ok(&d.docker(&["unpause", "web"]));
    ok(&d.docker(&["stop", "web"]));
    let state = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "web",
    ]));
    assert_eq!(state.trim(), "exited 0");
    // stop of a stopped container is a success (304).
    ok(&d.docker(&["stop", "web"]));
    ok(&d.docker(&["start", "web"]));
    ok(&d.docker(&["restart", "-t", "1", "web"]));
    let ps = ok(&d.docker(&["ps", "-q"]));
    assert_eq!(ps.trim(), &id[..12]);
    ok(&d.docker(&["rename", "web", "web2"]));
    let top = ok(&d.docker(&["top", "web2"]));
    assert!(top.contains("PID") && top.contains("sleep"), "{top}");
    let out = d.docker(&["rm", "web2"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot remove a running container"));
    ok(&d.docker(&["rm", "-f", "web2"]));
    assert_eq!(ok(&d.docker(&["ps", "-aq"])), "");
    assert!(d.leftover_mounts().is_empty(), "{:?}", d.leftover_mounts());
    assert!(
        eventually(Duration::from_secs(5), || d.leftover_cgroups().is_empty()),
        "{:?}",
        d.leftover_cgroups()
    );
}

#[test]
fn logs_follow_and_wait() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.2; done; exit 7",
    ]));
    let out = d.docker(&["logs", "-f", "counter"]);
    assert_eq!(ok(&out), "1\n2\n3\n");
    assert_eq!(ok(&d.docker(&["wait", "counter"])).trim(), "7");
    assert_eq!(ok(&d.docker(&["logs", "--tail", "1", "counter"])), "3\n");
    let ts = ok(&d.docker(&["logs", "-t", "counter"]));
    assert!(
        ts.lines().all(|l| l.contains('T') && l.contains("Z ")),
        "{ts}"
    );
    let ps = ok(&d.docker(&["ps", "-a", "--filter", "status=exited"]));
    assert!(ps.contains("Exited (7)"), "{ps}");
}

#[test]
fn isolation_and_defaults() {
    let d = Daemon::start();
    d.load_busybox();
    // PID 1 is the command; hostname is the short id.
    let out = ok(&d.docker(&[
        "run",
        "--name",
        "iso",
        "busybox",
        "sh",
        "-c",
        "echo $$; hostname; ps -o pid,comm | wc -l",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1");
    let id = ok(&d.docker(&["inspect", "-f", "{{.Id}}", "iso"]));
    assert_eq!(lines[1], &id.trim()[..12]);
    // Only sh, ps and wc (plus the header) are visible: not the host's processes.
    assert!(lines[2].trim().parse::<u32>().unwrap() <= 4, "{out}");
    // The host's mounts are invisible: only the container's own, as docker
    // sets them up.
    let mounts = ok(&d.docker(&[
        "run",
        "--rm",
        "busybox",
        "cut",
        "-d ",
        "-f5",
        "/proc/self/mountinfo",
    ]));
    let allowed = [
        "/",
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/mqueue",
        "/dev/shm",
        "/sys",
        "/etc/resolv.conf",
        "/etc/hostname",
        "/etc/hosts",
    ];
    for m in mounts.lines() {
        assert!(
            allowed.contains(&m)
                || m.starts_with("/proc/")
                || m.starts_with("/sys/fs/cgroup")
                || m == "/sys/firmware",
            "host mount {m} visible in the container:\n{mounts}"
        );
    }
    // Host files are invisible; the rootfs is the image.
    let out = d.docker(&["run", "--rm", "busybox", "ls", "/root/.cargo"]);
    assert!(!out.status.success());
    // Docker's default capability set.
    let caps = ok(&d.docker(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]));
    assert_eq!(
        caps.split_whitespace().nth(1),
        Some("00000000a80425fb"),
        "{caps}"
    );
    // Docker's default seccomp filter is on: a syscall outside it fails
    // even for root (unshare of a user namespace needs CAP_SYS_ADMIN's rules).
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]));
    assert_eq!(out.split_whitespace().nth(1), Some("2"), "{out}");
    let out = d.docker(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert!(
        !out.status.success(),
        "unshare -U ran under the default profile"
    );
    assert_stderr_has(&out, "Operation not permitted");
    // A user from the image's passwd.
    assert_eq!(
        ok(&d.docker(&["run", "--rm", "-u", "nobody", "busybox", "id", "-u"])).trim(),
        "65534"
    );
    // Working dir and env.
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "-w",
        "/tmp",
        "-e",
        "FOO=bar",
        "busybox",
        "sh",
        "-c",
        "pwd; echo $FOO",
    ]));
    assert_eq!(out, "/tmp\nbar\n");
    // The default bridge's veth, and only loopback with `--network none`.
    let out = ok(&d.docker(&["run", "--rm", "busybox", "ls", "/sys/class/net"]));
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["eth0", "lo"]);
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ls",
        "/sys/class/net",
    ]));
    assert_eq!(out.trim(), "lo");
}

#[test]
fn limits_are_enforced() {
    let d = Daemon::start();
    d.load_busybox();
    // A fork bomb hits the pids limit instead of the host.
    let out = d.docker(&[
        "run",
        "--rm",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 50); do sleep 5 & done; wait",
    ]);
    assert!(
        text(&out.stderr).contains("can't fork")
            || text(&out.stderr).contains("Resource temporarily unavailable"),
        "{}",
        text(&out.stderr)
    );
    // An allocation past the memory limit is OOM-killed and inspect says so.
    let out = d.docker(&[
        "run",
        "--name",
        "oom",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 64m /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    let state = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{.State.OOMKilled}} {{.State.ExitCode}}",
        "oom",
    ]));
    assert_eq!(state.trim(), "true 137");
}

#[test]
fn containers_survive_daemon_kill9() {
    let mut d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&["run", "-d", "--name", "survivor", "busybox", "sh", "-c", "trap 'echo bye; exit 5' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "shortlived",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 4",
    ]));
    let autorm = ok(&d.docker(&["run", "-d", "--rm", "busybox", "sleep", "1"]));
    assert!(eventually(Duration::from_secs(5), || stdout(
        &d.docker(&["logs", "survivor"])
    )
    .contains("tick 3")));
    d.kill9();
    // While the daemon is down, the container keeps running and logging.
    std::thread::sleep(Duration::from_millis(1500));
    d.restart();
    let state = ok(&d.docker(&["inspect", "-f", "{{.State.Status}}", "survivor"]));
    assert_eq!(state.trim(), "running");
    let state = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "shortlived",
    ]));
    assert_eq!(state.trim(), "exited 4");
    // An --rm container that exited while the daemon was down is removed.
    let gone = d.root.join("containers").join(autorm.trim());
    assert!(
        eventually(Duration::from_secs(5), || !gone.exists()),
        "{} still there",
        gone.display()
    );
    let filter = format!("id={}", autorm.trim());
    assert_eq!(ok(&d.docker(&["ps", "-aq", "--filter", &filter])), "");
    let logs = stdout(&d.docker(&["logs", "survivor"]));
    let ticks: Vec<u32> = logs
        .lines()
        .filter_map(|l| l.strip_prefix("tick ")?.parse().ok())
        .collect();
    assert!(ticks.len() > 15, "logs lost while berthd was down: {logs}");
    assert!(
        ticks.windows(2).all(|w| w[1] == w[0] + 1),
        "gap in logs: {logs}"
    );
    // Its logs can be followed through the new daemon, to the end.
    let follower = std::process::Command::new("/usr/local/bin/docker")
        .env("DOCKER_HOST", d.host())
        .args(["logs", "-f", "--tail", "1", "survivor"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ok(&d.docker(&["stop", "survivor"]));
    let followed = stdout(&follower.wait_with_output().unwrap());
    assert!(
        followed.ends_with("bye\n") && followed.lines().count() >= 3,
        "{followed}"
    );
    let state = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "survivor",
    ]));
    assert_eq!(state.trim(), "exited 5");
    assert!(stdout(&d.docker(&["logs", "survivor"])).ends_with("bye\n"));
    ok(&d.docker(&["rm", "survivor", "shortlived"]));
    assert!(d.leftover_mounts().is_empty());
    assert!(eventually(Duration::from_secs(5), || d
        .leftover_cgroups()
        .is_empty()));
}

#[test]
fn images_tag_save_load_rmi() {
    let d = Daemon::start();
    d.load_busybox();
    let images = ok(&d.docker(&["images"]));
    assert!(
        images.contains("busybox") && images.contains("latest"),
        "{images}"
    );
    ok(&d.docker(&["tag", "busybox", "example.com/tools/bb:v1"]));
    let images = ok(&d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    assert!(images.contains("example.com/tools/bb:v1"), "{images}");
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("bb.tar");
    ok(&d.docker(&[
        "save",
        "-o",
        tar.to_str().unwrap(),
        "example.com/tools/bb:v1",
    ]));
    let out = ok(&d.docker(&["rmi", "example.com/tools/bb:v1"]));
    assert!(out.contains("Untagged: example.com/tools/bb:v1"), "{out}");
    let out = ok(&d.docker(&["load", "-i", tar.to_str().unwrap()]));
    assert!(
        out.contains("Loaded image: example.com/tools/bb:v1"),
        "{out}"
    );
    assert_eq!(
        ok(&d.docker(&["run", "--rm", "example.com/tools/bb:v1", "echo", "ok"])),
        "ok\n"
    );
    let hist = ok(&d.docker(&["history", "busybox"]));
    assert!(hist.contains("IMAGE") && hist.contains("CMD"), "{hist}");
    let inspect = ok(&d.docker(&["image", "inspect", "-f", "{{.Id}}", "busybox"]));
    assert!(inspect.starts_with("sha256:"));
    let out = d.docker(&["rmi", "nope:latest"]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "No such image");
}

#[test]
fn import_rootfs_tar() {
    let d = Daemon::start();
    d.load_busybox();
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("rootfs.tar");
    // The test image's only layer is a complete rootfs tar.
    busybox_rootfs_tar(&tar);
    let id = ok(&d.docker(&[
        "import",
        "-c",
        "CMD [\"echo\", \"imported\"]",
        tar.to_str().unwrap(),
        "imported:v1",
    ]));
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(ok(&d.docker(&["run", "--rm", "imported:v1"])), "imported\n");
}

#[test]
fn version_info_and_errors() {
    let d = Daemon::start();
    let v = ok(&d.docker(&["version"]));
    assert!(v.contains("Server:") && v.contains("API version:"), "{v}");
    let info = ok(&d.docker(&["info"]));
    assert!(info.contains("Containers: 0"), "{info}");
    let out = d.docker(&["inspect", "nosuchthing"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "No such object: nosuchthing");
    let out = d.docker(&["stop", "nosuch"]);
    assert!(text(&out.stderr).contains("No such container: nosuch"));
    let out = d.docker(&["run", "--rm", "notloaded:latest", "true"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn tty_run_logs_and_resize() {
    let d = Daemon::start();
    d.load_busybox();
    // -t: one stream through a pseudo-terminal, with its line endings.
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "-t",
        "busybox",
        "sh",
        "-c",
        "tty; echo $TERM",
    ]));
    assert_eq!(out, "/dev/pts/0\r\nxterm\r\n");
    let out = d.docker(&[
        "run",
        "--rm",
        "-t",
        "busybox",
        "sh",
        "-c",
        "echo err >&2; exit 6",
    ]);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(stdout(&out), "err\r\n");
    // The size set through the API is the one the container sees.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "sized",
        "-t",
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; stty size",
    ]));
    let (status, _, _) = d.http("POST", "/v1.47/containers/sized/resize?h=40&w=100", None);
    assert_eq!(status, 200);
    assert_eq!(ok(&d.docker(&["wait", "sized"])).trim(), "0");
    assert_eq!(ok(&d.docker(&["logs", "sized"])), "40 100\r\n");
    // -it from a terminal: input goes through the pty too (`script` gives the
    // docker CLI a terminal).
    let cmd = format!(
        "DOCKER_HOST={} /usr/local/bin/docker run --rm -it busybox sh -c 'read x; echo got $x'",
        d.host()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"hello\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("got hello"), "{}", stdout(&out));
}

#[test]
fn json_file_logs_rotate() {
    let d = Daemon::start();
    d.load_busybox();
    let id = ok(&d.docker(&[
        "run",
        "-d",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 200); do echo line $i; done",
    ]));
    let id = id.trim();
    assert_eq!(ok(&d.docker(&["wait", id])).trim(), "0");
    let dir = d.root.join("containers").join(id);
    let log = dir.join(format!("{id}-json.log"));
    let rotated = dir.join(format!("{id}-json.log.1"));
    assert!(std::fs::metadata(&log).unwrap().len() <= 1024);
    assert!(std::fs::metadata(&rotated).unwrap().len() <= 1024);
    assert!(
        !dir.join(format!("{id}-json.log.2")).exists(),
        "max-file=2 keeps two files"
    );
    // Options dockerd would refuse are refused at create, before anything runs.
    let out = d.docker(&[
        "run",
        "--rm",
        "--log-opt",
        "max-size=lots",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert_stderr_has(&out, "invalid size: 'lots'");
    let out = d.docker(&["run", "--rm", "--log-opt", "colour=blue", "busybox", "true"]);
    assert_stderr_has(&out, "unknown log opt 'colour' for json-file log driver");
    // What is kept is the end of the output, in order.
    let logs = ok(&d.docker(&["logs", id]));
    let nums: Vec<u32> = logs
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.parse().ok())
        .collect();
    assert_eq!(nums.last(), Some(&200), "{logs}");
    assert!(
        nums.len() > 5 && nums.windows(2).all(|w| w[1] == w[0] + 1),
        "{logs}"
    );
}

#[test]
fn run_flags_reach_the_container() {
    let d = Daemon::start();
    d.load_busybox();
    // Resource limits as the container's own cgroup files show them.
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let script = if v2 {
        "cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpuset.cpus /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
    } else {
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
    };
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "-m",
        "32m",
        "--memory-swap",
        "64m",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        script,
    ]));
    let want = if v2 {
        "50000 100000\n20\n0\n33554432\n10\n"
    } else {
        "50000\n512\n0\n33554432\n67108864\n10\n"
    };
    assert_eq!(out, want);
    // Binds (rw and ro), tmpfs and a read-only rootfs.
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in"), "from host\n").unwrap();
    let bind = format!("{}:/data", host.path().display());
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "cat /data/in; echo back > /data/out",
    ]));
    assert_eq!(out, "from host\n");
    assert_eq!(
        std::fs::read_to_string(host.path().join("out")).unwrap(),
        "back\n"
    );
    let ro = format!("{bind}:ro");
    let out = d.docker(&["run", "--rm", "-v", &ro, "busybox", "touch", "/data/x"]);
    assert_stderr_has(&out, "Read-only file system");
    let out = d.docker(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "touch /scratch/ok && touch /nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "Read-only file system");
    // start -a and attach deliver the output and the exit code.
    ok(&d.docker(&[
        "create",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "echo attached; exit 2",
    ]));
    let out = d.docker(&["start", "-a", "later"]);
    assert_eq!(
        (stdout(&out).as_str(), out.status.code()),
        ("attached\n", Some(2))
    );
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; echo late; exit 4",
    ]));
    let out = d.docker(&["attach", "talker"]);
    assert_eq!(
        (stdout(&out).as_str(), out.status.code()),
        ("late\n", Some(4))
    );
}

/// Many short containers at once: an exit that arrives right behind the
/// start, while the daemon is busy, must still be seen (a container once
/// stayed "Up" forever when EXIT was handled before the start was recorded).
#[test]
fn parallel_short_runs_all_finish() {
    let d = Daemon::start();
    d.load_busybox();
    for round in 0..4 {
        let mut children: Vec<std::process::Child> = (0..12)
            .map(|_| {
                std::process::Command::new("/usr/local/bin/docker")
                    .env("DOCKER_HOST", d.host())
                    .args(["run", "--rm", "busybox", "true"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut stuck = 0;
        for child in &mut children {
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "round {round}: a run failed: {status}");
                    break;
                }
                if std::time::Instant::now() > deadline {
                    // The docker CLI proxies SIGTERM to the container: kill it.
                    let _ = child.kill();
                    let _ = child.wait();
                    stuck += 1;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        assert_eq!(
            stuck,
            0,
            "round {round}: {stuck} runs never finished: {}",
            stdout(&d.docker(&["ps", "-a"]))
        );
    }
    assert!(eventually(Duration::from_secs(10), || ok(
        &d.docker(&["ps", "-aq"])
    )
    .is_empty()));
}

#[test]
fn exec_exit_codes_user_env_and_stdin() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"]));
    let out = d.docker(&["exec", "ex", "sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    assert_eq!(
        ok(&d.docker(&["exec", "-u", "nobody", "ex", "id", "-u"])),
        "65534\n"
    );
    assert_eq!(
        ok(&d.docker(&[
            "exec",
            "-w",
            "/tmp",
            "-e",
            "FOO=bar",
            "ex",
            "sh",
            "-c",
            "pwd; echo $FOO"
        ])),
        "/tmp\nbar\n"
    );
    // The exec runs in the container: same hostname, same pid namespace.
    let host = ok(&d.docker(&["inspect", "-f", "{{.Config.Hostname}}", "ex"]));
    assert_eq!(ok(&d.docker(&["exec", "ex", "hostname"])), host);
    assert!(ok(&d.docker(&["exec", "ex", "ps"])).contains("sleep 1000"));
    // Piped stdin reaches the process and its end closes it.
    let out = d.docker_stdin(&["exec", "-i", "ex", "cat"], Some(b"hi\nthere\n"));
    assert_eq!(ok(&out), "hi\nthere\n");
    // Runtime failures: docker's message and shell exit codes.
    let out = d.docker(&["exec", "ex", "nonexistentcmd"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stdout(&out).contains("executable file not found"),
        "{}",
        stdout(&out)
    );
    let out = d.docker(&["exec", "ex", "/etc"]);
    assert_eq!(out.status.code(), Some(126), "{}", stdout(&out));
    let out = d.docker(&["exec", "-u", "nosuchuser", "ex", "true"]);
    assert!(!out.status.success());
    // -d returns at once; the process runs on.
    ok(&d.docker(&["exec", "-d", "ex", "sh", "-c", "sleep 0.3; touch /tmp/done"]));
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["exec", "ex", "test", "-e", "/tmp/done"])
        .status
        .success()));
    // Privileged gets every capability; the default set lacks SYS_ADMIN.
    let caps = |extra: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend(["ex", "sh", "-c", "grep CapEff /proc/self/status"]);
        ok(&d.docker(&args))
    };
    assert_ne!(caps(&[]), caps(&["--privileged"]));
    // Not on a stopped container.
    ok(&d.docker(&["stop", "-t", "0", "ex"]));
    let out = d.docker(&["exec", "ex", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "is not running");
}

#[test]
fn exec_it_size_and_tty() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"]));
    // -t without a terminal on stdin: one stream through a pty.
    let out = ok(&d.docker(&[
        "exec",
        "-t",
        "ex",
        "sh",
        "-c",
        "tty; echo $TERM; echo e >&2",
    ]));
    assert_eq!(out, "/dev/pts/0\r\nxterm\r\ne\r\n");
    let out = d.docker(&["exec", "-t", "ex", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4));
}

fn cgroup_memory_usage(d: &Daemon, id: &str) -> u64 {
    let v1 = format!(
        "/sys/fs/cgroup/memory/{}/{id}/memory.usage_in_bytes",
        d.cgroup_parent
    );
    let v2 = format!("/sys/fs/cgroup/{}/{id}/memory.current", d.cgroup_parent);
    let text = std::fs::read_to_string(&v1)
        .or_else(|_| std::fs::read_to_string(&v2))
        .expect("memory usage file");
    text.trim().parse().unwrap()
}

#[test]
fn stats_one_shot_stream_and_table() {
    let d = Daemon::start();
    d.load_busybox();
    // 20 MiB in tmpfs is charged to the container's memory cgroup.
    let id = ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "mem",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/shm/x bs=1M count=20 2>/dev/null; touch /tmp/ready; sleep 1000",
    ]))
    .trim()
    .to_string();
    assert!(eventually(Duration::from_secs(10), || d
        .docker(&["exec", "mem", "test", "-e", "/tmp/ready"])
        .status
        .success()));
    let (status, _, body) = d.http("GET", "/v1.47/containers/mem/stats?stream=0", None);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let usage = v["memory_stats"]["usage"].as_u64().unwrap();
    let actual = cgroup_memory_usage(&d, &id);
    assert!(usage.abs_diff(actual) < 2 << 20, "{usage} vs {actual}");
    assert!(usage > 20 << 20, "{usage}");
    assert_eq!(v["memory_stats"]["limit"], 64 << 20);
    assert_eq!(v["name"], "/mem");
    assert_eq!(v["id"], id.as_str());
    assert!(v["pids_stats"]["current"].as_u64().unwrap() >= 1);
    // precpu_stats are filled in at once, from an earlier point in time.
    let pre = v["precpu_stats"]["system_cpu_usage"].as_u64().unwrap();
    let now = v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap();
    assert!(pre > 0 && pre < now, "{pre} {now}");
    assert!(v["cpu_stats"]["online_cpus"].as_u64().unwrap() >= 1);

    // The CLI table: docker's columns, the memory from the cgroup.
    let out = ok(&d.docker(&["stats", "--no-stream", "mem"]));
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        [
            "CONTAINER",
            "ID",
            "NAME",
            "CPU",
            "%",
            "MEM",
            "USAGE",
            "/",
            "LIMIT",
            "MEM",
            "%",
            "NET",
            "I/O",
            "BLOCK",
            "I/O",
            "PIDS"
        ]
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id[..12]), "{row}");
    assert!(row.contains(" / 64MiB"), "{row}");
    let berth = ok(&d.berth(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        "mem",
    ]));
    assert!(
        berth.starts_with("mem 2") && berth.contains("MiB / 64MiB"),
        "{berth}"
    );

    // A busy container shows its CPU use on the first call.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]));
    std::thread::sleep(Duration::from_millis(700));
    let cpu = ok(&d.berth(&["stats", "--no-stream", "--format", "{{.CPUPerc}}", "busy"]));
    let cpu: f64 = cpu.trim().trim_end_matches('%').parse().unwrap();
    assert!(cpu > 10.0, "{cpu}");

    // stream=1: one object at once, then one a second, until the stop.
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    use std::io::{BufRead, Write};
    s.write_all(b"GET /v1.47/containers/busy/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = std::io::BufReader::new(s);
    let objects = (0..)
        .map(|_| {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            line
        })
        .filter(|l| l.starts_with("{\"read\""))
        .take(2)
        .count();
    assert_eq!(objects, 2);

    // A stopped container: docker's empty stats, answered at once.
    ok(&d.docker(&["stop", "-t", "0", "busy"]));
    let (_, _, body) = d.http("GET", "/v1.47/containers/busy/stats?stream=0", None);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["read"], "0001-01-01T00:00:00Z");
    let (status, _, _) = d.http("GET", "/v1.47/containers/nosuch/stats?stream=0", None);
    assert_eq!(status, 404);
}

#[test]
fn events_history_filters_and_live() {
    let d = Daemon::start();
    d.load_busybox();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    // Live: a subscriber started before the run sees it.
    let mut live = std::process::Command::new("/usr/local/bin/docker")
        .env("DOCKER_HOST", d.host())
        .args([
            "events",
            "--filter",
            "event=die",
            "--format",
            "{{.Action}} {{.Actor.Attributes.exitCode}}",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = d.docker(&[
        "run", "--rm", "--name", "evrm", "busybox", "sh", "-c", "exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    ok(&d.docker(&["tag", "busybox", "bb:ev"]));
    ok(&d.docker(&["rmi", "bb:ev"]));
    ok(&d.docker(&["run", "-d", "--name", "evx", "busybox", "sleep", "100"]));
    ok(&d.docker(&["exec", "evx", "true"]));
    // A past `until`: the history only, no live wait.
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    std::thread::sleep(Duration::from_millis(1100));
    let history = |filters: &[&str]| {
        let mut args = vec![
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--format",
            "{{.Type}} {{.Action}}",
        ];
        for f in filters {
            args.extend(["--filter", f]);
        }
        ok(&d.docker(&args))
    };
    assert_eq!(
        history(&["container=evrm"]),
        "container create\ncontainer attach\ncontainer start\ncontainer die\ncontainer destroy\n"
    );
    assert_eq!(history(&["type=image", "event=tag"]), "image tag\n");
    assert_eq!(history(&["type=image", "event=untag"]), "image untag\n");
    let tag = ok(&d.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=tag",
        "--format",
        "{{.Actor.Attributes.name}}",
    ]));
    assert_eq!(tag, "bb:ev\n");
    let execs = history(&["container=evx", "event=exec_die"]);
    assert_eq!(execs, "container exec_die\n");
    let out = d.docker(&["events", "--filter", "bogus=1", "--until", &until]);
    assert!(!out.status.success());
    // The live subscriber got the die with its exit code.
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(live.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = live.kill();
    let _ = live.wait();
    assert_eq!(line, "die 3\n");
}

#[test]
fn cp_both_ways_export_and_escapes() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "cp",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /data/sub && echo hi > /data/f && echo deep > /data/sub/g && \
         ln -sfn sub/g /data/link && ln -sfn / /evil && ln -sfn ../../../../../.. /up && \
         touch /ready && sleep 1000",
    ]));
    assert!(eventually(Duration::from_secs(10), || d
        .docker(&["exec", "cp", "test", "-e", "/ready"])
        .status
        .success()));
    let host = tempfile::tempdir().unwrap();
    let h = |p: &str| host.path().join(p);
    let hs = |p: &str| h(p).to_str().unwrap().to_string();
    // Out: a file, a directory, a symlink (as a link), -L (its target).
    ok(&d.docker(&["cp", "cp:/data/f", &hs("f")]));
    assert_eq!(std::fs::read_to_string(h("f")).unwrap(), "hi\n");
    ok(&d.docker(&["cp", "cp:/data", &hs("")]));
    assert_eq!(std::fs::read_to_string(h("data/sub/g")).unwrap(), "deep\n");
    assert_eq!(
        std::fs::read_link(h("data/link")).unwrap(),
        std::path::Path::new("sub/g")
    );
    // Links copied out are relative on purpose: a copy onto a symlink
    // follows it (docker's rule), and one pointing at a host path would
    // make the next copy write there.
    ok(&d.docker(&["cp", "-L", "cp:/data/link", &hs("followed")]));
    assert_eq!(std::fs::read_to_string(h("followed")).unwrap(), "deep\n");
    let out = d.docker(&["cp", "cp:/nope", &hs("x")]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "Could not find the file /nope in container cp");
    // In: to a directory, to a new name, a directory.
    std::fs::write(h("up.txt"), "from host\n").unwrap();
    ok(&d.docker(&["cp", &hs("up.txt"), "cp:/tmp/"]));
    ok(&d.docker(&["cp", &hs("up.txt"), "cp:/tmp/renamed.txt"]));
    ok(&d.docker(&["cp", &hs("data"), "cp:/tmp/d2"]));
    assert_eq!(
        ok(&d.docker(&[
            "exec",
            "cp",
            "cat",
            "/tmp/up.txt",
            "/tmp/renamed.txt",
            "/tmp/d2/sub/g"
        ])),
        "from host\nfrom host\ndeep\n"
    );
    // Owned by the container's root unless -a.
    assert_eq!(
        ok(&d.docker(&["exec", "cp", "stat", "-c", "%u", "/tmp/up.txt"])),
        "0\n"
    );
    // A file over a directory is refused.
    std::fs::write(h("sub"), "file").unwrap();
    let out = d.docker(&["cp", &hs("sub"), "cp:/data/"]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "cannot overwrite directory");

    // Escapes: links to / and above resolve inside the container.
    let marker = format!("berth-escape-{}", rand_suffix());
    std::fs::write(format!("/tmp/{marker}"), "host secret").unwrap();
    let out = d.docker(&["cp", &format!("cp:/up/tmp/{marker}"), "-"]);
    assert!(!out.status.success(), "read a host file through a symlink");
    // /etc/hostname is the container's (a bind mount in its namespace).
    let out = d.docker(&["cp", "cp:/evil/etc/hostname", &hs("hn")]);
    assert!(out.status.success());
    let id = ok(&d.docker(&["inspect", "-f", "{{.Id}}", "cp"]));
    assert_eq!(
        std::fs::read_to_string(h("hn")).unwrap(),
        format!("{}\n", &id[..12])
    );
    std::fs::write(h("planted"), "x").unwrap();
    ok(&d.docker(&["cp", &hs("planted"), "cp:/up/tmp/"]));
    assert!(
        !std::path::Path::new("/tmp/planted").exists(),
        "wrote on the host"
    );
    assert_eq!(ok(&d.docker(&["exec", "cp", "cat", "/tmp/planted"])), "x");
    let _ = std::fs::remove_file(format!("/tmp/{marker}"));

    // Export, and cp from a stopped container (mounted for the copy only).
    let out = d.docker(&["export", "cp"]);
    assert!(out.status.success());
    let list = tar_names(&out.stdout);
    assert!(list.iter().any(|n| n == "bin/busybox"), "{list:?}");
    assert!(list.iter().any(|n| n == "tmp/up.txt"));
    ok(&d.docker(&["stop", "-t", "0", "cp"]));
    assert!(eventually(Duration::from_secs(5), || d
        .leftover_mounts()
        .is_empty()));
    ok(&d.docker(&["cp", "cp:/tmp/renamed.txt", &hs("stopped.txt")]));
    assert_eq!(
        std::fs::read_to_string(h("stopped.txt")).unwrap(),
        "from host\n"
    );
    ok(&d.docker(&["cp", &hs("up.txt"), "cp:/tmp/while-stopped.txt"]));
    assert!(d.leftover_mounts().is_empty(), "{:?}", d.leftover_mounts());
    ok(&d.docker(&["start", "cp"]));
    assert_eq!(
        ok(&d.docker(&["exec", "cp", "cat", "/tmp/while-stopped.txt"])),
        "from host\n"
    );
}

fn rand_suffix() -> String {
    format!(
        "{:x}",
        std::process::id() as u64 * 7919
            + std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos() as u64
    )
}

fn tar_names(data: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut off = 0;
    while off + 512 <= data.len() {
        let h = &data[off..off + 512];
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let name_end = h[..100].iter().position(|b| *b == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(&h[..name_end]).into_owned();
        let size_field = String::from_utf8_lossy(&h[124..136]);
        let size = u64::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
            .unwrap_or(0);
        if h[156] != b'L' {
            names.push(name);
        }
        off += 512 + size.div_ceil(512) as usize * 512;
    }
    names
}

#[test]
fn diff_commit_and_run_the_committed_image() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "dc",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/new && rm /bin/vi && mkdir /data && echo x > /data/y && \
         ln -s / /data/evil && ln -s ../../../../.. /data/up && touch /ready && sleep 1000",
    ]));
    assert!(eventually(Duration::from_secs(10), || d
        .docker(&["exec", "dc", "test", "-e", "/ready"])
        .status
        .success()));
    // The runtime's mount points (hosts, hostname, resolv.conf) live in the
    // init layer, as in docker: they are no change. Links are not followed.
    assert_eq!(
        ok(&d.docker(&["diff", "dc"])),
        "C /bin\nD /bin/vi\nA /data\nA /data/evil\nA /data/up\nA /data/y\nA /ready\nC /tmp\nA /tmp/new\n"
    );
    assert_eq!(
        ok(&d.berth(&["diff", "dc"])),
        ok(&d.docker(&["diff", "dc"]))
    );
    let id = ok(&d.docker(&[
        "commit",
        "-m",
        "snapshot",
        "-a",
        "me",
        "-c",
        "ENV FOO=bar",
        "-c",
        r#"CMD ["cat", "/data/y"]"#,
        "dc",
        "committed:v1",
    ]));
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(ok(&d.docker(&["run", "--rm", "committed:v1"])), "x\n");
    assert_eq!(
        ok(&d.docker(&[
            "run",
            "--rm",
            "committed:v1",
            "sh",
            "-c",
            "echo $FOO; test -e /bin/vi || echo gone; readlink /data/evil"
        ])),
        "bar\ngone\n/\n"
    );
    assert_eq!(
        ok(&d.docker(&[
            "inspect",
            "-f",
            "{{.Comment}}|{{.Author}}|{{len .RootFS.Layers}}",
            "committed:v1"
        ])),
        format!(
            "snapshot|me|{}\n",
            ok(&d.docker(&["inspect", "-f", "{{len .RootFS.Layers}}", "busybox"]))
                .trim()
                .parse::<usize>()
                .unwrap()
                + 1
        )
    );
    let history = ok(&d.docker(&["history", "--format", "{{.Comment}}", "committed:v1"]));
    assert_eq!(history.lines().next(), Some("snapshot"));
    // The committed layer holds the container's files, not the host's.
    let out = d.docker(&["save", "committed:v1"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("root:x:0:0:root:/root:/bin/bash"));
    // A stopped container commits too; a bad reference is refused.
    ok(&d.docker(&["stop", "-t", "0", "dc"]));
    ok(&d.docker(&["commit", "dc", "committed:v2"]));
    let out = d.docker(&["commit", "dc", "Bad:Name"]);
    assert!(!out.status.success());
    let out = d.docker(&["diff", "nosuch"]);
    assert_stderr_has(&out, "No such container: nosuch");
}

#[test]
fn prune_containers_and_images() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run", "--name", "done1", "--label", "keep=no", "busybox", "true",
    ]));
    ok(&d.docker(&[
        "run", "--name", "done2", "--label", "keep=yes", "busybox", "true",
    ]));
    ok(&d.docker(&["run", "-d", "--name", "alive", "busybox", "sleep", "100"]));
    let out = ok(&d.docker(&["container", "prune", "-f", "--filter", "label=keep=no"]));
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    let names = ok(&d.docker(&["ps", "-a", "--format", "{{.Names}}"]));
    assert!(
        !names.contains("done1") && names.contains("done2") && names.contains("alive"),
        "{names}"
    );
    ok(&d.docker(&["container", "prune", "-f"]));
    assert_eq!(
        ok(&d.docker(&["ps", "-a", "--format", "{{.Names}}"])),
        "alive\n"
    );
    // Images: a dangling one goes, a tagged one only with -a, a used one never.
    ok(&d.docker(&["commit", "alive", "tmp:1"]));
    ok(&d.docker(&["commit", "alive", "tmp:2"]));
    ok(&d.docker(&["rmi", "tmp:1"]));
    ok(&d.docker(&["tag", "tmp:2", "tmp:3"]));
    let dangling_before = ok(&d.docker(&["images", "-q", "--filter", "dangling=true"]));
    assert_eq!(dangling_before, "");
    let (status, _, body) = d.http(
        "POST",
        "/v1.47/images/prune?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D",
        None,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let deleted = v["ImagesDeleted"].as_array().unwrap();
    assert!(deleted.iter().any(|i| i["Untagged"] == "tmp:3"), "{v}");
    assert!(
        v["SpaceReclaimed"].as_u64().unwrap() > 0
            || deleted.iter().any(|i| i.get("Deleted").is_some())
    );
    // busybox is used by "alive" and stays.
    assert_eq!(
        ok(&d.docker(&["images", "--format", "{{.Repository}}"])),
        "busybox\n"
    );
    let out = d.docker(&["image", "prune", "-f", "--filter", "bogus=1"]);
    assert!(!out.status.success());
}

fn cgroup_file(d: &Daemon, id: &str, v1: &str, v2: &str) -> String {
    let p1 = format!("/sys/fs/cgroup/{v1}").replace("{p}", &format!("{}/{id}", d.cgroup_parent));
    let p2 = format!("/sys/fs/cgroup/{}/{id}/{v2}", d.cgroup_parent);
    std::fs::read_to_string(&p1)
        .or_else(|_| std::fs::read_to_string(&p2))
        .unwrap_or_else(|e| panic!("{p1} / {p2}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn update_resources_of_a_running_container() {
    let d = Daemon::start();
    d.load_busybox();
    let id = ok(&d.docker(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]))
        .trim()
        .to_string();
    assert_eq!(
        ok(&d.docker(&[
            "update",
            "--memory",
            "128m",
            "--memory-swap",
            "256m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "50",
            "up",
        ])),
        "up\n"
    );
    ok(&d.docker(&["update", "--restart", "on-failure:3", "up"]));
    let mem = cgroup_file(&d, &id, "memory/{p}/memory.limit_in_bytes", "memory.max");
    assert_eq!(mem, (128u64 << 20).to_string());
    let pids = cgroup_file(&d, &id, "pids/{p}/pids.max", "pids.max");
    assert_eq!(pids, "50");
    let quota = cgroup_file(&d, &id, "cpu/{p}/cpu.cfs_quota_us", "cpu.max");
    assert!(quota.starts_with("150000"), "{quota}");
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "up"])),
        "134217728 1500000000 on-failure:3\n"
    );
    // The container still runs; bad values change nothing.
    let out = d.docker(&["update", "--memory", "1m", "up"]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "Minimum memory limit allowed is 6MB");
    assert_eq!(
        cgroup_file(&d, &id, "memory/{p}/memory.limit_in_bytes", "memory.max"),
        (128u64 << 20).to_string()
    );
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.Running}}", "up"])),
        "true\n"
    );
    // A stopped container's record changes and the next start applies it.
    ok(&d.docker(&["stop", "-t", "0", "up"]));
    ok(&d.docker(&["update", "--memory", "96m", "up"]));
    ok(&d.docker(&["start", "up"]));
    assert_eq!(
        cgroup_file(&d, &id, "memory/{p}/memory.limit_in_bytes", "memory.max"),
        (96u64 << 20).to_string()
    );
}

/// cp on a stopped container sees its binds and docker's files, as dockerd
/// mounts them for the copy; nothing stays mounted afterwards.
#[test]
fn cp_on_a_stopped_container_goes_through_its_binds() {
    let d = Daemon::start();
    d.load_busybox();
    let vol = tempfile::tempdir().unwrap();
    let ro = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("r.txt"), "read only\n").unwrap();
    let bind = format!("{}:/data", vol.path().display());
    let bind_ro = format!("{}:/ro:ro", ro.path().display());
    let id = ok(&d.docker(&[
        "run", "--name", "sb", "-v", &bind, "-v", &bind_ro, "busybox", "true",
    ]))
    .trim()
    .to_string();
    let id = if id.is_empty() {
        ok(&d.docker(&["inspect", "-f", "{{.Id}}", "sb"]))
            .trim()
            .to_string()
    } else {
        id
    };
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in.txt"), "into the volume\n").unwrap();
    ok(&d.docker(&[
        "cp",
        host.path().join("in.txt").to_str().unwrap(),
        "sb:/data/",
    ]));
    assert_eq!(
        std::fs::read_to_string(vol.path().join("in.txt")).unwrap(),
        "into the volume\n"
    );
    let out = d.docker(&["cp", "sb:/ro/r.txt", "-"]);
    assert!(out.status.success());
    let out = d.docker(&[
        "cp",
        host.path().join("in.txt").to_str().unwrap(),
        "sb:/ro/",
    ]);
    assert!(!out.status.success(), "wrote into a read-only bind");
    assert!(!ro.path().join("in.txt").exists());
    let hn = host.path().join("hn");
    ok(&d.docker(&["cp", "sb:/etc/hostname", hn.to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(&hn).unwrap(),
        format!("{}\n", &id[..12])
    );
    assert!(d.leftover_mounts().is_empty(), "{:?}", d.leftover_mounts());
    assert!(!std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(vol.path().to_str().unwrap()));
}
