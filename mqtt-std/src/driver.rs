//! The I/O thread: owns the session and the connection, and runs the drive loop.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant as StdInstant;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Publish, QoS, ReasonCode, SubscribeProperties, Subscription, TopicFilter, UnsubscribeProperties,
};
use mqtt_session::{AckToken, Action, DisconnectOptions, Event, Instant, OperationId, Session};

use crate::client::{Completion, Pending};
use crate::error::Error;
use crate::options::ClientOptions;
use crate::tls::TlsOptions;
use crate::transport::{Connection, Connector, Stack, TcpConnector};
use crate::url::BrokerUrl;

type Reply<T> = Sender<Result<T, Error>>;

/// What the application asks of the I/O thread.
pub(crate) enum Command {
    Connect {
        reply: Reply<()>,
    },
    Publish {
        message: Publish,
        reply: Reply<Pending>,
    },
    Subscribe {
        subscriptions: Vec<Subscription>,
        properties: SubscribeProperties,
        reply: Reply<Pending>,
    },
    Unsubscribe {
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
        reply: Reply<Pending>,
    },
    Acknowledge {
        token: AckToken,
        reason_code: ReasonCode,
        reply: Reply<()>,
    },
    Disconnect {
        options: DisconnectOptions,
        reply: Reply<()>,
    },
    Close {
        reply: Reply<()>,
    },
}

/// Everything that wakes the I/O thread.
pub(crate) enum Input {
    Command(Command),
    Opened {
        generation: u64,
        url: BrokerUrl,
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

/// The connection in use.
struct Live {
    writer: Box<dyn Write + Send>,
    closer: Option<Box<dyn FnOnce() + Send>>,
    stack: Stack,
}

pub(crate) struct Driver {
    session: Session,
    origin: StdInstant,
    input: Sender<Input>,
    events: Sender<Event>,
    tls: TlsOptions,
    ws_headers: Vec<(String, String)>,
    connector: Arc<Mutex<Box<dyn Connector>>>,
    generation: u64,
    live: Option<Live>,
    received: BytesMut,
    waiters: HashMap<OperationId, Reply<Completion>>,
    first_url: BrokerUrl,
    current_url: Option<BrokerUrl>,
}

impl Driver {
    pub(crate) fn new(
        options: ClientOptions,
        input: Sender<Input>,
        events: Sender<Event>,
    ) -> Result<Driver, Error> {
        let first_url =
            BrokerUrl::parse(options.session.servers.first().map_or("", String::as_str))?;
        if first_url.scheme.is_tls() {
            // Fail early on a bad TLS configuration.
            options.tls.build()?;
        }
        let connector: Box<dyn Connector> = match options.connector {
            Some(c) => c,
            None => Box::new(TcpConnector {
                timeout: options.connect_timeout,
            }),
        };
        Ok(Driver {
            session: Session::new(options.session),
            origin: StdInstant::now(),
            input,
            events,
            tls: options.tls,
            ws_headers: options.ws_headers,
            connector: Arc::new(Mutex::new(connector)),
            generation: 0,
            live: None,
            received: BytesMut::with_capacity(64 * 1024),
            waiters: HashMap::new(),
            first_url,
            current_url: None,
        })
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.origin.elapsed())
    }

    fn std_instant(&self, t: Instant) -> StdInstant {
        self.origin + t.duration_since_origin()
    }

    /// The drive loop: wait for input or the next deadline, feed the session, drain its
    /// outputs; until the session is closed.
    pub(crate) fn run(mut self, rx: Receiver<Input>) {
        loop {
            let input = match self.session.poll_timeout() {
                Some(deadline) => {
                    let wait = self
                        .std_instant(deadline)
                        .saturating_duration_since(StdInstant::now());
                    if wait.is_zero() {
                        Err(RecvTimeoutError::Timeout)
                    } else {
                        rx.recv_timeout(wait)
                    }
                }
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let now = self.now();
            match input {
                Ok(input) => self.handle(now, input),
                Err(RecvTimeoutError::Timeout) => self.session.handle_timeout(now),
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.drain(now);
            if self.session.is_closed() {
                self.close_transport();
                break;
            }
        }
        for (_, waiter) in self.waiters.drain() {
            let _ = waiter.send(Err(Error::Closed));
        }
    }

    fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Command(c) => self.command(now, c),
            Input::Opened {
                generation,
                url,
                result,
            } if generation == self.generation => match result {
                Ok(connection) => self.opened(now, url, connection),
                Err(e) => self
                    .session
                    .handle_transport_error(now, format!("cannot connect to {url}: {e}")),
            },
            Input::Read { generation, data }
                if generation == self.generation && self.live.is_some() =>
            {
                self.read(now, &data)
            }
            Input::Closed { generation, error }
                if generation == self.generation && self.live.is_some() =>
            {
                self.live = None;
                match error {
                    Some(e) => self.session.handle_transport_error(now, e.to_string()),
                    None => self.session.handle_closed(now),
                }
            }
            _ => {}
        }
    }

    fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Connect { reply } => {
                let _ = reply.send(self.session.connect(now).map_err(Error::from));
            }
            Command::Publish { message, reply } => {
                let qos = message.qos;
                let result = self.session.publish(now, message).map(|id| {
                    let (tx, pending) = Pending::new();
                    if qos == QoS::AtMostOnce {
                        let _ = tx.send(Ok(Completion::Sent));
                    } else {
                        self.waiters.insert(id, tx);
                    }
                    pending
                });
                let _ = reply.send(result.map_err(Error::from));
            }
            Command::Subscribe {
                subscriptions,
                properties,
                reply,
            } => {
                let result = self.session.subscribe(now, subscriptions, properties);
                let _ = reply.send(self.register(result));
            }
            Command::Unsubscribe {
                filters,
                properties,
                reply,
            } => {
                let result = self.session.unsubscribe(now, filters, properties);
                let _ = reply.send(self.register(result));
            }
            Command::Acknowledge {
                token,
                reason_code,
                reply,
            } => {
                let _ = reply.send(
                    self.session
                        .acknowledge(now, token, reason_code)
                        .map_err(Error::from),
                );
            }
            Command::Disconnect { options, reply } => {
                let result = self.session.disconnect(now, options).map_err(Error::from);
                self.drain(now);
                let _ = reply.send(result);
            }
            Command::Close { reply } => {
                self.close_transport();
                let _ = self.session.disconnect(now, DisconnectOptions::default());
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn register(
        &mut self,
        result: Result<OperationId, mqtt_session::UsageError>,
    ) -> Result<Pending, Error> {
        let id = result?;
        let (tx, pending) = Pending::new();
        self.waiters.insert(id, tx);
        Ok(pending)
    }

    /// Drains the session's outputs in the documented order until nothing is left.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut more = false;
            while let Some(action) = self.session.poll_action() {
                more = true;
                match action {
                    Action::Open { server } => self.open(&server),
                    // Write what comes before the close (a DISCONNECT), then close.
                    Action::Close => {
                        self.write_pending(now);
                        self.close_transport();
                    }
                    _ => {}
                }
            }
            self.write_pending(now);
            while let Some(event) = self.session.poll_event() {
                more = true;
                self.event(event);
            }
            if !more {
                break;
            }
        }
    }

    fn event(&mut self, event: Event) {
        let done = match &event {
            Event::PublishCompleted { id, reason_code } => {
                Some((*id, Ok(Completion::Published(*reason_code))))
            }
            Event::SubscribeCompleted { id, reason_codes } => {
                Some((*id, Ok(Completion::Subscribed(reason_codes.clone()))))
            }
            Event::UnsubscribeCompleted { id, reason_codes } => {
                Some((*id, Ok(Completion::Unsubscribed(reason_codes.clone()))))
            }
            Event::OperationFailed { id, error } => {
                Some((*id, Err(Error::Operation(error.clone()))))
            }
            _ => None,
        };
        if let Some((id, result)) = done
            && let Some(waiter) = self.waiters.remove(&id)
        {
            let _ = waiter.send(result);
        }
        let _ = self.events.send(event);
    }

    /// Writes everything the session has for the connection, borrowing the bytes.
    fn write_pending(&mut self, now: Instant) {
        let Some(live) = &mut self.live else {
            // No connection: nothing can be written.
            let _ = self.session.write_transmit(|_| Ok::<(), ()>(()));
            return;
        };
        let Live { writer, stack, .. } = live;
        let result = self
            .session
            .write_transmit(|bytes| match &mut *stack {
                Stack::Plain => writer.write_all(bytes),
                stack => {
                    let mut down = Vec::with_capacity(bytes.len() + 64);
                    stack.send(bytes, &mut down)?;
                    writer.write_all(&down)
                }
            })
            .and_then(|()| writer.flush());
        if let Err(e) = result {
            self.close_transport();
            self.session
                .handle_transport_error(now, format!("write failed: {e}"));
        }
    }

    fn close_transport(&mut self) {
        if let Some(mut live) = self.live.take() {
            let _ = live.writer.flush();
            if let Some(close) = live.closer.take() {
                close();
            }
        }
    }

    /// Opens a connection to `server` on a short-lived thread.
    fn open(&mut self, server: &str) {
        self.close_transport();
        self.generation += 1;
        let generation = self.generation;
        let base = self
            .current_url
            .clone()
            .unwrap_or_else(|| self.first_url.clone());
        let url = if server.contains("://") {
            BrokerUrl::parse(server)
        } else {
            base.redirected(server)
        };
        let input = self.input.clone();
        let url = match url {
            Ok(u) => u,
            Err(e) => {
                let _ = input.send(Input::Opened {
                    generation,
                    url: base,
                    result: Err(io::Error::new(io::ErrorKind::InvalidInput, e.to_string())),
                });
                return;
            }
        };
        self.current_url = Some(url.clone());
        let connector = self.connector.clone();
        let spawned = thread::Builder::new()
            .name("mqtt-connect".into())
            .spawn(move || {
                let result = match connector.lock() {
                    Ok(mut c) => c.connect(&url),
                    Err(_) => Err(io::Error::other("connector poisoned")),
                };
                let _ = input.send(Input::Opened {
                    generation,
                    url,
                    result,
                });
            });
        if let Err(e) = spawned {
            let _ = self.input.send(Input::Opened {
                generation,
                url: base,
                result: Err(e),
            });
        }
    }

    fn opened(&mut self, now: Instant, url: BrokerUrl, connection: Connection) {
        let Connection {
            reader,
            writer,
            closer,
        } = connection;
        let mut down = Vec::new();
        let stack = match Stack::start(&url, &self.tls, &self.ws_headers, &mut down) {
            Ok(s) => s,
            Err(e) => {
                if let Some(c) = closer {
                    c();
                }
                self.session.handle_transport_error(now, e.to_string());
                return;
            }
        };
        self.received.clear();
        self.live = Some(Live {
            writer,
            closer,
            stack,
        });
        if !down.is_empty() {
            self.write_raw(now, &down);
        }
        let generation = self.generation;
        let input = self.input.clone();
        let _ = thread::Builder::new()
            .name("mqtt-read".into())
            .spawn(move || read_loop(reader, generation, input));
        self.session.handle_connected(now);
    }

    fn write_raw(&mut self, now: Instant, bytes: &[u8]) {
        let Some(live) = &mut self.live else { return };
        if let Err(e) = live
            .writer
            .write_all(bytes)
            .and_then(|()| live.writer.flush())
        {
            self.close_transport();
            self.session
                .handle_transport_error(now, format!("write failed: {e}"));
        }
    }

    fn read(&mut self, now: Instant, data: &[u8]) {
        let Some(live) = &mut self.live else { return };
        let mut down = Vec::new();
        match live.stack.receive(data, &mut self.received, &mut down) {
            Ok(open) => {
                if !down.is_empty() {
                    self.write_raw(now, &down);
                }
                self.session.handle_read(now, &mut self.received);
                if !open {
                    self.close_transport();
                    self.session.handle_closed(now);
                }
            }
            Err(e) => {
                self.close_transport();
                self.session.handle_transport_error(now, e.to_string());
            }
        }
    }
}

/// The reader thread of one connection: blocks in `read` and passes bytes on.
fn read_loop(mut reader: Box<dyn Read + Send>, generation: u64, input: Sender<Input>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => {
                let _ = input.send(Input::Closed {
                    generation,
                    error: None,
                });
                return;
            }
            Ok(n) => {
                let data = Bytes::copy_from_slice(&buf[..n]);
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
