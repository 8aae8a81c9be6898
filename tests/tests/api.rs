//! Integration: a private berthd driven over its socket with raw HTTP.
//! Malformed input must get docker's JSON errors with 4xx codes, never a
//! crash or a 5xx.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use berth_tests::Daemon;

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[test]
fn ping_and_version_negotiation() {
    let d = Daemon::start();
    let (status, headers, body) = d.http("GET", "/_ping", None);
    assert_eq!(status, 200);
    assert_eq!(body, b"OK");
    assert!(headers.contains("Api-Version: 1.47"), "{headers}");
    let (status, headers, body) = d.http("HEAD", "/_ping", None);
    assert_eq!(status, 200);
    assert!(headers.contains("Api-Version"));
    assert!(body.is_empty());
    let (status, _, body) = d.http("GET", "/v1.41/version", None);
    assert_eq!(status, 200);
    assert_eq!(json(&body)["ApiVersion"], "1.47");
    let (status, _, body) = d.http("GET", "/v1.99/version", None);
    assert_eq!(status, 400);
    assert!(json(&body)["message"].as_str().unwrap().contains("too new"));
    let (status, _, body) = d.http("GET", "/v1.47/nonsense", None);
    assert_eq!(status, 404);
    assert_eq!(json(&body)["message"], "page not found");
}

#[test]
fn malformed_requests_get_4xx_json() {
    let d = Daemon::start();
    d.load_busybox();
    let cases: Vec<(&str, &str, Option<Vec<u8>>, u16)> = vec![
        (
            "POST",
            "/containers/create",
            Some(b"{not json".to_vec()),
            400,
        ),
        ("POST", "/containers/create", Some(b"[]".to_vec()), 400),
        ("POST", "/containers/create", Some(b"".to_vec()), 400),
        (
            "POST",
            "/containers/create",
            Some(br#"{"Image":"nosuchimage"}"#.to_vec()),
            404,
        ),
        (
            "POST",
            "/containers/create",
            Some(br#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#.to_vec()),
            400,
        ),
        (
            "POST",
            "/containers/create?name=a/b",
            Some(br#"{"Image":"busybox"}"#.to_vec()),
            400,
        ),
        (
            "POST",
            "/containers/create",
            Some(br#"{"Image":"busybox","HostConfig":{"Memory":1024}}"#.to_vec()),
            400,
        ),
        ("POST", "/containers/create", Some(vec![b' '; 5 << 20]), 400),
        ("GET", "/containers/deadbeef/json", None, 404),
        ("POST", "/containers/deadbeef/start", None, 404),
        ("DELETE", "/containers/deadbeef", None, 404),
        ("GET", "/containers/json?filters=%7Bbad", None, 400),
        (
            "GET",
            "/containers/json?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D",
            None,
            400,
        ),
        ("POST", "/containers/deadbeef/wait", None, 404),
        ("POST", "/containers/deadbeef/kill?signal=NOPE", None, 404),
        ("GET", "/images/nosuch:tag/json", None, 404),
        ("DELETE", "/images/nosuch:tag", None, 404),
        ("POST", "/images/busybox/tag?repo=UPPER&tag=x", None, 400),
        ("GET", "/containers/x/logs?stdout=1", None, 404),
        // dockerd checks the streams before it looks the container up.
        ("GET", "/containers/x/logs", None, 400),
    ];
    for (method, path, body, want) in cases {
        let (status, _, resp) = d.http(method, path, body.as_deref());
        assert_eq!(
            status,
            want,
            "{method} {path}: {}",
            String::from_utf8_lossy(&resp)
        );
        assert!(json(&resp)["message"].is_string(), "{method} {path}");
    }
    // Still serving.
    assert_eq!(d.http("GET", "/_ping", None).0, 200);
}

#[test]
fn create_errors_and_conflicts() {
    let d = Daemon::start();
    d.load_busybox();
    let (status, _, body) = d.http(
        "POST",
        "/containers/create?name=dup",
        Some(br#"{"Image":"busybox","Cmd":["true"]}"#),
    );
    assert_eq!(status, 201);
    let id = json(&body)["Id"].as_str().unwrap().to_string();
    let (status, _, body) = d.http(
        "POST",
        "/containers/create?name=dup",
        Some(br#"{"Image":"busybox","Cmd":["true"]}"#),
    );
    assert_eq!(status, 409);
    let msg = json(&body)["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("is already in use by container") && msg.contains(&id),
        "{msg}"
    );
    let (status, _, body) = d.http("POST", &format!("/containers/{}/kill", &id[..12]), None);
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = d.http("POST", &format!("/containers/{id}/stop"), None);
    assert_eq!(status, 304);
    let (status, _, _) = d.http("DELETE", "/containers/dup", None);
    assert_eq!(status, 204);
}

#[test]
fn wait_sends_headers_before_the_exit() {
    let d = Daemon::start();
    d.load_busybox();
    let (_, _, body) = d.http(
        "POST",
        "/containers/create",
        Some(br#"{"Image":"busybox","Cmd":["sh","-c","sleep 1; exit 9"]}"#),
    );
    let id = json(&body)["Id"].as_str().unwrap().to_string();
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.write_all(format!("POST /v1.47/containers/{id}/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = [0u8; 512];
    let n = s.read(&mut head).unwrap();
    let head = String::from_utf8_lossy(&head[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !head.contains("StatusCode"),
        "body came before the container even started: {head}"
    );
    let (status, _, _) = d.http("POST", &format!("/containers/{id}/start"), None);
    assert_eq!(status, 204);
    let (status, _, _) = d.http("POST", &format!("/containers/{id}/start"), None);
    assert_eq!(status, 304);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&rest).contains("StatusCode") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed without a wait body");
        rest.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&rest).contains("\"StatusCode\":9"));
}

#[test]
fn hostile_tars_are_contained() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let v = victim.display().to_string();
    // Each is a layer tar (import) and wrapped as a docker-save tar (load).
    let layers: Vec<(&str, Vec<u8>)> = vec![
        (
            "traversal",
            tar_of(&[Entry::File(&format!("../../../../../..{v}/escaped"), b"x")]),
        ),
        (
            "absolute",
            tar_of(&[Entry::File(&format!("{v}/absolute"), b"x")]),
        ),
        (
            "symlink",
            tar_of(&[
                Entry::Symlink("evil", &v),
                Entry::File("evil/through-symlink", b"x"),
            ]),
        ),
        (
            "symlink-rel",
            tar_of(&[
                Entry::Symlink("up", "../../../../../../../.."),
                Entry::File(&format!("up{v}/rel"), b"x"),
            ]),
        ),
        ("hardlink", tar_of(&[Entry::Hardlink("hl", "/etc/passwd")])),
        (
            "hardlink-rel",
            tar_of(&[Entry::Hardlink("hl", "../../../../../../etc/passwd")]),
        ),
    ];
    use std::os::unix::fs::MetadataExt;
    let links_before = std::fs::metadata("/etc/passwd").unwrap().nlink();
    for (name, layer) in &layers {
        let (status, _, body) = d.http(
            "POST",
            &format!("/images/create?fromSrc=-&repo=hostile-{name}"),
            Some(layer),
        );
        assert_eq!(status, 200, "{name}");
        let _ = body;
        let save = docker_save_of(layer, &format!("hostile-load-{name}:latest"));
        let (status, _, _) = d.http("POST", "/images/load", Some(&save));
        assert_eq!(status, 200, "{name}");
        // A hard link to a host file must never share the host file's inode.
        let links = std::fs::metadata("/etc/passwd").unwrap().nlink();
        assert_eq!(links, links_before, "{name}: /etc/passwd gained a link");
    }
    let left: Vec<_> = std::fs::read_dir(&victim).unwrap().collect();
    assert!(left.is_empty(), "files written outside the store: {left:?}");
    assert_eq!(d.http("GET", "/_ping", None).0, 200);
}

enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// Raw ustar writer: the `tar` crate refuses to write hostile paths.
fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (name, kind, link, data): (&str, u8, &str, &[u8]) = match e {
            Entry::File(n, d) => (n, b'0', "", d),
            Entry::Symlink(n, t) => (n, b'2', t, b""),
            Entry::Hardlink(n, t) => (n, b'1', t, b""),
        };
        out.extend(header(name, kind, link, data.len()));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn header(name: &str, kind: u8, link: &str, size: usize) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    let (prefix, name) = if name.len() > 100 {
        let split = name[..name.len() - 1]
            .rfind('/')
            .filter(|&i| name.len() - i - 1 <= 100 && i <= 155)
            .expect("path too long");
        (&name[..split], &name[split + 1..])
    } else {
        ("", name)
    };
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn docker_save_of(layer: &[u8], tag: &str) -> Vec<u8> {
    use sha2_free::sha256_hex;
    let diff = sha256_hex(layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff}"]}}}}"#
    );
    let config_hex = sha256_hex(config.as_bytes());
    let manifest = format!(
        r#"[{{"Config":"{config_hex}.json","RepoTags":["{tag}"],"Layers":["{diff}/layer.tar"]}}]"#
    );
    let mut out = Vec::new();
    for (name, data) in [
        (format!("{diff}/layer.tar"), layer.to_vec()),
        (format!("{config_hex}.json"), config.into_bytes()),
        ("manifest.json".to_string(), manifest.into_bytes()),
    ] {
        out.extend(header(&name, b'0', "", data.len()));
        out.extend_from_slice(&data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// sha256 via the system's sha256sum, to keep the test crate dependency-light.
mod sha2_free {
    pub fn sha256_hex(data: &[u8]) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }
}

/// Exec over raw HTTP: create, detached start, inspect, resize, errors, and
/// an exec that outlives a SIGKILLed daemon.
#[test]
fn exec_api_and_daemon_restart() {
    let mut d = Daemon::start();
    d.load_busybox();
    assert!(d
        .docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"])
        .status
        .success());
    let (status, _, body) = d.http("POST", "/v1.47/containers/ex/exec", Some(b"{}"));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["message"], "No exec command specified");
    let (status, _, _) = d.http(
        "POST",
        "/v1.47/containers/nosuch/exec",
        Some(br#"{"Cmd":["true"]}"#),
    );
    assert_eq!(status, 404);
    let (status, _, body) = d.http(
        "POST",
        "/v1.47/containers/ex/exec",
        Some(br#"{"Cmd":["sh","-c","sleep 1; exit 3"],"DetachKeys":"ctrl-1"}"#),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = d.http(
        "POST",
        "/v1.47/containers/ex/exec",
        Some(br#"{"Cmd":["sh","-c","sleep 1; exit 3"]}"#),
    );
    assert_eq!(status, 201);
    let id = json(&body)["Id"].as_str().unwrap().to_string();
    let (status, _, body) = d.http("GET", &format!("/v1.47/exec/{id}/json"), None);
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v["Running"], false);
    assert_eq!(v["ProcessConfig"]["entrypoint"], "sh");
    let (status, _, _) = d.http("POST", &format!("/v1.47/exec/{id}/resize?h=10&w=20"), None);
    assert_eq!(status, 200);
    let (status, _, _) = d.http(
        "POST",
        &format!("/v1.47/exec/{id}/start"),
        Some(br#"{"Detach":true}"#),
    );
    assert_eq!(status, 200);
    let (status, _, body) = d.http(
        "POST",
        &format!("/v1.47/exec/{id}/start"),
        Some(br#"{"Detach":true}"#),
    );
    assert_eq!(status, 409);
    assert!(json(&body)["message"]
        .as_str()
        .unwrap()
        .contains("is already running"));
    let (_, _, body) = d.http("GET", &format!("/v1.47/exec/{id}/json"), None);
    let v = json(&body);
    assert_eq!(v["Running"], true);
    let pid = v["Pid"].as_i64().unwrap();
    assert!(pid > 0);
    let (_, _, body) = d.http("GET", "/v1.47/containers/ex/json", None);
    assert_eq!(json(&body)["ExecIDs"][0], id.as_str());

    // The shim supervises the exec: a SIGKILLed daemon loses nothing.
    d.restart();
    let (_, _, body) = d.http("GET", &format!("/v1.47/exec/{id}/json"), None);
    assert_eq!(json(&body)["Pid"], pid);
    let done = berth_tests::eventually(Duration::from_secs(10), || {
        let (_, _, body) = d.http("GET", &format!("/v1.47/exec/{id}/json"), None);
        json(&body)["Running"] == false
    });
    assert!(done);
    let (_, _, body) = d.http("GET", &format!("/v1.47/exec/{id}/json"), None);
    assert_eq!(json(&body)["ExitCode"], 3);
    let (status, _, _) = d.http("GET", "/v1.47/exec/nosuch/json", None);
    assert_eq!(status, 404);
}

/// `GET /containers/{id}/attach/ws`: input and output over a websocket.
#[test]
fn attach_over_websocket() {
    use tungstenite::Message;
    let d = Daemon::start();
    d.load_busybox();
    assert!(d
        .docker(&[
            "run",
            "-d",
            "-i",
            "--name",
            "ws",
            "busybox",
            "sh",
            "-c",
            "read line; echo got:$line; exit 3"
        ])
        .status
        .success());
    let stream = UnixStream::connect(&d.socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut ws, resp) = tungstenite::client::client(
        "ws://localhost/v1.47/containers/ws/attach/ws?stream=1&stdin=1&stdout=1&stderr=1",
        stream,
    )
    .expect("websocket handshake");
    assert_eq!(resp.status(), 101);
    ws.send(Message::Binary(b"hello\n".to_vec().into()))
        .unwrap();
    let mut got = Vec::new();
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) => got.extend_from_slice(&b),
            Ok(Message::Text(t)) => got.extend_from_slice(t.as_bytes()),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    assert_eq!(String::from_utf8_lossy(&got), "got:hello\n");
    let (_, _, body) = d.http("POST", "/v1.47/containers/ws/wait", None);
    assert_eq!(json(&body)["StatusCode"], 3);
    let (status, _, _) = d.http("GET", "/v1.47/containers/nosuch/attach/ws", None);
    assert!(status == 404 || status == 400, "{status}");
}

/// Hijacks `path` (POST, `Upgrade: tcp`) and returns the stream after the
/// 101's headers.
fn hijack(d: &Daemon, path: &str) -> UnixStream {
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// The daemon watches attach stdin for the detach keys (clients without a
/// TTY rely on it): the stream ends, the container runs on, and the bytes
/// before the keys were delivered.
#[test]
fn server_side_detach_keys() {
    let d = Daemon::start();
    d.load_busybox();
    assert!(d
        .docker(&[
            "run",
            "-d",
            "-i",
            "--name",
            "dk",
            "busybox",
            "sh",
            "-c",
            "cat > /tmp/got"
        ])
        .status
        .success());
    let mut s = hijack(
        &d,
        "/v1.47/containers/dk/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,x",
    );
    s.write_all(b"before\n\x01x").unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    let (_, _, body) = d.http("GET", "/v1.47/containers/dk/json", None);
    assert_eq!(json(&body)["State"]["Running"], true);
    let got = d.docker(&["exec", "dk", "cat", "/tmp/got"]);
    assert_eq!(String::from_utf8_lossy(&got.stdout), "before\n");
    // A bad key spec is a 400 before any hijack.
    let (status, _, _) = d.http(
        "POST",
        "/v1.47/containers/dk/attach?stream=1&stdin=1&detachKeys=ctrl-1",
        None,
    );
    assert_eq!(status, 400);
}

/// Hostile tars for `PUT archive` (docker cp into a container): they get a
/// 4xx, write nothing outside the container, and the daemon stays up.
#[test]
fn put_archive_rejects_escapes() {
    let d = Daemon::start();
    d.load_busybox();
    assert!(d
        .docker(&["run", "-d", "--name", "pa", "busybox", "sleep", "100"])
        .status
        .success());
    let probe = format!("berth-put-probe-{}", std::process::id());
    let host = format!("/tmp/{probe}");
    let up = format!("../../../../../../../tmp/{probe}");
    let through = format!("evil/tmp/{probe}");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", tar_of(&[Entry::File(&up, b"x")])),
        (
            "through a symlink to /",
            tar_of(&[Entry::Symlink("evil", "/"), Entry::File(&through, b"x")]),
        ),
        (
            "hardlink out",
            tar_of(&[Entry::Hardlink("hl", "/etc/passwd")]),
        ),
        ("garbage", b"not a tar at all".repeat(100)),
    ];
    for (name, body) in cases {
        let (status, _, resp) =
            d.http("PUT", "/v1.47/containers/pa/archive?path=/tmp", Some(&body));
        assert!(
            (200..500).contains(&status),
            "{name}: {status} {}",
            String::from_utf8_lossy(&resp)
        );
        assert!(
            !std::path::Path::new(&host).exists(),
            "{name}: wrote {host}"
        );
    }
    // The container's own /tmp took at most the harmless parts.
    let out = d.docker(&["exec", "pa", "ls", "-la", "/tmp"]);
    assert!(out.status.success());
    let (status, _, _) = d.http(
        "PUT",
        "/v1.47/containers/pa/archive?path=/nonexistent",
        Some(&tar_of(&[Entry::File("f", b"x")])),
    );
    assert_eq!(status, 404);
    let (status, _, _) = d.http(
        "PUT",
        "/v1.47/containers/pa/archive?path=/etc/hostname",
        Some(&tar_of(&[Entry::File("f", b"x")])),
    );
    assert_eq!(status, 400);
    let (status, _, _) = d.http("PUT", "/v1.47/containers/pa/archive", Some(b""));
    assert_eq!(status, 400);
    let (status, _, _) = d.http("GET", "/_ping", None);
    assert_eq!(status, 200);
}
