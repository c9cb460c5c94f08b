//! Where a client keeps its session state between runs ([`ClientOptions::store`]):
//! QoS 1/2 messages in flight and queued, incoming QoS 2 identifiers, subscriptions. A
//! client started with a store that holds a state resumes that session, and re-sends
//! what was in flight exactly as after a reconnect.
//!
//! The engine turns on the session's journal and, after every input, hands each change
//! to [`SessionStore::append`], then calls [`SessionStore::commit`] **before** it reports
//! completions, hands out messages or writes acknowledgements: a completion means the
//! store has the record as durably as its policy says.
//!
//! If `append` or `commit` fails (a full disk), the client stops as a crash would: it
//! closes the connection without DISCONNECT (the server keeps the session and publishes
//! the Will), reports nothing the store does not hold, fails the pending operations, and
//! ends with `Event::Disconnected` whose reason is
//! [`DisconnectReason::Aborted`](mqtt_session::DisconnectReason::Aborted), naming the
//! error. A client started again on the store resumes from what it last held.
//!
//! [`FileStore`] is an append-only log with checksums beside a snapshot, compacted as it
//! grows; [`MemoryStore`] keeps everything in memory (tests, or a process that only
//! needs to survive a client restart).
//!
//! [`ClientOptions::store`]: crate::ClientOptions::store

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_session::{SessionState, StateChange, crc32};

/// A place for the session state (see the module docs).
pub trait SessionStore: Send + 'static {
    /// The state to resume from, if the store holds one. Called once, when the client
    /// starts.
    fn load(&mut self) -> io::Result<Option<SessionState>>;

    /// Records one change (it need not be durable until [`SessionStore::commit`]).
    fn append(&mut self, change: &StateChange) -> io::Result<()>;

    /// Makes the changes appended so far as durable as the store promises.
    fn commit(&mut self) -> io::Result<()>;
}

/// When [`FileStore`] forces its writes to the disk (`fsync`).
///
/// Measured (`benches/README.md`, "What persistence costs"; mqtt-std, QoS 1, 64 B, to a
/// local mosquitto, one run): no store 193 000 messages/s, `Never` 244 000 and
/// `Every(10 ms)` 226 000 (equal within that machine's noise: the journal costs little);
/// `EveryCommit` 5 100 (one `fsync` per round of work on that disk). Eclipse Paho C's file persistence, which never calls `fsync`, 2 700 in the
/// same run. Received QoS 2 messages: 35 000–39 000 messages/s under every policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// At every commit: a completion is reported only once its record is on the disk.
    /// The safest, and the slowest (one `fsync` per round of inputs, shared by all the
    /// records of that round).
    EveryCommit,
    /// At a commit at most this long after the last `fsync`: a crash of the machine (not
    /// only of the process) may lose the records of the last interval.
    Every(Duration),
    /// Never: the operating system writes when it likes. A crash of the process loses
    /// nothing (the records are written at every commit), a crash of the machine may.
    Never,
}

/// A [`SessionStore`] in memory, shared by its clones: a new client given a clone
/// resumes where the previous one stopped.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    state: Option<SessionState>,
    records: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The state the store holds now.
    pub fn state(&self) -> Option<SessionState> {
        self.lock().state.clone()
    }

    /// How many changes it was given.
    pub fn records(&self) -> u64 {
        self.lock().records
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SessionStore for MemoryStore {
    fn load(&mut self) -> io::Result<Option<SessionState>> {
        Ok(self.lock().state.clone())
    }

    fn append(&mut self, change: &StateChange) -> io::Result<()> {
        let mut inner = self.lock();
        inner.records += 1;
        inner
            .state
            .get_or_insert_with(SessionState::default)
            .apply(change.clone());
        Ok(())
    }

    fn commit(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const SNAPSHOT_MAGIC: &[u8; 6] = b"MQTTSN";
const LOG_MAGIC: &[u8; 6] = b"MQTTSL";
/// The log is compacted into a new snapshot once it holds this many bytes.
const COMPACT_AT: u64 = 4 * 1024 * 1024;

/// A [`SessionStore`] in a directory: `state` (a snapshot: magic, generation, a CRC-32 of
/// both, the state's stored form) and `log` (the changes since, each record framed with
/// its length and a CRC-32).
///
/// Crash safety: a record cut short or damaged ends the log when it is read (the last
/// complete record wins, and the log is truncated there before new records follow); a
/// snapshot is written to a temporary file and renamed over the old one, which is kept
/// as `state.prev`: a damaged snapshot falls back to it (the state of the compaction
/// before); the log names the snapshot generation it follows, so a log left from before
/// a compaction that crashed halfway is not replayed twice.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    durability: Durability,
    log: Option<File>,
    /// Records not yet written (written and, by the policy, synced at commit).
    pending: Vec<u8>,
    log_len: u64,
    generation: u64,
    /// The state the files hold (snapshot + log), kept to write the next snapshot.
    state: SessionState,
    last_sync: Instant,
    unsynced: bool,
}

impl FileStore {
    /// A store in `dir` (created if missing) with the given durability.
    pub fn open(dir: impl AsRef<Path>, durability: Durability) -> io::Result<FileStore> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)?;
        Ok(FileStore {
            dir,
            durability,
            log: None,
            pending: Vec::new(),
            log_len: 0,
            generation: 0,
            state: SessionState::default(),
            last_sync: Instant::now(),
            unsynced: false,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads a snapshot file: its generation and state.
    fn read_snapshot(&self, name: &str) -> io::Result<Option<(u64, SessionState)>> {
        let bytes = match fs::read(self.path(name)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if bytes.len() < 18 || &bytes[..6] != SNAPSHOT_MAGIC {
            return Err(invalid("the snapshot file is not a session snapshot"));
        }
        if crc32(&bytes[..14]) != u32::from_be_bytes(bytes[14..18].try_into().unwrap_or_default()) {
            return Err(invalid("the snapshot's header fails its checksum"));
        }
        let generation = u64::from_be_bytes(bytes[6..14].try_into().unwrap_or_default());
        let state = SessionState::decode(&bytes[18..]).map_err(|e| invalid(&e.to_string()))?;
        Ok(Some((generation, state)))
    }

    /// Replays the log onto `state` if it follows snapshot `generation`; returns how many
    /// bytes of it are good.
    fn replay_log(&self, generation: u64, state: &mut SessionState) -> io::Result<u64> {
        let mut bytes = Vec::new();
        match File::open(self.path("log")) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        }
        if bytes.len() < 14
            || &bytes[..6] != LOG_MAGIC
            || u64::from_be_bytes(bytes[6..14].try_into().unwrap_or_default()) != generation
        {
            return Ok(0);
        }
        let mut at = 14;
        while let Some(header) = bytes.get(at..at + 8) {
            let len = u32::from_be_bytes(header[..4].try_into().unwrap_or_default()) as usize;
            let crc = u32::from_be_bytes(header[4..].try_into().unwrap_or_default());
            let Some(record) = bytes.get(at + 8..at + 8 + len) else {
                break;
            };
            if crc32(record) != crc {
                break;
            }
            let Ok(change) = StateChange::decode(record) else {
                break;
            };
            state.apply(change);
            at += 8 + len;
        }
        Ok(at as u64)
    }

    /// Writes `self.state` as snapshot `generation + 1` and starts an empty log after it.
    fn compact(&mut self) -> io::Result<()> {
        let generation = self.generation + 1;
        let mut snapshot = BytesMut::new();
        snapshot.extend_from_slice(SNAPSHOT_MAGIC);
        snapshot.extend_from_slice(&generation.to_be_bytes());
        let header_crc = crc32(&snapshot);
        snapshot.extend_from_slice(&header_crc.to_be_bytes());
        self.state
            .encode(&mut snapshot)
            .map_err(|e| invalid(&e.to_string()))?;
        // The current snapshot, if it is good, becomes the fallback.
        if matches!(self.read_snapshot("state"), Ok(Some(_))) {
            fs::rename(self.path("state"), self.path("state.prev"))?;
        }
        write_atomically(&self.dir, "state", &snapshot)?;
        let mut header = Vec::from(&LOG_MAGIC[..]);
        header.extend_from_slice(&generation.to_be_bytes());
        write_atomically(&self.dir, "log", &header)?;
        self.log = Some(OpenOptions::new().append(true).open(self.path("log"))?);
        self.log_len = header.len() as u64;
        self.generation = generation;
        self.last_sync = Instant::now();
        self.unsynced = false;
        Ok(())
    }
}

impl SessionStore for FileStore {
    fn load(&mut self) -> io::Result<Option<SessionState>> {
        // A damaged snapshot falls back to the one before it (the log, which follows the
        // damaged one, is then not replayed: its generation differs).
        let snapshot = match self.read_snapshot("state") {
            Ok(Some(s)) => Some(s),
            Ok(None) => self.read_snapshot("state.prev").ok().flatten(),
            Err(e) => match self.read_snapshot("state.prev") {
                Ok(Some(prev)) => {
                    log::error!(
                        "session store {}: the snapshot is damaged ({e}); resuming from the one before it",
                        self.dir.display()
                    );
                    Some(prev)
                }
                _ => return Err(e),
            },
        };
        let (generation, mut state, had) = match snapshot {
            Some((g, s)) => (g, s, true),
            None => (0, SessionState::default(), false),
        };
        let good = self.replay_log(generation, &mut state)?;
        let had = had || good > 14;
        self.generation = generation;
        self.state = state;
        // Start clean: the replayed state as a new snapshot, an empty log.
        self.compact()?;
        Ok(had.then(|| self.state.clone()))
    }

    fn append(&mut self, change: &StateChange) -> io::Result<()> {
        let mut record = BytesMut::new();
        change
            .encode(&mut record)
            .map_err(|e| invalid(&e.to_string()))?;
        self.pending
            .extend_from_slice(&(record.len() as u32).to_be_bytes());
        self.pending
            .extend_from_slice(&crc32(&record).to_be_bytes());
        self.pending.extend_from_slice(&record);
        self.state.apply(change.clone());
        Ok(())
    }

    fn commit(&mut self) -> io::Result<()> {
        if self.log.is_none() {
            self.compact()?;
        }
        if !self.pending.is_empty() {
            let log = self.log.as_mut().ok_or_else(|| invalid("no log file"))?;
            log.write_all(&self.pending)?;
            self.log_len += self.pending.len() as u64;
            self.pending.clear();
            self.unsynced = true;
        }
        if self.unsynced {
            let due = match self.durability {
                Durability::EveryCommit => true,
                Durability::Every(d) => self.last_sync.elapsed() >= d,
                Durability::Never => false,
            };
            if due && let Some(log) = &self.log {
                log.sync_data()?;
                self.last_sync = Instant::now();
                self.unsynced = false;
            }
        }
        if self.log_len > COMPACT_AT {
            self.compact()?;
        }
        Ok(())
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Writes `name` in `dir` through a temporary file, synced, renamed over it; then syncs
/// the directory so that the rename survives a crash.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
