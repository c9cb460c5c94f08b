//! What the application asks of the client, and the queue that carries it to the
//! driver: commands pile up while the driver is busy and are taken in one batch, so a
//! burst of publishes becomes one round of inputs and one write.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use mqtt_proto::{
    Publish, ReasonCode, SubscribeProperties, Subscription, TopicFilter, UnsubscribeProperties,
};
use mqtt_session::{AckToken, DisconnectOptions};

use crate::completion::Reply;
use crate::error::Error;

/// One request of the application; its outcome goes to `done`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Command {
    /// Publish a message.
    Publish {
        /// The message.
        message: Publish,
        /// Where its outcome goes.
        done: Reply,
    },
    /// Subscribe.
    Subscribe {
        /// Filters with their options.
        subscriptions: Vec<Subscription>,
        /// 5.0 properties.
        properties: SubscribeProperties,
        /// Where its outcome goes.
        done: Reply,
    },
    /// Unsubscribe.
    Unsubscribe {
        /// The filters.
        filters: Vec<TopicFilter>,
        /// 5.0 properties.
        properties: UnsubscribeProperties,
        /// Where its outcome goes.
        done: Reply,
    },
    /// Acknowledge a message received with manual acknowledgements.
    Acknowledge {
        /// The message's token.
        token: AckToken,
        /// The reason code to answer with.
        reason_code: ReasonCode,
        /// Where the outcome goes.
        done: Reply,
    },
    /// Answer the server's AUTH challenge (5.0 enhanced authentication).
    Authenticate {
        /// Authentication Data.
        data: Option<Bytes>,
        /// Where the outcome goes.
        done: Reply,
    },
    /// Start re-authentication (5.0).
    Reauthenticate {
        /// Authentication Data.
        data: Option<Bytes>,
        /// Where the outcome goes.
        done: Reply,
    },
    /// Send DISCONNECT and close; `done` completes once it is written.
    Disconnect {
        /// Reason, session expiry, Will.
        options: DisconnectOptions,
        /// Where the outcome goes.
        done: Reply,
    },
    /// Close without DISCONNECT, as if the network failed (the broker publishes the
    /// Will).
    Close {
        /// Where the outcome goes.
        done: Reply,
    },
}

impl Command {
    /// The slot its outcome goes to.
    pub fn reply(&self) -> &Reply {
        match self {
            Command::Publish { done, .. }
            | Command::Subscribe { done, .. }
            | Command::Unsubscribe { done, .. }
            | Command::Acknowledge { done, .. }
            | Command::Authenticate { done, .. }
            | Command::Reauthenticate { done, .. }
            | Command::Disconnect { done, .. }
            | Command::Close { done } => done,
        }
    }
}

struct Inner {
    commands: VecDeque<Command>,
    closed: bool,
    driver: Option<Waker>,
    senders: Vec<Waker>,
}

/// The command queue from the client handles to the driver: a mutex-guarded queue and
/// the driver's waker. Pushing never blocks; `capacity` bounds it for senders that
/// wait for room ([`Mailbox::poll_room`]).
pub struct Mailbox {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Mailbox {
    /// A queue that asks senders to wait once `capacity` commands wait.
    pub fn new(capacity: usize) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            inner: Mutex::new(Inner {
                commands: VecDeque::new(),
                closed: false,
                driver: None,
                senders: Vec::new(),
            }),
            capacity: capacity.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `command` and wakes the driver. If the client is closed the command is
    /// dropped, which fails its [`Reply`] with [`Error::Closed`].
    pub fn push(&self, command: Command) -> Result<(), Error> {
        let waker = {
            let mut inner = self.lock();
            if inner.closed {
                return Err(Error::Closed);
            }
            inner.commands.push_back(command);
            inner.driver.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// `Ready` when a command can be queued without passing the bound (or the client is
    /// closed: the push then fails).
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.lock();
        if inner.closed || inner.commands.len() < self.capacity {
            return Poll::Ready(());
        }
        inner.senders.push(cx.waker().clone());
        Poll::Pending
    }

    /// For the driver: moves every queued command to `into`; when there are none,
    /// registers `cx`'s waker and returns `false`.
    pub fn poll_take(&self, cx: &mut Context<'_>, into: &mut VecDeque<Command>) -> bool {
        let senders = {
            let mut inner = self.lock();
            if inner.commands.is_empty() {
                match &inner.driver {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => inner.driver = Some(cx.waker().clone()),
                }
                return false;
            }
            into.append(&mut inner.commands);
            std::mem::take(&mut inner.senders)
        };
        for w in senders {
            w.wake();
        }
        true
    }

    /// Refuses further commands; returns those still queued (the driver fails them).
    pub fn close(&self) -> VecDeque<Command> {
        let (commands, senders) = {
            let mut inner = self.lock();
            inner.closed = true;
            (
                std::mem::take(&mut inner.commands),
                std::mem::take(&mut inner.senders),
            )
        };
        for w in senders {
            w.wake();
        }
        commands
    }

    /// Whether the driver has gone.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}
