//! MQTT 5.0 features against a real mosquitto: mqtt-std (the body is shared with
//! mqtt-smol: driver-tests/).

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/broker_v5.rs"]
mod suite;

/// The driver's custom transport that records what the client writes (for the topic
/// alias test, which checks the packets on the wire).
mod tap {
    use std::io::{self, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::{Arc, Mutex};

    use mqtt_std::{BrokerUrl, ClientOptions, Connection};

    /// Copies every byte the client writes.
    struct Tap {
        inner: TcpStream,
        sent: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Tap {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    /// `options` with a connector to `addr` that copies every byte written into `sent`.
    pub fn recording(
        options: ClientOptions,
        addr: SocketAddr,
        sent: Arc<Mutex<Vec<u8>>>,
    ) -> ClientOptions {
        options.connector(move |_: &BrokerUrl| {
            let stream = TcpStream::connect(addr)?;
            let mut connection = Connection::from_tcp(stream.try_clone()?)?;
            connection.writer = Box::new(Tap {
                inner: stream,
                sent: Arc::clone(&sent),
            });
            Ok(connection)
        })
    }
}
