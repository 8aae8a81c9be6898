//! The cgroup v2 suite: tests/vm/run.sh boots a Debian guest under qemu on a
//! pure unified hierarchy (this machine's is hybrid v1) and runs
//! tests/vm/suite.sh there against the berth binaries built for these tests.
//! The guest's tree and kernel are cached under target/vm-cache.

use berth_tests::{bin_dir, text, workspace_root};

#[test]
fn cgroup_v2_suite_passes_in_a_guest() {
    let out = std::process::Command::new("bash")
        .arg(workspace_root().join("tests/vm/run.sh"))
        .env("BERTH_BIN_DIR", bin_dir())
        .output()
        .expect("run tests/vm/run.sh");
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "tests/vm/run.sh failed ({}):\n{stderr}",
        out.status
    );
    // The script succeeds only on a "N passed, 0 failed" line; say it.
    let summary = stderr
        .lines()
        .rfind(|l| l.starts_with("VM-SUITE:"))
        .unwrap_or_default();
    eprintln!("{summary}");
}
