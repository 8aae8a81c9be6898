//! End-to-end: berth's own CLI against a private berthd, and its output
//! compared with the stock docker CLI's on the same daemon.

use std::time::Duration;

use berth_tests::{
    assert_stderr_has, busybox_rootfs_tar, busybox_tar, eventually, ok, stdout, text, Daemon,
};

fn load(d: &Daemon) {
    let out = ok(&d.berth(&["load", "-i", busybox_tar().to_str().unwrap()]));
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
}

/// `berth args` and `docker args` on the same daemon: the same exit code,
/// stdout, and stderr (with the program's name swapped).
fn assert_like_docker(d: &Daemon, args: &[&str]) {
    let b = d.berth(args);
    let k = d.docker(args);
    assert_eq!(b.status.code(), k.status.code(), "{args:?}");
    assert_eq!(stdout(&b), stdout(&k), "{args:?}");
    assert_eq!(
        text(&b.stderr).replace("berth", "docker"),
        text(&k.stderr),
        "{args:?}"
    );
}

/// The first line of a table: its column headers, spacing included.
fn header(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

#[test]
fn run_output_and_exit_codes() {
    let d = Daemon::start();
    load(&d);
    assert_eq!(
        ok(&d.berth(&["run", "--rm", "busybox", "echo", "hello from berth"])),
        "hello from berth\n"
    );
    let out = d.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    // Docker's exit codes: 127 not found, 126 cannot invoke, 125 daemon error.
    let out = d.berth(&["run", "--rm", "busybox", "nonexistentcmd"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    let out = d.berth(&["run", "--rm", "busybox", "/etc"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    let out = d.berth(&["run", "--rm", "notloaded:latest", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    let out = d.berth(&["run", "--bogus-flag", "busybox"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    // Flags of `run` reach the container.
    let env_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(env_file.path(), "# comment\nFROM_FILE=yes\n").unwrap();
    let out = ok(&d.berth(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        env_file.path().to_str().unwrap(),
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "--hostname",
        "boat",
        "--entrypoint",
        "sh",
        "busybox",
        "-c",
        "echo $A $FROM_FILE; pwd; id -u; hostname",
    ]));
    assert_eq!(out, "1 yes\n/tmp\n65534\nboat\n");
    let out = ok(&d.berth_stdin(&["run", "-i", "--rm", "busybox", "cat"], Some(b"piped\n")));
    assert_eq!(out, "piped\n");
    assert_eq!(ok(&d.berth(&["ps", "-aq"])), "");
}

#[test]
fn detached_lifecycle_matches_docker() {
    let d = Daemon::start();
    load(&d);
    let id = ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "svc",
        "-l",
        "tier=web",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo up; while true; do sleep 0.1; done",
    ]));
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let ps = ok(&d.berth(&["ps"]));
    assert_eq!(header(&ps), header(&ok(&d.docker(&["ps"]))));
    assert!(ps.contains("svc") && ps.contains("Up "), "{ps}");
    assert_eq!(ok(&d.berth(&["ps", "-q"])).trim(), &id[..12]);
    assert!(eventually(Duration::from_secs(5), || stdout(
        &d.berth(&["logs", "svc"])
    ) == "up\n"));
    let inspect = ok(&d.berth(&["inspect", "-f", "{{.Config.Labels}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", "svc"]));
    assert_eq!(inspect.trim(), "map[tier:web] 67108864 500000000 50");
    ok(&d.berth(&["pause", "svc"]));
    assert_eq!(
        ok(&d.berth(&["inspect", "-f", "{{.State.Status}}", "svc"])).trim(),
        "paused"
    );
    ok(&d.berth(&["unpause", "svc"]));
    let top = ok(&d.berth(&["top", "svc"]));
    assert!(top.contains("PID") && top.contains("sleep"), "{top}");
    ok(&d.berth(&["stop", "svc"]));
    assert_eq!(ok(&d.berth(&["wait", "svc"])).trim(), "0");
    assert_eq!(
        ok(&d.berth(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "svc"
        ]))
        .trim(),
        "exited 0"
    );
    ok(&d.berth(&["start", "svc"]));
    ok(&d.berth(&["restart", "-t", "1", "svc"]));
    ok(&d.berth(&["rename", "svc", "svc2"]));
    let out = d.berth(&["rm", "svc2"]);
    assert_eq!(out.status.code(), Some(1));
    let docker_out = d.docker(&["rm", "svc2"]);
    assert_eq!(text(&out.stderr), text(&docker_out.stderr));
    ok(&d.berth(&["kill", "-s", "KILL", "svc2"]));
    assert_eq!(ok(&d.berth(&["wait", "svc2"])).trim(), "137");
    let created = ok(&d.berth(&["create", "--name", "later", "busybox", "echo", "created"]))
        .trim()
        .to_string();
    assert_eq!(created.len(), 64);
    ok(&d.berth(&["start", "later"]));
    assert_eq!(ok(&d.berth(&["wait", "later"])).trim(), "0");
    assert_eq!(ok(&d.berth(&["logs", "later"])), "created\n");
    let ps = ok(&d.berth(&["ps", "-a", "--filter", "status=exited"]));
    assert!(
        ps.contains("Exited (137)") && ps.contains("Exited (0)"),
        "{ps}"
    );
    ok(&d.berth(&["rm", "-f", "svc2", "later"]));
    assert_eq!(ok(&d.berth(&["ps", "-aq"])), "");
    assert!(d.leftover_mounts().is_empty(), "{:?}", d.leftover_mounts());
}

#[test]
fn logs_follow_tail_and_timestamps() {
    let d = Daemon::start();
    load(&d);
    ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4; do echo $i; sleep 0.2; done; echo done >&2",
    ]));
    let out = d.berth(&["logs", "-f", "ticker"]);
    assert_eq!(ok(&out), "1\n2\n3\n4\n");
    assert_eq!(text(&out.stderr), "done\n");
    // --tail counts lines of both streams, as docker's does.
    let out = d.berth(&["logs", "--tail", "2", "ticker"]);
    assert_eq!(
        (ok(&out).as_str(), text(&out.stderr).as_str()),
        ("4\n", "done\n")
    );
    assert_eq!(
        ok(&d.berth(&["logs", "--tail", "3", "ticker"])),
        ok(&d.docker(&["logs", "--tail", "3", "ticker"]))
    );
    let ts = ok(&d.berth(&["logs", "-t", "ticker"]));
    assert_eq!(ts, ok(&d.docker(&["logs", "-t", "ticker"])));
    assert_eq!(ts.lines().count(), 4);
}

#[test]
fn images_tag_save_import_rmi() {
    let d = Daemon::start();
    load(&d);
    let images = ok(&d.berth(&["images"]));
    assert_eq!(header(&images), header(&ok(&d.docker(&["images"]))));
    assert!(
        images.contains("busybox") && images.contains("latest"),
        "{images}"
    );
    ok(&d.berth(&["tag", "busybox", "bb:v2"]));
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("bb.tar");
    ok(&d.berth(&["save", "-o", tar.to_str().unwrap(), "bb:v2"]));
    let out = ok(&d.berth(&["rmi", "bb:v2"]));
    assert!(out.contains("Untagged: bb:v2"), "{out}");
    let out = ok(&d.berth(&["load", "-i", tar.to_str().unwrap()]));
    assert!(out.contains("Loaded image: bb:v2"), "{out}");
    let hist = ok(&d.berth(&["history", "busybox"]));
    assert_eq!(
        header(&hist),
        header(&ok(&d.docker(&["history", "busybox"])))
    );
    let rootfs = dir.path().join("rootfs.tar");
    busybox_rootfs_tar(&rootfs);
    let id = ok(&d.berth(&[
        "import",
        "-c",
        "CMD [\"echo\", \"imported\"]",
        rootfs.to_str().unwrap(),
        "imp:v1",
    ]));
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(ok(&d.berth(&["run", "--rm", "imp:v1"])), "imported\n");
    let out = d.berth(&["rmi", "nope:latest"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "No such image: nope:latest");
}

#[test]
fn version_info_and_host_selection() {
    let d = Daemon::start();
    let v = ok(&d.berth(&["version"]));
    assert!(v.contains("Server:") && v.contains("API version:"), "{v}");
    let info = ok(&d.berth(&["info"]));
    assert!(info.contains("Containers: 0"), "{info}");
    // DOCKER_HOST selects the daemon when -H is absent.
    let out = std::process::Command::new(berth_tests::bin_dir().join("berth"))
        .arg("version")
        .env("DOCKER_HOST", d.host())
        .env_remove("BERTH_HOST")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // BERTH_HOST too, and it wins over DOCKER_HOST.
    let out = std::process::Command::new(berth_tests::bin_dir().join("berth"))
        .arg("version")
        .env("BERTH_HOST", d.host())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = d.berth(&["inspect", "nosuchthing"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        text(&d.docker(&["inspect", "nosuchthing"]).stderr)
    );
    // No daemon at the address: docker's message and exit code.
    let out = std::process::Command::new(berth_tests::bin_dir().join("berth"))
        .args(["-H", "unix:///nonexistent/berth.sock", "ps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "Cannot connect to the");
}

/// `berth exec` and `berth attach` behave like docker's: same output, same
/// exit codes, same messages.
#[test]
fn exec_and_attach_match_docker() {
    let d = Daemon::start();
    load(&d);
    ok(&d.berth(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"]));
    let cases: &[&[&str]] = &[
        &["exec", "ex", "sh", "-c", "echo out; echo err >&2; exit 5"],
        &["exec", "-u", "nobody", "ex", "id"],
        &[
            "exec",
            "-w",
            "/tmp",
            "-e",
            "A=1",
            "ex",
            "sh",
            "-c",
            "pwd; echo $A",
        ],
        &["exec", "-t", "ex", "tty"],
        &["exec", "ex", "nonexistentcmd"],
        &["exec", "nosuch", "true"],
        &["exec", "ex"],
        &["attach", "nosuch"],
    ];
    for args in cases {
        assert_like_docker(&d, args);
    }
    let out = d.berth_stdin(&["exec", "-i", "ex", "cat"], Some(b"piped\n"));
    assert_eq!(ok(&out), "piped\n");
    ok(&d.berth(&["exec", "-d", "ex", "touch", "/tmp/d"]));
    assert!(eventually(Duration::from_secs(5), || d
        .berth(&["exec", "ex", "test", "-e", "/tmp/d"])
        .status
        .success()));
    // attach to a non-tty container: its output until it exits, then its code.
    ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "at",
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; echo bye; exit 4",
    ]));
    let out = d.berth(&["attach", "--no-stdin", "at"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(stdout(&out), "bye\n");
    let out = d.berth(&["attach", "at"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(
        &out,
        "You cannot attach to a stopped container, start it first",
    );
}

/// `berth events` and `berth stats --no-stream` print what docker prints.
#[test]
fn events_and_stats_match_docker() {
    let d = Daemon::start();
    load(&d);
    ok(&d.berth(&["run", "--rm", "busybox", "true"]));
    ok(&d.berth(&["run", "-d", "--name", "st", "busybox", "sleep", "100"]));
    std::thread::sleep(Duration::from_millis(1100));
    for args in [
        &["events", "--since", "1h", "--until", "0s"][..],
        &[
            "events",
            "--since",
            "1h",
            "--until",
            "0s",
            "--filter",
            "event=start",
        ],
        &[
            "events",
            "--since",
            "1h",
            "--until",
            "0s",
            "--format",
            "{{.Type}}/{{.Action}}",
        ],
        &[
            "events", "--since", "1h", "--until", "0s", "--format", "json",
        ],
    ] {
        assert_eq!(ok(&d.berth(args)), ok(&d.docker(args)), "{args:?}");
    }
    for args in [
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.ID}} {{.PIDs}}",
        ][..],
        &[
            "stats",
            "--no-stream",
            "-a",
            "--format",
            "{{.Container}} {{.Name}}",
        ],
        &[
            "stats",
            "--no-stream",
            "st",
            "--format",
            "{{.Container}} {{.MemPerc}}",
        ],
    ] {
        assert_eq!(ok(&d.berth(args)), ok(&d.docker(args)), "{args:?}");
    }
    let b = ok(&d.berth(&["stats", "--no-stream"]));
    let k = ok(&d.docker(&["stats", "--no-stream"]));
    assert_eq!(header(&b), header(&k));
    let out = d.berth(&["stats", "--no-stream", "nosuch"]);
    assert!(!out.status.success());
}

/// A sorted listing of a tree: relative path, type, and file contents.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else if m.is_dir() {
                out.push(format!("{rel}/"));
                stack.push(p);
            } else {
                out.push(format!(
                    "{rel} = {}",
                    std::fs::read_to_string(&p).unwrap_or_default()
                ));
            }
        }
    }
    out.sort();
    out
}

/// `berth cp` puts things where `docker cp` puts them, both ways.
#[test]
fn cp_lands_where_docker_puts_it() {
    let d = Daemon::start();
    load(&d);
    ok(&d.berth(&[
        "run", "-d", "--name", "cc", "busybox", "sh", "-c",
        "mkdir -p /data/sub && echo hi > /data/f && echo deep > /data/sub/g && ln -s sub/g /data/link && touch /ready && sleep 1000",
    ]));
    assert!(eventually(Duration::from_secs(10), || d
        .berth(&["exec", "cc", "test", "-e", "/ready"])
        .status
        .success()));
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let outs: Vec<Vec<String>> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let run = |args: &[&str]| {
                if i == 0 {
                    d.docker(args)
                } else {
                    d.berth(args)
                }
            };
            let p = |s: &str| dir.path().join(s).display().to_string();
            std::fs::create_dir(dir.path().join("exists")).unwrap();
            for (src, dst) in [
                ("cc:/data", p("")),
                ("cc:/data", p("copy")),
                ("cc:/data/.", p("contents")),
                ("cc:/data/.", p("exists")),
                ("cc:/data/f", p("file")),
                ("cc:/data/f", p("exists")),
                ("cc:/data/link", p("link")),
            ] {
                ok(&run(&["cp", src, &dst]));
            }
            ok(&run(&["cp", "-L", "cc:/data/link", &p("followed")]));
            // Back in, to a directory, to a new name and as contents.
            let tag = if i == 0 { "docker" } else { "berth" };
            ok(&run(&["cp", &p("copy"), &format!("cc:/in-{tag}-dir")]));
            ok(&run(&["cp", &p("file"), "cc:/tmp/"]));
            ok(&run(&[
                "cp",
                &p("copy/."),
                &format!("cc:/tmp/{tag}-contents"),
            ]));
            tree(dir.path())
        })
        .collect();
    assert_eq!(outs[0], outs[1]);
    let listing = ok(&d.berth(&[
        "exec",
        "cc",
        "sh",
        "-c",
        "cd / && ls in-docker-dir in-berth-dir tmp/docker-contents tmp/berth-contents",
    ]));
    let halves: Vec<&str> = listing.split("\n\n").collect();
    assert_eq!(halves.len(), 4, "{listing}");
    assert_eq!(
        halves[0].lines().skip(1).collect::<Vec<_>>(),
        halves[1].lines().skip(1).collect::<Vec<_>>()
    );
    assert_eq!(
        halves[2].lines().skip(1).collect::<Vec<_>>(),
        halves[3].lines().skip(1).collect::<Vec<_>>()
    );
    for args in [
        &["cp", "cc:/nope", "/tmp/x"][..],
        &["cp", "a", "b"],
        &["cp", "cc:/data", "cc:/tmp"],
    ] {
        assert_like_docker(&d, args);
    }
    // docker prints this path with a doubled slash; the reason is the same.
    let out = d.berth(&["cp", "/nonexistent-src", "cc:/tmp"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "lstat /nonexistent-src: no such file or directory");
    let out = d.berth(&["export", "cc"]);
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), d.docker(&["export", "cc"]).stdout.len());
}

/// `update`, `container prune`, `image prune`, `system df`, `diff` and
/// `commit` print what docker prints.
#[test]
fn maintenance_commands_match_docker() {
    let d = Daemon::start();
    load(&d);
    ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "m1",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/x; sleep 100",
    ]));
    ok(&d.berth(&["run", "--name", "m2", "busybox", "true"]));
    for args in [
        &["system", "df"][..],
        &[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}}",
        ],
        &["update", "--memory", "64m", "m1"],
        &["update", "--memory", "1m", "m1"],
        &["update", "--cpus", "0.5", "nosuch"],
        &["port", "m1"],
        &["port", "m1", "80"],
        &["port", "m1", "53/udp"],
    ] {
        assert_like_docker(&d, args);
    }
    let image = ok(&d.berth(&["commit", "m1", "snap:1"]));
    assert!(image.starts_with("sha256:"));
    ok(&d.berth(&["rmi", "snap:1"]));
    // Declining the prompt removes nothing.
    let out = d.berth_stdin(&["container", "prune"], Some(b"n\n"));
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("WARNING! This will remove all stopped containers."));
    assert!(ok(&d.berth(&["ps", "-a", "--format", "{{.Names}}"])).contains("m2"));
    let out = ok(&d.berth(&["container", "prune", "-f"]));
    let id2 = out.lines().nth(1).unwrap_or_default().to_string();
    assert!(
        out.starts_with("Deleted Containers:\n") && id2.len() == 64,
        "{out}"
    );
    assert!(out.ends_with("\nTotal reclaimed space: 0B\n"), "{out}");
    assert_eq!(
        ok(&d.berth(&["ps", "-a", "--format", "{{.Names}}"])),
        "m1\n"
    );
    ok(&d.berth(&["commit", "m1", "snap:2"]));
    let out = ok(&d.berth(&["image", "prune", "-a", "-f"]));
    assert!(
        out.starts_with("Deleted Images:\nuntagged: snap:2\ndeleted: sha256:"),
        "{out}"
    );
    assert_eq!(
        ok(&d.berth(&["image", "prune", "-f"])),
        "Total reclaimed space: 0B\n"
    );
}

/// `system prune` from both CLIs: the same prompt, report and effect.
#[test]
fn system_prune_matches_docker() {
    let d = Daemon::start();
    load(&d);
    let hex = |s: &str| {
        s.split(|c: char| !c.is_ascii_hexdigit())
            .map(|w| if w.len() == 64 { "<id>" } else { w })
            .collect::<Vec<_>>()
            .join("~")
    };
    let mut outputs = Vec::new();
    for use_docker in [true, false] {
        ok(&d.berth(&["run", "--name", "gone", "busybox", "true"]));
        let run = |args: &[&str], stdin: Option<&[u8]>| {
            if use_docker {
                d.docker_stdin(args, stdin)
            } else {
                d.berth_stdin(args, stdin)
            }
        };
        let declined = run(&["system", "prune"], Some(b"n\n"));
        assert!(declined.status.success());
        assert!(ok(&d.berth(&["ps", "-a", "-q"])).len() > 1);
        let pruned = run(&["system", "prune", "-f"], None);
        assert!(pruned.status.success(), "{}", text(&pruned.stderr));
        assert_eq!(ok(&d.berth(&["ps", "-a", "-q"])), "");
        outputs.push((hex(&stdout(&declined)), hex(&stdout(&pruned))));
    }
    assert_eq!(outputs[0], outputs[1]);
    // -a takes the unused image too.
    let out = ok(&d.berth(&["system", "prune", "-a", "-f"]));
    assert!(out.contains("untagged: busybox:latest"), "{out}");
    assert_eq!(ok(&d.berth(&["images", "-q"])), "");
}

/// Every path of a command (`update` and `container update`, aliases too)
/// reports bad flags and argument counts with that path's usage, as docker
/// does.
#[test]
fn management_forms_report_like_docker() {
    let d = Daemon::start();
    for args in [
        &["container", "stats", "--bogus"][..],
        &["container", "update", "--bogus"],
        &["container", "update", "--memory", "12x", "c"],
        &["container", "update", "--memory-swap"],
        &["update", "-c"],
        &["container", "diff"],
        &["container", "export", "--bogus"],
        &["container", "cp", "--bogus", "a", "b"],
        &["cp", "--bogus", "a", "b"],
        &["container", "prune", "--bogus"],
        &["container", "ps", "--bogus"],
        &["container", "list", "-Z"],
        &["container", "remove"],
        &["image", "rmi"],
        &["image", "list", "a", "b"],
        &["image", "prune", "--bogus"],
        &["system", "events", "--bogus"],
        &["system", "prune", "--bogus"],
        &["system", "df", "--bogus"],
        &["container", "bogus"],
    ] {
        assert_like_docker(&d, args);
    }
}
