//! A real Mosquitto broker per test.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::ca::TestCa;
use crate::util::{TempDir, find_program, free_ports, localhost};

/// The error message when the `mosquitto` binary is not installed.
pub const MOSQUITTO_NOT_FOUND: &str = "mosquitto not found: install it with `apt-get install mosquitto` (Debian) — the broker tests need it";

/// How long [`MosquittoBuilder::start`] and [`Mosquitto::restart`] wait for the broker.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Mosquitto::stop`] waits after SIGTERM before it kills the broker.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often start-up and shut-down look at the broker.
const POLL: Duration = Duration::from_millis(10);
/// The bind "address" of WebSocket listeners: the loopback interface's name (see
/// [`MosquittoBuilder::render`]).
const WS_BIND: &str = "lo";
/// How many times a start is tried with new ports when a port was taken meanwhile.
const PORT_ATTEMPTS: usize = 3;

/// The path of the `mosquitto` binary: the first on `PATH`, else `/usr/sbin/mosquitto`
/// (where Debian installs it, often not on a user's `PATH`).
///
/// The error (kind `NotFound`) says how to install it: [`MOSQUITTO_NOT_FOUND`].
pub fn mosquitto_binary() -> io::Result<PathBuf> {
    not_found_unless(find_program("mosquitto", MOSQUITTO_DIRS))
}

/// Where Debian (and a build from source) put `mosquitto`, outside most users' `PATH`.
const MOSQUITTO_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin"];

fn not_found_unless(binary: Option<PathBuf>) -> io::Result<PathBuf> {
    binary.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, MOSQUITTO_NOT_FOUND))
}

/// Settings for a [`Mosquitto`] broker; [`Mosquitto::builder`] makes one.
///
/// A plain TCP listener is always there. Every listener binds 127.0.0.1 on a free port.
#[derive(Debug, Clone, Default)]
pub struct MosquittoBuilder {
    tls: bool,
    require_client_certificate: bool,
    websockets: bool,
    secure_websockets: bool,
    users: Vec<(String, String)>,
    allow_anonymous: Option<bool>,
    persistence: bool,
    max_inflight_messages: Option<u32>,
    max_packet_size: Option<u32>,
    max_keepalive: Option<u16>,
    extra_config: String,
    builtin_password_hash: bool,
}

impl MosquittoBuilder {
    /// Adds an MQTT-over-TLS listener ([`Mosquitto::tls_port`]), whose certificate (for
    /// `localhost` and 127.0.0.1) chains to [`Mosquitto::ca_pem`].
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Makes the TLS listeners (MQTT over TLS and secure WebSocket) require a client
    /// certificate signed by the broker's CA ([`Mosquitto::client_identity`]); turns on
    /// [`MosquittoBuilder::tls`] if no secure WebSocket listener is asked for.
    pub fn require_client_certificate(mut self) -> Self {
        self.require_client_certificate = true;
        self
    }

    /// Adds an MQTT-over-WebSocket listener ([`Mosquitto::ws_port`]).
    pub fn websockets(mut self) -> Self {
        self.websockets = true;
        self
    }

    /// Adds an MQTT-over-secure-WebSocket listener ([`Mosquitto::wss_port`]), with the
    /// same certificate as the TLS listener.
    pub fn secure_websockets(mut self) -> Self {
        self.secure_websockets = true;
        self
    }

    /// Adds a user to the broker's password file. With any user, anonymous clients are
    /// refused unless [`MosquittoBuilder::allow_anonymous`] says otherwise.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_owned(), password.to_owned()));
        self
    }

    /// Whether clients without a user name may connect. Default: yes, unless users were
    /// added.
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        self.allow_anonymous = Some(allow);
        self
    }

    /// Turns persistence on or off (default off). When on, the broker saves sessions and
    /// queued messages under its temporary directory when it stops (see
    /// [`Mosquitto::stop`]) and loads them on [`Mosquitto::restart`].
    pub fn persistence(mut self, on: bool) -> Self {
        self.persistence = on;
        self
    }

    /// `max_inflight_messages`: QoS 1 and 2 messages the broker sends a client at once
    /// (for 5.0 clients, also bounded by their Receive Maximum).
    pub fn max_inflight_messages(mut self, n: u32) -> Self {
        self.max_inflight_messages = Some(n);
        self
    }

    /// `max_packet_size`: the largest packet the broker accepts, in bytes (it tells 5.0
    /// clients in CONNACK and disconnects clients that send more).
    pub fn max_packet_size(mut self, bytes: u32) -> Self {
        self.max_packet_size = Some(bytes);
        self
    }

    /// `max_keepalive`: the largest keep alive the broker allows, in seconds (5.0 clients
    /// that ask for more get a Server Keep Alive).
    pub fn max_keepalive(mut self, seconds: u16) -> Self {
        self.max_keepalive = Some(seconds);
        self
    }

    /// Configuration lines written as they are, after the global settings and before
    /// the listeners (so global options belong here; a `listener` given here keeps the
    /// options that follow it). May be called more than once.
    pub fn extra_config(mut self, config: &str) -> Self {
        self.extra_config.push_str(config);
        if !config.ends_with('\n') {
            self.extra_config.push('\n');
        }
        self
    }

    /// Writes the password file with the built-in hasher even if `mosquitto_passwd` is
    /// there (to test the fallback).
    #[cfg(test)]
    pub(crate) fn builtin_password_hash(mut self) -> Self {
        self.builtin_password_hash = true;
        self
    }

    fn has_tls(&self) -> bool {
        self.tls || (self.require_client_certificate && !self.secure_websockets)
    }

    /// Starts the broker and waits (up to 10 s) until every listener accepts TCP
    /// connections.
    ///
    /// Fails with [`MOSQUITTO_NOT_FOUND`] if the binary is missing, and with the broker's
    /// configuration and log if it exits or is not ready in time.
    pub fn start(self) -> io::Result<Mosquitto> {
        let binary = mosquitto_binary()?;
        let dir = TempDir::new("mosquitto")?;
        let files = Files::new(dir.path());
        let ca = TestCa::new("testkit Mosquitto CA");
        let tls = self.has_tls() || self.secure_websockets;
        if tls {
            fs::write(&files.ca, ca.ca_pem())?;
            let (cert, key) = ca.server_identity(&["localhost", "127.0.0.1"]);
            fs::write(&files.cert, cert)?;
            fs::write(&files.key, key)?;
        }
        if !self.users.is_empty() {
            write_password_file(&files.passwords, &self.users, self.builtin_password_hash)?;
        }
        if self.persistence {
            fs::create_dir(&files.data)?;
        }
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let ports = self.choose_ports()?;
            let config = self.render(&files, &ports);
            fs::write(&files.config, &config)?;
            let mut broker = Mosquitto {
                binary: binary.clone(),
                files: files.clone(),
                config,
                ports,
                ca: None,
                child: None,
                dir: None,
            };
            match broker.spawn() {
                Ok(()) => {
                    broker.ca = Some(ca);
                    broker.dir = Some(dir);
                    return Ok(broker);
                }
                Err(e) => {
                    let port_taken = broker.log().contains("Address already in use");
                    // Start the next attempt with empty logs.
                    let _ = fs::remove_file(&files.log);
                    let _ = fs::remove_file(&files.stderr);
                    if !port_taken {
                        return Err(e);
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("mosquitto did not start")))
    }

    fn choose_ports(&self) -> io::Result<Ports> {
        let wanted = [self.has_tls(), self.websockets, self.secure_websockets];
        let count = 1 + wanted.iter().filter(|w| **w).count();
        let mut ports = free_ports(count)?.into_iter();
        let mut next = |want: bool| if want { ports.next() } else { None };
        Ok(Ports {
            plain: next(true).unwrap_or_default(),
            tls: next(wanted[0]),
            ws: next(wanted[1]),
            wss: next(wanted[2]),
        })
    }

    fn render(&self, files: &Files, ports: &Ports) -> String {
        let mut c = String::new();
        let p = |path: &Path| path.display().to_string();
        c.push_str("# Written by testkit for one test.\n");
        // Without this, a broker started by root switches to the user `mosquitto`, which
        // cannot write into our directory. It has no effect for other users.
        c.push_str("user root\n");
        c.push_str("per_listener_settings false\n");
        let anonymous = self.allow_anonymous.unwrap_or(self.users.is_empty());
        let _ = writeln!(c, "allow_anonymous {anonymous}");
        if !self.users.is_empty() {
            let _ = writeln!(c, "password_file {}", p(&files.passwords));
        }
        let _ = writeln!(c, "persistence {}", self.persistence);
        if self.persistence {
            let _ = writeln!(c, "persistence_location {}/", p(&files.data));
        }
        let _ = writeln!(c, "log_dest file {}", p(&files.log));
        c.push_str("log_type all\n");
        c.push_str("log_timestamp true\n");
        c.push_str("log_timestamp_format %H:%M:%S\n");
        c.push_str("connection_messages true\n");
        if let Some(n) = self.max_inflight_messages {
            let _ = writeln!(c, "max_inflight_messages {n}");
        }
        if let Some(n) = self.max_packet_size {
            let _ = writeln!(c, "max_packet_size {n}");
        }
        if let Some(n) = self.max_keepalive {
            let _ = writeln!(c, "max_keepalive {n}");
        }
        if !self.extra_config.is_empty() {
            c.push_str("# extra configuration\n");
            c.push_str(&self.extra_config);
        }
        let tls_settings = |c: &mut String| {
            let _ = writeln!(c, "cafile {}", p(&files.ca));
            let _ = writeln!(c, "certfile {}", p(&files.cert));
            let _ = writeln!(c, "keyfile {}", p(&files.key));
            let _ = writeln!(c, "require_certificate {}", self.require_client_certificate);
        };
        let _ = writeln!(c, "\n# MQTT over TCP\nlistener {} 127.0.0.1", ports.plain);
        if let Some(port) = ports.tls {
            let _ = writeln!(c, "\n# MQTT over TLS\nlistener {port} 127.0.0.1");
            tls_settings(&mut c);
        }
        // Mosquitto 2.0.11 hands a WebSocket listener's host to libwebsockets as an
        // interface name: `127.0.0.1` would bind every interface, `lo` binds 127.0.0.1.
        if let Some(port) = ports.ws {
            let _ = writeln!(
                c,
                "\n# MQTT over WebSocket\nlistener {port} {WS_BIND}\nprotocol websockets"
            );
        }
        if let Some(port) = ports.wss {
            let _ = writeln!(
                c,
                "\n# MQTT over secure WebSocket\nlistener {port} {WS_BIND}\nprotocol websockets"
            );
            tls_settings(&mut c);
        }
        c
    }
}

/// The files of one broker, all in its temporary directory.
#[derive(Debug, Clone)]
struct Files {
    config: PathBuf,
    log: PathBuf,
    stderr: PathBuf,
    passwords: PathBuf,
    data: PathBuf,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn new(dir: &Path) -> Files {
        Files {
            config: dir.join("mosquitto.conf"),
            log: dir.join("mosquitto.log"),
            stderr: dir.join("stderr.log"),
            passwords: dir.join("passwords"),
            data: dir.join("data"),
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    plain: u16,
    tls: Option<u16>,
    ws: Option<u16>,
    wss: Option<u16>,
}

impl Ports {
    fn all(&self) -> impl Iterator<Item = u16> {
        [Some(self.plain), self.tls, self.ws, self.wss]
            .into_iter()
            .flatten()
    }
}

/// A Mosquitto broker (the Debian package's `mosquitto` binary) for one test, on free
/// 127.0.0.1 ports, with its configuration, certificates, password file, persistence
/// data and log in a fresh temporary directory.
///
/// Dropping it kills the broker and removes the directory; if the thread is panicking (a
/// failed test), the broker's log is printed to stderr first.
///
/// ```no_run
/// use testkit::Mosquitto;
///
/// let broker = Mosquitto::builder()
///     .tls()
///     .websockets()
///     .user("alice", "secret")
///     .persistence(true)
///     .start()?;
/// println!("{} {} {}", broker.url(), broker.tls_url().unwrap(), broker.ws_url().unwrap());
/// let ca_pem = broker.ca_pem(); // trust this in the client
/// # let _ = ca_pem;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Mosquitto {
    binary: PathBuf,
    files: Files,
    config: String,
    ports: Ports,
    ca: Option<TestCa>,
    child: Option<Child>,
    /// Removed on drop, after the broker is gone (hence an `Option` taken in `drop`).
    dir: Option<TempDir>,
}

impl Mosquitto {
    /// Settings for a broker, to change before [`MosquittoBuilder::start`].
    pub fn builder() -> MosquittoBuilder {
        MosquittoBuilder::default()
    }

    /// Starts a broker with a plain TCP listener, anonymous access and no persistence.
    pub fn start() -> io::Result<Mosquitto> {
        Mosquitto::builder().start()
    }

    fn ca(&self) -> &TestCa {
        self.ca
            .as_ref()
            .expect("testkit: a started broker has a CA")
    }

    /// `"127.0.0.1"`, the address every listener binds.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The plain MQTT-over-TCP port.
    pub fn port(&self) -> u16 {
        self.ports.plain
    }

    /// The plain listener's address, 127.0.0.1:[`port`](Mosquitto::port).
    pub fn addr(&self) -> SocketAddr {
        localhost(self.ports.plain)
    }

    /// The MQTT-over-TLS port, if configured.
    pub fn tls_port(&self) -> Option<u16> {
        self.ports.tls
    }

    /// The MQTT-over-WebSocket port, if configured.
    pub fn ws_port(&self) -> Option<u16> {
        self.ports.ws
    }

    /// The MQTT-over-secure-WebSocket port, if configured.
    pub fn wss_port(&self) -> Option<u16> {
        self.ports.wss
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.ports.plain)
    }

    /// `mqtts://localhost:PORT` (the server certificate is for `localhost`, and for
    /// 127.0.0.1 too), if a TLS listener is configured.
    pub fn tls_url(&self) -> Option<String> {
        self.ports.tls.map(|p| format!("mqtts://localhost:{p}"))
    }

    /// `ws://127.0.0.1:PORT/mqtt`, if a WebSocket listener is configured.
    pub fn ws_url(&self) -> Option<String> {
        self.ports.ws.map(|p| format!("ws://127.0.0.1:{p}/mqtt"))
    }

    /// `wss://localhost:PORT/mqtt`, if a secure WebSocket listener is configured.
    pub fn wss_url(&self) -> Option<String> {
        self.ports.wss.map(|p| format!("wss://localhost:{p}/mqtt"))
    }

    /// The PEM certificate of the test CA that signed the broker's server certificate
    /// (and checks client certificates).
    pub fn ca_pem(&self) -> &str {
        self.ca().ca_pem()
    }

    /// A client certificate for common name `cn` and its private key, PEM-encoded,
    /// signed by the broker's CA: accepted where client certificates are required.
    pub fn client_identity(&self, cn: &str) -> (String, String) {
        self.ca().client_identity(cn)
    }

    /// The broker's temporary directory (configuration, log, certificates, data).
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("testkit: a started broker has a directory")
            .path()
    }

    /// The configuration file's text.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// The broker's log so far (`log_type all`), over every start: what it printed to
    /// stderr before its log file was open, then its log file.
    pub fn log(&self) -> String {
        let stderr = fs::read_to_string(&self.files.stderr).unwrap_or_default();
        let log = fs::read_to_string(&self.files.log).unwrap_or_default();
        match (stderr.trim().is_empty(), log.is_empty()) {
            (true, _) => log,
            (false, true) => stderr,
            (false, false) => format!("{stderr}{log}"),
        }
    }

    /// Whether the broker process is running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The broker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the broker cleanly: SIGTERM (it then saves its persistence data), and a
    /// kill if it has not exited after 10 s. Does nothing if it is not running.
    pub fn stop(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        // The shell's built-in `kill` (std has no way to send SIGTERM, and unsafe code
        // is forbidden here); a missing `kill` program (procps) does not matter.
        let terminated = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh"])
            .arg(child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if terminated {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if child.try_wait()?.is_some() {
                    return Ok(());
                }
                std::thread::sleep(POLL);
            }
        }
        let _ = child.kill();
        child.wait().map(drop)
    }

    /// Kills the broker (SIGKILL) as a crash would: it saves nothing.
    pub fn kill(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = child.kill();
        child.wait().map(drop)
    }

    /// Stops the broker (as [`Mosquitto::stop`]) if it runs, and starts it again with the
    /// same configuration, ports and data directory, waiting until it accepts
    /// connections.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// Starts the process and waits until it is ready; on failure it is not running.
    fn spawn(&mut self) -> io::Result<()> {
        let log_len_before = fs::metadata(&self.files.log).map_or(0, |m| m.len());
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.files.stderr)?;
        let mut child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.files.config)
            .stdin(Stdio::null())
            .stdout(stderr.try_clone()?)
            .stderr(stderr)
            .spawn()?;
        let result = self.wait_ready(&mut child, log_len_before);
        match result {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(format!(
                    "{why}\n--- mosquitto configuration ({}) ---\n{}--- mosquitto log ---\n{}",
                    self.files.config.display(),
                    self.config,
                    self.log()
                )))
            }
        }
    }

    /// Waits until the broker logs that it runs and every listener accepts a connection.
    fn wait_ready(&self, child: &mut Child, log_len_before: u64) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut logged_running = false;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return Err(exited(status));
            }
            if !logged_running {
                logged_running = new_log_text(&self.files.log, log_len_before)
                    .lines()
                    .any(|l| l.contains("mosquitto version") && l.ends_with(" running"));
            }
            if logged_running
                && self.ports.all().all(|port| {
                    TcpStream::connect_timeout(&localhost(port), Duration::from_millis(200)).is_ok()
                })
            {
                // A port taken by another process accepts too: check the broker still runs.
                std::thread::sleep(POLL);
                if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                    return Err(exited(status));
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "mosquitto did not accept connections on ports {:?} within {START_TIMEOUT:?}",
                    self.ports.all().collect::<Vec<_>>()
                ));
            }
            std::thread::sleep(POLL);
        }
    }
}

fn exited(status: ExitStatus) -> String {
    format!("mosquitto exited during start-up ({status})")
}

/// The text appended to the log file after its first `from` bytes.
fn new_log_text(path: &Path, from: u64) -> String {
    let Ok(bytes) = fs::read(path) else {
        return String::new();
    };
    let from = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let dir = self.dir.as_ref().map(|d| d.path().display().to_string());
            eprintln!(
                "--- mosquitto log ({}, port {}) ---\n{}--- end of mosquitto log ---",
                dir.unwrap_or_default(),
                self.ports.plain,
                self.log()
            );
        }
        let _ = self.kill();
        drop(self.dir.take());
    }
}

/// Writes a Mosquitto password file for `users`, with `mosquitto_passwd -b` if it is
/// installed, else (or if `builtin`) with the same PBKDF2-SHA512 hashing done here.
fn write_password_file(path: &Path, users: &[(String, String)], builtin: bool) -> io::Result<()> {
    let tool = find_program("mosquitto_passwd", &["/usr/bin", "/usr/sbin"]);
    match tool {
        Some(tool) if !builtin => {
            File::create(path)?;
            for (name, password) in users {
                let output = Command::new(&tool)
                    .arg("-b")
                    .arg(path)
                    .arg(name)
                    .arg(password)
                    .stdin(Stdio::null())
                    .output()?;
                if !output.status.success() {
                    return Err(io::Error::other(format!(
                        "mosquitto_passwd failed for user {name:?} ({}): {}{}",
                        output.status,
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&output.stderr)
                    )));
                }
            }
            Ok(())
        }
        _ => {
            let mut text = String::new();
            for (name, password) in users {
                let _ = writeln!(text, "{name}:{}", hash_password(password)?);
            }
            fs::write(path, text)
        }
    }
}

/// A Mosquitto 2.0 password hash: `$7$ITERATIONS$SALT$HASH`, PBKDF2-HMAC-SHA512 with a
/// 12-byte random salt and 101 iterations (what `mosquitto_passwd` writes), base64.
fn hash_password(password: &str) -> io::Result<String> {
    use ring::rand::SecureRandom as _;
    const ITERATIONS: u32 = 101;
    let mut salt = [0u8; 12];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| io::Error::other("no random bytes for a password salt"))?;
    let mut hash = [0u8; 64];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA512,
        std::num::NonZeroU32::new(ITERATIONS).unwrap_or(std::num::NonZeroU32::MIN),
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    Ok(format!(
        "$7${ITERATIONS}${}${}",
        base64(&salt),
        base64(&hash)
    ))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_how_to_install_it() {
        use crate::util::find_program_in;
        let missing = find_program_in(std::ffi::OsStr::new("/nonexistent"), "mosquitto", &[]);
        let error = not_found_unless(missing).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert_eq!(error.to_string(), MOSQUITTO_NOT_FOUND);
        // Debian's place is searched even when it is not on PATH.
        let found = find_program_in(std::ffi::OsStr::new(""), "mosquitto", MOSQUITTO_DIRS);
        assert!(found.is_some(), "{MOSQUITTO_NOT_FOUND}");
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn password_hash_has_mosquitto_format() {
        let hash = hash_password("secret").unwrap();
        let parts: Vec<&str> = hash.split('$').collect();
        assert_eq!(parts[..3], ["", "7", "101"]);
        assert_eq!(parts[3].len(), 16);
        assert_eq!(parts[4].len(), 88);
    }

    #[test]
    fn builtin_password_file_is_accepted_by_mosquitto() {
        use mqtt_proto::{Connect, MqttString, ProtocolVersion, ReasonCode};
        let broker = Mosquitto::builder()
            .user("alice", "s3cret")
            .builtin_password_hash()
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let connect = |password: &'static [u8]| {
            let mut connect = Connect::new(ProtocolVersion::V3_1_1, MqttString::from_static("c"));
            connect.user_name = Some(MqttString::from_static("alice"));
            connect.password = Some(bytes::Bytes::from_static(password));
            let (_, connack) =
                crate::RawClient::connect(broker.addr(), connect, Duration::from_secs(5)).unwrap();
            connack.reason_code
        };
        assert_eq!(connect(b"s3cret"), ReasonCode::Success);
        assert!(connect(b"wrong").is_error());
    }
}
