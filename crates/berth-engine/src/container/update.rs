//! `POST /containers/{id}/update`: new resource limits and restart policy
//! for a container. The record changes; a running container's cgroup
//! follows at once through the runtime (`runc update`), which knows cgroup
//! v1 and v2. The policy is read at each exit, so a new one applies from
//! the next exit on.

use std::sync::Arc;

use bollard_stubs::models::{HostConfig, RestartPolicy, RestartPolicyNameEnum};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{ContainerService, Status};
use crate::error::{Error, Result};

const MIN_MEMORY: i64 = 6 * 1024 * 1024;
const CPU_PERIOD: i64 = 100_000;

/// The fields of docker's update body berth applies; zero means "leave".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateRequest {
    pub cpu_shares: Option<i64>,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub restart_policy: Option<RestartPolicy>,
}

/// The update body's keys berth applies (UpdateRequest's fields).
const APPLIED: &[&str] = &[
    "CpuShares",
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
    "BlkioWeight",
    "RestartPolicy",
];

/// A value that asks for nothing: what clients send for flags not given.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zero),
    }
}

impl UpdateRequest {
    /// Decodes an update body. A resource berth does not update yet is
    /// refused by name when it asks for a change, never dropped.
    pub fn from_json(body: Value) -> Result<Self> {
        let Value::Object(fields) = &body else {
            return Err(Error::invalid(
                "invalid JSON: the update body must be an object",
            ));
        };
        for (key, value) in fields {
            if !APPLIED.contains(&key.as_str()) && !is_zero(value) {
                return Err(Error::invalid(format!(
                    "{key} cannot be updated by berth yet"
                )));
            }
        }
        serde_json::from_value(body).map_err(|e| Error::invalid(format!("invalid JSON: {e}")))
    }
}

fn set(v: Option<i64>) -> Option<i64> {
    v.filter(|n| *n != 0)
}

impl UpdateRequest {
    /// docker's checks, before anything changes.
    fn validate(&self, current: &HostConfig) -> Result<()> {
        if let Some(p) = self.new_restart_policy() {
            super::validate::check_restart_policy(&HostConfig {
                restart_policy: Some(p.clone()),
                ..Default::default()
            })?;
            let none = p.name == Some(RestartPolicyNameEnum::NO);
            if current.auto_remove.unwrap_or(false) && !none {
                return Err(Error::conflict(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
        }
        if let Some(m) = set(self.memory) {
            if m < MIN_MEMORY {
                return Err(Error::invalid("Minimum memory limit allowed is 6MB"));
            }
        }
        let memory = set(self.memory).or(current.memory.filter(|m| *m > 0));
        if let (Some(m), Some(s)) = (memory, set(self.memory_swap)) {
            if s > 0 && s < m {
                return Err(Error::invalid(
                    "Minimum memoryswap limit should be larger than memory limit, see usage",
                ));
            }
        }
        if set(self.nano_cpus).is_some()
            && (set(self.cpu_quota).is_some() || set(self.cpu_period).is_some())
        {
            return Err(Error::invalid(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        if let Some(w) = self.blkio_weight.filter(|w| *w != 0) {
            if !(10..=1000).contains(&w) {
                return Err(Error::invalid("Range of blkio weight is from 10 to 1000"));
            }
        }
        Ok(())
    }

    /// Writes the changes into the container's host config.
    fn apply(&self, hc: &mut HostConfig) {
        if let Some(v) = set(self.memory) {
            hc.memory = Some(v);
        }
        if let Some(v) = set(self.memory_swap) {
            hc.memory_swap = Some(v);
        }
        if let Some(v) = set(self.memory_reservation) {
            hc.memory_reservation = Some(v);
        }
        if let Some(v) = set(self.cpu_shares) {
            hc.cpu_shares = Some(v);
        }
        if let Some(v) = set(self.nano_cpus) {
            hc.nano_cpus = Some(v);
            hc.cpu_period = Some(0);
            hc.cpu_quota = Some(0);
        }
        if let Some(v) = set(self.cpu_period) {
            hc.cpu_period = Some(v);
        }
        if let Some(v) = set(self.cpu_quota) {
            hc.cpu_quota = Some(v);
        }
        if let Some(v) = self.cpuset_cpus.clone().filter(|s| !s.is_empty()) {
            hc.cpuset_cpus = Some(v);
        }
        if let Some(v) = self.cpuset_mems.clone().filter(|s| !s.is_empty()) {
            hc.cpuset_mems = Some(v);
        }
        if let Some(v) = self.pids_limit {
            // dockerd records "unlimited" as 0, however it was asked.
            hc.pids_limit = Some(v.max(0));
        }
        if let Some(v) = self.blkio_weight.filter(|w| *w != 0) {
            hc.blkio_weight = Some(v);
        }
        if let Some(p) = self.new_restart_policy() {
            hc.restart_policy = Some(p.clone());
        }
    }

    /// An empty name is what clients send when --restart is not given.
    fn new_restart_policy(&self) -> Option<&RestartPolicy> {
        self.restart_policy
            .as_ref()
            .filter(|p| p.name.is_some_and(|n| n != RestartPolicyNameEnum::EMPTY))
    }

    /// The OCI `linux.resources` with only what this request changes.
    pub fn oci_resources(&self) -> Value {
        let mut out = Map::new();
        let mut memory = Map::new();
        if let Some(v) = set(self.memory) {
            memory.insert("limit".into(), json!(v));
        }
        if let Some(v) = set(self.memory_swap) {
            memory.insert("swap".into(), json!(v));
        }
        if let Some(v) = set(self.memory_reservation) {
            memory.insert("reservation".into(), json!(v));
        }
        if !memory.is_empty() {
            out.insert("memory".into(), Value::Object(memory));
        }
        let mut cpu = Map::new();
        if let Some(v) = set(self.cpu_shares) {
            cpu.insert("shares".into(), json!(v));
        }
        if let Some(n) = set(self.nano_cpus) {
            cpu.insert("period".into(), json!(CPU_PERIOD));
            cpu.insert("quota".into(), json!(n * CPU_PERIOD / 1_000_000_000));
        }
        if let Some(v) = set(self.cpu_period) {
            cpu.insert("period".into(), json!(v));
        }
        if let Some(v) = set(self.cpu_quota) {
            cpu.insert("quota".into(), json!(v));
        }
        if let Some(v) = self.cpuset_cpus.clone().filter(|s| !s.is_empty()) {
            cpu.insert("cpus".into(), json!(v));
        }
        if let Some(v) = self.cpuset_mems.clone().filter(|s| !s.is_empty()) {
            cpu.insert("mems".into(), json!(v));
        }
        if !cpu.is_empty() {
            out.insert("cpu".into(), Value::Object(cpu));
        }
        // Unlike the other fields, a present PidsLimit of 0 (or less) asks
        // for "unlimited", which runc spells -1.
        if let Some(v) = self.pids_limit {
            out.insert("pids".into(), json!({"limit": if v > 0 { v } else { -1 }}));
        }
        if let Some(v) = self.blkio_weight.filter(|w| *w != 0) {
            out.insert("blockIO".into(), json!({"weight": v}));
        }
        Value::Object(out)
    }
}

impl ContainerService {
    pub async fn update(self: &Arc<Self>, name_or_id: &str, req: UpdateRequest) -> Result<()> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        req.validate(&rec.host_config).map_err(|e| {
            if e.kind == crate::ErrorKind::Conflict {
                Error::conflict(format!("Cannot update container {}: {}", c.id, e.message))
            } else {
                e
            }
        })?;
        let resources = req.oci_resources();
        // A container waiting for its policy restart has no cgroup yet: its
        // next start takes the new limits from the record.
        let runs = matches!(rec.state.status, Status::Running | Status::Paused);
        if runs && resources.as_object().is_some_and(|o| !o.is_empty()) {
            let runtime = self.runtime.clone();
            let id = c.id.clone();
            tokio::task::spawn_blocking(move || runtime.update(&id, &resources))
                .await?
                .map_err(|e| Error::system(format!("Cannot update container {}: {e}", c.id)))?;
            berth_store::crash_point!("update.applied");
        }
        c.update_durable(|r| req.apply(&mut r.host_config))?;
        berth_store::crash_point!("update.recorded");
        self.event(&c.snapshot(), "update", &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_changes_reaches_the_runtime() {
        let req = UpdateRequest {
            memory: Some(128 << 20),
            memory_swap: Some(256 << 20),
            nano_cpus: Some(1_500_000_000),
            pids_limit: Some(50),
            cpu_shares: Some(0),
            ..Default::default()
        };
        assert_eq!(
            req.oci_resources(),
            json!({
                "memory": {"limit": 128 << 20, "swap": 256 << 20},
                "cpu": {"period": 100000, "quota": 150000},
                "pids": {"limit": 50}
            })
        );
        let mut hc = HostConfig::default();
        req.apply(&mut hc);
        assert_eq!(hc.memory, Some(128 << 20));
        assert_eq!(hc.cpu_shares, None);
        assert_eq!(UpdateRequest::default().oci_resources(), json!({}));
    }

    #[test]
    fn pids_limit_zero_or_less_is_unlimited() {
        for asked in [0, -1, -5] {
            let req = UpdateRequest::from_json(json!({ "PidsLimit": asked })).unwrap();
            assert_eq!(req.oci_resources(), json!({"pids": {"limit": -1}}));
            let mut hc = HostConfig {
                pids_limit: Some(50),
                ..Default::default()
            };
            req.apply(&mut hc);
            assert_eq!(hc.pids_limit, Some(0));
        }
        let absent = UpdateRequest::from_json(json!({ "Memory": 0 })).unwrap();
        assert_eq!(absent.oci_resources(), json!({}));
        let null = UpdateRequest::from_json(json!({ "PidsLimit": null })).unwrap();
        assert_eq!(null.oci_resources(), json!({}));
    }

    #[test]
    fn fields_berth_cannot_update_are_refused_by_name() {
        let ok = UpdateRequest::from_json(json!({"Memory": 64 << 20, "KernelMemory": 0,
            "BlkioWeightDevice": [], "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}))
        .unwrap();
        assert_eq!(ok.memory, Some(64 << 20));
        let e = UpdateRequest::from_json(json!({"CpuRealtimeRuntime": 1000})).unwrap_err();
        assert_eq!(
            e.message,
            "CpuRealtimeRuntime cannot be updated by berth yet"
        );
    }

    #[test]
    fn restart_policies_are_checked_and_applied() {
        let hc = HostConfig::default();
        let always =
            UpdateRequest::from_json(json!({"RestartPolicy": {"Name": "always"}})).unwrap();
        assert!(always.validate(&hc).is_ok());
        let mut applied = hc.clone();
        always.apply(&mut applied);
        assert_eq!(
            applied.restart_policy.and_then(|p| p.name),
            Some(RestartPolicyNameEnum::ALWAYS)
        );
        let bad = UpdateRequest::from_json(
            json!({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}),
        )
        .unwrap();
        assert_eq!(
            bad.validate(&hc).unwrap_err().message,
            "maximum retry count cannot be used with restart policy 'always'"
        );
        let rm = HostConfig {
            auto_remove: Some(true),
            ..Default::default()
        };
        let e = always.validate(&rm).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Conflict);
        let no = UpdateRequest::from_json(json!({"RestartPolicy": {"Name": "no"}})).unwrap();
        assert!(no.validate(&rm).is_ok());
        // Not given: the policy stays.
        let mut kept = HostConfig {
            restart_policy: always.restart_policy.clone(),
            ..Default::default()
        };
        UpdateRequest::from_json(json!({"RestartPolicy": {"Name": ""}}))
            .unwrap()
            .apply(&mut kept);
        assert_eq!(kept.restart_policy, always.restart_policy);
    }

    #[test]
    fn docker_validation() {
        let hc = HostConfig::default();
        let small = UpdateRequest {
            memory: Some(1 << 20),
            ..Default::default()
        };
        assert_eq!(
            small.validate(&hc).unwrap_err().message,
            "Minimum memory limit allowed is 6MB"
        );
        let swap = UpdateRequest {
            memory: Some(64 << 20),
            memory_swap: Some(32 << 20),
            ..Default::default()
        };
        assert!(swap.validate(&hc).is_err());
        let unlimited_swap = UpdateRequest {
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            ..Default::default()
        };
        assert!(unlimited_swap.validate(&hc).is_ok());
    }
}
