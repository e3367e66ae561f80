//! A TCP proxy on loopback that a test can cut, freeze and restore, to play a lost connection to
//! a database or cache server without touching the shared server itself.
//!
//! - [`Proxy::cut`]: every connection through the proxy is closed, and new ones are accepted and
//!   closed at once (the client sees its connection reset, as when a server goes away);
//! - [`Proxy::freeze`]: connections stay open but nothing passes either way, and new ones are
//!   accepted and left hanging (a silent network partition: only timeouts tell);
//! - [`Proxy::restore`]: the connections held while frozen are closed (as a healed partition's
//!   stale connections are reset), and new connections are forwarded again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const UP: u8 = 0;
const CUT: u8 = 1;
const FROZEN: u8 = 2;

/// A cuttable, freezable proxy to one upstream address. Dropping it stops it and closes its
/// connections.
pub struct Proxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    changes: watch::Sender<u64>,
    generation: Arc<AtomicU64>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mode = Arc::new(AtomicU8::new(UP));
        let generation = Arc::new(AtomicU64::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (changes, _) = watch::channel(0u64);
        let accept = {
            let (mode, changes, generation, held) = (mode.clone(), changes.clone(), generation.clone(), held.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    match mode.load(Ordering::SeqCst) {
                        CUT => drop(client),
                        FROZEN => hold(&held, [Some(client), None]),
                        _ => {
                            let change = changes.subscribe();
                            let born = generation.load(Ordering::SeqCst);
                            tokio::spawn(forward(client, upstream, change, born, mode.clone(), held.clone()));
                        }
                    }
                }
            })
        };
        Ok(Proxy { addr, mode, changes, generation, held, accept })
    }

    /// The proxy's address (connect the client under test here).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every open connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.switch(CUT);
    }

    /// Stops all traffic without closing anything until [`Proxy::restore`].
    pub fn freeze(&self) {
        self.switch(FROZEN);
    }

    /// Closes the connections held while frozen and forwards new connections again.
    pub fn restore(&self) {
        self.mode.store(UP, Ordering::SeqCst);
        let held: Vec<TcpStream> = std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()));
        drop(held);
    }

    fn switch(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        let next = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.changes.send_replace(next);
    }
}

fn hold(held: &Mutex<Vec<TcpStream>>, sockets: [Option<TcpStream>; 2]) {
    held.lock().unwrap_or_else(|e| e.into_inner()).extend(sockets.into_iter().flatten());
}

/// Copies both ways until the proxy changes mode; then closes both sockets (cut) or keeps them
/// open and silent (frozen).
async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    mut change: watch::Receiver<u64>,
    born: u64,
    mode: Arc<AtomicU8>,
    held: Arc<Mutex<Vec<TcpStream>>>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (mut client, mut server) = (client, server);
    let changed = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
        _ = async {
            while *change.borrow_and_update() <= born {
                if change.changed().await.is_err() {
                    return;
                }
            }
        } => true,
    };
    if changed && mode.load(Ordering::SeqCst) == FROZEN {
        hold(&held, [Some(client), Some(server)]);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.mode.store(CUT, Ordering::SeqCst);
        self.changes.send_replace(u64::MAX);
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
