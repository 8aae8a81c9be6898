//! Which daemon to talk to: `-H/--host`, else `BERTH_HOST`, else `DOCKER_HOST`,
//! else the default unix socket.

use std::path::PathBuf;

/// Default daemon address.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// A daemon endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    /// `host:port`, plain HTTP.
    Tcp(String),
}

impl Host {
    /// The value for the HTTP `Host` header.
    pub fn header_value(&self) -> String {
        match self {
            Host::Unix(_) => "api.moby.localhost".to_string(),
            Host::Tcp(addr) => addr.clone(),
        }
    }
}

/// Picks the host string from the flag and the environment.
pub fn select(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> String {
    if let Some(h) = flag.filter(|h| !h.is_empty()) {
        return h.to_string();
    }
    for var in ["BERTH_HOST", "DOCKER_HOST"] {
        if let Some(h) = env(var).filter(|h| !h.is_empty()) {
            return h;
        }
    }
    DEFAULT_HOST.to_string()
}

/// Parses `unix:///path` or `tcp://host[:port]` (port 2375 by default).
pub fn parse(addr: &str) -> Result<Host, String> {
    let bad = || format!("unable to parse berth host `{addr}`");
    let trimmed = addr.trim();
    if let Some(path) = trimmed.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(bad());
        }
        return Ok(Host::Unix(PathBuf::from(path)));
    }
    let rest = trimmed
        .strip_prefix("tcp://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(bad());
    }
    let has_port = match rest.rfind(':') {
        Some(i) => !rest.ends_with(']') && rest[i + 1..].parse::<u16>().is_ok(),
        None => false,
    };
    if has_port {
        Ok(Host::Tcp(rest.to_string()))
    } else if rest.contains(':') && !rest.starts_with('[') {
        Err(bad())
    } else {
        Ok(Host::Tcp(format!("{rest}:2375")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let env = |v: &str| match v {
            "BERTH_HOST" => Some("unix:///b.sock".to_string()),
            "DOCKER_HOST" => Some("unix:///d.sock".to_string()),
            _ => None,
        };
        assert_eq!(select(Some("tcp://x:1"), env), "tcp://x:1");
        assert_eq!(select(None, env), "unix:///b.sock");
        assert_eq!(
            select(None, |v: &str| (v == "DOCKER_HOST")
                .then(|| "unix:///d.sock".to_string())),
            "unix:///d.sock"
        );
        assert_eq!(select(None, |_: &str| None), DEFAULT_HOST);
    }

    #[test]
    fn parses_hosts() {
        assert_eq!(
            parse("unix:///tmp/x.sock"),
            Ok(Host::Unix(PathBuf::from("/tmp/x.sock")))
        );
        assert_eq!(
            parse("tcp://127.0.0.1:2376"),
            Ok(Host::Tcp("127.0.0.1:2376".into()))
        );
        assert_eq!(
            parse("tcp://localhost"),
            Ok(Host::Tcp("localhost:2375".into()))
        );
        assert_eq!(parse("tcp://[::1]:80"), Ok(Host::Tcp("[::1]:80".into())));
        assert!(parse("ssh://x").is_err());
        assert!(parse("unix://").is_err());
        assert!(parse("/var/run/x.sock").is_err());
    }
}
