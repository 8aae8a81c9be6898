//! What a container changed, read from its overlay upper dir: the list of
//! `docker diff` and the layer tar of `docker commit`.
//!
//! The upper dir is written by the container, which may be running and
//! hostile. Every entry is opened with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` from a descriptor of the upper dir, by a path made
//! only of names read out of its directories: no symlink is ever followed
//! and nothing outside `upper` can be reached. What is then looked at is the
//! inode held open (`fstat` of an `O_PATH` descriptor), never the name
//! again, so an entry swapped during the walk is seen whole or skipped, and
//! no device node is ever opened. Entries that vanish are skipped. No
//! descriptor is kept per directory level, so deep trees cannot exhaust the
//! daemon's descriptors (paths are limited by the kernel's `PATH_MAX`).

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, FileStat, Mode};

use crate::apply::openat2_retry;
use crate::error::{Error, Result};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
/// The only xattr docker archives (file capabilities, e.g. of `ping`).
const CAPABILITY_XATTR: &str = "security.capability";

/// How a path changed, with docker's numbers (`GET /containers/{id}/changes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

impl ChangeKind {
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// One row of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    /// Absolute in the container: `/tmp/file.txt`.
    pub path: String,
    pub kind: ChangeKind,
}

/// `docker diff` of a container from its overlay `upper` dir and its
/// `lowers` (the image's layer dirs, top first), sorted by path (bytes).
///
/// An overlay whiteout is `Deleted`; anything else is `Modified` if the path
/// exists in the image (the merged view of `lowers`: whiteouts, opaque
/// directories and non-directories in a higher layer hide what is below
/// them), `Added` otherwise. An opaque directory is thus `Modified` when the
/// image had it. The image children it hides are not listed, as in docker.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>> {
    let lowers = lowers
        .iter()
        .map(|l| open_dir(l))
        .collect::<Result<Vec<_>>>()?;
    let mut out: Vec<(PathBuf, ChangeKind)> = Vec::new();
    walk(upper, lowers.len(), &mut |node, &visible| {
        if node.is_whiteout() {
            out.push((node.rel.clone(), ChangeKind::Deleted));
            return Ok(0);
        }
        let below = below(&lowers[..visible], &node.rel, node.is_dir())?;
        let kind = if below.exists {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push((node.rel.clone(), kind));
        Ok(below.visible)
    })?;
    out.sort_by(|a, b| a.0.as_os_str().as_bytes().cmp(b.0.as_os_str().as_bytes()));
    Ok(out
        .into_iter()
        .map(|(rel, kind)| Change {
            path: format!("/{}", rel.to_string_lossy()),
            kind,
        })
        .collect())
}

/// Writes the docker layer tar of `upper` (what `docker commit` stores)
/// to `out`, streaming, and returns the bytes written.
///
/// Entries are relative (`tmp/`, `tmp/file.txt`), each directory before its
/// contents, names sorted. Regular files, directories, symlinks (never
/// followed), devices and fifos keep mode, owner and mtime (seconds), and
/// `security.capability` as a PAX xattr. A whiteout `dir/name` becomes an
/// empty file `dir/.wh.name`; an opaque directory is followed by an empty
/// `dir/.wh..wh..opq`. Hard links are stored as separate files; sockets are
/// left out. A file that changes size while read is cut or zero-padded to
/// the size it had when opened. The root dir itself has no entry.
pub fn write_diff_tar(upper: &Path, out: impl Write) -> Result<u64> {
    let mut tar = tar::Builder::new(Counter { inner: out, n: 0 });
    walk(upper, (), &mut |node, _| write_node(&mut tar, node))?;
    let mut counter = tar.into_inner().map_err(write_err)?;
    counter.flush().map_err(write_err)?;
    Ok(counter.n)
}

// ---- the walk --------------------------------------------------------------

/// An entry of the upper dir, held open.
struct Node {
    /// Relative to the upper dir: `tmp/file.txt`.
    rel: PathBuf,
    /// `O_PATH` for non-directories, readable for directories.
    fd: OwnedFd,
    st: FileStat,
}

impl Node {
    fn kind(&self) -> libc::mode_t {
        self.st.st_mode & libc::S_IFMT
    }

    fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }

    /// Overlay's whiteout: a character device 0:0.
    fn is_whiteout(&self) -> bool {
        self.kind() == libc::S_IFCHR && self.st.st_rdev == 0
    }

    fn is_opaque(&self) -> Result<bool> {
        if !self.is_dir() {
            return Ok(false);
        }
        Ok(get_xattr(self.fd.as_fd(), OPAQUE_XATTR)
            .map_err(errno_err(format!("read xattrs of {}", self.rel.display())))?
            .is_some_and(|v| v == b"y"))
    }
}

/// A directory being listed: its path, the names not visited yet (sorted
/// descending, so `pop` yields them in order) and the caller's state for it.
struct Frame<S> {
    rel: PathBuf,
    names: Vec<OsString>,
    state: S,
}

/// Visits every entry below `upper` depth first, a directory before its
/// children, names sorted. `visit` gets the entry and its directory's
/// state and returns the entry's own state (used if it is a directory).
fn walk<S>(
    upper: &Path,
    root_state: S,
    visit: &mut dyn FnMut(&Node, &S) -> Result<S>,
) -> Result<()> {
    let root = open_dir(upper)?;
    let mut stack = vec![Frame {
        rel: PathBuf::new(),
        names: list(root.as_fd(), Path::new(""))?,
        state: root_state,
    }];
    while let Some(top) = stack.last_mut() {
        let Some(name) = top.names.pop() else {
            stack.pop();
            continue;
        };
        let rel = top.rel.join(name);
        let Some(node) = open_node(root.as_fd(), rel)? else {
            continue; // gone, or replaced while we looked
        };
        let state = visit(&node, &top.state)?;
        if node.is_dir() {
            let names = list(node.fd.as_fd(), &node.rel)?;
            stack.push(Frame {
                rel: node.rel,
                names,
                state,
            });
        }
    }
    Ok(())
}

/// Resolution that stays below the starting directory and follows no
/// symlink (a symlink as last component is opened itself, with `O_PATH`).
fn beneath(flags: OFlag) -> OpenHow {
    OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_SYMLINKS
            | ResolveFlag::RESOLVE_NO_MAGICLINKS
            | ResolveFlag::RESOLVE_NO_XDEV,
    )
}

/// Errors that mean "not there (any more) as a plain path": vanished, or a
/// component turned into a non-directory, a symlink or a mount point.
fn is_gone(e: Errno) -> bool {
    matches!(
        e,
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP | Errno::EXDEV
    )
}

fn open_node(root: BorrowedFd<'_>, rel: PathBuf) -> Result<Option<Node>> {
    let fd = match openat2_retry(root, &rel, beneath(OFlag::O_PATH | OFlag::O_NOFOLLOW)) {
        Ok(fd) => fd,
        Err(e) if is_gone(e) => return Ok(None),
        Err(e) => return Err(errno_err(format!("open {}", rel.display()))(e)),
    };
    let st = fstat(fd.as_fd()).map_err(errno_err(format!("stat {}", rel.display())))?;
    let fd = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        // The same directory, readable (for listing and xattrs).
        match openat(
            fd.as_fd(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(d) => d,
            Err(e) if is_gone(e) => return Ok(None),
            Err(e) => return Err(errno_err(format!("open {}", rel.display()))(e)),
        }
    } else {
        fd
    };
    Ok(Some(Node { rel, fd, st }))
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_err(format!("open {}", path.display())))
}

/// The names in a directory, sorted descending.
fn list(dir: BorrowedFd<'_>, rel: &Path) -> Result<Vec<OsString>> {
    let err = || errno_err(format!("read directory {}", rel.display()));
    let dup = nix::unistd::dup(dir).map_err(err())?;
    let mut d = nix::dir::Dir::from_fd(dup).map_err(err())?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.map_err(err())?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    names.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
    Ok(names)
}

fn get_xattr(fd: BorrowedFd<'_>, name: &str) -> nix::Result<Option<Vec<u8>>> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: valid fd, NUL-terminated name, pointer/length of a live buffer.
        let rc = unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        match Errno::result(rc) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(Some(buf));
            }
            Err(Errno::ENODATA) | Err(Errno::ENOTSUP) => return Ok(None),
            Err(Errno::ERANGE) if buf.len() < 64 * 1024 => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

fn errno_err(context: String) -> impl FnOnce(Errno) -> Error {
    move |e| Error::Io {
        context,
        source: io::Error::from(e),
    }
}

// ---- the image below -----------------------------------------------------

/// What the image (merged lower dirs) has at a path.
struct Below {
    exists: bool,
    /// For a directory: how many of the lowers (from the top) can still
    /// contribute children; an opaque directory or a non-directory hides
    /// everything under it in the layers below.
    visible: usize,
}

/// Looks `rel` up in `lowers` (top first, those that can contribute).
/// The first layer having the path decides whether it exists (a whiteout
/// says no); for a directory the lookup goes on to find its visible layers.
fn below(lowers: &[OwnedFd], rel: &Path, is_dir: bool) -> Result<Below> {
    let mut exists = None;
    for (i, lower) in lowers.iter().enumerate() {
        let fd = match openat2_retry(
            lower.as_fd(),
            rel,
            beneath(OFlag::O_PATH | OFlag::O_NOFOLLOW),
        ) {
            Ok(fd) => fd,
            // A non-directory on the way hides the path in this layer (and
            // has already limited the layers of the parent): not here.
            Err(e) if is_gone(e) => continue,
            Err(e) => return Err(errno_err(format!("look up {} in image", rel.display()))(e)),
        };
        let st =
            fstat(fd.as_fd()).map_err(errno_err(format!("stat {} in image", rel.display())))?;
        let kind = st.st_mode & libc::S_IFMT;
        let whiteout = kind == libc::S_IFCHR && st.st_rdev == 0;
        let found = *exists.get_or_insert(!whiteout);
        if !is_dir {
            return Ok(Below {
                exists: found,
                visible: 0,
            });
        }
        if kind != libc::S_IFDIR {
            return Ok(Below {
                exists: found,
                visible: i,
            });
        }
        let dir = openat(
            fd.as_fd(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_err(format!("open {} in image", rel.display())))?;
        let opaque = get_xattr(dir.as_fd(), OPAQUE_XATTR)
            .map_err(errno_err(format!(
                "read xattrs of {} in image",
                rel.display()
            )))?
            .is_some_and(|v| v == b"y");
        if opaque {
            return Ok(Below {
                exists: found,
                visible: i + 1,
            });
        }
    }
    Ok(Below {
        exists: exists.unwrap_or(false),
        visible: lowers.len(),
    })
}

// ---- the tar -------------------------------------------------------------

/// Counts the bytes written through it.
struct Counter<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn write_err(e: io::Error) -> Error {
    Error::Io {
        context: "write layer tar".into(),
        source: e,
    }
}

fn header(st: &FileStat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

/// An empty regular file standing for a whiteout (docker's own fields:
/// mode 0600 for a file whiteout, the directory's bits for an opaque one).
fn marker<W: Write>(tar: &mut tar::Builder<W>, st: &FileStat, mode: u32, rel: &Path) -> Result<()> {
    let mut h = header(st, tar::EntryType::Regular);
    h.set_mode(mode);
    tar.append_data(&mut h, rel, io::empty()).map_err(write_err)
}

/// A PAX extended header (`SCHILY.xattr.<name>`) for the next entry.
fn pax_xattr<W: Write>(tar: &mut tar::Builder<W>, name: &str, value: &[u8]) -> Result<()> {
    let mut body = format!(" SCHILY.xattr.{name}=").into_bytes();
    body.extend_from_slice(value);
    body.push(b'\n');
    // The record's length includes the digits of the length itself.
    let mut len = body.len() + 1;
    while len.to_string().len() + body.len() != len {
        len += 1;
    }
    let mut record = len.to_string().into_bytes();
    record.extend_from_slice(&body);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_mode(0o644);
    h.set_size(record.len() as u64);
    tar.append_data(&mut h, "././@PaxHeader", &record[..])
        .map_err(write_err)
}

fn write_node<W: Write>(tar: &mut tar::Builder<W>, node: &Node) -> Result<()> {
    let rel = &node.rel;
    let st = &node.st;
    if node.is_whiteout() {
        let mut name = OsString::from(WHITEOUT_PREFIX);
        name.push(rel.file_name().unwrap_or_default());
        return marker(tar, st, 0o600, &rel.with_file_name(name));
    }
    match node.kind() {
        libc::S_IFDIR => {
            let mut h = header(st, tar::EntryType::Directory);
            let mut name = rel.clone().into_os_string();
            name.push("/");
            tar.append_data(&mut h, Path::new(&name), io::empty())
                .map_err(write_err)?;
            if node.is_opaque()? {
                marker(tar, st, st.st_mode & 0o777, &rel.join(WHITEOUT_OPAQUE))?;
            }
            Ok(())
        }
        libc::S_IFREG => write_file(tar, node),
        libc::S_IFLNK => {
            let target = match readlinkat(node.fd.as_fd(), "") {
                Ok(t) => t,
                Err(e) if is_gone(e) => return Ok(()),
                Err(e) => return Err(errno_err(format!("readlink {}", rel.display()))(e)),
            };
            let mut h = header(st, tar::EntryType::Symlink);
            if target.len() <= 100 {
                // Byte for byte (append_link would normalise `a//b`, `./a`).
                h.set_link_name_literal(target.as_bytes())
                    .map_err(write_err)?;
                tar.append_data(&mut h, rel, io::empty()).map_err(write_err)
            } else {
                tar.append_link(&mut h, rel, &target).map_err(write_err)
            }
        }
        kind @ (libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO) => {
            let t = match kind {
                libc::S_IFCHR => tar::EntryType::Char,
                libc::S_IFBLK => tar::EntryType::Block,
                _ => tar::EntryType::Fifo,
            };
            let mut h = header(st, t);
            if kind != libc::S_IFIFO {
                h.set_device_major(libc::major(st.st_rdev))
                    .map_err(write_err)?;
                h.set_device_minor(libc::minor(st.st_rdev))
                    .map_err(write_err)?;
            }
            tar.append_data(&mut h, rel, io::empty()).map_err(write_err)
        }
        // Sockets cannot be archived; docker leaves them out too.
        _ => Ok(()),
    }
}

fn write_file<W: Write>(tar: &mut tar::Builder<W>, node: &Node) -> Result<()> {
    let rel = &node.rel;
    // Reopen the inode held by the O_PATH descriptor (it is a regular file,
    // whatever the name points to by now) for reading.
    let file = match File::open(format!("/proc/self/fd/{}", node.fd.as_raw_fd())) {
        Ok(f) => f,
        Err(e) => {
            return Err(Error::Io {
                context: format!("open {}", rel.display()),
                source: e,
            })
        }
    };
    let st = fstat(file.as_fd()).map_err(errno_err(format!("stat {}", rel.display())))?;
    if (st.st_dev, st.st_ino) != (node.st.st_dev, node.st.st_ino) {
        return Err(Error::Io {
            context: format!("open {}", rel.display()),
            source: io::Error::other("reopened a different file"),
        });
    }
    if let Some(cap) = get_xattr(file.as_fd(), CAPABILITY_XATTR)
        .map_err(errno_err(format!("read xattrs of {}", rel.display())))?
    {
        pax_xattr(tar, CAPABILITY_XATTR, &cap)?;
    }
    let size = st.st_size.max(0) as u64;
    let mut h = header(&st, tar::EntryType::Regular);
    h.set_size(size);
    // A file that shrinks while read is zero-padded, one that grows is cut:
    // the header's size is what we write. A read error fails the whole tar.
    let data = file.take(size).chain(io::repeat(0)).take(size);
    tar.append_data(&mut h, rel, data).map_err(|e| Error::Io {
        context: format!("archive {}", rel.display()),
        source: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};

    use nix::sys::stat::{makedev, mknod, SFlag};

    fn set_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
        let p = CString::new(path.as_os_str().as_bytes()).unwrap();
        let n = CString::new(name).unwrap();
        // SAFETY: valid C strings and a live value slice.
        let rc = unsafe {
            libc::lsetxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
        let f = File::open(path).ok()?;
        get_xattr(f.as_fd(), name).ok()?
    }

    fn whiteout(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).unwrap();
    }

    fn write(path: &Path, data: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    }

    const LONG_DIR: &str = "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
    const LONG_FILE: &str = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    /// A capability blob (v2, cap_net_raw permitted+effective).
    const CAP: [u8; 20] = [
        1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    struct Fixture {
        _t: tempfile::TempDir,
        upper: PathBuf,
        lowers: Vec<PathBuf>,
        /// Whether `tmp/ping` got its capability (needs CAP_SETFCAP).
        cap: bool,
    }

    /// Two image layers and a container's upper dir over them.
    fn fixture() -> Fixture {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("lower-top");
        let bottom = t.path().join("lower-bottom");
        let upper = t.path().join("upper");
        for d in [&top, &bottom, &upper] {
            fs::create_dir(d).unwrap();
        }
        // image: bottom layer
        write(&bottom.join("usr/deleted"), "x");
        write(&bottom.join("usr/bin/tool"), "x");
        // image: top layer
        write(&top.join("etc/passwd"), "root\n");
        write(&top.join("etc/gone"), "bye");
        write(&top.join("var/cache/old"), "old");
        whiteout(&top.join("usr/deleted")); // deleted by the top layer
        symlink("/", top.join("lnk")).unwrap();

        // container
        write(&upper.join("tmp/file.txt"), "hello");
        let f = upper.join("tmp/file.txt");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(&f, Some(1000), Some(1001)).unwrap();
        let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        write(&upper.join("tmp/ping"), "ELF");
        let cap = set_xattr(&upper.join("tmp/ping"), CAPABILITY_XATTR, &CAP).is_ok();
        mknod(
            &upper.join("tmp/fifo"),
            SFlag::S_IFIFO,
            Mode::from_bits_truncate(0o644),
            0,
        )
        .unwrap();
        mknod(
            &upper.join("tmp/null"),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(1, 3),
        )
        .unwrap();
        write(&upper.join("etc/passwd"), "root\nme\n");
        write(&upper.join("etc/new"), "new");
        whiteout(&upper.join("etc/gone"));
        write(&upper.join("var/cache/fresh"), "fresh");
        set_xattr(&upper.join("var/cache"), OPAQUE_XATTR, b"y").unwrap();
        write(&upper.join("newopaque/x"), "x");
        set_xattr(&upper.join("newopaque"), OPAQUE_XATTR, b"y").unwrap();
        fs::create_dir(upper.join("links")).unwrap();
        symlink("/", upper.join("links/root")).unwrap();
        symlink("../../../etc", upper.join("links/up")).unwrap();
        // a directory over the image's symlink `lnk -> /`
        write(&upper.join("lnk/etc"), "not the host's");
        write(&upper.join("usr/deleted"), "again");
        write(&upper.join(format!("deep/{LONG_DIR}/{LONG_FILE}")), "deep");
        Fixture {
            _t: t,
            upper,
            lowers: vec![top, bottom],
            cap,
        }
    }

    #[test]
    fn change_kinds_have_dockers_numbers() {
        assert_eq!(ChangeKind::Modified.as_u8(), 0);
        assert_eq!(ChangeKind::Added.as_u8(), 1);
        assert_eq!(ChangeKind::Deleted.as_u8(), 2);
    }

    #[test]
    fn changes_against_the_image() {
        let f = fixture();
        let got: Vec<(String, ChangeKind)> = changes(&f.upper, &f.lowers)
            .unwrap()
            .into_iter()
            .map(|c| (c.path, c.kind))
            .collect();
        use ChangeKind::{Added as A, Deleted as D, Modified as C};
        let long_dir = format!("/deep/{LONG_DIR}");
        let long_file = format!("/deep/{LONG_DIR}/{LONG_FILE}");
        let want: Vec<(&str, ChangeKind)> = vec![
            ("/deep", A),
            (&long_dir, A),
            (&long_file, A),
            ("/etc", C),
            ("/etc/gone", D),
            ("/etc/new", A),
            ("/etc/passwd", C),
            ("/links", A),
            ("/links/root", A),
            ("/links/up", A),
            ("/lnk", C),
            // the image's `lnk` is a symlink to `/`: not followed, so the
            // host's /etc does not count
            ("/lnk/etc", A),
            ("/newopaque", A),
            ("/newopaque/x", A),
            ("/tmp", A),
            ("/tmp/fifo", A),
            ("/tmp/file.txt", A),
            ("/tmp/null", A),
            ("/tmp/ping", A),
            ("/usr", C),
            // whited out by the image's top layer: new again
            ("/usr/deleted", A),
            ("/var", C),
            ("/var/cache", C),
            ("/var/cache/fresh", A),
        ];
        let want: Vec<(String, ChangeKind)> =
            want.into_iter().map(|(p, k)| (p.to_string(), k)).collect();
        assert_eq!(got, want);

        // Without an image everything is new, whiteouts still deleted.
        let bare = changes(&f.upper, &[]).unwrap();
        assert_eq!(bare.len(), want.len());
        for c in bare {
            let k = if c.path == "/etc/gone" { D } else { A };
            assert_eq!(c.kind, k, "{}", c.path);
        }
    }

    #[test]
    fn opaque_lower_dirs_hide_deeper_layers() {
        let t = tempfile::tempdir().unwrap();
        let (top, bottom, upper) = (t.path().join("t"), t.path().join("b"), t.path().join("u"));
        write(&bottom.join("d/old"), "x");
        write(&top.join("d/kept"), "x");
        set_xattr(&top.join("d"), OPAQUE_XATTR, b"y").unwrap();
        write(&upper.join("d/old"), "x");
        write(&upper.join("d/kept"), "y");
        let got: Vec<(String, ChangeKind)> = changes(&upper, &[top, bottom])
            .unwrap()
            .into_iter()
            .map(|c| (c.path, c.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("/d".to_string(), ChangeKind::Modified),
                ("/d/kept".to_string(), ChangeKind::Modified),
                ("/d/old".to_string(), ChangeKind::Added),
            ]
        );
    }

    #[test]
    fn nodes_are_never_reached_through_symlinks() {
        let f = fixture();
        let root = open_dir(&f.upper).unwrap();
        assert!(open_node(root.as_fd(), "links/root/etc".into())
            .unwrap()
            .is_none());
        assert!(open_node(root.as_fd(), "nope".into()).unwrap().is_none());
        let link = open_node(root.as_fd(), "links/root".into())
            .unwrap()
            .unwrap();
        assert_eq!(link.kind(), libc::S_IFLNK);
        assert!(changes(&f.upper.join("missing"), &[]).is_err());
    }

    struct Entry {
        path: String,
        kind: tar::EntryType,
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
        link: Option<String>,
        dev: Option<(u32, u32)>,
        data: Vec<u8>,
        xattrs: Vec<(String, Vec<u8>)>,
    }

    fn read_tar(bytes: &[u8]) -> Vec<Entry> {
        let mut a = tar::Archive::new(bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let xattrs = match e.pax_extensions().unwrap() {
                    Some(exts) => exts
                        .map(|x| {
                            let x = x.unwrap();
                            (x.key().unwrap().to_string(), x.value_bytes().to_vec())
                        })
                        .collect(),
                    None => Vec::new(),
                };
                let h = e.header().clone();
                let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                let link = e
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned());
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                Entry {
                    path,
                    kind: h.entry_type(),
                    mode: h.mode().unwrap(),
                    uid: h.uid().unwrap(),
                    gid: h.gid().unwrap(),
                    mtime: h.mtime().unwrap(),
                    link,
                    dev: match h.entry_type() {
                        tar::EntryType::Char => {
                            h.device_major().unwrap().zip(h.device_minor().unwrap())
                        }
                        _ => None,
                    },
                    data,
                    xattrs,
                }
            })
            .collect()
    }

    #[test]
    fn diff_tar_is_a_docker_layer() {
        let f = fixture();
        let mut out = Vec::new();
        let n = write_diff_tar(&f.upper, &mut out).unwrap();
        assert_eq!(n, out.len() as u64);
        let entries = read_tar(&out);
        use tar::EntryType as T;
        let long_dir = format!("deep/{LONG_DIR}/");
        let long_file = format!("deep/{LONG_DIR}/{LONG_FILE}");
        assert!(long_file.len() > 100);
        let want: Vec<(&str, T)> = vec![
            ("deep/", T::Directory),
            (&long_dir, T::Directory),
            (&long_file, T::Regular),
            ("etc/", T::Directory),
            ("etc/.wh.gone", T::Regular),
            ("etc/new", T::Regular),
            ("etc/passwd", T::Regular),
            ("links/", T::Directory),
            ("links/root", T::Symlink),
            ("links/up", T::Symlink),
            ("lnk/", T::Directory),
            ("lnk/etc", T::Regular),
            ("newopaque/", T::Directory),
            ("newopaque/.wh..wh..opq", T::Regular),
            ("newopaque/x", T::Regular),
            ("tmp/", T::Directory),
            ("tmp/fifo", T::Fifo),
            ("tmp/file.txt", T::Regular),
            ("tmp/null", T::Char),
            ("tmp/ping", T::Regular),
            ("usr/", T::Directory),
            ("usr/deleted", T::Regular),
            ("var/", T::Directory),
            ("var/cache/", T::Directory),
            ("var/cache/.wh..wh..opq", T::Regular),
            ("var/cache/fresh", T::Regular),
        ];
        let got: Vec<(&str, T)> = entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
        assert_eq!(got, want);

        let by = |p: &str| entries.iter().find(|e| e.path == p).unwrap();
        let file = by("tmp/file.txt");
        assert_eq!(file.data, b"hello");
        assert_eq!((file.mode, file.uid, file.gid), (0o640, 1000, 1001));
        assert_eq!(file.mtime, 1_600_000_000);
        assert_eq!(by(&long_file).data, b"deep");
        assert_eq!(by("links/root").link.as_deref(), Some("/"));
        assert_eq!(by("links/up").link.as_deref(), Some("../../../etc"));
        let wh = by("etc/.wh.gone");
        assert_eq!((wh.data.len(), wh.mode), (0, 0o600));
        assert!(by("var/cache/.wh..wh..opq").data.is_empty());
        assert_eq!(by("tmp/null").dev, Some((1, 3)));
        assert_eq!(by("tmp/fifo").mode, 0o644);
        if f.cap {
            let ping = by("tmp/ping");
            assert_eq!(
                ping.xattrs,
                [("SCHILY.xattr.security.capability".to_string(), CAP.to_vec())]
            );
            assert_eq!(ping.data, b"ELF");
        }

        // It applies back as the same overlay layer.
        let dest = f._t.path().join("applied");
        fs::create_dir(&dest).unwrap();
        crate::apply_layer(&out[..], &dest).unwrap();
        let gone = fs::symlink_metadata(dest.join("etc/gone")).unwrap();
        assert!(gone.file_type().is_char_device() && gone.rdev() == 0);
        assert_eq!(xattr(&dest.join("var/cache"), OPAQUE_XATTR).unwrap(), b"y");
        assert_eq!(
            fs::read_link(dest.join("links/root")).unwrap(),
            Path::new("/")
        );
        assert_eq!(fs::read(dest.join("var/cache/fresh")).unwrap(), b"fresh");
        assert!(!dest.join("var/cache/.wh..wh..opq").exists());
    }

    #[test]
    fn empty_upper_is_the_empty_tar() {
        let t = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        assert_eq!(write_diff_tar(t.path(), &mut out).unwrap(), 1024);
        assert_eq!(out, vec![0u8; 1024]);
        assert!(changes(t.path(), &[]).unwrap().is_empty());
    }
}
