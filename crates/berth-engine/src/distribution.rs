//! The distribution service: pull from and push to registries, and check a
//! login, answering with docker's JSON progress messages.

use std::sync::Arc;

use berth_distribution::auth::Credentials;
use berth_distribution::client::{Client, ClientOptions};
use berth_distribution::manifest::Manifest;
use berth_distribution::pull::{Pull, DEFAULT_CONCURRENCY};
use berth_distribution::push::{self, PushEvent};
use berth_distribution::registry::{InsecureRegistries, Location};
use berth_image::{LayerEvent, Platform};
use berth_reference::Reference;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::{ids, Engine};

/// How berthd reaches registries (its flags).
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Insecure registries, certs dir and mirrors, as the client takes them.
    pub client: ClientOptions,
    /// `--insecure-registry` as given, for `info`.
    pub insecure_entries: Vec<String>,
    /// Layers pulled at once per pull.
    pub max_concurrent_downloads: usize,
    /// Layers pushed at once per push.
    pub max_concurrent_uploads: usize,
}

impl RegistryConfig {
    /// From berthd's flags.
    /// `mirrors`: `URL` (Docker Hub's, as dockerd's `--registry-mirror`)
    /// or `DOMAIN=URL` (a mirror of any registry).
    pub fn new(
        insecure: &[String],
        mirrors: &[String],
        certs_dir: Option<std::path::PathBuf>,
        max_concurrent_downloads: usize,
    ) -> Result<RegistryConfig> {
        let mut client = ClientOptions {
            insecure: InsecureRegistries::parse(insecure)
                .map_err(|e| Error::invalid(e.to_string()))?,
            certs_dir,
            ..ClientOptions::default()
        };
        for m in mirrors {
            let (domain, url) = match m.split_once('=') {
                Some((d, u)) => (Some(d.to_string()), u.to_string()),
                None => (None, m.clone()),
            };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::invalid(format!(
                    "invalid mirror: unsupported scheme in {url:?}: must use either 'https://' or 'http://'"
                )));
            }
            match domain {
                Some(d) => client.registry_mirrors.entry(d).or_default().push(url),
                None => client.mirrors.push(url),
            }
        }
        Ok(RegistryConfig {
            client,
            insecure_entries: insecure.to_vec(),
            max_concurrent_downloads,
            max_concurrent_uploads: push::DEFAULT_CONCURRENCY,
        })
    }
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            client: ClientOptions::default(),
            insecure_entries: Vec::new(),
            max_concurrent_downloads: DEFAULT_CONCURRENCY,
            max_concurrent_uploads: push::DEFAULT_CONCURRENCY,
        }
    }
}

/// The `X-Registry-Auth` / `POST /auth` body (docker's AuthConfig).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthConfig {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// Old clients send `auth` (base64 of `user:password`) instead.
    #[serde(default)]
    pub auth: String,
    #[serde(default, rename = "serveraddress")]
    pub server_address: String,
    #[serde(default, rename = "identitytoken")]
    pub identity_token: String,
    #[serde(default, rename = "registrytoken")]
    pub registry_token: String,
}

impl AuthConfig {
    /// Decodes `X-Registry-Auth` (base64url JSON; docker pads it, some
    /// clients do not). An empty header is anonymous.
    pub fn from_header(header: &str) -> Result<Option<AuthConfig>> {
        use base64::Engine as _;
        let header = header.trim();
        if header.is_empty() {
            return Ok(None);
        }
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(header)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(header))
            .map_err(|_| Error::invalid("invalid X-Registry-Auth header: not base64"))?;
        let auth: AuthConfig = serde_json::from_slice(&raw)
            .map_err(|e| Error::invalid(format!("invalid X-Registry-Auth header: {e}")))?;
        auth.check()?;
        Ok(Some(auth))
    }

    /// Refuses what berth would otherwise drop: a ready bearer token.
    pub fn check(&self) -> Result<()> {
        if !self.registry_token.is_empty() {
            return Err(Error::invalid(
                "registrytoken is not supported; send username and password or an identitytoken",
            ));
        }
        Ok(())
    }

    fn credentials(&self) -> Option<Credentials> {
        use base64::Engine as _;
        let (mut username, mut password) = (self.username.clone(), self.password.clone());
        if username.is_empty() && !self.auth.is_empty() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(self.auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())?;
            let (u, p) = decoded.split_once(':')?;
            (username, password) = (u.to_string(), p.to_string());
        }
        let identity_token = (!self.identity_token.is_empty()).then(|| self.identity_token.clone());
        if username.is_empty() && identity_token.is_none() {
            return None;
        }
        Some(Credentials {
            username,
            password,
            identity_token,
        })
    }
}

/// Where progress messages go (one JSON object each).
pub type Progress = Arc<dyn Fn(Value) + Send + Sync>;

/// A registry error as the engine reports it: the kinds dockerd gives.
fn registry_err(e: berth_distribution::Error) -> Error {
    use berth_distribution::Error as E;
    if let E::Image(i) = e {
        return Error::from(i);
    }
    let kind = match &e {
        E::NotFound(_) => ErrorKind::NotFound,
        E::Unauthorized(_) => ErrorKind::Unauthorized,
        E::InvalidInsecureEntry(_)
        | E::InvalidMirror(_)
        | E::Schema1 { .. }
        | E::UnsupportedMediaType(_)
        | E::NoMatchingManifest(_)
        | E::UnsupportedLayer(_) => ErrorKind::InvalidParameter,
        _ => ErrorKind::System,
    };
    Error::new(kind, e.to_string())
}

/// The image reference `fromImage` and `tag` of `POST /images/create` name.
pub fn pull_reference(from_image: &str, tag: Option<&str>) -> Result<Reference> {
    let r = Reference::parse(from_image).map_err(Error::invalid)?;
    let Some(tag) = tag.filter(|t| !t.is_empty()) else {
        // A bare name asks dockerd for every tag (`docker pull -a`).
        if r.digest().is_none() && r.tag().is_none() {
            return Err(Error::invalid(
                "pulling all tags of a repository is not supported yet; name a tag",
            ));
        }
        return Ok(r);
    };
    // `tag` may be a digest (`docker pull name@sha256:...` sends it so).
    let sep = if tag.contains(':') { '@' } else { ':' };
    Reference::parse(&format!("{}{sep}{tag}", r.name())).map_err(Error::invalid)
}

/// docker's progress text, as dockerd puts it in `progress` (it renders
/// for a 200-column terminal: bar and counts).
fn progress_text(current: u64, total: u64) -> String {
    let detail = berth_api::progress::ProgressDetail {
        current: i64::try_from(current).unwrap_or(i64::MAX),
        total: i64::try_from(total).unwrap_or(i64::MAX),
        ..Default::default()
    };
    detail.render(200, 0)
}

fn layer_message(digest: &str, size: u64, event: LayerEvent) -> Vec<Value> {
    let id = ids::short(digest.strip_prefix("sha256:").unwrap_or(digest)).to_string();
    let plain = |status: &str| json!({"status": status, "progressDetail": {}, "id": id});
    let detail = |status: &str, current: u64| {
        json!({"status": status, "progressDetail": {"current": current, "total": size},
               "progress": progress_text(current, size), "id": id})
    };
    match event {
        LayerEvent::Exists => vec![plain("Already exists")],
        LayerEvent::Waiting => vec![plain("Pulling fs layer")],
        LayerEvent::Reading { current, .. } => vec![detail("Downloading", current)],
        LayerEvent::Verified => vec![plain("Verifying Checksum"), plain("Download complete")],
        // The layer was unpacked as it downloaded, so extracting is done.
        LayerEvent::Unpacked { .. } => vec![detail("Extracting", size), plain("Pull complete")],
    }
}

impl Engine {
    fn client_for(&self, reference: &Reference, auth: Option<&AuthConfig>) -> Result<Client> {
        let location = Location::from_reference(reference);
        Client::with_options(
            location,
            &self.config.registry.client,
            auth.and_then(AuthConfig::credentials),
        )
        .map_err(registry_err)
    }

    /// `POST /images/create?fromImage=`: pulls `reference`. Errors before
    /// the first message (no such manifest, unauthorized) are the
    /// caller's to answer as HTTP errors; later ones end the stream.
    pub async fn image_pull(
        self: &Arc<Self>,
        reference: Reference,
        platform: Option<Platform>,
        auth: Option<AuthConfig>,
        progress: Progress,
    ) -> Result<()> {
        let client = Arc::new(self.client_for(&reference, auth.as_ref())?);
        let pull = Pull::start(client, reference.clone())
            .await
            .map_err(|e| pull_start_err(e, &reference))?;
        progress(
            json!({"status": format!("Pulling from {}", pull.repository()), "id": pull.target()}),
        );
        let images = self.images.clone();
        let handle = tokio::runtime::Handle::current();
        let concurrency = self.config.registry.max_concurrent_downloads;
        let layer_progress = progress.clone();
        let pulled = tokio::task::spawn_blocking(move || {
            pull.run(
                &images,
                handle,
                platform.as_ref(),
                concurrency,
                &|digest: &str, size: u64, event: LayerEvent| {
                    for m in layer_message(digest, size, event) {
                        layer_progress(m);
                    }
                },
            )
        })
        .await?
        .map_err(registry_err)?;
        progress(json!({"status": format!("Digest: {}", pulled.digest)}));
        let familiar = reference.familiar();
        let status = if pulled.up_to_date {
            format!("Status: Image is up to date for {familiar}")
        } else {
            format!("Status: Downloaded newer image for {familiar}")
        };
        progress(json!({"status": status}));
        self.image_event("pull", &familiar, &familiar);
        Ok(())
    }
}

/// dockerd's words when the manifest cannot be had (its notFoundError).
fn pull_start_err(e: berth_distribution::Error, reference: &Reference) -> Error {
    use berth_distribution::Error as E;
    let name = reference.familiar_name();
    match e {
        E::NotFound(r) if r.code == "NAME_UNKNOWN" => {
            Error::not_found(format!("repository {name} not found: {}", r.message))
        }
        E::NotFound(r) => Error::not_found(format!(
            "manifest for {} not found: {}",
            reference.familiar(),
            r.message
        )),
        E::Denied(r) => Error::not_found(format!(
            "pull access denied for {name}, repository does not exist or may require 'docker login': {}",
            r.message
        )),
        E::Unauthorized(r) => Error::new(ErrorKind::Unauthorized, r.message),
        other => registry_err(other),
    }
}

fn push_message(diff_id: &str, event: PushEvent) -> Value {
    let id = ids::short(diff_id.strip_prefix("sha256:").unwrap_or(diff_id)).to_string();
    let plain = |status: String| json!({"status": status, "progressDetail": {}, "id": id});
    match event {
        PushEvent::Preparing => plain("Preparing".into()),
        PushEvent::Pushing { current, total } => json!({
            "status": "Pushing",
            "progressDetail": {"current": current, "total": total},
            "progress": progress_text(current, total),
            "id": id,
        }),
        PushEvent::Pushed => plain("Pushed".into()),
        PushEvent::Exists => plain("Layer already exists".into()),
        PushEvent::Mounted { from } => plain(format!("Mounted from {from}")),
    }
}

impl Engine {
    /// `POST /images/{name}/push`: `name` (with `tag` when given) must be
    /// an image here; it goes to the registry and repository it names.
    pub async fn image_push(
        self: &Arc<Self>,
        name: &str,
        tag: Option<&str>,
        auth: Option<AuthConfig>,
        progress: Progress,
    ) -> Result<()> {
        let parsed = Reference::parse(name).map_err(Error::invalid)?;
        let reference = match tag.filter(|t| !t.is_empty()) {
            Some(t) => {
                Reference::parse(&format!("{}:{t}", parsed.name())).map_err(Error::invalid)?
            }
            None if parsed.tag().is_some() || parsed.digest().is_some() => parsed,
            // dockerd pushes every tag of the repository then; berth does
            // not yet, and says so instead of pushing one.
            None => {
                return Err(Error::invalid(
                    "pushing all tags of a repository is not supported yet; name a tag",
                ))
            }
        };
        if reference.digest().is_some() {
            return Err(Error::invalid("cannot push a digest reference"));
        }
        let images = self.images.clone();
        let lookup = reference.to_string();
        let image = tokio::task::spawn_blocking(move || images.resolve(&lookup))
            .await?
            .map_err(|_| {
                Error::not_found(format!(
                    "An image does not exist locally with the tag: {}",
                    reference.familiar_name()
                ))
            })?;
        let tag = reference.tag().unwrap_or("latest").to_string();
        let client = self.client_for(&reference, auth.as_ref())?.for_push();
        progress(json!({"status": format!(
            "The push refers to repository [{}]",
            reference.familiar_name()
        )}));
        let layer_progress = progress.clone();
        let pushed = push::push(
            Arc::new(client),
            self.images.clone(),
            &image,
            &tag,
            self.config.registry.max_concurrent_uploads,
            Arc::new(move |diff_id: &str, event: PushEvent| {
                layer_progress(push_message(diff_id, event))
            }),
        )
        .await
        .map_err(registry_err)?;
        progress(json!({"status": format!(
            "{tag}: digest: {} size: {}",
            pushed.digest, pushed.size
        )}));
        progress(json!({"progressDetail": {}, "aux": {
            "Tag": tag, "Digest": pushed.digest, "Size": pushed.size,
        }}));
        // dockerd lists the pushed manifest in RepoDigests.
        let images = self.images.clone();
        let (id, name, digest) = (image.id.clone(), reference.name(), pushed.digest.clone());
        if let Err(e) =
            tokio::task::spawn_blocking(move || images.add_digest_reference(&id, &name, &digest))
                .await?
        {
            tracing::warn!("cannot record the pushed digest: {e}");
        }
        let familiar = reference.familiar();
        self.image_event("push", &familiar, &familiar);
        Ok(())
    }

    /// `POST /auth`: checks the credentials with the registry.
    pub async fn auth_login(self: &Arc<Self>, auth: AuthConfig) -> Result<Value> {
        auth.check()?;
        let server = auth.server_address.trim();
        let domain = server_domain(server);
        let client = Client::with_options(
            Location::registry(&domain),
            &self.config.registry.client,
            auth.credentials(),
        )
        .map_err(registry_err)?;
        client.check_login().await.map_err(|e| {
            // dockerd answers a refused login as an unknown error (500).
            Error::system(e.to_string())
        })?;
        Ok(json!({"IdentityToken": "", "Status": "Login Succeeded"}))
    }

    /// `GET /distribution/{name}/json`: the registry's descriptor for
    /// `name` and the platforms it is for.
    pub async fn distribution_inspect(
        self: &Arc<Self>,
        name: &str,
        auth: Option<AuthConfig>,
    ) -> Result<Value> {
        let reference = pull_reference(name, None)?;
        let client = self.client_for(&reference, auth.as_ref())?;
        let location = Location::from_reference(&reference);
        let fetched = client
            .manifest(&location.target)
            .await
            .map_err(|e| pull_start_err(e, &reference))?;
        let platforms: Vec<Value> = match &fetched.manifest {
            Manifest::Index(i) => i
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| platform_json(json!(p.architecture), json!(p.os), &p.variant))
                .collect(),
            Manifest::Image(m) => {
                // The platform is in the config.
                let mut buf = Vec::new();
                let fetched =
                    m.config.size <= 8 << 20 && client.blob(&m.config, &mut buf).await.is_ok();
                fetched
                    .then(|| serde_json::from_slice::<Value>(&buf).ok())
                    .flatten()
                    .map(|cfg| {
                        let variant = cfg["variant"].as_str().unwrap_or_default();
                        platform_json(cfg["architecture"].clone(), cfg["os"].clone(), variant)
                    })
                    .into_iter()
                    .collect()
            }
        };
        Ok(json!({
            "Descriptor": {
                "mediaType": fetched.manifest.media_type(),
                "digest": fetched.digest,
                "size": fetched.body.len(),
            },
            "Platforms": platforms,
        }))
    }
}

/// One of `Platforms`: `variant` only when there is one.
fn platform_json(architecture: Value, os: Value, variant: &str) -> Value {
    let mut p = json!({"architecture": architecture, "os": os});
    if !variant.is_empty() {
        p["variant"] = json!(variant);
    }
    p
}

/// The registry a login names: `https://index.docker.io/v1/` and an empty
/// address are Docker Hub; a URL gives its host.
fn server_domain(server: &str) -> String {
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = rest.split('/').next().unwrap_or("");
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_from_from_image_and_tag() {
        let r = |i: &str, t: Option<&str>| pull_reference(i, t).map(|r| r.to_string());
        assert_eq!(
            r("busybox", Some("1")).unwrap(),
            "docker.io/library/busybox:1"
        );
        assert_eq!(
            r("localhost:5000/a/b", Some("v2")).unwrap(),
            "localhost:5000/a/b:v2"
        );
        let d = format!("sha256:{}", "b".repeat(64));
        assert_eq!(
            r("busybox", Some(&d)).unwrap(),
            format!("docker.io/library/busybox@{d}")
        );
        // A tag inside fromImage stands; none at all is "every tag".
        assert_eq!(
            r("busybox:musl", None).unwrap(),
            "docker.io/library/busybox:musl"
        );
        let e = r("busybox", None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
        assert!(r("Bad Name", Some("x")).is_err());
    }

    #[test]
    fn registry_auth_header_forms() {
        use base64::Engine as _;
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE.encode(v);
        assert!(AuthConfig::from_header("").unwrap().is_none());
        // docker's anonymous `{}`.
        let a = AuthConfig::from_header("e30=").unwrap().unwrap();
        assert!(a.credentials().is_none());
        let a = AuthConfig::from_header(&enc(r#"{"username":"u","password":"p"}"#))
            .unwrap()
            .unwrap();
        let c = a.credentials().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        // Old clients: `auth` is base64 of user:password.
        let a = AuthConfig::from_header(&enc(r#"{"auth":"dTpwOnc="}"#))
            .unwrap()
            .unwrap();
        let c = a.credentials().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:w"));
        let a = AuthConfig::from_header(&enc(r#"{"identitytoken":"tok"}"#))
            .unwrap()
            .unwrap();
        assert_eq!(
            a.credentials().unwrap().identity_token.as_deref(),
            Some("tok")
        );
        let e = AuthConfig::from_header(&enc(r#"{"registrytoken":"t"}"#)).unwrap_err();
        assert!(e.message.contains("registrytoken"), "{e}");
        assert!(AuthConfig::from_header(&enc("[1]")).is_err());
    }

    #[test]
    fn progress_text_is_dockers() {
        assert_eq!(
            progress_text(146, 146),
            format!("[{}>]     146B/146B", "=".repeat(50))
        );
        assert_eq!(
            progress_text(0, 2_000_000),
            format!("[>{}]       0B/2MB", " ".repeat(50))
        );
    }

    #[test]
    fn login_servers_name_their_registry() {
        assert_eq!(server_domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(server_domain(""), "docker.io");
        assert_eq!(server_domain("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            server_domain("https://reg.example:8443/"),
            "reg.example:8443"
        );
    }
}
