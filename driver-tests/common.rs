//! Helpers shared by the driver test suites (included with `#[path]` by each suite, which
//! is compiled once per driver). A suite uses only some of them.
#![allow(dead_code)]

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::driver::{Client, ClientOptions, Events};
use mqtt_proto::ProtocolVersion;
use mqtt_session::{Event, Options};
use testkit::FakeBroker;

/// How long any single step may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// Connects and checks that the first event is `Connected`.
pub fn connect(options: ClientOptions) -> (Client, Events) {
    let (client, events) = Client::connect(options).unwrap_or_else(|e| panic!("connect: {e}"));
    match events.recv_timeout(WAIT) {
        Ok(Event::Connected(_)) => {}
        other => panic!("the first event is not Connected: {other:?}"),
    }
    (client, events)
}

/// Client options against the fake broker: fast, deterministic reconnects, no keep-alive
/// traffic during a test (unless `tweak`, which may change the session options, asks for
/// it).
pub fn fake_broker_options(
    broker: &FakeBroker,
    client_id: &str,
    version: ProtocolVersion,
    tweak: impl FnOnce(&mut Options),
) -> ClientOptions {
    ClientOptions::new(&broker.url(), client_id)
        .unwrap()
        .protocol(version)
        .keep_alive(60)
        .session(|o| {
            o.reconnect.min_delay = Duration::from_millis(20);
            o.reconnect.max_delay = Duration::from_millis(200);
            o.reconnect.jitter_percent = 0;
            tweak(o);
        })
}

/// A client identifier unique in this run, at most 23 characters (the MQTT 3.1 limit).
pub fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = format!("{tag}-{n}-{}", std::process::id() % 100_000);
    assert!(id.len() <= 23, "client id {id:?} is too long for MQTT 3.1");
    id
}

static CLIENT_PANICS: AtomicUsize = AtomicUsize::new(0);

/// The name prefixes of the threads a client's code runs on: mqtt-std's own (all named
/// `mqtt-...`), and the smol executor's and async-io reactor's threads that run
/// mqtt-smol's driver.
const CLIENT_THREADS: [&str; 3] = ["mqtt-", "smol-", "async-io"];

/// Counts panics on the client's own threads ([`CLIENT_THREADS`]: mqtt-std's `mqtt-io`,
/// `mqtt-read`, `mqtt-connect`, `mqtt-events`; mqtt-smol's executor and reactor threads),
/// which would otherwise only show as a closed event channel.
pub fn watch_client_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current()
                .name()
                .is_some_and(|n| CLIENT_THREADS.iter().any(|t| n.starts_with(t)))
            {
                CLIENT_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// Fails if a client thread panicked since [`watch_client_panics`] was first called.
pub fn assert_no_client_panic() {
    assert_eq!(
        CLIENT_PANICS.load(Ordering::SeqCst),
        0,
        "a client thread panicked"
    );
}
