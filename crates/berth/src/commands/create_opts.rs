//! The flags shared by `run` and `create`, and their mapping onto the
//! `POST /containers/create` body (docker's `opts.go` `parse`).

use std::collections::BTreeMap;
use std::path::Path;

use clap::{ArgAction, Args};

use super::create_body::{
    zero_body, CreateBody, HostConfigCgroupnsModeEnum, HostConfigLogConfig, NetworkingConfig,
    ResourcesUlimits, RestartPolicyNameEnum,
};
use super::create_settings::{
    extra_hosts, healthcheck, kv_map, networks, non_empty, normalize_capability, parse_restart,
    security_opts, valid_namespace_mode, SecurityOpts,
};
use super::resource_opts::ResourceOpts;
use super::{kv_file, mounts, ports};
use crate::cli::parsers::{self, Ulimit};

/// Container configuration flags (`run` and `create`).
#[derive(Debug, Clone, Default, Args)]
pub struct ContainerOpts {
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_parser = parsers::attach)]
    pub attach: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long = "cgroupns", default_value = "")]
    pub cgroupns: String,
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent", default_value = "")]
    pub cgroup_parent: String,
    /// Write the container ID to the file
    #[arg(long = "cidfile", default_value = "")]
    pub cidfile: String,
    #[command(flatten)]
    pub resources: ResourceOpts,
    /// Add a host device to the container
    #[arg(long = "device")]
    pub device: Vec<String>,
    /// Set custom DNS servers
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Skip image verification (default true)
    #[arg(long = "disable-content-trust", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parsers::go_bool)]
    pub disable_content_trust: Option<bool>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Container NIS domain name
    #[arg(long = "domainname", default_value = "")]
    pub domainname: String,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long = "entrypoint")]
    pub entrypoint: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_parser = parsers::env)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long = "expose")]
    pub expose: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd", default_value = "")]
    pub health_cmd: String,
    /// Time between running the check (ms|s|m|h)
    #[arg(long = "health-interval", value_parser = parsers::duration, default_value = "0s")]
    pub health_interval: i64,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", value_parser = parsers::int64, default_value = "0")]
    pub health_retries: i64,
    /// Start period for the container to initialize before starting health-retries countdown
    #[arg(long = "health-start-period", value_parser = parsers::duration, default_value = "0s")]
    pub health_start_period: i64,
    /// Time between running the check during the start period
    #[arg(long = "health-start-interval", value_parser = parsers::duration, default_value = "0s")]
    pub health_start_interval: i64,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long = "health-timeout", value_parser = parsers::duration, default_value = "0s")]
    pub health_timeout: i64,
    /// Container host name
    #[arg(short = 'h', long = "hostname", default_value = "")]
    pub hostname: String,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long = "init", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parsers::go_bool)]
    pub init: Option<bool>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// IPC mode to use
    #[arg(long = "ipc", default_value = "")]
    pub ipc: String,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_parser = parsers::label)]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file")]
    pub label_file: Vec<String>,
    /// Add link to another container
    #[arg(long = "link")]
    pub link: Vec<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver", default_value = "")]
    pub log_driver: String,
    /// Log driver options
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", value_parser = parsers::int64, default_value = "-1", allow_hyphen_values = true)]
    pub memory_swappiness: i64,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount")]
    pub mount: Vec<String>,
    /// Assign a name to the container
    #[arg(long = "name", default_value = "")]
    pub name: String,
    /// Connect a container to a network
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parsers::go_bool)]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", value_parser = parsers::int64, default_value = "0", allow_hyphen_values = true)]
    pub oom_score_adj: i64,
    /// PID namespace to use
    #[arg(long = "pid", default_value = "")]
    pub pid: String,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", default_value = "")]
    pub platform: String,
    /// Give extended privileges to this container
    #[arg(long = "privileged", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parsers::go_bool)]
    pub privileged: bool,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long = "pull", default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parsers::go_bool)]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", default_value = "no")]
    pub restart: String,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long = "rm", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parsers::go_bool)]
    pub rm: bool,
    /// Runtime to use for this container
    #[arg(long = "runtime", default_value = "")]
    pub runtime: String,
    /// Security Options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_parser = parsers::mem_bytes, default_value = "0")]
    pub shm_size: i64,
    /// Signal to stop the container
    #[arg(long = "stop-signal", default_value = "")]
    pub stop_signal: String,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_parser = parsers::int64, allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Storage driver options for the container
    #[arg(long = "storage-opt")]
    pub storage_opt: Vec<String>,
    /// Sysctl options
    #[arg(long = "sysctl")]
    pub sysctl: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Ulimit options
    #[arg(long = "ulimit", value_parser = parsers::ulimit)]
    pub ulimit: Vec<Ulimit>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user", default_value = "")]
    pub user: String,
    /// User namespace to use
    #[arg(long = "userns", default_value = "")]
    pub userns: String,
    /// UTS namespace to use
    #[arg(long = "uts", default_value = "")]
    pub uts: String,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Optional volume driver for the container
    #[arg(long = "volume-driver", default_value = "")]
    pub volume_driver: String,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", default_value = "")]
    pub workdir: String,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// IMAGE [COMMAND] [ARG...]
    #[arg(value_name = "IMAGE", trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Context the mapping needs besides the flags.
#[derive(Debug, Clone, Default)]
pub struct BuildEnv {
    /// For relative bind sources (`./dir:/x`).
    pub cwd: std::path::PathBuf,
    /// The local terminal size (rows, cols), sent as `ConsoleSize`.
    pub console_size: Option<(u16, u16)>,
}

/// A mapped create request.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub body: CreateBody,
    pub name: String,
    pub platform: String,
}

impl ContainerOpts {
    /// The image argument (first positional).
    pub fn image(&self) -> &str {
        self.args.first().map(String::as_str).unwrap_or("")
    }

    /// Maps the flags onto a create request. Errors are docker's messages for
    /// invalid option values.
    pub fn build(&self, env: &BuildEnv) -> Result<CreateRequest, String> {
        let attach_stdin = self.interactive || self.attach.iter().any(|a| a == "stdin");
        let (attach_stdout, attach_stderr) = if self.attach.is_empty() {
            (true, true)
        } else {
            (
                self.attach.iter().any(|a| a == "stdout"),
                self.attach.iter().any(|a| a == "stderr"),
            )
        };
        if self.memory_swappiness != -1 && !(0..=100).contains(&self.memory_swappiness) {
            return Err(format!(
                "invalid value: {}. Valid memory swappiness range is 0-100",
                self.memory_swappiness
            ));
        }
        let vols = mounts::split_volumes(&self.volume, &env.cwd)?;
        let tmpfs = mounts::tmpfs_map(&self.tmpfs);
        let entrypoint = match &self.entrypoint {
            Some(e) if !e.is_empty() => Some(vec![e.clone()]),
            Some(_) => Some(vec![String::new()]),
            None => None,
        };
        let mut port_set = ports::Ports::default();
        for p in &self.publish {
            ports::add_publish(&mut port_set, p)?;
        }
        for e in &self.expose {
            ports::add_expose(&mut port_set, e)?;
        }
        let devices = self
            .device
            .iter()
            .map(|d| mounts::parse_device(d))
            .collect::<Result<Vec<_>, _>>()?;
        let mut env_vars = Vec::new();
        for f in &self.env_file {
            env_vars.extend(kv_file::read_env_file(f)?);
        }
        env_vars.extend(self.env.iter().cloned());
        let mut labels = Vec::new();
        for f in &self.label_file {
            labels.extend(kv_file::read_label_file(f)?);
        }
        labels.extend(self.label.iter().cloned());
        if !valid_namespace_mode(&self.pid, &["host"]) {
            return Err("--pid: invalid PID mode".to_string());
        }
        if !valid_namespace_mode(&self.uts, &["host"]) || self.uts.starts_with("container:") {
            return Err("--uts: invalid UTS mode".to_string());
        }
        if !matches!(self.userns.as_str(), "" | "host") {
            return Err("--userns: invalid USER mode".to_string());
        }
        if !matches!(self.cgroupns.as_str(), "" | "host" | "private") {
            return Err("--cgroupns: invalid CGROUP mode".to_string());
        }
        let restart = parse_restart(&self.restart)?;
        if self.log_driver == "none" && !self.log_opt.is_empty() {
            return Err(format!(
                "invalid logging opts for driver {}",
                self.log_driver
            ));
        }
        let SecurityOpts {
            opts: security_opt,
            masked_paths,
            readonly_paths,
        } = security_opts(self)?;
        let mut storage_opt = BTreeMap::new();
        for o in &self.storage_opt {
            let (k, v) = o.split_once('=').ok_or("invalid storage option")?;
            storage_opt.insert(k.to_string(), v.to_string());
        }
        let healthcheck = healthcheck(self)?;
        for d in &self.dns {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("IP address is not correctly formatted: {d}"));
            }
        }
        for s in &self.sysctl {
            if !s.contains('=') {
                return Err(format!("sysctl '{s}' is not allowed"));
            }
        }
        let mounts = self
            .mount
            .iter()
            .map(|m| mounts::parse_mount(m))
            .collect::<Result<Vec<_>, _>>()?;
        let extra_hosts = extra_hosts(self)?;

        if self.rm
            && !matches!(
                restart.name,
                None | Some(RestartPolicyNameEnum::EMPTY | RestartPolicyNameEnum::NO)
            )
        {
            return Err("conflicting options: cannot specify both --restart and --rm".to_string());
        }
        let (network_mode, endpoints) = networks(self)?;
        let cgroupns_mode = match self.cgroupns.as_str() {
            "host" => HostConfigCgroupnsModeEnum::HOST,
            "private" => HostConfigCgroupnsModeEnum::PRIVATE,
            _ => HostConfigCgroupnsModeEnum::EMPTY,
        };
        let mut body = zero_body();
        let c = &mut body.config;
        c.hostname = Some(self.hostname.clone());
        c.domainname = Some(self.domainname.clone());
        c.user = Some(self.user.clone());
        c.attach_stdin = Some(attach_stdin);
        c.attach_stdout = Some(attach_stdout);
        c.attach_stderr = Some(attach_stderr);
        c.exposed_ports =
            (!port_set.exposed.is_empty()).then(|| port_set.exposed.into_iter().collect());
        c.tty = Some(self.tty);
        c.open_stdin = Some(self.interactive);
        c.stdin_once = Some(self.interactive && attach_stdin);
        c.env = (!env_vars.is_empty()).then_some(env_vars);
        c.cmd = (self.args.len() > 1).then(|| self.args[1..].to_vec());
        c.healthcheck = healthcheck;
        c.image = Some(self.image().to_string());
        c.volumes = Some(
            vols.anonymous
                .iter()
                .map(|v| (v.clone(), Default::default()))
                .collect(),
        );
        c.working_dir = Some(self.workdir.clone());
        c.entrypoint = entrypoint;
        c.labels = Some(kv_map(&labels).into_iter().collect());
        c.stop_signal = (!self.stop_signal.is_empty()).then(|| self.stop_signal.clone());
        c.stop_timeout = self.stop_timeout;
        let hc = body.host_config.get_or_insert_with(Default::default);
        hc.binds = (!vols.binds.is_empty()).then_some(vols.binds);
        hc.container_id_file = Some(self.cidfile.clone());
        hc.log_config = Some(HostConfigLogConfig {
            typ: Some(self.log_driver.clone()),
            config: Some(kv_map(&self.log_opt).into_iter().collect()),
        });
        hc.network_mode = Some(network_mode);
        hc.port_bindings = Some(
            port_set
                .bindings
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect(),
        );
        hc.restart_policy = Some(restart);
        hc.auto_remove = Some(self.rm);
        hc.volume_driver = Some(self.volume_driver.clone());
        hc.volumes_from = non_empty(&self.volumes_from);
        let (rows, cols) = env.console_size.unwrap_or((0, 0));
        hc.console_size = Some(vec![rows.into(), cols.into()]);
        hc.cap_add =
            non_empty(&self.cap_add).map(|v| v.iter().map(|c| normalize_capability(c)).collect());
        hc.cap_drop =
            non_empty(&self.cap_drop).map(|v| v.iter().map(|c| normalize_capability(c)).collect());
        hc.cgroupns_mode = Some(cgroupns_mode);
        hc.dns = Some(self.dns.clone());
        hc.dns_options = Some(self.dns_option.clone());
        hc.dns_search = Some(self.dns_search.clone());
        hc.extra_hosts = non_empty(&extra_hosts);
        hc.group_add = non_empty(&self.group_add);
        hc.ipc_mode = Some(self.ipc.clone());
        hc.links = non_empty(&self.link);
        hc.oom_score_adj = Some(self.oom_score_adj);
        hc.pid_mode = Some(self.pid.clone());
        hc.privileged = Some(self.privileged);
        hc.publish_all_ports = Some(self.publish_all);
        hc.readonly_rootfs = Some(self.read_only);
        hc.security_opt = security_opt;
        hc.storage_opt = (!storage_opt.is_empty()).then(|| storage_opt.into_iter().collect());
        hc.tmpfs = (!tmpfs.is_empty()).then(|| tmpfs.into_iter().collect());
        hc.uts_mode = Some(self.uts.clone());
        hc.userns_mode = Some(self.userns.clone());
        hc.shm_size = Some(self.shm_size);
        hc.sysctls = (!self.sysctl.is_empty()).then(|| kv_map(&self.sysctl).into_iter().collect());
        hc.runtime = (!self.runtime.is_empty()).then(|| self.runtime.clone());
        hc.cpu_shares = Some(self.resources.cpu_shares);
        hc.memory = Some(self.resources.memory);
        hc.nano_cpus = Some(self.resources.cpus);
        hc.cgroup_parent = Some(self.cgroup_parent.clone());
        hc.cpu_period = Some(self.resources.cpu_period);
        hc.cpu_quota = Some(self.resources.cpu_quota);
        hc.cpuset_cpus = Some(self.resources.cpuset_cpus.clone());
        hc.cpuset_mems = Some(self.resources.cpuset_mems.clone());
        hc.devices = Some(devices);
        hc.memory_reservation = Some(self.resources.memory_reservation);
        hc.memory_swap = Some(self.resources.memory_swap);
        hc.memory_swappiness = Some(self.memory_swappiness);
        hc.oom_kill_disable = Some(self.oom_kill_disable);
        hc.pids_limit = Some(self.resources.pids_limit);
        hc.ulimits = Some(dedup_ulimits(&self.ulimit));
        hc.mounts = (!mounts.is_empty()).then_some(mounts);
        hc.masked_paths = masked_paths;
        hc.readonly_paths = readonly_paths;
        hc.init = self.init;
        body.networking_config = Some(NetworkingConfig {
            endpoints_config: Some(endpoints.into_iter().collect()),
        });
        Ok(CreateRequest {
            body,
            name: self.name.clone(),
            platform: self.platform.clone(),
        })
    }
}

/// Later `--ulimit` values for the same name replace earlier ones.
fn dedup_ulimits(list: &[Ulimit]) -> Vec<ResourcesUlimits> {
    let mut out: Vec<ResourcesUlimits> = Vec::new();
    for u in list {
        let limit = ResourcesUlimits {
            name: Some(u.name.clone()),
            soft: Some(u.soft),
            hard: Some(u.hard),
        };
        match out.iter_mut().find(|x| x.name == limit.name) {
            Some(x) => *x = limit,
            None => out.push(limit),
        }
    }
    out
}

/// The working directory, for relative bind sources.
pub fn current_dir() -> std::path::PathBuf {
    std::env::current_dir().unwrap_or_else(|_| Path::new("/").to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        opts: ContainerOpts,
    }

    fn parse(args: &str) -> ContainerOpts {
        let argv = std::iter::once("t").chain(args.split(' '));
        T::try_parse_from(argv).unwrap().opts
    }

    fn body_json(args: &str) -> serde_json::Value {
        let req = parse(args).build(&BuildEnv::default()).unwrap();
        serde_json::to_value(&req.body).unwrap()
    }

    #[test]
    fn plain_run_matches_docker_body() {
        let v = body_json("--rm busybox:local echo hi");
        assert_eq!(v["Cmd"], serde_json::json!(["echo", "hi"]));
        assert_eq!(v["Image"], "busybox:local");
        assert_eq!(v["Env"], serde_json::Value::Null);
        assert_eq!(v["Entrypoint"], serde_json::Value::Null);
        assert_eq!(v["Volumes"], serde_json::json!({}));
        assert_eq!(v["Labels"], serde_json::json!({}));
        assert_eq!(v["AttachStdout"], true);
        assert_eq!(v["AttachStdin"], false);
        assert!(v.get("StopTimeout").is_none());
        assert!(v.get("ExposedPorts").is_none());
        let hc = &v["HostConfig"];
        assert_eq!(hc["AutoRemove"], true);
        assert_eq!(hc["NetworkMode"], "default");
        assert_eq!(hc["MemorySwappiness"], -1);
        assert_eq!(
            hc["RestartPolicy"],
            serde_json::json!({"Name":"no","MaximumRetryCount":0})
        );
        assert_eq!(hc["LogConfig"], serde_json::json!({"Type":"","Config":{}}));
        assert_eq!(hc["Dns"], serde_json::json!([]));
        assert_eq!(hc["CapAdd"], serde_json::Value::Null);
        assert_eq!(hc["ConsoleSize"], serde_json::json!([0, 0]));
        assert!(hc.get("Init").is_none());
        assert!(hc.get("Tmpfs").is_none());
        let ep = &v["NetworkingConfig"]["EndpointsConfig"]["default"];
        assert_eq!(ep["Aliases"], serde_json::Value::Null);
        assert_eq!(ep["IPPrefixLen"], 0);
    }

    #[test]
    fn many_flags_match_docker_body() {
        let v = body_json(
            "-e A=1 -w /tmp -u 0:0 --hostname hosty --entrypoint sh --label a=b \
             --stop-signal SIGUSR1 --stop-timeout 5 -m 64m --cpus 0.5 --pids-limit 50 \
             --shm-size 32m --cap-add NET_ADMIN --cap-drop mknod --init --read-only \
             --tmpfs /t:size=1m --ulimit nofile=1024:2048 --security-opt no-new-privileges \
             --cpu-shares 512 --cpuset-cpus 0-1 --memory-swap 128m --privileged \
             -v /srv:/data:ro -v /anon --network none --rm busybox:local -c x",
        );
        assert_eq!(v["Env"], serde_json::json!(["A=1"]));
        assert_eq!(v["WorkingDir"], "/tmp");
        assert_eq!(v["User"], "0:0");
        assert_eq!(v["Hostname"], "hosty");
        assert_eq!(v["Entrypoint"], serde_json::json!(["sh"]));
        assert_eq!(v["Cmd"], serde_json::json!(["-c", "x"]));
        assert_eq!(v["Labels"], serde_json::json!({"a":"b"}));
        assert_eq!(v["StopSignal"], "SIGUSR1");
        assert_eq!(v["StopTimeout"], 5);
        assert_eq!(v["Volumes"], serde_json::json!({"/anon":{}}));
        let hc = &v["HostConfig"];
        assert_eq!(hc["Memory"], 67108864);
        assert_eq!(hc["MemorySwap"], 134217728);
        assert_eq!(hc["NanoCpus"], 500000000);
        assert_eq!(hc["PidsLimit"], 50);
        assert_eq!(hc["ShmSize"], 33554432);
        assert_eq!(hc["CpuShares"], 512);
        assert_eq!(hc["CpusetCpus"], "0-1");
        assert_eq!(hc["CapAdd"], serde_json::json!(["CAP_NET_ADMIN"]));
        assert_eq!(hc["CapDrop"], serde_json::json!(["CAP_MKNOD"]));
        assert_eq!(hc["Init"], true);
        assert_eq!(hc["ReadonlyRootfs"], true);
        assert_eq!(hc["Privileged"], true);
        assert_eq!(hc["Tmpfs"], serde_json::json!({"/t":"size=1m"}));
        assert_eq!(
            hc["Ulimits"],
            serde_json::json!([{"Name":"nofile","Hard":2048,"Soft":1024}])
        );
        assert_eq!(hc["SecurityOpt"], serde_json::json!(["no-new-privileges"]));
        assert_eq!(hc["Binds"], serde_json::json!(["/srv:/data:ro"]));
        assert_eq!(hc["NetworkMode"], "none");
        assert_eq!(
            v["NetworkingConfig"]["EndpointsConfig"],
            serde_json::json!({})
        );
    }

    #[test]
    fn interactive_tty_and_console_size() {
        let req = parse("-it busybox sh")
            .build(&BuildEnv {
                console_size: Some((30, 100)),
                ..BuildEnv::default()
            })
            .unwrap();
        let v = serde_json::to_value(&req.body).unwrap();
        assert_eq!(v["Tty"], true);
        assert_eq!(v["OpenStdin"], true);
        assert_eq!(v["StdinOnce"], true);
        assert_eq!(v["AttachStdin"], true);
        assert_eq!(v["HostConfig"]["ConsoleSize"], serde_json::json!([30, 100]));
    }

    #[test]
    fn attach_flags_select_streams() {
        let v = body_json("-a stdout busybox");
        assert_eq!(v["AttachStdout"], true);
        assert_eq!(v["AttachStderr"], false);
        assert_eq!(v["AttachStdin"], false);
    }

    #[test]
    fn ports_and_names() {
        let req = parse("--name web -p 127.0.0.1:8080:80 --init=false busybox")
            .build(&BuildEnv::default())
            .unwrap();
        assert_eq!(req.name, "web");
        let v = serde_json::to_value(&req.body).unwrap();
        assert_eq!(v["ExposedPorts"], serde_json::json!({"80/tcp":{}}));
        assert_eq!(
            v["HostConfig"]["PortBindings"],
            serde_json::json!({"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]})
        );
        assert_eq!(v["HostConfig"]["Init"], false);
    }

    #[test]
    fn empty_entrypoint_resets() {
        let v = body_json("--entrypoint= busybox");
        assert_eq!(v["Entrypoint"], serde_json::json!([""]));
    }

    #[test]
    fn user_network_with_alias() {
        let v = body_json("--network mynet --network-alias al busybox");
        assert_eq!(v["HostConfig"]["NetworkMode"], "mynet");
        assert_eq!(
            v["NetworkingConfig"]["EndpointsConfig"]["mynet"]["Aliases"],
            serde_json::json!(["al"])
        );
    }

    #[test]
    fn option_errors() {
        let err = |a: &str| parse(a).build(&BuildEnv::default()).unwrap_err();
        assert_eq!(
            err("--rm --restart always busybox"),
            "conflicting options: cannot specify both --restart and --rm"
        );
        assert_eq!(
            err("--network-alias x busybox"),
            "network-scoped aliases are only supported for user-defined networks"
        );
        assert_eq!(
            err("--memory-swappiness 101 busybox"),
            "invalid value: 101. Valid memory swappiness range is 0-100"
        );
        assert_eq!(
            err("--security-opt foo busybox"),
            "invalid --security-opt: \"foo\""
        );
        assert_eq!(
            err("--restart on-failure:x busybox"),
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert_eq!(
            err("--dns nope busybox"),
            "IP address is not correctly formatted: nope"
        );
        assert_eq!(
            err("--env-file /nonexistent/x busybox"),
            "open /nonexistent/x: no such file or directory"
        );
    }
}
