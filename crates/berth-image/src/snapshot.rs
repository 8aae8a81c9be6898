//! Overlay snapshotter, containerd style: it lays out directories and
//! returns mount *descriptions*; the caller decides when to mount.
//!
//! ```text
//! <root>/layers/<chain id hex>/diff   one per chain id, shared by images
//! <root>/l/<short name>               -> ../layers/<hex>/diff (short paths)
//! <root>/rw/<key>/{diff,work,merged}  a container's writable layer
//! <root>/empty                        lower dir for images without layers
//! ```

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_store::Digest;
use nix::errno::Errno;
use nix::mount::{umount2, MntFlags, MsFlags};

use crate::error::{io_err, Error, Result};

/// Above this, `options()` switches to short relative paths (the kernel
/// takes at most one page of mount data).
pub const MAX_OPTIONS_LEN: usize = 3500;
const LINK_DIR: &str = "l";
const EMPTY_DIR: &str = "empty";
/// A container layer's own lower dir with docker's init layer: the mount
/// points the runtime would otherwise create in the writable layer, so
/// they show up in neither `docker diff` nor `docker commit`.
const INIT_DIR: &str = "init";

/// The chain ids of a stack of diff ids (bottom layer first):
/// `chain(0) = diff(0)`, `chain(n) = sha256(chain(n-1) + " " + diff(n))`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::of_bytes(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Short names for layer dirs, so that long lower dir lists fit in a page.
fn link_name(chain: &Digest) -> String {
    let d = Digest::of_bytes(format!("berth-layer-link:{chain}").as_bytes());
    d.hex()[..26].to_string()
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key != "."
        && key != ".."
        && key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// An overlay mount to perform: lower dirs (top layer first), upper, work
/// and mount target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayMount {
    pub lowerdirs: Vec<PathBuf>,
    pub upperdir: PathBuf,
    pub workdir: PathBuf,
    pub target: PathBuf,
    short: Option<ShortPaths>,
}

/// The same dirs relative to the snapshotter root, for long layer stacks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShortPaths {
    base: PathBuf,
    lowerdirs: Vec<String>,
    upperdir: String,
    workdir: String,
}

impl OverlayMount {
    fn long_options(&self) -> String {
        let lowers: Vec<String> = self
            .lowerdirs
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            self.upperdir.display(),
            self.workdir.display()
        )
    }

    fn uses_short(&self) -> bool {
        self.short.is_some() && self.long_options().len() > MAX_OPTIONS_LEN
    }

    /// The overlay mount data. Paths are absolute unless that would exceed
    /// [`MAX_OPTIONS_LEN`]: then they are relative to the snapshotter root
    /// (`l/<short>` links, like docker's overlay2) and [`mount`](Self::mount)
    /// mounts from that directory.
    pub fn options(&self) -> String {
        match &self.short {
            Some(s) if self.uses_short() => format!(
                "lowerdir={},upperdir={},workdir={}",
                s.lowerdirs.join(":"),
                s.upperdir,
                s.workdir
            ),
            _ => self.long_options(),
        }
    }

    /// Whether `target` is a mount point now.
    pub fn is_mounted(&self) -> bool {
        is_mount_point(&self.target)
    }

    /// Mounts the overlay on `target` (a no-op if something is mounted there).
    pub fn mount(&self) -> Result<()> {
        if self.is_mounted() {
            return Ok(());
        }
        for dir in self
            .lowerdirs
            .iter()
            .chain([&self.upperdir, &self.workdir, &self.target])
        {
            if !dir.is_dir() {
                return Err(Error::Io {
                    context: format!("mount {}", self.target.display()),
                    source: io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{} does not exist", dir.display()),
                    ),
                });
            }
        }
        let data = self.options();
        if data.len() >= 4096 {
            return Err(Error::invalid(format!(
                "too many layers to mount ({})",
                self.lowerdirs.len()
            )));
        }
        let result = match &self.short {
            Some(s) if self.uses_short() => {
                self.ensure_links(s)?;
                mount_from(&s.base, &self.target, &data)
            }
            _ => nix::mount::mount(
                Some("overlay"),
                &self.target,
                Some("overlay"),
                MsFlags::empty(),
                Some(data.as_str()),
            )
            .map_err(io::Error::from),
        };
        result.map_err(|source| Error::Io {
            context: format!("mount overlay on {}", self.target.display()),
            source,
        })
    }

    /// Recreates missing `l/` links (they are a cache of the layer dirs).
    fn ensure_links(&self, s: &ShortPaths) -> Result<()> {
        for (short, full) in s.lowerdirs.iter().zip(&self.lowerdirs) {
            let link = s.base.join(short);
            if fs::symlink_metadata(&link).is_ok() {
                continue;
            }
            if let Ok(rel) = full.strip_prefix(&s.base) {
                let target = Path::new("..").join(rel);
                match std::os::unix::fs::symlink(&target, &link) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(format!("link {}", link.display()))(e)),
                }
            }
        }
        Ok(())
    }

    /// Detaches the mount; unmounting what is not mounted is fine.
    pub fn unmount(&self) -> Result<()> {
        unmount(&self.target)
    }
}

pub(crate) fn unmount(target: &Path) -> Result<()> {
    match umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        // Without privilege the kernel refuses before it looks whether
        // anything is mounted; nothing there is still nothing to undo.
        Err(Errno::EPERM) if !is_mount_point(target) => Ok(()),
        Err(e) => Err(Error::Io {
            context: format!("unmount {}", target.display()),
            source: io::Error::from(e),
        }),
    }
}

/// Mounts with `base` as the working directory so that relative paths in
/// `data` resolve against it. The chdir happens in a forked child, since
/// the working directory is shared by all threads of the daemon.
fn mount_from(base: &Path, target: &Path, data: &str) -> io::Result<()> {
    let cstr = |b: &[u8]| CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let base_c = cstr(base.as_os_str().as_bytes())?;
    let target_c = cstr(target.as_os_str().as_bytes())?;
    let data_c = cstr(data.as_bytes())?;
    let fstype = c"overlay";
    // SAFETY: the child only makes async-signal-safe calls (chdir, mount,
    // _exit) on memory prepared before the fork, then exits.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Child => unsafe {
            let code = if libc::chdir(base_c.as_ptr()) != 0
                || libc::mount(
                    fstype.as_ptr(),
                    target_c.as_ptr(),
                    fstype.as_ptr(),
                    0,
                    data_c.as_ptr().cast(),
                ) != 0
            {
                *libc::__errno_location()
            } else {
                0
            };
            libc::_exit(code.clamp(0, 255))
        },
        nix::unistd::ForkResult::Parent { child } => loop {
            match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => return Ok(()),
                Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => {
                    return Err(io::Error::from_raw_os_error(code))
                }
                Ok(other) => return Err(io::Error::other(format!("mount helper: {other:?}"))),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        },
    }
}

fn unescape_mountinfo(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.len() - i >= 4 {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = u32::from(oct[0] - b'0') * 64
                    + u32::from(oct[1] - b'0') * 8
                    + u32::from(oct[2] - b'0');
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn is_mount_point(target: &Path) -> bool {
    let Ok(target) = fs::canonicalize(target) else {
        return false;
    };
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = target.as_os_str().as_bytes();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mountinfo(mp) == want)
}

/// Lays out layer and rw directories under one root.
#[derive(Debug, Clone)]
pub struct Snapshotter {
    root: PathBuf,
}

impl Snapshotter {
    pub fn new(root: &Path) -> Result<Snapshotter> {
        let s = root.as_os_str().as_bytes();
        if s.contains(&b':') || s.contains(&b',') {
            return Err(Error::invalid(format!(
                "{}: overlay roots cannot contain ':' or ','",
                root.display()
            )));
        }
        for dir in ["layers", "rw", LINK_DIR, EMPTY_DIR, "tmp"] {
            let p = root.join(dir);
            fs::create_dir_all(&p).map_err(io_err(format!("create {}", p.display())))?;
        }
        Ok(Snapshotter {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Scratch space on the same filesystem as the layers.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `<root>/layers/<hex>`; the content is in its `diff/`.
    pub fn layer_path(&self, chain: &Digest) -> PathBuf {
        self.root.join("layers").join(chain.hex())
    }

    pub fn layer_diff(&self, chain: &Digest) -> PathBuf {
        self.layer_path(chain).join("diff")
    }

    pub fn has_layer(&self, chain: &Digest) -> bool {
        self.layer_diff(chain).is_dir()
    }

    /// Moves an unpacked layer (`staged/diff`) into place for `chain`.
    /// Returns false if the layer already existed (then `staged` is removed).
    pub fn commit_layer(&self, staged: &Path, chain: &Digest) -> Result<bool> {
        let dest = self.layer_path(chain);
        let created = match fs::rename(staged, &dest) {
            Ok(()) => true,
            Err(_) if self.has_layer(chain) => {
                let _ = fs::remove_dir_all(staged);
                false
            }
            Err(e) => return Err(io_err(format!("commit layer {chain}"))(e)),
        };
        self.ensure_link(chain)?;
        Ok(created)
    }

    fn ensure_link(&self, chain: &Digest) -> Result<()> {
        let link = self.root.join(LINK_DIR).join(link_name(chain));
        let target = Path::new("..")
            .join("layers")
            .join(chain.hex())
            .join("diff");
        match std::os::unix::fs::symlink(&target, &link) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io_err(format!("link {}", link.display()))(e)),
        }
    }

    /// Deletes a layer's directory and short link.
    pub fn remove_layer(&self, chain: &Digest) -> Result<()> {
        let _ = fs::remove_file(self.root.join(LINK_DIR).join(link_name(chain)));
        match fs::remove_dir_all(self.layer_path(chain)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("remove layer {chain}"))(e)),
        }
    }

    /// Chain ids (hex) of the layer dirs present on disk.
    pub fn layer_dirs_on_disk(&self) -> Result<Vec<String>> {
        let dir = self.root.join("layers");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err(format!("read {}", dir.display())))? {
            let e = e.map_err(io_err(format!("read {}", dir.display())))?;
            out.push(e.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }

    fn rw_dir(&self, key: &str) -> Result<PathBuf> {
        if !valid_key(key) {
            return Err(Error::invalid(format!("invalid rw layer key {key:?}")));
        }
        Ok(self.root.join("rw").join(key))
    }

    /// The mount of rw layer `key` over `chains` (bottom layer first), as
    /// created by [`prepare_rw`](Self::prepare_rw); creates nothing. The
    /// layer's init dir, when there is one, is the top lower dir.
    pub fn rw_mount(&self, key: &str, chains: &[Digest]) -> Result<OverlayMount> {
        let dir = self.rw_dir(key)?;
        let (mut lowerdirs, mut short_lowers): (Vec<PathBuf>, Vec<String>) = if chains.is_empty() {
            (vec![self.root.join(EMPTY_DIR)], vec![EMPTY_DIR.to_string()])
        } else {
            chains
                .iter()
                .rev()
                .map(|c| (self.layer_diff(c), format!("{LINK_DIR}/{}", link_name(c))))
                .unzip()
        };
        if dir.join(INIT_DIR).is_dir() {
            lowerdirs.insert(0, dir.join(INIT_DIR));
            short_lowers.insert(0, format!("rw/{key}/{INIT_DIR}"));
        }
        Ok(OverlayMount {
            lowerdirs,
            upperdir: dir.join("diff"),
            workdir: dir.join("work"),
            target: dir.join("merged"),
            short: Some(ShortPaths {
                base: self.root.clone(),
                lowerdirs: short_lowers,
                upperdir: format!("rw/{key}/diff"),
                workdir: format!("rw/{key}/work"),
            }),
        })
    }

    /// Creates the rw layer `key` (idempotent) and returns its mount.
    pub fn prepare_rw(&self, key: &str, chains: &[Digest]) -> Result<OverlayMount> {
        let dir = self.rw_dir(key)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(format!("create {}", dir.display())))?;
        write_init_layer(&dir.join(INIT_DIR))?;
        let m = self.rw_mount(key, chains)?;
        for (c, lower) in chains.iter().rev().zip(m.lowerdirs.iter().skip(1)) {
            if !lower.is_dir() {
                return Err(Error::Io {
                    context: format!("prepare rw layer {key}"),
                    source: io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("layer {c} is missing"),
                    ),
                });
            }
            self.ensure_link(c)?;
        }
        let dir = self.rw_dir(key)?;
        for (sub, mode) in [
            ("", 0o700),
            ("diff", 0o755),
            ("work", 0o700),
            ("merged", 0o755),
        ] {
            let p = dir.join(sub);
            match fs::DirBuilder::new().mode(mode).create(&p) {
                Ok(()) => {
                    fs::set_permissions(&p, fs::Permissions::from_mode(mode))
                        .map_err(io_err(format!("chmod {}", p.display())))?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(format!("create {}", p.display()))(e)),
            }
        }
        Ok(m)
    }

    /// The keys of every rw layer on disk.
    pub fn rw_keys(&self) -> Result<Vec<String>> {
        let dir = self.root.join("rw");
        let entries = fs::read_dir(&dir).map_err(io_err(format!("read {}", dir.display())))?;
        let mut keys: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Unmounts (if mounted) and deletes rw layer `key`; missing is fine.
    pub fn remove_rw(&self, key: &str) -> Result<()> {
        let dir = self.rw_dir(key)?;
        unmount(&dir.join("merged"))?;
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(format!("remove {}", dir.display()))(e)),
        }
    }
}

/// docker's `initlayer.Setup`: empty mount points and `/.dockerenv`.
fn write_init_layer(init: &Path) -> Result<()> {
    let done = init.join(".dockerenv");
    if done.exists() {
        return Ok(());
    }
    let tmp = init.with_extension("tmp");
    let _ = fs::remove_dir_all(&tmp);
    let mk = |rel: &str, dir: bool| -> io::Result<()> {
        let p = tmp.join(rel);
        if let Some(parent) = p.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)?;
        }
        if dir {
            fs::DirBuilder::new().recursive(true).mode(0o755).create(&p)
        } else {
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o755)
                .open(&p)
                .map(drop)
        }
    };
    let build = || -> io::Result<()> {
        for d in ["dev/pts", "dev/shm", "proc", "sys"] {
            mk(d, true)?;
        }
        for f in [
            "dev/console",
            "etc/hosts",
            "etc/hostname",
            "etc/resolv.conf",
            ".dockerenv",
        ] {
            mk(f, false)?;
        }
        std::os::unix::fs::symlink("/proc/mounts", tmp.join("etc/mtab"))?;
        fs::rename(&tmp, init)
    };
    build().map_err(io_err(format!("create {}", init.display())))
}

/// Bytes of the regular files under `dir` (each inode once), without
/// following symlinks or leaving the filesystem; what docker reports as a
/// layer's size. Entries that vanish meanwhile are skipped.
pub fn tree_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = fs::symlink_metadata(dir) else {
        return 0;
    };
    let dev = top.dev();
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.dev() != dev {
                continue;
            }
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() && (m.nlink() == 1 || seen.insert(m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn fake_layer(s: &Snapshotter, n: usize, file: &str) -> Digest {
        let chain = Digest::of_bytes(format!("layer-{n}").as_bytes());
        let staged = s.tmp_dir().join(format!("staged-{n}"));
        fs::create_dir_all(staged.join("diff")).unwrap();
        fs::write(staged.join("diff").join(file), format!("{n}")).unwrap();
        assert!(s.commit_layer(&staged, &chain).unwrap());
        chain
    }

    #[test]
    fn tree_size_counts_files_once() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("a")).unwrap();
        fs::write(d.path().join("a/f"), vec![0u8; 1000]).unwrap();
        fs::hard_link(d.path().join("a/f"), d.path().join("g")).unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("l")).unwrap();
        assert_eq!(tree_size(d.path()), 1000);
        assert_eq!(tree_size(&d.path().join("missing")), 0);
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of_bytes(b"a");
        let b = Digest::of_bytes(b"b");
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        assert_eq!(c[1], Digest::of_bytes(format!("{a} {b}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn rw_layout_and_options() {
        let t = tempfile::tempdir().unwrap();
        let s = Snapshotter::new(t.path()).unwrap();
        let l0 = fake_layer(&s, 0, "a");
        let l1 = fake_layer(&s, 1, "b");
        // committing the same chain again keeps the first
        let again = s.tmp_dir().join("again");
        fs::create_dir_all(again.join("diff")).unwrap();
        assert!(!s.commit_layer(&again, &l0).unwrap());
        assert!(!again.exists());

        let m = s.prepare_rw("c1", &[l0.clone(), l1.clone()]).unwrap();
        let init = t.path().join("rw/c1/init");
        assert_eq!(
            m.lowerdirs,
            vec![init.clone(), s.layer_diff(&l1), s.layer_diff(&l0)]
        );
        assert!(m.upperdir.is_dir() && m.workdir.is_dir() && m.target.is_dir());
        assert_eq!(
            m.options(),
            format!(
                "lowerdir={}:{}:{},upperdir={},workdir={}",
                init.display(),
                s.layer_diff(&l1).display(),
                s.layer_diff(&l0).display(),
                m.upperdir.display(),
                m.workdir.display()
            )
        );
        assert_eq!(s.rw_mount("c1", &[l0.clone(), l1.clone()]).unwrap(), m);
        // the short links point at the layer dirs
        let short = t.path().join(LINK_DIR).join(link_name(&l0));
        assert_eq!(
            fs::canonicalize(short).unwrap(),
            fs::canonicalize(s.layer_diff(&l0)).unwrap()
        );

        assert!(s.prepare_rw("../x", &[]).is_err());
        assert!(s.rw_mount("", &[]).is_err());
        let missing = Digest::of_bytes(b"missing");
        assert!(s.prepare_rw("c2", &[missing]).is_err());

        s.remove_rw("c1").unwrap();
        assert!(!t.path().join("rw/c1").exists());
        s.remove_rw("c1").unwrap();
        s.remove_layer(&l0).unwrap();
        assert!(!s.has_layer(&l0));
    }

    #[test]
    fn long_stacks_use_short_paths() {
        let t = tempfile::tempdir().unwrap();
        let s = Snapshotter::new(t.path()).unwrap();
        let chains: Vec<Digest> = (0..60)
            .map(|n| fake_layer(&s, n, &format!("f{n}")))
            .collect();
        let m = s.prepare_rw("long", &chains).unwrap();
        assert!(m.long_options().len() > MAX_OPTIONS_LEN);
        let opts = m.options();
        assert!(opts.len() < MAX_OPTIONS_LEN, "{}", opts.len());
        assert!(opts.starts_with("lowerdir=rw/long/init:l/"), "{opts}");
        assert!(opts.ends_with(",upperdir=rw/long/diff,workdir=rw/long/work"));
        if is_root() {
            m.mount().unwrap();
            m.mount().unwrap(); // idempotent
            assert!(m.is_mounted());
            for n in 0..60 {
                assert_eq!(
                    fs::read_to_string(m.target.join(format!("f{n}"))).unwrap(),
                    n.to_string()
                );
            }
            m.unmount().unwrap();
            assert!(!m.is_mounted());
        }
        s.remove_rw("long").unwrap();
    }

    #[test]
    fn mount_overlay_and_remove_while_mounted() {
        if !is_root() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let s = Snapshotter::new(t.path()).unwrap();
        let l0 = fake_layer(&s, 0, "base");
        let m = s.prepare_rw("c", std::slice::from_ref(&l0)).unwrap();
        m.unmount().unwrap(); // not mounted: fine
        m.mount().unwrap();
        assert_eq!(fs::read_to_string(m.target.join("base")).unwrap(), "0");
        fs::write(m.target.join("new"), "x").unwrap();
        assert!(m.upperdir.join("new").is_file());
        assert!(!s.layer_diff(&l0).join("new").exists());
        s.remove_rw("c").unwrap();
        assert!(!m.is_mounted());
        assert!(!t.path().join("rw/c").exists());

        // zero layers: an empty lower dir, under the init layer's mount points
        let m = s.prepare_rw("empty", &[]).unwrap();
        assert_eq!(
            m.lowerdirs,
            vec![t.path().join("rw/empty/init"), t.path().join(EMPTY_DIR)]
        );
        m.mount().unwrap();
        let mut names: Vec<String> = fs::read_dir(&m.target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".dockerenv", "dev", "etc", "proc", "sys"]);
        assert!(m.target.join("etc/hosts").is_file());
        assert_eq!(fs::read_dir(&m.upperdir).unwrap().count(), 0);
        m.unmount().unwrap();
        s.remove_rw("empty").unwrap();
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo("/a\\040b"), b"/a b");
        assert_eq!(unescape_mountinfo("/plain"), b"/plain");
        assert_eq!(unescape_mountinfo("/x\\"), b"/x\\");
    }
}
