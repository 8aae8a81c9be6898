//! The two places where the container lifecycle touches the host beyond
//! files: starting and reaching a container's shim, and mounting its rootfs.
//! The daemon uses the process and kernel implementations here; the unit
//! tests put in-process fakes behind the same traits (youki's `Syscall`
//! trait), so the state machine they drive is the daemon's own code.

use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use berth_image::OverlayMount;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::UnixStream;

use crate::error::{Error, Result};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a shim is started with; the real launcher spells it as the shim's
/// command line (see `berth-shim/src/args.rs`).
#[derive(Debug, Clone)]
pub(crate) struct ShimLaunch {
    /// The runtime's detached run command, argv\[0\] first.
    pub start_argv: Vec<OsString>,
    /// The runtime's delete command, run by the shim after the exit.
    pub delete_argv: Vec<OsString>,
    pub pid_file: PathBuf,
    pub runtime_log: PathBuf,
    /// Where the shim listens.
    pub socket: PathBuf,
    /// Where the shim records the exit before it reports it.
    pub exit_file: PathBuf,
    pub console_socket: Option<PathBuf>,
    /// The json-file log and its rotation; none keeps no log.
    pub log: Option<LogFile>,
    pub oom_file: Option<PathBuf>,
    /// Keep the container's stdin open.
    pub stdin: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct LogFile {
    pub path: PathBuf,
    /// 0 = no rotation.
    pub max_size: u64,
    pub max_files: u32,
}

/// Both halves of one connection to a shim.
pub(crate) struct ShimConn {
    pub rd: Box<dyn AsyncRead + Send + Unpin>,
    pub wr: Box<dyn AsyncWrite + Send + Unpin>,
}

/// Starting a shim and connecting to it. A spawned shim outlives the
/// daemon; any number of connections may reach it later by its socket.
pub(crate) trait Shims: Send + Sync {
    /// Starts a shim and returns once it listens (its READY line), or with
    /// the error it reported.
    fn spawn<'a>(&'a self, launch: &'a ShimLaunch) -> BoxFuture<'a, Result<()>>;
    /// Connects to the shim listening on `socket`; an error means no shim
    /// is there (any more).
    fn connect<'a>(&'a self, socket: &'a Path) -> BoxFuture<'a, io::Result<ShimConn>>;
}

/// Mounting a container's overlay rootfs, described by the snapshotter.
pub(crate) trait RootfsMounter: Send + Sync {
    /// Mounts `m` on its target; already mounted is fine.
    fn mount(&self, m: &OverlayMount) -> berth_image::Result<()>;
    /// Detaches the mount; not mounted is fine.
    fn unmount(&self, m: &OverlayMount) -> berth_image::Result<()>;
    /// Every mount point strictly below `dir`, deepest first (for finding
    /// what a crashed daemon left mounted).
    fn mounts_under(&self, dir: &Path) -> Vec<PathBuf>;
    /// Detaches whatever is mounted on `path`.
    fn detach(&self, path: &Path) -> io::Result<()>;
}

/// `berth-shim` processes, reached over their unix sockets.
pub(crate) struct ProcessShims {
    pub binary: PathBuf,
}

impl ProcessShims {
    fn command(&self, l: &ShimLaunch) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.binary);
        for arg in &l.start_argv {
            cmd.arg("--start-arg").arg(arg);
        }
        for arg in &l.delete_argv {
            cmd.arg("--delete-arg").arg(arg);
        }
        cmd.arg("--pid-file")
            .arg(&l.pid_file)
            .arg("--runtime-log")
            .arg(&l.runtime_log)
            .arg("--socket")
            .arg(&l.socket)
            .arg("--exit-file")
            .arg(&l.exit_file);
        if let Some(path) = &l.console_socket {
            cmd.arg("--console-socket").arg(path);
        }
        if let Some(log) = &l.log {
            cmd.arg("--log-path").arg(&log.path);
            if log.max_size > 0 {
                cmd.arg("--log-max-size").arg(log.max_size.to_string());
                cmd.arg("--log-max-files").arg(log.max_files.to_string());
            }
        }
        if let Some(path) = &l.oom_file {
            cmd.arg("--oom-file").arg(path);
        }
        if l.stdin {
            cmd.arg("--stdin");
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        cmd
    }
}

impl Shims for ProcessShims {
    fn spawn<'a>(&'a self, launch: &'a ShimLaunch) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut child = self
                .command(launch)
                .spawn()
                .map_err(|e| Error::system(format!("spawn shim {}: {e}", self.binary.display())))?;
            // The shim forks and its parent exits: stdout ends with READY
            // once the worker listens, or with its error.
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                stdout.read_to_string(&mut out).await?;
            }
            let _ = child.wait().await;
            let line = out.lines().next().unwrap_or("");
            if line != "READY" {
                return Err(Error::system(format!(
                    "shim failed to start: {}",
                    line.strip_prefix("ERROR ").unwrap_or(line)
                )));
            }
            Ok(())
        })
    }

    fn connect<'a>(&'a self, socket: &'a Path) -> BoxFuture<'a, io::Result<ShimConn>> {
        Box::pin(async move {
            let (rd, wr) = UnixStream::connect(socket).await?.into_split();
            Ok(ShimConn {
                rd: Box::new(rd),
                wr: Box::new(wr),
            })
        })
    }
}

/// Overlay mounts made by the kernel.
pub(crate) struct KernelMounts;

impl RootfsMounter for KernelMounts {
    fn mount(&self, m: &OverlayMount) -> berth_image::Result<()> {
        m.mount()
    }

    fn unmount(&self, m: &OverlayMount) -> berth_image::Result<()> {
        m.unmount()
    }

    fn mounts_under(&self, dir: &Path) -> Vec<PathBuf> {
        berth_runtime::mountinfo::mount_points_under(dir).unwrap_or_else(|e| {
            tracing::warn!("reading the mount table: {e}");
            Vec::new()
        })
    }

    fn detach(&self, path: &Path) -> io::Result<()> {
        match nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
