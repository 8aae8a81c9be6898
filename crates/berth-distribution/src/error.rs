//! The registry client's error type. Messages follow dockerd's where the
//! user sees them (a schema 1 image, no manifest for the platform).

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An insecure-registry entry that is neither `host[:port]` nor a CIDR.
    #[error("invalid insecure registry entry {0:?}")]
    InvalidInsecureEntry(String),
    #[error("manifest too large: {size} bytes, the limit is {limit}")]
    ManifestTooLarge { size: usize, limit: usize },
    /// Holds the reference once the caller knows it, for dockerd's
    /// suggestion to the image's author.
    #[error("{}", schema1_message(.reference.as_deref()))]
    Schema1 { reference: Option<String> },
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingManifest(String),
    #[error("manifest digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("unsupported layer media type {0:?}")]
    UnsupportedLayer(String),
    #[error("invalid WWW-Authenticate header {header:?}: {reason}")]
    InvalidChallenge { header: String, reason: String },
    #[error("invalid token response: {0}")]
    InvalidToken(String),
    /// A transport failure: connecting, TLS, a malformed or cut answer.
    /// Worth trying the next endpoint (mirror, then http where allowed).
    #[error("{0}")]
    Http(String),
    /// Certificates or keys for TLS that cannot be used.
    #[error("TLS setup for {host}: {reason}")]
    Tls { host: String, reason: String },
    /// A mirror that is not a base URL.
    #[error("invalid registry mirror {0:?}")]
    InvalidMirror(String),
    /// 401, or credentials the registry or its token server refused.
    #[error("{0}")]
    Unauthorized(RegistryError),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Denied(RegistryError),
    /// No such manifest, blob, repository or upload.
    #[error("{0}")]
    NotFound(RegistryError),
    /// The registry refused the request as malformed (a bad digest, name,
    /// manifest, or a manifest naming blobs it does not have).
    #[error("{0}")]
    Invalid(RegistryError),
    /// Any other answer the client cannot use (5xx, 429, a wrong 2xx).
    #[error("{url}: unexpected status {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("blob {digest}: {reason}")]
    BadBlob { digest: String, reason: String },
    /// A registry asked for Basic auth and there is no password to send.
    #[error("no basic auth credentials")]
    NoBasicCredentials,
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a registry said when it refused a request: the status, the first
/// error code of its JSON body (`MANIFEST_UNKNOWN`; empty when there was
/// none) and the whole answer worded as distribution's client words it
/// (`manifest unknown: manifest unknown`), which is what dockerd shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl RegistryError {
    /// A refusal the client words itself (no body to quote).
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> RegistryError {
        RegistryError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl Error {
    /// Names the reference in a schema 1 refusal, as dockerd does.
    pub fn with_reference(self, reference: &str) -> Error {
        match self {
            Error::Schema1 { .. } => Error::Schema1 {
                reference: Some(reference.to_string()),
            },
            other => other,
        }
    }
}

fn schema1_message(reference: Option<&str>) -> String {
    let mut msg = String::from(
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed.",
    );
    if let Some(r) = reference {
        msg.push_str(&format!(
            " Suggest the author of {r} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2."
        ));
    }
    msg.push_str(" More information at https://docs.docker.com/go/deprecated-image-specs/");
    msg
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl Error {
    /// The error for a refused request: by the body's error code first,
    /// then by the status. `body` is what was read of the answer.
    pub fn from_response(url: &str, status: u16, body: &[u8]) -> Error {
        let errors = registry_errors(body);
        let code = errors.first().map(|e| e.0.clone()).unwrap_or_default();
        let message = if errors.is_empty() {
            // Token servers answer `{"details": "..."}` (docker's client
            // reads that field too); others a bare message.
            let text = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    ["details", "message", "error_description", "error"]
                        .iter()
                        .find_map(|k| v.get(*k).and_then(|m| m.as_str()).map(str::to_string))
                })
                .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
            match (status, text.is_empty()) {
                (401, true) => "unauthorized: authentication required".to_string(),
                (401, false) => format!("unauthorized: {text}"),
                (403, true) => "denied: requested access to the resource is denied".to_string(),
                (_, true) => status_text(status),
                (_, false) => text,
            }
        } else {
            render(&errors)
        };
        let refusal = RegistryError {
            status,
            code: code.clone(),
            message,
        };
        let by_code = match code.as_str() {
            "UNAUTHORIZED" => Some(Error::Unauthorized(refusal.clone())),
            "DENIED" => Some(Error::Denied(refusal.clone())),
            "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN" | "NAME_UNKNOWN" | "BLOB_UPLOAD_UNKNOWN" => {
                Some(Error::NotFound(refusal.clone()))
            }
            c if c.ends_with("_INVALID") || c == "MANIFEST_BLOB_UNKNOWN" || c == "UNSUPPORTED" => {
                Some(Error::Invalid(refusal.clone()))
            }
            _ => None,
        };
        by_code.unwrap_or(match status {
            401 => Error::Unauthorized(refusal),
            403 => Error::Denied(refusal),
            404 => Error::NotFound(refusal),
            400 | 405 | 413 | 416 => Error::Invalid(refusal),
            _ => Error::Status {
                url: url.to_string(),
                status,
                body: refusal.message,
            },
        })
    }
}

/// `(code, message)` of each error in a registry's JSON error body.
fn registry_errors(body: &[u8]) -> Vec<(String, String)> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let Some(errors) = v.get("errors").and_then(|e| e.as_array()) else {
        return Vec::new();
    };
    let field = |e: &serde_json::Value, k: &str| {
        e.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    errors
        .iter()
        .map(|e| (field(e, "code"), field(e, "message")))
        .filter(|(c, m)| !c.is_empty() || !m.is_empty())
        .collect()
}

/// distribution's wording: the code in lower-case words, then the message;
/// several errors one per line after `errors:`.
fn render(errors: &[(String, String)]) -> String {
    let one = |(code, message): &(String, String)| {
        let words = code.to_ascii_lowercase().replace('_', " ");
        match (words.is_empty(), message.is_empty()) {
            (true, _) => message.clone(),
            (false, true) => words,
            (false, false) => format!("{words}: {message}"),
        }
    };
    match errors {
        [e] => one(e),
        many => {
            let mut s = String::from("errors:\n");
            for e in many {
                s.push_str(&one(e));
                s.push('\n');
            }
            s
        }
    }
}

/// `401 Unauthorized`, as Go's http.Status words a status.
pub(crate) fn status_text(status: u16) -> String {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_servers_refusal_is_quoted_by_its_details() {
        let body = br#"{"details":"incorrect username or password"}"#;
        let e = Error::from_response("u", 401, body);
        assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "unauthorized: incorrect username or password"
        );
    }

    #[test]
    fn registry_error_bodies_become_kinds_with_distributions_words() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        let e = Error::from_response("u", 404, body);
        assert!(
            matches!(e, Error::NotFound(ref r) if r.code == "MANIFEST_UNKNOWN"),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "manifest unknown: manifest unknown");

        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;
        let e = Error::from_response("u", 401, body);
        assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
        assert_eq!(e.to_string(), "unauthorized: authentication required");

        let body = br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#;
        let e = Error::from_response("u", 403, body);
        assert_eq!(
            e.to_string(),
            "denied: requested access to the resource is denied"
        );
        assert!(matches!(e, Error::Denied(_)));

        let body = br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"},{"code":"DIGEST_INVALID","message":"bad"}]}"#;
        let e = Error::from_response("u", 400, body);
        assert!(matches!(e, Error::Invalid(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "errors:\nmanifest blob unknown: blob unknown to registry\ndigest invalid: bad\n"
        );

        // No JSON: the status decides, the text is kept.
        assert!(
            matches!(Error::from_response("u", 404, b""), Error::NotFound(ref r) if r.message == "404 Not Found")
        );
        let e = Error::from_response("u", 401, b"");
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        let e = Error::from_response("http://r/v2/", 503, b"busy");
        assert!(matches!(e, Error::Status { status: 503, .. }), "{e:?}");
        assert_eq!(e.to_string(), "http://r/v2/: unexpected status 503: busy");
        // A code the client does not know: the status decides.
        let e = Error::from_response(
            "u",
            429,
            br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
        );
        assert!(
            matches!(e, Error::Status { status: 429, ref body, .. } if body == "toomanyrequests: slow down"),
            "{e:?}"
        );
        assert_eq!(status_text(401), "401 Unauthorized");
    }
}
