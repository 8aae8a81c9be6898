//! What a registry returns for `/v2/<name>/manifests/<ref>`: a Docker v2
//! schema 2 manifest or manifest list, an OCI image manifest or index.
//!
//! The body is untrusted: it is size-capped before parsing, its digest is
//! checked by the caller when pulling by digest, and only the fields berth
//! uses are read. The media type comes from the body's `mediaType`, else
//! from the `Content-Type` header (OCI bodies may omit it), else from the
//! body's shape. Schema 1 is refused with dockerd's message.

use berth_image::{host_arch, Compression, Platform};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The `Accept` list a client sends for a manifest.
pub const ACCEPT: [&str; 4] = [
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    OCI_INDEX,
];

/// The largest manifest body read (as containerd and dockerd cap it).
pub const MAX_MANIFEST_SIZE: usize = 4 << 20;

pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

impl PlatformSpec {
    fn as_platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    /// Where a foreign (non-distributable) layer is fetched from instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformSpec>,
}

impl Descriptor {
    /// How the layer this descriptor names is compressed, and whether it
    /// is foreign (its bytes are not pushed to registries).
    pub fn layer_kind(&self) -> Result<LayerKind> {
        layer_kind(&self.media_type)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(Index),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: String,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
}

impl Manifest {
    /// Parses a manifest body; `content_type` is the response's header.
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest> {
        if body.len() > MAX_MANIFEST_SIZE {
            return Err(Error::ManifestTooLarge {
                size: body.len(),
                limit: MAX_MANIFEST_SIZE,
            });
        }
        let header = content_type
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if header == DOCKER_SCHEMA1 || header == DOCKER_SCHEMA1_SIGNED {
            return Err(Error::Schema1 { reference: None });
        }
        let raw: Raw =
            serde_json::from_slice(body).map_err(|e| Error::InvalidManifest(e.to_string()))?;
        if raw.schema_version == Some(1) {
            return Err(Error::Schema1 { reference: None });
        }
        if raw.schema_version != Some(2) {
            return Err(Error::InvalidManifest(format!(
                "unsupported schemaVersion {}",
                raw.schema_version
                    .map_or("(missing)".into(), |v| v.to_string())
            )));
        }
        let media_type = if !raw.media_type.is_empty() {
            raw.media_type.clone()
        } else if ACCEPT.contains(&header.as_str()) {
            header
        } else if raw.manifests.is_some() {
            OCI_INDEX.to_string()
        } else {
            OCI_MANIFEST.to_string()
        };
        match media_type.as_str() {
            DOCKER_MANIFEST | OCI_MANIFEST => {
                let (Some(config), None) = (raw.config, &raw.manifests) else {
                    return Err(Error::InvalidManifest(format!(
                        "{media_type} needs a config and no manifests"
                    )));
                };
                let layers = raw.layers.unwrap_or_default();
                for d in std::iter::once(&config).chain(&layers) {
                    check_descriptor(d)?;
                }
                Ok(Manifest::Image(ImageManifest {
                    media_type,
                    config,
                    layers,
                }))
            }
            DOCKER_MANIFEST_LIST | OCI_INDEX => {
                let (Some(manifests), None) = (raw.manifests, &raw.config) else {
                    return Err(Error::InvalidManifest(format!(
                        "{media_type} needs manifests and no config"
                    )));
                };
                for d in &manifests {
                    check_descriptor(d)?;
                }
                Ok(Manifest::Index(Index {
                    media_type,
                    manifests,
                }))
            }
            DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Err(Error::Schema1 { reference: None }),
            other => Err(Error::UnsupportedMediaType(other.to_string())),
        }
    }

    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image(m) => &m.media_type,
            Manifest::Index(i) => &i.media_type,
        }
    }
}

fn check_descriptor(d: &Descriptor) -> Result<()> {
    if !valid_digest(&d.digest) {
        return Err(Error::InvalidManifest(format!(
            "invalid digest {:?}",
            d.digest
        )));
    }
    if d.size < 0 {
        return Err(Error::InvalidManifest(format!(
            "negative size for {}",
            d.digest
        )));
    }
    Ok(())
}

fn valid_digest(d: &str) -> bool {
    let hex_ok = |h: &str, len: usize| {
        h.len() == len && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    match d.split_once(':') {
        Some(("sha256", h)) => hex_ok(h, 64),
        Some(("sha512", h)) => hex_ok(h, 128),
        _ => false,
    }
}

/// `sha256:<hex>` of a body, as registries name manifests.
pub fn digest_of(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

/// Checks a body fetched by digest against that digest.
pub fn verify_digest(body: &[u8], expected: &str) -> Result<()> {
    let actual = digest_of(body);
    if actual == expected {
        Ok(())
    } else {
        Err(Error::DigestMismatch {
            expected: expected.to_string(),
            actual,
        })
    }
}

/// The platform pulled when none is asked: this host's.
pub fn default_platform() -> Platform {
    Platform {
        os: "linux".into(),
        architecture: host_arch().into(),
        variant: String::new(),
    }
}

impl Index {
    /// The entry to pull for `want`, as dockerd picks it
    /// ([`Platform::pick`]: normalised os/arch/variant, arm's leniency).
    pub fn select(&self, want: &Platform) -> Result<&Descriptor> {
        let platforms: Vec<Option<Platform>> = self
            .manifests
            .iter()
            .map(|d| d.platform.as_ref().map(PlatformSpec::as_platform))
            .collect();
        want.pick(&platforms)
            .map(|i| &self.manifests[i])
            .ok_or_else(|| Error::NoMatchingManifest(want.normalized().to_string()))
    }
}

/// What a layer's media type says about its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerKind {
    pub compression: Compression,
    /// Non-distributable: fetched from the descriptor's urls, never pushed.
    pub foreign: bool,
}

/// The layer media types docker and OCI define; anything else (an
/// artifact's blob, encrypted layers) is refused.
pub fn layer_kind(media_type: &str) -> Result<LayerKind> {
    let kind = |compression, foreign| LayerKind {
        compression,
        foreign,
    };
    Ok(match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => kind(Compression::Gzip, false),
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
            kind(Compression::Gzip, true)
        }
        "application/vnd.oci.image.layer.v1.tar" => kind(Compression::None, false),
        "application/vnd.oci.image.layer.v1.tar+gzip" => kind(Compression::Gzip, false),
        "application/vnd.oci.image.layer.v1.tar+zstd" => kind(Compression::Zstd, false),
        "application/vnd.oci.image.layer.nondistributable.v1.tar" => kind(Compression::None, true),
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => {
            kind(Compression::Gzip, true)
        }
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => {
            kind(Compression::Zstd, true)
        }
        other => return Err(Error::UnsupportedLayer(other.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image_body(media_type: Option<&str>) -> Vec<u8> {
        let mut v = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": DOCKER_CONFIG, "digest": d('c'), "size": 1469},
            "layers": [
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d('1'), "size": 772788},
                {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": d('2'), "size": 10,
                 "urls": ["https://example.com/layer"]}
            ]
        });
        if let Some(m) = media_type {
            v["mediaType"] = m.into();
        }
        serde_json::to_vec(&v).unwrap()
    }

    fn entry(c: char, os: &str, arch: &str, variant: &str) -> serde_json::Value {
        serde_json::json!({
            "mediaType": DOCKER_MANIFEST, "digest": d(c), "size": 527,
            "platform": {"architecture": arch, "os": os, "variant": variant}
        })
    }

    fn index(entries: Vec<serde_json::Value>) -> Index {
        let body = serde_json::json!({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST_LIST, "manifests": entries
        });
        match Manifest::parse(&serde_json::to_vec(&body).unwrap(), None).unwrap() {
            Manifest::Index(i) => i,
            other => panic!("not an index: {other:?}"),
        }
    }

    fn plat(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn docker_manifest_with_its_layers() {
        let Manifest::Image(m) = Manifest::parse(&image_body(Some(DOCKER_MANIFEST)), None).unwrap()
        else {
            panic!("not an image manifest")
        };
        assert_eq!(m.media_type, DOCKER_MANIFEST);
        assert_eq!(m.config.digest, d('c'));
        assert_eq!(m.layers.len(), 2);
        assert_eq!(
            m.layers[0].layer_kind().unwrap(),
            LayerKind {
                compression: Compression::Gzip,
                foreign: false
            }
        );
        assert!(m.layers[1].layer_kind().unwrap().foreign);
        assert_eq!(
            m.layers[1].urls,
            vec!["https://example.com/layer".to_string()]
        );
    }

    #[test]
    fn media_type_from_header_or_shape_when_the_body_omits_it() {
        let body = image_body(None);
        let m = Manifest::parse(
            &body,
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
        )
        .unwrap();
        assert_eq!(m.media_type(), OCI_MANIFEST);
        let m = Manifest::parse(&body, Some(DOCKER_MANIFEST)).unwrap();
        assert_eq!(m.media_type(), DOCKER_MANIFEST);
        // A generic header says nothing: the shape decides.
        let m = Manifest::parse(&body, Some("application/json")).unwrap();
        assert_eq!(m.media_type(), OCI_MANIFEST);

        let idx = serde_json::json!({"schemaVersion": 2, "manifests": [entry('a', "linux", "amd64", "")]});
        let idx = serde_json::to_vec(&idx).unwrap();
        assert_eq!(Manifest::parse(&idx, None).unwrap().media_type(), OCI_INDEX);
        assert_eq!(
            Manifest::parse(&idx, Some(DOCKER_MANIFEST_LIST))
                .unwrap()
                .media_type(),
            DOCKER_MANIFEST_LIST
        );
        // The header must not turn an index into an image manifest.
        assert!(matches!(
            Manifest::parse(&idx, Some(OCI_MANIFEST)),
            Err(Error::InvalidManifest(_))
        ));
    }

    #[test]
    fn schema1_is_refused_with_dockerds_words() {
        let body = br#"{"schemaVersion": 1, "name": "x", "tag": "t", "fsLayers": []}"#;
        let e = Manifest::parse(body, Some(DOCKER_SCHEMA1_SIGNED)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. More information at https://docs.docker.com/go/deprecated-image-specs/"
        );
        let e = Manifest::parse(body, None)
            .unwrap_err()
            .with_reference("docker.io/library/old:1");
        assert_eq!(
            e.to_string(),
            "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of docker.io/library/old:1 to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/"
        );
    }

    #[test]
    fn bad_bodies_are_refused() {
        let big = vec![b' '; MAX_MANIFEST_SIZE + 1];
        assert!(matches!(
            Manifest::parse(&big, None),
            Err(Error::ManifestTooLarge { .. })
        ));
        assert!(matches!(
            Manifest::parse(b"{", None),
            Err(Error::InvalidManifest(_))
        ));
        assert!(matches!(
            Manifest::parse(br#"{"config": {"digest": "sha256:x", "size": 1}}"#, None),
            Err(Error::InvalidManifest(_))
        ));
        let bad_digest = br#"{"schemaVersion": 2, "config": {"digest": "sha256:abc", "size": 1}}"#;
        assert!(matches!(
            Manifest::parse(bad_digest, None),
            Err(Error::InvalidManifest(_))
        ));
        let artifact = image_body(Some("application/vnd.example.thing+json"));
        assert!(matches!(
            Manifest::parse(&artifact, None),
            Err(Error::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn digests_are_checked() {
        let body = image_body(None);
        let good = digest_of(&body);
        assert!(verify_digest(&body, &good).is_ok());
        assert!(matches!(
            verify_digest(&body, &d('0')),
            Err(Error::DigestMismatch { .. })
        ));
        assert_eq!(
            digest_of(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn platform_selection_follows_dockerd() {
        let i = index(vec![
            entry('a', "linux", "amd64", ""),
            entry('b', "linux", "arm", "v5"),
            entry('c', "linux", "arm", "v7"),
            entry('d', "linux", "arm64", "v8"),
            entry('e', "windows", "amd64", ""),
            entry('f', "linux", "ppc64le", ""),
        ]);
        assert_eq!(i.select(&plat("linux/amd64")).unwrap().digest, d('a'));
        assert_eq!(i.select(&plat("linux/arm64")).unwrap().digest, d('d'));
        assert_eq!(i.select(&plat("linux/aarch64")).unwrap().digest, d('d'));
        assert_eq!(i.select(&plat("linux/arm")).unwrap().digest, d('c'));
        assert_eq!(i.select(&plat("linux/arm/v5")).unwrap().digest, d('b'));
        assert_eq!(i.select(&plat("windows/amd64")).unwrap().digest, d('e'));
        let e = i.select(&plat("linux/s390x")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no matching manifest for linux/s390x in the manifest list entries"
        );
        // An amd64 variant is not taken for a plain amd64 request.
        let v3 = index(vec![entry('a', "linux", "amd64", "v3")]);
        assert!(v3.select(&plat("linux/amd64")).is_err());
    }

    #[test]
    fn arm_falls_back_to_any_variant() {
        let i = index(vec![
            entry('a', "linux", "amd64", ""),
            entry('b', "linux", "arm", "v6"),
        ]);
        assert_eq!(i.select(&plat("linux/arm/v7")).unwrap().digest, d('b'));
        // Only arm is lenient.
        let i = index(vec![entry('a', "linux", "arm64", "v9")]);
        assert!(i.select(&plat("linux/arm64")).is_err());
    }

    #[test]
    fn the_default_platform_is_the_hosts() {
        let i = index(vec![
            entry('a', "linux", "s390x", ""),
            entry('b', "linux", host_arch(), ""),
        ]);
        assert_eq!(i.select(&default_platform()).unwrap().digest, d('b'));
    }

    #[test]
    fn layer_media_types() {
        let k = |m: &str| layer_kind(m).unwrap();
        assert_eq!(
            k("application/vnd.oci.image.layer.v1.tar").compression,
            Compression::None
        );
        assert_eq!(
            k("application/vnd.oci.image.layer.v1.tar+gzip").compression,
            Compression::Gzip
        );
        assert_eq!(
            k("application/vnd.oci.image.layer.v1.tar+zstd").compression,
            Compression::Zstd
        );
        let f = k("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd");
        assert_eq!(
            f,
            LayerKind {
                compression: Compression::Zstd,
                foreign: true
            }
        );
        assert!(k("application/vnd.oci.image.layer.nondistributable.v1.tar").foreign);
        assert!(!k("application/vnd.docker.image.rootfs.diff.tar.gzip").foreign);
        assert!(matches!(
            layer_kind("application/vnd.oci.image.layer.v1.tar+gzip+encrypted"),
            Err(Error::UnsupportedLayer(_))
        ));
    }
}
