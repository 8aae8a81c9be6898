//! ImageStore tests: archives are built here, in both layouts.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use berth_store::Digest;
use serde_json::{json, Value};

use super::*;
use crate::error::ErrorKind;
use crate::testutil::{gzip, zstd, TarBuilder};

fn store() -> (tempfile::TempDir, ImageStore) {
    let t = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&t.path().join("image")).unwrap();
    (t, s)
}

fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut t = TarBuilder::new();
    for (name, data) in files {
        t.file(name, 0o644, data.as_bytes());
    }
    t.finish()
}

fn config(layers: &[&Vec<u8>], cmd: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| Digest::of_bytes(l).to_string())
        .collect();
    let mut history: Vec<Value> = layers
        .iter()
        .enumerate()
        .map(|(i, _)| json!({"created": "2023-11-14T22:13:20Z", "created_by": format!("ADD layer{i} /")}))
        .collect();
    history.push(json!({"created": "2023-11-14T22:13:21Z", "created_by": format!("CMD [\"{cmd}\"]"), "empty_layer": true}));
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:21Z",
        "config": {"Cmd": [cmd], "Env": ["PATH=/bin"], "Labels": {"l": "v"}},
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

struct Img {
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
    tags: Vec<&'static str>,
}

impl Img {
    fn new(layers: Vec<Vec<u8>>, cmd: &str, tags: Vec<&'static str>) -> Img {
        let refs: Vec<&Vec<u8>> = layers.iter().collect();
        Img {
            config: config(&refs, cmd),
            layers,
            tags,
        }
    }

    fn id(&self) -> String {
        Digest::of_bytes(&self.config).to_string()
    }
}

/// The pre-25 `docker save` layout; `manifest.json` is written last.
fn legacy_archive(images: &[&Img]) -> Vec<u8> {
    let mut t = TarBuilder::new();
    let mut manifest = Vec::new();
    for img in images {
        let cfg_name = format!("{}.json", Digest::of_bytes(&img.config).hex());
        t.file(&cfg_name, 0o644, &img.config);
        let mut paths = Vec::new();
        for (i, l) in img.layers.iter().enumerate() {
            let dir = format!("{}{i}", &Digest::of_bytes(l).hex()[..20]);
            t.dir(&format!("{dir}/"), 0o755);
            t.file(&format!("{dir}/layer.tar"), 0o644, l);
            paths.push(format!("{dir}/layer.tar"));
        }
        manifest.push(json!({"Config": cfg_name, "RepoTags": img.tags, "Layers": paths}));
    }
    t.file(
        "manifest.json",
        0o644,
        &serde_json::to_vec(&manifest).unwrap(),
    );
    t.finish()
}

fn blob(t: &mut TarBuilder, data: &[u8]) -> Value {
    let d = Digest::of_bytes(data);
    t.file(&format!("blobs/sha256/{}", d.hex()), 0o644, data);
    json!({"digest": d.to_string(), "size": data.len()})
}

fn desc(media: &str, mut d: Value) -> Value {
    d["mediaType"] = json!(media);
    d
}

/// An OCI layout; layers compressed by `compress`; with `nested`, the
/// top-level index points at a multi-platform index (arm64 blobs absent).
fn oci_archive(
    img: &Img,
    compress: fn(&[u8]) -> Vec<u8>,
    nested: bool,
    annotations: Value,
) -> Vec<u8> {
    let mut t = TarBuilder::new();
    t.file("oci-layout", 0o644, br#"{"imageLayoutVersion":"1.0.0"}"#);
    let cfg = desc(
        "application/vnd.oci.image.config.v1+json",
        blob(&mut t, &img.config),
    );
    let layers: Vec<Value> = img
        .layers
        .iter()
        .map(|l| {
            desc(
                "application/vnd.oci.image.layer.v1.tar+gzip",
                blob(&mut t, &compress(l)),
            )
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cfg,
        "layers": layers,
    }))
    .unwrap();
    let mut top = desc(
        "application/vnd.oci.image.manifest.v1+json",
        blob(&mut t, &manifest),
    );
    if nested {
        let mut amd = top.clone();
        amd["platform"] = json!({"os": "linux", "architecture": "amd64"});
        let arm = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": Digest::of_bytes(b"arm").to_string(), "size": 3,
            "platform": {"os": "linux", "architecture": "arm64"},
        });
        let att = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": Digest::of_bytes(b"att").to_string(), "size": 3,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
        });
        amd["annotations"] = json!({"x": "y"});
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [arm, att, amd],
        }))
        .unwrap();
        top = desc(
            "application/vnd.oci.image.index.v1+json",
            blob(&mut t, &index),
        );
    }
    if !annotations.is_null() {
        top["annotations"] = annotations;
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [top]});
    t.file("index.json", 0o644, &serde_json::to_vec(&index).unwrap());
    t.finish()
}

fn load(s: &ImageStore, tar: &[u8]) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let r = s.load(tar, &mut |l: &str| lines.push(l.to_string()));
    if let Ok(msgs) = &r {
        for m in msgs {
            assert!(lines.contains(m), "{m} not reported as progress");
        }
    }
    r
}

fn busybox() -> Img {
    Img::new(
        vec![
            layer(&[("bin/busybox", "BB"), ("etc/passwd", "root")]),
            layer(&[("etc/hostname", "x")]),
        ],
        "sh",
        vec!["busybox:latest"],
    )
}

fn tmp_is_empty(s: &ImageStore) -> bool {
    fs::read_dir(s.snap.tmp_dir()).unwrap().next().is_none()
}

fn no_use(_: &str) -> Option<String> {
    None
}

#[test]
fn load_legacy_and_resolve() {
    let (_t, s) = store();
    let img = busybox();
    let msgs = load(&s, &legacy_archive(&[&img])).unwrap();
    assert_eq!(msgs, ["Loaded image: busybox:latest"]);
    assert!(tmp_is_empty(&s));

    let id = img.id();
    let hex = id.strip_prefix("sha256:").unwrap().to_string();
    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox",
        "docker.io/library/busybox:latest",
        "index.docker.io/library/busybox",
        id.as_str(),
        hex.as_str(),
        &hex[..12],
        &hex[..1],
        &format!("sha256:{}", &hex[..5]),
    ] {
        let found = s.resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(found.id, id, "{name}");
    }
    let found = s.resolve("busybox").unwrap();
    assert_eq!(found.repo_tags, ["busybox:latest"]);
    assert_eq!(found.raw_config, img.config);
    assert_eq!(found.created.as_deref(), Some("2023-11-14T22:13:21Z"));
    assert_eq!(found.layers.len(), 2);
    assert_eq!(found.size, 2 + 4 + 1);
    assert_eq!(
        found
            .config
            .config()
            .as_ref()
            .unwrap()
            .cmd()
            .as_ref()
            .unwrap(),
        &["sh"]
    );

    let dirs = s.layer_dirs(&found);
    assert_eq!(dirs.len(), 2);
    assert_eq!(
        fs::read_to_string(dirs[0].join("etc/hostname")).unwrap(),
        "x"
    );
    assert_eq!(
        fs::read_to_string(dirs[1].join("bin/busybox")).unwrap(),
        "BB"
    );

    let nf = s.resolve("busybox:1").unwrap_err();
    assert_eq!(nf.kind(), ErrorKind::NotFound);
    assert_eq!(nf.to_string(), "No such image: busybox:1");
    assert_eq!(
        s.resolve("nope").unwrap_err().to_string(),
        "No such image: nope:latest"
    );
    assert_eq!(
        s.resolve(&"0".repeat(64)).unwrap_err().to_string(),
        format!("No such image: sha256:{}", "0".repeat(64))
    );
    let bad = s.resolve("Busybox").unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidArgument);

    assert_eq!(s.list().unwrap().len(), 1);
    // loading again is a no-op with the same message
    assert_eq!(
        load(&s, &legacy_archive(&[&img])).unwrap(),
        ["Loaded image: busybox:latest"]
    );
    assert_eq!(s.list().unwrap().len(), 1);
}

#[test]
fn load_untagged_and_retag_messages() {
    let (_t, s) = store();
    let mut img = busybox();
    img.tags = vec![];
    let msgs = load(&s, &legacy_archive(&[&img])).unwrap();
    assert_eq!(msgs, [format!("Loaded image ID: {}", img.id())]);
    assert!(s.resolve(&img.id()).unwrap().repo_tags.is_empty());

    let first = busybox();
    load(&s, &legacy_archive(&[&first])).unwrap();
    let second = Img::new(
        vec![layer(&[("other", "o")])],
        "top",
        vec!["busybox:latest"],
    );
    let mut lines = Vec::new();
    let msgs = s
        .load(&legacy_archive(&[&second])[..], &mut |l: &str| {
            lines.push(l.to_string())
        })
        .unwrap();
    assert_eq!(msgs, ["Loaded image: busybox:latest"]);
    assert_eq!(
        lines,
        [
            format!(
                "The image busybox:latest already exists, renaming the old one with ID {} to empty string",
                first.id()
            ),
            "Loaded image: busybox:latest".to_string()
        ]
    );
    assert!(s.resolve(&first.id()).unwrap().repo_tags.is_empty());
}

#[test]
fn load_rejects_bad_diff_id_and_leaves_nothing() {
    let (_t, s) = store();
    let mut img = busybox();
    img.layers[1] = layer(&[("etc/hostname", "tampered")]);
    let err = load(&s, &legacy_archive(&[&img])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.to_string().contains("invalid diffID for layer 1"),
        "{err}"
    );
    assert!(s.list().unwrap().is_empty());
    assert!(tmp_is_empty(&s));
    // the good first layer was committed as a blob/dir only to be GC'd
    drop(s);
}

#[test]
fn load_legacy_with_compressed_and_symlinked_layers() {
    let (_t, s) = store();
    let base = layer(&[("base", "b")]);
    let img = Img::new(vec![base.clone(), base.clone()], "x", vec!["dup:1"]);
    let mut t = TarBuilder::new();
    t.file(
        "manifest.json",
        0o644,
        &serde_json::to_vec(&json!([{
            "Config": "cfg.json", "RepoTags": ["dup:1"], "Layers": ["a/layer.tar", "b/layer.tar"]
        }]))
        .unwrap(),
    );
    t.file("cfg.json", 0o644, &img.config);
    t.file("a/layer.tar", 0o644, &gzip(&base));
    t.symlink("b/layer.tar", "../a/layer.tar");
    load(&s, &t.finish()).unwrap();
    let found = s.resolve("dup:1").unwrap();
    assert_eq!(s.layer_dirs(&found).len(), 2);
}

#[test]
fn load_oci_layouts() {
    for (compress, nested) in [
        (gzip as fn(&[u8]) -> Vec<u8>, false),
        (zstd, true),
        (gzip, true),
    ] {
        let (_t, s) = store();
        let img = busybox();
        let ann = json!({
            "io.containerd.image.name": "docker.io/library/busybox:oci",
            "org.opencontainers.image.ref.name": "oci",
        });
        let msgs = load(&s, &oci_archive(&img, compress, nested, ann)).unwrap();
        assert_eq!(msgs, ["Loaded image: busybox:oci"]);
        let found = s.resolve("busybox:oci").unwrap();
        assert_eq!(found.id, img.id());
        assert!(s.layer_dirs(&found)[1].join("bin/busybox").is_file());
        assert!(tmp_is_empty(&s));
    }
    // only ref.name, as a full reference / as a bare tag
    let (_t, s) = store();
    let img = busybox();
    let msgs = load(
        &s,
        &oci_archive(
            &img,
            gzip,
            false,
            json!({"org.opencontainers.image.ref.name": "reg.io:5000/x:v1"}),
        ),
    )
    .unwrap();
    assert_eq!(msgs, ["Loaded image: reg.io:5000/x:v1"]);
    let (_t, s) = store();
    let msgs = load(
        &s,
        &oci_archive(
            &img,
            gzip,
            false,
            json!({"org.opencontainers.image.ref.name": "v1"}),
        ),
    )
    .unwrap();
    assert_eq!(msgs, [format!("Loaded image ID: {}", img.id())]);
}

#[test]
fn load_oci_verifies_blobs() {
    let (_t, s) = store();
    let img = busybox();
    let good = oci_archive(&img, gzip, false, Value::Null);
    // Corrupt one byte inside the first blob's data (the config).
    let mut bad = good.clone();
    let pos = bad.windows(8).position(|w| w == b"\"config\"").unwrap();
    bad[pos + 1] = b'C';
    let err = load(&s, &bad).unwrap_err();
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn hostile_outer_archives() {
    let t = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&t.path().join("a/image")).unwrap();
    let outside = t.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let check = || {
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        let names: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(tmp_is_empty(&s));
    };
    let img = busybox();

    let mut a = TarBuilder::new();
    a.file("../../outside/x", 0o644, b"pwned");
    let err = load(&s, &a.finish()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    check();

    // manifest pointing outside the archive
    let mut a = TarBuilder::new();
    a.file(
        "manifest.json",
        0o644,
        br#"[{"Config":"../../../../etc/passwd","RepoTags":[],"Layers":[]}]"#,
    );
    assert!(load(&s, &a.finish()).is_err());
    check();

    // absolute config path and symlink to a host file: resolved in the archive
    let mut a = TarBuilder::new();
    a.symlink("cfg.json", "/etc/passwd");
    a.file(
        "manifest.json",
        0o644,
        br#"[{"Config":"/cfg.json","RepoTags":[],"Layers":[]}]"#,
    );
    let err = load(&s, &a.finish()).unwrap_err();
    assert!(
        err.to_string().contains("not found in the archive"),
        "{err}"
    );
    check();

    // symlink loops
    let mut a = TarBuilder::new();
    a.symlink("x", "y").symlink("y", "x");
    a.file(
        "manifest.json",
        0o644,
        br#"[{"Config":"x","RepoTags":[],"Layers":[]}]"#,
    );
    assert!(load(&s, &a.finish()).is_err());

    // a hostile layer inside a valid archive
    let mut l = TarBuilder::new();
    l.symlink("evil", &outside.to_string_lossy())
        .file("evil/x", 0o644, b"x");
    let evil = Img::new(vec![l.finish()], "x", vec!["evil:1"]);
    let err = load(&s, &legacy_archive(&[&evil])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    check();

    // garbage, empty, truncated
    assert!(load(&s, b"garbage garbage garbage").is_err());
    assert!(load(&s, b"").is_err());
    let full = legacy_archive(&[&img]);
    assert!(load(&s, &full[..full.len() / 2]).is_err());
    check();
    assert!(s.list().unwrap().is_empty());
}

fn entries(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            let mut d = Vec::new();
            e.read_to_end(&mut d).unwrap();
            (p, d)
        })
        .collect()
}

#[test]
fn save_then_load_round_trip() {
    let (_t, s) = store();
    let bb = busybox();
    let other = Img::new(
        vec![bb.layers[0].clone(), layer(&[("app", "a")])],
        "app",
        vec!["reg.io:5000/team/app:v2"],
    );
    load(&s, &legacy_archive(&[&bb, &other])).unwrap();
    s.tag("busybox", "busybox", "second").unwrap();

    let mut out = Vec::new();
    s.save(
        &["busybox".into(), "reg.io:5000/team/app:v2".into()],
        &mut out,
    )
    .unwrap();
    let files = entries(&out);
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for want in ["index.json", "manifest.json", "oci-layout", "repositories"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    // every blob is named by its digest; the shared base layer once
    let blobs: Vec<&(String, Vec<u8>)> = files
        .iter()
        .filter(|(p, d)| p.starts_with("blobs/sha256/") && !d.is_empty())
        .collect();
    for (p, d) in &blobs {
        assert_eq!(&p["blobs/sha256/".len()..], Digest::of_bytes(d).hex());
    }
    assert_eq!(blobs.len(), 2 + 3 + 2); // configs, layers, manifests
    let manifest: Value =
        serde_json::from_slice(&files.iter().find(|(p, _)| p == "manifest.json").unwrap().1)
            .unwrap();
    let mut tags: Vec<String> = manifest
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| {
            m["RepoTags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
        })
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            "busybox:latest",
            "busybox:second",
            "reg.io:5000/team/app:v2"
        ]
    );
    let repos: Value =
        serde_json::from_slice(&files.iter().find(|(p, _)| p == "repositories").unwrap().1)
            .unwrap();
    assert_eq!(
        repos["busybox"]["latest"],
        json!(Digest::of_bytes(&bb.layers[1]).hex())
    );

    // into a fresh store through manifest.json
    let (_t2, s2) = store();
    let mut msgs = load(&s2, &out).unwrap();
    msgs.sort();
    assert_eq!(
        msgs,
        [
            "Loaded image: busybox:latest",
            "Loaded image: busybox:second",
            "Loaded image: reg.io:5000/team/app:v2"
        ]
    );
    assert_eq!(s2.resolve("busybox:second").unwrap().id, bb.id());
    let app = s2.resolve("reg.io:5000/team/app:v2").unwrap();
    assert_eq!(app.id, other.id());
    assert_eq!(
        fs::read_to_string(s2.layer_dirs(&app)[0].join("app")).unwrap(),
        "a"
    );

    // and through index.json alone (as an OCI tool would)
    let mut t = TarBuilder::new();
    for (p, d) in &files {
        if p != "manifest.json" && !p.ends_with('/') {
            t.file(p, 0o644, d);
        }
    }
    let (_t3, s3) = store();
    let mut msgs = load(&s3, &t.finish()).unwrap();
    msgs.sort();
    assert_eq!(
        msgs,
        [
            "Loaded image: busybox:latest",
            "Loaded image: busybox:second",
            "Loaded image: reg.io:5000/team/app:v2"
        ]
    );

    // by id: untagged
    let mut out = Vec::new();
    s.save(&[bb.id()], &mut out).unwrap();
    let (_t4, s4) = store();
    assert_eq!(
        load(&s4, &out).unwrap(),
        [format!("Loaded image ID: {}", bb.id())]
    );

    assert_eq!(
        s.save(&["nope".into()], Vec::new()).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn import_with_changes() {
    let (_t, s) = store();
    let rootfs = layer(&[("bin/sh", "sh"), ("etc/os-release", "x")]);
    let changes = vec![
        "CMD [\"/bin/sh\"]".to_string(),
        "ENV A=1 B=2".to_string(),
        "WORKDIR /srv".to_string(),
        "EXPOSE 8080".to_string(),
        "LABEL k=v".to_string(),
    ];
    let id = s
        .import(&gzip(&rootfs)[..], Some("imported:v1"), &changes, "")
        .unwrap();
    let img = s.resolve("imported:v1").unwrap();
    assert_eq!(img.id, id);
    assert_eq!(img.layers, [Digest::of_bytes(&rootfs).to_string()]);
    let raw: Value = serde_json::from_slice(&img.raw_config).unwrap();
    assert_eq!(raw["architecture"], "amd64");
    assert_eq!(raw["os"], "linux");
    assert_eq!(raw["comment"], "Imported from -");
    assert_eq!(raw["config"]["Cmd"], json!(["/bin/sh"]));
    assert_eq!(raw["config"]["Env"], json!(["A=1", "B=2"]));
    assert_eq!(raw["config"]["WorkingDir"], "/srv");
    assert_eq!(raw["config"]["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(raw["config"]["Entrypoint"], Value::Null);
    assert_eq!(raw["history"][0]["comment"], "Imported from -");
    assert!(raw["created"].as_str().unwrap().ends_with('Z'));
    assert!(s.layer_dirs(&img)[0].join("etc/os-release").is_file());
    let h = s.history("imported:v1").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].id, id);
    assert_eq!(h[0].comment, "Imported from -");
    assert_eq!(h[0].tags, ["imported:v1"]);
    assert_eq!(h[0].size, 3);

    // untagged, custom message, zstd
    let id2 = s
        .import(&zstd(&rootfs)[..], None, &[], "my message")
        .unwrap();
    let img2 = s.resolve(&id2).unwrap();
    assert!(img2.repo_tags.is_empty());
    let raw: Value = serde_json::from_slice(&img2.raw_config).unwrap();
    assert_eq!(raw["comment"], "my message");
    // same layer, shared
    assert_eq!(s.layer_dirs(&img2), s.layer_dirs(&img));
    assert_eq!(img2.platform().os, "linux");

    // recorded for the platform asked
    let arm = crate::Platform::parse("linux/arm/v6").unwrap();
    let id3 = s
        .import_as(&rootfs[..], Some("arm:v6"), &[], "", Some(&arm))
        .unwrap();
    assert_eq!(s.resolve(&id3).unwrap().platform(), arm);
    s.remove("arm:v6", false, &|_| None).unwrap();

    let err = s
        .import(&rootfs[..], Some("x"), &["RUN rm -rf /".into()], "")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.to_string(), "run is not a valid change command");
    assert_eq!(
        s.import(&rootfs[..], Some("Bad"), &[], "")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    let mut evil = TarBuilder::new();
    evil.file("../../x", 0o644, b"x");
    assert_eq!(
        s.import(&evil.finish()[..], None, &[], "")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(s.list().unwrap().len(), 2);
    assert!(tmp_is_empty(&s));
}

#[test]
fn tag_and_remove() {
    let (_t, s) = store();
    let bb = busybox();
    load(&s, &legacy_archive(&[&bb])).unwrap();
    let id = bb.id();
    let short = &id[7..19];

    s.tag("busybox", "127.0.0.1:5000/x/y", "t").unwrap();
    s.tag(&id, "mine", "").unwrap();
    let img = s.resolve("127.0.0.1:5000/x/y:t").unwrap();
    assert_eq!(
        img.repo_tags,
        ["127.0.0.1:5000/x/y:t", "busybox:latest", "mine:latest"]
    );
    for (repo, tag) in [
        ("UPPER", "x"),
        ("ok", "-bad"),
        ("ok", &"t".repeat(129)),
        ("sha256", "x"),
        ("", "x"),
    ] {
        let e = s.tag("busybox", repo, tag).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{repo}:{tag}");
    }
    assert_eq!(
        s.tag("nope", "a", "b").unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // by id with several tags: conflict unless forced
    let e = s.remove(&id, false, &no_use).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")
    );
    // by name: just untag
    assert_eq!(
        s.remove("mine", false, &no_use).unwrap(),
        [DeleteItem::Untagged("mine:latest".into())]
    );
    assert_eq!(
        s.remove("127.0.0.1:5000/x/y:t", false, &no_use).unwrap(),
        [DeleteItem::Untagged("127.0.0.1:5000/x/y:t".into())]
    );

    // in use by a container
    let user = |i: &str| (i == id).then(|| "c0ffee".repeat(10));
    let e = s.remove("busybox", false, &user).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to remove repository reference \"busybox\" (must force) - container c0ffeec0ffee is using its referenced image {short}")
    );
    let e = s.remove(short, false, &user).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is being used by stopped container c0ffeec0ffee")
    );
    // forced: untagged, but kept for the container
    assert_eq!(
        s.remove("busybox", true, &user).unwrap(),
        [DeleteItem::Untagged("busybox:latest".into())]
    );
    let img = s.resolve(&id).unwrap();
    assert!(img.repo_tags.is_empty());
    assert!(s.layer_dirs(&img).iter().all(|d| d.is_dir()));

    // unused now: delete by id, layers go too
    let chains = chain_ids(
        &bb.layers
            .iter()
            .map(|l| Digest::of_bytes(l))
            .collect::<Vec<_>>(),
    );
    let items = s.remove(short, false, &no_use).unwrap();
    assert_eq!(
        items,
        [
            DeleteItem::Deleted(id.clone()),
            DeleteItem::Deleted(chains[1].to_string()),
            DeleteItem::Deleted(chains[0].to_string()),
        ]
    );
    assert!(s.list().unwrap().is_empty());
    assert!(!s.snap.has_layer(&chains[0]));
    assert!(s.content.list().unwrap().is_empty());
    assert_eq!(
        s.remove("busybox", false, &no_use).unwrap_err().to_string(),
        "No such image: busybox:latest"
    );
}

#[test]
fn remove_by_id_single_tag_and_forced_multi() {
    let (_t, s) = store();
    let bb = busybox();
    load(&s, &legacy_archive(&[&bb])).unwrap();
    let items = s.remove(&bb.id(), false, &no_use).unwrap();
    assert_eq!(items[0], DeleteItem::Untagged("busybox:latest".into()));
    assert_eq!(items[1], DeleteItem::Deleted(bb.id()));
    assert_eq!(items.len(), 4);

    load(&s, &legacy_archive(&[&bb])).unwrap();
    s.tag("busybox", "b2", "x").unwrap();
    let items = s.remove(&bb.id(), true, &no_use).unwrap();
    assert_eq!(
        items[..3],
        [
            DeleteItem::Untagged("b2:x".into()),
            DeleteItem::Untagged("busybox:latest".into()),
            DeleteItem::Deleted(bb.id()),
        ]
    );
}

#[test]
fn digest_references() {
    let (_t, s) = store();
    let bb = busybox();
    load(&s, &legacy_archive(&[&bb])).unwrap();
    let mdigest = Digest::of_bytes(b"manifest");
    let dref = format!("docker.io/library/busybox@{mdigest}");
    s.db.write(|tx| tx.put(REFS, &dref, &bb.id())).unwrap();
    let img = s.resolve(&format!("busybox@{mdigest}")).unwrap();
    assert_eq!(img.repo_digests, [format!("busybox@{mdigest}")]);
    assert_eq!(
        s.resolve(&format!("busybox:latest@{mdigest}")).unwrap().id,
        bb.id()
    );
    assert_eq!(
        s.resolve(&format!("busybox@{}", Digest::of_bytes(b"other")))
            .unwrap_err()
            .to_string(),
        format!("No such image: busybox@{}", Digest::of_bytes(b"other"))
    );
    // removing the last tag of the repository drops its digest refs too
    let items = s.remove("busybox", false, &no_use).unwrap();
    assert_eq!(items[0], DeleteItem::Untagged("busybox:latest".into()));
    assert_eq!(items[1], DeleteItem::Untagged(format!("busybox@{mdigest}")));
    assert_eq!(items[2], DeleteItem::Deleted(bb.id()));
}

#[test]
fn shared_layers_are_removed_with_the_last_user() {
    let (_t, s) = store();
    let a = busybox();
    let b = Img::new(
        vec![a.layers[0].clone(), layer(&[("b", "b")])],
        "b",
        vec!["b:1"],
    );
    load(&s, &legacy_archive(&[&a, &b])).unwrap();
    let base = chain_ids(&[Digest::of_bytes(&a.layers[0])])[0].clone();
    let items = s.remove("busybox", false, &no_use).unwrap();
    assert!(!items.contains(&DeleteItem::Deleted(base.to_string())));
    assert!(s.snap.has_layer(&base));
    assert!(s.content.contains(&Digest::of_bytes(&a.layers[0])));
    let items = s.remove("b:1", false, &no_use).unwrap();
    assert!(items.contains(&DeleteItem::Deleted(base.to_string())));
    assert!(!s.snap.has_layer(&base));
    assert!(s.content.list().unwrap().is_empty());
}

#[test]
fn ambiguous_prefix_is_not_found() {
    let (_t, s) = store();
    let mut imgs = Vec::new();
    for i in 0..40 {
        let img = Img::new(vec![], &format!("cmd{i}"), vec![]);
        load(&s, &legacy_archive(&[&img])).unwrap();
        imgs.push(img.id());
    }
    // 40 ids over 16 first hex digits: some first digit is shared
    let first: Vec<char> = imgs.iter().map(|i| i.chars().nth(7).unwrap()).collect();
    let dup = first
        .iter()
        .find(|c| first.iter().filter(|d| d == c).count() > 1)
        .unwrap();
    assert_eq!(
        s.resolve(&dup.to_string()).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn history_newest_first() {
    let (_t, s) = store();
    let bb = busybox();
    load(&s, &legacy_archive(&[&bb])).unwrap();
    let h = s.history("busybox").unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[0].id, bb.id());
    assert_eq!(h[0].tags, ["busybox:latest"]);
    assert_eq!(h[0].created_by, "CMD [\"sh\"]");
    assert_eq!(h[0].size, 0);
    assert_eq!(
        (h[1].id.as_str(), h[1].size, h[1].created_by.as_str()),
        ("<missing>", 1, "ADD layer1 /")
    );
    assert_eq!((h[2].id.as_str(), h[2].size), ("<missing>", 6));
    assert!(h[1].tags.is_empty());
    assert_eq!(h[2].created, "2023-11-14T22:13:20Z");
}

#[test]
fn reopen_keeps_data_and_collects_garbage() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("image");
    let bb = busybox();
    {
        let s = ImageStore::open(&root).unwrap();
        load(&s, &legacy_archive(&[&bb])).unwrap();
    }
    // leftovers of a crash
    fs::create_dir_all(root.join("tmp/layer-1-1/diff")).unwrap();
    let orphan = Digest::of_bytes(b"orphan");
    fs::create_dir_all(root.join("layers").join(orphan.hex()).join("diff")).unwrap();
    fs::write(
        root.join("content/blobs/sha256").join(orphan.hex()),
        b"orphan",
    )
    .unwrap();
    fs::write(root.join("content/ingest/partial"), b"x").unwrap();

    let s = ImageStore::open(&root).unwrap();
    assert_eq!(s.resolve("busybox").unwrap().id, bb.id());
    assert!(tmp_is_empty(&s));
    assert!(!root.join("layers").join(orphan.hex()).exists());
    assert!(!root
        .join("content/blobs/sha256")
        .join(orphan.hex())
        .exists());
    assert!(!root.join("content/ingest/partial").exists());
    assert_eq!(s.content.list().unwrap().len(), 3);
}

#[test]
fn rw_layers_over_images() {
    let (_t, s) = store();
    let bb = busybox();
    let empty = Img::new(vec![], "none", vec!["empty:1"]);
    load(&s, &legacy_archive(&[&bb, &empty])).unwrap();
    let img = s.resolve("busybox").unwrap();
    let m = s.prepare_rw("c1", &img).unwrap();
    assert_eq!(m, s.rw_mount("c1", &img).unwrap());
    // The container's init layer, then the image's layers.
    assert_eq!(m.lowerdirs[1..], s.layer_dirs(&img)[..]);
    assert!(m.lowerdirs[0].join(".dockerenv").is_file());
    let e = s.prepare_rw("c2", &s.resolve("empty:1").unwrap()).unwrap();
    assert_eq!(e.lowerdirs.len(), 2);
    if nix::unistd::geteuid().is_root() {
        m.mount().unwrap();
        assert_eq!(
            fs::read_to_string(m.target.join("bin/busybox")).unwrap(),
            "BB"
        );
        assert_eq!(
            fs::read_to_string(m.target.join("etc/passwd")).unwrap(),
            "root"
        );
        // As in docker, the init layer's mount points mask the image's.
        assert_eq!(
            fs::read_to_string(m.target.join("etc/hostname")).unwrap(),
            ""
        );
        e.mount().unwrap();
        e.unmount().unwrap();
    }
    s.remove_rw("c1").unwrap();
    s.remove_rw("c2").unwrap();
    assert!(!m.upperdir.exists());
    assert!(s.remove_rw("../etc").is_err());
}

#[test]
fn concurrent_loads_of_the_same_image() {
    let (_t, s) = store();
    let s = Arc::new(s);
    let bb = busybox();
    let a = Arc::new(legacy_archive(&[&bb]));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (s, a) = (s.clone(), a.clone());
            std::thread::spawn(move || s.load(&a[..], &mut |_| {}).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let img = s.resolve("busybox").unwrap();
    assert_eq!(img.id, bb.id());
    assert!(s.layer_dirs(&img).iter().all(|d| d.is_dir()));
    assert!(tmp_is_empty(&s));
    let _ = Path::new("/").metadata().map(|m| m.ino());
}

#[test]
fn limits() {
    let (_t, s) = store();
    // docker's layer depth limit, checked before anything is unpacked
    let layers: Vec<Vec<u8>> = (0..126)
        .map(|i| layer(&[(&format!("f{i}"), "x")]))
        .collect();
    let deep = Img::new(layers, "x", vec!["deep:1"]);
    let err = load(&s, &legacy_archive(&[&deep])).unwrap_err();
    assert!(err.to_string().contains("max depth exceeded"), "{err}");
    assert!(s.snap.layer_dirs_on_disk().unwrap().is_empty());

    // overlong member names in the outer archive
    let mut a = TarBuilder::new();
    a.file(&"n/".repeat(3000), 0o644, b"x");
    let err = load(&s, &a.finish()).unwrap_err();
    assert!(err.to_string().contains("too long"), "{err}");

    // a malformed full id is looked up as a name, like docker does
    let bad = format!("sha256:{}", "z".repeat(64));
    assert_eq!(
        s.resolve(&bad).unwrap_err().to_string(),
        format!("No such image: {bad}")
    );
    assert!(tmp_is_empty(&s));
}

// ---- images from a blob source (what pull uses) ---------------------------

mod from_source {
    use super::*;
    use crate::store::source::{BlobSource, CreateOptions, LayerEvent};
    use crate::Platform;
    use oci_spec::image::Descriptor;
    use std::collections::HashMap;
    use std::io::Read;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Mem {
        blobs: HashMap<String, Vec<u8>>,
    }

    impl Mem {
        fn put(&mut self, media: &str, data: Vec<u8>) -> Descriptor {
            let d = Digest::of_bytes(&data);
            let desc: Descriptor = serde_json::from_value(json!({
                "mediaType": media, "digest": d.to_string(), "size": data.len(),
            }))
            .unwrap();
            self.blobs.insert(d.to_string(), data);
            desc
        }

        /// A manifest for `img` with gzip layers; returns its descriptor.
        fn image(&mut self, img: &Img) -> Descriptor {
            let cfg = self.put(
                "application/vnd.oci.image.config.v1+json",
                img.config.clone(),
            );
            let layers: Vec<Descriptor> = img
                .layers
                .iter()
                .map(|l| self.put("application/vnd.oci.image.layer.v1.tar+gzip", gzip(l)))
                .collect();
            let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cfg, "layers": layers});
            self.put(
                "application/vnd.oci.image.manifest.v1+json",
                serde_json::to_vec(&m).unwrap(),
            )
        }
    }

    impl BlobSource for Mem {
        fn open(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
            let b = self
                .blobs
                .get(&desc.digest().to_string())
                .ok_or_else(|| Error::NotFound(desc.digest().to_string()))?;
            Ok(Box::new(&b[..]))
        }
    }

    fn four_layers() -> Img {
        Img::new(
            (0..4)
                .map(|i| layer(&[(&format!("f{i}"), &"x".repeat(100_000 + i))]))
                .collect(),
            "sh",
            vec![],
        )
    }

    fn create(
        s: &ImageStore,
        src: &Mem,
        top: &Descriptor,
        events: &Mutex<Vec<(usize, LayerEvent)>>,
    ) -> Result<crate::store::source::Created> {
        let img = s.resolve_source(src, top, None)?;
        let on = |i: usize, _: &Descriptor, e: LayerEvent| events.lock().unwrap().push((i, e));
        let opts = CreateOptions {
            concurrency: 3,
            source_repository: Some("127.0.0.1:5000/x"),
            progress: &on,
        };
        s.create_from_source(src, img, &opts)
    }

    #[test]
    fn layers_are_staged_in_parallel_and_skipped_once_present() {
        let (_t, s) = store();
        let img = four_layers();
        let mut src = Mem::default();
        let top = src.image(&img);
        let events = Mutex::new(Vec::new());
        let c = create(&s, &src, &top, &events).unwrap();
        assert!(!c.was_present);
        assert_eq!(c.id.to_string(), img.id());
        let ev = events.into_inner().unwrap();
        for i in 0..4 {
            assert!(ev.contains(&(i, LayerEvent::Waiting)));
            assert!(ev.contains(&(i, LayerEvent::Verified)));
        }
        // Where the registry holds each layer is remembered, for push.
        let diff = Digest::of_bytes(&img.layers[2]);
        let srcs = s.dist_sources(&diff).unwrap();
        assert_eq!(srcs.len(), 1);
        assert_eq!(srcs[0].repository, "127.0.0.1:5000/x");
        assert_eq!(
            srcs[0].digest,
            Digest::of_bytes(&gzip(&img.layers[2])).to_string()
        );
        // Again: nothing is fetched, nor listed.
        let events = Mutex::new(Vec::new());
        let c = create(&s, &src, &top, &events).unwrap();
        assert!(c.was_present);
        assert!(events.into_inner().unwrap().is_empty());
        // Another image on the same first layers fetches only its own.
        let mut layers = img.layers.clone();
        layers[3] = layer(&[("other", "y")]);
        let other = Img::new(layers, "sh", vec![]);
        let top = src.image(&other);
        let events = Mutex::new(Vec::new());
        create(&s, &src, &top, &events).unwrap();
        let ev = events.into_inner().unwrap();
        for i in 0..3 {
            assert!(ev.contains(&(i, LayerEvent::Exists)), "{ev:?}");
        }
        assert!(ev.contains(&(3, LayerEvent::Verified)), "{ev:?}");
        assert!(tmp_is_empty(&s));
    }

    #[test]
    fn a_bad_layer_leaves_nothing_behind() {
        let (_t, s) = store();
        let img = four_layers();
        for corrupt in ["digest", "long", "short"] {
            let mut src = Mem::default();
            let top = src.image(&img);
            let victim = Digest::of_bytes(&gzip(&img.layers[3])).to_string();
            let b = src.blobs.get_mut(&victim).unwrap();
            match corrupt {
                "digest" => {
                    let n = b.len();
                    b[n - 9] ^= 0xff // inside the gzip trailer's crc: still a stream
                }
                "long" => b.extend_from_slice(&[0u8; 100]),
                _ => b.truncate(b.len() / 2),
            }
            let err = create(&s, &src, &top, &Mutex::new(Vec::new())).unwrap_err();
            assert!(
                err.to_string().contains(&victim) || err.to_string().contains("unexpected end"),
                "{corrupt}: {err}"
            );
            assert!(s.list().unwrap().is_empty(), "{corrupt}");
            assert!(tmp_is_empty(&s), "{corrupt}");
            assert!(s.content.list().unwrap().is_empty(), "{corrupt}");
            assert!(s.snap.layer_dirs_on_disk().unwrap().is_empty(), "{corrupt}");
        }
    }

    #[test]
    fn an_index_entry_is_chosen_by_platform() {
        let (_t, s) = store();
        let amd = four_layers();
        let arm = busybox();
        let mut src = Mem::default();
        let d_amd = src.image(&amd);
        let d_arm = src.image(&arm);
        let entry = |d: &Descriptor, arch: &str, variant: Option<&str>| {
            let mut v = serde_json::to_value(d).unwrap();
            v["platform"] = json!({"os": "linux", "architecture": arch});
            if let Some(var) = variant {
                v["platform"]["variant"] = json!(var);
            }
            v
        };
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [entry(&d_amd, "amd64", None), entry(&d_arm, "arm64", Some("v8"))]});
        let top = src.put(
            "application/vnd.oci.image.index.v1+json",
            serde_json::to_vec(&index).unwrap(),
        );
        let arm64 = Platform::parse("linux/arm64").unwrap();
        let got = s.resolve_source(&src, &top, Some(&arm64)).unwrap();
        assert_eq!(got.id().to_string(), arm.id());
        let got = s
            .resolve_source(&src, &top, Some(&Platform::parse("linux/amd64").unwrap()))
            .unwrap();
        assert_eq!(got.id().to_string(), amd.id());
        let err = s
            .resolve_source(&src, &top, Some(&Platform::parse("linux/s390x").unwrap()))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("no matching manifest for linux/s390x"),
            "{err}"
        );
    }
}
