//! Docker image references (distribution/reference rules), shared by the
//! daemon's image store and the CLI so that both read a name the same way.
//!
//! `busybox` = `docker.io/library/busybox` (tag `latest` where a tag is
//! needed), `127.0.0.1:5000/x/y:t`, `name@sha256:...`. References are stored
//! normalised and displayed in the familiar form (`busybox:latest`).
//! No dependencies: the CLI stays small.

use std::fmt;

/// The architecture this machine runs, in Go's spelling (`amd64`,
/// `arm64`), as image configs, platforms and `version` name it. Here
/// because both the image store and the CLI need it and both depend on
/// this crate.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
const NAME_MAX: usize = 255;

/// A normalised named reference: domain, path, optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    /// `sha256:<64 hex>`, validated.
    digest: Option<String>,
}

impl Reference {
    /// Parses a reference as the docker CLI/daemon do (ParseNormalizedNamed).
    pub fn parse(s: &str) -> Result<Reference, String> {
        if is_hex64(s) {
            return Err(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            ));
        }
        let (domain, remainder) = split_domain(s);
        let remote = remainder
            .split_once(':')
            .map_or(remainder.as_str(), |(n, _)| n);
        let remote = remote.split_once('@').map_or(remote, |(n, _)| n);
        if remote.to_lowercase() != remote {
            return Err(format!(
                "invalid reference format: repository name ({remote}) must be lowercase"
            ));
        }
        parse_full(&domain, &remainder)
    }

    /// The repository name, normalised: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as docker shows it: `busybox`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Whether neither a tag nor a digest was given.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// Adds `latest` if there is neither tag nor digest (TagNameOnly).
    pub fn with_default_tag(mut self) -> Reference {
        if self.is_name_only() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The same repository with `tag` (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, String> {
        if !valid_tag(tag) {
            return Err("invalid tag format".into());
        }
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// The same repository with `digest` (and no tag).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest.to_string()),
        }
    }

    /// The same reference without its digest (`ps` shows `image:tag`).
    pub fn without_digest(mut self) -> Reference {
        self.digest = None;
        self
    }

    /// The familiar string: `busybox:latest`, `127.0.0.1:5000/x:t`.
    pub fn familiar(&self) -> String {
        self.render(&self.familiar_name())
    }

    fn render(&self, name: &str) -> String {
        let mut s = name.to_string();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The normalised full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&self.name()))
    }
}

/// splitDockerDomain: the first component is a domain if it has a `.` or
/// `:`, is `localhost`, or has upper case letters.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_PREFIX}{remainder}");
    }
    (domain, remainder)
}

fn parse_full(domain: &str, remainder: &str) -> Result<Reference, String> {
    const INVALID: &str = "invalid reference format";
    let (rest, digest) = match remainder.split_once('@') {
        Some((rest, d)) => (rest, Some(parse_digest(d)?)),
        None => (remainder, None),
    };
    // A tag is after the last ':' that follows the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        if !valid_tag(t) {
            return Err(INVALID.into());
        }
    }
    if path.is_empty() {
        return Err(INVALID.into());
    }
    if !valid_domain(domain) || !path.split('/').all(valid_component) {
        return Err(INVALID.into());
    }
    if domain.len() + 1 + path.len() > NAME_MAX {
        return Err(format!(
            "repository name must not be more than {NAME_MAX} characters"
        ));
    }
    Ok(Reference {
        domain: domain.to_string(),
        path: path.to_string(),
        tag: tag.map(str::to_string),
        digest,
    })
}

fn parse_digest(d: &str) -> Result<String, String> {
    let (alg, hex) = d.split_once(':').ok_or("invalid reference format")?;
    let alg_ok = !alg.is_empty()
        && alg.starts_with(|c: char| c.is_ascii_alphabetic())
        && alg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c));
    if !alg_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("invalid reference format".into());
    }
    if alg != "sha256" {
        return Err(format!("unsupported digest algorithm: {alg}"));
    }
    if !is_hex64(hex) {
        return Err("invalid checksum digest length".to_string());
    }
    Ok(d.to_string())
}

/// 64 lowercase hex digits: a full image or container id.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `[\w][\w.-]{0,127}`
pub fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    !t.is_empty()
        && t.len() <= 128
        && t.starts_with(word)
        && t.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        // an alphanumeric run
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        // a separator
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// host[:port], host being DNS labels (letters allowed in any case) or an
/// IPv6 literal in brackets.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip6, after)) => {
                if ip6.is_empty() || !ip6.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                    return false;
                }
                match after {
                    "" => return true,
                    p => match p.strip_prefix(':') {
                        Some(port) => ("x", Some(port)),
                        None => return false,
                    },
                }
            }
            None => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox");
        assert_eq!(norm("busybox:1"), "docker.io/library/busybox:1");
        assert_eq!(norm("user/app:v1.0"), "docker.io/user/app:v1.0");
        assert_eq!(norm("docker.io/busybox"), "docker.io/library/busybox");
        assert_eq!(norm("index.docker.io/x/y"), "docker.io/x/y");
        assert_eq!(norm("127.0.0.1:5000/x/y:t"), "127.0.0.1:5000/x/y:t");
        assert_eq!(norm("localhost/x"), "localhost/x");
        assert_eq!(norm("localhost:5000"), "docker.io/library/localhost:5000");
        assert_eq!(norm("[::1]:5000/x:t"), "[::1]:5000/x:t");
        assert_eq!(norm("a__b/c.d-e---f_g"), "docker.io/a__b/c.d-e---f_g");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            norm(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(
            norm(&format!("busybox:1@{d}")),
            format!("docker.io/library/busybox:1@{d}")
        );
    }

    #[test]
    fn familiar_forms() {
        let f = |s: &str| Reference::parse(s).unwrap().with_default_tag().familiar();
        assert_eq!(f("busybox"), "busybox:latest");
        assert_eq!(f("docker.io/library/busybox:1"), "busybox:1");
        assert_eq!(f("docker.io/library/x/y"), "library/x/y:latest");
        assert_eq!(f("user/app"), "user/app:latest");
        assert_eq!(f("127.0.0.1:5000/x:t"), "127.0.0.1:5000/x:t");
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar_name(),
            "busybox"
        );
    }

    #[test]
    fn rejects_invalid() {
        let err = |s: &str| Reference::parse(s).unwrap_err();
        assert_eq!(
            err("Busybox"),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert!(err(&"a".repeat(64)).contains("64-byte hexadecimal"));
        for bad in [
            "",
            ":tag",
            "busybox:",
            "busybox:-x",
            "-busybox",
            "busy--box-",
            "a/b//c",
            "UPPER.io/",
            "bad host.io/x",
            "busybox@sha256:abc",
            "busybox:bad tag",
            &format!("x:{}", "t".repeat(129)),
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            Reference::parse(&format!("busybox@sha512:{}", "a".repeat(128)))
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(err(&format!("x/{}", "a".repeat(260))).contains("255"));
    }

    #[test]
    fn cli_inputs() {
        for bad in ["bad name", "a:b:c", "x:", "a...b"] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
        let r = Reference::parse("127.0.0.1:5000/apitrace/built:v1").unwrap();
        assert_eq!(r.name(), "127.0.0.1:5000/apitrace/built");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.familiar(), "127.0.0.1:5000/apitrace/built:v1");
        assert!(Reference::parse("a__b-c.d").is_ok());
    }

    #[test]
    fn digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.digest(), Some(d.as_str()));
        assert_eq!(
            r.clone().with_default_tag().familiar(),
            format!("busybox@{d}")
        );
        assert_eq!(r.without_digest().familiar(), "busybox");
        assert!(
            Reference::parse(&format!("busybox@sha256:{}", "a".repeat(40)))
                .unwrap_err()
                .contains("length")
        );
        assert!(Reference::parse("busybox@sha256:ABC").is_err());
        let tagged = Reference::parse("x/y:1").unwrap();
        assert_eq!(
            tagged.with_digest(&d).to_string(),
            format!("docker.io/x/y@{d}")
        );
    }

    #[test]
    fn tags() {
        assert!(valid_tag("latest"));
        assert!(valid_tag("_x.1-2"));
        assert!(valid_tag(&"a".repeat(128)));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(!valid_tag(".x"));
        assert!(!valid_tag("a:b"));
        let r = Reference::parse("busybox:1")
            .unwrap()
            .with_tag("2")
            .unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:2");
        assert!(Reference::parse("x").unwrap().with_tag("-bad").is_err());
    }
}
