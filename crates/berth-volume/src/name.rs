//! Volume names as dockerd's local driver accepts them: the name is a
//! directory under the volumes root, so nothing that could leave it.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};

/// dockerd's `RestrictedNameChars`, shown in its message.
const NAME_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    // A constant pattern: it compiles.
    Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$").unwrap_or_else(|_| unreachable!())
});

/// dockerd's check and words, short names first.
pub fn validate(name: &str) -> Result<()> {
    if name.len() == 1 {
        return Err(Error::Invalid(
            "volume name is too short, names should be at least two alphanumeric characters".into(),
        ));
    }
    if !NAME.is_match(name) {
        return Err(Error::Invalid(format!(
            "{name:?} includes invalid characters for a local volume name, only {NAME_CHARS:?} are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["ab", "a1", "my-vol_1.x", "0v"] {
            validate(ok).unwrap();
        }
        assert_eq!(
            validate("a").unwrap_err().to_string(),
            "volume name is too short, names should be at least two alphanumeric characters"
        );
        for bad in ["", "-a", ".x", "a/b", "..", "a b", "/abs", "é1"] {
            let e = validate(bad).unwrap_err().to_string();
            assert!(e.contains("includes invalid characters"), "{bad}: {e}");
        }
        assert_eq!(
            validate("a/b").unwrap_err().to_string(),
            "\"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
    }
}
