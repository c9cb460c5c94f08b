//! The client handle and the event iterator.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_engine::wait::block_until;
use mqtt_engine::{
    Admission, Clock, Command, Completion, Engine, Error, EventQueue, FirstConnection, Mailbox,
    Pending, Reply, acknowledgement_failed, poll_first, request,
};
use mqtt_proto::{
    Publish, QoS, ReasonCode, SubscribeProperties, Subscription, TopicFilter, UnsubscribeProperties,
};
use mqtt_session::{AckToken, AcknowledgeError, DisconnectOptions, Event};

use crate::driver::{Dialer, Driver};
use mqtt_engine::ClientOptions;

/// Commands queued before `publish` & co. wait for the I/O thread to take some: a bound
/// on the memory an application that publishes faster than the network can take.
const COMMAND_QUEUE: usize = 4096;

/// A handle to the client: cheap to clone, usable from any thread.
///
/// `publish`, `subscribe` and `unsubscribe` never wait for the network: they check the
/// request on the calling thread (against the limits of the current connection, so a
/// message the session would refuse is refused at the call), queue it, and return its
/// [`Pending`] at once. Wait on that for the broker's answer; wait on several at once
/// with [`Pending::wait_any`] or [`Events::wait_with`]. Commands never wait on the event
/// iterator, so a command issued while nobody reads events cannot deadlock.
///
/// # Threads
///
/// One thread per client, on TCP, TLS and WebSocket: it waits on the socket, the command
/// queue and the session's next deadline at once (a `mio` poller), and reads, runs the
/// protocol and writes itself. A burst of commands leaves as one vectored write. TCP
/// connects without blocking it, so commands are taken while a connection is being
/// opened; only a host name that is not an IP address is looked up on a short-lived
/// thread (std has no asynchronous DNS lookup). A custom transport
/// ([`ClientOptions::connector`]) costs a thread per connection attempt and a reader
/// thread per connection (it only offers blocking reads).
///
/// # Back-pressure
///
/// When the application leaves [`Events`] unread, the client stops reading the socket
/// once [`ClientOptions::event_buffer`] events wait: the broker holds further messages.
/// If that lasts longer than the keep-alive ping timeout, the PINGRESP stays unread too
/// and the client reconnects. When the application publishes faster than the I/O
/// thread takes commands, `publish` waits once 4096 commands are queued.
#[derive(Clone)]
pub struct Client {
    mailbox: Arc<Mailbox>,
    admission: Arc<Admission>,
    _guard: Arc<Guard>,
}

/// Closes the client (without DISCONNECT) when the last handle is dropped, so its
/// thread ends.
struct Guard(Arc<Mailbox>);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.push(Command::Close {
            done: Reply::new().0,
        });
    }
}

/// What [`Events::wait_with`] woke for.
#[derive(Debug)]
#[non_exhaustive]
// An `Event` is large either way; boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Next {
    /// An event (a message, a connection change).
    Event(Event),
    /// One of the operations ended; its handle was removed from the list.
    Completed {
        /// The index its handle had in the list.
        index: usize,
        /// Its outcome.
        outcome: Result<Completion, Error>,
    },
}

/// The stream of events: incoming messages and connection changes (each operation's
/// outcome goes to its [`Pending`], once: only an operation whose handle was dropped
/// before it ended reports here, its failure as `Event::OperationFailed`, its success
/// with [`ClientOptions::completion_events`]).
///
/// Dropping it tells the client that the application wants no events: they are discarded
/// from then on.
///
/// Iterate it on any thread; it ends when the client is closed.
///
/// It takes the events the client holds in batches (one lock per batch rather than per
/// event), so up to twice [`ClientOptions::event_buffer`] events (each time with what the
/// last read brought beyond the bound) can be held: the client's, and the batch this
/// iterator is handing out.
pub struct Events {
    queue: Arc<EventQueue>,
    /// The batch taken from the queue, handed out first.
    taken: Mutex<VecDeque<Event>>,
}

/// Dropping the iterator says the application wants no events: the client discards
/// them from then on (and never stops reading the socket for want of a reader).
impl Drop for Events {
    fn drop(&mut self) {
        self.queue.abandon();
    }
}

impl Iterator for Events {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.next_within(None).ok()
    }
}

impl Events {
    fn new(queue: Arc<EventQueue>) -> Events {
        Events {
            queue,
            taken: Mutex::new(VecDeque::new()),
        }
    }

    fn taken(&self) -> MutexGuard<'_, VecDeque<Event>> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_within(&self, timeout: Option<Duration>) -> Result<Event, Error> {
        if let Some(event) = self.taken().pop_front() {
            return Ok(event);
        }
        // Not holding `taken` while blocked: `try_next` on another thread stays prompt.
        let mut batch = VecDeque::new();
        self.queue.take_blocking(&mut batch, timeout)?;
        let mut taken = self.taken();
        taken.append(&mut batch);
        taken.pop_front().ok_or(Error::Timeout)
    }

    /// The next event, waiting at most `timeout`. `Err(Error::Timeout)` if none came,
    /// `Err(Error::Closed)` once the client is closed.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, Error> {
        self.next_within(Some(timeout))
    }

    /// The next event if one is waiting.
    pub fn try_next(&self) -> Option<Event> {
        if let Some(event) = self.taken().pop_front() {
            return Some(event);
        }
        self.queue.try_next()
    }

    /// Waits for whichever comes first: an event (a message, or a connection change such
    /// as [`Event::Disconnected`]) or the outcome of one of `pendings` (whose handle is
    /// then removed from the list). Asleep until then: nothing polls.
    /// `Err(Error::Timeout)` if `timeout` passed first, `Err(Error::Closed)` once the
    /// event stream ended and no operation is left.
    ///
    /// ```no_run
    /// # fn demo(client: mqtt_std::Client, events: mqtt_std::Events) -> Result<(), mqtt_std::Error> {
    /// use mqtt_std::{Event, Next, QoS};
    /// let mut pendings = vec![client.publish("a/b", QoS::AtLeastOnce, false, "x")?];
    /// while !pendings.is_empty() {
    ///     match events.wait_with(&mut pendings, None)? {
    ///         Next::Completed { outcome, .. } => println!("published: {outcome:?}"),
    ///         Next::Event(Event::Disconnected { reason, .. }) => println!("lost: {reason:?}"),
    ///         Next::Event(other) => println!("{other:?}"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn wait_with(
        &self,
        pendings: &mut Vec<Pending>,
        timeout: Option<Duration>,
    ) -> Result<Next, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        if let Some(event) = self.taken().pop_front() {
            return Ok(Next::Event(event));
        }
        let next = block_until(deadline, |cx| {
            if let Poll::Ready((index, outcome)) = poll_first(pendings, cx) {
                return Poll::Ready(Some(Next::Completed { index, outcome }));
            }
            match self.queue.poll_next(cx) {
                Poll::Ready(Some(event)) => Poll::Ready(Some(Next::Event(event))),
                Poll::Ready(None) if pendings.is_empty() => Poll::Ready(None),
                // The stream ended: the operations fail with `Closed` at once.
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            }
        });
        match next {
            None => Err(Error::Timeout),
            Some(None) => Err(Error::Closed),
            Some(Some(next)) => {
                if let Next::Completed { index, .. } = &next {
                    drop(pendings.remove(*index));
                }
                Ok(next)
            }
        }
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
                        events.taken().push_front(event);
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
        let dialer = match driver.blocking_connector()? {
            None => Dialer::Tcp(driver.connect_timeout),
            Some(c) => Dialer::Custom(Arc::new(Mutex::new(c))),
        };
        let clock = Clock::new();
        engine.start(clock.now())?;
        let admission = engine.admission();
        let mailbox = Mailbox::new(COMMAND_QUEUE);
        let driver = Driver::new(engine, clock, mailbox.clone(), events.clone(), dialer)
            .map_err(Error::Io)?;
        thread::Builder::new()
            .name("mqtt-io".into())
            .spawn(move || driver.run())
            .map_err(Error::Io)?;
        let client = Client {
            _guard: Arc::new(Guard(mailbox.clone())),
            mailbox,
            admission,
        };
        Ok((client, Events::new(events)))
    }

    /// Queues a command for the I/O thread (waiting while the queue is full); returns
    /// the handle to its outcome.
    fn send(&self, make: impl FnOnce(Reply) -> Command) -> Result<Pending, Error> {
        block_until(None, |cx| self.mailbox.poll_room(cx));
        let (reply, pending) = Reply::new();
        self.mailbox.push(make(reply))?;
        Ok(pending)
    }

    /// Sends a command and waits for it to be carried out.
    fn call(&self, make: impl FnOnce(Reply) -> Command) -> Result<(), Error> {
        self.send(make)?.wait().map(|_| ())
    }

    /// Publishes `payload` to `topic`; returns at once. Wait on the returned handle for
    /// the broker's acknowledgement (QoS 1/2); a QoS 0 publish completes as soon as it is
    /// handed to the connection. A message the session would refuse (an invalid topic, a
    /// QoS above the server's maximum, too large for the server) is refused here.
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
        self.send(self.admission.publish(message)?)
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
        self.send(self.admission.subscribe(subscriptions, properties)?)
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
        self.send(self.admission.unsubscribe(filters, properties)?)
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
    pub fn acknowledge(
        &self,
        token: AckToken,
        reason_code: ReasonCode,
    ) -> Result<(), AcknowledgeError> {
        let make = self.admission.acknowledge(token, reason_code)?;
        self.call(make).map_err(acknowledgement_failed)
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
