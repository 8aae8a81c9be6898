//! Registry authentication: the `WWW-Authenticate` challenge of a 401, the
//! token request it asks for, the token response, and the credentials a
//! user stored with `login` in docker's `config.json`.
//!
//! config.json holds secrets: it is written whole to a temp file with mode
//! 0600 next to it and renamed over, so a reader never sees half a file
//! and the secrets are never world-readable, even for an instant.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::registry::DOCKER_HUB_HOST;

/// The key Docker Hub's credentials are stored under, as the docker CLI
/// writes it.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Tokens shorter-lived than this are taken to live this long (as
/// distribution's client does, so a token is not fetched per request).
pub const MIN_TOKEN_LIFETIME_SECS: u64 = 60;

/// What dockerd names itself as in OAuth token requests.
const CLIENT_ID: &str = "docker";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Basic {
        realm: Option<String>,
    },
}

impl Challenge {
    /// Parses one `WWW-Authenticate` value: a scheme, then `key=value`
    /// pairs separated by commas, values plain tokens or quoted strings
    /// (which may hold commas and backslash escapes).
    pub fn parse(header: &str) -> Result<Challenge> {
        let bad = |reason: &str| Error::InvalidChallenge {
            header: header.to_string(),
            reason: reason.to_string(),
        };
        let s = header.trim();
        let (scheme, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        let params = parse_params(rest).map_err(|r| bad(&r))?;
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => Ok(Challenge::Bearer {
                realm: params
                    .get("realm")
                    .filter(|r| !r.is_empty())
                    .cloned()
                    .ok_or_else(|| bad("no realm"))?,
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            }),
            "basic" => Ok(Challenge::Basic {
                realm: params.get("realm").cloned(),
            }),
            "" => Err(bad("no scheme")),
            other => Err(bad(&format!("unsupported scheme {other:?}"))),
        }
    }
}

fn parse_params(s: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("parameter {key:?} has no value"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or("unterminated escape")?),
                    Some(c) => value.push(c),
                    None => return Err("unterminated quoted value".into()),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',' && !c.is_whitespace()) {
                value.push(c);
            }
        }
        params.insert(key.to_ascii_lowercase(), value);
    }
}

/// `repository:<name>:pull` or `repository:<name>:pull,push`.
pub fn repository_scope(repository: &str, push: bool) -> String {
    let actions = if push { "pull,push" } else { "pull" };
    format!("repository:{repository}:{actions}")
}

/// The GET a client sends to a Bearer realm (with Basic auth of the user's
/// password when it has one; `account` names that user).
pub fn token_url(
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    account: Option<&str>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = service.filter(|s| !s.is_empty()) {
        q.append_pair("service", s);
    }
    for scope in scopes {
        q.append_pair("scope", scope);
    }
    if let Some(a) = account.filter(|a| !a.is_empty()) {
        q.append_pair("account", a);
    }
    let q = q.finish();
    if q.is_empty() {
        realm.to_string()
    } else if realm.contains('?') {
        format!("{realm}&{q}")
    } else {
        format!("{realm}?{q}")
    }
}

/// The form POSTed to a Bearer realm when the user holds an identity
/// token (an OAuth refresh token) instead of a password.
pub fn refresh_token_form(service: Option<&str>, scopes: &[String], refresh_token: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("scope", &scopes.join(" "))
        .append_pair("service", service.unwrap_or(""))
        .append_pair("client_id", CLIENT_ID)
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", refresh_token)
        .finish()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// Seconds from `issued_at` (or from receipt), at least
    /// [`MIN_TOKEN_LIFETIME_SECS`].
    pub expires_in: u64,
    pub issued_at: Option<String>,
    pub refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct RawToken {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: i64,
    issued_at: Option<String>,
    refresh_token: Option<String>,
}

impl Token {
    /// A token server's answer: `token` or `access_token` (the latter wins
    /// when both are there, as in distribution's client).
    pub fn parse(body: &[u8]) -> Result<Token> {
        let raw: RawToken =
            serde_json::from_slice(body).map_err(|e| Error::InvalidToken(e.to_string()))?;
        let token = if raw.access_token.is_empty() {
            raw.token
        } else {
            raw.access_token
        };
        if token.is_empty() {
            return Err(Error::InvalidToken(
                "authorization server did not include a token in the response".into(),
            ));
        }
        Ok(Token {
            token,
            expires_in: u64::try_from(raw.expires_in)
                .unwrap_or(0)
                .max(MIN_TOKEN_LIFETIME_SECS),
            issued_at: raw.issued_at.filter(|s| !s.is_empty()),
            refresh_token: raw.refresh_token.filter(|s| !s.is_empty()),
        })
    }
}

/// What `login` stored for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// An OAuth refresh token; used instead of the password when set.
    pub identity_token: Option<String>,
}

/// The config.json key for a registry domain: Docker Hub's legacy index
/// URL for `docker.io`, the host[:port] otherwise.
pub fn config_key(domain: &str) -> String {
    if is_docker_hub(domain) {
        DOCKER_HUB_KEY.to_string()
    } else {
        domain.to_string()
    }
}

fn is_docker_hub(domain: &str) -> bool {
    matches!(domain, "docker.io" | "index.docker.io" | DOCKER_HUB_HOST)
}

/// `https://host:port/v1/` -> `host:port`, as the docker CLI matches keys
/// written by older clients.
fn key_hostname(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn default_config_path(docker_config: Option<&Path>, home: &Path) -> PathBuf {
    match docker_config {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("config.json"),
        _ => home.join(".docker").join("config.json"),
    }
}

/// docker's `config.json`, kept whole so that writing credentials keeps
/// every other setting the user has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerConfig {
    doc: Map<String, Value>,
}

impl DockerConfig {
    /// Reads the file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<DockerConfig> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        Self::parse(&bytes).map_err(|reason| Error::InvalidConfig {
            path: path.display().to_string(),
            reason,
        })
    }

    fn parse(bytes: &[u8]) -> std::result::Result<DockerConfig, String> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice(bytes).map_err(|e| e.to_string())? {
            Value::Object(doc) => Ok(DockerConfig { doc }),
            _ => Err("not a JSON object".into()),
        }
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    /// The credentials stored for a registry domain (`docker.io`,
    /// `localhost:5000`), matched by exact key first, then by the host of
    /// keys written as URLs.
    pub fn credentials(&self, domain: &str) -> Result<Option<Credentials>> {
        let Some(auths) = self.auths() else {
            return Ok(None);
        };
        let key = config_key(domain);
        let wanted = key_hostname(&key);
        let entry = auths.get(&key).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| key_hostname(k) == wanted)
                .map(|(_, v)| v)
        });
        let Some(entry) = entry.and_then(Value::as_object) else {
            return Ok(None);
        };
        let field = |name: &str| {
            entry
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut creds = Credentials {
            username: field("username"),
            password: field("password"),
            identity_token: Some(field("identitytoken")).filter(|t| !t.is_empty()),
        };
        let auth = field("auth");
        if !auth.is_empty() {
            (creds.username, creds.password) = decode_auth(&auth)?;
        }
        Ok(Some(creds))
    }

    /// Sets the credentials for a registry domain (a later `login`).
    pub fn set_credentials(&mut self, domain: &str, creds: &Credentials) {
        let mut entry = Map::new();
        entry.insert(
            "auth".into(),
            Value::String(STANDARD.encode(format!("{}:{}", creds.username, creds.password))),
        );
        if let Some(t) = &creds.identity_token {
            entry.insert("identitytoken".into(), Value::String(t.clone()));
        }
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(a) = auths {
            a.insert(config_key(domain), Value::Object(entry));
        }
    }

    /// Removes a registry's credentials (a later `logout`); whether there
    /// were any.
    pub fn remove_credentials(&mut self, domain: &str) -> bool {
        let key = config_key(domain);
        self.doc
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .is_some_and(|a| a.remove(&key).is_some())
    }

    /// Writes the file: temp (0600) in the same directory, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let mut body = serde_json::to_vec_pretty(&self.doc)
            .map_err(|e| Error::io("encode config", std::io::Error::other(e)))?;
        body.push(b'\n');
        let name = path
            .file_name()
            .map_or("config.json".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(format!("write {}", path.display()), e)
        })
    }
}

fn decode_auth(auth: &str) -> Result<(String, String)> {
    let bad = |reason: &str| Error::InvalidConfig {
        path: "auths".into(),
        reason: reason.into(),
    };
    let bytes = STANDARD
        .decode(auth.trim())
        .map_err(|_| bad("auth is not base64"))?;
    let s = String::from_utf8(bytes).map_err(|_| bad("auth is not UTF-8"))?;
    let s = s.trim_end_matches('\0');
    let (user, pass) = s
        .split_once(':')
        .ok_or_else(|| bad("Invalid auth configuration file"))?;
    Ok((user.to_string(), pass.to_string()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn bearer_challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }
        );
        // Commas inside quotes, spaces around separators, escapes, case.
        let c = Challenge::parse(
            r#"bearer Realm = "http://127.0.0.1:5001/auth?a=1" , scope="repository:a/b:pull,push", service=reg\ x"#,
        );
        assert!(c.is_err(), "a stray word after a value is refused: {c:?}");
        let c = Challenge::parse(
            r#"bearer Realm = "http://127.0.0.1:5001/auth?a=1" , scope="repository:a/b:pull,push", service="a\"b""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:5001/auth?a=1".into(),
                service: Some("a\"b".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        let c = Challenge::parse("Bearer realm=https://auth.example/token").unwrap();
        assert!(
            matches!(c, Challenge::Bearer { ref realm, service: None, .. } if realm == "https://auth.example/token")
        );
    }

    #[test]
    fn basic_and_bad_challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap(),
            Challenge::Basic {
                realm: Some("Registry Realm".into())
            }
        );
        assert_eq!(
            Challenge::parse("Basic").unwrap(),
            Challenge::Basic { realm: None }
        );
        for bad in [
            "",
            "Bearer",
            r#"Bearer service="x""#,
            r#"Bearer realm="unterminated"#,
            "Bearer realm",
            r#"Negotiate realm="x""#,
        ] {
            assert!(
                matches!(Challenge::parse(bad), Err(Error::InvalidChallenge { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn token_requests() {
        let scopes = vec![repository_scope("library/busybox", false)];
        assert_eq!(scopes[0], "repository:library/busybox:pull");
        assert_eq!(repository_scope("a/b", true), "repository:a/b:pull,push");
        assert_eq!(
            token_url("https://auth.docker.io/token", Some("registry.docker.io"), &scopes, None),
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fbusybox%3Apull"
        );
        assert_eq!(
            token_url(
                "http://h/auth?x=1",
                None,
                &["a b".into(), "c".into()],
                Some("me")
            ),
            "http://h/auth?x=1&scope=a+b&scope=c&account=me"
        );
        assert_eq!(
            token_url("http://h/auth", Some(""), &[], None),
            "http://h/auth"
        );
        assert_eq!(
            refresh_token_form(Some("reg"), &["s1".into(), "s2".into()], "rt"),
            "scope=s1+s2&service=reg&client_id=docker&grant_type=refresh_token&refresh_token=rt"
        );
    }

    #[test]
    fn token_responses() {
        let t =
            Token::parse(br#"{"token":"abc","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}"#)
                .unwrap();
        assert_eq!(t.token, "abc");
        assert_eq!(t.expires_in, 300);
        assert_eq!(t.issued_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        let t =
            Token::parse(br#"{"access_token":"xyz","token":"old","refresh_token":"r"}"#).unwrap();
        assert_eq!(t.token, "xyz");
        assert_eq!(t.expires_in, MIN_TOKEN_LIFETIME_SECS);
        assert_eq!(t.refresh_token.as_deref(), Some("r"));
        assert_eq!(
            Token::parse(br#"{"token":"a","expires_in":-5}"#)
                .unwrap()
                .expires_in,
            60
        );
        assert!(matches!(
            Token::parse(br#"{"expires_in":300}"#),
            Err(Error::InvalidToken(_))
        ));
        assert!(matches!(
            Token::parse(b"<html>"),
            Err(Error::InvalidToken(_))
        ));
    }

    #[test]
    fn reads_credentials_as_docker_keys_them() {
        let cfg = DockerConfig::parse(
            br#"{
              "auths": {
                "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
                "localhost:5000": {"auth": "bG9jYWw6cDpwYXNz", "identitytoken": "tok"},
                "https://old.example.com/v1/": {"username": "u", "password": "p"},
                "bad.example": {"auth": "!!!"}
              },
              "psFormat": "table {{.ID}}"
            }"#,
        )
        .unwrap();
        let hub = cfg.credentials("docker.io").unwrap().unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("hub", "secret")
        );
        assert_eq!(cfg.credentials("registry-1.docker.io").unwrap(), Some(hub));
        let local = cfg.credentials("localhost:5000").unwrap().unwrap();
        assert_eq!(local.username, "local");
        assert_eq!(local.password, "p:pass");
        assert_eq!(local.identity_token.as_deref(), Some("tok"));
        let old = cfg.credentials("old.example.com").unwrap().unwrap();
        assert_eq!((old.username.as_str(), old.password.as_str()), ("u", "p"));
        assert_eq!(cfg.credentials("localhost:5001").unwrap(), None);
        assert!(matches!(
            cfg.credentials("bad.example"),
            Err(Error::InvalidConfig { .. })
        ));
        assert_eq!(
            DockerConfig::default().credentials("docker.io").unwrap(),
            None
        );
    }

    #[test]
    fn writes_credentials_privately_and_keeps_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_config_path(None, dir.path());
        assert_eq!(path, dir.path().join(".docker/config.json"));
        assert_eq!(DockerConfig::load(&path).unwrap(), DockerConfig::default());

        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"psFormat": "x", "auths": {"other:1": {"auth": "YTpi"}}}"#,
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut cfg = DockerConfig::load(&path).unwrap();
        let creds = Credentials {
            username: "me".into(),
            password: "pw".into(),
            identity_token: None,
        };
        cfg.set_credentials("docker.io", &creds);
        cfg.save(&path).unwrap();

        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["psFormat"], "x");
        assert_eq!(doc["auths"][DOCKER_HUB_KEY]["auth"], "bWU6cHc=");
        let again = DockerConfig::load(&path).unwrap();
        assert_eq!(again.credentials("docker.io").unwrap(), Some(creds));
        assert_eq!(again.credentials("other:1").unwrap().unwrap().username, "a");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("config.json")]);

        let mut cfg = again;
        assert!(cfg.remove_credentials("docker.io"));
        assert!(!cfg.remove_credentials("docker.io"));
        assert_eq!(cfg.credentials("docker.io").unwrap(), None);
    }

    #[test]
    fn config_paths_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            default_config_path(Some(Path::new("/etc/dc")), dir.path()),
            PathBuf::from("/etc/dc/config.json")
        );
        let p = dir.path().join("config.json");
        fs::write(&p, "[1]").unwrap();
        assert!(matches!(
            DockerConfig::load(&p),
            Err(Error::InvalidConfig { .. })
        ));
        fs::write(&p, "  \n").unwrap();
        assert_eq!(DockerConfig::load(&p).unwrap(), DockerConfig::default());
    }
}
