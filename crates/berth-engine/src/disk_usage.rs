//! `GET /system/df`: what images and containers take on disk, in docker's
//! shape (`LayersSize`, `Images[]` with `Containers` and `SharedSize`,
//! `Containers[]` with `SizeRw` and `SizeRootFs`, `Volumes[]` with
//! `UsageData`). The build cache is empty until one exists.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::container::ListOptions;
use crate::error::{Error, Result};
use crate::filters::Filters;
use crate::Engine;

/// The sections `GET /system/df?type=` asks for; without `type`, all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DfSections {
    pub containers: bool,
    pub images: bool,
    pub volumes: bool,
    pub build_cache: bool,
}

impl DfSections {
    pub const ALL: DfSections = DfSections {
        containers: true,
        images: true,
        volumes: true,
        build_cache: true,
    };

    /// The repeated `type` values; an unknown one is dockerd's 400.
    pub fn parse(types: &[String]) -> Result<DfSections> {
        if types.is_empty() {
            return Ok(DfSections::ALL);
        }
        let mut s = DfSections {
            containers: false,
            images: false,
            volumes: false,
            build_cache: false,
        };
        for t in types {
            match t.as_str() {
                "container" => s.containers = true,
                "image" => s.images = true,
                "volume" => s.volumes = true,
                "build-cache" => s.build_cache = true,
                other => return Err(Error::invalid(format!("unknown object type: {other}"))),
            }
        }
        Ok(s)
    }
}

impl Engine {
    /// Each image's `SharedSize` (the bytes of its layers that another image
    /// also uses) and the size of all layers, each counted once.
    pub(crate) async fn shared_sizes(
        self: &Arc<Self>,
        list: &[berth_image::Image],
    ) -> Result<(Vec<u64>, u64)> {
        let images = self.images.clone();
        let layer_dirs: Vec<Vec<PathBuf>> = list.iter().map(|i| images.layer_dirs(i)).collect();
        let sizes: HashMap<PathBuf, u64> = tokio::task::spawn_blocking({
            let dirs: Vec<PathBuf> = layer_dirs.iter().flatten().cloned().collect();
            move || {
                dirs.into_iter()
                    .map(|d| {
                        let s = berth_image::tree_size(&d);
                        (d, s)
                    })
                    .collect()
            }
        })
        .await?;
        let mut users: HashMap<&PathBuf, usize> = HashMap::new();
        for dirs in &layer_dirs {
            for d in dirs {
                *users.entry(d).or_default() += 1;
            }
        }
        let shared = layer_dirs
            .iter()
            .map(|dirs| {
                dirs.iter()
                    .filter(|d| users.get(d).copied().unwrap_or(0) > 1)
                    .map(|d| sizes.get(d).copied().unwrap_or(0))
                    .sum()
            })
            .collect();
        Ok((shared, sizes.values().sum()))
    }

    pub async fn system_df(self: &Arc<Self>, want: DfSections) -> Result<Value> {
        let mut containers = self.containers.list(&ListOptions {
            all: true,
            limit: None,
            size: false,
            filters: Filters::default(),
        })?;
        let images = self.images.clone();
        let list = tokio::task::spawn_blocking(move || images.list()).await??;
        let (shared_sizes, layers_size) = self.shared_sizes(&list).await?;
        let mut image_rows = Vec::new();
        for (img, shared) in list.iter().zip(shared_sizes) {
            let used_by = containers
                .iter()
                .filter(|c| c.image_id.as_deref() == Some(img.id.as_str()))
                .count();
            let mut row = self.image_summary(img);
            row.containers = used_by as i64;
            row.shared_size = shared as i64;
            image_rows.push(row);
        }
        self.containers.fill_sizes(&mut containers).await;
        let volumes = if want.volumes {
            let engine = self.clone();
            tokio::task::spawn_blocking(move || {
                let users = engine.volume_users();
                engine
                    .volumes
                    .disk_usage(&|n: &str| users.get(n).map_or(0, Vec::len))
            })
            .await?
        } else {
            Vec::new()
        };
        // Sections not asked for are null, as in dockerd's v1.47 answer.
        let pick = |on: bool, v: Value| if on { v } else { Value::Null };
        Ok(json!({
            "LayersSize": if want.images { layers_size } else { 0 },
            "Images": pick(want.images, json!(image_rows)),
            "Containers": pick(want.containers, json!(containers)),
            "Volumes": pick(want.volumes, json!(volumes)),
            "BuildCache": pick(want.build_cache, json!([])),
            "BuilderSize": 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_from_types() {
        assert_eq!(DfSections::parse(&[]).unwrap(), DfSections::ALL);
        let s = DfSections::parse(&["image".into(), "build-cache".into()]).unwrap();
        assert!(s.images && s.build_cache && !s.containers && !s.volumes);
        let e = DfSections::parse(&["network".into()]).unwrap_err();
        assert_eq!(e.message, "unknown object type: network");
    }
}
