//! berth-registry against a real client: an image pushed in from a
//! docker-save archive, inspected, and pulled back out as an OCI layout,
//! with every digest checked on both sides.

use std::path::Path;
use std::process::Command;

use berth_tests::registry::{skopeo, BerthRegistry};
use serde_json::Value;

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    format!("sha256:{}", text.split_whitespace().next().expect("hash"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

fn digests(manifest: &Value) -> Vec<String> {
    let mut out = vec![manifest["config"]["digest"]
        .as_str()
        .expect("config")
        .to_string()];
    for layer in manifest["layers"].as_array().expect("layers") {
        out.push(layer["digest"].as_str().expect("layer digest").to_string());
    }
    out
}

#[test]
fn image_round_trip_through_the_registry() {
    let reg = BerthRegistry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let image = format!("docker://{}/test/busybox:1", reg.addr);
    let archive = format!("docker-archive:{}", berth_tests::busybox_tar().display());

    skopeo(&["copy", "--dest-tls-verify=false", &archive, &image]);

    let tags = json(&skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/test/busybox", reg.addr),
    ]));
    assert_eq!(tags["Tags"], serde_json::json!(["1"]));

    // What the registry serves hashes to the digest it names.
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &image]);
    let info = json(&skopeo(&["inspect", "--tls-verify=false", &image]));
    let digest = info["Digest"].as_str().expect("Digest").to_string();
    let raw_file = work.path().join("raw.json");
    std::fs::write(&raw_file, &raw).expect("write manifest");
    assert_eq!(sha256_of(&raw_file), digest);
    let manifest = json(&raw);
    assert_eq!(info["RepoTags"], serde_json::json!(["1"]));
    assert_eq!(info["Os"], "linux");

    // Pulled unchanged: the same manifest, and every blob as named.
    let dir = work.path().join("dir");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("dir:{}", dir.display()),
    ]);
    assert_eq!(sha256_of(&dir.join("manifest.json")), digest);
    for d in digests(&manifest) {
        let hex = d.strip_prefix("sha256:").expect("sha256 digest");
        assert_eq!(sha256_of(&dir.join(hex)), d);
    }

    // Pulled as an OCI layout: the layers are the registry's blobs, and
    // every blob of the layout matches its name.
    let oci = work.path().join("oci");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("oci:{}:1", oci.display()),
    ]);
    let index = json(&std::fs::read_to_string(oci.join("index.json")).expect("index.json"));
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "1"
    );
    let oci_digest = entry["digest"].as_str().expect("digest");
    let blob = |d: &str| {
        oci.join("blobs/sha256")
            .join(d.strip_prefix("sha256:").expect("sha256"))
    };
    assert_eq!(sha256_of(&blob(oci_digest)), oci_digest);
    let oci_manifest = json(&std::fs::read_to_string(blob(oci_digest)).expect("manifest"));
    let oci_digests = digests(&oci_manifest);
    assert_eq!(oci_digests[1..], digests(&manifest)[1..]);
    for d in &oci_digests {
        assert_eq!(sha256_of(&blob(d)), *d);
    }

    // And pushed back in from the layout under another tag: the blobs the
    // repository already has are reused.
    let again = format!("docker://{}/test/busybox:2", reg.addr);
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", oci.display()),
        &again,
    ]);
    let info2 = json(&skopeo(&["inspect", "--tls-verify=false", &again]));
    assert_eq!(info2["Digest"], oci_digest);
    assert_eq!(info2["RepoTags"], serde_json::json!(["1", "2"]));
}
