//! Reconcile on start: after a daemon that may have died at any point, make
//! the API's view and the kernel's agree.
//!
//! Everything berth makes for a container is named by the container's id:
//! its directory and record, its rw layer, its bundle, its shim's socket,
//! its runtime state, its cgroup and its mounts. The record is written (and
//! synced) at create, before any of the others exists, and it is the
//! intent that names them all. So on start:
//!
//! 1. Each record meets its shim. A shim whose process runs is adopted, even
//!    if the record never heard of the start: the process exists, so the
//!    start happened, and the container is listed as running. A shim that
//!    was spawned but never started is let go (it exits once its clients
//!    are gone). No shim means no process: the exit record says how the
//!    last run ended.
//! 2. Then the sweep: whatever is named by an id that has no record, or by a
//!    container whose process is gone, is taken down: the runtime state is
//!    deleted (which kills what it still runs), shims are told to go,
//!    mounts are detached, cgroups removed, directories deleted.
//! 3. Last, containers whose restart policy wants them up are started,
//!    those that exited while the daemon was down among them.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use berth_shim::protocol::{self, frame};
use tokio::io::AsyncWriteExt;

use super::record::{self, Status};
use super::{Container, ContainerService};
use crate::error::Result;
use crate::ids;

/// How long restore waits for a shim it let go to exit.
const SHIM_EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl ContainerService {
    /// Loads every container record, reattaches to the shims of live ones,
    /// and takes down what no record accounts for.
    pub async fn restore(self: &Arc<Self>) -> Result<()> {
        let scan = record::scan(&self.config.root);
        for (dir, why) in &scan.unreadable {
            tracing::warn!("keeping {} untouched: {why}", dir.display());
        }
        let mut removing = HashSet::new();
        let mut restored = Vec::new();
        for mut rec in scan.records {
            let paths = self.paths(&rec.id);
            record::remove_save_leftovers(&paths);
            if rec.state.status == Status::Restarting {
                // A policy restart the daemon died waiting for: no process
                // runs; the policy pass below decides again.
                rec.state.status = Status::Exited;
                if let Err(e) = record::save(&paths, &rec, record::Sync::Cached) {
                    tracing::warn!(id = %ids::short(&rec.id), "saving the record: {e}");
                }
            }
            let c = Arc::new(Container::new(rec, paths));
            if c.status() == Status::Removing {
                // Out of the API's view before the crash: finish it unseen.
                removing.insert(c.id.clone());
                c.progress.send_modify(|p| p.removed = true);
                let svc = self.clone();
                tokio::spawn(async move { svc.finish_removal(&c).await });
                continue;
            }
            self.insert(c.clone());
            restored.push(c);
        }
        // Addresses and ports of the sandboxes that outlived the daemon are
        // taken back before anything else can be given them.
        for c in &restored {
            let rec = c.snapshot();
            match (rec.state.status.is_live(), &rec.sandbox) {
                (true, Some(sb)) => self.net.restore(&rec.id, &rec.name, sb),
                // A start that died before its process ran: what it made
                // for the network goes, and the record forgets it.
                (false, Some(sb)) => {
                    self.net.detach(&rec.id, Some(sb)).await;
                    let _ = c.update(|r| r.sandbox = None);
                }
                _ => {}
            }
        }
        // Ids whose shim still holds them: the sweep leaves their things be.
        let mut held = HashSet::new();
        let mut settling = tokio::task::JoinSet::new();
        for c in restored {
            let svc = self.clone();
            settling.spawn(async move { (svc.restore_one(&c).await, c.id.clone()) });
        }
        while let Some(done) = settling.join_next().await {
            if let Ok((true, id)) = done {
                held.insert(id);
            }
        }
        held.extend(removing);
        // What an unreadable record may name is left alone with it.
        held.extend(
            scan.unreadable
                .iter()
                .filter_map(|(dir, _)| dir.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
        );
        let known: HashSet<String> = self.all().iter().map(|c| c.id.clone()).collect();
        self.sweep(&held, &known, &scan.orphans).await;
        let live: HashSet<String> = self
            .all()
            .iter()
            .filter(|c| c.status().is_live())
            .map(|c| c.id.clone())
            .collect();
        self.net.sweep(&live).await;
        // One ruleset from what runs now: nothing duplicated, nothing stale.
        if let Err(e) = self.net.sync_firewall().await {
            tracing::warn!("writing the packet filter: {e}");
        }
        self.start_by_policy();
        Ok(())
    }

    /// One container: adopt its shim, or settle its exit. Returns whether a
    /// shim still holds it.
    async fn restore_one(self: &Arc<Self>, c: &Arc<Container>) -> bool {
        match self.reconnect(c).await {
            Ok(status) => {
                if status.as_deref().is_some_and(|s| s.starts_with("running ")) {
                    self.sync_paused(c).await;
                    self.restore_execs(c);
                    // As dockerd: a fresh start of probing, the log kept.
                    self.init_health(c);
                }
                if status.as_deref() == Some("created") {
                    // Let go; until it is gone it could still delete the
                    // runtime state of a new start of the same container.
                    let deadline = tokio::time::Instant::now() + SHIM_EXIT_WAIT;
                    self.until_shim_gone(&c.paths.socket, deadline).await;
                    return false;
                }
                true
            }
            Err(_) => {
                if c.status().is_live() {
                    // No EXIT reached us: the exit record says how it ended.
                    self.on_shim_gone(c).await;
                } else if c.snapshot().auto_remove() {
                    // dockerd removes a stopped --rm container on restore.
                    c.progress.send_modify(|p| p.removed = true);
                    self.forget(c);
                    let svc = self.clone();
                    let c = c.clone();
                    tokio::spawn(async move { svc.finish_removal(&c).await });
                    return true;
                }
                false
            }
        }
    }

    /// Waits until no shim answers on `socket`, or until `deadline`.
    async fn until_shim_gone(&self, socket: &Path, deadline: tokio::time::Instant) {
        while self.shims.connect(socket).await.is_ok() {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("the shim at {} is still there", socket.display());
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The runtime is the judge of paused: a daemon that died between
    /// `runc pause` and its record, or in a commit that pauses, left them
    /// apart.
    async fn sync_paused(&self, c: &Arc<Container>) {
        let rt = self.runtime.clone();
        let id = c.id.clone();
        let Ok(Ok(state)) = tokio::task::spawn_blocking(move || rt.state(&id)).await else {
            return;
        };
        let paused = state.status == berth_runtime::runtime::RuntimeStatus::Paused;
        let _ = c.update(|r| match (r.state.status, paused) {
            (Status::Running, true) => r.state.status = Status::Paused,
            (Status::Paused, false) => r.state.status = Status::Running,
            _ => {}
        });
    }

    /// Takes down what belongs to no live container. `held`: ids whose shim
    /// is connected or whose removal is under way; `known`: ids with a record
    /// in the API's view; `orphans`: container directories without a record.
    async fn sweep(
        self: &Arc<Self>,
        held: &HashSet<String>,
        known: &HashSet<String>,
        orphans: &[std::path::PathBuf],
    ) {
        let free = |id: &str| !held.contains(id);
        // Runtime state first: deleting it kills what it still runs, so
        // that the mounts and cgroups below are no longer in use.
        let rt = self.runtime.clone();
        let listed = tokio::task::spawn_blocking(move || rt.list()).await;
        for id in listed.ok().and_then(|r| r.ok()).unwrap_or_default() {
            if free(&id) {
                self.reconcile_note(&id, known, "deleting runtime state");
                let rt = self.runtime.clone();
                let key = id.clone();
                let r = tokio::task::spawn_blocking(move || rt.delete(&key, true)).await;
                if let Ok(Err(e)) = r {
                    tracing::warn!(id = %ids::short(&id), "runtime delete: {e}");
                }
            }
        }
        self.sweep_shims(held).await;
        for dir in [&self.config.root, &self.config.exec_root] {
            for point in self.mounter.mounts_under(dir) {
                if !record::names_any(&point, |c| held.contains(c)) {
                    tracing::warn!("reconcile: unmounting {}", point.display());
                    if let Err(e) = self.mounter.detach(&point) {
                        tracing::warn!("unmounting {}: {e}", point.display());
                    }
                }
            }
        }
        self.sweep_cgroups(held, known).await;
        for dir in orphans {
            tracing::warn!("reconcile: removing {}, which has no record", dir.display());
            let _ = fs::remove_dir_all(dir);
        }
        let images = self.images.clone();
        let keys = tokio::task::spawn_blocking(move || images.rw_keys()).await;
        for key in keys.ok().and_then(|r| r.ok()).unwrap_or_default() {
            if !known.contains(&key) && free(&key) {
                tracing::warn!(id = %ids::short(&key), "reconcile: removing a writable layer without a container");
                let images = self.images.clone();
                let _ = tokio::task::spawn_blocking(move || images.remove_rw(&key)).await;
            }
        }
        if let Ok(entries) = fs::read_dir(self.config.exec_root.join("containers")) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if free(&id) {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
    }

    /// Shims no container holds: each is told to kill its process (a shim
    /// that never started exits when we hang up), stale sockets removed.
    async fn sweep_shims(&self, held: &HashSet<String>) {
        let Ok(entries) = fs::read_dir(self.config.exec_root.join("shims")) else {
            return;
        };
        let held_prefixes: HashSet<&str> = held.iter().map(|id| record::shim_stem(id)).collect();
        let mut stopping = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if held_prefixes.contains(stem.as_str()) {
                continue;
            }
            if path.extension().is_some_and(|x| x == "sock") {
                if let Ok(mut conn) = self.shims.connect(&path).await {
                    tracing::warn!("reconcile: stopping the shim at {}", path.display());
                    let kill = frame(protocol::KILL, &libc::SIGKILL.to_be_bytes());
                    let _ = conn.wr.write_all(&kill).await;
                    let _ = conn.wr.shutdown().await;
                    stopping.push(path);
                    continue;
                }
            }
            // Nobody listens (or a console socket of a gone start).
            let _ = fs::remove_file(&path);
        }
        // Until they are gone (a shim ends with `runc delete`), so that the
        // daemon serves nothing while an old shim still acts on an id.
        let deadline = tokio::time::Instant::now() + SHIM_EXIT_WAIT;
        for path in stopping {
            self.until_shim_gone(&path, deadline).await;
        }
    }

    /// Container cgroups under berth's parent that no live container owns:
    /// their processes are killed and the cgroups removed.
    async fn sweep_cgroups(&self, held: &HashSet<String>, known: &HashSet<String>) {
        let parent = format!("/{}", self.config.cgroup_parent.trim_matches('/'));
        let root = std::path::Path::new(berth_runtime::cgroups::DEFAULT_ROOT);
        let Ok(names) = berth_runtime::cgroups::children(root, &parent) else {
            return;
        };
        for name in names.into_iter().filter(|n| !held.contains(n)) {
            let Some(cg) = self.config.cgroup(&name) else {
                continue;
            };
            self.reconcile_note(&name, known, "removing cgroup");
            let _ = tokio::task::spawn_blocking(move || {
                for pid in cg.procs().unwrap_or_default() {
                    // SAFETY: kill(2) with a pid read from the cgroup.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                if let Err(e) = cg.remove() {
                    tracing::warn!("removing cgroup {}: {e}", cg.path());
                }
            })
            .await;
        }
    }

    fn reconcile_note(&self, id: &str, known: &HashSet<String>, what: &str) {
        if known.contains(id) {
            tracing::warn!(id = %ids::short(id), "reconcile: {what} of a container that is not running");
        } else {
            tracing::warn!(id = %ids::short(id), "reconcile: {what} that no container record names");
        }
    }
}
