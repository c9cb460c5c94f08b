//! A TCP proxy that injects network faults between a client and a broker.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a forwarding thread looks at the proxy's state when no bytes arrive.
const POLL: Duration = Duration::from_millis(10);
/// How long the proxy waits to connect to the upstream server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A direction of traffic through a [`FaultProxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the broker (upstream).
    ClientToBroker,
    /// From the broker to the client (downstream).
    BrokerToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::ClientToBroker => 0,
            Direction::BrokerToClient => 1,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One proxied client connection.
#[derive(Debug)]
struct Conn {
    client: TcpStream,
    upstream: TcpStream,
    /// Bytes each direction may still forward before the connection is cut.
    budget: Mutex<[Option<u64>; 2]>,
    closed: AtomicBool,
    pumps_left: AtomicUsize,
}

impl Conn {
    fn cut(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
    }

    fn is_open(&self) -> bool {
        !self.closed.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Default)]
struct State {
    stalled: bool,
    /// Open connections, oldest first.
    open: Vec<Arc<Conn>>,
    /// Byte budgets for the next connection, set while none was open.
    pending_cut: [Option<u64>; 2],
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
    stopping: AtomicBool,
    connections: AtomicUsize,
    forwarded: [AtomicU64; 2],
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A TCP proxy on a free 127.0.0.1 port between a client and a broker, that cuts or
/// stalls the connection on command.
///
/// It serves any number of client connections, one after the other or at once; each gets
/// its own connection to the upstream address and two forwarding threads. When one side
/// closes its sending direction, the proxy passes the half-close on. Everything stops and
/// every socket is closed when the proxy is dropped.
///
/// ```no_run
/// use testkit::{Direction, FaultProxy, Mosquitto};
///
/// let broker = Mosquitto::start()?;
/// let proxy = FaultProxy::start(broker.addr())?;
/// // Point the client under test at proxy.url() instead of broker.url(), then:
/// proxy.cut_after(Direction::BrokerToClient, 4); // lets the CONNACK through, then cuts
/// proxy.stall(); // later connections see a dead link
/// proxy.restore();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts the proxy in front of `upstream`.
    pub fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State::default()),
            stopping: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            forwarded: [AtomicU64::new(0), AtomicU64::new(0)],
            threads: Mutex::new(Vec::new()),
        });
        let acceptor = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn({
                let shared = Arc::clone(&shared);
                move || accept_loop(&listener, &shared)
            })?;
        Ok(FaultProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://127.0.0.1:PORT` for [`FaultProxy::addr`].
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// The address the proxy forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Closes the current connection (both sockets shut down) once `n` more bytes have
    /// been forwarded in `direction`; bytes past those `n` are not delivered. `n = 0`
    /// closes it when the next byte arrives in that direction.
    ///
    /// "Current" is the most recently accepted connection that is still open; if none is
    /// open, the rule waits for the next connection accepted. Later calls replace the
    /// budget for that direction.
    pub fn cut_after(&self, direction: Direction, n: u64) {
        let mut state = lock(&self.shared.state);
        match state.open.iter().rev().find(|c| c.is_open()) {
            Some(conn) => lock(&conn.budget)[direction.index()] = Some(n),
            None => state.pending_cut[direction.index()] = Some(n),
        }
    }

    /// Closes every open connection now (both sockets shut down), and forgets a pending
    /// [`FaultProxy::cut_after`]. New connections are accepted as before.
    pub fn cut_now(&self) {
        let mut state = lock(&self.shared.state);
        state.pending_cut = [None, None];
        for conn in &state.open {
            conn.cut();
        }
    }

    /// Imitates a dead link: from now on the proxy keeps reading from both sides of every
    /// connection, old and new, but delivers nothing; the sockets stay open. What it reads
    /// is held back, and delivered on [`FaultProxy::restore`] (as TCP would once a link
    /// comes back).
    pub fn stall(&self) {
        lock(&self.shared.state).stalled = true;
    }

    /// Ends a stall (held-back bytes go through, in order) and forgets a pending
    /// [`FaultProxy::cut_after`], so new connections work normally.
    pub fn restore(&self) {
        let mut state = lock(&self.shared.state);
        state.stalled = false;
        state.pending_cut = [None, None];
    }

    /// Whether the proxy is stalled.
    pub fn is_stalled(&self) -> bool {
        lock(&self.shared.state).stalled
    }

    /// How many client connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// How many client connections are open now (neither cut nor closed by both sides).
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.state)
            .open
            .iter()
            .filter(|c| c.is_open())
            .count()
    }

    /// How many bytes were forwarded in `direction` so far (handed to the receiving
    /// side's socket), over all connections.
    pub fn bytes_forwarded(&self, direction: Direction) -> u64 {
        self.shared.forwarded[direction.index()].load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the acceptor, which is blocked in accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for conn in &lock(&self.shared.state).open {
            conn.cut();
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else {
            continue;
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = start_connection(client, shared) {
            eprintln!("testkit: fault proxy: cannot serve a connection: {e}");
        }
    }
}

fn start_connection(client: TcpStream, shared: &Arc<Shared>) -> io::Result<()> {
    let _ = client.set_nodelay(true);
    let upstream = TcpStream::connect_timeout(&shared.upstream, CONNECT_TIMEOUT).ok();
    let Some(upstream) = upstream else {
        // The broker is down: the client sees its connection closed at once.
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    };
    let _ = upstream.set_nodelay(true);
    let conn = Arc::new(Conn {
        client: client.try_clone()?,
        upstream: upstream.try_clone()?,
        budget: Mutex::new([None, None]),
        closed: AtomicBool::new(false),
        pumps_left: AtomicUsize::new(2),
    });
    {
        let mut state = lock(&shared.state);
        state.open.retain(|c| c.is_open());
        *lock(&conn.budget) = std::mem::take(&mut state.pending_cut);
        state.open.push(Arc::clone(&conn));
    }
    let pumps = [
        (
            Direction::ClientToBroker,
            client.try_clone()?,
            upstream.try_clone()?,
        ),
        (Direction::BrokerToClient, upstream, client),
    ];
    let mut threads = lock(&shared.threads);
    threads.retain(|t| !t.is_finished());
    for (direction, src, dst) in pumps {
        let (shared, conn) = (Arc::clone(shared), Arc::clone(&conn));
        threads.push(
            std::thread::Builder::new()
                .name(format!("fault-proxy-{direction:?}"))
                .spawn(move || pump(direction, src, dst, &conn, &shared))?,
        );
    }
    Ok(())
}

/// Forwards `src` to `dst` in `direction` until end of stream, an error, a cut or the
/// proxy's end.
fn pump(
    direction: Direction,
    mut src: TcpStream,
    mut dst: TcpStream,
    conn: &Conn,
    shared: &Shared,
) {
    let _ = src.set_read_timeout(Some(POLL));
    let mut held = Vec::new();
    let mut eof = false;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        if shared.stopping.load(Ordering::SeqCst) || !conn.is_open() {
            conn.cut();
            break;
        }
        let stalled = lock(&shared.state).stalled;
        if !stalled && !held.is_empty() {
            let keep_going = forward(direction, &held, &mut dst, conn, shared);
            held.clear();
            if !keep_going {
                conn.cut();
                break;
            }
        }
        if eof {
            if held.is_empty() && !stalled {
                // Pass the half-close on; the other direction goes on.
                let _ = dst.shutdown(Shutdown::Write);
                break;
            }
            std::thread::sleep(POLL);
            continue;
        }
        match src.read(&mut chunk) {
            Ok(0) => eof = true,
            Ok(n) => held.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                conn.cut();
                break;
            }
        }
    }
    if conn.pumps_left.fetch_sub(1, Ordering::SeqCst) == 1 {
        // Both directions are done: close the sockets and forget the connection.
        conn.cut();
        lock(&shared.state)
            .open
            .retain(|c| !std::ptr::eq(Arc::as_ptr(c), conn));
    }
}

/// Writes `data` (or the part the cut budget allows); `false` once the connection must be
/// closed.
fn forward(
    direction: Direction,
    data: &[u8],
    dst: &mut TcpStream,
    conn: &Conn,
    shared: &Shared,
) -> bool {
    let index = direction.index();
    let mut budget = lock(&conn.budget);
    let allowed = match budget[index] {
        Some(left) => data.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
        None => data.len(),
    };
    // Counted first, so that a test that has seen the bytes arrive sees them counted.
    shared.forwarded[index].fetch_add(allowed as u64, Ordering::SeqCst);
    let written = dst.write_all(&data[..allowed]).and_then(|()| dst.flush());
    if written.is_err() {
        return false;
    }
    match &mut budget[index] {
        Some(left) => {
            *left -= allowed as u64;
            *left > 0
        }
        None => true,
    }
}
