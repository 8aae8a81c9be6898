//! berth-image: images on disk.
//!
//! - [`apply_layer`]: safe, streaming layer tar apply (gzip/zstd/bzip2/plain) with
//!   overlay whiteouts; hostile archives cannot write outside the target.
//! - [`Snapshotter`] / [`OverlayMount`]: layers unpacked once per chain id,
//!   container rw layers, overlay mount descriptions (the caller mounts).
//! - [`ImageStore`]: load / save / import / commit / tag / remove / resolve /
//!   history over the content store and metadata db of `berth-store`.
//! - [`changes`] / [`write_diff_tar`]: `docker diff` and the commit layer
//!   tar of a container's overlay upper dir.

mod apply;
mod archive;
mod compress;
mod diff;
mod error;
mod instructions;
mod platform;
pub use berth_reference as reference;
mod snapshot;
mod store;
mod tarstream;
#[cfg(test)]
mod testutil;

pub use apply::{apply_layer, LayerStats};
pub use archive::{
    export, extract_to_dir, stat_path, tar_path, thread_fds, CopyInOptions, PathStat,
};
pub use compress::{decompress, Compression};
pub use diff::{changes, write_diff_tar, Change, ChangeKind};
pub use error::{Error, ErrorKind, Result};
pub use platform::{host_arch, Platform};
pub use snapshot::{chain_ids, tree_size, OverlayMount, Snapshotter, MAX_OPTIONS_LEN};
pub use store::check::{check as check_store, in_use as store_in_use, StoreCheck};
pub use store::source::{
    BlobSource, CreateOptions, Created, LayerEvent, SourceImage, MAX_MANIFEST,
};
pub use store::{CommitRequest, DeleteItem, DistSource, HistoryItem, Image, ImageStore};
