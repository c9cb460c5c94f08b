//! The driver: one future per client that owns the engine and the connection. Each
//! time it is polled it takes every queued command, reads what the socket has, carries
//! out the engine's instructions, writes everything pending in one vectored write, and
//! arms one timer for the session's next deadline. It never blocks and spawns nothing.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice, Read};
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::io::{AsyncRead, AsyncWrite};
use mqtt_engine::{
    AsyncConnection, AsyncConnector, Clock, Command, Engine, EventQueue, MAX_SLICES, Mailbox,
    Output,
};

use crate::tcp::dial;

/// How many reads at most before the driver writes (acknowledgements go out while a
/// fast broker keeps the socket full).
const READS_PER_ROUND: usize = 8;

/// The byte stream of one connection.
enum Stream {
    /// TCP through async-io: read only when the reactor says it is readable, so an idle
    /// connection holds no read buffer.
    Tcp(Async<TcpStream>),
    /// A stream the application opened.
    Custom(AsyncConnection),
}

type Dialing = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

enum Link {
    None,
    Dialing(Dialing),
    Open(Stream),
}

/// How connections are opened.
pub(crate) enum Dialer {
    Tcp(Duration),
    Custom(Box<dyn AsyncConnector>),
}

struct Inner {
    engine: Engine,
    clock: Clock,
    mailbox: Arc<Mailbox>,
    events: Arc<EventQueue>,
    dialer: Dialer,
    link: Link,
    timer: Option<(mqtt_session::Instant, Timer)>,
    commands: VecDeque<Command>,
}

/// The client's connection, as a future: it runs until the client is closed (every
/// [`Client`](crate::Client) handle dropped, `disconnect`, `close`, or a lost connection
/// with reconnects off).
///
/// [`Client::connect`](crate::Client::connect) spawns it on smol's executor; with
/// [`Client::new`](crate::Client::new) you spawn it yourself on any executor (smol,
/// `futures_lite::future::block_on`, tokio: async-io drives its own reactor). Dropping it
/// closes the client.
#[must_use = "the client does nothing unless its driver is polled: spawn it"]
pub struct Driver {
    inner: Option<Box<Inner>>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("running", &self.inner.is_some())
            .finish()
    }
}

impl Driver {
    pub(crate) fn new(
        engine: Engine,
        clock: Clock,
        mailbox: Arc<Mailbox>,
        events: Arc<EventQueue>,
        dialer: Dialer,
    ) -> Driver {
        Driver {
            inner: Some(Box::new(Inner {
                engine,
                clock,
                mailbox,
                events,
                dialer,
                link: Link::None,
                timer: None,
                commands: VecDeque::new(),
            })),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.shut_down();
        }
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(());
        };
        let done = inner.poll(cx);
        if done.is_ready()
            && let Some(inner) = self.inner.take()
        {
            inner.shut_down();
        }
        done
    }
}

impl Inner {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let mut progress = false;
            progress |= self.take_commands(cx);
            progress |= self.poll_dialing(cx);
            progress |= self.read(cx);
            progress |= self.outputs();
            progress |= self.write(cx);
            progress |= self.outputs();
            progress |= self.poll_timer(cx);
            if self.engine.is_closed() {
                return Poll::Ready(());
            }
            if !progress {
                self.engine.release_idle_memory();
                return Poll::Pending;
            }
        }
    }

    fn shut_down(mut self: Box<Self>) {
        for command in self.mailbox.close() {
            drop(command);
        }
        self.link = Link::None;
        self.engine.finish();
    }

    /// Hands commands to the engine while it wants them (see
    /// [`Engine::wants_commands`]); those taken from the mailbox beyond that wait here, in
    /// order, until the socket took the output.
    fn take_commands(&mut self, cx: &mut Context<'_>) -> bool {
        if self.commands.is_empty() && !self.mailbox.poll_take(cx, &mut self.commands) {
            return false;
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

    fn poll_dialing(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Dialing(dialing) = &mut self.link else {
            return false;
        };
        let Poll::Ready(result) = dialing.as_mut().poll(cx) else {
            return false;
        };
        let now = self.clock.now();
        match result {
            Ok(stream) => {
                self.link = Link::Open(stream);
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
    fn read(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        for _ in 0..READS_PER_ROUND {
            if !self.engine.wants_read() {
                if matches!(self.link, Link::Open(_)) {
                    // Back-pressure: wake when the application takes an event.
                    if self.events.poll_room(cx).is_ready() && self.engine.wants_read() {
                        continue;
                    }
                }
                break;
            }
            let Link::Open(stream) = &mut self.link else {
                break;
            };
            let result = match stream {
                Stream::Tcp(tcp) => match tcp.poll_readable(cx) {
                    Poll::Pending => {
                        self.engine.release_read_buffer();
                        break;
                    }
                    Poll::Ready(Err(e)) => Err(e),
                    Poll::Ready(Ok(())) => {
                        let buf = self.engine.read_buffer();
                        match tcp.get_ref().read(buf) {
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                self.engine.read_cancelled();
                                continue;
                            }
                            r => r,
                        }
                    }
                },
                Stream::Custom(custom) => {
                    let buf = self.engine.read_buffer();
                    match Pin::new(custom).poll_read(cx, buf) {
                        Poll::Pending => {
                            self.engine.read_cancelled();
                            break;
                        }
                        Poll::Ready(r) => r,
                    }
                }
            };
            let now = self.clock.now();
            progress = true;
            match result {
                Ok(0) => {
                    self.engine.read_cancelled();
                    self.link = Link::None;
                    self.engine.handle_closed(now, None);
                    break;
                }
                Ok(n) => self.engine.handle_read(now, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    self.engine.read_cancelled();
                }
                Err(e) => {
                    self.engine.read_cancelled();
                    self.link = Link::None;
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
                    self.link = Link::Dialing(match &mut self.dialer {
                        Dialer::Tcp(timeout) => {
                            let timeout = *timeout;
                            Box::pin(async move { dial(url, timeout).await.map(Stream::Tcp) })
                        }
                        Dialer::Custom(connector) => {
                            let connecting = connector.connect(&url);
                            Box::pin(async move { connecting.await.map(Stream::Custom) })
                        }
                    });
                }
                Output::Close => {
                    self.flush_before_close();
                    self.link = Link::None;
                    self.engine.handle_closed(self.clock.now(), None);
                }
                _ => {}
            }
        }
        progress
    }

    /// Best effort: writes what the engine still has (a DISCONNECT) if the socket takes
    /// it now.
    fn flush_before_close(&mut self) {
        let Link::Open(stream) = &mut self.link else {
            return;
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        while self.engine.wants_write() {
            let written = {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = self.engine.transmit(&mut slices);
                match poll_write(stream, &mut cx, &slices[..n]) {
                    Poll::Ready(Ok(n)) if n > 0 => n,
                    _ => break,
                }
            };
            self.engine.advance(written);
        }
        let _ = poll_flush(stream, &mut cx);
    }

    /// Writes everything pending, vectored, until done or the socket is full.
    fn write(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Open(stream) = &mut self.link else {
            return false;
        };
        let mut progress = false;
        let mut wrote = false;
        while self.engine.wants_write() {
            let result = {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = self.engine.transmit(&mut slices);
                poll_write(stream, cx, &slices[..n])
            };
            match result {
                Poll::Pending => return progress,
                Poll::Ready(Ok(0)) => {
                    return self.write_failed(io::ErrorKind::WriteZero.into());
                }
                Poll::Ready(Ok(n)) => {
                    self.engine.advance(n);
                    progress = true;
                    wrote = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return self.write_failed(e),
            }
        }
        if wrote && let Poll::Ready(Err(e)) = poll_flush(stream, cx) {
            return self.write_failed(e);
        }
        progress
    }

    fn write_failed(&mut self, e: io::Error) -> bool {
        self.link = Link::None;
        self.engine
            .handle_write_error(self.clock.now(), e.to_string());
        // The engine asks for the close it already did: carried out by `outputs`.
        true
    }

    /// Arms the timer for the session's next deadline; handles it when due.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.engine.poll_timeout() else {
            self.timer = None;
            return false;
        };
        let now = self.clock.now();
        if deadline <= now {
            self.engine.handle_timeout(now);
            return true;
        }
        match &mut self.timer {
            // A later deadline keeps the armed timer (firing early is harmless: the
            // keep-alive deadline moves with every write); only an earlier one re-arms.
            Some((at, timer)) if *at <= deadline => {
                if Pin::new(timer).poll(cx).is_ready() {
                    self.timer = None;
                    self.engine.handle_timeout(self.clock.now());
                    return true;
                }
            }
            _ => {
                let mut timer = Timer::at(self.clock.to_std(deadline));
                if Pin::new(&mut timer).poll(cx).is_ready() {
                    self.timer = None;
                    self.engine.handle_timeout(self.clock.now());
                    return true;
                }
                self.timer = Some((deadline, timer));
            }
        }
        false
    }
}

fn poll_write(
    stream: &mut Stream,
    cx: &mut Context<'_>,
    slices: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    match stream {
        Stream::Tcp(tcp) => Pin::new(tcp).poll_write_vectored(cx, slices),
        Stream::Custom(custom) => Pin::new(custom).poll_write_vectored(cx, slices),
    }
}

fn poll_flush(stream: &mut Stream, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    match stream {
        Stream::Tcp(_) => Poll::Ready(Ok(())),
        Stream::Custom(custom) => Pin::new(custom).poll_flush(cx),
    }
}
