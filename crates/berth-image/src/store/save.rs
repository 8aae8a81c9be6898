//! `docker save`: streams a tar in docker 25's layout, which docker 20.10+
//! loads through `manifest.json` and OCI tools through `index.json`:
//!
//! ```text
//! blobs/sha256/<hex>   configs, uncompressed layer tars, OCI manifests
//! index.json           OCI index, one descriptor per tag
//! manifest.json        [{"Config", "RepoTags", "Layers"}]
//! oci-layout
//! repositories         legacy {"name": {"tag": "<top layer hex>"}}
//! ```

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};

use berth_store::Digest;
use serde_json::{json, Value};

use super::{ImageStore, REFS};
use crate::error::{io_err, Error, Result};
use crate::reference::Reference;

const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MT_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

struct Out<W: Write> {
    tar: tar::Builder<W>,
    written: HashSet<Digest>,
}

impl<W: Write> Out<W> {
    fn dir(&mut self, path: &str) -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_mtime(0);
        self.tar
            .append_data(&mut h, path, std::io::empty())
            .map_err(io_err("write archive"))
    }

    fn file(&mut self, path: &str, size: u64, mtime: u64, data: impl Read) -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        self.tar
            .append_data(&mut h, path, data.take(size))
            .map_err(io_err("write archive"))
    }

    /// Writes a blob once per archive.
    fn blob(&mut self, d: &Digest, size: u64, mtime: u64, data: impl Read) -> Result<()> {
        if self.written.insert(d.clone()) {
            self.file(&blob_path(d), size, mtime, data)?;
        }
        Ok(())
    }
}

impl ImageStore {
    /// Which images to save, with the tags to save them under (docker's
    /// rules: a name without tag means every tag of that repository).
    fn select_for_save(&self, names: &[String]) -> Result<Vec<(Digest, Vec<Reference>)>> {
        let mut out: Vec<(Digest, Vec<Reference>)> = Vec::new();
        let mut add = |id: Digest, r: Option<Reference>| {
            let pos = match out.iter().position(|(i, _)| *i == id) {
                Some(p) => p,
                None => {
                    out.push((id, Vec::new()));
                    out.len() - 1
                }
            };
            if let Some(r) = r {
                if !out[pos].1.contains(&r) {
                    out[pos].1.push(r);
                }
            }
        };
        for name in names {
            if berth_store::is_hex64(name) || Digest::parse(name).is_ok() {
                add(self.resolve_id(name)?, None);
                continue;
            }
            let r = Reference::parse(name).map_err(Error::InvalidArgument)?;
            if r.familiar_name() == "sha256" {
                let id = self
                    .search_prefix(name)?
                    .ok_or_else(|| Error::NotFound(name.clone()))?;
                add(id, None);
                continue;
            }
            if r.is_name_only() {
                let mut found = false;
                for (k, id) in self.db.list::<String>(REFS)? {
                    let Ok(tagged) = Reference::parse(&k) else {
                        continue;
                    };
                    let Ok(id) = Digest::parse(&id) else { continue };
                    if tagged.tag().is_some() && tagged.name() == r.name() {
                        add(id, Some(tagged));
                        found = true;
                    }
                }
                if !found {
                    let id = self
                        .search_prefix(name)?
                        .ok_or_else(|| Error::NotFound(r.clone().with_default_tag().familiar()))?;
                    add(id, None);
                }
                continue;
            }
            if r.digest().is_some() {
                add(self.resolve_id(name)?, None);
                continue;
            }
            let id: String = self
                .db
                .get(REFS, &r.to_string())?
                .ok_or_else(|| Error::NotFound(r.familiar()))?;
            let id = Digest::parse(&id)?;
            add(id, Some(r));
        }
        Ok(out)
    }

    /// `docker save`: streams the images named by `names` as a tar.
    pub fn save(&self, names: &[String], writer: impl Write) -> Result<()> {
        if names.is_empty() {
            return Err(Error::invalid("no images specified"));
        }
        let selected = self.select_for_save(names)?;
        let mut out = Out {
            tar: tar::Builder::new(writer),
            written: HashSet::new(),
        };
        out.dir("blobs/")?;
        out.dir("blobs/sha256/")?;

        let mut index = Vec::new();
        let mut manifest_json = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (id, tags) in &selected {
            let img = self.image(id)?;
            let mtime = img
                .created
                .as_deref()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .map_or(0, |t| t.timestamp().max(0) as u64);
            out.blob(id, img.raw_config.len() as u64, mtime, &img.raw_config[..])?;
            let mut layer_descs = Vec::new();
            let mut layer_paths = Vec::new();
            for diff in &img.layers {
                let d = Digest::parse(diff)?;
                let size = self.content.size(&d)?;
                if !out.written.contains(&d) {
                    out.blob(&d, size, mtime, self.content.reader(&d)?)?;
                }
                layer_descs
                    .push(json!({"mediaType": MT_LAYER, "digest": d.to_string(), "size": size}));
                layer_paths.push(blob_path(&d));
            }
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": MT_MANIFEST,
                "config": {"mediaType": MT_CONFIG, "digest": id.to_string(), "size": img.raw_config.len()},
                "layers": layer_descs,
            });
            let manifest =
                serde_json::to_vec(&manifest).map_err(|e| Error::invalid(e.to_string()))?;
            let mdigest = Digest::of_bytes(&manifest);
            out.blob(&mdigest, manifest.len() as u64, 0, &manifest[..])?;
            let desc = json!({"mediaType": MT_MANIFEST, "digest": mdigest.to_string(), "size": manifest.len()});
            if tags.is_empty() {
                index.push(desc.clone());
            }
            let mut repo_tags = Vec::new();
            for t in tags {
                let tag = t.tag().unwrap_or("latest").to_string();
                let mut d = desc.clone();
                d["annotations"] = json!({
                    "io.containerd.image.name": t.to_string(),
                    "org.opencontainers.image.ref.name": tag,
                });
                index.push(d);
                repo_tags.push(t.familiar());
                if let Some(top) = img.layers.last() {
                    let hex = top.strip_prefix("sha256:").unwrap_or(top).to_string();
                    repositories
                        .entry(t.familiar_name())
                        .or_default()
                        .insert(tag, hex);
                }
            }
            manifest_json.push(json!({
                "Config": blob_path(id),
                "RepoTags": if repo_tags.is_empty() { Value::Null } else { json!(repo_tags) },
                "Layers": layer_paths,
            }));
        }

        let index = json!({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": index});
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("index.json", to_vec(&index)?),
            ("manifest.json", to_vec(&Value::Array(manifest_json))?),
            ("oci-layout", br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec()),
        ];
        for (path, data) in files {
            out.file(path, data.len() as u64, 0, &data[..])?;
        }
        if !repositories.is_empty() {
            let data = to_vec(&json!(repositories))?;
            out.file("repositories", data.len() as u64, 0, &data[..])?;
        }
        let mut w = out.tar.into_inner().map_err(io_err("write archive"))?;
        w.flush().map_err(io_err("write archive"))
    }
}

fn to_vec(v: &Value) -> Result<Vec<u8>> {
    let mut data = serde_json::to_vec(v).map_err(|e| Error::invalid(e.to_string()))?;
    data.push(b'\n');
    Ok(data)
}
