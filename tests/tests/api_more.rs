//! Integration: network modes as dockerd sets them up without a bridge
//! (container:X, host, NetworkDisabled), annotations, and the query
//! parameters of logs, stats, load and the websocket attach.

use std::os::unix::net::UnixStream;
use std::time::Duration;

use berth_tests::{ok, stdout, Daemon};
use serde_json::Value;

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[test]
fn network_modes_share_namespaces_and_files_like_dockerd() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "donor",
        "--hostname",
        "donorhost",
        "busybox",
        "sleep",
        "600",
    ]));
    let pid = ok(&d.docker(&["inspect", "-f", "{{.State.Pid}}", "donor"]));
    let donor_net = std::fs::read_link(format!("/proc/{}/ns/net", pid.trim())).unwrap();
    // container:NAME joins the donor's network namespace, takes its
    // hostname and its /etc/hosts, and is recorded with the donor's id.
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "container:donor",
        "busybox",
        "sh",
        "-c",
        "readlink /proc/self/ns/net; hostname",
    ]));
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), donor_net.to_string_lossy());
    assert_eq!(lines.next().unwrap(), "donorhost");
    let id = ok(&d.docker(&["inspect", "-f", "{{.Id}}", "donor"]));
    let created = ok(&d.docker(&["create", "--network", "container:donor", "busybox", "true"]));
    let mode = ok(&d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.NetworkMode}}",
        created.trim(),
    ]));
    assert_eq!(mode.trim(), format!("container:{}", id.trim()));
    // Joining a container that does not run fails at start, as with dockerd.
    ok(&d.docker(&["rm", "-f", created.trim()]));
    let missing = d.docker(&["create", "--network", "container:nosuch", "busybox", "true"]);
    assert!(!missing.status.success());
    berth_tests::assert_stderr_has(&missing, "No such container: nosuch");

    // The host network: the host's namespace and hostname.
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "sh",
        "-c",
        "readlink /proc/self/ns/net; hostname",
    ]));
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), host_net.to_string_lossy());
    assert_eq!(lines.next().unwrap(), host_name.trim());

    // NetworkDisabled: no /etc/hosts or /etc/resolv.conf mounted (the
    // image's own, if any, show through), /etc/hostname still is.
    let (status, _, body) = d.http(
        "POST",
        "/containers/create?name=nonet",
        Some(br#"{"Image":"busybox","NetworkDisabled":true,"Cmd":["cat","/proc/self/mounts"]}"#),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let mounts = ok(&d.docker(&["start", "-a", "nonet"]));
    assert!(mounts.contains(" /etc/hostname "), "{mounts}");
    assert!(!mounts.contains(" /etc/hosts "), "{mounts}");
    assert!(!mounts.contains(" /etc/resolv.conf "), "{mounts}");
}

#[test]
fn annotations_reach_the_runtime() {
    let d = Daemon::start();
    d.load_busybox();
    let (status, _, body) = d.http(
        "POST",
        "/containers/create?name=ann",
        Some(br#"{"Image":"busybox","Cmd":["sleep","600"],"HostConfig":{"Annotations":{"org.example.team":"infra"}}}"#),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    ok(&d.docker(&["start", "ann"]));
    let id = ok(&d.docker(&["inspect", "-f", "{{.Id}}", "ann"]));
    let config = std::fs::read_to_string(
        d.exec_root
            .join("containers")
            .join(id.trim())
            .join("config.json"),
    )
    .unwrap();
    let config: Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["annotations"]["org.example.team"], "infra");
    let (status, _, body) = d.http(
        "POST",
        "/containers/create",
        Some(br#"{"Image":"busybox","HostConfig":{"Annotations":{"":"x"}}}"#),
    );
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("annotation key"));
}

#[test]
fn logs_details_timestamps_tail_and_until() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "--name",
        "lg",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two; echo three",
    ]));
    // dockerd prefixes the (empty) attributes and a space.
    let out = ok(&d.docker(&["logs", "--details", "lg"]));
    assert_eq!(out, " one\n two\n three\n");
    // Nine digits of fraction, always.
    let out = ok(&d.docker(&["logs", "-t", "lg"]));
    for line in out.lines() {
        let ts = line.split(' ').next().unwrap();
        let frac = ts.split('.').nth(1).unwrap();
        assert_eq!(frac.len(), 10, "{ts}"); // nine digits and the Z
    }
    // A negative tail shows everything.
    let (status, _, body) = d.http("GET", "/containers/lg/logs?stdout=1&tail=-1", None);
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("one") && text.contains("three"), "{text}");
    // follow with until ends without waiting for the container.
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "fo",
        "busybox",
        "sh",
        "-c",
        "echo early; sleep 2; echo late; sleep 600",
    ]));
    assert!(berth_tests::eventually(Duration::from_secs(10), || {
        stdout(&d.docker(&["logs", "fo"])).contains("late")
    }));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let until = now - 1;
    let out = d.docker(&["logs", "-f", "--until", &until.to_string(), "fo"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("early"));
    assert!(!stdout(&out).contains("late"));
}

#[test]
fn stats_one_shot_and_websocket_detach_keys() {
    use tungstenite::Message;
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&["run", "-d", "-it", "--name", "st", "busybox", "sh"]));
    let (_, _, body) = d.http("GET", "/containers/st/stats?stream=0&one-shot=1", None);
    let v = json(&body);
    assert_eq!(
        v["precpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap_or(0),
        0,
        "{v}"
    );
    assert!(
        v["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{v}"
    );

    // A websocket attach ends on its detach keys; the container runs on.
    let stream = UnixStream::connect(&d.socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut ws, _) = tungstenite::client::client(
        "ws://localhost/v1.47/containers/st/attach/ws?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x",
        stream,
    )
    .expect("websocket handshake");
    ws.send(Message::Binary(vec![0x18].into())).unwrap();
    let closed = loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(_) => break true,
            Ok(_) => {}
        }
    };
    assert!(closed);
    let running = ok(&d.docker(&["inspect", "-f", "{{.State.Running}}", "st"]));
    assert_eq!(running.trim(), "true");
}

#[test]
fn load_without_quiet_reports_each_layer() {
    let d = Daemon::start();
    // load without quiet reports each layer it unpacks, as dockerd does.
    let tar = std::fs::read(berth_tests::busybox_tar()).unwrap();
    let (status, _, body) = d.http("POST", "/images/load?quiet=0", Some(&tar));
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("\"status\":\"Loading layer\""), "{text}");
    assert!(text.contains("Loaded image"), "{text}");
    let (_, _, body) = d.http("POST", "/images/load?quiet=1", Some(&tar));
    assert!(!String::from_utf8_lossy(&body).contains("Loading layer"));
}

#[test]
fn commit_config_merges_and_image_list_all_and_shared_size() {
    let d = Daemon::start();
    d.load_busybox();
    ok(&d.docker(&[
        "run", "--name", "base", "-e", "KEEP=1", "busybox", "touch", "/a",
    ]));
    // A commit body's config is merged with the container's, as dockerd's.
    let (status, _, body) = d.http(
        "POST",
        "/commit?container=base",
        Some(br#"{"Env":["MINE=2"],"Labels":{"l":"v"}}"#),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let mid = json(&body)["Id"].as_str().unwrap().to_string();
    let env = ok(&d.docker(&["image", "inspect", "-f", "{{json .Config.Env}}", &mid]));
    assert!(env.contains("MINE=2") && env.contains("KEEP=1"), "{env}");
    // An untagged parent of another image is an intermediate image: listed
    // only with `all`.
    ok(&d.docker(&["run", "--name", "second", &mid, "touch", "/b"]));
    ok(&d.docker(&["commit", "second", "child:1"]));
    let ids = |q: &str| {
        let (_, _, body) = d.http("GET", &format!("/images/json{q}"), None);
        json(&body)
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["Id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(!ids("").contains(&mid));
    assert!(ids("?all=1").contains(&mid));
    let (_, _, body) = d.http("GET", "/images/json?shared-size=1", None);
    for img in json(&body).as_array().unwrap() {
        // child:1 shares busybox's layer with it.
        assert!(img["SharedSize"].as_i64().unwrap() > 0, "{img}");
    }
    let (_, _, body) = d.http("GET", "/images/json", None);
    assert_eq!(json(&body)[0]["SharedSize"], -1);
}
