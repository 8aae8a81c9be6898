//! Kill -9 soak of berthd. Round after round, three or four clients run,
//! auto-remove and force-remove containers through the docker CLI while
//! berthd is killed with SIGKILL at a random moment and restarted; after each
//! restart the crash invariants (`berth_tests::invariants`) are checked, and
//! every few rounds every container is removed and whatever stays behind is
//! reported. Exits 1 when anything was found.
//!
//! The daemon is the test harness's private one (own root, exec root, socket
//! and cgroup parent), torn down when the soak ends. Rounds are not
//! replayable exactly (the clients race the kill, which is the point), but
//! `--seed` repeats the kill delays and the clients' choices.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use berth_tests::invariants::{self, Kind};
use berth_tests::Daemon;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const USAGE: &str = "usage: berth-soak [--rounds N] [--seed S] [--check-every K] \
                     [--max-seconds T] [--save-log PATH]";
/// Most clients of a round; each keeps the ids it made across rounds.
const MAX_CLIENTS: usize = 4;
/// How long violations of `listed_vs_kernel` may take to go away after a
/// restart: an auto-removal the new daemon finishes, a shim still deleting.
const SETTLE: Duration = Duration::from_secs(5);
/// No client command should take this long; one that does is killed.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

struct Opts {
    rounds: u32,
    seed: u64,
    check_every: u32,
    max_seconds: u64,
    save_log: Option<PathBuf>,
}

fn parse_opts(mut args: impl Iterator<Item = String>) -> Result<Opts> {
    let mut o = Opts {
        rounds: 50,
        seed: rand::random(),
        check_every: 5,
        max_seconds: 1200,
        save_log: None,
    };
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .with_context(|| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--rounds" => o.rounds = u32::try_from(number()?)?,
            "--seed" => o.seed = number()?,
            "--check-every" => o.check_every = u32::try_from(number()?)?.max(1),
            "--max-seconds" => o.max_seconds = number()?,
            "--save-log" => o.save_log = Some(PathBuf::from(value)),
            _ => bail!("unknown flag {flag}\n{USAGE}"),
        }
    }
    Ok(o)
}

/// Distinct subjects (a container, a mount, a pid) per kind over the whole
/// soak, and how many times any violation was seen.
#[derive(Default)]
struct Tally {
    subjects: BTreeMap<Kind, BTreeSet<String>>,
    seen: usize,
    unclassified: Vec<String>,
}

impl Tally {
    fn add(&mut self, lines: &[String]) {
        for line in lines {
            self.seen += 1;
            match invariants::classify(line) {
                Some((kind, subject)) => {
                    self.subjects
                        .entry(kind)
                        .or_default()
                        .insert(subject.to_string());
                }
                None => self.unclassified.push(line.clone()),
            }
        }
    }

    fn count(&self, kind: Kind) -> usize {
        self.subjects.get(&kind).map_or(0, BTreeSet::len)
    }

    fn is_clean(&self) -> bool {
        self.seen == 0
    }
}

#[derive(Default)]
struct Ops {
    ok: AtomicU32,
    failed: AtomicU32,
}

fn docker(host: &str, args: &[&str]) -> Option<String> {
    let mut cmd = Command::new("/usr/local/bin/docker");
    cmd.env("DOCKER_HOST", host).args(args);
    let out = invariants::output_within(&mut cmd, COMMAND_LIMIT).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// One client: loops on the three operations until told to stop. Its
/// commands fail once berthd is gone; that is expected and only counted.
fn client(
    host: String,
    seed: u64,
    mut ids: Vec<String>,
    stop: &AtomicBool,
    ops: &Ops,
) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        let roll = rng.random_range(0..100);
        let ok = if roll < 25 && !ids.is_empty() {
            let id = ids.swap_remove(rng.random_range(0..ids.len()));
            docker(&host, &["rm", "-f", &id]).is_some()
        } else if roll < 60 {
            docker(&host, &["run", "--rm", "busybox", "true"]).is_some()
        } else {
            let id = docker(&host, &["run", "-d", "busybox", "sleep", "600"]);
            if let Some(id) = id.as_ref().filter(|id| !id.is_empty()) {
                ids.push(id.clone());
            }
            id.is_some()
        };
        let counter = if ok { &ops.ok } else { &ops.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    ids
}

fn print_violations(what: &str, lines: &[String]) {
    for l in lines {
        println!("  {what}: {l}");
    }
}

fn removal_check(d: &Daemon, tally: &mut Tally) {
    let removal = invariants::remove_all(d);
    print_violations("remove", &removal);
    tally.add(&removal);
    let leaks = invariants::leaks_after_removal(d);
    print_violations("leak", &leaks);
    tally.add(&leaks);
    println!(
        "  removal check: {} removal failures, {} leaks",
        removal.len(),
        leaks.len()
    );
}

fn run(o: &Opts) -> Result<bool> {
    println!(
        "soak: {} rounds, seed {}, removal check every {} rounds, at most {} s",
        o.rounds, o.seed, o.check_every, o.max_seconds
    );
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(o.seed);
    let mut d = Daemon::start();
    d.load_busybox();
    let host = d.host();
    let mut tally = Tally::default();
    let mut pools: Vec<Vec<String>> = vec![Vec::new(); MAX_CLIENTS];
    let mut done = 0;
    let mut checked_at = 0;
    let mut restart_failed = false;
    for round in 1..=o.rounds {
        if started.elapsed() >= Duration::from_secs(o.max_seconds) {
            println!("time limit reached after {done} rounds");
            break;
        }
        let clients = rng.random_range(3..=MAX_CLIENTS);
        let kill_after = Duration::from_millis(rng.random_range(10..=400));
        let stop = AtomicBool::new(false);
        let ops = Ops::default();
        std::thread::scope(|s| {
            let handles: Vec<_> = pools[..clients]
                .iter_mut()
                .map(|pool| {
                    let (host, seed, ids) = (host.clone(), rng.random(), std::mem::take(pool));
                    let (stop, ops) = (&stop, &ops);
                    s.spawn(move || client(host, seed, ids, stop, ops))
                })
                .collect();
            std::thread::sleep(kill_after);
            d.kill9();
            // The clients' commands in flight fail now; let them finish.
            stop.store(true, Ordering::Relaxed);
            for (pool, h) in pools.iter_mut().zip(handles) {
                *pool = h.join().unwrap_or_default();
            }
        });
        println!(
            "round {round}: {clients} clients, killed after {} ms, {} commands ok, {} failed",
            kill_after.as_millis(),
            ops.ok.load(Ordering::Relaxed),
            ops.failed.load(Ordering::Relaxed)
        );
        done = round;
        // Restarting is itself an invariant: the harness panics with the log
        // when berthd does not come back.
        if std::panic::catch_unwind(AssertUnwindSafe(|| d.restart())).is_err() {
            println!("  berthd did not come back after the kill");
            restart_failed = true;
            break;
        }
        let listing = invariants::settled_listing(&d, SETTLE);
        print_violations("listing", &listing);
        tally.add(&listing);
        // The check reads the stores, which berthd holds while it runs:
        // stop it (at rest, which is safe), check, start it again.
        d.kill9();
        let store = invariants::store_check(&d);
        print_violations("store", &store);
        tally.add(&store);
        if std::panic::catch_unwind(AssertUnwindSafe(|| d.restart())).is_err() {
            println!("  berthd did not come back after the check");
            restart_failed = true;
            break;
        }
        if round % o.check_every == 0 {
            removal_check(&d, &mut tally);
            checked_at = round;
        }
    }
    if !restart_failed && checked_at != done {
        println!("final removal check");
        removal_check(&d, &mut tally);
    }
    if let Some(path) = &o.save_log {
        std::fs::write(path, d.log()).with_context(|| format!("write {}", path.display()))?;
        println!("berthd log saved to {}", path.display());
    }
    print_summary(&tally, done, started.elapsed(), restart_failed);
    Ok(tally.is_clean() && !restart_failed)
}

fn print_summary(t: &Tally, rounds: u32, took: Duration, restart_failed: bool) {
    println!("---- soak summary ----");
    println!("rounds: {rounds} in {} s", took.as_secs());
    let rows = [
        (
            "containers running without being listed",
            Kind::UnlistedRunning,
        ),
        ("other containers not listed", Kind::UnlistedContainer),
        ("listed with the wrong state", Kind::StateMismatch),
        ("shims of unlisted containers", Kind::OrphanShim),
        ("removal failures", Kind::RemovalFailed),
        ("leaked mounts after removal", Kind::LeakedMount),
        ("leaked shims after removal", Kind::LeakedShim),
        ("leaked cgroups after removal", Kind::LeakedCgroup),
        ("leaked runc state after removal", Kind::LeakedRuncState),
        ("leaked files after removal", Kind::LeakedFile),
        ("store check problems", Kind::StoreCheck),
        ("checks that could not run", Kind::CheckFailed),
    ];
    for (label, kind) in rows {
        println!("{label}: {}", t.count(kind));
    }
    if restart_failed {
        println!("berthd failed to restart");
    }
    for l in &t.unclassified {
        println!("unclassified: {l}");
    }
    println!(
        "violations seen (counting repeats over rounds): {}; result: {}",
        t.seen,
        if t.is_clean() && !restart_failed {
            "PASS"
        } else {
            "FAIL"
        }
    );
}

fn main() -> ExitCode {
    // The harness finds berthd next to a test binary (target/<profile>/deps);
    // this binary lives in target/<profile> itself.
    if std::env::var_os("BERTH_BIN_DIR").is_none() {
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(PathBuf::from))
        {
            std::env::set_var("BERTH_BIN_DIR", dir);
        }
    }
    let result = parse_opts(std::env::args().skip(1)).and_then(|o| run(&o));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("berth-soak: {e:#}");
            ExitCode::from(2)
        }
    }
}
