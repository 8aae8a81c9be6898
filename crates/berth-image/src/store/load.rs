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
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageIndex, MediaType};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::source::{collect, is_attestation, BlobSource, CreateOptions, LayerEvent, SourceImage};
use super::{parse_config, ImageStore, StagingDir, MAX_CONFIG};
use crate::apply::{clean_components, read_err};
use crate::error::{io_err, Error, Result};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::tarstream::{EntryKind, TarError, TarReader};
use berth_store::Digest;

/// Most members an archive may have (each costs a little memory).
const MAX_ENTRIES: usize = 100_000;
/// Longest member path or link target, and all of them together.
const MAX_PATH: usize = 4096;
const MAX_PATH_BYTES: usize = 16 << 20;
const MAX_LINK_HOPS: usize = 16;
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

#[derive(Deserialize)]
struct LegacyItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// A spooled file as the descriptor of a blob (legacy archives name
/// layers by path; the store reads every blob by descriptor).
fn descriptor_of(f: &SpoolFile) -> Result<Descriptor> {
    let digest =
        oci_spec::image::Digest::from_str(f.digest.as_str()).map_err(|e| invalid(e.to_string()))?;
    Ok(Descriptor::new(MediaType::ImageLayer, f.size, digest))
}

fn legacy(spool: &Spool) -> Result<Vec<SourceImage>> {
    let items: Vec<LegacyItem> = json(&spool.read_small("manifest.json")?, "manifest.json")?;
    let mut out: Vec<SourceImage> = Vec::new();
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
        let layers = item
            .layers
            .iter()
            .map(|l| descriptor_of(spool.get(l)?))
            .collect::<Result<Vec<_>>>()?;
        let mut tags = Vec::new();
        for t in item.repo_tags.unwrap_or_default() {
            let r = Reference::parse(&t).map_err(|e| invalid(format!("invalid tag {t:?}: {e}")))?;
            if r.tag().is_none() || r.digest().is_some() {
                return Err(invalid(format!("invalid tag {t:?}")));
            }
            tags.push(r);
        }
        let key = Digest::of_bytes(&config).to_string();
        match out.iter_mut().find(|p| p.manifest_digest == key) {
            Some(p) => p.add_tags(tags),
            None => out.push(SourceImage {
                manifest_digest: key,
                config,
                diff_ids,
                layers,
                tags,
            }),
        }
    }
    Ok(out)
}

/// Blobs of an archive are found by digest: under `blobs/sha256/` in an
/// OCI layout, anywhere (`<id>/layer.tar`) in a legacy one.
impl BlobSource for Spool {
    fn open(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let d = Digest::parse(desc.digest().as_ref()).map_err(|e| invalid(e.to_string()))?;
        let path = format!("blobs/sha256/{}", d.hex());
        let f = match self.lookup(&path) {
            Some(f) => f,
            None => self
                .files
                .values()
                .find(|f| f.digest == d)
                .ok_or_else(|| invalid(format!("blob {d} not found in the archive")))?,
        };
        let file = File::open(&f.file).map_err(io_err(format!("open spooled {path}")))?;
        Ok(Box::new(file))
    }
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

#[derive(Deserialize)]
struct OciLayout {
    #[serde(rename = "imageLayoutVersion")]
    version: String,
}

fn oci(spool: &Spool) -> Result<Vec<SourceImage>> {
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
    let host = Platform::host();
    for d in index.manifests() {
        if is_attestation(d) {
            continue;
        }
        collect(spool, d, tags_of(d), &host, 0, &mut out)?;
    }
    Ok(out)
}

impl ImageStore {
    /// `docker load`. `progress` gets docker's lines as they happen; the
    /// result is the `Loaded image: ...` / `Loaded image ID: ...` lines.
    pub fn load(&self, reader: impl Read, progress: &mut dyn FnMut(&str)) -> Result<Vec<String>> {
        self.load_reporting(reader, progress, &|_, _| {})
    }

    /// `docker load` without `quiet`: also reports each layer it unpacks
    /// (diff id and unpacked size), for dockerd's "Loading layer" lines.
    pub fn load_reporting(
        &self,
        reader: impl Read,
        progress: &mut dyn FnMut(&str),
        layer: &(dyn Fn(&Digest, u64) + Sync),
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
            let diff_ids = p.diff_ids.clone();
            let on_layer = |i: usize, _: &Descriptor, event: LayerEvent| {
                if let (LayerEvent::Unpacked { size }, Some(d)) = (event, diff_ids.get(i)) {
                    layer(d, size);
                }
            };
            // One layer at a time keeps dockerd's order of "Loading layer".
            let opts = CreateOptions {
                concurrency: 1,
                source_repository: None,
                progress: &on_layer,
            };
            let created = self.create_from_source(&spool, p, &opts)?;
            for l in &created.lines {
                progress(l);
            }
            messages.extend(created.loaded);
        }
        Ok(messages)
    }
}
