//! SCIM 2.0 provisioning: identity providers push joiners, movers and leavers to
//! `/scim/v2/<source>/…`. Each write is stored as the provider sent it (its truth), then
//! converged through the directory's one reconcile, guard and apply: a deactivation or a
//! DELETE is an offboarding whose receipt names the source, answered only once it is
//! committed and in the verifier; more leavers than the source's guard allows are held
//! (503 with `Retry-After`) until an admin confirms the plan.

mod batch;
mod discovery;
mod groups;
mod tokens;
mod users;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::audit::Actor;
use crate::config::scim::ScimSource;
use crate::directory::guard::Verdict;
use crate::directory::person::DirectoryPerson;
use crate::directory::reconcile::SourceKind;
use crate::directory::scim::{ScimError, schemas};
use crate::directory::sync::{Answer, Syncer};
use crate::domain::time::{Millis, to_datetime};
use crate::store::{Store, StoreError};

pub use discovery::schemas_document;
pub use tokens::NewToken;

/// Why a provisioning request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error("no SCIM source is named {0}")]
    UnknownSource(String),
    /// Missing, malformed, revoked, or another source's token.
    #[error("a valid SCIM token for this source is required")]
    Unauthorized,
    #[error("no such resource")]
    NotFound,
    /// The guard held the deactivations: nobody was offboarded; an admin confirms the plan.
    #[error("held by the mass-deprovisioning guard (plan {plan_id}): {reason}")]
    Held { plan_id: i64, reason: String },
    /// An offboarded person comes back only through HR's reinstatement.
    #[error("{0} is offboarded; HR reinstates rehires")]
    Offboarded(String),
    #[error("could not create a token")]
    Random,
    #[error("the change could not be applied: {0}")]
    Apply(String),
    /// The directory path would not take the person (their username is another source's).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The SCIM service.
pub struct Provisioning {
    pub store: Store,
    pub syncer: Arc<Syncer>,
    pub sources: Vec<ScimSource>,
    /// Changes waiting for their source's apply lock, applied together.
    pub queue: batch::Queue,
}

/// A page of a list.
pub struct Page {
    /// 1-based, as SCIM counts.
    pub start_index: i64,
    pub count: i64,
}

fn new_id() -> Result<String, ProvisioningError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| ProvisioningError::Random)?;
    Ok(hex::encode(b))
}

/// A resource's `meta`.
fn meta(
    kind: &str,
    source: &str,
    id: &str,
    created: Millis,
    modified: Millis,
    version: i64,
) -> Value {
    let at = |t: Millis| to_datetime(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "resourceType": kind,
        "created": at(created),
        "lastModified": at(modified),
        "version": format!("W/\"{version}\""),
        "location": format!("/scim/v2/{source}/{kind}s/{id}"),
    })
}

fn list_response(resources: Vec<Value>, total: i64, start_index: i64) -> Value {
    json!({
        "schemas": [schemas::LIST],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

impl Provisioning {
    pub fn source(&self, name: &str) -> Result<&ScimSource, ProvisioningError> {
        self.sources
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ProvisioningError::UnknownSource(name.to_owned()))
    }

    /// Hands what the provider says of these people to the directory path. A held plan is
    /// an error: the provider is told to come back, and nobody was offboarded. Changes that
    /// deactivate nobody are batched with the others waiting (see `batch`).
    async fn converge(
        &self,
        source: &str,
        people: Vec<DirectoryPerson>,
    ) -> Result<(), ProvisioningError> {
        if people.is_empty() {
            return Ok(());
        }
        if people.iter().any(|p| p.disabled.is_some()) {
            return self.converge_alone(source, people).await;
        }
        let origin = SourceKind::Scim.origin(source);
        let mut ticket = self.queue.join(source, people);
        let _serial = self.syncer.serialize(&origin).await;
        // Applied by the holder before us, which answered before it let go of the lock.
        let fate = match ticket.reply.try_recv() {
            Ok(fate) => fate,
            Err(_) => {
                self.apply_batch(source).await;
                ticket
                    .reply
                    .await
                    .map_err(|_| ProvisioningError::Apply("the batch was dropped".into()))?
            }
        };
        fate.map_err(ProvisioningError::Apply)?
            .map_err(ProvisioningError::Refused)
    }

    /// Applies everyone queued on `source` as one answer; the caller holds the apply lock.
    async fn apply_batch(&self, source: &str) {
        let batch = self.queue.drain(source);
        let people = batch.people();
        let actor = Actor(format!("scim:{source}"));
        let answer = Answer::changes_from(SourceKind::Scim, source, people, Vec::new());
        match self.syncer.take(answer, false, &actor).await {
            Ok(outcome) if matches!(outcome.verdict, Verdict::Hold(_)) => {
                // Nobody here leaves, so no guard should hold this; if one does, nobody is
                // told it was applied.
                batch.answer(Err("held by the mass-deprovisioning guard".into()), |_| {
                    Ok(())
                });
            }
            Ok(outcome) => {
                self.note_applied(source, &outcome);
                let skipped = &outcome.plan.skipped;
                batch.answer(Ok(()), |own| {
                    match skipped.iter().find(|s| own.iter().any(|p| p.dn == s.dn)) {
                        Some(skip) => Err(skip.reason.clone()),
                        None => Ok(()),
                    }
                });
            }
            Err(e) => batch.answer(Err(e.to_string()), |_| Ok(())),
        }
    }

    /// A change that deactivates someone, judged by the guard on its own.
    async fn converge_alone(
        &self,
        source: &str,
        people: Vec<DirectoryPerson>,
    ) -> Result<(), ProvisioningError> {
        let active: std::collections::HashSet<String> = people
            .iter()
            .filter(|p| p.disabled.is_none())
            .map(|p| p.dn.clone())
            .collect();
        let origin = SourceKind::Scim.origin(source);
        let actor = Actor(format!("scim:{source}"));
        let answer = Answer::changes_from(SourceKind::Scim, source, people, Vec::new());
        let _serial = self.syncer.serialize(&origin).await;
        let outcome = self
            .syncer
            .take(answer, false, &actor)
            .await
            .map_err(|e| ProvisioningError::Apply(e.to_string()))?;
        self.note_applied(source, &outcome);
        if let Verdict::Hold(reason) = outcome.verdict {
            return Err(ProvisioningError::Held {
                plan_id: outcome.plan_id.unwrap_or_default(),
                reason,
            });
        }
        // A deactivated user the directory path never imported is no refusal.
        if let Some(skip) = outcome.plan.skipped.iter().find(|s| active.contains(&s.dn)) {
            return Err(ProvisioningError::Refused(skip.reason.clone()));
        }
        Ok(())
    }

    /// The status board's count of changes from this source.
    fn note_applied(&self, source: &str, outcome: &crate::directory::sync::Outcome) {
        let applied = outcome
            .applied
            .as_ref()
            .map_or(0, |a| a.joined + a.moved + a.offboarded.len());
        self.syncer.board.update(source, |s| {
            s.last_change_at = Some(chrono::Utc::now());
            s.changes_applied += applied as u64;
        });
        self.syncer.board.ok(source);
    }

    /// The discovery documents (RFC 7644 §4).
    pub fn service_provider_config(&self) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": 1000 },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": false },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A token from `staffgate scim token create <source>`",
                "primary": true
            }],
            "meta": { "resourceType": "ServiceProviderConfig" }
        })
    }

    pub fn resource_types(&self, source: &str) -> Value {
        let types = vec![
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": "User", "name": "User", "endpoint": "/Users",
                "schema": schemas::USER,
                "schemaExtensions": [{ "schema": schemas::ENTERPRISE, "required": false }],
                "meta": { "resourceType": "ResourceType", "location": format!("/scim/v2/{source}/ResourceTypes/User") }
            }),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": "Group", "name": "Group", "endpoint": "/Groups",
                "schema": schemas::GROUP,
                "meta": { "resourceType": "ResourceType", "location": format!("/scim/v2/{source}/ResourceTypes/Group") }
            }),
        ];
        list_response(types, 2, 1)
    }
}
