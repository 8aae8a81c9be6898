//! Individual container settings parsed from flags: capabilities, restart
//! policy, networks, security options, health check and extra hosts.

use std::collections::BTreeMap;

use super::create_body::{
    zero_endpoint, EndpointSettings, HealthConfig, RestartPolicy, RestartPolicyNameEnum,
};
use super::create_opts::ContainerOpts;
use super::kv_file;

/// `k=v` items to a map (`k` alone maps to an empty value).
pub fn kv_map(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (i.clone(), String::new()),
        })
        .collect()
}

/// moby's `NormalizeCapability`: upper case with a `CAP_` prefix.
pub fn normalize_capability(cap: &str) -> String {
    let c = cap.trim().to_ascii_uppercase();
    if c == "ALL" || c == "RESET" || c.starts_with("CAP_") {
        c
    } else {
        format!("CAP_{c}")
    }
}

/// Anything but the built-in network modes.
fn is_user_defined_network(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none")
        && !mode.starts_with("container:")
        && !mode.starts_with("ns:")
}

/// A `--network` value: a name, or `name=x,alias=y,...`.
fn parse_network(value: &str) -> Result<(String, Vec<String>), String> {
    if !value.contains('=') {
        return Ok((value.to_string(), Vec::new()));
    }
    let mut name = String::new();
    let mut aliases = Vec::new();
    for field in value.split(',') {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))?;
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = v.to_string(),
            "alias" => aliases.push(v.to_string()),
            "driver-opt" | "ip" | "ip6" | "mac-address" | "link-local-ip" | "gw-priority" => {}
            other => return Err(format!("invalid field key {other}")),
        }
    }
    Ok((name, aliases))
}

/// `--restart no|always|unless-stopped|on-failure[:N]` (docker's
/// `opts.ParseRestartPolicy`).
pub fn parse_restart(policy: &str) -> Result<RestartPolicy, String> {
    if policy.is_empty() {
        return Ok(RestartPolicy {
            name: Some(RestartPolicyNameEnum::EMPTY),
            maximum_retry_count: Some(0),
        });
    }
    let (name, count) = match policy.split_once(':') {
        Some(("", _)) => {
            return Err(
                "invalid restart policy format: no policy provided before colon".to_string(),
            )
        }
        Some((n, c)) => (n, c),
        None => (policy, ""),
    };
    let maximum_retry_count = if count.is_empty() {
        0
    } else {
        count.parse().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?
    };
    // The model holds only the names dockerd knows; refuse the others here
    // in the daemon's words.
    let name = name
        .parse()
        .map_err(|_| format!("invalid restart policy '{name}'"))?;
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count: Some(maximum_retry_count),
    })
}

/// `--pid`/`--uts` style modes: empty, one of `allow`, or `container:<id>`.
pub fn valid_namespace_mode(mode: &str, allow: &[&str]) -> bool {
    mode.is_empty() || allow.contains(&mode) || mode.starts_with("container:")
}

/// `Some(v)` unless `v` is empty (docker sends `null` for unset lists).
pub fn non_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// `--security-opt` values as sent, plus the paths `systempaths=unconfined`
/// clears.
pub struct SecurityOpts {
    pub opts: Option<Vec<String>>,
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
}

/// `--security-opt` values, with a seccomp profile file inlined as compact
/// JSON like docker does.
pub fn security_opts(o: &ContainerOpts) -> Result<SecurityOpts, String> {
    let mut out = Vec::new();
    let (mut masked, mut readonly) = (None, None);
    for opt in &o.security_opt {
        if opt == "systempaths=unconfined" {
            masked = Some(Vec::new());
            readonly = Some(Vec::new());
            continue;
        }
        let (k, v) = match opt.split_once('=') {
            Some(kv) => kv,
            None if opt == "no-new-privileges" => (opt.as_str(), ""),
            None => opt.split_once(':').unwrap_or((opt.as_str(), "")),
        };
        if v.is_empty() && k != "no-new-privileges" {
            return Err(format!(
                "invalid --security-opt: {}",
                crate::format::text::go_quote(opt)
            ));
        }
        if k == "seccomp" && v != "builtin" && v != "unconfined" {
            let data = std::fs::read(v).map_err(|e| {
                format!(
                    "opening seccomp profile ({v}) failed: {}",
                    kv_file::open_error(v, &e)
                )
            })?;
            let compact = crate::format::json_indent::compact(&data);
            out.push(format!("seccomp={}", String::from_utf8_lossy(&compact)));
            continue;
        }
        out.push(opt.clone());
    }
    Ok(SecurityOpts {
        opts: (!out.is_empty()).then_some(out),
        masked_paths: masked,
        readonly_paths: readonly,
    })
}

/// The `Healthcheck` from the `--health-*` flags (`NONE` with
/// `--no-healthcheck`).
pub fn healthcheck(o: &ContainerOpts) -> Result<Option<HealthConfig>, String> {
    let have = !o.health_cmd.is_empty()
        || o.health_interval != 0
        || o.health_timeout != 0
        || o.health_start_period != 0
        || o.health_retries != 0
        || o.health_start_interval != 0;
    if o.no_healthcheck {
        if have {
            return Err("--no-healthcheck conflicts with --health-* options".to_string());
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..HealthConfig::default()
        }));
    }
    if !have {
        return Ok(None);
    }
    for (name, v) in [
        ("--health-interval", o.health_interval),
        ("--health-timeout", o.health_timeout),
        ("--health-retries", o.health_retries),
        ("--health-start-period", o.health_start_period),
        ("--health-start-interval", o.health_start_interval),
    ] {
        if v < 0 {
            return Err(format!("{name} cannot be negative"));
        }
    }
    // Zero means "inherit"; docker leaves it out.
    let set = |v: i64| (v != 0).then_some(v);
    Ok(Some(HealthConfig {
        test: (!o.health_cmd.is_empty())
            .then(|| vec!["CMD-SHELL".to_string(), o.health_cmd.clone()]),
        interval: set(o.health_interval),
        timeout: set(o.health_timeout),
        start_period: set(o.health_start_period),
        start_interval: set(o.health_start_interval),
        retries: set(o.health_retries),
    }))
}

/// `--add-host name:ip` (or `name=ip`) values, validated.
pub fn extra_hosts(o: &ContainerOpts) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for h in &o.add_host {
        let (name, ip) = h
            .split_once('=')
            .or_else(|| h.split_once(':'))
            .ok_or_else(|| {
                format!(
                    "bad format for add-host: {}",
                    crate::format::text::go_quote(h)
                )
            })?;
        if name.is_empty() {
            return Err(format!(
                "bad format for add-host: {}",
                crate::format::text::go_quote(h)
            ));
        }
        let bare = ip.trim_start_matches('[').trim_end_matches(']');
        if ip != "host-gateway" && bare.parse::<std::net::IpAddr>().is_err() {
            return Err(format!(
                "invalid IP address in add-host: {}",
                crate::format::text::go_quote(ip)
            ));
        }
        out.push(format!("{name}:{bare}"));
    }
    Ok(out)
}

/// `NetworkMode` and `EndpointsConfig` from `--network`/`--network-alias`.
pub fn networks(o: &ContainerOpts) -> Result<(String, BTreeMap<String, EndpointSettings>), String> {
    let mut endpoints = BTreeMap::new();
    let nets = o
        .network
        .iter()
        .map(|n| parse_network(n))
        .collect::<Result<Vec<_>, _>>()?;
    let aliases = non_empty(&o.network_alias);
    if nets.is_empty() {
        if aliases.is_some() {
            return Err(
                "network-scoped aliases are only supported for user-defined networks".to_string(),
            );
        }
        endpoints.insert("default".to_string(), zero_endpoint());
        return Ok(("default".to_string(), endpoints));
    }
    let (mut user, mut builtin) = (false, false);
    for (i, (name, net_aliases)) in nets.iter().enumerate() {
        if name.trim().is_empty() {
            return Err("no name set for network".to_string());
        }
        if is_user_defined_network(name) {
            user = true;
        } else {
            builtin = true;
        }
        let mut ep = zero_endpoint();
        let mut all_aliases = net_aliases.clone();
        if i == 0 {
            if let Some(a) = &aliases {
                if !net_aliases.is_empty() {
                    return Err("conflicting options: cannot specify both --network-alias and per-network alias".to_string());
                }
                all_aliases = a.clone();
            }
        }
        if !all_aliases.is_empty() {
            if !is_user_defined_network(name) {
                return Err(
                    "network-scoped aliases are only supported for user-defined networks"
                        .to_string(),
                );
            }
            ep.aliases = Some(all_aliases);
        }
        if endpoints.contains_key(name) {
            return Err(format!("network \"{name}\" is specified multiple times"));
        }
        if i == 0 && nets.len() == 1 && ep == zero_endpoint() {
            continue;
        }
        endpoints.insert(name.clone(), ep);
    }
    if user && builtin {
        return Err("conflicting options: cannot attach both user-defined and non-user-defined network-modes".to_string());
    }
    Ok((nets[0].0.clone(), endpoints))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_normalized() {
        assert_eq!(normalize_capability("net_admin"), "CAP_NET_ADMIN");
        assert_eq!(normalize_capability("CAP_SYS_ADMIN"), "CAP_SYS_ADMIN");
        assert_eq!(normalize_capability("all"), "ALL");
    }

    #[test]
    fn restart_policies() {
        assert_eq!(
            parse_restart("on-failure:3").unwrap(),
            RestartPolicy {
                name: Some(RestartPolicyNameEnum::ON_FAILURE),
                maximum_retry_count: Some(3)
            }
        );
        assert!(parse_restart(":3").is_err());
        assert_eq!(
            parse_restart("").unwrap().name,
            Some(RestartPolicyNameEnum::EMPTY)
        );
        assert_eq!(
            parse_restart("sometimes").unwrap_err(),
            "invalid restart policy 'sometimes'"
        );
    }

    #[test]
    fn networks_and_aliases() {
        assert_eq!(
            parse_network("name=net1,alias=a").unwrap(),
            ("net1".to_string(), vec!["a".to_string()])
        );
        assert!(is_user_defined_network("mynet"));
        assert!(!is_user_defined_network("host"));
        assert!(!is_user_defined_network("container:abc"));
    }
}
