//! The docker CLI run against both daemons, line by line: exit codes and
//! output (ids, times and generated names masked) must match. This replaces
//! the old side-by-side comparison script.

use std::fmt::Write as _;
use std::process::Command;

use berth_tests::dockerd::Dockerd;
use berth_tests::Daemon;

const DOCKER: &str = "/usr/local/bin/docker";

/// One docker command line each (without `docker`), in order: later lines
/// see what earlier ones made. Nothing here may pull: that would leave the
/// machine.
const COMMANDS: &[&str] = &[
    "run --rm busybox echo hi",
    "run --rm busybox sh -c 'exit 3'",
    "run --rm busybox nonexistent",
    "run --rm busybox /etc",
    "run --rm -u nosuchuser busybox true",
    // The pause orders the two lines in the log (stdout and stderr are two
    // pipes), so `logs --tail 1` below has one right answer.
    "run --name cmp1 busybox sh -c 'echo one; sleep 0.3; echo two >&2'",
    "ps -a --format '{{.Names}} {{.Status}} {{.Command}}'",
    "logs cmp1",
    "logs --tail 1 cmp1",
    "inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.Config.Cmd}} {{.HostConfig.NetworkMode}}' cmp1",
    "start cmp1",
    "stop cmp1",
    "kill cmp1",
    "pause cmp1",
    "rm cmp1",
    "rm cmp1",
    "images --format '{{.Repository}}:{{.Tag}} {{.Size}}'",
    "tag busybox Bad:Tag",
    "tag busybox cmp/bb:1",
    "rmi cmp/bb:1",
    "rmi nosuch",
    "history --format '{{.CreatedBy}}' busybox",
    "inspect nosuch",
    "stop nosuch",
    "run --rm -m 1k busybox true",
    "run --rm --cpus 99 busybox true",
    "create --name a/b busybox",
];

/// The old script's masks: full and short ids, timestamps, relative times,
/// generated names, runs of spaces.
const MASK: &str = r"sed -E -e 's/[0-9a-f]{64}/<ID>/g' -e 's/\b[0-9a-f]{12}\b/<SHORT>/g' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)/<TIME>/g' \
    -e 's/(About a|Less than a|[0-9]+) (second|minute|hour)s?( ago)?/<AGO>/g' \
    -e 's/[a-z]+_[a-z]+/<NAME>/g' -e 's/ +/ /g'";

/// The command's combined output and exit code, masked.
fn run(host: &str, line: &str) -> String {
    let script = format!(
        "out=$({DOCKER} {line} 2>&1); rc=$?; printf '%s\\nexit %s\\n' \"$out\" \"$rc\" | {MASK}"
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("DOCKER_HOST", host)
        .output()
        .expect("run sh");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn cli_commands_agree_with_dockerd() {
    let berthd = Daemon::start();
    berthd.load_busybox();
    let dockerd = Dockerd::start();
    let mut failures = String::new();
    for line in COMMANDS {
        let b = run(&berthd.host(), line);
        let d = run(&dockerd.host(), line);
        // Guards against a harness where both sides fail alike.
        if *line == COMMANDS[0] {
            assert_eq!(d, "hi\nexit 0\n", "the reference daemon cannot run busybox");
        }
        // The CLI merges the container's stdout and stderr from two
        // streams, in whichever order they arrive: compare the lines, not
        // their order.
        let sorted = |s: &str| {
            let mut l: Vec<String> = s.lines().map(str::to_string).collect();
            l.sort_unstable();
            l
        };
        if sorted(&b) != sorted(&d) {
            let _ = writeln!(failures, "=== docker {line}");
            for l in d.lines().filter(|l| !b.lines().any(|x| x == *l)) {
                let _ = writeln!(failures, "   dockerd: {l}");
            }
            for l in b.lines().filter(|l| !d.lines().any(|x| x == *l)) {
                let _ = writeln!(failures, "   berth:   {l}");
            }
        }
    }
    assert_eq!(berthd.http("GET", "/_ping", None).0, 200);
    assert!(
        failures.is_empty(),
        "the docker CLI sees berthd differently from dockerd:\n{failures}"
    );
}
