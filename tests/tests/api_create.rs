//! Integration: what `POST /containers/create` accepts, refuses and records,
//! over the raw socket. Every field is either honored or refused with a
//! 400 that names it; dockerd's lenient decodings (StrSlice, null list
//! elements) are accepted; dockerd's refusals come with dockerd's words.

use berth_tests::Daemon;
use serde_json::{json, Value};

fn create(d: &Daemon, body: &Value) -> (u16, Value) {
    let (status, _, out) = d.http(
        "POST",
        "/containers/create",
        Some(body.to_string().as_bytes()),
    );
    let v = serde_json::from_slice(&out).unwrap_or(Value::Null);
    (status, v)
}

fn with_host(host: Value) -> Value {
    json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host})
}

#[test]
fn docker_lenient_decodings_are_accepted() {
    let d = Daemon::start();
    d.load_busybox();
    for body in [
        json!({"Image": "busybox", "Cmd": "true"}),
        json!({"Image": "busybox", "Entrypoint": "/bin/echo", "Cmd": "hi"}),
        json!({"Image": "busybox", "Cmd": [null]}),
        json!({"Image": "busybox", "Cmd": ["true"], "Labels": {"a": null}}),
        json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"CapDrop": "NET_RAW"}}),
    ] {
        let (status, v) = create(&d, &body);
        assert_eq!(status, 201, "{body}: {v}");
    }
    // The string form reaches the process as a one-element argv.
    let (status, v) = create(
        &d,
        &json!({"Image": "busybox", "Entrypoint": "/bin/echo", "Cmd": "str-slice"}),
    );
    assert_eq!(status, 201, "{v}");
    let id = v["Id"].as_str().unwrap().to_string();
    let out = d.docker(&["start", "-a", &id]);
    assert_eq!(berth_tests::stdout(&out).trim(), "str-slice");
}

#[test]
fn dockerd_refusals_with_dockerds_messages() {
    let d = Daemon::start();
    d.load_busybox();
    let cases = [
        (
            json!({"Image": "busybox", "StopSignal": "SIGBOGUS"}),
            "Invalid signal: SIGBOGUS",
        ),
        (
            json!({"Image": "busybox", "Env": ["=B"]}),
            "invalid environment variable: =B",
        ),
        (
            json!({"Image": "busybox", "WorkingDir": "rel"}),
            "the working directory 'rel' is invalid, it needs to be an absolute path",
        ),
        (
            with_host(json!({"ShmSize": -1})),
            "SHM size can not be less than 0",
        ),
        (
            with_host(json!({"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}})),
            "invalid port specification: \"99999\"",
        ),
        (
            json!({"Image": "busybox", "Healthcheck": {"Interval": -1}}),
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            with_host(json!({"CpuPeriod": 1})),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            with_host(json!({"ExtraHosts": ["h:300.1.1.1"]})),
            "invalid IP address in add-host: \"300.1.1.1\"",
        ),
        (
            with_host(json!({"RestartPolicy": {"Name": "sometimes"}})),
            "invalid restart policy 'sometimes'",
        ),
        (
            with_host(json!({"IpcMode": "bogus"})),
            "invalid IPC mode: bogus",
        ),
        (
            with_host(json!({"Runtime": "nosuch"})),
            "Unknown runtime specified nosuch",
        ),
        (
            with_host(json!({"SecurityOpt": ["bogus"]})),
            "invalid --security-opt 1: \"bogus\"",
        ),
    ];
    for (body, msg) in cases {
        let (status, v) = create(&d, &body);
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["message"], msg, "{body}");
    }
    // dockerd checks the request before it looks for the image.
    let (status, v) = create(&d, &json!({"Image": "nosuchimage", "Env": ["=B"]}));
    assert_eq!(status, 400, "{v}");
    let out = d.docker(&["ps", "-aq"]);
    assert_eq!(
        berth_tests::stdout(&out).trim(),
        "",
        "a refused create left a container"
    );
}

#[test]
fn features_of_later_issues_are_refused_by_name() {
    let d = Daemon::start();
    d.load_busybox();
    let cases = [
        (
            with_host(json!({"VolumesFrom": ["other"]})),
            "HostConfig.VolumesFrom",
        ),
        (
            json!({"Image": "busybox", "Volumes": {"/data": {}}}),
            "Config.Volumes",
        ),
        (
            json!({"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"default": {"DriverOpts": {"a": "b"}}}}}),
            "EndpointSettings.DriverOpts",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = create(&d, &body);
        assert_eq!(status, 400, "{body}: {v}");
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(msg.starts_with(field), "{body}: {msg}");
    }
    // A disabled healthcheck and the default endpoint are not features.
    let (status, v) = create(
        &d,
        &json!({"Image": "busybox", "Healthcheck": {"Test": ["NONE"]},
                "NetworkingConfig": {"EndpointsConfig": {"default": {}}}}),
    );
    assert_eq!(status, 201, "{v}");
    let (status, v) = create(&d, &with_host(json!({"NetworkMode": "nosuchnet"})));
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["message"], "network nosuchnet not found");
}

#[test]
fn update_refuses_what_it_cannot_apply() {
    let d = Daemon::start();
    d.load_busybox();
    let (status, v) = create(&d, &json!({"Image": "busybox", "Cmd": ["true"]}));
    assert_eq!(status, 201, "{v}");
    let id = v["Id"].as_str().unwrap();
    let path = format!("/containers/{id}/update");
    let (status, _, out) = d.http(
        "POST",
        &path,
        Some(br#"{"RestartPolicy":{"Name":"always","MaximumRetryCount":2}}"#),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&out));
    let (status, _, out) = d.http("POST", &path, Some(br#"{"CpuRealtimeRuntime":1000}"#));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&out));
    assert!(String::from_utf8_lossy(&out).contains("CpuRealtimeRuntime"));
    let (status, _, out) = d.http(
        "POST",
        &path,
        Some(br#"{"Memory":67108864,"KernelMemory":0}"#),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
}

#[test]
fn warnings_for_limits_the_host_cannot_apply() {
    let d = Daemon::start();
    d.load_busybox();
    let (status, v) = create(&d, &with_host(json!({"CpuPercent": 50})));
    assert_eq!(status, 201, "{v}");
    let warnings = v["Warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap_or("").contains("CPU percent")),
        "{v}"
    );
    // The docker CLI prints them (v1 warns of no memory limit, v2 that it
    // cannot disable the OOM killer at all).
    let out = d.docker(&["create", "--oom-kill-disable", "busybox", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("WARNING") && stderr.contains("OOM"),
        "{stderr}"
    );
}
