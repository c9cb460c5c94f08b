//! The engine driven in memory, as a driver would, against a broker of a few lines:
//! output batching (one vectored write for a burst, payloads uncopied), outcomes handed
//! to their `Pending`, back-pressure through the event buffer, closing with and without
//! DISCONNECT, and a failed connection attempt reported.

use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use mqtt_engine::{
    ClientOptions, Command, Completion, Engine, Error, EventQueue, MAX_SLICES, Output, Reply,
};
use mqtt_proto::{
    ConnAck, Decoder, Encode, Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, Role,
    TopicName,
};
use mqtt_session::{DisconnectOptions, DisconnectReason, Event, Instant};

const V: ProtocolVersion = ProtocolVersion::V3_1_1;

struct Pair {
    engine: Engine,
    events: std::sync::Arc<EventQueue>,
    now: Instant,
    broker: Decoder,
    /// What the client wrote, not yet decoded by the broker.
    wire: BytesMut,
    /// How many vectored writes the driver made.
    writes: usize,
}

impl Pair {
    fn new(options: ClientOptions) -> Pair {
        let (engine, _driver, events) = Engine::new(options.protocol(V)).unwrap();
        Pair {
            engine,
            events,
            now: Instant::ZERO,
            broker: Decoder::new(V).with_sender(Role::Client),
            wire: BytesMut::new(),
            writes: 0,
        }
    }

    /// Connected, CONNACK handled, the Connected event taken.
    fn connected(options: ClientOptions) -> Pair {
        let mut pair = Pair::new(options);
        pair.engine.start(pair.now).unwrap();
        assert!(matches!(pair.engine.poll_output(), Some(Output::Open(_))));
        pair.engine.handle_opened(pair.now);
        pair.write();
        assert!(matches!(pair.packets()[..], [Packet::Connect(_)]));
        pair.receive(ConnAck::new(ReasonCode::Success));
        assert!(matches!(pair.events.try_next(), Some(Event::Connected(_))));
        pair
    }

    /// One vectored write of everything pending, as a driver does after a round.
    fn write(&mut self) -> Vec<usize> {
        let mut lens = Vec::new();
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = self.engine.transmit(&mut slices);
        for s in &slices[..n] {
            self.wire.extend_from_slice(s);
            lens.push(s.len());
        }
        let total = lens.iter().sum();
        if n > 0 {
            self.writes += 1;
        }
        self.engine.advance(total);
        lens
    }

    fn packets(&mut self) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(p) = self.broker.decode(&mut self.wire).unwrap() {
            out.push(p);
        }
        out
    }

    fn receive(&mut self, packet: impl Into<Packet>) {
        let mut bytes = BytesMut::new();
        packet.into().encode(V, &mut bytes).unwrap();
        let buf = self.engine.read_buffer();
        buf[..bytes.len()].copy_from_slice(&bytes);
        self.engine.handle_read(self.now, bytes.len());
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.engine.poll_output()).collect()
    }

    fn command(&mut self, make: impl FnOnce(Reply) -> Command) -> mqtt_engine::Pending {
        let (reply, pending) = Reply::new();
        self.engine.handle_command(self.now, make(reply));
        pending
    }

    fn publish(&mut self, qos: QoS, payload: impl Into<Bytes>) -> mqtt_engine::Pending {
        let message = Publish::new(TopicName::try_from("t").unwrap(), payload).with_qos(qos, None);
        self.command(|done| Command::Publish { message, done })
    }
}

fn options() -> ClientOptions {
    ClientOptions::new("mqtt://broker.test", "engine-test")
        .unwrap()
        .no_reconnect()
}

#[test]
fn a_burst_of_publishes_leaves_in_one_write() {
    let mut pair = Pair::connected(options());
    let pending: Vec<_> = (0..100)
        .map(|i| pair.publish(QoS::AtMostOnce, format!("m{i}")))
        .collect();
    let lens = pair.write();
    assert_eq!(pair.writes, 2, "CONNECT, then the whole burst in one write");
    assert_eq!(
        lens.len(),
        1,
        "small packets are coalesced into one chunk: {lens:?}"
    );
    assert_eq!(pair.packets().len(), 100);
    for p in pending {
        assert_eq!(p.try_result().unwrap().unwrap(), Completion::Sent);
    }
}

#[test]
fn a_large_payload_goes_out_as_the_applications_own_bytes() {
    let mut pair = Pair::connected(options());
    let payload = Bytes::from(vec![7u8; 64 * 1024]);
    let _pending = pair.publish(QoS::AtMostOnce, payload.clone());
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let n = pair.engine.transmit(&mut slices);
    assert_eq!(n, 2, "header chunk and payload chunk");
    assert_eq!(
        slices[1].as_ptr(),
        payload.as_ptr(),
        "the payload is written from the application's buffer, not a copy"
    );
}

#[test]
fn outcomes_go_to_their_pending_not_to_the_events() {
    let mut pair = Pair::connected(options());
    let pending = pair.publish(QoS::AtLeastOnce, "x");
    pair.write();
    let id = match &pair.packets()[..] {
        [Packet::Publish(p)] => p.packet_id.unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(pending.try_result().is_none());
    pair.receive(PubAck::new(id));
    assert_eq!(
        pending.try_result().unwrap().unwrap(),
        Completion::Published(ReasonCode::Success)
    );
    assert!(
        pair.events.try_next().is_none(),
        "no completion event on the stream"
    );
}

#[test]
fn a_command_the_session_refuses_fails_its_pending() {
    let mut pair = Pair::connected(options());
    // A 3.1.1 session cannot send a DISCONNECT with a session expiry.
    let pending = pair.command(|done| Command::Disconnect {
        options: DisconnectOptions {
            session_expiry_interval: Some(5),
            ..DisconnectOptions::default()
        },
        done,
    });
    assert!(matches!(pending.wait_accepted(), Err(Error::Usage(_))));
}

#[test]
fn reading_stops_while_the_event_buffer_is_full() {
    let mut pair = Pair::connected(options().event_buffer(3));
    assert!(pair.engine.wants_read());
    for i in 0..3 {
        pair.receive(Publish::new(
            TopicName::try_from("in").unwrap(),
            format!("{i}"),
        ));
    }
    assert!(
        !pair.engine.wants_read(),
        "back-pressure: the socket is left alone"
    );
    assert!(matches!(pair.events.try_next(), Some(Event::Message(_))));
    assert!(
        pair.engine.wants_read(),
        "room again after the application took one"
    );
}

#[test]
fn disconnect_writes_disconnect_then_closes_and_completes_once_closed() {
    let mut pair = Pair::connected(options());
    let pending = pair.command(|done| Command::Disconnect {
        options: DisconnectOptions::default(),
        done,
    });
    assert_eq!(pair.outputs(), [Output::Close]);
    pair.write();
    assert!(matches!(pair.packets()[..], [Packet::Disconnect(_)]));
    assert!(!pending.is_done(), "done only once the stream is closed");
    pair.engine.handle_closed(pair.now, None);
    assert_eq!(pending.try_result().unwrap().unwrap(), Completion::Sent);
    assert!(pair.engine.is_closed());
    assert!(matches!(
        pair.events.try_next(),
        Some(Event::Disconnected {
            reason: DisconnectReason::Requested,
            ..
        })
    ));
}

#[test]
fn close_drops_pending_bytes_and_sends_no_disconnect() {
    let mut pair = Pair::connected(options());
    let _unsent = pair.publish(QoS::AtMostOnce, "never written");
    let pending = pair.command(|done| Command::Close { done });
    assert_eq!(pair.outputs(), [Output::Close]);
    assert!(
        pair.write().is_empty(),
        "as if the network failed: nothing more is written"
    );
    pair.engine.handle_closed(pair.now, None);
    assert!(pending.try_result().unwrap().is_ok());
    assert!(pair.engine.is_closed());
}

#[test]
fn a_failed_connection_attempt_is_reported_with_the_url() {
    let mut pair = Pair::new(options());
    pair.engine.start(pair.now).unwrap();
    assert!(matches!(pair.engine.poll_output(), Some(Output::Open(_))));
    pair.engine
        .handle_closed(pair.now, Some("connection refused".into()));
    match pair.events.try_next() {
        Some(Event::Disconnected {
            reason: DisconnectReason::TransportError(e),
            reconnect_at: None,
        }) => assert!(
            e.contains("cannot connect to mqtt://broker.test:1883") && e.contains("refused"),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn operations_left_when_the_engine_ends_fail_with_closed() {
    let mut pair = Pair::connected(options());
    let pending = pair.publish(QoS::AtLeastOnce, "x");
    drop(pair);
    assert!(matches!(pending.wait(), Err(Error::Closed)));
}
