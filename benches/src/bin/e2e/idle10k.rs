//! `--idle-10k`: many idle `mqtt-smol` connections from one process (one thread) to one
//! mosquitto, held past a keep-alive period; how many are still up at the end, and RSS
//! per connection.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::broker::Broker;
use crate::job::{Job, KEEP_ALIVE};
use crate::measure::self_status;
use crate::mosq;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Connections opened at once.
const BATCH: usize = 200;

/// Environment variable that passes the hold time to the worker.
pub const HOLD_ENV: &str = "E2E_HOLD_SECS";

/// Raises this process's soft (and if needed hard) RLIMIT_NOFILE to at least `want`;
/// children (the broker, the worker) inherit it. Returns the new soft limit.
pub fn raise_nofile(want: u64) -> Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= want {
        return Ok(soft);
    }
    // Raising the hard limit needs CAP_SYS_RESOURCE; else go as high as it allows.
    if hard < want && setrlimit(Resource::RLIMIT_NOFILE, want, want).is_ok() {
        return Ok(want);
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard.min(want), hard)?;
    Ok(hard.min(want))
}

/// The parent side: starts a broker and the worker, and returns the report (markdown).
pub fn run(n: usize, hold: Duration) -> Result<String> {
    let limit = raise_nofile(n as u64 + 1024)?;
    let mut broker = Broker::start(Some(1))?;
    let job = Job {
        role: crate::job::Role::Idle,
        qos: 0,
        n,
        port: broker.port(),
    };
    let mut child = Command::new(std::env::current_exe()?)
        .args(["worker", "hold"])
        .args(job.to_args())
        .env(HOLD_ENV, hold.as_secs().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut report = format!(
        "| connections asked | {n} |\n|---|---|\n| RLIMIT_NOFILE (tool, broker, worker) | {limit} |\n"
    );
    let mut held = None;
    for line in lines.by_ref() {
        let line = line?;
        eprintln!("idle-10k: {line}");
        if let Some(rest) = line.strip_prefix("connected ") {
            report.push_str(&format!("| connect phase | {rest} |\n"));
        } else if let Some(rest) = line.strip_prefix("held ") {
            held = Some(rest.to_owned());
            break;
        }
    }
    let held = held.ok_or("worker ended before reporting")?;
    let field = |name: &str| {
        held.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let connected = field("connected=");
    // The broker's own count, while the worker still holds the connections (minus the
    // `mosquitto_sub` asking).
    std::thread::sleep(Duration::from_millis(1500));
    let sys = mosq::sys_value(broker.port(), "$SYS/broker/clients/connected")?;
    let broker_count = sys.parse::<u64>().map(|c| c.saturating_sub(1));
    let broker_rss = std::fs::read_to_string(format!("/proc/{}/status", broker.pid()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"exit\n");
    }
    let _ = child.wait();
    let rss = field("rss_kib=");
    report.push_str(&format!(
        "| held for | {} s after the last connect (keep alive {KEEP_ALIVE} s: every connection pinged) |\n",
        hold.as_secs()
    ));
    report.push_str(&format!(
        "| up at the end (client: no Disconnected event) | **{connected}** |\n"
    ));
    report.push_str(&format!(
        "| up at the end (client sockets ESTABLISHED in /proc/net/tcp) | {} |\n",
        field("established=")
    ));
    report.push_str(&format!(
        "| up at the end (broker: `$SYS/broker/clients/connected`) | {} |\n",
        broker_count.map_or(format!("? ({sys:?})"), |c| c.to_string())
    ));
    report.push_str(&format!(
        "| client RSS over baseline | {rss} KiB = **{:.2} KiB per connection** |\n",
        rss as f64 / n.max(1) as f64
    ));
    report.push_str(&format!(
        "| client threads over baseline | {} |\n| broker RSS | {broker_rss} |\n| broker still running | {} |\n",
        field("threads="),
        broker.is_running()
    ));
    Ok(report)
}

/// The worker side: opens `job.n` connections (in batches of 200 at once), holds them,
/// prints `held ...`, waits for a line on stdin, exits.
pub fn worker(job: Job) -> Result<()> {
    let hold = std::env::var(HOLD_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(65);
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        let baseline = self_status();
        let start = Instant::now();
        let mut clients = Vec::with_capacity(job.n);
        let mut failed = 0;
        for first in (0..job.n).step_by(BATCH) {
            let mut tasks = Vec::with_capacity(BATCH);
            for i in first..(first + BATCH).min(job.n) {
                let opts = mqtt_smol::ClientOptions::new(&job.url(), &job.client_id("smol", i))?
                    .protocol(mqtt_smol::ProtocolVersion::V3_1_1)
                    .keep_alive(KEEP_ALIVE)
                    .no_reconnect()
                    .connect_timeout(Duration::from_secs(30));
                let (client, events, driver) = mqtt_smol::Client::new(opts)?;
                ex.spawn(driver).detach();
                tasks.push(ex.spawn(async move {
                    let first = events.recv_timeout(Duration::from_secs(30)).await;
                    (
                        client,
                        events,
                        matches!(first, Ok(mqtt_smol::Event::Connected(_))),
                    )
                }));
            }
            for task in tasks {
                let (client, events, up) = task.await;
                failed += usize::from(!up);
                clients.push((client, events, up));
            }
        }
        println!(
            "connected {} of {} in {:.1} s",
            job.n - failed,
            job.n,
            start.elapsed().as_secs_f64()
        );
        smol::Timer::after(Duration::from_secs(hold)).await;
        let (rss, threads) = self_status();
        let mut up = 0;
        for (_, events, connected) in &clients {
            let mut dropped = false;
            while let Some(event) = events.try_next() {
                dropped |= matches!(event, mqtt_smol::Event::Disconnected { .. });
            }
            up += usize::from(*connected && !dropped);
        }
        println!(
            "held rss_kib={} threads={} connected={} established={}",
            rss.saturating_sub(baseline.0),
            threads.saturating_sub(baseline.1),
            up,
            established(job.port)
        );
        // Hold on while the parent asks the broker.
        let mut line = String::new();
        let _ = smol::unblock(move || std::io::stdin().read_line(&mut line)).await;
        drop(clients);
        Ok::<(), Box<dyn std::error::Error>>(())
    }))
}

/// Client sockets to `port` in state ESTABLISHED (`/proc/net/tcp`, remote port = `port`).
fn established(port: u16) -> usize {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!(":{port:04X}");
    text.lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 3 && cols[2].ends_with(&want) && cols[3] == "01"
        })
        .count()
}
