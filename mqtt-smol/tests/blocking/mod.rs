//! The async client behind the blocking client's API, for the driver test bodies shared
//! with mqtt-std (`driver-tests/`): every call is the async one under `block_on`, while
//! the client's driver runs on smol's executor as in an application.
//!
//! `publish` & co. also wait for the session to take the command, as mqtt-std's do, so
//! that a refusal shows at the call in both drivers' tests.

#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use futures_lite::future::block_on;
use mqtt_smol::{
    AckToken, AcknowledgeError, ClientOptions, DisconnectOptions, Error, Event, Pending, Publish,
    QoS, ReasonCode, SubscribeProperties, Subscription, TopicFilter, UnsubscribeProperties,
};

/// mqtt-smol's client with mqtt-std's blocking calls.
#[derive(Clone)]
pub struct Client {
    inner: mqtt_smol::Client,
}

/// mqtt-smol's event stream as a blocking iterator.
pub struct Events {
    inner: mqtt_smol::Events,
}

fn accepted(pending: Result<Pending, Error>) -> Result<Pending, Error> {
    let pending = pending?;
    pending.wait_accepted()?;
    Ok(pending)
}

impl Client {
    pub fn connect(options: ClientOptions) -> Result<(Client, Events), Error> {
        let (inner, events) = block_on(mqtt_smol::Client::connect(options))?;
        Ok((Client { inner }, Events { inner: events }))
    }

    pub fn start(options: ClientOptions) -> Result<(Client, Events), Error> {
        let (inner, events) = mqtt_smol::Client::start(options)?;
        Ok((Client { inner }, Events { inner: events }))
    }

    /// The async client inside.
    pub fn as_async(&self) -> &mqtt_smol::Client {
        &self.inner
    }

    pub fn publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Bytes>,
    ) -> Result<Pending, Error> {
        accepted(block_on(self.inner.publish(topic, qos, retain, payload)))
    }

    pub fn publish_message(&self, message: Publish) -> Result<Pending, Error> {
        accepted(block_on(self.inner.publish_message(message)))
    }

    pub fn subscribe(&self, filter: &str, qos: QoS) -> Result<Pending, Error> {
        accepted(block_on(self.inner.subscribe(filter, qos)))
    }

    pub fn subscribe_many(
        &self,
        subscriptions: Vec<Subscription>,
        properties: SubscribeProperties,
    ) -> Result<Pending, Error> {
        accepted(block_on(
            self.inner.subscribe_many(subscriptions, properties),
        ))
    }

    pub fn unsubscribe(&self, filter: &str) -> Result<Pending, Error> {
        accepted(block_on(self.inner.unsubscribe(filter)))
    }

    pub fn unsubscribe_many(
        &self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<Pending, Error> {
        accepted(block_on(self.inner.unsubscribe_many(filters, properties)))
    }

    pub fn acknowledge(
        &self,
        token: AckToken,
        reason_code: ReasonCode,
    ) -> Result<(), AcknowledgeError> {
        block_on(self.inner.acknowledge(token, reason_code))
    }

    pub fn authenticate(&self, data: Option<Bytes>) -> Result<(), Error> {
        block_on(self.inner.authenticate(data))
    }

    pub fn reauthenticate(&self, data: Option<Bytes>) -> Result<(), Error> {
        block_on(self.inner.reauthenticate(data))
    }

    pub fn disconnect(&self) -> Result<(), Error> {
        block_on(self.inner.disconnect())
    }

    pub fn disconnect_with(&self, options: DisconnectOptions) -> Result<(), Error> {
        block_on(self.inner.disconnect_with(options))
    }

    pub fn close(&self) -> Result<(), Error> {
        block_on(self.inner.close())
    }
}

impl Iterator for Events {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        block_on(self.inner.recv())
    }
}

impl Events {
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, Error> {
        block_on(self.inner.recv_timeout(timeout))
    }

    pub fn try_next(&self) -> Option<Event> {
        self.inner.try_next()
    }

    pub fn spawn_handler<F>(self, mut handler: F) -> std::io::Result<std::thread::JoinHandle<()>>
    where
        F: FnMut(Event) + Send + 'static,
    {
        std::thread::Builder::new()
            .name("mqtt-events-handler".into())
            .spawn(move || {
                while let Some(event) = block_on(self.inner.recv()) {
                    handler(event);
                }
            })
    }
}
