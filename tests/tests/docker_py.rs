//! End-to-end: docker-py (Debian's python3-docker, installed by `.ci/run`)
//! against a private berthd; the assertions live in tests/py.

use berth_tests::{text, workspace_root, Daemon};

#[test]
fn docker_py_container_and_network_api() {
    let d = Daemon::start();
    d.load_busybox();
    let script = workspace_root().join("tests/py/docker_py_smoke.py");
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(&d.socket)
        .arg(d.net.subnet(9))
        .output()
        .expect("run /usr/bin/python3 (python3-docker must be installed)");
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "ok\n");
}
