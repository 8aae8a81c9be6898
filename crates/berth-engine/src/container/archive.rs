//! The container's filesystem over the API: `docker cp` both ways
//! (`GET|HEAD|PUT /containers/{id}/archive`), `docker export` and
//! `docker diff`. The file work happens in berth-image, inside the rootfs
//! (symlinks resolve as if it were `/`); this module finds the rootfs,
//! mounts it for the duration when the container is not running, and
//! streams tars in and out from blocking threads.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_image::{CopyInOptions, OverlayMount, PathStat};
use berth_runtime::mountns;
use berth_runtime::spec::BindMount;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, OwnedMutexGuard};

use super::seams::RootfsMounter;
use super::{Container, ContainerService};
use crate::error::{Error, Result};

/// Chunks of a tar on its way to the client.
pub type TarStream = mpsc::Receiver<Bytes>;

const CHUNK: usize = 64 * 1024;

/// A mounted rootfs; unmounted on drop if this guard mounted it.
struct Rootfs {
    path: PathBuf,
    /// A running container's mount namespace: its binds, tmpfs mounts and
    /// the hostname/hosts/resolv.conf files are visible only in there.
    mnt_ns: Option<OwnedFd>,
    /// Without a running container: its binds (and the hostname, hosts and
    /// resolv.conf files), mounted over the rootfs in a private mount
    /// namespace of the worker thread, as dockerd mounts a stopped
    /// container's volumes for `docker cp`.
    binds: Vec<BindMount>,
    /// Mounted for this borrow, and by whom, to be unmounted on drop.
    mounted_here: Option<(OverlayMount, Arc<dyn RootfsMounter>)>,
    /// Held while a stopped container's rootfs is borrowed: no start or
    /// removal meanwhile.
    _op: Option<OwnedMutexGuard<()>>,
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        if let Some((m, mounter)) = self.mounted_here.take() {
            if let Err(e) = mounter.unmount(&m) {
                tracing::warn!("unmounting {} failed: {e}", m.target.display());
            }
        }
    }
}

/// Runs `f` on a thread of its own with the container's filesystem at
/// `root`: in the running container's mount namespace (where its root is
/// `/`) or on the mounted rootfs. The thread is not reused: joining a mount
/// namespace changes its root for good.
fn run_in_rootfs<T: Send + 'static>(
    mut root: Rootfs,
    f: impl FnOnce(&Path, &OwnedFd) -> Result<T> + Send + 'static,
) -> oneshot::Receiver<Result<T>> {
    let (tx, rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel::<Result<T>>();
    let path = root.path.clone();
    let mnt_ns = root.mnt_ns.take();
    let binds = std::mem::take(&mut root.binds);
    let spawned = std::thread::Builder::new()
        .name("berth-rootfs".into())
        .spawn(move || {
            let result =
                berth_image::thread_fds()
                    .map_err(Error::from)
                    .and_then(|fds| match &mnt_ns {
                        Some(ns) => {
                            mountns::enter(ns)?;
                            f(Path::new("/"), &fds)
                        }
                        None if binds.is_empty() => f(&path, &fds),
                        None => {
                            mountns::private_with_binds(&path, &binds)?;
                            f(&path, &fds)
                        }
                    });
            let _ = done_tx.send(result);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot spawn a rootfs thread: {e}");
    }
    // The guard is released here, in the daemon's own mount namespace (the
    // worker may have left it, and an unmount there would miss), before the
    // caller hears the result: nothing is left mounted by then.
    tokio::spawn(async move {
        let result = done_rx
            .await
            .unwrap_or_else(|_| Err(Error::system("the rootfs thread failed")));
        let _ = tokio::task::spawn_blocking(move || drop(root)).await;
        let _ = tx.send(result);
    });
    rx
}

async fn joined<T>(rx: oneshot::Receiver<Result<T>>) -> Result<T> {
    rx.await
        .unwrap_or_else(|_| Err(Error::system("the rootfs thread failed")))
}

/// A `Write` that hands 64 KiB chunks to an async receiver; a departed
/// receiver is a broken pipe, which stops the tar writer.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

fn not_found(path: &str, name: &str) -> Error {
    Error::not_found(format!(
        "Could not find the file {path} in container {name}"
    ))
}

impl ContainerService {
    /// What a stopped container would have mounted over its rootfs.
    fn stopped_binds(&self, c: &Container) -> Vec<BindMount> {
        let rec = c.snapshot();
        let mut binds = super::spec::binds(&rec).unwrap_or_default();
        for (source, destination) in [
            (c.paths.hostname(), "/etc/hostname"),
            (c.paths.hosts(), "/etc/hosts"),
            (c.paths.resolv_conf(), "/etc/resolv.conf"),
        ] {
            if source.exists() {
                binds.push(BindMount {
                    source,
                    destination: destination.into(),
                    readonly: false,
                    ..Default::default()
                });
            }
        }
        binds
    }

    /// The container's merged rootfs, mounted for the caller.
    async fn rootfs(&self, c: &Arc<Container>) -> Result<Rootfs> {
        let images = self.images.clone();
        let (image_id, key) = (c.snapshot().image_id, c.id.clone());
        let mount = tokio::task::spawn_blocking(move || -> Result<OverlayMount> {
            let image = images.resolve(&image_id)?;
            Ok(images.rw_mount(&key, &image)?)
        })
        .await??;
        let rec = c.snapshot();
        if rec.state.status.is_live() && mount.is_mounted() {
            let pid = rec.state.pid;
            let mnt_ns = (pid > 0).then(|| mountns::open(pid).ok()).flatten();
            return Ok(Rootfs {
                path: mount.target.clone(),
                mnt_ns,
                binds: Vec::new(),
                mounted_here: None,
                _op: None,
            });
        }
        let op = c.op.clone().lock_owned().await;
        if mount.is_mounted() {
            return Ok(Rootfs {
                path: mount.target.clone(),
                mnt_ns: None,
                binds: self.stopped_binds(c),
                mounted_here: None,
                _op: Some(op),
            });
        }
        let mounter = self.mounter.clone();
        let mount = tokio::task::spawn_blocking(move || -> Result<OverlayMount> {
            mounter.mount(&mount)?;
            berth_store::crash_point!("cp.rootfs-mounted");
            Ok(mount)
        })
        .await??;
        Ok(Rootfs {
            path: mount.target.clone(),
            mnt_ns: None,
            binds: self.stopped_binds(c),
            mounted_here: Some((mount, self.mounter.clone())),
            _op: Some(op),
        })
    }

    /// `HEAD /containers/{id}/archive?path=`.
    pub async fn archive_stat(&self, name_or_id: &str, path: &str) -> Result<PathStat> {
        let c = self.get(name_or_id)?;
        let root = self.rootfs(&c).await?;
        let p = path.to_string();
        let stat = joined(run_in_rootfs(root, move |dir, _fds| {
            Ok(berth_image::stat_path(dir, &p)?)
        }))
        .await?;
        stat.ok_or_else(|| not_found(path, name_or_id))
    }

    /// `GET /containers/{id}/archive?path=`: the path's stat and its tar.
    pub async fn archive_get(&self, name_or_id: &str, path: &str) -> Result<(PathStat, TarStream)> {
        let c = self.get(name_or_id)?;
        let root = self.rootfs(&c).await?;
        let (tx, rx) = mpsc::channel(8);
        let (stat_tx, stat_rx) = oneshot::channel();
        let p = path.to_string();
        // The stat goes back first; the tar follows on the same thread.
        drop(run_in_rootfs(root, move |dir, fds| {
            let stat = berth_image::stat_path(dir, &p).map_err(Error::from);
            let found = matches!(stat, Ok(Some(_)));
            let _ = stat_tx.send(stat);
            if found {
                let out = ChannelWriter {
                    tx,
                    buf: Vec::with_capacity(CHUNK),
                };
                if let Err(e) = berth_image::tar_path(dir, &p, out, fds.as_fd()) {
                    tracing::debug!("archive of {p} ended early: {e}");
                }
            }
            Ok(())
        }));
        let stat = stat_rx
            .await
            .unwrap_or_else(|_| Err(Error::system("the rootfs thread failed")))?;
        let stat = stat.ok_or_else(|| not_found(path, name_or_id))?;
        Ok((stat, rx))
    }

    /// `PUT /containers/{id}/archive?path=`: unpacks `body` into the
    /// directory `path`.
    pub async fn archive_put(
        &self,
        name_or_id: &str,
        path: &str,
        body: Box<dyn Read + Send>,
        opts: CopyInOptions,
    ) -> Result<()> {
        let c = self.get(name_or_id)?;
        if c.snapshot().host_config.readonly_rootfs.unwrap_or(false) {
            return Err(Error::invalid("container rootfs is marked read-only"));
        }
        let root = self.rootfs(&c).await?;
        let p = path.to_string();
        let done = joined(run_in_rootfs(root, move |dir, _fds| {
            let mut body = body;
            let r = berth_image::extract_to_dir(dir, &p, &mut body, opts).map_err(Error::from);
            berth_store::crash_point!("cp.extracted");
            // Read the rest so the client sees an answer, not a reset.
            let _ = io::copy(&mut body, &mut io::sink());
            r
        }))
        .await?;
        done.ok_or_else(|| not_found(path, name_or_id))
    }

    /// `GET /containers/{id}/export`: the container's filesystem as a tar
    /// (its own layers, without the mounts, like docker's).
    pub async fn export(&self, name_or_id: &str) -> Result<TarStream> {
        let c = self.get(name_or_id)?;
        let mut root = self.rootfs(&c).await?;
        // docker exports the container's own layers, without its mounts.
        root.mnt_ns = None;
        root.binds.clear();
        let (tx, rx) = mpsc::channel(8);
        drop(run_in_rootfs(root, move |dir, fds| {
            let out = ChannelWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            };
            if let Err(e) = berth_image::export(dir, out, fds.as_fd()) {
                tracing::debug!("export ended early: {e}");
            }
            Ok(())
        }));
        self.event(&c.snapshot(), "export", &[]);
        Ok(rx)
    }
}
