//! Effects: a body both daemons accept is run on both with a probe that
//! prints what the container sees (identity, capabilities, namespaces,
//! mounts, limits, environment); the normalized outputs must match.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{create, Answer, Http, API};

/// What the probe prints, one `key value` line each. Plain busybox sh.
const PROBE: &str = r#"id
grep -E '^(Uid|Gid|Groups|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
echo "oom_score_adj $(cat /proc/self/oom_score_adj)"
for n in pid ipc uts net cgroup; do echo "ns $n $(readlink /proc/self/ns/$n)"; done
echo "pid1 $(cat /proc/1/comm)"
echo "hostname $(hostname)"
echo "domainname $(cat /proc/sys/kernel/domainname)"
echo "cwd $(pwd)"
ulimit -a | sed 's/^/ulimit /'
env | sort | sed 's/^/env /'
while read -r src dst type opts rest; do echo "mount $dst $type $opts"; done < /proc/mounts | sort
for f in memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.memsw.limit_in_bytes memory/memory.swappiness memory/memory.oom_control cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares cpuset/cpuset.cpus cpuset/cpuset.mems pids/pids.max memory.max memory.low memory.swap.max cpu.max cpu.weight cpuset.cpus pids.max; do
  [ -r /sys/fs/cgroup/$f ] && echo "cgroup $f $(tr '\n' ' ' < /sys/fs/cgroup/$f)"
done
for s in kernel.msgmax net.ipv4.ip_forward; do
  echo "sysctl $s $(cat /proc/sys/$(echo $s | tr . /) 2>/dev/null)"
done
true
"#;

/// The body to run: the accepted one, with the probe as its command and
/// without what would hide the output (a TTY, auto-removal, a log driver
/// that cannot be read back).
pub fn probe_body(accepted: &Value) -> Value {
    let mut body = accepted.clone();
    let obj = body.as_object_mut().expect("a JSON object");
    obj.insert("Entrypoint".into(), json!(["/bin/sh", "-c"]));
    obj.insert("Cmd".into(), json!([PROBE]));
    for k in ["Tty", "OpenStdin", "StdinOnce", "AttachStdin"] {
        obj.insert(k.into(), json!(false));
    }
    let host = obj
        .entry("HostConfig")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(host) = host {
        host.insert("AutoRemove".into(), json!(false));
        host.insert("LogConfig".into(), json!({"Type": "json-file"}));
    }
    body
}

/// One daemon's run: the status of each step, then exit code and output.
#[derive(Debug)]
pub struct Run {
    pub create: Answer,
    pub start: Option<Answer>,
    pub exit: Option<i64>,
    pub output: Vec<String>,
}

pub fn run(http: Http, body: &[u8]) -> Run {
    let create = create(http, &format!("{API}/containers/create"), body);
    let mut run = Run {
        create,
        start: None,
        exit: None,
        output: Vec::new(),
    };
    let Some(id) = run.create.id() else {
        return run;
    };
    let (status, _, resp) = http("POST", &format!("{API}/containers/{id}/start"), None);
    let start = Answer {
        status,
        text: String::from_utf8_lossy(&resp).to_string(),
    };
    let started = start.class() == 2;
    run.start = Some(start);
    if started {
        let (_, _, resp) = http("POST", &format!("{API}/containers/{id}/wait"), None);
        run.exit = serde_json::from_slice::<Value>(&resp)
            .ok()
            .and_then(|v| v["StatusCode"].as_i64());
        let (_, _, logs) = http(
            "GET",
            &format!("{API}/containers/{id}/logs?stdout=1&stderr=1"),
            None,
        );
        run.output = normalize(&demux(&logs), &id);
    }
    http(
        "DELETE",
        &format!("{API}/containers/{id}?force=1&v=1"),
        None,
    );
    run
}

/// The payload of a multiplexed (non-TTY) stream.
fn demux(mut b: &[u8]) -> String {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let size = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let end = (8 + size).min(b.len());
        out.extend_from_slice(&b[8..end]);
        b = &b[end..];
    }
    String::from_utf8_lossy(&out).to_string()
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Ids, namespace inodes and overlay paths differ by nature; the rest must
/// not.
fn normalize(out: &str, id: &str) -> Vec<String> {
    out.lines()
        .map(|line| {
            let line = line.replace(id, "<ID>").replace(&id[..12], "<ID>");
            let mut parts = line.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("ns"), Some(kind), Some(link)) => {
                    let same = link == host_ns(kind);
                    format!("ns {kind} {}", if same { "host" } else { "private" })
                }
                (Some("mount"), Some(dst), Some(rest)) => {
                    let (fstype, opts) = rest.split_once(' ').unwrap_or((rest, ""));
                    // An overlay's options name the snapshotter's layout;
                    // only ro/rw says something about the container.
                    let keep = if fstype == "overlay" { 1 } else { usize::MAX };
                    let opts: Vec<&str> = opts
                        .split(',')
                        .take(keep)
                        .filter(|o| !o.contains('/'))
                        .collect();
                    format!("mount {dst} {fstype} {}", opts.join(","))
                }
                _ => line,
            }
        })
        .collect()
}

/// Lines one side has and the other lacks, as a readable list.
pub fn diff(berth: &[String], docker: &[String]) -> String {
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    for l in docker {
        *count.entry(l).or_default() += 1;
    }
    for l in berth {
        *count.entry(l).or_default() -= 1;
    }
    let mut out = String::new();
    for l in docker {
        if count.get(l.as_str()).is_some_and(|c| *c > 0) {
            let _ = writeln!(out, "       dockerd only: {l}");
            count.insert(l, 0);
        }
    }
    for l in berth {
        if count.get(l.as_str()).is_some_and(|c| *c < 0) {
            let _ = writeln!(out, "       berth only:   {l}");
            count.insert(l, 0);
        }
    }
    out
}

/// dockerd asks runc for every capability the kernel knows for a privileged
/// container (or CapAdd ALL); on a machine whose own bounding set lacks some
/// (a sandbox without CAP_SYS_RESOURCE, say) runc refuses. That says nothing
/// about berth, so such runs are not compared.
fn oracle_cannot_apply_caps(docker: &Run) -> bool {
    let refused = docker
        .start
        .as_ref()
        .is_some_and(|a| a.class() == 5 && a.text.contains("unable to apply caps"));
    let last_cap: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let full = 1u64.checked_shl(last_cap + 1).map_or(u64::MAX, |v| v - 1);
    let bounding = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(full);
    refused && bounding & full != full
}

/// Compares the two runs; empty when they agree.
pub fn compare(berth: &Run, docker: &Run) -> String {
    let mut out = String::new();
    if berth.create.class() != docker.create.class() {
        let _ = writeln!(
            out,
            "     create: berth {} / dockerd {}",
            berth.create, docker.create
        );
        return out;
    }
    if oracle_cannot_apply_caps(docker) {
        return out;
    }
    let class = |a: &Option<Answer>| a.as_ref().map(Answer::class);
    // As at create: a clearer 400 where dockerd fails with a 500 is fine.
    let clearer = matches!((&berth.start, &docker.start), (Some(b), Some(d)) if b.status == 400 && d.class() == 5);
    if class(&berth.start) != class(&docker.start) && !clearer {
        let show = |a: &Option<Answer>| a.as_ref().map(|a| a.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "     start: berth {} / dockerd {}",
            show(&berth.start),
            show(&docker.start)
        );
        return out;
    }
    // A probe that printed nothing would make every run agree.
    for (who, run) in [("berth", berth), ("dockerd", docker)] {
        let started = run.start.as_ref().is_some_and(|a| a.class() == 2);
        if started && !run.output.iter().any(|l| l.starts_with("uid=")) {
            let _ = writeln!(
                out,
                "     {who}: the probe printed no `id` line: {:?}",
                run.output
            );
        }
    }
    if berth.exit != docker.exit {
        let _ = writeln!(
            out,
            "     exit code: berth {:?} / dockerd {:?}",
            berth.exit, docker.exit
        );
    }
    out.push_str(&diff(&berth.output, &docker.output));
    out
}
