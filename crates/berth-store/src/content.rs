//! The content store: blobs addressed by their sha256 digest.
//!
//! Writers stream into a temp file under `<root>/ingest/` while hashing;
//! `commit` checks the digest, fsyncs, and renames the file into
//! `<root>/blobs/sha256/<hex>`. A blob path therefore only ever holds a
//! complete blob whose content matched its name when it was written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};

use crate::{io_err, Digest, Error, Result};

static INGEST_SEQ: AtomicU64 = AtomicU64::new(0);

/// Blobs by digest under one root directory.
#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
    ingest: PathBuf,
}

impl ContentStore {
    /// Opens (creating if needed) a content store at `root`.
    pub fn new(root: &Path) -> Result<ContentStore> {
        let blobs = root.join("blobs").join("sha256");
        let ingest = root.join("ingest");
        for dir in [&blobs, &ingest] {
            fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
        }
        Ok(ContentStore { blobs, ingest })
    }

    /// Removes temp files left by writers of a previous process. Call only
    /// when no writer of this store is active.
    pub fn clean_ingest(&self) -> Result<()> {
        let entries = fs::read_dir(&self.ingest)
            .map_err(io_err(format!("read {}", self.ingest.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!("cannot remove stale ingest file {}: {e}", path.display());
            }
        }
        Ok(())
    }

    /// Names of the temp files in the ingest directory (left by writers
    /// that never committed, when no writer is active).
    pub fn ingest_leftovers(&self) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.ingest)
            .map_err(io_err(format!("read {}", self.ingest.display())))?;
        Ok(entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }

    /// Starts a new blob; write to it, then `commit`.
    pub fn writer(&self) -> Result<BlobWriter> {
        let seq = INGEST_SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = self
            .ingest
            .join(format!("{}-{seq}-{nanos}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io_err(format!("create {}", tmp.display())))?;
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            blobs: self.blobs.clone(),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Stores `data` as a blob (verifying `expected` if given).
    pub fn write_blob(&self, data: &[u8], expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let mut w = self.writer()?;
        w.write_all(data).map_err(io_err("write blob"))?;
        w.commit(expected)
    }

    /// Where the blob lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    /// Opens a blob for reading.
    pub fn open(&self, digest: &Digest) -> Result<File> {
        File::open(self.path(digest)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobNotFound(digest.clone()),
            _ => Error::Io {
                context: format!("open blob {digest}"),
                source: e,
            },
        })
    }

    /// Opens a blob whose content is hashed while read: reaching the end of
    /// a blob that does not match its digest is an `InvalidData` error.
    pub fn reader(&self, digest: &Digest) -> Result<VerifiedReader> {
        Ok(VerifiedReader {
            file: self.open(digest)?,
            hasher: Sha256::new(),
            expected: digest.clone(),
            verified: false,
        })
    }

    /// Reads a whole (small) blob, verified, refusing blobs over `max` bytes.
    pub fn read_all(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let size = self.size(digest)?;
        if size > max {
            return Err(Error::TooLarge {
                digest: digest.clone(),
                size,
                max,
            });
        }
        let mut data = Vec::with_capacity(size as usize);
        self.reader(digest)?
            .take(max + 1)
            .read_to_end(&mut data)
            .map_err(io_err(format!("read blob {digest}")))?;
        Ok(data)
    }

    /// Whether the blob exists.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// The blob's size in bytes.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        match fs::metadata(self.path(digest)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(Error::Io {
                context: format!("stat blob {digest}"),
                source: e,
            }),
        }
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub fn delete(&self, digest: &Digest) -> Result<()> {
        match fs::remove_file(self.path(digest)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io {
                context: format!("delete blob {digest}"),
                source: e,
            }),
        }
    }

    /// Every blob in the store (files whose names are not digests are skipped).
    pub fn list(&self) -> Result<Vec<Digest>> {
        let entries =
            fs::read_dir(&self.blobs).map_err(io_err(format!("read {}", self.blobs.display())))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(format!("read {}", self.blobs.display())))?;
            if let Some(d) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// A blob being written. Dropping it without `commit` discards the data.
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    blobs: PathBuf,
    hasher: Sha256,
    size: u64,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of what was written so far.
    pub fn digest(&self) -> Digest {
        Digest::from_hasher(self.hasher.clone())
    }

    /// Verifies the digest (if `expected`), fsyncs and moves the blob into
    /// place. If the blob already exists the temp file is dropped.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        self.finish(expected, true)
    }

    /// [`commit`](Self::commit) without the fsyncs, for a caller that syncs
    /// the whole filesystem (`syncfs`) before it records the blob: one
    /// flush for many blobs instead of one per blob.
    pub fn commit_unsynced(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        self.finish(expected, false)
    }

    fn finish(mut self, expected: Option<&Digest>, sync: bool) -> Result<(Digest, u64)> {
        let digest = Digest::from_hasher(std::mem::take(&mut self.hasher));
        if let Some(expected) = expected {
            if *expected != digest {
                return Err(Error::DigestMismatch {
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        let file = self.file.take();
        let dest = self.blobs.join(digest.hex());
        if dest.is_file() {
            return Ok((digest, self.size));
        }
        if let (Some(file), true) = (file, sync) {
            file.sync_all().map_err(io_err("fsync blob"))?;
        }
        fs::rename(&self.tmp, &dest).map_err(io_err(format!("commit blob {digest}")))?;
        // The rename is durable once the directory is synced.
        if sync {
            if let Ok(dir) = File::open(&self.blobs) {
                let _ = dir.sync_all();
            }
        }
        // Committed: nothing for Drop to remove.
        self.tmp = PathBuf::new();
        Ok((digest, self.size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already committed"))?;
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        self.file.take();
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Reads a blob and checks its digest when the end is reached.
#[derive(Debug)]
pub struct VerifiedReader {
    file: File,
    hasher: Sha256,
    expected: Digest,
    verified: bool,
}

impl Read for VerifiedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            self.hasher.update(&buf[..n]);
        } else if !buf.is_empty() && !self.verified {
            let actual = Digest::from_hasher(std::mem::take(&mut self.hasher));
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is corrupt: content hashes to {actual}",
                        self.expected
                    ),
                ));
            }
            self.verified = true;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ContentStore) {
        let dir = tempfile::tempdir().unwrap();
        let cs = ContentStore::new(dir.path()).unwrap();
        (dir, cs)
    }

    fn ingest_is_empty(dir: &Path) -> bool {
        fs::read_dir(dir.join("ingest")).unwrap().next().is_none()
    }

    #[test]
    fn write_commit_open() {
        let (dir, cs) = store();
        let mut w = cs.writer().unwrap();
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        assert_eq!(w.size(), 11);
        let expected = Digest::of_bytes(b"hello world");
        assert_eq!(w.digest(), expected);
        let (d, n) = w.commit(Some(&expected)).unwrap();
        assert_eq!((d.clone(), n), (expected.clone(), 11));
        assert!(cs.contains(&d));
        assert_eq!(cs.size(&d).unwrap(), 11);
        let mut s = String::new();
        cs.open(&d).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello world");
        assert_eq!(cs.path(&d), dir.path().join("blobs/sha256").join(d.hex()));
        assert_eq!(cs.list().unwrap(), vec![d.clone()]);
        assert!(ingest_is_empty(dir.path()));
        cs.delete(&d).unwrap();
        cs.delete(&d).unwrap();
        assert!(!cs.contains(&d));
        assert!(matches!(cs.open(&d), Err(Error::BlobNotFound(_))));
        assert!(matches!(cs.size(&d), Err(Error::BlobNotFound(_))));
    }

    #[test]
    fn mismatch_removes_temp_and_stores_nothing() {
        let (dir, cs) = store();
        let wrong = Digest::of_bytes(b"other");
        let err = cs.write_blob(b"data", Some(&wrong)).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(!cs.contains(&Digest::of_bytes(b"data")));
        assert!(!cs.contains(&wrong));
        assert!(ingest_is_empty(dir.path()));
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let (dir, cs) = store();
        let mut w = cs.writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert!(ingest_is_empty(dir.path()));
        assert!(cs.list().unwrap().is_empty());
    }

    #[test]
    fn existing_blob_is_kept() {
        let (dir, cs) = store();
        let (d1, _) = cs.write_blob(b"same", None).unwrap();
        let (d2, _) = cs.write_blob(b"same", None).unwrap();
        assert_eq!(d1, d2);
        assert_eq!(cs.list().unwrap().len(), 1);
        assert!(ingest_is_empty(dir.path()));
    }

    #[test]
    fn verified_reader_detects_corruption() {
        let (_dir, cs) = store();
        let (d, _) = cs.write_blob(b"good content", None).unwrap();
        assert_eq!(cs.read_all(&d, 100).unwrap(), b"good content");
        assert!(matches!(cs.read_all(&d, 3), Err(Error::TooLarge { .. })));
        fs::write(cs.path(&d), b"evil content").unwrap();
        let err = cs.read_all(&d, 100).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }

    #[test]
    fn clean_ingest_removes_leftovers() {
        let (dir, cs) = store();
        fs::write(dir.path().join("ingest/stale"), b"x").unwrap();
        cs.clean_ingest().unwrap();
        assert!(ingest_is_empty(dir.path()));
    }
}
