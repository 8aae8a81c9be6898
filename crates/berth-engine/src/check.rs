//! `berthd --check`: whether the stores and the kernel agree, read while no
//! daemon runs on the root (it changes nothing, so an admin can run it at
//! any time the daemon is stopped; containers may keep running meanwhile).

use std::collections::HashSet;
use std::fs;

use berth_runtime::runtime::{OciRuntime, Runc};

use crate::container::record;
use crate::Config;

/// Why the check could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the image store at {0} is open in a running berthd: stop it before checking")]
    InUse(String),
    #[error("{0}")]
    Store(#[from] berth_image::Error),
}

/// The problems found, one sentence each; empty when all is consistent.
pub fn check(config: &Config) -> Result<Vec<String>, CheckError> {
    let image_root = config.root.join("image");
    let store = berth_image::check_store(&image_root).map_err(|e| {
        if berth_image::store_in_use(&e) {
            CheckError::InUse(image_root.display().to_string())
        } else {
            CheckError::Store(e)
        }
    })?;
    let mut problems = store.problems;
    let scan = record::scan(&config.root);
    for (dir, why) in &scan.unreadable {
        problems.push(format!("{}: unreadable record: {why}", dir.display()));
    }
    for dir in &scan.orphans {
        problems.push(format!("{} has no container record", dir.display()));
    }
    let ids: HashSet<&str> = scan.records.iter().map(|r| r.id.as_str()).collect();
    for rec in &scan.records {
        let short = crate::ids::short(&rec.id);
        if rec.state.status == record::Status::Removing {
            // A removal under way when the daemon stopped: its files go in
            // any order, and the next start finishes it.
            continue;
        }
        if !store.images.contains(&rec.image_id) {
            problems.push(format!(
                "container {short}: its image {} is missing",
                rec.image_id
            ));
        }
        if !store.rw_keys.iter().any(|k| k == &rec.id) {
            problems.push(format!("container {short}: its writable layer is missing"));
        }
        let tmp =
            record::ContainerPaths::new(&config.root, &config.exec_root, &rec.id).record_tmp();
        if tmp.exists() {
            problems.push(format!("{} is left over", tmp.display()));
        }
    }
    for key in &store.rw_keys {
        if !ids.contains(key.as_str()) {
            problems.push(format!("writable layer {key} belongs to no container"));
        }
    }
    let runtime = Runc::new(config.runtime.clone(), config.runtime_root());
    for id in runtime.list().unwrap_or_default() {
        if !ids.contains(id.as_str()) {
            problems.push(format!("runtime state of {id} belongs to no container"));
        }
    }
    let prefixes: HashSet<&str> = ids.iter().map(|id| record::shim_stem(id)).collect();
    for e in fs::read_dir(config.exec_root.join("shims"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let stem = name.split('.').next().unwrap_or("");
        if !prefixes.contains(stem) {
            problems.push(format!("shim socket {name} belongs to no container"));
        }
    }
    for e in fs::read_dir(config.exec_root.join("containers"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if !ids.contains(name.as_str()) {
            problems.push(format!("bundle {name} belongs to no container"));
        }
    }
    let netns_dir = config.exec_root.join("netns");
    for e in fs::read_dir(&netns_dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        match scan.records.iter().find(|r| r.id == name) {
            None => problems.push(format!("network namespace {name} belongs to no container")),
            Some(r) if !r.state.status.is_live() && r.state.status != record::Status::Removing => {
                problems.push(format!(
                    "container {}: its network namespace is left though it does not run",
                    crate::ids::short(&r.id)
                ))
            }
            Some(_) => {}
        }
    }
    for dir in [&config.root, &config.exec_root] {
        for point in berth_runtime::mountinfo::mount_points_under(dir).unwrap_or_default() {
            // The namespaces' directory is a shared mount of itself, kept.
            if point == netns_dir {
                continue;
            }
            let owned = record::names_any(&point, |c| ids.contains(c));
            if !owned {
                problems.push(format!("mount {} belongs to no container", point.display()));
            }
        }
    }
    Ok(problems)
}
