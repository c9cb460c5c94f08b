//! The client life cycle on the async client, step by step: connect with options (keep
//! alive, clean start, credentials, will), subscribe with `+` and `#`, receive, publish
//! at QoS 0, 1 and 2 with and without retain, unsubscribe, disconnect.
//!
//! Against the broker in `MQTT_URL` (e.g. `mqtt://127.0.0.1:1883` or `ws://host:9001`),
//! with `MQTT_USER` / `MQTT_PASSWORD` if set; without `MQTT_URL` it starts a mosquitto
//! on a free port itself (with `testkit`, which needs `mosquitto` installed).
//!
//! Run: `cargo run -p mqtt-smol --example lifecycle`

use std::time::Duration;

use mqtt_smol::{Client, ClientOptions, Event, ProtocolVersion, QoS, TopicName, Will};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut _broker = None;
    let url = match std::env::var("MQTT_URL") {
        Ok(url) => url,
        Err(_) => {
            let broker = testkit::Mosquitto::start()?;
            let url = broker.url();
            println!("started mosquitto at {url}");
            _broker = Some(broker);
            url
        }
    };
    smol::block_on(life_cycle(&url))
}

async fn life_cycle(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "1. connect to {url} (MQTT 5.0, keep alive 30 s, clean start, will on 'lifecycle/status')"
    );
    let mut options = ClientOptions::new(url, "lifecycle-smol")?
        .protocol(ProtocolVersion::V5)
        .keep_alive(30)
        .clean_start(true)
        .will(Will::new(
            TopicName::try_from("lifecycle/status")?,
            "gone unexpectedly",
        ));
    if let (Ok(user), Ok(password)) = (std::env::var("MQTT_USER"), std::env::var("MQTT_PASSWORD")) {
        options = options.credentials(&user, password);
    }
    let (client, events) = Client::connect(options).await?;
    if let Ok(Event::Connected(c)) = events.recv_timeout(Duration::from_secs(5)).await {
        println!(
            "   connected: session present {}, server receive maximum {}",
            c.session_present, c.limits.receive_maximum
        );
    }

    println!("2. subscribe to 'lifecycle/+/temperature' (QoS 1) and 'lifecycle/alerts/#' (QoS 2)");
    let granted = client
        .subscribe("lifecycle/+/temperature", QoS::AtLeastOnce)
        .await?
        .await?;
    println!("   granted: {granted:?}");
    let granted = client
        .subscribe("lifecycle/alerts/#", QoS::ExactlyOnce)
        .await?
        .await?;
    println!("   granted: {granted:?}");

    println!("3. publish at QoS 0, 1 and 2, with and without retain");
    let kitchen = client
        .publish(
            "lifecycle/kitchen/temperature",
            QoS::AtMostOnce,
            false,
            "21.5",
        )
        .await?;
    let hall = client
        .publish("lifecycle/hall/temperature", QoS::AtLeastOnce, true, "19.0")
        .await?;
    let door = client
        .publish("lifecycle/alerts/door", QoS::ExactlyOnce, false, "open")
        .await?;
    // The three went out in one write; now wait for the broker's answers.
    println!("   QoS 0 -> {:?}", kitchen.await?);
    println!("   QoS 1 retained -> {:?}", hall.await?);
    println!("   QoS 2 -> {:?}", door.await?);

    println!("4. receive");
    let mut received = 0;
    while received < 3 {
        if let Event::Message(m) = events.recv_timeout(Duration::from_secs(5)).await? {
            received += 1;
            println!(
                "   message on '{}' ({}, retain {}): {}",
                m.publish.topic,
                m.publish.qos,
                m.publish.retain,
                String::from_utf8_lossy(&m.publish.payload)
            );
        }
    }

    println!("5. clear the retained message and unsubscribe");
    client
        .publish("lifecycle/hall/temperature", QoS::AtLeastOnce, true, "")
        .await?
        .await?;
    let outcome = client.unsubscribe("lifecycle/+/temperature").await?.await?;
    println!("   unsubscribed: {outcome:?}");
    client.unsubscribe("lifecycle/alerts/#").await?.await?;

    println!("6. disconnect (normal: the broker discards the will)");
    client.disconnect().await?;
    println!("done");
    Ok(())
}
