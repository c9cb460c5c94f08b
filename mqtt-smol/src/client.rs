//! The client handle and the event stream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::Timer;
use bytes::Bytes;
use futures_lite::{FutureExt, Stream, future};
use mqtt_engine::{
    Admission, ClientOptions, Clock, Command, Engine, Error, EventQueue, FirstConnection, Mailbox,
    Pending, Reply, acknowledgement_failed, request,
};
use mqtt_proto::{
    Publish, QoS, ReasonCode, SubscribeProperties, Subscription, TopicFilter, UnsubscribeProperties,
};
use mqtt_session::{AckToken, AcknowledgeError, DisconnectOptions, Event};

use crate::driver::{Dialer, Driver};

/// Commands that may wait in the queue before `publish` & co. wait for room.
const COMMAND_QUEUE: usize = 4096;

/// A handle to the async client: cheap to clone, usable from any task or thread.
///
/// Each command goes into the client's queue and returns at once with a [`Pending`]
/// that completes when the broker answered; the client's one [`Driver`] task takes
/// every queued command in one go, so a burst of publishes leaves in one write.
///
/// # Cancellation
///
/// Every future of this type is cancellation safe: `publish`, `subscribe` and
/// `unsubscribe` wait only for room in the command queue, before anything is queued, so
/// dropping one either queued the command (it returned) or did nothing. A returned
/// [`Pending`] can be dropped without cancelling the operation. Dropping the future of
/// [`Client::connect`] closes the client it was starting.
#[derive(Clone)]
pub struct Client {
    mailbox: Arc<Mailbox>,
    admission: Arc<Admission>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.mailbox.is_closed())
            .finish()
    }
}

/// Closes the client (without DISCONNECT) when the last handle is dropped, so the driver
/// ends.
struct Guard(Arc<Mailbox>);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.push(Command::Close {
            done: Reply::new().0,
        });
    }
}

/// The stream of events: incoming messages and connection changes (each operation's
/// outcome goes to its [`Pending`], once: only an operation whose handle was dropped
/// before it ended reports here, its failure as `Event::OperationFailed`, its success
/// with [`ClientOptions::completion_events`]).
///
/// Dropping it tells the client that the application wants no events: they are discarded
/// from then on. It ends when the client is closed.
///
/// Taking events is what lets the client read more: once
/// [`ClientOptions::event_buffer`] events wait, the driver stops reading the socket and
/// the broker holds further messages. `next()` is cancellation safe: an event is taken
/// only when it is returned.
pub struct Events {
    queue: Arc<EventQueue>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("queue", &self.queue)
            .finish()
    }
}

/// Dropping the stream says the application wants no events: the client discards them
/// from then on (and never stops reading the socket for want of a reader).
impl Drop for Events {
    fn drop(&mut self) {
        self.queue.abandon();
    }
}

impl Stream for Events {
    type Item = Event;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.queue.poll_next(cx)
    }
}

impl Events {
    /// The next event, or `None` once the client is closed.
    pub async fn recv(&self) -> Option<Event> {
        self.queue_next().await
    }

    /// The next event, waiting at most `timeout`: `Err(Error::Timeout)` if none came,
    /// `Err(Error::Closed)` once the client is closed.
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<Event, Error> {
        let next = async { self.queue_next().await.ok_or(Error::Closed) };
        next.or(async {
            Timer::after(timeout).await;
            Err(Error::Timeout)
        })
        .await
    }

    /// The next event if one is waiting.
    pub fn try_next(&self) -> Option<Event> {
        self.queue.try_next()
    }

    async fn queue_next(&self) -> Option<Event> {
        future::poll_fn(|cx| self.queue.poll_next(cx)).await
    }
}

impl Client {
    /// Builds a client without starting anything: returns the handle, the event stream
    /// and the [`Driver`] future to spawn on the executor of your choice. Commands given
    /// before the connection is up are queued.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), mqtt_smol::Error> {
    /// use mqtt_smol::{Client, ClientOptions};
    /// let (client, events, driver) = Client::new(ClientOptions::new("mqtt://127.0.0.1", "id")?)?;
    /// smol::spawn(driver).detach(); // or tokio::spawn(driver), or block_on(zip(driver, app))
    /// # Ok(()) }
    /// ```
    pub fn new(options: ClientOptions) -> Result<(Client, Events, Driver), Error> {
        let (mut engine, mut driver, events) = Engine::new(options)?;
        let dialer = match driver.async_connector()? {
            None => Dialer::Tcp(driver.connect_timeout),
            Some(c) => Dialer::Custom(c),
        };
        let clock = Clock::new();
        engine.start(clock.now())?;
        let admission = engine.admission();
        let mailbox = Mailbox::new(COMMAND_QUEUE);
        let driver = Driver::new(engine, clock, mailbox.clone(), events.clone(), dialer);
        let client = Client {
            _guard: Arc::new(Guard(mailbox.clone())),
            mailbox,
            admission,
        };
        Ok((client, Events { queue: events }, driver))
    }

    /// Starts the client on smol's global executor without waiting for the connection.
    pub fn start(options: ClientOptions) -> Result<(Client, Events), Error> {
        let (client, events, driver) = Client::new(options)?;
        smol::spawn(driver).detach();
        Ok((client, events))
    }

    /// Starts the client on smol's global executor and waits until the first connection
    /// is accepted (or refused, or `connect_timeout` passes). The first event of the
    /// stream is [`Event::Connected`].
    pub async fn connect(options: ClientOptions) -> Result<(Client, Events), Error> {
        let timeout = options.driver_connect_timeout();
        let (client, events) = Client::start(options)?;
        match wait_connected(&client, &events, timeout).await {
            Ok(()) => Ok((client, events)),
            Err(e) => {
                let _ = client.close().await;
                Err(e)
            }
        }
    }

    /// Queues a command once the queue has room; returns the handle to its outcome.
    async fn send(&self, make: impl FnOnce(Reply) -> Command) -> Result<Pending, Error> {
        future::poll_fn(|cx| self.mailbox.poll_room(cx)).await;
        let (reply, pending) = Reply::new();
        self.mailbox.push(make(reply))?;
        Ok(pending)
    }

    async fn call(&self, make: impl FnOnce(Reply) -> Command) -> Result<(), Error> {
        self.send(make).await?.await.map(|_| ())
    }

    /// Publishes `payload` to `topic`; the [`Pending`] completes when the broker
    /// acknowledged it (QoS 1/2) or it was handed to the connection (QoS 0). A message
    /// the session would refuse (too large for the server, QoS above its maximum...) is
    /// refused here with [`Error::Usage`], judged by the limits of the current
    /// connection; if those change before the driver takes it (a reconnect), the
    /// `Pending` fails with the session's refusal instead.
    pub async fn publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Bytes>,
    ) -> Result<Pending, Error> {
        self.publish_message(request::message(topic, qos, retain, payload)?)
            .await
    }

    /// Publishes a fully built message (5.0 properties included).
    pub async fn publish_message(&self, message: Publish) -> Result<Pending, Error> {
        self.send(self.admission.publish(message)?).await
    }

    /// Subscribes to `filter` with maximum QoS `qos`.
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> Result<Pending, Error> {
        self.subscribe_many(
            request::subscription(filter, qos)?,
            SubscribeProperties::default(),
        )
        .await
    }

    /// Subscribes to several filters with their options and 5.0 properties.
    pub async fn subscribe_many(
        &self,
        subscriptions: Vec<Subscription>,
        properties: SubscribeProperties,
    ) -> Result<Pending, Error> {
        self.send(self.admission.subscribe(subscriptions, properties)?)
            .await
    }

    /// Unsubscribes from `filter` (the exact string subscribed with).
    pub async fn unsubscribe(&self, filter: &str) -> Result<Pending, Error> {
        self.unsubscribe_many(request::filters(filter)?, UnsubscribeProperties::default())
            .await
    }

    /// Unsubscribes from several filters.
    pub async fn unsubscribe_many(
        &self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<Pending, Error> {
        self.send(self.admission.unsubscribe(filters, properties)?)
            .await
    }

    /// Acknowledges a message received with manual acknowledgements
    /// ([`ClientOptions::manual_acks`]), with its token. Under 5.0 a reason code of 0x80
    /// or more refuses the message; 3.1.1 can only accept ([`ReasonCode::Success`]).
    ///
    /// Acknowledgements go out in the order the messages arrived (the specification
    /// requires it), so a message whose token is never used holds back the
    /// acknowledgement of every later one, and the broker stops sending once its quota
    /// is used up; the session option `acknowledgement_timeout` bounds the wait. A
    /// refused reason code hands the token back in the error, to acknowledge again.
    pub async fn acknowledge(
        &self,
        token: AckToken,
        reason_code: ReasonCode,
    ) -> Result<(), AcknowledgeError> {
        let make = self.admission.acknowledge(token, reason_code)?;
        self.call(make).await.map_err(acknowledgement_failed)
    }

    /// Answers the server's AUTH challenge ([`Event::AuthChallenge`], 5.0).
    pub async fn authenticate(&self, data: Option<Bytes>) -> Result<(), Error> {
        self.call(|done| Command::Authenticate { data, done }).await
    }

    /// Starts re-authentication with the method of the connection (5.0).
    pub async fn reauthenticate(&self, data: Option<Bytes>) -> Result<(), Error> {
        self.call(|done| Command::Reauthenticate { data, done })
            .await
    }

    /// Disconnects normally (DISCONNECT 0x00: the broker drops the Will) and closes the
    /// client; completes once DISCONNECT is written.
    pub async fn disconnect(&self) -> Result<(), Error> {
        self.disconnect_with(DisconnectOptions::default()).await
    }

    /// Disconnects with options (5.0: publish the Will anyway, new session expiry...).
    pub async fn disconnect_with(&self, options: DisconnectOptions) -> Result<(), Error> {
        self.call(|done| Command::Disconnect { options, done })
            .await
    }

    /// Closes the client without a DISCONNECT, as if the network failed: the broker
    /// publishes the Will.
    pub async fn close(&self) -> Result<(), Error> {
        self.call(|done| Command::Close { done }).await
    }
}

/// Waits for the outcome of the first connection; puts the Connected event back for
/// the application.
async fn wait_connected(_client: &Client, events: &Events, timeout: Duration) -> Result<(), Error> {
    let mut first = FirstConnection::new();
    let watch = async {
        loop {
            let Some(event) = events.queue_next().await else {
                return Err(Error::Closed);
            };
            match first.on_event(&event) {
                Some(Ok(())) => {
                    events.queue.put_back(event);
                    return Ok(());
                }
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
    };
    let outcome = watch
        .or(async {
            Timer::after(timeout).await;
            Err(Error::Timeout)
        })
        .await;
    match outcome {
        Err(Error::Timeout) => Err(first.timed_out()),
        other => other,
    }
}
