//! End-to-end: create fields that shape the container (groups, init,
//! namespaces, devices, mounts, security options, resources), each checked
//! from inside the container through the docker CLI.

use berth_tests::{assert_stderr_has, ok, Daemon};

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.load_busybox();
    d
}

/// `docker run --rm busybox sh -c SCRIPT` with `flags` before the image.
fn run_sh(d: &Daemon, flags: &[&str], script: &str) -> std::process::Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    d.docker(&args)
}

#[test]
fn group_add_numeric_and_by_name() {
    let d = daemon();
    let out = ok(&run_sh(
        &d,
        &["--group-add", "1234", "--group-add", "audio"],
        "id -G; grep Groups /proc/self/status",
    ));
    // The kernel keeps supplementary groups sorted.
    assert_eq!(out, "0 10 29 1234\nGroups:\t0 10 29 1234 \n");
    let out = run_sh(&d, &["--group-add", "nosuchgroup"], "true");
    assert!(!out.status.success());
    assert_stderr_has(&out, "Unable to find group nosuchgroup");
}

#[test]
fn init_runs_as_pid_one() {
    let d = daemon();
    let out = ok(&run_sh(
        &d,
        &["--init"],
        "tr '\\0' ' ' < /proc/1/cmdline; echo; (echo x > /sbin/docker-init) 2>/dev/null || echo read-only",
    ));
    assert_eq!(
        out,
        "/sbin/docker-init -- sh -c tr '\\0' ' ' < /proc/1/cmdline; echo; (echo x > /sbin/docker-init) 2>/dev/null || echo read-only \nread-only\n"
    );
    // Without --init the command itself is pid 1.
    let out = ok(&run_sh(&d, &[], "tr '\\0' ' ' < /proc/1/cmdline; echo"));
    assert_eq!(out, "sh -c tr '\\0' ' ' < /proc/1/cmdline; echo \n");
}
