//! `-p/--publish` and `--expose` to `ExposedPorts` and `PortBindings`, like
//! go-connections' `nat.ParsePortSpecs`.

use std::collections::BTreeMap;

use super::create_body::{Empty, PortBinding};

/// Exposed ports and their bindings.
#[derive(Debug, Default, PartialEq)]
pub struct Ports {
    pub exposed: BTreeMap<String, Empty>,
    pub bindings: BTreeMap<String, Vec<PortBinding>>,
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => {
            let p = s.parse().ok()?;
            Some((p, p))
        }
    }
}

fn valid_proto(p: &str) -> bool {
    matches!(p, "tcp" | "udp" | "sctp")
}

/// Adds `-p` specs (`[ip:][hostPort:]containerPort[/proto]`, ranges allowed;
/// the long form `target=80,published=8080,protocol=tcp` too).
pub fn add_publish(ports: &mut Ports, spec: &str) -> Result<(), String> {
    let spec = if spec.contains('=') {
        long_form(spec)?
    } else {
        spec.to_string()
    };
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec.as_str(), "tcp".to_string()),
    };
    if !valid_proto(&proto) {
        return Err(format!("invalid proto: {proto}"));
    }
    // split ip (may be [v6]) from host and container ports
    let (ip, host, container) = split_publish(rest)?;
    let (cstart, cend) =
        parse_range(container).ok_or_else(|| format!("invalid containerPort: {container}"))?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(parse_range(host).ok_or_else(|| format!("invalid hostPort: {host}"))?)
    };
    if let Some((hs, he)) = host_range {
        let hlen = he - hs;
        if hlen != cend - cstart && hlen != 0 && cend != cstart {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {container} and {host}"
            ));
        }
    }
    for (i, port) in (cstart..=cend).enumerate() {
        let key = format!("{port}/{proto}");
        let host_port = match host_range {
            None => String::new(),
            Some((hs, he)) if he == hs => hs.to_string(),
            Some((hs, he)) if cend == cstart => format!("{hs}-{he}"),
            Some((hs, _)) => (hs + i as u16).to_string(),
        };
        ports.exposed.insert(key.clone(), Empty::new());
        ports.bindings.entry(key).or_default().push(PortBinding {
            host_ip: Some(ip.to_string()),
            host_port: Some(host_port),
        });
    }
    Ok(())
}

fn split_publish(rest: &str) -> Result<(&str, &str, &str), String> {
    if let Some(v6) = rest.strip_prefix('[') {
        let (ip, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("invalid IP address: {rest}"))?;
        let after = after.strip_prefix(':').unwrap_or(after);
        let (host, container) = after.split_once(':').unwrap_or(("", after));
        return Ok((ip, host, container));
    }
    let parts: Vec<&str> = rest.split(':').collect();
    match parts.as_slice() {
        [c] => Ok(("", "", c)),
        [h, c] => Ok(("", h, c)),
        [ip, h, c] => {
            if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("invalid IP address: {ip}"));
            }
            Ok((ip, h, c))
        }
        _ => Err(format!("invalid port format: {rest}")),
    }
}

fn long_form(spec: &str) -> Result<String, String> {
    let mut params: BTreeMap<&str, &str> = BTreeMap::new();
    params.insert("protocol", "tcp");
    for param in spec.split(',') {
        match param.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                params.insert(k, v);
            }
            _ => {
                return Err(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                ))
            }
        }
    }
    let get = |k: &str| params.get(k).copied().unwrap_or("");
    Ok(format!(
        "{}:{}/{}",
        get("published"),
        get("target"),
        get("protocol")
    ))
}

/// Adds an `--expose` value (`80`, `80/udp`, `8000-8010`).
pub fn add_expose(ports: &mut Ports, spec: &str) -> Result<(), String> {
    let (range, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    let (start, end) = parse_range(range)
        .ok_or_else(|| format!("invalid range format for --expose: invalid port range: {spec}"))?;
    if !valid_proto(&proto) {
        return Err(format!(
            "invalid range format for --expose: invalid proto: {proto}"
        ));
    }
    for p in start..=end {
        ports.exposed.insert(format!("{p}/{proto}"), Empty::new());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: Some(ip.into()),
            host_port: Some(port.into()),
        }
    }

    #[test]
    fn publish_specs() {
        let mut p = Ports::default();
        add_publish(&mut p, "127.0.0.1:8080:80").unwrap();
        add_publish(&mut p, "127.0.0.1::81/udp").unwrap();
        add_publish(&mut p, "9000").unwrap();
        add_publish(&mut p, "8443:443").unwrap();
        assert_eq!(
            p.exposed.keys().cloned().collect::<Vec<_>>(),
            vec!["443/tcp", "80/tcp", "81/udp", "9000/tcp"]
        );
        assert_eq!(p.bindings["80/tcp"], vec![binding("127.0.0.1", "8080")]);
        assert_eq!(p.bindings["81/udp"], vec![binding("127.0.0.1", "")]);
        assert_eq!(p.bindings["9000/tcp"], vec![binding("", "")]);
        assert_eq!(p.bindings["443/tcp"], vec![binding("", "8443")]);
    }

    #[test]
    fn ranges_and_long_form() {
        let mut p = Ports::default();
        add_publish(&mut p, "8000-8001:80-81").unwrap();
        assert_eq!(p.bindings["81/tcp"], vec![binding("", "8001")]);
        add_publish(&mut p, "target=53,published=5353,protocol=udp").unwrap();
        assert_eq!(p.bindings["53/udp"], vec![binding("", "5353")]);
        add_publish(&mut p, "[::1]:8080:80").unwrap();
        assert_eq!(p.bindings["80/tcp"][1], binding("::1", "8080"));
    }

    #[test]
    fn bad_specs() {
        let mut p = Ports::default();
        assert_eq!(
            add_publish(&mut p, "abc").unwrap_err(),
            "invalid containerPort: abc"
        );
        assert_eq!(
            add_publish(&mut p, "80/xyz").unwrap_err(),
            "invalid proto: xyz"
        );
        assert_eq!(
            add_publish(&mut p, "x:80").unwrap_err(),
            "invalid hostPort: x"
        );
    }

    #[test]
    fn expose() {
        let mut p = Ports::default();
        add_expose(&mut p, "8000-8002/udp").unwrap();
        add_expose(&mut p, "80").unwrap();
        assert_eq!(p.exposed.len(), 4);
        assert!(p.exposed.contains_key("8001/udp"));
        assert!(p.bindings.is_empty());
    }
}
