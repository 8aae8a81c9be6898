//! `docker diff` (`GET /containers/{id}/changes`) and `docker commit`
//! (`POST /commit`): both read the container's overlay upper dir, which
//! berth-image walks without following anything the container planted.

use std::sync::Arc;

use berth_image::{Change, CommitRequest};
use bollard_stubs::models::ContainerConfig;
use serde_json::Value;

use super::ContainerService;
use crate::error::{Error, Result};

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
        tokio::task::spawn_blocking(move || -> Result<Vec<Change>> {
            let image = images.resolve(&rec.image_id)?;
            let m = images.rw_mount(&rec.id, &image)?;
            Ok(berth_image::changes(&m.upperdir, &m.lowerdirs)?)
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
        let config = match &opts.config {
            None | Some(Value::Null) => rec.config.clone(),
            Some(v) => {
                let user: ContainerConfig = serde_json::from_value(v.clone())
                    .map_err(|e| Error::invalid(format!("invalid JSON: {e}")))?;
                merge_config(user, &rec.config)
            }
        };
        let config = serde_json::to_value(&config)?;
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
        berth_store::crash_point!("commit.paused");
        let images = self.images.clone();
        let req_config = config;
        let (id, image_id) = (rec.id.clone(), rec.image_id.clone());
        let result = tokio::task::spawn_blocking(move || -> Result<String> {
            let image = images.resolve(&image_id)?;
            let m = images.rw_mount(&id, &image)?;
            Ok(images.commit(CommitRequest {
                base: Some(image.id.clone()),
                upper: m.upperdir.clone(),
                config: req_config,
                changes: opts.changes,
                comment: opts.comment,
                author: opts.author,
                reference,
                container_id: id,
            })?)
        })
        .await;
        berth_store::crash_point!("commit.image-made");
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

/// dockerd's `merge` for a commit with a config: the request's config, with
/// what it leaves empty taken from the container's (Env, Labels,
/// ExposedPorts and Volumes merged key by key, the request winning). Fields
/// outside these rules are the request's alone, as in dockerd.
fn merge_config(mut user: ContainerConfig, ctr: &ContainerConfig) -> ContainerConfig {
    let empty = |s: &Option<String>| s.as_deref().unwrap_or("").is_empty();
    if empty(&user.user) {
        user.user = ctr.user.clone();
    }
    if let Some(ports) = &ctr.exposed_ports {
        let mine = user.exposed_ports.get_or_insert_with(Default::default);
        for (p, v) in ports {
            mine.entry(p.clone()).or_insert_with(|| v.clone());
        }
    }
    let key = |e: &str| e.split('=').next().unwrap_or("").to_string();
    match user.env.as_mut().filter(|e| !e.is_empty()) {
        None => user.env = ctr.env.clone(),
        Some(env) => {
            for e in ctr.env.iter().flatten() {
                if !env.iter().any(|u| key(u) == key(e)) {
                    env.push(e.clone());
                }
            }
        }
    }
    let labels = user.labels.get_or_insert_with(Default::default);
    for (k, v) in ctr.labels.iter().flatten() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if user.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if user.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            user.cmd = ctr.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = ctr.entrypoint.clone();
        }
    }
    if let Some(theirs) = &ctr.healthcheck {
        let mine = user.healthcheck.get_or_insert_with(|| theirs.clone());
        if mine.test.as_ref().is_none_or(|t| t.is_empty()) {
            mine.test = theirs.test.clone();
        }
        let zero = |v: Option<i64>| v.unwrap_or(0) == 0;
        if zero(mine.interval) {
            mine.interval = theirs.interval;
        }
        if zero(mine.timeout) {
            mine.timeout = theirs.timeout;
        }
        if zero(mine.start_period) {
            mine.start_period = theirs.start_period;
        }
        if zero(mine.retries) {
            mine.retries = theirs.retries;
        }
    }
    if empty(&user.working_dir) {
        user.working_dir = ctr.working_dir.clone();
    }
    if let Some(vols) = &ctr.volumes {
        let mine = user.volumes.get_or_insert_with(Default::default);
        for (k, v) in vols {
            mine.insert(k.clone(), v.clone());
        }
    }
    if empty(&user.stop_signal) {
        user.stop_signal = ctr.stop_signal.clone();
    }
    user
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn a_commit_config_merges_like_dockerds() {
        let ctr = ContainerConfig {
            user: Some("nobody".into()),
            env: Some(vec!["A=ctr".into(), "B=ctr".into()]),
            labels: Some([("x".to_string(), "ctr".to_string())].into()),
            cmd: Some(vec!["sh".into()]),
            working_dir: Some("/srv".into()),
            hostname: Some("h".into()),
            ..Default::default()
        };
        let user = ContainerConfig {
            env: Some(vec!["A=mine".into()]),
            labels: Some([("y".to_string(), "mine".to_string())].into()),
            ..Default::default()
        };
        let m = merge_config(user, &ctr);
        assert_eq!(m.user.as_deref(), Some("nobody"));
        assert_eq!(m.env, Some(vec!["A=mine".to_string(), "B=ctr".to_string()]));
        assert_eq!(m.labels.as_ref().unwrap().len(), 2);
        assert_eq!(m.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(m.working_dir.as_deref(), Some("/srv"));
        // Not among dockerd's merged fields: the request's (none) stands.
        assert_eq!(m.hostname, None);
    }
}
