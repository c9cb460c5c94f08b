//! The default transport: TCP to the URL's host and port.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use mqtt_engine::{BrokerUrl, Connection, Connector};

/// Dials TCP to the URL's host and port, trying each address in turn.
pub(crate) struct TcpConnector {
    pub(crate) timeout: Duration,
}

impl Connector for TcpConnector {
    fn connect(&mut self, url: &BrokerUrl) -> io::Result<Connection> {
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} resolves to no address", url.host),
        );
        for addr in (url.host.as_str(), url.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => return Connection::from_tcp(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}
