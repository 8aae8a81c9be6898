//! `/vX.Y/` prefixes: strip them before routing and remember the version.

use berth_engine::system::{API_VERSION, MIN_API_VERSION};
use berth_engine::Error;

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
}
