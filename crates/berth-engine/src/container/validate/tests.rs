use super::*;
use bollard_stubs::models::{
    EndpointSettings, HealthConfig, PortBinding, ResourcesBlkioWeightDevice, RestartPolicy,
};

fn full() -> SysInfo {
    SysInfo {
        v2: false,
        kernel_memory: true,
        kernel_memory_tcp: true,
        memory_limit: true,
        swap_limit: true,
        memory_reservation: true,
        memory_swappiness: true,
        oom_kill_disable: true,
        pids_limit: true,
        cpu_shares: true,
        cpu_cfs: true,
        cpu_realtime: false,
        cpuset: true,
        blkio_weight: false,
        blkio_weight_device: false,
        blkio_read_bps: true,
        blkio_write_bps: true,
        blkio_read_iops: true,
        blkio_write_iops: true,
        cpus: "0-1".into(),
        mems: "0".into(),
    }
}

fn check(c: ContainerConfig, hc: HostConfig) -> Result<Vec<String>> {
    let (mut c, mut hc) = (c, hc);
    check_create(&mut c, &mut hc, &NetworkingConfig::default(), &full())
}

fn message(c: ContainerConfig, hc: HostConfig) -> String {
    check(c, hc).unwrap_err().message
}

fn hc_only(hc: HostConfig) -> String {
    message(ContainerConfig::default(), hc)
}

#[test]
fn container_config_messages() {
    let c = |f: fn(&mut ContainerConfig)| {
        let mut c = ContainerConfig::default();
        f(&mut c);
        message(c, HostConfig::default())
    };
    assert_eq!(
        c(|c| c.working_dir = Some("rel".into())),
        "the working directory 'rel' is invalid, it needs to be an absolute path"
    );
    assert_eq!(
        c(|c| c.stop_signal = Some("SIGBOGUS".into())),
        "Invalid signal: SIGBOGUS"
    );
    assert_eq!(
        c(|c| c.env = Some(vec!["=B".into()])),
        "invalid environment variable: =B"
    );
    assert_eq!(
        c(|c| c.healthcheck = Some(HealthConfig {
            interval: Some(-1),
            ..Default::default()
        })),
        "Interval in Healthcheck cannot be less than 1ms"
    );
    assert_eq!(
        c(|c| c.hostname = Some("h".repeat(65))),
        format!(
            "hostname \"{}\" is too long (maximum 64 bytes)",
            "h".repeat(65)
        )
    );
}

#[test]
fn signals_as_go_parses_them() {
    for ok in [
        "9",
        "-3",
        "999",
        "KILL",
        "sigterm",
        "SIGRTMIN+3",
        "RTMAX-14",
        "CLD",
    ] {
        assert!(valid_signal(ok), "{ok}");
    }
    for bad in ["0", "SIGBOGUS", "RTMIN+16", "", " KILL"] {
        assert!(!valid_signal(bad), "{bad}");
    }
}

#[test]
fn host_config_messages() {
    assert_eq!(
        hc_only(HostConfig {
            shm_size: Some(-1),
            ..Default::default()
        }),
        "SHM size can not be less than 0"
    );
    assert_eq!(
        hc_only(HostConfig {
            cpu_period: Some(1),
            ..Default::default()
        }),
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
    );
    assert_eq!(
        hc_only(HostConfig {
            extra_hosts: Some(vec!["h:notanip".into()]),
            ..Default::default()
        }),
        "invalid IP address in add-host: \"notanip\""
    );
    let ports = |host: &str| HostConfig {
        port_bindings: Some(
            [(
                "80/tcp".to_string(),
                Some(vec![PortBinding {
                    host_ip: None,
                    host_port: Some(host.into()),
                }]),
            )]
            .into(),
        ),
        ..Default::default()
    };
    assert_eq!(
        hc_only(ports("99999")),
        "invalid port specification: \"99999\""
    );
    assert!(check(ContainerConfig::default(), ports("8080")).is_ok());
    assert_eq!(
        hc_only(HostConfig {
            ipc_mode: Some("bogus".into()),
            ..Default::default()
        }),
        "invalid IPC mode: bogus"
    );
    assert_eq!(
        hc_only(HostConfig {
            oom_score_adj: Some(1001),
            ..Default::default()
        }),
        "Invalid value 1001, range for oom score adj is [-1000, 1000]"
    );
    assert_eq!(
        hc_only(HostConfig {
            cap_add: Some(vec!["bogus".into()]),
            ..Default::default()
        }),
        "invalid CapAdd: unknown capability: \"CAP_BOGUS\""
    );
    assert_eq!(
        hc_only(HostConfig {
            runtime: Some("crun".into()),
            ..Default::default()
        }),
        "Unknown runtime specified crun"
    );
    assert_eq!(
        hc_only(HostConfig {
            tmpfs: Some([("rel".to_string(), String::new())].into()),
            ..Default::default()
        }),
        "invalid mount path: 'rel' mount path must be absolute"
    );
    assert_eq!(
        hc_only(HostConfig {
            cpuset_cpus: Some("0-7".into()),
            ..Default::default()
        }),
        "Requested CPUs are not available - requested 0-7, available: 0-1"
    );
    assert_eq!(
        hc_only(HostConfig {
            cpu_realtime_runtime: Some(1000),
            ..Default::default()
        }),
        "Your kernel does not support CPU real-time scheduler"
    );
}

#[test]
fn restart_and_auto_remove() {
    let policy = |name, n| HostConfig {
        restart_policy: Some(RestartPolicy {
            name: Some(name),
            maximum_retry_count: Some(n),
        }),
        ..Default::default()
    };
    assert_eq!(
        hc_only(policy(RestartPolicyNameEnum::ALWAYS, 3)),
        "maximum retry count cannot be used with restart policy 'always'"
    );
    assert_eq!(
        hc_only(HostConfig {
            auto_remove: Some(true),
            ..policy(RestartPolicyNameEnum::ALWAYS, 0)
        }),
        "can't create 'AutoRemove' container with restart policy"
    );
    assert!(check(
        ContainerConfig::default(),
        policy(RestartPolicyNameEnum::NO, 0)
    )
    .is_ok());
}

#[test]
fn network_conflicts() {
    let c = ContainerConfig {
        hostname: Some("h".into()),
        ..Default::default()
    };
    let hc = HostConfig {
        network_mode: Some("container:abc".into()),
        ..Default::default()
    };
    assert_eq!(
        message(c.clone(), hc),
        "conflicting options: hostname and the network mode"
    );
    let hc = HostConfig {
        uts_mode: Some("host".into()),
        ..Default::default()
    };
    assert_eq!(
        message(c, hc),
        "conflicting options: hostname and the UTS mode"
    );
    assert_eq!(
        hc_only(HostConfig {
            network_mode: Some("container:".into()),
            ..Default::default()
        }),
        "Invalid network mode: invalid container format container:<name|id>"
    );
}

#[test]
fn endpoints() {
    let net = |names: &[&str], ep: EndpointSettings| NetworkingConfig {
        endpoints_config: Some(names.iter().map(|n| (n.to_string(), ep.clone())).collect()),
    };
    let run = |n: NetworkingConfig| {
        check_create(
            &mut ContainerConfig::default(),
            &mut HostConfig::default(),
            &n,
            &full(),
        )
    };
    assert!(run(net(&["default"], EndpointSettings::default())).is_ok());
    assert!(run(net(&["a", "b"], EndpointSettings::default()))
        .unwrap_err()
        .message
        .starts_with("Container cannot be connected to network endpoints: a, b"));
    // Endpoint settings are checked against the network itself, later.
    let aliased = EndpointSettings {
        aliases: Some(vec!["x".into()]),
        ..Default::default()
    };
    assert!(run(net(&["default"], aliased)).is_ok());
    assert!(run(net(&["other"], EndpointSettings::default()))
        .unwrap_err()
        .message
        .starts_with("NetworkingConfig.EndpointsConfig"));
}

#[test]
fn host_limits_are_dropped_with_dockerds_warning() {
    let mut hc = HostConfig {
        blkio_weight: Some(500),
        blkio_weight_device: Some(vec![ResourcesBlkioWeightDevice {
            path: Some("/dev/sda".into()),
            weight: Some(100),
        }]),
        memory_swappiness: Some(-1),
        pids_limit: Some(-1),
        ..Default::default()
    };
    let w = check_create(
        &mut ContainerConfig::default(),
        &mut hc,
        &NetworkingConfig::default(),
        &full(),
    )
    .unwrap();
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(hc.blkio_weight, Some(0));
    assert_eq!(hc.memory_swappiness, None);
    assert_eq!(hc.pids_limit, None);
    assert_eq!(hc.runtime.as_deref(), Some("runc"));
    assert_eq!(hc.shm_size, Some(64 << 20));
    assert_eq!(hc.ipc_mode.as_deref(), Some("private"));
    assert_eq!(hc.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::HOST));
}

#[test]
fn swap_defaults_to_twice_the_memory() {
    let mut hc = HostConfig {
        memory: Some(64 << 20),
        ..Default::default()
    };
    check_create(
        &mut ContainerConfig::default(),
        &mut hc,
        &NetworkingConfig::default(),
        &full(),
    )
    .unwrap();
    assert_eq!(hc.memory_swap, Some(128 << 20));
}

#[test]
fn uint_lists_as_go_parses_them() {
    assert_eq!(parse_uint_list(""), Some(BTreeSet::new()));
    assert_eq!(parse_uint_list("0-2,4"), Some([0, 1, 2, 4].into()));
    assert_eq!(parse_uint_list("+1"), Some([1].into()));
    assert_eq!(parse_uint_list("2-1"), None);
    assert_eq!(parse_uint_list("a"), None);
    assert_eq!(parse_uint_list("1,"), None);
    assert_eq!(parse_uint_list("-1"), None);
}
