//! amqtt: a real broker that speaks MQTT 3.1.1 only (no 5.0), to test what a client does
//! against a server without the version it asks for.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{TempDir, free_port};

/// The error text when the `amqtt` program cannot be found.
pub const AMQTT_NOT_FOUND: &str = "amqtt (a Python MQTT 3.1.1 broker, from PyPI) is not installed: \
run `bash scripts/test-all`, which installs it into target/amqtt-venv, or \
`python3 -m venv target/amqtt-venv && target/amqtt-venv/bin/pip install amqtt==0.12.1`, \
or set AMQTT to the path of its `amqtt` program";

/// The `amqtt` program: `$AMQTT`, or `target/amqtt-venv/bin/amqtt` in the workspace.
pub fn amqtt_binary() -> io::Result<PathBuf> {
    let path = match std::env::var_os("AMQTT") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/amqtt-venv/bin/amqtt"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(io::Error::new(io::ErrorKind::NotFound, AMQTT_NOT_FOUND))
    }
}

/// An amqtt broker on a free port of 127.0.0.1, anonymous access, stopped on drop. It
/// answers a 5.0 CONNECT with a 3.1.1 CONNACK refusing the protocol version.
#[derive(Debug)]
pub struct Amqtt {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Amqtt {
    /// Starts the broker and waits (up to 20 s: Python starts slowly) until it accepts
    /// TCP connections. Fails with [`AMQTT_NOT_FOUND`] if the program is missing, and with
    /// its log if it exits or is not ready in time.
    pub fn start() -> io::Result<Amqtt> {
        let binary = amqtt_binary()?;
        let dir = TempDir::new("amqtt")?;
        let port = free_port()?;
        let config = dir.path().join("amqtt.yaml");
        fs::write(
            &config,
            format!(
                "listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\nauth:\n  allow-anonymous: true\n"
            ),
        )?;
        let log = fs::File::create(dir.path().join("amqtt.log"))?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut broker = Amqtt { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&broker.addr(), Duration::from_millis(200)).is_ok() {
                return Ok(broker);
            }
            if let Some(status) = broker.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "amqtt exited ({status}) before accepting connections; its log:\n{}",
                    broker.log()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "amqtt did not accept connections within 20 s; its log:\n{}",
                    broker.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its address, 127.0.0.1:PORT.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// What the broker logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("amqtt.log")).unwrap_or_default()
    }
}

impl Drop for Amqtt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- amqtt log (port {}) ---\n{}--- end of amqtt log ---",
                self.port,
                self.log()
            );
        }
    }
}
