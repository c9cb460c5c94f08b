//! The async client over TLS, step by step: trust a private CA, connect, subscribe, publish one
//! message and receive it back.
//!
//! Against the broker in `MQTT_URL` (e.g. `mqtts://broker.example.com:8883`), trusting the
//! CA certificate in the PEM file `MQTT_CA_FILE` if set (else the platform's and the
//! bundled public roots), with `MQTT_USER` / `MQTT_PASSWORD` if set. Without `MQTT_URL`
//! it starts a mosquitto with a TLS listener and a throw-away CA itself (with `testkit`,
//! which needs `mosquitto` installed).
//!
//! Run: `cargo run -p mqtt-smol --example tls`

use std::time::Duration;

use mqtt_smol::{Client, ClientOptions, Event, QoS, TlsOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(tls_round_trip())
}

async fn tls_round_trip() -> Result<(), Box<dyn std::error::Error>> {
    // Keeps the broker running until the end of `main`, if we started one.
    let mut _broker = None;
    let (url, tls) = match std::env::var("MQTT_URL") {
        Ok(url) => {
            let tls = match std::env::var("MQTT_CA_FILE") {
                Ok(path) => {
                    println!("0. trusting the CA certificate in {path}");
                    TlsOptions::new().with_ca_pem(&std::fs::read(&path)?)?
                }
                Err(_) => {
                    println!("0. trusting the platform's and the bundled public roots");
                    TlsOptions::new()
                }
            };
            (url, tls)
        }
        Err(_) => {
            let broker = testkit::Mosquitto::builder().tls().start()?;
            let url = broker.tls_url().ok_or("the broker has no TLS listener")?;
            println!("0. started mosquitto with a TLS listener at {url}, trusting its test CA");
            let tls = TlsOptions::new().with_ca_pem(broker.ca_pem().as_bytes())?;
            _broker = Some(broker);
            (url, tls)
        }
    };

    println!("1. connect to {url} (TLS, the server certificate is verified)");
    let mut options =
        ClientOptions::new(&url, &format!("tls-example-smol-{}", std::process::id()))?
            .tls(tls)
            .connect_timeout(Duration::from_secs(10));
    if let (Ok(user), Ok(password)) = (std::env::var("MQTT_USER"), std::env::var("MQTT_PASSWORD")) {
        options = options.credentials(&user, password);
    }
    let (client, events) = Client::connect(options).await?;
    if let Ok(Event::Connected(c)) = events.recv_timeout(Duration::from_secs(5)).await {
        println!(
            "   connected as {} (session present: {})",
            c.client_id, c.session_present
        );
    }

    let topic = format!("examples/tls/{}", std::process::id());
    println!("2. subscribe to {topic}");
    let granted = client.subscribe(&topic, QoS::AtLeastOnce).await?.await?;
    println!("   {granted:?}");

    println!("3. publish one message at QoS 1");
    let outcome = client
        .publish(&topic, QoS::AtLeastOnce, false, "hello over TLS")
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
    println!("done");
    Ok(())
}
