//! Helpers shared by the driver test suites (included with `#[path]` by each suite, which
//! is compiled once per driver). A suite uses only some of them.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::driver::{Client, ClientOptions, Events};
use mqtt_session::Event;

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

/// A client identifier unique in this run, at most 23 characters (the MQTT 3.1 limit).
pub fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = format!("{tag}-{n}-{}", std::process::id() % 100_000);
    assert!(id.len() <= 23, "client id {id:?} is too long for MQTT 3.1");
    id
}
