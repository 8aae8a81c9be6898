//! Pull through berthd from real and hostile registries: Debian's
//! docker-registry without auth, with basic auth and with token auth (a
//! token service in the test), and hand-made registries that serve wrong,
//! short, missing, huge or escaping content. A failed pull must say why,
//! leave no image, staging file or layer behind, and not hurt the daemon.

use std::collections::{BTreeSet, HashMap};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use berth_tests::registry::{
    busybox_parts, digest_of, layer_tar, registry_digest, registry_error, respond, seed_busybox,
    skopeo_push, BerthRegistry, DockerRegistry, HttpRequest, HttpServer, OciLayout, RegistryAuth,
    TarEntry, OCI_MANIFEST,
};
use berth_tests::{eventually, ok, stdout, text, Daemon};
use serde_json::{json, Value};

fn inspect(d: &Daemon, image: &str) -> Value {
    let out = d.docker(&["image", "inspect", image]);
    let v: Value = serde_json::from_str(&ok(&out)).expect("inspect JSON");
    v[0].clone()
}

/// `docker` against `d` with its config (credentials) in `config_dir`.
fn docker_with_config(d: &Daemon, config_dir: &Path, args: &[&str]) -> Output {
    // See NO_LOGIN.
    berth_tests::registry::docker_with_config(d, config_dir, args, NO_LOGIN)
}

/// What the docker CLI reads when a pull answers 401: it then asks for a
/// login even without a terminal, and waits forever on an empty or
/// /dev/null stdin; an empty user name makes it give up at once.
const NO_LOGIN: &[u8] = b"\n";

/// A docker config.json that holds `user:password` for `registry`, as
/// `docker login` leaves it.
fn write_credentials(dir: &Path, registry: &str, user: &str, password: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let config = json!({"auths": {registry: {"auth": auth}}});
    std::fs::write(dir.join("config.json"), config.to_string()).expect("write config.json");
}

/// `X-Registry-Auth` as the docker CLI encodes it.
fn registry_auth_header(registry: &str, user: &str, password: &str) -> String {
    let cfg = json!({"username": user, "password": password, "serveraddress": registry});
    base64::engine::general_purpose::URL_SAFE.encode(cfg.to_string())
}

/// `POST /images/create` with an `X-Registry-Auth` header: (status, body).
fn pull_with_auth_header(d: &Daemon, image: &str, header: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let (name, tag) = image.rsplit_once(':').expect("tag");
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    write!(
        s,
        "POST /images/create?fromImage={name}&tag={tag} HTTP/1.1\r\nHost: berth\r\nX-Registry-Auth: {header}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = text(&resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, resp)
}

fn last_line(out: &Output) -> String {
    stdout(out).lines().last().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------
// docker-registry, no auth

#[test]
fn pull_run_and_pull_again_from_docker_registry() {
    let reg = DockerRegistry::start(RegistryAuth::None);
    let image = format!("{}/x/busybox:v1", reg.addr);
    seed_busybox(&image, None);
    let digest = registry_digest(&image, None);
    let d = Daemon::start();

    let out = d.docker(&["pull", &image]);
    let o = ok(&out);
    assert!(o.contains("v1: Pulling from x/busybox"), "{o}");
    assert!(o.contains(&format!("Digest: {digest}")), "{o}");
    assert!(
        o.contains(&format!("Status: Downloaded newer image for {image}")),
        "{o}"
    );
    assert_eq!(last_line(&out), image);

    let run = d.docker(&["run", "--rm", &image, "echo", "hi"]);
    assert_eq!(ok(&run), "hi\n");

    let info = inspect(&d, &image);
    let repo_digest = format!("{}/x/busybox@{digest}", reg.addr);
    assert_eq!(info["RepoDigests"], json!([repo_digest]), "{info}");
    assert_eq!(info["RepoTags"], json!([image]), "{info}");

    let again = d.docker(&["pull", &image]);
    let o = ok(&again);
    assert!(
        o.contains(&format!("Status: Image is up to date for {image}")),
        "{o}"
    );
    assert!(!o.contains("Pull complete"), "{o}");

    // Pulled by digest: the same image, nothing downloaded.
    let by_digest = d.docker(&["pull", &repo_digest]);
    assert!(ok(&by_digest).contains("Image is up to date"));

    let missing = format!("{}/x/busybox:nope", reg.addr);
    let out = d.docker(&["pull", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "Error response from daemon: manifest for {missing} not found: manifest unknown: manifest unknown"
        )
    );
    // distribution 2.8 answers MANIFEST_UNKNOWN for a repository it has
    // never seen, and dockerd words it so.
    let unknown_repo = format!("{}/x/nothing:v1", reg.addr);
    let out = d.docker(&["pull", &unknown_repo]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "Error response from daemon: manifest for {unknown_repo} not found: manifest unknown: manifest unknown"
        )
    );
}

/// A layer tar holding one file of `content` at `path`.
fn file_layer(path: &str, content: &[u8]) -> Vec<u8> {
    layer_tar(&[TarEntry::File(path, content)])
}

#[test]
fn multi_layer_image_with_whiteouts() {
    let reg = DockerRegistry::start(RegistryAuth::None);
    let work = tempfile::tempdir().expect("tempdir");
    let parts = busybox_parts();
    let layout = OciLayout::new(&work.path().join("oci"));
    let layers = vec![
        parts.layer.clone(),
        layer_tar(&[
            TarEntry::Dir("data/"),
            TarEntry::File("data/one", b"first\n"),
            TarEntry::File("data/gone", b"deleted later\n"),
        ]),
        layer_tar(&[
            TarEntry::File("data/two", b"second\n"),
            TarEntry::File("data/.wh.gone", b""),
        ]),
    ];
    let desc = layout.image(parts.config.clone(), &layers);
    layout.finish(&desc, "v1");
    let image = format!("{}/x/layers:v1", reg.addr);
    skopeo_push(&layout.source("v1"), &image, None, &[]);

    let d = Daemon::start();
    let out = d.docker(&["pull", &image]);
    let o = ok(&out);
    assert_eq!(o.matches("Pull complete").count(), 3, "{o}");
    let run = d.docker(&["run", "--rm", &image, "sh", "-c", "cat /data/*; ls /data"]);
    assert_eq!(ok(&run), "first\nsecond\none\ntwo\n");
    let info = inspect(&d, &image);
    assert_eq!(
        info["RootFS"]["Layers"].as_array().expect("layers").len(),
        3,
        "{info}"
    );

    // An image sharing the base layer: only the new layers are fetched.
    let layout2 = OciLayout::new(&work.path().join("oci2"));
    let desc = layout2.image(
        parts.config.clone(),
        &[parts.layer.clone(), file_layer("other", b"other\n")],
    );
    layout2.finish(&desc, "v2");
    let image2 = format!("{}/x/layers:v2", reg.addr);
    skopeo_push(&layout2.source("v2"), &image2, None, &[]);
    let o = ok(&d.docker(&["pull", &image2]));
    assert_eq!(o.matches("Already exists").count(), 1, "{o}");
    assert_eq!(o.matches("Pull complete").count(), 1, "{o}");
    let run = d.docker(&["run", "--rm", &image2, "cat", "/other"]);
    assert_eq!(ok(&run), "other\n");
}

#[test]
fn platform_is_chosen_from_an_index() {
    let reg = DockerRegistry::start(RegistryAuth::None);
    let work = tempfile::tempdir().expect("tempdir");
    let parts = busybox_parts();
    let layout = OciLayout::new(&work.path().join("oci"));
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let mut config = parts.config.clone();
        config["architecture"] = json!(arch);
        config["os"] = json!("linux");
        let mut desc = layout.image(
            config,
            &[
                parts.layer.clone(),
                file_layer("platform", format!("{arch}\n").as_bytes()),
            ],
        );
        desc["platform"] = json!({"os": "linux", "architecture": arch});
        manifests.push(desc);
    }
    let index = layout.index(manifests.clone());
    layout.finish(&index, "multi");
    let image = format!("{}/x/multi:v1", reg.addr);
    skopeo_push(&layout.source("multi"), &image, None, &["--all"]);
    // skopeo compresses the layers on the way, so the registry's index
    // is not the layout's.
    let index_digest = registry_digest(&image, None);

    let d = Daemon::start();
    let o = ok(&d.docker(&["pull", "--platform", "linux/arm64", &image]));
    assert!(o.contains(&format!("Digest: {index_digest}")), "{o}");
    let info = inspect(&d, &image);
    assert_eq!(info["Architecture"], "arm64", "{info}");
    let arm_id = info["Id"].clone();

    // The host's platform by default; it runs.
    let o = ok(&d.docker(&["pull", "--platform", "linux/amd64", &image]));
    assert!(o.contains("Downloaded newer image"), "{o}");
    let info = inspect(&d, &image);
    assert_eq!(info["Architecture"], "amd64", "{info}");
    assert_ne!(info["Id"], arm_id);
    let run = d.docker(&["run", "--rm", &image, "cat", "/platform"]);
    assert_eq!(ok(&run), "amd64\n");

    let out = d.docker(&["pull", "--platform", "linux/s390x", &image]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// docker-registry, basic auth

#[test]
fn basic_auth_pull() {
    let reg = DockerRegistry::start(RegistryAuth::Htpasswd {
        user: "alice".into(),
        password: "s3cret".into(),
    });
    let image = format!("{}/x/busybox:v1", reg.addr);
    seed_busybox(&image, Some("alice:s3cret"));
    let d = Daemon::start();

    // Anonymous: refused, nothing pulled (dockerd: `Head "<url>": no basic
    // auth credentials`).
    let (status, body) = pull_with_auth_header(&d, &image, "");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("no basic auth credentials"), "{body}");
    // Not a 401, so the docker CLI reports it instead of asking for a login.
    let out = d.docker(&["pull", &image]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no basic auth credentials"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.docker(&["image", "inspect", &image]).status.code() == Some(1));

    // Wrong password: 401, in dockerd's words.
    let header = registry_auth_header(&reg.addr, "alice", "wrong");
    let (status, body) = pull_with_auth_header(&d, &image, &header);
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains(r#"{"message":"unauthorized: authentication required"}"#),
        "{body}"
    );
    let cfg = tempfile::tempdir().expect("tempdir");
    write_credentials(cfg.path(), &reg.addr, "alice", "wrong");
    let out = docker_with_config(&d, cfg.path(), &["pull", &image]);
    assert_eq!(out.status.code(), Some(1));
    assert!(d.docker(&["image", "inspect", &image]).status.code() == Some(1));

    // The right one, as `docker login` stores it.
    write_credentials(cfg.path(), &reg.addr, "alice", "s3cret");
    let out = docker_with_config(&d, cfg.path(), &["pull", &image]);
    assert!(ok(&out).contains("Downloaded newer image"));
    let run = d.docker(&["run", "--rm", &image, "echo", "hi"]);
    assert_eq!(ok(&run), "hi\n");

    // And the header alone, as other clients send it.
    let header = registry_auth_header(&reg.addr, "alice", "s3cret");
    let (status, body) = pull_with_auth_header(&d, &image, &header);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Image is up to date"), "{body}");
}

// ---------------------------------------------------------------------------
// docker-registry, token auth

/// A token service: Basic credentials in, an ES256 JWT out, signed by a
/// self-signed certificate that is also the registry's root bundle.
struct TokenService {
    server: HttpServer,
    cert_pem: String,
    /// The `scope` of every request, with whether credentials came.
    seen: Arc<Mutex<Vec<(String, bool)>>>,
}

const SERVICE: &str = "berth-test-registry";
const ISSUER: &str = "berth-test-issuer";

impl TokenService {
    fn start(user: &'static str, password: &'static str) -> TokenService {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["berth-test-token".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("self-signed cert");
        let rng = ring::rand::SystemRandom::new();
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .expect("signing key");
        let x5c = base64::engine::general_purpose::STANDARD.encode(cert.der());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let server = HttpServer::start(Arc::new(move |req: &HttpRequest, conn: &mut TcpStream| {
            let scope = req.query("scope").join(" ");
            let given = req.header("authorization");
            log.lock().unwrap().push((scope.clone(), given.is_some()));
            if req.path() != "/token" || req.query("service") != [SERVICE] {
                return respond(conn, req, 404, &[], b"{}");
            }
            let access: Vec<Value> = match given {
                Some(g) if g == expected => scope
                    .split(' ')
                    .filter_map(|s| {
                        let (kind, rest) = s.split_once(':')?;
                        let (name, actions) = rest.rsplit_once(':')?;
                        Some(json!({"type": kind, "name": name,
                                    "actions": actions.split(',').collect::<Vec<_>>()}))
                    })
                    .collect(),
                Some(_) => {
                    return respond(
                        conn,
                        req,
                        401,
                        &[("Content-Type", "application/json")],
                        br#"{"details":"incorrect username or password"}"#,
                    )
                }
                // Anonymous: a token that grants nothing, as public services do.
                None => Vec::new(),
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_secs();
            let b64 =
                |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
            let claims = json!({
                "iss": ISSUER, "sub": if given.is_some() { user } else { "" },
                "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                "jti": format!("{:016x}", rand::random::<u64>()), "access": access,
            });
            let signing_input = format!("{}.{}", b64(&header), b64(&claims));
            let sig = signer
                .sign(&rng, signing_input.as_bytes())
                .expect("sign token");
            let token = format!(
                "{signing_input}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.as_ref())
            );
            let body = json!({"token": token, "access_token": token, "expires_in": 300});
            respond(
                conn,
                req,
                200,
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            );
        }));
        TokenService {
            server,
            cert_pem: cert.pem(),
            seen,
        }
    }

    fn realm(&self) -> String {
        format!("http://{}/token", self.server.host())
    }

    fn scopes(&self, with_credentials: bool) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, c)| *c == with_credentials)
            .map(|(s, _)| s.clone())
            .collect()
    }
}

#[test]
fn token_auth_pull() {
    let tokens = TokenService::start("bob", "t0ken");
    let reg = DockerRegistry::start(RegistryAuth::Token {
        realm: tokens.realm(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        root_cert_pem: tokens.cert_pem.clone(),
    });
    let image = format!("{}/x/busybox:v1", reg.addr);
    seed_busybox(&image, Some("bob:t0ken"));
    tokens.seen.lock().unwrap().clear();
    let d = Daemon::start();

    // Without credentials the service's token grants nothing.
    // (dockerd: 404, `pull access denied for <name>, repository does not
    // exist or may require 'docker login': denied: requested access to the
    // resource is denied`.)
    let (status, body) = pull_with_auth_header(&d, &image, "");
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains(&format!(
            "pull access denied for {}/x/busybox, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
            reg.addr
        )),
        "{body}"
    );
    let out = d.docker(&["pull", &image]);
    assert_eq!(out.status.code(), Some(1));
    assert!(d.docker(&["image", "inspect", &image]).status.code() == Some(1));

    // Wrong password: the token service says no.
    let cfg = tempfile::tempdir().expect("tempdir");
    write_credentials(cfg.path(), &reg.addr, "bob", "nope");
    let out = docker_with_config(&d, cfg.path(), &["pull", &image]);
    assert_eq!(out.status.code(), Some(1));
    let header = registry_auth_header(&reg.addr, "bob", "nope");
    let (status, body) = pull_with_auth_header(&d, &image, &header);
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains(r#"{"message":"unauthorized: incorrect username or password"}"#),
        "{body}"
    );

    write_credentials(cfg.path(), &reg.addr, "bob", "t0ken");
    let out = docker_with_config(&d, cfg.path(), &["pull", &image]);
    assert!(ok(&out).contains("Downloaded newer image"));
    let run = d.docker(&["run", "--rm", &image, "echo", "hi"]);
    assert_eq!(ok(&run), "hi\n");
    let scopes = tokens.scopes(true);
    assert!(
        scopes.iter().any(|s| s == "repository:x/busybox:pull"),
        "{scopes:?}"
    );
    // Pull asks for pull only.
    assert!(!scopes.iter().any(|s| s.contains("push")), "{scopes:?}");
}

// ---------------------------------------------------------------------------
// Hostile registries

/// How the fake registry serves one blob.
#[derive(Clone)]
enum Blob {
    Good(Vec<u8>),
    /// An honest Content-Length, but fewer bytes than the descriptor says.
    Short(Vec<u8>),
    /// The full Content-Length, the connection closed after `at` bytes.
    Cut(Vec<u8>, usize),
    /// Cut the first time only; ranges are served honestly.
    CutOnce(Vec<u8>, usize, Arc<Mutex<bool>>),
    Missing,
}

/// A registry of one repository, `x/img`, written by hand.
struct FakeRegistry {
    server: HttpServer,
}

impl FakeRegistry {
    fn start(manifests: HashMap<String, (String, Vec<u8>)>, blobs: HashMap<String, Blob>) -> Self {
        let server = HttpServer::start(Arc::new(move |req: &HttpRequest, conn: &mut TcpStream| {
            let path = req.path();
            if path == "/v2/" {
                return respond(
                    conn,
                    req,
                    200,
                    &[("Content-Type", "application/json")],
                    b"{}",
                );
            }
            if let Some(r) = path.strip_prefix("/v2/x/img/manifests/") {
                let Some((mt, body)) = manifests.get(r) else {
                    let e = registry_error("MANIFEST_UNKNOWN", "manifest unknown");
                    return respond(conn, req, 404, &[("Content-Type", "application/json")], &e);
                };
                let digest = digest_of(body);
                return respond(
                    conn,
                    req,
                    200,
                    &[("Content-Type", mt), ("Docker-Content-Digest", &digest)],
                    body,
                );
            }
            if let Some(d) = path.strip_prefix("/v2/x/img/blobs/") {
                return serve_blob(req, conn, blobs.get(d).cloned().unwrap_or(Blob::Missing));
            }
            respond(conn, req, 404, &[], b"")
        }));
        FakeRegistry { server }
    }

    fn image(&self, tag: &str) -> String {
        format!("{}/x/img:{tag}", self.server.host())
    }
}

fn range_start(req: &HttpRequest) -> usize {
    req.header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn serve_blob(req: &HttpRequest, conn: &mut TcpStream, blob: Blob) {
    use std::io::Write;
    let start = range_start(req);
    let partial = |conn: &mut TcpStream, data: &[u8], total: usize, announced: usize| {
        let status = if start > 0 {
            "206 Partial Content"
        } else {
            "200 OK"
        };
        let range = if start > 0 {
            format!(
                "Content-Range: bytes {start}-{}/{total}\r\n",
                total.saturating_sub(1)
            )
        } else {
            String::new()
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\n{range}Content-Length: {announced}\r\nConnection: close\r\n\r\n"
        );
        let _ = conn.write_all(head.as_bytes());
        if req.method != "HEAD" {
            let _ = conn.write_all(data);
        }
    };
    match blob {
        Blob::Good(data) => {
            let from = start.min(data.len());
            partial(conn, &data[from..], data.len(), data.len() - from);
        }
        Blob::Short(data) => {
            let short = &data[..data.len() / 2];
            let from = start.min(short.len());
            partial(conn, &short[from..], data.len(), short.len() - from);
        }
        Blob::Cut(data, at) => {
            let from = start.min(at);
            partial(
                conn,
                &data[from..at],
                data.len(),
                data.len() - start.min(data.len()),
            );
        }
        Blob::CutOnce(data, at, done) => {
            let first = !std::mem::replace(&mut *done.lock().unwrap(), true);
            let from = start.min(data.len());
            let end = if first { at } else { data.len() };
            partial(conn, &data[from..end], data.len(), data.len() - from);
        }
        Blob::Missing => {
            let e = registry_error("BLOB_UNKNOWN", "blob unknown to registry");
            respond(conn, req, 404, &[("Content-Type", "application/json")], &e);
        }
    }
}

/// An image for the fake registry: (manifest body, config and layer blobs).
struct Made {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
}

impl Made {
    /// busybox plus `extra` layers, the config naming `diff_ids` (the
    /// layers' own when `None`).
    fn new(extra: Vec<Vec<u8>>, diff_ids: Option<Vec<String>>) -> Made {
        let parts = busybox_parts();
        let mut layers = vec![parts.layer];
        layers.extend(extra);
        let mut config = parts.config;
        let ids = diff_ids.unwrap_or_else(|| layers.iter().map(|l| digest_of(l)).collect());
        config["rootfs"] = json!({"type": "layers", "diff_ids": ids});
        let config = serde_json::to_vec(&config).expect("config");
        let desc =
            |mt: &str, b: &[u8]| json!({"mediaType": mt, "digest": digest_of(b), "size": b.len()});
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc("application/vnd.oci.image.config.v1+json", &config),
            "layers": layers.iter().map(|l| desc("application/vnd.oci.image.layer.v1.tar", l)).collect::<Vec<_>>(),
        });
        Made {
            manifest: serde_json::to_vec(&manifest).expect("manifest"),
            config,
            layers,
        }
    }

    /// The blobs as served, the last layer served as `last`.
    fn blobs(&self, last: fn(Vec<u8>) -> Blob) -> HashMap<String, Blob> {
        let mut blobs = HashMap::new();
        blobs.insert(digest_of(&self.config), Blob::Good(self.config.clone()));
        let n = self.layers.len();
        for (i, l) in self.layers.iter().enumerate() {
            let b = if i + 1 == n {
                last(l.clone())
            } else {
                Blob::Good(l.clone())
            };
            blobs.insert(digest_of(l), b);
        }
        blobs
    }

    fn manifests(&self, tag: &str) -> HashMap<String, (String, Vec<u8>)> {
        let entry = (OCI_MANIFEST.to_string(), self.manifest.clone());
        HashMap::from([
            (tag.to_string(), entry.clone()),
            (digest_of(&self.manifest), entry),
        ])
    }
}

/// What a failed pull must not change.
struct Before {
    images: String,
    layers: BTreeSet<PathBuf>,
}

fn layer_dirs(d: &Daemon) -> BTreeSet<PathBuf> {
    std::fs::read_dir(d.root.join("image/layers"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn images(d: &Daemon) -> String {
    ok(&d.docker(&["images", "-a", "--no-trunc", "--digests"]))
}

fn snapshot(d: &Daemon) -> Before {
    Before {
        images: images(d),
        layers: layer_dirs(d),
    }
}

/// The pull of `image` fails with a message containing `needle`, and
/// leaves berthd as it was.
fn assert_pull_fails_cleanly(d: &Daemon, image: &str, needle: &str) {
    let before = snapshot(d);
    let out = d.docker(&["pull", image]);
    let all = format!("{}{}", stdout(&out), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(1),
        "pull of {image} did not fail: {all}"
    );
    assert!(
        all.contains(needle),
        "pull of {image}: no {needle:?} in: {all}"
    );
    assert_unchanged(d, &before);
}

fn assert_unchanged(d: &Daemon, before: &Before) {
    assert_eq!(images(d), before.images);
    // Staging may be removed a moment after the answer (its guards drop
    // on the pull's threads).
    for dir in ["image/tmp", "image/content/ingest"] {
        let dir = d.root.join(dir);
        let empty = || {
            std::fs::read_dir(&dir)
                .map(|mut r| r.next().is_none())
                .unwrap_or(true)
        };
        assert!(
            eventually(Duration::from_secs(10), empty),
            "{} not empty: {:?}",
            dir.display(),
            std::fs::read_dir(&dir).map(|r| r.flatten().map(|e| e.path()).collect::<Vec<_>>())
        );
    }
    assert_eq!(layer_dirs(d), before.layers, "new layer dirs");
    let (status, _, _) = d.http("GET", "/_ping", None);
    assert_eq!(status, 200);
}

/// After all that, a good image still pulls from a good registry.
fn assert_good_pull_works(d: &Daemon) {
    let made = Made::new(vec![file_layer("good", b"good\n")], None);
    let reg = FakeRegistry::start(made.manifests("good"), made.blobs(Blob::Good));
    let image = reg.image("good");
    ok(&d.docker(&["pull", &image]));
    let run = d.docker(&["run", "--rm", &image, "cat", "/good"]);
    assert_eq!(ok(&run), "good\n");
}

fn flip_last_byte(mut b: Vec<u8>) -> Blob {
    let n = b.len() - 1;
    b[n] ^= 0xff;
    Blob::Good(b)
}

#[test]
fn hostile_blobs_are_refused_and_leave_nothing() {
    let d = Daemon::start();
    // Some layers present before, so that a pull that wrongly commits
    // (or removes) one shows.
    d.load_busybox();
    let layer = || file_layer("payload", &vec![b'x'; 300_000]);

    // (a) Bytes that do not hash to the digest.
    let made = Made::new(vec![layer()], None);
    let reg = FakeRegistry::start(made.manifests("a"), made.blobs(flip_last_byte));
    assert_pull_fails_cleanly(&d, &reg.image("a"), "digest");

    // (b) Short: an honest Content-Length, half the bytes (the reader
    // resumes, gets nothing more, and says why it stopped).
    let reg = FakeRegistry::start(made.manifests("b"), made.blobs(Blob::Short));
    assert_pull_fails_cleanly(
        &d,
        &reg.image("b"),
        "body ended after 150784 of 301568 bytes",
    );

    // (b) The connection cut halfway, on every try.
    let reg = FakeRegistry::start(
        made.manifests("b2"),
        made.blobs(|l| {
            let at = l.len() / 2;
            Blob::Cut(l, at)
        }),
    );
    // The reader gives up after its resumes, and that is the error.
    assert_pull_fails_cleanly(&d, &reg.image("b2"), "gave up after 3 resumes");

    // (c) A layer the registry does not have.
    let reg = FakeRegistry::start(made.manifests("c"), made.blobs(|_| Blob::Missing));
    assert_pull_fails_cleanly(&d, &reg.image("c"), "blob unknown");

    // (f) diff_ids that are not the layers'.
    let wrong = Made::new(
        vec![layer()],
        Some(vec![
            digest_of(&busybox_parts().layer),
            digest_of(b"something else"),
        ]),
    );
    let reg = FakeRegistry::start(wrong.manifests("f"), wrong.blobs(Blob::Good));
    assert_pull_fails_cleanly(&d, &reg.image("f"), "diff");

    // A cut the resume mends: the pull completes.
    let made = Made::new(vec![file_layer("mended", &vec![b'm'; 200_000])], None);
    let reg = FakeRegistry::start(
        made.manifests("r"),
        made.blobs(|l| {
            let at = l.len() / 3;
            Blob::CutOnce(l, at, Arc::new(Mutex::new(false)))
        }),
    );
    ok(&d.docker(&["pull", &reg.image("r")]));

    assert_good_pull_works(&d);
}

#[test]
fn huge_manifest_is_refused() {
    let d = Daemon::start();
    let made = Made::new(vec![], None);
    let mut manifest: Value = serde_json::from_slice(&made.manifest).expect("manifest");
    manifest["annotations"] = json!({"pad": "x".repeat(5 << 20)});
    let body = serde_json::to_vec(&manifest).expect("manifest");
    let manifests = HashMap::from([("big".to_string(), (OCI_MANIFEST.to_string(), body))]);
    let reg = FakeRegistry::start(manifests, made.blobs(Blob::Good));
    assert_pull_fails_cleanly(&d, &reg.image("big"), "manifest too large");
    assert_good_pull_works(&d);
}

/// Pulls an image whose last layer is `evil` and checks that nothing was
/// written outside the layer: not in `victim`, not next to berthd's own
/// directories. Whether the pull failed (then it left nothing), and what
/// it said.
fn pull_escaping(d: &Daemon, victim: &Path, tag: &str, evil: Vec<u8>) -> (bool, String) {
    let made = Made::new(vec![evil], None);
    let reg = FakeRegistry::start(made.manifests(tag), made.blobs(Blob::Good));
    let before = snapshot(d);
    let out = d.docker(&["pull", &reg.image(tag)]);
    let found: Vec<PathBuf> = std::fs::read_dir(victim)
        .expect("read victim dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        found.is_empty(),
        "{tag}: written outside the layer: {found:?}"
    );
    let escaped = walk(d.dir.path())
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("berth-escape") && !p.starts_with(d.root.join("image/layers"))
        })
        .collect::<Vec<_>>();
    assert!(escaped.is_empty(), "{tag}: escaped the layer: {escaped:?}");
    if !out.status.success() {
        assert_unchanged(d, &before);
    }
    (
        out.status.success(),
        format!("{}{}", stdout(&out), text(&out.stderr)),
    )
}

#[test]
fn escaping_layers_stay_inside() {
    let d = Daemon::start();
    // Where the escapes aim: a directory of ours, never a system path.
    let victim = tempfile::tempdir().expect("tempdir");
    let target = victim.path().to_str().expect("utf-8 path");

    let (pulled, said) = pull_escaping(
        &d,
        victim.path(),
        "dotdot",
        layer_tar(&[
            TarEntry::File("../berth-escape-dotdot", b"dotdot\n"),
            TarEntry::File("../../../../../berth-escape-deep", b"deep\n"),
        ]),
    );
    assert!(!pulled, "{said}");
    assert!(
        said.contains("\"../berth-escape-dotdot\" is outside of the root"),
        "{said}"
    );

    let (pulled, said) = pull_escaping(
        &d,
        victim.path(),
        "dirlink",
        layer_tar(&[
            TarEntry::Symlink("abslink", target),
            TarEntry::File("abslink/berth-escape-through-link", b"link\n"),
        ]),
    );
    // Resolved inside the layer, the link leads nowhere: refused.
    assert!(!pulled, "{said}");
    assert!(said.contains("abslink is a dangling symlink"), "{said}");

    let (pulled, said) = pull_escaping(
        &d,
        victim.path(),
        "filelink",
        layer_tar(&[
            TarEntry::Symlink("passwd", &format!("{target}/passwd")),
            TarEntry::File("passwd", b"root::0:0::/:/bin/sh\n"),
        ]),
    );
    // A file over a link replaces the link; the image has the file.
    assert!(pulled, "{said}");
    let image = said.lines().last().expect("pulled name").trim().to_string();
    let run = d.docker(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "test -L /passwd && echo link; cat /passwd",
    ]);
    assert_eq!(ok(&run), "root::0:0::/:/bin/sh\n");
    for p in ["/berth-escape-dotdot", "/berth-escape-deep"] {
        assert!(!Path::new(p).exists(), "{p} written on the host");
    }
    assert_good_pull_works(&d);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        out.push(p.clone());
        if is_dir {
            out.extend(walk(&p));
        }
    }
    out
}

/// `--registry-mirror DOMAIN=URL`: pulls of that registry try the mirror
/// first, and work from it while the registry itself is down.
#[test]
fn a_mirror_serves_pulls_of_its_registry() {
    let origin = BerthRegistry::start();
    let mirror = BerthRegistry::start();
    let image = format!("{}/x/busybox:v1", origin.addr);
    seed_busybox(&format!("{}/x/busybox:v1", mirror.addr), None);
    let origin_addr = origin.addr.clone();
    drop(origin);
    let d = Daemon::start_with_args(&[
        "--registry-mirror",
        &format!("{origin_addr}=http://{}", mirror.addr),
    ]);
    let out = d.docker(&["pull", &image]);
    assert!(
        ok(&out).contains(&format!("Status: Downloaded newer image for {image}")),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        ok(&d.docker(&["run", "--rm", &image, "echo", "hi"])),
        "hi\n"
    );
    // Without the mirror the same pull fails: the registry is gone.
    let plain = Daemon::start();
    assert_eq!(plain.docker(&["pull", &image]).status.code(), Some(1));
    // A mirror that is not a URL is refused at start.
    let out = std::process::Command::new(berth_tests::bin_dir().join("berthd"))
        .args(["--registry-mirror", "ftp://x", "--check", "--root"])
        .arg(d.dir.path().join("never"))
        .output()
        .expect("berthd");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("invalid mirror"),
        "{}",
        text(&out.stderr)
    );
}
