//! End-to-end: healthchecks through the stock docker CLI against a private
//! berthd. Probes run every 200ms so each test settles in seconds; waits
//! are generous limits on polls, never fixed sleeps.

use std::time::Duration;

use berth_tests::{eventually, ok, Daemon};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn health(d: &Daemon, name: &str) -> Value {
    let out = ok(&d.docker(&["inspect", "--format", "{{json .State.Health}}", name]));
    serde_json::from_str(out.trim()).expect("State.Health is JSON")
}

fn status(d: &Daemon, name: &str) -> String {
    health(d, name)["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn settles(d: &Daemon, name: &str, want: &str) {
    assert!(
        eventually(LIMIT, || status(d, name) == want),
        "{name} never became {want}: {}",
        health(d, name)
    );
}

/// The container's events so far, one action a line.
fn actions(d: &Daemon, name: &str) -> String {
    ok(&d.docker(&[
        "events",
        "--since",
        "0",
        "--until",
        &format!("{}", chrono_now() + 1),
        "--filter",
        &format!("container={name}"),
        "--format",
        "{{.Action}}",
    ]))
}

fn chrono_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn ps_names(d: &Daemon, filter: &str) -> Vec<String> {
    ok(&d.docker(&["ps", "--filter", filter, "--format", "{{.Names}}"]))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_check_probes_inside_the_container_and_flips_both_ways() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "flip",
        "--health-cmd",
        "echo probing; test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]));
    settles(&d, "flip", "unhealthy");
    let h = health(&d, "flip");
    assert!(h["FailingStreak"].as_i64().unwrap_or(0) >= 2, "{h}");
    let last = h["Log"].as_array().and_then(|l| l.last()).cloned();
    let last = last.expect("a log entry");
    assert_eq!(last["ExitCode"], 1, "{h}");
    assert_eq!(last["Output"], "probing\n", "{h}");
    let ps = ok(&d.docker(&["ps", "--filter", "name=flip", "--format", "{{.Status}}"]));
    assert!(ps.trim_end().ends_with("(unhealthy)"), "{ps}");

    // The probe sees the container's own filesystem.
    ok(&d.docker(&["exec", "flip", "touch", "/tmp/ok"]));
    settles(&d, "flip", "healthy");
    assert_eq!(health(&d, "flip")["FailingStreak"], 0);
    let ps = ok(&d.docker(&["ps", "--filter", "name=flip", "--format", "{{.Status}}"]));
    assert!(ps.trim_end().ends_with("(healthy)"), "{ps}");

    let events = actions(&d, "flip");
    let unhealthy = events.find("health_status: unhealthy");
    let healthy = events.find("health_status: healthy");
    assert!(
        matches!((unhealthy, healthy), (Some(u), Some(h)) if u < h),
        "{events}"
    );

    // Stopped: no probing, and dockerd's last word is unhealthy.
    ok(&d.docker(&["stop", "-t", "1", "flip"]));
    assert_eq!(status(&d, "flip"), "unhealthy");
}

#[test]
fn ps_filters_by_health() {
    let d = Daemon::start();
    d.load_busybox();
    let run = |name: &str, cmd: &str| {
        ok(&d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            cmd,
            "--health-interval",
            "200ms",
            "--health-retries",
            "1",
            "busybox",
            "sleep",
            "300",
        ]));
    };
    run("good", "exit 0");
    run("bad", "exit 3");
    ok(&d.docker(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"]));
    settles(&d, "good", "healthy");
    settles(&d, "bad", "unhealthy");
    assert_eq!(ps_names(&d, "health=healthy"), ["good"]);
    assert_eq!(ps_names(&d, "health=unhealthy"), ["bad"]);
    assert_eq!(ps_names(&d, "health=none"), ["plain"]);
    let out = d.docker(&["ps", "--filter", "health=sick"]);
    assert!(!out.status.success());
    assert!(
        berth_tests::text(&out.stderr).contains("invalid filter 'health=sick'"),
        "{}",
        berth_tests::text(&out.stderr)
    );
    // The plain container has no State.Health at all.
    let out = ok(&d.docker(&["inspect", "--format", "{{json .State.Health}}", "plain"]));
    assert_eq!(out.trim(), "null");
}

#[test]
fn a_slow_probe_is_cut_at_its_timeout() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "echo started; sleep 30",
        "--health-interval",
        "200ms",
        "--health-timeout",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]));
    settles(&d, "slow", "unhealthy");
    let h = health(&d, "slow");
    let last = h["Log"].as_array().and_then(|l| l.last()).cloned();
    let last = last.expect("a log entry");
    assert_eq!(last["ExitCode"], -1, "{h}");
    assert_eq!(
        last["Output"], "Health check exceeded timeout (300ms): started\n",
        "{h}"
    );
}

#[test]
fn the_image_healthcheck_is_used_unless_disabled() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "create",
        "--name",
        "base",
        "--health-cmd",
        "exit 0",
        "--health-interval",
        "200ms",
        "busybox",
    ]));
    ok(&d.docker(&["commit", "base", "checked:1"]));
    let test = ok(&d.docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Healthcheck.Test}}",
        "checked:1",
    ]));
    assert_eq!(test.trim(), r#"["CMD-SHELL","exit 0"]"#);

    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "inherits",
        "checked:1",
        "sleep",
        "300",
    ]));
    settles(&d, "inherits", "healthy");

    // The container's fields win over the image's; the interval comes from
    // the image (200ms), or the container would take 30s to turn.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "overrides",
        "--health-cmd",
        "exit 1",
        "--health-retries",
        "1",
        "checked:1",
        "sleep",
        "300",
    ]));
    settles(&d, "overrides", "unhealthy");
    let interval = ok(&d.docker(&[
        "inspect",
        "--format",
        "{{.Config.Healthcheck.Interval}}",
        "overrides",
    ]));
    assert_eq!(interval.trim(), "200ms");

    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "disabled",
        "--no-healthcheck",
        "checked:1",
        "sleep",
        "300",
    ]));
    let test = ok(&d.docker(&[
        "inspect",
        "--format",
        "{{json .Config.Healthcheck.Test}}",
        "disabled",
    ]));
    assert_eq!(test.trim(), r#"["NONE"]"#);
    // Long enough for the image's check to have run many times.
    settles(&d, "inherits", "healthy");
    let out = ok(&d.docker(&["inspect", "--format", "{{json .State.Health}}", "disabled"]));
    assert_eq!(out.trim(), "null");
    assert!(ps_names(&d, "health=none").contains(&"disabled".to_string()));
}

#[test]
fn a_daemon_restart_keeps_the_log_and_probing_resumes() {
    let mut d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "kept",
        "--health-cmd",
        "exit 0",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "300",
    ]));
    settles(&d, "kept", "healthy");
    let starts = |h: &Value| -> Vec<String> {
        h["Log"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|r| r["Start"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = starts(&health(&d, "kept"));
    let last = before.last().cloned().expect("a log entry");

    d.restart();
    // Only the record can have told the new daemon of this result (five
    // more probes would take five seconds to push it out).
    let after = starts(&health(&d, "kept"));
    assert!(after.contains(&last), "before {before:?}\nafter {after:?}");
    // Probing goes on: a result the old daemon did not record.
    assert!(
        eventually(LIMIT, || {
            let h = health(&d, "kept");
            h["Status"] == "healthy" && starts(&h).iter().any(|s| !after.contains(s))
        }),
        "{}",
        health(&d, "kept")
    );
}

#[test]
fn an_opted_in_unhealthy_container_is_restarted() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "mend",
        "--label",
        "berth.restart-on-unhealthy=true",
        "--health-cmd",
        "test ! -f /tmp/sick",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/sick; exec sleep 300",
    ]));
    assert!(
        eventually(LIMIT, || actions(&d, "mend").contains("restart")),
        "{}",
        actions(&d, "mend")
    );
    let events = actions(&d, "mend");
    assert!(events.contains("health_status: unhealthy"), "{events}");
}
