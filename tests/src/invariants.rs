//! Crash invariants of a private berthd, checked from outside: what the API
//! lists agrees with what runc and the shims say, every listed container can
//! be removed, removal leaves nothing behind, and the daemon's own store
//! check passes.
//!
//! Each check returns every violation it finds as one line, `<kind>: <subject>
//! (<detail>)`, so that a test or a soak can print all of them at once and
//! count them by kind (`classify`). None of them panics: a daemon that does not
//! answer is a violation too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{bin_dir, try_http_unix, Daemon};

/// What a violation is about; the first word group of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A runc container (running or paused) the API does not list.
    UnlistedRunning,
    /// A runc container in another state the API does not list.
    UnlistedContainer,
    /// Listed, but the API and runc disagree on whether it runs.
    StateMismatch,
    /// A live shim whose container the API does not list.
    OrphanShim,
    /// DELETE of a listed container did not answer 204.
    RemovalFailed,
    LeakedShim,
    LeakedRuncState,
    LeakedMount,
    LeakedCgroup,
    /// A container's directory, a staging dir or a temp file.
    LeakedFile,
    /// `berthd --check` found a problem, or could not run.
    StoreCheck,
    /// The check itself could not be made (API or runc unreachable).
    CheckFailed,
}

const KINDS: [Kind; 12] = [
    Kind::UnlistedRunning,
    Kind::UnlistedContainer,
    Kind::StateMismatch,
    Kind::OrphanShim,
    Kind::RemovalFailed,
    Kind::LeakedShim,
    Kind::LeakedRuncState,
    Kind::LeakedMount,
    Kind::LeakedCgroup,
    Kind::LeakedFile,
    Kind::StoreCheck,
    Kind::CheckFailed,
];

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UnlistedRunning => "running container not listed",
            Kind::UnlistedContainer => "container not listed",
            Kind::StateMismatch => "state mismatch",
            Kind::OrphanShim => "shim of an unlisted container",
            Kind::RemovalFailed => "removal failed",
            Kind::LeakedShim => "shim left after removal",
            Kind::LeakedRuncState => "runc state left after removal",
            Kind::LeakedMount => "mount left after removal",
            Kind::LeakedCgroup => "cgroup left after removal",
            Kind::LeakedFile => "file left after removal",
            Kind::StoreCheck => "store check",
            Kind::CheckFailed => "check failed",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn violation(kind: Kind, subject: impl fmt::Display, detail: impl fmt::Display) -> String {
    format!("{kind}: {subject} ({detail})")
}

/// The kind and subject of a violation line made by this module, so that a
/// soak can count the same container or mount once over many rounds.
pub fn classify(line: &str) -> Option<(Kind, &str)> {
    let (head, rest) = line.split_once(": ")?;
    let kind = KINDS.into_iter().find(|k| k.as_str() == head)?;
    let subject = rest.split_once(" (").map_or(rest, |(s, _)| s);
    Some((kind, subject))
}

/// One entry of `runc list --format json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuncContainer {
    pub id: String,
    /// creating, created, running, paused or stopped.
    pub status: String,
    pub pid: i64,
}

impl RuncContainer {
    fn runs(&self) -> bool {
        matches!(self.status.as_str(), "running" | "paused")
    }
}

/// Parses `runc list --format json`, which prints `null` for no containers.
pub fn parse_runc_list(json: &str) -> Result<Vec<RuncContainer>, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("runc list output: {e}"))?;
    let Some(items) = v.as_array() else {
        return if v.is_null() {
            Ok(Vec::new())
        } else {
            Err(format!("runc list output is not an array: {json}"))
        };
    };
    items
        .iter()
        .map(|c| {
            let id = c["id"].as_str().ok_or_else(|| format!("no id in {c}"))?;
            Ok(RuncContainer {
                id: id.to_string(),
                status: c["status"].as_str().unwrap_or("").to_string(),
                pid: c["pid"].as_i64().unwrap_or(0),
            })
        })
        .collect()
}

/// A live shim process of one daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shim {
    pub pid: i32,
    pub socket: Option<PathBuf>,
}

/// The `--socket` of a shim's command line when `argv` (NUL-split
/// `/proc/PID/cmdline`) is a berth-shim of the daemon whose exec root is
/// `exec_root`: `Some(None)` for such a shim without one, `None` for any
/// other process (runc and the container's own processes name the exec root
/// too).
pub fn shim_socket(argv: &[String], comm: &str, exec_root: &Path) -> Option<Option<PathBuf>> {
    let argv0 = argv.first()?;
    let named = comm.trim() == "berth-shim"
        || Path::new(argv0)
            .file_name()
            .is_some_and(|n| n == "berth-shim");
    let marker = format!("{}/", exec_root.display());
    if !named || !argv.iter().any(|a| a.contains(&marker)) {
        return None;
    }
    let socket = argv
        .iter()
        .position(|a| a == "--socket")
        .and_then(|i| argv.get(i + 1))
        .map(PathBuf::from);
    Some(socket)
}

/// The container id prefix a shim socket stands for:
/// `<exec_root>/shims/<first 16 chars of id>.sock`.
pub fn socket_prefix<'a>(socket: &'a Path, exec_root: &Path) -> Option<&'a str> {
    if socket.parent()? != exec_root.join("shims") {
        return None;
    }
    socket.file_name()?.to_str()?.strip_suffix(".sock")
}

/// Every live berth-shim of this daemon (zombies have no command line).
pub fn shims(d: &Daemon) -> Vec<Shim> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        if let Some(socket) = shim_socket(&argv, &comm, &d.exec_root) {
            out.push(Shim { pid, socket });
        }
    }
    out.sort_by_key(|s| s.pid);
    out
}

/// A container as `GET /containers/json?all=1` lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub state: String,
}

impl Listed {
    fn runs(&self) -> bool {
        matches!(self.state.as_str(), "running" | "paused" | "restarting")
    }
}

pub fn api_list(d: &Daemon) -> Result<Vec<Listed>, String> {
    let (status, _, body) = try_http_unix(&d.socket, "GET", "/containers/json?all=1", None)
        .map_err(|e| format!("GET /containers/json: {e}"))?;
    if status != 200 {
        return Err(format!(
            "GET /containers/json answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("container list: {e}"))?;
    let items = v.as_array().ok_or("container list is not an array")?;
    Ok(items
        .iter()
        .map(|c| Listed {
            id: c["Id"].as_str().unwrap_or("").to_string(),
            state: c["State"].as_str().unwrap_or("").to_string(),
        })
        .collect())
}

pub fn runc_list(d: &Daemon) -> Result<Vec<RuncContainer>, String> {
    let out = Command::new("runc")
        .arg("--root")
        .arg(d.exec_root.join("runc"))
        .args(["list", "--format", "json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run runc list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "runc list failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    parse_runc_list(&String::from_utf8_lossy(&out.stdout))
}

/// [`listed_vs_kernel`], polled until it finds nothing or `within` has
/// passed (after a restart: an interrupted removal the new daemon finishes,
/// a shim that was let go); what it found last.
pub fn settled_listing(d: &Daemon, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let found = listed_vs_kernel(d);
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The API's list against runc's and the live shims. runc is asked before
/// and after the API, and a disagreement counts only when both of runc's
/// answers show it: a container that starts or ends during the API call is
/// not a violation, one that stays out of the API's view is.
pub fn listed_vs_kernel(d: &Daemon) -> Vec<String> {
    let lists = runc_list(d).and_then(|before| {
        let api = api_list(d)?;
        Ok((before, api, runc_list(d)?))
    });
    let (before, api, after) = match lists {
        Ok(l) => l,
        Err(e) => return vec![violation(Kind::CheckFailed, "listed vs kernel", e)],
    };
    let shims = shims(d);
    compare(&before, &api, &after, &shims, &d.exec_root)
}

fn compare(
    before: &[RuncContainer],
    api: &[Listed],
    after: &[RuncContainer],
    shims: &[Shim],
    exec_root: &Path,
) -> Vec<String> {
    let listed: HashMap<&str, &Listed> = api.iter().map(|c| (c.id.as_str(), c)).collect();
    let after_by_id: HashMap<&str, &RuncContainer> =
        after.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut out = Vec::new();
    for b in before {
        let Some(a) = after_by_id.get(b.id.as_str()) else {
            continue;
        };
        match listed.get(b.id.as_str()) {
            None if b.runs() && a.runs() => out.push(violation(
                Kind::UnlistedRunning,
                &b.id,
                format_args!("runc {}, pid {}", a.status, a.pid),
            )),
            None => out.push(violation(
                Kind::UnlistedContainer,
                &b.id,
                format_args!("runc {}", a.status),
            )),
            Some(l) if b.runs() && a.runs() && !l.runs() => out.push(violation(
                Kind::StateMismatch,
                &b.id,
                format_args!("runc {}, API {}", a.status, l.state),
            )),
            Some(_) => {}
        }
    }
    let runs = |list: &[RuncContainer], id: &str| list.iter().any(|c| c.id == id && c.runs());
    for l in api.iter().filter(|l| l.runs()) {
        if !runs(before, &l.id) && !runs(after, &l.id) {
            let runc = after_by_id
                .get(l.id.as_str())
                .map_or("absent", |c| &c.status);
            out.push(violation(
                Kind::StateMismatch,
                &l.id,
                format_args!("API {}, runc {runc}", l.state),
            ));
        }
    }
    let prefixes: HashSet<&str> = api
        .iter()
        .map(|c| c.id.get(..16).unwrap_or(&c.id))
        .collect();
    for s in shims {
        let prefix = s
            .socket
            .as_deref()
            .and_then(|p| socket_prefix(p, exec_root));
        if !prefix.is_some_and(|p| prefixes.contains(p)) {
            out.push(violation(
                Kind::OrphanShim,
                format_args!("pid {}", s.pid),
                format_args!("socket {}", shown(&s.socket)),
            ));
        }
    }
    out
}

fn shown(p: &Option<PathBuf>) -> String {
    p.as_deref()
        .map_or_else(|| "none".to_string(), |p| p.display().to_string())
}

/// `DELETE /containers/{id}?force=1&v=1` for every listed container. A 404
/// counts only when the container is still listed afterwards: an
/// auto-removal may finish between the list and the delete.
pub fn remove_all(d: &Daemon) -> Vec<String> {
    let listed = match api_list(d) {
        Ok(l) => l,
        Err(e) => return vec![violation(Kind::CheckFailed, "remove all", e)],
    };
    let mut out = Vec::new();
    for c in &listed {
        let path = format!("/containers/{}?force=1&v=1", c.id);
        match try_http_unix(&d.socket, "DELETE", &path, None) {
            Ok((204, _, _)) => {}
            Ok((404, _, _)) if !still_listed(d, &c.id) => {}
            Ok((status, _, body)) => out.push(violation(
                Kind::RemovalFailed,
                &c.id,
                format_args!(
                    "was {}, DELETE answered {status}: {}",
                    c.state,
                    String::from_utf8_lossy(&body).trim()
                ),
            )),
            Err(e) => out.push(violation(Kind::RemovalFailed, &c.id, e)),
        }
    }
    out
}

fn still_listed(d: &Daemon, id: &str) -> bool {
    api_list(d).map_or(true, |l| l.iter().any(|c| c.id == id))
}

/// What is left once every container is removed (call after `remove_all`).
/// Shims finish their `runc delete` and the daemon its clean-up after the
/// removal answers, so this polls for up to ten seconds before it reports.
pub fn leaks_after_removal(d: &Daemon) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = leaks(d);
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn leaks(d: &Daemon) -> Vec<String> {
    let mut out = Vec::new();
    for s in shims(d) {
        out.push(violation(
            Kind::LeakedShim,
            format_args!("pid {}", s.pid),
            format_args!("socket {}", shown(&s.socket)),
        ));
    }
    for e in entries(&d.exec_root.join("runc")) {
        out.push(violation(
            Kind::LeakedRuncState,
            e.display(),
            "runc state dir",
        ));
    }
    for m in d.leftover_mounts() {
        out.push(violation(Kind::LeakedMount, m, "mounted"));
    }
    for e in entries(&d.exec_root.join("netns")) {
        out.push(violation(
            Kind::LeakedMount,
            e.display(),
            "network namespace",
        ));
    }
    for v in crate::net::ports_of(&d.net.bridge) {
        out.push(violation(Kind::LeakedMount, v, "veth on the bridge"));
    }
    // One line per cgroup, not per hierarchy it has a directory in.
    let mut cgroups: BTreeMap<String, usize> = BTreeMap::new();
    for c in d.leftover_cgroups() {
        let name = c.file_name().map(|n| n.to_string_lossy().into_owned());
        *cgroups.entry(name.unwrap_or_default()).or_default() += 1;
    }
    for (name, dirs) in cgroups {
        let subject = format_args!("{}/{name}", d.cgroup_parent);
        out.push(violation(
            Kind::LeakedCgroup,
            subject,
            format_args!("{dirs} cgroup dirs"),
        ));
    }
    // The on-disk layout: berth-engine's ContainerPaths, the image store's
    // snapshotter (`image/`) and its content store (`image/content/`).
    let per_container = [
        d.root.join("containers"),
        d.root.join("image/rw"),
        d.exec_root.join("containers"),
        d.exec_root.join("shims"),
        d.root.join("image/tmp"),
        d.root.join("image/content/ingest"),
    ];
    for dir in &per_container {
        for e in entries(dir) {
            out.push(violation(Kind::LeakedFile, e.display(), "left in its dir"));
        }
    }
    let mut tmp = BTreeSet::new();
    find_tmp(&d.root, &d.root.join("image/layers"), &mut tmp);
    for t in tmp {
        if !per_container.iter().any(|dir| t.starts_with(dir)) {
            out.push(violation(Kind::LeakedFile, t.display(), "temp file"));
        }
    }
    out
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// `*.tmp` under `dir`, not following symlinks. What an unpacked layer
/// holds (`layers/<chain>/diff`) is the image's own content, not ours.
fn find_tmp(dir: &Path, layers: &Path, out: &mut BTreeSet<PathBuf>) {
    for e in entries(dir) {
        if e.extension().is_some_and(|x| x == "tmp") {
            out.insert(e.clone());
        }
        let is_dir = std::fs::symlink_metadata(&e).is_ok_and(|m| m.is_dir());
        let layer_content = e.file_name().is_some_and(|n| n == "diff")
            && e.parent().and_then(Path::parent) == Some(layers);
        if is_dir && !layer_content {
            find_tmp(&e, layers, out);
        }
    }
}

/// Runs `berthd --root R --exec-root E --check`, which prints one line per
/// inconsistency and exits 1 when there is any, 0 when the store is sound.
/// Any other outcome (2: it could not check, e.g. because berthd still runs
/// on the root) is a violation too: a check that cannot run must not read as
/// a pass. Call it while the daemon is stopped.
pub fn store_check(d: &Daemon) -> Vec<String> {
    let berthd = bin_dir().join("berthd");
    let mut cmd = Command::new(&berthd);
    cmd.arg("--root")
        .arg(&d.root)
        .arg("--exec-root")
        .arg(&d.exec_root)
        .arg("--check");
    let out = match output_within(&mut cmd, Duration::from_secs(120)) {
        Ok(out) => out,
        Err(e) => {
            let what = format_args!("cannot run {}: {e}", berthd.display());
            return vec![violation(Kind::StoreCheck, "berthd --check", what)];
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    check_outcome(out.status.code(), &stdout, &stderr)
}

/// `cmd`'s output, killing it when it runs longer than `limit` (its status
/// then says so), so that a check that hangs cannot hang a soak.
pub fn output_within(cmd: &mut Command, limit: Duration) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drained on threads of their own: a full pipe would stop the child.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn check_outcome(code: Option<i32>, stdout: &str, stderr: &str) -> Vec<String> {
    match code {
        Some(0) => Vec::new(),
        Some(1) if stdout.lines().any(|l| !l.trim().is_empty()) => stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| violation(Kind::StoreCheck, l.trim(), "berthd --check"))
            .collect(),
        code => {
            let said = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let what = if said.contains("--check") {
                "berthd has no --check flag"
            } else {
                "berthd --check did not run"
            };
            let exit = code.map_or_else(|| "killed".to_string(), |c| format!("exit {c}"));
            vec![violation(
                Kind::StoreCheck,
                what,
                format_args!("{exit}: {}", said.trim()),
            )]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runc(id: &str, status: &str) -> RuncContainer {
        RuncContainer {
            id: id.into(),
            status: status.into(),
            pid: 42,
        }
    }

    fn listed(id: &str, state: &str) -> Listed {
        Listed {
            id: id.into(),
            state: state.into(),
        }
    }

    fn kinds(v: &[String]) -> Vec<Kind> {
        v.iter().map(|l| classify(l).expect(l).0).collect()
    }

    #[test]
    fn runc_list_json() {
        assert_eq!(parse_runc_list("null\n").unwrap(), vec![]);
        let json = r#"[{"ociVersion":"1.0.2-dev","id":"abc","pid":1234,"status":"running",
            "bundle":"/b","rootfs":"/r","created":"2026-01-01T00:00:00Z","owner":"root"},
            {"id":"def","pid":0,"status":"stopped"}]"#;
        assert_eq!(
            parse_runc_list(json).unwrap(),
            vec![
                RuncContainer {
                    id: "abc".into(),
                    status: "running".into(),
                    pid: 1234
                },
                RuncContainer {
                    id: "def".into(),
                    status: "stopped".into(),
                    pid: 0
                },
            ]
        );
        assert!(parse_runc_list("{}").is_err());
        assert!(parse_runc_list("[{\"pid\":1}]").is_err());
        assert!(parse_runc_list("").is_err());
    }

    #[test]
    fn shim_argv() {
        let root = Path::new("/tmp/btx/run");
        let argv: Vec<String> = [
            "/w/target/debug/berth-shim",
            "--start-arg",
            "runc",
            "--start-arg",
            "--root",
            "--start-arg",
            "/tmp/btx/run/runc",
            "--socket",
            "/tmp/btx/run/shims/0123456789abcdef.sock",
        ]
        .map(String::from)
        .to_vec();
        let socket = shim_socket(&argv, "berth-shim\n", root).unwrap().unwrap();
        assert_eq!(socket_prefix(&socket, root), Some("0123456789abcdef"));
        // Another daemon's shim, whose exec root only shares a prefix.
        assert_eq!(
            shim_socket(&argv, "berth-shim", Path::new("/tmp/btx/ru")),
            None
        );
        // runc names the exec root too, but is no shim.
        let runc_argv = ["runc", "--root", "/tmp/btx/run/runc", "delete", "x"].map(String::from);
        assert_eq!(shim_socket(&runc_argv, "runc", root), None);
        // Recognised by argv[0] even when comm differs.
        assert!(shim_socket(&argv, "other", root).is_some());
        let no_socket = argv[..7].to_vec();
        assert_eq!(shim_socket(&no_socket, "berth-shim", root), Some(None));
        assert_eq!(shim_socket(&[], "berth-shim", root), None);
        let elsewhere = Path::new("/tmp/other/0123456789abcdef.sock");
        assert_eq!(socket_prefix(elsewhere, root), None);
    }

    #[test]
    fn comparison_of_the_three_views() {
        let root = Path::new("/r");
        let before = [
            runc("ghost", "running"),
            runc("both", "running"),
            runc("dead", "stopped"),
            runc("ending", "running"),
            runc("wrong", "running"),
        ];
        let after = [
            runc("ghost", "running"),
            runc("both", "running"),
            runc("dead", "stopped"),
            runc("ending", "stopped"),
            runc("wrong", "paused"),
            runc("new", "running"),
        ];
        let api = [
            listed("both", "running"),
            listed("ending", "exited"),
            listed("wrong", "exited"),
            listed("claims", "running"),
        ];
        let v = compare(&before, &api, &after, &[], root);
        assert_eq!(
            kinds(&v),
            vec![
                Kind::UnlistedRunning,
                Kind::UnlistedContainer,
                Kind::StateMismatch,
                Kind::StateMismatch,
            ],
            "{v:#?}"
        );
        assert_eq!(classify(&v[0]), Some((Kind::UnlistedRunning, "ghost")));
        assert_eq!(classify(&v[2]), Some((Kind::StateMismatch, "wrong")));
        assert_eq!(classify(&v[3]), Some((Kind::StateMismatch, "claims")));
        assert!(compare(&[], &[], &[], &[], root).is_empty());
    }

    #[test]
    fn shims_must_belong_to_listed_containers() {
        let root = Path::new("/r");
        let id = "0123456789abcdef0123";
        let shim = |pid, socket: &str| Shim {
            pid,
            socket: Some(PathBuf::from(socket)),
        };
        let shims = [
            shim(1, "/r/shims/0123456789abcdef.sock"),
            shim(2, "/r/shims/fedcba9876543210.sock"),
            shim(3, "/elsewhere/0123456789abcdef.sock"),
            Shim {
                pid: 4,
                socket: None,
            },
        ];
        let v = compare(&[], &[listed(id, "exited")], &[], &shims, root);
        let subjects: Vec<_> = v.iter().map(|l| classify(l).unwrap()).collect();
        assert_eq!(
            subjects,
            vec![
                (Kind::OrphanShim, "pid 2"),
                (Kind::OrphanShim, "pid 3"),
                (Kind::OrphanShim, "pid 4"),
            ]
        );
    }

    #[test]
    fn store_check_outcomes() {
        assert!(check_outcome(Some(0), "", "").is_empty());
        let v = check_outcome(
            Some(1),
            "container abc: no record\n\nlayer x: missing\n",
            "",
        );
        assert_eq!(
            v.iter().map(|l| classify(l).unwrap()).collect::<Vec<_>>(),
            vec![
                (Kind::StoreCheck, "container abc: no record"),
                (Kind::StoreCheck, "layer x: missing"),
            ]
        );
        let clap = "error: unexpected argument '--check' found\n\nUsage: berthd [OPTIONS]";
        let v = check_outcome(Some(2), "", clap);
        assert_eq!(v.len(), 1);
        assert!(v[0].contains("no --check flag"), "{v:?}");
        // Exit 1 without a line, or killed by a signal: not a pass either.
        assert_eq!(check_outcome(Some(1), "", "").len(), 1);
        assert_eq!(check_outcome(None, "", "").len(), 1);
    }

    #[test]
    fn temp_files_outside_layer_content() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let layers = root.join("image/layers");
        std::fs::create_dir_all(layers.join("abc/diff/etc")).unwrap();
        std::fs::write(layers.join("abc/diff/etc/x.tmp"), "").unwrap();
        std::fs::write(layers.join("abc/link.tmp"), "").unwrap();
        std::fs::create_dir_all(root.join("containers/c")).unwrap();
        std::fs::write(root.join("containers/c/.config.v2.json.tmp"), "").unwrap();
        std::fs::write(root.join("keep.json"), "").unwrap();
        let mut found = BTreeSet::new();
        find_tmp(root, &layers, &mut found);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            vec![
                root.join("containers/c/.config.v2.json.tmp"),
                layers.join("abc/link.tmp"),
            ]
        );
    }
}
