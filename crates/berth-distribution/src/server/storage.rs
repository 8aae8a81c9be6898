//! On-disk layout of the registry.
//!
//! Blobs (layers, configs and manifests alike) live once in a content
//! store. Each repository is a directory of small link files saying which
//! of them belong to it:
//!
//! ```text
//! <root>/content/...                          the content store
//! <root>/repositories/<name>/_blobs/<hex>      empty: the blob is in the repository
//! <root>/repositories/<name>/_manifests/<hex>  the manifest's media type
//! <root>/repositories/<name>/_tags/<tag>       the tagged manifest's digest
//! <root>/repositories/<name>/_referrers/<subject hex>/<hex>  descriptor JSON
//! <root>/repositories/<name>/_uploads/<uuid>   an upload in progress
//! ```
//!
//! Names cannot have a component starting with `_`, so these directories
//! never clash with a nested repository. Link files are written to a temp
//! name and renamed, so a crash leaves either the old or the new link.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use berth_store::{ContentStore, Digest};
use rand::Rng;

use super::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Storage {
    pub content: ContentStore,
    repos: PathBuf,
}

impl Storage {
    pub fn open(root: &Path) -> Result<Storage> {
        let content = ContentStore::new(&root.join("content"))?;
        content.clean_ingest()?;
        let repos = root.join("repositories");
        fs::create_dir_all(&repos).map_err(Error::io(format!("create {}", repos.display())))?;
        Ok(Storage { content, repos })
    }

    /// The repository's directory; `name` must have been validated.
    pub fn repo(&self, name: &str) -> PathBuf {
        self.repos.join(name)
    }

    pub fn blob_link(&self, name: &str, digest: &Digest) -> PathBuf {
        self.repo(name).join("_blobs").join(digest.hex())
    }

    pub fn manifest_link(&self, name: &str, digest: &Digest) -> PathBuf {
        self.repo(name).join("_manifests").join(digest.hex())
    }

    pub fn tags_dir(&self, name: &str) -> PathBuf {
        self.repo(name).join("_tags")
    }

    pub fn referrers_dir(&self, name: &str, subject: &Digest) -> PathBuf {
        self.repo(name).join("_referrers").join(subject.hex())
    }

    pub fn upload_path(&self, name: &str, uuid: &str) -> PathBuf {
        self.repo(name).join("_uploads").join(uuid)
    }

    pub fn repo_exists(&self, name: &str) -> bool {
        self.repo(name).is_dir()
    }

    /// Whether the blob is in the repository (linked and stored).
    pub fn has_blob(&self, name: &str, digest: &Digest) -> bool {
        self.blob_link(name, digest).is_file() && self.content.contains(digest)
    }

    pub fn link_blob(&self, name: &str, digest: &Digest) -> Result<()> {
        write_atomic(&self.blob_link(name, digest), b"")
    }

    /// The media type of a manifest of the repository, if it has it.
    pub fn manifest_media_type(&self, name: &str, digest: &Digest) -> Result<Option<String>> {
        if !self.content.contains(digest) {
            return Ok(None);
        }
        read_opt(&self.manifest_link(name, digest))
    }

    pub fn tag(&self, name: &str, tag: &str) -> Result<Option<Digest>> {
        let Some(s) = read_opt(&self.tags_dir(name).join(tag))? else {
            return Ok(None);
        };
        Ok(Some(Digest::parse(s.trim())?))
    }

    pub fn tags(&self, name: &str) -> Result<Vec<String>> {
        let mut tags = list_dir(&self.tags_dir(name))?;
        tags.retain(|t| !t.starts_with('.'));
        tags.sort();
        Ok(tags)
    }

    /// Every repository that holds at least one manifest, sorted.
    pub fn catalog(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        walk_repos(&self.repos, "", &mut out)?;
        out.sort();
        Ok(out)
    }
}

fn walk_repos(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    for entry in list_dir(dir)? {
        if entry.starts_with('_') || entry.starts_with('.') {
            continue;
        }
        let path = dir.join(&entry);
        if !path.is_dir() {
            continue;
        }
        let name = if prefix.is_empty() {
            entry
        } else {
            format!("{prefix}/{entry}")
        };
        // Dot files are temp files a crash may have left.
        let manifests = list_dir(&path.join("_manifests"))?;
        if manifests.iter().any(|m| !m.starts_with('.')) {
            out.push(name.clone());
        }
        walk_repos(&path, &name, out)?;
    }
    Ok(())
}

/// File names in `dir`; a missing directory is empty.
pub fn list_dir(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("read {}", dir.display()))(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io(format!("read {}", dir.display())))?;
        out.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

pub fn read_opt(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("read {}", path.display()))(e)),
    }
}

/// Removes a file; a missing one is not an error.
pub fn remove_opt(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format!("remove {}", path.display()))(e)),
    }
}

/// Writes `data` to `path` through a synced temp file and a rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(Error::io(format!("create {}", dir.display())))?;
    // A leading dot: no tag, digest or name component starts with one.
    let tmp = dir.join(format!(".tmp-{:016x}", rand::rng().random::<u64>()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(format!("write {}", path.display()))(e));
    }
    Ok(())
}

/// A new upload id: 128 random bits in hex.
pub fn new_uuid() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}
