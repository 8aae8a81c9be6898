//! The API version both ends speak: the daemon strips `/vX.Y/` prefixes and
//! refuses versions it does not serve; the client negotiates with the
//! daemon's `Api-Version` header.

use crate::Error;

/// The API version served and spoken (the bollard models' version).
pub const API_VERSION: &str = "1.47";
/// The oldest version the daemon accepts.
pub const MIN_API_VERSION: &str = "1.24";
/// What a client assumes when the daemon's ping carries no `Api-Version`.
pub const FALLBACK_API_VERSION: &str = "1.24";

/// The API version a request was made with (the advertised one if unprefixed).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub fn current() -> ApiVersion {
        ApiVersion::parse(API_VERSION).unwrap_or(ApiVersion(1, 47))
    }

    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.split_once('.')?;
        Some(ApiVersion(major.parse().ok()?, minor.parse().ok()?))
    }

    pub fn at_least(self, major: u32, minor: u32) -> bool {
        self >= ApiVersion(major, minor)
    }
}

/// Splits `/v1.41/containers/json` into (version, `/containers/json`).
/// Versions outside the supported range are refused like docker does.
pub fn strip_prefix(path: &str) -> Result<(ApiVersion, &str), Error> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((ApiVersion::current(), path));
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(v) = ApiVersion::parse(ver) else {
        return Ok((ApiVersion::current(), path));
    };
    let max = ApiVersion::current();
    let min = ApiVersion::parse(MIN_API_VERSION).unwrap_or(ApiVersion(1, 24));
    if v > max {
        return Err(Error::invalid(format!(
            "client version {ver} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if v < min {
        return Err(Error::invalid(format!(
            "client version {ver} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok((v, tail))
}

/// The version a client uses: min(ours, the server's), or the fallback when
/// the server sent none.
pub fn negotiate(server: Option<&str>) -> String {
    let Some(server) = server.filter(|s| !s.is_empty()) else {
        return FALLBACK_API_VERSION.to_string();
    };
    if version_less(server, API_VERSION) {
        server.to_string()
    } else {
        API_VERSION.to_string()
    }
}

/// Numeric comparison of dotted versions (`1.9` < `1.41`).
pub fn version_less(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (a, b) = (parse(a), parse(b));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x < y;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_checks_versions() {
        let (v, p) = strip_prefix("/v1.41/containers/json").unwrap();
        assert_eq!(v, ApiVersion(1, 41));
        assert_eq!(p, "/containers/json");
        let (v, p) = strip_prefix("/_ping").unwrap();
        assert_eq!(v, ApiVersion::current());
        assert_eq!(p, "/_ping");
        assert!(strip_prefix("/v1.99/info").is_err());
        assert!(strip_prefix("/v1.12/info").is_err());
        // Not a version: a path that merely starts with v.
        assert_eq!(strip_prefix("/volumes").unwrap().1, "/volumes");
        assert!(ApiVersion(1, 47).at_least(1, 42));
        assert!(!ApiVersion(1, 41).at_least(1, 42));
    }

    #[test]
    fn client_negotiation() {
        assert_eq!(negotiate(Some("1.41")), "1.41");
        assert_eq!(negotiate(Some("1.47")), "1.47");
        assert_eq!(negotiate(Some("1.99")), "1.47");
        assert_eq!(negotiate(Some("1.9")), "1.9");
        assert_eq!(negotiate(None), "1.24");
        assert_eq!(negotiate(Some("")), "1.24");
        assert!(version_less("1.9", "1.41"));
        assert!(!version_less("1.41", "1.41"));
    }
}
