//! What is measured and how: children's CPU from `getrusage(RUSAGE_CHILDREN)` deltas
//! around each `wait`, a process's own RSS and threads from `/proc/self/status`, medians.

use std::io;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

/// User + system CPU of every child reaped so far.
pub fn children_cpu() -> Duration {
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => timeval(u.user_time()) + timeval(u.system_time()),
        Err(_) => Duration::ZERO,
    }
}

fn timeval(t: nix::sys::time::TimeVal) -> Duration {
    let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
    let micros = u64::try_from(t.tv_usec()).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// Waits for `child` (no other child may be reaped meanwhile) and returns its exit status
/// and its whole-process CPU time (user + system).
pub fn wait_cpu(child: &mut Child) -> io::Result<(ExitStatus, Duration)> {
    let before = children_cpu();
    let status = child.wait()?;
    Ok((status, children_cpu().saturating_sub(before)))
}

/// Like [`wait_cpu`], but kills the child if it has not exited within `timeout`.
pub fn wait_cpu_timeout(
    child: &mut Child,
    timeout: Duration,
) -> io::Result<(ExitStatus, Duration, bool)> {
    let deadline = Instant::now() + timeout;
    let mut killed = false;
    loop {
        // `try_wait` reaps too: take the CPU snapshot before each attempt.
        let before = children_cpu();
        if let Some(status) = child.try_wait()? {
            return Ok((status, children_cpu().saturating_sub(before), killed));
        }
        if Instant::now() >= deadline && !killed {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `VmRSS` (KiB) and `Threads` of this process.
pub fn self_status() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("Threads:"))
}

/// The median (the mean of the middle two for an even count); `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}
