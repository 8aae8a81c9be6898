use super::*;
use std::fs;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A v1 tree like Debian's hybrid layout: `cpu` and `cpuacct` as symlinks
/// to `cpu,cpuacct`, `systemd` and `unified` too.
fn fake_v1() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for h in [
        "cpu,cpuacct",
        "memory",
        "pids",
        "blkio",
        "freezer",
        "devices",
        "systemd",
        "unified",
    ] {
        fs::create_dir_all(r.join(h)).unwrap();
    }
    std::os::unix::fs::symlink("cpu,cpuacct", r.join("cpu")).unwrap();
    std::os::unix::fs::symlink("cpu,cpuacct", r.join("cpuacct")).unwrap();
    let c = "berth/abc";
    write(&r.join("pids").join(c).join("cgroup.procs"), "10\n11\n");
    write(&r.join("pids").join(c).join("child/cgroup.procs"), "12\n");
    write(&r.join("pids").join(c).join("pids.current"), "3\n");
    write(&r.join("pids").join(c).join("pids.max"), "max\n");
    write(
        &r.join("memory").join(c).join("cgroup.procs"),
        "10\n11\n12\n",
    );
    write(
        &r.join("memory").join(c).join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    write(
        &r.join("memory").join(c).join("memory.usage_in_bytes"),
        "1048576\n",
    );
    write(
        &r.join("memory").join(c).join("memory.max_usage_in_bytes"),
        "2097152\n",
    );
    write(
        &r.join("memory").join(c).join("memory.limit_in_bytes"),
        "67108864\n",
    );
    write(&r.join("memory").join(c).join("memory.failcnt"), "5\n");
    write(
        &r.join("memory").join(c).join("memory.stat"),
        "cache 4096\nrss 8192\ninactive_file 100\ntotal_cache 4096\ntotal_inactive_file 1024\n",
    );
    write(
        &r.join("cpu,cpuacct").join(c).join("cpuacct.usage"),
        "123456789\n",
    );
    write(
        &r.join("cpu,cpuacct").join(c).join("cpuacct.usage_percpu"),
        "100000000 23456789 \n",
    );
    write(
        &r.join("cpu,cpuacct").join(c).join("cpuacct.stat"),
        "user 7\nsystem 3\n",
    );
    write(
        &r.join("cpu,cpuacct").join(c).join("cpu.stat"),
        "nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n",
    );
    write(
        &r.join("blkio")
            .join(c)
            .join("blkio.throttle.io_service_bytes_recursive"),
        "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n",
    );
    write(
        &r.join("blkio")
            .join(c)
            .join("blkio.io_service_bytes_recursive"),
        "Total 0\n",
    );
    t
}

fn fake_v2() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(&r.join("cgroup.controllers"), "cpuset cpu io memory pids\n");
    let d = r.join("berth/abc");
    write(&d.join("cgroup.procs"), "20\n");
    write(&d.join("sub/cgroup.procs"), "21\n22\n");
    write(
        &d.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
    );
    write(&d.join("memory.current"), "2048\n");
    write(&d.join("memory.max"), "max\n");
    write(
        &d.join("memory.stat"),
        "anon 1024\nfile 512\ninactive_file 256\n",
    );
    write(&d.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 2\nnr_throttled 1\nthrottled_usec 7\n");
    write(&d.join("pids.current"), "3\n");
    write(&d.join("pids.max"), "20\n");
    write(
        &d.join("io.stat"),
        "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=5 wbytes=0\n",
    );
    t
}

#[test]
fn detection() {
    assert_eq!(detect(fake_v1().path()), CgroupVersion::V1);
    assert_eq!(detect(fake_v2().path()), CgroupVersion::V2);
}

#[test]
fn invalid_paths() {
    let t = fake_v2();
    for p in ["", "relative/x", "/", "/berth/../../etc", "/berth/./x"] {
        assert!(
            matches!(manager(t.path(), p), Err(Error::CgroupPath(_))),
            "{p}"
        );
    }
}

#[test]
fn v1_procs_and_oom() {
    let t = fake_v1();
    let m = manager(t.path(), "/berth/abc").unwrap();
    assert_eq!(m.path(), "/berth/abc");
    assert_eq!(m.procs().unwrap(), vec![10, 11, 12]);
    assert!(m.oom_killed().unwrap());
    assert_eq!(
        m.oom_events_file(),
        t.path().join("memory/berth/abc/memory.oom_control")
    );
    let gone = manager(t.path(), "/berth/nope").unwrap();
    assert!(gone.procs().unwrap().is_empty());
    assert!(!gone.oom_killed().unwrap());
    assert_eq!(gone.stats().unwrap(), CgroupStats::default());
}

#[test]
fn v1_stats() {
    let t = fake_v1();
    let s = manager(t.path(), "/berth/abc").unwrap().stats().unwrap();
    assert_eq!(s.cpu.usage_total, 123456789);
    assert_eq!(s.cpu.per_cpu, vec![100000000, 23456789]);
    // 7 and 3 ticks of 1/100 s (CLK_TCK is 100 on Linux).
    assert_eq!(s.cpu.usage_user, 70_000_000);
    assert_eq!(s.cpu.usage_system, 30_000_000);
    assert_eq!(
        (
            s.cpu.throttling_periods,
            s.cpu.throttled_periods,
            s.cpu.throttled_time
        ),
        (10, 4, 5000)
    );
    assert_eq!(s.memory.usage, 1048576);
    assert_eq!(s.memory.max_usage, Some(2097152));
    assert_eq!(s.memory.limit, Some(67108864));
    assert_eq!(s.memory.failcnt, Some(5));
    assert_eq!(s.memory.cache, 4096);
    assert_eq!(s.memory.inactive_file, 1024);
    assert_eq!(s.memory.stats["rss"], 8192);
    assert_eq!(
        s.pids,
        PidsStats {
            current: 3,
            limit: None
        }
    );
    assert_eq!(
        s.blkio.io_service_bytes,
        vec![
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            },
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 512
            },
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Total".into(),
                value: 4608
            },
        ]
    );
}

#[test]
fn v1_unlimited_memory() {
    let t = fake_v1();
    fs::write(
        t.path().join("memory/berth/abc/memory.limit_in_bytes"),
        "9223372036854771712\n",
    )
    .unwrap();
    let s = manager(t.path(), "/berth/abc").unwrap().stats().unwrap();
    assert_eq!(s.memory.limit, None);
}

#[test]
fn v1_remove_every_hierarchy() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for h in ["cpu,cpuacct", "memory", "pids", "systemd"] {
        fs::create_dir_all(r.join(h).join("berth/abc/nested")).unwrap();
    }
    fs::create_dir_all(r.join("blkio")).unwrap();
    std::os::unix::fs::symlink("cpu,cpuacct", r.join("cpu")).unwrap();
    let m = manager(r, "/berth/abc").unwrap();
    m.remove().unwrap();
    for h in ["cpu,cpuacct", "memory", "pids", "systemd"] {
        assert!(!r.join(h).join("berth/abc").exists(), "{h}");
        // Only the leaf goes; the parent stays for other containers.
        assert!(r.join(h).join("berth").exists(), "{h}");
    }
    // Absent is fine, twice.
    m.remove().unwrap();
}

#[test]
fn v1_remove_reports_real_errors() {
    let t = fake_v1();
    // A plain directory with files is not a cgroup: rmdir fails, we say so.
    assert!(manager(t.path(), "/berth/abc").unwrap().remove().is_err());
}

#[test]
fn v2_all() {
    let t = fake_v2();
    let m = manager(t.path(), "/berth/abc").unwrap();
    assert_eq!(m.procs().unwrap(), vec![20, 21, 22]);
    assert!(m.oom_killed().unwrap());
    assert_eq!(
        m.oom_events_file(),
        t.path().join("berth/abc/memory.events")
    );
    let s = m.stats().unwrap();
    assert_eq!(
        (s.cpu.usage_total, s.cpu.usage_user, s.cpu.usage_system),
        (1_500_000, 1_000_000, 500_000)
    );
    assert!(s.cpu.per_cpu.is_empty());
    assert_eq!(
        (
            s.cpu.throttling_periods,
            s.cpu.throttled_periods,
            s.cpu.throttled_time
        ),
        (2, 1, 7000)
    );
    assert_eq!(s.memory.usage, 2048);
    assert_eq!(s.memory.limit, None);
    assert_eq!(s.memory.cache, 512);
    assert_eq!(s.memory.inactive_file, 256);
    assert_eq!(
        s.pids,
        PidsStats {
            current: 3,
            limit: Some(20)
        }
    );
    assert_eq!(s.blkio.io_service_bytes.len(), 4);
    assert_eq!(
        s.blkio.io_service_bytes[1],
        BlkioEntry {
            major: 8,
            minor: 0,
            op: "Write".into(),
            value: 200
        }
    );
    assert_eq!(
        s.blkio.io_service_bytes[2],
        BlkioEntry {
            major: 253,
            minor: 1,
            op: "Read".into(),
            value: 5
        }
    );
}

#[test]
fn v2_no_oom_and_remove() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(&r.join("cgroup.controllers"), "memory\n");
    fs::create_dir_all(r.join("berth/x/child")).unwrap();
    let m = manager(r, "/berth/x").unwrap();
    assert!(!m.oom_killed().unwrap());
    assert!(m.procs().unwrap().is_empty());
    m.remove().unwrap();
    assert!(!r.join("berth/x").exists());
    assert!(r.join("berth").exists());
    m.remove().unwrap();
}

#[test]
fn garbage_files() {
    let t = fake_v2();
    fs::write(t.path().join("berth/abc/memory.current"), "lots\n").unwrap();
    fs::write(t.path().join("berth/abc/memory.events"), "\0\0garbage\n").unwrap();
    fs::write(t.path().join("berth/abc/cgroup.procs"), "x\n30\n").unwrap();
    let m = manager(t.path(), "/berth/abc").unwrap();
    assert!(m.stats().is_err());
    assert!(!m.oom_killed().unwrap());
    assert_eq!(m.procs().unwrap(), vec![21, 22, 30]);
}

#[test]
fn children_in_any_hierarchy() {
    let t = fake_v1();
    write(&t.path().join("memory/berth/def/cgroup.procs"), "");
    let names: Vec<String> = children(t.path(), "/berth").unwrap().into_iter().collect();
    assert_eq!(names, ["abc", "def"]);
    assert!(children(t.path(), "/nothing").unwrap().is_empty());
    let t = fake_v2();
    let names: Vec<String> = children(t.path(), "/berth").unwrap().into_iter().collect();
    assert_eq!(names, ["abc"]);
    assert!(children(t.path(), "../x").is_err());
}
