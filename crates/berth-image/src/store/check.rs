//! `berthd --check`: the image store's consistency, read without changing
//! anything, while no daemon has the store open.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use berth_store::{ContentStore, Digest, MetaDb};

use super::{ImageRecord, LayerRecord, IMAGES, LAYERS, MAX_CONFIG, REFS};
use crate::error::{Error, Result};
use crate::snapshot::{chain_ids, Snapshotter};

/// What a check found: `problems` (one sentence each; empty when the store
/// is consistent), and what the container side needs to check against.
#[derive(Debug, Default)]
pub struct StoreCheck {
    pub problems: Vec<String>,
    /// Ids (`sha256:...`) of the images in the store.
    pub images: HashSet<String>,
    /// Keys of the writable layers on disk.
    pub rw_keys: Vec<String>,
}

/// Whether `e` says another process holds the database.
pub fn in_use(e: &Error) -> bool {
    e.to_string().contains("already open")
}

/// Checks the store at `root`: every image's config and layers present and
/// recorded, every tag pointing at an image, and nothing on disk that no
/// record accounts for (staging, ingest, layers, blobs).
pub fn check(root: &Path) -> Result<StoreCheck> {
    let mut out = StoreCheck::default();
    if !root.join("meta.redb").exists() {
        return Ok(out);
    }
    let db = MetaDb::open_read_only(&root.join("meta.redb"))?;
    let content = ContentStore::new(&root.join("content"))?;
    let snap = Snapshotter::new(root)?;
    let images: Vec<(String, ImageRecord)> = db.list(IMAGES)?;
    let layers: Vec<(String, LayerRecord)> = db.list(LAYERS)?;
    let refs: Vec<(String, String)> = db.list(REFS)?;
    let p = &mut out.problems;
    let mut used_chains = HashSet::new();
    let mut used_blobs: HashSet<Digest> = HashSet::new();
    for (key, img) in &images {
        out.images.insert(key.clone());
        if let Err(e) = content.read_all(&img.id, MAX_CONFIG) {
            p.push(format!("image {key}: its config cannot be read: {e}"));
        }
        used_blobs.insert(img.id.clone());
        for chain in chain_ids(&img.diff_ids) {
            used_chains.insert(chain.clone());
            match layers.iter().find(|(k, _)| k == chain.as_str()) {
                None => p.push(format!("image {key}: layer {chain} has no record")),
                Some((_, l)) => {
                    used_blobs.insert(l.diff_id.clone());
                    if !snap.has_layer(&chain) {
                        p.push(format!("image {key}: layer {chain} is not on disk"));
                    }
                    if !content.contains(&l.diff_id) {
                        p.push(format!("image {key}: the tar of layer {chain} is missing"));
                    }
                }
            }
        }
    }
    for (name, id) in &refs {
        if !out.images.contains(id) {
            p.push(format!(
                "tag {name} points at image {id}, which does not exist"
            ));
        }
    }
    for (chain, _) in &layers {
        if !used_chains.iter().any(|c| c.as_str() == chain) {
            p.push(format!("layer {chain} is recorded but no image uses it"));
        }
    }
    for hex in snap.layer_dirs_on_disk()? {
        if !used_chains.iter().any(|c| c.hex() == hex) {
            p.push(format!("layer directory {hex} belongs to no image"));
        }
    }
    for blob in content.list()? {
        if !used_blobs.contains(&blob) {
            p.push(format!("blob {blob} belongs to no image"));
        }
    }
    for name in content.ingest_leftovers()? {
        p.push(format!("unfinished blob write left over: {name}"));
    }
    let tmp = snap.tmp_dir();
    for e in fs::read_dir(&tmp).into_iter().flatten().flatten() {
        p.push(format!(
            "staging left over: {}",
            tmp.join(e.file_name()).display()
        ));
    }
    out.rw_keys = snap.rw_keys()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageStore;

    #[test]
    fn a_clean_store_passes_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("image");
        {
            let store = ImageStore::open(&root).unwrap();
            let mut tar = crate::testutil::TarBuilder::new();
            tar.file("a.txt", 0o644, b"hello");
            let layer = tar.finish();
            store.import(&layer[..], Some("t:1"), &[], "").unwrap();
            store
                .prepare_rw("c1", &store.resolve("t:1").unwrap())
                .unwrap();
        }
        let ok = check(&root).unwrap();
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert_eq!(ok.images.len(), 1);
        assert_eq!(ok.rw_keys, vec!["c1".to_string()]);

        // A crash's leftovers and a lost layer directory.
        fs::write(root.join("tmp").join("layer-1-0"), b"").unwrap();
        let layers = root.join("layers");
        let hex = fs::read_dir(&layers)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name();
        fs::rename(layers.join(&hex), root.join("elsewhere")).unwrap();
        let bad = check(&root).unwrap();
        assert_eq!(bad.problems.len(), 2, "{:?}", bad.problems);
        assert!(bad.problems[0].contains("is not on disk"));
        assert!(bad.problems[1].starts_with("staging left over"));

        // While a daemon has the store open, the check says so.
        fs::remove_file(root.join("tmp").join("layer-1-0")).unwrap();
        let _held = ImageStore::open(&root).unwrap();
        let e = check(&root).unwrap_err();
        assert!(in_use(&e), "{e}");
    }
}
