//! Network namespaces that exist before any container process does.
//!
//! A namespace is made on a throwaway thread (unshare affects only the
//! calling thread, and a thread that changed namespace must never go back
//! to a pool) and kept alive by bind-mounting that thread's nsfs file onto
//! a plain file, so it survives the thread, the daemon and runc, and runc
//! can be pointed at it by path.
//!
//! ```text
//! <exec-root>/netns/            bind-mounted onto itself, MS_SHARED
//!   <container id>              nsfs bind mount: the namespace itself
//! ```
//!
//! The directory is a shared mount (as iproute2 does for /run/netns) so an
//! unmount here also reaches mount namespaces that copied the tree while the
//! namespace was mounted; otherwise such a copy would keep it alive forever.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use nix::sys::statfs::{statfs, NSFS_MAGIC};

use crate::{Error, Result};

/// Makes a new network namespace and bind-mounts it at `path` (parent dirs
/// and the file are created). Brings `lo` up inside it, since runc does not
/// when it is given a path.
pub fn create(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| Error::Invalid(format!("{}: no parent directory", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    make_shared(dir)?;

    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
    {
        Ok(_) => {}
        // A leftover plain file (a crash between open and mount) is reused;
        // a live namespace is not stacked over, or remove would leak it.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if exists(path) {
                return Err(Error::Conflict(format!(
                    "{}: a network namespace is already mounted there",
                    path.display()
                )));
            }
        }
        Err(e) => return Err(Error::io(path, e)),
    }

    let target = path.to_path_buf();
    let made = on_own_thread("netns-create", move || new_ns_at(&target), path).and_then(|r| r);
    if made.is_err() {
        let _ = fs::remove_file(path);
    }
    made
}

/// Unmounts (lazily) and unlinks `path`; Ok when it is already gone.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        // EINVAL: not a mount point (never mounted, or already unmounted).
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(Error::io(path, e.into())),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// True when `path` is a mounted network namespace (nsfs), i.e. it survived.
pub fn exists(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == NSFS_MAGIC)
}

/// Runs `f` on a fresh OS thread that has joined the namespace at `path`;
/// the thread exits afterwards. Sockets made by `f` stay in that namespace
/// whichever thread uses them later.
pub fn run_in<T: Send + 'static>(path: &Path, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let ns: OwnedFd = File::open(path).map_err(|e| Error::io(path, e))?.into();
    let at = path.to_path_buf();
    on_own_thread(
        "netns-run",
        move || {
            setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| Error::io(&at, e.into()))?;
            drop(ns);
            Ok(f())
        },
        path,
    )?
}

/// Spawns `f` on a named thread and waits for it; a panic in `f` carries on
/// in the caller as if `f` had run there.
fn on_own_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
    path: &Path,
) -> Result<T> {
    let thread = thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| Error::io(path, e))?;
    match thread.join() {
        Ok(v) => Ok(v),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs on the throwaway thread: after unshare this thread is in the new
/// namespace, so lo is brought up through a socket it makes, then its
/// namespace file is pinned at `path`.
fn new_ns_at(path: &Path) -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| Error::io(path, e.into()))?;
    set_up("lo").map_err(|e| Error::io(path, e))?;
    mount(
        Some("/proc/thread-self/ns/net"),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::io(path, e.into()))
}

/// Sets IFF_UP on `name` in the calling thread's network namespace.
fn set_up(name: &str) -> io::Result<()> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let mut req = ifreq(name)?;
    // SAFETY: req is a valid ifreq that outlives both calls; the kernel
    // reads the name and reads/writes only ifru_flags.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// Makes `dir` a shared mount point, once per directory and process: bound
/// onto itself first when it is not a mount point yet (MS_SHARED needs one).
fn make_shared(dir: &Path) -> Result<()> {
    static DONE: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    let done = done.get_or_insert_with(HashSet::new);
    if done.contains(dir) {
        return Ok(());
    }
    let shared = || {
        mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => {}
        Err(Errno::EINVAL) => {
            mount(
                Some(dir),
                dir,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| Error::io(dir, e.into()))?;
            shared().map_err(|e| Error::io(dir, e.into()))?;
        }
        Err(e) => return Err(Error::io(dir, e.into())),
    }
    done.insert(dir.to_path_buf());
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A test's namespace directory; unmounts what `create` bound there.
    pub(crate) struct NsDir {
        pub dir: PathBuf,
        files: Vec<PathBuf>,
        _tmp: tempfile::TempDir,
    }

    impl NsDir {
        pub fn new() -> NsDir {
            let tmp = tempfile::tempdir().expect("tempdir");
            NsDir {
                dir: tmp.path().join("netns"),
                files: Vec::new(),
                _tmp: tmp,
            }
        }

        pub fn path(&mut self, name: &str) -> PathBuf {
            let p = self.dir.join(name);
            self.files.push(p.clone());
            p
        }
    }

    impl Drop for NsDir {
        fn drop(&mut self) {
            for f in &self.files {
                let _ = remove(f);
            }
            let _ = umount2(&self.dir, MntFlags::MNT_DETACH);
        }
    }

    /// Interface names and the flags of `lo`, as seen from inside.
    fn inside(path: &Path) -> (Vec<String>, libc::c_short) {
        run_in(path, || {
            let dev = fs::read_to_string("/proc/thread-self/net/dev").expect("net/dev");
            let names = dev
                .lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(|n| n.trim().to_string())
                .collect();
            let sock = socket(
                AddressFamily::Inet,
                SockType::Datagram,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .expect("socket");
            let mut req = ifreq("lo").expect("ifreq");
            // SAFETY: as in set_up.
            let flags = unsafe {
                assert!(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) >= 0);
                req.ifr_ifru.ifru_flags
            };
            (names, flags)
        })
        .expect("run_in")
    }

    static N: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn create_run_in_remove_round_trip() {
        let mut d = NsDir::new();
        let p = d.path(&format!("ns{}", N.fetch_add(1, Ordering::Relaxed)));

        assert!(!exists(&p));
        create(&p).expect("create");
        assert!(exists(&p));

        let (names, flags) = inside(&p);
        assert_eq!(names, vec!["lo".to_string()]);
        assert_ne!(flags & libc::IFF_UP as libc::c_short, 0, "lo is down");

        // A namespace is not stacked over a live one.
        assert!(matches!(create(&p), Err(Error::Conflict(_))));

        remove(&p).expect("remove");
        assert!(!exists(&p));
        assert!(!p.exists(), "file left behind");
        remove(&p).expect("second remove");

        assert!(run_in(&p, || ()).is_err());
    }

    #[test]
    fn run_in_does_not_touch_the_caller() {
        let mut d = NsDir::new();
        let p = d.path(&format!("ns{}", N.fetch_add(1, Ordering::Relaxed)));
        create(&p).expect("create");
        let mine = fs::read_link("/proc/thread-self/ns/net").expect("readlink");
        let theirs = run_in(&p, || {
            fs::read_link("/proc/thread-self/ns/net").expect("readlink")
        })
        .expect("run_in");
        assert_ne!(mine, theirs);
        assert_eq!(
            fs::read_link("/proc/thread-self/ns/net").expect("readlink"),
            mine
        );
    }

    #[test]
    fn a_leftover_plain_file_is_reused() {
        let mut d = NsDir::new();
        let p = d.path(&format!("ns{}", N.fetch_add(1, Ordering::Relaxed)));
        fs::create_dir_all(&d.dir).expect("mkdir");
        fs::write(&p, b"").expect("write");
        create(&p).expect("create");
        assert!(exists(&p));
    }

    #[test]
    fn the_directory_is_a_shared_mount() {
        let mut d = NsDir::new();
        let p = d.path(&format!("ns{}", N.fetch_add(1, Ordering::Relaxed)));
        create(&p).expect("create");
        let info = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let dir = d.dir.to_str().expect("utf-8");
        let line = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(dir))
            .expect("directory is a mount point");
        assert!(line.contains(" shared:"), "{line}");
    }
}
