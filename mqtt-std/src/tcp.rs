//! The default transport, TCP, dialed without blocking the I/O thread: the connect is
//! non-blocking and its completion is seen by the poller, so commands go on being taken
//! while it runs. An IP-literal host needs nothing else; a host name is looked up on a
//! short-lived thread (std has no asynchronous DNS lookup), so a slow resolver does not
//! hold up commands either.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use mqtt_engine::BrokerUrl;

/// The poller token of the connection's socket.
pub(crate) const SOCKET: Token = Token(1);

type Lookup = Arc<Mutex<Option<io::Result<Vec<SocketAddr>>>>>;

/// One connection attempt: a lookup (for a host name), then each address in turn, each
/// for at most the connect timeout.
pub(crate) struct Dial {
    host: String,
    timeout: Duration,
    lookup: Option<Lookup>,
    addresses: VecDeque<SocketAddr>,
    attempt: Option<(TcpStream, Instant)>,
    last_error: Option<io::Error>,
}

/// Where an attempt is.
pub(crate) enum Progress {
    /// Still looking up or connecting: call again after the next wake-up.
    Waiting,
    /// Connected (registered with the poller for reading and writing).
    Connected(TcpStream),
    /// No address could be connected to.
    Failed(io::Error),
}

impl Dial {
    /// Starts an attempt to `url`; `waker` wakes the I/O thread when a lookup ends.
    pub(crate) fn start(url: &BrokerUrl, timeout: Duration, waker: &Waker) -> Dial {
        let mut dial = Dial {
            host: url.host.clone(),
            timeout,
            lookup: None,
            addresses: VecDeque::new(),
            attempt: None,
            last_error: None,
        };
        match url.host.parse::<IpAddr>() {
            Ok(ip) => dial.addresses.push_back(SocketAddr::new(ip, url.port)),
            Err(_) => {
                let lookup = Lookup::default();
                let (result, waker) = (lookup.clone(), waker.clone());
                let (host, port) = (url.host.clone(), url.port);
                let spawned = thread::Builder::new()
                    .name("mqtt-lookup".into())
                    .spawn(move || {
                        let found = (host.as_str(), port).to_socket_addrs().map(|a| a.collect());
                        *result.lock().unwrap_or_else(|p| p.into_inner()) = Some(found);
                        waker.wake();
                    });
                match spawned {
                    Ok(_) => dial.lookup = Some(lookup),
                    Err(e) => dial.last_error = Some(e),
                }
            }
        }
        dial
    }

    /// When the current address times out.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.attempt.as_ref().map(|(_, d)| *d)
    }

    /// Moves the attempt on: takes the lookup's answer, sees whether the connect ended
    /// or timed out, starts the next address.
    pub(crate) fn progress(&mut self, registry: &Registry, now: Instant) -> Progress {
        loop {
            if let Some(lookup) = &self.lookup {
                let answer = lookup.lock().unwrap_or_else(|p| p.into_inner()).take();
                match answer {
                    None => return Progress::Waiting,
                    Some(Ok(addresses)) => self.addresses = addresses.into(),
                    Some(Err(e)) => self.last_error = Some(e),
                }
                self.lookup = None;
            }
            if let Some((stream, deadline)) = &mut self.attempt {
                let failed = match stream.take_error() {
                    Ok(Some(e)) | Err(e) => e,
                    Ok(None) => match stream.peer_addr() {
                        Ok(_) => {
                            let (stream, _) = self.attempt.take().expect("an attempt");
                            if let Err(e) = stream.set_nodelay(true) {
                                log::debug!("TCP_NODELAY not set: {e}");
                            }
                            return Progress::Connected(stream);
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            if now < *deadline {
                                return Progress::Waiting;
                            }
                            io::Error::new(io::ErrorKind::TimedOut, "TCP connect timed out")
                        }
                        Err(e) => e,
                    },
                };
                if let Some((mut stream, _)) = self.attempt.take() {
                    let _ = registry.deregister(&mut stream);
                }
                self.last_error = Some(failed);
            }
            let Some(address) = self.addresses.pop_front() else {
                return Progress::Failed(self.last_error.take().unwrap_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{} resolves to no address", self.host),
                    )
                }));
            };
            let started = TcpStream::connect(address).and_then(|mut stream| {
                registry.register(&mut stream, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
                Ok(stream)
            });
            match started {
                Ok(stream) => self.attempt = Some((stream, now + self.timeout)),
                Err(e) => self.last_error = Some(e),
            }
        }
    }

    /// Gives the attempt up (the engine asked for a close, or the client ends).
    pub(crate) fn abandon(mut self, registry: &Registry) {
        if let Some((mut stream, _)) = self.attempt.take() {
            let _ = registry.deregister(&mut stream);
        }
    }
}
