//! The I/O thread: waits for input or the next deadline, feeds the engine, writes what
//! it gives back (one vectored write per round of inputs), opens and closes connections.

use std::io::{self, IoSlice, Read, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_engine::{
    BrokerUrl, Clock, Command, Connection, Connector, Engine, EventQueue, MAX_SLICES, Output,
};

/// What the reader thread reads at a time.
const READ_BUFFER: usize = 16 * 1024;

/// Everything that wakes the I/O thread.
pub(crate) enum Input {
    Command(Command),
    Opened {
        generation: u64,
        result: io::Result<Connection>,
    },
    Read {
        generation: u64,
        data: Bytes,
    },
    Closed {
        generation: u64,
        error: Option<io::Error>,
    },
}

/// Holds the reader thread back while the I/O thread has not handled its last chunk,
/// or the application has not taken its events (back-pressure).
#[derive(Default)]
struct ReadGate {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl ReadGate {
    fn sent(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 += 1;
    }

    fn handled(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 = s.0.saturating_sub(1);
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.changed.notify_all();
    }

    /// Waits until the last chunk was handled and the events have room; `false` once
    /// the connection is closed.
    fn wait(&self, events: &EventQueue) -> bool {
        {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            while s.0 > 0 && !s.1 {
                s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.1 {
                return false;
            }
        }
        loop {
            if events.wait_room(Duration::from_millis(100)) {
                return true;
            }
            if self.state.lock().unwrap_or_else(|p| p.into_inner()).1 || events.is_finished() {
                return false;
            }
        }
    }
}

/// The connection in use.
struct Live {
    writer: Box<dyn Write + Send>,
    closer: Option<Box<dyn FnOnce() + Send>>,
    gate: Arc<ReadGate>,
}

impl Live {
    fn close(mut self) {
        self.gate.stop();
        let _ = self.writer.flush();
        if let Some(close) = self.closer.take() {
            close();
        }
    }
}

pub(crate) struct Driver {
    engine: Engine,
    clock: Clock,
    input: Sender<Input>,
    events: Arc<EventQueue>,
    connector: Arc<Mutex<Box<dyn Connector>>>,
    generation: u64,
    live: Option<Live>,
    /// A connection attempt runs on its own thread.
    opening: bool,
}

impl Driver {
    pub(crate) fn new(
        engine: Engine,
        clock: Clock,
        connector: Box<dyn Connector>,
        input: Sender<Input>,
        events: Arc<EventQueue>,
    ) -> Driver {
        Driver {
            engine,
            clock,
            input,
            events,
            connector: Arc::new(Mutex::new(connector)),
            generation: 0,
            live: None,
            opening: false,
        }
    }

    /// The drive loop: carry out the engine's instructions, write, wait for input or the
    /// next deadline, hand over everything that arrived; until the client is closed.
    pub(crate) fn run(mut self, rx: Receiver<Input>) {
        loop {
            self.outputs();
            self.write();
            // Writing may have found the connection broken.
            self.outputs();
            if self.engine.is_closed() {
                break;
            }
            let first = match self.engine.poll_timeout() {
                Some(deadline) => {
                    let wait = self
                        .clock
                        .to_std(deadline)
                        .saturating_duration_since(std::time::Instant::now());
                    if wait.is_zero() {
                        Err(RecvTimeoutError::Timeout)
                    } else {
                        rx.recv_timeout(wait)
                    }
                }
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let now = self.clock.now();
            match first {
                Ok(input) => self.handle(input),
                Err(RecvTimeoutError::Timeout) => self.engine.handle_timeout(now),
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Everything else that is already waiting joins this round: one write.
            while let Ok(input) = rx.try_recv() {
                self.handle(input);
            }
        }
        if let Some(live) = self.live.take() {
            live.close();
        }
        self.engine.finish();
    }

    fn handle(&mut self, input: Input) {
        let now = self.clock.now();
        match input {
            Input::Command(c) => self.engine.handle_command(now, c),
            Input::Opened { generation, result } if generation == self.generation => {
                self.opening = false;
                match result {
                    Ok(connection) => self.opened(connection),
                    Err(e) => self.engine.handle_closed(now, Some(e.to_string())),
                }
            }
            Input::Read { generation, data } if generation == self.generation => {
                if let Some(live) = &self.live {
                    let gate = live.gate.clone();
                    self.engine.handle_bytes(now, &data);
                    gate.handled();
                }
            }
            Input::Closed { generation, error } if generation == self.generation => {
                if let Some(live) = self.live.take() {
                    live.close();
                    self.engine.handle_closed(now, error.map(|e| e.to_string()));
                }
            }
            _ => {}
        }
    }

    /// Carries out the engine's instructions.
    fn outputs(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Open(url) => self.open(url),
                Output::Close => {
                    // Best effort: what the engine still has (a DISCONNECT) goes first.
                    self.write();
                    if let Some(live) = self.live.take() {
                        live.close();
                    }
                    // A connection attempt in progress is abandoned.
                    self.generation += 1;
                    self.opening = false;
                    self.engine.handle_closed(self.clock.now(), None);
                }
                _ => {}
            }
        }
    }

    /// Writes everything pending: vectored, until done or the connection fails.
    fn write(&mut self) {
        let Some(live) = &mut self.live else {
            return;
        };
        let result = (|| -> io::Result<()> {
            while self.engine.wants_write() {
                let written = {
                    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                    let n = self.engine.transmit(&mut slices);
                    live.writer.write_vectored(&slices[..n])?
                };
                if written == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                self.engine.advance(written);
            }
            live.writer.flush()
        })();
        if let Err(e) = result {
            if let Some(live) = self.live.take() {
                live.close();
            }
            self.generation += 1;
            self.engine
                .handle_write_error(self.clock.now(), e.to_string());
        }
    }

    /// Opens a connection to `url` on a short-lived thread, so that a slow DNS lookup,
    /// TCP or TLS connect never holds up commands.
    fn open(&mut self, url: BrokerUrl) {
        if let Some(live) = self.live.take() {
            live.close();
        }
        self.generation += 1;
        self.opening = true;
        let generation = self.generation;
        let input = self.input.clone();
        let connector = self.connector.clone();
        let spawned = thread::Builder::new()
            .name("mqtt-connect".into())
            .spawn(move || {
                let result = match connector.lock() {
                    Ok(mut c) => c.connect(&url),
                    Err(_) => Err(io::Error::other("connector poisoned")),
                };
                let _ = input.send(Input::Opened { generation, result });
            });
        if let Err(e) = spawned {
            self.opening = false;
            self.engine
                .handle_closed(self.clock.now(), Some(e.to_string()));
        }
    }

    fn opened(&mut self, connection: Connection) {
        let Connection {
            reader,
            writer,
            closer,
        } = connection;
        let gate = Arc::new(ReadGate::default());
        self.live = Some(Live {
            writer,
            closer,
            gate: gate.clone(),
        });
        let generation = self.generation;
        let input = self.input.clone();
        let events = self.events.clone();
        let _ = thread::Builder::new()
            .name("mqtt-read".into())
            .spawn(move || read_loop(reader, generation, input, gate, events));
        self.engine.handle_opened(self.clock.now());
    }
}

/// The reader thread of one connection: blocks in `read` and passes bytes on, one chunk
/// at a time, and not while the application's events are full.
fn read_loop(
    mut reader: Box<dyn Read + Send>,
    generation: u64,
    input: Sender<Input>,
    gate: Arc<ReadGate>,
    events: Arc<EventQueue>,
) {
    loop {
        if !gate.wait(&events) {
            return;
        }
        let mut buf = BytesMut::zeroed(READ_BUFFER);
        match reader.read(&mut buf) {
            Ok(0) => {
                let _ = input.send(Input::Closed {
                    generation,
                    error: None,
                });
                return;
            }
            Ok(n) => {
                buf.truncate(n);
                gate.sent();
                let data = buf.freeze();
                if input.send(Input::Read { generation, data }).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = input.send(Input::Closed {
                    generation,
                    error: Some(e),
                });
                return;
            }
        }
    }
}
