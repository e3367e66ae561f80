//! A TCP proxy on loopback that a test can cut and restore, to play a lost connection to a
//! database or cache server without touching the shared server itself.
//!
//! While cut, every connection through the proxy is closed and new ones are accepted and closed
//! at once (the client sees its connection reset, as when a server goes away); once restored,
//! new connections are forwarded again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A cuttable proxy to one upstream address. Dropping it stops it and closes its connections.
pub struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    generation: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let (cuts, _) = watch::channel(0u64);
        let accept = {
            let (up, cuts, generation) = (up.clone(), cuts.clone(), generation.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let mut cut = cuts.subscribe();
                    let born = generation.load(Ordering::SeqCst);
                    tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(upstream).await else { return };
                        let (mut client, mut server) = (client, server);
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = async {
                                while *cut.borrow_and_update() <= born {
                                    if cut.changed().await.is_err() {
                                        return;
                                    }
                                }
                            } => {}
                        }
                        // Both sockets are dropped here: the client sees its connection end.
                    });
                }
            })
        };
        Ok(Proxy { addr, up, cuts, generation, accept })
    }

    /// The proxy's address (connect the client under test here).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every open connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        let next = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.cuts.send_replace(next);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cuts.send_replace(u64::MAX);
    }
}
