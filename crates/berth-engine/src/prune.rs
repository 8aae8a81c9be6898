//! `POST /containers/prune` and `POST /images/prune`: remove what nothing
//! uses, with docker's filters (`label`, `label!`, `until`, `dangling`).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::container::Status;
use crate::error::{Error, Result};
use crate::filters::Filters;
use crate::{timefmt, Engine};

#[derive(Debug, Default, Serialize)]
pub struct ContainersPruned {
    #[serde(rename = "ContainersDeleted")]
    pub deleted: Option<Vec<String>>,
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct ImagesPruned {
    #[serde(rename = "ImagesDeleted")]
    pub deleted: Option<Vec<Value>>,
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

/// `POST /build/prune`: berth keeps no build cache, but the filters and
/// `keep-storage` are checked as dockerd checks them.
pub fn build_prune_check(filters: &Filters, keep_storage: Option<&str>) -> Result<()> {
    filters.validate(&[
        "until",
        "unused-for",
        "label",
        "label!",
        "id",
        "parent",
        "type",
        "description",
        "inuse",
        "shared",
        "private",
        "mutable",
        "immutable",
    ])?;
    filters.until()?;
    match keep_storage.filter(|v| !v.is_empty()) {
        Some(v) if v.parse::<i64>().is_err() => Err(Error::invalid(format!(
            "keep-storage is in bytes and expects an integer, got {v}: strconv.Atoi: parsing \"{v}\": invalid syntax"
        ))),
        _ => Ok(()),
    }
}

impl Engine {
    /// Removes every stopped container the filters select.
    pub async fn container_prune(self: &Arc<Self>, filters: Filters) -> Result<ContainersPruned> {
        filters.validate(&["label", "label!", "until"])?;
        let until = filters.until()?;
        let mut out = ContainersPruned::default();
        let mut deleted = Vec::new();
        for c in self.containers.all() {
            let rec = c.snapshot();
            if rec.state.status.is_live() || rec.state.status == Status::Removing {
                continue;
            }
            let labels = rec.labels();
            if !filters.labels_match(|k| labels.get(k).cloned()) {
                continue;
            }
            if until.is_some_and(|u| timefmt::unix(&rec.created) >= u) {
                continue;
            }
            let size = self.containers.rw_size(&rec).await;
            if self.containers.remove(&rec.id, false).await.is_ok() {
                out.space_reclaimed += size;
                berth_store::crash_point!("prune.container-removed");
                deleted.push(rec.id);
            }
        }
        out.deleted = (!deleted.is_empty()).then_some(deleted);
        self.events.publish(
            "container",
            "prune",
            "",
            [("reclaimed".to_string(), out.space_reclaimed.to_string())].into(),
        );
        Ok(out)
    }

    /// Removes unused images: dangling ones, or with `dangling=false` every
    /// image no container uses.
    pub async fn image_prune(self: &Arc<Self>, filters: Filters) -> Result<ImagesPruned> {
        filters.validate(&["dangling", "label", "label!", "until"])?;
        let until = filters.until()?;
        let dangling_only = filters.bool_or("dangling", true)?;
        let images = self.images.clone();
        let list = tokio::task::spawn_blocking(move || images.list()).await??;
        let mut out = ImagesPruned::default();
        let mut deleted = Vec::new();
        for img in list {
            if dangling_only && !img.repo_tags.is_empty() {
                continue;
            }
            if self.containers.image_user(&img.id).is_some() {
                continue;
            }
            let labels = crate::image::labels_of(&img);
            if !filters.labels_match(|k| labels.get(k).cloned()) {
                continue;
            }
            let created = img.created.as_deref().map(timefmt::unix).unwrap_or(0);
            if until.is_some_and(|u| created >= u) {
                continue;
            }
            // Each tag goes first; the last removal deletes the image.
            let names: Vec<String> = if img.repo_tags.is_empty() {
                vec![img.id.clone()]
            } else {
                img.repo_tags.clone()
            };
            let mut gone = false;
            for name in names {
                if let Ok(items) = self.image_remove(&name, false).await {
                    gone |= items.iter().any(|i| i.get("Deleted").is_some());
                    berth_store::crash_point!("prune.image-removed");
                    deleted.extend(items);
                }
            }
            if gone {
                out.space_reclaimed += img.size;
            }
        }
        out.deleted = (!deleted.is_empty()).then_some(deleted);
        self.events.publish(
            "image",
            "prune",
            "",
            [("reclaimed".to_string(), out.space_reclaimed.to_string())].into(),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(raw: &str) -> Filters {
        Filters::parse(Some(raw)).unwrap()
    }

    #[test]
    fn build_prune_filters() {
        assert!(build_prune_check(&f(r#"{"type":{"regular":true}}"#), Some("1000")).is_ok());
        assert!(build_prune_check(&f(r#"{"name":{"x":true}}"#), None).is_err());
        let e = build_prune_check(&Filters::default(), Some("1GB")).unwrap_err();
        assert!(
            e.message.starts_with("keep-storage is in bytes"),
            "{}",
            e.message
        );
    }
}
