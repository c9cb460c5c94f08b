//! The events on their way to the application: a bounded queue between the engine
//! (which fills it) and the application's event iterator or stream (which empties it).
//!
//! The bound is the client's back-pressure: while the queue is full the engine says it
//! does not want to read ([`Engine::wants_read`](crate::Engine::wants_read)), the driver
//! stops reading the socket, and the broker holds the messages.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LockResult, Mutex, MutexGuard, WaitTimeoutResult};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mqtt_session::Event;

use crate::error::Error;

struct Inner {
    queue: VecDeque<Event>,
    closed: bool,
    /// The application waiting for an event.
    consumer: Option<Waker>,
    /// The driver waiting for room.
    producer: Option<Waker>,
    /// The application dropped its event iterator or stream: events are discarded.
    abandoned: bool,
}

/// Events waiting for the application; shared by the engine and the driver's event
/// iterator or stream.
pub struct EventQueue {
    inner: Mutex<Inner>,
    changed: Condvar,
    waiters: AtomicUsize,
    capacity: usize,
    /// The queue's length, mirrored (written under the lock) so that the driver's
    /// check for room, made before every read, takes no lock.
    queued: AtomicUsize,
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl EventQueue {
    /// A queue that stops the reading of the socket once `capacity` events wait.
    pub fn new(capacity: usize) -> Arc<EventQueue> {
        Arc::new(EventQueue {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                closed: false,
                consumer: None,
                producer: None,
                abandoned: false,
            }),
            changed: Condvar::new(),
            waiters: AtomicUsize::new(0),
            capacity: capacity.max(1),
            queued: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.changed.notify_all();
        }
    }

    fn wait_on<'a>(&self, s: MutexGuard<'a, Inner>) -> LockResult<MutexGuard<'a, Inner>> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let r = self.changed.wait(s);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        r
    }

    fn wait_timeout_on<'a>(
        &self,
        s: MutexGuard<'a, Inner>,
        d: Duration,
    ) -> LockResult<(MutexGuard<'a, Inner>, WaitTimeoutResult)> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let r = self.changed.wait_timeout(s, d);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// How many events make the queue full.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Events waiting now.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue is below its bound (the socket may be read).
    pub fn has_room(&self) -> bool {
        self.queued.load(Ordering::Acquire) < self.capacity
    }

    fn mirror(&self, inner: &Inner) {
        self.queued.store(inner.queue.len(), Ordering::Release);
    }

    /// Appends events (the engine's hand-out after a round of inputs: one lock).
    pub(crate) fn push_all(&self, events: &mut Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let waker = {
            let mut inner = self.lock();
            if inner.abandoned {
                log::debug!(
                    "{} events discarded: the event stream was dropped",
                    events.len()
                );
                events.clear();
                return;
            }
            inner.queue.extend(events.drain(..));
            self.mirror(&inner);
            inner.consumer.take()
        };
        self.notify();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Gives back the queue's memory if no event waits (an idle client holds none).
    pub(crate) fn shrink_if_empty(&self) {
        let mut inner = self.lock();
        if inner.queue.is_empty() {
            inner.queue = VecDeque::new();
        }
    }

    /// Puts an event back at the front (a driver that looked at the first event before
    /// handing the stream to the application).
    pub fn put_back(&self, event: Event) {
        let mut inner = self.lock();
        inner.queue.push_front(event);
        self.mirror(&inner);
        drop(inner);
        self.notify();
    }

    /// The application dropped its event iterator or stream: the events waiting are
    /// dropped, later ones are discarded as they come, and the queue never again stops the
    /// reading of the socket (a client whose application only publishes does not stall).
    pub fn abandon(&self) {
        let (queue, producer) = {
            let mut inner = self.lock();
            inner.abandoned = true;
            let queue = core::mem::take(&mut inner.queue);
            self.mirror(&inner);
            (queue, inner.producer.take())
        };
        // Dropped outside the lock: an event's drop runs no code of ours, but stays cheap.
        drop(queue);
        self.notify();
        if let Some(w) = producer {
            w.wake();
        }
    }

    /// Ends the stream once the queued events are taken.
    pub fn close(&self) {
        let (consumer, producer) = {
            let mut inner = self.lock();
            inner.closed = true;
            (inner.consumer.take(), inner.producer.take())
        };
        self.notify();
        for w in [consumer, producer].into_iter().flatten() {
            w.wake();
        }
    }

    /// Whether the stream ended (closed and empty).
    pub fn is_finished(&self) -> bool {
        let inner = self.lock();
        inner.closed && inner.queue.is_empty()
    }

    fn pop(&self, inner: &mut Inner) -> Option<Event> {
        let event = inner.queue.pop_front()?;
        self.mirror(inner);
        if inner.queue.len() < self.capacity
            && let Some(w) = inner.producer.take()
        {
            w.wake();
        }
        Some(event)
    }

    /// The next event if one waits.
    pub fn try_next(&self) -> Option<Event> {
        let mut inner = self.lock();
        let e = self.pop(&mut inner);
        drop(inner);
        if e.is_some() {
            self.notify();
        }
        e
    }

    /// Blocks until an event arrives or (with `timeout`) the time is up:
    /// `Err(Error::Timeout)`, or `Err(Error::Closed)` once the stream ended.
    pub fn next_blocking(&self, timeout: Option<Duration>) -> Result<Event, Error> {
        self.wait_for(timeout, |q, inner| q.pop(inner))
    }

    /// Moves every waiting event to `into` (one lock for a batch, for a consumer that
    /// keeps its own buffer), blocking until there is one or (with `timeout`) the time is
    /// up: `Err(Error::Timeout)`, or `Err(Error::Closed)` once the stream ended. The
    /// events taken no longer count against the bound.
    pub fn take_blocking(
        &self,
        into: &mut VecDeque<Event>,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.wait_for(timeout, |q, inner| {
            if inner.queue.is_empty() {
                return None;
            }
            into.append(&mut inner.queue);
            q.mirror(inner);
            if let Some(w) = inner.producer.take() {
                w.wake();
            }
            Some(())
        })
    }

    /// Runs `take` under the lock until it yields, the stream ended, or the time is up.
    fn wait_for<T>(
        &self,
        timeout: Option<Duration>,
        mut take: impl FnMut(&Self, &mut Inner) -> Option<T>,
    ) -> Result<T, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut inner = self.lock();
        loop {
            if let Some(taken) = take(self, &mut inner) {
                drop(inner);
                self.notify();
                return Ok(taken);
            }
            if inner.closed {
                return Err(Error::Closed);
            }
            inner = match deadline {
                None => self.wait_on(inner).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Timeout);
                    }
                    self.wait_timeout_on(inner, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// The next event for an async consumer; `Ready(None)` once the stream ended.
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut inner = self.lock();
        if let Some(e) = self.pop(&mut inner) {
            drop(inner);
            self.notify();
            return Poll::Ready(Some(e));
        }
        if inner.closed {
            return Poll::Ready(None);
        }
        inner.consumer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// For an async driver: `Ready` once there is room (or the stream ended), else the
    /// waker is woken when the application takes an event.
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.lock();
        if inner.queue.len() < self.capacity || inner.closed || inner.abandoned {
            return Poll::Ready(());
        }
        inner.producer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// For a blocking driver: waits until there is room, the stream ended, or `timeout`
    /// passed; returns whether there is room.
    pub fn wait_room(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return false;
            }
            if inner.queue.len() < self.capacity || inner.abandoned {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            inner = self
                .wait_timeout_on(inner, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_session::DisconnectReason;

    fn event() -> Event {
        Event::Disconnected {
            reason: DisconnectReason::Requested,
            reconnect_at: None,
        }
    }

    #[test]
    fn bound_and_order() {
        let q = EventQueue::new(2);
        assert!(q.has_room());
        q.push_all(&mut vec![event(), event()]);
        assert!(!q.has_room());
        assert!(q.try_next().is_some());
        assert!(q.has_room());
        q.close();
        assert!(!q.is_finished());
        assert!(q.next_blocking(None).is_ok());
        assert!(matches!(q.next_blocking(None), Err(Error::Closed)));
        assert!(q.is_finished());
    }

    #[test]
    fn a_batch_is_taken_in_order_and_frees_the_bound() {
        let q = EventQueue::new(2);
        q.push_all(&mut vec![event(), event()]);
        assert!(!q.has_room());
        let mut taken = VecDeque::new();
        q.take_blocking(&mut taken, None).unwrap();
        assert_eq!(taken.len(), 2);
        assert!(q.has_room() && q.is_empty());
        assert!(matches!(
            q.take_blocking(&mut taken, Some(Duration::from_millis(5))),
            Err(Error::Timeout)
        ));
        q.close();
        assert!(matches!(
            q.take_blocking(&mut taken, None),
            Err(Error::Closed)
        ));
    }

    #[test]
    fn an_abandoned_queue_discards_and_never_blocks_the_reading() {
        let q = EventQueue::new(1);
        q.push_all(&mut vec![event(), event()]);
        assert!(!q.has_room());
        q.abandon();
        assert!(q.has_room() && q.is_empty());
        let mut more = vec![event(), event(), event()];
        q.push_all(&mut more);
        assert!(more.is_empty(), "the events were taken (and dropped)");
        assert!(q.has_room() && q.is_empty());
        assert!(q.wait_room(Duration::from_millis(1)));
    }

    #[test]
    fn timeout_when_nothing_arrives() {
        let q = EventQueue::new(4);
        assert!(matches!(
            q.next_blocking(Some(Duration::from_millis(5))),
            Err(Error::Timeout)
        ));
        assert!(q.wait_room(Duration::from_millis(1)));
    }
}
