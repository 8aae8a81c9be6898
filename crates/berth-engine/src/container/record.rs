//! The persisted container record: one JSON file per container, written as
//! temp + rename so a crash of berthd leaves either the old or the new state.
//! Not fsynced: the record must survive a daemon crash, not a power cut,
//! and containers do not survive a reboot anyway (docker behaves the same).

use std::fs;
use std::path::{Path, PathBuf};

use bollard_stubs::models::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Running or paused: a live process exists.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }
}

const STATES: [Status; 7] = [
    Status::Created,
    Status::Running,
    Status::Paused,
    Status::Restarting,
    Status::Removing,
    Status::Exited,
    Status::Dead,
];

/// `ps -f status=X` with an X that no container can have is a 400 in
/// dockerd, not an empty list.
pub(super) fn check_status_filter(f: &crate::filters::Filters) -> crate::error::Result<()> {
    match f
        .get("status")
        .into_iter()
        .find(|v| !STATES.iter().any(|s| s.as_str() == v))
    {
        None => Ok(()),
        Some(v) => {
            let all: Vec<&str> = STATES.iter().map(|s| s.as_str()).collect();
            Err(crate::error::Error::invalid(format!(
                "invalid filter 'status={v}': invalid value for state ({v}): must be one of {}",
                all.join(", ")
            )))
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: i64,
    pub exit_code: i64,
    pub started_at: String,
    pub finished_at: String,
    pub oom_killed: bool,
    pub error: String,
}

impl Default for State {
    fn default() -> State {
        State {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            oom_killed: false,
            error: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// Without docker's leading slash.
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: String,
    /// Config merged with the image's defaults.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    pub restart_count: i64,
}

impl ContainerRecord {
    pub fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }

    pub fn auto_remove(&self) -> bool {
        self.host_config.auto_remove.unwrap_or(false)
    }

    pub fn labels(&self) -> std::collections::HashMap<String, String> {
        self.config.labels.clone().unwrap_or_default()
    }
}

/// Where a container's files live.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    /// `<root>/containers/<id>`: record, log, hosts files, exit record.
    pub dir: PathBuf,
    /// `<exec-root>/containers/<id>`: the OCI bundle (config.json, pid file).
    pub bundle: PathBuf,
    pub socket: PathBuf,
}

impl ContainerPaths {
    pub fn new(root: &Path, exec_root: &Path, id: &str) -> ContainerPaths {
        ContainerPaths {
            dir: root.join("containers").join(id),
            bundle: exec_root.join("containers").join(id),
            // sun_path holds 108 bytes: keep the socket path short.
            socket: exec_root
                .join("shims")
                .join(format!("{}.sock", &id[..16.min(id.len())])),
        }
    }
    pub fn record(&self) -> PathBuf {
        self.dir.join("config.v2.json")
    }
    pub fn log(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}-json.log"))
    }
    pub fn exit_file(&self) -> PathBuf {
        self.dir.join("exit.json")
    }
    pub fn hostname(&self) -> PathBuf {
        self.dir.join("hostname")
    }
    pub fn hosts(&self) -> PathBuf {
        self.dir.join("hosts")
    }
    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }
}

pub fn save(paths: &ContainerPaths, record: &ContainerRecord) -> Result<()> {
    let data = serde_json::to_vec(record)?;
    let tmp = paths.dir.join(".config.v2.json.tmp");
    fs::write(&tmp, data)?;
    fs::rename(&tmp, paths.record())?;
    Ok(())
}

/// Loads every record under `<root>/containers`; unreadable ones are skipped
/// with a warning rather than stopping the daemon.
pub fn load_all(root: &Path) -> Vec<ContainerRecord> {
    let Ok(entries) = fs::read_dir(root.join("containers")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join("config.v2.json");
        match fs::read(&path).map(|d| serde_json::from_slice::<ContainerRecord>(&d)) {
            Ok(Ok(rec)) => out.push(rec),
            Ok(Err(e)) => tracing::warn!("skipping {}: {e}", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filter_values_are_dockerds() {
        let f = |raw: &str| crate::filters::Filters::parse(Some(raw)).unwrap();
        assert!(check_status_filter(&f(r#"{"status":{"exited":true,"dead":true}}"#)).is_ok());
        let e = check_status_filter(&f(r#"{"status":{"stopped":true}}"#)).unwrap_err();
        assert_eq!(
            e.message,
            "invalid filter 'status=stopped': invalid value for state (stopped): \
             must be one of created, running, paused, restarting, removing, exited, dead"
        );
    }

    #[test]
    fn save_and_load_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let id = "a".repeat(64);
        let paths = ContainerPaths::new(root.path(), root.path(), &id);
        fs::create_dir_all(&paths.dir).unwrap();
        let rec = ContainerRecord {
            id: id.clone(),
            name: "web".into(),
            created: "2026-01-01T00:00:00Z".into(),
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            config: ContainerConfig::default(),
            host_config: HostConfig::default(),
            path: "sh".into(),
            args: vec![],
            state: State::default(),
            restart_count: 0,
        };
        save(&paths, &rec).unwrap();
        let loaded = load_all(root.path());
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].name, "web");
        assert_eq!(loaded[0].state.status, Status::Created);
        assert!(paths.socket.as_os_str().len() < root.path().as_os_str().len() + 30);
    }

    #[test]
    fn corrupt_records_are_skipped() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("containers").join("x");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config.v2.json"), b"{not json").unwrap();
        assert!(load_all(root.path()).is_empty());
    }
}
