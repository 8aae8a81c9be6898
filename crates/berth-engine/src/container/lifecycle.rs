//! start, stop, kill, restart, pause, unpause, wait, remove, and what happens
//! when a container exits.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use berth_shim::exit_record::ExitRecord;
use berth_shim::protocol;

use super::record::Status;
use super::stdio::Output;
use super::{Container, ContainerService, Progress};
use crate::error::{Error, Result};
use crate::locks::IgnorePoison;
use crate::{ids, signal, timefmt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: Option<&str>) -> Result<WaitCondition> {
        match s.unwrap_or("") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::invalid(format!("invalid condition: \"{other}\""))),
        }
    }
}

/// The `signal` of stop and restart; absent or empty means the
/// container's own stop signal.
fn parse_stop_signal(s: Option<&str>) -> Result<Option<i32>> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => signal::parse(s)
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("Invalid signal: {s}"))),
    }
}

fn not_running(id: &str) -> Error {
    Error::conflict(format!("Container {id} is not running"))
}

/// What failed to start: dockerd's default exit code differs between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Starting {
    /// A container's process (dockerd's `start.go`: 128 unless known).
    Container,
    /// An exec's process (dockerd's `exec.go`: 126 unless not found).
    Exec,
}

/// Docker's exit code for a process that failed before it ran: 127 when
/// the command is not there, 126 when it cannot be run, else the default of
/// what was starting.
pub(super) fn start_failure_code(msg: &str, what: Starting) -> i64 {
    if msg.contains("executable file not found") || msg.contains("no such file or directory") {
        127
    } else if msg.contains("permission denied") || msg.contains("is a directory") {
        126
    } else {
        match what {
            Starting::Container => 128,
            Starting::Exec => 126,
        }
    }
}

impl ContainerService {
    pub async fn start(self: &Arc<Self>, name_or_id: &str) -> Result<()> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        match c.status() {
            Status::Running | Status::Paused | Status::Restarting => {
                return Err(Error::not_modified())
            }
            Status::Removing | Status::Dead => {
                return Err(Error::conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    c.id
                )))
            }
            Status::Created | Status::Exited => {}
        }
        // A start by hand is a new run: the policy and its count start over.
        c.restarter.reset();
        c.update(|r| {
            r.restart_count = 0;
            r.stopped_by_user = false;
        })?;
        self.run_start(&c).await
    }

    /// Starts a container that is not running; on failure its record says
    /// why, as docker's does. Callers hold the op lock.
    pub(super) async fn run_start(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        // A previous run's cleanup may still be in flight.
        self.wait_cleaned(c).await;
        match self.start_locked(c).await {
            // The connection to the shim recorded the start (`on_started`).
            Ok(_pid) => Ok(()),
            Err(e) => {
                let code = start_failure_code(&e.message, Starting::Container);
                let _ = c.update(|r| {
                    r.state.error = e.message.clone();
                    r.state.exit_code = code;
                    // A start by the restart policy that failed ends it.
                    if r.state.status == Status::Restarting {
                        r.state.status = Status::Exited;
                    }
                });
                self.teardown(c).await;
                c.progress.send_modify(|p| {
                    p.exits += 1;
                    p.cleaned = p.exits;
                    p.exit_code = code;
                });
                let _ = c.output.send(Output::Exit(code));
                if c.snapshot().auto_remove() {
                    self.spawn_auto_remove(c);
                }
                Err(e)
            }
        }
    }

    /// Mounts the rootfs, writes the bundle, spawns the shim and starts the
    /// process. Returns the init pid.
    async fn start_locked(self: &Arc<Self>, c: &Arc<Container>) -> Result<i64> {
        let rec = c.snapshot();
        let images = self.images.clone();
        let image_id = rec.image_id.clone();
        let key = c.id.clone();
        let mounter = self.mounter.clone();
        let rootfs = tokio::task::spawn_blocking(move || -> Result<std::path::PathBuf> {
            let image = images.resolve(&image_id)?;
            let mount = images.rw_mount(&key, &image)?;
            mounter.mount(&mount)?;
            Ok(mount.target.clone())
        })
        .await??;
        tracing::debug!(id = %ids::short(&c.id), "rootfs mounted");
        berth_store::crash_point!("start.rootfs-mounted");
        let _ = fs::remove_file(c.paths.exit_file());
        self.write_bundle(c, &rec, &rootfs).await?;
        tracing::debug!(id = %ids::short(&c.id), "bundle written");
        berth_store::crash_point!("start.bundle-written");
        self.spawn_shim_and_start(c, &rec).await
    }

    /// `docker stop [-t N] [-s SIG]`: `signal` replaces the container's
    /// `StopSignal`; a negative timeout waits for the exit without a kill.
    pub async fn stop(
        self: &Arc<Self>,
        name_or_id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let c = self.get(name_or_id)?;
        let sig = parse_stop_signal(signal)?;
        let pending = {
            let _op = c.op.lock().await;
            self.stop_locked(&c, timeout, sig).await?
        };
        self.finish_stop(&c, pending).await;
        Ok(())
    }

    /// The wait of a stop without a timeout, which may last forever, so it
    /// runs without the op lock: `rm -f` and `kill` can still end it.
    async fn finish_stop(&self, c: &Container, pending: Option<u64>) {
        if let Some(target) = pending {
            self.wait_exit(c, target, None).await;
            self.wait_cleaned(c).await;
        }
    }

    async fn stop_locked(
        self: &Arc<Self>,
        c: &Arc<Container>,
        timeout: Option<i64>,
        sig: Option<i32>,
    ) -> Result<Option<u64>> {
        let rec = c.snapshot();
        if !rec.state.status.is_live() {
            return Err(Error::not_modified());
        }
        if rec.state.status == Status::Restarting {
            // No process to signal: the pending restart is called off.
            self.stop_pending_restart(c)?;
            return Ok(None);
        }
        c.restarter.cancel();
        c.update(|r| r.stopped_by_user = true)?;
        if rec.state.status == Status::Paused {
            self.resume_runtime(c).await?;
        }
        let sig = sig
            .or_else(|| rec.config.stop_signal.as_deref().and_then(signal::parse))
            .unwrap_or(libc::SIGTERM);
        let timeout = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        let target = c.progress.borrow().exits + 1;
        self.event(&rec, "kill", &[("signal", sig.to_string())]);
        self.signal(c, sig);
        berth_store::crash_point!("stop.signalled");
        let Ok(limit) = u64::try_from(timeout) else {
            return Ok(Some(target));
        };
        if self
            .wait_exit(c, target, Some(Duration::from_secs(limit)))
            .await
        {
            self.wait_cleaned(c).await;
            return Ok(None);
        }
        self.event(&rec, "kill", &[("signal", libc::SIGKILL.to_string())]);
        self.signal(c, libc::SIGKILL);
        berth_store::crash_point!("stop.escalated");
        self.wait_exit(c, target, None).await;
        self.wait_cleaned(c).await;
        Ok(None)
    }

    pub async fn kill(self: &Arc<Self>, name_or_id: &str, signal: Option<&str>) -> Result<()> {
        let c = self.get(name_or_id)?;
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => {
                signal::parse(s).ok_or_else(|| Error::invalid(format!("Invalid signal: {s}")))?
            }
            None => libc::SIGKILL,
        };
        let rec = c.snapshot();
        if !rec.state.status.is_live() {
            return Err(Error::conflict(format!(
                "Cannot kill container: {name_or_id}: Container {} is not running",
                c.id
            )));
        }
        if rec.state.status == Status::Restarting {
            let _op = c.op.lock().await;
            if c.status() == Status::Restarting {
                return self.stop_pending_restart(&c);
            }
        }
        // dockerd: any kill by a user marks the container stopped by hand;
        // it calls off the policy unless the image has a stop signal of its
        // own and this is neither that nor SIGKILL.
        let own_stop = rec.config.stop_signal.as_deref().and_then(signal::parse);
        if own_stop.is_none() || sig == libc::SIGKILL || own_stop == Some(sig) {
            c.restarter.cancel();
        }
        c.update(|r| r.stopped_by_user = true)?;
        if rec.state.status == Status::Paused && sig == libc::SIGKILL {
            self.resume_runtime(&c).await?;
        }
        let target = c.progress.borrow().exits + 1;
        self.event(&rec, "kill", &[("signal", sig.to_string())]);
        self.signal(&c, sig);
        berth_store::crash_point!("kill.signalled");
        if sig == libc::SIGKILL {
            // docker kill returns once a SIGKILLed container is down.
            self.wait_exit(&c, target, Some(Duration::from_secs(10)))
                .await;
        }
        Ok(())
    }

    pub async fn restart(
        self: &Arc<Self>,
        name_or_id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let c = self.get(name_or_id)?;
        let sig = parse_stop_signal(signal)?;
        let pending = {
            let _op = c.op.lock().await;
            match self.stop_locked(&c, timeout, sig).await {
                Ok(pending) => pending,
                Err(e) if e.kind == crate::ErrorKind::NotModified => None,
                Err(e) => return Err(e),
            }
        };
        self.finish_stop(&c, pending).await;
        berth_store::crash_point!("restart.stopped");
        self.start(&c.id).await?;
        self.event(&c.snapshot(), "restart", &[]);
        Ok(())
    }

    pub async fn pause(self: &Arc<Self>, name_or_id: &str) -> Result<()> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        match c.status() {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::conflict(format!(
                    "Container {} is already paused",
                    c.id
                )))
            }
            Status::Restarting => {
                return Err(Error::conflict(format!(
                    "Container {} is restarting, wait until the container is running",
                    c.id
                )))
            }
            _ => return Err(not_running(&c.id)),
        }
        let rt = self.runtime.clone();
        let id = c.id.clone();
        tokio::task::spawn_blocking(move || rt.pause(&id)).await??;
        berth_store::crash_point!("pause.frozen");
        c.update(|r| r.state.status = Status::Paused)?;
        self.stop_health(&c);
        self.event(&c.snapshot(), "pause", &[]);
        Ok(())
    }

    pub async fn unpause(self: &Arc<Self>, name_or_id: &str) -> Result<()> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        if c.status() != Status::Paused {
            return Err(Error::conflict(format!("Container {} is not paused", c.id)));
        }
        self.resume_runtime(&c).await?;
        self.resume_health(&c);
        self.event(&c.snapshot(), "unpause", &[]);
        Ok(())
    }

    async fn resume_runtime(&self, c: &Arc<Container>) -> Result<()> {
        let rt = self.runtime.clone();
        let id = c.id.clone();
        tokio::task::spawn_blocking(move || rt.resume(&id)).await??;
        berth_store::crash_point!("unpause.thawed");
        c.update(|r| {
            if r.state.status == Status::Paused {
                r.state.status = Status::Running;
            }
        })
    }

    /// Returns a future that resolves with the exit code once `condition`
    /// holds. Lookup errors come back at once, so HTTP can answer 404 before
    /// sending the headers of the long-poll.
    pub fn wait(
        self: &Arc<Self>,
        name_or_id: &str,
        condition: WaitCondition,
    ) -> Result<impl std::future::Future<Output = i64> + Send + 'static> {
        let c = self.get(name_or_id)?;
        let mut rx = c.progress.subscribe();
        let start = rx.borrow().clone();
        let live = c.status().is_live();
        let current_code = c.snapshot().state.exit_code;
        Ok(async move {
            if condition == WaitCondition::NotRunning && !live {
                return current_code;
            }
            let done = |p: &Progress| match condition {
                WaitCondition::Removed => p.removed,
                _ => p.exits > start.exits || p.removed,
            };
            loop {
                {
                    let p = rx.borrow_and_update();
                    if done(&p) {
                        return p.exit_code;
                    }
                }
                if rx.changed().await.is_err() {
                    // The container is gone: report what we last knew.
                    return rx.borrow().exit_code;
                }
            }
        })
    }

    pub async fn remove(self: &Arc<Self>, name_or_id: &str, force: bool) -> Result<()> {
        let c = self.get(name_or_id)?;
        {
            let _op = c.op.lock().await;
            let status = c.status();
            if status.is_live() {
                if !force {
                    let msg = if status == Status::Paused {
                        format!("You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove", c.id)
                    } else {
                        format!("You cannot remove a {} container {}. Stop the container before attempting removal or force remove", status.as_str(), c.id)
                    };
                    return Err(Error::conflict(msg));
                }
                c.restarter.cancel();
                if status == Status::Restarting {
                    // Nothing runs; the pending restart sees the removal.
                    self.settle_cancelled(&c);
                    self.wait_cleaned(&c).await;
                    c.update(|r| r.state.status = Status::Removing)?;
                    berth_store::crash_point!("rm.marked");
                    return self.remove_container(&c).await;
                }
                if status == Status::Paused {
                    self.resume_runtime(&c).await?;
                }
                let target = c.progress.borrow().exits + 1;
                self.signal(&c, libc::SIGKILL);
                berth_store::crash_point!("rm.killed");
                self.wait_exit(&c, target, None).await;
            } else if status == Status::Removing {
                return Err(Error::conflict(format!(
                    "removal of container {} is already in progress",
                    c.id
                )));
            }
            self.wait_cleaned(&c).await;
            c.update(|r| r.state.status = Status::Removing)?;
            berth_store::crash_point!("rm.marked");
            self.remove_container(&c).await
        }
    }

    /// Deletes everything of a stopped container; idempotent. Callers hold
    /// the container's op lock, so two removals never race on its files.
    pub(super) async fn remove_container(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let images = self.images.clone();
        let key = c.id.clone();
        tokio::task::spawn_blocking(move || images.remove_rw(&key)).await??;
        berth_store::crash_point!("rm.layer-removed");
        let _ = fs::remove_dir_all(&c.paths.bundle);
        // Its shim is gone (callers wait for that); a socket file left by a
        // shim that died before it listened goes too.
        let _ = fs::remove_file(&c.paths.socket);
        let _ = fs::remove_file(c.paths.socket.with_extension("tty"));
        berth_store::crash_point!("rm.bundle-removed");
        fs::remove_dir_all(&c.paths.dir).or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        // An acknowledged removal stays done after a power cut too.
        if let Some(parent) = c.paths.dir.parent() {
            let _ = super::record::sync_dir(parent);
        }
        berth_store::crash_point!("rm.files-removed");
        self.retire(c);
        tracing::debug!(id = %ids::short(&c.id), "removed");
        Ok(())
    }

    /// Takes the container out of the API's view: its name is free, it is
    /// gone from lists and lookups, and `wait?condition=removed` answers.
    /// Idempotent; the `destroy` event is sent once.
    fn retire(&self, c: &Container) {
        if c.progress.borrow().removed {
            return;
        }
        self.forget(c);
        self.event(&c.snapshot(), "destroy", &[]);
        c.progress.send_modify(|p| p.removed = true);
        tracing::debug!(id = %ids::short(&c.id), "retired");
    }

    /// A removal a previous daemon left unfinished: let a shim that is still
    /// deleting its runtime state finish, make sure that state is gone, then
    /// remove the files.
    pub(super) async fn finish_removal(self: &Arc<Self>, c: &Arc<Container>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if let Ok(mut shim) = self.shims.connect(&c.paths.socket).await {
            // Removal was decided: a process still there goes (a shim that
            // never started goes once we hang up).
            let kill = protocol::frame(protocol::KILL, &libc::SIGKILL.to_be_bytes());
            let _ = shim.wr.write_all(&kill).await;
            let _ = shim.wr.shutdown().await;
            let mut buf = [0u8; 4096];
            while matches!(shim.rd.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        let rt = self.runtime.clone();
        let id = c.id.clone();
        let _ = tokio::task::spawn_blocking(move || rt.delete(&id, true)).await;
        let _op = c.op.lock().await;
        if let Err(e) = self.remove_container(c).await {
            tracing::warn!(id = %c.id, "finishing an interrupted removal failed: {e}");
        }
    }

    /// The physical half of an auto-removal, once the shim is gone.
    fn spawn_auto_remove(self: &Arc<Self>, c: &Arc<Container>) {
        let svc = self.clone();
        let c = c.clone();
        tokio::spawn(async move {
            let _op = c.op.lock().await;
            // Live again, or an explicit `rm -f` got there first.
            if c.status().is_live() || !c.paths.dir.exists() {
                return;
            }
            let _ = c.update(|r| r.state.status = Status::Removing);
            berth_store::crash_point!("auto-remove.marked");
            if let Err(e) = svc.remove_container(&c).await {
                tracing::warn!(id = %c.id, "auto-remove failed: {e}");
            }
        });
    }

    fn signal(&self, c: &Container, sig: i32) {
        c.send_to_shim(protocol::frame(protocol::KILL, &sig.to_be_bytes()));
    }

    /// Waits until `exits >= target`; false on timeout.
    async fn wait_exit(&self, c: &Container, target: u64, timeout: Option<Duration>) -> bool {
        let mut rx = c.progress.subscribe();
        // `live`, not the record's status: the record says Exited a moment
        // before the exit is counted, its event sent and its cleanup begun.
        let fut = rx.wait_for(|p| p.exits >= target || !p.live);
        match timeout {
            Some(t) => matches!(tokio::time::timeout(t, fut).await, Ok(Ok(_))),
            None => fut.await.is_ok(),
        }
    }

    /// Waits until every exit seen so far has been cleaned up.
    async fn wait_cleaned(&self, c: &Container) {
        let mut rx = c.progress.subscribe();
        let _ = rx.wait_for(|p| p.cleaned >= p.exits).await;
    }

    /// The shim started the process. Called by the connection task as the
    /// STARTED frame arrives, so the record says Running before an EXIT
    /// that follows in the same read is looked at (a fast `true` exits
    /// before the start request's task runs again).
    /// The process runs whatever happens here: a record that cannot be
    /// written is still Running in memory, and logged.
    pub(super) fn on_started(self: &Arc<Self>, c: &Arc<Container>, pid: i64) {
        let saved = c.update(|r| {
            r.state.status = Status::Running;
            r.state.pid = pid;
            r.state.started_at = timefmt::now_rfc3339();
            r.state.exit_code = 0;
            r.state.oom_killed = false;
            r.state.error.clear();
        });
        if let Err(e) = saved {
            tracing::warn!(id = %ids::short(&c.id), "recording the start failed: {e}");
        }
        berth_store::crash_point!("start.recorded");
        c.progress.send_modify(|p| p.live = true);
        tracing::debug!(id = %ids::short(&c.id), pid, "started");
        self.event(&c.snapshot(), "start", &[]);
        self.init_health(c);
    }

    /// A user stopped or killed a container that waits for its policy
    /// restart: it stays down. Callers hold the op lock.
    fn stop_pending_restart(&self, c: &Container) -> Result<()> {
        c.restarter.cancel();
        c.update(|r| r.stopped_by_user = true)?;
        self.settle_cancelled(c);
        Ok(())
    }

    /// The shim reported an exit (or vanished and left an exit record).
    pub(super) fn on_exit(self: &Arc<Self>, c: &Arc<Container>, exit: ExitRecord) {
        let code = exit.exit_code as i64;
        // A repeated exit report must not advance the back-off.
        if !matches!(c.status(), Status::Running | Status::Paused) {
            return;
        }
        let restart = self.decide_restart(c, code, &exit.finished_at);
        let updated = c.update(|r| {
            if !matches!(r.state.status, Status::Running | Status::Paused) {
                return false;
            }
            r.state.status = if restart.is_some() {
                r.restart_count += 1;
                Status::Restarting
            } else {
                Status::Exited
            };
            r.state.exit_code = code;
            r.state.pid = 0;
            r.state.oom_killed = exit.oom_killed;
            r.state.finished_at = exit.finished_at.clone();
            true
        });
        if !matches!(updated, Ok(true)) {
            return;
        }
        self.stop_health(c);
        berth_store::crash_point!("exit.recorded");
        let rec = c.snapshot();
        tracing::debug!(id = %ids::short(&c.id), code, "exited");
        if exit.oom_killed {
            self.event(&rec, "oom", &[]);
        }
        self.event(&rec, "die", &[("exitCode", code.to_string())]);
        self.on_container_exit_execs(&c.id);
        let _ = c.output.send(Output::Exit(code));
        c.progress.send_modify(|p| {
            p.exits += 1;
            p.exit_code = code;
            p.live = false;
        });
        if let Some(delay) = restart {
            self.spawn_restart(c, delay);
            return;
        }
        if rec.auto_remove() {
            // `docker run --rm` waits for the removal: answer it now and let
            // runc delete, the unmount and the file removal follow once the
            // shim is gone. The record says Removing first, so a daemon
            // crash in between is finished by restore, not resurrected.
            if c.update(|r| r.state.status = Status::Removing).is_ok() {
                berth_store::crash_point!("exit.auto-remove-marked");
                self.retire(c);
            }
        }
    }

    /// The shim is gone: the runtime state is deleted. Unmount, drop the
    /// bundle and, for `--rm`, remove the container.
    pub(super) async fn on_shim_gone(self: &Arc<Self>, c: &Arc<Container>) {
        *c.shim.locked() = None;
        if matches!(c.status(), Status::Running | Status::Paused) {
            // No EXIT frame arrived: the exit record on disk says what happened.
            let exit = fs::read_to_string(c.paths.exit_file())
                .ok()
                .and_then(|t| ExitRecord::parse(&t))
                .unwrap_or_else(|| ExitRecord {
                    exit_code: 255,
                    oom_killed: false,
                    finished_at: timefmt::now_rfc3339(),
                });
            self.on_exit(c, exit);
        }
        tracing::debug!(id = %ids::short(&c.id), "shim gone");
        self.teardown(c).await;
        tracing::debug!(id = %ids::short(&c.id), "torn down");
        berth_store::crash_point!("exit.torn-down");
        c.progress.send_modify(|p| p.cleaned = p.exits);
        if c.snapshot().auto_remove() {
            self.spawn_auto_remove(c);
        }
    }

    /// Unmounts the rootfs and removes the bundle; safe to repeat.
    async fn teardown(self: &Arc<Self>, c: &Arc<Container>) {
        let images = self.images.clone();
        let image_id = c.snapshot().image_id;
        let key = c.id.clone();
        let mounter = self.mounter.clone();
        let res = tokio::task::spawn_blocking(move || -> Result<()> {
            let image = images.resolve(&image_id)?;
            let mount = images.rw_mount(&key, &image)?;
            Ok(mounter.unmount(&mount)?)
        })
        .await;
        if let Ok(Err(e)) | Err(e) = res.map_err(Error::from) {
            tracing::warn!(id = %ids::short(&c.id), "unmount failed: {e}");
        }
        super::spec::release_shm(&c.paths);
        self.release_network(c).await;
        let _ = fs::remove_dir_all(&c.paths.bundle);
    }
}
