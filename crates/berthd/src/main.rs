//! berthd: the berth daemon. Serves the Docker Engine API on a unix socket
//! and owns all state; containers run under their own shims and outlive it.

mod body;
mod error;
mod routes;
mod server;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "berthd",
    version,
    about = "berth daemon: a Docker Engine API compatible container engine"
)]
struct Args {
    /// Socket to listen on (unix:///path)
    #[arg(
        short = 'H',
        long = "host",
        default_value = "unix:///run/berth/berth.sock"
    )]
    host: Vec<String>,
    /// Root directory of persistent state
    #[arg(long, default_value = "/var/lib/berth")]
    root: PathBuf,
    /// Root directory of execution state
    #[arg(long = "exec-root", default_value = "/run/berth")]
    exec_root: PathBuf,
    /// OCI runtime binary
    #[arg(long, default_value = "runc")]
    runtime: String,
    /// Log level (trace, debug, info, warn, error)
    #[arg(short = 'l', long = "log-level", default_value = "info")]
    log_level: String,
    /// Parent cgroup of all containers
    #[arg(long = "cgroup-parent", default_value = "berth")]
    cgroup_parent: String,
    /// The berth-shim binary (default: next to berthd, then $PATH)
    #[arg(long)]
    shim: Option<PathBuf>,
    /// Init binary for `--init` containers (default: docker-init, then
    /// tini-static, in $PATH or /usr/bin)
    #[arg(long = "init-path")]
    init_path: Option<PathBuf>,
    /// Check that the stores and the kernel agree, print each problem, and
    /// exit (0: consistent, 1: problems, 2: could not check). Changes
    /// nothing; run it while berthd is stopped.
    #[arg(long)]
    check: bool,
    /// A registry reached over plain http when https fails (host[:port]
    /// or a CIDR); loopback registries always are
    #[arg(long = "insecure-registry")]
    insecure_registry: Vec<String>,
    /// A mirror pulls try first: URL (Docker Hub's) or DOMAIN=URL (any
    /// registry's)
    #[arg(long = "registry-mirror")]
    registry_mirror: Vec<String>,
    /// Extra CAs and client certificates per registry:
    /// <dir>/<host[:port]>/{*.crt,*.cert,*.key}
    #[arg(long = "certs-dir", default_value = "/etc/berth/certs.d")]
    certs_dir: PathBuf,
    /// Layers pulled at once per pull
    #[arg(long = "max-concurrent-downloads", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    max_concurrent_downloads: u16,
    /// The default bridge's interface, made if missing; `none` for no
    /// default bridge
    #[arg(short = 'b', long = "bridge", default_value = "berth0")]
    bridge: String,
    /// The default bridge's address and prefix (e.g. 10.213.0.1/24);
    /// default: the first free dockerd pool
    #[arg(long)]
    bip: Option<ipnet::IpNet>,
    /// Where the default bridge's containers get their addresses (a part
    /// of --bip's subnet)
    #[arg(long = "fixed-cidr")]
    fixed_cidr: Option<ipnet::IpNet>,
    /// Where networks without a subnet get one: base=CIDR,size=PREFIX
    /// (repeatable; default dockerd's 172.17-31.0.0/16 and 192.168.0.0/20s)
    #[arg(long = "default-address-pool")]
    default_address_pool: Vec<String>,
    /// DNS servers for containers (and where the embedded DNS forwards)
    #[arg(long)]
    dns: Vec<std::net::IpAddr>,
    /// Write packet-filter rules (NAT, published ports, isolation)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    iptables: bool,
    /// Masquerade traffic leaving the bridges
    #[arg(long = "ip-masq", default_value_t = true, action = clap::ArgAction::Set)]
    ip_masq: bool,
    /// Let containers on the same bridge talk to each other
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    icc: bool,
}

/// The networking flags, checked before anything is made.
fn network_config(args: &Args) -> Result<berth_engine::network::NetConfig> {
    if args.bridge == "docker0" {
        bail!("berthd does not take over docker0: name another bridge with --bridge");
    }
    if args.bridge != "none" && (args.bridge.is_empty() || args.bridge.len() > 15) {
        bail!("invalid bridge name {:?}: 1 to 15 characters", args.bridge);
    }
    let mut pools = Vec::new();
    for p in &args.default_address_pool {
        pools.push(
            p.parse::<berth_network::ipam::PoolSpec>()
                .with_context(|| format!("--default-address-pool {p}"))?,
        );
    }
    if let (Some(bip), Some(fixed)) = (args.bip, args.fixed_cidr) {
        if !bip.trunc().contains(&fixed) {
            bail!("--fixed-cidr {fixed} is not within --bip {bip}");
        }
    }
    let defaults = berth_engine::network::NetConfig::default();
    Ok(berth_engine::network::NetConfig {
        bridge: args.bridge.clone(),
        bip: args.bip,
        fixed_cidr: args.fixed_cidr,
        pools: if pools.is_empty() {
            defaults.pools
        } else {
            pools
        },
        resolv_conf: defaults.resolv_conf,
        dns: args.dns.clone(),
        firewall: args.iptables,
        ip_masq: args.ip_masq,
        icc: args.icc,
    })
}

/// `--init-path`, or the first init binary found. A given path that is not
/// there does not stop the daemon (dockerd starts too): only the containers
/// that ask for an init fail, when the runtime cannot bind it.
fn init_path(given: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(p) = given {
        return Ok(Some(find_binary(&p.to_string_lossy()).unwrap_or_else(
            || {
                tracing::warn!("init binary {} not found", p.display());
                p.to_path_buf()
            },
        )));
    }
    Ok(["docker-init", "tini-static"].iter().find_map(|name| {
        find_binary(name).or_else(|| {
            let p = Path::new("/usr/bin").join(name);
            p.is_file().then_some(p)
        })
    }))
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.components().count() > 1 {
        return p.exists().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

/// `--check`: prints the problems; the exit code says how it went.
fn check(config: &berth_engine::Config) -> i32 {
    match berth_engine::check::check(config) {
        Ok(problems) if problems.is_empty() => {
            println!("consistent: {}", config.root.display());
            0
        }
        Ok(problems) => {
            for p in &problems {
                println!("{p}");
            }
            1
        }
        Err(e) => {
            eprintln!("berthd --check: {e}");
            2
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    berth_engine::failpoint::init();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log_level))
        .with_writer(std::io::stderr)
        .init();
    let runtime = find_binary(&args.runtime)
        .with_context(|| format!("runtime {} not found", args.runtime))?;
    let shim = match args.shim.clone() {
        Some(s) => s,
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("berth-shim")))
            .filter(|p| p.is_file())
            .or_else(|| find_binary("berth-shim"))
            .context("berth-shim not found next to berthd or in $PATH")?,
    };
    let mut sockets = Vec::new();
    for host in &args.host {
        match host.strip_prefix("unix://") {
            Some(path) => sockets.push(PathBuf::from(path)),
            None => bail!("unsupported host {host}: only unix:// sockets are supported"),
        }
    }
    let network = network_config(&args)?;
    let config = berth_engine::Config {
        root: args.root,
        exec_root: args.exec_root,
        runtime,
        shim,
        cgroup_parent: args.cgroup_parent,
        init_path: init_path(args.init_path.as_deref())?,
        registry: berth_engine::distribution::RegistryConfig::new(
            &args.insecure_registry,
            &args.registry_mirror,
            Some(args.certs_dir.clone()),
            usize::from(args.max_concurrent_downloads),
        )?,
        network,
    };
    if args.check {
        std::process::exit(check(&config));
    }
    // One thread serves the API; blocking work (tar, fs, runc) goes to the
    // blocking pool. This keeps the idle daemon small.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(32)
        .thread_keep_alive(std::time::Duration::from_secs(5))
        .build()?;
    rt.block_on(server::run(config, sockets))
}
