//! mqtt-std's own promises, beyond the suites it shares with mqtt-smol: one thread per
//! client, commands that return before the broker answers, and waiting on several
//! operations (and the event stream) at once without polling.

use std::time::{Duration, Instant};

use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_session::{Event, OperationError};
use mqtt_std::{Client, ClientOptions, Completion, Error, Next, Pending};
use testkit::{FakeBroker, Mosquitto};

const WAIT: Duration = Duration::from_secs(5);

/// The threads of this process (each test runs in a process of its own under nextest;
/// under `cargo test` other tests' threads would count too, so the checks are by
/// difference and wait for the count to settle).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task (Linux)")
        .count()
}

/// Waits until the thread count is `want` (threads end asynchronously).
fn settle(want: usize, what: &str) {
    let deadline = Instant::now() + WAIT;
    while threads() != want {
        assert!(
            Instant::now() < deadline,
            "{what}: {} threads, expected {want}",
            threads()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn broker() -> Mosquitto {
    Mosquitto::builder()
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn options(url: &str, id: &str) -> ClientOptions {
    ClientOptions::new(url, id)
        .expect("options")
        .protocol(ProtocolVersion::V3_1_1)
        .connect_timeout(WAIT)
        .no_reconnect()
}

#[test]
fn a_connected_client_is_one_thread_and_leaves_none_behind() {
    let broker = broker();
    let before = threads();
    let (client, events) = Client::connect(options(&broker.url(), "one-thread")).expect("connect");
    assert!(matches!(events.recv_timeout(WAIT), Ok(Event::Connected(_))));
    assert_eq!(threads(), before + 1, "connected and idle");
    client
        .subscribe("one/thread", QoS::AtLeastOnce)
        .expect("subscribe")
        .wait()
        .expect("suback");
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        client
            .publish("one/thread", qos, false, "m")
            .expect("publish")
            .wait()
            .expect("completion");
        assert!(matches!(events.recv_timeout(WAIT), Ok(Event::Message(_))));
    }
    assert_eq!(threads(), before + 1, "after messages both ways");
    client.disconnect().expect("disconnect");
    settle(before, "after disconnect");
}

#[test]
fn a_host_name_is_looked_up_on_a_thread_that_ends() {
    let broker = broker();
    let before = threads();
    let url = broker.url().replace("127.0.0.1", "localhost");
    assert!(url.contains("localhost"), "{url}");
    let (client, _events) = Client::connect(options(&url, "lookup")).expect("connect");
    settle(before + 1, "connected by host name");
    client.disconnect().expect("disconnect");
    settle(before, "after disconnect");
}

/// Publishing never waits for the network: against a server that accepts the TCP
/// connection and never answers CONNECT, a thousand QoS 1 publishes return at once,
/// none completed, and a blocking command (close) is still taken at once.
#[test]
fn commands_return_before_the_broker_answers() {
    let fake = FakeBroker::start(ProtocolVersion::V3_1_1).expect("fake broker");
    let (client, _events) = Client::start(options(&fake.url(), "silent")).expect("start");
    let _connection = fake.accept(WAIT).expect("the client connects");
    let started = Instant::now();
    let pendings: Vec<Pending> = (0..1000)
        .map(|i| {
            client
                .publish("silent/t", QoS::AtLeastOnce, false, format!("{i}"))
                .expect("queued")
        })
        .collect();
    let queued_in = started.elapsed();
    assert!(pendings.iter().all(|p| !p.is_done()));
    let closing = Instant::now();
    client.close().expect("close");
    assert!(
        closing.elapsed() < WAIT,
        "close waited {:?}",
        closing.elapsed()
    );
    // Closing fails what never completed.
    for p in pendings {
        let outcome = p.wait_timeout(WAIT);
        assert!(
            matches!(
                outcome,
                Err(Error::Operation(OperationError::SessionClosed) | Error::Closed)
            ),
            "{outcome:?}"
        );
    }
    // Not a benchmark: only that nothing waited for an answer that never came.
    assert!(queued_in < WAIT, "1000 publishes took {queued_in:?}");
}

#[test]
fn wait_any_hands_out_each_outcome_once() {
    let broker = broker();
    let (client, _events) = Client::connect(options(&broker.url(), "wait-any")).expect("connect");
    let mut pendings: Vec<Pending> = (0..20)
        .map(|i| {
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            client
                .publish("wait/any", qos, false, "m")
                .expect("publish")
        })
        .collect();
    let mut completed = 0;
    while let Some((index, outcome)) = Pending::wait_any(&mut pendings, Some(WAIT)) {
        assert!(index < 20 - completed);
        assert!(
            matches!(outcome, Ok(Completion::Published(_))),
            "{outcome:?}"
        );
        completed += 1;
    }
    assert_eq!(completed, 20);
    assert!(pendings.is_empty());
    client.disconnect().expect("disconnect");
}

/// One wait for either an operation's outcome or an event: completions come through
/// it, and so does the loss of the connection while an operation is still open.
#[test]
fn wait_with_wakes_for_completions_and_for_a_lost_connection() {
    let mut broker = broker();
    let (client, events) = Client::connect(options(&broker.url(), "wait-with")).expect("connect");
    assert!(matches!(events.recv_timeout(WAIT), Ok(Event::Connected(_))));
    let mut pendings = vec![
        client
            .subscribe("wait/with", QoS::AtLeastOnce)
            .expect("subscribe"),
    ];
    match events.wait_with(&mut pendings, Some(WAIT)) {
        Ok(Next::Completed { index: 0, outcome }) => {
            assert!(
                matches!(outcome, Ok(Completion::Subscribed(_))),
                "{outcome:?}"
            )
        }
        other => panic!("expected the SUBACK: {other:?}"),
    }
    assert!(pendings.is_empty());
    pendings.push(
        client
            .publish("wait/with", QoS::AtLeastOnce, false, "m")
            .expect("publish"),
    );
    let (mut message, mut puback) = (false, false);
    while !(message && puback) {
        match events.wait_with(&mut pendings, Some(WAIT)) {
            Ok(Next::Event(Event::Message(_))) => message = true,
            Ok(Next::Completed { outcome, .. }) => {
                assert!(outcome.is_ok(), "{outcome:?}");
                puback = true;
            }
            other => panic!("expected the message and its PUBACK: {other:?}"),
        }
    }
    // Nothing more is coming: the wait times out.
    assert!(matches!(
        events.wait_with(&mut pendings, Some(Duration::from_millis(100))),
        Err(Error::Timeout)
    ));
    // The broker goes away with no operation open: the event wakes the waiter.
    broker.kill().expect("kill the broker");
    let started = Instant::now();
    match events.wait_with(&mut pendings, Some(WAIT)) {
        Ok(Next::Event(Event::Disconnected { .. })) => {}
        other => panic!("expected Disconnected: {other:?}"),
    }
    assert!(started.elapsed() < WAIT);
    // Reconnects are off: the client ends, and so does the stream.
    assert!(matches!(
        events.wait_with(&mut pendings, Some(WAIT)),
        Err(Error::Closed)
    ));
}
