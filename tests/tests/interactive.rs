//! Interactive sessions driven through a real terminal (tmux), the way a
//! user types them: `run -it`, the window size and its changes, the detach
//! keys, `attach`, `exec -it` and exit codes; with the docker CLI and with
//! berth.

use std::time::Duration;

use berth_tests::tmux::Tmux;
use berth_tests::{bin_dir, eventually, ok, Daemon};

fn docker_cli(d: &Daemon) -> String {
    format!("DOCKER_HOST={} /usr/local/bin/docker", d.host())
}

fn berth_cli(d: &Daemon) -> String {
    format!("{} -H {}", bin_dir().join("berth").display(), d.host())
}

/// Runs `command` in a fresh terminal; when it ends the screen shows its
/// exit status as `EXIT=<n>`.
fn terminal(command: &str, cols: u16, rows: u16) -> Tmux {
    Tmux::start(&format!("{command}; echo EXIT=$?; sleep 600"), cols, rows)
}

/// Types `stty size` until the screen shows `rows cols` (a resize reaches
/// the container a moment after the window changes).
fn expect_size(t: &Tmux, rows: u16, cols: u16) {
    let want = format!("{rows} {cols}");
    let seen = eventually(Duration::from_secs(10), || {
        t.line("stty size");
        std::thread::sleep(Duration::from_millis(300));
        t.screen().contains(&want)
    });
    assert!(seen, "no {want:?} on screen:\n{}", t.screen());
}

fn state(d: &Daemon, name: &str, field: &str) -> String {
    ok(&d.docker(&["inspect", "-f", &format!("{{{{.State.{field}}}}}"), name]))
        .trim()
        .to_string()
}

fn run_attach_detach(d: &Daemon, cli: &str) {
    let t = terminal(&format!("{cli} run -it --name it busybox sh"), 100, 30);
    t.wait_for("/ #");
    expect_size(&t, 30, 100);
    t.resize(80, 20);
    expect_size(&t, 20, 80);
    // ctrl-p ctrl-q: the client leaves, the shell runs on.
    t.keys(&["C-p", "C-q"]);
    t.wait_for("EXIT=0");
    assert_eq!(state(d, "it", "Running"), "true");

    let t = terminal(&format!("{cli} attach it"), 90, 25);
    t.line("echo $((6 * 7))");
    t.wait_for("42");
    // From `attach` the docker CLI reports the detach as an error.
    t.keys(&["C-p", "C-q"]);
    t.wait_for("read escape sequence");
    t.wait_for("EXIT=1");
    assert_eq!(state(d, "it", "Running"), "true");

    let t = terminal(&format!("{cli} attach it"), 90, 25);
    expect_size(&t, 25, 90);
    t.line("exit 7");
    t.wait_for("EXIT=7");
    assert!(eventually(Duration::from_secs(5), || state(
        d, "it", "Status"
    ) == "exited"));
    assert_eq!(state(d, "it", "ExitCode"), "7");
    ok(&d.docker(&["rm", "it"]));
}

fn exec_it(d: &Daemon, cli: &str) {
    ok(&d.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"]));
    let t = terminal(&format!("{cli} exec -it ex sh"), 100, 30);
    t.wait_for("/ #");
    expect_size(&t, 30, 100);
    t.resize(80, 20);
    expect_size(&t, 20, 80);
    t.line("echo $$ > /tmp/detached.pid");
    // The docker CLI reports a detach from exec as an error, exit status 1.
    t.keys(&["C-p", "C-q"]);
    t.wait_for("read escape sequence");
    t.wait_for("EXIT=1");
    // The detached shell is still there.
    let pid = ok(&d.docker(&["exec", "ex", "cat", "/tmp/detached.pid"]));
    let alive = d.docker(&["exec", "ex", "kill", "-0", pid.trim()]);
    assert!(alive.status.success(), "the detached exec shell is gone");

    let t = terminal(&format!("{cli} exec -it ex sh"), 100, 30);
    t.wait_for("/ #");
    t.line("exit 7");
    t.wait_for("EXIT=7");
    assert_eq!(state(d, "ex", "Running"), "true");
    ok(&d.docker(&["rm", "-f", "ex"]));
}

#[test]
fn docker_cli_run_it_attach_and_detach() {
    let d = Daemon::start();
    d.load_busybox();
    run_attach_detach(&d, &docker_cli(&d));
}

#[test]
fn berth_cli_run_it_attach_and_detach() {
    let d = Daemon::start();
    d.load_busybox();
    run_attach_detach(&d, &berth_cli(&d));
}

#[test]
fn docker_cli_exec_it() {
    let d = Daemon::start();
    d.load_busybox();
    exec_it(&d, &docker_cli(&d));
}

#[test]
fn berth_cli_exec_it() {
    let d = Daemon::start();
    d.load_busybox();
    exec_it(&d, &berth_cli(&d));
}
