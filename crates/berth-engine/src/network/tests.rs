//! The service's logic over a fake kernel: addresses, ports, rules and
//! records, and what a restart rebuilds from them.

use std::collections::HashMap;
use std::sync::Arc;

use bollard_stubs::models::{EndpointSettings, IpamConfig, NetworkCreateRequest, PortBinding};

use super::dataplane::Fake;
use super::*;
use crate::filters::Filters;

struct T {
    dir: tempfile::TempDir,
    plane: Arc<Fake>,
}

impl T {
    fn new() -> T {
        T {
            dir: tempfile::tempdir().unwrap(),
            plane: Arc::new(Fake::default()),
        }
    }

    async fn open(&self) -> Arc<NetworkService> {
        let cfg = NetConfig {
            bridge: "bt-unit0".into(),
            bip: Some("10.251.0.1/24".parse().unwrap()),
            ..Default::default()
        };
        NetworkService::open(
            cfg,
            self.dir.path().join("root"),
            self.dir.path().join("run"),
            self.plane.clone(),
            Arc::new(EventBus::default()),
        )
        .await
        .unwrap()
    }
}

fn req(id: &str, network: &str, ports: &[(&str, &str)]) -> AttachRequest {
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for (cport, host) in ports {
        bindings.insert(
            cport.to_string(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(host.to_string()),
            }]),
        );
    }
    AttachRequest {
        id: id.to_string(),
        name: format!("name-{id}"),
        networks: vec![(network.to_string(), EndpointSettings::default())],
        port_bindings: bindings,
        publish_all: false,
        exposed: Vec::new(),
        mac_address: None,
        dns: Vec::new(),
    }
}

fn ips(a: &Attached) -> Vec<String> {
    a.record
        .endpoints
        .iter()
        .map(|e| e.ipv4.unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn builtin_networks_are_made_once_and_kept() {
    let t = T::new();
    let svc = t.open().await;
    let names: Vec<String> = svc
        .list(&Filters::default(), &|_| false)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    let id = svc.inspect("bridge", None).unwrap().id;
    drop(svc);
    let again = t.open().await;
    assert_eq!(again.inspect("bridge", None).unwrap().id, id);
    let calls = t.plane.calls.lock().unwrap().clone();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("bridge bt-unit0 [10.251.0.1/24]")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn addresses_are_the_lowest_free_and_come_back() {
    let t = T::new();
    let svc = t.open().await;
    let a = svc.attach(req("a", "bridge", &[])).await.unwrap();
    let b = svc.attach(req("b", "bridge", &[])).await.unwrap();
    assert_eq!(ips(&a), ["10.251.0.2/24"]);
    assert_eq!(ips(&b), ["10.251.0.3/24"]);
    assert_eq!(a.record.endpoints[0].mac, "02:42:0a:fb:00:02");
    assert_eq!(
        a.record.endpoints[0].gateway4,
        Some("10.251.0.1".parse().unwrap())
    );
    svc.detach("a", None).await;
    let c = svc.attach(req("c", "bridge", &[])).await.unwrap();
    assert_eq!(ips(&c), ["10.251.0.2/24"]);
}

#[tokio::test]
async fn a_restarted_service_does_not_give_a_restored_address_again() {
    let t = T::new();
    let svc = t.open().await;
    let a = svc
        .attach(req("a", "bridge", &[("80/tcp", "0")]))
        .await
        .unwrap();
    drop(svc);
    let svc = t.open().await;
    svc.restore("a", "name-a", &a.record);
    let b = svc.attach(req("b", "bridge", &[])).await.unwrap();
    assert_eq!(ips(&b), ["10.251.0.3/24"]);
    // The restored port is held too.
    let port = a.record.ports[0].host_port.to_string();
    let e = svc
        .attach(req("c", "bridge", &[("81/tcp", &port)]))
        .await
        .unwrap_err();
    assert!(e.message.contains("port is already allocated"), "{e}");
}

#[tokio::test]
async fn published_ports_become_rules_and_go_with_the_sandbox() {
    let t = T::new();
    let svc = t.open().await;
    let a = svc
        .attach(req("a", "bridge", &[("80/tcp", "0"), ("53/udp", "0")]))
        .await
        .unwrap();
    assert_eq!(a.record.ports.len(), 2);
    let rs = t.plane.rulesets.lock().unwrap().last().cloned().unwrap();
    assert_eq!(rs.table, "berth-bt-unit0");
    assert_eq!(rs.ports.len(), 2);
    assert!(rs
        .ports
        .iter()
        .all(|p| p.container_ip.to_string() == "10.251.0.2"));
    let map = a.record.port_map(&[]);
    assert_eq!(
        map["80/tcp"].as_ref().unwrap()[0].host_ip.as_deref(),
        Some("127.0.0.1")
    );
    // The same host port for another container is refused, and nothing of
    // that attempt stays.
    let taken = a.record.ports[0].host_port.to_string();
    let e = svc
        .attach(req("b", "bridge", &[("80/tcp", &taken)]))
        .await
        .unwrap_err();
    assert!(e.message.starts_with("Bind for 127.0.0.1:"), "{e}");
    assert!(svc.sandbox_record("b").is_none());
    svc.detach("a", None).await;
    let rs = t.plane.rulesets.lock().unwrap().last().cloned().unwrap();
    assert!(rs.ports.is_empty());
    let next = svc.attach(req("b", "bridge", &[("80/tcp", &taken)])).await;
    assert!(next.is_ok());
}

fn create_req(name: &str, subnet: Option<&str>) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: name.into(),
        ipam: subnet.map(|s| bollard_stubs::models::Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(s.into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn user_networks_are_checked_like_dockerd() {
    let t = T::new();
    let svc = t.open().await;
    let id = svc
        .create(create_req("front", Some("10.252.0.0/24")))
        .await
        .unwrap();
    let e = svc
        .create(create_req("front", Some("10.253.0.0/24")))
        .await
        .unwrap_err();
    assert_eq!(e.message, "network with name front already exists");
    let e = svc
        .create(create_req("back", Some("10.252.0.0/25")))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden);
    let e = svc.create(create_req("bridge", None)).await.unwrap_err();
    assert_eq!(
        e.message,
        "operation is not permitted on predefined bridge network "
    );
    let e = svc
        .create(create_req("bad", Some("10.254.0.1/24")))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    let view = svc.inspect("front", None).unwrap();
    let cfg = &view.ipam.config[0];
    // The user's fields only, as dockerd shows them.
    assert_eq!(cfg.subnet.as_deref(), Some("10.252.0.0/24"));
    assert_eq!(cfg.gateway, None);
    assert_eq!(svc.inspect(&id[..6], None).unwrap().name, "front");

    let a = svc.attach(req("a", "front", &[])).await.unwrap();
    assert!(a.embedded_dns);
    assert_eq!(ips(&a), ["10.252.0.2/24"]);
    let e = svc.remove("front").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert!(e.message.contains("has active endpoints (name-a)"), "{e}");
    let e = svc.remove("bridge").await.unwrap_err();
    assert_eq!(
        e.message,
        "bridge is a pre-defined network and cannot be removed"
    );
    svc.detach("a", None).await;
    svc.create(create_req("spare", None)).await.unwrap();
    let mut pruned = svc.prune(&Filters::default()).await.unwrap();
    pruned.sort();
    assert_eq!(pruned, ["front", "spare"]);
    assert!(svc.inspect("front", None).is_err());
    // Gone from disk too: a restart does not bring them back.
    drop(svc);
    assert!(t.open().await.inspect("spare", None).is_err());
}

#[tokio::test]
async fn static_addresses_only_on_user_networks() {
    let t = T::new();
    let svc = t.open().await;
    svc.create(create_req("front", Some("10.252.0.0/24")))
        .await
        .unwrap();
    let mut r = req("a", "front", &[]);
    r.networks[0].1.ipam_config = Some(bollard_stubs::models::EndpointIpamConfig {
        ipv4_address: Some("10.252.0.77".into()),
        ..Default::default()
    });
    let a = svc.attach(r).await.unwrap();
    assert_eq!(ips(&a), ["10.252.0.77/24"]);
    let mut r = req("b", "bridge", &[]);
    r.networks[0].1.ipam_config = Some(bollard_stubs::models::EndpointIpamConfig {
        ipv4_address: Some("10.251.0.77".into()),
        ..Default::default()
    });
    let e = svc.attach(r).await.unwrap_err();
    assert!(e.message.contains("user-defined networks only"), "{e}");
    assert!(svc.sandbox_record("b").is_none());
}

#[tokio::test]
async fn without_a_bridge_there_is_no_table_and_no_shared_name() {
    let t = T::new();
    let cfg = NetConfig {
        bridge: "none".into(),
        ..Default::default()
    };
    let run = t.dir.path().join("run");
    let svc = NetworkService::open(
        cfg.clone(),
        t.dir.path().join("root"),
        run.clone(),
        t.plane.clone(),
        Arc::new(EventBus::default()),
    )
    .await
    .unwrap();
    svc.sync_firewall().await.unwrap();
    let table = table_name(&cfg, &run);
    assert_ne!(table, table_name(&cfg, std::path::Path::new("/run/other")));
    assert!(t.plane.rulesets.lock().unwrap().is_empty());
    let calls = t.plane.calls.lock().unwrap().clone();
    assert!(calls.contains(&format!("table- {table}")), "{calls:?}");
    assert!(svc.inspect("bridge", None).is_err());
}

#[tokio::test]
async fn a_v6_binding_of_a_v4_container_is_skipped() {
    let t = T::new();
    let svc = t.open().await;
    let mut r = req("a", "bridge", &[]);
    r.port_bindings.insert(
        "80/tcp".into(),
        Some(vec![
            PortBinding {
                host_ip: Some("::".into()),
                host_port: Some(String::new()),
            },
            PortBinding {
                host_ip: Some("0.0.0.0".into()),
                host_port: Some(String::new()),
            },
        ]),
    );
    let a = svc.attach(r).await.unwrap();
    assert_eq!(a.record.ports.len(), 1);
    assert_eq!(a.record.ports[0].host_ip, None);
    assert_eq!(a.record.ports[0].shown_ip(), "0.0.0.0");
}
