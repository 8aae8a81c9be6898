//! The container state machine driven through fake shims, mounts and
//! runtime: no root, no processes. A "daemon restart" is a second service
//! over the same directories, after the first one's tokio runtime (its
//! tasks and its connections to the shims) is dropped, as a killed berthd's
//! would be.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_image::ImageStore;
use berth_runtime::runtime::{FakeRuntime, RuntimeCall};
use bollard_stubs::models::{ContainerConfig, HostConfig};

use super::fakes::{FakeMounts, FakeShim, FakeShims, Proc};
use super::record::Status;
use super::{Container, ContainerService, CreateRequest, WaitCondition};
use crate::error::ErrorKind;
use crate::events::EventBus;
use crate::Config;

const IMAGE: &str = "unit-test:latest";
/// A guard against a hung test, not a measure of anything.
const HANG: Duration = Duration::from_secs(60);

struct Harness {
    dir: tempfile::TempDir,
    images: Arc<ImageStore>,
    runtime: Arc<FakeRuntime>,
    shims: Arc<FakeShims>,
    mounts: Arc<FakeMounts>,
    events: Arc<EventBus>,
    plane: Arc<crate::network::dataplane::Fake>,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let images = ImageStore::open(&dir.path().join("root/image")).unwrap();
        let empty = tar::Builder::new(Vec::new()).into_inner().unwrap();
        images.import(&empty[..], Some(IMAGE), &[], "").unwrap();
        Harness {
            dir,
            images: Arc::new(images),
            runtime: Arc::new(FakeRuntime::new()),
            shims: Arc::new(FakeShims::default()),
            mounts: Arc::new(FakeMounts::default()),
            events: Arc::new(EventBus::default()),
            plane: Arc::new(crate::network::dataplane::Fake::default()),
        }
    }

    fn config(&self) -> Config {
        let root = self.dir.path().join("root");
        Config {
            exec_root: self.dir.path().join("run"),
            runtime: PathBuf::from("/nonexistent/runtime"),
            shim: PathBuf::from("/nonexistent/shim"),
            cgroup_parent: "berth-unit-tests".into(),
            init_path: None,
            registry: Default::default(),
            network: crate::network::NetConfig {
                bridge: "bt-unit".into(),
                bip: Some("10.250.0.1/24".parse().unwrap()),
                ..Default::default()
            },
            root,
        }
    }

    /// A daemon start: a new service over the same state, restored.
    async fn daemon(&self) -> Arc<ContainerService> {
        let config = self.config();
        for d in [&config.root.join("containers"), &config.exec_root] {
            std::fs::create_dir_all(d).unwrap();
        }
        let net = crate::network::NetworkService::open(
            config.network.clone(),
            config.root.clone(),
            config.exec_root.clone(),
            self.plane.clone(),
            self.events.clone(),
        )
        .await
        .unwrap();
        let svc = ContainerService::with_seams(
            config,
            self.images.clone(),
            self.runtime.clone(),
            self.shims.clone(),
            self.mounts.clone(),
            net,
            self.events.clone(),
        );
        svc.restore().await.unwrap();
        svc
    }

    /// Runs one daemon's life: the runtime, its tasks and its connections
    /// end with it.
    fn run<T>(&self, f: impl Future<Output = T>) -> T {
        // One thread: once `block_on` returns nothing of this daemon is
        // polled again, so its end is as sudden as a kill -9. (With worker
        // threads, a task could still run while another's drop closed a
        // shim connection, and record the shim as gone.)
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out =
            rt.block_on(async { tokio::time::timeout(HANG, f).await.expect("the test hung") });
        rt.shutdown_background();
        out
    }

    fn shim(&self, c: &Container) -> Arc<FakeShim> {
        self.shims.at(&c.paths.socket).expect("a shim listens")
    }

    fn rootfs(&self, id: &str) -> PathBuf {
        let image = self.images.resolve(IMAGE).unwrap();
        self.images.rw_mount(id, &image).unwrap().target
    }

    /// The actions of the events published for container `id`, in order.
    fn actions(&self, id: &str) -> Vec<String> {
        self.events
            .subscribe()
            .0
            .into_iter()
            .filter(|e| e.actor.id == id)
            .map(|e| e.action)
            .collect()
    }
}

fn request(name: &str, cmd: &[&str]) -> CreateRequest {
    CreateRequest {
        name: Some(name.into()),
        config: ContainerConfig {
            image: Some(IMAGE.into()),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn create(svc: &Arc<ContainerService>, name: &str) -> Arc<Container> {
    let (id, _) = svc.create(request(name, &["sleep", "1000"])).await.unwrap();
    svc.get(&id).unwrap()
}

async fn create_rm(svc: &Arc<ContainerService>, name: &str) -> Arc<Container> {
    let mut req = request(name, &["true"]);
    req.host_config = HostConfig {
        auto_remove: Some(true),
        ..Default::default()
    };
    let (id, _) = svc.create(req).await.unwrap();
    svc.get(&id).unwrap()
}

async fn run(svc: &Arc<ContainerService>, name: &str) -> Arc<Container> {
    let c = create(svc, name).await;
    svc.start(&c.id).await.unwrap();
    c
}

/// Until every exit so far is cleaned up (unmounted, bundle gone).
async fn cleaned(c: &Container, exits: u64) {
    let mut rx = c.progress.subscribe();
    rx.wait_for(|p| p.exits >= exits && p.cleaned >= p.exits)
        .await
        .unwrap();
}

/// Whether `name` is out of the API's view.
fn gone(svc: &ContainerService, name: &str) -> bool {
    matches!(svc.get(name), Err(e) if e.kind == ErrorKind::NotFound)
}

/// Until `f` holds, for what happens in tasks nobody can wait for.
async fn until(mut f: impl FnMut() -> bool) {
    while !f() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn create_start_exit_records_the_code_and_wakes_waiters() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = create(&svc, "web").await;
        assert_eq!(c.status(), Status::Created);
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));
        let waiter = svc.wait(&c.id, WaitCondition::NextExit).unwrap();
        svc.start(&c.id).await.unwrap();
        let rec = c.snapshot();
        assert_eq!(rec.state.status, Status::Running);
        assert!(rec.state.pid > 0);
        assert!(h.mounts.is_mounted(&h.rootfs(&c.id)));
        assert!(c.paths.bundle.join("config.json").is_file());
        let shim = h.shim(&c);
        assert_eq!(shim.launch.socket, c.paths.socket);
        assert_eq!(shim.launch.exit_file, c.paths.exit_file());

        shim.exit(3);
        assert_eq!(waiter.await, 3);
        cleaned(&c, 1).await;
        let rec = c.snapshot();
        assert_eq!(rec.state.status, Status::Exited);
        assert_eq!(rec.state.exit_code, 3);
        assert_eq!(rec.state.pid, 0);
        assert_ne!(rec.state.finished_at, super::record::ZERO_TIME);
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));
        assert!(!c.paths.bundle.exists());
        assert_eq!(h.actions(&c.id), ["create", "start", "die"]);
        // The record on disk says the same.
        drop(svc);
        let again = h.daemon().await;
        assert_eq!(again.get("web").unwrap().snapshot().state.exit_code, 3);
    });
}

#[test]
fn stop_of_a_process_that_obeys_sigterm() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        svc.stop(&c.id, Some(30), None).await.unwrap();
        let rec = c.snapshot();
        assert_eq!(rec.state.status, Status::Exited);
        assert_eq!(rec.state.exit_code, 128 + libc::SIGTERM as i64);
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));
        assert_eq!(h.actions(&c.id), ["create", "start", "kill", "die"]);
        let again = svc.stop(&c.id, None, None).await.unwrap_err();
        assert_eq!(again.kind, ErrorKind::NotModified);
    });
}

#[test]
fn stop_of_a_process_that_ignores_sigterm_ends_in_sigkill() {
    let h = Harness::new();
    h.shims.ignore_signal(libc::SIGTERM);
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        svc.stop(&c.id, Some(0), None).await.unwrap();
        let rec = c.snapshot();
        assert_eq!(rec.state.status, Status::Exited);
        assert_eq!(rec.state.exit_code, 137);
        assert_eq!(h.actions(&c.id), ["create", "start", "kill", "kill", "die"]);
    });
}

#[test]
fn stop_signal_of_the_request_replaces_sigterm() {
    let h = Harness::new();
    h.shims.ignore_signal(libc::SIGTERM);
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        svc.stop(&c.id, Some(30), Some("SIGUSR1")).await.unwrap();
        assert_eq!(c.snapshot().state.exit_code, 128 + libc::SIGUSR1 as i64);
        let bad = svc.stop(&c.id, None, Some("SIGNOPE")).await.unwrap_err();
        assert_eq!(bad.kind, ErrorKind::InvalidParameter);
    });
}

#[test]
fn kill_defaults_to_sigkill_and_needs_a_running_container() {
    let h = Harness::new();
    h.shims.ignore_signal(libc::SIGHUP);
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        // A signal the process survives leaves it running.
        svc.kill(&c.id, Some("HUP")).await.unwrap();
        assert_eq!(c.status(), Status::Running);
        svc.kill(&c.id, None).await.unwrap();
        assert_eq!(c.snapshot().state.exit_code, 137);
        assert_eq!(c.status(), Status::Exited);
        let e = svc.kill(&c.id, None).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert_eq!(
            e.message,
            format!(
                "Cannot kill container: {}: Container {} is not running",
                c.id, c.id
            )
        );
    });
}

#[test]
fn restart_stops_and_starts_a_new_process() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        let first = c.snapshot().state.pid;
        svc.restart(&c.id, Some(30), None).await.unwrap();
        let rec = c.snapshot();
        assert_eq!(rec.state.status, Status::Running);
        assert_ne!(rec.state.pid, first);
        assert_eq!(h.shims.spawned(), 2);
        assert!(h.mounts.is_mounted(&h.rootfs(&c.id)));
        assert_eq!(
            h.actions(&c.id),
            ["create", "start", "kill", "die", "start", "restart"]
        );
        // A created container restarts by starting.
        let d = create(&svc, "other").await;
        svc.restart(&d.id, None, None).await.unwrap();
        assert_eq!(d.status(), Status::Running);
    });
}

#[test]
fn pause_and_unpause() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        h.runtime.add_running(&c.id, c.snapshot().state.pid as i32);
        svc.pause(&c.id).await.unwrap();
        assert_eq!(c.status(), Status::Paused);
        let e = svc.pause(&c.id).await.unwrap_err();
        assert_eq!(e.message, format!("Container {} is already paused", c.id));
        let e = svc.start(&c.id).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotModified);
        svc.unpause(&c.id).await.unwrap();
        assert_eq!(c.status(), Status::Running);
        let e = svc.unpause(&c.id).await.unwrap_err();
        assert_eq!(e.message, format!("Container {} is not paused", c.id));

        // Stopping a paused container thaws it first, so it can die.
        svc.pause(&c.id).await.unwrap();
        h.runtime.clear_calls();
        svc.stop(&c.id, Some(30), None).await.unwrap();
        assert_eq!(h.runtime.calls(), [RuntimeCall::Resume(c.id.clone())]);
        assert_eq!(c.status(), Status::Exited);
        let e = svc.pause(&c.id).await.unwrap_err();
        assert_eq!(e.message, format!("Container {} is not running", c.id));
    });
}

#[test]
fn rm_of_a_running_container_conflicts_and_force_kills_it() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        let e = svc.remove("web", false).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert_eq!(
            e.message,
            format!("You cannot remove a running container {}. Stop the container before attempting removal or force remove", c.id)
        );
        assert_eq!(c.status(), Status::Running);

        h.runtime.add_running(&c.id, 1);
        svc.pause(&c.id).await.unwrap();
        let e = svc.remove("web", false).await.unwrap_err();
        assert!(e.message.starts_with("You cannot remove a paused container"));

        let removed = svc.wait(&c.id, WaitCondition::Removed).unwrap();
        svc.remove("web", true).await.unwrap();
        assert_eq!(removed.await, 137);
        assert!(gone(&svc, "web"));
        assert!(!c.paths.dir.exists());
        assert!(!h.rootfs(&c.id).exists());
        assert_eq!(h.actions(&c.id).last().map(String::as_str), Some("destroy"));
        // The name is free again.
        create(&svc, "web").await;
    });
}

#[test]
fn rm_of_a_stopped_container() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = create(&svc, "web").await;
        svc.remove(&c.id, false).await.unwrap();
        assert!(gone(&svc, &c.id));
        assert!(!c.paths.dir.exists());
        let e = svc.remove(&c.id, false).await.unwrap_err();
        assert_eq!(e.message, format!("No such container: {}", c.id));
    });
}

#[test]
fn auto_remove_removes_the_container_on_exit() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = create_rm(&svc, "once").await;
        let removed = svc.wait(&c.id, WaitCondition::Removed).unwrap();
        svc.start(&c.id).await.unwrap();
        h.shim(&c).exit(0);
        assert_eq!(removed.await, 0);
        assert!(gone(&svc, "once"));
        until(|| !c.paths.dir.exists()).await;
        until(|| !h.rootfs(&c.id).exists()).await;
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));
    });
}

#[test]
fn start_failure_records_127_for_a_missing_executable() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = create(&svc, "web").await;
        let waiter = svc.wait(&c.id, WaitCondition::NextExit).unwrap();
        h.shims.fail_next_start(
            r#"{"level":"error","msg":"runc run failed: unable to start container process: exec: \"nope\": executable file not found in $PATH"}"#,
        );
        let e = svc.start(&c.id).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
        assert_eq!(
            e.message,
            "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown"
        );
        assert_eq!(waiter.await, 127);
        let rec = c.snapshot();
        assert_eq!(rec.state.status, Status::Created);
        assert_eq!(rec.state.exit_code, 127);
        assert_eq!(rec.state.error, e.message);
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));
        assert!(h.shims.at(&c.paths.socket).is_none());
        // The next start is clean.
        svc.start(&c.id).await.unwrap();
        let rec = c.snapshot();
        assert_eq!((rec.state.exit_code, rec.state.error.as_str()), (0, ""));
    });
}

#[test]
fn start_failure_records_126_and_auto_removes() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = create_rm(&svc, "once").await;
        let removed = svc.wait(&c.id, WaitCondition::Removed).unwrap();
        h.shims.fail_next_start("exec: \"/etc\": permission denied");
        svc.start(&c.id).await.unwrap_err();
        assert_eq!(c.snapshot().state.exit_code, 126);
        assert_eq!(removed.await, 126);
        assert!(gone(&svc, "once"));
        assert!(!c.paths.dir.exists());
    });
}

#[test]
fn start_failures_before_the_process_leave_nothing_mounted() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = create(&svc, "web").await;
        h.shims.fail_next_spawn("missing --socket");
        let e = svc.start(&c.id).await.unwrap_err();
        assert_eq!(e.message, "shim failed to start: missing --socket");
        assert_eq!(c.snapshot().state.exit_code, 128);
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));

        h.mounts.fail_next_mount("no overlay here");
        let e = svc.start(&c.id).await.unwrap_err();
        assert!(e.message.ends_with(": no overlay here"), "{}", e.message);
        assert_eq!(c.status(), Status::Created);
        assert_eq!(h.shims.spawned(), 0);
    });
}

#[test]
fn shim_gone_while_running_marks_the_container_exited() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        let waiter = svc.wait(&c.id, WaitCondition::NotRunning).unwrap();
        h.shim(&c).crash();
        // No exit record: docker's 255 for a lost process.
        assert_eq!(waiter.await, 255);
        cleaned(&c, 1).await;
        assert_eq!(c.status(), Status::Exited);
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));
        // And it can run again.
        svc.start(&c.id).await.unwrap();
        assert_eq!(c.status(), Status::Running);
    });
}

#[test]
fn restore_reattaches_to_a_running_container() {
    let h = Harness::new();
    let id = h.run(async { run(&h.daemon().await, "web").await.id.clone() });
    h.run(async {
        let svc = h.daemon().await;
        let c = svc.get("web").unwrap();
        assert_eq!(c.id, id);
        assert_eq!(c.status(), Status::Running);
        let shim = h.shim(&c);
        assert!(matches!(shim.proc(), Proc::Running(_)));
        // The new connection carries signals and the exit.
        svc.stop(&id, Some(30), None).await.unwrap();
        assert_eq!(c.snapshot().state.exit_code, 143);
        assert_eq!(c.status(), Status::Exited);
    });
}

#[test]
fn restore_takes_the_exit_of_a_container_that_ended_meanwhile() {
    let h = Harness::new();
    let (id, socket) = h.run(async {
        let c = run(&h.daemon().await, "web").await;
        (c.id.clone(), c.paths.socket.clone())
    });
    // The daemon is down; the container exits and its shim records it.
    h.shims.at(&socket).unwrap().exit(7);
    h.run(async {
        let svc = h.daemon().await;
        let c = svc.get(&id).unwrap();
        let rec = c.snapshot();
        assert_eq!(rec.state.status, Status::Exited);
        assert_eq!(rec.state.exit_code, 7);
        assert!(!h.mounts.is_mounted(&h.rootfs(&id)));
        assert_eq!(svc.wait(&id, WaitCondition::NotRunning).unwrap().await, 7);
    });
}

#[test]
fn restore_of_a_running_container_whose_shim_died() {
    let h = Harness::new();
    let socket = h.run(async { run(&h.daemon().await, "web").await.paths.socket.clone() });
    h.shims.at(&socket).unwrap().crash();
    h.run(async {
        let svc = h.daemon().await;
        let rec = svc.get("web").unwrap().snapshot();
        assert_eq!(rec.state.status, Status::Exited);
        assert_eq!(rec.state.exit_code, 255);
    });
}

#[test]
fn restore_keeps_created_and_exited_containers() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        create(&svc, "fresh").await;
        let c = run(&svc, "done").await;
        h.shim(&c).exit(2);
        cleaned(&c, 1).await;
    });
    h.run(async {
        let svc = h.daemon().await;
        let fresh = svc.get("fresh").unwrap();
        assert_eq!(fresh.status(), Status::Created);
        let done = svc.get("done").unwrap();
        assert_eq!(done.status(), Status::Exited);
        assert_eq!(done.snapshot().state.exit_code, 2);
        assert_eq!(h.shims.spawned(), 1);
        svc.start("fresh").await.unwrap();
        svc.start("done").await.unwrap();
        assert_eq!(done.status(), Status::Running);
    });
}

#[test]
fn restore_finishes_an_interrupted_removal() {
    let h = Harness::new();
    let c = h.run(async {
        let svc = h.daemon().await;
        let keep = create_rm(&svc, "gone-with-rm").await;
        let c = create(&svc, "doomed").await;
        // Crashed in the middle of `rm`: the record says Removing.
        c.update(|r| r.state.status = Status::Removing).unwrap();
        // A --rm container that exited while the daemon was down.
        keep.update(|r| r.state.status = Status::Exited).unwrap();
        (c, keep)
    });
    h.run(async {
        let svc = h.daemon().await;
        for c in [&c.0, &c.1] {
            assert!(gone(&svc, &c.id));
            until(|| !c.paths.dir.exists()).await;
            assert!(h.runtime.calls().contains(&RuntimeCall::Delete {
                id: c.id.clone(),
                force: true
            }));
        }
        // Both names are free.
        create(&svc, "doomed").await;
        create(&svc, "gone-with-rm").await;
    });
}

#[test]
fn wait_conditions() {
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = create(&svc, "web").await;
        // Not running already: at once, with the current code.
        assert_eq!(svc.wait("web", WaitCondition::NotRunning).unwrap().await, 0);
        let next = svc.wait("web", WaitCondition::NextExit).unwrap();
        let removed = svc.wait("web", WaitCondition::Removed).unwrap();
        svc.start("web").await.unwrap();
        let running = svc.wait("web", WaitCondition::NotRunning).unwrap();
        h.shim(&c).exit(9);
        assert_eq!(next.await, 9);
        assert_eq!(running.await, 9);
        cleaned(&c, 1).await;
        let removed = tokio::spawn(removed);
        assert!(!removed.is_finished());
        svc.remove("web", false).await.unwrap();
        assert_eq!(removed.await.unwrap(), 9);
        let missing = svc.wait("web", WaitCondition::NotRunning).err().unwrap();
        assert_eq!(missing.kind, ErrorKind::NotFound);
        assert_eq!(
            WaitCondition::parse(Some("soon")).unwrap_err().message,
            "invalid condition: \"soon\""
        );
    });
}

#[test]
fn rename_and_name_conflicts() {
    // Names with letters past `f`: a hex name could also match an id prefix.
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let a = create(&svc, "alpha").await;
        let b = create(&svc, "bravo").await;
        let e = svc.create(request("alpha", &["true"])).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert_eq!(
            e.message,
            format!("Conflict. The container name \"/alpha\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.", a.id)
        );
        let e = svc.rename("bravo", "alpha").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        let e = svc.rename("bravo", "bravo").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
        let e = svc.rename("bravo", "no/slashes").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);

        svc.rename("/bravo", "charlie").unwrap();
        assert_eq!(svc.get("charlie").unwrap().id, b.id);
        assert!(gone(&svc, "bravo"));
        assert_eq!(b.snapshot().name, "charlie");
        assert_eq!(h.actions(&b.id), ["create", "rename"]);
        // The old name is free, the new one survives a daemon restart.
        create(&svc, "bravo").await;
        drop(svc);
        let again = h.daemon().await;
        assert_eq!(again.get("charlie").unwrap().id, b.id);
    });
}

#[test]
fn stop_without_a_timeout_waits_until_something_else_kills() {
    let h = Harness::new();
    h.shims.ignore_signal(libc::SIGTERM);
    h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        let stopping = {
            let (svc, id) = (svc.clone(), c.id.clone());
            tokio::spawn(async move { svc.stop(&id, Some(-1), None).await })
        };
        until(|| h.actions(&c.id).contains(&"kill".to_string())).await;
        // The stop holds no lock while it waits: kill gets through.
        assert_eq!(c.status(), Status::Running);
        svc.kill(&c.id, None).await.unwrap();
        stopping.await.unwrap().unwrap();
        assert_eq!(c.snapshot().state.exit_code, 137);
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));
    });
}

#[test]
fn restore_keeps_a_paused_container_paused() {
    let h = Harness::new();
    let id = h.run(async {
        let svc = h.daemon().await;
        let c = run(&svc, "web").await;
        h.runtime.add_running(&c.id, 1);
        svc.pause(&c.id).await.unwrap();
        c.id.clone()
    });
    h.run(async {
        let svc = h.daemon().await;
        let c = svc.get(&id).unwrap();
        assert_eq!(c.status(), Status::Paused);
        svc.unpause(&id).await.unwrap();
        svc.kill(&id, Some("TERM")).await.unwrap();
        let code = svc.wait(&id, WaitCondition::NotRunning).unwrap().await;
        assert_eq!(code, 143);
    });
}

#[test]
fn restore_adopts_a_process_whose_start_was_not_recorded() {
    let h = Harness::new();
    let id = h.run(async {
        let c = run(&h.daemon().await, "web").await;
        // As if the daemon died after the shim started the process and
        // before the record said so.
        c.update(|r| r.state.status = Status::Created).unwrap();
        c.id.clone()
    });
    h.run(async {
        let svc = h.daemon().await;
        let c = svc.get(&id).unwrap();
        assert_eq!(c.status(), Status::Running);
        assert!(c.snapshot().state.pid > 0);
        // Adopted for good: the API stops it through the shim.
        svc.stop(&id, Some(30), None).await.unwrap();
        assert_eq!(c.snapshot().state.exit_code, 143);
    });
}

#[test]
fn restore_lets_go_of_a_shim_that_was_never_started() {
    let h = Harness::new();
    let c = h.run(async {
        let svc = h.daemon().await;
        let c = create(&svc, "web").await;
        // The daemon died between spawning the shim (after mounting the
        // rootfs) and sending START.
        let image = h.images.resolve(IMAGE).unwrap();
        let mount = h.images.rw_mount(&c.id, &image).unwrap();
        super::seams::RootfsMounter::mount(h.mounts.as_ref(), &mount).unwrap();
        let launch = super::seams::ShimLaunch {
            start_argv: vec!["fake-runtime".into()],
            delete_argv: vec!["fake-runtime".into()],
            pid_file: c.paths.bundle.join("init.pid"),
            runtime_log: c.paths.bundle.join("log.json"),
            socket: c.paths.socket.clone(),
            exit_file: c.paths.exit_file(),
            console_socket: None,
            log: None,
            oom_file: None,
            stdin: false,
        };
        super::seams::Shims::spawn(h.shims.as_ref(), &launch)
            .await
            .unwrap();
        c
    });
    assert!(h.shims.at(&c.paths.socket).is_some());
    h.run(async {
        let svc = h.daemon().await;
        let again = svc.get(&c.id).unwrap();
        assert_eq!(again.status(), Status::Created);
        assert!(h.shims.at(&c.paths.socket).is_none());
        assert!(!h.mounts.is_mounted(&h.rootfs(&c.id)));
        // And it starts normally.
        svc.start(&c.id).await.unwrap();
        assert_eq!(again.status(), Status::Running);
    });
}

#[test]
fn restore_sweeps_what_no_record_names() {
    let h = Harness::new();
    let keep = h.run(async {
        let svc = h.daemon().await;
        run(&svc, "keep").await.id.clone()
    });
    // What a create or a removal that died half way leaves: a directory
    // without a record, a writable layer, runtime state, a bundle, a mount.
    let stray = "f".repeat(64);
    let config = h.config();
    let image = h.images.resolve(IMAGE).unwrap();
    let mount = h.images.prepare_rw(&stray, &image).unwrap();
    super::seams::RootfsMounter::mount(h.mounts.as_ref(), &mount).unwrap();
    std::fs::create_dir_all(config.root.join("containers").join(&stray)).unwrap();
    std::fs::create_dir_all(config.exec_root.join("containers").join(&stray)).unwrap();
    h.runtime.add_running(&stray, 4242);
    h.run(async {
        let svc = h.daemon().await;
        assert_eq!(svc.get("keep").unwrap().status(), Status::Running);
        assert!(h.shims.at(&svc.get("keep").unwrap().paths.socket).is_some());
        assert!(h.runtime.calls().contains(&RuntimeCall::Delete {
            id: stray.clone(),
            force: true
        }));
        assert!(!h
            .runtime
            .calls()
            .iter()
            .any(|c| matches!(c, RuntimeCall::Delete { id, .. } if *id == keep)));
        assert!(!h.mounts.is_mounted(&mount.target));
        assert!(h.mounts.is_mounted(&h.rootfs(&keep)));
        assert!(!config.root.join("containers").join(&stray).exists());
        assert!(!config.exec_root.join("containers").join(&stray).exists());
        assert_eq!(h.images.rw_keys().unwrap(), vec![keep.clone()]);
    });
}

#[test]
fn restore_leaves_what_an_unreadable_record_names_alone() {
    let h = Harness::new();
    let id = h.run(async { create(&h.daemon().await, "web").await.id.clone() });
    let config = h.config();
    let record = config
        .root
        .join("containers")
        .join(&id)
        .join("config.v2.json");
    std::fs::write(&record, b"{damaged").unwrap();
    h.run(async {
        let svc = h.daemon().await;
        assert!(gone(&svc, "web"));
        // Kept for whoever repairs it: its directory and writable layer.
        assert!(record.exists());
        assert_eq!(h.images.rw_keys().unwrap(), vec![id.clone()]);
    });
}

async fn run_with_policy(
    svc: &Arc<ContainerService>,
    name: &str,
    policy: bollard_stubs::models::RestartPolicyNameEnum,
    max: i64,
) -> Arc<Container> {
    let mut req = request(name, &["sleep", "1000"]);
    req.host_config = HostConfig {
        restart_policy: Some(bollard_stubs::models::RestartPolicy {
            name: Some(policy),
            maximum_retry_count: Some(max),
        }),
        ..Default::default()
    };
    let (id, _) = svc.create(req).await.unwrap();
    svc.start(&id).await.unwrap();
    svc.get(&id).unwrap()
}

/// Until `exits` exits are counted. The exit's record and its restart
/// decision are made in the same step, and on this one thread the pending
/// restart cannot run before the caller looks.
async fn exited(c: &Container, exits: u64) {
    let mut rx = c.progress.subscribe();
    rx.wait_for(|p| p.exits >= exits).await.unwrap();
}

/// Until the policy started the container again: running, with this count.
async fn restarted(c: &Container, count: i64) {
    until(|| {
        let rec = c.snapshot();
        rec.state.status == Status::Running && rec.restart_count == count
    })
    .await;
}

#[test]
fn on_failure_restarts_until_its_limit_and_not_on_success() {
    use bollard_stubs::models::RestartPolicyNameEnum::ON_FAILURE;
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = run_with_policy(&svc, "web", ON_FAILURE, 2).await;
        h.shim(&c).exit(1);
        restarted(&c, 1).await;
        h.shim(&c).exit(1);
        restarted(&c, 2).await;
        h.shim(&c).exit(1);
        cleaned(&c, 3).await;
        let rec = c.snapshot();
        assert_eq!((rec.state.status, rec.restart_count), (Status::Exited, 2));
        assert_eq!(h.shims.spawned(), 3);
        // A policy restart is a start: no `restart` event.
        assert_eq!(
            h.actions(&c.id),
            ["create", "start", "die", "start", "die", "start", "die"]
        );
        // A start by hand resets the count; a clean exit stays down.
        svc.start(&c.id).await.unwrap();
        assert_eq!(c.snapshot().restart_count, 0);
        h.shim(&c).exit(0);
        cleaned(&c, 4).await;
        assert_eq!(c.status(), Status::Exited);
    });
}

#[test]
fn a_user_stop_is_never_undone_and_rm_f_cancels_a_pending_restart() {
    use bollard_stubs::models::RestartPolicyNameEnum::ALWAYS;
    let h = Harness::new();
    h.run(async {
        let svc = h.daemon().await;
        let c = run_with_policy(&svc, "web", ALWAYS, 0).await;
        svc.stop(&c.id, Some(30), None).await.unwrap();
        assert_eq!(c.status(), Status::Exited);
        assert!(c.snapshot().stopped_by_user);
        svc.start(&c.id).await.unwrap();
        assert!(!c.snapshot().stopped_by_user);
        svc.kill(&c.id, None).await.unwrap();
        cleaned(&c, 2).await;
        assert_eq!(c.status(), Status::Exited);

        // Exits by itself: restarting while the back-off runs; a stop then
        // leaves it exited, and the pending restart does nothing.
        svc.start(&c.id).await.unwrap();
        h.shim(&c).exit(1);
        exited(&c, 3).await;
        assert_eq!(c.status(), Status::Restarting);
        svc.stop(&c.id, None, None).await.unwrap();
        assert_eq!(c.status(), Status::Exited);
        cleaned(&c, 3).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(c.status(), Status::Exited);
        assert_eq!(h.shims.spawned(), 3);

        let d = run_with_policy(&svc, "other", ALWAYS, 0).await;
        h.shim(&d).exit(1);
        exited(&d, 1).await;
        assert_eq!(d.status(), Status::Restarting);
        let e = svc.remove(&d.id, false).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        svc.remove(&d.id, true).await.unwrap();
        assert!(gone(&svc, "other"));
    });
}

#[test]
fn a_daemon_start_starts_what_the_policy_wants_up() {
    use bollard_stubs::models::RestartPolicyNameEnum::{ALWAYS, UNLESS_STOPPED};
    let h = Harness::new();
    let ids = h.run(async {
        let svc = h.daemon().await;
        let a = run_with_policy(&svc, "always", ALWAYS, 0).await;
        let u = run_with_policy(&svc, "unless", UNLESS_STOPPED, 0).await;
        let never = create(&svc, "never-started").await;
        for c in [&a, &u] {
            svc.stop(&c.id, Some(30), None).await.unwrap();
        }
        (a.id.clone(), u.id.clone(), never.id.clone())
    });
    h.run(async {
        let svc = h.daemon().await;
        let a = svc.get(&ids.0).unwrap();
        until(|| a.status() == Status::Running).await;
        assert_eq!(svc.get(&ids.1).unwrap().status(), Status::Exited);
        assert_eq!(svc.get(&ids.2).unwrap().status(), Status::Created);
    });
}
