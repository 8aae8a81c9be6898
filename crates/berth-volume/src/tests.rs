use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::mount::Mounter;
use crate::options::MountSpec;
use crate::{Error, Result, VolumeRoot};

/// Mount points in a set; every call is recorded.
#[derive(Default, Clone)]
struct Fake {
    mounted: Arc<Mutex<Vec<PathBuf>>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Mounter for Fake {
    fn mount(&self, spec: &MountSpec, target: &Path) -> Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("mount {} {}", spec.fstype, target.display()));
        self.mounted.lock().unwrap().push(target.to_path_buf());
        Ok(())
    }
    fn unmount(&self, target: &Path) -> Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("unmount {}", target.display()));
        self.mounted.lock().unwrap().retain(|p| p != target);
        Ok(())
    }
    fn mounts_under(&self, path: &Path) -> Result<Vec<PathBuf>> {
        Ok(self
            .mounted
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.starts_with(path))
            .cloned()
            .collect())
    }
}

fn kv(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn open(dir: &Path, fake: &Fake) -> VolumeRoot {
    VolumeRoot::open(dir.join("volumes"), Box::new(fake.clone())).unwrap()
}

#[test]
fn create_get_list_remove() {
    let d = tempfile::tempdir().unwrap();
    let root = open(d.path(), &Fake::default());
    let (rec, created) = root.create("v1", kv(&[]), kv(&[("a", "1")])).unwrap();
    assert!(created);
    assert_eq!(rec.driver, "local");
    assert_eq!(rec.label("a").map(String::as_str), Some("1"));
    assert!(chrono::DateTime::parse_from_rfc3339(&rec.created_at).is_ok());
    let data = d.path().join("volumes/v1/_data");
    assert_eq!(root.data_path("v1"), data);
    assert!(data.is_dir());
    // An existing name answers the volume as it is, labels and all.
    let (again, created) = root.create("v1", kv(&[]), kv(&[("b", "2")])).unwrap();
    assert!(!created);
    assert_eq!(again, rec);
    let (v0, _) = root.create("v0", None, None).unwrap();
    assert!(v0.labels.is_none() && !v0.has_options());
    let names: Vec<String> = root.list().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["v0", "v1"]);
    fs::write(data.join("f"), "x").unwrap();
    root.remove("v1").unwrap();
    assert!(!d.path().join("volumes/v1").exists());
    assert!(matches!(root.get("v1"), Err(Error::NotFound)));
    assert!(matches!(root.remove("v1"), Err(Error::NotFound)));
    // Nothing but the other volume is left: no scratch directory either.
    let left: Vec<_> = fs::read_dir(d.path().join("volumes"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["v0"]);
}

#[test]
fn refused_requests_leave_nothing() {
    let d = tempfile::tempdir().unwrap();
    let root = open(d.path(), &Fake::default());
    assert!(matches!(
        root.create("../x", kv(&[]), kv(&[])),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        root.create("vv", kv(&[("type", "nfs"), ("device", ":/x")]), kv(&[])),
        Err(Error::Invalid(_))
    ));
    assert_eq!(fs::read_dir(d.path().join("volumes")).unwrap().count(), 0);
}

#[test]
fn records_survive_a_reopen() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::default();
    let rec = {
        let root = open(d.path(), &fake);
        root.create(
            "keep",
            kv(&[("type", "tmpfs"), ("device", "tmpfs")]),
            kv(&[("l", "x")]),
        )
        .unwrap()
        .0
    };
    // Left by a crash: a create and a removal cut short, and a volume
    // directory without a record.
    fs::create_dir_all(d.path().join("volumes/.new-1-2/_data")).unwrap();
    fs::create_dir_all(d.path().join("volumes/.gone-1-3/_data")).unwrap();
    fs::create_dir_all(d.path().join("volumes/byhand/_data")).unwrap();
    fs::create_dir_all(d.path().join("volumes/notavolume")).unwrap();
    let root = open(d.path(), &fake);
    assert_eq!(root.get("keep").unwrap(), rec);
    let byhand = root.get("byhand").unwrap();
    assert!(byhand.labels.is_none() && byhand.options.is_none());
    assert!(matches!(root.get("notavolume"), Err(Error::NotFound)));
    assert!(!d.path().join("volumes/.new-1-2").exists());
    assert!(!d.path().join("volumes/.gone-1-3").exists());
}

#[test]
fn mounts_are_counted() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::default();
    let root = open(d.path(), &fake);
    root.create("t1", kv(&[("type", "tmpfs"), ("device", "tmpfs")]), kv(&[]))
        .unwrap();
    let data = root.data_path("t1");
    assert_eq!(root.mount("t1", "c1").unwrap(), data);
    root.mount("t1", "c2").unwrap();
    assert_eq!(fake.calls.lock().unwrap().len(), 1, "mounted once");
    assert!(matches!(root.remove("t1"), Err(Error::Busy)));
    root.unmount("t1", "c1").unwrap();
    assert_eq!(fake.mounted.lock().unwrap().len(), 1, "c2 still uses it");
    root.unmount("t1", "c2").unwrap();
    assert!(fake.mounted.lock().unwrap().is_empty());
    root.remove("t1").unwrap();
    // A plain volume has nothing to mount.
    root.create("p1", kv(&[]), kv(&[])).unwrap();
    root.mount("p1", "c1").unwrap();
    let mounts = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.starts_with("mount "))
        .count();
    assert_eq!(mounts, 1, "only the tmpfs was ever mounted");
    root.remove("p1").unwrap();
}

#[test]
fn a_mount_left_by_a_previous_daemon() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::default();
    open(d.path(), &fake)
        .create(
            "b1",
            kv(&[("type", "none"), ("device", "/srv"), ("o", "bind")]),
            kv(&[]),
        )
        .unwrap();
    let data = d.path().join("volumes/b1/_data");
    fake.mounted.lock().unwrap().push(data.clone());
    let root = open(d.path(), &fake);
    root.restore_mount("b1", "c1").unwrap();
    assert!(matches!(root.remove("b1"), Err(Error::Busy)));
    root.unmount("b1", "c1").unwrap();
    assert!(fake.mounted.lock().unwrap().is_empty());
    assert!(data.is_dir(), "only the binding went");
}

#[test]
fn never_deletes_under_a_mount() {
    let d = tempfile::tempdir().unwrap();
    let fake = Fake::default();
    let root = open(d.path(), &fake);
    root.create("plain", kv(&[]), kv(&[])).unwrap();
    // Someone else mounted something on a plain volume's data.
    fake.mounted.lock().unwrap().push(root.data_path("plain"));
    let e = root.remove("plain").unwrap_err();
    assert!(e.to_string().contains("still mounted"), "{e}");
    assert!(root.data_path("plain").is_dir());
    assert!(root.get("plain").is_ok());
}

/// The kernel's tmpfs, when the tests run as root (as the suites do);
/// without root the mount must fail with EPERM, not pass unnoticed.
#[test]
fn kernel_tmpfs_volume() {
    let d = tempfile::tempdir().unwrap();
    let root = VolumeRoot::open(d.path().join("volumes"), Box::new(crate::Kernel)).unwrap();
    root.create(
        "k1",
        kv(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")]),
        kv(&[]),
    )
    .unwrap();
    let mounted = root.mount("k1", "c1");
    if !nix::unistd::geteuid().is_root() {
        let e = mounted.unwrap_err().to_string();
        assert!(e.contains("EPERM"), "{e}");
        return;
    }
    let data = mounted.unwrap();
    let st = nix::sys::statfs::statfs(&data).unwrap();
    assert_eq!(st.filesystem_type(), nix::sys::statfs::TMPFS_MAGIC);
    fs::write(data.join("f"), "x").unwrap();
    root.unmount("k1", "c1").unwrap();
    assert!(!data.join("f").exists(), "the tmpfs is gone");
    root.remove("k1").unwrap();
}
