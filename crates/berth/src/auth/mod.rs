//! Registry credentials the way the docker CLI keeps and sends them: the
//! entries of docker's `config.json` (`config.rs`), the key a registry's
//! entry is stored under, and the `X-Registry-Auth` header made from one.
//!
//! This is the CLI's own small copy of what the daemon's registry crate also
//! reads: depending on that crate would pull the daemon's image store and
//! server stack into the CLI, and the two jobs differ (the daemon only reads
//! credentials it is handed; the CLI reads and writes the file).

pub mod config;
pub mod helper;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::reference::Reference;

/// The key Docker Hub's credentials are stored under, and the address
/// `login` sends for it.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// docker's `registry.AuthConfig`: what `X-Registry-Auth` and `POST /auth`
/// carry. Field order and the empty fields left out are Go's, so the header
/// is byte for byte the docker CLI's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

impl AuthConfig {
    /// The `X-Registry-Auth` value: the JSON in URL-safe base64 with
    /// padding (Go's `base64.URLEncoding`); `e30=` (`{}`) when anonymous.
    pub fn header(&self) -> String {
        URL_SAFE.encode(go_json(self))
    }
}

/// JSON as Go's `json.Marshal` writes it.
pub fn go_json<T: Serialize>(value: &T) -> String {
    go_escape(&serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string()))
}

/// Go's JSON encoder escapes `<`, `>`, `&`, U+2028 and U+2029; serde does
/// not. In JSON text those characters can only occur inside strings, so
/// replacing them afterwards is exact.
pub fn go_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The config.json key for a registry domain: Docker Hub's index URL for
/// `docker.io`, the domain itself otherwise.
pub fn config_key(domain: &str) -> String {
    match domain {
        "docker.io" | "index.docker.io" => INDEX_SERVER.to_string(),
        other => other.to_string(),
    }
}

/// The registry domain of a reference: `docker.io`, `127.0.0.1:5000`.
pub fn domain(r: &Reference) -> String {
    let name = r.name();
    name.split_once('/')
        .map_or(name.as_str(), |(d, _)| d)
        .to_string()
}

/// `https://host:port/v2/` -> `host:port` (docker's `ConvertToHostname`):
/// how `login` and `logout` name a registry, and how keys written as URLs
/// by older clients are matched.
pub fn convert_to_hostname(addr: &str) -> String {
    let rest = match addr.split_once("://") {
        Some((_, rest)) => rest,
        None => addr,
    };
    rest.split('/').next().unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain_of(s: &str) -> String {
        domain(&Reference::parse(s).unwrap())
    }

    #[test]
    fn registry_keys() {
        assert_eq!(domain_of("busybox"), "docker.io");
        assert_eq!(domain_of("index.docker.io/library/busybox:1"), "docker.io");
        let digested = format!("127.0.0.1:5000/a/b@sha256:{}", "a".repeat(64));
        assert_eq!(domain_of(&digested), "127.0.0.1:5000");
        assert_eq!(config_key(&domain_of("busybox")), INDEX_SERVER);
        assert_eq!(config_key(&domain_of("me/app")), INDEX_SERVER);
        assert_eq!(config_key(&domain_of("localhost/app")), "localhost");
        assert_eq!(
            config_key(&domain_of("reg.example:5000/app")),
            "reg.example:5000"
        );
    }

    #[test]
    fn hostnames_of_addresses() {
        assert_eq!(
            convert_to_hostname("http://127.0.0.1:5055/v2/"),
            "127.0.0.1:5055"
        );
        assert_eq!(
            convert_to_hostname("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(
            convert_to_hostname("reg.example:5000/x"),
            "reg.example:5000"
        );
        assert_eq!(convert_to_hostname("reg.example"), "reg.example");
    }

    #[test]
    fn header_is_padded_url_safe_base64_of_go_json() {
        assert_eq!(AuthConfig::default().header(), "e30=");
        let a = AuthConfig {
            username: "u".into(),
            password: "p:w".into(),
            serveraddress: "127.0.0.1:5000".into(),
            ..Default::default()
        };
        // What docker 28 sends for the same entry.
        assert_eq!(
            a.header(),
            "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InA6dyIsInNlcnZlcmFkZHJlc3MiOiIxMjcuMC4wLjE6NTAwMCJ9"
        );
        let hub = AuthConfig {
            username: "hub".into(),
            password: "s".into(),
            serveraddress: INDEX_SERVER.into(),
            identitytoken: "tok".into(),
            ..Default::default()
        };
        assert_eq!(
            hub.header(),
            "eyJ1c2VybmFtZSI6Imh1YiIsInBhc3N3b3JkIjoicyIsInNlcnZlcmFkZHJlc3MiOiJodHRwczovL2luZGV4LmRvY2tlci5pby92MS8iLCJpZGVudGl0eXRva2VuIjoidG9rIn0="
        );
        // URL-safe (`_` where standard base64 has `/`) and `>` escaped as
        // Go does: docker 28's header for the same entry.
        let odd = AuthConfig {
            username: "u".into(),
            password: "??>>".into(),
            serveraddress: "127.0.0.1:1".into(),
            ..Default::default()
        };
        assert_eq!(
            odd.header(),
            "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6Ij8_XHUwMDNlXHUwMDNlIiwic2VydmVyYWRkcmVzcyI6IjEyNy4wLjAuMToxIn0="
        );
    }
}
