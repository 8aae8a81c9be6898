//! The `platform` query parameter (`os[/arch[/variant]]`), read as
//! containerd's `platforms.Parse` reads it, and compared with an image's
//! `os`/`architecture`/`variant`.

use std::fmt;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: String,
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];

const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

pub use berth_reference::host_arch;

/// containerd's spellings: `x86_64` is `amd64`, `aarch64` is `arm64`,
/// arm64's `v8` is no variant, a bare `arm` is `v7`.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let (arch, variant) = (arch.to_lowercase(), variant.to_lowercase());
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                _ => variant,
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

impl Platform {
    /// `linux`, `amd64`, `linux/arm64`, `linux/arm/v6`. Errors are 400s
    /// worded as containerd's.
    pub fn parse(spec: &str) -> Result<Platform> {
        let parts: Vec<&str> = spec.split('/').collect();
        let component_ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        };
        if let Some(bad) = parts.iter().find(|p| !component_ok(p)) {
            return Err(Error::invalid(format!(
                "\"{bad}\" is an invalid component of \"{spec}\": platform specifier component must match \"^[A-Za-z0-9_.-]+$\": invalid argument"
            )));
        }
        let os = parts[0].to_lowercase();
        match parts.as_slice() {
            [one] => {
                if KNOWN_OS.contains(&os.as_str()) {
                    return Ok(Platform {
                        os,
                        architecture: host_arch().into(),
                        variant: String::new(),
                    });
                }
                let (architecture, mut variant) = normalize_arch(one, "");
                if architecture == "arm" && variant == "v7" {
                    variant.clear();
                }
                if KNOWN_ARCH.contains(&architecture.as_str()) {
                    return Ok(Platform {
                        os: "linux".into(),
                        architecture,
                        variant,
                    });
                }
                Err(Error::invalid(format!(
                    "\"{spec}\": unknown operating system or architecture: invalid argument"
                )))
            }
            [_, arch] => {
                let (architecture, mut variant) = normalize_arch(arch, "");
                if architecture == "arm" && variant == "v7" {
                    variant.clear();
                }
                Ok(Platform {
                    os,
                    architecture,
                    variant,
                })
            }
            [_, arch, variant] => {
                let (architecture, variant) = normalize_arch(arch, variant);
                Ok(Platform {
                    os,
                    architecture,
                    variant,
                })
            }
            _ => Err(Error::invalid(format!(
                "\"{spec}\": cannot parse platform specifier: invalid argument"
            ))),
        }
    }

    /// The one spelling containerd's `Normalize` gives: lowercase os,
    /// `amd64`/`arm64`, arm64's `v8` as no variant, a bare `arm` as `v7`.
    /// Registry clients compare normalised platforms for equality.
    pub fn normalized(&self) -> Platform {
        let (architecture, variant) = normalize_arch(&self.architecture, &self.variant);
        Platform {
            os: self.os.to_lowercase(),
            architecture,
            variant,
        }
    }

    /// This host's platform (`linux/<arch>`).
    pub fn host() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: crate::host_arch().into(),
            variant: String::new(),
        }
    }

    /// Which of an index's entries (their platforms, `None` where an entry
    /// has none) to take for this platform, as dockerd picks: the first
    /// whose normalised os/arch/variant equals the normalised request (so
    /// `arm64` takes `arm64/v8`, `arm` takes `arm/v7`); failing that, for
    /// arm only, the first with the same os and architecture whatever its
    /// variant (dockerd's leniency for lists that predate variants).
    pub fn pick(&self, entries: &[Option<Platform>]) -> Option<usize> {
        let want = self.normalized();
        let with_platform = || {
            entries
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
        };
        with_platform()
            .find(|(_, p)| p.normalized() == want)
            .or_else(|| {
                with_platform().find(|(_, p)| {
                    want.architecture == "arm"
                        && p.os.to_lowercase() == want.os
                        && p.architecture == want.architecture
                })
            })
            .map(|(i, _)| i)
    }

    /// Whether an image built for `image` runs as this platform asks: the
    /// same os and architecture, and the asked variant if one is asked
    /// (arm's `v7` is what a bare `arm` means).
    pub fn accepts(&self, image: &Platform) -> bool {
        let (arch, variant) = normalize_arch(&image.architecture, &image.variant);
        let norm = |a: &str, v: &str| {
            let (a, v) = normalize_arch(a, v);
            if a == "arm" && v.is_empty() {
                (a, "v7".to_string())
            } else {
                (a, v)
            }
        };
        let (want_arch, want_variant) = norm(&self.architecture, &self.variant);
        let (have_arch, have_variant) = norm(&arch, &variant);
        self.os == image.os.to_lowercase()
            && want_arch == have_arch
            && (self.variant.is_empty() || want_variant == have_variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(os: &str, arch: &str, variant: &str) -> Platform {
        Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: variant.into(),
        }
    }

    #[test]
    fn parses_like_containerd() {
        assert_eq!(
            Platform::parse("linux/amd64").unwrap(),
            p("linux", "amd64", "")
        );
        assert_eq!(
            Platform::parse("Linux/x86_64").unwrap(),
            p("linux", "amd64", "")
        );
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap(),
            p("linux", "arm64", "")
        );
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap(),
            p("linux", "arm64", "")
        );
        assert_eq!(Platform::parse("linux/arm").unwrap(), p("linux", "arm", ""));
        assert_eq!(
            Platform::parse("linux/arm/v6").unwrap(),
            p("linux", "arm", "v6")
        );
        assert_eq!(Platform::parse("arm64").unwrap(), p("linux", "arm64", ""));
        assert_eq!(
            Platform::parse("linux").unwrap(),
            p("linux", host_arch(), "")
        );
        let e = Platform::parse("nonsense").unwrap_err().to_string();
        assert_eq!(
            e,
            "\"nonsense\": unknown operating system or architecture: invalid argument"
        );
        assert!(Platform::parse("linux//amd64").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }

    #[test]
    fn compares_with_an_image() {
        let want = |s: &str| Platform::parse(s).unwrap();
        assert!(want("linux/amd64").accepts(&p("linux", "amd64", "")));
        assert!(!want("linux/arm64").accepts(&p("linux", "amd64", "")));
        assert!(!want("windows/amd64").accepts(&p("linux", "amd64", "")));
        assert!(want("linux/arm64").accepts(&p("linux", "arm64", "v8")));
        assert!(want("linux/arm").accepts(&p("linux", "arm", "v7")));
        assert!(want("linux/arm").accepts(&p("linux", "arm", "")));
        assert!(!want("linux/arm/v6").accepts(&p("linux", "arm", "v7")));
        assert_eq!(want("linux/arm/v6").to_string(), "linux/arm/v6");
        assert_eq!(
            p("Linux", "aarch64", "8").normalized(),
            p("linux", "arm64", "")
        );
        assert_eq!(p("linux", "arm", "").normalized(), p("linux", "arm", "v7"));
        assert_eq!(
            p("linux", "x86_64", "").normalized(),
            p("linux", "amd64", "")
        );
    }
}
