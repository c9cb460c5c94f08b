//! The file store: what it was given survives a reopen; a log cut at any byte, or
//! damaged at any byte, loads the state of its last complete record; a crash halfway
//! through a compaction replays nothing twice.

use std::path::Path;

use bytes::Bytes;
use mqtt_engine::store::{Durability, FileStore, SessionStore};
use mqtt_proto::{PacketId, Publish, QoS, TopicName};
use mqtt_session::{InFlight, OperationId, SessionState, Stage, StateChange, StoredMessage};

fn in_flight(op: u64, id: u16) -> StateChange {
    let publish = Publish::new(TopicName::from_static("t"), Bytes::from(vec![b'x'; 100]))
        .with_qos(QoS::AtLeastOnce, PacketId::new(id));
    StateChange::Outgoing {
        operation: OperationId(op),
        entry: Some(StoredMessage::InFlight(InFlight::new(
            OperationId(op),
            publish,
            Stage::AwaitingAck,
        ))),
    }
}

fn gone(op: u64) -> StateChange {
    StateChange::Outgoing {
        operation: OperationId(op),
        entry: None,
    }
}

fn open(dir: &Path) -> FileStore {
    FileStore::open(dir, Durability::EveryCommit).unwrap()
}

/// The states after each of `changes`, applied in order to an empty state.
fn states_after(changes: &[StateChange]) -> Vec<SessionState> {
    let mut state = SessionState::default();
    let mut states = vec![state.clone()];
    for c in changes {
        state.apply(c.clone());
        states.push(state.clone());
    }
    states
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mqtt-file-store-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn what_was_committed_is_loaded_after_a_reopen() {
    let dir = tempdir("reopen");
    let mut store = open(&dir);
    assert_eq!(
        store.load().unwrap(),
        None,
        "an empty directory holds no state"
    );
    let changes = [in_flight(1, 1), in_flight(2, 2), gone(1)];
    for c in &changes {
        store.append(c).unwrap();
    }
    store.commit().unwrap();
    drop(store);
    let loaded = open(&dir).load().unwrap().expect("a state");
    assert_eq!(&loaded, states_after(&changes).last().unwrap());
    assert_eq!(loaded.in_flight.len(), 1);
    // And again: loading compacted it into a snapshot.
    assert_eq!(open(&dir).load().unwrap().as_ref(), Some(&loaded));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_log_cut_or_damaged_at_any_byte_loads_its_last_complete_record() {
    let dir = tempdir("cut");
    let changes = [in_flight(1, 1), in_flight(2, 2), gone(1), in_flight(3, 3)];
    let states = states_after(&changes);
    {
        let mut store = open(&dir);
        store.load().unwrap();
        for c in &changes {
            store.append(c).unwrap();
            store.commit().unwrap();
        }
    }
    let log = std::fs::read(dir.join("log")).unwrap();
    let snapshot = std::fs::read(dir.join("state")).unwrap();
    // Where each record ends: a cut there keeps exactly the records before it.
    let mut ends = vec![14usize];
    while let Some(&at) = ends.last() {
        let Some(h) = log.get(at..at + 4) else { break };
        let next = at + 8 + u32::from_be_bytes(h.try_into().unwrap()) as usize;
        if next > log.len() {
            break;
        }
        ends.push(next);
    }
    assert_eq!(ends.len(), changes.len() + 1);
    for cut in 0..=log.len() {
        let case = tempdir("cut-case");
        std::fs::create_dir_all(&case).unwrap();
        std::fs::write(case.join("state"), &snapshot).unwrap();
        std::fs::write(case.join("log"), &log[..cut]).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count().saturating_sub(1);
        let loaded = open(&case).load().unwrap().unwrap_or_default();
        assert_eq!(loaded, states[complete], "log cut at byte {cut}");
        std::fs::remove_dir_all(&case).unwrap();
    }
    for at in 14..log.len() {
        let case = tempdir("damage-case");
        std::fs::create_dir_all(&case).unwrap();
        std::fs::write(case.join("state"), &snapshot).unwrap();
        let mut bad = log.clone();
        bad[at] ^= 0x5A;
        std::fs::write(case.join("log"), &bad).unwrap();
        let before = ends.iter().filter(|&&e| e <= at).count().saturating_sub(1);
        let loaded = open(&case).load().unwrap().unwrap_or_default();
        assert_eq!(loaded, states[before], "log damaged at byte {at}");
        std::fs::remove_dir_all(&case).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_log_from_before_a_compaction_is_not_replayed_onto_the_new_snapshot() {
    let dir = tempdir("generation");
    {
        let mut store = open(&dir);
        store.load().unwrap();
        store.append(&in_flight(1, 1)).unwrap();
        store.commit().unwrap();
    }
    let old_log = std::fs::read(dir.join("log")).unwrap();
    // A load compacts: the message is in the new snapshot. Then a crash "undoes" the
    // log's reset: the old log, of the old generation, lies beside the new snapshot.
    let mut store = open(&dir);
    let state = store.load().unwrap().unwrap();
    store.append(&gone(1)).unwrap();
    store.commit().unwrap();
    drop(store);
    let after = open(&dir).load().unwrap().unwrap();
    assert!(after.in_flight.is_empty());
    std::fs::write(dir.join("log"), &old_log).unwrap();
    let loaded = open(&dir).load().unwrap().unwrap();
    assert_eq!(loaded, after, "the stale log is ignored");
    assert_eq!(state.in_flight.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_snapshot_falls_back_to_the_one_before_it() {
    let dir = tempdir("damaged-snapshot");
    {
        let mut store = open(&dir);
        store.load().unwrap();
        store.append(&in_flight(1, 1)).unwrap();
        store.commit().unwrap();
    }
    // Each load compacts: the snapshot it writes becomes the next one's fallback.
    let first = open(&dir).load().unwrap().unwrap();
    assert_eq!(first.in_flight.len(), 1);
    {
        let mut store = open(&dir);
        store.load().unwrap();
        store.append(&in_flight(2, 2)).unwrap();
        store.commit().unwrap();
    }
    let both = open(&dir).load().unwrap().unwrap();
    assert_eq!(both.in_flight.len(), 2);
    let good = std::fs::read(dir.join("state")).unwrap();
    for at in 0..good.len() {
        let case = tempdir("damaged-snapshot-case");
        std::fs::create_dir_all(&case).unwrap();
        for name in ["state.prev", "log"] {
            std::fs::copy(dir.join(name), case.join(name)).unwrap();
        }
        let mut bad = good.clone();
        bad[at] ^= 0x21;
        std::fs::write(case.join("state"), &bad).unwrap();
        let loaded = open(&case).load().unwrap().expect("the fallback");
        assert_eq!(
            loaded, first,
            "byte {at} of the snapshot damaged: the state of the snapshot before it"
        );
        std::fs::remove_dir_all(&case).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
