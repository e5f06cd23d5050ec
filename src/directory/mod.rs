//! Staff from directory sources: by hand (this file), and from LDAP / Active Directory
//! (`ldap`), all reconciled by one pure function (`reconcile`) behind one guard (`guard`)
//! and applied atomically (`sync`).

/// The lease directory syncs run under; `GET /sync/status` names its holder.
pub const SYNC_JOB: &str = "directory";

pub mod guard;
pub mod ldap;
pub mod oidc;
pub mod person;
pub mod reconcile;
pub mod scim;
pub mod sync;

use std::sync::Arc;

use serde_json::json;

use crate::audit;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::time::now_millis;
use crate::domain::{GroupName, Username};
use crate::policy::Engine;
use crate::principal::AdminPermit;
use crate::store::staff::{Origin, StaffFields};
use crate::store::{Store, StoreError};
use crate::tokens::Verifier;

/// The source name of staff put by hand.
pub const MANUAL: &str = "manual";

/// Why a directory change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// No staff member has that username.
    #[error("no staff member {0}")]
    NotFound(Username),
    /// Offboarded people change only through reinstatement.
    #[error("{0} is offboarded; reinstate them first")]
    Offboarded(Username),
    /// The person is kept by a directory source; change them there.
    #[error("{username} is managed by {origin}; change them in that directory")]
    Managed { username: Username, origin: String },
    /// `offboarded` cannot be set by a plain update.
    #[error("status: use the offboard call to offboard someone")]
    StatusNotSettable,
    /// A field failed validation.
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A staff member as put by an admin.
pub struct StaffInput {
    pub username: Username,
    pub email: String,
    pub name: String,
    pub groups: Vec<GroupName>,
    pub status: StaffStatus,
}

impl StaffInput {
    /// Checks the free-text fields.
    pub fn check(&self) -> Result<(), DirectoryError> {
        let field = |field, reason: &str| {
            Err(DirectoryError::Field {
                field,
                reason: reason.into(),
            })
        };
        if self.email.len() > 254
            || !self.email.contains('@')
            || self.email.chars().any(char::is_whitespace)
        {
            return field("email", "must be an e-mail address");
        }
        if self.name.trim().is_empty()
            || self.name.chars().count() > 200
            || self.name.chars().any(char::is_control)
        {
            return field("name", "must be 1–200 printable characters");
        }
        if self.groups.len() > 1000 {
            return field("groups", "at most 1000 groups");
        }
        if self.status == StaffStatus::Offboarded {
            return Err(DirectoryError::StatusNotSettable);
        }
        Ok(())
    }
}

/// The manual directory source.
pub struct Directory {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
}

impl Directory {
    pub async fn put(
        &self,
        permit: &AdminPermit,
        input: StaffInput,
    ) -> Result<StaffMember, DirectoryError> {
        let actor = permit.actor();
        input.check()?;
        let mut tx = self.store.begin().await?;
        if let Some(existing) = crate::store::staff::find(tx.conn(), &input.username).await? {
            if existing.status == StaffStatus::Offboarded {
                return Err(DirectoryError::Offboarded(input.username));
            }
            let origin = crate::store::staff::origin(tx.conn(), existing.id).await?;
            if origin.source != MANUAL {
                return Err(DirectoryError::Managed {
                    username: input.username,
                    origin: origin.source,
                });
            }
        }
        let fields = StaffFields {
            username: &input.username,
            email: &input.email,
            name: &input.name,
            status: input.status,
            groups: &input.groups,
            attributes: &Default::default(),
            origin: &Origin {
                source: MANUAL.into(),
                dn: None,
                external_id: None,
                expires_at: None,
            },
        };
        let member = crate::store::staff::upsert(tx.conn(), &fields, now_millis()).await?;
        let groups: Vec<&str> = member.groups.iter().map(|g| g.as_str()).collect();
        let change = audit::Change::StaffPut {
            username: member.username.to_string(),
            status: json!(member.status),
            groups: json!(groups),
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        self.verifier.put_staff(member.clone());
        self.engine.invalidate();
        Ok(member)
    }

    /// Marks a pending person's first login done by hand (admin), e.g. where a deployment
    /// turned first-login requirements off. Audited; the compliance gate still applies.
    pub async fn activate(
        &self,
        permit: &AdminPermit,
        username: &Username,
        reason: &str,
    ) -> Result<StaffMember, DirectoryError> {
        let actor = permit.actor();
        let mut tx = self.store.begin().await?;
        let member = crate::store::staff::find(tx.conn(), username)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(username.clone()))?;
        let (status, _) = crate::store::staff::lock_state(tx.conn(), member.id).await?;
        match status {
            StaffStatus::Offboarded => return Err(DirectoryError::Offboarded(username.clone())),
            StaffStatus::Active => return Ok(member),
            StaffStatus::Pending => {}
        }
        crate::store::staff::mark_active(tx.conn(), member.id, now_millis()).await?;
        let change = audit::Change::StaffActivated {
            username: username.to_string(),
            reason: reason.to_owned(),
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        let member = StaffMember {
            status: StaffStatus::Active,
            ..member
        };
        self.verifier.put_staff(member.clone());
        self.engine.invalidate();
        Ok(member)
    }

    pub async fn get(&self, username: &Username) -> Result<StaffMember, DirectoryError> {
        let mut conn = self.store.conn().await?;
        crate::store::staff::find(&mut conn, username)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(username.clone()))
    }

    pub async fn list(&self) -> Result<Vec<StaffMember>, DirectoryError> {
        Ok(crate::store::staff::list(self.store.pool()).await?)
    }
}
