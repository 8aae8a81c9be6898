//! `GET /version` and `GET /info`, in docker's shapes.

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
    json!({
        "Platform": {"Name": "berth"},
        "Components": [
            {"Name": "Engine", "Version": VERSION, "Details": {
                "ApiVersion": api_version, "Arch": "amd64", "BuildTime": "",
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
        "Arch": "amd64",
        "KernelVersion": kernel,
        "BuildTime": ""
    })
}

pub fn info(engine: &Engine) -> Value {
    let containers = engine.containers.all();
    let count =
        |pred: &dyn Fn(Status) -> bool| containers.iter().filter(|c| pred(c.status())).count();
    let images = engine.images.list().map(|l| l.len()).unwrap_or(0);
    let cgroup_version = engine.config.cgroup_version().to_string();
    json!({
        "ID": "",
        "Containers": containers.len(),
        "ContainersRunning": count(&|s| s == Status::Running || s == Status::Restarting),
        "ContainersPaused": count(&|s| s == Status::Paused),
        "ContainersStopped": count(&|s| !s.is_live()),
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["null"], "Authorization": null, "Log": ["json-file"]},
        "MemoryLimit": true,
        "SwapLimit": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "Debug": false,
        "NFd": 0,
        "OomKillDisable": cgroup_version == "1",
        "NGoroutines": 0,
        "SystemTime": crate::timefmt::now_rfc3339(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": os_release("PRETTY_NAME"),
        "OSVersion": os_release("VERSION_ID"),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": []},
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "GenericResources": null,
        "DockerRootDir": engine.config.root.display().to_string(),
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": hostname(),
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": VERSION,
        "Runtimes": {"runc": {"path": engine.config.runtime.display().to_string()}},
        "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Warnings": null
    })
}
