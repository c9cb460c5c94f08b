//! Writes the seed corpora of the fuzz targets into `fuzz/corpus/<target>/`.
//!
//! Run from `fuzz/`: `cargo run -p mqtt-fuzz-seeds` (or give the workspace root and the
//! corpus directory: `cargo run -p mqtt-fuzz-seeds -- .. corpus`).
//!
//! * `decode`: every specification byte vector of mqtt-proto's tests (`vectors_v3.rs`,
//!   `vectors_v5.rs`, `conformance_v311.rs`, `conformance_v5.rs`): the `let x = [..];`
//!   and `let x = cat(&[..]);` statements, read from the test sources, whose hex
//!   literals, byte characters and byte strings make the bytes; plus one packet of every
//!   type encoded by the codec for each version. Each is written in the target's input
//!   format (`[config][0][bytes]`: one byte at a time), with and without the sender
//!   check, and as a stream of two packets.
//! * `session` and `engine`: the same packet bytes (their inputs are `arbitrary`
//!   structures; raw packet bytes give the fuzzer MQTT-shaped material to start from).
//! * `topic`: pairs of the string literals of `mqtt-proto/tests/topics.rs`, and
//!   hand-picked filter / name pairs (`filter 0xFF name`).
//! * `url`: hand-picked broker URLs and server references (`url 0xFF reference`).
//!
//! Seeds are named by content, so running it again rewrites the same files.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Auth, ConnAck, Connect, Disconnect, Encode, MqttString, Packet, PacketId, ProtocolVersion,
    PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck, Subscribe, Subscription,
    TopicFilter, TopicName, UnsubAck, Unsubscribe,
};

/// Byte vectors read from a test source: the bytes of each `let` statement built from
/// byte literals.
fn vectors_in(source: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find("let ") {
        rest = &rest[i + 4..];
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim();
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == ' ')
        {
            continue;
        }
        let value = rest[eq + 1..].trim_start();
        if !(value.starts_with("cat(") || value.starts_with('[')) {
            continue;
        }
        let (bytes, ok) = statement_bytes(value);
        if ok && bytes.len() >= 2 {
            out.push(bytes);
        }
    }
    out
}

/// The bytes of the expression at the start of `s`, up to its `;`: hex literals (at most
/// 0xFF), `b'c'` and `b"..."`. `ok` is false if it holds anything that is not bytes
/// (a variable, a call other than `cat`, a wider number).
fn statement_bytes(s: &str) -> (Vec<u8>, bool) {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut ok = true;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b';' => break,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'b' if b.get(i + 1) == Some(&b'"') => {
                i += 2;
                while i < b.len() && b[i] != b'"' {
                    let (byte, n) = escaped(&b[i..]);
                    out.push(byte);
                    i += n;
                }
                i += 1;
            }
            b'b' if b.get(i + 1) == Some(&b'\'') => {
                let (byte, n) = escaped(&b[i + 2..]);
                out.push(byte);
                i += 2 + n + 1;
            }
            b'0' if b.get(i + 1) == Some(&b'x') => {
                let start = i + 2;
                let mut end = start;
                while end < b.len() && (b[end].is_ascii_hexdigit() || b[end] == b'_') {
                    end += 1;
                }
                let digits: String = s[start..end].chars().filter(|&c| c != '_').collect();
                match u8::from_str_radix(&digits, 16) {
                    Ok(v) => out.push(v),
                    Err(_) => ok = false,
                }
                i = end;
            }
            b'"' => {
                ok = false;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            c if c.is_ascii_digit() => {
                ok = false;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if &s[start..i] != "cat" {
                    ok = false;
                }
            }
            _ => i += 1,
        }
    }
    (out, ok)
}

/// One possibly escaped byte of a byte literal, and how many source bytes it took.
fn escaped(b: &[u8]) -> (u8, usize) {
    if b.first() != Some(&b'\\') {
        return (b[0], 1);
    }
    match b.get(1) {
        Some(b'x') => {
            let hex = std::str::from_utf8(&b[2..4]).unwrap_or("00");
            (u8::from_str_radix(hex, 16).unwrap_or(0), 4)
        }
        Some(b'n') => (b'\n', 2),
        Some(b'r') => (b'\r', 2),
        Some(b't') => (b'\t', 2),
        Some(b'0') => (0, 2),
        Some(&c) => (c, 2),
        None => (b'\\', 1),
    }
}

/// The string literals of a source file (plain `"..."` only, escapes kept simple).
fn strings_in(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = source.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if b[i] == b'"' && (i == 0 || (b[i - 1] != b'b' && b[i - 1] != b'r')) {
            let mut s = Vec::new();
            i += 1;
            while i < b.len() && b[i] != b'"' {
                let (byte, n) = escaped(&b[i..]);
                s.push(byte);
                i += n;
            }
            i += 1;
            if let Ok(s) = String::from_utf8(s)
                && s.len() <= 64
                && !s.contains('{')
            {
                out.push(s);
            }
            continue;
        }
        i += 1;
    }
    out
}

/// One packet of every type, encoded for `version` (those the version can carry).
fn encoded_packets(version: ProtocolVersion) -> Vec<Vec<u8>> {
    let id = PacketId::new(7).unwrap();
    let topic = TopicName::try_from("a/b").unwrap();
    let filter = TopicFilter::try_from("a/+").unwrap();
    let s = |v: &str| MqttString::try_from(v).unwrap();
    let packets: Vec<Packet> = vec![
        Connect::new(version, s("client")).into(),
        ConnAck::new(ReasonCode::Success).into(),
        Publish::new(topic.clone(), "hi").into(),
        Publish::new(topic.clone(), "hi")
            .with_qos(QoS::AtLeastOnce, Some(id))
            .into(),
        Publish::new(topic.clone(), "hi")
            .with_qos(QoS::ExactlyOnce, Some(id))
            .with_retain(true)
            .into(),
        PubAck::new(id).into(),
        PubRec::new(id).into(),
        PubRel::new(id).into(),
        PubComp::new(id).into(),
        PubAck::with_reason(id, ReasonCode::NoMatchingSubscribers).into(),
        Subscribe::new(
            id,
            vec![Subscription::new(filter.clone(), QoS::AtLeastOnce)],
        )
        .into(),
        SubAck {
            packet_id: id,
            reason_codes: vec![ReasonCode::GrantedQoS1],
            properties: Default::default(),
        }
        .into(),
        Unsubscribe::new(id, vec![filter]).into(),
        UnsubAck {
            packet_id: id,
            reason_codes: if version.is_v5() {
                vec![ReasonCode::Success]
            } else {
                Vec::new()
            },
            properties: Default::default(),
        }
        .into(),
        Packet::PingReq,
        Packet::PingResp,
        Disconnect::new(ReasonCode::Success).into(),
        Auth::new(
            ReasonCode::ContinueAuthentication,
            s("SCRAM"),
            Some(Bytes::from_static(b"d")),
        )
        .into(),
    ];
    packets
        .iter()
        .filter_map(|p| {
            let mut buf = BytesMut::new();
            p.encode(version, &mut buf).ok().map(|_| buf.to_vec())
        })
        .collect()
}

/// FNV-1a, for content names.
fn name_of(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("seed-{h:016x}")
}

fn write_all(dir: &Path, seeds: &BTreeSet<Vec<u8>>) -> usize {
    fs::create_dir_all(dir).expect("create the corpus directory");
    for seed in seeds {
        fs::write(dir.join(name_of(seed)), seed).expect("write a seed");
    }
    seeds.len()
}

/// The decode target's config byte: version 0 / 1 / 2, sender role 0 / 1 / 2.
fn config(version: ProtocolVersion, sender: u8) -> u8 {
    let v = match version {
        ProtocolVersion::V3_1 => 0,
        ProtocolVersion::V3_1_1 => 1,
        _ => 2,
    };
    v | (sender << 2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(args.get(1).map_or("..", String::as_str));
    let corpus = PathBuf::from(args.get(2).map_or("corpus", String::as_str));
    let tests = root.join("mqtt-proto/tests");

    // (version, bytes) of every vector.
    let mut vectors: Vec<(ProtocolVersion, Vec<u8>)> = Vec::new();
    for (file, version) in [
        ("vectors_v3.rs", ProtocolVersion::V3_1_1),
        ("vectors_v5.rs", ProtocolVersion::V5),
        ("conformance_v311.rs", ProtocolVersion::V3_1_1),
        ("conformance_v5.rs", ProtocolVersion::V5),
    ] {
        let path = tests.join(file);
        let source = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for bytes in vectors_in(&source) {
            let v = if bytes.windows(6).any(|w| w == b"MQIsdp") {
                ProtocolVersion::V3_1
            } else {
                version
            };
            vectors.push((v, bytes));
        }
    }
    let from_tests = vectors.len();
    for version in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        for bytes in encoded_packets(version) {
            vectors.push((version, bytes));
        }
    }

    let mut decode = BTreeSet::new();
    let mut raw = BTreeSet::new();
    for (i, (version, bytes)) in vectors.iter().enumerate() {
        for sender in [0, 1, 2] {
            let mut seed = vec![config(*version, sender), 0];
            seed.extend_from_slice(bytes);
            decode.insert(seed);
        }
        // Two packets in one stream, fed in chunks of 3 and 7 bytes.
        let (_, next) = &vectors[(i + 1) % vectors.len()];
        let mut seed = vec![config(*version, 0), 2, 3, 7];
        seed.extend_from_slice(bytes);
        seed.extend_from_slice(next);
        decode.insert(seed);
        raw.insert(bytes.clone());
    }

    let topics_source = fs::read_to_string(tests.join("topics.rs")).unwrap_or_default();
    let literals = strings_in(&topics_source);
    let mut topic = BTreeSet::new();
    for pair in literals.windows(2) {
        let mut seed = pair[0].as_bytes().to_vec();
        seed.push(0xFF);
        seed.extend_from_slice(pair[1].as_bytes());
        topic.insert(seed);
    }
    for (f, t) in [
        ("sport/tennis/player1/#", "sport/tennis/player1"),
        ("sport/#", "sport"),
        ("+/+", "/finance"),
        ("/+", "/finance"),
        ("+", "/finance"),
        ("#", "$SYS/uptime"),
        ("+/monitor/Clients", "$SYS/monitor/Clients"),
        ("$SYS/#", "$SYS/monitor/Clients"),
        ("$share/group/a/+", "a/b"),
        ("$share/group/#", "$SYS/x"),
        ("$share//a", "a"),
        ("$share/g", "g"),
        ("a/b#", "a/b"),
        ("a/+b", "a/b"),
        ("a\0b", "a\0b"),
    ] {
        let mut seed = f.as_bytes().to_vec();
        seed.push(0xFF);
        seed.extend_from_slice(t.as_bytes());
        topic.insert(seed);
    }
    // The pieces mode: "a/+/#" against "a/b/$SYS".
    topic.insert(vec![0xFE, 0, 2, 4, 2, 5, 0xFF, 0, 2, 1, 2, 8]);

    let mut url = BTreeSet::new();
    for (u, r) in [
        ("mqtt://broker.example.com", "other:1884"),
        ("mqtts://broker.example.com:8883", "mqtts://b:1"),
        ("ws://127.0.0.1:9001/ws/x", "[::1]:80"),
        ("wss://broker.example.com/mqtt", "b"),
        ("mqtt://[::1]", "[fe80::1%eth0]:1883"),
        ("tcp://h:0", "h:65535"),
        ("SSL://h", ""),
        ("host:1883", "a:b:c"),
        ("mqtt://a:b:1883", "]:"),
        ("ws://[::1]:80/p?q#f", "x"),
    ] {
        let mut seed = u.as_bytes().to_vec();
        seed.push(0xFF);
        seed.extend_from_slice(r.as_bytes());
        url.insert(seed);
    }

    let n_state = write_all(&corpus.join("state"), &stored_states());
    let n_decode = write_all(&corpus.join("decode"), &decode);
    let n_session = write_all(&corpus.join("session"), &raw);
    let n_engine = write_all(&corpus.join("engine"), &raw);
    let n_topic = write_all(&corpus.join("topic"), &topic);
    let n_url = write_all(&corpus.join("url"), &url);
    println!(
        "seeds: {from_tests} vectors from the tests; decode {n_decode}, session {n_session}, \
         engine {n_engine}, state {n_state}, topic {n_topic}, url {n_url} files in {}",
        corpus.display()
    );
}

/// Stored session states (each after a mode byte: 0 as stored, 1 to have the target
/// write the checksum): empty, and one with something of every kind in it.
fn stored_states() -> BTreeSet<Vec<u8>> {
    use mqtt_proto::{
        MqttString, PacketId, Publish, QoS, Subscribe, Subscription, TopicFilter, TopicName,
        Unsubscribe,
    };
    use mqtt_session::{InFlight, Instant, OperationId, Queued, Request, SessionState, Stage};
    let message = |qos, id: Option<u16>| {
        Publish::new(TopicName::from_static("a/b"), "payload")
            .with_qos(qos, id.and_then(PacketId::new))
    };
    let filter = || Subscription::new(TopicFilter::from_static("a/#"), QoS::AtLeastOnce);
    let busy = SessionState {
        client_id: MqttString::from_static("seed"),
        has_session: true,
        next_packet_id: 9,
        next_operation: 12,
        in_flight: vec![
            InFlight::new(
                OperationId(1),
                message(QoS::AtLeastOnce, Some(1)),
                Stage::AwaitingAck,
            ),
            InFlight::new(
                OperationId(2),
                message(QoS::ExactlyOnce, Some(2)),
                Stage::AwaitingPubComp,
            ),
        ],
        queued: vec![
            Queued::new(
                OperationId(3),
                message(QoS::AtMostOnce, None),
                Instant::from_secs(5),
            ),
            Queued::new(
                OperationId(4),
                message(QoS::ExactlyOnce, None),
                Instant::ZERO,
            ),
        ],
        incoming_qos2: vec![PacketId::new(7).unwrap()],
        requests: vec![
            (
                Some(OperationId(5)),
                Request::Subscribe(Subscribe::new(PacketId::new(3).unwrap(), vec![filter()])),
            ),
            (
                None,
                Request::Unsubscribe(Unsubscribe::new(
                    PacketId::new(4).unwrap(),
                    vec![TopicFilter::from_static("x/+")],
                )),
            ),
        ],
        subscriptions: vec![(filter(), Some(3)), (filter(), None)],
    };
    let mut seeds = BTreeSet::new();
    for state in [SessionState::default(), busy] {
        let mut stored = bytes::BytesMut::new();
        state.encode(&mut stored).expect("a seed state encodes");
        for mode in [0u8, 1] {
            let mut seed = vec![mode];
            seed.extend_from_slice(&stored);
            seeds.insert(seed);
        }
    }
    seeds
}
