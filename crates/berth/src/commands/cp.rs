//! `cp`: files between a container and the local filesystem, with the
//! docker CLI's rules for where things land. From a container: `GET
//! archive`, then the tar is unpacked here with its top entry renamed to
//! the destination. To a container: `HEAD archive` on the destination,
//! then `PUT archive` of a tar made here into the right directory.

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use base64::Engine as _;
use berth_api::framing;
use clap::Args;
use hyper::Method;
use serde::Deserialize;

use super::{print_err, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{body_reader, path_segment, stdin_body, streamed, Client, Query};
use crate::error::is_not_found;
use crate::format::units::human_size;
use crate::stream::terminal;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long = "archive")]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "SRC_PATH|DEST_PATH")]
    pub paths: Vec<String>,
}

/// `X-Docker-Container-Path-Stat`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PathStat {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mode: u32,
    #[serde(rename = "linkTarget", default)]
    pub link_target: String,
}

const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;

impl PathStat {
    fn is_dir(&self) -> bool {
        self.mode & MODE_DIR != 0
    }
    fn is_symlink(&self) -> bool {
        self.mode & MODE_SYMLINK != 0
    }
}

/// One side of `cp`: a container path or a local one (`-` is stdio).
#[derive(Debug, PartialEq, Eq)]
pub enum Location {
    Container { name: String, path: String },
    Local(String),
}

/// docker's `splitCpArg`: `name:path`, unless the argument is an
/// absolute or explicitly relative local path.
pub fn split_arg(arg: &str) -> Location {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Location::Local(arg.to_string());
    }
    match arg.split_once(':') {
        Some((name, path)) if !name.is_empty() => Location::Container {
            name: name.to_string(),
            path: path.to_string(),
        },
        _ => Location::Local(arg.to_string()),
    }
}

fn decode_stat(v: Option<&hyper::header::HeaderValue>) -> Result<PathStat> {
    let raw = v.ok_or_else(|| anyhow!("no X-Docker-Container-Path-Stat header"))?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(raw.as_bytes())
        .context("bad X-Docker-Container-Path-Stat header")?;
    Ok(serde_json::from_slice(&json)?)
}

fn archive_path(name: &str) -> String {
    format!("/containers/{}/archive", path_segment(name))
}

async fn stat(client: &Client, name: &str, path: &str) -> Result<PathStat> {
    let resp = client
        .request(
            Method::HEAD,
            &archive_path(name),
            &Query::new().set("path", path),
            crate::client::empty(),
            &[],
        )
        .await?;
    decode_stat(resp.headers().get("X-Docker-Container-Path-Stat"))
}

pub async fn cp(ctx: &Ctx, args: CpArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Exact(2), args.paths.len())?;
    let src = split_arg(&args.paths[0]);
    let dst = split_arg(&args.paths[1]);
    let progress = !args.quiet && terminal::stderr_is_tty();
    match (src, dst) {
        (Location::Container { .. }, Location::Container { .. }) => {
            Err(anyhow!("copying between containers is not supported"))
        }
        (Location::Local(_), Location::Local(_)) => {
            Err(anyhow!("must specify at least one container source"))
        }
        (Location::Container { name, path }, Location::Local(local)) => {
            let n = from_container(&ctx.client, &name, &path, &local, args.follow_link).await?;
            if progress && local != "-" {
                print_err(&format!(
                    "Successfully copied {} to {local}\n",
                    human_size(n as f64)
                ));
            }
            Ok(())
        }
        (Location::Local(local), Location::Container { name, path }) => {
            let n = to_container(&ctx.client, &local, &name, &path, &args).await?;
            if progress && local != "-" {
                print_err(&format!(
                    "Successfully copied {} to {name}:{path}\n",
                    human_size(n as f64)
                ));
            }
            Ok(())
        }
    }
}

/// Where an archive whose top entry is `top` goes locally: the directory to
/// unpack into, and the name the top entry gets there.
fn local_destination(dst: &str, src: &PathStat) -> Result<(PathBuf, Option<String>)> {
    let path = Path::new(dst);
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok((path.to_path_buf(), None)),
        Ok(_) if src.is_dir() => Err(anyhow!("cannot copy a directory to a file")),
        Ok(_) => Ok((parent_of(path), base_of(path))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if dst.ends_with('/') && !src.is_dir() {
                return Err(anyhow!("destination directory {dst} does not exist"));
            }
            let parent = parent_of(path);
            if !parent.is_dir() {
                return Err(anyhow!(
                    "destination directory {} does not exist",
                    parent.display()
                ));
            }
            Ok((parent, base_of(path)))
        }
        Err(e) => Err(anyhow!("stat {dst}: {e}")),
    }
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn base_of(p: &Path) -> Option<String> {
    p.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The entry's path with its top component `top` renamed to `new`; a `.`
/// top (a directory's contents) puts everything under `new`.
pub fn rebase(entry: &str, top: &str, new: Option<&str>) -> Option<PathBuf> {
    let entry = entry.trim_start_matches("./");
    let rel: PathBuf = match (new, top) {
        (None, _) => PathBuf::from(entry),
        (Some(new), ".") => Path::new(new).join(entry),
        (Some(new), top) => match entry.strip_prefix(top) {
            Some("") => PathBuf::from(new),
            Some(rest) if rest.starts_with('/') => Path::new(new).join(&rest[1..]),
            _ => return None,
        },
    };
    // Never outside the destination.
    rel.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then_some(rel)
}

/// Unpacks `reader` into `dir`, renaming the top entry; refuses to write
/// through a symlink or outside `dir`.
fn unpack_local(reader: impl Read, dir: &Path, top: &str, new: Option<&str>) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(rel) = rebase(&name, top, new) else {
            continue;
        };
        if rel.as_os_str().is_empty() || rel == Path::new(".") {
            continue;
        }
        let target = dir.join(&rel);
        let mut cur = dir.to_path_buf();
        if let Some(parent) = rel.parent() {
            for c in parent.components() {
                cur.push(c);
                match std::fs::symlink_metadata(&cur) {
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(anyhow!("{} is a symbolic link", cur.display()))
                    }
                    Ok(_) => {}
                    Err(_) => std::fs::create_dir(&cur)
                        .with_context(|| format!("mkdir {}", cur.display()))?,
                }
            }
        }
        if entry.header().entry_type() == tar::EntryType::Link {
            continue;
        }
        if let Ok(m) = std::fs::symlink_metadata(&target) {
            if !m.is_dir() || entry.header().entry_type() != tar::EntryType::Directory {
                if m.is_dir() {
                    std::fs::remove_dir_all(&target)?;
                } else {
                    std::fs::remove_file(&target)?;
                }
            }
        }
        entry
            .unpack(&target)
            .with_context(|| format!("extract {}", target.display()))?;
    }
    Ok(())
}

/// Counts what passes through.
struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

async fn from_container(
    client: &Client,
    name: &str,
    path: &str,
    local: &str,
    follow: bool,
) -> Result<u64> {
    let mut path = path.to_string();
    if follow {
        let s = stat(client, name, &path).await?;
        if s.is_symlink() && !s.link_target.is_empty() {
            path = s.link_target.clone();
        }
    }
    let resp = client
        .get_stream(&archive_path(name), &Query::new().set("path", path.clone()))
        .await?;
    let src = decode_stat(resp.headers().get("X-Docker-Container-Path-Stat"))?;
    let reader = body_reader(resp);
    if local == "-" {
        let mut stdout = std::io::stdout();
        framing::raw_copy(reader, &mut stdout).await?;
        return Ok(0);
    }
    let (dir, new) = local_destination(local, &src)?;
    let top = src.name.clone();
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    tokio::task::spawn_blocking(move || {
        let mut counted = Counting {
            inner: bridge,
            n: 0,
        };
        unpack_local(&mut counted, &dir, &top, new.as_deref())?;
        Ok(counted.n)
    })
    .await?
}

async fn to_container(
    client: &Client,
    local: &str,
    name: &str,
    path: &str,
    args: &CpArgs,
) -> Result<u64> {
    let query = |dir: &str| {
        Query::new()
            .set("path", dir)
            .set("noOverwriteDirNonDir", "true")
            .flag("copyUIDGID", args.archive)
    };
    let headers = [("Content-Type", "application/x-tar".to_string())];
    if local == "-" {
        client
            .request(
                Method::PUT,
                &archive_path(name),
                &query(path),
                stdin_body(),
                &headers,
            )
            .await?;
        return Ok(0);
    }
    let src = PathBuf::from(local);
    let meta = if args.follow_link {
        std::fs::metadata(&src)
    } else {
        std::fs::symlink_metadata(&src)
    }
    .map_err(|e| anyhow!("lstat {local}: {}", super::io_reason(&e)))?;
    let contents = local.ends_with("/.");
    // Where the archive is unpacked, and the name its top entry gets.
    let (dir, top) = match stat(client, name, path).await {
        Ok(mut s) => {
            let mut dst = path.to_string();
            if s.is_symlink() && !s.link_target.is_empty() {
                dst = s.link_target.clone();
                s = stat(client, name, &dst).await?;
            }
            if s.is_dir() {
                let top = if contents {
                    ".".to_string()
                } else {
                    base_of(&src).unwrap_or_else(|| ".".into())
                };
                (dst, top)
            } else if meta.is_dir() {
                return Err(anyhow!("cannot copy a directory to a file"));
            } else {
                split_container_path(&dst)
            }
        }
        Err(e) if is_not_found(&e) => {
            if path.ends_with('/') && !meta.is_dir() {
                return Err(anyhow!("destination directory {path} does not exist"));
            }
            split_container_path(path)
        }
        Err(e) => return Err(e),
    };
    let (pipe_r, pipe_w) = tokio::io::duplex(64 * 1024);
    let writer = tokio_util::io::SyncIoBridge::new(pipe_w);
    let follow = args.follow_link;
    let producer = tokio::task::spawn_blocking(move || -> Result<u64> {
        let mut b = tar::Builder::new(CountingWriter {
            inner: writer,
            n: 0,
        });
        b.follow_symlinks(follow);
        b.mode(tar::HeaderMode::Complete);
        if meta.is_dir() {
            b.append_dir_all(&top, &src)?;
        } else {
            b.append_path_with_name(&src, &top)?;
        }
        let w = b.into_inner()?;
        Ok(w.n)
    });
    client
        .request(
            Method::PUT,
            &archive_path(name),
            &query(&dir),
            streamed(pipe_r),
            &headers,
        )
        .await?;
    producer.await?
}

/// `/a/b/c` -> (`/a/b`, `c`).
fn split_container_path(p: &str) -> (String, String) {
    let trimmed = p.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((dir, base)) => (
            if dir.is_empty() {
                "/".into()
            } else {
                dir.to_string()
            },
            base.to_string(),
        ),
        None => (".".into(), trimmed.to_string()),
    }
}

struct CountingWriter<W> {
    inner: W,
    n: u64,
}

impl<W: io::Write> io::Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_docker() {
        assert_eq!(
            split_arg("c:/tmp/x"),
            Location::Container {
                name: "c".into(),
                path: "/tmp/x".into()
            }
        );
        assert_eq!(
            split_arg("/abs:colon"),
            Location::Local("/abs:colon".into())
        );
        assert_eq!(split_arg("./rel:x"), Location::Local("./rel:x".into()));
        assert_eq!(split_arg("plain"), Location::Local("plain".into()));
        assert_eq!(split_arg("-"), Location::Local("-".into()));
    }

    #[test]
    fn rebases_the_top_entry() {
        assert_eq!(
            rebase("data/f", "data", Some("x")),
            Some(PathBuf::from("x/f"))
        );
        assert_eq!(rebase("data/", "data", Some("x")), Some(PathBuf::from("x")));
        assert_eq!(rebase("f", ".", Some("x")), Some(PathBuf::from("x/f")));
        assert_eq!(
            rebase("data/f", "data", None),
            Some(PathBuf::from("data/f"))
        );
        assert_eq!(rebase("other/f", "data", Some("x")), None);
        assert_eq!(rebase("data/../../etc", "data", None), None);
        assert_eq!(split_container_path("/tmp/x"), ("/tmp".into(), "x".into()));
        assert_eq!(split_container_path("/x/"), ("/".into(), "x".into()));
    }
}
