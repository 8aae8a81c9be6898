//! `GET /system/df`: what images and containers take on disk, in docker's
//! shape (`LayersSize`, `Images[]` with `Containers` and `SharedSize`,
//! `Containers[]` with `SizeRw` and `SizeRootFs`). Volumes and the build
//! cache are empty until those exist.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::container::ListOptions;
use crate::error::Result;
use crate::filters::Filters;
use crate::{image_error, Engine};

impl Engine {
    pub async fn system_df(self: &Arc<Self>) -> Result<Value> {
        let mut containers = self.containers.list(&ListOptions {
            all: true,
            limit: None,
            size: false,
            filters: Filters::default(),
        })?;
        let images = self.images.clone();
        let list = tokio::task::spawn_blocking(move || images.list())
            .await?
            .map_err(image_error)?;
        // Layer sizes, each layer counted once however many images share it.
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
        let layers_size: u64 = sizes.values().sum();
        let mut image_rows = Vec::new();
        for (img, dirs) in list.iter().zip(&layer_dirs) {
            let shared: u64 = dirs
                .iter()
                .filter(|d| users.get(d).copied().unwrap_or(0) > 1)
                .map(|d| sizes.get(d).copied().unwrap_or(0))
                .sum();
            let used_by = containers
                .iter()
                .filter(|c| c.image_id.as_deref() == Some(img.id.as_str()))
                .count();
            let mut row = self.image_summary(img);
            row["Containers"] = json!(used_by);
            row["SharedSize"] = json!(shared);
            image_rows.push(row);
        }
        self.containers.fill_sizes(&mut containers).await;
        Ok(json!({
            "LayersSize": layers_size,
            "Images": image_rows,
            "Containers": containers,
            "Volumes": [],
            "BuildCache": [],
            "BuilderSize": 0,
        }))
    }
}
