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
    pub fn report(&self, event: Event) {
        match &event {
            Event::Call(r) => self.metrics.accepted(&r.channel_id, r.latency_us),
            Event::Denied { channel, code } => self.metrics.refused(channel, code),
        }
        if self.tx.try_send(event).is_err() {
            tracing::warn!("activity queue full; an activity record was dropped");
        }
    }
}

const BATCH: usize = 1_000;

/// The writer task; [`Writer::stop`] writes what is queued and ends it.
pub struct Writer {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Writer {
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
pub fn start(store: Store, every: Duration, metrics: Arc<Metrics>) -> (ActivityLog, Writer) {
    let (tx, mut rx) = mpsc::channel::<Event>(65_536);
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut calls = Vec::with_capacity(BATCH);
        let mut denied: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        let mut tick = tokio::time::interval(every);
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
            if due || calls.len() >= BATCH {
                flush(&store, &mut calls, &mut denied).await;
            }
            if done {
                break;
            }
        }
    });
    (ActivityLog { tx, metrics }, Writer { task, stop })
}

async fn flush(
    store: &Store,
    calls: &mut Vec<CallRecord>,
    denied: &mut BTreeMap<(String, &'static str), u64>,
) {
    if !calls.is_empty() {
        if let Err(e) = crate::store::activity::write_batch(store, calls).await {
            tracing::error!(error = %e, count = calls.len(), "writing broker activity failed");
        }
        calls.clear();
    }
    if !denied.is_empty() {
        let counts: Vec<_> = denied
            .iter()
            .map(|((channel, code), n)| json!({ "channel": channel, "code": code, "count": n }))
            .collect();
        if let Err(e) = audit::record_alone(
            store,
            &Actor::system(),
            "broker.denied",
            "broker",
            json!({ "denials": counts }),
        )
        .await
        {
            tracing::error!(error = %e, "writing denial counts to the audit log failed");
        }
        denied.clear();
    }
}
