//! Basic authentication against an Apache htpasswd file of bcrypt entries
//! (`user:$2y$...`), as distribution's htpasswd access controller does:
//! every request, `/v2/` included, needs a listed user and its password.
//!
//! bcrypt is slow on purpose, so a password that once matched is kept as
//! its SHA-256 and later requests compare that instead; a wrong password
//! still costs a bcrypt round (run off the async threads).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error::{Code, Error, Result};

/// The challenge of a 401.
const CHALLENGE: &str = "Basic realm=\"berth-registry\"";

#[derive(Debug)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// user -> SHA-256 of the password that last matched.
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

impl Htpasswd {
    pub fn load(path: &Path) -> Result<Htpasswd> {
        let text = std::fs::read_to_string(path)
            .map_err(Error::io(format!("read htpasswd file {}", path.display())))?;
        Htpasswd::parse(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> std::result::Result<Htpasswd, String> {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("line {}: not user:hash", n + 1))?;
            if !["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p)) {
                return Err(format!(
                    "line {}: only bcrypt entries are supported (htpasswd -B)",
                    n + 1
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the request's Basic credentials name a user with the right
    /// password.
    pub async fn allows(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        let Some(hash) = self.users.get(&user).cloned() else {
            return false;
        };
        let fingerprint: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        if let Ok(v) = self.verified.lock() {
            if v.get(&user) == Some(&fingerprint) {
                return true;
            }
        }
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or(false);
        if ok {
            if let Ok(mut v) = self.verified.lock() {
                v.insert(user, fingerprint);
            }
        }
        ok
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The 401 that asks for a user name and password.
pub(crate) fn challenge() -> Response {
    let mut resp = Error::spec(Code::Unauthorized, "authentication required").into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(CHALLENGE),
    );
    resp
}
