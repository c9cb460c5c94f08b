//! A transport the application brings ([`ClientOptions::connector`]): a blocking
//! `Read + Write` pair the poller cannot watch. It costs two things the default TCP
//! transport does not: each connection attempt runs the connector on a short-lived
//! thread (it may block for as long as it likes), and each connection has a reader
//! thread that blocks in `read` and hands the bytes over (one copy). Writes are made by
//! the I/O thread itself.
//!
//! [`ClientOptions::connector`]: mqtt_engine::ClientOptions::connector

use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use mqtt_engine::{BrokerUrl, Connection, Connector, EventQueue};

/// What the reader thread reads at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A connection attempt running on its own thread.
pub(crate) struct Opening {
    result: Arc<Mutex<Option<io::Result<Connection>>>>,
}

impl Opening {
    /// Runs `connector` for `url` on a new thread; `waker` wakes the I/O thread when it
    /// is done.
    pub(crate) fn start(
        connector: &Arc<Mutex<Box<dyn Connector>>>,
        url: BrokerUrl,
        waker: &Waker,
    ) -> io::Result<Opening> {
        let result = Arc::new(Mutex::new(None));
        let (slot, connector, waker) = (result.clone(), connector.clone(), waker.clone());
        thread::Builder::new()
            .name("mqtt-connect".into())
            .spawn(move || {
                let opened = match connector.lock() {
                    Ok(mut c) => c.connect(&url),
                    Err(_) => Err(io::Error::other("the connector panicked before")),
                };
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(opened);
                waker.wake();
            })?;
        Ok(Opening { result })
    }

    /// The connector's answer, once it is there.
    pub(crate) fn take(&self) -> Option<io::Result<Connection>> {
        self.result.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

#[derive(Default)]
struct InboxState {
    chunk: Option<Bytes>,
    /// The stream ended: `Some(None)` at end of stream, `Some(Some(e))` on an error.
    end: Option<Option<io::Error>>,
    stopped: bool,
}

/// The hand-over from the reader thread: one chunk at a time.
#[derive(Default)]
struct Inbox {
    state: Mutex<InboxState>,
    taken: Condvar,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// For the reader: waits until the last chunk was taken and the application has
    /// room for events; `false` once the connection is closed.
    fn wait_turn(&self, events: &EventQueue) -> bool {
        {
            let mut s = self.lock();
            while s.chunk.is_some() && !s.stopped {
                s = self.taken.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.stopped {
                return false;
            }
        }
        loop {
            if events.wait_room(Duration::from_millis(100)) {
                return true;
            }
            if self.lock().stopped || events.is_finished() {
                return false;
            }
        }
    }
}

/// What the I/O thread finds from the reader.
pub(crate) enum Received {
    Nothing,
    Bytes(Bytes),
    End(Option<io::Error>),
}

/// An open custom connection.
pub(crate) struct Custom {
    writer: Box<dyn Write + Send>,
    closer: Option<Box<dyn FnOnce() + Send>>,
    inbox: Arc<Inbox>,
}

impl Custom {
    /// Starts the reader thread of `connection`.
    pub(crate) fn start(
        connection: Connection,
        events: Arc<EventQueue>,
        waker: Waker,
    ) -> io::Result<Custom> {
        let Connection {
            reader,
            writer,
            closer,
        } = connection;
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        thread::Builder::new()
            .name("mqtt-read".into())
            .spawn(move || read_loop(reader, &shared, &events, &waker))?;
        Ok(Custom {
            writer,
            closer,
            inbox,
        })
    }

    /// The next chunk the reader thread read, if any.
    pub(crate) fn receive(&mut self) -> Received {
        let mut s = self.inbox.lock();
        if let Some(chunk) = s.chunk.take() {
            drop(s);
            self.inbox.taken.notify_all();
            return Received::Bytes(chunk);
        }
        match s.end.take() {
            Some(end) => Received::End(end),
            None => Received::Nothing,
        }
    }

    /// The writing half (blocking).
    pub(crate) fn writer(&mut self) -> &mut (dyn Write + Send) {
        &mut *self.writer
    }
}

impl Drop for Custom {
    fn drop(&mut self) {
        self.inbox.lock().stopped = true;
        self.inbox.taken.notify_all();
        let _ = self.writer.flush();
        if let Some(close) = self.closer.take() {
            close();
        }
    }
}

fn read_loop(mut reader: Box<dyn Read + Send>, inbox: &Inbox, events: &EventQueue, waker: &Waker) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        if !inbox.wait_turn(events) {
            return;
        }
        let end = match reader.read(&mut buf) {
            Ok(0) => Some(None),
            Ok(n) => {
                inbox.lock().chunk = Some(Bytes::copy_from_slice(&buf[..n]));
                None
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Some(Some(e)),
        };
        let ended = end.is_some();
        if ended {
            inbox.lock().end = end;
        }
        waker.wake_by_ref();
        if ended {
            return;
        }
    }
}
