//! `docker cp` and `docker export` on a container's root filesystem.
//!
//! The rootfs belongs to the container, which may be running and hostile: it
//! can plant symlinks to `/` or swap a directory for a link while we work.
//! So nothing here uses a plain host path below the root. The directory part
//! of a container path is opened with `openat2(RESOLVE_IN_ROOT)` (symlinks
//! resolve as if the rootfs were `/`), the last component is looked at with
//! no-follow `*at` calls, and a tree is walked through directory file
//! descriptors opened `O_NOFOLLOW`, never by re-joining path strings.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, FileStat, Mode};

use crate::apply::{openat2_retry, unpack_into, UnpackOptions};
use crate::error::{Error, Result};

/// What `X-Docker-Container-Path-Stat` says about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits (type bits high, permissions low).
    pub mode: u32,
    /// RFC 3339, UTC.
    pub mtime: String,
    /// For a symlink: where it points, as an absolute path in the container.
    pub link_target: String,
}

/// Options of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyInOptions {
    /// Refuse to replace a directory with a non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Keep the archive's owners (`docker cp -a`); otherwise files belong
    /// to the container's root.
    pub copy_uid_gid: bool,
}

/// A container path split the way docker resolves it: the directory part
/// (symlinks followed, inside the root) and the last component (not
/// followed). A trailing `/` or `/.` makes the path itself the directory.
struct Resolved {
    dir: OwnedFd,
    /// Absolute path of `dir` in the container (for messages and links).
    dir_path: PathBuf,
    base: Option<OsString>,
    /// The name docker gives the path in stats and as the tar's top entry
    /// (Go's `filepath.Base`): `.` for `dir/.`, which copies the contents.
    top: OsString,
}

fn open_root(root: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_err(format!("open {}", root.display())))
}

fn errno_err(context: String) -> impl FnOnce(Errno) -> Error {
    move |e| Error::Io {
        context,
        source: io::Error::from(e),
    }
}

/// Opens directory `path` (absolute or relative, inside `root`).
fn open_dir_in_root(root: BorrowedFd<'_>, path: &Path) -> nix::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new("/")
    } else {
        path
    };
    // No RESOLVE_NO_XDEV: in a container's mount namespace its binds and
    // tmpfs mounts are part of the tree.
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2_retry(root, path, how)
}

/// The lexical form docker uses: absolute, `..` clamped at `/`.
fn clean(path: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn resolve(root: BorrowedFd<'_>, path: &str) -> Result<Option<Resolved>> {
    let keep_dir = path.ends_with('/') || path.ends_with("/.") || path == ".";
    let abs = clean(path);
    let (dir_path, base) = match (keep_dir, abs.file_name()) {
        (false, Some(name)) => (
            abs.parent().unwrap_or(Path::new("/")).to_path_buf(),
            Some(name.to_os_string()),
        ),
        _ => (abs.clone(), None),
    };
    let trimmed = path.trim_end_matches('/');
    let top = if trimmed == "." || trimmed.ends_with("/.") {
        OsString::from(".")
    } else {
        abs.file_name()
            .map(OsStr::to_os_string)
            .unwrap_or_else(|| OsString::from("/"))
    };
    match open_dir_in_root(root, &dir_path) {
        Ok(dir) => Ok(Some(Resolved {
            dir,
            dir_path,
            base,
            top,
        })),
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(errno_err(format!("resolve {path}"))(e)),
    }
}

fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<FileStat> {
    fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

/// Go's `os.FileMode` for a `st_mode`.
fn go_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    match st_mode & libc::S_IFMT {
        libc::S_IFDIR => m |= 1 << 31,
        libc::S_IFLNK => m |= 1 << 27,
        libc::S_IFBLK => m |= 1 << 26,
        libc::S_IFCHR => m |= (1 << 26) | (1 << 21),
        libc::S_IFIFO => m |= 1 << 25,
        libc::S_IFSOCK => m |= 1 << 24,
        _ => {}
    }
    if st_mode & libc::S_ISUID != 0 {
        m |= 1 << 23;
    }
    if st_mode & libc::S_ISGID != 0 {
        m |= 1 << 22;
    }
    if st_mode & libc::S_ISVTX != 0 {
        m |= 1 << 20;
    }
    m
}

fn rfc3339(secs: i64, nanos: i64) -> String {
    chrono::DateTime::from_timestamp(secs, nanos.clamp(0, 999_999_999) as u32)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Where the symlink `dir/name` leads, as an absolute container path.
fn link_target(r: &Resolved, name: &OsStr) -> String {
    let Ok(target) = readlinkat(r.dir.as_fd(), name) else {
        return String::new();
    };
    let joined = if Path::new(&target).is_absolute() {
        PathBuf::from(&target)
    } else {
        r.dir_path.join(&target)
    };
    clean(&joined.to_string_lossy())
        .to_string_lossy()
        .into_owned()
}

/// `HEAD /containers/{id}/archive`: the stat of `path`, or `None` if missing.
pub fn stat_path(root: &Path, path: &str) -> Result<Option<PathStat>> {
    let rootfd = open_root(root)?;
    let Some(r) = resolve(rootfd.as_fd(), path)? else {
        return Ok(None);
    };
    let (st, name) = match &r.base {
        Some(base) => match lstat_at(r.dir.as_fd(), base) {
            Ok(st) => (st, base.to_string_lossy().into_owned()),
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(None),
            Err(e) => return Err(errno_err(format!("stat {path}"))(e)),
        },
        None => {
            let st =
                nix::sys::stat::fstat(r.dir.as_fd()).map_err(errno_err(format!("stat {path}")))?;
            (st, r.top.to_string_lossy().into_owned())
        }
    };
    let is_link = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
    let link = match (&r.base, is_link) {
        (Some(base), true) => link_target(&r, base),
        _ => String::new(),
    };
    Ok(Some(PathStat {
        name,
        size: st.st_size,
        mode: go_mode(st.st_mode),
        mtime: rfc3339(st.st_mtime, st.st_mtime_nsec),
        link_target: link,
    }))
}

/// `GET /containers/{id}/archive`: a tar of `path` whose top entry is
/// named after the path's last component (a directory's contents follow
/// under that name). Returns false if the path does not exist. `fds` is
/// this thread's [`thread_fds`].
pub fn tar_path(root: &Path, path: &str, out: impl Write, fds: BorrowedFd<'_>) -> Result<bool> {
    let rootfd = open_root(root)?;
    let Some(r) = resolve(rootfd.as_fd(), path)? else {
        return Ok(false);
    };
    let mut w = TreeWriter::new(out, fds);
    match &r.base {
        Some(base) => {
            if let Err(Errno::ENOENT) | Err(Errno::ENOTDIR) = lstat_at(r.dir.as_fd(), base) {
                return Ok(false);
            }
            w.entry(r.dir.as_fd(), base, PathBuf::from(base))?;
        }
        None => {
            let name = match r.top.as_bytes() {
                b"/" => PathBuf::from("."),
                _ => PathBuf::from(&r.top),
            };
            let st =
                nix::sys::stat::fstat(r.dir.as_fd()).map_err(errno_err(format!("stat {path}")))?;
            w.dir(r.dir, &st, name)?;
        }
    }
    w.finish()?;
    Ok(true)
}

/// `GET /containers/{id}/export`: the whole rootfs, entries relative to `/`.
pub fn export(root: &Path, out: impl Write, fds: BorrowedFd<'_>) -> Result<()> {
    let rootfd = open_root(root)?;
    let mut w = TreeWriter::new(out, fds);
    w.children(rootfd.as_fd(), Path::new(""))?;
    w.finish()
}

/// `PUT /containers/{id}/archive`: unpacks a tar into the directory `path`.
/// `Ok(None)`: the path does not exist; an existing non-directory is an
/// invalid argument, like dockerd's "extraction point is not a directory".
pub fn extract_to_dir(
    root: &Path,
    path: &str,
    reader: &mut dyn Read,
    opts: CopyInOptions,
) -> Result<Option<()>> {
    let rootfd = open_root(root)?;
    let Some(r) = resolve(rootfd.as_fd(), path)? else {
        return Ok(None);
    };
    let dir = match &r.base {
        None => r.dir,
        Some(base) => {
            match openat(
                r.dir.as_fd(),
                base.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => return Ok(None),
                Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => {
                    return Err(Error::invalid("extraction point is not a directory"))
                }
                Err(e) => return Err(errno_err(format!("open {path}"))(e)),
            }
        }
    };
    let unpack = UnpackOptions {
        whiteouts: false,
        owner: (!opts.copy_uid_gid).then_some((0, 0)),
        no_overwrite_dir_non_dir: opts.no_overwrite_dir_non_dir,
    };
    // dockerd decompresses what it is sent; so does berth.
    let mut reader = crate::compress::decompress(reader).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Error::invalid(e.to_string()),
        _ => crate::apply::read_err(e),
    })?;
    unpack_into(&mut reader, dir, unpack)?;
    Ok(Some(()))
}

/// This thread's descriptor table in the host's procfs, for reopening
/// `O_PATH` descriptors. Open it before entering a container's mount
/// namespace: there `/proc` is the container's, where this thread does not
/// exist.
pub fn thread_fds() -> Result<OwnedFd> {
    nix::fcntl::open(
        "/proc/thread-self/fd",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_err("open /proc/thread-self/fd".into()))
}

/// Writes a tree as tar entries, walking by directory descriptors.
struct TreeWriter<'a, W: Write> {
    tar: tar::Builder<W>,
    /// From [`thread_fds`].
    fds: BorrowedFd<'a>,
}

impl<'a, W: Write> TreeWriter<'a, W> {
    fn new(out: W, fds: BorrowedFd<'a>) -> Self {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Complete);
        TreeWriter { tar, fds }
    }

    fn finish(self) -> Result<()> {
        self.tar.into_inner().map(drop).map_err(|e| Error::Io {
            context: "write archive".into(),
            source: e,
        })
    }

    fn header(st: &FileStat, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(st.st_uid as u64);
        h.set_gid(st.st_gid as u64);
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(size);
        h
    }

    /// Appends an entry with `name` (and a symlink's `link`) written
    /// verbatim, as Go's archive/tar does: the tar crate would normalise
    /// `./f` to `f` and `/` to `//`, and docker clients rebase on `./`.
    /// Names that do not fit get GNU long-name records.
    fn append(
        &mut self,
        mut h: tar::Header,
        name: &Path,
        link: Option<&[u8]>,
        data: impl Read,
    ) -> Result<()> {
        let raw = name.as_os_str().as_bytes();
        if raw.len() > 100 {
            self.long_record(tar::EntryType::GNULongName, raw, name)?;
        }
        let n = raw.len().min(100);
        h.as_old_mut().name = [0; 100];
        h.as_old_mut().name[..n].copy_from_slice(&raw[..n]);
        if let Some(target) = link {
            if target.len() > 100 {
                self.long_record(tar::EntryType::GNULongLink, target, name)?;
            }
            let n = target.len().min(100);
            h.as_old_mut().linkname[..n].copy_from_slice(&target[..n]);
        }
        h.set_cksum();
        self.tar.append(&h, data).map_err(Self::io(name))
    }

    fn long_record(&mut self, kind: tar::EntryType, value: &[u8], name: &Path) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        let tag = b"././@LongLink";
        h.as_old_mut().name[..tag.len()].copy_from_slice(tag);
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(value.len() as u64 + 1);
        h.set_cksum();
        let data = value.iter().copied().chain([0u8]).collect::<Vec<u8>>();
        self.tar.append(&h, &data[..]).map_err(Self::io(name))
    }

    fn io(context: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
        move |e| Error::Io {
            context: format!("archive {}", context.display()),
            source: e,
        }
    }

    /// One entry `name` of directory `dir`, stored as `rel`.
    fn entry(&mut self, dir: BorrowedFd<'_>, name: &OsStr, rel: PathBuf) -> Result<()> {
        let st = match lstat_at(dir, name) {
            Ok(st) => st,
            // Gone while we walked: a running container changes its files.
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(errno_err(format!("stat {}", rel.display()))(e)),
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                let fd = match openat(
                    dir,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::ENOENT) | Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => return Ok(()),
                    Err(e) => return Err(errno_err(format!("open {}", rel.display()))(e)),
                };
                self.dir(fd, &st, rel)
            }
            libc::S_IFREG => {
                // O_PATH first: opening by name could open a device node a
                // running container swapped in after the lstat (opening some
                // devices has effects). Only a verified regular file is
                // opened for reading, through the descriptor's magic link.
                let path_fd = match openat(
                    dir,
                    name,
                    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::ENOENT) | Err(Errno::ELOOP) => return Ok(()),
                    Err(e) => return Err(errno_err(format!("open {}", rel.display()))(e)),
                };
                let st = nix::sys::stat::fstat(path_fd.as_fd())
                    .map_err(errno_err(format!("stat {}", rel.display())))?;
                if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                    return Ok(());
                }
                let fd = match openat(
                    self.fds.as_fd(),
                    path_fd.as_raw_fd().to_string().as_str(),
                    OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::ENOENT) => return Ok(()),
                    Err(e) => return Err(errno_err(format!("open {}", rel.display()))(e)),
                };
                let size = st.st_size.max(0) as u64;
                let h = Self::header(&st, tar::EntryType::Regular, size);
                // A file that shrinks while read is padded, one that grows is cut.
                let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
                self.append(h, &rel, None, data)
            }
            libc::S_IFLNK => {
                let target = match readlinkat(dir, name) {
                    Ok(t) => t,
                    Err(Errno::ENOENT) | Err(Errno::EINVAL) => return Ok(()),
                    Err(e) => return Err(errno_err(format!("readlink {}", rel.display()))(e)),
                };
                let h = Self::header(&st, tar::EntryType::Symlink, 0);
                self.append(h, &rel, Some(target.as_bytes()), io::empty())
            }
            kind @ (libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO) => {
                let t = match kind {
                    libc::S_IFCHR => tar::EntryType::Char,
                    libc::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let mut h = Self::header(&st, t, 0);
                let dev = st.st_rdev;
                h.set_device_major(libc::major(dev)).ok();
                h.set_device_minor(libc::minor(dev)).ok();
                self.append(h, &rel, None, io::empty())
            }
            // Sockets are not archived, as in docker.
            _ => Ok(()),
        }
    }

    fn dir(&mut self, fd: OwnedFd, st: &FileStat, rel: PathBuf) -> Result<()> {
        let h = Self::header(st, tar::EntryType::Directory, 0);
        let mut name = rel.clone().into_os_string();
        name.push("/");
        self.append(h, Path::new(&name), None, io::empty())?;
        self.children(fd.as_fd(), &rel)
    }

    fn children(&mut self, fd: BorrowedFd<'_>, rel: &Path) -> Result<()> {
        let dup = nix::unistd::dup(fd).map_err(errno_err(format!("dup {}", rel.display())))?;
        let mut dir = nix::dir::Dir::from_fd(dup)
            .map_err(errno_err(format!("read dir {}", rel.display())))?;
        let mut names: Vec<OsString> = dir
            .iter()
            .filter_map(|e| e.ok())
            .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        for n in names {
            self.entry(fd, &n, rel.join(&n))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn entries(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>)> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                let kind = e.header().entry_type();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (path, kind, data)
            })
            .collect()
    }

    fn tar_path_t(root: &Path, path: &str, out: impl Write) -> Result<bool> {
        tar_path(root, path, out, thread_fds().unwrap().as_fd())
    }

    fn rootfs() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/hostname"), "box\n").unwrap();
        std::fs::create_dir_all(r.join("tmp/sub")).unwrap();
        std::fs::write(r.join("tmp/sub/f.txt"), "hello").unwrap();
        symlink("/", r.join("tmp/toroot")).unwrap();
        symlink("../../../../etc", r.join("tmp/up")).unwrap();
        symlink("sub", r.join("tmp/rel")).unwrap();
        d
    }

    #[test]
    fn stat_follows_the_directory_part_only() {
        let d = rootfs();
        let s = stat_path(d.path(), "/etc/hostname").unwrap().unwrap();
        assert_eq!(
            (s.name.as_str(), s.size, s.mode & 0o777),
            ("hostname", 4, 0o644)
        );
        let s = stat_path(d.path(), "/tmp/rel").unwrap().unwrap();
        assert_eq!(s.mode & (1 << 27), 1 << 27);
        assert_eq!(s.link_target, "/tmp/sub");
        let s = stat_path(d.path(), "/tmp/rel/").unwrap().unwrap();
        assert_eq!(s.mode & (1 << 31), 1 << 31);
        // Through a link to "/" the lookup stays in the rootfs.
        let s = stat_path(d.path(), "/tmp/toroot/etc/hostname")
            .unwrap()
            .unwrap();
        assert_eq!(s.size, 4);
        let s = stat_path(d.path(), "/tmp/up/hostname").unwrap().unwrap();
        assert_eq!(s.size, 4);
        assert!(stat_path(d.path(), "/../../../../etc/shadow")
            .unwrap()
            .is_none());
        assert!(stat_path(d.path(), "/nope").unwrap().is_none());
    }

    #[test]
    fn tar_of_a_dir_and_a_file() {
        let d = rootfs();
        let mut out = Vec::new();
        assert!(tar_path_t(d.path(), "/tmp", &mut out).unwrap());
        let e = entries(&out);
        let names: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "tmp/",
                "tmp/rel",
                "tmp/sub/",
                "tmp/sub/f.txt",
                "tmp/toroot",
                "tmp/up"
            ]
        );
        assert_eq!(e[1].1, tar::EntryType::Symlink);
        assert_eq!(e[3].2, b"hello");
        // `dir/.` is the contents, under ".".
        let mut out = Vec::new();
        assert!(tar_path_t(d.path(), "/tmp/sub/.", &mut out).unwrap());
        let names: Vec<String> = entries(&out).into_iter().map(|x| x.0).collect();
        assert_eq!(names, ["./", "./f.txt"]);
        assert_eq!(
            stat_path(d.path(), "/tmp/sub/.").unwrap().unwrap().name,
            "."
        );
        let mut out = Vec::new();
        assert!(tar_path_t(d.path(), "/tmp/sub/f.txt", &mut out).unwrap());
        assert_eq!(entries(&out)[0].0, "f.txt");
        // A link to "/" is archived as a link, never followed.
        let mut out = Vec::new();
        assert!(tar_path_t(d.path(), "/tmp/toroot", &mut out).unwrap());
        let e = entries(&out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].1, tar::EntryType::Symlink);
        let mut a = tar::Archive::new(&out[..]);
        let first = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(first.link_name_bytes().unwrap().as_ref(), b"/");
        assert!(!tar_path_t(d.path(), "/missing", Vec::new()).unwrap());
        let mut out = Vec::new();
        export(d.path(), &mut out, thread_fds().unwrap().as_fd()).unwrap();
        assert_eq!(entries(&out)[0].0, "etc/");
        // Long names and link targets survive verbatim.
        let long = "n".repeat(150);
        std::fs::write(d.path().join("tmp/sub").join(&long), "l").unwrap();
        symlink(format!("/{long}"), d.path().join("tmp/sub/longlink")).unwrap();
        let mut out = Vec::new();
        assert!(tar_path_t(d.path(), "/tmp/sub", &mut out).unwrap());
        let mut a = tar::Archive::new(&out[..]);
        let got: Vec<(String, Option<String>)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                    e.link_name_bytes()
                        .map(|l| String::from_utf8_lossy(&l).into_owned()),
                )
            })
            .collect();
        assert!(got.contains(&(format!("sub/{long}"), None)), "{got:?}");
        assert!(got.contains(&("sub/longlink".into(), Some(format!("/{long}")))));
    }

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = crate::testutil::TarBuilder::new();
        for (name, data) in entries {
            match name.strip_suffix('/') {
                Some(_) => b.dir(name, 0o755),
                None => b.file_owned(name, 0o644, 1234, 1234, data),
            };
        }
        b.finish()
    }

    #[test]
    fn extraction_stays_inside_and_follows_docker_rules() {
        let d = rootfs();
        let opts = CopyInOptions {
            no_overwrite_dir_non_dir: true,
            copy_uid_gid: false,
        };
        let data = tar_with(&[("new.txt", b"x"), ("dir/", b""), ("dir/in.txt", b"y")]);
        extract_to_dir(d.path(), "/tmp", &mut &data[..], opts)
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(d.path().join("tmp/new.txt")).unwrap(), b"x");
        assert_eq!(
            std::fs::read(d.path().join("tmp/dir/in.txt")).unwrap(),
            b"y"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(d.path().join("tmp/new.txt"))
                .unwrap()
                .uid(),
            0
        );
        // Into a link to "/": lands in the rootfs's own /.
        let data = tar_with(&[("via-link.txt", b"z")]);
        extract_to_dir(d.path(), "/tmp/toroot/", &mut &data[..], opts)
            .unwrap()
            .unwrap();
        assert!(d.path().join("via-link.txt").exists());
        // Members that climb out are refused.
        let host_probe = format!("berth-escape-{}", std::process::id());
        let data = tar_with(&[(&format!("../../../../../../tmp/{host_probe}"), b"evil")]);
        let _ = extract_to_dir(d.path(), "/tmp", &mut &data[..], opts);
        assert!(!Path::new("/tmp").join(&host_probe).exists());
        // Not a directory, missing, and dir/non-dir replacement.
        let data = tar_with(&[("x", b"")]);
        let e = extract_to_dir(d.path(), "/etc/hostname", &mut &data[..], opts).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        assert!(extract_to_dir(d.path(), "/nope", &mut &data[..], opts)
            .unwrap()
            .is_none());
        let data = tar_with(&[("sub", b"file over dir")]);
        let e = extract_to_dir(d.path(), "/tmp", &mut &data[..], opts).unwrap_err();
        assert!(e.to_string().contains("cannot overwrite directory"), "{e}");
        let keep = CopyInOptions {
            copy_uid_gid: true,
            ..opts
        };
        let data = tar_with(&[("owned.txt", b"o")]);
        extract_to_dir(d.path(), "/tmp", &mut &data[..], keep)
            .unwrap()
            .unwrap();
        assert_eq!(
            std::fs::metadata(d.path().join("tmp/owned.txt"))
                .unwrap()
                .uid(),
            1234
        );
    }
}
