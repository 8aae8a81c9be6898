//! Healthchecks: the image's or the container's `Healthcheck` probed
//! through the exec machinery, as dockerd's `daemon/health.go` does.
//!
//! Concurrency: one tokio task per running container with a healthcheck
//! (no thread), started with the container, stopped (aborted) on its exit
//! and on pause, and started again on unpause and after a daemon restart.
//! A task runs one probe at a time and changes the record only between
//! awaits, so aborting it never leaves a half-applied result.
//!
//! The health state lives in the container's record (written through the
//! page cache on every result), so a restarted daemon still shows the log.

use std::sync::Arc;
use std::time::Duration;

use bollard_stubs::models::{ContainerConfig, HealthConfig, HealthStatusEnum, HealthcheckResult};
use serde::{Deserialize, Serialize};

use super::exec::ExecSpec;
use super::record::Status;
use super::stdio::Output;
use super::{Container, ContainerService};
use crate::error::{Error, Result};
use crate::locks::IgnorePoison;
use crate::{ids, timefmt};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_PERIOD: Duration = Duration::ZERO;
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// Results kept in `State.Health.Log`.
const MAX_LOG_ENTRIES: usize = 5;
/// Bytes of a probe's output kept; more is cut and marked with `...`.
const MAX_OUTPUT: usize = 4096;
/// The time an exec may take to start; it does not count towards the
/// probe's own timeout.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a killed probe is given to report its exit.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// The opt-in label that restarts a container once it turns unhealthy.
pub const RESTART_ON_UNHEALTHY: &str = "berth.restart-on-unhealthy";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One probe's outcome, as `State.Health.Log` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// The persisted `State.Health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: i64,
    /// Oldest first, at most [`MAX_LOG_ENTRIES`].
    pub log: Vec<ProbeResult>,
}

impl Health {
    /// A new run (start, restart, daemon restart): the log stays.
    fn reset(&mut self) {
        self.status = HealthStatus::Starting;
        self.failing_streak = 0;
    }

    /// Applies one result; returns the new status when it changed.
    /// `in_start_period`: the probe began within the start period, where a
    /// failure before the first success does not count.
    pub fn apply(
        &mut self,
        result: ProbeResult,
        retries: i64,
        in_start_period: bool,
    ) -> Option<HealthStatus> {
        let old = self.status;
        let passed = result.exit_code == 0;
        if self.log.len() >= MAX_LOG_ENTRIES {
            self.log.drain(..self.log.len() + 1 - MAX_LOG_ENTRIES);
        }
        self.log.push(result);
        if passed {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !(self.status == HealthStatus::Starting && in_start_period) {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        (self.status != old).then_some(self.status)
    }

    /// docker's `State.Health`.
    pub fn to_api(&self) -> bollard_stubs::models::Health {
        let status = match self.status {
            HealthStatus::Starting => HealthStatusEnum::STARTING,
            HealthStatus::Healthy => HealthStatusEnum::HEALTHY,
            HealthStatus::Unhealthy => HealthStatusEnum::UNHEALTHY,
        };
        bollard_stubs::models::Health {
            status: Some(status),
            failing_streak: Some(self.failing_streak),
            log: Some(
                self.log
                    .iter()
                    .map(|r| HealthcheckResult {
                        start: Some(r.start.clone()),
                        end: Some(r.end.clone()),
                        exit_code: Some(r.exit_code),
                        output: Some(r.output.clone()),
                    })
                    .collect(),
            ),
        }
    }
}

/// What the container's `Healthcheck` asks for, with dockerd's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The probe's argv (a shell's for `CMD-SHELL`); empty is a probe error.
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

fn duration_or(ns: Option<i64>, default: Duration) -> Duration {
    match ns {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

impl Settings {
    /// None without a healthcheck, with `NONE`, or with a test type dockerd
    /// does not know (which it ignores with a warning too).
    pub fn of(config: &ContainerConfig) -> Option<Settings> {
        let h = config.healthcheck.as_ref()?;
        let test = h.test.as_deref().unwrap_or_default();
        let argv = match test.first().map(String::as_str)? {
            "CMD" => test[1..].to_vec(),
            "CMD-SHELL" => {
                let mut argv = config
                    .shell
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                if test.len() > 1 {
                    argv.extend(test[1..].iter().cloned());
                } else {
                    argv.clear();
                }
                argv
            }
            "NONE" => return None,
            other => {
                tracing::warn!("unknown healthcheck type '{other}' (expected 'CMD')");
                return None;
            }
        };
        Some(Settings {
            argv,
            interval: duration_or(h.interval, DEFAULT_INTERVAL),
            timeout: duration_or(h.timeout, DEFAULT_TIMEOUT),
            start_period: duration_or(h.start_period, DEFAULT_START_PERIOD),
            start_interval: duration_or(h.start_interval, DEFAULT_START_INTERVAL),
            retries: h.retries.filter(|r| *r > 0).unwrap_or(DEFAULT_RETRIES),
        })
    }

    /// The wait before the next probe: the start interval while the
    /// container is within its start period and not yet healthy.
    pub fn next_wait(&self, since_start: Duration, status: HealthStatus) -> Duration {
        if since_start >= self.start_period || status != HealthStatus::Starting {
            self.interval
        } else {
            self.start_interval
        }
    }
}

/// dockerd's merge of the image's `Healthcheck` under the request's: the
/// request's non-zero fields win; the image's fill the rest.
pub(super) fn merge_image_healthcheck(config: &mut ContainerConfig, raw_image_config: &[u8]) {
    let image: Option<HealthConfig> = serde_json::from_slice::<serde_json::Value>(raw_image_config)
        .ok()
        .and_then(|v| v.pointer("/config/Healthcheck").cloned())
        .filter(|v| !v.is_null())
        .and_then(|v| serde_json::from_value(v).ok());
    let Some(image) = image else {
        return;
    };
    let Some(mine) = config.healthcheck.as_mut() else {
        config.healthcheck = Some(image);
        return;
    };
    if mine.test.as_ref().is_none_or(|t| t.is_empty()) {
        mine.test = image.test;
    }
    let zero = |v: Option<i64>| v.unwrap_or(0) == 0;
    if zero(mine.interval) {
        mine.interval = image.interval;
    }
    if zero(mine.timeout) {
        mine.timeout = image.timeout;
    }
    if zero(mine.start_period) {
        mine.start_period = image.start_period;
    }
    if zero(mine.start_interval) {
        mine.start_interval = image.start_interval;
    }
    if zero(mine.retries) {
        mine.retries = image.retries;
    }
}

/// The first [`MAX_OUTPUT`] bytes of a probe's output, `...` if cut.
#[derive(Default)]
struct LimitedBuffer {
    buf: Vec<u8>,
    truncated: bool,
}

impl LimitedBuffer {
    fn push(&mut self, data: &[u8]) {
        let keep = MAX_OUTPUT.saturating_sub(self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..keep]);
        if keep < data.len() {
            self.truncated = true;
        }
    }

    fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.buf).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

/// Go's `time.Duration.String()`, for dockerd's timeout message.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |v: u128, unit: u128, suffix: &str| {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            format!("{whole}{suffix}")
        } else {
            let digits = unit.to_string().len() - 1;
            let f = format!("{rest:0digits$}");
            format!("{whole}.{}{suffix}", f.trim_end_matches('0'))
        }
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return frac(ns, 1_000, "µs");
    }
    if ns < 1_000_000_000 {
        return frac(ns, 1_000_000, "ms");
    }
    let secs = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let s = frac(s * 1_000_000_000 + sub, 1_000_000_000, "s");
    match (h, m) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

fn since(ts: &str, now: chrono::DateTime<chrono::Utc>) -> Duration {
    timefmt::parse(ts)
        .and_then(|t| (now - t).to_std().ok())
        .unwrap_or_default()
}

/// The `(healthy)` of `ps`'s Status column.
pub fn status_suffix(h: &Health) -> String {
    match h.status {
        HealthStatus::Starting => " (health: starting)".into(),
        s => format!(" ({})", s.as_str()),
    }
}

/// The `health` filter of `ps`: a container's health as dockerd lists it.
pub fn filter_value(h: Option<&Health>) -> &'static str {
    h.map_or("none", |h| h.status.as_str())
}

/// dockerd's 400 for a `health=` filter value no container can have.
pub(super) fn check_filter(f: &crate::filters::Filters) -> Result<()> {
    const VALID: [&str; 4] = ["none", "starting", "healthy", "unhealthy"];
    match f
        .get("health")
        .into_iter()
        .find(|v| !VALID.contains(&v.as_str()))
    {
        None => Ok(()),
        Some(v) => Err(Error::invalid(format!(
            "invalid filter 'health={v}': invalid value for health ({v}): must be one of {}",
            VALID.join(", ")
        ))),
    }
}

impl ContainerService {
    /// A run began (start, or a daemon restart found it running): the
    /// status goes back to starting and probing begins.
    pub(super) fn init_health(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        if Settings::of(&rec.config).is_none() || rec.state.status != Status::Running {
            return;
        }
        self.stop_health_task(c);
        let saved = c.update(|r| r.state.health.get_or_insert_with(Health::default).reset());
        if let Err(e) = saved {
            tracing::warn!(id = %ids::short(&c.id), "recording the health state failed: {e}");
        }
        self.resume_health(c);
    }

    /// Probing (re)starts without resetting the state (unpause).
    pub(super) fn resume_health(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        let Some(settings) = Settings::of(&rec.config) else {
            return;
        };
        if rec.state.status != Status::Running {
            return;
        }
        let mut slot = c.health_task.locked();
        if slot.is_some() {
            return;
        }
        let svc = self.clone();
        let c2 = c.clone();
        let task = tokio::spawn(async move { svc.monitor(&c2, settings).await });
        *slot = Some(task.abort_handle());
    }

    /// The container exited or was paused: probing stops and, as in
    /// dockerd, the status reads unhealthy until a probe says otherwise.
    pub(super) fn stop_health(&self, c: &Container) {
        if !self.stop_health_task(c) {
            return;
        }
        let saved = c.update(|r| {
            if let Some(h) = r.state.health.as_mut() {
                h.status = HealthStatus::Unhealthy;
            }
        });
        if let Err(e) = saved {
            tracing::warn!(id = %ids::short(&c.id), "recording the health state failed: {e}");
        }
    }

    fn stop_health_task(&self, c: &Container) -> bool {
        match c.health_task.locked().take() {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        }
    }

    async fn monitor(self: &Arc<Self>, c: &Arc<Container>, s: Settings) {
        loop {
            let rec = c.snapshot();
            let status = rec
                .state
                .health
                .as_ref()
                .map(|h| h.status)
                .unwrap_or_default();
            let wait = s.next_wait(since(&rec.state.started_at, chrono::Utc::now()), status);
            tokio::time::sleep(wait).await;
            let started = chrono::Utc::now();
            let start = timefmt::now_rfc3339();
            let (exit_code, output) = match self.probe(c, &s).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(id = %ids::short(&c.id), "health check error: {}", e.message);
                    (-1, e.message)
                }
            };
            let result = ProbeResult {
                start,
                end: timefmt::now_rfc3339(),
                exit_code,
                output,
            };
            let in_start_period = timefmt::parse(&rec.state.started_at)
                .and_then(|t| (started - t).to_std().ok())
                .is_some_and(|d| d < s.start_period);
            let changed = c.update(|r| {
                r.state.health.get_or_insert_with(Health::default).apply(
                    result,
                    s.retries,
                    in_start_period,
                )
            });
            match changed {
                Ok(Some(status)) => self.on_health_change(c, status),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(id = %ids::short(&c.id), "recording a health result failed: {e}")
                }
            }
        }
    }

    fn on_health_change(self: &Arc<Self>, c: &Arc<Container>, status: HealthStatus) {
        let rec = c.snapshot();
        self.event(&rec, &format!("health_status: {}", status.as_str()), &[]);
        let opted_in = rec
            .labels()
            .get(RESTART_ON_UNHEALTHY)
            .is_some_and(|v| v == "true");
        if status == HealthStatus::Unhealthy && opted_in {
            // Its own task: the restart's stop aborts this monitor.
            let svc = self.clone();
            let id = c.id.clone();
            tokio::spawn(async move {
                tracing::info!(id = %ids::short(&id), "restarting an unhealthy container");
                if let Err(e) = svc.restart(&id, None, None).await {
                    tracing::warn!(id = %ids::short(&id), "restart of an unhealthy container failed: {e}");
                }
            });
        }
    }

    /// One probe: an exec of the check in the container. Returns its exit
    /// code and output; a timeout kills it and reads as exit code -1.
    async fn probe(self: &Arc<Self>, c: &Arc<Container>, s: &Settings) -> Result<(i64, String)> {
        if s.argv.is_empty() {
            return Err(Error::system(format!(
                "healthcheck for container {} has no command",
                c.id
            )));
        }
        let rec = c.snapshot();
        let spec = ExecSpec {
            cmd: s.argv.clone(),
            user: rec.config.user.clone().unwrap_or_default(),
            working_dir: rec.config.working_dir.clone().unwrap_or_default(),
            attach_stdout: true,
            attach_stderr: true,
            ..ExecSpec::default()
        };
        let exec_id = self.create_exec(&c.id, spec)?;
        let result = self.run_probe(c, &exec_id, s.timeout).await;
        self.discard_exec(&exec_id);
        result
    }

    async fn run_probe(
        self: &Arc<Self>,
        c: &Container,
        exec_id: &str,
        timeout: Duration,
    ) -> Result<(i64, String)> {
        let mut session =
            match tokio::time::timeout(START_LIMIT, self.start_exec(exec_id, None)).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(Error::system(format!(
                        "timed out starting health check for container {}",
                        c.id
                    )))
                }
            };
        let mut out = LimitedBuffer::default();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                o = session.output.recv() => match o {
                    Some(Output::Stdout(b) | Output::Stderr(b)) => out.push(&b),
                    Some(Output::Exit(code)) => return Ok((code, out.text())),
                    None => return Err(Error::system(format!(
                        "healthcheck for container {} has no exit code",
                        c.id
                    ))),
                },
            }
        }
        // Too slow: kill it, and let it go before the next one starts.
        self.signal_exec(exec_id, libc::SIGKILL);
        let _ = tokio::time::timeout(KILL_WAIT, async {
            while let Some(o) = session.output.recv().await {
                if matches!(o, Output::Exit(_)) {
                    break;
                }
            }
        })
        .await;
        let text = out.text();
        let limit = go_duration(timeout);
        Ok((
            -1,
            if text.is_empty() {
                format!("Health check exceeded timeout ({limit})")
            } else {
                format!("Health check exceeded timeout ({limit}): {text}")
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i64) -> ProbeResult {
        ProbeResult {
            start: "2026-01-01T00:00:00Z".into(),
            end: "2026-01-01T00:00:01Z".into(),
            exit_code: code,
            output: format!("code {code}"),
        }
    }

    #[test]
    fn failures_turn_unhealthy_after_retries() {
        let mut h = Health::default();
        assert_eq!(h.apply(result(1), 3, false), None);
        assert_eq!(h.apply(result(1), 3, false), None);
        assert_eq!(h.failing_streak, 2);
        assert_eq!(h.apply(result(2), 3, false), Some(HealthStatus::Unhealthy));
        assert_eq!(h.failing_streak, 3);
        assert_eq!(h.apply(result(1), 3, false), None);
        assert_eq!(h.apply(result(0), 3, false), Some(HealthStatus::Healthy));
        assert_eq!(h.failing_streak, 0);
    }

    #[test]
    fn a_success_turns_healthy_at_once() {
        let mut h = Health::default();
        assert_eq!(h.apply(result(0), 3, true), Some(HealthStatus::Healthy));
        assert_eq!(h.apply(result(0), 3, false), None);
    }

    #[test]
    fn start_period_failures_do_not_count_until_the_first_success() {
        let mut h = Health::default();
        for _ in 0..5 {
            assert_eq!(h.apply(result(1), 1, true), None);
        }
        assert_eq!(h.failing_streak, 0);
        assert_eq!(h.status, HealthStatus::Starting);
        h.apply(result(0), 1, true);
        // Healthy once: a failure counts even within the start period.
        assert_eq!(h.apply(result(1), 1, true), Some(HealthStatus::Unhealthy));
    }

    #[test]
    fn the_log_keeps_the_last_five() {
        let mut h = Health::default();
        for code in 0..8 {
            h.apply(result(code), 3, false);
        }
        let codes: Vec<i64> = h.log.iter().map(|r| r.exit_code).collect();
        assert_eq!(codes, [3, 4, 5, 6, 7]);
        h.reset();
        assert_eq!(h.log.len(), 5);
        assert_eq!(h.status, HealthStatus::Starting);
    }

    #[test]
    fn output_is_capped() {
        let mut b = LimitedBuffer::default();
        b.push(&[b'a'; 4000]);
        assert_eq!(b.text().len(), 4000);
        b.push(&[b'b'; 200]);
        let t = b.text();
        assert_eq!(t.len(), MAX_OUTPUT + 3);
        assert!(t.ends_with("bbb..."));
    }

    fn config(test: &[&str], shell: Option<&[&str]>) -> ContainerConfig {
        ContainerConfig {
            healthcheck: Some(HealthConfig {
                test: Some(test.iter().map(|s| s.to_string()).collect()),
                interval: Some(200_000_000),
                ..HealthConfig::default()
            }),
            shell: shell.map(|s| s.iter().map(|s| s.to_string()).collect()),
            ..ContainerConfig::default()
        }
    }

    #[test]
    fn settings_take_dockerds_defaults() {
        let s = Settings::of(&config(&["CMD-SHELL", "exit 1"], None)).unwrap();
        assert_eq!(s.argv, ["/bin/sh", "-c", "exit 1"]);
        assert_eq!(s.interval, Duration::from_millis(200));
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert_eq!(s.retries, 3);
        assert_eq!(s.start_interval, Duration::from_secs(5));
        let s = Settings::of(&config(&["CMD-SHELL", "x"], Some(&["/bin/ash", "-e"]))).unwrap();
        assert_eq!(s.argv, ["/bin/ash", "-e", "x"]);
        let s = Settings::of(&config(&["CMD", "true", "a b"], None)).unwrap();
        assert_eq!(s.argv, ["true", "a b"]);
        assert!(Settings::of(&config(&["CMD"], None))
            .unwrap()
            .argv
            .is_empty());
        assert!(Settings::of(&config(&["NONE"], None)).is_none());
        assert!(Settings::of(&config(&[], None)).is_none());
        assert!(Settings::of(&ContainerConfig::default()).is_none());
    }

    #[test]
    fn start_interval_applies_while_starting_in_the_start_period() {
        let mut s = Settings::of(&config(&["CMD", "true"], None)).unwrap();
        s.start_period = Duration::from_secs(10);
        s.start_interval = Duration::from_secs(1);
        let early = Duration::from_secs(2);
        assert_eq!(s.next_wait(early, HealthStatus::Starting), s.start_interval);
        assert_eq!(s.next_wait(early, HealthStatus::Healthy), s.interval);
        assert_eq!(
            s.next_wait(Duration::from_secs(10), HealthStatus::Starting),
            s.interval
        );
    }

    #[test]
    fn image_healthcheck_fills_what_the_request_leaves() {
        let raw = br#"{"config":{"Healthcheck":{"Test":["CMD","true"],"Interval":5000000000,"Retries":7}}}"#;
        let mut c = ContainerConfig::default();
        merge_image_healthcheck(&mut c, raw);
        let h = c.healthcheck.clone().unwrap();
        assert_eq!(h.test.unwrap(), ["CMD", "true"]);
        assert_eq!(h.retries, Some(7));

        let mut c = ContainerConfig {
            healthcheck: Some(HealthConfig {
                interval: Some(1_000_000),
                ..HealthConfig::default()
            }),
            ..ContainerConfig::default()
        };
        merge_image_healthcheck(&mut c, raw);
        let h = c.healthcheck.unwrap();
        assert_eq!(h.test.unwrap(), ["CMD", "true"]);
        assert_eq!(h.interval, Some(1_000_000));
        assert_eq!(h.retries, Some(7));

        // `--no-healthcheck` keeps NONE.
        let mut c = config(&["NONE"], None);
        merge_image_healthcheck(&mut c, raw);
        assert!(Settings::of(&c).is_none());

        let mut c = ContainerConfig::default();
        merge_image_healthcheck(&mut c, br#"{"config":{}}"#);
        assert!(c.healthcheck.is_none());
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_micros(1)), "1µs");
    }

    #[test]
    fn filter_values_are_dockerds() {
        let f = |raw: &str| crate::filters::Filters::parse(Some(raw)).unwrap();
        assert!(check_filter(&f(r#"{"health":{"none":true,"starting":true}}"#)).is_ok());
        let e = check_filter(&f(r#"{"health":{"sick":true}}"#)).unwrap_err();
        assert_eq!(
            e.message,
            "invalid filter 'health=sick': invalid value for health (sick): must be one of none, starting, healthy, unhealthy"
        );
        assert_eq!(filter_value(None), "none");
    }
}
