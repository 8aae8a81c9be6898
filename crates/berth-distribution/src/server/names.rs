//! The spec's grammar for repository names, tags and digests.

use std::sync::LazyLock;

use berth_store::Digest;
use regex::Regex;

use super::error::{Code, Error, Result};

// Path components never start with `_` or `.`, which is what keeps a name
// inside the repository tree and apart from the store's own `_` directories.
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
        .expect("name regex")
});
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("tag regex"));

/// Upper bound on a whole name, as in the reference registry.
const NAME_MAX: usize = 255;

pub fn check_name(name: &str) -> Result<()> {
    if name.len() > NAME_MAX || !NAME.is_match(name) {
        return Err(Error::spec(
            Code::NameInvalid,
            format!("invalid repository name {name:?}"),
        ));
    }
    Ok(())
}

pub fn is_tag(s: &str) -> bool {
    TAG.is_match(s)
}

pub fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|_| {
        Error::spec(
            Code::DigestInvalid,
            format!("invalid or unsupported digest {s:?}"),
        )
    })
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

pub fn parse_reference(s: &str) -> Result<Reference> {
    if s.contains(':') {
        return parse_digest(s).map(Reference::Digest);
    }
    if is_tag(s) {
        return Ok(Reference::Tag(s.to_string()));
    }
    Err(Error::spec(
        Code::ManifestInvalid,
        format!("invalid tag {s:?}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "library/busybox", "a.b_c__d--e/f0", "x/y/z"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "..",
            "a/../b",
            "a/..",
            "/a",
            "a/",
            "a//b",
            "_a",
            "a/_uploads",
            "a..b",
            "a b",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn references() {
        assert_eq!(
            parse_reference("v1.0").unwrap(),
            Reference::Tag("v1.0".into())
        );
        assert!(parse_reference(".hidden").is_err());
        assert!(parse_reference("sha256:zz").is_err());
        let d = Digest::of_bytes(b"x");
        assert_eq!(parse_reference(d.as_str()).unwrap(), Reference::Digest(d));
    }
}
