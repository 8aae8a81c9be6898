//! Crash points: berthd is killed (SIGKILL, from inside, by an armed crash
//! point) at each named step of an operation, then started again, and the
//! crash invariants must hold:
//! - the API lists exactly the containers the kernel runs, in the state
//!   the runtime reports;
//! - what the operation was about is either done or not done (a started
//!   container runs and is listed, or it does not run; an image is there
//!   whole and runs, or it is not there);
//! - the daemon works (a new container runs), the store check passes
//!   (`berthd --check`), every container can be removed, and removal
//!   leaves no shim, runtime state, mount, cgroup or file behind.
//!
//! Needs berthd built with `--features berthd/failpoints` (the test command
//! does that); a berthd without crash points fails every test here.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use berth_tests::{busybox_rootfs_tar, eventually, invariants, ok, text, Daemon};

/// What a test does around the crash: `setup` on a sound daemon, `op` on
/// the daemon with the crash point armed (it dies in there), `after` on the
/// daemon started again, before the common invariants.
struct Case {
    point: &'static str,
    setup: fn(&Daemon, &Path),
    op: fn(&Daemon, &Path),
    after: fn(&Daemon, &Path),
}

fn crash_at(case: Case) {
    let mut d = Daemon::start();
    d.load_busybox();
    let scratch = tempfile::tempdir().expect("scratch dir");
    (case.setup)(&d, scratch.path());
    let armed = format!("{}=return", case.point);
    d.restart_with_env(&[("FAILPOINTS", &armed)]);
    (case.op)(&d, scratch.path());
    let status = d.wait_exit(Duration::from_secs(30));
    let log = d.log();
    assert!(
        status.is_some() && log.contains(&format!("crash point {}:", case.point)),
        "berthd did not crash at {} (status {status:?}); is it built with \
         --features berthd/failpoints?\n{log}",
        case.point
    );
    d.restart();
    (case.after)(&d, scratch.path());
    let listing = invariants::settled_listing(&d, Duration::from_secs(10));
    assert_eq!(listing, Vec::<String>::new(), "after {}", case.point);
    let out = d.docker(&["run", "--rm", "busybox", "true"]);
    assert!(
        out.status.success(),
        "a new container after {}: {}",
        case.point,
        text(&out.stderr)
    );
    d.kill9();
    assert_eq!(
        invariants::store_check(&d),
        Vec::<String>::new(),
        "after {}",
        case.point
    );
    d.restart();
    assert_eq!(
        invariants::remove_all(&d),
        Vec::<String>::new(),
        "after {}",
        case.point
    );
    assert_eq!(
        invariants::leaks_after_removal(&d),
        Vec::<String>::new(),
        "after {}",
        case.point
    );
}

/// The docker CLI, for an operation that the crash interrupts: its outcome
/// is whatever the crash made it.
fn attempt(d: &Daemon, args: &[&str]) -> Output {
    d.docker(args)
}

fn state(d: &Daemon, name: &str) -> Option<String> {
    let out = d.docker(&["inspect", "-f", "{{.State.Status}}", name]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Until `name` is gone from the API (a removal the new daemon finishes).
fn until_gone(d: &Daemon, name: &str) {
    assert!(
        eventually(Duration::from_secs(10), || state(d, name).is_none()),
        "{name} is still listed"
    );
}

fn nothing(_: &Daemon, _: &Path) {}

fn create_c(d: &Daemon, _: &Path) {
    ok(&d.docker(&["create", "--name", "ctr", "busybox", "sleep", "600"]));
}

fn run_c(d: &Daemon, _: &Path) {
    ok(&d.docker(&["run", "-d", "--name", "ctr", "busybox", "sleep", "600"]));
}

/// The interrupted start either happened (running, and the API can stop
/// it) or did not (not running, and it starts now).
fn started_or_not(d: &Daemon, _: &Path) {
    match state(d, "ctr").as_deref() {
        Some("running") => {
            ok(&d.docker(&["exec", "ctr", "true"]));
            ok(&d.docker(&["stop", "-t", "1", "ctr"]));
        }
        Some("created") | Some("exited") => {
            ok(&d.docker(&["start", "ctr"]));
            assert_eq!(state(d, "ctr").as_deref(), Some("running"));
        }
        other => panic!("ctr is {other:?}"),
    }
}

/// The container is still there, in a state the runtime agrees with (the
/// common invariants check that), and the API can still act on it.
fn still_manageable(d: &Daemon, _: &Path) {
    let s = state(d, "ctr").expect("ctr is listed");
    if s == "paused" {
        ok(&d.docker(&["unpause", "ctr"]));
    }
    ok(&d.docker(&["restart", "-t", "1", "ctr"]));
    assert_eq!(state(d, "ctr").as_deref(), Some("running"));
}

fn gone_or_removable(d: &Daemon, _: &Path) {
    if state(d, "ctr").is_some() {
        ok(&d.docker(&["rm", "-f", "ctr"]));
    }
    // The name is free again.
    ok(&d.docker(&["create", "--name", "ctr", "busybox", "true"]));
}

fn gone(d: &Daemon, _: &Path) {
    until_gone(d, "ctr");
    ok(&d.docker(&["create", "--name", "ctr", "busybox", "true"]));
}

/// An image operation is all or nothing: `name` runs, or it does not exist.
fn whole_or_absent(d: &Daemon, name: &str) {
    let listed = d.docker(&["image", "inspect", name]).status.success();
    if listed {
        let out = d.docker(&["run", "--rm", name, "/bin/true"]);
        assert!(
            out.status.success(),
            "{name} is listed but does not run: {}",
            text(&out.stderr)
        );
    }
}

fn save_busybox(d: &Daemon, dir: &Path) {
    let tar = dir.join("busybox-save.tar");
    ok(&d.docker(&["save", "-o", tar.to_str().unwrap(), "busybox"]));
}

fn save_and_remove_busybox(d: &Daemon, dir: &Path) {
    save_busybox(d, dir);
    ok(&d.docker(&["rmi", "busybox"]));
}

fn load_busybox(d: &Daemon, dir: &Path) {
    attempt(
        d,
        &["load", "-i", dir.join("busybox-save.tar").to_str().unwrap()],
    );
}

fn busybox_whole_or_absent(d: &Daemon, dir: &Path) {
    whole_or_absent(d, "busybox");
    // Loading it again works either way (the common checks need it).
    ok(&d.docker(&["load", "-i", dir.join("busybox-save.tar").to_str().unwrap()]));
}

fn rootfs_tar(_: &Daemon, dir: &Path) {
    busybox_rootfs_tar(&dir.join("rootfs.tar"));
}

fn import_rootfs(d: &Daemon, dir: &Path) {
    attempt(
        d,
        &[
            "import",
            dir.join("rootfs.tar").to_str().unwrap(),
            "imported:1",
        ],
    );
}

fn imported_whole_or_absent(d: &Daemon, _: &Path) {
    whole_or_absent(d, "imported:1");
}

fn run_c_with_a_file(d: &Daemon, _: &Path) {
    run_c(d, Path::new(""));
    ok(&d.docker(&["exec", "ctr", "sh", "-c", "echo committed > /marker"]));
}

fn commit_c(d: &Daemon, _: &Path) {
    attempt(d, &["commit", "ctr", "committed:1"]);
}

fn committed_whole_or_absent(d: &Daemon, p: &Path) {
    whole_or_absent(d, "committed:1");
    if d.docker(&["image", "inspect", "committed:1"])
        .status
        .success()
    {
        let out = ok(&d.docker(&["run", "--rm", "committed:1", "cat", "/marker"]));
        assert_eq!(out.trim(), "committed");
    }
    still_manageable(d, p);
}

macro_rules! crash_tests {
    ($($name:ident: $point:literal, $setup:expr, $op:expr, $after:expr;)*) => {
        $(
            #[test]
            fn $name() {
                crash_at(Case { point: $point, setup: $setup, op: $op, after: $after });
            }
        )*
    };
}

crash_tests! {
    // create
    create_dir_made: "create.dir-made", nothing,
        |d, _| { attempt(d, &["create", "--name", "ctr", "busybox", "sleep", "600"]); }, gone_or_removable;
    create_layer_made: "create.layer-made", nothing,
        |d, _| { attempt(d, &["create", "--name", "ctr", "busybox", "sleep", "600"]); }, gone_or_removable;
    create_recorded: "create.recorded", nothing,
        |d, _| { attempt(d, &["create", "--name", "ctr", "busybox", "sleep", "600"]); },
        |d, p| { assert_eq!(state(d, "ctr").as_deref(), Some("created")); started_or_not(d, p) };
    // start
    start_rootfs_mounted: "start.rootfs-mounted", create_c,
        |d, _| { attempt(d, &["start", "ctr"]); }, started_or_not;
    start_bundle_written: "start.bundle-written", create_c,
        |d, _| { attempt(d, &["start", "ctr"]); }, started_or_not;
    start_shim_spawned: "start.shim-spawned", create_c,
        |d, _| { attempt(d, &["start", "ctr"]); }, started_or_not;
    start_shim_connected: "start.shim-connected", create_c,
        |d, _| { attempt(d, &["start", "ctr"]); }, started_or_not;
    start_requested: "start.requested", create_c,
        |d, _| { attempt(d, &["start", "ctr"]); }, started_or_not;
    start_recorded: "start.recorded", create_c,
        |d, _| { attempt(d, &["start", "ctr"]); },
        |d, p| { assert_eq!(state(d, "ctr").as_deref(), Some("running")); started_or_not(d, p) };
    run_detached_start_recorded: "start.recorded", nothing,
        |d, _| { attempt(d, &["run", "-d", "--name", "ctr", "busybox", "sleep", "600"]); },
        |d, p| { assert_eq!(state(d, "ctr").as_deref(), Some("running")); started_or_not(d, p) };
    run_rm_start_requested: "start.requested", nothing,
        |d, _| { attempt(d, &["run", "-d", "--rm", "--name", "ctr", "busybox", "sleep", "600"]); },
        gone_or_removable;
    run_rm_start_recorded: "start.recorded", nothing,
        |d, _| { attempt(d, &["run", "-d", "--rm", "--name", "ctr", "busybox", "sleep", "600"]); },
        |d, p| { assert_eq!(state(d, "ctr").as_deref(), Some("running")); gone_or_removable(d, p) };
    // stop, kill, restart
    stop_signalled: "stop.signalled", run_c,
        |d, _| { attempt(d, &["stop", "-t", "1", "ctr"]); }, started_or_not;
    stop_escalated: "stop.escalated", run_c,
        |d, _| { attempt(d, &["stop", "-t", "1", "ctr"]); }, started_or_not;
    kill_signalled: "kill.signalled", run_c,
        |d, _| { attempt(d, &["kill", "ctr"]); }, started_or_not;
    restart_stopped: "restart.stopped", run_c,
        |d, _| { attempt(d, &["restart", "-t", "1", "ctr"]); }, started_or_not;
    // pause, unpause
    pause_frozen: "pause.frozen", run_c,
        |d, _| { attempt(d, &["pause", "ctr"]); },
        |d, p| { assert_eq!(state(d, "ctr").as_deref(), Some("paused")); still_manageable(d, p) };
    unpause_thawed: "unpause.thawed", |d, p| { run_c(d, p); ok(&d.docker(&["pause", "ctr"])); },
        |d, _| { attempt(d, &["unpause", "ctr"]); },
        |d, p| { assert_eq!(state(d, "ctr").as_deref(), Some("running")); still_manageable(d, p) };
    // rm
    rm_killed: "rm.killed", run_c,
        |d, _| { attempt(d, &["rm", "-f", "ctr"]); }, gone_or_removable;
    rm_marked: "rm.marked", run_c, |d, _| { attempt(d, &["rm", "-f", "ctr"]); }, gone;
    rm_layer_removed: "rm.layer-removed", run_c, |d, _| { attempt(d, &["rm", "-f", "ctr"]); }, gone;
    rm_bundle_removed: "rm.bundle-removed", run_c, |d, _| { attempt(d, &["rm", "-f", "ctr"]); }, gone;
    rm_files_removed: "rm.files-removed", run_c, |d, _| { attempt(d, &["rm", "-f", "ctr"]); }, gone;
    rm_of_a_stopped_container: "rm.layer-removed", create_c,
        |d, _| { attempt(d, &["rm", "ctr"]); }, gone;
    // exits
    exit_recorded: "exit.recorded", |d, _| { ok(&d.docker(&["create", "--name", "ctr", "busybox", "sh", "-c", "exit 3"])); },
        |d, _| { attempt(d, &["start", "-a", "ctr"]); },
        |d, _| {
            assert_eq!(state(d, "ctr").as_deref(), Some("exited"));
            let code = ok(&d.docker(&["inspect", "-f", "{{.State.ExitCode}}", "ctr"]));
            assert_eq!(code.trim(), "3");
        };
    exit_torn_down: "exit.torn-down", |d, _| { ok(&d.docker(&["create", "--name", "ctr", "busybox", "sh", "-c", "exit 3"])); },
        |d, _| { attempt(d, &["start", "-a", "ctr"]); },
        |d, _| {
            let code = ok(&d.docker(&["inspect", "-f", "{{.State.ExitCode}}", "ctr"]));
            assert_eq!(code.trim(), "3");
        };
    exit_auto_remove_marked: "exit.auto-remove-marked", nothing,
        |d, _| { attempt(d, &["run", "--rm", "--name", "ctr", "busybox", "true"]); }, gone;
    auto_remove_marked: "auto-remove.marked", nothing,
        |d, _| { attempt(d, &["run", "--rm", "--name", "ctr", "busybox", "true"]); }, gone;
    // rename, update
    rename_recorded: "rename.recorded", create_c,
        |d, _| { attempt(d, &["rename", "ctr", "renamed"]); },
        |d, _| {
            assert_eq!(state(d, "renamed").as_deref(), Some("created"));
            assert!(state(d, "ctr").is_none());
            ok(&d.docker(&["rename", "renamed", "ctr"]));
        };
    update_applied: "update.applied", run_c,
        |d, _| { attempt(d, &["update", "--cpu-shares", "512", "ctr"]); }, still_manageable;
    update_recorded: "update.recorded", run_c,
        |d, _| { attempt(d, &["update", "--cpu-shares", "512", "ctr"]); },
        |d, p| {
            let shares = ok(&d.docker(&["inspect", "-f", "{{.HostConfig.CpuShares}}", "ctr"]));
            assert_eq!(shares.trim(), "512");
            still_manageable(d, p)
        };
    // exec
    exec_requested: "exec.requested", run_c,
        |d, _| { attempt(d, &["exec", "ctr", "sleep", "2"]); }, still_manageable;
    exec_started: "exec.started", run_c,
        |d, _| { attempt(d, &["exec", "ctr", "sleep", "2"]); }, still_manageable;
    // commit
    commit_paused: "commit.paused", run_c_with_a_file, commit_c, committed_whole_or_absent;
    commit_layer_staged: "image.layer-staged", run_c_with_a_file, commit_c, committed_whole_or_absent;
    commit_layers_placed: "image.layers-placed", run_c_with_a_file, commit_c, committed_whole_or_absent;
    commit_image_recorded: "image.recorded", run_c_with_a_file, commit_c, committed_whole_or_absent;
    commit_image_made: "commit.image-made", run_c_with_a_file, commit_c, committed_whole_or_absent;
    // load
    load_layer_staged: "image.layer-staged", save_and_remove_busybox, load_busybox, busybox_whole_or_absent;
    load_config_written: "image.config-written", save_and_remove_busybox, load_busybox, busybox_whole_or_absent;
    load_layers_placed: "image.layers-placed", save_and_remove_busybox, load_busybox, busybox_whole_or_absent;
    load_recorded: "image.recorded", save_and_remove_busybox, load_busybox, busybox_whole_or_absent;
    // import
    import_layer_staged: "image.layer-staged", rootfs_tar, import_rootfs, imported_whole_or_absent;
    import_layers_placed: "image.layers-placed", rootfs_tar, import_rootfs, imported_whole_or_absent;
    import_recorded: "image.recorded", rootfs_tar, import_rootfs, imported_whole_or_absent;
    // rmi
    rmi_untagged: "rmi.untagged", |d, p| { save_busybox(d, p); ok(&d.docker(&["tag", "busybox", "other:1"])); },
        |d, _| { attempt(d, &["rmi", "other:1"]); },
        |d, p| { whole_or_absent(d, "other:1"); busybox_whole_or_absent(d, p) };
    rmi_config_deleted: "rmi.config-deleted", |d, p| { rootfs_tar(d, p); ok(&d.docker(&["import", p.join("rootfs.tar").to_str().unwrap(), "imported:1"])); },
        |d, _| { attempt(d, &["rmi", "imported:1"]); },
        |d, _| { assert!(!d.docker(&["image", "inspect", "imported:1"]).status.success()); };
    // cp
    cp_rootfs_mounted: "cp.rootfs-mounted", |d, p| { create_c(d, p); std::fs::write(p.join("f"), "x").unwrap(); },
        |d, p| { attempt(d, &["cp", p.join("f").to_str().unwrap(), "ctr:/f"]); }, started_or_not;
    cp_extracted: "cp.extracted", |d, p| { create_c(d, p); std::fs::write(p.join("f"), "x").unwrap(); },
        |d, p| { attempt(d, &["cp", p.join("f").to_str().unwrap(), "ctr:/f"]); }, started_or_not;
    // prune
    prune_container_removed: "prune.container-removed",
        |d, _| { for n in ["ca", "cb"] { ok(&d.docker(&["create", "--name", n, "busybox", "true"])); } },
        |d, _| { attempt(d, &["container", "prune", "-f"]); },
        |d, _| { ok(&d.docker(&["container", "prune", "-f"])); };
    prune_image_removed: "prune.image-removed", |d, p| { rootfs_tar(d, p); save_busybox(d, p); },
        |d, p| { import_rootfs(d, p); attempt(d, &["image", "prune", "-a", "-f"]); },
        |d, p| { imported_whole_or_absent(d, p); busybox_whole_or_absent(d, p) };
}
