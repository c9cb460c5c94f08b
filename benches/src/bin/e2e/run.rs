//! One measured run of one client: the child process, its CPU, its wall time, what it
//! printed.

use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::broker::Broker;
use crate::job::{Job, PAYLOAD, Role};
use crate::measure::{wait_cpu, wait_cpu_timeout};
use crate::mosq;

/// The clients measured; `key` is the `--only` and worker name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Client {
    /// `mqtt-std`.
    Std,
    /// `mqtt-smol`, driver polled on the application's thread.
    Smol,
    /// `mqtt-smol` through `Client::connect`: driver on smol's global executor.
    SmolGlobal,
    /// rumqttc 0.25, tokio current-thread.
    Rumqttc,
    /// mosquitto_pub / mosquitto_sub (libmosquitto 2.0.11).
    Mosquitto,
}

impl Client {
    /// Every client, in table order.
    pub const ALL: [Client; 5] = [
        Client::Std,
        Client::Smol,
        Client::SmolGlobal,
        Client::Rumqttc,
        Client::Mosquitto,
    ];

    /// The command-line name.
    pub fn key(self) -> &'static str {
        match self {
            Client::Std => "std",
            Client::Smol => "smol",
            Client::SmolGlobal => "smol-global",
            Client::Rumqttc => "rumqttc",
            Client::Mosquitto => "mosquitto",
        }
    }

    /// The table label.
    pub fn label(self) -> &'static str {
        match self {
            Client::Std => "mqtt-std",
            Client::Smol => "mqtt-smol (1 thread)",
            Client::SmolGlobal => "mqtt-smol (`Client::connect`, global executor)",
            Client::Rumqttc => "rumqttc 0.25 (tokio current-thread)",
            Client::Mosquitto => "mosquitto_pub / mosquitto_sub 2.0.11",
        }
    }

    /// Parses a `--only` word.
    pub fn parse(s: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.key() == s)
    }

    /// The in-flight window of its publisher: the default under MQTT 3.1.1, or ours as
    /// set by `E2E_MAX_IN_FLIGHT`.
    pub fn window(self) -> u32 {
        let ours = std::env::var("E2E_MAX_IN_FLIGHT")
            .ok()
            .and_then(|v| v.parse().ok());
        match self {
            Client::Rumqttc => 100,
            Client::Mosquitto => 20,
            _ => ours.unwrap_or(20),
        }
    }
}

/// What a publisher or subscriber run cost.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Whole-process user + system CPU.
    pub cpu: Duration,
    /// From spawn to exit.
    pub wall: Duration,
}

/// What an idle run reported.
#[derive(Debug, Clone, Copy)]
pub struct IdleSample {
    /// RSS growth (KiB) over the baseline.
    pub rss_kib: u64,
    /// Threads over the baseline.
    pub threads: u64,
    /// Connections up.
    pub connected: usize,
}

/// Runs children against one broker.
pub struct Runner {
    /// The broker.
    pub broker: Broker,
    exe: PathBuf,
    /// `scripts/idle_libmosquitto.c`, compiled, if `cc` and `mosquitto.h` are there.
    libmosquitto_idle: Option<PathBuf>,
}

type Result<T> = std::result::Result<T, String>;

fn io_err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Runner {
    /// Starts the broker and its retained ready message.
    pub fn new() -> Result<Runner> {
        let broker = Broker::start(None).map_err(io_err("mosquitto"))?;
        mosq::publish_ready(broker.port()).map_err(io_err("ready message"))?;
        let exe = std::env::current_exe().map_err(io_err("current_exe"))?;
        let libmosquitto_idle = compile_idle_libmosquitto(&broker);
        Ok(Runner {
            broker,
            exe,
            libmosquitto_idle,
        })
    }

    fn worker(&self, client: Client, job: Job) -> Command {
        let mut c = Command::new(&self.exe);
        c.arg("worker")
            .arg(client.key())
            .args(job.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        c
    }

    fn job(&self, role: Role, qos: u8, n: usize) -> Job {
        Job {
            role,
            qos,
            n,
            port: self.broker.port(),
        }
    }

    /// A publisher of `n` messages at `qos` (0 messages: connect and disconnect only).
    pub fn publisher(&self, client: Client, qos: u8, n: usize) -> Result<Sample> {
        let mut cmd = match client {
            Client::Mosquitto => {
                let feed = mosq::feed_file(self.broker.dir(), n).map_err(io_err("feed"))?;
                mosq::publisher(self.broker.port(), qos, &feed, false).map_err(io_err("pub"))?
            }
            _ => self.worker(client, self.job(Role::Pub, qos, n)),
        };
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(io_err("spawn"))?;
        drop(child.stdout.take());
        let (status, cpu) = wait_cpu(&mut child).map_err(io_err("wait"))?;
        let wall = start.elapsed();
        if !status.success() {
            return Err(format!("{} publisher: {status}", client.key()));
        }
        Ok(Sample { cpu, wall })
    }

    /// A subscriber of `n` messages at `qos`, fed by `mosquitto_pub -l` (0 messages:
    /// connect, subscribe, disconnect).
    pub fn subscriber(&self, client: Client, qos: u8, n: usize) -> Result<Sample> {
        let mut cmd = match client {
            Client::Mosquitto => mosq::subscriber(self.broker.port(), qos, n),
            _ => self.worker(client, self.job(Role::Sub, qos, n)),
        };
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(io_err("spawn"))?;
        let result = self.feed_subscriber(client, &mut child, qos, n);
        let (status, cpu, killed) =
            wait_cpu_timeout(&mut child, Duration::from_secs(30)).map_err(io_err("wait"))?;
        let wall = start.elapsed();
        let received = result?;
        if killed || !status.success() || received != n {
            return Err(format!(
                "{} subscriber QoS {qos}: received {received} of {n} ({status})",
                client.key()
            ));
        }
        Ok(Sample { cpu, wall })
    }

    /// Waits until the subscriber is ready, runs the feeder, reads what it received.
    fn feed_subscriber(
        &self,
        client: Client,
        child: &mut Child,
        qos: u8,
        n: usize,
    ) -> Result<usize> {
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().transpose().map_err(io_err("read"))?;
        if first.as_deref() != Some("ready") {
            let _ = child.kill();
            return Err(format!("{} subscriber said {first:?}", client.key()));
        }
        // Drain the subscriber's output while the feeder runs (mosquitto_sub prints every
        // message: a full pipe would hold it up).
        let counter = std::thread::spawn(move || count_received(client, lines));
        if n > 0 {
            let feed = mosq::feed_file(self.broker.dir(), n).map_err(io_err("feed"))?;
            let mut feeder = mosq::publisher(self.broker.port(), qos, &feed, true)
                .map_err(io_err("feeder"))?
                .spawn()
                .map_err(io_err("feeder"))?;
            let (status, _) = wait_cpu(&mut feeder).map_err(io_err("feeder"))?;
            if !status.success() {
                let _ = child.kill();
                return Err(format!("feeder: {status}"));
            }
        }
        counter
            .join()
            .map_err(|_| "counter thread panicked".to_owned())
    }

    /// `n` idle connections in one process; `None` where not measured.
    pub fn idle(&self, client: Client, n: usize) -> Result<Option<IdleSample>> {
        let mut cmd = match (client, &self.libmosquitto_idle) {
            (Client::Mosquitto, None) => return Ok(None),
            (Client::Mosquitto, Some(program)) => {
                let mut c = Command::new(program);
                c.arg(self.broker.port().to_string())
                    .arg(n.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit());
                c
            }
            _ => self.worker(client, self.job(Role::Idle, 0, n)),
        };
        let mut child = cmd.spawn().map_err(io_err("spawn"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let line = BufReader::new(stdout).lines().next().transpose();
        let _ = wait_cpu(&mut child);
        let line = line.map_err(io_err("read"))?.unwrap_or_default();
        parse_idle(&line)
            .map(Some)
            .ok_or_else(|| format!("{} idle said {line:?}", client.key()))
    }
}

/// Compiles the libmosquitto idle loop into the broker's directory; `None` (the row
/// says "not measured") without a C compiler or `libmosquitto-dev`.
fn compile_idle_libmosquitto(broker: &Broker) -> Option<PathBuf> {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/idle_libmosquitto.c");
    let program = broker.dir().join("idle_libmosquitto");
    let built = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&program)
        .arg(source)
        .arg("-lmosquitto")
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        eprintln!(
            "e2e: could not build {source} (cc, libmosquitto-dev): libmosquitto idle row not measured"
        );
    }
    built.then_some(program)
}

/// Our workers print `received N`; mosquitto_sub prints one payload per line.
fn count_received(client: Client, lines: std::io::Lines<BufReader<ChildStdout>>) -> usize {
    let mut count = 0;
    for line in lines.map_while(std::result::Result::ok) {
        if client == Client::Mosquitto {
            count += usize::from(line.len() == PAYLOAD.len());
        } else if let Some(n) = line.strip_prefix("received ") {
            count = n.trim().parse().unwrap_or(0);
        }
    }
    count
}

/// Reads `idle rss_kib=.. threads=.. connected=..`.
pub fn parse_idle(line: &str) -> Option<IdleSample> {
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(IdleSample {
        rss_kib: field("rss_kib=")?,
        threads: field("threads=")?,
        connected: usize::try_from(field("connected=")?).ok()?,
    })
}
