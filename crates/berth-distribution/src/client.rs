//! A registry client for one repository: fetches manifests, streams blobs
//! (resuming an interrupted one), and pushes blobs and manifests, answering
//! a 401 with the token (or Basic) dance the challenge asks for and sending
//! again once.
//!
//! Endpoints, as dockerd picks them: pulls try the registry's mirrors in
//! order and fall back to the next (then the registry itself) on any
//! failure; pushes and logins go to the registry only. The registry is
//! reached over https first; over plain http only where the insecure rules
//! allow it, when https cannot connect (and an insecure registry's
//! certificate is not verified).
//!
//! Registries are untrusted: manifest bodies are read up to the size cap
//! only, a manifest asked by digest must hash to it, a blob never runs past
//! its descriptor's size, and `blob` checks size and digest (`blob_reader`
//! leaves the hashing to its caller). Credentials are not sent to another
//! host a redirect or an upload `Location` points at.

mod blob_reader;
#[cfg(test)]
mod tests;
mod tls;
mod transport;
mod upload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use hyper::{Method, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

pub use blob_reader::BlobReader;

use crate::auth::{refresh_token_form, repository_scope, token_url, Challenge, Credentials, Token};
use crate::error::{status_text, Error, RegistryError, Result};
use crate::manifest::{self, Descriptor, Manifest, MAX_MANIFEST_SIZE};
use crate::registry::{base_url, InsecureRegistries, Location, Target};
use tls::Tls;
use transport::{authority_of, resolve, Transport};

const MAX_REDIRECTS: usize = 10;
/// How much of an error response is kept for the message.
const MAX_ERROR_BODY: usize = 64 << 10;
const MAX_TOKEN_BODY: usize = 1 << 20;
/// The domain Docker Hub's mirrors (`--registry-mirror`) serve.
const DOCKER_HUB_DOMAIN: &str = "docker.io";

/// How a `Client` reaches registries.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Registries that may be reached over plain http (or https without
    /// verifying their certificate).
    pub insecure: InsecureRegistries,
    /// Extra CAs per registry: `<certs_dir>/<host[:port]>/*.crt` (dockerd's
    /// /etc/docker/certs.d).
    pub certs_dir: Option<PathBuf>,
    /// Docker Hub's mirrors, base URLs tried in order (dockerd's
    /// `--registry-mirror`).
    pub mirrors: Vec<String>,
    /// Mirrors of any registry, by its domain as references spell it
    /// (`localhost:5000`, `docker.io`); tried before `mirrors`.
    pub registry_mirrors: HashMap<String, Vec<String>>,
}

/// A manifest as fetched: parsed, with its digest and exact bytes (the
/// bytes are what the digest covers, so they are what gets stored).
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub manifest: Manifest,
    pub digest: String,
    pub body: Bytes,
}

/// A client for one repository; cheap to clone (clones share tokens).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    push: bool,
}

struct Inner {
    location: Location,
    /// The registry's base URLs to try, https first.
    origins: Vec<String>,
    /// The origin that answered, once one has.
    origin: Mutex<Option<String>>,
    /// Base URLs tried before the origin for pulls.
    mirrors: Vec<String>,
    credentials: Option<Credentials>,
    net: Transport,
    /// Per base URL: the Authorization that last worked and the challenge
    /// it answered, reused until a 401.
    auth: Mutex<HashMap<String, Auth>>,
}

#[derive(Clone, Default)]
struct Auth {
    value: Option<String>,
    challenge: Option<Challenge>,
}

/// One request as the client sends it: a path under an endpoint, or an
/// absolute URL (an upload's `Location`).
struct Call<'a> {
    method: Method,
    target: &'a str,
    headers: Vec<(&'a str, String)>,
    body: Bytes,
    /// Scopes the token must carry besides this repository's.
    scopes: Vec<String>,
    /// Ask a token for `scopes` only, not for the repository (a login).
    bare: bool,
}

impl<'a> Call<'a> {
    fn new(method: Method, target: &'a str) -> Call<'a> {
        Call {
            method,
            target,
            headers: Vec::new(),
            body: Bytes::new(),
            scopes: Vec::new(),
            bare: false,
        }
    }

    fn header(mut self, name: &'a str, value: impl Into<String>) -> Call<'a> {
        self.headers.push((name, value.into()));
        self
    }
}

impl Client {
    /// A client for `location`'s repository, pulling only.
    pub fn new(
        location: Location,
        insecure: &InsecureRegistries,
        credentials: Option<Credentials>,
    ) -> Result<Client> {
        let options = ClientOptions {
            insecure: insecure.clone(),
            ..ClientOptions::default()
        };
        Client::with_options(location, &options, credentials)
    }

    pub fn with_options(
        location: Location,
        options: &ClientOptions,
        credentials: Option<Credentials>,
    ) -> Result<Client> {
        let origins: Vec<String> = options
            .insecure
            .schemes(&location.host)
            .into_iter()
            .map(|s| base_url(s, &location.host))
            .collect();
        let mut mirror_list: Vec<&String> = options
            .registry_mirrors
            .get(&location.domain)
            .into_iter()
            .flatten()
            .collect();
        if location.domain == DOCKER_HUB_DOMAIN {
            mirror_list.extend(options.mirrors.iter());
        }
        let mirrors = mirror_list
            .into_iter()
            .map(|m| mirror_base(m))
            .collect::<Result<Vec<_>>>()?;
        let mut hosts = vec![(
            location.host.clone(),
            options.insecure.allows_http(&location.host),
        )];
        for m in &mirrors {
            let host = authority_of(m)?;
            let insecure = options.insecure.allows_http(&host);
            hosts.push((host, insecure));
        }
        let tls = Tls::new(options.certs_dir.as_deref(), &hosts)?;
        Ok(Client {
            inner: Arc::new(Inner {
                location,
                origins,
                origin: Mutex::new(None),
                mirrors,
                credentials,
                net: Transport::new(tls),
                auth: Mutex::new(HashMap::new()),
            }),
            push: false,
        })
    }

    /// Asks tokens that also allow pushing.
    pub fn for_push(mut self) -> Client {
        self.push = true;
        self
    }

    pub fn location(&self) -> &Location {
        &self.inner.location
    }

    fn repository(&self) -> &str {
        &self.inner.location.repository
    }

    /// Fetches the manifest `target` names (a tag or a digest), from a
    /// mirror when one has it.
    pub async fn manifest(&self, target: &Target) -> Result<FetchedManifest> {
        let path = format!("/v2/{}/manifests/{}", self.repository(), target.as_str());
        let accept = manifest::ACCEPT.join(", ");
        for mirror in &self.inner.mirrors {
            match self.manifest_at(mirror, &path, &accept, target).await {
                Ok(m) => return Ok(m),
                Err(e) => tracing::debug!("mirror {mirror}: {e}; trying the next endpoint"),
            }
        }
        let origin = self.origin().await?;
        self.manifest_at(&origin, &path, &accept, target).await
    }

    async fn manifest_at(
        &self,
        base: &str,
        path: &str,
        accept: &str,
        target: &Target,
    ) -> Result<FetchedManifest> {
        let call = Call::new(Method::GET, path).header("accept", accept);
        let resp = self.expect_ok(base, call).await?;
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
        let mut reader = self.blob_reader(desc).await?;
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = reader.read(&mut buf).await.map_err(BlobReader::error)?;
            if n == 0 {
                break;
            }
            written += n as u64;
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
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

    /// Checks the credentials against the registry's `/v2/`, as `login`
    /// does.
    pub async fn check_login(&self) -> Result<()> {
        let base = self.origin().await?;
        let mut call = Call::new(Method::GET, "/v2/");
        call.bare = true;
        let resp = self.call(&base, call).await?;
        let status = resp.status();
        if status == StatusCode::OK {
            return Ok(());
        }
        let url = format!("{base}/v2/");
        Err(Error::Unauthorized(RegistryError::new(
            status.as_u16(),
            "",
            format!(
                "login attempt to {url} failed with status: {}",
                status_text(status.as_u16())
            ),
        )))
    }

    /// The registry's base URL: the first of https, http (where allowed)
    /// whose `/v2/` answers at all, as dockerd pings. The answer's
    /// challenge is kept for the first request.
    async fn origin(&self) -> Result<String> {
        let mut chosen = self.inner.origin.lock().await;
        if let Some(o) = chosen.as_ref() {
            return Ok(o.clone());
        }
        let mut last = None;
        for base in &self.inner.origins {
            let url = format!("{base}/v2/");
            match self
                .inner
                .net
                .send(Method::GET, &url, &[], Bytes::new())
                .await
            {
                Ok(resp) => {
                    if let Some(challenge) = challenge_of(&resp) {
                        let mut auth = self.inner.auth.lock().await;
                        auth.entry(base.clone()).or_default().challenge = Some(challenge);
                    }
                    drain(resp).await;
                    *chosen = Some(base.clone());
                    return Ok(base.clone());
                }
                Err(e) => {
                    tracing::debug!("{url}: {e}");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Http("no endpoint for the registry".into())))
    }

    /// A request that must answer 2xx; anything else becomes the error the
    /// registry's body names.
    async fn expect_ok(&self, base: &str, call: Call<'_>) -> Result<Response<Incoming>> {
        let url = self.url(base, call.target);
        let resp = self.call(base, call).await?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(refused(&url, resp).await)
        }
    }

    fn url(&self, base: &str, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_string()
        } else {
            format!("{base}{target}")
        }
    }

    /// Sends `call` to `base` with the Authorization that last worked; on a
    /// 401 does the challenge's dance and sends once more. GETs and HEADs
    /// follow redirects.
    async fn call(&self, base: &str, call: Call<'_>) -> Result<Response<Incoming>> {
        let url = self.url(base, call.target);
        let current = self.authorization(base, &call.scopes).await?;
        let resp = self.send(base, &url, &call, current.as_deref()).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(challenge) = challenge_of(&resp) else {
            return Ok(resp);
        };
        drain(resp).await;
        let value = self.authorize(&challenge, &call.scopes, call.bare).await?;
        {
            let mut auth = self.inner.auth.lock().await;
            let entry = auth.entry(base.to_string()).or_default();
            entry.value = Some(value.clone());
            entry.challenge = Some(challenge);
        }
        self.send(base, &url, &call, Some(&value)).await
    }

    /// The Authorization to send first: the cached one, or, when the call
    /// needs more scopes than the cached token may hold, a fresh token for
    /// the challenge already seen.
    async fn authorization(&self, base: &str, scopes: &[String]) -> Result<Option<String>> {
        let cached = self.inner.auth.lock().await.get(base).cloned();
        let Some(cached) = cached else {
            return Ok(None);
        };
        match (&cached.challenge, scopes.is_empty()) {
            (Some(c @ Challenge::Bearer { .. }), false) => {
                let value = self.authorize(c, scopes, false).await?;
                let mut auth = self.inner.auth.lock().await;
                auth.entry(base.to_string()).or_default().value = Some(value.clone());
                Ok(Some(value))
            }
            (Some(c @ Challenge::Basic { .. }), _) if cached.value.is_none() => {
                // The ping saw Basic: send the password at once.
                Ok(self.authorize(c, scopes, false).await.ok())
            }
            _ => Ok(cached.value),
        }
    }

    /// One send, following redirects for reads; the Authorization goes to
    /// the endpoint's own host only.
    async fn send(
        &self,
        base: &str,
        url: &str,
        call: &Call<'_>,
        authorization: Option<&str>,
    ) -> Result<Response<Incoming>> {
        let origin = authority_of(base)?;
        let follow = call.method == Method::GET || call.method == Method::HEAD;
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut headers: Vec<(&str, &str)> =
                call.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let (Some(a), true) = (authorization, authority_of(&url)? == origin) {
                headers.push(("authorization", a));
            }
            let resp = self
                .inner
                .net
                .send(call.method.clone(), &url, &headers, call.body.clone())
                .await?;
            if !follow || !resp.status().is_redirection() {
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

    /// The Authorization value a challenge asks for, with `extra` scopes
    /// besides this repository's (or alone when `bare`, or when there is
    /// no repository).
    async fn authorize(
        &self,
        challenge: &Challenge,
        extra: &[String],
        bare: bool,
    ) -> Result<String> {
        match challenge {
            Challenge::Basic { .. } => match &self.inner.credentials {
                Some(c) if !c.username.is_empty() => Ok(basic(c)),
                // dockerd's words (and kind: not a 401, so the docker CLI
                // reports it instead of prompting for a login).
                _ => Err(Error::NoBasicCredentials),
            },
            Challenge::Bearer { realm, service, .. } => {
                let mut scopes = Vec::new();
                if !bare && !self.repository().is_empty() {
                    scopes.push(repository_scope(self.repository(), self.push));
                }
                scopes.extend(extra.iter().cloned());
                let creds = self.inner.credentials.as_ref();
                let net = &self.inner.net;
                let resp = match creds.and_then(|c| c.identity_token.as_deref()) {
                    Some(refresh) => {
                        let form = refresh_token_form(service.as_deref(), &scopes, refresh);
                        net.send(
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
                        net.send(Method::GET, &url, &headers, Bytes::new()).await?
                    }
                };
                if !resp.status().is_success() {
                    return Err(refused(realm, resp).await);
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
}

/// A mirror as configured (`host[:port]` or a base URL) as a base URL;
/// dockerd takes a bare host as https.
fn mirror_base(m: &str) -> Result<String> {
    let bad = || Error::InvalidMirror(m.to_string());
    let url = if m.contains("://") {
        m.to_string()
    } else {
        format!("https://{m}")
    };
    let url = url.trim_end_matches('/').to_string();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(bad());
    }
    authority_of(&url).map_err(|_| bad())?;
    Ok(url)
}

fn challenge_of(resp: &Response<Incoming>) -> Option<Challenge> {
    if resp.status() != StatusCode::UNAUTHORIZED {
        return None;
    }
    resp.headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| Challenge::parse(v).ok())
        // Bearer first, as distribution's client prefers it.
        .min_by_key(|c| matches!(c, Challenge::Basic { .. }))
}

fn basic(c: &Credentials) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", c.username, c.password))
    )
}

/// Reads what is left of an answer that is not used (a few bytes at most),
/// so that its connection can serve the next request.
async fn drain(resp: Response<Incoming>) {
    let _ = Limited::new(resp.into_body(), MAX_ERROR_BODY)
        .collect()
        .await;
}

/// The error a refused request's answer names.
async fn refused(url: &str, resp: Response<Incoming>) -> Error {
    let status = resp.status().as_u16();
    // A token that does not reach far enough: the registry says so in its
    // challenge (RFC 6750), and docker's client calls that "denied".
    let insufficient_scope = status == 401
        && resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.starts_with("Bearer ") && v.contains("error=\"insufficient_scope\""));
    if insufficient_scope {
        drain(resp).await;
        return Error::Denied(RegistryError::new(
            401,
            "DENIED",
            "denied: requested access to the resource is denied",
        ));
    }
    let body = match Limited::new(resp.into_body(), MAX_ERROR_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    Error::from_response(url, status, &body)
}
