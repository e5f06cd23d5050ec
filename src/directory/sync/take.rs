//! The seam every identity source plugs into. A source (LDAP today; OIDC sign-ins and
//! refreshes, SCIM pushes and SCIM pulls next) hands the sync an [`Answer`]; [`Syncer::take`]
//! reads what staffgate knows of the people it names, runs the one reconcile, the one guard
//! and the one apply. No source writes staff rows of its own.

use super::{Outcome, SyncError, Syncer};
use crate::audit::Actor;
use crate::directory::guard::Verdict;
use crate::directory::person::{DirectoryPerson, Gone, Skipped};
use crate::directory::reconcile::{Coverage, SourceKind, reconcile_as};

/// What a source says about its people.
pub struct Answer {
    pub kind: SourceKind,
    /// The source's configured name (its people are `<kind>:<name>` in the staff table).
    pub source: String,
    pub people: Vec<DirectoryPerson>,
    /// Entries the source returned that could not be read as people, with why.
    pub skipped: Vec<Skipped>,
    /// Everyone in scope (those missing have left), or only these changes.
    pub coverage: Coverage,
}

impl Answer {
    /// A handful of changes: these people as they are now, and those reported gone.
    pub fn changes(source: &str, people: Vec<DirectoryPerson>, gone: Vec<Gone>) -> Answer {
        Answer::changes_from(SourceKind::Ldap, source, people, gone)
    }

    /// The same, from a source of another kind.
    pub fn changes_from(
        kind: SourceKind,
        source: &str,
        people: Vec<DirectoryPerson>,
        gone: Vec<Gone>,
    ) -> Answer {
        Answer {
            kind,
            source: source.to_owned(),
            people,
            skipped: Vec::new(),
            coverage: Coverage::Changes(gone),
        }
    }
}

impl Syncer {
    /// Reconciles `answer` against what staffgate knows, then judges and applies (or holds)
    /// the plan. A set of changes that changes nothing is answered with its empty plan
    /// without writing. The caller holds the source's apply lock ([`Syncer::serialize`]).
    pub async fn take(
        &self,
        answer: Answer,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Outcome, SyncError> {
        let pool = self.store.pool();
        let Answer {
            kind,
            source,
            people,
            skipped,
            coverage,
        } = answer;
        let full = matches!(coverage, Coverage::Full);
        let plan = match coverage {
            Coverage::Full => {
                let known = crate::store::staff::list_with_origin(pool).await?;
                reconcile_as(kind, &source, people, skipped, Coverage::Full, &known)
            }
            Coverage::Changes(gone) => {
                // Only the people the changes are about: a live change costs a few reads,
                // not a read of everyone.
                let usernames: Vec<&str> = people.iter().map(|p| p.username.as_str()).collect();
                // By stable id too: a renamed person is known under their old name.
                let entries: Vec<(Option<&str>, Option<&str>)> = gone
                    .iter()
                    .map(|g| (g.external_id.as_deref(), g.dn.as_deref()))
                    .chain(
                        people
                            .iter()
                            .filter_map(|p| Some((Some(p.external_id.as_deref()?), None))),
                    )
                    .collect();
                let known = crate::store::staff::known_for(pool, &usernames, &entries).await?;
                let mut plan = reconcile_as(
                    kind,
                    &source,
                    people,
                    skipped,
                    Coverage::Changes(gone),
                    &known,
                );
                if plan.is_empty() {
                    return Ok(Outcome {
                        plan,
                        verdict: Verdict::Apply,
                        plan_id: None,
                        applied: None,
                        dry_run,
                        dropped_out: Vec::new(),
                    });
                }
                // The guard's share is of everyone the source has, not of those named here
                // (asked only when someone leaves: the guard looks at nothing else).
                if !plan.leavers.is_empty() {
                    plan.active_before =
                        crate::store::staff::count_not_offboarded(pool, &kind.origin(&source))
                            .await?;
                }
                plan
            }
        };
        self.decide(plan, full, dry_run, actor).await
    }
}
