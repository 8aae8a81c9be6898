//! A registry client for one repository: fetches manifests and streams
//! blobs, answering a 401 with the token (or Basic) dance the challenge
//! asks for and retrying once.
//!
//! Registries are untrusted: manifest bodies are read up to the size cap
//! only, a manifest asked by digest must hash to it, and a blob is hashed
//! while it streams and must match its descriptor's size and digest; the
//! caller writes blobs to a temp file and keeps it only when this returns
//! Ok (the content store's ingest). Plain http only in this slice, and only
//! where the insecure rules allow it; credentials are not sent to another
//! host a redirect points at.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST, LOCATION, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::auth::{refresh_token_form, repository_scope, token_url, Challenge, Credentials, Token};
use crate::error::{Error, Result};
use crate::manifest::{self, Descriptor, Manifest, MAX_MANIFEST_SIZE};
use crate::registry::{base_url, InsecureRegistries, Location, Scheme, Target};

const MAX_REDIRECTS: usize = 10;
/// How much of an error response is kept for the message.
const MAX_ERROR_BODY: usize = 64 << 10;
const MAX_TOKEN_BODY: usize = 1 << 20;

/// A manifest as fetched: parsed, with its digest and exact bytes (the
/// bytes are what the digest covers, so they are what gets stored).
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub manifest: Manifest,
    pub digest: String,
    pub body: Bytes,
}

pub struct Client {
    location: Location,
    base: String,
    credentials: Option<Credentials>,
    push: bool,
    /// The Authorization value that last worked, reused until a 401.
    authorization: Mutex<Option<String>>,
}

impl Client {
    /// A client for `location`'s repository, pulling only.
    pub fn new(
        location: Location,
        insecure: &InsecureRegistries,
        credentials: Option<Credentials>,
    ) -> Result<Client> {
        if !insecure.allows_http(&location.host) {
            return Err(Error::HttpsUnsupported(location.host.clone()));
        }
        Ok(Client {
            base: base_url(Scheme::Http, &location.host),
            location,
            credentials,
            push: false,
            authorization: Mutex::new(None),
        })
    }

    /// Asks tokens that also allow pushing (for a later `push`).
    pub fn for_push(mut self) -> Client {
        self.push = true;
        self
    }

    /// Fetches the manifest `target` names (a tag or a digest).
    pub async fn manifest(&self, target: &Target) -> Result<FetchedManifest> {
        let path = format!(
            "/v2/{}/manifests/{}",
            self.location.repository,
            target.as_str()
        );
        let accept = manifest::ACCEPT.join(", ");
        let sep = match target {
            Target::Tag(_) => ':',
            Target::Digest(_) => '@',
        };
        let what = format!("{}{sep}{}", self.location.repository, target.as_str());
        let resp = self.get(&path, &what, Some(&accept)).await?;
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match Limited::new(resp.into_body(), MAX_MANIFEST_SIZE + 1)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Error::ManifestTooLarge {
                    size: MAX_MANIFEST_SIZE + 1,
                    limit: MAX_MANIFEST_SIZE,
                })
            }
            Err(e) => return Err(Error::Http(format!("read manifest: {e}"))),
        };
        if let Target::Digest(d) = target {
            manifest::verify_digest(&body, d)?;
        }
        let manifest = Manifest::parse(&body, content_type.as_deref())?;
        Ok(FetchedManifest {
            manifest,
            digest: manifest::digest_of(&body),
            body,
        })
    }

    /// Streams the blob `desc` names into `out`, checking its size and
    /// digest as it goes; returns the bytes written.
    pub async fn blob<W: AsyncWrite + Unpin>(&self, desc: &Descriptor, out: &mut W) -> Result<u64> {
        let bad = |reason: String| Error::BadBlob {
            digest: desc.digest.clone(),
            reason,
        };
        let Some(expected) = desc.digest.strip_prefix("sha256:") else {
            return Err(bad("only sha256 digests are supported".into()));
        };
        let size = u64::try_from(desc.size).map_err(|_| bad("negative size".into()))?;
        let path = format!("/v2/{}/blobs/{}", self.location.repository, desc.digest);
        let what = format!("{}@{}", self.location.repository, desc.digest);
        let mut body = self.get(&path, &what, None).await?.into_body();
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| Error::Http(format!("read blob {}: {e}", desc.digest)))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            written += data.len() as u64;
            if written > size {
                return Err(bad(format!("more than the {size} bytes announced")));
            }
            hasher.update(&data);
            out.write_all(&data)
                .await
                .map_err(|e| Error::io(format!("write blob {}", desc.digest), e))?;
        }
        out.flush()
            .await
            .map_err(|e| Error::io(format!("write blob {}", desc.digest), e))?;
        if written != size {
            return Err(bad(format!("{written} bytes, {size} announced")));
        }
        let actual = hex::encode(hasher.finalize());
        if actual != expected {
            return Err(bad(format!("content hashes to sha256:{actual}")));
        }
        Ok(written)
    }

    /// A GET of a registry path, authorising on a 401 and retrying once.
    /// `what` names the object in a not-found error.
    async fn get(
        &self,
        path: &str,
        what: &str,
        accept: Option<&str>,
    ) -> Result<Response<Incoming>> {
        let url = format!("{}{path}", self.base);
        let current = self.authorization.lock().await.clone();
        let resp = self.follow(&url, accept, current.as_deref()).await?;
        let resp = if resp.status() == StatusCode::UNAUTHORIZED {
            let header = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| Error::Unauthorized(format!("{url}: no WWW-Authenticate")))?;
            let value = self.authorize(&Challenge::parse(&header)?).await?;
            *self.authorization.lock().await = Some(value.clone());
            self.follow(&url, accept, Some(&value)).await?
        } else {
            resp
        };
        match resp.status() {
            s if s.is_success() => Ok(resp),
            StatusCode::UNAUTHORIZED => Err(Error::Unauthorized(error_text(resp).await)),
            StatusCode::NOT_FOUND => Err(Error::NotFound(what.to_string())),
            s => Err(Error::Status {
                url,
                status: s.as_u16(),
                body: error_text(resp).await,
            }),
        }
    }

    /// The Authorization value a challenge asks for.
    async fn authorize(&self, challenge: &Challenge) -> Result<String> {
        match challenge {
            Challenge::Basic { .. } => match &self.credentials {
                Some(c) if !c.username.is_empty() => Ok(basic(c)),
                _ => Err(Error::Unauthorized(
                    "the registry asks for a user name and password".into(),
                )),
            },
            Challenge::Bearer { realm, service, .. } => {
                let scopes = vec![repository_scope(&self.location.repository, self.push)];
                let creds = self.credentials.as_ref();
                let resp = match creds.and_then(|c| c.identity_token.as_deref()) {
                    Some(refresh) => {
                        let form = refresh_token_form(service.as_deref(), &scopes, refresh);
                        send(
                            Method::POST,
                            realm,
                            &[("content-type", "application/x-www-form-urlencoded")],
                            Bytes::from(form),
                        )
                        .await?
                    }
                    None => {
                        let with_password =
                            creds.filter(|c| !c.username.is_empty() && !c.password.is_empty());
                        let url = token_url(
                            realm,
                            service.as_deref(),
                            &scopes,
                            with_password.map(|c| c.username.as_str()),
                        );
                        let auth = with_password.map(basic);
                        let headers: Vec<(&str, &str)> =
                            auth.iter().map(|a| ("authorization", a.as_str())).collect();
                        send(Method::GET, &url, &headers, Bytes::new()).await?
                    }
                };
                if !resp.status().is_success() {
                    let status = resp.status();
                    let text = error_text(resp).await;
                    return Err(if status == StatusCode::UNAUTHORIZED {
                        Error::Unauthorized(text)
                    } else {
                        Error::Status {
                            url: realm.clone(),
                            status: status.as_u16(),
                            body: text,
                        }
                    });
                }
                let body = Limited::new(resp.into_body(), MAX_TOKEN_BODY)
                    .collect()
                    .await
                    .map_err(|e| Error::InvalidToken(e.to_string()))?
                    .to_bytes();
                Ok(format!("Bearer {}", Token::parse(&body)?.token))
            }
        }
    }

    /// A GET that follows redirects (blob storage commonly answers with
    /// one), keeping the Authorization only on the registry's own host.
    async fn follow(
        &self,
        url: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Response<Incoming>> {
        let origin = authority_of(url)?;
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut headers = Vec::new();
            if let Some(a) = accept {
                headers.push(("accept", a));
            }
            if let (Some(a), true) = (authorization, authority_of(&url)? == origin) {
                headers.push(("authorization", a));
            }
            let resp = send(Method::GET, &url, &headers, Bytes::new()).await?;
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let next = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Http(format!("{url}: redirect without Location")))?;
            url = resolve(&url, next)?;
        }
        Err(Error::Http(format!("{url}: too many redirects")))
    }
}

fn basic(c: &Credentials) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", c.username, c.password))
    )
}

fn authority_of(url: &str) -> Result<String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::Http(format!("invalid URL {url:?}: {e}")))?;
    uri.authority()
        .map(|a| a.as_str().to_string())
        .ok_or_else(|| Error::Http(format!("invalid URL {url:?}: no host")))
}

/// An absolute Location as is, a path one against the current URL's origin.
fn resolve(current: &str, location: &str) -> Result<String> {
    if location.contains("://") {
        return Ok(location.to_string());
    }
    if !location.starts_with('/') {
        return Err(Error::Http(format!("unsupported redirect to {location:?}")));
    }
    Ok(format!("http://{}{location}", authority_of(current)?))
}

/// One request on a fresh connection.
async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Response<Incoming>> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::Http(format!("invalid URL {url:?}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(Error::HttpsUnsupported(url.to_string()));
    }
    let authority = authority_of(url)?;
    let addr = if uri.port_u16().is_some() {
        authority.clone()
    } else {
        format!("{authority}:80")
    };
    let stream = TcpStream::connect(&addr)
        .await
        .map_err(|e| Error::io(format!("connect to {addr}"), e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Error::Http(format!("{url}: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = Request::builder()
        .method(method)
        .uri(target)
        .header(HOST, &authority);
    for (k, v) in headers {
        let v = HeaderValue::from_str(v).map_err(|e| Error::Http(format!("header {k}: {e}")))?;
        req = req.header(*k, v);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| Error::Http(format!("{url}: {e}")))?;
    sender
        .send_request(req)
        .await
        .map_err(|e| Error::Http(format!("{url}: {e}")))
}

/// A registry error body's messages (`{"errors":[{"message":...}]}`), or
/// its text.
async fn error_text(resp: Response<Incoming>) -> String {
    let status = resp.status();
    let body = match Limited::new(resp.into_body(), MAX_ERROR_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return status.to_string(),
    };
    let messages: Option<Vec<String>> = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("errors")?.as_array().map(|errs| {
                errs.iter()
                    .filter_map(|e| e.get("message")?.as_str().map(str::to_string))
                    .collect()
            })
        });
    match messages {
        Some(m) if !m.is_empty() => m.join("; "),
        _ if body.is_empty() => status.to_string(),
        _ => String::from_utf8_lossy(&body).trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::{Request as AxumRequest, State};
    use axum::response::Response as AxumResponse;
    use axum::Router;

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
            let ok = header("authorization") == basic_ok
                && q.contains("scope=repository%3Alibrary%2Fx%3Apull")
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
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
                    .to_vec(),
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
        });
        let app = Router::new().fallback(handle).with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    fn client(fake: &Fake, creds: Option<Credentials>) -> Client {
        let r =
            berth_reference::Reference::parse(&format!("127.0.0.1:{}/{REPO}", fake.port)).unwrap();
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
            matches!(e, Error::NotFound(ref w) if w == "library/x:nope"),
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
        assert!(
            matches!(e, Error::Unauthorized(ref m) if m == "bad credentials"),
            "{e}"
        );
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
        assert!(matches!(e, Error::Unauthorized(_)), "{e}");
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
    fn only_plain_http_where_allowed() {
        let r = berth_reference::Reference::parse("example.com/x").unwrap();
        let e = Client::new(
            Location::from_reference(&r),
            &InsecureRegistries::default(),
            None,
        );
        assert!(matches!(e, Err(Error::HttpsUnsupported(_))));
        let list = InsecureRegistries::parse(&["example.com"]).unwrap();
        assert!(Client::new(Location::from_reference(&r), &list, None).is_ok());
    }
}
