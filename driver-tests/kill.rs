//! Persistence under SIGKILL, against a real mosquitto (issue 15): a publisher process
//! with a `FileStore` is killed at random moments while it publishes, and restarted each
//! time; it continues from its own progress file. A subscriber in this process counts
//! what arrives.
//!
//! Checked: every message the publisher handed over is delivered (a publish counts as
//! handed over once `wait_accepted` returned: with a store, that is once the store holds
//! it), at QoS 1 at least once, at QoS 2 exactly once. The one message a kill can leave
//! ambiguous to the application (accepted by the store, but killed before the publisher
//! wrote its progress, and already completed) may come twice; the test names those.
//!
//! And the other side: a subscriber process with a store, killed at random moments while
//! QoS 2 messages arrive and restarted each time, writes each message it is handed to a
//! file: no message is handed to it twice across the restarts. (A message handed over
//! in the instant before a kill, before the process wrote it, is lost to the application,
//! not to the protocol: the count of those is printed.) The same subscriber with manual
//! acknowledgements, acknowledging each message after writing it, loses none: a message
//! is accepted (recorded in the store) when acknowledged, so one not acknowledged before
//! a kill is handed over again after the restart, and only such a one.
//!
//! `MQTT_KILLS` (default 10) kills per QoS level and `MQTT_KILL_MESSAGES` (default 2 000)
//! messages per level; the run: `MQTT_KILLS=100 MQTT_KILL_MESSAGES=10000`.
//!
//! A custom harness (`harness = false`): the same binary is the child publisher when
//! `MQTT_KILL_CHILD` is set; it answers `--list` as libtest does, for cargo-nextest.
//! Shared by both drivers (`tests/kill.rs` in mqtt-std and mqtt-smol).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::driver::{
    Client, ClientOptions, Durability, Event, FileStore, Pending, ProtocolVersion, QoS,
    SessionStore,
};
use testkit::Mosquitto;

const TEST: &str = "publisher_killed_at_random_moments_loses_and_duplicates_nothing";
const TEST_SUB: &str = "subscriber_killed_at_random_moments_gets_no_qos2_message_twice";
const TEST_SUB_MANUAL: &str =
    "subscriber_with_manual_acks_killed_at_random_moments_loses_nothing_it_did_not_acknowledge";

/// The broker's in-flight window to the subscriber (its `max_inflight_messages`): how many
/// QoS 2 messages can be delivered and not yet accepted when a kill lands.
const SUB_WINDOW: usize = 20;

/// The test binary's `main` (each driver's `tests/kill.rs` calls it).
pub fn main() {
    match std::env::var("MQTT_KILL_CHILD").as_deref() {
        Ok("subscriber") => return subscriber_child(),
        Ok(_) => return child(),
        Err(_) => {}
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("{TEST}: test");
            println!("{TEST_SUB}: test");
            println!("{TEST_SUB_MANUAL}: test");
        }
        return;
    }
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let exact = args.iter().any(|a| a == "--exact");
    let selected = |name: &str| match filter {
        None => true,
        Some(f) if exact => f == name,
        Some(f) => name.contains(f.as_str()),
    };
    let tests: [(&str, fn()); 3] = [
        (TEST, publisher_killed_at_random_moments),
        (TEST_SUB, || subscriber_killed_at_random_moments(false)),
        (TEST_SUB_MANUAL, || {
            subscriber_killed_at_random_moments(true)
        }),
    ];
    let chosen: Vec<_> = tests.iter().filter(|(n, _)| selected(n)).collect();
    println!("running {} tests", chosen.len());
    for (name, test) in chosen {
        test();
        println!("test {name} ... ok");
    }
}

/// The subscriber child: resumes its stored session (subscribing on its first run) and
/// appends each message it is handed to `OUT`; with `MANUAL` set, it acknowledges each
/// message after writing it.
fn subscriber_child() {
    let var = |n: &str| std::env::var(n).unwrap_or_else(|_| panic!("{n} not set"));
    let (url, dir, out) = (
        var("URL"),
        PathBuf::from(var("DIR")),
        PathBuf::from(var("OUT")),
    );
    let manual = std::env::var_os("MANUAL").is_some();
    let options = ClientOptions::new(&url, "kill-sub-stored")
        .unwrap()
        .protocol(ProtocolVersion::V5)
        .clean_start(false)
        .session_expiry(3600)
        .manual_acks(manual)
        .store(FileStore::open(dir.join("store"), Durability::Never).unwrap());
    let (client, events) = Client::connect(options).unwrap();
    let marker = dir.join("subscribed");
    if !marker.exists() {
        client
            .subscribe("kill/s", QoS::ExactlyOnce)
            .unwrap()
            .wait_timeout(Duration::from_secs(5))
            .unwrap();
        std::fs::write(&marker, b"yes").unwrap();
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .unwrap();
    for event in events {
        if let Event::Message(mut m) = event {
            let mut line = m.publish.payload.to_vec();
            line.push(b'\n');
            std::io::Write::write_all(&mut file, &line).unwrap();
            if let Some(token) = m.ack.take() {
                client
                    .acknowledge(token, mqtt_proto::ReasonCode::Success)
                    .unwrap();
            }
        }
    }
}

fn lines(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// With auto-ack a message is accepted as it is handed over, so one handed over in the
/// instant before a kill is lost to the application; with manual acknowledgements
/// (`manual`) it is accepted when acknowledged, so none is lost, and one handed over again
/// after a restart was handed over, and not yet accepted, just before a kill.
fn subscriber_killed_at_random_moments(manual: bool) {
    let kills = env_number("MQTT_KILLS", 10);
    let total = env_number("MQTT_KILL_MESSAGES", 2_000);
    let broker = Mosquitto::builder()
        .extra_config(&format!(
            "max_queued_messages 0\nmax_inflight_messages {SUB_WINDOW}\n"
        ))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = broker.url();
    let dir = std::env::temp_dir().join(format!(
        "mqtt-kill-sub-{}-{}",
        std::process::id(),
        if manual { "manual" } else { "auto" }
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("received");
    let spawn_sub = || {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.env("MQTT_KILL_CHILD", "subscriber")
            .env("URL", &url)
            .env("DIR", &dir)
            .env("OUT", &out);
        if manual {
            c.env("MANUAL", "1");
        }
        c.spawn().expect("start the child subscriber")
    };
    let mut child = spawn_sub();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("subscribed").exists() {
        assert!(
            Instant::now() < deadline,
            "the child subscriber did not subscribe"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The publisher: every message at QoS 2, as fast as the broker takes them.
    let (publisher, _events) = Client::connect(
        ClientOptions::new(&url, &format!("kill-sub-publisher-{manual}"))
            .unwrap()
            .protocol(ProtocolVersion::V5),
    )
    .unwrap();
    let feeder = std::thread::spawn(move || {
        let mut window = std::collections::VecDeque::new();
        for i in 0..total {
            if window.len() == 100 {
                let p: Pending = window.pop_front().unwrap();
                p.wait().unwrap();
            }
            window.push_back(
                publisher
                    .publish("kill/s", QoS::ExactlyOnce, false, i.to_string())
                    .unwrap(),
            );
        }
        for p in window {
            p.wait().unwrap();
        }
        publisher
    });
    let mut seed = std::process::id() as u64 ^ 0xD1B5_4A32_D192_ED03;
    let mut kill_points = Vec::new();
    let started = Instant::now();
    for k in 0..kills {
        if k > 0 {
            child = spawn_sub();
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let from = lines(&out).len() as u64;
        let target = kill_target(from, total, kills - k, seed);
        // Until the target, or until nothing has come for a second (the messages lost
        // at earlier kills never come, so the count can stop short of the target).
        let mut seen = (from, Instant::now());
        loop {
            let n = lines(&out).len() as u64;
            if n >= target || seen.1.elapsed() > Duration::from_secs(1) {
                break;
            }
            if n != seen.0 {
                seen = (n, Instant::now());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        std::thread::sleep(Duration::from_micros(seed % 2_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kill_points.push(lines(&out).len());
    }
    let mut child = spawn_sub();
    let publisher = feeder.join().unwrap();
    // Everything the broker still holds arrives; then a quiet time for late duplicates.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = (0, Instant::now());
    while Instant::now() < deadline {
        let n = lines(&out).len();
        if n as u64 >= total || (n == last.0 && last.1.elapsed() > Duration::from_secs(2)) {
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    publisher.disconnect().unwrap();
    let got = lines(&out);
    let mut seen = BTreeMap::new();
    for i in &got {
        *seen.entry(*i).or_insert(0u32) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|&(_, &n)| n > 1).collect();
    let lost = total as usize - seen.len();
    println!(
        "subscriber, QoS 2, {}: {total} messages, {kills} kills in {:.1} s (lines at each kill: {kill_points:?}); {} handed over, {lost} lost to the application at kills, {} twice",
        if manual { "manual acks" } else { "auto-ack" },
        started.elapsed().as_secs_f64(),
        seen.len(),
        twice.len()
    );
    if manual {
        assert_eq!(
            lost, 0,
            "messages never handed over, though the application acknowledged none of them"
        );
        // A message comes again only if it was handed over, and not accepted, in the
        // last moments before a kill: within the broker's window of the kill's line.
        let unexplained: Vec<_> = twice
            .iter()
            .map(|&(i, _)| (i, got.iter().position(|g| g == i).unwrap()))
            .filter(|&(_, first)| {
                !kill_points
                    .iter()
                    .any(|&k| first < k && k <= first + SUB_WINDOW)
            })
            .collect();
        assert!(
            unexplained.is_empty(),
            "handed over again though not at a kill (message, first line): {unexplained:?}"
        );
    } else {
        assert!(
            twice.is_empty(),
            "QoS 2 messages handed to the application twice: {twice:?}"
        );
        assert!(
            lost as u64 <= kills * 64,
            "{lost} messages lost: more than the events one kill can catch in flight"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Where the next kill lands: after a random share of what is left, so that the `left`
/// kills spread over the rest of the input even when a loaded machine let the last child
/// run past its mark.
fn kill_target(from: u64, total: u64, left: u64, seed: u64) -> u64 {
    let rest = total.saturating_sub(from);
    (from + 1 + seed % (2 * rest / left.max(1)).max(1)).min(total - 1)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn read_progress(path: &Path) -> u64 {
    std::fs::read(path)
        .ok()
        .and_then(|b| {
            b.get(..8)
                .map(|b| u64::from_be_bytes(b.try_into().unwrap()))
        })
        .unwrap_or(0)
}

fn child_options(url: &str, qos: u8, dir: &Path) -> ClientOptions {
    ClientOptions::new(url, &format!("kill-pub-{qos}"))
        .unwrap()
        .protocol(ProtocolVersion::V5)
        .clean_start(false)
        .session_expiry(3600)
        .store(FileStore::open(dir, Durability::Never).unwrap())
}

/// The child: publishes from its progress on, then idles until killed.
fn child() {
    let var = |n: &str| std::env::var(n).unwrap_or_else(|_| panic!("{n} not set"));
    let (url, dir, progress) = (
        var("URL"),
        PathBuf::from(var("DIR")),
        PathBuf::from(var("PROGRESS")),
    );
    let total = env_number("TOTAL", 0);
    let qos_level: u8 = var("QOS").parse().unwrap();
    let qos = if qos_level == 1 {
        QoS::AtLeastOnce
    } else {
        QoS::ExactlyOnce
    };
    let mut next = read_progress(&progress);
    // A message accepted by the store before the last kill, but not yet in the progress
    // file: the store re-sends it, so it is not handed over again.
    let mut store = FileStore::open(&dir, Durability::Never).unwrap();
    if let Some(state) = store.load().unwrap() {
        let stored = |p: &bytes::Bytes| p[..] == *next.to_string().as_bytes();
        if state.in_flight.iter().any(|f| stored(&f.publish.payload))
            || state.queued.iter().any(|q| stored(&q.publish.payload))
        {
            next += 1;
        }
    }
    drop(store);
    let (client, _events) = Client::connect(child_options(&url, qos_level, &dir)).unwrap();
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&progress)
        .unwrap();
    for i in next..total {
        let pending = client.publish("kill/t", qos, false, i.to_string()).unwrap();
        pending.wait_accepted().unwrap();
        // No fsync: a killed process's writes are in the page cache.
        file.write_at(&(i + 1).to_be_bytes(), 0).unwrap();
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn spawn(url: &str, qos: u8, dir: &Path, progress: &Path, total: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env("MQTT_KILL_CHILD", "1")
        .env("URL", url)
        .env("DIR", dir)
        .env("PROGRESS", progress)
        .env("TOTAL", total.to_string())
        .env("QOS", qos.to_string())
        .spawn()
        .expect("start the child publisher")
}

fn publisher_killed_at_random_moments() {
    let kills = env_number("MQTT_KILLS", 10);
    let total = env_number("MQTT_KILL_MESSAGES", 2_000);
    let broker = Mosquitto::start().unwrap_or_else(|e| panic!("{e}"));
    let url = broker.url();
    let mut seed = std::process::id() as u64 ^ 0x9E37_79B9_7F4A_7C15;
    println!("seed {seed}, {kills} kills, {total} messages per QoS level");
    for qos in [1u8, 2] {
        let counts: Arc<Mutex<BTreeMap<u64, u32>>> = Arc::default();
        let (subscriber, events) = Client::connect(
            ClientOptions::new(&url, &format!("kill-sub-{qos}"))
                .unwrap()
                .protocol(ProtocolVersion::V5),
        )
        .unwrap();
        let granted = subscriber
            .subscribe("kill/t", QoS::ExactlyOnce)
            .unwrap()
            .wait_timeout(Duration::from_secs(5));
        assert!(granted.is_ok(), "subscribe: {granted:?}");
        let collector = std::thread::spawn({
            let counts = counts.clone();
            move || {
                for event in events {
                    if let Event::Message(m) = event {
                        let i: u64 = std::str::from_utf8(&m.publish.payload)
                            .unwrap()
                            .parse()
                            .unwrap();
                        *counts.lock().unwrap().entry(i).or_default() += 1;
                    }
                }
            }
        });
        let dir = std::env::temp_dir().join(format!("mqtt-kill-{}-{qos}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let progress = dir.join("progress");
        let store = dir.join("store");
        let mut ambiguous = BTreeSet::new();
        let mut kill_points = Vec::new();
        let started = Instant::now();
        for k in 0..kills {
            let mut child = spawn(&url, qos, &store, &progress, total);
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // A random moment: after a random number of further messages (so that the
            // kills are spread over the whole input), plus up to 2 ms.
            let from = read_progress(&progress);
            let target = kill_target(from, total, kills - k, seed);
            let wait = Instant::now() + Duration::from_secs(30);
            while read_progress(&progress) < target && Instant::now() < wait {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_micros(seed % 2_000));
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            let at = read_progress(&progress);
            ambiguous.insert(at);
            kill_points.push(at);
        }
        let handed_over = read_progress(&progress);
        // The last run finishes the input; everything must arrive.
        let mut child = spawn(&url, qos, &store, &progress, total);
        let deadline = Instant::now() + Duration::from_secs(120);
        while counts.lock().unwrap().len() < total as usize && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Duplicates that are still on their way.
        std::thread::sleep(Duration::from_millis(500));
        child.kill().unwrap();
        child.wait().unwrap();
        subscriber.disconnect().unwrap();
        collector.join().unwrap();
        let counts = counts.lock().unwrap();
        let missing: Vec<u64> = (0..total).filter(|i| !counts.contains_key(i)).collect();
        assert!(
            missing.is_empty(),
            "QoS {qos}: {} of {total} messages never arrived (first: {:?}); {kills} kills, progress {handed_over} at the last",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        let duplicated: Vec<(u64, u32)> = counts
            .iter()
            .filter(|&(_, &n)| n > 1)
            .map(|(&i, &n)| (i, n))
            .collect();
        if qos == 2 {
            let unexplained: Vec<_> = duplicated
                .iter()
                .filter(|(i, _)| !ambiguous.contains(i))
                .collect();
            assert!(
                unexplained.is_empty(),
                "QoS 2: delivered more than once: {unexplained:?} (ambiguous after kills: {ambiguous:?})"
            );
        }
        println!(
            "QoS {qos}: {total} messages, {kills} kills in {:.1} s (progress at each kill: {kill_points:?}); all delivered; {} delivered more than once ({:?})",
            started.elapsed().as_secs_f64(),
            duplicated.len(),
            &duplicated[..duplicated.len().min(5)],
        );
        assert!(
            kill_points.iter().filter(|&&p| p > 0 && p < total).count()
                >= (kills as usize).div_ceil(2),
            "QoS {qos}: fewer than half the kills landed while messages were being handed over: {kill_points:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
