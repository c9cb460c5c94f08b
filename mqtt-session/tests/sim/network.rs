//! A seeded, simulated network between one client and the broker.
//!
//! Each connection is two ordered byte pipes. Whatever a side writes is split into chunks
//! of random size, each delivered after a random delay, never overtaking an earlier chunk
//! of the same pipe (TCP keeps order). A connection can be cut at a byte offset of one
//! direction: bytes before the offset still arrive, bytes from it on are lost, and shortly
//! after the last byte before the cut both sides see the connection close (bytes still in
//! flight the other way at that moment are lost too). A side that closes on purpose (the
//! client after `Action::Close`, the broker after DISCONNECT) has what it wrote delivered
//! before the peer sees the close; it reads nothing more itself. A connection can also
//! turn into a black hole: from then on nothing arrives either way and nobody is told, so
//! each side finds out by its own timers (keep alive), and closing it tells the peer
//! nothing.

use std::collections::BTreeMap;

use bytes::Bytes;
use core::time::Duration;
use mqtt_session::Instant;

use super::rng::Rng;

/// Names a connection.
pub type ConnId = u64;

/// A direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToBroker,
    ToClient,
}

/// How chunky and slow the network is.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// Chunks are 1 to `max_chunk` bytes.
    pub max_chunk: u64,
    /// Each chunk takes 0 to `max_delay` (never overtaking the one before it).
    pub max_delay: Duration,
    /// Opening a connection takes 1 ms to `max_connect_delay`.
    pub max_connect_delay: Duration,
}

/// Something that happens on the network.
#[derive(Debug)]
pub enum NetEvent {
    /// The connection is up: both sides may write.
    Established(ConnId),
    /// Bytes arrive at one side.
    Deliver {
        conn: ConnId,
        dir: Dir,
        bytes: Bytes,
    },
    /// The client sees the connection closed (or failing to open).
    ClientClosed(ConnId),
    /// The broker sees the connection closed.
    BrokerClosed(ConnId),
}

#[derive(Debug)]
enum Kind {
    Established,
    Deliver { dir: Dir, offset: u64, bytes: Bytes },
    ClientClosed,
    BrokerClosed,
}

#[derive(Debug)]
struct Scheduled {
    conn: ConnId,
    kind: Kind,
}

#[derive(Debug, Default)]
struct Pipe {
    written: u64,
    delivered: u64,
    cut_at: Option<u64>,
    dead: bool,
    last_at: Instant,
}

#[derive(Debug)]
struct Conn {
    id: ConnId,
    to_broker: Pipe,
    to_client: Pipe,
    established: bool,
    client_open: bool,
    broker_open: bool,
    client_close_at: Option<Instant>,
    broker_close_at: Option<Instant>,
    blackholed: bool,
}

impl Conn {
    fn pipe(&mut self, dir: Dir) -> &mut Pipe {
        match dir {
            Dir::ToBroker => &mut self.to_broker,
            Dir::ToClient => &mut self.to_client,
        }
    }
}

/// The network: every connection ever opened that is not completely closed, and the
/// events scheduled on them.
pub struct Network {
    rng: Rng,
    config: NetConfig,
    conns: Vec<Conn>,
    queue: BTreeMap<(Instant, u64), Scheduled>,
    seq: u64,
    next_conn: ConnId,
    refuse_next: bool,
    /// Connections cut so far (by `cut` reaching its offset).
    pub cuts: u64,
}

const TICK: Duration = Duration::from_millis(1);

impl Network {
    pub fn new(seed: u64, config: NetConfig) -> Network {
        Network {
            rng: Rng::new(seed),
            config,
            conns: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            next_conn: 1,
            refuse_next: false,
            cuts: 0,
        }
    }

    fn schedule(&mut self, at: Instant, conn: ConnId, kind: Kind) {
        self.seq += 1;
        self.queue.insert((at, self.seq), Scheduled { conn, kind });
    }

    fn conn(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    fn delay(&mut self) -> Duration {
        let max = self.config.max_delay.as_millis() as u64;
        Duration::from_millis(self.rng.range(0, max))
    }

    /// The next open attempt fails (the client sees it closed).
    pub fn refuse_next_open(&mut self) {
        self.refuse_next = true;
    }

    /// No more pending cuts or refusals: from now on the network only delays.
    pub fn clear_faults(&mut self) {
        self.refuse_next = false;
        for c in &mut self.conns {
            c.to_broker.cut_at = None;
            c.to_client.cut_at = None;
        }
    }

    /// The client opens a connection. It comes up after a random delay, and never before
    /// the broker has seen every earlier connection close.
    pub fn open(&mut self, now: Instant) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        let max = self.config.max_connect_delay.as_millis() as u64;
        let mut at = now + Duration::from_millis(self.rng.range(1, max.max(1)));
        for c in &self.conns {
            if let Some(t) = c.broker_close_at {
                at = at.max(t + TICK);
            }
            assert!(
                !c.broker_open || c.broker_close_at.is_some() || c.blackholed,
                "a new connection while connection {} is fully open",
                c.id
            );
        }
        let refused = std::mem::take(&mut self.refuse_next);
        self.conns.push(Conn {
            id,
            to_broker: Pipe::default(),
            to_client: Pipe::default(),
            established: false,
            client_open: true,
            broker_open: !refused,
            client_close_at: refused.then_some(at),
            broker_close_at: None,
            blackholed: false,
        });
        if refused {
            self.schedule(at, id, Kind::ClientClosed);
        } else {
            self.schedule(at, id, Kind::Established);
        }
        id
    }

    /// `side` writes `data` on `conn`.
    pub fn write(&mut self, now: Instant, conn: ConnId, dir: Dir, data: &Bytes) {
        let max_chunk = self.config.max_chunk.max(1);
        let Some(c) = self.conn(conn) else { return };
        let sender_open = match dir {
            Dir::ToBroker => c.client_open,
            Dir::ToClient => c.broker_open,
        };
        if !sender_open || !c.established || c.pipe(dir).dead {
            return;
        }
        let p = c.pipe(dir);
        let start = p.written;
        let end = start + data.len() as u64;
        let keep_end = match p.cut_at {
            Some(k) if k < end => k,
            _ => end,
        };
        p.written = end;
        let mut last_at = p.last_at;
        let mut offset = start;
        let mut chunks = Vec::new();
        while offset < keep_end {
            let size = self.rng.range(1, max_chunk).min(keep_end - offset);
            let at = last_at.max(now + self.delay());
            last_at = at;
            let from = (offset - start) as usize;
            chunks.push((at, offset, data.slice(from..from + size as usize)));
            offset += size;
        }
        for (at, offset, bytes) in chunks {
            self.schedule(at, conn, Kind::Deliver { dir, offset, bytes });
        }
        let Some(c) = self.conn(conn) else { return };
        c.pipe(dir).last_at = last_at;
        if keep_end < end {
            c.pipe(dir).dead = true;
            let at = last_at.max(now) + TICK;
            self.close_both(conn, at);
        }
    }

    /// Cuts `conn` in direction `dir` at `extra` bytes past what was delivered so far: if
    /// that offset was written already, the rest is lost now; otherwise the cut waits for
    /// writes to reach it.
    pub fn cut(&mut self, now: Instant, conn: ConnId, dir: Dir, extra: u64) {
        let Some(c) = self.conn(conn) else { return };
        if !(c.client_open && c.broker_open) || c.client_close_at.is_some() {
            return;
        }
        let p = c.pipe(dir);
        if p.dead {
            return;
        }
        let k = p.delivered + extra;
        if k >= p.written {
            p.cut_at = Some(k);
            return;
        }
        p.dead = true;
        // Drop what lies beyond `k`, keep what lies before.
        let keys: Vec<(Instant, u64)> = self
            .queue
            .iter()
            .filter(|(_, s)| {
                s.conn == conn && matches!(s.kind, Kind::Deliver { dir: d, .. } if d == dir)
            })
            .map(|(k, _)| *k)
            .collect();
        let mut last_at = now;
        for key in keys {
            let Some(s) = self.queue.get_mut(&key) else {
                continue;
            };
            let Kind::Deliver { offset, bytes, .. } = &mut s.kind else {
                continue;
            };
            if *offset >= k {
                self.queue.remove(&key);
            } else {
                let len = bytes.len() as u64;
                if *offset + len > k {
                    bytes.truncate((k - *offset) as usize);
                }
                last_at = last_at.max(key.0);
            }
        }
        self.close_both(conn, last_at + TICK);
    }

    fn close_both(&mut self, conn: ConnId, at: Instant) {
        self.cuts += 1;
        let Some(c) = self.conn(conn) else { return };
        let client = c.client_open && c.client_close_at.is_none();
        let broker = c.broker_open && c.broker_close_at.is_none();
        if client {
            c.client_close_at = Some(at);
        }
        if broker {
            c.broker_close_at = Some(at);
        }
        if client {
            self.schedule(at, conn, Kind::ClientClosed);
        }
        if broker {
            self.schedule(at, conn, Kind::BrokerClosed);
        }
    }

    fn purge(&mut self, conn: ConnId, f: impl Fn(&Kind) -> bool) {
        self.queue.retain(|_, s| s.conn != conn || !f(&s.kind));
    }

    /// The client closes `conn` (after `Action::Close`): what it wrote still arrives, then
    /// the broker sees the close; the client reads nothing more.
    pub fn client_close(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.conn(conn) else { return };
        c.client_open = false;
        c.client_close_at = None;
        let established = c.established;
        if !established {
            c.broker_open = false;
        }
        let notify_broker = c.broker_open && c.broker_close_at.is_none() && !c.blackholed;
        let at = c.to_broker.last_at.max(now) + TICK;
        if notify_broker {
            c.broker_close_at = Some(at);
        }
        self.purge(conn, |k| {
            matches!(
                k,
                Kind::Deliver {
                    dir: Dir::ToClient,
                    ..
                } | Kind::ClientClosed
                    | Kind::Established
            )
        });
        if notify_broker {
            self.schedule(at, conn, Kind::BrokerClosed);
        }
        self.gc();
    }

    /// The broker closes `conn`: what it wrote still arrives, then the client sees the
    /// close; the broker reads nothing more.
    pub fn broker_close(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.conn(conn) else { return };
        c.broker_open = false;
        c.broker_close_at = None;
        let notify_client = c.client_open && c.client_close_at.is_none() && !c.blackholed;
        let at = c.to_client.last_at.max(now) + TICK;
        if notify_client {
            c.client_close_at = Some(at);
        }
        self.purge(conn, |k| {
            matches!(
                k,
                Kind::Deliver {
                    dir: Dir::ToBroker,
                    ..
                } | Kind::BrokerClosed
            )
        });
        if notify_client {
            self.schedule(at, conn, Kind::ClientClosed);
        }
        self.gc();
    }

    /// `conn` silently stops carrying bytes, both ways, and nobody is told.
    pub fn blackhole(&mut self, conn: ConnId) {
        let Some(c) = self.conn(conn) else { return };
        if !(c.established && c.client_open && c.broker_open)
            || c.client_close_at.is_some()
            || c.broker_close_at.is_some()
        {
            return;
        }
        c.blackholed = true;
        c.to_broker.dead = true;
        c.to_client.dead = true;
        self.cuts += 1;
        self.purge(conn, |k| matches!(k, Kind::Deliver { .. }));
    }

    /// The broker end vanishes (a crash): nothing in flight arrives, the client sees the
    /// close at once.
    pub fn abort(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.conn(conn) else { return };
        c.broker_open = false;
        c.broker_close_at = None;
        // Any close already scheduled for the client is replaced by this one.
        let notify_client = c.client_open;
        c.client_close_at = notify_client.then_some(now + TICK);
        self.purge(conn, |k| {
            matches!(
                k,
                Kind::Deliver { .. } | Kind::BrokerClosed | Kind::ClientClosed
            )
        });
        if notify_client {
            self.schedule(now + TICK, conn, Kind::ClientClosed);
        }
        self.gc();
    }

    fn gc(&mut self) {
        let queue = &self.queue;
        self.conns
            .retain(|c| c.client_open || c.broker_open || queue.values().any(|s| s.conn == c.id));
    }

    /// When the next event happens.
    pub fn next_time(&self) -> Option<Instant> {
        self.queue.keys().next().map(|k| k.0)
    }

    /// How many connections the client opened (or tried to).
    pub fn opened(&self) -> u64 {
        self.next_conn - 1
    }

    /// Whether `conn` turned into a black hole.
    pub fn is_blackholed(&self, conn: ConnId) -> bool {
        self.conns.iter().any(|c| c.id == conn && c.blackholed)
    }

    /// Whether nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next event due at `now`.
    pub fn pop(&mut self, now: Instant) -> Option<NetEvent> {
        let (&key, _) = self.queue.iter().next()?;
        if key.0 > now {
            return None;
        }
        let s = self.queue.remove(&key)?;
        let conn = s.conn;
        let event = match s.kind {
            Kind::Established => {
                if let Some(c) = self.conn(conn) {
                    c.established = true;
                }
                NetEvent::Established(conn)
            }
            Kind::Deliver { dir, offset, bytes } => {
                if let Some(c) = self.conn(conn) {
                    c.pipe(dir).delivered = offset + bytes.len() as u64;
                }
                NetEvent::Deliver { conn, dir, bytes }
            }
            Kind::ClientClosed => {
                if let Some(c) = self.conn(conn) {
                    c.client_open = false;
                }
                self.purge(conn, |k| {
                    matches!(
                        k,
                        Kind::Deliver {
                            dir: Dir::ToClient,
                            ..
                        } | Kind::Established
                    )
                });
                NetEvent::ClientClosed(conn)
            }
            Kind::BrokerClosed => {
                if let Some(c) = self.conn(conn) {
                    c.broker_open = false;
                    c.broker_close_at = None;
                }
                self.purge(conn, |k| {
                    matches!(
                        k,
                        Kind::Deliver {
                            dir: Dir::ToBroker,
                            ..
                        }
                    )
                });
                NetEvent::BrokerClosed(conn)
            }
        };
        self.gc();
        Some(event)
    }
}
