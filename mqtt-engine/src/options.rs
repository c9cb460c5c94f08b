//! Client configuration: a broker URL plus every option and policy of the session, the
//! TLS and WebSocket settings, and what the drivers need to open connections. One
//! definition for both drivers.

use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{MqttString, ProtocolVersion, Will};
use mqtt_session::{Options, ReconnectPolicy};

use crate::error::Error;
use crate::store::SessionStore;
use crate::tls::TlsOptions;
use crate::transport::{AsyncConnector, Connector, CustomConnector};

impl DriverOptions {
    /// The application's blocking transport, if it gave one; an error if it gave an
    /// async one (for the blocking client).
    pub fn blocking_connector(&mut self) -> Result<Option<Box<dyn Connector>>, Error> {
        match self.connector.take() {
            None => Ok(None),
            Some(CustomConnector::Blocking(c)) => Ok(Some(c)),
            Some(CustomConnector::Async(_)) => Err(Error::Configuration(
                "mqtt-std opens blocking connections: give it a Connector with \
                 ClientOptions::connector (async_connector is for mqtt-smol)"
                    .into(),
            )),
        }
    }

    /// The application's async transport, if it gave one; an error if it gave a
    /// blocking one (for the async client).
    pub fn async_connector(&mut self) -> Result<Option<Box<dyn AsyncConnector>>, Error> {
        match self.connector.take() {
            None => Ok(None),
            Some(CustomConnector::Async(c)) => Ok(Some(c)),
            Some(CustomConnector::Blocking(_)) => Err(Error::Configuration(
                "mqtt-smol opens async connections: give it an AsyncConnector with \
                 ClientOptions::async_connector (connector is for mqtt-std)"
                    .into(),
            )),
        }
    }
}
use crate::url::BrokerUrl;

/// Events held for the application before the client stops reading the socket.
pub const DEFAULT_EVENT_BUFFER: usize = 1024;

/// Everything a client (blocking or async) is configured with.
///
/// ```
/// use mqtt_engine::ClientOptions;
/// use mqtt_proto::ProtocolVersion;
///
/// let options = ClientOptions::new("mqtt://127.0.0.1:1883", "sensor-17")?
///     .protocol(ProtocolVersion::V3_1_1)
///     .keep_alive(30)
///     .credentials("alice", "secret")
///     .clean_start(false)
///     // Anything else the session knows (see `mqtt_session::Options`):
///     .session(|o| o.max_in_flight = Some(10));
/// # Ok::<(), mqtt_engine::Error>(())
/// ```
pub struct ClientOptions {
    pub(crate) session: Options,
    pub(crate) tls: TlsOptions,
    pub(crate) ws_headers: Vec<(String, String)>,
    pub(crate) connector: Option<CustomConnector>,
    pub(crate) connect_timeout: Duration,
    pub(crate) event_buffer: usize,
    pub(crate) completion_events: bool,
    pub(crate) store: Option<Box<dyn SessionStore>>,
}

/// What a driver keeps of the options to open connections (the rest goes to the
/// [`Engine`](crate::Engine)).
#[derive(Debug)]
#[non_exhaustive]
pub struct DriverOptions {
    /// The application's own transport, if it brings one.
    pub connector: Option<CustomConnector>,
    /// How long to wait for the first connection; also the TCP connect timeout.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("session", &self.session)
            .field("tls", &self.tls)
            .field("ws_headers", &self.ws_headers)
            .field("connector", &self.connector)
            .field("connect_timeout", &self.connect_timeout)
            .field("event_buffer", &self.event_buffer)
            .field("completion_events", &self.completion_events)
            .field("store", &self.store.as_ref().map(|_| "set"))
            .finish()
    }
}

impl ClientOptions {
    /// Options for the broker at `url` (`mqtt://`, `mqtts://`, `ws://`, `wss://`; ports
    /// default to 1883 / 8883 / 80 / 443) with client identifier `client_id` (empty asks
    /// a 5.0 server to assign one). MQTT 5.0, clean start, 60 s keep alive, automatic
    /// acknowledgements and reconnects unless changed.
    pub fn new(url: &str, client_id: &str) -> Result<ClientOptions, Error> {
        let parsed = BrokerUrl::parse(url)?;
        let client_id = MqttString::try_from(client_id).map_err(mqtt_proto::TopicError::from)?;
        let mut session = Options::new(parsed.to_string(), client_id);
        session.reconnect.seed = jitter_seed();
        Ok(ClientOptions {
            session,
            tls: TlsOptions::new(),
            ws_headers: Vec::new(),
            connector: None,
            connect_timeout: Duration::from_secs(10),
            event_buffer: DEFAULT_EVENT_BUFFER,
            completion_events: false,
            store: None,
        })
    }

    /// How long a driver's `connect` waits for the first connection.
    pub fn driver_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Splits the options into the session's and the driver's parts.
    pub(crate) fn into_parts(self) -> (ClientOptions, DriverOptions) {
        let ClientOptions {
            session,
            tls,
            ws_headers,
            connector,
            connect_timeout,
            event_buffer,
            completion_events,
            store,
        } = self;
        (
            ClientOptions {
                session,
                tls,
                ws_headers,
                connector: None,
                connect_timeout,
                event_buffer,
                completion_events,
                store,
            },
            DriverOptions {
                connector,
                connect_timeout,
            },
        )
    }

    /// Changes the session options directly: every CONNECT field and client policy.
    pub fn session(mut self, f: impl FnOnce(&mut Options)) -> ClientOptions {
        f(&mut self.session);
        self
    }

    /// The session options.
    pub fn session_options(&self) -> &Options {
        &self.session
    }

    /// The protocol version (default 5.0).
    pub fn protocol(mut self, version: ProtocolVersion) -> ClientOptions {
        self.session.protocol_version = version;
        self
    }

    /// Keep Alive in seconds (0: off).
    pub fn keep_alive(mut self, seconds: u16) -> ClientOptions {
        self.session.keep_alive = seconds;
        self
    }

    /// When the server refuses the protocol version, try the next lower one (5.0, then
    /// 3.1.1, then 3.1) instead of failing; see
    /// [`Options::version_fallback`](mqtt_session::Options::version_fallback).
    pub fn version_fallback(mut self, on: bool) -> ClientOptions {
        self.session.version_fallback = on;
        self
    }

    /// Clean Session (3.1.1) / Clean Start (5.0).
    pub fn clean_start(mut self, clean: bool) -> ClientOptions {
        self.session.clean_start = clean;
        self
    }

    /// Session Expiry Interval in seconds (5.0): how long the server keeps the session.
    pub fn session_expiry(mut self, seconds: u32) -> ClientOptions {
        self.session.session_expiry_interval = seconds;
        self
    }

    /// User name and password.
    pub fn credentials(mut self, user_name: &str, password: impl Into<Bytes>) -> ClientOptions {
        self.session.user_name = MqttString::try_from(user_name).ok();
        self.session.password = Some(password.into());
        self
    }

    /// The Will Message.
    pub fn will(mut self, will: Will) -> ClientOptions {
        self.session.will = Some(will);
        self
    }

    /// More broker URLs to fail over to, tried in turn after the first.
    pub fn failover(mut self, urls: &[&str]) -> Result<ClientOptions, Error> {
        for url in urls {
            self.session
                .servers
                .push(BrokerUrl::parse(url)?.to_string());
        }
        Ok(self)
    }

    /// TLS settings for `mqtts://` and `wss://`.
    pub fn tls(mut self, tls: TlsOptions) -> ClientOptions {
        self.tls = tls;
        self
    }

    /// An extra header for the WebSocket opening request (for example an authorization
    /// token).
    pub fn websocket_header(mut self, name: &str, value: &str) -> ClientOptions {
        self.ws_headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Opens connections with `connector` instead of dialing TCP, for the blocking client
    /// (`mqtt-std`): bring your own transport.
    pub fn connector(mut self, connector: impl Connector) -> ClientOptions {
        self.connector = Some(CustomConnector::Blocking(Box::new(connector)));
        self
    }

    /// Opens connections with `connector` instead of dialing TCP, for the async client
    /// (`mqtt-smol`): any `AsyncRead + AsyncWrite` the application opens.
    pub fn async_connector(mut self, connector: impl AsyncConnector) -> ClientOptions {
        self.connector = Some(CustomConnector::Async(Box::new(connector)));
        self
    }

    /// Reconnects after a lost connection with this policy (back-off, jitter seed).
    /// Reconnecting is on by default, with a jitter seed of its own for each client (from
    /// the operating system's randomness), so that clients that lost a broker together do
    /// not all come back at the same instants; a policy given here brings its own seed.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> ClientOptions {
        self.session.reconnect = policy;
        self
    }

    /// Never reconnects: a lost connection ends the client.
    pub fn no_reconnect(mut self) -> ClientOptions {
        self.session.reconnect.enabled = false;
        self
    }

    /// Acknowledge incoming QoS 1/2 messages by hand (with the message's `AckToken`)
    /// instead of as they are handed out.
    pub fn manual_acks(mut self, manual: bool) -> ClientOptions {
        self.session.auto_ack = !manual;
        self
    }

    /// How many events the client holds for the application before it stops reading the
    /// socket (default [`DEFAULT_EVENT_BUFFER`]): when the application falls behind, the
    /// broker holds the messages instead of this process's memory.
    ///
    /// The bound is checked before each read, and every whole packet a read brings is
    /// taken: the messages of one read (at most [`MAX_READ`](crate::MAX_READ) bytes) can
    /// wait beyond it.
    pub fn event_buffer(mut self, events: usize) -> ClientOptions {
        self.event_buffer = events.max(1);
        self
    }

    /// Whether an operation whose handle ([`Pending`](crate::Pending)) was dropped before
    /// it ended reports its success on the event stream (default: no, only its failure).
    ///
    /// Each outcome is delivered once: to its handle while one is kept, else on the event
    /// stream as the session's `Event::PublishCompleted`, `SubscribeCompleted`,
    /// `UnsubscribeCompleted` (with this option) or `OperationFailed` (always). Successes
    /// stay off the stream by default because a publisher that drops its handles and does
    /// not read the stream would otherwise fill [`event_buffer`](Self::event_buffer) with
    /// them, and the full buffer stops the reading of the socket. Turn it on to count the
    /// acknowledgements of fire-and-forget publishes on the event stream.
    pub fn completion_events(mut self, all: bool) -> ClientOptions {
        self.completion_events = all;
        self
    }

    /// Keeps the session state in `store`, so that QoS 1/2 messages survive a crash of
    /// the process: started with a store that holds a state, the client resumes that
    /// session (clean start off) and re-sends what was in flight; every change is handed
    /// to the store, and committed before completions are reported and acknowledgements
    /// written (see [`crate::store`]).
    ///
    /// ```no_run
    /// use mqtt_engine::{ClientOptions, store::{Durability, FileStore}};
    /// let options = ClientOptions::new("mqtt://127.0.0.1", "sensor-1")?
    ///     .store(FileStore::open("/var/lib/sensor/mqtt", Durability::EveryCommit)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// With a store, a QoS 1/2 publish is accepted (`Pending::wait_accepted` returns)
    /// once the store holds it: an application that records its progress after that
    /// loses nothing to a crash.
    ///
    /// The broker must keep the session too: under 5.0 set a session expiry
    /// (`session_expiry`), under 3.1.1 `clean_start(false)`.
    pub fn store(mut self, store: impl SessionStore) -> ClientOptions {
        self.store = Some(Box::new(store));
        self.session.journal = true;
        self
    }

    /// How long the client's `connect` waits for the first connection (default 10 s);
    /// also the TCP connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientOptions {
        self.connect_timeout = timeout;
        self
    }
}

/// A seed for the reconnect jitter that differs for every client and every process: std's
/// [`RandomState`](std::hash::RandomState) keys come from the operating system's
/// randomness (once per thread, then a new key per call).
fn jitter_seed() -> u64 {
    use std::hash::BuildHasher;
    std::hash::RandomState::new().hash_one(0x6a69_7474_6572u64)
}

#[cfg(test)]
mod tests {
    use super::ClientOptions;

    // Clients with default options must not share their reconnect jitter (a thundering
    // herd after a broker restart): each gets its own seed.
    #[test]
    fn every_client_gets_its_own_jitter_seed() {
        let seeds: std::collections::HashSet<u64> = (0..100)
            .map(|_| {
                ClientOptions::new("mqtt://127.0.0.1:1883", "c")
                    .unwrap()
                    .session_options()
                    .reconnect
                    .seed
            })
            .collect();
        assert_eq!(seeds.len(), 100);
        let from_another_thread = std::thread::spawn(|| {
            ClientOptions::new("mqtt://127.0.0.1:1883", "c")
                .unwrap()
                .session_options()
                .reconnect
                .seed
        })
        .join()
        .unwrap();
        assert!(!seeds.contains(&from_another_thread));
    }
}
