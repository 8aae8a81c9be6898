//! The persisted container record: one JSON file per container, written as
//! temp + rename so a crash of berthd leaves either the old or the new state.
//!
//! A daemon crash loses nothing either way (the page cache survives it). A
//! power cut is another matter, and only some changes must survive one: those
//! that were acknowledged and that a reboot does not undo by itself. The
//! container's existence (create), its name (rename), its settings (update)
//! and its removal are synced ([`Sync::Durable`]); its run state is not,
//! because after a reboot no container runs and the shim's exit record,
//! which is synced, says how each run ended.

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

    /// Running, paused, or waiting to be started again by its restart
    /// policy: the API treats it as up (stop, kill and `rm -f` apply).
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
    /// Absent until a run with a healthcheck began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::Health>,
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
            health: None,
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
    /// A stop or kill through the API ended the last run: an
    /// `unless-stopped` container stays down, even after a daemon restart.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// Network name -> what the user asked of the container's endpoint
    /// there (aliases, addresses, links, MAC). The one `NetworkMode`
    /// names (`bridge` for `default`) is its first endpoint.
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, bollard_stubs::models::EndpointSettings>,
    /// While it runs: its network namespace, endpoints and ports.
    #[serde(default)]
    pub sandbox: Option<crate::network::SandboxRecord>,
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
                .join(format!("{}.sock", shim_stem(id))),
        }
    }
    pub fn record(&self) -> PathBuf {
        self.dir.join("config.v2.json")
    }
    /// The temp file a save writes before its rename.
    pub fn record_tmp(&self) -> PathBuf {
        self.dir.join(TMP_NAME)
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

/// Whether a write must survive a power cut, not only a daemon crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Written through the page cache: survives a crash of berthd.
    Cached,
    /// fsync of the file and of its directory before returning.
    Durable,
}

/// The temp file a save writes before its rename.
const TMP_NAME: &str = ".config.v2.json.tmp";

pub fn save(paths: &ContainerPaths, record: &ContainerRecord, sync: Sync) -> Result<()> {
    let data = serde_json::to_vec(record)?;
    let tmp = paths.record_tmp();
    let mut f = fs::File::create(&tmp)?;
    std::io::Write::write_all(&mut f, &data)?;
    if sync == Sync::Durable {
        f.sync_all()?;
    }
    drop(f);
    fs::rename(&tmp, paths.record())?;
    if sync == Sync::Durable {
        sync_dir(&paths.dir)?;
    }
    Ok(())
}

/// fsync of a directory: makes the entries created, renamed or removed in
/// it durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// What `<root>/containers` holds.
#[derive(Debug, Default)]
pub struct Scan {
    pub records: Vec<ContainerRecord>,
    /// Directories without a record file: a create or a removal that a
    /// crash interrupted. Nothing refers to them.
    pub orphans: Vec<PathBuf>,
    /// Directories whose record cannot be read. Kept, with a warning: they
    /// may hold a user's logs, and a kill -9 cannot make one (records are
    /// replaced by rename), so something else went wrong.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Reads every record under `<root>/containers`; never fails the daemon.
pub fn scan(root: &Path) -> Scan {
    let mut out = Scan::default();
    let Ok(entries) = fs::read_dir(root.join("containers")) else {
        return out;
    };
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path().join("config.v2.json");
        match fs::read(&path).map(|d| serde_json::from_slice::<ContainerRecord>(&d)) {
            Ok(Ok(rec)) if entry.file_name().to_str() == Some(rec.id.as_str()) => {
                out.records.push(rec)
            }
            Ok(Ok(rec)) => out.unreadable.push((
                entry.path(),
                format!("its record is of container {}", rec.id),
            )),
            Ok(Err(e)) => out.unreadable.push((entry.path(), e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.orphans.push(entry.path()),
            Err(e) => out.unreadable.push((entry.path(), e.to_string())),
        }
    }
    out.records.sort_by(|a, b| a.id.cmp(&b.id));
    out.orphans.sort();
    out
}

/// Loads every readable record under `<root>/containers`.
pub fn load_all(root: &Path) -> Vec<ContainerRecord> {
    scan(root).records
}

/// Removes what an interrupted save left in a container's directory.
pub fn remove_save_leftovers(paths: &ContainerPaths) {
    let _ = fs::remove_file(paths.record_tmp());
}

/// The name of a container's shim socket without its extension: the id's
/// first 16 characters (sun_path holds 108 bytes, so the socket path is
/// kept short).
pub fn shim_stem(id: &str) -> &str {
    &id[..16.min(id.len())]
}

/// Whether any component of `path` is an id for which `is_id` holds: the
/// container a mount point or file under berth's roots belongs to.
pub fn names_any(path: &Path, is_id: impl Fn(&str) -> bool) -> bool {
    path.components()
        .any(|c| is_id(c.as_os_str().to_string_lossy().as_ref()))
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
            stopped_by_user: false,
            networks: Default::default(),
            sandbox: None,
        };
        save(&paths, &rec, Sync::Durable).unwrap();
        let loaded = load_all(root.path());
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].name, "web");
        assert_eq!(loaded[0].state.status, Status::Created);
        assert!(paths.socket.as_os_str().len() < root.path().as_os_str().len() + 30);
    }

    #[test]
    fn a_path_belongs_to_an_id_it_names() {
        let is_abc = |c: &str| c == "abc";
        assert!(names_any(Path::new("/r/image/rw/abc/merged"), is_abc));
        assert!(!names_any(Path::new("/r/image/rw/abcd/merged"), is_abc));
        assert!(!names_any(Path::new("/r/image/rw/ab/merged"), is_abc));
    }

    #[test]
    fn corrupt_records_are_skipped() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("containers").join("x");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config.v2.json"), b"{not json").unwrap();
        fs::create_dir_all(root.path().join("containers").join("half-made")).unwrap();
        let scan = scan(root.path());
        assert!(scan.records.is_empty());
        assert_eq!(scan.unreadable.len(), 1);
        assert_eq!(
            scan.orphans,
            vec![root.path().join("containers").join("half-made")]
        );
    }
}
