//! `ImageStore`: images, tags and layers on top of the content store, the
//! metadata db and the overlay snapshotter.
//!
//! ```text
//! <root>/content/blobs/sha256/<hex>   image configs (by image id) and
//!                                     uncompressed layer tars (by diff id)
//! <root>/meta.redb                    tables images, refs, layers
//! <root>/layers/<chain hex>/diff      unpacked layers (see Snapshotter)
//! <root>/rw/<key>/...                 container rw layers
//! <root>/tmp/                         staging for loads and unpacks
//! ```
//!
//! Writes go: unpack into `tmp/` -> blob commit -> rename layer dir into
//! place -> one redb transaction for layer, image and tag records. A crash
//! in between leaves only unreferenced files, which `open` removes.

pub mod check;
mod commit;
mod load;
mod save;
pub mod source;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use berth_store::{ContentStore, Digest, MetaDb, Table, WriteTx};
use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::apply::{self, read_err};
use crate::compress::decompress;
use crate::error::{io_err, Error, Result};
use crate::instructions::apply_instructions;
use crate::reference::Reference;
use crate::snapshot::{chain_ids, OverlayMount, Snapshotter};

pub use commit::CommitRequest;

const IMAGES: Table = Table::new("images");
/// Normalised references (`docker.io/library/busybox:latest` or
/// `name@sha256:...`) -> image id.
const REFS: Table = Table::new("refs");
const LAYERS: Table = Table::new("layers");
/// Diff id -> where registries hold that layer ([`DistSource`]s): what
/// dockerd keeps as v2metadata, so a push can skip or mount a layer it
/// does not have to compress again.
const DIST: Table = Table::new("distribution");
/// Most sources remembered per layer (the newest are kept).
const MAX_DIST_SOURCES: usize = 16;

/// Largest image config we read into memory.
pub(crate) const MAX_CONFIG: u64 = 8 << 20;
/// Most layers an image may have (docker's layer store limit).
const MAX_LAYERS: usize = 125;

static STAGING_SEQ: AtomicU64 = AtomicU64::new(0);

/// An image as the engine sees it.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<hex>` of the config.
    pub id: String,
    pub config: ImageConfiguration,
    /// The config exactly as stored (its digest is the id).
    pub raw_config: Vec<u8>,
    /// Familiar form, sorted: `busybox:latest`.
    pub repo_tags: Vec<String>,
    /// Familiar form: `busybox@sha256:...`.
    pub repo_digests: Vec<String>,
    /// Unpacked bytes of all layers.
    pub size: u64,
    pub created: Option<String>,
    /// Diff ids, bottom layer first.
    pub layers: Vec<String>,
    /// The image it was committed from (docker keeps this beside the
    /// config, not in it).
    pub parent: Option<String>,
}

impl Image {
    /// The platform the image's config says it is for.
    pub fn platform(&self) -> crate::Platform {
        let raw: Value = serde_json::from_slice(&self.raw_config).unwrap_or(Value::Null);
        let field = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        crate::Platform {
            os: field("os"),
            architecture: field("architecture"),
            variant: field("variant"),
        }
    }
}

/// One row of `DELETE /images/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

/// One row of `GET /images/{name}/history` (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryItem {
    pub id: String,
    /// RFC 3339, empty if the image does not say.
    pub created: String,
    pub created_by: String,
    pub size: u64,
    pub tags: Vec<String>,
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImageRecord {
    id: Digest,
    diff_ids: Vec<Digest>,
    size: u64,
    created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<Digest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LayerRecord {
    chain_id: Digest,
    diff_id: Digest,
    parent: Option<Digest>,
    /// Unpacked bytes.
    size: u64,
    /// Bytes of the uncompressed tar (the blob stored under the diff id).
    tar_size: u64,
}

/// A layer unpacked into staging, not yet committed.
struct Staged {
    dir: StagingDir,
    diff_id: Digest,
    size: u64,
    tar_size: u64,
    /// The uncompressed tar, stored when the image is recorded.
    blob: Option<berth_store::BlobWriter>,
}

/// A registry repository that holds a layer, compressed as `digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistSource {
    /// `host[:port]/path` (`docker.io/library/busybox`).
    pub repository: String,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

impl DistSource {
    pub fn of(repository: &str, desc: &oci_spec::image::Descriptor) -> DistSource {
        DistSource {
            repository: repository.to_string(),
            digest: desc.digest().to_string(),
            media_type: desc.media_type().to_string(),
            size: desc.size(),
        }
    }
}

/// A directory under `tmp/` removed on drop unless taken.
struct StagingDir(PathBuf);

impl StagingDir {
    fn new(tmp: &Path, prefix: &str) -> Result<StagingDir> {
        let seq = STAGING_SEQ.fetch_add(1, Ordering::Relaxed);
        let p = tmp.join(format!("{prefix}-{}-{seq}", std::process::id()));
        fs::create_dir_all(&p).map_err(io_err(format!("create {}", p.display())))?;
        Ok(StagingDir(p))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(e) = fs::remove_dir_all(&self.0) {
                tracing::warn!("cannot remove {}: {e}", self.0.display());
            }
        }
    }
}

/// What an image being created consists of.
struct NewImage {
    config: Vec<u8>,
    diff_ids: Vec<Digest>,
    tags: Vec<Reference>,
    /// Set by commit only.
    parent: Option<Digest>,
}

/// Chain ids in use by operations that have not committed yet; removal
/// leaves them alone. The mutex also serialises metadata mutations.
#[derive(Default)]
struct State {
    pins: HashMap<Digest, usize>,
}

/// The image store. `Send + Sync`; every method blocks.
pub struct ImageStore {
    root: PathBuf,
    content: ContentStore,
    db: MetaDb,
    snap: Snapshotter,
    state: Mutex<State>,
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

struct Pins<'a> {
    store: &'a ImageStore,
    chains: Vec<Digest>,
}

impl Drop for Pins<'_> {
    fn drop(&mut self) {
        let mut st = self.store.lock();
        for c in &self.chains {
            if let Some(n) = st.pins.get_mut(c) {
                *n -= 1;
                if *n == 0 {
                    st.pins.remove(c);
                }
            }
        }
    }
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

pub(crate) use crate::platform::host_arch;

/// Parses an image config leniently (docker omits empty `diff_ids`) and
/// returns it with its validated diff ids.
pub(crate) fn parse_config(raw: &[u8]) -> Result<(ImageConfiguration, Vec<Digest>)> {
    let bad = |m: String| Error::invalid(format!("invalid image config: {m}"));
    let mut v: Value = serde_json::from_slice(raw).map_err(|e| bad(e.to_string()))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    for (k, dflt) in [("architecture", host_arch()), ("os", "linux")] {
        if !obj.get(k).is_some_and(Value::is_string) {
            obj.insert(k.into(), Value::String(dflt.into()));
        }
    }
    let rootfs = obj
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers"}));
    let rootfs = rootfs
        .as_object_mut()
        .ok_or_else(|| bad("rootfs is not an object".into()))?;
    if rootfs.get("diff_ids").is_none_or(Value::is_null) {
        rootfs.insert("diff_ids".into(), json!([]));
    }
    if !rootfs.get("type").is_some_and(Value::is_string) {
        rootfs.insert("type".into(), json!("layers"));
    }
    // Fields docker writes as null where the OCI types want a value.
    if obj.get("history").is_some_and(Value::is_null) {
        obj.remove("history");
    }
    if obj.get("config").is_some_and(Value::is_null) {
        obj.remove("config");
    }
    let config: ImageConfiguration = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
    let diff_ids = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| Digest::parse(d).map_err(|e| bad(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    Ok((config, diff_ids))
}

/// docker's isSingleReference: one tag, possibly with digest references
/// of that same repository.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut canonical = BTreeSet::new();
    for r in refs {
        if r.digest().is_some() {
            canonical.insert(r.name());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical.len() == 1 && canonical.contains(&single.name())
}

/// The tag an image being created gets from `repo[:tag]` (`latest` by
/// default); digest references are refused (`verb`: what is being done).
fn new_image_tag(reference: Option<&str>, verb: &str) -> Result<Option<Reference>> {
    match reference.filter(|r| !r.is_empty()) {
        Some(r) => {
            let r = Reference::parse(r).map_err(Error::InvalidArgument)?;
            if r.digest().is_some() {
                return Err(Error::invalid(format!(
                    "cannot {verb} with a digest reference: {r}"
                )));
            }
            Ok(Some(r.with_default_tag()))
        }
        None => Ok(None),
    }
}

fn is_id_prefix(id: &Digest, s: &str) -> bool {
    id.as_str().starts_with(s) || id.hex().starts_with(s)
}

impl ImageStore {
    /// Opens (creating if needed) the store at `root`, and removes what an
    /// interrupted operation of a previous process left behind.
    pub fn open(root: &Path) -> Result<ImageStore> {
        fs::create_dir_all(root).map_err(io_err(format!("create {}", root.display())))?;
        let snap = Snapshotter::new(root)?;
        let content = ContentStore::new(&root.join("content"))?;
        content.clean_ingest()?;
        let db = MetaDb::open(&root.join("meta.redb"), &[IMAGES, REFS, LAYERS, DIST])?;
        let store = ImageStore {
            root: root.to_path_buf(),
            content,
            db,
            snap,
            state: Mutex::new(State::default()),
        };
        store.clean_tmp()?;
        store.gc()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn clean_tmp(&self) -> Result<()> {
        let tmp = self.snap.tmp_dir();
        for e in fs::read_dir(&tmp).map_err(io_err(format!("read {}", tmp.display())))? {
            let p = e.map_err(io_err(format!("read {}", tmp.display())))?.path();
            let r = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            if let Err(e) = r {
                tracing::warn!("cannot remove {}: {e}", p.display());
            }
        }
        Ok(())
    }

    /// Drops records, layer dirs and blobs that no image references.
    fn gc(&self) -> Result<()> {
        let _st = self.lock();
        let images: Vec<(String, ImageRecord)> = self.db.list(IMAGES)?;
        let ids: HashSet<String> = images.iter().map(|(k, _)| k.clone()).collect();
        let used: HashSet<Digest> = images
            .iter()
            .flat_map(|(_, r)| chain_ids(&r.diff_ids))
            .collect();
        let layers: Vec<(String, LayerRecord)> = self.db.list(LAYERS)?;
        let refs: Vec<(String, String)> = self.db.list(REFS)?;
        let stale_layers: Vec<&LayerRecord> = layers
            .iter()
            .map(|(_, l)| l)
            .filter(|l| !used.contains(&l.chain_id))
            .collect();
        let stale_refs: Vec<&String> = refs
            .iter()
            .filter(|(_, id)| !ids.contains(id))
            .map(|(k, _)| k)
            .collect();
        if !stale_layers.is_empty() || !stale_refs.is_empty() {
            self.db.write(|tx| {
                for l in &stale_layers {
                    tx.delete(LAYERS, l.chain_id.as_str())?;
                }
                for r in &stale_refs {
                    tx.delete(REFS, r)?;
                }
                Ok::<_, Error>(())
            })?;
        }
        let kept: HashMap<String, &LayerRecord> = layers
            .iter()
            .filter(|(_, l)| used.contains(&l.chain_id))
            .map(|(_, l)| (l.chain_id.hex().to_string(), l))
            .collect();
        for hex in self.snap.layer_dirs_on_disk()? {
            if !kept.contains_key(&hex) {
                match Digest::from_hex(&hex) {
                    Ok(d) => self.snap.remove_layer(&d)?,
                    Err(_) => {
                        let p = self.snap.root().join("layers").join(&hex);
                        let _ = fs::remove_dir_all(p);
                    }
                }
            }
        }
        let mut keep_blobs: HashSet<Digest> = kept.values().map(|l| l.diff_id.clone()).collect();
        let dist: Vec<(String, Vec<DistSource>)> = self.db.list(DIST)?;
        let stale_dist: Vec<&String> = dist
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !Digest::parse(k).is_ok_and(|d| keep_blobs.contains(&d)))
            .collect();
        if !stale_dist.is_empty() {
            self.db.write(|tx| {
                for k in &stale_dist {
                    tx.delete(DIST, k)?;
                }
                Ok::<_, Error>(())
            })?;
        }
        keep_blobs.extend(images.iter().map(|(_, r)| r.id.clone()));
        for b in self.content.list()? {
            if !keep_blobs.contains(&b) {
                self.content.delete(&b)?;
            }
        }
        Ok(())
    }

    // ---- lookups ------------------------------------------------------

    fn record(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        Ok(self.db.get(IMAGES, id.as_str())?)
    }

    /// An image id from a unique prefix of it (`abc`, `sha256:abc`).
    fn search_prefix(&self, s: &str) -> Result<Option<Digest>> {
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if hex.is_empty()
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Ok(None);
        }
        let images: Vec<(String, ImageRecord)> = self.db.list(IMAGES)?;
        let mut found = images
            .into_iter()
            .filter(|(_, r)| r.id.hex().starts_with(hex));
        match (found.next(), found.next()) {
            (Some((_, r)), None) => Ok(Some(r.id)),
            _ => Ok(None), // none, or ambiguous: docker answers "No such image"
        }
    }

    /// Resolves a name, reference or (prefix of an) id to an image id.
    fn resolve_id(&self, name: &str) -> Result<Digest> {
        let full_id = if berth_store::is_hex64(name) {
            Digest::from_hex(name).ok()
        } else {
            Digest::parse(name).ok()
        };
        if let Some(id) = full_id {
            return match self.record(&id)? {
                Some(_) => Ok(id),
                None => Err(Error::NotFound(id.to_string())),
            };
        }
        let r = Reference::parse(name).map_err(Error::InvalidArgument)?;
        let key = match r.digest() {
            Some(d) => r.with_digest(d),
            None => r.clone().with_default_tag(),
        };
        if let Some(id) = self.db.get::<String>(REFS, &key.to_string())? {
            if let Ok(id) = Digest::parse(&id) {
                return Ok(id);
            }
        }
        if let Some(id) = self.search_prefix(name)? {
            return Ok(id);
        }
        Err(Error::NotFound(key.familiar()))
    }

    /// The references (tags and digests) of an image.
    fn refs_of(&self, id: &Digest) -> Result<Vec<Reference>> {
        let all: Vec<(String, String)> = self.db.list(REFS)?;
        Ok(all
            .into_iter()
            .filter(|(_, v)| v == id.as_str())
            .filter_map(|(k, _)| Reference::parse(&k).ok())
            .collect())
    }

    fn build_image(&self, rec: ImageRecord, refs: &[Reference]) -> Result<Image> {
        let raw_config = self.content.read_all(&rec.id, MAX_CONFIG)?;
        let (config, _) = parse_config(&raw_config)?;
        let mut repo_tags: Vec<String> = refs
            .iter()
            .filter(|r| r.tag().is_some())
            .map(Reference::familiar)
            .collect();
        let mut repo_digests: Vec<String> = refs
            .iter()
            .filter(|r| r.digest().is_some())
            .map(Reference::familiar)
            .collect();
        repo_tags.sort();
        repo_digests.sort();
        Ok(Image {
            id: rec.id.to_string(),
            config,
            raw_config,
            repo_tags,
            repo_digests,
            size: rec.size,
            created: rec.created,
            layers: rec.diff_ids.iter().map(Digest::to_string).collect(),
            parent: rec.parent.as_ref().map(Digest::to_string),
        })
    }

    fn image(&self, id: &Digest) -> Result<Image> {
        let rec = self
            .record(id)?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let refs = self.refs_of(id)?;
        self.build_image(rec, &refs)
    }

    /// Finds an image by name (`busybox`, `busybox:1`, `reg:5000/x/y:t`,
    /// `name@sha256:...`) or id (`sha256:<hex>`, `<hex>`, a unique prefix).
    pub fn resolve(&self, name_or_id: &str) -> Result<Image> {
        let id = self.resolve_id(name_or_id)?;
        self.image(&id)
    }

    /// Every image.
    pub fn list(&self) -> Result<Vec<Image>> {
        let images: Vec<(String, ImageRecord)> = self.db.list(IMAGES)?;
        let mut refs: HashMap<String, Vec<Reference>> = HashMap::new();
        for (k, id) in self.db.list::<String>(REFS)? {
            if let Ok(r) = Reference::parse(&k) {
                refs.entry(id).or_default().push(r);
            }
        }
        let mut out = Vec::with_capacity(images.len());
        for (key, rec) in images {
            match self.build_image(rec, refs.get(&key).map(Vec::as_slice).unwrap_or(&[])) {
                Ok(img) => out.push(img),
                Err(e) => tracing::warn!("skipping image {key}: {e}"),
            }
        }
        Ok(out)
    }

    /// Chain ids of an image, bottom layer first.
    fn chains_of(image: &Image) -> Result<Vec<Digest>> {
        let diffs = image
            .layers
            .iter()
            .map(|d| Digest::parse(d).map_err(|e| Error::invalid(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        Ok(chain_ids(&diffs))
    }

    /// The unpacked layer directories of an image, top layer first.
    pub fn layer_dirs(&self, image: &Image) -> Vec<PathBuf> {
        Self::chains_of(image)
            .unwrap_or_default()
            .iter()
            .rev()
            .map(|c| self.snap.layer_diff(c))
            .collect()
    }

    // ---- container rw layers ---------------------------------------------

    /// Creates the rw layer of container `key` over `image`.
    pub fn prepare_rw(&self, key: &str, image: &Image) -> Result<OverlayMount> {
        self.snap.prepare_rw(key, &Self::chains_of(image)?)
    }

    /// The mount of an existing rw layer (creates nothing).
    pub fn rw_mount(&self, key: &str, image: &Image) -> Result<OverlayMount> {
        self.snap.rw_mount(key, &Self::chains_of(image)?)
    }

    /// The keys of every rw layer on disk (container ids).
    pub fn rw_keys(&self) -> Result<Vec<String>> {
        self.snap.rw_keys()
    }

    /// Unmounts (if needed) and deletes the rw layer of `key`.
    pub fn remove_rw(&self, key: &str) -> Result<()> {
        self.snap.remove_rw(key)
    }

    // ---- tag / remove / history -------------------------------------------

    /// `docker tag source repo:tag` (empty `tag` = `latest`).
    pub fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        if repo.is_empty() {
            return Err(Error::invalid(
                "repository name must have at least one component",
            ));
        }
        let r = Reference::parse(repo).map_err(Error::InvalidArgument)?;
        if r.digest().is_some() {
            return Err(Error::invalid(format!(
                "cannot tag a digest reference: \"{repo}\""
            )));
        }
        let r = if tag.is_empty() {
            r.with_default_tag()
        } else {
            r.with_tag(tag).map_err(Error::InvalidArgument)?
        };
        if r.familiar_name() == "sha256" {
            return Err(Error::invalid(
                "refusing to create an ambiguous tag using digest algorithm as name",
            ));
        }
        let _st = self.lock();
        let id = self.resolve_id(source)?;
        self.db
            .write(|tx| tx.put(REFS, &r.to_string(), &id.to_string()))?;
        Ok(())
    }

    /// Records `name@digest` for the image `source` (a push's manifest
    /// digest, which `RepoDigests` then lists).
    pub fn add_digest_reference(&self, source: &str, name: &str, digest: &str) -> Result<()> {
        let r = Reference::parse(&format!("{name}@{digest}")).map_err(Error::InvalidArgument)?;
        let _st = self.lock();
        let id = self.resolve_id(source)?;
        self.db
            .write(|tx| tx.put(REFS, &r.to_string(), &id.to_string()))?;
        Ok(())
    }

    /// `docker rmi`: untags and deletes like docker's `DELETE /images/{name}`.
    /// `in_use(image id)` names a container using the image, if any. An
    /// image in use is never deleted (its layers back the container); with
    /// `force` it is only untagged.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<DeleteItem>> {
        let st = self.lock();
        let id = self.resolve_id(name)?;
        let refs = self.refs_of(&id)?;
        let user = in_use(id.as_str());
        let mut items = Vec::new();
        let mut deleted_layers: Vec<LayerRecord> = Vec::new();
        let mut removed_repo_ref = false;
        let mut delete_image = true;

        self.db.write(|tx| -> Result<()> {
            let mut remaining = refs.clone();
            // A child image (committed from this one) needs it: dockerd's
            // hard conflict, checked before any other.
            let has_child = tx
                .list::<ImageRecord>(IMAGES)?
                .iter()
                .any(|(_, r)| r.parent.as_ref() == Some(&id));
            if !is_id_prefix(&id, name) {
                let parsed = Reference::parse(name).map_err(Error::InvalidArgument)?;
                let r = match parsed.digest() {
                    Some(d) => parsed.with_digest(d),
                    None => parsed.with_default_tag(),
                };
                if !force && is_single_reference(&refs) {
                    if let Some(c) = &user {
                        return Err(Error::Conflict(format!(
                            "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                            short_id(c),
                            short_id(id.as_str())
                        )));
                    }
                }
                if !tx.delete(REFS, &r.to_string())? {
                    return Err(Error::NotFound(r.familiar()));
                }
                items.push(DeleteItem::Untagged(r.familiar()));
                remaining.retain(|x| *x != r);
                if r.digest().is_none() {
                    let tag_left = remaining
                        .iter()
                        .any(|x| x.digest().is_none() && x.name() == r.name());
                    if !tag_left {
                        let (same, other): (Vec<_>, Vec<_>) = remaining
                            .into_iter()
                            .partition(|x| x.digest().is_some() && x.name() == r.name());
                        for x in same {
                            tx.delete(REFS, &x.to_string())?;
                            items.push(DeleteItem::Untagged(x.familiar()));
                        }
                        remaining = other;
                    }
                }
                if !remaining.is_empty() {
                    delete_image = false;
                    return Ok(());
                }
                removed_repo_ref = true;
            } else if is_single_reference(&refs) {
                if has_child {
                    return Err(child_conflict(&id));
                }
                if let (false, Some(c)) = (force, &user) {
                    return Err(stopped_conflict(&id, c));
                }
                for r in std::mem::take(&mut remaining) {
                    tx.delete(REFS, &r.to_string())?;
                    items.push(DeleteItem::Untagged(r.familiar()));
                }
            }

            if has_child {
                if removed_repo_ref {
                    // Untagged only, as dockerd: the child still needs it.
                    delete_image = false;
                    return Ok(());
                }
                return Err(child_conflict(&id));
            }
            if let Some(c) = &user {
                if removed_repo_ref || force {
                    // Untagged only: the container still needs the image.
                    delete_image = false;
                    return Ok(());
                }
                return Err(stopped_conflict(&id, c));
            }
            if !remaining.is_empty() {
                if !force {
                    return Err(Error::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        short_id(id.as_str())
                    )));
                }
                for r in remaining {
                    tx.delete(REFS, &r.to_string())?;
                    items.push(DeleteItem::Untagged(r.familiar()));
                }
            }
            let rec: Option<ImageRecord> = tx.get(IMAGES, id.as_str())?;
            tx.delete(IMAGES, id.as_str())?;
            if let Some(rec) = rec {
                deleted_layers = self.unused_layers(tx, &st, &rec)?;
                for l in &deleted_layers {
                    tx.delete(LAYERS, l.chain_id.as_str())?;
                }
            }
            Ok(())
        })?;

        berth_store::crash_point!("rmi.untagged");
        if !delete_image {
            return Ok(items);
        }
        // Records are gone; files follow (a crash here is cleaned by open).
        self.content.delete(&id)?;
        berth_store::crash_point!("rmi.config-deleted");
        let remaining_layers: Vec<(String, LayerRecord)> = self.db.list(LAYERS)?;
        let live_blobs: HashSet<&Digest> =
            remaining_layers.iter().map(|(_, l)| &l.diff_id).collect();
        items.push(DeleteItem::Deleted(id.to_string()));
        for l in deleted_layers.iter().rev() {
            self.snap.remove_layer(&l.chain_id)?;
            if !live_blobs.contains(&l.diff_id) {
                self.content.delete(&l.diff_id)?;
            }
            items.push(DeleteItem::Deleted(l.chain_id.to_string()));
        }
        drop(st);
        Ok(items)
    }

    /// Layers of `rec` that no other image (and no pending operation) uses.
    fn unused_layers(
        &self,
        tx: &WriteTx<'_>,
        st: &State,
        rec: &ImageRecord,
    ) -> Result<Vec<LayerRecord>> {
        let others: Vec<(String, ImageRecord)> = tx.list(IMAGES)?;
        let used: HashSet<Digest> = others
            .iter()
            .filter(|(_, r)| r.id != rec.id)
            .flat_map(|(_, r)| chain_ids(&r.diff_ids))
            .collect();
        let mut out = Vec::new();
        for c in chain_ids(&rec.diff_ids) {
            if used.contains(&c) || st.pins.contains_key(&c) {
                continue;
            }
            if let Some(l) = tx.get::<LayerRecord>(LAYERS, c.as_str())? {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// `docker history`: newest first; only the top row has the id and tags.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let img = self.resolve(name)?;
        let chains = Self::chains_of(&img)?;
        let mut sizes = Vec::with_capacity(chains.len());
        for c in &chains {
            let l: Option<LayerRecord> = self.db.get(LAYERS, c.as_str())?;
            sizes.push(l.map_or(0, |l| l.size));
        }
        let mut layer = 0;
        let mut items: Vec<HistoryItem> = img
            .config
            .history()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|h| {
                let size = if h.empty_layer().unwrap_or(false) {
                    0
                } else {
                    layer += 1;
                    sizes.get(layer - 1).copied().unwrap_or(0)
                };
                HistoryItem {
                    id: "<missing>".into(),
                    created: h.created().clone().unwrap_or_default(),
                    created_by: h.created_by().clone().unwrap_or_default(),
                    size,
                    tags: Vec::new(),
                    comment: h.comment().clone().unwrap_or_default(),
                }
            })
            .collect();
        items.reverse();
        if let Some(top) = items.first_mut() {
            top.id = img.id.clone();
            top.tags = img.repo_tags.clone();
        }
        Ok(items)
    }

    // ---- creating images --------------------------------------------------

    fn pin(&self, chains: &[Digest]) -> Pins<'_> {
        let mut st = self.lock();
        for c in chains {
            *st.pins.entry(c.clone()).or_default() += 1;
        }
        Pins {
            store: self,
            chains: chains.to_vec(),
        }
    }

    /// Whether a layer is complete on disk (record, unpacked dir, tar blob).
    fn layer_present(&self, chain: &Digest) -> Result<bool> {
        Ok(match self.db.get::<LayerRecord>(LAYERS, chain.as_str())? {
            Some(rec) => self.snap.has_layer(chain) && self.content.contains(&rec.diff_id),
            None => false,
        })
    }

    /// Unpacks a layer stream (compressed or not) into staging, storing
    /// its uncompressed tar as a blob. `expected` is the diff id to verify.
    fn stage_layer(
        &self,
        reader: impl Read,
        expected: Option<&Digest>,
        index: usize,
    ) -> Result<Staged> {
        let dir = StagingDir::new(&self.snap.tmp_dir(), "layer")?;
        let diff = dir.path().join("diff");
        fs::create_dir(&diff).map_err(io_err(format!("create {}", diff.display())))?;
        let mut blob = self.content.writer()?;
        let stats = {
            let decompressed = decompress(reader).map_err(read_err)?;
            let mut tee = Tee {
                inner: decompressed,
                out: &mut blob,
            };
            apply::unpack(&mut tee, &diff)?
        };
        let diff_id = blob.digest();
        if let Some(expected) = expected {
            if *expected != diff_id {
                return Err(Error::invalid(format!(
                    "invalid diffID for layer {index}: expected \"{expected}\", got \"{diff_id}\""
                )));
            }
        }
        let tar_size = blob.size();
        berth_store::crash_point!("image.layer-staged");
        Ok(Staged {
            dir,
            diff_id,
            size: stats.size,
            tar_size,
            blob: Some(blob),
        })
    }

    /// Records an image whose layers are either present or staged, and
    /// points its tags at it. Returns docker's messages for the tags.
    fn commit_image(
        &self,
        new: NewImage,
        staged: Vec<Option<Staged>>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(Digest, Vec<String>)> {
        self.commit_image_with(new, staged, &[], progress)
    }

    /// [`commit_image`](Self::commit_image), also remembering where
    /// registries hold its layers (`sources`: diff id -> source).
    fn commit_image_with(
        &self,
        new: NewImage,
        mut staged: Vec<Option<Staged>>,
        sources: &[(Digest, DistSource)],
        progress: &mut dyn FnMut(&str),
    ) -> Result<(Digest, Vec<String>)> {
        let id = Digest::of_bytes(&new.config);
        let chains = chain_ids(&new.diff_ids);
        self.content.write_blob(&new.config, Some(&id))?;
        berth_store::crash_point!("image.config-written");
        let (config, _) = parse_config(&new.config)?;
        let st = self.lock();
        let mut placed = false;
        for (i, s) in staged.iter_mut().enumerate() {
            if let Some(s) = s {
                if let Some(blob) = s.blob.take() {
                    // Synced below, with the layer files, by one syncfs.
                    blob.commit_unsynced(Some(&s.diff_id))?;
                }
                self.snap.commit_layer(s.dir.path(), &chains[i])?;
                placed = true;
            }
        }
        if placed {
            self.sync_layers()?;
        }
        berth_store::crash_point!("image.layers-placed");
        let mut renamed = Vec::new();
        self.db.write(|tx| -> Result<()> {
            let mut size = 0;
            for (i, chain) in chains.iter().enumerate() {
                let rec = match tx.get::<LayerRecord>(LAYERS, chain.as_str())? {
                    Some(rec) => rec,
                    None => {
                        let s = staged[i].as_ref().ok_or_else(|| Error::Io {
                            context: format!("layer {chain}"),
                            source: std::io::Error::new(std::io::ErrorKind::NotFound, "layer vanished"),
                        })?;
                        let rec = LayerRecord {
                            chain_id: chain.clone(),
                            diff_id: s.diff_id.clone(),
                            parent: i.checked_sub(1).map(|p| chains[p].clone()),
                            size: s.size,
                            tar_size: s.tar_size,
                        };
                        tx.put(LAYERS, chain.as_str(), &rec)?;
                        rec
                    }
                };
                size += rec.size;
            }
            // Loading an image again must not forget what it was committed from.
            let parent = match &new.parent {
                Some(p) => Some(p.clone()),
                None => tx
                    .get::<ImageRecord>(IMAGES, id.as_str())?
                    .and_then(|r| r.parent),
            };
            let rec = ImageRecord {
                id: id.clone(),
                diff_ids: new.diff_ids.clone(),
                size,
                created: config.created().clone(),
                parent,
            };
            tx.put(IMAGES, id.as_str(), &rec)?;
            for (diff_id, src) in sources {
                add_dist_source(tx, diff_id, src)?;
            }
            for t in &new.tags {
                let key = t.to_string();
                let prev = tx.get::<String>(REFS, &key)?;
                renamed.push(prev.filter(|p| p != id.as_str()).map(|prev| {
                    format!(
                        "The image {} already exists, renaming the old one with ID {prev} to empty string",
                        t.familiar()
                    )
                }));
                tx.put(REFS, &key, &id.to_string())?;
            }
            Ok(())
        })?;
        berth_store::crash_point!("image.recorded");
        drop(st);
        let mut loaded = Vec::new();
        for (i, t) in new.tags.iter().enumerate() {
            if let Some(Some(m)) = renamed.get(i) {
                progress(m);
            }
            let m = format!("Loaded image: {}", t.familiar());
            progress(&m);
            loaded.push(m);
        }
        if new.tags.is_empty() {
            let m = format!("Loaded image ID: {id}");
            progress(&m);
            loaded.push(m);
        }
        Ok((id, loaded))
    }

    /// Once the transaction below commits (durably), the records say the
    /// new layers are there: their files must be on disk first, or a power
    /// cut leaves a recorded layer with files missing. One syncfs flushes
    /// them all, cheaper than an fsync per file of every layer.
    fn sync_layers(&self) -> Result<()> {
        let root = self.snap.root();
        let dir = fs::File::open(root).map_err(io_err(format!("open {}", root.display())))?;
        nix::unistd::syncfs(&dir).map_err(|e| Error::Io {
            context: format!("sync {}", root.display()),
            source: e.into(),
        })
    }

    /// `docker import`: a rootfs tar (plain, gzip, zstd or bzip2) becomes a
    /// one-layer image; `changes` are Dockerfile instructions. Returns the
    /// image id.
    pub fn import(
        &self,
        reader: impl Read,
        reference: Option<&str>,
        changes: &[String],
        message: &str,
    ) -> Result<String> {
        self.import_as(reader, reference, changes, message, None)
    }

    /// `docker import --platform`: the image is recorded for `platform`
    /// (the host's when absent), whatever the files in it are built for.
    pub fn import_as(
        &self,
        reader: impl Read,
        reference: Option<&str>,
        changes: &[String],
        message: &str,
        platform: Option<&crate::Platform>,
    ) -> Result<String> {
        let tag = new_image_tag(reference, "import")?;
        let mut cfg = docker_container_config();
        apply_instructions(&mut cfg, changes)?;
        let staged = self.stage_layer(reader, None, 0)?;
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let comment = if message.is_empty() {
            "Imported from -"
        } else {
            message
        };
        let mut config = json!({
            "architecture": platform.map_or(host_arch(), |p| p.architecture.as_str()),
            "comment": comment,
            "config": Value::Object(cfg),
            "created": created,
            "history": [{"created": created, "comment": comment}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [staged.diff_id.to_string()]},
        });
        if let Some(p) = platform {
            config["os"] = json!(p.os);
            if !p.variant.is_empty() {
                config["variant"] = json!(p.variant);
            }
        }
        let config = serde_json::to_vec(&config).map_err(|e| Error::invalid(e.to_string()))?;
        let diff_ids = vec![staged.diff_id.clone()];
        let chains = chain_ids(&diff_ids);
        let _pins = self.pin(&chains);
        let staged = if self.layer_present(&chains[0])? {
            None
        } else {
            Some(staged)
        };
        let new = NewImage {
            config,
            diff_ids,
            tags: tag.into_iter().collect(),
            parent: None,
        };
        let (id, _) = self.commit_image(new, vec![staged], &mut |_| {})?;
        Ok(id.to_string())
    }
}

/// Remembers that `src` holds the layer `diff_id` (newest first, one entry
/// per repository).
fn add_dist_source(tx: &mut WriteTx<'_>, diff_id: &Digest, src: &DistSource) -> Result<()> {
    let mut list: Vec<DistSource> = tx.get(DIST, diff_id.as_str())?.unwrap_or_default();
    list.retain(|s| s.repository != src.repository || s.digest != src.digest);
    list.insert(0, src.clone());
    list.truncate(MAX_DIST_SOURCES);
    tx.put(DIST, diff_id.as_str(), &list)?;
    Ok(())
}

impl ImageStore {
    /// Where registries hold the layer `diff_id`, newest first.
    pub fn dist_sources(&self, diff_id: &Digest) -> Result<Vec<DistSource>> {
        Ok(self.db.get(DIST, diff_id.as_str())?.unwrap_or_default())
    }

    /// Records that `src` holds the layer `diff_id` (after a push).
    pub fn add_dist_source(&self, diff_id: &Digest, src: &DistSource) -> Result<()> {
        let _st = self.lock();
        self.db.write(|tx| add_dist_source(tx, diff_id, src))
    }

    /// The uncompressed tar of the layer `diff_id`, for push.
    pub fn layer_tar(&self, diff_id: &Digest) -> Result<(std::fs::File, u64)> {
        let size = self.content.size(diff_id)?;
        Ok((self.content.open(diff_id)?, size))
    }
}

fn child_conflict(id: &Digest) -> Error {
    Error::Conflict(format!(
        "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
        short_id(id.as_str())
    ))
}

fn stopped_conflict(id: &Digest, container: &str) -> Error {
    Error::Conflict(format!(
        "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
        short_id(id.as_str()),
        short_id(container)
    ))
}

/// The `config` object docker writes for an image made without a build.
fn docker_container_config() -> Map<String, Value> {
    let v = json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null,
        "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Copies everything read through it into `out`.
struct Tee<'a, R, W> {
    inner: R,
    out: &'a mut W,
}

impl<R: Read, W: std::io::Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<ImageStore>();
}
