//! The engine (mqtt-engine) fed arbitrary bytes from the socket side, as a driver would
//! feed it: plain TCP (`mqtt://`), or WebSocket (`ws://`, TLS-free) after a valid opening
//! handshake answer (or an arbitrary one), then arbitrary bytes, or WebSocket frames
//! built from arbitrary fields (any opcode, FIN, mask, payload: the framing decoder), or
//! binary frames carrying arbitrary MQTT bytes, optionally after a valid CONNACK; with
//! time passing, publishes, events taken or left (back-pressure), and the stream closing.
//!
//! Checked: no panic; every drain of the engine's outputs ends within a bound; after
//! each round, one vectored write takes everything pending (`unsent() == 0` after
//! `advance`); the bytes the engine writes stay within a bound linear in what it was fed
//! (replies such as pongs and acknowledgements) plus a fixed allowance per connection,
//! publish and timer; the event queue holds at most its capacity plus what one read can
//! produce, because the driver reads only while `wants_read()`.
#![no_main]

use std::io::IoSlice;
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_engine::{ClientOptions, Command, Engine, EventQueue, MAX_SLICES, Output, Reply};
use mqtt_proto::{ConnAck, Encode, Packet, ProtocolVersion, Publish, QoS, ReasonCode, TopicName};
use mqtt_session::Instant;

#[derive(Debug, Arbitrary)]
enum Step {
    /// Raw bytes from the socket.
    Bytes(Vec<u8>),
    /// One WebSocket frame (on TCP: its payload alone).
    Frame {
        opcode: u8,
        fin: bool,
        masked: bool,
        payload: Vec<u8>,
    },
    /// A CONNACK (in a binary frame on WebSocket).
    ConnAck {
        reason: u8,
        session_present: bool,
    },
    Advance(u16),
    /// The application takes up to this many events.
    TakeEvents(u8),
    Publish {
        qos: u8,
        len: u8,
    },
    /// The stream ends (read of 0 bytes).
    Eof,
}

#[derive(Debug, Arbitrary)]
struct Input {
    websocket: bool,
    /// On WebSocket: the first step's bytes are the handshake answer instead of a valid one.
    raw_handshake: bool,
    version: u8,
    event_buffer: u8,
    keep_alive: u8,
    steps: Vec<Step>,
}

struct Harness {
    engine: Engine,
    events: std::sync::Arc<EventQueue>,
    websocket: bool,
    version: ProtocolVersion,
    now: Instant,
    fed: usize,
    written: usize,
    allowance: usize,
    /// What the engine wrote on the current connection (for the handshake request).
    wire: Vec<u8>,
    last_read: usize,
    timer_events: usize,
}

impl Harness {
    /// Takes every output and writes everything pending, as a driver's round does.
    fn round(&mut self) {
        for _ in 0..1000 {
            let Some(output) = self.engine.poll_output() else {
                break;
            };
            match output {
                Output::Open(_) => {
                    self.allowance += 4096;
                    self.wire.clear();
                    self.engine.handle_opened(self.now);
                }
                Output::Close => self.engine.handle_closed(self.now, None),
                _ => {}
            }
        }
        assert!(self.engine.poll_output().is_none(), "endless outputs");
        let mut taken = Vec::new();
        let total = {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = self.engine.transmit(&mut slices);
            let mut total = 0;
            for s in &slices[..n] {
                taken.extend_from_slice(s);
                total += s.len();
            }
            total
        };
        self.engine.advance(total);
        // A burst larger than MAX_SLICES chunks takes several writes.
        let mut writes = 0;
        while self.engine.unsent() > 0 {
            writes += 1;
            assert!(writes < 100_000, "unsent bytes never drain");
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = self.engine.transmit(&mut slices);
            let mut total = 0;
            for s in &slices[..n] {
                taken.extend_from_slice(s);
                total += s.len();
            }
            assert!(total > 0, "unsent() > 0 but transmit gives nothing");
            self.engine.advance(total);
        }
        self.written += taken.len();
        self.wire.extend_from_slice(&taken);
        assert!(
            self.written <= 16 * self.fed + self.allowance,
            "the engine wrote {} bytes for {} fed (allowance {})",
            self.written,
            self.fed,
            self.allowance
        );
        // Reading stops at capacity, but one read may bring many events; and timers and
        // commands make events (Disconnected per failed attempt, failures) whether or not
        // the socket is read: `timer_events` allows a few per such step.
        let bound = self.events.capacity() + self.last_read / 2 + 16 + self.timer_events;
        assert!(
            self.events.len() <= bound,
            "{} events queued, capacity {}",
            self.events.len(),
            self.events.capacity()
        );
    }

    fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || !self.engine.wants_read() {
            return;
        }
        self.fed += bytes.len();
        self.last_read = bytes.len();
        self.engine.handle_bytes(self.now, bytes);
        self.round();
    }

    fn frame(&self, opcode: u8, fin: bool, masked: bool, payload: &[u8]) -> Vec<u8> {
        if !self.websocket {
            return payload.to_vec();
        }
        let mut f = vec![(u8::from(fin) << 7) | (opcode & 0x0F)];
        let mask_bit = u8::from(masked) << 7;
        match payload.len() {
            n @ 0..=125 => f.push(mask_bit | n as u8),
            n @ 126..=65535 => {
                f.push(mask_bit | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(mask_bit | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if masked {
            let key = [0x12, 0x34, 0x56, 0x78];
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        f
    }

    /// The server's answer to the WebSocket opening handshake the engine wrote.
    fn handshake_answer(&self) -> Option<Vec<u8>> {
        let request = std::str::from_utf8(&self.wire).ok()?;
        let key = request.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })?;
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        Some(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
            )
            .into_bytes(),
        )
    }
}

fuzz_target!(|input: Input| {
    let version = match input.version % 3 {
        0 => ProtocolVersion::V3_1,
        1 => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    };
    let url = if input.websocket {
        "ws://broker.test/mqtt"
    } else {
        "mqtt://broker.test"
    };
    let options = ClientOptions::new(url, "fuzz")
        .expect("valid options")
        .protocol(version)
        .keep_alive(u16::from(input.keep_alive))
        .event_buffer(usize::from(input.event_buffer % 32) + 1);
    let (engine, _driver, events) = Engine::new(options).expect("an engine");
    let mut h = Harness {
        engine,
        events,
        websocket: input.websocket,
        version,
        now: Instant::ZERO,
        fed: 0,
        written: 0,
        allowance: 4096,
        wire: Vec::new(),
        last_read: 0,
        timer_events: 0,
    };
    h.engine.start(h.now).expect("start");
    h.round();

    let mut steps = input.steps.iter().take(128);
    h.timer_events = 4;
    if input.websocket {
        if input.raw_handshake {
            if let Some(Step::Bytes(b)) = steps.next() {
                h.feed(b);
            }
        } else if let Some(answer) = h.handshake_answer() {
            h.allowance += answer.len();
            h.feed(&answer);
        }
    }

    for step in steps {
        if !matches!(
            step,
            Step::Bytes(_) | Step::Frame { .. } | Step::ConnAck { .. }
        ) {
            h.timer_events += 4;
        }
        match step {
            Step::Bytes(b) => h.feed(b),
            Step::Frame {
                opcode,
                fin,
                masked,
                payload,
            } => {
                let f = h.frame(*opcode, *fin, *masked, payload);
                h.feed(&f);
            }
            Step::ConnAck {
                reason,
                session_present,
            } => {
                let mut ack =
                    ConnAck::new(ReasonCode::from_u8(*reason).unwrap_or(ReasonCode::Success));
                ack.session_present = *session_present;
                let mut buf = BytesMut::new();
                if Packet::from(ack).encode(h.version, &mut buf).is_ok() {
                    let f = h.frame(2, true, false, &buf);
                    h.feed(&f);
                }
            }
            Step::Advance(ms) => {
                h.now = h.now + Duration::from_millis(u64::from(*ms));
                h.allowance += 64;
                if h.engine.poll_timeout().is_some_and(|t| t <= h.now) {
                    h.engine.handle_timeout(h.now);
                }
                h.round();
            }
            Step::TakeEvents(n) => {
                for _ in 0..*n {
                    if h.events.try_next().is_none() {
                        break;
                    }
                }
                h.round();
            }
            Step::Publish { qos, len } => {
                let qos = QoS::from_u8(qos % 3).unwrap_or_default();
                let message = Publish::new(
                    TopicName::try_from("t").unwrap(),
                    vec![b'x'; usize::from(*len)],
                )
                .with_qos(qos, None);
                // Sent now, and again (DUP) on each later connection.
                h.allowance += 16 * (usize::from(*len) + 64);
                let (done, _pending) = Reply::new();
                h.engine
                    .handle_command(h.now, Command::Publish { message, done });
                h.round();
            }
            Step::Eof => {
                if h.engine.wants_read() {
                    let _ = h.engine.read_buffer();
                    h.engine.handle_read(h.now, 0);
                    h.round();
                }
            }
        }
    }
});
