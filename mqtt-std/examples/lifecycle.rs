//! The client life cycle, step by step: connect with options (keep alive, clean start,
//! credentials, will), subscribe with `+` and `#`, receive, publish at QoS 0, 1 and 2 with
//! and without retain, unsubscribe, disconnect.
//!
//! Against the broker in `MQTT_URL` (e.g. `mqtt://127.0.0.1:1883`), or, when it is not
//! set, against a mosquitto this example starts itself on a free port.
//!
//! Run: `cargo run -p mqtt-std --example lifecycle`

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mqtt_proto::{ProtocolVersion, QoS, TopicName, Will};
use mqtt_session::Event;
use mqtt_std::{Client, ClientOptions};

/// A mosquitto started for this run, stopped on drop.
struct Broker(Child, std::path::PathBuf);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_mosquitto() -> Result<(Broker, String), Box<dyn std::error::Error>> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let dir = std::env::temp_dir().join(format!("mqtt-lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )?;
    let binary = ["mosquitto", "/usr/sbin/mosquitto"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("-h")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
        .ok_or(
            "mosquitto not found: install it with `apt-get install mosquitto`, or set MQTT_URL",
        )?;
    let child = Command::new(binary)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let broker = Broker(child, dir);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((broker, format!("mqtt://127.0.0.1:{port}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("mosquitto did not start".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_broker, url) = match std::env::var("MQTT_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let (b, url) = start_mosquitto()?;
            println!("started mosquitto at {url}");
            (Some(b), url)
        }
    };

    println!(
        "1. connect to {url} (MQTT 5.0, keep alive 30 s, clean start, will on 'lifecycle/status')"
    );
    let mut options = ClientOptions::new(&url, "lifecycle-demo")?
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
    let (client, events) = Client::connect(options)?;
    if let Ok(Event::Connected(c)) = events.recv_timeout(Duration::from_secs(5)) {
        println!(
            "   connected: session present {}, server receive maximum {}",
            c.session_present, c.limits.receive_maximum
        );
    }

    println!("2. subscribe to 'lifecycle/+/temperature' (QoS 1) and 'lifecycle/alerts/#' (QoS 2)");
    let granted = client
        .subscribe("lifecycle/+/temperature", QoS::AtLeastOnce)?
        .wait()?;
    println!("   granted: {granted:?}");
    let granted = client
        .subscribe("lifecycle/alerts/#", QoS::ExactlyOnce)?
        .wait()?;
    println!("   granted: {granted:?}");

    println!("3. publish at QoS 0, 1 and 2, with and without retain");
    let outcome = client
        .publish(
            "lifecycle/kitchen/temperature",
            QoS::AtMostOnce,
            false,
            "21.5",
        )?
        .wait()?;
    println!("   QoS 0 -> {outcome:?}");
    let outcome = client
        .publish("lifecycle/hall/temperature", QoS::AtLeastOnce, true, "19.0")?
        .wait()?;
    println!("   QoS 1 retained -> {outcome:?}");
    let outcome = client
        .publish("lifecycle/alerts/door", QoS::ExactlyOnce, false, "open")?
        .wait()?;
    println!("   QoS 2 -> {outcome:?}");

    println!("4. receive");
    let mut received = 0;
    while received < 3 {
        if let Event::Message(m) = events.recv_timeout(Duration::from_secs(5))? {
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
        .publish("lifecycle/hall/temperature", QoS::AtLeastOnce, true, "")?
        .wait()?;
    let outcome = client.unsubscribe("lifecycle/+/temperature")?.wait()?;
    println!("   unsubscribed: {outcome:?}");
    client.unsubscribe("lifecycle/alerts/#")?.wait()?;

    println!("6. disconnect (normal: the broker discards the will)");
    client.disconnect()?;
    println!("done");
    Ok(())
}
