//! A scripted-test harness: a session driven with simulated time, and the server side of
//! its connection as packets.

#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use core::time::Duration;
use mqtt_proto::{
    ConnAck, Decoder, Encode, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS,
    ReasonCode, Role, TopicName,
};
use mqtt_session::{Action, Connected, Event, Instant, OperationId, Options, Session};

/// Every protocol version, oldest first.
pub const ALL: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

/// The default reconnect policy's `min_delay`: the delay before the first reconnect when
/// jitter is off.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);

/// A session, the instant it lives at, and what it wrote / was told.
pub struct Harness {
    pub session: Session,
    pub now: Instant,
    pub version: ProtocolVersion,
    server_decoder: Decoder,
    written: BytesMut,
    pub actions: Vec<Action>,
    pub events: Vec<Event>,
}

/// Options for tests: one server "test:1883", client id "client", `version`.
pub fn options(version: ProtocolVersion) -> Options {
    let mut o = Options::new("test:1883", MqttString::try_from("client").unwrap());
    o.protocol_version = version;
    o
}

/// Options whose session outlives a connection: 3.1 / 3.1.1 Clean Session 0, 5.0 a
/// Session Expiry Interval above 0.
pub fn persistent(version: ProtocolVersion) -> Options {
    let mut o = options(version);
    if version.is_v5() {
        o.session_expiry_interval = 3600;
    } else {
        o.clean_start = false;
    }
    o
}

/// A CONNACK accepting the connection with Session Present set.
pub fn connack_present() -> ConnAck {
    let mut c = ConnAck::new(ReasonCode::Success);
    c.session_present = true;
    c
}

/// `v` as an MQTT string (panics if it is not one).
pub fn s(v: &str) -> MqttString {
    MqttString::try_from(v).unwrap()
}

/// Packet identifier `n` (panics on 0).
pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// An application message as the application hands it to `publish` (no identifier).
pub fn msg(topic: &str, payload: &'static str, qos: QoS) -> Publish {
    Publish::new(
        TopicName::try_from(topic).unwrap(),
        Bytes::from_static(payload.as_bytes()),
    )
    .with_qos(qos, None)
}

/// `p` as it is on the wire with packet identifier `n`.
pub fn with_id(p: Publish, n: u16) -> Publish {
    let qos = p.qos;
    p.with_qos(qos, Some(pid(n)))
}

/// `p` re-sent: DUP set.
pub fn dup(mut p: Publish) -> Publish {
    p.dup = true;
    p
}

/// The application publishes `p`; returns its operation.
pub fn publish(h: &mut Harness, p: Publish) -> OperationId {
    let op = h.session.publish(h.now, p).unwrap();
    h.drain();
    op
}

/// The event for the QoS 1/2 publish `id` acknowledged with Success.
pub fn completed(id: OperationId) -> Event {
    Event::PublishCompleted {
        id,
        reason_code: ReasonCode::Success,
    }
}

impl Harness {
    pub fn new(options: Options) -> Harness {
        let version = options.protocol_version;
        Harness {
            session: Session::new(options),
            now: Instant::ZERO,
            version,
            server_decoder: Decoder::new(version).with_sender(Role::Client),
            written: BytesMut::new(),
            actions: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn from_session(session: Session) -> Harness {
        let version = session.options().protocol_version;
        Harness {
            session,
            now: Instant::ZERO,
            version,
            server_decoder: Decoder::new(version).with_sender(Role::Client),
            written: BytesMut::new(),
            actions: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The server side speaks `version` from now on (after a protocol version fallback).
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
        self.server_decoder = Decoder::new(version).with_sender(Role::Client);
    }

    /// Drains every output after an input, as a driver must.
    pub fn drain(&mut self) {
        while let Some(a) = self.session.poll_action() {
            self.actions.push(a);
        }
        while let Some(chunk) = self.session.poll_transmit() {
            self.written.extend_from_slice(&chunk);
        }
        while let Some(e) = self.session.poll_event() {
            self.events.push(e);
        }
        if let Some(t) = self.session.poll_timeout() {
            // Never a deadline in the past while idle.
            assert!(
                t >= self.now,
                "deadline {t:?} in the past at {:?}",
                self.now
            );
        }
    }

    /// The packets the session wrote since the last call, decoded as a server would.
    pub fn sent(&mut self) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(p) = self
            .server_decoder
            .decode(&mut self.written)
            .expect("client sent a malformed packet")
        {
            out.push(p);
        }
        assert!(self.written.is_empty(), "a partial packet was written");
        out
    }

    /// Takes the events collected so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Takes the actions collected so far.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// The server sends `packet`.
    pub fn receive(&mut self, packet: impl Into<Packet>) {
        let mut buf = BytesMut::new();
        packet.into().encode(self.version, &mut buf).unwrap();
        self.session.handle_read(self.now, &mut buf);
        self.drain();
    }

    /// The server sends raw bytes.
    pub fn receive_bytes(&mut self, bytes: &[u8]) {
        let mut buf = BytesMut::from(bytes);
        self.session.handle_read(self.now, &mut buf);
        self.drain();
    }

    /// Time passes; the timer fires if due.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        if let Some(t) = self.session.poll_timeout()
            && t <= self.now
        {
            self.session.handle_timeout(self.now);
        }
        self.drain();
    }

    /// Advances to the session's next deadline and fires it.
    pub fn fire_timer(&mut self) {
        let t = self.session.poll_timeout().expect("no deadline");
        if t > self.now {
            self.now = t;
        }
        self.session.handle_timeout(self.now);
        self.drain();
    }

    /// connect(), the transport comes up; returns the CONNECT packet.
    pub fn open(&mut self) -> mqtt_proto::Connect {
        self.session.connect(self.now).unwrap();
        self.drain();
        let actions = self.take_actions();
        assert!(
            matches!(actions.as_slice(), [Action::Open { .. }]),
            "{actions:?}"
        );
        self.session.handle_connected(self.now);
        self.drain();
        match self.sent().as_slice() {
            [Packet::Connect(c)] => (**c).clone(),
            other => panic!("expected CONNECT, got {other:?}"),
        }
    }

    /// Opens and accepts with `connack`; returns the CONNECT.
    pub fn connect_with(&mut self, connack: ConnAck) -> mqtt_proto::Connect {
        let c = self.open();
        self.receive(connack);
        c
    }

    /// Opens and accepts with a plain CONNACK (no session present).
    pub fn connect(&mut self) -> mqtt_proto::Connect {
        let c = self.connect_with(ConnAck::new(ReasonCode::Success));
        let events = self.take_events();
        assert!(
            matches!(events.first(), Some(Event::Connected(_))),
            "{events:?}"
        );
        self.events = events.into_iter().skip(1).collect();
        c
    }

    /// The transport drops; then the reconnect timer fires and the transport comes back.
    pub fn reconnect(&mut self, connack: ConnAck) -> mqtt_proto::Connect {
        self.session.handle_closed(self.now);
        self.drain();
        self.reopen(connack)
    }

    /// Drops the connection and reconnects with `connack` (as [`Harness::reconnect`]);
    /// returns the CONNECT, the Connected event and the events after it, having checked
    /// that the ones before it are all Disconnected.
    pub fn reconnect_connected(
        &mut self,
        connack: ConnAck,
    ) -> (mqtt_proto::Connect, Connected, Vec<Event>) {
        let connect = self.reconnect(connack);
        let events = self.take_events();
        let at = events
            .iter()
            .position(|e| matches!(e, Event::Connected(_)))
            .unwrap_or_else(|| panic!("no Connected in {events:?}"));
        assert!(
            events[..at]
                .iter()
                .all(|e| matches!(e, Event::Disconnected { .. })),
            "{events:?}"
        );
        let Event::Connected(c) = &events[at] else {
            unreachable!()
        };
        (connect, (**c).clone(), events[at + 1..].to_vec())
    }

    /// [`Harness::reconnect_connected`], returning only the events after Connected.
    pub fn reconnect_events(&mut self, connack: ConnAck) -> Vec<Event> {
        self.reconnect_connected(connack).2
    }

    /// The connection is down: the reconnect timer fires, the transport comes back and
    /// the server answers the CONNECT with `connack`; returns the CONNECT.
    pub fn reopen(&mut self, connack: ConnAck) -> mqtt_proto::Connect {
        self.fire_timer();
        let actions = self.take_actions();
        assert!(
            actions.iter().any(|a| matches!(a, Action::Open { .. })),
            "{actions:?}"
        );
        self.session.handle_connected(self.now);
        self.drain();
        let connect = match self.sent().as_slice() {
            [Packet::Connect(c)] => (**c).clone(),
            other => panic!("expected CONNECT, got {other:?}"),
        };
        self.receive(connack);
        connect
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
