//! The default transport: TCP to the URL's host and port, through async-io's reactor.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::FutureExt;
use mqtt_engine::BrokerUrl;

/// Resolves the URL's host (on async-net's thread pool, so a slow DNS lookup never holds
/// up the driver) and dials each address in turn, each within `timeout`.
pub(crate) async fn dial(url: BrokerUrl, timeout: Duration) -> io::Result<Async<TcpStream>> {
    // An IP address needs no lookup (and no thread of the lookup pool).
    let addrs = match url.host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![std::net::SocketAddr::new(ip, url.port)],
        Err(_) => async_net::resolve((url.host.as_str(), url.port)).await?,
    };
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} resolves to no address", url.host),
    );
    for addr in addrs {
        let attempt = async { Async::<TcpStream>::connect(addr).await };
        let expired = async {
            Timer::after(timeout).await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("TCP connect to {addr} timed out after {timeout:?}"),
            ))
        };
        match attempt.or(expired).await {
            Ok(stream) => {
                stream.get_ref().set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}
