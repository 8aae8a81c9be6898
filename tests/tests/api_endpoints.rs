//! Integration: every query parameter of the endpoints other than create's
//! body is honoured or refused with a 400 naming it, never accepted and
//! ignored. A private berthd driven over its socket, and by the docker CLI
//! where the CLI is what sends the parameter.

use std::process::Command;

use berth_tests::{assert_stderr_has, busybox_rootfs_tar, busybox_tar, ok, text, Daemon};
use serde_json::Value;

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// Percent-encodes a query value (filters are JSON).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|c| c["Names"][0].as_str().unwrap_or("").to_string())
        .collect()
}

/// Asserts a 400 whose message contains `needle`.
fn assert_400(d: &Daemon, method: &str, path: &str, body: Option<&[u8]>, needle: &str) {
    let (status, _, resp) = d.http(method, path, body);
    assert_eq!(status, 400, "{method} {path}: {}", text(&resp));
    let msg = json(&resp)["message"].as_str().unwrap_or("").to_string();
    assert!(msg.contains(needle), "{method} {path}: {msg}");
}

/// The stopped-and-running fixture: `up` runs, `done` exited after it.
fn two_containers(d: &Daemon) {
    d.load_busybox();
    ok(&d.docker(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]));
    ok(&d.docker(&["run", "--name", "done", "busybox", "true"]));
}

#[test]
fn ps_limit_lists_stopped_containers_and_name_is_a_regexp() {
    let d = Daemon::start();
    two_containers(&d);
    // `ps -l`: the latest container, which has exited.
    assert_eq!(
        ok(&d.docker(&["ps", "-l", "--format", "{{.Names}}"])),
        "done\n"
    );
    assert_eq!(
        ok(&d.docker(&["ps", "-n", "2", "--format", "{{.Names}}"])),
        "done\nup\n"
    );
    assert_eq!(ok(&d.docker(&["ps", "--format", "{{.Names}}"])), "up\n");

    let list = |filters: &str| {
        let (status, _, body) = d.http(
            "GET",
            &format!("/containers/json?all=1&filters={}", enc(filters)),
            None,
        );
        assert_eq!(status, 200, "{}", text(&body));
        names(&json(&body))
    };
    assert_eq!(list(r#"{"name":{"^done$":true}}"#), ["/done"]);
    assert_eq!(list(r#"{"name":{"^/up$":true}}"#), ["/up"]);
    assert_eq!(list(r#"{"name":{"o":true}}"#), ["/done"]);
    assert_eq!(list(r#"{"name":{"^(up|done)$":true}}"#), ["/done", "/up"]);
    assert!(list(r#"{"name":{"^don$":true}}"#).is_empty());
    assert_eq!(
        ok(&d.docker(&["ps", "-af", "name=^up$", "--format", "{{.Names}}"])),
        "up\n"
    );

    // A status no container can have is dockerd's 400, not an empty list.
    assert_400(
        &d,
        "GET",
        &format!("/containers/json?filters={}", enc(r#"{"status":{"stopped":true}}"#)),
        None,
        "invalid filter 'status=stopped': invalid value for state (stopped): must be one of created, running, paused, restarting, removing, exited, dead",
    );
    assert_eq!(list(r#"{"status":{"exited":true}}"#), ["/done"]);

    // The same for a dangling value that is not a boolean.
    for path in ["/images/json", "/images/prune"] {
        let method = if path.ends_with("prune") {
            "POST"
        } else {
            "GET"
        };
        assert_400(
            &d,
            method,
            &format!("{path}?filters={}", enc(r#"{"dangling":{"maybe":true}}"#)),
            None,
            "invalid filter 'dangling=[maybe]'",
        );
    }
    let (status, _, body) = d.http(
        "GET",
        &format!(
            "/images/json?filters={}",
            enc(r#"{"dangling":{"false":true}}"#)
        ),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(json(&body).as_array().unwrap().len(), 1);
}

#[test]
fn stop_and_restart_take_a_signal_and_a_negative_timeout_waits() {
    let d = Daemon::start();
    d.load_busybox();
    // Exits 42 on SIGUSR1 and ignores SIGTERM, so only the asked signal
    // can stop it within a wait that never kills.
    // It says "ready" once its traps are set: a signal sent before that
    // (while the runtime is still starting it) would be lost.
    let script = "trap 'exit 42' USR1; trap '' TERM; echo ready; while :; do sleep 0.1; done";
    let readies = |n: usize| {
        assert!(
            berth_tests::eventually(std::time::Duration::from_secs(10), || {
                berth_tests::stdout(&d.docker(&["logs", "sig"]))
                    .matches("ready")
                    .count()
                    >= n
            }),
            "the container did not get ready"
        );
    };
    ok(&d.docker(&["run", "-d", "--name", "sig", "busybox", "sh", "-c", script]));
    readies(1);
    assert_400(
        &d,
        "POST",
        "/containers/sig/stop?signal=SIGNOPE",
        None,
        "Invalid signal: SIGNOPE",
    );
    assert_400(
        &d,
        "POST",
        "/containers/sig/restart?signal=NOPE",
        None,
        "Invalid signal: NOPE",
    );
    ok(&d.docker(&["stop", "-s", "USR1", "-t", "-1", "sig"]));
    // stop answered after the exit: the state is final at once.
    assert_eq!(
        ok(&d.docker(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.ExitCode}}",
            "sig"
        ])),
        "false 42\n"
    );

    ok(&d.docker(&["start", "sig"]));
    readies(2);
    let (status, _, body) = d.http("POST", "/containers/sig/restart?signal=USR1&t=-1", None);
    assert_eq!(status, 204, "{}", text(&body));
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.Running}}", "sig"])),
        "true\n"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let (_, _, body) = d.http(
        "GET",
        &format!(
            "/events?since=0&until={now}&filters={}",
            enc(r#"{"event":{"die":true}}"#)
        ),
        None,
    );
    let codes: Vec<String> = String::from_utf8_lossy(&body)
        .lines()
        .map(|l| json(l.as_bytes())["Actor"]["Attributes"]["exitCode"].to_string())
        .collect();
    assert_eq!(codes, ["\"42\"", "\"42\""]);
    ok(&d.docker(&["rm", "-f", "sig"]));
}

#[test]
fn inspect_size_rm_link_start_body_and_checkpoint() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "create",
        "--name",
        "cc",
        "busybox",
        "sh",
        "-c",
        "echo hi > /f",
    ]));
    let (_, _, body) = d.http("GET", "/containers/cc/json", None);
    assert!(json(&body).get("SizeRw").is_none_or(Value::is_null));
    let (status, _, body) = d.http("GET", "/containers/cc/json?size=1", None);
    assert_eq!(status, 200);
    let info = json(&body);
    let rw = info["SizeRw"].as_i64().expect("SizeRw");
    let root = info["SizeRootFs"].as_i64().expect("SizeRootFs");
    assert!(root > rw, "{rw} {root}");

    // A body on start is dockerd's 400; an empty object is allowed.
    assert_400(
        &d,
        "POST",
        "/containers/cc/start",
        Some(br#"{"Binds":["/:/host"]}"#),
        "starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24",
    );
    assert_400(
        &d,
        "POST",
        "/containers/cc/start?checkpoint=cp1",
        None,
        "checkpoint is only supported in experimental mode",
    );
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.State.Status}}", "cc"])),
        "created\n"
    );
    let (status, _, body) = d.http("POST", "/containers/cc/start", Some(b"{}"));
    assert_eq!(status, 204, "{}", text(&body));
    ok(&d.docker(&["wait", "cc"]));
    let (_, _, body) = d.http("GET", "/containers/cc/json?size=true", None);
    assert!(json(&body)["SizeRw"].as_i64().unwrap() > rw);

    // `rm --link` would remove a link, never the container.
    let out = d.docker(&["rm", "--link", "cc"]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "berth has no container links to remove");
    assert_eq!(
        ok(&d.docker(&["ps", "-aq", "--filter", "name=^cc$"]))
            .lines()
            .count(),
        1
    );
    let (status, _, _) = d.http("DELETE", "/containers/nosuch?link=1", None);
    assert_eq!(status, 404);
}

#[test]
fn tag_push_and_platforms() {
    let d = Daemon::start();
    d.load_busybox();
    // docker-py's image.tag("repo:v1") sends the tag inside repo.
    let (status, _, body) = d.http("POST", "/images/busybox/tag?repo=myrepo:v1", None);
    assert_eq!(status, 201, "{}", text(&body));
    assert_eq!(d.http("GET", "/images/myrepo:v1/json", None).0, 200);
    assert_eq!(d.http("GET", "/images/myrepo:latest/json", None).0, 404);
    assert_eq!(
        d.http("POST", "/images/busybox/tag?repo=other", None).0,
        201
    );
    assert_eq!(d.http("GET", "/images/other:latest/json", None).0, 200);

    // Push: 404 for an image that is not there; otherwise the push starts
    // (here toward a loopback port nobody listens on: a test never
    // reaches beyond the machine) and its failure ends the stream.
    let (status, _, body) = d.http("POST", "/images/nosuch/push?tag=latest", None);
    assert_eq!(status, 404);
    assert_eq!(
        json(&body)["message"],
        "An image does not exist locally with the tag: nosuch"
    );
    assert_eq!(
        d.http(
            "POST",
            "/images/busybox/tag?repo=127.0.0.1:1/myrepo&tag=v1",
            None
        )
        .0,
        201
    );
    let (status, _, body) = d.http("POST", "/images/127.0.0.1:1/myrepo/push?tag=v1", None);
    assert_eq!(status, 200, "{}", text(&body));
    let lines: Vec<Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(json)
        .collect();
    assert_eq!(
        lines[0]["status"],
        "The push refers to repository [127.0.0.1:1/myrepo]"
    );
    let last = lines.last().expect("an error line");
    assert!(
        last["error"]
            .as_str()
            .is_some_and(|e| e.contains("127.0.0.1:1")),
        "{last}"
    );

    // create?platform: compared with the image (linux/amd64 here).
    let create = |platform: &str| {
        d.http(
            "POST",
            &format!("/containers/create?platform={}", enc(platform)),
            Some(br#"{"Image":"busybox","Cmd":["true"]}"#),
        )
    };
    assert_eq!(create("linux/amd64").0, 201);
    assert_eq!(create("linux/x86_64").0, 201);
    let (status, _, body) = create("linux/arm64");
    assert_eq!(status, 404);
    assert_eq!(
        json(&body)["message"],
        "image with reference busybox was found but its platform (linux/amd64) does not match the specified platform (linux/arm64)"
    );
    assert_eq!(create("windows/amd64").0, 404);
    assert_400(
        &d,
        "POST",
        "/containers/create?platform=nonsense",
        Some(br#"{"Image":"busybox"}"#),
        "unknown operating system or architecture",
    );

    // import --platform records the platform asked.
    let rootfs = d.dir.path().join("rootfs.tar");
    busybox_rootfs_tar(&rootfs);
    let rootfs = rootfs.to_str().unwrap();
    ok(&d.docker(&["import", "--platform", "linux/arm64", rootfs, "imp:arm"]));
    assert_eq!(
        ok(&d.docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}",
            "imp:arm"
        ])),
        "linux/arm64\n"
    );
    ok(&d.docker(&["import", rootfs, "imp:host"]));
    assert_eq!(
        ok(&d.docker(&["image", "inspect", "-f", "{{.Architecture}}", "imp:host"])),
        "amd64\n"
    );
    let (status, _, body) = d.http(
        "POST",
        "/images/create?fromSrc=-&repo=imp&tag=bad&platform=a%2F%2Fb",
        Some(b""),
    );
    assert_eq!(status, 400, "{}", text(&body));
}

#[test]
fn system_df_type_prune_filters_and_events_filters() {
    let d = Daemon::start();
    two_containers(&d);
    let (status, _, body) = d.http("GET", "/system/df?type=image", None);
    assert_eq!(status, 200);
    let df = json(&body);
    assert_eq!(df["Images"].as_array().unwrap().len(), 1);
    assert!(df["Containers"].is_null() && df["Volumes"].is_null() && df["BuildCache"].is_null());
    let (_, _, body) = d.http("GET", "/system/df?type=container&type=volume", None);
    let df = json(&body);
    assert_eq!(df["Containers"].as_array().unwrap().len(), 2);
    assert!(df["Images"].is_null() && df["Volumes"].is_array());
    assert_400(
        &d,
        "GET",
        "/system/df?type=network",
        None,
        "unknown object type: network",
    );

    let bad = enc(r#"{"dangling":{"true":true}}"#);
    assert_400(
        &d,
        "POST",
        &format!("/networks/prune?filters={bad}"),
        None,
        "invalid filter 'dangling'",
    );
    assert_400(
        &d,
        "POST",
        "/networks/prune?filters=%7B",
        None,
        "invalid filter",
    );
    assert_400(
        &d,
        "POST",
        &format!("/build/prune?filters={bad}"),
        None,
        "invalid filter 'dangling'",
    );
    assert_400(
        &d,
        "POST",
        "/build/prune?keep-storage=1GB",
        None,
        "keep-storage is in bytes",
    );
    ok(&d.docker(&["tag", "busybox", "busybox:two"]));
    let until = enc(r#"{"until":{"24h":true},"label":{"a":true}}"#);
    assert_eq!(
        d.http("POST", &format!("/networks/prune?filters={until}"), None)
            .0,
        200
    );
    assert_eq!(
        d.http(
            "POST",
            &format!("/build/prune?all=1&keep-storage=10&filters={until}"),
            None
        )
        .0,
        200
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let events = |filters: &str| -> Vec<Value> {
        let (status, _, body) = d.http(
            "GET",
            &format!("/events?since=0&until={now}&filters={}", enc(filters)),
            None,
        );
        assert_eq!(status, 200, "{}", text(&body));
        String::from_utf8_lossy(&body)
            .lines()
            .map(|l| json(l.as_bytes()))
            .collect()
    };
    let all = events("{}");
    assert!(all.len() > 4, "{all:?}");
    // Containers on the default bridge connect to it: network events only.
    let bridge = events(r#"{"network":{"bridge":true}}"#);
    assert!(!bridge.is_empty());
    assert!(bridge.iter().all(|e| e["Type"] == "network"), "{bridge:?}");
    assert!(events(r#"{"volume":{"v":true}}"#).is_empty());
    assert!(events(r#"{"daemon":{"zz":true}}"#).is_empty());
    assert!(events(r#"{"scope":{"swarm":true}}"#).is_empty());
    assert_eq!(events(r#"{"scope":{"local":true}}"#).len(), all.len());
    let done = events(r#"{"container":{"do":true}}"#);
    assert!(!done.is_empty());
    assert!(done
        .iter()
        .all(|e| e["Actor"]["Attributes"]["name"] == "done"));
    // `busybox` matches the containers' image attribute `busybox` and the
    // tag event's `busybox:two` alike.
    let by_image = events(r#"{"image":{"busybox":true}}"#);
    assert!(by_image.iter().any(|e| e["Type"] == "container"));
    assert!(
        by_image.iter().any(|e| e["Type"] == "image"),
        "{by_image:?}"
    );
    assert!(events(r#"{"image":{"busy":true}}"#).is_empty());
}

#[test]
fn update_pids_limit_zero_is_unlimited() {
    let d = Daemon::start();
    d.load_busybox();
    let id = ok(&d.docker(&[
        "run",
        "-d",
        "--pids-limit",
        "50",
        "--name",
        "pl",
        "busybox",
        "sleep",
        "1000",
    ]))
    .trim()
    .to_string();
    let pids = || {
        let v1 = format!("/sys/fs/cgroup/pids/{}/{id}/pids.max", d.cgroup_parent);
        let v2 = format!("/sys/fs/cgroup/{}/{id}/pids.max", d.cgroup_parent);
        std::fs::read_to_string(&v1)
            .or_else(|_| std::fs::read_to_string(&v2))
            .unwrap_or_else(|e| panic!("{v1} / {v2}: {e}"))
            .trim()
            .to_string()
    };
    assert_eq!(pids(), "50");
    // The API's 0 is "unlimited" (docker 28's CLI sends null for
    // `--pids-limit 0`, so docker-py and raw clients are the ones to send it).
    let (status, _, body) = d.http("POST", "/containers/pl/update", Some(br#"{"PidsLimit":0}"#));
    assert_eq!(status, 200, "{}", text(&body));
    assert_eq!(pids(), "max");
    assert_eq!(
        ok(&d.docker(&["inspect", "-f", "{{.HostConfig.PidsLimit}}", "pl"])),
        "0\n"
    );
    ok(&d.docker(&["update", "--pids-limit", "20", "pl"]));
    assert_eq!(pids(), "20");
    ok(&d.docker(&["update", "--pids-limit", "-1", "pl"]));
    assert_eq!(pids(), "max");
    ok(&d.docker(&["rm", "-f", "pl"]));
}

/// Runs `sh -c` and returns its stdout; the command must succeed.
fn sh(cmd: &str) -> Vec<u8> {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(out.status.success(), "{cmd}: {}", text(&out.stderr));
    out.stdout
}

#[test]
fn compressed_archives_are_decompressed_for_load_and_copy() {
    let d = Daemon::start();
    let dir = d.dir.path();
    let tar = busybox_tar();
    for (tool, ext) in [("gzip", "gz"), ("zstd -q", "zst"), ("bzip2", "bz2")] {
        let packed = dir.join(format!("busybox.tar.{ext}"));
        sh(&format!(
            "{tool} -c {} > {}",
            tar.display(),
            packed.display()
        ));
        let out = ok(&d.docker(&["load", "-i", packed.to_str().unwrap()]));
        assert!(out.contains("Loaded image: busybox:latest"), "{ext}: {out}");
    }
    let packed = dir.join("busybox.tar.xz");
    sh(&format!("xz -c {} > {}", tar.display(), packed.display()));
    let out = d.docker(&["load", "-i", packed.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "xz-compressed archives are not supported");

    ok(&d.docker(&["create", "--name", "cp", "busybox", "true"]));
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    for tool in ["gzip", "zstd -q", "bzip2"] {
        let name = format!("{}.txt", tool.split(' ').next().unwrap());
        std::fs::write(src.join(&name), "hi\n").unwrap();
        let body = sh(&format!("tar cf - -C {} {name} | {tool} -c", src.display()));
        let (status, _, resp) = d.http("PUT", "/containers/cp/archive?path=/tmp", Some(&body));
        assert_eq!(status, 200, "{tool}: {}", text(&resp));
        let (status, headers, _) = d.http(
            "HEAD",
            &format!("/containers/cp/archive?path=/tmp/{name}"),
            None,
        );
        assert_eq!(status, 200, "{tool}: {headers}");
    }
    std::fs::write(src.join("xz.txt"), "hi\n").unwrap();
    let xz = sh(&format!("tar cf - -C {} xz.txt | xz -c", src.display()));
    assert_400(
        &d,
        "PUT",
        "/containers/cp/archive?path=/tmp",
        Some(&xz),
        "xz-compressed archives are not supported",
    );
}
