//! The `POST /containers/create` body as the CLI sends it: the wire's models
//! (bollard's, through berth-api), starting from the zero values the docker
//! CLI always sends, so that the daemon sees the same body from either CLI.

use std::collections::HashMap;

pub use berth_api::create::CreateBody;
pub use berth_api::models::{
    ContainerConfig, DeviceMapping, EndpointSettings, HealthConfig, HostConfig,
    HostConfigCgroupnsModeEnum, HostConfigIsolationEnum, HostConfigLogConfig, Mount,
    MountBindOptions, MountTmpfsOptions, MountTypeEnum, MountVolumeOptions,
    MountVolumeOptionsDriverConfig, NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy,
    RestartPolicyNameEnum,
};

/// The `{}` of `ExposedPorts` and `Volumes` entries.
pub type Empty = HashMap<(), ()>;

/// The body before any flag: docker's zero values (its Go structs without
/// `omitempty`). Lists docker sends as `null` are left out, which both
/// dockerd and berthd read the same way.
pub fn zero_body() -> CreateBody {
    let none = String::new;
    CreateBody {
        config: ContainerConfig {
            hostname: Some(none()),
            domainname: Some(none()),
            user: Some(none()),
            attach_stdin: Some(false),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            tty: Some(false),
            open_stdin: Some(false),
            stdin_once: Some(false),
            image: Some(none()),
            volumes: Some(HashMap::new()),
            working_dir: Some(none()),
            labels: Some(HashMap::new()),
            ..ContainerConfig::default()
        },
        host_config: Some(HostConfig {
            container_id_file: Some(none()),
            log_config: Some(HostConfigLogConfig {
                typ: Some(none()),
                config: Some(HashMap::new()),
            }),
            network_mode: Some(none()),
            port_bindings: Some(HashMap::new()),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::EMPTY),
                maximum_retry_count: Some(0),
            }),
            auto_remove: Some(false),
            volume_driver: Some(none()),
            console_size: Some(vec![0, 0]),
            cgroupns_mode: Some(HostConfigCgroupnsModeEnum::EMPTY),
            dns: Some(Vec::new()),
            dns_options: Some(Vec::new()),
            dns_search: Some(Vec::new()),
            ipc_mode: Some(none()),
            cgroup: Some(none()),
            oom_score_adj: Some(0),
            pid_mode: Some(none()),
            privileged: Some(false),
            publish_all_ports: Some(false),
            readonly_rootfs: Some(false),
            uts_mode: Some(none()),
            userns_mode: Some(none()),
            shm_size: Some(0),
            isolation: Some(HostConfigIsolationEnum::EMPTY),
            cpu_shares: Some(0),
            memory: Some(0),
            nano_cpus: Some(0),
            cgroup_parent: Some(none()),
            blkio_weight: Some(0),
            blkio_weight_device: Some(Vec::new()),
            blkio_device_read_bps: Some(Vec::new()),
            blkio_device_write_bps: Some(Vec::new()),
            blkio_device_read_iops: Some(Vec::new()),
            blkio_device_write_iops: Some(Vec::new()),
            cpu_period: Some(0),
            cpu_quota: Some(0),
            cpu_realtime_period: Some(0),
            cpu_realtime_runtime: Some(0),
            cpuset_cpus: Some(none()),
            cpuset_mems: Some(none()),
            devices: Some(Vec::new()),
            memory_reservation: Some(0),
            memory_swap: Some(0),
            memory_swappiness: Some(0),
            oom_kill_disable: Some(false),
            pids_limit: Some(0),
            ulimits: Some(Vec::new()),
            cpu_count: Some(0),
            cpu_percent: Some(0),
            io_maximum_iops: Some(0),
            io_maximum_bandwidth: Some(0),
            ..HostConfig::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::new()),
        }),
    }
}

/// An endpoint with docker's zero values.
pub fn zero_endpoint() -> EndpointSettings {
    EndpointSettings {
        mac_address: Some(String::new()),
        network_id: Some(String::new()),
        endpoint_id: Some(String::new()),
        gateway: Some(String::new()),
        ip_address: Some(String::new()),
        ip_prefix_len: Some(0),
        ipv6_gateway: Some(String::new()),
        global_ipv6_address: Some(String::new()),
        global_ipv6_prefix_len: Some(0),
        ..EndpointSettings::default()
    }
}

/// What `run` reads back from the body it built.
pub trait BodyFlags {
    fn attach_stdin(&self) -> bool;
    fn attach_stdout(&self) -> bool;
    fn attach_stderr(&self) -> bool;
    fn tty(&self) -> bool;
    fn image(&self) -> &str;
    fn auto_remove(&self) -> bool;
    fn cid_file(&self) -> &str;
    fn dns(&self) -> &[String];
    /// `run -d`: nothing attached, stdin not closed after a client.
    fn detach(&mut self);
}

impl BodyFlags for CreateBody {
    fn attach_stdin(&self) -> bool {
        self.config.attach_stdin.unwrap_or(false)
    }
    fn attach_stdout(&self) -> bool {
        self.config.attach_stdout.unwrap_or(false)
    }
    fn attach_stderr(&self) -> bool {
        self.config.attach_stderr.unwrap_or(false)
    }
    fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }
    fn image(&self) -> &str {
        self.config.image.as_deref().unwrap_or("")
    }
    fn auto_remove(&self) -> bool {
        self.host_config
            .as_ref()
            .and_then(|h| h.auto_remove)
            .unwrap_or(false)
    }
    fn cid_file(&self) -> &str {
        self.host_config
            .as_ref()
            .and_then(|h| h.container_id_file.as_deref())
            .unwrap_or("")
    }
    fn dns(&self) -> &[String] {
        self.host_config
            .as_ref()
            .and_then(|h| h.dns.as_deref())
            .unwrap_or(&[])
    }
    fn detach(&mut self) {
        let c = &mut self.config;
        c.attach_stdin = Some(false);
        c.attach_stdout = Some(false);
        c.attach_stderr = Some(false);
        c.stdin_once = Some(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_body_is_dockers() {
        let v = serde_json::to_value(zero_body()).unwrap();
        assert_eq!(v["Hostname"], "");
        assert_eq!(v["Volumes"], serde_json::json!({}));
        assert!(v.get("Env").is_none());
        let hc = &v["HostConfig"];
        assert_eq!(
            hc["RestartPolicy"],
            serde_json::json!({"Name":"","MaximumRetryCount":0})
        );
        assert_eq!(hc["Isolation"], "");
        assert_eq!(hc["CgroupnsMode"], "");
        assert_eq!(hc["BlkioDeviceWriteIOps"], serde_json::json!([]));
        assert!(hc.get("Mounts").is_none());
        let ep = serde_json::to_value(zero_endpoint()).unwrap();
        assert_eq!(ep["IPPrefixLen"], 0);
        assert!(ep.get("Aliases").is_none());
    }

    #[test]
    fn flags_read_back() {
        let mut b = zero_body();
        b.config.attach_stdin = Some(true);
        b.config.image = Some("busybox".into());
        assert!(b.attach_stdin());
        assert_eq!(b.image(), "busybox");
        assert_eq!(b.dns(), &[] as &[String]);
        b.detach();
        assert!(!b.attach_stdin());
        assert!(!b.auto_remove());
        assert_eq!(b.cid_file(), "");
    }
}
