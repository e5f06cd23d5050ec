//! Client connections a hostile client cannot outlast. Each listener holds at most
//! `max_connections` (one more is closed at once, so descriptors never run out and the
//! health check stays reachable once the slow ones are gone); a connection must send a
//! whole request head within `header_read_timeout` of its first byte (of its opening, for
//! its first request), may sit idle between requests for `idle_timeout`, and gets an answer
//! head within `request_timeout`.
//!
//! hyper's own header timer also runs while a kept-alive connection waits for its next
//! request, which would make the idle wait as short as a header read; so both are kept here,
//! in the stream under TLS and hyper, with the service telling it when a request is in flight.

use crate::domain::ErrorCode;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::config::ServerLimits;
use crate::metrics::Metrics;
use crate::web::error::ApiError;

/// Why the server ended a connection or a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The listener already held `max_connections`.
    Full,
    HeaderRead,
    Idle,
    Request,
}

impl Closed {
    pub fn as_str(self) -> &'static str {
        match self {
            Closed::Full => "connection_limit",
            Closed::HeaderRead => "header_read_timeout",
            Closed::Idle => "idle_timeout",
            Closed::Request => "request_timeout",
        }
    }
}

/// Applies [`ServerLimits`] to every connection of one listener.
#[derive(Clone)]
pub struct ConnectionGuard {
    limits: ServerLimits,
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    listener: &'static str,
}

impl ConnectionGuard {
    pub fn new(
        limits: ServerLimits,
        metrics: Arc<Metrics>,
        listener: &'static str,
    ) -> ConnectionGuard {
        ConnectionGuard {
            limits,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            metrics,
            listener,
        }
    }

    pub fn limits(&self) -> ServerLimits {
        self.limits
    }

    fn closed(&self, why: Closed) {
        self.metrics.connection_closed(self.listener, why.as_str());
    }
}

impl<S> Accept<TcpStream, S> for ConnectionGuard {
    type Stream = Guarded<TcpStream>;
    type Service = Timed<S>;
    type Future = std::future::Ready<io::Result<(Guarded<TcpStream>, Timed<S>)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            self.closed(Closed::Full);
            // Dropping the stream closes it: refused at once, not queued behind the others.
            return std::future::ready(Err(io::Error::other("connection limit reached")));
        };
        // Answers are written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        let state = Arc::new(ConnState::new());
        let guarded = Guarded {
            inner: stream,
            state: state.clone(),
            guard: self.clone(),
            timer: None,
            _permit: permit,
        };
        let timed = Timed {
            inner: service,
            state,
            guard: self.clone(),
        };
        std::future::ready(Ok((guarded, timed)))
    }
}

const NONE: u64 = u64::MAX;

/// What the stream and the service of one connection share. Times are milliseconds since
/// the connection opened.
struct ConnState {
    opened: Instant,
    in_flight: AtomicU64,
    /// When the request head now arriving sent its first byte.
    head_started: AtomicU64,
    /// When a byte last moved, or a request ended.
    last_active: AtomicU64,
    requests: AtomicU64,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            opened: Instant::now(),
            in_flight: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            last_active: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    /// When this connection must have made progress, and what it is waiting for; `None`
    /// while a request is in flight (the request timeout covers it).
    fn deadline(&self, limits: &ServerLimits) -> Option<(u64, Closed)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        let head = self.head_started.load(Ordering::Acquire);
        if head != NONE {
            return Some((head + ms(limits.header_read_timeout), Closed::HeaderRead));
        }
        if self.requests.load(Ordering::Acquire) == 0 {
            return Some((ms(limits.header_read_timeout), Closed::HeaderRead));
        }
        let last = self.last_active.load(Ordering::Acquire);
        Some((last + ms(limits.idle_timeout), Closed::Idle))
    }
}

/// A client stream that fails its reads once the client has taken too long.
pub struct Guarded<I> {
    inner: I,
    state: Arc<ConnState>,
    guard: ConnectionGuard,
    timer: Option<Pin<Box<Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

impl<I> Guarded<I> {
    fn moved(&self, n: usize) {
        if n == 0 {
            return;
        }
        let now = self.state.now_ms();
        self.state.last_active.store(now, Ordering::Release);
        let waiting = self.state.in_flight.load(Ordering::Acquire) == 0;
        if waiting && self.state.requests.load(Ordering::Acquire) > 0 {
            // The first byte of the next request head; the first request is timed from
            // the opening.
            let _ = self.state.head_started.compare_exchange(
                NONE,
                now,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// Ready with the reason once the current deadline has passed.
    fn overdue(&mut self, cx: &mut Context<'_>) -> Option<Closed> {
        let (at_ms, why) = self.state.deadline(&self.guard.limits)?;
        let at = self.state.opened + std::time::Duration::from_millis(at_ms);
        match &mut self.timer {
            Some(t) if t.deadline() == at => {}
            Some(t) => t.as_mut().reset(at),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
        }
        let timer = self.timer.as_mut().expect("set above");
        timer.as_mut().poll(cx).is_ready().then_some(why)
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Guarded<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                let n = buf.filled().len() - before;
                self.moved(n);
                Poll::Ready(r)
            }
            Poll::Pending => match self.overdue(cx) {
                Some(why) => {
                    self.guard.closed(why);
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why.as_str())))
                }
                None => Poll::Pending,
            },
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Guarded<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(_)) = &r {
            self.state
                .last_active
                .store(self.state.now_ms(), Ordering::Release);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(_)) = &r {
            self.state
                .last_active
                .store(self.state.now_ms(), Ordering::Release);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The connection's service: marks a request in flight and bounds the wait for its answer.
#[derive(Clone)]
pub struct Timed<S> {
    inner: S,
    state: Arc<ConnState>,
    guard: ConnectionGuard,
}

/// Ends the in-flight mark however the request ends (answered, timed out, or dropped
/// because the client went away).
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // The idle wait starts when the answer does, not when the request came in.
        self.0.last_active.store(self.0.now_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S, B> tower_service::Service<Request<B>> for Timed<S>
where
    S: tower_service::Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.state.in_flight.fetch_add(1, Ordering::AcqRel);
        self.state.requests.fetch_add(1, Ordering::AcqRel);
        self.state.head_started.store(NONE, Ordering::Release);
        let mark = InFlight(self.state.clone());
        let answer = self.inner.call(req);
        let limit = self.guard.limits.request_timeout;
        let guard = self.guard.clone();
        Box::pin(async move {
            let answered = tokio::time::timeout(limit, answer).await;
            drop(mark);
            match answered {
                Ok(r) => r,
                Err(_) => {
                    guard.closed(Closed::Request);
                    Ok(timed_out(limit))
                }
            }
        })
    }
}

fn timed_out(limit: std::time::Duration) -> Response<Body> {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::RequestTimeout,
        format!(
            "no answer within server.request_timeout ({})",
            humantime::format_duration(limit)
        ),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(5),
            max_connections: 2,
        }
    }

    #[test]
    fn the_first_request_is_timed_from_the_opening_later_ones_from_their_first_byte() {
        let s = ConnState::new();
        assert_eq!(s.deadline(&limits()), Some((100, Closed::HeaderRead)));
        s.in_flight.store(1, Ordering::Release);
        s.requests.store(1, Ordering::Release);
        assert_eq!(
            s.deadline(&limits()),
            None,
            "in flight: the request timeout rules"
        );
        s.in_flight.store(0, Ordering::Release);
        s.last_active.store(500, Ordering::Release);
        assert_eq!(s.deadline(&limits()), Some((1500, Closed::Idle)));
        s.head_started.store(700, Ordering::Release);
        assert_eq!(s.deadline(&limits()), Some((800, Closed::HeaderRead)));
    }
}
