//! The async client over WebSocket (`ws://`) and secure WebSocket (`wss://`), step by step: connect,
//! subscribe, publish one message and receive it back, on each.
//!
//! Against the broker in `MQTT_URL` (a `ws://` or `wss://` URL, e.g.
//! `wss://broker.example.com/mqtt`), trusting the CA certificate in the PEM file
//! `MQTT_CA_FILE` if set (else the platform's and the bundled public roots), with
//! `MQTT_USER` / `MQTT_PASSWORD` if set. Without `MQTT_URL` it starts a mosquitto with a
//! WebSocket and a secure WebSocket listener itself (with `testkit`, which needs
//! `mosquitto` installed) and uses both.
//!
//! Run: `cargo run -p mqtt-smol --example websocket`

use std::time::Duration;

use mqtt_smol::{Client, ClientOptions, Event, QoS, TlsOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keeps the broker running until the end of `main`, if we started one.
    let mut _broker = None;
    let (urls, tls) = match std::env::var("MQTT_URL") {
        Ok(url) => {
            let tls = match std::env::var("MQTT_CA_FILE") {
                Ok(path) => TlsOptions::new().with_ca_pem(&std::fs::read(&path)?)?,
                Err(_) => TlsOptions::new(),
            };
            (vec![url], tls)
        }
        Err(_) => {
            let broker = testkit::Mosquitto::builder()
                .websockets()
                .secure_websockets()
                .start()?;
            let ws = broker.ws_url().ok_or("no WebSocket listener")?;
            let wss = broker.wss_url().ok_or("no secure WebSocket listener")?;
            println!("started mosquitto: WebSocket at {ws}, secure WebSocket at {wss}");
            let tls = TlsOptions::new().with_ca_pem(broker.ca_pem().as_bytes())?;
            _broker = Some(broker);
            (vec![ws, wss], tls)
        }
    };

    for url in urls {
        smol::block_on(run(&url, tls.clone()))?;
    }
    println!("done");
    Ok(())
}

/// The whole round trip over one URL.
async fn run(url: &str, tls: TlsOptions) -> Result<(), Box<dyn std::error::Error>> {
    println!("1. connect to {url} (WebSocket subprotocol \"mqtt\")");
    let mut options = ClientOptions::new(url, &format!("ws-example-smol-{}", std::process::id()))?
        // Only used for wss://: the server certificate is verified against these roots.
        .tls(tls)
        .connect_timeout(Duration::from_secs(10));
    if let (Ok(user), Ok(password)) = (std::env::var("MQTT_USER"), std::env::var("MQTT_PASSWORD")) {
        options = options.credentials(&user, password);
    }
    let (client, events) = Client::connect(options).await?;
    if let Ok(Event::Connected(c)) = events.recv_timeout(Duration::from_secs(5)).await {
        println!("   connected as {}", c.client_id);
    }

    let topic = format!("examples/websocket/{}", std::process::id());
    println!("2. subscribe to {topic}");
    let granted = client.subscribe(&topic, QoS::AtLeastOnce).await?.await?;
    println!("   {granted:?}");

    println!("3. publish one message at QoS 1");
    let payload = format!("hello over {}", url.split(':').next().unwrap_or("?"));
    let outcome = client
        .publish(&topic, QoS::AtLeastOnce, false, payload)
        .await?
        .await?;
    println!("   {outcome:?}");

    println!("4. receive it");
    loop {
        if let Event::Message(m) = events.recv_timeout(Duration::from_secs(5)).await? {
            println!(
                "   '{}': {}",
                m.publish.topic,
                String::from_utf8_lossy(&m.publish.payload)
            );
            break;
        }
    }

    println!("5. disconnect");
    client.disconnect().await?;
    Ok(())
}
