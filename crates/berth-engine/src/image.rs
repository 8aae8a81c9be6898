//! The engine's image methods, behind `backend::ImagesBackend`: the image
//! half of the API over the blocking image store, shaped as docker answers
//! (list rows, inspect, history, delete items).

use std::io::{Read, Write};
use std::sync::Arc;

use berth_image::host_arch;
use bollard_stubs::models::{HistoryResponseItem, ImageSummary};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::filters::Filters;
use crate::{ids, timefmt, Engine};

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await?
}

fn created_of(img: &berth_image::Image) -> String {
    img.created
        .clone()
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// `GET /images/{name}/json` from the stored image and its raw config.
/// `Config` is the raw config's object as it is, not the wire model:
/// dockerd sends its `null`s (`Cmd`, `Env`, `Labels`, ...), which clients
/// index, and the model would leave them out.
fn inspect_of(img: &berth_image::Image) -> Value {
    let raw: Value = serde_json::from_slice(&img.raw_config).unwrap_or(Value::Null);
    let text = |key: &str, default: &str| {
        raw.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    json!({
        "Id": img.id,
        "RepoTags": img.repo_tags,
        "RepoDigests": img.repo_digests,
        "Parent": img.parent.clone().unwrap_or_default(),
        "Comment": text("comment", ""),
        "Created": created_of(img),
        "DockerVersion": text("docker_version", ""),
        "Author": text("author", ""),
        "Config": raw.get("config").cloned().unwrap_or(Value::Null),
        "Architecture": text("architecture", host_arch()),
        "Os": text("os", "linux"),
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": {"Name": "overlay2", "Data": null},
        "RootFS": {"Type": "layers", "Layers": img.layers},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    })
}

pub(crate) fn labels_of(img: &berth_image::Image) -> std::collections::HashMap<String, String> {
    img.config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .unwrap_or_default()
}

/// -1: not computed (docker's answer when the client did not ask).
const NOT_COMPUTED: i64 = -1;

fn summary(img: &berth_image::Image) -> ImageSummary {
    ImageSummary {
        id: img.id.clone(),
        parent_id: img.parent.clone().unwrap_or_default(),
        repo_tags: img.repo_tags.clone(),
        repo_digests: img.repo_digests.clone(),
        created: timefmt::unix(&created_of(img)),
        size: img.size as i64,
        shared_size: NOT_COMPUTED,
        virtual_size: Some(img.size as i64),
        labels: labels_of(img),
        containers: NOT_COMPUTED,
        manifests: None,
    }
}

fn reference_matches(pattern: &str, tag: &str) -> bool {
    // `busybox` matches `busybox:<any>`; `*` globs within the reference.
    let (repo, _) = tag.rsplit_once(':').unwrap_or((tag, ""));
    glob(pattern, tag) || glob(pattern, repo)
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| glob(tail, &text[head.len() + i..]))
        }
    }
}

impl Engine {
    /// One row of `GET /images/json`.
    pub(crate) fn image_summary(&self, img: &berth_image::Image) -> ImageSummary {
        summary(img)
    }

    /// `GET /images/json`. Without `all`, untagged images that are the
    /// parent of another (dockerd's intermediate images) are left out;
    /// `shared_size` fills `SharedSize` as `system df` does.
    pub async fn image_list(
        self: &Arc<Self>,
        all: bool,
        shared_size: bool,
        filters: Filters,
    ) -> Result<Vec<ImageSummary>> {
        filters.validate(&["dangling", "label", "reference", "before", "since"])?;
        let dangling = filters
            .contains("dangling")
            .then(|| filters.bool_or("dangling", false))
            .transpose()?;
        let images = self.images.clone();
        let list: Vec<berth_image::Image> = blocking(move || {
            let mut list = images.list()?;
            let parents: std::collections::HashSet<String> =
                list.iter().filter_map(|i| i.parent.clone()).collect();
            if !all {
                list.retain(|i| !(i.repo_tags.is_empty() && parents.contains(&i.id)));
            }
            list.sort_by_key(|i| std::cmp::Reverse(timefmt::unix(&created_of(i))));
            let before = filters
                .get("before")
                .first()
                .map(|n| images.resolve(n))
                .transpose()?;
            let since = filters
                .get("since")
                .first()
                .map(|n| images.resolve(n))
                .transpose()?;
            let refs = filters.get("reference");
            Ok(list
                .iter()
                .filter(|i| dangling.is_none_or(|d| d == i.repo_tags.is_empty()))
                .filter(|i| {
                    refs.is_empty()
                        || refs
                            .iter()
                            .any(|r| i.repo_tags.iter().any(|t| reference_matches(r, t)))
                })
                .filter(|i| {
                    let l = labels_of(i);
                    filters.labels_match(|k| l.get(k).cloned())
                })
                .filter(|i| {
                    before.as_ref().is_none_or(|b| {
                        timefmt::unix(&created_of(i)) < timefmt::unix(&created_of(b))
                    })
                })
                .filter(|i| {
                    since.as_ref().is_none_or(|s| {
                        timefmt::unix(&created_of(i)) > timefmt::unix(&created_of(s))
                    })
                })
                .cloned()
                .collect())
        })
        .await?;
        let mut rows: Vec<ImageSummary> = list.iter().map(summary).collect();
        if shared_size {
            let (shared, _) = self.shared_sizes(&list).await?;
            for (row, s) in rows.iter_mut().zip(shared) {
                row.shared_size = s as i64;
            }
        }
        Ok(rows)
    }

    pub async fn image_inspect(self: &Arc<Self>, name: &str) -> Result<Value> {
        let images = self.images.clone();
        let name = name.to_string();
        blocking(move || {
            let img = images.resolve(&name)?;
            Ok(inspect_of(&img))
        })
        .await
    }

    pub async fn image_history(self: &Arc<Self>, name: &str) -> Result<Vec<HistoryResponseItem>> {
        let images = self.images.clone();
        let name = name.to_string();
        blocking(move || {
            let items = images.history(&name)?;
            Ok(items
                .into_iter()
                .map(|h| HistoryResponseItem {
                    created: timefmt::unix(&h.created),
                    id: h.id,
                    created_by: h.created_by,
                    tags: h.tags,
                    size: h.size as i64,
                    comment: h.comment,
                })
                .collect())
        })
        .await
    }

    pub async fn image_tag(self: &Arc<Self>, name: &str, repo: &str, tag: &str) -> Result<()> {
        let images = self.images.clone();
        // An empty `tag` keeps one given inside `repo` (`repo:v1`), as the
        // store does; the event names the tag actually made.
        let familiar = match berth_image::reference::Reference::parse(repo) {
            Ok(r) if tag.is_empty() => r.with_default_tag().familiar(),
            Ok(r) => r.with_tag(tag).unwrap_or(r).familiar(),
            Err(_) => format!("{repo}:{tag}"),
        };
        let (name, repo, tag) = (name.to_string(), repo.to_string(), tag.to_string());
        let id = blocking(move || {
            images.tag(&name, &repo, &tag)?;
            Ok(images.resolve(&name)?.id)
        })
        .await?;
        self.image_event("tag", &id, &familiar);
        Ok(())
    }

    pub async fn image_remove(self: &Arc<Self>, name: &str, force: bool) -> Result<Vec<Value>> {
        let images = self.images.clone();
        let containers = self.containers.clone();
        let name = name.to_string();
        let (image_id, items) = blocking(move || {
            let id = images.resolve(&name)?.id;
            let items = images.remove(&name, force, &|id| containers.image_user(id))?;
            Ok((id, items))
        })
        .await?;
        let mut out = Vec::new();
        for item in items {
            let v = serde_json::to_value(&item)?;
            // docker names the image by its id in both events.
            if let Some(id) = v.get("Deleted").and_then(Value::as_str) {
                self.image_event("delete", id, id);
            } else if v.get("Untagged").is_some() {
                self.image_event("untag", &image_id, &image_id);
            }
            out.push(v);
        }
        Ok(out)
    }

    /// Loads a `docker save` tar; `progress` gets docker's message lines.
    /// `docker load`. `progress` gets docker's lines; `layer`, for a load
    /// that is not quiet, each layer unpacked (short diff id, bytes).
    pub async fn image_load(
        self: &Arc<Self>,
        reader: impl Read + Send + 'static,
        mut progress: impl FnMut(&str) + Send + 'static,
        layer: impl FnMut(&str, u64) + Send + 'static,
    ) -> Result<()> {
        let images = self.images.clone();
        let loaded = blocking(move || {
            // Called from the store's layer workers.
            let layer = std::sync::Mutex::new(layer);
            images
                .load_reporting(reader, &mut |line: &str| progress(line), &|d, size| {
                    (layer.lock().unwrap_or_else(|e| e.into_inner()))(ids::short(d.hex()), size)
                })
                .map_err(Error::from)
        })
        .await?;
        for msg in loaded {
            let name = msg.rsplit(' ').next().unwrap_or("");
            let id = self
                .images
                .resolve(name)
                .map(|i| i.id)
                .unwrap_or_else(|_| name.to_string());
            self.image_event("load", &id, &id);
        }
        Ok(())
    }

    pub async fn image_import(
        self: &Arc<Self>,
        reader: impl Read + Send + 'static,
        reference: Option<String>,
        changes: Vec<String>,
        message: String,
        platform: Option<berth_image::Platform>,
    ) -> Result<String> {
        let images = self.images.clone();
        let id = blocking(move || {
            images
                .import_as(
                    reader,
                    reference.as_deref(),
                    &changes,
                    &message,
                    platform.as_ref(),
                )
                .map_err(Error::from)
        })
        .await?;
        self.image_event("import", &id, &id);
        Ok(id)
    }

    /// `create?platform=`: an image that is not for `platform` is a 404,
    /// as dockerd answers it. A missing image is left to the create.
    pub fn image_platform_check(&self, name: &str, platform: &berth_image::Platform) -> Result<()> {
        let Ok(img) = self.images.resolve(name) else {
            return Ok(());
        };
        let have = img.platform();
        if platform.accepts(&have) {
            return Ok(());
        }
        Err(Error::not_found(format!(
            "image with reference {name} was found but its platform ({have}) does not match the specified platform ({platform})"
        )))
    }

    /// docker's `LogImageEvent`: the image id as the actor, `name`
    /// and the image's labels as attributes.
    pub(crate) fn image_event(&self, action: &str, id: &str, name: &str) {
        let mut attrs = self
            .images
            .resolve(id)
            .map(|i| labels_of(&i))
            .unwrap_or_default();
        attrs.insert("name".into(), name.to_string());
        self.events.publish("image", action, id, attrs);
    }

    /// Checks that every name resolves, so a missing one is a 404 before streaming.
    pub async fn image_check(self: &Arc<Self>, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Err(Error::invalid("no images specified"));
        }
        let images = self.images.clone();
        let names = names.to_vec();
        blocking(move || {
            for n in &names {
                images.resolve(n)?;
            }
            Ok(())
        })
        .await
    }

    pub async fn image_save(
        self: &Arc<Self>,
        names: Vec<String>,
        writer: impl Write + Send + 'static,
    ) -> Result<()> {
        let images = self.images.clone();
        blocking(move || images.save(&names, writer).map_err(Error::from)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(raw: Value) -> berth_image::Image {
        // Only the raw bytes matter here; the parsed config is a stand-in.
        let parsed = json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}});
        berth_image::Image {
            id: "sha256:abc".into(),
            config: serde_json::from_value(parsed).unwrap(),
            raw_config: serde_json::to_vec(&raw).unwrap(),
            repo_tags: vec!["busybox:latest".into()],
            repo_digests: Vec::new(),
            size: 42,
            created: None,
            layers: vec!["sha256:l1".into()],
            parent: None,
        }
    }

    #[test]
    fn inspect_passes_the_config_through_with_its_nulls() {
        let img = image(json!({
            "architecture": "arm64",
            "os": "linux",
            "author": "me",
            "config": {
                "Cmd": ["sh"],
                "ExposedPorts": {"80/tcp": {}},
                "Labels": {"a": "b"},
                "Env": null
            },
            "rootfs": {"type": "layers", "diff_ids": ["sha256:l1"]}
        }));
        let v = inspect_of(&img);
        assert_eq!(v["Config"]["Cmd"], json!(["sh"]));
        assert_eq!(v["Config"]["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(v["Config"]["Labels"], json!({"a": "b"}));
        assert_eq!(v["Config"].get("Env"), Some(&Value::Null));
        assert_eq!(v["Architecture"], "arm64");
        assert_eq!(v["Author"], "me");
        assert_eq!(v["Comment"], "");
        assert_eq!(v["Created"], "1970-01-01T00:00:00Z");
        assert_eq!(
            v["RootFS"],
            json!({"Type": "layers", "Layers": ["sha256:l1"]})
        );
        assert_eq!(v["Size"], 42);

        let bare = image(json!({"rootfs": {"type": "layers", "diff_ids": []}}));
        let v = inspect_of(&bare);
        assert_eq!(v.get("Config"), Some(&Value::Null));
        assert_eq!(v["Architecture"], berth_image::host_arch());
        assert_eq!(v["Os"], "linux");
    }

    #[test]
    fn reference_filter_globs() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busybox*", "busybox:latest"));
        assert!(reference_matches("busybox:lat*", "busybox:latest"));
        assert!(!reference_matches("alpine", "busybox:latest"));
        assert!(reference_matches("*/tools/*", "example.com/tools/bb:v1"));
    }
}
