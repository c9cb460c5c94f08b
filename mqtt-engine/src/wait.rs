//! Blocking waits on anything that registers a [`Waker`]: one thread waits for the first
//! of several operations, or for an operation and the event stream at once, asleep
//! until one of them is ready (no polling with timeouts).

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

/// Wakes a parked thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Calls `poll` with a waker that unparks this thread and parks in between, until it is
/// ready (`Some`) or `deadline` passes (`None`). `poll` must register the waker with
/// everything it waits on each time it returns `Pending`, as a future does.
pub fn block_until<T>(
    deadline: Option<Instant>,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Option<T> {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(t) = poll(&mut cx) {
            return Some(t);
        }
        match deadline {
            None => thread::park(),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                thread::park_timeout(left);
            }
        }
    }
}
