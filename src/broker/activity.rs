//! Per-call activity and denial counts, written in batches off the request path.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::audit::{self, Actor};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::activity::CallRecord;

/// What the broker reports.
#[derive(Debug)]
pub enum Event {
    Call(CallRecord),
    Denied { channel: String, code: &'static str },
}

/// The broker's handle: never blocks a request. When the queue is full an event is dropped
/// and counted, which the next flush writes to the log.
#[derive(Clone)]
pub struct ActivityLog {
    tx: mpsc::Sender<Event>,
    metrics: Arc<Metrics>,
}

impl ActivityLog {
    /// A response the broker cut mid-body, and why.
    pub fn cut(&self, channel: &str, why: &'static str) {
        self.metrics.cut(channel, why);
    }

    pub fn report(&self, event: Event) {
        match &event {
            Event::Call(r) => self.metrics.accepted(&r.channel_id, r.latency_us),
            Event::Denied { channel, code } => self.metrics.refused(channel, code),
        }
        if self.tx.try_send(event).is_err() {
            self.metrics.activity_dropped(1);
            tracing::warn!("activity queue full; an activity record was dropped");
        }
    }
}

const BATCH: usize = 1_000;
/// Call records kept while the database refuses them; the oldest beyond go (and are counted).
const KEEP: usize = 100_000;

/// The writer task; [`ActivityFlusher::stop`] writes what is queued and ends it.
pub struct ActivityFlusher {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl ActivityFlusher {
    /// Flushes everything reported so far and stops. Handles to the log may outlive this
    /// (the router holds them), so stopping is a signal rather than waiting for them to drop.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn take(
    event: Event,
    calls: &mut Vec<CallRecord>,
    denied: &mut BTreeMap<(String, &'static str), u64>,
) {
    match event {
        Event::Call(c) => calls.push(c),
        Event::Denied { channel, code } => *denied.entry((channel, code)).or_default() += 1,
    }
}

/// Starts the writer task.
pub fn start(
    store: Store,
    every: Duration,
    metrics: Arc<Metrics>,
) -> (ActivityLog, ActivityFlusher) {
    let (tx, mut rx) = mpsc::channel::<Event>(65_536);
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let writer_metrics = metrics.clone();
    let task = tokio::spawn(async move {
        let metrics = writer_metrics;
        let mut calls = Vec::with_capacity(BATCH);
        let mut denied: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        let mut tick = tokio::time::interval(every);
        // After a failed write, the next try waits for the tick rather than every event.
        let mut failing = false;
        loop {
            let (done, due) = tokio::select! {
                event = rx.recv() => match event {
                    Some(e) => { take(e, &mut calls, &mut denied); (false, false) }
                    None => (true, true),
                },
                _ = tick.tick() => (false, true),
                _ = &mut stopped => {
                    while let Ok(e) = rx.try_recv() {
                        take(e, &mut calls, &mut denied);
                    }
                    (true, true)
                }
            };
            if due || (calls.len() >= BATCH && !failing) {
                failing = !flush(&store, &mut calls, &mut denied).await;
                if calls.len() > KEEP {
                    let excess = calls.len() - KEEP;
                    calls.drain(..excess);
                    metrics.activity_dropped(excess as u64);
                    tracing::error!(
                        dropped = excess,
                        "broker activity could not be written for too long; the oldest records were dropped"
                    );
                }
            }
            if done {
                break;
            }
        }
    });
    (ActivityLog { tx, metrics }, ActivityFlusher { task, stop })
}

/// Writes what is kept; what could not be written stays for the next try. True when all
/// was written.
async fn flush(
    store: &Store,
    calls: &mut Vec<CallRecord>,
    denied: &mut BTreeMap<(String, &'static str), u64>,
) -> bool {
    let mut written = true;
    if !calls.is_empty() {
        match crate::store::activity::write_batch(store, calls).await {
            Ok(()) => calls.clear(),
            Err(e) => {
                tracing::error!(error = %e, kept = calls.len(), "writing broker activity failed; kept for the next try");
                written = false;
            }
        }
    }
    if !denied.is_empty() {
        let counts: Vec<_> = denied
            .iter()
            .map(|((channel, code), n)| json!({ "channel": channel, "code": code, "count": n }))
            .collect();
        let change = audit::Change::BrokerDenials {
            what: "broker".into(),
            denials: json!(counts),
        };
        if let Err(e) = audit::record_alone(store, &Actor::system(), &change).await {
            tracing::error!(error = %e, "writing denial counts to the audit log failed; kept for the next try");
            return false;
        }
        denied.clear();
    }
    written
}
