//! The Net seam on turmoil: the engine's [`Listener`] over turmoil's TCP.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use fazt_engine::server::Listener;

/// A turmoil TCP listener, for serving the engine inside a simulated host.
pub struct SimListener(pub turmoil::net::TcpListener);

impl Listener for SimListener {
    type Stream = turmoil::net::TcpStream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        self.0.accept()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}
