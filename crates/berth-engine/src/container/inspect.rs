//! Read-only views: inspect, list (`ps`), top.

use std::sync::Arc;

use bollard_stubs::models::{
    ContainerInspectResponse, ContainerState, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryHostConfig, ContainerTopResponse, DriverData,
};

use super::logopts::LogDriver;
use super::record::{ContainerRecord, Status};
use super::ContainerService;
use crate::error::{Error, Result};
use crate::filters::Filters;
use crate::timefmt;

/// The only OCI runtime berth runs containers with (`HostConfig.Runtime`).
pub(super) const RUNTIME_NAME: &str = "runc";

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    pub limit: Option<usize>,
    pub size: bool,
    pub filters: Filters,
}

fn state_enum(s: Status) -> ContainerStateStatusEnum {
    match s {
        Status::Created => ContainerStateStatusEnum::CREATED,
        Status::Running => ContainerStateStatusEnum::RUNNING,
        Status::Paused => ContainerStateStatusEnum::PAUSED,
        Status::Restarting => ContainerStateStatusEnum::RESTARTING,
        Status::Removing => ContainerStateStatusEnum::REMOVING,
        Status::Exited => ContainerStateStatusEnum::EXITED,
        Status::Dead => ContainerStateStatusEnum::DEAD,
    }
}

/// The human `Status` column of `docker ps`, written by the daemon.
pub fn status_text(rec: &ContainerRecord) -> String {
    let s = &rec.state;
    match s.status {
        Status::Running => format!(
            "Up {}{}",
            timefmt::since(&s.started_at),
            s.health
                .as_ref()
                .map(super::health::status_suffix)
                .unwrap_or_default()
        ),
        Status::Paused => format!("Up {} (Paused)", timefmt::since(&s.started_at)),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            timefmt::since(&s.finished_at)
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Created => "Created".into(),
        Status::Exited => {
            if s.finished_at == super::record::ZERO_TIME {
                "Created".into()
            } else {
                format!(
                    "Exited ({}) {} ago",
                    s.exit_code,
                    timefmt::since(&s.finished_at)
                )
            }
        }
    }
}

/// The `Command` of `docker ps`: arguments with spaces in single quotes,
/// as dockerd writes it.
fn command_line(path: &str, args: &[String]) -> String {
    let mut parts = vec![path.to_string()];
    parts.extend(args.iter().map(|a| {
        if a.contains(' ') {
            format!("'{a}'")
        } else {
            a.clone()
        }
    }));
    parts.join(" ")
}

impl ContainerService {
    pub fn inspect(self: &Arc<Self>, name_or_id: &str) -> Result<ContainerInspectResponse> {
        let c = self.get(name_or_id)?;
        let rec = c.snapshot();
        let s = &rec.state;
        let state = ContainerState {
            status: Some(state_enum(s.status)),
            running: Some(s.status.is_live()),
            paused: Some(s.status == Status::Paused),
            restarting: Some(s.status == Status::Restarting),
            oom_killed: Some(s.oom_killed),
            dead: Some(s.status == Status::Dead),
            pid: Some(s.pid),
            exit_code: Some(s.exit_code),
            error: Some(s.error.clone()),
            started_at: Some(s.started_at.clone()),
            finished_at: Some(s.finished_at.clone()),
            health: s.health.as_ref().map(super::health::Health::to_api),
        };
        let mut config = rec.config.clone();
        config.image = Some(rec.image.clone());
        // dockerd omits an empty MacAddress from Config.
        config.mac_address = config.mac_address.filter(|m| !m.is_empty());
        let mut host_config = rec.host_config.clone();
        // Create records the runtime; records from before it did ran runc.
        if host_config.runtime.as_deref().unwrap_or("").is_empty() {
            host_config.runtime = Some(RUNTIME_NAME.to_string());
        }
        Ok(ContainerInspectResponse {
            id: Some(rec.id.clone()),
            created: Some(rec.created.clone()),
            path: Some(rec.path.clone()),
            args: Some(rec.args.clone()),
            state: Some(state),
            image: Some(rec.image_id.clone()),
            resolv_conf_path: Some(c.paths.resolv_conf().display().to_string()),
            hostname_path: Some(c.paths.hostname().display().to_string()),
            hosts_path: Some(c.paths.hosts().display().to_string()),
            // dockerd's is empty when no driver writes a file.
            log_path: Some(match LogDriver::of(&rec.host_config) {
                LogDriver::JsonFile(_) => c.paths.log(&rec.id).display().to_string(),
                LogDriver::None => String::new(),
            }),
            name: Some(format!("/{}", rec.name)),
            restart_count: Some(rec.restart_count),
            driver: Some("overlay2".into()),
            platform: Some("linux".into()),
            mount_label: Some(String::new()),
            process_label: Some(String::new()),
            app_armor_profile: Some(String::new()),
            exec_ids: Some(self.exec_ids(&rec.id)).filter(|ids| !ids.is_empty()),
            host_config: Some(host_config),
            graph_driver: Some(self.graph_driver(&rec)),
            mounts: Some(super::mounts::mount_points(&rec.host_config)),
            config: Some(config),
            network_settings: Some(super::networking::network_settings(&rec)),
            ..Default::default()
        })
    }

    /// docker's `GraphDriver`: the overlay dirs of the container's rw layer.
    fn graph_driver(&self, rec: &ContainerRecord) -> DriverData {
        let join = |dirs: &[std::path::PathBuf]| {
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        };
        let data = self
            .images
            .resolve(&rec.image_id)
            .and_then(|image| self.images.rw_mount(&rec.id, &image))
            .map(|m| {
                [
                    ("LowerDir", join(&m.lowerdirs)),
                    ("MergedDir", m.target.display().to_string()),
                    ("UpperDir", m.upperdir.display().to_string()),
                    ("WorkDir", m.workdir.display().to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
            })
            .unwrap_or_default();
        DriverData {
            name: "overlay2".into(),
            data,
        }
    }

    pub fn list(self: &Arc<Self>, opts: &ListOptions) -> Result<Vec<ContainerSummary>> {
        opts.filters.validate(&[
            "id", "name", "label", "status", "exited", "ancestor", "before", "since", "network",
            "health",
        ])?;
        super::health::check_filter(&opts.filters)?;
        let mut recs: Vec<ContainerRecord> = self.all().iter().map(|c| c.snapshot()).collect();
        // Newest first, like docker.
        recs.sort_by(|a, b| b.created.cmp(&a.created));
        let created_of = |name: &str| -> Result<String> { Ok(self.get(name)?.snapshot().created) };
        let before = opts
            .filters
            .get("before")
            .first()
            .map(|n| created_of(n))
            .transpose()?;
        let since = opts
            .filters
            .get("since")
            .first()
            .map(|n| created_of(n))
            .transpose()?;
        let filter_status = !opts.filters.get("status").is_empty();
        super::record::check_status_filter(&opts.filters)?;
        let mut out = Vec::new();
        for rec in recs {
            let status = rec.state.status;
            // A limit lists the latest containers, stopped ones too (`ps -l`).
            if !opts.all && !filter_status && opts.limit.is_none() && !status.is_live() {
                continue;
            }
            if !self.matches(&rec, opts) {
                continue;
            }
            if before.as_ref().is_some_and(|b| rec.created >= *b)
                || since.as_ref().is_some_and(|s| rec.created <= *s)
            {
                continue;
            }
            out.push(ContainerSummary {
                id: Some(rec.id.clone()),
                names: Some(vec![format!("/{}", rec.name)]),
                image: Some(rec.image.clone()),
                image_id: Some(rec.image_id.clone()),
                command: Some(command_line(&rec.path, &rec.args)),
                created: Some(timefmt::unix(&rec.created)),
                ports: Some(super::networking::summary_ports(&rec)),
                network_settings: Some(super::networking::summary_networks(&rec)),
                labels: Some(rec.labels()),
                state: Some(status.as_str().to_string()),
                status: Some(status_text(&rec)),
                host_config: Some(ContainerSummaryHostConfig {
                    network_mode: rec.host_config.network_mode.clone(),
                    annotations: None,
                }),
                mounts: Some(super::mounts::mount_points(&rec.host_config)),
                ..Default::default()
            });
            if opts.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    /// `ps -s`: `SizeRw` (the writable layer) and `SizeRootFs` (with the
    /// image's layers) of each listed container.
    pub async fn fill_sizes(&self, list: &mut [ContainerSummary]) {
        for s in list.iter_mut() {
            let Ok(c) = self.get(s.id.as_deref().unwrap_or("")) else {
                continue;
            };
            let rec = c.snapshot();
            let rw = self.rw_size(&rec).await as i64;
            let image = self
                .images
                .resolve(&rec.image_id)
                .map_or(0, |i| i.size as i64);
            s.size_rw = Some(rw);
            s.size_root_fs = Some(rw + image);
        }
    }

    /// `inspect --size`: `SizeRw` and `SizeRootFs` as `ps -s` computes them.
    pub async fn fill_inspect_size(&self, r: &mut ContainerInspectResponse) -> Result<()> {
        let rec = self.get(r.id.as_deref().unwrap_or(""))?.snapshot();
        let rw = self.rw_size(&rec).await as i64;
        let image = self
            .images
            .resolve(&rec.image_id)
            .map_or(0, |i| i.size as i64);
        r.size_rw = Some(rw);
        r.size_root_fs = Some(rw + image);
        Ok(())
    }

    /// Bytes in the container's writable layer (docker's `SizeRw`).
    pub async fn rw_size(&self, rec: &ContainerRecord) -> u64 {
        let images = self.images.clone();
        let (image_id, key) = (rec.image_id.clone(), rec.id.clone());
        tokio::task::spawn_blocking(move || {
            images
                .resolve(&image_id)
                .and_then(|i| images.rw_mount(&key, &i))
                .map(|m| berth_image::tree_size(&m.upperdir))
                .unwrap_or(0)
        })
        .await
        .unwrap_or(0)
    }

    fn matches(&self, rec: &ContainerRecord, opts: &ListOptions) -> bool {
        let f = &opts.filters;
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            let vals = f.get(key);
            vals.is_empty() || vals.iter().any(|v| pred(v))
        };
        let labels = rec.labels();
        any("id", &|v| rec.id.starts_with(v))
            && (f.matches_pattern("name", &rec.name)
                || f.matches_pattern("name", &format!("/{}", rec.name)))
            && any("status", &|v| v == rec.state.status.as_str())
            && any("health", &|v| {
                v == super::health::filter_value(rec.state.health.as_ref())
            })
            && any("exited", &|v| {
                rec.state.status == Status::Exited && v.parse() == Ok(rec.state.exit_code)
            })
            && any("ancestor", &|v| {
                rec.image == v
                    || rec.image_id == v
                    || rec.image_id.trim_start_matches("sha256:").starts_with(v)
                    || self
                        .images
                        .resolve(v)
                        .map(|i| i.id == rec.image_id)
                        .unwrap_or(false)
            })
            && any("network", &|v| {
                rec.networks.iter().any(|(name, ep)| {
                    name == v || ep.network_id.as_deref().is_some_and(|id| id.starts_with(v))
                })
            })
            && f.labels_match(|k| labels.get(k).cloned())
    }

    pub async fn top(
        self: &Arc<Self>,
        name_or_id: &str,
        ps_args: Option<&str>,
    ) -> Result<ContainerTopResponse> {
        let c = self.get(name_or_id)?;
        if !c.status().is_live() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let pids = self
            .cgroup_of(&c.snapshot())
            .and_then(|cg| cg.procs().ok())
            .unwrap_or_default();
        let args = ps_args
            .filter(|a| !a.is_empty())
            .unwrap_or("-ef")
            .to_string();
        let out = tokio::process::Command::new("ps")
            .args(args.split_whitespace())
            .output()
            .await
            .map_err(|e| Error::system(format!("ps: {e}")))?;
        if !out.status.success() {
            return Err(Error::system(format!(
                "Error running ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

/// Keeps the `ps` rows whose PID is in the container, like dockerd does.
fn parse_ps(output: &str, pids: &[i32]) -> Result<ContainerTopResponse> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or("");
    let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::invalid("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() <= pid_col {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column (the command) may contain spaces.
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(ContainerTopResponse {
        titles: Some(titles),
        processes: Some(processes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_quotes_arguments_with_spaces() {
        let args = ["-c".to_string(), "echo one; exit".to_string()];
        assert_eq!(command_line("sh", &args), "sh -c 'echo one; exit'");
        assert_eq!(command_line("sh", &[]), "sh");
    }

    #[test]
    fn ps_rows_are_filtered_by_pid() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 300\n";
        let top = parse_ps(out, &[42]).unwrap();
        assert_eq!(top.titles.unwrap().len(), 8);
        let procs = top.processes.unwrap();
        assert_eq!(procs.len(), 1);
        assert_eq!(procs[0][1], "42");
        assert_eq!(procs[0][7], "sleep 300");
        assert!(parse_ps("NOPID\n", &[]).is_err());
    }
}
