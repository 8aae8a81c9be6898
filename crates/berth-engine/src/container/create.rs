//! `POST /containers/create`: validate, merge with the image's defaults,
//! allocate the writable layer, persist the record.

use std::collections::HashMap;
use std::fs;
use std::sync::Arc;

use bollard_stubs::models::{ContainerConfig, HostConfig, NetworkingConfig};

use super::record::{self, ContainerRecord, State};
use super::validate;
use super::{Container, ContainerService};
use crate::error::{Error, Result};
use crate::locks::IgnorePoison;
use crate::{ids, timefmt};
use berth_runtime::cgroups::Support;

#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub networking_config: NetworkingConfig,
}

impl ContainerService {
    pub async fn create(self: &Arc<Self>, req: CreateRequest) -> Result<(String, Vec<String>)> {
        let CreateRequest {
            name: requested_name,
            mut config,
            mut host_config,
            networking_config,
        } = req;
        let image_name = config.image.clone().unwrap_or_default();
        if image_name.is_empty() {
            return Err(Error::invalid(
                "Config cannot be empty in order to create a container",
            ));
        }
        // dockerd checks the settings before it looks the image up: a bad
        // request is a 400 even when the image is missing too.
        let warnings = validate::check_create(
            &mut config,
            &mut host_config,
            &networking_config,
            Support::host(),
        )?;
        super::logopts::log_driver(&host_config)?;
        // `container:NAME` modes are recorded with the full id (a rename
        // changes nothing); a missing container is dockerd's 400.
        self.resolve_container_modes(&mut host_config)?;
        let networks = self.create_networks(&host_config, &networking_config)?;
        self.check_links(&host_config)?;
        let images = self.images.clone();
        let lookup = image_name.clone();
        let image = tokio::task::spawn_blocking(move || images.resolve(&lookup)).await??;

        merge_image_defaults(&mut config, &image.config);
        super::health::merge_image_healthcheck(&mut config, &image.raw_config);
        let mut args = config.entrypoint.clone().unwrap_or_default();
        args.extend(config.cmd.clone().unwrap_or_default());
        if args.is_empty() {
            return Err(Error::invalid("No command specified"));
        }

        let id = ids::new_id();
        let name = self.reserve_name(requested_name.as_deref(), &id)?;
        if host_config.network_mode.as_deref().unwrap_or("").is_empty() {
            host_config.network_mode = Some("default".into());
        }
        // dockerd records the daemon's log driver when none is asked for;
        // docker-py reads `HostConfig.LogConfig.Type` back.
        let log = host_config.log_config.get_or_insert_with(Default::default);
        if log.typ.as_deref().unwrap_or("").is_empty() {
            log.typ = Some("json-file".into());
        }
        log.config.get_or_insert_with(Default::default);
        if config.hostname.as_deref().unwrap_or("").is_empty() {
            config.hostname = Some(default_hostname(&host_config, &id, |donor| {
                self.get(donor)
                    .ok()
                    .and_then(|c| c.snapshot().config.hostname)
            }));
        }
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: timefmt::now_rfc3339(),
            image: image_name,
            image_id: image.id.clone(),
            path: args[0].clone(),
            args: args[1..].to_vec(),
            config,
            host_config,
            state: State::default(),
            restart_count: 0,
            stopped_by_user: false,
            networks,
            sandbox: None,
        };
        let paths = self.paths(&id);
        let result = async {
            fs::create_dir_all(&paths.dir)?;
            berth_store::crash_point!("create.dir-made");
            let images = self.images.clone();
            let key = id.clone();
            tokio::task::spawn_blocking(move || images.prepare_rw(&key, &image)).await??;
            berth_store::crash_point!("create.layer-made");
            // The record is the commit point of a create: before it, a
            // crash leaves only a directory and a layer that restore removes.
            record::save(&paths, &rec, record::Sync::Durable)?;
            Ok(record::sync_dir(&self.config.root.join("containers"))?)
        }
        .await;
        if let Err(e) = result {
            self.release_name(&name, &id);
            let _ = fs::remove_dir_all(&paths.dir);
            let images = self.images.clone();
            let key = id.clone();
            let _ = tokio::task::spawn_blocking(move || images.remove_rw(&key)).await;
            return Err(e);
        }
        berth_store::crash_point!("create.recorded");
        self.event(&rec, "create", &[]);
        self.insert(Arc::new(Container::new(rec, paths)));
        Ok((id, warnings))
    }

    fn reserve_name(&self, requested: Option<&str>, id: &str) -> Result<String> {
        let mut names = self.names.locked();
        let requested = requested
            .map(|n| n.trim_start_matches('/'))
            .filter(|n| !n.is_empty());
        let name = match requested {
            Some(n) => {
                if !ids::valid_name(n) {
                    return Err(Error::invalid(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                if let Some(other) = names.get(n) {
                    return Err(Error::conflict(format!(
                        "Conflict. The container name \"/{n}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                    )));
                }
                n.to_string()
            }
            None => (0..)
                .map(ids::random_name)
                .find(|n| !names.contains_key(n))
                .unwrap_or_else(|| id.to_string()),
        };
        names.insert(name.clone(), id.to_string());
        Ok(name)
    }

    fn release_name(&self, name: &str, id: &str) {
        let mut names = self.names.locked();
        if names.get(name).map(String::as_str) == Some(id) {
            names.remove(name);
        }
    }
}

/// dockerd's hostname for a container that asks for none: the host's on
/// the host network, the other container's on `container:X`, else the
/// short id.
fn default_hostname(
    hc: &HostConfig,
    id: &str,
    donor_hostname: impl Fn(&str) -> Option<String>,
) -> String {
    let mode = hc.network_mode.as_deref().unwrap_or("");
    if mode == "host" {
        if let Ok(h) = fs::read_to_string("/proc/sys/kernel/hostname") {
            return h.trim().to_string();
        }
    }
    if let Some(h) = mode.strip_prefix("container:").and_then(donor_hostname) {
        return h;
    }
    ids::short(id).to_string()
}

/// Docker's merge of create options over the image config: the image fills
/// what the request leaves empty; an entrypoint given at create time drops
/// the image's Cmd.
fn merge_image_defaults(config: &mut ContainerConfig, image: &oci_spec::image::ImageConfiguration) {
    let Some(img) = image.config() else {
        return;
    };
    let empty = |v: &Option<Vec<String>>| v.as_ref().is_none_or(|v| v.is_empty());
    if empty(&config.entrypoint) && empty(&config.cmd) {
        config.entrypoint = img.entrypoint().clone();
        config.cmd = img.cmd().clone();
    } else if empty(&config.entrypoint) {
        config.entrypoint = img.entrypoint().clone();
    } else if config
        .entrypoint
        .as_ref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        // `--entrypoint ""` resets the image's entrypoint.
        config.entrypoint = None;
    }
    let mut env: Vec<String> = img.env().clone().unwrap_or_default();
    for var in config.env.clone().unwrap_or_default() {
        let key = var.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(var);
    }
    config.env = Some(env);
    if config.working_dir.as_deref().unwrap_or("").is_empty() {
        config.working_dir = img.working_dir().clone().filter(|w| !w.is_empty());
    }
    if config.user.as_deref().unwrap_or("").is_empty() {
        config.user = img.user().clone().filter(|u| !u.is_empty());
    }
    let mut labels: HashMap<String, String> = img.labels().clone().unwrap_or_default();
    labels.extend(config.labels.clone().unwrap_or_default());
    config.labels = Some(labels);
    if config.stop_signal.as_deref().unwrap_or("").is_empty() {
        config.stop_signal = img.stop_signal().clone();
    }
    if let Some(ports) = img.exposed_ports() {
        let exposed = config.exposed_ports.get_or_insert_with(HashMap::new);
        for p in ports {
            exposed.entry(p.clone()).or_default();
        }
    }
    if let Some(vols) = img.volumes() {
        let volumes = config.volumes.get_or_insert_with(HashMap::new);
        for v in vols {
            volumes.entry(v.clone()).or_default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{ConfigBuilder, ImageConfigurationBuilder};

    fn image(entrypoint: Option<Vec<&str>>, cmd: Vec<&str>) -> oci_spec::image::ImageConfiguration {
        let mut b = ConfigBuilder::default()
            .cmd(cmd.into_iter().map(String::from).collect::<Vec<_>>())
            .env(vec!["PATH=/bin".to_string(), "A=image".to_string()]);
        if let Some(e) = entrypoint {
            b = b.entrypoint(e.into_iter().map(String::from).collect::<Vec<_>>());
        }
        ImageConfigurationBuilder::default()
            .config(b.build().unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn image_cmd_fills_empty_request() {
        let mut c = ContainerConfig::default();
        merge_image_defaults(&mut c, &image(None, vec!["sh"]));
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(c.env, Some(vec!["PATH=/bin".into(), "A=image".into()]));
    }

    #[test]
    fn request_env_overrides_image_env() {
        let mut c = ContainerConfig {
            env: Some(vec!["A=mine".into(), "B=1".into()]),
            cmd: Some(vec!["true".into()]),
            ..Default::default()
        };
        merge_image_defaults(&mut c, &image(Some(vec!["/entry"]), vec!["sh"]));
        assert_eq!(
            c.env,
            Some(vec!["PATH=/bin".into(), "A=mine".into(), "B=1".into()])
        );
        assert_eq!(c.entrypoint, Some(vec!["/entry".to_string()]));
        assert_eq!(c.cmd, Some(vec!["true".to_string()]));
    }

    #[test]
    fn request_entrypoint_drops_image_cmd() {
        let mut c = ContainerConfig {
            entrypoint: Some(vec!["echo".into()]),
            ..Default::default()
        };
        merge_image_defaults(&mut c, &image(None, vec!["sh"]));
        assert_eq!(c.cmd, None);
    }
}
