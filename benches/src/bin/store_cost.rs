//! What persistence costs (issue 15), on both sides of a QoS 1 and QoS 2 flow through a
//! private mosquitto, with Eclipse Paho C as the anchor, in one run:
//!
//! - **publisher**: mqtt-std publishes `MESSAGES` messages of 64 B keeping a window of
//!   [`WINDOW`] outstanding, with no store, a `MemoryStore`, and a `FileStore` under each
//!   durability policy; Paho C (`MQTTAsync`, MQTT 5.0, `benches/paho/store_cost.c`) does
//!   the same with no persistence and with its file persistence. Time runs from the
//!   first publish to the last completion (PUBACK / PUBCOMP).
//! - **subscriber**: the same clients and stores subscribe, then a feeder
//!   (`mosquitto_pub -l`, window [`WINDOW`]) publishes the messages. Time runs from
//!   starting the feeder to the subscriber holding the last message.
//!
//! Reports messages per second and the client's CPU per message (user + system of the
//! client's process: this one for mqtt-std, which runs nothing else meanwhile; Paho's own
//! for Paho; the broker and the feeder are child processes, not counted), medians of
//! `ROUNDS` rounds. Paho's program is compiled at run time with `cc`
//! (`libpaho-mqtt-dev`); without it the Paho rows are skipped.
//!
//!     cargo run --release -p benches --bin store_cost -- [MESSAGES] [ROUNDS]

// Only `start` and `port` are used here.
#[allow(dead_code)]
#[path = "e2e/broker.rs"]
mod broker;

use std::collections::VecDeque;
use std::fmt::Display;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_std::{
    Client, ClientOptions, DisconnectOptions, Durability, Event, Events, FileStore, MemoryStore,
    Pending, ProtocolVersion, QoS,
};
use nix::sys::resource::{UsageWho, getrusage};

/// How many publishes may be outstanding: the window every publisher keeps open (ours,
/// Paho's and the feeder's).
const WINDOW: usize = 100;

/// Size of every message's payload.
const PAYLOAD_LEN: usize = 64;

/// The one topic of the benchmark.
const TOPIC: &str = "cost";

/// A subscriber that gets no message for this long has failed (Paho's program uses the same).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Session Expiry Interval of every client's CONNECT (seconds).
const SESSION_EXPIRY: u32 = 60;

/// Debian's `mosquitto-clients`: the feeder of the subscriber runs.
const MOSQUITTO_PUB: &str = "/usr/bin/mosquitto_pub";

/// The Paho C program, relative to this crate.
const PAHO_SOURCE: &str = "paho/store_cost.c";

/// User + system CPU of this process so far (all its threads).
fn own_cpu() -> Duration {
    let t = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    getrusage(UsageWho::RUSAGE_SELF)
        .map_or(Duration::ZERO, |u| t(u.user_time()) + t(u.system_time()))
}

/// Turns an error into the text of a failed row, naming what failed.
fn context<E: Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// mqtt-std's persistence setting.
#[derive(Clone, Copy, Debug)]
enum Store {
    None,
    Memory,
    File(Durability),
}

impl Store {
    /// Its name in the table.
    fn name(self) -> String {
        match self {
            Store::None => "no store".into(),
            Store::Memory => "MemoryStore".into(),
            Store::File(Durability::Never) => "FileStore, Never".into(),
            Store::File(Durability::Every(d)) => format!("FileStore, Every({} ms)", d.as_millis()),
            Store::File(Durability::EveryCommit) => "FileStore, EveryCommit".into(),
            Store::File(_) => "FileStore".into(),
        }
    }
}

/// The measured client and its persistence.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// mqtt-std, in this process.
    Ours(Store),
    /// Paho C in a child process: file persistence or none.
    Paho { file: bool },
}

impl Setup {
    /// Its name in the table's store column.
    fn name(self) -> String {
        match self {
            Setup::Ours(store) => store.name(),
            Setup::Paho { file: false } => "paho C, no persistence".into(),
            Setup::Paho { file: true } => "paho C, file persistence".into(),
        }
    }
}

/// Which end of the flow the client is.
#[derive(Clone, Copy, Debug)]
enum Side {
    Pub,
    Sub,
}

impl Side {
    /// Its name in the table, and in client ids and directories.
    fn name(self) -> &'static str {
        match self {
            Side::Pub => "pub",
            Side::Sub => "sub",
        }
    }
}

/// One measured run: wall time and the client's CPU.
struct Sample {
    seconds: f64,
    cpu: Duration,
}

/// A run's sample, or why it failed.
type Outcome = Result<Sample, String>;

/// Parses the line Paho's program prints: `seconds cpu_seconds`.
fn parse_paho_line(line: &str) -> Result<Sample, String> {
    let mut fields = line.split_whitespace().map(str::parse::<f64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(seconds)), Some(Ok(cpu))) if cpu >= 0.0 => Ok(Sample {
            seconds,
            cpu: Duration::from_secs_f64(cpu),
        }),
        _ => Err(format!("paho printed {line:?}")),
    }
}

/// Waits for a Paho child that failed and says why (its status and stderr).
fn paho_failure(mut child: Child) -> String {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = child
        .wait()
        .map_or_else(|e| e.to_string(), |s| s.to_string());
    format!("paho {status}: {}", stderr.trim())
}

/// Ends the feeder: waits for it once the subscriber has everything, kills it otherwise.
fn finish_feeder(mut feeder: Child, succeeded: bool) -> Result<(), String> {
    if !succeeded {
        let _ = feeder.kill();
    }
    let status = feeder.wait().map_err(context("feeder"))?;
    if succeeded && !status.success() {
        return Err(format!("feeder: {status}"));
    }
    Ok(())
}

/// Takes events until `n` messages have arrived; fails on a disconnection or when none
/// came for [`IDLE_TIMEOUT`].
fn receive_all(events: &Events, n: usize) -> Result<(), String> {
    let mut received = 0;
    while received < n {
        match events.recv_timeout(IDLE_TIMEOUT) {
            Ok(Event::Message(_)) => received += 1,
            Ok(Event::Disconnected { reason, .. }) => {
                return Err(format!("received {received} of {n}, then {reason:?}"));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("received {received} of {n} ({e})")),
        }
    }
    Ok(())
}

/// Compiles Paho's program into `dir`; on failure, says why.
fn build_paho(dir: &Path) -> Result<PathBuf, String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(PAHO_SOURCE);
    let binary = dir.join("paho_store_cost");
    let output = Command::new("cc")
        .arg("-O2")
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .args(["-lpaho-mqtt3a", "-lpthread"])
        .stdin(Stdio::null())
        .output()
        .map_err(context("cannot run cc (install a C compiler)"))?;
    if output.status.success() {
        Ok(binary)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| l.contains("error")).unwrap_or("");
        Err(format!(
            "cc {} failed ({}; install libpaho-mqtt-dev): {first}",
            source.display(),
            output.status
        ))
    }
}

/// A directory of this run's files (Paho's binary, the feed, the stores), removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    /// Creates it, empty, in the system's temporary directory.
    fn create() -> std::io::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("store-cost-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything a run needs: the broker, the message count, the feed, Paho's binary.
struct Bench {
    port: u16,
    n: usize,
    /// `n` payload lines for the feeder's stdin.
    feed: PathBuf,
    /// Paho's program, if it could be built.
    paho: Option<PathBuf>,
    scratch: Scratch,
}

impl Bench {
    /// Writes the feed and builds Paho's program (printing why not, if it cannot).
    fn new(port: u16, n: usize) -> std::io::Result<Bench> {
        let scratch = Scratch::create()?;
        let feed = scratch.0.join("feed.txt");
        let mut line = vec![b'x'; PAYLOAD_LEN];
        line.push(b'\n');
        std::fs::write(&feed, line.repeat(n))?;
        let paho = match build_paho(&scratch.0) {
            Ok(binary) => Some(binary),
            Err(why) => {
                println!("Paho C rows skipped: {why}");
                None
            }
        };
        Ok(Bench {
            port,
            n,
            feed,
            paho,
            scratch,
        })
    }

    /// The setups to measure: every mqtt-std store, then Paho's two if it was built.
    fn setups(&self) -> Vec<Setup> {
        let mut setups: Vec<Setup> = [
            Store::None,
            Store::Memory,
            Store::File(Durability::Never),
            Store::File(Durability::Every(Duration::from_millis(10))),
            Store::File(Durability::EveryCommit),
        ]
        .into_iter()
        .map(Setup::Ours)
        .collect();
        if self.paho.is_some() {
            setups.extend([Setup::Paho { file: false }, Setup::Paho { file: true }]);
        }
        setups
    }

    /// One run of `setup` on `side` at `qos`.
    fn run(&self, setup: Setup, side: Side, qos: QoS, round: usize) -> Outcome {
        let dir = self
            .scratch
            .0
            .join(format!("store-{}-{round}", side.name()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(context("store directory"))?;
        let id = format!("cost-{}-{round}", side.name());
        let outcome = match (setup, side) {
            (Setup::Ours(store), Side::Pub) => self.ours_publisher(store, &id, &dir, qos),
            (Setup::Ours(store), Side::Sub) => self.ours_subscriber(store, &id, &dir, qos),
            (Setup::Paho { file }, side) => self.paho(side, file, &dir, qos),
        };
        let _ = std::fs::remove_dir_all(&dir);
        outcome
    }

    /// Connects mqtt-std (5.0, clean start, session expiry) with `store` in `dir`.
    fn connect_ours(&self, store: Store, id: &str, dir: &Path) -> Result<(Client, Events), String> {
        let mut options = ClientOptions::new(&format!("mqtt://127.0.0.1:{}", self.port), id)
            .map_err(context("options"))?
            .protocol(ProtocolVersion::V5)
            .clean_start(true)
            .session_expiry(SESSION_EXPIRY);
        options = match store {
            Store::None => options,
            Store::Memory => options.store(MemoryStore::new()),
            Store::File(d) => {
                options.store(FileStore::open(dir, d).map_err(context("file store"))?)
            }
        };
        Client::connect(options).map_err(context("connect"))
    }

    /// mqtt-std publishes `n` messages at `qos` with a window of [`WINDOW`].
    fn ours_publisher(&self, store: Store, id: &str, dir: &Path, qos: QoS) -> Outcome {
        let (client, _events) = self.connect_ours(store, id, dir)?;
        let payload = bytes::Bytes::from(vec![b'x'; PAYLOAD_LEN]);
        let cpu = own_cpu();
        let started = Instant::now();
        let mut window: VecDeque<Pending> = VecDeque::new();
        for _ in 0..self.n {
            if window.len() == WINDOW {
                let p = window.pop_front().ok_or("empty window")?;
                p.wait().map_err(context("publish"))?;
            }
            let p = client.publish(TOPIC, qos, false, payload.clone());
            window.push_back(p.map_err(context("publish"))?);
        }
        for p in window {
            p.wait().map_err(context("publish"))?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu = own_cpu().saturating_sub(cpu);
        client.disconnect().map_err(context("disconnect"))?;
        Ok(Sample { seconds, cpu })
    }

    /// mqtt-std subscribes at `qos` and receives the feeder's `n` messages. Only its I/O
    /// thread and this one (blocked on the events) run meanwhile.
    fn ours_subscriber(&self, store: Store, id: &str, dir: &Path, qos: QoS) -> Outcome {
        let (client, events) = self.connect_ours(store, id, dir)?;
        let subscribed = client.subscribe(TOPIC, qos).map(Pending::wait);
        let outcome = match subscribed {
            Ok(Ok(_)) => self.feed_ours(&events, qos),
            Ok(Err(e)) | Err(e) => Err(format!("subscribe: {e}")),
        };
        // End the session, so that the broker queues nothing for it after the run.
        let _ = client.disconnect_with(DisconnectOptions {
            session_expiry_interval: Some(0),
            ..DisconnectOptions::default()
        });
        outcome
    }

    /// Runs the feeder while mqtt-std's subscriber takes its events.
    fn feed_ours(&self, events: &Events, qos: QoS) -> Outcome {
        let cpu = own_cpu();
        let started = Instant::now();
        let feeder = self.feeder(qos)?;
        let received = receive_all(events, self.n);
        let seconds = started.elapsed().as_secs_f64();
        let cpu = own_cpu().saturating_sub(cpu);
        finish_feeder(feeder, received.is_ok())?;
        received.map(|()| Sample { seconds, cpu })
    }

    /// Starts `mosquitto_pub -l` publishing the feed at `qos` with a window of [`WINDOW`].
    fn feeder(&self, qos: QoS) -> Result<Child, String> {
        let feed = std::fs::File::open(&self.feed).map_err(context("feed"))?;
        Command::new(MOSQUITTO_PUB)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-i", "cost-feeder", "-t", TOPIC, "-l"])
            .args(["-q", &(qos as u8).to_string(), "-M", &WINDOW.to_string()])
            .stdin(feed)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(context("feeder (mosquitto-clients)"))
    }

    /// Paho's program on `side` at `qos`, with file persistence in `dir` or none.
    fn paho(&self, side: Side, file: bool, dir: &Path, qos: QoS) -> Outcome {
        let binary = self.paho.as_ref().ok_or("paho was not built")?;
        let mut command = Command::new(binary);
        command
            .arg(side.name())
            .arg(self.port.to_string())
            .arg((qos as u8).to_string())
            .arg(self.n.to_string());
        if file {
            command.arg(dir);
        } else {
            command.arg("none");
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().map_err(context("paho"))?;
        match side {
            Side::Pub => paho_publisher(child),
            Side::Sub => self.feed_paho(child, qos),
        }
    }

    /// Waits for Paho's subscriber to say "ready", runs the feeder, reads Paho's result.
    /// The time is ours (feeder start to Paho's line); the CPU is what Paho measured.
    fn feed_paho(&self, mut child: Child, qos: QoS) -> Outcome {
        let Some(stdout) = child.stdout.take() else {
            return Err("paho: no stdout".into());
        };
        let mut lines = BufReader::new(stdout).lines();
        if !matches!(lines.next(), Some(Ok(line)) if line == "ready") {
            return Err(paho_failure(child));
        }
        let started = Instant::now();
        let feeder = self.feeder(qos)?;
        let line = lines.next();
        let seconds = started.elapsed().as_secs_f64();
        let result = match line {
            Some(Ok(line)) => parse_paho_line(&line).map(|s| Sample { seconds, ..s }),
            _ => Err(paho_failure(child)),
        };
        finish_feeder(feeder, result.is_ok())?;
        result
    }
}

/// Paho's publisher: waits for it and reads what it measured.
fn paho_publisher(child: Child) -> Outcome {
    let output = child.wait_with_output().map_err(context("paho"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("paho {}: {}", output.status, stderr.trim()));
    }
    parse_paho_line(stdout.trim())
}

/// The middle value (the upper one of an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `rounds` rounds of one row and prints it: medians, or the first failure.
fn row(bench: &Bench, setup: Setup, side: Side, qos: QoS, rounds: usize) {
    let mut rates = Vec::new();
    let mut cpus = Vec::new();
    let mut failure = None;
    // Rounds interleave nothing else: the machine is shared, so compare within a run.
    for round in 0..rounds {
        match bench.run(setup, side, qos, round) {
            Ok(s) => {
                rates.push(bench.n as f64 / s.seconds);
                cpus.push(s.cpu.as_secs_f64() * 1e6 / bench.n as f64);
            }
            Err(why) => {
                failure = Some(why);
                break;
            }
        }
    }
    let (rate, cpu) = match failure {
        Some(why) => (format!("failed: {why}"), "–".to_owned()),
        None => (
            format!("{:.0}", median(rates)),
            format!("{:.2}", median(cpus)),
        ),
    };
    println!(
        "| {} | {} | {} | {rate} | {cpu} |",
        setup.name(),
        side.name(),
        qos as u8
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    let broker = broker::Broker::start(None).expect("start mosquitto (Debian package)");
    let bench = Bench::new(broker.port(), n).expect("scratch directory");
    println!(
        "{n} messages of {PAYLOAD_LEN} B per round, window {WINDOW}, {rounds} rounds, medians; \
         CPU is the client's process (the broker and the feeder are not counted)"
    );
    println!();
    println!("| store | side | QoS | msg/s | client CPU per message (µs) |");
    println!("|---|---|---|---:|---:|");
    for side in [Side::Pub, Side::Sub] {
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for setup in bench.setups() {
                row(&bench, setup, side, qos, rounds);
            }
        }
    }
}
