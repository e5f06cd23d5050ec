//! Bodies flowing through the broker: the request body with a size cap, and the response
//! body with scrubbing, a size cap, a gap timeout, and a cut when access is revoked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::domain::time::now_millis;
use crate::policy::Engine;
use crate::store::activity::CallRecord;
use crate::tokens::Verifier;

/// A request body that errors once it passes `limit` bytes.
pub struct RequestBody {
    body: Body,
    limit: u64,
    tripped: Arc<AtomicBool>,
}

impl RequestBody {
    pub fn new(body: Body, limit: u64) -> Self {
        RequestBody {
            body,
            limit,
            tripped: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn tripped(&self) -> Arc<AtomicBool> {
        self.tripped.clone()
    }

    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let limit = self.limit;
        let tripped = self.tripped;
        let mut seen = 0u64;
        self.body.into_data_stream().map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            seen += chunk.len() as u64;
            if seen > limit {
                tripped.store(true, Ordering::SeqCst);
                return Err(std::io::Error::other("request body too large"));
            }
            Ok(chunk)
        })
    }
}

/// Rechecks access while a response streams, and records the call when it ends.
pub struct Guard {
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub channel: Arc<LiveChannel>,
    pub hash: CredentialHash,
    pub action: Action,
    pub activity: ActivityLog,
    pub record: CallRecord,
    pub started: Instant,
}

impl Guard {
    fn still_allowed(&self) -> bool {
        match self.verifier.verify(&self.hash, now_millis()) {
            Ok(v) => self
                .engine
                .permitted(&v.staff, &self.channel.facts)
                .contains(self.action),
            Err(_) => false,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut record = self.record.clone();
        record.latency_us = i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX);
        self.activity.report(Event::Call(record));
    }
}

struct State<S> {
    upstream: S,
    scrubber: Scrubber,
    guard: Guard,
    changes: watch::Receiver<u64>,
    limit: u64,
    gap: Duration,
    done: bool,
}

fn cut<S>(
    mut st: State<S>,
    why: &'static str,
) -> Option<(Result<Bytes, std::io::Error>, State<S>)> {
    st.done = true;
    Some((Err(std::io::Error::other(why)), st))
}

/// The response body: scrubbed, capped, and cut when access goes away.
pub fn response_body<S>(
    upstream: S,
    scrubber: Scrubber,
    guard: Guard,
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
