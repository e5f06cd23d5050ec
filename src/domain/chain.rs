//! The hash chain, pure: how an entry's hash is made and how a sequence is checked.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct Entry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub event: String,
    pub subject: String,
    /// JSON object text.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// SHA-256 over the previous hash and every field, each length-prefixed so no two
/// different entries encode alike.
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    actor: &str,
    event: &str,
    subject: &str,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    let seq = seq.to_string();
    let at = at.to_string();
    for field in [prev_hash, &seq, &at, actor, event, subject, details] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// What is wrong with the first bad entry.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, thiserror::Error, utoipa::ToSchema,
)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ChainBreak {
    /// An entry's content does not match its hash: it was altered.
    #[error("entry {seq} was altered: its content does not match its hash")]
    Altered { seq: i64 },
    /// An entry does not follow the one before it: something was removed or reordered.
    #[error("entry {seq} does not follow entry {previous}: entries were removed or reordered")]
    Broken { seq: i64, previous: i64 },
    /// The newest entries are missing: the log was cut short.
    #[error(
        "the log ends at entry {last} but {expected} entries were written: the newest were removed"
    )]
    Truncated { last: i64, expected: i64 },
}

/// Checks entries (in ascending `seq` order) continue the chain from `(prev_seq, prev_hash)`.
/// Returns the new tail.
pub fn verify_run<'a>(
    mut prev: (i64, String),
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Result<(i64, String), ChainBreak> {
    for e in entries {
        if e.seq != prev.0 + 1 || e.prev_hash != prev.1 {
            return Err(ChainBreak::Broken {
                seq: e.seq,
                previous: prev.0,
            });
        }
        let want = entry_hash(
            &e.prev_hash,
            e.seq,
            e.at,
            &e.actor,
            &e.event,
            &e.subject,
            &e.details,
        );
        if want != e.hash {
            return Err(ChainBreak::Altered { seq: e.seq });
        }
        prev = (e.seq, e.hash.clone());
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let details = format!("{{\"n\":{seq}}}");
                let hash = entry_hash(&prev, seq, seq * 10, "key:root", "test", "x", &details);
                let e = Entry {
                    seq,
                    at: seq * 10,
                    actor: "key:root".into(),
                    event: "test".into(),
                    subject: "x".into(),
                    details,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn start() -> (i64, String) {
        (0, GENESIS.to_string())
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_run(start(), &chain(5)).unwrap().0, 5);
    }

    #[test]
    fn an_altered_entry_is_named() {
        let mut c = chain(5);
        c[2].subject = "y".into();
        assert_eq!(verify_run(start(), &c), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn a_removed_entry_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify_run(start(), &c),
            Err(ChainBreak::Broken {
                seq: 3,
                previous: 1
            })
        );
    }

    #[test]
    fn reordered_entries_are_caught() {
        let mut c = chain(5);
        c.swap(1, 2);
        assert!(verify_run(start(), &c).is_err());
    }
}
