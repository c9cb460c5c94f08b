//! How an operation's outcome reaches whoever waits for it: one shared slot per
//! operation, written once by the engine, read by a blocking waiter or a future.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LockResult, Mutex, MutexGuard, WaitTimeoutResult};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mqtt_proto::ReasonCode;

use crate::error::Error;
use crate::events::EventQueue;
use crate::wait::block_until;
use mqtt_session::{Event, OperationId};

/// How a publish, subscribe or unsubscribe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// A QoS 0 publish was handed to the connection (or another command was carried
    /// out).
    Sent,
    /// A QoS 1/2 publish was acknowledged (PUBACK / PUBCOMP reason code).
    Published(ReasonCode),
    /// SUBACK: granted QoS or failure per filter.
    Subscribed(Vec<ReasonCode>),
    /// UNSUBACK: per filter.
    Unsubscribed(Vec<ReasonCode>),
}

#[derive(Default)]
struct SlotState {
    /// The engine took the command (it passed the session's checks).
    accepted: bool,
    result: Option<Result<Completion, Error>>,
    /// The result was handed out.
    taken: bool,
    waker: Option<Waker>,
    /// Where the outcome goes if the handle is dropped with it untaken.
    orphan: Option<Orphan>,
    /// The handle was dropped.
    dropped: bool,
}

/// The event stream an outcome goes to when its handle was dropped before taking it.
struct Orphan {
    id: OperationId,
    events: Arc<EventQueue>,
    successes: bool,
}

impl Orphan {
    /// Puts `result` on the event stream as the session's event: a failure always, a
    /// success if asked for.
    fn deliver(self, result: Result<Completion, Error>) {
        let id = self.id;
        let event = match result {
            Err(Error::Operation(error)) => Event::OperationFailed { id, error },
            _ if !self.successes => return,
            Ok(Completion::Published(reason_code)) => Event::PublishCompleted { id, reason_code },
            Ok(Completion::Subscribed(reason_codes)) => {
                Event::SubscribeCompleted { id, reason_codes }
            }
            Ok(Completion::Unsubscribed(reason_codes)) => {
                Event::UnsubscribeCompleted { id, reason_codes }
            }
            _ => return,
        };
        self.events.push_all(&mut vec![event]);
    }
}

/// The one place an operation's outcome is written to (by the engine) and read from (by
/// [`Pending`]). Cheap: one allocation, no channel.
#[derive(Default)]
pub struct Slot {
    state: Mutex<SlotState>,
    changed: Condvar,
    /// Threads blocked on `changed` (counted under the lock).
    waiters: AtomicUsize,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("done", &self.is_done())
            .finish()
    }
}

impl Slot {
    /// A new, empty slot.
    pub fn new() -> Arc<Slot> {
        Arc::new(Slot::default())
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.changed.notify_all();
        }
    }

    fn wait_on<'a>(&self, s: MutexGuard<'a, SlotState>) -> LockResult<MutexGuard<'a, SlotState>> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let r = self.changed.wait(s);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        r
    }

    fn wait_timeout_on<'a>(
        &self,
        s: MutexGuard<'a, SlotState>,
        d: Duration,
    ) -> LockResult<(MutexGuard<'a, SlotState>, WaitTimeoutResult)> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let r = self.changed.wait_timeout(s, d);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// Marks the command as taken by the session (its local checks passed).
    pub fn accept(&self) {
        let waker = {
            let mut s = self.lock();
            s.accepted = true;
            s.waker.take()
        };
        self.notify();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Writes the outcome; only the first one counts.
    pub fn complete(&self, result: Result<Completion, Error>) {
        let waker = {
            let mut s = self.lock();
            if s.result.is_some() || s.taken {
                return;
            }
            if s.dropped {
                let orphan = s.orphan.take();
                drop(s);
                if let Some(o) = orphan {
                    o.deliver(result);
                }
                return;
            }
            s.result = Some(result);
            s.waker.take()
        };
        self.notify();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Whether the outcome was written (or already handed out).
    pub fn is_done(&self) -> bool {
        let s = self.lock();
        s.result.is_some() || s.taken
    }

    /// Blocks until the engine accepted the command or refused it; a refusal is
    /// returned (and consumed), an acceptance leaves the outcome to [`Pending`].
    pub fn wait_accepted(&self) -> Result<(), Error> {
        let mut s = self.lock();
        loop {
            if s.accepted || matches!(s.result, Some(Ok(_))) {
                return Ok(());
            }
            if let Some(Err(_)) = &s.result {
                s.taken = true;
                return s
                    .result
                    .take()
                    .map_or(Err(Error::Closed), |r| r.map(|_| ()));
            }
            s = self.wait_on(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn take(s: &mut SlotState) -> Option<Result<Completion, Error>> {
        if s.taken {
            return Some(Err(Error::Closed));
        }
        let r = s.result.take()?;
        s.taken = true;
        Some(r)
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<Completion, Error> {
        let mut s = self.lock();
        loop {
            if let Some(r) = Slot::take(&mut s) {
                return r;
            }
            s = match deadline {
                None => self.wait_on(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Timeout);
                    }
                    self.wait_timeout_on(s, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

/// The writing end of a [`Slot`], carried by a [`Command`](crate::Command): if it is
/// dropped unwritten (the client closed before the command was carried out), the
/// operation fails with [`Error::Closed`], so no waiter ever waits forever.
pub struct Reply(Arc<Slot>);

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Reply {
    /// A new slot: the reply to write into it, and the [`Pending`] that reads it.
    pub fn new() -> (Reply, Pending) {
        let slot = Slot::new();
        (Reply(slot.clone()), Pending { slot })
    }

    /// Marks the command as taken by the session (see [`Slot::accept`]).
    pub fn accept(&self) {
        self.0.accept();
    }

    /// Operation `id`'s outcome goes to `events` (a failure, or with `successes` any
    /// outcome) if its handle is dropped before taking it.
    pub(crate) fn orphan_to(&self, id: OperationId, events: Arc<EventQueue>, successes: bool) {
        self.0.lock().orphan = Some(Orphan {
            id,
            events,
            successes,
        });
    }

    /// Writes the outcome (the first one counts).
    pub fn complete(&self, result: Result<Completion, Error>) {
        self.0.complete(result);
    }

    /// Whether nobody waits for the outcome any more (its [`Pending`] was dropped).
    pub fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.0.complete(Err(Error::Closed));
    }
}

/// An operation in progress: its outcome once the broker answered.
///
/// Wait for it on a thread ([`Pending::wait`], [`Pending::wait_timeout`]) or `.await` it
/// (it is a `Future`; awaiting it in async code never blocks the executor). Dropping it
/// does not cancel the operation: the message is still published, the subscription still
/// made. Each outcome is delivered once: to this handle, or, if the handle was dropped
/// before the broker answered, on the client's event stream: a failure always, as the
/// session's `Event::OperationFailed` (and logged at `warn`), a success only with
/// [`ClientOptions::completion_events`](crate::ClientOptions::completion_events)
/// (`Event::PublishCompleted`, `SubscribeCompleted`, `UnsubscribeCompleted`).
#[must_use = "the operation goes on without it; keep it to learn how it ended"]
pub struct Pending {
    slot: Arc<Slot>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("done", &self.slot.is_done())
            .finish()
    }
}

impl Drop for Pending {
    /// An outcome that arrived but was not taken goes to the event stream, as the engine
    /// sends the outcome of a dropped handle: each outcome is delivered once.
    fn drop(&mut self) {
        let (result, orphan) = {
            let mut s = self.slot.lock();
            s.dropped = true;
            if s.taken {
                return;
            }
            let Some(result) = s.result.take() else {
                // The outcome comes later: `Slot::complete` delivers it.
                return;
            };
            s.taken = true;
            (result, s.orphan.take())
        };
        if let Some(o) = orphan {
            o.deliver(result);
        }
    }
}

impl Pending {
    /// Blocks until the engine accepted the command or refused it (see
    /// [`Slot::wait_accepted`]): for a blocking client that reports refusals at once.
    pub fn wait_accepted(&self) -> Result<(), Error> {
        self.slot.wait_accepted()
    }

    /// Blocks the thread until the broker answered (do not call it in async code:
    /// `.await` the handle there).
    pub fn wait(self) -> Result<Completion, Error> {
        self.slot.wait_until(None)
    }

    /// Blocks at most `timeout`; `Err(Error::Timeout)` if no answer came by then (the
    /// handle can be waited on again).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Completion, Error> {
        self.slot.wait_until(Some(Instant::now() + timeout))
    }

    /// The outcome if it is known now, without waiting.
    pub fn try_result(&self) -> Option<Result<Completion, Error>> {
        Slot::take(&mut self.slot.lock())
    }

    /// Whether the outcome is known.
    pub fn is_done(&self) -> bool {
        self.slot.is_done()
    }

    /// Blocks until the first of `pendings` has its outcome, or `timeout` passes; the
    /// thread sleeps until then. Removes that handle from the list and returns the index
    /// it had with its outcome; `None` if the time ran out or the list is empty.
    ///
    /// ```no_run
    /// # fn demo(mut pendings: Vec<mqtt_engine::Pending>) {
    /// use std::time::Duration;
    /// use mqtt_engine::Pending;
    /// // Publish a batch, then handle each acknowledgement as it comes.
    /// while let Some((index, outcome)) =
    ///     Pending::wait_any(&mut pendings, Some(Duration::from_secs(5)))
    /// {
    ///     println!("operation {index} of those left: {outcome:?}");
    /// }
    /// # }
    /// ```
    ///
    /// Do not call it in async code (use a `select` of the futures there).
    pub fn wait_any(
        pendings: &mut Vec<Pending>,
        timeout: Option<Duration>,
    ) -> Option<(usize, Result<Completion, Error>)> {
        if pendings.is_empty() {
            return None;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let (index, outcome) = block_until(deadline, |cx| poll_first(pendings, cx))?;
        drop(pendings.remove(index));
        Some((index, outcome))
    }
}

/// The first of `pendings` with an outcome, registering `cx` with all of them if none
/// has one yet.
pub fn poll_first(
    pendings: &mut [Pending],
    cx: &mut Context<'_>,
) -> Poll<(usize, Result<Completion, Error>)> {
    for (index, pending) in pendings.iter_mut().enumerate() {
        if let Poll::Ready(outcome) = Pin::new(pending).poll(cx) {
            return Poll::Ready((index, outcome));
        }
    }
    Poll::Pending
}

impl Future for Pending {
    type Output = Result<Completion, Error>;

    /// Cancellation safe: dropping the future leaves the operation running.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock();
        match Slot::take(&mut s) {
            Some(r) => Poll::Ready(r),
            None => {
                match &s.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => s.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_outcome_wins_and_is_handed_out_once() {
        let (reply, pending) = Reply::new();
        assert!(pending.try_result().is_none());
        reply.complete(Ok(Completion::Sent));
        reply.complete(Err(Error::Timeout));
        assert_eq!(pending.try_result().unwrap().unwrap(), Completion::Sent);
        assert!(matches!(pending.try_result(), Some(Err(Error::Closed))));
    }

    #[test]
    fn wait_timeout_can_be_repeated() {
        let (reply, pending) = Reply::new();
        assert!(matches!(
            pending.wait_timeout(Duration::from_millis(5)),
            Err(Error::Timeout)
        ));
        let t = std::thread::spawn(move || {
            reply.complete(Ok(Completion::Published(ReasonCode::Success)))
        });
        assert_eq!(
            pending.wait_timeout(Duration::from_secs(5)).unwrap(),
            Completion::Published(ReasonCode::Success)
        );
        t.join().unwrap();
    }

    #[test]
    fn a_refusal_before_acceptance_is_returned_by_wait_accepted() {
        let slot = Slot::new();
        slot.complete(Err(Error::Closed));
        assert!(matches!(slot.wait_accepted(), Err(Error::Closed)));
        let slot = Slot::new();
        slot.accept();
        assert!(slot.wait_accepted().is_ok());
    }

    #[test]
    fn wait_any_returns_the_first_outcome_and_removes_its_handle() {
        let (a, pa) = Reply::new();
        let (b, pb) = Reply::new();
        let (_c, pc) = Reply::new();
        let mut pendings = vec![pa, pb, pc];
        assert!(Pending::wait_any(&mut pendings, Some(Duration::from_millis(5))).is_none());
        assert_eq!(pendings.len(), 3);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            b.complete(Ok(Completion::Published(ReasonCode::Success)));
            a
        });
        let (index, outcome) = Pending::wait_any(&mut pendings, None).expect("an outcome");
        assert_eq!(index, 1);
        assert_eq!(outcome.unwrap(), Completion::Published(ReasonCode::Success));
        assert_eq!(pendings.len(), 2);
        // A reply dropped unwritten counts as an outcome too.
        drop(t.join().unwrap());
        let (index, outcome) = Pending::wait_any(&mut pendings, None).expect("an outcome");
        assert_eq!(index, 0);
        assert!(matches!(outcome, Err(Error::Closed)));
        assert!(Pending::wait_any(&mut Vec::new(), None).is_none());
    }

    #[test]
    fn an_outcome_whose_handle_was_dropped_goes_to_the_event_stream_once() {
        let refused = || Err(Error::Operation(mqtt_session::OperationError::Dropped));
        for outcome_first in [true, false] {
            let events = EventQueue::new(8);
            let (reply, pending) = Reply::new();
            reply.orphan_to(OperationId(7), events.clone(), false);
            if outcome_first {
                reply.complete(refused());
                drop(pending);
            } else {
                drop(pending);
                reply.complete(refused());
            }
            drop(reply);
            assert!(matches!(
                events.try_next(),
                Some(Event::OperationFailed {
                    id: OperationId(7),
                    ..
                })
            ));
            assert!(events.try_next().is_none(), "once");
        }
        // Taken by its handle: not on the stream; a success without `successes`: neither.
        let events = EventQueue::new(8);
        let (reply, pending) = Reply::new();
        reply.orphan_to(OperationId(8), events.clone(), false);
        reply.complete(refused());
        assert!(pending.try_result().is_some());
        drop(pending);
        let (reply2, pending2) = Reply::new();
        reply2.orphan_to(OperationId(9), events.clone(), false);
        reply2.complete(Ok(Completion::Published(ReasonCode::Success)));
        drop(pending2);
        assert!(events.try_next().is_none());
        drop((reply, reply2));
    }

    #[test]
    fn a_reply_dropped_unwritten_fails_the_operation() {
        let (reply, pending) = Reply::new();
        assert!(!reply.is_abandoned());
        drop(reply);
        assert!(matches!(pending.wait(), Err(Error::Closed)));
    }
}
