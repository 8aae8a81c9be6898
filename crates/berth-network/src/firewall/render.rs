//! The pure half of the firewall: a [`Ruleset`] becomes one nft JSON
//! transaction. No kernel access here, so every rule is unit-tested.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use nftables::expr::{Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression};
use nftables::expr::{Payload, PayloadField, Prefix, CT};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::{JumpTarget, Match, NATFamily, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::{BridgeRules, PortRule, Ruleset};
use crate::{Error, Result};

pub(super) const PORTS: &str = "ports";
const NAT_PREROUTING: &str = "nat-prerouting";
const NAT_OUTPUT: &str = "nat-output";
const NAT_POSTROUTING: &str = "nat-postrouting";
const FILTER_FORWARD: &str = "filter-forward";

// The kernel's standard hook priorities (nft's dstnat, srcnat, filter).
const PRIO_DSTNAT: i32 = -100;
const PRIO_SRCNAT: i32 = 100;
const PRIO_FILTER: i32 = 0;

/// The transaction that replaces the table with `rs`.
pub(super) fn ruleset(rs: &Ruleset) -> Result<Nftables<'static>> {
    validate(rs)?;
    let mut doc = Doc::new(&rs.table);
    doc.replace_table();
    doc.base_chain(
        NAT_PREROUTING,
        NfChainType::NAT,
        NfHook::Prerouting,
        PRIO_DSTNAT,
    );
    doc.base_chain(NAT_OUTPUT, NfChainType::NAT, NfHook::Output, PRIO_DSTNAT);
    doc.chain(PORTS);
    doc.base_chain(
        NAT_POSTROUTING,
        NfChainType::NAT,
        NfHook::Postrouting,
        PRIO_SRCNAT,
    );
    doc.base_chain(
        FILTER_FORWARD,
        NfChainType::Filter,
        NfHook::Forward,
        PRIO_FILTER,
    );

    // Only packets for this host are published ports: forwarded traffic
    // to the same port number elsewhere is left alone.
    for chain in [NAT_PREROUTING, NAT_OUTPUT] {
        doc.rule(chain, vec![fib_local(FibFlag::Daddr), jump(PORTS)], None);
    }
    for p in &rs.ports {
        if let Some(expr) = dnat(p) {
            doc.rule(PORTS, expr, Some(&p.bridge));
        }
    }
    for net in &rs.networks {
        for expr in postrouting(net) {
            doc.rule(NAT_POSTROUTING, expr, None);
        }
    }
    for expr in forward(&rs.networks) {
        doc.rule(FILTER_FORWARD, expr, None);
    }
    Ok(doc.finish())
}

/// Deletes the table in one transaction that cannot fail for its absence
/// (`add table` is a no-op on an existing table).
pub(super) fn removal(table: &str) -> Result<Nftables<'static>> {
    check_table_name(table)?;
    let mut doc = Doc::new(table);
    doc.add(NfListObject::Table(doc.table()));
    doc.delete_table();
    Ok(doc.finish())
}

/// The table name also reaches nft's text parser (`list`), so it must be a
/// plain identifier there.
pub(super) fn check_table_name(table: &str) -> Result<()> {
    let ok = table.len() <= 64
        && table.starts_with(|c: char| c.is_ascii_alphabetic())
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid nftables table name {table:?}: a letter, then letters, digits, '-', '_' or '.' (at most 64)"
        )))
    }
}

fn check_bridge_name(bridge: &str) -> Result<()> {
    let ok = !bridge.is_empty()
        && bridge.len() <= 15
        && bridge
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("invalid bridge name {bridge:?}")))
    }
}

fn validate(rs: &Ruleset) -> Result<()> {
    check_table_name(&rs.table)?;
    let mut bridges = HashSet::new();
    for net in &rs.networks {
        check_bridge_name(&net.bridge)?;
        if !bridges.insert(net.bridge.as_str()) {
            return Err(Error::Invalid(format!(
                "bridge {} is listed twice in the ruleset",
                net.bridge
            )));
        }
    }
    for p in &rs.ports {
        check_bridge_name(&p.bridge)?;
        if p.host_port == 0 || p.container_port == 0 {
            return Err(Error::Invalid(format!(
                "port 0 cannot be published ({}:{} -> {}:{}/{})",
                host_text(p),
                p.host_port,
                p.container_ip,
                p.container_port,
                p.proto
            )));
        }
    }
    check_port_conflicts(&rs.ports)
}

/// Two rules catching the same packets would make the second one silently
/// dead, so that is refused rather than half-applied.
fn check_port_conflicts(ports: &[PortRule]) -> Result<()> {
    let live: Vec<&PortRule> = ports.iter().filter(|p| host_addr(p).is_some()).collect();
    for (i, a) in live.iter().enumerate() {
        for b in &live[i + 1..] {
            let same_family = Family::of(&a.container_ip) == Family::of(&b.container_ip);
            let (ha, hb) = (host_addr(a).flatten(), host_addr(b).flatten());
            let same_addr = ha.is_none() || hb.is_none() || ha == hb;
            if a.proto == b.proto && a.host_port == b.host_port && same_family && same_addr {
                return Err(Error::Conflict(format!(
                    "host port {}:{}/{} is published twice ({}:{} and {}:{})",
                    host_text(a),
                    a.host_port,
                    a.proto,
                    a.container_ip,
                    a.container_port,
                    b.container_ip,
                    b.container_port
                )));
            }
        }
    }
    Ok(())
}

/// The host address a rule matches: Some(None) = every local address of
/// the container's family, None = the families differ and NAT cannot
/// bridge them, so the rule is skipped.
fn host_addr(p: &PortRule) -> Option<Option<IpAddr>> {
    match p.host_ip.map(|ip| ip.to_canonical()) {
        None => Some(None),
        Some(ip) if Family::of(&ip) != Family::of(&p.container_ip) => None,
        Some(ip) if ip.is_unspecified() => Some(None),
        Some(ip) => Some(Some(ip)),
    }
}

fn host_text(p: &PortRule) -> String {
    match p.host_ip {
        Some(ip) => ip.to_string(),
        None => match Family::of(&p.container_ip) {
            Family::V4 => "0.0.0.0".into(),
            Family::V6 => "[::]".into(),
        },
    }
}

/// `[ip daddr H | meta nfproto F] <proto> dport P dnat <F> to C:CP`
fn dnat(p: &PortRule) -> Option<Vec<Statement<'static>>> {
    let host = host_addr(p)?;
    let fam = Family::of(&p.container_ip);
    let mut expr = vec![match host {
        Some(ip) => eq(payload(fam.l3(), "daddr"), addr(ip)),
        None => eq(meta(MetaKey::Nfproto), s(fam.nfproto())),
    }];
    expr.push(eq(
        payload(p.proto.as_str(), "dport"),
        Expression::Number(p.host_port.into()),
    ));
    expr.push(Statement::DNAT(Some(NAT {
        addr: Some(addr(p.container_ip.to_canonical())),
        family: Some(fam.nat()),
        port: Some(Expression::Number(p.container_port.into())),
        flags: None,
    })));
    Some(expr)
}

fn postrouting(net: &BridgeRules) -> Vec<Vec<Statement<'static>>> {
    let mut rules = Vec::new();
    if net.internal {
        return rules;
    }
    let br = || s(&net.bridge);
    if net.masquerade {
        for subnet in &net.subnets {
            let fam = Family::of(&subnet.addr());
            rules.push(vec![
                eq(payload(fam.l3(), "saddr"), prefix(subnet)),
                ne(meta(MetaKey::Oifname), br()),
                masquerade(),
            ]);
        }
    }
    // The host reaching a container through a DNAT of 127.0.0.1: the
    // container could not answer a loopback source.
    rules.push(vec![
        eq(meta(MetaKey::Oifname), br()),
        fib_local(FibFlag::Saddr),
        masquerade(),
    ]);
    // Hairpin: a container reaching a published port that leads back into
    // its own bridge must see the reply come from the host, not a peer.
    // The source address says "from this bridge": postrouting has no
    // input interface to match.
    for subnet in &net.subnets {
        let fam = Family::of(&subnet.addr());
        rules.push(vec![
            eq(meta(MetaKey::Oifname), br()),
            eq(payload(fam.l3(), "saddr"), prefix(subnet)),
            ct_in("status", s("dnat")),
            masquerade(),
        ]);
    }
    rules
}

/// Internal bridges first (nothing crosses them, not even published
/// ports), then replies and published ports pass, then isolation between
/// bridges and icc=false.
fn forward(nets: &[BridgeRules]) -> Vec<Vec<Statement<'static>>> {
    let mut rules = Vec::new();
    for net in nets.iter().filter(|n| n.internal) {
        let br = || s(&net.bridge);
        rules.push(dropping(vec![
            eq(meta(MetaKey::Iifname), br()),
            ne(meta(MetaKey::Oifname), br()),
        ]));
        rules.push(dropping(vec![
            eq(meta(MetaKey::Oifname), br()),
            ne(meta(MetaKey::Iifname), br()),
        ]));
    }
    if nets.is_empty() {
        return rules;
    }
    rules.push(vec![
        ct_in(
            "state",
            Expression::List(vec![s("established"), s("related")]),
        ),
        accept(),
    ]);
    // A published port is reachable from every network, as through
    // docker's userland proxy; only direct traffic is isolated.
    rules.push(vec![ct_in("status", s("dnat")), accept()]);
    for net in nets.iter().filter(|n| !n.internal) {
        let others: Vec<Expression<'static>> = nets
            .iter()
            .filter(|o| o.bridge != net.bridge)
            .map(|o| s(&o.bridge))
            .collect();
        let out = match others.len() {
            0 => continue,
            1 => others.into_iter().next(),
            _ => Some(Expression::Named(NamedExpression::Set(
                others
                    .into_iter()
                    .map(nftables::expr::SetItem::Element)
                    .collect(),
            ))),
        };
        if let Some(out) = out {
            rules.push(dropping(vec![
                eq(meta(MetaKey::Iifname), s(&net.bridge)),
                eq(meta(MetaKey::Oifname), out),
            ]));
        }
    }
    for net in nets.iter().filter(|n| !n.icc) {
        rules.push(dropping(vec![
            eq(meta(MetaKey::Iifname), s(&net.bridge)),
            eq(meta(MetaKey::Oifname), s(&net.bridge)),
        ]));
    }
    rules
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(ip: &IpAddr) -> Family {
        match ip.to_canonical() {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
    fn l3(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }
    fn nfproto(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
    fn nat(self) -> NATFamily {
        match self {
            Family::V4 => NATFamily::IP,
            Family::V6 => NATFamily::IP6,
        }
    }
}

/// Accumulates the commands of one transaction on one table.
struct Doc {
    table: String,
    cmds: Vec<nftables::schema::NfObject<'static>>,
}

impl Doc {
    fn new(table: &str) -> Doc {
        Doc {
            table: table.to_string(),
            cmds: Vec::new(),
        }
    }

    fn table(&self) -> Table<'static> {
        Table {
            family: NfFamily::INet,
            name: Cow::Owned(self.table.clone()),
            handle: None,
        }
    }

    fn add(&mut self, obj: NfListObject<'static>) {
        self.cmds.push(nftables::schema::NfObject::CmdObject(
            nftables::schema::NfCmd::Add(obj),
        ));
    }

    fn delete_table(&mut self) {
        let t = NfListObject::Table(self.table());
        self.cmds.push(nftables::schema::NfObject::CmdObject(
            nftables::schema::NfCmd::Delete(t),
        ));
    }

    /// `add` makes sure the `delete` has something to delete, so the same
    /// transaction works on a first start and on every later apply.
    fn replace_table(&mut self) {
        self.add(NfListObject::Table(self.table()));
        self.delete_table();
        self.add(NfListObject::Table(self.table()));
    }

    fn chain(&mut self, name: &str) {
        self.add(NfListObject::Chain(Chain {
            family: NfFamily::INet,
            table: Cow::Owned(self.table.clone()),
            name: Cow::Owned(name.to_string()),
            ..Chain::default()
        }));
    }

    fn base_chain(&mut self, name: &str, kind: NfChainType, hook: NfHook, prio: i32) {
        self.add(NfListObject::Chain(Chain {
            family: NfFamily::INet,
            table: Cow::Owned(self.table.clone()),
            name: Cow::Owned(name.to_string()),
            _type: Some(kind),
            hook: Some(hook),
            prio: Some(prio),
            policy: Some(NfChainPolicy::Accept),
            ..Chain::default()
        }));
    }

    fn rule(&mut self, chain: &str, expr: Vec<Statement<'static>>, comment: Option<&str>) {
        self.add(NfListObject::Rule(Rule {
            family: NfFamily::INet,
            table: Cow::Owned(self.table.clone()),
            chain: Cow::Owned(chain.to_string()),
            expr: Cow::Owned(expr),
            comment: comment.map(|c| Cow::Owned(c.to_string())),
            ..Rule::default()
        }));
    }

    fn finish(self) -> Nftables<'static> {
        Nftables {
            objects: Cow::Owned(self.cmds),
        }
    }
}

fn s(v: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(v.to_string()))
}

fn addr(ip: IpAddr) -> Expression<'static> {
    s(&ip.to_string())
}

fn prefix(net: &IpNet) -> Expression<'static> {
    let net = net.trunc();
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(addr(net.addr())),
        len: net.prefix_len().into(),
    }))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn payload(protocol: &str, field: &str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Owned(protocol.to_string()),
            field: Cow::Owned(field.to_string()),
        },
    )))
}

fn cmp(op: Operator, left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    cmp(Operator::EQ, left, right)
}

fn ne(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    cmp(Operator::NEQ, left, right)
}

/// Conntrack state and status are bit sets: nft spells the test `in`.
fn ct_in(key: &str, right: Expression<'static>) -> Statement<'static> {
    let ct = Expression::Named(NamedExpression::CT(CT {
        key: Cow::Owned(key.to_string()),
        family: None,
        dir: None,
    }));
    cmp(Operator::IN, ct, right)
}

fn fib_local(flag: FibFlag) -> Statement<'static> {
    let fib = Expression::Named(NamedExpression::Fib(Fib {
        result: FibResult::Type,
        flags: HashSet::from([flag]),
    }));
    eq(fib, s("local"))
}

fn jump(target: &str) -> Statement<'static> {
    Statement::Jump(JumpTarget {
        target: Cow::Owned(target.to_string()),
    })
}

fn masquerade() -> Statement<'static> {
    Statement::Masquerade(None)
}

fn accept() -> Statement<'static> {
    Statement::Accept(None)
}

/// Drops counted, so `nft list` shows which isolation rule is at work.
fn dropping(mut matches: Vec<Statement<'static>>) -> Vec<Statement<'static>> {
    matches.push(Statement::Counter(nftables::stmt::Counter::Anonymous(None)));
    matches.push(Statement::Drop(None));
    matches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::Proto;
    use serde_json::{json, Value};

    fn net(bridge: &str, subnets: &[&str]) -> BridgeRules {
        BridgeRules::new(bridge, subnets.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn port(
        host_ip: Option<&str>,
        host_port: u16,
        ctr: &str,
        ctr_port: u16,
        bridge: &str,
    ) -> PortRule {
        PortRule {
            proto: Proto::Tcp,
            host_ip: host_ip.map(|h| h.parse().unwrap()),
            host_port,
            container_ip: ctr.parse().unwrap(),
            container_port: ctr_port,
            bridge: bridge.into(),
        }
    }

    fn sample() -> Ruleset {
        let mut internal = net("br-int", &["10.213.2.0/24"]);
        internal.internal = true;
        let mut quiet = net("br-quiet", &["10.213.3.0/24"]);
        quiet.icc = false;
        quiet.masquerade = false;
        let mut udp = port(None, 5353, "10.213.1.2", 53, "bt1");
        udp.proto = Proto::Udp;
        Ruleset {
            table: "berth-test".into(),
            networks: vec![
                net("bt1", &["10.213.1.0/24", "fd00:1::/64"]),
                internal,
                quiet,
            ],
            ports: vec![
                port(Some("127.0.0.1"), 8080, "10.213.1.2", 80, "bt1"),
                udp,
                port(None, 8443, "fd00:1::2", 443, "bt1"),
                // A v6 host address cannot lead to a v4 container: skipped.
                port(Some("::1"), 9000, "10.213.1.2", 9000, "bt1"),
            ],
        }
    }

    /// (command, object kind, object) of every command, as JSON.
    fn commands(rs: &Ruleset) -> Vec<(String, String, Value)> {
        let doc = serde_json::to_value(ruleset(rs).unwrap()).unwrap();
        doc["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let (cmd, obj) = c.as_object().unwrap().iter().next().unwrap();
                let (kind, obj) = obj.as_object().unwrap().iter().next().unwrap();
                (cmd.clone(), kind.clone(), obj.clone())
            })
            .collect()
    }

    fn rules_of(rs: &Ruleset, chain: &str) -> Vec<Value> {
        commands(rs)
            .into_iter()
            .filter(|(_, kind, obj)| kind == "rule" && obj["chain"] == chain)
            .map(|(_, _, obj)| obj["expr"].clone())
            .collect()
    }

    #[test]
    fn the_table_is_replaced_in_one_transaction() {
        let cmds = commands(&sample());
        let head: Vec<(&str, &str)> = cmds[..3]
            .iter()
            .map(|(c, k, _)| (c.as_str(), k.as_str()))
            .collect();
        assert_eq!(
            head,
            [("add", "table"), ("delete", "table"), ("add", "table")]
        );
        assert!(cmds[3..].iter().all(|(c, _, o)| c == "add"
            && o["family"] == "inet"
            && (o["table"] == "berth-test" || o["name"] == "berth-test")));
        let chains: Vec<Value> = cmds
            .iter()
            .filter(|(_, k, _)| k == "chain")
            .map(|(_, _, o)| o.clone())
            .collect();
        assert_eq!(chains.len(), 5);
        let prerouting = chains
            .iter()
            .find(|c| c["name"] == "nat-prerouting")
            .unwrap();
        assert_eq!(
            (
                &prerouting["type"],
                &prerouting["hook"],
                &prerouting["prio"],
                &prerouting["policy"]
            ),
            (
                &json!("nat"),
                &json!("prerouting"),
                &json!(-100),
                &json!("accept")
            )
        );
        assert!(chains.iter().all(|c| c["policy"] != "drop"));
    }

    #[test]
    fn local_destinations_jump_to_the_ports_chain() {
        let want = json!([
            {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}},
            {"jump": {"target": "ports"}}
        ]);
        for chain in ["nat-prerouting", "nat-output"] {
            assert_eq!(rules_of(&sample(), chain), std::slice::from_ref(&want));
        }
    }

    #[test]
    fn each_port_is_one_dnat_of_its_family() {
        let rules = rules_of(&sample(), "ports");
        assert_eq!(
            rules,
            [
                json!([
                    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "127.0.0.1"}},
                    {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
                    {"dnat": {"addr": "10.213.1.2", "family": "ip", "port": 80}}
                ]),
                json!([
                    {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}},
                    {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5353}},
                    {"dnat": {"addr": "10.213.1.2", "family": "ip", "port": 53}}
                ]),
                json!([
                    {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv6"}},
                    {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8443}},
                    {"dnat": {"addr": "fd00:1::2", "family": "ip6", "port": 443}}
                ]),
            ]
        );
    }

    #[test]
    fn v4_mapped_addresses_count_as_v4() {
        let rs = Ruleset {
            table: "berth-test".into(),
            networks: vec![],
            ports: vec![port(
                Some("::ffff:127.0.0.1"),
                81,
                "::ffff:10.213.1.9",
                80,
                "bt1",
            )],
        };
        assert_eq!(
            rules_of(&rs, "ports"),
            [json!([
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "127.0.0.1"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 81}},
                {"dnat": {"addr": "10.213.1.9", "family": "ip", "port": 80}}
            ])]
        );
    }

    #[test]
    fn masquerade_follows_the_bridge_settings() {
        let rules = rules_of(&sample(), "nat-postrouting");
        let masq_subnet = |fam: &str, addr: &str, len: u32, br: &str| {
            json!([
                {"match": {"op": "==", "left": {"payload": {"protocol": fam, "field": "saddr"}}, "right": {"prefix": {"addr": addr, "len": len}}}},
                {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": br}},
                {"masquerade": null}
            ])
        };
        let from_host = |br: &str| {
            json!([
                {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": br}},
                {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["saddr"]}}, "right": "local"}},
                {"masquerade": null}
            ])
        };
        let hairpin = |br: &str, fam: &str, addr: &str, len: u32| {
            json!([
                {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": br}},
                {"match": {"op": "==", "left": {"payload": {"protocol": fam, "field": "saddr"}}, "right": {"prefix": {"addr": addr, "len": len}}}},
                {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
                {"masquerade": null}
            ])
        };
        // The internal bridge gets nothing; br-quiet does not masquerade
        // its subnet but still needs the host and hairpin rules.
        assert_eq!(
            rules,
            [
                masq_subnet("ip", "10.213.1.0", 24, "bt1"),
                masq_subnet("ip6", "fd00:1::", 64, "bt1"),
                from_host("bt1"),
                hairpin("bt1", "ip", "10.213.1.0", 24),
                hairpin("bt1", "ip6", "fd00:1::", 64),
                from_host("br-quiet"),
                hairpin("br-quiet", "ip", "10.213.3.0", 24),
            ]
        );
    }

    #[test]
    fn forward_drops_internal_isolation_and_icc() {
        let rules = rules_of(&sample(), "filter-forward");
        let meta = |key: &str, op: &str, br: Value| json!({"match": {"op": op, "left": {"meta": {"key": key}}, "right": br}});
        let (counter, drop) = (json!({"counter": null}), json!({"drop": null}));
        assert_eq!(
            rules,
            [
                json!([
                    meta("iifname", "==", json!("br-int")),
                    meta("oifname", "!=", json!("br-int")),
                    counter,
                    drop
                ]),
                json!([
                    meta("oifname", "==", json!("br-int")),
                    meta("iifname", "!=", json!("br-int")),
                    counter,
                    drop
                ]),
                json!([
                    {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
                    {"accept": null}
                ]),
                json!([
                    {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
                    {"accept": null}
                ]),
                json!([
                    meta("iifname", "==", json!("bt1")),
                    meta("oifname", "==", json!({"set": ["br-int", "br-quiet"]})),
                    counter,
                    drop
                ]),
                json!([
                    meta("iifname", "==", json!("br-quiet")),
                    meta("oifname", "==", json!({"set": ["bt1", "br-int"]})),
                    counter,
                    drop
                ]),
                json!([
                    meta("iifname", "==", json!("br-quiet")),
                    meta("oifname", "==", json!("br-quiet")),
                    counter,
                    drop
                ]),
            ]
        );
    }

    #[test]
    fn a_single_bridge_has_no_isolation_rule() {
        let rs = Ruleset {
            table: "berth-test".into(),
            networks: vec![net("bt1", &["10.213.1.5/24"])],
            ports: vec![],
        };
        let rules = rules_of(&rs, "filter-forward");
        assert_eq!(rules.len(), 2, "{rules:#?}");
        // Host bits of a subnet are dropped: nft wants the network address.
        let post = rules_of(&rs, "nat-postrouting");
        assert_eq!(post[0][0]["match"]["right"]["prefix"]["addr"], "10.213.1.0");
    }

    #[test]
    fn an_empty_ruleset_still_makes_the_chains() {
        let rs = Ruleset {
            table: "berth-test".into(),
            networks: vec![],
            ports: vec![],
        };
        let cmds = commands(&rs);
        assert_eq!(cmds.iter().filter(|(_, k, _)| k == "chain").count(), 5);
        assert!(rules_of(&rs, "filter-forward").is_empty());
        assert!(rules_of(&rs, "ports").is_empty());
    }

    #[test]
    fn removal_cannot_fail_for_absence() {
        let doc = serde_json::to_value(removal("berth-test").unwrap()).unwrap();
        assert_eq!(
            doc,
            json!({"nftables": [
                {"add": {"table": {"family": "inet", "name": "berth-test"}}},
                {"delete": {"table": {"family": "inet", "name": "berth-test"}}}
            ]})
        );
    }

    #[test]
    fn bad_names_and_ports_are_refused() {
        for table in ["", "1abc", "a b", "x\"y", &"t".repeat(65)] {
            let err = removal(table).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{table:?}: {err}");
        }
        let mut rs = sample();
        rs.networks[0].bridge = "a-name-longer-than-15".into();
        assert!(matches!(ruleset(&rs), Err(Error::Invalid(_))));

        let mut rs = sample();
        rs.networks.push(net("bt1", &["10.213.9.0/24"]));
        let err = ruleset(&rs).unwrap_err();
        assert_eq!(err.to_string(), "bridge bt1 is listed twice in the ruleset");

        let mut rs = sample();
        rs.ports[0].host_port = 0;
        assert!(matches!(ruleset(&rs), Err(Error::Invalid(_))));
    }

    #[test]
    fn one_host_port_published_twice_is_a_conflict() {
        let mut rs = sample();
        // 0.0.0.0:8080 covers 127.0.0.1:8080 of the first rule.
        rs.ports
            .push(port(Some("0.0.0.0"), 8080, "10.213.1.3", 80, "bt1"));
        let err = ruleset(&rs).unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "host port 127.0.0.1:8080/tcp is published twice (10.213.1.2:80 and 10.213.1.3:80)"
        );

        // Other protocol, other address, other family: no conflict.
        let mut rs = sample();
        let mut udp = port(Some("127.0.0.1"), 8080, "10.213.1.3", 80, "bt1");
        udp.proto = Proto::Udp;
        rs.ports.push(udp);
        rs.ports
            .push(port(Some("127.0.0.2"), 8080, "10.213.1.3", 80, "bt1"));
        rs.ports.push(port(None, 8080, "fd00:1::3", 80, "bt1"));
        ruleset(&rs).unwrap();
    }

    #[test]
    fn rulesets_round_trip_through_serde() {
        let rs = sample();
        let text = serde_json::to_string(&rs).unwrap();
        assert!(
            text.contains(r#""subnets":["10.213.1.0/24","fd00:1::/64"]"#),
            "{text}"
        );
        assert!(text.contains(r#""proto":"udp""#), "{text}");
        let back: Ruleset = serde_json::from_str(&text).unwrap();
        assert_eq!(back, rs);
    }
}
