//! Applying a plan: one transaction for all of it, then the verifier and policy cache.

use serde::Serialize;
use serde_json::{Value, json};

use super::{SyncError, Syncer};
use crate::audit::{self, Actor};
use crate::directory::person::DirectoryPerson;
use crate::directory::reconcile::{Plan, origin_name};
use crate::domain::ActionSet;
use crate::domain::credential::CredentialHash;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::time::now_millis;
use crate::offboarding::Offboarded;
use crate::store::staff::{Origin, StaffFields};

/// Above this many joiners or movers, the audit entry counts them instead of naming them.
const AUDIT_NAMES: usize = 1000;

/// What applying a plan did.
#[derive(Debug, Clone, Default, Serialize)]
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

impl Syncer {
    /// Applies `plan` atomically: either every joiner, mover and leaver, or none.
    pub async fn apply(
        &self,
        plan: &Plan,
        actor: &Actor,
        held: Option<i64>,
    ) -> Result<Applied, SyncError> {
        let now = now_millis();
        let origin_source = origin_name(&plan.source);
        let mut tx = self.store.begin().await?;
        let mut members: Vec<StaffMember> = Vec::new();
        let mut revoked: Vec<CredentialHash> = Vec::new();
        // A username taken since the plan was made (another source, by hand) stays theirs.
        // Joiners are pending: they hold no token, so the verifier needs them only once
        // they are activated, which keeps a 100k-person import from living in memory twice.
        let mut joined = 0;
        for chunk in plan.joiners.chunks(500) {
            let origins: Vec<Origin> = chunk.iter().map(|p| origin_of(&origin_source, p)).collect();
            let fields: Vec<StaffFields<'_>> = chunk
                .iter()
                .zip(&origins)
                .map(|(p, o)| fields_of(p, StaffStatus::Pending, o))
                .collect();
            joined += crate::store::staff::insert_many_new(tx.conn(), &fields, now)
                .await?
                .len();
        }
        for mover in &plan.movers {
            let person = &mover.person;
            let Some(before) = crate::store::staff::find(tx.conn(), &person.username).await? else {
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
            let origin = origin_of(&origin_source, person);
            let fields = fields_of(person, before.status, &origin);
            let after = crate::store::staff::upsert(tx.conn(), &fields, now).await?;
            // A token whose scope policy no longer fully permits dies now.
            for token in crate::store::tokens::live_for_staff(tx.conn(), after.id, now).await? {
                let permitted = self
                    .registry
                    .get(&token.channel_id)
                    .map_or(ActionSet::EMPTY, |c| {
                        self.engine.reach(&after, &c.facts).actions
                    });
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
        if plan.joiners.len() <= crate::mail::MAX_JOINER_MAILS {
            for p in &plan.joiners {
                self.offboarding
                    .notices
                    .joined(tx.conn(), p.username.as_str(), &p.name, &p.email)
                    .await?;
            }
        } else if self.offboarding.notices.enabled() {
            tracing::info!(
                joiners = plan.joiners.len(),
                "a bulk import: joiners are not mailed one by one; announce the rollout yourself"
            );
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
            // Names are listed for ordinary syncs; a first import of thousands is counted.
            let joiners: Value = if plan.joiners.len() <= AUDIT_NAMES {
                json!(
                    plan.joiners
                        .iter()
                        .map(|p| p.username.as_str())
                        .collect::<Vec<_>>()
                )
            } else {
                json!(plan.joiners.len())
            };
            let movers: Value = if plan.movers.len() <= AUDIT_NAMES {
                json!(plan.movers.iter().map(|m| json!({"username": m.person.username.as_str(), "changed": m.changed})).collect::<Vec<_>>())
            } else {
                json!(plan.movers.len())
            };
            audit::record(
                tx.conn(),
                actor,
                "directory.sync",
                &plan.source,
                json!({
                    "joiners": joiners,
                    "movers": movers,
                    "leavers": plan.leavers,
                    "tokens_revoked": revoked.len(),
                    "held_plan": held,
                }),
            )
            .await?;
        }
        if let Some(id) = held {
            crate::store::sync::mark_applied(tx.conn(), id, &actor.0, now).await?;
        }
        tx.commit().await?;
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
}
