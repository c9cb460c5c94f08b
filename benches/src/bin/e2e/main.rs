//! End-to-end benchmark of MQTT clients against a private mosquitto: client CPU per
//! message (publisher and subscriber, QoS 0/1/2), publisher throughput, and memory and
//! threads per idle connection, for `mqtt-std`, `mqtt-smol`, rumqttc and the mosquitto
//! command-line clients. See benches/README.md, "End-to-end (clients against mosquitto)".
//!
//! ```text
//! cargo run --release -p benches --bin e2e -- [--rounds 5] [--messages N]
//!     [--only std,smol,smol-global,rumqttc,mosquitto] [--connections 200]
//!     [--idle-10k [--hold-secs 65] [--idle-count 10000]]
//! ```
//!
//! Every client runs as a child process (this program with `worker CLIENT ...`, or
//! `mosquitto_pub` / `mosquitto_sub`), so its CPU is the whole process's user + system
//! time, from `getrusage(RUSAGE_CHILDREN)` around its `wait`.

mod broker;
mod idle10k;
mod job;
mod measure;
mod mosq;
mod ours;
mod report;
mod rumq;
mod run;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use report::{Results, Scenario};
use run::{Client, Runner};

/// Command-line settings of a benchmark run.
struct Args {
    rounds: usize,
    messages: usize,
    clients: Vec<Client>,
    connections: usize,
    idle_10k: bool,
    hold_secs: u64,
    idle_count: usize,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        rounds: 5,
        messages: 20_000,
        clients: Client::ALL.to_vec(),
        connections: 200,
        idle_10k: false,
        hold_secs: 65,
        idle_count: 10_000,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: &String| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--rounds" => a.rounds = number(value()?)?.max(1),
            "--messages" => a.messages = number(value()?)?.max(1),
            "--connections" => a.connections = number(value()?)?.max(1),
            "--hold-secs" => a.hold_secs = number(value()?)? as u64,
            "--idle-count" => a.idle_count = number(value()?)?.max(1),
            "--idle-10k" => a.idle_10k = true,
            "--only" => {
                a.clients = value()?
                    .split(',')
                    .map(|w| Client::parse(w.trim()).ok_or(format!("unknown client {w}")))
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = if args.first().map(String::as_str) == Some("worker") {
        worker(&args[1..])
    } else {
        parse_args(&args).and_then(|a| if a.idle_10k { idle_10k(&a) } else { bench(&a) })
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e: {e}");
            ExitCode::FAILURE
        }
    }
}

fn worker(args: &[String]) -> Result<(), String> {
    let (client, rest) = args.split_first().ok_or("worker: which client?")?;
    let job = job::Job::parse(rest)?;
    let result = match client.as_str() {
        "std" => ours::run_std(job),
        "smol" => ours::run_smol(job, false),
        "smol-global" => ours::run_smol(job, true),
        "rumqttc" => rumq::run(job),
        "hold" => idle10k::worker(job),
        other => return Err(format!("worker: unknown client {other}")),
    };
    result.map_err(|e| format!("worker {client} {:?}: {e}", job.role))
}

fn header(a: &Args, mode: &str) -> String {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let runs = if a.idle_10k {
        format!("{} connections held {} s", a.idle_count, a.hold_secs)
    } else {
        format!(
            "rounds {}; messages {} (QoS 0: {}); idle connections {}",
            a.rounds,
            a.messages,
            a.messages * 5,
            a.connections
        )
    };
    format!(
        "<!-- e2e {mode}: {date}; {cores} cores; load average at start {}; {runs} -->\n",
        loadavg()
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn bench(a: &Args) -> Result<(), String> {
    let head = header(a, "bench");
    let runner = Runner::new()?;
    let mut results = Results {
        messages: [a.messages * 5, a.messages, a.messages],
        ..Results::default()
    };
    let scenarios = [
        Scenario::PubBase,
        Scenario::Pub(0),
        Scenario::Pub(1),
        Scenario::Pub(2),
        Scenario::SubBase,
        Scenario::Sub(0),
        Scenario::Sub(1),
        Scenario::Sub(2),
        Scenario::Idle,
    ];
    let start = Instant::now();
    let mut order = a.clients.clone();
    for round in 1..=a.rounds {
        for &scenario in &scenarios {
            for &client in &order {
                run_one(&runner, &mut results, a, round, client, scenario);
            }
        }
        // Each client goes first in turn.
        order.rotate_left(1);
        eprintln!("e2e: round {round} done after {:.0?}", start.elapsed());
    }
    print!("{head}");
    println!(
        "<!-- took {:.0?}; load average at end {} -->",
        start.elapsed(),
        loadavg()
    );
    print!("{}", results.render(&a.clients));
    Ok(())
}

fn run_one(
    runner: &Runner,
    results: &mut Results,
    a: &Args,
    round: usize,
    client: Client,
    scenario: Scenario,
) {
    let n = |q: u8| results.messages[usize::from(q)];
    let outcome = match scenario {
        Scenario::PubBase => runner.publisher(client, 0, 0),
        Scenario::Pub(q) => runner.publisher(client, q, n(q)),
        Scenario::SubBase => runner.subscriber(client, 0, 0),
        Scenario::Sub(q) => runner.subscriber(client, q, n(q)),
        Scenario::Idle => {
            match runner.idle(client, a.connections) {
                Ok(Some(s)) => {
                    eprintln!("e2e: round {round} {} idle {s:?}", client.key());
                    results.idle.entry(client).or_default().push(s);
                }
                Ok(None) => {}
                Err(e) => results.errors.push(format!("round {round}: {e}")),
            }
            return;
        }
    };
    match outcome {
        Ok(s) => {
            eprintln!(
                "e2e: round {round} {} {scenario:?}: cpu {:.1?} wall {:.1?}",
                client.key(),
                s.cpu,
                s.wall
            );
            results
                .samples
                .entry((client, scenario))
                .or_default()
                .push(s);
        }
        Err(e) => {
            eprintln!(
                "e2e: round {round} {} {scenario:?} FAILED: {e}",
                client.key()
            );
            results
                .errors
                .push(format!("round {round} {scenario:?}: {e}"));
        }
    }
}

fn idle_10k(a: &Args) -> Result<(), String> {
    let head = header(a, "idle-10k");
    let report =
        idle10k::run(a.idle_count, Duration::from_secs(a.hold_secs)).map_err(|e| e.to_string())?;
    print!("{head}");
    println!(
        "\n**{} idle `mqtt-smol` connections, one process, one thread:**\n",
        a.idle_count
    );
    print!("{report}");
    Ok(())
}
