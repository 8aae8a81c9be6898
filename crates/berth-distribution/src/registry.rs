//! Where a reference lives: the registry host to dial, the repository path
//! to ask for, the tag or digest, and whether plain http may be used.
//!
//! Docker Hub is spelt `docker.io` in references but served from
//! `registry-1.docker.io`; its one-word names are already `library/<name>`
//! after normalisation. Plain http is allowed only for loopback hosts and
//! for the operator's insecure list (host[:port] entries or CIDRs of IP
//! literals; names are not resolved here, so a CIDR never matches a name).

use std::net::IpAddr;

use berth_reference::{Reference, DEFAULT_DOMAIN, DEFAULT_TAG};

use crate::error::{Error, Result};

/// The host that serves Docker Hub's API.
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";

/// What to ask a registry for: a tag or a content digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tag(String),
    Digest(String),
}

impl Target {
    /// The `<reference>` part of `/v2/<name>/manifests/<reference>`.
    pub fn as_str(&self) -> &str {
        match self {
            Target::Tag(t) | Target::Digest(t) => t,
        }
    }
}

/// A reference resolved to a registry endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The domain as the reference names it (`docker.io`, `localhost:5000`);
    /// credentials and insecure entries are keyed by it.
    pub domain: String,
    /// The host[:port] to dial.
    pub host: String,
    /// `library/busybox`, `ns/name`.
    pub repository: String,
    /// A digest wins over a tag, as docker pulls `name:tag@digest` by digest.
    pub target: Target,
}

impl Location {
    pub fn from_reference(r: &Reference) -> Location {
        let name = r.name();
        // A normalised name always has a domain before its first slash.
        let (domain, repository) = name.split_once('/').unwrap_or((DEFAULT_DOMAIN, &name));
        let host = if domain == DEFAULT_DOMAIN {
            DOCKER_HUB_HOST.to_string()
        } else {
            domain.to_string()
        };
        let target = match (r.digest(), r.tag()) {
            (Some(d), _) => Target::Digest(d.to_string()),
            (None, Some(t)) => Target::Tag(t.to_string()),
            (None, None) => Target::Tag(DEFAULT_TAG.to_string()),
        };
        Location {
            domain: domain.to_string(),
            host,
            repository: repository.to_string(),
            target,
        }
    }

    /// A registry without a repository, for `login`: `docker.io` (or
    /// `index.docker.io`, or Docker Hub's API host) or a `host[:port]`.
    pub fn registry(domain: &str) -> Location {
        let hub = matches!(domain, "index.docker.io" | DOCKER_HUB_HOST) || domain == DEFAULT_DOMAIN;
        let (domain, host) = if hub {
            (DEFAULT_DOMAIN, DOCKER_HUB_HOST)
        } else {
            (domain, domain)
        };
        Location {
            domain: domain.to_string(),
            host: host.to_string(),
            repository: String::new(),
            target: Target::Tag(DEFAULT_TAG.to_string()),
        }
    }

    /// `/v2/<repository>/manifests/<tag-or-digest>`.
    pub fn manifest_path(&self) -> String {
        format!("/v2/{}/manifests/{}", self.repository, self.target.as_str())
    }

    /// `/v2/<repository>/blobs/<digest>`.
    pub fn blob_path(&self, digest: &str) -> String {
        format!("/v2/{}/blobs/{}", self.repository, digest)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Http,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Host(String),
    Cidr { net: IpAddr, prefix: u8 },
}

/// The operator's insecure registries, as `--insecure-registry` takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsecureRegistries {
    entries: Vec<Entry>,
}

impl InsecureRegistries {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<InsecureRegistries> {
        let entries = entries
            .iter()
            .map(|e| parse_entry(e.as_ref()))
            .collect::<Result<_>>()?;
        Ok(InsecureRegistries { entries })
    }

    /// Whether `host` (host[:port], IPv6 in brackets) may be reached over
    /// plain http.
    pub fn allows_http(&self, host: &str) -> bool {
        let hostname = strip_port(host);
        let ip = hostname
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        if hostname == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.entries.iter().any(|e| match e {
            Entry::Host(h) => h == host,
            Entry::Cidr { net, prefix } => ip.is_some_and(|ip| in_cidr(ip, *net, *prefix)),
        })
    }

    /// Schemes to try in order: https always first, then http where allowed
    /// (docker falls back the same way for insecure registries).
    pub fn schemes(&self, host: &str) -> Vec<Scheme> {
        if self.allows_http(host) {
            vec![Scheme::Https, Scheme::Http]
        } else {
            vec![Scheme::Https]
        }
    }
}

/// `https://host[:port]`: the base every `/v2/...` path is joined to.
pub fn base_url(scheme: Scheme, host: &str) -> String {
    format!("{}://{}", scheme.as_str(), host)
}

fn parse_entry(s: &str) -> Result<Entry> {
    let bad = || Error::InvalidInsecureEntry(s.to_string());
    let s = s.trim();
    if s.is_empty() || s.contains("://") {
        return Err(bad());
    }
    if let Some((net, prefix)) = s.split_once('/') {
        let net: IpAddr = net.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        return Ok(Entry::Cidr { net, prefix });
    }
    Ok(Entry::Host(s.to_string()))
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 2]);
    }
    match host.rsplit_once(':') {
        // Two colons or more without brackets: a bare IPv6 address.
        Some((h, _)) if !h.contains(':') => h,
        _ => host,
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(s: &str) -> Location {
        Location::from_reference(&Reference::parse(s).unwrap())
    }

    #[test]
    fn docker_hub_names() {
        let l = loc("busybox");
        assert_eq!(l.domain, "docker.io");
        assert_eq!(l.host, "registry-1.docker.io");
        assert_eq!(l.repository, "library/busybox");
        assert_eq!(l.target, Target::Tag("latest".into()));
        assert_eq!(l.manifest_path(), "/v2/library/busybox/manifests/latest");

        let l = loc("index.docker.io/user/app:1.0");
        assert_eq!(l.host, "registry-1.docker.io");
        assert_eq!(l.repository, "user/app");
        assert_eq!(l.target, Target::Tag("1.0".into()));

        assert_eq!(
            loc("docker.io/library/alpine:3").repository,
            "library/alpine"
        );
    }

    #[test]
    fn bare_registries_for_login() {
        for hub in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            let l = Location::registry(hub);
            assert_eq!(
                (l.domain.as_str(), l.host.as_str()),
                ("docker.io", DOCKER_HUB_HOST)
            );
            assert!(l.repository.is_empty());
        }
        let l = Location::registry("localhost:5000");
        assert_eq!(
            (l.domain.as_str(), l.host.as_str()),
            ("localhost:5000", "localhost:5000")
        );
    }

    #[test]
    fn private_registries_and_digests() {
        let l = loc("localhost:5000/ns/sub/name:t");
        assert_eq!(l.domain, "localhost:5000");
        assert_eq!(l.host, "localhost:5000");
        assert_eq!(l.repository, "ns/sub/name");
        assert_eq!(l.target, Target::Tag("t".into()));

        let d = format!("sha256:{}", "a".repeat(64));
        let l = loc(&format!("example.com/name:tag@{d}"));
        assert_eq!(l.target, Target::Digest(d.clone()));
        assert_eq!(l.repository, "name");
        assert_eq!(l.manifest_path(), format!("/v2/name/manifests/{d}"));
        assert_eq!(l.blob_path(&d), format!("/v2/name/blobs/{d}"));
    }

    #[test]
    fn loopback_is_always_allowed_plain_http() {
        let none = InsecureRegistries::default();
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.8.7",
            "[::1]:5000",
            "::1",
        ] {
            assert!(none.allows_http(h), "{h}");
        }
        for h in [
            "registry-1.docker.io",
            "example.com:5000",
            "10.0.0.1:5000",
            "[fe80::1]:5000",
        ] {
            assert!(!none.allows_http(h), "{h}");
        }
        assert_eq!(none.schemes("example.com"), vec![Scheme::Https]);
        assert_eq!(
            none.schemes("localhost:5000"),
            vec![Scheme::Https, Scheme::Http]
        );
    }

    #[test]
    fn insecure_entries_by_host_or_cidr() {
        let list = InsecureRegistries::parse(&["myreg:5000", "10.1.0.0/16", "fd00::/8"]).unwrap();
        assert!(list.allows_http("myreg:5000"));
        assert!(!list.allows_http("myreg:5001"));
        assert!(!list.allows_http("myreg"));
        assert!(list.allows_http("10.1.2.3:5000"));
        assert!(list.allows_http("10.1.255.255"));
        assert!(!list.allows_http("10.2.0.1"));
        assert!(list.allows_http("[fd12::1]:443"));
        assert!(!list.allows_http("[fe80::1]:443"));
        let all = InsecureRegistries::parse(&["0.0.0.0/0"]).unwrap();
        assert!(all.allows_http("8.8.8.8"));
        assert!(!all.allows_http("example.com"));
        for bad in ["", "http://x", "10.0.0.0/33", "nonsense/8"] {
            assert!(InsecureRegistries::parse(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url(Scheme::Https, "registry-1.docker.io"),
            "https://registry-1.docker.io"
        );
        assert_eq!(base_url(Scheme::Http, "[::1]:5000"), "http://[::1]:5000");
    }
}
