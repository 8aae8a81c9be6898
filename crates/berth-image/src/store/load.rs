//! `docker load`: a `docker save` tar in the legacy layout (`manifest.json`
//! with `Config`, `RepoTags`, `Layers`) or an OCI image layout
//! (`oci-layout`, `index.json`, nested indexes, gzip/zstd layers).
//!
//! The archive is a stream and `manifest.json` may come last, so every
//! regular member is first spooled to a staging directory while hashed
//! (bounded memory), and the images are resolved after the end.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::{host_arch, parse_config, ImageStore, NewImage, StagingDir, MAX_CONFIG};
use crate::apply::{clean_components, read_err};
use crate::error::{io_err, Error, Result};
use crate::reference::Reference;
use crate::tarstream::{EntryKind, TarError, TarReader};
use berth_store::Digest;

/// Most members an archive may have (each costs a little memory).
const MAX_ENTRIES: usize = 100_000;
/// Longest member path or link target, and all of them together.
const MAX_PATH: usize = 4096;
const MAX_PATH_BYTES: usize = 16 << 20;
const MAX_LINK_HOPS: usize = 16;
const MAX_INDEX_DEPTH: usize = 4;

const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

/// A normalised archive path (`a/b`), or an error for one escaping the root.
fn clean(raw: &[u8]) -> Result<String> {
    let comps =
        clean_components(raw).map_err(|e| invalid(format!("invalid archive entry: {e}")))?;
    Ok(comps
        .iter()
        .map(|c| c.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

struct SpoolFile {
    file: PathBuf,
    digest: Digest,
    size: u64,
}

/// The regular members of the archive, on disk, by path.
struct Spool {
    _dir: StagingDir,
    files: HashMap<String, SpoolFile>,
    links: HashMap<String, String>,
}

impl Spool {
    fn read(store: &ImageStore, reader: impl Read) -> Result<Spool> {
        let dir = StagingDir::new(&store.snap.tmp_dir(), "load")?;
        let mut spool = Spool {
            files: HashMap::new(),
            links: HashMap::new(),
            _dir: dir,
        };
        let mut tar = TarReader::new(reader);
        let mut count = 0usize;
        let mut path_bytes = 0usize;
        let mut buf = vec![0u8; 128 * 1024];
        while let Some(hdr) = tar.next_entry().map_err(archive_err)? {
            count += 1;
            if count > MAX_ENTRIES {
                return Err(invalid(format!(
                    "archive has more than {MAX_ENTRIES} entries"
                )));
            }
            if hdr.path.len() > MAX_PATH || hdr.link.len() > MAX_PATH {
                return Err(invalid("invalid archive: entry name too long"));
            }
            path_bytes += hdr.path.len() + hdr.link.len();
            if path_bytes > MAX_PATH_BYTES {
                return Err(invalid("invalid archive: too many entry names"));
            }
            let path = clean(&hdr.path)?;
            if path.is_empty() {
                continue;
            }
            match hdr.kind {
                EntryKind::File => {
                    let file = spool._dir.path().join(count.to_string());
                    let mut out = File::create(&file)
                        .map_err(io_err(format!("create {}", file.display())))?;
                    let mut hasher = Sha256::new();
                    let mut size = 0u64;
                    let mut data = tar.data();
                    loop {
                        let n = match data.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(archive_read_err(e)),
                        };
                        hasher.update(&buf[..n]);
                        out.write_all(&buf[..n])
                            .map_err(io_err("spool archive entry"))?;
                        size += n as u64;
                    }
                    spool.links.remove(&path);
                    spool.files.insert(
                        path,
                        SpoolFile {
                            file,
                            digest: Digest::from_hasher(hasher),
                            size,
                        },
                    );
                }
                EntryKind::Symlink => {
                    let target = if hdr.link.starts_with(b"/") {
                        clean(&hdr.link)?
                    } else {
                        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
                        let mut joined = parent.as_bytes().to_vec();
                        joined.push(b'/');
                        joined.extend_from_slice(&hdr.link);
                        clean(&joined)?
                    };
                    spool.files.remove(&path);
                    spool.links.insert(path, target);
                }
                EntryKind::Hardlink => {
                    let target = clean(&hdr.link)?;
                    spool.files.remove(&path);
                    spool.links.insert(path, target);
                }
                _ => {} // directories and anything else carry no image data
            }
        }
        // Whatever follows the end-of-archive marker is ignored.
        io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(archive_read_err)?;
        Ok(spool)
    }

    fn lookup(&self, path: &str) -> Option<&SpoolFile> {
        let mut p = clean(path.as_bytes()).ok()?;
        for _ in 0..MAX_LINK_HOPS {
            if let Some(f) = self.files.get(&p) {
                return Some(f);
            }
            p = self.links.get(&p)?.clone();
        }
        None
    }

    fn get(&self, path: &str) -> Result<&SpoolFile> {
        self.lookup(path)
            .ok_or_else(|| invalid(format!("{path} not found in the archive")))
    }

    fn open(&self, path: &str) -> Result<File> {
        let f = self.get(path)?;
        File::open(&f.file).map_err(io_err(format!("open spooled {path}")))
    }

    fn read_small(&self, path: &str) -> Result<Vec<u8>> {
        let f = self.get(path)?;
        if f.size > MAX_CONFIG {
            return Err(invalid(format!("{path} is too large ({} bytes)", f.size)));
        }
        std::fs::read(&f.file).map_err(io_err(format!("read spooled {path}")))
    }
}

fn archive_read_err(e: io::Error) -> Error {
    match read_err(e) {
        Error::InvalidLayer(m) => invalid(m),
        other => other,
    }
}

fn archive_err(e: TarError) -> Error {
    match e {
        TarError::Malformed(m) => invalid(format!("invalid archive: {m}")),
        TarError::Read(e) => archive_read_err(e),
    }
}

fn json<T: for<'de> Deserialize<'de>>(data: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(data).map_err(|e| invalid(format!("invalid {what}: {e}")))
}

/// An image found in the archive, before it is created.
struct Pending {
    key: String,
    config: Vec<u8>,
    diff_ids: Vec<Digest>,
    layers: Vec<String>,
    tags: Vec<Reference>,
}

impl Pending {
    fn add_tags(&mut self, tags: Vec<Reference>) {
        for t in tags {
            if !self.tags.contains(&t) {
                self.tags.push(t);
            }
        }
    }
}

#[derive(Deserialize)]
struct LegacyItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn legacy(spool: &Spool) -> Result<Vec<Pending>> {
    let items: Vec<LegacyItem> = json(&spool.read_small("manifest.json")?, "manifest.json")?;
    let mut out: Vec<Pending> = Vec::new();
    for item in items {
        let config = spool.read_small(&item.config)?;
        let (_, diff_ids) = parse_config(&config)?;
        if item.layers.len() != diff_ids.len() {
            return Err(invalid(format!(
                "invalid manifest, layers length mismatch: expected {}, got {}",
                diff_ids.len(),
                item.layers.len()
            )));
        }
        for l in &item.layers {
            spool.get(l)?;
        }
        let mut tags = Vec::new();
        for t in item.repo_tags.unwrap_or_default() {
            let r = Reference::parse(&t).map_err(|e| invalid(format!("invalid tag {t:?}: {e}")))?;
            if r.tag().is_none() || r.digest().is_some() {
                return Err(invalid(format!("invalid tag {t:?}")));
            }
            tags.push(r);
        }
        let key = Digest::of_bytes(&config).to_string();
        match out.iter_mut().find(|p| p.key == key) {
            Some(p) => p.add_tags(tags),
            None => out.push(Pending {
                key,
                config,
                diff_ids,
                layers: item.layers,
                tags,
            }),
        }
    }
    Ok(out)
}

fn blob<'a>(spool: &'a Spool, desc: &Descriptor) -> Result<(String, &'a SpoolFile)> {
    let alg = desc.digest().algorithm().to_string();
    if alg != "sha256" {
        return Err(invalid(format!("unsupported digest algorithm {alg}")));
    }
    let d = Digest::parse(desc.digest().as_ref()).map_err(|e| invalid(e.to_string()))?;
    let path = format!("blobs/sha256/{}", d.hex());
    let f = spool
        .lookup(&path)
        .ok_or_else(|| invalid(format!("blob {d} not found in the archive")))?;
    if f.digest != d {
        return Err(invalid(format!(
            "blob {d} does not match its digest (got {})",
            f.digest
        )));
    }
    if f.size != desc.size() {
        return Err(invalid(format!(
            "blob {d} has size {}, the descriptor says {}",
            f.size,
            desc.size()
        )));
    }
    Ok((path, f))
}

fn blob_bytes(spool: &Spool, desc: &Descriptor) -> Result<Vec<u8>> {
    let (path, _) = blob(spool, desc)?;
    spool.read_small(&path)
}

fn tags_of(desc: &Descriptor) -> Vec<Reference> {
    let Some(a) = desc.annotations() else {
        return Vec::new();
    };
    let parse = |s: &str| {
        Reference::parse(s)
            .ok()
            .filter(|r| r.digest().is_none())
            .map(Reference::with_default_tag)
    };
    if let Some(r) = a.get(ANNOTATION_IMAGE_NAME).and_then(|s| parse(s)) {
        return vec![r];
    }
    // ref.name is often just a tag ("latest"): only a full name counts.
    match a.get(ANNOTATION_REF_NAME) {
        Some(s) if s.contains([':', '/']) => parse(s).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn is_attestation(d: &Descriptor) -> bool {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get("vnd.docker.reference.type"))
        .is_some_and(|t| t == "attestation-manifest")
}

/// The manifest of an index for this host (linux/<arch>).
fn pick_platform(manifests: &[Descriptor]) -> Result<&Descriptor> {
    let arch = host_arch();
    let candidates: Vec<&Descriptor> = manifests.iter().filter(|d| !is_attestation(d)).collect();
    let matching = candidates.iter().find(|d| {
        d.platform()
            .as_ref()
            .is_some_and(|p| p.os().to_string() == "linux" && p.architecture().to_string() == arch)
    });
    if let Some(d) = matching {
        return Ok(d);
    }
    if let Some(d) = candidates.iter().find(|d| d.platform().is_none()) {
        return Ok(d);
    }
    Err(invalid(format!(
        "no matching manifest for linux/{arch} in the manifest list entries"
    )))
}

fn collect(
    spool: &Spool,
    desc: &Descriptor,
    tags: Vec<Reference>,
    depth: usize,
    out: &mut Vec<Pending>,
) -> Result<()> {
    if depth > MAX_INDEX_DEPTH {
        return Err(invalid("image indexes are nested too deeply"));
    }
    let media = desc.media_type().to_string();
    match media.as_str() {
        MT_OCI_INDEX | MT_DOCKER_LIST => {
            let index: ImageIndex = json(&blob_bytes(spool, desc)?, "image index")?;
            let chosen = pick_platform(index.manifests())?;
            collect(spool, chosen, tags, depth + 1, out)
        }
        MT_OCI_MANIFEST | MT_DOCKER_MANIFEST => {
            let key = desc.digest().to_string();
            if let Some(p) = out.iter_mut().find(|p| p.key == key) {
                p.add_tags(tags);
                return Ok(());
            }
            let manifest: ImageManifest = json(&blob_bytes(spool, desc)?, "image manifest")?;
            let config = blob_bytes(spool, manifest.config())?;
            let (_, diff_ids) = parse_config(&config)?;
            if manifest.layers().len() != diff_ids.len() {
                return Err(invalid(format!(
                    "invalid manifest, layers length mismatch: expected {}, got {}",
                    diff_ids.len(),
                    manifest.layers().len()
                )));
            }
            let layers = manifest
                .layers()
                .iter()
                .map(|l| blob(spool, l).map(|(p, _)| p))
                .collect::<Result<Vec<_>>>()?;
            out.push(Pending {
                key,
                config,
                diff_ids,
                layers,
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

#[derive(Deserialize)]
struct OciLayout {
    #[serde(rename = "imageLayoutVersion")]
    version: String,
}

fn oci(spool: &Spool) -> Result<Vec<Pending>> {
    if spool.lookup("oci-layout").is_some() {
        let layout: OciLayout = json(&spool.read_small("oci-layout")?, "oci-layout")?;
        if !layout.version.starts_with("1.") {
            return Err(invalid(format!(
                "unsupported OCI layout version {}",
                layout.version
            )));
        }
    }
    let index: ImageIndex = json(&spool.read_small("index.json")?, "index.json")?;
    let mut out = Vec::new();
    for d in index.manifests() {
        if is_attestation(d) {
            continue;
        }
        collect(spool, d, tags_of(d), 0, &mut out)?;
    }
    Ok(out)
}

impl ImageStore {
    /// `docker load`. `progress` gets docker's lines as they happen; the
    /// result is the `Loaded image: ...` / `Loaded image ID: ...` lines.
    pub fn load(&self, reader: impl Read, progress: &mut dyn FnMut(&str)) -> Result<Vec<String>> {
        self.load_reporting(reader, progress, &mut |_, _| {})
    }

    /// `docker load` without `quiet`: also reports each layer it unpacks
    /// (diff id and unpacked size), for dockerd's "Loading layer" lines.
    pub fn load_reporting(
        &self,
        reader: impl Read,
        progress: &mut dyn FnMut(&str),
        layer: &mut dyn FnMut(&Digest, u64),
    ) -> Result<Vec<String>> {
        // `docker load < image.tar.gz` works with dockerd: sniff and decode.
        let reader = crate::compress::decompress(reader).map_err(archive_read_err)?;
        let spool = Spool::read(self, reader)?;
        let pending = if spool.lookup("manifest.json").is_some() {
            legacy(&spool)?
        } else if spool.lookup("index.json").is_some() {
            oci(&spool)?
        } else {
            return Err(invalid(
                "invalid image archive: neither manifest.json nor index.json found",
            ));
        };
        if pending.is_empty() {
            return Err(invalid("invalid image archive: no images found"));
        }
        let mut messages = Vec::new();
        for p in pending {
            let layers = p.layers;
            let mut open = |i: usize| -> Result<Box<dyn Read>> {
                let path = layers
                    .get(i)
                    .ok_or_else(|| invalid("layer index out of range"))?;
                Ok(Box::new(spool.open(path)?))
            };
            let new = NewImage {
                config: p.config,
                diff_ids: p.diff_ids,
                tags: p.tags,
                parent: None,
            };
            let (_, msgs) = self.create_image(new, &mut open, progress, layer)?;
            messages.extend(msgs);
        }
        Ok(messages)
    }
}
