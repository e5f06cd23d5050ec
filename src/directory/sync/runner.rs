//! Running a source for as long as the daemon runs: a persist stream where the server
//! offers one, polling otherwise, reconnecting with backoff when the directory goes away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::syncrepl::{actor, note_change, stream};
use super::take::Answer;
use super::{SyncError, Syncer};
use crate::directory::ldap::config::Mode;
use crate::directory::ldap::{LdapSource, search};

const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Each poll looks this much further back than the previous one began, for clock skew
/// between staffgate and the directory; re-reading an unchanged entry is a no-op.
const POLL_OVERLAP: Duration = Duration::from_secs(60);

/// Runs one source forever.
pub async fn run_source(syncer: Arc<Syncer>, source: Arc<LdapSource>) {
    let mut backoff = Duration::from_secs(1);
    let mut persist_offered: Option<bool> = match source.mode {
        Mode::Persist => Some(true),
        Mode::Poll => Some(false),
        Mode::Auto => None,
    };
    let mut poll = PollState::default();
    loop {
        let result = match persist_offered {
            None => match search::offers_sync(&source).await {
                Ok(offered) => {
                    persist_offered = Some(offered);
                    syncer.board.update(&source.name, |s| {
                        s.mode = if offered { "persist" } else { "poll" }.into()
                    });
                    continue;
                }
                Err(e) => Err(SyncError::from(e)),
            },
            Some(true) => stream(&syncer, &source).await,
            Some(false) => poll.once(&syncer, &source).await,
        };
        match result {
            Ok(()) if persist_offered == Some(false) => {
                backoff = Duration::from_secs(1);
                tokio::time::sleep(source.poll_interval).await;
            }
            Ok(()) => backoff = Duration::from_secs(1),
            Err(e) => {
                tracing::warn!(source = %source.name, error = %e, retry_in = ?backoff, "directory sync failed");
                syncer.board.error(&source.name, e.to_string());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Polling: a full sync now and then (the only way to see deletions without RFC 4533),
/// and in between only the entries changed since the last poll.
#[derive(Default)]
struct PollState {
    last_full: Option<Instant>,
    /// When the last successful poll began.
    since: Option<DateTime<Utc>>,
}

/// LDAP GeneralizedTime, as `modifyTimestamp` and `whenChanged` compare.
fn generalized(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%SZ").to_string()
}

impl PollState {
    async fn once(&mut self, syncer: &Syncer, source: &LdapSource) -> Result<(), SyncError> {
        let began = Utc::now();
        let due = self
            .last_full
            .is_none_or(|t| t.elapsed() >= source.full_sync_interval);
        match (due, self.since) {
            (false, Some(since)) => {
                let from = since - chrono::Duration::from_std(POLL_OVERLAP).unwrap_or_default();
                let changed = search::changed_since(source, &generalized(from)).await?;
                let _serial = syncer.serialize(&source.name).await;
                let mut answer = Answer::changes(&source.name, changed.people, vec![]);
                answer.skipped = changed.skipped;
                let taken = syncer.take(answer, false, &actor(&source.name)).await?;
                if !taken.plan.is_empty() {
                    note_change(syncer, &source.name);
                }
                syncer.board.ok(&source.name);
            }
            _ => {
                syncer
                    .full_sync(&source.name, false, &actor(&source.name))
                    .await?;
                self.last_full = Some(Instant::now());
            }
        }
        self.since = Some(began);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn generalized_time_is_what_ldap_compares() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-29T18:05:26Z").unwrap();
        assert_eq!(super::generalized(t.to_utc()), "20261129180526Z");
    }
}
