//! The client against in-process registries on 127.0.0.1.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request as AxumRequest, State};
use axum::response::Response as AxumResponse;
use axum::Router;

use super::blob_reader::MAX_RESUMES;
use super::*;
use crate::manifest::{OCI_INDEX, OCI_MANIFEST};
use crate::registry::Location;

const REPO: &str = "library/x";
const LAYER: &[u8] = b"layer bytes, not really a tar";

/// A registry that wants a Bearer token for everything under /v2/,
/// hands one out at /token for user:pw (GET) or for the refresh token
/// `rt` (POST), and serves one manifest and one blob (through a
/// redirect to another host name).
struct Fake {
    port: u16,
    manifest: Vec<u8>,
    /// Serve LAYER with its last byte changed.
    corrupt: bool,
    /// Ask for Basic user:pw instead of a token.
    basic: bool,
    /// Token requests seen.
    tokens: AtomicUsize,
    /// Authorization seen on /storage (must be none).
    leaked: AtomicUsize,
    /// Token requests without a scope.
    logins: AtomicUsize,
}

fn manifest_body() -> Vec<u8> {
    // No mediaType in the body: the Content-Type header says it.
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", "c".repeat(64)), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": manifest::digest_of(LAYER), "size": LAYER.len()}]
    }))
    .unwrap()
}

fn respond(status: u16, headers: &[(&str, String)], body: Vec<u8>) -> AxumResponse {
    let mut r = AxumResponse::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.body(Body::from(body)).unwrap()
}

async fn handle(State(fake): State<Arc<Fake>>, req: AxumRequest) -> AxumResponse {
    let path = req.uri().path().to_string();
    if path == "/token" && req.method() == Method::POST {
        fake.tokens.fetch_add(1, Ordering::SeqCst);
        let form = axum::body::to_bytes(req.into_body(), 1 << 16)
            .await
            .unwrap();
        let form = String::from_utf8_lossy(&form);
        let ok = form.contains("grant_type=refresh_token")
            && form.contains("refresh_token=rt")
            && form.contains("client_id=docker")
            && form.contains("scope=repository%3Alibrary%2Fx%3Apull");
        return if ok {
            respond(200, &[], br#"{"access_token":"good"}"#.to_vec())
        } else {
            respond(401, &[], Vec::new())
        };
    }
    let basic_ok = format!("Basic {}", STANDARD.encode("user:pw"));
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if path == "/token" {
        fake.tokens.fetch_add(1, Ordering::SeqCst);
        let q = req.uri().query().unwrap_or("");
        // A login asks for no scope at all.
        let scoped = q.contains("scope=repository%3Alibrary%2Fx%3Apull");
        if !q.contains("scope=") {
            fake.logins.fetch_add(1, Ordering::SeqCst);
        }
        let ok = header("authorization") == basic_ok
            && (scoped || !q.contains("scope="))
            && q.contains("service=fake");
        return if ok {
            respond(
                200,
                &[],
                br#"{"access_token":"good","expires_in":300}"#.to_vec(),
            )
        } else {
            respond(
                401,
                &[],
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#.to_vec(),
            )
        };
    }
    if path.starts_with("/storage/") {
        if !header("authorization").is_empty() {
            fake.leaked.fetch_add(1, Ordering::SeqCst);
        }
        let mut body = LAYER.to_vec();
        if fake.corrupt {
            *body.last_mut().unwrap() ^= 1;
        }
        return respond(200, &[], body);
    }
    if fake.basic && header("authorization") != basic_ok {
        let challenge = r#"Basic realm="Registry Realm""#.to_string();
        return respond(401, &[("www-authenticate", challenge)], Vec::new());
    }
    if !fake.basic && header("authorization") != "Bearer good" {
        let challenge = format!(
            r#"Bearer realm="http://127.0.0.1:{}/token",service="fake",scope="repository:{REPO}:pull""#,
            fake.port
        );
        return respond(401, &[("www-authenticate", challenge)], Vec::new());
    }
    if path == "/v2/" {
        return respond(200, &[], b"{}".to_vec());
    }
    let manifests = format!("/v2/{REPO}/manifests/");
    if let Some(reference) = path.strip_prefix(&manifests) {
        let accept = header("accept");
        let all = [
            OCI_MANIFEST,
            OCI_INDEX,
            manifest::DOCKER_MANIFEST,
            manifest::DOCKER_MANIFEST_LIST,
        ];
        if !all.iter().all(|m| accept.contains(m)) {
            return respond(400, &[], b"accept list incomplete".to_vec());
        }
        if reference == "huge" {
            let body = vec![b' '; MAX_MANIFEST_SIZE + 1];
            return respond(200, &[("content-type", OCI_MANIFEST.to_string())], body);
        }
        if reference == "latest" || reference == manifest::digest_of(&fake.manifest) {
            return respond(
                200,
                &[("content-type", OCI_MANIFEST.to_string())],
                fake.manifest.clone(),
            );
        }
        if reference.starts_with("sha256:") {
            // A registry lying about content.
            return respond(
                200,
                &[("content-type", OCI_MANIFEST.to_string())],
                fake.manifest.clone(),
            );
        }
        return respond(
            404,
            &[],
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_vec(),
        );
    }
    if path == format!("/v2/{REPO}/blobs/{}", manifest::digest_of(LAYER)) {
        // Another host name for the same server: "storage elsewhere".
        let to = format!("http://localhost:{}/storage/blob", fake.port);
        return respond(307, &[("location", to)], Vec::new());
    }
    respond(404, &[], Vec::new())
}

async fn serve(corrupt: bool) -> Arc<Fake> {
    serve_with(corrupt, false).await
}

async fn serve_with(corrupt: bool, basic: bool) -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = Arc::new(Fake {
        port,
        manifest: manifest_body(),
        corrupt,
        basic,
        tokens: AtomicUsize::new(0),
        leaked: AtomicUsize::new(0),
        logins: AtomicUsize::new(0),
    });
    let app = Router::new().fallback(handle).with_state(fake.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    fake
}

fn client(fake: &Fake, creds: Option<Credentials>) -> Client {
    let r = berth_reference::Reference::parse(&format!("127.0.0.1:{}/{REPO}", fake.port)).unwrap();
    Client::new(
        Location::from_reference(&r),
        &InsecureRegistries::default(),
        creds,
    )
    .unwrap()
}

fn user() -> Option<Credentials> {
    Some(Credentials {
        username: "user".into(),
        password: "pw".into(),
        identity_token: None,
    })
}

#[tokio::test]
async fn fetches_a_manifest_after_the_token_dance() {
    let fake = serve(false).await;
    let c = client(&fake, user());
    let got = c.manifest(&Target::Tag("latest".into())).await.unwrap();
    assert_eq!(got.manifest.media_type(), OCI_MANIFEST);
    assert_eq!(got.digest, manifest::digest_of(&fake.manifest));
    assert_eq!(got.body.as_ref(), fake.manifest.as_slice());
    // The token is kept: a second fetch asks for none.
    let again = c
        .manifest(&Target::Digest(got.digest.clone()))
        .await
        .unwrap();
    assert_eq!(again.digest, got.digest);
    assert_eq!(fake.tokens.load(Ordering::SeqCst), 1);

    let e = c.manifest(&Target::Tag("nope".into())).await.unwrap_err();
    assert!(
        matches!(e, Error::NotFound(ref r) if r.code == "MANIFEST_UNKNOWN"),
        "{e}"
    );
    let lie = format!("sha256:{}", "0".repeat(64));
    let e = c.manifest(&Target::Digest(lie)).await.unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_unauthorized() {
    let fake = serve(false).await;
    let e = client(&fake, None)
        .manifest(&Target::Tag("latest".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized(_)), "{e}");
    assert_eq!(e.to_string(), "unauthorized: bad credentials");
    let wrong = Some(Credentials {
        username: "user".into(),
        password: "nope".into(),
        identity_token: None,
    });
    let e = client(&fake, wrong)
        .manifest(&Target::Tag("latest".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized(_)), "{e}");
}

#[tokio::test]
async fn streams_a_blob_through_a_redirect_and_checks_it() {
    let fake = serve(false).await;
    let c = client(&fake, user());
    let Manifest::Image(m) = c
        .manifest(&Target::Tag("latest".into()))
        .await
        .unwrap()
        .manifest
    else {
        panic!("not an image manifest")
    };
    let mut out = Vec::new();
    let n = c.blob(&m.layers[0], &mut out).await.unwrap();
    assert_eq!(n, LAYER.len() as u64);
    assert_eq!(out, LAYER);
    assert_eq!(
        fake.leaked.load(Ordering::SeqCst),
        0,
        "token sent to the redirect target"
    );

    let mut short = m.layers[0].clone();
    short.size -= 1;
    let e = c.blob(&short, &mut Vec::new()).await.unwrap_err();
    assert!(matches!(e, Error::BadBlob { .. }), "{e}");
    let mut missing = m.layers[0].clone();
    missing.digest = format!("sha256:{}", "9".repeat(64));
    let e = c.blob(&missing, &mut Vec::new()).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

#[tokio::test]
async fn a_corrupt_blob_is_refused() {
    let fake = serve(true).await;
    let c = client(&fake, user());
    let Manifest::Image(m) = c
        .manifest(&Target::Tag("latest".into()))
        .await
        .unwrap()
        .manifest
    else {
        panic!("not an image manifest")
    };
    let e = c.blob(&m.layers[0], &mut Vec::new()).await.unwrap_err();
    assert!(
        matches!(e, Error::BadBlob { ref reason, .. } if reason.contains("hashes to")),
        "{e}"
    );
}

#[tokio::test]
async fn an_identity_token_is_exchanged_by_post() {
    let fake = serve(false).await;
    let creds = Some(Credentials {
        username: "<token>".into(),
        password: String::new(),
        identity_token: Some("rt".into()),
    });
    let got = client(&fake, creds)
        .manifest(&Target::Tag("latest".into()))
        .await;
    assert_eq!(got.unwrap().body.as_ref(), fake.manifest.as_slice());
    assert_eq!(fake.tokens.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn basic_registries_get_the_password() {
    let fake = serve_with(false, true).await;
    let got = client(&fake, user())
        .manifest(&Target::Tag("latest".into()))
        .await;
    assert_eq!(got.unwrap().body.as_ref(), fake.manifest.as_slice());
    assert_eq!(fake.tokens.load(Ordering::SeqCst), 0);
    let e = client(&fake, None)
        .manifest(&Target::Tag("latest".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoBasicCredentials), "{e}");
    assert_eq!(e.to_string(), "no basic auth credentials");
}

#[tokio::test]
async fn an_oversized_manifest_is_refused() {
    let fake = serve(false).await;
    let e = client(&fake, user())
        .manifest(&Target::Tag("huge".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ManifestTooLarge { .. }), "{e}");
}

#[test]
fn https_first_and_http_only_where_allowed() {
    let loc = |s: &str| Location::from_reference(&berth_reference::Reference::parse(s).unwrap());
    let none = InsecureRegistries::default();
    let c = Client::new(loc("example.com/x"), &none, None).unwrap();
    assert_eq!(c.inner.origins, vec!["https://example.com"]);
    let c = Client::new(loc("localhost:5000/x"), &none, None).unwrap();
    assert_eq!(
        c.inner.origins,
        vec!["https://localhost:5000", "http://localhost:5000"]
    );
    let list = InsecureRegistries::parse(&["example.com"]).unwrap();
    let c = Client::new(loc("example.com/x"), &list, None).unwrap();
    assert_eq!(
        c.inner.origins,
        vec!["https://example.com", "http://example.com"]
    );
}

// ---- resuming a cut blob download -------------------------------------

/// A bare HTTP/1.1 server for one blob: each blob request is answered
/// from its `Range` on, and the n-th is cut (the connection closed) after
/// `cuts[n]` bytes of body; later requests get the rest whole.
struct Cutter {
    port: u16,
    ranges: Arc<std::sync::Mutex<Vec<Option<String>>>>,
}

async fn cutter(data: Vec<u8>, cuts: Vec<usize>, honour_range: bool) -> Cutter {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt as _, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let ranges = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = ranges.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let mut first_byte = [0u8; 1];
            if stream.peek(&mut first_byte).await.unwrap_or(0) == 0 || first_byte[0] == 0x16 {
                // Closed, or a TLS hello (the https probe): hang up.
                continue;
            }
            let mut stream = BufReader::new(stream);
            let mut first = String::new();
            let mut range = None;
            loop {
                let mut line = String::new();
                if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                if first.is_empty() {
                    first = line.clone();
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range:") {
                    range = Some(v.trim().to_string());
                }
                if line == "\r\n" {
                    break;
                }
            }
            // A TLS hello or a ping: not a blob request.
            if !first.starts_with("GET /v2/r/blobs/") {
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                    )
                    .await;
                continue;
            }
            let n = {
                let mut s = seen.lock().unwrap();
                s.push(range.clone());
                s.len() - 1
            };
            let start: usize = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.strip_suffix('-'))
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            let len = data.len();
            let head = if start > 0 && honour_range {
                format!(
                    "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {start}-{}/{len}\r\n\r\n",
                    len - start,
                    len - 1
                )
            } else {
                format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n")
            };
            let from = if honour_range { start } else { 0 };
            let end = cuts.get(n).map_or(len, |c| (from + c).min(len));
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&data[from..end]).await;
            let _ = stream.shutdown().await;
        }
    });
    Cutter { port, ranges }
}

fn blob_data() -> Vec<u8> {
    (0..100_000u32).map(|i| (i % 251) as u8).collect()
}

fn desc_of(data: &[u8]) -> Descriptor {
    Descriptor {
        media_type: "application/octet-stream".into(),
        digest: manifest::digest_of(data),
        size: data.len() as i64,
        urls: Vec::new(),
        platform: None,
    }
}

fn plain_client(port: u16, repo: &str) -> Client {
    let r = berth_reference::Reference::parse(&format!("127.0.0.1:{port}/{repo}")).unwrap();
    Client::new(
        Location::from_reference(&r),
        &InsecureRegistries::default(),
        None,
    )
    .unwrap()
}

async fn read_all(c: &Client, desc: &Descriptor) -> Result<Vec<u8>> {
    let mut reader = c.blob_reader(desc).await?;
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .await
        .map_err(BlobReader::error)?;
    // The end stays the end: readers ask again to confirm it.
    let mut more = [0u8; 16];
    assert_eq!(reader.read(&mut more).await.map_err(BlobReader::error)?, 0);
    Ok(out)
}

#[tokio::test]
async fn a_cut_download_resumes_where_it_stopped() {
    let data = blob_data();
    let server = cutter(data.clone(), vec![10_000, 7, 0], true).await;
    let c = plain_client(server.port, "r");
    let got = read_all(&c, &desc_of(&data)).await.unwrap();
    assert!(got == data, "resumed bytes differ");
    assert_eq!(
        *server.ranges.lock().unwrap(),
        vec![
            None,
            Some("bytes=10000-".to_string()),
            Some("bytes=10007-".to_string()),
            Some("bytes=10007-".to_string()),
        ]
    );
    // blob() does the same and checks the digest.
    let server = cutter(data.clone(), vec![5], true).await;
    let c = plain_client(server.port, "r");
    let mut out = Vec::new();
    assert_eq!(
        c.blob(&desc_of(&data), &mut out).await.unwrap(),
        data.len() as u64
    );
}

#[tokio::test]
async fn a_download_cut_before_any_byte_starts_over() {
    let data = blob_data();
    let server = cutter(data.clone(), vec![0], true).await;
    let c = plain_client(server.port, "r");
    assert!(read_all(&c, &desc_of(&data)).await.unwrap() == data);
    assert_eq!(*server.ranges.lock().unwrap(), vec![None, None]);
}

#[tokio::test]
async fn resuming_gives_up() {
    let data = blob_data();
    // Cut every time.
    let server = cutter(data.clone(), vec![1000; 10], true).await;
    let c = plain_client(server.port, "r");
    let e = read_all(&c, &desc_of(&data)).await.unwrap_err();
    assert!(
        matches!(e, Error::Http(ref m) if m.contains("gave up after 3 resumes")),
        "{e}"
    );
    assert_eq!(server.ranges.lock().unwrap().len(), 1 + MAX_RESUMES);

    // A registry that ignores Range after bytes were delivered.
    let server = cutter(data.clone(), vec![1000], false).await;
    let c = plain_client(server.port, "r");
    let e = read_all(&c, &desc_of(&data)).await.unwrap_err();
    assert!(
        matches!(e, Error::Http(ref m) if m.contains("cannot resume at byte 1000")),
        "{e}"
    );
}

#[tokio::test]
async fn a_blob_longer_than_announced_is_refused() {
    let data = blob_data();
    let server = cutter(data.clone(), vec![], true).await;
    let c = plain_client(server.port, "r");
    let mut short = desc_of(&data);
    short.size -= 1;
    let e = read_all(&c, &short).await.unwrap_err();
    assert!(
        matches!(e, Error::BadBlob { ref reason, .. } if reason.contains("more than")),
        "{e}"
    );
}

// ---- pushing, against the crate's own registry server -------------------

struct Served {
    port: u16,
    _dir: tempfile::TempDir,
}

async fn registry_server(layer: impl FnOnce(Router) -> Router) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let router = layer(crate::server::Registry::open(dir.path()).unwrap().router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Served { port, _dir: dir }
}

fn progress_log() -> (Arc<std::sync::Mutex<Vec<u64>>>, impl Fn(u64) + Sync) {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let l = log.clone();
    (log, move |n| l.lock().unwrap().push(n))
}

async fn push_image(c: &Client, layer: &[u8]) -> (String, Bytes) {
    let (seen, progress) = progress_log();
    let (digest, size) = c.upload_blob(layer, &progress).await.unwrap();
    assert_eq!(digest, manifest::digest_of(layer));
    assert_eq!(size, layer.len() as u64);
    assert_eq!(seen.lock().unwrap().last(), Some(&size));
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let (config_digest, _) = c.upload_blob(&config[..], &|_| {}).await.unwrap();
    let body = Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": digest, "size": layer.len()}]
        }))
        .unwrap(),
    );
    (digest, body)
}

#[tokio::test]
async fn pushes_blobs_and_a_manifest_then_pulls_them() {
    let reg = registry_server(|r| r).await;
    let c = plain_client(reg.port, "team/app").for_push();
    let layer = blob_data();
    assert_eq!(
        c.blob_exists(&manifest::digest_of(&layer)).await.unwrap(),
        None
    );
    let (digest, body) = push_image(&c, &layer).await;
    assert_eq!(
        c.blob_exists(&digest).await.unwrap(),
        Some(layer.len() as u64)
    );

    let pushed = c
        .put_manifest("v1", OCI_MANIFEST, body.clone())
        .await
        .unwrap();
    assert_eq!(pushed, manifest::digest_of(&body));
    let got = c.manifest(&Target::Tag("v1".into())).await.unwrap();
    assert_eq!(got.digest, pushed);
    let mut out = Vec::new();
    c.blob(&desc_of(&layer), &mut out).await.unwrap();
    assert!(out == layer);

    // Another repository mounts the layer instead of uploading it...
    let other = plain_client(reg.port, "team/other").for_push();
    assert!(other.mount_blob(&digest, "team/app").await.unwrap());
    assert_eq!(
        other.blob_exists(&digest).await.unwrap(),
        Some(layer.len() as u64)
    );
    // ...but not from a repository that lacks it (the upload it got
    // instead is cancelled).
    let third = plain_client(reg.port, "team/third").for_push();
    assert!(!third.mount_blob(&digest, "team/nothing").await.unwrap());
    assert_eq!(third.blob_exists(&digest).await.unwrap(), None);

    // A manifest naming a blob the repository lacks is refused as invalid.
    let e = third
        .put_manifest("v1", OCI_MANIFEST, body)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Invalid(ref r) if r.code == "MANIFEST_BLOB_UNKNOWN"),
        "{e:?}"
    );
    let e = c.manifest(&Target::Tag("nope".into())).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    assert_eq!(e.to_string(), "manifest unknown: manifest nope unknown");
}

#[tokio::test]
async fn upload_locations_may_be_absolute_with_a_query() {
    // Rewrites every Location to an absolute URL with a query of its own.
    let port = Arc::new(std::sync::OnceLock::<u16>::new());
    let p = port.clone();
    let reg = registry_server(move |r| {
        r.layer(axum::middleware::map_response(
            move |mut resp: AxumResponse| {
                let p = p.clone();
                async move {
                    let loc = resp
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    if let Some(loc) = loc.filter(|l| l.contains("/uploads/")) {
                        let abs =
                            format!("http://127.0.0.1:{}{loc}?_state=opaque", p.get().unwrap());
                        resp.headers_mut().insert("location", abs.parse().unwrap());
                    }
                    resp
                }
            },
        ))
    })
    .await;
    port.set(reg.port).unwrap();
    let c = plain_client(reg.port, "abs").for_push();
    let (digest, _) = push_image(&c, b"some layer").await;
    assert_eq!(c.blob_exists(&digest).await.unwrap(), Some(10));
}

#[tokio::test]
async fn a_failing_reader_fails_the_upload() {
    struct Broken(usize);
    impl tokio::io::AsyncRead for Broken {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.0 == 0 {
                return std::task::Poll::Ready(Err(std::io::Error::other("disk on fire")));
            }
            self.0 -= 1;
            buf.put_slice(&[7; 1000]);
            std::task::Poll::Ready(Ok(()))
        }
    }
    let reg = registry_server(|r| r).await;
    let c = plain_client(reg.port, "broken").for_push();
    let e = c.upload_blob(Broken(3), &|_| {}).await.unwrap_err();
    assert!(e.to_string().contains("disk on fire"), "{e}");
}

// ---- https, basic auth, login ----------------------------------------------

const PASSWORD: &str = "s3cret";

fn htpasswd() -> crate::server::Htpasswd {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    crate::server::Htpasswd::parse(&format!("# users\nalice:{hash}\n")).unwrap()
}

/// A self-signed certificate for 127.0.0.1 (PEM) and its key.
fn self_signed() -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    (ck.cert.pem(), ck.signing_key.serialize_pem())
}

/// The crate's registry over https behind Basic auth.
async fn tls_registry() -> (Served, String) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    let config =
        crate::server::server_config(&dir.path().join("cert.pem"), &dir.path().join("key.pem"))
            .unwrap();
    let router = crate::server::Registry::open(&dir.path().join("root"))
        .unwrap()
        .with_htpasswd(htpasswd())
        .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let listener = crate::server::TlsListener::new(listener, config);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (Served { port, _dir: dir }, cert)
}

fn alice(password: &str) -> Option<Credentials> {
    Some(Credentials {
        username: "alice".into(),
        password: password.into(),
        identity_token: None,
    })
}

fn client_with(port: u16, repo: &str, creds: Option<Credentials>) -> Client {
    let r = berth_reference::Reference::parse(&format!("127.0.0.1:{port}/{repo}")).unwrap();
    Client::new(
        Location::from_reference(&r),
        &InsecureRegistries::default(),
        creds,
    )
    .unwrap()
}

#[tokio::test]
async fn pushes_and_pulls_over_https_with_a_password() {
    let (reg, _) = tls_registry().await;
    let c = client_with(reg.port, "private/app", alice(PASSWORD)).for_push();
    c.check_login().await.unwrap();
    // https answered, so http was never needed.
    assert_eq!(
        c.inner.origin.lock().await.as_deref(),
        Some(format!("https://127.0.0.1:{}", reg.port).as_str())
    );
    let layer = blob_data();
    let (_, body) = push_image(&c, &layer).await;
    let digest = c.put_manifest("v1", OCI_MANIFEST, body).await.unwrap();
    let pull = client_with(reg.port, "private/app", alice(PASSWORD));
    let got = pull.manifest(&Target::Digest(digest)).await.unwrap();
    assert_eq!(got.manifest.media_type(), OCI_MANIFEST);
    assert!(read_all(&pull, &desc_of(&layer)).await.unwrap() == layer);

    let wrong = client_with(reg.port, "private/app", alice("guess"));
    let e = wrong.check_login().await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "login attempt to https://127.0.0.1:{}/v2/ failed with status: 401 Unauthorized",
            reg.port
        )
    );
    let e = wrong.manifest(&Target::Tag("v1".into())).await.unwrap_err();
    assert!(
        matches!(e, Error::Unauthorized(ref r) if r.code == "UNAUTHORIZED"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "unauthorized: authentication required");
    let e = client_with(reg.port, "private/app", None)
        .check_login()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoBasicCredentials), "{e:?}");
}

#[tokio::test]
async fn login_over_plain_http_words_it_as_dockerd() {
    let dir = tempfile::tempdir().unwrap();
    let router = crate::server::Registry::open(dir.path())
        .unwrap()
        .with_htpasswd(htpasswd())
        .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let e = client_with(port, "x", alice("nope"))
        .check_login()
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "login attempt to http://127.0.0.1:{port}/v2/ failed with status: 401 Unauthorized"
        )
    );
    client_with(port, "x", alice(PASSWORD))
        .check_login()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_secure_registry_is_verified_against_the_certs_dir() {
    let (reg, cert) = tls_registry().await;
    let host = format!("127.0.0.1:{}", reg.port);
    let url = format!("https://{host}/v2/");
    // Unknown issuer: refused.
    let net = Transport::new(Tls::new(None, &[(host.clone(), false)]).unwrap());
    let e = net
        .send(Method::GET, &url, &[], Bytes::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Http(ref m) if m.contains("tls")), "{e}");
    // Its CA in <certs_dir>/<host>/ca.crt: trusted.
    let certs = tempfile::tempdir().unwrap();
    std::fs::create_dir(certs.path().join(&host)).unwrap();
    std::fs::write(certs.path().join(&host).join("ca.crt"), &cert).unwrap();
    let net = Transport::new(Tls::new(Some(certs.path()), &[(host.clone(), false)]).unwrap());
    let resp = net
        .send(Method::GET, &url, &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Half a client certificate pair is an error, not ignored.
    std::fs::write(certs.path().join(&host).join("client.cert"), &cert).unwrap();
    assert!(matches!(
        Tls::new(Some(certs.path()), &[(host, false)]),
        Err(Error::Tls { .. })
    ));
}

// ---- mirrors ------------------------------------------------------------------

fn mirrored_client(origin: u16, mirrors: Vec<String>, repo: &str) -> Client {
    let domain = format!("127.0.0.1:{origin}");
    let r = berth_reference::Reference::parse(&format!("{domain}/{repo}")).unwrap();
    let options = ClientOptions {
        registry_mirrors: HashMap::from([(domain, mirrors)]),
        ..ClientOptions::default()
    };
    Client::with_options(Location::from_reference(&r), &options, None).unwrap()
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn pulls_try_mirrors_in_order_and_pushes_skip_them() {
    let origin = registry_server(|r| r).await;
    let mirror = registry_server(|r| r).await;
    let dead = closed_port().await;
    let mirrors = vec![
        format!("http://127.0.0.1:{dead}"),
        format!("http://127.0.0.1:{}/", mirror.port),
    ];
    let layer = blob_data();
    // Pushed with mirrors configured: lands at the registry only.
    let c = mirrored_client(origin.port, mirrors.clone(), "m/app").for_push();
    let (digest, body) = push_image(&c, &layer).await;
    c.put_manifest("v1", OCI_MANIFEST, body.clone())
        .await
        .unwrap();
    let mirror_direct = plain_client(mirror.port, "m/app");
    assert_eq!(mirror_direct.blob_exists(&digest).await.unwrap(), None);

    // A dead mirror, then one that lacks it (404): the registry serves.
    let pull = mirrored_client(origin.port, mirrors.clone(), "m/app");
    pull.manifest(&Target::Tag("v1".into())).await.unwrap();
    assert!(read_all(&pull, &desc_of(&layer)).await.unwrap() == layer);

    // The mirror has it, the registry is gone: the mirror serves.
    let mc = plain_client(mirror.port, "m/app").for_push();
    push_image(&mc, &layer).await;
    mc.put_manifest("v1", OCI_MANIFEST, body).await.unwrap();
    let gone = closed_port().await;
    let pull = mirrored_client(gone, mirrors, "m/app");
    pull.manifest(&Target::Tag("v1".into())).await.unwrap();
    assert!(read_all(&pull, &desc_of(&layer)).await.unwrap() == layer);
}

#[test]
fn docker_hub_mirrors_apply_to_docker_hub_only() {
    let options = ClientOptions {
        mirrors: vec!["mirror.example:5000".into(), "http://10.0.0.1:5001/".into()],
        ..ClientOptions::default()
    };
    let hub = berth_reference::Reference::parse("busybox").unwrap();
    let c = Client::with_options(Location::from_reference(&hub), &options, None).unwrap();
    assert_eq!(
        c.inner.mirrors,
        vec!["https://mirror.example:5000", "http://10.0.0.1:5001"]
    );
    let other = berth_reference::Reference::parse("quay.io/x/y").unwrap();
    let c = Client::with_options(Location::from_reference(&other), &options, None).unwrap();
    assert!(c.inner.mirrors.is_empty());
    for bad in ["ftp://m", "https://m/path", "https://"] {
        let options = ClientOptions {
            mirrors: vec![bad.into()],
            ..ClientOptions::default()
        };
        let e = Client::with_options(Location::from_reference(&hub), &options, None);
        assert!(matches!(e, Err(Error::InvalidMirror(_))), "{bad}");
    }
}

#[tokio::test]
async fn a_foreign_layer_the_registry_lacks_comes_from_its_urls() {
    let fake = serve(false).await;
    let c = client(&fake, user());
    let mut foreign = desc_of(LAYER);
    foreign.digest = format!("sha256:{}", "9".repeat(64));
    foreign.urls = vec![
        "file:///etc/passwd".into(),
        format!("http://127.0.0.1:{}/nowhere", closed_port().await),
        format!("http://127.0.0.1:{}/storage/blob", fake.port),
    ];
    assert_eq!(read_all(&c, &foreign).await.unwrap(), LAYER);
    assert_eq!(
        fake.leaked.load(Ordering::SeqCst),
        0,
        "credentials sent to a URL"
    );
    foreign.urls.pop();
    let e = read_all(&c, &foreign).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

#[tokio::test]
async fn login_to_a_token_registry_asks_a_token_without_scope() {
    let fake = serve(false).await;
    let at = |creds| {
        let loc = Location::registry(&format!("127.0.0.1:{}", fake.port));
        Client::new(loc, &InsecureRegistries::default(), creds).unwrap()
    };
    at(user()).check_login().await.unwrap();
    assert_eq!(fake.logins.load(Ordering::SeqCst), 1);
    let wrong = Some(Credentials {
        username: "user".into(),
        password: "nope".into(),
        identity_token: None,
    });
    let e = at(wrong).check_login().await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
    assert_eq!(e.to_string(), "unauthorized: bad credentials");
}

#[tokio::test]
async fn the_futures_and_the_reader_can_move_between_threads() {
    fn owned<T: Send + Sync + Unpin + 'static>(_: &T) {}
    let reg = registry_server(|r| r).await;
    let c = plain_client(reg.port, "spawned").for_push();
    owned(&c);
    let pushing = c.clone();
    let (digest, _) = tokio::spawn(async move {
        pushing
            .upload_blob(&b"spawned layer"[..], &|_| {})
            .await
            .unwrap()
    })
    .await
    .unwrap();
    let reader = c.blob_reader(&desc_of(b"spawned layer")).await.unwrap();
    fn reader_bounds<T: tokio::io::AsyncRead + Send + Unpin + 'static>(_: &T) {}
    reader_bounds(&reader);
    let got = tokio::spawn(async move {
        let mut reader = reader;
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        out
    })
    .await
    .unwrap();
    assert_eq!(got, b"spawned layer");
    assert_eq!(digest, manifest::digest_of(b"spawned layer"));
}

// ---- kept connections -------------------------------------------------------

#[tokio::test]
async fn connections_are_kept_for_the_next_request() {
    use axum::serve::ListenerExt;
    let dir = tempfile::tempdir().unwrap();
    let router = crate::server::Registry::open(dir.path()).unwrap().router();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let c = plain_client(port, "kept").for_push();
    let (_, body) = push_image(&c, b"layer").await;
    // The https probe and the http ping so far, plus the PATCH streams.
    let before = accepted.load(Ordering::SeqCst);
    for _ in 0..5 {
        c.put_manifest("v1", OCI_MANIFEST, body.clone())
            .await
            .unwrap();
        c.manifest(&Target::Tag("v1".into())).await.unwrap();
        assert_eq!(
            c.blob_exists(&manifest::digest_of(b"layer")).await.unwrap(),
            Some(5)
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        before,
        "15 requests opened connections"
    );
}

#[tokio::test]
async fn a_kept_connection_the_server_closed_is_replaced() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt as _, BufReader};
    // Answers the first request on each connection, then reads the next
    // one and hangs up without answering (an idle timeout racing it).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let hung_up = dropped.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let hung_up = hung_up.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                for answered in [true, false] {
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if answered {
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                            .await;
                    } else {
                        hung_up.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let net = Transport::new(Tls::new(None, &[]).unwrap());
    let url = format!("http://127.0.0.1:{port}/v2/");
    for _ in 0..3 {
        let resp = net
            .send(Method::GET, &url, &[], Bytes::new())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        drain(resp).await;
    }
    // The first on a new connection; each later one went on the kept
    // connection, was hung up on, and went again on a new one.
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
#[allow(deprecated)] // ring, as the client uses
async fn a_client_certificate_from_the_certs_dir_is_presented() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::PrivateKeyDer;
    let provider = || Arc::new(rustls::crypto::ring::default_provider());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["client".to_string()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();

    // A server that wants a client certificate issued by that CA.
    let server = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots.add(ca.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(client_roots),
        provider(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server.cert.der().clone()],
            PrivateKeyDer::try_from(server.signing_key.serialize_der()).unwrap(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let router = crate::server::Registry::open(dir.path()).unwrap().router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let listener = crate::server::TlsListener::new(listener, Arc::new(config));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let certs = tempfile::tempdir().unwrap();
    let hostdir = certs.path().join(&host);
    std::fs::create_dir(&hostdir).unwrap();
    std::fs::write(hostdir.join("ca.crt"), server.cert.pem()).unwrap();
    let url = format!("https://{host}/v2/");
    let get = |certs: &std::path::Path| {
        let net = Transport::new(Tls::new(Some(certs), &[(host.clone(), false)]).unwrap());
        let url = url.clone();
        async move { net.send(Method::GET, &url, &[], Bytes::new()).await }
    };
    assert!(
        get(certs.path()).await.is_err(),
        "served without a client certificate"
    );
    std::fs::write(hostdir.join("me.cert"), client_cert.pem()).unwrap();
    std::fs::write(hostdir.join("me.key"), client_key.serialize_pem()).unwrap();
    let resp = get(certs.path()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // A key without its certificate is an error.
    std::fs::write(hostdir.join("other.key"), client_key.serialize_pem()).unwrap();
    assert!(matches!(
        Tls::new(Some(certs.path()), &[(host.clone(), false)]),
        Err(Error::Tls { .. })
    ));
}

#[tokio::test]
async fn an_upload_refused_before_its_body_is_read_fails_at_once() {
    // PATCH answered at once without reading the body.
    let reg = registry_server(|r| {
        r.layer(axum::middleware::from_fn(
            |req: AxumRequest, next: axum::middleware::Next| async move {
                if req.method() == Method::PATCH {
                    return respond(
                        400,
                        &[],
                        br#"{"errors":[{"code":"SIZE_INVALID","message":"too big"}]}"#.to_vec(),
                    );
                }
                next.run(req).await
            },
        ))
    })
    .await;
    let c = plain_client(reg.port, "refused").for_push();
    let endless = tokio::io::AsyncReadExt::take(tokio::io::repeat(7), 1 << 40);
    let e = c.upload_blob(endless, &|_| {}).await.unwrap_err();
    assert!(
        matches!(e, Error::Invalid(ref r) if r.code == "SIZE_INVALID"),
        "{e:?}"
    );
}
