//! Running a source for as long as the daemon runs: a persist stream where the server
//! offers one, polling otherwise, reconnecting with backoff when the directory goes away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use std::collections::BTreeSet;

use super::syncrepl::{actor, note_change, stream};
use super::take::Answer;
use super::{SyncError, Syncer};
use crate::directory::ldap::config::Mode;
use crate::directory::ldap::entry::normalize_dn;
use crate::directory::ldap::usn::{self, UsnMark};
use crate::directory::ldap::{LdapSource, search};
use crate::directory::reconcile::origin_name;

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

/// Polling: a full sync now and then, and in between only what changed since the last
/// poll: by update sequence number on Active Directory (see `ldap::usn`), by a timestamp
/// attribute elsewhere (which cannot see deletions: the full sync does).
#[derive(Default)]
struct PollState {
    last_full: Option<Instant>,
    since: Option<Since>,
}

/// Where the last successful poll left off.
enum Since {
    /// When it began (timestamp polling).
    Time(DateTime<Utc>),
    /// The DC's USN before it began.
    Usn(UsnMark),
}

/// More people touched than this by one poll (a group of thousands changed) and a full sync
/// reads them faster than one search each.
const FETCH_LIMIT: usize = 500;

/// LDAP GeneralizedTime with a fraction: Samba (and so AD-compatible servers) matches
/// *every* entry against a time without one.
fn generalized(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%S.0Z").to_string()
}

fn by_usn(source: &LdapSource) -> bool {
    source.change_attribute.eq_ignore_ascii_case("uSNChanged")
}

impl PollState {
    async fn once(&mut self, syncer: &Syncer, source: &LdapSource) -> Result<(), SyncError> {
        let began = Utc::now();
        let due = self
            .last_full
            .is_none_or(|t| t.elapsed() >= source.full_sync_interval);
        let since = match (due, self.since.take()) {
            (false, Some(Since::Time(since))) => {
                let from = since - chrono::Duration::from_std(POLL_OVERLAP).unwrap_or_default();
                let changed = search::changed_since(source, &generalized(from)).await?;
                let mut answer = Answer::changes(&source.name, changed.people, vec![]);
                answer.skipped = changed.skipped;
                take_changes(syncer, source, answer).await?;
                Since::Time(began)
            }
            (false, Some(Since::Usn(mark))) => match usn_poll(syncer, source, &mark).await? {
                Some(next) => Since::Usn(next),
                None => self.full(syncer, source).await?,
            },
            _ => self.full(syncer, source).await?,
        };
        self.since = Some(since);
        Ok(())
    }

    /// A full sync; for USN polling, the mark is read first so nothing written meanwhile
    /// is missed.
    async fn full(&mut self, syncer: &Syncer, source: &LdapSource) -> Result<Since, SyncError> {
        let began = Utc::now();
        let mark = if by_usn(source) {
            Some(usn::mark(source).await?)
        } else {
            None
        };
        syncer
            .full_sync(&source.name, false, &actor(&source.name))
            .await?;
        self.last_full = Some(Instant::now());
        Ok(mark.map_or(Since::Time(began), Since::Usn))
    }
}

async fn take_changes(
    syncer: &Syncer,
    source: &LdapSource,
    answer: Answer,
) -> Result<(), SyncError> {
    let _serial = syncer.serialize(&source.name).await;
    let taken = syncer.take(answer, false, &actor(&source.name)).await?;
    if !taken.plan.is_empty() {
        note_change(syncer, &source.name);
    }
    syncer.board.ok(&source.name);
    Ok(())
}

/// One USN poll: `None` when a full sync must run instead (another DC answers, or a change
/// touched more people than one search each is worth).
async fn usn_poll(
    syncer: &Syncer,
    source: &LdapSource,
    mark: &UsnMark,
) -> Result<Option<UsnMark>, SyncError> {
    let (next, changes) = usn::changes(source, mark).await?;
    if next.dc != mark.dc {
        tracing::info!(source = %source.name, "another domain controller answers: a full sync");
        return Ok(None);
    }
    let Some(changes) = changes else {
        syncer.board.ok(&source.name);
        return Ok(Some(next));
    };
    let mut dns: BTreeSet<String> = changes.users.iter().map(|d| normalize_dn(d)).collect();
    // Of a changed group, only those who joined or left it are read again.
    let origin = origin_name(&source.name);
    for group in &changes.groups {
        let now: BTreeSet<String> = group.members.iter().map(|d| normalize_dn(d)).collect();
        let had: BTreeSet<String> =
            crate::store::staff::members_of(syncer.store.pool(), &origin, &group.name)
                .await?
                .into_iter()
                .filter_map(|(_, dn)| dn.map(|d| normalize_dn(&d)))
                .collect();
        dns.extend(now.symmetric_difference(&had).cloned());
    }
    dns.retain(|dn| dn.contains('=') && usn::under(dn, &source.base_dn));
    if dns.len() > FETCH_LIMIT {
        return Ok(None);
    }
    let dns: Vec<String> = dns.into_iter().collect();
    let mut people = Vec::new();
    let mut skipped = Vec::new();
    for read in search::fetch(source, &dns).await? {
        match read {
            Ok(p) => people.push(p),
            Err(s) => skipped.push(s),
        }
    }
    let mut answer = Answer::changes(&source.name, people, changes.gone);
    answer.skipped = skipped;
    take_changes(syncer, source, answer).await?;
    Ok(Some(next))
}

#[cfg(test)]
mod tests {
    #[test]
    fn generalized_time_has_the_fraction_samba_needs() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-29T18:05:26Z").unwrap();
        assert_eq!(super::generalized(t.to_utc()), "20261129180526.0Z");
    }
}
