//! The I/O thread, the only thread of a client on TCP: it waits on the socket's
//! readiness, the command queue and the session's next deadline at once (one `mio`
//! poller: epoll, kqueue or IOCP), then takes every queued command, reads what the socket
//! has into the engine's buffer, carries out the engine's instructions and writes
//! everything pending in one vectored write, until nothing is left to do; then it
//! sleeps again.
//!
//! A client handle wakes it through the poller's waker, and only when the thread has
//! found the command queue empty (a burst of commands costs one wake-up).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Poll, Token};
use mqtt_engine::{Clock, Command, Connector, Engine, EventQueue, MAX_SLICES, Mailbox, Output};

use crate::custom::{Custom, Opening, Received};
use crate::tcp::{Dial, Progress, SOCKET};

/// The poller token of the waker.
const WAKE: Token = Token(0);

/// How many reads at most before the thread writes (acknowledgements go out while a
/// fast broker keeps the socket full).
const READS_PER_ROUND: usize = 8;

/// Wakes the I/O thread from any thread: the poller's waker behind a `std::task::Waker`,
/// so the engine's queues (commands, event room, operation slots) can use it.
struct Wakeup(mio::Waker);

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Err(e) = self.0.wake() {
            log::warn!("cannot wake the MQTT I/O thread: {e}");
        }
    }
}

/// How connections are opened.
pub(crate) enum Dialer {
    /// TCP to the URL's host and port, with this connect timeout per address.
    Tcp(Duration),
    /// The application's connector.
    Custom(Arc<Mutex<Box<dyn Connector>>>),
}

/// A TCP connection and what the poller last said of it (edge-triggered: a flag stays
/// set until a read or write finds the socket empty or full).
struct Tcp {
    stream: TcpStream,
    readable: bool,
    writable: bool,
}

enum Link {
    None,
    Dialing(Dial),
    Tcp(Tcp),
    Opening(Opening),
    Custom(Custom),
}

pub(crate) struct Driver {
    engine: Engine,
    clock: Clock,
    mailbox: Arc<Mailbox>,
    events: Arc<EventQueue>,
    dialer: Dialer,
    poll: Poll,
    ready: Events,
    waker: Waker,
    link: Link,
    commands: VecDeque<Command>,
}

impl Driver {
    /// A driver with its poller (made here, on the caller's thread, so that a failure
    /// is the caller's error). Boxed: the I/O thread takes a pointer, not kilobytes of
    /// state copied onto its stack (an idle thread's memory is the stack it touched).
    pub(crate) fn new(
        engine: Engine,
        clock: Clock,
        mailbox: Arc<Mailbox>,
        events: Arc<EventQueue>,
        dialer: Dialer,
    ) -> io::Result<Box<Driver>> {
        let poll = Poll::new()?;
        let waker = Waker::from(Arc::new(Wakeup(mio::Waker::new(poll.registry(), WAKE)?)));
        Ok(Box::new(Driver {
            engine,
            clock,
            mailbox,
            events,
            dialer,
            poll,
            ready: Events::with_capacity(4),
            waker,
            link: Link::None,
            commands: VecDeque::new(),
        }))
    }

    /// The drive loop: until the client is closed, do everything there is to do, then
    /// sleep until the socket, a command or a deadline wakes the thread.
    pub(crate) fn run(mut self: Box<Self>) {
        loop {
            let mut progress = false;
            progress |= self.take_commands();
            progress |= self.connect();
            progress |= self.read();
            progress |= self.outputs();
            progress |= self.write();
            progress |= self.outputs();
            progress |= self.timeout();
            if self.engine.is_closed() {
                break;
            }
            if !progress {
                self.engine.release_idle_memory();
                self.sleep();
            }
        }
        self.shut_down();
    }

    fn shut_down(mut self: Box<Self>) {
        for command in self.mailbox.close() {
            drop(command);
        }
        self.drop_link();
        self.engine.finish();
    }

    /// Waits for the socket, a wake-up or the next deadline.
    fn sleep(&mut self) {
        let deadline = [
            self.engine.poll_timeout().map(|t| self.clock.to_std(t)),
            match &self.link {
                Link::Dialing(dial) => dial.deadline(),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if let Err(e) = self.poll.poll(&mut self.ready, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                // Not expected from a working poller; avoid a busy loop if it happens.
                log::error!("MQTT I/O thread: poll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
        if let Link::Tcp(tcp) = &mut self.link {
            for event in self.ready.iter().filter(|e| e.token() == SOCKET) {
                let failed = event.is_error();
                tcp.readable |= event.is_readable() || event.is_read_closed() || failed;
                tcp.writable |= event.is_writable() || event.is_write_closed() || failed;
            }
        }
    }

    /// Hands commands to the engine while it wants them (see
    /// [`Engine::wants_commands`]); those taken from the mailbox beyond that wait here, in
    /// order, until the socket took the output.
    fn take_commands(&mut self) -> bool {
        if self.commands.is_empty() {
            let mut cx = Context::from_waker(&self.waker);
            if !self.mailbox.poll_take(&mut cx, &mut self.commands) {
                return false;
            }
        }
        let now = self.clock.now();
        let mut handled = false;
        while self.engine.wants_commands()
            && let Some(command) = self.commands.pop_front()
        {
            self.engine.handle_command(now, command);
            handled = true;
        }
        handled
    }

    /// Moves a connection attempt on.
    fn connect(&mut self) -> bool {
        let opened = match &mut self.link {
            Link::Dialing(dial) => match dial.progress(self.poll.registry(), Instant::now()) {
                Progress::Waiting => return false,
                Progress::Connected(stream) => Ok(Link::Tcp(Tcp {
                    stream,
                    readable: true,
                    writable: true,
                })),
                Progress::Failed(e) => Err(e),
            },
            Link::Opening(opening) => match opening.take() {
                None => return false,
                Some(Ok(connection)) => {
                    Custom::start(connection, self.events.clone(), self.waker.clone())
                        .map(Link::Custom)
                }
                Some(Err(e)) => Err(e),
            },
            _ => return false,
        };
        let now = self.clock.now();
        match opened {
            Ok(link) => {
                self.link = link;
                self.engine.handle_opened(now);
            }
            Err(e) => {
                self.link = Link::None;
                self.engine.handle_closed(now, Some(e.to_string()));
            }
        }
        true
    }

    /// Reads while the socket has bytes and the application has room for events.
    fn read(&mut self) -> bool {
        let mut progress = false;
        for _ in 0..READS_PER_ROUND {
            if !self.engine.wants_read() {
                if matches!(self.link, Link::Tcp(_) | Link::Custom(_)) {
                    // Back-pressure: woken when the application takes an event.
                    let mut cx = Context::from_waker(&self.waker);
                    if self.events.poll_room(&mut cx).is_ready() && self.engine.wants_read() {
                        continue;
                    }
                }
                break;
            }
            let result = match &mut self.link {
                Link::Tcp(tcp) if tcp.readable => {
                    let buf = self.engine.read_buffer();
                    match tcp.stream.read(buf) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            tcp.readable = false;
                            self.engine.read_cancelled();
                            break;
                        }
                        r => r,
                    }
                }
                Link::Custom(custom) => match custom.receive() {
                    Received::Nothing => break,
                    Received::Bytes(data) => {
                        self.engine.handle_bytes(self.clock.now(), &data);
                        progress = true;
                        continue;
                    }
                    Received::End(None) => Ok(0),
                    Received::End(Some(e)) => Err(e),
                },
                _ => break,
            };
            let now = self.clock.now();
            progress = true;
            match result {
                Ok(0) => {
                    self.engine.read_cancelled();
                    self.drop_link();
                    self.engine.handle_closed(now, None);
                    break;
                }
                Ok(n) => self.engine.handle_read(now, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    self.engine.read_cancelled();
                }
                Err(e) => {
                    self.engine.read_cancelled();
                    self.drop_link();
                    self.engine.handle_closed(now, Some(e.to_string()));
                    break;
                }
            }
        }
        progress
    }

    /// Carries out the engine's instructions.
    fn outputs(&mut self) -> bool {
        let mut progress = false;
        while let Some(output) = self.engine.poll_output() {
            progress = true;
            match output {
                Output::Open(url) => {
                    self.drop_link();
                    self.link = match &self.dialer {
                        Dialer::Tcp(timeout) => {
                            Link::Dialing(Dial::start(&url, *timeout, &self.waker))
                        }
                        Dialer::Custom(connector) => {
                            match Opening::start(connector, url, &self.waker) {
                                Ok(opening) => Link::Opening(opening),
                                Err(e) => {
                                    self.engine
                                        .handle_closed(self.clock.now(), Some(e.to_string()));
                                    Link::None
                                }
                            }
                        }
                    };
                }
                Output::Close => {
                    self.flush_before_close();
                    self.drop_link();
                    self.engine.handle_closed(self.clock.now(), None);
                }
                _ => {}
            }
        }
        progress
    }

    fn drop_link(&mut self) {
        match std::mem::replace(&mut self.link, Link::None) {
            Link::Tcp(mut tcp) => {
                let _ = self.poll.registry().deregister(&mut tcp.stream);
            }
            Link::Dialing(dial) => dial.abandon(self.poll.registry()),
            // A custom connection closes its stream and stops its reader on drop; an
            // attempt on its thread is left to finish, unread.
            Link::Custom(_) | Link::Opening(_) | Link::None => {}
        }
    }

    /// Best effort: writes what the engine still has (a DISCONNECT) if the socket takes
    /// it now.
    fn flush_before_close(&mut self) {
        while self.engine.wants_write() {
            let written = {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = self.engine.transmit(&mut slices);
                let result = match &mut self.link {
                    Link::Tcp(tcp) => tcp.stream.write_vectored(&slices[..n]),
                    Link::Custom(custom) => custom.writer().write_vectored(&slices[..n]),
                    _ => return,
                };
                match result {
                    Ok(n) if n > 0 => n,
                    _ => return,
                }
            };
            self.engine.advance(written);
        }
    }

    /// Writes everything pending, vectored, until done or the socket is full.
    fn write(&mut self) -> bool {
        let mut progress = false;
        let mut wrote = false;
        loop {
            if !matches!(&self.link, Link::Tcp(t) if t.writable)
                && !matches!(self.link, Link::Custom(_))
            {
                return progress;
            }
            if !self.engine.wants_write() {
                break;
            }
            let result = {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = self.engine.transmit(&mut slices);
                match &mut self.link {
                    Link::Tcp(tcp) => match tcp.stream.write_vectored(&slices[..n]) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            tcp.writable = false;
                            return progress;
                        }
                        r => r,
                    },
                    Link::Custom(custom) => custom.writer().write_vectored(&slices[..n]),
                    _ => return progress,
                }
            };
            match result {
                Ok(0) => return self.write_failed(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.engine.advance(n);
                    progress = true;
                    wrote = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.write_failed(e),
            }
        }
        if wrote
            && let Link::Custom(custom) = &mut self.link
            && let Err(e) = custom.writer().flush()
        {
            return self.write_failed(e);
        }
        progress
    }

    fn write_failed(&mut self, e: io::Error) -> bool {
        self.drop_link();
        self.engine
            .handle_write_error(self.clock.now(), e.to_string());
        // The engine asks for the close it already did: carried out by `outputs`.
        true
    }

    /// Handles the session's deadline when it is due.
    fn timeout(&mut self) -> bool {
        let now = self.clock.now();
        match self.engine.poll_timeout() {
            Some(deadline) if deadline <= now => {
                self.engine.handle_timeout(now);
                true
            }
            _ => false,
        }
    }
}
