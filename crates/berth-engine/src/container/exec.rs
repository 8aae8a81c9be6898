//! `docker exec`: a process started in a running container by its shim, so
//! it is supervised like the init and outlives berthd. Each started exec has
//! its own connection to the shim; the connection task records the pid and
//! the exit, and forwards output to whoever started it. The exec's files
//! (process.json, pid, the runtime's log, the exit code) live in the bundle
//! under `execs/<id>/`, so a restarted daemon can still answer inspect.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_shim::exec_request::ExecRequest;
use berth_shim::protocol::{self, frame};
use bollard_stubs::models::{ExecConfig, ExecInspectResponse, ProcessConfig};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::lifecycle::{start_failure_code, Starting};
use super::stdio::Output;
use super::{Container, ContainerService, Status};
use crate::error::{Error, Result};
use crate::ids;
use crate::locks::IgnorePoison;

/// Finished execs kept per container for inspect; older ones are forgotten
/// (a healthcheck-like loop of execs must not grow the daemon).
const KEEP_FINISHED: usize = 64;
/// Output chunks buffered for a slow client before the shim is made to wait.
const OUTPUT_QUEUE: usize = 256;

/// What `POST /containers/{id}/exec` asked for; persisted with the exec.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    pub user: String,
    pub working_dir: String,
    pub env: Vec<String>,
    pub tty: bool,
    pub privileged: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub detach_keys: String,
    /// Rows, columns.
    pub console_size: Option<(u16, u16)>,
}

impl ExecSpec {
    pub fn from_api(c: ExecConfig) -> ExecSpec {
        ExecSpec {
            cmd: c.cmd.unwrap_or_default(),
            user: c.user.unwrap_or_default(),
            working_dir: c.working_dir.unwrap_or_default(),
            env: c.env.unwrap_or_default(),
            tty: c.tty.unwrap_or(false),
            privileged: c.privileged.unwrap_or(false),
            attach_stdin: c.attach_stdin.unwrap_or(false),
            attach_stdout: c.attach_stdout.unwrap_or(false),
            attach_stderr: c.attach_stderr.unwrap_or(false),
            detach_keys: c.detach_keys.unwrap_or_default(),
            console_size: console_size(c.console_size.as_deref()),
        }
    }
}

/// docker's `[height, width]`; zeros mean "not given".
pub fn console_size(v: Option<&[i32]>) -> Option<(u16, u16)> {
    match v {
        Some([h, w]) if *h > 0 && *w > 0 => Some((
            (*h).min(u16::MAX as i32) as u16,
            (*w).min(u16::MAX as i32) as u16,
        )),
        _ => None,
    }
}

/// The persisted part of a started exec (`execs/<id>/exec.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExecFile {
    id: String,
    container_id: String,
    spec: ExecSpec,
    pid: i64,
}

#[derive(Debug, Default)]
struct ExecState {
    started: bool,
    running: bool,
    pid: i64,
    exit_code: Option<i64>,
    /// A resize that came before the shim connection existed.
    size: Option<(u16, u16)>,
    /// Frames to the shim over this exec's connection, while it is open.
    shim: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

pub struct Exec {
    pub id: String,
    pub container_id: String,
    pub spec: ExecSpec,
    dir: PathBuf,
    state: Mutex<ExecState>,
}

impl Exec {
    fn state(&self) -> std::sync::MutexGuard<'_, ExecState> {
        self.state.locked()
    }

    fn exit_file(&self) -> PathBuf {
        self.dir.join("exit")
    }

    fn finished(&self, code: i64) {
        let mut st = self.state();
        st.running = false;
        st.exit_code.get_or_insert(code);
        st.shim = None;
    }

    /// Catches up with an exit recorded while nobody was connected.
    fn refresh(&self, container_live: bool) {
        let running = self.state().running;
        if !running {
            return;
        }
        let recorded = fs::read_to_string(self.exit_file())
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok());
        match recorded {
            Some(code) => self.finished(code),
            // The shim is gone and took the process with it.
            None if !container_live => self.finished(137),
            None => {}
        }
    }

    fn send(&self, f: Vec<u8>) -> bool {
        match self.state().shim.as_ref() {
            Some(tx) => tx.send(f).is_ok(),
            None => false,
        }
    }
}

/// What the client of a started exec holds: output until the exit, and
/// the process's stdin.
pub struct ExecSession {
    pub id: String,
    pub tty: bool,
    pub output: mpsc::Receiver<Output>,
    pub stdin: ExecStdin,
}

pub struct ExecStdin {
    exec: Arc<Exec>,
}

impl ExecStdin {
    pub fn write(&self, data: &[u8]) {
        self.exec.send(frame(protocol::STDIN, data));
    }
    pub fn close(&self) {
        self.exec.send(frame(protocol::CLOSE_STDIN, b""));
    }
}

fn size_payload(rows: u16, cols: u16) -> Vec<u8> {
    let mut p = rows.to_be_bytes().to_vec();
    p.extend_from_slice(&cols.to_be_bytes());
    p
}

/// docker's `ReplaceOrAppendEnvValues`: `K=V` replaces K or is appended;
/// a bare `K` removes it.
fn merge_env(base: &mut Vec<String>, overrides: &[String]) {
    let key = |e: &str| e.split('=').next().unwrap_or("").to_string();
    for o in overrides {
        let k = key(o);
        match o.contains('=') {
            true => match base.iter_mut().find(|e| key(e) == k) {
                Some(slot) => *slot = o.clone(),
                None => base.push(o.clone()),
            },
            false => base.retain(|e| key(e) != k),
        }
    }
}

impl ContainerService {
    fn exec_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Exec>>> {
        self.execs.locked()
    }

    pub fn get_exec(&self, id: &str) -> Result<Arc<Exec>> {
        self.exec_map()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }

    /// Ids of the container's execs that are still known, running first.
    pub fn exec_ids(&self, container_id: &str) -> Vec<String> {
        self.exec_map()
            .values()
            .filter(|e| e.container_id == container_id && e.state().running)
            .map(|e| e.id.clone())
            .collect()
    }

    /// Forgets the execs of a removed container.
    pub(super) fn forget_execs(&self, container_id: &str) {
        self.exec_map()
            .retain(|_, e| e.container_id != container_id);
    }

    fn running_container(&self, name_or_id: &str) -> Result<Arc<Container>> {
        let c = self.get(name_or_id)?;
        match c.status() {
            Status::Running => Ok(c),
            Status::Paused => Err(Error::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            ))),
            Status::Restarting => Err(Error::conflict(format!(
                "Container {} is restarting, wait until the container is running",
                c.id
            ))),
            _ => Err(Error::conflict(format!(
                "Container {} is not running",
                c.id
            ))),
        }
    }

    /// `POST /containers/{id}/exec`.
    pub fn create_exec(&self, name_or_id: &str, spec: ExecSpec) -> Result<String> {
        let c = self.running_container(name_or_id)?;
        if spec.cmd.is_empty() {
            return Err(Error::invalid("No exec command specified"));
        }
        let id = ids::new_id();
        let exec = Arc::new(Exec {
            id: id.clone(),
            container_id: c.id.clone(),
            dir: c.paths.bundle.join("execs").join(&id),
            spec,
            state: Mutex::new(ExecState::default()),
        });
        self.event(
            &c.snapshot(),
            &format!("exec_create: {}", exec.spec.cmd.join(" ")),
            &[("execID", id.clone())],
        );
        let mut map = self.exec_map();
        self.prune_finished_execs(&mut map, &c.id);
        map.insert(id.clone(), exec);
        Ok(id)
    }

    fn prune_finished_execs(&self, map: &mut HashMap<String, Arc<Exec>>, container_id: &str) {
        let finished: Vec<String> = map
            .values()
            .filter(|e| e.container_id == container_id)
            .filter(|e| {
                let st = e.state();
                st.started && !st.running
            })
            .map(|e| e.id.clone())
            .collect();
        if finished.len() >= KEEP_FINISHED {
            for id in finished.iter().take(finished.len() + 1 - KEEP_FINISHED) {
                map.remove(id);
            }
        }
    }

    /// Signals a started exec's process (a healthcheck probe that ran out
    /// of time).
    pub(super) fn signal_exec(&self, id: &str, sig: i32) {
        if let Ok(e) = self.get_exec(id) {
            e.send(frame(protocol::KILL, &sig.to_be_bytes()));
        }
    }

    /// Forgets a finished exec nobody will inspect (a healthcheck probe),
    /// files and all, so probes do not pile up in a long-running container.
    pub(super) fn discard_exec(&self, id: &str) {
        if let Some(e) = self.exec_map().remove(id) {
            let _ = fs::remove_dir_all(&e.dir);
        }
    }

    /// `POST /exec/{id}/resize`: applied at once, or at start if it comes first.
    pub fn resize_exec(&self, id: &str, rows: i64, cols: i64) -> Result<()> {
        let e = self.get_exec(id)?;
        let rows = rows.clamp(0, u16::MAX as i64) as u16;
        let cols = cols.clamp(0, u16::MAX as i64) as u16;
        let mut st = e.state();
        st.size = Some((rows, cols));
        if let Some(tx) = &st.shim {
            let _ = tx.send(frame(protocol::RESIZE, &size_payload(rows, cols)));
        }
        Ok(())
    }

    /// `POST /exec/{id}/start`: runs the process and returns once it has
    /// started (or failed to). Dropping the session detaches: the process
    /// runs on and its exit is still recorded.
    pub async fn start_exec(
        self: &Arc<Self>,
        id: &str,
        console_size: Option<(u16, u16)>,
    ) -> Result<ExecSession> {
        let e = self.get_exec(id)?;
        {
            let mut st = e.state();
            if st.started {
                return Err(Error::conflict(if st.running {
                    format!("Error: Exec command {id} is already running")
                } else {
                    format!("Error: Exec command {id} has already run")
                }));
            }
            st.started = true;
            if st.size.is_none() {
                st.size = console_size.or(e.spec.console_size);
            }
        }
        match self.launch_exec(&e).await {
            Ok(session) => Ok(session),
            Err(err) => {
                e.finished(start_failure_code(&err.message, Starting::Exec));
                Err(err)
            }
        }
    }

    async fn launch_exec(self: &Arc<Self>, e: &Arc<Exec>) -> Result<ExecSession> {
        let c = self.running_container(&e.container_id)?;
        let size = e.state().size;
        fs::create_dir_all(&e.dir)?;
        let process_json = e.dir.join("process.json");
        {
            let bundle = c.paths.bundle.clone();
            let spec = e.spec.clone();
            let path = process_json.clone();
            let rec = c.snapshot();
            let user = rec.config.user.unwrap_or_default();
            // dockerd gives an exec the container's --group-add groups too.
            let groups = rec.host_config.group_add.unwrap_or_default();
            tokio::task::spawn_blocking(move || {
                write_process_json(&bundle, &spec, &user, &groups, size, &path)
            })
            .await??;
        }
        let console_socket = e.spec.tty.then(|| {
            c.paths.socket.with_file_name(format!(
                "{}-{}.tty",
                ids::short(&c.id),
                ids::short(&e.id)
            ))
        });
        let pid_file = e.dir.join("pid");
        let runtime_log = e.dir.join("log.json");
        let req = ExecRequest {
            id: e.id.clone(),
            tty: e.spec.tty,
            stdin: e.spec.attach_stdin,
            argv: self.runtime.exec_argv(
                &c.id,
                &process_json,
                &pid_file,
                &runtime_log,
                console_socket.as_deref(),
            ),
            pid_file,
            runtime_log,
            exit_file: e.exit_file(),
            console_socket,
        };
        let conn = self
            .shims
            .connect(&c.paths.socket)
            .await
            .map_err(|err| Error::system(format!("connect to shim: {err}")))?;
        let io = super::shim_io::spawn(conn, format!("exec {}", ids::short(&e.id)));
        let _ = io.tx.send(frame(protocol::EXEC, &req.to_payload()));
        berth_store::crash_point!("exec.requested");
        e.state().shim = Some(io.tx);
        let frames = io.frames;
        let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
        let (started_tx, started_rx) = oneshot::channel();
        let svc = self.clone();
        let exec = e.clone();
        tokio::spawn(async move {
            exec_connection(&exec, frames, out_tx, started_tx).await;
            let container = svc.get(&exec.container_id).ok();
            exec.refresh(container.as_ref().is_some_and(|c| c.status().is_live()));
            let (pid, code) = {
                let mut st = exec.state();
                st.shim = None;
                (st.pid, st.exit_code)
            };
            if let (Some(c), Some(code), true) = (container, code, pid > 0) {
                svc.event(
                    &c.snapshot(),
                    "exec_die",
                    &[("execID", exec.id.clone()), ("exitCode", code.to_string())],
                );
            }
        });
        let pid = match started_rx.await {
            Ok(Ok(pid)) => pid,
            Ok(Err(msg)) => {
                return Err(Error::invalid(format!(
                    "OCI runtime exec failed: exec failed: {}: unknown",
                    super::shim::log_message(&msg, "exec failed: ")
                )))
            }
            Err(_) => return Err(Error::system("the shim went away during exec start")),
        };
        let record = ExecFile {
            id: e.id.clone(),
            container_id: c.id.clone(),
            spec: e.spec.clone(),
            pid,
        };
        fs::write(e.dir.join("exec.json"), serde_json::to_vec(&record)?)?;
        self.event(
            &c.snapshot(),
            &format!("exec_start: {}", e.spec.cmd.join(" ")),
            &[("execID", e.id.clone())],
        );
        Ok(ExecSession {
            id: e.id.clone(),
            tty: e.spec.tty,
            output: out_rx,
            stdin: ExecStdin { exec: e.clone() },
        })
    }

    /// `GET /exec/{id}/json`.
    pub fn inspect_exec(&self, id: &str) -> Result<ExecInspectResponse> {
        let e = self.get_exec(id)?;
        let live = self
            .get(&e.container_id)
            .is_ok_and(|c| c.status().is_live());
        e.refresh(live);
        let st = e.state();
        let s = &e.spec;
        Ok(ExecInspectResponse {
            can_remove: Some(false),
            detach_keys: Some(s.detach_keys.clone()),
            id: Some(e.id.clone()),
            running: Some(st.running),
            exit_code: st.exit_code,
            process_config: Some(ProcessConfig {
                privileged: Some(s.privileged),
                user: (!s.user.is_empty()).then(|| s.user.clone()),
                tty: Some(s.tty),
                entrypoint: s.cmd.first().cloned(),
                arguments: Some(s.cmd.iter().skip(1).cloned().collect()),
            }),
            open_stdin: Some(s.attach_stdin),
            open_stderr: Some(s.attach_stderr),
            open_stdout: Some(s.attach_stdout),
            container_id: Some(e.container_id.clone()),
            pid: Some(st.pid),
        })
    }

    /// After a daemon restart: the execs a live container's shim still runs
    /// (or ran), from their files in the bundle.
    pub(super) fn restore_execs(&self, c: &Container) {
        let Ok(entries) = fs::read_dir(c.paths.bundle.join("execs")) else {
            return;
        };
        let mut map = self.exec_map();
        for entry in entries.flatten() {
            let dir = entry.path();
            let Some(rec) = fs::read(dir.join("exec.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<ExecFile>(&b).ok())
            else {
                continue;
            };
            if rec.container_id != c.id {
                continue;
            }
            let exec = Arc::new(Exec {
                id: rec.id.clone(),
                container_id: rec.container_id,
                spec: rec.spec,
                dir,
                state: Mutex::new(ExecState {
                    started: true,
                    running: true,
                    pid: rec.pid,
                    ..ExecState::default()
                }),
            });
            exec.refresh(true);
            map.insert(rec.id, exec);
        }
    }

    /// The container ended: its execs ended with it.
    pub(super) fn on_container_exit_execs(&self, container_id: &str) {
        for e in self.exec_map().values() {
            if e.container_id == container_id {
                e.refresh(false);
            }
        }
    }
}

/// Consumes one exec's frames until its exit is reported.
async fn exec_connection(
    e: &Arc<Exec>,
    mut frames: mpsc::Receiver<(u8, Vec<u8>)>,
    out: mpsc::Sender<Output>,
    started: oneshot::Sender<std::result::Result<i64, String>>,
) {
    let mut started = Some(started);
    while let Some((kind, payload)) = frames.recv().await {
        match kind {
            protocol::EXEC_STARTED => {
                let pid = String::from_utf8_lossy(&payload)
                    .trim()
                    .parse()
                    .unwrap_or(0);
                {
                    let mut st = e.state();
                    st.running = true;
                    st.pid = pid;
                }
                berth_store::crash_point!("exec.started");
                if let Some(tx) = started.take() {
                    let _ = tx.send(Ok(pid));
                }
            }
            protocol::EXEC_FAILED => {
                if let Some(tx) = started.take() {
                    let _ = tx.send(Err(String::from_utf8_lossy(&payload).into_owned()));
                }
                return;
            }
            protocol::STDOUT | protocol::STDERR => {
                let data = Bytes::from(payload);
                let o = if kind == protocol::STDOUT {
                    Output::Stdout(data)
                } else {
                    Output::Stderr(data)
                };
                // A detached or departed client: the output is dropped.
                let _ = out.send(o).await;
            }
            protocol::EXEC_EXIT => {
                let code = String::from_utf8_lossy(&payload)
                    .trim()
                    .parse()
                    .unwrap_or(255);
                // Recorded before the client learns of it: the docker CLI
                // inspects the exec as soon as the stream ends.
                e.finished(code);
                let _ = out.send(Output::Exit(code)).await;
                return;
            }
            _ => {}
        }
    }
    if let Some(tx) = started.take() {
        let _ = tx.send(Err("the shim closed the connection".into()));
    }
}

/// The exec's OCI `process`: the container's own (from its config.json),
/// with the exec's command, terminal, user, cwd, env and privileges.
fn write_process_json(
    bundle: &Path,
    spec: &ExecSpec,
    container_user: &str,
    group_add: &[String],
    size: Option<(u16, u16)>,
    out: &Path,
) -> Result<()> {
    let config: serde_json::Value = serde_json::from_slice(&fs::read(bundle.join("config.json"))?)?;
    let mut process = config
        .get("process")
        .cloned()
        .ok_or_else(|| Error::system("the container's config.json has no process"))?;
    let rootfs = config
        .pointer("/root/path")
        .and_then(|p| p.as_str())
        .map(|p| bundle.join(p))
        .ok_or_else(|| Error::system("the container's config.json has no root"))?;
    let user = if spec.user.is_empty() {
        container_user
    } else {
        &spec.user
    };
    let resolved = berth_runtime::spec::resolve_user_with_groups(&rootfs, user, group_add)
        .map_err(|e| Error::invalid(e.to_string()))?;
    let mut env: Vec<String> = process
        .get("env")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    if spec.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    merge_env(&mut env, &spec.env);
    let p = process
        .as_object_mut()
        .ok_or_else(|| Error::system("the container's process is not an object"))?;
    p.insert("args".into(), serde_json::json!(spec.cmd));
    p.insert("env".into(), serde_json::json!(env));
    p.insert("terminal".into(), serde_json::json!(spec.tty));
    match size {
        Some((h, w)) if spec.tty => {
            p.insert(
                "consoleSize".into(),
                serde_json::json!({"height": h, "width": w}),
            );
        }
        _ => {
            p.remove("consoleSize");
        }
    }
    if !spec.working_dir.is_empty() {
        p.insert("cwd".into(), serde_json::json!(spec.working_dir));
    }
    let mut user = serde_json::json!({"uid": resolved.uid, "gid": resolved.gid});
    if !resolved.additional_gids.is_empty() {
        user["additionalGids"] = serde_json::json!(resolved.additional_gids);
    }
    p.insert("user".into(), user);
    if spec.privileged {
        let all = berth_runtime::spec::all_capabilities();
        p.insert(
            "capabilities".into(),
            serde_json::json!({"bounding": all, "effective": all, "permitted": all}),
        );
    }
    fs::write(out, serde_json::to_vec(&process)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merges_like_docker() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".into(), "B=2".into()];
        merge_env(&mut env, &["A=x".into(), "C=3".into(), "B".into()]);
        assert_eq!(env, ["PATH=/bin", "A=x", "C=3"]);
    }

    #[test]
    fn start_failures_map_to_shell_codes() {
        assert_eq!(
            start_failure_code(
                "exec: \"nope\": executable file not found in $PATH",
                Starting::Exec
            ),
            127
        );
        assert_eq!(
            start_failure_code("open /x: no such file or directory", Starting::Exec),
            127
        );
        assert_eq!(
            start_failure_code("exec: \"/etc\": permission denied", Starting::Exec),
            126
        );
    }

    #[test]
    fn console_size_needs_both() {
        assert_eq!(console_size(Some(&[30, 100])), Some((30, 100)));
        assert_eq!(console_size(Some(&[0, 100])), None);
        assert_eq!(console_size(None), None);
    }

    #[test]
    fn process_json_from_the_container_process() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        fs::create_dir_all(rootfs.join("etc")).unwrap();
        fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )
        .unwrap();
        fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let config = serde_json::json!({
            "root": {"path": "rootfs"},
            "process": {
                "terminal": false, "cwd": "/srv", "args": ["sleep", "100"],
                "env": ["PATH=/bin", "HOSTNAME=h", "A=1"],
                "user": {"uid": 0, "gid": 0},
                "capabilities": {"bounding": ["CAP_CHOWN"]},
                "noNewPrivileges": true
            }
        });
        fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let spec = ExecSpec {
            cmd: vec!["id".into(), "-u".into()],
            user: "nobody".into(),
            env: vec!["A=2".into()],
            tty: true,
            ..ExecSpec::default()
        };
        let out = dir.path().join("process.json");
        write_process_json(dir.path(), &spec, "", &[], Some((30, 100)), &out).unwrap();
        let p: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
        assert_eq!(p["args"], serde_json::json!(["id", "-u"]));
        assert_eq!(p["user"]["uid"], 65534);
        assert_eq!(p["cwd"], "/srv");
        assert_eq!(p["terminal"], true);
        assert_eq!(p["consoleSize"]["height"], 30);
        assert_eq!(
            p["env"],
            serde_json::json!(["PATH=/bin", "HOSTNAME=h", "A=2", "TERM=xterm"])
        );
        assert_eq!(
            p["capabilities"]["bounding"],
            serde_json::json!(["CAP_CHOWN"])
        );
        assert_eq!(p["noNewPrivileges"], true);

        let privileged = ExecSpec {
            privileged: true,
            working_dir: "/tmp".into(),
            ..spec
        };
        write_process_json(dir.path(), &privileged, "", &[], None, &out).unwrap();
        let p: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
        assert!(p["capabilities"]["effective"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("CAP_SYS_ADMIN")));
        assert_eq!(p["cwd"], "/tmp");
        assert!(p.get("consoleSize").is_none());
    }
}
