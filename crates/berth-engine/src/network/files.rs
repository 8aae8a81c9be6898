//! The `/etc/hosts` and `/etc/resolv.conf` berthd writes for a container,
//! as dockerd writes them.

use std::net::{IpAddr, SocketAddr};

use super::NetConfig;

pub const HOSTS_DEFAULTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// What goes into a container's hosts file after the defaults.
#[derive(Debug, Default)]
pub struct HostsInput<'a> {
    /// `--add-host` entries (`name:ip`), `host-gateway` already resolved.
    pub extra: Vec<(String, String)>,
    /// Legacy links: (ip, alias, container name).
    pub links: Vec<(IpAddr, String, String)>,
    /// The container's own addresses.
    pub own: Vec<IpAddr>,
    pub hostname: &'a str,
    pub domainname: &'a str,
}

pub fn hosts(input: &HostsInput<'_>) -> String {
    let mut out = String::from(HOSTS_DEFAULTS);
    for (name, ip) in &input.extra {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    for (ip, alias, name) in &input.links {
        if alias == name {
            out.push_str(&format!("{ip}\t{alias}\n"));
        } else {
            out.push_str(&format!("{ip}\t{alias} {name}\n"));
        }
    }
    let fqdn = if input.domainname.is_empty() {
        input.hostname.to_string()
    } else {
        format!("{}.{} {}", input.hostname, input.domainname, input.hostname)
    };
    for ip in &input.own {
        out.push_str(&format!("{ip}\t{fqdn}\n"));
    }
    out
}

/// A resolv.conf, split into what containers take from it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolv {
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl Resolv {
    pub fn parse(text: &str) -> Resolv {
        let mut r = Resolv::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => r.nameservers.extend(words.next().map(str::to_string)),
                Some("search") | Some("domain") => {
                    r.search = words.map(str::to_string).collect();
                }
                Some("options") => r.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        r
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for ns in &self.nameservers {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.search.is_empty() {
            out.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

fn is_loopback(ns: &str) -> bool {
    ns.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn host_resolv(cfg: &NetConfig) -> Resolv {
    Resolv::parse(&std::fs::read_to_string(&cfg.resolv_conf).unwrap_or_default())
}

/// The user's `--dns`, `--dns-search` and `--dns-option`.
#[derive(Debug, Default, Clone)]
pub struct DnsSettings {
    pub servers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// A container's resolv.conf. On a user network the resolver is the
/// embedded one (127.0.0.11), which forwards to the rest; elsewhere the
/// host's resolvers without the loopback ones a container cannot reach,
/// and Google's when none remain (dockerd's fallback).
pub fn resolv_conf(cfg: &NetConfig, user: &DnsSettings, embedded: bool) -> String {
    let host = host_resolv(cfg);
    let mut r = Resolv {
        nameservers: Vec::new(),
        search: if user.search.is_empty() {
            host.search.clone()
        } else {
            user.search.iter().filter(|s| *s != ".").cloned().collect()
        },
        options: if user.options.is_empty() {
            host.options.clone()
        } else {
            user.options.clone()
        },
    };
    if embedded {
        r.nameservers = vec!["127.0.0.11".into()];
        if !r.options.iter().any(|o| o.starts_with("ndots:")) {
            r.options.push("ndots:0".into());
        }
        return r.render();
    }
    r.nameservers = if !user.servers.is_empty() {
        user.servers.clone()
    } else if !cfg.dns.is_empty() {
        cfg.dns.iter().map(IpAddr::to_string).collect()
    } else {
        host.nameservers
            .into_iter()
            .filter(|n| !is_loopback(n))
            .collect()
    };
    if r.nameservers.is_empty() {
        r.nameservers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    r.render()
}

/// Where the embedded DNS forwards names it does not know: the
/// container's own `--dns`, else the daemon's, else the host's resolvers,
/// loopback ones included (forwarding happens in the daemon's namespace).
pub fn upstream_servers(cfg: &NetConfig, container: &[String]) -> Vec<SocketAddr> {
    let own: Vec<SocketAddr> = container
        .iter()
        .filter_map(|n| n.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if !own.is_empty() {
        return own;
    }
    if !cfg.dns.is_empty() {
        return cfg.dns.iter().map(|ip| SocketAddr::new(*ip, 53)).collect();
    }
    host_resolv(cfg)
        .nameservers
        .iter()
        .filter_map(|n| n.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg_with(text: &str) -> (NetConfig, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolv.conf");
        std::fs::write(&path, text).unwrap();
        let cfg = NetConfig {
            resolv_conf: path,
            ..NetConfig::default()
        };
        (cfg, dir)
    }

    #[test]
    fn hosts_lists_extra_links_and_own_addresses() {
        let h = hosts(&HostsInput {
            extra: vec![("db".into(), "10.0.0.9".into())],
            links: vec![("172.17.0.3".parse().unwrap(), "web".into(), "web1".into())],
            own: vec!["172.17.0.2".parse().unwrap()],
            hostname: "abc",
            domainname: "example.com",
        });
        assert!(h.starts_with(HOSTS_DEFAULTS));
        assert!(h.contains("10.0.0.9\tdb\n"));
        assert!(h.contains("172.17.0.3\tweb web1\n"));
        assert!(h.ends_with("172.17.0.2\tabc.example.com abc\n"));
    }

    #[test]
    fn resolv_conf_on_the_default_bridge() {
        let (cfg, _d) =
            cfg_with("nameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch corp\noptions edns0\n");
        let r = resolv_conf(&cfg, &DnsSettings::default(), false);
        assert_eq!(r, "nameserver 10.1.1.1\nsearch corp\noptions edns0\n");
        let user = DnsSettings {
            servers: vec!["9.9.9.9".into()],
            search: vec!["a.b".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf(&cfg, &user, false),
            "nameserver 9.9.9.9\nsearch a.b\noptions ndots:2\n"
        );
        let (cfg, _d) = cfg_with("nameserver 127.0.0.1\n");
        assert_eq!(
            resolv_conf(&cfg, &DnsSettings::default(), false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn resolv_conf_on_a_user_network() {
        let (cfg, _d) = cfg_with("nameserver 127.0.0.53\nsearch corp\n");
        assert_eq!(
            resolv_conf(&cfg, &DnsSettings::default(), true),
            "nameserver 127.0.0.11\nsearch corp\noptions ndots:0\n"
        );
        assert_eq!(
            upstream_servers(&cfg, &[]),
            vec!["127.0.0.53:53".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            upstream_servers(&cfg, &["10.9.9.9".into()]),
            vec!["10.9.9.9:53".parse::<SocketAddr>().unwrap()]
        );
    }
}
