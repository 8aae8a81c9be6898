//! Images from a source of blobs: a `docker load` archive or a registry.
//!
//! Both give the same things: an index or manifest named by a descriptor,
//! a config and layer blobs. The walk (index -> platform -> manifest ->
//! config) and the layer work (verify, decompress, unpack, store) are the
//! same for both, so they live here, behind [`BlobSource`]; the archive
//! and the registry only say how to open a blob.
//!
//! Layers are staged in parallel, each in one streaming pass: the blob is
//! hashed and size-checked as it is read, decompressed, unpacked into its
//! staging dir and stored as the uncompressed tar (hashed again: its diff
//! id). A layer that fails stops the others; nothing is recorded unless
//! every layer checked out.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::{parse_config, ImageStore, NewImage, Staged, MAX_CONFIG, MAX_LAYERS};
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::snapshot::chain_ids;
use berth_store::Digest;

/// How deep indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;
/// The largest manifest or index read (containerd's and dockerd's cap).
pub const MAX_MANIFEST: u64 = 4 << 20;

pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Where an image's blobs come from.
pub trait BlobSource: Sync {
    /// The bytes of the blob `desc` names (a manifest, an index, a config
    /// or a layer). The store checks size and digest while it reads, so a
    /// source need not.
    fn open(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>>;
}

/// What happens to one layer of an image being created, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerEvent {
    /// The layer is in the store already.
    Exists,
    /// The layer will be fetched.
    Waiting,
    /// Bytes of the blob read so far, of `total`.
    Reading { current: u64, total: u64 },
    /// The whole blob was read and matches its digest.
    Verified,
    /// Unpacked (`size` bytes on disk) and stored; recorded once every
    /// layer of the image is.
    Unpacked { size: u64 },
}

/// An image found in a source, before it is created.
#[derive(Debug, Clone)]
pub struct SourceImage {
    /// The digest of the image manifest.
    pub manifest_digest: String,
    pub config: Vec<u8>,
    pub diff_ids: Vec<Digest>,
    pub layers: Vec<Descriptor>,
    pub tags: Vec<Reference>,
}

impl SourceImage {
    pub(super) fn add_tags(&mut self, tags: Vec<Reference>) {
        for t in tags {
            if !self.tags.contains(&t) {
                self.tags.push(t);
            }
        }
    }

    /// The image id this will create.
    pub fn id(&self) -> Digest {
        Digest::of_bytes(&self.config)
    }
}

/// How [`ImageStore::create_from_source`] works.
pub struct CreateOptions<'a> {
    /// Layers staged at once.
    pub concurrency: usize,
    /// The repository (`host/path`) the layers come from, recorded with
    /// each layer's descriptor so that a push there can skip it.
    pub source_repository: Option<&'a str>,
    /// Called from several threads: layer index, its descriptor, event.
    pub progress: &'a (dyn Fn(usize, &Descriptor, LayerEvent) + Sync),
}

/// What [`ImageStore::create_from_source`] did.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: Digest,
    /// Whether the image was in the store before (with every tag asked).
    pub was_present: bool,
    /// docker load's result lines for the tags (`Loaded image: ...`).
    pub loaded: Vec<String>,
    /// Everything to show, in order: the result lines and a line for
    /// each tag taken from another image.
    pub lines: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

fn json<T: for<'de> Deserialize<'de>>(data: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(data).map_err(|e| invalid(format!("invalid {what}: {e}")))
}

/// Checks a blob as it streams: never more than its size, and at the end
/// its size and digest; also reports progress and stops early once
/// another layer has failed.
pub(super) struct Verified<'a, R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    size: u64,
    digest: Digest,
    reported: u64,
    cancel: Option<&'a AtomicBool>,
    report: &'a (dyn Fn(u64) + Sync),
    /// The source's own read error: the real cause when the blob then
    /// comes up short.
    failed: Option<String>,
}

/// How often (in bytes) reading progress is reported.
const REPORT_EVERY: u64 = 512 << 10;

impl<'a, R: Read> Verified<'a, R> {
    pub(super) fn new(
        inner: R,
        desc: &Descriptor,
        cancel: Option<&'a AtomicBool>,
        report: &'a (dyn Fn(u64) + Sync),
    ) -> Result<Self> {
        let alg = desc.digest().algorithm().to_string();
        if alg != "sha256" {
            return Err(invalid(format!("unsupported digest algorithm {alg}")));
        }
        let digest = Digest::parse(desc.digest().as_ref()).map_err(|e| invalid(e.to_string()))?;
        Ok(Verified {
            inner,
            hasher: Sha256::new(),
            count: 0,
            size: desc.size(),
            digest,
            reported: 0,
            cancel,
            report,
            failed: None,
        })
    }

    /// Reads what is left and checks size and digest.
    pub(super) fn finish(mut self) -> Result<()> {
        if let Some(cause) = self.failed.take() {
            let msg = if cause.contains(self.digest.as_str()) {
                cause
            } else {
                format!("blob {}: {cause}", self.digest)
            };
            return Err(Error::Source(msg.into()));
        }
        io::copy(&mut self, &mut io::sink()).map_err(blob_read_err)?;
        if self.count != self.size {
            return Err(invalid(format!(
                "blob {} is {} bytes, its descriptor says {}",
                self.digest, self.count, self.size
            )));
        }
        let actual = Digest::from_hasher(self.hasher.clone());
        if actual != self.digest {
            return Err(invalid(format!(
                "blob {} does not match its digest (got {actual})",
                self.digest
            )));
        }
        (self.report)(self.count);
        Ok(())
    }
}

impl<R: Read> Read for Verified<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            // Not `Interrupted`: readers retry that.
            return Err(io::Error::other(Cancelled));
        }
        // One byte past the size is enough to know the blob is too long.
        let room = (self.size - self.count.min(self.size)).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                self.failed.get_or_insert_with(|| e.to_string());
                return Err(e);
            }
        };
        self.count += n as u64;
        if self.count > self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} is longer than its descriptor's {} bytes",
                    self.digest, self.size
                ),
            ));
        }
        self.hasher.update(&buf[..n]);
        if self.count - self.reported >= REPORT_EVERY {
            self.reported = self.count;
            (self.report)(self.count);
        }
        Ok(n)
    }
}

/// The error a layer reader returns once another layer failed.
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled: another layer failed")
    }
}

impl std::error::Error for Cancelled {}

fn blob_read_err(e: io::Error) -> Error {
    match crate::apply::read_err(e) {
        Error::InvalidLayer(m) => invalid(m),
        other => other,
    }
}

/// Reads a small blob (manifest, index, config) whole, verified.
pub(super) fn read_small(source: &dyn BlobSource, desc: &Descriptor, max: u64) -> Result<Vec<u8>> {
    if desc.size() > max {
        return Err(invalid(format!(
            "blob {} is too large ({} bytes, at most {max})",
            desc.digest(),
            desc.size()
        )));
    }
    let mut out = Vec::with_capacity(desc.size() as usize);
    let mut v = Verified::new(source.open(desc)?, desc, None, &|_| {})?;
    v.read_to_end(&mut out).map_err(blob_read_err)?;
    v.finish()?;
    Ok(out)
}

pub(super) fn is_attestation(d: &Descriptor) -> bool {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get("vnd.docker.reference.type"))
        .is_some_and(|t| t == "attestation-manifest")
}

fn platform_of(d: &Descriptor) -> Option<Platform> {
    d.platform().as_ref().map(|p| Platform {
        os: p.os().to_string(),
        architecture: p.architecture().to_string(),
        variant: p.variant().clone().unwrap_or_default(),
    })
}

/// The entry of an index to use for `want`, as dockerd picks it (see
/// [`Platform::pick`]); an entry without a platform is taken when none
/// matches, as single-image indexes often leave it out.
fn pick_platform<'a>(manifests: &'a [Descriptor], want: &Platform) -> Result<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = manifests.iter().filter(|d| !is_attestation(d)).collect();
    let platforms: Vec<Option<Platform>> = candidates.iter().map(|d| platform_of(d)).collect();
    if let Some(i) = want.pick(&platforms) {
        return Ok(candidates[i]);
    }
    if let Some(d) = candidates.iter().find(|d| d.platform().is_none()) {
        return Ok(d);
    }
    Err(invalid(format!(
        "no matching manifest for {want} in the manifest list entries"
    )))
}

/// Follows `desc` (an index or a manifest) to the image for `want`, adding
/// it to `out` (or its tags to the entry already there).
pub(super) fn collect(
    source: &dyn BlobSource,
    desc: &Descriptor,
    tags: Vec<Reference>,
    want: &Platform,
    depth: usize,
    out: &mut Vec<SourceImage>,
) -> Result<()> {
    if depth > MAX_INDEX_DEPTH {
        return Err(invalid("image indexes are nested too deeply"));
    }
    let media = desc.media_type().to_string();
    match media.as_str() {
        MT_OCI_INDEX | MT_DOCKER_LIST => {
            let index: ImageIndex = json(&read_small(source, desc, MAX_MANIFEST)?, "image index")?;
            let chosen = pick_platform(index.manifests(), want)?;
            collect(source, chosen, tags, want, depth + 1, out)
        }
        MT_OCI_MANIFEST | MT_DOCKER_MANIFEST => {
            let key = desc.digest().to_string();
            if let Some(p) = out.iter_mut().find(|p| p.manifest_digest == key) {
                p.add_tags(tags);
                return Ok(());
            }
            let manifest: ImageManifest =
                json(&read_small(source, desc, MAX_MANIFEST)?, "image manifest")?;
            let config = read_small(source, manifest.config(), MAX_CONFIG)?;
            let (_, diff_ids) = parse_config(&config)?;
            if manifest.layers().len() != diff_ids.len() {
                return Err(invalid(format!(
                    "invalid manifest, layers length mismatch: expected {}, got {}",
                    diff_ids.len(),
                    manifest.layers().len()
                )));
            }
            out.push(SourceImage {
                manifest_digest: key,
                config,
                diff_ids,
                layers: manifest.layers().clone(),
                tags,
            });
            Ok(())
        }
        other => {
            tracing::debug!(media_type = other, "skipping descriptor in image index");
            Ok(())
        }
    }
}

impl ImageStore {
    /// The image `top` (an index or a manifest) names in `source`, for
    /// `platform` (this host's when `None`).
    pub fn resolve_source(
        &self,
        source: &dyn BlobSource,
        top: &Descriptor,
        platform: Option<&Platform>,
    ) -> Result<SourceImage> {
        let want = platform.cloned().unwrap_or_else(Platform::host);
        let mut out = Vec::new();
        collect(source, top, Vec::new(), &want, 0, &mut out)?;
        out.pop()
            .ok_or_else(|| invalid(format!("{} is not an image", top.media_type())))
    }

    /// Whether a layer chain is in the store; for "Already exists".
    pub fn has_chain(&self, diff_ids: &[Digest]) -> Result<bool> {
        match chain_ids(diff_ids).last() {
            Some(c) => self.layer_present(c),
            None => Ok(true),
        }
    }

    /// Creates `image` from `source`: layers missing from the store are
    /// staged in parallel, then all is recorded in one transaction.
    pub fn create_from_source(
        &self,
        source: &dyn BlobSource,
        image: SourceImage,
        opts: &CreateOptions<'_>,
    ) -> Result<Created> {
        if image.diff_ids.len() > MAX_LAYERS {
            return Err(invalid(format!(
                "max depth exceeded: the image has {} layers, at most {MAX_LAYERS} are supported",
                image.diff_ids.len()
            )));
        }
        let id = image.id();
        let was_present = self.was_present(&id, &image.tags)?;
        let chains = chain_ids(&image.diff_ids);
        let _pins = self.pin(&chains);
        // An image already here is not taken apart layer by layer (dockerd
        // stops at its config too).
        let known = self.record(&id)?.is_some();
        let mut missing = Vec::new();
        for (i, chain) in chains.iter().enumerate() {
            if self.layer_present(chain)? {
                if !known {
                    (opts.progress)(i, &image.layers[i], LayerEvent::Exists);
                }
            } else {
                (opts.progress)(i, &image.layers[i], LayerEvent::Waiting);
                missing.push(i);
            }
        }
        let staged = self.stage_parallel(source, &image, &missing, opts)?;
        let mut slots: Vec<Option<Staged>> = chains.iter().map(|_| None).collect();
        for (i, s) in staged {
            slots[i] = Some(s);
        }
        let sources: Vec<(Digest, super::DistSource)> = match opts.source_repository {
            Some(repo) => image
                .layers
                .iter()
                .zip(&image.diff_ids)
                .map(|(d, diff)| (diff.clone(), super::DistSource::of(repo, d)))
                .collect(),
            None => Vec::new(),
        };
        let new = NewImage {
            config: image.config,
            diff_ids: image.diff_ids,
            tags: image.tags,
            parent: None,
        };
        let mut lines = Vec::new();
        let (id, loaded) =
            self.commit_image_with(new, slots, &sources, &mut |l| lines.push(l.to_string()))?;
        Ok(Created {
            id,
            was_present,
            loaded,
            lines,
        })
    }

    fn was_present(&self, id: &Digest, tags: &[Reference]) -> Result<bool> {
        if self.record(id)?.is_none() {
            return Ok(false);
        }
        let refs = self.refs_of(id)?;
        Ok(tags.iter().all(|t| refs.contains(t)))
    }

    /// Stages the layers `missing` (indexes into `image.layers`) with up to
    /// `opts.concurrency` at once; the first failure stops the rest.
    fn stage_parallel(
        &self,
        source: &dyn BlobSource,
        image: &SourceImage,
        missing: &[usize],
        opts: &CreateOptions<'_>,
    ) -> Result<Vec<(usize, Staged)>> {
        let queue = Mutex::new(missing.iter().copied());
        let cancel = AtomicBool::new(false);
        let done: Mutex<Vec<(usize, Staged)>> = Mutex::new(Vec::new());
        let errors: Mutex<Vec<Error>> = Mutex::new(Vec::new());
        let workers = opts.concurrency.clamp(1, missing.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some(i) = next else { return };
                    match self.stage_one(source, image, i, &cancel, opts) {
                        Ok(Some(s)) => done.lock().unwrap_or_else(|e| e.into_inner()).push((i, s)),
                        // Stopped because another layer failed.
                        Ok(None) => return,
                        Err(e) => {
                            cancel.store(true, Ordering::Relaxed);
                            errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                            return;
                        }
                    }
                });
            }
        });
        let errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(first) = errors.into_iter().next() {
            return Err(first);
        }
        Ok(done.into_inner().unwrap_or_else(|e| e.into_inner()))
    }

    fn stage_one(
        &self,
        source: &dyn BlobSource,
        image: &SourceImage,
        i: usize,
        cancel: &AtomicBool,
        opts: &CreateOptions<'_>,
    ) -> Result<Option<Staged>> {
        let desc = &image.layers[i];
        let total = desc.size();
        let report =
            |current: u64| (opts.progress)(i, desc, LayerEvent::Reading { current, total });
        let mut blob = Verified::new(source.open(desc)?, desc, Some(cancel), &report)?;
        let staged = self.stage_layer(&mut blob, None, i);
        // A cancelled read surfaces as whatever the unpacker made of it:
        // that is not this layer's failure.
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        // A blob that is not what its descriptor says explains a broken
        // tar better than the tar error does.
        blob.finish()?;
        let staged = staged?;
        let expected = &image.diff_ids[i];
        if staged.diff_id != *expected {
            return Err(invalid(format!(
                "invalid diffID for layer {i}: expected \"{expected}\", got \"{}\"",
                staged.diff_id
            )));
        }
        (opts.progress)(i, desc, LayerEvent::Verified);
        (opts.progress)(i, desc, LayerEvent::Unpacked { size: staged.size });
        Ok(Some(staged))
    }
}
