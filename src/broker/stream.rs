//! Bodies flowing through the broker: the request body with a size cap, and the response
//! body with scrubbing, a size cap, a gap timeout, and a cut when access is revoked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::watch;

use super::activity::{ActivityLog, Event};
use super::scrub::Scrubber;
use crate::channels::LiveChannel;
use crate::domain::Action;
use crate::domain::credential::CredentialHash;
use crate::policy::Engine;
use crate::store::activity::CallRecord;
use crate::tokens::Verifier;

/// What flowed through a request body: bytes seen, and whether the cap was hit.
#[derive(Default)]
pub struct BodyMeter {
    bytes: AtomicU64,
    tripped: AtomicBool,
}

impl BodyMeter {
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// The request body, erroring once it passes `limit` bytes.
pub fn request_body(
    body: Body,
    limit: u64,
    meter: Arc<BodyMeter>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        let seen =
            meter.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
        if seen > limit {
            meter.tripped.store(true, Ordering::SeqCst);
            return Err(std::io::Error::other("request body too large"));
        }
        Ok(chunk)
    })
}

/// Rechecks access while a response streams, and records the call when it ends.
pub struct StreamWatch {
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub channel: Arc<LiveChannel>,
    pub hash: CredentialHash,
    pub action: Action,
    pub activity: ActivityLog,
    pub record: CallRecord,
    pub started: Instant,
    /// When the call passed its checks: streaming re-checks as of then, so expiry alone
    /// never cuts an answer (a revocation, an offboarding or a stale replica does).
    pub arrived_at: crate::domain::time::Millis,
    pub freshness: Arc<crate::replica::Freshness>,
    pub meter: Arc<BodyMeter>,
}

impl StreamWatch {
    fn still_allowed(&self) -> bool {
        !self.freshness.behind(crate::domain::time::now_millis())
            && super::check(
                &self.verifier,
                &self.engine,
                &self.hash,
                &self.channel,
                self.action,
                self.arrived_at,
            )
            .is_ok()
    }
}

impl Drop for StreamWatch {
    fn drop(&mut self) {
        let mut record = self.record.clone();
        record.latency_us = i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX);
        record.bytes_in = i64::try_from(self.meter.bytes()).unwrap_or(i64::MAX);
        self.activity.report(Event::Call(record));
    }
}

struct State<S> {
    upstream: S,
    scrubber: Scrubber,
    guard: StreamWatch,
    changes: watch::Receiver<u64>,
    limit: u64,
    gap: Duration,
    done: bool,
}

/// Ends the response with an error: the client sees the connection end mid-body (HTTP/1.1
/// cannot say more without trailers the client asked for); the log and the
/// `staffgate_broker_cuts_total` metric say why.
fn cut<S>(
    mut st: State<S>,
    why: &'static str,
) -> Option<(Result<Bytes, std::io::Error>, State<S>)> {
    st.done = true;
    tracing::warn!(
        channel = %st.guard.record.channel_id,
        token_id = st.guard.record.token_id,
        reason = why,
        bytes_sent = st.guard.record.bytes_out,
        "brokered response cut"
    );
    st.guard.activity.cut(&st.guard.record.channel_id, why);
    Some((Err(std::io::Error::other(why)), st))
}

/// The response body: scrubbed, capped, and cut when access goes away.
pub fn response_body<S>(
    upstream: S,
    scrubber: Scrubber,
    guard: StreamWatch,
    changes: watch::Receiver<u64>,
    limit: u64,
    gap: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static,
{
    let state = State {
        upstream,
        scrubber,
        guard,
        changes,
        limit,
        gap,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            tokio::select! {
                biased;
                changed = st.changes.changed() => {
                    if changed.is_err() || !st.guard.still_allowed() {
                        return cut(st, "access revoked");
                    }
                }
                next = tokio::time::timeout(st.gap, st.upstream.next()) => {
                    return match next {
                        Err(_) => cut(st, "upstream stalled"),
                        Ok(Some(Err(_))) => cut(st, "upstream failed"),
                        Ok(None) => {
                            st.done = true;
                            let rest = st.scrubber.finish();
                            if !st.guard.still_allowed() {
                                return cut(st, "access revoked");
                            }
                            (!rest.is_empty()).then_some((Ok(rest), st))
                        }
                        Ok(Some(Ok(chunk))) => {
                            st.guard.record.bytes_out += chunk.len() as i64;
                            if st.guard.record.bytes_out as u64 > st.limit {
                                return cut(st, "response too large");
                            }
                            // A revocation between two notifications must not let a chunk out.
                            if !st.guard.still_allowed() {
                                return cut(st, "access revoked");
                            }
                            let out = st.scrubber.push(&chunk);
                            Some((Ok(out), st))
                        }
                    };
                }
            }
        }
    })
}
