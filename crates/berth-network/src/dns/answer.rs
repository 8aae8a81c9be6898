//! What the server says to one query, without any I/O: parsing, local
//! answers from the container's view of its networks, and fitting a reply
//! into what the client can receive.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rand::seq::SliceRandom;

use super::Names;

/// Docker's TTL for its own records.
const TTL: u32 = 600;
/// Without EDNS a client takes 512 bytes over UDP (RFC 1035).
const UDP_MIN: usize = 512;
/// Larger EDNS sizes gain nothing on loopback and risk EMSGSIZE.
const UDP_MAX: usize = 4096;
const TCP_MAX: usize = u16::MAX as usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transport {
    Udp,
    Tcp,
}

/// A query worth an answer: it parsed, and it is not itself a response
/// (answering those would let two resolvers bounce packets forever).
pub(super) fn parse_query(packet: &[u8]) -> Option<Message> {
    let msg = Message::from_vec(packet).ok()?;
    (msg.metadata.message_type == MessageType::Query).then_some(msg)
}

/// The most bytes one reply to `query` may have on `transport`.
pub(super) fn reply_limit(query: &Message, transport: Transport) -> usize {
    match transport {
        Transport::Tcp => TCP_MAX,
        Transport::Udp => usize::from(query.max_payload()).clamp(UDP_MIN, UDP_MAX),
    }
}

/// The answer from what the engine knows, or None when the query is to be
/// forwarded. Like docker, only A, AAAA, PTR (and MX, to say "no mail
/// exchanger but the name exists") are answered here.
pub(super) fn local_answer(names: &dyn Names, query: &Message) -> Option<Message> {
    if query.metadata.op_code != OpCode::Query {
        return Some(error_reply(query, ResponseCode::NotImp));
    }
    let [question] = query.queries.as_slice() else {
        return Some(error_reply(query, ResponseCode::FormErr));
    };
    if question.query_class() != DNSClass::IN {
        return None;
    }
    let qname = question.name();
    match question.query_type() {
        RecordType::A | RecordType::AAAA => {
            let want_v4 = question.query_type() == RecordType::A;
            let mut addrs: Vec<IpAddr> = names
                .lookup(&lookup_key(qname)?)?
                .into_iter()
                .filter(|ip| ip.is_ipv4() == want_v4)
                .collect();
            // Docker shuffles so that clients taking the first address
            // spread over the containers sharing an alias.
            addrs.shuffle(&mut rand::rng());
            let mut reply = reply_to(query);
            reply.answers = addrs
                .into_iter()
                .map(|ip| {
                    let data = match ip {
                        IpAddr::V4(v4) => RData::A(A(v4)),
                        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
                    };
                    Record::from_rdata(qname.clone(), TTL, data)
                })
                .collect();
            Some(reply)
        }
        RecordType::MX => {
            names.lookup(&lookup_key(qname)?)?;
            Some(reply_to(query))
        }
        RecordType::PTR => {
            let host = names.reverse(arpa_address(qname)?)?;
            let target = Name::from_ascii(format!("{}.", host.trim_end_matches('.'))).ok()?;
            let mut reply = reply_to(query);
            reply.answers.push(Record::from_rdata(
                qname.clone(),
                TTL,
                RData::PTR(PTR(target)),
            ));
            Some(reply)
        }
        _ => None,
    }
}

/// An empty reply to `query` with `code`, its question kept.
pub(super) fn error_reply(query: &Message, code: ResponseCode) -> Message {
    let mut reply = reply_to(query);
    reply.metadata.response_code = code;
    reply
}

/// A NOERROR reply to `query` with no records yet.
fn reply_to(query: &Message) -> Message {
    let mut metadata = Metadata::response_from_request(&query.metadata);
    metadata.recursion_available = true;
    let mut reply = Message::new(metadata.id, MessageType::Response, metadata.op_code);
    reply.metadata = metadata;
    reply.queries = query.queries.clone();
    // RFC 6891: a query with an OPT record gets one back, saying what we
    // take in turn.
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_MAX as u16);
        reply.set_edns(edns);
    }
    reply
}

/// `reply` encoded in at most `limit` bytes: when it does not fit, as many
/// answers as fit are kept and TC is set, so that a client which cannot
/// retry over TCP still gets something. None only if even the bare header
/// and question cannot be encoded.
pub(super) fn encode(mut reply: Message, limit: usize) -> Option<Vec<u8>> {
    match reply.to_vec() {
        Ok(bytes) if bytes.len() <= limit => return Some(bytes),
        Ok(_) => {}
        Err(e) => tracing::debug!("dns: cannot encode a reply: {e}"),
    }
    reply.metadata.truncation = true;
    reply.authorities.clear();
    reply.additionals.clear();
    reply.signature = None;
    let answers = std::mem::take(&mut reply.answers);
    let mut with = |keep: usize| {
        reply.answers = answers[..keep].to_vec();
        reply.to_vec().ok().filter(|bytes| bytes.len() <= limit)
    };
    // Binary search for the most answers that fit (encoding grows with the
    // count; over TCP a list can be thousands long). `fits` always fits,
    // `too_many` never does.
    let mut best = with(0)?;
    let (mut fits, mut too_many) = (0, answers.len());
    while fits + 1 < too_many {
        let keep = (fits + too_many) / 2;
        match with(keep) {
            Some(bytes) => {
                fits = keep;
                best = bytes;
            }
            None => too_many = keep,
        }
    }
    Some(best)
}

/// A reply from an upstream server made to fit `limit` for the client.
/// Upstreams normally honour the client's size themselves (they saw its
/// query as is); this only guards against those that do not.
pub(super) fn fit_relayed(reply: Vec<u8>, query: &Message, limit: usize) -> Option<Vec<u8>> {
    if reply.len() <= limit {
        return Some(reply);
    }
    match Message::from_vec(&reply) {
        Ok(msg) => encode(msg, limit),
        Err(_) => {
            let mut bare = reply_to(query);
            bare.metadata.truncation = true;
            encode(bare, limit)
        }
    }
}

/// The name as the engine spells names: lowercase, dot-separated, no
/// trailing dot. None for names no container can have (the root, or labels
/// with dots or non-printable bytes in them): those are not ours.
fn lookup_key(name: &Name) -> Option<String> {
    let mut key = String::new();
    for label in name.iter() {
        if label.is_empty() || !label.iter().all(|b| b.is_ascii_graphic() && *b != b'.') {
            return None;
        }
        if !key.is_empty() {
            key.push('.');
        }
        key.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase())));
    }
    (!key.is_empty()).then_some(key)
}

/// The address a full-length reverse name stands for: four octets under
/// in-addr.arpa or 32 nibbles under ip6.arpa. Shorter (network) names are
/// not ours.
fn arpa_address(name: &Name) -> Option<IpAddr> {
    let labels: Vec<String> = name
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    let (suffix, parts) = match labels.as_slice() {
        [parts @ .., a, b] => ((a.as_str(), b.as_str()), parts),
        _ => return None,
    };
    match suffix {
        ("in-addr", "arpa") if parts.len() == 4 => {
            let mut octets = [0u8; 4];
            for (octet, label) in octets.iter_mut().rev().zip(parts) {
                if label.is_empty() || label.len() > 3 || !label.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                *octet = label.parse().ok()?;
            }
            Some(IpAddr::V4(Ipv4Addr::from(octets)))
        }
        ("ip6", "arpa") if parts.len() == 32 => {
            let mut bits: u128 = 0;
            for label in parts.iter().rev() {
                let [digit] = label.as_bytes() else {
                    return None;
                };
                let nibble = char::from(*digit).to_digit(16)?;
                bits = (bits << 4) | u128::from(nibble);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bits)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn lookup_keys_are_lowercase_without_the_root() {
        assert_eq!(lookup_key(&name("Web.Net.")).as_deref(), Some("web.net"));
        assert_eq!(lookup_key(&name("web")).as_deref(), Some("web"));
        assert_eq!(lookup_key(&Name::root()), None);
        assert_eq!(lookup_key(&name("a\\.b.")), None);
    }

    #[test]
    fn reverse_names_of_full_addresses_only() {
        assert_eq!(
            arpa_address(&name("2.0.213.10.IN-ADDR.ARPA.")),
            Some("10.213.0.2".parse().unwrap())
        );
        assert_eq!(arpa_address(&name("0.213.10.in-addr.arpa.")), None);
        // Labels a wire query may carry although no zone file would.
        let raw = |labels: &[&str]| {
            Name::from_labels(
                labels
                    .iter()
                    .map(|l| hickory_proto::rr::Label::from_raw_bytes(l.as_bytes()).unwrap()),
            )
            .unwrap()
        };
        assert_eq!(
            arpa_address(&raw(&["+2", "0", "213", "10", "in-addr", "arpa"])),
            None
        );
        assert_eq!(lookup_key(&raw(&["we\nb"])), None);
        assert_eq!(lookup_key(&raw(&["w b"])), None);
        assert_eq!(arpa_address(&name("256.0.213.10.in-addr.arpa.")), None);
        let v6: Ipv6Addr = "fd00:db8::2:1".parse().unwrap();
        let nibbles: String = format!("{:032x}", u128::from(v6))
            .chars()
            .rev()
            .map(|c| format!("{c}."))
            .collect();
        assert_eq!(
            arpa_address(&name(&format!("{nibbles}ip6.arpa."))),
            Some(IpAddr::V6(v6))
        );
        assert_eq!(arpa_address(&name("1.0.ip6.arpa.")), None);
        assert_eq!(arpa_address(&name("example.com.")), None);
    }

    #[test]
    fn oversized_replies_keep_what_fits_and_set_tc() {
        let mut query = Message::query();
        query.add_query(hickory_proto::op::Query::query(name("web."), RecordType::A));
        let mut reply = reply_to(&query);
        for i in 0..100u8 {
            reply.answers.push(Record::from_rdata(
                name("web."),
                TTL,
                RData::A(A(Ipv4Addr::new(10, 0, 0, i))),
            ));
        }
        let bytes = encode(reply.clone(), 512).unwrap();
        assert!(bytes.len() <= 512);
        let cut = Message::from_vec(&bytes).unwrap();
        assert!(cut.metadata.truncation);
        assert!(!cut.answers.is_empty() && cut.answers.len() < 100);
        // One more answer would not have fit.
        let mut more = cut.clone();
        more.answers = reply.answers[..cut.answers.len() + 1].to_vec();
        assert!(more.to_vec().unwrap().len() > 512);

        let whole = Message::from_vec(&encode(reply, TCP_MAX).unwrap()).unwrap();
        assert!(!whole.metadata.truncation);
        assert_eq!(whole.answers.len(), 100);
    }
}
