//! `GET /version` and `GET /info`, in docker's shapes.

use std::collections::HashMap;

use bollard_stubs::models::{
    Commit, LocalNodeState, PluginsInfo, RegistryServiceConfig, Runtime, SwarmInfo, SystemInfo,
    SystemInfoCgroupDriverEnum, SystemInfoCgroupVersionEnum, SystemInfoIsolationEnum,
};
use serde_json::{json, Value};

use crate::container::Status;
use crate::Engine;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_release(key: &str) -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_default()
}

/// Total RAM in bytes (also the limit stats report for an unlimited container).
pub(crate) fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The API versions are the wire's, so the caller passes them in.
pub fn version(engine: &Engine, api_version: &str, min_api_version: &str) -> Value {
    let kernel = kernel_version();
    let runtime = engine.config.runtime.display().to_string();
    let arch = berth_image::host_arch();
    json!({
        "Platform": {"Name": "berth"},
        "Components": [
            {"Name": "Engine", "Version": VERSION, "Details": {
                "ApiVersion": api_version, "Arch": arch, "BuildTime": "",
                "Experimental": "false", "GitCommit": "", "GoVersion": "n/a (rust)",
                "KernelVersion": kernel, "MinAPIVersion": min_api_version, "Os": "linux"}},
            {"Name": "runc", "Version": "", "Details": {"GitCommit": "", "Path": runtime}}
        ],
        "Version": VERSION,
        "ApiVersion": api_version,
        "MinAPIVersion": min_api_version,
        "GitCommit": "",
        "GoVersion": "n/a (rust)",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": kernel,
        "BuildTime": ""
    })
}

/// `GET /info` in the wire's model: every key the docker CLI and docker-py
/// read. What berth has no notion of (swarm, plugins it does not run) is
/// reported as dockerd reports it when unused.
pub fn info(engine: &Engine) -> SystemInfo {
    let containers = engine.containers.all();
    let count = |pred: &dyn Fn(Status) -> bool| {
        containers.iter().filter(|c| pred(c.status())).count() as i64
    };
    let images = engine.images.list().map(|l| l.len()).unwrap_or(0);
    let cgroup_v1 = engine.config.cgroup_version() == 1;
    let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let unknown_commit = || Commit {
        id: Some(String::new()),
        expected: Some(String::new()),
    };
    let runtime = Runtime {
        path: Some(engine.config.runtime.display().to_string()),
        ..Default::default()
    };
    let host = berth_runtime::cgroups::Support::host();
    SystemInfo {
        id: Some(String::new()),
        containers: Some(containers.len() as i64),
        containers_running: Some(count(&|s| s == Status::Running || s == Status::Restarting)),
        containers_paused: Some(count(&|s| s == Status::Paused)),
        containers_stopped: Some(count(&|s| !s.is_live())),
        images: Some(images as i64),
        driver: Some("overlay2".into()),
        driver_status: Some(vec![
            vec!["Backing Filesystem".into(), "extfs".into()],
            vec!["Supports d_type".into(), "true".into()],
        ]),
        plugins: Some(PluginsInfo {
            volume: strings(&["local"]),
            network: strings(&["null"]),
            authorization: None,
            log: strings(&["json-file"]),
        }),
        // What the host's cgroups can limit: the create checks use the
        // same probe, so info and the warnings never disagree.
        memory_limit: Some(host.memory_limit),
        swap_limit: Some(host.swap_limit),
        cpu_cfs_period: Some(host.cpu_cfs),
        cpu_cfs_quota: Some(host.cpu_cfs),
        cpu_shares: Some(host.cpu_shares),
        cpu_set: Some(host.cpuset),
        pids_limit: Some(host.pids_limit),
        ipv4_forwarding: Some(true),
        debug: Some(false),
        nfd: Some(0),
        oom_kill_disable: Some(host.oom_kill_disable),
        n_goroutines: Some(0),
        system_time: Some(crate::timefmt::now_rfc3339()),
        logging_driver: Some("json-file".into()),
        cgroup_driver: Some(SystemInfoCgroupDriverEnum::CGROUPFS),
        cgroup_version: Some(if cgroup_v1 {
            SystemInfoCgroupVersionEnum::_1
        } else {
            SystemInfoCgroupVersionEnum::_2
        }),
        n_events_listener: Some(0),
        kernel_version: Some(kernel_version()),
        operating_system: Some(os_release("PRETTY_NAME")),
        os_version: Some(os_release("VERSION_ID")),
        os_type: Some("linux".into()),
        // dockerd reports the kernel's name for the machine (`uname -m`).
        architecture: Some(std::env::consts::ARCH.into()),
        index_server_address: Some("https://index.docker.io/v1/".into()),
        registry_config: Some(RegistryServiceConfig {
            allow_nondistributable_artifacts_cidrs: Some(Vec::new()),
            allow_nondistributable_artifacts_hostnames: Some(Vec::new()),
            insecure_registry_cidrs: Some(insecure_cidrs(&engine.config.registry.insecure_entries)),
            index_configs: Some(index_configs(&engine.config.registry.insecure_entries)),
            mirrors: Some(engine.config.registry.client.mirrors.clone()),
        }),
        ncpu: Some(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1) as i64,
        ),
        mem_total: Some(mem_total() as i64),
        docker_root_dir: Some(engine.config.root.display().to_string()),
        http_proxy: Some(String::new()),
        https_proxy: Some(String::new()),
        no_proxy: Some(String::new()),
        name: Some(hostname()),
        labels: Some(Vec::new()),
        experimental_build: Some(false),
        server_version: Some(VERSION.into()),
        runtimes: Some(HashMap::from([("runc".to_string(), runtime)])),
        default_runtime: Some("runc".into()),
        swarm: Some(SwarmInfo {
            node_id: Some(String::new()),
            node_addr: Some(String::new()),
            local_node_state: Some(LocalNodeState::INACTIVE),
            control_available: Some(false),
            error: Some(String::new()),
            ..Default::default()
        }),
        live_restore_enabled: Some(true),
        isolation: Some(SystemInfoIsolationEnum::EMPTY),
        init_binary: Some(String::new()),
        containerd_commit: Some(unknown_commit()),
        runc_commit: Some(unknown_commit()),
        init_commit: Some(unknown_commit()),
        security_options: strings(&["name=seccomp,profile=builtin"]),
        // dockerd sends `null` here; a client that indexes the key must
        // still find it, and the model leaves out what is `None`.
        warnings: Some(Vec::new()),
        ..Default::default()
    }
}

/// `RegistryConfig.InsecureRegistryCIDRs`: loopback, then the CIDR entries.
fn insecure_cidrs(entries: &[String]) -> Vec<String> {
    let mut out = vec!["127.0.0.0/8".to_string()];
    out.extend(entries.iter().filter(|e| e.contains('/')).cloned());
    out
}

/// `RegistryConfig.IndexConfigs`: Docker Hub, and each insecure host.
fn index_configs(entries: &[String]) -> HashMap<String, bollard_stubs::models::IndexInfo> {
    use bollard_stubs::models::IndexInfo;
    let mut out = HashMap::new();
    out.insert(
        "docker.io".to_string(),
        IndexInfo {
            name: Some("docker.io".into()),
            mirrors: Some(Vec::new()),
            secure: Some(true),
            official: Some(true),
        },
    );
    for e in entries.iter().filter(|e| !e.contains('/')) {
        out.insert(
            e.clone(),
            IndexInfo {
                name: Some(e.clone()),
                mirrors: Some(Vec::new()),
                secure: Some(false),
                official: Some(false),
            },
        );
    }
    out
}
