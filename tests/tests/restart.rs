//! End-to-end: restart policies through the docker CLI against a private
//! berthd: the policy's decisions, its back-off, what a user's stop or kill
//! means to it, `update --restart`, `rm -f` during the back-off, and what a
//! restart of the daemon starts again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_tests::{assert_stderr_has, eventually, ok, Daemon};

const LONG: Duration = Duration::from_secs(60);

fn inspect(d: &Daemon, name: &str, format: &str) -> String {
    ok(&d.docker(&["inspect", "-f", format, name]))
        .trim()
        .to_string()
}

/// `status restart-count`, e.g. `running 1`.
fn state(d: &Daemon, name: &str) -> String {
    inspect(d, name, "{{.State.Status}} {{.RestartCount}}")
}

fn pid(d: &Daemon, name: &str) -> i32 {
    inspect(d, name, "{{.State.Pid}}").parse().unwrap()
}

/// Kills the container's process from the host, behind the daemon's back.
fn kill_process(pid: i32) {
    assert!(pid > 0);
    // SAFETY: kill(2) of a container process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The container's events so far: (action, time in ns).
fn events(d: &Daemon, name: &str) -> Vec<(String, u128)> {
    let until = (now_secs() + 1).to_string();
    let out = ok(&d.docker(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        &format!("container={name}"),
        "--format",
        "{{.Action}} {{.TimeNano}}",
    ]));
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, t)| (a.to_string(), t.parse().unwrap()))
        .collect()
}

#[test]
fn on_failure_restarts_n_times_with_growing_delays() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "of",
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]));
    assert!(
        eventually(LONG, || state(&d, "of") == "exited 3"),
        "{}",
        state(&d, "of")
    );
    assert_eq!(inspect(&d, "of", "{{.State.ExitCode}}"), "1");
    let evs = events(&d, "of");
    let actions: Vec<&str> = evs
        .iter()
        .map(|(a, _)| a.as_str())
        .filter(|a| matches!(*a, "start" | "die" | "restart"))
        .collect();
    // A policy restart is a start, as in dockerd: no `restart` event.
    assert_eq!(
        actions,
        ["start", "die", "start", "die", "start", "die", "start", "die"],
        "{evs:?}"
    );
    let times = |what: &str| -> Vec<u128> {
        evs.iter()
            .filter(|(a, _)| a == what)
            .map(|(_, t)| *t)
            .collect()
    };
    let (starts, dies) = (times("start"), times("die"));
    // From each exit to the next start: at least the back-off, which
    // doubles from 100 ms.
    let gaps: Vec<u128> = (0..3).map(|i| starts[i + 1] - dies[i]).collect();
    for (gap, least_ms) in gaps.iter().zip([100u128, 200, 400]) {
        assert!(*gap >= least_ms * 1_000_000, "gaps {gaps:?}");
    }
    assert!(gaps[2] > gaps[0], "the delays do not grow: {gaps:?}");
    ok(&d.docker(&["rm", "of"]));
}

#[test]
fn on_failure_leaves_a_clean_exit_alone_and_no_policy_never_restarts() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "--name",
        "clean",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]));
    // The decision is made as the exit is recorded: after `run` returned,
    // a restart would show as `restarting`.
    assert_eq!(state(&d, "clean"), "exited 0");
    let out = d.docker(&["run", "--name", "plain", "busybox", "sh", "-c", "exit 2"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(state(&d, "plain"), "exited 0");
}

#[test]
fn always_comes_back_after_its_process_is_killed_but_not_after_docker_kill() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "al",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "1000",
    ]));
    let first = pid(&d, "al");
    kill_process(first);
    assert!(
        eventually(LONG, || state(&d, "al") == "running 1"),
        "{}",
        state(&d, "al")
    );
    assert_ne!(pid(&d, "al"), first);
    assert_eq!(inspect(&d, "al", "{{.State.Restarting}}"), "false");
    // A kill through the API is the user's: the policy does not undo it.
    ok(&d.docker(&["kill", "al"]));
    assert_eq!(state(&d, "al"), "exited 1");
    // An explicit start resets the count.
    ok(&d.docker(&["start", "al"]));
    assert_eq!(state(&d, "al"), "running 0");
    ok(&d.docker(&["stop", "-t", "1", "al"]));
    assert_eq!(inspect(&d, "al", "{{.State.Status}}"), "exited");
    ok(&d.docker(&["rm", "al"]));
}

#[test]
fn a_daemon_restart_starts_what_the_policy_wants_up() {
    let mut d = Daemon::start();
    d.load_busybox();
    for (name, policy) in [
        ("up", "always"),
        ("dies", "always"),
        ("stopped-always", "always"),
        ("stopped-unless", "unless-stopped"),
        ("running-unless", "unless-stopped"),
    ] {
        ok(&d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sleep",
            "1000",
        ]));
    }
    ok(&d.docker(&["stop", "-t", "1", "stopped-always", "stopped-unless"]));
    let up_pid = pid(&d, "up");
    let dies_pid = pid(&d, "dies");
    // berthd dies; one container dies while it is down.
    d.kill9();
    kill_process(dies_pid);
    d.restart();
    assert!(
        eventually(LONG, || {
            ["dies", "stopped-always"]
                .iter()
                .all(|n| inspect(&d, n, "{{.State.Status}}") == "running")
        }),
        "{} / {}",
        state(&d, "dies"),
        state(&d, "stopped-always")
    );
    assert_ne!(pid(&d, "dies"), dies_pid);
    // Still the same process: it outlived the daemon.
    assert_eq!(pid(&d, "up"), up_pid);
    assert_eq!(
        inspect(&d, "running-unless", "{{.State.Status}}"),
        "running"
    );
    // docker's rule: an `unless-stopped` container a user stopped stays so.
    assert_eq!(inspect(&d, "stopped-unless", "{{.State.Status}}"), "exited");
    // And `always` keeps working after the restart.
    kill_process(pid(&d, "up"));
    assert!(
        eventually(LONG, || state(&d, "up") == "running 1"),
        "{}",
        state(&d, "up")
    );
    ok(&d.docker(&[
        "rm",
        "-f",
        "up",
        "dies",
        "stopped-always",
        "stopped-unless",
        "running-unless",
    ]));
}

#[test]
fn update_changes_the_policy() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&["run", "-d", "--name", "upd", "busybox", "sleep", "1000"]));
    ok(&d.docker(&["update", "--restart", "always", "upd"]));
    assert_eq!(
        inspect(&d, "upd", "{{.HostConfig.RestartPolicy.Name}}"),
        "always"
    );
    kill_process(pid(&d, "upd"));
    assert!(
        eventually(LONG, || state(&d, "upd") == "running 1"),
        "{}",
        state(&d, "upd")
    );
    ok(&d.docker(&["update", "--restart", "no", "upd"]));
    kill_process(pid(&d, "upd"));
    assert!(eventually(LONG, || inspect(&d, "upd", "{{.State.Status}}") == "exited"));
    assert_eq!(state(&d, "upd"), "exited 1");
    // berth's own CLI sends the same body.
    ok(&d.berth(&["update", "--restart", "on-failure:2", "upd"]));
    assert_eq!(
        inspect(
            &d,
            "upd",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );
    // Checked as dockerd checks it.
    let out = d.docker(&["update", "--restart", "always:3", "upd"]);
    assert!(!out.status.success());
    assert_stderr_has(
        &out,
        "maximum retry count cannot be used with restart policy",
    );
    ok(&d.docker(&["rm", "upd"]));
}

#[test]
fn stop_and_rm_during_the_back_off() {
    let d = Daemon::start();
    d.load_busybox();
    for name in ["bo-stop", "bo-rm"] {
        ok(&d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "exit 1",
        ]));
    }
    // Caught in a back-off of 1.6 s or 3.2 s (the 5th or 6th restart).
    let waiting = |name: &str| {
        let s = state(&d, name);
        let (status, count) = s.split_once(' ').unwrap();
        status == "restarting" && (5..=6).contains(&count.parse::<i64>().unwrap())
    };
    assert!(
        eventually(LONG, || waiting("bo-stop")),
        "{}",
        state(&d, "bo-stop")
    );
    assert_eq!(inspect(&d, "bo-stop", "{{.State.Restarting}}"), "true");
    ok(&d.docker(&["stop", "bo-stop"]));
    assert_eq!(inspect(&d, "bo-stop", "{{.State.Status}}"), "exited");
    let starts_then = events(&d, "bo-stop")
        .iter()
        .filter(|(a, _)| a == "start")
        .count();

    assert!(
        eventually(LONG, || waiting("bo-rm")),
        "{}",
        state(&d, "bo-rm")
    );
    let out = d.docker(&["rm", "bo-rm"]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "You cannot remove a restarting container");
    ok(&d.docker(&["rm", "-f", "bo-rm"]));
    let out = d.docker(&["inspect", "bo-rm"]);
    assert!(!out.status.success());

    // Longer than the back-off it was in: the stopped one was not started.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(inspect(&d, "bo-stop", "{{.State.Status}}"), "exited");
    let starts_now = events(&d, "bo-stop")
        .iter()
        .filter(|(a, _)| a == "start")
        .count();
    assert_eq!(starts_now, starts_then);
    ok(&d.docker(&["rm", "bo-stop"]));
    assert_eq!(d.leftover_mounts(), Vec::<String>::new());
}

#[test]
fn auto_remove_with_a_policy_is_refused() {
    let d = Daemon::start();
    d.load_busybox();
    let (status, _, body) = d.http(
        "POST",
        "/containers/create",
        Some(
            br#"{"Image":"busybox","HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}"#,
        ),
    );
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body)
        .contains("can't create 'AutoRemove' container with restart policy"));
    let out = d.docker(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert!(!out.status.success());
}
