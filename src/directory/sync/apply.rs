//! Applying a plan: one transaction for all of it, then the verifier and policy cache.

use serde::Serialize;
use serde_json::json;

use super::{SyncError, Syncer};
use crate::audit::{self, Actor};
use crate::directory::person::DirectoryPerson;
use crate::directory::reconcile::Plan;
use crate::domain::change::{Change, Listed, Mover};
use crate::domain::credential::CredentialHash;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::time::now_millis;
use crate::offboarding::Offboarded;
use crate::store::staff::{Origin, StaffFields};

/// Above this many joiners or movers, the audit entry counts them instead of naming them.
const AUDIT_NAMES: usize = 1000;

/// What applying a plan did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub joined: usize,
    pub moved: usize,
    pub offboarded: Vec<String>,
    /// Tokens of movers that policy no longer permits.
    pub tokens_revoked: usize,
}

fn origin_of(source: &str, person: &DirectoryPerson) -> Origin {
    Origin {
        source: source.to_owned(),
        dn: Some(person.dn.clone()),
        external_id: person.external_id.clone(),
        expires_at: person.expires_at,
    }
}

fn fields_of<'a>(
    person: &'a DirectoryPerson,
    status: StaffStatus,
    origin: &'a Origin,
) -> StaffFields<'a> {
    StaffFields {
        username: &person.username,
        email: &person.email,
        name: &person.name,
        status,
        groups: &person.groups,
        attributes: &person.attributes,
        origin,
    }
}

/// Joiners written per transaction. On SQLite every other writer (an offboarding, a token,
/// a heartbeat) waits for the one write lock, so an import of 100,000 people is written in
/// slices that each hold it for milliseconds rather than in one transaction of seconds.
const JOINERS_PER_TX: usize = 500;

impl Syncer {
    /// Applies `plan`, judged whole by the guard before this is called.
    ///
    /// Joiners are written in bounded transactions, each with its own audit entry naming
    /// whom it created; the last slice, every mover and leaver, and the plan's summary are
    /// one transaction. A slice is all or nothing, and a plan cut short (a crash, a full
    /// disk) grants nobody anything, since joiners are `pending`: the next sync plans only
    /// the rest. Movers and leavers, whose change takes access away, stay in one
    /// transaction as before.
    pub async fn apply(
        &self,
        plan: &Plan,
        actor: &Actor,
        held: Option<i64>,
    ) -> Result<Applied, SyncError> {
        let progress = self.board.progress(&plan.source);
        if let Some(p) = &progress {
            p.applying(plan.joiners.len() + plan.movers.len() + plan.leavers.len());
        }
        if plan.joiners.len() > crate::mail::MAX_JOINER_MAILS && self.offboarding.notices.enabled()
        {
            tracing::info!(
                joiners = plan.joiners.len(),
                "a bulk import: joiners are not mailed one by one; announce the rollout yourself"
            );
        }
        let slices: Vec<&[DirectoryPerson]> = plan.joiners.chunks(JOINERS_PER_TX).collect();
        let (last, early) = match slices.split_last() {
            Some((last, early)) => (*last, early),
            None => (&[][..], &[][..]),
        };
        let mut joined = 0;
        for slice in early {
            let mut tx = self.store.begin().await?;
            let names = self.join(tx.conn(), plan, slice).await?;
            let change = Change::DirectorySynced {
                source: plan.source.clone(),
                joiners: Listed::Items(names.clone()),
                movers: Listed::Items(Vec::new()),
                leavers: Listed::Items(Vec::new()),
                tokens_revoked: 0,
                held_plan: held,
                joined_in_all: None,
                slice: true,
            };
            audit::record(tx.conn(), actor, &change).await?;
            tx.commit().await?;
            joined += names.len();
            if let Some(p) = &progress {
                p.applied(slice.len());
            }
        }
        let mut tx = self.store.begin().await?;
        let names = self.join(tx.conn(), plan, last).await?;
        joined += names.len();
        for joiner in plan.joiners.iter().filter(|p| p.expires_at.is_some()) {
            // Joiners of every slice: an expiry set once is idempotent to set again.
            if let Some(m) = crate::store::staff::find(tx.conn(), &joiner.username).await?
                && crate::store::staff::origin(tx.conn(), m.id).await?.source == plan.origin()
            {
                self.keep_expiry(tx.conn(), actor, &m, joiner.expires_at, &plan.source)
                    .await?;
            }
        }
        let now = now_millis();
        let origin_source = plan.origin();
        let mut members: Vec<StaffMember> = Vec::new();
        let mut revoked: Vec<CredentialHash> = Vec::new();
        for mover in &plan.movers {
            let person = &mover.person;
            let known_as = match &mover.renamed_from {
                Some(old) => crate::domain::Username::parse(old)
                    .map_err(|e| SyncError::Corrupt(e.to_string()))?,
                None => person.username.clone(),
            };
            let Some(before) = crate::store::staff::find(tx.conn(), &known_as).await? else {
                continue;
            };
            if before.status == StaffStatus::Offboarded {
                continue; // offboarded since the plan was made: nothing to move
            }
            let owner = crate::store::staff::origin(tx.conn(), before.id)
                .await?
                .source;
            if owner != origin_source && owner != crate::directory::MANUAL {
                continue; // taken by another source since the plan was made
            }
            if mover.renamed_from.is_some() {
                if crate::store::staff::find(tx.conn(), &person.username)
                    .await?
                    .is_some()
                {
                    continue; // the new name was taken since the plan was made
                }
                crate::store::staff::rename(tx.conn(), before.id, &person.username).await?;
            }
            let origin = origin_of(&origin_source, person);
            let fields = fields_of(person, before.status, &origin);
            let after = crate::store::staff::upsert(tx.conn(), &fields, now).await?;
            if mover.changed.iter().any(|c| c == "expiry") {
                self.keep_expiry(tx.conn(), actor, &after, person.expires_at, &plan.source)
                    .await?;
            }
            // A token whose scope policy no longer fully permits dies now.
            for token in crate::store::tokens::live_for_staff(tx.conn(), after.id, now).await? {
                let permitted = self
                    .registry
                    .permitted(&self.engine, &after, &token.channel_id);
                if !token.actions.is_subset(permitted) {
                    let why = format!(
                        "directory {}: moved ({}); policy no longer permits this token",
                        plan.source,
                        mover.changed.join(", ")
                    );
                    let gone =
                        crate::store::tokens::revoke_one(tx.conn(), token.id, now, &why).await?;
                    revoked.extend(gone.iter().map(|r| r.hash));
                }
            }
            members.push(after);
        }
        let mut left: Vec<Offboarded> = Vec::new();
        for leaver in &plan.leavers {
            let username = crate::domain::Username::parse(&leaver.username)
                .map_err(|e| SyncError::Corrupt(e.to_string()))?;
            let reason = format!("directory {}: {}", plan.source, leaver.rule);
            left.push(
                self.offboarding
                    .offboard_in(tx.conn(), actor, &username, &reason)
                    .await?,
            );
        }
        let applied = Applied {
            joined,
            moved: members.len(),
            offboarded: plan.leavers.iter().map(|l| l.username.clone()).collect(),
            tokens_revoked: revoked.len(),
        };
        if !plan.is_empty() {
            // This transaction's joiners by name (earlier slices named theirs); movers are
            // counted above a thousand.
            let movers = if plan.movers.len() <= AUDIT_NAMES {
                let named = plan.movers.iter().map(|m| Mover::Named {
                    username: m.person.username.to_string(),
                    changed: json!(m.changed),
                });
                Listed::Items(named.collect())
            } else {
                Listed::Count(plan.movers.len())
            };
            let leavers = serde_json::from_value(json!(plan.leavers))
                .map_err(|e| SyncError::Corrupt(e.to_string()))?;
            let change = Change::DirectorySynced {
                source: plan.source.clone(),
                joiners: Listed::Items(names.clone()),
                movers,
                leavers,
                tokens_revoked: revoked.len(),
                held_plan: held,
                joined_in_all: Some(joined),
                slice: false,
            };
            audit::record(tx.conn(), actor, &change).await?;
        }
        if let Some(id) = held {
            crate::store::sync::mark_applied(tx.conn(), id, &actor.0, now).await?;
        }
        tx.commit().await?;
        if let Some(p) = &progress {
            p.applied(last.len() + plan.movers.len() + plan.leavers.len());
        }
        for member in members {
            self.verifier.put_staff(member);
        }
        self.verifier.revoke(revoked);
        for done in &left {
            self.offboarding.publish(done);
        }
        self.engine.invalidate();
        Ok(applied)
    }

    /// Keeps the directory's own scheduled offboarding at the account's end: set, moved or
    /// cancelled as the directory's date is. HR's own schedules are left alone.
    async fn keep_expiry(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        member: &StaffMember,
        expires_at: Option<crate::domain::time::Millis>,
        source: &str,
    ) -> Result<(), SyncError> {
        let now = now_millis();
        crate::store::staff::set_expiry(conn, member.id, expires_at).await?;
        for id in crate::store::schedule::cancel_made_by(conn, member.id, &actor.0, now).await? {
            let change = Change::ScheduledOffboardingCancelled {
                schedule: id.to_string(),
                schedule_id: id,
            };
            audit::record(conn, actor, &change).await?;
        }
        let Some(at) = expires_at.filter(|at| *at > now) else {
            return Ok(());
        };
        let reason = format!("directory {source}: the account expires");
        let id = crate::store::schedule::insert(conn, member.id, at, &reason, &actor.0, now, None)
            .await?;
        let change = Change::OffboardingScheduled {
            username: member.username.to_string(),
            schedule_id: id,
            at: json!(crate::domain::time::to_datetime(at)),
            reason,
        };
        audit::record(conn, actor, &change).await?;
        Ok(())
    }

    /// Writes one slice of joiners as `pending` and queues their first-login mails; answers
    /// the usernames created. A username taken since the plan was made (another source, by
    /// hand) stays theirs.
    async fn join(
        &self,
        conn: &mut sqlx::AnyConnection,
        plan: &Plan,
        slice: &[DirectoryPerson],
    ) -> Result<Vec<String>, SyncError> {
        if slice.is_empty() {
            return Ok(Vec::new());
        }
        let origin_source = plan.origin();
        let origins: Vec<Origin> = slice.iter().map(|p| origin_of(&origin_source, p)).collect();
        let fields: Vec<StaffFields<'_>> = slice
            .iter()
            .zip(&origins)
            .map(|(p, o)| fields_of(p, StaffStatus::Pending, o))
            .collect();
        let created = crate::store::staff::insert_many_new(conn, &fields, now_millis()).await?;
        let created = created
            .into_iter()
            .map(|m| m.username.as_str().to_owned())
            .collect();
        // Joiners are pending: they hold no token, so the verifier needs them only once
        // they are activated, which keeps a 100k-person import from living in memory twice.
        if plan.joiners.len() <= crate::mail::MAX_JOINER_MAILS {
            for p in slice {
                self.offboarding
                    .notices
                    .joined(conn, p.username.as_str(), &p.name, &p.email)
                    .await?;
            }
        }
        Ok(created)
    }
}
