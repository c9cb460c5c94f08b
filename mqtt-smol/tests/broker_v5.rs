//! MQTT 5.0 features against a real mosquitto: mqtt-smol (the body is shared with
//! mqtt-std: driver-tests/).

#[path = "blocking/mod.rs"]
mod blocking;

mod driver {
    pub use crate::blocking::{Client, Events};
    pub use mqtt_smol::*;
}

#[path = "../../driver-tests/broker_v5.rs"]
mod suite;

/// The driver's custom transport that records what the client writes (for the topic
/// alias test, which checks the packets on the wire).
mod tap {
    use std::io::{self, IoSlice};
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, ready};

    use async_net::TcpStream;
    use futures_lite::io::{AsyncRead, AsyncWrite};
    use mqtt_smol::{AsyncConnection, BrokerUrl, ClientOptions, ConnectFuture};

    /// Copies every byte the client writes.
    struct Tap {
        inner: TcpStream,
        sent: Arc<Mutex<Vec<u8>>>,
    }

    impl Tap {
        fn record(&self, bufs: &[&[u8]], mut n: usize) {
            let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
            for buf in bufs {
                let take = n.min(buf.len());
                sent.extend_from_slice(&buf[..take]);
                n -= take;
            }
        }
    }

    impl AsyncRead for Tap {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Tap {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
            self.record(&[buf], n);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
            let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
            self.record(&slices, n);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_close(cx)
        }
    }

    /// `options` with an async connector to `addr` that copies every byte written into
    /// `sent`.
    pub fn recording(
        options: ClientOptions,
        addr: SocketAddr,
        sent: Arc<Mutex<Vec<u8>>>,
    ) -> ClientOptions {
        options.async_connector(move |_: &BrokerUrl| -> ConnectFuture {
            let sent = Arc::clone(&sent);
            Box::pin(async move {
                let inner = TcpStream::connect(addr).await?;
                inner.set_nodelay(true)?;
                Ok(Box::new(Tap { inner, sent }) as AsyncConnection)
            })
        })
    }
}
