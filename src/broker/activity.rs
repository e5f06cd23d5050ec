//! Per-call activity and denial counts, written in batches off the request path.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::audit::{self, Actor};
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
}

impl ActivityLog {
    pub fn report(&self, event: Event) {
        if self.tx.try_send(event).is_err() {
            tracing::warn!("activity queue full; an activity record was dropped");
        }
    }
}

const BATCH: usize = 1_000;

/// Starts the writer task.
pub fn start(store: Store, every: Duration) -> (ActivityLog, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Event>(65_536);
    let task = tokio::spawn(async move {
        let mut calls = Vec::with_capacity(BATCH);
        let mut denied: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        let mut tick = tokio::time::interval(every);
        loop {
            let (closed, due) = tokio::select! {
                event = rx.recv() => match event {
                    Some(Event::Call(c)) => { calls.push(c); (false, false) }
                    Some(Event::Denied { channel, code }) => { *denied.entry((channel, code)).or_default() += 1; (false, false) }
                    None => (true, true),
                },
                _ = tick.tick() => (false, true),
            };
            if due || calls.len() >= BATCH {
                flush(&store, &mut calls, &mut denied).await;
            }
            if closed {
                break;
            }
        }
    });
    (ActivityLog { tx }, task)
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

/// Flushes what is queued and stops the writer (on shutdown and in tests).
pub async fn stop(log: ActivityLog, task: tokio::task::JoinHandle<()>) {
    drop(log);
    let _ = task.await;
}
