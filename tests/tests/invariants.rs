//! The crash invariant checks against a real daemon: quiet on a daemon that
//! did nothing wrong, and naming the container, shim and leftovers of one
//! the daemon has lost track of.

use berth_tests::invariants::{self, classify, Kind};
use berth_tests::{ok, Daemon};

fn kinds(v: &[String]) -> Vec<(Kind, String)> {
    v.iter()
        .map(|l| {
            let (k, s) = classify(l).unwrap_or_else(|| panic!("unclassified: {l}"));
            (k, s.to_string())
        })
        .collect()
}

#[test]
fn a_sound_daemon_passes_and_leaves_nothing() {
    let d = Daemon::start();
    d.load_busybox();
    let running = ok(&d.docker(&["run", "-d", "busybox", "sleep", "600"]));
    ok(&d.docker(&["create", "busybox", "true"]));
    ok(&d.docker(&["run", "busybox", "true"]));
    ok(&d.docker(&["run", "--rm", "busybox", "true"]));
    ok(&d.docker(&["pause", running.trim()]));
    assert_eq!(invariants::listed_vs_kernel(&d), Vec::<String>::new());
    assert_eq!(invariants::remove_all(&d), Vec::<String>::new());
    assert_eq!(invariants::leaks_after_removal(&d), Vec::<String>::new());
    assert!(invariants::api_list(&d).unwrap().is_empty());
}

#[test]
fn a_running_container_whose_record_is_lost_is_taken_down_at_restart() {
    let mut d = Daemon::start();
    d.load_busybox();
    let id = ok(&d.docker(&["run", "-d", "busybox", "sleep", "600"]));
    let id = id.trim().to_string();
    let kept = ok(&d.docker(&["run", "-d", "busybox", "sleep", "600"]));
    let kept = kept.trim().to_string();
    // What a crash in the middle of a create or a removal can leave: a
    // running container that no record names.
    d.kill9();
    std::fs::remove_dir_all(d.root.join("containers").join(&id)).unwrap();
    d.restart();
    // Taken down, not left running unseen; the other one is untouched.
    assert_eq!(invariants::listed_vs_kernel(&d), Vec::<String>::new());
    let listed: Vec<String> = invariants::api_list(&d)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![kept.clone()]);
    let shim_of_lost = invariants::shims(&d).into_iter().any(|s| {
        s.socket
            .as_deref()
            .and_then(|p| invariants::socket_prefix(p, &d.exec_root))
            .is_some_and(|prefix| id.starts_with(prefix))
    });
    assert!(!shim_of_lost, "the lost container's shim is still there");
    d.kill9();
    assert_eq!(invariants::store_check(&d), Vec::<String>::new());
    d.restart();
    assert_eq!(invariants::remove_all(&d), Vec::<String>::new());
    assert_eq!(invariants::leaks_after_removal(&d), Vec::<String>::new());
    // The daemon down, the API check says so rather than passing.
    d.kill9();
    let v = invariants::listed_vs_kernel(&d);
    assert_eq!(kinds(&v)[0].0, Kind::CheckFailed, "{v:#?}");
}
