//! `/volumes`: create, list, prune and the `/system/df` section, with
//! dockerd's filters and messages. Which volumes containers use is the
//! caller's to say (it has the container records).

use std::collections::BTreeMap;

use bollard_stubs::models::VolumeCreateOptions;
use serde::Serialize;

use super::{op_err, UsageData, Volume, VolumeService, ANONYMOUS_LABEL};
use crate::error::{Error, Result};
use crate::filters::Filters;

pub type CreateVolume = VolumeCreateOptions;

/// `GET /volumes`' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeList {
    pub volumes: Vec<Volume>,
    pub warnings: Option<Vec<String>>,
}

/// `POST /volumes/prune`'s answer; dockerd sends `[]`, never `null`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumesPruned {
    pub volumes_deleted: Vec<String>,
    pub space_reclaimed: u64,
}

fn sorted(
    m: Option<std::collections::HashMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    m.map(|m| m.into_iter().collect())
}

/// strconv.ParseBool's words.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl VolumeService {
    /// `POST /volumes/create`: an existing name answers that volume.
    pub fn create(&self, req: CreateVolume) -> Result<Volume> {
        if req.cluster_volume_spec.is_some() {
            return Err(Error::invalid(
                "VolumeCreateRequest.ClusterVolumeSpec is not supported by berth (swarm)",
            ));
        }
        let mut name = req.name.unwrap_or_default();
        let mut labels = sorted(req.labels);
        if name.is_empty() {
            name = crate::ids::new_id();
            labels
                .get_or_insert_with(BTreeMap::new)
                .insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let driver = req.driver.unwrap_or_default();
        if !driver.is_empty() && driver != berth_volume::DRIVER {
            return Err(Error::invalid(format!(
                "create {name}: volume driver {driver:?} is not supported by berth (only local)"
            )));
        }
        let (rec, created) = self
            .root
            .create(&name, sorted(req.driver_opts), labels)
            .map_err(|e| op_err("create", &name, e))?;
        if created {
            self.event(&name, "create");
        }
        Ok(self.view(rec))
    }

    /// `GET /volumes`, by name. `in_use` says whether a container names a
    /// volume (the `dangling` filter).
    pub fn list(&self, f: &Filters, in_use: &dyn Fn(&str) -> bool) -> Result<VolumeList> {
        f.validate(&["dangling", "name", "driver", "label"])?;
        let dangling = if f.contains("dangling") {
            Some(f.bool_or("dangling", false)?)
        } else {
            None
        };
        let volumes = self
            .root
            .list()
            .into_iter()
            .filter(|r| f.matches_pattern("name", &r.name))
            .filter(|r| f.matches_exact("driver", &r.driver))
            .filter(|r| f.labels_match(|k| r.label(k).cloned()))
            .filter(|r| dangling.is_none_or(|d| d != in_use(&r.name)))
            .map(|r| self.view(r))
            .collect();
        Ok(VolumeList {
            volumes,
            warnings: None,
        })
    }

    /// `POST /volumes/prune`: unused local volumes without driver options,
    /// anonymous ones only unless `all=true`.
    pub fn prune(&self, f: &Filters, in_use: &dyn Fn(&str) -> bool) -> Result<VolumesPruned> {
        let Ok(_one) = self.pruning.try_lock() else {
            return Err(Error::conflict("a prune operation is already running"));
        };
        let all = f.get("all");
        let all = match all.as_slice() {
            [] => false,
            [v] => parse_go_bool(v).ok_or_else(|| {
                Error::invalid(format!(
                    "invalid filter 'all': strconv.ParseBool: parsing {v:?}: invalid syntax"
                ))
            })?,
            many => {
                return Err(Error::invalid(format!(
                    "invalid filter 'all=[{}]': only one value is expected",
                    many.join(" ")
                )))
            }
        };
        f.validate(&["label", "label!", "all"])?;
        let mut f = f.clone();
        if !all {
            f.insert("label", ANONYMOUS_LABEL);
        }
        let mut out = VolumesPruned::default();
        for rec in self.root.list() {
            if rec.has_options() || in_use(&rec.name) || !f.labels_match(|k| rec.label(k).cloned())
            {
                continue;
            }
            let size = berth_image::tree_size(&self.root.data_path(&rec.name));
            match self.root.remove(&rec.name) {
                Ok(()) => {
                    self.event(&rec.name, "destroy");
                    out.space_reclaimed += size;
                    out.volumes_deleted.push(rec.name);
                }
                Err(e) => tracing::warn!("prune: volume {}: {e}", rec.name),
            }
        }
        let attrs = [("reclaimed".to_string(), out.space_reclaimed.to_string())].into();
        self.events.publish("volume", "prune", "", attrs);
        Ok(out)
    }

    /// `/system/df`'s volumes: local data only (no driver options), each
    /// with its size and how many containers name it.
    pub fn disk_usage(&self, refs: &dyn Fn(&str) -> usize) -> Vec<Volume> {
        self.root
            .list()
            .into_iter()
            .filter(|r| !r.has_options())
            .map(|r| {
                let data = self.root.data_path(&r.name);
                let size = if data.is_dir() {
                    berth_image::tree_size(&data) as i64
                } else {
                    -1
                };
                let ref_count = refs(&r.name) as i64;
                let mut v = self.view(r);
                v.usage_data = Some(UsageData { size, ref_count });
                v
            })
            .collect()
    }
}
