//! End-to-end: `berth network create/ls/inspect/rm/prune` against a private
//! berthd, and the same commands through the stock docker CLI on that daemon.
//! Every network has a name and subnet of its own test and is removed at the
//! end, even when an assertion fails.

use std::sync::atomic::{AtomicU32, Ordering};

use berth_tests::{assert_stderr_has, ok, stdout, text, Daemon};
use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network name and a /24 of the daemon's own space no other test here
/// uses.
fn unique(d: &Daemon) -> (String, String) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    (format!("btn{pid}x{n}"), d.net.subnet((n % 250 + 1) as u8))
}

/// Removes the networks a test made, whatever happened to the test.
struct Networks<'a> {
    daemon: &'a Daemon,
    names: Vec<String>,
}

impl<'a> Networks<'a> {
    fn new(daemon: &'a Daemon) -> Networks<'a> {
        Networks {
            daemon,
            names: Vec::new(),
        }
    }

    /// `berth network create` with `args` in a fresh subnet; returns
    /// (name, subnet, id).
    fn create(&mut self, args: &[&str]) -> (String, String, String) {
        let (name, subnet) = unique(self.daemon);
        let id = self.create_in(&name, &subnet, args);
        (name, subnet, id)
    }

    /// `berth network create --subnet SUBNET ARGS NAME`; returns the id.
    fn create_in(&mut self, name: &str, subnet: &str, args: &[&str]) -> String {
        self.names.push(name.to_string());
        let mut argv = vec!["network", "create", "--subnet", subnet];
        argv.extend_from_slice(args);
        argv.push(name);
        ok(&self.daemon.berth(&argv)).trim_end().to_string()
    }
}

impl Drop for Networks<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.daemon.berth(&["network", "rm", "-f", name]);
        }
    }
}

fn inspect_json(d: &Daemon, args: &[&str]) -> Value {
    serde_json::from_str(&ok(&d.berth(args))).expect("inspect prints JSON")
}

#[test]
fn create_list_inspect_remove() {
    let d = Daemon::start();
    let mut nets = Networks::new(&d);
    let (name, subnet, id) = nets.create(&["--label", "apitrace=1"]);
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");

    // ls: docker's table, the id cut to 12, sorted by name
    let table = ok(&d.berth(&["network", "ls"]));
    let mut lines = table.lines();
    let head = lines.next().unwrap_or_default();
    assert!(head.starts_with("NETWORK ID     NAME"), "{table}");
    assert!(head.ends_with("DRIVER    SCOPE"), "{table}");
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name.as_str()))
        .unwrap_or_else(|| panic!("{name} not listed: {table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols, vec![&id[..12], name.as_str(), "bridge", "local"]);
    let quiet = ok(&d.berth(&["network", "ls", "-q", "--no-trunc"]));
    assert!(quiet.lines().any(|l| l == id), "{quiet}");
    let filtered = ok(&d.berth(&[
        "network",
        "ls",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Name}} {{.Driver}} {{.Labels}}",
    ]));
    assert_eq!(filtered, format!("{name} bridge apitrace=1\n"));

    // inspect: a JSON array of the daemon's objects
    let v = inspect_json(&d, &["network", "inspect", &name]);
    let n = &v[0];
    assert_eq!(n["Name"], name.as_str());
    assert_eq!(n["Id"], id.as_str());
    assert_eq!(n["Driver"], "bridge");
    assert_eq!(n["Scope"], "local");
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], subnet.as_str());
    assert_eq!(n["Labels"]["apitrace"], "1");
    assert_eq!(
        ok(&d.berth(&[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}}",
            &id[..12]
        ])),
        format!("{name} bridge\n")
    );
    // the generic inspect finds networks too, typed or by its lookup chain
    let v = inspect_json(&d, &["inspect", "--type", "network", &name]);
    assert_eq!(v[0]["Id"], id.as_str());
    let v = inspect_json(&d, &["inspect", &name]);
    assert_eq!(v[0]["Id"], id.as_str());

    // a missing name: the others still printed, the error after, exit 1
    let missing = format!("{name}-missing");
    let out = d.berth(&["network", "inspect", &name, &missing]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_stderr_has(&out, "Error response from daemon: ");
    assert_stderr_has(&out, &missing);

    // the same name twice is the daemon's conflict
    let out = d.berth(&["network", "create", &name]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "Error response from daemon: ");
    assert_stderr_has(&out, "already exists");

    // rm: each name printed, each failure reported, exit 1 at the end
    let out = d.berth(&["network", "rm", &missing, &name]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), format!("{name}\n"));
    assert_stderr_has(&out, &missing);
    let out = d.berth(&["network", "rm", "-f", &missing]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(stdout(&out), "");
    let table = ok(&d.berth(&["network", "ls", "--format", "{{.Name}}"]));
    assert!(!table.lines().any(|l| l == name), "{table}");
}

#[test]
fn ipam_flags_reach_the_daemon() {
    let d = Daemon::start();
    let mut nets = Networks::new(&d);
    let (name, subnet) = unique(&d);
    let gateway = subnet.replace(".0/24", ".254");
    let range = subnet.replace(".0/24", ".128/25");
    nets.create_in(
        &name,
        &subnet,
        &["--gateway", &gateway, "--ip-range", &range],
    );
    let v = inspect_json(&d, &["network", "inspect", &name]);
    let cfg = &v[0]["IPAM"]["Config"][0];
    assert_eq!(cfg["Subnet"], subnet.as_str(), "{v}");
    assert_eq!(cfg["Gateway"], gateway.as_str(), "{v}");
    assert_eq!(cfg["IPRange"], range.as_str(), "{v}");
    // what the CLI refuses never reaches the daemon
    let out = d.berth(&["network", "create", "--gateway", "10.213.0.1", "btnorphan"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "every ip-range or gateway must have a corresponding subnet\n"
    );
}

#[test]
fn prune_removes_unused_networks() {
    let d = Daemon::start();
    let mut nets = Networks::new(&d);
    let (name, _, _) = nets.create(&[]);
    let out = ok(&d.berth(&["network", "prune", "-f"]));
    assert_eq!(out, format!("Deleted Networks:\n{name}\n\n"));
    assert_eq!(ok(&d.berth(&["network", "prune", "-f"])), "");
    // the built-in networks stay
    let names = ok(&d.berth(&["network", "ls", "--format", "{{.Name}}"]));
    assert!(names.lines().any(|l| l == "bridge"), "{names}");
    assert!(!names.lines().any(|l| l == name), "{names}");
}

#[test]
fn output_matches_the_docker_cli() {
    let d = Daemon::start();
    let mut nets = Networks::new(&d);
    let (name, _, _) = nets.create(&["--label", "a=b"]);
    let missing = format!("{name}-missing");
    for args in [
        vec!["network", "ls"],
        vec!["network", "ls", "-q"],
        vec![
            "network",
            "ls",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Name}} {{.IPv6}}",
        ],
        vec!["network", "inspect", name.as_str()],
        vec!["network", "inspect", "-f", "{{json .IPAM}}", name.as_str()],
        vec!["network", "inspect", missing.as_str()],
        vec!["network", "rm", missing.as_str()],
        vec!["network", "disconnect", name.as_str(), "nosuchcontainer"],
    ] {
        let b = d.berth(&args);
        let k = d.docker(&args);
        assert_eq!(b.status.code(), k.status.code(), "{args:?}");
        assert_eq!(stdout(&b), stdout(&k), "{args:?}");
        assert_eq!(
            text(&b.stderr).replace("berth", "docker"),
            text(&k.stderr),
            "{args:?}"
        );
    }
}
