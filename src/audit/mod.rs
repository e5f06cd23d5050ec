//! The append-only, hash-chained audit log.
//!
//! Writers call [`record`] inside the transaction that makes the change, so a change and its
//! entry land together or not at all. Details never carry secrets: callers pass only names,
//! ids and counts.

pub use crate::domain::chain;

use serde::Serialize;
use sqlx::AnyConnection;

pub use crate::domain::change::Change;
use crate::domain::time::now_millis;
use crate::store::{Store, StoreError};
use chain::{ChainBreak, Entry, GENESIS};

/// Who did something: an API key, the daemon itself, a directory source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn system() -> Actor {
        Actor("system".into())
    }

    pub fn key(name: &str, id: i64) -> Actor {
        Actor(format!("key:{name}#{id}"))
    }

    /// A person acting in the console, under their own name.
    pub fn staff(username: &str) -> Actor {
        Actor(format!("staff:{username}"))
    }
}

/// Appends a change in the caller's transaction.
pub async fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    change: &Change,
) -> Result<i64, StoreError> {
    let (event, subject, details) = change.to_entry();
    crate::store::audit::append(conn, now_millis(), &actor.0, &event, &subject, &details).await
}

/// Appends a change in a transaction of its own.
pub async fn record_alone(
    store: &Store,
    actor: &Actor,
    change: &Change,
) -> Result<i64, StoreError> {
    let mut tx = store.begin().await?;
    let seq = record(tx.conn(), actor, change).await?;
    tx.commit().await?;
    Ok(seq)
}

/// The outcome of checking the whole log.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub entries: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<ChainBreak>,
}

/// Walks the whole chain page by page and names the first bad entry.
pub async fn verify(store: &Store) -> Result<Verification, StoreError> {
    const PAGE: i64 = 5_000;
    let (head_seq, head_hash) = crate::store::audit::head(store.pool()).await?;
    let mut tail = (0, GENESIS.to_string());
    loop {
        let page = crate::store::audit::page(store.pool(), tail.0, PAGE).await?;
        let done = (page.len() as i64) < PAGE;
        match chain::verify_run(tail.clone(), &page) {
            Ok(t) => tail = t,
            Err(b) => {
                return Ok(Verification {
                    ok: false,
                    entries: tail.0,
                    first_bad: Some(b),
                });
            }
        }
        if done {
            break;
        }
    }
    if tail.0 != head_seq || tail.1 != head_hash {
        let first_bad = ChainBreak::Truncated {
            last: tail.0,
            expected: head_seq,
        };
        return Ok(Verification {
            ok: false,
            entries: tail.0,
            first_bad: Some(first_bad),
        });
    }
    Ok(Verification {
        ok: true,
        entries: tail.0,
        first_bad: None,
    })
}

/// The entries after `after`, oldest first, at most `limit` (clamped to 1–1000).
pub async fn page(store: &Store, after: i64, limit: i64) -> Result<Vec<Entry>, StoreError> {
    crate::store::audit::page(store.pool(), after, limit.clamp(1, 1000)).await
}

/// The sequence number of the newest entry (0 on an empty log).
pub async fn head(store: &Store) -> Result<i64, StoreError> {
    Ok(crate::store::audit::head(store.pool()).await?.0)
}
