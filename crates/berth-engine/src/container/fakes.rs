//! In-process stand-ins for the shim and the rootfs mount, for the unit
//! tests of the container lifecycle. A fake shim speaks the real frame
//! protocol over an in-memory stream and behaves as `berth-shim` does
//! (exit record written before EXIT is sent, connections closed and the
//! socket gone once the container is down, a failed start leaves nothing),
//! so the engine code under test is the daemon's own. Its "process" exits
//! when a test says so or when a signal it does not ignore arrives.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_image::OverlayMount;
use berth_shim::exit_record::ExitRecord;
use berth_shim::protocol::{self, frame, take_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::seams::{BoxFuture, RootfsMounter, ShimConn, ShimLaunch, Shims};
use crate::error::{Error, Result};
use crate::locks::IgnorePoison;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proc {
    Created,
    Running(i64),
    /// The shim is gone (after an exit, a failed start or a crash).
    Gone,
}

struct Client {
    id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    attached: bool,
}

struct ShimState {
    proc: Proc,
    clients: Vec<Client>,
}

/// One fake shim, from spawn until it is gone.
pub(crate) struct FakeShim {
    pub launch: ShimLaunch,
    state: Mutex<ShimState>,
    world: Arc<Mutex<World>>,
}

/// What all fake shims share: which sockets answer, and the script.
#[derive(Default)]
struct World {
    listening: HashMap<PathBuf, Arc<FakeShim>>,
    spawned: Vec<Arc<FakeShim>>,
    spawn_error: Option<String>,
    start_error: Option<String>,
    ignored: HashSet<i32>,
    next_pid: i64,
    next_client: u64,
}

#[derive(Default)]
pub(crate) struct FakeShims {
    world: Arc<Mutex<World>>,
}

impl FakeShims {
    /// The next spawn fails with this message (as the shim's ERROR line).
    pub fn fail_next_spawn(&self, msg: &str) {
        self.world.locked().spawn_error = Some(msg.into());
    }

    /// The next START fails with this runtime log line.
    pub fn fail_next_start(&self, msg: &str) {
        self.world.locked().start_error = Some(msg.into());
    }

    /// Container processes survive `sig` from now on (SIGKILL cannot be
    /// ignored).
    pub fn ignore_signal(&self, sig: i32) {
        self.world.locked().ignored.insert(sig);
    }

    /// The shim listening on `socket`, if any.
    pub fn at(&self, socket: &Path) -> Option<Arc<FakeShim>> {
        self.world.locked().listening.get(socket).cloned()
    }

    /// How many shims were spawned so far.
    pub fn spawned(&self) -> usize {
        self.world.locked().spawned.len()
    }
}

impl Shims for FakeShims {
    fn spawn<'a>(&'a self, launch: &'a ShimLaunch) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut world = self.world.locked();
            if let Some(msg) = world.spawn_error.take() {
                return Err(Error::system(format!("shim failed to start: {msg}")));
            }
            let shim = Arc::new(FakeShim {
                launch: launch.clone(),
                state: Mutex::new(ShimState {
                    proc: Proc::Created,
                    clients: Vec::new(),
                }),
                world: self.world.clone(),
            });
            world.spawned.push(shim.clone());
            world.listening.insert(launch.socket.clone(), shim);
            Ok(())
        })
    }

    fn connect<'a>(&'a self, socket: &'a Path) -> BoxFuture<'a, io::Result<ShimConn>> {
        Box::pin(async move {
            let shim = self
                .at(socket)
                .ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionRefused))?;
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            let (mut rd, mut wr) = tokio::io::split(theirs);
            let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
            let id = {
                let mut world = self.world.locked();
                world.next_client += 1;
                world.next_client
            };
            shim.state.locked().clients.push(Client {
                id,
                tx,
                attached: false,
            });
            // Dropping the client's sender (the shim is gone) ends the
            // stream, as the real shim closing its end does. The shim's side
            // runs on a runtime of its own: a shim outlives the daemon, so
            // a test that ends the daemon's runtime must not end it too, or
            // the daemon's last moments would see the shim close.
            shim_runtime().spawn(async move {
                while let Some(bytes) = rx.recv().await {
                    if wr.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                let _ = wr.shutdown().await;
            });
            let reader_shim = shim.clone();
            shim_runtime().spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 16 * 1024];
                loop {
                    let n = match rd.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Ok(Some((kind, payload))) = take_frame(&mut buf) {
                        reader_shim.on_request(id, kind, &payload);
                    }
                }
                reader_shim.drop_client(id);
            });
            let (rd, wr) = tokio::io::split(ours);
            Ok(ShimConn {
                rd: Box::new(rd),
                wr: Box::new(wr),
            })
        })
    }
}

/// The runtime the fake shims' ends of their connections run on, for the
/// life of the test process (a real shim is a process of its own).
fn shim_runtime() -> &'static tokio::runtime::Handle {
    static HANDLE: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the fake shims' runtime");
            let _ = tx.send(rt.handle().clone());
            rt.block_on(std::future::pending::<()>());
        });
        rx.recv().expect("the fake shims' runtime started")
    })
}

impl FakeShim {
    pub fn proc(&self) -> Proc {
        self.state.locked().proc
    }

    /// The container's process exits by itself with `code`.
    pub fn exit(&self, code: i32) {
        let mut st = self.state.locked();
        if matches!(st.proc, Proc::Running(_)) {
            self.finish(&mut st, code);
        }
    }

    /// The shim dies without a word (killed): no exit record, no EXIT.
    pub fn crash(&self) {
        let mut st = self.state.locked();
        st.proc = Proc::Gone;
        st.clients.clear();
        self.world.locked().listening.remove(&self.launch.socket);
    }

    /// As the real shim: one that was never started exits once its last
    /// client is gone.
    fn drop_client(&self, id: u64) {
        let mut st = self.state.locked();
        st.clients.retain(|c| c.id != id);
        if st.proc == Proc::Created && st.clients.is_empty() {
            st.proc = Proc::Gone;
            self.world.locked().listening.remove(&self.launch.socket);
        }
    }

    fn send(st: &ShimState, client: u64, kind: u8, payload: &[u8]) {
        if let Some(c) = st.clients.iter().find(|c| c.id == client) {
            let _ = c.tx.send(frame(kind, payload));
        }
    }

    fn on_request(&self, client: u64, kind: u8, payload: &[u8]) {
        let mut st = self.state.locked();
        if st.proc == Proc::Gone {
            return;
        }
        match kind {
            protocol::ATTACH => {
                if let Some(c) = st.clients.iter_mut().find(|c| c.id == client) {
                    c.attached = true;
                }
            }
            protocol::STDIN | protocol::CLOSE_STDIN | protocol::RESIZE => {}
            protocol::KILL => {
                let Ok(bytes) = payload.try_into() else {
                    return;
                };
                let sig = i32::from_be_bytes(bytes);
                let ignored = self.world.locked().ignored.contains(&sig);
                if matches!(st.proc, Proc::Running(_)) && (sig == libc::SIGKILL || !ignored) {
                    self.finish(&mut st, 128 + sig);
                }
            }
            protocol::STATUS_REQ => {
                let status = match st.proc {
                    Proc::Running(pid) => format!("running {pid}"),
                    _ => "created".to_string(),
                };
                Self::send(&st, client, protocol::STATUS, status.as_bytes());
            }
            protocol::START => {
                let error = {
                    let mut world = self.world.locked();
                    match st.proc {
                        Proc::Created => world.start_error.take(),
                        _ => Some("container already started".into()),
                    }
                };
                match error {
                    None => {
                        let pid = {
                            let mut world = self.world.locked();
                            world.next_pid += 1;
                            1000 + world.next_pid
                        };
                        st.proc = Proc::Running(pid);
                        Self::send(&st, client, protocol::STARTED, pid.to_string().as_bytes());
                    }
                    Some(msg) => {
                        Self::send(&st, client, protocol::START_FAILED, msg.as_bytes());
                        // A failed start leaves nothing: the shim exits.
                        st.proc = Proc::Gone;
                        st.clients.clear();
                        self.world.locked().listening.remove(&self.launch.socket);
                    }
                }
            }
            protocol::EXEC => {
                Self::send(
                    &st,
                    client,
                    protocol::EXEC_FAILED,
                    b"exec is not played by the fake shim",
                );
            }
            _ => st.clients.retain(|c| c.id != client),
        }
    }

    /// As the real shim ends: exit record first, then EXIT to every
    /// client, then the connections and the socket go.
    fn finish(&self, st: &mut ShimState, code: i32) {
        let record = ExitRecord {
            exit_code: code,
            oom_killed: false,
            finished_at: crate::timefmt::now_rfc3339(),
        };
        let json = record.to_json();
        let tmp = self.launch.exit_file.with_extension("tmp");
        if std::fs::write(&tmp, &json).is_ok() {
            let _ = std::fs::rename(&tmp, &self.launch.exit_file);
        }
        for c in &st.clients {
            let _ = c.tx.send(frame(protocol::EXIT, json.as_bytes()));
        }
        st.proc = Proc::Gone;
        st.clients.clear();
        self.world.locked().listening.remove(&self.launch.socket);
    }
}

/// Records overlay mounts instead of making them.
#[derive(Default)]
pub(crate) struct FakeMounts {
    mounted: Mutex<HashSet<PathBuf>>,
    fail_next: Mutex<Option<String>>,
}

impl FakeMounts {
    pub fn is_mounted(&self, target: &Path) -> bool {
        self.mounted.locked().contains(target)
    }

    pub fn fail_next_mount(&self, msg: &str) {
        *self.fail_next.locked() = Some(msg.into());
    }
}

impl RootfsMounter for FakeMounts {
    fn mount(&self, m: &OverlayMount) -> berth_image::Result<()> {
        if let Some(msg) = self.fail_next.locked().take() {
            return Err(berth_image::Error::Io {
                context: format!("mount {}", m.target.display()),
                source: io::Error::other(msg),
            });
        }
        self.mounted.locked().insert(m.target.clone());
        Ok(())
    }

    fn unmount(&self, m: &OverlayMount) -> berth_image::Result<()> {
        self.mounted.locked().remove(&m.target);
        Ok(())
    }

    fn mounts_under(&self, dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .mounted
            .locked()
            .iter()
            .filter(|p| p.starts_with(dir) && p.as_path() != dir)
            .cloned()
            .collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }

    fn detach(&self, path: &Path) -> io::Result<()> {
        self.mounted.locked().remove(path);
        Ok(())
    }
}
