//! Push: an image of the store to a registry repository.
//!
//! The store keeps layers uncompressed (by diff id), so a layer has no
//! registry digest until it is compressed. The store remembers where
//! registries already hold each layer (and under which digest): a layer
//! the target repository has is skipped after a HEAD, one another
//! repository of the same registry has is mounted from there, and only
//! the rest is compressed, streaming into its upload, several at once.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use berth_image::{DistSource, Image, ImageStore};
use berth_store::Digest;
use bytes::Bytes;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio_util::io::SyncIoBridge;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::manifest::{DOCKER_CONFIG, DOCKER_MANIFEST};
use crate::registry::Location;

/// Layers pushed at once (dockerd's `max-concurrent-uploads` default).
pub const DEFAULT_CONCURRENCY: usize = 5;

const GZIP_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What happens to one layer being pushed (the id is its diff id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    Preparing,
    /// Uncompressed bytes sent so far, of `total`.
    Pushing {
        current: u64,
        total: u64,
    },
    Pushed,
    /// The repository has it already.
    Exists,
    /// Mounted from another repository of the registry (its path).
    Mounted {
        from: String,
    },
}

/// Where a push reports each layer's events (diff id, event).
pub type PushProgress = Arc<dyn Fn(&str, PushEvent) + Send + Sync>;

/// The pushed manifest.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: String,
    pub size: usize,
}

/// One layer's registry blob.
#[derive(Debug, Clone)]
struct Blob {
    digest: String,
    size: u64,
    media_type: String,
}

/// Pushes `image` to the repository and tag of `client`'s location.
pub async fn push(
    client: Arc<Client>,
    store: Arc<ImageStore>,
    image: &Image,
    tag: &str,
    concurrency: usize,
    progress: PushProgress,
) -> Result<Pushed> {
    let location = client.location().clone();
    let diff_ids = image
        .layers
        .iter()
        .map(|d| Digest::parse(d).map_err(|e| Error::InvalidManifest(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    for d in &diff_ids {
        progress(d.as_str(), PushEvent::Preparing);
    }
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::new();
    for diff_id in diff_ids {
        let (client, store, progress, permits, location) = (
            client.clone(),
            store.clone(),
            progress.clone(),
            permits.clone(),
            location.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            push_layer(&client, &store, &location, &diff_id, &*progress).await
        }));
    }
    let mut blobs = Vec::new();
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok(Ok(b)) => blobs.push(b),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(Error::Http(format!("push task: {e}")));
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let config = Bytes::from(image.raw_config.clone());
    let config_digest = image.id.clone();
    if client.blob_exists(&config_digest).await?.is_none() {
        let (digest, _) = client
            .upload_blob(std::io::Cursor::new(config.clone()), &|_| {})
            .await?;
        if digest != config_digest {
            return Err(Error::BadBlob {
                digest: config_digest,
                reason: format!("uploaded config hashes to {digest}"),
            });
        }
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": blobs.iter().map(|b| json!({
            "mediaType": b.media_type, "size": b.size, "digest": b.digest,
        })).collect::<Vec<_>>(),
    });
    let body = Bytes::from(
        serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::InvalidManifest(format!("encode manifest: {e}")))?,
    );
    let size = body.len();
    let digest = client.put_manifest(tag, DOCKER_MANIFEST, body).await?;
    Ok(Pushed { digest, size })
}

/// `host/path`, as sources are keyed.
fn repository_key(location: &Location) -> String {
    format!("{}/{}", location.domain, location.repository)
}

async fn push_layer(
    client: &Client,
    store: &Arc<ImageStore>,
    location: &Location,
    diff_id: &Digest,
    progress: &(dyn Fn(&str, PushEvent) + Send + Sync),
) -> Result<Blob> {
    let here = repository_key(location);
    let sources = store.dist_sources(diff_id)?;
    // Already in this repository?
    for s in sources.iter().filter(|s| s.repository == here) {
        if client.blob_exists(&s.digest).await?.is_some() {
            progress(diff_id.as_str(), PushEvent::Exists);
            return Ok(blob_of(s));
        }
    }
    // In another repository of the same registry: mount it.
    let prefix = format!("{}/", location.domain);
    for s in sources.iter().filter(|s| s.repository != here) {
        let Some(from) = s.repository.strip_prefix(&prefix) else {
            continue;
        };
        if client.mount_blob(&s.digest, from).await? {
            progress(
                diff_id.as_str(),
                PushEvent::Mounted {
                    from: from.to_string(),
                },
            );
            remember(store, diff_id, &here, s);
            return Ok(blob_of(s));
        }
    }
    let blob = upload_layer(client, store, diff_id, progress).await?;
    progress(diff_id.as_str(), PushEvent::Pushed);
    let src = DistSource {
        repository: here.clone(),
        digest: blob.digest.clone(),
        media_type: blob.media_type.clone(),
        size: blob.size,
    };
    remember(store, diff_id, &here, &src);
    Ok(blob)
}

fn blob_of(s: &DistSource) -> Blob {
    Blob {
        digest: s.digest.clone(),
        size: s.size,
        media_type: s.media_type.clone(),
    }
}

/// Records that `repository` holds the layer; a failure only costs a
/// later push the same work again.
fn remember(store: &ImageStore, diff_id: &Digest, repository: &str, s: &DistSource) {
    let src = DistSource {
        repository: repository.to_string(),
        ..s.clone()
    };
    if let Err(e) = store.add_dist_source(diff_id, &src) {
        tracing::warn!("cannot record that {repository} holds {diff_id}: {e}");
    }
}

/// Compresses the layer's tar (gzip, on a blocking thread) straight into
/// its upload.
async fn upload_layer(
    client: &Client,
    store: &Arc<ImageStore>,
    diff_id: &Digest,
    progress: &(dyn Fn(&str, PushEvent) + Send + Sync),
) -> Result<Blob> {
    let (tar, total) = store.layer_tar(diff_id)?;
    let (reader, writer) = tokio::io::duplex(256 << 10);
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let handle = Handle::current();
    let compress = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut out = SyncIoBridge::new_with_handle(writer, handle.clone());
        // Level 1: random-looking layer data gains nothing from more, and
        // compressing is what bounds a push.
        let mut gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
        let mut tar = Counting {
            inner: tar,
            count: counter,
        };
        std::io::copy(&mut tar, &mut gz)?;
        gz.finish()?;
        handle.block_on(out.into_inner().shutdown())
    });
    let id = diff_id.as_str().to_string();
    let report = |_: u64| {
        progress(
            &id,
            PushEvent::Pushing {
                current: sent.load(Ordering::Relaxed),
                total,
            },
        )
    };
    let uploaded = client.upload_blob(reader, &report).await;
    let compressed = compress
        .await
        .map_err(|e| Error::Http(format!("compress {diff_id}: {e}")))?;
    let (digest, size) = uploaded?;
    compressed.map_err(|e| Error::io(format!("compress {diff_id}"), e))?;
    Ok(Blob {
        digest,
        size,
        media_type: GZIP_LAYER.to_string(),
    })
}

struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
