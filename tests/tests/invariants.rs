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
fn a_container_the_daemon_forgot_is_reported() {
    let mut d = Daemon::start();
    d.load_busybox();
    let id = ok(&d.docker(&["run", "-d", "busybox", "sleep", "600"]));
    let id = id.trim().to_string();
    // What a crash between runc's start and the record's write leaves: a
    // running container the daemon has no record of.
    d.kill9();
    std::fs::remove_dir_all(d.root.join("containers").join(&id)).unwrap();
    d.restart();
    let v = invariants::listed_vs_kernel(&d);
    let found = kinds(&v);
    assert!(
        found.contains(&(Kind::UnlistedRunning, id.clone())),
        "{v:#?}"
    );
    assert!(found.iter().any(|(k, _)| *k == Kind::OrphanShim), "{v:#?}");
    assert_eq!(invariants::remove_all(&d), Vec::<String>::new());
    let leaks = invariants::leaks_after_removal(&d);
    let found: Vec<Kind> = kinds(&leaks).into_iter().map(|(k, _)| k).collect();
    for kind in [Kind::LeakedShim, Kind::LeakedRuncState, Kind::LeakedCgroup] {
        assert!(found.contains(&kind), "no {kind}: {leaks:#?}");
    }
    // The daemon down, the API check says so rather than passing.
    d.kill9();
    let v = invariants::listed_vs_kernel(&d);
    assert_eq!(kinds(&v)[0].0, Kind::CheckFailed, "{v:#?}");
}
