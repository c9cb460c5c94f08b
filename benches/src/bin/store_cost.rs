//! What persistence costs (issue 15): QoS 1 and QoS 2 publishes through mqtt-std to a
//! private mosquitto, with no store and with each store and durability policy, in one
//! run. Reports messages per second and the client's CPU per message (user + system of
//! this process, which runs only the client; the broker is a child process).
//!
//!     cargo run --release -p benches --bin store_cost -- [MESSAGES] [ROUNDS]

// Only `start` and `port` are used here.
#[allow(dead_code)]
#[path = "e2e/broker.rs"]
mod broker;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mqtt_std::{Client, ClientOptions, Durability, FileStore, MemoryStore, ProtocolVersion, QoS};
use nix::sys::resource::{UsageWho, getrusage};

/// How many publishes may be outstanding: the window the publisher keeps open.
const WINDOW: usize = 100;

fn own_cpu() -> Duration {
    let t = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    getrusage(UsageWho::RUSAGE_SELF)
        .map_or(Duration::ZERO, |u| t(u.user_time()) + t(u.system_time()))
}

#[derive(Clone, Copy, Debug)]
enum Store {
    None,
    Memory,
    File(Durability),
}

impl Store {
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

/// Publishes `n` messages at `qos` with a window of [`WINDOW`]; returns (seconds, CPU).
fn run(port: u16, store: Store, qos: QoS, n: usize, round: usize) -> (f64, Duration) {
    let dir = std::env::temp_dir().join(format!("store-cost-{}-{round}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut options = ClientOptions::new(
        &format!("mqtt://127.0.0.1:{port}"),
        &format!("cost-{round}"),
    )
    .expect("options")
    .protocol(ProtocolVersion::V5)
    .clean_start(true)
    .session_expiry(60);
    options = match store {
        Store::None => options,
        Store::Memory => options.store(MemoryStore::new()),
        Store::File(d) => options.store(FileStore::open(&dir, d).expect("file store")),
    };
    let (client, _events) = Client::connect(options).expect("connect");
    let payload = bytes::Bytes::from(vec![b'x'; 64]);
    let cpu = own_cpu();
    let started = Instant::now();
    let mut window = VecDeque::new();
    for _ in 0..n {
        if window.len() == WINDOW {
            let p: mqtt_std::Pending = window.pop_front().expect("a pending publish");
            p.wait().expect("publish");
        }
        window.push_back(
            client
                .publish("cost", qos, false, payload.clone())
                .expect("publish"),
        );
    }
    for p in window {
        p.wait().expect("publish");
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = own_cpu().saturating_sub(cpu);
    client.disconnect().expect("disconnect");
    let _ = std::fs::remove_dir_all(&dir);
    (seconds, cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let broker = broker::Broker::start(None).expect("start mosquitto (Debian package)");
    let stores = [
        Store::None,
        Store::Memory,
        Store::File(Durability::Never),
        Store::File(Durability::Every(Duration::from_millis(10))),
        Store::File(Durability::EveryCommit),
    ];
    println!(
        "{n} messages of 64 B per round, window {WINDOW}, {rounds} rounds, medians; CPU is this process's (the client)"
    );
    println!();
    println!("| store | QoS | msg/s | client CPU per message (µs) |");
    println!("|---|---|---:|---:|");
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for store in stores {
            let mut rates = Vec::new();
            let mut cpus = Vec::new();
            // Rounds interleave nothing else: the machine is shared, so compare within a run.
            for round in 0..rounds {
                let (s, cpu) = run(broker.port(), store, qos, n, round);
                rates.push(n as f64 / s);
                cpus.push(cpu.as_secs_f64() * 1e6 / n as f64);
            }
            println!(
                "| {} | {} | {:.0} | {:.2} |",
                store.name(),
                qos as u8,
                median(rates),
                median(cpus)
            );
        }
    }
}
