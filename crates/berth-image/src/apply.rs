//! Safe layer apply: unpacks a (possibly compressed) layer tar into a
//! directory that becomes an overlayfs lower or upper dir.
//!
//! Every path of the archive is resolved *inside* the destination: parents
//! are opened with `openat2(RESOLVE_IN_ROOT)`, so `..`, absolute paths and
//! symlinks (absolute or relative) cannot lead out of it, and the last
//! component is always created with `*at` calls relative to that parent with
//! no-follow semantics. Docker's whiteouts become overlay whiteouts.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_store::Digest;
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use sha2::{Digest as _, Sha256};

use crate::compress::decompress;
use crate::error::{Error, Result};
use crate::tarstream::{EntryKind, TarError, TarHeader, TarReader};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Memory for deferred directory mtimes; beyond it they are applied early
/// (a hostile layer with millions of directories must not exhaust memory).
const MAX_DEFERRED_DIR_BYTES: usize = 32 << 20;

/// What applying a layer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerStats {
    /// sha256 of the uncompressed tar stream (the layer's diff id).
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar stream.
    pub tar_size: u64,
    /// Bytes of file content unpacked (regular files and symlink targets).
    pub size: u64,
    /// Archive members applied (skipped members are not counted).
    pub entries: u64,
}

/// Applies a layer tar (gzip, zstd or plain, detected by magic bytes) to
/// `dest`, streaming. Nothing is ever written outside `dest`; hostile
/// members are rejected with [`Error::InvalidLayer`].
pub fn apply_layer(reader: impl Read, dest: &Path) -> Result<LayerStats> {
    let mut hashed = HashingReader::new(decompress(reader).map_err(read_err)?);
    let stats = unpack(&mut hashed, dest)?;
    Ok(LayerStats {
        diff_id: hashed.digest(),
        tar_size: hashed.count,
        size: stats.size,
        entries: stats.entries,
    })
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UnpackStats {
    pub size: u64,
    pub entries: u64,
}

/// How an archive is unpacked: a layer (docker whiteouts become overlay
/// whiteouts, owners from the archive) or a `docker cp` upload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnpackOptions {
    /// `.wh.` members are whiteouts rather than plain files.
    pub whiteouts: bool,
    /// Every member owned by this uid/gid instead of the archive's.
    pub owner: Option<(u32, u32)>,
    /// Refuse to replace a directory with a non-directory or the reverse
    /// (docker's `noOverwriteDirNonDir`).
    pub no_overwrite_dir_non_dir: bool,
}

impl UnpackOptions {
    const LAYER: UnpackOptions = UnpackOptions {
        whiteouts: true,
        owner: None,
        no_overwrite_dir_non_dir: false,
    };
}

/// Unpacks an *uncompressed* tar stream into `dest` and reads the stream to
/// its end (so a hashing wrapper sees every byte).
pub(crate) fn unpack(reader: &mut dyn Read, dest: &Path) -> Result<UnpackStats> {
    let root: OwnedFd = File::open(dest)
        .map_err(|e| Error::Io {
            context: format!("open layer dir {}", dest.display()),
            source: e,
        })?
        .into();
    unpack_into(reader, root, UnpackOptions::LAYER)
}

/// [`unpack`] into an open directory, with `opts`.
pub(crate) fn unpack_into(
    reader: &mut dyn Read,
    root: OwnedFd,
    opts: UnpackOptions,
) -> Result<UnpackStats> {
    let mut u = Unpacker {
        root,
        chown: nix::unistd::geteuid().is_root(),
        opts,
        dirs: Vec::new(),
        dirs_bytes: 0,
        stats: UnpackStats::default(),
        buf: vec![0u8; 128 * 1024],
    };
    let mut tar = TarReader::new(&mut *reader);
    while let Some(hdr) = tar.next_entry().map_err(tar_err)? {
        u.entry(&hdr, &mut tar.data())?;
    }
    u.finish_dirs();
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(read_err)?;
    Ok(u.stats)
}

/// `openat2`, again when the kernel asks for a retry because a rename raced
/// the lookup (a bounded number of times).
pub(crate) fn openat2_retry(
    dir: BorrowedFd<'_>,
    path: &Path,
    how: OpenHow,
) -> nix::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        match openat2(dir, path, how) {
            Err(Errno::EAGAIN) if tries < 64 => tries += 1,
            r => return r,
        }
    }
}

/// Hashes and counts everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    pub count: u64,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    pub fn digest(&self) -> Digest {
        Digest::from_hasher(self.hasher.clone())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Errors reading the archive stream: corrupt data is the layer's fault.
pub(crate) fn read_err(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            Error::InvalidLayer(e.to_string())
        }
        _ => Error::Io {
            context: "read layer".into(),
            source: e,
        },
    }
}

pub(crate) fn tar_err(e: TarError) -> Error {
    match e {
        TarError::Malformed(m) => Error::InvalidLayer(m),
        TarError::Read(e) => read_err(e),
    }
}

fn show(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Splits an archive path into clean components. Absolute paths are taken
/// as relative to the root (`/a/b` = `a/b`, `..` stops at `/`, as docker
/// does); a relative path whose `..` climbs above the root is rejected.
pub(crate) fn clean_components(raw: &[u8]) -> std::result::Result<Vec<&OsStr>, String> {
    if raw.contains(&0) {
        return Err(format!("{:?} contains a NUL byte", show(raw)));
    }
    let absolute = raw.starts_with(b"/");
    let mut out: Vec<&OsStr> = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !absolute {
                    return Err(format!("{:?} is outside of the root", show(raw)));
                }
            }
            c => out.push(OsStr::from_bytes(c)),
        }
    }
    Ok(out)
}

fn join(comps: &[&OsStr]) -> PathBuf {
    comps.iter().collect()
}

/// Filesystem errors that a malformed layer can cause are the layer's fault.
fn fs_err(what: String) -> impl FnOnce(Errno) -> Error {
    move |e| match e {
        Errno::ENAMETOOLONG | Errno::ELOOP | Errno::ENOTDIR | Errno::EEXIST => {
            Error::InvalidLayer(format!("{what}: {}", e.desc()))
        }
        _ => Error::Io {
            context: what,
            source: io::Error::from(e),
        },
    }
}

fn timespec(secs: i64, nsec: u32) -> TimeSpec {
    TimeSpec::new(secs, i64::from(nsec))
}

struct Unpacker {
    root: OwnedFd,
    chown: bool,
    opts: UnpackOptions,
    /// Directory mtimes, set at the end (later members would change them).
    dirs: Vec<(PathBuf, i64, u32)>,
    dirs_bytes: usize,
    stats: UnpackStats,
    buf: Vec<u8>,
}

impl Unpacker {
    /// Opens a directory of the layer, resolving symlinks inside the root.
    fn open_in_root(&self, rel: &Path) -> nix::Result<OwnedFd> {
        let path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(
                ResolveFlag::RESOLVE_IN_ROOT
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS
                    | ResolveFlag::RESOLVE_NO_XDEV,
            );
        openat2_retry(self.root.as_fd(), path, how)
    }

    /// The directory `comps` (inside the root), created (0755, like docker)
    /// where missing if `create`.
    fn dir(&self, comps: &[&OsStr], create: bool) -> Result<OwnedFd> {
        let rel = join(comps);
        match self.open_in_root(&rel) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) if create => {}
            Err(e) => return Err(fs_err(format!("open {}", rel.display()))(e)),
        }
        let mut cur = self
            .open_in_root(Path::new(""))
            .map_err(fs_err("open layer root".into()))?;
        let mut prefix = PathBuf::new();
        for c in comps {
            prefix.push(c);
            match self.open_in_root(&prefix) {
                Ok(fd) => cur = fd,
                Err(Errno::ENOENT) => {
                    match mkdirat(cur.as_fd(), *c, Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(fs_err(format!("mkdir {}", prefix.display()))(e)),
                    }
                    cur = self.open_in_root(&prefix).map_err(|e| match e {
                        Errno::ENOENT => Error::InvalidLayer(format!(
                            "{} is a dangling symlink",
                            prefix.display()
                        )),
                        e => fs_err(format!("open {}", prefix.display()))(e),
                    })?;
                }
                Err(e) => return Err(fs_err(format!("open {}", prefix.display()))(e)),
            }
        }
        Ok(cur)
    }

    fn entry(&mut self, hdr: &TarHeader, data: &mut dyn Read) -> Result<()> {
        let comps = clean_components(&hdr.path).map_err(Error::InvalidLayer)?;
        let Some((name, parent)) = comps.split_last() else {
            return Ok(()); // the root itself
        };
        let shown = || show(&hdr.path);
        let name_b = name.as_bytes();

        if self.opts.whiteouts && name_b.starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(hdr, parent, name_b);
        }
        match hdr.kind {
            EntryKind::Char | EntryKind::Block => {
                tracing::warn!(path = %shown(), "skipping device node in layer");
                return Ok(());
            }
            EntryKind::Other(t) => {
                tracing::warn!(path = %shown(), typeflag = t, "skipping unsupported tar entry type");
                return Ok(());
            }
            _ => {}
        }
        if hdr.uid > u64::from(u32::MAX) || hdr.gid > u64::from(u32::MAX) {
            return Err(Error::layer(format!("{}: uid/gid out of range", shown())));
        }

        let dir = self.dir(parent, true)?;
        let existing = match fstatat(dir.as_fd(), *name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st.st_mode & libc::S_IFMT == libc::S_IFDIR),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(fs_err(format!("stat {}", shown()))(e)),
        };
        // Docker semantics: a directory over a directory merges; anything
        // else replaces what is there (never writes through it).
        let keep_dir = existing == Some(true) && hdr.kind == EntryKind::Dir;
        if let (Some(is_dir), true) = (existing, self.opts.no_overwrite_dir_non_dir) {
            let to_dir = hdr.kind == EntryKind::Dir;
            if is_dir && !to_dir {
                return Err(Error::invalid(format!(
                    "cannot overwrite directory {:?} with non-directory {:?}",
                    format!("/{}", join(&comps).display()),
                    shown()
                )));
            }
            if !is_dir && to_dir {
                return Err(Error::invalid(format!(
                    "cannot overwrite non-directory {:?} with directory {:?}",
                    format!("/{}", join(&comps).display()),
                    shown()
                )));
            }
        }
        if let Some(is_dir) = existing {
            if !keep_dir {
                remove_at(dir.as_fd(), name, is_dir)
                    .map_err(fs_err(format!("replace {}", shown())))?;
            }
        }

        let mtime = timespec(hdr.mtime, hdr.mtime_nsec);
        match hdr.kind {
            EntryKind::File => {
                let fd = openat(
                    dir.as_fd(),
                    *name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(fs_err(format!("create {}", shown())))?;
                let mut file = File::from(fd);
                let n = self.copy_data(data, &mut file, &shown())?;
                self.stats.size += n;
                self.attrs(file.as_fd(), hdr, &shown())?;
                futimens(file.as_fd(), &mtime, &mtime)
                    .map_err(fs_err(format!("set times of {}", shown())))?;
            }
            EntryKind::Dir => {
                if !keep_dir {
                    mkdirat(dir.as_fd(), *name, Mode::from_bits_truncate(0o700))
                        .map_err(fs_err(format!("mkdir {}", shown())))?;
                }
                let fd = openat(
                    dir.as_fd(),
                    *name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(fs_err(format!("open {}", shown())))?;
                self.attrs(fd.as_fd(), hdr, &shown())?;
                let path = join(&comps);
                self.dirs_bytes += path.as_os_str().len() + 64;
                self.dirs.push((path, hdr.mtime, hdr.mtime_nsec));
                if self.dirs_bytes > MAX_DEFERRED_DIR_BYTES {
                    self.finish_dirs();
                }
            }
            EntryKind::Symlink => {
                if hdr.link.contains(&0) || hdr.link.len() >= libc::PATH_MAX as usize {
                    return Err(Error::layer(format!("{}: invalid symlink target", shown())));
                }
                symlinkat(OsStr::from_bytes(&hdr.link), dir.as_fd(), *name)
                    .map_err(fs_err(format!("symlink {}", shown())))?;
                self.chown_at(dir.as_fd(), name, hdr, &shown())?;
                utimensat(
                    dir.as_fd(),
                    *name,
                    &mtime,
                    &mtime,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(fs_err(format!("set times of {}", shown())))?;
                self.stats.size += hdr.link.len() as u64;
            }
            EntryKind::Hardlink => {
                let target = clean_components(&hdr.link)
                    .map_err(|e| Error::layer(format!("hardlink {} -> {e}", shown())))?;
                let Some((tname, tparent)) = target.split_last() else {
                    return Err(Error::layer(format!("hardlink {} has no target", shown())));
                };
                let missing = || {
                    Error::layer(format!(
                        "hardlink {} -> {}: target does not exist in the layer",
                        shown(),
                        show(&hdr.link)
                    ))
                };
                let tdir = match self.dir(tparent, false) {
                    Ok(fd) => fd,
                    Err(Error::Io { source, .. })
                        if source.raw_os_error() == Some(libc::ENOENT) =>
                    {
                        return Err(missing())
                    }
                    Err(e) => return Err(e),
                };
                // No AT_SYMLINK_FOLLOW: a symlink target is linked itself.
                linkat(tdir.as_fd(), *tname, dir.as_fd(), *name, AtFlags::empty()).map_err(
                    |e| match e {
                        Errno::ENOENT => missing(),
                        Errno::EPERM => Error::layer(format!(
                            "hardlink {} -> {}: target is a directory",
                            shown(),
                            show(&hdr.link)
                        )),
                        e => fs_err(format!("hardlink {}", shown()))(e),
                    },
                )?;
            }
            EntryKind::Fifo => {
                mknodat(
                    dir.as_fd(),
                    *name,
                    SFlag::S_IFIFO,
                    Mode::from_bits_truncate(0o600),
                    0,
                )
                .map_err(fs_err(format!("mkfifo {}", shown())))?;
                self.chown_at(dir.as_fd(), name, hdr, &shown())?;
                // A fifo is not a symlink (we just made it), so following is moot.
                fchmodat(
                    dir.as_fd(),
                    *name,
                    Mode::from_bits_truncate(hdr.mode),
                    FchmodatFlags::FollowSymlink,
                )
                .map_err(fs_err(format!("chmod {}", shown())))?;
                utimensat(
                    dir.as_fd(),
                    *name,
                    &mtime,
                    &mtime,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(fs_err(format!("set times of {}", shown())))?;
            }
            EntryKind::Char | EntryKind::Block | EntryKind::Other(_) => {}
        }
        self.stats.entries += 1;
        Ok(())
    }

    fn whiteout(&mut self, hdr: &TarHeader, parent: &[&OsStr], name: &[u8]) -> Result<()> {
        if name == WHITEOUT_OPAQUE {
            let dir = self.dir(parent, true)?;
            set_xattr(dir.as_fd(), OPAQUE_XATTR.as_bytes(), b"y").map_err(|e| Error::Io {
                context: format!("mark {} opaque", join(parent).display()),
                source: io::Error::from(e),
            })?;
            self.stats.entries += 1;
            return Ok(());
        }
        if name.starts_with(WHITEOUT_META_PREFIX) {
            // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
            return Ok(());
        }
        let target = &name[WHITEOUT_PREFIX.len()..];
        if target.is_empty() || target == b"." || target == b".." {
            return Err(Error::layer(format!(
                "invalid whiteout {}",
                show(&hdr.path)
            )));
        }
        let target = OsStr::from_bytes(target);
        let dir = self.dir(parent, true)?;
        match fstatat(dir.as_fd(), target, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => remove_at(
                dir.as_fd(),
                target,
                st.st_mode & libc::S_IFMT == libc::S_IFDIR,
            )
            .map_err(fs_err(format!("replace {}", show(&hdr.path))))?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(fs_err(format!("stat {}", show(&hdr.path)))(e)),
        }
        mknodat(dir.as_fd(), target, SFlag::S_IFCHR, Mode::empty(), 0)
            .map_err(fs_err(format!("create whiteout {}", show(&hdr.path))))?;
        if hdr.uid <= u64::from(u32::MAX) && hdr.gid <= u64::from(u32::MAX) {
            self.chown_at(dir.as_fd(), target, hdr, &show(&hdr.path))?;
        }
        self.stats.entries += 1;
        Ok(())
    }

    fn copy_data(&mut self, src: &mut dyn Read, dst: &mut File, path: &str) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let n = match src.read(&mut self.buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            dst.write_all(&self.buf[..n]).map_err(|e| Error::Io {
                context: format!("write {path}"),
                source: e,
            })?;
            total += n as u64;
        }
    }

    /// Owner, then mode (chown clears setuid), then xattrs.
    /// The owner a member gets: the archive's, or the forced one.
    fn owner(&self, hdr: &TarHeader) -> (Uid, Gid) {
        let (u, g) = self.opts.owner.unwrap_or((hdr.uid as u32, hdr.gid as u32));
        (Uid::from_raw(u), Gid::from_raw(g))
    }

    fn attrs(&self, fd: BorrowedFd<'_>, hdr: &TarHeader, path: &str) -> Result<()> {
        if self.chown {
            let (u, g) = self.owner(hdr);
            fchown(fd, Some(u), Some(g)).map_err(fs_err(format!("chown {path}")))?;
        }
        fchmod(fd, Mode::from_bits_truncate(hdr.mode)).map_err(fs_err(format!("chmod {path}")))?;
        for (name, value) in &hdr.xattrs {
            if name.starts_with(b"trusted.overlay.") {
                tracing::warn!(path, xattr = %show(name), "ignoring overlay xattr from layer");
                continue;
            }
            if let Err(e) = set_xattr(fd, name, value) {
                tracing::warn!(path, xattr = %show(name), "cannot set xattr: {}", e.desc());
            }
        }
        Ok(())
    }

    fn chown_at(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        hdr: &TarHeader,
        path: &str,
    ) -> Result<()> {
        if !self.chown {
            return Ok(());
        }
        let (u, g) = self.owner(hdr);
        fchownat(dir, name, Some(u), Some(g), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(fs_err(format!("chown {path}")))
    }

    fn finish_dirs(&mut self) {
        self.dirs_bytes = 0;
        for (path, secs, nsec) in std::mem::take(&mut self.dirs) {
            let t = timespec(secs, nsec);
            // A later member may have replaced the directory: then skip it.
            if let Ok(fd) = self.open_in_root(&path) {
                let _ = futimens(fd.as_fd(), &t, &t);
            }
        }
    }
}

fn set_xattr(fd: BorrowedFd<'_>, name: &[u8], value: &[u8]) -> nix::Result<()> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: valid fd, NUL-terminated name, and a value pointer/length pair
    // taken from a live slice.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// Removes `name` in `dir` without following symlinks; directories are
/// removed recursively through file descriptors.
pub(crate) fn remove_at(dir: BorrowedFd<'_>, name: &OsStr, is_dir: bool) -> nix::Result<()> {
    if !is_dir {
        return match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Err(Errno::EISDIR) => remove_tree(dir, name),
            r => r,
        };
    }
    remove_tree(dir, name)
}

fn remove_tree(parent: BorrowedFd<'_>, name: &OsStr) -> nix::Result<()> {
    let fd = openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut dir = nix::dir::Dir::from_fd(fd)?;
    let mut children = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            let is_dir = entry.file_type() == Some(nix::dir::Type::Directory);
            children.push((OsStr::from_bytes(n).to_os_string(), is_dir));
        }
    }
    for (child, is_dir) in children {
        remove_at(dir.as_fd(), &child, is_dir)?;
    }
    unlinkat(parent, name, UnlinkatFlags::RemoveDir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{gzip, zstd, TarBuilder, MTIME};
    use std::fs;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use tar::EntryType;

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
        let p = CString::new(path.as_os_str().as_bytes()).unwrap();
        let n = CString::new(name).unwrap();
        let mut buf = vec![0u8; 256];
        // SAFETY: valid C strings and buffer.
        let rc =
            unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if rc < 0 {
            return None;
        }
        buf.truncate(rc as usize);
        Some(buf)
    }

    /// `base/a/b/root` is the layer dir; `base/outside` must stay empty and
    /// nothing else may appear anywhere under `base`.
    struct Sandbox {
        _t: tempfile::TempDir,
        base: PathBuf,
        root: PathBuf,
        outside: PathBuf,
    }

    impl Sandbox {
        fn new() -> Sandbox {
            let t = tempfile::tempdir().unwrap();
            let base = t.path().to_path_buf();
            let root = base.join("a/b/root");
            let outside = base.join("outside");
            fs::create_dir_all(&root).unwrap();
            fs::create_dir_all(&outside).unwrap();
            Sandbox {
                _t: t,
                base,
                root,
                outside,
            }
        }

        fn names(dir: &Path) -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }

        fn assert_contained(&self) {
            assert_eq!(Self::names(&self.base), ["a", "outside"]);
            assert_eq!(Self::names(&self.base.join("a")), ["b"]);
            assert_eq!(Self::names(&self.base.join("a/b")), ["root"]);
            assert!(Self::names(&self.outside).is_empty(), "something escaped");
            assert!(get_xattr(&self.outside, OPAQUE_XATTR).is_none());
        }

        fn apply(&self, tar: &[u8]) -> Result<LayerStats> {
            apply_layer(tar, &self.root)
        }
    }

    fn unique(tag: &str) -> String {
        format!(
            "berth-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], "")
    }

    fn expect_invalid(r: Result<LayerStats>) -> String {
        match r {
            Err(Error::InvalidLayer(m)) => m,
            other => panic!("expected InvalidLayer, got {other:?}"),
        }
    }

    fn normal_layer() -> Vec<u8> {
        let mut t = TarBuilder::new();
        t.dir("etc/", 0o755)
            .file_owned("etc/passwd", 0o644, 0, 0, b"root:x:0:0::/root:/bin/sh\n")
            .dir("bin/", 0o755)
            .file_owned("bin/tool", 0o4755, 1234, 5678, b"#!/bin/sh\n")
            .hardlink("bin/tool2", "bin/tool")
            .symlink("bin/sh", "/bin/busybox")
            .symlink("lib", "usr/lib")
            .fifo("run.fifo", 0o640)
            .dir("tmp", 0o1777)
            .pax(&[("SCHILY.xattr.user.berth", b"yes")])
            .file("etc/xattr", 0o600, b"x");
        t.finish()
    }

    #[test]
    fn applies_normal_layer() {
        let s = Sandbox::new();
        let tar = normal_layer();
        let stats = s.apply(&tar).unwrap();
        assert_eq!(stats.diff_id, Digest::of_bytes(&tar));
        assert_eq!(stats.tar_size, tar.len() as u64);
        assert_eq!(stats.entries, 10);
        let r = &s.root;
        assert_eq!(
            fs::read(r.join("etc/passwd")).unwrap(),
            b"root:x:0:0::/root:/bin/sh\n"
        );
        let tool = fs::metadata(r.join("bin/tool")).unwrap();
        assert_eq!(tool.permissions().mode() & 0o7777, 0o4755);
        assert_eq!(tool.mtime(), MTIME as i64);
        if is_root() {
            assert_eq!((tool.uid(), tool.gid()), (1234, 5678));
        }
        let tool2 = fs::metadata(r.join("bin/tool2")).unwrap();
        assert_eq!(tool2.ino(), tool.ino());
        assert_eq!(
            fs::read_link(r.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert_eq!(
            fs::symlink_metadata(r.join("bin/sh")).unwrap().mtime(),
            MTIME as i64
        );
        let fifo = fs::symlink_metadata(r.join("run.fifo")).unwrap();
        assert!(fifo.file_type().is_fifo());
        assert_eq!(fifo.permissions().mode() & 0o7777, 0o640);
        let tmp = fs::metadata(r.join("tmp")).unwrap();
        assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
        // directory mtimes survive the members written into them
        assert_eq!(fs::metadata(r.join("etc")).unwrap().mtime(), MTIME as i64);
        assert_eq!(fs::metadata(r.join("bin")).unwrap().mtime(), MTIME as i64);
        assert_eq!(
            get_xattr(&r.join("etc/xattr"), "user.berth").as_deref(),
            Some(&b"yes"[..])
        );
    }

    #[test]
    fn compressed_layers_give_the_same_result() {
        let tar = normal_layer();
        for data in [gzip(&tar), zstd(&tar)] {
            let s = Sandbox::new();
            let stats = s.apply(&data).unwrap();
            assert_eq!(stats.diff_id, Digest::of_bytes(&tar));
            assert_eq!(stats.tar_size, tar.len() as u64);
            assert!(s.root.join("bin/tool").is_file());
        }
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        if !is_root() {
            return; // mknod of whiteouts and trusted.* xattrs need root
        }
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.dir("etc/", 0o755)
            .file("etc/.wh.hosts", 0o644, b"")
            .dir("var/cache/", 0o755)
            .file("var/cache/.wh..wh..opq", 0o644, b"")
            .file("var/cache/new", 0o644, b"n")
            .file(".wh..wh.plnk", 0o644, b"")
            .file("gone", 0o644, b"x")
            .file(".wh.gone", 0o644, b"");
        s.apply(&t.finish()).unwrap();
        let wh = fs::symlink_metadata(s.root.join("etc/hosts")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(wh.rdev(), 0);
        assert!(!s.root.join("etc/.wh.hosts").exists());
        assert_eq!(
            get_xattr(&s.root.join("var/cache"), OPAQUE_XATTR).as_deref(),
            Some(&b"y"[..])
        );
        assert!(!s.root.join("var/cache/.wh..wh..opq").exists());
        assert!(s.root.join("var/cache/new").is_file());
        assert!(!s.root.join(".wh..wh.plnk").exists());
        // a whiteout replaces an earlier member of the same name
        assert!(fs::symlink_metadata(s.root.join("gone"))
            .unwrap()
            .file_type()
            .is_char_device());
        s.assert_contained();
    }

    #[test]
    fn later_members_replace_earlier_ones() {
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.file("x", 0o644, b"first")
            .file("x", 0o600, b"second")
            .dir("d/", 0o755)
            .file("d/keep", 0o644, b"k")
            .dir("d/", 0o700)
            .file("y", 0o644, b"file")
            .dir("y/", 0o755)
            .dir("z/", 0o755)
            .file("z/inner", 0o644, b"i")
            .symlink("z", "x");
        s.apply(&t.finish()).unwrap();
        assert_eq!(fs::read(s.root.join("x")).unwrap(), b"second");
        assert!(s.root.join("d/keep").is_file());
        assert_eq!(
            fs::metadata(s.root.join("d")).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(s.root.join("y").is_dir());
        assert!(fs::symlink_metadata(s.root.join("z"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn implicit_parents_are_created() {
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.file("deep/er/file", 0o644, b"x")
            .file("/abs/file", 0o644, b"y");
        s.apply(&t.finish()).unwrap();
        assert!(s.root.join("deep/er/file").is_file());
        assert!(s.root.join("abs/file").is_file());
        s.assert_contained();
    }

    #[test]
    fn hostile_dotdot_is_rejected() {
        for name in ["../../x", "../../../outside/x", "a/../../x", "./../x"] {
            let s = Sandbox::new();
            let mut t = TarBuilder::new();
            t.file(name, 0o644, b"pwned");
            let m = expect_invalid(s.apply(&t.finish()));
            assert!(m.contains("outside"), "{m}");
            s.assert_contained();
        }
    }

    #[test]
    fn hostile_pax_path_is_rejected() {
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.pax(&[("path", b"../../../outside/pax")])
            .file("innocent", 0o644, b"x");
        expect_invalid(s.apply(&t.finish()));
        s.assert_contained();
    }

    #[test]
    fn absolute_paths_stay_inside() {
        let s = Sandbox::new();
        let name = unique("abs");
        let mut t = TarBuilder::new();
        t.file(&format!("/etc/{name}"), 0o644, b"x").file(
            &format!("/../../etc/{name}2"),
            0o644,
            b"y",
        );
        s.apply(&t.finish()).unwrap();
        assert!(s.root.join("etc").join(&name).is_file());
        assert!(s.root.join("etc").join(format!("{name}2")).is_file());
        assert!(!Path::new("/etc").join(&name).exists());
        assert!(!Path::new("/etc").join(format!("{name}2")).exists());
        s.assert_contained();
    }

    #[test]
    fn symlink_to_root_is_not_followed_out() {
        let s = Sandbox::new();
        let name = unique("evil");
        let mut t = TarBuilder::new();
        t.symlink("evil", "/")
            .file(&format!("evil/etc/{name}"), 0o644, b"x");
        s.apply(&t.finish()).unwrap();
        assert!(!Path::new("/etc").join(&name).exists());
        assert!(s.root.join("etc").join(&name).is_file());
        assert_eq!(fs::read_link(s.root.join("evil")).unwrap(), Path::new("/"));
        s.assert_contained();
    }

    #[test]
    fn relative_symlink_escape_is_contained() {
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.symlink("up", "../../..")
            .file("up/x", 0o644, b"x")
            .symlink("up2", "../../../outside")
            .file("up2/y", 0o644, b"y")
            .dir("d/", 0o755)
            .symlink("d/rel", "../../../../../../../../")
            .file("d/rel/z", 0o644, b"z");
        let r = s.apply(&t.finish());
        // Either contained (resolved inside the root) or rejected.
        if r.is_ok() {
            assert!(s.root.join("x").is_file());
            assert!(s.root.join("z").is_file());
        }
        s.assert_contained();
    }

    #[test]
    fn absolute_symlink_to_outside_dir_is_not_written_through() {
        let s = Sandbox::new();
        let outside = s.outside.to_string_lossy().into_owned();
        let mut t = TarBuilder::new();
        t.symlink("evil", &outside).file("evil/pwned", 0o644, b"x");
        // resolves to <root>/<outside path>, which does not exist: rejected
        let r = s.apply(&t.finish());
        assert!(matches!(r, Err(Error::InvalidLayer(_))), "{r:?}");
        s.assert_contained();

        // member replacing a symlink replaces it instead of writing through
        let s = Sandbox::new();
        let target = s.outside.join("target").to_string_lossy().into_owned();
        let mut t = TarBuilder::new();
        t.symlink("f", &target)
            .file("f", 0o644, b"not through the link")
            .symlink("d", &s.outside.to_string_lossy())
            .dir("d/", 0o755)
            .file("d/x", 0o644, b"x");
        s.apply(&t.finish()).unwrap();
        assert!(fs::symlink_metadata(s.root.join("f")).unwrap().is_file());
        assert!(s.root.join("d/x").is_file());
        s.assert_contained();
    }

    #[test]
    fn hostile_hardlinks() {
        // to a host file: resolved inside the root, where it does not exist
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.hardlink("passwd", "/etc/passwd");
        expect_invalid(s.apply(&t.finish()));
        s.assert_contained();

        // climbing out
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.hardlink("x", "../../outside/x");
        let m = expect_invalid(s.apply(&t.finish()));
        assert!(m.contains("outside of the root"), "{m}");
        s.assert_contained();

        // through a symlinked parent that points at /
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.symlink("evil", "/").hardlink("h", "evil/etc/passwd");
        expect_invalid(s.apply(&t.finish()));
        s.assert_contained();

        // to a directory
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.dir("d/", 0o755).hardlink("h", "d");
        expect_invalid(s.apply(&t.finish()));

        // an absolute target that exists in the layer is the layer's file
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.file("etc/passwd", 0o644, b"layer")
            .hardlink("p", "/etc/passwd");
        s.apply(&t.finish()).unwrap();
        let a = fs::metadata(s.root.join("p")).unwrap();
        assert_eq!(
            a.ino(),
            fs::metadata(s.root.join("etc/passwd")).unwrap().ino()
        );
        assert_ne!(a.ino(), fs::metadata("/etc/passwd").unwrap().ino());
        s.assert_contained();
    }

    #[test]
    fn device_nodes_are_skipped() {
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.dir("dev/", 0o755)
            .device("dev/null", EntryType::Char, 1, 3)
            .device("dev/sda", EntryType::Block, 8, 0)
            .file("after", 0o644, b"ok");
        let stats = s.apply(&t.finish()).unwrap();
        assert!(!s.root.join("dev/null").exists());
        assert!(!s.root.join("dev/sda").exists());
        assert!(s.root.join("after").is_file());
        assert_eq!(stats.entries, 2);
        s.assert_contained();
    }

    #[test]
    fn whiteout_and_opaque_through_symlinks_stay_inside() {
        let s = Sandbox::new();
        let outside = s.outside.to_string_lossy().into_owned();
        let mut t = TarBuilder::new();
        t.symlink("evil", &outside)
            .file("evil/.wh.victim", 0o644, b"");
        let _ = s.apply(&t.finish());
        s.assert_contained();

        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.symlink("evil", &outside)
            .file("evil/.wh..wh..opq", 0o644, b"");
        let _ = s.apply(&t.finish());
        s.assert_contained();

        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        t.file("../../outside/.wh.x", 0o644, b"");
        expect_invalid(s.apply(&t.finish()));
        s.assert_contained();
    }

    #[test]
    fn huge_and_malformed_headers_are_rejected() {
        let s = Sandbox::new();
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(EntryType::GNULongName);
        h.set_size(u64::MAX >> 2);
        h.set_cksum();
        let mut data = h.as_bytes().to_vec();
        data.extend_from_slice(&[b'a'; 2048]);
        let m = expect_invalid(s.apply(&data));
        assert!(m.contains("limit"), "{m}");

        let long = "d/".repeat(3000) + "f";
        let mut t = TarBuilder::new();
        t.file(&long, 0o644, b"x");
        expect_invalid(s.apply(&t.finish()));

        let mut t = TarBuilder::new();
        t.file(&"n".repeat(300), 0o644, b"x");
        expect_invalid(s.apply(&t.finish()));

        let mut t = TarBuilder::new();
        t.file("ok", 0o644, b"0123456789");
        let data = t.finish();
        expect_invalid(s.apply(&data[..600]));
        expect_invalid(s.apply(&gzip(&data)[..20]));
        expect_invalid(s.apply(&b"not a tar at all, just text that is long enough"[..]));
        s.assert_contained();
    }

    #[test]
    fn many_directories_keep_memory_bounded() {
        let s = Sandbox::new();
        let mut t = TarBuilder::new();
        let n = 2000;
        let name = "d".repeat(200);
        for i in 0..n {
            t.dir(&format!("{name}{i}/{name}/"), 0o755);
        }
        let mut u_bytes = 0;
        let stats = s.apply(&t.finish()).unwrap();
        assert_eq!(stats.entries, n);
        for i in [0, n - 1] {
            let m = fs::metadata(s.root.join(format!("{name}{i}/{name}"))).unwrap();
            assert_eq!(m.mtime(), MTIME as i64);
            u_bytes += 1;
        }
        assert_eq!(u_bytes, 2);
    }

    #[test]
    fn clean_components_rules() {
        let c = |s: &str| {
            clean_components(s.as_bytes()).map(|v| {
                v.iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(c("a/b/../c").unwrap(), ["a", "c"]);
        assert_eq!(c("/etc/x").unwrap(), ["etc", "x"]);
        assert_eq!(c("/../../etc").unwrap(), ["etc"]);
        assert_eq!(c("./").unwrap(), Vec::<String>::new());
        assert!(c("../x").is_err());
        assert!(c("a/../../x").is_err());
        assert!(clean_components(b"a\0b").is_err());
    }
}
