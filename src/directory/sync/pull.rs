//! A SCIM pull source's run: read the provider's whole list, merge it into the SCIM users
//! kept for the people it names (its own, or its push source's: one person, not two), and
//! reconcile those people in full through the one reconcile, guard and apply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::take::Answer;
use super::{Outcome, SyncError, Syncer};
use crate::audit::Actor;
use crate::config::scim_pull::ScimPullSource;
use crate::directory::person::Skipped;
use crate::directory::reconcile::{Coverage, SourceKind};
use crate::directory::scim::merge::{self, Listed, Merge, Stored, UNLISTED};
use crate::directory::scim::pull::{Pulled, Reader};
use crate::directory::scim::user::UserDoc;
use crate::domain::names::GroupName;
use crate::domain::time::now_millis;
use crate::store::scim::UserWrite;

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Names for new rows: one random prefix per run, then a count.
fn id_maker() -> Result<impl FnMut() -> String, SyncError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|_| SyncError::Corrupt("no randomness for ids".into()))?;
    let prefix = hex::encode(b);
    let mut n = 0u32;
    Ok(move || {
        n += 1;
        format!("{prefix}{n:08x}")
    })
}

fn stored(rows: Vec<crate::store::scim::UserRow>) -> Vec<Stored> {
    rows.into_iter()
        .filter_map(|r| {
            // A row that no longer reads is left alone, not taken for absent.
            let doc: UserDoc = serde_json::from_str(&r.doc).ok()?;
            Some(Stored {
                id: r.id,
                doc,
                updated_at: r.updated_at,
                deleted: r.deleted,
            })
        })
        .collect()
}

impl Syncer {
    pub fn pull_source(&self, name: &str) -> Option<Arc<ScimPullSource>> {
        self.pulls.iter().find(|s| s.name == name).cloned()
    }

    /// One pull of `source`: read, merge, reconcile in full, guard, apply or hold.
    pub async fn pull_sync(
        &self,
        source: &ScimPullSource,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Outcome, SyncError> {
        let name = source.name.as_str();
        let _running = self.start_run(name)?;
        let started = Instant::now();
        let began = now_millis();
        let progress = self.board.start_progress(name);
        let read = async { Reader::connect(source).await?.read(&progress.read).await };
        let pulled = match read.await {
            Ok(p) => p,
            Err(e) => {
                self.board.error(name, e.to_string());
                return Err(e.into());
            }
        };
        let searched = started.elapsed();
        let people_of = source.people_of();
        let _serial = self.serialize(&SourceKind::Scim.origin(people_of)).await;
        let rows = stored(crate::store::scim::every_user(self.store.pool(), people_of).await?);
        let Pulled {
            users,
            groups,
            skipped,
        } = pulled;
        let mut merged = merge::merge(&rows, users, began, id_maker()?);
        merged.skipped.extend(skipped);
        if !dry_run {
            self.write_merge(people_of, &merged).await?;
        }
        let answer = self.answer_of(source, merged, &groups, &rows).await?;
        let outcome = self.take(answer, dry_run, actor).await?;
        self.record_run(name, &outcome, searched, started.elapsed());
        Ok(outcome)
    }

    /// Stores what the merge changed, in one transaction.
    async fn write_merge(&self, source: &str, m: &Merge) -> Result<(), SyncError> {
        if m.inserts.is_empty() && m.updates.is_empty() && m.deletes.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        for (id, doc, new) in (m.inserts.iter().map(|(i, d)| (i, d, true)))
            .chain(m.updates.iter().map(|(i, d)| (i, d, false)))
        {
            let text = serde_json::to_string(doc).map_err(|e| SyncError::Corrupt(e.to_string()))?;
            let lower = doc.user_name.to_lowercase();
            let write = UserWrite {
                source,
                id,
                doc: &text,
                user_name: &lower,
                external_id: doc.external_id.as_deref(),
                active: doc.active,
                now,
            };
            if new {
                crate::store::scim::insert_user(tx.conn(), &write).await?;
            } else {
                crate::store::scim::update_user(tx.conn(), &write).await?;
            }
        }
        for id in &m.deletes {
            crate::store::scim::delete_user(tx.conn(), source, id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The merged people as the directory path sees them, in full.
    async fn answer_of(
        &self,
        source: &ScimPullSource,
        merged: Merge,
        pulled_groups: &std::collections::HashMap<String, Vec<GroupName>>,
        rows: &[Stored],
    ) -> Result<Answer, SyncError> {
        let people_of = source.people_of();
        let mut skipped = merged.skipped;
        let mut people = Vec::with_capacity(merged.people.len());
        let mut conn = self.store.conn().await?;
        for Listed { id, doc, unlisted } in merged.people {
            let groups = if source.groups {
                let provider_id = doc.external_id.as_deref().unwrap_or_default();
                pulled_groups.get(provider_id).cloned().unwrap_or_default()
            } else if rows.iter().any(|r| r.id == id) {
                crate::store::scim::groups_of(&mut conn, people_of, &id)
                    .await?
                    .into_iter()
                    .filter_map(|(_, n)| GroupName::parse(&n).ok())
                    .collect()
            } else {
                Vec::new()
            };
            match doc.to_person(&id, groups) {
                Ok(mut person) => {
                    if unlisted {
                        person.disabled = Some(UNLISTED.to_owned());
                    }
                    people.push(person);
                }
                Err(e) => skipped.push(Skipped {
                    dn: format!("scim:{id}"),
                    reason: e.to_string(),
                }),
            }
        }
        Ok(Answer {
            kind: SourceKind::Scim,
            source: people_of.to_owned(),
            people,
            skipped,
            coverage: Coverage::Full,
        })
    }
}

/// Pulls `source` on its interval until the daemon stops; a failure is retried sooner,
/// with backoff, and shown in the status.
pub async fn run_pull(syncer: Arc<Syncer>, source: Arc<ScimPullSource>) {
    let actor = Actor(format!("scim_pull:{}", source.name));
    let mut backoff = Duration::from_secs(5);
    loop {
        match syncer.pull_sync(&source, false, &actor).await {
            Ok(_) => {
                backoff = Duration::from_secs(5);
                tokio::time::sleep(source.interval).await;
            }
            Err(SyncError::Busy(_)) => tokio::time::sleep(source.interval).await,
            Err(e) => {
                tracing::warn!(source = %source.name, error = %e, retry_in = ?backoff, "SCIM pull failed");
                tokio::time::sleep(backoff.min(source.interval)).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
