//! The volumes root: every volume of the local driver, its record and its
//! data, and which mounts of it are active.
//!
//! Creation and removal are each one rename, so a crash at any point
//! leaves a volume whole or not at all: a volume is built in a dot
//! directory and renamed to its name; a removal renames it to a dot
//! directory first and deletes that. Dot directories left by a crash are
//! deleted at open, unless something is mounted inside them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::mount::Mounter;
use crate::options::{self, MountSpec};
use crate::record::{self, VolumeRecord};
use crate::DATA;

struct Entry {
    rec: VolumeRecord,
    spec: Option<MountSpec>,
    /// Its filesystem is mounted on `_data`.
    mounted: bool,
    /// Who asked for the mount (container ids); unmounted when none is left.
    refs: BTreeSet<String>,
}

pub struct VolumeRoot {
    dir: PathBuf,
    mounter: Box<dyn Mounter>,
    vols: Mutex<BTreeMap<String, Entry>>,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn mkdir(path: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(|e| Error::io(path, e))
}

fn scratch_name(kind: &str) -> String {
    let n: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(".{kind}-{}-{n:x}", std::process::id())
}

impl VolumeRoot {
    /// Loads the volumes under `dir` (made if missing) and notes which
    /// are still mounted from a previous daemon.
    pub fn open(dir: PathBuf, mounter: Box<dyn Mounter>) -> Result<VolumeRoot> {
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut vols = BTreeMap::new();
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if name.starts_with('.') {
                match mounter.mounts_under(&path) {
                    Ok(m) if m.is_empty() => {
                        if let Err(err) = fs::remove_dir_all(&path) {
                            tracing::warn!("removing {}: {err}", path.display());
                        }
                    }
                    _ => tracing::warn!("{} has mounts in it: kept", path.display()),
                }
                continue;
            }
            match load_entry(&path, &name, mounter.as_ref()) {
                Ok(Some(entry)) => {
                    vols.insert(name, entry);
                }
                Ok(None) => {}
                Err(err) => tracing::warn!("volume {name}: {err}"),
            }
        }
        Ok(VolumeRoot {
            dir,
            mounter,
            vols: Mutex::new(vols),
        })
    }

    fn locked(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.vols.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where a volume's data is (its `Mountpoint`).
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.dir.join(name).join(DATA)
    }

    /// Makes a volume; an existing one of that name is returned as it is
    /// (`false`: not created), as dockerd does.
    pub fn create(
        &self,
        name: &str,
        opts: Option<BTreeMap<String, String>>,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<(VolumeRecord, bool)> {
        crate::name::validate(name)?;
        let no_opts = BTreeMap::new();
        options::validate(opts.as_ref().unwrap_or(&no_opts))?;
        let mut vols = self.locked();
        if let Some(e) = vols.get(name) {
            return Ok((e.rec.clone(), false));
        }
        let spec = options::spec(opts.as_ref().unwrap_or(&no_opts))?;
        let rec = VolumeRecord {
            name: name.to_string(),
            driver: crate::DRIVER.into(),
            labels,
            options: opts,
            created_at: now_rfc3339(),
        };
        let scratch = self.dir.join(scratch_name("new"));
        let built = (|| {
            mkdir(&scratch, 0o701)?;
            mkdir(&scratch.join(DATA), 0o755)?;
            record::save(&scratch, &rec)?;
            let target = self.dir.join(name);
            fs::rename(&scratch, &target).map_err(|e| Error::io(&target, e))?;
            record::sync_dir(&self.dir)
        })();
        if let Err(e) = built {
            let _ = fs::remove_dir_all(&scratch);
            return Err(e);
        }
        vols.insert(
            name.to_string(),
            Entry {
                rec: rec.clone(),
                spec,
                mounted: false,
                refs: BTreeSet::new(),
            },
        );
        Ok((rec, true))
    }

    pub fn get(&self, name: &str) -> Result<VolumeRecord> {
        self.locked()
            .get(name)
            .map(|e| e.rec.clone())
            .ok_or(Error::NotFound)
    }

    /// Every volume, by name.
    pub fn list(&self) -> Vec<VolumeRecord> {
        self.locked().values().map(|e| e.rec.clone()).collect()
    }

    /// Removes a volume and its data. One with active mounts stays; for a
    /// bind volume only the binding goes, never the host's directory.
    pub fn remove(&self, name: &str) -> Result<()> {
        let mut vols = self.locked();
        let entry = vols.get_mut(name).ok_or(Error::NotFound)?;
        if !entry.refs.is_empty() {
            return Err(Error::Busy);
        }
        let dir = self.dir.join(name);
        if entry.spec.is_some() {
            self.mounter.unmount(&dir.join(DATA))?;
            entry.mounted = false;
        }
        // Whatever mounted it, nothing may be under the tree we delete.
        if let Some(m) = self.mounter.mounts_under(&dir)?.first() {
            return Err(Error::Mount(format!(
                "{} is still mounted: not removed",
                m.display()
            )));
        }
        let trash = self.dir.join(scratch_name("gone"));
        fs::rename(&dir, &trash).map_err(|e| Error::io(&dir, e))?;
        vols.remove(name);
        drop(vols);
        record::sync_dir(&self.dir)?;
        fs::remove_dir_all(&trash).map_err(|e| Error::io(&trash, e))
    }

    /// Mounts the volume's filesystem for `reference` if it has one and it
    /// is not mounted yet; answers where its data is.
    pub fn mount(&self, name: &str, reference: &str) -> Result<PathBuf> {
        let mut vols = self.locked();
        let entry = vols.get_mut(name).ok_or(Error::NotFound)?;
        let data = self.dir.join(name).join(DATA);
        if let Some(spec) = &entry.spec {
            if !entry.mounted {
                self.mounter.mount(spec, &data)?;
                entry.mounted = true;
            }
            entry.refs.insert(reference.to_string());
        }
        Ok(data)
    }

    /// Drops `reference`'s mount; the last one unmounts the filesystem.
    pub fn unmount(&self, name: &str, reference: &str) -> Result<()> {
        let mut vols = self.locked();
        let entry = vols.get_mut(name).ok_or(Error::NotFound)?;
        entry.refs.remove(reference);
        if entry.refs.is_empty() && entry.mounted {
            self.mounter.unmount(&self.dir.join(name).join(DATA))?;
            entry.mounted = false;
        }
        Ok(())
    }

    /// A mount a previous daemon made for `reference` and left in place
    /// (its container still runs): counted, not mounted again.
    pub fn restore_mount(&self, name: &str, reference: &str) -> Result<()> {
        let mut vols = self.locked();
        let entry = vols.get_mut(name).ok_or(Error::NotFound)?;
        if entry.spec.is_some() && entry.mounted {
            entry.refs.insert(reference.to_string());
        }
        Ok(())
    }
}

/// A volume directory: its record, or none for a directory with `_data`
/// and no record (a volume put there by hand, which dockerd adopts too).
fn load_entry(path: &Path, name: &str, mounter: &dyn Mounter) -> Result<Option<Entry>> {
    let rec = match record::load(path)? {
        Some(r) => r,
        None => {
            let Ok(meta) = fs::metadata(path.join(DATA)) else {
                return Ok(None);
            };
            let created = chrono::DateTime::from_timestamp(meta.ctime(), 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            VolumeRecord {
                name: name.to_string(),
                driver: crate::DRIVER.into(),
                labels: None,
                options: None,
                created_at: created,
            }
        }
    };
    if rec.name != name {
        return Err(Error::Invalid(format!(
            "record names {:?}: skipped",
            rec.name
        )));
    }
    let spec = options::spec(rec.options.as_ref().unwrap_or(&BTreeMap::new()))?;
    let data = path.join(DATA);
    let mounted = spec.is_some() && mounter.mounts_under(&data)?.contains(&data);
    Ok(Some(Entry {
        rec,
        spec,
        mounted,
        refs: BTreeSet::new(),
    }))
}
