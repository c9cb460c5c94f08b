//! Small helpers: temporary directories, free ports, finding programs.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh directory under [`std::env::temp_dir`], removed with everything in it on drop.
///
/// ```
/// let dir = testkit::TempDir::new("example")?;
/// std::fs::write(dir.path().join("file"), b"data")?;
/// let path = dir.path().to_owned();
/// drop(dir);
/// assert!(!path.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `testkit-PREFIX-PID-N-NANOS` in the system's temporary directory; the name
    /// is unique within this process and very likely across processes (creation fails
    /// rather than reuse an existing directory).
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        let mut last_error = None;
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = base.join(format!(
                "testkit-{prefix}-{}-{n}-{nanos}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("cannot create a temporary directory")))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `n` distinct TCP ports on 127.0.0.1 that were free a moment ago.
///
/// The kernel picks them; they are held until all are chosen so they differ, then
/// released. Another process may take one before it is used: a server that fails to bind
/// should retry with new ports.
pub fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// One TCP port on 127.0.0.1 that was free a moment ago (see [`free_ports`]).
pub fn free_port() -> io::Result<u16> {
    Ok(free_ports(1)?[0])
}

/// The socket address 127.0.0.1:`port`.
pub(crate) fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The first executable file called `name` on `PATH`, then in `extra` directories.
pub(crate) fn find_program(name: &str, extra: &[&str]) -> Option<PathBuf> {
    find_program_in(&std::env::var_os("PATH").unwrap_or_default(), name, extra)
}

/// [`find_program`] with `path` in place of the `PATH` variable.
pub(crate) fn find_program_in(
    path: &std::ffi::OsStr,
    name: &str,
    extra: &[&str],
) -> Option<PathBuf> {
    std::env::split_paths(path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
