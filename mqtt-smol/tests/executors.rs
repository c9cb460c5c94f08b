//! mqtt-smol runs under any executor: smol's, `futures_lite::future::block_on` (the
//! driver polled beside the application in one thread), and inside a tokio runtime
//! (async-io drives its own reactor). Each test makes a full round trip through a real
//! mosquitto: subscribe, publish QoS 1, receive it, disconnect.

use std::time::Duration;

use futures_lite::{FutureExt, StreamExt, future};
use mqtt_smol::{Client, ClientOptions, Event, Events, QoS};
use testkit::Mosquitto;

const WAIT: Duration = Duration::from_secs(5);

fn broker() -> Mosquitto {
    Mosquitto::start().unwrap_or_else(|e| panic!("{e}"))
}

fn options(broker: &Mosquitto, id: &str) -> ClientOptions {
    ClientOptions::new(&broker.url(), id)
        .unwrap()
        .connect_timeout(WAIT)
        .no_reconnect()
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    f.or(async {
        async_io::Timer::after(WAIT).await;
        panic!("{what}: no answer within {WAIT:?}")
    })
    .await
}

/// Subscribe, publish to ourselves at QoS 1, get the message back, disconnect.
async fn round_trip(client: &Client, events: &mut Events, topic: &str) {
    within("subscribe", async {
        client.subscribe(topic, QoS::AtLeastOnce).await?.await
    })
    .await
    .expect("subscribe");
    within("publish", async {
        client
            .publish(topic, QoS::AtLeastOnce, false, "hi")
            .await?
            .await
    })
    .await
    .expect("publish");
    let message = within("message", async {
        while let Some(event) = events.next().await {
            if let Event::Message(m) = event {
                return m;
            }
        }
        panic!("the event stream ended");
    })
    .await;
    assert_eq!(message.publish.topic.as_str(), topic);
    assert_eq!(&message.publish.payload[..], b"hi");
    within("disconnect", client.disconnect())
        .await
        .expect("disconnect");
    // The stream ends once the client is closed.
    within("end of events", async {
        while events.next().await.is_some() {}
    })
    .await;
}

#[test]
fn runs_on_smols_executor() {
    let broker = broker();
    smol::block_on(async {
        let (client, mut events) = Client::connect(options(&broker, "exec-smol"))
            .await
            .unwrap();
        match events.next().await {
            Some(Event::Connected(_)) => {}
            other => panic!("first event: {other:?}"),
        }
        round_trip(&client, &mut events, "exec/smol").await;
    });
}

#[test]
fn runs_under_block_on_with_the_driver_beside_the_application() {
    let broker = broker();
    let (client, mut events, driver) = Client::new(options(&broker, "exec-block-on")).unwrap();
    // One thread, no executor: the driver and the application polled together.
    let app = async move {
        round_trip(&client, &mut events, "exec/block_on").await;
    };
    future::block_on(future::zip(driver, app));
}

#[test]
fn runs_inside_a_tokio_runtime() {
    let broker = broker();
    let url = broker.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let options = ClientOptions::new(&url, "exec-tokio")
            .unwrap()
            .connect_timeout(WAIT)
            .no_reconnect();
        let (client, mut events, driver) = Client::new(options).unwrap();
        let driver = tokio::spawn(driver);
        round_trip(&client, &mut events, "exec/tokio").await;
        drop(client);
        tokio::time::timeout(WAIT, driver)
            .await
            .expect("the driver ends once the client is closed")
            .unwrap();
    });
}
