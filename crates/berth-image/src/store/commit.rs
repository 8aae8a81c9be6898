//! `docker commit`: a container's writable layer becomes an image on top of
//! the container's image, as dockerd's `NewChildImage` builds it.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use berth_store::Digest;
use serde_json::{json, Map, Value};

use super::{host_arch, new_image_tag, ImageStore, NewImage, Staged, MAX_LAYERS};
use crate::diff::write_diff_tar;
use crate::error::{Error, Result};
use crate::instructions::apply_instructions;
use crate::snapshot::chain_ids;

/// What `POST /commit` asks for, with the container's side filled in.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// The container's image (its layers become the new image's lower
    /// layers); None = no base.
    pub base: Option<String>,
    /// The container's overlay upper dir.
    pub upper: PathBuf,
    /// The container's `Config` object (docker's container config JSON). It
    /// becomes the image's `config` after `changes` are applied.
    pub config: Value,
    /// Dockerfile instructions (`docker commit -c`), applied like import's
    /// `--change`.
    pub changes: Vec<String>,
    pub comment: String,
    pub author: String,
    /// `repo[:tag]` to tag the new image with (docker.io/ prefix allowed).
    pub reference: Option<String>,
    pub container_id: String,
}

/// The container config fields an image config keeps (docker's
/// `container.Config` minus what only makes sense for one container).
const IMAGE_CONFIG_FIELDS: &[&str] = &[
    "Hostname",
    "Domainname",
    "User",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "ExposedPorts",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Env",
    "Cmd",
    "Healthcheck",
    "ArgsEscaped",
    "Image",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "OnBuild",
    "Labels",
    "StopSignal",
    "StopTimeout",
    "Shell",
];

/// Chunks in flight between the tar writer and the layer stager: memory
/// stays at a few of them whatever the size of the diff.
const CHUNK: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// sha256 of a tar with no entries (1024 zero bytes): docker's empty layer.
fn empty_layer() -> Digest {
    Digest::of_bytes(&[0u8; 1024])
}

impl ImageStore {
    /// `docker commit`: archives `req.upper` as a new layer over the base
    /// image's layers and records the image. Returns its id. A diff with no
    /// entries adds no layer, only a history row marked `empty_layer`, as in
    /// docker.
    pub fn commit(&self, req: CommitRequest) -> Result<String> {
        let tag = new_image_tag(req.reference.as_deref(), "commit")?;
        if tag.as_ref().is_some_and(|t| t.familiar_name() == "sha256") {
            return Err(Error::invalid(
                "refusing to create an ambiguous tag using digest algorithm as name",
            ));
        }
        let mut cfg = match &req.config {
            Value::Object(m) => m.clone(),
            Value::Null => Map::new(),
            _ => return Err(Error::invalid("container config is not a JSON object")),
        };
        cfg.retain(|k, _| IMAGE_CONFIG_FIELDS.contains(&k.as_str()));
        let mut config = super::docker_container_config();
        config.extend(cfg);
        apply_instructions(&mut config, &req.changes)?;

        let base = req.base.as_deref().map(|b| self.resolve(b)).transpose()?;
        let (base_raw, base_diffs) = match &base {
            Some(img) => {
                let raw: Value = serde_json::from_slice(&img.raw_config)
                    .map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
                let diffs = img
                    .layers
                    .iter()
                    .map(|d| Digest::parse(d).map_err(|e| Error::invalid(e.to_string())))
                    .collect::<Result<Vec<_>>>()?;
                (raw, diffs)
            }
            None => (Value::Null, Vec::new()),
        };
        if base_diffs.len() >= MAX_LAYERS {
            return Err(Error::invalid(format!(
                "max depth exceeded: the image would have {} layers, at most {MAX_LAYERS} are supported",
                base_diffs.len() + 1
            )));
        }
        // The base must not go away while its diff is archived.
        let base_chains = chain_ids(&base_diffs);
        let _base_pins = self.pin(&base_chains);
        for c in &base_chains {
            if !self.layer_present(c)? {
                return Err(Error::Io {
                    context: format!("commit {}", req.container_id),
                    source: io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("layer {c} of the container's image is missing"),
                    ),
                });
            }
        }

        let staged = self.stage_diff(&req.upper)?;
        let empty = staged.diff_id == empty_layer();
        let mut diff_ids = base_diffs;
        if !empty {
            diff_ids.push(staged.diff_id.clone());
        }

        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let image_config = child_config(&base_raw, &req, config, &created, &diff_ids, empty);
        let raw = serde_json::to_vec(&image_config).map_err(|e| Error::invalid(e.to_string()))?;

        let chains = chain_ids(&diff_ids);
        let _pins = self.pin(&chains);
        let mut layers: Vec<Option<Staged>> = chains.iter().map(|_| None).collect();
        if let (false, Some(top)) = (empty, chains.last()) {
            // An identical layer is already there: keep that one.
            if !self.layer_present(top)? {
                if let Some(slot) = layers.last_mut() {
                    *slot = Some(staged);
                }
            }
        }
        let parent = base
            .as_ref()
            .map(|img| Digest::parse(&img.id).map_err(|e| Error::invalid(e.to_string())))
            .transpose()?;
        let new = NewImage {
            config: raw,
            diff_ids,
            tags: tag.into_iter().collect(),
            parent,
        };
        let (id, _) = self.commit_image(new, layers, &mut |_| {})?;
        Ok(id.to_string())
    }

    /// Streams the layer tar of `upper` into staging. The tar is written by
    /// a second thread into a bounded channel, so no copy of it is kept.
    fn stage_diff(&self, upper: &Path) -> Result<Staged> {
        let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
        std::thread::scope(|s| {
            let writer = s.spawn(move || {
                let mut w = ChunkWriter {
                    tx,
                    buf: Vec::with_capacity(CHUNK),
                };
                write_diff_tar(upper, &mut w)
            });
            let staged = self.stage_layer(
                ChunkReader {
                    rx,
                    cur: Vec::new(),
                    pos: 0,
                },
                None,
                0,
            );
            let written = writer.join().unwrap_or_else(|_| {
                Err(Error::Io {
                    context: format!("archive {}", upper.display()),
                    source: io::Error::other("tar writer panicked"),
                })
            });
            match (staged, written) {
                (Ok(s), Ok(_)) => Ok(s),
                // The writer stopped because staging failed: that is the cause.
                (Err(e), Err(Error::Io { source, .. }))
                    if source.kind() == io::ErrorKind::BrokenPipe =>
                {
                    Err(e)
                }
                // A writer failure truncates the tar, which may still have
                // staged: the writer's error wins.
                (_, Err(e)) | (Err(e), Ok(_)) => Err(e),
            }
        })
    }
}

/// The image config of a commit: the base's platform and history, the new
/// config, and one history row (docker's `NewChildImage`).
fn child_config(
    base: &Value,
    req: &CommitRequest,
    config: Map<String, Value>,
    created: &str,
    diff_ids: &[Digest],
    empty: bool,
) -> Value {
    let base_str = |k: &str| {
        base.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let created_by = req
        .config
        .get("Cmd")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let mut row = Map::new();
    row.insert("created".into(), json!(created));
    // omitempty, as docker's History.
    for (k, v) in [
        ("author", req.author.as_str()),
        ("created_by", created_by.as_str()),
        ("comment", req.comment.as_str()),
    ] {
        if !v.is_empty() {
            row.insert(k.into(), json!(v));
        }
    }
    if empty {
        row.insert("empty_layer".into(), json!(true));
    }
    let mut history = base
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    history.push(Value::Object(row));

    let mut out = Map::new();
    out.insert(
        "architecture".into(),
        json!(base_str("architecture").unwrap_or(host_arch())),
    );
    out.insert("os".into(), json!(base_str("os").unwrap_or("linux")));
    for k in ["variant", "os.version", "os.features"] {
        if let Some(v) = base.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("config".into(), Value::Object(config));
    out.insert("container".into(), json!(req.container_id));
    out.insert("container_config".into(), req.config.clone());
    out.insert("created".into(), json!(created));
    if !req.author.is_empty() {
        out.insert("author".into(), json!(req.author));
    }
    if !req.comment.is_empty() {
        out.insert("comment".into(), json!(req.comment));
    }
    out.insert("history".into(), Value::Array(history));
    let diff_ids: Vec<String> = diff_ids.iter().map(Digest::to_string).collect();
    out.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );
    Value::Object(out)
}

/// The writing end of the tar channel; a gone reader is a broken pipe.
struct ChunkWriter {
    tx: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .send(chunk)
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The reading end: EOF once the writer is done (or gone).
struct ChunkReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    use nix::sys::stat::{makedev, mknod, Mode, SFlag};

    use super::*;
    use crate::error::ErrorKind;
    use crate::testutil::TarBuilder;
    use crate::DeleteItem;

    fn store() -> (tempfile::TempDir, ImageStore) {
        let t = tempfile::tempdir().unwrap();
        let s = ImageStore::open(&t.path().join("image")).unwrap();
        (t, s)
    }

    fn base(s: &ImageStore) -> String {
        let mut t = TarBuilder::new();
        t.dir("bin/", 0o755)
            .file("bin/sh", 0o755, b"sh")
            .dir("etc/", 0o755)
            .file("etc/os-release", 0o644, b"base")
            .file("etc/motd", 0o644, b"hi");
        s.import(
            &t.finish()[..],
            Some("base:1"),
            &["CMD [\"/bin/sh\"]".into()],
            "",
        )
        .unwrap()
    }

    /// An upper dir that adds, changes and deletes a file.
    fn upper(t: &tempfile::TempDir) -> PathBuf {
        let u = t.path().join("upper");
        fs::create_dir_all(u.join("etc")).unwrap();
        fs::create_dir_all(u.join("tmp")).unwrap();
        fs::write(u.join("tmp/file.txt"), "hello").unwrap();
        fs::write(u.join("etc/os-release"), "changed").unwrap();
        mknod(
            &u.join("etc/motd"),
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )
        .unwrap();
        u
    }

    fn container_config() -> Value {
        json!({
            "Hostname": "c0ffee", "Domainname": "", "User": "",
            "AttachStdin": false, "AttachStdout": true, "AttachStderr": true,
            "Tty": false, "OpenStdin": false, "StdinOnce": false,
            "Env": ["PATH=/bin"], "Cmd": ["sh", "-c", "echo hello > /tmp/file.txt"],
            "Image": "base:1", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
            "OnBuild": null, "Labels": {"a": "b"},
            "MacAddress": "02:42:ac:11:00:02", "NetworkDisabled": false,
        })
    }

    fn request(base: Option<String>, upper: PathBuf) -> CommitRequest {
        CommitRequest {
            base,
            upper,
            config: container_config(),
            changes: vec!["ENV FOO=bar".into(), "CMD [\"sh\"]".into()],
            comment: "my commit".into(),
            author: "me <me@example.com>".into(),
            reference: Some("docker.io/library/committed".into()),
            container_id: "c0ffee".repeat(10) + "abcd",
        }
    }

    fn raw(img: &crate::Image) -> Value {
        serde_json::from_slice(&img.raw_config).unwrap()
    }

    #[test]
    fn a_parent_with_a_child_is_only_untagged() {
        let (t, s) = store();
        let base_id = base(&s);
        s.commit(request(Some(base_id.clone()), upper(&t))).unwrap();
        let never = |_: &str| None;
        let short = &base_id["sha256:".len()..][..12];
        for force in [false, true] {
            let e = s.remove(&base_id, force, &never).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("conflict: unable to delete {short} (cannot be forced) - image has dependent child images")
            );
        }
        // By its tag: untagged, and kept for the child.
        let items = s.remove("base:1", false, &never).unwrap();
        assert_eq!(items, vec![DeleteItem::Untagged("base:1".into())]);
        assert!(s.resolve(&base_id).is_ok());
        // Once the child is gone, the parent goes too.
        s.remove("committed", false, &never).unwrap();
        s.remove(&base_id, false, &never).unwrap();
        assert!(s.resolve(&base_id).is_err());
    }

    #[test]
    fn commit_over_an_image() {
        let (t, s) = store();
        let base_id = base(&s);
        let base_img = s.resolve(&base_id).unwrap();
        let req = request(Some(base_id.clone()), upper(&t));
        let container = req.container_id.clone();
        let id = s.commit(req.clone()).unwrap();

        let img = s.resolve("committed").unwrap();
        assert_eq!(img.id, id);
        assert_eq!(img.repo_tags, ["committed:latest"]);
        assert_eq!(img.layers.len(), base_img.layers.len() + 1);
        assert_eq!(img.layers[..1], base_img.layers[..]);

        let cfg = raw(&img);
        assert_eq!(cfg["config"]["Env"], json!(["PATH=/bin", "FOO=bar"]));
        assert_eq!(cfg["config"]["Cmd"], json!(["sh"]));
        assert_eq!(cfg["config"]["Hostname"], "c0ffee");
        assert_eq!(cfg["config"]["Labels"], json!({"a": "b"}));
        assert!(cfg["config"].get("MacAddress").is_none());
        assert_eq!(cfg["container_config"], container_config());
        assert_eq!(cfg["container"], json!(container));
        assert_eq!(cfg["author"], "me <me@example.com>");
        assert_eq!(cfg["comment"], "my commit");
        assert_eq!(cfg["os"], "linux");
        assert_eq!(cfg["architecture"], raw(&base_img)["architecture"]);
        assert!(cfg["created"].as_str().unwrap().ends_with('Z'));
        let history = cfg["history"].as_array().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0], raw(&base_img)["history"][0]);
        assert_eq!(history[1]["comment"], "my commit");
        assert_eq!(history[1]["author"], "me <me@example.com>");
        assert_eq!(history[1]["created_by"], "sh -c echo hello > /tmp/file.txt");
        assert_eq!(history[1]["created"], cfg["created"]);
        assert!(history[1].get("empty_layer").is_none());

        // The new layer is the upper dir as an overlay layer.
        let dirs = s.layer_dirs(&img);
        assert_eq!(dirs.len(), 2);
        assert_eq!(fs::read(dirs[0].join("tmp/file.txt")).unwrap(), b"hello");
        assert_eq!(
            fs::read(dirs[0].join("etc/os-release")).unwrap(),
            b"changed"
        );
        let motd = fs::symlink_metadata(dirs[0].join("etc/motd")).unwrap();
        assert!(motd.file_type().is_char_device() && motd.rdev() == 0);
        assert_eq!(dirs[1], s.layer_dirs(&base_img)[0]);

        let h = s.history("committed:latest").unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].id, id);
        assert_eq!(h[0].comment, "my commit");

        // The same diff again: a second image, the layer stored once.
        let mut again = req;
        again.reference = Some("other:v2".into());
        again.comment = String::new();
        let id2 = s.commit(again).unwrap();
        assert_ne!(id2, id);
        let img2 = s.resolve("other:v2").unwrap();
        assert_eq!(img2.layers, img.layers);
        assert_eq!(s.layer_dirs(&img2), dirs);
        let cfg2 = raw(&img2);
        assert!(cfg2.get("comment").is_none());
        assert!(cfg2["history"][1].get("comment").is_none());
        assert!(fs::read_dir(s.snap.tmp_dir()).unwrap().next().is_none());
    }

    #[test]
    fn commit_without_base_and_empty_diffs() {
        let (t, s) = store();
        let mut req = request(None, upper(&t));
        req.reference = None;
        let id = s.commit(req).unwrap();
        let img = s.resolve(&id).unwrap();
        assert!(img.repo_tags.is_empty());
        assert_eq!(img.layers.len(), 1);
        assert_eq!(raw(&img)["history"].as_array().unwrap().len(), 1);

        // Nothing changed: docker adds a history row but no layer.
        let base_id = base(&s);
        let empty = t.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let mut req = request(Some(base_id.clone()), empty.clone());
        req.reference = Some("same:1".into());
        let id = s.commit(req).unwrap();
        let img = s.resolve(&id).unwrap();
        assert_eq!(img.layers, s.resolve(&base_id).unwrap().layers);
        let cfg = raw(&img);
        assert_eq!(cfg["history"][1]["empty_layer"], true);
        let h = s.history("same:1").unwrap();
        assert_eq!((h.len(), h[0].size), (2, 0));

        // No base, no changes: an image without layers.
        let mut req = request(None, empty);
        req.reference = None;
        let img = s.resolve(&s.commit(req).unwrap()).unwrap();
        assert!(img.layers.is_empty());
    }

    #[test]
    fn commit_errors() {
        let (t, s) = store();
        let u = upper(&t);
        let with = |f: &dyn Fn(&mut CommitRequest)| {
            let mut r = request(None, u.clone());
            f(&mut r);
            s.commit(r).unwrap_err()
        };
        let e = with(&|r| r.reference = Some("x@sha256:".to_string() + &"a".repeat(64)));
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("digest reference"), "{e}");
        assert_eq!(
            with(&|r| r.reference = Some("Bad".into())).kind(),
            ErrorKind::InvalidArgument
        );
        let e = with(&|r| r.changes = vec!["RUN true".into()]);
        assert_eq!(e.to_string(), "run is not a valid change command");
        assert_eq!(
            with(&|r| r.base = Some("nope:1".into())).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            with(&|r| r.config = json!([1])).kind(),
            ErrorKind::InvalidArgument
        );
        let e = with(&|r| r.upper = t.path().join("missing"));
        assert_eq!(e.kind(), ErrorKind::Other);
        assert!(s.list().unwrap().is_empty());
        assert!(fs::read_dir(s.snap.tmp_dir()).unwrap().next().is_none());
    }

    #[test]
    fn chunk_channel_round_trip() {
        let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
        let data: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| i as u8).collect();
        let sent = data.clone();
        let h = std::thread::spawn(move || {
            let mut w = ChunkWriter {
                tx,
                buf: Vec::new(),
            };
            w.write_all(&sent).unwrap();
            w.flush().unwrap();
        });
        let mut got = Vec::new();
        ChunkReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        }
        .read_to_end(&mut got)
        .unwrap();
        h.join().unwrap();
        assert_eq!(got, data);

        // A reader that went away is a broken pipe for the writer.
        let (tx, rx) = sync_channel::<Vec<u8>>(1);
        drop(rx);
        let mut w = ChunkWriter {
            tx,
            buf: Vec::new(),
        };
        w.write_all(b"x").unwrap();
        assert_eq!(w.flush().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
