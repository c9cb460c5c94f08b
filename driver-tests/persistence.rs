//! Persistence (`ClientOptions::store` with a `FileStore`): a client that stops without
//! a word (as a killed process does) leaves its unacknowledged QoS 1/2 messages in the
//! store, and the next client started on the same store resumes the session and sends
//! them again, with their packet identifiers and DUP set. Against the fake broker, which
//! holds the acknowledgements back.

#[path = "common.rs"]
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::driver::{Client, ClientOptions, Durability, FileStore, SessionStore};
use common::WAIT;
use mqtt_proto::{ConnAck, Packet, ProtocolVersion, PubAck, PubComp, PubRec, QoS, ReasonCode};
use mqtt_session::{SessionState, StateChange};
use testkit::FakeBroker;

/// A file store that a test can "kill": from then on it writes nothing, as if the process
/// had died at that instant (what the client does after it, such as failing its
/// operations when it is closed, never reaches the disk).
struct Killable {
    store: FileStore,
    killed: Arc<AtomicBool>,
}

impl SessionStore for Killable {
    fn load(&mut self) -> std::io::Result<Option<SessionState>> {
        self.store.load()
    }

    fn append(&mut self, change: &StateChange) -> std::io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.store.append(change)
    }

    fn commit(&mut self) -> std::io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.store.commit()
    }
}

fn options(broker: &FakeBroker, dir: &std::path::Path, killed: &Arc<AtomicBool>) -> ClientOptions {
    let store = Killable {
        store: FileStore::open(dir, Durability::EveryCommit).unwrap(),
        killed: killed.clone(),
    };
    ClientOptions::new(&broker.url(), "persisted")
        .unwrap()
        .protocol(ProtocolVersion::V5)
        .clean_start(false)
        .session_expiry(3600)
        .store(store)
}

/// Kills the client's process, as far as its store can tell, then closes it.
fn kill(client: Client, killed: &AtomicBool) {
    killed.store(true, Ordering::SeqCst);
    client.close().unwrap();
    drop(client);
}

#[test]
fn unacknowledged_messages_survive_a_client_that_stops_without_a_word() {
    let dir = std::env::temp_dir().join(format!("mqtt-persist-{}-{}", std::process::id(), line!()));
    let _ = std::fs::remove_dir_all(&dir);
    let broker = FakeBroker::start(ProtocolVersion::V5).unwrap();

    // The first run: three QoS 1 and two QoS 2 messages, none acknowledged.
    let killed = Arc::new(AtomicBool::new(false));
    let (client, _events) = Client::start(options(&broker, &dir, &killed)).unwrap();
    let mut conn = broker.accept(WAIT).unwrap();
    assert!(!conn.expect_connect(WAIT).unwrap().clean_start);
    conn.send(ConnAck::new(ReasonCode::Success)).unwrap();
    let mut sent = BTreeSet::new();
    for (i, qos) in [
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
    ]
    .into_iter()
    .enumerate()
    {
        drop(client.publish("kept", qos, false, format!("{i}")).unwrap());
        match conn.expect_packet(WAIT) {
            Ok(Packet::Publish(p)) => {
                sent.insert((p.packet_id.unwrap(), p.payload.clone()));
            }
            other => panic!("expected PUBLISH {i}: {other:?}"),
        }
    }
    // One QoS 2 message gets as far as PUBREC: it continues with PUBREL.
    let past_pubrec = sent.iter().nth(1).unwrap().0;
    conn.send(PubRec::new(past_pubrec)).unwrap();
    assert!(
        matches!(conn.expect_packet(WAIT), Ok(Packet::PubRel(r)) if r.packet_id == past_pubrec)
    );
    // The process "dies": its store writes nothing more, no DISCONNECT.
    std::thread::sleep(std::time::Duration::from_millis(100));
    kill(client, &killed);
    drop(conn);

    // The next run, on the same store: the session resumes and everything comes again.
    let killed = Arc::new(AtomicBool::new(false));
    let (client, _events) = Client::start(options(&broker, &dir, &killed)).unwrap();
    let mut conn = broker.accept(WAIT).unwrap();
    let connect = conn.expect_connect(WAIT).unwrap();
    assert!(!connect.clean_start, "the stored session is resumed");
    let mut present = ConnAck::new(ReasonCode::Success);
    present.session_present = true;
    conn.send(present).unwrap();
    let mut again = BTreeSet::new();
    let mut pubrel = None;
    while again.len() + usize::from(pubrel.is_some()) < sent.len() {
        match conn.expect_packet(WAIT) {
            Ok(Packet::Publish(p)) => {
                assert!(p.dup, "a re-sent PUBLISH has DUP set: {p:?}");
                again.insert((p.packet_id.unwrap(), p.payload.clone()));
            }
            Ok(Packet::PubRel(r)) => pubrel = Some(r.packet_id),
            other => panic!("after {} re-sent: {other:?}", again.len()),
        }
    }
    assert_eq!(
        pubrel,
        Some(past_pubrec),
        "the message past PUBREC goes on with PUBREL"
    );
    let expected: BTreeSet<_> = sent
        .iter()
        .filter(|(id, _)| *id != past_pubrec)
        .cloned()
        .collect();
    assert_eq!(
        again, expected,
        "every unacknowledged message, with its identifier"
    );
    // Acknowledged now: the store forgets them, and a third run sends nothing.
    for (id, payload) in &sent {
        let qos2 = payload[0] == b'1' || payload[0] == b'3';
        if *id == past_pubrec {
            conn.send(PubComp::new(*id)).unwrap();
        } else if qos2 {
            conn.send(PubRec::new(*id)).unwrap();
            assert!(
                matches!(conn.expect_packet(WAIT), Ok(Packet::PubRel(r)) if r.packet_id == *id)
            );
            conn.send(PubComp::new(*id)).unwrap();
        } else {
            conn.send(PubAck::new(*id)).unwrap();
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    kill(client, &killed);
    drop(conn);

    let killed = Arc::new(AtomicBool::new(false));
    let (_client, _events) = Client::start(options(&broker, &dir, &killed)).unwrap();
    let mut conn = broker.accept(WAIT).unwrap();
    assert!(!conn.expect_connect(WAIT).unwrap().clean_start);
    let mut present = ConnAck::new(ReasonCode::Success);
    present.session_present = true;
    conn.send(present).unwrap();
    conn.expect_nothing(std::time::Duration::from_millis(300))
        .unwrap_or_else(|e| panic!("a third run sent something: {e:?}"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A store that fails (as a full disk does) once `full` is set.
struct Filling {
    store: FileStore,
    full: Arc<AtomicBool>,
}

impl SessionStore for Filling {
    fn load(&mut self) -> std::io::Result<Option<SessionState>> {
        self.store.load()
    }

    fn append(&mut self, change: &StateChange) -> std::io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device",
            ));
        }
        self.store.append(change)
    }

    fn commit(&mut self) -> std::io::Result<()> {
        self.store.commit()
    }
}

#[test]
fn a_failing_store_stops_the_client_as_a_crash_would_and_says_why() {
    let dir = std::env::temp_dir().join(format!("mqtt-persist-{}-{}", std::process::id(), line!()));
    let _ = std::fs::remove_dir_all(&dir);
    let broker = FakeBroker::start(ProtocolVersion::V5).unwrap();
    let full = Arc::new(AtomicBool::new(false));
    let store = Filling {
        store: FileStore::open(&dir, Durability::EveryCommit).unwrap(),
        full: full.clone(),
    };
    let options = ClientOptions::new(&broker.url(), "filling")
        .unwrap()
        .protocol(ProtocolVersion::V5)
        .clean_start(false)
        .session_expiry(3600)
        .store(store);
    let (client, events) = Client::start(options).unwrap();
    let mut conn = broker.accept(WAIT).unwrap();
    conn.expect_connect(WAIT).unwrap();
    conn.send(ConnAck::new(ReasonCode::Success)).unwrap();
    match events.recv_timeout(WAIT) {
        Ok(crate::driver::Event::Connected(_)) => {}
        other => panic!("before Connected: {other:?}"),
    }
    let mut reason = None;
    full.store(true, Ordering::SeqCst);
    // The publish fails: at once, or through its handle (the drivers differ in when
    // they hand the command over).
    let published = client.publish("t", QoS::AtLeastOnce, false, "never stored");
    // The message never reached the store, so it never reached the wire either, and the
    // connection ends without DISCONNECT (the server keeps the session and sends the Will).
    match conn.expect_packet(WAIT) {
        Err(testkit::ExpectError::Closed) => {}
        other => panic!("the connection closes with nothing sent, not {other:?}"),
    }
    if let Ok(pending) = published {
        assert!(pending.wait_timeout(WAIT).is_err(), "the publish fails");
    }
    while reason.is_none() {
        match events.recv_timeout(WAIT) {
            Ok(crate::driver::Event::Disconnected { reason: r, .. }) => reason = Some(r),
            Ok(_) => {}
            Err(e) => panic!("no Disconnected event: {e}"),
        }
    }
    match reason {
        Some(mqtt_session::DisconnectReason::Aborted(why)) => {
            assert!(why.contains("session store failed"), "{why}");
            assert!(why.contains("No space left on device"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
