//! Which containers name which volumes, from their records: a volume a
//! container names is in use for as long as the container exists, running
//! or not (dockerd's references by container id).

use std::collections::BTreeMap;

use bollard_stubs::models::{HostConfig, MountTypeEnum};

/// The volumes one container's settings name: `Mounts` of type volume and
/// `Binds` whose source is a name rather than a host path.
pub fn named_by(hc: &HostConfig) -> Vec<String> {
    let mounts = hc
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.typ == Some(MountTypeEnum::VOLUME))
        .filter_map(|m| m.source.clone())
        .filter(|s| !s.is_empty());
    let binds = hc
        .binds
        .iter()
        .flatten()
        .filter_map(|b| b.split_once(':').map(|(src, _)| src.to_string()))
        .filter(|s| !s.is_empty() && !s.starts_with('/'));
    let mut out: Vec<String> = mounts.chain(binds).collect();
    out.sort();
    out.dedup();
    out
}

/// Volume name -> ids of the containers that name it, in id order.
pub fn by_volume<'a>(
    containers: impl IntoIterator<Item = (&'a str, &'a HostConfig)>,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, hc) in containers {
        for name in named_by(hc) {
            out.entry(name).or_default().push(id.to_string());
        }
    }
    for ids in out.values_mut() {
        ids.sort();
    }
    out
}
