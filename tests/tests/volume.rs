//! End-to-end: volumes as objects through the stock docker CLI and through
//! berth, against a private berthd: create (named, anonymous, with labels
//! and driver options), ls and its filters, inspect, rm, prune, system df,
//! events, and a volume's survival of a daemon killed with -9.

use berth_tests::{assert_stderr_has, ok, stdout, Daemon};
use serde_json::Value;

fn inspect(d: &Daemon, name: &str) -> Value {
    let v: Value = serde_json::from_str(&ok(&d.docker(&["volume", "inspect", name])))
        .expect("inspect prints JSON");
    v[0].clone()
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn docker_cli_create_ls_inspect_rm() {
    let d = Daemon::start();
    assert_eq!(
        ok(&d.docker(&["volume", "create", "--label", "app=web", "web"])),
        "web\n"
    );
    assert_eq!(ok(&d.docker(&["volume", "create", "db"])), "db\n");
    // Again: the same volume, no error.
    assert_eq!(ok(&d.docker(&["volume", "create", "db"])), "db\n");
    let anon = ok(&d.docker(&["volume", "create"])).trim_end().to_string();
    assert_eq!(anon.len(), 64, "{anon}");
    assert!(anon.bytes().all(|b| b.is_ascii_hexdigit()), "{anon}");

    let v = inspect(&d, "web");
    assert_eq!(v["Name"], "web");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"], serde_json::json!({"app": "web"}));
    let mountpoint = d.root.join("volumes/web/_data");
    assert_eq!(v["Mountpoint"], mountpoint.display().to_string());
    assert!(mountpoint.is_dir());
    let created = v["CreatedAt"].as_str().unwrap_or_default();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    let a = inspect(&d, &anon);
    assert_eq!(a["Labels"]["com.docker.volume.anonymous"], "");
    assert_eq!(
        ok(&d.docker(&["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "db"])),
        "db local\n"
    );

    // ls: docker's table, by name; -q; filters.
    let table = ok(&d.docker(&["volume", "ls"]));
    // The anonymous name is random: it sorts before, between or after the
    // others (the CLI's natural order is byte order for these names).
    let mut names = [anon.clone(), "db".to_string(), "web".to_string()];
    names.sort();
    let mut want = vec!["DRIVER    VOLUME NAME".to_string()];
    want.extend(names.iter().map(|n| format!("local     {n}")));
    assert_eq!(lines(&table), want, "{table}");
    assert_eq!(
        ok(&d.docker(&["volume", "ls", "-q", "-f", "name=we"])),
        "web\n"
    );
    assert_eq!(
        ok(&d.docker(&["volume", "ls", "-q", "-f", "label=app=web"])),
        "web\n"
    );
    assert_eq!(
        ok(&d.docker(&["volume", "ls", "-q", "-f", "label=app=db"])),
        ""
    );
    assert_eq!(
        lines(&ok(&d.docker(&[
            "volume",
            "ls",
            "-q",
            "-f",
            "dangling=true"
        ])))
        .len(),
        3
    );
    assert_eq!(
        ok(&d.docker(&["volume", "ls", "-q", "-f", "driver=other"])),
        ""
    );
    let out = d.docker(&["volume", "ls", "-f", "until=1h"]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "invalid filter 'until'");
    assert_eq!(
        ok(&d.docker(&[
            "volume",
            "ls",
            "--format",
            "{{.Name}}:{{.Labels}}",
            "-f",
            "name=web"
        ])),
        "web:app=web\n"
    );

    // rm: one by one; a missing one fails unless forced.
    let out = d.docker(&["volume", "rm", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(
        &out,
        "Error response from daemon: get nosuch: no such volume",
    );
    ok(&d.docker(&["volume", "rm", "-f", "nosuch"]));
    let out = d.docker(&["volume", "inspect", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "no such volume");
    assert_eq!(ok(&d.docker(&["volume", "rm", "db", "web"])), "db\nweb\n");
    assert!(!d.root.join("volumes/web").exists());
    assert_eq!(ok(&d.docker(&["volume", "ls", "-q"])), format!("{anon}\n"));
}

#[test]
fn docker_cli_refusals_name_the_problem() {
    let d = Daemon::start();
    let out = d.docker(&["volume", "create", "a"]);
    assert!(!out.status.success());
    assert_stderr_has(
        &out,
        "Error response from daemon: create a: volume name is too short, names should be at least two alphanumeric characters",
    );
    let out = d.docker(&["volume", "create", "bad/name"]);
    assert_stderr_has(&out, "includes invalid characters for a local volume name");
    let out = d.docker(&["volume", "create", "-o", "foo=bar", "v1"]);
    assert_stderr_has(&out, "create v1: invalid option: \"foo\"");
    let out = d.docker(&[
        "volume",
        "create",
        "-o",
        "type=nfs",
        "-o",
        "device=:/x",
        "v1",
    ]);
    assert_stderr_has(&out, "type=\"nfs\" is not supported by berth");
    let out = d.docker(&["volume", "create", "-d", "someplugin", "v1"]);
    assert_stderr_has(
        &out,
        "volume driver \"someplugin\" is not supported by berth",
    );
    // Nothing was made by any of them.
    assert_eq!(ok(&d.docker(&["volume", "ls", "-q"])), "");
    // A tmpfs volume is an object like any other; it is mounted at first use.
    ok(&d.docker(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ]));
    let v = inspect(&d, "tv");
    assert_eq!(
        v["Options"],
        serde_json::json!({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    );
}

#[test]
fn prune_df_and_events() {
    let d = Daemon::start();
    ok(&d.docker(&["volume", "create", "--label", "keep=yes", "named1"]));
    ok(&d.docker(&["volume", "create", "named2"]));
    let anon = ok(&d.docker(&["volume", "create"])).trim_end().to_string();
    std::fs::write(d.root.join("volumes/named1/_data/f"), vec![7u8; 3000]).expect("write");

    // system df: three local volumes, none used, all reclaimable.
    let df = ok(&d.docker(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}",
    ]));
    assert!(df.contains("Local Volumes 3 0 3kB\n"), "{df}");
    let (status, _, body) = d.http("GET", "/system/df?type=volume", None);
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).expect("df JSON");
    let named1 = v["Volumes"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["Name"] == "named1"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        named1["UsageData"],
        serde_json::json!({"Size": 3000, "RefCount": 0})
    );
    let dfv = ok(&d.docker(&["system", "df", "-v"]));
    assert!(dfv.contains("VOLUME NAME"), "{dfv}");
    assert!(
        dfv.lines()
            .any(|l| l.starts_with("named1 ") && l.ends_with("3kB")),
        "{dfv}"
    );

    // prune: anonymous volumes only, then with --all the named ones the
    // filter leaves.
    let out = ok(&d.docker(&["volume", "prune", "-f"]));
    assert_eq!(
        out,
        format!("Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 0B\n")
    );
    let out = ok(&d.docker(&["volume", "prune", "-af", "--filter", "label!=keep=yes"]));
    assert_eq!(
        out,
        "Deleted Volumes:\nnamed2\n\nTotal reclaimed space: 0B\n"
    );
    assert_eq!(ok(&d.docker(&["volume", "ls", "-q"])), "named1\n");
    let out = ok(&d.docker(&["volume", "prune", "-f", "--filter", "all=1"]));
    assert_eq!(
        out,
        "Deleted Volumes:\nnamed1\n\nTotal reclaimed space: 3kB\n"
    );
    let out = ok(&d.docker(&["volume", "prune", "-f"]));
    assert_eq!(out, "Total reclaimed space: 0B\n");

    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_secs() + 1)
        .unwrap_or(0)
        .to_string();
    let events = ok(&d.docker(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "type=volume",
        "--format",
        "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}",
    ]));
    let seen: Vec<&str> = events.lines().filter(|l| !l.starts_with("prune")).collect();
    assert_eq!(
        seen,
        [
            "create named1 local".to_string(),
            "create named2 local".into(),
            format!("create {anon} local"),
            format!("destroy {anon} local"),
            "destroy named2 local".into(),
            "destroy named1 local".into(),
        ],
        "{events}"
    );
}

#[test]
fn berth_cli_and_a_daemon_crash() {
    let mut d = Daemon::start();
    assert_eq!(
        ok(&d.berth(&[
            "volume",
            "create",
            "--label",
            "a=1",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "keep"
        ])),
        "keep\n"
    );
    assert_eq!(
        ok(&d.berth(&["volume", "create", "--name", "data"])),
        "data\n"
    );
    std::fs::write(d.root.join("volumes/data/_data/f"), "persisted").expect("write");
    d.kill9();
    d.restart();
    assert_eq!(
        ok(&d.berth(&["volume", "ls"])),
        "DRIVER    VOLUME NAME\nlocal     data\nlocal     keep\n"
    );
    let v: Value =
        serde_json::from_str(&ok(&d.berth(&["volume", "inspect", "keep"]))).expect("JSON");
    assert_eq!(v[0]["Labels"], serde_json::json!({"a": "1"}));
    assert_eq!(v[0]["Options"]["type"], "tmpfs");
    assert_eq!(
        std::fs::read_to_string(d.root.join("volumes/data/_data/f")).unwrap_or_default(),
        "persisted"
    );
    assert_eq!(
        ok(&d.berth(&["volume", "inspect", "-f", "{{.Name}}", "data"])),
        "data\n"
    );
    let out = d.berth(&["volume", "rm", "data", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "data\n");
    assert_stderr_has(
        &out,
        "Error response from daemon: get nosuch: no such volume",
    );
    assert_eq!(
        ok(&d.berth(&["volume", "prune", "-a", "-f"])),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(ok(&d.berth(&["volume", "ls", "-q"])), "keep\n");
    let out = d.berth(&["volume", "create", "x"]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "volume name is too short");
}
