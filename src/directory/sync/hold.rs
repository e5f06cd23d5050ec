//! Held plans that cannot go stale. A source holds at most one plan: a newer verdict
//! supersedes it (a plan of changes carries the earlier plan's leavers along, since a poll
//! names only what it saw), and the same leavers held again make no new alert. Confirming
//! reads the directory afresh and offboards only the leavers it still names.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::take::Answer;
use super::{Outcome, SyncError, Syncer};
use crate::audit::{self, Actor};
use crate::directory::guard::Verdict;
use crate::directory::ldap::{LdapSyncError, search};
use crate::directory::reconcile::{Coverage, Leaver, Plan, SourceKind, reconcile, reconcile_as};
use crate::domain::time::now_millis;
use crate::principal::AdminPermit;

fn leaver_names(plan: &Plan) -> BTreeSet<&str> {
    plan.leavers.iter().map(|l| l.username.as_str()).collect()
}

impl Syncer {
    /// Holds `plan` as the source's one held plan, with an audit entry and an alert unless
    /// the held plan already named exactly these leavers. Answers the plan as held and its id.
    pub(super) async fn hold(
        &self,
        mut plan: Plan,
        reason: &str,
        full: bool,
        actor: &Actor,
    ) -> Result<(Plan, i64), SyncError> {
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        let before = crate::store::sync::held_for(tx.conn(), &plan.source).await?;
        if let Some(row) = &before {
            let old: Plan =
                serde_json::from_str(&row.plan).map_err(|e| SyncError::Corrupt(e.to_string()))?;
            if !full {
                // A poll's plan names only what changed: the earlier leavers still stand.
                let mine = leaver_names(&plan)
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<BTreeSet<_>>();
                plan.leavers.extend(
                    old.leavers
                        .iter()
                        .filter(|l| !mine.contains(&l.username))
                        .cloned(),
                );
            }
            if leaver_names(&old) == leaver_names(&plan) {
                return Ok((old, row.id));
            }
        }
        let text = serde_json::to_string(&plan).map_err(|e| SyncError::Corrupt(e.to_string()))?;
        let id =
            crate::store::sync::hold(tx.conn(), &plan.source, &text, reason, true, now).await?;
        let change = audit::Change::PlanHeld {
            source: plan.source.clone(),
            plan_id: id,
            reason: reason.to_owned(),
            leavers: plan.leavers.len(),
            joiners: plan.joiners.len(),
            movers: plan.movers.len(),
        };
        audit::record(tx.conn(), actor, &change).await?;
        self.offboarding
            .notices
            .guard_tripped(tx.conn(), &plan.source, id, plan.leavers.len(), reason)
            .await?;
        tx.commit().await?;
        tracing::error!(
            alert = "mass_deprovisioning_guard",
            source = %plan.source,
            plan_id = id,
            leavers = plan.leavers.len(),
            superseded = before.map(|r| r.id),
            %reason,
            "sync plan held: nobody was offboarded; inspect and confirm with `staffgate sync --confirm {id}`"
        );
        Ok((plan, id))
    }

    /// Applies a held plan an admin has inspected, on today's facts: the directory is read
    /// again, and only the plan's leavers it still names as leaving are offboarded. Joiners
    /// and movers are today's too.
    pub async fn confirm(&self, id: i64, permit: &AdminPermit) -> Result<Outcome, SyncError> {
        let actor = permit.actor();
        let row = {
            let mut conn = self.store.conn().await?;
            crate::store::sync::find_plan(&mut conn, id)
                .await?
                .ok_or(SyncError::PlanNotFound(id))?
        };
        if row.state != "held" {
            return Err(SyncError::PlanNotHeld {
                id,
                state: row.state,
            });
        }
        let held: Plan =
            serde_json::from_str(&row.plan).map_err(|e| SyncError::Corrupt(e.to_string()))?;
        let (today, _serial) = match held.kind {
            SourceKind::Ldap => {
                let serial = self.serialize(&held.source).await;
                (self.directory_today(&held).await?, serial)
            }
            SourceKind::Oidc => {
                let serial = self.serialize(&held.kind.origin(&held.source)).await;
                (self.unrefreshable_today(&held).await?, serial)
            }
            SourceKind::Scim => {
                let serial = self.serialize(&held.kind.origin(&held.source)).await;
                let people =
                    crate::directory::scim::leavers::leavers(&self.store, &held.source).await?;
                (self.pushed_today(&held, people).await?, serial)
            }
        };
        let (plan, dropped_out) = still_leaving(&held, today);
        if !dropped_out.is_empty() {
            tracing::info!(
                plan_id = id,
                dropped_out = ?dropped_out,
                "held plan confirmed: these leavers are no longer leaving and stay"
            );
        }
        // Applying and marking the plan applied are one transaction: a plan applies once.
        let applied = self.apply(&plan, actor, Some(id)).await?;
        Ok(Outcome {
            plan,
            verdict: Verdict::Apply,
            plan_id: Some(id),
            applied: Some(applied),
            dry_run: false,
            dropped_out,
        })
    }

    /// What a directory says today, as a plan: it is read again in full.
    async fn directory_today(&self, held: &Plan) -> Result<Plan, SyncError> {
        let source = self.source(&held.source)?;
        let task_source = Arc::clone(&source);
        let snapshot = tokio::spawn(async move {
            search::full(&task_source, &std::sync::atomic::AtomicUsize::new(0)).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(LdapSyncError::Search {
                base: source.base_dn.clone(),
                reason: "the directory's answer could not be parsed".into(),
            })
        })?;
        let answer = Answer {
            kind: crate::directory::reconcile::SourceKind::Ldap,
            source: held.source.clone(),
            people: snapshot.people,
            skipped: snapshot.skipped,
            coverage: Coverage::Full,
        };
        let known = crate::store::staff::list_with_origin(self.store.pool()).await?;
        Ok(reconcile(
            &answer.source,
            answer.people,
            answer.skipped,
            answer.coverage,
            &known,
        ))
    }

    /// Who an identity provider still refuses today, as a plan: a person who signed in or
    /// refreshed since the plan was held is no longer leaving.
    async fn unrefreshable_today(&self, held: &Plan) -> Result<Plan, SyncError> {
        let people =
            crate::directory::oidc::refused::leavers(&self.store, &held.source, now_millis())
                .await?;
        self.pushed_today(held, people).await
    }

    /// A plan of `people` leaving, against everyone staffgate knows: today's facts of a
    /// source that cannot be read again in full (an identity provider, a SCIM push).
    async fn pushed_today(
        &self,
        held: &Plan,
        people: Vec<crate::directory::person::DirectoryPerson>,
    ) -> Result<Plan, SyncError> {
        let known = crate::store::staff::list_with_origin(self.store.pool()).await?;
        Ok(reconcile_as(
            held.kind,
            &held.source,
            people,
            Vec::new(),
            Coverage::Changes(Vec::new()),
            &known,
        ))
    }
}

/// Today's plan, with only the held plan's leavers that today's facts still name (with
/// today's rule); and the held leavers who dropped out.
fn still_leaving(held: &Plan, mut today: Plan) -> (Plan, Vec<String>) {
    let now: HashMap<String, Leaver> = today
        .leavers
        .drain(..)
        .map(|l| (l.username.clone(), l))
        .collect();
    let mut dropped = Vec::new();
    for l in &held.leavers {
        match now.get(&l.username) {
            Some(current) => today.leavers.push(current.clone()),
            None => dropped.push(l.username.clone()),
        }
    }
    (today, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaver(name: &str, rule: &str) -> Leaver {
        Leaver {
            username: name.into(),
            rule: rule.into(),
        }
    }

    #[test]
    fn only_leavers_still_leaving_are_kept() {
        let held = Plan {
            leavers: vec![leaver("a", "disabled"), leaver("b", "disabled")],
            ..Plan::default()
        };
        let today = Plan {
            leavers: vec![leaver("b", "deleted"), leaver("c", "disabled")],
            ..Plan::default()
        };
        let (plan, dropped) = still_leaving(&held, today);
        assert_eq!(plan.leavers, vec![leaver("b", "deleted")]);
        assert_eq!(dropped, vec!["a".to_owned()]);
    }
}
