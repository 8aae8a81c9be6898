//! Image references as the client reads them: the parser the daemon uses
//! too (`berth-reference`), plus what only a client needs.

pub use berth_reference::Reference;

/// The `tag` query value for `POST /images/create`: the digest if there is
/// one, else the tag (default `latest`).
pub fn api_tag(r: &Reference) -> String {
    r.digest()
        .or(r.tag())
        .unwrap_or(berth_reference::DEFAULT_TAG)
        .to_string()
}

/// True for a full or short image/container ID given as hex (used to decide
/// whether an argument can be a named reference).
pub fn is_hex_id(s: &str) -> bool {
    let s = s.strip_prefix("sha256:").unwrap_or(s);
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_tag_prefers_the_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(api_tag(&Reference::parse("busybox").unwrap()), "latest");
        assert_eq!(api_tag(&Reference::parse("busybox:1").unwrap()), "1");
        assert_eq!(
            api_tag(&Reference::parse(&format!("busybox:1@{d}")).unwrap()),
            d
        );
    }

    #[test]
    fn hex_ids() {
        assert!(is_hex_id("abc123"));
        assert!(is_hex_id(&format!("sha256:{}", "f".repeat(64))));
        assert!(!is_hex_id("busybox"));
        assert!(!is_hex_id(""));
    }
}
