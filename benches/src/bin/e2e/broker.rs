//! A private mosquitto for the benchmark: its own configuration (fast TCP, high queue and
//! in-flight limits, no persistence, almost no logging) on a free 127.0.0.1 port.

use std::fs;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the broker.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A running broker; dropping it kills it and removes its directory.
pub struct Broker {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Broker {
    /// Starts the broker and waits until it accepts TCP connections. `sys_interval`
    /// publishes `$SYS` topics that often (seconds), for the 10 000-connection mode.
    pub fn start(sys_interval: Option<u32>) -> io::Result<Broker> {
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("e2e-broker-{}-{port}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let config = dir.join("mosquitto.conf");
        let mut text = String::new();
        text.push_str("# Written by benches/src/bin/e2e for one run.\n");
        // Root would otherwise switch to the `mosquitto` user; no effect for others.
        text.push_str("user root\n");
        text.push_str(&format!("listener {port} 127.0.0.1\n"));
        text.push_str("allow_anonymous true\npersistence false\nset_tcp_nodelay true\n");
        text.push_str("max_inflight_messages 1000\nmax_queued_messages 10000000\n");
        text.push_str("max_queued_bytes 0\nmax_connections -1\n");
        text.push_str("log_dest stderr\nlog_type error\nlog_type warning\n");
        text.push_str("connection_messages false\n");
        text.push_str(&format!("sys_interval {}\n", sys_interval.unwrap_or(0)));
        fs::write(&config, &text)?;
        let log = fs::File::create(dir.join("mosquitto.log"))?;
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut broker = Broker {
            child: Some(child),
            port,
            dir,
        };
        broker.wait_ready()?;
        Ok(broker)
    }

    /// The listener's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Its directory (configuration, log, the feeder's input files).
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.is_running() {
                let log = fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default();
                return Err(io::Error::other(format!("mosquitto exited: {log}")));
            }
            let addr = ([127, 0, 0, 1], self.port).into();
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(io::Error::other(
            "mosquitto did not accept connections in 10 s",
        ))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
