//! One measured run as the worker process receives it on its command line, and what
//! every client shares: topic, payload, limits.

use std::time::Duration;

/// The topic every publisher writes and every subscriber reads.
pub const TOPIC: &str = "bench/data";
/// The retained message `mosquitto_sub` gets first: it says the subscription is in place.
pub const READY_TOPIC: &str = "bench/ready";
/// The payload: 32 bytes, no newline (so `mosquitto_pub -l` sends the same bytes).
pub const PAYLOAD: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
/// Publishes our publishers keep unanswered before they wait for the oldest (more than
/// any client's in-flight window, so the library's window is what limits).
pub const APP_WINDOW: usize = 1000;
/// A subscriber gives up when no message came for this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keep alive of every connection.
pub const KEEP_ALIVE: u16 = 60;

/// What a worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Publishes `n` messages, waits for every acknowledgement, disconnects.
    Pub,
    /// Subscribes, prints `ready`, receives `n` messages, prints `received N`, disconnects.
    Sub,
    /// Opens `n` idle connections, prints `idle rss_kib=.. threads=.. connected=..`.
    Idle,
}

impl Role {
    /// The command-line word.
    pub fn name(self) -> &'static str {
        match self {
            Role::Pub => "pub",
            Role::Sub => "sub",
            Role::Idle => "idle",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        [Role::Pub, Role::Sub, Role::Idle]
            .into_iter()
            .find(|r| r.name() == s)
    }
}

/// One run of one client.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// What to do.
    pub role: Role,
    /// QoS 0, 1 or 2.
    pub qos: u8,
    /// Messages (or connections, for [`Role::Idle`]).
    pub n: usize,
    /// The broker's port on 127.0.0.1.
    pub port: u16,
}

impl Job {
    /// The worker's arguments after `worker CLIENT`.
    pub fn to_args(self) -> Vec<String> {
        vec![
            self.role.name().into(),
            self.qos.to_string(),
            self.n.to_string(),
            self.port.to_string(),
        ]
    }

    /// Parses what [`Job::to_args`] wrote.
    pub fn parse(args: &[String]) -> Result<Job, String> {
        let [role, qos, n, port] = args else {
            return Err(format!("worker: expected ROLE QOS N PORT, got {args:?}"));
        };
        let num = |s: &String| s.parse::<usize>().map_err(|e| format!("{s}: {e}"));
        Ok(Job {
            role: Role::parse(role).ok_or_else(|| format!("unknown role {role}"))?,
            qos: u8::try_from(num(qos)?).map_err(|e| e.to_string())?,
            n: num(n)?,
            port: u16::try_from(num(port)?).map_err(|e| e.to_string())?,
        })
    }

    /// A client identifier unique to this process and connection.
    pub fn client_id(self, client: &str, i: usize) -> String {
        format!(
            "e2e-{client}-{}-{}-{i}",
            self.role.name(),
            std::process::id()
        )
    }

    /// The broker URL for our clients.
    pub fn url(self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

/// Prints the idle result line (the baseline is taken by the caller before connecting).
pub fn report_idle(baseline: (u64, u64), connected: usize) {
    let (rss, threads) = crate::measure::self_status();
    println!(
        "idle rss_kib={} threads={} connected={connected}",
        rss.saturating_sub(baseline.0),
        threads.saturating_sub(baseline.1)
    );
}
