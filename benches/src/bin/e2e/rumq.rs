//! The rumqttc 0.25 worker: `AsyncClient` + `EventLoop` on a tokio current-thread
//! runtime, default options (MQTT 3.1.1, in-flight window 100) but keep alive 60 s.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};

use crate::job::{IDLE_TIMEOUT, Job, KEEP_ALIVE, PAYLOAD, Role, TOPIC, report_idle};
use crate::measure::self_status;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The request channel's capacity handed to `AsyncClient::new` (as in rumqttc's examples).
const CAP: usize = 10;

fn qos(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn new_client(job: Job, i: usize) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(job.client_id("rumqttc", i), "127.0.0.1", job.port);
    o.set_keep_alive(Duration::from_secs(u64::from(KEEP_ALIVE)));
    AsyncClient::new(o, CAP)
}

/// Runs `job` with rumqttc.
pub fn run(job: Job) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        match job.role {
            Role::Pub => publish(job).await,
            Role::Sub => subscribe(job).await,
            Role::Idle => idle(job).await,
        }
    })
}

/// Polls until the DISCONNECT went out (or the connection ended).
async fn finish(client: &AsyncClient, el: &mut EventLoop) -> Result<()> {
    client.disconnect().await?;
    loop {
        match el.poll().await {
            Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

async fn connected(el: &mut EventLoop) -> Result<()> {
    match el.poll().await? {
        Event::Incoming(Packet::ConnAck(_)) => Ok(()),
        other => Err(format!("rumqttc: first event {other:?}").into()),
    }
}

async fn publish(job: Job) -> Result<()> {
    let (client, mut el) = new_client(job, 0);
    connected(&mut el).await?;
    let publisher = client.clone();
    let (n, q) = (job.n, qos(job.qos));
    let task = tokio::task::spawn_local(async move {
        for _ in 0..n {
            if publisher
                .publish(TOPIC, q, false, PAYLOAD.to_vec())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut done = 0;
    while done < job.n {
        let event = el.poll().await?;
        done += usize::from(matches!(
            (job.qos, &event),
            (0, Event::Outgoing(Outgoing::Publish(_)))
                | (1, Event::Incoming(Packet::PubAck(_)))
                | (2, Event::Incoming(Packet::PubComp(_)))
        ));
    }
    task.await?;
    finish(&client, &mut el).await
}

async fn subscribe(job: Job) -> Result<()> {
    let (client, mut el) = new_client(job, 0);
    connected(&mut el).await?;
    client.subscribe(TOPIC, qos(job.qos)).await?;
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = el.poll().await? {
            break;
        }
    }
    println!("ready");
    let mut received = 0;
    while received < job.n {
        match tokio::time::timeout(IDLE_TIMEOUT, el.poll()).await {
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                received += usize::from(p.payload.len() == PAYLOAD.len());
            }
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
    println!("received {received}");
    finish(&client, &mut el).await
}

async fn idle(job: Job) -> Result<()> {
    let baseline = self_status();
    let up = Rc::new(Cell::new(0usize));
    let mut clients = Vec::with_capacity(job.n);
    for i in 0..job.n {
        let (client, mut el) = new_client(job, i);
        clients.push(client);
        let counter = up.clone();
        tokio::task::spawn_local(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => counter.set(counter.get() + 1),
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        // One connection at a time, as the other workers open them.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while up.get() <= i {
            if tokio::time::Instant::now() > deadline {
                return Err(format!("rumqttc: connection {i} not up in 10 s").into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    report_idle(baseline, up.get());
    Ok(())
}
