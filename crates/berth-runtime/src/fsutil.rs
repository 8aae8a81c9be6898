//! Reading files of an untrusted root (an image's rootfs) without ever
//! leaving it: symlinks, absolute or relative, and `..` are resolved as if
//! the root were `/`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, Mode, SFlag};

/// Symlinks followed in one resolution before giving up (the kernel's limit).
const MAX_SYMLINKS: usize = 40;

/// Reads the regular file `path` of `root` (resolved inside `root`), at most
/// `limit` bytes. `Ok(None)` if it does not exist.
pub(crate) fn read_file_in_root(
    root: &Path,
    path: &str,
    limit: u64,
) -> io::Result<Option<Vec<u8>>> {
    let Some(file) = open_in_root(root, path)? else {
        return Ok(None);
    };
    let st = stat::fstat(&file)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path} is not a regular file"),
        ));
    }
    let mut buf = Vec::new();
    let mut file = File::from(file);
    (&mut file).take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path} is larger than {limit} bytes"),
        ));
    }
    Ok(Some(buf))
}

/// Opens `path` read-only inside `root`. `Ok(None)` if it does not exist.
pub(crate) fn open_in_root(root: &Path, path: &str) -> io::Result<Option<OwnedFd>> {
    let rootfd = fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    let how = fcntl::OpenHow::new()
        .flags(flags)
        .resolve(fcntl::ResolveFlag::RESOLVE_IN_ROOT | fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // EAGAIN: a concurrent rename raced the `..` check; the kernel asks to retry.
    for _ in 0..16 {
        match fcntl::openat2(&rootfd, path, how) {
            Ok(fd) => return Ok(Some(fd)),
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::EAGAIN) => continue,
            // No openat2 (kernel < 5.6, or filtered by seccomp): resolve by hand.
            Err(Errno::ENOSYS) | Err(Errno::EPERM) => {
                return walk_in_root(rootfd.as_fd(), path, flags)
            }
            Err(e) => return Err(e.into()),
        }
    }
    walk_in_root(rootfd.as_fd(), path, flags)
}

/// The userspace equivalent of `openat2(RESOLVE_IN_ROOT)`: one component at
/// a time, directories held open by fd, symlinks read and re-rooted.
pub(crate) fn walk_in_root(
    root: BorrowedFd<'_>,
    path: &str,
    flags: OFlag,
) -> io::Result<Option<OwnedFd>> {
    let mut dirs: Vec<OwnedFd> = Vec::new();
    let mut rest: VecDeque<String> = components(path).collect();
    let mut links = 0;
    while let Some(name) = rest.pop_front() {
        match name.as_str() {
            "." => continue,
            ".." => {
                dirs.pop();
                continue;
            }
            _ => {}
        }
        let cur = dirs.last().map(|d| d.as_fd()).unwrap_or(root);
        let fd = match fcntl::openat(
            cur,
            name.as_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let kind = SFlag::from_bits_truncate(stat::fstat(&fd)?.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFLNK {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP.into());
            }
            let target = fcntl::readlinkat(cur, name.as_str())?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                dirs.clear();
            }
            for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
                rest.push_front(c);
            }
            continue;
        }
        if rest.is_empty() {
            // Re-open for reading; O_NOFOLLOW refuses a symlink swapped in meanwhile.
            return match fcntl::openat(cur, name.as_str(), flags | OFlag::O_NOFOLLOW, Mode::empty())
            {
                Ok(fd) => Ok(Some(fd)),
                Err(Errno::ENOENT) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        if kind != SFlag::S_IFDIR {
            return Err(Errno::ENOTDIR.into());
        }
        dirs.push(fd);
    }
    // The path named the root itself.
    let cur = dirs.last().map(|d| d.as_fd()).unwrap_or(root);
    Ok(Some(fcntl::openat(cur, ".", flags, Mode::empty())?))
}

fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/').filter(|c| !c.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, tempfile::TempDir) {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "host secret\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/real"), "inside\n").unwrap();
        (root, outside)
    }

    type Both = (io::Result<Option<Vec<u8>>>, io::Result<Option<Vec<u8>>>);

    fn read_both(root: &Path, path: &str) -> Both {
        let via_openat2 = read_file_in_root(root, path, 1 << 20);
        let rootfd =
            fcntl::open(root, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        let via_walk =
            walk_in_root(rootfd.as_fd(), path, OFlag::O_RDONLY | OFlag::O_NONBLOCK).map(|o| {
                o.map(|fd| {
                    let mut v = Vec::new();
                    File::from(fd).read_to_end(&mut v).unwrap();
                    v
                })
            });
        (via_openat2, via_walk)
    }

    #[test]
    fn absolute_symlink_stays_inside() {
        let (root, outside) = setup();
        let target = outside.path().join("secret");
        symlink(&target, root.path().join("etc/passwd")).unwrap();
        let (a, b) = read_both(root.path(), "/etc/passwd");
        // The target is re-rooted: <root>/<outside>/secret does not exist.
        assert!(a.unwrap().is_none());
        assert!(b.unwrap().is_none());
    }

    #[test]
    fn dotdot_symlink_is_clamped_at_root() {
        let (root, _outside) = setup();
        symlink(
            "../../../../../../../../etc/real",
            root.path().join("etc/passwd"),
        )
        .unwrap();
        let (a, b) = read_both(root.path(), "/etc/passwd");
        assert_eq!(a.unwrap().unwrap(), b"inside\n");
        assert_eq!(b.unwrap().unwrap(), b"inside\n");
    }

    #[test]
    fn absolute_symlink_to_inside_file_works() {
        let (root, _outside) = setup();
        symlink("/etc/real", root.path().join("etc/group")).unwrap();
        let (a, b) = read_both(root.path(), "etc/group");
        assert_eq!(a.unwrap().unwrap(), b"inside\n");
        assert_eq!(b.unwrap().unwrap(), b"inside\n");
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let (root, _outside) = setup();
        symlink("/etc/b", root.path().join("etc/a")).unwrap();
        symlink("/etc/a", root.path().join("etc/b")).unwrap();
        let (a, b) = read_both(root.path(), "/etc/a");
        assert!(a.is_err());
        assert!(b.is_err());
    }

    #[test]
    fn missing_and_non_regular() {
        let (root, _outside) = setup();
        let (a, b) = read_both(root.path(), "/etc/nope");
        assert!(a.unwrap().is_none());
        assert!(b.unwrap().is_none());
        // A directory is not a passwd file.
        assert!(read_file_in_root(root.path(), "/etc", 1 << 20).is_err());
        // A fifo must not block the reader.
        nix::unistd::mkfifo(
            &root.path().join("etc/fifo"),
            Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        assert!(read_file_in_root(root.path(), "/etc/fifo", 1 << 20).is_err());
    }

    #[test]
    fn size_limit() {
        let (root, _outside) = setup();
        assert!(read_file_in_root(root.path(), "/etc/real", 3).is_err());
        assert!(read_file_in_root(root.path(), "/etc/real", 7)
            .unwrap()
            .is_some());
    }
}
