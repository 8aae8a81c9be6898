//! Restart policies: whether a container that exited is started again, and
//! after how long.
//!
//! The decision follows dockerd's restart manager: `always` restarts
//! whatever happened, `unless-stopped` unless a user stopped or killed the
//! container, `on-failure[:N]` on a non-zero exit while fewer than N
//! restarts were made. A stop or kill by a user also cancels the policy for
//! the current run, so not even `always` undoes it; an explicit start (or
//! `restart`) clears that and the restart count.
//!
//! The delay doubles from 100 ms with each restart, up to a minute, and
//! falls back to 100 ms once a run lasted 10 s. The pending restart is a
//! task that sleeps out the delay; it takes the container's op lock and
//! starts it only if the container is still waiting for it.

use std::sync::Arc;
use std::time::Duration;

use bollard_stubs::models::{HostConfig, RestartPolicyNameEnum};
use tokio::sync::Notify;

use super::record::Status;
use super::{Container, ContainerService};
use crate::ids;
use crate::locks::IgnorePoison;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long was a success of sorts: the delay starts over.
const RESET_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    No,
    Always,
    UnlessStopped,
    /// At most this many restarts; 0 is no limit.
    OnFailure(i64),
}

impl Policy {
    pub fn of(hc: &HostConfig) -> Policy {
        let p = hc.restart_policy.as_ref();
        match p.and_then(|p| p.name) {
            Some(RestartPolicyNameEnum::ALWAYS) => Policy::Always,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED) => Policy::UnlessStopped,
            Some(RestartPolicyNameEnum::ON_FAILURE) => {
                Policy::OnFailure(p.and_then(|p| p.maximum_retry_count).unwrap_or(0))
            }
            _ => Policy::No,
        }
    }

    /// Whether a container that exited with `exit_code` is to run again.
    /// `stopped_by_user`: a stop or kill through the API ended it.
    pub fn wants_restart(self, exit_code: i64, stopped_by_user: bool, restart_count: i64) -> bool {
        match self {
            Policy::No => false,
            Policy::Always => true,
            Policy::UnlessStopped => !stopped_by_user,
            Policy::OnFailure(max) => exit_code != 0 && (max == 0 || restart_count < max),
        }
    }
}

/// The delay before the next restart.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    last: Option<Duration>,
}

impl Backoff {
    /// The delay after a run that lasted `ran`.
    pub fn next(&mut self, ran: Duration) -> Duration {
        let delay = match self.last {
            Some(last) if ran < RESET_AFTER => (last * 2).min(MAX_DELAY),
            _ => FIRST_DELAY,
        };
        self.last = Some(delay);
        delay
    }
}

/// A container's restart state that lives only as long as the daemon: a
/// daemon that starts again decides afresh from the record.
#[derive(Debug, Default)]
pub(super) struct RestartState {
    pub backoff: Backoff,
    /// A user stopped, killed or removed the container: no policy restart
    /// until it is started again by hand.
    pub cancelled: bool,
}

/// The in-memory half: state plus a wake-up for a pending restart's sleep.
#[derive(Default)]
pub(super) struct Restarter {
    pub state: std::sync::Mutex<RestartState>,
    pub wake: Notify,
}

impl Restarter {
    /// A user ended the run: the policy does not undo it.
    pub fn cancel(&self) {
        self.state.locked().cancelled = true;
        self.wake.notify_waiters();
    }

    /// An explicit start: a new run with a fresh policy.
    pub fn reset(&self) {
        *self.state.locked() = RestartState::default();
    }
}

/// How long a run lasted, from the record's times.
fn ran_for(started_at: &str, finished_at: &str) -> Duration {
    match (
        crate::timefmt::parse(started_at),
        crate::timefmt::parse(finished_at),
    ) {
        (Some(s), Some(f)) => (f - s).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

impl ContainerService {
    /// Called as an exit is recorded: the delay before the policy starts
    /// the container again, or `None` when it stays down.
    pub(super) fn decide_restart(
        &self,
        c: &Container,
        exit_code: i64,
        finished_at: &str,
    ) -> Option<Duration> {
        if !self.restarts_enabled() {
            return None;
        }
        let rec = c.snapshot();
        let policy = Policy::of(&rec.host_config);
        let mut st = c.restarter.state.locked();
        if st.cancelled || !policy.wants_restart(exit_code, rec.stopped_by_user, rec.restart_count)
        {
            return None;
        }
        Some(st.backoff.next(ran_for(&rec.state.started_at, finished_at)))
    }

    fn restarts_enabled(&self) -> bool {
        self.restarts_enabled
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Sleeps out the delay, then starts the container if it still waits
    /// for it (not stopped, killed or removed meanwhile).
    pub(super) fn spawn_restart(self: &Arc<Self>, c: &Arc<Container>, delay: Duration) {
        let svc = self.clone();
        let c = c.clone();
        tokio::spawn(async move {
            let wake = c.restarter.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if !c.restarter.state.locked().cancelled {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = wake => {}
                }
            }
            let _op = c.op.lock().await;
            if c.status() != Status::Restarting || c.progress.borrow().removed {
                return;
            }
            if c.restarter.state.locked().cancelled {
                svc.settle_cancelled(&c);
                return;
            }
            tracing::debug!(id = %ids::short(&c.id), "restarting by policy");
            // A failed start ends the policy's attempts, as in dockerd.
            let _ = svc.run_start(&c).await;
        });
    }

    /// A container whose pending restart was cancelled is exited, with the
    /// code of its last run. Callers hold the op lock.
    pub(super) fn settle_cancelled(&self, c: &Container) {
        let _ = c.update(|r| {
            if r.state.status == Status::Restarting {
                r.state.status = Status::Exited;
            }
        });
    }

    /// After a daemon start: containers whose policy wants them running
    /// are started, as dockerd does. An `always` container a user stopped
    /// is among them; an `unless-stopped` one is not.
    pub(super) fn start_by_policy(self: &Arc<Self>) {
        self.restarts_enabled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.all() {
            let rec = c.snapshot();
            let ran_before = rec.state.started_at != super::record::ZERO_TIME;
            if rec.state.status.is_live()
                || rec.state.status == Status::Removing
                || !ran_before
                || !Policy::of(&rec.host_config).wants_restart(
                    rec.state.exit_code,
                    rec.stopped_by_user,
                    rec.restart_count,
                )
            {
                continue;
            }
            let svc = self.clone();
            tokio::spawn(async move {
                tracing::info!(id = %ids::short(&c.id), "starting by its restart policy");
                if let Err(e) = svc.start(&c.id).await {
                    tracing::warn!(id = %ids::short(&c.id), "starting by restart policy: {e}");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::RestartPolicy;

    fn policy(name: RestartPolicyNameEnum, max: i64) -> Policy {
        Policy::of(&HostConfig {
            restart_policy: Some(RestartPolicy {
                name: Some(name),
                maximum_retry_count: Some(max),
            }),
            ..Default::default()
        })
    }

    #[test]
    fn policies_are_read_from_the_host_config() {
        assert_eq!(Policy::of(&HostConfig::default()), Policy::No);
        assert_eq!(policy(RestartPolicyNameEnum::EMPTY, 0), Policy::No);
        assert_eq!(policy(RestartPolicyNameEnum::NO, 0), Policy::No);
        assert_eq!(policy(RestartPolicyNameEnum::ALWAYS, 0), Policy::Always);
        assert_eq!(
            policy(RestartPolicyNameEnum::UNLESS_STOPPED, 0),
            Policy::UnlessStopped
        );
        assert_eq!(
            policy(RestartPolicyNameEnum::ON_FAILURE, 3),
            Policy::OnFailure(3)
        );
    }

    #[test]
    fn the_decision_table_is_dockerds() {
        // (policy, exit code, stopped by a user, restarts so far) -> restart
        let table = [
            (Policy::No, 1, false, 0, false),
            (Policy::No, 0, false, 0, false),
            (Policy::Always, 0, false, 0, true),
            (Policy::Always, 137, true, 9, true),
            (Policy::UnlessStopped, 0, false, 5, true),
            (Policy::UnlessStopped, 1, true, 0, false),
            (Policy::OnFailure(0), 0, false, 0, false),
            (Policy::OnFailure(0), 1, false, 1000, true),
            (Policy::OnFailure(3), 1, false, 2, true),
            (Policy::OnFailure(3), 1, false, 3, false),
            (Policy::OnFailure(3), 0, false, 0, false),
            (Policy::OnFailure(3), 137, true, 0, true),
        ];
        for (p, code, stopped, count, want) in table {
            assert_eq!(
                p.wants_restart(code, stopped, count),
                want,
                "{p:?} exit {code} stopped {stopped} count {count}"
            );
        }
    }

    #[test]
    fn the_delay_doubles_up_to_a_minute() {
        let mut b = Backoff::default();
        let short = Duration::from_millis(50);
        let delays: Vec<u128> = (0..12).map(|_| b.next(short).as_millis()).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]
        );
    }

    #[test]
    fn a_run_of_ten_seconds_starts_the_delay_over() {
        let mut b = Backoff::default();
        let short = Duration::from_secs(1);
        b.next(short);
        b.next(short);
        assert_eq!(b.next(short), Duration::from_millis(400));
        assert_eq!(b.next(Duration::from_secs(10)), Duration::from_millis(100));
        assert_eq!(b.next(Duration::from_secs(9)), Duration::from_millis(200));
    }

    #[test]
    fn run_length_comes_from_the_record_times() {
        assert_eq!(
            ran_for("2026-01-01T00:00:00Z", "2026-01-01T00:00:12.5Z"),
            Duration::from_millis(12_500)
        );
        assert_eq!(
            ran_for(super::super::record::ZERO_TIME, "garbage"),
            Duration::ZERO
        );
    }
}
