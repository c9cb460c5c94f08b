//! Custom transports: the byte streams an application opens itself (a Unix socket, a
//! serial link, an in-memory pipe, a proxy). TLS and WebSocket are layered on top by the
//! engine when the URL's scheme asks.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::pin::Pin;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

use crate::url::BrokerUrl;

/// An open blocking byte stream to a broker, in two halves: the reading half is read on
/// its own thread, the writing half written by the client's I/O thread.
pub struct Connection {
    /// The reading half.
    pub reader: Box<dyn Read + Send>,
    /// The writing half.
    pub writer: Box<dyn Write + Send>,
    /// Closes the stream so that a blocked read returns (for TCP: `shutdown`).
    pub closer: Option<Box<dyn FnOnce() + Send>>,
}

impl Connection {
    /// Splits a TCP stream (with `TCP_NODELAY`, and a write timeout so a dead link cannot
    /// block the client forever).
    pub fn from_tcp(stream: TcpStream) -> io::Result<Connection> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let reader = stream.try_clone()?;
        let closer = stream.try_clone()?;
        Ok(Connection {
            reader: Box::new(reader),
            writer: Box::new(stream),
            closer: Some(Box::new(move || {
                let _ = closer.shutdown(Shutdown::Both);
            })),
        })
    }
}

/// Opens blocking connections for the blocking client (`mqtt-std`): bring your own
/// transport. Called on a separate thread for every connection attempt.
pub trait Connector: Send + 'static {
    /// Opens a byte stream to `url`.
    fn connect(&mut self, url: &BrokerUrl) -> io::Result<Connection>;
}

impl<F> Connector for F
where
    F: FnMut(&BrokerUrl) -> io::Result<Connection> + Send + 'static,
{
    fn connect(&mut self, url: &BrokerUrl) -> io::Result<Connection> {
        self(url)
    }
}

/// A byte stream for the async client: anything `AsyncRead + AsyncWrite`.
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for T {}

/// An open async byte stream to a broker.
pub type AsyncConnection = Box<dyn AsyncStream>;

/// The future an [`AsyncConnector`] returns.
pub type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<AsyncConnection>> + Send>>;

/// Opens async connections for the async client (`mqtt-smol`): bring your own
/// transport.
///
/// A closure works: `|url: &BrokerUrl| { let addr = ...; Box::pin(async move { ... }) as ConnectFuture }`.
pub trait AsyncConnector: Send + 'static {
    /// Starts opening a byte stream to `url`.
    fn connect(&mut self, url: &BrokerUrl) -> ConnectFuture;
}

impl<F> AsyncConnector for F
where
    F: FnMut(&BrokerUrl) -> ConnectFuture + Send + 'static,
{
    fn connect(&mut self, url: &BrokerUrl) -> ConnectFuture {
        self(url)
    }
}

/// A transport the application brings, for one of the two drivers.
#[non_exhaustive]
pub enum CustomConnector {
    /// For the blocking client.
    Blocking(Box<dyn Connector>),
    /// For the async client.
    Async(Box<dyn AsyncConnector>),
}

impl std::fmt::Debug for CustomConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CustomConnector::Blocking(_) => "CustomConnector::Blocking",
            CustomConnector::Async(_) => "CustomConnector::Async",
        })
    }
}
