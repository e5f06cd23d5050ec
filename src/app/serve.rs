//! Serving the routers on their listeners, plain or TLS, each behind a [`ConnectionGuard`], until
//! shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tokio::net::TcpListener;

use super::listener::ConnectionGuard;

/// How long connections may finish after shutdown is asked for.
const GRACE: Duration = Duration::from_secs(10);

/// One bound listener and what it serves.
pub struct Listening {
    pub listener: TcpListener,
    pub router: Router,
    pub guard: ConnectionGuard,
}

/// Serves every listener until `shutdown` resolves; the first to fail ends them all.
pub async fn serve_all(
    listening: Vec<Listening>,
    tls: Option<RustlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handles: Vec<Handle<SocketAddr>> = listening.iter().map(|_| Handle::new()).collect();
    let stoppers = handles.clone();
    tokio::spawn(async move {
        shutdown.await;
        for h in &stoppers {
            h.graceful_shutdown(Some(GRACE));
        }
    });
    let servers = listening
        .into_iter()
        .zip(handles.iter().cloned())
        .map(|(l, handle)| serve_one(l, tls.clone(), handle));
    let result = futures_util::future::try_join_all(servers).await;
    // One listener failing (or all ending) stops the others too.
    for h in &handles {
        h.graceful_shutdown(Some(GRACE));
    }
    result.map(|_| ())
}

async fn serve_one(
    l: Listening,
    tls: Option<RustlsConfig>,
    handle: Handle<SocketAddr>,
) -> std::io::Result<()> {
    let make = l.router.into_make_service_with_connect_info::<SocketAddr>();
    let listener = l.listener.into_std()?;
    let limits = l.guard.limits();
    match tls {
        None => {
            let mut server = axum_server::from_tcp(listener)?
                .acceptor(l.guard)
                .handle(handle);
            // Timed by the guard, which also keeps the idle wait apart from the header read.
            server.http_builder().http1().header_read_timeout(None);
            server.serve(make).await
        }
        Some(config) => {
            let acceptor = RustlsAcceptor::new(config)
                .handshake_timeout(limits.header_read_timeout)
                .acceptor(l.guard);
            let mut server = axum_server::from_tcp(listener)?
                .acceptor(acceptor)
                .handle(handle);
            server.http_builder().http1().header_read_timeout(None);
            server.serve(make).await
        }
    }
}
