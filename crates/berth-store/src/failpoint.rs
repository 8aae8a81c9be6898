//! Crash points: named places in the daemon's operations where a test can
//! make berthd die as a `kill -9` would, to prove that a crash there loses
//! nothing and leaks nothing.
//!
//! Built only with the `failpoints` feature; without it a crash point is an
//! empty inline function. With it, `FAILPOINTS=<name>=return` (the `fail`
//! crate's syntax, `;`-separated) arms a point, and the process kills
//! itself with SIGKILL the first time it gets there: no destructor, no
//! flush, no goodbye to any client.

/// Marks a crash point; `name` is `<operation>.<step>`.
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        $crate::failpoint::hit($name)
    };
}

/// Reads `FAILPOINTS` once at start; a no-op without the feature.
pub fn init() {
    #[cfg(feature = "failpoints")]
    {
        // The scenario is kept for the life of the process.
        std::mem::forget(fail::FailScenario::setup());
    }
}

/// Whether this build has crash points at all.
pub const ENABLED: bool = cfg!(feature = "failpoints");

#[inline]
pub fn hit(name: &str) {
    #[cfg(feature = "failpoints")]
    if fail::eval(name, |_| ()).is_some() {
        eprintln!("crash point {name}: killing the process");
        // SAFETY: getpid and kill have no memory effects; SIGKILL ends us here.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        std::process::abort();
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}
