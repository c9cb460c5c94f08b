//! Cancellation safety of every public future of mqtt-smol, as documented on `Client`
//! and `Events`: a `publish` dropped while it waits for room queued nothing; a dropped
//! `Pending` does not cancel its operation; an `Events::next` raced against a timer
//! loses no event; a `Pending` awaited with a timeout can be awaited again; dropping
//! the future of `Client::connect` closes the client it was starting.

use std::time::Duration;

use futures_lite::{FutureExt, StreamExt, future};
use mqtt_proto::{ConnAck, Packet, ProtocolVersion, ReasonCode};
use mqtt_smol::{Client, ClientOptions, Completion, Event, Events, QoS};
use testkit::{FakeBroker, Mosquitto};

const WAIT: Duration = Duration::from_secs(5);

fn broker() -> Mosquitto {
    Mosquitto::start().unwrap_or_else(|e| panic!("{e}"))
}

fn options(url: &str, id: &str) -> ClientOptions {
    ClientOptions::new(url, id)
        .unwrap()
        .connect_timeout(WAIT)
        .no_reconnect()
}

async fn timeout<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    f.or(async {
        async_io::Timer::after(WAIT).await;
        panic!("{what}: nothing within {WAIT:?}")
    })
    .await
}

async fn subscriber(url: &str, id: &str, filter: &str) -> (Client, Events) {
    let (client, events) = Client::connect(options(url, id)).await.unwrap();
    let granted = client
        .subscribe(filter, QoS::AtLeastOnce)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        granted,
        Completion::Subscribed(vec![ReasonCode::GrantedQoS1])
    );
    (client, events)
}

/// Payloads of the messages received within `quiet` of each other.
async fn payloads(events: &mut Events, quiet: Duration) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let next = async { events.next().await.map(Some) }
            .or(async {
                async_io::Timer::after(quiet).await;
                None
            })
            .await;
        match next {
            Some(Some(Event::Message(m))) => {
                got.push(String::from_utf8_lossy(&m.publish.payload).into_owned())
            }
            Some(Some(_)) => {}
            Some(None) | None => return got,
        }
    }
}

#[test]
fn a_publish_dropped_while_waiting_for_room_queues_nothing() {
    let broker = broker();
    let url = broker.url();
    smol::block_on(async {
        let (_sub, mut events) = subscriber(&url, "cancel-room-sub", "cancel/room").await;
        // The driver is not running yet: commands wait in the client's queue.
        let (client, _publisher_events, driver) =
            Client::new(options(&url, "cancel-room")).unwrap();
        let mut queued = 0usize;
        loop {
            let publish = client.publish("cancel/room", QoS::AtMostOnce, false, queued.to_string());
            // One poll: either it queued the message, or it waits for room.
            match future::poll_once(publish).await {
                Some(pending) => {
                    drop(pending.unwrap());
                    queued += 1;
                }
                // Dropped while waiting: this message must never be sent.
                None => break,
            }
            assert!(queued < 100_000, "the command queue never filled");
        }
        smol::spawn(driver).detach();
        // Once the driver runs, the queue drains and publish works again.
        timeout("publish after room", async {
            client
                .publish("cancel/room", QoS::AtLeastOnce, false, "last")
                .await
                .unwrap()
                .await
                .unwrap()
        })
        .await;
        let got = payloads(&mut events, Duration::from_millis(500)).await;
        let mut expected: Vec<String> = (0..queued).map(|i| i.to_string()).collect();
        expected.push("last".into());
        assert_eq!(got.len(), expected.len(), "queued {queued}");
        assert_eq!(got, expected);
    });
}

#[test]
fn a_dropped_pending_does_not_cancel_the_operation() {
    let broker = broker();
    let url = broker.url();
    smol::block_on(async {
        let (_sub, mut events) = subscriber(&url, "cancel-pending-sub", "cancel/pending").await;
        let (client, _e) = Client::connect(options(&url, "cancel-pending"))
            .await
            .unwrap();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let pending = client
                .publish("cancel/pending", qos, false, format!("{qos}"))
                .await
                .unwrap();
            drop(pending);
        }
        let got = payloads(&mut events, Duration::from_millis(500)).await;
        assert_eq!(got, ["QoS 0", "QoS 1", "QoS 2"].map(String::from));
    });
}

#[test]
fn a_pending_awaited_with_a_timeout_can_be_awaited_again() {
    let fake = FakeBroker::start(ProtocolVersion::V5).unwrap();
    let url = fake.url();
    smol::block_on(async {
        let (client, _events, driver) = Client::new(options(&url, "cancel-again")).unwrap();
        smol::spawn(driver).detach();
        let mut conn = fake.accept(WAIT).unwrap();
        conn.expect_connect(WAIT).unwrap();
        conn.send(ConnAck::new(ReasonCode::Success)).unwrap();
        let mut pending = client
            .publish("cancel/again", QoS::AtLeastOnce, false, "x")
            .await
            .unwrap();
        let id = match conn.expect_packet(WAIT).unwrap() {
            Packet::Publish(p) => p.packet_id.unwrap(),
            other => panic!("expected PUBLISH, got {other:?}"),
        };
        // No PUBACK yet: the first wait times out and is dropped.
        let early = future::poll_once(&mut pending).await;
        assert!(early.is_none(), "completed before the broker answered");
        conn.send(mqtt_proto::PubAck::new(id)).unwrap();
        let done = timeout("PUBACK", &mut pending).await.unwrap();
        assert_eq!(done, Completion::Published(ReasonCode::Success));
    });
}

#[test]
fn events_next_raced_against_a_timer_loses_nothing() {
    let broker = broker();
    let url = broker.url();
    smol::block_on(async {
        let (_sub, mut events) = subscriber(&url, "cancel-next-sub", "cancel/next").await;
        let (client, _e) = Client::connect(options(&url, "cancel-next")).await.unwrap();
        const N: usize = 2000;
        let publisher = smol::spawn(async move {
            for i in 0..N {
                let p = client
                    .publish("cancel/next", QoS::AtLeastOnce, false, i.to_string())
                    .await
                    .unwrap();
                if i % 100 == 0 {
                    p.await.unwrap();
                }
            }
            client
        });
        let mut got = 0usize;
        let mut cancelled = 0usize;
        while got < N {
            // A very short race: many `next` futures are dropped unfinished.
            let next = async { Some(events.next().await) }
                .or(async {
                    async_io::Timer::after(Duration::from_micros(50)).await;
                    None
                })
                .await;
            match next {
                Some(Some(Event::Message(m))) => {
                    assert_eq!(m.publish.payload, got.to_string(), "lost or reordered");
                    got += 1;
                }
                Some(Some(_)) => {}
                Some(None) => panic!("the stream ended after {got}"),
                None => cancelled += 1,
            }
        }
        assert!(
            cancelled > 0,
            "no `next` was ever cancelled: the test proves nothing"
        );
        drop(publisher.await);
    });
}

#[test]
fn dropping_the_connect_future_closes_the_client() {
    let fake = FakeBroker::start(ProtocolVersion::V5).unwrap();
    let url = fake.url();
    let accepted = std::thread::spawn(move || {
        let mut conn = fake.accept(WAIT).unwrap();
        conn.expect_connect(WAIT).unwrap();
        // Never answer CONNACK; the client must go away once its connect is dropped.
        conn.expect_closed(WAIT)
    });
    smol::block_on(async {
        let connect = Client::connect(options(&url, "cancel-connect"));
        let gave_up = async {
            let _ = connect.await;
            false
        }
        .or(async {
            async_io::Timer::after(Duration::from_millis(300)).await;
            true
        })
        .await;
        assert!(gave_up, "connected to a broker that never sent CONNACK");
    });
    assert!(
        accepted.join().unwrap(),
        "the connection stayed open after the connect future was dropped"
    );
}
