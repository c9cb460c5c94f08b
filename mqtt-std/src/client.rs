//! The client handle and the event iterator.

use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_engine::{
    Clock, Command, Engine, Error, EventQueue, FirstConnection, Pending, Reply, request,
};
use mqtt_proto::{
    Publish, QoS, ReasonCode, SubscribeProperties, Subscription, TopicFilter, UnsubscribeProperties,
};
use mqtt_session::{AckToken, DisconnectOptions, Event};

use crate::driver::{Driver, Input};
use crate::tcp::TcpConnector;
use mqtt_engine::ClientOptions;

/// A handle to the client: cheap to clone, usable from any thread. Commands go to the
/// client's I/O thread over a channel and never wait on the event iterator, so a command
/// issued while nobody reads events cannot deadlock.
///
/// # Threads
///
/// One I/O thread owns the engine (protocol session, TLS / WebSocket layers) and the
/// connection: it writes, runs timers, and hands events out. One reader thread per
/// connection blocks in `read` and passes the bytes on; a short-lived thread opens each
/// connection, so a slow DNS lookup, TCP or TLS connect never holds up commands. Nothing
/// polls: every thread sleeps until bytes, a command or the session's next deadline
/// arrives.
///
/// # Back-pressure
///
/// When the application leaves [`Events`] unread, the reader thread stops reading once
/// [`ClientOptions::event_buffer`] events wait: the broker holds further messages. If
/// that lasts longer than the keep-alive ping timeout, the PINGRESP stays unread too and
/// the client reconnects.
#[derive(Clone)]
pub struct Client {
    tx: Sender<Input>,
    _guard: Arc<Guard>,
}

/// Closes the client (without DISCONNECT) when the last handle is dropped, so its
/// threads end.
struct Guard(Sender<Input>);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.send(Input::Command(Command::Close {
            done: Reply::new().0,
        }));
    }
}

/// The stream of events: incoming messages and connection changes (each operation's
/// outcome goes to its [`Pending`]).
///
/// Iterate it on any thread; it ends when the client is closed.
pub struct Events {
    queue: Arc<EventQueue>,
}

impl Iterator for Events {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.queue.next_blocking(None).ok()
    }
}

impl Events {
    /// The next event, waiting at most `timeout`. `Err(Error::Timeout)` if none came,
    /// `Err(Error::Closed)` once the client is closed.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, Error> {
        self.queue.next_blocking(Some(timeout))
    }

    /// The next event if one is waiting.
    pub fn try_next(&self) -> Option<Event> {
        self.queue.try_next()
    }

    /// Hands every event to `handler` on a thread of its own, for code that reads better
    /// as a callback than as a loop. The thread ends when the client is closed.
    ///
    /// The handler may call the [`Client`] (commands never wait for the event stream).
    pub fn spawn_handler<F>(self, mut handler: F) -> std::io::Result<thread::JoinHandle<()>>
    where
        F: FnMut(Event) + Send + 'static,
    {
        thread::Builder::new()
            .name("mqtt-events-handler".into())
            .spawn(move || {
                for event in self {
                    handler(event);
                }
            })
    }
}

impl Client {
    /// Starts the client and waits until the first connection is accepted (or refused,
    /// or `connect_timeout` passes). Returns the handle and the event iterator; the first
    /// event is [`Event::Connected`].
    pub fn connect(options: ClientOptions) -> Result<(Client, Events), Error> {
        let timeout = options.driver_connect_timeout();
        let (client, events) = Client::start(options)?;
        let deadline = Instant::now() + timeout;
        let mut first = FirstConnection::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok(event) => match first.on_event(&event) {
                    Some(Ok(())) => {
                        // Hand the Connected event to the application too.
                        events.queue.put_back(event);
                        return Ok((client, events));
                    }
                    Some(Err(e)) => {
                        let _ = client.close();
                        return Err(e);
                    }
                    None => {}
                },
                Err(Error::Timeout) => {
                    let _ = client.close();
                    return Err(first.timed_out());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts the client without waiting: it connects in the background (watch the
    /// events) and queues commands until then.
    pub fn start(options: ClientOptions) -> Result<(Client, Events), Error> {
        let (mut engine, mut driver, events) = Engine::new(options)?;
        let connector = match driver.blocking_connector()? {
            None => Box::new(TcpConnector {
                timeout: driver.connect_timeout,
            }),
            Some(c) => c,
        };
        let clock = Clock::new();
        engine.start(clock.now())?;
        let (tx, rx) = mpsc::channel();
        let driver = Driver::new(engine, clock, connector, tx.clone(), events.clone());
        thread::Builder::new()
            .name("mqtt-io".into())
            .spawn(move || driver.run(rx))
            .map_err(Error::Io)?;
        let client = Client {
            _guard: Arc::new(Guard(tx.clone())),
            tx,
        };
        Ok((client, Events { queue: events }))
    }

    /// Sends a command to the I/O thread; returns the handle to its outcome.
    fn send(&self, make: impl FnOnce(Reply) -> Command) -> Result<Pending, Error> {
        let (reply, pending) = Reply::new();
        self.tx
            .send(Input::Command(make(reply)))
            .map_err(|_| Error::Closed)?;
        Ok(pending)
    }

    /// Sends an operation and waits until the session took it (local checks passed).
    fn operation(&self, make: impl FnOnce(Reply) -> Command) -> Result<Pending, Error> {
        let pending = self.send(make)?;
        pending.wait_accepted()?;
        Ok(pending)
    }

    /// Sends a command and waits for it to be carried out.
    fn call(&self, make: impl FnOnce(Reply) -> Command) -> Result<(), Error> {
        self.send(make)?.wait().map(|_| ())
    }

    /// Publishes `payload` to `topic`. Wait on the returned handle for the broker's
    /// acknowledgement (QoS 1/2); a QoS 0 publish completes as soon as it is handed to the
    /// connection.
    pub fn publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Bytes>,
    ) -> Result<Pending, Error> {
        self.publish_message(request::message(topic, qos, retain, payload)?)
    }

    /// Publishes a fully built message (5.0 properties included).
    pub fn publish_message(&self, message: Publish) -> Result<Pending, Error> {
        self.operation(|done| Command::Publish { message, done })
    }

    /// Subscribes to `filter` with maximum QoS `qos`.
    pub fn subscribe(&self, filter: &str, qos: QoS) -> Result<Pending, Error> {
        self.subscribe_many(
            request::subscription(filter, qos)?,
            SubscribeProperties::default(),
        )
    }

    /// Subscribes to several filters with their options and 5.0 properties.
    pub fn subscribe_many(
        &self,
        subscriptions: Vec<Subscription>,
        properties: SubscribeProperties,
    ) -> Result<Pending, Error> {
        self.operation(|done| Command::Subscribe {
            subscriptions,
            properties,
            done,
        })
    }

    /// Unsubscribes from `filter` (the exact string subscribed with).
    pub fn unsubscribe(&self, filter: &str) -> Result<Pending, Error> {
        self.unsubscribe_many(request::filters(filter)?, UnsubscribeProperties::default())
    }

    /// Unsubscribes from several filters.
    pub fn unsubscribe_many(
        &self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<Pending, Error> {
        self.operation(|done| Command::Unsubscribe {
            filters,
            properties,
            done,
        })
    }

    /// Acknowledges a message received with manual acknowledgements.
    pub fn acknowledge(&self, token: AckToken, reason_code: ReasonCode) -> Result<(), Error> {
        self.call(|done| Command::Acknowledge {
            token,
            reason_code,
            done,
        })
    }

    /// Answers the server's AUTH challenge ([`Event::AuthChallenge`], 5.0).
    pub fn authenticate(&self, data: Option<Bytes>) -> Result<(), Error> {
        self.call(|done| Command::Authenticate { data, done })
    }

    /// Starts re-authentication with the method of the connection (5.0).
    pub fn reauthenticate(&self, data: Option<Bytes>) -> Result<(), Error> {
        self.call(|done| Command::Reauthenticate { data, done })
    }

    /// Disconnects normally (DISCONNECT 0x00: the broker drops the Will) and closes the
    /// client; returns once DISCONNECT is written.
    pub fn disconnect(&self) -> Result<(), Error> {
        self.disconnect_with(DisconnectOptions::default())
    }

    /// Disconnects with options (5.0: publish the Will anyway, new session expiry...).
    pub fn disconnect_with(&self, options: DisconnectOptions) -> Result<(), Error> {
        self.call(|done| Command::Disconnect { options, done })
    }

    /// Closes the client without a DISCONNECT, as if the network failed: the broker
    /// publishes the Will.
    pub fn close(&self) -> Result<(), Error> {
        self.call(|done| Command::Close { done })
    }
}
