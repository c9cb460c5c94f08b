//! Codec benchmarks: `mqtt-proto` (owned packets, and the borrowed `view`) beside
//! `rumqttc`, `mqttrs`, `mqtt-protocol` (encode) and `mqtt-format` (decode of packets under
//! 128 B, its limit), in one run, with a `memcpy` of the same encoded bytes as the ceiling.
//!
//! Every timed closure hands its result to `std::hint::black_box` and returns `()`:
//! criterion's own `black_box` of a returned value is a volatile copy, one byte at a time,
//! which charged each decoder about a nanosecond per 3 bytes of its result type.
//!
//! * PUBLISH (MQTT 3.1.1, the one version all three speak) with 16 B, 1 KiB and 64 KiB
//!   payloads at QoS 0 and QoS 1: decode and encode.
//! * A stream of 1000 consecutive 16 B QoS 0 PUBLISH packets, decoded one after another.
//! * An MQTT 5.0 CONNECT and SUBSCRIBE carrying properties (ours and `rumqttc::v5` only:
//!   `mqttrs` has no 5.0): decode and encode.
//!
//! Every fixture is built once per codec and the encodings are checked to be
//! byte-identical before anything is timed, so every codec reads and writes the same
//! bytes. See `benches/README.md` for how each API is fed and why.

use std::hint::black_box;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::measurement::WallTime;
use criterion::{BatchSize, Bencher, BenchmarkGroup, Criterion, Throughput};
use mqtt_proto::view::PacketView;
use mqtt_proto::{
    Connect, ConnectProperties, Decoder, Encode, MAX_PACKET_SIZE, MqttString, Packet, PacketId,
    ProtocolVersion, Publish, QoS, RetainHandling, Subscribe, SubscribeProperties, Subscription,
    SubscriptionOptions, TopicFilter, TopicName, UserProperty, Will, WillProperties,
};
use rumqttc::mqttbytes as rq;
use rumqttc::v5::mqttbytes as rq5q;
use rumqttc::v5::mqttbytes::v5 as rq5;

/// The topic of every benchmarked PUBLISH.
const TOPIC: &str = "devices/sensor-0042/telemetry";
/// The packet identifier of the QoS 1 PUBLISH.
const PKID: u16 = 42;
/// The largest packet any decoder is told to accept.
const MAX: usize = 1 << 24;
/// Consuming decoders: at most this many bytes of real packets are decoded per sample.
const REAL_BYTES_PER_SAMPLE: usize = 4 << 20;
/// Packets in the stream-decoding benchmark.
const STREAM_PACKETS: usize = 1000;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).expect("valid MQTT string")
}

fn payload(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// The same 3.1.1 PUBLISH in each codec's model, and its encoding.
struct PublishCase {
    name: String,
    ours: Packet,
    rumqttc: rq::v4::Packet,
    payload: Bytes,
    qos1: bool,
    wire: Bytes,
}

impl PublishCase {
    fn new(label: &str, payload_len: usize, qos1: bool) -> PublishCase {
        let payload = payload(payload_len);
        let mut ours = Publish::new(TopicName::try_from(TOPIC).unwrap(), payload.clone());
        let mut theirs = rq::v4::Publish::from_bytes(TOPIC, rq::QoS::AtMostOnce, payload.clone());
        if qos1 {
            ours = ours.with_qos(QoS::AtLeastOnce, PacketId::new(PKID));
            theirs.qos = rq::QoS::AtLeastOnce;
            theirs.pkid = PKID;
        }
        let ours = Packet::Publish(ours);
        let rumqttc = rq::v4::Packet::Publish(theirs);
        let mut buf = BytesMut::new();
        ours.encode(ProtocolVersion::V3_1_1, &mut buf).unwrap();
        let wire = buf.freeze();
        let case = PublishCase {
            name: format!("{label}_qos{}", u8::from(qos1)),
            ours,
            rumqttc,
            payload,
            qos1,
            wire,
        };
        case.check();
        case
    }

    fn mqttrs(&self) -> mqttrs::Packet<'_> {
        mqttrs::Packet::Publish(mqttrs::Publish {
            dup: false,
            qospid: if self.qos1 {
                mqttrs::QosPid::AtLeastOnce(mqttrs::Pid::try_from(PKID).unwrap())
            } else {
                mqttrs::QosPid::AtMostOnce
            },
            retain: false,
            topic_name: TOPIC,
            payload: &self.payload,
        })
    }

    /// Same bytes out of every encoder, same packet out of every decoder.
    fn check(&self) {
        let mut theirs = BytesMut::new();
        self.rumqttc.write(&mut theirs, MAX).unwrap();
        assert_eq!(
            theirs, self.wire,
            "rumqttc encodes {} differently",
            self.name
        );
        let mut slice = vec![0; self.wire.len()];
        let n = mqttrs::encode_slice(&self.mqttrs(), &mut slice).unwrap();
        assert_eq!(&slice[..n], &self.wire[..], "mqttrs encodes {}", self.name);

        let ours = Packet::decode(self.wire.clone(), ProtocolVersion::V3_1_1).unwrap();
        assert_eq!(ours, self.ours);
        let mut buf = BytesMut::from(&self.wire[..]);
        let rq::v4::Packet::Publish(p) = rq::v4::Packet::read(&mut buf, MAX).unwrap() else {
            panic!("rumqttc decoded {} as another packet", self.name)
        };
        assert_eq!((p.topic.as_str(), &p.payload), (TOPIC, &self.payload));
        let Some(mqttrs::Packet::Publish(p)) = mqttrs::decode_slice(&self.wire).unwrap() else {
            panic!("mqttrs decoded {} as another packet", self.name)
        };
        assert_eq!((p.topic_name, p.payload), (TOPIC, &self.payload[..]));
        let PacketView::Publish(p) =
            PacketView::decode(&self.wire, ProtocolVersion::V3_1_1).unwrap()
        else {
            panic!("our view decoded {} as another packet", self.name)
        };
        assert_eq!((p.topic, p.payload), (TOPIC, &self.payload[..]));
        if let Some(p) = mqtt_format_publish(&self.wire) {
            assert_eq!((p.0, p.1), (TOPIC, &self.payload[..]));
        }
    }
}

/// mqtt-format's PUBLISH at the front of `wire`, as (topic, payload), or `None` where it
/// cannot decode it: its Remaining Length parser refuses packets of 128 B and more.
fn mqtt_format_publish(wire: &[u8]) -> Option<(&str, &[u8])> {
    match mqtt_format::v3::packet::mpacket(wire) {
        Ok((_, mqtt_format::v3::packet::MPacket::Publish(p))) => {
            Some((p.topic_name.value, p.payload))
        }
        _ => None,
    }
}

/// The v5 CONNECT: properties, a Will with properties, user name and password.
fn connect_v5() -> (Packet, rq5::Packet) {
    let ours = Connect {
        protocol_version: ProtocolVersion::V5,
        clean_start: true,
        keep_alive: 30,
        client_id: mstr("bench-client-0001"),
        will: Some(Will {
            topic: TopicName::try_from("clients/bench-client-0001/status").unwrap(),
            payload: Bytes::from_static(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: WillProperties {
                will_delay_interval: Some(5),
                content_type: Some(mstr("text/plain")),
                ..WillProperties::default()
            },
        }),
        user_name: Some(mstr("bench-user")),
        password: Some(Bytes::from_static(b"s3cret-pass")),
        properties: ConnectProperties {
            session_expiry_interval: Some(3600),
            receive_maximum: NonZeroU16::new(100),
            maximum_packet_size: NonZeroU32::new(1 << 20),
            topic_alias_maximum: Some(16),
            request_problem_information: Some(true),
            user_properties: vec![
                UserProperty::new(mstr("app"), mstr("bench")),
                UserProperty::new(mstr("region"), mstr("eu-west-1")),
            ],
            ..ConnectProperties::default()
        },
    };
    let theirs = rq5::Packet::Connect(
        rq5::Connect {
            keep_alive: 30,
            client_id: "bench-client-0001".into(),
            clean_start: true,
            properties: Some(rq5::ConnectProperties {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(100),
                max_packet_size: Some(1 << 20),
                topic_alias_max: Some(16),
                request_response_info: None,
                request_problem_info: Some(1),
                user_properties: vec![
                    ("app".into(), "bench".into()),
                    ("region".into(), "eu-west-1".into()),
                ],
                authentication_method: None,
                authentication_data: None,
            }),
        },
        Some(rq5::LastWill {
            topic: Bytes::from_static(b"clients/bench-client-0001/status"),
            message: Bytes::from_static(b"offline"),
            qos: rq5q::QoS::AtLeastOnce,
            retain: true,
            properties: Some(rq5::LastWillProperties {
                delay_interval: Some(5),
                payload_format_indicator: None,
                message_expiry_interval: None,
                content_type: Some("text/plain".into()),
                response_topic: None,
                correlation_data: None,
                user_properties: Vec::new(),
            }),
        }),
        Some(rq5::Login::new("bench-user", "s3cret-pass")),
    );
    (Packet::from(ours), theirs)
}

/// The v5 SUBSCRIBE: a Subscription Identifier, a User Property, three filters with
/// 5.0 subscription options.
fn subscribe_v5() -> (Packet, rq5::Packet) {
    let ours = Subscribe {
        packet_id: PacketId::new(7).unwrap(),
        subscriptions: vec![
            Subscription::new(
                TopicFilter::try_from("devices/+/telemetry").unwrap(),
                QoS::AtLeastOnce,
            ),
            Subscription {
                filter: TopicFilter::try_from("alerts/#").unwrap(),
                options: SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendAtSubscribe,
                },
            },
            Subscription {
                filter: TopicFilter::try_from("$share/workers/jobs/+").unwrap(),
                options: SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    retain_handling: RetainHandling::DoNotSend,
                    ..SubscriptionOptions::default()
                },
            },
        ],
        properties: SubscribeProperties {
            subscription_identifier: Some(42),
            user_properties: vec![UserProperty::new(mstr("trace-id"), mstr("abc123"))],
        }
        .into(),
    };
    let filter = |path: &str, qos, nolocal, preserve_retain, rule| rq5::Filter {
        path: path.into(),
        qos,
        nolocal,
        preserve_retain,
        retain_forward_rule: rule,
    };
    let theirs = rq5::Packet::Subscribe(rq5::Subscribe {
        pkid: 7,
        filters: vec![
            filter(
                "devices/+/telemetry",
                rq5q::QoS::AtLeastOnce,
                false,
                false,
                rq5::RetainForwardRule::OnEverySubscribe,
            ),
            filter(
                "alerts/#",
                rq5q::QoS::ExactlyOnce,
                true,
                true,
                rq5::RetainForwardRule::OnEverySubscribe,
            ),
            filter(
                "$share/workers/jobs/+",
                rq5q::QoS::AtLeastOnce,
                false,
                false,
                rq5::RetainForwardRule::Never,
            ),
        ],
        properties: Some(rq5::SubscribeProperties {
            id: Some(42),
            user_properties: vec![("trace-id".into(), "abc123".into())],
        }),
    });
    (Packet::Subscribe(ours), theirs)
}

/// Encodes both v5 models and checks they agree byte for byte and decode back.
fn v5_wire(name: &str, ours: &Packet, theirs: &rq5::Packet) -> Bytes {
    let mut buf = BytesMut::new();
    ours.encode(ProtocolVersion::V5, &mut buf).unwrap();
    let wire = buf.freeze();
    let mut other = BytesMut::new();
    theirs.write(&mut other, None).unwrap();
    assert_eq!(other, wire, "rumqttc encodes the v5 {name} differently");
    assert_eq!(
        &Packet::decode(wire.clone(), ProtocolVersion::V5).unwrap(),
        ours
    );
    let decoded = rq5::Packet::read(&mut BytesMut::from(&wire[..]), None).unwrap();
    assert_eq!(&decoded, theirs);
    wire
}

// ---------------------------------------------------------------------------------------
// Measurement helpers
// ---------------------------------------------------------------------------------------

/// Times a decoder that consumes whole packets off the front of a `BytesMut` (ours
/// `Decoder::decode`, rumqttc `Packet::read`), one packet per criterion iteration.
///
/// Such a decoder destroys its input, so the input is refilled outside the timed section:
/// each sample fills one reused `BytesMut` with back-to-back copies of `wire` and times
/// decoding them all, as a receive buffer holding many packets is decoded. So that a
/// 64 KiB payload's refill (a 64 KiB copy, ~100x the decode) does not stretch the run,
/// a sample decodes at most [`REAL_BYTES_PER_SAMPLE`] bytes of packets (always at least
/// 64 packets) and its time is scaled to the iteration count criterion asked for: the
/// per-packet mean over >= 64 real decodes stands in for the rest.
fn consume_frames<T>(b: &mut Bencher<'_>, wire: &[u8], mut decode: impl FnMut(&mut BytesMut) -> T) {
    let cap = (REAL_BYTES_PER_SAMPLE / wire.len()).max(64) as u64;
    let mut buf = BytesMut::with_capacity(wire.len() * cap as usize);
    b.iter_custom(|iters| {
        let real = iters.min(cap);
        // The previous sample's packets are gone: this reclaims the same allocation.
        buf.clear();
        buf.reserve(wire.len() * real as usize);
        for _ in 0..real {
            buf.extend_from_slice(wire);
        }
        let start = Instant::now();
        for _ in 0..real {
            black_box(decode(black_box(&mut buf)));
        }
        let elapsed = start.elapsed();
        assert!(buf.is_empty());
        if real == iters {
            elapsed
        } else {
            Duration::from_secs_f64(elapsed.as_secs_f64() * iters as f64 / real as f64)
        }
    });
}

/// The ceiling: copies `wire` into a cleared, reused buffer.
fn memcpy(group: &mut BenchmarkGroup<'_, WallTime>, wire: &Bytes) {
    let mut buf = BytesMut::with_capacity(wire.len());
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(&wire[..]));
            black_box(&buf);
        })
    });
}

/// The length of the packet at the front of `bytes` (fixed header + Remaining Length).
fn frame_len(bytes: &[u8]) -> usize {
    let mut len = 0;
    for (i, &b) in bytes[1..].iter().take(4).enumerate() {
        len |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return 2 + i + len;
        }
    }
    unreachable!("malformed Remaining Length")
}

// ---------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------

fn publish_cases() -> Vec<PublishCase> {
    let mut cases = Vec::new();
    for (label, len) in [("16B", 16), ("1KiB", 1024), ("64KiB", 65536)] {
        for qos1 in [false, true] {
            cases.push(PublishCase::new(label, len, qos1));
        }
    }
    cases
}

fn publish_decode(c: &mut Criterion) {
    const V: ProtocolVersion = ProtocolVersion::V3_1_1;
    for case in publish_cases() {
        let wire = &case.wire;
        let mut group = c.benchmark_group(format!("publish_decode_{}", case.name));
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function("ours_frame", |b| {
            b.iter(|| {
                black_box(Packet::decode(black_box(wire).clone(), V).unwrap());
            })
        });
        let mut decoder = Decoder::new(V);
        group.bench_function("ours_stream", |b| {
            consume_frames(b, wire, |buf| decoder.decode(buf).unwrap().unwrap())
        });
        group.bench_function("rumqttc_frame", |b| {
            b.iter(|| {
                let bytes = black_box(wire).clone();
                let header = rq::check(bytes.iter(), MAX).unwrap();
                black_box(rq::v4::Publish::read(header, bytes).unwrap());
            })
        });
        group.bench_function("rumqttc_stream", |b| {
            consume_frames(b, wire, |buf| rq::v4::Packet::read(buf, MAX).unwrap())
        });
        group.bench_function("mqttrs", |b| {
            b.iter(|| {
                let p = mqttrs::decode_slice(black_box(wire)).unwrap().unwrap();
                black_box(p);
            })
        });
        group.bench_function("ours_view", |b| {
            b.iter(|| {
                black_box(PacketView::decode(black_box(&wire[..]), V).unwrap());
            })
        });
        if mqtt_format_publish(wire).is_some() {
            group.bench_function("mqtt_format", |b| {
                b.iter(|| {
                    black_box(mqtt_format::v3::packet::mpacket(black_box(&wire[..])).unwrap());
                })
            });
        }
        memcpy(&mut group, wire);
        group.finish();
    }
}

fn publish_encode(c: &mut Criterion) {
    const V: ProtocolVersion = ProtocolVersion::V3_1_1;
    for case in publish_cases() {
        let wire = &case.wire;
        let mut group = c.benchmark_group(format!("publish_encode_{}", case.name));
        group.throughput(Throughput::Bytes(wire.len() as u64));
        let mut buf = BytesMut::with_capacity(wire.len());
        group.bench_function("ours", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&case.ours).encode(V, &mut buf).unwrap();
                black_box(&buf);
            })
        });
        group.bench_function("ours_vectored", |b| {
            b.iter(|| {
                buf.clear();
                let payload = black_box(&case.ours)
                    .encode_vectored(V, MAX_PACKET_SIZE, &mut buf)
                    .unwrap();
                black_box((&buf, payload));
            })
        });
        group.bench_function("rumqttc", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&case.rumqttc).write(&mut buf, MAX).unwrap();
                black_box(&buf);
            })
        });
        let topic = mqtt::TopicNameRef::new(TOPIC).unwrap();
        let qos = if case.qos1 {
            mqtt::packet::QoSWithPacketIdentifier::Level1(PKID)
        } else {
            mqtt::packet::QoSWithPacketIdentifier::Level0
        };
        let theirs = mqtt::packet::PublishPacketRef::new(topic, qos, &case.payload);
        let mut vec = Vec::with_capacity(wire.len());
        mqtt::Encodable::encode(&theirs, &mut vec).unwrap();
        assert_eq!(vec, wire[..], "mqtt-protocol encodes other bytes");
        group.bench_function("mqtt_protocol", |b| {
            b.iter(|| {
                vec.clear();
                mqtt::Encodable::encode(black_box(&theirs), &mut vec).unwrap();
                black_box(&vec);
            })
        });
        // `PublishPacketRef::new` computes the fixed header (Remaining Length) when the
        // packet is built, so the row above only writes; this one builds and writes, as
        // a client does per message (ours computes the length in `encode`).
        group.bench_function("mqtt_protocol_built", |b| {
            b.iter(|| {
                vec.clear();
                let p = mqtt::packet::PublishPacketRef::new(
                    black_box(topic),
                    black_box(qos),
                    black_box(&case.payload[..]),
                );
                mqtt::Encodable::encode(&p, &mut vec).unwrap();
                black_box(&vec);
            })
        });
        let packet = case.mqttrs();
        let mut out = vec![0u8; wire.len()];
        group.bench_function("mqttrs", |b| {
            b.iter(|| {
                let n = mqttrs::encode_slice(black_box(&packet), &mut out).unwrap();
                black_box(&out[..n]);
            })
        });
        memcpy(&mut group, wire);
        group.finish();
    }
}

fn stream_decode(c: &mut Criterion) {
    const V: ProtocolVersion = ProtocolVersion::V3_1_1;
    let case = PublishCase::new("16B", 16, false);
    let mut stream = BytesMut::new();
    for _ in 0..STREAM_PACKETS {
        stream.extend_from_slice(&case.wire);
    }
    let stream = stream.freeze();
    let mut group = c.benchmark_group(format!("stream_decode_{STREAM_PACKETS}x16B_qos0"));
    group.throughput(Throughput::Elements(STREAM_PACKETS as u64));
    // The consuming decoders get a fresh copy of the stream per iteration, made outside
    // the timed section.
    let fresh = || BytesMut::from(&stream[..]);
    let mut decoder = Decoder::new(V);
    group.bench_function("ours", |b| {
        b.iter_batched(
            fresh,
            |mut buf| {
                let mut n = 0;
                while let Some(p) = decoder.decode(&mut buf).unwrap() {
                    black_box(p);
                    n += 1;
                }
                assert_eq!(n, STREAM_PACKETS);
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("rumqttc", |b| {
        b.iter_batched(
            fresh,
            |mut buf| {
                let mut n = 0;
                while !buf.is_empty() {
                    black_box(rq::v4::Packet::read(&mut buf, MAX).unwrap());
                    n += 1;
                }
                assert_eq!(n, STREAM_PACKETS);
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("mqttrs", |b| {
        b.iter(|| {
            let mut rest = black_box(&stream[..]);
            let mut n = 0;
            // mqttrs borrows and does not say how much it read: frame_len re-reads the
            // fixed header (a few ns) to step to the next packet.
            while let Some(p) = mqttrs::decode_slice(rest).unwrap() {
                black_box(p);
                rest = &rest[frame_len(rest)..];
                n += 1;
            }
            assert_eq!(n, STREAM_PACKETS);
        })
    });
    group.bench_function("ours_view", |b| {
        b.iter(|| {
            let mut rest = black_box(&stream[..]);
            let mut n = 0;
            while let Some((p, len)) = decoder.decode_view(rest).unwrap() {
                black_box(p);
                rest = &rest[len..];
                n += 1;
            }
            assert_eq!(n, STREAM_PACKETS);
        })
    });
    assert!(mqtt_format_publish(&stream).is_some());
    group.bench_function("mqtt_format", |b| {
        b.iter(|| {
            let mut rest = black_box(&stream[..]);
            let mut n = 0;
            while !rest.is_empty() {
                let (next, p) = mqtt_format::v3::packet::mpacket(rest).unwrap();
                black_box(p);
                rest = next;
                n += 1;
            }
            assert_eq!(n, STREAM_PACKETS);
        })
    });
    memcpy(&mut group, &stream);
    group.finish();
}

fn v5_control(c: &mut Criterion) {
    const V: ProtocolVersion = ProtocolVersion::V5;
    let (connect, rq_connect) = connect_v5();
    let (subscribe, rq_subscribe) = subscribe_v5();
    for (name, ours, theirs) in [
        ("connect_v5", connect, rq_connect),
        ("subscribe_v5", subscribe, rq_subscribe),
    ] {
        let wire = v5_wire(name, &ours, &theirs);

        let mut group = c.benchmark_group(format!("{name}_decode"));
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function("ours_frame", |b| {
            b.iter(|| {
                black_box(Packet::decode(black_box(&wire).clone(), V).unwrap());
            })
        });
        let mut decoder = Decoder::new(V);
        group.bench_function("ours_stream", |b| {
            consume_frames(b, &wire, |buf| decoder.decode(buf).unwrap().unwrap())
        });
        let is_connect = matches!(ours, Packet::Connect(_));
        group.bench_function("rumqttc_frame", |b| {
            b.iter(|| {
                let bytes = black_box(&wire).clone();
                let header = rq5::check(bytes.iter(), None).unwrap();
                if is_connect {
                    let (c, w, l) = rq5::Connect::read(header, bytes).unwrap();
                    black_box((c, w, l));
                } else {
                    black_box(rq5::Subscribe::read(header, bytes).unwrap());
                }
            })
        });
        group.bench_function("rumqttc_stream", |b| {
            consume_frames(b, &wire, |buf| rq5::Packet::read(buf, None).unwrap())
        });
        memcpy(&mut group, &wire);
        group.finish();

        let mut group = c.benchmark_group(format!("{name}_encode"));
        group.throughput(Throughput::Bytes(wire.len() as u64));
        let mut buf = BytesMut::with_capacity(wire.len());
        group.bench_function("ours", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&ours).encode(V, &mut buf).unwrap();
                black_box(&buf);
            })
        });
        group.bench_function("rumqttc", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&theirs).write(&mut buf, None).unwrap();
                black_box(&buf);
            })
        });
        memcpy(&mut group, &wire);
        group.finish();
    }
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, without their undocumented
    // `pub fn`.
    let mut c = Criterion::default().configure_from_args();
    publish_decode(&mut c);
    publish_encode(&mut c);
    stream_decode(&mut c);
    v5_control(&mut c);
    c.final_summary();
}
