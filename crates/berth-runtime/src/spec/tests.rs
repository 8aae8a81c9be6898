//! Spec generation against the configs dockerd really wrote
//! (`testdata/oci-config-samples`, copied from
//! `shared/reference/oci-config-samples`), plus the options the samples do
//! not cover.

use super::*;
use serde_json::{json, Value};

/// The busybox image's `/etc/passwd` and `/etc/group`.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nsync:x:4:100:sync:/bin:/bin/sync\nmail:x:8:8:mail:/var/spool/mail:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\noperator:x:37:37:Operator:/var:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
const GROUP: &str = "root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\nsys:x:3:root,bin,adm\nadm:x:4:root,adm,daemon\ntty:x:5:\ndisk:x:6:root,adm\nlp:x:7:lp\nmem:x:8:\nkmem:x:9:\nwheel:x:10:root\nfloppy:x:11:root\nmail:x:12:mail\ndialout:x:20:root\ntape:x:26:root\nvideo:x:27:root\nstaff:x:50:\nnogroup:x:65534:\n";
const IMAGE_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ROOTFS: &str = "/var/lib/berth/overlay/0123456789ab/merged";
const CONTAINERS: &str = "/var/lib/berth/containers/";

fn sample(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/oci-config-samples")
        .join(format!("{name}.config.json"));
    serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
}

fn replace_strings(v: &mut Value, f: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => *s = f(s),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_strings(x, f)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_strings(x, f)),
        _ => {}
    }
}

/// Replaces what differs by nature between two runs (ids, paths, hostnames
/// derived from the id) with placeholders, and puts capability sets in one
/// order.
fn normalize(mut v: Value, id: &str, rootfs: &str, containers: &str, cgroup_parent: &str) -> Value {
    let short = id[..12].to_string();
    let (id, rootfs, containers, cgroup_parent) = (
        id.to_string(),
        rootfs.to_string(),
        containers.to_string(),
        cgroup_parent.to_string(),
    );
    replace_strings(&mut v, &move |s: &str| {
        let s = s
            .replace(&rootfs, "<ROOTFS>")
            .replace(&containers, "<CONTAINERS>/");
        let s = if s.starts_with(&cgroup_parent) {
            s.replacen(&cgroup_parent, "<CGROUP_PARENT>/", 1)
        } else {
            s
        };
        s.replace(&id, "<ID>").replace(&short, "<ID12>")
    });
    if let Some(c) = v
        .pointer_mut("/process/capabilities")
        .and_then(Value::as_object_mut)
    {
        for set in c.values_mut() {
            if let Some(a) = set.as_array_mut() {
                a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            }
        }
    }
    v
}

fn normalize_sample(name: &str) -> Value {
    let mut v = sample(name);
    let id = v["linux"]["cgroupsPath"]
        .as_str()
        .unwrap()
        .trim_start_matches("/docker/")
        .to_string();
    let rootfs = v["root"]["path"].as_str().unwrap().to_string();
    // Deliberate difference: no libnetwork-setkey prestart hook (berth sets
    // up networking itself, not from inside runc).
    v.as_object_mut().unwrap().remove("hooks");
    // Deliberate difference: no SCMP_ARCH_X32 on a kernel without the x32
    // ABI (see seccomp::without_x32).
    if !super::seccomp::x32_abi_enabled() {
        if let Some(arches) = v["linux"]["seccomp"]["architectures"].as_array_mut() {
            arches.retain(|a| a != "SCMP_ARCH_X32");
        }
    }
    normalize(v, &id, &rootfs, "/var/lib/docker/containers/", "/docker/")
}

fn normalize_ours(spec: &Spec) -> Value {
    normalize(to_json(spec).unwrap(), ID, ROOTFS, CONTAINERS, "/berth/")
}

fn busybox_rootfs() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("etc")).unwrap();
    fs::write(d.path().join("etc/passwd"), PASSWD).unwrap();
    fs::write(d.path().join("etc/group"), GROUP).unwrap();
    d
}

/// `docker run -d busybox sleep 600`, as the engine would describe it.
fn base(user: &str, tty: bool, hostname: Option<&str>, env: &[&str]) -> ContainerSpec {
    let image = busybox_rootfs();
    let hostname = hostname.unwrap_or(&ID[..12]).to_string();
    let mut config_env = vec![IMAGE_PATH.to_string()];
    config_env.extend(env.iter().map(|s| s.to_string()));
    let dir = format!("{CONTAINERS}{ID}");
    ContainerSpec {
        id: ID.into(),
        rootfs: ROOTFS.into(),
        args: vec!["sleep".into(), "600".into()],
        env: docker_env(&config_env, &hostname, tty),
        cwd: "/".into(),
        user: resolve_user(image.path(), user).unwrap(),
        hostname,
        tty,
        hosts_path: format!("{dir}/hosts").into(),
        hostname_path: format!("{dir}/hostname").into(),
        resolv_conf_path: format!("{dir}/resolv.conf").into(),
        cgroups_path: format!("/berth/{ID}"),
        // The samples come from a cgroup v1 host.
        cgroupns: CgroupnsMode::Host,
        ..Default::default()
    }
}

fn assert_matches_sample(name: &str, input: &ContainerSpec) {
    let ours = normalize_ours(&generate(input).unwrap());
    let theirs = normalize_sample(name);
    if ours != theirs {
        let a = serde_json::to_string_pretty(&ours).unwrap();
        let b = serde_json::to_string_pretty(&theirs).unwrap();
        for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
            if x != y {
                panic!("{name}: first difference at line {i}:\n ours:   {x}\n docker: {y}\n\nours:\n{a}");
            }
        }
        panic!("{name}: differs in length\nours:\n{a}\ndocker:\n{b}");
    }
}

#[test]
fn sample_default() {
    assert_matches_sample("default", &base("", false, None, &[]));
}

#[test]
fn sample_limits() {
    // -m 64m --memory-swap 128m --cpus 0.5 --cpu-shares 512 --pids-limit 20 --cpuset-cpus 0
    let input = ContainerSpec {
        memory: Some(64 << 20),
        memory_swap: Some(128 << 20),
        nano_cpus: Some(500_000_000),
        cpu_shares: Some(512),
        pids_limit: Some(20),
        cpuset_cpus: Some("0".into()),
        ..base("", false, None, &[])
    };
    assert_matches_sample("limits", &input);
}

#[test]
fn sample_tty_user_workdir() {
    // -it -u nobody -w /tmp -e FOO=bar --hostname myhost
    let input = ContainerSpec {
        cwd: "/tmp".into(),
        ..base("nobody", true, Some("myhost"), &["FOO=bar"])
    };
    assert_matches_sample("tty-user-workdir", &input);
}

#[test]
fn sample_readonly_bind_tmpfs() {
    // --read-only -v /srv:/data:ro --tmpfs /scratch:size=10m
    let input = ContainerSpec {
        readonly_rootfs: true,
        binds: vec![BindMount {
            source: "/srv".into(),
            destination: "/data".into(),
            readonly: true,
            propagation: Propagation::Rprivate,
            non_recursive: false,
        }],
        tmpfs: HashMap::from([("/scratch".to_string(), "size=10m".to_string())]),
        ..base("", false, None, &[])
    };
    assert_matches_sample("readonly-bind-tmpfs", &input);
}

#[test]
fn sample_network_none() {
    // --network none: a namespace of its own with nothing in it.
    assert_matches_sample(
        "network-none",
        &ContainerSpec {
            network: NetNs::New,
            ..base("", false, None, &[])
        },
    );
}

#[test]
fn sample_capadd_capdrop() {
    // --cap-add NET_ADMIN --cap-drop CHOWN --security-opt no-new-privileges
    let input = ContainerSpec {
        cap_add: vec!["NET_ADMIN".into()],
        cap_drop: vec!["CAP_CHOWN".into()],
        no_new_privileges: true,
        ..base("", false, None, &[])
    };
    assert_matches_sample("capadd-capdrop", &input);
}

fn gen(input: &ContainerSpec) -> Value {
    to_json(&generate(input).unwrap()).unwrap()
}

fn mount<'a>(v: &'a Value, dest: &str) -> Option<&'a Value> {
    v["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == dest)
}

fn destinations(v: &Value) -> Vec<String> {
    v["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["destination"].as_str().unwrap().to_string())
        .collect()
}

fn ns_types(v: &Value) -> Vec<String> {
    v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn privileged() {
    let v = gen(&ContainerSpec {
        privileged: true,
        readonly_rootfs: true,
        ..base("", false, None, &[])
    });
    let all = all_capabilities();
    assert_eq!(
        v["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .len(),
        all.len()
    );
    assert_eq!(
        v["process"]["capabilities"]["effective"],
        v["process"]["capabilities"]["bounding"]
    );
    assert!(v["linux"].get("seccomp").is_none());
    assert!(v["linux"].get("maskedPaths").is_none());
    assert!(v["linux"].get("readonlyPaths").is_none());
    assert_eq!(
        v["linux"]["resources"]["devices"],
        json!([{"allow": true, "access": "rwm"}])
    );
    assert!(v["linux"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["path"] == "/dev/null"));
    // /sys and the cgroup mount become writable even with --read-only.
    assert_eq!(
        mount(&v, "/sys").unwrap()["options"],
        json!(["nosuid", "noexec", "nodev"])
    );
    assert_eq!(
        mount(&v, "/sys/fs/cgroup").unwrap()["options"],
        json!(["nosuid", "noexec", "nodev"])
    );
    assert_eq!(v["root"]["readonly"], true);
}

#[test]
fn host_namespaces() {
    let input = ContainerSpec {
        network: NetNs::Host,
        ipc: NsMode::Host,
        pid: NsMode::Host,
        uts: NsMode::Host,
        domainname: "example.org".into(),
        ..base("", false, None, &[])
    };
    let v = gen(&input);
    assert_eq!(ns_types(&v), ["mount"]);
    // No own network namespace: no network sysctls; host uts: no hostname,
    // no domainname.
    assert!(v["linux"].get("sysctl").is_none());
    assert!(v.get("hostname").is_none());
    // Host IPC: the host's /dev/shm instead of a private tmpfs.
    assert_eq!(
        mount(&v, "/dev/shm").unwrap(),
        &json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rprivate"]})
    );
    assert_eq!(
        destinations(&v).iter().filter(|d| *d == "/dev/shm").count(),
        1
    );
}

#[test]
fn joined_namespaces() {
    let input = ContainerSpec {
        network: NetNs::Container("/proc/42/ns/net".into()),
        pid: NsMode::Path("/proc/42/ns/pid".into()),
        ipc: NsMode::Path("/proc/42/ns/ipc".into()),
        cgroupns: CgroupnsMode::Private,
        ..base("", false, None, &[])
    };
    let v = gen(&input);
    assert_eq!(
        v["linux"]["namespaces"],
        json!([
            {"type": "mount"},
            {"type": "network", "path": "/proc/42/ns/net"},
            {"type": "uts"},
            {"type": "pid", "path": "/proc/42/ns/pid"},
            {"type": "ipc", "path": "/proc/42/ns/ipc"},
            {"type": "cgroup"}
        ])
    );
    // Another container's network namespace: its sysctls are not ours to set.
    assert!(v["linux"].get("sysctl").is_none());
    // A namespace prepared for this container is its own: sysctls apply.
    let v = gen(&ContainerSpec {
        network: NetNs::Path("/run/berth/netns/x".into()),
        ..base("", false, None, &[])
    });
    assert_eq!(
        v["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"],
        "0"
    );
}

#[test]
fn cgroupns_default_follows_the_host() {
    let v = gen(&ContainerSpec {
        cgroupns: CgroupnsMode::Default,
        ..base("", false, None, &[])
    });
    let v2 = cgroups::detect(Path::new(cgroups::DEFAULT_ROOT)) == CgroupVersion::V2;
    assert_eq!(ns_types(&v).contains(&"cgroup".to_string()), v2);
}

#[test]
fn sysctls_domainname_ulimits_oom() {
    let input = ContainerSpec {
        domainname: "example.org".into(),
        sysctls: HashMap::from([
            (
                "net.ipv4.ip_unprivileged_port_start".to_string(),
                "1024".to_string(),
            ),
            ("net.core.somaxconn".to_string(), "1024".to_string()),
        ]),
        ulimits: vec![
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 4096,
            },
            Ulimit {
                name: "core".into(),
                soft: -1,
                hard: -1,
            },
        ],
        oom_score_adj: -500,
        oom_kill_disable: true,
        memory_reservation: Some(1 << 20),
        memory_swappiness: Some(10),
        blkio_weight: 300,
        shm_size: 1 << 30,
        ..base("", false, None, &[])
    };
    let v = gen(&input);
    assert_eq!(
        v["linux"]["sysctl"],
        json!({
            "net.ipv4.ip_unprivileged_port_start": "1024",
            "net.ipv4.ping_group_range": "0 2147483647",
            "net.core.somaxconn": "1024",
            "kernel.domainname": "example.org"
        })
    );
    assert_eq!(
        v["process"]["rlimits"],
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
            {"type": "RLIMIT_CORE", "soft": u64::MAX, "hard": u64::MAX}
        ])
    );
    assert_eq!(v["process"]["oomScoreAdj"], -500);
    assert_eq!(
        v["linux"]["resources"]["memory"],
        json!({"reservation": 1048576, "swappiness": 10, "disableOOMKiller": true})
    );
    assert_eq!(v["linux"]["resources"]["blockIO"], json!({"weight": 300}));
    assert_eq!(
        mount(&v, "/dev/shm").unwrap()["options"],
        json!(["nosuid", "noexec", "nodev", "mode=1777", "size=1073741824"])
    );
}

#[test]
fn cpu_period_quota_and_pids_unlimited() {
    let v = gen(&ContainerSpec {
        cpu_period: Some(50_000),
        cpu_quota: Some(25_000),
        cpuset_mems: Some("0".into()),
        pids_limit: Some(0),
        ..base("", false, None, &[])
    });
    assert_eq!(
        v["linux"]["resources"]["cpu"],
        json!({"shares": 0, "period": 50000, "quota": 25000, "mems": "0"})
    );
    assert_eq!(v["linux"]["resources"]["pids"], json!({"limit": -1}));
    let e = generate(&ContainerSpec {
        nano_cpus: Some(1),
        cpu_period: Some(1000),
        ..base("", false, None, &[])
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Conflicting options: Nano CPUs and CPU Period cannot both be set"
    );
}

#[test]
fn user_mounts_replace_defaults_and_sort_by_depth() {
    let input = ContainerSpec {
        binds: vec![
            BindMount {
                source: "/a".into(),
                destination: "/x/y/z".into(),
                readonly: false,
                propagation: Propagation::Rshared,
                non_recursive: false,
            },
            BindMount {
                source: "/b".into(),
                destination: "/etc/hosts".into(),
                readonly: true,
                propagation: Propagation::Rprivate,
                non_recursive: false,
            },
            BindMount {
                source: "/c".into(),
                destination: "/w//".into(),
                readonly: false,
                propagation: Propagation::Rslave,
                non_recursive: false,
            },
        ],
        tmpfs: HashMap::from([
            ("/dev/shm".to_string(), "size=1m".to_string()),
            ("/run".to_string(), String::new()),
        ]),
        ..base("", false, None, &[])
    };
    let v = gen(&input);
    assert_eq!(
        destinations(&v),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/w",
            "/run",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/dev/shm",
            "/x/y/z"
        ]
    );
    // The user's /etc/hosts replaces the generated one.
    assert_eq!(mount(&v, "/etc/hosts").unwrap()["source"], "/b");
    assert_eq!(
        mount(&v, "/etc/hosts").unwrap()["options"],
        json!(["rbind", "ro", "rprivate"])
    );
    assert_eq!(mount(&v, "/dev/shm").unwrap()["type"], "tmpfs");
    assert_eq!(
        mount(&v, "/x/y/z").unwrap()["options"],
        json!(["rbind", "rshared"])
    );
    assert_eq!(v["linux"]["rootfsPropagation"], "shared");

    // Mounting /dev drops every default under /dev.
    let v = gen(&ContainerSpec {
        binds: vec![BindMount {
            source: "/dev".into(),
            destination: "/dev".into(),
            ..Default::default()
        }],
        ..base("", false, None, &[])
    });
    assert!(!destinations(&v).iter().any(|d| d.starts_with("/dev/")));
}

#[test]
fn readonly_rootfs_leaves_user_mounts_alone() {
    let v = gen(&ContainerSpec {
        readonly_rootfs: true,
        binds: vec![BindMount {
            source: "/srv".into(),
            destination: "/data".into(),
            ..Default::default()
        }],
        ..base("", false, None, &[])
    });
    assert_eq!(
        mount(&v, "/data").unwrap()["options"],
        json!(["rbind", "rprivate"])
    );
    assert_eq!(
        mount(&v, "/dev/mqueue").unwrap()["options"],
        json!(["nosuid", "noexec", "nodev"])
    );
    assert_eq!(
        mount(&v, "/etc/hosts").unwrap()["options"],
        json!(["rbind", "ro", "rprivate"])
    );
}

#[test]
fn security_overrides() {
    let v = gen(&ContainerSpec {
        seccomp: Seccomp::Unconfined,
        masked_paths: Some(vec![]),
        readonly_paths: Some(vec!["/proc/sys".into()]),
        ..base("", false, None, &[])
    });
    assert!(v["linux"].get("seccomp").is_none());
    assert!(v["linux"].get("maskedPaths").is_none());
    assert_eq!(v["linux"]["readonlyPaths"], json!(["/proc/sys"]));

    let custom = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}"#;
    let v = gen(&ContainerSpec {
        seccomp: Seccomp::Custom(custom.into()),
        ..base("", false, None, &[])
    });
    assert_eq!(
        v["linux"]["seccomp"],
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]})
    );

    // --cap-add SYS_ADMIN opens the mount family in the default profile.
    let v = gen(&ContainerSpec {
        cap_add: vec!["sys_admin".into()],
        ..base("", false, None, &[])
    });
    let syscalls = v["linux"]["seccomp"]["syscalls"].as_array().unwrap();
    assert!(syscalls
        .iter()
        .any(|s| s["names"].as_array().unwrap().contains(&json!("mount"))));
}

#[test]
fn invalid_inputs_are_errors() {
    let ok = base("", false, None, &[]);
    let cases: Vec<(ContainerSpec, &str)> = vec![
        (ContainerSpec { args: vec![], ..ok.clone() }, "No command specified"),
        (ContainerSpec { cwd: "tmp".into(), ..ok.clone() }, "the working directory 'tmp' is invalid, it needs to be an absolute path"),
        (ContainerSpec { cap_add: vec!["FOO".into()], ..ok.clone() }, "unknown capability: \"CAP_FOO\""),
        (ContainerSpec { oom_score_adj: 1001, ..ok.clone() }, "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
        (ContainerSpec { cpu_shares: Some(-1), ..ok.clone() }, "shares: invalid argument"),
        (ContainerSpec { shm_size: -1, ..ok.clone() }, "invalid shm size -1"),
        (
            ContainerSpec { tmpfs: HashMap::from([("/t".to_string(), "bogus".to_string())]), ..ok.clone() },
            "Invalid tmpfs option [\"bogus\"]",
        ),
        (
            ContainerSpec { tmpfs: HashMap::from([("t".to_string(), String::new())]), ..ok.clone() },
            "invalid mount config for type \"tmpfs\": mount path must be absolute: \"t\"",
        ),
        (
            ContainerSpec {
                binds: vec![BindMount { source: "/x".into(), destination: "/".into(), ..Default::default() }],
                ..ok.clone()
            },
            "invalid mount config for type \"bind\": destination can't be '/'",
        ),
        (
            ContainerSpec {
                binds: vec![BindMount { source: "rel".into(), destination: "/x".into(), ..Default::default() }],
                ..ok.clone()
            },
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute",
        ),
        (ContainerSpec { ulimits: vec![Ulimit { name: "bogus".into(), soft: 1, hard: 1 }], ..ok.clone() }, "invalid ulimit type: bogus"),
        (
            ContainerSpec { ulimits: vec![Ulimit { name: "nofile".into(), soft: 10, hard: 1 }], ..ok.clone() },
            "ulimit soft limit must be less than or equal to hard limit: 10 > 1",
        ),
        (ContainerSpec { seccomp: Seccomp::Custom("{".into()), ..ok.clone() }, "Decoding seccomp profile failed"),
    ];
    for (input, msg) in cases {
        let e = generate(&input).unwrap_err();
        assert!(e.to_string().starts_with(msg), "got {e:?}, want {msg}");
    }
}

#[test]
fn write_bundle_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b");
    let spec = generate(&ContainerSpec {
        cap_add: vec!["ALL".into()],
        ..base("", false, None, &[])
    })
    .unwrap();
    write_bundle(&bundle, &spec).unwrap();
    let text = fs::read_to_string(bundle.join("config.json")).unwrap();
    let back: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(back, spec);
    // Capabilities in kernel order, deterministically.
    let v: Value = serde_json::from_str(&text).unwrap();
    let b = v["process"]["capabilities"]["bounding"].as_array().unwrap();
    assert_eq!(b[0], "CAP_CHOWN");
    assert_eq!(b[1], "CAP_DAC_OVERRIDE");
    assert_eq!(
        fs::read_dir(&bundle).unwrap().count(),
        1,
        "no temp file left"
    );
    // Overwrite works.
    write_bundle(&bundle, &spec).unwrap();
}

#[test]
fn docker_env_rules() {
    assert_eq!(
        docker_env(&[], "h", false),
        [DEFAULT_PATH_ENV, "HOSTNAME=h"]
    );
    assert_eq!(
        docker_env(
            &[
                "PATH=/bin".into(),
                "A=1".into(),
                "HOSTNAME".into(),
                "B=2".into()
            ],
            "h",
            true
        ),
        ["PATH=/bin", "TERM=xterm", "A=1", "B=2"]
    );
    assert_eq!(
        docker_env(&["TERM=dumb".into()], "h", true),
        [DEFAULT_PATH_ENV, "HOSTNAME=h", "TERM=dumb"]
    );
}

#[test]
fn container_spec_is_serde() {
    let input = base("nobody", true, None, &["X=1"]);
    let back: ContainerSpec =
        serde_json::from_str(&serde_json::to_string(&input).unwrap()).unwrap();
    assert_eq!(back, input);
    // Missing fields take defaults.
    let partial: ContainerSpec =
        serde_json::from_str(r#"{"id": "x", "network": {"Path": "/run/netns/x"}}"#).unwrap();
    assert_eq!(partial.network, NetNs::Path("/run/netns/x".into()));
    assert_eq!(partial.seccomp, Seccomp::Default);
}

#[test]
fn init_is_pid_one_only_in_a_private_pid_namespace() {
    let input = ContainerSpec {
        init: true,
        init_path: "/usr/bin/tini-static".into(),
        ..base("", false, None, &[])
    };
    let v = gen(&input);
    assert_eq!(
        v["process"]["args"],
        json!(["/sbin/docker-init", "--", "sleep", "600"])
    );
    assert_eq!(
        mount(&v, "/sbin/docker-init").unwrap(),
        &json!({"destination": "/sbin/docker-init", "type": "bind", "source": "/usr/bin/tini-static", "options": ["bind", "ro"]})
    );
    // Right after docker's defaults, before the user's mounts.
    assert_eq!(destinations(&v)[7], "/sbin/docker-init");

    let host_pid = gen(&ContainerSpec {
        pid: NsMode::Host,
        ..input.clone()
    });
    assert_eq!(host_pid["process"]["args"], json!(["sleep", "600"]));
    assert!(mount(&host_pid, "/sbin/docker-init").is_none());

    let missing = generate(&ContainerSpec {
        init_path: PathBuf::new(),
        ..input
    });
    assert_eq!(
        missing.unwrap_err().to_string(),
        "exec: \"docker-init\": executable file not found in $PATH"
    );
}

#[test]
fn ipc_none_and_joined_shm() {
    let v = gen(&ContainerSpec {
        shm: Shm::None,
        ..base("", false, None, &[])
    });
    assert!(mount(&v, "/dev/shm").is_none());
    assert!(ns_types(&v).contains(&"ipc".to_string()));
    let v = gen(&ContainerSpec {
        ipc: NsMode::Path("/proc/42/ns/ipc".into()),
        shm: Shm::Bind("/proc/42/root/dev/shm".into()),
        ..base("", false, None, &[])
    });
    assert_eq!(
        mount(&v, "/dev/shm").unwrap(),
        &json!({"destination": "/dev/shm", "type": "bind", "source": "/proc/42/root/dev/shm", "options": ["rbind", "rprivate"]})
    );
}

#[test]
fn blkio_realtime_and_kernel_memory_reach_the_spec() {
    let dev = |value| {
        vec![BlkioDevice {
            path: "/dev/null".into(),
            value,
        }]
    };
    let v = gen(&ContainerSpec {
        blkio_weight: 300,
        blkio_weight_device: dev(200),
        blkio_read_bps: dev(1 << 20),
        blkio_write_bps: dev(2 << 20),
        blkio_read_iops: dev(100),
        blkio_write_iops: dev(200),
        cpu_realtime_period: Some(1_000_000),
        cpu_realtime_runtime: Some(950_000),
        kernel_memory: Some(64 << 20),
        kernel_memory_tcp: Some(32 << 20),
        memory_swappiness: Some(10),
        ..base("", false, None, &[])
    });
    let r = &v["linux"]["resources"];
    assert_eq!(
        r["blockIO"],
        json!({
            "weight": 300,
            "weightDevice": [{"major": 1, "minor": 3, "weight": 200}],
            "throttleReadBpsDevice": [{"major": 1, "minor": 3, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": 1, "minor": 3, "rate": 2097152}],
            "throttleReadIOPSDevice": [{"major": 1, "minor": 3, "rate": 100}],
            "throttleWriteIOPSDevice": [{"major": 1, "minor": 3, "rate": 200}],
        })
    );
    assert_eq!(r["cpu"]["realtimePeriod"], 1_000_000);
    assert_eq!(r["cpu"]["realtimeRuntime"], 950_000);
    assert_eq!(r["memory"]["kernel"], 64 << 20);
    assert_eq!(r["memory"]["kernelTCP"], 32 << 20);
    assert_eq!(r["memory"]["swappiness"], 10);
    let missing = generate(&ContainerSpec {
        blkio_read_bps: vec![BlkioDevice {
            path: "/nonexistent-dev".into(),
            value: 1,
        }],
        ..base("", false, None, &[])
    });
    assert!(missing.is_err());
}

#[test]
fn annotations_reach_the_spec_and_none_leaves_them_out() {
    let plain = generate(&base("", false, None, &[])).unwrap();
    assert!(plain.annotations().is_none());
    let input = ContainerSpec {
        annotations: [("org.example.team".to_string(), "infra".to_string())].into(),
        ..base("", false, None, &[])
    };
    let spec = generate(&input).unwrap();
    assert_eq!(
        spec.annotations().as_ref().unwrap()["org.example.team"],
        "infra"
    );
}
