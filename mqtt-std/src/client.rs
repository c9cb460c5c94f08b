//! The client handle, operation handles and the event iterator.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_proto::{
    Publish, QoS, ReasonCode, SubscribeProperties, Subscription, TopicFilter, TopicName,
    UnsubscribeProperties,
};
use mqtt_session::{AckToken, DisconnectOptions, Event};

use crate::driver::{Command, Driver, Input};
use crate::error::Error;
use crate::options::ClientOptions;

/// A handle to the client: cheap to clone, usable from any thread. Commands go to the
/// client's I/O thread over a channel and never wait on the event iterator, so a command
/// issued while nobody reads events cannot deadlock.
///
/// # Threads
///
/// One I/O thread owns the protocol session and the connection: it writes, runs timers,
/// and hands events out. One reader thread per connection blocks in `read` and passes
/// the bytes on; a short-lived thread opens each connection, so a slow TCP or TLS
/// connect never holds up commands. Nothing polls: every thread sleeps until bytes, a
/// command or the session's next deadline arrives.
#[derive(Clone)]
pub struct Client {
    tx: Sender<Input>,
    _guard: std::sync::Arc<Guard>,
}

/// Closes the client (without DISCONNECT) when the last handle is dropped, so its
/// threads end.
struct Guard(Sender<Input>);

impl Drop for Guard {
    fn drop(&mut self) {
        let (reply, _) = mpsc::channel();
        let _ = self.0.send(Input::Command(Command::Close { reply }));
    }
}

/// The stream of events: incoming messages, connection changes, completions.
///
/// Iterate it on any thread; it ends when the client is closed.
pub struct Events {
    rx: Receiver<Event>,
}

impl Iterator for Events {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.rx.recv().ok()
    }
}

impl Events {
    /// The next event, waiting at most `timeout`. `Err(Error::Timeout)` if none came,
    /// `Err(Error::Closed)` once the client is closed.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, Error> {
        self.rx.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => Error::Timeout,
            RecvTimeoutError::Disconnected => Error::Closed,
        })
    }

    /// The next event if one is waiting.
    pub fn try_next(&self) -> Option<Event> {
        self.rx.try_recv().ok()
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

/// How a publish, subscribe or unsubscribe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// A QoS 0 publish was handed to the connection.
    Sent,
    /// A QoS 1/2 publish was acknowledged (PUBACK / PUBCOMP reason code).
    Published(ReasonCode),
    /// SUBACK: granted QoS or failure per filter.
    Subscribed(Vec<ReasonCode>),
    /// UNSUBACK: per filter.
    Unsubscribed(Vec<ReasonCode>),
}

/// An operation in progress: wait for the broker's answer.
#[must_use = "an operation handle does nothing unless waited on; drop it to not wait"]
pub struct Pending {
    rx: Receiver<Result<Completion, Error>>,
}

impl Pending {
    pub(crate) fn new() -> (Sender<Result<Completion, Error>>, Pending) {
        let (tx, rx) = mpsc::channel();
        (tx, Pending { rx })
    }

    /// Waits until the broker answered.
    pub fn wait(self) -> Result<Completion, Error> {
        self.rx.recv().unwrap_or(Err(Error::Closed))
    }

    /// Waits at most `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Completion, Error> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(Error::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(Error::Closed),
        }
    }
}

impl Client {
    /// Starts the client and waits until the first connection is accepted (or refused,
    /// or `connect_timeout` passes). Returns the handle and the event iterator; the first
    /// event is [`Event::Connected`].
    pub fn connect(options: ClientOptions) -> Result<(Client, Events), Error> {
        let timeout = options.connect_timeout;
        let (client, events) = Client::start(options)?;
        let deadline = Instant::now() + timeout;
        let mut last_reason = None;
        let first = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok(Event::Connected(c)) => break Event::Connected(c),
                Ok(Event::Disconnected {
                    reason,
                    reconnect_at,
                }) => {
                    if let mqtt_session::DisconnectReason::Refused { reason_code, .. } = &reason {
                        let _ = client.close();
                        return Err(Error::ConnectionRefused {
                            reason_code: *reason_code,
                        });
                    }
                    if reconnect_at.is_none() {
                        let _ = client.close();
                        return Err(Error::Disconnected(reason));
                    }
                    last_reason = Some(reason);
                }
                Ok(_) => {}
                Err(Error::Timeout) => {
                    let _ = client.close();
                    // Say why the attempts failed, if they did.
                    return Err(last_reason.map_or(Error::Timeout, Error::Disconnected));
                }
                Err(e) => return Err(e),
            }
        };
        // Hand the Connected event to the application too.
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(first);
        let forward = events;
        thread::Builder::new()
            .name("mqtt-events".into())
            .spawn(move || {
                for e in forward {
                    if tx.send(e).is_err() {
                        break;
                    }
                }
            })
            .map_err(Error::Io)?;
        Ok((client, Events { rx }))
    }

    /// Starts the client without waiting: it connects in the background (watch the
    /// events) and queues commands until then.
    pub fn start(options: ClientOptions) -> Result<(Client, Events), Error> {
        let (tx, rx) = mpsc::channel();
        let (events_tx, events_rx) = mpsc::channel();
        let driver = Driver::new(options, tx.clone(), events_tx)?;
        thread::Builder::new()
            .name("mqtt-io".into())
            .spawn(move || driver.run(rx))
            .map_err(Error::Io)?;
        let client = Client {
            _guard: std::sync::Arc::new(Guard(tx.clone())),
            tx,
        };
        client.call(|reply| Command::Connect { reply })?;
        Ok((client, Events { rx: events_rx }))
    }

    /// Sends a command to the I/O thread and waits for it to be accepted.
    fn call<T>(&self, make: impl FnOnce(Sender<Result<T, Error>>) -> Command) -> Result<T, Error> {
        let (reply, rx) = mpsc::channel();
        self.tx
            .send(Input::Command(make(reply)))
            .map_err(|_| Error::Closed)?;
        rx.recv().unwrap_or(Err(Error::Closed))
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
        let topic = TopicName::try_from(topic)?;
        self.publish_message(
            Publish::new(topic, payload)
                .with_qos(qos, None)
                .with_retain(retain),
        )
    }

    /// Publishes a fully built message (5.0 properties included).
    pub fn publish_message(&self, message: Publish) -> Result<Pending, Error> {
        self.call(|reply| Command::Publish { message, reply })
    }

    /// Subscribes to `filter` with maximum QoS `qos`.
    pub fn subscribe(&self, filter: &str, qos: QoS) -> Result<Pending, Error> {
        let filter = TopicFilter::try_from(filter)?;
        self.subscribe_many(
            vec![Subscription::new(filter, qos)],
            SubscribeProperties::default(),
        )
    }

    /// Subscribes to several filters with their options and 5.0 properties.
    pub fn subscribe_many(
        &self,
        subscriptions: Vec<Subscription>,
        properties: SubscribeProperties,
    ) -> Result<Pending, Error> {
        self.call(|reply| Command::Subscribe {
            subscriptions,
            properties,
            reply,
        })
    }

    /// Unsubscribes from `filter` (the exact string subscribed with).
    pub fn unsubscribe(&self, filter: &str) -> Result<Pending, Error> {
        let filter = TopicFilter::try_from(filter)?;
        self.unsubscribe_many(vec![filter], UnsubscribeProperties::default())
    }

    /// Unsubscribes from several filters.
    pub fn unsubscribe_many(
        &self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<Pending, Error> {
        self.call(|reply| Command::Unsubscribe {
            filters,
            properties,
            reply,
        })
    }

    /// Acknowledges a message received with manual acknowledgements.
    pub fn acknowledge(&self, token: AckToken, reason_code: ReasonCode) -> Result<(), Error> {
        self.call(|reply| Command::Acknowledge {
            token,
            reason_code,
            reply,
        })
    }

    /// Disconnects normally (DISCONNECT 0x00: the broker drops the Will) and closes the
    /// client; returns once DISCONNECT is written.
    pub fn disconnect(&self) -> Result<(), Error> {
        self.disconnect_with(DisconnectOptions::default())
    }

    /// Disconnects with options (5.0: publish the Will anyway, new session expiry...).
    pub fn disconnect_with(&self, options: DisconnectOptions) -> Result<(), Error> {
        self.call(|reply| Command::Disconnect { options, reply })
    }

    /// Closes the client without a DISCONNECT, as if the network failed: the broker
    /// publishes the Will.
    pub fn close(&self) -> Result<(), Error> {
        self.call(|reply| Command::Close { reply })
    }
}
