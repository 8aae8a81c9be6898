use std::collections::HashMap;
use std::sync::Arc;

use bollard_stubs::models::{HostConfig, Mount, MountTypeEnum};

use super::*;
use crate::error::ErrorKind;
use crate::events::EventBus;
use crate::filters::Filters;

fn service(dir: &std::path::Path) -> (VolumeService, Arc<EventBus>) {
    let events = Arc::new(EventBus::default());
    let root = VolumeRoot::open(dir.join("volumes"), Box::new(berth_volume::Kernel)).unwrap();
    (VolumeService::with_root(root, events.clone()), events)
}

fn req(name: &str, labels: &[(&str, &str)]) -> CreateVolume {
    CreateVolume {
        name: Some(name.into()),
        labels: (!labels.is_empty()).then(|| {
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }),
        ..Default::default()
    }
}

fn f(json: &str) -> Filters {
    Filters::parse(Some(json)).unwrap()
}

fn names(l: &VolumeList) -> Vec<&str> {
    l.volumes.iter().map(|v| v.name.as_str()).collect()
}

fn actions(events: &EventBus) -> Vec<String> {
    events
        .subscribe()
        .0
        .iter()
        .map(|e| format!("{} {} {}", e.kind, e.action, e.actor.id))
        .collect()
}

#[test]
fn create_named_and_anonymous() {
    let d = tempfile::tempdir().unwrap();
    let (svc, events) = service(d.path());
    let v = svc.create(req("data", &[("a", "1")])).unwrap();
    assert_eq!(v.driver, "local");
    assert_eq!(v.scope, "local");
    assert_eq!(
        v.mountpoint,
        d.path().join("volumes/data/_data").display().to_string()
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["Labels"], serde_json::json!({"a": "1"}));
    assert_eq!(json["Options"], serde_json::Value::Null);
    assert!(json.get("UsageData").is_none());
    // Again: the same volume, no second event.
    assert_eq!(svc.create(req("data", &[])).unwrap(), v);
    let anon = svc.create(CreateVolume::default()).unwrap();
    assert_eq!(anon.name.len(), 64);
    assert!(anon.name.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        anon.labels.as_ref().and_then(|l| l.get(ANONYMOUS_LABEL)),
        Some(&String::new())
    );
    assert_eq!(
        actions(&events),
        [
            "volume create data".to_string(),
            format!("volume create {}", anon.name)
        ]
    );
}

#[test]
fn create_refusals() {
    let d = tempfile::tempdir().unwrap();
    let (svc, _) = service(d.path());
    let e = svc.create(req("a", &[])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    assert_eq!(
        e.message,
        "create a: volume name is too short, names should be at least two alphanumeric characters"
    );
    let mut r = req("vv", &[]);
    r.driver_opts = Some(HashMap::from([("foo".into(), "x".into())]));
    assert_eq!(
        svc.create(r).unwrap_err().message,
        "create vv: invalid option: \"foo\""
    );
    let mut r = req("vv", &[]);
    r.driver = Some("nfsplugin".into());
    let e = svc.create(r).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    assert!(
        e.message
            .contains("\"nfsplugin\" is not supported by berth"),
        "{}",
        e.message
    );
    assert!(svc.inspect("vv").is_err());
}

#[test]
fn inspect_and_remove() {
    let d = tempfile::tempdir().unwrap();
    let (svc, events) = service(d.path());
    let e = svc.inspect("nosuch").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::NotFound, "get nosuch: no such volume")
    );
    let e = svc.remove("nosuch", false, &[]).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::NotFound, "get nosuch: no such volume")
    );
    svc.remove("nosuch", true, &[]).unwrap();
    svc.create(req("used", &[])).unwrap();
    let e = svc
        .remove("used", true, &["c1".into(), "c2".into()])
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert_eq!(e.message, "remove used: volume is in use - [c1, c2]");
    svc.remove("used", false, &[]).unwrap();
    assert!(svc.inspect("used").is_err());
    assert_eq!(
        actions(&events),
        ["volume create used", "volume destroy used"]
    );
}

#[test]
fn list_filters() {
    let d = tempfile::tempdir().unwrap();
    let (svc, _) = service(d.path());
    svc.create(req("web-data", &[("app", "web"), ("tier", "1")]))
        .unwrap();
    svc.create(req("db-data", &[("app", "db")])).unwrap();
    svc.create(req("scratch", &[])).unwrap();
    let used = |n: &str| n == "db-data";
    let list = |j: &str| svc.list(&f(j), &used).unwrap();
    assert_eq!(names(&list("{}")), ["db-data", "scratch", "web-data"]);
    assert_eq!(
        names(&list(r#"{"name":{"data":true}}"#)),
        ["db-data", "web-data"]
    );
    assert_eq!(names(&list(r#"{"name":{"^s.*h$":true}}"#)), ["scratch"]);
    assert_eq!(
        names(&list(r#"{"label":{"app":true}}"#)),
        ["db-data", "web-data"]
    );
    assert_eq!(names(&list(r#"{"label":{"app=web":true}}"#)), ["web-data"]);
    assert_eq!(
        names(&list(r#"{"dangling":{"true":true}}"#)),
        ["scratch", "web-data"]
    );
    assert_eq!(names(&list(r#"{"dangling":{"0":true}}"#)), ["db-data"]);
    assert_eq!(names(&list(r#"{"driver":{"local":true}}"#)).len(), 3);
    assert!(names(&list(r#"{"driver":{"other":true}}"#)).is_empty());
    let e = svc.list(&f(r#"{"until":{"1h":true}}"#), &used).unwrap_err();
    assert_eq!(e.message, "invalid filter 'until'");
    let e = svc
        .list(&f(r#"{"dangling":{"maybe":true}}"#), &used)
        .unwrap_err();
    assert_eq!(e.message, "invalid filter 'dangling=[maybe]'");
    let json = serde_json::to_value(list("{}")).unwrap();
    assert_eq!(json["Warnings"], serde_json::Value::Null);
}

#[test]
fn prune_anonymous_by_default() {
    let d = tempfile::tempdir().unwrap();
    let (svc, events) = service(d.path());
    let anon = svc.create(CreateVolume::default()).unwrap();
    let anon_used = svc.create(CreateVolume::default()).unwrap();
    std::fs::write(
        std::path::Path::new(&anon.mountpoint).join("f"),
        vec![0u8; 1000],
    )
    .unwrap();
    svc.create(req("named", &[("keep", "no")])).unwrap();
    svc.create(req("other", &[])).unwrap();
    let mut tmpfs = req("tmp", &[]);
    tmpfs.driver_opts = Some(HashMap::from([
        ("type".into(), "tmpfs".into()),
        ("device".into(), "tmpfs".into()),
    ]));
    svc.create(tmpfs).unwrap();
    let used_name = anon_used.name.clone();
    let used = move |n: &str| n == used_name;
    let r = svc.prune(&Filters::default(), &used).unwrap();
    assert_eq!(r.volumes_deleted, std::slice::from_ref(&anon.name));
    assert_eq!(r.space_reclaimed, 1000);
    let r = svc
        .prune(
            &f(r#"{"all":{"true":true},"label!":{"keep=no":true}}"#),
            &used,
        )
        .unwrap();
    assert_eq!(r.volumes_deleted, ["other"]);
    let r = svc.prune(&f(r#"{"all":{"1":true}}"#), &used).unwrap();
    assert_eq!(r.volumes_deleted, ["named"]);
    assert!(
        serde_json::to_string(&svc.prune(&Filters::default(), &used).unwrap())
            .unwrap()
            .contains("\"VolumesDeleted\":[]")
    );
    // Left: the used one and the tmpfs (driver options: never pruned).
    let left = svc.list(&Filters::default(), &used).unwrap();
    assert_eq!(left.volumes.len(), 2);
    let e = svc.prune(&f(r#"{"all":{"yes":true}}"#), &used).unwrap_err();
    assert_eq!(
        e.message,
        "invalid filter 'all': strconv.ParseBool: parsing \"yes\": invalid syntax"
    );
    let e = svc
        .prune(&f(r#"{"dangling":{"true":true}}"#), &used)
        .unwrap_err();
    assert_eq!(e.message, "invalid filter 'dangling'");
    let prunes: Vec<String> = events
        .subscribe()
        .0
        .iter()
        .filter(|e| e.action == "prune")
        .map(|e| e.actor.attributes["reclaimed"].clone())
        .collect();
    assert_eq!(prunes, ["1000", "0", "0", "0"]);
}

#[test]
fn disk_usage_counts_local_volumes() {
    let d = tempfile::tempdir().unwrap();
    let (svc, _) = service(d.path());
    let v = svc.create(req("big", &[])).unwrap();
    std::fs::write(
        std::path::Path::new(&v.mountpoint).join("f"),
        vec![1u8; 4096],
    )
    .unwrap();
    let mut tmpfs = req("tmp", &[]);
    tmpfs.driver_opts = Some(HashMap::from([
        ("type".into(), "tmpfs".into()),
        ("device".into(), "tmpfs".into()),
    ]));
    svc.create(tmpfs).unwrap();
    let df = svc.disk_usage(&|n: &str| usize::from(n == "big") * 2);
    assert_eq!(df.len(), 1);
    assert_eq!(
        df[0].usage_data,
        Some(UsageData {
            size: 4096,
            ref_count: 2
        })
    );
}

#[test]
fn users_from_container_settings() {
    let hc = |binds: &[&str], mounts: &[(MountTypeEnum, &str)]| HostConfig {
        binds: Some(binds.iter().map(|s| s.to_string()).collect()),
        mounts: Some(
            mounts
                .iter()
                .map(|(t, s)| Mount {
                    typ: Some(*t),
                    source: Some(s.to_string()),
                    target: Some("/x".into()),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let a = hc(&["data:/d", "/host:/h"], &[(MountTypeEnum::VOLUME, "logs")]);
    let b = hc(&["data:/d:ro"], &[(MountTypeEnum::BIND, "/srv")]);
    let c = HostConfig::default();
    assert_eq!(users::named_by(&a), ["data", "logs"]);
    let by = users::by_volume([("id-b", &b), ("id-a", &a), ("id-c", &c)]);
    assert_eq!(by.len(), 2);
    assert_eq!(by["data"], ["id-a", "id-b"]);
    assert_eq!(by["logs"], ["id-a"]);
}
