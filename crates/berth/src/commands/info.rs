//! `info` (`system info`): the client's details and the daemon's
//! `GET /info`, laid out like docker's.

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::Value;

use super::version::{scalar, CLIENT_VERSION};
use super::{print_err, print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::error::StatusError;
use crate::format::json_value::Json;
use crate::format::template::Template;
use crate::format::units::bytes_size;

/// `info` flags.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", default_value = "")]
    pub format: String,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// docker's `fprintlnNonEmpty`.
fn line_nonempty(out: &mut String, label: &str, value: &str) {
    if !value.is_empty() {
        out.push_str(&format!("{label} {value}\n"));
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(|x| scalar(Some(x))).collect())
        .unwrap_or_default()
}

/// The `Server:` part of `berth info`.
pub fn render_server_info(info: &Value) -> String {
    let mut o = String::new();
    let g = |k: &str| scalar(info.get(k));
    o.push_str(&format!(" Containers: {}\n", g("Containers")));
    o.push_str(&format!("  Running: {}\n", g("ContainersRunning")));
    o.push_str(&format!("  Paused: {}\n", g("ContainersPaused")));
    o.push_str(&format!("  Stopped: {}\n", g("ContainersStopped")));
    o.push_str(&format!(" Images: {}\n", g("Images")));
    line_nonempty(&mut o, " Server Version:", &g("ServerVersion"));
    line_nonempty(&mut o, " Storage Driver:", &g("Driver"));
    for pair in info
        .get("DriverStatus")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let p = strings(Some(pair));
        if p.len() == 2 {
            o.push_str(&format!("  {}: {}\n", p[0], p[1]));
        }
    }
    for pair in info
        .get("SystemStatus")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let p = strings(Some(pair));
        if p.len() == 2 {
            o.push_str(&format!(" {}: {}\n", p[0], p[1]));
        }
    }
    line_nonempty(&mut o, " Logging Driver:", &g("LoggingDriver"));
    line_nonempty(&mut o, " Cgroup Driver:", &g("CgroupDriver"));
    line_nonempty(&mut o, " Cgroup Version:", &g("CgroupVersion"));
    let plugins = info.get("Plugins").cloned().unwrap_or(Value::Null);
    o.push_str(" Plugins:\n");
    o.push_str(&format!(
        "  Volume: {}\n",
        strings(plugins.get("Volume")).join(" ")
    ));
    o.push_str(&format!(
        "  Network: {}\n",
        strings(plugins.get("Network")).join(" ")
    ));
    let authz = strings(plugins.get("Authorization"));
    if !authz.is_empty() {
        o.push_str(&format!("  Authorization: {}\n", authz.join(" ")));
    }
    o.push_str(&format!(
        "  Log: {}\n",
        strings(plugins.get("Log")).join(" ")
    ));
    let cdi = strings(info.get("CDISpecDirs"));
    if !cdi.is_empty() {
        o.push_str(" CDI spec directories:\n");
        for d in cdi {
            o.push_str(&format!("  {d}\n"));
        }
    }
    let swarm_state = info
        .get("Swarm")
        .map(|s| scalar(s.get("LocalNodeState")))
        .unwrap_or_default();
    o.push_str(&format!(" Swarm: {swarm_state}\n"));
    if let Some(rt) = info.get("Runtimes").and_then(Value::as_object) {
        if !rt.is_empty() {
            let mut names: Vec<&String> = rt.keys().collect();
            names.sort();
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            o.push_str(&format!(" Runtimes: {}\n", names.join(" ")));
            o.push_str(&format!(" Default Runtime: {}\n", g("DefaultRuntime")));
        }
    }
    if g("OSType") == "linux" {
        o.push_str(&format!(" Init Binary: {}\n", g("InitBinary")));
        for (name, key) in [
            ("containerd", "ContainerdCommit"),
            ("runc", "RuncCommit"),
            ("init", "InitCommit"),
        ] {
            let commit = info.get(key).cloned().unwrap_or(Value::Null);
            let id = scalar(commit.get("ID"));
            o.push_str(&format!(" {name} version: {id}"));
            if let Some(expected) = commit.get("Expected").and_then(Value::as_str) {
                if expected != id {
                    o.push_str(&format!(" (expected: {expected})"));
                }
            }
            o.push('\n');
        }
        let sec = strings(info.get("SecurityOptions"));
        if !sec.is_empty() {
            o.push_str(" Security Options:\n");
            for opt in sec {
                let mut name = String::new();
                let mut profile = None;
                for kv in opt.split(',') {
                    match kv.split_once('=') {
                        Some(("name", v)) => name = v.to_string(),
                        Some(("profile", v)) => profile = Some(v.to_string()),
                        Some(_) => {}
                        None => name = kv.to_string(),
                    }
                }
                o.push_str(&format!("  {name}\n"));
                if let Some(p) = profile {
                    o.push_str(&format!("   Profile: {p}\n"));
                }
            }
        }
    }
    line_nonempty(&mut o, " Kernel Version:", &g("KernelVersion"));
    line_nonempty(&mut o, " Operating System:", &g("OperatingSystem"));
    line_nonempty(&mut o, " OSType:", &g("OSType"));
    line_nonempty(&mut o, " Architecture:", &g("Architecture"));
    o.push_str(&format!(" CPUs: {}\n", g("NCPU")));
    let mem = info.get("MemTotal").and_then(Value::as_f64).unwrap_or(0.0);
    o.push_str(&format!(" Total Memory: {}\n", bytes_size(mem)));
    line_nonempty(&mut o, " Name:", &g("Name"));
    line_nonempty(&mut o, " ID:", &g("ID"));
    o.push_str(&format!(" Docker Root Dir: {}\n", g("DockerRootDir")));
    let debug = info.get("Debug").and_then(Value::as_bool).unwrap_or(false);
    o.push_str(&format!(" Debug Mode: {debug}\n"));
    if debug {
        o.push_str(&format!("  File Descriptors: {}\n", g("NFd")));
        o.push_str(&format!("  Goroutines: {}\n", g("NGoroutines")));
        o.push_str(&format!("  System Time: {}\n", g("SystemTime")));
        o.push_str(&format!("  EventsListeners: {}\n", g("NEventsListener")));
    }
    line_nonempty(&mut o, " HTTP Proxy:", &g("HttpProxy"));
    line_nonempty(&mut o, " HTTPS Proxy:", &g("HttpsProxy"));
    line_nonempty(&mut o, " No Proxy:", &g("NoProxy"));
    let labels = strings(info.get("Labels"));
    if !labels.is_empty() {
        o.push_str(" Labels:\n");
        for l in labels {
            o.push_str(&format!("  {l}\n"));
        }
    }
    let experimental = info
        .get("ExperimentalBuild")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    o.push_str(&format!(" Experimental: {experimental}\n"));
    if let Some(reg) = info.get("RegistryConfig").filter(|v| !v.is_null()) {
        let cidrs = strings(reg.get("InsecureRegistryCIDRs"));
        let index = reg.get("IndexConfigs").and_then(Value::as_object);
        if !cidrs.is_empty() || index.is_some_and(|m| !m.is_empty()) {
            o.push_str(" Insecure Registries:\n");
            if let Some(index) = index {
                for (name, cfg) in index {
                    if !cfg.get("Secure").and_then(Value::as_bool).unwrap_or(true) {
                        o.push_str(&format!("  {name}\n"));
                    }
                }
            }
            for c in cidrs {
                o.push_str(&format!("  {c}\n"));
            }
        }
        let mirrors = strings(reg.get("Mirrors"));
        if !mirrors.is_empty() {
            o.push_str(" Registry Mirrors:\n");
            for m in mirrors {
                o.push_str(&format!("  {m}\n"));
            }
        }
    }
    let live = info
        .get("LiveRestoreEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    o.push_str(&format!(" Live Restore Enabled: {live}\n"));
    line_nonempty(&mut o, " Product License:", &g("ProductLicense"));
    if let Some(pools) = info.get("DefaultAddressPools").and_then(Value::as_array) {
        if !pools.is_empty() {
            o.push_str(" Default Address Pools:\n");
            for p in pools {
                o.push_str(&format!(
                    "   Base: {}, Size: {}\n",
                    scalar(p.get("Base")),
                    scalar(p.get("Size"))
                ));
            }
        }
    }
    o.push('\n');
    o
}

fn client_section(debug: bool) -> String {
    format!("Client:\n Version:    {CLIENT_VERSION}\n Context:    default\n Debug Mode: {debug}\n")
}

/// `info`.
pub async fn info(ctx: &Ctx, args: InfoArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    let raw = ctx.client.get_bytes("/info", &Query::new()).await;
    if !args.format.is_empty() {
        let raw = raw?;
        let tmpl = Template::parse(&args.format)
            .map_err(|e| StatusError::exit(64, format!("template parsing error: {e}")))?;
        let json = Json::parse(&String::from_utf8_lossy(&raw)).map_err(|e| anyhow!(e))?;
        let out = tmpl
            .execute(&args.format, &json)
            .map_err(|e| anyhow!("template parsing error: {e}"))?;
        print_out(&format!("{out}\n"));
        return Ok(());
    }
    let mut text = client_section(false);
    text.push('\n');
    text.push_str("Server:\n");
    match raw {
        Ok(raw) => {
            let info: Value = serde_json::from_slice(&raw)?;
            text.push_str(&render_server_info(&info));
            print_out(&text);
            for w in strings(info.get("Warnings")) {
                print_err(&format!("{w}\n"));
            }
            Ok(())
        }
        Err(e) => {
            print_out(&text);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_layout() {
        let info: Value = serde_json::from_str(
            r#"{"Containers":3,"ContainersRunning":1,"ContainersPaused":0,"ContainersStopped":2,"Images":1,
                "ServerVersion":"0.1.0","Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"]],
                "LoggingDriver":"json-file","CgroupDriver":"cgroupfs","CgroupVersion":"2",
                "Plugins":{"Volume":["local"],"Network":["bridge","null"],"Log":["json-file"]},
                "Swarm":{"LocalNodeState":"inactive"},"Runtimes":{"runc":{},"crun":{}},"DefaultRuntime":"runc",
                "OSType":"linux","InitBinary":"","ContainerdCommit":{"ID":"","Expected":""},
                "RuncCommit":{"ID":"v1"},"InitCommit":{"ID":""},
                "SecurityOptions":["name=seccomp,profile=default","name=cgroupns"],
                "KernelVersion":"6.1","OperatingSystem":"Debian","Architecture":"x86_64","NCPU":2,
                "MemTotal":25275183104,"Name":"vm","ID":"abc","DockerRootDir":"/var/lib/berth","Debug":false,
                "ExperimentalBuild":false,"RegistryConfig":{"InsecureRegistryCIDRs":["127.0.0.0/8"],"IndexConfigs":{"docker.io":{"Secure":true}}},
                "LiveRestoreEnabled":false}"#,
        )
        .unwrap();
        let out = render_server_info(&info);
        assert!(out.starts_with(" Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 1\n Server Version: 0.1.0\n Storage Driver: overlay2\n  Backing Filesystem: extfs\n"));
        assert!(out.contains(" Runtimes: crun runc\n Default Runtime: runc\n"));
        assert!(out.contains(" Security Options:\n  seccomp\n   Profile: default\n  cgroupns\n"));
        assert!(out.contains(" Total Memory: 23.54GiB\n"));
        assert!(
            out.contains(" Insecure Registries:\n  127.0.0.0/8\n Live Restore Enabled: false\n\n")
        );
    }
}
