//! The workers of our two clients: `mqtt-std` (blocking) and `mqtt-smol` (async, its
//! driver polled on the worker's one thread, or spawned on smol's global executor).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use mqtt_smol::ProtocolVersion;

use crate::job::{APP_WINDOW, IDLE_TIMEOUT, Job, KEEP_ALIVE, PAYLOAD, Role, TOPIC, report_idle};
use crate::measure::self_status;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn qos(q: u8) -> mqtt_std::QoS {
    match q {
        0 => mqtt_std::QoS::AtMostOnce,
        1 => mqtt_std::QoS::AtLeastOnce,
        _ => mqtt_std::QoS::ExactlyOnce,
    }
}

/// Options shared by both clients: MQTT 3.1.1 (what rumqttc and mosquitto_pub speak by
/// default), keep alive 60 s, no reconnects; everything else default (so the in-flight
/// window is the 3.1.1 default, 20).
///
/// `E2E_MAX_IN_FLIGHT=N` in the environment sets another window (for experiments).
fn options(job: Job, client: &str, i: usize) -> Result<mqtt_std::ClientOptions> {
    let window = std::env::var("E2E_MAX_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse::<u16>().ok());
    Ok(
        mqtt_std::ClientOptions::new(&job.url(), &job.client_id(client, i))?
            .protocol(ProtocolVersion::V3_1_1)
            .keep_alive(KEEP_ALIVE)
            .no_reconnect()
            .session(|o| o.max_in_flight = window.or(o.max_in_flight)),
    )
}

/// Runs `job` with `mqtt-std`.
pub fn run_std(job: Job) -> Result<()> {
    use mqtt_std::{Client, Event};
    match job.role {
        Role::Pub => {
            let (client, _events) = Client::connect(options(job, "std", 0)?)?;
            let payload = Bytes::from_static(PAYLOAD);
            let mut window = VecDeque::with_capacity(APP_WINDOW);
            for _ in 0..job.n {
                window.push_back(client.publish(TOPIC, qos(job.qos), false, payload.clone())?);
                if window.len() >= APP_WINDOW
                    && let Some(p) = window.pop_front()
                {
                    p.wait()?;
                }
            }
            for p in window {
                p.wait()?;
            }
            client.disconnect()?;
        }
        Role::Sub => {
            let (client, events) = Client::connect(options(job, "std", 0)?)?;
            client.subscribe(TOPIC, qos(job.qos))?.wait()?;
            println!("ready");
            let mut received = 0;
            while received < job.n {
                match events.recv_timeout(IDLE_TIMEOUT) {
                    Ok(Event::Message(m)) => {
                        received += usize::from(m.publish.payload.len() == PAYLOAD.len());
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            println!("received {received}");
            client.disconnect()?;
        }
        Role::Idle => {
            let baseline = self_status();
            let mut clients = Vec::with_capacity(job.n);
            for i in 0..job.n {
                clients.push(Client::connect(options(job, "std", i)?)?);
            }
            std::thread::sleep(Duration::from_secs(1));
            report_idle(baseline, clients.len());
        }
    }
    Ok(())
}

/// Runs `job` with `mqtt-smol`. `global`: [`mqtt_smol::Client::connect`], whose driver
/// runs on smol's global executor (its own thread); otherwise [`mqtt_smol::Client::new`]
/// with the driver polled beside the application on the worker's one thread.
pub fn run_smol(job: Job, global: bool) -> Result<()> {
    let name = if global { "smol-global" } else { "smol" };
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        if job.role == Role::Idle {
            return smol_idle(&ex, job, name, global).await;
        }
        let (client, events) = smol_client(&ex, job, name, 0, global).await?;
        match job.role {
            Role::Pub => {
                let payload = Bytes::from_static(PAYLOAD);
                let mut window = VecDeque::with_capacity(APP_WINDOW);
                for _ in 0..job.n {
                    let p = client
                        .publish(TOPIC, qos(job.qos), false, payload.clone())
                        .await?;
                    window.push_back(p);
                    if window.len() >= APP_WINDOW
                        && let Some(p) = window.pop_front()
                    {
                        p.await?;
                    }
                }
                for p in window {
                    p.await?;
                }
            }
            _ => {
                client.subscribe(TOPIC, qos(job.qos)).await?.await?;
                println!("ready");
                let mut received = 0;
                while received < job.n {
                    match events.recv_timeout(IDLE_TIMEOUT).await {
                        Ok(mqtt_smol::Event::Message(m)) => {
                            received += usize::from(m.publish.payload.len() == PAYLOAD.len());
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                println!("received {received}");
            }
        }
        client.disconnect().await?;
        Ok(())
    }))?;
    // The local executor runs until its driver tasks ended (they end on disconnect).
    while ex.try_tick() {}
    Ok(())
}

/// Starts one client and waits for its connection.
async fn smol_client(
    ex: &smol::LocalExecutor<'_>,
    job: Job,
    name: &str,
    i: usize,
    global: bool,
) -> Result<(mqtt_smol::Client, mqtt_smol::Events)> {
    let opts = options(job, name, i)?;
    if global {
        return Ok(mqtt_smol::Client::connect(opts).await?);
    }
    let (client, events, driver) = mqtt_smol::Client::new(opts)?;
    ex.spawn(driver).detach();
    match events.recv_timeout(Duration::from_secs(10)).await? {
        mqtt_smol::Event::Connected(_) => Ok((client, events)),
        other => Err(format!("smol: first event {other:?}").into()),
    }
}

async fn smol_idle(ex: &smol::LocalExecutor<'_>, job: Job, name: &str, global: bool) -> Result<()> {
    let baseline = self_status();
    let mut clients = Vec::with_capacity(job.n);
    for i in 0..job.n {
        clients.push(smol_client(ex, job, name, i, global).await?);
    }
    smol::Timer::after(Duration::from_secs(1)).await;
    report_idle(baseline, clients.len());
    Ok(())
}
