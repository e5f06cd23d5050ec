//! Group commit for token issuance: concurrent issuances are written in one transaction
//! (one fsync) instead of one each. Every token is still written, audited and durable
//! before its caller hears back, and each is checked against its owner's status and epoch
//! inside that transaction, so an offboarding is ordered before or after, never between.

use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::TokenError;
use std::collections::HashMap;

use crate::audit::Actor;
use crate::domain::ActionSet;
use crate::domain::ChannelId;
use crate::domain::credential::CredentialHash;
use crate::domain::staff::{StaffId, StaffStatus};
use crate::domain::time::Millis;
use crate::store::audit::NewEntry;
use crate::store::tokens::NewToken;
use crate::store::{Store, StoreError};

/// The most issuances one transaction carries.
const MAX_BATCH: usize = 64;

/// One token waiting to be written.
pub struct Pending {
    pub hash: CredentialHash,
    pub staff_id: StaffId,
    pub username: String,
    pub channel: ChannelId,
    pub actions: ActionSet,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub actor: Actor,
    pub session_id: Option<i64>,
    /// The second factor the gate recorded, for the audit entry.
    pub factor: Option<String>,
}

/// What the write gave a token: its id and the owner's epoch it carries.
pub type Written = Result<(i64, i64), TokenError>;

type Job = (Pending, oneshot::Sender<Written>);

/// The handle issuers write through.
#[derive(Clone)]
pub struct IssuanceBatcher {
    jobs: mpsc::Sender<Job>,
}

impl IssuanceBatcher {
    /// Starts the writer task.
    pub fn start(store: Store) -> IssuanceBatcher {
        let (jobs, rx) = mpsc::channel(1024);
        tokio::spawn(run(store, rx));
        IssuanceBatcher { jobs }
    }

    /// Writes one token; returns once its transaction committed.
    pub async fn write(&self, pending: Pending) -> Written {
        let (reply, answer) = oneshot::channel();
        let gone = || TokenError::Store(StoreError::Corrupt("the token writer stopped".into()));
        self.jobs.send((pending, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        write_batch(&store, batch).await;
    }
}

async fn write_batch(store: &Store, batch: Vec<Job>) {
    let mut done: Vec<(oneshot::Sender<Written>, Written)> = Vec::with_capacity(batch.len());
    let result: Result<(), StoreError> = async {
        let mut tx = store.begin().await?;
        // One lock per person per batch: after the first, this transaction holds the row.
        let mut states: HashMap<StaffId, (StaffStatus, i64)> = HashMap::new();
        let mut written: Vec<(Pending, i64)> = Vec::with_capacity(batch.len());
        for (p, reply) in batch {
            let (status, epoch) = match states.get(&p.staff_id) {
                Some(s) => *s,
                None => {
                    // Re-read inside the write: an offboarding racing this one wins.
                    let s = crate::store::staff::lock_state(tx.conn(), p.staff_id).await?;
                    states.insert(p.staff_id, s);
                    s
                }
            };
            if status != StaffStatus::Active {
                let _ = reply.send(Err(TokenError::StaffNotActive(status)));
                continue;
            }
            let new = NewToken {
                hash: p.hash,
                staff_id: p.staff_id,
                channel_id: &p.channel,
                actions: p.actions,
                epoch,
                issued_at: p.issued_at,
                expires_at: p.expires_at,
                issued_by: &p.actor.0,
                session_id: p.session_id,
            };
            let id = crate::store::tokens::insert(tx.conn(), &new).await?;
            done.push((reply, Ok((id, epoch))));
            written.push((p, id));
        }
        let columns: Vec<(String, String, String)> = written
            .iter()
            .map(|(p, id)| {
                crate::audit::Change::TokenIssued {
                    username: p.username.clone(),
                    token_id: *id,
                    channel: p.channel.to_string(),
                    actions: json!(p.actions),
                    expires_at: json!(p.expires_at),
                    factor: p.factor.clone(),
                }
                .to_entry()
            })
            .collect();
        let entries: Vec<NewEntry<'_>> = written
            .iter()
            .zip(columns.iter())
            .map(|((p, _), (event, subject, details))| NewEntry {
                at: p.issued_at,
                actor: &p.actor.0,
                event,
                subject,
                details: details.clone(),
            })
            .collect();
        crate::store::audit::append_run(tx.conn(), &entries).await?;
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) => {
            for (reply, written) in done {
                let _ = reply.send(written);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "token write failed; nothing in the batch was issued");
            for (reply, _) in done {
                let _ = reply.send(Err(TokenError::Store(StoreError::Corrupt(
                    "the token write failed".into(),
                ))));
            }
        }
    }
}
