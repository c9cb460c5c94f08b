//! What an embedded application pays for `mqtt-proto` + `mqtt-session`: code size on
//! `thumbv7em-none-eabihf` and heap.
//!
//! The two programs that are measured are the functions of this library, so that the
//! firmware binaries (`src/bin/drive.rs`, `src/bin/connect.rs`) and the host heap
//! measurement (`src/bin/heap.rs`) run the same code:
//!
//! * [`drive`]: the whole driving contract: connect (`Session::connect`, `Action::Open`,
//!   `handle_connected`, CONNACK through `handle_read`), subscribe (SUBACK), publish at
//!   QoS 0 and 1 (PUBACK), received PUBLISH packets at QoS 0 and 1 (answered with a
//!   PUBACK), a keep-alive round (`poll_timeout`, `handle_timeout`, PINGRESP), and every
//!   output drained after every input.
//! * [`connect`]: only the connect path: `Session::new`, `connect`, `poll_action`,
//!   `handle_connected`, `poll_transmit`, `handle_read` of a CONNACK, `poll_event`.
//!
//! Every input goes through [`core::hint::black_box`], and so does every output, so that
//! the optimizer can neither fold the received bytes into constants nor drop the bytes
//! written. See `README.md` for the numbers and how to reproduce them.
//!
//! The protocol version is 3.1.1 unless the `v5` feature is on.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use bytes::BytesMut;
use core::hint::black_box;
use core::time::Duration;
use mqtt_proto::{
    MqttString, ProtocolVersion, Publish, QoS, SubscribeProperties, Subscription, TopicFilter,
    TopicName,
};
use mqtt_session::{Action, Event, Instant, Options, Session};

/// The protocol version the programs speak.
pub const VERSION: ProtocolVersion = if cfg!(feature = "v5") {
    ProtocolVersion::V5
} else {
    ProtocolVersion::V3_1_1
};

/// What the server sends, per version: `(3.1.1, 5.0)`.
mod wire {
    /// CONNACK, accepted, no session present.
    pub static CONNACK: (&[u8], &[u8]) =
        (&[0x20, 0x02, 0x00, 0x00], &[0x20, 0x03, 0x00, 0x00, 0x00]);
    /// SUBACK for packet identifier 1, granted QoS 1.
    pub static SUBACK: (&[u8], &[u8]) = (
        &[0x90, 0x03, 0x00, 0x01, 0x01],
        &[0x90, 0x04, 0x00, 0x01, 0x00, 0x01],
    );
    /// PUBACK for packet identifier 2 (the remaining length 2 form is valid in 5.0 too).
    pub static PUBACK: (&[u8], &[u8]) = (&[0x40, 0x02, 0x00, 0x02], &[0x40, 0x02, 0x00, 0x02]);
    /// A QoS 1 PUBLISH to `a/b`, packet identifier 7, payload `hi`; then a QoS 0 one.
    pub static INCOMING: (&[u8], &[u8]) = (
        &[
            0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, b'h', b'i', //
            0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i',
        ],
        &[
            0x32, 0x0a, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, 0x00, b'h', b'i', //
            0x30, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, b'h', b'i',
        ],
    );
    /// PINGRESP.
    pub static PINGRESP: (&[u8], &[u8]) = (&[0xd0, 0x00], &[0xd0, 0x00]);
}

fn pick(bytes: &'static (&'static [u8], &'static [u8])) -> &'static [u8] {
    let (v3, v5) = *bytes;
    black_box(if cfg!(feature = "v5") { v5 } else { v3 })
}

/// What a run saw: counts of the outputs (all zero means nothing worked).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Bytes written to the "transport".
    pub written: usize,
    /// `Event::Connected`.
    pub connected: u32,
    /// `Event::SubscribeCompleted`.
    pub subscribed: u32,
    /// `Event::PublishCompleted`.
    pub published: u32,
    /// `Event::Message`.
    pub messages: u32,
    /// Any other event.
    pub other: u32,
}

/// The options both programs use (client identifier and server from `black_box`).
pub fn options() -> Options {
    let client_id = MqttString::try_from(black_box("device-0042")).unwrap_or_default();
    let mut options = Options::new(black_box("broker:1883"), client_id);
    options.protocol_version = VERSION;
    options.keep_alive = black_box(30);
    options
}

/// Drains every output in the contract's order; opens the "transport" when asked.
pub fn drain(session: &mut Session, now: Instant, tally: &mut Tally) {
    loop {
        let mut progressed = false;
        while let Some(action) = session.poll_action() {
            progressed = true;
            if let Action::Open { server } = action {
                black_box(server);
                session.handle_connected(now);
            }
        }
        while let Some(chunk) = session.poll_transmit() {
            progressed = true;
            tally.written += chunk.len();
            black_box(chunk);
        }
        while let Some(event) = session.poll_event() {
            progressed = true;
            match &event {
                Event::Connected(_) => tally.connected += 1,
                Event::SubscribeCompleted { .. } => tally.subscribed += 1,
                Event::PublishCompleted { .. } => tally.published += 1,
                Event::Message(_) => tally.messages += 1,
                _ => tally.other += 1,
            }
            black_box(event);
        }
        if !progressed {
            break;
        }
    }
    black_box(session.poll_timeout());
}

/// Hands `bytes` to the session as one read, then drains.
pub fn receive(
    session: &mut Session,
    now: Instant,
    buf: &mut BytesMut,
    bytes: &[u8],
    tally: &mut Tally,
) {
    buf.extend_from_slice(bytes);
    session.handle_read(now, buf);
    drain(session, now, tally);
}

/// Connects: `Session::new`, `connect`, `Action::Open`, `handle_connected` (CONNECT
/// written), CONNACK read, `Event::Connected` taken. Returns the connected session.
pub fn connect_session(now: Instant, buf: &mut BytesMut, tally: &mut Tally) -> Session {
    let mut session = Session::new(options());
    if session.connect(now).is_err() {
        tally.other += 1;
    }
    drain(&mut session, now, tally);
    receive(&mut session, now, buf, pick(&wire::CONNACK), tally);
    session
}

/// The connect path alone (the `connect` program).
pub fn connect() -> Tally {
    let mut tally = Tally::default();
    let mut buf = BytesMut::new();
    let session = connect_session(black_box(Instant::ZERO), &mut buf, &mut tally);
    black_box(session);
    tally
}

/// The whole driving contract (the `drive` program).
pub fn drive() -> Tally {
    let mut tally = Tally::default();
    let mut buf = BytesMut::new();
    let mut now = black_box(Instant::ZERO);
    let mut session = connect_session(now, &mut buf, &mut tally);

    // Subscribe (packet identifier 1), SUBACK.
    let Ok(filter) = TopicFilter::try_from(black_box("a/#")) else {
        return tally;
    };
    if session
        .subscribe(
            now,
            vec![Subscription::new(filter, QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        )
        .is_err()
    {
        tally.other += 1;
    }
    drain(&mut session, now, &mut tally);
    receive(&mut session, now, &mut buf, pick(&wire::SUBACK), &mut tally);

    // Publish at QoS 0 (no identifier) and QoS 1 (identifier 2), PUBACK.
    let topic = TopicName::try_from(black_box("a/b")).unwrap_or(TopicName::empty());
    let payload: &'static [u8] = black_box(b"21.5");
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let publish = Publish::new(topic.clone(), payload).with_qos(qos, None);
        if session.publish(now, publish).is_err() {
            tally.other += 1;
        }
        drain(&mut session, now, &mut tally);
    }
    receive(&mut session, now, &mut buf, pick(&wire::PUBACK), &mut tally);

    // Received messages (QoS 1 answered with PUBACK, QoS 0).
    receive(
        &mut session,
        now,
        &mut buf,
        pick(&wire::INCOMING),
        &mut tally,
    );

    // Keep alive: the next deadline, PINGREQ, PINGRESP.
    now = session
        .poll_timeout()
        .unwrap_or(now + Duration::from_secs(30));
    session.handle_timeout(now);
    drain(&mut session, now, &mut tally);
    receive(
        &mut session,
        now,
        &mut buf,
        pick(&wire::PINGRESP),
        &mut tally,
    );

    black_box(session);
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_does_what_it_says() {
        let t = drive();
        assert_eq!(
            (t.connected, t.subscribed, t.published, t.messages, t.other),
            (1, 1, 1, 2, 0)
        );
        assert!(t.written > 0);
    }

    #[test]
    fn connect_connects() {
        let t = connect();
        assert_eq!((t.connected, t.other), (1, 0));
    }
}
