//! A test double for [`OciRuntime`]: records every call, keeps a state per
//! container that tests set up, and fails on demand. For the engine's unit
//! tests; no processes are involved.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::{OciRuntime, RuntimeState, RuntimeStatus};
use crate::error::{Error, Result};

/// One call made to a [`FakeRuntime`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeCall {
    Pause(String),
    Resume(String),
    Kill {
        id: String,
        signal: i32,
        all: bool,
    },
    Delete {
        id: String,
        force: bool,
    },
    State(String),
    Pids(String),
    /// The resources as JSON text.
    Update {
        id: String,
        resources: String,
    },
}

#[derive(Default)]
struct Inner {
    calls: Vec<RuntimeCall>,
    states: HashMap<String, RuntimeState>,
    pids: HashMap<String, Vec<i32>>,
    failures: VecDeque<String>,
}

/// Behaviour: `state`/`pids` answer what was set (unknown ids are
/// [`Error::NotFound`]); `pause`/`resume` flip a known container between
/// running and paused; `kill` with SIGKILL marks it stopped; `delete`
/// forgets it. [`FakeRuntime::fail_next`] makes the next call fail.
#[derive(Default)]
pub struct FakeRuntime {
    inner: Mutex<Inner>,
}

impl FakeRuntime {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not wedge the others.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<RuntimeCall> {
        self.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Makes `id` known to the runtime with this state.
    pub fn set_state(&self, id: &str, state: RuntimeState) {
        self.lock().states.insert(id.to_string(), state);
    }

    /// A running container with init pid `pid`.
    pub fn add_running(&self, id: &str, pid: i32) {
        self.set_state(
            id,
            RuntimeState {
                status: RuntimeStatus::Running,
                pid,
                bundle: Default::default(),
            },
        );
        self.set_pids(id, vec![pid]);
    }

    pub fn set_pids(&self, id: &str, pids: Vec<i32>) {
        self.lock().pids.insert(id.to_string(), pids);
    }

    /// The next call (whichever) fails with a runtime error carrying `message`.
    pub fn fail_next(&self, message: &str) {
        self.lock().failures.push_back(message.to_string());
    }

    fn begin(&self, call: RuntimeCall, command: &str) -> Result<MutexGuard<'_, Inner>> {
        let mut g = self.lock();
        g.calls.push(call);
        if let Some(message) = g.failures.pop_front() {
            return Err(Error::Runtime {
                command: command.to_string(),
                message,
            });
        }
        Ok(g)
    }

    fn with_state<T>(
        g: &mut Inner,
        id: &str,
        f: impl FnOnce(&mut RuntimeState) -> Result<T>,
    ) -> Result<T> {
        match g.states.get_mut(id) {
            Some(s) => f(s),
            None => Err(Error::NotFound(id.to_string())),
        }
    }
}

impl OciRuntime for FakeRuntime {
    fn pause(&self, id: &str) -> Result<()> {
        let mut g = self.begin(RuntimeCall::Pause(id.into()), "pause")?;
        Self::with_state(&mut g, id, |s| match s.status {
            RuntimeStatus::Running => {
                s.status = RuntimeStatus::Paused;
                Ok(())
            }
            _ => Err(Error::Runtime {
                command: "pause".into(),
                message: "container not running".into(),
            }),
        })
    }

    fn resume(&self, id: &str) -> Result<()> {
        let mut g = self.begin(RuntimeCall::Resume(id.into()), "resume")?;
        Self::with_state(&mut g, id, |s| match s.status {
            RuntimeStatus::Paused => {
                s.status = RuntimeStatus::Running;
                Ok(())
            }
            _ => Err(Error::Runtime {
                command: "resume".into(),
                message: "container not paused".into(),
            }),
        })
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let mut g = self.begin(
            RuntimeCall::Kill {
                id: id.into(),
                signal,
                all,
            },
            "kill",
        )?;
        Self::with_state(&mut g, id, |s| {
            if s.status == RuntimeStatus::Stopped {
                return Err(Error::Runtime {
                    command: "kill".into(),
                    message: "container not running".into(),
                });
            }
            if signal == libc::SIGKILL {
                s.status = RuntimeStatus::Stopped;
                s.pid = 0;
            }
            Ok(())
        })
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut g = self.begin(
            RuntimeCall::Delete {
                id: id.into(),
                force,
            },
            "delete",
        )?;
        let running = Self::with_state(&mut g, id, |s| {
            Ok(matches!(
                s.status,
                RuntimeStatus::Running | RuntimeStatus::Paused
            ))
        })?;
        if running && !force {
            return Err(Error::Runtime {
                command: "delete".into(),
                message: format!("cannot delete container {id} that is not stopped: running"),
            });
        }
        g.states.remove(id);
        g.pids.remove(id);
        Ok(())
    }

    fn state(&self, id: &str) -> Result<RuntimeState> {
        let mut g = self.begin(RuntimeCall::State(id.into()), "state")?;
        Self::with_state(&mut g, id, |s| Ok(s.clone()))
    }

    fn list(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self.lock().states.keys().cloned().collect();
        ids.sort();
        Ok(ids)
    }

    fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let g = self.begin(RuntimeCall::Pids(id.into()), "ps")?;
        if !g.states.contains_key(id) {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(g.pids.get(id).cloned().unwrap_or_default())
    }

    fn update(&self, id: &str, resources: &serde_json::Value) -> Result<()> {
        let g = self.begin(
            RuntimeCall::Update {
                id: id.into(),
                resources: resources.to_string(),
            },
            "update",
        )?;
        if !g.states.contains_key(id) {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(())
    }

    /// `fake-runtime run ID BUNDLE PID_FILE [CONSOLE]`: a recognisable argv
    /// for tests of what the engine hands a shim; nothing runs it.
    fn run_detached_argv(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            "fake-runtime".into(),
            "run".into(),
            id.into(),
            bundle.into(),
            pid_file.into(),
        ];
        v.extend(console_socket.map(OsString::from));
        v
    }

    fn exec_argv(
        &self,
        id: &str,
        process_json: &Path,
        pid_file: &Path,
        log: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            "fake-runtime".into(),
            "exec".into(),
            id.into(),
            process_json.into(),
            pid_file.into(),
            log.into(),
        ];
        v.extend(console_socket.map(OsString::from));
        v
    }

    fn delete_argv(&self, id: &str) -> Vec<OsString> {
        vec!["fake-runtime".into(), "delete".into(), id.into()]
    }

    fn log_file(&self, bundle: &Path) -> PathBuf {
        bundle.join("fake-runtime.log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn records_and_transitions() {
        let f = FakeRuntime::new();
        let rt: Arc<dyn OciRuntime> = Arc::new(FakeRuntime::new());
        assert!(rt.state("x").unwrap_err().is_not_found());

        f.add_running("c", 100);
        f.pause("c").unwrap();
        assert_eq!(f.state("c").unwrap().status, RuntimeStatus::Paused);
        assert!(f.pause("c").is_err());
        f.resume("c").unwrap();
        assert_eq!(f.pids("c").unwrap(), vec![100]);
        assert!(f.delete("c", false).is_err());
        f.kill("c", 15, true).unwrap();
        assert_eq!(f.state("c").unwrap().status, RuntimeStatus::Running);
        f.kill("c", 9, false).unwrap();
        assert_eq!(
            f.state("c").unwrap(),
            RuntimeState {
                status: RuntimeStatus::Stopped,
                pid: 0,
                bundle: Default::default()
            }
        );
        f.delete("c", false).unwrap();
        assert!(f.state("c").unwrap_err().is_not_found());
        assert_eq!(
            f.calls(),
            vec![
                RuntimeCall::Pause("c".into()),
                RuntimeCall::State("c".into()),
                RuntimeCall::Pause("c".into()),
                RuntimeCall::Resume("c".into()),
                RuntimeCall::Pids("c".into()),
                RuntimeCall::Delete {
                    id: "c".into(),
                    force: false
                },
                RuntimeCall::Kill {
                    id: "c".into(),
                    signal: 15,
                    all: true
                },
                RuntimeCall::State("c".into()),
                RuntimeCall::Kill {
                    id: "c".into(),
                    signal: 9,
                    all: false
                },
                RuntimeCall::State("c".into()),
                RuntimeCall::Delete {
                    id: "c".into(),
                    force: false
                },
                RuntimeCall::State("c".into()),
            ]
        );
        f.clear_calls();
        assert!(f.calls().is_empty());
    }

    #[test]
    fn injected_failures() {
        let f = FakeRuntime::new();
        f.add_running("c", 1);
        f.fail_next("boom");
        match f.kill("c", 9, false) {
            Err(Error::Runtime { command, message }) => {
                assert_eq!((command.as_str(), message.as_str()), ("kill", "boom"))
            }
            other => panic!("{other:?}"),
        }
        // One failure only; the call was still recorded.
        f.kill("c", 15, false).unwrap();
        assert_eq!(f.calls().len(), 2);
    }
}
