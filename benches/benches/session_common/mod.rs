//! The steady-state scenarios shared by the `session` (time) and `session_alloc`
//! (allocations) benches: a connected [`Session`] driven the way `mqtt-session`'s
//! documented drive loop drives it, fed pre-encoded server bytes through one reused
//! receive buffer.
//!
//! Every scenario handles `n` messages (1 to [`BATCH`]) and then drains the session's
//! outputs once: `n = 1` is "one input, one drain"; `n = BATCH` is a burst (64 publishes,
//! or one read holding 64 packets) followed by one drain.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    ConnAck, Decoder, Encode, MqttString, Packet, PacketId, ProtocolVersion, PubAck, Publish, QoS,
    ReasonCode, Role, TopicName,
};
use mqtt_session::{Action, Event, Instant, Options, Session};

/// The topic of every PUBLISH, both ways (as in the codec bench).
pub const TOPIC: &str = "devices/sensor-0042/telemetry";
/// The payload of every PUBLISH: 16 B.
pub const PAYLOAD: &[u8; 16] = b"0123456789abcdef";
/// Messages per burst in the batched rows.
pub const BATCH: usize = 64;
/// Packet identifiers cycle through 1..=65535.
const IDS: usize = 65_535;

/// The two protocol versions measured, with the label used in benchmark ids.
pub const VERSIONS: [(&str, ProtocolVersion); 2] = [
    ("v311", ProtocolVersion::V3_1_1),
    ("v5", ProtocolVersion::V5),
];

/// A connected session plus everything the server side sends, pre-encoded.
pub struct Rig {
    /// The session under test, connected.
    pub session: Session,
    version: ProtocolVersion,
    now: Instant,
    /// The application's topic, validated once.
    topic: TopicName,
    /// The application's QoS 0 message (for the checks and the encode floor; the timed
    /// publishes build theirs with [`message`], as an application would).
    qos0: Publish,
    /// PUBACKs for packet ids 1..=65535 and then 1..=BATCH again (so a burst that wraps
    /// past 65535 is one contiguous slice), back to back.
    acks: Bytes,
    ack_len: usize,
    /// The packet id the session will give its next QoS 1 PUBLISH.
    next_id: usize,
    /// BATCH incoming QoS 0 PUBLISHes, back to back.
    in_qos0: Bytes,
    /// BATCH incoming QoS 1 PUBLISHes (ids 1..=BATCH), back to back.
    in_qos1: Bytes,
    in_len: [usize; 2],
    /// The driver's receive buffer, reused.
    rx: BytesMut,
    /// Encoded lengths of what the session writes: QoS 0 PUBLISH, QoS 1 PUBLISH, PUBACK.
    out_len: [usize; 3],
    /// What went in: QoS 0 and QoS 1 publishes, incoming QoS 0 and QoS 1 PUBLISHes.
    sent: [usize; 4],
    /// What the drains saw: bytes written, completions, messages (checked after timing).
    written: usize,
    /// `PublishCompleted` events drained.
    completed: usize,
    /// `Message` events drained.
    messages: usize,
}

/// Bytes of `packet` as `version` encodes it.
pub fn encode(packet: impl Into<Packet>, version: ProtocolVersion) -> Bytes {
    let mut buf = BytesMut::new();
    packet.into().encode(version, &mut buf).unwrap();
    buf.freeze()
}

/// `n` copies of `f(i)` encoded back to back, and the length of one.
fn stream(n: usize, version: ProtocolVersion, f: impl Fn(usize) -> Packet) -> (Bytes, usize) {
    let mut buf = BytesMut::new();
    let mut len = 0;
    for i in 0..n {
        let before = buf.len();
        f(i).encode(version, &mut buf).unwrap();
        let this = buf.len() - before;
        assert!(len == 0 || len == this, "packets of unequal length");
        len = this;
    }
    (buf.freeze(), len)
}

fn pid(i: usize) -> PacketId {
    PacketId::new(u16::try_from(i).unwrap()).unwrap()
}

/// The application's message at `qos`, built as an application builds one per publish:
/// `Publish::new` with a clone of a `TopicName` validated once, and a 16 B static payload
/// (static `Bytes` both: no refcount or allocation, so what is timed is the session, not
/// the making of the message).
#[inline]
pub fn message(topic: &TopicName, qos: QoS) -> Publish {
    let p = Publish::new(topic.clone(), Bytes::from_static(PAYLOAD));
    if qos == QoS::AtMostOnce {
        p
    } else {
        p.with_qos(qos, None)
    }
}

impl Rig {
    /// A session connected with a plain CONNACK (keep-alive 60 s, auto-ack on,
    /// `max_in_flight` 64 so a burst of 64 QoS 1 publishes is all in flight under 3.1.1
    /// too, whose default window is 20).
    pub fn new(version: ProtocolVersion) -> Rig {
        let mut options = Options::new("bench:1883", MqttString::from_static("bench-client"));
        options.protocol_version = version;
        options.max_in_flight = Some(BATCH as u16);
        let mut session = Session::new(options);
        let now = Instant::ZERO;
        session.connect(now).unwrap();
        assert!(matches!(session.poll_action(), Some(Action::Open { .. })));
        session.handle_connected(now);
        let mut server = Decoder::new(version).with_sender(Role::Client);
        let mut out = BytesMut::new();
        while let Some(chunk) = session.poll_transmit() {
            out.extend_from_slice(&chunk);
        }
        assert!(matches!(
            server.decode(&mut out),
            Ok(Some(Packet::Connect(_)))
        ));
        let mut rx = BytesMut::with_capacity(64 * 1024);
        rx.extend_from_slice(&encode(ConnAck::new(ReasonCode::Success), version));
        session.handle_read(now, &mut rx);
        assert!(matches!(session.poll_event(), Some(Event::Connected(_))));
        assert!(session.is_connected());

        let topic = TopicName::from_static(TOPIC);
        let (acks, ack_len) = stream(IDS + BATCH, version, |i| {
            PubAck::new(pid(i % IDS + 1)).into()
        });
        let incoming = |qos| {
            stream(BATCH, version, |i| {
                let p = message(&topic, QoS::AtMostOnce);
                if qos == QoS::AtMostOnce {
                    p.into()
                } else {
                    p.with_qos(qos, Some(pid(i + 1))).into()
                }
            })
        };
        let (in_qos0, len0) = incoming(QoS::AtMostOnce);
        let (in_qos1, len1) = incoming(QoS::AtLeastOnce);
        let out_len = [
            encode(message(&topic, QoS::AtMostOnce), version).len(),
            encode(
                message(&topic, QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, Some(pid(1))),
                version,
            )
            .len(),
            encode(PubAck::new(pid(1)), version).len(),
        ];
        let mut rig = Rig {
            session,
            version,
            now,
            qos0: message(&topic, QoS::AtMostOnce),
            topic,
            acks,
            ack_len,
            next_id: 1,
            in_qos0,
            in_qos1,
            in_len: [len0, len1],
            rx,
            out_len,
            sent: [0; 4],
            written: 0,
            completed: 0,
            messages: 0,
        };
        rig.drain();
        rig.check();
        rig
    }

    /// Drains every output, in the documented order, as a driver must after an input.
    /// Written chunks, events and actions are looked at through `black_box(&_)` (the
    /// transport, the application: no extra copy) and dropped.
    #[inline]
    pub fn drain(&mut self) {
        let s = &mut self.session;
        while let Some(action) = s.poll_action() {
            black_box(&action);
        }
        // The borrowing drain a socket driver uses (mqtt-std does): no reference counts.
        let mut written = 0;
        let _ = s.write_transmit(|bytes| {
            written += bytes.len();
            black_box(bytes);
            Ok::<(), ()>(())
        });
        self.written += written;
        while let Some(event) = s.poll_event() {
            match &event {
                Event::PublishCompleted { .. } => self.completed += 1,
                Event::Message(_) => self.messages += 1,
                _ => {}
            }
            black_box(&event);
        }
        black_box(s.poll_timeout());
    }

    /// `n` QoS 0 publishes, then one drain.
    #[inline]
    pub fn publish_qos0(&mut self, n: usize) {
        self.sent[0] += n;
        for _ in 0..n {
            let m = message(&self.topic, QoS::AtMostOnce);
            black_box(self.session.publish(self.now, m).unwrap());
        }
        self.drain();
    }

    /// `n` QoS 1 publishes, one drain, then one read holding their `n` PUBACKs and one
    /// drain (which takes the `n` `PublishCompleted` events).
    #[inline]
    pub fn qos1_round_trip(&mut self, n: usize) {
        self.sent[1] += n;
        for _ in 0..n {
            let m = message(&self.topic, QoS::AtLeastOnce);
            black_box(self.session.publish(self.now, m).unwrap());
        }
        self.drain();
        let start = (self.next_id - 1) * self.ack_len;
        self.rx
            .extend_from_slice(&self.acks[start..start + n * self.ack_len]);
        self.next_id = (self.next_id - 1 + n) % IDS + 1;
        self.session.handle_read(self.now, &mut self.rx);
        self.drain();
    }

    /// One read holding `n` incoming PUBLISHes at `qos` (0 or 1), then one drain (the
    /// `n` `Message` events, and at QoS 1 the `n` PUBACKs).
    #[inline]
    pub fn incoming(&mut self, qos: QoS, n: usize) {
        let (wire, len) = match qos {
            QoS::AtMostOnce => (&self.in_qos0, self.in_len[0]),
            _ => (&self.in_qos1, self.in_len[1]),
        };
        self.sent[2 + usize::from(qos != QoS::AtMostOnce)] += n;
        self.rx.extend_from_slice(&wire[..n * len]);
        self.session.handle_read(self.now, &mut self.rx);
        self.drain();
    }

    /// Checks, after timing, that every message the scenarios put in came out as it
    /// should: each publish's bytes written, each QoS 1 publish completed, each incoming
    /// PUBLISH delivered and each incoming QoS 1 one acknowledged; nothing left over.
    pub fn verify(&self) {
        let [q0, q1, in0, in1] = self.sent;
        let [len0, len1, ack] = self.out_len;
        assert_eq!(self.completed, q1, "QoS 1 publishes completed");
        assert_eq!(self.messages, in0 + in1, "messages delivered");
        assert_eq!(
            self.written,
            q0 * len0 + q1 * len1 + in1 * ack,
            "bytes written"
        );
        assert_eq!(self.session.in_flight(), 0);
        assert_eq!(self.session.queued(), 0);
        assert!(self.rx.is_empty());
        assert!(self.session.is_connected());
    }

    /// The codec's share of a QoS 0 publish: encoding the same PUBLISH into a cleared,
    /// reused buffer (a floor for `publish_qos0`).
    pub fn encode_only(&self, buf: &mut BytesMut) {
        buf.clear();
        black_box(&self.qos0).encode(self.version, buf).unwrap();
        black_box(&*buf);
    }

    /// The codec's share of an incoming message: `Decoder::decode` of `n` incoming QoS 1
    /// PUBLISHes (`puback == false`) or `n` PUBACKs (`true`) from one read, each packet
    /// dropped (floors for `incoming` and for the read half of `qos1_round_trip`).
    pub fn decode_only(&mut self, decoder: &mut Decoder, puback: bool, n: usize) {
        let wire = if puback {
            &self.acks[..n * self.ack_len]
        } else {
            &self.in_qos1[..n * self.in_len[1]]
        };
        self.rx.extend_from_slice(wire);
        while let Some(p) = decoder.decode(&mut self.rx).unwrap() {
            black_box(&p);
        }
    }

    /// A decoder like the session's (packets from a server).
    pub fn server_decoder(&self) -> Decoder {
        Decoder::new(self.version).with_sender(Role::Server)
    }

    /// Runs each scenario once and checks what went over the wire and what events came
    /// out, decoding the session's bytes as the server would.
    fn check(&mut self) {
        let v = self.version;
        let mut server = Decoder::new(v).with_sender(Role::Client);
        let mut take = |s: &mut Session| {
            let mut out = BytesMut::new();
            while let Some(chunk) = s.poll_transmit() {
                out.extend_from_slice(&chunk);
            }
            let mut packets = Vec::new();
            while let Some(p) = server.decode(&mut out).unwrap() {
                packets.push(p);
            }
            assert!(out.is_empty());
            let events: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
            (packets, events)
        };
        // QoS 0 out: the PUBLISH, no event.
        self.session.publish(self.now, self.qos0.clone()).unwrap();
        let (p, e) = take(&mut self.session);
        assert!(
            matches!(p.as_slice(), [Packet::Publish(x)] if *x == self.qos0),
            "{p:?}"
        );
        assert!(e.is_empty());
        // QoS 1 out: the PUBLISH with the predicted id; its PUBACK completes it.
        let op = self
            .session
            .publish(self.now, message(&self.topic, QoS::AtLeastOnce))
            .unwrap();
        let (p, _) = take(&mut self.session);
        let [Packet::Publish(x)] = p.as_slice() else {
            panic!("{p:?}")
        };
        assert_eq!(x.packet_id, Some(pid(self.next_id)));
        let ack = &self.acks[(self.next_id - 1) * self.ack_len..][..self.ack_len];
        self.rx.extend_from_slice(ack);
        self.next_id += 1;
        self.session.handle_read(self.now, &mut self.rx);
        let (p, e) = take(&mut self.session);
        assert!(p.is_empty());
        assert!(
            matches!(e.as_slice(), [Event::PublishCompleted { id, .. }] if *id == op),
            "{e:?}"
        );
        // Incoming QoS 0 and 1: the message; a PUBACK for QoS 1 only.
        for (qos, acked) in [(QoS::AtMostOnce, false), (QoS::AtLeastOnce, true)] {
            let wire = if acked { &self.in_qos1 } else { &self.in_qos0 };
            self.rx
                .extend_from_slice(&wire[..self.in_len[usize::from(acked)]]);
            self.session.handle_read(self.now, &mut self.rx);
            let (p, e) = take(&mut self.session);
            match e.as_slice() {
                [Event::Message(m)] => {
                    assert_eq!(m.publish.qos, qos);
                    assert_eq!(&m.publish.payload[..], PAYLOAD);
                    assert_eq!(m.publish.topic.as_str(), TOPIC);
                }
                other => panic!("{other:?}"),
            }
            if acked {
                assert!(matches!(p.as_slice(), [Packet::PubAck(a)] if a.packet_id == pid(1)));
            } else {
                assert!(p.is_empty());
            }
        }
        assert!(self.rx.is_empty());
        assert!(self.session.is_connected());
    }
}
