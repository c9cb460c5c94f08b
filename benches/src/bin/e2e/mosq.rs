//! The mosquitto command-line clients (libmosquitto): `mosquitto_pub -l` as a measured
//! publisher and as the fixed-cost feeder of every subscriber run, `mosquitto_sub` as a
//! measured subscriber.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::job::{KEEP_ALIVE, PAYLOAD, READY_TOPIC, TOPIC};

/// Debian's `mosquitto-clients`.
const PUB: &str = "/usr/bin/mosquitto_pub";
const SUB: &str = "/usr/bin/mosquitto_sub";

/// In-flight window of the feeder (not measured; high so the subscriber is what limits).
const FEEDER_INFLIGHT: &str = "100";

/// A file of `n` payload lines for `mosquitto_pub -l`, written once per `n` in `dir`.
pub fn feed_file(dir: &Path, n: usize) -> io::Result<PathBuf> {
    let path = dir.join(format!("feed-{n}.txt"));
    if !path.exists() {
        let mut text = Vec::with_capacity(n * (PAYLOAD.len() + 1));
        for _ in 0..n {
            text.extend_from_slice(PAYLOAD);
            text.push(b'\n');
        }
        std::fs::write(&path, text)?;
    }
    Ok(path)
}

fn base(program: &str, port: u16, id: &str) -> Command {
    let mut c = Command::new(program);
    c.args(["-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-k", &KEEP_ALIVE.to_string(), "-i", id, "-V", "mqttv311"]);
    c
}

/// `mosquitto_pub -l` sending every line of `feed` at `qos` (its default window, 20,
/// unless `feeder`).
pub fn publisher(port: u16, qos: u8, feed: &Path, feeder: bool) -> io::Result<Command> {
    let id = format!(
        "e2e-mosquitto_pub-{}",
        if feeder { "feeder" } else { "pub" }
    );
    let mut c = base(PUB, port, &id);
    c.args(["-t", TOPIC, "-q", &qos.to_string(), "-l"]);
    if feeder {
        c.args(["-M", FEEDER_INFLIGHT]);
    }
    c.stdin(Stdio::from(File::open(feed)?))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Ok(c)
}

/// `mosquitto_sub` for the retained ready message and then `n` messages at `qos`; it
/// prints each payload on a line of its stdout (piped).
pub fn subscriber(port: u16, qos: u8, n: usize) -> Command {
    let mut c = base(SUB, port, "e2e-mosquitto_sub");
    c.args(["-t", READY_TOPIC, "-t", TOPIC, "-q", &qos.to_string()])
        .args(["-C", &(n + 1).to_string(), "-W", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    c
}

/// Publishes the retained message on [`READY_TOPIC`] that every `mosquitto_sub` gets
/// right after its SUBACK.
pub fn publish_ready(port: u16) -> io::Result<()> {
    let status = base(PUB, port, "e2e-ready")
        .args(["-t", READY_TOPIC, "-m", "ready", "-q", "1", "-r"])
        .stdin(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("mosquitto_pub -r: {status}")))
    }
}

/// `mosquitto_sub -C 1` of a `$SYS` topic: the broker's own figure (retained, refreshed
/// every `sys_interval`).
pub fn sys_value(port: u16, topic: &str) -> io::Result<String> {
    let out = base(SUB, port, "e2e-sys")
        .args(["-t", topic, "-C", "1", "-W", "10"])
        .stdin(Stdio::null())
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
