//! A network of its own for each test daemon: a /16 under 10.0.0.0/8 that
//! no other daemon of any test process holds (a lock file per /16, held by
//! the daemon's harness for its life and released by the kernel when the
//! process dies), a bridge named after it, and the clean-up of what the
//! daemon made in the kernel: bridges, the packet-filter table, veths.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};

const LOCK_DIR: &str = "/tmp/berth-test-nets";

pub struct TestNet {
    /// Second octet: the daemon's space is 10.<n>.0.0/16.
    pub n: u8,
    pub bridge: String,
    _lock: File,
}

impl TestNet {
    /// Takes a free /16: none held by another test daemon, none the host
    /// routes already.
    pub fn take() -> TestNet {
        std::fs::create_dir_all(LOCK_DIR).expect("lock dir");
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        let start: u8 = 64 + rand::random::<u8>() % 128;
        for i in 0..128u16 {
            let n = 64 + ((u16::from(start) - 64 + i) % 128) as u8;
            // 10.n.0.0 in /proc/net/route's little-endian hex: 0A n 00 00.
            let hex = format!("0000{n:02X}0A");
            if routes
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(hex.as_str()))
            {
                continue;
            }
            let f = File::create(Path::new(LOCK_DIR).join(format!("{n}.lock"))).expect("lock");
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return TestNet {
                    n,
                    bridge: format!("btn{n}"),
                    _lock: f,
                };
            }
        }
        panic!("no free 10.x.0.0/16 for a test daemon");
    }

    /// berthd's flags for this network.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--bridge".into(),
            self.bridge.clone(),
            "--bip".into(),
            format!("10.{}.0.1/24", self.n),
            "--default-address-pool".into(),
            format!("base=10.{}.0.0/16,size=24", self.n),
        ]
    }

    /// A subnet of this daemon's space for a user network (`k` >= 1).
    pub fn subnet(&self, k: u8) -> String {
        format!("10.{}.{k}.0/24", self.n)
    }

    pub fn table(&self) -> String {
        format!("berth-{}", self.bridge)
    }

    /// Removes the bridges named in `network_dir` (the daemon's network
    /// records), its own bridge and its table. Containers' veths go with
    /// their namespaces or bridges.
    pub fn clean(&self, network_dir: &Path) {
        let mut bridges = vec![self.bridge.clone()];
        if let Ok(entries) = std::fs::read_dir(network_dir) {
            for e in entries.flatten() {
                let Ok(text) = std::fs::read_to_string(e.path()) else {
                    continue;
                };
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    if let Some(b) = v["bridge"].as_str().filter(|b| !b.is_empty()) {
                        bridges.push(b.to_string());
                    }
                }
            }
        }
        for b in bridges {
            if Path::new("/sys/class/net").join(&b).exists() {
                quiet(Command::new("ip").args(["link", "delete", &b]));
            }
        }
        quiet(Command::new("nft").args(["delete", "table", "inet", &self.table()]));
    }
}

fn quiet(cmd: &mut Command) {
    let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Links of the host whose name starts with `prefix`.
pub fn links_with_prefix(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Host veths attached to `bridge`.
pub fn ports_of(bridge: &str) -> Vec<String> {
    std::fs::read_dir(Path::new("/sys/class/net").join(bridge).join("brif"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `nft list table inet <table>`, or "" when there is none.
pub fn ruleset(table: &str) -> String {
    Command::new("nft")
        .args(["list", "table", "inet", table])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
