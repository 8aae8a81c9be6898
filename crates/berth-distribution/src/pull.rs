//! Pull: a registry as a [`BlobSource`] for the image store.
//!
//! The top manifest is fetched first, on its own, so that "not found" and
//! "unauthorized" are answered before any progress is streamed (dockerd
//! answers them as HTTP errors too). The rest runs on blocking threads:
//! the store walks index -> manifest -> config through the source, then
//! stages missing layers in parallel, each reading its own HTTP stream.

use std::io::{Cursor, Read};
use std::sync::Arc;

use berth_image::{BlobSource, CreateOptions, Created, ImageStore, LayerEvent, Platform};
use berth_reference::Reference;
use bytes::Bytes;
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use crate::client::{Client, FetchedManifest};
use crate::error::{Error, Result};
use crate::manifest::{self, Descriptor};
use crate::registry::{Location, Target};

/// Layers fetched at once when the caller does not say (dockerd's
/// `max-concurrent-downloads` default).
pub const DEFAULT_CONCURRENCY: usize = 3;

/// A pull whose top manifest is known.
pub struct Pull {
    client: Arc<Client>,
    location: Location,
    reference: Reference,
    top: FetchedManifest,
}

/// What a pull did, for its last lines.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub id: String,
    /// The digest of the top manifest (an index's when there is one).
    pub digest: String,
    /// The image and its tags were there already.
    pub up_to_date: bool,
}

impl Pull {
    /// Fetches the manifest `reference` names.
    pub async fn start(client: Arc<Client>, reference: Reference) -> Result<Pull> {
        let location = Location::from_reference(&reference);
        let top = client
            .manifest(&location.target)
            .await
            .map_err(|e| e.with_reference(&reference.familiar()))?;
        Ok(Pull {
            client,
            location,
            reference,
            top,
        })
    }

    /// The repository path (`library/busybox`), for "Pulling from".
    pub fn repository(&self) -> &str {
        &self.location.repository
    }

    /// The tag or digest pulled.
    pub fn target(&self) -> &str {
        self.location.target.as_str()
    }

    pub fn digest(&self) -> &str {
        &self.top.digest
    }

    /// Creates the image in `store` (blocking: call it from a blocking
    /// thread). `progress` gets each layer's events with its digest and
    /// size.
    pub fn run(
        self,
        store: &ImageStore,
        handle: Handle,
        platform: Option<&Platform>,
        concurrency: usize,
        progress: &(dyn Fn(&str, u64, LayerEvent) + Sync),
    ) -> Result<Pulled> {
        let source = RegistrySource {
            client: self.client.clone(),
            handle,
            top_digest: self.top.digest.clone(),
            top_body: self.top.body.clone(),
        };
        let top = oci_descriptor(
            self.top.manifest.media_type(),
            &self.top.digest,
            self.top.body.len(),
        )?;
        let mut image = store.resolve_source(&source, &top, platform)?;
        // The tag pulled, and the digest it resolved to (RepoDigests).
        if self.reference.digest().is_none() {
            image.tags.push(self.reference.clone().with_default_tag());
        }
        if let Ok(d) = Reference::parse(&format!("{}@{}", self.reference.name(), self.top.digest)) {
            image.tags.push(d);
        }
        let repository = format!("{}/{}", self.location.domain, self.location.repository);
        let on_layer = |_: usize, d: &oci_spec::image::Descriptor, e: LayerEvent| {
            progress(d.digest().as_ref(), d.size(), e)
        };
        let opts = CreateOptions {
            concurrency,
            source_repository: Some(&repository),
            progress: &on_layer,
        };
        let Created {
            id, was_present, ..
        } = store.create_from_source(&source, image, &opts)?;
        Ok(Pulled {
            id: id.to_string(),
            digest: self.top.digest,
            up_to_date: was_present,
        })
    }
}

fn oci_descriptor(
    media_type: &str,
    digest: &str,
    size: usize,
) -> Result<oci_spec::image::Descriptor> {
    serde_json::from_value(serde_json::json!({
        "mediaType": media_type, "digest": digest, "size": size,
    }))
    .map_err(|e| Error::InvalidManifest(format!("descriptor {digest}: {e}")))
}

/// The registry's blobs for the store. Manifests it asks by digest come
/// from `/manifests/`, everything else from `/blobs/`.
struct RegistrySource {
    client: Arc<Client>,
    handle: Handle,
    top_digest: String,
    top_body: Bytes,
}

fn source_err(e: Error) -> berth_image::Error {
    match e {
        Error::Image(e) => e,
        other => berth_image::Error::Source(Box::new(other)),
    }
}

impl BlobSource for RegistrySource {
    fn open(
        &self,
        desc: &oci_spec::image::Descriptor,
    ) -> berth_image::Result<Box<dyn Read + Send + '_>> {
        let digest = desc.digest().to_string();
        if digest == self.top_digest {
            return Ok(Box::new(Cursor::new(self.top_body.clone())));
        }
        let media = desc.media_type().to_string();
        if manifest::ACCEPT.contains(&media.as_str()) {
            let m = self
                .handle
                .block_on(self.client.manifest(&Target::Digest(digest)))
                .map_err(source_err)?;
            return Ok(Box::new(Cursor::new(m.body)));
        }
        let d: Descriptor = serde_json::from_value(serde_json::to_value(desc).map_err(|e| {
            berth_image::Error::InvalidArgument(format!("descriptor {digest}: {e}"))
        })?)
        .map_err(|e| berth_image::Error::InvalidArgument(format!("descriptor {digest}: {e}")))?;
        let reader = self
            .handle
            .block_on(self.client.blob_reader(&d))
            .map_err(source_err)?;
        Ok(Box::new(SyncIoBridge::new_with_handle(
            reader,
            self.handle.clone(),
        )))
    }
}
