//! `docker diff` (`GET /containers/{id}/changes`) and `docker commit`
//! (`POST /commit`): both read the container's overlay upper dir, which
//! berth-image walks without following anything the container planted.

use std::sync::Arc;

use berth_image::{Change, CommitRequest};
use serde_json::Value;

use super::ContainerService;
use crate::error::{Error, Result};
use crate::image_error;

/// What `POST /commit` carries besides the container.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub repo: String,
    pub tag: String,
    pub comment: String,
    pub author: String,
    pub changes: Vec<String>,
    /// Freeze a running container while its layer is archived (docker's default).
    pub pause: bool,
    /// A config (`Cmd`, `Env`, ...) to use instead of the container's.
    pub config: Option<Value>,
}

impl ContainerService {
    /// The container's filesystem changes against its image, sorted by path.
    pub async fn changes(&self, name_or_id: &str) -> Result<Vec<Change>> {
        let c = self.get(name_or_id)?;
        let rec = c.snapshot();
        let images = self.images.clone();
        tokio::task::spawn_blocking(move || {
            let image = images.resolve(&rec.image_id).map_err(image_error)?;
            let m = images.rw_mount(&rec.id, &image).map_err(image_error)?;
            berth_image::changes(&m.upperdir, &m.lowerdirs).map_err(image_error)
        })
        .await?
    }

    /// A new image from the container's writable layer over its image.
    pub async fn commit(self: &Arc<Self>, name_or_id: &str, opts: CommitOptions) -> Result<String> {
        let c = self.get(name_or_id)?;
        let rec = c.snapshot();
        let reference = match (opts.repo.as_str(), opts.tag.as_str()) {
            ("", "") => None,
            ("", _) => return Err(Error::invalid("invalid reference: tag without repository")),
            (repo, "") => Some(repo.to_string()),
            (repo, tag) => Some(format!("{repo}:{tag}")),
        };
        let mut config = serde_json::to_value(&rec.config)?;
        if let (Some(Value::Object(over)), Value::Object(base)) = (&opts.config, &mut config) {
            for (k, v) in over {
                if !v.is_null() {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        // As dockerd: pause only a running container, and a pause that fails
        // (it exited meanwhile) does not stop the commit.
        let paused = opts.pause
            && c.status() == super::Status::Running
            && match self.pause(&c.id).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(id = %c.id, "commit without pausing: {}", e.message);
                    false
                }
            };
        let images = self.images.clone();
        let req_config = config;
        let (id, image_id) = (rec.id.clone(), rec.image_id.clone());
        let result = tokio::task::spawn_blocking(move || {
            let image = images.resolve(&image_id).map_err(image_error)?;
            let m = images.rw_mount(&id, &image).map_err(image_error)?;
            images
                .commit(CommitRequest {
                    base: Some(image.id.clone()),
                    upper: m.upperdir.clone(),
                    config: req_config,
                    changes: opts.changes,
                    comment: opts.comment,
                    author: opts.author,
                    reference,
                    container_id: id,
                })
                .map_err(image_error)
        })
        .await;
        if paused {
            if let Err(e) = self.unpause(&c.id).await {
                tracing::warn!(id = %c.id, "unpause after commit failed: {e}");
            }
        }
        let new_id = result??;
        self.event(&rec, "commit", &[("imageID", new_id.clone())]);
        Ok(new_id)
    }
}
